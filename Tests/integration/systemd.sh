#!/usr/bin/env bash
# Checks of systemd/eni-agent.service: `systemd-analyze verify` (with the binary path substituted)
# and `systemd-analyze security --offline=yes` at 2.0 or lower. Changes nothing on the machine.
# Usage: Tests/integration/systemd.sh PATH-TO-ENI-AGENT
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=checks.sh
. "$here/checks.sh"
BIN=$(abs "${1:?usage: systemd.sh ENI-AGENT}")
TMP=$(mktemp -d /tmp/eni-agent-sd.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
UNIT=$repo/systemd/eni-agent.service

sed "s|^ExecStart=/usr/sbin/eni-agent|ExecStart=$BIN|" "$UNIT" >"$TMP/eni-agent.service"
check "unit: ExecStart is the daemon subcommand" grep -qx "ExecStart=$BIN daemon" "$TMP/eni-agent.service"
check "unit: systemd-analyze verify passes without a message" bash -c "systemd-analyze verify --man=no $TMP/eni-agent.service >$TMP/verify.out 2>&1 && [ ! -s $TMP/verify.out ] || { cat $TMP/verify.out; exit 1; }"
systemd-analyze security --offline=yes "$UNIT" >"$TMP/security.out" 2>&1
score=$(sed -n 's/.*Overall exposure level for eni-agent.service: \([0-9.]*\).*/\1/p' "$TMP/security.out")
check "unit: security exposure $score is 2.0 or lower" python3 -c "import sys; sys.exit(0 if '$score' and float('$score') <= 2.0 else 1)"
for key in "Type=notify" "ExecReload=/bin/sh -c \"kill -HUP \$MAINPID\"" "Restart=on-failure" "Before=network-online.target" \
    "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW" "ProtectSystem=strict" "NoNewPrivileges=yes"; do
    check "unit: $key" grep -qxF "$key" "$UNIT"
done
check "unit: WatchdogSec is set" grep -q "^WatchdogSec=" "$UNIT"
check "unit: the daemon's defaults parse" "$BIN" daemon --help

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

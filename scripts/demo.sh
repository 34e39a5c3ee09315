#!/usr/bin/env bash
# The main job, as an operator sees it, in throwaway namespaces: `eni-agent daemon` runs in a VM
# namespace next to the metadata simulator (Tencent Cloud's tree for examples/scenario-tencent.json,
# on the namespace's loopback). Two ENIs are hot-attached (veth pairs moved into the namespace) and
# configured with no command run; a secondary IP added in the metadata is picked up by the resync;
# one ENI is detached and cleaned up. Then the daemon's log, `eni-agent status`, the rules, tables
# and files. Nothing outside its namespaces and its temp root changes; both are removed at the end.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
BIN=$(abs "${1:?usage: demo.sh PATH-TO-ENI-AGENT PATH-TO-ENI-METADATA-SIM}")
SIM=$(abs "${2:?usage: demo.sh PATH-TO-ENI-AGENT PATH-TO-ENI-METADATA-SIM}")
[ "$(id -u)" = 0 ] || { echo "make demo needs root: it creates network namespaces" >&2; exit 1; }

LAB=eni-demo-$$
# shellcheck source=../Tests/integration/lab.sh
. "$repo/Tests/integration/lab.sh"
ROOT=$(mktemp -d /tmp/eni-agent-demo.XXXXXX)
SIM_PID= DAEMON_PID=
trap '[ -n "$DAEMON_PID" ] && kill "$DAEMON_PID" 2>/dev/null; [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; wait 2>/dev/null; lab_destroy; rm -rf "$ROOT"' EXIT INT TERM
lab_create || { echo "could not create the demo namespaces" >&2; exit 1; }
lab_unplug 1 && lab_unplug 2 # the VM boots with its primary ENI only
SCENARIO=$repo/examples/scenario-tencent.json
# The temp root has network-scripts' directory, as a RHEL-family image does: renderer "auto" (the
# default) writes ifcfg files there (on a system without it, auto writes none).
mkdir -p "$ROOT/etc/sysconfig/network-scripts"
URL=http://127.0.0.1:8080/latest/meta-data/
ip netns exec "$VM" "$SIM" --scenario "$SCENARIO" --listen 127.0.0.1:8080 >"$ROOT/sim.out" 2>&1 &
SIM_PID=$!
for _ in $(seq 200); do grep -q "^listening on" "$ROOT/sim.out" && break; sleep 0.05; done
grep -q "^listening on" "$ROOT/sim.out" || { echo "the metadata simulator did not start:" >&2; cat "$ROOT/sim.out" >&2; exit 1; }
rm "$ROOT/sim.out"
LOG=$ROOT/daemon.log

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; echo "(exit $?)"; }
agent() { ip netns exec "$VM" "$BIN" "$@" --root "$ROOT" --provider tencent --metadata-url "$URL" --config /dev/null; }
# scenario JQ-LIKE-PYTHON: the bundled scenario, edited by a Python statement on `s`, to the simulator.
scenario() {
    python3 -c "import json,sys; s=json.load(open('$SCENARIO')); $1; print(json.dumps(s))" |
        ip netns exec "$VM" curl -sf -X PUT --data-binary @- "http://127.0.0.1:8080/_sim/scenario" >/dev/null
}
# until SECONDS COMMAND...: polls until the command succeeds (or the deadline passes).
until_ok() { local n=$1 i; shift; for i in $(seq $((n * 10))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done; return 1; }
reach() { for ip in "$@"; do lab_ping "$ip" && echo "$ip reachable" || echo "$ip UNREACHABLE"; done; }
new_log() { tail -n +"$((${1:-0} + 1))" "$LOG"; }
mark() { wc -l <"$LOG"; }

say "A VM namespace ($VM) booted with its primary ENI only"
ip -n "$VM" -br link show | grep eth
ip -n "$VM" -br -4 addr show | grep eth
say "The metadata endpoint: eni-metadata-sim serving Tencent Cloud's tree on $URL"
echo "GET network/interfaces/macs/"; ip netns exec "$VM" curl -s "${URL}network/interfaces/macs/" | sed 's/^/    /'; echo

say "eni-agent daemon starts (resync every 5 s for the demo; 30 s by default)"
printf '$ eni-agent daemon --provider tencent --metadata-url %s --resync-interval 5 &\n' "$URL"
ip netns exec "$VM" "$BIN" daemon --root "$ROOT" --provider tencent --metadata-url "$URL" --config /dev/null --resync-interval 5 >"$LOG" 2>&1 &
DAEMON_PID=$!
until_ok 10 grep -q "configured .* after it appeared" "$LOG"
new_log

say "Hot-attach: two ENIs (52:54:00:00:02:0a, 52:54:00:00:03:0a) appear in the VM as eth2 and eth3"
m=$(mark)
lab_prepare 2 52:54:00:00:02:0a && lab_prepare 3 52:54:00:00:03:0a && lab_plug 2 3
until_ok 10 bash -c "ip -n $VM -4 rule show | grep -q 'lookup 10003' && ip -n $VM -4 rule show | grep -q 'lookup 10002'"
until_ok 5 bash -c "grep -q 'eth3: ENI .* configured' $LOG && grep -q 'eth2: ENI .* configured' $LOG"
echo "(no command was run)"
new_log "$m"
reach 10.0.2.10 10.0.2.11 10.0.2.12 10.0.3.10 10.0.3.11

say "A secondary IP (10.0.2.13) is assigned to eth2's ENI in the metadata: the next resync applies it"
m=$(mark)
scenario "s['enis'][1]['secondary_ips'].append('10.0.2.13')"
until_ok 15 bash -c "ip -n $VM -4 rule show | grep -q 'from 10.0.2.13 '"
new_log "$m"
reach 10.0.2.13

say "Detach: eth3's ENI is detached (gone from the metadata and from the VM)"
m=$(mark)
scenario "s['enis'][1]['secondary_ips'].append('10.0.2.13'); del s['enis'][2]"
lab_unplug 3
until_ok 10 bash -c "! ip -n $VM -4 rule show | grep -q 'lookup 10003' && [ ! -e $ROOT/etc/sysconfig/network-scripts/ifcfg-eth3 ]"
until_ok 5 grep -q "rule.* removed\|-2 rules\|files removed" "$LOG"
new_log "$m"

say "eni-agent status"
run agent status
say "eni-agent diff: nothing left to do (exit 0)"
run agent diff

say "Stopping the daemon (SIGTERM)"
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"; echo "(exit $?)"; DAEMON_PID=
say "The daemon's whole log (stderr; journald files each line at its <N> priority)"
cat "$LOG"
say "ip rule"
ip -n "$VM" -4 rule show
say "ip route show table 10002"
ip -n "$VM" -4 route show table 10002
say "ip -4 addr"
ip -n "$VM" -br -4 addr show | grep eth
say "Files written below the demo root ($ROOT)"
for f in $(cd "$ROOT" && find etc -type f | sort); do echo "--- /$f"; cat "$ROOT/$f"; done

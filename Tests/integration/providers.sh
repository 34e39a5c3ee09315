#!/usr/bin/env bash
# Integration tests of the HTTP metadata providers: the real eni-agent binary in the lab's VM
# namespace, talking to eni-metadata-sim on the namespace's own loopback.
# Usage: Tests/integration/providers.sh PATH-TO-ENI-AGENT PATH-TO-ENI-METADATA-SIM
# Needs root; without it every test is reported as skipped. Prints "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=checks.sh
. "$here/checks.sh"
BIN=$(abs "${1:?usage: providers.sh ENI-AGENT ENI-METADATA-SIM}")
SIM=$(abs "${2:?usage: providers.sh ENI-AGENT ENI-METADATA-SIM}")

LAB=eni-pt-$$
# shellcheck source=lab.sh
. "$here/lab.sh"

TMP=$(mktemp -d /tmp/eni-agent-pt.XXXXXX)
SIM_PID=
cleanup() { [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; wait 2>/dev/null; lab_destroy; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM
skip_unless_root "provider integration tests"

ROOT=$TMP/root
mkdir -p "$ROOT"
PORT=8080
URL=http://127.0.0.1:$PORT/latest/meta-data/
# agent PROVIDER SUBCOMMAND [ARGS...]
CONFIG=/dev/null
agent() { local p=$1; shift; ip netns exec "$VM" "$BIN" "$@" --root "$ROOT" --provider "$p" --metadata-url "$URL" --config "$CONFIG" --renderer ifcfg; }
# ctl METHOD PATH [JSON]: the simulator's control endpoints
ctl() { ip netns exec "$VM" curl -sf -X "$1" --data-binary "${3:-}" "http://127.0.0.1:$PORT/_sim/$2"; }

# start_sim SCENARIO-FILE: the simulator in the VM namespace; waits (with a deadline) until it listens.
start_sim() {
    ip netns exec "$VM" "$SIM" --scenario "$1" --listen 127.0.0.1:$PORT >"$TMP/sim.out" 2>&1 &
    SIM_PID=$!
    local i
    for i in $(seq 200); do grep -q "^listening on" "$TMP/sim.out" && return 0; sleep 0.05; done
    return 1
}

lab_create || { not_ok "lab set-up"; echo "$pass passed, $fail failed"; exit 1; }
start_sim "$repo/examples/scenario-tencent.json" || { not_ok "simulator start" "$(cat "$TMP/sim.out")"; echo "$pass passed, $fail failed"; exit 1; }
ips="10.0.1.10 10.0.1.11 10.0.2.10 10.0.2.11 10.0.2.12 10.0.3.10 10.0.3.11"

# --- Tencent: configure from nothing -----------------------------------------------------------
agent tencent diff >"$TMP/diff1.out" 2>&1; rc=$?
check "tencent: diff exits 2 with changes pending" bash -c "[ $rc = 2 ] && grep -q '^+ ip rule add from 10.0.2.11 lookup 10001 priority 10001 protocol 234$' $TMP/diff1.out"
agent tencent reconfigure >"$TMP/reconf1.out" 2>&1; rc=$?
check "tencent: reconfigure exits 0" test "$rc" = 0
for ip in $ips; do check "tencent: client reaches $ip" lab_ping "$ip"; done
agent tencent diff >"$TMP/diff2.out" 2>&1; rc=$?
check "tencent: diff afterwards exits 0 and prints nothing" bash -c "[ $rc = 0 ] && [ ! -s $TMP/diff2.out ]"
ip -n "$VM" -4 rule show >"$TMP/rules1"

# --- The same instance through the other clouds' trees: nothing to do ---------------------------
for cloud in aliyun aws; do
    ctl PUT scenario "$(cat "$repo/examples/scenario-$cloud.json")" >/dev/null
    agent "$cloud" diff >"$TMP/diff-$cloud.out" 2>&1; rc=$?
    check "$cloud: the same instance read from its tree: diff exits 0" bash -c "[ $rc = 0 ] && [ ! -s $TMP/diff-$cloud.out ]"
    agent auto diff >"$TMP/diff-auto-$cloud.out" 2>&1; rc=$?
    check "auto: against the $cloud tree, diff exits 0 (which cloud it picks: ProviderTests)" test "$rc" = 0
    ctl POST reset-stats >/dev/null
    agent "$cloud" reconfigure --json >"$TMP/reconf-$cloud.json" 2>&1; rc=$?
    check "$cloud: reconfigure makes no change" bash -c "[ $rc = 0 ] && python3 -c 'import json,sys; sys.exit(0 if json.load(open(\"$TMP/reconf-$cloud.json\"))[\"changes\"]==[] else 1)'"
done
check "aws: one token per pass" bash -c "
    ctl() { ip netns exec $VM curl -sf http://127.0.0.1:$PORT/_sim/stats; }
    ctl | python3 -c 'import json,sys; s=json.load(sys.stdin); sys.exit(0 if s[\"by_path\"].get(\"PUT /latest/api/token\")==1 else 1)'"
ctl PUT scenario "$(cat "$repo/examples/scenario-tencent.json")" >/dev/null

# --- A metadata error for one ENI: that ENI is left as it is, the others go ahead ----------------
python3 - "$repo/examples/scenario-tencent.json" "$TMP/more.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["enis"][1]["secondary_ips"].append("10.0.2.13")       # eth1 gains an IP
s["faults"] = [{"path": "03:0A/local-ipv4s/", "status": 500}]  # eth2's IP listing fails
json.dump(s, open(sys.argv[2], "w"))
PY
ctl PUT scenario "$(cat "$TMP/more.json")" >/dev/null
agent tencent reconfigure >"$TMP/reconf2.out" 2>&1; rc=$?
check "error for eth2: reconfigure exits 1" test "$rc" = 1
check "error for eth2: the message names the URL and the status" grep -q "unknown: ENI 52:54:00:00:03:0a left as it is: GET $URL.*03:0A/local-ipv4s/: HTTP 500" "$TMP/reconf2.out"
check "error for eth2: its addresses and rules are kept" bash -c "ip -n $VM -4 addr show dev eth2 | grep -q 10.0.3.11/ && ip -n $VM rule | grep -q 'from 10.0.3.11 lookup 10002'"
check "error for eth2: its files are kept" test -e "$ROOT/etc/sysconfig/network-scripts/ifcfg-eth2"
check "error for eth2: eth1's new IP 10.0.2.13 is configured meanwhile" lab_ping 10.0.2.13
ctl PUT faults '[]' >/dev/null
agent tencent reconfigure >"$TMP/reconf3.out" 2>&1; rc=$?
check "fault cleared: reconfigure exits 0" test "$rc" = 0
check "fault cleared: eth2 still reachable" lab_ping 10.0.3.11

# --- Whole-endpoint failures: the pass stops, nothing is removed --------------------------------
ip -n "$VM" -4 rule show >"$TMP/rules2"
ctl PUT faults '[{"path": "/network/interfaces/macs/$", "mode": "hang"}]' >/dev/null
printf 'metadata_timeout_ms = 300\nmetadata_attempts = 2\n' >"$TMP/fast.toml"
CONFIG=$TMP/fast.toml agent tencent reconfigure >"$TMP/hang.out" 2>&1; rc=$?
check "endpoint that never answers: exit 1 naming the URL" bash -c "[ $rc = 1 ] && grep -q '${URL}network/interfaces/macs/: timed out' $TMP/hang.out"
check "endpoint that never answers: no rule changed" bash -c "ip -n $VM -4 rule show | cmp -s - $TMP/rules2"
ctl PUT faults '[{"path": "/network/interfaces/macs/$", "body": "[]"}]' >/dev/null
agent tencent reconfigure >"$TMP/garbage.out" 2>&1; rc=$?
check "garbage MAC listing: exit 1, warning names the entry" bash -c "[ $rc = 1 ] && grep -q 'entry \"\[\]\" is not a MAC address' $TMP/garbage.out"
check "garbage MAC listing: no rule changed" bash -c "ip -n $VM -4 rule show | cmp -s - $TMP/rules2"
cp "$ROOT/etc/sysctl.d/90-eni-agent.conf" "$TMP/sysctl1"
ls -l --time-style=+%s.%N "$ROOT/etc/sysconfig/network-scripts" >"$TMP/files1"
ctl PUT faults '[{"path": "/network/interfaces/macs/$", "body": ""}]' >/dev/null
agent tencent reconfigure >"$TMP/empty.out" 2>&1; rc=$?
check "empty MAC listing: exit 1 naming the listing and the missing instance MAC" bash -c "[ $rc = 1 ] && grep -q 'network/interfaces/macs/: lists no ENI but not the instance.s MAC 52:54:00:00:01:0a' $TMP/empty.out"
check "empty MAC listing: no rule, file or sysctl.d line changed" bash -c "ip -n $VM -4 rule show | cmp -s - $TMP/rules2 && cmp -s $ROOT/etc/sysctl.d/90-eni-agent.conf $TMP/sysctl1 && ls -l --time-style=+%s.%N $ROOT/etc/sysconfig/network-scripts | cmp -s - $TMP/files1"
ctl PUT faults '[{"hide_mac": "52:54:00:00:03:0a"}]' >/dev/null
agent tencent reconfigure --pending-timeout 0 >"$TMP/hidden.out" 2>&1
check "one MAC hidden (metadata lag): its rules, files and sysctl.d line are kept" bash -c "ip -n $VM -4 rule show | cmp -s - $TMP/rules2 && cmp -s $ROOT/etc/sysctl.d/90-eni-agent.conf $TMP/sysctl1 && grep -qx 'net.ipv4.conf.eth2.rp_filter = 2' $TMP/sysctl1 && ls -l --time-style=+%s.%N $ROOT/etc/sysconfig/network-scripts | cmp -s - $TMP/files1"
ctl PUT faults '[]' >/dev/null
kill "$SIM_PID"; wait "$SIM_PID" 2>/dev/null; SIM_PID=
agent tencent reconfigure >"$TMP/refused.out" 2>&1; rc=$?
check "endpoint down: exit 1, connection failed" bash -c "[ $rc = 1 ] && grep -q 'connection failed' $TMP/refused.out"
check "endpoint down: no rule changed" bash -c "ip -n $VM -4 rule show | cmp -s - $TMP/rules2"
for ip in $ips 10.0.2.13; do lab_ping "$ip" || not_ok "endpoint down: $ip still reachable"; done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

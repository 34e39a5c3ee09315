#!/usr/bin/env bash
# Integration tests of `eni-agent daemon`: the real binary in the lab's VM namespace, with
# eni-metadata-sim (Tencent's tree) on the namespace's loopback. ENIs are hot-attached by moving
# veths into the VM namespace, as the guest sees an attach; no command is run to configure them.
# Usage: Tests/integration/daemon.sh PATH-TO-ENI-AGENT PATH-TO-ENI-METADATA-SIM
# Needs root; without it every test is reported as skipped. Prints "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=checks.sh
. "$here/checks.sh"
BIN=$(abs "${1:?usage: daemon.sh ENI-AGENT ENI-METADATA-SIM}")
SIM=$(abs "${2:?usage: daemon.sh ENI-AGENT ENI-METADATA-SIM}")

LAB=eni-dt-$$
# shellcheck source=lab.sh
. "$here/lab.sh"

TMP=$(mktemp -d /tmp/eni-agent-dt.XXXXXX)
SIM_PID= DAEMON_PID= NOTIFY_PID= MON_PID=
cleanup() {
    local p
    for p in $DAEMON_PID $SIM_PID $NOTIFY_PID $MON_PID; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    lab_destroy
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
skip_unless_root "daemon integration tests"

ROOT=$TMP/root
mkdir -p "$ROOT"
PORT=8080
URL=http://127.0.0.1:$PORT/latest/meta-data/
NS=$ROOT/etc/sysconfig/network-scripts
LOG=$TMP/daemon.log
common=(--root "$ROOT" --provider tencent --metadata-url "$URL" --config /dev/null --renderer ifcfg)
ctl() { ip netns exec "$VM" curl -sf -X "$1" --data-binary "${3:-}" "http://127.0.0.1:$PORT/_sim/$2"; }
requests() { ctl GET stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])'; }

# eventually SECONDS COMMAND...: polls the command every 0.1 s until it succeeds or the deadline.
eventually() {
    local limit=$1 i; shift
    for i in $(seq $((limit * 10))); do "$@" && return 0; sleep 0.1; done
    "$@"
}

# scenario N...: Tencent's tree with the primary ENI (eth0) and ENIs 2..N as lab_prepare makes
# them (10.0.N.10 and 10.0.N.11); EXTRA_IPS (N:IP ...) adds secondary IPs.
scenario() {
    python3 - "$@" <<'PY'
import json, os, sys
extra = {}
for x in os.environ.get("EXTRA_IPS", "").split():
    n, ip = x.split(":"); extra.setdefault(int(n), []).append(ip)
enis = [{"mac": "52:54:00:00:01:0a", "primary_ip": "10.0.1.10", "secondary_ips": ["10.0.1.11"],
         "subnet": "10.0.1.0/24", "gateway": "10.0.1.1"}]
for n in map(int, sys.argv[1:]):
    enis.append({"mac": "52:54:00:00:%02x:0a" % n, "primary_ip": "10.0.%d.10" % n,
                 "secondary_ips": ["10.0.%d.11" % n] + extra.get(n, []),
                 "subnet": "10.0.%d.0/24" % n, "gateway": "10.0.%d.1" % n})
print(json.dumps({"cloud": "tencent", "primary_mac": "52:54:00:00:01:0a", "enis": enis}))
PY
}
mac() { printf '52:54:00:00:%02x:0a' "$1"; }

# configured N IP...: ethN holds exactly these IPs, each with its rule to table 1000N, the table
# has its two routes, and the three files exist.
configured() {
    local n=$1 ip; shift
    local addrs rules routes
    addrs=$(ip -n "$VM" -4 -o addr show dev "eth$n" 2>/dev/null | awk '{print $4}' | sort | tr '\n' ' ')
    rules=$(ip -n "$VM" -4 rule show | grep -c "lookup 1000$n proto 234")
    routes=$(ip -n "$VM" -4 route show table "1000$n" proto 234 2>/dev/null | wc -l)
    local want=""
    for ip in $(printf '%s\n' "$@" | sort); do want+="$ip/24 "; done
    [ "$addrs" = "$want" ] && [ "$rules" = $# ] && [ "$routes" = 2 ] &&
        [ -f "$NS/ifcfg-eth$n" ] && [ -f "$NS/route-eth$n" ] && [ -f "$NS/rule-eth$n" ]
}
# untouched N: ethN has no address, its table no route, no rule points at it, no file.
untouched() {
    [ -z "$(ip -n "$VM" -4 -o addr show dev "eth$1" 2>/dev/null)" ] &&
        ! ip -n "$VM" -4 rule show | grep -q "lookup 1000$1 " &&
        [ -z "$(ip -n "$VM" -4 route show table "1000$1" 2>/dev/null)" ] && [ ! -e "$NS/ifcfg-eth$1" ]
}
reachable() { local ip; for ip in "$@"; do lab_ping "$ip" || { echo "$ip unreachable"; return 1; }; done; }
logged() { grep -q -- "$1" "$LOG"; }

# start_daemon ARGS...: in the VM namespace, with NOTIFY_SOCKET; waits for READY=1.
start_daemon() {
    ip netns exec "$VM" env NOTIFY_SOCKET="$TMP/notify.sock" "$BIN" daemon "${common[@]}" "$@" >>"$LOG" 2>&1 &
    DAEMON_PID=$!
    eventually 20 grep -q "^READY=1" "$TMP/notify.log"
}
stop_daemon() { kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"; local rc=$?; DAEMON_PID=; return $rc; }

lab_create || { not_ok "lab set-up"; echo "$pass passed, $fail failed"; exit 1; }
lab_unplug 1 && lab_unplug 2 # the VM starts with its primary ENI only
scenario 2 3 4 5 6 >"$TMP/scenario.json"
ip netns exec "$VM" "$SIM" --scenario "$TMP/scenario.json" --listen 127.0.0.1:$PORT >"$TMP/sim.out" 2>&1 &
SIM_PID=$!
eventually 10 grep -q "^listening on" "$TMP/sim.out" || { not_ok "simulator start" "$(cat "$TMP/sim.out")"; echo "$pass passed, $fail failed"; exit 1; }

# A test $NOTIFY_SOCKET: prints each line received; at READY=1, whether eth0's secondary IP
# (the first reconcile's only change) is already in the kernel.
python3 - "$TMP/notify.sock" "$VM" >>"$TMP/notify.log" <<'PY' &
import socket, subprocess, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
while True:
    for line in s.recv(4096).decode().splitlines():
        if line == "READY=1":
            out = subprocess.run(["ip", "-n", sys.argv[2], "-4", "addr", "show", "dev", "eth0"], capture_output=True, text=True).stdout
            line += " (eth0 has 10.0.1.11)" if "10.0.1.11/" in out else " (eth0 lacks 10.0.1.11)"
        print(line, flush=True)
PY
NOTIFY_PID=$!
eventually 10 test -S "$TMP/notify.sock"

# --- Start: first reconcile, then READY=1 ------------------------------------------------------
start_daemon --resync-interval 1 --hot-attach-deadline 6
check "start: READY=1 arrives after the first reconcile" grep -qx "READY=1 (eth0 has 10.0.1.11)" "$TMP/notify.log"
check "start: STATUS= tells the ENIs' states" grep -qx "STATUS=ENIs: 1 configured, 5 pending" "$TMP/notify.log"
check "start: log lines carry syslog priorities" bash -c "grep -q '^<5>eni-agent .* started' $LOG && ! grep -qv '^<[0-7]>' $LOG"

# --- Hot-attach: one ENI, then three at once ----------------------------------------------------
lab_attach 2 "$(mac 2)"
check "hot-attach: eth2 configured with no command run" eventually 10 configured 2 10.0.2.10 10.0.2.11
check "hot-attach: eth2's IPs reachable through the strict router" reachable 10.0.2.10 10.0.2.11
lab_prepare 3 "$(mac 3)" && lab_prepare 4 "$(mac 4)" && lab_prepare 5 "$(mac 5)"
lab_plug 3 4 5
for n in 3 4 5; do
    check "hot-attach x3: eth$n configured" eventually 10 configured $n 10.0.$n.10 10.0.$n.11
done
check "hot-attach x3: every IP reachable" reachable 10.0.3.10 10.0.3.11 10.0.4.10 10.0.4.11 10.0.5.10 10.0.5.11
check "hot-attach: each ENI logged as configured" bash -c "for n in 2 3 4 5; do grep -q \"eth\$n: ENI .* configured .* ms after it appeared\" $LOG || exit 1; done"

# --- Metadata lag: the MAC appears 2 s after the link ------------------------------------------
ctl PUT faults "[{\"hide_mac\": \"$(mac 6)\", \"seconds\": 2}]" >/dev/null
lab_attach 6 "$(mac 6)"
check "lag: eth6 not configured while its MAC is hidden" untouched 6
check "lag: eth6 configured once its metadata appears" eventually 15 configured 6 10.0.6.10 10.0.6.11
check "lag: eth6 reachable" reachable 10.0.6.10 10.0.6.11
check "lag: no warning while the ENI was awaited" bash -c "! grep -q 'eth6: ENI .* left as it is' $LOG"

# --- Secondary IPs added and removed in the metadata: picked up by the resync --------------------
ctl PUT scenario "$(EXTRA_IPS="2:10.0.2.12 3:10.0.3.12" scenario 2 3 4 5 6)" >/dev/null
added() { configured 2 10.0.2.10 10.0.2.11 10.0.2.12 && configured 3 10.0.3.10 10.0.3.11 10.0.3.12; }
check "resync: secondary IPs added in the metadata are applied" eventually 15 added
check "resync: the new IPs are reachable" reachable 10.0.2.12 10.0.3.12
ctl PUT scenario "$(EXTRA_IPS="3:10.0.3.12" scenario 2 3 4 5 6)" >/dev/null
check "resync: a secondary IP removed in the metadata is removed" eventually 15 configured 2 10.0.2.10 10.0.2.11
check "resync: the other ENI keeps its added IP" configured 3 10.0.3.10 10.0.3.11 10.0.3.12

# --- Detach: cleanup of eth4, the others untouched ----------------------------------------------
ip -n "$VM" -4 rule show | grep -v "lookup 10004 " >"$TMP/rules-others"
# The metadata drops eth4 before its link goes, as a detach may look to the guest: a resync sees the
# link with no metadata. Within the hot-attach deadline that is "pending", not a warning.
mark=$(wc -l <"$TMP/notify.log")
ctl PUT scenario "$(EXTRA_IPS="3:10.0.3.12" scenario 2 3 5 6)" >/dev/null
check "detach: an ENI the metadata dropped while its link is present shows as pending" \
    eventually 10 bash -c "tail -n +$((mark + 1)) $TMP/notify.log | grep -q '^STATUS=.*pending'"
lab_unplug 4
# gone N: no rule points at table 1000N, the table is empty, ethN's files and sysctl.d line are gone.
gone() {
    ! ip -n "$VM" -4 rule show | grep -q "lookup 1000$1 " && [ -z "$(ip -n "$VM" -4 route show table "1000$1")" ] &&
        [ ! -e "$NS/ifcfg-eth$1" ] && [ ! -e "$NS/route-eth$1" ] && [ ! -e "$NS/rule-eth$1" ] &&
        ! grep -q "conf.eth$1.rp_filter" "$ROOT/etc/sysctl.d/90-eni-agent.conf"
}
check "detach: eth4's rules, table and files are removed" eventually 15 gone 4
check "detach: the other ENIs' rules are untouched" bash -c "ip -n $VM -4 rule show | diff $TMP/rules-others -"
check "detach: the other ENIs still reachable" reachable 10.0.2.10 10.0.3.12 10.0.5.11 10.0.6.10
check "detach: no warning about the ENI the metadata dropped before its link went" bash -c "! grep -q 'ENI $(mac 4) left as it is' $LOG"

# --- Idle: resyncs with nothing to change log nothing and write nothing ---------------------------
lines=$(wc -l <"$LOG")
ip -n "$VM" monitor link address route rule >"$TMP/monitor.out" 2>&1 &
MON_PID=$!
eventually 5 test -e "$TMP/monitor.out"
r0=$(requests)
# Three increases of the simulator's request count: at least two whole resyncs since r0.
r=$r0
for i in 1 2 3; do eventually 10 test "$(requests)" -gt "$r"; r=$(requests); done
kill "$MON_PID"; wait "$MON_PID" 2>/dev/null; MON_PID=
check "idle: resyncs ran meanwhile (metadata requests $r0 -> $r)" test "$r" -gt "$r0"
check "idle: no log line" test "$(wc -l <"$LOG")" = "$lines"
check "idle: no netlink change (ip monitor saw nothing)" test ! -s "$TMP/monitor.out"
check "idle: diff agrees there is nothing to do" ip netns exec "$VM" "$BIN" diff "${common[@]}"

# --- An ENI whose metadata never appears: pending in status, logged once ---------------------------
lab_attach 7 "$(mac 7)"
check "never: the warning comes after the hot-attach deadline" eventually 15 logged "eth7: ENI $(mac 7) left as it is: pending"
r=$(requests)
for i in 1 2 3; do eventually 10 test "$(requests)" -gt "$r"; r=$(requests); done
check "never: logged once, however many resyncs" test "$(grep -c "eth7: ENI" "$LOG")" = 1
ip netns exec "$VM" "$BIN" status "${common[@]}" >"$TMP/status.out" 2>&1; rc=$?
check "status: eth7 pending with the reason, exit 3" bash -c "[ $rc = 3 ] && grep -q '^$(mac 7)  eth7 .* pending' $TMP/status.out && grep -q 'not listed in .* yet' $TMP/status.out"
check "status: the others configured, with their tables" bash -c "grep -q '^$(mac 2)  eth2 .* configured  10002  10.0.2.10,10.0.2.11$' $TMP/status.out && grep -q '^$(mac 1)  eth0 .* configured  -' $TMP/status.out"
ip netns exec "$VM" "$BIN" status --json "${common[@]}" >"$TMP/status.json" 2>&1
check "status --json: states by MAC" python3 -c "
import json; s = json.load(open('$TMP/status.json'))
st = {e['mac']: (e['state'], e.get('interface'), e.get('table')) for e in s['enis']}
assert st['$(mac 7)'][:2] == ('pending', 'eth7'), st
assert st['$(mac 3)'] == ('configured', 'eth3', 10003), st
assert '$(mac 4)' not in st, st  # detached and no longer listed"
lab_unplug 7

check "SIGTERM: the daemon exits 0" stop_daemon

# --- SIGHUP triggers a pass (the resync is an hour away) ------------------------------------------
: >"$TMP/notify.log"
start_daemon --resync-interval 3600
ctl PUT scenario "$(EXTRA_IPS="3:10.0.3.12 5:10.0.5.12" scenario 2 3 5 6)" >/dev/null
check "SIGHUP: before it, the new IP is not applied" configured 5 10.0.5.10 10.0.5.11
kill -HUP "$DAEMON_PID"
check "SIGHUP: a pass applies the new IP" eventually 10 configured 5 10.0.5.10 10.0.5.11 10.0.5.12
check "SIGHUP: the daemon keeps running" kill -0 "$DAEMON_PID"

# --- SIGTERM during a pass: every interface fully configured or untouched ------------------------
ctl PUT scenario "$(EXTRA_IPS="3:10.0.3.12 5:10.0.5.12" scenario 2 3 5 6 8 9)" >/dev/null
ctl PUT faults '[{"latency_ms": 150}]' >/dev/null
lab_prepare 8 "$(mac 8)" && lab_prepare 9 "$(mac 9)"
lab_plug 8 9
eventually 10 logged "link eth9 .* appeared"
stop_daemon; rc=$?
check "SIGTERM mid-pass: exit 0" test "$rc" = 0
for n in 8 9; do
    all_or_nothing() { configured "$1" "10.0.$1.10" "10.0.$1.11" || untouched "$1"; }
    check "SIGTERM mid-pass: eth$n fully configured or untouched" all_or_nothing $n
done
ctl PUT faults '[]' >/dev/null
start_daemon --resync-interval 3600
for n in 8 9; do check "restart: eth$n converges" eventually 10 configured $n 10.0.$n.10 10.0.$n.11; done
check "restart: no duplicate rules" bash -c "[ -z \"\$(ip -n $VM -4 rule show | sort | uniq -d)\" ]"
check "restart: diff says nothing to do" ip netns exec "$VM" "$BIN" diff "${common[@]}"

# --- A link flap: the kernel drops the routes through the link; its coming up starts a pass --------
ip -n "$VM" link set eth8 down
check "flap: down, the kernel dropped table 10008's routes" test -z "$(ip -n "$VM" -4 route show table 10008)"
ip -n "$VM" link set eth8 up
check "flap: up, eth8's table is restored (the resync is an hour away)" eventually 10 configured 8 10.0.8.10 10.0.8.11
for i in $(seq 20); do ip -n "$VM" link set eth9 down; ip -n "$VM" link set eth9 up; done
check "flap x20: eth9's table is restored" eventually 10 configured 9 10.0.9.10 10.0.9.11
check "flap: eth8 and eth9 reachable" reachable 10.0.8.10 10.0.9.11

# --- Another program removes what the agent owns (as a network manager's restart does) -------------
ip -n "$VM" rule del from 10.0.8.10 lookup 10008 priority 10008
ip -n "$VM" route del default table 10008
ip -n "$VM" addr del 10.0.8.11/24 dev eth8
check "removed by another program: eth8's rule, route and address are back (the resync is an hour away)" \
    eventually 5 configured 8 10.0.8.10 10.0.8.11
check "removed by another program: eth8 reachable" reachable 10.0.8.10 10.0.8.11

# --- Detach before the metadata drops the ENI: kept while listed, gone as soon as it is dropped ----
mark=$(wc -l <"$TMP/notify.log")
lab_unplug 9
check "detach first: eth9 shows as pending while the metadata still lists it" \
    eventually 10 bash -c "tail -n +$((mark + 1)) $TMP/notify.log | grep -q '^STATUS=.*pending'"
check "detach first: meanwhile its rules, files and sysctl.d line are kept" bash -c "
    [ \$(ip -n $VM -4 rule show | grep -c 'lookup 10009 ') = 2 ] && [ -e $NS/rule-eth9 ] && grep -q conf.eth9.rp_filter $ROOT/etc/sysctl.d/90-eni-agent.conf"
ctl PUT scenario "$(EXTRA_IPS="3:10.0.3.12 5:10.0.5.12" scenario 2 3 5 6 8)" >/dev/null
check "detach first: once the metadata drops it, all of it goes (the resync is an hour away)" eventually 10 gone 9
check "restart: SIGTERM when idle, exit 0" stop_daemon
check "log: no error line" bash -c "! grep '^<[0-3]>' $LOG"

# --- A failing pass is retried with backoff (1 s, 2 s, ...), not repeated at once -----------------
LOG=$TMP/daemon-failing.log
: >"$TMP/notify.log"
ctl PUT faults '[{"path": "/network/interfaces/macs/$", "status": 404, "seconds": 3}]' >/dev/null
start_daemon --resync-interval 3600
check "failing: the daemon recovers once the endpoint answers" eventually 20 logged "pass succeeded after"
check "failing: READY=1 only once a pass succeeded; meanwhile STATUS= says what it waits for" python3 -c "
lines = open('$TMP/notify.log').read().splitlines()
ready = lines.index('READY=1 (eth0 has 10.0.1.11)')
assert any(l.startswith('STATUS=starting: waiting for a first pass that succeeds (pass failed: ') for l in lines[:ready]), lines"
failed=$(sed -n 's/.*pass succeeded after \([0-9]*\) failed.*/\1/p' "$LOG" | head -1)
check "failing: 3 s of failures made a few passes with backoff, not a loop ($failed failed)" test "${failed:-999}" -le 5
check "failing: the failure is logged once" test "$(grep -c 'pass failed' "$LOG")" = 1
check "failing: SIGTERM, exit 0" stop_daemon

# --- The start deadline: READY=1 even when the metadata never answers, boot is not held longer --------
LOG=$TMP/daemon-deadline.log
: >"$TMP/notify.log"
printf 'ready_timeout = 2\n' >"$TMP/ready.toml"
ctl PUT faults '[{"path": "/network/interfaces/macs/$", "status": 404}]' >/dev/null
start_daemon --resync-interval 3600 --config "$TMP/ready.toml"
check "deadline: READY=1 at the start deadline, with a warning saying so" bash -c "grep -q '^READY=1' $TMP/notify.log && grep -q '^<4>ready at the start deadline (2 s)' $LOG"
check "deadline: SIGTERM, exit 0" stop_daemon
ctl PUT faults '[]' >/dev/null

# --- A restore needs no metadata: what another program removed goes back while the endpoint hangs --
LOG=$TMP/daemon-restore.log
: >"$TMP/notify.log"
start_daemon --resync-interval 3600
check "restore: eth2 configured" eventually 10 configured 2 10.0.2.10 10.0.2.11
ctl PUT faults '[{"mode": "hang"}]' >/dev/null
ip -n "$VM" rule del from 10.0.2.11 lookup 10002 priority 10002
check "restore: with the metadata endpoint not answering, the rule is back from the last description" \
    eventually 5 configured 2 10.0.2.10 10.0.2.11
ctl PUT faults '[]' >/dev/null
check "restore: SIGTERM, exit 0" stop_daemon

[ "$fail" = 0 ] || { echo "--- daemon log"; cat "$LOG"; echo "--- notifications"; cat "$TMP/notify.log"; }
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

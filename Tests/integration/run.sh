#!/usr/bin/env bash
# Integration tests: the real eni-agent binary in throwaway network namespaces (see lab.sh).
# Usage: Tests/integration/run.sh PATH-TO-ENI-AGENT
# Needs root; without it every test is reported as skipped. Prints "N passed, N failed".
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BIN=${1:?usage: run.sh PATH-TO-ENI-AGENT}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")

LAB=eni-it-$$
# shellcheck source=lab.sh
. "$here/lab.sh"

# shellcheck source=checks.sh
. "$here/checks.sh"
TMP=$(mktemp -d /tmp/eni-agent-it.XXXXXX)
cleanup() { lab_destroy; rm -rf "$TMP"; }
trap cleanup EXIT INT TERM
skip_unless_root "integration tests"

ROOT=$TMP/root
META=$TMP/instance.json
cp "$repo/examples/instance.json" "$META"
mkdir -p "$ROOT"
agent() { ip netns exec "$VM" "$BIN" "$@" --root "$ROOT" --metadata-file "$META" --config /dev/null --renderer ifcfg; }
rules() { ip -n "$VM" -4 rule show; }
table() { ip -n "$VM" -4 route show table "$1" 2>/dev/null; }

lab_create || { not_ok "lab set-up"; echo "$pass passed, $fail failed"; exit 1; }

# --- Before: what a naive script does (addresses only) leaves the ENI unreachable -------------
ip -n "$VM" link set eth1 up
ip -n "$VM" addr add 10.0.2.10/24 dev eth1
check "client reaches the primary IP through eth0 before" lab_ping 10.0.1.10
check "a secondary ENI IP with an address but no policy routing is unreachable" bash -c "! ip netns exec $CLI ping -n -q -c 1 -W 1 10.0.2.10"
eth0_before=$(ip -n "$VM" -4 -o addr show dev eth0 | grep -v secondary | awk "{print \$4}")
main_default_before=$(ip -n "$VM" -4 route show default table main)

# --- diff shows changes, exit 2 ----------------------------------------------------------------
agent diff >"$TMP/diff1.out" 2>&1; rc=$?
check "diff exits 2 when changes are pending" test "$rc" = 2
check "diff shows rules in ip syntax" grep -q "^+ ip rule add from 10.0.2.11 lookup 10001 priority 10001 protocol 234$" "$TMP/diff1.out"
check "diff shows files as unified diffs" grep -q "^+++ /etc/sysconfig/network-scripts/ifcfg-eth1$" "$TMP/diff1.out"
agent diff --json >"$TMP/diff1.json" 2>/dev/null
check "diff --json lists every change with op, command and interface" python3 -c "
import json, sys
d = json.load(open('$TMP/diff1.json'))
assert d['pending'] == len(d['changes']) > 20, d['pending']
assert all({'op', 'command', 'reason'} <= set(c) for c in d['changes'])
assert {'add_rule', 'add_route', 'add_address', 'write_file', 'set_sysctl', 'link_up'} <= {c['op'] for c in d['changes']}
assert [e['state'] for e in d['enis']] == ['managed'] * 3, d['enis']
"
check "diff changes nothing" bash -c "! ip -n $VM rule | grep -q 10001 && [ ! -e $ROOT/etc/sysconfig ]"

# --- reconfigure configures both secondary ENIs -------------------------------------------------
agent reconfigure >"$TMP/reconf1.out" 2>&1; rc=$?
check "reconfigure exits 0" test "$rc" = 0
for ip in 10.0.2.10 10.0.2.11 10.0.2.12; do
    check "rule from $ip lookup 10001 with protocol 234" bash -c "ip -n $VM -4 rule | grep -q '^10001:.*from $ip lookup 10001 proto 234'"
done
for ip in 10.0.3.10 10.0.3.11; do
    check "rule from $ip lookup 10002 with protocol 234" bash -c "ip -n $VM -4 rule | grep -q '^10002:.*from $ip lookup 10002 proto 234'"
done
check "table 10001 has the subnet and default routes" bash -c "ip -n $VM -4 route show table 10001 | grep -q '^default via 10.0.2.1 dev eth1 proto 234' && ip -n $VM -4 route show table 10001 | grep -q '^10.0.2.0/24 dev eth1 proto 234 scope link'"
check "table 10002 has the default route via eth2" bash -c "ip -n $VM -4 route show table 10002 | grep -q '^default via 10.0.3.1 dev eth2 proto 234'"
check "main table gained no default route" test "$(ip -n "$VM" -4 route show default table main)" = "$main_default_before"
check "eth0's primary address is unchanged" test "$(ip -n "$VM" -4 -o addr show dev eth0 | grep -v secondary | awk "{print \$4}")" = "$eth0_before" -a "$eth0_before" = 10.0.1.10/24
check "the primary ENI's secondary IP is on eth0" bash -c "ip -n $VM -4 addr show dev eth0 | grep -q 'inet 10.0.1.11/24'"
check "rp_filter is loose on eth1 and eth2" bash -c "[ \$(ip netns exec $VM cat /proc/sys/net/ipv4/conf/eth1/rp_filter) = 2 ] && [ \$(ip netns exec $VM cat /proc/sys/net/ipv4/conf/eth2/rp_filter) = 2 ]"
for f in ifcfg-eth1 route-eth1 rule-eth1 ifcfg-eth2 route-eth2 rule-eth2; do
    check "$f written with the marker, mode 0644" bash -c "head -1 $ROOT/etc/sysconfig/network-scripts/$f | grep -q '^# Managed by eni-agent' && [ \$(stat -c %a $ROOT/etc/sysconfig/network-scripts/$f) = 644 ]"
done
check "ifcfg-eth1 sources to the intended values" bash -c ". $ROOT/etc/sysconfig/network-scripts/ifcfg-eth1 && [ \"\$DEVICE \$IPADDR \$PREFIX \$IPADDR2 \$DEFROUTE \$NM_CONTROLLED\" = 'eth1 10.0.2.10 24 10.0.2.12 no no' ]"
check "sysctl.d file persists rp_filter" grep -qx "net.ipv4.conf.eth2.rp_filter = 2" "$ROOT/etc/sysctl.d/90-eni-agent.conf"
check "no ifcfg-eth0 written" test ! -e "$ROOT/etc/sysconfig/network-scripts/ifcfg-eth0"

# --- Reachability through the strict router ----------------------------------------------------
for ip in 10.0.1.10 10.0.1.11 10.0.2.10 10.0.2.11 10.0.2.12 10.0.3.10 10.0.3.11; do
    check "client reaches $ip after reconfigure" lab_ping "$ip"
done

# --- route-/rule- files reproduce the runtime state without the agent ---------------------------
check "route-eth1 and rule-eth1 lines are valid 'ip route add'/'ip rule add' arguments" bash -c "
    ip netns add $LAB-boot && trap 'ip netns del $LAB-boot' EXIT
    ip -n $LAB-boot link add eth1 type dummy && ip -n $LAB-boot link set eth1 up && ip -n $LAB-boot addr add 10.0.2.10/24 dev eth1
    grep -v '^#' $ROOT/etc/sysconfig/network-scripts/route-eth1 | while read -r l; do ip -n $LAB-boot route add \$l || exit 1; done
    grep -v '^#' $ROOT/etc/sysconfig/network-scripts/rule-eth1 | while read -r l; do ip -n $LAB-boot rule add \$l || exit 1; done
    [ \"\$(ip -n $LAB-boot -4 rule | grep -c 'lookup 10001 proto 234')\" = 3 ]"

# --- Idempotent: nothing to do, nothing written --------------------------------------------------
stat -c '%n %i %Y' "$ROOT"/etc/sysconfig/network-scripts/* "$ROOT"/etc/sysctl.d/* >"$TMP/stat1"
rules >"$TMP/rules1"
agent diff >"$TMP/diff2.out" 2>&1; rc=$?
check "diff right after reconfigure reports nothing (exit 0)" bash -c "[ $rc = 0 ] && [ ! -s $TMP/diff2.out ]"
agent reconfigure --json >"$TMP/reconf2.json" 2>&1; rc=$?
check "second reconfigure exits 0 with no changes" bash -c "[ $rc = 0 ] && python3 -c 'import json,sys; d=json.load(open(\"$TMP/reconf2.json\")); sys.exit(0 if d[\"changes\"]==[] else 1)'"
agent reconfigure >"$TMP/reconf3.out" 2>&1
check "second reconfigure says nothing to do" grep -qx "nothing to do" "$TMP/reconf3.out"
stat -c '%n %i %Y' "$ROOT"/etc/sysconfig/network-scripts/* "$ROOT"/etc/sysctl.d/* >"$TMP/stat2"
check "second reconfigure wrote no file (same inodes and mtimes)" cmp -s "$TMP/stat1" "$TMP/stat2"
check "second reconfigure left the rules as they were" bash -c "ip -n $VM -4 rule show | cmp -s - $TMP/rules1"

# --- Foreign rules and routes survive --------------------------------------------------------------
ip -n "$VM" rule add from 10.0.2.99 lookup 10001 priority 10001
ip -n "$VM" rule add from all fwmark 0x1 lookup 100 priority 100
ip -n "$VM" route add 192.0.2.0/24 dev eth1 table 10001
ip -n "$VM" route add 198.51.100.0/24 via 10.0.1.1 dev eth0
python3 - "$META" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["enis"][1]["secondary_ips"] = ["10.0.2.12", "10.0.2.13"]   # 10.0.2.11 unassigned, 10.0.2.13 assigned
json.dump(d, open(sys.argv[1], "w"), indent=2)
PY
agent reconfigure >"$TMP/reconf4.out" 2>&1; rc=$?
check "reconfigure after an IP moved exits 0" test "$rc" = 0
check "unassigned 10.0.2.11: address and rule removed" bash -c "! ip -n $VM -4 addr show dev eth1 | grep -q 10.0.2.11/ && ! ip -n $VM rule | grep -q 'from 10.0.2.11 '"
check "assigned 10.0.2.13: address and rule added" bash -c "ip -n $VM -4 addr show dev eth1 | grep -q 10.0.2.13/ && ip -n $VM rule | grep -q 'from 10.0.2.13 lookup 10001 proto 234'"
check "client reaches the new 10.0.2.13" lab_ping 10.0.2.13
check "foreign rule at our priority survives" bash -c "ip -n $VM rule | grep -q '^10001:.*from 10.0.2.99 lookup 10001\$'"
check "foreign fwmark rule survives" bash -c "ip -n $VM rule | grep -q 'fwmark 0x1 lookup 100'"
check "foreign route in our table survives" bash -c "ip -n $VM route show table 10001 | grep -q '^192.0.2.0/24 dev eth1'"
check "foreign route in main survives" bash -c "ip -n $VM route show | grep -q '^198.51.100.0/24 via 10.0.1.1'"

# --- An unmarked file is a conflict; --force overwrites it -----------------------------------------
printf 'DEVICE=eth2\nIPADDR=10.0.3.99\n' >"$ROOT/etc/sysconfig/network-scripts/ifcfg-eth2"
sed -i 's/"10.0.3.11"/"10.0.3.11", "10.0.3.12"/' "$META"
agent reconfigure >"$TMP/reconf5.out" 2>&1; rc=$?
check "a conflict makes reconfigure exit 1" test "$rc" = 1
check "the conflict names the file" grep -q "ifcfg-eth2 exists and is not managed by eni-agent" "$TMP/reconf5.out"
check "the unmarked file is untouched" grep -qx "IPADDR=10.0.3.99" "$ROOT/etc/sysconfig/network-scripts/ifcfg-eth2"
check "the rest is applied despite the conflict" bash -c "ip -n $VM rule | grep -q 'from 10.0.3.12 lookup 10002'"
agent reconfigure --force >"$TMP/reconf6.out" 2>&1; rc=$?
check "--force overwrites the unmarked file" bash -c "[ $rc = 0 ] && head -1 $ROOT/etc/sysconfig/network-scripts/ifcfg-eth2 | grep -q '^# Managed by eni-agent'"

# --- Detach: eth2 leaves the kernel and the metadata ---------------------------------------------
ip -n "$VM" link del eth2
python3 - "$META" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["enis"] = [e for e in d["enis"] if e["mac"] != "52:54:00:00:03:0a"]
json.dump(d, open(sys.argv[1], "w"), indent=2)
PY
rules_eth1_before=$(ip -n "$VM" rule | grep 'lookup 10001')
agent reconfigure >"$TMP/reconf7.out" 2>&1; rc=$?
check "reconfigure after detach exits 0" test "$rc" = 0
check "detached ENI's rules removed" bash -c "! ip -n $VM rule | grep -q 'lookup 10002'"
check "detached ENI's files removed" bash -c "! ls $ROOT/etc/sysconfig/network-scripts/ | grep -q eth2"
check "detached ENI left the sysctl.d file" bash -c "! grep -q eth2 $ROOT/etc/sysctl.d/90-eni-agent.conf"
check "the other ENI is untouched by the detach" test "$(ip -n "$VM" rule | grep 'lookup 10001')" = "$rules_eth1_before"
check "client still reaches eth1's IPs" lab_ping 10.0.2.10
agent diff >/dev/null 2>&1; rc=$?
check "diff after detach clean-up reports nothing" test "$rc" = 0

# --- --interface limits the changes ----------------------------------------------------------------
ip -n "$VM" addr del 10.0.2.12/24 dev eth1
ip -n "$VM" addr del 10.0.1.11/24 dev eth0
agent reconfigure --interface eth0 >"$TMP/reconf8.out" 2>&1
check "--interface eth0 restores eth0 only" bash -c "ip -n $VM -4 addr show dev eth0 | grep -q 10.0.1.11/ && ! ip -n $VM -4 addr show dev eth1 | grep -q 10.0.2.12/"
agent reconfigure >/dev/null 2>&1

# --- Unusable descriptions change nothing (the rule behind issue 16's defects 3-6) ---------------
snapshot() { { ip -n "$VM" -4 addr show; ip -n "$VM" -4 rule show; ip -n "$VM" -4 route show table all; \
    ls -l --time-style=+%s.%N "$ROOT/etc/sysconfig/network-scripts" "$ROOT/etc/sysctl.d"; } 2>&1; }
snapshot >"$TMP/state1"
python3 - "$META" "$TMP/zero.json" "$TMP/noprimary.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
z = json.loads(json.dumps(d)); z["enis"][1]["subnet"] = "0.0.0.0/0"
json.dump(z, open(sys.argv[2], "w"))
p = json.loads(json.dumps(d)); p["primary_mac"] = "52:54:00:00:0f:0a"   # eth0's MAC listed as an ordinary ENI
json.dump(p, open(sys.argv[3], "w"))
PY
for case in zero:"subnet 0.0.0.0/0 is too large for an ENI" noprimary:"primary MAC 52:54:00:00:0f:0a is not among the ENIs"; do
    f=${case%%:*}; why=${case#*:}
    ip netns exec "$VM" "$BIN" reconfigure --root "$ROOT" --metadata-file "$TMP/$f.json" --config /dev/null >"$TMP/$f.out" 2>&1; rc=$?
    check "$f: reconfigure exits 1 saying why" bash -c "[ $rc = 1 ] && grep -q '$why' $TMP/$f.out"
    snapshot >"$TMP/state-$f"
    check "$f: no address, route, rule, sysctl.d line or file changed" cmp "$TMP/state1" "$TMP/state-$f"
done
check "noprimary: eth0 got no table, rule or file" bash -c "! ip -n $VM -4 rule | grep -q 10.0.1.10 && [ ! -e $ROOT/etc/sysconfig/network-scripts/ifcfg-eth0 ]"

# A link taken down and renamed to a name the agent will not write: left alone, rules and line kept.
ip -n "$VM" link set eth1 down
ip -n "$VM" link set eth1 name 'e;2'
ip -n "$VM" link set 'e;2' up
rules_before=$(ip -n "$VM" -4 rule show)
agent reconfigure >"$TMP/unsafe.out" 2>&1; rc=$?
check "renamed 'e;2': reconfigure exits 1 naming the link" bash -c "[ $rc = 1 ] && grep -q 'has a name eni-agent cannot write safely' $TMP/unsafe.out"
check "renamed 'e;2': its rules are kept" test "$(ip -n "$VM" -4 rule show)" = "$rules_before"
check "renamed 'e;2': its sysctl.d line and files are kept" bash -c "grep -qx 'net.ipv4.conf.eth1.rp_filter = 2' $ROOT/etc/sysctl.d/90-eni-agent.conf && [ -e $ROOT/etc/sysconfig/network-scripts/rule-eth1 ]"
ip -n "$VM" link set 'e;2' down
ip -n "$VM" link set 'e;2' name eth1
ip -n "$VM" link set eth1 up
agent reconfigure >/dev/null 2>&1; rc=$?
check "renamed back: reconfigure exits 0 and eth1 is reachable again" bash -c "[ $rc = 0 ] && ip netns exec $CLI ping -n -q -c 1 -W 2 10.0.2.10 >/dev/null"

# A temp file that a killed run left: diff shows its removal, reconfigure removes it.
echo "# Managed by eni-agent for 52:54:00:00:06:0a; local" >"$ROOT/etc/sysconfig/network-scripts/.rule-eth5.eni-agent-tmp"
agent diff >"$TMP/tmp.out" 2>&1; rc=$?
check "leftover temp file: diff exits 2 showing its removal" bash -c "[ $rc = 2 ] && grep -A1 -x -- '--- /etc/sysconfig/network-scripts/.rule-eth5.eni-agent-tmp' $TMP/tmp.out | grep -qx -- '+++ /dev/null'"
agent reconfigure >/dev/null 2>&1; rc=$?
check "leftover temp file: reconfigure removes it" bash -c "[ $rc = 0 ] && [ ! -e $ROOT/etc/sysconfig/network-scripts/.rule-eth5.eni-agent-tmp ]"

# --- Renderers: auto writes files only where something reads them; an unwritable one is one problem
ip netns exec "$VM" "$BIN" diff --json --root "$TMP/bare" --metadata-file "$META" --config /dev/null >"$TMP/auto.json" 2>/dev/null
check "renderer auto (the default) on a system without NetworkManager, networkd or network-scripts: no file, and it says why" python3 -c "
import json; d = json.load(open('$TMP/auto.json'))
assert d['renderer'] == 'none (auto: neither NetworkManager nor systemd-networkd is running and there is no /etc/sysconfig/network-scripts: nothing on this system reads the files the agent can write)', d['renderer']
assert d['provider'].startswith('file '), d['provider']
assert not [c for c in d['changes'] if c['op'].endswith('_file')], d['changes']"
# systemd-networkd running (its state file below the root): networkd's files, the agent's rules
# with networkd's protocol (static), and the next run finds nothing to do.
mkdir -p "$TMP/nd/run/systemd/netif" && echo OPER_STATE=routable >"$TMP/nd/run/systemd/netif/state"
ip netns exec "$VM" "$BIN" diff --json --root "$TMP/nd" --metadata-file "$META" --config /dev/null >"$TMP/nd.json" 2>/dev/null
check "renderer auto where systemd-networkd runs: its .network files, and it says why" python3 -c "
import json; d = json.load(open('$TMP/nd.json'))
assert d['renderer'] == 'networkd (auto: systemd-networkd is running (/run/systemd/netif/state exists))', d['renderer']
files = sorted(c['path'] for c in d['changes'] if c['op'] == 'write_file')
assert '/etc/systemd/network/05-eni-agent-eth1.network' in files and not [f for f in files if 'network-scripts' in f], files
rules = [c['command'] for c in d['changes'] if c['op'] == 'add_rule']
assert rules and all(r.endswith(' protocol 4') for r in rules), rules"
agent status >"$TMP/status.out" 2>&1
check "status names the provider and the renderer in effect, with why" bash -c "head -2 $TMP/status.out | tr '\\n' ' ' | grep -q '^provider: file .* renderer: ifcfg (renderer = ifcfg) \$'"
# /etc read-only, as ProtectSystem=strict makes it when the directory is not among ReadWritePaths=.
mkdir -p "$TMP/ro/etc"
ip netns exec "$VM" unshare -m sh -c "mount --bind $TMP/ro/etc $TMP/ro/etc && mount -o remount,bind,ro $TMP/ro/etc &&
    exec $BIN reconfigure --root $TMP/ro --metadata-file $META --config /dev/null --renderer ifcfg" >"$TMP/ro.out" 2>&1; rc=$?
check "renderer ifcfg on a read-only /etc: exit 1 with one clear error, the kernel still configured" bash -c "[ $rc = 1 ] &&
    [ \$(grep -c 'renderer ifcfg: /etc/sysconfig/network-scripts cannot be written (/etc: Read-only file system)' $TMP/ro.out) = 1 ] &&
    ! grep -q 'write /etc' $TMP/ro.out && ip -n $VM rule | grep -q 'from 10.0.2.10 lookup 10001'"

# --- Errors: bad metadata, lock held -------------------------------------------------------------
echo '{"primary_mac": "52:54:00:00:01:0a", "enis": [{"mac": "52:54:00:00:02:0a", "primary_ip": "10.0.2.10", "subnet": "10.0.2.0/24", "gateway": "$(reboot)"}]}' >"$TMP/bad.json"
ip netns exec "$VM" "$BIN" diff --root "$ROOT" --metadata-file "$TMP/bad.json" --config /dev/null >"$TMP/bad.out" 2>&1; rc=$?
check "invalid metadata: diff exits 1 naming the field and value" bash -c "[ $rc = 1 ] && grep -q 'enis\[0\].gateway: invalid IPv4 address \"\$(reboot)\"' $TMP/bad.out"
ip netns exec "$VM" "$BIN" reconfigure --root "$ROOT" --metadata-file "$TMP/bad.json" --config /dev/null >/dev/null 2>&1
check "invalid metadata changes nothing" bash -c "ip -n $VM rule | grep -q 'from 10.0.2.10 lookup 10001' && ip -n $VM -4 addr show dev eth1 | grep -q 10.0.2.10/"
printf 'lock_timeout = 0\n' >"$TMP/lock.toml"
( flock 9; ip netns exec "$VM" "$BIN" reconfigure --root "$ROOT" --metadata-file "$META" --config "$TMP/lock.toml" >"$TMP/lock.out" 2>&1; echo $? >"$TMP/lock.rc" ) 9>"$ROOT/run/eni-agent/lock"
check "a held lock stops a second run, naming the lock" bash -c "[ \$(cat $TMP/lock.rc) = 1 ] && grep -q 'eni-agent/lock: another eni-agent run holds it' $TMP/lock.out"

# --- NetworkManager running (its devices' state directory below the root): renderer auto writes its keyfiles, 0600;
# the agent's routes and rules take NetworkManager's protocol (static), so they are the ones its
# keyfiles declare; the next run finds nothing to do. Last: it changes the protocol of the lab's
# objects for good.
NM=$TMP/nm
mkdir -p "$NM/run/NetworkManager/devices"
nmagent() { ip netns exec "$VM" "$BIN" "$@" --root "$NM" --metadata-file "$META" --config /dev/null; }
KEYFILE=$NM/etc/NetworkManager/system-connections/eni-agent-eth1.nmconnection
nmagent diff --json >"$TMP/nm.json" 2>/dev/null
check "renderer auto where NetworkManager runs: its keyfiles, 0600, and it says why" python3 -c "
import json; d = json.load(open('$TMP/nm.json'))
assert d['renderer'] == 'networkmanager (auto: NetworkManager is running (/run/NetworkManager/devices exists))', d['renderer']
writes = [c for c in d['changes'] if c['op'] == 'write_file']
files = sorted(c['path'] for c in writes)
assert '/etc/NetworkManager/system-connections/eni-agent-eth1.nmconnection' in files and '/etc/sysctl.d/90-eni-agent.conf' in files, files
assert not [f for f in files if 'eth0' in f or not f.startswith(('/etc/NetworkManager/system-connections/eni-agent-', '/etc/sysctl.d/'))], files
assert all(c['command'].endswith('(new, mode 0600)') for c in writes if c['path'].endswith('.nmconnection')), writes
rules = [c['command'] for c in d['changes'] if c['op'] == 'add_rule']
assert rules and all(r.endswith(' protocol 4') for r in rules), rules
routes = [c['command'] for c in d['changes'] if c['op'] == 'add_route']
assert routes and all(r.endswith(' proto 4') for r in routes), routes"
nmagent reconfigure >"$TMP/nm-reconf.out" 2>&1; rc=$?
check "renderer networkmanager: reconfigure exits 0, the keyfile is 0600 root-owned and names the ENI by MAC" bash -c "[ $rc = 0 ] &&
    [ \"\$(stat -c '%a %u' $KEYFILE)\" = '600 0' ] && grep -qx 'mac-address=52:54:00:00:02:0A' $KEYFILE &&
    grep -qx 'routing-rule1=priority 10001 from 10.0.2.10 table 10001' $KEYFILE && grep -qx 'route2_options=table=10001' $KEYFILE"
check "renderer networkmanager: the agent's rules and routes are static, the 234 ones gone" bash -c "
    ip -n $VM -4 rule | grep -q '^10001:.*from 10.0.2.10 lookup 10001 proto static' && ! ip -n $VM -4 rule | grep -q 'proto 234' &&
    ip -n $VM -4 route show table 10001 | grep -q '^default via 10.0.2.1 dev eth1 proto static' && ! ip -n $VM -4 route show table 10001 | grep -q 'proto 234'"
check "renderer networkmanager: eth1 reachable" lab_ping 10.0.2.10
nmagent diff --json >"$TMP/nm2.json" 2>/dev/null; rc=$?
check "renderer networkmanager: the second run finds nothing to do" python3 -c "
import json; d = json.load(open('$TMP/nm2.json'))
assert $rc == 0 and d['pending'] == 0 and d['changes'] == [], ($rc, d['changes'])"
chmod 0644 "$KEYFILE"
nmagent diff >"$TMP/nm-mode.out" 2>&1; rc=$?
check "renderer networkmanager: a keyfile made 0644 is a change diff shows" bash -c "[ $rc = 2 ] &&
    grep -qx 'old mode 0644' $TMP/nm-mode.out && grep -qx 'new mode 0600' $TMP/nm-mode.out"
nmagent reconfigure >/dev/null 2>&1; rc=$?
check "renderer networkmanager: reconfigure puts 0600 back, then nothing is left" bash -c "[ $rc = 0 ] &&
    [ \$(stat -c %a $KEYFILE) = 600 ] && ip netns exec $VM $BIN diff --root $NM --metadata-file $META --config /dev/null >/dev/null 2>&1"

# NetworkManager gives way to systemd-networkd (a change of what auto finds): the .network files
# written, the keyfiles removed, networkd's copies of the rules (static) are the keyfiles' ones.
rm -r "$NM/run/NetworkManager"
mkdir -p "$NM/run/systemd/netif" && echo 'OPER_STATE=routable' >"$NM/run/systemd/netif/state"
nmagent reconfigure >"$TMP/switch.out" 2>&1; rc=$?
check "renderer switch (networkmanager to networkd): the keyfiles removed, the .network files written" bash -c "[ $rc = 0 ] &&
    ! ls $NM/etc/NetworkManager/system-connections/eni-agent-* 2>/dev/null &&
    test -f $NM/etc/systemd/network/05-eni-agent-eth1.network || { cat $TMP/switch.out; exit 1; }"
check "renderer switch: one rule per IP (static), the routes the agent's own protocol, then nothing to do" bash -c "
    [ \$(ip -n $VM -4 rule | grep -c 'from 10.0.2.10 lookup') = 1 ] && ip -n $VM -4 rule | grep -q 'from 10.0.2.10 lookup 10001 proto static' &&
    ip -n $VM -4 route show table 10001 | grep -q '^default via 10.0.2.1 dev eth1 proto 234' &&
    ip netns exec $VM $BIN diff --root $NM --metadata-file $META --config /dev/null >/dev/null 2>&1"
check "renderer switch: eth1 reachable" lab_ping 10.0.2.10

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

#!/usr/bin/env bash
# IPv6 integration tests: the real eni-agent binary in the lab of lab.sh with IPv6 (lab_ipv6): a
# router that checks IPv6 sources strictly (nftables), router advertisements on eth1's link (AWS's
# shape: no gateway in the metadata), a gateway in the metadata for eth2 (Alibaba's shape).
# With the metadata simulator, the same through AWS's and Alibaba's metadata trees.
# Usage: Tests/integration/ipv6.sh PATH-TO-ENI-AGENT [PATH-TO-ENI-METADATA-SIM]
# Needs root, nft and radvd; without root every test is reported as skipped.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BIN=${1:?usage: ipv6.sh PATH-TO-ENI-AGENT}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
SIM=${2:-}
[ -z "$SIM" ] || SIM=$(cd "$(dirname "$SIM")" && pwd)/$(basename "$SIM")
SIM_PID= DAEMON_PID=

LAB=eni-i6-$$
# shellcheck source=lab.sh
. "$here/lab.sh"
# shellcheck source=checks.sh
. "$here/checks.sh"
TMP=$(mktemp -d /tmp/eni-agent-i6.XXXXXX)
cleanup() {
    local p
    for p in $DAEMON_PID $SIM_PID; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    lab_destroy; rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
skip_unless_root "IPv6 integration tests"

ROOT=$TMP/root
META=$TMP/instance.json
mkdir -p "$ROOT"
# meta PYTHON: edits the metadata file (`d` is the document, `e` its ENIs by interface).
meta() {
    python3 - "$META" "$1" <<'PY'
import json, sys
path, code = sys.argv[1], sys.argv[2]
d = json.load(open(path))
e = {"eth%d" % i: x for i, x in enumerate(d["enis"])}
exec(code)
json.dump(d, open(path, "w"), indent=2)
PY
}
cp "$repo/examples/instance.json" "$META"
meta '
e["eth0"].update(ipv6s=["2001:db8:1::10"], subnet6="2001:db8:1::/64", gateway6="2001:db8:1::1")
e["eth1"].update(ipv6s=["2001:DB8:2:0::11", "2001:db8:2::10"], subnet6="2001:db8:2::/64")
e["eth2"].update(ipv6s=["2001:db8:3::10"], subnet6="2001:db8:3::/64", gateway6="2001:db8:3::1")'
agent() { ip netns exec "$VM" "$BIN" "$@" --root "$ROOT" --metadata-file "$META" --config /dev/null --renderer ifcfg; }
rules6() { ip -n "$VM" -6 rule show; }
table6() { ip -n "$VM" -6 route show table "$1" 2>/dev/null; }
sysctl6() { ip netns exec "$VM" cat "/proc/sys/net/ipv6/conf/$1/$2"; }
addr6() { ip -n "$VM" -6 addr show dev "$1" scope global; }
export VM
export -f sysctl6 addr6 rules6 table6

{ lab_create && lab_ipv6 && lab_radvd 1; } || { not_ok "lab set-up" "$(cat "$TMP/radvd.log" 2>/dev/null)"; echo "$pass passed, $fail failed"; exit 1; }

# --- Before: an IPv6 address without policy routing is unreachable through the strict router ------
# As a naive script configures it: the address with its /64 on eth2 (no router advertisements on
# its link): the client's request arrives through eth2, the reply leaves by the main table's
# default route through eth0, and the router drops it for its source.
ip -n "$VM" link set eth1 up
ip -n "$VM" link set eth2 up
lab_wait_dad "$VM" || not_ok "the links' link-local addresses passed duplicate address detection"
ip -n "$VM" -6 addr add 2001:db8:3::10/64 dev eth2 nodad
check "client reaches the primary's IPv6 through eth0 before" lab_ping6 2001:db8:1::10
check "a secondary ENI's IPv6 address without policy routing is unreachable" bash -c "! ip netns exec $CLI ping -6 -n -q -c 2 -i 0.3 -W 1 2001:db8:3::10"
check "the router dropped the replies for their source (nftables counter)" bash -c "ip netns exec $RTR nft list chain inet eni-lab pre | grep -q 'counter packets [1-9]' || ip netns exec $RTR nft list chain inet eni-lab pre"
ip -n "$VM" -6 addr del 2001:db8:3::10/64 dev eth2
# eth1 came up with the kernel's defaults: radvd's answer to its solicitation gave the main table a
# default route through it.
deadline=$((SECONDS + 15))
until ip -n "$VM" -6 route show default table main | grep -q "dev eth1 proto ra" || [ $SECONDS -ge $deadline ]; do sleep 0.1; done
check "the advertisement gave the main table a default route through eth1 (accept_ra_defrtr still 1)" bash -c "ip -n $VM -6 route show default table main | grep -q 'dev eth1 proto ra'"
main6_before=$(ip -n "$VM" -6 route show default table main | grep -v "dev eth1")
eth0_before=$(ip -n "$VM" -6 -o addr show dev eth0 scope global)

# --- diff ---------------------------------------------------------------------------------------
agent diff >"$TMP/diff1.out" 2>&1; rc=$?
check "diff exits 2 when changes are pending" test "$rc" = 2
check "diff shows IPv6 changes as ip -6 commands, addresses in canonical form" bash -c "cat $TMP/diff1.out;
    grep -qx '+ ip -6 addr add 2001:db8:2::11/128 dev eth1' $TMP/diff1.out &&
    grep -qx '+ ip -6 rule add from 2001:db8:3::10 lookup 10002 priority 10002 protocol 234' $TMP/diff1.out &&
    grep -qx '+ ip -6 route add default via 2001:db8:3::1 dev eth2 table 10002 proto 234' $TMP/diff1.out &&
    grep -q '^+ ip -6 route add default via fe80::[0-9a-f:]* dev eth1 table 10001 proto 234$' $TMP/diff1.out &&
    grep -q '^- ip -6 route del default via fe80::[0-9a-f:]* dev eth1 table 254 proto 9' $TMP/diff1.out"
check "diff changes nothing of IPv6" bash -c "! ip -n $VM -6 rule | grep -q 10001"

# --- reconfigure --------------------------------------------------------------------------------
agent reconfigure >"$TMP/reconf1.out" 2>&1; rc=$?
check "reconfigure exits 0" test "$rc" = 0
for a in 2001:db8:2::10 2001:db8:2::11; do
    check "$a/128 on eth1, usable (not tentative)" bash -c "addr6 eth1 | grep -q 'inet6 $a/128 scope global' && ! addr6 eth1 | grep -A0 '$a/' | grep -q tentative"
    check "rule from $a lookup 10001 with protocol 234" bash -c "ip -n $VM -6 rule | grep -q '^10001:.*from $a lookup 10001 proto 234'"
done
check "table 10001 has eth1's on-link subnet and its advertised router as default" bash -c "
    ip -n $VM -6 route show table 10001 | grep -q '^2001:db8:2::/64 dev eth1 proto 234' &&
    ip -n $VM -6 route show table 10001 | grep -q '^default via fe80::[0-9a-f:]* dev eth1 proto 234'"
check "table 10002 has the metadata's gateway as default" bash -c "ip -n $VM -6 route show table 10002 | grep -q '^default via 2001:db8:3::1 dev eth2 proto 234'"
check "the main table's IPv6 default route is the image's, unchanged, and none goes through a secondary ENI" \
    bash -c "ip -n $VM -6 route show table main;[ \"\$(ip -n $VM -6 route show default table main)\" = \"$main6_before\" ] && ! ip -n $VM -6 route show table main | grep -v '^fe80::/64 ' | grep -q 'dev eth[12]'"
check "eth0's IPv6 is untouched" test "$(ip -n "$VM" -6 -o addr show dev eth0 scope global)" = "$eth0_before"
check "eth1's IPv6 settings: IPv6 on, no DAD, no default route or prefixes from advertisements" bash -c "
    [ \$(sysctl6 eth1 disable_ipv6) = 0 ] && [ \$(sysctl6 eth1 accept_dad) = 0 ] &&
    [ \$(sysctl6 eth1 accept_ra_defrtr) = 0 ] && [ \$(sysctl6 eth1 accept_ra_pinfo) = 0 ] && [ \$(sysctl6 eth0 accept_ra_defrtr) = 1 ]"
check "the sysctl.d file persists them" grep -qx "net.ipv6.conf.eth2.accept_ra_defrtr = 0" "$ROOT/etc/sysctl.d/90-eni-agent.conf"
for a in 2001:db8:1::10 2001:db8:2::10 2001:db8:2::11 2001:db8:3::10; do
    check "client reaches $a after reconfigure" lab_ping6 "$a"
done
check "client still reaches the IPv4 10.0.2.10 and 10.0.3.10" bash -c "$(declare -f lab_ping); CLI=$CLI; lab_ping 10.0.2.10 && lab_ping 10.0.3.10"

# --- The files replay: route6-/rule6- lines are `ip -6 route add` / `ip -6 rule add` arguments -----
check "ifcfg-eth1 sources to the intended IPv6 values" bash -c ". $ROOT/etc/sysconfig/network-scripts/ifcfg-eth1 &&
    [ \"\$IPV6INIT \$IPV6ADDR \$IPV6ADDR_SECONDARIES \$IPV6_DEFROUTE \$IPV6_AUTOCONF\" = 'yes 2001:db8:2::10/128 2001:db8:2::11/128 no no' ]"
check "route6-eth1 and rule6-eth1 replay the runtime state in a fresh namespace" bash -c "
    ip netns add $LAB-boot && trap 'ip netns del $LAB-boot' EXIT
    ip -n $LAB-boot link add eth1 type veth peer name p1 && ip -n $LAB-boot link set eth1 up && ip -n $LAB-boot link set p1 up
    grep -v '^#' $ROOT/etc/sysconfig/network-scripts/route6-eth1 | while read -r l; do ip -n $LAB-boot -6 route add \$l || exit 1; done
    grep -v '^#' $ROOT/etc/sysconfig/network-scripts/rule6-eth1 | while read -r l; do ip -n $LAB-boot -6 rule add \$l || exit 1; done
    [ \"\$(ip -n $LAB-boot -6 rule | grep -c 'lookup 10001 proto 234')\" = 2 ] &&
    [ \"\$(ip -n $LAB-boot -6 route show table 10001 proto 234 | wc -l)\" = 2 ]"
check "route-eth1 and rule-eth1 keep only IPv4" bash -c "! grep -v '^#' $ROOT/etc/sysconfig/network-scripts/route-eth1 | grep -q : && ! grep -v '^#' $ROOT/etc/sysconfig/network-scripts/rule-eth1 | grep -q :"

# --- Idempotent ----------------------------------------------------------------------------------
agent diff >"$TMP/diff2.out" 2>&1; rc=$?
check "diff right after reconfigure reports nothing (exit 0)" bash -c "[ $rc = 0 ] && [ ! -s $TMP/diff2.out ]"
agent reconfigure >"$TMP/reconf2.out" 2>&1
check "second reconfigure says nothing to do" grep -qx "nothing to do" "$TMP/reconf2.out"
agent status --json >"$TMP/status.json" 2>&1
check "status --json shows each ENI's IPv6 and its router" python3 -c "
import json
d = {e['interface']: e for e in json.load(open('$TMP/status.json'))['enis']}
assert d['eth1']['ipv6s'] == ['2001:db8:2::10', '2001:db8:2::11'], d['eth1']
assert d['eth1']['ipv6_gateway'].startswith('fe80::'), d['eth1']
assert d['eth2']['ipv6_gateway'] == '2001:db8:3::1' and 'ipv6s' not in d['eth0'], d"

# --- A link taken down loses its IPv6 addresses and router; reconfigure waits for it --------------
# accept_ra 0, as networkd and NetworkManager set it: the kernel sends no solicitation of its own.
# The router comes from the agent's solicitation or from radvd's first advertisements once the
# link's carrier is back (radvd sends those too): this check cannot tell which. The daemon's
# hot-attach below is the one that needs the solicitation (checked to fail without it).
ip -n "$VM" link set eth1 down
ip -n "$VM" -6 neigh flush dev eth1 2>/dev/null
# The agent's route in table 10001 would name the router still: gone too, it is learned afresh.
ip -n "$VM" -6 route flush table 10001 2>/dev/null
ip netns exec "$VM" sh -c 'echo 0 > /proc/sys/net/ipv6/conf/eth1/accept_ra'
agent reconfigure >"$TMP/reconf3.out" 2>&1; rc=$?
check "after eth1 went down: one reconfigure brings it up, waits for its router (learned afresh), and configures its IPv6" \
    bash -c "[ $rc = 0 ] && ip -n $VM -6 route show table 10001 | grep -q '^default via fe80::' && addr6 eth1 | grep -q 2001:db8:2::10/128"
check "accept_ra is left as it was" test "$(sysctl6 eth1 accept_ra)" = 0
check "client reaches 2001:db8:2::10 again" lab_ping6 2001:db8:2::10

# --- An IPv6 address moved, one added --------------------------------------------------------------
meta 'e["eth1"]["ipv6s"] = ["2001:db8:2::10", "2001:db8:2::12"]'
agent reconfigure >"$TMP/reconf4.out" 2>&1; rc=$?
check "reconfigure after an IPv6 address changed exits 0" test "$rc" = 0
check "unassigned 2001:db8:2::11: address and rule removed" bash -c "! addr6 eth1 | grep -q '2001:db8:2::11/' && ! rules6 | grep -q 'from 2001:db8:2::11 '"
check "client reaches the new 2001:db8:2::12" lab_ping6 2001:db8:2::12

# --- An IPv6 value in error: eth2's IPv6 left as it is, its IPv4 goes on ----------------------------
meta 'e["eth2"]["ipv6s"] = ["fe80::1%eth2"]; e["eth2"]["secondary_ips"] = ["10.0.3.11", "10.0.3.12"]'
agent reconfigure >"$TMP/reconf5.out" 2>&1; rc=$?
check "a bad IPv6 value makes reconfigure exit 1 and names the value" bash -c "[ $rc = 1 ] && grep -q 'fe80::1%eth2' $TMP/reconf5.out"
check "eth2's IPv4 goes on: 10.0.3.12 added" bash -c "ip -n $VM -4 addr show dev eth2 | grep -q 10.0.3.12/"
check "eth2's IPv6 is left as it is: address, rule, routes, persisted settings" bash -c "
    addr6 eth2 | grep -q 2001:db8:3::10/128 && rules6 | grep -q 'from 2001:db8:3::10 lookup 10002' &&
    table6 10002 | grep -q '^default via 2001:db8:3::1' && grep -qx 'net.ipv6.conf.eth2.accept_dad = 0' $ROOT/etc/sysctl.d/90-eni-agent.conf"
check "client still reaches 2001:db8:3::10" lab_ping6 2001:db8:3::10

# --- IPv6 taken off eth1: what the agent added goes, nothing else ------------------------------------
ip -n "$VM" -6 addr add 2001:db8:99::1/64 dev eth1 nodad
meta 'for k in ("ipv6s", "subnet6"): e["eth1"].pop(k)
e["eth2"]["ipv6s"] = ["2001:db8:3::10"]'
agent reconfigure >"$TMP/reconf6.out" 2>&1; rc=$?
check "reconfigure after eth1's IPv6 was removed exits 0" test "$rc" = 0
check "eth1's IPv6 addresses, rules and table routes are gone" bash -c "
    ! addr6 eth1 | grep -q 2001:db8:2:: && ! rules6 | grep -q 'lookup 10001' && [ -z \"\$(table6 10001)\" ]"
check "an IPv6 address the agent did not add stays" bash -c "addr6 eth1 | grep -q 2001:db8:99::1/64"
check "eth1's IPv4 is unchanged" bash -c "ip -n $VM -4 rule | grep -q 'from 10.0.2.10 lookup 10001'"

# --- Detach eth2 ----------------------------------------------------------------------------------
lab_unplug 2
meta 'd["enis"] = [x for x in d["enis"] if x["mac"] != "52:54:00:00:03:0a"]'
agent reconfigure >"$TMP/reconf7.out" 2>&1; rc=$?
check "after the detach: no IPv6 rule or route of table 10002 is left" bash -c "[ $rc = 0 ] && ! rules6 | grep -q 'lookup 10002' && [ -z \"\$(table6 10002)\" ]"
agent reconfigure >"$TMP/reconf8.out" 2>&1
check "then nothing to do" grep -qx "nothing to do" "$TMP/reconf8.out"

# --- An IPv6-only ENI: no IPv4 in the metadata (an IPv6-only subnet) ------------------------------
# eth4 on the router's r4 (2001:db8:5::1/64, advertised by radvd): its IPv6 alone, nothing IPv4.
{ lab_prepare 4 52:54:00:00:05:0a && ip -n "$RTR" -6 addr add 2001:db8:5::1/64 dev r4 nodad && lab_radvd 1 4 && lab_plug 4; } ||
    not_ok "eth4 (IPv6-only) attached"
rp4_before=$(ip netns exec "$VM" cat /proc/sys/net/ipv4/conf/eth4/rp_filter)
meta 'd["enis"].append({"mac": "52:54:00:00:05:0a", "ipv6s": ["2001:db8:5::10", "2001:db8:5::11"], "subnet6": "2001:db8:5::/64"})'
agent reconfigure >"$TMP/reconf9.out" 2>&1; rc=$?
check "IPv6-only eth4: reconfigure exits 0" bash -c "cat $TMP/reconf9.out; [ $rc = 0 ]"
check "IPv6-only eth4: its two /128s, its rules, its table's on-link subnet and advertised router" bash -c "
    addr6 eth4 | grep -q 'inet6 2001:db8:5::10/128' && addr6 eth4 | grep -q 'inet6 2001:db8:5::11/128' &&
    [ \$(rules6 | grep -c 'lookup 10004 proto 234') = 2 ] && table6 10004 | grep -q '^2001:db8:5::/64 dev eth4 proto 234' &&
    table6 10004 | grep -q '^default via fe80::[0-9a-f:]* dev eth4 proto 234'"
check "IPv6-only eth4: nothing IPv4 (no address, rule or route of table 10004; rp_filter as it was)" bash -c "
    [ -z \"\$(ip -n $VM -4 addr show dev eth4)\" ] && ! ip -n $VM -4 rule | grep -q 'lookup 10004' &&
    [ -z \"\$(ip -n $VM -4 route show table 10004 2>/dev/null)\" ] && [ \$(ip netns exec $VM cat /proc/sys/net/ipv4/conf/eth4/rp_filter) = $rp4_before ]"
for a in 2001:db8:5::10 2001:db8:5::11; do
    check "client reaches $a on the IPv6-only ENI through the strict router" lab_ping6 "$a"
done
check "IPv6-only eth4: ifcfg-eth4 without IPADDR, route6-/rule6-eth4, no route-/rule-eth4" bash -c "
    d=$ROOT/etc/sysconfig/network-scripts; ! grep -q '^IPADDR' \$d/ifcfg-eth4 && grep -qx 'IPV6ADDR=2001:db8:5::10/128' \$d/ifcfg-eth4 &&
    [ -f \$d/route6-eth4 ] && [ -f \$d/rule6-eth4 ] && [ ! -e \$d/route-eth4 ] && [ ! -e \$d/rule-eth4 ]"
agent status --json >"$TMP/status4.json" 2>&1
check "status --json: eth4 configured, no IPv4, its IPv6" python3 -c "
import json
d = {e['interface']: e for e in json.load(open('$TMP/status4.json'))['enis']}
assert d['eth4']['state'] == 'configured' and d['eth4']['ips'] == [] and d['eth4']['ipv6s'] == ['2001:db8:5::10', '2001:db8:5::11'], d['eth4']"
agent reconfigure >"$TMP/reconf10.out" 2>&1
check "IPv6-only eth4: then nothing to do" grep -qx "nothing to do" "$TMP/reconf10.out"

# --- Through the clouds' metadata trees (the simulator on the VM's loopback) -----------------------
if [ -n "$SIM" ]; then
    # sim_scenario CLOUD: the metadata file's description, served in CLOUD's shape. Alibaba's and
    # Tencent's ENIs always have IPv4: the IPv6-only eth4 is not in their trees (unlisted, so left
    # alone). Tencent's tree offers the IPv6 leaves it does not document (tencent_ipv6).
    sim_scenario() { python3 -c "import json,sys; d=json.load(open('$META')); d['cloud']=sys.argv[1]
if d['cloud'] != 'aws': d['enis'] = [e for e in d['enis'] if 'primary_ip' in e]
if d['cloud'] == 'tencent': d['tencent_ipv6'] = True
print(json.dumps(d))" "$1"; }
    meta 'e["eth1"].update(ipv6s=["2001:db8:2::20", "2001:db8:2::21"], subnet6="2001:db8:2::/64", gateway6="2001:db8:2::1")'
    sim_scenario aws >"$TMP/scenario.json"
    ip netns exec "$VM" "$SIM" --scenario "$TMP/scenario.json" --listen 127.0.0.1:8654 >"$TMP/sim.out" 2>&1 &
    SIM_PID=$!
    deadline=$((SECONDS + 10))
    until grep -q "^listening on" "$TMP/sim.out" || [ $SECONDS -ge $deadline ]; do sleep 0.05; done
    cloud_agent() { local p=$1; shift; ip netns exec "$VM" "$BIN" "$@" --root "$ROOT" --provider "$p" --metadata-url http://127.0.0.1:8654 --config /dev/null --renderer ifcfg; }
    cloud_agent aws reconfigure >"$TMP/aws.out" 2>&1; rc=$?
    check "AWS's tree (ipv6s, subnet-ipv6-cidr-blocks; no gateway leaf): eth1's IPv6 through the advertised router" bash -c "cat $TMP/aws.out; [ $rc = 0 ] &&
        ip -n $VM -6 rule | grep -q 'from 2001:db8:2::21 lookup 10001 proto 234' && table6 10001 | grep -q '^default via fe80::'"
    check "client reaches 2001:db8:2::21 (AWS's tree)" lab_ping6 2001:db8:2::21
    check "AWS's tree: IPv6-only eth4 (local-ipv4s and subnet-ipv4-cidr-block 404, ipv6s listed) as from the file: unchanged" \
        bash -c "! grep -q eth4 $TMP/aws.out && [ \$(rules6 | grep -c 'lookup 10004 proto 234') = 2 ]"
    sim_scenario aliyun | ip netns exec "$VM" curl -sf -X PUT --data-binary @- http://127.0.0.1:8654/_sim/scenario >/dev/null ||
        not_ok "the simulator takes Alibaba's scenario"
    cloud_agent aliyun reconfigure >"$TMP/aliyun.out" 2>&1; rc=$?
    check "Alibaba's tree (ipv6s as [a,b], ipv6-gateway): eth1's default route goes to the metadata's gateway" bash -c "cat $TMP/aliyun.out; [ $rc = 0 ] &&
        table6 10001 | grep -q '^default via 2001:db8:2::1 dev eth1 proto 234' && [ \$(table6 10001 | grep -c '^default') = 1 ]"
    check "client reaches 2001:db8:2::20 (Alibaba's tree)" lab_ping6 2001:db8:2::20
    sim_scenario tencent | ip netns exec "$VM" curl -sf -X PUT --data-binary @- http://127.0.0.1:8654/_sim/scenario >/dev/null ||
        not_ok "the simulator takes Tencent's scenario"
    cloud_agent tencent reconfigure >"$TMP/tencent.out" 2>&1; rc=$?
    cloud_agent tencent status >"$TMP/tencent-status.out" 2>&1
    check "Tencent's tree offering IPv6 leaves it does not document: picked up, eth1's IPv6 kept as it was, no note" bash -c "cat $TMP/tencent.out; [ $rc = 0 ] &&
        ! grep -q ' -6 ' $TMP/tencent.out && [ \$(rules6 | grep -c 'lookup 10001 proto 234') = 2 ] && ! grep -q '^ipv6:' $TMP/tencent-status.out"

    # --- The daemon: a restore, and a dual-stack hot-attach whose router it solicits ---------------
    # New links get accept_ra 0 (as networkd and NetworkManager set it): the kernel solicits no
    # router on eth3, and radvd advertises unsolicited only every 30 to 100 s.
    sim_scenario aws | ip netns exec "$VM" curl -sf -X PUT --data-binary @- http://127.0.0.1:8654/_sim/scenario >/dev/null
    ip netns exec "$VM" sh -c 'echo 0 > /proc/sys/net/ipv6/conf/default/accept_ra'
    LOG=$TMP/daemon.log
    ip netns exec "$VM" "$BIN" daemon --root "$ROOT" --provider aws --metadata-url http://127.0.0.1:8654 --config /dev/null \
        --renderer ifcfg --resync-interval 3600 --log-level debug >"$LOG" 2>&1 &
    DAEMON_PID=$!
    eventually() { local limit=$1 i; shift; for i in $(seq $((limit * 10))); do "$@" && return 0; sleep 0.1; done; "$@"; }
    has_rule6() { ip -n "$VM" -6 rule | grep -q "from $1 lookup $2 proto 234"; }
    check "daemon: started, eth1's IPv6 as it was" eventually 10 has_rule6 2001:db8:2::21 10001
    ip -n "$VM" -6 rule del from 2001:db8:2::21 lookup 10001 priority 10001
    check "daemon: an IPv6 rule another program deleted is back" eventually 5 has_rule6 2001:db8:2::21 10001
    meta 'd["enis"].append({"mac": "52:54:00:00:03:0a", "primary_ip": "10.0.3.10", "subnet": "10.0.3.0/24", "gateway": "10.0.3.1",
                            "ipv6s": ["2001:db8:3::30"], "subnet6": "2001:db8:3::/64"})'
    # Its IPv6 subnet leaf lags the others (404 for the first three requests): the daemon polls
    # on for it after configuring eth3's IPv4 (the resync is an hour away).
    sim_scenario aws | python3 -c "import json,sys; d=json.load(sys.stdin)
d['faults'] = [{'path': '52:54:00:00:03:0a/subnet-ipv6-cidr-blocks', 'status': 404, 'times': 3}]
print(json.dumps(d))" | ip netns exec "$VM" curl -sf -X PUT --data-binary @- http://127.0.0.1:8654/_sim/scenario >/dev/null
    { lab_prepare 3 52:54:00:00:03:0a && ip -n "$RTR" -6 addr add 2001:db8:3::1/64 dev r3 nodad && lab_radvd 1 3 4 && lab_plug 3; } ||
        not_ok "daemon: eth3 hot-attached"
    check "daemon: hot-attached eth3's IPv6, its subnet leaf polled for past its 404s, its router solicited (accept_ra 0) and learned" \
        eventually 15 bash -c "ip -n $VM -6 route show table 10003 | grep -q '^default via fe80::' && ip -n $VM -6 rule | grep -q 'from 2001:db8:3::30 lookup 10003'"
    check "client reaches 2001:db8:3::30 (hot-attached)" lab_ping6 2001:db8:3::30
    check "daemon: the log says eth3's IPv6 router was announced" grep -q "IPv6 router fe80::[0-9a-f:]* announced on eth3" "$LOG"
    kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"; rc=$?; DAEMON_PID=
    check "daemon: SIGTERM, exit 0" test "$rc" = 0
    [ "$fail" = 0 ] || { echo "--- daemon log"; cat "$LOG"; }
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

# shellcheck shell=bash
# A throwaway lab of network namespaces, shared by the integration tests and the demo:
#
#   client ($LAB-cli)          router ($LAB-rtr, strict rp_filter)          VM ($LAB-vm)
#   c0 192.168.100.10 ---- rc 192.168.100.1
#                              r0 10.0.1.1/24 ------------------------------ eth0 10.0.1.10/24 (primary ENI)
#                              r1 10.0.2.1/24 ------------------------------ eth1 (secondary ENI, no address)
#                              r2 10.0.3.1/24 ------------------------------ eth2 (secondary ENI, no address)
#
# The VM starts as a cloud image boots: eth0 with its address and the default route via
# 10.0.1.1; all.rp_filter=1 as RHEL-family images set it. The router drops packets whose source
# does not belong behind the interface they arrive on, as a VPC does. MACs match
# examples/instance.json. Nothing outside these namespaces is touched.

LAB=${LAB:-eni-$$}
VM=$LAB-vm RTR=$LAB-rtr CLI=$LAB-cli

lab_create() {
    ip netns add "$VM" && ip netns add "$RTR" && ip netns add "$CLI" || return 1
    local n
    for n in "$VM" "$RTR" "$CLI"; do ip -n "$n" link set lo up; done
    ip -n "$VM" link add eth0 address 52:54:00:00:01:0a type veth peer name r0 netns "$RTR"
    ip -n "$VM" link add eth1 address 52:54:00:00:02:0a type veth peer name r1 netns "$RTR"
    ip -n "$VM" link add eth2 address 52:54:00:00:03:0a type veth peer name r2 netns "$RTR"
    ip -n "$CLI" link add c0 type veth peer name rc netns "$RTR"
    ip netns exec "$RTR" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward; echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter; echo 1 > /proc/sys/net/ipv4/conf/default/rp_filter'
    for n in r0 r1 r2 rc; do
        ip netns exec "$RTR" sh -c "echo 1 > /proc/sys/net/ipv4/conf/$n/rp_filter"
        ip -n "$RTR" link set "$n" up
    done
    ip -n "$RTR" addr add 10.0.1.1/24 dev r0
    ip -n "$RTR" addr add 10.0.2.1/24 dev r1
    ip -n "$RTR" addr add 10.0.3.1/24 dev r2
    ip -n "$RTR" addr add 192.168.100.1/24 dev rc
    ip -n "$CLI" link set c0 up
    ip -n "$CLI" addr add 192.168.100.10/24 dev c0
    ip -n "$CLI" route add default via 192.168.100.1
    ip netns exec "$VM" sh -c 'echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter; echo 1 > /proc/sys/net/ipv4/conf/default/rp_filter; echo 1 > /proc/sys/net/ipv4/conf/eth0/rp_filter'
    ip -n "$VM" link set eth0 up
    ip -n "$VM" addr add 10.0.1.10/24 dev eth0
    ip -n "$VM" route add default via 10.0.1.1 dev eth0
}

lab_destroy() {
    local n
    if [ -n "${LAB_RADVD:-}" ]; then kill "$LAB_RADVD" 2>/dev/null; wait "$LAB_RADVD" 2>/dev/null; LAB_RADVD=; fi
    for n in "$VM" "$RTR" "$CLI" "$LAB-stage"; do ip netns del "$n" 2>/dev/null; done
    return 0
}

# lab_prepare N MAC: a secondary ENI ethN with MAC, cabled to the router's rN (10.0.N.1/24), made
# in a staging namespace; lab_plug N... moves the ENIs into the VM at once (one `ip -batch`), as a
# hot-attach looks to the guest; lab_attach N MAC does both for one. lab_unplug N deletes ethN
# (and its router end), as a detach does.
lab_prepare() {
    local n=$1 mac=$2
    [ -e "/run/netns/$LAB-stage" ] || ip netns add "$LAB-stage" || return 1
    ip -n "$LAB-stage" link add "eth$n" address "$mac" type veth peer name "r$n" netns "$RTR" || return 1
    ip netns exec "$RTR" sh -c "echo 1 > /proc/sys/net/ipv4/conf/r$n/rp_filter" &&
        ip -n "$RTR" addr add "10.0.$n.1/24" dev "r$n" && ip -n "$RTR" link set "r$n" up
}
lab_plug() {
    local n batch=""
    for n in "$@"; do batch+="link set eth$n netns $VM"$'\n'; done
    printf '%s' "$batch" | ip -n "$LAB-stage" -batch -
}
lab_attach() { lab_prepare "$1" "$2" && lab_plug "$1"; }
lab_unplug() { ip -n "$VM" link del "eth$1"; }

# Can the client reach IP? Up to three pings 0.2 s apart, any reply counts: the router may hold a
# FAILED neighbour entry from an earlier "unreachable" check, which drops the first packet.
lab_ping() { ip netns exec "$CLI" ping -n -q -c 3 -i 0.2 -W 1 "$1" >/dev/null 2>&1; }

# lab_ipv6: IPv6 on the lab, as the clouds run it. The router forwards IPv6 and checks sources
# strictly (Linux has no IPv6 rp_filter: nftables drops a packet whose source is not routed back
# out of the interface it came in on, as a VPC does); rN 2001:db8:N+1::1/64 (r0 2001:db8:1::1,
# r1 2001:db8:2::1, r2 2001:db8:3::1, as their IPv4 subnets are numbered), rc 2001:db8:100::1/64;
# the client 2001:db8:100::10. The VM's eth0 has 2001:db8:1::10/64 and a default route via
# 2001:db8:1::1, as the image sets them. lab_radvd N...: router advertisements on rN (AWS's shape:
# the ENI learns its router from them), by radvd, stopped by lab_destroy.
lab_ipv6() {
    ip netns exec "$RTR" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/forwarding' || return 1
    ip -n "$RTR" -6 addr add 2001:db8:1::1/64 dev r0 nodad && ip -n "$RTR" -6 addr add 2001:db8:100::1/64 dev rc nodad || return 1
    local n
    for n in 1 2; do ip -n "$RTR" -6 addr add "2001:db8:$((n + 1))::1/64" dev "r$n" nodad || return 1; done
    printf '%s\n' 'table inet eni-lab {' \
        '  chain pre { type filter hook prerouting priority 0; policy accept; meta nfproto ipv6 fib saddr . iif oif missing counter drop; }' \
        '}' | ip netns exec "$RTR" nft -f - || return 1
    ip -n "$CLI" -6 addr add 2001:db8:100::10/64 dev c0 nodad && ip -n "$CLI" -6 route add default via 2001:db8:100::1 || return 1
    ip -n "$VM" -6 addr add 2001:db8:1::10/64 dev eth0 nodad && ip -n "$VM" -6 route add default via 2001:db8:1::1 dev eth0 || return 1
    lab_wait_dad "$VM" "$RTR" "$CLI"
}

# lab_wait_dad NS...: until no address in these namespaces is tentative (at most 10 s). A link's
# own link-local address goes through duplicate address detection for a second or so after it
# comes up, and until then the link does not answer neighbour solicitations.
lab_wait_dad() {
    local deadline=$((SECONDS + 10)) n
    for n in "$@"; do
        while ip -n "$n" -6 addr show tentative | grep -q inet6; do
            [ $SECONDS -lt $deadline ] || return 1
            sleep 0.1
        done
    done
}

lab_radvd() {
    local conf=$TMP/radvd.conf n
    if [ -n "${LAB_RADVD:-}" ]; then kill "$LAB_RADVD" 2>/dev/null; wait "$LAB_RADVD" 2>/dev/null; LAB_RADVD=; fi
    : >"$conf"
    for n in "$@"; do
        printf 'interface r%s { AdvSendAdvert on; MinRtrAdvInterval 30; MaxRtrAdvInterval 100; AdvManagedFlag on;\n  prefix 2001:db8:%s::/64 { AdvOnLink on; AdvAutonomous off; };\n};\n' "$n" "$((n + 1))" >>"$conf"
    done
    ip netns exec "$RTR" radvd -C "$conf" -p "$TMP/radvd.pid" -u root -n -m stderr 2>"$TMP/radvd.log" &
    LAB_RADVD=$!
}

# Can the client reach IPv6 address IP? As lab_ping.
lab_ping6() { ip netns exec "$CLI" ping -6 -n -q -c 3 -i 0.2 -W 1 "$1" >/dev/null 2>&1; }

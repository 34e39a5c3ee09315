#!/usr/bin/env bash
# The VM lab, once per cloud: a guest with that cloud's DMI identity (QEMU's -smbios) and the
# metadata at that cloud's own address, the agent with its packaged config (provider "auto",
# renderer "auto": networkd). Each boots with the primary and one secondary ENI, then one is hot-plugged.
#   - aws: `metadata_url` by the endpoint's root, as cloud-init and the AWS SDKs spell it;
#   - aliyun: the metadata answers 404 to the first MAC listings after boot: READY=1 (and so
#     network-online.target) waits until a pass succeeded;
#   - tencent: the guest cannot resolve metadata.tencentyun.com (no DNS yet): the address first.
# On AWS and Alibaba the hot-plugged ENI is dual-stack, the VPC routes IPv6 and checks its sources
# strictly; on AWS the router announces itself (radvd), on Alibaba the metadata names it.
# Usage: Tests/vm/clouds.sh DEB ENI-METADATA-SIM; needs root and QEMU (else skipped). See README.md.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../integration/checks.sh
. "$repo/Tests/integration/checks.sh"
usage="usage: Tests/vm/clouds.sh DEB ENI-METADATA-SIM"
VMLAB=enivc-$$
# shellcheck source=lib.sh
. "$here/lib.sh"
vm_require "VM lab (clouds)"
DEB=$(abs "${1:?$usage}")
SIM=$(abs "${2:?$usage}")
TOP=$(mktemp -d /tmp/eni-vmc.XXXXXX)
TMP=$TOP
LAST=$repo/.build-vm/last-clouds
cleanup() {
    vm_stop
    vpc_stop_daemons
    vpc_destroy
    rm -rf "$LAST" && mkdir -p "$LAST" && cp -r "$TOP"/*/ "$LAST/" 2>/dev/null
    find "$LAST" -name '*.raw' -delete 2>/dev/null
    if ! grep -q " $TOP/" /proc/self/mounts; then rm -rf "$TOP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BASE=$(bash "$here/image.sh" "$repo/.build-vm" "${VM_VARIANT:-networkd}") || { not_ok "image: base root"; echo "$pass passed, $fail failed"; exit 1; }

# guest CLOUD: boots a guest of CLOUD with ENIs 1 and 2 ($GUEST_CONFIG appended to the agent's
# config; $GUEST_SETUP run in its root before the disk is made; $BOOT_FAULTS set in the simulator
# before QEMU starts; with CATCH_ALL=1 the image's catch-all DHCP .network and the VPC's DHCP), in a
# scratch directory of its own.
guest() {
    local cloud=$1
    TMP=$TOP/$cloud
    mkdir -p "$TMP"
    guest_root "$BASE" "$TMP/root" "$DEB" || return 1
    if [ -n "${GUEST_SETUP:-}" ]; then (cd "$TMP/root" && sh -c "$GUEST_SETUP") || return 1; fi
    [ -z "${CATCH_ALL:-}" ] || catch_all_network "$TMP/root" || return 1
    guest_disk "$TMP/root" "$TMP/disk.raw" && rm -rf "$TMP/root" || return 1
    vpc_create && vpc_tap 1 2 || return 1
    [ -z "${CATCH_ALL:-}" ] || vpc_dhcp || return 1
    if [ -n "${IPV6_CLOUD:-}" ]; then vpc_ipv6 1 2 && { [ "$cloud" != aws ] || vpc_radvd 1; } || return 1; fi
    scenario "$cloud" 2 >"$TMP/scenario.json"
    sim_start "$SIM" "$cloud" "$TMP/scenario.json" || return 1
    [ -z "${BOOT_FAULTS:-}" ] || sim_faults "$BOOT_FAULTS" || return 1
    vm_start "$TMP/disk.raw" "$BASE.vmlinuz" "$BASE.initrd" "$cloud" 1 2 || return 1
    $VMCTL --qga "$TMP/qga.sock" --timeout 300 ping
}
# done_with_guest: stops the guest, the simulator and the VPC.
done_with_guest() {
    vm_stop
    vpc_stop_daemons
    vpc_destroy
    rm -f "$TMP/ipv6.vpc"
}

for cloud in ${VM_CLOUDS:-aws aliyun tencent}; do
    t=$(now)
    address=$(cloud_address "$cloud")
    GUEST_CONFIG= GUEST_SETUP= BOOT_FAULTS= CATCH_ALL= IPV6_CLOUD=
    NIC_ADDR=()
    case "$cloud" in
    # AWS's guest is an image with a catch-all DHCP .network (Name=en* eth*): networkd runs DHCP on
    # every ENI until it reads the agent's file.
    aws) GUEST_CONFIG="metadata_url = \"http://$address\"" CATCH_ALL=1 IPV6_CLOUD=1 ;;
    aliyun) BOOT_FAULTS='[{"path": "/network/interfaces/macs/$", "status": 404, "times": 4}]' IPV6_CLOUD=1 ;;
    tencent) GUEST_SETUP="sed -i '/metadata.tencentyun.com/d' etc/hosts" ;;
    esac
    if ! guest "$cloud"; then
        not_ok "$cloud: the guest boots" "$(tail -20 "$TMP/console.log" 2>/dev/null)" "$(cat "$TMP/sim.out" "$TMP/qemu.out" 2>/dev/null)"
        done_with_guest
        continue
    fi
    ok "$cloud: the guest boots"
    if eventually 240 gx "test -s /run/eni-vm/online.txt"; then
        gx "cat /run/eni-vm/online.txt" >"$TMP/online.txt"
        check "$cloud: at network-online.target ENI 2's IPs have their addresses and rules" bash -c \
            "grep -q 'inet 10.0.2.10/24' $TMP/online.txt && grep -Eq 'from 10.0.2.11 lookup [0-9]* proto (234|static)' $TMP/online.txt || { cat $TMP/online.txt; exit 1; }"
    else
        not_ok "$cloud: network-online.target reached (the recording unit ran)"
    fi
    check "$cloud: ENI 2 configured" eventually 60 configured 2
    gx "eni-agent status" >"$TMP/status.txt" 2>&1
    sed 's/^/#   /' "$TMP/status.txt"
    case "$cloud" in
    aws) why='DMI sys_vendor "Amazon EC2"' ;;
    aliyun) why='DMI product_name "Alibaba Cloud ECS"' ;;
    tencent) why='DMI sys_vendor "Tencent Cloud"' ;;
    esac
    check "$cloud: status says auto chose $cloud at http://$address/ by DMI" \
        grep -qxF "provider: $cloud (http://$address/latest/meta-data/), chosen by $why" "$TMP/status.txt"
    if [ "$cloud" = tencent ]; then
        check "tencent: status says IPv6 is not configured: the metadata has no IPv6 leaf" \
            grep -qxF "ipv6: Tencent Cloud's metadata has no per-ENI IPv6 leaf; IPv6 is not configured" "$TMP/status.txt"
    fi
    check "$cloud: status says the guest's systemd-networkd reads the files, and why" \
        grep -qxF "renderer: networkd (auto: systemd-networkd is running (/run/systemd/netif/state exists))" "$TMP/status.txt"
    # The main table's IPv6 default routes, without the lifetime that counts down.
    main6() { gx "ip -6 route show default table main | sed 's/ expires [0-9]*sec//'"; }
    main6_before=$(main6)
    sim_scenario "$(IPV6=${IPV6_CLOUD:+3} scenario "$cloud" 2 3)"
    vpc_tap 3 || not_ok "$cloud: tap3"
    if [ -n "$IPV6_CLOUD" ]; then vpc_ipv6 3 && { [ "$cloud" != aws ] || vpc_radvd 1 3; } || not_ok "$cloud: IPv6 on tap3"; fi
    $VMCTL --qmp "$TMP/qmp.sock" plug eni3 tap3 "$(mac 3)" || not_ok "$cloud: device_add eni3"
    check "$cloud: hot-plugged ENI 3 configured" eventually 60 configured 3
    check "$cloud: every IP answers the client" eventually 20 reachable 10.0.1.10 10.0.1.11 10.0.2.10 10.0.2.11 10.0.3.10 10.0.3.11
    if [ -n "$IPV6_CLOUD" ]; then
        check "$cloud: hot-plugged ENI 3's IPv6 configured (its router $([ "$cloud" = aws ] && echo "from its advertisements" || echo "from the metadata"))" \
            eventually 60 configured6 3
        check "$cloud: ENI 3's IPv6 addresses answer the client through the strict router" eventually 20 reachable6 2001:db8:3::10 2001:db8:3::11
        same_main6() { [ "$(main6)" = "$main6_before" ] || { echo "before: $main6_before"; echo "now: $(main6)"; return 1; }; }
        check "$cloud: the main table's IPv6 default route is as it was" eventually 10 same_main6
        echo "#   main table IPv6 default: ${main6_before:-none}"
        gx "eni-agent diff >/run/eni-vm/diff6.txt 2>&1; echo \$? >/run/eni-vm/diff6.rc"
        check "$cloud: then eni-agent diff wants nothing" gx \
            "[ \$(cat /run/eni-vm/diff6.rc) = 0 ] && [ ! -s /run/eni-vm/diff6.txt ] || { cat /run/eni-vm/diff6.txt; exit 1; }"
    fi
    NICS="2 3"
    if [ "$cloud" = aws ]; then
        # An IPv6-only ENI (AWS: local-ipv4s and subnet-ipv4-cidr-block 404): its IPv6 alone. The
        # image's catch-all takes it first with DHCP (the VPC's dnsmasq answers its MAC).
        NICS="2 3 4"
        sim_scenario "$(IPV6=3 IPV6_ONLY=4 scenario aws 2 3 4)"
        { vpc_tap 4 && vpc_ipv6 4 && vpc_radvd 1 3 4; } || not_ok "aws: tap4 with IPv6"
        $VMCTL --qmp "$TMP/qmp.sock" plug eni4 tap4 "$(mac 4)" || not_ok "aws: device_add eni4"
        check "aws: hot-plugged IPv6-only ENI 4: its IPv6 configured (its router from its advertisements)" eventually 60 configured6 4
        check "aws: ENI 4's IPv6 addresses answer the client through the strict router" eventually 20 reachable6 2001:db8:4::10 2001:db8:4::11
        no_ipv4() { gx "i=\$(eni-vm-check iface $(mac "$1")); [ -z \"\$(ip -4 -o addr show dev \$i)\" ] || { ip -4 addr show dev \$i; exit 1; }"; }
        check "aws: no IPv4 address on ENI 4 (the catch-all's DHCP lease went with networkd's switch to the agent's file)" eventually 20 no_ipv4 4
    fi
    if [ -n "$CATCH_ALL" ]; then
        # The image's catch-all ran DHCP on ENIs 2 and 3: networkd was told to read the agent's files.
        for n in $NICS; do
            check "$cloud (catch-all DHCP): networkd runs the agent's file on ENI $n, not the catch-all" eventually 20 gx \
                "i=\$(eni-vm-check iface $(mac "$n")); networkctl status \$i --no-pager | grep -q \"Network File: /etc/systemd/network/05-eni-agent-\$i.network\""
        done
        clean() { one_default && configured 2 && configured 3; }
        check "$cloud (catch-all DHCP): one default route in the main table, no DHCP address left" eventually 20 clean
        # networkd took ENIs 2 and 3 from its catch-all without marking a link failed: on a failed
        # link it stops its DHCP and router advertisement clients (the primary's too: systemd 252
        # failed it when the takeover made it loop, see Agent.handOverToNetworkd).
        gx "networkctl list --no-pager" >"$TMP/networkctl.txt"
        check "$cloud (catch-all DHCP): networkd marks no link failed, the primary's neither" bash -c \
            "! grep -q ' failed *\$' $TMP/networkctl.txt || { cat $TMP/networkctl.txt; exit 1; }"
        sed 's/^/#   /' "$TMP/networkctl.txt"
        gx "journalctl -b -u systemd-networkd -o cat --no-pager | grep -iE 'fail|error|warn|out of range' | tail -15" | sed 's/^/#   networkd: /'
        # ... and stays so through what networkd, the agent and a reboot do.
        settled() {
            configured 2 && configured 3 && configured6 3 && { [ "$NICS" = "2 3" ] || { configured6 4 && no_ipv4 4; }; } &&
                one_default && gx "eni-vm-check consistent"
        }
        gx "systemctl restart systemd-networkd"
        check "$cloud (catch-all DHCP): systemd-networkd restart: ENIs 2 and 3 as they were, one default route" eventually 10 settled
        gx "networkctl reload"
        check "$cloud (catch-all DHCP): networkctl reload: likewise" eventually 10 settled
        gx "systemctl restart eni-agent"
        check "$cloud (catch-all DHCP): agent restart: likewise" eventually 20 settled
        pin_slots 1 $NICS >"$TMP/slots.txt" || not_ok "$cloud: the PCI slots of the NICs" "$(cat "$TMP/slots.txt")"
        gx "systemctl disable --now eni-agent 2>/dev/null && sync"
        vm_stop
        vm_start "$TMP/disk.raw" "$BASE.vmlinuz" "$BASE.initrd" "$cloud" 1 $NICS && $VMCTL --qga "$TMP/qga.sock" --timeout 300 ping ||
            not_ok "$cloud: the guest boots again" "$(tail -20 "$TMP/console.log")"
        check "$cloud (catch-all DHCP): reboot with the agent disabled: ENIs $NICS (their IPv6 too) from the agent's files alone, no DHCP, one default route" \
            eventually 60 settled
        check "$cloud (catch-all DHCP): reboot: networkd runs the agent's files, not the catch-all" gx \
            "[ \$(grep -l '^NETWORK_FILE=/etc/systemd/network/05-eni-agent-' /run/systemd/netif/links/* | wc -l) = $(echo $NICS | wc -w) ] && ! grep -q '^NETWORK_FILE=.*99-catch-all' /run/systemd/netif/links/*"
        gx "systemctl enable --now eni-agent 2>/dev/null"
    fi
    if [ -n "$IPV6_CLOUD" ]; then
        # The dual-stack ENI 3 detached: nothing of it is left, IPv6 included.
        T3=$(gx "eni-vm-check table 10.0.3.10") DEV3=$(gx "eni-vm-check iface $(mac 3)")
        vm_unplug 3 || not_ok "$cloud: device_del eni3"
        if [ "$cloud" = aws ]; then sim_scenario "$(IPV6_ONLY=4 scenario aws 2 4)"; else sim_scenario "$(scenario "$cloud" 2)"; fi
        check "$cloud: dual-stack ENI 3 detached: no rule, route (IPv4 or IPv6), file or sysctl line of it left" eventually 20 gx \
            "eni-vm-check gone $T3 $DEV3 10.0.3.10 10.0.3.11 2001:db8:3::10 2001:db8:3::11"
    fi
    gx "journalctl -b -u eni-agent -o cat --no-pager" >"$TMP/journal.txt"
    gx "journalctl -b -u eni-agent -p warning -o cat --no-pager" >"$TMP/warnings.txt"
    if [ "$cloud" = aliyun ]; then
        check "aliyun: the failing passes at boot logged once, then their end" bash -c \
            "[ \$(grep -c 'pass failed' $TMP/warnings.txt) = 1 ] && grep -q 'pass succeeded after [0-9]* failed' $TMP/journal.txt && [ \$(wc -l <$TMP/warnings.txt) = 1 ] || cat $TMP/warnings.txt $TMP/journal.txt"
        check "aliyun: READY=1 came after the first pass that succeeded" bash -c \
            "grep -n 'pass succeeded after' $TMP/journal.txt | head -1 | cut -d: -f1 >$TMP/a; grep -n '^Started eni-agent.service' $TMP/journal.txt | head -1 | cut -d: -f1 >$TMP/b; [ \$(cat $TMP/a) -lt \$(cat $TMP/b) ] || cat $TMP/journal.txt"
    else
        check "$cloud: nothing at warning or above from the unit" bash -c "! test -s $TMP/warnings.txt || { cat $TMP/warnings.txt; exit 1; }"
    fi
    done_with_guest
    timed "$cloud guest: boot, cold attach, hot-plug" "$(since "$t")"
done
echo "# times:"; printf '#   %s\n' "${TIMES[@]}"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

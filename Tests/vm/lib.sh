# shellcheck shell=bash
# The VM lab: a QEMU guest in a throwaway VPC namespace. Sourced by Tests/vm/run.sh (and later
# scenario files). Needs $TMP (scratch directory) and $VMLAB (a unique prefix) before use.
#
#   client ($VMLAB-cli)            VPC ($VMLAB-vpc: QEMU runs here; strict rp_filter, forwarding)
#   c0 192.168.100.10 ------------ rc 192.168.100.1
#                                  lo: 169.254.0.23, 169.254.169.254, 100.100.100.200 (metadata)
#                                  tap1 10.0.1.1/24 ---- guest NIC 52:54:00:00:01:0a (primary ENI,
#                                                        10.0.1.10/24 via systemd-networkd)
#                                  tapN 10.0.N.1/24 ---- guest NIC 52:54:00:00:0N:0a (ENI N,
#                                                        configured by eni-agent: 10.0.N.10, .11)
#
# Nothing outside the two namespaces and $TMP is touched; the taps are never bridged anywhere.
VM_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VMCTL="python3 $VM_HERE/vmctl.py"
VPC=$VMLAB-vpc CLI=$VMLAB-cli
QEMU_PID= SIM_PID= SIM_ADDR=
VM_ACCEL=${VM_ACCEL:-tcg,thread=multi}

# --- A scenario script's frame --------------------------------------------------------------------
# vm_script_cleanup (trap it on EXIT): stops QEMU, the simulator and dnsmasq, removes the VPC, keeps
# the logs of the last run in $LAST for diagnosis (console, QEMU, simulator, guest journal) and
# removes $TMP (kept with VM_KEEP=1).
vm_script_cleanup() {
    vm_stop
    vpc_stop_daemons
    vpc_destroy
    rm -rf "$LAST" && mkdir -p "$LAST" && cp "$TMP"/*.log "$TMP"/*.out "$TMP"/*.txt "$LAST/" 2>/dev/null
    if [ -n "${VM_KEEP:-}" ]; then echo "# kept $TMP"; elif ! grep -q " $TMP/" /proc/self/mounts; then rm -rf "$TMP"; fi
}
# timed WHAT SECONDS: a time to report now and in the summary; finish: the summary and the exit
# status; abort WHAT [DETAIL...]: a failed check that ends the script.
TIMES=()
timed() { TIMES+=("$1: $2 s"); echo "# time: $1: $2 s"; }
finish() {
    echo "# times:"; printf '#   %s\n' "${TIMES[@]}"
    echo "$pass passed, $fail failed"
    [ "$fail" = 0 ]; exit
}
abort() { not_ok "$@"; finish; }

# eventually SECONDS COMMAND...: runs the command until it succeeds or the deadline passes (the
# last try's output is kept in $TMP/eventually.out and shown by the caller's check).
eventually() {
    local limit=$1 end; shift
    end=$(( $(date +%s%N) + limit * 1000000000 ))
    while [ "$(date +%s%N)" -lt "$end" ]; do
        "$@" && return 0
        sleep 0.2
    done
    "$@"
}
now() { date +%s.%N; }
# vm_require WHAT: root and QEMU with debootstrap, or the whole script is reported skipped.
vm_require() {
    skip_unless_root "$1"
    if ! command -v qemu-system-x86_64 >/dev/null || ! command -v debootstrap >/dev/null; then
        echo "SKIP $1: qemu-system-x86_64 or debootstrap missing (make vm-test installs them)"
        echo "0 passed, 0 failed, 1 skipped"; exit 0
    fi
}
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
mac() { printf '52:54:00:00:%02x:0a' "$1"; }

# --- The VPC ---------------------------------------------------------------------------------------
vpc_create() {
    ip netns add "$VPC" && ip netns add "$CLI" || return 1
    ip -n "$VPC" link set lo up && ip -n "$CLI" link set lo up || return 1
    local a
    for a in 169.254.0.23 169.254.169.254 100.100.100.200; do ip -n "$VPC" addr add "$a/32" dev lo || return 1; done
    ip netns exec "$VPC" sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward; echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter; echo 1 > /proc/sys/net/ipv4/conf/default/rp_filter' || return 1
    ip -n "$CLI" link add c0 type veth peer name rc netns "$VPC" || return 1
    ip -n "$VPC" addr add 192.168.100.1/24 dev rc && ip -n "$VPC" link set rc up &&
        ip -n "$CLI" addr add 192.168.100.10/24 dev c0 && ip -n "$CLI" link set c0 up &&
        ip -n "$CLI" route add default via 192.168.100.1
}
vpc_destroy() {
    local n
    for n in "$VPC" "$CLI"; do ip netns del "$n" 2>/dev/null; done
    return 0
}
# vpc_tap N...: tapN in the VPC with ENI N's router address 10.0.N.1/24 (strict rp_filter).
vpc_tap() {
    local n
    for n in "$@"; do
        ip -n "$VPC" tuntap add "tap$n" mode tap &&
            ip netns exec "$VPC" sh -c "echo 1 > /proc/sys/net/ipv4/conf/tap$n/rp_filter" &&
            ip -n "$VPC" addr add "10.0.$n.1/24" dev "tap$n" && ip -n "$VPC" link set "tap$n" up || return 1
    done
}
# vpc_dhcp: DHCP in the VPC as the clouds run it: dnsmasq (from dnsmasq-base: no system service)
# on every tap, now and hot-plugged later, answering each ENI's MAC with its primary IP 10.0.N.10
# and the router 10.0.N.1, for ENIs 1 to 16. Leases last VPC_LEASE (default 10m; dnsmasq's least
# is 2m, renewed after half of it).
vpc_dhcp() {
    local n args=()
    for n in $(seq 1 16); do args+=(--dhcp-range="10.0.$n.0,static,255.255.255.0,${VPC_LEASE:-10m}" --dhcp-host="$(mac "$n"),10.0.$n.10"); done
    ip netns exec "$VPC" dnsmasq --keep-in-foreground --conf-file=/dev/null --port=0 --bind-dynamic --interface='tap*' \
        --dhcp-authoritative --leasefile-ro --no-hosts --no-resolv --user=root --group=root \
        --pid-file="$TMP/dnsmasq.pid" --log-facility="$TMP/dnsmasq.log" \
        "${args[@]}" >"$TMP/dnsmasq.out" 2>&1 &
    DNSMASQ_PID=$!
    eventually 10 grep -q "static leases only on 10.0.16.0" "$TMP/dnsmasq.log" 2>/dev/null || { cat "$TMP/dnsmasq.out" "$TMP/dnsmasq.log"; return 1; }
}
# guest_dhcp ROOT: networkd as cloud images ship it: the primary matched by MAC with DHCP; with
# VM_CATCH_ALL=1 also the catch-all (catch_all_network).
guest_dhcp() {
    printf '%s\n' '# The primary ENI, matched by MAC, with DHCP (the VPC'"'"'s dnsmasq answers 10.0.1.10).' \
        '[Match]' 'MACAddress=52:54:00:00:01:0a' '' '[Network]' 'DHCP=ipv4' >"$1/etc/systemd/network/10-primary.network" || return 1
    [ -z "${VM_CATCH_ALL:-}" ] || catch_all_network "$1"
}
# catch_all_network ROOT: a catch-all DHCP .network for en*/eth*, as some images have: every new NIC
# gets it until networkd reads a file that sorts first and matches it (the agent has it reload).
catch_all_network() {
    printf '%s\n' '# Every other NIC: DHCP, as some cloud images configure it.' \
        '[Match]' 'Name=en* eth*' '' '[Network]' 'DHCP=ipv4' >"$1/etc/systemd/network/99-catch-all.network"
}
# vpc_stop_daemons: the simulator, dnsmasq and radvd of the VPC, those that run, by their PIDs.
vpc_stop_daemons() {
    local p
    for p in "${SIM_PID:-}" "${DNSMASQ_PID:-}" "${RADVD_PID:-}"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    done
    SIM_PID= DNSMASQ_PID= RADVD_PID=
}
# vpc_ipv6 N...: IPv6 in the VPC, as the namespace lab has it (lab_ipv6): forwarding, a strict
# source check (nftables: Linux has no IPv6 rp_filter), 2001:db8:N::1/64 on tapN (vpc_tap first),
# the client 2001:db8:100::10 behind rc 2001:db8:100::1. vpc_radvd N...: router advertisements
# on tapN (radvd: AWS's shape, no gateway in the metadata); on tap1 with SLAAC, so that the
# primary ENI gets IPv6 from the image's networkd as an AWS image's does.
vpc_ipv6() {
    if [ ! -e "$TMP/ipv6.vpc" ]; then
        ip netns exec "$VPC" sh -c 'echo 1 > /proc/sys/net/ipv6/conf/all/forwarding' &&
            ip -n "$VPC" -6 addr add 2001:db8:100::1/64 dev rc nodad &&
            ip -n "$CLI" -6 addr add 2001:db8:100::10/64 dev c0 nodad && ip -n "$CLI" -6 route add default via 2001:db8:100::1 &&
            printf '%s\n' 'table inet eni-vpc {' \
                '  chain pre { type filter hook prerouting priority 0; policy accept; meta nfproto ipv6 fib saddr . iif oif missing counter drop; }' \
                '}' | ip netns exec "$VPC" nft -f - && touch "$TMP/ipv6.vpc" || return 1
    fi
    local n
    for n in "$@"; do ip -n "$VPC" -6 addr add "2001:db8:$n::1/64" dev "tap$n" nodad || return 1; done
}
vpc_radvd() {
    local n conf=$TMP/radvd.conf
    [ -z "${RADVD_PID:-}" ] || { kill "$RADVD_PID"; wait "$RADVD_PID" 2>/dev/null; }
    : >"$conf"
    for n in "$@"; do
        printf 'interface tap%s { AdvSendAdvert on; MinRtrAdvInterval 30; MaxRtrAdvInterval 100; AdvManagedFlag %s;\n  prefix 2001:db8:%s::/64 { AdvOnLink on; AdvAutonomous %s; };\n};\n' \
            "$n" "$([ "$n" = 1 ] && echo off || echo on)" "$n" "$([ "$n" = 1 ] && echo on || echo off)" >>"$conf"
    done
    ip netns exec "$VPC" radvd -C "$conf" -p "$TMP/radvd.pid" -u root -n -m logfile -l "$TMP/radvd.log" &
    RADVD_PID=$!
}
client_ping6() { ip netns exec "$CLI" ping -6 -n -q -c 3 -i 0.3 -W 1 "$1" >/dev/null 2>&1; }
reachable6() { local ip; for ip in "$@"; do client_ping6 "$ip" || { echo "$ip does not answer the client"; return 1; }; done; }
# Can the client reach IP through the VPC? Up to three pings, any reply counts.
client_ping() { ip netns exec "$CLI" ping -n -q -c 3 -i 0.3 -W 1 "$1" >/dev/null 2>&1; }
reachable() { local ip; for ip in "$@"; do client_ping "$ip" || { echo "$ip does not answer the client"; return 1; }; done; }

# --- The metadata simulator, at the cloud's own address --------------------------------------------
cloud_address() {
    case "$1" in tencent) echo 169.254.0.23 ;; aws) echo 169.254.169.254 ;; aliyun) echo 100.100.100.200 ;; *) return 1 ;; esac
}
# The DMI identity QEMU gives a guest of that cloud (-smbios type=1,...).
cloud_smbios() {
    case "$1" in
    tencent) echo "type=1,manufacturer=Tencent Cloud,product=CVM" ;;
    aliyun) echo "type=1,manufacturer=Alibaba Cloud,product=Alibaba Cloud ECS" ;;
    aws) echo "type=1,manufacturer=Amazon EC2,product=t3.micro" ;;
    none) echo "type=1,manufacturer=QEMU,product=Standard PC" ;;
    esac
}
# scenario CLOUD N...: the metadata of the primary ENI (1, with secondary IP 10.0.1.11) and ENIs
# N... (10.0.N.10 primary, 10.0.N.11 secondary). EXTRA_IPS="N:IP ..." adds secondary IPs.
scenario() {
    python3 - "$@" <<'PY'
import json, os, sys
extra = {}
for x in os.environ.get("EXTRA_IPS", "").split():
    n, ip = x.split(":"); extra.setdefault(int(n), []).append(ip)
# IPV6="3 4": those ENIs get 2001:db8:N::10 and ::11 in 2001:db8:N::/64; on Alibaba with the
# gateway 2001:db8:N::1 (AWS names none: router advertisements do).
ipv6 = [int(n) for n in os.environ.get("IPV6", "").split()]
# IPV6_ONLY="4": those ENIs have no IPv4 at all (an IPv6-only subnet; AWS's shape), IPv6 as above.
ipv6_only = [int(n) for n in os.environ.get("IPV6_ONLY", "").split()]
cloud = sys.argv[1]
enis = []
for n in [1] + [int(a) for a in sys.argv[2:]]:
    e = {"mac": "52:54:00:00:%02x:0a" % n, "primary_ip": "10.0.%d.10" % n,
         "secondary_ips": ["10.0.%d.11" % n] + extra.get(n, []),
         "subnet": "10.0.%d.0/24" % n, "gateway": "10.0.%d.1" % n, "id": "eni-%02d" % n}
    if cloud == "aws":
        e["device_number"] = n - 1
    if n in ipv6_only:
        for k in ("primary_ip", "secondary_ips", "subnet", "gateway"):
            del e[k]
    if n in ipv6 or n in ipv6_only:
        e.update(ipv6s=["2001:db8:%d::10" % n, "2001:db8:%d::11" % n], subnet6="2001:db8:%d::/64" % n)
        if cloud != "aws":
            e["gateway6"] = "2001:db8:%d::1" % n
    enis.append(e)
print(json.dumps({"cloud": cloud, "primary_mac": "52:54:00:00:01:0a", "enis": enis}))
PY
}
# sim_start SIM CLOUD SCENARIO-FILE: the simulator in the VPC at the cloud's address, port 80.
sim_start() {
    SIM_ADDR=$(cloud_address "$2") || return 1
    ip netns exec "$VPC" "$1" --scenario "$3" --listen "$SIM_ADDR:80" >"$TMP/sim.out" 2>&1 &
    SIM_PID=$!
    eventually 10 grep -q "^listening on" "$TMP/sim.out"
}
sim_ctl() { ip netns exec "$VPC" curl -sf -X "$1" --data-binary "${3:-}" "http://$SIM_ADDR/_sim/$2" >/dev/null; }
sim_scenario() { sim_ctl PUT scenario "$1"; }
sim_faults() { sim_ctl PUT faults "$1"; }

# --- The guest's disk ------------------------------------------------------------------------------
# guest_root BASE ROOT DEB: a copy of the cached base with the .deb installed by apt (offline: its
# Depends are in the base), the lab's guest helpers, and $GUEST_CONFIG appended to the agent's config.
CHROOT_SH='mount -t proc proc "$0/proc" && exec chroot "$0" "$@"'
in_root() { local r=$1; shift; unshare --mount --propagation private sh -c "$CHROOT_SH" "$r" "$@"; }
guest_root() {
    local base=$1 root=$2 deb=$3
    cp -a --reflink=auto "$base" "$root" || return 1
    cp "$deb" "$root/tmp/" || return 1
    in_root "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "/tmp/$(basename "$deb")" \
        >"$TMP/apt-install.log" 2>&1 || { tail -20 "$TMP/apt-install.log"; return 1; }
    rm -f "$root/tmp/$(basename "$deb")" "$root/.complete"
    install -m 0755 "$VM_HERE/guest/eni-vm-check" "$root/usr/local/sbin/eni-vm-check" &&
        install -m 0644 "$VM_HERE/guest/eni-vm-online.service" "$root/etc/systemd/system/" &&
        systemctl --root="$root" enable eni-vm-online.service >/dev/null 2>&1 || return 1
    if [ -n "${GUEST_CONFIG:-}" ]; then printf '\n# The VM lab:\n%s\n' "$GUEST_CONFIG" >>"$root/etc/eni-agent/eni-agent.toml"; fi
}
# guest_disk ROOT IMAGE: an ext4 image of ROOT without a partition table (no loop mount).
guest_disk() {
    truncate -s 3G "$2" && mkfs.ext4 -q -F -L root -d "$1" "$2"
}

# --- QEMU ------------------------------------------------------------------------------------------
# vm_start IMAGE KERNEL INITRD CLOUD N...: boots the guest in the VPC with NICs for ENIs N...
# (1 = the primary; each needs its tap) and CLOUD's DMI identity. QMP: $TMP/qmp.sock; guest
# agent: $TMP/qga.sock; serial console: $TMP/console.log (for diagnosis only).
# NIC_ADDR[N]: the PCI slot to give ENI N's NIC (e.g. 0x7), so that a cold boot names it as a
# hot-plug did before (udev names by slot: ens7).
declare -gA NIC_ADDR=()
vm_start() {
    local img=$1 kernel=$2 initrd=$3 cloud=$4 n; shift 4
    local nics=()
    for n in "$@"; do
        nics+=(-netdev "tap,id=net-eni$n,ifname=tap$n,script=no,downscript=no"
            -device "virtio-net-pci,netdev=net-eni$n,id=eni$n,mac=$(mac "$n"),romfile=${NIC_ADDR[$n]:+,addr=${NIC_ADDR[$n]}}")
    done
    rm -f "$TMP/qga.sock" "$TMP/qmp.sock"   # a former QEMU's: the waits below are for this one's
    ip netns exec "$VPC" qemu-system-x86_64 -machine pc -accel "$VM_ACCEL" -cpu max -smp 2 -m 1024 \
        -display none -vga none -no-reboot -nodefaults \
        -smbios "$(cloud_smbios "$cloud")" \
        -kernel "$kernel" -initrd "$initrd" \
        -append "root=/dev/vda rw console=ttyS0 net.ifnames=1 panic=-1" \
        -drive "file=$img,format=raw,if=virtio,cache=unsafe" \
        -serial "file:$TMP/console.log" \
        -qmp "unix:$TMP/qmp.sock,server=on,wait=off" \
        -device virtio-serial \
        -chardev "socket,path=$TMP/qga.sock,server=on,wait=off,id=qga0" \
        -device virtserialport,chardev=qga0,name=org.qemu.guest_agent.0 \
        "${nics[@]}" >"$TMP/qemu.out" 2>&1 &
    QEMU_PID=$!
    eventually 10 test -S "$TMP/qga.sock"
}
# pin_slots N...: NIC_ADDR[N] = the PCI slot ENI N's NIC has now, so that the next boot gives it the
# same one (udev names a NIC by its slot: ens7 stays ens7).
pin_slots() {
    local n slot
    for n in "$@"; do
        # The NIC's device is a virtio device (virtioN); its parent is the PCI function (0000:00:07.0).
        slot=$(gx "basename \$(dirname \$(readlink -f /sys/class/net/\$(eni-vm-check iface $(mac "$n"))/device))")
        [[ $slot =~ ^0000:00:([0-9a-f]{2})\.0$ ]] || { echo "the PCI slot of ENI $n's NIC: $slot"; return 1; }
        NIC_ADDR[$n]=0x${BASH_REMATCH[1]}
    done
}
vm_stop() {
    [ -n "$QEMU_PID" ] || return 0
    $VMCTL --qmp "$TMP/qmp.sock" --timeout 5 quit >/dev/null 2>&1 || kill "$QEMU_PID" 2>/dev/null
    eventually 10 bash -c "! kill -0 $QEMU_PID 2>/dev/null" || kill -9 "$QEMU_PID" 2>/dev/null
    wait "$QEMU_PID" 2>/dev/null
    QEMU_PID=
}
vm_alive() { [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; }
# vm_plug N...: hot-plugs ENIs N... (their taps are made here) one right after the other.
vm_plug() {
    local n
    vpc_tap "$@" || return 1
    for n in "$@"; do $VMCTL --qmp "$TMP/qmp.sock" plug "eni$n" "tap$n" "$(mac "$n")" || return 1; done
}
# vm_unplug N: device_del, waits for the guest to release it (DEVICE_DELETED), removes the tap.
vm_unplug() {
    $VMCTL --qmp "$TMP/qmp.sock" --timeout 60 unplug "eni$1" && ip -n "$VPC" link del "tap$1"
}
# gx SCRIPT: /bin/sh -c SCRIPT in the guest, through the guest agent.
gx() { $VMCTL --qga "$TMP/qga.sock" --timeout "${GX_TIMEOUT:-60}" sh "$@"; }

# --- Checks in the guest ---------------------------------------------------------------------------
# configured N [EXTRA-IP...]: ENI N holds 10.0.N.10, 10.0.N.11 and the extra IPs, with rules and table.
configured() { local n=$1; shift; gx "eni-vm-check configured $(mac "$n") 10.0.$n.10 10.0.$n.11 $*"; }
configured6() { local n=$1; shift; gx "eni-vm-check configured6 $(mac "$n") 2001:db8:$n::10 2001:db8:$n::11 $*"; }
journal() { gx "journalctl -b -u eni-agent -o cat --no-pager $*"; }
# cursor: the journal's position now; warnings_since CURSOR: the unit's lines at warning or above since.
cursor() { gx "journalctl -n 1 --show-cursor --no-pager -q" | sed -n 's/^-- cursor: //p'; }
# (A cursor that could not be read is an error, not an empty journal.)
warnings_since() { [ -n "$1" ] || { echo "no journal cursor"; return 1; }; gx "journalctl -u eni-agent -p warning -o cat --no-pager --after-cursor='$1'"; }
# The main table keeps the primary's default route only.
# measure_outage LABEL COMMAND IP...: runs COMMAND in the guest and reports (`timed`'s list) how
# long any of the IPs, its rule of eni-agent or its table's default route was missing
# (`eni-vm-check outage`, until 5 s after the command); checks only that all are there before
# and at the end.
measure_outage() {
    local label=$1 cmd=$2 out rc; shift 2
    out=$(gx "eni-vm-check outage 5 $* -- $cmd"); rc=$?
    check "$label (measured): every IP, its rule and its table's default route there before and 5 s after" test "$rc" = 0
    TIMES+=("$label, outage: $out"); echo "# measured: $label: $out"
}
one_default() { gx "r=\$(ip -4 route show table main default); [ \$(echo \"\$r\" | grep -c .) = 1 ] && echo \"\$r\" | grep -q 'via 10.0.1.1 ' || { echo \"\$r\"; exit 1; }"; }

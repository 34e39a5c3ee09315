#!/usr/bin/env bash
# The VM lab's NetworkManager guest: the packaged agent beside NetworkManager with Debian's default
# configuration, which gives every NIC without a profile an automatic DHCP profile ("Wired
# connection N"), the primary too, as RHEL 9, Rocky, TencentOS 4 and Alibaba Cloud Linux 3 images
# run it. The VPC answers DHCP (dnsmasq, 2-minute leases: renewed during the run). The guest is an
# Alibaba Cloud one (its metadata names the IPv6 gateway): the hot-plugged ENI 3 is dual-stack, the
# VPC checks IPv6 sources strictly. See Tests/vm/README.md.
# Usage: Tests/vm/nm.sh DEB ENI-METADATA-SIM
# Needs root and qemu-system-x86_64; without them the tests are reported as skipped.
# Environment: VM_CLOUD (aliyun), VM_KEEP=1 (keep the scratch directory), VM_ACCEL.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../integration/checks.sh
. "$repo/Tests/integration/checks.sh"
usage="usage: Tests/vm/nm.sh DEB ENI-METADATA-SIM"
VMLAB=eninm-$$
CLOUD=${VM_CLOUD:-aliyun}
# On Alibaba (the default) ENI 3, hot-plugged in scenario 2, is dual-stack: 2001:db8:3::10 and
# ::11, its router 2001:db8:3::1 named by the metadata (scenario in lib.sh).
V6=
if [ "$CLOUD" = aliyun ]; then export IPV6=3; V6=1; fi
# shellcheck source=lib.sh
. "$here/lib.sh"
vm_require "VM lab (NetworkManager)"
DEB=$(abs "${1:?$usage}")
SIM=$(abs "${2:?$usage}")
TMP=$(mktemp -d /tmp/eni-vm.XXXXXX)
LAST=$repo/.build-vm/last-nm
trap vm_script_cleanup EXIT
trap 'exit 130' INT TERM
T_ALL=$(now)
GUEST_CONFIG=${GUEST_CONFIG-provider = \"$CLOUD\"}
VPC_LEASE=2m

# --- Image, VPC, boot with the primary and ENI 2 ------------------------------------------------------
t=$(now)
BASE=$(bash "$here/image.sh" "$repo/.build-vm" nm) || abort "image: base root (NetworkManager)"
timed "image (base root)" "$(since "$t")"
t=$(now)
guest_root "$BASE" "$TMP/root" "$DEB" || abort "image: the .deb installs in the guest root with apt"
guest_disk "$TMP/root" "$TMP/disk.raw" || abort "image: mkfs.ext4 -d"
rm -rf "$TMP/root"
timed "image (copy, apt install, mkfs)" "$(since "$t")"
vpc_create || abort "VPC namespaces"
vpc_tap 1 2 || abort "VPC taps"
vpc_dhcp || abort "VPC: dnsmasq answers DHCP"
scenario "$CLOUD" 2 >"$TMP/scenario.json"
sim_start "$SIM" "$CLOUD" "$TMP/scenario.json" || abort "metadata simulator at $(cloud_address "$CLOUD")" "$(cat "$TMP/sim.out")"
t=$(now) T_BOOT=$(now)
vm_start "$TMP/disk.raw" "$BASE.vmlinuz" "$BASE.initrd" "$CLOUD" 1 2 || abort "QEMU starts" "$(cat "$TMP/qemu.out")"
$VMCTL --qga "$TMP/qga.sock" --timeout 300 ping || abort "boot: the guest agent answers" "$(tail -30 "$TMP/console.log")"
ok "boot: the guest agent answers"
echo "# guest: $(gx 'uname -r; NetworkManager --version' | tr '\n' ' ')"
timed "boot to guest agent" "$(since "$t")"

# The profile NetworkManager runs on ENI N's device, and the agent's profile of that device.
nm_runs() { local dev; dev=$(gx "eni-vm-check iface $(mac "$1")"); gx "nmcli -g GENERAL.CONNECTION device show $dev"; }
runs_agents_profile() {
    local dev got; dev=$(gx "eni-vm-check iface $(mac "$1")")
    got=$(gx "nmcli -g GENERAL.CONNECTION,GENERAL.STATE device show $dev | tr '\n' ' '")
    case "$got" in "eni-agent-$dev 100 (connected) ") return 0 ;; *) echo "$dev runs [$got], want eni-agent-$dev connected"; return 1 ;; esac
}
consistent() { gx "eni-vm-check consistent"; }
# enis_ok N...: each ENI configured (its listed extra IPs in EXTRA_N), run by its profile, and
# one copy of each object, one default route in the main table.
enis_ok() {
    local n v
    for n in "$@"; do
        v=EXTRA_$n
        configured "$n" ${!v:-} >/dev/null || { configured "$n" ${!v:-}; return 1; }
        [ "$n" != 3 ] || [ -z "$V6" ] || configured6 3 >/dev/null || { configured6 3; return 1; }
        runs_agents_profile "$n" || return 1
    done
    consistent && one_default
}

# === 1. Cold attach ==================================================================================
t=$(now)
check "cold attach: network-online.target reached" eventually 240 gx "test -s /run/eni-vm/online.txt"
timed "boot to network-online.target" "$(since "$T_BOOT")"
check "renderer: status says auto chose NetworkManager" \
    gx "eni-agent status | grep -q '^renderer: networkmanager (auto: NetworkManager is running'"
check "cold attach: ENI 2 configured, run by the agent's profile, one default route" eventually 60 enis_ok 2
check "cold attach: the keyfile is root's, mode 0600" gx \
    "d=\$(eni-vm-check iface $(mac 2)); [ \"\$(stat -c '%a %U' /etc/NetworkManager/system-connections/eni-agent-\$d.nmconnection)\" = '600 root' ]"
check "cold attach: the primary's secondary IP 10.0.1.11 assigned" eventually 30 gx "ip -4 -o addr | grep -q ' 10.0.1.11/24'"
check "cold attach: every IP answers the client" eventually 20 reachable 10.0.1.10 10.0.1.11 10.0.2.10 10.0.2.11
timed "1 cold attach" "$(since "$t")"

# === 1b. Another program's rules and routes (none may change through what follows) =================
DEV2=$(gx "eni-vm-check iface $(mac 2)")
FOREIGN_RULES=("from 172.17.0.0/16 lookup 100" "from 10.0.2.99 lookup 10001" "from 10.0.2.98 lookup 10001")
gx "printf '%s\\n' 10.0.2.98 10.0.2.99 >/run/eni-vm/foreign-sources &&
    ip rule add from 172.17.0.0/16 lookup 100 priority 100 &&
    ip route add blackhole 172.17.0.0/16 table 100 &&
    ip rule add from 10.0.2.99 lookup 10001 priority 10001 &&
    ip rule add from 10.0.2.98 lookup 10001 priority 10001 protocol static &&
    ip route add 192.0.2.0/24 dev $DEV2 table 10001 proto static" || not_ok "foreign objects: added in the guest"
foreign_intact() {
    local r
    for r in "${FOREIGN_RULES[@]}"; do gx "ip -4 rule show | grep -q '$r'" || { echo "gone: $r"; return 1; }; done
    gx "ip -4 route show table 100 | grep -q '^blackhole 172.17.0.0/16' && ip -4 route show table 10001 | grep -q '^192.0.2.0/24 dev $DEV2'"
}
check "foreign objects: in place" foreign_intact

# === 2. Hot-plug: NetworkManager starts DHCP on the new NIC; the agent's profile replaces it ========
t=$(now) c=$(cursor)
sim_scenario "$(scenario "$CLOUD" 2 3 4)"
vm_plug 3 && { [ -z "$V6" ] || vpc_ipv6 3; } || abort "hot-plug: device_add eni3, IPv6 on its tap"
check "hot-plug: ENI 3 configured (its IPv6 too), run by the agent's profile, no DHCP address, one default route" eventually 60 enis_ok 2 3
check "hot-plug: ENI 3's IPs answer the client" eventually 20 reachable 10.0.3.10 10.0.3.11
[ -z "$V6" ] ||
    check "hot-plug: ENI 3's IPv6 addresses answer the client through the strict router" eventually 20 reachable6 2001:db8:3::10 2001:db8:3::11
check "hot-plug: the keyfile holds ENI 3's IPv6 (method manual, its table's routes, its rules)" gx \
    "f=/etc/NetworkManager/system-connections/eni-agent-\$(eni-vm-check iface $(mac 3)).nmconnection; [ -z '$V6' ] ||
     { grep -qx 'address1=2001:db8:3::10/128' \$f && grep -q '^routing-rule[0-9]*=priority [0-9]* from 2001:db8:3::11 table' \$f; }"
timed "2a hot-plug one NIC" "$(since "$t")"
t=$(now)
vm_plug 4 || abort "hot-plug: device_add eni4"
check "hot-plug: ENI 4 configured likewise" eventually 60 enis_ok 2 3 4
timed "2b hot-plug another NIC" "$(since "$t")"
journal | grep "ms after it appeared" | sed 's/^/#   journal: /'

# === 3. Secondary IP assigned + reload: NetworkManager's profile follows ============================
t=$(now)
sim_scenario "$(EXTRA_IPS="3:10.0.3.12" scenario "$CLOUD" 2 3 4)"
gx "systemctl reload eni-agent"
EXTRA_3=10.0.3.12
check "reload: the new IP on ENI 3, in its keyfile, run by its profile" eventually 30 enis_ok 2 3 4
check "reload: the keyfile lists it" gx "grep -q '^address3=10.0.3.12/24' /etc/NetworkManager/system-connections/eni-agent-\$(eni-vm-check iface $(mac 3)).nmconnection"
check "reload: it answers the client" eventually 20 reachable 10.0.3.12
timed "3 secondary IP assigned" "$(since "$t")"
warnings_since "$c" >"$TMP/warnings-2-3.txt" || echo "no journal cursor: the whole journal" >>"$TMP/warnings-2-3.txt"
check "journal: no warning from the unit in scenarios 2-3" bash -c "! test -s $TMP/warnings-2-3.txt || { cat $TMP/warnings-2-3.txt; exit 1; }"

# === 4. NetworkManager restarts, reloads its profiles; the primary's lease is renewed ===============
t=$(now)
gx "systemctl restart NetworkManager"
check "NetworkManager restart: every ENI configured and run by its profile within 10 s" eventually 10 enis_ok 2 3 4
check "NetworkManager restart: the primary's secondary IP kept or back" eventually 5 gx "ip -4 -o addr | grep -q ' 10.0.1.11/24'"
gx "nmcli connection reload"
check "nmcli connection reload: every ENI still configured, one copy of each object" eventually 10 enis_ok 2 3 4
primary=$(gx "eni-vm-check iface $(mac 1)")
# Leases last 2 minutes: NetworkManager renews the primary's within the first minute after boot.
check "DHCP: the primary's lease renewed at least once" eventually 120 gx \
    "[ \$(journalctl -b -u NetworkManager -o cat --no-pager | grep -c 'dhcp4 ($primary): state changed new lease') -ge 2 ]"
check "DHCP renewal: every ENI configured, one copy of each object" eventually 10 enis_ok 2 3 4
check "every ENI IP answers the client" eventually 20 reachable 10.0.2.10 10.0.3.12 10.0.4.11 10.0.1.11
timed "4 NetworkManager restart, reload, renewal" "$(since "$t")"
# Measured, not asserted: how long an ENI's address, the agent's rule for it or its table's
# default route is missing around one more restart of NetworkManager.
measure_outage "NetworkManager restart" "systemctl restart NetworkManager" \
    10.0.1.11 10.0.2.10 10.0.2.11 10.0.3.10 10.0.3.11 10.0.3.12 10.0.4.10 10.0.4.11 ${V6:+2001:db8:3::10 2001:db8:3::11}
check "NetworkManager restart (measured): every ENI configured, one copy of each object" eventually 10 enis_ok 2 3 4

# === 5. The agent restarts ==========================================================================
t=$(now)
gx "systemctl restart eni-agent"
check "agent restart: active again" eventually 30 gx "systemctl is-active -q eni-agent"
check "agent restart: every ENI as it was" eventually 10 enis_ok 2 3 4
timed "5 agent restart" "$(since "$t")"

# === 6. Unplug: the profile goes with the ENI =======================================================
t=$(now)
T4=$(gx "eni-vm-check table 10.0.4.10") DEV4=$(gx "eni-vm-check iface $(mac 4)")
vm_unplug 4 || not_ok "unplug: device_del eni4 completes (DEVICE_DELETED)"
sim_scenario "$(EXTRA_IPS="3:10.0.3.12" scenario "$CLOUD" 2 3)"
check "unplug: rules, table routes and keyfile gone within 10 s of the metadata dropping the ENI" \
    eventually 10 gx "eni-vm-check gone $T4 $DEV4 10.0.4.10 10.0.4.11"
check "unplug: NetworkManager forgot its profile" eventually 10 gx "! nmcli -g NAME connection show | grep -qx 'eni-agent-$DEV4'"
check "unplug: the other ENIs as they were" enis_ok 2 3
timed "6 unplug" "$(since "$t")"

journal -p warning >"$TMP/journal-warnings.txt"
check "journal: nothing at warning or above from the unit (scenarios 1-6)" bash -c "! test -s $TMP/journal-warnings.txt || { cat $TMP/journal-warnings.txt; exit 1; }"
check "foreign objects: every one still there after scenarios 2-6" foreign_intact
journal >"$TMP/journal.txt"
gx "journalctl -b --no-pager" >"$TMP/guest-journal.txt" 2>&1

# === 7. A reboot with the agent stopped and disabled ================================================
t=$(now)
pin_slots 1 2 3 >"$TMP/slots.txt" || abort "reboot: the PCI slots of the NICs" "$(cat "$TMP/slots.txt")"
gx "systemctl disable --now eni-agent 2>/dev/null && sync"
vm_stop
vm_start "$TMP/disk.raw" "$BASE.vmlinuz" "$BASE.initrd" "$CLOUD" 1 2 3 || abort "reboot: QEMU starts" "$(cat "$TMP/qemu.out")"
$VMCTL --qga "$TMP/qga.sock" --timeout 300 ping || abort "reboot: the guest agent answers" "$(tail -30 "$TMP/console.log")"
check "reboot: eni-agent is not running" gx "! systemctl is-active -q eni-agent"
check "reboot: every secondary ENI back from its keyfile alone, one default route" eventually 60 enis_ok 2 3
check "reboot: the secondary ENIs' IPs answer the client" eventually 20 reachable 10.0.2.11 10.0.3.12
[ -z "$V6" ] ||
    check "reboot: ENI 3's IPv6 back from its keyfile and answering" eventually 20 reachable6 2001:db8:3::10 2001:db8:3::11
gx "eni-agent diff >/run/eni-vm/diff.txt 2>&1; echo \$? >/run/eni-vm/diff.rc"
gx "cat /run/eni-vm/diff.txt" >"$TMP/reboot-diff.txt"
sed 's/^/#   diff: /' "$TMP/reboot-diff.txt"
check "reboot: eni-agent diff wants nothing for a secondary ENI (only the primary's secondary IP)" bash -c \
    "! awk '/^# /{ h=\$0; next } /^[-+] /{ print h }' $TMP/reboot-diff.txt | grep -v ', primary\$'"
gx "systemctl enable --now eni-agent 2>/dev/null"
check "reboot: the agent started again puts the primary's secondary IP back" eventually 30 gx "ip -4 -o addr | grep -q ' 10.0.1.11/24'"
check "reboot: and changes nothing else" enis_ok 2 3
timed "7 reboot with the agent disabled" "$(since "$t")"
timed "total" "$(since "$T_ALL")"
finish

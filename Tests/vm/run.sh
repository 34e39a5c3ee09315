#!/usr/bin/env bash
# The VM lab's scenarios: the packaged agent under systemd in a Debian 12 guest (QEMU, software
# emulation), ENIs attached by PCI hot-plug over QMP, the metadata simulator at the cloud's own
# address in the VPC namespace, guest commands through qemu-guest-agent. See Tests/vm/README.md.
# Usage: Tests/vm/run.sh DEB ENI-METADATA-SIM
# Needs root and qemu-system-x86_64; without them the tests are reported as skipped.
# Environment: VM_VARIANT (image variant, default networkd), VM_CLOUD (tencent), VM_KEEP=1 (keep
# the scratch directory), VM_ACCEL (default tcg,thread=multi).
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=../integration/checks.sh
. "$repo/Tests/integration/checks.sh"
usage="usage: Tests/vm/run.sh DEB ENI-METADATA-SIM"
VMLAB=enivm-$$
CLOUD=${VM_CLOUD:-tencent}
# shellcheck source=lib.sh
. "$here/lib.sh"
vm_require "VM lab"
DEB=$(abs "${1:?$usage}")
SIM=$(abs "${2:?$usage}")
TMP=$(mktemp -d /tmp/eni-vm.XXXXXX)
LAST=$repo/.build-vm/last-run
trap vm_script_cleanup EXIT
trap 'exit 130' INT TERM
T_ALL=$(now)

# The agent's config in the guest: the packaged default plus these lines (see the README).
GUEST_CONFIG=${GUEST_CONFIG-provider = \"$CLOUD\"}

# --- Image --------------------------------------------------------------------------------------
t=$(now)
BASE=$(bash "$here/image.sh" "$repo/.build-vm" "${VM_VARIANT:-networkd}") || abort "image: base root"
timed "image (base root)" "$(since "$t")"
t=$(now)
guest_root "$BASE" "$TMP/root" "$DEB" || abort "image: the .deb installs in the guest root with apt"
ok "image: the .deb installs in the guest root with apt"
guest_dhcp "$TMP/root" || abort "image: networkd's DHCP files"
guest_disk "$TMP/root" "$TMP/disk.raw" || abort "image: mkfs.ext4 -d"
rm -rf "$TMP/root"
timed "image (copy, apt install, mkfs)" "$(since "$t")"

# --- The VPC, the metadata, boot with the primary and two secondary ENIs --------------------------
vpc_create || abort "VPC namespaces"
vpc_tap 1 2 3 || abort "VPC taps"
vpc_dhcp || abort "VPC: dnsmasq answers DHCP"
scenario "$CLOUD" 2 3 >"$TMP/scenario.json"
sim_start "$SIM" "$CLOUD" "$TMP/scenario.json" || abort "metadata simulator at $(cloud_address "$CLOUD")" "$(cat "$TMP/sim.out")"
t=$(now) T_BOOT=$(now)
vm_start "$TMP/disk.raw" "$BASE.vmlinuz" "$BASE.initrd" "$CLOUD" 1 2 3 || abort "QEMU starts" "$(cat "$TMP/qemu.out")"
if ! $VMCTL --qga "$TMP/qga.sock" --timeout 300 ping; then
    abort "boot: the guest agent answers" "$(tail -30 "$TMP/console.log")" "$(cat "$TMP/qemu.out")"
fi
ok "boot: the guest agent answers"
echo "# guest: $(gx 'uname -r; systemctl --version | head -1; cat /sys/class/dmi/id/sys_vendor /sys/class/dmi/id/product_name' | tr '\n' ' ')"
vendor=$(cloud_smbios "$CLOUD" | sed -n 's/.*manufacturer=\([^,]*\).*/\1/p')
check "boot: the guest's DMI names the cloud (sys_vendor $vendor)" gx "grep -qx '$vendor' /sys/class/dmi/id/sys_vendor"
timed "boot to guest agent" "$(since "$t")"


# === 1. Cold attach ================================================================================
t=$(now)
if eventually 240 gx "test -s /run/eni-vm/online.txt"; then
    timed "boot to network-online.target" "$(since "$T_BOOT")"
    gx "cat /run/eni-vm/online.txt" >"$TMP/online.txt"
    sed 's/^/#   /' "$TMP/online.txt"
    for n in 2 3; do
        for ip in 10.0.$n.10 10.0.$n.11; do
            check "cold attach: at network-online.target $ip has its address and rule" bash -c \
                "grep -q 'inet $ip/24' $TMP/online.txt && grep -Eq 'from $ip lookup [0-9]* proto (234|static)' $TMP/online.txt || { cat $TMP/online.txt; exit 1; }"
        done
    done
else
    not_ok "cold attach: network-online.target reached (the recording unit ran)" "$(gx 'systemctl list-jobs; systemctl status eni-vm-online eni-agent --no-pager' 2>&1 | head -40)"
fi
for n in 2 3; do check "cold attach: ENI $n configured" eventually 60 configured $n; done
check "cold attach: the primary ENI's secondary IP 10.0.1.11 assigned" eventually 30 gx "ip -4 -o addr | grep -q ' 10.0.1.11/24'"
check "cold attach: every IP answers the client through the router" eventually 20 reachable 10.0.1.10 10.0.1.11 10.0.2.10 10.0.2.11 10.0.3.10 10.0.3.11
check "cold attach: one default route in the main table (the primary's)" eventually 20 one_default
timed "1 cold attach (after the agent answered)" "$(since "$t")"
# Scenario 8: the files in /etc, /usr and /var (path, mtime, size) before scenarios 2-7.
FILES='find /etc /usr /var -xdev \( -path /var/log/journal -o -path /var/lib/systemd -o -path /var/tmp -o -path /var/cache \) -prune -o -printf "%p %T@ %s\n"'
gx "$FILES | sort >/run/eni-vm/files-before.txt"

# === 1b. Another program's rules and routes ========================================================
# Docker-like and the user's own, some in the agent's tables and at its priorities, one with
# networkd's protocol (static) that no file of the agent's declares: none may be changed by the
# agent through scenarios 2-8 (scenario 9 restarts networkd, which removes foreign rules itself).
DEV2=$(gx "eni-vm-check iface $(mac 2)")
FOREIGN_RULES=("from 172.17.0.0/16 lookup 100" "from 10.0.2.99 lookup 10001" "from 10.0.3.99 lookup 10002")
gx "printf '%s\\n' 10.0.3.99 >/run/eni-vm/foreign-sources &&
    ip rule add from 172.17.0.0/16 lookup 100 priority 100 &&
    ip route add blackhole 172.17.0.0/16 table 100 &&
    ip rule add from 10.0.2.99 lookup 10001 priority 10001 &&
    ip rule add from 10.0.3.99 lookup 10002 priority 10002 protocol static &&
    ip route add 192.0.2.0/24 dev $DEV2 table 10001" || not_ok "foreign objects: added in the guest"
foreign_intact() {
    local r
    for r in "${FOREIGN_RULES[@]}"; do gx "ip -4 rule show | grep -q '$r'" || { echo "gone: $r"; return 1; }; done
    gx "ip -4 route show table 100 | grep -q '^blackhole 172.17.0.0/16' && ip -4 route show table 10001 | grep -q '^192.0.2.0/24 dev $DEV2'"
}
check "foreign objects: in place" foreign_intact

# === 2. Hot-plug: one NIC, then three at once =======================================================
t=$(now)
sim_scenario "$(scenario "$CLOUD" 2 3 4 5 6 7)"
vm_plug 4 || abort "hot-plug: device_add eni4"
check "hot-plug: ENI 4 configured" eventually 60 configured 4
check "hot-plug: ENI 4's IPs answer the client" eventually 20 reachable 10.0.4.10 10.0.4.11
check "hot-plug: one default route in the main table" eventually 10 one_default
timed "2a hot-plug one NIC" "$(since "$t")"
t=$(now)
vm_plug 5 6 7 || abort "hot-plug: device_add eni5..7"
for n in 5 6 7; do check "hot-plug x3: ENI $n configured" eventually 90 configured $n; done
check "hot-plug x3: every IP answers the client" eventually 20 reachable 10.0.5.10 10.0.5.11 10.0.6.10 10.0.6.11 10.0.7.10 10.0.7.11
timed "2b hot-plug three NICs" "$(since "$t")"
journal >"$TMP/journal-hotplug.txt"
for n in 4 5 6 7; do
    check "hot-plug: the journal says when ENI $n was configured" grep -q "ENI $(mac $n) configured .* ms after it appeared" "$TMP/journal-hotplug.txt"
done
grep "configured .* ms after it appeared" "$TMP/journal-hotplug.txt" | sed 's/^/#   journal: /'

# === 2c. udev not finished with a new NIC: the agent waits (never configures the kernel's name) ====
# udev renames a new NIC (eth0 -> ens12) before it writes its database; a link brought up first
# cannot be renamed. With udev's queue stopped, the link stays as the kernel named it.
t=$(now)
sim_scenario "$(scenario "$CLOUD" 2 3 4 5 6 7 11)"
gx "udevadm control --stop-exec-queue"
vm_plug 11 || abort "udev: device_add eni11"
check "udev paused: the new NIC is pending, udev not finished with it" \
    eventually 30 gx "eni-agent status | grep -A1 '^$(mac 11) ' | grep -q 'udev has not finished with eth'"
check "udev paused: nothing configured on it" gx "! ip -4 -o addr | grep -q ' 10\.0\.11\.'"
gx "udevadm control --start-exec-queue"
check "udev done: ENI 11 configured" eventually 60 configured 11
check "udev done: under udev's name (ens*), not the kernel's" gx "eni-vm-check iface $(mac 11) | grep -q '^ens'"
vm_unplug 11 || not_ok "udev: device_del eni11"
sim_scenario "$(scenario "$CLOUD" 2 3 4 5 6 7)"
timed "2c udev not finished" "$(since "$t")"

# === 3. Metadata lag: the NIC arrives 3 s before the metadata lists it =============================
t=$(now) c=$(cursor)
sim_scenario "$(scenario "$CLOUD" 2 3 4 5 6 7 8)"
sim_faults "[{\"hide_mac\": \"$(mac 8)\", \"seconds\": 3}]"
vm_plug 8 || abort "lag: device_add eni8"
check "lag: ENI 8 configured once the metadata lists it" eventually 60 configured 8
check "lag: ENI 8's IPs answer the client" eventually 20 reachable 10.0.8.10 10.0.8.11
warnings_since "$c" >"$TMP/journal-lag-warnings.txt"
check "lag: no warning in the journal during the scenario" bash -c "! test -s $TMP/journal-lag-warnings.txt || { cat $TMP/journal-lag-warnings.txt; exit 1; }"
journal | grep "ENI $(mac 8)" | sed 's/^/#   journal: /'
timed "3 metadata lag" "$(since "$t")"

# === 4. Secondary IPs: assigned + reload, unassigned + resync ======================================
t=$(now)
sim_scenario "$(EXTRA_IPS="2:10.0.2.12 4:10.0.4.12" scenario "$CLOUD" 2 3 4 5 6 7 8)"
check "reload: systemctl reload eni-agent succeeds" gx "systemctl reload eni-agent 2>&1 || { journalctl -u eni-agent -n 3 -o cat --no-pager; exit 1; }"
both_added() { configured 2 10.0.2.12 && configured 4 10.0.4.12; }
check "reload: the assigned secondary IPs are applied" eventually 30 both_added
check "reload: they answer the client" eventually 20 reachable 10.0.2.12 10.0.4.12
timed "4a secondary IP assigned, reload" "$(since "$t")"
t=$(now)
sim_scenario "$(EXTRA_IPS="4:10.0.4.12" scenario "$CLOUD" 2 3 4 5 6 7 8)"
check "resync: an unassigned secondary IP is removed (resync_interval 30 s)" eventually 45 configured 2
check "resync: the other ENI keeps its added IP" configured 4 10.0.4.12
timed "4b secondary IP unassigned, resync" "$(since "$t")"

# === 5. Unplug ======================================================================================
t=$(now)
T5=$(gx "eni-vm-check table 10.0.5.10") DEV5=$(gx "eni-vm-check iface $(mac 5)")
echo "# ENI 5 is $DEV5, table $T5"
gx "ip -4 rule show | grep -v 'lookup $T5 '" >"$TMP/rules-others.txt"
vm_unplug 5 || not_ok "unplug: device_del eni5 completes (DEVICE_DELETED)"
check "unplug: the link is gone from the guest" eventually 30 gx "test -z \"\$(eni-vm-check iface $(mac 5))\""
sim_scenario "$(EXTRA_IPS="4:10.0.4.12" scenario "$CLOUD" 2 3 4 6 7 8)"
t_drop=$(now)
# The detached ENI's metadata is polled with backoff (250 ms doubling to 4 s, with jitter): one poll
# interval and a pass after the drop, under software emulation.
check "unplug: rules, table routes and files gone within 10 s of the metadata dropping the ENI" \
    eventually 10 gx "eni-vm-check gone $T5 $DEV5 10.0.5.10 10.0.5.11"
timed "5 unplug: gone after the metadata dropped it" "$(since "$t_drop")"
gx "ip -4 rule show" >"$TMP/rules-after.txt"
check "unplug: the other ENIs' rules untouched" diff "$TMP/rules-others.txt" "$TMP/rules-after.txt"
check "unplug: the other ENIs still answer" reachable 10.0.2.10 10.0.4.12 10.0.6.11 10.0.8.10
timed "5 unplug" "$(since "$t")"

# === 7. The journal of the clean scenarios =========================================================
t=$(now)
journal -p warning >"$TMP/journal-warnings.txt"
check "journal: nothing at warning or above from the unit (scenarios 1-5)" bash -c "! test -s $TMP/journal-warnings.txt || { cat $TMP/journal-warnings.txt; exit 1; }"
gx "journalctl -b _SYSTEMD_UNIT=eni-agent.service -o json --no-pager" >"$TMP/journal.json"
check "journal: every line of the unit's processes has a PRIORITY (the prefix's: start 5, configured 6) and no leftover <N>" python3 - "$TMP/journal.json" <<'PY'
import json, sys
bad, known = [], 0
for line in open(sys.argv[1]):
    e = json.loads(line)
    msg = e.get("MESSAGE")
    if isinstance(msg, list):
        msg = bytes(msg).decode(errors="replace")
    if e.get("PRIORITY") not in [str(i) for i in range(8)] or str(msg).startswith("<"):
        bad.append(f"PRIORITY={e.get('PRIORITY')} {msg}")
    # Lines whose level is known: journald filed them at the level of their prefix.
    for pattern, want in ((" started: ", "5"), (" ms after it appeared", "6")):
        if pattern in str(msg):
            known += 1
            if e.get("PRIORITY") != want:
                bad.append(f"PRIORITY={e.get('PRIORITY')}, want {want}: {msg}")
if not known:
    bad.append("no start or configured line found")
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
# journald strips the prefix and files an unprefixed line at info: only the raw stream tells them
# apart. A runtime drop-in sends the unit's stderr to a file (nothing else of the unit changes);
# a restart (start-up) and a reload (a pass) write to it.
gx "mkdir -p /run/systemd/system/eni-agent.service.d && printf '[Service]\nStandardError=file:/run/eni-vm/agent-stderr.log\n' >/run/systemd/system/eni-agent.service.d/lab-stderr.conf && systemctl daemon-reload && systemctl restart eni-agent && systemctl reload eni-agent"
check "journal: a restart and a pass wrote lines to the raw stream" eventually 30 gx "test -s /run/eni-vm/agent-stderr.log"
gx "cat /run/eni-vm/agent-stderr.log" >"$TMP/agent-stderr.txt"
sed 's/^/#   stderr: /' "$TMP/agent-stderr.txt"
check "journal: every line the unit writes carries its <N> priority prefix" bash -c "! grep -v '^<[0-7]>' $TMP/agent-stderr.txt"
gx "rm -r /run/systemd/system/eni-agent.service.d && systemctl daemon-reload && systemctl restart eni-agent"
check "journal: the unit is active again" gx "systemctl is-active eni-agent"
timed "7 journal" "$(since "$t")"

# === 8. The live unit ===============================================================================
t=$(now)
gx "systemd-analyze security eni-agent.service --no-pager" >"$TMP/security.txt" 2>&1
live=$(sed -n 's/.*Overall exposure level for eni-agent.service: \([0-9.]*\).*/\1/p' "$TMP/security.txt")
gx "systemd-analyze security --offline=yes /usr/lib/systemd/system/eni-agent.service --no-pager" >"$TMP/security-offline.txt" 2>&1
offline=$(sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p' "$TMP/security-offline.txt")
echo "# systemd-analyze security in the guest: live $live, offline (the unit file) $offline"
check "unit: systemd-analyze security rates the live unit ($live)" test -n "$live"
check "unit: the live unit is rated as its file ($live = $offline)" test "$live" = "$offline"
# Files in /etc, /usr and /var new, changed or removed since scenario 2 (but for journald's and
# systemd's own state): only the unit's writable paths may be among them.
gx "$FILES | sort | diff /run/eni-vm/files-before.txt - | sed -n 's/^[<>] \(.*\) [^ ]* [^ ]*\$/\1/p' | sort -u" >"$TMP/written.txt"
sed 's/^/#   written: /' "$TMP/written.txt"
check "unit: nothing written outside its ReadWritePaths (/etc/sysctl.d, /etc/sysconfig/network-scripts, /etc/systemd/network)" bash -c \
    "! grep -Ev '^(/etc/sysctl\.d|/etc/sysconfig/network-scripts|/etc/systemd/network)(/|\$)' $TMP/written.txt"
timed "8 live unit" "$(since "$t")"

check "foreign objects: every one still there after scenarios 2-8 (hot-plugs, lag, IP changes, unplug, restart)" foreign_intact

# === 9. systemd-networkd restarts beside the agent =================================================
# The guest runs networkd, so `renderer = "auto"` writes one .network file per secondary ENI
# (05-eni-agent-IF.network, matched by MAC): a restart of networkd applies them, networkd's copies of
# the rules (protocol static) are the agent's own, and nothing is removed as foreign. What the files
# do not hold (the primary ENI's secondary IP: networkd manages the primary with the image's file,
# ManageForeignRoutes=yes) the agent puts back at once.
t=$(now)
check "networkd: status names the renderer auto chose" gx "eni-agent status | grep -q '^renderer: networkd (auto: systemd-networkd is running'"
check "networkd: one .network file per secondary ENI" gx "[ \$(ls /etc/systemd/network/05-eni-agent-*.network | wc -l) = 6 ]"
agents_rules() { gx "ip -4 rule show | grep -E 'proto (234|static)' | grep -vc 'from 10.0.3.99 '"; }
agents_rules >"$TMP/rules-before-networkd.txt"
gx "systemctl restart systemd-networkd && networkctl list --no-pager >/dev/null"
agents_rules >"$TMP/rules-after-networkd.txt"
echo "# rules of eni-agent: $(cat "$TMP/rules-before-networkd.txt") before the restart of systemd-networkd, $(cat "$TMP/rules-after-networkd.txt") right after"
check "networkd restart: no rule of the agent's removed" test "$(cat "$TMP/rules-after-networkd.txt")" = "$(cat "$TMP/rules-before-networkd.txt")"
all_configured() { local n; for n in 2 3 6 7 8; do configured $n || return 1; done; configured 4 10.0.4.12; }
check "networkd restart: every ENI configured again within 5 s" eventually 5 all_configured
check "networkd restart: the primary's secondary IP back within 5 s" eventually 5 gx "ip -4 -o addr | grep -q ' 10.0.1.11/24'"
for n in 2 3 4 6 7 8; do
    check "networkd restart: networkd configures ENI $n from the agent's file" gx \
        "i=\$(eni-vm-check iface $(mac "$n")); networkctl status \$i --no-pager | grep -q \"Network File: /etc/systemd/network/05-eni-agent-\$i.network\""
done
check "networkd restart: one copy of each rule and address" gx "eni-vm-check consistent"
gx "networkctl reload"
configured_and_consistent() { all_configured && gx "eni-vm-check consistent"; }
check "networkctl reload: every ENI still configured, one copy of each object" eventually 5 configured_and_consistent
check "networkd restart: one default route in the main table" eventually 5 one_default
primary=$(gx "eni-vm-check iface $(mac 1)")
gx "networkctl renew $primary"
check "DHCP renewal of the primary: every ENI configured, one copy of each object" eventually 10 configured_and_consistent
check "DHCP renewal of the primary: its secondary IP kept or back" eventually 5 gx "ip -4 -o addr | grep -q ' 10.0.1.11/24'"
timed "9 networkd restart: every ENI configured again" "$(since "$t")"
# Measured, not asserted (issue 14's target: every ENI IP answers again within 1 s of a restart
# of networkd): how long an ENI's address, the agent's rule for it or its table's default route
# is missing around three more restarts, from the kernel's notifications in the guest.
for i in 1 2 3; do
    measure_outage "networkd restart $i/3" "systemctl restart systemd-networkd" \
        10.0.1.11 $(for n in 2 3 6 7 8; do echo "10.0.$n.10 10.0.$n.11"; done) 10.0.4.10 10.0.4.11 10.0.4.12
done
check "networkd restart (measured): one copy of each object" gx "eni-vm-check consistent"

# === 6. kill -9 during a hot-plug; stop during a pass ==============================================
t=$(now)
sim_scenario "$(EXTRA_IPS="4:10.0.4.12" scenario "$CLOUD" 2 3 4 6 7 8 9 10)"
vm_plug 9 10 || abort "kill: device_add eni9, eni10"
gx "systemctl kill -s KILL eni-agent"
check "kill: systemd restarts the agent" eventually 60 gx "[ \$(systemctl show -p NRestarts --value eni-agent) -ge 1 ] && systemctl is-active eni-agent"
for n in 2 3 6 7 8 9 10; do check "kill: ENI $n converges" eventually 60 configured $n; done
check "kill: ENI 4 converges" eventually 30 configured 4 10.0.4.12
check "kill: no duplicate rule or address, every rule with its address" gx "eni-vm-check consistent"
check "kill: the new ENIs answer the client" eventually 20 reachable 10.0.9.10 10.0.9.11 10.0.10.10 10.0.10.11
timed "6a kill -9 during a hot-plug" "$(since "$t")"
t=$(now)
sim_scenario "$(EXTRA_IPS="4:10.0.4.12 2:10.0.2.13 3:10.0.3.13 6:10.0.6.13 7:10.0.7.13" scenario "$CLOUD" 2 3 4 6 7 8 9 10)"
# SIGHUP straight from the guest's shell (a pass now, whatever ExecReload does), then stop.
gx "kill -HUP \$(systemctl show -p MainPID --value eni-agent); systemctl stop eni-agent; systemctl show -p ExecMainStatus -p ExecMainCode -p Result eni-agent" >"$TMP/stop.txt"
sed 's/^/#   /' "$TMP/stop.txt"
check "stop during a pass: exit status 0" grep -qx "ExecMainStatus=0" "$TMP/stop.txt"
check "stop during a pass: Result=success" grep -qx "Result=success" "$TMP/stop.txt"
check "stop during a pass: nothing half-applied (every address with its rule and back)" gx "eni-vm-check consistent"
gx "systemctl start eni-agent"
for n in 2 3 6 7; do check "restart: ENI $n gets its new IP" eventually 60 configured $n 10.0.$n.13; done
timed "6b stop during a pass" "$(since "$t")"

journal >"$TMP/journal.txt"
gx "journalctl -b --no-pager" >"$TMP/guest-journal.txt" 2>&1

# === 10. A reboot with the agent stopped and disabled ===============================================
# The ENIs stay attached: the guest boots with each NIC in the PCI slot it had (so udev names it
# as before), and networkd brings every secondary ENI back from the agent's files alone.
t=$(now)
all_ips() { local n; for n in 2 3 6 7; do configured $n 10.0.$n.13 || return 1; done; configured 4 10.0.4.12 && configured 8 && configured 9 && configured 10; }
check "reboot: every ENI configured before" all_ips
pin_slots 1 2 3 4 6 7 8 9 10 >"$TMP/slots.txt" || abort "reboot: the PCI slots of the NICs" "$(cat "$TMP/slots.txt")"
echo "# PCI slots: $(for n in "${!NIC_ADDR[@]}"; do printf 'eni%s=%s ' "$n" "${NIC_ADDR[$n]}"; done)"
gx "systemctl disable --now eni-agent 2>/dev/null && sync"
vm_stop
vm_start "$TMP/disk.raw" "$BASE.vmlinuz" "$BASE.initrd" "$CLOUD" 1 2 3 4 6 7 8 9 10 || abort "reboot: QEMU starts" "$(cat "$TMP/qemu.out")"
$VMCTL --qga "$TMP/qga.sock" --timeout 300 ping || abort "reboot: the guest agent answers" "$(tail -30 "$TMP/console.log")"
check "reboot: eni-agent is not running" gx "! systemctl is-active -q eni-agent"
check "reboot: every secondary ENI's addresses, table and rules back from the files alone" eventually 60 all_ips
check "reboot: one copy of each rule and address" gx "eni-vm-check consistent"
check "reboot: the secondary ENIs' IPs answer the client" eventually 20 reachable 10.0.2.13 10.0.4.12 10.0.9.10 10.0.10.11
# Started afterwards, the agent has nothing to do for them (the primary ENI's secondary IP is not in
# any file: networkd manages the primary with the image's own file).
gx "eni-agent diff >/run/eni-vm/diff.txt 2>&1; echo \$? >/run/eni-vm/diff.rc"
gx "cat /run/eni-vm/diff.txt" >"$TMP/reboot-diff.txt"
sed 's/^/#   diff: /' "$TMP/reboot-diff.txt"
check "reboot: eni-agent diff wants nothing for a secondary ENI (only the primary's secondary IP)" bash -c \
    "! awk '/^# /{ h=\$0; next } /^[-+] /{ print h }' $TMP/reboot-diff.txt | grep -v ', primary\$'"
gx "systemctl enable --now eni-agent 2>/dev/null"
check "reboot: the agent started again puts the primary's secondary IP back" eventually 30 gx "ip -4 -o addr | grep -q ' 10.0.1.11/24'"
ips_and_consistent() { all_ips && gx "eni-vm-check consistent"; }
check "reboot: and changes nothing else" ips_and_consistent
timed "10 reboot with the agent disabled" "$(since "$t")"
timed "total" "$(since "$T_ALL")"
finish

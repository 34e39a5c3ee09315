#!/usr/bin/env bash
# The VM lab's base guest: a Debian root from debootstrap, configured, cached under CACHE_DIR in a
# directory named by a hash of its inputs (this script, the suite, the guest variant). Prints the
# directory's path on stdout; a second call with the same inputs reuses it.
#
# Usage: Tests/vm/image.sh CACHE_DIR [VARIANT]
#   VARIANT: networkd (default): systemd-networkd manages the primary NIC (52:54:00:00:01:0a) with
#   a static 10.0.1.10/24, gateway 10.0.1.1.
#   nm: NetworkManager with Debian's default configuration (no networkd): every NIC without a
#   profile gets an automatic DHCP profile ("Wired connection N"), the primary NIC too, as RHEL 9,
#   Rocky, TencentOS 4 and Alibaba Cloud Linux 3 images run it.
# Needs root (debootstrap, chroot). Nothing is mounted: configuration is file edits and
# `systemctl --root`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
CACHE=${1:?usage: image.sh CACHE_DIR [VARIANT]}
VARIANT=${2:-networkd}
SUITE=bookworm

# The guest's packages: kernel, init, udev, the tools the lab runs in the guest, the guest agent,
# and the eni-agent .deb's Depends (installed later, offline, with apt as an operator would).
PACKAGES=linux-image-amd64,systemd,systemd-sysv,udev,dbus,iproute2,iputils-ping,kmod,qemu-guest-agent,libnl-3-200,libnl-route-3-200,libcurl4

# nm: network-manager, and libpam-systemd for the logind that its polkitd depends on.
case "$VARIANT" in nm) PACKAGES=$PACKAGES,network-manager,libpam-systemd ;; esac

key=$( { cat "$0"; echo "$SUITE $VARIANT $PACKAGES"; } | sha256sum | cut -c1-16)
# Absolute, so that the stale bases found below compare with $BASE and $WORK.
CACHE=$(mkdir -p "$CACHE" && cd "$CACHE" && pwd)
BASE=$CACHE/base-$VARIANT-$key
if [ -e "$BASE/.complete" ]; then
    echo "# image: cached base $BASE" >&2
    echo "$BASE"
    exit 0
fi

# The mirror apt uses on this machine (as Tests/integration/packages.sh finds it).
MIRROR=$(apt-cache policy | awk -v s="$SUITE/main" '$3 == s && $2 ~ /^https?:/ { print $2; exit }')
MIRROR=${MIRROR:-http://deb.debian.org/debian}
WORK=$BASE.tmp.$$
# debootstrap mounts /proc and /sys in the root while it configures packages and unmounts them at
# the end; if it was interrupted, unmount what is left before removing anything, never rm through
# a mount.
cleanup() {
    local m
    for m in $(awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/self/mounts | sort -r); do umount -l "$m"; done
    if grep -q " $WORK/" /proc/self/mounts; then echo "image: left $WORK: mounts remain" >&2; else rm -rf "$WORK" "$WORK.vmlinuz" "$WORK.initrd"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
start=$(date +%s)
echo "# image: debootstrap --variant=minbase $SUITE from $MIRROR into $WORK" >&2
if ! debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$WORK" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1; then
    tail -30 "$CACHE/debootstrap.log" >&2
    echo "image: debootstrap failed (whole log: $CACHE/debootstrap.log)" >&2
    exit 1
fi

R=$WORK
echo eni-vm >"$R/etc/hostname"
cat >"$R/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	eni-vm
# Tencent Cloud's metadata endpoint by name (the lab's VPC serves it at this address).
169.254.0.23	metadata.tencentyun.com
EOF
echo '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$R/etc/fstab"
chroot "$R" passwd -d root >/dev/null
# A machine ID of its own (an empty one would make the first boot run systemd-firstboot's prompts).
systemd-machine-id-setup --root="$R" >/dev/null 2>&1 || dbus-uuidgen >"$R/etc/machine-id"
systemctl --root="$R" mask systemd-firstboot.service >/dev/null 2>&1
# The kernel and initrd QEMU boots directly (-kernel/-initrd), next to the root.
cp "$(ls "$R"/boot/vmlinuz-* | sort -V | tail -1)" "$WORK.vmlinuz"
cp "$(ls "$R"/boot/initrd.img-* | sort -V | tail -1)" "$WORK.initrd"
rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/*_Packages

configure_variant() {
    case "$VARIANT" in
    networkd)
        mkdir -p "$R/etc/systemd/network"
        cat >"$R/etc/systemd/network/10-primary.network" <<'EOF'
# The primary ENI, matched by MAC; the secondary ENIs are left to eni-agent (no .network matches them).
[Match]
MACAddress=52:54:00:00:01:0a

[Network]
Address=10.0.1.10/24
Gateway=10.0.1.1
EOF
        systemctl --root="$R" enable systemd-networkd.service systemd-networkd-wait-online.service >/dev/null 2>&1
        ;;
    nm)
        # Debian's own NetworkManager.conf (plugins=ifupdown,keyfile; ifupdown unmanaged, and there
        # is no /etc/network/interfaces): NetworkManager manages every NIC. Its DHCP client is its
        # internal one. networkd stays disabled.
        systemctl --root="$R" enable NetworkManager.service NetworkManager-wait-online.service >/dev/null 2>&1
        ;;
    *) echo "image: unknown variant $VARIANT" >&2; return 1 ;;
    esac
}
configure_variant

touch "$R/.complete"
# Bases of this variant built from other inputs are stale: remove them (never through a mount).
for old in "$CACHE"/base-"$VARIANT"-*; do
    case "$old" in "$BASE"|"$BASE".*|"$WORK"*) continue ;; esac
    grep -q " $old/" /proc/self/mounts || rm -rf "$old"
done
rm -rf "$BASE" "$BASE.vmlinuz" "$BASE.initrd"
mv "$WORK.vmlinuz" "$BASE.vmlinuz"
mv "$WORK.initrd" "$BASE.initrd"
mv "$WORK" "$BASE"
echo "# image: built $BASE in $(( $(date +%s) - start )) s" >&2
echo "$BASE"

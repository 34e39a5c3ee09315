#!/usr/bin/env bash
# Checks of the packages `make package` builds:
#   - lintian on the .deb: no error and no warning (the accepted informational tags are listed in
#     packaging/README.md); rpmlint on the .rpm with packaging/rpm/rpmlint.toml: no error, no warning;
#   - the .deb's and the .rpm's version, files, config files, dependencies and scripts; both carry
#     the same binary;
#   - install test: a fresh Debian root from debootstrap (minbase plus the .deb's Depends, from the
#     machine's configured mirror); inside it the .deb installs, enables (not starts) the unit,
#     `eni-agent --version` runs, and `eni-agent diff` / `reconfigure` run against the metadata
#     simulator from within a lab network namespace; a reinstall keeps an edited config; removal
#     leaves nothing but the config, purge leaves nothing.
# Usage: Tests/integration/packages.sh DEB RPM ENI-METADATA-SIM
# Needs root (debootstrap, chroot, namespaces); without it the tests are reported as skipped.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=checks.sh
. "$here/checks.sh"
usage="usage: packages.sh DEB RPM ENI-METADATA-SIM"
DEB=$(abs "${1:?$usage}")
RPM=$(abs "${2:?$usage}")
SIM=$(abs "${3:?$usage}")
VERSION=$(sed -n 's/^public let eniAgentVersion = "\(.*\)"$/\1/p' "$repo/Sources/ENIAgent/Version.swift")

LAB=eni-pk-$$
# shellcheck source=lab.sh
. "$here/lab.sh"
TMP=$(mktemp -d /tmp/eni-agent-pk.XXXXXX)
ROOT=$TMP/debian
SIM_PID=
cleanup() {
    [ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; wait 2>/dev/null
    lab_destroy
    # Nothing is mounted in $ROOT outside a namespace of its own, but never rm through a mount.
    if ! grep -q " $ROOT/" /proc/self/mounts; then rm -rf "$TMP"; else echo "left $TMP: mounts remain" >&2; fi
}
trap cleanup EXIT INT TERM
skip_unless_root "package tests"

# --- The changelog the packages are given ---------------------------------------------------------
printf '# Changelog\n\n## 0.2.0 (2026-12-01)\n\n- New.\n\n## 0.1 (2026-11-21)\n\n- Old.\n' >"$TMP/bad-changelog.md"
check "changelog: a malformed heading is rejected, naming the file and line" bash -c \
    "! python3 '$repo/packaging/changelog.py' '$TMP/bad-changelog.md' debian 2>$TMP/changelog.err && grep -q 'bad-changelog.md:7: heading .## 0.1 (2026-11-21). is not' $TMP/changelog.err"
check "changelog: CHANGELOG.md's newest entry is $VERSION" \
    test "$(python3 "$repo/packaging/changelog.py" "$repo/CHANGELOG.md" version)" = "$VERSION"

# --- Linters ------------------------------------------------------------------------------------
lintian --allow-root --display-info --pedantic "$DEB" >"$TMP/lintian.out" 2>&1
cat "$TMP/lintian.out"
check "deb: lintian reports no error and no warning" bash -c "! grep -E '^(E|W): ' $TMP/lintian.out"
rpmlint -c "$repo/packaging/rpm/rpmlint.toml" "$RPM" >"$TMP/rpmlint.out" 2>&1
grep -E ': (E|W): |errors,' "$TMP/rpmlint.out"
check "rpm: rpmlint reports 0 errors and 0 warnings" grep -q ' 0 errors, 0 warnings' "$TMP/rpmlint.out"

# --- .deb metadata ------------------------------------------------------------------------------
check "deb: version is eni-agent --version's ($VERSION)" test "$(dpkg-deb -f "$DEB" Version)" = "$VERSION"
depends=$(dpkg-deb -f "$DEB" Depends | sed 's/ ([^)]*)//g; s/, /\n/g' | LC_ALL=C sort | tr '\n' ' ')
check "deb: Depends is libc6, libcurl4, libnl-3-200, libnl-route-3-200 ($depends)" \
    test "$depends" = "libc6 libcurl4 libnl-3-200 libnl-route-3-200 "
check "deb: the config is a conffile" bash -c "dpkg-deb --ctrl-tarfile '$DEB' | tar -xO ./conffiles | grep -qx /etc/eni-agent/eni-agent.toml"

# --- .rpm metadata ------------------------------------------------------------------------------
check "rpm: version is $VERSION-1" test "$(rpm -qp --qf '%{VERSION}-%{RELEASE}' "$RPM")" = "$VERSION-1"
rpm -qlp "$RPM" | grep -v '^/usr/lib/\.build-id' >"$TMP/rpm-files"
cat >"$TMP/rpm-expected" <<'LIST'
/etc/eni-agent
/etc/eni-agent/eni-agent.toml
/usr/lib/systemd/system-preset/80-eni-agent.preset
/usr/lib/systemd/system/eni-agent.service
/usr/sbin/eni-agent
/usr/share/bash-completion/completions/eni-agent
/usr/share/doc/eni-agent
/usr/share/doc/eni-agent/CHANGELOG.md
/usr/share/licenses/eni-agent
/usr/share/licenses/eni-agent/LICENSE
/usr/share/man/man8/eni-agent.8.gz
/usr/share/zsh/site-functions/_eni-agent
LIST
check "rpm: rpm -qlp lists exactly the expected files" diff "$TMP/rpm-expected" "$TMP/rpm-files"
check "rpm: the config is %config(noreplace)" bash -c \
    "rpm -qp --qf '[%{FILEFLAGS:fflags} %{FILENAMES}\n]' '$RPM' | grep -qx 'cn /etc/eni-agent/eni-agent.toml'"
rpm -qRp "$RPM" >"$TMP/rpm-requires"
for req in libnl3 libcurl 'libnl-3.so.200()(64bit)' 'libnl-route-3.so.200()(64bit)' 'libcurl.so.4()(64bit)' systemd; do
    check "rpm: requires $req" grep -qxF "$req" "$TMP/rpm-requires"
done
check "rpm: no library requirement beyond libnl-3, libnl-route-3, libcurl and glibc" bash -c \
    "! grep '\.so' $TMP/rpm-requires | grep -Ev '^($(paste -sd'|' "$repo/packaging/libraries"))[(]'"
rpm -qp --scripts "$RPM" >"$TMP/rpm-scripts"
check "rpm: %post presets (enables) the unit without starting it" bash -c \
    "sed -n '/^postinstall/,/^preuninstall/p' $TMP/rpm-scripts | grep -q 'systemctl --no-reload preset eni-agent.service' && ! sed -n '/^postinstall/,/^preuninstall/p' $TMP/rpm-scripts | grep -Eq 'systemctl.* (start|restart|--now)'"
check "rpm: %preun stops and disables the unit on removal" grep -q 'systemctl --no-reload disable --now eni-agent.service' "$TMP/rpm-scripts"
check "rpm: the preset enables the unit" bash -c \
    "cd $TMP && rpm2cpio '$RPM' | cpio -idm --quiet './usr/lib/systemd/system-preset/*' './usr/sbin/eni-agent' && grep -qx 'enable eni-agent.service' usr/lib/systemd/system-preset/80-eni-agent.preset"
mkdir -p "$TMP/deb-x" && dpkg-deb -x "$DEB" "$TMP/deb-x"
check "deb and rpm carry the same binary" cmp "$TMP/usr/sbin/eni-agent" "$TMP/deb-x/usr/sbin/eni-agent"

# --- Install test in a fresh Debian root ---------------------------------------------------------
SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$SUITE" ] || { not_ok "no VERSION_CODENAME in /etc/os-release"; echo "$pass passed, $fail failed"; exit 1; }
# The mirror apt uses on this machine for the suite's main component.
MIRROR=$(apt-cache policy | awk -v s="$SUITE/main" '$3 == s && $2 ~ /^https?:/ { print $2; exit }')
MIRROR=${MIRROR:-http://deb.debian.org/debian}
include=$(dpkg-deb -f "$DEB" Depends | sed 's/ ([^)]*)//g; s/, /,/g')
echo "# debootstrap --variant=minbase --include=$include $SUITE from $MIRROR"
if ! debootstrap --variant=minbase --include="$include" "$SUITE" "$ROOT" "$MIRROR" >"$TMP/debootstrap.out" 2>&1; then
    not_ok "debootstrap $SUITE from $MIRROR" "$(tail -20 "$TMP/debootstrap.out")"
    echo "$pass passed, $fail failed"; exit 1
fi
ok "debootstrap: a minbase $SUITE root"

# snapshot: every path in the root but dpkg's own database, logs, caches and scratch directories.
snapshot() {
    (cd "$ROOT" && find . -xdev \( -path ./proc -o -path ./sys -o -path ./dev -o -path ./run -o -path ./tmp \
        -o -path ./var/lib/dpkg -o -path ./var/log -o -path ./var/cache \) -prune -o -print | LC_ALL=C sort)
}
# in_root CMD...: CMD chrooted in the root, with a /proc of its own (the Swift runtime reads its
# arguments from /proc/self/cmdline) in a private mount namespace that ends with the command.
CHROOT_SH='mount -t proc proc "$0/proc" && exec chroot "$0" "$@"'
in_root() { unshare --mount --propagation private sh -c "$CHROOT_SH" "$ROOT" "$@"; }
snapshot >"$TMP/before"
cp "$DEB" "$ROOT/tmp/eni-agent.deb"
check "install: dpkg -i succeeds" in_root dpkg -i /tmp/eni-agent.deb
check "install: eni-agent --version prints $VERSION" test "$(in_root /usr/sbin/eni-agent --version)" = "$VERSION"
for f in /usr/sbin/eni-agent /usr/lib/systemd/system/eni-agent.service /etc/eni-agent/eni-agent.toml \
    /usr/share/man/man8/eni-agent.8.gz /usr/share/bash-completion/completions/eni-agent \
    /usr/share/zsh/vendor-completions/_eni-agent /usr/share/doc/eni-agent/copyright /usr/share/doc/eni-agent/changelog.gz; do
    check "install: $f" test -f "$ROOT$f"
done
# (deb-systemd-helper links to /lib/systemd/system, the same directory on a merged-/usr system)
check "install: the unit is enabled (multi-user.target.wants)" \
    test "$(in_root readlink -f /etc/systemd/system/multi-user.target.wants/eni-agent.service)" = /usr/lib/systemd/system/eni-agent.service
check "install: the config is registered as a conffile" bash -c "chroot $ROOT dpkg-query -W -f='\${Conffiles}' eni-agent | grep -q '/etc/eni-agent/eni-agent.toml'"

# The installed binary against the simulator, from within the lab's VM namespace.
lab_create || { not_ok "lab set-up"; echo "$pass passed, $fail failed"; exit 1; }
PORT=8080
URL=http://127.0.0.1:$PORT/latest/meta-data/
ip netns exec "$VM" "$SIM" --scenario "$repo/examples/scenario-tencent.json" --listen 127.0.0.1:$PORT >"$TMP/sim.out" 2>&1 &
SIM_PID=$!
for _ in $(seq 200); do grep -q "^listening on" "$TMP/sim.out" && break; sleep 0.05; done
agent_in_root() {
    ip netns exec "$VM" unshare --mount --propagation private sh -c "$CHROOT_SH" "$ROOT" \
        /usr/sbin/eni-agent "$@" --provider tencent --metadata-url "$URL" --root /tmp/eni-root
}
mkdir -p "$ROOT/tmp/eni-root"
agent_in_root diff >"$TMP/diff1.out" 2>&1; rc=$?
check "run: diff in the root exits 2 with the ENIs' rules pending" bash -c \
    "[ $rc = 2 ] && grep -q '^+ ip rule add from 10.0.2.11 lookup 10001 priority 10001 protocol 234$' $TMP/diff1.out || { cat $TMP/diff1.out; exit 1; }"
agent_in_root reconfigure >"$TMP/reconf.out" 2>&1; rc=$?
check "run: reconfigure in the root exits 0" bash -c "[ $rc = 0 ] || { cat $TMP/reconf.out; exit 1; }"
agent_in_root diff >"$TMP/diff2.out" 2>&1; rc=$?
check "run: diff afterwards exits 0" bash -c "[ $rc = 0 ] || { cat $TMP/diff2.out; exit 1; }"
check "run: the rule is in the VM namespace's kernel" bash -c \
    "ip -n $VM -4 rule show | grep -q 'from 10.0.2.11 lookup 10001 proto 234'"
rm -rf "$ROOT/tmp/eni-root" "$ROOT/tmp/eni-agent.deb"

# Reinstall over an edited config: the edit stays.
echo "# local edit" >>"$ROOT/etc/eni-agent/eni-agent.toml"
cp "$DEB" "$ROOT/tmp/eni-agent.deb"
check "reinstall: dpkg -i succeeds" in_root dpkg -i /tmp/eni-agent.deb
check "reinstall: the edited config is kept" grep -qx "# local edit" "$ROOT/etc/eni-agent/eni-agent.toml"
rm -f "$ROOT/tmp/eni-agent.deb"

check "remove: dpkg -r succeeds" in_root dpkg -r eni-agent
snapshot >"$TMP/after-remove"
diff "$TMP/before" "$TMP/after-remove" >"$TMP/remove.diff"
printf '%s\n' '> ./etc/eni-agent' '> ./etc/eni-agent/eni-agent.toml' >"$TMP/remove.expected"
check "remove: only the config is left" bash -c "diff <(grep '^[<>]' $TMP/remove.diff) $TMP/remove.expected"
check "remove: the unit is no longer enabled" test ! -e "$ROOT/etc/systemd/system/multi-user.target.wants/eni-agent.service"
check "purge: dpkg --purge succeeds" in_root dpkg --purge eni-agent
snapshot >"$TMP/after-purge"
check "purge: the root is as before the install" diff "$TMP/before" "$TMP/after-purge"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

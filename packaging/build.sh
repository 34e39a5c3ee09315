#!/usr/bin/env bash
# Build the .deb and the .rpm from one release binary.
#   usage: packaging/build.sh BIN MANPAGE OUTDIR
# BIN is the release build (static Swift stdlib), MANPAGE the page swift-argument-parser generated
# from the CLI. The version comes from `BIN --version` (Sources/ENIAgent/Version.swift) and must
# equal CHANGELOG.md's newest entry. Writes OUTDIR/eni-agent_<version>_<arch>.deb and
# OUTDIR/eni-agent-<version>-1.<arch>.rpm.
set -euo pipefail

die() { echo "package: $*" >&2; exit 1; }
[ $# -eq 3 ] || die "usage: $0 BIN MANPAGE OUTDIR"
BIN=$1 MANPAGE=$2 OUTDIR=$3
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(dirname "$HERE")
[ -x "$BIN" ] || die "no binary at $BIN (run make release)"
[ -s "$MANPAGE" ] || die "no man page at $MANPAGE"

# Dynamic dependencies: the distribution's libnl-3, libnl-route-3, libcurl and glibc only, as
# packaging/libraries lists them (one soname pattern per line; the package test reads it too).
allowed="^($(paste -sd'|' "$HERE/libraries"))\$"
needed=$(readelf -d "$BIN" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
extra=$(grep -Ev "$allowed" <<<"$needed" || true)
[ -z "$extra" ] || die "$BIN needs libraries outside libnl-3, libnl-route-3, libcurl and libc: $(echo $extra)"

WORK=$(mktemp -d /tmp/eni-agent-package.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
umask 022

STRIPPED=$WORK/eni-agent
strip --strip-all --remove-section=.comment --remove-section=.note -o "$STRIPPED" "$BIN"
VERSION=$("$STRIPPED" --version) || die "$BIN --version failed"
CHANGELOG_VERSION=$(python3 "$HERE/changelog.py" "$TOP/CHANGELOG.md" version)
[ "$VERSION" = "$CHANGELOG_VERSION" ] ||
    die "eni-agent --version says $VERSION but CHANGELOG.md's newest entry is $CHANGELOG_VERSION: add a '## $VERSION (date)' entry"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(python3 "$HERE/changelog.py" "$TOP/CHANGELOG.md" epoch)}

# The files both packages carry, at the same paths.
stage_common() {
    local root=$1
    install -D -m 0755 "$STRIPPED" "$root/usr/sbin/eni-agent"
    install -D -m 0644 "$TOP/systemd/eni-agent.service" "$root/usr/lib/systemd/system/eni-agent.service"
    install -D -m 0644 "$TOP/packaging/eni-agent.toml" "$root/etc/eni-agent/eni-agent.toml"
    install -d -m 0755 "$root/usr/share/man/man8"
    gzip -9n <"$MANPAGE" >"$root/usr/share/man/man8/eni-agent.8.gz"
    install -d -m 0755 "$root/usr/share/bash-completion/completions"
    # bash-completion sources the script: no interpreter line.
    "$STRIPPED" --generate-completion-script bash | sed '1{/^#!/d}' >"$root/usr/share/bash-completion/completions/eni-agent"
}

# --- .deb -------------------------------------------------------------------------------------
DEB_ARCH=$(dpkg --print-architecture)
DEB=$WORK/deb
stage_common "$DEB"
install -d -m 0755 "$DEB/usr/share/zsh/vendor-completions" "$DEB/usr/share/doc/eni-agent" "$DEB/DEBIAN"
"$STRIPPED" --generate-completion-script zsh >"$DEB/usr/share/zsh/vendor-completions/_eni-agent"
install -m 0644 "$HERE/deb/copyright" "$DEB/usr/share/doc/eni-agent/copyright"
python3 "$HERE/changelog.py" "$TOP/CHANGELOG.md" debian | gzip -9n >"$DEB/usr/share/doc/eni-agent/changelog.gz"

# Depends, generated from the binary's NEEDED entries by dpkg-shlibdeps (with the versions the
# symbols need); it reads a debian/control, so it runs in a scratch source tree.
mkdir -p "$WORK/src/debian"
printf 'Source: eni-agent\n\nPackage: eni-agent\nArchitecture: any\n' >"$WORK/src/debian/control"
DEPENDS=$(cd "$WORK/src" && dpkg-shlibdeps -O "-e$DEB/usr/sbin/eni-agent" 2>"$WORK/shlibdeps.err" |
    sed -n 's/^shlibs:Depends=//p') || { cat "$WORK/shlibdeps.err" >&2; die "dpkg-shlibdeps failed"; }
[ -n "$DEPENDS" ] || die "dpkg-shlibdeps found no dependencies"

install -m 0644 "$HERE/deb/conffiles" "$DEB/DEBIAN/conffiles"
install -m 0755 "$HERE/deb/postinst" "$HERE/deb/prerm" "$HERE/deb/postrm" "$DEB/DEBIAN/"
(cd "$DEB" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' |
    LC_ALL=C sort -z | xargs -0 md5sum >DEBIAN/md5sums)
INSTALLED_SIZE=$(du -sk --exclude=DEBIAN "$DEB" | cut -f1)
sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$DEB_ARCH/" -e "s/@INSTALLED_SIZE@/$INSTALLED_SIZE/" \
    -e "s/@DEPENDS@/$DEPENDS/" "$HERE/deb/control.in" >"$DEB/DEBIAN/control"
chmod 0644 "$DEB/DEBIAN/control" "$DEB/DEBIAN/md5sums"
find "$DEB" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$OUTDIR"
DEB_FILE=$OUTDIR/eni-agent_${VERSION}_${DEB_ARCH}.deb
dpkg-deb --root-owner-group -Zxz --build "$DEB" "$DEB_FILE" >/dev/null

# --- .rpm -------------------------------------------------------------------------------------
RPM_ARCH=$(uname -m)
RPM=$WORK/rpm-root
stage_common "$RPM"
install -d -m 0755 "$RPM/usr/share/zsh/site-functions"
"$STRIPPED" --generate-completion-script zsh >"$RPM/usr/share/zsh/site-functions/_eni-agent"
install -D -m 0644 "$HERE/rpm/80-eni-agent.preset" "$RPM/usr/lib/systemd/system-preset/80-eni-agent.preset"
mkdir -p "$WORK/docs" "$WORK/rpmbuild"
cp "$TOP/LICENSE" "$TOP/CHANGELOG.md" "$WORK/docs/"
{ cat "$HERE/rpm/eni-agent.spec"; python3 "$HERE/changelog.py" "$TOP/CHANGELOG.md" rpm; } >"$WORK/eni-agent.spec"
RPM_FILE=$OUTDIR/eni-agent-${VERSION}-1.${RPM_ARCH}.rpm
rpmbuild -bb --quiet --target "$RPM_ARCH" \
    --define "_topdir $WORK/rpmbuild" \
    --define "_rpmdir $WORK/rpms" \
    --define "_build_name_fmt %%{NAME}-%%{VERSION}-%%{RELEASE}.%%{ARCH}.rpm" \
    --define "_docdir_fmt %%{NAME}" \
    --define "eni_version $VERSION" \
    --define "packager eni-agent maintainers <eni-agent@lists.example.org>" \
    --define "eni_stage $RPM" \
    --define "eni_docs $WORK/docs" \
    --define "use_source_date_epoch_as_buildtime 1" \
    --define "clamp_mtime_to_source_date_epoch 1" \
    "$WORK/eni-agent.spec" >"$WORK/rpmbuild.log" 2>&1 || { cat "$WORK/rpmbuild.log" >&2; die "rpmbuild failed"; }
mv "$WORK/rpms/eni-agent-${VERSION}-1.${RPM_ARCH}.rpm" "$RPM_FILE"

echo "$DEB_FILE"
echo "$RPM_FILE"

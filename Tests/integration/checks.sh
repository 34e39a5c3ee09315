# shellcheck shell=bash
# The integration scripts' checks: "ok - NAME" / "not ok - NAME" lines and the counts.
# Needs $TMP (a scratch directory) before the first check.
pass=0 fail=0

# skip_unless_root WHAT: without root, report the whole script as skipped and exit 0.
skip_unless_root() {
    [ "$(id -u)" = 0 ] && return 0
    echo "SKIP $1: they need root to create network namespaces"
    echo "0 passed, 0 failed, 1 skipped"
    exit 0
}

ok() { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $1"; shift; for l in "$@"; do echo "    $l"; done; }
check() { # check NAME COMMAND...: passes when the command succeeds
    local name=$1; shift
    if "$@" >"$TMP/check.out" 2>&1; then ok "$name"; else not_ok "$name" "$(head -c 2000 "$TMP/check.out")"; fi
}

# abs PATH: the absolute path of an existing file.
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }

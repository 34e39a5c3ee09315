#!/usr/bin/env bash
# The one-shot job on the bundled example (examples/instance.json), in throwaway namespaces:
# diff, reconfigure, diff again, then the resulting rules, tables, addresses and files.
# Nothing outside its namespaces and its temp root changes; both are removed at the end.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
BIN=${1:?usage: demo.sh PATH-TO-ENI-AGENT}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
[ "$(id -u)" = 0 ] || { echo "make demo needs root: it creates network namespaces" >&2; exit 1; }

LAB=eni-demo-$$
# shellcheck source=../Tests/integration/lab.sh
. "$repo/Tests/integration/lab.sh"
ROOT=$(mktemp -d /tmp/eni-agent-demo.XXXXXX)
trap 'lab_destroy; rm -rf "$ROOT"' EXIT INT TERM
lab_create || { echo "could not create the demo namespaces" >&2; exit 1; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; echo "(exit $?)"; }
agent() { ip netns exec "$VM" "$BIN" "$@" --root "$ROOT" --metadata-file "$repo/examples/instance.json" --config /dev/null; }

say "A VM namespace ($VM): eth0 configured as an image boots it, eth1 and eth2 just attached"
ip -n "$VM" -br link show | grep eth
ip -n "$VM" -br -4 addr show | grep eth
say "The instance's metadata (examples/instance.json)"
cat "$repo/examples/instance.json"
say "Before: the client cannot reach the secondary ENIs' IPs"
for ip in 10.0.2.10 10.0.3.10; do lab_ping "$ip" && echo "$ip reachable" || echo "$ip unreachable"; done

say "eni-agent diff: what would change (exit 2 = changes pending)"
run agent diff
say "eni-agent reconfigure"
run agent reconfigure
say "eni-agent diff again: nothing left to do (exit 0)"
run agent diff

say "ip rule"
ip -n "$VM" -4 rule show
for t in 10001 10002; do say "ip route show table $t"; ip -n "$VM" -4 route show table "$t"; done
say "ip -4 addr"
ip -n "$VM" -br -4 addr show | grep eth
say "Files written below the demo root ($ROOT)"
for f in $(cd "$ROOT" && find etc -type f | sort); do echo "--- /$f"; cat "$ROOT/$f"; done
say "After: the client reaches every IP through the strict router"
for ip in 10.0.1.10 10.0.1.11 10.0.2.10 10.0.2.11 10.0.2.12 10.0.3.10 10.0.3.11; do
    lab_ping "$ip" && echo "$ip reachable" || echo "$ip UNREACHABLE"
done

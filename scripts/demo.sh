#!/usr/bin/env bash
# The one-shot job in throwaway namespaces, against the metadata simulator serving Tencent Cloud's
# tree for the bundled scenario (examples/scenario-tencent.json) on the VM namespace's loopback:
# diff, reconfigure, diff again, then the resulting rules, tables, addresses and files.
# Nothing outside its namespaces and its temp root changes; both are removed at the end.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
BIN=$(abs "${1:?usage: demo.sh PATH-TO-ENI-AGENT PATH-TO-ENI-METADATA-SIM}")
SIM=$(abs "${2:?usage: demo.sh PATH-TO-ENI-AGENT PATH-TO-ENI-METADATA-SIM}")
[ "$(id -u)" = 0 ] || { echo "make demo needs root: it creates network namespaces" >&2; exit 1; }

LAB=eni-demo-$$
# shellcheck source=../Tests/integration/lab.sh
. "$repo/Tests/integration/lab.sh"
ROOT=$(mktemp -d /tmp/eni-agent-demo.XXXXXX)
SIM_PID=
trap '[ -n "$SIM_PID" ] && kill "$SIM_PID" 2>/dev/null; wait 2>/dev/null; lab_destroy; rm -rf "$ROOT"' EXIT INT TERM
lab_create || { echo "could not create the demo namespaces" >&2; exit 1; }
SCENARIO=$repo/examples/scenario-tencent.json
URL=http://127.0.0.1:8080/latest/meta-data/
ip netns exec "$VM" "$SIM" --scenario "$SCENARIO" --listen 127.0.0.1:8080 >"$ROOT/sim.out" 2>&1 &
SIM_PID=$!
for _ in $(seq 200); do grep -q "^listening on" "$ROOT/sim.out" && break; sleep 0.05; done
grep -q "^listening on" "$ROOT/sim.out" || { echo "the metadata simulator did not start:" >&2; cat "$ROOT/sim.out" >&2; exit 1; }
rm "$ROOT/sim.out"
meta() { ip netns exec "$VM" curl -s "$URL$1"; echo; }
stats() {
    ip netns exec "$VM" curl -s "http://127.0.0.1:8080/_sim/stats" |
        python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["requests"], "metadata requests over", s["connections"], "connections")'
}
reset_stats() { ip netns exec "$VM" curl -s -X POST "http://127.0.0.1:8080/_sim/reset-stats" >/dev/null; }

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; echo "(exit $?)"; }
agent() { ip netns exec "$VM" "$BIN" "$@" --root "$ROOT" --provider tencent --metadata-url "$URL" --config /dev/null; }

say "A VM namespace ($VM): eth0 configured as an image boots it, eth1 and eth2 just attached"
ip -n "$VM" -br link show | grep eth
ip -n "$VM" -br -4 addr show | grep eth
say "The metadata endpoint: eni-metadata-sim serving Tencent Cloud's tree on $URL"
for p in mac network/interfaces/macs/ network/interfaces/macs/52:54:00:00:02:0A/local-ipv4s/ \
         network/interfaces/macs/52:54:00:00:02:0A/local-ipv4s/10.0.2.11/subnet-mask; do
    echo "GET $p"; meta "$p" | sed 's/^/    /'
done
say "Before: the client cannot reach the secondary ENIs' IPs"
for ip in 10.0.2.10 10.0.3.10; do lab_ping "$ip" && echo "$ip reachable" || echo "$ip unreachable"; done

say "eni-agent diff: what would change (exit 2 = changes pending)"
run agent diff
say "eni-agent reconfigure"
reset_stats
run agent reconfigure
stats
say "eni-agent reconfigure again: nothing to do, nothing written"
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

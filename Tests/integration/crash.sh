#!/usr/bin/env bash
# Crash safety (issue 13, item 6): `kill -9` at random points of an 8 x 30 apply, then a restart.
# Usage: [CRASH_KILLS=N] [CRASH_SEED=S] [CRASH_DEBUG=1] Tests/integration/crash.sh PATH-TO-ENI-AGENT
# (CRASH_SEED replays the random draws, not the machine's timing; CRASH_DEBUG=1 prints every kill)
#
# The machine: a VM namespace with eth0 (the primary ENI, 10.0.1.10/24, as a cloud image boots it)
# and eth1..eth8, veth pairs whose peers sit in a second namespace. ENI n is ethn with MAC
# 52:54:00:00:<n+1>:0a and 30 IPs 10.0.<n+1>.10-39/24, gateway 10.0.<n+1>.1 (bench/bench.py's
# numbering, which keeps the primary's MAC and subnet apart): 240 addresses, 240 rules, 16 routes,
# the rp_filter sysctls and, with `--renderer ifcfg`, 24 ifcfg/route/rule files and the sysctl.d
# file under a temp --root.
#
# A reference snapshot is taken once after a clean apply. Then, for CRASH_KILLS kills (default 40):
# each round resets the lab to "attached, nothing configured" (the 8 links leave the namespace and
# come back, protocol-234 rules and tables 10001-10008 flushed, rp_filter back to 1, the root's
# etc/ removed) and starts `eni-agent reconfigure` in the background, sending it SIGKILL after a
# delay drawn uniformly from 0 to R (microsecond resolution), R = 1.2 x a clean apply's measured
# duration, then following the apply's time as the machine's load changes (see below); every other
# kill draws from the part of 0-R where the changes are made. Every other round kills a second
# `reconfigure` too, one re-applying on the partial state the first kill left. After each kill: every file at a managed path is absent or complete (the marker line,
# a final newline, the reference content), and no rule or address is duplicated. Then a restart
# (`reconfigure`, to completion) must exit 0 and leave exactly the reference state: addresses per
# device (with their primary/secondary flag), `ip rule`, the routes in tables 10001-10008, the links'
# up/down state, the rp_filter values, and the tree under the root with modes and contents; no
# duplicate object and no temp file (.NAME.eni-agent-tmp) left.
#
# Prints "ok - NAME" / "not ok - NAME" per property over all kills, where the kills landed (the
# process killed mid-apply or already exited, how much of the apply was done), and "N passed, N failed".
# Needs root; without it the script is reported as skipped.
set -u
here=$(cd "$(dirname "$0")" && pwd)
BIN=${1:?usage: crash.sh PATH-TO-ENI-AGENT}
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
KILLS=${CRASH_KILLS:-40}
SEED=${CRASH_SEED:-$$}
RANDOM=$SEED

LAB=eni-cr-$$
VM=$LAB-vm PEER=$LAB-peer
# shellcheck source=checks.sh
. "$here/checks.sh"
TMP=$(mktemp -d /tmp/eni-agent-crash.XXXXXX)
agent_pid=""
cleanup() {
    [ -n "$agent_pid" ] && kill -9 "$agent_pid" 2>/dev/null
    ip netns del "$VM" 2>/dev/null; ip netns del "$PEER" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
skip_unless_root "crash-safety tests"

ROOT=$TMP/root REF=$TMP/ref
META=$TMP/instance.json
# A copy of the binary: another build replacing it mid-run must not change what is tested.
cp "$BIN" "$TMP/eni-agent" && BIN=$TMP/eni-agent
ENIS="1 2 3 4 5 6 7 8"
TABLES="10001 10002 10003 10004 10005 10006 10007 10008"

python3 - "$META" <<'PY'
import json, sys
enis = [{"mac": "52:54:00:00:01:0a", "primary_ip": "10.0.1.10", "secondary_ips": [],
         "subnet": "10.0.1.0/24", "gateway": "10.0.1.1", "id": "eni-primary0"}]
for n in range(1, 9):
    net = f"10.0.{n + 1}"
    enis.append({"mac": f"52:54:00:00:{n + 1:02x}:0a", "primary_ip": f"{net}.10",
                 "secondary_ips": [f"{net}.{i}" for i in range(11, 40)],
                 "subnet": f"{net}.0/24", "gateway": f"{net}.1", "id": f"eni-crash{n:03d}"})
json.dump({"primary_mac": "52:54:00:00:01:0a", "enis": enis}, open(sys.argv[1], "w"), indent=2)
PY

ARGS=(--root "$ROOT" --metadata-file "$META" --config /dev/null --renderer ifcfg)
agent() { ip netns exec "$VM" "$BIN" "$@" "${ARGS[@]}"; }

lab_create() {
    ip netns add "$VM" && ip netns add "$PEER" || return 1
    ip -n "$VM" link set lo up && ip -n "$PEER" link set lo up || return 1
    local n batch=""
    for n in 0 $ENIS; do
        batch+="link add eth$n address 52:54:00:00:$(printf %02x $((n + 1))):0a type veth peer name p$n netns $PEER"$'\n'
    done
    printf '%s' "$batch" | ip -n "$VM" -batch - || return 1
    batch=""
    for n in 0 $ENIS; do batch+="link set p$n up"$'\n'; done
    printf '%s' "$batch" | ip -n "$PEER" -batch - || return 1
    ip netns exec "$VM" sh -c 'for k in all default eth0; do echo 1 > /proc/sys/net/ipv4/conf/$k/rp_filter; done' &&
        ip -n "$VM" link set eth0 up && ip -n "$VM" addr add 10.0.1.10/24 dev eth0 &&
        ip -n "$VM" route add default via 10.0.1.1 dev eth0
}

# "Attached, nothing configured", as bench/bench.py's apply_cost resets: the ENIs leave and come
# back (their addresses, routes and per-device sysctls go with them), protocol-234 rules go, the
# tables are flushed, rp_filter is the image's 1 again, the files are gone.
out_batch="" in_batch=""
for n in $ENIS; do out_batch+="link set eth$n netns $PEER"$'\n'; in_batch+="link set eth$n netns $VM"$'\n'; done
lab_reset() {
    ip netns exec "$VM" sh -c 'for k in all default; do echo 1 > /proc/sys/net/ipv4/conf/$k/rp_filter; done' || return 1
    printf '%s' "$out_batch" | ip -n "$VM" -batch - && printf '%s' "$in_batch" | ip -n "$PEER" -batch - || return 1
    ip -n "$VM" rule flush protocol 234 || return 1
    local t; for t in $TABLES; do ip -n "$VM" route flush table "$t" 2>/dev/null; done
    rm -rf "$ROOT/etc"
}

# The normalised state: what a restart must converge to.
snapshot() {
    echo "## addresses"
    ip -n "$VM" -4 -o addr show | sed -E 's/^[0-9]+: +([^ ]+) +inet ([^\\]*[^ \\]) *\\.*$/\1 \2/' | sort
    echo "## links"
    ip -n "$VM" -br link show | awk '{sub(/@.*/, "", $1); print $1, $2}' | sort
    echo "## rules"
    ip -n "$VM" -4 rule show | sort
    echo "## routes (tables 10001-10008)"
    local t; for t in $TABLES; do ip -n "$VM" -4 route show table "$t" | sed "s/^/$t: /" | sort; done
    echo "## rp_filter"
    ip netns exec "$VM" sh -c 'for k in all default eth0 eth1 eth2 eth3 eth4 eth5 eth6 eth7 eth8; do
        echo "$k $(cat /proc/sys/net/ipv4/conf/$k/rp_filter)"; done'
    echo "## files"
    (cd "$ROOT" && find . -printf '%y %m %p\n' | sort && find . -type f | sort | while read -r f; do echo "### $f"; cat "$f"; done)
}

# duplicates: a rule listed twice (its protocol aside: the kernel refuses only exact duplicates
# added with NLM_F_EXCL), an address listed twice on any device (none expected at any time).
duplicates() {
    { ip -n "$VM" -4 rule show | sed -E 's/ proto [^ ]+//'; ip -n "$VM" -4 -o addr show | awk '{sub(/\/.*/, "", $4); print "address", $4}'; } |
        sort | uniq -d
}

# What a killed run left: half-written files at managed paths, duplicates, and how far it got.
# Sets: files_bad (text, empty when fine), dups, n_addr, n_rule, n_route, n_file, n_tmp.
after_kill() {
    files_bad="" n_file=0 n_tmp=0
    if [ -d "$ROOT/etc" ]; then
        local line
        while IFS= read -r line; do
            case $line in
                "Only in $REF/etc"*) ;;                                     # not written yet
                "Only in $ROOT/etc"*": ."*".eni-agent-tmp") n_tmp=$((n_tmp + 1)) ;;   # a write in progress
                *) files_bad+="$line"$'\n' ;;
            esac
        done < <(diff -rq "$REF/etc" "$ROOT/etc" 2>&1)
        n_file=$(find "$ROOT/etc" -type f ! -name '*.eni-agent-tmp' | wc -l)
        # The same, stated as the property (the diff above compared with the reference): the marker
        # line first, a newline last. Read with builtins, no process per file.
        local f content
        while IFS= read -r f; do
            IFS= read -r -d '' content <"$f"
            [[ $content == "# Managed by eni-agent"* && $content == *$'\n' ]] || files_bad+="$f: no marker line or no final newline"$'\n'
        done < <(find "$ROOT/etc" -type f ! -name '*.eni-agent-tmp')
    fi
    dups=$(duplicates)
    n_addr=$(ip -n "$VM" -4 -o addr show | grep -c ' eth[1-8] ')
    n_rule=$(ip -n "$VM" -4 rule show | grep -c 'proto 234')
    n_route=$(ip -n "$VM" -4 route show table all | grep -c 'table 1000[1-8] .*proto 234')
}

# Sleeps a fraction of a second with no fork (read's timeout on a FIFO nobody writes): this only
# places the kill point, it synchronises nothing.
mkfifo "$TMP/never" && exec {never}<>"$TMP/never"
sleep_us() { local s; printf -v s '%d.%06d' $(($1 / 1000000)) $(($1 % 1000000)); read -r -t "$s" -u "$never"; }
rand_us() { r=$(((RANDOM * 32768 + RANDOM) % ($1 + 1))); }   # sets r (no subshell: CRASH_SEED replays the draws)
now_us() { local t=${EPOCHREALTIME/./}; echo $((10#$t)); }

lab_create || { not_ok "lab set-up"; echo "$pass passed, $fail failed"; exit 1; }
mkdir -p "$ROOT"

# --- The reference: a clean apply, and its duration ------------------------------------------------
# Three clean applies (`reconfigure` from the reset state) and three `diff`s from it: a diff starts,
# reads the metadata and the kernel and plans as reconfigure does, so its duration is roughly
# where the first change is made.
applies=() diffs=()
for i in 1 2 3; do
    lab_reset || { not_ok "lab reset"; echo "$pass passed, $fail failed"; exit 1; }
    t0=$(now_us); agent diff >/dev/null 2>&1; diffs+=($(($(now_us) - t0)))
    t0=$(now_us); agent reconfigure >"$TMP/clean.out" 2>&1; rc=$?; applies+=($(($(now_us) - t0)))
    [ "$rc" = 0 ] || break
done
check "clean apply of 8 x 30 exits 0" test "$rc" = 0
[ "$rc" = 0 ] || { cat "$TMP/clean.out"; echo "$pass passed, $fail failed"; exit 1; }
median() { printf '%s\n' "$@" | sort -n | sed -n 2p; }
apply_us=$(median "${applies[@]}") diff_us=$(median "${diffs[@]}")
range_us=$((apply_us * 12 / 10)) range_min=$range_us range_max=$range_us
[ "$diff_us" -lt "$apply_us" ] || diff_us=0
snapshot >"$TMP/reference"
cp -a "$ROOT" "$REF"
check "reference: 240 addresses, 240 rules, 16 routes, 25 files" bash -c "
    [ \$(ip -n $VM -4 -o addr show | grep -c ' eth[1-8] ') = 240 ] &&
    [ \$(ip -n $VM -4 rule show | grep -c 'proto 234') = 240 ] &&
    [ \$(ip -n $VM -4 route show table all | grep -c 'table 1000[1-8] .*proto 234') = 16 ] &&
    [ \$(find $ROOT/etc -type f | wc -l) = 25 ]"
check "reference: every file starts with the marker line and ends with a newline" bash -c "
    find $ROOT/etc -type f | while read -r f; do head -n 1 \$f | grep -q '^# Managed by eni-agent' && [ -z \"\$(tail -c 1 \$f)\" ] || { echo \$f; exit 1; }; done"
check "reference: diff after the clean apply reports nothing" agent diff

# The checks themselves see what they are for: a missing address, a duplicate rule, a truncated
# file, a file that is not the reference's.
ip -n "$VM" addr del 10.0.5.27/24 dev eth4
snapshot_differs() { snapshot | cmp -s - "$TMP/reference" && return 1 || return 0; }
check "self-test: the snapshot sees a missing address" snapshot_differs
ip -n "$VM" rule add from 10.0.3.12 lookup 10002 priority 10002   # the agent's, but protocol unspec
f=$ROOT/etc/sysconfig/network-scripts/route-eth3
head -c 40 "$REF/etc/sysconfig/network-scripts/route-eth3" >"$f"
after_kill
check "self-test: after_kill sees a duplicate rule" test -n "$dups"
check "self-test: after_kill sees a truncated file" grep -q "route-eth3" <<<"$files_bad"
sed 's/10.0.4/10.0.9/' "$REF/etc/sysconfig/network-scripts/route-eth3" >"$f"
after_kill
check "self-test: after_kill sees a complete file with other content" grep -q "route-eth3" <<<"$files_bad"
while ip -n "$VM" rule del priority 10002 2>/dev/null; do :; done   # the reset keeps rules that are not protocol 234
pending=$(lab_reset && agent diff --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["pending"])')
echo "# clean apply ($pending changes): ${applies[*]} us, median $((apply_us / 1000)) ms; diff: ${diffs[*]} us, median $((diff_us / 1000)) ms"
echo "# kill delays: uniform in 0-R, every other kill in 0.9 x diff/apply x R to R (where the changes are made); R starts at 1.2 x the apply ($((range_us / 1000)) ms); seed $SEED"
# The machine's load changes (2 cores, shared), and a fixed R would land most kills before or after
# the apply when the apply gets slower or faster than measured. So R follows it: x 0.9 after a
# first kill of a round that found the run already exited, x 1.02 after one that killed it. That
# settles where about 1 in 6 such kills comes too late, as 1.2 x a steady apply time gives.

# --- The kills ----------------------------------------------------------------------------------
kills=0 rounds=0 mid=0 exited=0 nothing=0 partial=0 files_partial=0 all_done=0 with_files=0 with_tmp=0
bad_files=0 bad_dups=0 bad_rc=0 bad_state=0 bad_dups_after=0 bad_tmp=0 reported=0
declare -A first_fail
report() { # report PROPERTY TEXT...: the first failure of each property is named by its check, the first 20 printed in full
    [ -n "${first_fail[$1]:-}" ] || first_fail[$1]=$2
    shift
    reported=$((reported + 1))
    [ "$reported" -le 20 ] && printf '%s\n' "$@" | sed "s/^/    /" >>"$TMP/failures"
}
started=$(now_us)
while [ "$kills" -lt "$KILLS" ]; do
    rounds=$((rounds + 1))
    lab_reset || { not_ok "lab reset (round $rounds)"; break; }
    chain=$((1 + rounds % 2))   # odd rounds: a second kill on what the first left
    [ $((kills + chain)) -gt "$KILLS" ] && chain=$((KILLS - kills))
    delays=""
    for ((k = 1; k <= chain; k++)); do
        if [ $((kills % 2)) = 0 ]; then rand_us "$range_us"; d=$r
        else from=$((range_us / 10 * 9 * (diff_us / 1000) / (apply_us / 1000))); rand_us $((range_us - from)); d=$((from + r)); fi
        delays+=" ${d}us"
        # A simple command, so $! is the process that becomes eni-agent (ip netns exec execs it).
        ip netns exec "$VM" "$BIN" reconfigure "${ARGS[@]}" >"$TMP/killed.out" 2>&1 &
        agent_pid=$!
        sleep_us "$d"
        kill -9 "$agent_pid" 2>/dev/null
        { wait "$agent_pid"; } 2>/dev/null; rc=$?
        agent_pid=""
        kills=$((kills + 1)); [ -n "${CRASH_DEBUG:-}" ] && echo "# kill $kills: delay $d rc $rc: $(head -c 300 "$TMP/killed.out" | tr "\n" " ")"
        if [ "$rc" = 137 ]; then mid=$((mid + 1)); else exited=$((exited + 1)); fi
        if [ "$k" = 1 ]; then
            if [ "$rc" = 137 ]; then range_us=$((range_us * 102 / 100)); else range_us=$((range_us * 90 / 100)); fi
            [ "$range_us" -ge 2000 ] || range_us=2000
            [ "$range_us" -le $((apply_us * 10)) ] || range_us=$((apply_us * 10))
            [ "$range_us" -ge "$range_min" ] || range_min=$range_us
            [ "$range_us" -le "$range_max" ] || range_max=$range_us
        fi
        after_kill
        where="round $rounds kill $k (delay ${d}us, $([ "$rc" = 137 ] && echo killed || echo "exited $rc"); left $n_addr addresses, $n_rule rules, $n_route routes, $n_file files, $n_tmp temp files)"
        if [ "$rc" = 137 ]; then
            if [ $((n_addr + n_rule + n_route + n_file)) = 0 ]; then nothing=$((nothing + 1))
            elif [ "$n_addr" != 240 ] || [ "$n_rule" != 240 ] || [ "$n_route" != 16 ]; then partial=$((partial + 1))
            elif [ "$n_file" != 25 ] || [ "$n_tmp" != 0 ]; then files_partial=$((files_partial + 1))
            else all_done=$((all_done + 1)); fi
            [ "$n_file" -gt 0 ] && with_files=$((with_files + 1))
            [ "$n_tmp" -gt 0 ] && with_tmp=$((with_tmp + 1))
        fi
        [ -z "$files_bad" ] || { bad_files=$((bad_files + 1)); report files "half-written file after $where:" "$files_bad"; }
        [ -z "$dups" ] || { bad_dups=$((bad_dups + 1)); report dups "duplicates after $where:" "$dups"; }
    done
    agent reconfigure >"$TMP/restart.out" 2>&1; rc=$?
    where="round $rounds (kills at$delays)"
    [ "$rc" = 0 ] || { bad_rc=$((bad_rc + 1)); report rc "restart exited $rc after $where:" "$(head -20 "$TMP/restart.out")"; }
    snapshot >"$TMP/state"
    cmp -s "$TMP/reference" "$TMP/state" ||
        { bad_state=$((bad_state + 1)); report state "state differs from the reference after the restart, $where:" "$(diff "$TMP/reference" "$TMP/state" | head -30)"; }
    dups=$(duplicates)
    [ -z "$dups" ] || { bad_dups_after=$((bad_dups_after + 1)); report dups_after "duplicates after the restart, $where:" "$dups"; }
    tmps=$(find "$ROOT" -name '*.eni-agent-tmp')
    [ -z "$tmps" ] || { bad_tmp=$((bad_tmp + 1)); report tmp "temp files left after the restart, $where:" "$tmps"; }
done
secs=$((($(now_us) - started) / 1000000))

echo "# $kills kills in $rounds rounds, ${secs} s (R between $((range_min / 1000)) and $((range_max / 1000)) ms): $mid killed mid-apply, $exited had already exited"
echo "# the $mid mid-apply kills left: nothing changed $nothing; the kernel part-configured $partial; every address, rule and route but not"
echo "#   every file $files_partial; everything (killed re-planning or exiting) $all_done. $with_files had written files, $with_tmp left a temp file (killed inside a file write)"
[ -s "$TMP/failures" ] && { echo "# failures (first ones):"; cat "$TMP/failures"; }
fails() { [ "$1" = 0 ] || { echo "$1 of $2 failed; first: ${first_fail[$3]}"; return 1; }; }
check "after each of $kills kills: every file at a managed path is absent or complete (marker, final newline, the reference content)" fails "$bad_files" "$kills" files
check "after each of $kills kills: no duplicate rule or address" fails "$bad_dups" "$kills" dups
check "each of $rounds restarts exits 0" fails "$bad_rc" "$rounds" rc
check "each of $rounds restarts converges to the clean apply's addresses, links, rules, routes, rp_filter and files" fails "$bad_state" "$rounds" state
check "after each of $rounds restarts: no duplicate rule or address" fails "$bad_dups_after" "$rounds" dups_after
check "after each of $rounds restarts: no temp file left under the root" fails "$bad_tmp" "$rounds" tmp
check "kills landed mid-apply ($mid of $kills)" test "$mid" -gt 0

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]

#!/usr/bin/env bash
# Runs every fuzz target (or those named) for RUNS executions each, from the committed seeds
# (Fuzz/corpus/<target>, read only) plus what earlier runs found (.build-fuzz/corpus/<target>,
# where new inputs go), and prints executions and time per target. A crash or a broken invariant
# is saved as .build-fuzz/crashes/<target>/crash-<sha1>, and the run fails.
# Usage: Fuzz/run.sh RUNS [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:?usage: Fuzz/run.sh RUNS [target...]}; shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(toml config json metadata-file addresses metadata-answers aliyun-ips metadata-base dbus-message)
Fuzz/build.sh "${targets[@]}"
OUT=.build-fuzz
# The Swift runtime's backtracer reads memory that ASan then reports; libFuzzer's own report suffices.
export SWIFT_BACKTRACE=enable=no
failed=()
total_runs=0
total_start=$(date +%s%N)
printf '%-18s %12s %9s %10s %s\n' target executions seconds exec/s result > "$OUT/summary.txt"
for t in "${targets[@]}"; do
    mkdir -p "$OUT/corpus/$t" "$OUT/crashes/$t" "$OUT/logs"
    log="$OUT/logs/$t.log"
    start=$(date +%s%N)
    status=ok
    "$OUT/bin/fuzz-$t" -runs="$runs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$OUT/crashes/$t/" "$OUT/corpus/$t" "Fuzz/corpus/$t" >"$log" 2>&1 || status=FAILED
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    ns=$(( $(date +%s%N) - start ))
    if [ "$status" = FAILED ]; then
        failed+=("$t")
        echo "fuzz-$t FAILED; log $log:" >&2
        grep -E 'invariant broken|ERROR: AddressSanitizer|ERROR: libFuzzer|Fatal error|Test unit written' "$log" >&2 || tail -20 "$log" >&2
    fi
    execs=${execs:-0}
    total_runs=$((total_runs + execs))
    awk -v t="$t" -v e="$execs" -v ns="$ns" -v s="$status" \
        'BEGIN { printf "%-18s %12d %9.1f %10.0f %s\n", t, e, ns / 1e9, e / (ns / 1e9 + 1e-9), s }' | tee -a "$OUT/summary.txt"
done
awk -v e="$total_runs" -v ns="$(( $(date +%s%N) - total_start ))" \
    'BEGIN { printf "%-18s %12d %9.1f (runs, after the build)\n", "total", e, ns / 1e9 }' | tee -a "$OUT/summary.txt"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: failed: ${failed[*]} (reproduce: $OUT/bin/fuzz-<target> $OUT/crashes/<target>/crash-...; see Fuzz/README.md)" >&2
    exit 1
fi

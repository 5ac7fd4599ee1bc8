#!/usr/bin/env bash
# Callgrind instruction counts of the tower benchmarks (crates/corsgate/benches/decide.rs),
# every contender and scenario in one run, and the table docs/benchmarks.md shows: each
# layer's overhead over the bare service, and corsgate's overhead as a fraction of
# tower-http's. Instruction counts are stable on a noisy machine; times are not.
#   scripts/bench.sh            # prints the table (needs valgrind: apt-get install valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "scripts/bench.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }

cargo bench -q -p corsgate --bench decide --no-run 2>/dev/null
bin=$(cargo bench -q -p corsgate --bench decide --no-run --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*decide[^"]*\)".*/\1/p' | tail -1)
[ -x "$bin" ] || { echo "scripts/bench.sh: the benchmark binary was not found" >&2; exit 1; }

count() { # bench name -> instructions in the whole process
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" --bench --exact "decide::$1" \
        --sample-count 20 --sample-size 1000 2>&1 >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

echo "| scenario | bare service | tower-http | corsgate | tower-http's overhead | corsgate's overhead | corsgate ÷ tower-http |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for scenario in get preflight disallowed no-origin; do
    bare=$(count "bare_service::$scenario")
    theirs=$(count "tower_http_cors::$scenario")
    ours=$(count "corsgate_cors::$scenario")
    awk -v s="$scenario" -v b="$bare" -v t="$theirs" -v o="$ours" 'BEGIN {
        printf "| %s | %.2f M | %.2f M | %.2f M | %.2f M | %.2f M | **%.2f** |\n",
            s, b/1e6, t/1e6, o/1e6, (t-b)/1e6, (o-b)/1e6, (o-b)/(t-b) }'
done
echo
echo "(valgrind --tool=callgrind, 20 samples of 1000 iterations each, instructions in the whole process; $(date -u +%F), $(rustc --version))"

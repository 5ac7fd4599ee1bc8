#!/usr/bin/env bash
# Runs every fuzz target for a bounded time and prints the executions each
# reached. Usage: fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); builds on the
# stable toolchain (no sanitizer: `-s none`). Findings go to
# fuzz/artifacts/TARGET/ and make the script exit 1.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(request_origin configured_origin header_list config decision browser)
fi
cargo fuzz build -s none "${targets[@]/#/--bin=}" >/dev/null 2>&1 || cargo fuzz build -s none
status=0
for target in "${targets[@]}"; do
    corpus="corpus/$target"
    mkdir -p "$corpus" "artifacts/$target"
    log="$(mktemp)"
    # -max_len: the largest input worth trying (configs are the longest).
    if cargo fuzz run -s none "$target" "$corpus" "seeds/$target" -- \
        -max_total_time="$seconds" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"$log" 2>&1; then
        result="no finding"
    else
        result="FINDING (see fuzz/artifacts/$target/)"
        status=1
        tail -40 "$log"
    fi
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    printf '%-16s %12s executions in %ss: %s\n' "$target" "$runs" "$seconds" "$result"
    rm -f "$log"
done
exit "$status"

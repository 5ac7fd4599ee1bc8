#!/usr/bin/env bash
# The mutation pass over the library's deciding modules (cargo-mutants; the
# modules and the equivalent mutants are listed in .cargo/mutants.toml), and
# the score per file. docs/testing.md explains it.
#
#   scripts/mutants.sh                   every mutant (about 40 minutes on 2 cores)
#   scripts/mutants.sh --in-diff BASE    only the mutants on lines changed since
#                                        the commit BASE (what CI runs)
#
# Exits 0 when every viable mutant was caught (or made the tests time out),
# 1 when one survived (listed), 2 on a usage or setup error, 3 when the time
# limit ran out first.
# Environment: CORSGATE_MUTANTS_JOBS (parallel builds, default 2),
# CORSGATE_MUTANTS_MINUTES (time limit, default 25 with --in-diff, none otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '6,14p' "$0" | sed 's/^# \{0,1\}//'; }
base=""
case "${1:-}" in
    "") ;;
    --in-diff)
        base="${2:-}"
        if [ -z "$base" ] || [ $# -ne 2 ]; then usage >&2; exit 2; fi
        ;;
    -h | --help) usage; exit 0 ;;
    *) echo "scripts/mutants.sh: unknown argument \`$1\`" >&2; usage >&2; exit 2 ;;
esac

if ! cargo mutants --version >/dev/null 2>&1; then
    echo "scripts/mutants.sh: cargo-mutants is not installed: cargo install cargo-mutants --locked" >&2
    exit 2
fi

out=target/mutants
rm -rf "$out/mutants.out"
mkdir -p "$out"
# No debug information: each mutant is relinked, and debug info makes the
# link most of the time. (Environment, not a new profile.)
export CARGO_PROFILE_DEV_DEBUG=0 CARGO_PROFILE_TEST_DEBUG=0
args=(-p corsgate --no-times -o "$out" -j "${CORSGATE_MUTANTS_JOBS:-2}")
minutes="${CORSGATE_MUTANTS_MINUTES:-}"
if [ -n "$base" ]; then
    if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
        echo "scripts/mutants.sh: \`$base\` is not a commit here" >&2
        exit 2
    fi
    git diff "$base" -- crates/corsgate/src >"$out/change.diff"
    if [ ! -s "$out/change.diff" ]; then
        echo "no change to crates/corsgate/src since $base: no mutant to test"
        exit 0
    fi
    echo "mutants on the lines changed since $(git rev-parse --short "$base"):"
    args+=(--in-diff "$out/change.diff")
    minutes="${minutes:-25}"
fi

status=0
if [ -n "$minutes" ]; then
    timeout --signal=INT --kill-after=30 "${minutes}m" cargo mutants "${args[@]}" || status=$?
else
    cargo mutants "${args[@]}" || status=$?
fi

# The score per file, from cargo-mutants' outcome lists
# (`path:line:col: mutation`, one per line).
results="$out/mutants.out"
if [ -d "$results" ]; then
    for outcome in caught missed timeout unviable; do
        touch "$results/$outcome.txt"
    done
    {
        echo "| file | caught | missed | timeout | unviable | score |"
        echo "|---|---:|---:|---:|---:|---:|"
        awk -F: '
            FNR == 1 { split(FILENAME, parts, "/"); kind = parts[length(parts)]; sub(/\.txt$/, "", kind) }
            NF > 1 { files[$1] = 1; n[$1, kind]++; total[kind]++ }
            END {
                for (f in files) {
                    viable = n[f, "caught"] + n[f, "missed"] + n[f, "timeout"]
                    score = viable ? sprintf("%.0f%%", 100 * (n[f, "caught"] + n[f, "timeout"]) / viable) : "-"
                    printf "| %s | %d | %d | %d | %d | %s |\n", f, n[f, "caught"], n[f, "missed"], n[f, "timeout"], n[f, "unviable"], score
                }
            }' "$results/caught.txt" "$results/missed.txt" "$results/timeout.txt" "$results/unviable.txt" | sort
    } >"$out/score.md"
    caught=$(grep -c . "$results/caught.txt" || true)
    missed=$(grep -c . "$results/missed.txt" || true)
    timeouts=$(grep -c . "$results/timeout.txt" || true)
    unviable=$(grep -c . "$results/unviable.txt" || true)
    echo "| **all** | $caught | $missed | $timeouts | $unviable | |" >>"$out/score.md"
    echo
    cat "$out/score.md"
    echo
    echo "(score: caught or timed out, of the viable mutants; the table is in $out/score.md)"
    if [ "$missed" -gt 0 ]; then
        echo
        echo "SURVIVING MUTANTS (no test noticed these changes; add a test, or list a"
        echo "mutant that changes no behaviour in .cargo/mutants.toml with the reason):"
        sed 's/^/  /' "$results/missed.txt"
    fi
fi

# cargo-mutants exits 3 when a mutant timed out even if another survived:
# a surviving mutant fails the run whatever the exit status says.
if [ "${missed:-0}" -gt 0 ] && [ "$status" -ne 124 ] && [ "$status" -ne 130 ]; then
    exit 1
fi
case "$status" in
    # 3: timeouts besides caught mutants. A mutant that makes the tests hang
    # was noticed (the suite did not pass), so it counts as caught.
    0 | 3) exit 0 ;;
    2) exit 1 ;; # surviving mutants, listed above
    124 | 130)
        echo "scripts/mutants.sh: the ${minutes}-minute limit ran out before every mutant was tested" >&2
        exit 3
        ;;
    *)
        echo "scripts/mutants.sh: cargo mutants failed (exit $status; see $results/debug.log)" >&2
        exit 2
        ;;
esac

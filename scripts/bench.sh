#!/usr/bin/env bash
# The benchmarks in crates/corsgate/benches/decide.rs, every contender and scenario in one run,
# and the tables docs/benchmarks.md shows: each middleware's overhead over the bare service, and
# corsgate's overhead as a fraction of its peer's (tower-http's `CorsLayer` for the tower layer,
# alone and under axum's router; actix-cors for the actix middleware). Three measures from the
# same build: callgrind instruction counts per request (the judge: stable on a noisy machine),
# divan's median times (noisy: compare within a run), and allocations per request (divan's
# counting allocator).
#   scripts/bench.sh            # prints the tables (needs valgrind: apt-get install valgrind)
#   scripts/bench.sh --write    # and puts them in docs/benchmarks.md, between its two
#                               # `bench.sh` markers
set -euo pipefail
shopt -s inherit_errexit # a failure inside `$(tables)` stops the script too
cd "$(dirname "$0")/.."
write=false
case "${1:-}" in
    "") ;;
    --write) write=true ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scripts/bench.sh: unknown argument \`$1\` (try --help)" >&2; exit 2 ;;
esac
command -v valgrind >/dev/null || { echo "scripts/bench.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }
doc=docs/benchmarks.md
begin='<!-- bench.sh: begin (scripts/bench.sh --write replaces what follows, to the end marker) -->'
end='<!-- bench.sh: end -->'
if $write && { ! grep -qxF "$begin" "$doc" || ! grep -qxF "$end" "$doc"; }; then
    echo "scripts/bench.sh: $doc lacks its markers; put these two lines where the tables go:" >&2
    printf '%s\n%s\n' "$begin" "$end" >&2
    exit 1
fi

cargo bench -q -p corsgate --features actix --bench decide --no-run 2>/dev/null
bin=$(cargo bench -q -p corsgate --features actix --bench decide --no-run --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*decide[^"]*\)".*/\1/p' | tail -1)
[ -x "$bin" ] || { echo "scripts/bench.sh: the benchmark binary was not found" >&2; exit 1; }

count() { # bench name, iterations per sample -> instructions in the whole process
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" --bench --exact "decide::$1" \
        --sample-count 20 --sample-size "$2" 2>&1 >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

per_request() { # bench name -> instructions per iteration alone: two runs 2,000 iterations
    # apart (20 samples of 100 and of 200), so building the policy (10,000 origins, 100 regexes)
    # cancels out; counts are deterministic, so 2,000 iterations are plenty
    small=$(count "$1" 100)
    big=$(count "$1" 200)
    echo $(( (big - small) / 2000 ))
}

# Allocations per request and median times, from one divan run: 100 samples of 1,000 iterations
# ("A group::bench::scenario count" and "T group::bench::scenario nanoseconds" lines). divan
# prints no allocation rows for a benchmark that allocates nothing, hence the default 0.
divan=$("$bin" --bench --sample-count 100 --sample-size 1000 2>/dev/null | sed 's/│/|/g; s/[├╰]─/+/g' | awk -F'|' '
    function ns(text,    t) {
        split(text, t, " ")
        return t[1] * (t[2] == "s" ? 1e9 : t[2] == "ms" ? 1e6 : t[2] == "µs" ? 1e3 : 1)
    }
    /\+ / {
        depth = index($0, "+"); rest = substr($0, depth + 2); n = split(rest, w, " ")
        if (w[2] == "|" || n == 1) { group[depth] = w[1]; for (d in group) if (d + 0 > depth) delete group[d]; next }
        path = ""; for (d = 1; d < depth; d++) if (d in group) path = path group[d] "::"
        leaf = path w[1]; printf "T %s %.1f\n", leaf, ns($(NF - 3)); next
    }
    /[ |]alloc:/ && !/max alloc:/ { want = 1; next }
    want { split($(NF - 3), m, " "); print "A", leaf, m[1]; want = 0 }')
allocs_of() { echo "$divan" | awk -v k="$1" '$1 == "A" && $2 == k { print $3; found = 1 } END { if (!found) print 0 }'; }
median_of() { # every benchmark has a time: a missing one means divan's output was misread
    echo "$divan" | awk -v k="$1" '$1 == "T" && $2 == k { print $3; found = 1 }
        END { if (!found) { print "scripts/bench.sh: no median time for " k " in divan'"'"'s output" > "/dev/stderr"; exit 1 } }'
}

table() { # peer label, bench prefix, bare, peer, ours
    echo "| scenario | bare | $1 | corsgate | $1's overhead | corsgate's overhead | corsgate ÷ $1 | median ns: bare, $1, corsgate | ÷ by time | allocations: bare, $1, corsgate |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for scenario in get preflight browser-preflight disallowed no-origin; do
        bare=$(per_request "$2$3::$scenario")
        theirs=$(per_request "$2$4::$scenario")
        ours=$(per_request "$2$5::$scenario")
        a="$(allocs_of "$2$3::$scenario"), $(allocs_of "$2$4::$scenario"), $(allocs_of "$2$5::$scenario")"
        bare_ns=$(median_of "$2$3::$scenario")
        theirs_ns=$(median_of "$2$4::$scenario")
        ours_ns=$(median_of "$2$5::$scenario")
        awk -v s="$scenario" -v b="$bare" -v t="$theirs" -v o="$ours" -v a="$a" \
            -v bt="$bare_ns" -v tt="$theirs_ns" -v ot="$ours_ns" 'BEGIN {
            by_time = tt > bt ? sprintf("%.2f", (ot - bt) / (tt - bt)) : "-"
            printf "| %s | %d | %d | %d | %d | %d | **%.3f** | %.0f, %.0f, %.0f | %s | %s |\n",
                s, b, t, o, t-b, o-b, (o-b)/(t-b), bt, tt, ot, by_time, a }'
    done
}

tables() {
    echo "Tower (a bare tower service; tower-http 0.6 \`CorsLayer\`; corsgate's \`CorsLayer\`):"
    echo
    table tower-http "" bare_service tower_http_cors corsgate_cors
    echo
    echo "axum 0.8 (a \`Router\` with one route, bare; with tower-http's \`CorsLayer\`; with corsgate's):"
    echo
    table tower-http "axum_router::" bare_router tower_http_cors corsgate_cors
    echo
    echo "actix-web 4 (the bare app; actix-cors 0.7; corsgate's \`actix::Cors\`):"
    echo
    table actix-cors "actix::" bare_app actix_cors corsgate_actix
    echo
    echo "Many origins, tower: a CORS GET from the last of N listed origins; each layer's overhead over the"
    echo "bare service in instructions per request (building 10,000 origins cancels out), and corsgate's"
    echo "as a fraction of tower-http's with its list and with a \`HashSet\` predicate:"
    echo
    echo "| origins | tower-http list | tower-http \`HashSet\` | corsgate | ÷ list | ÷ \`HashSet\` |"
    echo "|---:|---:|---:|---:|---:|---:|"
    bare=$(per_request "bare_service::get")
    for n in 1 10000; do
        list=$(per_request "origins_tower_http_list::$n")
        set=$(per_request "origins_tower_http_set::$n")
        ours=$(per_request "origins_corsgate::$n")
        awk -v n="$n" -v b="$bare" -v l="$list" -v s="$set" -v o="$ours" 'BEGIN {
            printf "| %s | %d | %d | %d | **%.2f** | **%.2f** |\n",
                n, l-b, s-b, o-b, (o-b)/(l-b), (o-b)/(s-b) }'
    done
    echo
    echo "Flat: \`Policy::decide\` + \`Decision::apply\` alone, instructions per request, the request's origin"
    echo "allowed by the last entry:"
    echo
    echo "| allowed by | with 1 entry | with many | many ÷ 1 |"
    echo "|---|---:|---:|---:|"
    flat() { # label, bench, small arg, large arg
        one=$(per_request "$2::$3")
        many=$(per_request "$2::$4")
        awk -v l="$1" -v o="$one" -v m="$many" -v n="$4" 'BEGIN { printf "| %s | %d | %d (%s) | **%.2f** |\n", l, o, m, n, m/o }'
    }
    flat "an exact origin" policy_decide_apply 1 10000
    flat "a subdomain pattern" patterns_decide_apply 1 1000
    flat "a regex" regexes_decide_apply 1 100
    echo
    echo "(valgrind --tool=callgrind; instructions per request: the difference between 20 samples of 200"
    echo "and of 100 iterations, so what runs once (building the policy or the layer, the harness) cancels"
    echo "out; allocations per request from divan's counting allocator, median of 100 samples;"
    echo "$(date -u +%F), $(rustc --version); median times from divan, 100 samples of 1,000 iterations,"
    echo "in the same build: noisy on a shared machine, compare within a run. Reproduce:"
    echo "\`apt-get install valgrind && scripts/bench.sh --write\`.)"
}

out=$(tables)
echo "$out"
if $write; then
    # The markers' lines stay; what is between them is replaced.
    new=$(mktemp)
    awk -v begin="$begin" -v end="$end" -v file=/dev/stdin '
        $0 == begin { print; print ""; while ((getline line < file) > 0) print line; print ""; skip = 1; next }
        $0 == end { skip = 0 }
        !skip' "$doc" <<<"$out" >"$new"
    cat "$new" >"$doc" # the file keeps its own permissions
    rm "$new"
    echo "scripts/bench.sh: the tables are in $doc" >&2
fi

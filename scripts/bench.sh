#!/usr/bin/env bash
# Callgrind instruction counts of the benchmarks in crates/corsgate/benches/decide.rs, every
# contender and scenario in one run, and the tables docs/benchmarks.md shows: each
# middleware's overhead over the bare service, and corsgate's overhead as a fraction of its
# peer's (tower-http's `CorsLayer` for the tower layer, alone and under axum's router; actix-cors
# for the actix middleware).
# Instruction counts are stable on a noisy machine; times are not.
#   scripts/bench.sh            # prints the table (needs valgrind: apt-get install valgrind)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "scripts/bench.sh: needs valgrind (apt-get install valgrind)" >&2; exit 2; }

cargo bench -q -p corsgate --features actix --bench decide --no-run 2>/dev/null
bin=$(cargo bench -q -p corsgate --features actix --bench decide --no-run --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*decide[^"]*\)".*/\1/p' | tail -1)
[ -x "$bin" ] || { echo "scripts/bench.sh: the benchmark binary was not found" >&2; exit 1; }

count() { # bench name [iterations per sample] -> instructions in the whole process
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$bin" --bench --exact "decide::$1" \
        --sample-count 20 --sample-size "${2:-1000}" 2>&1 >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

per_request() { # bench name -> instructions per iteration alone: two runs 2,000 iterations
    # apart (20 samples of 100 and of 200), so building the policy (10,000 origins, 100 regexes)
    # cancels out; counts are deterministic, so 2,000 iterations are plenty
    small=$(count "$1" 100)
    big=$(count "$1" 200)
    echo $(( (big - small) / 2000 ))
}

# Allocations per request (divan's counting allocator, the median of 20 samples), from one
# untimed run: "group::bench::scenario count" lines. divan omits a benchmark that allocates
# nothing, hence the default 0.
allocs=$("$bin" --bench --sample-count 20 2>/dev/null | sed 's/│/|/g; s/[├╰]─/+/g' | awk -F'|' '
    /\+ / {
        depth = index($0, "+"); rest = substr($0, depth + 2); n = split(rest, w, " ")
        if (w[2] == "|" || n == 1) { group[depth] = w[1]; for (d in group) if (d + 0 > depth) delete group[d]; next }
        path = ""; for (d = 1; d < depth; d++) if (d in group) path = path group[d] "::"
        leaf = path w[1]; next
    }
    /[ |]alloc:/ && !/max alloc:/ { want = 1; next }
    want { split($(NF - 3), m, " "); print leaf, m[1]; want = 0 }')
allocs_of() { echo "$allocs" | awk -v k="$1" '$1 == k { print $2; found = 1 } END { if (!found) print 0 }'; }

table() { # peer label, bench prefix, bare, peer, ours
    echo "| scenario | bare | $1 | corsgate | $1's overhead | corsgate's overhead | corsgate ÷ $1 | allocations: bare, $1, corsgate |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    for scenario in get preflight browser-preflight disallowed no-origin; do
        bare=$(per_request "$2$3::$scenario")
        theirs=$(per_request "$2$4::$scenario")
        ours=$(per_request "$2$5::$scenario")
        a="$(allocs_of "$2$3::$scenario"), $(allocs_of "$2$4::$scenario"), $(allocs_of "$2$5::$scenario")"
        awk -v s="$scenario" -v b="$bare" -v t="$theirs" -v o="$ours" -v a="$a" 'BEGIN {
            printf "| %s | %d | %d | %d | %d | %d | **%.3f** | %s |\n",
                s, b, t, o, t-b, o-b, (o-b)/(t-b), a }'
    done
}

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
echo "out; allocations per request from divan's counting allocator, median of 20 samples;"
echo "$(date -u +%F), $(rustc --version))"

#!/usr/bin/env bash
# `corsgate proxy` given every CPU of the machine: its serving threads compared, in one run.
#
# scripts/loadtest.sh gives the proxy one core, as issue #13's target asks; this script measures
# what the thread count changes when it has more. Nothing is pinned: the proxy, its upstream (an
# nginx `return 200` server) and wrk share every CPU, as on a developer's machine or a small VM.
# Contenders, alternating in each round: this build with its default threads (one per CPU),
# this build with `--workers 1`, and, with BEFORE=/path/to/corsgate, another build with its
# default (e.g. one from before session 19, on Tokio's multi-threaded scheduler). Request kinds:
# a CORS GET over keep-alive connections (`get`), a preflight (`preflight`), a CORS GET with
# `Connection: close`, one request per connection (`close`). It prints, per kind and contender,
# the medians of requests/s and of the CPU time the proxy process spent per request.
#
#   scripts/threads.sh                                  # 3 rounds of 6 s, every kind
#   BEFORE=/tmp/old/corsgate ROUNDS=5 KINDS="get close" scripts/threads.sh
#   CORSGATE_BIN=/path/to/corsgate scripts/threads.sh   # measure another build
#
# Needs nginx and wrk (apt-get install -y nginx wrk). Loopback only; every process it starts is
# stopped on exit; bounded in time: ROUNDS × kinds × contenders × SECONDS_EACH, plus ~5 s.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-3}
seconds=${SECONDS_EACH:-6}
connections=${CONNECTIONS:-32}
kinds=${KINDS:-get preflight close}
origin="http://127.0.0.1:5000"

for tool in nginx wrk; do
    command -v "$tool" >/dev/null || {
        echo "scripts/threads.sh: needs $tool (apt-get install -y nginx wrk)" >&2
        exit 2
    }
done
for kind in $kinds; do
    case "$kind" in get | preflight | close) ;; *)
        echo "scripts/threads.sh: unknown kind \`$kind\` in KINDS (get, preflight, close)" >&2
        exit 2
        ;;
    esac
done
. scripts/proxy-common.sh

start_upstream
printf 'wrk.method = "OPTIONS"\nwrk.headers["Access-Control-Request-Method"] = "PUT"\n' >"$dir/preflight.lua"

names=()
# start NAME BIN [ARGS...]: a proxy in front of the upstream; its pid and port in $NAME_pid/_port.
start() {
    local name=$1 bin=$2 port
    shift 2
    port=$(free_port)
    "$bin" proxy --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$upstream" \
        --allow-origin "$origin" --allow-credentials "$@" >"$dir/$name.log" 2>&1 &
    pids+=($!)
    printf -v "${name}_pid" %s "$!"
    printf -v "${name}_port" %s "$port"
    wait_listening "$port"
    names+=("$name")
}
[ -n "${BEFORE:-}" ] && start before "$BEFORE"
start default "$corsgate"
start one "$corsgate" --workers 1

ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)

# measure NAME KIND -> "requests/s cpu_us_per_request"
measure() {
    local pid port extra=() before after
    pid=${1}_pid port=${1}_port
    case "$2" in
        preflight) extra=(-s "$dir/preflight.lua") ;;
        close) extra=(-H "Connection: close") ;;
    esac
    before=$(ticks "${!pid}")
    wrk -t1 -c"$connections" -d"${seconds}s" "${extra[@]}" -H "Origin: $origin" \
        "http://127.0.0.1:${!port}/users" >"$dir/wrk.out"
    after=$(ticks "${!pid}")
    awk -v before="$before" -v after="$after" -v tck="$tck" '
        $1 == "Requests/sec:" { rps = $2 }
        $2 == "requests" && $3 == "in" { n = $1 }
        /Non-2xx/ || /Socket errors/ { bad = $0 }
        END {
            if (bad || n + 0 == 0) { print "scripts/threads.sh: wrk: " (bad ? bad : "no requests") > "/dev/stderr"; exit 1 }
            printf "%s %.1f\n", rps, (after - before) * 1e6 / tck / n
        }' "$dir/wrk.out"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "| request | contender | requests/s | CPU µs per request | each round (requests/s, CPU µs) |"
echo "|---|---|---:|---:|---|"
for kind in $kinds; do
    for name in "${names[@]}"; do : >"$dir/$name.$kind"; done
    for _ in $(seq "$rounds"); do
        for name in "${names[@]}"; do measure "$name" "$kind" >>"$dir/$name.$kind"; done
    done
    for name in "${names[@]}"; do
        case "$name" in
            before) label="BEFORE, its default threads" ;;
            default) label="default threads ($(nproc) on $(nproc) CPUs)" ;;
            one) label="\`--workers 1\`" ;;
        esac
        echo "| $kind | $label | $(cut -d' ' -f1 "$dir/$name.$kind" | median | awk '{ printf "%.0f", $1 }') |" \
            "$(cut -d' ' -f2 "$dir/$name.$kind" | median) |" \
            "$(awk '{ printf "%s%.0f, %s", (NR > 1 ? "; " : ""), $1, $2 }' "$dir/$name.$kind") |"
    done
done
echo
echo "($rounds rounds of ${seconds}s per contender and kind, alternating; wrk -t1 -c$connections; nothing pinned, $(nproc) CPUs; medians; $(date -u +%F), corsgate $("$corsgate" --version | awk '{print $2}'))"

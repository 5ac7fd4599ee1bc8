#!/usr/bin/env bash
# `corsgate proxy` against nginx as a CORS reverse proxy, side by side in one run.
#
# Both sit in front of the same upstream (an nginx `return 200` server, a process of its own) on
# loopback. nginx gets
# the usual hand-written recipe: a `map` of allowed origins, `add_header … always`, preflights
# answered at the edge, the upstream over keep-alive connections, its access log on. corsgate
# runs with its default logging. Proxy and upstream share core 0 (`taskset -c 0`); wrk drives
# them from core 1. Each contender gets the same wrk runs, alternating, and the script prints a
# table of requests/s, p50 and p99 latency and the CPU time each proxy process spent per request
# (medians of the runs) and the ratio corsgate ÷ nginx,
# then the memory each proxy holds per idle client connection.
#
#   scripts/loadtest.sh              # 3 runs of 8 s per contender and request kind
#   RUNS=5 SECONDS_EACH=10 scripts/loadtest.sh
#   CORSGATE_BIN=/path/to/other/corsgate scripts/loadtest.sh   # measure another build
#
# Needs nginx and wrk (apt-get install -y nginx wrk). Loopback only; every process it starts is
# stopped on exit; bounded in time: RUNS × 2 kinds × 2 contenders × SECONDS_EACH, plus ~10 s.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${RUNS:-3}
seconds=${SECONDS_EACH:-8}
connections=${CONNECTIONS:-32}
idle=${IDLE_CONNECTIONS:-1000}
origin="http://127.0.0.1:5000"

for tool in nginx wrk taskset; do
    command -v "$tool" >/dev/null || {
        echo "scripts/loadtest.sh: needs $tool (apt-get install -y nginx wrk)" >&2
        exit 2
    }
done
[ "$(nproc)" -ge 2 ] || { echo "scripts/loadtest.sh: needs 2 cores (proxy on one, wrk on the other)" >&2; exit 2; }

# $corsgate, $dir (removed on exit with every pid in `pids`), free_port, wait_listening,
# nginx_common, write_upstream_conf.
. scripts/proxy-common.sh

upstream_port=$(free_port)
nginx_port=$(free_port)
corsgate_port=$(free_port)

# The upstream both proxies forward to: a process of its own, so each proxy pays the same
# hand-over to another process per request.
write_upstream_conf "$upstream_port"

# nginx as the CORS proxy: the usual recipe, with `always` so errors carry the headers too,
# the allowed origins in a lookup table (not a chain of ifs), its access log on.
{
    nginx_common proxy
    cat <<EOF
http {
    $temp_paths
    access_log $dir/access.log;
    upstream api {
        server 127.0.0.1:$upstream_port;
        keepalive 64;
    }
    map \$http_origin \$cors_origin {
        default "";
        "$origin" \$http_origin;
    }
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            if (\$request_method = OPTIONS) {
                add_header Access-Control-Allow-Origin \$cors_origin always;
                add_header Access-Control-Allow-Credentials true always;
                add_header Access-Control-Allow-Methods "DELETE, GET, OPTIONS, PATCH, POST, PUT" always;
                add_header Access-Control-Allow-Headers "accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with" always;
                add_header Access-Control-Max-Age 86400 always;
                add_header Vary Origin always;
                return 200;
            }
            proxy_hide_header Access-Control-Allow-Origin;
            proxy_hide_header Access-Control-Allow-Credentials;
            add_header Access-Control-Allow-Origin \$cors_origin always;
            add_header Access-Control-Allow-Credentials true always;
            add_header Vary Origin always;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_pass http://api;
        }
    }
}
EOF
} >"$dir/proxy.conf"

for conf in upstream proxy; do
    nginx -t -q -c "$dir/$conf.conf" -p "$dir" 2>"$dir/nginx-t.log" || { cat "$dir/nginx-t.log" >&2; exit 1; }
done
taskset -c 0 nginx -c "$dir/upstream.conf" -p "$dir" &
pids+=($!)
taskset -c 0 nginx -c "$dir/proxy.conf" -p "$dir" &
pids+=($!)
nginx_master=$!
taskset -c 0 "$corsgate" proxy --listen "127.0.0.1:$corsgate_port" --upstream "http://127.0.0.1:$upstream_port" \
    --allow-origin "$origin" --allow-credentials >"$dir/corsgate.log" 2>&1 &
pids+=($!)
corsgate_pid=$!
wait_listening "$upstream_port"
wait_listening "$nginx_port"
wait_listening "$corsgate_port"

cat >"$dir/preflight.lua" <<EOF
wrk.method = "OPTIONS"
wrk.headers["Origin"] = "$origin"
wrk.headers["Access-Control-Request-Method"] = "PUT"
wrk.headers["Access-Control-Request-Headers"] = "content-type,x-csrftoken"
EOF

# Both answer alike before anything is measured.
for port in "$nginx_port" "$corsgate_port"; do
    for kind in get preflight; do
        if [ "$kind" = get ]; then
            answer=$(curl -s -D - -o /dev/null -H "Origin: $origin" "http://127.0.0.1:$port/users" 2>/dev/null || true)
        else
            answer=$(curl -s -D - -o /dev/null -X OPTIONS -H "Origin: $origin" \
                -H 'Access-Control-Request-Method: PUT' "http://127.0.0.1:$port/users" 2>/dev/null || true)
        fi
        if ! grep -qi "^access-control-allow-origin: $origin" <<<"$answer"; then
            echo "scripts/loadtest.sh: 127.0.0.1:$port does not answer a CORS $kind as expected:" >&2
            echo "$answer" >&2
            exit 1
        fi
    done
done

# Process-wide CPU time in clock ticks: "user system".
ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
tck=$(getconf CLK_TCK)

# wrk's output -> "requests/s p50_ms p99_ms cpu_us user_us system_us" (the CPU time the proxy
# process spent per request during the run, and its user and kernel parts: steadier than
# requests/s on a noisy machine; the kernel part is what no user-space work can remove)
measure() { # port kind pid
    local script=() before after
    [ "$2" = preflight ] && script=(-s "$dir/preflight.lua")
    before=$(ticks "$3")
    taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" --latency "${script[@]}" \
        -H "Origin: $origin" "http://127.0.0.1:$1/users" >"$dir/wrk.out"
    after=$(ticks "$3")
    awk -v before="$before" -v after="$after" -v tck="$tck" '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        $1 == "Requests/sec:" { rps = $2 }
        $2 == "requests" && $3 == "in" { n = $1 }
        /Non-2xx/ { bad = "non-2xx answers: " $NF }
        /Socket errors/ { bad = $0 }
        END {
            split(before, b, " "); split(after, a, " ")
            user = a[1] - b[1]; sys = a[2] - b[2]; per = 1e6 / tck / n
            if (bad || rps + 0 == 0 || n + 0 == 0) { print "scripts/loadtest.sh: wrk: " (bad ? bad : "no requests") > "/dev/stderr"; exit 1 }
            printf "%s %.3f %.3f %.2f %.2f %.2f\n", rps, p50, p99, (user + sys) * per, user * per, sys * per
        }' "$dir/wrk.out"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

nginx_worker=$(pgrep -P "$nginx_master" | head -1)
echo "| request | nginx req/s | corsgate req/s | corsgate ÷ nginx | nginx p50 / p99 | corsgate p50 / p99 | CPU µs per request (user + kernel): nginx, corsgate |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for kind in get preflight; do
    : >"$dir/nginx.$kind"
    : >"$dir/corsgate.$kind"
    for _ in $(seq "$runs"); do
        measure "$nginx_port" "$kind" "$nginx_worker" >>"$dir/nginx.$kind"
        measure "$corsgate_port" "$kind" "$corsgate_pid" >>"$dir/corsgate.$kind"
    done
    n_rps=$(cut -d' ' -f1 "$dir/nginx.$kind" | median)
    c_rps=$(cut -d' ' -f1 "$dir/corsgate.$kind" | median)
    n_p50=$(cut -d' ' -f2 "$dir/nginx.$kind" | median)
    c_p50=$(cut -d' ' -f2 "$dir/corsgate.$kind" | median)
    n_p99=$(cut -d' ' -f3 "$dir/nginx.$kind" | median)
    c_p99=$(cut -d' ' -f3 "$dir/corsgate.$kind" | median)
    n_cpu=$(cut -d' ' -f4 "$dir/nginx.$kind" | median)
    c_cpu=$(cut -d' ' -f4 "$dir/corsgate.$kind" | median)
    n_usr=$(cut -d' ' -f5 "$dir/nginx.$kind" | median)
    c_usr=$(cut -d' ' -f5 "$dir/corsgate.$kind" | median)
    n_sys=$(cut -d' ' -f6 "$dir/nginx.$kind" | median)
    c_sys=$(cut -d' ' -f6 "$dir/corsgate.$kind" | median)
    awk -v k="$kind" -v nr="$n_rps" -v cr="$c_rps" -v n50="$n_p50" -v c50="$c_p50" -v n99="$n_p99" -v c99="$c_p99" \
        -v ncpu="$n_cpu" -v ccpu="$c_cpu" -v nu="$n_usr" -v cu="$c_usr" -v ns="$n_sys" -v cs="$c_sys" \
        'BEGIN { printf "| %s | %.0f | %.0f | **%.2f** | %.2f / %.2f ms | %.2f / %.2f ms | %.1f (%.1f + %.1f), %.1f (%.1f + %.1f) |\n", k, nr, cr, cr / nr, n50, n99, c50, c99, ncpu, nu, ns, ccpu, cu, cs }'
done

# Memory per idle connection: the proxy's resident set before and after `idle` connections
# that send nothing (nginx: its worker's).
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
idle_cost() { # pid port
    local before after fds=()
    before=$(rss_kb "$1")
    for _ in $(seq "$idle"); do
        exec {fd}<>"/dev/tcp/127.0.0.1/$2"
        fds+=("$fd")
    done
    sleep 1
    after=$(rss_kb "$1")
    for fd in "${fds[@]}"; do exec {fd}>&-; done
    awk -v b="$before" -v a="$after" -v n="$idle" 'BEGIN { printf "%.1f", (a - b) / n }'
}
ulimit -n $((idle * 2 + 100)) 2>/dev/null || true
echo
echo "Memory per idle client connection ($idle connections): nginx $(idle_cost "$nginx_worker" "$nginx_port") KB," \
    "corsgate $(idle_cost "$corsgate_pid" "$corsgate_port") KB"
echo
# Serving threads of their own (none on one CPU: the accepting thread serves), and Tokio's
# multi-threaded workers (builds before session 19 ran on those).
workers=$(cat /proc/"$corsgate_pid"/task/*/comm 2>/dev/null | grep -c '^corsgate-worker$' || true)
tokio_workers=$(cat /proc/"$corsgate_pid"/task/*/comm 2>/dev/null | grep -c '^tokio-rt-worker$' || true)
echo "($runs runs of ${seconds}s per contender and request, alternating; wrk -t1 -c$connections on core 1, proxy and upstream on core 0; medians; $(date -u +%F), $(nginx -v 2>&1 | sed 's/.*: //'), corsgate $("$corsgate" --version | awk '{print $2}') with ${workers:-0} serving threads of its own and ${tokio_workers:-0} Tokio worker threads)"

#!/usr/bin/env bash
# Instructions per request of `corsgate proxy` (user space, callgrind): the steady figure the
# proxy's optimisations are measured by, where timings on this 2-core VM move by 20% run to run.
#
#   scripts/proxy-instructions.sh                     # a CORS GET, from one keep-alive client
#   scripts/proxy-instructions.sh preflight           # a preflight (answered by the proxy)
#   scripts/proxy-instructions.sh close               # a GET, one request per connection
#   BROWSER_HEADERS=1 scripts/proxy-instructions.sh   # with the twelve headers a browser sends
#   CORSGATE_BIN=/path/to/other/corsgate scripts/proxy-instructions.sh   # another build
#
# The proxy runs under valgrind in front of an nginx upstream (`return 200`); wrk sends 1,000
# requests to one proxy and 3,000 to another, and the difference ÷ 2,000 is printed, so starting
# and stopping cancel out. Loopback only; every process it starts is stopped; bounded: wrk stops
# after the count or 60 s. Needs nginx, wrk and valgrind (apt-get install -y nginx wrk valgrind).
# The proxy is given one core (`taskset -c 0`), as in scripts/loadtest.sh: it then runs on one
# thread, the configuration the load test measures.
set -euo pipefail
cd "$(dirname "$0")/.."

kind=${1:-get}
case "$kind" in get | preflight | close) ;; *)
    echo "usage: scripts/proxy-instructions.sh [get|preflight|close]" >&2
    exit 2
    ;;
esac
for tool in nginx wrk valgrind taskset; do
    command -v "$tool" >/dev/null || {
        echo "scripts/proxy-instructions.sh: needs $tool (apt-get install -y nginx wrk valgrind)" >&2
        exit 2
    }
done
. scripts/proxy-common.sh

start_upstream

headers=(-H "Origin: http://127.0.0.1:5000")
[ "$kind" = close ] && headers+=(-H "Connection: close")
if [ -n "${BROWSER_HEADERS:-}" ]; then
    headers+=(-H "Connection: keep-alive" -H "Accept: */*" -H "Accept-Language: en-US,en;q=0.9"
        -H "Accept-Encoding: gzip, deflate, br"
        -H "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
        -H "Referer: http://127.0.0.1:5000/" -H "Sec-Fetch-Site: same-site" -H "Sec-Fetch-Mode: cors"
        -H "Sec-Fetch-Dest: empty" -H 'sec-ch-ua-platform: "Linux"' -H "Cookie: sessionid=abc; csrftoken=def")
fi

# Instructions of a proxy that served $1 requests.
count() {
    local n=$1 port
    port=$(free_port)
    taskset -c 0 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$corsgate" proxy \
        --listen "127.0.0.1:$port" --upstream "http://127.0.0.1:$upstream" \
        --allow-origin http://127.0.0.1:5000 --allow-credentials >"$dir/proxy.$n.log" 2>&1 &
    local proxy=$!
    pids+=("$proxy")
    wait_listening "$port" 600
    {
        echo "local n = 0"
        if [ "$kind" = preflight ]; then
            echo 'wrk.method = "OPTIONS"'
            echo 'wrk.headers["Access-Control-Request-Method"] = "PUT"'
            echo 'wrk.headers["Access-Control-Request-Headers"] = "content-type,x-csrftoken"'
        fi
        echo "response = function() n = n + 1; if n >= $n then wrk.thread:stop() end end"
    } >"$dir/count.lua"
    wrk -t1 -c1 -d60s -s "$dir/count.lua" "${headers[@]}" "http://127.0.0.1:$port/users" >"$dir/wrk.$n" 2>&1
    kill -INT "$proxy"
    wait "$proxy" || true
    local total
    total=$(sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$dir/proxy.$n.log")
    [ -n "$total" ] || {
        echo "scripts/proxy-instructions.sh: no count from valgrind:" >&2
        cat "$dir/proxy.$n.log" >&2
        exit 1
    }
    echo "$total"
}

few=$(count 1000)
many=$(count 3000)
echo "$kind${BROWSER_HEADERS:+ (browser headers)}: $(((many - few) / 2000)) instructions per request ($("$corsgate" --version))"

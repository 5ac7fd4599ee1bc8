# Sourced by scripts/loadtest.sh and scripts/proxy-instructions.sh: what both need to run
# `corsgate proxy` in front of an nginx upstream on loopback. Not a script of its own.

# `$corsgate`: the build to measure, `CORSGATE_BIN` (e.g. an older commit's, for a
# before/after) or this checkout's release build.
if [ -n "${CORSGATE_BIN:-}" ]; then
    corsgate=$CORSGATE_BIN
else
    cargo build -q --release -p corsgate-cli
    corsgate=target/release/corsgate
fi

# `$dir`, a temporary directory; every pid added to `pids` is stopped on exit, and `$dir` removed.
dir=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

# A loopback port nothing listens on (bash's /dev/tcp fails to connect to it).
free_port() {
    local port
    while :; do
        # Below the kernel's ephemeral range (from 32768 by default): a port
        # in it can be taken, between this check and the server's bind, as the
        # local port of one of the load's own client connections.
        port=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
}

# Waits until something listens on port $1, trying $2 times (default 100) 0.05 s apart.
wait_listening() {
    for _ in $(seq "${2:-100}"); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "$(basename "$0"): nothing listens on 127.0.0.1:$1" >&2
    exit 1
}

# The first lines of an nginx configuration named $1: no daemon, files in `$dir`.
nginx_common() {
    cat <<EOF
worker_processes 1;
daemon off;
pid $dir/$1.pid;
error_log $dir/$1.error.log warn;
events { worker_connections 4096; }
EOF
}
temp_paths="client_body_temp_path $dir; proxy_temp_path $dir; fastcgi_temp_path $dir; uwsgi_temp_path $dir; scgi_temp_path $dir;"

# Writes `$dir/upstream.conf`: the upstream every proxy forwards to, `200 ok` on port $1.
write_upstream_conf() {
    {
        nginx_common upstream
        cat <<EOF
http {
    $temp_paths
    access_log off;
    server {
        listen 127.0.0.1:$1;
        location / { return 200 "ok\n"; }
    }
}
EOF
    } >"$dir/upstream.conf"
}

# Starts the upstream (`write_upstream_conf`) on a free port, stopped on exit; its port in
# `$upstream` once it listens.
start_upstream() {
    upstream=$(free_port)
    write_upstream_conf "$upstream"
    nginx -c "$dir/upstream.conf" -p "$dir" &
    pids+=($!)
    wait_listening "$upstream"
}

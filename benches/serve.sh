#!/usr/bin/env bash
# Serving benchmark: `regionfeed run` against nginx serving the same bytes (`regionfeed render
# --out`), side by side in one run on this machine, with wrk -t2 -c64 -d10s:
#   200 — GET of the Örebro län Atom feed (~100 entries), no Accept-Encoding (plain bytes)
#   304 — the same GET with If-None-Match set to the server's own ETag
# Each of the four cases runs ROUNDS times, interleaved; the script prints every run and the
# medians, and the ratios the issue asks for. Usage: benches/serve.sh [ROUNDS] (default 3).
# Everything listens on 127.0.0.1 only; all processes it starts are stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
DURATION=${DURATION:-10s}

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v wrk >/dev/null 2>&1 || need+=(wrk)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# REGIONFEED_BIN compares another build (say, before and after a change) without rebuilding.
if [ -z "${REGIONFEED_BIN:-}" ]; then
    cargo build --release --locked --bin regionfeed >/dev/null
fi
BIN=${REGIONFEED_BIN:-$PWD/target/release/regionfeed}

WORK=$(mktemp -d)
# nginx workers drop to an unprivileged user: they must be able to read the rendered site.
chmod 755 "$WORK"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ORIGIN_PORT=$(free_port); RUN_PORT=$(free_port); NGINX_PORT=$(free_port)

# A loopback origin with a Polisen-shaped feed of 130 Örebro län events.
mkdir -p "$WORK/origin"
python3 benches/serve/make_feed.py 130 > "$WORK/origin/orebro.rss"
python3 -m http.server "$ORIGIN_PORT" --bind 127.0.0.1 --directory "$WORK/origin" >/dev/null 2>&1 &
PIDS+=($!)

cat > "$WORK/regionfeed.toml" <<EOF
[server]
listen = "127.0.0.1:$RUN_PORT"
base_url = "http://127.0.0.1:$RUN_PORT"

[storage]
path = "$WORK/db/regionfeed.db"

[fetch]
user_agent = "regionfeed-bench/1 (+https://example.test)"

[[source]]
id = "polisen-orebro"
url = "http://127.0.0.1:$ORIGIN_PORT/orebro.rss"
region = "18"
interval = "6h"
EOF
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$ORIGIN_PORT/orebro.rss" >/dev/null && break; sleep 0.1; done
"$BIN" --config "$WORK/regionfeed.toml" poll --once >"$WORK/poll.log" 2>&1 || { cat "$WORK/poll.log" >&2; exit 1; }
"$BIN" --config "$WORK/regionfeed.toml" render --out "$WORK/site" >"$WORK/render.log" 2>&1 || { cat "$WORK/render.log" >&2; exit 1; }

cat > "$WORK/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
    types { application/atom+xml atom; application/rss+xml rss; application/feed+json json; text/html html; }
    charset utf-8;
    charset_types application/atom+xml application/rss+xml application/feed+json;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    open_file_cache max=1000 inactive=60s;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $WORK/site;
    }
}
EOF
"$NGINX" -c "$WORK/nginx.conf" -p "$WORK" &
PIDS+=($!)
"$BIN" --config "$WORK/regionfeed.toml" run 2>"$WORK/run.log" &
PIDS+=($!)

FEED=/feeds/orebro-lan.atom
for port in "$NGINX_PORT" "$RUN_PORT"; do
    for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port$FEED" && break; sleep 0.1; done
done
NGINX_BYTES=$(curl -sf "http://127.0.0.1:$NGINX_PORT$FEED" | sha256sum | cut -c1-16)
RUN_BYTES=$(curl -sf "http://127.0.0.1:$RUN_PORT$FEED" | sha256sum | cut -c1-16)
ENTRIES=$(curl -sf "http://127.0.0.1:$RUN_PORT$FEED" | grep -c "<entry>")
SIZE=$(curl -sf "http://127.0.0.1:$RUN_PORT$FEED" | wc -c)
[ "$NGINX_BYTES" = "$RUN_BYTES" ] || { echo "nginx and run serve different bytes" >&2; exit 1; }
etag() { curl -sfI "http://127.0.0.1:$1$FEED" | tr -d '\r' | awk -F': ' 'tolower($1)=="etag"{print $2}'; }
NGINX_ETAG=$(etag "$NGINX_PORT"); RUN_ETAG=$(etag "$RUN_PORT")
for port_tag in "$NGINX_PORT|$NGINX_ETAG" "$RUN_PORT|$RUN_ETAG"; do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: ${port_tag#*|}" "http://127.0.0.1:${port_tag%%|*}$FEED")
    [ "$code" = 304 ] || { echo "no 304 from port ${port_tag%%|*}" >&2; exit 1; }
done
echo "feed: $FEED, $ENTRIES entries, $SIZE bytes, identical bytes from both servers"
echo "wrk -t2 -c64 -d$DURATION --latency, $ROUNDS rounds; nginx $("$NGINX" -v 2>&1 | cut -d/ -f2)"

# One wrk run: prints "requests_per_second p99_ms".
bench() {
    local port=$1 header=${2:-}
    local out
    if [ -n "$header" ]; then
        out=$(wrk -t2 -c64 -d"$DURATION" --latency -H "$header" "http://127.0.0.1:$port$FEED")
    else
        out=$(wrk -t2 -c64 -d"$DURATION" --latency "http://127.0.0.1:$port$FEED")
    fi
    if echo "$out" | grep -q "Non-2xx or 3xx"; then
        echo "$out" >&2
        echo "errors in wrk run" >&2
        exit 1
    fi
    local rps p99
    rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
    p99=$(echo "$out" | awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}')
    echo "$rps $p99"
}

declare -A RPS P99
for round in $(seq "$ROUNDS"); do
    for case in nginx-200 run-200 nginx-304 run-304; do
        case $case in
            nginx-200) r=$(bench "$NGINX_PORT") ;;
            run-200) r=$(bench "$RUN_PORT") ;;
            nginx-304) r=$(bench "$NGINX_PORT" "If-None-Match: $NGINX_ETAG") ;;
            run-304) r=$(bench "$RUN_PORT" "If-None-Match: $RUN_ETAG") ;;
        esac
        RPS[$case]="${RPS[$case]:-} ${r% *}"
        P99[$case]="${P99[$case]:-} ${r#* }"
        printf 'round %d  %-10s %10s req/s  p99 %7s ms\n' "$round" "$case" "${r% *}" "${r#* }"
    done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo
echo "medians:"
declare -A MR MP
for case in nginx-200 run-200 nginx-304 run-304; do
    MR[$case]=$(echo "${RPS[$case]}" | median)
    MP[$case]=$(echo "${P99[$case]}" | median)
    printf '  %-10s %10s req/s  p99 %7s ms\n' "$case" "${MR[$case]}" "${MP[$case]}"
done
ratio200=$(awk -v a="${MR[run-200]}" -v b="${MR[nginx-200]}" 'BEGIN {printf "%.2f", a/b}')
ratio304=$(awk -v a="${MR[run-304]}" -v b="${MR[nginx-304]}" 'BEGIN {printf "%.2f", a/b}')
echo
echo "run/nginx requests per second: 200 $ratio200 (target >= 0.50), 304 $ratio304 (target >= 1.00)"
echo "run p99: 200 ${MP[run-200]} ms, 304 ${MP[run-304]} ms (target < 10 ms)"

#!/usr/bin/env bash
# orgauth behind a real nginx on the loopback, with one and with two proxy hops (orgauth.conf and
# edge.conf beside this script, on free ports). Clients are told apart by their source address
# (127.0.0.10 and up, curl --interface): each gets its own rate-limit bucket and each session
# records the client's own address, also when the client writes an X-Forwarded-For of its own.
# A client that reaches orgauth directly cannot name another address with the header.
#
#   ORGAUTH_BIN=target/release/orgauth deploy/nginx/test.sh     # < 1 min; installs nginx if missing
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bin=${ORGAUTH_BIN:-$here/../../target/release/orgauth}
[[ -x $bin ]] || { echo "no orgauth binary at $bin (set ORGAUTH_BIN)" >&2; exit 1; }

if ! command -v nginx >/dev/null; then
  echo "installing nginx-light"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi
nginx=$(command -v nginx)

scratch=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$scratch"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for log in "$scratch"/*.log; do echo "--- $log" >&2; tail -20 "$log" >&2; done
  exit 1
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# orgauth, trusting the two proxies: the inner one connects from 127.0.0.1, the edge from 127.0.0.3.
(cd "$scratch" && DATABASE_URL="sqlite://$scratch/proxy.db?mode=rwc" \
  ORGAUTH_TRUSTED_PROXIES=127.0.0.1,127.0.0.3 exec "$bin" --host 127.0.0.1 --port 0 \
  >/dev/null 2>"$scratch/orgauth.log") &
pids+=($!)
for _ in $(seq 1 50); do grep -q "listening on http://" "$scratch/orgauth.log" && break; sleep 0.2; done
origin=$(grep -o 'listening on http://[0-9.:]*' "$scratch/orgauth.log" | head -1 | sed 's|listening on ||') \
  || fail "orgauth did not start"
inner_port=$(free_port)
edge_port=$(free_port)

# The example configurations with this run's ports, inside a minimal nginx.conf.
sed -e "s|listen 127.0.0.1:8080;|listen 127.0.0.1:$inner_port;|" \
  -e "s|proxy_pass http://127.0.0.1:3000;|proxy_pass $origin;|" "$here/orgauth.conf" >"$scratch/orgauth.conf"
sed -e "s|listen 127.0.0.1:8081;|listen 127.0.0.1:$edge_port;|" \
  -e "s|proxy_pass http://127.0.0.1:8080;|proxy_pass http://127.0.0.1:$inner_port;|" \
  "$here/edge.conf" >"$scratch/edge.conf"
grep -q "$inner_port" "$scratch/orgauth.conf" && grep -q "$edge_port" "$scratch/edge.conf" \
  || fail "the example configurations no longer have the lines this script rewrites"
for t in body proxy fastcgi uwsgi scgi; do mkdir -p "$scratch/$t"; done
cat >"$scratch/nginx.conf" <<CONF
worker_processes 1;
pid $scratch/nginx.pid;
error_log $scratch/nginx.log warn;
events {}
http {
    access_log off;
    client_body_temp_path $scratch/body;
    proxy_temp_path $scratch/proxy;
    fastcgi_temp_path $scratch/fastcgi;
    uwsgi_temp_path $scratch/uwsgi;
    scgi_temp_path $scratch/scgi;
    include $scratch/orgauth.conf;
    include $scratch/edge.conf;
}
CONF
"$nginx" -p "$scratch" -c "$scratch/nginx.conf" -g 'daemon off;' 2>>"$scratch/nginx.log" &
pids+=($!)
for _ in $(seq 1 50); do
  curl -fsS -o /dev/null "http://127.0.0.1:$edge_port/api/auth/ok" 2>/dev/null && break
  sleep 0.2
done
curl -fsS -o /dev/null "http://127.0.0.1:$edge_port/api/auth/ok" || fail "nginx does not proxy to orgauth"

# A failed sign-in from `source` through `port`; prints the status (401, or 429 when the bucket
# is spent: 3 sign-ins per 10 s per client). Each client tries its own address, so the
# per-account guessing delay (5 failures) stays out of it.
sign_in() {
  local source=$1 port=$2
  shift 2
  curl -sS -o /dev/null -w '%{http_code}' --interface "$source" "$@" \
    -H 'content-type: application/json' -d "{\"email\":\"nobody-$source@example.com\",\"password\":\"password123\"}" \
    "http://127.0.0.1:$port/api/auth/sign-in/email"
}
# The address the session of a sign-up from `source` through `port` records.
session_ip() {
  local source=$1 port=$2 email=$3
  shift 3
  local token
  token=$(curl -fsS --interface "$source" "$@" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"password123\",\"name\":\"P\"}" \
    "http://127.0.0.1:$port/api/auth/sign-up/email" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  curl -fsS --interface "$source" -H "authorization: Bearer $token" \
    "http://127.0.0.1:$port/api/auth/get-session" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["session"]["ipAddress"])'
}
expect() { [[ $2 == "$3" ]] || fail "$1: got $2, want $3"; }

# Two clients per topology: the first spends its bucket (one request naming another address
# itself), the second still has its own; each session records its client's address.
check_topology() {
  local name=$1 port=$2 a=$3 b=$4
  for i in 1 2 3; do expect "$name: sign-in $i from $a" "$(sign_in "$a" "$port")" 401; done
  expect "$name: 4th sign-in from $a, claiming another address" \
    "$(sign_in "$a" "$port" -H 'x-forwarded-for: 198.51.100.7')" 429
  expect "$name: first sign-in from $b" "$(sign_in "$b" "$port")" 401
  expect "$name: session of $a" "$(session_ip "$a" "$port" "a-$port@example.com")" "$a"
  expect "$name: session of $b, claiming another address" \
    "$(session_ip "$b" "$port" "b-$port@example.com" -H 'x-forwarded-for: 198.51.100.8')" "$b"
  echo "$name: two clients, two buckets; sessions record $a and $b"
}
check_topology "one hop (nginx -> orgauth)" "$inner_port" 127.0.0.10 127.0.0.11
check_topology "two hops (nginx edge -> nginx -> orgauth)" "$edge_port" 127.0.0.12 127.0.0.13

# Straight to orgauth from an address it does not trust: the header is not read.
direct=${origin#http://127.0.0.1:}
expect "direct: session of 127.0.0.14 claiming 198.51.100.9" \
  "$(session_ip 127.0.0.14 "$direct" direct@example.com -H 'x-forwarded-for: 198.51.100.9')" 127.0.0.14
echo "direct: a client's own X-Forwarded-For is ignored"
echo "nginx proxy test passed"

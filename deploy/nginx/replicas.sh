#!/usr/bin/env bash
# Three orgauth replicas on one fresh PostgreSQL database behind nginx on the loopback (upstream
# round robin), rate-limit counters shared through the database (ORGAUTH_RATE_LIMIT_STORAGE):
#  (a) a sign-in limit holds across the replicas: 3 per 10 s per client in all, not per replica;
#  (b) a session signed out through one replica is refused by the other two on the next request;
#  (c) one replica SIGKILLed under load (wrk: get-session, and every 10th request an update-user
#      POST) costs only its in-flight requests: at most one failed request per wrk connection.
#      nginx passes a request that meets a connection error to the next replica
#      (`proxy_next_upstream error timeout`), but never a POST it has already sent (nginx does not
#      retry non-idempotent requests), so the POSTs in flight on the killed replica fail (502).
#
#   ORGAUTH_BIN=target/release/orgauth deploy/nginx/replicas.sh          # ~1 min; QUICK=1: < 1 min
# Needs PostgreSQL at TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres),
# nginx and wrk (installed with apt-get when missing), python3 and curl.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# The binary, a scratch directory, a fresh database at $url dropped at exit, `pids`, `fail`,
# `free_port` and `wait_ok`.
source "$here/../../bench/fresh-db.sh"
duration=30
connections=32
[[ ${QUICK:-} == 1 ]] && duration=6 && connections=16

missing=()
command -v nginx >/dev/null || missing+=(nginx-light)
command -v wrk >/dev/null || missing+=(wrk)
if ((${#missing[@]})); then
  echo "installing ${missing[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
nginx=$(command -v nginx)
expect() { [[ $2 == "$3" ]] || fail "$1: got $2, want $3"; }

nginx_port=$(free_port)
ports=("$(free_port)" "$(free_port)" "$(free_port)")

# The three replicas start together on the empty database: they migrate it once between them.
# One secret (cookies are signed with it), nginx trusted as the proxy, the general limit raised
# for the load test (the sign-in rule stays 3 per 10 s).
for i in 0 1 2; do
  (cd "$scratch" && DATABASE_URL="$url" BETTER_AUTH_SECRET=replicas-test-secret-0123456789abcdef \
    BETTER_AUTH_URL="http://127.0.0.1:$nginx_port" ORGAUTH_TRUSTED_PROXIES=127.0.0.1 \
    ORGAUTH_RATE_LIMIT_STORAGE=database ORGAUTH_RATE_LIMIT_MAX=1000000 \
    ORGAUTH_ACCOUNT_GUESS_LIMIT=0 RUST_LOG=warn \
    exec "$bin" --host 127.0.0.1 --port "${ports[$i]}" >/dev/null 2>"$scratch/replica$i.log") &
  pids+=($!)
done
replica_pids=("${pids[@]}")
for i in 0 1 2; do wait_ok "${ports[$i]}"; done
expect "migrations recorded once" \
  "$(psql "$url" -qAtc "SELECT count(*) = count(DISTINCT version) FROM seaql_migrations")" t

for t in body proxy fastcgi uwsgi scgi; do mkdir -p "$scratch/$t"; done
cat >"$scratch/nginx.conf" <<CONF
worker_processes 1;
pid $scratch/nginx.pid;
error_log $scratch/nginx.log error;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $scratch/body;
    proxy_temp_path $scratch/proxy;
    fastcgi_temp_path $scratch/fastcgi;
    uwsgi_temp_path $scratch/uwsgi;
    scgi_temp_path $scratch/scgi;
    upstream orgauth {
        server 127.0.0.1:${ports[0]} max_fails=1 fail_timeout=5s;
        server 127.0.0.1:${ports[1]} max_fails=1 fail_timeout=5s;
        server 127.0.0.1:${ports[2]} max_fails=1 fail_timeout=5s;
        keepalive 32;
    }
    server {
        listen 127.0.0.1:$nginx_port;
        location / {
            proxy_pass http://orgauth;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_next_upstream error timeout;
        }
    }
}
CONF
"$nginx" -p "$scratch" -c "$scratch/nginx.conf" -g 'daemon off;' 2>>"$scratch/nginx.log" &
pids+=($!)
front="http://127.0.0.1:$nginx_port"
for _ in $(seq 1 50); do curl -fsS -o /dev/null "$front/api/auth/ok" 2>/dev/null && break; sleep 0.2; done
curl -fsS -o /dev/null "$front/api/auth/ok" || fail "nginx does not proxy to the replicas"

# (a) Six sign-ins from one client through nginx reach the replicas in turn: 3 pass, then 429.
statuses=()
for _ in 1 2 3 4 5 6; do
  statuses+=("$(curl -sS -o /dev/null -w '%{http_code}' --interface 127.0.0.20 \
    -H 'content-type: application/json' -d '{"email":"nobody@example.com","password":"password123"}' \
    "$front/api/auth/sign-in/email")")
done
expect "(a) six sign-ins from one client across three replicas" "${statuses[*]}" "401 401 401 429 429 429"
echo "(a) sign-in limit across 3 replicas: ${statuses[*]}"

# A signed-up user's bearer token.
token_for() {
  curl -fsS --interface "$1" -H 'content-type: application/json' \
    -d "{\"email\":\"$2\",\"password\":\"password123\",\"name\":\"R\"}" "$front/api/auth/sign-up/email" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])'
}
# get-session of `token` on replica `i`, directly: `user` or `null`.
session_on() {
  curl -fsS -H "authorization: Bearer $2" "http://127.0.0.1:${ports[$1]}/api/auth/get-session" |
    python3 -c 'import json,sys; s=json.load(sys.stdin); print("user" if s else "null")'
}

# (b) Signed out through replica 0: replicas 1 and 2 refuse the session on the next request.
token=$(token_for 127.0.0.21 signout@example.com)
for i in 0 1 2; do expect "(b) session on replica $i before sign-out" "$(session_on $i "$token")" user; done
curl -fsS -o /dev/null -X POST -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{}' "http://127.0.0.1:${ports[0]}/api/auth/sign-out" || fail "(b) sign-out"
for i in 1 2; do expect "(b) session on replica $i after sign-out" "$(session_on $i "$token")" null; done
echo "(b) a session signed out through replica 0 is refused by replicas 1 and 2"

# (c) Load through nginx; replica 2 is SIGKILLed halfway.
token=$(token_for 127.0.0.22 load@example.com)
cat >"$scratch/load.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  if n % 10 == 0 then
    -- wrk.format replaces wrk.headers (Host, the -H bearer token) with the table it is given.
    local headers = {["content-type"] = "application/json"}
    for k, v in pairs(wrk.headers) do headers[k] = v end
    return wrk.format("POST", "/api/auth/update-user", headers, '{"name":"Load"}')
  end
  return wrk.format("GET", "/api/auth/get-session")
end
LUA
wrk -t2 -c"$connections" -d"${duration}s" -s "$scratch/load.lua" -H "authorization: Bearer $token" \
  "$front" >"$scratch/wrk.out" 2>&1 &
wrk_pid=$!
sleep $((duration / 2))
kill -9 "${replica_pids[2]}"
wait "$wrk_pid" || fail "(c) wrk failed"
requests=$(grep -o '^ *[0-9]* requests in' "$scratch/wrk.out" | grep -o '[0-9]*' | head -1)
failed=$(grep -o 'Non-2xx or 3xx responses: [0-9]*' "$scratch/wrk.out" | grep -o '[0-9]*$' || echo 0)
socket_errors=$(grep -o 'Socket errors:.*' "$scratch/wrk.out" || echo none)
rate=$(grep -o 'Requests/sec: *[0-9.]*' "$scratch/wrk.out" | grep -o '[0-9.]*$')
echo "(c) $requests requests in ${duration}s ($rate/s, $connections connections), replica 2 killed at $((duration / 2))s:" \
  "$failed non-2xx; socket errors: $socket_errors"
[[ $socket_errors == none ]] || fail "(c) wrk saw socket errors: $socket_errors"
((failed <= connections)) || fail "(c) $failed requests failed, more than the $connections in flight"
for i in 0 1; do expect "(c) replica $i still serves" "$(session_on $i "$token")" user; done
echo "replicas test passed"

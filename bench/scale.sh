#!/usr/bin/env bash
# How cost grows with the data: for each number of users in SIZES, a fresh PostgreSQL database
# seeded through SQL (users, a password account and a session each, one organization per 50 users
# with its members, and one organization of up to 10,000 members with 2,000 pending invitations
# whose invitees have sessions), ANALYZE, then the release binary (rate limiting off) measured
# with wrk: get-session and organization/list for random users, sign-in for random users,
# list-members (first page and a deep page) and get-full-organization (membersLimit=100) on the
# large organization, and accept-invitation (each request a different invitee). Prints one table
# per size and the database size. Not a test.
#
#   bench/scale.sh                       # 1,000 / 100,000 / 1,000,000 users, 10 s per measurement
#   QUICK=1 bench/scale.sh               # 1,000 / 10,000 users, 2 s per measurement (< 2 minutes)
#   SIZES="1000 100000" DURATION=5 CONNECTIONS=8 KEEP=1 bench/scale.sh   # KEEP: leave the last database
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
if [[ ${QUICK:-0} == 1 ]]; then
  SIZES=${SIZES:-"1000 10000"} DURATION=${DURATION:-2} ACCEPTS=${ACCEPTS:-200}
else
  SIZES=${SIZES:-"1000 100000 1000000"} DURATION=${DURATION:-10} ACCEPTS=${ACCEPTS:-1000}
fi
CONNECTIONS=${CONNECTIONS:-8} SIGNIN_CONNECTIONS=${SIGNIN_CONNECTIONS:-2} LARGE=${LARGE:-10000}
INVITATIONS=${INVITATIONS:-2000} PER_ORG=${PER_ORG:-50}
(( ACCEPTS <= INVITATIONS )) || { echo "ACCEPTS must not exceed INVITATIONS" >&2; exit 1; }
server_url=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
bin=${ORGAUTH_BIN:-$repo/target/release/orgauth}
[[ -x $bin ]] || (cd "$repo" && cargo build --release --bin orgauth)
bin=$(realpath "$bin")
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install -y wrk)" >&2; exit 1; }
password=scale-bench-password-123
work=$(mktemp -d)
pid="" db=""
stop_server() { [[ -z $pid ]] || { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; pid=""; }; }
drop_db() { [[ -z $db ]] || psql "$server_url" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true; }
cleanup() { stop_server; [[ ${KEEP:-0} == 1 ]] || drop_db; rm -rf "$work"; }
trap cleanup EXIT
db_url() { python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$server_url" "$1"; }
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base=http://127.0.0.1:$port

start_server() { # url
  (cd "$work" && DATABASE_URL="$1" PORT=$port HOST=127.0.0.1 BETTER_AUTH_URL=$base RUST_LOG=warn \
    ORGAUTH_RATE_LIMIT=off ORGAUTH_MEMBERSHIP_LIMIT=100000000 ORGAUTH_ACCOUNT_GUESS_LIMIT=1000000000 \
    BETTER_AUTH_SECRET=benchmark-only-secret-0123456789-abcdef exec "$bin" serve >"$work/server.log" 2>&1) &
  pid=$!
  for _ in $(seq 1 300); do
    curl -fsS -o /dev/null --max-time 2 "$base/api/auth/ok" 2>/dev/null && return
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  cat "$work/server.log" >&2; exit 1
}

# wrk's Lua: a random user's session token (`scale` + 27 digits, as seeded) per request, or a
# random user's sign-in.
cat >"$work/random-session.lua" <<'LUA'
local n = tonumber(os.getenv("SCALE_USERS"))
local path = os.getenv("SCALE_PATH")
local threads = 0
function setup(thread) threads = threads + 1; thread:set("id", threads) end
function init() math.randomseed(os.time() * 100 + id) end
function request()
  local token = string.format("scale%027d", math.random(1, n))
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end
LUA
cat >"$work/random-sign-in.lua" <<'LUA'
local n = tonumber(os.getenv("SCALE_USERS"))
local origin = os.getenv("SCALE_ORIGIN")
local password = os.getenv("SCALE_PASSWORD")
local threads = 0
function setup(thread) threads = threads + 1; thread:set("id", threads) end
function init() math.randomseed(os.time() * 100 + id) end
function request()
  local body = string.format('{"email":"user%d@example.com","password":"%s"}', math.random(1, n), password)
  return wrk.format("POST", "/api/auth/sign-in/email",
    { ["Content-Type"] = "application/json", ["Origin"] = origin }, body)
end
LUA

measure() { # label connections lua-or-empty path [extra wrk args]
  local label=$1 conns=$2 lua=$3 path=$4 args=()
  [[ -n $lua ]] && args=(-s "$work/$lua") || args=(-H "Authorization: Bearer $(printf 'scale%027d' 1)")
  SCALE_PATH=$path SCALE_ORIGIN=$base SCALE_PASSWORD=$password \
    wrk -t2 -c"$conns" -d"${DURATION}s" --latency "${args[@]}" "$base$path" >"$work/wrk.txt"
  local rps p50 p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
  p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")
  [[ -z $non2xx ]] || { echo "$label: $non2xx non-2xx answers" >&2; cat "$work/wrk.txt" >&2; exit 1; }
  printf '| %s | %d | %s | %s | %s |\n' "$label" "$conns" "$rps" "$p50" "$p99"
}

# accept-invitation: each request a different invitee accepting their own invitation, from
# CONNECTIONS threads; latency per request.
accept() { # first last
  python3 - "$base" "$1" "$2" "$CONNECTIONS" <<'PY'
import http.client, json, statistics, sys, threading, time, urllib.parse
base, first, last, conns = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
host = urllib.parse.urlsplit(base).netloc
todo, lock, ms, bad = list(range(first, last + 1)), threading.Lock(), [], []
def run():
    c = http.client.HTTPConnection(host, timeout=30)
    while True:
        with lock:
            if not todo: return
            g = todo.pop()
        body = json.dumps({"invitationId": f"inv{g}"})
        t0 = time.perf_counter()
        c.request("POST", "/api/auth/organization/accept-invitation", body,
                  {"Authorization": "Bearer " + "invitee%026d" % g, "Origin": base, "Content-Type": "application/json"})
        r = c.getresponse(); r.read()
        with lock:
            ms.append((time.perf_counter() - t0) * 1000)
            if r.status != 200: bad.append(r.status)
t0 = time.perf_counter()
threads = [threading.Thread(target=run) for _ in range(conns)]
for t in threads: t.start()
for t in threads: t.join()
took = time.perf_counter() - t0
if bad: sys.exit(f"accept-invitation: {len(bad)} answers not 200: {sorted(set(bad))}")
ms.sort()
p = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))]
print(f"| accept-invitation ({len(ms)} invitations) | {conns} | {len(ms) / took:.2f} | {p(0.5):.2f}ms | {p(0.99):.2f}ms |")
PY
}

for n in $SIZES; do
  stop_server; drop_db
  db="orgauth_bench_scale_$$_$n"
  url=$(db_url "$db")
  psql "$server_url" -qc "CREATE DATABASE \"$db\""
  DATABASE_URL="$url" "$bin" migrate up >"$work/migrate.log" 2>&1 || { cat "$work/migrate.log" >&2; exit 1; }
  start_server "$url"
  # One user through the real sign-up, for a hash of the known password.
  curl -fsS -o /dev/null -H 'Content-Type: application/json' -H "Origin: $base" \
    -d "{\"name\":\"Hash\",\"email\":\"hash@example.com\",\"password\":\"$password\"}" "$base/api/auth/sign-up/email"
  stop_server
  large=$(( n < LARGE ? n : LARGE ))
  t0=$(date +%s)
  psql "$url" -q -v ON_ERROR_STOP=1 <<SQL
BEGIN;
CREATE TEMP TABLE hash AS
  SELECT a.password FROM account a JOIN "user" u ON u.id = a.user_id WHERE u.email = 'hash@example.com';
-- Users u1..uN, each with a password account and a session (token scale<27 digits>).
INSERT INTO "user" (id, name, email, email_verified, created_at, updated_at)
SELECT 'u' || g, 'User ' || g, 'user' || g || '@example.com', true,
       now() - interval '1 year' + g * interval '10 ms', now()
  FROM generate_series(1, $n) g;
INSERT INTO account (id, account_id, provider_id, user_id, password, created_at, updated_at)
SELECT 'a' || g, 'u' || g, 'credential', 'u' || g, (SELECT password FROM hash), now(), now()
  FROM generate_series(1, $n) g;
INSERT INTO session (id, expires_at, token, created_at, updated_at, user_id)
SELECT 's' || g, now() + interval '7 days',
       encode(sha256(convert_to('scale' || lpad(g::text, 27, '0'), 'UTF8')), 'hex'), now(), now(), 'u' || g
  FROM generate_series(1, $n) g;
-- One organization per $PER_ORG users (the first one its owner).
INSERT INTO organization (id, name, slug, created_at)
SELECT 'o' || k, 'Org ' || k, 'org-' || k, now() - interval '1 year' + k * interval '1 s'
  FROM generate_series(0, ($n - 1) / $PER_ORG) k;
INSERT INTO member (id, organization_id, user_id, role, created_at)
SELECT 'm' || g, 'o' || ((g - 1) / $PER_ORG), 'u' || g,
       CASE WHEN (g - 1) % $PER_ORG = 0 THEN 'owner' ELSE 'member' END,
       now() - interval '1 year' + g * interval '10 ms'
  FROM generate_series(1, $n) g;
-- The large organization: users u1..u$large (u1 its owner), $INVITATIONS pending invitations
-- whose invitees (i1..) are users with a session (token invitee<26 digits>).
INSERT INTO organization (id, name, slug, created_at) VALUES ('large', 'Large', 'large', now());
INSERT INTO member (id, organization_id, user_id, role, created_at)
SELECT 'ml' || g, 'large', 'u' || g, CASE WHEN g = 1 THEN 'owner' ELSE 'member' END,
       now() - interval '1 year' + g * interval '10 ms'
  FROM generate_series(1, $large) g;
INSERT INTO "user" (id, name, email, email_verified, created_at, updated_at)
SELECT 'i' || g, 'Invitee ' || g, 'invitee' || g || '@example.com', true, now(), now()
  FROM generate_series(1, $INVITATIONS) g;
INSERT INTO session (id, expires_at, token, created_at, updated_at, user_id)
SELECT 'si' || g, now() + interval '7 days',
       encode(sha256(convert_to('invitee' || lpad(g::text, 26, '0'), 'UTF8')), 'hex'), now(), now(), 'i' || g
  FROM generate_series(1, $INVITATIONS) g;
INSERT INTO invitation (id, organization_id, email, role, status, expires_at, created_at, inviter_id)
SELECT 'inv' || g, 'large', 'invitee' || g || '@example.com', 'member', 'pending',
       now() + interval '2 days', now() - interval '1 day' + g * interval '1 s', 'u1'
  FROM generate_series(1, $INVITATIONS) g;
COMMIT;
VACUUM ANALYZE;
SQL
  size=$(psql "$url" -XAtc "SELECT pg_size_pretty(pg_database_size(current_database()))")
  echo
  echo "## $n users (seeded in $(( $(date +%s) - t0 )) s; database $size)"
  echo
  start_server "$url"
  export SCALE_USERS=$n
  # Warm-up: the routes once, briefly.
  wrk -t1 -c2 -d1s -s "$work/random-session.lua" "$base/api/auth/get-session" >/dev/null
  echo "| route | connections | req/s | p50 | p99 |"
  echo "|---|---:|---:|---:|---:|"
  measure "get-session (random user)" "$CONNECTIONS" random-session.lua /api/auth/get-session
  measure "organization/list (random user)" "$CONNECTIONS" random-session.lua /api/auth/organization/list
  measure "sign-in/email (random user)" "$SIGNIN_CONNECTIONS" random-sign-in.lua /api/auth/sign-in/email
  measure "list-members, large org, first page" "$CONNECTIONS" "" \
    "/api/auth/organization/list-members?organizationId=large&limit=100"
  deep=$(( large > 200 ? large - 100 : 0 ))
  measure "list-members, large org, offset $deep" "$CONNECTIONS" "" \
    "/api/auth/organization/list-members?organizationId=large&limit=100&offset=$deep"
  measure "get-full-organization, large org, membersLimit=100" "$CONNECTIONS" "" \
    "/api/auth/organization/get-full-organization?organizationId=large&membersLimit=100"
  accept 1 "$ACCEPTS"
  echo
  echo "rows: $(psql "$url" -XAtc "SELECT format('users %s, sessions %s, accounts %s, organizations %s, members %s, invitations %s', (SELECT count(*) FROM \"user\"), (SELECT count(*) FROM session), (SELECT count(*) FROM account), (SELECT count(*) FROM organization), (SELECT count(*) FROM member), (SELECT count(*) FROM invitation))"); database $(psql "$url" -XAtc "SELECT pg_size_pretty(pg_database_size(current_database()))") after the run"
done

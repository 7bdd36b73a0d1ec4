#!/usr/bin/env bash
# Organization reads on a large organization beside a small one, in one run, alternating, through
# wrk on the orgauth release binary over PostgreSQL (seeded with SQL): an organization of 10,000
# members with 2,000 pending invitations, and one of 50 members with 100. Every route answers the
# same amount on both, so the ratio is the cost of the organization's size alone:
#   list-members           limit=PAGE: PAGE members with their users, and the total
#   get-full-organization  membersLimit=PAGE: PAGE members, the one team, 100 invitations
#   list-invitations       limit=PAGE: PAGE invitations, and the total
#   list-teams             the one team
#   get-organization       the organization: the caller's membership check alone
# Prints req/s and p99 per route and size, and the ratio small / large. Not a test.
#
#   bench/large-org.sh                  # 8 connections, 5 s per measurement, 2 rounds, PAGE=50
#   LARGE=10000 SMALL=50 INVITATIONS=2000 PAGE=50 CONNECTIONS=8 DURATION=5 ROUNDS=2 bench/large-org.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
LARGE=${LARGE:-10000} SMALL=${SMALL:-50} INVITATIONS=${INVITATIONS:-2000} PAGE=${PAGE:-50}
CONNECTIONS=${CONNECTIONS:-8} DURATION=${DURATION:-5} ROUNDS=${ROUNDS:-2}
server_url=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
bin=${ORGAUTH_BIN:-$repo/target/release/orgauth}
[[ -x $bin ]] || (cd "$repo" && cargo build --release --bin orgauth)
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
db="orgauth_bench_large_$$"
url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$server_url" "$db")
work=$(mktemp -d)
pid=""
cleanup() {
  [[ -z $pid ]] || kill "$pid" 2>/dev/null || true
  psql "$server_url" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$server_url" -qc "CREATE DATABASE \"$db\""
DATABASE_URL="$url" "$bin" migrate up >/dev/null

token=benchlargeorgtoken0123456789abcd
psql "$url" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO "user" (id, name, email, email_verified, created_at, updated_at)
SELECT 'u' || g, 'User ' || g, 'user' || g || '@example.com', true,
       now() - interval '1 year' + g * interval '1 second', now()
  FROM generate_series(0, $LARGE + $SMALL) g;
INSERT INTO session (id, expires_at, token, created_at, updated_at, user_id)
VALUES ('s0', now() + interval '7 days', encode(sha256('$token'::bytea), 'hex'), now(), now(), 'u0');
INSERT INTO organization (id, name, slug, created_at) VALUES
  ('large', 'Large', 'large', now()), ('small', 'Small', 'small', now());
INSERT INTO member (id, organization_id, user_id, role, created_at)
SELECT 'ml' || g, 'large', 'u' || g, CASE WHEN g = 0 THEN 'owner' ELSE 'member' END,
       now() - interval '1 year' + g * interval '1 second'
  FROM generate_series(0, $LARGE - 1) g;
INSERT INTO member (id, organization_id, user_id, role, created_at)
SELECT 'ms' || g, 'small', CASE WHEN g = 0 THEN 'u0' ELSE 'u' || ($LARGE + g) END,
       CASE WHEN g = 0 THEN 'owner' ELSE 'member' END,
       now() - interval '1 year' + g * interval '1 second'
  FROM generate_series(0, $SMALL - 1) g;
INSERT INTO team (id, name, organization_id, created_at) VALUES
  ('tl', 'Large', 'large', now()), ('ts', 'Small', 'small', now());
INSERT INTO invitation (id, organization_id, email, role, status, expires_at, created_at, inviter_id)
SELECT 'il' || g, 'large', 'guest' || g || '@example.com', 'member', 'pending',
       now() + interval '2 days', now() - interval '1 day' + g * interval '1 second', 'u0'
  FROM generate_series(1, $INVITATIONS) g;
INSERT INTO invitation (id, organization_id, email, role, status, expires_at, created_at, inviter_id)
SELECT 'is' || g, 'small', 'guest' || g || '@example.org', 'member', 'pending',
       now() + interval '2 days', now() - interval '1 day' + g * interval '1 second', 'u0'
  FROM generate_series(1, 100) g;
SQL
# As a long-lived database stands after autovacuum: statistics, and the visibility map that lets
# counts read the indexes alone.
psql "$url" -q -v ON_ERROR_STOP=1 <<SQL
VACUUM ANALYZE;
SQL

(cd "$work" && DATABASE_URL="$url" ORGAUTH_RATE_LIMIT=off BETTER_AUTH_SECRET=benchmark-only-secret-0123456789-abcdef \
  exec "$bin" --port 0 2>"$work/server.log") &
pid=$!
for _ in $(seq 1 60); do grep -q "listening on http://" "$work/server.log" && break; sleep 0.5; done
base=$(grep -o 'listening on http://[0-9.:]*' "$work/server.log" | head -1 | sed 's|listening on ||')

measure() { # label path
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Authorization: Bearer $token" "$base$2" >"$work/wrk.txt"
  local rps p99 non2xx
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt")
  p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")
  printf '%s\t%s\t%s\t%s\n' "$1" "$rps" "$p99" "${non2xx:-0}" | tee -a "$work/results.tsv"
}
routes=(list-members get-full-organization list-invitations list-teams get-organization)
path() { # route org
  local q="organizationId=$2"
  case $1 in
    list-members | list-invitations) q+="&limit=$PAGE" ;;
    get-full-organization) q+="&membersLimit=$PAGE" ;;
  esac
  printf '/api/auth/organization/%s?%s' "$1" "$q"
}
for route in "${routes[@]}"; do # warm-up
  for org in small large; do
    wrk -t1 -c2 -d1s -H "Authorization: Bearer $token" "$base$(path "$route" "$org")" >/dev/null
  done
done
for round in $(seq 1 "$ROUNDS"); do
  for route in "${routes[@]}"; do
    for org in small large; do measure "$route/$org" "$(path "$route" "$org")"; done
  done
done
python3 - "$work/results.tsv" "$LARGE" "$SMALL" <<'PY'
import sys, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
large, small = sys.argv[2], sys.argv[3]
agg = collections.defaultdict(list)
for label, rps, p99, bad in rows:
    if bad not in ("0", ""):
        sys.exit(f"{label}: {bad} non-2xx answers")
    agg[label].append((float(rps), p99))
print(f"| route | {small} members: req/s (p99) | {large} members: req/s (p99) | small / large |")
print("|---|---:|---:|---:|")
for route in ("list-members", "get-full-organization", "list-invitations", "list-teams", "get-organization"):
    s, l = agg[f"{route}/small"], agg[f"{route}/large"]
    rs, rl = sum(r for r, _ in s) / len(s), sum(r for r, _ in l) / len(l)
    print(f"| {route} | {rs:,.0f} ({s[-1][1]}) | {rl:,.0f} ({l[-1][1]}) | {rs / rl:.2f} |")
PY

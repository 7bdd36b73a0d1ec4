#!/usr/bin/env bash
# Revocation latency with the session cache on (ORGAUTH_SESSION_CACHE=on): three replicas on one
# fresh PostgreSQL database; 1,000 sessions, each cached on every replica, then revoked through
# one; how long until the last replica refuses it (p50, p99, max; bench/revocation.py). Fails if
# a replica still serves a revoked session 5 s later, and, in the full form, if any revocation
# took 100 ms or more (the quick form, which CI runs, reports the figure without judging it: a
# timing is not a test). Ends with each replica's cache hits and misses (its metrics).
#
#   ORGAUTH_BIN=target/release/orgauth bench/revocation.sh      # ~1 min; QUICK=1: 100 sessions
#   CACHE=off bench/revocation.sh                                # the same without the cache
# Needs PostgreSQL at TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres),
# python3 and curl.
set -euo pipefail
source "$(dirname "$0")/fresh-db.sh"
tokens=1000
limit_ms=100
[[ ${QUICK:-} == 1 ]] && tokens=100 && limit_ms=0

ports=("$(free_port)" "$(free_port)" "$(free_port)")
metrics=("$(free_port)" "$(free_port)" "$(free_port)")
origin="http://127.0.0.1:${ports[0]}"
for i in 0 1 2; do
  (cd "$scratch" && DATABASE_URL="$url" BETTER_AUTH_SECRET=revocation-test-secret-0123456789abcdef \
    BETTER_AUTH_URL="$origin" ORGAUTH_RATE_LIMIT=off ORGAUTH_SESSION_CACHE=${CACHE:-on} \
    ORGAUTH_METRICS_ADDR="127.0.0.1:${metrics[$i]}" RUST_LOG=warn \
    exec "$bin" --host 127.0.0.1 --port "${ports[$i]}" >/dev/null 2>"$scratch/replica$i.log") &
  pids+=($!)
done
for i in 0 1 2; do wait_ok "${ports[$i]}"; done

# One user, signed up; its sessions inserted as orgauth stores them (the token's SHA-256, hex).
curl -fsS -o /dev/null -H 'content-type: application/json' -H "origin: $origin" \
  -d '{"email":"rev@example.com","password":"password123","name":"Rev"}' \
  "http://127.0.0.1:${ports[0]}/api/auth/sign-up/email" || fail "sign-up"
psql "$url" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO session (id, token, user_id, expires_at, created_at, updated_at, ip_address, user_agent)
SELECT 'rev' || g, encode(sha256(('revtoken' || g)::bytea), 'hex'), u.id,
       (now() AT TIME ZONE 'UTC') + interval '7 days', now() AT TIME ZONE 'UTC',
       now() AT TIME ZONE 'UTC', '127.0.0.1', 'revocation.py'
FROM generate_series(1, $tokens) g, "user" u WHERE u.email = 'rev@example.com';
SQL
# The caches trust themselves within a heartbeat of starting.
sleep 1

python3 "$(dirname "$0")/revocation.py" --ports "$(IFS=,; echo "${ports[*]}")" --origin "$origin" --tokens "$tokens" \
  --limit-ms "$limit_ms" ||
  fail "revocation latency"
for i in 0 1 2; do
  m=$(curl -fsS "http://127.0.0.1:${metrics[$i]}/metrics")
  hits=$(grep '^orgauth_session_cache_hits_total' <<<"$m" | awk '{print $2}')
  misses=$(grep '^orgauth_session_cache_misses_total' <<<"$m" | awk '{print $2}')
  echo "replica $i: $hits cache hits, $misses misses"
  [[ ${CACHE:-on} == off ]] || ((hits > 0)) || fail "replica $i served nothing from its cache"
done
echo "revocation test passed"

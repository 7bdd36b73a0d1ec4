#!/usr/bin/env bash
# get-session with and without the session cache, side by side: two orgauth servers on one
# PostgreSQL database (ORGAUTH_SESSION_CACHE=off and =on), seeded through SQL with N users each
# holding one session; wrk asks get-session for a random one of the N tokens (64 connections),
# the two servers measured alternately, ROUNDS times. Then the same for update-user (a write: it
# notifies, and with the cache the request waits for its fence). Then both servers' RSS and the
# cache server's hits and misses (its metrics). Not a test.
#
#   ORGAUTH_BIN=target/release/orgauth bench/session-cache.sh   # ~2 min; N=100000 ROUNDS=2 DURATION=10
# Needs PostgreSQL at TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres),
# wrk (installed with apt-get when missing), python3 and curl.
set -euo pipefail
source "$(dirname "$0")/fresh-db.sh"
n=${N:-100000}
rounds=${ROUNDS:-2}
duration=${DURATION:-10}
connections=${CONNECTIONS:-64}
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
rss_mib() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }
peak_mib() { awk '/VmHWM/ {printf "%.0f", $2 / 1024}' "/proc/$1/status"; }

declare -A port pid
for mode in off on; do
  port[$mode]=$(free_port)
  metrics_port=$(free_port)
  [[ $mode == on ]] && cache_metrics=$metrics_port
  (cd "$scratch" && DATABASE_URL="$url" BETTER_AUTH_SECRET=cache-bench-secret-0123456789abcdef \
    ORGAUTH_RATE_LIMIT=off ORGAUTH_SESSION_CACHE=$mode ORGAUTH_METRICS_ADDR="127.0.0.1:$metrics_port" \
    RUST_LOG=warn exec "$bin" --host 127.0.0.1 --port "${port[$mode]}" >/dev/null 2>"$scratch/$mode.log") &
  pid[$mode]=$!
  pids+=($!)
  wait_ok "${port[$mode]}"
done

# N users with one session each (token `t<i>`, stored as its SHA-256 in hex).
psql "$url" -q -v ON_ERROR_STOP=1 <<SQL
INSERT INTO "user" (id, name, email, email_verified, created_at, updated_at)
SELECT 'u' || g, 'User ' || g, 'user' || g || '@example.com', true, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC'
FROM generate_series(1, $n) g;
INSERT INTO session (id, token, user_id, expires_at, created_at, updated_at, ip_address, user_agent)
SELECT 's' || g, encode(sha256(('t' || g)::bytea), 'hex'), 'u' || g,
       (now() AT TIME ZONE 'UTC') + interval '7 days', now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC',
       '127.0.0.1', 'Mozilla/5.0 (X11; Linux x86_64) session-cache.sh'
FROM generate_series(1, $n) g;
VACUUM ANALYZE;
SQL
cat >"$scratch/random.lua" <<LUA
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/api/auth/get-session", {["authorization"] = "Bearer t" .. math.random(1, $n)})
end
LUA
cat >"$scratch/update.lua" <<LUA
math.randomseed(os.time())
request = function()
  return wrk.format("POST", "/api/auth/update-user",
    {["authorization"] = "Bearer t" .. math.random(1, $n), ["content-type"] = "application/json"},
    '{"name":"Renamed"}')
end
LUA
echo "| route | round | cache | req/s | p50 | p99 |"
echo "|---|---|---|---:|---:|---:|"
for script in random update; do
  route=get-session; [[ $script == update ]] && route=update-user
  for r in $(seq 1 "$rounds"); do
    order="off on"; ((r % 2 == 0)) && order="on off"
    for mode in $order; do
      out=$(wrk -t2 -c"$connections" -d"${duration}s" --latency -s "$scratch/$script.lua" "http://127.0.0.1:${port[$mode]}")
      rps=$(grep -o 'Requests/sec: *[0-9.]*' <<<"$out" | grep -o '[0-9.]*$')
      p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
      p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
      non2xx=$(grep -o 'Non-2xx or 3xx responses: [0-9]*' <<<"$out" || true)
      echo "| $route | $r | $mode | $rps | $p50 | $p99 |${non2xx:+ $non2xx}"
    done
  done
done
m=$(curl -fsS "http://127.0.0.1:$cache_metrics/metrics")
echo
echo "cache server: RSS $(rss_mib "${pid[on]}") MiB (peak $(peak_mib "${pid[on]}") MiB);" \
  "hits $(grep '^orgauth_session_cache_hits_total' <<<"$m" | awk '{print $2}')," \
  "misses $(grep '^orgauth_session_cache_misses_total' <<<"$m" | awk '{print $2}')"
echo "no-cache server: RSS $(rss_mib "${pid[off]}") MiB (peak $(peak_mib "${pid[off]}") MiB)"

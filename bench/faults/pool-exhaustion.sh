#!/usr/bin/env bash
# The connection pool exhausted by blocked queries, on a private PostgreSQL cluster: orgauth runs
# with a pool of POOL connections and an acquire (and lock) timeout of TIMEOUT s; another client
# holds `LOCK TABLE session, "user" IN ACCESS EXCLUSIVE MODE` for HOLD s while 32 connections read
# sessions and 4 sign up, so every request blocks on the lock, holding a pooled connection, and
# the rest queue for one.
#
# Pass: no request waits longer than the two timeouts (plus a margin) and every failed one is a
# 503 with Retry-After; the locked phase did answer 503s (the pool really ran out); requests
# succeed again within RECOVERY s of the release; afterwards no connection is left `idle in
# transaction` and the invariants hold.
#
#   bench/faults/pool-exhaustion.sh           # full form, ~50 s
#   QUICK=1 bench/faults/pool-exhaustion.sh   # ~25 s
source "$(dirname "$0")/lib.sh"

POOL=${POOL:-4} TIMEOUT=${TIMEOUT:-3}
if [[ $QUICK == 1 ]]; then STEADY=4 HOLD=8 AFTER=6 USERS=50; else STEADY=10 HOLD=20 AFTER=15 USERS=200; fi
RECOVERY=${RECOVERY:-5}
HUNG=$((2 * TIMEOUT + 3))

pg_start_private
ORGAUTH_DATABASE_MAX_CONNECTIONS=$POOL ORGAUTH_DATABASE_ACQUIRE_TIMEOUT=$TIMEOUT orgauth_start "$PG_URL"
$LOAD seed --base "$BASE" --users "$USERS" --cookies "$SCRATCH/cookies"

$LOAD run --base "$BASE" --duration $((STEADY + HOLD + AFTER)) --events "$SCRATCH/events" \
  --session 32 --cookies "$SCRATCH/cookies" --signup 4 --timeout 30 &
load_pid=$!
phase steady
sleep "$STEADY"
psql_private -c "BEGIN; LOCK TABLE session, \"user\" IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep($HOLD); COMMIT;" >/dev/null &
lock_pid=$!
phase locked
wait "$lock_pid"
phase released
sleep 1
waiting=$(psql_private -c "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
wait "$load_pid" || fail "load client: workers hung"

echo "## Pool of $POOL exhausted by a held table lock (32 get-session, 4 sign-up connections; acquire and lock timeout $TIMEOUT s)"
echo
$LOAD report --events "$SCRATCH/events" --phases "$SCRATCH/phases" --hung "$HUNG" --allow 503 \
  --recover-from released --recovery-limit "$RECOVERY" || FAIL=1
refused=$(awk -v lo="$(awk '$2=="locked"{print $1}' "$SCRATCH/phases")" \
  -v hi="$(awk '$2=="released"{print $1}' "$SCRATCH/phases")" \
  '$1 >= lo && $1 < hi && $4 == "503" {n++} END {print n+0}' "$SCRATCH/events")
[[ $refused -gt 0 ]] || fail "no 503 while the lock was held: the pool was not exhausted"
echo "queries still waiting on a lock 1 s after the release: $waiting"
[[ $waiting == 0 ]] || fail "queries still blocked after the release"
open=$(psql_private -c "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction'")
echo "idle in transaction after: $open"
[[ $open == 0 ]] || fail "transactions left open"
invariants "$PG_URL"
exit "$FAIL"

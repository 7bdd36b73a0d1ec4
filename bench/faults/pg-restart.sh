#!/usr/bin/env bash
# PostgreSQL restarted while 64 connections read sessions (get-session with valid cookies) and 8
# sign up, against a private cluster: stopped with `pg_ctl stop -m fast`, left down, started again;
# then once more with `-m immediate` (a crash: no shutdown checkpoint). The full form also restarts
# without a pause (`pg_ctl restart`).
#
# Pass: while the database is away every failed request is a 503 with Retry-After (no 500, no
# reset connection, no request longer than HUNG s, no 200 without the session); requests succeed
# again within RECOVERY s of the database's return; the same orgauth process serves throughout;
# the last phase has no error; `orgauth check-invariants` holds after.
#
#   bench/faults/pg-restart.sh            # full form, ~2.5 min
#   QUICK=1 bench/faults/pg-restart.sh    # one restart, ~35 s
source "$(dirname "$0")/lib.sh"

if [[ $QUICK == 1 ]]; then
  STEADY=5 DOWN=5 AFTER=8 USERS=100 MODES=(fast)
else
  STEADY=15 DOWN=10 AFTER=20 USERS=500 MODES=(fast immediate restart)
fi
HUNG=${HUNG:-15} RECOVERY=${RECOVERY:-5}

pg_start_private
orgauth_start "$PG_URL"
pid0=$ORGAUTH_PID
$LOAD seed --base "$BASE" --users "$USERS" --cookies "$SCRATCH/cookies"
log "seeded $USERS signed-in users"

total=$((STEADY + ${#MODES[@]} * (DOWN + AFTER) + 2))
$LOAD run --base "$BASE" --duration "$total" --events "$SCRATCH/events" \
  --session 64 --cookies "$SCRATCH/cookies" --signup 8 --timeout 30 &
load_pid=$!
phase steady
sleep "$STEADY"
recover=()
for i in "${!MODES[@]}"; do
  mode=${MODES[$i]} n=$((i + 1))
  if [[ $mode == restart ]]; then
    phase "restart-$n"
    pg_ctl_do restart -m fast
  else
    phase "down-$n-$mode"
    pg_ctl_do stop -m "$mode"
    sleep "$DOWN"
    pg_ctl_do start
  fi
  phase "back-$n"
  recover+=(--recover-from "back-$n")
  sleep "$AFTER"
done
phase settled
wait "$load_pid" || fail "load client: workers hung"

echo "## PostgreSQL restarted under load (64 get-session, 8 sign-up connections)"
echo
$LOAD report --events "$SCRATCH/events" --phases "$SCRATCH/phases" --hung "$HUNG" --allow 503 \
  "${recover[@]}" --recovery-limit "$RECOVERY" || FAIL=1
# The last phase (after the last return) holds no failure at all.
tail_bad=$(awk -v t="$(awk '$2=="settled"{print $1}' "$SCRATCH/phases")" \
  '$1 >= t - 5 && !($4 ~ /^2/) {n++} END {print n+0}' "$SCRATCH/events")
[[ $tail_bad == 0 ]] || fail "$tail_bad failures in the last 5 s of load"
if orgauth_alive && [[ $ORGAUTH_PID == "$pid0" ]]; then
  echo "orgauth: the same process served throughout (pid $pid0)"
else
  fail "orgauth exited"
fi
pool=$(psql_private -c "SELECT count(*) FILTER (WHERE state = 'idle in transaction'), count(*) FROM pg_stat_activity WHERE datname = 'postgres' AND pid <> pg_backend_pid()")
echo "connections after: ${pool#*|} open, ${pool%|*} idle in transaction"
[[ ${pool%|*} == 0 ]] || fail "transactions left open"
invariants "$PG_URL"
exit "$FAIL"

#!/usr/bin/env bash
# orgauth SIGKILLed in the middle of writes, then started again, on PostgreSQL (a private cluster)
# and on SQLite. 16 connections run cycles of: two sign-ups, an organization created, an
# invitation sent and accepted, a team created and the invited user added to it. The client logs
# the identity of every write answered 2xx (email, organization, invitation, member, team, team
# member). The server is killed KILLS times at random moments 1-3 s apart and restarted at once.
#
# Pass: after the last restart the server serves, `orgauth check-invariants` holds, every write
# that got a 2xx before a kill is in the database, no request was answered 500, and on SQLite
# `PRAGMA integrity_check` says ok.
#
#   bench/faults/kill-restart.sh                    # full form: 20 kills per database, ~2 min
#   QUICK=1 bench/faults/kill-restart.sh            # 4 kills on PostgreSQL, 3 on SQLite, ~30 s
#   BACKENDS=postgres bench/faults/kill-restart.sh  # one database only
source "$(dirname "$0")/lib.sh"

if [[ $QUICK == 1 ]]; then KILLS=${KILLS:-4}; else KILLS=${KILLS:-20}; fi
BACKENDS=${BACKENDS:-postgres sqlite}
WORKERS=${WORKERS:-16}

one_backend() {
  local backend=$1 url
  if [[ $backend == postgres ]]; then
    pg_start_private
    url=$PG_URL
  else
    url="sqlite://$SCRATCH/kill.db?mode=rwc"
  fi
  local events=$SCRATCH/events.$backend stop=$SCRATCH/stop.$backend
  : >"$SCRATCH/phases"
  orgauth_start "$url"
  $LOAD run --base "$BASE" --duration 3600 --stop-file "$stop" --events "$events" \
    --orgflow "$WORKERS" --tag "$backend-$$" --timeout 30 &
  local load_pid=$! k
  phase running
  for k in $(seq 1 "$KILLS"); do
    sleep "$(python3 -c 'import random; print(round(random.uniform(1, 3), 2))')"
    orgauth_kill
    phase "killed-$k"
    orgauth_start "$url"
    phase "restarted-$k"
  done
  sleep 2
  touch "$stop"
  wait "$load_pid" || fail "load client: workers hung"
  phase stopped

  echo "## orgauth killed $KILLS times under writes, $backend ($WORKERS connections)"
  echo
  # Phases per kill would make a long table: one for the whole run, then the checks.
  $LOAD report --events "$events" --hung 15 --allow '503,ERR:*' || FAIL=1
  echo
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    -H 'Origin: http://127.0.0.1' -d '{"name":"After","email":"after-'"$backend"'@faults.local","password":"fault-password-123"}' \
    "$BASE/api/auth/sign-up/email")
  [[ $code == 200 ]] && echo "serves after the last restart (sign-up 200)" || fail "sign-up after the last restart: $code"
  orgauth_kill
  invariants "$url"
  nothing_lost "$events" "$url"
  if [[ $backend == sqlite ]]; then
    local ic
    ic=$(sqlite3 "$SCRATCH/kill.db" 'PRAGMA integrity_check')
    echo "integrity_check: $ic"
    [[ $ic == ok ]] || fail "SQLite integrity_check: $ic"
  else
    pg_ctl_do stop -m fast
    PG_DATA=""
  fi
  echo
}

for b in $BACKENDS; do
  ORGAUTH_PORT="" ORGAUTH_PID=""
  one_backend "$b"
done
exit "$FAIL"

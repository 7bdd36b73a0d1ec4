#!/usr/bin/env bash
# SIGTERM under load, against the release binary: wrk holds 48 connections on get-session and 16
# on sign-up/email (each sign-up a new address); after STOP_AT seconds (5; 3 with QUICK=1) the
# server gets SIGTERM. Reports what the server said at the signal (connections, requests in
# flight), how long it took to exit (ORGAUTH_SHUTDOWN_TIMEOUT, 30 s, is the bound), wrk's answers
# by status and its socket errors by kind (connect errors after the stop are new connections
# refused; read errors would be answers lost), and whether every sign-up answered 200 is in the
# database and nothing else is (users in the database = 200s + the one signed up for the cookie).
#   bench/faults/graceful-stop.sh           # about 15 s
#   QUICK=1 bench/faults/graceful-stop.sh   # about 10 s
source "$(dirname "$0")/net-lib.sh"
stop_at=${STOP_AT:-$([[ ${QUICK:-0} == 1 ]] && echo 3 || echo 5)}
secs=$((stop_at + 4))
net_start stop ORGAUTH_SHUTDOWN_TIMEOUT="${SHUTDOWN_TIMEOUT:-30}"
cookie=$(net_session_cookie)
# Sign-ups with new addresses: the thread's number and a counter (and the process id, for reruns).
{
  cat <<'LUA'
local threads, created = {}, 0
function setup(thread)
  created = created + 1
  thread:set("id", created)
  table.insert(threads, thread)
end
local n = 0
function init(args) statuses = {} end
function request()
  n = n + 1
  return wrk.format("POST", "/api/auth/sign-up/email", {["content-type"] = "application/json", ["origin"] = os.getenv("ORIGIN")},
    string.format('{"name":"S","email":"s-%s-%d-%d@example.com","password":"password123"}', os.getenv("RUN"), id, n))
end
LUA
  # The status counting and the RESULT line of net-lib's status.lua.
  sed -n '/^function response/,$p' "$WORK/status.lua"
} >"$WORK/signup.lua"
WRK_PATH=/api/auth/get-session wrk -t1 -c48 -d"${secs}s" --timeout 30s -s "$WORK/status.lua" -H "cookie: $cookie" "$BASE" >"$WORK/get.txt" 2>&1 &
w1=$!
RUN=$$ ORIGIN=$BASE wrk -t1 -c16 -d"${secs}s" --timeout 30s -s "$WORK/signup.lua" "$BASE" >"$WORK/signup.txt" 2>&1 &
w2=$!
sleep "$stop_at"
t0=$(date +%s.%N)
kill -TERM "$PID"
while kill -0 "$PID" 2>/dev/null; do sleep 0.01; done
t1=$(date +%s.%N)
wait "$PID" && code=0 || code=$?
PID=
wait "$w1" "$w2" || true
echo "graceful-stop: SIGTERM after ${stop_at}s of load; exited with $code after $(python3 -c "print(f'{$t1-$t0:.2f}')") s"
grep -o 'stopped accepting.*' "$LOG" | head -1 | sed 's/^/server at the signal: /'
grep -oE '(every connection closed|grace period over).*' "$LOG" | head -1 | sed 's/^/server after: /'
echo "get-session: $(grep '^RESULT' "$WORK/get.txt" | sed 's/^RESULT //')"
echo "sign-up:     $(grep '^RESULT' "$WORK/signup.txt" | sed 's/^RESULT //')"
ok=$(grep '^RESULT' "$WORK/signup.txt" | grep -o 'statuses=[^ ]*' | grep -o '200x[0-9]*' | cut -dx -f2)
users=$(sqlite3 "$WORK/stop.db" 'select count(*) from "user"' 2>/dev/null || python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from \"user\"').fetchone()[0])" "$WORK/stop.db")
echo "sign-ups answered 200: ${ok:-0}; users in the database: $users (expected $(( ${ok:-0} + 1 )))"
DATABASE_URL="sqlite://$WORK/stop.db" BETTER_AUTH_SECRET=faults-net-secret-0123456789-0123456789 "$ORGAUTH_BIN" check-invariants \
  && echo "invariants: hold" || echo "invariants: BROKEN"

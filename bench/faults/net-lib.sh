#!/usr/bin/env bash
# Shared by the network-fault scripts (slow-clients.sh, idp.sh, graceful-stop.sh): start the
# release binary on a fresh SQLite database in a temporary folder, wait until it answers, read its
# memory, sign a user up for a session cookie, and run wrk with per-status counts (status.lua).
# Source it; it sets REPO, WORK (removed on exit), and after net_start: PID, BASE, LOG.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ORGAUTH_BIN=${ORGAUTH_BIN:-$REPO/target/release/orgauth}
[[ -x $ORGAUTH_BIN ]] || { echo "build it first: cargo build --release --bin orgauth (or set ORGAUTH_BIN)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install -y wrk)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/orgauth-faults-net.XXXXXX)
PID=
net_cleanup() {
  [[ -n ${PID:-} ]] && kill "$PID" 2>/dev/null || true
  [[ -n ${EXTRA_PIDS:-} ]] && kill $EXTRA_PIDS 2>/dev/null || true
  rm -rf "$WORK"
}
trap net_cleanup EXIT
# Thousands of sockets on both sides.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# A free TCP port.
net_free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# net_start NAME [VAR=value ...]: the server with the given settings (rate limiting off: all load
# comes from one address), logging at info to $WORK/NAME.log; on NET_DATABASE_URL if set.
net_start() {
  local name=$1; shift
  local port; port=$(net_free_port)
  BASE=http://127.0.0.1:$port LOG=$WORK/$name.log
  env PORT=$port HOST=127.0.0.1 BETTER_AUTH_URL=$BASE \
    DATABASE_URL="${NET_DATABASE_URL:-sqlite://$WORK/$name.db?mode=rwc}" \
    BETTER_AUTH_SECRET=faults-net-secret-0123456789-0123456789 \
    ORGAUTH_RATE_LIMIT=off RUST_LOG=${RUST_LOG:-info} "$@" \
    "$ORGAUTH_BIN" serve >"$LOG" 2>&1 &
  PID=$!
  local tries=0
  until curl -fsS -o /dev/null --max-time 2 "$BASE/api/auth/ok" 2>/dev/null; do
    kill -0 "$PID" 2>/dev/null || { cat "$LOG" >&2; exit 1; }
    (( ++tries < 150 )) || { echo "the server did not answer" >&2; exit 1; }
    sleep 0.2
  done
}

# Resident memory of a process, in KiB (VmRSS; VmHWM for the peak).
net_kb() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status"; }

# Signs up a user and prints its session cookie (name=value).
net_session_cookie() {
  curl -fsS -D - -o /dev/null -H 'content-type: application/json' -H "origin: $BASE" \
    -d "{\"name\":\"Load\",\"email\":\"load-$RANDOM@example.com\",\"password\":\"password123\"}" \
    "$BASE/api/auth/sign-up/email" | tr -d '\r' | awk -F'[:;] *' 'tolower($1)=="set-cookie" && $2 ~ /session_token=/ {print $2; exit}'
}

# wrk's counts by status and by socket error, and its latency, as one line each (see net_wrk).
cat >"$WORK/status.lua" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args)
  statuses = {}
  local m, p, b = os.getenv("WRK_METHOD"), os.getenv("WRK_PATH"), os.getenv("WRK_BODY")
  if m then wrk.method = m end
  if p then wrk.path = p end
  if b then wrk.body = b end
end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local total, keys = {}, {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do total[k] = (total[k] or 0) + v end
  end
  for k in pairs(total) do table.insert(keys, k) end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do table.insert(parts, k .. "x" .. total[k]) end
  local e = summary.errors
  io.write(string.format("RESULT requests=%d rps=%.0f statuses=%s connect_errors=%d read_errors=%d write_errors=%d timeouts=%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f\n",
    summary.requests, summary.requests / (summary.duration / 1e6), table.concat(parts, ","),
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
LUA

# net_wrk SECONDS CONNECTIONS PATH [wrk args...]: prints wrk's RESULT line (WRK_METHOD, WRK_BODY
# in the environment for POSTs).
net_wrk() {
  local secs=$1 conns=$2 path=$3; shift 3
  WRK_PATH=$path wrk -t2 -c"$conns" -d"${secs}s" --timeout 30s -s "$WORK/status.lua" "$@" "$BASE" 2>&1 | grep '^RESULT' | sed 's/^RESULT //'
}

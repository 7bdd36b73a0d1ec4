# Shared by the fault scripts (source it): a scratch directory, a private PostgreSQL cluster, the
# orgauth release binary started and stopped, and the load client (load.py). Nothing here touches
# the machine's own PostgreSQL: every cluster is initdb'd into the scratch directory, on its own
# port, run as a non-root user, and removed at exit.
#
# Environment: ORGAUTH_BIN (the release binary; default target/release/orgauth), QUICK=1 for the
# short forms, KEEP=1 to keep the scratch directory (logs, events), PG_BIN (PostgreSQL's bin/).
set -euo pipefail

faults_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$faults_dir/../.." && pwd)
ORGAUTH_BIN=${ORGAUTH_BIN:-$repo/target/release/orgauth}
[[ -x $ORGAUTH_BIN ]] || { echo "no orgauth binary at $ORGAUTH_BIN (cargo build --release --bin orgauth, or set ORGAUTH_BIN)" >&2; exit 2; }
ORGAUTH_BIN=$(cd "$(dirname "$ORGAUTH_BIN")" && pwd)/$(basename "$ORGAUTH_BIN")
QUICK=${QUICK:-0}
PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
LOAD="python3 $faults_dir/load.py"

SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/orgauth-faults.XXXXXX")
chmod 755 "$SCRATCH"
ORGAUTH_PID=""
PG_DATA=""
FAIL=0

log() { printf '[%s %s] %s\n' "$(basename "$0" .sh)" "$(date -u +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }
# A phase boundary for load.py report.
phase() { echo "$(now) $1" >>"$SCRATCH/phases"; log "phase: $1"; }
fail() { echo "FAIL: $*"; FAIL=1; }

cleanup() {
  [[ -z $ORGAUTH_PID ]] || kill -9 "$ORGAUTH_PID" 2>/dev/null || true
  [[ -z $PG_DATA ]] || as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate stop >/dev/null 2>&1 || true
  if [[ ${KEEP:-0} == 1 ]]; then log "kept $SCRATCH"; else rm -rf "$SCRATCH"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# PostgreSQL refuses to run as root: run its tools as `postgres` when we are root.
as_pg() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A private cluster in $SCRATCH/pg on a free port; sets PG_URL (its `postgres` database).
pg_start_private() {
  PG_DATA=$SCRATCH/pg
  PG_PORT=$(free_port)
  mkdir -p "$PG_DATA"
  [[ $(id -u) != 0 ]] || chown postgres "$PG_DATA"
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust --no-sync >/dev/null
  cat >>"$PG_DATA/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_DATA'
max_connections = 200
ssl = off
EOF
  pg_ctl_do start
  PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
  log "private PostgreSQL on port $PG_PORT"
}

pg_ctl_do() {
  as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w "$@" >/dev/null
}

psql_private() { psql "$PG_URL" -qAtX -v ON_ERROR_STOP=1 "$@"; }

# Starts orgauth on a free port against DATABASE_URL=$1 (more settings from the environment);
# sets ORGAUTH_PID and BASE. Waits until /healthz answers.
orgauth_start() {
  local url=$1 n=${ORGAUTH_STARTS:-0}
  ORGAUTH_STARTS=$((n + 1))
  ORGAUTH_PORT=${ORGAUTH_PORT:-$(free_port)}
  BASE=http://127.0.0.1:$ORGAUTH_PORT
  DATABASE_URL=$url PORT=$ORGAUTH_PORT HOST=127.0.0.1 \
    BETTER_AUTH_URL=http://127.0.0.1 BETTER_AUTH_SECRET=fault-scripts-secret-0123456789-abcdefgh \
    ORGAUTH_RATE_LIMIT=off ORGAUTH_ACCOUNT_GUESS_LIMIT=0 \
    ORGAUTH_REQUIRE_EMAIL_VERIFICATION_ON_INVITATION=false \
    RUST_LOG=${RUST_LOG:-warn} \
    "$ORGAUTH_BIN" serve >>"$SCRATCH/orgauth.$n.log" 2>&1 &
  ORGAUTH_PID=$!
  for _ in $(seq 1 200); do
    curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null && return 0
    kill -0 "$ORGAUTH_PID" 2>/dev/null || { tail -20 "$SCRATCH/orgauth.$n.log" >&2; return 1; }
    sleep 0.05
  done
  echo "orgauth did not start" >&2
  return 1
}

orgauth_kill() {
  kill -9 "$ORGAUTH_PID" 2>/dev/null || true
  wait "$ORGAUTH_PID" 2>/dev/null || true
  ORGAUTH_PID=""
}

orgauth_alive() { [[ -n $ORGAUTH_PID ]] && kill -0 "$ORGAUTH_PID" 2>/dev/null; }

# orgauth check-invariants against DATABASE_URL=$1; prints OK or the broken rows.
invariants() {
  local out
  if out=$(DATABASE_URL=$1 "$ORGAUTH_BIN" check-invariants 2>&1); then
    echo "invariants: hold"
  else
    echo "$out" | head -20
    fail "invariants broken"
  fi
}

# Every write that got a 2xx in the events file $1 is in the database $2 (postgres or sqlite URL).
nothing_lost() {
  local events=$1 url=$2 sql missing
  sql=$SCRATCH/verify.sql
  $LOAD verify --events "$events" >"$sql" 2>"$SCRATCH/verify.counts"
  sed 's/^-- /  /' "$SCRATCH/verify.counts"
  if [[ $url == sqlite* ]]; then
    local file=${url#sqlite://}; file=${file%%\?*}
    missing=$(sqlite3 "$file" <"$sql")
  else
    missing=$(psql "$url" -qAtX -v ON_ERROR_STOP=1 -f "$sql")
  fi
  if [[ -n $missing ]]; then
    echo "$missing" | head -20
    fail "$(echo "$missing" | wc -l) writes answered 2xx are not in the database"
  else
    echo "nothing lost: every write answered 2xx is in the database"
  fi
}

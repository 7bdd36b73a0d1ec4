# Shared by the scripts that run orgauth servers on a fresh database of the machine's PostgreSQL
# (source it): the release binary (absolute path), a scratch directory, the database created and
# dropped at exit with every started process stopped, and the helpers around them. Sets `bin`,
# `scratch`, `url` (plain TCP, as the benchmarks run: a new pool connection's TLS handshake would
# show as a ~90 ms outlier) and `pids` (append what you start).
#
# Environment: ORGAUTH_BIN (default target/release/orgauth), TEST_POSTGRES_URL (default
# postgres://postgres@127.0.0.1:5432/postgres).
set -euo pipefail

bin=${ORGAUTH_BIN:-$(dirname "${BASH_SOURCE[0]}")/../target/release/orgauth}
[[ -x $bin ]] || { echo "no orgauth binary at $bin (set ORGAUTH_BIN)" >&2; exit 1; }
bin=$(realpath "$bin")
pg_server=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
scratch=$(mktemp -d)
fresh_db="orgauth_$(basename "$0" .sh | tr -c 'a-z0-9\n' _)_$$"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  psql "$pg_server" -qc "DROP DATABASE IF EXISTS \"$fresh_db\" WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$scratch"
}
trap cleanup EXIT
# Prints the failure and the tail of every log in the scratch directory, and stops.
fail() {
  echo "FAIL: $*" >&2
  for log in "$scratch"/*.log; do [[ -e $log ]] && { echo "--- $log" >&2; tail -20 "$log" >&2; }; done
  exit 1
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Waits up to 20 s for the server on port $1 to answer /api/auth/ok.
wait_ok() {
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$1/api/auth/ok" 2>/dev/null && return 0
    sleep 0.2
  done
  fail "no server answers on port $1"
}

psql "$pg_server" -qc "CREATE DATABASE \"$fresh_db\"" >/dev/null
url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$pg_server" "$fresh_db")
[[ $url == *\?* ]] && url+="&sslmode=disable" || url+="?sslmode=disable"

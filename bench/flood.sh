#!/usr/bin/env bash
# orgauth under a flood of password hashing: FLOOD_CONNECTIONS (200) concurrent sign-ins while
# GET_CONNECTIONS (16) connections keep asking for get-session. Reports the server's peak RSS
# over the window, get-session latency, and how the sign-ins ended (200, or 503 + Retry-After when
# the hashing queue is full). Runs after compare.sh on its seeded candidate database.
set -euo pipefail
: "${OUT:?}" "${REF:?}" "${ORGAUTH_BIN:?}"
repo=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(realpath "$OUT") REF=$(realpath "$REF")
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres} PGPASSWORD=${PGPASSWORD:-postgres}
port=${FLOOD_PORT:-3002} base=http://127.0.0.1:${FLOOD_PORT:-3002}
db=${CAND_DB_NAME:-ba_bench_candidate}
seed=$OUT/compare/${CAND_LABEL:-orgauth}/seed
secs=${FLOOD_DURATION:-20}
status_kb() { awk -v k="$2:" '$1==k {print $2}' "/proc/$1/status"; }
kv() { grep -o "$1=[^ ]*" "$2" | head -1 | cut -d= -f2; }

PORT=$port HOST=127.0.0.1 DB_POOL_MAX=${DB_POOL_MAX:-10} BETTER_AUTH_URL=$base \
  DATABASE_URL=postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$db "$repo/bench/orgauth-server.sh" >"$OUT/flood-server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
until curl -fsS -o /dev/null --max-time 2 "$base/api/auth/ok" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || { cat "$OUT/flood-server.log" >&2; exit 1; }
  sleep 0.2
done
sleep 3
idle_kb=$(status_kb "$pid" VmRSS)
echo 5 >"/proc/$pid/clear_refs"
(cd "$REF" && MODE=sign_in REQ_PATH=/api/auth/sign-in/email DATA_FILE="$seed/credentials.tsv" ORIGIN=$base RUN_ID=flood \
  timeout $((secs + 60)) wrk -t2 -c"${FLOOD_CONNECTIONS:-200}" -d"${secs}s" --timeout 30s --latency -s wrk/bench.lua "$base") >"$OUT/flood-sign-in.txt" 2>&1 &
flood=$!
sleep 2 # the queue is full before get-session is measured
(cd "$REF" && MODE=get REQ_PATH=/api/auth/get-session DATA_FILE="$seed/sessions.txt" RUN_ID=flood-get \
  timeout $((secs + 60)) wrk -t1 -c"${GET_CONNECTIONS:-16}" -d"$((secs - 4))s" --timeout 30s --latency -s wrk/bench.lua "$base") >"$OUT/flood-get-session.txt" 2>&1
wait "$flood" || true
peak_kb=$(status_kb "$pid" VmHWM)
after_kb=$(status_kb "$pid" VmRSS)
# How the sign-ins ended: one burst of parallel sign-ins, counting the status codes, once the
# flood's queued sign-ins have been served or refused (the queue's wait limit is 5 s).
sleep 6
codes=$(python3 - "$base" "$seed/credentials.tsv" "${FLOOD_CONNECTIONS:-200}" <<'PY'
import collections, json, sys, threading, urllib.error, urllib.request
base, creds, n = sys.argv[1], [l.rstrip("\n").split("\t") for l in open(sys.argv[2]) if l.strip()], int(sys.argv[3])
codes, lock = collections.Counter(), threading.Lock()
def one(i):
    e, p = creds[i % len(creds)]
    req = urllib.request.Request(base + "/api/auth/sign-in/email", json.dumps({"email": e, "password": p}).encode(),
                                 {"Content-Type": "application/json", "Origin": base})
    try:
        code = urllib.request.urlopen(req, timeout=60).status
    except urllib.error.HTTPError as err:
        code = err.code
    with lock:
        codes[code] += 1
threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
print(" ".join(f"{c}×{k}" for k, c in sorted(codes.items())))
PY
)
kill -TERM "$pid"; wait "$pid" || true
f=$OUT/flood-get-session.txt s=$OUT/flood-sign-in.txt
printf 'idle_mib=%s\npeak_mib=%s\nget_p99_ms=%s\n' $((idle_kb / 1024)) $((peak_kb / 1024)) "$(kv p99_ms "$f")" >"$OUT/flood.env"
cat <<MD
| flood (orgauth) | value |
|---|---:|
| RSS idle after start, MiB | $((idle_kb / 1024)) |
| peak RSS during the flood, MiB | $((peak_kb / 1024)) |
| RSS after the flood, MiB | $((after_kb / 1024)) |
| sign-in connections / completed / req/s | ${FLOOD_CONNECTIONS:-200} / $(kv requests "$s") / $(kv rps "$s") |
| sign-in answers ≥ 400 during the flood (503 + Retry-After when the queue is full) | $(kv err_status "$s") |
| get-session connections / req/s | ${GET_CONNECTIONS:-16} / $(kv rps "$f") |
| get-session p50 / p99 / max ms | $(kv p50_ms "$f") / $(kv p99_ms "$f") / $(kv max_ms "$f") |
| get-session errors (status ≥ 400, socket) | $(( $(kv err_status "$f") + $(kv err_connect "$f") + $(kv err_read "$f") + $(kv err_timeout "$f") )) |
| one burst of ${FLOOD_CONNECTIONS:-200} parallel sign-ins (curl): status × count | $codes |
MD

#!/usr/bin/env bash
# The SQL statements each measured route issues, read from the PostgreSQL statement log, for the
# reference and orgauth. Runs after compare.sh (it reuses both seeded databases and the seed's
# cookies): for each server, `log_statement = 'all'` on its database only, the server started
# again, one request per route between marker queries, and the log between the markers printed
# as Markdown. Parameters are never printed (they hold tokens and hashes).
set -euo pipefail
: "${OUT:?}" "${REF:?}" "${ORGAUTH_BIN:?}"
repo=$(cd "$(dirname "$0")/.." && pwd)
OUT=$(realpath "$OUT") REF=$(realpath "$REF")
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres} PGPASSWORD=${PGPASSWORD:-postgres}
port=${STATEMENTS_PORT:-3002}
PG_LOG=${PG_LOG:-$(psql -XAtq -d postgres -c "select coalesce(pg_current_logfile(), '')")}
if [[ -z $PG_LOG ]]; then # Debian: stderr of the cluster, logging_collector off
  ver=$(psql -XAtq -d postgres -c "select current_setting('server_version_num')::int / 10000")
  PG_LOG=/var/log/postgresql/postgresql-$ver-main.log
fi
[[ $PG_LOG = /* ]] || PG_LOG=$(psql -XAtq -d postgres -c "show data_directory")/$PG_LOG
[[ -r $PG_LOG ]] || { echo "cannot read the PostgreSQL log ($PG_LOG); set PG_LOG" >&2; exit 1; }

routes=(get_session org_list org_full org_members sign_in sign_up)
declare -A CMD=([ref]="node_modules/.bin/bun src/server.ts" [cand]="$repo/bench/orgauth-server.sh")
declare -A DB=([ref]=${REF_DB_NAME:-ba_bench} [cand]=${CAND_DB_NAME:-ba_bench_candidate})
declare -A LBL=([ref]=${REF_LABEL:-better-auth-bun} [cand]=${CAND_LABEL:-orgauth})

request() { # route base seed_dir
  local base=$1 seed=$3 line cookie org email pw origin=$2
  line=$(head -1 "$seed/org_sessions.tsv"); cookie=${line%%$'\t'*}; org=${line#*$'\t'}
  case $4 in
    get_session) curl -fsS -o /dev/null -H "Cookie: $cookie" "$base/api/auth/get-session" ;;
    org_list) curl -fsS -o /dev/null -H "Cookie: $cookie" "$base/api/auth/organization/list" ;;
    org_full) curl -fsS -o /dev/null -H "Cookie: $cookie" "$base/api/auth/organization/get-full-organization?organizationId=$org" ;;
    org_members) curl -fsS -o /dev/null -H "Cookie: $cookie" "$base/api/auth/organization/list-members?organizationId=$org" ;;
    sign_in)
      IFS=$'\t' read -r email pw < <(head -1 "$seed/credentials.tsv")
      curl -fsS -o /dev/null -H 'Content-Type: application/json' -H "Origin: $origin" \
        -d "{\"email\":\"$email\",\"password\":\"$pw\"}" "$base/api/auth/sign-in/email" ;;
    sign_up)
      curl -fsS -o /dev/null -H 'Content-Type: application/json' -H "Origin: $origin" \
        -d "{\"name\":\"Statements\",\"email\":\"stmt-$RANDOM$RANDOM@bench.local\",\"password\":\"bench-password-123\"}" "$base/api/auth/sign-up/email" ;;
  esac
}
mark() { psql -XAtq -d "$1" -c "SELECT 'orgauth-bench-mark $2'" >/dev/null; }

pid=""
trap '[[ -z $pid ]] || kill "$pid" 2>/dev/null || true' EXIT
for w in ref cand; do
  db=${DB[$w]} base=http://127.0.0.1:$port seed=$OUT/compare/${LBL[$w]}/seed
  psql -XAtq -d postgres -c "ALTER DATABASE \"$db\" SET log_statement = 'all'" >/dev/null
  (cd "$REF" && PORT=$port HOST=127.0.0.1 NODE_ENV=production DB_POOL_MAX=${DB_POOL_MAX:-10} BETTER_AUTH_URL=$base \
    DATABASE_URL=postgres://$PGUSER:$PGPASSWORD@$PGHOST:$PGPORT/$db exec bash -c "exec ${CMD[$w]}") >"$OUT/statements-$w.log" 2>&1 &
  pid=$!
  until curl -fsS -o /dev/null --max-time 2 "$base/api/auth/ok" 2>/dev/null; do
    kill -0 "$pid" 2>/dev/null || { echo "${LBL[$w]} did not start" >&2; cat "$OUT/statements-$w.log" >&2; exit 1; }
    sleep 0.2
  done
  request "$base" "$base" "$seed" get_session # warm: connections opened, nothing cached
  offset=$(stat -c %s "$PG_LOG")
  for r in "${routes[@]}"; do
    mark "$db" "$w $r begin"; request "$base" "$base" "$seed" "$r"; sleep 0.2; mark "$db" "$w $r end"
  done
  kill -TERM "$pid"; wait "$pid" || true; pid=""
  psql -XAtq -d postgres -c "ALTER DATABASE \"$db\" RESET log_statement" >/dev/null
  tail -c +$((offset + 1)) "$PG_LOG" >"$OUT/statements-$w.pglog"
done

python3 - "$OUT" "${LBL[ref]}" "${LBL[cand]}" "${DB[ref]}" "${DB[cand]}" "${routes[@]}" <<'PY'
import re, sys
out, lref, lcand, dbref, dbcand, *routes = sys.argv[1:]
line_re = re.compile(r"^\S+ \S+ \S+ \[\d+\] \S*@(\S+) LOG:  (?:statement|execute [^:]*): (.*)$")
def parse(who, db):
    stmts, current = {}, None
    for line in open(f"{out}/statements-{who}.pglog", errors="replace"):
        m = line_re.match(line.rstrip("\n"))
        if not m or m.group(1) != db:
            continue
        sql = m.group(2)
        mk = re.search(r"orgauth-bench-mark \w+ (\w+) (begin|end)", sql)
        if mk:
            current = mk.group(1) if mk.group(2) == "begin" else None
            continue
        if current:
            sql = re.sub(r'SELECT ("[^"]+"\."[^"]+"(?: AS "[^"]+")?, ){3,}', "SELECT …, ", sql)
            sql = re.sub(r"\s+", " ", sql)
            stmts.setdefault(current, []).append(sql if len(sql) <= 220 else sql[:217] + "…")
    return stmts
ref, cand = parse("ref", dbref), parse("cand", dbcand)
print("| route | statements: " + lref + " | statements: " + lcand + " |")
print("|---|---:|---:|")
for r in routes:
    print(f"| {r} | {len(ref.get(r, []))} | {len(cand.get(r, []))} |")
for r in routes:
    print(f"\n### {r}\n")
    for label, s in ((lref, ref), (lcand, cand)):
        print(f"{label}:\n")
        for i, q in enumerate(s.get(r, []), 1):
            print(f"{i}. `{q.replace('`', chr(39))}`")
        print()
PY

#!/usr/bin/env bash
# Generated input over the whole OpenAPI document (docs/reliability.md, "Generated input"):
# Schemathesis (pinned in requirements.txt, installed into <repo>/target/fuzz-venv) against the
# orgauth release binary, once on a new SQLite file and once on a new PostgreSQL database. Every
# operation of the server's own /openapi.json, through the examples, coverage, fuzzing and
# stateful phases, with a fixed seed and a time budget. Fails if any check fails on either
# database, if the server stops answering or does not stop cleanly, or if the store it leaves
# breaks an invariant (`orgauth check-invariants`).
#
# QUICK=1: 90 s of generation per database (CI). Otherwise MAX_TIME seconds (default 900).
# Settings: ORGAUTH_BIN (default <repo>/target/release/orgauth), TEST_POSTGRES_URL, FUZZ_SEED
# (default 14), MAX_EXAMPLES (cases per operation per round; default 10 quick, 50 long),
# FUZZ_DATABASES (default "sqlite postgres"), FUZZ_OUT (reports and server logs; default
# <repo>/target/fuzz).
set -euo pipefail
cd "$(dirname "$0")"
here=$(pwd)
root=$(cd ../.. && pwd)
ORGAUTH_BIN=${ORGAUTH_BIN:-$root/target/release/orgauth}
TEST_POSTGRES_URL=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
seed=${FUZZ_SEED:-14}
if [[ ${QUICK:-0} == 1 ]]; then
  budget=${MAX_TIME:-90} examples=${MAX_EXAMPLES:-10}
else
  budget=${MAX_TIME:-900} examples=${MAX_EXAMPLES:-50}
fi
out=${FUZZ_OUT:-$root/target/fuzz}
venv=$root/target/fuzz-venv
step() { printf '\n=== %s\n' "$*"; }

if [[ ! -x $ORGAUTH_BIN ]]; then echo "no orgauth binary at $ORGAUTH_BIN: cargo build --release first" >&2; exit 1; fi

# The venv, from the pinned requirements, unless it was made from these very requirements.
req_hash=$(sha256sum requirements.txt | cut -d' ' -f1)
if [[ ! -f $venv/.requirements-hash || $(cat "$venv/.requirements-hash") != "$req_hash" ]]; then
  step "pip install -r clients/fuzz/requirements.txt (into $venv)"
  if ! python3 -m venv --clear "$venv" 2>/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv --clear "$venv"
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check -r requirements.txt
  echo "$req_hash" > "$venv/.requirements-hash"
fi

scratch=$(mktemp -d)
pg_db="orgauth_ci_fuzz_$$"
pid=""
cleanup() {
  [[ -z $pid ]] || kill "$pid" 2>/dev/null || true
  rm -rf "$scratch"
  psql "$TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS \"$pg_db\" WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

failed=()
for db in ${FUZZ_DATABASES:-sqlite postgres}; do
  step "Schemathesis on $db: seed $seed, $budget s, $examples examples per operation and round"
  rm -rf "$out/$db" && mkdir -p "$out/$db"
  case $db in
    sqlite) url="sqlite://$scratch/fuzz.db?mode=rwc" ;;
    postgres)
      psql "$TEST_POSTGRES_URL" -qc "CREATE DATABASE \"$pg_db\""
      url=$(python3 -c 'import sys,urllib.parse as u; p=u.urlsplit(sys.argv[1]); print(u.urlunsplit(p._replace(path="/"+sys.argv[2])))' "$TEST_POSTGRES_URL" "$pg_db") ;;
    *) echo "unknown database $db" >&2; exit 2 ;;
  esac
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  # The default settings, but for: no rate limit and no wait after failed password checks (every
  # request comes from one address, and the generator signs in to the addresses it has seen with
  # passwords it makes up, which would lock hooks.py's users out); mail to the log (hooks.py
  # reads the verification links there); and GitHub sign-in on, so that the
  # social routes get past "provider not found", with its token and API endpoints on a closed
  # local port (a generated callback fails fast, as with a provider that is down).
  export DATABASE_URL=$url HOST=127.0.0.1 PORT=$port BETTER_AUTH_URL=http://127.0.0.1:$port \
    BETTER_AUTH_SECRET=fuzz-secret-not-for-production-0123456789 ORGAUTH_RATE_LIMIT=off \
    ORGAUTH_ACCOUNT_GUESS_LIMIT=0 \
    GITHUB_CLIENT_ID=fuzz GITHUB_CLIENT_SECRET=fuzz-github-secret \
    ORGAUTH_GITHUB_TOKEN_URL=http://127.0.0.1:9/token ORGAUTH_GITHUB_API_URL=http://127.0.0.1:9
  unset SMTP_URL
  (cd "$scratch" && exec "$ORGAUTH_BIN") >"$out/$db/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 60); do grep -q "listening on http://" "$out/$db/server.log" && break; sleep 0.5; done
  base=http://127.0.0.1:$port
  curl -fsS "$base/openapi.json" >"$out/$db/openapi.json"

  status=0
  (cd "$here" && ORGAUTH_FUZZ_URL=$base ORGAUTH_FUZZ_ORIGIN=$BETTER_AUTH_URL ORGAUTH_FUZZ_LOG=$out/$db/server.log \
    "$venv/bin/schemathesis" --config-file schemathesis.toml run "$base/openapi.json" \
    --url "$base" --header "Origin: $BETTER_AUTH_URL" --seed "$seed" --max-time "$budget" --max-examples "$examples" \
    --generation-database none --no-color --report junit,ndjson --report-dir "$out/$db") \
    >"$out/$db/schemathesis.txt" 2>&1 || status=$?
  sed -n '/ SUMMARY /,$p' "$out/$db/schemathesis.txt"
  # 1 is "checks failed": summarize.py below tells which (it is the gate); anything else is an
  # error of the run itself.
  ((status <= 1)) || failed+=("$db: schemathesis exited $status (details in $out/$db/schemathesis.txt)")

  curl -fsS "$base/healthz" >/dev/null || failed+=("$db: the server stopped answering")
  kill -TERM "$pid"
  server_status=0
  wait "$pid" || server_status=$?
  pid=""
  ((server_status == 0)) || failed+=("$db: the server exited $server_status on SIGTERM")
  invariants=0
  "$ORGAUTH_BIN" check-invariants >"$out/$db/invariants.txt" 2>&1 || invariants=$?
  if ((invariants != 0)); then
    cat "$out/$db/invariants.txt"
    failed+=("$db: the store breaks invariants")
  fi
  "$venv/bin/python" "$here/summarize.py" "$db" "$out/$db"/ndjson-*.ndjson "$out/$db/openapi.json" \
    "$out/$db/schemathesis.txt" | tee "$out/$db/summary.txt" || failed+=("$db: gated failures (above)")
  [[ $db != postgres ]] || psql "$TEST_POSTGRES_URL" -qc "DROP DATABASE \"$pg_db\" WITH (FORCE)"
done

if ((${#failed[@]})); then
  printf '\nFAILED:\n' >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
printf '\ngenerated input: no failure on %s\n' "${FUZZ_DATABASES:-sqlite postgres}"

#!/usr/bin/env bash
# The end-to-end suite: the official better-auth 1.7.25 client against the orgauth release binary
# on SQLite, then on PostgreSQL (the topologies' cross-origin page in headless Chromium among them),
# then Swagger UI and the API reference page in headless Chromium.
# Needs the binary built (ORGAUTH_BIN, default <repo>/target/release/orgauth) and PostgreSQL at
# TEST_POSTGRES_URL.
set -euo pipefail
cd "$(dirname "$0")"
export ORGAUTH_BIN=${ORGAUTH_BIN:-$(cd ../.. && pwd)/target/release/orgauth}
export TEST_POSTGRES_URL=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
step() { printf '\n=== %s\n' "$*"; }

node_major=$(node -p 'process.versions.node.split(".")[0]')
if (( node_major < 20 )); then echo "Node 20 or newer is needed (found $(node --version))" >&2; exit 1; fi
if [[ ! -x $ORGAUTH_BIN ]]; then echo "no orgauth binary at $ORGAUTH_BIN: cargo build --release first" >&2; exit 1; fi

# npm ci from the committed lockfile, unless node_modules was installed from this very lockfile.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f node_modules/.lock-hash || $(cat node_modules/.lock-hash) != "$lock_hash" ]]; then
  step "npm ci"
  npm ci --no-audit --no-fund
  echo "$lock_hash" > node_modules/.lock-hash
fi

if [[ ! -x /usr/bin/chromium && -z ${CHROMIUM_PATH:-} ]]; then
  step "apt-get install chromium"
  apt-get update -qq && apt-get install -y -qq chromium >/dev/null
fi

# Databases left behind by runs that were killed mid-way (those nobody is connected to).
if command -v psql >/dev/null; then
  psql "$TEST_POSTGRES_URL" -qAtc "SELECT d.datname FROM pg_database d WHERE d.datname LIKE 'orgauth\_e2e\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)" 2>/dev/null |
    while read -r db; do psql "$TEST_POSTGRES_URL" -qc "DROP DATABASE IF EXISTS \"$db\"" 2>/dev/null || true; done || true
fi

failed=()
run() { # name, then node --test arguments
  local name=$1; shift
  step "$name"
  node --test --test-concurrency=1 --test-timeout=120000 "$@" || failed+=("$name")
}
for db in sqlite postgres; do
  rm -rf "artifacts/calls/$db"
  export E2E_DATABASE=$db
  run "$db" test/core.test.mjs test/organization.test.mjs test/teams.test.mjs test/social.test.mjs \
    test/magic-link.test.mjs test/admin.test.mjs test/topologies.test.mjs
done
# Reads the calls both runs recorded: every client call exercised as expected, on both databases.
unset E2E_DATABASE
run surface test/surface.test.mjs
run swagger test/swagger.test.mjs
run api-reference test/api-reference.test.mjs

if (( ${#failed[@]} )); then
  echo "FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "all passed (screenshots in $(pwd)/artifacts)"

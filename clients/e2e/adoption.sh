#!/usr/bin/env bash
# Issue 12 end to end (test/adoption.test.mjs): the Better Auth 1.7.25 reference server writes a
# database, orgauth adopts it, both share it, then orgauth converts its session tokens. Needs the
# orgauth release binary (ORGAUTH_BIN, default <repo>/target/release/orgauth) and PostgreSQL
# (TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres; the reference logs in
# with the password PGPASSWORD, default postgres, over TCP).
#
# The reference (REFERENCE_SRC, default <repo>/../shared/bench/better-auth-reference, read-only) is
# copied to REFERENCE_DIR (default <repo>/target/adoption/reference) and `npm ci`'d there, once per
# lockfile. About a minute once both npm installs are done.
set -euo pipefail
cd "$(dirname "$0")"
repo=$(cd ../.. && pwd)
export ORGAUTH_BIN=${ORGAUTH_BIN:-$repo/target/release/orgauth}
export TEST_POSTGRES_URL=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
REFERENCE_SRC=${REFERENCE_SRC:-$repo/../shared/bench/better-auth-reference}
export REFERENCE_DIR=${REFERENCE_DIR:-$repo/target/adoption/reference}
step() { printf '\n=== %s\n' "$*"; }

node_major=$(node -p 'process.versions.node.split(".")[0]')
if (( node_major < 20 )); then echo "Node 20 or newer is needed (found $(node --version))" >&2; exit 1; fi
if [[ ! -x $ORGAUTH_BIN ]]; then
  echo "no orgauth binary at $ORGAUTH_BIN: cargo build --release --bin orgauth first" >&2
  exit 1
fi
[[ -f $REFERENCE_SRC/schema.sql && -f $REFERENCE_SRC/src/server.ts ]] ||
  { echo "no Better Auth reference at $REFERENCE_SRC (set REFERENCE_SRC)" >&2; exit 1; }

# This suite's own npm packages (as run.sh installs them).
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [[ ! -f node_modules/.lock-hash || $(cat node_modules/.lock-hash) != "$lock_hash" ]]; then
  step "npm ci (clients/e2e)"
  npm ci --no-audit --no-fund
  echo "$lock_hash" > node_modules/.lock-hash
fi

# The reference: a fresh copy of its sources (the shared folder is read-only and npm writes beside
# them), its npm packages installed from its lockfile unless they already were from this one.
step "reference copy in $REFERENCE_DIR"
mkdir -p "$REFERENCE_DIR"
(cd "$REFERENCE_SRC" && tar --exclude=node_modules --exclude=results -cf - .) | (cd "$REFERENCE_DIR" && tar -xf -)
chmod -R u+w "$REFERENCE_DIR"
ref_hash=$(sha256sum "$REFERENCE_DIR/package-lock.json" | cut -d' ' -f1)
ref_installed=$REFERENCE_DIR/node_modules/.lock-hash
if [[ ! -f $ref_installed || $(cat "$ref_installed") != "$ref_hash" ]]; then
  step "npm ci (reference)"
  (cd "$REFERENCE_DIR" && npm ci --no-audit --no-fund)
  echo "$ref_hash" > "$ref_installed"
fi
bun=$REFERENCE_DIR/node_modules/.bin/bun
if ! "$bun" --version >/dev/null 2>&1; then
  # npm versions that skip install scripts leave bun's placeholder: its postinstall links the
  # platform binary from @oven/bun-linux-x64 (as the reference's setup.sh does).
  step "bun postinstall"
  (cd "$REFERENCE_DIR/node_modules/bun" && node install.js)
fi
"$bun" --version >/dev/null 2>&1 || { echo "the bun binary from the npm package does not run: $bun" >&2; exit 1; }
ba_version=$(node -p "require('$REFERENCE_DIR/node_modules/better-auth/package.json').version")
echo "bun $("$bun" --version), better-auth $ba_version"

# PostgreSQL reachable as the test uses it: TEST_POSTGRES_URL to create and drop the database, and
# with a password over TCP (PGPASSWORD, default postgres), as the reference and orgauth log in.
if command -v psql >/dev/null; then
  if ! psql "$TEST_POSTGRES_URL" -XAtqc 'select 1' >/dev/null 2>&1; then
    echo "cannot connect to PostgreSQL at $TEST_POSTGRES_URL" >&2
    exit 1
  fi
  if ! PGPASSWORD=${PGPASSWORD:-postgres} psql "$TEST_POSTGRES_URL" -XAtqc 'select 1' >/dev/null 2>&1; then
    echo "password login to $TEST_POSTGRES_URL fails: set PGPASSWORD, or let the reference's setup.sh" \
      "set the role's password" >&2
    exit 1
  fi
fi

step "adoption"
exec node --test --test-concurrency=1 --test-timeout=300000 test/adoption.test.mjs

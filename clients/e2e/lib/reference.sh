# Sourced by adoption.sh and compare.sh (from clients/e2e): the steps both take before their node
# test, which needs the Better Auth 1.7.25 reference server, this suite's npm packages and
# PostgreSQL. Expects `repo` (the repository root) to be set and the current directory to be
# clients/e2e. Sets and exports ORGAUTH_BIN, TEST_POSTGRES_URL and REFERENCE_DIR (defaults below)
# and REFERENCE_SRC.
#
# The reference (REFERENCE_SRC, default <repo>/../shared/bench/better-auth-reference, read-only) is
# copied to REFERENCE_DIR (default <repo>/target/adoption/reference) and `npm ci`'d there, once per
# lockfile.

export ORGAUTH_BIN=${ORGAUTH_BIN:-$repo/target/release/orgauth}
export TEST_POSTGRES_URL=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
REFERENCE_SRC=${REFERENCE_SRC:-$repo/../shared/bench/better-auth-reference}
export REFERENCE_DIR=${REFERENCE_DIR:-$repo/target/adoption/reference}
step() { printf '\n=== %s\n' "$*"; }

# Node 20, the orgauth binary and the reference sources are there.
reference_check_prerequisites() {
  local node_major
  node_major=$(node -p 'process.versions.node.split(".")[0]')
  if (( node_major < 20 )); then echo "Node 20 or newer is needed (found $(node --version))" >&2; exit 1; fi
  if [[ ! -x $ORGAUTH_BIN ]]; then
    echo "no orgauth binary at $ORGAUTH_BIN: cargo build --release --bin orgauth first" >&2
    exit 1
  fi
  [[ -f $REFERENCE_SRC/schema.sql && -f $REFERENCE_SRC/src/server.ts ]] ||
    { echo "no Better Auth reference at $REFERENCE_SRC (set REFERENCE_SRC)" >&2; exit 1; }
}

# This suite's own npm packages (as run.sh installs them).
reference_e2e_packages() {
  local lock_hash
  lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [[ ! -f node_modules/.lock-hash || $(cat node_modules/.lock-hash) != "$lock_hash" ]]; then
    step "npm ci (clients/e2e)"
    npm ci --no-audit --no-fund
    echo "$lock_hash" > node_modules/.lock-hash
  fi
}

# The reference: a fresh copy of its sources (the shared folder is read-only and npm writes beside
# them), its npm packages installed from its lockfile unless they already were from this one.
reference_prepare() {
  step "reference copy in $REFERENCE_DIR"
  mkdir -p "$REFERENCE_DIR"
  (cd "$REFERENCE_SRC" && tar --exclude=node_modules --exclude=results -cf - .) | (cd "$REFERENCE_DIR" && tar -xf -)
  chmod -R u+w "$REFERENCE_DIR"
  local ref_hash ref_installed bun ba_version
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
}

# PostgreSQL reachable as the tests use it: TEST_POSTGRES_URL to create and drop the database, and
# with a password over TCP (PGPASSWORD, default postgres), as the reference and orgauth log in.
reference_check_postgres() {
  command -v psql >/dev/null || return 0
  if ! psql "$TEST_POSTGRES_URL" -XAtqc 'select 1' >/dev/null 2>&1; then
    echo "cannot connect to PostgreSQL at $TEST_POSTGRES_URL" >&2
    exit 1
  fi
  if ! PGPASSWORD=${PGPASSWORD:-postgres} psql "$TEST_POSTGRES_URL" -XAtqc 'select 1' >/dev/null 2>&1; then
    echo "password login to $TEST_POSTGRES_URL fails: set PGPASSWORD, or let the reference's setup.sh" \
      "set the role's password" >&2
    exit 1
  fi
}

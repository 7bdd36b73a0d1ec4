#!/usr/bin/env bash
# Issue 18's first step (docs/admin.md): records what the Better Auth 1.7.25 reference answers with
# the admin plugin enabled (a ZeroStarter-like `admin({ ac, roles, adminRoles, adminUserIds })`,
# see lib/admin-reference.mjs) on a fresh PostgreSQL database. Writes
# target/admin-reference/observations.json and observations.md. Needs no orgauth binary.
#
# The reference is copied from REFERENCE_SRC (default <repo>/../shared/bench/better-auth-reference,
# read-only) to REFERENCE_DIR (default <repo>/target/admin-reference/reference, its own copy: its
# sources are patched there) and `npm ci`'d once per lockfile (lib/reference.sh). PostgreSQL as for
# compare.sh: TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/postgres), the reference
# logging in with PGPASSWORD (default postgres) over TCP.
set -euo pipefail
cd "$(dirname "$0")"
repo=$(cd ../.. && pwd)
export REFERENCE_DIR=${REFERENCE_DIR:-$repo/target/admin-reference/reference}
source lib/reference.sh

node_major=$(node -p 'process.versions.node.split(".")[0]')
if (( node_major < 20 )); then echo "Node 20 or newer is needed (found $(node --version))" >&2; exit 1; fi
[[ -f $REFERENCE_SRC/schema.sql && -f $REFERENCE_SRC/src/server.ts ]] ||
  { echo "no Better Auth reference at $REFERENCE_SRC (set REFERENCE_SRC)" >&2; exit 1; }
reference_e2e_packages
reference_prepare
reference_check_postgres

step "the reference with admin(): recording"
exec node lib/admin-reference.mjs

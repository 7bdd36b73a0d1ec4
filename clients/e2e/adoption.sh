#!/usr/bin/env bash
# Issue 12 end to end (test/adoption.test.mjs): the Better Auth 1.7.25 reference server writes a
# database, orgauth adopts it, both share it, then orgauth converts its session tokens. Needs the
# orgauth release binary (ORGAUTH_BIN, default <repo>/target/release/orgauth) and PostgreSQL
# (TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres; the reference logs in
# with the password PGPASSWORD, default postgres, over TCP).
#
# The reference (REFERENCE_SRC, default <repo>/../shared/bench/better-auth-reference, read-only) is
# copied to REFERENCE_DIR (default <repo>/target/adoption/reference) and `npm ci`'d there, once per
# lockfile (lib/reference.sh, shared with compare.sh). About a minute once both npm installs are
# done.
set -euo pipefail
cd "$(dirname "$0")"
repo=$(cd ../.. && pwd)
source lib/reference.sh

reference_check_prerequisites
reference_e2e_packages
reference_prepare
reference_check_postgres

step "adoption"
exec node --test --test-concurrency=1 --test-timeout=300000 test/adoption.test.mjs

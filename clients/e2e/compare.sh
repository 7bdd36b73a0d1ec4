#!/usr/bin/env bash
# Issue 17's check (test/reference.test.mjs): the Better Auth 1.7.25 reference server and orgauth,
# each on a fresh PostgreSQL database, get the same requests; status, error code and message, body
# shape and Set-Cookie names must agree except where docs/compatibility.md lists a difference (the
# test's ALLOWED table). Writes target/compare/observations.json and target/compare/set-cookie.md.
# Needs the orgauth release binary (ORGAUTH_BIN, default <repo>/target/release/orgauth) and
# PostgreSQL (TEST_POSTGRES_URL, default postgres://postgres@127.0.0.1:5432/postgres; the reference
# logs in with the password PGPASSWORD, default postgres, over TCP).
#
# The reference is prepared as for adoption.sh (lib/reference.sh): copied to REFERENCE_DIR (default
# <repo>/target/adoption/reference) and `npm ci`'d there once per lockfile. Under a minute once the
# npm installs are done.
set -euo pipefail
cd "$(dirname "$0")"
repo=$(cd ../.. && pwd)
source lib/reference.sh

reference_check_prerequisites
reference_e2e_packages
reference_prepare
reference_check_postgres

step "orgauth against the Better Auth reference"
exec node --test --test-concurrency=1 --test-timeout=180000 test/reference.test.mjs

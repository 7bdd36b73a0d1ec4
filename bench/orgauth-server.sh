#!/usr/bin/env bash
# The candidate server for the reference harness (compare.sh runs it with `exec`, from the
# harness folder, with PORT HOST DATABASE_URL DB_POOL_MAX BETTER_AUTH_SECRET BETTER_AUTH_URL).
# Maps the harness's names to orgauth's and applies the benchmark settings that differ from a
# production deployment (docs/performance.md says why each one).
set -euo pipefail
: "${ORGAUTH_BIN:?set ORGAUTH_BIN to the release binary}"
export ORGAUTH_DATABASE_MAX_CONNECTIONS=${ORGAUTH_DATABASE_MAX_CONNECTIONS:-${DB_POOL_MAX:-10}}
# All load comes from one address; the reference runs with its limiter off too.
export ORGAUTH_RATE_LIMIT=off
# The seed invites users who never verify their address; Better Auth's default accepts them.
export ORGAUTH_REQUIRE_EMAIL_VERIFICATION_ON_INVITATION=false
# The reference's client (Bun SQL) talks to PostgreSQL without TLS (pg_stat_ssl shows ssl = f);
# orgauth's driver would negotiate TLS (sslmode=prefer) with a server that offers it.
if [[ ${DATABASE_URL:-} == postgres* && ${DATABASE_URL} != *sslmode=* ]]; then
  [[ $DATABASE_URL == *\?* ]] && DATABASE_URL+="&sslmode=disable" || DATABASE_URL+="?sslmode=disable"
  export DATABASE_URL
fi
# One log line per request would dominate, as hono/logger would for the reference.
export RUST_LOG=${RUST_LOG:-warn}
exec "$ORGAUTH_BIN" serve

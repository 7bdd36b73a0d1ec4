#!/usr/bin/env bash
# One invocation: orgauth and the Better Auth reference (../shared/bench/better-auth-reference)
# against the same PostgreSQL, side by side (the reference's compare.sh), then the sign-in flood
# and the SQL statements each route issues. Prints the ratios and the targets of
# docs/performance.md. Takes ~25 minutes with the defaults; nothing here is a test.
#
#   bench/run.sh                       # full run
#   ROUNDS=1 DURATION=3 WARMUP=1 N_USERS=100 N_ORGS=2 bench/run.sh   # quick smoke
#
# Environment: REFERENCE_DIR (the harness to copy), BENCH_DIR (scratch, default target/bench),
# ORGAUTH_BIN (default: cargo build --release), FLOOD=0 / STATEMENTS=0 to skip those parts, and
# everything compare.sh takes (ROUNDS, DURATION, WARMUP, CONNECTIONS, N_USERS, ...).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
REFERENCE_DIR=${REFERENCE_DIR:-$repo/../shared/bench/better-auth-reference}
BENCH_DIR=${BENCH_DIR:-$repo/target/bench}
ref=$BENCH_DIR/reference
log() { printf '[run %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# The harness writes node_modules/ and results/ beside itself and the shared copy may be
# read-only, so it runs from a scratch copy.
[[ -x $REFERENCE_DIR/compare.sh ]] || { echo "no harness at $REFERENCE_DIR (set REFERENCE_DIR)" >&2; exit 2; }
mkdir -p "$ref"
(cd "$REFERENCE_DIR" && tar --exclude=node_modules --exclude=results -cf - .) | (cd "$ref" && tar -xf -)
chmod -R u+w "$ref"
(cd "$ref" && SKIP_EXPORT=1 ./setup.sh)

if [[ -z "${ORGAUTH_BIN:-}" ]]; then
  (cd "$repo" && cargo build --release --bin orgauth)
  ORGAUTH_BIN=$repo/target/release/orgauth
fi
export ORGAUTH_BIN

OUT=${OUT:-$BENCH_DIR/results/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
: >"$OUT/empty.sql" # orgauth migrates its own (the seed's) schema on start
export PGHOST=${PGHOST:-127.0.0.1} PGPORT=${PGPORT:-5432} PGUSER=${PGUSER:-postgres} PGPASSWORD=${PGPASSWORD:-postgres}
export BETTER_AUTH_SECRET=${BETTER_AUTH_SECRET:-benchmark-only-secret-not-for-production-0123456789}
export CAND_LABEL=orgauth CAND_PORT=${CAND_PORT:-3001} CAND_DB_NAME=${CAND_DB_NAME:-ba_bench_candidate}

log "side by side: $OUT/compare"
CAND_CMD="$repo/bench/orgauth-server.sh" CAND_SCHEMA_SQL="$OUT/empty.sql" OUT="$OUT/compare" \
  "$ref/compare.sh" | tee "$OUT/compare.log"

if [[ "${STATEMENTS:-1}" == 1 ]]; then
  log "statements per route"
  OUT=$OUT REF=$ref "$repo/bench/statements.sh" | tee "$OUT/statements.md"
fi
if [[ "${FLOOD:-1}" == 1 ]]; then
  log "sign-in flood"
  OUT=$OUT REF=$ref "$repo/bench/flood.sh" | tee "$OUT/flood.md"
fi
"$repo/bench/targets.sh" "$OUT" | tee "$OUT/targets.md"
log "results in $OUT"

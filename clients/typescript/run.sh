#!/usr/bin/env bash
# The TypeScript client's checks: generated files up to date, the spec valid (Redocly's
# recommended rules, swagger-parser) and complete (scripts/check-spec.mjs), the client and smoke
# flow type-checked (strict) and built, and the smoke flow against the release binary. Every stage
# runs; the script fails at the end if any did. ORGAUTH_BIN: default <repo>/target/release/orgauth.
set -euo pipefail
cd "$(dirname "$0")"
export ORGAUTH_BIN=${ORGAUTH_BIN:-$(cd ../.. && pwd)/target/release/orgauth}
export REDOCLY_TELEMETRY=off
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

failed=()
run() { # name, then the command
  local name=$1; shift
  step "$name"
  "$@" || failed+=("$name")
}
run "generated files up to date" bash scripts/generate.sh --check
run "redocly lint (recommended, strict)" node_modules/.bin/redocly lint openapi.json --format=stylish
run "swagger-parser validate" node scripts/validate-spec.mjs
run "check-spec" node scripts/check-spec.mjs
rm -rf dist
if run "tsc (strict)" node_modules/.bin/tsc -p .; then
  run "smoke" node dist/smoke/smoke.js
else
  failed+=("smoke (not run: tsc failed)")
fi

if (( ${#failed[@]} )); then
  printf '\nFAILED:\n' >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
printf '\nall passed\n'

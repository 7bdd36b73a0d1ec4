#!/usr/bin/env bash
# Regenerates openapi.json (from `orgauth openapi`) and src/schema.d.ts (openapi-typescript).
# --check: generate into a temporary directory and fail, showing the diff, if a committed file
# would change. ORGAUTH_BIN: the binary (default <repo>/target/release/orgauth).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ORGAUTH_BIN=${ORGAUTH_BIN:-$(cd "$here/../.." && pwd)/target/release/orgauth}
check=false
case "${1:-}" in
  "") ;;
  --check) check=true ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac
if [[ ! -x $ORGAUTH_BIN ]]; then echo "no orgauth binary at $ORGAUTH_BIN: cargo build --release first" >&2; exit 1; fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

# Re-serialised by Node so the snapshot's formatting does not depend on the server's printer;
# key order is the binary's (stable: paths in route order).
"$ORGAUTH_BIN" openapi > "$out/raw.json"
node -e '
  const fs = require("fs");
  const doc = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  fs.writeFileSync(process.argv[2], JSON.stringify(doc, null, 2) + "\n");
' "$out/raw.json" "$out/openapi.json"
# From $out, so openapi-typescript does not pick up our redocly.yaml: linting is run.sh's job.
(cd "$out" && "$here/node_modules/.bin/openapi-typescript" openapi.json --output schema.d.ts >/dev/null)

if $check; then
  status=0
  diff -u "$here/openapi.json" "$out/openapi.json" || status=1
  diff -u "$here/src/schema.d.ts" "$out/schema.d.ts" || status=1
  if (( status )); then
    echo "generated files are out of date: run clients/typescript/scripts/generate.sh and commit" >&2
    exit 1
  fi
  echo "openapi.json and src/schema.d.ts are up to date"
else
  cp "$out/openapi.json" "$here/openapi.json"
  cp "$out/schema.d.ts" "$here/src/schema.d.ts"
  echo "wrote openapi.json and src/schema.d.ts"
fi

#!/usr/bin/env bash
# Regenerates entity/src/generated from a freshly migrated PostgreSQL database with
# `sea-orm-cli generate entity`. Generated files are never edited by hand; behaviour lives
# beside them in entity/src. `--check` regenerates into a scratch copy and fails on any diff.
#
# Needs: sea-orm-cli 2.0.4 on PATH, and a PostgreSQL server at TEST_POSTGRES_URL
# (default postgres://postgres@127.0.0.1:5432/postgres) where it may create a database.
set -euo pipefail
cd "$(dirname "$0")/.."

server=${TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
db="orgauth_codegen_$$"
base=${server%%\?*}
query=""; [[ "$server" == *\?* ]] && query="?${server#*\?}"
authority=${base#*://}
prefix=${base%%://*}://
url="${prefix}${authority%%/*}/${db}${query}"

out=entity/src/generated
check=false
[[ "${1:-}" == "--check" ]] && check=true
scratch=""
if $check; then scratch=$(mktemp -d); out=$scratch/generated; fi

psql "$server" -qc "CREATE DATABASE \"$db\"" >/dev/null
trap 'psql "$server" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null; [ -z "$scratch" ] || rm -rf "$scratch"' EXIT

cargo run -q -p migration -- up -u "$url" >/dev/null
rm -rf "$out"
sea-orm-cli generate entity -u "$url" -o "$out" \
  --entity-format compact --impl-active-model-behavior=false \
  --with-serde none --banner-version minor --er-diagram >/dev/null
rustfmt --edition 2021 "$out"/*.rs

if $check; then
  if ! python3 -c 'import sys; sys.exit(open(sys.argv[1]).read() not in open(sys.argv[2]).read())' \
      "$out/entities.mermaid" docs/schema.md; then
    echo "entities: the diagram in docs/schema.md differs from entities.mermaid" >&2
    exit 1
  fi
  if diff -ru entity/src/generated "$out"; then
    echo "entities: regeneration changes nothing"
  else
    echo "entities: entity/src/generated differs from what sea-orm-cli generates (run scripts/generate-entities.sh)" >&2
    exit 1
  fi
fi

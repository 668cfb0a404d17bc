#!/usr/bin/env bash
# run-extra.sh - checks beyond the Check suites, run by `make test` with
# the binary's path as $1.  Append new checks at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/cascaded}

echo "== README curl examples"
tests/readme_curl.sh "$BIN"

echo "== migrate on a new file: user_version == number of migrations"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BIN" migrate --db "$tmp/new.db" >/dev/null
nmig=$(ls migrations/*.sql | wc -l)
if command -v sqlite3 >/dev/null; then
	uv=$(sqlite3 "$tmp/new.db" 'PRAGMA user_version')
	[ "$uv" = "$nmig" ] || { echo "user_version $uv != $nmig migrations" >&2; exit 1; }
	echo "user_version $uv == $nmig migrations"
fi

echo "== lint"
tests/lint.sh

echo "== OpenAPI document (swagger-parser)"
tests/openapi-validate.sh

echo "== the page at / in chromium (tests/browser-test.sh)"
tests/browser-test.sh "$BIN"

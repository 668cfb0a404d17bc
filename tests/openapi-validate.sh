#!/bin/sh
# openapi-validate.sh - validate docs/openapi.json (OpenAPI 3.1) with a
# real validator: @apidevtools/swagger-parser, installed from npm into
# tests/openapi/node_modules (pinned by tests/openapi/package-lock.json)
# when missing.  Also checks the examples against their schemas and that
# every route the server serves is documented (tests/openapi/validate.mjs).
# Needs node >= 20 and npm.  Exit 0 when everything passes.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/tests/openapi"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	# a fresh Debian machine: install Debian's Node.js when we can
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "openapi-validate: installing nodejs and npm (apt-get)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		    --no-install-recommends nodejs npm >/dev/null
	fi
fi
command -v node >/dev/null 2>&1 || { echo "openapi-validate: node is not installed (apt-get install nodejs npm)" >&2; exit 1; }
if [ ! -d "$dir/node_modules/@apidevtools/swagger-parser" ]; then
	command -v npm >/dev/null 2>&1 || { echo "openapi-validate: npm is not installed" >&2; exit 1; }
	echo "openapi-validate: installing the validator (npm ci)"
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
fi
cd "$dir"
exec node validate.mjs "$root/docs/openapi.json"

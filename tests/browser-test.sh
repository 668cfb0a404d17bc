#!/bin/sh
# browser-test.sh - the page at / in a real browser (tests/browser/page.mjs):
# Debian's chromium driven by playwright-core, installed from npm into
# tests/browser/node_modules (pinned by tests/browser/package-lock.json)
# with `npm ci`; playwright-core never downloads a browser.  chromium is
# a test-only dependency: installed here (apt-get, as root) when missing,
# never by `make deps` / `make run`.  Skips, saying so, only when chromium
# cannot be installed.  usage: tests/browser-test.sh [BIN]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-build/cascaded}
case $bin in /*) ;; *) bin="$root/$bin" ;; esac
dir="$root/tests/browser"
exe=${CHROMIUM:-}
if [ -z "$exe" ]; then
	exe=$(command -v chromium || command -v chromium-browser || true)
fi
if [ -z "$exe" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
	echo "browser-test: installing chromium (apt-get)"
	export DEBIAN_FRONTEND=noninteractive
	if ! apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
		apt-get update -qq >/dev/null 2>&1 || true
		apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || true
	fi
	exe=$(command -v chromium || true)
fi
if [ -z "$exe" ]; then
	echo "browser-test: SKIP: chromium is not installed and cannot be (apt-get install chromium as root)"
	exit 0
fi
command -v node >/dev/null 2>&1 || { echo "browser-test: node is not installed (apt-get install nodejs npm)" >&2; exit 1; }
if [ ! -d "$dir/node_modules/playwright-core" ]; then
	echo "browser-test: installing playwright-core (npm ci)"
	(cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
cd "$root"
exec node "$dir/page.mjs" "$bin" "$exe"

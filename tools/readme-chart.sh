#!/bin/sh
# readme-chart.sh - render the README's chart from the seed data: start
# BIN on loopback with a new seeded database, fetch the liquidation map of
# ASSET (GET /v1/markets/ASSET/liquidations.svg) and convert it to OUT.png
# with rsvg-convert (OUT.svg kept beside it).  `make readme-chart` runs it.
# usage: tools/readme-chart.sh BIN ASSET OUT_BASENAME
set -eu
bin=$1; asset=$2; out=$3
tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
. "$(dirname "$0")/serve-seeded.sh"
serve_seeded "$bin" "$tmp" || { echo "readme-chart: the server did not start" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
curl -fsS -o "$out.svg" "http://127.0.0.1:$port/v1/markets/$asset/liquidations.svg?range=0.5&bins=50"
rsvg-convert -o "$out.png" "$out.svg"
echo "readme-chart: $out.png"

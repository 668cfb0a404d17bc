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
"$bin" migrate --db "$tmp/db" >/dev/null
"$bin" seed --db "$tmp/db" >/dev/null
"$bin" serve --listen 127.0.0.1:0 --db "$tmp/db" 2>"$tmp/log" &
pid=$!
port=
for _ in $(seq 1 100); do
	port=$(grep -o '"listen":"127\.0\.0\.1:[0-9]*"' "$tmp/log" 2>/dev/null | head -1 | sed 's/.*://; s/"//') || true
	[ -n "$port" ] && break
	sleep 0.05
done
[ -n "$port" ] || { echo "readme-chart: the server did not start" >&2; cat "$tmp/log" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
curl -fsS -o "$out.svg" "http://127.0.0.1:$port/v1/markets/$asset/liquidations.svg?range=0.5&bins=50"
rsvg-convert -o "$out.png" "$out.svg"
echo "readme-chart: $out.png"

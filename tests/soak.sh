#!/bin/sh
# tests/soak.sh - soak run (`make soak`, not part of CI): wrk drives a real
# cascaded, seeded with the embedded market data, with a mix of requests
# for SOAK_SECONDS (default 600):
#   55% POST /v1/score, exact (a single-asset loan and a perp)
#   20% POST /v1/score, Monte Carlo (a coupled loan, 500 paths x 8 steps)
#   10% GET /v1/markets
#   10% PUT /v1/markets/ETH/liquidations (replace, 8 levels)
#    5% PUT /v1/markets/ETH/depth/soak (one side, 16 points)
# and reports throughput, p50/p99 latency, the non-2xx count and the
# server's RSS sampled every 10 s.  It fails when any answer is not 2xx,
# when the server dies, or when the RSS grows more than SOAK_RSS_PCT
# (default 5) percent between the first sample after the warm-up
# (SOAK_WARMUP seconds, default a quarter of the run, at most 60) and the
# last sample.
#
# Environment: CASCADED_BIN (default build/cascaded), SOAK_SECONDS,
# SOAK_THREADS (wrk threads, 2), SOAK_CONNECTIONS (16), SOAK_RSS_PCT,
# SOAK_WARMUP, SOAK_DIR (work folder, default a mktemp -d, removed after).
# wrk is installed with apt-get when missing and running as root.
set -eu

BIN=${CASCADED_BIN:-build/cascaded}
SECS=${SOAK_SECONDS:-600}
THREADS=${SOAK_THREADS:-2}
CONNS=${SOAK_CONNECTIONS:-16}
RSS_PCT=${SOAK_RSS_PCT:-5}
if [ -n "${SOAK_WARMUP:-}" ]; then
	WARMUP=$SOAK_WARMUP
else
	WARMUP=$((SECS / 4))
	[ "$WARMUP" -gt 60 ] && WARMUP=60
fi

if ! command -v wrk >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "soak: installing wrk"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk \
		    >/dev/null
	else
		echo "soak: wrk is missing (apt-get install wrk)" >&2
		exit 1
	fi
fi
[ -x "$BIN" ] || { echo "soak: no binary at $BIN (make all)" >&2; exit 1; }

if [ -n "${SOAK_DIR:-}" ]; then
	DIR=$SOAK_DIR
	mkdir -p "$DIR"
	KEEP=1
else
	DIR=$(mktemp -d "${TMPDIR:-/tmp}/cascaded-soak.XXXXXX")
	KEEP=0
fi
SRV_PID=
SAMPLER_PID=
cleanup() {
	[ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null || true
	if [ -n "$SRV_PID" ]; then
		kill "$SRV_PID" 2>/dev/null || true
		wait "$SRV_PID" 2>/dev/null || true
	fi
	[ "$KEEP" = 1 ] || rm -rf "$DIR"
}
trap cleanup EXIT INT TERM

"$BIN" migrate --db "$DIR/soak.db" >/dev/null
"$BIN" seed --db "$DIR/soak.db" >/dev/null
# --log-level warn keeps the access log out (it would take gigabytes), so
# the "listening" line with the port is not printed either: pick a port
# nobody listens on (the server binds with SO_REUSEPORT, so a taken port
# would be shared, not refused).
port_free() {
	! ss -ltn 2>/dev/null | awk '{ print $4 }' | grep -q ":$1\$"
}
PORT=${SOAK_PORT:-$((20000 + $$ % 20000))}
while ! port_free "$PORT"; do
	PORT=$((PORT + 1))
done
"$BIN" serve --listen "127.0.0.1:$PORT" --db "$DIR/soak.db" \
    --log-level warn --max-connections 256 2>"$DIR/server.log" &
SRV_PID=$!
i=0
up=0
while [ $i -lt 100 ]; do
	if curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1; then
		up=1
		break
	fi
	kill -0 "$SRV_PID" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
if [ $up = 0 ]; then
	echo "soak: the server did not start:" >&2
	cat "$DIR/server.log" >&2
	exit 1
fi
echo "soak: server pid $SRV_PID on 127.0.0.1:$PORT for ${SECS}s" \
    "(wrk -t$THREADS -c$CONNS, warm-up ${WARMUP}s)"

cat >"$DIR/mix.lua" <<'EOF'
-- The request mix; each thread counts non-2xx answers and by kind.
local exact = '{"positions": [{"id": "l", "type": "loan", "collateral": ' ..
  '[{"asset": "ETH", "amount": 10, "liquidation_threshold": 0.8}], ' ..
  '"debt": [{"asset": "USDC", "amount": 20000}]}, {"id": "p", "type": ' ..
  '"perp", "asset": "ETH", "side": "long", "size": 5, "entry_price": ' ..
  '3000, "leverage": 10}]}'
local mc = '{"positions": [{"id": "c", "type": "loan", "collateral": [' ..
  '{"asset": "ETH", "amount": 10, "liquidation_threshold": 0.8}, ' ..
  '{"asset": "BTC", "amount": 1, "liquidation_threshold": 0.75}], ' ..
  '"debt": [{"asset": "USDC", "amount": 30000}]}], "paths": 500, ' ..
  '"steps": 8, "seed": 3}'
local json = { ["Content-Type"] = "application/json" }
local n = 0
non2xx = 0
total = 0

local function levels()
  local t = {}
  local q = 1 + n % 97
  for i = 1, 8 do
    t[#t + 1] = string.format(
      '{"price": %d, "qty": %d, "side": "sell"}', 2900 - 50 * i, q * i)
  end
  return '{"levels": [' .. table.concat(t, ", ") .. '], "source": "soak"}'
end

local function depth()
  local t = {}
  local q = 1 + n % 89
  for i = 1, 16 do
    t[#t + 1] = string.format('[%d, %d]', 25 * i, q * 100 * i)
  end
  return '{"side": "bid", "points": [' .. table.concat(t, ", ") .. ']}'
end

request = function()
  n = n + 1
  local r = n % 20
  if r < 11 then
    return wrk.format("POST", "/v1/score", json, exact)
  elseif r < 15 then
    return wrk.format("POST", "/v1/score", json, mc)
  elseif r < 17 then
    return wrk.format("GET", "/v1/markets")
  elseif r < 19 then
    return wrk.format("PUT", "/v1/markets/ETH/liquidations", json,
      levels())
  else
    return wrk.format("PUT", "/v1/markets/ETH/depth/soak", json, depth())
  end
end

response = function(status, headers, body)
  total = total + 1
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end

done = function(summary, latency, requests)
  local bad, seen = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("non2xx")
    seen = seen + t:get("total")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("SOAK requests=%d seconds=%.1f rps=%.1f " ..
    "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d " ..
    "socket_errors=%d\n", summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3, bad,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout))
end
EOF

# RSS of the server (kB) every 10 s, with the elapsed seconds.
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$SRV_PID/status" 2>/dev/null ||
	    echo 0
}
(
	t=0
	while [ "$t" -le "$SECS" ]; do
		echo "$t $(rss_kb)"
		sleep 10
		t=$((t + 10))
	done
) >"$DIR/rss.txt" &
SAMPLER_PID=$!

wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --timeout 10s \
    -s "$DIR/mix.lua" "http://127.0.0.1:$PORT" >"$DIR/wrk.txt" 2>&1 || {
	echo "soak: wrk failed:" >&2
	cat "$DIR/wrk.txt" >&2
	exit 1
}
echo "$SECS $(rss_kb)" >>"$DIR/rss.txt"
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=

rc=0
echo "soak: RSS (s kB):"
sed 's/^/  /' "$DIR/rss.txt"
SUMMARY=$(grep '^SOAK ' "$DIR/wrk.txt" || true)
if [ -z "$SUMMARY" ]; then
	echo "soak: no summary from wrk:" >&2
	cat "$DIR/wrk.txt" >&2
	exit 1
fi
echo "soak: $SUMMARY" | sed 's/SOAK //'
NON2XX=$(echo "$SUMMARY" | sed -n 's/.*non2xx=\([0-9]*\).*/\1/p')
if [ "${NON2XX:-1}" != 0 ]; then
	echo "soak: FAIL: $NON2XX answers were not 2xx" >&2
	rc=1
fi
if ! kill -0 "$SRV_PID" 2>/dev/null; then
	echo "soak: FAIL: the server died" >&2
	rc=1
fi
# growth from the first sample at or after the warm-up to the last
GROWTH=$(awk -v w="$WARMUP" -v pct="$RSS_PCT" '
	$1 >= w && base == "" && $2 > 0 { base = $2 }
	$2 > 0 { last = $2 }
	END {
		if (base == "") { print "none"; exit }
		printf "%.2f %d %d %s\n", (last - base) * 100 / base, base,
		    last, ((last - base) * 100 / base > pct) ? "FAIL" : "ok"
	}' "$DIR/rss.txt")
echo "soak: RSS growth after warm-up: $GROWTH (% base_kB last_kB)"
case $GROWTH in
*FAIL*) echo "soak: FAIL: RSS grew more than $RSS_PCT%" >&2; rc=1 ;;
none) echo "soak: FAIL: no RSS sample after the warm-up" >&2; rc=1 ;;
esac
if grep -q '"level":"error"' "$DIR/server.log"; then
	echo "soak: server errors:" >&2
	grep '"level":"error"' "$DIR/server.log" | head -n 5 >&2
	rc=1
fi
[ $rc = 0 ] && echo "soak: ok"
exit $rc

# serve-seeded.sh - sourced (POSIX sh) by the scripts that need a seeded
# server on loopback: tests/readme_curl.sh, tools/readme-chart.sh.
#
# serve_seeded BIN DIR: migrate and seed DIR/db, start `BIN serve` on
# 127.0.0.1:0 (log in DIR/log) and set $pid and $port.  Returns 1 (log on
# stderr) when the server does not say where it listens within 5 s.  The
# caller stops $pid (kill -TERM; wait) and removes DIR.
serve_seeded() {
	"$1" migrate --db "$2/db" >/dev/null
	"$1" seed --db "$2/db" >/dev/null
	"$1" serve --listen 127.0.0.1:0 --db "$2/db" 2>"$2/log" &
	pid=$!
	port=
	for _ in $(seq 1 100); do
		port=$(grep -o '"listen":"127\.0\.0\.1:[0-9]*"' "$2/log" 2>/dev/null |
			head -1 | sed 's/.*://; s/"//') || true
		[ -n "$port" ] && return 0
		sleep 0.05
	done
	cat "$2/log" >&2
	return 1
}

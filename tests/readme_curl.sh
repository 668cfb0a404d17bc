#!/usr/bin/env bash
# readme_curl.sh - every curl example in README.md must work.
#
# Starts BIN (default build/cascaded) on 127.0.0.1:0 with a fresh database
# (migrated and seeded), extracts the curl commands of the README's ```sh
# blocks (joining "\" continuations), replaces the base URL
# (http://localhost:8080, localhost:8080, 127.0.0.1:8080) with the live
# one and runs them in order.  A command passes when curl exits 0 and the
# HTTP status is 2xx, or the status a trailing "# -> NNN" comment names.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/cascaded}
command -v curl >/dev/null || { echo "readme_curl: curl is not installed" >&2; exit 1; }

tmp=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	rm -rf "$tmp"
}
trap cleanup EXIT

. tools/serve-seeded.sh
serve_seeded "$BIN" "$tmp" || { echo "readme_curl: server did not start" >&2; exit 1; }
base="http://127.0.0.1:$port"

# Extract the curl commands of ```sh blocks, one per line.
awk '
	/^```/ { if (insh) { insh = 0 } else if ($0 ~ /^```(sh|bash|shell|console)[[:space:]]*$/) { insh = 1 }; next }
	insh {
		line = $0
		sub(/^[[:space:]]*\$[[:space:]]+/, "", line)
		if (cont != "") { cmd = cmd " " line } else if (line ~ /^[[:space:]]*curl[[:space:]]/) { cmd = line } else { next }
		if (cmd ~ /\\[[:space:]]*$/) { sub(/\\[[:space:]]*$/, "", cmd); cont = 1; next }
		cont = ""; print cmd
	}
' README.md > "$tmp/cmds"

n=0; bad=0
while IFS= read -r cmd; do
	n=$((n + 1))
	want=
	if [[ $cmd =~ \#[[:space:]]*-\>[[:space:]]*([0-9]{3}) ]]; then want=${BASH_REMATCH[1]}; fi
	run=${cmd//http:\/\/localhost:8080/$base}
	run=${run//http:\/\/127.0.0.1:8080/$base}
	run=${run//localhost:8080/127.0.0.1:$port}
	run=${run//127.0.0.1:8080/127.0.0.1:$port}
	# the status goes to a side file through a wrapper, so the README line
	# runs unchanged (pipes and all)
	status_file="$tmp/status"
	: > "$status_file"
	if ! out=$(cd "$tmp" && STATUS_FILE="$status_file" bash -o pipefail -c "
		curl() { command curl --max-time 10 -w '%{stderr}%{http_code}\n' \"\$@\" 2>>\"\$STATUS_FILE\"; }
		$run" 2>&1); then
		echo "readme_curl: FAILED (exit): $cmd" >&2; echo "$out" | head -5 >&2; bad=$((bad + 1)); continue
	fi
	code=$(grep -oE '^[0-9]{3}$' "$status_file" | tail -1 || true)
	if [ -z "$code" ]; then
		echo "readme_curl: FAILED (no status): $cmd" >&2; bad=$((bad + 1))
	elif [ -n "$want" ] && [ "$code" != "$want" ]; then
		echo "readme_curl: FAILED (status $code, want $want): $cmd" >&2; bad=$((bad + 1))
	elif [ -z "$want" ] && [[ $code != 2?? ]]; then
		echo "readme_curl: FAILED (status $code): $cmd" >&2; echo "$out" | head -5 >&2; bad=$((bad + 1))
	fi
done < "$tmp/cmds"

if [ "$n" = 0 ]; then echo "readme_curl: no curl examples found in README.md" >&2; exit 1; fi
kill -TERM "$pid"; wait "$pid" && rc=0 || rc=$?
pid=
if [ "$rc" != 0 ]; then echo "readme_curl: server exited with $rc after SIGTERM" >&2; bad=$((bad + 1)); fi
echo "readme_curl: $((n - bad))/$n README curl examples passed"
[ "$bad" = 0 ]

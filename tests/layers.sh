#!/usr/bin/env bash
# layers.sh - the layering of the sources, checked.  Run by tests/lint.sh.
#
# Every file of service/ and include/ belongs to one layer; a file may use
# (include, or call a function defined in) its own layer's files and the
# layers below it, never a layer above nor a sibling on the same rank:
#
#   rank layer     files                           what it is
#   0    model     service/model/*, include/*      the pure cascade engine
#   1    base      json* rfc3339* hash* digest*    JSON emitter, numbers, time,
#                  problem* log* metrics* pool*    hashes, problems, logs,
#                  embed* svg* chart*              counters, the compute pool,
#                                                  embedded files, SVG charts
#   2    store     store* marketdata* seed*        SQLite cache and its rows
#   3    snapshot  snapshot*                       immutable market snapshots
#   4    codec     codec*                          JSON <-> model structs
#   5    config    config*                         options (reads the codec's
#                                                  request-limit defaults)
#   6    api       api* app*                       transport-neutral use cases
#   7    server    server*                         HTTP transport (MHD)
#   7    bus       bus*                            writes between replicas
#                                                  (NATS JetStream)
#   8    http      handlers*                       routes: request -> api_*
#   8    cli       cli*                            subcommands -> api_*
#   9    main      main.c                          knows them all
#
# Two checks: the #include "..." graph of the sources, and the symbols the
# compiled objects of build/ take from each other (nm), so that a call
# through a hand-written prototype cannot hide a back edge.
set -euo pipefail
cd "$(dirname "$0")/.."

# layer NAME RANK of a path (service/x.c, service/x.h, include/cascade/x.h)
layer_of() {
	local f=${1#service/}
	case $f in
	model/* | include/* | cascade/*) echo "model 0" ;;
	json* | rfc3339* | hash* | digest* | problem* | log.* | metrics* | \
		pool* | embed* | svg* | chart*) echo "base 1" ;;
	store* | marketdata* | seed*) echo "store 2" ;;
	snapshot*) echo "snapshot 3" ;;
	codec*) echo "codec 4" ;;
	config*) echo "config 5" ;;
	api* | app.*) echo "api 6" ;;
	server*) echo "server 7" ;;
	bus*) echo "bus 7" ;;
	handlers*) echo "http 8" ;;
	cli*) echo "cli 8" ;;
	main.c) echo "main 9" ;;
	gen/*) echo "base 1" ;;
	*) echo "unknown -1" ;;
	esac
}

fail=0
report() { echo "lint: layering: $*" >&2; fail=1; }

# may a file of layer (ln, lr) use one of layer (tn, tr)?
allowed() {
	local ln=$1 lr=$2 tn=$3 tr=$4
	[ "$ln" = "$tn" ] && return 0
	[ "$tr" -lt "$lr" ] && return 0
	return 1
}

# 1. includes
files=$(find service include -name '*.[ch]' | sort)
for f in $files; do
	read -r ln lr <<<"$(layer_of "$f")"
	if [ "$lr" -lt 0 ]; then
		report "$f is in no layer: add it to layer_of() in tests/layers.sh"
		continue
	fi
	while IFS= read -r inc; do
		[ -n "$inc" ] || continue
		read -r tn tr <<<"$(layer_of "$inc")"
		[ "$tr" -lt 0 ] && continue # tests' or generated headers
		allowed "$ln" "$lr" "$tn" "$tr" ||
			report "$f ($ln) includes $inc ($tn): an edge back up"
	done < <(grep -oE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]+"' "$f" |
		sed -E 's/.*"([^"]+)".*/\1/')
	# the model includes nothing outside the model
	if [ "$ln" = model ] &&
		grep -qE '#include[[:space:]]*<(stdio|microhttpd|sqlite3|cjson/cJSON|syslog|pthread)\.h>' "$f"; then
		case $f in
		service/model/mc_thread.*) ;; # the one threaded driver of the model
		*) report "$f: the model includes an I/O or adapter header" ;;
		esac
	fi
done

# 2. symbols between compiled objects (when they are built)
objdir=${LAYERS_BUILD:-build}
if [ -d "$objdir/service" ] && command -v nm >/dev/null; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	for o in $(find "$objdir/service" -name '*.o' | sort); do
		src=${o#"$objdir"/}
		src=${src%.o}.c
		[ -f "$src" ] || continue # a stale object of a removed source
		nm -g --defined-only "$o" 2>/dev/null |
			awk -v s="$src" '{print $3, s}' >>"$tmp/defs"
		nm -u "$o" 2>/dev/null | awk -v s="$src" '{print $2, s}' >>"$tmp/uses"
	done
	sort -k1,1 -u "$tmp/defs" -o "$tmp/defs"
	sort -k1,1 "$tmp/uses" -o "$tmp/uses"
	# symbol user definer
	join "$tmp/uses" "$tmp/defs" >"$tmp/edges" || true
	while read -r sym user def; do
		[ "$def" = "$user" ] && continue
		read -r ln lr <<<"$(layer_of "$user")"
		read -r tn tr <<<"$(layer_of "$def")"
		allowed "$ln" "$lr" "$tn" "$tr" ||
			report "$user ($ln) calls $sym of $def ($tn): an edge back up"
	done <"$tmp/edges"
fi

exit "$fail"

#!/bin/sh
# cascaded container entrypoint: prepare the database on the volume, then
# exec the server so that it is PID 1 and gets SIGTERM itself (it drains
# and exits 0).
#
#   (no arguments), serve [flags], or [flags]:
#       migrate the database (idempotent: applies new migrations after an
#       upgrade), seed it when this start created it, exec `cascaded serve`
#   any other subcommand (migrate, seed, healthcheck, --help, ...):
#       exec `cascaded` with the arguments unchanged
#
# Environment: CASCADED_DB (the database path; set in the image), and
# CASCADED_SEED = auto (default: seed a new database only, so that assets
# an operator deleted stay deleted), always, or never.
#
# A new database is built under a temporary name and renamed into place
# only once migrated and seeded, so a start that dies half-way never
# leaves a half-seeded database that later starts would take as set up.
set -eu

db=${CASCADED_DB:-/var/lib/cascaded/cascaded.db}
seed=${CASCADED_SEED:-auto}

case ${1:-serve} in
serve) if [ $# -gt 0 ]; then shift; fi ;;
-*) ;;
*) exec cascaded "$@" ;;
esac

case $seed in
auto|always|never) ;;
*) echo "cascaded-entrypoint: CASCADED_SEED must be auto, always or never" >&2
   exit 64 ;;
esac

dir=$(dirname "$db")
if [ ! -w "$dir" ]; then
	echo "cascaded-entrypoint: $dir is not writable by uid $(id -u);" \
		"mount a volume there, or chown a bind-mounted directory to" \
		"$(id -u):$(id -g)" >&2
	exit 73
fi

if [ -s "$db" ]; then
	cascaded migrate --db "$db"
	if [ "$seed" = always ]; then
		cascaded seed --db "$db"
	fi
else
	tmp=$db.init
	# No database, so any WAL or shared-memory file beside it is stale.
	rm -f "$tmp" "$tmp-wal" "$tmp-shm" "$tmp-journal" \
		"$db-wal" "$db-shm" "$db-journal"
	cascaded migrate --db "$tmp"
	if [ "$seed" != never ]; then
		cascaded seed --db "$tmp"
	fi
	# SQLite folds its WAL into the file on the last close; move any
	# leftover WAL along so that nothing committed is lost.
	rm -f "$tmp-shm"
	if [ -e "$tmp-wal" ]; then mv -f "$tmp-wal" "$db-wal"; fi
	mv -f "$tmp" "$db"
fi

exec cascaded serve "$@"

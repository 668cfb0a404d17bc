/*
 * seed_init.h - prepare the database before the server starts:
 * `cascaded serve --init` (what the container image runs, so that it
 * needs no shell).
 *
 * A database file that exists and is not empty is migrated (store_open
 * applies the migrations a newer binary brings) and, in SEED_INIT_ALWAYS
 * mode, seeded again (seeding is idempotent).  A missing or empty one is
 * built as "<db>.init": migrated, seeded unless SEED_INIT_NEVER, closed,
 * then renamed over <db> (and the directory synced), so that a start that
 * dies half-way never leaves a half-seeded database that a later start
 * would take as set up.  Before that, leftovers of such a start
 * ("<db>.init" and its -wal, -shm, -journal) and a stale -wal, -shm or
 * -journal of the missing <db> are removed.  AUTO seeds a new database
 * only, so that assets an operator deleted stay deleted.
 *
 * Ownership: every input is borrowed; nothing is kept after the call.
 */
#ifndef CASCADED_SEED_INIT_H
#define CASCADED_SEED_INIT_H

#include <stddef.h>

#include "seed.h"

enum seed_init_mode {
	SEED_INIT_AUTO = 0,	/* seed a database this call creates */
	SEED_INIT_ALWAYS,	/* seed on every call */
	SEED_INIT_NEVER
};

enum seed_init_status {
	SEED_INIT_OK = 0,
	SEED_INIT_NOT_WRITABLE,	/* the database's directory: exit 73 */
	SEED_INIT_FAILED	/* open, migrate, seed or rename: exit 1 */
};

struct seed_init_report {
	int created;			/* the database was new */
	int seeded;			/* the seed was applied */
	int schema_version;		/* after migrating */
	struct seed_stats stats;	/* when seeded */
};

/* "auto", "always", "never" or NULL (auto) -> *mode: 0, else -1. */
int seed_init_parse_mode(const char *s, enum seed_init_mode *mode);

/*
 * Migrate, and seed from json[0..len) per mode, the database at db as
 * described above.  *rep is filled on success.  On failure err holds a
 * one-line message.
 */
enum seed_init_status seed_init(const char *db, enum seed_init_mode mode,
    const char *json, size_t len, struct seed_init_report *rep, char *err,
    size_t errlen);

#endif

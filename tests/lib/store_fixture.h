/*
 * store_fixture.h - the database fixtures of the service suites: a store
 * opened in process on a fresh temporary file, and a database file
 * migrated and seeded by the binary under test (`cascaded migrate`,
 * `cascaded seed`) for a server to start on.
 *
 * Ownership: *dir is a tmpdir_new() path (malloc'd) and db the caller's
 * buffer of cap bytes, as for fixture_dir() (testlib.h); the store
 * belongs to the caller until store_fixture_close().
 */
#ifndef CASCADED_STORE_FIXTURE_H
#define CASCADED_STORE_FIXTURE_H

#include <stddef.h>

struct store;

/*
 * A new temporary directory in *dir, db = <dir>/<name>, and the store
 * opened there (created and migrated by store_open).  The store, or NULL
 * with *err from store_open (malloc'd, may be NULL) and *dir left for
 * store_fixture_close().
 */
struct store *store_fixture_open(char **dir, char *db, size_t cap,
    const char *name, char **err);
/* Close *st and remove *dir; both become NULL.  Safe on NULLs. */
void store_fixture_close(struct store **st, char **dir);

/*
 * A new temporary directory in *dir, db = <dir>/<name>, migrated and
 * seeded by test_bin() (each command within timeout_ms).  0, or -1.
 */
int store_fixture_seeded(char **dir, char *db, size_t cap, const char *name,
    int timeout_ms);

#endif

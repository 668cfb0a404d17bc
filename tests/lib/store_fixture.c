/* store_fixture.c - see store_fixture.h. */
#include <stdlib.h>

#include "store.h"
#include "store_fixture.h"
#include "testlib.h"

struct store *
store_fixture_open(char **dir, char *db, size_t cap, const char *name,
    char **err)
{
	*err = NULL;
	if (fixture_dir(dir, db, cap, name) != 0)
		return NULL;
	return store_open(db, err);
}

void
store_fixture_close(struct store **st, char **dir)
{
	if (*st != NULL)
		store_close(*st);
	*st = NULL;
	if (*dir != NULL)
		tmpdir_free(*dir);
	*dir = NULL;
}

int
store_fixture_seeded(char **dir, char *db, size_t cap, const char *name,
    int timeout_ms)
{
	const char *mig[] = { test_bin(), "migrate", "--db", NULL, NULL };
	const char *seed[] = { test_bin(), "seed", "--db", NULL, NULL };

	if (fixture_dir(dir, db, cap, name) != 0)
		return -1;
	mig[3] = db;
	seed[3] = db;
	if (run_command(mig, timeout_ms) != 0 ||
	    run_command(seed, timeout_ms) != 0)
		return -1;
	return 0;
}

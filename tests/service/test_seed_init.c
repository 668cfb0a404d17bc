/*
 * test_seed_init.c - `cascaded serve --init`: the database prepared before
 * serving (seed_init.c) and the flags that ask for it (main.c).
 *
 * A hand-written two-asset seed is the reference: a new database holds
 * exactly its assets at its prices; an existing one is migrated and left
 * alone (AUTO), seeded again (ALWAYS) or never seeded (NEVER); stale
 * leftovers of a start that died are removed and never taken as a
 * database; an unwritable directory is refused with its own status.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "marketdata.h"
#include "seed_init.h"
#include "store.h"
#include "testlib.h"

/* Two assets, nothing else: the reference the tests compare to. */
static const char seed2[] =
    "{\"markets\": ["
    "{\"asset\": \"AAA\", \"body\": {\"price\": 12.5, \"volatility\": 0.5}},"
    "{\"asset\": \"BBB\", \"body\": {\"price\": 3, \"volatility\": 0}}]}";

static char *dir;
static char db[512];

static void
setup(void)
{
	ck_assert_int_eq(fixture_dir(&dir, db, sizeof(db), "t.db"), 0);
}

static void
teardown(void)
{
	tmpdir_free(dir);
	dir = NULL;
}

static int
exists(const char *path, const char *suffix)
{
	char p[600];
	struct stat sb;

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	return stat(p, &sb) == 0;
}

static void
write_file(const char *path, const char *suffix, const char *text)
{
	char p[600];
	FILE *f;

	snprintf(p, sizeof(p), "%s%s", path, suffix);
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

/* The assets of db: their number, and the price of sym (-1: absent). */
static size_t
assets_of(const char *path, const char *sym, double *price)
{
	struct market_data md;
	struct store *st;
	char *err = NULL;
	size_t i, n;

	st = store_open(path, &err);
	ck_assert_msg(st != NULL, "store_open: %s", err ? err : "?");
	market_data_init(&md);
	ck_assert_int_eq(store_load(st, &md), STORE_OK);
	*price = -1;
	for (i = 0; i < md.nassets; i++)
		if (strcmp(md.assets[i].symbol, sym) == 0)
			*price = md.assets[i].price;
	n = md.nassets;
	market_data_release(&md);
	store_close(st);
	return n;
}

static enum seed_init_status
init(enum seed_init_mode mode, struct seed_init_report *rep)
{
	char err[512] = "";
	enum seed_init_status s;

	s = seed_init(db, mode, seed2, sizeof(seed2) - 1, rep, err,
	    sizeof(err));
	ck_assert_msg(s == SEED_INIT_OK, "seed_init: %s", err);
	return s;
}

START_TEST(parse_mode)
{
	enum seed_init_mode m = SEED_INIT_NEVER;

	ck_assert_int_eq(seed_init_parse_mode(NULL, &m), 0);
	ck_assert_int_eq(m, SEED_INIT_AUTO);
	ck_assert_int_eq(seed_init_parse_mode("always", &m), 0);
	ck_assert_int_eq(m, SEED_INIT_ALWAYS);
	ck_assert_int_eq(seed_init_parse_mode("never", &m), 0);
	ck_assert_int_eq(m, SEED_INIT_NEVER);
	ck_assert_int_eq(seed_init_parse_mode("auto", &m), 0);
	ck_assert_int_eq(m, SEED_INIT_AUTO);
	ck_assert_int_eq(seed_init_parse_mode("Always", &m), -1);
	ck_assert_int_eq(seed_init_parse_mode("", &m), -1);
}
END_TEST

START_TEST(new_db_is_migrated_and_seeded)
{
	struct seed_init_report rep;
	double p;

	/* leftovers of a start that died, and a stale WAL of no database */
	write_file(db, ".init", "not a database");
	write_file(db, ".init-journal", "junk");
	write_file(db, "-wal", "junk");
	write_file(db, "-shm", "junk");
	init(SEED_INIT_AUTO, &rep);
	ck_assert_int_eq(rep.created, 1);
	ck_assert_int_eq(rep.seeded, 1);
	ck_assert_uint_eq(rep.stats.assets, 2);
	ck_assert_int_eq(rep.schema_version, store_migration_count());
	ck_assert(!exists(db, ".init"));
	ck_assert(!exists(db, ".init-wal"));
	ck_assert(!exists(db, ".init-shm"));
	ck_assert(!exists(db, ".init-journal"));
	ck_assert_uint_eq(assets_of(db, "AAA", &p), 2);
	ck_assert_double_eq(p, 12.5);
	assets_of(db, "BBB", &p);
	ck_assert_double_eq(p, 3);
}
END_TEST

START_TEST(empty_file_is_a_new_db)
{
	struct seed_init_report rep;
	double p;

	write_file(db, "", "");
	init(SEED_INIT_AUTO, &rep);
	ck_assert_int_eq(rep.created, 1);
	ck_assert_uint_eq(assets_of(db, "AAA", &p), 2);
}
END_TEST

START_TEST(existing_db_auto_always_never)
{
	struct seed_init_report rep;
	struct store *st;
	char *err = NULL;
	double p;

	init(SEED_INIT_AUTO, &rep);
	/* an operator deletes an asset and reprices another */
	st = store_open(db, &err);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(store_delete_asset(st, "BBB"), STORE_OK);
	ck_assert_int_eq(store_put_asset(st, "AAA", 99, 0.5,
	    "2024-01-01T00:00:00Z", NULL), STORE_OK);
	store_close(st);

	init(SEED_INIT_AUTO, &rep);	/* a restart: migrate only */
	ck_assert_int_eq(rep.created, 0);
	ck_assert_int_eq(rep.seeded, 0);
	ck_assert_int_eq(rep.schema_version, store_migration_count());
	ck_assert_uint_eq(assets_of(db, "AAA", &p), 1);
	ck_assert_double_eq(p, 99);

	init(SEED_INIT_NEVER, &rep);
	ck_assert_int_eq(rep.seeded, 0);
	ck_assert_uint_eq(assets_of(db, "AAA", &p), 1);

	init(SEED_INIT_ALWAYS, &rep);	/* upserts the seed again */
	ck_assert_int_eq(rep.created, 0);
	ck_assert_int_eq(rep.seeded, 1);
	ck_assert_uint_eq(assets_of(db, "AAA", &p), 2);
	ck_assert_double_eq(p, 12.5);
}
END_TEST

START_TEST(never_creates_an_empty_migrated_db)
{
	struct seed_init_report rep;
	double p;

	init(SEED_INIT_NEVER, &rep);
	ck_assert_int_eq(rep.created, 1);
	ck_assert_int_eq(rep.seeded, 0);
	ck_assert_int_eq(rep.schema_version, store_migration_count());
	ck_assert(exists(db, ""));
	ck_assert_uint_eq(assets_of(db, "AAA", &p), 0);
}
END_TEST

START_TEST(failed_seed_leaves_no_db)
{
	struct seed_init_report rep;
	char err[512] = "";
	double p;

	ck_assert_int_eq(seed_init(db, SEED_INIT_AUTO, "[1]", 3, &rep, err,
	    sizeof(err)), SEED_INIT_FAILED);
	ck_assert(err[0] != '\0');
	ck_assert(!exists(db, ""));
	/* the next start builds it from scratch */
	init(SEED_INIT_AUTO, &rep);
	ck_assert_int_eq(rep.created, 1);
	ck_assert_uint_eq(assets_of(db, "AAA", &p), 2);
}
END_TEST

START_TEST(unwritable_directory)
{
	struct seed_init_report rep;
	char err[512] = "", path[600];

	snprintf(path, sizeof(path), "%s/missing/t.db", dir);
	ck_assert_int_eq(seed_init(path, SEED_INIT_AUTO, seed2,
	    sizeof(seed2) - 1, &rep, err, sizeof(err)),
	    SEED_INIT_NOT_WRITABLE);
	ck_assert_msg(strstr(err, "not writable") != NULL, "%s", err);
}
END_TEST

/* The binary: --init before serving, its exit statuses, --seed checked. */
START_TEST(binary_serve_init)
{
	static const char *const init_args[] = { "--init", NULL };
	char path[600];
	struct server_proc srv;
	struct http_reply r;
	const char *av[8];

	/* a bad --seed and an unwritable directory stop before serving */
	av[0] = test_bin();
	av[1] = "serve";
	av[2] = "--seed";
	av[3] = "sometimes";
	av[4] = "--db";
	av[5] = db;
	av[6] = NULL;
	ck_assert_int_eq(run_command(av, 10000), 2);
	ck_assert(!exists(db, ""));
	snprintf(path, sizeof(path), "%s/missing/t.db", dir);
	av[2] = "--init";
	av[3] = "--db";
	av[4] = path;
	av[5] = NULL;
	ck_assert_int_eq(run_command(av, 10000), 73);

	/* a new database: seeded with the embedded data, then served */
	memset(&srv, 0, sizeof(srv));
	ck_assert_int_eq(server_proc_start(&srv, db, init_args, 20000), 0);
	memset(&r, 0, sizeof(r));
	ck_assert_int_eq(http_request(srv.port, "GET", "/v1/markets/ETH",
	    NULL, NULL, 0, &r, 10000), 0);
	ck_assert_int_eq(r.status, 200);
	http_reply_release(&r);
	ck_assert_int_eq(server_proc_stop(&srv, SIGTERM, 20000), 0);
	free(srv.log);
	ck_assert(exists(db, ""));
	ck_assert(!exists(db, ".init"));
}
END_TEST

static Suite *
seed_init_suite(void)
{
	Suite *s = suite_create("seed_init");
	TCase *tc;

	tc = tcase_create("seed_init");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, parse_mode);
	tcase_add_test(tc, new_db_is_migrated_and_seeded);
	tcase_add_test(tc, empty_file_is_a_new_db);
	tcase_add_test(tc, existing_db_auto_always_never);
	tcase_add_test(tc, never_creates_an_empty_migrated_db);
	tcase_add_test(tc, failed_seed_leaves_no_db);
	tcase_add_test(tc, unwritable_directory);
	suite_add_tcase(s, tc);
	tc = tcase_create("binary");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, binary_serve_init);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(seed_init_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

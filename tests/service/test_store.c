/*
 * test_store.c - migrations on temporary databases, store round trips,
 * atomic replacement (a failing write leaves the old data whole), error
 * mapping, and the embedded seed.
 */
#include <check.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "cascade/common.h"
#include "embed.h"
#include "marketdata.h"
#include "seed.h"
#include "store.h"
#include "store_fixture.h"
#include "testlib.h"

static char *dir;
static char db[512];
static struct store *st;

static void
setup(void)
{
	char *err = NULL;

	st = store_fixture_open(&dir, db, sizeof(db), "t.db", &err);
	ck_assert_msg(st != NULL, "store_open: %s", err ? err : "?");
}

static void
teardown(void)
{
	store_fixture_close(&st, &dir);
}

static int
pragma_int(const char *path, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *s;
	int v = -1;

	ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(h, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(h);
	return v;
}

static void
set_user_version(const char *path, int v)
{
	sqlite3 *h;
	char sql[64];

	ck_assert_int_eq(sqlite3_open(path, &h), SQLITE_OK);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	ck_assert_int_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

static struct md_curve
mkcurve(const char *venue, int side, const double *bps, const double *qty,
    size_t n)
{
	struct md_curve c;

	memset(&c, 0, sizeof(c));
	snprintf(c.venue, sizeof(c.venue), "%s", venue);
	c.side = side;
	snprintf(c.as_of, sizeof(c.as_of), "2026-01-24T00:00:00Z");
	c.curve.n = n;
	c.curve.bps = (double *)(uintptr_t)bps;
	c.curve.qty = (double *)(uintptr_t)qty;
	return c;
}

static struct md_level
mklevel(double price, double qty, int side)
{
	struct md_level l;

	memset(&l, 0, sizeof(l));
	l.price = price;
	l.qty = qty;
	l.side = side;
	snprintf(l.as_of, sizeof(l.as_of), "2022-10-10T13:55:44Z");
	snprintf(l.source, sizeof(l.source), "test");
	return l;
}

static const struct md_asset *
asset_of(const struct market_data *md, const char *sym)
{
	long i = market_data_find(md, sym);

	ck_assert_msg(i >= 0, "asset %s missing", sym);
	return &md->assets[i];
}

/* --- migrations ------------------------------------------------------ */

START_TEST(fresh_db_is_migrated)
{
	glob_t g;

	ck_assert_int_eq(glob("migrations/*.sql", 0, NULL, &g), 0);
	ck_assert_int_eq(store_migration_count(), (int)g.gl_pathc);
	ck_assert_int_eq(store_schema_version(st), (int)g.gl_pathc);
	globfree(&g);
	ck_assert_int_eq(store_ready(st), 1);
	store_close(st);
	st = NULL;
	ck_assert_int_eq(pragma_int(db, "PRAGMA user_version"),
	    store_migration_count());
	ck_assert_int_eq(pragma_int(db, "SELECT count(*) FROM sqlite_master "
	    "WHERE name IN ('assets', 'depth_curves', 'depth_points', "
	    "'liquidation_levels', 'correlations')"), 5);
}
END_TEST

START_TEST(wal_mode)
{
	sqlite3 *h;
	sqlite3_stmt *s;

	ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &s,
	    NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(s), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(h);
}
END_TEST

START_TEST(reopen_is_idempotent)
{
	struct market_data md;
	char *err = NULL;
	int created = -1;

	ck_assert_int_eq(store_put_asset(st, "ETH", 2950, 0.7,
	    "2026-01-24T00:00:00Z", &created), STORE_OK);
	store_close(st);
	st = store_open(db, &err);
	ck_assert_ptr_nonnull(st);
	ck_assert_int_eq(store_schema_version(st), store_migration_count());
	market_data_init(&md);
	ck_assert_int_eq(store_load(st, &md), STORE_OK);
	ck_assert_uint_eq(md.nassets, 1);
	market_data_release(&md);
}
END_TEST

START_TEST(newer_db_refused)
{
	char *err = NULL;
	struct store *s2;

	store_close(st);
	st = NULL;
	set_user_version(db, store_migration_count() + 1);
	s2 = store_open(db, &err);
	ck_assert_ptr_null(s2);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "newer") != NULL, "message: %s", err);
	free(err);
	/* refused, and left untouched */
	ck_assert_int_eq(pragma_int(db, "PRAGMA user_version"),
	    store_migration_count() + 1);
}
END_TEST

START_TEST(unopenable_path)
{
	char *err = NULL;
	struct store *s2 = store_open("/nonexistent-dir/x/y.db", &err);

	ck_assert_ptr_null(s2);
	ck_assert_ptr_nonnull(err);
	free(err);
	ck_assert_int_eq(store_ready(NULL), 0);
}
END_TEST

START_TEST(embedded_migrations_in_order)
{
	size_t i;

	ck_assert_uint_eq(embed_nmigrations, (size_t)store_migration_count());
	for (i = 0; i < embed_nmigrations; i++) {
		ck_assert_int_eq(embed_migrations[i].number, (int)i + 1);
		ck_assert_uint_eq(strlen((const char *)embed_migrations[i].data),
		    embed_migrations[i].len);
	}
	ck_assert_ptr_null(embed_migrations[embed_nmigrations].name);
}
END_TEST

/* --- round trips ----------------------------------------------------- */

START_TEST(asset_round_trip)
{
	struct market_data md;
	int created = -1;
	const struct md_asset *a;

	ck_assert_int_eq(store_put_asset(st, "ETH", 2950.5, 0.72,
	    "2026-01-24T00:00:00Z", &created), STORE_OK);
	ck_assert_int_eq(created, 1);
	ck_assert_int_eq(store_put_asset(st, "ETH", 3000, 0.8,
	    "2026-01-25T00:00:00Z", &created), STORE_OK);
	ck_assert_int_eq(created, 0);
	ck_assert_int_eq(store_put_asset(st, "USDC", 1, 0,
	    "2026-01-25T00:00:00Z", NULL), STORE_OK);
	ck_assert_int_eq(store_put_asset(st, "BAD", -1, 0,
	    "2026-01-25T00:00:00Z", NULL), STORE_CONSTRAINT);
	ck_assert_int_eq(store_put_asset(st, "BAD", NAN, 0,
	    "2026-01-25T00:00:00Z", NULL), STORE_CONSTRAINT);
	ck_assert_int_eq(store_put_asset(st, "TOOLONGSYMBOL12345", 1, 0,
	    "2026-01-25T00:00:00Z", NULL), STORE_CONSTRAINT);
	market_data_init(&md);
	ck_assert_int_eq(store_load(st, &md), STORE_OK);
	ck_assert_uint_eq(md.nassets, 2);
	ck_assert_str_eq(md.assets[0].symbol, "ETH");	/* sorted */
	a = asset_of(&md, "ETH");
	ck_assert_double_eq(a->price, 3000);
	ck_assert_double_eq(a->vol, 0.8);
	ck_assert_str_eq(a->updated_at, "2026-01-25T00:00:00Z");
	market_data_release(&md);
	ck_assert_int_eq(store_delete_asset(st, "USDC"), STORE_OK);
	ck_assert_int_eq(store_delete_asset(st, "USDC"), STORE_NOT_FOUND);
}
END_TEST

START_TEST(curves_round_trip_and_replace)
{
	static const double b1[] = { 10, 50, 200 }, q1[] = { 5, 20, 100 };
	static const double b2[] = { 20, 100 }, q2[] = { 1, 2 };
	static const double b3[] = { 5 }, q3[] = { 7 };
	struct md_curve both[2], one;
	struct market_data md;
	const struct md_asset *a;
	int created = -1;

	ck_assert_int_eq(store_put_asset(st, "ETH", 2950, 0.7,
	    "2026-01-24T00:00:00Z", NULL), STORE_OK);
	both[0] = mkcurve("uni", LC_BID, b1, q1, 3);
	both[1] = mkcurve("uni", LC_ASK, b2, q2, 2);
	ck_assert_int_eq(store_put_curves(st, "NOPE", both, 2, NULL),
	    STORE_NOT_FOUND);
	ck_assert_int_eq(store_put_curves(st, "ETH", both, 2, &created),
	    STORE_OK);
	ck_assert_int_eq(created, 1);
	one = mkcurve("uni", LC_BID, b3, q3, 1);
	ck_assert_int_eq(store_put_curves(st, "ETH", &one, 1, &created),
	    STORE_OK);
	ck_assert_int_eq(created, 0);
	one = mkcurve("cex", LC_BID, b2, q2, 2);
	ck_assert_int_eq(store_put_curves(st, "ETH", &one, 1, &created),
	    STORE_OK);
	ck_assert_int_eq(created, 1);
	market_data_init(&md);
	ck_assert_int_eq(store_load(st, &md), STORE_OK);
	a = asset_of(&md, "ETH");
	ck_assert_uint_eq(a->ncurves, 3);
	/* by venue, then side */
	ck_assert_str_eq(a->curves[0].venue, "cex");
	ck_assert_str_eq(a->curves[1].venue, "uni");
	ck_assert_int_eq(a->curves[1].side, LC_BID);
	ck_assert_uint_eq(a->curves[1].curve.n, 1);
	ck_assert_double_eq(a->curves[1].curve.qty[0], 7);
	ck_assert_int_eq(a->curves[2].side, LC_ASK);
	ck_assert_uint_eq(a->curves[2].curve.n, 2);
	ck_assert_double_eq(a->curves[2].curve.bps[1], 100);
	ck_assert_str_eq(a->curves[2].as_of, "2026-01-24T00:00:00Z");
	market_data_release(&md);
	ck_assert_int_eq(store_delete_venue(st, "ETH", "uni"), STORE_OK);
	ck_assert_int_eq(store_delete_venue(st, "ETH", "uni"),
	    STORE_NOT_FOUND);
	market_data_init(&md);
	ck_assert_int_eq(store_load(st, &md), STORE_OK);
	ck_assert_uint_eq(asset_of(&md, "ETH")->ncurves, 1);
	market_data_release(&md);
}
END_TEST

START_TEST(levels_round_trip)
{
	struct md_level lv[3], more[1];
	struct market_data md;
	const struct md_asset *a;

	ck_assert_int_eq(store_put_asset(st, "ETH", 2950, 0.7,
	    "2026-01-24T00:00:00Z", NULL), STORE_OK);
	lv[0] = mklevel(2800, 10, LC_DOWN);
	lv[1] = mklevel(2700, 20, LC_DOWN);
	lv[2] = mklevel(3100, 5, LC_UP);
	ck_assert_int_eq(store_replace_levels(st, "NOPE", lv, 3),
	    STORE_NOT_FOUND);
	ck_assert_int_eq(store_replace_levels(st, "ETH", lv, 3), STORE_OK);
	more[0] = mklevel(2800, 1, LC_DOWN);
	ck_assert_int_eq(store_append_levels(st, "ETH", more, 1), STORE_OK);
	market_data_init(&md);
	ck_assert_int_eq(store_load(st, &md), STORE_OK);
	a = asset_of(&md, "ETH");
	ck_assert_uint_eq(a->nlevels, 0);	/* loaded in the packed form */
	ck_assert_uint_eq(a->npacked, 4);
	ck_assert_double_eq(a->packed[0].price, 2800);
	ck_assert_double_eq(a->packed[3].qty, 1);
	ck_assert_int_eq(a->packed[2].side, LC_UP);
	ck_assert_int_lt(a->packed[0].seq, a->packed[3].seq);
	ck_assert_uint_lt(a->packed[1].batch, a->nbatches);
	ck_assert_str_eq(a->batches[a->packed[1].batch].source, "test");
	market_data_release(&md);
	ck_assert_int_eq(store_replace_levels(st, "ETH", more, 1), STORE_OK);
	market_data_init(&md);
	ck_assert_int_eq(store_load(st, &md), STORE_OK);
	ck_assert_uint_eq(asset_of(&md, "ETH")->npacked, 1);
	market_data_release(&md);
	/* replace with nothing clears */
	ck_assert_int_eq(store_replace_levels(st, "ETH", NULL, 0), STORE_OK);
}
END_TEST

/* One asset's reload: its rows, every correlation, batches interned. */
START_TEST(load_one_asset)
{
	struct md_level lv[3];
	struct md_corr c;
	struct market_data md;
	const struct md_asset *a;
	int full = -1;

	ck_assert_int_eq(store_put_asset(st, "ETH", 2950, 0.7,
	    "2026-01-24T00:00:00Z", NULL), STORE_OK);
	ck_assert_int_eq(store_put_asset(st, "BTC", 90000, 0.5,
	    "2026-01-24T00:00:00Z", NULL), STORE_OK);
	lv[0] = mklevel(2800, 10, LC_DOWN);
	lv[1] = mklevel(2700, 20, LC_DOWN);
	ck_assert_int_eq(store_replace_levels(st, "ETH", lv, 2), STORE_OK);
	lv[2] = mklevel(3100, 5, LC_UP);
	snprintf(lv[2].source, sizeof(lv[2].source), "other");
	ck_assert_int_eq(store_append_levels(st, "ETH", &lv[2], 1), STORE_OK);
	ck_assert_int_eq(store_append_levels(st, "BTC", lv, 1), STORE_OK);
	memset(&c, 0, sizeof(c));
	snprintf(c.a, sizeof(c.a), "BTC");
	snprintf(c.b, sizeof(c.b), "ETH");
	c.rho = 0.5;
	ck_assert_int_eq(store_put_correlations(st, &c, 1, 1), STORE_OK);
	market_data_init(&md);
	ck_assert_int_eq(store_load_asset(st, "ETH", 0, &md, &full), STORE_OK);
	ck_assert_int_eq(full, 0);
	ck_assert_uint_eq(md.nassets, 1);
	a = &md.assets[0];
	ck_assert_str_eq(a->symbol, "ETH");
	ck_assert_uint_eq(a->npacked, 3);
	ck_assert_uint_eq(a->nbatches, 2);
	ck_assert_uint_eq(a->packed[0].batch, 0);
	ck_assert_uint_eq(a->packed[1].batch, 0);
	ck_assert_uint_eq(a->packed[2].batch, 1);
	ck_assert_str_eq(a->batches[0].source, "test");
	ck_assert_str_eq(a->batches[1].source, "other");
	ck_assert_str_eq(a->batches[1].as_of, "2022-10-10T13:55:44Z");
	ck_assert_uint_eq(md.ncorr, 1);
	/* only the levels after a seq, or none */
	ck_assert_int_eq(store_load_asset(st, "ETH", a->packed[1].seq, &md,
	    &full), STORE_OK);
	ck_assert_uint_eq(md.assets[0].npacked, 1);
	ck_assert_double_eq(md.assets[0].packed[0].price, 3100);
	ck_assert_int_eq(store_load_asset(st, "ETH", STORE_NO_LEVELS, &md,
	    &full), STORE_OK);
	ck_assert_uint_eq(md.nassets, 1);
	ck_assert_uint_eq(md.assets[0].npacked, 0);
	ck_assert_int_eq(store_load_asset(st, "NOPE", 0, &md, &full), STORE_OK);
	ck_assert_uint_eq(md.nassets, 0);
	ck_assert_uint_eq(md.ncorr, 1);
	ck_assert_int_eq(store_load_asset(st, NULL, 0, &md, &full), STORE_OK);
	ck_assert_uint_eq(md.nassets, 0);
	ck_assert_uint_eq(md.ncorr, 1);
	/* another connection's commit: the next load is a full one */
	{
		sqlite3 *h;

		ck_assert_int_eq(sqlite3_open(db, &h), SQLITE_OK);
		ck_assert_int_eq(sqlite3_exec(h, "UPDATE assets SET "
		    "price = 3000 WHERE symbol = 'BTC'", NULL, NULL, NULL),
		    SQLITE_OK);
		sqlite3_close(h);
	}
	ck_assert_int_eq(store_load_asset(st, "ETH", 0, &md, &full), STORE_OK);
	ck_assert_int_eq(full, 1);
	ck_assert_uint_eq(md.nassets, 2);
	ck_assert_double_eq(asset_of(&md, "BTC")->price, 3000);
	ck_assert_int_eq(store_load_asset(st, "ETH", 0, &md, &full), STORE_OK);
	ck_assert_int_eq(full, 0);
	ck_assert_uint_eq(md.nassets, 1);
	/* a caller that could not publish asks for a full load */
	store_want_full_load(st);
	ck_assert_int_eq(store_load_asset(st, "ETH", 0, &md, &full), STORE_OK);
	ck_assert_int_eq(full, 1);
	ck_assert_uint_eq(md.nassets, 2);
	market_data_release(&md);
}
END_TEST

START_TEST(correlations_round_trip)
{
	struct md_corr c[2];
	struct market_data md;

	ck_assert_int_eq(store_put_asset(st, "ETH", 2950, 0.7, "t", NULL),
	    STORE_OK);
	ck_assert_int_eq(store_put_asset(st, "BTC", 90000, 0.5, "t", NULL),
	    STORE_OK);
	ck_assert_int_eq(store_put_asset(st, "LINK", 20, 0.9, "t", NULL),
	    STORE_OK);
	memset(c, 0, sizeof(c));
	snprintf(c[0].a, sizeof(c[0].a), "ETH");
	snprintf(c[0].b, sizeof(c[0].b), "BTC");
	c[0].rho = 0.8;
	snprintf(c[1].a, sizeof(c[1].a), "LINK");
	snprintf(c[1].b, sizeof(c[1].b), "ETH");
	c[1].rho = 0.6;
	ck_assert_int_eq(store_put_correlations(st, c, 2, 1), STORE_OK);
	c[0].rho = 0.85;
	ck_assert_int_eq(store_put_correlations(st, c, 1, 0), STORE_OK);
	market_data_init(&md);
	ck_assert_int_eq(store_load(st, &md), STORE_OK);
	ck_assert_uint_eq(md.ncorr, 2);
	ck_assert_str_eq(md.corr[0].a, "BTC");	/* normalised a < b */
	ck_assert_str_eq(md.corr[0].b, "ETH");
	ck_assert_double_eq(md.corr[0].rho, 0.85);
	ck_assert_str_eq(md.corr[1].a, "ETH");
	ck_assert_str_eq(md.corr[1].b, "LINK");
	market_data_release(&md);
	/* self pair, out of range, unknown asset */
	snprintf(c[0].b, sizeof(c[0].b), "ETH");
	ck_assert_int_eq(store_put_correlations(st, c, 1, 0),
	    STORE_CONSTRAINT);
	snprintf(c[0].b, sizeof(c[0].b), "BTC");
	c[0].rho = 1.5;
	ck_assert_int_eq(store_put_correlations(st, c, 1, 0),
	    STORE_CONSTRAINT);
	c[0].rho = 0.1;
	snprintf(c[0].b, sizeof(c[0].b), "DOGE");
	ck_assert_int_eq(store_put_correlations(st, c, 1, 0),
	    STORE_NOT_FOUND);
	/* replace with one pair */
	snprintf(c[0].b, sizeof(c[0].b), "BTC");
	ck_assert_int_eq(store_put_correlations(st, c, 1, 1), STORE_OK);
	market_data_init(&md);
	ck_assert_int_eq(store_load(st, &md), STORE_OK);
	ck_assert_uint_eq(md.ncorr, 1);
	ck_assert_double_eq(md.corr[0].rho, 0.1);
	market_data_release(&md);
}
END_TEST

START_TEST(delete_asset_cascades)
{
	static const double b[] = { 10 }, q[] = { 5 };
	struct md_curve c = mkcurve("uni", LC_BID, b, q, 1);
	struct md_level l = mklevel(2800, 1, LC_DOWN);
	struct md_corr r;
	struct market_data md;

	ck_assert_int_eq(store_put_asset(st, "ETH", 2950, 0.7, "t", NULL),
	    STORE_OK);
	ck_assert_int_eq(store_put_asset(st, "BTC", 90000, 0.5, "t", NULL),
	    STORE_OK);
	ck_assert_int_eq(store_put_curves(st, "ETH", &c, 1, NULL), STORE_OK);
	ck_assert_int_eq(store_append_levels(st, "ETH", &l, 1), STORE_OK);
	memset(&r, 0, sizeof(r));
	snprintf(r.a, sizeof(r.a), "ETH");
	snprintf(r.b, sizeof(r.b), "BTC");
	r.rho = 0.5;
	ck_assert_int_eq(store_put_correlations(st, &r, 1, 0), STORE_OK);
	ck_assert_int_eq(store_delete_asset(st, "ETH"), STORE_OK);
	store_close(st);
	st = NULL;
	ck_assert_int_eq(pragma_int(db, "SELECT (SELECT count(*) FROM "
	    "depth_curves) + (SELECT count(*) FROM depth_points) + "
	    "(SELECT count(*) FROM liquidation_levels) + "
	    "(SELECT count(*) FROM correlations)"), 0);
	{
		char *err = NULL;

		st = store_open(db, &err);
		ck_assert_ptr_nonnull(st);
	}
	market_data_init(&md);
	ck_assert_int_eq(store_load(st, &md), STORE_OK);
	ck_assert_uint_eq(md.nassets, 1);
	market_data_release(&md);
}
END_TEST

/* --- atomicity ------------------------------------------------------- */

START_TEST(failed_level_replace_keeps_old)
{
	struct md_level old[2], bad[3];
	struct market_data md;
	const struct md_asset *a;

	ck_assert_int_eq(store_put_asset(st, "ETH", 2950, 0.7, "t", NULL),
	    STORE_OK);
	old[0] = mklevel(2800, 10, LC_DOWN);
	old[1] = mklevel(2700, 20, LC_DOWN);
	ck_assert_int_eq(store_replace_levels(st, "ETH", old, 2), STORE_OK);
	bad[0] = mklevel(2600, 1, LC_DOWN);
	bad[1] = mklevel(2500, 2, LC_DOWN);
	bad[2] = mklevel(2400, -3, LC_DOWN);	/* breaks qty > 0 */
	ck_assert_int_eq(store_replace_levels(st, "ETH", bad, 3),
	    STORE_CONSTRAINT);
	bad[2] = mklevel(NAN, 3, LC_DOWN);
	ck_assert_int_eq(store_append_levels(st, "ETH", bad, 3),
	    STORE_CONSTRAINT);
	market_data_init(&md);
	ck_assert_int_eq(store_load(st, &md), STORE_OK);
	a = asset_of(&md, "ETH");
	ck_assert_uint_eq(a->npacked, 2);
	ck_assert_double_eq(a->packed[0].price, 2800);
	ck_assert_double_eq(a->packed[1].price, 2700);
	market_data_release(&md);
	/* the store still works after the rollbacks */
	ck_assert_int_eq(store_append_levels(st, "ETH", bad, 2), STORE_OK);
}
END_TEST

START_TEST(failed_curve_replace_keeps_old)
{
	static const double b1[] = { 10, 50 }, q1[] = { 5, 20 };
	static const double b2[] = { 20, 100 }, q2[] = { 1, 2 };
	static const double bb[] = { 30, NAN }, qb[] = { 1, 2 };
	struct md_curve both[2];
	struct market_data md;
	const struct md_asset *a;

	ck_assert_int_eq(store_put_asset(st, "ETH", 2950, 0.7, "t", NULL),
	    STORE_OK);
	both[0] = mkcurve("uni", LC_BID, b1, q1, 2);
	both[1] = mkcurve("uni", LC_ASK, b2, q2, 2);
	ck_assert_int_eq(store_put_curves(st, "ETH", both, 2, NULL), STORE_OK);
	/* the bid side is fine, the ask side fails: neither is applied */
	both[0] = mkcurve("uni", LC_BID, b2, q2, 2);
	both[1] = mkcurve("uni", LC_ASK, bb, qb, 2);
	ck_assert_int_eq(store_put_curves(st, "ETH", both, 2, NULL),
	    STORE_CONSTRAINT);
	market_data_init(&md);
	ck_assert_int_eq(store_load(st, &md), STORE_OK);
	a = asset_of(&md, "ETH");
	ck_assert_uint_eq(a->ncurves, 2);
	ck_assert_double_eq(a->curves[0].curve.bps[0], 10);
	ck_assert_double_eq(a->curves[1].curve.bps[0], 20);
	market_data_release(&md);
}
END_TEST

START_TEST(status_mapping)
{
	ck_assert_int_eq(store_status_http(STORE_OK), 200);
	ck_assert_int_eq(store_status_http(STORE_NOT_FOUND), 404);
	ck_assert_int_eq(store_status_http(STORE_CONSTRAINT), 422);
	ck_assert_int_eq(store_status_http(STORE_BUSY), 503);
	ck_assert_int_eq(store_status_http(STORE_READONLY), 503);
	ck_assert_int_eq(store_status_http(STORE_IO), 503);
	ck_assert_int_eq(store_status_http(STORE_ERROR), 500);
	ck_assert_ptr_nonnull(store_status_str(STORE_TOO_NEW));
	ck_assert_int_eq(store_put_asset(NULL, "ETH", 1, 0, "t", NULL),
	    STORE_IO);
}
END_TEST

/* --- seed ------------------------------------------------------------ */

START_TEST(seed_is_idempotent)
{
	struct seed_stats s1, s2;
	struct market_data md;
	char err[256];
	const struct md_asset *eth;
	size_t i, bid = 0, ask = 0;

	ck_assert_msg(seed_apply(st, (const char *)embed_seed.data,
	    embed_seed.len, &s1, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(seed_apply(st, (const char *)embed_seed.data,
	    embed_seed.len, &s2, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(s1.assets, s2.assets);
	market_data_init(&md);
	ck_assert_int_eq(store_load(st, &md), STORE_OK);
	ck_assert_uint_eq(md.nassets, s1.assets);
	ck_assert_uint_ge(md.nassets, 3);
	eth = asset_of(&md, "ETH");
	asset_of(&md, "BTC");
	ck_assert_double_eq(asset_of(&md, "USDC")->vol, 0);
	ck_assert_double_gt(eth->price, 0);
	ck_assert_double_gt(eth->vol, 0);
	for (i = 0; i < eth->ncurves; i++) {
		if (eth->curves[i].side == LC_BID)
			bid++;
		else
			ask++;
	}
	ck_assert_uint_ge(bid, 1);
	ck_assert_uint_ge(ask, 1);
	ck_assert_uint_gt(eth->npacked, 0);
	ck_assert_uint_eq(md.ncorr, s1.pairs);
	{
		size_t total = 0;

		for (i = 0; i < md.nassets; i++)
			total += md.assets[i].npacked;
		ck_assert_uint_eq(total, s1.levels);	/* replaced, not doubled */
	}
	market_data_release(&md);
	ck_assert_int_ne(seed_apply(st, "[1]", 3, &s1, err, sizeof(err)), 0);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *tc;

	tc = tcase_create("migrations");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fresh_db_is_migrated);
	tcase_add_test(tc, wal_mode);
	tcase_add_test(tc, reopen_is_idempotent);
	tcase_add_test(tc, newer_db_refused);
	tcase_add_test(tc, unopenable_path);
	tcase_add_test(tc, embedded_migrations_in_order);
	suite_add_tcase(s, tc);
	tc = tcase_create("round_trips");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, asset_round_trip);
	tcase_add_test(tc, curves_round_trip_and_replace);
	tcase_add_test(tc, levels_round_trip);
	tcase_add_test(tc, load_one_asset);
	tcase_add_test(tc, correlations_round_trip);
	tcase_add_test(tc, delete_asset_cascades);
	tcase_add_test(tc, status_mapping);
	suite_add_tcase(s, tc);
	tc = tcase_create("atomicity");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, failed_level_replace_keeps_old);
	tcase_add_test(tc, failed_curve_replace_keeps_old);
	suite_add_tcase(s, tc);
	tc = tcase_create("seed");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, seed_is_idempotent);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

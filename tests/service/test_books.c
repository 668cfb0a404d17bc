/*
 * test_books.c - books (docs/model.md section 8) through the use-case
 * layer in-process (api.h) on a database file: the derived levels a
 * one-position book puts in the market are that position's ladder; a
 * score against a book of single-asset positions equals the score of the
 * same positions sent in the request; `book` leaves the own copy out;
 * a bad position stores nothing; every 422 with its pointer; the 404s; a
 * price write re-derives a coupled loan; the risk answer is
 * lc_book_risk's; a restart loads the book back.  A few HTTP calls go
 * through the real server (auth of the writes).
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "api.h"
#include "app_fixture.h"
#include "cascade/book.h"
#include "cascade/cascade.h"
#include "config.h"
#include "rfc3339.h"
#include "snapshot.h"
#include "store.h"
#include "store_fixture.h"
#include "testlib.h"

static char *dir;
static char db[512];
static struct config cfg;
static struct app app;

static void
open_app(void)
{
	char *err = NULL;

	ck_assert_msg(app_fixture_open(&app, &cfg, db, &err) == 0,
	    "app_fixture_open: %s", err);
}

static void
close_app(void)
{
	app_fixture_close(&app);
}

static void
setup(void)
{
	char *err = NULL;

	ck_assert_msg(app_fixture_setup(&app, &cfg, &dir, db, sizeof(db),
	    "books.db", &err) == 0, "fixture: %s", err);
}

static void
teardown(void)
{
	app_fixture_teardown(&app, &cfg, &dir);
}

/* A call that must answer `status`; the body (or problem) returned. */
#define BK_CALL(want, expr)                                              \
	do {                                                            \
		struct api_answer a_;                                   \
		char *t_;                                               \
		api_answer_init(&a_);                                   \
		expr;                                                   \
		t_ = api_answer_text(&a_);                              \
		ck_assert_msg(a_.status == (want), "%s: %d %s", #expr, \
		    a_.status, t_ != NULL ? t_ : "");                   \
		free(last);                                             \
		last = t_;                                              \
		api_answer_release(&a_);                                \
	} while (0)

static char *last;
static char *many(size_t n, size_t first, double debt0);

static void
put_asset(const char *sym, double price, double vol)
{
	struct api_answer a;
	char b[128];
	int st;

	snprintf(b, sizeof(b), "{\"price\": %.17g, \"volatility\": %.17g}",
	    price, vol);
	api_answer_init(&a);
	st = api_put_asset(&app, sym, b, strlen(b), &a);
	ck_assert_msg(st == 200 || st == 201, "put asset %s: %d", sym, st);
	api_answer_release(&a);
}

static void
market(void)
{
	static const char bid[] = "{\"side\": \"bid\", \"points\": "
	    "[[100, 40], [500, 150], [2000, 500]]}";
	static const char ask[] = "{\"side\": \"ask\", \"points\": "
	    "[[100, 40], [500, 150], [2000, 500]]}";

	put_asset("ETH", 2000, 0.8);
	put_asset("BTC", 50000, 0.6);
	BK_CALL(201, api_put_depth(&app, "ETH", "main", bid, sizeof(bid) - 1,
	    &a_));
	BK_CALL(200, api_put_depth(&app, "ETH", "main", ask, sizeof(ask) - 1,
	    &a_));
}

static cJSON *
parse_last(void)
{
	cJSON *j = cJSON_Parse(last);

	ck_assert_ptr_nonnull(j);
	return j;
}

/* A single-asset ETH loan: amount ETH against debt USD. */
static void
loan(char *out, size_t cap, const char *id, double eth, double usd)
{
	snprintf(out, cap, "{\"id\": \"%s\", \"type\": \"loan\", "
	    "\"collateral\": [{\"asset\": \"ETH\", \"amount\": %.17g, "
	    "\"liquidation_threshold\": 0.8}], \"debt\": [{\"asset\": "
	    "\"USD\", \"amount\": %.17g}]}", id, eth, usd);
}

static void
put_book(const char *name, const char *const *pos, size_t n, int status)
{
	size_t len = 64, i;
	char *b, *p;

	for (i = 0; i < n; i++)
		len += strlen(pos[i]) + 2;
	b = malloc(len);
	ck_assert_ptr_nonnull(b);
	p = b + sprintf(b, "{\"positions\": [");
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i > 0 ? "," : "", pos[i]);
	sprintf(p, "]}");
	BK_CALL(status, api_put_book(&app, name, b, strlen(b), 0, &a_));
	free(b);
}

static struct snapshot *
snap(void)
{
	struct snapshot *s = snapshot_cell_get(app.cell);

	ck_assert_ptr_nonnull(s);
	return s;
}

static int
close_rel(double a, double b, double tol)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return fabs(a - b) <= tol * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* ---- derived levels ---------------------------------------------------- */

/* A one-position book shows exactly that loan's ladder as ETH sells. */
START_TEST(one_position_levels_are_its_ladder)
{
	char p[512];
	const char *pos[1] = { p };
	struct lc_entry coll = { 0, 10, 0.8 }, debt = { 0, 15000, 0 };
	struct lc_loan l;
	struct lc_ladder lad;
	struct snapshot *s;
	double price[8], vol[8];
	long eth, usd;
	size_t k, i, n = 0;

	market();
	loan(p, sizeof(p), "a", 10, 15000);
	put_book("one", pos, 1, 201);
	s = snap();
	eth = snapshot_find(s, "ETH");
	usd = snapshot_find(s, "USD");
	ck_assert(eth >= 0 && usd >= 0 && s->nassets <= 8);
	for (i = 0; i < s->nassets; i++) {
		price[i] = s->assets[i].price;
		vol[i] = s->assets[i].vol;
	}
	coll.asset = (uint32_t)eth;
	debt.asset = (uint32_t)usd;
	memset(&l, 0, sizeof(l));
	l.protocol = LC_AAVE_V3;
	l.coll = &coll;
	l.ncoll = 1;
	l.debt = &debt;
	l.ndebt = 1;
	l.bonus = NAN;
	l.close_factor = NAN;
	l.full_liq_below = 2000;
	ck_assert_int_eq(lc_loan_ladder(&l, price, vol, &lad), LC_OK);
	ck_assert_uint_gt(lad.n, 1);
	for (k = 0; k < lad.n; k++)
		if (!lc_level_is_stale(LC_DOWN, lad.price[k], price[eth]))
			n++;
	ck_assert_uint_eq(s->lc_assets[eth].levels[LC_DOWN].n, n);
	ck_assert_uint_eq(s->lc_assets[eth].levels[LC_UP].n, 0);
	for (k = 0, i = 0; k < lad.n; k++) {
		if (lc_level_is_stale(LC_DOWN, lad.price[k], price[eth]))
			continue;
		ck_assert(close_rel(s->lc_assets[eth].levels[LC_DOWN].price[i],
		    lad.price[k], 1e-12));
		ck_assert(close_rel(s->lc_assets[eth].levels[LC_DOWN].qty[i],
		    lad.qty[k], 1e-12));
		i++;
	}
	/* the liquidation map's source of each level is the book */
	ck_assert_uint_eq(s->assets[eth].nsources, 1);
	ck_assert_str_eq(s->assets[eth].sources[0], "book:one");
	ck_assert_ptr_nonnull(s->assets[eth].levels[LC_DOWN].src);
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(s->assets[eth].levels[LC_DOWN].src[i], 0);
	/* the prebuilt cascade is the one of the merged arrays */
	ck_assert(lc_cascade_base_fits(s->lc_assets[eth].base[LC_DOWN], LC_DOWN,
	    &s->lc_assets[eth].curve[LC_BID], 1.0,
	    s->lc_assets[eth].levels[LC_DOWN].price, n, price[eth]));
	snapshot_unref(s);
	/* the market view counts them */
	BK_CALL(200, api_get_market(&app, "ETH", NULL, &a_));
	{
		cJSON *j = parse_last();
		cJSON *sell = cJSON_GetObjectItem(cJSON_GetObjectItem(j,
		    "levels"), "sell");

		ck_assert_int_eq(cJSON_GetObjectItem(sell, "count")->valueint,
		    (int)n);
		cJSON_Delete(j);
	}
	/* deleting the book takes them out */
	BK_CALL(200, api_delete_book(&app, "one", &a_));
	s = snap();
	ck_assert_uint_eq(s->lc_assets[eth].levels[LC_DOWN].n, 0);
	snapshot_unref(s);
	BK_CALL(404, api_delete_book(&app, "one", &a_));
}
END_TEST

/* The numbers of answer position 0 and market 0 (down) of two answers. */
static void
same_numbers(const char *x, const char *y, double tol)
{
	static const char *const pk[] = { "p_liquidation",
		"p_liquidation_static", "expected_slippage_bps",
		"expected_slippage_quote", NULL };
	static const char *const mk[] = { "cascade_probability",
		"cascade_trigger_price", "liquidation_qty_to_10pct", NULL };
	cJSON *a = cJSON_Parse(x), *b = cJSON_Parse(y), *pa, *pb, *ma, *mb;
	size_t k;

	ck_assert(a != NULL && b != NULL);
	pa = cJSON_GetArrayItem(cJSON_GetObjectItem(a, "positions"), 0);
	pb = cJSON_GetArrayItem(cJSON_GetObjectItem(b, "positions"), 0);
	for (k = 0; pk[k] != NULL; k++) {
		cJSON *u = cJSON_GetObjectItem(pa, pk[k]);
		cJSON *v = cJSON_GetObjectItem(pb, pk[k]);

		ck_assert_msg(u != NULL && v != NULL, "%s missing", pk[k]);
		ck_assert_msg(close_rel(u->valuedouble, v->valuedouble, tol),
		    "%s: %.17g vs %.17g", pk[k], u->valuedouble,
		    v->valuedouble);
	}
	ck_assert(close_rel(cJSON_GetObjectItem(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(pa, "liquidation_prices"), 0),
	    "effective_price")->valuedouble, cJSON_GetObjectItem(
	    cJSON_GetArrayItem(cJSON_GetObjectItem(pb, "liquidation_prices"),
	    0), "effective_price")->valuedouble, tol));
	ma = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(a,
	    "markets"), 0), "down");
	mb = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(b,
	    "markets"), 0), "down");
	for (k = 0; mk[k] != NULL; k++)
		ck_assert_msg(close_rel(cJSON_GetObjectItem(ma, mk[k])->
		    valuedouble, cJSON_GetObjectItem(mb, mk[k])->valuedouble,
		    tol), "%s", mk[k]);
	cJSON_Delete(a);
	cJSON_Delete(b);
}

/*
 * A probe scored against a book of single-asset positions equals the
 * probe scored with those positions in the request (no book), and the
 * probe's `book` field leaves its own copy out: the same as a book
 * without it.
 */
START_TEST(book_levels_equal_request_positions)
{
	char p[4][512], body[4096], *withbook, *inreq;
	const char *pos[4] = { p[0], p[1], p[2], p[3] };
	const char *probe = "{\"id\": \"probe\", \"type\": \"perp\", "
	    "\"asset\": \"ETH\", \"side\": \"long\", \"size\": 3, "
	    "\"entry_price\": 2000, \"leverage\": 6}";

	market();
	loan(p[0], sizeof(p[0]), "l1", 10, 13000);
	loan(p[1], sizeof(p[1]), "l2", 25, 31111);
	snprintf(p[2], sizeof(p[2]), "{\"id\": \"f1\", \"type\": \"perp\", "
	    "\"asset\": \"ETH\", \"side\": \"long\", \"size\": 7, "
	    "\"entry_price\": 2050, \"leverage\": 8}");
	snprintf(p[3], sizeof(p[3]), "{\"id\": \"f2\", \"type\": \"perp\", "
	    "\"asset\": \"ETH\", \"side\": \"long\", \"size\": 4, "
	    "\"entry_price\": 1990, \"leverage\": 4}");
	put_book("b", pos, 4, 201);
	snprintf(body, sizeof(body), "{\"positions\": [%s]}", probe);
	BK_CALL(200, api_score(&app, body, strlen(body), NULL, &a_));
	withbook = strdup(last);
	BK_CALL(200, api_delete_book(&app, "b", &a_));
	snprintf(body, sizeof(body), "{\"positions\": [%s, %s, %s, %s, %s]}",
	    probe, p[0], p[1], p[2], p[3]);
	BK_CALL(200, api_score(&app, body, strlen(body), NULL, &a_));
	inreq = strdup(last);
	same_numbers(withbook, inreq, 1e-12);
	free(withbook);
	free(inreq);

	/* own copy: the probe in the book, named, = the book without it */
	{
		const char *pos5[5] = { p[0], p[1], p[2], p[3], probe };
		char named[1024], *a1, *a2, *x;

		put_book("b", pos5, 5, 201);
		snprintf(named, sizeof(named), "%.*s, \"book\": \"b\"}",
		    (int)strlen(probe) - 1, probe);
		snprintf(body, sizeof(body), "{\"positions\": [%s]}", named);
		BK_CALL(200, api_score(&app, body, strlen(body), NULL, &a_));
		a1 = strdup(last);
		put_book("b", pos, 4, 200);
		snprintf(body, sizeof(body), "{\"positions\": [%s]}", probe);
		BK_CALL(200, api_score(&app, body, strlen(body), NULL, &a_));
		a2 = strdup(last);
		/* equal but for the time of the answer */
		x = strstr(a1, "\"horizon_days\"");
		ck_assert_str_eq(x, strstr(a2, "\"horizon_days\""));
		free(a1);
		free(a2);
		snprintf(body, sizeof(body), "{\"positions\": [%s]}", named);
		BK_CALL(422, api_score(&app, body, strlen(body), NULL, &a_));
		ck_assert_ptr_nonnull(strstr(last, "/positions/0/book"));
	}
}
END_TEST

/* ---- writes ------------------------------------------------------------ */

START_TEST(bad_writes_store_nothing)
{
	size_t n = 1000, i, len = 0;
	char *b, *q, one[512];

	market();
	b = malloc(n * 300 + 64);
	ck_assert_ptr_nonnull(b);
	q = b + sprintf(b, "{\"positions\": [");
	for (i = 0; i < n; i++) {
		char id[16];

		snprintf(id, sizeof(id), "p%zu", i);
		loan(one, sizeof(one), id, 10, 10000 + (double)i);
		if (i == 500)
			snprintf(one, sizeof(one), "{\"id\": \"p500\", "
			    "\"type\": \"loan\", \"collateral\": [{\"asset\": "
			    "\"DOGE\", \"amount\": 1, \"liquidation_threshold\":"
			    " 0.5}], \"debt\": [{\"asset\": \"USD\", "
			    "\"amount\": 1}]}");
		q += sprintf(q, "%s%s", i > 0 ? "," : "", one);
	}
	sprintf(q, "]}");
	len = strlen(b);
	BK_CALL(422, api_put_book(&app, "big", b, len, 0, &a_));
	ck_assert_ptr_nonnull(strstr(last,
	    "\"/positions/500/collateral/0/asset\""));
	BK_CALL(404, api_get_book(&app, "big", &a_));
	BK_CALL(200, api_get_books(&app, &a_));
	ck_assert_ptr_nonnull(strstr(last, "\"books\":[]"));
	free(b);

	/* the other 422s, each with its pointer */
	BK_CALL(422, api_put_book(&app, "Big", "{\"positions\": []}", 17, 0,
	    &a_));
	ck_assert_ptr_nonnull(strstr(last, "\"/path/book\""));
	b = malloc(2048);
	loan(one, sizeof(one), "x", 1, 100);
	snprintf(b, 2048, "{\"positions\": [%s, %s]}", one, one);
	BK_CALL(422, api_put_book(&app, "d", b, strlen(b), 0, &a_));
	ck_assert_ptr_nonnull(strstr(last, "\"/positions/1/id\""));
	snprintf(b, 2048, "{\"positions\": [{\"id\": \"z\", \"type\": "
	    "\"perp\", \"asset\": \"ETH\", \"side\": \"long\", \"size\": -1, "
	    "\"entry_price\": 1, \"leverage\": 2, \"book\": \"d\"}]}");
	BK_CALL(422, api_put_book(&app, "d", b, strlen(b), 0, &a_));
	ck_assert_ptr_nonnull(strstr(last, "\"/positions/0/size\""));
	ck_assert_ptr_nonnull(strstr(last, "\"/positions/0/book\""));
	BK_CALL(422, api_put_book(&app, "d", "{\"positions\": [], \"x\": 1}",
	    25, 0, &a_));
	ck_assert_ptr_nonnull(strstr(last, "\"/x\""));
	/* 404s: upsert into, delete from, read a book that is not there */
	snprintf(b, 2048, "{\"positions\": [%s]}", one);
	BK_CALL(404, api_put_book(&app, "d", b, strlen(b), 1, &a_));
	BK_CALL(404, api_delete_book_position(&app, "d", "x", &a_));
	BK_CALL(404, api_get_book_risk(&app, "d", NULL, 0, &a_));
	BK_CALL(404, api_get_book_positions(&app, "d", NULL, 0, &a_));
	BK_CALL(201, api_put_book(&app, "d", b, strlen(b), 0, &a_));
	BK_CALL(404, api_delete_book_position(&app, "d", "nope", &a_));
	{
		struct api_param q1[] = { { "asset", "DOGE" } };
		struct api_param q2[] = { { "asset", "ETH" },
			{ "step", "0.0001" } };
		struct api_param q3[] = { { "asset", "ETH" },
			{ "limit", "2000" } };

		BK_CALL(404, api_get_book_risk(&app, "d", q1, 1, &a_));
		BK_CALL(422, api_get_book_risk(&app, "d", q2, 2, &a_));
		ck_assert_ptr_nonnull(strstr(last, "\"/query/step\""));
		BK_CALL(422, api_get_book_positions(&app, "d", q3 + 1, 1, &a_));
		ck_assert_ptr_nonnull(strstr(last, "\"/query/limit\""));
	}
	free(b);
}
END_TEST

/* Upsert keeps the other positions; delete one; restart loads it back. */
START_TEST(upsert_delete_restart)
{
	char p[3][512], b[2048];
	const char *pos[2] = { p[0], p[1] };
	struct snapshot *s;
	size_t n1, n2;
	long eth;

	market();
	loan(p[0], sizeof(p[0]), "a", 10, 13000);
	loan(p[1], sizeof(p[1]), "b", 5, 7000);
	put_book("u", pos, 2, 201);
	loan(p[2], sizeof(p[2]), "a", 10, 14000);	/* a, more debt */
	snprintf(b, sizeof(b), "{\"positions\": [%s], \"source\": \"t\"}",
	    p[2]);
	BK_CALL(200, api_put_book(&app, "u", b, strlen(b), 1, &a_));
	BK_CALL(200, api_get_book(&app, "u", &a_));
	ck_assert_ptr_nonnull(strstr(last, "\"positions\":2"));
	ck_assert_ptr_nonnull(strstr(last, "\"debt\":21000"));
	BK_CALL(200, api_delete_book_position(&app, "u", "b", &a_));
	BK_CALL(200, api_get_book(&app, "u", &a_));
	ck_assert_ptr_nonnull(strstr(last, "\"positions\":1"));
	BK_CALL(200, api_get_book(&app, "u", &a_));
	ck_assert_ptr_nonnull(strstr(last, "\"debt\":14000"));
	/*
	 * Many writes patch the cached levels in place; a restart derives
	 * them all afresh (lc_book_levels) from the store, same slots: the
	 * market's level arrays must be the same, bit for bit.
	 */
	{
		char *big = many(300, 0, 1000), *up;
		double *pr, *qt;

		BK_CALL(200, api_put_book(&app, "u", big, strlen(big), 1, &a_));
		free(big);
		up = many(120, 250, 1080);	/* 50 updates, 70 new */
		BK_CALL(200, api_put_book(&app, "u", up, strlen(up), 1, &a_));
		free(up);
		BK_CALL(200, api_delete_book_position(&app, "u", "p7", &a_));
		BK_CALL(200, api_delete_book_position(&app, "u", "p260", &a_));
		put_asset("BTC", 51000, 0.6);	/* a sync without ETH */
		s = snap();
		eth = snapshot_find(s, "ETH");
		n1 = s->lc_assets[eth].levels[LC_DOWN].n;
		ck_assert_uint_gt(n1, 300);
		pr = malloc(n1 * sizeof(double));
		qt = malloc(n1 * sizeof(double));
		memcpy(pr, s->lc_assets[eth].levels[LC_DOWN].price,
		    n1 * sizeof(double));
		memcpy(qt, s->lc_assets[eth].levels[LC_DOWN].qty,
		    n1 * sizeof(double));
		snapshot_unref(s);
		close_app();
		open_app();
		s = snap();
		n2 = s->lc_assets[eth].levels[LC_DOWN].n;
		ck_assert_uint_eq(n1, n2);
		ck_assert(memcmp(pr, s->lc_assets[eth].levels[LC_DOWN].price,
		    n1 * sizeof(double)) == 0);
		ck_assert(memcmp(qt, s->lc_assets[eth].levels[LC_DOWN].qty,
		    n1 * sizeof(double)) == 0);
		snapshot_unref(s);
		free(pr);
		free(qt);
	}
}
END_TEST

/* A BTC price write re-derives a loan with ETH and BTC collateral. */
START_TEST(price_write_rederives_coupled)
{
	static const char cl[] = "{\"id\": \"c\", \"type\": \"loan\", "
	    "\"collateral\": [{\"asset\": \"ETH\", \"amount\": 10, "
	    "\"liquidation_threshold\": 0.8}, {\"asset\": \"BTC\", \"amount\":"
	    " 0.5, \"liquidation_threshold\": 0.75}], \"debt\": [{\"asset\": "
	    "\"USD\", \"amount\": 30000}]}";
	const char *pos[1] = { cl };
	struct snapshot *s;
	double before;
	long eth;

	market();
	put_book("c", pos, 1, 201);
	s = snap();
	eth = snapshot_find(s, "ETH");
	ck_assert_uint_gt(s->lc_assets[eth].levels[LC_DOWN].n, 0);
	before = s->lc_assets[eth].levels[LC_DOWN].price[0];
	snapshot_unref(s);
	put_asset("BTC", 40000, 0.6);
	s = snap();
	/*
	 * HF = 1 at x: 10 * 0.8 x + 0.5 * 0.75 * P_BTC = 30000, so the
	 * first trigger in ETH moves by 0.375 * 10000 / 8 when BTC drops.
	 */
	ck_assert(close_rel(before, (30000 - 0.375 * 50000) / 8, 1e-12));
	ck_assert(close_rel(s->lc_assets[eth].levels[LC_DOWN].price[0],
	    (30000 - 0.375 * 40000) / 8, 1e-12));
	snapshot_unref(s);
}
END_TEST

/* ETH's merged sell levels of the published snapshot and their base. */
static void
eth_sells(const double **arr, const struct lc_cascade_base **base)
{
	struct snapshot *s = snap();
	long eth = snapshot_find(s, "ETH");

	ck_assert(eth >= 0);
	*arr = s->lc_assets[eth].levels[LC_DOWN].price;
	*base = s->lc_assets[eth].base[LC_DOWN];
	ck_assert_ptr_nonnull(*base);
	ck_assert(lc_cascade_base_fits(*base, LC_DOWN,
	    &s->lc_assets[eth].curve[LC_BID], 1.0, *arr,
	    s->lc_assets[eth].levels[LC_DOWN].n, s->assets[eth].price));
	snapshot_unref(s);
}

/*
 * A write that does not move an asset's merged levels (a price write to
 * another asset, a correlation write) keeps their arrays and prebuilt
 * cascade (the same pointers: nothing rebuilt); a depth write to the
 * asset keeps the arrays and builds a new base (the curve changed); a
 * price write to it that moves a ladder gives new levels.  (The pointers compared are
 * held by the current snapshot, so they cannot be reused meanwhile.)
 */
START_TEST(unchanged_levels_keep_their_base)
{
	static const char bid[] = "{\"side\": \"bid\", \"points\": "
	    "[[100, 30], [500, 120], [2000, 400]]}";
	static const char corr[] = "{\"pairs\": [[\"ETH\", \"BTC\", "
	    "0.7]]}";
	char p[2][512];
	const char *pos[2] = { p[0], p[1] };
	const double *arr0, *arr1;
	const struct lc_cascade_base *b0, *b1;
	struct snapshot *keep;

	market();
	loan(p[0], sizeof(p[0]), "a", 10, 15000);
	loan(p[1], sizeof(p[1]), "b", 4, 5000);
	put_book("k", pos, 2, 201);
	eth_sells(&arr0, &b0);
	keep = snap();	/* holds arr0 and b0 */
	put_asset("BTC", 45000, 0.6);
	eth_sells(&arr1, &b1);
	ck_assert(arr1 == arr0);
	ck_assert(b1 == b0);
	BK_CALL(200, api_put_correlations(&app, corr, sizeof(corr) - 1, 0,
	    &a_));
	eth_sells(&arr1, &b1);
	ck_assert(arr1 == arr0);
	ck_assert(b1 == b0);
	BK_CALL(200, api_put_depth(&app, "ETH", "main", bid, sizeof(bid) - 1,
	    &a_));
	eth_sells(&arr1, &b1);
	ck_assert(arr1 == arr0);
	ck_assert(b1 != b0);
	/* a price that leaves the ladders alone keeps them too */
	put_asset("ETH", 1900, 0.8);
	eth_sells(&arr1, &b1);
	ck_assert(arr1 == arr0);
	/* loan a (HF 1 at 1875) liquidatable now: its ladder moves */
	put_asset("ETH", 1700, 0.8);
	eth_sells(&arr1, &b1);
	ck_assert(arr1 != arr0);
	snapshot_unref(keep);
}
END_TEST

/*
 * The etag is a function of the content, not of the path: after writes
 * the incremental path (snapshot_update or snapshot_copy, then a merge
 * that adopts unchanged merged arrays without merging them again) must
 * give the etag a fresh start on the same database gives (snapshot_build
 * and a full merge), and the same level arrays.
 */
static void
restart_same_etag(const char *what)
{
	struct snapshot *s = snap();
	char tag[sizeof(s->etag)];
	long eth = snapshot_find(s, "ETH");
	size_t n = s->lc_assets[eth].levels[LC_DOWN].n;
	double *pr = malloc((n + 1) * sizeof(double));
	double tot = s->assets[eth].levels[LC_DOWN].total_qty;

	ck_assert_ptr_nonnull(pr);
	memcpy(pr, s->lc_assets[eth].levels[LC_DOWN].price, n * sizeof(double));
	memcpy(tag, s->etag, sizeof(tag));
	snapshot_unref(s);
	close_app();
	open_app();
	s = snap();
	ck_assert_msg(strcmp(tag, s->etag) == 0, "%s: etag %s, fresh %s",
	    what, tag, s->etag);
	ck_assert_uint_eq(s->lc_assets[eth].levels[LC_DOWN].n, n);
	ck_assert(memcmp(pr, s->lc_assets[eth].levels[LC_DOWN].price,
	    n * sizeof(double)) == 0);
	ck_assert(s->assets[eth].levels[LC_DOWN].total_qty == tot);
	snapshot_unref(s);
	free(pr);
}

START_TEST(etag_same_on_every_path)
{
	static const char lv[] = "{\"levels\": [{\"price\": 1950, \"qty\": 7, "
	    "\"side\": \"sell\"}, {\"price\": 2100, \"qty\": 3, \"side\": "
	    "\"buy\"}]}";
	char p[3][512], e0[24], e1[24];
	const char *pos[3] = { p[0], p[1], p[2] };
	const double *arr0, *arr1;
	const struct lc_cascade_base *b0, *b1;
	struct snapshot *s;
	struct rfc3339_time t0;

	/*
	 * an asset's updated_at (the second of its write) is content, so
	 * "back to the old price, back to the old etag" holds only within
	 * one second: pin this thread's clock (a slow run, valgrind, crosses
	 * seconds)
	 */
	rfc3339_now(&t0, 0);
	rfc3339_pin_now(&t0);
	market();
	put_asset("LAT0", 3, 0.1);
	BK_CALL(200, api_put_levels(&app, "ETH", lv, sizeof(lv) - 1, 0, &a_));
	loan(p[0], sizeof(p[0]), "a", 10, 15000);
	loan(p[1], sizeof(p[1]), "b", 4, 5000);
	loan(p[2], sizeof(p[2]), "c", 6, 8000);
	put_book("k", pos, 2, 201);
	put_book("m", pos + 2, 1, 201);
	restart_same_etag("after the books");
	s = snap();
	memcpy(e0, s->etag, sizeof(e0));
	snapshot_unref(s);
	/* writes no book involves: the merged arrays are adopted as they are */
	eth_sells(&arr0, &b0);
	put_asset("LAT0", 4, 0.1);
	put_asset("LAT0", 5, 0.1);
	eth_sells(&arr1, &b1);
	ck_assert(arr1 == arr0);
	ck_assert(b1 == b0);
	s = snap();
	memcpy(e1, s->etag, sizeof(e1));
	snapshot_unref(s);
	ck_assert_str_ne(e1, e0);	/* LAT0's price is content */
	restart_same_etag("after LAT0 writes");
	/* back to LAT0's old price: the content, hence the etag, of before */
	put_asset("LAT0", 3, 0.1);
	s = snap();
	ck_assert_str_eq(s->etag, e0);
	snapshot_unref(s);
	/* a price that moves the ladders, then stored levels, then a book */
	put_asset("ETH", 1700, 0.8);
	eth_sells(&arr1, &b1);
	ck_assert(arr1 != arr0);
	put_asset("LAT0", 6, 0.1);
	restart_same_etag("after an ETH price write");
	BK_CALL(200, api_put_levels(&app, "ETH", lv, sizeof(lv) - 1, 1, &a_));
	put_asset("LAT0", 7, 0.1);
	restart_same_etag("after a level append");
	BK_CALL(200, api_delete_book_position(&app, "k", "b", &a_));
	restart_same_etag("after a book write");
	BK_CALL(200, api_delete_book(&app, "m", &a_));
	put_asset("LAT0", 8, 0.1);
	restart_same_etag("after a book delete");
	BK_CALL(200, api_delete_book(&app, "k", &a_));
	restart_same_etag("without books");
	/* and with the clock: a second later the same write is new content */
	t0.sec++;
	rfc3339_pin_now(&t0);
	s = snap();
	memcpy(e1, s->etag, sizeof(e1));
	snapshot_unref(s);
	put_asset("LAT0", 8, 0.1);
	s = snap();
	ck_assert_str_ne(s->etag, e1);
	snapshot_unref(s);
	rfc3339_pin_now(NULL);
}
END_TEST

/*
 * Deleting an asset a book position holds: the books are loaded again
 * against the new asset set; that position is left out, the others
 * (same chunk of the load) keep their levels.
 */
START_TEST(asset_delete_keeps_other_positions)
{
	static const char btc[] = "{\"id\": \"b\", \"type\": \"perp\", "
	    "\"asset\": \"BTC\", \"side\": \"long\", \"size\": 1, "
	    "\"entry_price\": 50000, \"leverage\": 5}";
	char p[2][512];
	const char *pos[3] = { p[0], btc, p[1] };
	struct snapshot *s;
	size_t n;
	long eth;

	market();
	loan(p[0], sizeof(p[0]), "a", 10, 13000);
	loan(p[1], sizeof(p[1]), "c", 5, 7000);
	put_book("d", pos, 3, 201);
	s = snap();
	eth = snapshot_find(s, "ETH");
	n = s->lc_assets[eth].levels[LC_DOWN].n;
	snapshot_unref(s);
	BK_CALL(200, api_delete_asset(&app, "BTC", &a_));
	s = snap();
	eth = snapshot_find(s, "ETH");
	ck_assert_uint_gt(n, 0);
	ck_assert_uint_eq(s->lc_assets[eth].levels[LC_DOWN].n, n);
	snapshot_unref(s);
	BK_CALL(200, api_get_book(&app, "d", &a_));
	ck_assert_ptr_nonnull(strstr(last, "\"positions\":2"));
}
END_TEST

/* ---- risk -------------------------------------------------------------- */

/* The risk answer is lc_book_risk over a book built here. */
START_TEST(risk_equals_model)
{
	char p[2][512];
	const char *pos[2] = { p[0], p[1] };
	struct api_param q[] = { { "asset", "ETH" }, { "to", "-0.4" },
		{ "step", "0.05" }, { "horizon_days", "2" } };
	struct lc_entry e[4];
	struct lc_position lp[2];
	struct lc_book mine;
	const struct lc_book *books[1];
	struct lc_book_risk_args ra;
	struct lc_book_risk r;
	struct snapshot *s;
	double price[8], vol[8];
	cJSON *j, *pts;
	size_t i, k;
	long eth, usd;

	market();
	loan(p[0], sizeof(p[0]), "a", 10, 14000);
	loan(p[1], sizeof(p[1]), "b", 30, 38000);
	put_book("r", pos, 2, 201);
	BK_CALL(200, api_get_book_risk(&app, "r", q, 4, &a_));
	s = snap();
	eth = snapshot_find(s, "ETH");
	usd = snapshot_find(s, "USD");
	for (i = 0; i < s->nassets; i++) {
		price[i] = s->assets[i].price;
		vol[i] = s->assets[i].vol;
	}
	memset(lp, 0, sizeof(lp));
	for (k = 0; k < 2; k++) {
		e[2 * k].asset = (uint32_t)eth;
		e[2 * k].amount = k == 0 ? 10 : 30;
		e[2 * k].lt = 0.8;
		e[2 * k + 1].asset = (uint32_t)usd;
		e[2 * k + 1].amount = k == 0 ? 14000 : 38000;
		e[2 * k + 1].lt = 0;
		lp[k].id = k == 0 ? "a" : "b";
		lp[k].type = LC_POS_LOAN;
		lp[k].u.loan.protocol = LC_AAVE_V3;
		lp[k].u.loan.coll = &e[2 * k];
		lp[k].u.loan.ncoll = 1;
		lp[k].u.loan.debt = &e[2 * k + 1];
		lp[k].u.loan.ndebt = 1;
		lp[k].u.loan.bonus = NAN;
		lp[k].u.loan.close_factor = NAN;
		lp[k].u.loan.full_liq_below = 2000;
	}
	lc_book_init(&mine);
	ck_assert_int_eq(lc_book_put(&mine, 0, &lp[0], price, vol), LC_OK);
	ck_assert_int_eq(lc_book_put(&mine, 1, &lp[1], price, vol), LC_OK);
	books[0] = &mine;
	memset(&ra, 0, sizeof(ra));
	ra.asset = (uint32_t)eth;
	ra.dir = LC_DOWN;
	ra.from = 0;
	ra.to = -0.4;
	ra.step = 0.05;
	ra.horizon_days = 2;
	ra.tail_dof = 4;
	ra.price = price;
	ra.vol = vol;
	ra.books = books;
	ra.nbooks = 1;
	ra.self = 0;
	ra.curve = &s->lc_assets[eth].curve[LC_BID];
	ra.depth_scale = 1;
	lc_book_risk_init(&r);
	ck_assert_int_eq(lc_book_risk(&ra, &r), LC_OK);
	j = parse_last();
	pts = cJSON_GetObjectItem(j, "points");
	ck_assert_int_eq(cJSON_GetArraySize(pts), (int)r.npoints);
	for (i = 0; i < r.npoints; i++) {
		cJSON *pt = cJSON_GetArrayItem(pts, (int)i);

		ck_assert(cJSON_GetObjectItem(pt, "final_price")->valuedouble ==
		    r.points[i].final_price);
		ck_assert(cJSON_GetObjectItem(pt, "liquidated_value")->
		    valuedouble == r.points[i].cascade.value);
		ck_assert(cJSON_GetObjectItem(pt, "bad_debt")->valuedouble ==
		    r.points[i].cascade.bad_debt);
		ck_assert(cJSON_GetObjectItem(pt, "liquidated_qty_static")->
		    valuedouble == r.points[i].stat.qty);
		ck_assert_int_eq(cJSON_GetObjectItem(pt,
		    "liquidated_positions")->valueint,
		    (int)r.points[i].cascade.positions);
	}
	ck_assert(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "expected"),
	    "liquidated_value")->valuedouble == r.expected.value);
	ck_assert(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j,
	    "var"), 1), "shock")->valuedouble == r.var[1].shock);
	cJSON_Delete(j);
	lc_book_risk_release(&r);
	lc_book_release(&mine);
	snapshot_unref(s);

	/*
	 * the riskiest first: a (liquidation at 14000 / 8 = 1750, 12.5 %
	 * away) before b (38000 / 24 = 1583.3, 20.8 % away)
	 */
	BK_CALL(200, api_get_book_positions(&app, "r", NULL, 0, &a_));
	ck_assert_ptr_nonnull(strstr(last, "\"total\":2"));
	ck_assert_ptr_nonnull(strstr(last, "\"id\":\"b\""));
	ck_assert(strstr(last, "\"id\":\"a\"") < strstr(last, "\"id\":\"b\""));
}
END_TEST

/*
 * Risk queries keep their scratch between calls (api_books.c risk_take):
 * an answer made with a scratch that served larger and smaller queries
 * before is the same bytes as the first one, made with a fresh scratch;
 * two books, so the scratch also changes which book is its own.
 */
START_TEST(risk_scratch_reused)
{
	static const struct api_param qs[4][3] = {
		{ { "asset", "ETH" }, { "to", "-0.4" }, { "step", "0.05" } },
		{ { "asset", "ETH" }, { "to", "-0.9" }, { "step", "0.001" } },
		{ { "asset", "ETH" }, { "direction", "up" }, { "step", "0.1" } },
		{ { "asset", "ETH" }, { "to", "-0.6" }, { "step", "0.01" } },
	};
	static const char *const bk[2] = { "big", "small" };
	char *first[2][4], *b;
	int round, i, k;

	market();
	b = many(3000, 0, 1000);
	BK_CALL(201, api_put_book(&app, "big", b, strlen(b), 0, &a_));
	free(b);
	b = many(40, 5000, 1300);
	BK_CALL(201, api_put_book(&app, "small", b, strlen(b), 0, &a_));
	free(b);
	for (round = 0; round < 3; round++)
		for (k = 0; k < 2; k++)
			for (i = 0; i < 4; i++) {
				int j = round == 1 ? 3 - i : i;

				BK_CALL(200, api_get_book_risk(&app, bk[k], qs[j],
				    3, &a_));
				if (round == 0) {
					first[k][j] = strdup(last);
					ck_assert_ptr_nonnull(first[k][j]);
				} else {
					ck_assert_str_eq(last, first[k][j]);
				}
			}
	/* the two books' answers differ: the scratch is not stale */
	ck_assert_str_ne(first[0][3], first[1][3]);
	for (k = 0; k < 2; k++)
		for (i = 0; i < 4; i++)
			free(first[k][i]);
}
END_TEST

/*
 * The riskiest positions: each key equals what the position's own answer
 * (scored alone, its copy left out) gives, min |effective / P - 1| (the
 * static price where the effective one is null), in a book whose
 * positions share trigger prices (13 distinct first triggers among 200
 * loans), with perps and a coupled loan; the list is in key order.
 */
START_TEST(riskiest_keys_match_answers)
{
	static const char extra[] = "{\"id\": \"cpl\", \"type\": \"loan\", "
	    "\"collateral\": [{\"asset\": \"ETH\", \"amount\": 10, "
	    "\"liquidation_threshold\": 0.8}, {\"asset\": \"BTC\", \"amount\":"
	    " 0.5, \"liquidation_threshold\": 0.75}], \"debt\": [{\"asset\": "
	    "\"USD\", \"amount\": 30000}]}, {\"id\": \"pp\", \"type\": "
	    "\"perp\", \"asset\": \"ETH\", \"side\": \"short\", \"size\": 3, "
	    "\"entry_price\": 2000, \"leverage\": 7}]}";
	struct api_param q[] = { { "limit", "1000" } };
	char *b, *tail;
	cJSON *j, *it;
	double prev = -1, price[3] = { 2000, 50000, 1 };
	int n = 0;

	market();
	b = many(200, 0, 1000);
	b = realloc(b, strlen(b) + sizeof(extra) + 8);
	tail = strrchr(b, ']');
	sprintf(tail, ", %s", extra);
	BK_CALL(201, api_put_book(&app, "k", b, strlen(b), 0, &a_));
	free(b);
	BK_CALL(200, api_get_book_positions(&app, "k", q, 1, &a_));
	j = parse_last();
	ck_assert_int_eq(cJSON_GetObjectItem(j, "total")->valueint, 202);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "positions")) {
		double key = cJSON_GetObjectItem(it, "effective_distance")->
		    valuedouble, best = INFINITY;
		cJSON *lp;

		cJSON_ArrayForEach(lp, cJSON_GetObjectItem(cJSON_GetObjectItem(
		    it, "position"), "liquidation_prices")) {
			cJSON *e = cJSON_GetObjectItem(lp, "effective_price");
			const char *as = cJSON_GetObjectItem(lp, "asset")->
			    valuestring;
			double P = price[strcmp(as, "ETH") == 0 ? 0 :
			    strcmp(as, "BTC") == 0 ? 1 : 2];
			double x = cJSON_IsNumber(e) ? e->valuedouble :
			    cJSON_GetObjectItem(lp, "price")->valuedouble;

			best = fmin(best, fabs(x / P - 1));
		}
		ck_assert_msg(key == best, "%s: key %.17g, answer %.17g",
		    cJSON_GetObjectItem(cJSON_GetObjectItem(it, "position"),
		    "id")->valuestring, key, best);
		ck_assert(key >= prev);
		prev = key;
		n++;
	}
	ck_assert_int_eq(n, 202);
	cJSON_Delete(j);
}
END_TEST

/* ---- readers while books are written ------------------------------------ */

static atomic_int conc_stop;

static void *
conc_reader(void *arg)
{
	static const char req[] = "{\"positions\": [{\"id\": \"p3\", "
	    "\"type\": \"loan\", \"book\": \"w\", \"collateral\": "
	    "[{\"asset\": \"ETH\", \"amount\": 4, \"liquidation_threshold\":"
	    " 0.8}], \"debt\": [{\"asset\": \"USD\", \"amount\": 4000}]}]}";
	struct api_param q[] = { { "asset", "ETH" }, { "step", "0.1" } };
	long *bad = arg;

	while (!atomic_load(&conc_stop)) {
		struct api_answer a;
		int st;

		api_answer_init(&a);
		st = api_score(&app, req, sizeof(req) - 1, NULL, &a);
		if (st != 200) {
			char *t = api_answer_text(&a);

			fprintf(stderr, "score: %d %s\n", st, t);
			free(t);
		}
		*bad += st != 200;
		api_answer_release(&a);
		api_answer_init(&a);
		st = api_get_book_risk(&app, "w", q, 2, &a);
		if (st != 200) {
			char *t = api_answer_text(&a);

			fprintf(stderr, "risk: %d %s\n", st, t);
			free(t);
		}
		*bad += st != 200;
		api_answer_release(&a);
	}
	return NULL;
}

/*
 * Scores naming a book copy and risk reads run while the book is upserted
 * and ETH's price moves: every answer is a 200 (the book and the snapshot
 * they read always match; run under -fsanitize=thread by `make tsan`-like
 * builds of this suite).
 */
START_TEST(readers_during_writes)
{
	pthread_t th;
	long bad = 0;
	int i;
	char *b;

	market();
	b = many(50, 0, 1000);
	BK_CALL(201, api_put_book(&app, "w", b, strlen(b), 0, &a_));
	free(b);
	atomic_store(&conc_stop, 0);
	ck_assert_int_eq(pthread_create(&th, NULL, conc_reader, &bad), 0);
	for (i = 0; i < 20; i++) {
		b = many(20, (size_t)i * 3, 1000 + i);
		BK_CALL(200, api_put_book(&app, "w", b, strlen(b), 1, &a_));
		free(b);
		put_asset("ETH", 2000 + i, 0.8);
	}
	atomic_store(&conc_stop, 1);
	pthread_join(th, NULL);
	ck_assert_int_eq(bad, 0);
}
END_TEST

/* ---- over HTTP ---------------------------------------------------------- */

static struct server_proc srv;
static char *hdir;
static char hdb[512];

static int
http(const char *method, const char *path, const char *hdrs,
    const char *body, char **out)
{
	struct http_reply r;
	int st;

	ck_assert_int_eq(http_request(srv.port, method, path, hdrs, body,
	    body != NULL ? strlen(body) : 0, &r, 10000), 0);
	st = r.status;
	if (out != NULL) {
		*out = r.body;
		r.body = NULL;
	}
	http_reply_release(&r);
	return st;
}

#define KEY "Content-Type: application/json\r\n" \
	"Authorization: Bearer b-secret\r\n"
#define NOKEY "Content-Type: application/json\r\n"

/* The routes over HTTP: writes need the key, reads do not. */
START_TEST(http_routes_and_keys)
{
	static const char *const args[] = { "--api-key", "b-secret", NULL };
	static const char book[] = "{\"positions\": [{\"id\": \"l\", "
	    "\"type\": \"loan\", \"collateral\": [{\"asset\": \"ETH\", "
	    "\"amount\": 10, \"liquidation_threshold\": 0.8}], \"debt\": "
	    "[{\"asset\": \"USD\", \"amount\": 15000}]}]}";
	char *b = NULL;

	ck_assert_msg(fixture_start(&srv, &hdir, hdb, sizeof(hdb), "h.db",
	    args, 10000) == 0, "server: %s", srv.log ? srv.log : "");
	ck_assert_int_eq(http("PUT", "/v1/markets/ETH", KEY,
	    "{\"price\": 2000, \"volatility\": 0.8}", NULL), 201);
	ck_assert_int_eq(http("PUT", "/v1/books/h", NOKEY, book, NULL), 401);
	ck_assert_int_eq(http("PUT", "/v1/books/h", KEY, book, NULL), 201);
	ck_assert_int_eq(http("PUT", "/v1/books/h", KEY, book, NULL), 200);
	ck_assert_int_eq(http("POST", "/v1/books/h/positions", NOKEY, book,
	    NULL), 401);
	ck_assert_int_eq(http("POST", "/v1/books/h/positions", KEY, book,
	    NULL), 200);
	ck_assert_int_eq(http("GET", "/v1/books", NULL, NULL, &b), 200);
	ck_assert_ptr_nonnull(strstr(b, "\"book\":\"h\""));
	free(b);
	ck_assert_int_eq(http("GET", "/v1/books/h/risk?asset=ETH&step=0.1",
	    NULL, NULL, &b), 200);
	ck_assert_ptr_nonnull(strstr(b, "\"points\":["));
	free(b);
	ck_assert_int_eq(http("GET", "/v1/books/h/risk?asset=ETH&step=0.0001",
	    NULL, NULL, &b), 422);
	ck_assert_ptr_nonnull(strstr(b, "/query/step"));
	free(b);
	ck_assert_int_eq(http("GET", "/v1/books/h/positions?limit=5", NULL,
	    NULL, &b), 200);
	ck_assert_ptr_nonnull(strstr(b, "\"id\":\"l\""));
	free(b);
	ck_assert_int_eq(http("GET", "/v1/books/nope", NULL, NULL, NULL), 404);
	ck_assert_int_eq(http("GET", "/v1/books/No", NULL, NULL, NULL), 422);
	ck_assert_int_eq(http("DELETE", "/v1/books/h/positions/l", NOKEY, NULL,
	    NULL), 401);
	ck_assert_int_eq(http("DELETE", "/v1/books/h/positions/l", KEY, NULL,
	    NULL), 200);
	ck_assert_int_eq(http("DELETE", "/v1/books/h", KEY, NULL, NULL), 200);
	ck_assert_int_eq(http("DELETE", "/v1/books/h", KEY, NULL, NULL), 404);
	fixture_stop(&srv, &hdir, 10000);
}
END_TEST

/* ---- measured: 1e6 positions (BOOKS_BENCH=1) ---------------------------- */

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static char *
many(size_t n, size_t first, double debt0)
{
	char *b = malloc(n * 220 + 64), *q, one[256], id[32];
	size_t i;

	ck_assert_ptr_nonnull(b);
	q = b + sprintf(b, "{\"positions\": [");
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "p%zu", first + i);
		loan(one, sizeof(one), id, 1 + (double)((first + i) % 97),
		    debt0 * (1 + (double)((first + i) % 97)) *
		    (1 + 0.3 * (double)((first + i) % 13) / 13));
		q += sprintf(q, "%s%s", i > 0 ? "," : "", one);
	}
	sprintf(q, "]}");
	return b;
}

START_TEST(bench_million)
{
	size_t n = (size_t)atol(getenv("BOOKS_BENCH_N") ? getenv(
	    "BOOKS_BENCH_N") : "1000000");
	char *b, score[512];
	double t0, t1, t2, t3, t4;

	market();
	b = many(n, 0, 1000);
	t0 = now_s();
	BK_CALL(201, api_put_book(&app, "m", b, strlen(b), 0, &a_));
	t1 = now_s();
	free(b);
	b = many(1000, n - 500, 1100);	/* 500 updates, 500 new */
	snprintf(score, sizeof(score), "{\"positions\": [{\"id\": \"q\", "
	    "\"type\": \"perp\", \"asset\": \"ETH\", \"side\": \"long\", "
	    "\"size\": 1, \"entry_price\": 2000, \"leverage\": 5}]}");
	t2 = now_s();
	BK_CALL(200, api_put_book(&app, "m", b, strlen(b), 1, &a_));
	t4 = now_s();
	BK_CALL(200, api_score(&app, score, strlen(score), NULL, &a_));
	t3 = now_s();
	free(b);
	fprintf(stderr, "books bench: PUT %zu positions %.2f s; upsert 1000 "
	    "%.3f s, then score %.3f s\n", n, t1 - t0, t4 - t2, t3 - t4);
	{
		struct api_param q[] = { { "limit", "100" } };
		struct api_param r[] = { { "asset", "ETH" } };

		t0 = now_s();
		BK_CALL(200, api_get_book_positions(&app, "m", q, 1, &a_));
		t1 = now_s();
		BK_CALL(200, api_get_book_risk(&app, "m", r, 1, &a_));
		t2 = now_s();
		fprintf(stderr, "books bench: riskiest 100 of %zu %.2f s; risk "
		    "(101 points) %.2f s\n", n, t1 - t0, t2 - t1);
	}
	t0 = now_s();
	close_app();
	open_app();
	t1 = now_s();
	fprintf(stderr, "books bench: restart (load + derive) %.2f s\n",
	    t1 - t0);
}
END_TEST

static Suite *
books_suite(void)
{
	Suite *s = suite_create("books");
	TCase *tc = tcase_create("api");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, one_position_levels_are_its_ladder);
	tcase_add_test(tc, book_levels_equal_request_positions);
	tcase_add_test(tc, bad_writes_store_nothing);
	tcase_add_test(tc, upsert_delete_restart);
	tcase_add_test(tc, price_write_rederives_coupled);
	tcase_add_test(tc, unchanged_levels_keep_their_base);
	tcase_add_test(tc, asset_delete_keeps_other_positions);
	tcase_add_test(tc, etag_same_on_every_path);
	tcase_add_test(tc, risk_equals_model);
	tcase_add_test(tc, risk_scratch_reused);
	tcase_add_test(tc, readers_during_writes);
	tcase_add_test(tc, riskiest_keys_match_answers);
	suite_add_tcase(s, tc);
	tc = tcase_create("http");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, http_routes_and_keys);
	suite_add_tcase(s, tc);
	if (getenv("BOOKS_BENCH") != NULL) {
		tc = tcase_create("bench");
		tcase_add_checked_fixture(tc, setup, teardown);
		tcase_set_timeout(tc, 600);
		tcase_add_test(tc, bench_million);
		suite_add_tcase(s, tc);
	}
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(books_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	free(last);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

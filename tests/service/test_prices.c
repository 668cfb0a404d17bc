/*
 * test_prices.c - price history and volatility in the service
 * (docs/model.md section 9): POST/GET /v1/markets/{asset}/prices through
 * the use-case layer in process (api.h) and a couple over HTTP, the
 * estimators of the live service against the batch formulas of
 * cascade/vol.h (lc_vol_estimate, lc_vol_correlation), the volatility
 * source rules, the score's echo, and the CLI paths (`cascaded import
 * --prices`, `cascaded backtest --db`) against the API and the CSV run.
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "api.h"
#include "candles.h"
#include "cascade/vol.h"
#include "config.h"
#include "snapshot.h"
#include "store.h"
#include "store_fixture.h"
#include "store_prices.h"
#include "testlib.h"

#define T_MS 10000
#define T0 1700006400		/* a midnight */
#define HOUR 3600

static struct config cfg;
static struct app app;
static char *dir;
static char db[512];

static void
open_app(void)
{
	char *err = NULL;

	memset(&app, 0, sizeof(app));
	app.cfg = &cfg;
	app.store = store_fixture_open(&dir, db, sizeof(db), "p.db", &err);
	ck_assert_msg(app.store != NULL, "store_open: %s", err);
	ck_assert_int_eq(api_app_init(&app), 0);
}

static void
setup(void)
{
	config_init(&cfg);
	open_app();
}

static void
teardown(void)
{
	api_app_release(&app);
	store_fixture_close(&app.store, &dir);
	config_release(&cfg);
}

/* Run a use case on a NUL-terminated body; the status, answer parsed. */
static int
put_asset(const char *asset, const char *body)
{
	struct api_answer a;
	int st;

	api_answer_init(&a);
	st = api_put_asset(&app, asset, body, strlen(body), &a);
	api_answer_release(&a);
	return st;
}

/* The answer of a use case that returned st (want) as JSON; released. */
static cJSON *
answer_json(struct api_answer *a, int st, int want, const char *what)
{
	char *text = api_answer_text(a);
	cJSON *j;

	ck_assert_msg(st == want, "%s: %d (want %d): %s", what, st, want,
	    text);
	j = cJSON_Parse(text);
	ck_assert(j != NULL);
	free(text);
	api_answer_release(a);
	return j;
}

static cJSON *
post(const char *asset, const char *body, int want)
{
	struct api_answer a;

	api_answer_init(&a);
	return answer_json(&a, api_post_prices(&app, asset, body,
	    strlen(body), &a), want, "POST prices");
}

static cJSON *
get_prices(const char *asset, const struct api_param *q, size_t n, int want)
{
	struct api_answer a;

	api_answer_init(&a);
	return answer_json(&a, api_get_prices(&app, asset, q, n, &a), want,
	    "GET prices");
}

static cJSON *
score(const char *body)
{
	struct api_answer a;

	api_answer_init(&a);
	return answer_json(&a, api_score(&app, body, strlen(body), NULL, &a),
	    200, "score");
}

/* The number at o.a (b NULL) or o.a.b. */
static double
num(const cJSON *o, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	if (b != NULL)
		v = cJSON_GetObjectItemCaseSensitive(v, b);
	ck_assert_msg(cJSON_IsNumber(v), "%s.%s is not a number", a,
	    b ? b : "");
	return v->valuedouble;
}

static const char *
str(const cJSON *o, const char *a)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, a);

	ck_assert_msg(cJSON_IsString(v), "%s is not a string", a);
	return v->valuestring;
}

/* The only error pointer of a problem body. */
static const char *
pointer0(const cJSON *p)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(p, "errors");

	ck_assert_msg(cJSON_GetArraySize(e) >= 1, "no errors");
	return str(cJSON_GetArrayItem(e, 0), "pointer");
}

/* 1 when a problem body lists an error at `ptr`. */
static int
has_pointer(const cJSON *p, const char *ptr)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(p, "errors"))
		if (strcmp(str(e, "pointer"), ptr) == 0)
			return 1;
	return 0;
}

/* {"candles": [...]} of c[0..n-1] with every digit (%.17g): malloc'd. */
static char *
candles_body(const struct lc_candle *c, size_t n)
{
	size_t cap = 64 + n * 128, len = 0, i;
	char *b = malloc(cap);

	ck_assert(b != NULL);
	len += (size_t)snprintf(b + len, cap - len, "{\"candles\": [");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(b + len, cap - len,
		    "%s[%lld, %.17g, %.17g, %.17g, %.17g]", i ? ", " : "",
		    (long long)c[i].t, c[i].open, c[i].high, c[i].low,
		    c[i].close);
	snprintf(b + len, cap - len, "]}");
	return b;
}

static void
post_candles(const char *asset, const struct lc_candle *c, size_t n)
{
	char *b = candles_body(c, n);

	cJSON_Delete(post(asset, b, 200));
	free(b);
}

static size_t
stored_count(const char *asset)
{
	struct lc_candle *c = NULL;
	size_t n = 0;

	ck_assert_int_eq(store_get_prices(app.store, asset, INT64_MIN,
	    INT64_MAX, 0, &c, &n), STORE_OK);
	free(c);
	return n;
}

static void
expect_rel(double got, double want, double tol, const char *what)
{
	ck_assert_msg(fabs(got - want) <= tol * fabs(want),
	    "%s: %.17g, want %.17g", what, got, want);
}

/* Batch estimate of candles c[0..n-1] with the app's parameters. */
static void
batch(const struct lc_candle *c, size_t n, struct lc_vol_estimate *e)
{
	struct lc_vol_params p;
	int64_t *t = malloc(n * sizeof(*t));
	double *x = malloc(n * sizeof(*x));
	size_t i;

	ck_assert(t != NULL && x != NULL);
	for (i = 0; i < n; i++) {
		t[i] = c[i].t;
		x[i] = c[i].close;
	}
	lc_vol_params_default(&p);
	p.half_life_days = cfg.vol_half_life_days;
	p.mean_reversion_days = cfg.vol_mean_reversion_days;
	ck_assert_int_eq(lc_vol_estimate(t, x, n, &p, e), LC_OK);
	free(t);
	free(x);
}

/*
 * volatility_history.garch of a market against the library: a fresh
 * lc_vol_state and lc_vol_garch_state fed the candles one by one with
 * their Parkinson news (the level: the long run after each), sigma at 1
 * and 7 days.
 */
static void
garch_matches(const cJSON *m, const struct lc_candle *c, size_t n,
    const char *what)
{
	struct lc_vol_params p;
	struct lc_vol_state st;
	struct lc_vol_garch_params gp = {
		LC_VOL_GARCH_PARKINSON_DEFAULT_ALPHA,
		LC_VOL_GARCH_PARKINSON_DEFAULT_BETA };
	struct lc_vol_garch_state gs;
	const cJSON *g = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(m, "volatility_history"),
	    "garch");
	double V, s1, s7;
	size_t i;

	lc_vol_params_default(&p);
	p.half_life_days = cfg.vol_half_life_days;
	p.mean_reversion_days = cfg.vol_mean_reversion_days;
	ck_assert_int_eq(lc_vol_state_init(&st, &p), LC_OK);
	ck_assert_int_eq(lc_vol_garch_init(&gs, &gp), LC_OK);
	for (i = 0; i < n; i++) {
		int ok;

		ck_assert_int_eq(lc_vol_append(&st, &c[i].t, &c[i].close, 1),
		    LC_OK);
		ok = lc_vol_state_long_run(&st, &V) == LC_OK;
		ck_assert_int_eq(lc_vol_garch_append_range(&gs,
		    LC_VOL_PARKINSON, c[i].t, c[i].open, c[i].high, c[i].low,
		    c[i].close, ok, ok ? V : 0.0), LC_OK);
	}
	lc_vol_state_release(&st);
	ck_assert_int_eq(lc_vol_garch_sigma(&gs, 1.0, &s1), LC_OK);
	ck_assert_int_eq(lc_vol_garch_sigma(&gs, 7.0, &s7), LC_OK);
	ck_assert_msg(cJSON_IsObject(g), "%s: no garch", what);
	ck_assert_str_eq(str(g, "estimator"), "garch-parkinson");
	ck_assert(num(g, "alpha", NULL) ==
	    LC_VOL_GARCH_PARKINSON_DEFAULT_ALPHA);
	ck_assert(num(g, "beta", NULL) ==
	    LC_VOL_GARCH_PARKINSON_DEFAULT_BETA);
	expect_rel(num(g, "sigma_1d", NULL), s1, 1e-12, what);
	expect_rel(num(g, "sigma_7d", NULL), s7, 1e-12, what);
}

/* The market as GET /v1/markets/{asset} shows it. */
static cJSON *
market(const char *asset)
{
	struct api_answer a;
	cJSON *j;

	api_answer_init(&a);
	ck_assert_int_eq(api_get_market(&app, asset, NULL, &a), 200);
	j = cJSON_Parse(a.body);
	api_answer_release(&a);
	ck_assert(j != NULL);
	return j;
}

/* volatility and volatility_source of `asset` in a score's markets. */
static double
scored_vol(const char *asset, double horizon, const char *extra,
    char *src, size_t cap)
{
	char body[512];
	const cJSON *m;
	cJSON *j;
	double v = NAN;

	snprintf(body, sizeof(body), "{\"positions\": [{\"id\": \"p\", "
	    "\"type\": \"perp\", \"asset\": \"%s\", \"side\": \"long\", "
	    "\"size\": 1, \"entry_price\": 100, \"leverage\": 5}], "
	    "\"horizon_days\": %g%s}", asset, horizon, extra);
	j = score(body);
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(j, "markets"))
		if (strcmp(str(m, "asset"), asset) == 0) {
			v = num(m, "volatility", NULL);
			snprintf(src, cap, "%s", str(m, "volatility_source"));
		}
	cJSON_Delete(j);
	ck_assert_msg(!isnan(v), "%s not in the markets", asset);
	return v;
}

/* ---- bad input -------------------------------------------------------- */

START_TEST(bad_input_pointer_and_nothing_stored)
{
	static const struct {
		const char *body;
		int status;
		const char *pointer;
	} bad[] = {
		/* low above min(open, close) in the 4th candle */
		{ "{\"candles\": [[1, 2, 3, 1, 2], [2, 2, 3, 1, 2], "
		  "[3, 2, 3, 1, 2], [4, 2, 3, 2.5, 2.6]]}", 422,
		  "/candles/3/3" },
		{ "{\"candles\": [[1, 2, 2.5, 1, 3]]}", 422, "/candles/0/2" },
		{ "{\"candles\": [[1, 0, 3, 1, 2]]}", 422, "/candles/0/1" },
		{ "{\"candles\": [[1, 2, 3, -1, 2]]}", 422, "/candles/0/3" },
		{ "{\"points\": [[1, 5], [2, 0]]}", 422, "/points/1/1" },
		{ "{\"points\": [[1, \"abc\"]]}", 422, "/points/0/1" },
		{ "{\"points\": [[\"yesterday\", 5]]}", 422, "/points/0/0" },
		{ "{\"points\": [[1.5, 5]]}", 422, "/points/0/0" },
		{ "{\"points\": [[-1, 5]]}", 422, "/points/0/0" },
		{ "{\"points\": [[\"2024-01-01T00:00:00.5Z\", 5]]}", 422,
		  "/points/0/0" },
		{ "{\"candles\": [[1, 2, 3, 1]]}", 422, "/candles/0" },
		{ "{\"points\": [[1, 2, 3]]}", 422, "/points/0" },
		{ "{\"candles\": {}}", 422, "/candles" },
		{ "{\"candles\": [], \"points\": []}", 422, "" },
		{ "{\"klines\": [[1000, \"1\", \"1\", \"1\", \"1\"]]}", 422,
		  "/format" },
		{ "{\"format\": \"binance-klines\", \"klines\": [[1000, \"1\", "
		  "\"2\", \"1\"]]}", 422, "/klines/0" },
		{ "{\"points\": [[1, 5]], \"extra\": 1}", 422, "/extra" },
		{ "{\"points\": [[1, 5]], \"format\": \"binance-klines\"}",
		  422, "/format" },
		{ "{\"points\": [[1, 5]", 400, NULL },
	};
	size_t i;

	ck_assert_int_eq(put_asset("ETH", "{\"price\": 100}"), 201);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *p = post("ETH", bad[i].body, bad[i].status);

		if (bad[i].pointer != NULL)
			ck_assert_msg(strcmp(pointer0(p), bad[i].pointer) == 0,
			    "case %zu: pointer %s, want %s", i, pointer0(p),
			    bad[i].pointer);
		cJSON_Delete(p);
		ck_assert_uint_eq(stored_count("ETH"), 0);
	}
	/* a bad candle among good ones: none of them is stored */
	cJSON_Delete(post("ETH", "{\"points\": [[1, 5], [2, 6], [3, -1]]}",
	    422));
	ck_assert_uint_eq(stored_count("ETH"), 0);
	/* the market keeps its explicit volatility source */
	{
		cJSON *m = market("ETH");

		ck_assert_str_eq(str(m, "volatility_source"), "explicit");
		cJSON_Delete(m);
	}
	/* an empty write stores nothing and leaves the source */
	cJSON_Delete(post("ETH", "{\"candles\": []}", 200));
	{
		cJSON *m = market("ETH");

		ck_assert_str_eq(str(m, "volatility_source"), "explicit");
		cJSON_Delete(m);
	}
	cJSON_Delete(post("NOPE", "{\"points\": [[1, 5]]}", 404));
	cJSON_Delete(post("bad sym", "{\"points\": [[1, 5]]}", 422));
}
END_TEST

START_TEST(too_many_entries_is_422)
{
	size_t n = CODEC_MAX_CANDLES + 1, i, len = 0, cap = n * 24 + 64;
	char *b = malloc(cap);
	cJSON *p;

	ck_assert(b != NULL);
	ck_assert_int_eq(put_asset("ETH", "{\"price\": 100}"), 201);
	len += (size_t)snprintf(b, cap, "{\"points\": [");
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(b + len, cap - len, "%s[%zu, 5]",
		    i ? "," : "", i * HOUR);
	snprintf(b + len, cap - len, "]}");
	p = post("ETH", b, 422);
	ck_assert_str_eq(pointer0(p), "/points");
	cJSON_Delete(p);
	ck_assert_uint_eq(stored_count("ETH"), 0);
	free(b);
}
END_TEST

/* ---- upsert, order, duplicates, read back ----------------------------- */

START_TEST(upsert_sort_duplicates_round_trip)
{
	struct api_param q[3];
	const cJSON *c;
	cJSON *r, *g;

	ck_assert_int_eq(put_asset("ETH", "{\"price\": 100}"), 201);
	/* out of order, t = 7200 twice (the last wins), RFC 3339 and text */
	r = post("ETH", "{\"candles\": [[7200, 10, 12, 9, 11], "
	    "[\"1970-01-01T00:00:00Z\", 1, 2, 0.5, 1.5], "
	    "[\"3600\", \"5\", \"6\", \"4\", \"5.5\"], "
	    "[7200, 20, 22, 19, 21]]}", 200);
	ck_assert_int_eq((int)num(r, "received", NULL), 4);
	ck_assert_int_eq((int)num(r, "stored", NULL), 3);
	ck_assert_int_eq((int)num(r, "first", NULL), 0);
	ck_assert_int_eq((int)num(r, "last", NULL), 7200);
	ck_assert_str_eq(str(r, "volatility_source"), "history");
	cJSON_Delete(r);
	g = get_prices("ETH", NULL, 0, 200);
	ck_assert_int_eq((int)num(g, "count", NULL), 3);
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(g,
	    "truncated")));
	c = cJSON_GetObjectItemCaseSensitive(g, "candles");
	ck_assert_int_eq((int)cJSON_GetArrayItem(cJSON_GetArrayItem(c, 1),
	    0)->valuedouble, 3600);
	ck_assert(cJSON_GetArrayItem(cJSON_GetArrayItem(c, 1),
	    4)->valuedouble == 5.5);
	ck_assert(cJSON_GetArrayItem(cJSON_GetArrayItem(c, 2),
	    1)->valuedouble == 20);
	cJSON_Delete(g);
	/* a later write replaces one t and adds one (points, klines) */
	cJSON_Delete(post("ETH", "{\"points\": [[3600, 7]]}", 200));
	cJSON_Delete(post("ETH", "{\"format\": \"binance-klines\", "
	    "\"klines\": [[10800000, \"30\", \"31\", \"29\", \"30.5\", "
	    "\"123.4\", 10803599999]]}", 200));
	q[0].name = "from";
	q[0].value = "3600";
	q[1].name = "to";
	q[1].value = "1970-01-01T03:00:00Z";
	q[2].name = "limit";
	q[2].value = "1";
	g = get_prices("ETH", q, 3, 200);
	ck_assert_int_eq((int)num(g, "count", NULL), 1);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(g,
	    "truncated")));
	c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(g,
	    "candles"), 0);
	ck_assert(cJSON_GetArrayItem(c, 0)->valuedouble == 3600 &&
	    cJSON_GetArrayItem(c, 1)->valuedouble == 7 &&
	    cJSON_GetArrayItem(c, 2)->valuedouble == 7 &&
	    cJSON_GetArrayItem(c, 3)->valuedouble == 7 &&
	    cJSON_GetArrayItem(c, 4)->valuedouble == 7);
	cJSON_Delete(g);
	g = get_prices("ETH", q, 2, 200);
	ck_assert_int_eq((int)num(g, "count", NULL), 3);	/* 3600..10800 */
	c = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(g,
	    "candles"), 2);
	ck_assert(cJSON_GetArrayItem(c, 0)->valuedouble == 10800 &&
	    cJSON_GetArrayItem(c, 4)->valuedouble == 30.5);
	cJSON_Delete(g);
	/* query errors */
	q[0].name = "limit";
	q[0].value = "0";
	q[1].name = "since";
	q[1].value = "1";
	g = get_prices("ETH", q, 2, 422);
	ck_assert(has_pointer(g, "/query/limit"));
	ck_assert(has_pointer(g, "/query/since"));
	cJSON_Delete(g);
	cJSON_Delete(get_prices("NOPE", NULL, 0, 404));
}
END_TEST

START_TEST(retention_cuts_in_the_same_write)
{
	struct lc_candle *c = gbm_candles(3, T0, 100, 0.5, 30 * 24);
	cJSON *r;
	char *b;

	api_app_release(&app);
	store_fixture_close(&app.store, &dir);
	cfg.price_retention_days = 10;
	open_app();
	ck_assert_int_eq(put_asset("ETH", "{\"price\": 100}"), 201);
	b = candles_body(c, 30 * 24);
	r = post("ETH", b, 200);
	/* kept: t >= last - 10 days, i.e. the last 10 * 24 + 1 */
	ck_assert_int_eq((int)num(r, "deleted_by_retention", NULL),
	    30 * 24 - (10 * 24 + 1));
	ck_assert_uint_eq(stored_count("ETH"), 10 * 24 + 1);
	cJSON_Delete(r);
	free(b);
	free(c);
}
END_TEST

/* ---- estimators ------------------------------------------------------- */

START_TEST(volatility_equals_the_batch_formulas)
{
	size_t n = 24 * 120;
	struct lc_candle *c = gbm_candles(11, T0, 2000, 0.7, n);
	struct lc_vol_estimate e;
	char src[16];
	double v, h;
	cJSON *m;

	ck_assert_int_eq(put_asset("ETH", "{\"price\": 2000, "
	    "\"volatility\": 0.25}"), 201);
	post_candles("ETH", c, n);
	batch(c, n, &e);
	ck_assert(e.ewma_ok && e.long_run_ok);
	m = market("ETH");
	ck_assert_str_eq(str(m, "volatility_source"), "history");
	expect_rel(num(m, "volatility_history", "ewma"), sqrt(e.ewma_var),
	    1e-12, "ewma");
	expect_rel(num(m, "volatility_history", "long_run"),
	    sqrt(e.long_run_var), 1e-12, "long run");
	ck_assert(num(m, "volatility", NULL) == 0.25);	/* stored, kept */
	cJSON_Delete(m);
	for (h = 1; h <= 30; h *= 5.5) {
		v = scored_vol("ETH", h, "", src, sizeof(src));
		ck_assert_str_eq(src, "history");
		expect_rel(v, lc_vol_blend(e.ewma_var, e.long_run_var, h,
		    cfg.vol_mean_reversion_days), 1e-12, "sigma(h)");
	}
	free(c);
}
END_TEST

START_TEST(too_little_history_keeps_the_written_volatility)
{
	struct lc_candle *c = gbm_candles(5, T0, 2000, 0.7, 72);
	char src[16];

	ck_assert_int_eq(put_asset("ETH", "{\"price\": 2000, "
	    "\"volatility\": 0.25}"), 201);
	/* 71 returns: one short of the rule */
	post_candles("ETH", c, 72);
	ck_assert(scored_vol("ETH", 1, "", src, sizeof(src)) == 0.25);
	ck_assert_str_eq(src, "explicit");
	/* the 72nd return (spanning 72 hours = 3 days): history */
	c[0].t = T0 + 72 * HOUR;
	c[0].open = c[0].high = c[0].low = c[0].close = c[71].close;
	post_candles("ETH", c, 1);
	ck_assert(scored_vol("ETH", 1, "", src, sizeof(src)) != 0.25);
	ck_assert_str_eq(src, "history");
	free(c);
}
END_TEST

START_TEST(incremental_writes_equal_batch)
{
	size_t n = 24 * 100, k, step = 97;
	struct lc_candle *c = gbm_candles(17, T0, 50, 0.9, n);
	struct lc_vol_estimate e;
	cJSON *m;

	ck_assert_int_eq(put_asset("LINK", "{\"price\": 50}"), 201);
	for (k = 0; k < n; k += step)
		post_candles("LINK", c + k, k + step <= n ? step : n - k);
	/* rewrite the past once (a rebuild from the store) */
	c[100].close *= 1.01;
	c[100].high = fmax(c[100].high, c[100].close);
	post_candles("LINK", c + 100, 1);
	batch(c, n, &e);
	m = market("LINK");
	expect_rel(num(m, "volatility_history", "ewma"), sqrt(e.ewma_var),
	    1e-12, "ewma after many writes");
	expect_rel(num(m, "volatility_history", "long_run"),
	    sqrt(e.long_run_var), 1e-12, "long run after many writes");
	ck_assert_int_eq((int)num(m, "volatility_history", "returns"),
	    (int)n - 1);
	garch_matches(m, c, n, "after many writes");
	cJSON_Delete(m);
	/* a restart builds the same state from the store */
	api_app_release(&app);
	ck_assert_int_eq(api_app_init(&app), 0);
	m = market("LINK");
	expect_rel(num(m, "volatility_history", "ewma"), sqrt(e.ewma_var),
	    1e-12, "ewma after a restart");
	garch_matches(m, c, n, "after a restart");
	cJSON_Delete(m);
	free(c);
}
END_TEST

START_TEST(source_pin_and_request_override)
{
	struct lc_candle *c = gbm_candles(23, T0, 100, 0.6, 24 * 10);
	char src[16];
	cJSON *m;

	ck_assert_int_eq(put_asset("ETH", "{\"price\": 100, "
	    "\"volatility\": 0.3, \"volatility_source\": \"explicit\"}"), 201);
	post_candles("ETH", c, 24 * 10);
	m = market("ETH");
	ck_assert_str_eq(str(m, "volatility_source"), "explicit");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m,
	    "volatility_pinned")));
	cJSON_Delete(m);
	ck_assert(scored_vol("ETH", 1, "", src, sizeof(src)) == 0.3);
	ck_assert_str_eq(src, "explicit");
	/* unpin: history */
	ck_assert_int_eq(put_asset("ETH", "{\"volatility_source\": "
	    "\"history\"}"), 200);
	ck_assert(scored_vol("ETH", 1, "", src, sizeof(src)) != 0.3);
	ck_assert_str_eq(src, "history");
	/* a written volatility is explicit (unpinned) ... */
	ck_assert_int_eq(put_asset("ETH", "{\"volatility\": 0.4}"), 200);
	ck_assert(scored_vol("ETH", 1, "", src, sizeof(src)) == 0.4);
	ck_assert_str_eq(src, "explicit");
	/* ... until the next price write */
	post_candles("ETH", c + 24 * 9, 1);
	ck_assert(scored_vol("ETH", 1, "", src, sizeof(src)) != 0.4);
	ck_assert_str_eq(src, "history");
	/* the request's override wins over both */
	ck_assert(scored_vol("ETH", 1, ", \"volatility\": {\"ETH\": 0.55}",
	    src, sizeof(src)) == 0.55);
	ck_assert_str_eq(src, "request");
	ck_assert_int_eq(put_asset("ETH", "{\"volatility_source\": "
	    "\"sometimes\"}"), 422);
	free(c);
}
END_TEST

START_TEST(score_echoes_calibration)
{
	static const char body[] = "{\"positions\": [{\"id\": \"p\", "
	    "\"type\": \"perp\", \"asset\": \"ETH\", \"side\": \"long\", "
	    "\"size\": 1, \"entry_price\": 100, \"leverage\": 5}]%s}";
	char b[512];
	const cJSON *cal, *bt;
	cJSON *j;

	ck_assert_int_eq(put_asset("ETH", "{\"price\": 100, "
	    "\"volatility\": 0.5}"), 201);
	snprintf(b, sizeof(b), body, "");
	j = score(b);
	cal = cJSON_GetObjectItemCaseSensitive(j, "calibration");
	ck_assert_str_eq(str(cal, "estimator"), "blend");
	ck_assert(num(cal, "half_life_days", NULL) ==
	    LC_VOL_DEFAULT_HALF_LIFE_DAYS);
	ck_assert(num(cal, "mean_reversion_days", NULL) ==
	    LC_VOL_DEFAULT_MEAN_REVERSION_DAYS);
	bt = cJSON_GetObjectItemCaseSensitive(cal, "backtest");
	ck_assert(num(bt, "horizon_days", NULL) == 1);
	ck_assert(num(bt, "oe_down", NULL) > 0 && num(bt, "oe_up", NULL) > 0);
	ck_assert(num(bt, "n", NULL) > 0);
	cJSON_Delete(j);
	/* no figures for a horizon the calibration did not run */
	snprintf(b, sizeof(b), body, ", \"horizon_days\": 2");
	j = score(b);
	cal = cJSON_GetObjectItemCaseSensitive(j, "calibration");
	ck_assert(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(cal,
	    "backtest")));
	cJSON_Delete(j);
}
END_TEST

START_TEST(ewma_correlation_for_unwritten_pairs)
{
	size_t n = 24 * 60, i;
	struct lc_candle *a = gbm_candles(31, T0, 100, 0.6, n);
	struct lc_candle *b = gbm_candles(32, T0, 100, 0.6, n);
	int64_t *t = malloc(n * sizeof(*t));
	double *ca = malloc(n * sizeof(double));
	double *cb = malloc(n * sizeof(double));
	struct snapshot *s;
	struct api_answer ans;
	double rho;
	long ia, ib;

	ck_assert(t != NULL && ca != NULL && cb != NULL);
	/* b shares half of a's returns: correlated */
	for (i = 1; i < n; i++) {
		double r = 0.5 * log(a[i].close / a[i - 1].close) +
		    0.5 * log(b[i].close / b[i - 1].close);

		b[i].open = b[i - 1].close;
		b[i].close = b[i].open * exp(r);
		b[i].high = fmax(b[i].open, b[i].close);
		b[i].low = fmin(b[i].open, b[i].close);
	}
	for (i = 0; i < n; i++) {
		t[i] = a[i].t;
		ca[i] = a[i].close;
		cb[i] = b[i].close;
	}
	ck_assert_int_eq(lc_vol_correlation(t, ca, n, t, cb, n,
	    cfg.vol_half_life_days, &rho), LC_OK);
	ck_assert(rho > 0.3);
	ck_assert_int_eq(put_asset("AAA", "{\"price\": 100}"), 201);
	ck_assert_int_eq(put_asset("BBB", "{\"price\": 100}"), 201);
	ck_assert_int_eq(put_asset("CCC", "{\"price\": 100}"), 201);
	post_candles("AAA", a, n);
	post_candles("BBB", b, n);
	post_candles("CCC", a, 50);	/* too few common returns */
	s = snapshot_cell_get(app.cell);
	ia = snapshot_find(s, "AAA");
	ib = snapshot_find(s, "BBB");
	expect_rel(s->rho[(size_t)ia * s->nassets + (size_t)ib], rho, 1e-12,
	    "estimated rho");
	ck_assert(s->rho[(size_t)ib * s->nassets + (size_t)ia] ==
	    s->rho[(size_t)ia * s->nassets + (size_t)ib]);
	ck_assert(s->rho[(size_t)ia * s->nassets +
	    (size_t)snapshot_find(s, "CCC")] == cfg.default_correlation);
	snapshot_unref(s);
	/* a written correlation wins */
	api_answer_init(&ans);
	ck_assert_int_eq(api_put_correlations(&app, "{\"pairs\": [[\"AAA\", "
	    "\"BBB\", -0.2]]}", strlen("{\"pairs\": [[\"AAA\", \"BBB\", "
	    "-0.2]]}"), 0, &ans), 200);
	api_answer_release(&ans);
	s = snapshot_cell_get(app.cell);
	ck_assert(s->rho[(size_t)snapshot_find(s, "AAA") * s->nassets +
	    (size_t)snapshot_find(s, "BBB")] == -0.2);
	snapshot_unref(s);
	free(t);
	free(ca);
	free(cb);
	free(a);
	free(b);
}
END_TEST

/* ---- CLI -------------------------------------------------------------- */

/* stdout of a shell command (malloc'd) and its exit status. */
static char *
capture(const char *cmd, int *status)
{
	FILE *p = popen(cmd, "r");
	char *buf = NULL;
	size_t cap = 0;
	int st;

	ck_assert(p != NULL);
	if (getdelim(&buf, &cap, '\0', p) < 0) {
		free(buf);
		buf = strdup("");
	}
	st = pclose(p);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return buf;
}

static void
write_csv(const char *path, const struct lc_candle *c, size_t n)
{
	FILE *f = fopen(path, "w");
	size_t i;

	ck_assert(f != NULL);
	fprintf(f, "time,open,high,low,close,volume\n");
	for (i = 0; i < n; i++)
		fprintf(f, "%lld,%.17g,%.17g,%.17g,%.17g,1\n",
		    (long long)c[i].t, c[i].open, c[i].high, c[i].low,
		    c[i].close);
	fclose(f);
}

START_TEST(cli_import_equals_api_and_backtest_db_equals_csv)
{
	size_t n = 24 * 200, n2 = 0;
	struct lc_candle *c = gbm_candles(41, T0, 100, 0.8, n), *c2 = NULL;
	char csv[600], cmd[2048], db2[600];
	char *cli, *bt_db, *bt_csv, *api_text;
	struct api_answer a;
	struct store *st2;
	char *err = NULL;
	int st;

	ck_assert_int_eq(put_asset("ETH", "{\"price\": 100}"), 201);
	snprintf(csv, sizeof(csv), "%s/ETH.csv", dir);
	write_csv(csv, c, n);
	/* the API write in process */
	api_answer_init(&a);
	ck_assert_int_eq(api_post_candles(&app, "ETH", c, n, &a), 200);
	api_text = api_answer_text(&a);
	api_answer_release(&a);
	/* the same file through the binary into a second database */
	snprintf(db2, sizeof(db2), "%s/cli.db", dir);
	st2 = store_open(db2, &err);
	ck_assert(st2 != NULL);
	ck_assert_int_eq(store_put_asset(st2, "ETH", 100, 0,
	    "2026-01-01T00:00:00Z", NULL), STORE_OK);
	store_close(st2);
	snprintf(cmd, sizeof(cmd), "'%s' import --db '%s' --prices XYZ '%s' "
	    "2>&1", test_bin(), db2, csv);
	cli = capture(cmd, &st);
	ck_assert_int_eq(st, 1);
	ck_assert_msg(strstr(cli, "unknown asset XYZ") != NULL, "%s", cli);
	free(cli);
	snprintf(cmd, sizeof(cmd), "'%s' import --db '%s' --prices ETH '%s'",
	    test_bin(), db2, csv);
	cli = capture(cmd, &st);
	ck_assert_int_eq(st, 0);
	ck_assert_str_eq(strtok(cli, "\n"), api_text);
	free(cli);
	st2 = store_open(db2, &err);
	ck_assert(st2 != NULL);
	ck_assert_int_eq(store_get_prices(st2, "ETH", INT64_MIN, INT64_MAX, 0,
	    &c2, &n2), STORE_OK);
	store_close(st2);
	ck_assert_uint_eq(n2, n);
	ck_assert(memcmp(c2, c, n * sizeof(*c)) == 0);
	free(c2);
	/* backtest from the database equals the run on the CSV file */
	snprintf(cmd, sizeof(cmd), "'%s' backtest --horizons 1,3 --db '%s'",
	    test_bin(), db2);
	bt_db = capture(cmd, &st);
	ck_assert_int_eq(st, 0);
	snprintf(cmd, sizeof(cmd), "'%s' backtest --horizons 1,3 '%s'",
	    test_bin(), csv);
	bt_csv = capture(cmd, &st);
	ck_assert_int_eq(st, 0);
	ck_assert(strlen(bt_csv) > 100);
	ck_assert_str_eq(bt_db, bt_csv);
	free(bt_db);
	free(bt_csv);
	free(api_text);
	free(c);
}
END_TEST

/* ---- seed and HTTP ------------------------------------------------------ */

START_TEST(seed_and_http)
{
	static const char *const args[] = { "--api-key", "k1", "--max-body",
		"4k", "--price-retention-days", "0", NULL };
	struct server_proc srv;
	struct http_reply r;
	char *sdir = NULL, sdb[512], big[6000];
	size_t i, len = 0;

	ck_assert_int_eq(store_fixture_seeded(&sdir, sdb, sizeof(sdb),
	    "s.db", T_MS), 0);
	ck_assert_int_eq(server_proc_start(&srv, sdb, args, T_MS), 0);
	/* the seeded markets with history use it; stable ones do not */
	ck_assert_int_eq(http_request(srv.port, "GET", "/v1/markets/BTC",
	    NULL, NULL, 0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert(strstr(r.body, "\"volatility_source\":\"history\"") != NULL);
	ck_assert(strstr(r.body, "\"ewma\":null") == NULL);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "GET", "/v1/markets/USDC",
	    NULL, NULL, 0, &r, T_MS), 0);
	ck_assert(strstr(r.body, "\"volatility_source\":\"explicit\"") !=
	    NULL);
	http_reply_release(&r);
	/* a write needs the key */
	ck_assert_int_eq(http_request(srv.port, "POST",
	    "/v1/markets/ETH/prices", "Content-Type: application/json\r\n",
	    "{\"points\": [[1, 5]]}", 20, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 401);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "POST",
	    "/v1/markets/ETH/prices", "Content-Type: application/json\r\n"
	    "Authorization: Bearer k1\r\n", "{\"points\": [[1, 5]]}", 20, &r,
	    T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "GET",
	    "/v1/markets/ETH/prices?to=1&limit=5", NULL, NULL, 0, &r, T_MS),
	    0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(r.body, "{\"asset\":\"ETH\",\"count\":1,"
	    "\"truncated\":false,\"candles\":[[1,5,5,5,5]]}");
	http_reply_release(&r);
	/* over the body cap: 413, nothing stored */
	len += (size_t)snprintf(big, sizeof(big), "{\"points\": [");
	for (i = 0; len + 40 < sizeof(big); i++)
		len += (size_t)snprintf(big + len, sizeof(big) - len,
		    "%s[%zu, 5]", i ? "," : "", 100 + i);
	len += (size_t)snprintf(big + len, sizeof(big) - len, "]}");
	ck_assert_int_eq(http_request(srv.port, "POST",
	    "/v1/markets/ETH/prices", "Content-Type: application/json\r\n"
	    "Authorization: Bearer k1\r\n", big, len, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 413);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "GET",
	    "/v1/markets/ETH/prices?from=100&to=200", NULL, NULL, 0, &r,
	    T_MS), 0);
	ck_assert(strstr(r.body, "\"count\":0") != NULL);
	http_reply_release(&r);
	ck_assert_int_eq(server_proc_stop(&srv, 15, T_MS), 0);
	fixture_stop(&srv, &sdir, T_MS);
}
END_TEST

static Suite *
prices_suite(void)
{
	Suite *s = suite_create("prices");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, bad_input_pointer_and_nothing_stored);
	tcase_add_test(tc, too_many_entries_is_422);
	tcase_add_test(tc, upsert_sort_duplicates_round_trip);
	tcase_add_test(tc, retention_cuts_in_the_same_write);
	tcase_add_test(tc, volatility_equals_the_batch_formulas);
	tcase_add_test(tc, too_little_history_keeps_the_written_volatility);
	tcase_add_test(tc, incremental_writes_equal_batch);
	tcase_add_test(tc, source_pin_and_request_override);
	tcase_add_test(tc, score_echoes_calibration);
	tcase_add_test(tc, ewma_correlation_for_unwritten_pairs);
	tcase_add_test(tc, cli_import_equals_api_and_backtest_db_equals_csv);
	tcase_add_test(tc, seed_and_http);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(prices_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

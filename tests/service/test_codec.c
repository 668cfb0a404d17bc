/*
 * test_codec.c - the JSON codecs and the market snapshot: a table of
 * malformed and contract-breaking score requests (status and every JSON
 * pointer reported), valid requests and what they decode to, the answer's
 * shape, the market write decoders (every depth form, levels,
 * correlations) and snapshot building, lookup, reference counting and
 * publishing.  Number formatting and the emitter: test_json.c; RFC 3339
 * times: test_rfc3339.c.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "cascade/score.h"
#include "codec_int.h"
#include "failalloc.h"
#include "marketdata.h"
#include "snapshot.h"

/* ---- fixture: ETH, BTC (volatile, with depth), USDC, DAI (stable) --- */

static struct market_data md;
static struct snapshot *snap;

static void
add_curve(struct md_asset *a, const char *venue, int side, const char *as_of,
    const double *bps, const double *qty, size_t n)
{
	struct md_curve *c;
	size_t bad;

	a->curves = realloc(a->curves, (a->ncurves + 1) * sizeof(*c));
	ck_assert_ptr_nonnull(a->curves);
	c = &a->curves[a->ncurves++];
	memset(c, 0, sizeof(*c));
	snprintf(c->venue, sizeof(c->venue), "%s", venue);
	snprintf(c->as_of, sizeof(c->as_of), "%s", as_of);
	c->side = side;
	lc_curve_init(&c->curve);
	ck_assert_int_eq(lc_curve_from_points(&c->curve, (enum lc_side)side,
	                     bps, qty, n, &bad),
	    LC_OK);
}

static void
add_level(struct md_asset *a, double price, double qty, int side, int64_t seq)
{
	struct md_level *l;

	a->levels = realloc(a->levels, (a->nlevels + 1) * sizeof(*l));
	ck_assert_ptr_nonnull(a->levels);
	l = &a->levels[a->nlevels++];
	memset(l, 0, sizeof(*l));
	l->price = price;
	l->qty = qty;
	l->side = side;
	l->seq = seq;
}

static struct md_asset *
add_asset(const char *sym, double price, double vol)
{
	struct md_asset *a;

	md.assets = realloc(md.assets, (md.nassets + 1) * sizeof(*a));
	ck_assert_ptr_nonnull(md.assets);
	a = &md.assets[md.nassets++];
	memset(a, 0, sizeof(*a));
	snprintf(a->symbol, sizeof(a->symbol), "%s", sym);
	snprintf(a->updated_at, sizeof(a->updated_at), "2026-11-26T00:00:00Z");
	a->price = price;
	a->vol = vol;
	return a;
}

static void
fixture_setup(void)
{
	static const double bps[] = { 100, 200, 1000 };
	static const double qty[] = { 50, 100, 400 };
	static const double qty2[] = { 10, 20, 80 };
	struct md_asset *a;

	market_data_init(&md);
	a = add_asset("ETH", 2000, 0.8);
	add_curve(a, "main", LC_BID, "2026-11-26T00:00:00Z", bps, qty, 3);
	add_curve(a, "main", LC_ASK, "2026-11-26T00:00:00Z", bps, qty, 3);
	add_curve(a, "other", LC_BID, "2026-11-26T01:00:00Z", bps, qty2, 3);
	add_level(a, 1900, 10, LC_DOWN, 3);
	add_level(a, 1950, 5, LC_DOWN, 4);
	add_level(a, 1900, 7, LC_DOWN, 1);
	add_level(a, 2100, 3, LC_UP, 2);
	add_level(a, 2050, 1, LC_DOWN, 5); /* stale: at or above P */
	a = add_asset("BTC", 50000, 0.6);
	add_curve(a, "main", LC_BID, "2026-11-26T00:00:00Z", bps, qty, 3);
	add_asset("USDC", 1, 0);
	add_asset("DAI", 1, 0);
	md.corr = calloc(1, sizeof(*md.corr));
	md.ncorr = 1;
	strcpy(md.corr[0].a, "BTC");
	strcpy(md.corr[0].b, "ETH");
	md.corr[0].rho = 0.75;
	ck_assert_int_eq(snapshot_build(&md, 0.1, &snap), 0);
}

static void
fixture_teardown(void)
{
	snapshot_unref(snap);
	snap = NULL;
	market_data_release(&md);
}

/* ---- the bad-input table -------------------------------------------- */

#define PERP \
	"{\"id\":\"p\",\"type\":\"perp\",\"asset\":\"ETH\"," \
	"\"side\":\"long\",\"size\":1,\"entry_price\":2000,\"leverage\":10"
#define LOAN \
	"{\"id\":\"l\",\"type\":\"loan\",\"collateral\":[{\"asset\":" \
	"\"ETH\",\"amount\":10,\"liquidation_threshold\":0.8}],\"debt\":" \
	"[{\"asset\":\"USDC\",\"amount\":1000}]"
#define ONE(extra) "{\"positions\":[" PERP "}]" extra "}"
#define PERPX(extra) "{\"positions\":[" PERP extra "}]}"
#define LOANX(extra) "{\"positions\":[" LOAN extra "}]}"
#define BARE(pos) "{\"positions\":[" pos "]}"

struct bad_case {
	const char *body;
	int status;
	const char *ptr[4]; /* exactly the pointers reported */
};

static const struct bad_case bad_cases[] = {
	/* malformed JSON: 400 without pointers */
	{ "", 400, { NULL } },
	{ "{", 400, { NULL } },
	{ "{\"positions\":[]} x", 400, { NULL } },
	{ "{\"positions\":[1,]}", 400, { NULL } },
	{ "{\"a\":\"\xff\"}", 400, { NULL } },
	{ "nul", 400, { NULL } },
	/* top level */
	{ "[1]", 422, { "" } },
	{ "{}", 422, { "/positions" } },
	{ "{\"positions\":{}}", 422, { "/positions" } },
	{ "{\"positions\":[]}", 422, { "/positions" } },
	{ ONE(",\"foo\":1"), 422, { "/foo" } },
	{ ONE(",\"seed\":1,\"seed\":2"), 422, { "/seed" } },
	{ ONE(",\"horizon_days\":0"), 422, { "/horizon_days" } },
	{ ONE(",\"horizon_days\":366"), 422, { "/horizon_days" } },
	{ ONE(",\"horizon_days\":\"1\""), 422, { "/horizon_days" } },
	{ ONE(",\"tail_dof\":2"), 422, { "/tail_dof" } },
	{ ONE(",\"tail_dof\":1000.5"), 422, { "/tail_dof" } },
	{ ONE(",\"cascade_threshold_bps\":0"), 422,
	    { "/cascade_threshold_bps" } },
	{ ONE(",\"cascade_threshold_bps\":1e7"), 422,
	    { "/cascade_threshold_bps" } },
	{ ONE(",\"paths\":0"), 422, { "/paths" } },
	{ ONE(",\"paths\":1.5"), 422, { "/paths" } },
	{ ONE(",\"paths\":1000001"), 422, { "/paths" } },
	{ ONE(",\"steps\":257"), 422, { "/steps" } },
	{ ONE(",\"seed\":-1"), 422, { "/seed" } },
	{ ONE(",\"seed\":9007199254740992"), 422, { "/seed" } },
	{ ONE(",\"depth_scale\":0"), 422, { "/depth_scale" } },
	{ ONE(",\"depth_scale\":1e999"), 422, { "/depth_scale" } },
	{ ONE(",\"include_market_levels\":1"), 422,
	    { "/include_market_levels" } },
	{ ONE(",\"prices\":{\"XYZ\":1}"), 422, { "/prices/XYZ" } },
	{ ONE(",\"prices\":{\"ETH\":-1}"), 422, { "/prices/ETH" } },
	{ ONE(",\"prices\":{\"ETH\":1e16}"), 422, { "/prices/ETH" } },
	{ ONE(",\"prices\":{\"USD\":2}"), 422, { "/prices/USD" } },
	{ ONE(",\"prices\":[]"), 422, { "/prices" } },
	{ ONE(",\"prices\":{\"a/b\":1}"), 422, { "/prices/a~1b" } },
	{ ONE(",\"volatility\":{\"ETH\":101}"), 422, { "/volatility/ETH" } },
	{ ONE(",\"horizon_days\":0,\"paths\":0,\"bogus\":true"), 422,
	    { "/horizon_days", "/paths", "/bogus" } },
	/* positions */
	{ BARE("1"), 422, { "/positions/0" } },
	{ BARE("{\"type\":\"perp\",\"asset\":\"ETH\",\"side\":\"long\","
	       "\"size\":1,\"entry_price\":1,\"margin\":1}"),
	    422, { "/positions/0/id" } },
	{ BARE("{\"id\":\"\",\"type\":\"perp\",\"asset\":\"ETH\","
	       "\"side\":\"long\",\"size\":1,\"entry_price\":1,\"margin\":1}"),
	    422, { "/positions/0/id" } },
	{ BARE("{\"id\":\"a\\u0001\",\"type\":\"perp\",\"asset\":\"ETH\","
	       "\"side\":\"long\",\"size\":1,\"entry_price\":1,\"margin\":1}"),
	    422, { "/positions/0/id" } },
	{ BARE("{\"id\":\"x\",\"type\":\"swap\"}"), 422,
	    { "/positions/0/type" } },
	{ BARE("{\"id\":\"x\"}"), 422, { "/positions/0/type" } },
	{ "{\"positions\":[" PERP "}," PERP "}," PERP "}]}", 422,
	    { "/positions/1/id", "/positions/2/id" } },
	/* perps */
	{ PERPX(",\"sizee\":1"), 422, { "/positions/0/sizee" } },
	{ BARE("{\"id\":\"p\",\"type\":\"perp\",\"asset\":\"ETH\","
	       "\"side\":\"long\",\"size\":0,\"entry_price\":-1,\"margin\":1,"
	       "\"x\":1}"),
	    422,
	    { "/positions/0/x", "/positions/0/size",
	        "/positions/0/entry_price" } },
	{ BARE("{\"id\":\"p\",\"type\":\"perp\",\"asset\":\"XYZ\","
	       "\"side\":\"long\",\"size\":1,\"entry_price\":1,\"margin\":1}"),
	    422, { "/positions/0/asset" } },
	{ BARE("{\"id\":\"p\",\"type\":\"perp\",\"asset\":\"USDC\","
	       "\"side\":\"long\",\"size\":1,\"entry_price\":1,\"margin\":1}"),
	    422, { "/positions/0/asset" } },
	{ "{\"positions\":[" PERP "}],\"volatility\":{\"ETH\":0}}", 422,
	    { "/positions/0/asset" } },
	{ PERPX(",\"margin\":100"), 422, { "/positions/0/leverage" } },
	{ BARE("{\"id\":\"p\",\"type\":\"perp\",\"asset\":\"ETH\","
	       "\"side\":\"long\",\"size\":1,\"entry_price\":1}"),
	    422, { "/positions/0/margin" } },
	{ BARE("{\"id\":\"p\",\"type\":\"perp\",\"asset\":\"ETH\","
	       "\"side\":\"long\",\"size\":1,\"entry_price\":1,"
	       "\"leverage\":0.5}"),
	    422, { "/positions/0/leverage" } },
	{ BARE("{\"id\":\"p\",\"type\":\"perp\",\"asset\":\"ETH\","
	       "\"side\":\"up\",\"size\":1,\"entry_price\":1,\"margin\":1}"),
	    422, { "/positions/0/side" } },
	{ PERPX(",\"maintenance_margin_rate\":1"), 422,
	    { "/positions/0/maintenance_margin_rate" } },
	{ PERPX(",\"maintenance_amount\":-1"), 422,
	    { "/positions/0/maintenance_amount" } },
	{ PERPX(",\"maintenance_margin_rate\":0.01,\"maintenance_tiers\":"
	        "[{\"mmr\":0.01}]"),
	    422, { "/positions/0/maintenance_tiers" } },
	{ PERPX(",\"maintenance_tiers\":[]"), 422,
	    { "/positions/0/maintenance_tiers" } },
	{ PERPX(",\"maintenance_tiers\":[{\"max_notional\":50000,"
	        "\"mmr\":0.004},{\"mmr\":0.005,\"maintenance_amount\":10}]"),
	    422, { "/positions/0/maintenance_tiers/1" } },
	{ PERPX(",\"maintenance_tiers\":[{\"mmr\":0.004},{\"mmr\":0.005,"
	        "\"maintenance_amount\":10}]"),
	    422, { "/positions/0/maintenance_tiers/0/max_notional" } },
	{ PERPX(",\"maintenance_tiers\":[{\"max_notional\":5,\"mmr\":0.1,"
	        "\"foo\":1}]"),
	    422, { "/positions/0/maintenance_tiers/0/foo" } },
	/* loans */
	{ BARE("{\"id\":\"l\",\"type\":\"loan\",\"collateral\":[{\"asset\":"
	       "\"ETH\",\"amount\":1}]}"),
	    422, { "/positions/0/collateral/0/liquidation_threshold" } },
	{ BARE("{\"id\":\"l\",\"type\":\"loan\",\"debt\":[{\"asset\":"
	       "\"USDC\",\"amount\":1,\"liquidation_threshold\":0.5}]}"),
	    422, { "/positions/0/debt/0/liquidation_threshold" } },
	{ BARE("{\"id\":\"l\",\"type\":\"loan\",\"collateral\":[{\"asset\":"
	       "\"ETH\",\"amount\":1,\"liquidation_threshold\":0}]}"),
	    422, { "/positions/0/collateral/0/liquidation_threshold" } },
	{ BARE("{\"id\":\"l\",\"type\":\"loan\",\"collateral\":[{\"asset\":"
	       "\"ETH\",\"amount\":1,\"liquidation_threshold\":1.1}]}"),
	    422, { "/positions/0/collateral/0/liquidation_threshold" } },
	{ LOANX(",\"protocol\":\"maker\""), 422, { "/positions/0/protocol" } },
	{ LOANX(",\"close_factor\":0"), 422, { "/positions/0/close_factor" } },
	{ LOANX(",\"liquidation_bonus\":1"), 422,
	    { "/positions/0/liquidation_bonus" } },
	{ LOANX(",\"full_liquidation_below\":-1"), 422,
	    { "/positions/0/full_liquidation_below" } },
	{ BARE("{\"id\":\"l\",\"type\":\"loan\",\"collateral\":[{\"asset\":"
	       "\"ETH\",\"amount\":0,\"liquidation_threshold\":0.5}],\"debt\":"
	       "[{\"asset\":\"USDC\",\"amount\":0}]}"),
	    422, { "/positions/0" } },
	{ BARE(
	      "{\"id\":\"l\",\"type\":\"loan\",\"collateral\":[{\"asset\":"
	      "\"USDC\",\"amount\":5,\"liquidation_threshold\":0.5},{\"asset\":"
	      "\"ETH\",\"amount\":1,\"liquidation_threshold\":0.99}],"
	      "\"liquidation_bonus\":0.05,\"debt\":[{\"asset\":\"USD\","
	      "\"amount\":100}]}"),
	    422, { "/positions/0/collateral/1/liquidation_threshold" } },
	{ BARE("{\"id\":\"l\",\"type\":\"loan\",\"collateral\":[{\"asset\":"
	       "\"XYZ\",\"amount\":-1,\"liquidation_threshold\":0.5}]}"),
	    422,
	    { "/positions/0/collateral/0/asset",
	        "/positions/0/collateral/0/amount" } },
	{ BARE("{\"id\":\"l\",\"type\":\"loan\",\"collateral\":[{\"asset\":"
	       "\"ETH\",\"amount\":\"1\",\"liquidation_threshold\":0.5}]}"),
	    422, { "/positions/0/collateral/0/amount" } },
	{ BARE("{\"id\":\"l\",\"type\":\"loan\",\"collateral\":{}}"), 422,
	    { "/positions/0/collateral" } },
	/* the Monte Carlo cost bound: 2 assets, both directions */
	{ "{\"positions\":[" PERP "},{\"id\":\"s\",\"type\":\"perp\","
	  "\"asset\":\"BTC\",\"side\":\"short\",\"size\":1,"
	  "\"entry_price\":50000,\"margin\":5000}],\"paths\":1000000,"
	  "\"steps\":256}",
	    422, { "/paths" } },
};

START_TEST(test_bad_input)
{
	const struct bad_case *bc = &bad_cases[_i];
	struct score_request r;
	struct problem err;
	size_t k, n = 0, e;

	codec_request_init(&r);
	problem_init(&err);
	ck_assert_int_eq(codec_decode_score(bc->body, strlen(bc->body), snap,
	                     NULL, &r, &err),
	    -1);
	while (n < 4 && bc->ptr[n] != NULL)
		n++;
	for (e = 0; e < err.nerrors; e++)
		fprintf(stderr, "  case %d: %s: %s\n", _i,
		    err.errors[e].pointer, err.errors[e].detail);
	ck_assert_msg(err.status == bc->status,
	    "case %d (%s): status %d, "
	    "want %d",
	    _i, bc->body, err.status, bc->status);
	ck_assert_msg(err.nerrors == n, "case %d (%s): %zu errors, want %zu",
	    _i, bc->body, err.nerrors, n);
	for (k = 0; k < n; k++) {
		for (e = 0; e < err.nerrors; e++)
			if (strcmp(err.errors[e].pointer, bc->ptr[k]) == 0)
				break;
		ck_assert_msg(e < err.nerrors, "case %d: pointer %s missing",
		    _i, bc->ptr[k]);
	}
	ck_assert_ptr_null(r.pos);
	problem_release(&err);
	codec_request_release(&r);
}
END_TEST

START_TEST(test_nesting_and_limits)
{
	struct codec_limits lim;
	struct score_request r;
	struct problem err;
	char *deep;
	size_t i, n = 1100;
	const char *three =
	    "{\"positions\":[" PERP "},{\"id\":\"q\","
	    "\"type\":\"perp\",\"asset\":\"ETH\",\"side\":\"long\",\"size\":1,"
	    "\"entry_price\":2000,\"margin\":100},{\"id\":\"r\",\"type\":"
	    "\"perp\",\"asset\":\"ETH\",\"side\":\"long\",\"size\":1,"
	    "\"entry_price\":2000,\"margin\":100}]}";

	deep = malloc(2 * n + 32);
	ck_assert_ptr_nonnull(deep);
	strcpy(deep, "{\"positions\":");
	for (i = 0; i < n; i++)
		strcat(deep, "[");
	for (i = 0; i < n; i++)
		strcat(deep, "]");
	strcat(deep, "}");
	codec_request_init(&r);
	problem_init(&err);
	ck_assert_int_eq(codec_decode_score(deep, strlen(deep), snap, NULL, &r,
	                     &err),
	    -1);
	ck_assert_int_eq(err.status, 400);
	problem_release(&err);
	free(deep);

	codec_limits_default(&lim);
	lim.max_positions = 2;
	ck_assert_int_eq(codec_decode_score(three, strlen(three), snap, &lim,
	                     &r, &err),
	    -1);
	ck_assert_int_eq(err.status, 422);
	ck_assert_uint_eq(err.nerrors, 1);
	ck_assert_str_eq(err.errors[0].pointer, "/positions");
	problem_release(&err);
	lim.max_positions = 3;
	ck_assert_int_eq(codec_decode_score(three, strlen(three), snap, &lim,
	                     &r, &err),
	    0);
	ck_assert_uint_eq(r.npos, 3);
	codec_request_release(&r);
	problem_release(&err);
}
END_TEST

START_TEST(test_hostile)
{
	struct score_request r;
	struct problem err;
	size_t i, n = 50000, len = 0;
	char *body = malloc(n * 16 + 256);

	/* 50000 unknown override keys: linear time, 100 errors kept */
	ck_assert_ptr_nonnull(body);
	len += (size_t)sprintf(body,
	    "{\"positions\":[" PERP "}],"
	    "\"prices\":{");
	for (i = 0; i < n; i++)
		len += (size_t)sprintf(body + len, "%s\"K%zu\":1", i ? "," : "",
		    i);
	strcpy(body + len, "}}");
	len += 2;
	codec_request_init(&r);
	problem_init(&err);
	ck_assert_int_eq(codec_decode_score(body, len, snap, NULL, &r, &err),
	    -1);
	ck_assert_int_eq(err.status, 422);
	ck_assert_uint_eq(err.nerrors, CODEC_MAX_ERRORS);
	ck_assert_ptr_nonnull(strstr(err.detail, "50000"));
	problem_release(&err);
	free(body);
	ck_assert(codec_symbol_valid("ETH"));
	ck_assert(codec_symbol_valid("W.ETH_2-X"));
	ck_assert(codec_symbol_valid("ABCDEFGHIJKLMNOP"));
	ck_assert(!codec_symbol_valid("ABCDEFGHIJKLMNOPQ"));
	ck_assert(!codec_symbol_valid("eth"));
	ck_assert(!codec_symbol_valid(""));
	ck_assert(!codec_symbol_valid("A/B"));
}
END_TEST

/* ---- valid requests ------------------------------------------------- */

static int
decode_ok(const char *body, struct score_request *r)
{
	struct problem err;
	size_t e;
	int rc;

	problem_init(&err);
	rc = codec_decode_score(body, strlen(body), snap, NULL, r, &err);
	for (e = 0; e < err.nerrors; e++)
		fprintf(stderr, "  %s: %s\n", err.errors[e].pointer,
		    err.errors[e].detail);
	problem_release(&err);
	return rc;
}

START_TEST(test_decode_defaults)
{
	struct score_request r;
	long eth = snapshot_find(snap, "ETH");

	codec_request_init(&r);
	ck_assert_int_eq(decode_ok(ONE(""), &r), 0);
	ck_assert_double_eq(r.params.horizon_days, 1);
	ck_assert_double_eq(r.params.tail_dof, 4);
	ck_assert_double_eq(r.params.threshold_bps, 100);
	ck_assert_uint_eq(r.params.paths, 20000);
	ck_assert_uint_eq(r.params.steps, 16);
	ck_assert_uint_eq(r.params.seed, 1);
	ck_assert_double_eq(r.params.depth_scale, 1);
	ck_assert_int_eq(r.params.include_market_levels, 1);
	ck_assert_uint_eq(r.npos, 1);
	ck_assert_str_eq(r.pos[0].id, "p");
	ck_assert_int_eq(r.pos[0].type, LC_POS_PERP);
	ck_assert_uint_eq(r.pos[0].u.perp.asset, (uint32_t)eth);
	/* leverage 10: margin = size * entry / leverage */
	ck_assert_double_eq_tol(r.pos[0].u.perp.margin, 200, 1e-12);
	ck_assert_double_eq(r.pos[0].u.perp.mmr, 0.005);
	ck_assert_int_eq(r.monte_carlo, 0);
	ck_assert_ptr_eq(r.lc.pos, r.pos);
	ck_assert_ptr_eq(r.lc.price, r.price);
	ck_assert_double_eq(r.price[eth], 2000);
	codec_request_release(&r);
}
END_TEST

START_TEST(test_decode_full)
{
	const char *body =
	    "{\"positions\":[{\"id\":\"l\",\"type\":\"loan\","
	    "\"protocol\":\"compound-v3\",\"close_factor\":0.5,"
	    "\"liquidation_bonus\":0.1,\"collateral\":[{\"asset\":\"ETH\","
	    "\"amount\":1,\"liquidation_threshold\":0.8},{\"asset\":\"ETH\","
	    "\"amount\":3,\"liquidation_threshold\":0.6},{\"asset\":\"DAI\","
	    "\"amount\":0,\"liquidation_threshold\":0.5}],\"debt\":[{\"asset\":"
	    "\"USD\",\"amount\":1000}]},{\"id\":\"\\u00e9t\\u00e9\",\"type\":"
	    "\"perp\",\"asset\":\"BTC\",\"side\":\"short\",\"size\":2,"
	    "\"entry_price\":50000,\"margin\":10000,\"maintenance_tiers\":"
	    "[{\"max_notional\":50000,\"mmr\":0.004},{\"mmr\":0.005,"
	    "\"maintenance_amount\":50}]}],\"horizon_days\":7,\"tail_dof\":0,"
	    "\"cascade_threshold_bps\":50,\"paths\":1000.0,\"steps\":4,"
	    "\"seed\":9007199254740991,\"depth_scale\":0.5,"
	    "\"include_market_levels\":false,\"prices\":{\"ETH\":2500},"
	    "\"volatility\":{\"BTC\":0.9}}";
	struct score_request r;
	const struct lc_loan *l;
	long eth = snapshot_find(snap, "ETH"), btc = snapshot_find(snap, "BTC");
	size_t i;

	codec_request_init(&r);
	ck_assert_int_eq(decode_ok(body, &r), 0);
	ck_assert_double_eq(r.params.horizon_days, 7);
	ck_assert_double_eq(r.params.tail_dof, 0);
	ck_assert_uint_eq(r.params.paths, 1000);
	ck_assert_uint_eq(r.params.seed, 9007199254740991ULL);
	ck_assert_int_eq(r.params.include_market_levels, 0);
	ck_assert_double_eq(r.price[eth], 2500);
	ck_assert_double_eq(r.vol[btc], 0.9);
	ck_assert_double_eq(r.price[snap->usd], 1);
	l = &r.pos[0].u.loan;
	ck_assert_int_eq(l->protocol, LC_COMPOUND_V3);
	/* merged: 4 ETH with the amount-weighted LT; DAI 0 dropped */
	ck_assert_uint_eq(l->ncoll, 1);
	ck_assert_double_eq(l->coll[0].amount, 4);
	ck_assert_double_eq_tol(l->coll[0].lt, 0.65, 1e-12);
	ck_assert_uint_eq(l->ndebt, 1);
	ck_assert_uint_eq(l->debt[0].asset, snap->usd);
	ck_assert_str_eq(r.pos[1].id, "\xc3\xa9t\xc3\xa9");
	ck_assert_uint_eq(r.pos[1].u.perp.ntiers, 2);
	ck_assert(isinf(r.pos[1].u.perp.tiers[1].max_notional));
	/* loan on ETH down, short on BTC up: Monte Carlo */
	ck_assert_int_eq(r.monte_carlo, 1);
	/* compound-v3 ignores close_factor and bonus, with pointers */
	for (i = 0; i < r.warn.n; i++)
		if (strcmp(r.warn.w[i].code, "ignored_field") == 0)
			break;
	ck_assert_uint_lt(i, r.warn.n);
	ck_assert_uint_lt(i + 1, r.warn.n);
	ck_assert_str_eq(r.warn.w[i].pointer, "/positions/0/liquidation_bonus");
	ck_assert_str_eq(r.warn.w[i + 1].pointer, "/positions/0/close_factor");
	codec_request_release(&r);
}
END_TEST

START_TEST(test_encode_shape)
{
	const char *body = "{\"positions\":[" LOAN "}," PERP "}]}";
	struct score_request r;
	struct lc_score_result res;
	const cJSON *p0, *p1, *mk, *pf, *w;
	cJSON *got;
	char *out = NULL;

	codec_request_init(&r);
	lc_score_result_init(&res);
	ck_assert_int_eq(decode_ok(body, &r), 0);
	ck_assert_int_eq(lc_score(&snap->market, &r.lc, &res), LC_OK);
	ck_assert_int_eq(codec_encode_score(&r, &res, snap, &out), 0);
	got = cJSON_Parse(out);
	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(cJSON_GetObjectItem(got, "model")->valuestring,
	    "cascade-1");
	ck_assert_uint_eq(strlen(
	                      cJSON_GetObjectItem(got, "as_of")->valuestring),
	    20);
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(got, "horizon_days"));
	ck_assert_ptr_nonnull(
	    cJSON_GetObjectItem(got, "include_market_levels"));
	p0 = cJSON_GetArrayItem(cJSON_GetObjectItem(got, "positions"), 0);
	p1 = cJSON_GetArrayItem(cJSON_GetObjectItem(got, "positions"), 1);
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(p0, "health_factor"));
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(p0, "common_move_pct"));
	ck_assert_ptr_null(cJSON_GetObjectItem(p1, "health_factor"));
	ck_assert_ptr_null(cJSON_GetObjectItem(p1, "common_move_pct"));
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(p1, "std_error_static"));
	ck_assert_str_eq(cJSON_GetObjectItem(p1, "method")->valuestring,
	    "exact");
	mk = cJSON_GetArrayItem(cJSON_GetObjectItem(got, "markets"), 0);
	ck_assert_str_eq(cJSON_GetObjectItem(mk, "asset")->valuestring, "ETH");
	ck_assert_str_eq(cJSON_GetObjectItem(mk, "depth_as_of")->valuestring,
	    "2026-11-26T01:00:00Z");
	ck_assert_ptr_nonnull(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(mk, "down"),
	        "depth_exhausted"));
	pf = cJSON_GetObjectItem(got, "portfolio");
	ck_assert_ptr_nonnull(
	    cJSON_GetObjectItem(pf, "cascade_probability_std_error"));
	w = cJSON_GetObjectItem(got, "warnings");
	ck_assert(cJSON_IsArray(w));
	cJSON_Delete(got);
	free(out);
	lc_score_result_release(&res);
	codec_request_release(&r);
}
END_TEST

/* ---- market writes -------------------------------------------------- */

static struct md_asset *
fixture_asset(const char *sym)
{
	long i = market_data_find(&md, sym);

	ck_assert_int_ge(i, 0);
	return &md.assets[i];
}

/* Decode a depth body; return the status (0 on success). */
static int
depth(const char *body, struct codec_depth *d, struct problem *err)
{
	problem_init(err);
	codec_depth_init(d);
	if (codec_decode_depth(body, strlen(body), fixture_asset("ETH"), d,
	        err) == 0)
		return 0;
	return err->status;
}

static int
has_pointer(const struct problem *err, const char *ptr)
{
	size_t i;

	for (i = 0; i < err->nerrors; i++)
		if (strcmp(err->errors[i].pointer, ptr) == 0)
			return 1;
	return 0;
}

START_TEST(test_depth_forms)
{
	struct codec_depth d;
	struct problem err;
	struct md_curve c[2];
	char *out;

	/* Binance: strings, extra members and elements ignored, mid 2000 */
	ck_assert_int_eq(depth("{\"lastUpdateId\":1,\"bids\":[[\"1990\","
	                       "\"2\",\"x\"],[\"1999.5\",\"1\"],[\"1990\","
	                       "\"3\"]],\"asks\":"
	                       "[[\"2000.5\",\"4\"]]}",
	                     &d, &err),
	    0);
	ck_assert(d.has[LC_BID] && d.has[LC_ASK]);
	ck_assert_uint_eq(d.curve[LC_BID].n, 2); /* 1990 merged */
	ck_assert_double_eq_tol(d.curve[LC_BID].bps[0], 2.5, 1e-9);
	ck_assert_double_eq(d.curve[LC_BID].qty[1], 6);
	ck_assert_uint_eq(codec_depth_curves(&d, "binance", c), 2);
	ck_assert_str_eq(c[0].venue, "binance");
	ck_assert_int_eq(codec_encode_depth(&d, "ETH", "binance", &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"point_count\":2"));
	free(out);
	codec_depth_release(&d);
	problem_release(&err);

	/* Bybit and OKX envelopes */
	ck_assert_int_eq(depth("{\"retCode\":0,\"result\":{\"s\":\"ETHUSDT\","
	                       "\"b\":[[\"1999\",\"1\"]],\"a\":[[\"2001\","
	                       "\"1\"]]}}",
	                     &d, &err),
	    0);
	ck_assert(d.has[LC_BID] && d.has[LC_ASK]);
	codec_depth_release(&d);
	problem_release(&err);
	ck_assert_int_eq(depth("{\"code\":\"0\",\"data\":[{\"bids\":[[\"1999\","
	                       "\"1\",\"0\",\"2\"]],\"ts\":\"1\"}]}",
	                     &d, &err),
	    0);
	ck_assert(d.has[LC_BID] && !d.has[LC_ASK]);
	codec_depth_release(&d);
	problem_release(&err);

	/* one side, levels with an explicit mid */
	ck_assert_int_eq(depth("{\"side\":\"ask\",\"levels\":[[101,1]],"
	                       "\"mid\":100,\"as_of\":\"2026-11-26T01:00:00+01:"
	                       "00\","
	                       "\"source\":\"test\"}",
	                     &d, &err),
	    0);
	ck_assert_double_eq_tol(d.curve[LC_ASK].bps[0], 100, 1e-9);
	ck_assert_str_eq(d.as_of, "2026-11-26T00:00:00Z");
	ck_assert_str_eq(d.source, "test");
	codec_depth_release(&d);
	problem_release(&err);

	/* constant product with a pool price far from 2000: warning */
	ck_assert_int_eq(depth("{\"side\":\"bid\",\"constant_product\":"
	                       "{\"base_reserve\":100,\"quote_reserve\":250000}"
	                       "}",
	                     &d, &err),
	    0);
	ck_assert_uint_eq(d.curve[LC_BID].n, LC_CP_POINTS);
	ck_assert_uint_eq(d.warn.n, 1);
	ck_assert_str_eq(d.warn.w[0].code, "pool_price_mismatch");
	codec_depth_release(&d);
	problem_release(&err);
	ck_assert_int_eq(depth("{\"side\":\"bid\",\"constant_product\":"
	                       "{\"base_reserve\":100,\"quote_reserve\":200000}"
	                       "}",
	                     &d, &err),
	    0);
	ck_assert_uint_eq(d.warn.n, 0);
	codec_depth_release(&d);
	problem_release(&err);
}
END_TEST

static const struct {
	const char *body;
	const char *ptr;
} depth_bad[] = {
	{ "{\"side\":\"bid\"}", "" },
	{ "{\"side\":\"mid\",\"points\":[[1,1]]}", "/side" },
	{ "{\"side\":\"bid\",\"points\":[[1,1]],\"quotes\":[[1,1]]}",
	    "/quotes" },
	{ "{\"side\":\"bid\",\"points\":[[1,1]],\"mid\":5}", "/mid" },
	{ "{\"side\":\"bid\",\"points\":[[1,1]],\"extra\":5}", "/extra" },
	{ "{\"side\":\"bid\",\"points\":[[1,1],[1,2]]}", "/points/1" },
	{ "{\"side\":\"bid\",\"points\":[[10000,1]]}", "/points/0" },
	{ "{\"side\":\"bid\",\"points\":[[1,1,3]]}", "/points/0" },
	{ "{\"side\":\"bid\",\"points\":[[1,\"1\"]]}", "/points/0/1" },
	{ "{\"side\":\"bid\",\"points\":[]}", "/points" },
	{ "{\"side\":\"bid\",\"levels\":[[1999,1],[2001,1]]}", "/levels/1" },
	{ "{\"side\":\"bid\",\"levels\":[[\"nan\",1]]}", "/levels/0/0" },
	{ "{\"side\":\"bid\",\"levels\":[[\"0x10\",1]]}", "/levels/0/0" },
	{ "{\"side\":\"bid\",\"levels\":[[1999,0]]}", "/levels/0/1" },
	{ "{\"side\":\"bid\",\"quotes\":[[2,1],[1,2]]}", "/quotes/1" },
	{ "{\"side\":\"bid\",\"quotes\":[[1,-1]]}", "/quotes/0" },
	{ "{\"side\":\"bid\",\"quotes\":[[1,20000]]}", "/quotes/0" },
	{ "{\"side\":\"bid\",\"constant_product\":{\"base_reserve\":0,"
	  "\"quote_reserve\":1}}",
	    "/constant_product/base_reserve" },
	{ "{\"side\":\"bid\",\"points\":[[1,1]],\"as_of\":\"yesterday\"}",
	    "/as_of" },
	{ "{\"bids\":[]}", "/bids" },
	{ "{\"bids\":[[\"1999\",\"1\"]],\"asks\":[[\"1998\",\"1\"]]}",
	    "/bids/0" },
	{ "{\"result\":{\"b\":[[\"1999\"]]}}", "/result/b/0" },
	{ "{\"data\":[{\"asks\":[[\"1999\",\"1\"]]}]}", "/data/0/asks/0" },
	{ "{\"foo\":1}", "" },
};

START_TEST(test_depth_bad)
{
	struct codec_depth d;
	struct problem err;
	size_t e;

	ck_assert_int_eq(depth(depth_bad[_i].body, &d, &err), 422);
	for (e = 0; e < err.nerrors; e++)
		fprintf(stderr, "  depth %d: %s: %s\n", _i,
		    err.errors[e].pointer, err.errors[e].detail);
	ck_assert_msg(has_pointer(&err, depth_bad[_i].ptr),
	    "depth case %d "
	    "(%s): want pointer '%s'",
	    _i, depth_bad[_i].body, depth_bad[_i].ptr);
	ck_assert_int_eq(d.has[0] + d.has[1], 0);
	problem_release(&err);
	codec_depth_release(&d);
}
END_TEST

START_TEST(test_asset_put)
{
	struct codec_asset_put put;
	struct problem err;
	const char *b;

	problem_init(&err);
	b = "{\"price\":5}";
	ck_assert_int_eq(codec_decode_asset(b, strlen(b), NULL, &put, &err), 0);
	ck_assert_double_eq(put.price, 5);
	ck_assert_double_eq(put.vol, 0);
	b = "{\"volatility\":0.5}";
	ck_assert_int_eq(codec_decode_asset(b, strlen(b), NULL, &put, &err),
	    -1);
	ck_assert(has_pointer(&err, "/price"));
	problem_release(&err);
	ck_assert_int_eq(codec_decode_asset(b, strlen(b), fixture_asset("ETH"),
	                     &put, &err),
	    0);
	ck_assert_double_eq(put.price, 2000);
	ck_assert_double_eq(put.vol, 0.5);
	b = "{\"price\":0,\"volatility\":101,\"x\":1}";
	ck_assert_int_eq(codec_decode_asset(b, strlen(b), NULL, &put, &err),
	    -1);
	ck_assert_uint_eq(err.nerrors, 3);
	ck_assert(has_pointer(&err, "/price") &&
	    has_pointer(&err, "/volatility") && has_pointer(&err, "/x"));
	problem_release(&err);
}
END_TEST

START_TEST(test_levels)
{
	struct codec_levels l;
	struct problem err;
	const char *b =
	    "{\"levels\":[{\"price\":1900,\"qty\":1,\"side\":"
	    "\"sell\"},{\"price\":2100,\"qty\":2,\"side\":\"sell\"},"
	    "{\"price\":1990,\"qty\":3,\"side\":\"buy\"},{\"price\":2200,"
	    "\"qty\":4,\"side\":\"buy\"}],\"source\":\"s\"}";
	char *out;

	codec_levels_init(&l);
	problem_init(&err);
	ck_assert_int_eq(codec_decode_levels(b, strlen(b), fixture_asset("ETH"),
	                     &l, &err),
	    0);
	ck_assert_uint_eq(l.n, 4);
	ck_assert_uint_eq(l.nstale, 2);
	ck_assert_int_eq(l.levels[2].side, LC_UP);
	ck_assert_str_eq(l.levels[3].source, "s");
	ck_assert_uint_eq(l.warn.n, 1);
	ck_assert_str_eq(l.warn.w[0].code, "stale_levels");
	ck_assert_int_eq(l.warn.w[0].count, 2);
	ck_assert_int_eq(codec_encode_levels(&l, "ETH", &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"count\":2"));
	free(out);
	b = "{\"levels\":[{\"price\":-1,\"qty\":1,\"side\":\"sell\"},"
	    "{\"price\":1,\"qty\":1,\"side\":\"both\"},{\"price\":1,"
	    "\"side\":\"buy\"}],\"source\":\""
	    "0123456789012345678901234567890"
	    "12345678901234567890123456789012345678901234567890123456789012345"
	    "67890123456789012345678901234567890\"}";
	ck_assert_int_eq(codec_decode_levels(b, strlen(b), fixture_asset("ETH"),
	                     &l, &err),
	    -1);
	ck_assert_int_eq(err.status, 422);
	ck_assert(has_pointer(&err, "/levels/0/price"));
	ck_assert(has_pointer(&err, "/levels/1/side"));
	ck_assert(has_pointer(&err, "/levels/2/qty"));
	ck_assert(has_pointer(&err, "/source"));
	ck_assert_uint_eq(l.n, 0);
	problem_release(&err);
	codec_levels_release(&l);
}
END_TEST

START_TEST(test_correlations)
{
	struct codec_corr c;
	struct problem err;
	const char *b = "{\"pairs\":[[\"ETH\",\"BTC\",0.8],[\"USDC\",\"DAI\","
	                "-1]]}";

	codec_corr_init(&c);
	problem_init(&err);
	ck_assert_int_eq(codec_decode_correlations(b, strlen(b), snap, &c,
	                     &err),
	    0);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_str_eq(c.pairs[0].a, "BTC"); /* normalised a < b */
	ck_assert_str_eq(c.pairs[0].b, "ETH");
	b = "{\"pairs\":[[\"ETH\",\"XYZ\",0.1],[\"ETH\",\"ETH\",1],[\"ETH\","
	    "\"BTC\",1.5],[\"ETH\",\"BTC\",0.5],[\"BTC\",\"ETH\",0.5],"
	    "[\"USD\",\"ETH\",0],[\"ETH\",\"BTC\"]]}";
	ck_assert_int_eq(codec_decode_correlations(b, strlen(b), snap, &c,
	                     &err),
	    -1);
	ck_assert_int_eq(err.status, 422);
	ck_assert(has_pointer(&err, "/pairs/0/1"));
	ck_assert(has_pointer(&err, "/pairs/1"));
	ck_assert(has_pointer(&err, "/pairs/2/2"));
	ck_assert(has_pointer(&err, "/pairs/4"));
	ck_assert(!has_pointer(&err, "/pairs/3"));
	ck_assert(has_pointer(&err, "/pairs/5/0")); /* implicit USD */
	ck_assert(has_pointer(&err, "/pairs/6"));
	ck_assert_uint_eq(err.nerrors, 6);
	problem_release(&err);
	codec_corr_release(&c);
}
END_TEST

/* ---- snapshot ------------------------------------------------------- */

START_TEST(test_snapshot)
{
	long eth = snapshot_find(snap, "ETH"), btc = snapshot_find(snap, "BTC");
	const struct snapshot_asset *a;
	const struct lc_asset_market *la;
	size_t n = snap->nassets;
	char *out;

	ck_assert_int_ge(eth, 0);
	ck_assert_int_eq(snapshot_find(snap, "ET"), -1);
	ck_assert_int_eq(snapshot_find(snap, "ETHX"), -1);
	ck_assert_int_eq(snapshot_find_n(snap, "ETHX", 3), eth);
	ck_assert_int_eq(snapshot_find(snap, "USD"), (long)snap->usd);
	ck_assert(snap->assets[snap->usd].implicit);
	ck_assert_double_eq(snap->assets[snap->usd].price, 1);
	ck_assert_uint_eq(n, 5);
	a = &snap->assets[eth];
	la = &snap->lc_assets[eth];
	/* sells descending, ties by seq: 2050(5) 1950(4) 1900(1) 1900(3) */
	ck_assert_uint_eq(a->levels[LC_DOWN].n, 4);
	ck_assert_double_eq(la->levels[LC_DOWN].price[0], 2050);
	ck_assert_double_eq(la->levels[LC_DOWN].price[1], 1950);
	ck_assert_double_eq(la->levels[LC_DOWN].qty[2], 7);
	ck_assert_double_eq(la->levels[LC_DOWN].qty[3], 10);
	ck_assert_uint_eq(a->levels[LC_DOWN].nstale, 1);
	ck_assert_double_eq(a->levels[LC_DOWN].total_qty, 23);
	ck_assert_uint_eq(a->levels[LC_UP].n, 1);
	/* bid aggregated over two venues: D(200) = 100 + 20 */
	ck_assert_uint_eq(a->side[LC_BID].nvenues, 2);
	ck_assert_double_eq_tol(a->side[LC_BID].depth_qty[1], 120, 1e-9);
	ck_assert_double_eq_tol(lc_curve_depth(&la->curve[LC_BID], 200, 1), 120,
	    1e-9);
	ck_assert_str_eq(a->depth_as_of, "2026-11-26T01:00:00Z");
	ck_assert_uint_eq(snap->assets[btc].side[LC_ASK].nvenues, 0);
	ck_assert_uint_eq(snap->lc_assets[btc].curve[LC_ASK].n, 0);
	/* correlations */
	ck_assert_double_eq(snap->rho[(size_t)eth * n + (size_t)btc], 0.75);
	ck_assert_double_eq(snap->rho[(size_t)btc * n + (size_t)eth], 0.75);
	ck_assert_double_eq(snap->rho[(size_t)eth * n + (size_t)eth], 1);
	ck_assert_double_eq(snap->rho[(size_t)eth * n + snap->usd], 0.1);
	ck_assert_ptr_eq(snap->market.assets, snap->lc_assets);
	ck_assert_uint_eq(strlen(snap->etag), 18);
	/* listing skips the implicit USD */
	ck_assert_int_eq(codec_encode_markets(snap, -1, &out), 0);
	ck_assert_ptr_null(strstr(out, "\"USD\""));
	ck_assert_ptr_nonnull(strstr(out, "\"USDC\""));
	free(out);
	ck_assert_int_eq(codec_encode_markets(snap, eth, &out), 0);
	ck_assert_ptr_nonnull(strstr(out, "\"venue\":\"other\""));
	free(out);
}
END_TEST

START_TEST(test_snapshot_cell)
{
	struct snapshot_cell cell;
	struct snapshot *s1, *s2, *g;

	ck_assert_int_eq(snapshot_cell_init(&cell), 0);
	ck_assert_ptr_null(snapshot_cell_get(&cell));
	ck_assert_int_eq(snapshot_build(&md, 0.0, &s1), 0);
	ck_assert_int_eq(snapshot_build(&md, 0.0, &s2), 0);
	ck_assert_uint_gt(s2->version, s1->version);
	ck_assert_str_eq(s1->etag, s2->etag); /* same content */
	ck_assert_str_ne(s1->etag, snap->etag); /* other default rho */
	snapshot_cell_publish(&cell, s1);
	g = snapshot_cell_get(&cell);
	ck_assert_ptr_eq(g, s1);
	ck_assert_uint_eq(atomic_load(&s1->refs), 2);
	snapshot_cell_publish(&cell, s2);
	/* the reader's reference keeps s1 alive */
	ck_assert_uint_eq(atomic_load(&g->refs), 1);
	ck_assert_int_ge(snapshot_find(g, "ETH"), 0);
	snapshot_unref(g);
	snapshot_cell_release(&cell);
	snapshot_unref(NULL);
	ck_assert_int_eq(snapshot_build(&md, 2.0, &s1), -1);
	ck_assert_ptr_null(s1);
}
END_TEST

struct reader_arg {
	struct snapshot_cell *cell;
	long found;
};

static void *
reader(void *p)
{
	struct reader_arg *a = p;
	int i;

	for (i = 0; i < 20000; i++) {
		struct snapshot *s = snapshot_cell_get(a->cell);

		if (s != NULL && snapshot_find(s, "ETH") >= 0 &&
		    s->lc_assets[snapshot_find(s, "ETH")].curve[LC_BID].n > 0)
			a->found++;
		snapshot_unref(s);
	}
	return NULL;
}

/* Readers take references while the writer keeps publishing. */
START_TEST(test_snapshot_threads)
{
	struct snapshot_cell cell;
	struct reader_arg args[3];
	pthread_t th[3];
	struct snapshot *s;
	int i;

	ck_assert_int_eq(snapshot_cell_init(&cell), 0);
	ck_assert_int_eq(snapshot_build(&md, 0.0, &s), 0);
	snapshot_cell_publish(&cell, s);
	for (i = 0; i < 3; i++) {
		args[i].cell = &cell;
		args[i].found = 0;
		ck_assert_int_eq(pthread_create(&th[i], NULL, reader, &args[i]),
		    0);
	}
	for (i = 0; i < 300; i++) {
		ck_assert_int_eq(snapshot_build(&md, 0.0, &s), 0);
		snapshot_cell_publish(&cell, s);
	}
	for (i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(args[i].found, 20000);
	}
	s = snapshot_cell_get(&cell);
	ck_assert_uint_eq(atomic_load(&s->refs), 2);
	snapshot_unref(s);
	snapshot_cell_release(&cell);
}
END_TEST

/* Every allocation of each step fails once: no crash, a clean error. */
START_TEST(test_alloc_failures)
{
	const char *body =
	    "{\"positions\":[" LOAN "}," PERP "},{\"id\":"
	    "\"c\",\"type\":\"loan\",\"collateral\":[{\"asset\":"
	    "\"ETH\",\"amount\":1,\"liquidation_threshold\":0.8},"
	    "{\"asset\":\"BTC\",\"amount\":1,\"liquidation_threshold\":"
	    "0.8}],\"debt\":[{\"asset\":\"USDC\",\"amount\":100}],"
	    "\"protocol\":\"compound-v3\",\"close_factor\":0.5}],"
	    "\"paths\":200,\"prices\":{\"ETH\":2100}}";
	const char *book = "{\"bids\":[[\"1999\",\"1\"],[\"1990\",\"2\"]],"
	                   "\"asks\":[[\"2001\",\"1\"]]}";
	const char *lv = "{\"levels\":[{\"price\":2100,\"qty\":1,"
	                 "\"side\":\"sell\"}]}";
	const char *corr = "{\"pairs\":[[\"ETH\",\"BTC\",0.5]]}";
	struct score_request r;
	struct lc_score_result res;
	struct problem err;
	char *out;
	const struct md_asset *eth = fixture_asset("ETH");
	cJSON_Hooks hooks = { failalloc_malloc, failalloc_free };
	long n;
	int rc, step;

	cJSON_InitHooks(&hooks);	/* cJSON's allocations fail too */
	codec_request_init(&r);
	lc_score_result_init(&res);
	ck_assert_int_eq(decode_ok(body, &r), 0);
	ck_assert_int_eq(lc_score(&snap->market, &r.lc, &res), LC_OK);
	for (step = 0; step < 7; step++) {
		for (n = 1; n < 100000; n++) {
			struct snapshot *s2 = NULL;
			struct score_request r2;
			struct codec_depth d;
			struct codec_levels l;
			struct codec_corr c;

			long live0 = failalloc_live();

			out = NULL;
			problem_init(&err);
			codec_request_init(&r2);
			codec_depth_init(&d);
			codec_levels_init(&l);
			codec_corr_init(&c);
			failalloc_arm(n);
			switch (step) {
			case 0:
				rc = codec_decode_score(body, strlen(body),
				    snap, NULL, &r2, &err);
				break;
			case 1:
				rc = codec_encode_score(&r, &res, snap, &out);
				break;
			case 2: rc = snapshot_build(&md, 0.0, &s2); break;
			case 3:
				rc = codec_decode_depth(book, strlen(book), eth,
				    &d, &err);
				break;
			case 4:
				rc = codec_decode_levels(lv, strlen(lv), eth,
				    &l, &err);
				break;
			case 5:
				rc = codec_decode_correlations(corr,
				    strlen(corr), snap, &c, &err);
				break;
			default:
				rc = codec_encode_markets(snap, -1, &out);
				break;
			}
			failalloc_disarm();
			if (rc != 0) {
				ck_assert_msg(failalloc_failed(),
				    "step %d: failed without "
				    "an allocation failure",
				    step);
				ck_assert_msg(step == 1 || step == 2 ||
				        step == 6 || err.status == 500 ||
				        err.status == 400 || err.status == 422,
				    "step %d alloc %ld: status %d", step, n,
				    err.status);
				ck_assert_ptr_null(out);
				ck_assert_ptr_null(s2);
			}
			free(out);
			snapshot_unref(s2);
			codec_request_release(&r2);
			codec_depth_release(&d);
			codec_levels_release(&l);
			codec_corr_release(&c);
			problem_release(&err);
			ck_assert_msg(failalloc_live() == live0,
			    "step %d alloc %ld: %ld "
			    "block(s) leaked",
			    step, n, failalloc_live() - live0);
			if (!failalloc_failed()) {
				ck_assert_int_eq(rc, 0);
				break;
			}
		}
		ck_assert_int_gt(n, 1);
	}
	lc_score_result_release(&res);
	codec_request_release(&r);
	cJSON_InitHooks(NULL);
}
END_TEST

static Suite *
codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc;

	tc = tcase_create("bad_input");
	tcase_set_timeout(tc, 30);
	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_loop_test(tc, test_bad_input, 0,
	    (int)(sizeof(bad_cases) / sizeof(bad_cases[0])));
	tcase_add_test(tc, test_nesting_and_limits);
	tcase_add_test(tc, test_hostile);
	suite_add_tcase(s, tc);

	tc = tcase_create("score");
	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_test(tc, test_decode_defaults);
	tcase_add_test(tc, test_decode_full);
	tcase_add_test(tc, test_encode_shape);
	suite_add_tcase(s, tc);

	tc = tcase_create("market_writes");
	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_test(tc, test_depth_forms);
	tcase_add_loop_test(tc, test_depth_bad, 0,
	    (int)(sizeof(depth_bad) / sizeof(depth_bad[0])));
	tcase_add_test(tc, test_asset_put);
	tcase_add_test(tc, test_levels);
	tcase_add_test(tc, test_correlations);
	suite_add_tcase(s, tc);

	tc = tcase_create("snapshot");
	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_test(tc, test_snapshot);
	tcase_add_test(tc, test_snapshot_cell);
	tcase_add_test(tc, test_snapshot_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("alloc_failures");
	tcase_set_timeout(tc, 120);
	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_test(tc, test_alloc_failures);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(codec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * test_score.c - Check suite of score.c (the exact path of POST /v1/score):
 * the golden worked cases of tests/golden rebuilt by hand as model
 * structs, and seeded property tests (effective vs static price,
 * monotonicity in horizon, volatility and depth_scale, workspace reuse),
 * and each allocation of lc_score() failing in turn.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cascade/score.h"
#include "ckutil.h"
#include "failalloc.h"
#include "splitmix.h"

/* "not in the example": field not checked. */
#define SKIP (-1.0e300)

/* Relative 1e-9 (docs/model.md examples' "compare"), NAN means JSON null. */
static void
chk(const char *what, double got, double want, double tol_rel,
    double tol_abs)
{
	if (want == SKIP)
		return;
	if (isnan(want)) {
		ck_assert_msg(isnan(got), "%s = %.15g, want null", what, got);
		return;
	}
	ck_assert_msg(fabs(got - want) <= tol_rel * fabs(want) + tol_abs,
	    "%s = %.15g, want %.15g", what, got, want);
}

#define REL9(what, got, want) chk(what, got, want, 1e-9, 0.0)
/* Slippage in bps: 1e-6 absolute (examples' "compare"). */
#define BPS6(what, got, want) chk(what, got, want, 0.0, 1e-6)

/* One market of up to 3 assets: 0 the volatile one, 1 USDC. */
struct fix {
	struct lc_asset_market am[2];
	struct lc_market m;
	double price[2];
	double vol[2];
	double lp[2][16], lq[2][16];	/* stored levels [dir] */
	struct lc_request req;
	struct lc_score_result res;
};

enum { VOL = 0, USDC = 1 };

static void
fix_init(struct fix *f, const char *sym, double price, double vol)
{
	int s;

	memset(f, 0, sizeof(*f));
	for (s = 0; s < 2; s++) {
		lc_curve_init(&f->am[VOL].curve[s]);
		lc_curve_init(&f->am[USDC].curve[s]);
		f->am[VOL].levels[s].price = f->lp[s];
		f->am[VOL].levels[s].qty = f->lq[s];
	}
	f->am[VOL].symbol = sym;
	f->am[VOL].price = price;
	f->am[VOL].vol = vol;
	f->am[USDC].symbol = "USDC";
	f->am[USDC].price = 1.0;
	f->am[USDC].vol = 0.0;
	f->m.nassets = 2;
	f->m.assets = f->am;
	f->m.default_rho = 0.0;
	f->m.rho = NULL;
	f->price[VOL] = price;
	f->price[USDC] = 1.0;
	f->vol[VOL] = vol;
	f->vol[USDC] = 0.0;
	lc_params_default(&f->req.params);
	f->req.price = f->price;
	f->req.vol = f->vol;
	lc_score_result_init(&f->res);
}

static void
fix_release(struct fix *f)
{
	int s;

	for (s = 0; s < 2; s++) {
		lc_curve_release(&f->am[VOL].curve[s]);
		lc_curve_release(&f->am[USDC].curve[s]);
	}
	lc_score_result_release(&f->res);
}

/* Curve from flattened [bps, qty] pairs. */
static void
fix_curve(struct fix *f, enum lc_side side, const double *pts, size_t n)
{
	double bps[256], qty[256];
	size_t k, bad;

	ck_assert_uint_le(n, 256);
	for (k = 0; k < n; k++) {
		bps[k] = pts[2 * k];
		qty[k] = pts[2 * k + 1];
	}
	ck_assert_int_eq(lc_curve_from_points(&f->am[VOL].curve[side], side,
	    bps, qty, n, &bad), LC_OK);
}

/* Stored level; callers add them in cascade order. */
static void
fix_level(struct fix *f, enum lc_dir d, double price, double qty)
{
	struct lc_levels *lv = &f->am[VOL].levels[d];

	f->lp[d][lv->n] = price;
	f->lq[d][lv->n] = qty;
	lv->n++;
}

static struct lc_position
mk_loan(const char *id, enum lc_protocol proto, const struct lc_entry *c,
    size_t nc, const struct lc_entry *d, size_t nd)
{
	struct lc_position p;

	memset(&p, 0, sizeof(p));
	p.id = id;
	p.type = LC_POS_LOAN;
	p.u.loan.protocol = proto;
	p.u.loan.coll = c;
	p.u.loan.ncoll = nc;
	p.u.loan.debt = d;
	p.u.loan.ndebt = nd;
	p.u.loan.bonus = NAN;
	p.u.loan.close_factor = NAN;
	p.u.loan.full_liq_below = 2000.0;
	return p;
}

static struct lc_position
mk_perp(const char *id, int is_short, double size, double entry,
    double margin, double mmr)
{
	struct lc_position p;

	memset(&p, 0, sizeof(p));
	p.id = id;
	p.type = LC_POS_PERP;
	p.u.perp.asset = VOL;
	p.u.perp.is_short = is_short;
	p.u.perp.size = size;
	p.u.perp.entry = entry;
	p.u.perp.margin = margin;
	p.u.perp.mmr = mmr;
	p.u.perp.mm_amount = 0.0;
	return p;
}

/* Expected per-position figures; SKIP: absent from the example. */
struct want_pos {
	double hf;
	int liquidatable;
	enum lc_dir dir;
	double price, eff, dist;
	double p, ps;
	double slip_bps, slip_quote, unw_bps, unw_quote;
	double cm;
};

static void
check_pos(const struct lc_score_result *r, size_t i,
    const struct want_pos *w)
{
	const struct lc_pos_result *p = &r->pos[i];

	ck_assert_uint_lt(i, r->npos);
	if (p->type == LC_POS_LOAN)
		REL9("health_factor", p->health_factor, w->hf);
	ck_assert_int_eq(p->liquidatable, w->liquidatable);
	ck_assert_uint_eq(p->nlp, 1);
	ck_assert_int_eq(p->lp[0].dir, w->dir);
	REL9("price", p->lp[0].price, w->price);
	REL9("effective_price", p->lp[0].effective_price, w->eff);
	REL9("distance_pct", p->lp[0].distance_pct, w->dist);
	REL9("p_liquidation", p->p_liq, w->p);
	REL9("p_liquidation_static", p->p_liq_static, w->ps);
	BPS6("expected_slippage_bps", p->exp_slip_bps, w->slip_bps);
	REL9("expected_slippage_quote", p->exp_slip_quote, w->slip_quote);
	BPS6("unwind_slippage_bps", p->unwind_bps, w->unw_bps);
	REL9("unwind_slippage_quote", p->unwind_quote, w->unw_quote);
	if (p->type == LC_POS_LOAN)
		REL9("common_move_pct", p->common_move_pct, w->cm);
	ck_assert_int_eq(p->method, LC_EXACT);
	ck_assert(p->std_error == 0.0);
}

static void
check_dir(const struct lc_score_result *r, enum lc_dir d, double cp,
    double tp, double q10, double d2)
{
	const struct lc_dir_result *x = &r->markets[0].dir[d];

	REL9("cascade_probability", x->cascade_prob, cp);
	REL9("cascade_trigger_price", x->trigger_price, tp);
	REL9("liquidation_qty_to_10pct", x->qty_to_10pct, q10);
	REL9("depth_2pct_qty", x->depth_2pct, d2);
}

static void
check_portfolio(const struct lc_score_result *r, double p_any, double cp)
{
	ck_assert_int_eq(r->portfolio.method, LC_EXACT);
	ck_assert(!r->needs_mc);
	REL9("p_any_liquidation", r->portfolio.p_any, p_any);
	REL9("portfolio cascade_probability", r->portfolio.cascade_prob, cp);
	ck_assert(r->portfolio.p_any_se == 0.0);
	ck_assert(r->portfolio.cascade_prob_se == 0.0);
}

/*
 * tests/golden/01-four-level-cascade.json.  The writes' points are
 * (100 k bps, 5000 k), k = 1..99 (bid) and 1..200 (ask): generated here.
 */
static void
setup_01(struct fix *f, struct lc_position *pos, struct lc_entry *c,
    struct lc_entry *d)
{
	double pts[400];
	size_t k;

	fix_init(f, "ETH", 2000.0, 0.8);
	for (k = 1; k <= 200; k++) {
		pts[2 * (k - 1)] = 100.0 * (double)k;
		pts[2 * (k - 1) + 1] = 5000.0 * (double)k;
	}
	fix_curve(f, LC_BID, pts, 99);
	fix_curve(f, LC_ASK, pts, 200);
	fix_level(f, LC_DOWN, 1900.0, 10000.0);
	fix_level(f, LC_DOWN, 1850.0, 15000.0);
	fix_level(f, LC_DOWN, 1800.0, 20000.0);
	fix_level(f, LC_DOWN, 1700.0, 25000.0);
	c[0] = (struct lc_entry){ VOL, 10.0, 0.8 };
	d[0] = (struct lc_entry){ USDC, 14000.0, 0.0 };
	pos[0] = mk_loan("loan-1750", LC_AAVE_V3, c, 1, d, 1);
	/* perp-long: leverage 10 -> margin 5 * 2000 / 10. */
	pos[1] = mk_perp("perp-long", 0, 5.0, 2000.0, 1000.0, 0.005);
	f->req.pos = pos;
	f->req.npos = 2;
	f->req.params.horizon_days = 1.0;
	f->req.params.tail_dof = 4.0;
}

START_TEST(example_01)
{
	struct fix f;
	struct lc_position pos[2];
	struct lc_entry c[1], d[1];
	const struct want_pos w0 = {
		1.14285714286, 0, LC_DOWN, 1750.0, 1887.75510204, -12.5,
		0.122858827081, 0.0107419092288, 0.0461543533446,
		0.0339234497083, 0.1, 0.2, -12.5
	};
	const struct want_pos w1 = {
		SKIP, 0, LC_DOWN, 1809.04522613, 1887.75510204,
		-9.54773869347, 0.122858827081, 0.0275537371659,
		0.0526315789474, 0.0476064533192, 0.05, 0.05, SKIP
	};

	setup_01(&f, pos, c, d);
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	check_pos(&f.res, 0, &w0);
	check_pos(&f.res, 1, &w1);
	ck_assert_uint_eq(f.res.nmarkets, 1);
	ck_assert_uint_eq(f.res.markets[0].asset, VOL);
	check_dir(&f.res, LC_DOWN, 0.158249705993, 1900.0, 45005.0, 10000.0);
	check_dir(&f.res, LC_UP, 0.0, NAN, 0.0, 10000.0);
	check_portfolio(&f.res, 0.122858827081, 0.158249705993);
	ck_assert(!f.res.markets[0].dir[LC_DOWN].depth_exhausted);
	ck_assert_uint_eq(f.res.nwarn, 0);
	fix_release(&f);
}
END_TEST

/* tests/golden/02-liquidatable-now.json */
START_TEST(example_02)
{
	static const double pts[] = { 100.0, 50.0, 1000.0, 400.0 };
	struct fix f;
	struct lc_position pos[2];
	struct lc_entry c[1] = { { VOL, 10.0, 0.8 } };
	struct lc_entry d[1] = { { USDC, 25000.0, 0.0 } };
	const struct want_pos w0 = {
		0.96, 1, LC_DOWN, 3125.0, 3000.0, 4.16666666667, 1.0, 1.0,
		4.375, 5.7421875, 10.0, 30.0, 4.16666666667
	};
	const struct want_pos w1 = {
		SKIP, 0, LC_DOWN, 2713.5678392, 2717.22930569,
		-9.54773869347, 0.0287413142797, 0.0275537371659,
		5.00674659103, 6.79307326421, 5.0, 7.5, SKIP
	};

	fix_init(&f, "ETH", 3000.0, 0.8);
	fix_curve(&f, LC_BID, pts, 2);
	fix_curve(&f, LC_ASK, pts, 2);
	pos[0] = mk_loan("A-underwater", LC_AAVE_V3, c, 1, d, 1);
	pos[1] = mk_perp("C-perp", 0, 5.0, 3000.0, 1500.0, 0.005);
	f.req.pos = pos;
	f.req.npos = 2;
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	check_pos(&f.res, 0, &w0);
	check_pos(&f.res, 1, &w1);
	check_dir(&f.res, LC_DOWN, 0.0, NAN, 11.7375, 88.8888888889);
	check_dir(&f.res, LC_UP, 0.0, NAN, 0.0, 88.8888888889);
	check_portfolio(&f.res, 1.0, 0.0);
	fix_release(&f);
}
END_TEST

/* tests/golden/03-up-direction.json */
START_TEST(example_03)
{
	static const double bid[] = { 50.0, 5.0, 500.0, 80.0 };
	static const double ask[] = { 50.0, 4.0, 300.0, 30.0, 2000.0, 300.0 };
	struct fix f;
	struct lc_position pos[2];
	struct lc_entry c[1] = { { USDC, 100000.0, 0.85 } };
	struct lc_entry d[1] = { { VOL, 1.2, 0.0 } };
	const struct want_pos w0 = {
		SKIP, 0, LC_UP, 65671.641791, 64359.6941789, 9.45273631841,
		0.23986891048, 0.156262459186, 9.42329438372, 123.768642652,
		12.5, 150.0, SKIP
	};
	const struct want_pos w1 = {
		1.18055555556, 0, LC_UP, 70833.3333333, 66657.261762,
		18.0555555556, 0.115893259779, 0.0406401851076,
		1.73622931844, 7.37897460339, 7.5, 54.0, 18.0555555556
	};

	fix_init(&f, "BTC", 60000.0, 0.6);
	fix_curve(&f, LC_BID, bid, 2);
	fix_curve(&f, LC_ASK, ask, 3);
	fix_level(&f, LC_UP, 63000.0, 20.0);
	fix_level(&f, LC_UP, 66000.0, 40.0);
	fix_level(&f, LC_UP, 70000.0, 60.0);
	fix_level(&f, LC_DOWN, 58000.0, 10.0);
	pos[0] = mk_perp("short", 1, 2.0, 60000.0, 12000.0, 0.005);
	pos[1] = mk_loan("btc-debt", LC_AAVE_V3, c, 1, d, 1);
	f.req.pos = pos;
	f.req.npos = 2;
	f.req.params.horizon_days = 7.0;
	f.req.params.tail_dof = 3.0;
	f.req.params.threshold_bps = 50.0;
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	check_pos(&f.res, 0, &w0);
	check_pos(&f.res, 1, &w1);
	check_dir(&f.res, LC_DOWN, 0.530705171317, 58000.0, 10.0, 30.0);
	check_dir(&f.res, LC_UP, 0.384015109924, 63000.0, 62.0, 19.6);
	check_portfolio(&f.res, 0.23986891048, 0.384015109924);
	fix_release(&f);
}
END_TEST

/* tests/golden/04-protocol-presets.json */
START_TEST(example_04)
{
	static const double pts[] = { 20.0, 30.0, 200.0, 400.0,
		2000.0, 3000.0 };
	struct fix f;
	struct lc_position pos[4];
	struct lc_entry c0[1] = { { VOL, 5.0, 0.825 } };
	struct lc_entry c2[1] = { { VOL, 5.0, 0.86 } };
	struct lc_entry c3[1] = { { VOL, 5.0, 0.895 } };
	struct lc_entry d[1] = { { USDC, 7000.0, 0.0 } };
	const struct want_pos w[4] = {
		{ 1.17857142857, 0, LC_DOWN, 1696.96969697, 1696.96969697,
		  -15.1515151515, 0.31135508441, 0.31135508441, 0.721875,
		  0.2652890625, 1.66666666667, 1.66666666667,
		  -15.1515151515 },
		{ 1.17857142857, 0, LC_DOWN, 1696.96969697, 1696.96969697,
		  -15.1515151515, 0.31135508441, 0.31135508441,
		  0.433187541451, 0.09551785289, 1.66666666667,
		  1.66666666667, -15.1515151515 },
		{ 1.22857142857, 0, LC_DOWN, 1627.90697674, 1628.28311014,
		  -18.6046511628, 0.220922262314, 0.22049744773,
		  1.49651827749, 1.09348934681, 1.66666666667,
		  1.66666666667, -18.6046511628 },
		{ 1.27857142857, 0, LC_DOWN, 1564.24581006, 1565.17606908,
		  -21.7877094972, 0.159136470983, 0.158358564373,
		  1.66765783551, 1.3043133909, 1.66666666667,
		  1.66666666667, -21.7877094972 },
	};
	size_t i;

	fix_init(&f, "ETH", 2000.0, 0.7);
	fix_curve(&f, LC_BID, pts, 3);
	fix_curve(&f, LC_ASK, pts, 3);
	fix_level(&f, LC_DOWN, 1500.0, 100.0);
	pos[0] = mk_loan("aave-default", LC_AAVE_V3, c0, 1, d, 1);
	pos[1] = mk_loan("aave-cf-0.3", LC_AAVE_V3, c0, 1, d, 1);
	pos[1].u.loan.close_factor = 0.3;
	pos[2] = mk_loan("morpho", LC_MORPHO_BLUE, c2, 1, d, 1);
	pos[3] = mk_loan("comet", LC_COMPOUND_V3, c3, 1, d, 1);
	f.req.pos = pos;
	f.req.npos = 4;
	f.req.params.horizon_days = 30.0;
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	for (i = 0; i < 4; i++)
		check_pos(&f.res, i, &w[i]);
	check_dir(&f.res, LC_DOWN, 0.0, NAN, 0.0, 400.0);
	check_dir(&f.res, LC_UP, 0.0, NAN, 0.0, 400.0);
	check_portfolio(&f.res, 0.31135508441, 0.0);
	fix_release(&f);
}
END_TEST

/*
 * Binance 2021 BTCUSDT brackets as example 05 writes them (first six rows
 * of Binance's published 2021 table, the last without max_notional).
 */
static const struct lc_tier tiers_05[] = {
	{ 50000, 0.004, 0 }, { 250000, 0.005, 50 },
	{ 1000000, 0.01, 1300 }, { 10000000, 0.025, 16300 },
	{ 20000000, 0.05, 266300 }, { INFINITY, 0.1, 1266300 },
};

/* tests/golden/05 and 06 (06: the same without stored levels). */
static void
setup_05(struct fix *f, struct lc_position *pos, int levels)
{
	static const double pts[] = { 10.0, 5.0, 100.0, 60.0,
		1000.0, 900.0 };
	size_t i;

	fix_init(f, "BTC", 50000.0, 0.6);
	fix_curve(f, LC_BID, pts, 3);
	fix_curve(f, LC_ASK, pts, 3);
	fix_level(f, LC_DOWN, 48000.0, 150.0);
	fix_level(f, LC_DOWN, 47000.0, 300.0);
	fix_level(f, LC_UP, 52500.0, 100.0);
	pos[0] = mk_perp("long-1", 0, 1.0, 50000.0, 2500.0, 0.0);
	pos[1] = mk_perp("short-1", 1, 1.0, 50000.0, 2500.0, 0.0);
	pos[2] = mk_perp("long-100", 0, 100.0, 50000.0, 250000.0, 0.0);
	for (i = 0; i < 3; i++) {
		pos[i].u.perp.tiers = tiers_05;
		pos[i].u.perp.ntiers = 6;
	}
	pos[3] = mk_perp("hl-long", 0, 1.0, 50000.0, 5000.0, 0.0125);
	f->req.pos = pos;
	f->req.npos = 4;
	f->req.params.depth_scale = 0.5;
	f->req.params.include_market_levels = levels;
}

/* paths 0: the exact pass alone leaves the Monte Carlo fields NAN. */
static void
check_mc_portfolio_skipped(const struct lc_score_result *r)
{
	ck_assert(r->needs_mc);
	ck_assert_int_eq(r->portfolio.method, LC_MONTE_CARLO);
	ck_assert(isnan(r->portfolio.p_any));
	ck_assert(isnan(r->portfolio.cascade_prob));
	ck_assert(isnan(r->portfolio.exp_slip_quote));
}

/*
 * With the Monte Carlo pass (lc_mc_score): probabilities with their
 * standard errors sqrt(p (1 - p) / paths); p_any is at least the largest
 * exact p_liquidation up to sampling noise.
 */
static void
check_mc_portfolio(const struct lc_score_result *r, uint32_t paths)
{
	const struct lc_portfolio_result *pf = &r->portfolio;
	double pmax = 0.0;
	size_t i;

	ck_assert(r->needs_mc);
	ck_assert_int_eq(pf->method, LC_MONTE_CARLO);
	ck_assert(pf->p_any >= 0.0 && pf->p_any <= 1.0);
	ck_assert(pf->cascade_prob >= 0.0 && pf->cascade_prob <= 1.0);
	REL9("p_any_se", pf->p_any_se,
	    sqrt(pf->p_any * (1.0 - pf->p_any) / paths));
	ck_assert(isfinite(pf->exp_slip_quote));
	for (i = 0; i < r->npos; i++)
		if (r->pos[i].p_liq > pmax)
			pmax = r->pos[i].p_liq;
	ck_assert_msg(pf->p_any >= pmax - 5.0 * pf->p_any_se - 1e-12,
	    "p_any %g < max p_liq %g", pf->p_any, pmax);
}

START_TEST(example_05)
{
	struct fix f;
	struct lc_position pos[4];
	const struct want_pos w[4] = {
		{ SKIP, 0, LC_DOWN, 47690.7630522, 48550.7692308,
		  -4.61847389558, 0.255946421303, 0.100287269983,
		  1.13636363636, 5.4194048923, 2.0, 10.0, SKIP },
		{ SKIP, 0, LC_UP, 52288.5572139, 52288.5572139,
		  4.57711442786, 0.114102654068, 0.114102654068, 2.0,
		  10.4577114428, 2.0, 10.0, SKIP },
		{ SKIP, 0, LC_DOWN, 48550.7692308, 48550.7692308,
		  -2.89846153846, 0.255946421303, 0.255946421303, 137.75,
		  66878.6846154, 137.75, 68875.0, SKIP },
		{ SKIP, 0, LC_DOWN, 45569.6202532, 48550.7692308,
		  -8.86075949367, 0.255946421303, 0.0139403380527,
		  0.564359970172, 2.57176695268, 2.0, 10.0, SKIP },
	};
	size_t i;

	setup_05(&f, pos, 1);
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	for (i = 0; i < 4; i++)
		check_pos(&f.res, i, &w[i]);
	check_dir(&f.res, LC_DOWN, 0.255946421303, 48550.7692308, 552.0,
	    76.6666666667);
	check_dir(&f.res, LC_UP, 0.0948447449503, 52479.0083966, 101.0,
	    76.6666666667);
	check_mc_portfolio(&f.res, f.req.params.paths);
	/* The exact pass alone: the same exact numbers, portfolio NAN. */
	f.req.params.paths = 0;
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	for (i = 0; i < 4; i++)
		check_pos(&f.res, i, &w[i]);
	check_mc_portfolio_skipped(&f.res);
	fix_release(&f);
}
END_TEST

START_TEST(example_06)
{
	struct fix f;
	struct lc_position pos[4];
	const struct want_pos w[4] = {
		{ SKIP, 0, LC_DOWN, 47690.7630522, 48550.7692308,
		  -4.61847389558, 0.255946421303, 0.100287269983,
		  1.0989010989, 5.24074319255, 2.0, 10.0, SKIP },
		{ SKIP, 0, LC_UP, 52288.5572139, 52288.5572139,
		  4.57711442786, 0.114102654068, 0.114102654068, 2.0,
		  10.4577114428, 2.0, 10.0, SKIP },
		{ SKIP, 0, LC_DOWN, 48550.7692308, 48550.7692308,
		  -2.89846153846, 0.255946421303, 0.255946421303, 137.75,
		  66878.6846154, 137.75, 68875.0, SKIP },
		{ SKIP, 0, LC_DOWN, 45569.6202532, 46748.3464164,
		  -8.86075949367, 0.03885444129, 0.0139403380527,
		  1.09914266872, 5.00875140175, 2.0, 10.0, SKIP },
	};
	size_t i;

	setup_05(&f, pos, 0);
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	for (i = 0; i < 4; i++)
		check_pos(&f.res, i, &w[i]);
	check_dir(&f.res, LC_DOWN, 0.255946421303, 48550.7692308, 102.0,
	    76.6666666667);
	check_dir(&f.res, LC_UP, 0.0, NAN, 1.0, 76.6666666667);
	check_mc_portfolio(&f.res, f.req.params.paths);
	fix_release(&f);
}
END_TEST

/* ---- other behaviour ---- */

/*
 * A stable loan alone stays exact (p 0 or 1, slippage null); a coupled
 * loan makes the request Monte Carlo with NAN where MC will write.
 */
START_TEST(stable_and_coupled)
{
	static const double pts[] = { 100.0, 50.0, 1000.0, 400.0 };
	struct fix f;
	struct lc_position pos[3];
	struct lc_entry cs[1] = { { USDC, 1000.0, 0.9 } };
	struct lc_entry ds[1] = { { USDC, 950.0, 0.0 } };
	struct lc_entry cc[1] = { { VOL, 10.0, 0.8 } };
	struct lc_entry dc[2] = { { USDC, 5000.0, 0.0 }, { VOL, 2.0, 0.0 } };
	const struct lc_pos_result *r;

	fix_init(&f, "ETH", 3000.0, 0.8);
	fix_curve(&f, LC_BID, pts, 2);
	pos[0] = mk_loan("stable", LC_AAVE_V3, cs, 1, ds, 1);
	f.req.pos = pos;
	f.req.npos = 1;
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	r = &f.res.pos[0];
	ck_assert(r->liquidatable);	/* 900 / 950 */
	ck_assert(r->p_liq == 1.0 && r->p_liq_static == 1.0);
	ck_assert(isnan(r->exp_slip_bps) && isnan(r->unwind_bps));
	ck_assert(isnan(r->common_move_pct));
	ck_assert_uint_eq(r->nlp, 0);
	ck_assert_int_eq(r->method, LC_EXACT);
	ck_assert_uint_eq(f.res.nmarkets, 0);
	check_portfolio(&f.res, 1.0, 0.0);

	/* Coupled: ETH on both sides (exact pass only: paths 0). */
	pos[1] = mk_loan("coupled", LC_AAVE_V3, cc, 1, dc, 2);
	f.req.npos = 2;
	f.req.params.paths = 0;
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	r = &f.res.pos[1];
	ck_assert_int_eq(r->method, LC_MONTE_CARLO);
	ck_assert(isnan(r->p_liq) && isnan(r->p_liq_static));
	ck_assert(isnan(r->std_error) && isnan(r->exp_slip_bps));
	ck_assert_uint_eq(r->nlp, 1);
	/* Netted: (5000) / (10 * 0.8 - 2) */
	REL9("coupled price", r->lp[0].price, 5000.0 / 6.0);
	ck_assert(isnan(r->lp[0].effective_price));
	/* Unwind sells the net 8 ETH on the bid: 100 * 8 / 50 / 2 bps. */
	BPS6("coupled unwind", r->unwind_bps, 8.0);
	check_mc_portfolio_skipped(&f.res);
	/* Missing ask curve of ETH. */
	ck_assert_uint_eq(f.res.nwarn, 1);
	ck_assert_int_eq(f.res.warn[0].code, LC_W_MISSING_DEPTH);
	ck_assert_int_eq(f.res.warn[0].side, LC_ASK);
	ck_assert_int_eq(f.res.warn[0].asset, VOL);
	fix_release(&f);
}
END_TEST

/* Stale levels are skipped against the request's P and counted once. */
START_TEST(stale_levels)
{
	struct fix f;
	struct lc_position pos[2];
	struct lc_entry c[1], d[1];

	setup_01(&f, pos, c, d);
	/* P override 1860: the 1900 level (and none of the buys) is stale. */
	f.price[VOL] = 1860.0;
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	ck_assert_uint_eq(f.res.nwarn, 1);
	ck_assert_int_eq(f.res.warn[0].code, LC_W_STALE_LEVELS);
	ck_assert_int_eq(f.res.warn[0].count, 1);
	ck_assert_int_eq(f.res.warn[0].side, -1);
	/* 1850 + 1800 + 1700 within 10% of 1860 (>= 1674), + loan + perp. */
	ck_assert(f.res.markets[0].dir[LC_DOWN].qty_to_10pct >= 60000.0);
	/* Levels excluded: no warning, only the request's own steps. */
	f.req.params.include_market_levels = 0;
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	ck_assert_uint_eq(f.res.nwarn, 0);
	REL9("own steps", f.res.pos[0].lp[0].effective_price,
	    f.res.pos[0].lp[0].effective_price);
	fix_release(&f);
}
END_TEST

/* A random single-asset market with random perps and loans on it. */
static void
random_case(struct fix *f, struct lc_position *pos, struct lc_entry *ent,
    size_t np, uint64_t *seed)
{
	double pts[20];
	size_t k, nlev;
	double p0 = 1000.0 + 3000.0 * rng_unif(seed), dd = 0.0, qq = 0.0;

	fix_init(f, "ETH", p0, 0.2 + rng_unif(seed));
	for (k = 0; k < 8; k++) {
		dd += 10.0 + 500.0 * rng_unif(seed);
		qq += 1.0 + 100.0 * rng_unif(seed);
		pts[2 * k] = dd;
		pts[2 * k + 1] = qq;
	}
	fix_curve(f, LC_BID, pts, 8);
	fix_curve(f, LC_ASK, pts, 8);
	nlev = 1 + (size_t)(10.0 * rng_unif(seed));
	for (k = 0; k < nlev; k++)
		fix_level(f, LC_DOWN, p0 * (1.0 - 0.03 * (double)(k + 1)),
		    5.0 + 50.0 * rng_unif(seed));
	for (k = 0; k < nlev; k++)
		fix_level(f, LC_UP, p0 * (1.0 + 0.03 * (double)(k + 1)),
		    5.0 + 50.0 * rng_unif(seed));
	for (k = 0; k < np; k++) {
		double u = rng_unif(seed);

		if (k % 3 == 0) {
			double lev = 2.0 + 40.0 * rng_unif(seed);
			double sz = 0.5 + 20.0 * rng_unif(seed);

			pos[k] = mk_perp("perp", u < 0.5, sz, p0 *
			    (0.95 + 0.1 * rng_unif(seed)), sz * p0 / lev,
			    0.005);
		} else if (k % 3 == 1) {
			double amt = 1.0 + 20.0 * rng_unif(seed);

			ent[2 * k] = (struct lc_entry){ VOL, amt, 0.8 };
			ent[2 * k + 1] = (struct lc_entry){ USDC,
			    amt * p0 * 0.8 * (0.5 + 0.55 * rng_unif(seed)),
			    0.0 };
			pos[k] = mk_loan("down", LC_AAVE_V3, &ent[2 * k], 1,
			    &ent[2 * k + 1], 1);
		} else {
			double amt = 1.0 + 20.0 * rng_unif(seed);

			ent[2 * k] = (struct lc_entry){ USDC,
			    amt * p0 / 0.8 * (1.0 + rng_unif(seed)), 0.8 };
			ent[2 * k + 1] = (struct lc_entry){ VOL, amt, 0.0 };
			pos[k] = mk_loan("up", LC_AAVE_V3, &ent[2 * k], 1,
			    &ent[2 * k + 1], 1);
		}
	}
	f->req.pos = pos;
	f->req.npos = np;
	/* Exact properties only: skip the Monte Carlo pass. */
	f->req.params.paths = 0;
}

/*
 * Effective price >= static (down), <= static (up), = P when liquidatable
 * now; p_liquidation >= p_liquidation_static.
 */
START_TEST(prop_effective_vs_static)
{
	uint64_t seed = 20261126;
	int it;

	for (it = 0; it < 300; it++) {
		struct fix f;
		struct lc_position pos[12];
		struct lc_entry ent[24];
		size_t i;

		random_case(&f, pos, ent, 12, &seed);
		ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
		for (i = 0; i < f.res.npos; i++) {
			const struct lc_pos_result *r = &f.res.pos[i];
			const struct lc_liq_result *lr = &r->lp[0];

			ck_assert_uint_eq(r->nlp, 1);
			if (r->liquidatable) {
				ck_assert(lr->effective_price == f.price[VOL]);
				ck_assert(r->p_liq == 1.0);
				continue;
			}
			if (isnan(lr->price)) {
				ck_assert(isnan(lr->effective_price));
				ck_assert(r->p_liq == 0.0);
				continue;
			}
			if (lr->dir == LC_DOWN)
				ck_assert(lr->effective_price >= lr->price);
			else
				ck_assert(lr->effective_price <= lr->price);
			ck_assert(r->p_liq >= r->p_liq_static);
		}
		fix_release(&f);
	}
}
END_TEST

/*
 * Probabilities never fall when the horizon or the volatility grows, and
 * depth_scale < 1 never lowers a cascade probability or raises (down) /
 * lowers (up) an effective price the wrong way.
 */
START_TEST(prop_monotone)
{
	uint64_t seed = 4242;
	int it;

	for (it = 0; it < 200; it++) {
		struct fix f;
		struct lc_position pos[9];
		struct lc_entry ent[18];
		double base_p[9], base_c[2], base_e[9];
		size_t i;
		int d;

		random_case(&f, pos, ent, 9, &seed);
		ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
		for (i = 0; i < 9; i++) {
			base_p[i] = f.res.pos[i].p_liq;
			base_e[i] = f.res.pos[i].lp[0].effective_price;
		}
		for (d = 0; d < 2; d++)
			base_c[d] = f.res.markets[0].dir[d].cascade_prob;

		f.req.params.horizon_days = 3.0;
		ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
		for (i = 0; i < 9; i++)
			ck_assert(f.res.pos[i].p_liq >= base_p[i] * (1 - 1e-12));
		for (d = 0; d < 2; d++)
			ck_assert(f.res.markets[0].dir[d].cascade_prob >=
			    base_c[d] * (1 - 1e-12));
		f.req.params.horizon_days = 1.0;

		f.vol[VOL] *= 1.5;
		ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
		for (i = 0; i < 9; i++)
			ck_assert(f.res.pos[i].p_liq >= base_p[i] * (1 - 1e-12));
		f.vol[VOL] /= 1.5;

		f.req.params.depth_scale = 0.3;
		ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
		for (d = 0; d < 2; d++)
			ck_assert_msg(f.res.markets[0].dir[d].cascade_prob >=
			    base_c[d] * (1 - 1e-12), "it %d dir %d", it, d);
		for (i = 0; i < 9; i++) {
			const struct lc_liq_result *lr = &f.res.pos[i].lp[0];

			ck_assert(f.res.pos[i].p_liq >= base_p[i] * (1 - 1e-12));
			if (isnan(base_e[i]))
				continue;
			if (lr->dir == LC_DOWN)
				ck_assert(lr->effective_price >=
				    base_e[i] * (1 - 1e-12));
			else
				ck_assert(lr->effective_price <=
				    base_e[i] * (1 + 1e-12));
		}
		fix_release(&f);
	}
}
END_TEST

/*
 * The merge of stored levels with the request's ladder steps (bisection
 * and block copies in score.c) against a brute-force reference: every
 * non-stale level, then every step in request and ladder order, stably
 * sorted into cascade order (stored levels first at equal prices), built
 * into a cascade.  Some levels sit exactly at a position's first step
 * (ties), some are stale.  Effective prices and liquidation_qty_to_10pct
 * must agree to the bit.
 */
START_TEST(prop_merge_reference)
{
	uint64_t seed = 777;
	int it;

	for (it = 0; it < 200; it++) {
		struct fix f;
		struct lc_position pos[8];
		struct lc_entry ent[16];
		struct lc_ladder ld;
		double tp[16 + 8 * LC_MAX_STEPS], tq[16 + 8 * LC_MAX_STEPS];
		uint64_t tag[16 + 8 * LC_MAX_STEPS];
		size_t first[8], i, j, k;
		int d;

		random_case(&f, pos, ent, 8, &seed);
		/* ties: a stored level at some positions' first step */
		for (i = 0; i < 8 && f.am[VOL].levels[LC_DOWN].n < 16; i++) {
			if (pos[i].type == LC_POS_PERP)
				lc_perp_ladder(&pos[i].u.perp, f.price, &ld);
			else
				lc_loan_ladder(&pos[i].u.loan, f.price, f.vol,
				    &ld);
			if (ld.dir == LC_DOWN && ld.n > 0 &&
			    !ld.liquidatable_now && rng_unif(&seed) < 0.5)
				fix_level(&f, LC_DOWN, ld.price[0], 7.0);
		}
		qsort(f.lp[LC_DOWN], f.am[VOL].levels[LC_DOWN].n,
		    sizeof(double), cmp_desc);
		/* a stale level or two in front */
		f.price[VOL] *= 1.0 - 0.05 * rng_unif(&seed);
		ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
		for (d = 0; d < 2; d++) {
			const struct lc_levels *lv = &f.am[VOL].levels[d];
			struct lc_cascade c;
			double q10 = 0.0;
			size_t n = 0;

			for (i = 0; i < lv->n; i++)
				if (d == LC_DOWN ? lv->price[i] < f.price[VOL] :
				    lv->price[i] > f.price[VOL]) {
					tp[n] = lv->price[i];
					tq[n] = lv->qty[i];
					tag[n++] = UINT64_MAX;
				}
			for (i = 0; i < 8; i++) {
				first[i] = SIZE_MAX;
				if (pos[i].type == LC_POS_PERP)
					lc_perp_ladder(&pos[i].u.perp, f.price,
					    &ld);
				else
					lc_loan_ladder(&pos[i].u.loan, f.price,
					    f.vol, &ld);
				if (ld.dir != (enum lc_dir)d)
					continue;
				for (k = 0; k < ld.n; k++) {
					tp[n] = ld.price[k];
					tq[n] = ld.qty[k];
					tag[n++] = i * LC_MAX_STEPS + k;
				}
			}
			ck_assert_int_eq(lc_trigger_sort((enum lc_dir)d, tp, tq,
			    tag, n), LC_OK);
			for (j = 0; j < n; j++) {
				if (tag[j] != UINT64_MAX &&
				    tag[j] % LC_MAX_STEPS == 0)
					first[tag[j] / LC_MAX_STEPS] = j;
				if (d == LC_DOWN ? tp[j] >= 0.9 * f.price[VOL] :
				    tp[j] <= 1.1 * f.price[VOL])
					q10 += tq[j];
			}
			lc_cascade_init(&c);
			ck_assert_int_eq(lc_cascade_build(&c, (enum lc_dir)d,
			    &f.am[VOL].curve[d == LC_DOWN ? LC_BID : LC_ASK],
			    1.0, tp, tq, n), LC_OK);
			ck_assert_msg(memcmp(&q10,
			    &f.res.markets[0].dir[d].qty_to_10pct,
			    sizeof(double)) == 0, "it %d dir %d: q10 %.17g vs "
			    "%.17g", it, d, q10,
			    f.res.markets[0].dir[d].qty_to_10pct);
			for (i = 0; i < 8; i++) {
				const struct lc_pos_result *r = &f.res.pos[i];

				if (first[i] == SIZE_MAX || r->liquidatable)
					continue;
				ck_assert_msg(memcmp(&c.m[first[i] + 1],
				    &r->lp[0].effective_price,
				    sizeof(double)) == 0, "it %d pos %zu", it,
				    i);
			}
			lc_cascade_release(&c);
		}
		fix_release(&f);
	}
}
END_TEST

/* Reusing one result across calls of different sizes gives the same bits. */
START_TEST(workspace_reuse)
{
	uint64_t seed = 99;
	struct fix f, g;
	struct lc_position pos[30], pos2[3];
	struct lc_entry ent[60], ent2[6];
	struct lc_score_result fresh;
	size_t i;

	random_case(&f, pos, ent, 30, &seed);
	random_case(&g, pos2, ent2, 3, &seed);
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	ck_assert_int_eq(lc_score(&g.m, &g.req, &f.res), LC_OK);
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	lc_score_result_init(&fresh);
	ck_assert_int_eq(lc_score(&f.m, &f.req, &fresh), LC_OK);
	ck_assert_uint_eq(fresh.npos, f.res.npos);
	for (i = 0; i < fresh.npos; i++) {
		const struct lc_pos_result *a = &fresh.pos[i];
		const struct lc_pos_result *b = &f.res.pos[i];

		ck_assert(memcmp(&a->p_liq, &b->p_liq, sizeof(double)) == 0);
		ck_assert(memcmp(&a->lp[0].effective_price,
		    &b->lp[0].effective_price, sizeof(double)) == 0);
		ck_assert(memcmp(&a->exp_slip_bps, &b->exp_slip_bps,
		    sizeof(double)) == 0);
	}
	lc_score_result_release(&fresh);
	fix_release(&f);
	fix_release(&g);
}
END_TEST

/*
 * depth_exhausted: the cascade's total volume S_n, or an exact fill such
 * as the unwind, beyond q_n * depth_scale; false without a curve.
 */
START_TEST(depth_exhausted)
{
	static const double pts[] = { 100.0, 50.0, 1000.0, 400.0 };
	struct fix f;
	struct lc_position pos[1];
	struct lc_entry c[1] = { { USDC, 1e6, 0.8 } };
	struct lc_entry d[1] = { { VOL, 300.0, 0.0 } };

	fix_init(&f, "ETH", 2000.0, 0.8);
	fix_curve(&f, LC_BID, pts, 2);
	fix_curve(&f, LC_ASK, pts, 2);
	fix_level(&f, LC_DOWN, 1900.0, 300.0);
	pos[0] = mk_perp("p", 0, 50.0, 2000.0, 20000.0, 0.005);
	f.req.pos = pos;
	f.req.npos = 1;
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	ck_assert(!f.res.markets[0].dir[LC_DOWN].depth_exhausted);
	f.req.params.depth_scale = 0.5;	/* 350 > 200 */
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	ck_assert(f.res.markets[0].dir[LC_DOWN].depth_exhausted);
	ck_assert(!f.res.markets[0].dir[LC_UP].depth_exhausted);
	/* The unwind of a 300 ETH debt buys 300 > 200 on the ask. */
	f.am[VOL].levels[LC_DOWN].n = 0;
	pos[0] = mk_loan("debt", LC_AAVE_V3, c, 1, d, 1);
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	ck_assert(!f.res.markets[0].dir[LC_DOWN].depth_exhausted);
	ck_assert(f.res.markets[0].dir[LC_UP].depth_exhausted);
	/* No curve: never exhausted, missing_depth on that side. */
	lc_curve_release(&f.am[VOL].curve[LC_ASK]);
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_OK);
	ck_assert(!f.res.markets[0].dir[LC_UP].depth_exhausted);
	ck_assert_uint_eq(f.res.nwarn, 1);
	ck_assert_int_eq(f.res.warn[0].code, LC_W_MISSING_DEPTH);
	ck_assert(f.res.pos[0].unwind_bps == 0.0);
	fix_release(&f);
}
END_TEST

START_TEST(bad_input)
{
	struct fix f;
	struct lc_position pos[2];
	struct lc_entry c[1], d[1];

	setup_01(&f, pos, c, d);
	c[0].asset = 7;
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_EINVAL);
	c[0].asset = VOL;
	f.req.params.depth_scale = 0.0;
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_EINVAL);
	f.req.params.depth_scale = 1.0;
	pos[1].u.perp.asset = USDC;	/* perp on a stable asset */
	ck_assert_int_eq(lc_score(&f.m, &f.req, &f.res), LC_EINVAL);
	fix_release(&f);
}
END_TEST

/*
 * Out of memory: each allocation of lc_score() fails in turn (exact pass,
 * result arrays, warnings, the Monte Carlo pass): LC_ENOMEM and, once the
 * result is released, nothing leaked.  Example 05 with its stored levels
 * (both directions: the Monte Carlo portfolio), then with a coupled loan.
 */
static int
oom_run(void *ctx)
{
	const struct fix *f = ctx;
	struct lc_score_result r;
	int rc;

	lc_score_result_init(&r);
	rc = (int)lc_score(&f->m, &f->req, &r);
	lc_score_result_release(&r);
	return rc;
}

START_TEST(out_of_memory)
{
	struct fix f;
	struct lc_position pos[5];
	struct lc_entry cc[1] = { { VOL, 1.0, 0.8 } };
	struct lc_entry dc[2] = { { USDC, 20000.0, 0.0 }, { VOL, 0.2, 0.0 } };
	char why[160];
	long n;

	setup_05(&f, pos, 1);
	f.req.params.paths = 700;
	n = failalloc_sweep(oom_run, &f, LC_OK, LC_ENOMEM, 0, 10000, why,
	    sizeof(why));
	ck_assert_msg(n > 0, "perps: %s", why);
	pos[4] = mk_loan("coupled", LC_AAVE_V3, cc, 1, dc, 2);
	f.req.npos = 5;
	n = failalloc_sweep(oom_run, &f, LC_OK, LC_ENOMEM, 0, 10000, why,
	    sizeof(why));
	ck_assert_msg(n > 0, "with a coupled loan: %s", why);
	fix_release(&f);
}
END_TEST

static Suite *
score_suite(void)
{
	Suite *s = suite_create("score");
	TCase *tc;

	tc = tcase_create("examples");
	tcase_add_test(tc, example_01);
	tcase_add_test(tc, example_02);
	tcase_add_test(tc, example_03);
	tcase_add_test(tc, example_04);
	tcase_add_test(tc, example_05);
	tcase_add_test(tc, example_06);
	suite_add_tcase(s, tc);

	tc = tcase_create("behaviour");
	tcase_add_test(tc, stable_and_coupled);
	tcase_add_test(tc, stale_levels);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, depth_exhausted);
	tcase_add_test(tc, workspace_reuse);
	tcase_add_test(tc, out_of_memory);
	suite_add_tcase(s, tc);

	tc = tcase_create("properties");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, prop_effective_vs_static);
	tcase_add_test(tc, prop_monotone);
	tcase_add_test(tc, prop_merge_reference);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ck_run_suite(score_suite());
}

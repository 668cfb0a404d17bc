/*
 * test_position.c - Check suite of position.c (docs/model.md section 3): published
 * worked examples, hand-checked ladders of every protocol, and seeded
 * brute-force checks that every ladder step sits where HF = 1.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "cascade/position.h"
#include "ckutil.h"

#define REL(a, b, tol) \
	ck_assert_msg(fabs((a) - (b)) <= (tol) * fmax(1.0, fabs(b)), \
	    "%s = %.15g, want %.15g", #a, (double)(a), (double)(b))

/* Assets of these tests: 0 USDC (stable), 1 ETH, 2 BTC, 3 wstETH. */
enum { USDC = 0, ETH = 1, BTC = 2, WSTETH = 3, NASSETS = 4 };

static void
market(double *price, double *vol, double eth, double btc)
{
	price[USDC] = 1.0;
	price[ETH] = eth;
	price[BTC] = btc;
	price[WSTETH] = eth * 1.15;
	vol[USDC] = 0.0;
	vol[ETH] = 0.8;
	vol[BTC] = 0.6;
	vol[WSTETH] = 0.8;
}

static struct lc_loan
loan(enum lc_protocol proto, const struct lc_entry *c, size_t nc,
    const struct lc_entry *d, size_t nd)
{
	struct lc_loan l;

	l.protocol = proto;
	l.coll = c;
	l.ncoll = nc;
	l.debt = d;
	l.ndebt = nd;
	l.bonus = NAN;
	l.close_factor = NAN;
	l.full_liq_below = 2000.0;
	return l;
}

static struct lc_perp
perp(uint32_t asset, int is_short, double size, double entry, double margin,
    double mmr)
{
	struct lc_perp p;

	p.asset = asset;
	p.is_short = is_short;
	p.size = size;
	p.entry = entry;
	p.margin = margin;
	p.mmr = mmr;
	p.mm_amount = 0.0;
	p.tiers = NULL;
	p.ntiers = 0;
	return p;
}

/*
 * Binance BTCUSDT maintenance brackets 2021, rows copied from Binance's
 * published table (mmr in percent there); the last row's max is ignored
 * by docs/model.md 3.2.
 */
static const struct lc_tier binance_btc_2021[] = {
	{ 50000, 0.004, 0 },
	{ 250000, 0.005, 50 },
	{ 1000000, 0.010, 1300 },
	{ 10000000, 0.025, 16300 },
	{ 20000000, 0.050, 266300 },
	{ 50000000, 0.100, 1266300 },
	{ 100000000, 0.125, 2516300 },
	{ 200000000, 0.150, 5016300 },
	{ 300000000, 0.250, 25016300 },
	{ 500000000, 0.500, 100016300 },
};

/* ---- published worked examples ---- */

/*
 * Aave docs, "Health factor": 10000 USD of ETH at LT 0.80 against 6000 of
 * debt gives HF = 8000 / 6000 = 1.333.
 */
START_TEST(aave_health_factor)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_entry c[] = { { ETH, 5.0, 0.80 } };
	struct lc_entry d[] = { { USDC, 6000.0, 0.0 } };
	struct lc_loan l;

	market(price, vol, 2000.0, 50000.0);
	l = loan(LC_AAVE_V3, c, 1, d, 1);
	REL(lc_loan_health(&l, price), 4.0 / 3.0, 1e-12);
	l.ndebt = 0;
	ck_assert(isnan(lc_loan_health(&l, price)));
}
END_TEST

/*
 * Aave docs, liquidation price example: 5 ETH at 2000, LT 0.825, debt
 * 8500 USDC: 8500 / (5 * 0.825) = 2060.61.
 */
START_TEST(aave_liquidation_price)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_entry c[] = { { ETH, 5.0, 0.825 } };
	struct lc_entry d[] = { { USDC, 8500.0, 0.0 } };
	struct lc_liq_price lp[2];
	struct lc_loan l;
	size_t n;

	market(price, vol, 2000.0, 50000.0);
	l = loan(LC_AAVE_V3, c, 1, d, 1);
	ck_assert_int_eq(lc_loan_liq_prices(&l, price, vol, lp, 2, &n), LC_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(lp[0].asset, ETH);
	ck_assert_int_eq(lp[0].dir, LC_DOWN);
	REL(lp[0].price, 2060.61, 5e-6);
	REL(lp[0].price, 8500.0 / (5.0 * 0.825), 1e-14);
	/* Already below: liquidatable now (HF < 1). */
	ck_assert(lc_loan_health(&l, price) < 1.0);
}
END_TEST

/*
 * Binance 2021 BTCUSDT brackets (the table above, docs/model.md 3.2): long 1 BTC at
 * 50000, 20x: 47690.76 (tier 1); short: 52288.56 (tier 2); long 100 BTC:
 * 48550.77 (tier 4).
 */
START_TEST(binance_tiers)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_perp p;
	struct lc_perp_liq pl;
	size_t bad = 99;
	size_t nt = sizeof(binance_btc_2021) / sizeof(binance_btc_2021[0]);

	market(price, vol, 2000.0, 50000.0);
	ck_assert_int_eq(lc_perp_check_tiers(binance_btc_2021, nt, &bad),
	    LC_OK);

	p = perp(BTC, 0, 1.0, 50000.0, 50000.0 / 20.0, 0.0);
	p.tiers = binance_btc_2021;
	p.ntiers = nt;
	lc_perp_liq_price(&p, price, &pl);
	REL(pl.price, 47690.76, 1e-7);
	ck_assert_uint_eq(pl.tier, 0);
	ck_assert(!pl.liquidatable_now);

	p.is_short = 1;
	lc_perp_liq_price(&p, price, &pl);
	REL(pl.price, 52288.56, 1e-7);
	ck_assert_uint_eq(pl.tier, 1);

	p = perp(BTC, 0, 100.0, 50000.0, 100.0 * 50000.0 / 20.0, 0.0);
	p.tiers = binance_btc_2021;
	p.ntiers = nt;
	lc_perp_liq_price(&p, price, &pl);
	REL(pl.price, 48550.77, 1e-7);
	ck_assert_uint_eq(pl.tier, 3);
}
END_TEST

/*
 * Hyperliquid docs, liquidation price (mmr = 1 / (2 * max leverage)):
 * long 1 BTC at 100000, 10x, mmr 0.0125: 91139.24; short: 108641.98.
 */
START_TEST(hyperliquid_perp)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_perp p = perp(BTC, 0, 1.0, 100000.0, 10000.0, 0.0125);
	struct lc_perp_liq pl;

	market(price, vol, 2000.0, 100000.0);
	lc_perp_liq_price(&p, price, &pl);
	REL(pl.price, 91139.24, 1e-7);
	p.is_short = 1;
	lc_perp_liq_price(&p, price, &pl);
	REL(pl.price, 108641.98, 1e-7);
	ck_assert(!pl.always && !pl.liquidatable_now);
}
END_TEST

/*
 * dYdX docs, "Liquidation price": short 3 ETH at 3000 with 1000 of equity
 * and a 5% maintenance fraction: (1000 + 9000) / (3 * 1.05) = 3174.60.
 */
START_TEST(dydx_short)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_perp p = perp(ETH, 1, 3.0, 3000.0, 1000.0, 0.05);
	struct lc_perp_liq pl;

	market(price, vol, 3000.0, 50000.0);
	lc_perp_liq_price(&p, price, &pl);
	REL(pl.price, 3174.60, 2e-6);
}
END_TEST

/*
 * Morpho Blue docs, liquidation incentive factor:
 * LIF = min(1.15, 1 / (0.3 * LLTV + 0.7)); LLTV 0.80 gives 1.063830.
 */
START_TEST(morpho_bonus)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_entry c[] = { { USDC, 100.0, 0.5 }, { ETH, 5.0, 0.80 } };
	struct lc_entry d[] = { { USDC, 7000.0, 0.0 } };
	struct lc_loan l;

	market(price, vol, 2000.0, 50000.0);
	l = loan(LC_MORPHO_BLUE, c, 2, d, 1);
	/* The largest collateral by value (ETH) sets the LLTV. */
	REL(lc_loan_bonus(&l, price), 0.063830, 1e-5);
	REL(lc_loan_bonus(&l, price), 1.0 / 0.94 - 1.0, 1e-14);
	REL(lc_loan_close_factor(&l), 1.0, 0.0);
	l.bonus = 0.02;
	l.close_factor = 0.4;
	REL(lc_loan_bonus(&l, price), 0.02, 0.0);
	REL(lc_loan_close_factor(&l), 0.4, 0.0);
	/* Cap at 0.15 for low LLTVs. */
	c[1].lt = 0.3;
	l.bonus = NAN;
	REL(lc_loan_bonus(&l, price), 0.15, 0.0);
}
END_TEST

/* ---- entries, defaults, classification, static prices ---- */

START_TEST(normalize_entries)
{
	struct lc_entry e[] = {
		{ ETH, 2.0, 0.8 }, { USDC, 0.0, 0.9 }, { BTC, 1.0, 0.7 },
		{ ETH, 6.0, 0.6 }, { USDC, 5.0, 0.9 },
	};
	size_t n = 5;

	lc_entries_normalize(e, &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(e[0].asset, ETH);
	REL(e[0].amount, 8.0, 0.0);
	REL(e[0].lt, (2.0 * 0.8 + 6.0 * 0.6) / 8.0, 1e-15);
	ck_assert_uint_eq(e[1].asset, BTC);
	ck_assert_uint_eq(e[2].asset, USDC);
	REL(e[2].amount, 5.0, 0.0);
}
END_TEST

START_TEST(aave_defaults_and_check)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_entry c[] = { { ETH, 5.0, 0.825 }, { USDC, 100.0, 0.97 } };
	struct lc_entry d[] = { { USDC, 7000.0, 0.0 } };
	struct lc_loan l;
	size_t bad = 99;

	market(price, vol, 2000.0, 50000.0);
	l = loan(LC_AAVE_V3, c, 2, d, 1);
	/* LT_max 0.97: min(0.05, 1/0.97 - 1 = 0.0309). */
	REL(lc_loan_bonus(&l, price), 1.0 / 0.97 - 1.0, 1e-14);
	REL(lc_loan_close_factor(&l), 0.5, 0.0);
	ck_assert_int_eq(lc_loan_check(&l, price, &bad), LC_OK);
	l.bonus = 0.05;	/* 0.97 * 1.05 > 1 */
	ck_assert_int_eq(lc_loan_check(&l, price, &bad), LC_EINVAL);
	ck_assert_uint_eq(bad, 1);
	l.close_factor = 0.3;
	REL(lc_loan_close_factor(&l), 0.3, 0.0);
	/* Compound ignores bonus and close factor and is never checked. */
	l.protocol = LC_COMPOUND_V3;
	ck_assert_int_eq(lc_loan_check(&l, price, &bad), LC_OK);
	REL(lc_loan_close_factor(&l), 1.0, 0.0);
}
END_TEST

START_TEST(classify)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_entry cs[] = { { USDC, 1000.0, 0.9 } };
	struct lc_entry ce[] = { { ETH, 1.0, 0.8 }, { USDC, 10.0, 0.9 } };
	struct lc_entry ds[] = { { USDC, 100.0, 0.0 } };
	struct lc_entry de[] = { { ETH, 0.1, 0.0 } };
	struct lc_entry db[] = { { USDC, 1.0, 0.0 }, { BTC, 0.01, 0.0 } };
	struct lc_loan l;
	uint32_t a = 99;
	enum lc_dir dir = LC_UP;

	market(price, vol, 2000.0, 50000.0);
	l = loan(LC_AAVE_V3, cs, 1, ds, 1);
	ck_assert_int_eq(lc_loan_classify(&l, vol, &a, &dir), LC_LOAN_STABLE);
	l = loan(LC_AAVE_V3, ce, 2, ds, 1);
	ck_assert_int_eq(lc_loan_classify(&l, vol, &a, &dir), LC_LOAN_SINGLE);
	ck_assert_uint_eq(a, ETH);
	ck_assert_int_eq(dir, LC_DOWN);
	l = loan(LC_AAVE_V3, cs, 1, db, 2);
	ck_assert_int_eq(lc_loan_classify(&l, vol, &a, &dir), LC_LOAN_SINGLE);
	ck_assert_uint_eq(a, BTC);
	ck_assert_int_eq(dir, LC_UP);
	/* One volatile asset on both sides: coupled. */
	l = loan(LC_AAVE_V3, ce, 2, de, 1);
	ck_assert_int_eq(lc_loan_classify(&l, vol, NULL, NULL),
	    LC_LOAN_COUPLED);
	/* Two volatile assets: coupled. */
	l = loan(LC_AAVE_V3, ce, 2, db, 2);
	ck_assert_int_eq(lc_loan_classify(&l, vol, NULL, NULL),
	    LC_LOAN_COUPLED);
	/* A volatility override of 0 makes ETH stable. */
	vol[ETH] = 0.0;
	l = loan(LC_AAVE_V3, ce, 2, ds, 1);
	ck_assert_int_eq(lc_loan_classify(&l, vol, NULL, NULL),
	    LC_LOAN_STABLE);
}
END_TEST

START_TEST(liq_prices_coupled)
{
	double price[NASSETS], vol[NASSETS];
	/* ETH and wstETH collateral, USDC and ETH debt. */
	struct lc_entry c[] = { { ETH, 10.0, 0.8 }, { WSTETH, 4.0, 0.75 },
		{ USDC, 1000.0, 0.9 } };
	struct lc_entry d[] = { { USDC, 9000.0, 0.0 }, { ETH, 3.0, 0.0 } };
	struct lc_liq_price lp[4];
	struct lc_loan l;
	size_t n;
	double pe, pw, w_other;

	market(price, vol, 2000.0, 50000.0);
	l = loan(LC_AAVE_V3, c, 3, d, 2);
	ck_assert_int_eq(lc_loan_liq_prices(&l, price, vol, NULL, 0, &n),
	    LC_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(lc_loan_liq_prices(&l, price, vol, lp, 1, &n),
	    LC_ELIMIT);
	ck_assert_int_eq(lc_loan_liq_prices(&l, price, vol, lp, 4, &n), LC_OK);
	ck_assert_uint_eq(n, 2);
	/* ETH on both sides, netted: (D' - W') / (c LT - d). */
	w_other = 4.0 * price[WSTETH] * 0.75 + 1000.0 * 0.9;
	pe = (9000.0 - w_other) / (10.0 * 0.8 - 3.0);
	ck_assert_uint_eq(lp[0].asset, ETH);
	ck_assert_int_eq(lp[0].dir, LC_DOWN);
	REL(lp[0].price, pe, 1e-14);
	/* wstETH: (D - W') / (c LT) with ETH at its price on both sides. */
	pw = (9000.0 + 3.0 * 2000.0 - 10.0 * 2000.0 * 0.8 - 900.0) /
	    (4.0 * 0.75);
	ck_assert_uint_eq(lp[1].asset, WSTETH);
	ck_assert(isnan(lp[1].price) == (pw <= 0.0));
	/* Netted the other way (more ETH debt than weighted collateral). */
	d[0].amount = 5000.0;
	d[1].amount = 9.0;
	lc_loan_liq_prices(&l, price, vol, lp, 4, &n);
	ck_assert_int_eq(lp[0].dir, LC_UP);
	REL(lp[0].price, (w_other - 5000.0) / (9.0 - 8.0), 1e-14);
	d[0].amount = 9000.0;
	lc_loan_liq_prices(&l, price, vol, lp, 4, &n);
	ck_assert(isnan(lp[0].price));	/* 7800 - 9000 < 0: none */
	/* Exactly balanced: HF does not depend on P_ETH: null. */
	d[1].amount = 8.0;
	lc_loan_liq_prices(&l, price, vol, lp, 4, &n);
	ck_assert(isnan(lp[0].price));
}
END_TEST

START_TEST(common_move)
{
	double price[NASSETS], vol[NASSETS], m, hf;
	struct lc_entry c[] = { { ETH, 10.0, 0.8 }, { BTC, 0.2, 0.7 },
		{ USDC, 500.0, 0.9 } };
	struct lc_entry d[] = { { USDC, 14000.0, 0.0 }, { BTC, 0.05, 0.0 } };
	struct lc_entry lc[] = { { WSTETH, 10.0, 0.93 } };
	struct lc_entry ld[] = { { ETH, 10.0, 0.0 } };
	struct lc_loan l;
	double moved[NASSETS];
	int i;

	market(price, vol, 2000.0, 50000.0);
	l = loan(LC_AAVE_V3, c, 3, d, 2);
	m = lc_loan_common_move(&l, price, vol);
	ck_assert(isfinite(m) && m > -100.0);
	for (i = 0; i < NASSETS; i++)
		moved[i] = vol[i] > 0.0 ? price[i] * (1.0 + m / 100.0) :
		    price[i];
	hf = lc_loan_health(&l, moved);
	REL(hf, 1.0, 1e-12);
	/* Example 01: one ETH collateral, USDC debt: -12.5%. */
	l = loan(LC_AAVE_V3, c, 1, d, 1);
	REL(lc_loan_common_move(&l, price, vol), -12.5, 1e-12);
	/* wstETH / ETH loop without a stable leg: no move exists. */
	l = loan(LC_AAVE_V3, lc, 1, ld, 1);
	ck_assert(isnan(lc_loan_common_move(&l, price, vol)));
	/* Stable loan: null. */
	l = loan(LC_AAVE_V3, c + 2, 1, d, 1);
	ck_assert(isnan(lc_loan_common_move(&l, price, vol)));
}
END_TEST

/* ---- ladders ---- */

/*
 * Example 04 (tests/golden/04-protocol-presets.json), aave-default:
 * 5 ETH at LT 0.825 against 7000 USDC, bonus 0.05, cf 0.5 while both
 * totals stay above 2000, then 1.
 */
START_TEST(ladder_aave_full_liquidation)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_entry c[] = { { ETH, 5.0, 0.825 } };
	struct lc_entry d[] = { { USDC, 7000.0, 0.0 } };
	struct lc_loan l;
	struct lc_ladder ld;
	double x1, q1, x2, q2, c2, x3, q3, c3;

	market(price, vol, 2000.0, 50000.0);
	l = loan(LC_AAVE_V3, c, 1, d, 1);
	ck_assert_int_eq(lc_loan_ladder(&l, price, vol, &ld), LC_OK);
	x1 = 7000.0 / (5.0 * 0.825);
	q1 = 3500.0 * 1.05 / x1;
	c2 = 5.0 - q1;
	x2 = 3500.0 / (c2 * 0.825);
	q2 = 1750.0 * 1.05 / x2;
	c3 = c2 - q2;
	x3 = 1750.0 / (c3 * 0.825);	/* debt 1750 < 2000: cf 1 */
	q3 = 1750.0 * 1.05 / x3;
	ck_assert_uint_eq(ld.n, 3);
	ck_assert(!ld.liquidatable_now);
	ck_assert_int_eq(ld.dir, LC_DOWN);
	REL(ld.price[0], x1, 1e-13);
	REL(ld.qty[0], q1, 1e-13);
	REL(ld.qty[0], 2.165625, 1e-13);
	REL(ld.price[1], x2, 1e-13);
	REL(ld.qty[1], q2, 1e-13);
	REL(ld.price[2], x3, 1e-13);
	REL(ld.qty[2], q3, 1e-13);

	/* full_liquidation_below 0 disables the rule: geometric ladder. */
	l.full_liq_below = 0.0;
	lc_loan_ladder(&l, price, vol, &ld);
	ck_assert_uint_gt(ld.n, 20);
	REL(ld.price[2], 1750.0 / (c3 * 0.825), 1e-13);
	REL(ld.qty[2], 875.0 * 1.05 / ld.price[2], 1e-13);
}
END_TEST

/* Example 04, aave-cf-0.3: an explicit close factor replaces only 0.5. */
START_TEST(ladder_aave_close_factor)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_entry c[] = { { ETH, 5.0, 0.825 } };
	struct lc_entry d[] = { { USDC, 7000.0, 0.0 } };
	struct lc_loan l;
	struct lc_ladder ld;
	double cc = 5.0, debt = 7000.0;
	size_t k;

	market(price, vol, 2000.0, 50000.0);
	l = loan(LC_AAVE_V3, c, 1, d, 1);
	l.close_factor = 0.3;
	lc_loan_ladder(&l, price, vol, &ld);
	for (k = 0; k < ld.n; k++) {
		double x = debt / (cc * 0.825);
		double cf = (cc * x < 2000.0 || debt < 2000.0) ? 1.0 : 0.3;

		REL(ld.price[k], x, 1e-12);
		REL(ld.qty[k], cf * debt * 1.05 / x, 1e-12);
		cc -= ld.qty[k];
		debt -= cf * debt;
	}
	ck_assert(debt == 0.0);
	REL(ld.qty[0], 1.299375, 1e-13);
}
END_TEST

/* Example 04, morpho: LLTV 0.86, cf 1: one step repays everything. */
START_TEST(ladder_morpho)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_entry c[] = { { ETH, 5.0, 0.86 } };
	struct lc_entry d[] = { { USDC, 7000.0, 0.0 } };
	struct lc_loan l;
	struct lc_ladder ld;
	double b = 1.0 / (0.3 * 0.86 + 0.7) - 1.0, x = 7000.0 / (5.0 * 0.86);

	market(price, vol, 2000.0, 50000.0);
	l = loan(LC_MORPHO_BLUE, c, 1, d, 1);
	lc_loan_ladder(&l, price, vol, &ld);
	ck_assert_uint_eq(ld.n, 1);
	REL(ld.price[0], x, 1e-13);
	REL(ld.qty[0], 7000.0 * (1.0 + b) / x, 1e-13);
}
END_TEST

/* Example 04, comet: compound-v3 absorbs all volatile collateral at once. */
START_TEST(ladder_compound)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_entry c[] = { { ETH, 5.0, 0.895 } };
	struct lc_entry d[] = { { USDC, 7000.0, 0.0 } };
	struct lc_entry cs[] = { { USDC, 100000.0, 0.85 } };
	struct lc_entry db[] = { { BTC, 1.2, 0.0 } };
	struct lc_loan l;
	struct lc_ladder ld;

	market(price, vol, 2000.0, 60000.0);
	l = loan(LC_COMPOUND_V3, c, 1, d, 1);
	l.bonus = 0.3;	/* ignored */
	lc_loan_ladder(&l, price, vol, &ld);
	ck_assert_uint_eq(ld.n, 1);
	REL(ld.price[0], 7000.0 / (5.0 * 0.895), 1e-13);
	REL(ld.qty[0], 5.0, 0.0);
	/* Volatile debt: absorbed with no market purchase. */
	l = loan(LC_COMPOUND_V3, cs, 1, db, 1);
	lc_loan_ladder(&l, price, vol, &ld);
	ck_assert_uint_eq(ld.n, 1);
	ck_assert_int_eq(ld.dir, LC_UP);
	REL(ld.price[0], 85000.0 / 1.2, 1e-13);
	REL(ld.qty[0], 0.0, 0.0);
}
END_TEST

/*
 * Example 03 (tests/golden/03-up-direction.json), btc-debt: 100000 USDC
 * at LT 0.85 against 1.2 BTC: the ladder buys BTC back as the price rises.
 */
START_TEST(ladder_volatile_debt)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_entry c[] = { { USDC, 100000.0, 0.85 } };
	struct lc_entry d[] = { { BTC, 1.2, 0.0 } };
	struct lc_loan l;
	struct lc_ladder ld;
	double coll = 100000.0, q = 1.2, b = 0.05;
	size_t k;

	market(price, vol, 2000.0, 60000.0);
	l = loan(LC_AAVE_V3, c, 1, d, 1);
	lc_loan_ladder(&l, price, vol, &ld);
	ck_assert_int_eq(ld.dir, LC_UP);
	ck_assert_uint_eq(ld.asset, BTC);
	REL(ld.price[0], 70833.0 + 1.0 / 3.0, 1e-13);
	REL(ld.qty[0], 0.6, 1e-13);
	ck_assert_uint_ge(ld.n, 2);
	for (k = 0; k < ld.n; k++) {
		double x = coll * 0.85 / q;
		double dv = q * x;
		double cf = (coll < 2000.0 || dv < 2000.0) ? 1.0 : 0.5;

		REL(ld.price[k], x, 1e-12);
		REL(ld.qty[k], cf * q, 1e-12);
		ck_assert(k == 0 || ld.price[k] > ld.price[k - 1]);
		coll -= cf * dv * (1.0 + b);
		q -= cf * q;
	}
}
END_TEST

/*
 * Example 02 (tests/golden/02-liquidatable-now.json): HF 0.96 at
 * P = 3000; the first step happens at P with its quantity at P, the next
 * one at its own liquidation price below P.
 */
START_TEST(ladder_liquidatable_now)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_entry c[] = { { ETH, 10.0, 0.8 } };
	struct lc_entry d[] = { { USDC, 25000.0, 0.0 } };
	struct lc_loan l;
	struct lc_ladder ld;

	market(price, vol, 3000.0, 60000.0);
	l = loan(LC_AAVE_V3, c, 1, d, 1);
	REL(lc_loan_health(&l, price), 0.96, 1e-14);
	lc_loan_ladder(&l, price, vol, &ld);
	ck_assert(ld.liquidatable_now);
	REL(ld.price[0], 3000.0, 0.0);
	REL(ld.qty[0], 4.375, 1e-14);
	REL(ld.price[1], 12500.0 / (5.625 * 0.8), 1e-13);
	REL(ld.qty[1], 6562.5 / ld.price[1], 1e-13);
	ck_assert(ld.price[1] < 3000.0);
}
END_TEST

/*
 * Deep underwater: collateral worth less than R (1 + bonus): all of it is
 * seized in one step at P, the rest is bad debt.
 */
START_TEST(ladder_bad_debt)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_entry c[] = { { ETH, 10.0, 0.8 }, { USDC, 500.0, 0.9 } };
	struct lc_entry d[] = { { USDC, 25000.0, 0.0 } };
	struct lc_entry cs[] = { { USDC, 1000.0, 0.9 } };
	struct lc_entry db[] = { { ETH, 10.0, 0.0 } };
	struct lc_loan l;
	struct lc_ladder ld;

	market(price, vol, 1000.0, 60000.0);
	l = loan(LC_AAVE_V3, c, 2, d, 1);
	lc_loan_ladder(&l, price, vol, &ld);
	ck_assert(ld.liquidatable_now);
	ck_assert_uint_eq(ld.n, 1);
	REL(ld.price[0], 1000.0, 0.0);
	REL(ld.qty[0], 10.0, 0.0);
	/*
	 * Volatile debt, 1000 USDC of collateral against 10000 of ETH debt:
	 * cf 1 (collateral below 2000); R shrinks to 1000/1.05.
	 */
	l = loan(LC_AAVE_V3, cs, 1, db, 1);
	lc_loan_ladder(&l, price, vol, &ld);
	ck_assert_uint_eq(ld.n, 1);
	REL(ld.price[0], 1000.0, 0.0);
	REL(ld.qty[0], 1000.0 / 1.05 / 1000.0, 1e-14);
}
END_TEST

/*
 * A loan with volatile debt whose stable collateral * LT is below its
 * stable debt is liquidatable at every price: its steps are all at P.
 */
START_TEST(ladder_always)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_entry c[] = { { USDC, 10000.0, 0.8 } };
	struct lc_entry d[] = { { USDC, 8500.0, 0.0 }, { ETH, 0.1, 0.0 } };
	struct lc_loan l;
	struct lc_ladder ld;
	struct lc_liq_price lp[2];
	size_t n, k;

	market(price, vol, 2000.0, 60000.0);
	l = loan(LC_AAVE_V3, c, 1, d, 2);
	lc_loan_liq_prices(&l, price, vol, lp, 2, &n);
	ck_assert(isnan(lp[0].price));
	ck_assert(lc_loan_health(&l, price) < 1.0);
	lc_loan_ladder(&l, price, vol, &ld);
	ck_assert(ld.liquidatable_now);
	ck_assert_uint_ge(ld.n, 1);
	for (k = 0; k < ld.n; k++)
		REL(ld.price[k], 2000.0, 0.0);
	/* First step: R = 0.5 * 8700; buys all 0.1 ETH (200), rest stable. */
	REL(ld.qty[0], 0.1, 1e-15);
}
END_TEST

/*
 * Seeded brute force: random single-asset loans (volatile collateral
 * against stable debt, and stable collateral against volatile debt) of
 * every protocol.  Replaying the ladder independently, HF at each step's
 * price just before the step is 1, and the steps run away from P.
 */
START_TEST(ladder_brute_force)
{
	double price[NASSETS], vol[NASSETS];
	unsigned seed = 12345;
	int it;

	market(price, vol, 2000.0, 60000.0);
	srand(seed);
	for (it = 0; it < 2000; it++) {
		double u1 = (double)rand() / RAND_MAX;
		double u2 = (double)rand() / RAND_MAX;
		double u3 = (double)rand() / RAND_MAX;
		int up = it % 2;
		enum lc_protocol proto = (enum lc_protocol)(it / 2 % 3);
		double lt = 0.5 + 0.45 * u1;
		struct lc_entry c[1], d[1], cur_c[1], cur_d[1];
		struct lc_loan l, cur;
		struct lc_ladder ld;
		double hf0, b, moved[NASSETS];
		size_t k;

		if (!up) {
			c[0] = (struct lc_entry){ ETH, 1.0 + 100.0 * u2, lt };
			d[0] = (struct lc_entry){ USDC, 0.0, 0.0 };
			d[0].amount = c[0].amount * 2000.0 * lt * (0.3 + 0.69 * u3);
		} else {
			c[0] = (struct lc_entry){ USDC, 1e3 + 1e6 * u2, lt };
			d[0] = (struct lc_entry){ BTC, 0.0, 0.0 };
			d[0].amount = c[0].amount * lt / 60000.0 *
			    (0.3 + 0.69 * u3);
		}
		l = loan(proto, c, 1, d, 1);
		if (it % 7 == 0)
			l.full_liq_below = 0.0;
		hf0 = lc_loan_health(&l, price);
		ck_assert(hf0 > 1.0);
		ck_assert_int_eq(lc_loan_ladder(&l, price, vol, &ld), LC_OK);
		ck_assert_uint_ge(ld.n, 1);
		ck_assert_uint_le(ld.n, LC_MAX_STEPS);
		b = lc_loan_bonus(&l, price);
		cur_c[0] = c[0];
		cur_d[0] = d[0];
		cur = l;
		cur.coll = cur_c;
		cur.debt = cur_d;
		for (k = 0; k < ld.n; k++) {
			uint32_t a = up ? BTC : ETH;
			int i;

			for (i = 0; i < NASSETS; i++)
				moved[i] = price[i];
			moved[a] = ld.price[k];
			/*
			 * The replay subtracts from the original amounts, so
			 * its own rounding grows as the debt shrinks.
			 */
			ck_assert_msg(fabs(lc_loan_health(&cur, moved) - 1.0) <
			    1e-12 * (1.0 + (up ? c[0].amount / cur_c[0].amount :
			    d[0].amount / cur_d[0].amount)),
			    "it %d step %zu hf %.17g", it, k,
			    lc_loan_health(&cur, moved));
			if (k > 0)
				ck_assert(up ? ld.price[k] >= ld.price[k - 1] :
				    ld.price[k] <= ld.price[k - 1]);
			/* Apply the step in entry terms. */
			if (proto == LC_COMPOUND_V3)
				break;
			if (!up) {
				double r = ld.qty[k] * ld.price[k] / (1.0 + b);

				cur_c[0].amount -= ld.qty[k];
				cur_d[0].amount -= r;
			} else {
				double r = ld.qty[k] * ld.price[k];

				cur_d[0].amount -= ld.qty[k];
				cur_c[0].amount -= r * (1.0 + b);
			}
		}
		if (proto == LC_COMPOUND_V3)
			ck_assert_uint_eq(ld.n, 1);
	}
}
END_TEST

/* ---- perps ---- */

START_TEST(perp_cases)
{
	double price[NASSETS], vol[NASSETS];
	struct lc_perp p;
	struct lc_perp_liq pl;
	struct lc_ladder ld;

	market(price, vol, 2000.0, 50000.0);
	/* Example 01: long 5 ETH at 2000, 10x: 1809.05, one step of 5. */
	p = perp(ETH, 0, 5.0, 2000.0, 1000.0, 0.005);
	lc_perp_liq_price(&p, price, &pl);
	REL(pl.price, 9000.0 / (5.0 * 0.995), 1e-14);
	lc_perp_ladder(&p, price, &ld);
	ck_assert_uint_eq(ld.n, 1);
	ck_assert_int_eq(ld.dir, LC_DOWN);
	REL(ld.price[0], pl.price, 0.0);
	REL(ld.qty[0], 5.0, 0.0);
	/* A long with margin above its notional is never liquidated. */
	p = perp(ETH, 0, 1.0, 2000.0, 2500.0, 0.005);
	lc_perp_liq_price(&p, price, &pl);
	ck_assert(isnan(pl.price) && !pl.always && !pl.liquidatable_now);
	lc_perp_ladder(&p, price, &ld);
	ck_assert_uint_eq(ld.n, 0);
	/* Liquidatable now: the step is at P. */
	p = perp(ETH, 0, 1.0, 2200.0, 150.0, 0.005);
	lc_perp_liq_price(&p, price, &pl);
	ck_assert(pl.liquidatable_now && pl.price > 2000.0);
	lc_perp_ladder(&p, price, &ld);
	ck_assert(ld.liquidatable_now);
	REL(ld.price[0], 2000.0, 0.0);
	/* Short liquidatable now. */
	p = perp(ETH, 1, 2.0, 1800.0, 300.0, 0.005);
	lc_perp_ladder(&p, price, &ld);
	ck_assert(ld.liquidatable_now);
	ck_assert_int_eq(ld.dir, LC_UP);
	REL(ld.price[0], 2000.0, 0.0);
	REL(ld.qty[0], 2.0, 0.0);
}
END_TEST

START_TEST(perp_tier_checks)
{
	struct lc_tier t[3] = {
		{ 50000, 0.004, 0 }, { 250000, 0.005, 50 },
		{ INFINITY, 0.010, 1300 },
	};
	size_t bad = 99;

	ck_assert_int_eq(lc_perp_check_tiers(t, 3, &bad), LC_OK);
	t[1].amount = 51.0;	/* discontinuous */
	ck_assert_int_eq(lc_perp_check_tiers(t, 3, &bad), LC_EINVAL);
	ck_assert_uint_eq(bad, 1);
	t[1].amount = 50.0 + 1e-5;	/* within 1e-6 * max(1, 50) */
	ck_assert_int_eq(lc_perp_check_tiers(t, 3, &bad), LC_OK);
	t[1].amount = 50.0;
	t[1].max_notional = 40000;	/* not ascending */
	ck_assert_int_eq(lc_perp_check_tiers(t, 3, &bad), LC_EINVAL);
	ck_assert_uint_eq(bad, 1);
	ck_assert_int_eq(lc_perp_check_tiers(t, 0, &bad), LC_EINVAL);
}
END_TEST

/*
 * Tiers: for random sizes, exactly one tier's root lies inside its tier,
 * and equity equals maintenance there (brute force over all tiers).
 */
START_TEST(perp_tiers_brute_force)
{
	double price[NASSETS], vol[NASSETS];
	size_t nt = sizeof(binance_btc_2021) / sizeof(binance_btc_2021[0]);
	int it;

	market(price, vol, 2000.0, 50000.0);
	srand(777);
	for (it = 0; it < 3000; it++) {
		double size = exp(log(0.01) + (log(20000.0) - log(0.01)) *
		    rand() / RAND_MAX);
		double lev = 1.0 + 99.0 * rand() / RAND_MAX;
		struct lc_perp p = perp(BTC, it % 2, size, 50000.0,
		    size * 50000.0 / lev, 0.0);
		struct lc_perp_liq pl;
		double x, n, eq, mm;
		const struct lc_tier *t;

		p.tiers = binance_btc_2021;
		p.ntiers = nt;
		lc_perp_liq_price(&p, price, &pl);
		if (isnan(pl.price))
			continue;
		x = pl.price;
		n = size * x;
		t = &binance_btc_2021[pl.tier];
		ck_assert(pl.tier == 0 || n > binance_btc_2021[pl.tier - 1]
		    .max_notional * (1.0 - 1e-12));
		ck_assert(pl.tier + 1 == nt || n <= t->max_notional *
		    (1.0 + 1e-12));
		eq = p.is_short ? p.margin + size * (p.entry - x) :
		    p.margin + size * (x - p.entry);
		mm = n * t->mmr - t->amount;
		ck_assert_msg(fabs(eq - mm) <= 1e-9 * fmax(1.0, p.margin),
		    "it %d eq %g mm %g", it, eq, mm);
	}
}
END_TEST

static Suite *
position_suite(void)
{
	Suite *s = suite_create("position");
	TCase *tc;

	tc = tcase_create("published");
	tcase_add_test(tc, aave_health_factor);
	tcase_add_test(tc, aave_liquidation_price);
	tcase_add_test(tc, binance_tiers);
	tcase_add_test(tc, hyperliquid_perp);
	tcase_add_test(tc, dydx_short);
	tcase_add_test(tc, morpho_bonus);
	suite_add_tcase(s, tc);

	tc = tcase_create("loan");
	tcase_add_test(tc, normalize_entries);
	tcase_add_test(tc, aave_defaults_and_check);
	tcase_add_test(tc, classify);
	tcase_add_test(tc, liq_prices_coupled);
	tcase_add_test(tc, common_move);
	suite_add_tcase(s, tc);

	tc = tcase_create("ladder");
	tcase_add_test(tc, ladder_aave_full_liquidation);
	tcase_add_test(tc, ladder_aave_close_factor);
	tcase_add_test(tc, ladder_morpho);
	tcase_add_test(tc, ladder_compound);
	tcase_add_test(tc, ladder_volatile_debt);
	tcase_add_test(tc, ladder_liquidatable_now);
	tcase_add_test(tc, ladder_bad_debt);
	tcase_add_test(tc, ladder_always);
	tcase_add_test(tc, ladder_brute_force);
	suite_add_tcase(s, tc);

	tc = tcase_create("perp");
	tcase_add_test(tc, perp_cases);
	tcase_add_test(tc, perp_tier_checks);
	tcase_add_test(tc, perp_tiers_brute_force);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ck_run_suite(position_suite());
}

/*
 * test_mc.c - Check suite of the Monte Carlo engine (mc*.c): forced onto
 * single-asset portfolios it must reproduce the exact engine (lc_score)
 * within 4 standard errors on seeded random markets; coupled loans with a
 * negligible second asset, or two perfectly correlated identical assets,
 * must reproduce the single-asset loan; independence and tail dependence
 * of two positions; the pegged wstETH/ETH loop; correlation shrinking;
 * bit-identical answers for 1, 2 and 4 threads; a throughput probe; and
 * an allocation failure at every allocation of each entry point.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cascade/mc.h"
#include "cascade/position.h"
#include "cascade/rng.h"
#include "cascade/score.h"
#include "cascade/stats.h"
#include "ckutil.h"
#include "failalloc.h"

/* Market of these tests: asset 0 is USDC, 1..NA-1 volatile when set. */
#define NA 7
#define NPOS 16
#define NENT 8

enum { USDC = 0 };

struct mkt {
	struct lc_asset_market am[NA];
	struct lc_market m;
	double price[NA], vol[NA];
	double *lp[NA][2], *lq[NA][2];
	double rho[NA * NA];
	struct lc_request req;
	struct lc_position pos[NPOS];
	struct lc_entry ent[NPOS][NENT];
	struct lc_score_result res;
	struct lc_mc_stats st;
};

static void
mkt_init(struct mkt *k)
{
	int a, s;

	memset(k, 0, sizeof(*k));
	for (a = 0; a < NA; a++) {
		for (s = 0; s < 2; s++) {
			lc_curve_init(&k->am[a].curve[s]);
			k->am[a].levels[s].n = 0;
		}
		k->am[a].symbol = "X";
		k->am[a].price = 1.0;
		k->price[a] = 1.0;
		k->vol[a] = 0.0;
		k->rho[a * NA + a] = 1.0;
	}
	k->am[USDC].symbol = "USDC";
	k->m.nassets = NA;
	k->m.assets = k->am;
	k->m.default_rho = 0.0;
	k->m.rho = k->rho;
	lc_params_default(&k->req.params);
	k->req.price = k->price;
	k->req.vol = k->vol;
	k->req.pos = k->pos;
	k->req.npos = 0;
	lc_score_result_init(&k->res);
	lc_mc_stats_init(&k->st);
}

static void
mkt_release(struct mkt *k)
{
	int a, s;

	for (a = 0; a < NA; a++)
		for (s = 0; s < 2; s++) {
			lc_curve_release(&k->am[a].curve[s]);
			free(k->lp[a][s]);
			free(k->lq[a][s]);
		}
	lc_score_result_release(&k->res);
	lc_mc_stats_release(&k->st);
}

/* Volatile asset a with a generic depth profile of scale q (base units). */
static void
mkt_asset(struct mkt *k, int a, double price, double vol, double q)
{
	static const double bb[] = { 25, 50, 100, 200, 500, 1000, 3000 };
	static const double ab[] = { 25, 50, 100, 200, 500, 1000, 5000 };
	static const double f[] = { 0.2, 0.4, 1, 2, 5, 9, 20 };
	double qq[7];
	size_t bad, i;

	for (i = 0; i < 7; i++)
		qq[i] = q * f[i];
	k->am[a].price = price;
	k->am[a].vol = vol;
	k->price[a] = price;
	k->vol[a] = vol;
	ck_assert_int_eq(lc_curve_from_points(&k->am[a].curve[LC_BID], LC_BID,
	    bb, qq, 7, &bad), LC_OK);
	ck_assert_int_eq(lc_curve_from_points(&k->am[a].curve[LC_ASK], LC_ASK,
	    ab, qq, 7, &bad), LC_OK);
}

/*
 * n random stored levels on side dir of asset a: prices within `span` of
 * P (a few stale ones too), quantities around qscale.
 */
static void
mkt_levels(struct mkt *k, int a, int dir, size_t n, double span,
    double qscale, struct lc_rng *g)
{
	double P = k->price[a];
	size_t i;

	free(k->lp[a][dir]);
	free(k->lq[a][dir]);
	k->lp[a][dir] = malloc((n + 1) * sizeof(double));
	k->lq[a][dir] = malloc((n + 1) * sizeof(double));
	ck_assert(k->lp[a][dir] != NULL && k->lq[a][dir] != NULL);
	for (i = 0; i < n; i++) {
		double u = lc_rng_uniform(g) * span - 0.01 * span;

		k->lp[a][dir][i] = dir == LC_DOWN ? P * (1.0 - u) :
		    P * (1.0 + u);
		k->lq[a][dir][i] = qscale * lc_rng_uniform(g);
	}
	qsort(k->lp[a][dir], n, sizeof(double), cmp_desc);
	if (dir == LC_UP)	/* ascending */
		for (i = 0; i < n / 2; i++) {
			double t = k->lp[a][dir][i];

			k->lp[a][dir][i] = k->lp[a][dir][n - 1 - i];
			k->lp[a][dir][n - 1 - i] = t;
		}
	k->am[a].levels[dir].n = n;
	k->am[a].levels[dir].price = k->lp[a][dir];
	k->am[a].levels[dir].qty = k->lq[a][dir];
}

static void
set_rho(struct mkt *k, int a, int b, double r)
{
	k->rho[a * NA + b] = r;
	k->rho[b * NA + a] = r;
}

/* Loan position i; entries: asset, amount, lt (lt < 0 marks debt). */
static void
add_loan(struct mkt *k, enum lc_protocol proto, int nc, const double *c,
    int nd, const double *d)
{
	size_t i = k->req.npos++;
	struct lc_loan *l = &k->pos[i].u.loan;
	int j;

	ck_assert(i < NPOS && nc + nd <= NENT);
	k->pos[i].id = "p";
	k->pos[i].type = LC_POS_LOAN;
	for (j = 0; j < nc; j++) {
		k->ent[i][j].asset = (uint32_t)c[3 * j];
		k->ent[i][j].amount = c[3 * j + 1];
		k->ent[i][j].lt = c[3 * j + 2];
	}
	for (j = 0; j < nd; j++) {
		k->ent[i][nc + j].asset = (uint32_t)d[2 * j];
		k->ent[i][nc + j].amount = d[2 * j + 1];
		k->ent[i][nc + j].lt = 0.0;
	}
	l->protocol = proto;
	l->coll = k->ent[i];
	l->ncoll = (size_t)nc;
	l->debt = k->ent[i] + nc;
	l->ndebt = (size_t)nd;
	l->bonus = NAN;
	l->close_factor = NAN;
	l->full_liq_below = NAN;
}

static void
add_perp(struct mkt *k, int a, int is_short, double size, double entry,
    double margin)
{
	size_t i = k->req.npos++;
	struct lc_perp *p = &k->pos[i].u.perp;

	ck_assert(i < NPOS);
	k->pos[i].id = "q";
	k->pos[i].type = LC_POS_PERP;
	memset(p, 0, sizeof(*p));
	p->asset = (uint32_t)a;
	p->is_short = is_short;
	p->size = size;
	p->entry = entry;
	p->margin = margin;
	p->mmr = 0.005;
	p->mm_amount = 0.0;
}

static size_t
market_of(const struct lc_score_result *r, int a)
{
	size_t i;

	for (i = 0; i < r->nmarkets; i++)
		if (r->markets[i].asset == (uint32_t)a)
			return i;
	ck_abort_msg("asset %d has no market", a);
	return 0;
}

/* |mc - exact| <= 4 SE, SE from the exact p (floored at half a path). */
static double
zscore(double mc, double exact, double paths)
{
	double se = sqrt(exact * (1.0 - exact) / paths);

	if (se < 0.5 / paths)
		se = 0.5 / paths;
	return (mc - exact) / se;
}

#define WITHIN4(what, mc, exact, paths) do { \
	double z_ = zscore((mc), (exact), (paths)); \
	ck_assert_msg(fabs(z_) <= 4.0, "%s: mc %.6g exact %.6g (z %.2f)", \
	    (what), (double)(mc), (double)(exact), z_); \
} while (0)

/* ------------------------------------------------------------------ */

START_TEST(test_cholesky)
{
	double r[9] = { 1, 1, 0.5, 1, 1, 0.5, 0.5, 0.5, 1 }, l[9];
	double bad[9] = { 1, 0.9, 0.9, 0.9, 1, -0.9, 0.9, -0.9, 1 };
	double bad2[9] = { 1, 1, 0, 1, 1, 0.5, 0, 0.5, 1 };
	int i, j, k;

	/* rho = 1 between two assets: a zero pivot, no shrinking */
	ck_assert_int_eq(lc_mc_cholesky(r, l, 3), 0);
	ck_assert(l[0] == 1.0 && l[3] == 1.0 && l[4] == 0.0);
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++) {
			double s = 0.0;

			for (k = 0; k < 3; k++)
				s += l[i * 3 + k] * l[j * 3 + k];
			ck_assert(fabs(s - r[i * 3 + j]) < 1e-12);
		}
	/* not PSD: shrunk until it is */
	k = lc_mc_cholesky(bad, l, 3);
	ck_assert_int_gt(k, 0);
	ck_assert(fabs(bad[1] - 0.9 * pow(0.9, k)) < 1e-12);
	/* zero pivot with a residual: not PSD either */
	ck_assert_int_gt(lc_mc_cholesky(bad2, l, 3), 0);
}
END_TEST

/*
 * Forced MC on single-asset portfolios against lc_score's exact numbers:
 * 20 random markets x {normal, t4} x {down, up} x {1, 16} steps.  Each
 * comparison within 4 SE, and the mean square z-score near 1 (no bias).
 */
START_TEST(test_single_vs_exact)
{
	struct lc_rng g;
	double z2 = 0.0;
	int nz = 0, mk, inu, idir, ist;
	const double paths = 6000;

	lc_rng_seed(&g, 777, 0);
	for (mk = 0; mk < 20; mk++) {
		double P = 100.0 + 4900.0 * lc_rng_uniform(&g);
		double vol = 0.4 + 1.2 * lc_rng_uniform(&g);
		double depth = 100.0 + 1000.0 * lc_rng_uniform(&g);
		double hf = 1.03 + 0.2 * lc_rng_uniform(&g);
		struct mkt k;

		mkt_init(&k);
		mkt_asset(&k, 1, P, vol, depth);
		mkt_levels(&k, 1, LC_DOWN, 300, 0.3, depth * 0.1, &g);
		mkt_levels(&k, 1, LC_UP, 300, 0.3, depth * 0.1, &g);
		for (idir = 0; idir < 2; idir++)
			for (inu = 0; inu < 2; inu++)
				for (ist = 0; ist < 2; ist++) {
					double c[6], d[4];
					size_t i, mi;

					k.req.npos = 0;
					if (idir == LC_DOWN) {
						c[0] = 1; c[1] = 10;
						c[2] = 0.8;
						d[0] = USDC;
						d[1] = 10 * P * 0.8 / hf;
						add_loan(&k, LC_AAVE_V3, 1, c,
						    1, d);
						add_perp(&k, 1, 0, 3, P,
						    P * 0.4);
					} else {
						c[0] = USDC;
						c[1] = 10 * P * hf / 0.8;
						c[2] = 0.8;
						d[0] = 1; d[1] = 10;
						add_loan(&k, LC_MORPHO_BLUE,
						    1, c, 1, d);
						add_perp(&k, 1, 1, 3, P,
						    P * 0.35);
					}
					k.req.params.tail_dof = inu ? 4.0 :
					    0.0;
					k.req.params.steps = ist ? 16 : 1;
					k.req.params.paths = (uint32_t)paths;
					k.req.params.seed = (uint64_t)(mk *
					    100 + idir * 10 + inu * 2 + ist);
					ck_assert_int_eq(lc_score(&k.m, &k.req,
					    &k.res), LC_OK);
					ck_assert_int_eq(lc_mc_estimate(&k.m,
					    &k.req, LC_MC_ALL_POSITIONS,
					    &k.st), LC_OK);
					for (i = 0; i < k.req.npos; i++) {
						double e = k.res.pos[i].p_liq;
						double z = zscore(
						    k.st.p_liq[i], e, paths);

						WITHIN4("p_liq", k.st.p_liq[i],
						    e, paths);
						z2 += z * z;
						nz++;
					}
					mi = market_of(&k.res, 1);
					{
						double e = k.res.markets[mi]
						    .dir[idir].cascade_prob;
						double mc = k.st.cascade[2 +
						    idir];
						double z = zscore(mc, e,
						    paths);

						WITHIN4("cascade", mc, e,
						    paths);
						z2 += z * z;
						nz++;
					}
					/* one direction: MC p_any = exact */
					WITHIN4("p_any", k.st.p_any,
					    k.res.portfolio.p_any, paths);
				}
		mkt_release(&k);
	}
	/* positions share paths, so z's correlate; still mean z^2 ~ 1 */
	ck_assert_msg(z2 / nz > 0.5 && z2 / nz < 1.6, "mean z^2 = %g over %d",
	    z2 / nz, nz);
}
END_TEST

/* Exact p_liq of a single-position request (lc_score). */
static double
exact_p(struct mkt *k)
{
	ck_assert_int_eq(lc_score(&k->m, &k->req, &k->res), LC_OK);
	return k->res.pos[0].p_liq;
}

/*
 * A coupled loan whose second asset is negligible matches the single-asset
 * loan: tiny BTC collateral next to ETH; BTC debt with vol ~ 0 next to
 * ETH debt (its value moved into USDC debt for the single version).
 */
START_TEST(test_negligible_second_asset)
{
	struct mkt k;
	struct lc_rng g;
	int inu;
	const double paths = 20000;

	lc_rng_seed(&g, 4242, 0);
	mkt_init(&k);
	mkt_asset(&k, 1, 2000, 0.8, 300);
	mkt_asset(&k, 2, 60000, 0.6, 10);
	set_rho(&k, 1, 2, 0.5);
	for (inu = 0; inu < 2; inu++) {
		double c1[] = { 1, 10, 0.83, 2, 1e-9, 0.7 };
		double d1[] = { USDC, 15800 };
		double c2[] = { USDC, 26400, 0.85 };
		double d2[] = { 1, 10, 2, 1000.0 / 60000 };
		double d2s[] = { 1, 10, USDC, 1000 };
		double e;

		k.req.params.tail_dof = inu ? 4.0 : 0.0;
		k.req.params.paths = (uint32_t)paths;
		/*
		 * volatile collateral; levels on the down side only: in 4.2
		 * Gamma includes the up cascade too, which the exact
		 * single-asset figure of a down position ignores
		 */
		k.vol[2] = 0.6;
		mkt_levels(&k, 1, LC_DOWN, 500, 0.3, 1.0, &g);
		k.am[1].levels[LC_UP].n = 0;
		k.req.npos = 0;
		add_loan(&k, LC_AAVE_V3, 1, c1, 1, d1);
		e = exact_p(&k);
		ck_assert(e > 0.02 && e < 0.98);
		k.req.npos = 0;
		add_loan(&k, LC_AAVE_V3, 2, c1, 1, d1);
		ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, 0, &k.st),
		    LC_OK);
		ck_assert_uint_eq(k.st.ncoupled, 1);
		WITHIN4("coupled coll", k.st.p_liq[0], e, paths);
		/* volatile debt, second debt asset with vol ~ 0 */
		mkt_levels(&k, 1, LC_UP, 500, 0.3, 1.0, &g);
		k.am[1].levels[LC_DOWN].n = 0;
		k.req.npos = 0;
		add_loan(&k, LC_AAVE_V3, 1, c2, 2, d2s);
		e = exact_p(&k);
		ck_assert(e > 0.02 && e < 0.98);
		k.vol[2] = 1e-9;
		k.req.npos = 0;
		add_loan(&k, LC_AAVE_V3, 1, c2, 2, d2);
		ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, 0, &k.st),
		    LC_OK);
		ck_assert_uint_eq(k.st.ncoupled, 1);
		WITHIN4("coupled debt", k.st.p_liq[0], e, paths);
	}
	mkt_release(&k);
}
END_TEST

/*
 * Correlation 1 between two assets of identical market data: 5 A + 5 B
 * collateral is the single-asset loan on 10 A.
 */
START_TEST(test_correlation_one)
{
	struct mkt k;
	struct lc_rng g, g2;
	int inu;
	const double paths = 20000;

	lc_rng_seed(&g, 99, 0);
	g2 = g;
	mkt_init(&k);
	mkt_asset(&k, 1, 2000, 0.8, 300);
	mkt_asset(&k, 2, 2000, 0.8, 300);
	mkt_levels(&k, 1, LC_DOWN, 400, 0.3, 30, &g);
	mkt_levels(&k, 2, LC_DOWN, 400, 0.3, 30, &g2);
	set_rho(&k, 1, 2, 1.0);
	for (inu = 0; inu < 2; inu++) {
		double c1[] = { 1, 10, 0.8 };
		double c2[] = { 1, 5, 0.8, 2, 5, 0.8 };
		double d[] = { USDC, 14000 };
		double e;

		k.req.params.tail_dof = inu ? 4.0 : 0.0;
		k.req.params.paths = (uint32_t)paths;
		k.req.npos = 0;
		add_loan(&k, LC_AAVE_V3, 1, c1, 1, d);
		e = exact_p(&k);
		ck_assert(e > 0.02 && e < 0.98);
		k.req.npos = 0;
		add_loan(&k, LC_AAVE_V3, 2, c2, 1, d);
		ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, 0, &k.st),
		    LC_OK);
		ck_assert_int_eq(k.st.shrunk, 0);
		WITHIN4("rho 1", k.st.p_liq[0], e, paths);
	}
	mkt_release(&k);
}
END_TEST

/*
 * Two single-asset positions on independent assets: under the normal
 * model P(either) = 1 - (1 - p1)(1 - p2); under Student-t the common
 * variance draw makes joint liquidation more likely than p1 p2.
 */
START_TEST(test_independence_and_tails)
{
	struct mkt k;
	int inu;
	const double paths = 40000;

	mkt_init(&k);
	mkt_asset(&k, 1, 2000, 0.8, 300);
	mkt_asset(&k, 2, 60000, 0.6, 10);
	for (inu = 0; inu < 2; inu++) {
		double c1[] = { 1, 10, 0.8 }, d1[] = { USDC, 15200 };
		double c2[] = { 2, 1, 0.8 }, d2[] = { USDC, 46000 };
		double p1, p2, pu, se;

		k.req.params.tail_dof = inu ? 4.0 : 0.0;
		k.req.params.paths = (uint32_t)paths;
		k.req.npos = 0;
		add_loan(&k, LC_AAVE_V3, 1, c1, 1, d1);
		add_loan(&k, LC_AAVE_V3, 1, c2, 1, d2);
		ck_assert_int_eq(lc_score(&k.m, &k.req, &k.res), LC_OK);
		p1 = k.res.pos[0].p_liq;
		p2 = k.res.pos[1].p_liq;
		ck_assert(p1 > 0.03 && p2 > 0.03);
		ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, 0, &k.st),
		    LC_OK);
		pu = 1.0 - (1.0 - p1) * (1.0 - p2);
		se = sqrt(pu * (1.0 - pu) / paths);
		if (inu == 0) {
			WITHIN4("p_any normal", k.st.p_any, pu, paths);
		} else {
			double joint = p1 + p2 - k.st.p_any;

			ck_assert_msg(joint > p1 * p2 + 4.0 * se,
			    "t joint %g vs independent %g (se %g)", joint,
			    p1 * p2, se);
		}
	}
	mkt_release(&k);
}
END_TEST

/*
 * 10 wstETH (LT 0.93) against 8 ETH at a price ratio of 1.17: with
 * correlation 0.99 the loan is essentially safe over a day, with 0 it is
 * not; common_move_pct is null (no uniform move brings HF to 1).
 */
START_TEST(test_pegged)
{
	struct mkt k;
	double c[] = { 3, 10, 0.93 }, d[] = { 1, 8 };
	double p99, p0;
	const double paths = 100000;

	mkt_init(&k);
	mkt_asset(&k, 1, 3000, 0.7, 2000);
	mkt_asset(&k, 3, 3000 * 1.17, 0.7, 500);
	k.req.params.paths = (uint32_t)paths;
	add_loan(&k, LC_AAVE_V3, 1, c, 1, d);
	ck_assert(isnan(lc_loan_common_move(&k.pos[0].u.loan, k.price,
	    k.vol)));
	set_rho(&k, 1, 3, 0.99);
	ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, 0, &k.st), LC_OK);
	p99 = k.st.p_liq[0];
	set_rho(&k, 1, 3, 0.0);
	ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, 0, &k.st), LC_OK);
	p0 = k.st.p_liq[0];
	ck_assert_msg(p0 > 4.0 * sqrt(p0 * (1 - p0) / paths) &&
	    p99 < 0.05 * p0, "rho .99: %g, rho 0: %g", p99, p0);
	ck_assert(k.st.p_liq_static[0] >= 0.0 && k.st.p_liq_static[0] <= 1.0);
	mkt_release(&k);
}
END_TEST

/*
 * Value-terms mechanics against the exact ladder: a coupled loan of ETH
 * and a negligible BTC collateral, no stored levels, so every path that
 * liquidates it fills its first step at its static liquidation price:
 * expected slippage equals the single-asset loan's exact figure, and with
 * a thin bid the sale alone is a cascade event (E > 0), so the portfolio
 * cascade probability equals p_liquidation path by path.
 */
START_TEST(test_coupled_fills)
{
	struct mkt k;
	double c1[] = { 1, 100, 0.83 }, c2[] = { 1, 100, 0.83, 2, 1e-9, 0.7 };
	double d[] = { USDC, 158000 };
	double bps, quote;
	int proto;

	mkt_init(&k);
	mkt_asset(&k, 1, 2000, 0.8, 40);
	mkt_asset(&k, 2, 60000, 0.6, 10);
	set_rho(&k, 1, 2, 0.3);
	k.req.params.paths = 4000;
	for (proto = 0; proto < 3; proto++) {
		k.req.npos = 0;
		add_loan(&k, (enum lc_protocol)proto, 1, c1, 1, d);
		ck_assert_int_eq(lc_score(&k.m, &k.req, &k.res), LC_OK);
		bps = k.res.pos[0].exp_slip_bps;
		quote = k.res.pos[0].exp_slip_quote;
		ck_assert(bps > 10.0);
		k.req.npos = 0;
		add_loan(&k, (enum lc_protocol)proto, 2, c2, 1, d);
		ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, 0, &k.st),
		    LC_OK);
		ck_assert(k.st.p_liq[0] > 0.05);
		ck_assert_msg(fabs(k.st.slip_bps[0] - bps) < 1e-6 * bps,
		    "proto %d: slip %.12g vs exact %.12g", proto,
		    k.st.slip_bps[0], bps);
		ck_assert_msg(fabs(k.st.slip_quote[0] - quote) < 1e-6 * quote,
		    "proto %d: quote %.12g vs exact %.12g", proto,
		    k.st.slip_quote[0], quote);
		ck_assert(k.st.cascade_any == k.st.p_liq[0]);
		ck_assert(k.st.cascade[2 * 1 + LC_DOWN] == k.st.p_liq[0]);
	}
	mkt_release(&k);
}
END_TEST

/*
 * One volatile asset on both sides (coupled by docs/model.md 3.1): its health is a
 * monotone function of that one price, so with no stored levels it is
 * liquidated exactly when the price touches its static liquidation price
 * D / (c LT - d) (D the stable debt): the barrier probability of docs/model.md 5.
 */
START_TEST(test_both_sides)
{
	struct mkt k;
	double c[] = { 1, 10, 0.8 }, d[] = { 1, 2, USDC, 11500 };
	double ps = 11500.0 / (10 * 0.8 - 2), e;
	const double paths = 20000;
	int st, inu;

	mkt_init(&k);
	mkt_asset(&k, 1, 2000, 0.8, 300);
	add_loan(&k, LC_AAVE_V3, 1, c, 2, d);
	k.req.params.paths = (uint32_t)paths;
	for (st = 1; st <= 16; st *= 16)
		for (inu = 0; inu < 2; inu++) {
			k.req.params.steps = (uint32_t)st;
			k.req.params.tail_dof = inu ? 4.0 : 0.0;
			ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, 0,
			    &k.st), LC_OK);
			ck_assert_uint_eq(k.st.ncoupled, 1);
			e = lc_barrier_prob(LC_DOWN, 2000, ps, lc_sigma_h(0.8,
			    1.0), k.req.params.tail_dof);
			WITHIN4("both sides", k.st.p_liq[0], e, paths);
			WITHIN4("both sides static", k.st.p_liq_static[0], e,
			    paths);
			/* exposed both ways: down (collateral), up (debt) */
			ck_assert(!isnan(k.st.cascade[2 + LC_DOWN]));
			ck_assert(!isnan(k.st.cascade[2 + LC_UP]));
		}
	mkt_release(&k);
}
END_TEST

/*
 * Bit-identical position results, field by field (a memcmp of the struct
 * would read its padding).
 */
static int
same_bits(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static int
same_pos(const struct lc_pos_result *a, const struct lc_pos_result *b)
{
	return a->type == b->type && a->liquidatable == b->liquidatable &&
	    a->method == b->method && a->nlp == b->nlp &&
	    same_bits(a->health_factor, b->health_factor) &&
	    same_bits(a->common_move_pct, b->common_move_pct) &&
	    same_bits(a->p_liq, b->p_liq) &&
	    same_bits(a->p_liq_static, b->p_liq_static) &&
	    same_bits(a->std_error, b->std_error) &&
	    same_bits(a->std_error_static, b->std_error_static) &&
	    same_bits(a->exp_slip_bps, b->exp_slip_bps) &&
	    same_bits(a->exp_slip_quote, b->exp_slip_quote) &&
	    same_bits(a->unwind_bps, b->unwind_bps) &&
	    same_bits(a->unwind_quote, b->unwind_quote);
}

/* A 5-asset portfolio with coupled loans, levels and singles. */
static void
big_portfolio(struct mkt *k, size_t nlevels, uint64_t seed)
{
	struct lc_rng g;
	int a, b;
	static const double px[] = { 0, 2000, 60000, 150, 3000 * 1.17, 7 };
	static const double vl[] = { 0, 0.8, 0.6, 1.1, 0.8, 1.3 };
	static const double dq[] = { 0, 3000, 100, 20000, 800, 500000 };

	lc_rng_seed(&g, seed, 0);
	mkt_init(k);
	for (a = 1; a <= 5; a++) {
		mkt_asset(k, a, px[a], vl[a], dq[a]);
		mkt_levels(k, a, LC_DOWN, nlevels, 0.4, dq[a] * 2.0 /
		    (double)nlevels, &g);
		mkt_levels(k, a, LC_UP, nlevels, 0.4, dq[a] * 2.0 /
		    (double)nlevels, &g);
		for (b = 1; b < a; b++)
			set_rho(k, a, b, 0.3 + 0.4 * lc_rng_uniform(&g));
	}
	set_rho(k, 1, 4, 0.98);
	{
		double c1[] = { 1, 100, 0.83, 2, 3, 0.78, USDC, 5e4, 0.87 };
		double d1[] = { USDC, 3.0e5, 3, 200 };
		double c2[] = { 4, 300, 0.93 }, d2[] = { 1, 280 };
		double c3[] = { 3, 5000, 0.65, 5, 2e5, 0.6 };
		double d3[] = { 2, 12, USDC, 1e5 };
		double c4[] = { 1, 20, 0.8 }, d4[] = { USDC, 30000 };

		add_loan(k, LC_AAVE_V3, 3, c1, 2, d1);
		add_loan(k, LC_AAVE_V3, 1, c2, 1, d2);
		add_loan(k, LC_MORPHO_BLUE, 2, c3, 2, d3);
		add_loan(k, LC_AAVE_V3, 1, c4, 1, d4);
		add_perp(k, 2, 1, 2, 60000, 9000);
		add_perp(k, 5, 0, 1e5, 7, 1.2e5);
	}
}

/*
 * The engine proves most paths safe for every coupled loan before walking
 * them (loans_safe(): bounds of the path's extremes, of Gamma and of each
 * loan's health bridge) and settles fired counts only as far as the
 * records read them.  Those shortcuts must not change a single bit: on
 * random portfolios (loans near health 1 with volatile and stable
 * collateral and debt, every protocol, levels on both sides, correlations
 * from -1 to 1, some not positive semidefinite, normal and t, 1 to 16
 * steps) the answer equals
 * that of LC_MC_NO_PRUNE, which walks every path step by step with exact
 * fired counts.  Both kinds of path must have occurred.
 */
static void
random_portfolio(struct mkt *k, struct lc_rng *g)
{
	int na = 2 + (int)(lc_rng_uniform(g) * 3.0), a, b, i, nl;

	mkt_init(k);
	for (a = 1; a <= na; a++) {
		double P = 10.0 * exp(6.0 * lc_rng_uniform(g));
		double q = 1e5 / P * (0.2 + lc_rng_uniform(g));
		int nlev = (int)(lc_rng_uniform(g) * 400.0);

		mkt_asset(k, a, P, 0.3 + 1.2 * lc_rng_uniform(g), q);
		if (nlev > 0) {
			mkt_levels(k, a, LC_DOWN, (size_t)nlev, 0.3,
			    3.0 * q / nlev, g);
			mkt_levels(k, a, LC_UP, (size_t)nlev / 2 + 1, 0.3,
			    3.0 * q / nlev, g);
		}
		for (b = 1; b < a; b++) {
			/* some degenerate: zero pivots, and R to shrink */
			double u = lc_rng_uniform(g);

			set_rho(k, a, b, u < 0.15 ? 1.0 : u < 0.25 ? -1.0 :
			    -0.3 + 1.29 * lc_rng_uniform(g));
		}
	}
	nl = 1 + (int)(lc_rng_uniform(g) * 3.0);
	for (i = 0; i < nl; i++) {
		double c[9], d[4], cv = 0.0, hf = 1.01 + 0.5 *
		    lc_rng_uniform(g);
		int ca = 1 + (int)(lc_rng_uniform(g) * na);
		int cb = 1 + (int)(lc_rng_uniform(g) * na);
		int da = (int)(lc_rng_uniform(g) * (na + 1));	/* 0: USDC */
		int nc = 2, j;
		enum lc_protocol pr = (enum lc_protocol)(int)
		    (lc_rng_uniform(g) * 3.0);

		c[0] = ca;
		c[1] = 1e4 / k->price[ca] * (0.5 + lc_rng_uniform(g));
		c[2] = 0.6 + 0.3 * lc_rng_uniform(g);
		c[3] = cb == ca ? USDC : cb;
		c[4] = (cb == ca ? 5e3 : 1e4 / k->price[cb]) *
		    lc_rng_uniform(g);
		c[5] = 0.6 + 0.3 * lc_rng_uniform(g);
		for (j = 0; j < nc; j++)
			cv += c[3 * j + 1] * k->price[(int)c[3 * j]] *
			    c[3 * j + 2];
		d[0] = da;
		d[1] = cv / hf / k->price[da] * (da == USDC ? 1.0 : 0.7);
		d[2] = USDC;
		d[3] = da == USDC ? 0.0 : 0.3 * cv / hf;
		add_loan(k, pr, nc, c, da == USDC ? 1 : 2, d);
	}
	if (lc_rng_uniform(g) < 0.5)
		add_perp(k, 1, lc_rng_uniform(g) < 0.5, 1e4 / k->price[1],
		    k->price[1], 2e3);
	k->req.params.paths = 1500 + (uint32_t)(lc_rng_uniform(g) * 1500.0);
	k->req.params.steps = (uint32_t)(1 + lc_rng_uniform(g) * 16.0);
	k->req.params.horizon_days = 0.5 + 6.0 * lc_rng_uniform(g);
	k->req.params.tail_dof = lc_rng_uniform(g) < 0.3 ? 0.0 :
	    2.5 + 6.0 * lc_rng_uniform(g);
	k->req.params.seed = (uint64_t)(lc_rng_uniform(g) * 1e9);
}

static int
same_stats(const struct lc_mc_stats *a, const struct lc_mc_stats *b,
    size_t npos)
{
	return memcmp(&a->p_any, &b->p_any, sizeof(double)) == 0 &&
	    memcmp(&a->cascade_any, &b->cascade_any, sizeof(double)) == 0 &&
	    memcmp(a->p_liq, b->p_liq, npos * sizeof(double)) == 0 &&
	    memcmp(a->p_liq_static, b->p_liq_static,
	    npos * sizeof(double)) == 0 &&
	    memcmp(a->slip_bps, b->slip_bps, npos * sizeof(double)) == 0 &&
	    memcmp(a->slip_quote, b->slip_quote, npos * sizeof(double)) == 0 &&
	    memcmp(a->cascade, b->cascade, 2 * NA * sizeof(double)) == 0;
}

START_TEST(test_shortcuts_exact)
{
	struct lc_rng g;
	uint64_t walked = 0, total = 0, liq = 0;
	int c, f;

	lc_rng_seed(&g, 2026, 11);
	for (c = 0; c < 60; c++) {
		struct mkt k;
		struct lc_mc_stats ref;

		random_portfolio(&k, &g);
		lc_mc_stats_init(&ref);
		for (f = 0; f < 2; f++) {
			unsigned fl = f ? LC_MC_ALL_POSITIONS : 0;
			size_t i;

			ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req,
			    fl | LC_MC_NO_PRUNE, &ref), LC_OK);
			ck_assert_uint_eq(ref.walked, ref.paths);
			ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, fl,
			    &k.st), LC_OK);
			ck_assert_msg(same_stats(&k.st, &ref, k.req.npos),
			    "case %d flags %u: shortcuts changed the answer "
			    "(p_any %.6f vs %.6f)", c, fl, k.st.p_any,
			    ref.p_any);
			walked += k.st.walked;
			total += k.st.paths;
			for (i = 0; i < k.req.npos; i++)
				if (k.pos[i].type == LC_POS_LOAN &&
				    !isnan(ref.p_liq[i]))
					liq += (uint64_t)(ref.p_liq[i] *
					    ref.paths + 0.5);
		}
		lc_mc_stats_release(&ref);
		mkt_release(&k);
	}
	/* both kinds of path, and liquidations to be missed if unsound */
	ck_assert_msg(walked > total / 100 && walked < total - total / 4,
	    "walked %llu of %llu paths", (unsigned long long)walked,
	    (unsigned long long)total);
	ck_assert_msg(liq > 1000, "only %llu liquidated paths",
	    (unsigned long long)liq);
}
END_TEST

START_TEST(test_threads_identical)
{
	struct mkt k;
	struct lc_mc_stats s2, s4;
	unsigned t;
	size_t i;

	big_portfolio(&k, 300, 5);
	k.req.params.paths = 5000;
	k.req.params.threads = 1;
	ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, LC_MC_ALL_POSITIONS,
	    &k.st), LC_OK);
	ck_assert_uint_eq(k.st.ninvolved, 5);
	ck_assert_uint_eq(k.st.ncoupled, 3);
	for (t = 2; t <= 4; t += 2) {
		struct lc_mc_stats *s = t == 2 ? &s2 : &s4;

		lc_mc_stats_init(s);
		k.req.params.threads = t;
		ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req,
		    LC_MC_ALL_POSITIONS, s), LC_OK);
		ck_assert(memcmp(&s->p_any, &k.st.p_any, sizeof(double)) == 0);
		ck_assert(memcmp(&s->cascade_any, &k.st.cascade_any,
		    sizeof(double)) == 0);
		ck_assert(memcmp(s->p_liq, k.st.p_liq,
		    4 * k.req.npos * sizeof(double)) == 0);
		ck_assert(memcmp(s->cascade, k.st.cascade,
		    2 * NA * sizeof(double)) == 0);
	}
	/* sanity of the coupled figures */
	for (i = 0; i < 3; i++) {
		ck_assert(k.st.p_liq[i] >= 0.0 && k.st.p_liq[i] <= 1.0);
		ck_assert(k.st.p_liq_static[i] >= 0.0);
		if (k.st.p_liq[i] > 0.0) {
			ck_assert(k.st.slip_bps[i] >= 0.0);
			ck_assert(k.st.slip_quote[i] >= 0.0);
		} else {
			ck_assert(isnan(k.st.slip_bps[i]));
		}
	}
	/* different seed: different answer */
	k.req.params.seed = 2;
	ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, 0, &s2), LC_OK);
	ck_assert(s2.p_any != k.st.p_any || s2.p_liq[0] != k.st.p_liq[0]);
	lc_mc_stats_release(&s2);
	lc_mc_stats_release(&s4);
	mkt_release(&k);
}
END_TEST

/*
 * lc_mc_score through lc_score: coupled loans filled by Monte Carlo, one
 * correlation_shrunk warning, single-asset positions keep the exact
 * numbers they have without the coupled loans, and a second call gives
 * the same bits.
 */
START_TEST(test_score_entry)
{
	struct mkt k, k2;
	struct lc_pos_result first[NPOS];
	size_t i, nshrunk = 0;

	big_portfolio(&k, 200, 9);
	big_portfolio(&k2, 200, 9);
	/* make R not PSD: 1~4 0.98, 1~2 0.9, 2~4 -0.9 */
	set_rho(&k, 1, 2, 0.9);
	set_rho(&k, 2, 4, -0.9);
	k.req.params.paths = 4000;
	k2.req.params.paths = 4000;
	/* positions 3.. are single-asset: score them alone */
	k2.req.pos = k2.pos + 3;
	k2.req.npos = k.req.npos - 3;
	ck_assert_int_eq(lc_score(&k2.m, &k2.req, &k2.res), LC_OK);
	ck_assert_int_eq(lc_score(&k.m, &k.req, &k.res), LC_OK);
	if (k.res.pos[0].method != LC_MONTE_CARLO)	/* not wired yet */
		ck_assert_int_eq(lc_mc_score(&k.m, &k.req, &k.res), LC_OK);
	for (i = 0; i < k.res.nwarn; i++)
		nshrunk += k.res.warn[i].code == LC_W_CORRELATION_SHRUNK;
	ck_assert_uint_eq(nshrunk, 1);
	for (i = 0; i < k.req.npos; i++) {
		const struct lc_pos_result *r = &k.res.pos[i];

		if (i < 3) {
			ck_assert_int_eq(r->method, LC_MONTE_CARLO);
			ck_assert(r->p_liq >= 0.0 && r->p_liq <= 1.0);
			ck_assert(fabs(r->std_error - sqrt(r->p_liq *
			    (1 - r->p_liq) / 4000)) < 1e-15);
			ck_assert(fabs(r->std_error_static -
			    sqrt(r->p_liq_static * (1 - r->p_liq_static) /
			    4000)) < 1e-15);
			ck_assert(!isnan(r->unwind_bps));
			ck_assert(!isnan(r->unwind_quote));
		} else {
			const struct lc_pos_result *e = &k2.res.pos[i - 3];

			ck_assert_int_eq(r->method, LC_EXACT);
			ck_assert(r->p_liq == e->p_liq);
			ck_assert(r->p_liq_static == e->p_liq_static);
			ck_assert(r->std_error == 0.0);
			ck_assert(memcmp(&r->exp_slip_bps, &e->exp_slip_bps,
			    sizeof(double)) == 0);
		}
	}
	ck_assert_int_eq(k.res.portfolio.method, LC_MONTE_CARLO);
	ck_assert(k.res.portfolio.p_any >= k.res.pos[0].p_liq);
	ck_assert(k.res.portfolio.p_any_se > 0.0);
	ck_assert(isfinite(k.res.portfolio.exp_slip_quote));
	memcpy(first, k.res.pos, k.req.npos * sizeof(first[0]));
	ck_assert_int_eq(lc_mc_score(&k.m, &k.req, &k.res), LC_OK);
	for (i = 0; i < k.req.npos; i++)
		ck_assert(same_pos(&k.res.pos[i], &first[i]));
	mkt_release(&k2);
	mkt_release(&k);
}
END_TEST

/*
 * lc_score() lends its exact pass's cascades to the Monte Carlo pass
 * (mc_int.h, struct lc_mc_prebuilt); lc_mc_score() alone rebuilds them.
 * Both must give the same bits, with and without stored levels, on 1 and
 * 2 threads, and agree with lc_mc_estimate().
 */
START_TEST(test_borrowed_cascades)
{
	struct mkt k;
	struct lc_pos_result first[NPOS];
	struct lc_portfolio_result pf;
	int inc;
	unsigned th;
	size_t i;

	big_portfolio(&k, 300, 21);
	k.req.params.paths = 3000;
	for (inc = 0; inc < 2; inc++)
		for (th = 1; th <= 2; th++) {
			k.req.params.include_market_levels = inc;
			k.req.params.threads = th;
			ck_assert_int_eq(lc_score(&k.m, &k.req, &k.res), LC_OK);
			ck_assert(k.res.needs_mc);
			memcpy(first, k.res.pos, k.req.npos * sizeof(first[0]));
			pf = k.res.portfolio;
			ck_assert_int_eq(lc_mc_score(&k.m, &k.req, &k.res),
			    LC_OK);
			for (i = 0; i < k.req.npos; i++)
				ck_assert(same_pos(&k.res.pos[i], &first[i]));
			ck_assert(k.res.portfolio.method == pf.method &&
			    same_bits(k.res.portfolio.p_any, pf.p_any) &&
			    same_bits(k.res.portfolio.p_any_se, pf.p_any_se) &&
			    same_bits(k.res.portfolio.cascade_prob,
			    pf.cascade_prob) &&
			    same_bits(k.res.portfolio.cascade_prob_se,
			    pf.cascade_prob_se) &&
			    same_bits(k.res.portfolio.exp_slip_quote,
			    pf.exp_slip_quote));
			ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, 0,
			    &k.st), LC_OK);
			for (i = 0; i < 3; i++)
				ck_assert(k.st.p_liq[i] == first[i].p_liq);
			ck_assert(k.st.p_any == pf.p_any);
		}
	mkt_release(&k);
}
END_TEST


/*
 * A coupled loan liquidatable now is liquidated on every path (its steps
 * happen at the first step's start prices), static figure included; a
 * compound-v3 one is absorbed in one step, selling its collateral.
 */
START_TEST(test_liquidatable_now)
{
	struct mkt k;
	double c[] = { 1, 10, 0.8, 2, 0.1, 0.7 }, d[] = { USDC, 22000 };
	int proto;

	mkt_init(&k);
	mkt_asset(&k, 1, 2000, 0.8, 300);
	mkt_asset(&k, 2, 60000, 0.6, 10);
	k.req.params.paths = 3000;
	for (proto = 0; proto < 3; proto++) {
		k.req.npos = 0;
		add_loan(&k, (enum lc_protocol)proto, 2, c, 1, d);
		ck_assert(lc_loan_health(&k.pos[0].u.loan, k.price) < 1.0);
		ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, 0, &k.st),
		    LC_OK);
		ck_assert(k.st.p_liq[0] == 1.0);
		ck_assert(k.st.p_liq_static[0] == 1.0);
		ck_assert(k.st.p_any == 1.0);
		ck_assert(k.st.slip_bps[0] > 0.0 && k.st.slip_bps[0] < 1e4);
		ck_assert(k.st.slip_quote[0] > 0.0);
	}
	mkt_release(&k);
}
END_TEST

/* Extremes of the parameters: 1 path, 256 steps, more threads than work. */
START_TEST(test_edges)
{
	struct mkt k;
	struct lc_mc_stats s2;

	big_portfolio(&k, 50, 3);
	k.req.params.paths = 1;
	k.req.params.steps = 256;
	k.req.params.threads = 8;
	ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, LC_MC_ALL_POSITIONS,
	    &k.st), LC_OK);
	ck_assert(k.st.p_any == 0.0 || k.st.p_any == 1.0);
	k.req.params.paths = LC_MC_CHUNK + 1;
	k.req.params.steps = 3;
	k.req.params.tail_dof = 2.5;
	k.req.params.include_market_levels = 0;
	ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, 0, &k.st), LC_OK);
	lc_mc_stats_init(&s2);
	k.req.params.threads = 1;
	ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, 0, &s2), LC_OK);
	ck_assert(memcmp(s2.p_liq, k.st.p_liq, 4 * k.req.npos *
	    sizeof(double)) == 0);
	lc_mc_stats_release(&s2);
	mkt_release(&k);
}
END_TEST

START_TEST(test_bad_params)
{
	struct mkt k;
	double c[] = { 1, 10, 0.8 }, d[] = { USDC, 14000 };

	mkt_init(&k);
	mkt_asset(&k, 1, 2000, 0.8, 300);
	add_loan(&k, LC_AAVE_V3, 1, c, 1, d);
	k.req.params.paths = 0;
	ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, 0, &k.st), LC_EINVAL);
	k.req.params.paths = 100;
	k.req.params.tail_dof = 2.0;
	ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, 0, &k.st), LC_EINVAL);
	mkt_release(&k);
}
END_TEST

/*
 * Out of memory: each allocation of lc_mc_estimate() (with and without the
 * histograms of LC_MC_ALL_POSITIONS), of lc_score() with its Monte Carlo
 * pass and of lc_mc_score() fails in turn; each call must return
 * LC_ENOMEM and leak nothing.  The correlations are not PSD, so the
 * correlation_shrunk warning is appended too.  With 2 threads the
 * bookkeeping of mc_thread.c may fail as well: then the calling thread
 * runs every chunk and the estimates keep their bits.
 */
struct oom {
	struct mkt *k;
	int which;
	const struct lc_mc_stats *ref;
};

static int
oom_run(void *ctx)
{
	const struct oom *o = ctx;
	struct mkt *k = o->k;
	struct lc_mc_stats st;
	struct lc_score_result r;
	int rc;

	if (o->which < 2) {
		lc_mc_stats_init(&st);
		rc = (int)lc_mc_estimate(&k->m, &k->req,
		    o->which == 1 ? LC_MC_ALL_POSITIONS : 0, &st);
		if (rc == LC_OK && o->ref != NULL &&
		    (st.p_any != o->ref->p_any ||
		    memcmp(st.p_liq, o->ref->p_liq,
		    4 * k->req.npos * sizeof(double)) != 0))
			rc = -1;	/* not the same answer */
		lc_mc_stats_release(&st);
		return rc;
	}
	lc_score_result_init(&r);
	rc = (int)lc_score(&k->m, &k->req, &r);
	if (rc == LC_OK)
		rc = (int)lc_mc_score(&k->m, &k->req, &r);
	lc_score_result_release(&r);
	return rc;
}

START_TEST(test_out_of_memory)
{
	struct mkt k;
	struct oom o;
	char why[160];
	long n;
	size_t i;
	int shrunk = 0;

	big_portfolio(&k, 30, 9);
	set_rho(&k, 1, 2, 0.95);
	set_rho(&k, 2, 4, -0.9);
	k.req.params.paths = LC_MC_CHUNK + 88;
	k.req.params.steps = 4;
	k.req.params.threads = 1;
	ck_assert_int_eq(lc_score(&k.m, &k.req, &k.res), LC_OK);
	for (i = 0; i < k.res.nwarn; i++)
		shrunk |= k.res.warn[i].code == LC_W_CORRELATION_SHRUNK;
	ck_assert(shrunk);
	o.k = &k;
	o.ref = NULL;
	for (o.which = 0; o.which < 3; o.which++) {
		n = failalloc_sweep(oom_run, &o, LC_OK, LC_ENOMEM, 0, 10000,
		    why, sizeof(why));
		ck_assert_msg(n > 0, "entry %d: %s", o.which, why);
	}
	ck_assert_int_eq(lc_mc_estimate(&k.m, &k.req, 0, &k.st), LC_OK);
	k.req.params.threads = 2;
	o.which = 0;
	o.ref = &k.st;
	n = failalloc_sweep(oom_run, &o, LC_OK, LC_ENOMEM, 1, 10000, why,
	    sizeof(why));
	ck_assert_msg(n > 0, "2 threads: %s", why);
	mkt_release(&k);
}
END_TEST

static Suite *
mc_suite(void)
{
	Suite *s = suite_create("mc");
	TCase *tc = tcase_create("basics");

	tcase_add_test(tc, test_cholesky);
	tcase_add_test(tc, test_bad_params);
	tcase_add_test(tc, test_liquidatable_now);
	tcase_add_test(tc, test_edges);
	tcase_add_test(tc, test_out_of_memory);
	suite_add_tcase(s, tc);
	tc = tcase_create("statistics");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_single_vs_exact);
	tcase_add_test(tc, test_negligible_second_asset);
	tcase_add_test(tc, test_correlation_one);
	tcase_add_test(tc, test_independence_and_tails);
	tcase_add_test(tc, test_pegged);
	tcase_add_test(tc, test_coupled_fills);
	tcase_add_test(tc, test_both_sides);
	suite_add_tcase(s, tc);
	tc = tcase_create("engine");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_threads_identical);
	tcase_add_test(tc, test_shortcuts_exact);
	tcase_add_test(tc, test_score_entry);
	tcase_add_test(tc, test_borrowed_cascades);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ck_run_suite(mc_suite());
}

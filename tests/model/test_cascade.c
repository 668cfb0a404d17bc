/*
 * test_cascade.c - Check suite of cascade.c: the exact sequential cascade
 * (docs/model.md 4.1) against a round-by-round least-fixed-point simulator on
 * seeded random markets, the four-level worked example, the up mirror,
 * ordering, the cascade trigger, monotonicity properties, build speed, and
 * each allocation of the build and the sort failing in turn.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cascade/cascade.h"
#include "ckutil.h"
#include "failalloc.h"
#include "splitmix.h"

#define NMARKETS 1200
#define MAXTRIG 200

/* ---- random markets ---------------------------------------------------- */

struct market {
	enum lc_dir dir;
	enum lc_side side;
	double p0;
	double scale;
	struct lc_curve curve;
	const struct lc_curve *cp;	/* &curve, or NULL: no depth */
	size_t n;
	double price[MAXTRIG + 1];
	double qty[MAXTRIG + 1];
};

/*
 * A random market: a curve of 1..40 points with flat segments (sometimes
 * none at all), trigger volumes from a small fraction of the curve to far
 * beyond it (sqrt continuation, the bid cap at price zero), 0..200
 * triggers, ties from a coarse price grid, some zero quantities.
 */
static void
random_market(uint64_t *s, struct market *mk)
{
	double bps[40], qty[40], d = 0.0, q = 0.0, span, depth, grid[6];
	size_t np = 1 + rng_below(s, 40), k, bad;

	mk->dir = rng_below(s, 2) ? LC_UP : LC_DOWN;
	mk->side = mk->dir == LC_DOWN ? LC_BID : LC_ASK;
	mk->p0 = 100.0 + 3000.0 * rng_unif(s);
	mk->scale = rng_below(s, 3) ? 1.0 : 0.1 + 3.0 * rng_unif(s);
	lc_curve_init(&mk->curve);
	span = mk->side == LC_BID ? 9990.0 * (0.01 + 0.99 * rng_unif(s)) :
	    20000.0 * rng_unif(s) + 5.0;
	depth = pow(10.0, 1.0 + 5.0 * rng_unif(s));
	for (k = 0; k < np; k++) {
		d += 0.05 + rng_unif(s);
		bps[k] = d;
		if (rng_below(s, 5) != 0)
			q += depth * (rng_unif(s) + 1e-3);
		qty[k] = q;
	}
	if (!(q > 0.0))
		qty[np - 1] = depth;
	for (k = 0; k < np; k++)
		bps[k] *= span / d;
	ck_assert_int_eq(lc_curve_from_points(&mk->curve, mk->side, bps, qty,
	    np, &bad), LC_OK);
	mk->cp = rng_below(s, 12) ? &mk->curve : NULL;

	mk->n = rng_below(s, MAXTRIG + 1);
	for (k = 0; k < 6; k++)
		grid[k] = mk->dir == LC_DOWN ?
		    mk->p0 * (1.0 - 0.5 * rng_unif(s)) :
		    mk->p0 * (1.0 + 0.5 * rng_unif(s));
	for (k = 0; k < mk->n; k++) {
		double u = rng_unif(s);

		if (rng_below(s, 4) == 0)
			mk->price[k] = grid[rng_below(s, 6)];
		else
			mk->price[k] = mk->dir == LC_DOWN ?
			    mk->p0 * (1.0 - 0.6 * u) : mk->p0 * (1.0 + 0.6 * u);
		mk->qty[k] = rng_below(s, 20) == 0 ? 0.0 :
		    depth * 0.3 * pow(rng_unif(s), 2.0) *
		    pow(10.0, 2.0 * rng_unif(s) - 1.0);
	}
	ck_assert_int_eq(lc_trigger_sort(mk->dir, mk->price, mk->qty, NULL,
	    mk->n), LC_OK);
}

/* ---- brute force -------------------------------------------------------- */

/*
 * Round-by-round least fixed point: each round fires every trigger at or
 * beyond the current price (the whole set is scanned, no order assumed)
 * and recomputes the price from the shocked price and the fired volume;
 * stop when a round fires nothing new.
 */
static double
brute_cascade(const struct market *mk, double p, size_t *fired)
{
	double cur = p, vol = 0.0;
	size_t cnt = 0, prev = (size_t)-1, j;

	while (cnt != prev) {
		prev = cnt;
		cnt = 0;
		vol = 0.0;
		for (j = 0; j < mk->n; j++) {
			int hit = mk->dir == LC_DOWN ? mk->price[j] >= cur :
			    mk->price[j] <= cur;

			if (hit) {
				vol += mk->qty[j];
				cnt++;
			}
		}
		cur = p * lc_price_factor(mk->cp, mk->side, vol, mk->scale);
	}
	*fired = cnt;
	return cur;
}

/* Is p within 1e-12 relative of some breakpoint m_k? */
static int
near_breakpoint(const struct lc_cascade *c, double p)
{
	size_t k;

	for (k = 1; k <= c->n; k++)
		if (p != c->m[k] && fabs(p - c->m[k]) <= 1e-12 * c->m[k])
			return 1;
	return 0;
}

/* The boundary shocked price at which trigger j starts to fire. */
static double
brute_effective(const struct market *mk, size_t j)
{
	double fire, nofire;
	size_t cnt;
	int i;

	/* down: m_j in [l_j, l_1]; up: m_j in [l_1, l_j]. */
	fire = mk->price[j - 1];
	nofire = mk->dir == LC_DOWN ? mk->price[0] * (1.0 + 1e-6) :
	    mk->price[0] * (1.0 - 1e-6);
	for (i = 0; i < 200; i++) {
		double mid = 0.5 * (fire + nofire);

		if (mid == fire || mid == nofire)
			break;
		brute_cascade(mk, mid, &cnt);
		if (cnt >= j)
			fire = mid;
		else
			nofire = mid;
	}
	return fire;
}

START_TEST(test_brute_force)
{
	uint64_t s = 0xcafe2026ULL;
	struct lc_cascade c;
	long checked = 0, exempt = 0, eff = 0, beyond = 0, zero = 0, ties = 0;
	int it;

	lc_cascade_init(&c);
	for (it = 0; it < NMARKETS; it++) {
		struct market mk;
		size_t j, kb;
		int i;

		random_market(&s, &mk);
		ck_assert_int_eq(lc_cascade_build(&c, mk.dir, mk.cp, mk.scale,
		    mk.price, mk.qty, mk.n), LC_OK);
		for (i = 0; i < 24; i++) {
			double p, fb, fe;

			/* Random shocks, and shocks exactly at a level. */
			if (mk.n > 0 && i % 4 == 3)
				p = mk.price[rng_below(&s, mk.n)];
			else
				p = mk.dir == LC_DOWN ?
				    mk.p0 * (1.0 - 0.7 * rng_unif(&s)) :
				    mk.p0 * (1.0 + 0.7 * rng_unif(&s));
			if (near_breakpoint(&c, p)) {
				exempt++;
				continue;
			}
			fb = brute_cascade(&mk, p, &kb);
			fe = lc_cascade_final_price(&c, p);
			ck_assert_msg(lc_cascade_fired(&c, p) == kb,
			    "market %d p %.17g: fired %zu vs brute %zu", it,
			    p, lc_cascade_fired(&c, p), kb);
			ck_assert_msg(rel_close(fe, fb, 1e-9) ||
			    fabs(fe - fb) <= 1e-9 * p,
			    "market %d p %.17g: F %.17g vs brute %.17g", it, p,
			    fe, fb);
			checked++;
			/* Coverage: exhaustion, price zero, tied levels. */
			if (mk.cp != NULL && kb > 0 && c.cum[kb] / mk.scale >
			    mk.curve.qty[mk.curve.n - 1])
				beyond++;
			if (fe == 0.0)
				zero++;
			if (kb > 1 && kb < mk.n && mk.price[kb] ==
			    mk.price[kb - 1])
				ties++;
		}
		/* Effective prices m_j: a few triggers and the last one. */
		for (i = 0; i < 4 && mk.n > 0; i++) {
			double want;

			j = i == 3 ? mk.n : 1 + rng_below(&s, mk.n);
			want = brute_effective(&mk, j);
			ck_assert_msg(rel_close(c.m[j], want, 1e-9),
			    "market %d m_%zu %.17g vs brute %.17g", it, j,
			    c.m[j], want);
			ck_assert(mk.dir == LC_DOWN ?
			    c.m[j] >= mk.price[j - 1] :
			    c.m[j] <= mk.price[j - 1]);
			eff++;
		}
		lc_curve_release(&mk.curve);
	}
	lc_cascade_release(&c);
	ck_assert(ties == 0);	/* a tie is fired or left as a whole */
	ck_assert(checked > 20 * NMARKETS);
	ck_assert(eff > 2 * NMARKETS);
	ck_assert_msg(exempt < checked / 50 && beyond > checked / 20 &&
	    zero > checked / 100, "checked %ld exempt %ld eff %ld beyond %ld "
	    "zero %ld ties %ld", checked, exempt, eff, beyond, zero, ties);
}
END_TEST

/* ---- worked examples --------------------------------------------------- */

/* Linear bid/ask curve of examples/01: 5000 per 100 bps out to 9900. */
static void
linear_curve(struct lc_curve *c, enum lc_side side)
{
	double bps[99], qty[99];
	size_t k, bad;

	for (k = 0; k < 99; k++) {
		bps[k] = 100.0 * (double)(k + 1);
		qty[k] = 5000.0 * (double)(k + 1);
	}
	lc_curve_init(c);
	ck_assert_int_eq(lc_curve_from_points(c, side, bps, qty, 99, &bad),
	    LC_OK);
}

START_TEST(test_four_level_table)
{
	/*
	 * Source: tests/golden/01-four-level-cascade.json and the
	 * brief's four-level table: P0 = 2000, sell levels 1900/1850/1800/
	 * 1700 selling 10000/15000/20000/25000 on a linear bid curve of
	 * 10000 per 200 bps.
	 */
	static const double shock[] = {-0.04, -0.05, -0.0562, -0.066, -0.07};
	static const double final[] = {1920.0, 1862.0, 1717.72, 1606.48,
	    1599.60};
	static const size_t fired[] = {0, 1, 3, 4, 4};
	double price[] = {1900.0, 1850.0, 1800.0, 1700.0};
	double qty[] = {10000.0, 15000.0, 20000.0, 25000.0};
	struct lc_curve curve;
	struct lc_cascade c;
	struct lc_cascade_point pt;
	double tp;
	size_t i, ks;

	linear_curve(&curve, LC_BID);
	lc_cascade_init(&c);
	ck_assert_int_eq(lc_cascade_build(&c, LC_DOWN, &curve, 1.0, price,
	    qty, 4), LC_OK);
	for (i = 0; i < 5; i++) {
		lc_cascade_point(&c, 2000.0, shock[i], &pt);
		ck_assert_double_eq_tol(pt.final_price, final[i], 0.005);
		ck_assert_uint_eq(pt.fired, fired[i]);
		ck_assert_double_eq_tol(pt.shocked_price,
		    2000.0 * (1.0 + shock[i]), 1e-9);
		ck_assert_double_eq_tol(pt.endogenous_bps,
		    1e4 * (1.0 - pt.final_price / pt.shocked_price), 1e-9);
	}
	/* Breakpoints as shocks: m_2 = 1850/0.98, m_4 = 1700/0.91. */
	ck_assert_double_eq_tol(100.0 * (1.0 - c.m[2] / 2000.0), 5.6122,
	    5e-5);
	ck_assert_double_eq_tol(100.0 * (1.0 - c.m[4] / 2000.0), 6.5934,
	    5e-5);
	ck_assert(c.m[1] == 1900.0);
	ck_assert(c.m[3] == c.m[2]);
	/*
	 * examples/01-four-level-cascade.json: a loan whose first step is at
	 * 1750 (ordered between 1800 and 1700) has effective price 1887.76.
	 */
	{
		double p5[] = {1900.0, 1850.0, 1800.0, 1750.0, 1700.0};
		double q5[] = {10000.0, 15000.0, 20000.0, 3.0, 25000.0};
		struct lc_cascade c5;

		lc_cascade_init(&c5);
		ck_assert_int_eq(lc_cascade_build(&c5, LC_DOWN, &curve, 1.0,
		    p5, q5, 5), LC_OK);
		ck_assert_double_eq_tol(c5.m[4], 1887.76, 0.005);
		lc_cascade_release(&c5);
	}
	/* Volumes after all four. */
	lc_cascade_point(&c, 2000.0, -0.07, &pt);
	ck_assert(pt.volume == 70000.0);
	ck_assert(pt.volume_quote == 1900.0 * 10000.0 + 1850.0 * 15000.0 +
	    1800.0 * 20000.0 + 1700.0 * 25000.0);
	ck_assert_double_eq_tol(pt.endogenous_bps, 1400.0, 1e-9);
	/* Cascade trigger at 100 bps: the first level already moves 200. */
	ck_assert_int_eq(lc_cascade_trigger(&c, 100.0, &tp, &ks), 0);
	ck_assert_uint_eq(ks, 1);
	ck_assert(tp == 1900.0);
	/* At 600 bps: impact(S_3) = 900 is the first >= 600. */
	ck_assert_int_eq(lc_cascade_trigger(&c, 600.0, &tp, &ks), 0);
	ck_assert_uint_eq(ks, 3);
	ck_assert(tp == c.m[3]);
	ck_assert_int_eq(lc_cascade_trigger(&c, 1500.0, &tp, &ks), -1);
	lc_cascade_release(&c);
	lc_curve_release(&curve);
}
END_TEST

START_TEST(test_up_mirror)
{
	/*
	 * P = 100, buy levels 105 and 110 of 10000 each on the linear ask
	 * curve: m_1 = 105, m_2 = 110/1.02.  +6%: 106 * 1.02 = 108.12 (the
	 * 110 level is not reached); +8%: 108 * 1.04 = 112.32.
	 */
	double price[] = {105.0, 110.0}, qty[] = {10000.0, 10000.0};
	struct lc_curve curve;
	struct lc_cascade c;
	struct lc_cascade_point pt;

	linear_curve(&curve, LC_ASK);
	lc_cascade_init(&c);
	ck_assert_int_eq(lc_cascade_build(&c, LC_UP, &curve, 1.0, price, qty,
	    2), LC_OK);
	ck_assert(c.m[0] == 0.0 && c.m[1] == 105.0);
	ck_assert(rel_close(c.m[2], 110.0 / 1.02, 1e-15));
	lc_cascade_point(&c, 100.0, 0.06, &pt);
	ck_assert_uint_eq(pt.fired, 1);
	ck_assert(rel_close(pt.final_price, 108.12, 1e-14));
	lc_cascade_point(&c, 100.0, 0.08, &pt);
	ck_assert_uint_eq(pt.fired, 2);
	ck_assert(rel_close(pt.final_price, 112.32, 1e-14));
	ck_assert(rel_close(pt.endogenous_bps, 400.0, 1e-14));
	lc_cascade_point(&c, 100.0, 0.0, &pt);
	ck_assert_uint_eq(pt.fired, 0);
	ck_assert(pt.final_price == 100.0 && pt.endogenous_bps == 0.0);
	/* Reuse: same arrays for a smaller rebuild. */
	{
		double *m = c.m;

		ck_assert_int_eq(lc_cascade_build(&c, LC_UP, &curve, 1.0,
		    price, qty, 1), LC_OK);
		ck_assert(c.m == m);
		ck_assert_uint_eq(c.n, 1);
	}
	lc_cascade_release(&c);
	lc_curve_release(&curve);
}
END_TEST

START_TEST(test_zero_price_cap)
{
	/* A shallow bid: the first level alone takes the price to zero. */
	double bps[] = {5000.0}, qd[] = {10.0};
	double price[] = {90.0, 50.0, 1.0}, qty[] = {1000.0, 5.0, 5.0};
	struct lc_curve curve;
	struct lc_cascade c;
	struct lc_cascade_point pt;
	size_t bad;

	lc_curve_init(&curve);
	ck_assert_int_eq(lc_curve_from_points(&curve, LC_BID, bps, qd, 1,
	    &bad), LC_OK);
	lc_cascade_init(&c);
	ck_assert_int_eq(lc_cascade_build(&c, LC_DOWN, &curve, 1.0, price,
	    qty, 3), LC_OK);
	ck_assert(lc_cascade_factor(&c, 1) == 0.0);
	/* g == 0: t = +inf, so m stays at l_1. */
	ck_assert(c.m[1] == 90.0 && c.m[2] == 90.0 && c.m[3] == 90.0);
	lc_cascade_point(&c, 100.0, -0.1, &pt);
	ck_assert_uint_eq(pt.fired, 3);
	ck_assert(pt.final_price == 0.0);
	ck_assert(pt.endogenous_bps == 1e4);
	lc_cascade_release(&c);
	lc_curve_release(&curve);
}
END_TEST

START_TEST(test_no_depth_and_empty)
{
	double price[] = {90.0, 80.0}, qty[] = {1.0, 1.0};
	struct lc_cascade c;
	struct lc_cascade_point pt;

	lc_cascade_init(&c);
	/* Never built: nothing fires. */
	lc_cascade_point(&c, 100.0, -0.5, &pt);
	ck_assert_uint_eq(pt.fired, 0);
	ck_assert(pt.final_price == 50.0 && pt.volume == 0.0);
	/* No curve: impact 0, m_k = l_k, F(p) = p. */
	ck_assert_int_eq(lc_cascade_build(&c, LC_DOWN, NULL, 1.0, price, qty,
	    2), LC_OK);
	ck_assert(c.m[1] == 90.0 && c.m[2] == 80.0);
	ck_assert(lc_cascade_final_price(&c, 85.0) == 85.0);
	ck_assert_uint_eq(lc_cascade_fired(&c, 85.0), 1);
	ck_assert_int_eq(lc_cascade_trigger(&c, 100.0, NULL, NULL), -1);
	/* Zero triggers. */
	ck_assert_int_eq(lc_cascade_build(&c, LC_DOWN, NULL, 1.0, price, qty,
	    0), LC_OK);
	ck_assert_uint_eq(lc_cascade_fired(&c, 1.0), 0);
	ck_assert(lc_cascade_final_price(&c, 1.0) == 1.0);
	lc_cascade_release(&c);
	lc_cascade_release(&c);
}
END_TEST

/* ---- ordering and validation ------------------------------------------- */

START_TEST(test_trigger_sort_stable)
{
	uint64_t s = 42;
	double price[300], qty[300];
	uint64_t tag[300];
	int it;

	for (it = 0; it < 200; it++) {
		enum lc_dir dir = it % 2 ? LC_UP : LC_DOWN;
		size_t n = rng_below(&s, 300), k;

		for (k = 0; k < n; k++) {
			price[k] = (double)(1 + rng_below(&s, 7));
			qty[k] = price[k] * 10.0 + (double)k;
			tag[k] = k;
		}
		ck_assert_int_eq(lc_trigger_sort(dir, price, qty, tag, n),
		    LC_OK);
		for (k = 0; k < n; k++) {
			/* Rows travel together. */
			ck_assert(qty[k] == price[k] * 10.0 + (double)tag[k]);
			if (k == 0)
				continue;
			if (price[k] == price[k - 1])
				ck_assert(tag[k] > tag[k - 1]);
			else if (dir == LC_DOWN)
				ck_assert(price[k] < price[k - 1]);
			else
				ck_assert(price[k] > price[k - 1]);
		}
	}
	ck_assert_int_eq(lc_trigger_sort(LC_DOWN, price, qty, NULL, 0),
	    LC_OK);
}
END_TEST

START_TEST(test_build_validation)
{
	double up[] = {1.0, 2.0}, q[] = {1.0, 1.0}, nq[] = {1.0, -1.0};
	double bad[] = {1.0, NAN};
	struct lc_curve curve;
	struct lc_cascade c;

	linear_curve(&curve, LC_BID);
	lc_cascade_init(&c);
	ck_assert_int_eq(lc_cascade_build(&c, LC_DOWN, &curve, 1.0, up, q,
	    2), LC_EINVAL);
	ck_assert_int_eq(lc_cascade_build(&c, LC_UP, &curve, 1.0, up, q, 2),
	    LC_OK);
	ck_assert_int_eq(lc_cascade_build(&c, LC_UP, &curve, 1.0, up, nq, 2),
	    LC_EINVAL);
	ck_assert_int_eq(lc_cascade_build(&c, LC_UP, &curve, 1.0, bad, q, 2),
	    LC_EINVAL);
	ck_assert_int_eq(lc_cascade_build(&c, LC_UP, &curve, 0.0, up, q, 2),
	    LC_EINVAL);
	lc_cascade_release(&c);
	lc_curve_release(&curve);
}
END_TEST

/* ---- properties --------------------------------------------------------- */

static int
near_any(const struct lc_cascade *a, const struct lc_cascade *b, double p)
{
	return near_breakpoint(a, p) || near_breakpoint(b, p);
}

START_TEST(test_adding_level_monotone)
{
	uint64_t s = 0xadd1e7e1ULL;
	struct lc_cascade a, b;
	int it;

	lc_cascade_init(&a);
	lc_cascade_init(&b);
	for (it = 0; it < 500; it++) {
		struct market mk;
		double fa, fb, p;
		int i;

		random_market(&s, &mk);
		ck_assert_int_eq(lc_cascade_build(&a, mk.dir, mk.cp, mk.scale,
		    mk.price, mk.qty, mk.n), LC_OK);
		/* One more level anywhere, then re-sort. */
		mk.price[mk.n] = mk.dir == LC_DOWN ?
		    mk.p0 * (1.0 - 0.6 * rng_unif(&s)) :
		    mk.p0 * (1.0 + 0.6 * rng_unif(&s));
		mk.qty[mk.n] = 1000.0 * rng_unif(&s);
		mk.n++;
		ck_assert_int_eq(lc_trigger_sort(mk.dir, mk.price, mk.qty,
		    NULL, mk.n), LC_OK);
		ck_assert_int_eq(lc_cascade_build(&b, mk.dir, mk.cp, mk.scale,
		    mk.price, mk.qty, mk.n), LC_OK);
		for (i = 0; i < 20; i++) {
			p = mk.dir == LC_DOWN ?
			    mk.p0 * (1.0 - 0.7 * rng_unif(&s)) :
			    mk.p0 * (1.0 + 0.7 * rng_unif(&s));
			if (near_any(&a, &b, p))
				continue;
			fa = lc_cascade_final_price(&a, p);
			fb = lc_cascade_final_price(&b, p);
			if (mk.dir == LC_DOWN)
				ck_assert_msg(fb <= fa * (1.0 + 1e-12),
				    "%.17g > %.17g", fb, fa);
			else
				ck_assert_msg(fb >= fa * (1.0 - 1e-12),
				    "%.17g < %.17g", fb, fa);
		}
		lc_curve_release(&mk.curve);
	}
	lc_cascade_release(&a);
	lc_cascade_release(&b);
}
END_TEST

START_TEST(test_depth_scale_monotone)
{
	uint64_t s = 0xdeb7ULL;
	struct lc_cascade a, b;
	int it;

	lc_cascade_init(&a);
	lc_cascade_init(&b);
	for (it = 0; it < 500; it++) {
		struct market mk;
		double shrink;
		int i;

		random_market(&s, &mk);
		mk.cp = &mk.curve;
		shrink = 0.01 + 0.98 * rng_unif(&s);
		ck_assert_int_eq(lc_cascade_build(&a, mk.dir, mk.cp, mk.scale,
		    mk.price, mk.qty, mk.n), LC_OK);
		ck_assert_int_eq(lc_cascade_build(&b, mk.dir, mk.cp,
		    mk.scale * shrink, mk.price, mk.qty, mk.n), LC_OK);
		for (i = 0; i < 20; i++) {
			double p = mk.dir == LC_DOWN ?
			    mk.p0 * (1.0 - 0.7 * rng_unif(&s)) :
			    mk.p0 * (1.0 + 0.7 * rng_unif(&s));
			double fa, fb;

			if (near_any(&a, &b, p))
				continue;
			fa = lc_cascade_final_price(&a, p);
			fb = lc_cascade_final_price(&b, p);
			/* Thinner books never soften the move. */
			if (mk.dir == LC_DOWN)
				ck_assert(fb <= fa * (1.0 + 1e-12));
			else
				ck_assert(fb >= fa * (1.0 - 1e-12));
		}
		lc_curve_release(&mk.curve);
	}
	lc_cascade_release(&a);
	lc_cascade_release(&b);
}
END_TEST

/* ---- large build (speed is measured by make bench, not asserted) -- */

START_TEST(test_large_build)
{
	enum { N = 100000 };
	double *price = malloc(N * sizeof(double));
	double *qty = malloc(N * sizeof(double));
	struct lc_curve curve;
	struct lc_cascade c;
	uint64_t s = 99;
	size_t k;
	int r;

	ck_assert(price != NULL && qty != NULL);
	linear_curve(&curve, LC_BID);
	for (k = 0; k < N; k++) {
		price[k] = 2000.0 * (1.0 - 0.9 * rng_unif(&s));
		qty[k] = 10.0 * rng_unif(&s);
	}
	ck_assert_int_eq(lc_trigger_sort(LC_DOWN, price, qty, NULL, N), LC_OK);
	lc_cascade_init(&c);
	/* Rebuilding into the same arrays must give the same cascade. */
	for (r = 0; r < 2; r++)
		ck_assert_int_eq(lc_cascade_build(&c, LC_DOWN, &curve, 1.0,
		    price, qty, N), LC_OK);
	/* The cursor agrees with the binary-searched factor everywhere. */
	for (k = 1; k <= N; k += 997)
		ck_assert(c.m[k] <= c.m[k - 1]);
	ck_assert(rel_close(lc_cascade_factor(&c, N), 1.0 -
	    lc_impact_bps(&curve, LC_BID, c.cum[N], 1.0) / 1e4, 0.0));
	lc_cascade_release(&c);
	lc_curve_release(&curve);
	free(price);
	free(qty);
}
END_TEST

/*
 * Out of memory: each allocation of lc_cascade_build() and of
 * lc_trigger_sort() fails in turn; each must return LC_ENOMEM and, once
 * the cascade is released, leak nothing.
 */
struct oom {
	int sort;
	struct lc_curve curve;
	double price[40], qty[40];
	uint64_t tag[40];
};

static int
oom_run(void *ctx)
{
	struct oom *o = ctx;
	struct lc_cascade c;
	double price[40], qty[40];
	uint64_t tag[40];
	int rc;

	if (o->sort) {
		memcpy(price, o->price, sizeof(price));
		memcpy(qty, o->qty, sizeof(qty));
		memcpy(tag, o->tag, sizeof(tag));
		return (int)lc_trigger_sort(LC_DOWN, price, qty, tag, 40);
	}
	lc_cascade_init(&c);
	rc = (int)lc_cascade_build(&c, LC_DOWN, &o->curve, 1.0, o->price,
	    o->qty, 40);
	lc_cascade_release(&c);
	return rc;
}

START_TEST(test_out_of_memory)
{
	struct oom o;
	char why[160];
	size_t k;
	long n;

	linear_curve(&o.curve, LC_BID);
	for (k = 0; k < 40; k++) {
		o.price[k] = 1000.0 - 10.0 * (double)k;
		o.qty[k] = 100.0 + (double)k;
		o.tag[k] = k;
	}
	for (o.sort = 0; o.sort < 2; o.sort++) {
		n = failalloc_sweep(oom_run, &o, LC_OK, LC_ENOMEM, 0, 1000,
		    why, sizeof(why));
		ck_assert_msg(n > 0, "%s: %s", o.sort ? "sort" : "build",
		    why);
	}
	lc_curve_release(&o.curve);
}
END_TEST

static Suite *
cascade_suite(void)
{
	Suite *s = suite_create("cascade");
	TCase *tc;

	tc = tcase_create("brute_force");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_brute_force);
	suite_add_tcase(s, tc);

	tc = tcase_create("examples");
	tcase_add_test(tc, test_four_level_table);
	tcase_add_test(tc, test_up_mirror);
	tcase_add_test(tc, test_zero_price_cap);
	tcase_add_test(tc, test_no_depth_and_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("ordering");
	tcase_add_test(tc, test_trigger_sort_stable);
	tcase_add_test(tc, test_build_validation);
	tcase_add_test(tc, test_out_of_memory);
	suite_add_tcase(s, tc);

	tc = tcase_create("properties");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_adding_level_monotone);
	tcase_add_test(tc, test_depth_scale_monotone);
	suite_add_tcase(s, tc);

	tc = tcase_create("large");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_large_build);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ck_run_suite(cascade_suite());
}

/*
 * test_curve.c - Check suite of curve.c: validation, docs/model.md 1 input
 * forms (points, levels, quotes, constant product), venue aggregation,
 * impact as the generalized inverse of D (against bisection), and the
 * closed-form integral and fill slippage (against Gauss-Legendre numeric
 * integration) on seeded random curves; each constructor with each of its
 * allocations failing (LC_ENOMEM, nothing leaked).
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "cascade/curve.h"
#include "ckutil.h"
#include "failalloc.h"
#include "splitmix.h"

#define NRAND 400

/* ---- random curves (seeded: splitmix.h) ------------------------------ */

/*
 * Random valid curve of 1..maxn points: flat segments (repeated qty, also
 * a zero first qty) with probability 1/5, bid bps below 10000.
 */
static void
random_curve(uint64_t *s, enum lc_side side, size_t maxn, struct lc_curve *c)
{
	double bps[64], qty[64], d = 0.0, q = 0.0, span;
	size_t n = 1 + rng_below(s, maxn), k, bad;

	span = side == LC_BID ? 9990.0 * (0.02 + 0.98 * rng_unif(s)) :
	    30000.0 * rng_unif(s) + 10.0;
	for (k = 0; k < n; k++) {
		d += 0.05 + rng_unif(s);
		bps[k] = d;
		if (rng_below(s, 5) != 0)
			q += 1000.0 * rng_unif(s) * rng_unif(s) + 1e-3;
		qty[k] = q;
	}
	if (!(q > 0.0))
		qty[n - 1] = 1.0;
	for (k = 0; k < n; k++)
		bps[k] *= span / d;
	ck_assert_int_eq(lc_curve_from_points(c, side, bps, qty, n, &bad),
	    LC_OK);
}

/* ---- numeric references ---------------------------------------------- */

/* Smallest d with D(d) >= v, by bisection on lc_curve_depth. */
static double
impact_bisect(const struct lc_curve *c, enum lc_side side, double v)
{
	double lo = 0.0, hi = c->bps[c->n - 1];
	int i;

	if (!(v > 0.0))
		return 0.0;
	if (v > c->qty[c->n - 1]) {
		double d = hi * sqrt(v / c->qty[c->n - 1]);

		return side == LC_BID && d > 1e4 ? 1e4 : d;
	}
	for (i = 0; i < 200; i++) {
		double mid = 0.5 * (lo + hi);

		if (lc_curve_depth(c, mid, 1.0) >= v)
			hi = mid;
		else
			lo = mid;
	}
	return hi;
}

/* 5-point Gauss-Legendre on [a, b] split into m panels. */
static double
gauss_legendre(const struct lc_curve *c, enum lc_side side, double a,
    double b, int m, double scale)
{
	static const double x[5] = {0.0, 0.5384693101056831,
	    -0.5384693101056831, 0.9061798459386640, -0.9061798459386640};
	static const double w[5] = {0.5688888888888889, 0.4786286704993665,
	    0.4786286704993665, 0.2369268850561891, 0.2369268850561891};
	double h = (b - a) / m, sum = 0.0;
	int i, j;

	for (i = 0; i < m; i++) {
		double mid = a + (i + 0.5) * h;

		for (j = 0; j < 5; j++)
			sum += w[j] * lc_impact_bps(c, side,
			    mid + 0.5 * h * x[j], scale);
	}
	return 0.5 * h * sum;
}

static int
dbl_cmp(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return a < b ? -1 : (a > b);
}

/*
 * Numeric integral of impact over [a, b] with the kinks (the scaled q_k,
 * the bid cap point) as panel boundaries, so each piece is smooth.
 */
static double
numeric_integral(const struct lc_curve *c, enum lc_side side, double a,
    double b, double scale)
{
	double cut[70], sum = 0.0;
	size_t nc = 0, k;

	cut[nc++] = a;
	for (k = 0; k < c->n; k++)
		if (c->qty[k] * scale > a && c->qty[k] * scale < b)
			cut[nc++] = c->qty[k] * scale;
	if (side == LC_BID) {
		double r = 1e4 / c->bps[c->n - 1];
		double uc = c->qty[c->n - 1] * r * r * scale;

		if (uc > a && uc < b)
			cut[nc++] = uc;
	}
	cut[nc++] = b;
	qsort(cut, nc, sizeof(double), dbl_cmp);
	/* The sqrt continuation is far from linear: more panels there. */
	for (k = 0; k + 1 < nc; k++)
		if (cut[k + 1] > cut[k])
			sum += gauss_legendre(c, side, cut[k], cut[k + 1],
			    cut[k] >= c->qty[c->n - 1] * scale ? 4000 : 8,
			    scale);
	return sum;
}

/* ---- validation and points ------------------------------------------- */

START_TEST(test_points_validation)
{
	struct lc_curve c;
	size_t bad = 99;
	double bps[] = {100, 200, 300}, qty[] = {10, 20, 30};
	double bb[] = {100, 100, 300}, bq[] = {10, 5, 30}, zq[] = {0, 0, 0};
	double cap[] = {100, 200, 10000}, neg[] = {-1, 200, 300};
	double nanb[] = {100, NAN, 300}, ask[] = {100, 5000, 25000};

	lc_curve_init(&c);
	ck_assert_int_eq(lc_curve_from_points(&c, LC_BID, bps, qty, 3, &bad),
	    LC_OK);
	ck_assert_uint_eq(c.n, 3);
	ck_assert_int_eq(lc_curve_from_points(&c, LC_BID, bps, qty, 0, &bad),
	    LC_EINVAL);
	ck_assert_uint_eq(bad, 0);
	ck_assert_uint_eq(c.n, 0);
	ck_assert_int_eq(lc_curve_from_points(&c, LC_BID, bb, qty, 3, &bad),
	    LC_EINVAL);
	ck_assert_uint_eq(bad, 1);
	ck_assert_int_eq(lc_curve_from_points(&c, LC_BID, bps, bq, 3, &bad),
	    LC_EINVAL);
	ck_assert_uint_eq(bad, 1);
	ck_assert_int_eq(lc_curve_from_points(&c, LC_BID, bps, zq, 3, &bad),
	    LC_EINVAL);
	ck_assert_uint_eq(bad, 2);
	ck_assert_int_eq(lc_curve_from_points(&c, LC_BID, cap, qty, 3, &bad),
	    LC_EINVAL);
	ck_assert_uint_eq(bad, 2);
	ck_assert_int_eq(lc_curve_from_points(&c, LC_BID, neg, qty, 3, &bad),
	    LC_EINVAL);
	ck_assert_uint_eq(bad, 0);
	ck_assert_int_eq(lc_curve_from_points(&c, LC_ASK, nanb, qty, 3, &bad),
	    LC_EINVAL);
	ck_assert_uint_eq(bad, 1);
	/* The ask side has no upper bound. */
	ck_assert_int_eq(lc_curve_from_points(&c, LC_ASK, ask, qty, 3, &bad),
	    LC_OK);
	ck_assert_int_eq(lc_curve_from_points(&c, LC_BID, ask, qty, 3, &bad),
	    LC_EINVAL);
	ck_assert_uint_eq(bad, 2);
	lc_curve_release(&c);
	lc_curve_release(&c);	/* idempotent */
}
END_TEST

START_TEST(test_copy)
{
	struct lc_curve a, b;
	uint64_t s = 7;

	lc_curve_init(&a);
	lc_curve_init(&b);
	random_curve(&s, LC_BID, 20, &a);
	ck_assert_int_eq(lc_curve_copy(&b, &a), LC_OK);
	ck_assert_uint_eq(b.n, a.n);
	ck_assert(b.bps != a.bps);
	ck_assert(b.qty[b.n - 1] == a.qty[a.n - 1]);
	lc_curve_release(&a);
	ck_assert_int_eq(lc_curve_copy(&b, &a), LC_OK);
	ck_assert_uint_eq(b.n, 0);
	lc_curve_release(&b);
}
END_TEST

/* ---- order-book levels ------------------------------------------------ */

START_TEST(test_levels)
{
	struct lc_curve c;
	size_t bad = 99;
	/* Unsorted, one duplicate price (merged). */
	double bp[] = {99.0, 98.0, 99.0, 97.5}, bq[] = {1.0, 2.0, 3.0, 1.0};
	double ap[] = {102.0, 101.0, 101.0}, aq[] = {5.0, 1.0, 2.0};
	double wp[] = {99.0, 100.0}, wq[] = {1.0, 1.0};
	double zp[] = {99.0, 98.0}, zq[] = {1.0, 0.0};

	lc_curve_init(&c);
	ck_assert_int_eq(lc_curve_from_levels(&c, LC_BID, bp, bq, 4, 100.0,
	    &bad), LC_OK);
	ck_assert_uint_eq(c.n, 3);
	ck_rel(c.bps[0], 100.0, 1e-12);
	ck_rel(c.bps[1], 200.0, 1e-12);
	ck_rel(c.bps[2], 250.0, 1e-12);
	ck_assert(c.qty[0] == 4.0 && c.qty[1] == 6.0 && c.qty[2] == 7.0);

	ck_assert_int_eq(lc_curve_from_levels(&c, LC_ASK, ap, aq, 3, 100.0,
	    &bad), LC_OK);
	ck_assert_uint_eq(c.n, 2);
	ck_rel(c.bps[0], 100.0, 1e-12);
	ck_rel(c.bps[1], 200.0, 1e-12);
	ck_assert(c.qty[0] == 3.0 && c.qty[1] == 8.0);

	/* A level at the mid, or on the wrong side, names its index. */
	ck_assert_int_eq(lc_curve_from_levels(&c, LC_BID, wp, wq, 2, 100.0,
	    &bad), LC_EINVAL);
	ck_assert_uint_eq(bad, 1);
	ck_assert_uint_eq(c.n, 0);
	ck_assert_int_eq(lc_curve_from_levels(&c, LC_ASK, bp, bq, 4, 100.0,
	    &bad), LC_EINVAL);
	ck_assert_uint_eq(bad, 0);
	ck_assert_int_eq(lc_curve_from_levels(&c, LC_BID, zp, zq, 2, 100.0,
	    &bad), LC_EINVAL);
	ck_assert_uint_eq(bad, 1);
	ck_assert_int_eq(lc_curve_from_levels(&c, LC_BID, bp, bq, 4, NAN,
	    &bad), LC_EINVAL);
	lc_curve_release(&c);
}
END_TEST

/* ---- quotes ------------------------------------------------------------ */

START_TEST(test_quotes_uniswap_example)
{
	/*
	 * Source: tests/golden/07-quotes-uniswap-v3.json (real
	 * Uniswap v3 USDC/WETH sell curve as average slippage per size).
	 */
	static const double q[] = {0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0,
	    50.0, 100.0, 200.0, 500.0, 1000.0};
	static const double a[] = {0.004820476406027139, 0.009640276030661392,
	    0.02410430631602014, 0.04820911854049369, 0.09641813551598427,
	    0.24104529653208434, 0.4820905949391706, 0.9641811396497085,
	    2.410452860621246, 4.999963660031266, 32.51125747981013,
	    138.85598269293624, 288.8322347947708};
	static const double want_bps[] = {0.00964095281205, 0.0192791984985,
	    0.0482147878473, 0.0964130736826, 0.1928412313, 0.482085576452,
	    0.964186210241, 1.92835715848, 4.82091085739, 10.3580380615,
	    109.687064538, 309.817867799, 567.799105994};
	/* expected_max_deviation_bps: 7.1054273576e-15 (rounding noise). */
	struct lc_curve c;
	double dev = -1.0;
	size_t k, bad = 99;

	lc_curve_init(&c);
	ck_assert_int_eq(lc_curve_from_quotes(&c, LC_BID, q, a, 13, &dev,
	    &bad), LC_OK);
	ck_assert_uint_eq(c.n, 13);
	for (k = 0; k < 13; k++) {
		ck_rel(c.bps[k], want_bps[k], 1e-9);
		ck_assert(c.qty[k] == q[k]);
	}
	/*
	 * Every quote is kept, so the rebuilt averages match to rounding:
	 * the file's 7.1054273576e-15 is one ulp (2^-47) at 32.5 bps, which
	 * the closed-form integral reproduces exactly.
	 */
	ck_rel(dev, 7.1054273576e-15, 1e-9);
	lc_curve_release(&c);
}
END_TEST

START_TEST(test_quotes_skip_and_errors)
{
	/*
	 * Quote 2 (avg 1.0 at 2) would rebuild d = 2*(2-1)/1 - 2 = 0 <= 2:
	 * skipped.  Kept: (2, 1) then quote 3: d = 2*(3*2 - 1)/2 - 2 = 3.
	 */
	static const double q[] = {1.0, 2.0, 3.0};
	static const double a[] = {1.0, 1.0, 2.0};
	static const double z[] = {0.0, 0.0, 0.0};
	static const double big[] = {1.0, 6000.0, 6000.0};
	static const double desc[] = {1.0, 3.0, 2.0};
	struct lc_curve c;
	double dev = -1.0, rebuilt;
	size_t bad = 99;

	lc_curve_init(&c);
	ck_assert_int_eq(lc_curve_from_quotes(&c, LC_BID, q, a, 3, &dev,
	    &bad), LC_OK);
	ck_assert_uint_eq(c.n, 2);
	ck_rel(c.bps[0], 2.0, 1e-15);
	ck_rel(c.bps[1], 3.0, 1e-15);
	ck_assert(c.qty[1] == 3.0);
	/*
	 * Skipped quote: the rebuilt curve (1, 2), (3, 3) has integral
	 * 1 + (2 + 2.5)/2 = 3.25 up to 2, average 1.625, deviation 0.625.
	 */
	rebuilt = lc_impact_integral(&c, LC_BID, 0.0, 2.0, 1.0) / 2.0;
	ck_rel(rebuilt, 1.625, 1e-15);
	ck_rel(dev, 0.625, 1e-14);

	ck_assert_int_eq(lc_curve_from_quotes(&c, LC_BID, q, z, 3, &dev,
	    &bad), LC_EINVAL);
	ck_assert_uint_eq(bad, 3);
	/* A kept bid point at >= 10000 bps names its quote. */
	ck_assert_int_eq(lc_curve_from_quotes(&c, LC_BID, q, big, 3, &dev,
	    &bad), LC_EINVAL);
	ck_assert_uint_eq(bad, 1);
	ck_assert_int_eq(lc_curve_from_quotes(&c, LC_ASK, q, big, 3, &dev,
	    &bad), LC_OK);
	ck_assert_int_eq(lc_curve_from_quotes(&c, LC_BID, desc, a, 3, &dev,
	    &bad), LC_EINVAL);
	ck_assert_uint_eq(bad, 2);
	lc_curve_release(&c);
}
END_TEST

/* ---- constant product ------------------------------------------------- */

/* Exact x*y=k impact in bps of trading Q against base reserve x. */
static double
cp_exact(enum lc_side side, double x, double q)
{
	double r = 1.0 + (side == LC_BID ? q : -q) / x;

	return side == LC_BID ? 1e4 * (1.0 - 1.0 / (r * r)) :
	    1e4 * (1.0 / (r * r) - 1.0);
}

START_TEST(test_constant_product_example)
{
	/*
	 * docs/model.md 1 constant_product: pool of 10000 ETH / 20M USDC (price
	 * 2000).  Selling 500 ETH leaves 10500 ETH and 2e11/10500 USDC: spot
	 * 2e11/10500^2 = 1814.06.
	 */
	struct lc_curve c;
	double x = 10000.0, y = 2e7, exact, got;

	lc_curve_init(&c);
	ck_assert_int_eq(lc_curve_from_constant_product(&c, LC_BID, x, y),
	    LC_OK);
	ck_assert_uint_eq(c.n, LC_CP_POINTS);
	ck_rel(c.bps[LC_CP_POINTS - 1], 9000.0, 1e-15);
	ck_rel(c.bps[0], 9000.0 / 4096.0, 1e-15);
	/* Q = x (1/sqrt(1 - d/1e4) - 1) at d = 9000. */
	ck_rel(c.qty[LC_CP_POINTS - 1], x * (1.0 / sqrt(0.1) - 1.0), 1e-14);
	exact = cp_exact(LC_BID, x, 500.0);
	ck_assert_double_eq_tol(2000.0 * (1.0 - exact / 1e4), 1814.06, 0.005);
	got = lc_impact_bps(&c, LC_BID, 500.0, 1.0);
	ck_assert_msg(fabs(got - exact) <= 0.0015 * exact, "%g vs %g", got,
	    exact);
	ck_assert_double_eq_tol(2000.0 * lc_price_factor(&c, LC_BID, 500.0,
	    1.0), 1814.06, 0.0015 * 2000.0 * exact / 1e4);
	lc_curve_release(&c);
}
END_TEST

START_TEST(test_constant_product_range)
{
	struct lc_curve c;
	enum lc_side sides[2] = {LC_BID, LC_ASK};
	double x = 10000.0, worst = 0.0;
	int si, i;

	lc_curve_init(&c);
	for (si = 0; si < 2; si++) {
		enum lc_side side = sides[si];
		double qn;

		ck_assert_int_eq(lc_curve_from_constant_product(&c, side, x,
		    2e7), LC_OK);
		qn = c.qty[c.n - 1];
		if (side == LC_ASK)
			ck_assert(qn < x);
		/* Log-spaced volumes up to the last grid point. */
		for (i = 0; i <= 2000; i++) {
			double v = qn * pow(10.0, -8.0 * (1.0 - i / 2000.0));
			double e = cp_exact(side, x, v);
			double g = lc_impact_bps(&c, side, v, 1.0);
			double r = fabs(g - e) / e;

			if (r > worst)
				worst = r;
			ck_assert_msg(r <= 0.0015, "side %d v %g: %g vs %g",
			    (int)side, v, g, e);
		}
	}
	ck_assert(worst > 0.0);
	ck_assert_int_eq(lc_curve_from_constant_product(&c, LC_BID, 0.0, 1.0),
	    LC_EINVAL);
	lc_curve_release(&c);
}
END_TEST

/* ---- aggregation ------------------------------------------------------ */

START_TEST(test_aggregate_sum)
{
	uint64_t s = 0xa99e6a7eULL;
	int it;

	for (it = 0; it < NRAND; it++) {
		struct lc_curve v[3], agg;
		enum lc_side side = it % 2 ? LC_ASK : LC_BID;
		size_t bad, j;
		int i;

		lc_curve_init(&agg);
		for (i = 0; i < 3; i++) {
			lc_curve_init(&v[i]);
			if (i < 2)
				random_curve(&s, side, 40, &v[i]);
		}
		/* v[2] stays empty: skipped. */
		ck_assert_int_eq(lc_curve_aggregate(&agg, v, 3), LC_OK);
		ck_assert_int_eq(lc_curve_from_points(&v[2], side, agg.bps,
		    agg.qty, agg.n, &bad), LC_OK);
		for (j = 0; j < 50; j++) {
			double d = 1.2 * (v[0].bps[v[0].n - 1] +
			    v[1].bps[v[1].n - 1]) * rng_unif(&s);
			double want = lc_curve_depth(&v[0], d, 1.0) +
			    lc_curve_depth(&v[1], d, 1.0);

			ck_assert_double_eq_tol(lc_curve_depth(&agg, d, 1.0),
			    want, 1e-12 * (1.0 + want));
		}
		for (i = 0; i < 3; i++)
			lc_curve_release(&v[i]);
		lc_curve_release(&agg);
	}
}
END_TEST

START_TEST(test_aggregate_empty)
{
	struct lc_curve v[2], agg;

	lc_curve_init(&v[0]);
	lc_curve_init(&v[1]);
	lc_curve_init(&agg);
	ck_assert_int_eq(lc_curve_aggregate(&agg, v, 2), LC_OK);
	ck_assert_uint_eq(agg.n, 0);
	ck_assert_int_eq(lc_curve_aggregate(&agg, v, 0), LC_OK);
	ck_assert_uint_eq(agg.n, 0);
}
END_TEST

/* ---- impact ------------------------------------------------------------ */

START_TEST(test_impact_linear_book)
{
	/* examples/01-four-level-cascade.json: 5000 per 100 bps to 9900. */
	double bps[99], qty[99];
	struct lc_curve c;
	size_t k, bad;
	double qn, v;

	for (k = 0; k < 99; k++) {
		bps[k] = 100.0 * (double)(k + 1);
		qty[k] = 5000.0 * (double)(k + 1);
	}
	lc_curve_init(&c);
	ck_assert_int_eq(lc_curve_from_points(&c, LC_BID, bps, qty, 99, &bad),
	    LC_OK);
	ck_rel(lc_impact_bps(&c, LC_BID, 10000.0, 1.0), 200.0, 1e-15);
	ck_rel(lc_impact_bps(&c, LC_BID, 12345.0, 1.0), 246.9, 1e-14);
	ck_rel(lc_curve_depth(&c, 200.0, 1.0), 10000.0, 1e-15);
	ck_rel(lc_curve_depth(&c, 200.0, 0.5), 5000.0, 1e-15);
	/* depth_scale: impact_scaled(V) = impact(V / scale). */
	ck_rel(lc_impact_bps(&c, LC_BID, 10000.0, 2.0), 100.0, 1e-15);
	/* Continuation d_n sqrt(V/q_n), then the cap. */
	qn = 495000.0;
	v = 1.01 * qn;
	ck_rel(lc_impact_bps(&c, LC_BID, v, 1.0), 9900.0 * sqrt(1.01), 1e-15);
	ck_assert(lc_impact_bps(&c, LC_BID, 2.0 * qn, 1.0) == 1e4);
	ck_assert(lc_price_factor(&c, LC_BID, 2.0 * qn, 1.0) == 0.0);
	ck_rel(lc_impact_bps(&c, LC_ASK, 2.0 * qn, 1.0), 9900.0 * sqrt(2.0),
	    1e-15);
	ck_rel(lc_price_factor(&c, LC_ASK, 2.0 * qn, 1.0),
	    1.0 + 0.99 * sqrt(2.0), 1e-15);
	ck_rel(lc_curve_max_qty(&c, 3.0), 3.0 * qn, 1e-15);
	ck_assert(lc_impact_bps(&c, LC_BID, 0.0, 1.0) == 0.0);
	lc_curve_release(&c);
}
END_TEST

START_TEST(test_impact_flat_segments)
{
	/* D flat on [100, 200] at 10 and zero on [0, 50]. */
	double bps[] = {50.0, 100.0, 200.0, 300.0};
	double qty[] = {0.0, 10.0, 10.0, 20.0};
	struct lc_curve c;
	size_t bad;

	lc_curve_init(&c);
	ck_assert_int_eq(lc_curve_from_points(&c, LC_BID, bps, qty, 4, &bad),
	    LC_OK);
	/* Generalized inverse: smallest d with D(d) >= V. */
	ck_rel(lc_impact_bps(&c, LC_BID, 1e-9, 1.0), 50.0, 1e-9);
	ck_rel(lc_impact_bps(&c, LC_BID, 5.0, 1.0), 75.0, 1e-15);
	ck_rel(lc_impact_bps(&c, LC_BID, 10.0, 1.0), 100.0, 1e-15);
	ck_rel(lc_impact_bps(&c, LC_BID, 10.0 + 1e-9, 1.0), 200.0, 1e-9);
	ck_rel(lc_impact_bps(&c, LC_BID, 15.0, 1.0), 250.0, 1e-15);
	/* Integral across the jump: 0..10 avg 75, 10..20 avg 250. */
	ck_rel(lc_impact_integral(&c, LC_BID, 0.0, 20.0, 1.0),
	    10.0 * 75.0 + 10.0 * 250.0, 1e-15);
	/* A fill starting on the jump: s = 100, avg = 250. */
	ck_rel(lc_fill_slippage_bps(&c, LC_BID, 10.0, 20.0, 1.0),
	    1e4 * 150.0 / 9900.0, 1e-14);
	lc_curve_release(&c);
}
END_TEST

START_TEST(test_impact_generalized_inverse)
{
	uint64_t s = 0x1c0ffeeULL;
	int it;

	for (it = 0; it < NRAND; it++) {
		enum lc_side side = it % 2 ? LC_ASK : LC_BID;
		struct lc_curve c;
		double qn, scale = 0.1 + 3.0 * rng_unif(&s);
		int j;

		lc_curve_init(&c);
		random_curve(&s, side, 30, &c);
		qn = c.qty[c.n - 1];
		for (j = 0; j < 40; j++) {
			double v = 1.3 * qn * rng_unif(&s);
			double got = lc_impact_bps(&c, side, v, 1.0);
			double want = impact_bisect(&c, side, v);

			/* Away from jumps bisection and inverse agree. */
			ck_assert_msg(fabs(got - want) <= 1e-9 *
			    (1.0 + want) || fabs(lc_curve_depth(&c, got,
			    1.0) - v) <= 1e-9 * (1.0 + v), "v %g: %g vs %g",
			    v, got, want);
			ck_assert(got == lc_impact_bps(&c, side, v * scale,
			    scale) || rel_close(got, lc_impact_bps(&c, side,
			    v * scale, scale), 1e-14));
		}
		/* Monotone in V. */
		for (j = 0; j < 100; j++) {
			double v = 2.0 * qn * j / 100.0;

			ck_assert(lc_impact_bps(&c, side, v, 1.0) <=
			    lc_impact_bps(&c, side, v + qn / 100.0, 1.0));
		}
		lc_curve_release(&c);
	}
}
END_TEST

START_TEST(test_empty_curve)
{
	struct lc_curve c;

	lc_curve_init(&c);
	ck_assert(lc_impact_bps(&c, LC_BID, 1e6, 1.0) == 0.0);
	ck_assert(lc_impact_bps(NULL, LC_ASK, 1e6, 1.0) == 0.0);
	ck_assert(lc_price_factor(&c, LC_BID, 1e6, 1.0) == 1.0);
	ck_assert(lc_curve_depth(&c, 200.0, 1.0) == 0.0);
	ck_assert(lc_impact_integral(&c, LC_BID, 0.0, 1e6, 1.0) == 0.0);
	ck_assert(lc_fill_slippage_bps(&c, LC_BID, 0.0, 1e6, 1.0) == 0.0);
	ck_assert(lc_curve_max_qty(&c, 1.0) == 0.0);
}
END_TEST

/* ---- integral and slippage -------------------------------------------- */

START_TEST(test_integral_numeric)
{
	uint64_t s = 0x5eedULL;
	int it;

	for (it = 0; it < NRAND; it++) {
		enum lc_side side = it % 2 ? LC_ASK : LC_BID;
		struct lc_curve c;
		double scale = rng_below(&s, 2) ? 1.0 : 0.05 + 4.0 *
		    rng_unif(&s);
		double qn;
		int j;

		lc_curve_init(&c);
		random_curve(&s, side, 25, &c);
		qn = c.qty[c.n - 1] * scale;
		for (j = 0; j < 10; j++) {
			/* Ranges inside, across and beyond the curve. */
			double top = j % 3 == 0 ? 200.0 : 1.5;
			double a = top * qn * rng_unif(&s) * rng_unif(&s);
			double b = a + top * qn * rng_unif(&s) + 1e-9;
			double got = lc_impact_integral(&c, side, a, b, scale);
			double want = numeric_integral(&c, side, a, b, scale);
			double s0, slip, avg, wslip;

			ck_assert_msg(rel_close(got, want, 1e-10) ||
			    fabs(got - want) < 1e-12 * (b - a),
			    "[%g, %g]: %.17g vs %.17g", a, b, got, want);
			/* Fill slippage from the numeric average. */
			s0 = lc_impact_bps(&c, side, a, scale);
			avg = want / (b - a);
			slip = lc_fill_slippage_bps(&c, side, a, b, scale);
			if (side == LC_BID && s0 >= 1e4) {
				ck_assert(slip == 1e4);
				continue;
			}
			wslip = 1e4 * (avg - s0) / (side == LC_BID ?
			    1e4 - s0 : 1e4 + s0);
			ck_assert_msg(fabs(slip - wslip) <= 1e-9 *
			    (fabs(wslip) + avg) * 1e4 / (side == LC_BID ?
			    1e4 - s0 : 1e4 + s0), "%.17g vs %.17g", slip,
			    wslip);
			ck_assert(slip >= 0.0);
		}
		lc_curve_release(&c);
	}
}
END_TEST

START_TEST(test_slippage_edges)
{
	double bps[] = {100.0, 200.0}, qty[] = {10.0, 20.0};
	struct lc_curve c;
	size_t bad;
	double v0, dv, slip, s0, want;

	lc_curve_init(&c);
	ck_assert_int_eq(lc_curve_from_points(&c, LC_BID, bps, qty, 2, &bad),
	    LC_OK);
	/* Zero quantity. */
	ck_assert(lc_fill_slippage_bps(&c, LC_BID, 5.0, 5.0, 1.0) == 0.0);
	/* From zero on a linear segment: avg = d(V)/2. */
	ck_rel(lc_fill_slippage_bps(&c, LC_BID, 0.0, 10.0, 1.0), 50.0,
	    1e-15);
	ck_rel(lc_fill_slippage_bps(&c, LC_ASK, 0.0, 10.0, 1.0), 50.0,
	    1e-15);
	/* Starting at the cap (beyond 20 (1e4/200)^2 = 50000). */
	ck_assert(lc_fill_slippage_bps(&c, LC_BID, 60000.0, 70000.0, 1.0) ==
	    1e4);
	/* Crossing into the cap: integral adds 10000 per unit. */
	ck_rel(lc_impact_integral(&c, LC_BID, 50000.0, 50010.0, 1.0), 1e5,
	    1e-15);
	/*
	 * A tiny fill deep on the continuation: avg - s ~ s'(V0) dV / 2
	 * with s' = s / (2 V0); the closed form must not cancel.
	 */
	v0 = 1000.0;
	dv = 1e-6;
	s0 = lc_impact_bps(&c, LC_ASK, v0, 1.0);
	slip = lc_fill_slippage_bps(&c, LC_ASK, v0, v0 + dv, 1.0);
	want = 1e4 * (s0 / (4.0 * v0) * dv) / (1e4 + s0);
	ck_rel(slip, want, 1e-6);
	/* Integral of [v1, v0] is minus that of [v0, v1]. */
	ck_rel(lc_impact_integral(&c, LC_BID, 15.0, 5.0, 1.0),
	    -lc_impact_integral(&c, LC_BID, 5.0, 15.0, 1.0), 1e-15);
	lc_curve_release(&c);
}
END_TEST

/*
 * Out of memory: each allocation of every constructor (points, levels,
 * quotes, constant product, copy, aggregate) fails in turn; each must
 * return LC_ENOMEM and, once the curve is released, leak nothing.
 */
struct oom {
	int which;
	struct lc_curve v[2];
};

static int
oom_run(void *ctx)
{
	static const double bps[] = { 10, 20, 50, 120 };
	static const double qty[] = { 1, 3, 9, 20 };
	static const double px[] = { 99, 97, 98, 95 };
	static const double tq[] = { 0.5, 1, 2, 5 };
	static const double avg[] = { 1, 2.5, 6, 20 };
	const struct oom *o = ctx;
	struct lc_curve c;
	double dev;
	size_t bad;
	int rc;

	lc_curve_init(&c);
	switch (o->which) {
	case 0:
		rc = (int)lc_curve_from_points(&c, LC_BID, bps, qty, 4, &bad);
		break;
	case 1:
		rc = (int)lc_curve_from_levels(&c, LC_BID, px, qty, 4, 100.0,
		    &bad);
		break;
	case 2:
		rc = (int)lc_curve_from_quotes(&c, LC_ASK, tq, avg, 4, &dev,
		    &bad);
		break;
	case 3:
		rc = (int)lc_curve_from_constant_product(&c, LC_BID, 1e3,
		    2e6);
		break;
	case 4:
		rc = (int)lc_curve_copy(&c, &o->v[0]);
		break;
	default:
		rc = (int)lc_curve_aggregate(&c, o->v, 2);
		break;
	}
	lc_curve_release(&c);
	return rc;
}

START_TEST(test_out_of_memory)
{
	struct oom o;
	uint64_t s = 99;
	char why[160];
	long n;

	lc_curve_init(&o.v[0]);
	lc_curve_init(&o.v[1]);
	random_curve(&s, LC_BID, 20, &o.v[0]);
	random_curve(&s, LC_BID, 20, &o.v[1]);
	for (o.which = 0; o.which < 6; o.which++) {
		n = failalloc_sweep(oom_run, &o, LC_OK, LC_ENOMEM, 0, 1000,
		    why, sizeof(why));
		ck_assert_msg(n > 0, "constructor %d: %s", o.which, why);
	}
	lc_curve_release(&o.v[0]);
	lc_curve_release(&o.v[1]);
}
END_TEST

static Suite *
curve_suite(void)
{
	Suite *s = suite_create("curve");
	TCase *tc;

	tc = tcase_create("points");
	tcase_add_test(tc, test_points_validation);
	tcase_add_test(tc, test_copy);
	tcase_add_test(tc, test_out_of_memory);
	suite_add_tcase(s, tc);

	tc = tcase_create("levels");
	tcase_add_test(tc, test_levels);
	suite_add_tcase(s, tc);

	tc = tcase_create("quotes");
	tcase_add_test(tc, test_quotes_uniswap_example);
	tcase_add_test(tc, test_quotes_skip_and_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("constant_product");
	tcase_add_test(tc, test_constant_product_example);
	tcase_add_test(tc, test_constant_product_range);
	suite_add_tcase(s, tc);

	tc = tcase_create("aggregate");
	tcase_add_test(tc, test_aggregate_sum);
	tcase_add_test(tc, test_aggregate_empty);
	suite_add_tcase(s, tc);

	tc = tcase_create("impact");
	tcase_add_test(tc, test_impact_linear_book);
	tcase_add_test(tc, test_impact_flat_segments);
	tcase_add_test(tc, test_impact_generalized_inverse);
	tcase_add_test(tc, test_empty_curve);
	suite_add_tcase(s, tc);

	tc = tcase_create("integral_slippage");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_integral_numeric);
	tcase_add_test(tc, test_slippage_edges);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ck_run_suite(curve_suite());
}

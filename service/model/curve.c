/*
 * curve.c - depth curves: validation, the input-form converters, venue
 * aggregation, price impact, its integral and fill slippage (docs/model.md 1-2).
 *
 * Design
 * ------
 * A curve is the points (d_k, q_k), k = 1..n, after the implicit (0, 0);
 * D(d) is linear between points and constant (= q_n) past d_n.
 *
 *   impact(u)   = min{d : D(d) >= u}                       0 < u <= q_n
 *               = d_{k-1} + (u - q_{k-1}) (d_k - d_{k-1}) / (q_k - q_{k-1})
 *                 with k the first point having q_k >= u (so q_{k-1} < u
 *                 and flat segments q_{k-1} == q_k are jumped over);
 *   impact(u)   = d_n sqrt(u / q_n)                        u > q_n
 *   impact(0)   = 0; on the bid side impact is capped at 10000 bps, which
 *                 the continuation reaches at u_c = q_n (10000 / d_n)^2.
 *
 * depth_scale s multiplies every q: impact_s(V) = impact(V / s), so every
 * volume is divided by s and integrals over V are s times those over u.
 *
 * Integral of impact over [a, b], piece by piece over the segments it
 * crosses: a linear piece [lo, hi] contributes (hi - lo)(i(lo) + i(hi))/2;
 * the continuation, with X = hi/q_n, Y = lo/q_n,
 *   (2/3) d_n q_n (X^1.5 - Y^1.5)
 *     = (2/3) d_n (hi - lo) (X + sqrt(XY) + Y) / (sqrt X + sqrt Y),
 * written so that a short piece does not cancel; past u_c, 10000 per unit.
 *
 * Fill slippage needs avg - s with s = impact(V0), which cancels badly when
 * the fill is small, so the integral is taken of impact(u) - s directly:
 * linear pieces use (i(lo) - s) + (i(hi) - s), and on the continuation
 *   (2/3) d_n (X + sqrt(XY) + Y)/(sqrt X + sqrt Y) - s
 *     = d_n (sqrt X - sqrt Y)(2 sqrt X + sqrt Y) / (3 (sqrt X + sqrt Y))
 *       + (d_n sqrt Y - s),
 * where the last term is exactly 0 when the fill starts on that piece.
 *   slippage = 1e4 (avg - s) / (1e4 - s)   bid
 *            = 1e4 (avg - s) / (1e4 + s)   ask
 *
 * Converters (docs/model.md 1):
 *   levels:   d = |1 - price/mid| * 1e4 after sorting best first and
 *             merging equal prices (prices whose d rounds equal merge too),
 *             q = running sum;
 *   quotes:   d = 2 (Q_k A_k - I) / (Q_k - Q_last) - d_last, kept iff
 *             d > d_last (then I = Q_k A_k);
 *   x*y=k:    d_k = D (k/64)^2, Q = x (1/sqrt(1 - d/1e4) - 1) (bid),
 *             Q = x (1 - 1/sqrt(1 + d/1e4)) (ask), evaluated with
 *             expm1/log1p so that small d keeps full relative accuracy.
 *
 * Pure C11 + libm, no globals, reentrant.
 */
#include "model/curve_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BPS 1e4

void
lc_curve_init(struct lc_curve *c)
{
	c->n = 0;
	c->bps = NULL;
	c->qty = NULL;
}

void
lc_curve_release(struct lc_curve *c)
{
	if (c == NULL)
		return;
	free(c->bps);
	free(c->qty);
	lc_curve_init(c);
}

/* Allocate both arrays for n points (n > 0); *c must be empty. */
static enum lc_status
curve_alloc(struct lc_curve *c, size_t n)
{
	if (n > SIZE_MAX / sizeof(double))
		return LC_ELIMIT;
	c->bps = malloc(n * sizeof(double));
	c->qty = malloc(n * sizeof(double));
	if (c->bps == NULL || c->qty == NULL) {
		lc_curve_release(c);
		return LC_ENOMEM;
	}
	c->n = n;
	return LC_OK;
}

enum lc_status
lc_curve_copy(struct lc_curve *out, const struct lc_curve *in)
{
	enum lc_status st;

	lc_curve_release(out);
	if (in == NULL || in->n == 0)
		return LC_OK;
	st = curve_alloc(out, in->n);
	if (st != LC_OK)
		return st;
	memcpy(out->bps, in->bps, in->n * sizeof(double));
	memcpy(out->qty, in->qty, in->n * sizeof(double));
	return LC_OK;
}

/*
 * Index of the first invalid point of (bps, qty), or n when all are valid.
 * Empty input is reported as 0 == n by the caller.
 */
static size_t
first_bad_point(enum lc_side side, const double *bps, const double *qty,
    size_t n)
{
	size_t k;
	double dprev = 0.0, qprev = 0.0;

	for (k = 0; k < n; k++) {
		if (!isfinite(bps[k]) || !isfinite(qty[k]))
			return k;
		if (!(bps[k] > dprev))
			return k;
		if (side == LC_BID && !(bps[k] < BPS))
			return k;
		if (!(qty[k] >= qprev) || qty[k] > LC_MAX_VALUE)
			return k;
		dprev = bps[k];
		qprev = qty[k];
	}
	if (n > 0 && !(qty[n - 1] > 0.0))
		return n - 1;
	return n;
}

enum lc_status
lc_curve_from_points(struct lc_curve *out, enum lc_side side,
    const double *bps, const double *qty, size_t n, size_t *bad)
{
	enum lc_status st;
	size_t k;

	lc_curve_release(out);
	if (n == 0) {
		if (bad != NULL)
			*bad = 0;
		return LC_EINVAL;
	}
	k = first_bad_point(side, bps, qty, n);
	if (k < n) {
		if (bad != NULL)
			*bad = k;
		return LC_EINVAL;
	}
	st = curve_alloc(out, n);
	if (st != LC_OK)
		return st;
	memcpy(out->bps, bps, n * sizeof(double));
	memcpy(out->qty, qty, n * sizeof(double));
	return LC_OK;
}

/* qsort helper for levels: best first, ties by input index (stable). */
struct level {
	double price;
	double qty;
	size_t idx;
	int desc;
};

static int
level_cmp(const void *pa, const void *pb)
{
	const struct level *a = pa, *b = pb;

	if (a->price != b->price) {
		if (a->desc)
			return a->price > b->price ? -1 : 1;
		return a->price < b->price ? -1 : 1;
	}
	return a->idx < b->idx ? -1 : (a->idx > b->idx);
}

enum lc_status
lc_curve_from_levels(struct lc_curve *out, enum lc_side side,
    const double *price, const double *qty, size_t n, double mid,
    size_t *bad)
{
	struct level *lv = NULL;
	enum lc_status st;
	size_t i, m;
	double sum;

	lc_curve_release(out);
	if (bad != NULL)
		*bad = n;
	if (n == 0 || !isfinite(mid) || !(mid > 0.0))
		return LC_EINVAL;
	for (i = 0; i < n; i++) {
		if (!isfinite(price[i]) || !(price[i] > 0.0) ||
		    !isfinite(qty[i]) || !(qty[i] > 0.0) ||
		    (side == LC_BID ? !(price[i] < mid) : !(price[i] > mid))) {
			if (bad != NULL)
				*bad = i;
			return LC_EINVAL;
		}
	}
	if (n > SIZE_MAX / sizeof(*lv))
		return LC_ELIMIT;
	lv = malloc(n * sizeof(*lv));
	if (lv == NULL)
		return LC_ENOMEM;
	for (i = 0; i < n; i++) {
		lv[i].price = price[i];
		lv[i].qty = qty[i];
		lv[i].idx = i;
		lv[i].desc = side == LC_BID;
	}
	qsort(lv, n, sizeof(*lv), level_cmp);
	st = curve_alloc(out, n);
	if (st != LC_OK)
		goto out;
	/*
	 * Merge equal prices, and distinct prices whose d rounds to the same
	 * value, so that bps stays strictly increasing.  A d of 0 (a price a
	 * rounding step from mid) or a bid d of 10000 (price/mid underflow)
	 * is reported against the first level that produced it.
	 */
	m = 0;
	sum = 0.0;
	for (i = 0; i < n; i++) {
		double d = fabs(1.0 - lv[i].price / mid) * BPS;

		sum += lv[i].qty;
		if (!(d > 0.0) || (side == LC_BID && !(d < BPS))) {
			if (bad != NULL)
				*bad = lv[i].idx;
			st = LC_EINVAL;
			goto out;
		}
		if (m > 0 && !(d > out->bps[m - 1])) {
			out->qty[m - 1] = sum;
			continue;
		}
		out->bps[m] = d;
		out->qty[m] = sum;
		m++;
	}
	out->n = m;
	st = LC_OK;
out:
	if (st != LC_OK)
		lc_curve_release(out);
	free(lv);
	return st;
}

enum lc_status
lc_curve_from_quotes(struct lc_curve *out, enum lc_side side,
    const double *trade_qty, const double *avg_bps, size_t n,
    double *max_dev_bps, size_t *bad)
{
	enum lc_status st;
	size_t i, m;
	double integ, dlast, qlast, dev;

	lc_curve_release(out);
	if (max_dev_bps != NULL)
		*max_dev_bps = 0.0;
	if (bad != NULL)
		*bad = n;
	if (n == 0)
		return LC_EINVAL;
	qlast = 0.0;
	for (i = 0; i < n; i++) {
		if (!isfinite(trade_qty[i]) || !(trade_qty[i] > qlast) ||
		    trade_qty[i] > LC_MAX_VALUE || !isfinite(avg_bps[i]) ||
		    !(avg_bps[i] >= 0.0)) {
			if (bad != NULL)
				*bad = i;
			return LC_EINVAL;
		}
		qlast = trade_qty[i];
	}
	st = curve_alloc(out, n);
	if (st != LC_OK)
		return st;
	m = 0;
	integ = 0.0;
	dlast = 0.0;
	qlast = 0.0;
	for (i = 0; i < n; i++) {
		double area = trade_qty[i] * avg_bps[i];
		double d = 2.0 * (area - integ) / (trade_qty[i] - qlast) -
		    dlast;

		if (!(d > dlast))
			continue;
		if (!isfinite(d) || (side == LC_BID && !(d < BPS))) {
			if (bad != NULL)
				*bad = i;
			lc_curve_release(out);
			return LC_EINVAL;
		}
		out->bps[m] = d;
		out->qty[m] = trade_qty[i];
		m++;
		integ = area;
		dlast = d;
		qlast = trade_qty[i];
	}
	out->n = m;
	if (m == 0) {
		lc_curve_release(out);
		return LC_EINVAL;
	}
	/* Deviation over all quotes, kept or skipped, on the rebuilt curve. */
	dev = 0.0;
	for (i = 0; i < n; i++) {
		double avg = lc_impact_integral(out, side, 0.0, trade_qty[i],
		    1.0) / trade_qty[i];
		double e = fabs(avg - avg_bps[i]);

		if (e > dev)
			dev = e;
	}
	if (max_dev_bps != NULL)
		*max_dev_bps = dev;
	return LC_OK;
}

enum lc_status
lc_curve_from_constant_product(struct lc_curve *out, enum lc_side side,
    double base_reserve, double quote_reserve)
{
	enum lc_status st;
	size_t k;
	double dmax = side == LC_BID ? 9000.0 : 10000.0;

	lc_curve_release(out);
	if (!isfinite(base_reserve) || !(base_reserve > 0.0) ||
	    base_reserve > LC_MAX_VALUE || !isfinite(quote_reserve) ||
	    !(quote_reserve > 0.0) || quote_reserve > LC_MAX_VALUE)
		return LC_EINVAL;
	st = curve_alloc(out, LC_CP_POINTS);
	if (st != LC_OK)
		return st;
	for (k = 1; k <= LC_CP_POINTS; k++) {
		double r = (double)k / (double)LC_CP_POINTS;
		double d = dmax * r * r;
		double f = d / BPS;
		double q;

		if (side == LC_BID)
			q = base_reserve * expm1(-0.5 * log1p(-f));
		else
			q = -base_reserve * expm1(-0.5 * log1p(f));
		out->bps[k - 1] = d;
		out->qty[k - 1] = q;
	}
	return LC_OK;
}

static int
double_cmp(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return a < b ? -1 : (a > b);
}

/* D(d) of an unscaled curve with cursor k: first point with bps[k] >= d. */
static double
depth_at(const struct lc_curve *c, double d, size_t k)
{
	double d0, q0;

	if (k >= c->n)
		return c->qty[c->n - 1];
	if (d == c->bps[k])
		return c->qty[k];
	d0 = k > 0 ? c->bps[k - 1] : 0.0;
	q0 = k > 0 ? c->qty[k - 1] : 0.0;
	return q0 + (d - d0) / (c->bps[k] - d0) * (c->qty[k] - q0);
}

enum lc_status
lc_curve_aggregate(struct lc_curve *out, const struct lc_curve *venues,
    size_t nvenues)
{
	enum lc_status st;
	size_t total = 0, v, i, m, *cur = NULL;
	double *all = NULL;

	lc_curve_release(out);
	for (v = 0; v < nvenues; v++) {
		if (venues[v].n > SIZE_MAX / sizeof(double) - total)
			return LC_ELIMIT;
		total += venues[v].n;
	}
	if (total == 0)
		return LC_OK;
	all = malloc(total * sizeof(double));
	cur = calloc(nvenues, sizeof(size_t));
	if (all == NULL || cur == NULL) {
		st = LC_ENOMEM;
		goto out;
	}
	m = 0;
	for (v = 0; v < nvenues; v++) {
		if (venues[v].n > 0)
			memcpy(all + m, venues[v].bps,
			    venues[v].n * sizeof(double));
		m += venues[v].n;
	}
	qsort(all, total, sizeof(double), double_cmp);
	m = 0;
	for (i = 0; i < total; i++)
		if (m == 0 || all[i] > all[m - 1])
			all[m++] = all[i];
	st = curve_alloc(out, m);
	if (st != LC_OK)
		goto out;
	/* Breakpoints ascend, so each venue keeps a monotone cursor. */
	for (i = 0; i < m; i++) {
		double sum = 0.0;

		for (v = 0; v < nvenues; v++) {
			const struct lc_curve *c = &venues[v];

			if (c->n == 0)
				continue;
			while (cur[v] < c->n && c->bps[cur[v]] < all[i])
				cur[v]++;
			sum += depth_at(c, all[i], cur[v]);
		}
		out->bps[i] = all[i];
		out->qty[i] = sum;
	}
	st = LC_OK;
out:
	free(all);
	free(cur);
	return st;
}

/* First k < n with a[k] >= x (n when none), by binary search. */
static inline size_t
first_at_least(const double *a, size_t n, double x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (a[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

double
lc_curve_depth(const struct lc_curve *c, double d_bps, double scale)
{
	if (c == NULL || c->n == 0 || !(d_bps > 0.0))
		return 0.0;
	return depth_at(c, d_bps, first_at_least(c->bps, c->n, d_bps)) *
	    scale;
}

size_t
lc_curve_seek(const struct lc_curve *c, double u, size_t k)
{
	while (k < c->n && c->qty[k] < u)
		k++;
	return k;
}

/* First k with qty[k] >= u, by binary search. */
static size_t
curve_find(const struct lc_curve *c, double u)
{
	return first_at_least(c->qty, c->n, u);
}

/* Linear impact on segment k (k < n) at u in [q_{k-1}, q_k], q_{k-1}<q_k. */
static double
seg_impact(const struct lc_curve *c, size_t k, double u)
{
	double d0 = k > 0 ? c->bps[k - 1] : 0.0;
	double q0 = k > 0 ? c->qty[k - 1] : 0.0;

	if (u >= c->qty[k])
		return c->bps[k];
	if (u <= q0)
		return d0;
	return d0 + (u - q0) / (c->qty[k] - q0) * (c->bps[k] - d0);
}

/* Continuation d_n sqrt(u / q_n), capped on the bid side. */
static double
cont_impact(const struct lc_curve *c, enum lc_side side, double u)
{
	double dn = c->bps[c->n - 1], qn = c->qty[c->n - 1];
	double d = dn * sqrt(u / qn);

	if (side == LC_BID && d > LC_BID_CAP_BPS)
		d = LC_BID_CAP_BPS;
	return d;
}

double
lc_curve_impact_at(const struct lc_curve *c, enum lc_side side, double u,
    size_t k)
{
	if (k >= c->n)
		return cont_impact(c, side, u);
	return seg_impact(c, k, u);
}

double
lc_impact_bps(const struct lc_curve *c, enum lc_side side, double v,
    double scale)
{
	double u;

	if (c == NULL || c->n == 0 || !(v > 0.0))
		return 0.0;
	u = v / scale;
	if (!(u > 0.0))
		return 0.0;
	return lc_curve_impact_at(c, side, u, curve_find(c, u));
}

double
lc_price_factor(const struct lc_curve *c, enum lc_side side, double v,
    double scale)
{
	double d = lc_impact_bps(c, side, v, scale);

	return side == LC_BID ? 1.0 - d / BPS : 1.0 + d / BPS;
}

double
lc_price_factor_seek(const struct lc_curve *c, enum lc_side side, double v,
    double scale, size_t *cur)
{
	double u, d = 0.0;

	/* lc_impact_bps() with the cursor in place of the bisection */
	if (c != NULL && c->n > 0 && v > 0.0) {
		u = v / scale;
		if (u > 0.0) {
			*cur = lc_curve_seek(c, u, *cur);
			d = lc_curve_impact_at(c, side, u, *cur);
		}
	}
	return side == LC_BID ? 1.0 - d / BPS : 1.0 + d / BPS;
}

/*
 * Integral of impact(u) - s over [a, b], 0 <= a < b, unscaled, non-empty
 * curve; see the design note for the cancellation-free forms.
 */
static double
integral_excess(const struct lc_curve *c, enum lc_side side, double a,
    double b, double s)
{
	size_t n = c->n, k;
	double dn = c->bps[n - 1], qn = c->qty[n - 1];
	double sum = 0.0, lo, hi;

	for (k = curve_find(c, a); k < n && a < b; k++) {
		double q0 = k > 0 ? c->qty[k - 1] : 0.0;

		if (!(c->qty[k] > q0))
			continue;	/* flat segment: a jump of impact */
		lo = a > q0 ? a : q0;
		hi = b < c->qty[k] ? b : c->qty[k];
		if (hi > lo)
			sum += 0.5 * (hi - lo) * ((seg_impact(c, k, lo) - s) +
			    (seg_impact(c, k, hi) - s));
		a = hi;
	}
	if (!(b > qn))
		return sum;
	lo = a > qn ? a : qn;
	hi = b;
	if (side == LC_BID) {
		/* u_c: where the continuation reaches the cap. */
		double r = LC_BID_CAP_BPS / dn;
		double uc = qn * r * r;

		if (hi > uc) {
			double from = lo > uc ? lo : uc;

			sum += (hi - from) * (LC_BID_CAP_BPS - s);
			hi = from;
		}
	}
	if (hi > lo) {
		double sx = sqrt(hi / qn), sy = sqrt(lo / qn);
		double shape = dn * (sx - sy) * (2.0 * sx + sy) /
		    (3.0 * (sx + sy));

		sum += (hi - lo) * (shape + (dn * sy - s));
	}
	return sum;
}

double
lc_impact_integral(const struct lc_curve *c, enum lc_side side, double v0,
    double v1, double scale)
{
	double u0, u1;

	if (c == NULL || c->n == 0 || v0 == v1)
		return 0.0;
	if (v1 < v0)
		return -lc_impact_integral(c, side, v1, v0, scale);
	u0 = v0 > 0.0 ? v0 / scale : 0.0;
	u1 = v1 > 0.0 ? v1 / scale : 0.0;
	if (!(u1 > u0))
		return 0.0;
	return scale * integral_excess(c, side, u0, u1, 0.0);
}

double
lc_fill_slippage_bps(const struct lc_curve *c, enum lc_side side, double v0,
    double v1, double scale)
{
	double u0, u1, s, excess;

	if (c == NULL || c->n == 0 || !(v1 > v0))
		return 0.0;
	u0 = v0 > 0.0 ? v0 / scale : 0.0;
	u1 = v1 > 0.0 ? v1 / scale : 0.0;
	if (!(u1 > u0))
		return 0.0;
	s = u0 > 0.0 ? lc_curve_impact_at(c, side, u0, curve_find(c, u0)) :
	    0.0;
	if (side == LC_BID && s >= LC_BID_CAP_BPS)
		return BPS;
	excess = integral_excess(c, side, u0, u1, s) / (u1 - u0);
	if (side == LC_BID)
		return BPS * excess / (BPS - s);
	return BPS * excess / (BPS + s);
}

double
lc_curve_max_qty(const struct lc_curve *c, double scale)
{
	if (c == NULL || c->n == 0)
		return 0.0;
	return c->qty[c->n - 1] * scale;
}

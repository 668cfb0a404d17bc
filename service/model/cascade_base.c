/*
 * cascade_base.c - the cascade of an asset's stored levels built once per
 * market snapshot, and its merge with a request's few ladder steps
 * (docs/model.md 4.1).
 *
 * Design
 * ------
 * Base.  The non-stale stored levels of one direction in cascade order,
 * L_1..L_N with quantities x_j (the stale prefix at the snapshot's price
 * p0 is left out, as lc_score() does), are built once by
 * lc_cascade_build(): prefix sums B_k (B_0 = 0, B_k = B_{k-1} + x_k, the
 * order of lc_cascade_build, so the same bits), t_j = L_j / g(B_{j-1})
 * and m_k = min(t_1..t_k) down, max up.  Besides, per block of BLK
 * levels, the block's extreme of t_j (min down, max up), and
 *   I_k = max(impact(B_1), ..., impact(B_k)),   I_0 = -inf,
 * so that the least k with impact(B_k) >= threshold is a bisection on
 * I_k (I_k first reaches the threshold at exactly that k, even where the
 * computed impact wobbles by an ulp at a segment end).
 *
 * Merge.  A request adds r triggers (its ladder steps), sorted stably in
 * cascade order, request trigger i (0-based) after a_i base levels (the
 * levels at or before its price: stored levels first at equal prices).
 * In the merged order it sits at index p_i = a_i + i; the first k merged
 * triggers are the first rho(k) = #{i : p_i < k} request triggers and the
 * first k - rho(k) levels.  With X_i = x'_1 + ... + x'_i (request
 * quantities, in order):
 *   S_k = B_{k - rho(k)} + X_{rho(k)},
 *   request trigger i:  t'_i = l'_i / g(B_{a_i} + X_i),
 *   level j after request triggers 0..i-1 (a_{i-1} < j <= a_i):
 *                       t'_j = L_j / g(B_{j-1} + X_i),
 *   m_k = extreme of the t' of the first k merged triggers
 *       = ext(m^B_{min(k - rho, a_0)}, t'_i (i < rho),
 *             t'_j (a_0 < j <= k - rho)).
 * Up to the first request trigger (k <= a_0) everything is the base's:
 * the same bits as rebuilding.  After it the sums are formed in another
 * order than a rebuild's running sum (B_j + X instead of adding x one by
 * one): equal within a few ulps per addition, ~1e-14 relative.
 * In particular the first request trigger of a direction gets its S and
 * m bit for bit (S = B_{a_0}, m = ext(m^B_{a_0}, t'_0)).
 *
 * The t'_j of the levels after a_0 are the base's t_j with the volume X
 * added: g is non-increasing down (t'_j >= t_j) and non-decreasing up
 * (t'_j <= t_j), so a block whose base extreme does not beat the best so
 * far cannot beat it shifted either and is skipped; the blocks are
 * visited from the last one back (t falls along a fall, rises along a
 * rise: the best value is usually met first).  In the worst case (the
 * request's volume large next to the levels' own) this walks the levels
 * between a_0 and k, as a rebuild would.  The cascade trigger k* is a
 * bisection on I_k up to a_0, then per run of levels between two request
 * triggers a check at its end and a bisection inside (impact(B_j + X) is
 * monotone in j).
 *
 * The extremes up to each request trigger, M_i = m_{p_i + 1}, are kept in
 * the view as they are first needed (M_i from M_{i-1}), so m_k costs the
 * levels of one run (a_i, k - rho] beyond the M's already known.
 *
 * Costs: base O(N) time and 6N doubles; a view O(r log N); S_k, counts
 * O(log r + log N); m_k O(log r) plus the blocks of the runs not yet
 * visited; the trigger O(r log N) plus one m.
 *
 * Pure C11 + libm, no globals.  A base is immutable after the build and
 * may be read by any number of threads; a view is the caller's.
 */
#include "cascade/cascade.h"
#include "model/curve_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLK 64

static enum lc_side
base_side(const struct lc_cascade_base *b)
{
	return b->c.dir == LC_DOWN ? LC_BID : LC_ASK;
}

/* impact(v) on the base's curve, as lc_cascade_build evaluates it. */
static double
base_impact(const struct lc_cascade_base *b, double v)
{
	return lc_impact_bps(b->c.curve, base_side(b), v, b->c.scale);
}

/* t = l / g(v) (+inf when g <= 0), lc_cascade_build's formula. */
static double
base_t(const struct lc_cascade_base *b, double l, double v)
{
	double imp = base_impact(b, v);
	double g = b->c.dir == LC_DOWN ? 1.0 - imp / 1e4 : 1.0 + imp / 1e4;

	return g > 0.0 ? l / g : (double)INFINITY;
}

/* a strictly better than best: smaller down, larger up. */
static int
beats(enum lc_dir d, double a, double best)
{
	return d == LC_DOWN ? a < best : a > best;
}

/* x strictly before y in cascade order. */
static int
before(enum lc_dir d, double x, double y)
{
	return d == LC_DOWN ? x > y : x < y;
}

void
lc_cascade_base_free(struct lc_cascade_base *b)
{
	if (b == NULL)
		return;
	lc_cascade_release(&b->c);
	free(b->imax);
	free(b->blk);
	free(b);
}

struct lc_cascade_base *
lc_cascade_base_build(enum lc_dir dir, const struct lc_curve *curve,
    double scale, double p0, const double *price, const double *qty,
    size_t n, enum lc_status *st)
{
	struct lc_cascade_base *b;
	enum lc_status s = LC_ENOMEM;
	size_t skip, nn, j, bi, cur = 0;
	enum lc_side side = dir == LC_DOWN ? LC_BID : LC_ASK;
	int depth = curve != NULL && curve->n > 0;
	double prev = 0.0;

	b = calloc(1, sizeof(*b));
	if (b == NULL)
		goto fail;
	lc_cascade_init(&b->c);
	lc_curve_init(&b->curve);
	if (depth)
		b->curve = *curve;	/* the arrays stay the caller's */
	skip = lc_levels_stale(dir, price, n, p0);
	s = lc_cascade_build(&b->c, dir, depth ? &b->curve : NULL, scale,
	    n > skip ? price + skip : NULL, n > skip ? qty + skip : NULL,
	    n - skip);
	if (s != LC_OK)
		goto fail;
	s = LC_ENOMEM;
	b->src_price = price;
	b->src_n = n;
	b->skip = skip;
	b->p0 = p0;
	nn = b->c.n;
	b->nblk = (nn + BLK - 1) / BLK;
	b->imax = malloc((nn + 1) * sizeof(double));
	b->blk = malloc((b->nblk > 0 ? b->nblk : 1) * sizeof(double));
	if (b->imax == NULL || b->blk == NULL)
		goto fail;
	b->imax[0] = -(double)INFINITY;
	for (j = 1; j <= nn; j++) {
		/* impact(B_j): lc_cascade_trigger's cursor, same numbers */
		double v = b->c.cum[j], imp = 0.0, t;
		double g;

		if (depth && v > 0.0) {
			double u = v / scale;

			cur = lc_curve_seek(curve, u, cur);
			imp = lc_curve_impact_at(curve, side, u, cur);
		}
		b->imax[j] = imp > b->imax[j - 1] ? imp : b->imax[j - 1];
		/* t_j = L_j / g(B_{j-1}), prev = impact(B_{j-1}) */
		g = dir == LC_DOWN ? 1.0 - prev / 1e4 : 1.0 + prev / 1e4;
		t = g > 0.0 ? b->c.price[j - 1] / g : (double)INFINITY;
		bi = (j - 1) / BLK;
		if ((j - 1) % BLK == 0 || beats(dir, t, b->blk[bi]))
			b->blk[bi] = t;
		prev = imp;
	}
	if (st != NULL)
		*st = LC_OK;
	return b;
fail:
	lc_cascade_base_free(b);
	if (st != NULL)
		*st = s;
	return NULL;
}

int
lc_cascade_base_fits(const struct lc_cascade_base *b, enum lc_dir dir,
    const struct lc_curve *curve, double scale, const double *price,
    size_t n, double p)
{
	int depth = curve != NULL && curve->n > 0;

	if (b == NULL || b->c.dir != dir || b->src_price != price ||
	    b->src_n != n || depth != (b->curve.n > 0))
		return 0;
	/* the same curve arrays; the scale only matters with depth */
	if (depth && (b->curve.n != curve->n || b->curve.qty != curve->qty ||
	    b->curve.bps != curve->bps || !(b->c.scale == scale)))
		return 0;
	return lc_levels_stale(dir, price, n, p) == b->skip;
}

/* First index e in [lo, hi) of the base's levels that x comes before. */
static size_t
run_end(const struct lc_cascade_base *b, size_t lo, size_t hi, double x)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (before(b->c.dir, x, b->c.price[mid]))
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

void
lc_view_init(struct lc_cascade_view *v, const struct lc_cascade_base *b,
    const double *price, const double *qty, size_t r, size_t *at,
    double *xs, double *ms)
{
	size_t i, a = 0, nn = b->c.n;

	v->b = b;
	v->r = r;
	v->price = price;
	v->qty = qty;
	v->at = at;
	v->xs = xs;
	v->ms = ms;
	v->nm = 0;
	xs[0] = 0.0;
	for (i = 0; i < r; i++) {
		a = run_end(b, a, nn, price[i]);
		at[i] = a;
		xs[i + 1] = xs[i] + qty[i];
	}
	at[r] = nn;
}

size_t
lc_view_n(const struct lc_cascade_view *v)
{
	return v->b->c.n + v->r;
}

size_t
lc_view_index(const struct lc_cascade_view *v, size_t i)
{
	return v->at[i] + i;
}

/* rho(k): request triggers among the first k merged ones. */
static size_t
view_rho(const struct lc_cascade_view *v, size_t k)
{
	size_t lo = 0, hi = v->r;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v->at[mid] + mid < k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

double
lc_view_cum(const struct lc_cascade_view *v, size_t k)
{
	size_t r = view_rho(v, k);

	return v->b->c.cum[k - r] + v->xs[r];
}

/*
 * Extreme of best and t'_j = L_j / g(B_{j-1} + x) over levels j in
 * (lo, hi] (0-based [lo, hi)), skipping the blocks that cannot beat it.
 */
static double
levels_ext(const struct lc_cascade_base *b, size_t lo, size_t hi, double x,
    double best)
{
	enum lc_dir d = b->c.dir;
	size_t bi;

	if (lo >= hi)
		return best;
	for (bi = (hi - 1) / BLK + 1; bi-- > lo / BLK;) {
		size_t s = bi * BLK > lo ? bi * BLK : lo;
		size_t e = (bi + 1) * BLK < hi ? (bi + 1) * BLK : hi;
		size_t j;

		if (!beats(d, b->blk[bi], best))
			continue;
		for (j = e; j-- > s;) {
			double t = base_t(b, b->c.price[j], b->c.cum[j] + x);

			if (beats(d, t, best))
				best = t;
		}
	}
	return best;
}

/*
 * M_i = m_{p_i + 1}, the extreme up to request trigger i included:
 *   M_0 = ext(m^B_{a_0}, t'_0),
 *   M_i = ext(M_{i-1}, t'_j (a_{i-1} < j <= a_i, volume X_i), t'_i),
 * kept for i < nm and extended on demand (a request asks for few).
 */
static double
view_mstep(struct lc_cascade_view *v, size_t i)
{
	const struct lc_cascade_base *b = v->b;

	while (v->nm <= i) {
		size_t q = v->nm;
		double best, t;

		if (q == 0)
			best = b->c.m[v->at[0]];
		else
			best = levels_ext(b, v->at[q - 1], v->at[q], v->xs[q],
			    v->ms[q - 1]);
		t = base_t(b, v->price[q], b->c.cum[v->at[q]] + v->xs[q]);
		v->ms[q] = beats(b->c.dir, t, best) ? t : best;
		v->nm++;
	}
	return v->ms[i];
}

double
lc_view_m(struct lc_cascade_view *v, size_t k)
{
	size_t r = view_rho(v, k), j = k - r;

	if (r == 0)
		return v->b->c.m[j];
	/* then the levels a_{r-1} < j' <= j, after r request triggers */
	return levels_ext(v->b, v->at[r - 1], j, v->xs[r],
	    view_mstep(v, r - 1));
}

size_t
lc_view_count_to(const struct lc_cascade_view *v, double x)
{
	size_t i = 0;

	while (i < v->r && !before(v->b->c.dir, x, v->price[i]))
		i++;
	return run_end(v->b, 0, v->b->c.n, x) + i;
}

int
lc_view_trigger(struct lc_cascade_view *v, double threshold_bps,
    double *price, size_t *kstar)
{
	const struct lc_cascade_base *b = v->b;
	size_t i, lo, hi, k = 0;

	/* k <= a_0: the base's own prefix, bisection on I_k */
	if (v->at[0] >= 1 && b->imax[v->at[0]] >= threshold_bps) {
		lo = 1;
		hi = v->at[0];
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (b->imax[mid] >= threshold_bps)
				hi = mid;
			else
				lo = mid + 1;
		}
		k = lo;
	}
	/* run i: request trigger i and levels a_i < j <= a_{i+1} */
	for (i = 0; k == 0 && i < v->r; i++) {
		double x = v->xs[i + 1];

		if (!(base_impact(b, b->c.cum[v->at[i + 1]] + x) >=
		    threshold_bps))
			continue;
		lo = v->at[i];
		hi = v->at[i + 1];
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (base_impact(b, b->c.cum[mid] + x) >= threshold_bps)
				hi = mid;
			else
				lo = mid + 1;
		}
		k = lo + i + 1;
	}
	if (k == 0)
		return -1;
	if (price != NULL)
		*price = k <= v->at[0] ? b->c.m[k] : lc_view_m(v, k);
	if (kstar != NULL)
		*kstar = k;
	return 0;
}

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
 * first k - rho(k) levels.  A rebuild's running sum S_k adds them in that
 * order, and so does the view, from the nearest point it knows:
 *   k <= p_0 (rho = 0):  S_k = B_k, m_k = m^B_k        (the base, O(1));
 *   S_{p_0} = B_{a_0},   M_0 = m_{p_0 + 1} = ext(m^B_{a_0}, t'_0);
 *   S_{p_i} = S_{p_{i-1}} + x'_{i-1} + x_{a_{i-1}+1} + ... + x_{a_i},
 *   M_i = ext(M_{i-1}, t'_j (a_{i-1} < j <= a_i), t'_i),
 * with t' = l / g(S before the trigger), lc_cascade_build's expression
 * on the same sums: the same bits as a rebuild, everywhere.  S_{p_i} and
 * M_i are memoized in the view as queries reach them; S_k and m_k
 * between request triggers i-1 and i walk on from S_{p_{i-1}} + x'_{i-1}
 * and M_{i-1} over the levels a_{i-1} < j <= k - rho.
 *
 * A walk adds every level's quantity (one addition each) but evaluates
 * t'_j only where it can matter: S before level j in the merged order is
 * at least B_{j-1} (the same additions and more, rounding is monotone),
 * g is non-increasing down and non-decreasing up, so t'_j >= t_j down
 * and <= t_j up, and a block whose base extreme does not beat the best so
 * far is only summed.  The curve is read with a cursor (the sums grow).
 *
 * The one-loan request asks for S and m at its first step only (O(log n))
 * and for the market figures: the cascade trigger k* (below a_0 a
 * bisection on I_k; beyond, per run of levels between two request
 * triggers a check of its end and a bisection inside on B_j + X, X the
 * request volume before the run: where impact(S_k) lies within rounding
 * of the threshold this may name a neighbouring k; its m is then exact),
 * the quantity within 10% of P (S at the count of triggers within 10%:
 * a walk from the request trigger before it), and whether S_{n+r}
 * exceeds the curve's quantity: B_n + X_r decides it unless it lies
 * within twice the error bound of a running sum of n + r positive terms
 * (4 (n + r + 2) eps S) of the bound, when the exact sum is walked.
 *
 * Monte Carlo tables.  For a Monte Carlo request that adds no trigger
 * to this direction (coupled loans) the merged cascade is the base's
 * own, so the build also keeps what mc_build.c's ad_finish() would
 * compute from it, with its expressions on the same numbers (the same
 * bits): lm_k = ln(m_k / p0), gk_k = g(B_k) by a monotone curve cursor,
 * k = 0..N, and lc_log_buckets() over lm (N buckets between sg lm_1 and
 * sg lm_N, sg = +1 down, -1 up).  A request at a price other than p0
 * (same stale prefix) recomputes lm from the base's m_k.
 *
 * Costs: base O(N) time and 8.5N doubles; a view O(r log N); below the
 * first request trigger O(1); elsewhere the levels between the request
 * trigger before the point asked and it, each walked once per query
 * (additions; t' in the blocks that can matter).  Many positions in one
 * direction cost at most the levels they span, as a rebuild would.
 *
 * Pure C11 + libm, no globals.  A base is immutable after the build and
 * may be read by any number of threads; a view is the caller's.
 */
#include "cascade/cascade.h"
#include "model/curve_int.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLK 64
#define CHUNK 64	/* blocks per chunk of a walk */

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

enum lc_status
lc_log_buckets(const double *lm, size_t n, double sg, uint32_t **kb,
    size_t *nb, double *binv)
{
	size_t i, j = 1;
	double top, width;

	*kb = NULL;
	*nb = 0;
	if (n < 2 || n >= UINT32_MAX)
		return LC_OK;
	top = sg * lm[1];
	width = (top - sg * lm[n]) / (double)n;
	if (!(width > 0.0) || !isfinite(width) || !isfinite(top))
		return LC_OK;
	*kb = malloc((n + 1) * sizeof(**kb));
	if (*kb == NULL)
		return LC_ENOMEM;
	for (i = 0; i <= n; i++) {
		double e = i == n ? sg * lm[n] : top - (double)i * width;

		while (j < n && e <= sg * lm[j + 1])
			j++;
		(*kb)[i] = (uint32_t)j;
	}
	*nb = n;
	*binv = 1.0 / width;
	return LC_OK;
}

/*
 * The Monte Carlo tables of a request without triggers of its own at
 * p0: mc_build.c's ad_finish() expressions on the same numbers.
 */
static enum lc_status
mc_tables(struct lc_cascade_base *b, double p0)
{
	const struct lc_cascade *c = &b->c;
	size_t j, cur = 0;
	enum lc_side side = base_side(b);

	b->lm = malloc((c->n + 1) * sizeof(double));
	b->gk = malloc((c->n + 1) * sizeof(double));
	if (b->lm == NULL || b->gk == NULL)
		return LC_ENOMEM;
	for (j = 0; j <= c->n; j++) {
		b->lm[j] = log(c->m[j] / p0);
		b->gk[j] = lc_price_factor_seek(c->curve, side, c->cum[j],
		    c->scale, &cur);
	}
	return lc_log_buckets(b->lm, c->n, c->dir == LC_DOWN ? 1.0 : -1.0,
	    &b->lkb, &b->nlb, &b->lbinv);
}

void
lc_cascade_base_free(struct lc_cascade_base *b)
{
	if (b == NULL)
		return;
	lc_cascade_release(&b->c);
	free(b->imax);
	free(b->blk);
	free(b->lm);
	free(b->gk);
	free(b->lkb);
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
	s = mc_tables(b, p0);
	if (s != LC_OK)
		goto fail;
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
    double *ss, double *ms)
{
	size_t i, a = 0, nn = b->c.n;

	v->b = b;
	v->r = r;
	v->price = price;
	v->qty = qty;
	v->at = at;
	v->ss = ss;
	v->ms = ms;
	v->nm = 0;
	for (i = 0; i < r; i++) {
		a = run_end(b, a, nn, price[i]);
		at[i] = a;
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

/*
 * A walk along the merged order: the running sum s (added one trigger at
 * a time, as lc_cascade_build adds them), the extreme of the t' seen, the
 * next level j and a cursor on the curve (s only grows).
 */
struct walk {
	size_t j;
	double s;
	double best;
	size_t cur;
};

/* t = l / g(s) at the walk's sum, lc_cascade_build's very expression. */
static double
walk_t(const struct lc_cascade_base *b, struct walk *w, double l)
{
	double imp = 0.0, g;

	if (b->curve.n > 0 && w->s > 0.0) {
		double u = w->s / b->c.scale;

		w->cur = lc_curve_seek(&b->curve, u, w->cur);
		imp = lc_curve_impact_at(&b->curve, base_side(b), u, w->cur);
	}
	g = b->c.dir == LC_DOWN ? 1.0 - imp / 1e4 : 1.0 + imp / 1e4;
	return g > 0.0 ? l / g : (double)INFINITY;
}

/* Sums only: add the quantities of the levels [w->j, hi) to s. */
static void
walk_sums(const struct lc_cascade_base *b, struct walk *w, size_t hi)
{
	size_t j;

	for (j = w->j; j < hi; j++)
		w->s = w->s + b->c.qty[j];
	w->j = hi;
}

/*
 * Walk the levels [w->j, hi): add each one's quantity to s and take its
 * t' into best.  By chunks of CHUNK blocks: first the sums (the sum at
 * each block's start kept), then the blocks from the last one back, each
 * only when its base extreme can beat best (t' is at least t down, at
 * most t up), its t' from its starting sum on.  t falls along a fall and
 * rises along a rise: the last block usually holds the chunk's best.
 */
static void
walk_levels(const struct lc_cascade_base *b, struct walk *w, size_t hi)
{
	enum lc_dir d = b->c.dir;
	double s0[CHUNK];
	size_t bs[CHUNK + 1];

	while (w->j < hi) {
		size_t nb = 0, q, c0;

		while (w->j < hi && nb < CHUNK) {
			size_t e = (w->j / BLK + 1) * BLK;

			bs[nb] = w->j;
			s0[nb++] = w->s;
			walk_sums(b, w, e < hi ? e : hi);
		}
		bs[nb] = w->j;
		/* a cursor valid for every sum of the chunk */
		c0 = w->cur;
		if (b->curve.n > 0 && s0[0] > 0.0)
			c0 = lc_curve_seek(&b->curve, s0[0] / b->c.scale, c0);
		for (q = nb; q-- > 0;) {
			struct walk x;

			if (!beats(d, b->blk[bs[q] / BLK], w->best))
				continue;
			x.s = s0[q];
			x.cur = c0;
			for (x.j = bs[q]; x.j < bs[q + 1]; x.j++) {
				double t = walk_t(b, &x, b->c.price[x.j]);

				if (beats(d, t, w->best))
					w->best = t;
				x.s = x.s + b->c.qty[x.j];
			}
		}
		w->cur = c0;
	}
}

/*
 * Extend the memo to request trigger i: S_{p_i} (the sum before it) in
 * ss[i], M_i = m_{p_i + 1} in ms[i], each from the previous one by a walk
 * over the levels between the two triggers.
 */
static void
view_memo(struct lc_cascade_view *v, size_t i)
{
	const struct lc_cascade_base *b = v->b;

	while (v->nm <= i) {
		size_t q = v->nm;
		struct walk w;
		double t;

		w.cur = 0;
		if (q == 0) {
			w.j = v->at[0];
			w.s = b->c.cum[w.j];
			w.best = b->c.m[w.j];
		} else {
			w.j = v->at[q - 1];
			w.s = v->ss[q - 1] + v->qty[q - 1];
			w.best = v->ms[q - 1];
			walk_levels(b, &w, v->at[q]);
		}
		v->ss[q] = w.s;
		t = walk_t(b, &w, v->price[q]);
		v->ms[q] = beats(b->c.dir, t, w.best) ? t : w.best;
		v->nm++;
	}
}

/* The walk just after request trigger r - 1 (r >= 1). */
static struct walk
walk_after(struct lc_cascade_view *v, size_t r)
{
	struct walk w;

	view_memo(v, r - 1);
	w.j = v->at[r - 1];
	w.s = v->ss[r - 1] + v->qty[r - 1];
	w.best = v->ms[r - 1];
	w.cur = 0;
	return w;
}

/* mirror of lc_view_m() in cascade_base.c (sums, not levels): keep in step */
double
lc_view_cum(struct lc_cascade_view *v, size_t k)
{
	size_t r = view_rho(v, k);
	struct walk w;

	if (r < v->r && k == v->at[r] + r && (r > 0 || v->nm > 0)) {
		/* just before request trigger r: memoized (or to be) */
		view_memo(v, r);
		return v->ss[r];
	}
	if (r == 0)
		return v->b->c.cum[k];
	w = walk_after(v, r);
	walk_sums(v->b, &w, k - r);
	return w.s;
}

/* mirror of lc_view_cum() in cascade_base.c (levels, not sums): keep in step */
double
lc_view_m(struct lc_cascade_view *v, size_t k)
{
	size_t r = view_rho(v, k);
	struct walk w;

	if (r == 0)
		return v->b->c.m[k];
	w = walk_after(v, r);
	walk_levels(v->b, &w, k - r);
	return w.best;
}

/*
 * S_{n+r} > q, decided from B_n + X_r when that is clear of q by more
 * than twice the error bound of a running sum of n + r positive terms
 * (gamma_{n+r} S, with a margin), else by the exact sum.
 */
int
lc_view_total_above(struct lc_cascade_view *v, double q)
{
	const struct lc_cascade_base *b = v->b;
	size_t i, n = b->c.n + v->r;
	double x = 0.0, a, tol;

	for (i = 0; i < v->r; i++)
		x += v->qty[i];
	a = b->c.cum[b->c.n] + x;
	tol = 4.0 * ((double)n + 2.0) * DBL_EPSILON * a;
	if (a - q > tol)
		return 1;
	if (q - a > tol)
		return 0;
	return lc_view_cum(v, n) > q;
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
	double x = 0.0;

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
	/*
	 * Beyond: the run of levels after request trigger i (volume X_{i+1}
	 * added) whose end reaches the threshold, then a bisection in it,
	 * both on B_j + X_{i+1} (the sums in another order: the same k but
	 * where impact(S_k) is within rounding of the threshold).
	 */
	for (i = 0; k == 0 && i < v->r; i++) {
		x += v->qty[i];
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
		*price = lc_view_m(v, k);
	if (kstar != NULL)
		*kstar = k;
	return 0;
}

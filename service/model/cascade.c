/*
 * cascade.c - the exact sequential liquidation cascade of one asset and
 * direction (docs/model.md 4.1).
 *
 * Design
 * ------
 * Triggers (l_j, x_j), j = 1..n, in cascade order (down: l descending, up:
 * ascending), prefix sums S_0 = 0, S_k = x_1 + ... + x_k, and the price
 * factor of the direction's curve
 *   g(V) = 1 - impact_bid(V)/1e4   (down),   1 + impact_ask(V)/1e4   (up).
 * Starting from the shocked price p, after k triggers the price is
 * p g(S_k), and trigger j fires iff the earlier ones did and
 * l_j >= p g(S_{j-1}) (down), i.e. p <= t_j = l_j / g(S_{j-1}).  Hence
 *   down: m_0 = +inf, m_k = min(t_1..t_k), k(p) = max{k : p <= m_k},
 *   up:   m_0 = 0,    m_k = max(t_1..t_k), k(p) = max{k : p >= m_k},
 *   F(p) = p g(S_{k(p)}),
 * the least fixed point of the round-by-round process (every trigger at or
 * beyond the current price fires, the price is recomputed from the fired
 * volume, repeat).  g == 0 (bid exhausted to price zero) gives t = +inf:
 * the trigger fires whatever the shock.
 *
 * m is monotone in k, so k(p) is a binary search.  Building is O(n) after
 * ordering: S_k only grows, so impact is evaluated with a monotone cursor
 * over the curve's points instead of a search per trigger.
 *
 * Pure C11 + libm, no globals, reentrant; the curve is borrowed.
 */
#include "cascade/cascade.h"
#include "model/curve_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
lc_cascade_init(struct lc_cascade *c)
{
	memset(c, 0, sizeof(*c));
	c->dir = LC_DOWN;
	c->curve = NULL;
	c->scale = 1.0;
	c->price = NULL;
	c->qty = NULL;
	c->cum = NULL;
	c->cum_quote = NULL;
	c->m = NULL;
}

void
lc_cascade_release(struct lc_cascade *c)
{
	if (c == NULL)
		return;
	free(c->price);
	free(c->qty);
	free(c->cum);
	free(c->cum_quote);
	free(c->m);
	lc_cascade_init(c);
}

/* Make room for n triggers, reusing the arrays when they are big enough. */
static enum lc_status
cascade_reserve(struct lc_cascade *c, size_t n)
{
	size_t cap;

	if (c->cum != NULL && n <= c->cap)
		return LC_OK;
	if (n >= SIZE_MAX / sizeof(double) - 1)
		return LC_ELIMIT;
	free(c->price);
	free(c->qty);
	free(c->cum);
	free(c->cum_quote);
	free(c->m);
	cap = n > 0 ? n : 1;
	c->price = malloc(cap * sizeof(double));
	c->qty = malloc(cap * sizeof(double));
	c->cum = malloc((cap + 1) * sizeof(double));
	c->cum_quote = malloc((cap + 1) * sizeof(double));
	c->m = malloc((cap + 1) * sizeof(double));
	if (c->price == NULL || c->qty == NULL || c->cum == NULL ||
	    c->cum_quote == NULL || c->m == NULL) {
		lc_cascade_release(c);
		return LC_ENOMEM;
	}
	c->cap = cap;
	return LC_OK;
}

static enum lc_side
dir_side(enum lc_dir dir)
{
	return dir == LC_DOWN ? LC_BID : LC_ASK;
}

static int
has_depth(const struct lc_cascade *c)
{
	return c->curve != NULL && c->curve->n > 0;
}

enum lc_status
lc_cascade_build(struct lc_cascade *c, enum lc_dir dir,
    const struct lc_curve *curve, double scale, const double *price,
    const double *qty, size_t n)
{
	enum lc_status st;
	enum lc_side side = dir_side(dir);
	size_t j, cur = 0;

	if (dir != LC_DOWN && dir != LC_UP)
		return LC_EINVAL;
	if (curve != NULL && curve->n > 0 &&
	    (!isfinite(scale) || !(scale > 0.0)))
		return LC_EINVAL;
	for (j = 0; j < n; j++) {
		if (!isfinite(price[j]) || !(price[j] > 0.0) ||
		    !isfinite(qty[j]) || !(qty[j] >= 0.0))
			return LC_EINVAL;
		if (j > 0 && (dir == LC_DOWN ? price[j] > price[j - 1] :
		    price[j] < price[j - 1]))
			return LC_EINVAL;
	}
	st = cascade_reserve(c, n);
	if (st != LC_OK)
		return st;
	c->dir = dir;
	c->curve = curve;
	c->scale = scale;
	c->n = n;
	if (n > 0) {
		memcpy(c->price, price, n * sizeof(double));
		memcpy(c->qty, qty, n * sizeof(double));
	}
	c->cum[0] = 0.0;
	c->cum_quote[0] = 0.0;
	c->m[0] = dir == LC_DOWN ? (double)INFINITY : 0.0;
	for (j = 1; j <= n; j++) {
		double v = c->cum[j - 1], imp = 0.0, g, t;

		if (has_depth(c) && v > 0.0) {
			double u = v / scale;

			cur = lc_curve_seek(curve, u, cur);
			imp = lc_curve_impact_at(curve, side, u, cur);
		}
		g = dir == LC_DOWN ? 1.0 - imp / 1e4 : 1.0 + imp / 1e4;
		t = g > 0.0 ? price[j - 1] / g : (double)INFINITY;
		if (dir == LC_DOWN)
			c->m[j] = t < c->m[j - 1] ? t : c->m[j - 1];
		else
			c->m[j] = t > c->m[j - 1] ? t : c->m[j - 1];
		c->cum[j] = v + qty[j - 1];
		c->cum_quote[j] = c->cum_quote[j - 1] +
		    qty[j - 1] * price[j - 1];
	}
	return LC_OK;
}

/* Does trigger `a` come strictly before trigger `b` in cascade order? */
struct trig {
	double price;
	double qty;
	uint64_t tag;
};

static int
trig_before(enum lc_dir dir, const struct trig *a, const struct trig *b)
{
	return dir == LC_DOWN ? a->price > b->price : a->price < b->price;
}

/* Bottom-up stable merge sort of a[0..n) using scratch b. */
static void
trig_msort(enum lc_dir dir, struct trig *a, struct trig *b, size_t n)
{
	struct trig *src = a, *dst = b, *tmp;
	size_t w;

	for (w = 1; w < n; w *= 2) {
		size_t lo;

		for (lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n;
			size_t hi = mid + w < n ? mid + w : n;
			size_t i = lo, j = mid, k = lo;

			/* Right wins only when strictly before: stable. */
			while (i < mid && j < hi) {
				if (trig_before(dir, &src[j], &src[i]))
					dst[k++] = src[j++];
				else
					dst[k++] = src[i++];
			}
			while (i < mid)
				dst[k++] = src[i++];
			while (j < hi)
				dst[k++] = src[j++];
		}
		tmp = src;
		src = dst;
		dst = tmp;
		if (w > SIZE_MAX / 2)
			break;
	}
	if (src != a)
		memcpy(a, src, n * sizeof(*a));
}

enum lc_status
lc_trigger_sort(enum lc_dir dir, double *price, double *qty, uint64_t *tag,
    size_t n)
{
	struct trig *a, *b;
	size_t i;

	if (n < 2)
		return LC_OK;
	if (n > SIZE_MAX / (2 * sizeof(*a)))
		return LC_ELIMIT;
	a = malloc(n * sizeof(*a));
	b = malloc(n * sizeof(*b));
	if (a == NULL || b == NULL) {
		free(a);
		free(b);
		return LC_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		a[i].price = price[i];
		a[i].qty = qty[i];
		a[i].tag = tag != NULL ? tag[i] : 0;
	}
	trig_msort(dir, a, b, n);
	for (i = 0; i < n; i++) {
		price[i] = a[i].price;
		qty[i] = a[i].qty;
		if (tag != NULL)
			tag[i] = a[i].tag;
	}
	free(a);
	free(b);
	return LC_OK;
}

size_t
lc_cascade_fired(const struct lc_cascade *c, double p)
{
	size_t lo = 0, hi = c->n;

	/* Largest k with p <= m_k (down) or p >= m_k (up); m is monotone. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo + 1) / 2;
		int ok = c->dir == LC_DOWN ? p <= c->m[mid] : p >= c->m[mid];

		if (ok)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* impact(S_k) in bps of the cascade's curve (0 without depth). */
static double
cascade_impact(const struct lc_cascade *c, size_t k)
{
	if (k > c->n)
		k = c->n;
	if (!has_depth(c) || c->cum == NULL)
		return 0.0;
	return lc_impact_bps(c->curve, dir_side(c->dir), c->cum[k], c->scale);
}

static double
factor_of(enum lc_dir dir, double imp)
{
	return dir == LC_DOWN ? 1.0 - imp / 1e4 : 1.0 + imp / 1e4;
}

double
lc_cascade_factor(const struct lc_cascade *c, size_t k)
{
	return factor_of(c->dir, cascade_impact(c, k));
}

double
lc_cascade_final_price(const struct lc_cascade *c, double p)
{
	return p * lc_cascade_factor(c, lc_cascade_fired(c, p));
}

int
lc_cascade_trigger(const struct lc_cascade *c, double threshold_bps,
    double *price, size_t *kstar)
{
	enum lc_side side = dir_side(c->dir);
	size_t k, cur = 0;

	/*
	 * A linear scan with a cursor: impact(S_k) is monotone in exact
	 * arithmetic, but a bisection could trust a one-ulp wobble at a
	 * segment end; the scan is O(n) like the build.
	 */
	for (k = 1; k <= c->n; k++) {
		double u = has_depth(c) ? c->cum[k] / c->scale : 0.0;
		double imp = 0.0;

		if (u > 0.0) {
			cur = lc_curve_seek(c->curve, u, cur);
			imp = lc_curve_impact_at(c->curve, side, u, cur);
		}
		if (imp >= threshold_bps) {
			if (price != NULL)
				*price = c->m[k];
			if (kstar != NULL)
				*kstar = k;
			return 0;
		}
	}
	return -1;
}

void
lc_cascade_point(const struct lc_cascade *c, double p0, double shock,
    struct lc_cascade_point *out)
{
	double p = p0 * (1.0 + shock), imp;
	size_t k = lc_cascade_fired(c, p);

	imp = cascade_impact(c, k);
	out->shock = shock;
	out->shocked_price = p;
	out->final_price = p * factor_of(c->dir, imp);
	/* 1e4 (1 - g) down, 1e4 (g - 1) up: both are impact(S_k) itself. */
	out->endogenous_bps = imp;
	out->fired = k;
	out->volume = c->cum != NULL ? c->cum[k] : 0.0;
	out->volume_quote = c->cum_quote != NULL ? c->cum_quote[k] : 0.0;
}

int
lc_level_is_stale(enum lc_dir dir, double level, double p)
{
	return dir == LC_DOWN ? level >= p : level <= p;
}

/* Binary search for the first level that is not stale. */
size_t
lc_levels_stale(enum lc_dir dir, const double *price, size_t n, double p)
{
	size_t lo = 0, hi = n, mid;

	if (price == NULL)
		return 0;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (lc_level_is_stale(dir, price[mid], p))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

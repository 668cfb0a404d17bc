/*
 * cascade.h - the exact sequential cascade of one asset and direction
 * (docs/model.md section 4.1).
 *
 * Triggers (price l_j, quantity x_j) are given already in cascade order:
 * down: price descending, up: ascending, ties in the contract's (docs/model.md) order (stored
 * levels first in price then insertion order, then request positions in
 * request order, each position's steps in ladder order).  lc_trigger_sort()
 * does that ordering with a stable sort for callers that need it.
 *
 * With g the direction's price factor and S_k the prefix sums:
 *   t_j = l_j / g(S_{j-1})  (+inf when g == 0),
 *   down: m_0 = +inf, m_k = min(t_1..t_k), k(p) = max{k : p <= m_k}
 *   up:   m_0 = 0,    m_k = max(t_1..t_k), k(p) = max{k : p >= m_k}
 *   F(p) = p * g(S_{k(p)}).
 *
 * Ownership: struct lc_cascade owns its arrays; lc_cascade_init() /
 * lc_cascade_release().  A rebuild reuses the arrays when large enough
 * (no allocation in steady state).  The curve is borrowed and must outlive
 * the cascade.
 */
#ifndef CASCADE_CASCADE_H
#define CASCADE_CASCADE_H

#include "cascade/common.h"
#include "cascade/curve.h"

struct lc_cascade {
	enum lc_dir dir;
	const struct lc_curve *curve;	/* borrowed; NULL or empty: no depth */
	double scale;			/* depth_scale */
	size_t n;
	size_t cap;
	double *price;		/* l_j, j = 1..n stored at [j-1] */
	double *qty;		/* x_j */
	double *cum;		/* S_k, k = 0..n (n+1 entries) */
	double *cum_quote;	/* sum_{i<=k} x_i l_i, k = 0..n */
	double *m;		/* m_k, k = 0..n */
};

void lc_cascade_init(struct lc_cascade *c);
void lc_cascade_release(struct lc_cascade *c);

/* Build from n triggers already in cascade order (see above). */
enum lc_status lc_cascade_build(struct lc_cascade *c, enum lc_dir dir,
    const struct lc_curve *curve, double scale, const double *price,
    const double *qty, size_t n);

/*
 * Stable sort of triggers into cascade order for `dir`, permuting price,
 * qty and (if not NULL) tag together (ties keep their input order).
 * May allocate scratch: LC_ENOMEM on failure.
 */
enum lc_status lc_trigger_sort(enum lc_dir dir, double *price, double *qty,
    uint64_t *tag, size_t n);

/* k(p): number of triggers fired by a cascade started at shocked price p. */
size_t lc_cascade_fired(const struct lc_cascade *c, double p);

/* g(S_k) of the cascade's curve (price factor after k triggers). */
double lc_cascade_factor(const struct lc_cascade *c, size_t k);

/* F(p) = p * g(S_{k(p)}). */
double lc_cascade_final_price(const struct lc_cascade *c, double p);

/*
 * Cascade trigger price (docs/model.md 4.1): m_{k*}, k* the smallest k >= 1 with
 * impact(S_k) >= threshold_bps.  Returns 0 and sets *kstar when it exists,
 * -1 when there is none.
 */
int lc_cascade_trigger(const struct lc_cascade *c, double threshold_bps,
    double *price, size_t *kstar);

/*
 * Stale levels.  A stored liquidation level of direction `dir` (LC_DOWN: a
 * sell level, LC_UP: a buy level) has already fired at the price p when
 * it lies at or beyond it: sell level >= p, buy level <= p.  A stale level
 * is kept in the data but takes no part in a cascade started at p.
 */
int lc_level_is_stale(enum lc_dir dir, double level, double p);

/*
 * The number of stale levels at p among n level prices in cascade order
 * for `dir` (down: descending, up: ascending), where the stale ones are a
 * prefix: O(log n).  price may be NULL when n == 0.
 */
size_t lc_levels_stale(enum lc_dir dir, const double *price, size_t n,
    double p);

/* One point of the cascade curve (docs/model.md 7). */
struct lc_cascade_point {
	double shock;
	double shocked_price;
	double final_price;
	double endogenous_bps;
	size_t fired;
	double volume;
	double volume_quote;
};

/* Evaluate the cascade at shocked price p0 * (1 + shock). */
void lc_cascade_point(const struct lc_cascade *c, double p0, double shock,
    struct lc_cascade_point *out);

/* ---- prebuilt cascade of the stored levels (cascade_base.c) ---------- */

/*
 * The cascade of one asset's stored levels of one direction, built once
 * (per market snapshot) and shared read-only by any number of threads;
 * lc_view_*() answer what a request's cascade (these levels merged with
 * the request's few ladder steps, docs/model.md 4.1 order) needs without walking
 * the levels again.  See cascade_base.c for the equations.
 *
 * Ownership: lc_cascade_base_build() returns a base the caller owns and
 * frees with lc_cascade_base_free(); it copies the levels and the curve's
 * struct, borrows the curve's arrays (which must outlive it), and
 * remembers the identity (pointers, n) of the level and curve arrays it
 * was built from, so that a user can check that the base still describes
 * the levels and curve it holds (lc_cascade_base_fits), wherever the
 * struct lc_curve itself lives.
 */
struct lc_cascade_base {
	const double *src_price;	/* identity of the source levels */
	size_t src_n;
	struct lc_curve curve;	/* shallow copy: c.curve points here */
	size_t skip;		/* stale levels at p0 left out */
	double p0;		/* the price they are stale against */
	struct lc_cascade c;	/* levels [skip, src_n): l, x, B_k, m_k */
	double *imax;		/* max(impact(B_1..B_k)), k = 0..n */
	size_t nblk;
	double *blk;		/* per block of t_j: min (down) / max (up) */
	/*
	 * The Monte Carlo walk's tables of this cascade (mc_build.c), for a
	 * request that adds no trigger to it at the price p0: ln(m_k / p0)
	 * and g(B_k), k = 0..n, and the bucket index of lc_log_buckets()
	 * over lm (nlb buckets, NULL when none).
	 */
	double *lm;
	double *gk;
	uint32_t *lkb;
	size_t nlb;
	double lbinv;
};

/*
 * Build the base of the n levels (price, qty in cascade order for dir),
 * leaving out the stale prefix at p0, on `curve` (NULL or empty: no depth)
 * at depth_scale `scale`.  NULL on bad input or no memory (*st says).
 */
struct lc_cascade_base *lc_cascade_base_build(enum lc_dir dir,
    const struct lc_curve *curve, double scale, double p0,
    const double *price, const double *qty, size_t n, enum lc_status *st);
void lc_cascade_base_free(struct lc_cascade_base *b);

/*
 * Bucket index of thresholds lm[1..n] of a cascade, sg = +1 down, -1 up
 * (sg lm non-increasing): nb = n equal buckets between sg lm[1] and
 * sg lm[n], kb[i] (i = 0..nb) the number of thresholds j >= 1 with
 * sg lm[j] >= the bucket's upper edge sg lm[1] - i / binv (at least 1),
 * so that a search for the count of thresholds above a point starts from
 * its bucket.  *kb is allocated (the caller frees it); *nb = 0 and *kb
 * NULL when n < 2 or the span is empty or not finite.  LC_ENOMEM.
 */
enum lc_status lc_log_buckets(const double *lm, size_t n, double sg,
    uint32_t **kb, size_t *nb, double *binv);

/*
 * Does `b` give the cascade of these levels (the same arrays), at the
 * price p (same stale prefix), curve (the same arrays, or both without
 * depth) and scale?  NULL b: no.
 */
int lc_cascade_base_fits(const struct lc_cascade_base *b, enum lc_dir dir,
    const struct lc_curve *curve, double scale, const double *price,
    size_t n, double p);

/*
 * A base merged with r request triggers (price, qty in cascade order for
 * the base's direction; ties among them kept in their order and after the
 * base's levels).  The caller provides the arrays: at and xs of r + 1
 * entries, ss and ms of r; price/qty are borrowed.  Nothing is copied
 * from the base.  The queries extend the view's memo of S and m at its
 * request triggers: a view is used by one thread at a time.
 */
struct lc_cascade_view {
	const struct lc_cascade_base *b;
	size_t r;
	const double *price;	/* request triggers, cascade order */
	const double *qty;
	size_t *at;		/* a_i: base levels before trigger i */
	double *ss;		/* S just before request trigger i, i < nm */
	double *ms;		/* m just after request trigger i, i < nm */
	size_t nm;
};

/* O(r log n).  at: r + 1 entries, ss, ms: r entries (r may be 0). */
void lc_view_init(struct lc_cascade_view *v, const struct lc_cascade_base *b,
    const double *price, const double *qty, size_t r, size_t *at,
    double *ss, double *ms);
/* Number of triggers n + r. */
size_t lc_view_n(const struct lc_cascade_view *v);
/* Index in the merged order of request trigger i (a_i + i). */
size_t lc_view_index(const struct lc_cascade_view *v, size_t i);
/* S_k of the merged cascade, k = 0..n + r. */
double lc_view_cum(struct lc_cascade_view *v, size_t k);
/* S_{n+r} > q (mostly without the sum itself). */
int lc_view_total_above(struct lc_cascade_view *v, double q);
/* m_k of the merged cascade, k = 0..n + r. */
double lc_view_m(struct lc_cascade_view *v, size_t k);
/* Number of merged triggers at or before price x in cascade order. */
size_t lc_view_count_to(const struct lc_cascade_view *v, double x);
/* lc_cascade_trigger() of the merged cascade. */
int lc_view_trigger(struct lc_cascade_view *v, double threshold_bps,
    double *price, size_t *kstar);

#endif

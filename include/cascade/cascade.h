/*
 * cascade.h - the exact sequential cascade of one asset and direction
 * (SPEC section 4.1).
 *
 * Triggers (price l_j, quantity x_j) are given already in cascade order:
 * down: price descending, up: ascending, ties in the SPEC's order (stored
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
 * Cascade trigger price (SPEC 4.1): m_{k*}, k* the smallest k >= 1 with
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

/* One point of the cascade curve (SPEC 7). */
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

#endif

/*
 * curve.h - depth curves and price impact (docs/model.md sections 1 and 2).
 *
 * A curve holds n points (bps[k], qty[k]), k = 0..n-1, after the implicit
 * (0, 0): bps strictly increasing (bid: 0 < bps < 10000; ask: bps > 0),
 * qty non-decreasing, qty[n-1] > 0, all finite.  n == 0 means "no curve":
 * impact is 0 everywhere (infinitely deep) and depth is 0.
 *
 * Ownership: a struct lc_curve owns its two arrays; lc_curve_init() makes
 * an empty curve, lc_curve_release() frees the arrays (safe on an empty or
 * half-built curve) and leaves it empty.  Constructors release *out first.
 *
 * depth_scale: every function taking `scale` multiplies every qty by it
 * (0 < scale).  Equivalently impact_scaled(V) = impact(V / scale).
 */
#ifndef CASCADE_CURVE_H
#define CASCADE_CURVE_H

#include "cascade/common.h"

#define LC_BID_CAP_BPS 10000.0
/* Points of the constant-product grid (docs/model.md 1). */
#define LC_CP_POINTS 64

struct lc_curve {
	size_t n;
	double *bps;	/* n entries */
	double *qty;	/* n entries, cumulative base quantity */
};

void lc_curve_init(struct lc_curve *c);
void lc_curve_release(struct lc_curve *c);
/* Deep copy. */
enum lc_status lc_curve_copy(struct lc_curve *out, const struct lc_curve *in);

/*
 * Validated curve from points [[bps, qty], ...].  On LC_EINVAL *bad is the
 * index of the first offending point (n when the list is empty).
 */
enum lc_status lc_curve_from_points(struct lc_curve *out, enum lc_side side,
    const double *bps, const double *qty, size_t n, size_t *bad);

/*
 * From an order-book side: levels (price, qty) in any order, sorted best
 * first, equal prices merged, d = |1 - price/mid| * 1e4, q = running sum.
 * A level at or beyond mid (d <= 0 or wrong side), a non-positive or
 * non-finite price or qty is LC_EINVAL with *bad its input index.
 */
enum lc_status lc_curve_from_levels(struct lc_curve *out, enum lc_side side,
    const double *price, const double *qty, size_t n, double mid,
    size_t *bad);

/*
 * From an average-slippage table (docs/model.md 1 `quotes`): trade_qty > 0 strictly
 * ascending, avg_bps >= 0.  Quotes whose rebuilt point does not increase are
 * skipped.  *max_dev_bps receives the largest |quoted - rebuilt| average
 * slippage over all quotes.  A kept bid point at >= 10000 bps, or no kept
 * point, is LC_EINVAL (*bad = that quote's index, or n).
 */
enum lc_status lc_curve_from_quotes(struct lc_curve *out, enum lc_side side,
    const double *trade_qty, const double *avg_bps, size_t n,
    double *max_dev_bps, size_t *bad);

/* Exact x*y=k pool curve on the 64-point grid of docs/model.md 1. */
enum lc_status lc_curve_from_constant_product(struct lc_curve *out,
    enum lc_side side, double base_reserve, double quote_reserve);

/*
 * Sum of several venues' curves: D(d) = sum_v D_v(d), each D_v linear
 * between its points and constant beyond its last.  Empty venues are
 * skipped; all empty gives an empty curve.
 */
enum lc_status lc_curve_aggregate(struct lc_curve *out,
    const struct lc_curve *venues, size_t nvenues);

/* D(d_bps) * scale: cumulative quantity before the price has moved d bps. */
double lc_curve_depth(const struct lc_curve *c, double d_bps, double scale);

/* impact(V) in bps: generalized inverse, sqrt continuation, bid cap. */
double lc_impact_bps(const struct lc_curve *c, enum lc_side side, double v,
    double scale);

/* Price factor g(V): 1 - impact/1e4 (bid) or 1 + impact/1e4 (ask). */
double lc_price_factor(const struct lc_curve *c, enum lc_side side, double v,
    double scale);

/* Integral of impact(v) dv over [v0, v1], closed form piece by piece. */
double lc_impact_integral(const struct lc_curve *c, enum lc_side side,
    double v0, double v1, double scale);

/*
 * Slippage in bps of a fill of volume v0..v1 relative to the price at which
 * it starts (docs/model.md 2).  0 when v1 <= v0.  10000 for a bid fill starting at
 * the cap.
 */
double lc_fill_slippage_bps(const struct lc_curve *c, enum lc_side side,
    double v0, double v1, double scale);

/* Total quantity of the curve's last point times scale (0 when empty). */
double lc_curve_max_qty(const struct lc_curve *c, double scale);

#endif

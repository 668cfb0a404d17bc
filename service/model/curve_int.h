/*
 * curve_int.h - internals shared by curve.c and cascade.c (not public).
 *
 * impact(u) on an unscaled curve is computed from the index k of the first
 * point with qty[k] >= u (k == n: beyond the last point).  lc_impact_bps()
 * finds k by binary search; the cascade builder, which evaluates impact at
 * increasing volumes only, keeps k as a monotone cursor instead.  Both go
 * through lc_curve_impact_at() so they produce identical numbers.
 */
#ifndef CASCADE_CURVE_INT_H
#define CASCADE_CURVE_INT_H

#include "cascade/curve.h"

/* Advance cursor k (start at 0) to the first point with qty >= u. */
size_t lc_curve_seek(const struct lc_curve *c, double u, size_t k);

/* impact(u) in bps for u > 0, k = lc_curve_seek(c, u, any k' <= k). */
double lc_curve_impact_at(const struct lc_curve *c, enum lc_side side,
    double u, size_t k);

/*
 * lc_price_factor() (the same numbers) for volumes v that only grow from
 * call to call: *cur is the curve cursor, 0 before the first call.
 */
double lc_price_factor_seek(const struct lc_curve *c, enum lc_side side,
    double v, double scale, size_t *cur);

#endif

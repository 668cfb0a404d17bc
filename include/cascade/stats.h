/*
 * stats.h - distributions and barrier probabilities (docs/model.md section 5).
 *
 * Log return over the horizon: r = sigma_h * z, z a Student-t with nu
 * degrees of freedom scaled to unit variance (z = t sqrt((nu-2)/nu)), or a
 * standard normal when nu == 0.  Tails are computed directly (regularized
 * incomplete beta by continued fraction) to 1e-10 relative accuracy.
 */
#ifndef CASCADE_STATS_H
#define CASCADE_STATS_H

#include "cascade/common.h"

double lc_norm_cdf(double x);
double lc_norm_sf(double x);
/* Student-t with nu > 0 degrees of freedom (real), not standardized. */
double lc_t_cdf(double t, double nu);
double lc_t_sf(double t, double nu);
/* Regularized incomplete beta I_x(a, b). */
double lc_betainc(double a, double b, double x);

/* F_r(x) and S_r(x) of the log return (nu == 0: normal). */
double lc_logret_cdf(double x, double sigma_h, double nu);
double lc_logret_sf(double x, double sigma_h, double nu);

/* sigma_h = sigma * sqrt(horizon_days / 365). */
double lc_sigma_h(double sigma_annual, double horizon_days);

/*
 * Probability that the running minimum (LC_DOWN) of the price within the
 * horizon reaches m, or the running maximum (LC_UP) reaches m, from P:
 * down: 1 if m >= P, else min(1, 2 F_r(ln(m/P))); up: 1 if m <= P, else
 * min(1, 2 S_r(ln(m/P))).  m <= 0 (down) or m infinite (up) gives 0;
 * sigma_h == 0 gives 0 unless the barrier is already reached.
 */
double lc_barrier_prob(enum lc_dir dir, double p0, double m, double sigma_h,
    double nu);

#endif

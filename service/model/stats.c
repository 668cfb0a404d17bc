/*
 * stats.c - normal and Student-t distributions, the standardized log
 * return of docs/model.md 5 and the barrier (running min / max) probability.
 *
 * Design
 * ------
 * Normal:  N(x) = erfc(-x / sqrt 2) / 2,  S(x) = erfc(x / sqrt 2) / 2;
 * erfc keeps full relative accuracy in the far tail, so neither tail is
 * computed as 1 - (something close to 1).
 *
 * Student-t with real nu > 0 degrees of freedom, for t <= 0:
 *   T_nu(t) = I_x(nu/2, 1/2) / 2,   x = nu / (nu + t^2),
 * and T_nu(t) = 1 - T_nu(-t) for t > 0; the survival function is the
 * mirror, so each tail is computed directly from I_x.  x and y = 1 - x =
 * t^2 / (nu + t^2) are both formed without subtraction (through
 * s = |t|/sqrt(nu) or its reciprocal, which also avoids overflow of t^2).
 *
 * Regularized incomplete beta (Numerical Recipes 6.4, modified Lentz):
 *   I_x(a, b) = x^a y^b / (a B(a, b)) * CF(a, b, x)     x < (a+1)/(a+b+2)
 *             = 1 - I_y(b, a)                           otherwise,
 * the prefactor through lgamma and log of the separately computed x and y,
 * CF the even/odd continued fraction evaluated until a step changes it by
 * less than 1e-15 relative.  In the tails the direct branch is taken, so a
 * tiny probability is a product of accurate factors (relative error well
 * under 1e-10 for nu <= 1000).
 *
 * Log return (docs/model.md 5): r = sigma_h z, z = t sqrt((nu - 2)/nu), so
 *   F_r(x) = T_nu(x / sigma_h * sqrt(nu / (nu - 2))),  nu == 0: N(x/sigma_h).
 * Barrier (reflection principle, conditionally on the variance draw):
 *   P(min <= x) = min(1, 2 F_r(x)), x < 0;  P(max >= x) = min(1, 2 S_r(x)).
 */
#include "cascade/stats.h"

#include <float.h>
#include <math.h>

#define INV_SQRT2 0.70710678118654752440
#define CF_EPS 1e-15
#define CF_TINY 1e-300
#define CF_MAXIT 100000

/* mirror of lc_norm_sf() in stats.c: keep in step */
double
lc_norm_cdf(double x)
{
	return 0.5 * erfc(-x * INV_SQRT2);
}

/* mirror of lc_norm_cdf() in stats.c: keep in step */
double
lc_norm_sf(double x)
{
	return 0.5 * erfc(x * INV_SQRT2);
}

/*
 * One modified-Lentz update of the continued fraction's C and D with the
 * partial numerator aa (each kept clear of 0 by CF_TINY); the caller then
 * multiplies h by C * D.
 */
static inline void
cf_step(double aa, double *c, double *d)
{
	*d = 1.0 + aa * *d;
	if (fabs(*d) < CF_TINY)
		*d = CF_TINY;
	*c = 1.0 + aa / *c;
	if (fabs(*c) < CF_TINY)
		*c = CF_TINY;
	*d = 1.0 / *d;
}

/* Continued fraction of I_x(a, b) (modified Lentz). */
static double
betacf(double a, double b, double x)
{
	double qab = a + b, qap = a + 1.0, qam = a - 1.0;
	double c = 1.0, d = 1.0 - qab * x / qap, h;
	int m;

	if (fabs(d) < CF_TINY)
		d = CF_TINY;
	d = 1.0 / d;
	h = d;
	for (m = 1; m <= CF_MAXIT; m++) {
		double dm = (double)m, m2 = 2.0 * dm, aa, del;

		aa = dm * (b - dm) * x / ((qam + m2) * (a + m2));
		cf_step(aa, &c, &d);
		h *= d * c;
		aa = -(a + dm) * (qab + dm) * x / ((a + m2) * (qap + m2));
		cf_step(aa, &c, &d);
		del = d * c;
		h *= del;
		if (fabs(del - 1.0) < CF_EPS)
			break;
	}
	return h;
}

/*
 * ln Gamma(x) for x > 0.  C's lgamma() stores the sign in the global
 * `signgam`, a data race when several threads score at once (found by
 * ThreadSanitizer); lgamma_r (POSIX-2024, glibc and the BSDs under
 * _DEFAULT_SOURCE) returns it through a pointer instead.
 */
static double
log_gamma(double x)
{
	int sign;

	return lgamma_r(x, &sign);
}

/* x^a y^b / (a B(a, b)) * CF: the direct branch, with y = 1 - x given. */
static double
betainc_direct(double a, double b, double x, double y)
{
	double lbt = log_gamma(a + b) - log_gamma(a) - log_gamma(b) +
	    a * log(x) + b * log(y);

	return exp(lbt) * betacf(a, b, x) / a;
}

/* I_x(a, b) with y = 1 - x supplied exactly by the caller. */
static double
betainc_xy(double a, double b, double x, double y)
{
	if (!(x > 0.0))
		return 0.0;
	if (!(y > 0.0))
		return 1.0;
	if (x < (a + 1.0) / (a + b + 2.0))
		return betainc_direct(a, b, x, y);
	return 1.0 - betainc_direct(b, a, y, x);
}

double
lc_betainc(double a, double b, double x)
{
	if (isnan(a) || isnan(b) || isnan(x) || !(a > 0.0) || !(b > 0.0) ||
	    x < 0.0 || x > 1.0)
		return (double)NAN;
	return betainc_xy(a, b, x, 1.0 - x);
}

/* P(T <= -|t|): the lower tail at -|t|, computed directly. */
static double
t_tail(double t, double nu)
{
	double s, x, y;

	if (isinf(t))
		return 0.0;
	s = fabs(t) / sqrt(nu);
	if (s < 1.0) {
		double s2 = s * s;

		x = 1.0 / (1.0 + s2);
		y = s2 / (1.0 + s2);
	} else {
		double r = sqrt(nu) / fabs(t), r2 = r * r;

		x = r2 / (1.0 + r2);
		y = 1.0 / (1.0 + r2);
	}
	return 0.5 * betainc_xy(0.5 * nu, 0.5, x, y);
}

/* mirror of lc_t_sf() in stats.c (each tail computed directly): keep in step */
double
lc_t_cdf(double t, double nu)
{
	double tail;

	if (isnan(t) || isnan(nu) || !(nu > 0.0))
		return (double)NAN;
	tail = t_tail(t, nu);
	return t <= 0.0 ? tail : 1.0 - tail;
}

/* mirror of lc_t_cdf() in stats.c: keep in step */
double
lc_t_sf(double t, double nu)
{
	double tail;

	if (isnan(t) || isnan(nu) || !(nu > 0.0))
		return (double)NAN;
	tail = t_tail(t, nu);
	return t >= 0.0 ? tail : 1.0 - tail;
}

/* Standardized argument of T_nu or N, or NAN on bad parameters. */
static double
logret_arg(double x, double sigma_h, double nu)
{
	if (nu == 0.0)
		return x / sigma_h;
	if (!(nu > 2.0))
		return (double)NAN;
	return x / sigma_h * sqrt(nu / (nu - 2.0));
}

/* mirror of lc_logret_sf() in stats.c: keep in step */
double
lc_logret_cdf(double x, double sigma_h, double nu)
{
	double z;

	if (isnan(x) || isnan(sigma_h) || isnan(nu) || sigma_h < 0.0)
		return (double)NAN;
	if (sigma_h == 0.0)
		return x >= 0.0 ? 1.0 : 0.0;
	z = logret_arg(x, sigma_h, nu);
	return nu == 0.0 ? lc_norm_cdf(z) : lc_t_cdf(z, nu);
}

/* mirror of lc_logret_cdf() in stats.c: keep in step */
double
lc_logret_sf(double x, double sigma_h, double nu)
{
	double z;

	if (isnan(x) || isnan(sigma_h) || isnan(nu) || sigma_h < 0.0)
		return (double)NAN;
	if (sigma_h == 0.0)
		return x >= 0.0 ? 0.0 : 1.0;
	z = logret_arg(x, sigma_h, nu);
	return nu == 0.0 ? lc_norm_sf(z) : lc_t_sf(z, nu);
}

double
lc_sigma_h(double sigma_annual, double horizon_days)
{
	return sigma_annual * sqrt(horizon_days / 365.0);
}

double
lc_barrier_prob(enum lc_dir dir, double p0, double m, double sigma_h,
    double nu)
{
	double pr;

	if (dir == LC_DOWN) {
		if (m >= p0)
			return 1.0;
		if (!(m > 0.0) || !(sigma_h > 0.0))
			return 0.0;
		pr = 2.0 * lc_logret_cdf(log(m / p0), sigma_h, nu);
	} else {
		if (m <= p0)
			return 1.0;
		if (isinf(m) || !(sigma_h > 0.0))
			return 0.0;
		pr = 2.0 * lc_logret_sf(log(m / p0), sigma_h, nu);
	}
	return pr < 1.0 ? pr : 1.0;
}

/*
 * test_stats.c - Check suite of stats.c: normal and Student-t CDF/SF
 * against closed forms and high-precision references (deep tails compared
 * relatively), docs/model.md 5 log-return standardization and the barrier
 * probability.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "cascade/stats.h"
#include "ckutil.h"

/* ---- normal ----------------------------------------------------------- */

START_TEST(test_norm_tails)
{
	/* Q(x) references: mpmath 1.3, 50 digits, erfc(x/sqrt 2)/2. */
	static const double ref[][2] = {
		{5.0, 2.8665157187919391167e-7},
		{10.0, 7.619853024160526066e-24},
		{20.0, 2.7536241186062336951e-89},
		{37.0, 5.7255712225245768227e-300},
	};
	size_t i;

	for (i = 0; i < sizeof(ref) / sizeof(ref[0]); i++) {
		ck_rel(lc_norm_sf(ref[i][0]), ref[i][1], 1e-10);
		ck_rel(lc_norm_cdf(-ref[i][0]), ref[i][1], 1e-10);
	}
	ck_rel(lc_norm_cdf(0.0), 0.5, 1e-15);
	ck_rel(lc_norm_cdf(1.0) + lc_norm_sf(1.0), 1.0, 1e-15);
}
END_TEST

START_TEST(test_norm_one_day_drop)
{
	/*
	 * Source: the model brief's worked figure for docs/model.md 5 with nu = 0: a
	 * 10% one-day drop at 80% annual volatility has probability
	 * 2 N(ln(0.9) / (0.8 sqrt(1/365))) = 0.011865 (1.1865%).
	 */
	double sh = lc_sigma_h(0.8, 1.0);
	double p = 2.0 * lc_norm_cdf(log(0.9) / sh);

	ck_assert_double_eq_tol(p, 0.011865, 5e-7);
	ck_rel(p, 0.011864895750498469835, 1e-12);	/* mpmath */
	ck_rel(lc_barrier_prob(LC_DOWN, 2000.0, 1800.0, sh, 0.0), p, 1e-15);
}
END_TEST

/* ---- Student-t -------------------------------------------------------- */

/*
 * Closed-form lower tails T_nu(t), t <= 0, written so that the reference
 * itself keeps full relative accuracy far in the tail.
 */
static double
cauchy_tail(double t)
{
	/* nu = 1: 1/2 + atan(t)/pi = atan(1/|t|)/pi for t < 0. */
	if (t == 0.0)
		return 0.5;
	return atan(1.0 / fabs(t)) / M_PI;
}

static double
t2_tail(double t)
{
	/* nu = 2: (1 - |t|/r)/2 = 1/(r (r + |t|)), r = sqrt(2 + t^2). */
	double r = sqrt(2.0 + t * t);

	return 1.0 / (r * (r + fabs(t)));
}

static double
t3_tail(double t)
{
	/*
	 * nu = 3: 1/2 + (1/pi)[t/(sqrt3 (1+t^2/3)) + atan(t/sqrt3)].  With
	 * w = sqrt3/|t| this is (atan w - w/(1+w^2))/pi for t < 0; for small
	 * w the series sum_k (-1)^(k+1) 2k/(2k+1) w^(2k+1), else long double.
	 */
	long double w, w2, sum, term;
	int k;

	if (t == 0.0)
		return 0.5;
	w = sqrtl(3.0L) / fabsl((long double)t);
	w2 = w * w;
	if (w < 0.3L) {
		sum = 0.0L;
		term = w;
		for (k = 1; k < 60; k++) {
			term *= -w2;
			sum -= (2.0L * k / (2.0L * k + 1.0L)) * term;
		}
	} else {
		sum = atanl(w) - w / (1.0L + w2);
	}
	return (double)(sum / 3.14159265358979323846264338327950288L);
}

static double
t4_tail(double t)
{
	/*
	 * nu = 4: 1/2 + (3/8)(t/sqrt(1+t^2/4))(1 - t^2/(12(1+t^2/4))).  With
	 * c = t/sqrt(4+t^2) it is 1/2 + (3/4)c - (1/4)c^3; for t < 0 and
	 * e = 1 - |c| = 4/(r(r+|t|)), r = sqrt(4+t^2): e^2 (3 - e)/4.
	 */
	double r = sqrt(4.0 + t * t);
	double e = 4.0 / (r * (r + fabs(t)));

	return e * e * (3.0 - e) / 4.0;
}

static const double t_grid[] = {
	0.0, 1e-12, 1e-6, 1e-3, 0.1, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0,
	20.0, 50.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e8, 1e12, 1e50, 1e150,
};

static void
check_closed_form(double nu, double (*tail)(double), double tol_tail,
    double hi)
{
	size_t i;

	for (i = 0; i < sizeof(t_grid) / sizeof(t_grid[0]); i++) {
		double t = t_grid[i], lo;

		if (t > hi)
			break;
		lo = tail(-t);
		/* Each tail relative, the central side absolute. */
		ck_rel(lc_t_cdf(-t, nu), lo, tol_tail);
		ck_rel(lc_t_sf(t, nu), lo, tol_tail);
		ck_assert_double_eq_tol(lc_t_cdf(t, nu), (1.0 - lo), 1e-15);
		ck_assert_double_eq_tol(lc_t_sf(-t, nu), (1.0 - lo), 1e-15);
	}
}

START_TEST(test_t_closed_forms)
{
	check_closed_form(1.0, cauchy_tail, 1e-10, 1e150);
	check_closed_form(2.0, t2_tail, 1e-10, 1e150);
	check_closed_form(3.0, t3_tail, 1e-10, 1e100);
	check_closed_form(4.0, t4_tail, 1e-10, 1e75);
}
END_TEST

START_TEST(test_t_real_nu)
{
	/*
	 * T_nu(t) for non-integer and large nu: mpmath 1.3 at 50 digits,
	 * betainc(nu/2, 1/2, 0, nu/(nu+t^2), regularized)/2 (t < 0).
	 */
	static const double ref[][3] = {
		{2.5, -1000, 2.2747463948307451869e-8},
		{2.5, -100, 7.1916492116661878362e-6},
		{2.5, -30, 0.00014553235457869771315},
		{2.5, -10, 0.0022207478836537123865},
		{2.5, -5, 0.011725594985430923532},
		{2.5, -2, 0.078695747878982993312},
		{2.5, -0.5, 0.32884895993485734467},
		{2.5, 0.1, 0.53609672796875521003},
		{2.5, 3, 0.96371195222548407805},
		{4.5, -1000, 1.6599270262005825785e-13},
		{4.5, -100, 5.2447008766464055678e-9},
		{4.5, -30, 1.1719871493942602808e-6},
		{4.5, -10, 0.00015264028784169788099},
		{4.5, -5, 0.0027381791797599502294},
		{4.5, -2, 0.054128953590562513324},
		{4.5, -0.5, 0.32027475103702357379},
		{4.5, 0.1, 0.5376779661846572224},
		{4.5, 3, 0.98280956605562018807},
		{30, -1000, 1.0360017415558665384e-69},
		{30, -100, 9.9230589836351243042e-40},
		{30, -30, 3.1258958153044439765e-24},
		{30, -10, 2.2876257041148065963e-11},
		{30, -5, 0.000011648342733503897566},
		{30, -2, 0.02731252248149155196},
		{30, -0.5, 0.31036150244256364298},
		{30, 0.1, 0.53949519410486442196},
		{30, 3, 0.99730501796717402669},
		{1000, -30, 7.6873437220217411056e-142},
		{1000, -10, 8.3353514793000331542e-23},
		{1000, -5, 3.3836281823243151909e-7},
		{1000, -2, 0.022885173246625820024},
		{1000, -0.5, 0.30859254041693740732},
		{1000, 0.1, 0.53981781548819793444},
		{1000, 3, 0.99861664547788090377},
	};
	size_t i;

	for (i = 0; i < sizeof(ref) / sizeof(ref[0]); i++) {
		double nu = ref[i][0], t = ref[i][1], want = ref[i][2];

		ck_rel(lc_t_cdf(t, nu), want, 1e-10);
		/* The survival function mirrors the CDF exactly. */
		ck_rel(lc_t_sf(-t, nu), want, 1e-10);
	}
}
END_TEST

START_TEST(test_t_bad_args)
{
	ck_assert(isnan(lc_t_cdf(1.0, 0.0)));
	ck_assert(isnan(lc_t_cdf(1.0, -3.0)));
	ck_assert(isnan(lc_t_cdf(NAN, 3.0)));
	ck_assert(lc_t_cdf(-INFINITY, 3.0) == 0.0);
	ck_assert(lc_t_cdf(INFINITY, 3.0) == 1.0);
	ck_assert(lc_t_sf(INFINITY, 3.0) == 0.0);
}
END_TEST

/* ---- incomplete beta -------------------------------------------------- */

START_TEST(test_betainc_identities)
{
	/* x with exactly representable 1 - x */
	static const double xs[] = {0x1p-30, 0x1p-10, 0.125, 0.375, 0.5, 0.625,
	    0.984375};
	static const double as[] = {0.5, 1.0, 2.5, 7.0, 40.0, 500.0};
	size_t i, j;

	for (i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
		double x = xs[i];

		for (j = 0; j < sizeof(as) / sizeof(as[0]); j++) {
			double a = as[j];

			/* I_x(a, 1) = x^a; I_x(1, b) = 1 - (1-x)^b */
			if (pow(x, a) > 1e-300)
				ck_rel(lc_betainc(a, 1.0, x), pow(x, a), 1e-12);
			/*
			 * lgamma of a + b ~ 500 carries ~1e-13 absolute
			 * error into the prefactor: well inside docs/model.md 1e-10.
			 */
			ck_rel(lc_betainc(1.0, a, x), -expm1(a * log1p(-x)),
			    1e-12);
			/* I_x(a, b) + I_{1-x}(b, a) = 1 */
			ck_assert_double_eq_tol((lc_betainc(a, 2.5, x) +
			    lc_betainc(2.5, a, 1.0 - x)), 1.0, 1e-13);
		}
	}
	ck_assert(lc_betainc(2.0, 3.0, 0.0) == 0.0);
	ck_assert(lc_betainc(2.0, 3.0, 1.0) == 1.0);
	ck_assert(isnan(lc_betainc(2.0, 3.0, 1.5)));
	ck_assert(isnan(lc_betainc(0.0, 3.0, 0.5)));
}
END_TEST

/* ---- log return and barrier ------------------------------------------- */

START_TEST(test_logret_standardization)
{
	static const double nus[] = {2.5, 3.0, 4.0, 10.0, 1000.0};
	static const double xs[] = {-0.9, -0.3, -0.05, 0.0, 0.02, 0.4};
	double sh = lc_sigma_h(0.8, 7.0);
	size_t i, j;

	ck_rel(sh, 0.8 * sqrt(7.0 / 365.0), 1e-15);
	for (i = 0; i < sizeof(nus) / sizeof(nus[0]); i++) {
		double nu = nus[i], k = sqrt(nu / (nu - 2.0));

		for (j = 0; j < sizeof(xs) / sizeof(xs[0]); j++) {
			double x = xs[j];

			/* F_r(x) = T_nu(x / sigma_h * sqrt(nu/(nu-2))) */
			ck_rel(lc_logret_cdf(x, sh, nu),
			    lc_t_cdf(x / sh * k, nu), 1e-14);
			ck_rel(lc_logret_sf(x, sh, nu),
			    lc_t_sf(x / sh * k, nu), 1e-14);
		}
	}
	/* nu == 0: normal; the median is 0. */
	ck_rel(lc_logret_cdf(-0.1, 0.05, 0.0), lc_norm_cdf(-2.0), 1e-15);
	ck_rel(lc_logret_cdf(0.0, 0.05, 4.0), 0.5, 1e-15);
	/* Large nu approaches the normal. */
	ck_assert_double_eq_tol(lc_logret_cdf(-0.1, 0.05, 1000.0),
	    lc_norm_cdf(-2.0), 2e-4);
	/* nu in (0, 2] has no unit-variance standardization. */
	ck_assert(isnan(lc_logret_cdf(-0.1, 0.05, 2.0)));
	/* sigma_h == 0: a point mass at 0. */
	ck_assert(lc_logret_cdf(-0.1, 0.0, 4.0) == 0.0);
	ck_assert(lc_logret_sf(0.1, 0.0, 4.0) == 0.0);
}
END_TEST

START_TEST(test_barrier_prob)
{
	double sh = lc_sigma_h(0.8, 1.0);
	double p;

	/* Already at or beyond the barrier. */
	ck_assert(lc_barrier_prob(LC_DOWN, 2000.0, 2000.0, sh, 4.0) == 1.0);
	ck_assert(lc_barrier_prob(LC_DOWN, 2000.0, 2500.0, sh, 4.0) == 1.0);
	ck_assert(lc_barrier_prob(LC_UP, 2000.0, 2000.0, sh, 4.0) == 1.0);
	ck_assert(lc_barrier_prob(LC_UP, 2000.0, 1500.0, sh, 4.0) == 1.0);
	/* Unreachable barriers and stable assets. */
	ck_assert(lc_barrier_prob(LC_DOWN, 2000.0, 0.0, sh, 4.0) == 0.0);
	ck_assert(lc_barrier_prob(LC_UP, 2000.0, INFINITY, sh, 4.0) == 0.0);
	ck_assert(lc_barrier_prob(LC_DOWN, 2000.0, 1900.0, 0.0, 4.0) == 0.0);
	ck_assert(lc_barrier_prob(LC_UP, 2000.0, 2100.0, 0.0, 0.0) == 0.0);
	/* Reflection: 2 F_r(ln(m/P)), 2 S_r(ln(m/P)). */
	p = lc_barrier_prob(LC_DOWN, 2000.0, 1750.0, sh, 4.0);
	ck_rel(p, 2.0 * lc_logret_cdf(log(1750.0 / 2000.0), sh, 4.0), 1e-15);
	p = lc_barrier_prob(LC_UP, 2000.0, 2300.0, sh, 4.0);
	ck_rel(p, 2.0 * lc_logret_sf(log(2300.0 / 2000.0), sh, 4.0), 1e-15);
	/* Capped at 1 when 2 F_r exceeds it. */
	ck_assert(lc_barrier_prob(LC_DOWN, 2000.0, 1999.0, 50.0, 4.0) <= 1.0);
	/* Monotone in the barrier. */
	ck_assert(lc_barrier_prob(LC_DOWN, 2000.0, 1700.0, sh, 4.0) <
	    lc_barrier_prob(LC_DOWN, 2000.0, 1800.0, sh, 4.0));
}
END_TEST

static Suite *
stats_suite(void)
{
	Suite *s = suite_create("stats");
	TCase *tc;

	tc = tcase_create("normal");
	tcase_add_test(tc, test_norm_tails);
	tcase_add_test(tc, test_norm_one_day_drop);
	suite_add_tcase(s, tc);

	tc = tcase_create("student_t");
	tcase_add_test(tc, test_t_closed_forms);
	tcase_add_test(tc, test_t_real_nu);
	tcase_add_test(tc, test_t_bad_args);
	suite_add_tcase(s, tc);

	tc = tcase_create("betainc");
	tcase_add_test(tc, test_betainc_identities);
	suite_add_tcase(s, tc);

	tc = tcase_create("logret_barrier");
	tcase_add_test(tc, test_logret_standardization);
	tcase_add_test(tc, test_barrier_prob);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ck_run_suite(stats_suite());
}

/*
 * test_rng.c - Check suite of rng.c: moments of the normal, chi-square,
 * gamma and standardized Student-t generators within statistical bounds,
 * tail mass of the ziggurat, and determinism of the streams.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cascade/rng.h"
#include "ckutil.h"

#define NSAMP 4000000

struct moments {
	double n, mean, var, kurt;
};

/* Moments by centred accumulation (two passes over a stored sample). */
static void
moments(const double *x, size_t n, struct moments *m)
{
	double s = 0.0, s2 = 0.0, s4 = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
		s += x[i];
	m->n = (double)n;
	m->mean = s / m->n;
	for (i = 0; i < n; i++) {
		double d = x[i] - m->mean;

		s2 += d * d;
		s4 += d * d * d * d;
	}
	m->var = s2 / (m->n - 1.0);
	m->kurt = (s4 / m->n) / ((s2 / m->n) * (s2 / m->n));
}

#define WITHIN(x, want, se, k) \
	ck_assert_msg(fabs((x) - (want)) <= (k) * (se), \
	    "%s = %.9g, want %.9g +- %g * %.3g", #x, (double)(x), \
	    (double)(want), (double)(k), (double)(se))

START_TEST(test_normal_moments)
{
	struct lc_ziggurat z;
	struct lc_rng g;
	struct moments m;
	double *x = malloc(NSAMP * sizeof(*x)), n = NSAMP;
	size_t i, tail = 0, t2 = 0;

	ck_assert_ptr_nonnull(x);
	lc_ziggurat_init(&z);
	lc_rng_seed(&g, 12345, 0);
	for (i = 0; i < NSAMP; i++) {
		x[i] = lc_rng_normal(&g, &z);
		if (x[i] > 3.442619855899)
			tail++;
		if (x[i] < -1.0)
			t2++;
	}
	moments(x, NSAMP, &m);
	WITHIN(m.mean, 0.0, sqrt(1.0 / n), 5.0);
	WITHIN(m.var, 1.0, sqrt(2.0 / n), 5.0);
	WITHIN(m.kurt, 3.0, sqrt(24.0 / n), 5.0);
	/* tail beyond R (the ziggurat's base strip): 2.8805e-4 */
	WITHIN((double)tail / n, 2.8805e-4, sqrt(2.8805e-4 / n), 5.0);
	/* wedge region: P(N < -1) = 0.158655253931457 */
	WITHIN((double)t2 / n, 0.158655253931457,
	    sqrt(0.158655 * 0.841345 / n), 5.0);
	free(x);
}
END_TEST

static void
check_chisq(double nu, uint64_t seed)
{
	struct lc_ziggurat z;
	struct lc_rng g;
	struct moments m;
	size_t i, ns = NSAMP / 2, bad = 0;
	double *x = malloc(ns * sizeof(*x)), n = (double)ns;

	ck_assert_ptr_nonnull(x);
	lc_ziggurat_init(&z);
	lc_rng_seed(&g, seed, 7);
	for (i = 0; i < ns; i++) {
		x[i] = lc_rng_chisq(&g, &z, nu);
		bad += !(x[i] > 0.0);
	}
	ck_assert_uint_eq(bad, 0);
	moments(x, ns, &m);
	WITHIN(m.mean, nu, sqrt(2.0 * nu / n), 5.0);
	/* Var(s^2) ~ (mu4 - sigma^4) / n, mu4 = 12 nu^2 + 48 nu */
	WITHIN(m.var, 2.0 * nu, sqrt((8.0 * nu * nu + 48.0 * nu) / n), 5.0);
	free(x);
}

START_TEST(test_chisq_moments)
{
	check_chisq(8.0, 1);
	check_chisq(4.0, 2);
	check_chisq(2.5, 3);
	check_chisq(13.7, 4);
	check_chisq(1000.0, 5);
}
END_TEST

START_TEST(test_gamma_small_shape)
{
	struct lc_ziggurat z;
	struct lc_rng g;
	struct moments m;
	size_t i, ns = NSAMP / 2, bad = 0;
	double *x = malloc(ns * sizeof(*x)), a = 0.3, n = (double)ns;

	ck_assert_ptr_nonnull(x);
	lc_ziggurat_init(&z);
	lc_rng_seed(&g, 99, 1);
	for (i = 0; i < ns; i++) {
		x[i] = lc_rng_gamma(&g, &z, a);
		bad += !(x[i] >= 0.0);
	}
	ck_assert_uint_eq(bad, 0);
	moments(x, ns, &m);
	/* Gamma(a): mean a, var a, mu4 = 3a^2 + 6a */
	WITHIN(m.mean, a, sqrt(a / n), 5.0);
	WITHIN(m.var, a, sqrt((3.0 * a * a + 6.0 * a - a * a) / n), 5.0);
	ck_assert(isnan(lc_rng_gamma(&g, &z, 0.0)));
	free(x);
}
END_TEST

/*
 * Standardized t: z = N sqrt((nu - 2) / W), W ~ chi2(nu): variance 1,
 * kurtosis 3 + 6 / (nu - 4).  For nu = 8 the eighth moment is infinite, so
 * the kurtosis has no finite standard error; the sample of 4e6 is held to
 * an absolute 0.1 (its spread across seeds is about 0.03).
 */
START_TEST(test_student_t_moments)
{
	struct lc_ziggurat z;
	struct lc_rng g;
	struct moments m;
	double nu = 8.0, *x = malloc(NSAMP * sizeof(*x)), n = NSAMP;
	size_t i;

	ck_assert_ptr_nonnull(x);
	lc_ziggurat_init(&z);
	lc_rng_seed(&g, 2024, 3);
	for (i = 0; i < NSAMP; i++) {
		double w = lc_rng_chisq(&g, &z, nu);

		x[i] = lc_rng_normal(&g, &z) * sqrt((nu - 2.0) / w);
	}
	moments(x, NSAMP, &m);
	WITHIN(m.mean, 0.0, sqrt(1.0 / n), 5.0);
	/* Var(z^2) = E z^4 - 1 = 3 + 6/(nu-4) - 1 = 3.5 */
	WITHIN(m.var, 1.0, sqrt(3.5 / n), 5.0);
	WITHIN(m.kurt, 4.5, 0.02, 5.0);
	free(x);
}
END_TEST

START_TEST(test_determinism)
{
	struct lc_ziggurat z;
	struct lc_rng a, b, c;
	int i, same = 0, diff = 0, out = 0;

	lc_ziggurat_init(&z);
	lc_rng_seed(&a, 42, 5);
	lc_rng_seed(&b, 42, 5);
	lc_rng_seed(&c, 42, 6);
	for (i = 0; i < 100000; i++) {
		double x = lc_rng_normal(&a, &z), y = lc_rng_normal(&b, &z);
		double u = lc_rng_normal(&c, &z);

		diff += memcmp(&x, &y, sizeof(x)) != 0;
		same += x == u;
	}
	ck_assert_int_eq(diff, 0);
	ck_assert_int_lt(same, 5);
	/* uniforms stay inside (0, 1) */
	for (i = 0; i < 100000; i++) {
		double u = lc_rng_uniform(&a);

		out += !(u > 0.0 && u < 1.0);
	}
	ck_assert_int_eq(out, 0);
	/* seed 0 stream 0 is a valid (non-zero) state */
	lc_rng_seed(&a, 0, 0);
	ck_assert(a.s[0] | a.s[1] | a.s[2] | a.s[3]);
}
END_TEST

/*
 * The bulk draw lc_rng_normals() gives the numbers of single draws, in
 * order, with any stride, and leaves the stream where they leave it (the
 * slow path of the ziggurat, about 1 draw in 100, included).
 */
START_TEST(test_bulk_normals)
{
	enum { N = 200000, STRIDE = 3 };
	struct lc_ziggurat z;
	struct lc_rng a, b;
	double *x = malloc(N * STRIDE * sizeof(double));
	int i, diff = 0, slow = 0;

	ck_assert_ptr_nonnull(x);
	lc_ziggurat_init(&z);
	lc_rng_seed(&a, 7, 1);
	lc_rng_seed(&b, 7, 1);
	lc_rng_normals(&a, &z, x, 1000, STRIDE);
	lc_rng_normals(&a, &z, x + 1000 * STRIDE, N - 1000, STRIDE);
	for (i = 0; i < N; i++) {
		struct lc_rng peek = b;
		uint64_t bits = lc_rng_next(&peek);
		double y, f;

		slow += !lc_zig_fast(&z, bits, &f);
		y = lc_rng_normal(&b, &z);
		diff += memcmp(&x[i * STRIDE], &y, sizeof(y)) != 0;
	}
	ck_assert_int_eq(diff, 0);
	ck_assert_int_gt(slow, N / 1000);
	ck_assert(memcmp(a.s, b.s, sizeof(a.s)) == 0);
	free(x);
}
END_TEST

static Suite *
rng_suite(void)
{
	Suite *s = suite_create("rng");
	TCase *tc = tcase_create("moments");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_normal_moments);
	tcase_add_test(tc, test_chisq_moments);
	tcase_add_test(tc, test_gamma_small_shape);
	tcase_add_test(tc, test_student_t_moments);
	suite_add_tcase(s, tc);
	tc = tcase_create("streams");
	tcase_add_test(tc, test_determinism);
	tcase_add_test(tc, test_bulk_normals);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ck_run_suite(rng_suite());
}

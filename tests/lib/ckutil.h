/*
 * ckutil.h - small helpers shared by the Check suites: a relative
 * tolerance test and its assertion, a descending comparator for qsort,
 * and the suite runner of main().  Header-only (static inline), like
 * splitmix.h, so a suite that uses it links nothing more.
 */
#ifndef CASCADED_CKUTIL_H
#define CASCADED_CKUTIL_H

#include <check.h>
#include <math.h>
#include <stdlib.h>

/* |got - want| <= tol |want| (exactly equal values pass, infinities too). */
static inline int
rel_close(double got, double want, double tol)
{
	if (got == want)
		return 1;
	return fabs(got - want) <= tol * fabs(want);
}

#define ck_rel(got, want, tol)						\
	ck_assert_msg(rel_close((got), (want), (tol)),			\
	    "%s = %.17g, want %.17g (rel %.3g)", #got, (got), (want),	\
	    (tol))

/* qsort() comparator: doubles in decreasing order. */
static inline int
cmp_desc(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return a < b ? 1 : a > b ? -1 : 0;
}

/* Run every test of s (CK_NORMAL) and return main()'s exit status. */
static inline int
ck_run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif

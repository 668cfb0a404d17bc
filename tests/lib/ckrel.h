/*
 * ckrel.h - relative comparison of doubles for the Check suites of the
 * volatility and backtest code: ck_rel(got, want, tol) passes when got ==
 * want exactly or |got - want| <= tol |want|, and prints both values in
 * full precision when it fails.  Header-only (the model suites link
 * nothing but libcascade, Check and libm); include <check.h> first.
 */
#ifndef CASCADED_CKREL_H
#define CASCADED_CKREL_H

#include <math.h>

static inline int
rel_close(double got, double want, double tol)
{
	if (got == want)
		return 1;
	return fabs(got - want) <= tol * fabs(want);
}

#define ck_rel(got, want, tol)						\
	ck_assert_msg(rel_close((got), (want), (tol)),			\
	    "%s = %.17g, want %.17g (rel %.3g)", #got, (double)(got),	\
	    (double)(want), (double)(tol))

#endif

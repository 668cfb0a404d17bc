/*
 * test_backtest.c - Check suite of backtest.c: Brier, log score and the
 * reliability table on a hand-made set, Kupiec's and Christoffersen's
 * p-values against statistics computed by hand (references: Python 3
 * statistics.NormalDist, chi-square(1) p = 2 (1 - Phi(sqrt LR))), the
 * forecast pipeline on a series whose volatility is known exactly (the
 * drop rules included), and calibration on a path drawn from the model
 * itself (Brownian log price, exact Brownian-bridge candle extremes).
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cascade/backtest.h"
#include "candles.h"
#include "ckrel.h"

#define HOUR 3600
#define DAYS 86400


/* ---- metrics on hand-made sets ------------------------------------------ */

START_TEST(test_scores_hand)
{
	static const double p[] = { 0.2, 0.7, 0.0, 1.0, 0.0005 };
	static const int o[] = { 1, 0, 0, 1, 1 };
	struct lc_bt_result r;
	double brier, logs;
	size_t i;

	lc_bt_result_init(&r, 0, 1, LC_DOWN);
	for (i = 0; i < 5; i++)
		lc_bt_add_forecast(&r, p[i], o[i]);
	lc_bt_result_finish(&r);
	brier = (0.8 * 0.8 + 0.7 * 0.7 + 0.0 + 0.0 + 0.9995 * 0.9995) / 5;
	/* 0 and 1 clipped to 1e-6 and 1 - 1e-6 */
	logs = -(log(0.2) + log(0.3) + log(1 - 1e-6) + log(1 - 1e-6) +
	    log(0.0005)) / 5;
	ck_assert_uint_eq(r.n, 5);
	ck_rel(r.brier, brier, 1e-14);
	ck_rel(r.log_score, logs, 1e-12);
	ck_rel(r.observed, 3.0, 0);
	ck_rel(r.expected, 1.9005, 1e-14);
	ck_rel(r.oe, 3.0 / 1.9005, 1e-14);
	/* buckets: [0, .001) holds 0 and .0005; .2 in [.2, .3); .7 in
	 * [.5, .8); 1 in the closed last bucket */
	ck_assert_uint_eq(r.rel[0].n, 2);
	ck_rel(r.rel[0].mean_p, 0.00025, 1e-14);
	ck_rel(r.rel[0].rate, 0.5, 0);
	ck_assert_uint_eq(r.rel[7].n, 1);
	ck_assert(r.rel[7].lo == 0.2 && r.rel[7].hi == 0.3);
	ck_assert_uint_eq(r.rel[9].n, 1);
	ck_rel(r.rel[9].rate, 0.0, 0);
	ck_assert_uint_eq(r.rel[10].n, 1);
	ck_assert(r.rel[10].lo == 0.8 && r.rel[10].hi == 1.0);
	ck_assert_uint_eq(r.rel[3].n, 0);
	ck_assert(isnan(r.rel[3].mean_p) && isnan(r.rel[3].rate));
	/* nothing at all: undefined, not zero */
	lc_bt_result_init(&r, 0, 1, LC_UP);
	lc_bt_result_finish(&r);
	ck_assert(isnan(r.brier) && isnan(r.log_score) && isnan(r.oe));
	ck_assert(isnan(r.cov[0].rate) && isnan(r.cov[0].kupiec_p) &&
	    isnan(r.cov[0].christoffersen_p));
}
END_TEST

START_TEST(test_kupiec)
{
	/* LR = 8.258217002871664 (n 100, x 5, alpha .01) */
	ck_rel(lc_kupiec_p(100, 5, 0.01), 0.0040567952567398535, 1e-8);
	/* x = 0: LR = -2 n ln(1 - alpha) = 25.64664719377529 */
	ck_rel(lc_kupiec_p(250, 0, 0.05), 4.1000723660644667e-07, 1e-7);
	/* x / n = alpha: LR = 0, p = 1 */
	ck_rel(lc_kupiec_p(40, 2, 0.05), 1.0, 1e-7);
	ck_assert(isnan(lc_kupiec_p(0, 0, 0.05)));
	/* chi-square(1) survival: P(X > 3.841458820694124) = 0.05 */
	ck_rel(lc_chi2_1_sf(3.841458820694124), 0.05, 1e-12);
	ck_rel(lc_chi2_1_sf(0.0), 1.0, 0);
}
END_TEST

START_TEST(test_christoffersen)
{
	/* n00 80, n01 5, n10 4, n11 2: LR = 3.6862229428861406 */
	ck_rel(lc_christoffersen_p(80, 5, 4, 2), 0.05486372385963367, 1e-9);
	/* n11 = 0 (0 ln 0 = 0): LR = 0.5462083549938512 */
	ck_rel(lc_christoffersen_p(30, 3, 3, 0), 0.4598711103022124, 1e-9);
	/* never an exceedance: pi = pi0 = 0, LR = 0 */
	ck_rel(lc_christoffersen_p(12, 0, 0, 0), 1.0, 0);
	ck_assert(isnan(lc_christoffersen_p(0, 0, 0, 0)));
}
END_TEST

START_TEST(test_windows_and_transitions)
{
	struct lc_bt_result r;

	lc_bt_result_init(&r, 0, 7, LC_UP);
	lc_bt_add_window(&r, 1, 0, -1);
	lc_bt_add_window(&r, 1, 1, 0);
	lc_bt_add_window(&r, 1, 1, 1);
	lc_bt_add_window(&r, 1, 0, -1);	/* after a hole: no transition */
	lc_bt_add_window(&r, 1, 0, 0);
	lc_bt_result_finish(&r);
	ck_assert_uint_eq(r.cov[1].n, 5);
	ck_assert_uint_eq(r.cov[1].exceedances, 2);
	ck_assert(r.cov[1].alpha == 0.05);
	ck_rel(r.cov[1].rate, 0.4, 1e-15);
	ck_assert_uint_eq(r.cov[1].trans[0][0], 1);
	ck_assert_uint_eq(r.cov[1].trans[0][1], 1);
	ck_assert_uint_eq(r.cov[1].trans[1][1], 1);
	ck_assert_uint_eq(r.cov[1].trans[1][0], 0);
	ck_rel(r.cov[1].kupiec_p, lc_kupiec_p(5, 2, 0.05), 0);
	ck_rel(r.cov[1].christoffersen_p, lc_christoffersen_p(1, 1, 0, 1),
	    0);
	ck_assert_uint_eq(r.cov[0].n, 0);
}
END_TEST

/* ---- the pipeline on a known volatility ---------------------------------- */

/*
 * 120 hourly candles from t = shift-free day 0; closes alternate 100,
 * 100 e^a, so every return is +-a over 1 h and every estimator gives
 * sigma^2 = a^2 * 8760 exactly.  Candles from index 96 on are moved by
 * `shift` seconds.  Candle 100 dips to 0.88 P, candle 110 rises to 1.06 P
 * (P = close of candle 95 = 100 e^a).
 */
#define NC 120
static void
known_series(struct lc_candle *c, double a, int64_t shift)
{
	double P = 100.0 * exp(a);
	size_t i;

	for (i = 0; i < NC; i++) {
		double prev = i == 0 ? 100.0 : c[i - 1].close;

		c[i].t = (int64_t)i * HOUR + (i >= 96 ? shift : 0);
		c[i].close = i % 2 ? 100.0 * exp(a) : 100.0;
		c[i].open = prev;
		c[i].high = fmax(prev, c[i].close);
		c[i].low = fmin(prev, c[i].close);
	}
	c[100].low = 0.88 * P;
	c[110].high = 1.06 * P;
}

static void
known_opts(struct lc_bt_opts *o, double warmup)
{
	lc_bt_opts_default(o);
	o->horizons[0] = 1;
	o->n_horizons = 1;
	o->tail_dof = 0.0;
	o->warmup_days = warmup;
}

START_TEST(test_pipeline_known_sigma)
{
	struct lc_candle c[NC];
	struct lc_bt_asset as[2];
	struct lc_bt_opts o;
	struct lc_bt_report rep;
	double a = 0.01, sh = a * sqrt(24.0), ed = 0, eu = 0, bd = 0, bu = 0;
	size_t k, est;
	int od[5] = { 1, 1, 0, 0, 0 }, ou[5] = { 1, 0, 0, 0, 0 };

	known_series(c, a, 0);
	as[0].name = "A";
	as[1].name = "B";
	as[0].candles = as[1].candles = c;
	as[0].n = as[1].n = NC;
	for (k = 0; k < 5; k++) {
		double x = (double[]){ .05, .1, .15, .2, .3 }[k];
		double pd = erfc(-log(1 - x) / (sh * sqrt(2.0)));
		double pu = erfc(log(1 + x) / (sh * sqrt(2.0)));

		ed += pd;
		eu += pu;
		bd += (pd - od[k]) * (pd - od[k]);
		bu += (pu - ou[k]) * (pu - ou[k]);
	}
	/* the three estimators agree on this series */
	for (est = 0; est < 3; est++) {
		known_opts(&o, 4.0);
		o.estimator = (enum lc_bt_estimator)est;
		o.window_days = 3.5;
		ck_assert_int_eq(lc_bt_run(as, 2, &o, &rep), LC_OK);
		ck_assert_uint_eq(rep.n_results, 3 * 1 * 2);
		ck_assert_uint_eq(rep.n_forecasts, 2);
		for (k = 0; k < 6; k++) {
			const struct lc_bt_result *r = &rep.results[k];
			int down = r->dir == LC_DOWN, pooled = k >= 4;

			ck_assert(r->asset == (pooled ? LC_BT_POOLED : k / 2));
			ck_assert_int_eq(r->dir, k % 2 ? LC_UP : LC_DOWN);
			ck_assert_uint_eq(r->n, pooled ? 10 : 5);
			ck_rel(r->observed, (down ? 2.0 : 1.0) *
			    (pooled ? 2 : 1), 0);
			ck_rel(r->expected, (down ? ed : eu) * (pooled ? 2 : 1),
			    1e-10);
			ck_rel(r->brier, (down ? bd : bu) / 5, 1e-10);
			/* one window (h = 1, one day); the dip is beyond
			 * the 1 % quantile, the rise inside the 5 % one */
			ck_assert_uint_eq(r->cov[0].n, pooled ? 2 : 1);
			ck_assert_uint_eq(r->cov[0].exceedances,
			    down ? (pooled ? 2 : 1) : 0);
			ck_assert_uint_eq(r->cov[1].exceedances,
			    down ? (pooled ? 2 : 1) : 0);
			ck_assert(isnan(r->cov[0].christoffersen_p));
		}
		lc_bt_report_release(&rep);
	}
	/* the coverage decisions are those of the quantiles */
	ck_assert(erfc(-log(0.88) / (sh * sqrt(2.0))) <= 0.01);
	ck_assert(erfc(log(1.06) / (sh * sqrt(2.0))) > 0.05);
}
END_TEST

START_TEST(test_pipeline_drops_and_bad_input)
{
	struct lc_candle c[NC];
	struct lc_bt_asset as = { "A", c, NC };
	struct lc_bt_opts o;
	struct lc_bt_report rep;

	/* the window needs the last candle at or after t + 1 d - 1 h */
	known_series(c, 0.01, 0);
	known_opts(&o, 4.0);
	as.n = NC - 1;
	ck_assert_int_eq(lc_bt_run(&as, 1, &o, &rep), LC_EDOMAIN);
	ck_assert_uint_eq(rep.results[0].n, 0);
	ck_assert(isnan(rep.results[0].brier));
	lc_bt_report_release(&rep);
	/* the last candle before t 6 d + 1 h earlier: kept */
	known_series(c, 0.01, 6 * DAYS);
	known_opts(&o, 10.0);
	as.n = NC;
	ck_assert_int_eq(lc_bt_run(&as, 1, &o, &rep), LC_OK);
	ck_assert_uint_eq(rep.results[0].n, 5);
	ck_rel(rep.results[0].observed, 2.0, 0);
	lc_bt_report_release(&rep);
	/* 7 d + 1 h earlier: dropped */
	known_series(c, 0.01, 7 * DAYS);
	known_opts(&o, 11.0);
	ck_assert_int_eq(lc_bt_run(&as, 1, &o, &rep), LC_EDOMAIN);
	lc_bt_report_release(&rep);
	/* 3 days of warmup: 71 returns before t, not enough */
	known_series(c, 0.01, 0);
	known_opts(&o, 3.0);
	as.n = 96;
	ck_assert_int_eq(lc_bt_run(&as, 1, &o, &rep), LC_EDOMAIN);
	lc_bt_report_release(&rep);
	/* bad input: which candle, nothing allocated */
	known_series(c, 0.01, 0);
	known_opts(&o, 4.0);
	as.n = NC;
	c[50].low = c[50].close * 1.01;
	ck_assert_int_eq(lc_bt_run(&as, 1, &o, &rep), LC_EINVAL);
	ck_assert_uint_eq(rep.bad_asset, 0);
	ck_assert_uint_eq(rep.bad_candle, 50);
	ck_assert(rep.results == NULL);
	known_series(c, 0.01, 0);
	c[70].t = c[69].t;
	ck_assert_int_eq(lc_bt_run(&as, 1, &o, &rep), LC_EINVAL);
	ck_assert_uint_eq(rep.bad_candle, 70);
	known_series(c, 0.01, 0);
	o.tail_dof = 1.5;
	ck_assert_int_eq(lc_bt_run(&as, 1, &o, &rep), LC_EINVAL);
	known_opts(&o, 4.0);
	o.horizons[0] = 0;
	ck_assert_int_eq(lc_bt_run(&as, 1, &o, &rep), LC_EINVAL);
	known_opts(&o, 4.0);
	o.thresholds[0] = 1.0;
	ck_assert_int_eq(lc_bt_run(&as, 1, &o, &rep), LC_EINVAL);
	lc_bt_report_release(&rep);
}
END_TEST

/* ---- calibration on the model's own law ---------------------------------- */


START_TEST(test_gbm_calibrated)
{
	enum { NDAYS = 800 };
	size_t n = NDAYS * 24, k, d;
	struct lc_candle *c = gbm_candles(20260101, 1600000000 - 1600000000 %
	    DAYS, 1000.0, 0.8, n);
	struct lc_bt_asset as = { "GBM", c, n };
	static const double th[] = { 0.03, 0.06, 0.10 };
	struct lc_bt_opts o;
	struct lc_bt_report rep;

	ck_assert(c != NULL);
	for (k = 0; k < 3; k++) {
		lc_bt_opts_default(&o);
		o.tail_dof = 0.0;
		o.horizons[0] = 1;
		o.horizons[1] = 7;
		o.thresholds[0] = th[k];
		o.n_thresholds = 1;
		ck_assert_int_eq(lc_bt_run(&as, 1, &o, &rep), LC_OK);
		for (d = 0; d < 2; d++) {
			/* h = 1: days are disjoint windows, so the O are
			 * independent Bernoullis: sd(O) = sqrt(sum p(1-p))
			 * <= sqrt(E (1 - E/n)) */
			const struct lc_bt_result *r = &rep.results[d];
			const struct lc_bt_result *w = &rep.results[2 + d];
			double E = r->expected, N = (double)r->n;
			double se = sqrt(E * (1.0 - E / N));

			ck_assert_uint_eq(r->n, NDAYS - 90);
			ck_assert_msg(fabs(r->observed - E) <= 3.0 * se,
			    "x %g dir %zu: O %g E %g se %g", th[k], d,
			    r->observed, E, se);
			ck_assert_msg(r->cov[0].kupiec_p > 0.01 &&
			    r->cov[1].kupiec_p > 0.01,
			    "kupiec %g %g", r->cov[0].kupiec_p,
			    r->cov[1].kupiec_p);
			ck_assert_uint_eq(r->cov[1].n, NDAYS - 90);
			/* h = 7: forecast days 90 .. NDAYS - 7 kept, every
			 * 7th a window, all adjacent */
			ck_assert_uint_eq(w->n, NDAYS - 7 - 90 + 1);
			ck_assert_uint_eq(w->cov[1].n,
			    (NDAYS - 7 - 90) / 7 + 1);
			ck_assert_uint_eq(w->cov[1].trans[0][0] +
			    w->cov[1].trans[0][1] + w->cov[1].trans[1][0] +
			    w->cov[1].trans[1][1], w->cov[1].n - 1);
		}
		lc_bt_report_release(&rep);
	}
	free(c);
}
END_TEST

/*
 * The range-based estimators on the same law: the candles' extremes are
 * exact Brownian-bridge draws, so Parkinson, Garman-Klass and
 * Rogers-Satchell are unbiased for the diffusion's variance and the
 * blend built on them must come out calibrated too (O within 3 standard
 * errors of E at h = 1, Kupiec not rejecting at 1 %).  So must the GARCH
 * term structure at its default parameters (its news x = r^2 / dt has
 * expectation sigma^2, its level is the long run), with the candles'
 * Parkinson variance as the news too.
 */
START_TEST(test_gbm_calibrated_range)
{
	enum { NDAYS = 800 };
	size_t n = NDAYS * 24, d;
	struct lc_candle *c = gbm_candles(20260102, 1600000000 - 1600000000 %
	    DAYS, 1000.0, 0.8, n);
	struct lc_bt_asset as = { "GBM", c, n };
	struct lc_bt_opts o;
	struct lc_bt_report rep;
	int e;

	ck_assert(c != NULL);
	for (e = LC_BT_PARKINSON; e <= LC_BT_GARCH_PARKINSON; e++) {
		lc_bt_opts_default(&o);
		o.estimator = (enum lc_bt_estimator)e;
		o.tail_dof = 0.0;
		o.n_horizons = 1;
		o.thresholds[0] = 0.06;
		o.n_thresholds = 1;
		ck_assert_int_eq(lc_bt_run(&as, 1, &o, &rep), LC_OK);
		for (d = 0; d < 2; d++) {
			const struct lc_bt_result *r = &rep.results[d];
			double E = r->expected, N = (double)r->n;
			double se = sqrt(E * (1.0 - E / N));

			ck_assert_uint_eq(r->n, NDAYS - 90);
			ck_assert_msg(fabs(r->observed - E) <= 3.0 * se,
			    "%s dir %zu: O %g E %g se %g",
			    lc_bt_estimator_names[e], d, r->observed, E, se);
			ck_assert_msg(r->cov[1].kupiec_p > 0.01,
			    "kupiec %g", r->cov[1].kupiec_p);
		}
		lc_bt_report_release(&rep);
	}
	free(c);
}
END_TEST

/* --from / --to: only the forecast days in [from, to) are kept. */
START_TEST(test_from_to)
{
	enum { NDAYS = 200 };
	size_t n = NDAYS * 24;
	int64_t t0 = 1600000000 - 1600000000 % DAYS;
	struct lc_candle *c = gbm_candles(7, t0, 1000.0, 0.8, n);
	struct lc_bt_asset as = { "GBM", c, n };
	struct lc_bt_opts o;
	struct lc_bt_report rep;
	enum lc_bt_estimator e;

	ck_assert(c != NULL);
	lc_bt_opts_default(&o);
	o.n_horizons = 1;
	o.from_t = t0 + 100 * DAYS;
	o.to_t = t0 + 150 * DAYS;
	ck_assert_int_eq(lc_bt_run(&as, 1, &o, &rep), LC_OK);
	ck_assert_uint_eq(rep.n_forecasts, 50);
	lc_bt_report_release(&rep);
	o.to_t = o.from_t;
	ck_assert_int_eq(lc_bt_run(&as, 1, &o, &rep), LC_EINVAL);
	ck_assert_int_eq(lc_bt_estimator_parse("garman-klass", &e), 0);
	ck_assert_int_eq(e, LC_BT_GARMAN_KLASS);
	ck_assert_int_eq(lc_bt_estimator_parse("realized", &e), 0);
	ck_assert_int_eq(e, LC_BT_REALISED);
	ck_assert_int_eq(lc_bt_estimator_parse("garch", &e), 0);
	ck_assert_int_eq(e, LC_BT_GARCH);
	ck_assert_int_eq(lc_bt_estimator_parse("garch-parkinson", &e), 0);
	ck_assert_int_eq(e, LC_BT_GARCH_PARKINSON);
	ck_assert_int_eq(lc_bt_estimator_parse("arch", &e), -1);
	/* the GARCH parameters and the diagnostic scale are checked */
	lc_bt_opts_default(&o);
	o.garch.beta = 1.0 - o.garch.alpha;
	ck_assert_int_eq(lc_bt_opts_check(&o), LC_EINVAL);
	lc_bt_opts_default(&o);
	o.sigma_scale = 0.0;
	ck_assert_int_eq(lc_bt_opts_check(&o), LC_EINVAL);
	free(c);
}
END_TEST

/*
 * The diagnostic sigma_scale: the outcomes are the same forecasts', the
 * probabilities those of a k times larger sigma_h: at k = 2, every
 * result's expected hits grow and its observed hits stay.
 */
START_TEST(test_sigma_scale)
{
	size_t n = 200 * 24, i;
	struct lc_candle *c = gbm_candles(9, 1600000000 - 1600000000 % DAYS,
	    1000.0, 0.8, n);
	struct lc_bt_asset as = { "GBM", c, n };
	struct lc_bt_opts o;
	struct lc_bt_report r1, r2;

	ck_assert(c != NULL);
	lc_bt_opts_default(&o);
	ck_assert_int_eq(lc_bt_run(&as, 1, &o, &r1), LC_OK);
	o.sigma_scale = 2.0;
	ck_assert_int_eq(lc_bt_run(&as, 1, &o, &r2), LC_OK);
	for (i = 0; i < r1.n_results; i++) {
		ck_assert_uint_eq(r1.results[i].n, r2.results[i].n);
		ck_assert(r1.results[i].observed == r2.results[i].observed);
		ck_assert(r2.results[i].expected > r1.results[i].expected);
		/* fewer quantile exceedances with a wider law */
		ck_assert_uint_le(r2.results[i].cov[1].exceedances,
		    r1.results[i].cov[1].exceedances);
	}
	lc_bt_report_release(&r1);
	lc_bt_report_release(&r2);
	free(c);
}
END_TEST

static Suite *
backtest_suite(void)
{
	Suite *s = suite_create("backtest");
	TCase *tc;

	tc = tcase_create("metrics");
	tcase_add_test(tc, test_scores_hand);
	tcase_add_test(tc, test_kupiec);
	tcase_add_test(tc, test_christoffersen);
	tcase_add_test(tc, test_windows_and_transitions);
	suite_add_tcase(s, tc);
	tc = tcase_create("pipeline");
	tcase_add_test(tc, test_pipeline_known_sigma);
	tcase_add_test(tc, test_pipeline_drops_and_bad_input);
	suite_add_tcase(s, tc);
	tc = tcase_create("calibration");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_gbm_calibrated);
	tcase_add_test(tc, test_gbm_calibrated_range);
	tcase_add_test(tc, test_from_to);
	tcase_add_test(tc, test_sigma_scale);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(backtest_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * test_vol.c - Check suite of vol.c: returns and the gap rule, the EWMA,
 * long-run and realised estimators against closed forms (geometric sums
 * over series built with known |r|), the minimum-data boundary (72
 * returns, 3 days), the horizon blend, the incremental state against the
 * batch formulas on long irregular series, the GARCH(1,1) step, state,
 * horizon variance and likelihood against hand values and brute force
 * (its fit recovering the parameters of series drawn from the model), and
 * the EWMA correlation against a direct computation on the common
 * timestamps.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "cascade/vol.h"
#include "ckrel.h"
#include "splitmix.h"

#define HOUR 3600
#define DAYS 86400
#define YEAR (365.0 * 86400.0)


static struct lc_vol_params
params(double H, double M, double W)
{
	struct lc_vol_params p;

	p.half_life_days = H;
	p.mean_reversion_days = M;
	p.window_days = W;
	return p;
}

/* ---- returns ----------------------------------------------------------- */

START_TEST(test_returns_gap)
{
	/* gaps: 1 h, exactly 7 days (kept), 7 days + 1 s (skipped), 90 s */
	int64_t t[] = { 0, HOUR, HOUR + 7 * DAYS, HOUR + 14 * DAYS + 1,
		HOUR + 14 * DAYS + 91 };
	double c[] = { 100.0, 110.0, 99.0, 50.0, 51.0 };
	struct lc_vol_return r[4];
	size_t n = 0;

	ck_assert_int_eq(lc_vol_returns(t, c, 5, r, &n), LC_OK);
	ck_assert_uint_eq(n, 3);
	ck_rel(r[0].r, log(1.1), 1e-15);
	ck_rel(r[0].dt, 3600.0 / YEAR, 1e-15);
	ck_assert(r[1].t == HOUR + 7 * DAYS);
	ck_rel(r[1].r, log(0.9), 1e-15);
	ck_rel(r[1].dt, 7.0 / 365.0, 1e-15);
	ck_assert(r[2].t == HOUR + 14 * DAYS + 91);
	ck_rel(r[2].r, log(51.0 / 50.0), 1e-15);
	ck_rel(r[2].dt, 90.0 / YEAR, 1e-15);
}
END_TEST

START_TEST(test_returns_bad)
{
	int64_t t[] = { 0, 10, 10 };
	double c[] = { 1.0, 2.0, 3.0 }, z[] = { 1.0, 0.0 }, nn[] = { 1.0,
		NAN };
	struct lc_vol_return r[2];
	size_t n;
	struct lc_vol_params p = params(11, 3, 0);
	struct lc_vol_estimate e;

	ck_assert_int_eq(lc_vol_returns(t, c, 3, r, &n), LC_EINVAL);
	ck_assert_int_eq(lc_vol_returns(t, z, 2, r, &n), LC_EINVAL);
	ck_assert_int_eq(lc_vol_returns(t, nn, 2, r, &n), LC_EINVAL);
	p.half_life_days = 0.0;
	ck_assert_int_eq(lc_vol_estimate(t, c, 2, &p, &e), LC_EINVAL);
	p = params(11, INFINITY, 0);
	ck_assert_int_eq(lc_vol_params_check(&p), LC_EINVAL);
	p = params(11, 3, -1);
	ck_assert_int_eq(lc_vol_params_check(&p), LC_EINVAL);
}
END_TEST

/* ---- estimators against closed forms ------------------------------------ */

/*
 * 101 hourly points whose returns alternate +a, -a (100 returns), then 50
 * returns alternating +b, -b every 2 hours.  T = the last time.
 */
#define NA 100
#define NB 50
static size_t
two_regimes(int64_t *t, double *c, double a, double b)
{
	size_t i, n = 0;
	double x = 0.0;

	t[n] = 0;
	c[n++] = 100.0;
	for (i = 0; i < NA; i++) {
		x += i % 2 ? -a : a;
		t[n] = t[n - 1] + HOUR;
		c[n++] = 100.0 * exp(x);
	}
	for (i = 0; i < NB; i++) {
		x += i % 2 ? -b : b;
		t[n] = t[n - 1] + 2 * HOUR;
		c[n++] = 100.0 * exp(x);
	}
	return n;
}

START_TEST(test_ewma_closed_form)
{
	int64_t t[NA + NB + 1];
	double c[NA + NB + 1], a = 0.01, b = 0.03, H = 1.5, q1, q2, S1, S2;
	double want;
	struct lc_vol_params p = params(H, 3, 0);
	struct lc_vol_estimate e;
	size_t n = two_regimes(t, c, a, b);

	ck_assert_int_eq(lc_vol_estimate(t, c, n, &p, &e), LC_OK);
	ck_assert(e.ewma_ok && e.long_run_ok && !e.window_ok);
	/* weights: second regime q2^k (k = 0..49 back from T), first
	 * regime 2^(-100 h / H) q1^k (k = 0..99) */
	q1 = pow(2.0, -1.0 / (24.0 * H));
	q2 = pow(2.0, -2.0 / (24.0 * H));
	S2 = (1.0 - pow(q2, NB)) / (1.0 - q2);
	S1 = pow(2.0, -100.0 / (24.0 * H)) * (1.0 - pow(q1, NA)) / (1.0 - q1);
	want = (a * a * S1 + b * b * S2) /
	    ((3600.0 * S1 + 7200.0 * S2) / YEAR);
	ck_rel(e.ewma_var, want, 1e-11);
	/* long run: every return (all within 730 days), unweighted */
	want = (NA * a * a + NB * b * b) / ((NA * 3600.0 + NB * 7200.0) /
	    YEAR);
	ck_rel(e.long_run_var, want, 1e-12);
}
END_TEST

START_TEST(test_window_boundary)
{
	int64_t t[NA + NB + 1];
	double c[NA + NB + 1], a = 0.01, b = 0.03;
	struct lc_vol_params p = params(11, 3, 122.0 / 24.0);
	struct lc_vol_estimate e;
	struct lc_vol_state st;
	size_t n = two_regimes(t, c, a, b);
	double v;

	/* 122 h: the 50 returns of the second regime (ages 0..98 h) and 22
	 * of the first (ages 100..121 h): 72 returns over 122 h */
	ck_assert_int_eq(lc_vol_estimate(t, c, n, &p, &e), LC_OK);
	ck_assert(e.window_ok);
	ck_rel(e.window_var, (22 * a * a + 50 * b * b) /
	    ((22 * 3600.0 + 50 * 7200.0) / YEAR), 1e-12);
	/* the state's window, fed in two calls, holds the same returns */
	ck_assert_int_eq(lc_vol_state_init(&st, &p), LC_OK);
	ck_assert_int_eq(lc_vol_append(&st, t, c, 60), LC_OK);
	ck_assert_int_eq(lc_vol_append(&st, t + 60, c + 60, n - 60), LC_OK);
	ck_assert_int_eq(lc_vol_state_window(&st, &v), LC_OK);
	ck_rel(v, e.window_var, 1e-12);
	ck_assert_uint_eq(st.window.len, 72);
	lc_vol_state_release(&st);
	/* 121 h: 71 returns, not enough (a status, not a NaN) */
	p.window_days = 121.0 / 24.0;
	ck_assert_int_eq(lc_vol_estimate(t, c, n, &p, &e), LC_OK);
	ck_assert(!e.window_ok);
	ck_assert(e.window_var == 0.0);
	ck_assert_int_eq(lc_vol_state_init(&st, &p), LC_OK);
	ck_assert_int_eq(lc_vol_append(&st, t, c, n), LC_OK);
	ck_assert_int_eq(lc_vol_state_window(&st, &v), LC_EDOMAIN);
	lc_vol_state_release(&st);
}
END_TEST

/* n + 1 points every `step` seconds with returns +-a. */
static void
regular(int64_t *t, double *c, size_t n, int64_t step, double a)
{
	size_t i;

	for (i = 0; i <= n; i++) {
		t[i] = (int64_t)i * step;
		c[i] = i % 2 ? 100.0 * exp(a) : 100.0;
	}
}

START_TEST(test_min_data_rule)
{
	int64_t t[80];
	double c[80];
	struct lc_vol_params p = params(11, 3, 0);
	struct lc_vol_estimate e;
	struct lc_vol_state st;
	double v;

	/* 72 hourly returns: exactly 3 days, enough; sigma^2 = a^2 / dt */
	regular(t, c, 72, HOUR, 0.02);
	ck_assert_int_eq(lc_vol_estimate(t, c, 73, &p, &e), LC_OK);
	ck_assert(e.ewma_ok && e.long_run_ok);
	ck_rel(e.ewma_var, 0.0004 / (3600.0 / YEAR), 1e-12);
	ck_rel(e.long_run_var, 0.0004 / (3600.0 / YEAR), 1e-12);
	/* 71 returns */
	ck_assert_int_eq(lc_vol_estimate(t, c, 72, &p, &e), LC_OK);
	ck_assert(!e.ewma_ok && !e.long_run_ok);
	/* 72 returns over 3 days minus 72 s */
	regular(t, c, 72, HOUR - 1, 0.02);
	ck_assert_int_eq(lc_vol_estimate(t, c, 73, &p, &e), LC_OK);
	ck_assert(!e.ewma_ok && !e.long_run_ok);
	/* the state says the same through its status */
	ck_assert_int_eq(lc_vol_state_init(&st, &p), LC_OK);
	ck_assert_int_eq(lc_vol_append(&st, t, c, 73), LC_OK);
	ck_assert_int_eq(lc_vol_state_ewma(&st, &v), LC_EDOMAIN);
	ck_assert_int_eq(lc_vol_state_long_run(&st, &v), LC_EDOMAIN);
	ck_assert_int_eq(lc_vol_state_blend(&st, 1.0, &v), LC_EDOMAIN);
	ck_assert_int_eq(lc_vol_state_window(&st, &v), LC_EDOMAIN);
	lc_vol_state_release(&st);
}
END_TEST

START_TEST(test_gap_not_counted)
{
	/* 40 hourly returns, a 10-day gap, 40 more: 80 returns, but the
	 * return across the gap is skipped, so sums see 1 h steps only */
	int64_t t[82];
	double c[82];
	struct lc_vol_params p = params(11, 3, 0);
	struct lc_vol_estimate e;
	size_t i;

	for (i = 0; i < 82; i++) {
		t[i] = (int64_t)i * HOUR + (i >= 41 ? 10 * DAYS : 0);
		c[i] = i % 2 ? 105.0 : 100.0;
	}
	ck_assert_int_eq(lc_vol_estimate(t, c, 82, &p, &e), LC_OK);
	ck_assert(e.long_run_ok);
	ck_rel(e.long_run_var, log(1.05) * log(1.05) / (3600.0 / YEAR),
	    1e-12);
	ck_rel(e.ewma_var, log(1.05) * log(1.05) / (3600.0 / YEAR), 1e-12);
}
END_TEST

START_TEST(test_blend)
{
	double e = 0.64, l = 0.25, h = 2.0, M = 3.0;
	double w = (1.0 - pow(2.0, -h / M)) / (log(2.0) * h / M);

	ck_rel(lc_vol_blend_weight(h, M), w, 1e-14);
	ck_rel(lc_vol_blend(e, l, h, M), sqrt(w * e + (1 - w) * l), 1e-14);
	/* short horizon: EWMA; long: long run */
	ck_rel(lc_vol_blend(e, l, 1e-9, M), 0.8, 1e-9);
	ck_rel(lc_vol_blend(e, l, 1e6, M), sqrt(l + (e - l) * M /
	    (log(2.0) * 1e6)), 1e-9);
}
END_TEST

/* ---- incremental == batch ------------------------------------------------ */

/* Irregular random walk: steps of 10 min .. 3 h, an 8-day gap now and
 * then; n points. */
static void
random_series(uint64_t *s, int64_t *t, double *c, size_t n)
{
	size_t i;
	double x = 0.0;

	t[0] = 1600000000;
	c[0] = 250.0;
	for (i = 1; i < n; i++) {
		int64_t dt = 600 + (int64_t)rng_below(s, 3 * HOUR);

		if (rng_below(s, 2000) == 0)
			dt += 8 * DAYS;
		t[i] = t[i - 1] + dt;
		x += (rng_unif(s) - 0.5) * 0.02 * (1.0 + (double)(i % 997) /
		    300.0);
		c[i] = 250.0 * exp(x);
	}
}

START_TEST(test_incremental_equals_batch)
{
	size_t n = 20000, done = 0;
	int64_t *t = malloc(n * sizeof(*t));
	double *c = malloc(n * sizeof(*c));
	uint64_t s = 42;
	struct lc_vol_params p = params(11, 3, 30);
	struct lc_vol_state st;
	int checks = 0, expired = 0;

	ck_assert(t != NULL && c != NULL);
	random_series(&s, t, c, n);
	/* ~3.4 years: the 730-day window loses returns on the way */
	ck_assert((double)(t[n - 1] - t[0]) > 800.0 * DAYS);
	ck_assert_int_eq(lc_vol_state_init(&st, &p), LC_OK);
	while (done < n) {
		size_t k = 1 + rng_below(&s, done < 500 ? 3 : 400);
		struct lc_vol_estimate e;
		double v;

		if (k > n - done)
			k = n - done;
		ck_assert_int_eq(lc_vol_append(&st, t + done, c + done, k),
		    LC_OK);
		done += k;
		ck_assert_int_eq(lc_vol_estimate(t, c, done, &p, &e), LC_OK);
		ck_assert_int_eq(lc_vol_state_ewma(&st, &v) == LC_OK,
		    e.ewma_ok);
		if (e.ewma_ok)
			ck_rel(v, e.ewma_var, 1e-12);
		ck_assert_int_eq(lc_vol_state_long_run(&st, &v) == LC_OK,
		    e.long_run_ok);
		if (e.long_run_ok)
			ck_rel(v, e.long_run_var, 1e-12);
		ck_assert_int_eq(lc_vol_state_window(&st, &v) == LC_OK,
		    e.window_ok);
		if (e.window_ok)
			ck_rel(v, e.window_var, 1e-12);
		if (e.ewma_ok && e.long_run_ok) {
			ck_assert_int_eq(lc_vol_state_blend(&st, 7.0, &v),
			    LC_OK);
			ck_rel(v, lc_vol_blend(e.ewma_var, e.long_run_var, 7.0,
			    3.0), 1e-12);
		}
		if ((double)(t[done - 1] - t[0]) > 731.0 * DAYS)
			expired = 1;
		checks++;
	}
	ck_assert(checks > 50 && expired);
	/* going back in time is refused */
	ck_assert_int_eq(lc_vol_append(&st, t, c, 1), LC_EINVAL);
	lc_vol_state_release(&st);
	free(t);
	free(c);
}
END_TEST

/* ---- range-based estimators --------------------------------------------- */

START_TEST(test_range_candle_hand)
{
	/* o 100, h 110, l 95, c 105; references from Python 3 math.log:
	 * ln(110/95)^2 / (4 ln 2), ln(110/95)^2 / 2 - (2 ln 2 - 1)
	 * ln(1.05)^2, ln(110/105) ln(1.1) + ln(95/105) ln(0.95), and the
	 * jump after a close of 98, ln(100/98)^2 */
	const double park = 0.007751809156810511, gk = 0.00982672327557351;
	const double rs = 0.009567441357749173, jump = 0.0004081493829573547;

	ck_rel(lc_vol_range_var(LC_VOL_PARKINSON, 0, 100, 110, 95, 105), park,
	    1e-14);
	ck_rel(lc_vol_range_var(LC_VOL_GARMAN_KLASS, 0, 100, 110, 95, 105), gk,
	    1e-14);
	ck_rel(lc_vol_range_var(LC_VOL_ROGERS_SATCHELL, 0, 100, 110, 95, 105),
	    rs, 1e-14);
	ck_rel(lc_vol_range_var(LC_VOL_PARKINSON, 98, 100, 110, 95, 105),
	    park + jump, 1e-14);
	ck_rel(lc_vol_range_var(LC_VOL_ROGERS_SATCHELL, 100, 100, 110, 95,
	    105), rs, 1e-14);
	/* a flat candle: nothing but the jump */
	ck_rel(lc_vol_range_var(LC_VOL_GARMAN_KLASS, 98, 100, 100, 100, 100),
	    jump, 1e-14);
	/* Rogers-Satchell is zero for a candle that only rises (h = c,
	 * l = o), Parkinson is not */
	ck_rel(lc_vol_range_var(LC_VOL_ROGERS_SATCHELL, 0, 100, 105, 100,
	    105), 0.0, 0);
	ck_assert(lc_vol_range_var(LC_VOL_PARKINSON, 0, 100, 105, 100, 105) >
	    0.0);
}
END_TEST

/*
 * n hourly candles o 100, h 110, l 95, c 100 (the last one h 120 l 90):
 * every candle after the first counts v over 1 h, the last v'.  With
 * f = 2^(-1 h / H) and S = sum_{k < n-1} f^k = (1 - f^(n-1)) / (1 - f):
 *   sigma^2 = (v S + v' - v) / (S h / year).
 */
START_TEST(test_range_ewma_closed_form)
{
	enum { N = 200 };
	struct lc_vol_range_state st;
	double H = 2.0, f = exp2(-1.0 / (24.0 * H)), S, v, v2, var;
	size_t i;
	int k;

	for (k = 0; k < 3; k++) {
		enum lc_vol_range_kind kind = (enum lc_vol_range_kind)k;

		ck_assert_int_eq(lc_vol_range_init(&st, kind, H), LC_OK);
		for (i = 0; i < N; i++) {
			int last = i == N - 1;

			ck_assert_int_eq(lc_vol_range_append(&st,
			    1000000 + (int64_t)i * HOUR, 100, last ? 120 : 110,
			    last ? 90 : 95, 100), LC_OK);
			if (i == LC_VOL_MIN_RETURNS)	/* 72 returns */
				ck_assert_int_eq(lc_vol_range_ewma(&st, &var),
				    LC_OK);
			if (i == LC_VOL_MIN_RETURNS - 1)	/* 71 */
				ck_assert_int_eq(lc_vol_range_ewma(&st, &var),
				    LC_EDOMAIN);
		}
		v = lc_vol_range_var(kind, 100, 100, 110, 95, 100);
		v2 = lc_vol_range_var(kind, 100, 100, 120, 90, 100);
		S = (1.0 - pow(f, N - 1)) / (1.0 - f);
		ck_assert_int_eq(lc_vol_range_ewma(&st, &var), LC_OK);
		ck_rel(var, (v * S + v2 - v) / (S * 3600.0 / YEAR), 1e-11);
		/* Parkinson by hand for this candle: ln(110/95)^2/(4 ln 2) */
		if (kind == LC_VOL_PARKINSON)
			ck_rel(v, 0.007751809156810511, 1e-14);
	}
}
END_TEST

START_TEST(test_range_gap_and_bad)
{
	struct lc_vol_range_state st;
	double var;
	size_t i;

	ck_assert_int_eq(lc_vol_range_init(&st, LC_VOL_PARKINSON, 0.0),
	    LC_EINVAL);
	ck_assert_int_eq(lc_vol_range_init(&st, (enum lc_vol_range_kind)7,
	    1.0), LC_EINVAL);
	ck_assert_int_eq(lc_vol_range_init(&st, LC_VOL_PARKINSON, 5.0), LC_OK);
	for (i = 0; i < 72; i++)
		ck_assert_int_eq(lc_vol_range_append(&st, (int64_t)i * HOUR,
		    100, 101, 99, 100), LC_OK);
	/* 71 returns: one short; a candle after an 8-day gap adds none */
	ck_assert_int_eq(lc_vol_range_ewma(&st, &var), LC_EDOMAIN);
	ck_assert_int_eq(lc_vol_range_append(&st, 71 * HOUR + 8 * DAYS, 100,
	    150, 50, 100), LC_OK);
	ck_assert_int_eq(lc_vol_range_ewma(&st, &var), LC_EDOMAIN);
	ck_assert_uint_eq(st.n_returns, 71);
	/* bad candles change nothing */
	ck_assert_int_eq(lc_vol_range_append(&st, 71 * HOUR + 8 * DAYS, 100,
	    101, 99, 100), LC_EINVAL);
	ck_assert_int_eq(lc_vol_range_append(&st, 72 * HOUR + 8 * DAYS, 100,
	    101, 100.5, 100), LC_EINVAL);
	ck_assert_int_eq(lc_vol_range_append(&st, 72 * HOUR + 8 * DAYS, 100,
	    99, 98, 100), LC_EINVAL);
	ck_assert_int_eq(lc_vol_range_append(&st, 72 * HOUR + 8 * DAYS, NAN,
	    101, 99, 100), LC_EINVAL);
	ck_assert_uint_eq(st.n_points, 73);
	/* the next hour counts: 72 returns, each v = ln(101/99)^2 / (4 ln 2)
	 * over 1 h (the gap candle's huge range never entered), so
	 * whatever the weights sigma^2 = v / 1 h */
	ck_assert_int_eq(lc_vol_range_append(&st, 72 * HOUR + 8 * DAYS, 100,
	    101, 99, 100), LC_OK);
	ck_assert_int_eq(lc_vol_range_ewma(&st, &var), LC_OK);
	ck_rel(var, log(101.0 / 99.0) * log(101.0 / 99.0) / (4.0 * log(2.0)) /
	    (3600.0 / YEAR), 1e-12);
}
END_TEST

/* ---- correlation --------------------------------------------------------- */

/* Direct: look each time of a up in b (linear scan), returns on the
 * common points, weights from the last common time. */
static int
corr_direct(const int64_t *ta, const double *ca, size_t na,
    const int64_t *tb, const double *cb, size_t nb, double H, double *rho)
{
	size_t i, j, m = 0, cnt = 0;
	int64_t *ct = malloc(na * sizeof(*ct));
	double *xa = malloc(na * sizeof(*xa)), *xb = malloc(na * sizeof(*xb));
	double sab = 0, saa = 0, sbb = 0;

	for (i = 0; i < na; i++)
		for (j = 0; j < nb; j++)
			if (tb[j] == ta[i]) {
				ct[m] = ta[i];
				xa[m] = ca[i];
				xb[m++] = cb[j];
			}
	for (i = 1; i < m; i++) {
		double w, ra, rb;

		if (ct[i] - ct[i - 1] > 7 * DAYS)
			continue;
		w = pow(2.0, -(double)(ct[m - 1] - ct[i]) / (H * DAYS));
		ra = log(xa[i] / xa[i - 1]);
		rb = log(xb[i] / xb[i - 1]);
		sab += w * ra * rb;
		saa += w * ra * ra;
		sbb += w * rb * rb;
		cnt++;
	}
	free(ct);
	free(xa);
	free(xb);
	*rho = sab / sqrt(saa * sbb);
	return (int)cnt;
}

START_TEST(test_correlation)
{
	enum { N = 600 };
	int64_t ta[N], tb[N];
	double ca[N], cb[N], xa = 0, xb = 0, rho, want;
	uint64_t s = 7;
	size_t i, na = 0, nb = 0;
	int cnt;

	/* hourly clock; each series misses some hours; a 9-day hole */
	for (i = 0; i < N; i++) {
		int64_t tt = (int64_t)i * HOUR + (i > 300 ? 9 * DAYS : 0);
		double z1 = rng_unif(&s) - 0.5, z2 = rng_unif(&s) - 0.5;

		xa += 0.01 * z1;
		xb += 0.01 * (0.6 * z1 + 0.8 * z2);
		if (rng_below(&s, 10) != 0) {
			ta[na] = tt;
			ca[na++] = 10.0 * exp(xa);
		}
		if (rng_below(&s, 7) != 0) {
			tb[nb] = tt;
			cb[nb++] = 3.0 * exp(xb);
		}
	}
	cnt = corr_direct(ta, ca, na, tb, cb, nb, 11.0, &want);
	ck_assert_int_gt(cnt, 300);
	ck_assert_int_eq(lc_vol_correlation(ta, ca, na, tb, cb, nb, 11.0,
	    &rho), LC_OK);
	ck_rel(rho, want, 1e-12);
	ck_assert(rho > 0.3 && rho < 0.9);
	/* a series with itself: 1; with its reciprocal: -1 */
	ck_assert_int_eq(lc_vol_correlation(ta, ca, na, ta, ca, na, 11.0,
	    &rho), LC_OK);
	ck_rel(rho, 1.0, 1e-15);
	for (i = 0; i < na; i++)
		cb[i] = 1.0 / ca[i];
	ck_assert_int_eq(lc_vol_correlation(ta, ca, na, ta, cb, na, 11.0,
	    &rho), LC_OK);
	ck_rel(rho, -1.0, 1e-15);
}
END_TEST

START_TEST(test_correlation_too_few)
{
	int64_t t[80];
	double a[80], b[80], rho = 42.0;
	size_t i;

	for (i = 0; i < 80; i++) {
		t[i] = (int64_t)i * HOUR;
		a[i] = 1.0 + 0.1 * (double)(i % 3);
		b[i] = 2.0 + 0.1 * (double)(i % 5);
	}
	/* 73 common points: 72 returns */
	ck_assert_int_eq(lc_vol_correlation(t, a, 73, t, b, 80, 11.0, &rho),
	    LC_OK);
	ck_assert(rho >= -1.0 && rho <= 1.0);
	rho = 42.0;
	ck_assert_int_eq(lc_vol_correlation(t, a, 72, t, b, 80, 11.0, &rho),
	    LC_EDOMAIN);
	ck_assert(rho == 42.0);
	/* disjoint times: nothing in common */
	ck_assert_int_eq(lc_vol_correlation(t, a, 40, t + 40, b, 40, 11.0,
	    &rho), LC_EDOMAIN);
}
END_TEST

/* ---- GARCH(1,1) term structure ------------------------------------------- */

START_TEST(test_garch_step_hand)
{
	struct lc_vol_garch_params g = { 0.1, 0.8 };
	struct lc_vol_garch_params bad[] = { { -0.1, 0.5 }, { 0.5, 0.5 },
		{ 0.2, NAN }, { 0.0, 1.0 } };
	double n = 2.5, pn = pow(0.9, n);
	size_t i;

	ck_assert_int_eq(lc_vol_garch_check(&g), LC_OK);
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		ck_assert_int_eq(lc_vol_garch_check(&bad[i]), LC_EINVAL);
	/* n = 1: 0.1 * 0.5 + 0.1 * 1.0 + 0.8 * 0.4 = 0.47 */
	ck_rel(lc_vol_garch_step(&g, 0.4, 1.0, 0.5, 1.0), 0.47, 1e-15);
	/* n = 2: phi^2 = 0.81, beta^2 = 0.64:
	 * 0.5 * 0.19 + 0.17 * 1.0 + 0.64 * 0.4 = 0.521 */
	ck_rel(lc_vol_garch_step(&g, 0.4, 1.0, 0.5, 2.0), 0.521, 1e-15);
	/* news equal to the expectation (x = v): the n-step forecast
	 * V + phi^n (v - V), for a fractional n too */
	ck_rel(lc_vol_garch_step(&g, 0.4, 0.4, 0.5, n), 0.5 + pn * (0.4 - 0.5),
	    1e-14);
}
END_TEST

/* The horizon variance against the brute-force mean of the forecasts. */
START_TEST(test_garch_horizon_brute)
{
	struct lc_vol_garch_params g = { 0.01, 0.985 };
	static const double hs[] = { 1.0, 7.0, 30.0, 0.5 };
	double v = 0.9, V = 0.36;
	size_t i;

	for (i = 0; i < sizeof(hs) / sizeof(*hs); i++) {
		int N = (int)(hs[i] * 24.0 + 0.5), k;
		double sum = 0.0, f = v - V;

		for (k = 0; k < N; k++) {
			sum += V + f;
			f *= g.alpha + g.beta;
		}
		ck_rel(lc_vol_garch_horizon_var(&g, v, V, hs[i]), sum / N,
		    1e-12);
	}
	/* phi = 0: the first hour at v, the rest at V */
	g.alpha = g.beta = 0.0;
	ck_rel(lc_vol_garch_horizon_var(&g, v, V, 1.0), V + (v - V) / 24.0,
	    1e-14);
}
END_TEST

/*
 * Hourly points whose returns are all +-r: x = r^2 / (1 h in years) every
 * step, so from v0 = V the state is v_k = v* + beta^k (V - v*), v* =
 * ((1 - phi) V + alpha x) / (1 - beta).  Then an 8-day gap only decays.
 */
START_TEST(test_garch_state_hand)
{
	struct lc_vol_garch_params g = { 0.05, 0.9 };
	struct lc_vol_garch_state st;
	double V = 0.3, r = 0.01, x = r * r * 8760.0, vs, vk, sigma, c = 100.0;
	int64_t t = 1000000;
	int k;

	ck_assert_int_eq(lc_vol_garch_init(&st, &g), LC_OK);
	/* no level yet: nothing starts */
	ck_assert_int_eq(lc_vol_garch_append(&st, t, c, 0, 0.0), LC_OK);
	ck_assert_int_eq(lc_vol_garch_sigma(&st, 1.0, &sigma), LC_EDOMAIN);
	t += HOUR;
	c *= exp(r);
	ck_assert_int_eq(lc_vol_garch_append(&st, t, c, 1, V), LC_OK);
	ck_assert_int_eq(lc_vol_garch_sigma(&st, 1.0, &sigma), LC_OK);
	ck_rel(sigma, sqrt(V), 1e-15);
	for (k = 1; k <= 10; k++) {
		t += HOUR;
		c *= exp(k % 2 ? -r : r);
		ck_assert_int_eq(lc_vol_garch_append(&st, t, c, 1, V), LC_OK);
	}
	vs = ((1.0 - 0.95) * V + 0.05 * x) / (1.0 - 0.9);
	vk = vs + pow(0.9, 10) * (V - vs);
	ck_rel(st.v, vk, 1e-12);
	ck_assert_int_eq(lc_vol_garch_sigma(&st, 7.0, &sigma), LC_OK);
	ck_rel(sigma * sigma, lc_vol_garch_horizon_var(&g, vk, V, 7.0),
	    1e-14);
	/* a gap of 8 days (192 h): no news, v' = V + phi^192 (v - V) */
	t += 8 * DAYS;
	ck_assert_int_eq(lc_vol_garch_append(&st, t, c * 2.0, 1, V), LC_OK);
	ck_rel(st.v, V + pow(0.95, 192) * (vk - V), 1e-12);
	ck_assert_uint_eq(st.n_steps, 10);
	/* bad input leaves the state as it was */
	ck_assert_int_eq(lc_vol_garch_append(&st, t, c, 1, V), LC_EINVAL);
	ck_assert_int_eq(lc_vol_garch_append(&st, t + 1, -1.0, 1, V),
	    LC_EINVAL);
	ck_assert_int_eq(lc_vol_garch_append(&st, t + 1, c, 1, NAN),
	    LC_EINVAL);
	g.beta = 0.95;
	ck_assert_int_eq(lc_vol_garch_init(&st, &g), LC_EINVAL);
}
END_TEST

/*
 * Range news: hourly candles o = previous close, h = o e^0.02, l =
 * o e^-0.01, c = o: the news is the Parkinson u = 0.03^2 / (4 ln 2)
 * every step (no jump), so v_k = v* + beta^k (V - v*) with x = u / dt.
 */
START_TEST(test_garch_range_hand)
{
	struct lc_vol_garch_params g = { 0.05, 0.9 };
	struct lc_vol_garch_state st;
	double V = 0.3, u = 0.0009 / (4.0 * log(2.0)), x = u * 8760.0, vs;
	int64_t t = 5000000;
	int k;

	ck_assert_int_eq(lc_vol_garch_init(&st, &g), LC_OK);
	for (k = 0; k <= 12; k++, t += HOUR)
		ck_assert_int_eq(lc_vol_garch_append_range(&st,
		    LC_VOL_PARKINSON, t, 100, 100 * exp(0.02),
		    100 * exp(-0.01), 100, k >= 2, V), LC_OK);
	/* started at k = 2, then 10 steps */
	vs = ((1.0 - 0.95) * V + 0.05 * x) / (1.0 - 0.9);
	ck_rel(st.v, vs + pow(0.9, 10) * (V - vs), 1e-12);
	ck_assert_int_eq(lc_vol_garch_append_range(&st, LC_VOL_PARKINSON, t,
	    100, 99, 98, 100, 1, V), LC_EINVAL);
	ck_assert_int_eq(lc_vol_garch_append_range(&st,
	    (enum lc_vol_range_kind)9, t, 100, 101, 99, 100, 1, V), LC_EINVAL);
}
END_TEST

/* Standard normal (Box-Muller) from the suite's generator. */
static double
gauss(uint64_t *s)
{
	double u1 = rng_unif(s), u2 = rng_unif(s);

	if (u1 <= 0.0)
		u1 = 0x1p-60;
	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/*
 * n hourly closes drawn from the estimator's own model: the level V is
 * the 730-day long run of the path so far (until it has data, V0), each
 * return r = sqrt(v dt) z, z normal, then the GARCH step.
 */
static void
garch_path(uint64_t seed, const struct lc_vol_garch_params *g, double V0,
    int64_t *t, double *c, size_t n)
{
	struct lc_vol_params p = params(11, 3, 0);
	struct lc_vol_state st;
	double v = V0, V = V0, dt = 1.0 / 8760.0;
	uint64_t s = seed;
	size_t i;

	ck_assert_int_eq(lc_vol_state_init(&st, &p), LC_OK);
	for (i = 0; i < n; i++) {
		t[i] = 1500000000 + (int64_t)i * HOUR;
		c[i] = i == 0 ? 100.0 : c[i - 1] * exp(sqrt(v * dt) *
		    gauss(&s));
		ck_assert_int_eq(lc_vol_append(&st, &t[i], &c[i], 1), LC_OK);
		if (i > 0) {
			double r = log(c[i] / c[i - 1]);

			v = lc_vol_garch_step(g, v, r * r / dt, V, 1.0);
		}
		if (lc_vol_state_long_run(&st, &V) != LC_OK)
			V = V0;
	}
	lc_vol_state_release(&st);
}

/*
 * Maximum likelihood on series drawn from the model recovers its
 * parameters (3 x 1.5 years hourly, 39,000 returns: the standard errors
 * of alpha and beta are about 0.005 and 0.01), and its minimum is no
 * higher than the likelihood at the truth.
 */
START_TEST(test_garch_fit_recovers)
{
	enum { N = 13000 };
	static const struct lc_vol_garch_params truth[] = { { 0.06, 0.90 },
		{ 0.02, 0.97 } };
	static int64_t t[3][N];
	static double c[3][N];
	struct lc_vol_series ser[3];
	struct lc_vol_garch_params fit;
	double nll, nll_true;
	size_t k, i, n_obs, n2;

	for (k = 0; k < 2; k++) {
		for (i = 0; i < 3; i++) {
			garch_path(100 * k + i + 1, &truth[k], 0.5, t[i], c[i],
			    N);
			ser[i].t = t[i];
			ser[i].close = c[i];
			ser[i].n = N;
		}
		ck_assert_int_eq(lc_vol_garch_fit(ser, 3, 0.0, &fit, &nll,
		    &n_obs), LC_OK);
		ck_assert_uint_eq(n_obs, 3 * (N - 73));
		ck_assert_msg(fabs(fit.alpha - truth[k].alpha) < 0.02 &&
		    fabs(fit.beta - truth[k].beta) < 0.03,
		    "truth %g %g fit %g %g", truth[k].alpha, truth[k].beta,
		    fit.alpha, fit.beta);
		ck_assert_int_eq(lc_vol_garch_nll(ser, 3, 0.0, &truth[k],
		    &nll_true, &n2), LC_OK);
		ck_assert_uint_eq(n2, n_obs);
		ck_assert(nll <= nll_true + 1e-6 * fabs(nll_true));
	}
	/* too little data, bad tail */
	ser[0].n = 60;
	ck_assert_int_eq(lc_vol_garch_fit(ser, 1, 0.0, &fit, &nll, &n_obs),
	    LC_EDOMAIN);
	ck_assert_int_eq(lc_vol_garch_fit(ser, 1, 1.5, &fit, &nll, &n_obs),
	    LC_EINVAL);
}
END_TEST

/*
 * The likelihood by hand on a short series: constant V, returns +-r, a
 * Student-t with nu = 4: each scored return adds
 * -ln G(5/2) + ln G(2) + ln(2 pi)/2 + ln(v dt)/2 + 5/2 ln(1 + z^2/2).
 */
START_TEST(test_garch_nll_hand)
{
	enum { N = 80 };
	struct lc_vol_garch_params g = { 0.05, 0.9 };
	struct lc_vol_series ser;
	struct lc_vol_garch_state st;
	struct lc_vol_estimate est;
	struct lc_vol_params p = params(11, 3, 0);
	int64_t t[N];
	double c[N], nll, ref = 0.0, dt = 1.0 / 8760.0, v, V;
	size_t i, n_obs, scored = 0;

	for (i = 0; i < N; i++) {
		t[i] = 2000000 + (int64_t)i * HOUR;
		c[i] = 100.0 * exp(i % 2 ? 0.01 : -0.01);
	}
	/* the long run has data from point 72 on (72 returns), where it
	 * is r^2 / dt exactly; the state starts there */
	ck_assert_int_eq(lc_vol_estimate(t, c, 73, &p, &est), LC_OK);
	ck_assert(est.long_run_ok);
	V = est.long_run_var;
	ck_rel(V, 0.02 * 0.02 * 8760.0, 1e-12);
	ck_assert_int_eq(lc_vol_garch_init(&st, &g), LC_OK);
	v = V;
	for (i = 73; i < N; i++) {
		double z2 = 0.0004 / (v * dt);

		ref -= lgamma(2.5) - lgamma(2.0) - 0.5 * log(2.0 * M_PI) -
		    0.5 * log(v * dt) - 2.5 * log(1.0 + z2 / 2.0);
		v = (1.0 - 0.95) * V + 0.05 * 0.0004 / dt + 0.9 * v;
		scored++;
	}
	ser.t = t;
	ser.close = c;
	ser.n = N;
	ck_assert_int_eq(lc_vol_garch_nll(&ser, 1, 4.0, &g, &nll, &n_obs),
	    LC_OK);
	ck_assert_uint_eq(n_obs, scored);
	ck_rel(nll, ref, 1e-12);
}
END_TEST

static Suite *
vol_suite(void)
{
	Suite *s = suite_create("vol");
	TCase *tc;

	tc = tcase_create("returns");
	tcase_add_test(tc, test_returns_gap);
	tcase_add_test(tc, test_returns_bad);
	suite_add_tcase(s, tc);
	tc = tcase_create("estimators");
	tcase_add_test(tc, test_ewma_closed_form);
	tcase_add_test(tc, test_window_boundary);
	tcase_add_test(tc, test_min_data_rule);
	tcase_add_test(tc, test_gap_not_counted);
	tcase_add_test(tc, test_blend);
	suite_add_tcase(s, tc);
	tc = tcase_create("incremental");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_incremental_equals_batch);
	suite_add_tcase(s, tc);
	tc = tcase_create("garch");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_garch_step_hand);
	tcase_add_test(tc, test_garch_horizon_brute);
	tcase_add_test(tc, test_garch_state_hand);
	tcase_add_test(tc, test_garch_range_hand);
	tcase_add_test(tc, test_garch_nll_hand);
	tcase_add_test(tc, test_garch_fit_recovers);
	suite_add_tcase(s, tc);
	tc = tcase_create("correlation");
	tcase_add_test(tc, test_range_candle_hand);
	tcase_add_test(tc, test_range_ewma_closed_form);
	tcase_add_test(tc, test_range_gap_and_bad);
	tcase_add_test(tc, test_correlation);
	tcase_add_test(tc, test_correlation_too_few);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(vol_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * vol.h - volatility from price history (docs/model.md section 9): log
 * returns of a close series, the EWMA and long-run variances, their
 * horizon blend, the realised estimator over a window of days, an
 * incremental state that appends candles in O(new + leaving), the
 * range-based (Parkinson, Garman-Klass, Rogers-Satchell) EWMA of candles,
 * a GARCH(1,1) term structure (incremental, and its maximum-likelihood
 * fit) and the EWMA correlation of two series.
 *
 * Ownership: every input array is const and borrowed for the call only.
 * A struct lc_vol_state is caller-owned; lc_vol_state_init() gives it no
 * heap memory, lc_vol_append() may allocate (its window buffers) and
 * lc_vol_state_release() frees them (also on a half-built or zeroed
 * state).  lc_vol_garch_fit/nll allocate scratch freed before they
 * return.  Nothing else allocates.
 *
 * Status: LC_EINVAL for bad input (times not strictly increasing, a close
 * that is not finite and positive, parameters out of range), LC_EDOMAIN
 * for "not enough data" (fewer than LC_VOL_MIN_RETURNS returns or less
 * than LC_VOL_MIN_SPAN_DAYS covered): never a NaN.  Volatilities are
 * annualised (365-day years), like the market's `volatility`.
 */
#ifndef CASCADE_VOL_H
#define CASCADE_VOL_H

#include <stdint.h>

#include "cascade/common.h"

#define LC_VOL_DAY_SECONDS 86400
#define LC_VOL_YEAR_SECONDS (365.0 * 86400.0)
/* A return across a gap longer than this is skipped. */
#define LC_VOL_MAX_GAP_SECONDS (7 * 86400)
/* The minimum-data rule: this many returns, covering this many days. */
#define LC_VOL_MIN_RETURNS 72
#define LC_VOL_MIN_SPAN_DAYS 3
/* The long-run window. */
#define LC_VOL_LONG_RUN_DAYS 730.0
/*
 * EWMA half-life H and mean-reversion half-life M of the horizon blend
 * (days), the service defaults: the best mean log score of the backtest
 * on the forecasts of 2018-2021 (Binance hourly BTC ETH LINK SOL BNB),
 * checked on 2022 onwards (`make calibration`, docs/calibration.md).
 */
#define LC_VOL_DEFAULT_HALF_LIFE_DAYS 2.0
#define LC_VOL_DEFAULT_MEAN_REVERSION_DAYS 5.0
/* Largest accepted half-life, mean-reversion or window length (days). */
#define LC_VOL_MAX_DAYS 36500.0

/* One log return r = ln(c_i / c_{i-1}) ending at t (unix seconds). */
struct lc_vol_return {
	int64_t t;
	int64_t dt_seconds;	/* t_i - t_{i-1} (at most the gap limit) */
	double r;
	double dt;		/* dt_seconds in 365-day years */
};

/*
 * Returns of the series (t strictly increasing, close finite > 0), the
 * ones across a gap longer than LC_VOL_MAX_GAP_SECONDS skipped.  out has
 * room for n - 1 entries (n >= 1; caller-owned); *nout gets the count.
 */
enum lc_status lc_vol_returns(const int64_t *t, const double *close,
    size_t n, struct lc_vol_return *out, size_t *nout);

struct lc_vol_params {
	double half_life_days;		/* H > 0 */
	double mean_reversion_days;	/* M > 0 (blend only) */
	double window_days;		/* realised window, 0 = none */
};

/* H, M the defaults above, no realised window. */
void lc_vol_params_default(struct lc_vol_params *p);
/* LC_OK when every field is in range (finite, (0, LC_VOL_MAX_DAYS]). */
enum lc_status lc_vol_params_check(const struct lc_vol_params *p);

/*
 * The variances of one series at T = its last time, computed directly
 * from the formulas (the batch reference of the incremental state).
 * *_ok is 1 when the minimum-data rule holds for that estimator, and the
 * matching *_var (annualised variance) is then set; else 0.
 */
struct lc_vol_estimate {
	int ewma_ok, long_run_ok, window_ok;
	double ewma_var, long_run_var, window_var;
};

enum lc_status lc_vol_estimate(const int64_t *t, const double *close,
    size_t n, const struct lc_vol_params *p, struct lc_vol_estimate *out);

/*
 * Horizon blend sigma(h) = sqrt(w sigma_ewma^2 + (1 - w) sigma_lr^2),
 * w = (1 - exp(-kappa h)) / (kappa h), kappa = ln 2 / M.  horizon_days
 * > 0.  The weight alone is lc_vol_blend_weight().
 */
double lc_vol_blend_weight(double horizon_days, double mean_reversion_days);
double lc_vol_blend(double ewma_var, double long_run_var, double horizon_days,
    double mean_reversion_days);

/* ---- range-based estimators (candles with true highs and lows) -------- */

enum lc_vol_range_kind {
	LC_VOL_PARKINSON = 0,
	LC_VOL_GARMAN_KLASS,
	LC_VOL_ROGERS_SATCHELL
};

/*
 * The variance (log units, not annualised) of one candle (o, h, l, c)
 * opened after a close prev_close: the jump ln(o / prev_close)^2 plus
 *   Parkinson        ln(h/l)^2 / (4 ln 2),
 *   Garman-Klass     ln(h/l)^2 / 2 - (2 ln 2 - 1) ln(c/o)^2,
 *   Rogers-Satchell  ln(h/c) ln(h/o) + ln(l/c) ln(l/o),
 * each >= 0 for such a candle (a floor at 0 guards rounding).
 * prev_close <= 0: no jump term.  Prices must be finite, > 0, l <= min(o, c), max(o, c) <= h.
 */
double lc_vol_range_var(enum lc_vol_range_kind k, double prev_close,
    double o, double h, double l, double c);

/*
 * EWMA of the candles' variances, like the EWMA of returns: candle i
 * (opening at t_i, after the previous candle's opening t_{i-1}) counts
 * v_i over dt_i = t_i - t_{i-1} (the gap rule skips the candles after a
 * gap), w_i = 2^(-(T - t_i)/H), sigma^2 = sum w v / sum w dt (per year).
 * Incremental: O(1) per candle, no heap memory.
 */
struct lc_vol_range_state {
	enum lc_vol_range_kind kind;
	double half_life_days;
	size_t n_points, n_returns;
	int64_t t_last, dt_seconds;
	double c_last, ew_v, ew_dt;
};

/* LC_EINVAL: a bad kind or half-life (state zeroed). */
enum lc_status lc_vol_range_init(struct lc_vol_range_state *st,
    enum lc_vol_range_kind k, double half_life_days);
/* One candle; LC_EINVAL (state unchanged) for a time not after the last
 * or prices that break the rule above. */
enum lc_status lc_vol_range_append(struct lc_vol_range_state *st, int64_t t,
    double o, double h, double l, double c);
/* sigma^2 annualised at T; LC_EDOMAIN under the minimum-data rule. */
enum lc_status lc_vol_range_ewma(const struct lc_vol_range_state *st,
    double *var);

/* ---- GARCH(1,1) term structure ------------------------------------------ */

/*
 * A GARCH(1,1) on the returns, per unit time, the level targeted at the
 * long-run variance V (the 730-day estimator, at each point): with
 * phi = alpha + beta, x = r^2 / dt (the return's annualised square) and
 * n = dt / LC_VOL_GARCH_PERIOD_SECONDS periods,
 *   v' = V (1 - phi^n) + (phi^n - beta^n) x + beta^n v,
 * which is the GARCH(1,1) step  v' = (1 - phi) V + alpha x + beta v  for
 * n = 1, and for any n keeps E v' = V + phi^n (v - V) when E x = v.
 * v is the variance the model expects for the next period (annualised).
 * A skipped return (gap) only decays: v' = V + phi^n (v - V).  The state
 * starts at v = V when V first has enough data.  Horizon h days, N = h
 * days in periods: the mean of the forecasts over the horizon,
 *   sigma(h)^2 = V + (v - V) (1 - phi^N) / (N (1 - phi)).
 * alpha and beta are fitted by maximum likelihood (lc_vol_garch_fit).
 */
#define LC_VOL_GARCH_PERIOD_SECONDS 3600
/*
 * The defaults fitted by the backtest's log score on 2018-2021 (`make
 * calibration`, docs/calibration.md): close-to-close news (`garch`), and
 * the candles' Parkinson variance as the news (`garch-parkinson`, what
 * the service shows beside its blend).
 */
#define LC_VOL_GARCH_DEFAULT_ALPHA 0.015
#define LC_VOL_GARCH_DEFAULT_BETA 0.982
#define LC_VOL_GARCH_PARKINSON_DEFAULT_ALPHA 0.03
#define LC_VOL_GARCH_PARKINSON_DEFAULT_BETA 0.965

struct lc_vol_garch_params {
	double alpha, beta;	/* alpha, beta >= 0, alpha + beta < 1 */
};

/* LC_OK when finite, alpha >= 0, beta >= 0 and alpha + beta < 1. */
enum lc_status lc_vol_garch_check(const struct lc_vol_garch_params *g);
/* One step from v over n periods with annualised square x and level V. */
double lc_vol_garch_step(const struct lc_vol_garch_params *g, double v,
    double x, double V, double n);
/* The mean forecast variance over horizon_days > 0 (formula above). */
double lc_vol_garch_horizon_var(const struct lc_vol_garch_params *g,
    double v, double V, double horizon_days);

/* Incremental GARCH of one series: O(1) per point, no heap memory. */
struct lc_vol_garch_state {
	struct lc_vol_garch_params params;
	size_t n_points, n_steps;	/* points; returns since the start */
	int64_t t_last;
	double c_last;
	int started;			/* v and V are set */
	double v, V;			/* next-period and long-run variances */
};

/* LC_EINVAL for bad params (state zeroed). */
enum lc_status lc_vol_garch_init(struct lc_vol_garch_state *g,
    const struct lc_vol_garch_params *p);
/*
 * One point (t after the last, close finite > 0) with the long-run
 * variance V at t (the caller's lc_vol_state_long_run after appending the
 * same point; V_ok 0 when it has not enough data: the state waits).
 */
enum lc_status lc_vol_garch_append(struct lc_vol_garch_state *g, int64_t t,
    double close, int V_ok, double V);
/*
 * The same with a candle's range variance as the news (x = u / dt, u =
 * lc_vol_range_var of the candle after the previous close) in place of
 * r^2 / dt; the candle's close is the point.  LC_EINVAL also for prices
 * that break l <= min(o, c), max(o, c) <= h or a bad kind.
 */
enum lc_status lc_vol_garch_append_range(struct lc_vol_garch_state *g,
    enum lc_vol_range_kind k, int64_t t, double o, double h, double l,
    double c, int V_ok, double V);
/* sigma(h) (annualised); LC_EDOMAIN before the start. */
enum lc_status lc_vol_garch_sigma(const struct lc_vol_garch_state *g,
    double horizon_days, double *sigma);

/* One price series for the fit (borrowed arrays, t strictly increasing). */
struct lc_vol_series {
	const int64_t *t;
	const double *close;
	size_t n;
};

/*
 * Maximum likelihood of (alpha, beta) over the series together: each
 * return after the start has the law r = sqrt(v dt) z, v the state's
 * variance before it, z a standardized Student-t with tail_dof (0:
 * normal); minus the summed log-likelihood is minimised by Nelder-Mead
 * over phi = alpha + beta in (0, 1) and alpha / phi in (0, 1) (logits).
 * *nll gets that minimum, *n_obs the returns counted.  LC_EDOMAIN: no
 * return after a start; LC_EINVAL: a bad series or tail_dof; LC_ENOMEM.
 */
enum lc_status lc_vol_garch_fit(const struct lc_vol_series *s, size_t k,
    double tail_dof, struct lc_vol_garch_params *out, double *nll,
    size_t *n_obs);
/* Minus the log-likelihood of given params on the series (same rules). */
enum lc_status lc_vol_garch_nll(const struct lc_vol_series *s, size_t k,
    double tail_dof, const struct lc_vol_garch_params *p, double *nll,
    size_t *n_obs);

/* ---- incremental state ------------------------------------------------- */

/* A compensated (Neumaier) sum: value s + c. */
struct lc_vol_ksum {
	double s, c;
};

/* Returns of the last `days` days, oldest first, and their sums. */
struct lc_vol_window {
	double days;			/* 0: unused */
	struct lc_vol_return *buf;	/* ring, cap entries */
	size_t head, len, cap;
	struct lc_vol_ksum r2;		/* sum r^2 over the window */
	int64_t dt_seconds;		/* sum of dt (exact) */
};

struct lc_vol_state {
	struct lc_vol_params params;
	size_t n_points;
	int64_t t_last;			/* T, the last time appended */
	double c_last;
	/* EWMA sums at T: sum w r^2, sum w dt; every return's count and
	 * covered seconds for the minimum-data rule. */
	double ew_r2, ew_dt;
	size_t n_returns;
	int64_t dt_seconds;
	struct lc_vol_window long_run, window;
};

/* params must pass lc_vol_params_check (else LC_EINVAL, state empty). */
enum lc_status lc_vol_state_init(struct lc_vol_state *st,
    const struct lc_vol_params *p);
/*
 * Append n points, all later than the last one and strictly increasing.
 * On LC_EINVAL the points before the bad one are in and the state is
 * consistent; after LC_ENOMEM it may only be released.
 */
enum lc_status lc_vol_append(struct lc_vol_state *st, const int64_t *t,
    const double *close, size_t n);
/* The estimators at T (LC_EDOMAIN: not enough data); *var annualised. */
enum lc_status lc_vol_state_ewma(const struct lc_vol_state *st, double *var);
enum lc_status lc_vol_state_long_run(const struct lc_vol_state *st,
    double *var);
enum lc_status lc_vol_state_window(const struct lc_vol_state *st,
    double *var);
/* sigma(h) of the blend (both estimators needed). */
enum lc_status lc_vol_state_blend(const struct lc_vol_state *st,
    double horizon_days, double *sigma);
void lc_vol_state_release(struct lc_vol_state *st);

/*
 * EWMA correlation of two series on their common timestamps: the returns
 * of the points at timestamps both series hold (gap rule applied), w_i =
 * 2^(-(T - t_i)/H), T the last common time, rho = sum w ra rb /
 * sqrt(sum w ra^2 sum w rb^2).  LC_EDOMAIN with fewer than
 * LC_VOL_MIN_RETURNS common returns or a zero denominator.
 */
enum lc_status lc_vol_correlation(const int64_t *ta, const double *ca,
    size_t na, const int64_t *tb, const double *cb, size_t nb,
    double half_life_days, double *rho);

#endif

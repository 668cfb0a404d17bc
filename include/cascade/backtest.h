/*
 * backtest.h - scoring the barrier probabilities of docs/model.md section
 * 5 on price history the estimator did not see (section 9.1): daily
 * forecasts, their outcomes, and calibration metrics per asset and pooled
 * per horizon and direction (Brier, log score, O/E, reliability table,
 * coverage with Kupiec's and Christoffersen's tests).
 *
 * Ownership: inputs (assets, candles, option arrays) are const and
 * borrowed for the call.  lc_bt_run() fills a caller-owned struct
 * lc_bt_report whose `results` array it allocates; lc_bt_report_release()
 * frees it (NULL, zeroed or half-built reports too).  The accumulator
 * functions write only into the caller's structs.
 *
 * Undefined metrics (a mean over nothing, a p-value whose statistic is
 * undefined) are NAN in the structs; a JSON writer prints them as null.
 */
#ifndef CASCADE_BACKTEST_H
#define CASCADE_BACKTEST_H

#include <stdint.h>

#include "cascade/common.h"
#include "cascade/vol.h"

/* One candle: opening time (unix seconds) and prices. */
struct lc_candle {
	int64_t t;
	double open, high, low, close;
};

struct lc_bt_asset {
	const char *name;		/* borrowed, echoed by the caller */
	const struct lc_candle *candles;	/* t strictly increasing */
	size_t n;
};

enum lc_bt_estimator {
	LC_BT_BLEND = 0,	/* the service's sigma(h) */
	LC_BT_EWMA,
	LC_BT_REALISED,		/* over window_days */
	/*
	 * The blend with a range-based EWMA (vol.h lc_vol_range_*) in place
	 * of the close-to-close EWMA; the long run stays close-to-close.
	 */
	LC_BT_PARKINSON,
	LC_BT_GARMAN_KLASS,
	LC_BT_ROGERS_SATCHELL,
	/* The GARCH(1,1) term structure (vol.h lc_vol_garch_*). */
	LC_BT_GARCH,
	/* The same with the candles' Parkinson variance as the news. */
	LC_BT_GARCH_PARKINSON
};
#define LC_BT_NESTIMATORS 8
/* "blend", "ewma", "realised", "parkinson", "garman-klass",
 * "rogers-satchell", "garch", "garch-parkinson"; lc_bt_estimator_parse:
 * 0, or -1 for no such name. */
extern const char *const lc_bt_estimator_names[LC_BT_NESTIMATORS];
int lc_bt_estimator_parse(const char *s, enum lc_bt_estimator *out);

#define LC_BT_MAX_HORIZONS 16
#define LC_BT_MAX_THRESHOLDS 32
#define LC_BT_MAX_HORIZON_DAYS 365
#define LC_BT_NBUCKETS 11
#define LC_BT_NALPHAS 2
#define LC_BT_DEFAULT_WARMUP_DAYS 90.0
#define LC_BT_DEFAULT_TAIL_DOF 4.0
#define LC_BT_DEFAULT_WINDOW_DAYS 30.0
/* Log score clipping. */
#define LC_BT_P_CLIP 1e-6

struct lc_bt_opts {
	enum lc_bt_estimator estimator;
	double half_life_days;		/* H */
	double mean_reversion_days;	/* M (blend) */
	double window_days;		/* realised window (realised) */
	double tail_dof;		/* 0 normal, else 2 < nu <= 1000 */
	struct lc_vol_garch_params garch;	/* garch*: alpha, beta */
	/*
	 * Diagnostic: every sigma_h is multiplied by this (default 1, in
	 * (0, 100]); how far the volatility would have to move to meet a
	 * coverage target.  Not part of the service's model.
	 */
	double sigma_scale;
	int horizons[LC_BT_MAX_HORIZONS];	/* whole days, 1..365 */
	size_t n_horizons;
	double thresholds[LC_BT_MAX_THRESHOLDS];	/* fractions, (0, 1) */
	size_t n_thresholds;
	double warmup_days;		/* >= 0 */
	/* Forecast days only in [from_t, to_t) (unix seconds; 0: open). */
	int64_t from_t, to_t;
};

/* The defaults of section 9.1 (blend, horizons 1 and 7, 5..30 %). */
void lc_bt_opts_default(struct lc_bt_opts *o);
enum lc_status lc_bt_opts_check(const struct lc_bt_opts *o);

/* Reliability bucket [lo, hi) (the last one closed). */
struct lc_bt_bucket {
	double lo, hi;
	size_t n;
	double sum_p, sum_o;
	double mean_p, rate;		/* NAN when n == 0 */
};

/* Coverage at one alpha on the non-overlapping windows. */
struct lc_bt_coverage {
	double alpha;
	size_t n, exceedances;
	size_t trans[2][2];		/* [previous][current] exceedance */
	double rate, kupiec_p, christoffersen_p;	/* NAN: undefined */
};

#define LC_BT_POOLED ((size_t)-1)

struct lc_bt_result {
	size_t asset;			/* index into the assets, or POOLED */
	int horizon_days;
	enum lc_dir dir;
	size_t n;
	double sum_sq, sum_log;		/* sums of (p-o)^2 and the log loss */
	double observed, expected;	/* sum o, sum p */
	double brier, log_score, oe;	/* NAN when undefined */
	struct lc_bt_bucket rel[LC_BT_NBUCKETS];
	struct lc_bt_coverage cov[LC_BT_NALPHAS];
};

/* The bucket edges 0, .001, ..., .8, 1 and the alphas .01, .05. */
extern const double lc_bt_bucket_edges[LC_BT_NBUCKETS + 1];
extern const double lc_bt_alphas[LC_BT_NALPHAS];

/* Zero a result and set its buckets and alphas. */
void lc_bt_result_init(struct lc_bt_result *r, size_t asset, int horizon_days,
    enum lc_dir dir);
/* One forecast p in [0, 1] with outcome o (0 or 1). */
void lc_bt_add_forecast(struct lc_bt_result *r, double p, int o);
/*
 * One coverage window at alpha index k: exceeded 0/1; prev the previous
 * window's exceedance in the same sequence (-1: none adjacent, no
 * transition counted).
 */
void lc_bt_add_window(struct lc_bt_result *r, size_t k, int exceeded,
    int prev);
/* Compute the means, O/E and p-values from the sums and counts. */
void lc_bt_result_finish(struct lc_bt_result *r);

/* P(chi-square(1) > x) = erfc(sqrt(x / 2)). */
double lc_chi2_1_sf(double x);
/* Kupiec's unconditional-coverage LR p-value; NAN when n == 0. */
double lc_kupiec_p(size_t n, size_t x, double alpha);
/*
 * Christoffersen's independence LR p-value from the transition counts
 * n_ij (i the previous window's exceedance, j the current one); NAN with
 * no transition.
 */
double lc_christoffersen_p(size_t n00, size_t n01, size_t n10, size_t n11);

struct lc_bt_report {
	size_t n_assets;
	size_t n_results;
	/*
	 * (n_assets + 1) * n_horizons * 2 results: assets in input order
	 * then pooled; within each, horizons in order, then down, up.
	 */
	struct lc_bt_result *results;
	size_t n_forecasts;		/* kept (asset, day, horizon) */
	/* On LC_EINVAL for a candle: which one (else SIZE_MAX). */
	size_t bad_asset, bad_candle;
};

/*
 * Run the backtest.  LC_EINVAL: bad options or a bad candle (times not
 * strictly increasing, not 0 < low <= min(open, close) <= max(open,
 * close) <= high, non-finite); LC_EDOMAIN: no forecast could be kept
 * (too little data; the report is still filled with n 0 everywhere);
 * LC_ENOMEM.
 */
enum lc_status lc_bt_run(const struct lc_bt_asset *assets, size_t n_assets,
    const struct lc_bt_opts *o, struct lc_bt_report *out);
void lc_bt_report_release(struct lc_bt_report *r);

/*
 * Fit the GARCH(1,1) parameters (vol.h lc_vol_garch_fit) by maximum
 * likelihood with tail_dof on the closes of every asset's candles that
 * open before before_t (0: all), the assets pooled.  Same status as
 * lc_vol_garch_fit (LC_EINVAL also for a bad candle order).
 */
enum lc_status lc_bt_garch_fit(const struct lc_bt_asset *assets,
    size_t n_assets, int64_t before_t, double tail_dof,
    struct lc_vol_garch_params *out, double *nll, size_t *n_obs);

#endif

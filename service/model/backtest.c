/*
 * backtest.c - the backtest of docs/model.md section 9.1 (backtest.h).
 *
 * Design
 * ------
 * Per asset, candles (t_i opening time, o, h, l, c), t0 the first, s the
 * median of t_i - t_{i-1}.  Forecast days t = d * 86400 (00:00 UTC), from
 * the first with t - t0 >= warmup, up to the last candle.  A candle is
 * "before t" when it opens before t: its close is then the last price
 * known at t for candles that close by the next opening.
 *   - volatility: the estimator (vol.h) on the closes of the candles
 *     before t, at T = the last of them (blend: sigma(h); ewma; realised
 *     over the window);  P_t = the close of the last candle before t;
 *   - kept when that candle opens within 7 days before t, the estimator
 *     has enough data, at least one candle opens in [t, t + h) and the
 *     last candle of the asset opens at or after t + h - s;
 *   - sigma_h = sigma sqrt(h / 365) (lc_sigma_h); per threshold x:
 *       down p = min(1, 2 F_r(ln(1 - x))), o = [min low <= P_t (1 - x)],
 *       up   p = min(1, 2 S_r(ln(1 + x))), o = [max high >= P_t (1 + x)],
 *     the min/max over the candles opening in [t, t + h), F_r and S_r
 *     those of the score (lc_barrier_prob, stats.c) with tail_dof;
 *   - parkinson, garman-klass, rogers-satchell: the blend with the
 *     range-based EWMA of the same candles (vol.h lc_vol_range_*) in
 *     place of the close-to-close EWMA (the long run unchanged);
 *   - garch: the GARCH(1,1) term structure of the closes (vol.h
 *     lc_vol_garch_*), its level the long run of the same state;
 *     garch-parkinson: the same with each candle's Parkinson variance
 *     as the news;
 *   - sigma_scale (diagnostic): sigma_h multiplied by it;
 *   - from_t / to_t: only the forecast days in [from_t, to_t) are kept
 *     (the history before from_t still feeds the estimators; outcomes
 *     may look past to_t).
 * Metrics over n forecasts (per asset, and pooled over assets), pooled
 * over thresholds:
 *   Brier = sum (p - o)^2 / n,
 *   log score = -sum (o ln p' + (1 - o) ln(1 - p')) / n,
 *     p' = p clipped into [1e-6, 1 - 1e-6],
 *   O/E = sum o / sum p,  reliability: n, mean p, mean o per bucket.
 * Coverage at alpha: q solves 2 F_r(ln(q / P_t)) = alpha; as F_r is
 * strictly increasing, "the minimum reaches q" (min low <= q) is exactly
 * 2 F_r(ln(min low / P_t)) <= alpha, which is what is tested (no quantile
 * inversion); up with S_r and the maximum.  Windows: the forecast days
 * d0 + k h (d0 the asset's first forecast day) that are kept; the
 * exceedance sequence feeds
 *   Kupiec: LR = -2 [ (n-x) ln(1-a) + x ln a - (n-x) ln(1-x/n) - x ln(x/n) ],
 *   Christoffersen: n_ij transitions i -> j between windows h days apart,
 *     pi_i = n_i1 / (n_i0 + n_i1), pi = (n01 + n11) / sum n_ij,
 *     LR = -2 [ (n00 + n10) ln(1-pi) + (n01 + n11) ln pi
 *               - sum_ij n_ij ln pi_ij ],
 *   both chi-square(1): p = P(X > LR) = erfc(sqrt(LR / 2)); 0 ln 0 = 0.
 *   Kupiec is undefined with no window, Christoffersen with no
 *   transition (pooled: counts and transitions summed over the assets'
 *   own sequences, never across two assets).
 */
#include "cascade/backtest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cascade/stats.h"
#include "cascade/vol.h"

#define DAY LC_VOL_DAY_SECONDS
#define UNDEF ((double)NAN)

const double lc_bt_bucket_edges[LC_BT_NBUCKETS + 1] = {
	0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.0
};
const double lc_bt_alphas[LC_BT_NALPHAS] = { 0.01, 0.05 };
const char *const lc_bt_estimator_names[LC_BT_NESTIMATORS] = {
	"blend", "ewma", "realised", "parkinson", "garman-klass",
	"rogers-satchell", "garch", "garch-parkinson"
};

int
lc_bt_estimator_parse(const char *s, enum lc_bt_estimator *out)
{
	int i;

	if (s != NULL && strcmp(s, "realized") == 0)
		s = "realised";
	for (i = 0; s != NULL && i < LC_BT_NESTIMATORS; i++)
		if (strcmp(s, lc_bt_estimator_names[i]) == 0) {
			*out = (enum lc_bt_estimator)i;
			return 0;
		}
	return -1;
}

static int
is_range(enum lc_bt_estimator e)
{
	return e == LC_BT_PARKINSON || e == LC_BT_GARMAN_KLASS ||
	    e == LC_BT_ROGERS_SATCHELL;
}

void
lc_bt_opts_default(struct lc_bt_opts *o)
{
	static const double th[] = { 0.05, 0.10, 0.15, 0.20, 0.30 };
	size_t i;

	memset(o, 0, sizeof(*o));
	o->estimator = LC_BT_BLEND;
	o->half_life_days = LC_VOL_DEFAULT_HALF_LIFE_DAYS;
	o->mean_reversion_days = LC_VOL_DEFAULT_MEAN_REVERSION_DAYS;
	o->window_days = LC_BT_DEFAULT_WINDOW_DAYS;
	o->tail_dof = LC_BT_DEFAULT_TAIL_DOF;
	o->garch.alpha = LC_VOL_GARCH_DEFAULT_ALPHA;
	o->garch.beta = LC_VOL_GARCH_DEFAULT_BETA;
	o->sigma_scale = 1.0;
	o->horizons[0] = 1;
	o->horizons[1] = 7;
	o->n_horizons = 2;
	for (i = 0; i < sizeof(th) / sizeof(th[0]); i++)
		o->thresholds[i] = th[i];
	o->n_thresholds = sizeof(th) / sizeof(th[0]);
	o->warmup_days = LC_BT_DEFAULT_WARMUP_DAYS;
}

enum lc_status
lc_bt_opts_check(const struct lc_bt_opts *o)
{
	struct lc_vol_params vp;
	size_t i;

	vp.half_life_days = o->half_life_days;
	vp.mean_reversion_days = o->mean_reversion_days;
	vp.window_days = o->window_days;
	if (lc_vol_params_check(&vp) != LC_OK)
		return LC_EINVAL;
	if ((int)o->estimator < 0 || (int)o->estimator >= LC_BT_NESTIMATORS)
		return LC_EINVAL;
	if (o->estimator == LC_BT_REALISED && !(o->window_days > 0.0))
		return LC_EINVAL;
	if (lc_vol_garch_check(&o->garch) != LC_OK ||
	    !(o->sigma_scale > 0.0 && o->sigma_scale <= 100.0))
		return LC_EINVAL;
	if (!(o->tail_dof == 0.0 || (o->tail_dof > 2.0 &&
	    o->tail_dof <= 1000.0)))
		return LC_EINVAL;
	if (o->n_horizons == 0 || o->n_horizons > LC_BT_MAX_HORIZONS ||
	    o->n_thresholds == 0 || o->n_thresholds > LC_BT_MAX_THRESHOLDS)
		return LC_EINVAL;
	for (i = 0; i < o->n_horizons; i++)
		if (o->horizons[i] < 1 ||
		    o->horizons[i] > LC_BT_MAX_HORIZON_DAYS)
			return LC_EINVAL;
	for (i = 0; i < o->n_thresholds; i++)
		if (!(o->thresholds[i] > 0.0 && o->thresholds[i] < 1.0))
			return LC_EINVAL;
	if (!(o->warmup_days >= 0.0 && o->warmup_days <= LC_VOL_MAX_DAYS))
		return LC_EINVAL;
	if (o->from_t != 0 && o->to_t != 0 && o->to_t <= o->from_t)
		return LC_EINVAL;
	return LC_OK;
}

/* ---- metrics ----------------------------------------------------------- */

void
lc_bt_result_init(struct lc_bt_result *r, size_t asset, int horizon_days,
    enum lc_dir dir)
{
	size_t k;

	memset(r, 0, sizeof(*r));
	r->asset = asset;
	r->horizon_days = horizon_days;
	r->dir = dir;
	for (k = 0; k < LC_BT_NBUCKETS; k++) {
		r->rel[k].lo = lc_bt_bucket_edges[k];
		r->rel[k].hi = lc_bt_bucket_edges[k + 1];
	}
	for (k = 0; k < LC_BT_NALPHAS; k++)
		r->cov[k].alpha = lc_bt_alphas[k];
	r->brier = r->log_score = r->oe = UNDEF;
}

static size_t
bucket_of(double p)
{
	size_t k;

	for (k = 0; k + 1 < LC_BT_NBUCKETS; k++)
		if (p < lc_bt_bucket_edges[k + 1])
			return k;
	return LC_BT_NBUCKETS - 1;
}

void
lc_bt_add_forecast(struct lc_bt_result *r, double p, int o)
{
	double pc = p, od = o ? 1.0 : 0.0;
	struct lc_bt_bucket *b = &r->rel[bucket_of(p)];

	if (pc < LC_BT_P_CLIP)
		pc = LC_BT_P_CLIP;
	if (pc > 1.0 - LC_BT_P_CLIP)
		pc = 1.0 - LC_BT_P_CLIP;
	r->n++;
	r->sum_sq += (p - od) * (p - od);
	r->sum_log -= o ? log(pc) : log1p(-pc);
	r->observed += od;
	r->expected += p;
	b->n++;
	b->sum_p += p;
	b->sum_o += od;
}

void
lc_bt_add_window(struct lc_bt_result *r, size_t k, int exceeded, int prev)
{
	struct lc_bt_coverage *c = &r->cov[k];

	c->n++;
	if (exceeded)
		c->exceedances++;
	if (prev >= 0)
		c->trans[prev ? 1 : 0][exceeded ? 1 : 0]++;
}

/* x ln y with 0 ln 0 = 0 (x == 0 gives 0 whatever y). */
static double
xlogy(double x, double y)
{
	return x == 0.0 ? 0.0 : x * log(y);
}

double
lc_chi2_1_sf(double x)
{
	if (!(x > 0.0))
		return 1.0;
	return erfc(sqrt(0.5 * x));
}

double
lc_kupiec_p(size_t n, size_t x, double alpha)
{
	double dn = (double)n, dx = (double)x, ph, lr;

	if (n == 0)
		return UNDEF;
	ph = dx / dn;
	lr = -2.0 * (xlogy(dn - dx, 1.0 - alpha) + xlogy(dx, alpha) -
	    xlogy(dn - dx, 1.0 - ph) - xlogy(dx, ph));
	return lc_chi2_1_sf(lr);
}

double
lc_christoffersen_p(size_t c00, size_t c01, size_t c10, size_t c11)
{
	double n00 = (double)c00, n01 = (double)c01;
	double n10 = (double)c10, n11 = (double)c11;
	double tot = n00 + n01 + n10 + n11, pi, pi0, pi1, l0, l1;

	if (tot == 0.0)
		return UNDEF;
	pi = (n01 + n11) / tot;
	/* a row without transitions contributes 0 whatever its pi */
	pi0 = n00 + n01 > 0.0 ? n01 / (n00 + n01) : 0.0;
	pi1 = n10 + n11 > 0.0 ? n11 / (n10 + n11) : 0.0;
	l0 = xlogy(n00 + n10, 1.0 - pi) + xlogy(n01 + n11, pi);
	l1 = xlogy(n00, 1.0 - pi0) + xlogy(n01, pi0) + xlogy(n10, 1.0 - pi1) +
	    xlogy(n11, pi1);
	return lc_chi2_1_sf(-2.0 * (l0 - l1));
}

void
lc_bt_result_finish(struct lc_bt_result *r)
{
	size_t k;

	if (r->n > 0) {
		r->brier = r->sum_sq / (double)r->n;
		r->log_score = r->sum_log / (double)r->n;
	} else {
		r->brier = r->log_score = UNDEF;
	}
	r->oe = r->expected > 0.0 ? r->observed / r->expected : UNDEF;
	for (k = 0; k < LC_BT_NBUCKETS; k++) {
		struct lc_bt_bucket *b = &r->rel[k];

		b->mean_p = b->n ? b->sum_p / (double)b->n : UNDEF;
		b->rate = b->n ? b->sum_o / (double)b->n : UNDEF;
	}
	for (k = 0; k < LC_BT_NALPHAS; k++) {
		struct lc_bt_coverage *c = &r->cov[k];

		c->rate = c->n ? (double)c->exceedances / (double)c->n : UNDEF;
		c->kupiec_p = lc_kupiec_p(c->n, c->exceedances, c->alpha);
		c->christoffersen_p = lc_christoffersen_p(c->trans[0][0],
		    c->trans[0][1], c->trans[1][0], c->trans[1][1]);
	}
}

/* ---- the run ----------------------------------------------------------- */

static int
valid_candle(const struct lc_candle *c)
{
	double lo = c->open < c->close ? c->open : c->close;
	double hi = c->open < c->close ? c->close : c->open;

	return isfinite(c->open) && isfinite(c->high) && isfinite(c->low) &&
	    isfinite(c->close) && c->low > 0.0 && c->low <= lo &&
	    hi <= c->high && c->high <= LC_MAX_VALUE;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Median spacing of the candles (n >= 2). */
static enum lc_status
median_spacing(const struct lc_candle *c, size_t n, double *s)
{
	int64_t *d = malloc((n - 1) * sizeof(*d));
	size_t i, m = n - 1;

	if (d == NULL)
		return LC_ENOMEM;
	for (i = 0; i < m; i++)
		d[i] = c[i + 1].t - c[i].t;
	qsort(d, m, sizeof(*d), cmp_i64);
	*s = m % 2 ? (double)d[m / 2] :
	    0.5 * ((double)d[m / 2 - 1] + (double)d[m / 2]);
	free(d);
	return LC_OK;
}

/* floor(a / b) for b > 0. */
static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && a < 0) ? q - 1 : q;
}

static struct lc_bt_result *
result_at(struct lc_bt_report *rep, size_t a, size_t hi, size_t nh,
    enum lc_dir dir)
{
	return &rep->results[(a * nh + hi) * 2 + (size_t)dir];
}

/* Per horizon: the last coverage window's day and exceedances. */
struct cov_track {
	int64_t last_day;
	int have;
	int exc[2][LC_BT_NALPHAS];
};

struct asset_run {
	const struct lc_bt_opts *o;
	struct lc_bt_report *rep;
	size_t a;			/* asset index */
	struct cov_track track[LC_BT_MAX_HORIZONS];
};

/* The volatility at the current T for horizon h (LC_EDOMAIN: none). */
static enum lc_status
sigma_for(const struct lc_vol_state *st, const struct lc_vol_range_state *rs,
    const struct lc_vol_garch_state *gs, enum lc_bt_estimator e, int h,
    double *sigma)
{
	double v, l;
	enum lc_status s;

	if (e == LC_BT_GARCH || e == LC_BT_GARCH_PARKINSON)
		return lc_vol_garch_sigma(gs, (double)h, sigma);
	if (is_range(e)) {
		if (lc_vol_range_ewma(rs, &v) != LC_OK ||
		    lc_vol_state_long_run(st, &l) != LC_OK)
			return LC_EDOMAIN;
		*sigma = lc_vol_blend(v, l, (double)h,
		    st->params.mean_reversion_days);
		return LC_OK;
	}
	switch (e) {
	case LC_BT_BLEND:
		return lc_vol_state_blend(st, (double)h, sigma);
	case LC_BT_EWMA:
		s = lc_vol_state_ewma(st, &v);
		break;
	default:
		s = lc_vol_state_window(st, &v);
		break;
	}
	if (s == LC_OK)
		*sigma = sqrt(v);
	return s;
}

/* Score one kept forecast (day d, horizon index hi). */
static void
score_one(struct asset_run *ar, size_t hi, int64_t d, int64_t d0,
    double price, double sigma_h, double low, double high)
{
	const struct lc_bt_opts *o = ar->o;
	size_t nh = o->n_horizons, k, a = ar->a, pooled = ar->rep->n_assets;
	struct cov_track *tr = &ar->track[hi];
	int h = o->horizons[hi], window = (d - d0) % h == 0, dir;
	int adjacent = tr->have && tr->last_day == d - h;

	for (dir = 0; dir < 2; dir++) {
		enum lc_dir dr = dir ? LC_UP : LC_DOWN;
		struct lc_bt_result *ra = result_at(ar->rep, a, hi, nh, dr);
		struct lc_bt_result *rp = result_at(ar->rep, pooled, hi, nh,
		    dr);
		double ext = dir ? high : low;

		for (k = 0; k < o->n_thresholds; k++) {
			double x = o->thresholds[k], p;
			int out;

			if (dr == LC_DOWN) {
				p = lc_barrier_prob(LC_DOWN, 1.0, 1.0 - x,
				    sigma_h, o->tail_dof);
				out = low <= price * (1.0 - x);
			} else {
				p = lc_barrier_prob(LC_UP, 1.0, 1.0 + x,
				    sigma_h, o->tail_dof);
				out = high >= price * (1.0 + x);
			}
			lc_bt_add_forecast(ra, p, out);
			lc_bt_add_forecast(rp, p, out);
		}
		if (!window)
			continue;
		for (k = 0; k < LC_BT_NALPHAS; k++) {
			int exc = lc_barrier_prob(dr, price, ext, sigma_h,
			    o->tail_dof) <= lc_bt_alphas[k];
			int prev = adjacent ? tr->exc[dir][k] : -1;

			lc_bt_add_window(ra, k, exc, prev);
			lc_bt_add_window(rp, k, exc, prev);
			tr->exc[dir][k] = exc;
		}
	}
	if (window) {
		tr->have = 1;
		tr->last_day = d;
	}
}

static enum lc_status
run_asset(struct asset_run *ar, const struct lc_bt_asset *as)
{
	const struct lc_bt_opts *o = ar->o;
	const struct lc_candle *c = as->candles;
	struct lc_vol_params vp;
	struct lc_vol_state st;
	struct lc_vol_range_state rs;
	struct lc_vol_garch_state gs;
	size_t n = as->n, j = 0, hi;
	int64_t d0, d, last;
	double s;
	enum lc_status rc;

	memset(&st, 0, sizeof(st));
	if (n < 2)
		return LC_OK;
	rc = median_spacing(c, n, &s);
	if (rc != LC_OK)
		return rc;
	vp.half_life_days = o->half_life_days;
	vp.mean_reversion_days = o->mean_reversion_days;
	vp.window_days = o->estimator == LC_BT_REALISED ? o->window_days : 0.0;
	rc = lc_vol_state_init(&st, &vp);
	if (rc == LC_OK)
		rc = lc_vol_range_init(&rs, is_range(o->estimator) ?
		    (enum lc_vol_range_kind)(o->estimator - LC_BT_PARKINSON) :
		    LC_VOL_PARKINSON, o->half_life_days);
	if (rc == LC_OK)
		rc = lc_vol_garch_init(&gs, &o->garch);
	if (rc != LC_OK)
		goto out;
	d0 = floor_div(c[0].t + (int64_t)ceil(o->warmup_days * DAY) + DAY - 1,
	    DAY);
	last = c[n - 1].t;
	for (d = d0; d * DAY <= last; d++) {
		int64_t t = d * DAY;

		while (j < n && c[j].t < t) {
			rc = lc_vol_append(&st, &c[j].t, &c[j].close, 1);
			if (rc == LC_OK && is_range(o->estimator))
				rc = lc_vol_range_append(&rs, c[j].t,
				    c[j].open, c[j].high, c[j].low,
				    c[j].close);
			if (rc == LC_OK && (o->estimator == LC_BT_GARCH ||
			    o->estimator == LC_BT_GARCH_PARKINSON)) {
				double V;
				int ok = lc_vol_state_long_run(&st, &V) ==
				    LC_OK;

				rc = o->estimator == LC_BT_GARCH ?
				    lc_vol_garch_append(&gs, c[j].t,
				    c[j].close, ok, ok ? V : 0.0) :
				    lc_vol_garch_append_range(&gs,
				    LC_VOL_PARKINSON, c[j].t, c[j].open,
				    c[j].high, c[j].low, c[j].close, ok,
				    ok ? V : 0.0);
			}
			if (rc != LC_OK)
				goto out;
			j++;
		}
		if (j == 0 || t - c[j - 1].t > LC_VOL_MAX_GAP_SECONDS)
			continue;
		if (o->from_t != 0 && t < o->from_t)
			continue;
		if (o->to_t != 0 && t >= o->to_t)
			break;
		for (hi = 0; hi < o->n_horizons; hi++) {
			int h = o->horizons[hi];
			int64_t end = t + (int64_t)h * DAY;
			double sigma, low = INFINITY, high = -INFINITY;
			size_t k;

			if ((double)last < (double)end - s)
				continue;
			if (sigma_for(&st, &rs, &gs, o->estimator, h,
			    &sigma) != LC_OK)
				continue;
			for (k = j; k < n && c[k].t < end; k++) {
				if (c[k].low < low)
					low = c[k].low;
				if (c[k].high > high)
					high = c[k].high;
			}
			if (k == j)
				continue;
			ar->rep->n_forecasts++;
			score_one(ar, hi, d, d0, c[j - 1].close,
			    o->sigma_scale * lc_sigma_h(sigma, (double)h),
			    low, high);
		}
	}
	rc = LC_OK;
out:
	lc_vol_state_release(&st);
	return rc;
}

void
lc_bt_report_release(struct lc_bt_report *r)
{
	if (r == NULL)
		return;
	free(r->results);
	r->results = NULL;
	r->n_results = 0;
}

enum lc_status
lc_bt_run(const struct lc_bt_asset *assets, size_t n_assets,
    const struct lc_bt_opts *o, struct lc_bt_report *out)
{
	size_t a, hi, i, nh = o->n_horizons;
	enum lc_status rc;

	memset(out, 0, sizeof(*out));
	out->bad_asset = out->bad_candle = SIZE_MAX;
	if (lc_bt_opts_check(o) != LC_OK || (n_assets > 0 && assets == NULL) ||
	    n_assets > SIZE_MAX / (2 * LC_BT_MAX_HORIZONS) - 1)
		return LC_EINVAL;
	for (a = 0; a < n_assets; a++) {
		if (assets[a].n > 0 && assets[a].candles == NULL)
			return LC_EINVAL;
		for (i = 0; i < assets[a].n; i++) {
			const struct lc_candle *c = &assets[a].candles[i];

			if (!valid_candle(c) || (i > 0 && c->t <= c[-1].t)) {
				out->bad_asset = a;
				out->bad_candle = i;
				return LC_EINVAL;
			}
		}
	}
	out->n_assets = n_assets;
	out->n_results = (n_assets + 1) * nh * 2;
	out->results = calloc(out->n_results, sizeof(*out->results));
	if (out->results == NULL) {
		out->n_results = 0;
		return LC_ENOMEM;
	}
	for (a = 0; a <= n_assets; a++)
		for (hi = 0; hi < nh; hi++) {
			size_t id = a < n_assets ? a : LC_BT_POOLED;

			lc_bt_result_init(result_at(out, a, hi, nh, LC_DOWN),
			    id, o->horizons[hi], LC_DOWN);
			lc_bt_result_init(result_at(out, a, hi, nh, LC_UP),
			    id, o->horizons[hi], LC_UP);
		}
	for (a = 0; a < n_assets; a++) {
		struct asset_run ar;

		memset(&ar, 0, sizeof(ar));
		ar.o = o;
		ar.rep = out;
		ar.a = a;
		rc = run_asset(&ar, &assets[a]);
		if (rc != LC_OK) {
			lc_bt_report_release(out);
			return rc;
		}
	}
	for (i = 0; i < out->n_results; i++)
		lc_bt_result_finish(&out->results[i]);
	return out->n_forecasts > 0 ? LC_OK : LC_EDOMAIN;
}

enum lc_status
lc_bt_garch_fit(const struct lc_bt_asset *assets, size_t n_assets,
    int64_t before_t, double tail_dof, struct lc_vol_garch_params *out,
    double *nll, size_t *n_obs)
{
	struct lc_vol_series *ser = NULL;
	int64_t *t = NULL;
	double *c = NULL;
	size_t a, i, total = 0, off = 0;
	enum lc_status rc = LC_ENOMEM;

	if (n_assets > 0 && assets == NULL)
		return LC_EINVAL;
	for (a = 0; a < n_assets; a++)
		total += assets[a].n;
	ser = calloc(n_assets ? n_assets : 1, sizeof(*ser));
	t = malloc((total ? total : 1) * sizeof(*t));
	c = malloc((total ? total : 1) * sizeof(*c));
	if (ser == NULL || t == NULL || c == NULL)
		goto out;
	for (a = 0; a < n_assets; a++) {
		ser[a].t = t + off;
		ser[a].close = c + off;
		for (i = 0; i < assets[a].n; i++) {
			const struct lc_candle *k = &assets[a].candles[i];

			if (before_t != 0 && k->t >= before_t)
				break;
			t[off + i] = k->t;
			c[off + i] = k->close;
		}
		ser[a].n = i;
		off += assets[a].n;
	}
	rc = lc_vol_garch_fit(ser, n_assets, tail_dof, out, nll, n_obs);
out:
	free(ser);
	free(t);
	free(c);
	return rc;
}

/*
 * vol.c - volatility from price history (vol.h, docs/model.md section 9).
 *
 * Design
 * ------
 * Points (t_i, c_i), t in unix seconds strictly increasing, c_i > 0.
 *   r_i = ln(c_i / c_{i-1}),  dt_i = (t_i - t_{i-1}) / (365 * 86400) years,
 * a return with t_i - t_{i-1} > 7 days skipped (the gap carries no
 * information on the diffusion rate, only on the market being closed).
 *
 * EWMA at T (the last time), half-life H days:
 *   w_i = 2^(-(T - t_i) / H),  sigma_ewma^2 = sum w_i r_i^2 / sum w_i dt_i.
 * Dividing by the weighted time rather than the weighted count makes it a
 * variance per year whatever the spacing (irregular points count by the
 * time they cover).
 * Long run, and realised over a window of D days: the returns with
 * T - t_i < D days, sigma^2 = sum r_i^2 / sum dt_i  (D = 730 long run).
 * Minimum data, for each estimator over the returns it sums: at least 72
 * returns whose dt add up to at least 3 days; else LC_EDOMAIN.
 * Horizon blend, kappa = ln 2 / M:
 *   w(h) = (1 - exp(-kappa h)) / (kappa h) = -expm1(-kappa h) / (kappa h)
 *   sigma(h)^2 = w(h) sigma_ewma^2 + (1 - w(h)) sigma_lr^2,
 * the average over [0, h] of an EWMA variance that reverts to the long run
 * with half-life M (w -> 1 as h -> 0, -> 0 as h -> infinity).
 *
 * Incremental state.  Moving T to T' multiplies every weight by
 * f = 2^(-(T' - T)/H), so both EWMA sums are rescaled by f and the new
 * returns added with their own weights: O(new) per append.  A window keeps
 * its returns in a ring, oldest first; appending pushes the new ones and
 * pops (subtracts) those with T' - t_i >= D: O(new + leaving).  The sum of
 * r^2 is a Neumaier compensated sum, so adding and later subtracting the
 * same terms leaves no drift; the sum of dt is kept in integer seconds
 * (exact).  A rescaled weight is a product of factors rather than one
 * power: the relative difference to the batch formula grows like
 * sqrt(appends) * 1e-16 (tests hold it under 1e-12).
 *
 * Range-based estimators of one candle (o, h, l, c) opened after the
 * previous close c':  u = ln(h/o), d = ln(l/o), x = ln(c/o),
 *   Parkinson (1980)         v = (u - d)^2 / (4 ln 2),
 *   Garman-Klass (1980)      v = (u - d)^2 / 2 - (2 ln 2 - 1) x^2,
 *   Rogers-Satchell (1991)   v = u (u - x) + d (d - x),
 * each E v = sigma^2 * (candle length) for a driftless Brownian log price
 * (Rogers-Satchell for any drift), plus the jump j^2 = ln(o/c')^2 (zero
 * for continuous markets; a gap's move is not lost).  EWMA like the
 * returns': candle i counts v_i over dt_i = t_i - t_{i-1},
 *   sigma^2 = sum w_i v_i / sum w_i dt_i,  w_i = 2^(-(T - t_i)/H),
 * the gap rule and the minimum-data rule as above, O(1) per candle.
 *
 * GARCH(1,1) term structure, per unit time (period P = 1 hour), the level
 * targeted at V, the long-run variance at each point (730-day estimator):
 *   n = dt / P,  x = r^2 / dt,  phi = alpha + beta,
 *   v' = V (1 - phi^n) + (phi^n - beta^n) x + beta^n v.
 * For n = 1 this is v' = (1 - phi) V + alpha x + beta v; for any n,
 * E[v' | v] = V + phi^n (v - V) when E x = v, the n-fold GARCH forecast,
 * and the news weight phi^n - beta^n grows with the time the return
 * covers (like the EWMA's weighting by time).  A skipped return (gap >
 * 7 days) only decays: v' = V + phi^n (v - V).  With a candle's range
 * variance u (Parkinson etc., as above, jump included) as the news:
 * x = u / dt in place of r^2 / dt.  Start: v = V at the first
 * point where V has enough data.  Forecast of period k ahead:
 * V + phi^(k-1) (v - V); their mean over N = h days / P periods:
 *   sigma(h)^2 = V + (v - V) (1 - phi^N) / (N (1 - phi)).
 * Fit: r = sqrt(v dt) z, z standardized Student-t (nu > 2):
 *   ln f(r) = ln G((nu+1)/2) - ln G(nu/2) - ln(pi (nu-2)) / 2
 *             - ln(v dt) / 2 - (nu+1)/2 ln(1 + z^2 / (nu-2)),  z^2 = x / v,
 * normal: -ln(2 pi)/2 - ln(v dt)/2 - z^2/2; minus the sum over the returns
 * after the start is minimised by Nelder-Mead (reflection 1, expansion 2,
 * contraction 1/2, shrink 1/2) over u = (logit phi, logit(alpha/phi)),
 * which keeps alpha, beta > 0 and phi < 1 without constraints.
 *
 * Correlation of two series on common timestamps: the points at times both
 * hold form one joint series; its returns (gap rule applied) give
 *   rho = sum w ra rb / sqrt(sum w ra^2 sum w rb^2),
 * w as above with T the last common time; at least 72 common returns.  No
 * mean is removed (returns over short steps have a negligible drift, as
 * in the variance above).
 */
#include "cascade/vol.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int
valid_close(double c)
{
	return isfinite(c) && c > 0.0;
}

/* A candle: prices finite > 0, l <= min(o, c), max(o, c) <= h. */
static int
valid_ohlc(double o, double h, double l, double c)
{
	return valid_close(o) && valid_close(h) && valid_close(l) &&
	    valid_close(c) && l <= fmin(o, c) && fmax(o, c) <= h;
}

static int
valid_days(double d)
{
	return isfinite(d) && d > 0.0 && d <= LC_VOL_MAX_DAYS;
}

void
lc_vol_params_default(struct lc_vol_params *p)
{
	p->half_life_days = LC_VOL_DEFAULT_HALF_LIFE_DAYS;
	p->mean_reversion_days = LC_VOL_DEFAULT_MEAN_REVERSION_DAYS;
	p->window_days = 0.0;
}

enum lc_status
lc_vol_params_check(const struct lc_vol_params *p)
{
	if (p == NULL || !valid_days(p->half_life_days) ||
	    !valid_days(p->mean_reversion_days) ||
	    !(p->window_days == 0.0 || valid_days(p->window_days)))
		return LC_EINVAL;
	return LC_OK;
}

/* Weight 2^(-age/H) of a return `age` seconds before T. */
static double
ewma_weight(int64_t age, double half_life_days)
{
	return exp2(-(double)age / (half_life_days * LC_VOL_DAY_SECONDS));
}

static int
enough(size_t n, int64_t dt_seconds)
{
	return n >= LC_VOL_MIN_RETURNS &&
	    dt_seconds >= (int64_t)LC_VOL_MIN_SPAN_DAYS * LC_VOL_DAY_SECONDS;
}

/* Return i of the series, 0 when it is skipped (gap). */
static int
make_return(int64_t t0, double c0, int64_t t1, double c1,
    struct lc_vol_return *r)
{
	if (t1 - t0 > LC_VOL_MAX_GAP_SECONDS)
		return 0;
	r->t = t1;
	r->dt_seconds = t1 - t0;
	r->r = log(c1 / c0);
	r->dt = (double)r->dt_seconds / LC_VOL_YEAR_SECONDS;
	return 1;
}

enum lc_status
lc_vol_returns(const int64_t *t, const double *close, size_t n,
    struct lc_vol_return *out, size_t *nout)
{
	size_t i, k = 0;

	*nout = 0;
	if (n == 0 || t == NULL || close == NULL)
		return LC_EINVAL;
	if (!valid_close(close[0]))
		return LC_EINVAL;
	for (i = 1; i < n; i++) {
		if (t[i] <= t[i - 1] || !valid_close(close[i]))
			return LC_EINVAL;
		if (make_return(t[i - 1], close[i - 1], t[i], close[i],
		    &out[k]))
			k++;
	}
	*nout = k;
	return LC_OK;
}

enum lc_status
lc_vol_estimate(const int64_t *t, const double *close, size_t n,
    const struct lc_vol_params *p, struct lc_vol_estimate *out)
{
	struct lc_vol_return *ret = NULL;
	double ew_r2 = 0.0, ew_dt = 0.0, lr_r2 = 0.0, lr_dt = 0.0;
	double w_r2 = 0.0, w_dt = 0.0;
	int64_t T, all_s = 0, lr_s = 0, w_s = 0;
	size_t nr = 0, i, lr_n = 0, w_n = 0;
	enum lc_status st;

	memset(out, 0, sizeof(*out));
	if (lc_vol_params_check(p) != LC_OK || n == 0)
		return LC_EINVAL;
	ret = malloc((n > 1 ? n - 1 : 1) * sizeof(*ret));
	if (ret == NULL)
		return LC_ENOMEM;
	st = lc_vol_returns(t, close, n, ret, &nr);
	if (st != LC_OK)
		goto out;
	T = t[n - 1];
	for (i = 0; i < nr; i++) {
		double w = ewma_weight(T - ret[i].t, p->half_life_days);
		double age = (double)(T - ret[i].t);

		ew_r2 += w * ret[i].r * ret[i].r;
		ew_dt += w * ret[i].dt;
		all_s += ret[i].dt_seconds;
		if (age < LC_VOL_LONG_RUN_DAYS * LC_VOL_DAY_SECONDS) {
			lr_r2 += ret[i].r * ret[i].r;
			lr_dt += ret[i].dt;
			lr_s += ret[i].dt_seconds;
			lr_n++;
		}
		if (p->window_days > 0.0 &&
		    age < p->window_days * LC_VOL_DAY_SECONDS) {
			w_r2 += ret[i].r * ret[i].r;
			w_dt += ret[i].dt;
			w_s += ret[i].dt_seconds;
			w_n++;
		}
	}
	if (enough(nr, all_s) && ew_dt > 0.0) {
		out->ewma_ok = 1;
		out->ewma_var = ew_r2 / ew_dt;
	}
	if (enough(lr_n, lr_s)) {
		out->long_run_ok = 1;
		out->long_run_var = lr_r2 / lr_dt;
	}
	if (p->window_days > 0.0 && enough(w_n, w_s)) {
		out->window_ok = 1;
		out->window_var = w_r2 / w_dt;
	}
out:
	free(ret);
	return st;
}

double
lc_vol_blend_weight(double horizon_days, double mean_reversion_days)
{
	double kh = log(2.0) / mean_reversion_days * horizon_days;

	if (!(kh > 0.0))
		return 1.0;
	return -expm1(-kh) / kh;
}

double
lc_vol_blend(double ewma_var, double long_run_var, double horizon_days,
    double mean_reversion_days)
{
	double w = lc_vol_blend_weight(horizon_days, mean_reversion_days);

	return sqrt(w * ewma_var + (1.0 - w) * long_run_var);
}

/* ---- incremental state ------------------------------------------------- */

static void
ksum_add(struct lc_vol_ksum *k, double x)
{
	double t = k->s + x;

	if (fabs(k->s) >= fabs(x))
		k->c += (k->s - t) + x;
	else
		k->c += (x - t) + k->s;
	k->s = t;
}

static double
ksum_value(const struct lc_vol_ksum *k)
{
	return k->s + k->c;
}

static void
window_init(struct lc_vol_window *w, double days)
{
	memset(w, 0, sizeof(*w));
	w->days = days;
}

static void
window_release(struct lc_vol_window *w)
{
	free(w->buf);
	w->buf = NULL;
	w->head = w->len = w->cap = 0;
}

static enum lc_status
window_push(struct lc_vol_window *w, const struct lc_vol_return *r)
{
	if (w->len == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256, i;
		struct lc_vol_return *nb;

		if (cap > SIZE_MAX / sizeof(*nb))
			return LC_ENOMEM;
		nb = malloc(cap * sizeof(*nb));
		if (nb == NULL)
			return LC_ENOMEM;
		for (i = 0; i < w->len; i++)
			nb[i] = w->buf[(w->head + i) % w->cap];
		free(w->buf);
		w->buf = nb;
		w->cap = cap;
		w->head = 0;
	}
	w->buf[(w->head + w->len) % w->cap] = *r;
	w->len++;
	ksum_add(&w->r2, r->r * r->r);
	w->dt_seconds += r->dt_seconds;
	return LC_OK;
}

/* Drop the returns that are `days` or more before T. */
static void
window_expire(struct lc_vol_window *w, int64_t T)
{
	while (w->len > 0) {
		const struct lc_vol_return *r = &w->buf[w->head];

		if ((double)(T - r->t) < w->days * LC_VOL_DAY_SECONDS)
			break;
		ksum_add(&w->r2, -(r->r * r->r));
		w->dt_seconds -= r->dt_seconds;
		w->head = (w->head + 1) % w->cap;
		w->len--;
	}
	if (w->len == 0) {
		/* An empty window sums to zero exactly. */
		w->r2.s = w->r2.c = 0.0;
		w->head = 0;
	}
}

static enum lc_status
window_var(const struct lc_vol_window *w, double *var)
{
	if (w->days <= 0.0 || !enough(w->len, w->dt_seconds))
		return LC_EDOMAIN;
	*var = ksum_value(&w->r2) /
	    ((double)w->dt_seconds / LC_VOL_YEAR_SECONDS);
	return LC_OK;
}

enum lc_status
lc_vol_state_init(struct lc_vol_state *st, const struct lc_vol_params *p)
{
	memset(st, 0, sizeof(*st));
	if (lc_vol_params_check(p) != LC_OK)
		return LC_EINVAL;
	st->params = *p;
	window_init(&st->long_run, LC_VOL_LONG_RUN_DAYS);
	window_init(&st->window, p->window_days);
	return LC_OK;
}

void
lc_vol_state_release(struct lc_vol_state *st)
{
	if (st == NULL)
		return;
	window_release(&st->long_run);
	window_release(&st->window);
}

enum lc_status
lc_vol_append(struct lc_vol_state *st, const int64_t *t, const double *close,
    size_t n)
{
	double H = st->params.half_life_days;
	size_t i;

	if (n == 0)
		return LC_OK;
	if (t == NULL || close == NULL)
		return LC_EINVAL;
	for (i = 0; i < n; i++) {
		struct lc_vol_return r;
		enum lc_status s;

		if (!valid_close(close[i]) ||
		    (st->n_points > 0 && t[i] <= st->t_last))
			return LC_EINVAL;
		if (st->n_points > 0) {
			double f = ewma_weight(t[i] - st->t_last, H);

			st->ew_r2 *= f;
			st->ew_dt *= f;
			if (make_return(st->t_last, st->c_last, t[i], close[i],
			    &r)) {
				s = window_push(&st->long_run, &r);
				if (s == LC_OK && st->window.days > 0.0)
					s = window_push(&st->window, &r);
				if (s != LC_OK)
					return s;
				/* weight 1: the return is at the new T */
				st->ew_r2 += r.r * r.r;
				st->ew_dt += r.dt;
				st->n_returns++;
				st->dt_seconds += r.dt_seconds;
			}
		}
		st->t_last = t[i];
		st->c_last = close[i];
		st->n_points++;
		window_expire(&st->long_run, t[i]);
		if (st->window.days > 0.0)
			window_expire(&st->window, t[i]);
	}
	return LC_OK;
}

enum lc_status
lc_vol_state_ewma(const struct lc_vol_state *st, double *var)
{
	if (!enough(st->n_returns, st->dt_seconds) || !(st->ew_dt > 0.0))
		return LC_EDOMAIN;
	*var = st->ew_r2 / st->ew_dt;
	return LC_OK;
}

enum lc_status
lc_vol_state_long_run(const struct lc_vol_state *st, double *var)
{
	return window_var(&st->long_run, var);
}

enum lc_status
lc_vol_state_window(const struct lc_vol_state *st, double *var)
{
	return window_var(&st->window, var);
}

enum lc_status
lc_vol_state_blend(const struct lc_vol_state *st, double horizon_days,
    double *sigma)
{
	double e, l;

	if (!(horizon_days > 0.0) || !isfinite(horizon_days))
		return LC_EINVAL;
	if (lc_vol_state_ewma(st, &e) != LC_OK ||
	    lc_vol_state_long_run(st, &l) != LC_OK)
		return LC_EDOMAIN;
	*sigma = lc_vol_blend(e, l, horizon_days,
	    st->params.mean_reversion_days);
	return LC_OK;
}

/* ---- range-based estimators --------------------------------------------- */

double
lc_vol_range_var(enum lc_vol_range_kind k, double prev_close, double o,
    double h, double l, double c)
{
	double hl = log(h / l), co = log(c / o), v, j = 0.0;

	switch (k) {
	case LC_VOL_PARKINSON:
		v = hl * hl / (4.0 * log(2.0));
		break;
	case LC_VOL_GARMAN_KLASS:
		v = 0.5 * hl * hl - (2.0 * log(2.0) - 1.0) * co * co;
		break;
	default:
		v = log(h / c) * log(h / o) + log(l / c) * log(l / o);
		break;
	}
	if (!(v > 0.0))
		v = 0.0;
	if (prev_close > 0.0) {
		j = log(o / prev_close);
		v += j * j;
	}
	return v;
}

enum lc_status
lc_vol_range_init(struct lc_vol_range_state *st, enum lc_vol_range_kind k,
    double half_life_days)
{
	memset(st, 0, sizeof(*st));
	if ((k != LC_VOL_PARKINSON && k != LC_VOL_GARMAN_KLASS &&
	    k != LC_VOL_ROGERS_SATCHELL) || !valid_days(half_life_days))
		return LC_EINVAL;
	st->kind = k;
	st->half_life_days = half_life_days;
	return LC_OK;
}

enum lc_status
lc_vol_range_append(struct lc_vol_range_state *st, int64_t t, double o,
    double h, double l, double c)
{
	if (!valid_ohlc(o, h, l, c) || (st->n_points > 0 && t <= st->t_last))
		return LC_EINVAL;
	if (st->n_points > 0) {
		double f = ewma_weight(t - st->t_last, st->half_life_days);
		int64_t dts = t - st->t_last;

		st->ew_v *= f;
		st->ew_dt *= f;
		if (dts <= LC_VOL_MAX_GAP_SECONDS) {
			st->ew_v += lc_vol_range_var(st->kind, st->c_last, o,
			    h, l, c);
			st->ew_dt += (double)dts / LC_VOL_YEAR_SECONDS;
			st->n_returns++;
			st->dt_seconds += dts;
		}
	}
	st->t_last = t;
	st->c_last = c;
	st->n_points++;
	return LC_OK;
}

enum lc_status
lc_vol_range_ewma(const struct lc_vol_range_state *st, double *var)
{
	if (!enough(st->n_returns, st->dt_seconds) || !(st->ew_dt > 0.0))
		return LC_EDOMAIN;
	*var = st->ew_v / st->ew_dt;
	return LC_OK;
}

/* ---- correlation ------------------------------------------------------- */

static enum lc_status
check_series(const int64_t *t, const double *c, size_t n)
{
	size_t i;

	if (n > 0 && (t == NULL || c == NULL))
		return LC_EINVAL;
	for (i = 0; i < n; i++)
		if (!valid_close(c[i]) || (i > 0 && t[i] <= t[i - 1]))
			return LC_EINVAL;
	return LC_OK;
}

/* ---- GARCH(1,1) term structure ------------------------------------------ */

enum lc_status
lc_vol_garch_check(const struct lc_vol_garch_params *g)
{
	if (g == NULL || !isfinite(g->alpha) || !isfinite(g->beta) ||
	    g->alpha < 0.0 || g->beta < 0.0 || !(g->alpha + g->beta < 1.0))
		return LC_EINVAL;
	return LC_OK;
}

/* a^n for a in [0, 1), n > 0 (exact for n == 1). */
static double
pow_n(double a, double n)
{
	return n == 1.0 ? a : pow(a, n);
}

double
lc_vol_garch_step(const struct lc_vol_garch_params *g, double v, double x,
    double V, double n)
{
	double pn = pow_n(g->alpha + g->beta, n), bn = pow_n(g->beta, n);

	return V * (1.0 - pn) + (pn - bn) * x + bn * v;
}

double
lc_vol_garch_horizon_var(const struct lc_vol_garch_params *g, double v,
    double V, double horizon_days)
{
	double phi = g->alpha + g->beta;
	double N = horizon_days * LC_VOL_DAY_SECONDS /
	    LC_VOL_GARCH_PERIOD_SECONDS, w;

	if (phi <= 0.0)
		w = 1.0 / N;	/* only the first period differs from V */
	else
		w = -expm1(N * log(phi)) / (N * (1.0 - phi));
	return V + (v - V) * w;
}

enum lc_status
lc_vol_garch_init(struct lc_vol_garch_state *g,
    const struct lc_vol_garch_params *p)
{
	memset(g, 0, sizeof(*g));
	if (lc_vol_garch_check(p) != LC_OK)
		return LC_EINVAL;
	g->params = *p;
	return LC_OK;
}

/*
 * One point; when the return it ends is scored (the state started
 * before it, no gap), *ll gets its log-density and 1 is returned, else 0.
 * ll NULL: no density computed.  dof: the fit's tail_dof, c_t its
 * constant.
 */
static int
garch_advance(struct lc_vol_garch_state *g, int64_t t, double close,
    double news, int V_ok, double V, double dof, double c_t, double *ll)
{
	int scored = 0;

	if (g->started && g->n_points > 0) {
		int64_t dts = t - g->t_last;
		double n = (double)dts / LC_VOL_GARCH_PERIOD_SECONDS;
		double Vs = V_ok ? V : g->V;

		if (dts <= LC_VOL_MAX_GAP_SECONDS) {
			double dt = (double)dts / LC_VOL_YEAR_SECONDS;
			double r = log(close / g->c_last);
			double x = (isnan(news) ? r * r : news) / dt;

			if (ll != NULL) {
				double z2 = x / g->v, lv = log(g->v * dt);

				*ll = dof > 0.0 ? c_t - 0.5 * lv - 0.5 *
				    (dof + 1.0) * log1p(z2 / (dof - 2.0)) :
				    c_t - 0.5 * lv - 0.5 * z2;
			}
			scored = 1;
			g->v = lc_vol_garch_step(&g->params, g->v, x, Vs, n);
			g->n_steps++;
		} else {
			g->v = Vs + pow_n(g->params.alpha + g->params.beta,
			    n) * (g->v - Vs);
		}
		g->V = Vs;
	} else if (!g->started && V_ok) {
		g->started = 1;
		g->v = g->V = V;
	}
	g->t_last = t;
	g->c_last = close;
	g->n_points++;
	return scored;
}

enum lc_status
lc_vol_garch_append(struct lc_vol_garch_state *g, int64_t t, double close,
    int V_ok, double V)
{
	if (!valid_close(close) || (g->n_points > 0 && t <= g->t_last) ||
	    (V_ok && !(isfinite(V) && V >= 0.0)))
		return LC_EINVAL;
	garch_advance(g, t, close, (double)NAN, V_ok, V, 0.0, 0.0, NULL);
	return LC_OK;
}

enum lc_status
lc_vol_garch_append_range(struct lc_vol_garch_state *g,
    enum lc_vol_range_kind k, int64_t t, double o, double h, double l,
    double c, int V_ok, double V)
{
	if (!valid_ohlc(o, h, l, c) || (g->n_points > 0 && t <= g->t_last) ||
	    (V_ok && !(isfinite(V) && V >= 0.0)) ||
	    (k != LC_VOL_PARKINSON && k != LC_VOL_GARMAN_KLASS &&
	    k != LC_VOL_ROGERS_SATCHELL))
		return LC_EINVAL;
	garch_advance(g, t, c, lc_vol_range_var(k, g->n_points > 0 ?
	    g->c_last : 0.0, o, h, l, c), V_ok, V, 0.0, 0.0, NULL);
	return LC_OK;
}

enum lc_status
lc_vol_garch_sigma(const struct lc_vol_garch_state *g, double horizon_days,
    double *sigma)
{
	double v;

	if (!(horizon_days > 0.0) || !isfinite(horizon_days))
		return LC_EINVAL;
	if (!g->started)
		return LC_EDOMAIN;
	v = lc_vol_garch_horizon_var(&g->params, g->v, g->V, horizon_days);
	*sigma = sqrt(v > 0.0 ? v : 0.0);
	return LC_OK;
}

/* The series with the long-run variance at each point, for the fit. */
struct garch_data {
	const struct lc_vol_series *s;
	size_t k;
	double **V;			/* per series, per point; NAN: not ok */
	double dof, c_t;
};

static void
garch_data_release(struct garch_data *d)
{
	size_t i;

	for (i = 0; d->V != NULL && i < d->k; i++)
		free(d->V[i]);
	free(d->V);
	d->V = NULL;
}

static enum lc_status
garch_data_init(struct garch_data *d, const struct lc_vol_series *s,
    size_t k, double dof)
{
	struct lc_vol_params vp;
	struct lc_vol_state st;
	enum lc_status rc = LC_OK;
	size_t i, j;

	memset(d, 0, sizeof(*d));
	if ((k > 0 && s == NULL) || !(dof == 0.0 || (dof > 2.0 &&
	    dof <= 1000.0)))
		return LC_EINVAL;
	for (i = 0; i < k; i++)
		if (check_series(s[i].t, s[i].close, s[i].n) != LC_OK)
			return LC_EINVAL;
	d->s = s;
	d->k = k;
	d->dof = dof;
	d->c_t = dof > 0.0 ? lgamma(0.5 * (dof + 1.0)) - lgamma(0.5 * dof) -
	    0.5 * log(M_PI * (dof - 2.0)) : -0.5 * log(2.0 * M_PI);
	d->V = calloc(k ? k : 1, sizeof(*d->V));
	if (d->V == NULL)
		return LC_ENOMEM;
	lc_vol_params_default(&vp);
	for (i = 0; i < k && rc == LC_OK; i++) {
		d->V[i] = malloc((s[i].n ? s[i].n : 1) * sizeof(double));
		if (d->V[i] == NULL) {
			rc = LC_ENOMEM;
			break;
		}
		rc = lc_vol_state_init(&st, &vp);
		for (j = 0; j < s[i].n && rc == LC_OK; j++) {
			double v;

			rc = lc_vol_append(&st, &s[i].t[j], &s[i].close[j], 1);
			d->V[i][j] = lc_vol_state_long_run(&st, &v) == LC_OK ?
			    v : (double)NAN;
		}
		lc_vol_state_release(&st);
	}
	if (rc != LC_OK)
		garch_data_release(d);
	return rc;
}

/* Minus the log-likelihood of p over the data; *n the returns scored. */
static double
garch_data_nll(const struct garch_data *d, const struct lc_vol_garch_params *p,
    size_t *n)
{
	struct lc_vol_garch_state g;
	double nll = 0.0, ll;
	size_t i, j;

	*n = 0;
	for (i = 0; i < d->k; i++) {
		lc_vol_garch_init(&g, p);
		for (j = 0; j < d->s[i].n; j++) {
			double V = d->V[i][j];

			if (garch_advance(&g, d->s[i].t[j], d->s[i].close[j],
			    (double)NAN, !isnan(V), V, d->dof, d->c_t, &ll)) {
				nll -= ll;
				(*n)++;
			}
		}
	}
	return nll;
}

enum lc_status
lc_vol_garch_nll(const struct lc_vol_series *s, size_t k, double tail_dof,
    const struct lc_vol_garch_params *p, double *nll, size_t *n_obs)
{
	struct garch_data d;
	enum lc_status rc;

	if (lc_vol_garch_check(p) != LC_OK)
		return LC_EINVAL;
	rc = garch_data_init(&d, s, k, tail_dof);
	if (rc != LC_OK)
		return rc;
	*nll = garch_data_nll(&d, p, n_obs);
	garch_data_release(&d);
	return *n_obs > 0 ? LC_OK : LC_EDOMAIN;
}

static double
logistic(double u)
{
	return 1.0 / (1.0 + exp(-u));
}

/* The parameters at u = (logit phi, logit(alpha / phi)). */
static struct lc_vol_garch_params
garch_from_u(const double u[2])
{
	struct lc_vol_garch_params p;
	double phi = logistic(u[0]);

	p.alpha = phi * logistic(u[1]);
	p.beta = phi - p.alpha;
	if (p.beta < 0.0)
		p.beta = 0.0;
	return p;
}

static double
garch_objective(const struct garch_data *d, const double u[2])
{
	struct lc_vol_garch_params p = garch_from_u(u);
	size_t n;
	double f;

	if (lc_vol_garch_check(&p) != LC_OK)
		return (double)INFINITY;
	f = garch_data_nll(d, &p, &n);
	return isfinite(f) ? f : (double)INFINITY;
}

#define NM_MAX_EVALS 600

enum lc_status
lc_vol_garch_fit(const struct lc_vol_series *s, size_t k, double tail_dof,
    struct lc_vol_garch_params *out, double *nll, size_t *n_obs)
{
	struct garch_data d;
	double x[3][2], f[3], c[2], xr[2], xe[2], xc[2], fr, fe, fc;
	int evals = 0, i, j;
	enum lc_status rc;

	rc = garch_data_init(&d, s, k, tail_dof);
	if (rc != LC_OK)
		return rc;
	/* start: phi 0.98, alpha / phi 0.05 (typical hourly values) */
	x[0][0] = log(0.98 / 0.02);
	x[0][1] = log(0.05 / 0.95);
	for (i = 1; i < 3; i++) {
		x[i][0] = x[0][0] + (i == 1 ? 1.0 : 0.0);
		x[i][1] = x[0][1] + (i == 2 ? 1.0 : 0.0);
	}
	for (i = 0; i < 3; i++)
		f[i] = garch_objective(&d, x[i]);
	evals = 3;
	while (evals < NM_MAX_EVALS) {
		int lo = 0, hi = 0, mid;

		for (i = 1; i < 3; i++) {
			if (f[i] < f[lo])
				lo = i;
			if (f[i] > f[hi])
				hi = i;
		}
		mid = 3 - lo - hi;
		if (lo == hi)
			mid = (lo + 1) % 3, hi = (lo + 2) % 3;
		if (fabs(f[hi] - f[lo]) <= 1e-9 * (fabs(f[lo]) + 1.0) &&
		    fabs(x[hi][0] - x[lo][0]) + fabs(x[hi][1] - x[lo][1]) <
		    1e-7)
			break;
		for (j = 0; j < 2; j++) {
			c[j] = 0.5 * (x[lo][j] + x[mid][j]);
			xr[j] = 2.0 * c[j] - x[hi][j];
		}
		fr = garch_objective(&d, xr);
		evals++;
		if (fr < f[lo]) {
			for (j = 0; j < 2; j++)
				xe[j] = 3.0 * c[j] - 2.0 * x[hi][j];
			fe = garch_objective(&d, xe);
			evals++;
			memcpy(x[hi], fe < fr ? xe : xr, sizeof(xr));
			f[hi] = fe < fr ? fe : fr;
			continue;
		}
		if (fr < f[mid]) {
			memcpy(x[hi], xr, sizeof(xr));
			f[hi] = fr;
			continue;
		}
		for (j = 0; j < 2; j++)
			xc[j] = fr < f[hi] ? 0.5 * (c[j] + xr[j]) :
			    0.5 * (c[j] + x[hi][j]);
		fc = garch_objective(&d, xc);
		evals++;
		if (fc < (fr < f[hi] ? fr : f[hi])) {
			memcpy(x[hi], xc, sizeof(xc));
			f[hi] = fc;
			continue;
		}
		for (i = 0; i < 3; i++) {
			if (i == lo)
				continue;
			for (j = 0; j < 2; j++)
				x[i][j] = 0.5 * (x[i][j] + x[lo][j]);
			f[i] = garch_objective(&d, x[i]);
			evals++;
		}
	}
	j = 0;
	for (i = 1; i < 3; i++)
		if (f[i] < f[j])
			j = i;
	*out = garch_from_u(x[j]);
	*nll = garch_data_nll(&d, out, n_obs);
	garch_data_release(&d);
	return *n_obs > 0 && isfinite(*nll) ? LC_OK : LC_EDOMAIN;
}

enum lc_status
lc_vol_correlation(const int64_t *ta, const double *ca, size_t na,
    const int64_t *tb, const double *cb, size_t nb, double half_life_days,
    double *rho)
{
	double sab = 0.0, saa = 0.0, sbb = 0.0, pa = 0.0, pb = 0.0;
	int64_t T = 0, pt = 0;
	size_t i, j, n = 0;
	int have_prev = 0, pass;

	if (!valid_days(half_life_days) || check_series(ta, ca, na) != LC_OK ||
	    check_series(tb, cb, nb) != LC_OK)
		return LC_EINVAL;
	/* Pass 0 finds T, the last common time; pass 1 sums. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0, j = 0; i < na && j < nb;) {
			struct lc_vol_return r;

			if (ta[i] < tb[j]) {
				i++;
				continue;
			}
			if (tb[j] < ta[i]) {
				j++;
				continue;
			}
			if (pass == 0) {
				T = ta[i];
			} else if (have_prev &&
			    make_return(pt, pa, ta[i], ca[i], &r)) {
				double w = ewma_weight(T - ta[i],
				    half_life_days);
				double rb = log(cb[j] / pb);

				sab += w * r.r * rb;
				saa += w * r.r * r.r;
				sbb += w * rb * rb;
				n++;
			}
			have_prev = 1;
			pt = ta[i];
			pa = ca[i];
			pb = cb[j];
			i++;
			j++;
		}
		have_prev = 0;
	}
	if (n < LC_VOL_MIN_RETURNS || !(saa > 0.0) || !(sbb > 0.0))
		return LC_EDOMAIN;
	*rho = sab / sqrt(saa * sbb);
	if (*rho > 1.0)
		*rho = 1.0;
	if (*rho < -1.0)
		*rho = -1.0;
	return LC_OK;
}

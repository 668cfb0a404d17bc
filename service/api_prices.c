/*
 * api_prices.c - price history and volatility in the live service
 * (docs/model.md section 9): the use cases of api.h's "price history"
 * block and the estimator state of the writer (api_int.h, struct
 * api_vol).
 *
 *   POST /v1/markets/{asset}/prices   api_post_prices (api_post_candles)
 *   GET  /v1/markets/{asset}/prices   api_get_prices
 *
 * Estimators.  Per asset with history the writer keeps an incremental
 * struct lc_vol_state (cascade/vol.h: the EWMA sums at the last candle
 * and the 730-day long-run window) and the tail of its close series (the
 * last max(400, 40 H) days: what the EWMA correlation weighs; older
 * returns weigh at most 2^-36 of the total).  At start, and when another
 * process wrote the database, every state is built from the store once:
 * O(history).  A price write that extends an asset's history appends to
 * its state, O(new candles); one that rewrites the past (a t at or before
 * the last one) rebuilds that asset from the store.  Before each snapshot
 * build the states fill md_vol_hist per asset (sigma_ewma^2,
 * sigma_lr^2, whether both have enough data), so a score computes
 * sigma(h) = lc_vol_blend(.., h, M) at its own horizon.  Beside it, a
 * GARCH(1,1) state with the candles' Parkinson variance as the news at
 * vol.h's LC_VOL_GARCH_PARKINSON_DEFAULT_* (level: the long run of the
 * same state; the backtest's best held-out estimator), O(1) per candle,
 * shown in `volatility_history` (docs/volatility.md), not used by the
 * score.
 *
 * Retention: the store deletes candles older than the last one minus
 * --price-retention-days; a state keeps what it already summed of them
 * (the EWMA weight of a candle 1095 days old is 2^-99 with H = 11; the
 * long-run window is 730 days), so the retention never changes a figure
 * beyond rounding.
 *
 * Correlations: for each pair of assets with history, rho =
 * lc_vol_correlation() over the two tails (>= 72 common returns, else
 * none: the configured default applies); written correlations win (the
 * snapshot applies md->hcorr first).  Cached per pair and recomputed only
 * for the pairs of an asset whose history changed: a write costs (assets
 * - 1) merges of two tails, O(tail) each.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "cascade/vol.h"
#include "codec.h"
#include "log.h"
#include "rfc3339.h"
#include "store.h"
#include "store_prices.h"

#define DAY 86400.0
/* Correlation tail: at least this many days, and 40 half-lives. */
#define TAIL_MIN_DAYS 400.0
#define TAIL_HALF_LIVES 40.0

struct vol_series {
	char symbol[MD_SYMBOL_MAX + 1];
	struct lc_vol_state st;
	struct lc_vol_garch_state gs;	/* garch-parkinson, level: st's
					 * long run */
	int64_t *t;		/* the tail of the close series */
	double *c;
	size_t n, cap;
	int dirty;		/* its correlations need recomputing */
};

struct api_vol {
	struct lc_vol_params p;
	double tail_days;
	double retention_days;
	size_t n, cap;
	struct vol_series **s;
	size_t npairs, cappairs;
	struct md_corr *pairs;	/* cached estimated correlations */
};

/* ---- the estimator state -------------------------------------------- */

struct api_vol *
api_vol_open(const struct config *cfg)
{
	struct api_vol *v = calloc(1, sizeof(*v));

	if (v == NULL)
		return NULL;
	lc_vol_params_default(&v->p);
	v->retention_days = CONFIG_DEFAULT_PRICE_RETENTION_DAYS;
	if (cfg != NULL) {
		v->p.half_life_days = cfg->vol_half_life_days;
		v->p.mean_reversion_days = cfg->vol_mean_reversion_days;
		v->retention_days = cfg->price_retention_days;
	}
	if (lc_vol_params_check(&v->p) != LC_OK)
		lc_vol_params_default(&v->p);
	v->tail_days = fmax(TAIL_MIN_DAYS, TAIL_HALF_LIVES *
	    v->p.half_life_days);
	return v;
}

static void
series_free(struct vol_series *s)
{
	if (s == NULL)
		return;
	lc_vol_state_release(&s->st);
	free(s->t);
	free(s->c);
	free(s);
}

void
api_vol_free(struct api_vol *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < v->n; i++)
		series_free(v->s[i]);
	free(v->s);
	free(v->pairs);
	free(v);
}

static long
series_find(const struct api_vol *v, const char *sym)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->s[i]->symbol, sym) == 0)
			return (long)i;
	return -1;
}

/* Drop the cached pairs of `sym`. */
static void
pairs_drop(struct api_vol *v, const char *sym)
{
	size_t i, k = 0;

	for (i = 0; i < v->npairs; i++)
		if (strcmp(v->pairs[i].a, sym) != 0 &&
		    strcmp(v->pairs[i].b, sym) != 0)
			v->pairs[k++] = v->pairs[i];
	v->npairs = k;
}

static void
series_drop(struct api_vol *v, const char *sym)
{
	long i = series_find(v, sym);

	pairs_drop(v, sym);
	if (i < 0)
		return;
	series_free(v->s[i]);
	v->s[i] = v->s[--v->n];
}

/*
 * Append candles (t above the state's last) to the state and the tail,
 * then cut the tail to tail_days before its last point.
 */
static int
series_append(const struct api_vol *v, struct vol_series *s,
    const struct lc_candle *c, size_t n)
{
	size_t i, cut = 0, cap;
	int64_t *nt;
	double *nc;

	for (i = 0; i < n; i++) {
		double V;
		int V_ok;

		if (lc_vol_append(&s->st, &c[i].t, &c[i].close, 1) != LC_OK)
			return -1;
		V_ok = lc_vol_state_long_run(&s->st, &V) == LC_OK;
		if (lc_vol_garch_append_range(&s->gs, LC_VOL_PARKINSON,
		    c[i].t, c[i].open, c[i].high, c[i].low, c[i].close, V_ok,
		    V_ok ? V : 0.0) != LC_OK)
			return -1;
		if (s->n == s->cap) {
			cap = s->cap > 0 ? 2 * s->cap : 256;
			nt = realloc(s->t, cap * sizeof(*nt));
			if (nt == NULL)
				return -1;
			s->t = nt;
			nc = realloc(s->c, cap * sizeof(*nc));
			if (nc == NULL)
				return -1;
			s->c = nc;
			s->cap = cap;
		}
		s->t[s->n] = c[i].t;
		s->c[s->n] = c[i].close;
		s->n++;
	}
	while (cut < s->n && (double)(s->t[s->n - 1] - s->t[cut]) >
	    v->tail_days * DAY)
		cut++;
	if (cut > 0) {
		memmove(s->t, s->t + cut, (s->n - cut) * sizeof(*s->t));
		memmove(s->c, s->c + cut, (s->n - cut) * sizeof(*s->c));
		s->n -= cut;
	}
	s->dirty = 1;
	return 0;
}

static const struct lc_vol_garch_params garch_default = {
	LC_VOL_GARCH_PARKINSON_DEFAULT_ALPHA,
	LC_VOL_GARCH_PARKINSON_DEFAULT_BETA
};

/* (Re)build the series of `sym` from the store: O(its history). */
static int
series_load(struct app *app, const char *sym)
{
	struct api_vol *v = app->writer->vol;
	struct vol_series *s, **ns;
	struct lc_candle *c = NULL;
	size_t n = 0, cap;
	enum store_status st;
	int rc = -1;

	series_drop(v, sym);
	st = store_get_prices(app->store, sym, INT64_MIN, INT64_MAX, 0, &c,
	    &n);
	if (st == STORE_NOT_FOUND)
		return 0;	/* deleted meanwhile: nothing to hold */
	if (st != STORE_OK)
		return -1;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto out;
	snprintf(s->symbol, sizeof(s->symbol), "%s", sym);
	if (lc_vol_state_init(&s->st, &v->p) != LC_OK ||
	    lc_vol_garch_init(&s->gs, &garch_default) != LC_OK ||
	    series_append(v, s, c, n) != 0) {
		series_free(s);
		goto out;
	}
	if (v->n == v->cap) {
		cap = v->cap > 0 ? 2 * v->cap : 16;
		ns = realloc(v->s, cap * sizeof(*ns));
		if (ns == NULL) {
			series_free(s);
			goto out;
		}
		v->s = ns;
		v->cap = cap;
	}
	v->s[v->n++] = s;
	rc = 0;
out:
	free(c);
	return rc;
}

static int
pairs_push(struct api_vol *v, const char *a, const char *b, double rho)
{
	struct md_corr *np;
	size_t cap;

	if (v->npairs == v->cappairs) {
		cap = v->cappairs > 0 ? 2 * v->cappairs : 16;
		np = realloc(v->pairs, cap * sizeof(*np));
		if (np == NULL)
			return -1;
		v->pairs = np;
		v->cappairs = cap;
	}
	md_corr_set(&v->pairs[v->npairs++], a, b, rho);
	return 0;
}

/* Recompute the pairs of every dirty series. */
static int
pairs_refresh(struct api_vol *v)
{
	size_t i, k;
	double rho;

	for (i = 0; i < v->n; i++)
		if (v->s[i]->dirty)
			pairs_drop(v, v->s[i]->symbol);
	for (i = 0; i < v->n; i++) {
		const struct vol_series *a = v->s[i];

		for (k = 0; k < v->n; k++) {
			const struct vol_series *b = v->s[k];

			/* each pair once: by the dirty one of lower index */
			if (k == i || !a->dirty || (b->dirty && k < i))
				continue;
			if (lc_vol_correlation(a->t, a->c, a->n, b->t, b->c,
			        b->n, v->p.half_life_days, &rho) != LC_OK)
				continue;
			if (pairs_push(v, a->symbol, b->symbol, rho) != 0)
				return -1;
		}
	}
	for (i = 0; i < v->n; i++)
		v->s[i]->dirty = 0;
	return 0;
}

static void
hist_of(const struct vol_series *s, struct md_vol_hist *h)
{
	double e, l;

	memset(h, 0, sizeof(*h));
	if (s == NULL)
		return;
	h->n_returns = s->st.n_returns;
	h->t_last = s->st.n_points > 0 ? s->st.t_last : 0;
	if (lc_vol_state_ewma(&s->st, &e) == LC_OK &&
	    lc_vol_state_long_run(&s->st, &l) == LC_OK) {
		h->ok = 1;
		h->ewma_var = e;
		h->long_run_var = l;
	}
	if (s->gs.started) {
		h->garch_ok = 1;
		h->garch_var = s->gs.v;
		h->garch_level = s->gs.V;
	}
}

int
api_vol_decorate(struct app *app, struct market_data *md,
    const char *symbol, int full)
{
	struct api_vol *v = app->writer != NULL ? app->writer->vol : NULL;
	size_t i;
	long k;

	if (v == NULL)
		return 0;
	if (full) {
		while (v->n > 0)
			series_drop(v, v->s[0]->symbol);
		for (i = 0; i < md->nassets; i++)
			if (series_load(app, md->assets[i].symbol) != 0)
				return -1;
	} else if (symbol != NULL) {
		if (market_data_find(md, symbol) < 0)
			series_drop(v, symbol);		/* deleted */
		else if (series_find(v, symbol) < 0 &&
		    series_load(app, symbol) != 0)
			return -1;
	}
	if (pairs_refresh(v) != 0)
		return -1;
	for (i = 0; i < md->nassets; i++) {
		k = series_find(v, md->assets[i].symbol);
		hist_of(k >= 0 ? v->s[k] : NULL, &md->assets[i].hist);
	}
	free(md->hcorr);
	md->hcorr = NULL;
	md->nhcorr = 0;
	if (v->npairs > 0) {
		md->hcorr = malloc(v->npairs * sizeof(*md->hcorr));
		if (md->hcorr == NULL)
			return -1;
		memcpy(md->hcorr, v->pairs, v->npairs * sizeof(*md->hcorr));
		md->nhcorr = v->npairs;
	}
	return 0;
}

/* After a committed price write: extend the state, or rebuild it. */
static void
vol_after_write(struct app *app, const char *asset,
    const struct lc_candle *c, size_t n)
{
	struct api_vol *v = app->writer->vol;
	long i = series_find(v, asset);

	if (n == 0)
		return;
	if (i >= 0 && (v->s[i]->st.n_points == 0 ||
	    c[0].t > v->s[i]->st.t_last) &&
	    series_append(v, v->s[i], c, n) == 0)
		return;
	/* the past was rewritten (or memory ran out): from the store */
	if (series_load(app, asset) != 0) {
		/* the next reload rebuilds everything */
		series_drop(v, asset);
		store_want_full_load(app->store);
	}
}

/* ---- POST /v1/markets/{asset}/prices -------------------------------- */

static int
put_candles(const struct api_wcall *call, const char *asset,
    struct lc_candle *c, size_t n, size_t received, const char *form,
    int check, struct api_answer *ans)
{
	struct app *app = call->app;
	struct wtx t;
	struct codec_prices_put put;
	enum store_status st;
	size_t deleted = 0;
	long i;

	wtx_init(&t, call);
	if (!api_valid_symbol(asset)) {
		api_fail_field(ans, "/path/asset", "an asset symbol is 1-16 "
		    "characters of A-Z, 0-9, '.', '_' and '-'");
		return ans->status;
	}
	if (check && (codec_prices_check(c, n, &ans->err) != 0 ||
	    codec_prices_sort(c, &n) != 0)) {
		if (ans->err.status == 0)
			return api_oom(ans);
		ans->status = ans->err.status;
		return ans->status;
	}
	wtx_lock(&t);
	if (wtx_asset(&t, asset, ans) < 0)
		goto out;
	if (wtx_validated(&t, ans))
		goto out;
	st = store_put_prices(app->store, asset, c, n,
	    app->writer->vol->retention_days,
	    n > 0 ? STORE_SRC_HISTORY_UNPINNED : STORE_SRC_KEEP, &deleted);
	if (st == STORE_OK)
		vol_after_write(app, asset, c, n);
	if (wtx_commit(&t, st, asset, asset, SNAPSHOT_LEVELS_KEEP, ans) != 0)
		goto out;
	i = api_find_stored(t.ns, asset);
	if (i < 0)
		goto out;
	memset(&put, 0, sizeof(put));
	put.asset = asset;
	put.form = form;
	put.received = received;
	put.stored = n;
	put.deleted = deleted;
	put.first = n > 0 ? c[0].t : 0;
	put.last = n > 0 ? c[n - 1].t : 0;
	put.vol_source = t.ns->assets[i].vol_source;
	put.hist = t.ns->assets[i].hist;
	codec_encode_prices_put(&put, &ans->body);
	wtx_answer(ans, 1, 200);
out:
	return wtx_end(&t, ans);
}

/* The write of api_writes[] (carried by the bus like every write). */
int
api_w_post_prices(const struct api_wcall *c, struct api_answer *ans)
{
	struct codec_prices p;
	int rc;

	codec_prices_init(&p);
	if (codec_decode_prices(c->body, c->len, &p, &ans->err) != 0) {
		ans->status = ans->err.status;
		return ans->status;
	}
	rc = put_candles(c, c->param[0], p.c, p.n, p.received, p.form, 0,
	    ans);
	codec_prices_release(&p);
	return rc;
}

int
api_post_prices(struct app *app, const char *asset, const char *body,
    size_t len, struct api_answer *ans)
{
	return api_write(app, "POST", "/v1/markets/{asset}/prices", asset,
	    NULL, body, len, ans);
}

/*
 * Candles in memory (`cascaded import --prices`, which refuses to run
 * with a bus): applied in place, with the rules of the route.
 */
int
api_post_candles(struct app *app, const char *asset, struct lc_candle *c,
    size_t n, struct api_answer *ans)
{
	struct api_wcall call;

	memset(&call, 0, sizeof(call));
	call.app = app;
	call.param[0] = asset;
	return put_candles(&call, asset, c, n, n, "candles", 1, ans);
}

/* ---- GET /v1/markets/{asset}/prices --------------------------------- */

/* A time of the query: unix seconds or RFC 3339; -1 with an error. */
static int
query_time(struct problem *err, const char *name, const char *s,
    int64_t *out)
{
	struct rfc3339_time t;
	char *end = NULL;
	long long v;

	if (s == NULL)
		return 0;
	if (*s != '\0' && ((*s >= '0' && *s <= '9') || *s == '-')) {
		v = strtoll(s, &end, 10);
		if (*end == '\0') {
			*out = (int64_t)v;
			return 0;
		}
	}
	if (rfc3339_parse(s, strlen(s), &t) == 0) {
		*out = t.sec;
		return 0;
	}
	api_query_error(err, name, "must be unix seconds or an RFC 3339 "
	    "date-time");
	return -1;
}

int
api_get_prices(struct app *app, const char *asset,
    const struct api_param *query, size_t nq, struct api_answer *ans)
{
	static const char *const names[] = { "from", "to", "limit" };
	const char *v[3];
	struct lc_candle *c = NULL;
	int64_t from = INT64_MIN, to = INT64_MAX;
	size_t n = 0, limit = CODEC_MAX_PRICES_LIMIT;
	enum store_status st;
	char *end = NULL;
	long long l;

	if (!api_valid_symbol(asset)) {
		api_not_found(ans, asset);
		return ans->status;
	}
	api_query_check(query, nq, names, 3, NULL, v, &ans->err);
	query_time(&ans->err, "from", v[0], &from);
	query_time(&ans->err, "to", v[1], &to);
	if (v[2] != NULL) {
		l = strtoll(v[2], &end, 10);
		if (*v[2] == '\0' || *end != '\0' || l < 1 ||
		    l > CODEC_MAX_PRICES_LIMIT)
			api_query_error(&ans->err, "limit", "must be an integer "
			    "from 1 to 100000");
		else
			limit = (size_t)l;
	}
	if (ans->err.nerrors > 0) {
		problem_set(&ans->err, 422, "validation",
		    "Unprocessable request", "%zu query parameter(s) break the "
		    "contract (see errors)", ans->err.nerrors);
		ans->status = 422;
		return 422;
	}
	st = store_get_prices(app->store, asset, from, to, limit + 1, &c, &n);
	if (st == STORE_NOT_FOUND) {
		api_not_found(ans, asset);
	} else if (st != STORE_OK) {
		problem_set(&ans->err, 503, "unavailable",
		    "Service unavailable", "the price history could not be "
		    "read (%s)", store_status_str(st));
		ans->retry_after = 1;
		ans->status = 503;
	} else if (codec_encode_prices(asset, c, n > limit ? limit : n,
	               n > limit, &ans->body) != 0) {
		api_oom(ans);
	} else {
		ans->status = 200;
	}
	free(c);
	return ans->status;
}

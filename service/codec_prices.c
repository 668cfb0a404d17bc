/*
 * codec_prices.c - the price-history codecs of docs/model.md section 9
 * (codec.h, the "price history" block): POST /v1/markets/{asset}/prices
 * in its three forms, the candle rules, and the answers of the write and
 * of GET /v1/markets/{asset}/prices.
 *
 * Body forms (exactly one of them; unknown members are 422):
 *   {"candles": [[t, open, high, low, close], ...]}
 *   {"points": [[t, price], ...]}        stored as open=high=low=close
 *   {"format": "binance-klines", "klines": [[open_ms, "o", "h", "l",
 *    "c", ...], ...]}                    later elements ignored
 * t: a JSON number of whole unix seconds, a string of digits (the same),
 * or an RFC 3339 date-time in whole seconds (rfc3339.h); kline times are
 * whole milliseconds (floored to seconds).  Prices: numbers or decimal
 * strings.  Rules, each failing one a 422 error at its element
 * (/candles/i/k): prices finite, > 0 and at most 1e15; low <= min(open,
 * close) (else at low, k 3); max(open, close) <= high (else at high, k
 * 2); t in [0, 253402300799] (year 9999).  At most CODEC_MAX_CANDLES
 * entries per body.  Then sorted by t, and of several entries at one t
 * the last in the body wins.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec_int.h"
#include "rfc3339.h"

#define MAX_T 253402300799LL	/* 9999-12-31T23:59:59Z */

void
codec_prices_init(struct codec_prices *p)
{
	memset(p, 0, sizeof(*p));
}

void
codec_prices_release(struct codec_prices *p)
{
	if (p == NULL)
		return;
	free(p->c);
	codec_prices_init(p);
}

/* A time: seconds (ms when `ms`), a digit string, or RFC 3339. */
static int
read_time(struct codec_ctx *c, const cJSON *it, int ms, int64_t *t)
{
	struct rfc3339_time rt;
	const char *s;
	double v;
	size_t k;

	if (cJSON_IsNumber(it)) {
		v = it->valuedouble;
		if (ms)
			v = floor(v / 1000.0);
		if (!(v >= 0 && v <= (double)MAX_T) || v != floor(v)) {
			codec_err(c, NULL, "must be whole unix %s from 1970 to "
			    "9999", ms ? "milliseconds" : "seconds");
			return -1;
		}
		*t = (int64_t)v;
		return 0;
	}
	s = cJSON_IsString(it) ? it->valuestring : NULL;
	for (k = 0; s != NULL && s[k] >= '0' && s[k] <= '9'; k++)
		;
	if (s != NULL && k > 0 && s[k] == '\0' && k <= 16) {
		*t = strtoll(s, NULL, 10);
		if (ms)
			*t /= 1000;
		if (*t <= MAX_T)
			return 0;
	} else if (s != NULL && !ms &&
	    rfc3339_parse(s, strlen(s), &rt) == 0 && rt.nsec == 0 &&
	    rt.sec >= 0 && rt.sec <= MAX_T) {
		*t = rt.sec;
		return 0;
	}
	codec_err(c, NULL, "must be unix %s (a number or a string of "
	    "digits)%s", ms ? "milliseconds" : "seconds",
	    ms ? "" : " or an RFC 3339 date-time in whole seconds");
	return -1;
}

static int
read_price(struct codec_ctx *c, const cJSON *it, double *out)
{
	if (codec_qty_text(c, NULL, it, out) != 0)
		return -1;
	if (!(*out > 0)) {
		codec_err(c, NULL, "must be a positive price");
		return -1;
	}
	return 0;
}

/*
 * The candle rules of one entry at the cursor (/member/i): each price
 * positive (checked by the reader), low and high enclosing open and
 * close.  The element indices of high and low are 2 and 3.
 */
static void
check_bounds(struct codec_ctx *c, const struct lc_candle *k)
{
	size_t old;

	if (k->low > fmin(k->open, k->close)) {
		old = codec_ptr_idx(c, 3);
		codec_err(c, NULL, "low must be at most min(open, close)");
		codec_ptr_pop(c, old);
	}
	if (k->high < fmax(k->open, k->close)) {
		old = codec_ptr_idx(c, 2);
		codec_err(c, NULL, "high must be at least max(open, close)");
		codec_ptr_pop(c, old);
	}
}

/*
 * One entry: an array of `need` elements at least (exactly `need` unless
 * `extra`), t first, then the prices.  kind: 0 candle, 1 point, 2 kline.
 */
static void
read_entry(struct codec_ctx *c, const cJSON *it, int kind,
    struct lc_candle *out)
{
	static const size_t need[3] = { 5, 2, 5 };
	const cJSON *e[5];
	double p[4] = { 0, 0, 0, 0 };
	size_t k, n, old, nerr = c->nerr;

	n = cJSON_IsArray(it) ? (size_t)cJSON_GetArraySize(it) : 0;
	if (n < need[kind] || (kind != 2 && n != need[kind])) {
		codec_err(c, NULL, kind == 1 ? "must be [t, price]" :
		    kind == 0 ? "must be [t, open, high, low, close]" :
		    "must be a kline [open_ms, open, high, low, close, ...]");
		return;
	}
	e[0] = it->child;
	for (k = 1; k < need[kind]; k++)
		e[k] = e[k - 1]->next;
	old = codec_ptr_idx(c, 0);
	read_time(c, e[0], kind == 2, &out->t);
	codec_ptr_pop(c, old);
	for (k = 1; k < need[kind]; k++) {
		old = codec_ptr_idx(c, k);
		read_price(c, e[k], &p[k - 1]);
		codec_ptr_pop(c, old);
	}
	if (kind == 1) {
		out->open = out->high = out->low = out->close = p[0];
		return;
	}
	out->open = p[0];
	out->high = p[1];
	out->low = p[2];
	out->close = p[3];
	if (c->nerr == nerr)
		check_bounds(c, out);
}

struct tagged {
	struct lc_candle c;
	size_t i;
};

static int
cmp_tagged(const void *x, const void *y)
{
	const struct tagged *a = x, *b = y;

	if (a->c.t != b->c.t)
		return a->c.t < b->c.t ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i;
}

int
codec_prices_sort(struct lc_candle *c, size_t *n)
{
	struct tagged *v;
	size_t i, k = 0, m = *n;

	for (i = 1; i < m && c[i - 1].t < c[i].t; i++)
		;
	if (i >= m)
		return 0;	/* already strictly increasing */
	v = malloc(m * sizeof(*v));
	if (v == NULL)
		return -1;
	for (i = 0; i < m; i++) {
		v[i].c = c[i];
		v[i].i = i;
	}
	qsort(v, m, sizeof(*v), cmp_tagged);
	/* of a run of equal t the last (in body order) wins */
	for (i = 0; i < m; i++) {
		if (i + 1 < m && v[i + 1].c.t == v[i].c.t)
			continue;
		c[k++] = v[i].c;
	}
	free(v);
	*n = k;
	return 0;
}

int
codec_prices_check(const struct lc_candle *c, size_t n,
    struct problem *err)
{
	struct codec_ctx ctx;
	size_t i, old, k, top;

	codec_ctx_init(&ctx, err);
	codec_ptr_key(&ctx, "candles");
	for (i = 0; i < n; i++) {
		const struct lc_candle *q = &c[i];
		const double p[4] = { q->open, q->high, q->low, q->close };

		top = codec_ptr_idx(&ctx, i);
		if (!(q->t >= 0 && q->t <= MAX_T)) {
			old = codec_ptr_idx(&ctx, 0);
			codec_err(&ctx, NULL, "must be unix seconds from 1970 "
			    "to 9999");
			codec_ptr_pop(&ctx, old);
		}
		for (k = 0; k < 4; k++)
			if (!(p[k] > 0 && p[k] <= LC_MAX_VALUE)) {
				old = codec_ptr_idx(&ctx, k + 1);
				codec_err(&ctx, NULL, "must be a positive "
				    "price of at most 1e15");
				codec_ptr_pop(&ctx, old);
			}
		if (p[0] > 0 && p[1] > 0 && p[2] > 0 && p[3] > 0)
			check_bounds(&ctx, q);
		codec_ptr_pop(&ctx, top);
	}
	if (ctx.nerr == 0)
		return 0;
	problem_set(err, 422, "validation", "Unprocessable request",
	    "%zu field(s) break the contract (see errors)", ctx.nerr);
	return -1;
}

int
codec_decode_prices(const char *body, size_t len, struct codec_prices *out,
    struct problem *err)
{
	static const char *const keys[] = { "candles", "points", "format",
		"klines", NULL };
	static const char *const form[3] = { "candles", "points",
		"binance-klines" };
	const cJSON *v[4], *arr = NULL, *it;
	struct codec_ctx c;
	cJSON *root;
	size_t i, n, old, nforms;
	int kind = -1;

	codec_prices_release(out);
	if (codec_open(&c, body, len, keys, v, &root, err) != 0) {
		if (root == NULL)
			return -1;
		goto out;
	}
	nforms = (v[0] != NULL) + (v[1] != NULL) + (v[3] != NULL);
	if (nforms != 1) {
		codec_err(&c, NULL, "give exactly one of candles, points or "
		    "klines (with \"format\": \"binance-klines\")");
		goto out;
	}
	kind = v[0] != NULL ? 0 : v[1] != NULL ? 1 : 2;
	arr = v[kind == 2 ? 3 : kind];
	if (kind == 2 && (v[2] == NULL || !cJSON_IsString(v[2]) ||
	    strcmp(v[2]->valuestring, "binance-klines") != 0))
		codec_err(&c, "format", "must be \"binance-klines\" with "
		    "klines");
	if (kind != 2 && v[2] != NULL)
		codec_err(&c, "format", "is for klines only");
	old = codec_ptr_key(&c, kind == 2 ? "klines" : form[kind]);
	if (!cJSON_IsArray(arr)) {
		codec_err(&c, NULL, "must be an array");
		goto out;
	}
	n = (size_t)cJSON_GetArraySize(arr);
	if (n > CODEC_MAX_CANDLES) {
		codec_err(&c, NULL, "at most %d entries per write (split the "
		    "history into several writes)", CODEC_MAX_CANDLES);
		goto out;
	}
	out->c = malloc((n + 1) * sizeof(*out->c));
	if (out->c == NULL) {
		problem_set(err, 500, "internal", "Internal server error",
		    "out of memory");
		goto out;
	}
	for (i = 0, it = arr->child; it != NULL; it = it->next, i++) {
		size_t o2 = codec_ptr_idx(&c, i);

		memset(&out->c[i], 0, sizeof(out->c[i]));
		read_entry(&c, it, kind, &out->c[i]);
		codec_ptr_pop(&c, o2);
	}
	codec_ptr_pop(&c, old);
	out->n = out->received = n;
	out->form = form[kind];
	if (c.nerr == 0 && codec_prices_sort(out->c, &out->n) != 0)
		problem_set(err, 500, "internal", "Internal server error",
		    "out of memory");
out:
	cJSON_Delete(root);
	if (c.nerr == 0 && err->status == 0)
		return 0;
	if (err->status == 0 || err->status == 422)
		problem_set(err, 422, "validation", "Unprocessable request",
		    "%zu field(s) break the contract (see errors%s)", c.nerr,
		    c.nerr > CODEC_MAX_ERRORS ? "; the first 100 are listed"
		                              : "");
	codec_prices_release(out);
	return -1;
}

/*
 * {"ewma", "long_run", "returns", "garch"} of the estimators (null when
 * short); garch {"estimator", "alpha", "beta", "sigma_1d", "sigma_7d"}:
 * the garch-parkinson term structure at 1 and 7 days
 * (docs/volatility.md), shown only.
 */
void
codec_buf_vol_history(struct json_buf *b, const struct md_vol_hist *h)
{
	json_buf_begin(b, '{');
	json_buf_key(b, "ewma");
	if (h->ok)
		json_buf_num(b, sqrt(h->ewma_var));
	else
		json_buf_null(b);
	json_buf_key(b, "long_run");
	if (h->ok)
		json_buf_num(b, sqrt(h->long_run_var));
	else
		json_buf_null(b);
	json_buf_key(b, "returns");
	json_buf_int(b, (int64_t)h->n_returns);
	json_buf_key(b, "garch");
	if (h->garch_ok) {
		static const struct lc_vol_garch_params g = {
			LC_VOL_GARCH_PARKINSON_DEFAULT_ALPHA,
			LC_VOL_GARCH_PARKINSON_DEFAULT_BETA
		};

		json_buf_begin(b, '{');
		json_buf_key(b, "estimator");
		json_buf_str(b, "garch-parkinson");
		json_buf_key(b, "alpha");
		json_buf_num(b, g.alpha);
		json_buf_key(b, "beta");
		json_buf_num(b, g.beta);
		json_buf_key(b, "sigma_1d");
		json_buf_num(b, sqrt(lc_vol_garch_horizon_var(&g,
		    h->garch_var, h->garch_level, 1.0)));
		json_buf_key(b, "sigma_7d");
		json_buf_num(b, sqrt(lc_vol_garch_horizon_var(&g,
		    h->garch_var, h->garch_level, 7.0)));
		json_buf_end(b, '}');
	} else {
		json_buf_null(b);
	}
	json_buf_end(b, '}');
}

int
codec_encode_prices_put(const struct codec_prices_put *a, char **out)
{
	struct json_buf b;

	json_buf_init(&b, 512);
	json_buf_begin(&b, '{');
	json_buf_key(&b, "asset");
	json_buf_str(&b, a->asset);
	json_buf_key(&b, "form");
	json_buf_str(&b, a->form);
	json_buf_key(&b, "received");
	json_buf_int(&b, (int64_t)a->received);
	json_buf_key(&b, "stored");
	json_buf_int(&b, (int64_t)a->stored);
	json_buf_key(&b, "first");
	if (a->stored > 0)
		json_buf_int(&b, a->first);
	else
		json_buf_null(&b);
	json_buf_key(&b, "last");
	if (a->stored > 0)
		json_buf_int(&b, a->last);
	else
		json_buf_null(&b);
	json_buf_key(&b, "deleted_by_retention");
	json_buf_int(&b, (int64_t)a->deleted);
	json_buf_key(&b, "volatility_source");
	json_buf_str(&b, a->vol_source == MD_VOL_HISTORY ? "history"
	                                                 : "explicit");
	json_buf_key(&b, "history");
	codec_buf_vol_history(&b, &a->hist);
	json_buf_end(&b, '}');
	*out = json_buf_take(&b);
	return *out != NULL ? 0 : -1;
}

int
codec_encode_prices(const char *asset, const struct lc_candle *c, size_t n,
    int truncated, char **out)
{
	struct json_buf b;
	size_t i;

	json_buf_init(&b, 128 + 96 * n);
	json_buf_begin(&b, '{');
	json_buf_key(&b, "asset");
	json_buf_str(&b, asset);
	json_buf_key(&b, "count");
	json_buf_int(&b, (int64_t)n);
	json_buf_key(&b, "truncated");
	json_buf_bool(&b, truncated);
	json_buf_key(&b, "candles");
	json_buf_begin(&b, '[');
	for (i = 0; i < n; i++) {
		json_buf_begin(&b, '[');
		json_buf_int(&b, c[i].t);
		json_buf_num(&b, c[i].open);
		json_buf_num(&b, c[i].high);
		json_buf_num(&b, c[i].low);
		json_buf_num(&b, c[i].close);
		json_buf_end(&b, ']');
	}
	json_buf_end(&b, ']');
	json_buf_end(&b, '}');
	*out = json_buf_take(&b);
	return *out != NULL ? 0 : -1;
}

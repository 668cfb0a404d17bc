/*
 * codec_market.c - the market-data writes (docs/model.md 1 and 7): decoders for
 * PUT /v1/markets/{asset}, .../depth/{venue}, .../liquidations and
 * /v1/correlations, the answers of those writes, and the GET /v1/markets
 * listing from a snapshot.
 *
 * Depth input forms all end as validated lc_curves built by the model's
 * constructors (points, order-book levels, average-slippage quotes,
 * constant-product reserves); an error names the offending element by its
 * JSON pointer.  The exchange order-book forms (Binance-like bids/asks,
 * Bybit's result.b/result.a, OKX's data[0].bids/asks) ignore members they
 * do not use, as docs/model.md 7 asks; the one-side form is strict.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec_int.h"

static const char *const side_name[2] = {"bid", "ask"};

/* Finish a decoder: 422 title/detail when errors were collected. */
static int
finish(struct codec_ctx *c, struct problem *err)
{
	if (c->nerr == 0 && err->status == 0)
		return 0;
	if (err->status == 422 || err->status == 0)
		problem_set(err, 422, "validation", "Unprocessable request",
		    "%zu field(s) break the contract (see errors%s)", c->nerr,
		    c->nerr > CODEC_MAX_ERRORS ? "; the first 100 are listed"
					       : "");
	return -1;
}

static int
range(struct codec_ctx *c, const char *member, const cJSON *item, double lo,
    int lo_open, double hi, double *out)
{
	double v;

	if (codec_number(c, member, item, &v) != 0)
		return -1;
	if ((lo_open ? !(v > lo) : !(v >= lo)) || v > hi) {
		if (hi >= LC_MAX_VALUE)
			codec_err(c, member, "must be %s %g",
			    lo_open ? ">" : ">=", lo);
		else
			codec_err(c, member, "must be in %c%g, %g]",
			    lo_open ? '(' : '[', lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

/* ---- PUT /v1/markets/{asset} ---------------------------------------- */

int
codec_decode_asset(const char *body, size_t len,
    const struct md_asset *existing, struct codec_asset_put *out,
    struct problem *err)
{
	static const char *const keys[] = {"price", "volatility", "as_of",
	    "source", "volatility_source", NULL};
	const cJSON *v[5];
	struct codec_ctx c;
	cJSON *root;

	codec_ctx_init(&c, err);
	root = codec_parse(body, len, err);
	if (root == NULL)
		return -1;
	out->price = existing != NULL ? existing->price : (double)NAN;
	out->vol = existing != NULL ? existing->vol : 0.0;
	if (codec_members(&c, root, keys, v, 0) != 0 && !cJSON_IsObject(root))
		goto out;
	if (v[0] != NULL)
		range(&c, "price", v[0], 0, 1, LC_MAX_VALUE, &out->price);
	else if (existing == NULL)
		codec_err(&c, "price", "is required when creating an asset");
	if (v[1] != NULL)
		range(&c, "volatility", v[1], 0, 0, LC_MAX_VOL, &out->vol);
	/* docs/model.md 7: as_of and source are optional on every write */
	codec_as_of(&c, v[2], out->as_of);
	codec_source(&c, v[3], out->source);
	/* price history: a written volatility is explicit; pin or unpin */
	out->vol_src = v[1] != NULL ? CODEC_SRC_EXPLICIT : CODEC_SRC_KEEP;
	if (v[4] != NULL && cJSON_IsString(v[4]) &&
	    strcmp(v[4]->valuestring, "explicit") == 0)
		out->vol_src = CODEC_SRC_PIN;
	else if (v[4] != NULL && cJSON_IsString(v[4]) &&
	    strcmp(v[4]->valuestring, "history") == 0)
		out->vol_src = CODEC_SRC_HISTORY;
	else if (v[4] != NULL)
		codec_err(&c, "volatility_source", "must be \"explicit\" (pin "
		    "the written volatility) or \"history\"");
	if (existing != NULL && v[0] == NULL && v[1] == NULL && v[4] == NULL)
		codec_err(&c, NULL, "give price, volatility and/or "
		    "volatility_source");
out:
	cJSON_Delete(root);
	return finish(&c, err);
}

/* ---- depth ---------------------------------------------------------- */

void
codec_depth_init(struct codec_depth *d)
{
	memset(d, 0, sizeof(*d));
	lc_curve_init(&d->curve[0]);
	lc_curve_init(&d->curve[1]);
	d->max_deviation_bps = NAN;
	codec_warnings_init(&d->warn);
}

void
codec_depth_release(struct codec_depth *d)
{
	if (d == NULL)
		return;
	lc_curve_release(&d->curve[0]);
	lc_curve_release(&d->curve[1]);
	codec_warnings_release(&d->warn);
	codec_depth_init(d);
}

/*
 * Read an array of pairs into a and b (malloc'd, *n entries).  Each
 * element is an array of at least two; with `text` its first two
 * elements may be decimal strings, and extra elements are ignored; else
 * exactly two numbers.  *n = 0 with rc 0 for an empty array.
 */
static int
read_pairs(struct codec_ctx *c, const cJSON *arr, int text, double **a,
    double **b, size_t *n)
{
	const cJSON *it;
	size_t i = 0, m, nerr0 = c->nerr;

	*a = *b = NULL;
	*n = 0;
	if (!cJSON_IsArray(arr)) {
		codec_err(c, NULL, "must be an array");
		return -1;
	}
	m = (size_t)cJSON_GetArraySize(arr);
	if (m > CODEC_MAX_POINTS) {
		codec_err(
		    c, NULL, "at most %d entries per write", CODEC_MAX_POINTS);
		return -1;
	}
	*a = malloc((m + 1) * sizeof(double));
	*b = malloc((m + 1) * sizeof(double));
	if (*a == NULL || *b == NULL) {
		problem_set(c->err, 500, "internal", "Internal server error",
		    "out of memory");
		c->nerr++;
		return -1;
	}
	for (it = arr->child; it != NULL; it = it->next, i++) {
		size_t old = codec_ptr_idx(c, i), k;
		int ne;

		ne = cJSON_IsArray(it) ? cJSON_GetArraySize(it) : -1;
		if (ne < 2 || (!text && ne != 2)) {
			codec_err(c, NULL,
			    text ? "must be an array [price, "
				   "qty, ...]"
				 : "must be an array of two numbers");
		} else {
			const cJSON *e0 = it->child, *e1 = e0->next;
			size_t o;

			o = codec_ptr_idx(c, 0);
			if (text)
				codec_qty_text(c, NULL, e0, &(*a)[i]);
			else
				codec_number(c, NULL, e0, &(*a)[i]);
			codec_ptr_pop(c, o);
			o = codec_ptr_idx(c, 1);
			if (text)
				codec_qty_text(c, NULL, e1, &(*b)[i]);
			else
				codec_number(c, NULL, e1, &(*b)[i]);
			codec_ptr_pop(c, o);
		}
		(void)k;
		codec_ptr_pop(c, old);
	}
	*n = m;
	return c->nerr == nerr0 ? 0 : -1;
}

/* Error at element `bad` of the array at the cursor (or the array). */
static void
err_elem(struct codec_ctx *c, size_t bad, size_t n, const char *detail)
{
	size_t old = c->plen;

	if (bad < n)
		codec_ptr_idx(c, bad);
	codec_err(c, NULL, "%s", detail);
	codec_ptr_pop(c, old);
}

static void
side_points(
    struct codec_ctx *c, const cJSON *arr, int side, struct codec_depth *d)
{
	double *bps = NULL, *qty = NULL;
	size_t n, bad = 0;

	if (read_pairs(c, arr, 0, &bps, &qty, &n) != 0)
		goto out;
	if (lc_curve_from_points(&d->curve[side], (enum lc_side)side, bps, qty,
		n, &bad) != LC_OK)
		err_elem(c, bad, n,
		    side == LC_BID
			? "points need 0 < bps < 10000 strictly increasing, "
			  "cumulative qty non-decreasing and a last qty > 0"
			: "points need bps > 0 strictly increasing, cumulative "
			  "qty non-decreasing and a last qty > 0");
	else
		d->has[side] = 1;
out:
	free(bps);
	free(qty);
}

/* Levels of one book side already read; mid resolved by the caller. */
static void
side_levels(struct codec_ctx *c, const double *price, const double *qty,
    size_t n, int side, double mid, struct codec_depth *d)
{
	size_t i, bad = 0, nerr0 = c->nerr;
	char msg[160];

	if (n == 0) {
		codec_err(c, NULL,
		    "an order-book side needs at least one "
		    "level");
		return;
	}
	for (i = 0; i < n; i++) {
		size_t old = codec_ptr_idx(c, i), o;

		if (!(price[i] > 0)) {
			o = codec_ptr_idx(c, 0);
			codec_err(c, NULL, "price must be > 0");
			codec_ptr_pop(c, o);
		}
		if (!(qty[i] > 0)) {
			o = codec_ptr_idx(c, 1);
			codec_err(c, NULL, "qty must be > 0");
			codec_ptr_pop(c, o);
		}
		codec_ptr_pop(c, old);
	}
	if (c->nerr != nerr0)
		return;
	if (lc_curve_from_levels(&d->curve[side], (enum lc_side)side, price,
		qty, n, mid, &bad) != LC_OK) {
		snprintf(msg, sizeof(msg),
		    "level at or beyond the mid "
		    "%.17g (%s must lie %s it)",
		    mid, side == LC_BID ? "a bid" : "an ask",
		    side == LC_BID ? "below" : "above");
		err_elem(c, bad, n, msg);
		return;
	}
	d->has[side] = 1;
}

static void
side_quotes(
    struct codec_ctx *c, const cJSON *arr, int side, struct codec_depth *d)
{
	double *q = NULL, *a = NULL;
	size_t n, i, bad = 0, nerr0 = c->nerr;

	if (read_pairs(c, arr, 0, &q, &a, &n) != 0)
		goto out;
	if (n == 0) {
		codec_err(c, NULL, "needs at least one quote");
		goto out;
	}
	for (i = 0; i < n; i++) {
		size_t old = codec_ptr_idx(c, i);

		if (!(q[i] > 0) || (i > 0 && !(q[i] > q[i - 1])))
			codec_err(c, NULL,
			    "trade_qty must be > 0 and strictly "
			    "ascending");
		else if (!(a[i] >= 0))
			codec_err(c, NULL, "avg_slippage_bps must be >= 0");
		codec_ptr_pop(c, old);
	}
	if (c->nerr != nerr0)
		goto out;
	if (lc_curve_from_quotes(&d->curve[side], (enum lc_side)side, q, a, n,
		&d->max_deviation_bps, &bad) != LC_OK)
		err_elem(c, bad, n,
		    bad < n ? "the rebuilt bid point reaches "
			      "10000 bps (price zero)"
			    : "no quote gives an increasing "
			      "point");
	else
		d->has[side] = 1;
out:
	free(q);
	free(a);
}

static void
side_cp(struct codec_ctx *c, const cJSON *obj, int side,
    const struct md_asset *asset, struct codec_depth *d)
{
	static const char *const keys[] = {
	    "base_reserve", "quote_reserve", NULL};
	const cJSON *v[2];
	double x = 0, y = 0;
	size_t nerr0 = c->nerr;

	if (codec_members(c, obj, keys, v, 0) != 0 && !cJSON_IsObject(obj))
		return;
	if (v[0] == NULL)
		codec_err(c, "base_reserve", "is required");
	else
		range(c, "base_reserve", v[0], 0, 1, LC_MAX_VALUE, &x);
	if (v[1] == NULL)
		codec_err(c, "quote_reserve", "is required");
	else
		range(c, "quote_reserve", v[1], 0, 1, LC_MAX_VALUE, &y);
	if (c->nerr != nerr0)
		return;
	if (lc_curve_from_constant_product(
		&d->curve[side], (enum lc_side)side, x, y) != LC_OK) {
		codec_err(c, NULL, "reserves give no valid curve");
		return;
	}
	d->has[side] = 1;
	if (asset != NULL && asset->price > 0 &&
	    fabs(y / x / asset->price - 1.0) > 0.01)
		codec_warnings_add(&d->warn, "pool_price_mismatch",
		    asset->symbol, side_name[side], -1, NULL,
		    "pool price "
		    "y/x = %.17g differs from %s's price %.17g by over 1%%",
		    y / x, asset->symbol, asset->price);
}

enum {
	S_SIDE,
	S_ASOF,
	S_SOURCE,
	S_POINTS,
	S_LEVELS,
	S_QUOTES,
	S_CP,
	S_MID,
	S_NKEYS
};

static void
depth_one_side(struct codec_ctx *c, const cJSON *root,
    const struct md_asset *asset, struct codec_depth *d)
{
	static const char *const keys[] = {"side", "as_of", "source", "points",
	    "levels", "quotes", "constant_product", "mid", NULL};
	static const char *const forms[] = {
	    "points", "levels", "quotes", "constant_product"};
	const cJSON *v[S_NKEYS + 1];
	int side = -1, k, form = -1;
	size_t old, nerr0;
	double mid = asset != NULL ? asset->price : (double)NAN;

	codec_members(c, root, keys, v, 0);
	codec_as_of(c, v[S_ASOF], d->as_of);
	codec_source(c, v[S_SOURCE], d->source);
	if (cJSON_IsString(v[S_SIDE]) &&
	    strcmp(v[S_SIDE]->valuestring, "bid") == 0)
		side = LC_BID;
	else if (cJSON_IsString(v[S_SIDE]) &&
	    strcmp(v[S_SIDE]->valuestring, "ask") == 0)
		side = LC_ASK;
	else
		codec_err(c, "side", "must be bid or ask");
	for (k = 0; k < 4; k++) {
		if (v[S_POINTS + k] == NULL)
			continue;
		if (form >= 0)
			codec_err(c, forms[k],
			    "give exactly one of points, "
			    "levels, quotes, constant_product");
		else
			form = k;
	}
	if (form < 0)
		codec_err(c, NULL,
		    "give one of points, levels, quotes, "
		    "constant_product");
	if (v[S_MID] != NULL) {
		if (form != 1)
			codec_err(c, "mid", "is only allowed with levels");
		else
			range(c, "mid", v[S_MID], 0, 1, LC_MAX_VALUE, &mid);
	}
	if (side < 0 || form < 0)
		return;
	d->form = forms[form];
	nerr0 = c->nerr;
	old = codec_ptr_key(c, forms[form]);
	switch (form) {
	case 0: side_points(c, v[S_POINTS], side, d); break;
	case 1: {
		double *p = NULL, *q = NULL;
		size_t n;

		if (c->nerr == nerr0 &&
		    read_pairs(c, v[S_LEVELS], 1, &p, &q, &n) == 0)
			side_levels(c, p, q, n, side, mid, d);
		free(p);
		free(q);
		break;
	}
	case 2: side_quotes(c, v[S_QUOTES], side, d); break;
	default: side_cp(c, v[S_CP], side, asset, d); break;
	}
	codec_ptr_pop(c, old);
}

/*
 * The order-book form: book is the object holding the sides, bk/ak their
 * member names, base the JSON pointer of book ("" or "/result" or
 * "/data/0").
 */
static void
depth_book(struct codec_ctx *c, const cJSON *root, const cJSON *book,
    const char *base, const char *bk, const char *ak,
    const struct md_asset *asset, struct codec_depth *d)
{
	const cJSON *sides[2];
	double *p[2] = {NULL, NULL}, *q[2] = {NULL, NULL};
	size_t n[2] = {0, 0}, old, old2, i;
	double mid, best[2];
	int s, ok[2] = {0, 0};
	const cJSON *dup;

	codec_as_of(
	    c, cJSON_GetObjectItemCaseSensitive(root, "as_of"), d->as_of);
	codec_source(
	    c, cJSON_GetObjectItemCaseSensitive(root, "source"), d->source);
	d->form = "book";
	old = c->plen;
	for (i = 0; base[i] != '\0'; i++) {
		if (c->plen + 1 < CODEC_PTR_MAX)
			c->ptr[c->plen++] = base[i];
	}
	c->ptr[c->plen] = '\0';
	sides[LC_BID] = cJSON_GetObjectItemCaseSensitive(book, bk);
	sides[LC_ASK] = cJSON_GetObjectItemCaseSensitive(book, ak);
	for (s = 0; s < 2; s++) {
		if (sides[s] == NULL)
			continue;
		/* a repeated side is ambiguous */
		for (dup = sides[s]->next; dup != NULL; dup = dup->next)
			if (dup->string != NULL &&
			    strcmp(dup->string, s == LC_BID ? bk : ak) == 0)
				codec_err(c, dup->string, "duplicate member");
		old2 = codec_ptr_key(c, s == LC_BID ? bk : ak);
		if (read_pairs(c, sides[s], 1, &p[s], &q[s], &n[s]) == 0) {
			if (n[s] == 0)
				codec_err(c, NULL,
				    "an order-book side needs "
				    "at least one level");
			else
				ok[s] = 1;
		}
		codec_ptr_pop(c, old2);
	}
	if (sides[0] == NULL && sides[1] == NULL)
		codec_err(c, NULL, "give %s and/or %s", bk, ak);
	if (ok[0] && ok[1]) {
		best[LC_BID] = -INFINITY;
		best[LC_ASK] = INFINITY;
		for (i = 0; i < n[LC_BID]; i++)
			if (p[LC_BID][i] > best[LC_BID])
				best[LC_BID] = p[LC_BID][i];
		for (i = 0; i < n[LC_ASK]; i++)
			if (p[LC_ASK][i] < best[LC_ASK])
				best[LC_ASK] = p[LC_ASK][i];
		mid = (best[LC_BID] + best[LC_ASK]) / 2;
	} else {
		mid = asset != NULL ? asset->price : (double)NAN;
	}
	for (s = 0; s < 2; s++) {
		if (!ok[s])
			continue;
		old2 = codec_ptr_key(c, s == LC_BID ? bk : ak);
		side_levels(c, p[s], q[s], n[s], s, mid, d);
		codec_ptr_pop(c, old2);
	}
	codec_ptr_pop(c, old);
	for (s = 0; s < 2; s++) {
		free(p[s]);
		free(q[s]);
	}
}

int
codec_decode_depth(const char *body, size_t len, const struct md_asset *asset,
    struct codec_depth *out, struct problem *err)
{
	struct codec_ctx c;
	cJSON *root;
	const cJSON *x;

	codec_depth_release(out);
	codec_ctx_init(&c, err);
	root = codec_parse(body, len, err);
	if (root == NULL)
		return -1;
	if (!cJSON_IsObject(root)) {
		codec_err(&c, NULL, "must be an object");
	} else if (cJSON_GetObjectItemCaseSensitive(root, "side") != NULL) {
		depth_one_side(&c, root, asset, out);
	} else if (cJSON_GetObjectItemCaseSensitive(root, "bids") != NULL ||
	    cJSON_GetObjectItemCaseSensitive(root, "asks") != NULL) {
		depth_book(&c, root, root, "", "bids", "asks", asset, out);
	} else if (cJSON_IsObject(
		       x = cJSON_GetObjectItemCaseSensitive(root, "result")) &&
	    (cJSON_GetObjectItemCaseSensitive(x, "b") != NULL ||
		cJSON_GetObjectItemCaseSensitive(x, "a") != NULL)) {
		depth_book(&c, root, x, "/result", "b", "a", asset, out);
	} else if (cJSON_IsArray(
		       x = cJSON_GetObjectItemCaseSensitive(root, "data")) &&
	    cJSON_GetArraySize(x) == 1 && cJSON_IsObject(x->child)) {
		depth_book(
		    &c, root, x->child, "/data/0", "bids", "asks", asset, out);
	} else {
		codec_err(&c, NULL,
		    "expected {\"side\", \"points\"|\"levels\"|"
		    "\"quotes\"|\"constant_product\"} or an order book "
		    "{\"bids\", \"asks\"}");
	}
	cJSON_Delete(root);
	if (finish(&c, err) != 0) {
		codec_depth_release(out);
		return -1;
	}
	return 0;
}

int
codec_encode_depth(const struct codec_depth *d, const char *asset,
    const char *venue, char **out)
{
	struct json_buf b;
	size_t k;
	int s;

	json_buf_init(&b, 512);
	json_buf_begin(&b, '{');
	json_buf_key(&b, "asset");
	json_buf_str(&b, asset);
	json_buf_key(&b, "venue");
	json_buf_str(&b, venue);
	json_buf_key(&b, "as_of");
	json_buf_str(&b, d->as_of);
	json_buf_key(&b, "form");
	json_buf_str(&b, d->form != NULL ? d->form : "");
	json_buf_key(&b, "sides");
	json_buf_begin(&b, '{');
	for (s = 0; s < 2; s++) {
		const struct lc_curve *cv = &d->curve[s];

		if (!d->has[s])
			continue;
		json_buf_key(&b, side_name[s]);
		json_buf_begin(&b, '{');
		json_buf_key(&b, "point_count");
		json_buf_int(&b, (int64_t)cv->n);
		json_buf_key(&b, "max_qty");
		json_buf_num(&b, lc_curve_max_qty(cv, 1.0));
		json_buf_key(&b, "depth_2pct_qty");
		json_buf_num(&b, lc_curve_depth(cv, 200.0, 1.0));
		json_buf_key(&b, "points");
		json_buf_begin(&b, '[');
		for (k = 0; k < cv->n; k++) {
			json_buf_begin(&b, '[');
			json_buf_num(&b, cv->bps[k]);
			json_buf_num(&b, cv->qty[k]);
			json_buf_end(&b, ']');
		}
		json_buf_end(&b, ']');
		json_buf_end(&b, '}');
	}
	json_buf_end(&b, '}');
	if (!isnan(d->max_deviation_bps)) {
		json_buf_key(&b, "max_deviation_bps");
		json_buf_num(&b, d->max_deviation_bps);
	}
	codec_buf_warnings(&b, &d->warn);
	json_buf_end(&b, '}');
	*out = json_buf_take(&b);
	return *out != NULL ? 0 : -1;
}

size_t
codec_depth_curves(
    const struct codec_depth *d, const char *venue, struct md_curve out[2])
{
	size_t n = 0;
	int s;

	for (s = 0; s < 2; s++) {
		if (!d->has[s])
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		snprintf(out[n].venue, sizeof(out[n].venue), "%s", venue);
		out[n].side = s;
		snprintf(out[n].as_of, sizeof(out[n].as_of), "%s", d->as_of);
		out[n].curve = d->curve[s];
		n++;
	}
	return n;
}

/* ---- liquidation levels --------------------------------------------- */

void
codec_levels_init(struct codec_levels *l)
{
	memset(l, 0, sizeof(*l));
	codec_warnings_init(&l->warn);
}

void
codec_levels_release(struct codec_levels *l)
{
	if (l == NULL)
		return;
	free(l->levels);
	codec_warnings_release(&l->warn);
	codec_levels_init(l);
}

int
codec_decode_levels(const char *body, size_t len, const struct md_asset *asset,
    struct codec_levels *out, struct problem *err)
{
	static const char *const keys[] = {"levels", "as_of", "source", NULL};
	static const char *const lkeys[] = {"price", "qty", "side", NULL};
	const cJSON *v[3], *lv[3], *it;
	struct codec_ctx c;
	cJSON *root;
	size_t i = 0, m, old;

	codec_levels_release(out);
	if (codec_open(&c, body, len, keys, v, &root, err) != 0) {
		if (root == NULL)
			return -1;
		goto out;
	}
	codec_as_of(&c, v[1], out->as_of);
	codec_source(&c, v[2], out->source);
	if (codec_batch_array(&c, v[0], "levels", CODEC_MAX_LEVELS, &m) != 0)
		goto out;
	out->levels = calloc(m + 1, sizeof(*out->levels));
	if (out->levels == NULL) {
		problem_set(err, 500, "internal", "Internal server error",
		    "out of memory");
		goto out;
	}
	old = codec_ptr_key(&c, "levels");
	for (it = v[0]->child; it != NULL; it = it->next, i++) {
		struct md_level *l = &out->levels[i];
		size_t o = codec_ptr_idx(&c, i);

		codec_members(&c, it, lkeys, lv, 0);
		if (cJSON_IsObject(it)) {
			if (lv[0] == NULL)
				codec_err(&c, "price", "is required");
			else
				range(&c, "price", lv[0], 0, 1, LC_MAX_VALUE,
				    &l->price);
			if (lv[1] == NULL)
				codec_err(&c, "qty", "is required");
			else
				range(&c, "qty", lv[1], 0, 1, LC_MAX_VALUE,
				    &l->qty);
			if (cJSON_IsString(lv[2]) &&
			    strcmp(lv[2]->valuestring, "sell") == 0)
				l->side = LC_DOWN;
			else if (cJSON_IsString(lv[2]) &&
			    strcmp(lv[2]->valuestring, "buy") == 0)
				l->side = LC_UP;
			else
				codec_err(&c, "side", "must be sell or buy");
		}
		l->seq = (int64_t)i;
		codec_ptr_pop(&c, o);
	}
	codec_ptr_pop(&c, old);
	out->n = m;
	for (i = 0; i < m; i++) {
		struct md_level *l = &out->levels[i];

		memcpy(l->as_of, out->as_of, sizeof(l->as_of));
		memcpy(l->source, out->source, sizeof(l->source));
		if (asset != NULL &&
		    lc_level_is_stale((enum lc_dir)l->side, l->price,
		    asset->price))
			out->nstale++;
	}
	if (out->nstale > 0 && asset != NULL)
		codec_warnings_add(&out->warn, "stale_levels", asset->symbol,
		    NULL, (int64_t)out->nstale, NULL,
		    "%zu level(s) have "
		    "already fired at the current price %.17g: stored, but "
		    "ignored while the price stays there",
		    out->nstale, asset->price);
out:
	cJSON_Delete(root);
	if (finish(&c, err) != 0) {
		codec_levels_release(out);
		return -1;
	}
	return 0;
}

int
codec_encode_levels(const struct codec_levels *l, const char *asset, char **out)
{
	struct json_buf b;
	size_t i, n[2] = {0, 0};

	for (i = 0; i < l->n; i++)
		n[l->levels[i].side == LC_UP]++;
	json_buf_init(&b, 256);
	json_buf_begin(&b, '{');
	json_buf_key(&b, "asset");
	json_buf_str(&b, asset);
	json_buf_key(&b, "as_of");
	json_buf_str(&b, l->as_of);
	json_buf_key(&b, "stored");
	json_buf_int(&b, (int64_t)l->n);
	json_buf_key(&b, "sell");
	json_buf_int(&b, (int64_t)n[0]);
	json_buf_key(&b, "buy");
	json_buf_int(&b, (int64_t)n[1]);
	json_buf_key(&b, "stale");
	json_buf_int(&b, (int64_t)l->nstale);
	codec_buf_warnings(&b, &l->warn);
	json_buf_end(&b, '}');
	*out = json_buf_take(&b);
	return *out != NULL ? 0 : -1;
}

/* ---- correlations --------------------------------------------------- */

void
codec_corr_init(struct codec_corr *c)
{
	memset(c, 0, sizeof(*c));
}

void
codec_corr_release(struct codec_corr *c)
{
	if (c == NULL)
		return;
	free(c->pairs);
	codec_corr_init(c);
}

struct pairref {
	const struct md_corr *p;
	size_t idx;
};

static int
cmp_pair(const void *x, const void *y)
{
	const struct pairref *a = x, *b = y;
	int c = strcmp(a->p->a, b->p->a);

	if (c == 0)
		c = strcmp(a->p->b, b->p->b);
	if (c == 0)
		c = (a->idx > b->idx) - (a->idx < b->idx);
	return c;
}

/* Symbol of element k of a pair: known, not implicit; -1 otherwise. */
static long
pair_asset(
    struct codec_ctx *c, const cJSON *e, size_t k, const struct snapshot *snap)
{
	size_t o = codec_ptr_idx(c, k);
	long a = -1;

	if (!cJSON_IsString(e))
		codec_err(c, NULL, "must be an asset symbol");
	else if ((a = snapshot_find(snap, e->valuestring)) < 0 ||
	    snap->assets[a].implicit) {
		codec_err(c, NULL, "unknown asset '%.32s'", e->valuestring);
		a = -1;
	}
	codec_ptr_pop(c, o);
	return a;
}

int
codec_decode_correlations(const char *body, size_t len,
    const struct snapshot *snap, struct codec_corr *out, struct problem *err)
{
	static const char *const keys[] = {"pairs", NULL};
	const cJSON *v[1], *it;
	struct pairref *refs = NULL;
	struct codec_ctx c;
	cJSON *root;
	size_t i = 0, m, old, n = 0;

	codec_corr_release(out);
	if (codec_open(&c, body, len, keys, v, &root, err) != 0) {
		if (root == NULL)
			return -1;
		goto out;
	}
	if (v[0] == NULL || !cJSON_IsArray(v[0])) {
		codec_err(&c, "pairs",
		    v[0] == NULL ? "is required"
				 : "must be an array of [asset, asset, rho]");
		goto out;
	}
	m = (size_t)cJSON_GetArraySize(v[0]);
	if (m > CODEC_MAX_PAIRS) {
		codec_err(
		    &c, "pairs", "at most %d pairs per write", CODEC_MAX_PAIRS);
		goto out;
	}
	out->pairs = calloc(m + 1, sizeof(*out->pairs));
	refs = calloc(m + 1, sizeof(*refs));
	if (out->pairs == NULL || refs == NULL) {
		problem_set(err, 500, "internal", "Internal server error",
		    "out of memory");
		goto out;
	}
	old = codec_ptr_key(&c, "pairs");
	for (it = v[0]->child; it != NULL; it = it->next, i++) {
		size_t o = codec_ptr_idx(&c, i), o2;
		const cJSON *e0, *e1, *e2;
		long a, b;
		double rho = 0;

		if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 3) {
			codec_err(&c, NULL, "must be [asset, asset, rho]");
			goto next;
		}
		e0 = it->child;
		e1 = e0->next;
		e2 = e1->next;
		a = pair_asset(&c, e0, 0, snap);
		b = pair_asset(&c, e1, 1, snap);
		o2 = codec_ptr_idx(&c, 2);
		if (codec_number(&c, NULL, e2, &rho) == 0 &&
		    !(rho >= -1.0 && rho <= 1.0)) {
			codec_err(&c, NULL, "rho must be in [-1, 1]");
			rho = NAN;
		}
		codec_ptr_pop(&c, o2);
		if (a < 0 || b < 0 || isnan(rho))
			goto next;
		if (a == b) {
			codec_err(&c, NULL, "a pair of an asset with itself");
			goto next;
		}
		{
			struct md_corr *p = &out->pairs[n];
			const char *sa = snap->assets[a].symbol;
			const char *sb = snap->assets[b].symbol;

			md_corr_set(p, sa, sb, rho);
			refs[n].p = p;
			refs[n].idx = i;
			n++;
		}
	next:
		codec_ptr_pop(&c, o);
	}
	qsort(refs, n, sizeof(*refs), cmp_pair);
	for (i = 1; i < n; i++) {
		if (strcmp(refs[i].p->a, refs[i - 1].p->a) == 0 &&
		    strcmp(refs[i].p->b, refs[i - 1].p->b) == 0) {
			size_t o = codec_ptr_idx(&c, refs[i].idx);

			codec_err(&c, NULL,
			    "duplicate pair (first at "
			    "/pairs/%zu)",
			    refs[i - 1].idx);
			codec_ptr_pop(&c, o);
		}
	}
	codec_ptr_pop(&c, old);
	out->n = n;
out:
	free(refs);
	cJSON_Delete(root);
	if (finish(&c, err) != 0) {
		codec_corr_release(out);
		return -1;
	}
	return 0;
}

/* ---- GET /v1/markets ------------------------------------------------ */

static void
encode_market(struct json_buf *b, const struct snapshot *snap, size_t i)
{
	static const char *const pct[SNAPSHOT_NDEPTH] = {
	    "1pct", "2pct", "5pct", "10pct"};
	static const char *const lvl_name[2] = {"sell", "buy"};
	const struct snapshot_asset *a = &snap->assets[i];
	size_t k;
	int s, j;

	json_buf_begin(b, '{');
	json_buf_key(b, "asset");
	json_buf_str(b, a->symbol);
	json_buf_key(b, "price");
	json_buf_num(b, a->price);
	json_buf_key(b, "volatility");
	json_buf_num(b, a->vol);
	json_buf_key(b, "volatility_source");
	json_buf_str(b, a->vol_source == MD_VOL_HISTORY ? "history"
	                                                : "explicit");
	json_buf_key(b, "volatility_pinned");
	json_buf_bool(b, a->vol_pinned);
	json_buf_key(b, "volatility_history");
	codec_buf_vol_history(b, &a->hist);
	json_buf_key(b, "updated_at");
	json_buf_str(b, a->updated_at);
	json_buf_key(b, "depth_as_of");
	if (a->depth_as_of[0] != '\0')
		json_buf_str(b, a->depth_as_of);
	else
		json_buf_null(b);
	for (s = 0; s < 2; s++) {
		const struct snapshot_side *sd = &a->side[s];

		json_buf_key(b, side_name[s]);
		json_buf_begin(b, '{');
		json_buf_key(b, "venues");
		json_buf_begin(b, '[');
		for (k = 0; k < sd->nvenues; k++) {
			json_buf_begin(b, '{');
			json_buf_key(b, "venue");
			json_buf_str(b, sd->venues[k].venue);
			json_buf_key(b, "as_of");
			json_buf_str(b, sd->venues[k].as_of);
			json_buf_key(b, "point_count");
			json_buf_int(b, (int64_t)sd->venues[k].npoints);
			json_buf_end(b, '}');
		}
		json_buf_end(b, ']');
		json_buf_key(b, "depth_qty");
		json_buf_begin(b, '{');
		for (j = 0; j < SNAPSHOT_NDEPTH; j++) {
			json_buf_key(b, pct[j]);
			json_buf_num(b, sd->depth_qty[j]);
		}
		json_buf_end(b, '}');
		json_buf_end(b, '}');
	}
	json_buf_key(b, "levels");
	json_buf_begin(b, '{');
	for (s = 0; s < 2; s++) {
		const struct snapshot_levels *l = &a->levels[s];

		json_buf_key(b, lvl_name[s]);
		json_buf_begin(b, '{');
		json_buf_key(b, "count");
		json_buf_int(b, (int64_t)l->n);
		json_buf_key(b, "total_qty");
		json_buf_num(b, l->total_qty);
		json_buf_key(b, "stale");
		json_buf_int(b, (int64_t)l->nstale);
		json_buf_end(b, '}');
	}
	json_buf_end(b, '}');
	json_buf_end(b, '}');
}

int
codec_encode_markets(const struct snapshot *snap, long asset, char **out)
{
	struct json_buf b;
	size_t i;

	*out = NULL;
	if (asset >= (long)snap->nassets)
		return -1;
	json_buf_init(&b, 512 + 512 * snap->nassets);
	if (asset >= 0) {
		encode_market(&b, snap, (size_t)asset);
	} else {
		json_buf_begin(&b, '{');
		json_buf_key(&b, "version");
		json_buf_int(&b, (int64_t)snap->version);
		json_buf_key(&b, "markets");
		json_buf_begin(&b, '[');
		for (i = 0; i < snap->nassets; i++) {
			uint32_t k = snap->by_symbol[i];

			if (!snap->assets[k].implicit)
				encode_market(&b, snap, k);
		}
		json_buf_end(&b, ']');
		json_buf_end(&b, '}');
	}
	*out = json_buf_take(&b);
	return *out != NULL ? 0 : -1;
}

static void
cascade_point(struct json_buf *b, const struct lc_cascade_point *pt)
{
	json_buf_begin(b, '{');
	json_buf_key(b, "shock");
	json_buf_num(b, pt->shock);
	json_buf_key(b, "shocked_price");
	json_buf_num(b, pt->shocked_price);
	json_buf_key(b, "final_price");
	json_buf_num(b, pt->final_price);
	json_buf_key(b, "endogenous_bps");
	json_buf_num(b, pt->endogenous_bps);
	json_buf_key(b, "fired");
	json_buf_int(b, (int64_t)pt->fired);
	json_buf_key(b, "volume");
	json_buf_num(b, pt->volume);
	json_buf_key(b, "volume_quote");
	json_buf_num(b, pt->volume_quote);
	json_buf_end(b, '}');
}

int
codec_encode_cascade(const struct codec_cascade *c, char **out)
{
	struct json_buf b;
	size_t k;

	json_buf_init(&b, 256 + 200 * c->npoints);
	json_buf_begin(&b, '{');
	json_buf_key(&b, "asset");
	json_buf_str(&b, c->asset);
	json_buf_key(&b, "direction");
	json_buf_str(&b, c->dir == LC_DOWN ? "down" : "up");
	json_buf_key(&b, "price");
	json_buf_num(&b, c->price);
	json_buf_key(&b, "cascade_threshold_bps");
	json_buf_num(&b, c->threshold_bps);
	json_buf_key(&b, "cascade_trigger_price");
	if (c->has_trigger)
		json_buf_num(&b, c->trigger_price);
	else
		json_buf_null(&b);
	json_buf_key(&b, "levels");
	json_buf_int(&b, (int64_t)c->nlevels);
	json_buf_key(&b, "points");
	json_buf_begin(&b, '[');
	for (k = 0; k < c->npoints; k++)
		cascade_point(&b, &c->points[k]);
	json_buf_end(&b, ']');
	codec_buf_warnings(&b, c->warn);
	json_buf_end(&b, '}');
	*out = json_buf_take(&b);
	return *out != NULL ? 0 : -1;
}

/*
 * seed.c - apply a seed file (see seed.h) through the store's write API.
 *
 * A seed is trusted input shipped with the binary, so errors here are
 * reported as one message naming the offending item; the store's own
 * checks and the model's curve constructors still validate everything.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cascade/curve.h"
#include "rfc3339.h"
#include "seed.h"
#include "store_books.h"
#include "store_prices.h"

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const char *
str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int
num_of(const cJSON *o, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
		return -1;
	*out = v->valuedouble;
	return 0;
}

/* Read [[x, y], ...] into two new arrays. */
static int
pairs_of(const cJSON *arr, double **x, double **y, size_t *n)
{
	const cJSON *p;
	size_t i = 0, cnt;

	*x = *y = NULL;
	*n = 0;
	if (!cJSON_IsArray(arr))
		return -1;
	cnt = (size_t)cJSON_GetArraySize(arr);
	if (cnt == 0)
		return -1;
	*x = calloc(cnt, sizeof(double));
	*y = calloc(cnt, sizeof(double));
	if (*x == NULL || *y == NULL)
		goto fail;
	cJSON_ArrayForEach(p, arr) {
		const cJSON *a = cJSON_GetArrayItem(p, 0);
		const cJSON *b = cJSON_GetArrayItem(p, 1);

		if (!cJSON_IsArray(p) || cJSON_GetArraySize(p) != 2 ||
		    !cJSON_IsNumber(a) || !cJSON_IsNumber(b))
			goto fail;
		(*x)[i] = a->valuedouble;
		(*y)[i] = b->valuedouble;
		i++;
	}
	*n = cnt;
	return 0;
fail:
	free(*x);
	free(*y);
	*x = *y = NULL;
	return -1;
}

static int
apply_markets(struct store *st, const cJSON *arr, const char *now,
    struct seed_stats *stats, char *err, size_t errlen)
{
	const cJSON *it, *body;
	const char *asset;
	double price, vol;
	enum store_status s;

	cJSON_ArrayForEach(it, arr) {
		asset = str_of(it, "asset");
		body = cJSON_GetObjectItemCaseSensitive(it, "body");
		if (asset == NULL || num_of(body, "price", &price) ||
		    num_of(body, "volatility", &vol)) {
			seterr(err, errlen, "seed: bad market entry %s",
			    asset ? asset : "(no asset)");
			return -1;
		}
		s = store_put_asset(st, asset, price, vol, now, NULL);
		if (s != STORE_OK) {
			seterr(err, errlen, "seed: market %s: %s", asset,
			    store_status_str(s));
			return -1;
		}
		stats->assets++;
	}
	return 0;
}

static int
apply_depth(struct store *st, const cJSON *arr, const char *now,
    struct seed_stats *stats, char *err, size_t errlen)
{
	const cJSON *it, *body, *pts;
	const char *asset, *venue, *side, *as_of;
	struct md_curve c;
	double *x = NULL, *y = NULL, dev;
	size_t n, bad;
	enum lc_status ls;
	enum store_status s;
	int rc = -1;

	lc_curve_init(&c.curve);
	cJSON_ArrayForEach(it, arr) {
		asset = str_of(it, "asset");
		venue = str_of(it, "venue");
		body = cJSON_GetObjectItemCaseSensitive(it, "body");
		side = str_of(body, "side");
		as_of = str_of(body, "as_of");
		if (asset == NULL || venue == NULL || side == NULL ||
		    strlen(venue) > MD_VENUE_MAX || (strcmp(side, "bid") != 0 &&
		    strcmp(side, "ask") != 0)) {
			seterr(err, errlen, "seed: bad depth entry");
			goto out;
		}
		memset(&c, 0, sizeof(c));
		snprintf(c.venue, sizeof(c.venue), "%s", venue);
		c.side = strcmp(side, "bid") == 0 ? LC_BID : LC_ASK;
		snprintf(c.as_of, sizeof(c.as_of), "%s", as_of ? as_of : now);
		if ((pts = cJSON_GetObjectItemCaseSensitive(body, "points"))) {
			if (pairs_of(pts, &x, &y, &n))
				goto bad;
			ls = lc_curve_from_points(&c.curve, (enum lc_side)c.side,
			    x, y, n, &bad);
		} else if ((pts = cJSON_GetObjectItemCaseSensitive(body,
		    "quotes"))) {
			if (pairs_of(pts, &x, &y, &n))
				goto bad;
			ls = lc_curve_from_quotes(&c.curve, (enum lc_side)c.side,
			    x, y, n, &dev, &bad);
		} else {
			goto bad;
		}
		free(x);
		free(y);
		x = y = NULL;
		if (ls != LC_OK)
			goto bad;
		s = store_put_curves(st, asset, &c, 1, NULL);
		lc_curve_release(&c.curve);
		if (s != STORE_OK) {
			seterr(err, errlen, "seed: depth %s/%s: %s", asset,
			    venue, store_status_str(s));
			goto out;
		}
		stats->curves++;
	}
	rc = 0;
	goto out;
bad:
	seterr(err, errlen, "seed: depth %s/%s %s: invalid curve", asset,
	    venue, side);
out:
	free(x);
	free(y);
	lc_curve_release(&c.curve);
	return rc;
}

static int
apply_levels(struct store *st, const cJSON *arr, const char *now,
    struct seed_stats *stats, char *err, size_t errlen)
{
	const cJSON *it, *body, *levels, *l;
	const char *asset, *as_of, *source, *side;
	struct md_level *lv = NULL;
	size_t n, i;
	enum store_status s;
	int rc = -1;

	cJSON_ArrayForEach(it, arr) {
		asset = str_of(it, "asset");
		body = cJSON_GetObjectItemCaseSensitive(it, "body");
		levels = cJSON_GetObjectItemCaseSensitive(body, "levels");
		as_of = str_of(body, "as_of");
		source = str_of(body, "source");
		if (asset == NULL || !cJSON_IsArray(levels)) {
			seterr(err, errlen, "seed: bad liquidations entry");
			goto out;
		}
		n = (size_t)cJSON_GetArraySize(levels);
		free(lv);
		lv = calloc(n ? n : 1, sizeof(*lv));
		if (lv == NULL) {
			seterr(err, errlen, "seed: out of memory");
			goto out;
		}
		i = 0;
		cJSON_ArrayForEach(l, levels) {
			side = str_of(l, "side");
			if (num_of(l, "price", &lv[i].price) ||
			    num_of(l, "qty", &lv[i].qty) || side == NULL ||
			    (strcmp(side, "sell") != 0 &&
			    strcmp(side, "buy") != 0)) {
				seterr(err, errlen, "seed: %s level %zu is "
				    "invalid", asset, i);
				goto out;
			}
			lv[i].side = strcmp(side, "sell") == 0 ? LC_DOWN : LC_UP;
			snprintf(lv[i].as_of, sizeof(lv[i].as_of), "%s",
			    as_of ? as_of : now);
			snprintf(lv[i].source, sizeof(lv[i].source), "%s",
			    source ? source : "seed");
			i++;
		}
		s = store_replace_levels(st, asset, lv, n);
		if (s != STORE_OK) {
			seterr(err, errlen, "seed: levels of %s: %s", asset,
			    store_status_str(s));
			goto out;
		}
		stats->levels += n;
	}
	rc = 0;
out:
	free(lv);
	return rc;
}

static int
apply_corr(struct store *st, const cJSON *obj, struct seed_stats *stats,
    char *err, size_t errlen)
{
	const cJSON *pairs, *p, *a, *b, *r;
	struct md_corr *c = NULL;
	size_t n, i = 0;
	enum store_status s;
	int rc = -1;

	pairs = cJSON_GetObjectItemCaseSensitive(obj, "pairs");
	if (!cJSON_IsArray(pairs)) {
		seterr(err, errlen, "seed: correlations need \"pairs\"");
		return -1;
	}
	n = (size_t)cJSON_GetArraySize(pairs);
	if (n == 0)
		return 0;
	c = calloc(n, sizeof(*c));
	if (c == NULL) {
		seterr(err, errlen, "seed: out of memory");
		return -1;
	}
	cJSON_ArrayForEach(p, pairs) {
		a = cJSON_GetArrayItem(p, 0);
		b = cJSON_GetArrayItem(p, 1);
		r = cJSON_GetArrayItem(p, 2);
		if (!cJSON_IsString(a) || !cJSON_IsString(b) ||
		    !cJSON_IsNumber(r) || strlen(a->valuestring) >
		    MD_SYMBOL_MAX || strlen(b->valuestring) > MD_SYMBOL_MAX) {
			seterr(err, errlen, "seed: correlation pair %zu is "
			    "invalid", i);
			goto out;
		}
		snprintf(c[i].a, sizeof(c[i].a), "%s", a->valuestring);
		snprintf(c[i].b, sizeof(c[i].b), "%s", b->valuestring);
		c[i].rho = r->valuedouble;
		i++;
	}
	s = store_put_correlations(st, c, n, 0);
	if (s != STORE_OK) {
		seterr(err, errlen, "seed: correlations: %s",
		    store_status_str(s));
		goto out;
	}
	stats->pairs += n;
	rc = 0;
out:
	free(c);
	return rc;
}

/* ---- price history --------------------------------------------------- */

/* One entry [t, o, h, l, c] (points: [t, p]) of numbers into *c. */
static int
candle_of(const cJSON *e, int points, struct lc_candle *c)
{
	double v[5];
	const cJSON *x;
	int k = 0, need = points ? 2 : 5;

	if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != need)
		return -1;
	cJSON_ArrayForEach(x, e) {
		if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble))
			return -1;
		v[k++] = x->valuedouble;
	}
	if (v[0] != floor(v[0]) || v[0] < 0 || v[0] > 253402300799.0)
		return -1;
	c->t = (int64_t)v[0];
	c->open = v[1];
	c->high = points ? v[1] : v[2];
	c->low = points ? v[1] : v[3];
	c->close = points ? v[1] : v[4];
	/* the candle rule of docs/model.md section 9 */
	return c->low > 0 && c->low <= fmin(c->open, c->close) &&
	    fmax(c->open, c->close) <= c->high ? 0 : -1;
}

/*
 * "prices": [{"asset", "body": {"candles": [...]} | {"points": [...]}}]
 * (the bodies of POST /v1/markets/{asset}/prices, numbers only, times
 * strictly increasing): each upserted in one transaction that also sets
 * the market's volatility_source to history (unless pinned).  No
 * retention cut: the seed keeps what it ships.
 */
static int
apply_prices(struct store *st, const cJSON *arr, struct seed_stats *stats,
    char *err, size_t errlen)
{
	const cJSON *it, *body, *list, *e;
	const char *asset;
	struct lc_candle *c = NULL;
	size_t n, i;
	enum store_status s;
	int points, rc = -1;

	cJSON_ArrayForEach(it, arr) {
		asset = str_of(it, "asset");
		body = cJSON_GetObjectItemCaseSensitive(it, "body");
		list = cJSON_GetObjectItemCaseSensitive(body, "candles");
		points = list == NULL;
		if (points)
			list = cJSON_GetObjectItemCaseSensitive(body, "points");
		if (asset == NULL || !cJSON_IsArray(list)) {
			seterr(err, errlen, "seed: bad prices entry %s",
			    asset ? asset : "(no asset)");
			goto out;
		}
		n = (size_t)cJSON_GetArraySize(list);
		free(c);
		c = calloc(n ? n : 1, sizeof(*c));
		if (c == NULL) {
			seterr(err, errlen, "seed: out of memory");
			goto out;
		}
		i = 0;
		cJSON_ArrayForEach(e, list) {
			if (candle_of(e, points, &c[i]) != 0 ||
			    (i > 0 && c[i].t <= c[i - 1].t)) {
				seterr(err, errlen, "seed: %s price %zu is "
				    "invalid or out of order", asset, i);
				goto out;
			}
			i++;
		}
		s = store_put_prices(st, asset, c, n, 0,
		    STORE_SRC_HISTORY_UNPINNED, NULL);
		if (s != STORE_OK) {
			seterr(err, errlen, "seed: prices of %s: %s", asset,
			    store_status_str(s));
			goto out;
		}
		stats->candles += n;
	}
	rc = 0;
out:
	free(c);
	return rc;
}

/* ---- books ---------------------------------------------------------- */

/*
 * A book of the seed, ready for the store: each position's JSON text (as
 * the seed holds it, printed compactly) with its id, in seed order (the
 * slot is the index).  Texts are back to back in `text`; position i is
 * text[off[i], off[i + 1]).
 */
struct seed_book {
	const char *name;
	const char *as_of;
	const char *source;
	size_t n;
	const char **ids;	/* borrowed from the cJSON tree */
	char *text;
	size_t *off;		/* [n + 1] */
};

/* Write one book: a replace, one transaction (store_books.h). */
static int
seed_write_book(struct store *st, const struct seed_book *bk,
    const char *now)
{
	struct store_book b;
	struct store_book_pos *p;
	enum store_status res;
	size_t i;

	memset(&b, 0, sizeof(b));
	snprintf(b.name, sizeof(b.name), "%s", bk->name);
	snprintf(b.as_of, sizeof(b.as_of), "%s", bk->as_of);
	snprintf(b.source, sizeof(b.source), "%s",
	    bk->source != NULL ? bk->source : "");
	snprintf(b.updated_at, sizeof(b.updated_at), "%s", now);
	b.next_slot = (int64_t)bk->n;
	p = malloc((bk->n + 1) * sizeof(*p));
	if (p == NULL)
		return -1;
	for (i = 0; i < bk->n; i++) {
		p[i].id = bk->ids[i];
		p[i].slot = (int64_t)i;
		p[i].body = bk->text + bk->off[i];
		p[i].len = bk->off[i + 1] - bk->off[i];
	}
	res = store_book_replace(st, &b, p, bk->n, NULL);
	free(p);
	return res == STORE_OK ? 0 : -1;
}

/* A book name: 1-64 of a-z, 0-9, '.', '_', '-' (docs/model.md 8). */
static int
book_name_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '.' ||
		    s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

/*
 * The positions of one book entry into bk (texts and ids).  The seed is
 * trusted: only the shape is checked here (an object with an id of 1-128
 * bytes and a type per position); the position codec validates every
 * field when the book store takes it, and tests/service/test_import.c
 * decodes the shipped seed's books with it.
 */
static int
book_texts(const cJSON *positions, struct seed_book *bk, char *err,
    size_t errlen)
{
	const cJSON *p, *id;
	char *t = NULL, *nb;
	size_t cap = 0, len = 0, tl, i = 0;

	bk->n = (size_t)cJSON_GetArraySize(positions);
	bk->ids = calloc(bk->n ? bk->n : 1, sizeof(*bk->ids));
	bk->off = calloc(bk->n + 1, sizeof(*bk->off));
	if (bk->ids == NULL || bk->off == NULL)
		goto nomem;
	cJSON_ArrayForEach(p, positions) {
		id = cJSON_GetObjectItemCaseSensitive(p, "id");
		if (!cJSON_IsObject(p) || !cJSON_IsString(id) ||
		    id->valuestring[0] == '\0' ||
		    strlen(id->valuestring) > 128 ||
		    str_of(p, "type") == NULL) {
			seterr(err, errlen, "seed: book %s position %zu is "
			    "invalid", bk->name, i);
			return -1;
		}
		bk->ids[i] = id->valuestring;
		t = cJSON_PrintUnformatted(p);
		if (t == NULL)
			goto nomem;
		tl = strlen(t);
		if (len + tl + 1 > cap) {
			cap = (len + tl + 1) * 2;
			nb = realloc(bk->text, cap);
			if (nb == NULL)
				goto nomem;
			bk->text = nb;
		}
		memcpy(bk->text + len, t, tl);
		len += tl;
		bk->text[len] = '\0';
		cJSON_free(t);
		t = NULL;
		bk->off[++i] = len;
	}
	return 0;
nomem:
	cJSON_free(t);
	seterr(err, errlen, "seed: out of memory");
	return -1;
}

static int
apply_books(struct store *st, const cJSON *arr, const char *now,
    struct seed_stats *stats, char *err, size_t errlen)
{
	const cJSON *it, *positions;
	struct seed_book bk;
	int rc = -1;

	if (!cJSON_IsArray(arr)) {
		seterr(err, errlen, "seed: books must be an array");
		return -1;
	}
	memset(&bk, 0, sizeof(bk));
	cJSON_ArrayForEach(it, arr) {
		memset(&bk, 0, sizeof(bk));
		bk.name = str_of(it, "name");
		bk.as_of = str_of(it, "as_of");
		bk.source = str_of(it, "source");
		positions = cJSON_GetObjectItemCaseSensitive(it, "positions");
		if (bk.name == NULL || !book_name_ok(bk.name) ||
		    !cJSON_IsArray(positions) || (bk.source != NULL &&
		    strlen(bk.source) > MD_SOURCE_MAX)) {
			seterr(err, errlen, "seed: bad book entry %s",
			    bk.name ? bk.name : "(no name)");
			goto out;
		}
		if (bk.as_of == NULL)
			bk.as_of = now;
		if (book_texts(positions, &bk, err, errlen) != 0)
			goto out;
		if (seed_write_book(st, &bk, now) != 0) {
			seterr(err, errlen, "seed: book %s: not stored",
			    bk.name);
			goto out;
		}
		stats->books++;
		stats->book_positions += bk.n;
		free(bk.ids);
		free(bk.text);
		free(bk.off);
	}
	memset(&bk, 0, sizeof(bk));
	rc = 0;
out:
	free(bk.ids);
	free(bk.text);
	free(bk.off);
	return rc;
}

int
seed_apply(struct store *st, const char *json, size_t len,
    struct seed_stats *stats, char *err, size_t errlen)
{
	cJSON *root;
	const cJSON *v;
	struct rfc3339_time t;
	char now[RFC3339_MAX];
	int rc = -1;

	memset(stats, 0, sizeof(*stats));
	rfc3339_now(&t, 0);
	rfc3339_format(now, sizeof(now), &t);
	root = cJSON_ParseWithLength(json, len);
	if (root == NULL || !cJSON_IsObject(root)) {
		seterr(err, errlen, "seed: not a JSON object");
		goto out;
	}
	v = cJSON_GetObjectItemCaseSensitive(root, "markets");
	if (v != NULL && apply_markets(st, v, now, stats, err, errlen))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "depth");
	if (v != NULL && apply_depth(st, v, now, stats, err, errlen))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "liquidations");
	if (v != NULL && apply_levels(st, v, now, stats, err, errlen))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "correlations");
	if (v != NULL && apply_corr(st, v, stats, err, errlen))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "prices");
	if (v != NULL && apply_prices(st, v, stats, err, errlen))
		goto out;
	v = cJSON_GetObjectItemCaseSensitive(root, "books");
	if (v != NULL && apply_books(st, v, now, stats, err, errlen))
		goto out;
	rc = 0;
out:
	cJSON_Delete(root);
	return rc;
}

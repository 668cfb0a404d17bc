/*
 * api_markets.c - the market use cases but the cascade curve (api.h):
 *
 *   GET    /v1/markets                        api_get_markets (ETag, 304)
 *   GET    /v1/markets/{asset}                api_get_market (404, ETag, 304)
 *   PUT    /v1/markets/{asset}                api_put_asset: 201 / 200
 *   DELETE /v1/markets/{asset}                api_delete_asset, with its
 *                                             curves, levels and pairs
 *   PUT    /v1/markets/{asset}/depth/{venue}  api_put_depth: every form
 *   DELETE /v1/markets/{asset}/depth/{venue}  api_delete_venue
 *   PUT    /v1/markets/{asset}/liquidations   api_put_levels: replace
 *   POST   /v1/markets/{asset}/liquidations   api_put_levels: append
 *   PUT    /v1/correlations                   api_put_correlations: replace
 *   POST   /v1/correlations                   api_put_correlations: upsert
 *
 * Each write is one write transaction (api_int.h, api.c).
 *
 * Entity tags are 64-bit FNV-1a hashes (hash.h).  A market's tag hashes
 * its answer body, a pure function of the asset's data: equal data gives
 * equal tags across writes to other assets and across restarts.  The
 * listing shows every asset and the snapshot's version, so its tag hashes
 * the snapshot's content tag (snapshot.c, over everything the listing
 * shows) with the version: it changes with every published snapshot, like
 * the body, and a matching If-None-Match is answered 304 before anything
 * is encoded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "codec.h"
#include "hash.h"
#include "snapshot.h"
#include "store.h"

/* ---- helpers -------------------------------------------------------- */

/* What the codec needs of a stored asset to decode a write against it. */
static void
md_asset_of(const struct snapshot_asset *sa, struct md_asset *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->symbol, sa->symbol, sizeof(out->symbol));
	out->price = sa->price;
	out->vol = sa->vol;
	memcpy(out->updated_at, sa->updated_at, sizeof(out->updated_at));
}

/* A small JSON answer {"asset", ["venue"], "deleted": true, warnings}. */
static char *
deleted_body(const char *asset, const char *venue)
{
	struct json_buf b;
	struct codec_warnings w;
	char *s;

	codec_warnings_init(&w);
	json_buf_init(&b, 128);
	json_buf_begin(&b, '{');
	json_buf_key(&b, "asset");
	json_buf_str(&b, asset);
	if (venue != NULL) {
		json_buf_key(&b, "venue");
		json_buf_str(&b, venue);
	}
	json_buf_key(&b, "deleted");
	json_buf_bool(&b, 1);
	codec_buf_warnings(&b, &w);
	json_buf_end(&b, '}');
	s = json_buf_take(&b);
	codec_warnings_release(&w);
	return s;
}

/* Append "warnings" to a JSON object text (consumed); NULL on ENOMEM. */
static char *
with_warnings(char *obj, const struct codec_warnings *w)
{
	struct json_buf b;
	char *wt, *out = NULL;
	size_t n, m;

	if (obj == NULL)
		return NULL;
	json_buf_init(&b, 128);
	json_buf_begin(&b, '{');
	codec_buf_warnings(&b, w);
	json_buf_end(&b, '}');
	wt = json_buf_take(&b);
	n = strlen(obj);
	if (wt == NULL || n < 2 || obj[n - 1] != '}')
		goto out;
	m = strlen(wt);
	out = malloc(n + m + 1);
	if (out == NULL)
		goto out;
	/* obj without its '}' + "," + wt without its '{' */
	memcpy(out, obj, n - 1);
	out[n - 1] = ',';
	memcpy(out + n, wt + 1, m);
	out[n + m - 1] = '\0';
out:
	free(wt);
	free(obj);
	return out;
}


/* ---- reads ---------------------------------------------------------- */

/* If-None-Match (RFC 9110 13.1.2, weak comparison) against etag. */
int
api_etag_matches(const char *inm, const char *etag)
{
	const char *p = inm, *e;
	size_t n, elen = strlen(etag);

	if (inm == NULL)
		return 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		if (*p == '*')
			return 1;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		e = p;
		if (*e == '"') {
			e = strchr(e + 1, '"');
			e = e != NULL ? e + 1 : p + strlen(p);
		} else {
			while (*e != '\0' && *e != ',' && *e != ' ')
				e++;
		}
		n = (size_t)(e - p);
		if (n == elen && memcmp(p, etag, n) == 0)
			return 1;
		p = e;
	}
	return 0;
}

int
api_get_markets(struct app *app, const char *if_none_match,
    struct api_answer *ans)
{
	struct snapshot *snap = api_current(app, ans);
	uint64_t h;

	if (snap == NULL)
		return ans->status;
	h = hash_fnv_str(HASH_FNV_INIT, snap->etag);
	hash_etag(hash_fnv_word(h, snap->version), ans->etag);
	if (api_etag_matches(if_none_match, ans->etag)) {
		ans->status = 304;
	} else if (codec_encode_markets(snap, -1, &ans->body) != 0) {
		ans->etag[0] = '\0';
		api_oom(ans);
	} else {
		ans->status = 200;
	}
	snapshot_unref(snap);
	return ans->status;
}

int
api_get_market(struct app *app, const char *asset, const char *if_none_match,
    struct api_answer *ans)
{
	struct snapshot *snap = api_current(app, ans);
	long i;

	if (snap == NULL)
		return ans->status;
	i = api_find_stored(snap, asset);
	if (i < 0) {
		api_not_found(ans, asset);
	} else if (codec_encode_markets(snap, i, &ans->body) != 0) {
		api_oom(ans);
	} else {
		hash_etag(hash_fnv(HASH_FNV_INIT, ans->body,
		    strlen(ans->body)), ans->etag);
		ans->status = 200;
		if (api_etag_matches(if_none_match, ans->etag)) {
			free(ans->body);
			ans->body = NULL;
			ans->status = 304;
		}
	}
	snapshot_unref(snap);
	return ans->status;
}

/* ---- writes --------------------------------------------------------- */

int
api_w_put_asset(const struct api_wcall *c, struct api_answer *ans)
{
	struct app *app = c->app;
	const char *asset = c->param[0];
	struct wtx t;
	struct codec_asset_put put;
	struct codec_warnings w;
	struct md_asset md;
	enum store_status st;
	long i;
	int created = 0;
	size_t nstale;

	wtx_init(&t, c);
	codec_warnings_init(&w);
	if (!api_valid_symbol(asset)) {
		api_fail_field(ans, "/path/asset",
		    "an asset symbol is 1-16 "
		    "characters of A-Z, 0-9, '.', '_' and '-'");
		goto out;
	}
	if (strcmp(asset, "USD") == 0) {
		api_fail_field(ans, "/path/asset",
		    "USD is the quote currency "
		    "(price 1, volatility 0) and cannot be written");
		goto out;
	}
	wtx_lock(&t);
	i = api_find_stored(t.snap, asset);
	if (i >= 0)
		md_asset_of(&t.snap->assets[i], &md);
	if (codec_decode_asset(c->body, c->len, i >= 0 ? &md : NULL, &put,
	        &ans->err) != 0) {
		ans->status = ans->err.status;
		goto out;
	}
	if (wtx_validated(&t, ans))
		goto out;
	/* CODEC_SRC_* are STORE_SRC_KEEP, _EXPLICIT, _PIN, _HISTORY */
	st = store_put_asset_src(app->store, asset, put.price, put.vol,
	    put.as_of, put.vol_src == CODEC_SRC_PIN ? STORE_SRC_PIN :
	    put.vol_src == CODEC_SRC_HISTORY ? STORE_SRC_HISTORY :
	    put.vol_src == CODEC_SRC_EXPLICIT ? STORE_SRC_EXPLICIT :
	    STORE_SRC_KEEP, &created);
	if (wtx_commit(&t, st, asset, asset, SNAPSHOT_LEVELS_KEEP, ans) != 0)
		goto out;
	i = api_find_stored(t.ns, asset);
	if (i < 0 || codec_encode_markets(t.ns, i, &ans->body) != 0) {
		api_oom(ans);
		goto out;
	}
	nstale = t.ns->assets[i].levels[0].nstale +
	    t.ns->assets[i].levels[1].nstale;
	if (nstale > 0)
		codec_warnings_add(&w, "stale_levels", asset, NULL,
		    (int64_t)nstale, NULL,
		    "%zu stored liquidation level(s) "
		    "have already fired at the price %.17g: kept, but ignored "
		    "while the price stays there",
		    nstale, put.price);
	ans->body = with_warnings(ans->body, &w);
	wtx_answer(ans, 1, created ? 201 : 200);
	if (created && ans->status == 201)
		snprintf(ans->location, sizeof(ans->location), "/v1/markets/%s",
		    asset);
out:
	codec_warnings_release(&w);
	return wtx_end(&t, ans);
}

int
api_w_delete_asset(const struct api_wcall *c, struct api_answer *ans)
{
	struct app *app = c->app;
	const char *asset = c->param[0];
	struct wtx t;

	wtx_init(&t, c);
	wtx_lock(&t);
	if (wtx_asset(&t, asset, ans) < 0 || wtx_validated(&t, ans))
		goto out;
	if (wtx_commit(&t, store_delete_asset(app->store, asset), asset,
	    asset, SNAPSHOT_LEVELS_RELOAD, ans) != 0)
		goto out;
	ans->body = deleted_body(asset, NULL);
	wtx_answer(ans, 1, 200);
out:
	return wtx_end(&t, ans);
}

int
api_w_put_depth(const struct api_wcall *c, struct api_answer *ans)
{
	struct app *app = c->app;
	const char *asset = c->param[0], *venue = c->param[1];
	struct wtx t;
	struct codec_depth d;
	struct md_curve curves[2];
	struct md_asset md;
	enum store_status st;
	char what[128];
	size_t n;
	long i;
	int created = 0;

	wtx_init(&t, c);
	codec_depth_init(&d);
	if (!api_valid_venue(venue)) {
		api_fail_field(ans, "/path/venue",
		    "a venue is 1-64 characters of "
		    "A-Z, a-z, 0-9, '.', '_' and '-'");
		goto out;
	}
	wtx_lock(&t);
	i = wtx_asset(&t, asset, ans);
	if (i < 0)
		goto out;
	md_asset_of(&t.snap->assets[i], &md);
	if (codec_decode_depth(c->body, c->len, &md, &d, &ans->err) != 0) {
		ans->status = ans->err.status;
		goto out;
	}
	if (wtx_validated(&t, ans))
		goto out;
	n = codec_depth_curves(&d, venue, curves);
	snprintf(what, sizeof(what), "%s/%s", asset, venue);
	st = store_put_curves(app->store, asset, curves, n, &created);
	if (wtx_commit(&t, st, what, asset, SNAPSHOT_LEVELS_KEEP, ans) != 0)
		goto out;
	wtx_answer(ans, codec_encode_depth(&d, asset, venue, &ans->body) == 0,
	    created ? 201 : 200);
	if (created && ans->status == 201)
		snprintf(ans->location, sizeof(ans->location),
		    "/v1/markets/%s/depth/%s", asset, venue);
out:
	codec_depth_release(&d);
	return wtx_end(&t, ans);
}

int
api_w_delete_venue(const struct api_wcall *c, struct api_answer *ans)
{
	struct app *app = c->app;
	const char *asset = c->param[0], *venue = c->param[1];
	struct wtx t;
	char what[128];

	wtx_init(&t, c);
	wtx_lock(&t);
	if (wtx_asset(&t, asset, ans) < 0 || wtx_validated(&t, ans))
		goto out;
	snprintf(what, sizeof(what), "venue %s of %s",
	    api_valid_venue(venue) ? venue : "?", asset);
	if (wtx_commit(&t, api_valid_venue(venue) ?
	    store_delete_venue(app->store, asset, venue) : STORE_NOT_FOUND,
	    what, asset, SNAPSHOT_LEVELS_KEEP, ans) != 0)
		goto out;
	ans->body = deleted_body(asset, venue);
	wtx_answer(ans, 1, 200);
out:
	return wtx_end(&t, ans);
}

static int
levels_write(const struct api_wcall *c, int append, struct api_answer *ans)
{
	struct app *app = c->app;
	const char *asset = c->param[0];
	struct wtx t;
	struct codec_levels lv;
	struct md_asset md;
	enum store_status st;
	long i;

	wtx_init(&t, c);
	codec_levels_init(&lv);
	wtx_lock(&t);
	i = wtx_asset(&t, asset, ans);
	if (i < 0)
		goto out;
	md_asset_of(&t.snap->assets[i], &md);
	if (codec_decode_levels(c->body, c->len, &md, &lv, &ans->err) != 0) {
		ans->status = ans->err.status;
		goto out;
	}
	if (wtx_validated(&t, ans))
		goto out;
	st = append ? store_append_levels(app->store, asset, lv.levels, lv.n)
	            : store_replace_levels(app->store, asset, lv.levels, lv.n);
	if (wtx_commit(&t, st, asset, asset, append ? SNAPSHOT_LEVELS_APPEND :
	    SNAPSHOT_LEVELS_RELOAD, ans) != 0)
		goto out;
	wtx_answer(ans, codec_encode_levels(&lv, asset, &ans->body) == 0, 200);
out:
	codec_levels_release(&lv);
	return wtx_end(&t, ans);
}

static int
corr_write(const struct api_wcall *c, int replace, struct api_answer *ans)
{
	struct app *app = c->app;
	struct wtx t;
	struct codec_corr cr;
	struct codec_warnings w;
	struct json_buf b;
	enum store_status st;

	wtx_init(&t, c);
	codec_corr_init(&cr);
	codec_warnings_init(&w);
	if (wtx_lock(&t) == NULL) {
		api_oom(ans);
		goto out;
	}
	if (codec_decode_correlations(c->body, c->len, t.snap, &cr,
	        &ans->err) != 0) {
		ans->status = ans->err.status;
		goto out;
	}
	if (wtx_validated(&t, ans))
		goto out;
	st = store_put_correlations(app->store, cr.pairs, cr.n, replace);
	if (wtx_commit(&t, st, "the correlations", NULL,
	    SNAPSHOT_LEVELS_RELOAD, ans) != 0)
		goto out;
	json_buf_init(&b, 128);
	json_buf_begin(&b, '{');
	json_buf_key(&b, "mode");
	json_buf_str(&b, replace ? "replace" : "upsert");
	json_buf_key(&b, "pairs");
	json_buf_int(&b, (int64_t)cr.n);
	json_buf_key(&b, "default_correlation");
	json_buf_num(&b, t.ns->default_rho);
	codec_buf_warnings(&b, &w);
	json_buf_end(&b, '}');
	ans->body = json_buf_take(&b);
	wtx_answer(ans, 1, 200);
out:
	codec_warnings_release(&w);
	codec_corr_release(&cr);
	return wtx_end(&t, ans);
}

int
api_w_put_levels(const struct api_wcall *c, struct api_answer *ans)
{
	return levels_write(c, 0, ans);
}

int
api_w_post_levels(const struct api_wcall *c, struct api_answer *ans)
{
	return levels_write(c, 1, ans);
}

int
api_w_put_correlations(const struct api_wcall *c, struct api_answer *ans)
{
	return corr_write(c, 1, ans);
}

int
api_w_post_correlations(const struct api_wcall *c, struct api_answer *ans)
{
	return corr_write(c, 0, ans);
}

/* ---- the public write use cases: api_write() runs or relays them ---- */

int
api_put_asset(struct app *app, const char *asset, const char *body, size_t len,
    struct api_answer *ans)
{
	return api_write(app, "PUT", "/v1/markets/{asset}", asset, NULL, body,
	    len, ans);
}

int
api_delete_asset(struct app *app, const char *asset, struct api_answer *ans)
{
	return api_write(app, "DELETE", "/v1/markets/{asset}", asset, NULL, "",
	    0, ans);
}

int
api_put_depth(struct app *app, const char *asset, const char *venue,
    const char *body, size_t len, struct api_answer *ans)
{
	return api_write(app, "PUT", "/v1/markets/{asset}/depth/{venue}", asset,
	    venue, body, len, ans);
}

int
api_delete_venue(struct app *app, const char *asset, const char *venue,
    struct api_answer *ans)
{
	return api_write(app, "DELETE", "/v1/markets/{asset}/depth/{venue}",
	    asset, venue, "", 0, ans);
}

int
api_put_levels(struct app *app, const char *asset, const char *body, size_t len,
    int append, struct api_answer *ans)
{
	return api_write(app, append ? "POST" : "PUT",
	    "/v1/markets/{asset}/liquidations", asset, NULL, body, len, ans);
}

int
api_put_correlations(struct app *app, const char *body, size_t len, int replace,
    struct api_answer *ans)
{
	return api_write(app, replace ? "PUT" : "POST", "/v1/correlations", NULL,
	    NULL, body, len, ans);
}

/*
 * handlers_markets.c - the market-data endpoints of SPEC 7 and the write
 * path they share with `cascaded import` (handlers.h):
 *
 *   GET    /v1/markets                        listing (ETag, 304)
 *   GET    /v1/markets/{asset}                one market (404, ETag, 304)
 *   PUT    /v1/markets/{asset}                create 201 / update 200
 *   DELETE /v1/markets/{asset}                with curves, levels, pairs
 *   PUT    /v1/markets/{asset}/depth/{venue}  every input form
 *   DELETE /v1/markets/{asset}/depth/{venue}
 *   PUT    /v1/markets/{asset}/liquidations   replace
 *   POST   /v1/markets/{asset}/liquidations   append
 *   PUT    /v1/correlations                   replace the set
 *   POST   /v1/correlations                   upsert pairs
 *   GET    /v1/markets/{asset}/cascade        cascade curve, stored levels
 *
 * Every write runs under the writer mutex: decode and validate against
 * the current snapshot (a bad request never reaches the store), one store
 * transaction, then a reload of only what the write touched (the asset
 * and the correlations: store_load_asset) and snapshot_update, which
 * shares every other asset's built data with the current snapshot, and
 * publish.  Startup loads and builds everything once.  A failed store
 * write publishes nothing.  A failed reload after a commit answers 503: the
 * data is stored and the next successful write (or a restart) publishes
 * it.
 *
 * ETags are a 64-bit FNV-1a hash of the answer body, which is a pure
 * function of the snapshot's content: equal data gives equal tags across
 * writes to other assets and across restarts.
 */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "cascade/cascade.h"
#include "codec.h"
#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "snapshot.h"
#include "store.h"

#define MAX_CASCADE_POINTS 1001

/* ---- answers -------------------------------------------------------- */

void
api_answer_init(struct api_answer *a)
{
	memset(a, 0, sizeof(*a));
	problem_init(&a->err);
}

void
api_answer_release(struct api_answer *a)
{
	if (a == NULL)
		return;
	free(a->body);
	problem_release(&a->err);
	api_answer_init(a);
}

char *
api_answer_text(const struct api_answer *a)
{
	if (a->status >= 400 || a->body == NULL)
		return problem_render(&a->err, NULL);
	return strdup(a->body);
}

void
api_answer_respond(struct api_answer *a, struct server_response *res,
    const char *instance)
{
	char buf[32];

	if (a->status >= 400 || a->body == NULL) {
		if (a->err.status == 0)
			problem_set(&a->err, 500, "internal",
			    "Internal server error", "no answer");
		server_respond_problem(res, &a->err, instance);
		if (a->retry_after > 0) {
			snprintf(buf, sizeof(buf), "%d", a->retry_after);
			server_add_header(res, "Retry-After", buf);
		}
		return;
	}
	server_respond(res, a->status, "application/json", a->body,
	    strlen(a->body));
	a->body = NULL;
	if (a->location[0] != '\0')
		server_add_header(res, "Location", a->location);
}

static void
not_found(struct api_answer *a, const char *asset)
{
	problem_set(&a->err, 404, "not-found", "Not found", "unknown asset %s",
	    asset != NULL ? asset : "");
	a->status = 404;
}

/* One field error (pointer) with a 422 validation problem. */
static void
fail_field(struct api_answer *a, const char *pointer, const char *detail)
{
	problem_add(&a->err, pointer, "%s", detail);
	problem_set(&a->err, 422, "validation", "Unprocessable request", "%s",
	    detail);
	a->status = 422;
}

static void
store_problem(struct api_answer *a, enum store_status st, const char *what)
{
	int http = store_status_http(st);

	if (http >= 500)
		metrics_db_write_failed();
	switch (http) {
	case 404:
		problem_set(&a->err, 404, "not-found", "Not found",
		    "%s does not exist", what);
		break;
	case 422:
		problem_set(&a->err, 422, "constraint", "Unprocessable request",
		    "the store refused the write to %s (%s)", what,
		    store_status_str(st));
		break;
	case 503:
		problem_set(&a->err, 503, "unavailable", "Service unavailable",
		    "the database could not complete the write to %s (%s); "
		    "nothing was changed",
		    what, store_status_str(st));
		a->retry_after = 1;
		break;
	default:
		problem_set(&a->err, 500, "internal", "Internal server error",
		    "the write to %s failed (%s)", what, store_status_str(st));
		break;
	}
	a->status = a->err.status;
}

/* ---- writer state --------------------------------------------------- */

/*
 * Load the store and build a snapshot; publish it when `publish`.
 * Returns a new reference (the caller unrefs) or NULL with *st set.
 */
static struct snapshot *
load_snapshot(struct app *app, int publish, enum store_status *st)
{
	struct market_data md;
	struct snapshot *s = NULL;
	double rho = app->cfg != NULL ? app->cfg->default_correlation : 0.0;

	market_data_init(&md);
	*st = store_load(app->store, &md);
	if (*st != STORE_OK)
		goto out;
	if (snapshot_build(&md, rho, &s) != 0) {
		*st = STORE_NOMEM;
		goto out;
	}
	if (publish)
		snapshot_cell_publish(app->cell, snapshot_ref(s));
out:
	market_data_release(&md);
	return s;
}

int
handlers_app_init(struct app *app)
{
	struct api_writer *w;
	struct snapshot *s;
	enum store_status st;

	w = calloc(1, sizeof(*w));
	if (w == NULL)
		goto fail;
	if (pthread_mutex_init(&w->mu, NULL) != 0) {
		free(w);
		goto fail;
	}
	if (snapshot_cell_init(&w->cell) != 0) {
		pthread_mutex_destroy(&w->mu);
		free(w);
		goto fail;
	}
	app->writer = w;
	app->cell = &w->cell;
	s = load_snapshot(app, 1, &st);
	if (s == NULL) {
		log_kv(LOG_LVL_ERROR, "cannot load the market data", "error",
		    store_status_str(st), (const char *)NULL);
		handlers_app_release(app);
		return -1;
	}
	snapshot_unref(s);
	return 0;
fail:
	log_msg(LOG_LVL_ERROR, "handlers: out of memory");
	return -1;
}

void
handlers_app_release(struct app *app)
{
	if (app == NULL || app->writer == NULL)
		return;
	snapshot_cell_release(&app->writer->cell);
	pthread_mutex_destroy(&app->writer->mu);
	free(app->writer);
	app->writer = NULL;
	app->cell = NULL;
}

/*
 * After a committed write to `symbol` (NULL: the correlations only):
 * reload what changed and publish (the caller holds the writer mutex).
 * `lv` says what the write did to the asset's levels: only those that
 * changed are read back.  Returns the new snapshot (a reference) or NULL
 * with a 503 answer.
 */
static struct snapshot *
republish(struct app *app, const char *symbol, enum snapshot_level_mode lv,
    struct api_answer *a)
{
	struct market_data md;
	struct snapshot *cur, *s = NULL;
	enum store_status st;
	double rho = app->cfg != NULL ? app->cfg->default_correlation : 0.0;
	int64_t after = 0;
	int full = 0, rc;

	market_data_init(&md);
	cur = snapshot_cell_get(app->cell);
	if (cur == NULL) {
		s = load_snapshot(app, 1, &st);
		goto out;
	}
	/* an asset the snapshot does not hold yet: read all its levels */
	if (symbol == NULL || snapshot_max_seq(cur, symbol, &after) != 0)
		lv = SNAPSHOT_LEVELS_RELOAD;
	if (lv == SNAPSHOT_LEVELS_RELOAD)
		after = 0;
	else if (lv == SNAPSHOT_LEVELS_KEEP)
		after = STORE_NO_LEVELS;
	st = store_load_asset(app->store, symbol, after, &md, &full);
	if (st != STORE_OK)
		goto out;
	/* full: another process wrote too (cascaded import): rebuild all */
	rc = full ? snapshot_build(&md, rho, &s)
	          : snapshot_update(cur, symbol, &md, lv, &s);
	if (rc != 0) {
		st = STORE_NOMEM;
		goto out;
	}
	snapshot_cell_publish(app->cell, snapshot_ref(s));
out:
	market_data_release(&md);
	snapshot_unref(cur);
	if (s == NULL) {
		/* the next write must not build on what was not published */
		store_want_full_load(app->store);
		log_kv(LOG_LVL_ERROR, "reload after a write failed", "error",
		    store_status_str(st), (const char *)NULL);
		problem_set(&a->err, 503, "unavailable", "Service unavailable",
		    "the write was stored but the market data could not be "
		    "reloaded (%s); it becomes visible with the next write or "
		    "a restart",
		    store_status_str(st));
		a->retry_after = 1;
		a->status = 503;
	}
	return s;
}

/* ---- path segments -------------------------------------------------- */

static int
valid_symbol(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] != '\0'; n++)
		if (!((s[n] >= 'A' && s[n] <= 'Z') ||
		        (s[n] >= '0' && s[n] <= '9') || s[n] == '.' ||
		        s[n] == '_' || s[n] == '-'))
			return 0;
	return n >= 1 && n <= MD_SYMBOL_MAX;
}

static int
valid_venue(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] != '\0'; n++)
		if (!(isalnum((unsigned char)s[n]) || s[n] == '.' ||
		        s[n] == '_' || s[n] == '-'))
			return 0;
	return n >= 1 && n <= MD_VENUE_MAX;
}

/* The stored (non-implicit) asset `sym` of snap, or -1. */
static long
find_stored(const struct snapshot *snap, const char *sym)
{
	long i;

	if (snap == NULL || !valid_symbol(sym))
		return -1;
	i = snapshot_find(snap, sym);
	if (i < 0 || snap->assets[i].implicit)
		return -1;
	return i;
}

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
	struct codec_buf b;
	struct codec_warnings w;
	char *s;

	codec_warnings_init(&w);
	codec_buf_init(&b, 128);
	codec_buf_begin(&b, '{');
	codec_buf_key(&b, "asset");
	codec_buf_str(&b, asset);
	if (venue != NULL) {
		codec_buf_key(&b, "venue");
		codec_buf_str(&b, venue);
	}
	codec_buf_key(&b, "deleted");
	codec_buf_bool(&b, 1);
	codec_buf_warnings(&b, &w);
	codec_buf_end(&b, '}');
	s = codec_buf_take(&b);
	codec_warnings_release(&w);
	return s;
}

/* Append "warnings" to a JSON object text (consumed); NULL on ENOMEM. */
static char *
with_warnings(char *obj, const struct codec_warnings *w)
{
	struct codec_buf b;
	char *wt, *out = NULL;
	size_t n, m;

	if (obj == NULL)
		return NULL;
	codec_buf_init(&b, 128);
	codec_buf_begin(&b, '{');
	codec_buf_warnings(&b, w);
	codec_buf_end(&b, '}');
	wt = codec_buf_take(&b);
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

static int
oom(struct api_answer *a)
{
	problem_set(&a->err, 503, "unavailable", "Service unavailable",
	    "out of memory");
	a->status = 503;
	return 503;
}

/* ---- writes --------------------------------------------------------- */

/*
 * One write, the same shape for every route: the writer mutex held from
 * wtx_lock() to wtx_end(), the snapshot current when the lock was taken
 * (snap), and the one wtx_commit() published (ns).  wtx_end() releases
 * what was taken and returns the answer's status.
 */
struct wtx {
	struct app *app;
	struct snapshot *snap, *ns;
	int locked;
};

static void
wtx_init(struct wtx *t, struct app *app)
{
	t->app = app;
	t->snap = t->ns = NULL;
	t->locked = 0;
}

static struct snapshot *
wtx_lock(struct wtx *t)
{
	pthread_mutex_lock(&t->app->writer->mu);
	t->locked = 1;
	t->snap = snapshot_cell_get(t->app->cell);
	return t->snap;
}

/* The stored asset's index in the locked snapshot; -1 with a 404. */
static long
wtx_asset(struct wtx *t, const char *asset, struct api_answer *a)
{
	long i = find_stored(t->snap, asset);

	if (i < 0)
		not_found(a, asset);
	return i;
}

/*
 * After the store's write (st; `what` names it in a problem): publish what
 * changed (republish()).  0, or -1 with the answer set.
 */
static int
wtx_commit(struct wtx *t, enum store_status st, const char *what,
    const char *symbol, enum snapshot_level_mode lv, struct api_answer *a)
{
	if (st != STORE_OK) {
		store_problem(a, st, what);
		return -1;
	}
	t->ns = republish(t->app, symbol, lv, a);
	return t->ns != NULL ? 0 : -1;
}

/* The answer's body is built (ok and a->body set): status; else 503. */
static void
wtx_answer(struct api_answer *a, int ok, int status)
{
	if (!ok || a->body == NULL)
		oom(a);
	else
		a->status = status;
}

static int
wtx_end(struct wtx *t, struct api_answer *a)
{
	if (t->locked)
		pthread_mutex_unlock(&t->app->writer->mu);
	snapshot_unref(t->ns);
	snapshot_unref(t->snap);
	return a->status;
}

int
api_put_asset(struct app *app, const char *asset, const char *body, size_t len,
    struct api_answer *ans)
{
	struct wtx t;
	struct codec_asset_put put;
	struct codec_warnings w;
	struct md_asset md;
	enum store_status st;
	long i;
	int created = 0;
	size_t nstale;

	wtx_init(&t, app);
	codec_warnings_init(&w);
	if (!valid_symbol(asset)) {
		fail_field(ans, "/path/asset",
		    "an asset symbol is 1-16 "
		    "characters of A-Z, 0-9, '.', '_' and '-'");
		goto out;
	}
	if (strcmp(asset, "USD") == 0) {
		fail_field(ans, "/path/asset",
		    "USD is the quote currency "
		    "(price 1, volatility 0) and cannot be written");
		goto out;
	}
	wtx_lock(&t);
	i = find_stored(t.snap, asset);
	if (i >= 0)
		md_asset_of(&t.snap->assets[i], &md);
	if (codec_decode_asset(body, len, i >= 0 ? &md : NULL, &put,
	        &ans->err) != 0) {
		ans->status = ans->err.status;
		goto out;
	}
	st = store_put_asset(app->store, asset, put.price, put.vol, put.as_of,
	    &created);
	if (wtx_commit(&t, st, asset, asset, SNAPSHOT_LEVELS_KEEP, ans) != 0)
		goto out;
	i = find_stored(t.ns, asset);
	if (i < 0 || codec_encode_markets(t.ns, i, &ans->body) != 0) {
		oom(ans);
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
api_delete_asset(struct app *app, const char *asset, struct api_answer *ans)
{
	struct wtx t;

	wtx_init(&t, app);
	wtx_lock(&t);
	if (wtx_asset(&t, asset, ans) < 0)
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
api_put_depth(struct app *app, const char *asset, const char *venue,
    const char *body, size_t len, struct api_answer *ans)
{
	struct wtx t;
	struct codec_depth d;
	struct md_curve curves[2];
	struct md_asset md;
	enum store_status st;
	char what[128];
	size_t n;
	long i;
	int created = 0;

	wtx_init(&t, app);
	codec_depth_init(&d);
	if (!valid_venue(venue)) {
		fail_field(ans, "/path/venue",
		    "a venue is 1-64 characters of "
		    "A-Z, a-z, 0-9, '.', '_' and '-'");
		goto out;
	}
	wtx_lock(&t);
	i = wtx_asset(&t, asset, ans);
	if (i < 0)
		goto out;
	md_asset_of(&t.snap->assets[i], &md);
	if (codec_decode_depth(body, len, &md, &d, &ans->err) != 0) {
		ans->status = ans->err.status;
		goto out;
	}
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
api_delete_venue(struct app *app, const char *asset, const char *venue,
    struct api_answer *ans)
{
	struct wtx t;
	char what[128];

	wtx_init(&t, app);
	wtx_lock(&t);
	if (wtx_asset(&t, asset, ans) < 0)
		goto out;
	snprintf(what, sizeof(what), "venue %s of %s",
	    valid_venue(venue) ? venue : "?", asset);
	if (wtx_commit(&t, valid_venue(venue) ?
	    store_delete_venue(app->store, asset, venue) : STORE_NOT_FOUND,
	    what, asset, SNAPSHOT_LEVELS_KEEP, ans) != 0)
		goto out;
	ans->body = deleted_body(asset, venue);
	wtx_answer(ans, 1, 200);
out:
	return wtx_end(&t, ans);
}

int
api_put_levels(struct app *app, const char *asset, const char *body, size_t len,
    int append, struct api_answer *ans)
{
	struct wtx t;
	struct codec_levels lv;
	struct md_asset md;
	enum store_status st;
	long i;

	wtx_init(&t, app);
	codec_levels_init(&lv);
	wtx_lock(&t);
	i = wtx_asset(&t, asset, ans);
	if (i < 0)
		goto out;
	md_asset_of(&t.snap->assets[i], &md);
	if (codec_decode_levels(body, len, &md, &lv, &ans->err) != 0) {
		ans->status = ans->err.status;
		goto out;
	}
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

int
api_put_correlations(struct app *app, const char *body, size_t len, int replace,
    struct api_answer *ans)
{
	struct wtx t;
	struct codec_corr c;
	struct codec_warnings w;
	struct codec_buf b;
	enum store_status st;

	wtx_init(&t, app);
	codec_corr_init(&c);
	codec_warnings_init(&w);
	if (wtx_lock(&t) == NULL) {
		oom(ans);
		goto out;
	}
	if (codec_decode_correlations(body, len, t.snap, &c, &ans->err) != 0) {
		ans->status = ans->err.status;
		goto out;
	}
	st = store_put_correlations(app->store, c.pairs, c.n, replace);
	if (wtx_commit(&t, st, "the correlations", NULL,
	    SNAPSHOT_LEVELS_RELOAD, ans) != 0)
		goto out;
	codec_buf_init(&b, 128);
	codec_buf_begin(&b, '{');
	codec_buf_key(&b, "mode");
	codec_buf_str(&b, replace ? "replace" : "upsert");
	codec_buf_key(&b, "pairs");
	codec_buf_int(&b, (int64_t)c.n);
	codec_buf_key(&b, "default_correlation");
	codec_buf_num(&b, t.ns->default_rho);
	codec_buf_warnings(&b, &w);
	codec_buf_end(&b, '}');
	ans->body = codec_buf_take(&b);
	wtx_answer(ans, 1, 200);
out:
	codec_warnings_release(&w);
	codec_corr_release(&c);
	return wtx_end(&t, ans);
}

/* ---- HTTP handlers: writes ------------------------------------------ */

static void
respond(struct api_answer *a, struct server_request *req,
    struct server_response *res)
{
	api_answer_respond(a, res, req->path);
	api_answer_release(a);
}

static void
put_market(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_put_asset(req->app, server_param(req, "asset"), req->body,
	    req->body_len, &a);
	respond(&a, req, res);
}

static void
delete_market(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_delete_asset(req->app, server_param(req, "asset"), &a);
	respond(&a, req, res);
}

static void
put_depth(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_put_depth(req->app, server_param(req, "asset"),
	    server_param(req, "venue"), req->body, req->body_len, &a);
	respond(&a, req, res);
}

static void
delete_depth(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_delete_venue(req->app, server_param(req, "asset"),
	    server_param(req, "venue"), &a);
	respond(&a, req, res);
}

static void
put_levels(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_put_levels(req->app, server_param(req, "asset"), req->body,
	    req->body_len, 0, &a);
	respond(&a, req, res);
}

static void
post_levels(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_put_levels(req->app, server_param(req, "asset"), req->body,
	    req->body_len, 1, &a);
	respond(&a, req, res);
}

static void
put_corr(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_put_correlations(req->app, req->body, req->body_len, 1, &a);
	respond(&a, req, res);
}

static void
post_corr(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_put_correlations(req->app, req->body, req->body_len, 0, &a);
	respond(&a, req, res);
}

/* ---- HTTP handlers: reads ------------------------------------------- */

static struct snapshot *
current(struct server_request *req, struct server_response *res)
{
	struct app *app = req->app;
	struct snapshot *s;

	s = app->cell != NULL ? snapshot_cell_get(app->cell) : NULL;
	if (s == NULL) {
		server_respond_error(res, 503, "not-ready",
		    "no market snapshot is loaded");
		server_add_header(res, "Retry-After", "1");
	}
	return s;
}

static void
etag_of(const char *body, char out[24])
{
	uint64_t h = 14695981039346656037ULL;
	const unsigned char *p = (const unsigned char *)body;

	for (; *p != '\0'; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	snprintf(out, 24, "\"%016" PRIx64 "\"", h);
}

/* If-None-Match (RFC 9110 13.1.2, weak comparison) against etag. */
static int
etag_matches(const char *inm, const char *etag)
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

/* Answer a GET body with its ETag, or 304 (takes over body). */
static void
respond_cached(struct server_request *req, struct server_response *res,
    char *body)
{
	char etag[24];

	etag_of(body, etag);
	if (etag_matches(server_header(req, "If-None-Match"), etag)) {
		free(body);
		server_respond(res, 304, NULL, NULL, 0);
	} else {
		server_respond(res, 200, "application/json", body,
		    strlen(body));
	}
	server_add_header(res, "ETag", etag);
	server_add_header(res, "Cache-Control", "no-cache");
}

static void
get_markets(struct server_request *req, struct server_response *res)
{
	struct snapshot *snap = current(req, res);
	char *body = NULL;

	if (snap == NULL)
		return;
	if (codec_encode_markets(snap, -1, &body) != 0)
		server_respond_error(res, 503, "unavailable", "out of memory");
	else
		respond_cached(req, res, body);
	snapshot_unref(snap);
}

static void
get_market(struct server_request *req, struct server_response *res)
{
	struct snapshot *snap = current(req, res);
	const char *asset = server_param(req, "asset");
	char *body = NULL;
	long i;

	if (snap == NULL)
		return;
	i = find_stored(snap, asset);
	if (i < 0)
		server_respond_error(res, 404, "not-found", "unknown asset %s",
		    asset);
	else if (codec_encode_markets(snap, i, &body) != 0)
		server_respond_error(res, 503, "unavailable", "out of memory");
	else
		respond_cached(req, res, body);
	snapshot_unref(snap);
}

/* ---- GET /v1/markets/{asset}/cascade -------------------------------- */

enum { Q_DIR, Q_FROM, Q_TO, Q_STEP, Q_THRESH, Q_N };
static const char *const qnames[Q_N] = { "direction", "from", "to", "step",
	"cascade_threshold_bps" };

struct qcheck {
	struct problem *err;
	unsigned seen;
};

static void
qerr(struct problem *err, const char *name, const char *detail)
{
	char ptr[160];
	size_t n = 0;

	n = (size_t)snprintf(ptr, sizeof(ptr), "/query/");
	/* JSON pointer escaping of the name (~0, ~1), truncated */
	for (; *name != '\0' && n + 3 < sizeof(ptr); name++) {
		if (*name == '~' || *name == '/') {
			ptr[n++] = '~';
			ptr[n++] = *name == '~' ? '0' : '1';
		} else {
			ptr[n++] = *name;
		}
	}
	ptr[n] = '\0';
	problem_add(err, ptr, "%s", detail);
}

static int
qcheck_cb(void *cls, const char *name, const char *value)
{
	struct qcheck *q = cls;
	size_t k;

	(void)value;
	for (k = 0; k < Q_N; k++)
		if (strcmp(name, qnames[k]) == 0)
			break;
	if (k == Q_N)
		qerr(q->err, name, "unknown query parameter");
	else if (q->seen & (1u << k))
		qerr(q->err, name, "given more than once");
	else
		q->seen |= 1u << k;
	return 0;
}

/* A decimal number (no hex, inf or nan), finite. */
static int
qnum(struct problem *err, const char *name, const char *s, double *out)
{
	const char *p;
	char *end = NULL;
	double v = 0;
	int ok;

	if (s == NULL)
		return 1; /* absent: keep the default */
	for (p = s; *p != '\0'; p++)
		if (!isdigit((unsigned char)*p) && *p != '.' && *p != '-' &&
		    *p != '+' && *p != 'e' && *p != 'E')
			break;
	ok = *s != '\0' && *p == '\0';
	if (ok) {
		v = strtod(s, &end);
		ok = *end == '\0' && isfinite(v);
	}
	if (!ok) {
		qerr(err, name, "must be a number");
		return -1;
	}
	*out = v;
	return 0;
}

struct cascade_query {
	enum lc_dir dir;
	double from, to, step, threshold;
	size_t npoints;
	size_t n; /* shocks 0..n by multiplication */
	int append_to; /* `to` appended as the last point */
};

/* Parse and check the query; 0, or -1 with every error in err. */
static int
cascade_query(struct server_request *req, struct cascade_query *q,
    struct problem *err)
{
	struct qcheck qc = { err, 0 };
	const char *dir;
	double span, ratio, sgn, last;
	int ok_from, ok_to, ok_step;

	server_query_each(req, qcheck_cb, &qc);
	q->dir = LC_DOWN;
	dir = server_query(req, "direction");
	if (dir != NULL && strcmp(dir, "up") == 0)
		q->dir = LC_UP;
	else if (dir != NULL && strcmp(dir, "down") != 0)
		qerr(err, "direction", "must be down or up");
	q->from = 0;
	q->to = q->dir == LC_DOWN ? -0.5 : 0.5;
	q->step = 0.01;
	q->threshold = 100;
	ok_from = qnum(err, "from", server_query(req, "from"), &q->from) >= 0;
	ok_to = qnum(err, "to", server_query(req, "to"), &q->to) >= 0;
	ok_step = qnum(err, "step", server_query(req, "step"), &q->step) >= 0;
	if (qnum(err, "cascade_threshold_bps",
	        server_query(req, "cascade_threshold_bps"),
	        &q->threshold) >= 0 &&
	    !(q->threshold > 0 && q->threshold <= 1e6))
		qerr(err, "cascade_threshold_bps", "must be in (0, 1e6]");
	if (ok_step && !(q->step > 0)) {
		qerr(err, "step", "must be > 0");
		ok_step = 0;
	}
	if (ok_from && !(1 + q->from > 0)) {
		qerr(err, "from",
		    "1 + from must be > 0 (a shock of -100% or "
		    "more has no price)");
		ok_from = 0;
	}
	if (ok_to && !(1 + q->to > 0)) {
		qerr(err, "to",
		    "1 + to must be > 0 (a shock of -100% or "
		    "more has no price)");
		ok_to = 0;
	}
	if (ok_from && ok_to &&
	    (q->dir == LC_DOWN ? q->to > q->from : q->to < q->from)) {
		qerr(err, "to",
		    q->dir == LC_DOWN ? "must be <= from for "
		                        "direction down"
		                      : "must be >= from for direction up");
		ok_to = 0;
	}
	if (ok_from && ok_to && ok_step) {
		span = fabs(q->to - q->from);
		ratio = span / q->step + 1e-9;
		if (!(ratio < (double)MAX_CASCADE_POINTS)) {
			qerr(err, "step", "gives more than 1001 points");
		} else {
			q->n = (size_t)floor(ratio);
			sgn = q->to >= q->from ? 1.0 : -1.0;
			last = q->from + (double)q->n * q->step * sgn;
			q->append_to = fabs(last - q->to) > 1e-9 * q->step;
			q->npoints = q->n + 1 + (q->append_to ? 1 : 0);
			if (q->npoints > MAX_CASCADE_POINTS)
				qerr(err, "step",
				    "gives more than 1001 "
				    "points");
		}
	}
	if (err->nerrors > 0) {
		problem_set(err, 422, "validation", "Unprocessable request",
		    "%zu query parameter(s) break the contract (see errors)",
		    err->nerrors);
		return -1;
	}
	return 0;
}

static void
point_json(struct codec_buf *b, const struct lc_cascade_point *pt)
{
	codec_buf_begin(b, '{');
	codec_buf_key(b, "shock");
	codec_buf_num(b, pt->shock);
	codec_buf_key(b, "shocked_price");
	codec_buf_num(b, pt->shocked_price);
	codec_buf_key(b, "final_price");
	codec_buf_num(b, pt->final_price);
	codec_buf_key(b, "endogenous_bps");
	codec_buf_num(b, pt->endogenous_bps);
	codec_buf_key(b, "fired");
	codec_buf_int(b, (int64_t)pt->fired);
	codec_buf_key(b, "volume");
	codec_buf_num(b, pt->volume);
	codec_buf_key(b, "volume_quote");
	codec_buf_num(b, pt->volume_quote);
	codec_buf_end(b, '}');
}

static void
get_cascade(struct server_request *req, struct server_response *res)
{
	struct snapshot *snap = current(req, res);
	const char *asset = server_param(req, "asset");
	const struct snapshot_asset *sa;
	const struct lc_asset_market *am;
	const struct lc_levels *lv;
	const struct lc_curve *curve;
	struct cascade_query q;
	struct lc_cascade c;
	struct lc_cascade_point pt;
	struct codec_warnings w;
	struct codec_buf b;
	struct problem err;
	double *price = NULL, *qty = NULL, tp, sgn, s, P;
	size_t k, m = 0, nstale = 0, kstar;
	enum lc_status st;
	char *body;
	long i;

	lc_cascade_init(&c);
	codec_warnings_init(&w);
	problem_init(&err);
	memset(&q, 0, sizeof(q));
	if (snap == NULL)
		goto out;
	i = find_stored(snap, asset);
	if (i < 0) {
		server_respond_error(res, 404, "not-found", "unknown asset %s",
		    asset);
		goto out;
	}
	if (cascade_query(req, &q, &err) != 0) {
		server_respond_problem(res, &err, req->path);
		goto out;
	}
	sa = &snap->assets[i];
	am = &snap->lc_assets[i];
	P = am->price;
	lv = &am->levels[q.dir];
	curve = &am->curve[q.dir == LC_DOWN ? LC_BID : LC_ASK];
	price = malloc((lv->n + 1) * sizeof(*price));
	qty = malloc((lv->n + 1) * sizeof(*qty));
	if (price == NULL || qty == NULL)
		goto nomem;
	/* stored levels only, in cascade order, without the stale ones */
	for (k = 0; k < lv->n; k++) {
		if (q.dir == LC_DOWN ? lv->price[k] >= P : lv->price[k] <= P) {
			nstale++;
			continue;
		}
		price[m] = lv->price[k];
		qty[m] = lv->qty[k];
		m++;
	}
	st = lc_cascade_build(&c, q.dir, curve, 1.0, price, qty, m);
	if (st == LC_ENOMEM)
		goto nomem;
	if (st != LC_OK) {
		server_respond_error(res, 500, "internal",
		    "the cascade of %s "
		    "could not be built (%s)",
		    asset, lc_status_str(st));
		goto out;
	}
	if (nstale > 0)
		codec_warnings_add(&w, "stale_levels", sa->symbol, NULL,
		    (int64_t)nstale, NULL,
		    "%zu stored %s level(s) have "
		    "already fired at the price %.17g and are ignored",
		    nstale, q.dir == LC_DOWN ? "sell" : "buy", P);
	if (curve->n == 0 && sa->vol > 0)
		codec_warnings_add(&w, "missing_depth", sa->symbol,
		    q.dir == LC_DOWN ? "bid" : "ask", -1, NULL,
		    "%s has no %s "
		    "depth: forced %s move the price by 0 bps",
		    sa->symbol, q.dir == LC_DOWN ? "bid" : "ask",
		    q.dir == LC_DOWN ? "sales" : "purchases");
	codec_buf_init(&b, 256 + 200 * q.npoints);
	codec_buf_begin(&b, '{');
	codec_buf_key(&b, "asset");
	codec_buf_str(&b, sa->symbol);
	codec_buf_key(&b, "direction");
	codec_buf_str(&b, q.dir == LC_DOWN ? "down" : "up");
	codec_buf_key(&b, "price");
	codec_buf_num(&b, P);
	codec_buf_key(&b, "cascade_threshold_bps");
	codec_buf_num(&b, q.threshold);
	codec_buf_key(&b, "cascade_trigger_price");
	if (lc_cascade_trigger(&c, q.threshold, &tp, &kstar) == 0)
		codec_buf_num(&b, tp);
	else
		codec_buf_null(&b);
	codec_buf_key(&b, "levels");
	codec_buf_int(&b, (int64_t)m);
	codec_buf_key(&b, "points");
	codec_buf_begin(&b, '[');
	sgn = q.to >= q.from ? 1.0 : -1.0;
	for (k = 0; k <= q.n; k++) {
		s = q.from + (double)k * q.step * sgn;
		lc_cascade_point(&c, P, s, &pt);
		point_json(&b, &pt);
	}
	if (q.append_to) {
		lc_cascade_point(&c, P, q.to, &pt);
		point_json(&b, &pt);
	}
	codec_buf_end(&b, ']');
	codec_buf_warnings(&b, &w);
	codec_buf_end(&b, '}');
	body = codec_buf_take(&b);
	if (body == NULL)
		goto nomem;
	server_respond(res, 200, "application/json", body, strlen(body));
	goto out;
nomem:
	server_respond_error(res, 503, "unavailable", "out of memory");
out:
	free(price);
	free(qty);
	lc_cascade_release(&c);
	codec_warnings_release(&w);
	problem_release(&err);
	snapshot_unref(snap);
}

#define W (SERVER_ROUTE_BODY | SERVER_ROUTE_AUTH)
const struct server_route handlers_market_routes[] = {
	{ "GET", "/v1/markets", get_markets, 0 },
	{ "GET", "/v1/markets/{asset}", get_market, 0 },
	{ "PUT", "/v1/markets/{asset}", put_market, W },
	{ "DELETE", "/v1/markets/{asset}", delete_market, SERVER_ROUTE_AUTH },
	{ "PUT", "/v1/markets/{asset}/depth/{venue}", put_depth, W },
	{ "DELETE", "/v1/markets/{asset}/depth/{venue}", delete_depth,
	    SERVER_ROUTE_AUTH },
	{ "PUT", "/v1/markets/{asset}/liquidations", put_levels, W },
	{ "POST", "/v1/markets/{asset}/liquidations", post_levels, W },
	{ "GET", "/v1/markets/{asset}/cascade", get_cascade, 0 },
	{ "PUT", "/v1/correlations", put_corr, W },
	{ "POST", "/v1/correlations", post_corr, W },
};
#undef W
const size_t handlers_market_nroutes =
    sizeof(handlers_market_routes) / sizeof(handlers_market_routes[0]);

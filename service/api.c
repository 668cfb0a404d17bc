/*
 * api.c - the answers, the writer state and the write transaction of the
 * use-case layer (api.h, api_int.h); the use cases themselves live in
 * api_score.c, api_markets.c and api_cascade.c.
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
 * The writes as data (api.h): api_writes[] names each write use case by
 * method and route; api_write() runs one in place or, with a relay (the
 * bus), validates it (a dry run stopped by wtx_validated() before the
 * store) and hands it over; api_write_apply() runs one taken from the bus
 * with its sequence stamped on the store transaction.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "log.h"
#include "store.h"

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
api_not_found(struct api_answer *a, const char *asset)
{
	problem_set(&a->err, 404, "not-found", "Not found", "unknown asset %s",
	    asset != NULL ? asset : "");
	a->status = 404;
}

void
api_fail_field(struct api_answer *a, const char *pointer, const char *detail)
{
	problem_add(&a->err, pointer, "%s", detail);
	problem_set(&a->err, 422, "validation", "Unprocessable request", "%s",
	    detail);
	a->status = 422;
}

int
api_oom(struct api_answer *a)
{
	problem_set(&a->err, 503, "unavailable", "Service unavailable",
	    "out of memory");
	a->status = 503;
	return 503;
}

static void
store_problem(struct app *app, struct api_answer *a, enum store_status st,
    const char *what)
{
	int http = store_status_http(st);

	if (http >= 500 && app->hooks != NULL &&
	    app->hooks->write_failed != NULL)
		app->hooks->write_failed();
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

/* ---- path segments and reads ---------------------------------------- */

int
api_valid_symbol(const char *s)
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

int
api_valid_venue(const char *s)
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

long
api_find_stored(const struct snapshot *snap, const char *sym)
{
	long i;

	if (snap == NULL || !api_valid_symbol(sym))
		return -1;
	i = snapshot_find(snap, sym);
	if (i < 0 || snap->assets[i].implicit)
		return -1;
	return i;
}

struct snapshot *
api_current(struct app *app, struct api_answer *a)
{
	struct snapshot *s;

	s = app->cell != NULL ? snapshot_cell_get(app->cell) : NULL;
	if (s == NULL) {
		problem_set(&a->err, 503, "not-ready", "Service unavailable",
		    "no market snapshot is loaded");
		a->retry_after = 1;
		a->status = 503;
	}
	return s;
}

/* ---- writer state --------------------------------------------------- */

/*
 * Load the store and build a snapshot; publish it when `publish`.
 * Returns a new reference (the caller unrefs) or NULL with *st set.
 */
static struct snapshot *
load_snapshot(struct app *app, int publish, uint64_t version,
    enum store_status *st)
{
	struct market_data md;
	struct snapshot *s = NULL;
	double rho = app->cfg != NULL ? app->cfg->default_correlation : 0.0;

	market_data_init(&md);
	*st = store_load(app->store, &md);
	if (*st != STORE_OK)
		goto out;
	/* price history: the estimators of every asset (api_prices.c) */
	if (api_vol_decorate(app, &md, NULL, 1) != 0) {
		*st = STORE_NOMEM;
		goto out;
	}
	if (snapshot_build(&md, rho, &s) != 0) {
		*st = STORE_NOMEM;
		goto out;
	}
	api_books_stale(app);	/* the books are read again too */
	if (version != 0)
		s->version = version;
	/* books: their derived levels merged in, then published */
	if (api_books_sync(app, s, publish) != 0)
		log_msg(LOG_LVL_ERROR, "books: derived levels not merged");
out:
	market_data_release(&md);
	return s;
}

int
api_app_init(struct app *app)
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
	w->vol = api_vol_open(app->cfg);
	if (w->vol == NULL) {
		api_app_release(app);
		goto fail;
	}
	s = load_snapshot(app, 1, 0, &st);
	if (s == NULL) {
		log_kv(LOG_LVL_ERROR, "cannot load the market data", "error",
		    store_status_str(st), (const char *)NULL);
		api_app_release(app);
		return -1;
	}
	snapshot_unref(s);
	return 0;
fail:
	log_msg(LOG_LVL_ERROR, "api: out of memory");
	return -1;
}

void
api_app_release(struct app *app)
{
	if (app == NULL || app->writer == NULL)
		return;
	api_books_free(app);
	snapshot_cell_release(&app->writer->cell);
	api_vol_free(app->writer->vol);
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
    uint64_t version, struct api_answer *a)
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
		s = load_snapshot(app, 1, version, &st);
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
	if (api_vol_decorate(app, &md, symbol, full) != 0) {
		st = STORE_NOMEM;
		goto out;
	}
	/* full: another process wrote too (cascaded import): rebuild all */
	rc = full ? snapshot_build(&md, rho, &s)
	          : snapshot_update(cur, symbol, &md, lv, &s);
	if (rc != 0) {
		st = STORE_NOMEM;
		goto out;
	}
	if (full)
		api_books_stale(app);
	if (version != 0)
		s->version = version;
	/* books: re-derive what the new prices moved, merge, publish */
	if (api_books_sync(app, s, 1) != 0)
		log_msg(LOG_LVL_ERROR, "books: derived levels not merged");
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

/* ---- write transactions --------------------------------------------- */

void
wtx_init(struct wtx *t, const struct api_wcall *c)
{
	t->app = c->app;
	t->call = c;
	t->snap = t->ns = NULL;
	t->locked = 0;
}

int
wtx_validated(struct wtx *t, struct api_answer *a)
{
	if (!t->call->dry)
		return 0;
	a->status = 0;
	return 1;
}

struct snapshot *
wtx_lock(struct wtx *t)
{
	pthread_mutex_lock(&t->app->writer->mu);
	t->locked = 1;
	t->snap = snapshot_cell_get(t->app->cell);
	return t->snap;
}

long
wtx_asset(struct wtx *t, const char *asset, struct api_answer *a)
{
	long i = api_find_stored(t->snap, asset);

	if (i < 0)
		api_not_found(a, asset);
	return i;
}

int
wtx_commit(struct wtx *t, enum store_status st, const char *what,
    const char *symbol, enum snapshot_level_mode lv, struct api_answer *a)
{
	if (st != STORE_OK) {
		store_problem(t->app, a, st, what);
		return -1;
	}
	t->ns = republish(t->app, symbol, lv, t->call->seq, a);
	return t->ns != NULL ? 0 : -1;
}

int
wtx_commit_store(struct wtx *t, enum store_status st, const char *what,
    struct api_answer *a)
{
	if (st == STORE_OK)
		return 0;
	store_problem(t->app, a, st, what);
	return -1;
}

void
wtx_answer(struct api_answer *a, int ok, int status)
{
	if (!ok || a->body == NULL)
		api_oom(a);
	else
		a->status = status;
}

int
wtx_end(struct wtx *t, struct api_answer *a)
{
	if (t->locked)
		pthread_mutex_unlock(&t->app->writer->mu);
	snapshot_unref(t->ns);
	snapshot_unref(t->snap);
	return a->status;
}

/* ---- writes as data ------------------------------------------------- */

/* One line per write route (api.h says how to add one). */
const struct api_write api_writes[] = {
	{ "PUT", "/v1/markets/{asset}", api_w_put_asset },
	{ "DELETE", "/v1/markets/{asset}", api_w_delete_asset },
	{ "PUT", "/v1/markets/{asset}/depth/{venue}", api_w_put_depth },
	{ "DELETE", "/v1/markets/{asset}/depth/{venue}", api_w_delete_venue },
	{ "PUT", "/v1/markets/{asset}/liquidations", api_w_put_levels },
	{ "POST", "/v1/markets/{asset}/liquidations", api_w_post_levels },
	{ "PUT", "/v1/correlations", api_w_put_correlations },
	{ "POST", "/v1/correlations", api_w_post_correlations },
	{ "POST", "/v1/markets/{asset}/prices", api_w_post_prices },
	{ "PUT", "/v1/books/{book}", api_w_put_book },
	{ "POST", "/v1/books/{book}/positions", api_w_post_book_positions },
	{ "DELETE", "/v1/books/{book}/positions/{id}",
	    api_w_delete_book_position },
	{ "DELETE", "/v1/books/{book}", api_w_delete_book },
};
const size_t api_nwrites = sizeof(api_writes) / sizeof(api_writes[0]);

const struct api_write *
api_write_find(const char *method, const char *route)
{
	size_t i;

	for (i = 0; i < api_nwrites; i++)
		if (strcmp(api_writes[i].method, method) == 0 &&
		    strcmp(api_writes[i].route, route) == 0)
			return &api_writes[i];
	return NULL;
}

int
api_write(struct app *app, const char *method, const char *route,
    const char *p0, const char *p1, const char *body, size_t len,
    struct api_answer *ans)
{
	const struct api_write *w = api_write_find(method, route);
	struct api_wcall c;

	if (w == NULL) {
		problem_set(&ans->err, 500, "internal", "Internal server error",
		    "no write use case for %s %s", method, route);
		return ans->status = 500;
	}
	memset(&c, 0, sizeof(c));
	c.app = app;
	c.param[0] = p0;
	c.param[1] = p1;
	c.body = body != NULL ? body : "";
	c.len = body != NULL ? len : 0;
	if (app->relay == NULL)
		return w->run(&c, ans);
	c.dry = 1;
	if (w->run(&c, ans) != 0)
		return ans->status;	/* invalid: never reaches the bus */
	c.dry = 0;
	return app->relay->submit(app->relay->ctx, w, &c, ans);
}

int
api_write_apply(const struct api_write *w, const struct api_wcall *c,
    struct api_answer *ans)
{
	struct store *st = c->app->store;

	store_bus_stamp(st, c->seq);
	if (w->run(c, ans) >= 500) {
		store_bus_stamp(st, 0);
		return ans->status;
	}
	/* a refused write (404, 422) is an outcome: record it alone */
	if (store_bus_record(st) != STORE_OK) {
		store_bus_stamp(st, 0);
		api_answer_release(ans);
		problem_set(&ans->err, 503, "unavailable",
		    "Service unavailable", "the bus position could not be "
		    "recorded");
		ans->retry_after = 1;
		return ans->status = 503;
	}
	return ans->status;
}

int
api_reload(struct app *app, uint64_t version)
{
	struct snapshot *s;
	enum store_status st;

	pthread_mutex_lock(&app->writer->mu);
	s = load_snapshot(app, 1, version, &st);
	pthread_mutex_unlock(&app->writer->mu);
	if (s == NULL) {
		log_kv(LOG_LVL_ERROR, "cannot reload the market data", "error",
		    store_status_str(st), (const char *)NULL);
		return -1;
	}
	snapshot_unref(s);
	return 0;
}

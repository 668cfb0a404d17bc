/*
 * api.h - the use cases of the service, transport-neutral: scoring
 * (POST /v1/score), the market reads and the market writes.  Its callers
 * are the HTTP handlers (handlers_*.c), the `cascaded score` / `cascaded
 * import` subcommands (cli.c) and the fuzz targets; it knows no HTTP
 * server.  Each use case decodes and validates its input (codec), runs the
 * model or the write, and returns a struct api_answer: a JSON body or a
 * problem, with what a transport needs to send it (status, Location,
 * Retry-After, ETag).
 *
 * Market data flows one way at write time: body -> codec (validated in
 * full, nothing touches the database on a bad request) -> one store
 * transaction -> a reload of what the write touched -> snapshot_update ->
 * snapshot_cell_publish.  One writer mutex (struct api_writer) covers the
 * whole sequence, so the snapshots are published in commit order and a
 * write always decodes against the snapshot of the previous commit.
 * Readers (scoring, the reads) take a snapshot reference from the cell and
 * never touch SQL or the writer mutex.  When the store write fails nothing
 * is published: the answer is the store's problem (404 not found, 422
 * constraint, 503 I/O, read-only, busy or out of memory, 500 otherwise).
 *
 * Ownership: struct api_answer owns its body and problem; release it with
 * api_answer_release().  Every other input is borrowed.  Functions taking
 * a struct app need api_app_init() to have succeeded on it.
 */
#ifndef CASCADED_API_H
#define CASCADED_API_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "codec.h"
#include "problem.h"
#include "snapshot.h"

struct api_books;

/* Writer state of an app: the snapshot cell and the writer mutex. */
struct api_writer {
	pthread_mutex_t mu;
	struct snapshot_cell cell;
	struct api_books *books;	/* api_books.c; NULL until loaded */
	struct api_vol *vol;	/* price-history estimators (api_prices.c) */
};

/*
 * What the use cases report as they run (app->hooks; the server counts
 * them for GET /metrics).  Any member may be NULL, and so may app->hooks.
 */
struct api_hooks {
	/* one scoring, model and encoding, by method */
	void (*scored)(int monte_carlo, int64_t duration_us);
	/* a market write the database refused or failed (status >= 500) */
	void (*write_failed)(void);
};

/*
 * Create app->writer and app->cell and publish the first snapshot from
 * app->store (which must be open).  0, or -1 (logged).
 */
int api_app_init(struct app *app);
/* Drop the snapshot and free the writer state; safe when never inited. */
void api_app_release(struct app *app);

/* What a use case answers: a JSON body or a problem. */
struct api_answer {
	int status;		/* HTTP status; 304: the caller's copy is current */
	char *body;		/* JSON text when status < 400 (NULL with 304) */
	struct problem err;	/* the problem when status >= 400 */
	char location[256];	/* Location of a created resource, "" */
	char etag[24];		/* entity tag of the body (reads), "" */
	int retry_after;	/* Retry-After seconds (503), 0 none */
	/* the body's media type (static string); NULL: application/json */
	const char *content_type;
};

void api_answer_init(struct api_answer *a);
void api_answer_release(struct api_answer *a);
/* The answer's text: body, or the rendered problem (malloc'd; NULL ENOMEM). */
char *api_answer_text(const struct api_answer *a);

/* ---- scoring -------------------------------------------------------- */

/* Score limits of docs/model.md 7 from the configuration (cfg may be NULL). */
void api_score_limits(const struct config *cfg, struct codec_limits *lim);

/* A decoded score request that needs Monte Carlo, with its snapshot. */
struct api_score_job;

/* How api_score() runs a request. */
struct api_score_opts {
	/*
	 * NULL: every request is scored in the call.  Else a request that
	 * needs Monte Carlo is handed to defer(ctx, job) instead: the job is
	 * defer's from then on (it runs api_score_job_run() where it likes,
	 * then api_score_job_free()), and api_score() returns API_DEFERRED
	 * with *ans untouched.
	 */
	void (*defer)(void *ctx, struct api_score_job *job);
	void *ctx;
};

#define API_DEFERRED 0

/*
 * POST /v1/score against app's current snapshot, with the limits of
 * app->cfg: decode, lc_score, encode.  Returns the HTTP status with the
 * answer in *ans (initialised by the caller), or API_DEFERRED (opts).
 * opts may be NULL.
 */
int api_score(struct app *app, const char *body, size_t len,
    const struct api_score_opts *opts, struct api_answer *ans);
/*
 * Score a deferred job with `threads` Monte Carlo threads (0: the
 * limits'); the answer does not depend on the count.  Returns the status.
 */
int api_score_job_run(struct api_score_job *job, unsigned threads,
    struct api_answer *ans);
/* Free a job (NULL is a no-op). */
void api_score_job_free(struct api_score_job *job);

/* ---- market reads --------------------------------------------------- */

/*
 * GET /v1/markets (the listing) and GET /v1/markets/{asset}.  The answer
 * carries an entity tag; if_none_match (the client's If-None-Match list,
 * RFC 9110 13.1.2 with weak comparison; NULL when absent) naming it gives
 * 304 without a body.  The listing's tag is the snapshot's content tag
 * with its version (the listing shows the version), so a 304 needs no
 * encoding; a market's tag is a hash of its body, stable across writes to
 * other assets and across restarts.
 */
int api_get_markets(struct app *app, const char *if_none_match,
    struct api_answer *ans);
int api_get_market(struct app *app, const char *asset,
    const char *if_none_match, struct api_answer *ans);

/* One query parameter (name and value as received; value "" for "?x"). */
struct api_param {
	const char *name;
	const char *value;
};

/*
 * GET /v1/markets/{asset}/cascade: the cascade curve of the asset's
 * stored, not stale levels.  query: the n query parameters in request
 * order (direction, from, to, step, cascade_threshold_bps; anything else,
 * or one given twice, is 422 at /query/<name>).
 */
int api_get_cascade(struct app *app, const char *asset,
    const struct api_param *query, size_t n, struct api_answer *ans);

/* ---- charts (api_charts.c) ---------------------------------------- */

/*
 * The pictures of docs/model.md section 10, as SVG documents drawn from
 * the numbers the JSON routes answer (chart.h draws, nothing is computed
 * twice).  Each takes the chart parameters width, height (200..4000 px)
 * and theme (light, dark) besides its own; a bad one is 422 with
 * /query/<name>.  The answer: content_type "image/svg+xml", an ETag that
 * is a hash of the bytes, 304 when if_none_match names it.
 *
 * cascade.svg: api_get_cascade's query (and evaluation) plus the chart's.
 * liquidations.svg: range (0, 1], default 0.5; bins 1..500, default 50.
 * The position picture: a POST /v1/score body with exactly one position
 * (else 422 at /positions), scored by api_score's decoder and model at
 * its horizon and at API_CHART_NHORIZONS horizons for the curve.
 */
#define API_CHART_NHORIZONS 6
extern const double api_chart_horizons[API_CHART_NHORIZONS];
#define API_SVG_TYPE "image/svg+xml"

int api_get_cascade_svg(struct app *app, const char *asset,
    const struct api_param *query, size_t n, const char *if_none_match,
    struct api_answer *ans);
int api_get_liquidations_svg(struct app *app, const char *asset,
    const struct api_param *query, size_t n, const char *if_none_match,
    struct api_answer *ans);
/*
 * risk.svg: api_get_book_risk's query and answer (read back from its
 * JSON, the book's as_of from api_get_books) plus the chart's; its 404s
 * and 422s as it gives them.  A book with no position exposed to the
 * asset in the direction renders that reason.
 */
int api_get_book_risk_svg(struct app *app, const char *book,
    const struct api_param *query, size_t n, const char *if_none_match,
    struct api_answer *ans);
int api_score_svg(struct app *app, const char *body, size_t len,
    const struct api_param *query, size_t n, const char *if_none_match,
    struct api_answer *ans);

/* ---- market writes -------------------------------------------------- */

/*
 * asset / venue are the path segments (validated here: symbol 1-16 of A-Z
 * 0-9 . _ -, venue 1-64 of A-Z a-z 0-9 . _ -).  Each returns the HTTP
 * status and fills *ans.
 */
int api_put_asset(struct app *app, const char *asset, const char *body,
    size_t len, struct api_answer *ans);
int
api_delete_asset(struct app *app, const char *asset, struct api_answer *ans);
int api_put_depth(struct app *app, const char *asset, const char *venue,
    const char *body, size_t len, struct api_answer *ans);
int api_delete_venue(struct app *app, const char *asset, const char *venue,
    struct api_answer *ans);
int api_put_levels(struct app *app, const char *asset, const char *body,
    size_t len, int append, struct api_answer *ans);
int api_put_correlations(struct app *app, const char *body, size_t len,
    int replace, struct api_answer *ans);

/* ---- books ------------------------------------------------------------ */

/*
 * docs/model.md section 8.  book is the path segment (1-64 of a-z 0-9 .
 * _ -, else 422 at /path/book).  PUT replaces (201 when it creates),
 * upsert (POST .../positions) inserts or updates by id (404 unknown
 * book); the deletes 404 when there is nothing to delete.  The reads:
 * the listing, one book's summary, the book under a shock (query:
 * asset, direction, from, to, step, cascade_threshold_bps, horizon_days,
 * tail_dof) and its positions by risk (sort, limit, offset,
 * horizon_days, tail_dof).
 */
int api_put_book(struct app *app, const char *book, const char *body,
    size_t len, int upsert, struct api_answer *ans);
int api_delete_book_position(struct app *app, const char *book,
    const char *id, struct api_answer *ans);
int api_delete_book(struct app *app, const char *book,
    struct api_answer *ans);
int api_get_books(struct app *app, struct api_answer *ans);
int api_get_book(struct app *app, const char *book, struct api_answer *ans);
int api_get_book_risk(struct app *app, const char *book,
    const struct api_param *query, size_t n, struct api_answer *ans);
/*
 * Free the scratch that risk queries keep for the next one (at most two,
 * sized by the largest query each served); the next query makes a new
 * one.  The allocation-failure tests call it to account for every block.
 */
void api_books_trim(struct app *app);
int api_get_book_positions(struct app *app, const char *book,
    const struct api_param *query, size_t n, struct api_answer *ans);

/* ---- books: simulate (api_books_sim.c) */

/*
 * POST /v1/books/{book}/simulate (docs/books.md, docs/model.md 8.4): the
 * body (score options) is decoded and the book taken in the call (422,
 * 404, 503 answered there); the Monte Carlo run is a job handed to
 * opts->defer like a score's (api_books_sim returns API_DEFERRED, the
 * job is defer's), or run in the call when opts is NULL.
 */
struct api_sim_job;
struct api_sim_opts {
	void (*defer)(void *ctx, struct api_sim_job *job);
	void *ctx;
};
int api_books_sim(struct app *app, const char *book, const char *body,
    size_t len, const struct api_sim_opts *opts, struct api_answer *ans);
int api_sim_job_run(struct api_sim_job *job, unsigned threads,
    struct api_answer *ans);
void api_sim_job_free(struct api_sim_job *job);

/* ---- price history (api_prices.c) ------------------------------------ */

/*
 * POST /v1/markets/{asset}/prices (codec_prices.c has the forms and
 * rules): upsert the candles with the retention cut and set the market's
 * volatility_source to history unless it is pinned, in one store
 * transaction; update the asset's estimators (O(new candles) when the
 * write extends the history, else a rebuild from the store) and publish.
 * 200 {"asset", "form", "received", "stored", "first", "last",
 * "deleted_by_retention", "volatility_source", "history": {"ewma",
 * "long_run", "returns"}}.
 */
int api_post_prices(struct app *app, const char *asset, const char *body,
    size_t len, struct api_answer *ans);
/*
 * The same write with candles in memory (`cascaded import --prices`):
 * the same rules (pointers /candles/i/k), sorted in place, the last of
 * equal times winning; no entry-count cap.
 */
int api_post_candles(struct app *app, const char *asset,
    struct lc_candle *c, size_t n, struct api_answer *ans);
/*
 * GET /v1/markets/{asset}/prices?from&to&limit: the candles with from <=
 * t <= to (unix seconds or RFC 3339; default all) in time order, at most
 * limit (default and maximum CODEC_MAX_PRICES_LIMIT; "truncated" says
 * more exist).
 */
int api_get_prices(struct app *app, const char *asset,
    const struct api_param *query, size_t n, struct api_answer *ans);

/* ---- market writes as data (bus.h carries them between replicas) ---- */

/*
 * Every market write is one entry of api_writes[] (api.c): an HTTP
 * method, a route pattern and the use case, which takes the path
 * parameters and the body as one struct api_wcall.  The public functions
 * above call api_write(), which runs the entry in place, or, when a relay
 * is set (app->relay: the bus), validates it against the current snapshot
 * (a dry run that stops before the store) and hands (method, route,
 * parameters, body) to the relay, whose replicas each run it with
 * api_write_apply() in the order the bus assigned.
 *
 * To carry a new write route: write its use case as
 *   int api_w_NAME(const struct api_wcall *c, struct api_answer *ans)
 * taking its parameters from c (wtx_init(&t, c)), call
 *   if (wtx_validated(&t, ans)) goto out;
 * once the input is decoded and checked and before the store, declare it
 * in api_int.h and add its line to api_writes[] in api.c.
 */
struct api_wcall {
	struct app *app;
	const char *param[2];	/* path parameters in route order, NULL */
	const char *body;	/* the request body (not NUL-terminated) */
	size_t len;
	int dry;		/* validate only: answer status 0 if valid */
	uint64_t seq;		/* bus sequence this apply records, 0 none */
};

struct api_write {
	const char *method;	/* "PUT", "POST", "DELETE" */
	const char *route;	/* "/v1/markets/{asset}/depth/{venue}" */
	int (*run)(const struct api_wcall *c, struct api_answer *ans);
};

extern const struct api_write api_writes[];
extern const size_t api_nwrites;

/* The entry of method and route, or NULL. */
const struct api_write *api_write_find(const char *method, const char *route);

/*
 * Where the writes go instead of the local store when a bus is
 * configured: submit() gets a write that passed validation and fills
 * *ans with the answer of its application on this replica (or a 503).
 */
struct api_relay {
	int (*submit)(void *ctx, const struct api_write *w,
	    const struct api_wcall *c, struct api_answer *ans);
	void *ctx;
};

/*
 * Run the write (method, route) with path parameters p0, p1 (NULL when
 * the route has fewer) and the body: in place without app->relay, else
 * validated here and submitted.  Returns the status with *ans.
 */
int api_write(struct app *app, const char *method, const char *route,
    const char *p0, const char *p1, const char *body, size_t len,
    struct api_answer *ans);

/*
 * Apply a write taken from the bus: the same use case, recording c->seq
 * as applied in the store transaction of the write (or alone when the
 * write changed nothing: a 404 or 422 is an outcome too).  The snapshot
 * then published carries c->seq as its version.  A status >= 500 means
 * nothing was recorded (retry), unless store_bus_seq() says otherwise.
 */
int api_write_apply(const struct api_write *w, const struct api_wcall *c,
    struct api_answer *ans);

/*
 * Reload everything from the store and publish it with `version` (the bus
 * sequence it includes).  0, or -1 (logged; the old snapshot stays).
 */
int api_reload(struct app *app, uint64_t version);

#endif

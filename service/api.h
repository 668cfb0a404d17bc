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
};

void api_answer_init(struct api_answer *a);
void api_answer_release(struct api_answer *a);
/* The answer's text: body, or the rendered problem (malloc'd; NULL ENOMEM). */
char *api_answer_text(const struct api_answer *a);

/* ---- scoring -------------------------------------------------------- */

/* Score limits of SPEC 7 from the configuration (cfg may be NULL). */
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
int api_get_book_positions(struct app *app, const char *book,
    const struct api_param *query, size_t n, struct api_answer *ans);

#endif

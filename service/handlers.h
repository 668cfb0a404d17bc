/*
 * handlers.h - the REST API of SPEC 7 (POST /v1/score, the market-data
 * endpoints, GET /openapi.json) and the write path the HTTP handlers and
 * the `cascaded import` / `cascaded score` subcommands share.
 *
 * Market data flows one way at write time: body -> codec (validated in
 * full, nothing touches the database on a bad request) -> one store
 * transaction -> store_load -> snapshot_build -> snapshot_cell_publish.
 * One writer mutex (struct api_writer) covers the whole sequence, so the
 * snapshots are published in commit order and a write always decodes
 * against the snapshot of the previous commit.  Readers (scoring, GET)
 * take a snapshot reference from the cell and never touch SQL or the
 * writer mutex.  When the store write fails nothing is published: the
 * answer is the store's problem (404 not found, 422 constraint, 503 I/O,
 * read-only, busy or out of memory, 500 otherwise).
 *
 * Ownership: struct api_answer owns its body and problem; release it with
 * api_answer_release().  Every other input is borrowed.  Functions taking
 * a struct app need handlers_app_init() to have succeeded on it.
 */
#ifndef CASCADED_HANDLERS_H
#define CASCADED_HANDLERS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "app.h"
#include "codec.h"
#include "problem.h"
#include "server.h"
#include "snapshot.h"

/* Writer state of an app: the snapshot cell and the writer mutex. */
struct api_writer {
	pthread_mutex_t mu;
	struct snapshot_cell cell;
};

/*
 * Create app->writer and app->cell and publish the first snapshot from
 * app->store (which must be open).  0, or -1 (logged).
 */
int handlers_app_init(struct app *app);
/* Drop the snapshot and free the writer state; safe when never inited. */
void handlers_app_release(struct app *app);

/* What an API operation answers: a JSON body or a problem. */
struct api_answer {
	int status; /* HTTP status */
	char *body; /* JSON text when status < 400 */
	struct problem err; /* the problem when status >= 400 */
	char location[256]; /* Location of a created resource, "" */
	int retry_after; /* Retry-After seconds (503), 0 none */
};

void api_answer_init(struct api_answer *a);
void api_answer_release(struct api_answer *a);
/* The answer's text: body, or the rendered problem (malloc'd; NULL ENOMEM). */
char *api_answer_text(const struct api_answer *a);
/* Send an answer as the HTTP response (takes over a->body). */
void api_answer_respond(struct api_answer *a, struct server_response *res,
    const char *instance);

/* Score limits of SPEC 7 from the configuration (cfg may be NULL). */
void api_score_limits(const struct config *cfg, struct codec_limits *lim);
/*
 * POST /v1/score against `snap`: decode, lc_score, encode.  Returns the
 * HTTP status, with the answer in *ans (initialised by the caller).
 */
int api_score(const struct snapshot *snap, const struct codec_limits *lim,
    const char *body, size_t len, struct api_answer *ans);

/*
 * The market writes.  asset / venue are the path segments (validated
 * here: symbol 1-16 of A-Z 0-9 . _ -, venue 1-64 of A-Z a-z 0-9 . _ -).
 * Each returns the HTTP status and fills *ans.
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

/* Route tables (main.c registers them). */
extern const struct server_route handlers_score_routes[];
extern const size_t handlers_score_nroutes;
extern const struct server_route handlers_market_routes[];
extern const size_t handlers_market_nroutes;
/* handlers_ops.c: /healthz /readyz /version /metrics /openapi.json */
extern const struct server_route handlers_ops_routes[];
extern const size_t handlers_ops_nroutes;
/*
 * The GET /metrics text: the counters of metrics.c, then the pool and
 * snapshot families (each left out when NULL); malloc'd, NULL on ENOMEM.
 */
struct pool_stats;
char *handlers_ops_metrics(const struct pool_stats *pool,
    const struct snapshot *snap, int64_t now_epoch);

#endif

/*
 * api_int.h - what the api_*.c files share and nothing else includes:
 * the answers' common problems, the path-segment rules, the current
 * snapshot of a read and the write transaction.
 *
 * A write has the same shape on every route: the writer mutex held from
 * wtx_lock() to wtx_end(), the snapshot current when the lock was taken
 * (snap), and the one wtx_commit() published (ns).  wtx_end() releases
 * what was taken and returns the answer's status.
 */
#ifndef CASCADED_API_INT_H
#define CASCADED_API_INT_H

#include "api.h"
#include "cascade/cascade.h"

/* 404 "unknown asset <asset>". */
void api_not_found(struct api_answer *a, const char *asset);
/* One field error (pointer) with a 422 validation problem. */
void api_fail_field(struct api_answer *a, const char *pointer,
    const char *detail);
/* 503 "out of memory"; returns 503. */
int api_oom(struct api_answer *a);

/* Symbol: 1-16 of A-Z 0-9 . _ -; venue: 1-64 of A-Z a-z 0-9 . _ -. */
int api_valid_symbol(const char *s);
int api_valid_venue(const char *s);
/* The stored (non-implicit) asset `sym` of snap, or -1. */
long api_find_stored(const struct snapshot *snap, const char *sym);

/*
 * A reference to app's current snapshot for a read, or NULL with a 503
 * "not-ready" answer (Retry-After: 1).
 */
struct snapshot *api_current(struct app *app, struct api_answer *a);

/* ---- queries (api_cascade.c) */

/* One query error at /query/<name> (JSON-pointer escaped). */
void api_query_error(struct problem *err, const char *name,
    const char *detail);
/*
 * A decimal number (no hex, inf or nan), finite, into *out: 0; s NULL
 * (absent): 1, *out kept; else -1 with the error at /query/<name>.
 */
int api_query_num(struct problem *err, const char *name, const char *s,
    double *out);
/* The query errors gathered in ans->err, if any, as its 422: -1, else 0. */
int api_query_failed(struct api_answer *ans);
/* If-None-Match (RFC 9110 13.1.2, weak comparison) names etag. */
int api_etag_matches(const char *inm, const char *etag);

/*
 * The cascade curve of GET /v1/markets/{asset}/cascade, evaluated once
 * for its JSON and its SVG: out is what codec_encode_cascade() takes.
 */
struct api_cascade_eval {
	const struct snapshot_asset *sa;	/* in the snapshot */
	size_t curve_n;		/* points of the depth side the cascade eats */
	struct codec_cascade out;
	struct lc_cascade_point *pts;	/* owned; out.points */
	struct codec_warnings w;	/* owned; out.warn */
	struct lc_cascade c;		/* owned */
};

/*
 * Parse the query (the names in `other`, NULL-terminated, are left to
 * the caller) and evaluate the curve of `asset` in snap into *ev (which
 * the caller releases in every case).  0, or -1 with the answer set
 * (404, 422, 500, 503).
 */
int api_cascade_eval(const struct snapshot *snap, const char *asset,
    const struct api_param *query, size_t nquery, const char *const *other,
    struct api_cascade_eval *ev, struct api_answer *ans);
void api_cascade_eval_release(struct api_cascade_eval *ev);

/* ---- scoring (api_score.c): what POST /v1/score runs, in two steps */

/*
 * A reference to the current snapshot with body decoded against it into
 * *req (initialised by the caller, who releases it and unrefs the
 * snapshot), or NULL with the answer set (400, 422, 503).  *mkt is the
 * market to score against: the snapshot's, or (positions naming their
 * copy in a book, 8.1) one without those copies' levels, whose storage
 * *own the caller frees with api_books_own_free() (NULL when none).
 */
struct snapshot *api_score_decode(struct app *app, const char *body,
    size_t len, struct score_request *req, struct lc_market *mkt,
    void **own, struct api_answer *ans);
/* lc_score of a decoded request into *res: 0, or -1 with the answer. */
int api_score_eval(const struct lc_market *mkt,
    const struct score_request *req, struct lc_score_result *res,
    struct api_answer *ans);

struct wtx {
	struct app *app;
	const struct api_wcall *call;
	struct snapshot *snap, *ns;
	int locked;
};

void wtx_init(struct wtx *t, const struct api_wcall *c);
/*
 * The write is decoded and valid: 1 with status 0 when the call is a dry
 * run (the caller ends the write), else 0 (go on to the store).
 */
int wtx_validated(struct wtx *t, struct api_answer *a);
/* Take the writer mutex; the current snapshot (t->snap, may be NULL). */
struct snapshot *wtx_lock(struct wtx *t);
/* The stored asset's index in the locked snapshot; -1 with a 404. */
long wtx_asset(struct wtx *t, const char *asset, struct api_answer *a);
/*
 * After the store's write (st; `what` names it in a problem): publish what
 * changed.  symbol: the asset written (NULL: the correlations only), lv:
 * what the write did to its levels.  0, or -1 with the answer set.
 */
int wtx_commit(struct wtx *t, enum store_status st, const char *what,
    const char *symbol, enum snapshot_level_mode lv, struct api_answer *a);
/* The store's write only (st): 0, or -1 with its problem. */
int wtx_commit_store(struct wtx *t, enum store_status st, const char *what,
    struct api_answer *a);
/* The answer's body is built (ok and a->body set): status; else 503. */
void wtx_answer(struct api_answer *a, int ok, int status);
int wtx_end(struct wtx *t, struct api_answer *a);

/*
 * Query parameters (api_cascade.c): every one known (names[0..nnames-1],
 * at most 32) and given once, else an error at /query/<name> (added by
 * api_query_error); the value of each known one in v[k] (NULL when
 * absent).  The names in `other` (NULL-terminated, or NULL) are someone
 * else's to check and are skipped.
 */
void api_query_check(const struct api_param *query, size_t n,
    const char *const *names, size_t nnames, const char *const *other,
    const char **v, struct problem *err);

/* ---- price history (api_prices.c) ------------------------------------ */

/*
 * The estimator state of every asset with price history (struct api_vol,
 * app->writer->vol), kept under the writer mutex: created empty by
 * api_vol_open(); api_vol_decorate() brings it up to date with a load of
 * the store (md: everything when `full`, else the asset `symbol`, NULL
 * the correlations only; an asset md lacks was deleted) and fills md's
 * md_vol_hist of each asset and md->hcorr, before a snapshot is built.
 * 0, or -1 (no memory or a store error: md is then left undecorated).
 */
struct api_vol *api_vol_open(const struct config *cfg);
void api_vol_free(struct api_vol *v);
int api_vol_decorate(struct app *app, struct market_data *md,
    const char *symbol, int full);

/* The write use cases of api_writes[] (api.h). */
int api_w_put_asset(const struct api_wcall *c, struct api_answer *ans);
int api_w_delete_asset(const struct api_wcall *c, struct api_answer *ans);
int api_w_put_depth(const struct api_wcall *c, struct api_answer *ans);
int api_w_delete_venue(const struct api_wcall *c, struct api_answer *ans);
int api_w_put_levels(const struct api_wcall *c, struct api_answer *ans);
int api_w_post_levels(const struct api_wcall *c, struct api_answer *ans);
int api_w_put_correlations(const struct api_wcall *c, struct api_answer *ans);
int api_w_post_correlations(const struct api_wcall *c, struct api_answer *ans);
int api_w_post_prices(const struct api_wcall *c, struct api_answer *ans);
int api_w_put_book(const struct api_wcall *c, struct api_answer *ans);
int api_w_post_book_positions(const struct api_wcall *c,
    struct api_answer *ans);
int api_w_delete_book_position(const struct api_wcall *c,
    struct api_answer *ans);
int api_w_delete_book(const struct api_wcall *c, struct api_answer *ans);

/* ---- books (api_books.c) -------------------------------------------- */

/*
 * A snapshot s built from the store by a market write or at startup (not
 * yet published), under the writer mutex: load the books when they are
 * not loaded (or the asset set changed), re-derive the positions holding
 * an asset whose price or volatility changed, set the merged levels
 * (stored + every book's derived) on s, and (publish) publish s while
 * the books are still locked, so that readers never see books newer than
 * the snapshot.  0, or -1 (no memory; s keeps its stored levels and is
 * published all the same).
 */
int api_books_sync(struct app *app, struct snapshot *s, int publish);
/*
 * The store was read whole again (a restore, another process's write):
 * the next api_books_sync() loads the books again (writer mutex held).
 */
void api_books_stale(struct app *app);
void api_books_free(struct app *app);

/*
 * A score request naming book copies (req->book): the market of snap
 * with each named position's derived levels left out, in *mkt (its
 * storage in *own: api_books_own_free).  0: done or nothing to leave out
 * (*own NULL, *mkt = snap->market); 1: snap is no longer current (decode
 * again, pinned); -1 with err (422 unknown book or id, 503).  pinned:
 * snap came from api_books_pin() and the pin is still held.
 */
int api_books_exclude(struct app *app, const struct snapshot *snap,
    const struct score_request *req, struct lc_market *mkt, void **own,
    int pinned, struct problem *err);
/*
 * The current snapshot (a new reference) with the books read-locked so
 * that they match it until api_books_unpin(*pin); NULL when the books
 * are not loaded.  Writers wait meanwhile: hold it briefly.
 */
struct snapshot *api_books_pin(struct app *app, void **pin);
void api_books_unpin(void *pin);
void api_books_own_free(void *own);

/* ---- books: simulate (api_books.c, its last block) */

/*
 * POST /v1/books/{book}/simulate: under the books' read lock, take(ctx,
 * view) with the current snapshot, the book's lc_book (its derived
 * levels), the prices they were derived at and its positions in slot
 * order, all borrowed for the call only (copy what is kept).  Returns
 * the snapshot (one reference) or NULL with ans set (422 bad name, 404
 * unknown book, 503 not loaded or no memory, also when take fails).
 */
struct lc_book;
struct api_books_sim_view {
	const struct snapshot *snap;
	const struct lc_book *book;
	const double *price;
	const struct lc_position **pos;
	size_t npos;
};
struct snapshot *api_books_sim_take(struct app *app, const char *book,
    int (*take)(void *ctx, const struct api_books_sim_view *v), void *ctx,
    struct api_answer *ans);

#endif

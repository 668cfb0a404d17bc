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

struct wtx {
	struct app *app;
	struct snapshot *snap, *ns;
	int locked;
};

void wtx_init(struct wtx *t, struct app *app);
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
 * Query strings (api_cascade.c): an error at /query/<name>; every
 * parameter one of names[0..nnames-1] and given once (errors in request
 * order), the value of each in v[] (NULL when absent); a decimal number
 * (no hex, inf or nan): 1 when s is NULL (absent), 0 and *out, or -1
 * with an error.
 */
void api_qerr(struct problem *err, const char *name, const char *detail);
void api_qcheck(const struct api_param *query, size_t n,
    const char *const *names, size_t nnames, const char **v,
    struct problem *err);
int api_qnum(struct problem *err, const char *name, const char *s,
    double *out);

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

#endif

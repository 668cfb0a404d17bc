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
/* The answer's body is built (ok and a->body set): status; else 503. */
void wtx_answer(struct api_answer *a, int ok, int status);
int wtx_end(struct wtx *t, struct api_answer *a);

/* The write use cases of api_writes[] (api.h). */
int api_w_put_asset(const struct api_wcall *c, struct api_answer *ans);
int api_w_delete_asset(const struct api_wcall *c, struct api_answer *ans);
int api_w_put_depth(const struct api_wcall *c, struct api_answer *ans);
int api_w_delete_venue(const struct api_wcall *c, struct api_answer *ans);
int api_w_put_levels(const struct api_wcall *c, struct api_answer *ans);
int api_w_post_levels(const struct api_wcall *c, struct api_answer *ans);
int api_w_put_correlations(const struct api_wcall *c, struct api_answer *ans);
int api_w_post_correlations(const struct api_wcall *c, struct api_answer *ans);

#endif

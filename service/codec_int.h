/*
 * codec_int.h - the internals the codecs share (codec.c, codec_score.c,
 * codec_market.c): the decoding context with its JSON pointer and error
 * list, the strict body parse, member and number checks, and the warning
 * items of an answer.  Not for callers of the codecs: they use codec.h.
 *
 * Ownership as in codec.h: the context borrows its problem; cJSON trees
 * returned by codec_parse() belong to the caller (cJSON_Delete) and never
 * leave the decoder that parsed them.
 */
#ifndef CASCADED_CODEC_INT_H
#define CASCADED_CODEC_INT_H

#include <stddef.h>

#include "codec.h"
#include "json.h"
#include "problem.h"

/*
 * The warning objects of w, without the enclosing array (an answer may
 * list several sets in one "warnings" array).
 */
void codec_buf_warning_items(
    struct json_buf *b, const struct codec_warnings *w);

struct cJSON;

/*
 * Decoding context: the problem and the JSON pointer of the cursor.  At
 * most CODEC_MAX_ERRORS errors are stored (a hostile body cannot make the
 * answer huge); nerr counts them all.
 */
#define CODEC_PTR_MAX 1024
#define CODEC_MAX_ERRORS 100
struct codec_ctx {
	struct problem *err;
	size_t nerr; /* errors added through this context */
	size_t plen;
	char ptr[CODEC_PTR_MAX];
};

void codec_ctx_init(struct codec_ctx *c, struct problem *err);
/* Push "/key" (escaped) or "/i"; return the length to pop back to. */
size_t codec_ptr_key(struct codec_ctx *c, const char *key);
size_t codec_ptr_idx(struct codec_ctx *c, size_t i);
void codec_ptr_pop(struct codec_ctx *c, size_t old);
/* Add an error at the cursor, or at cursor + "/member" (member != NULL). */
void codec_err(struct codec_ctx *c, const char *member, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Parse a body: NULL with 400 in err when it is not valid UTF-8 JSON (or
 * something but whitespace follows the value).
 */
struct cJSON *codec_parse(const char *body, size_t len, struct problem *err);

/*
 * Check an object's members against a NULL-terminated list of names:
 * unknown members (unless allow_unknown) and duplicates are errors.
 * vals[k] receives the member named keys[k] or NULL.  Returns 0 when the
 * object passes, -1 otherwise (also when obj is not an object).
 */
int codec_members(struct codec_ctx *c, const struct cJSON *obj,
    const char *const *keys, const struct cJSON **vals, int allow_unknown);

/*
 * The opening of a request decoder: codec_ctx_init(c), parse body into
 * *root (the caller's, cJSON_Delete) and read its members keys into vals
 * (codec_members, unknown members refused).  Returns 0 to go on (member
 * errors, if any, are in c); 1 when the body is not an object (the error
 * is in c: clean up); -1 when it does not parse (*root NULL, err set:
 * return at once).
 */
int codec_open(struct codec_ctx *c, const char *body, size_t len,
    const char *const *keys, const struct cJSON **vals, struct cJSON **root,
    struct problem *err);

/*
 * The required array member `name` (item, maybe NULL) of a batch write,
 * with at most max entries: 0 and *n, else -1 after an error in c.
 */
int codec_batch_array(struct codec_ctx *c, const struct cJSON *item,
    const char *name, size_t max, size_t *n);

/*
 * A JSON number, finite, |v| <= LC_MAX_VALUE: 0 and *out, else an error at
 * cursor/member and -1.  codec_qty_text also accepts a decimal string (as
 * exchanges publish prices).
 */
int codec_number(struct codec_ctx *c, const char *member,
    const struct cJSON *item, double *out);
int codec_qty_text(struct codec_ctx *c, const char *member,
    const struct cJSON *item, double *out);
/*
 * as_of: an RFC 3339 date-time normalised to UTC (rfc3339.h, the fraction
 * kept as given up to 9 digits), or now in whole seconds when item is
 * NULL; out has MD_TIME_MAX bytes.  source: a string of at most
 * MD_SOURCE_MAX bytes ("" when item is NULL).
 */
int codec_as_of(struct codec_ctx *c, const struct cJSON *item, char *out);
int codec_source(struct codec_ctx *c, const struct cJSON *item, char *out);

/*
 * The positions array `arr` (the /v1/score schema; a `book` member is an
 * error) at /positions of the cursor into r, whose price and vol are
 * set: the code that decodes a score request's positions.  0, or -1 on
 * no memory; validation errors are added to c.
 */
int codec_positions(struct codec_ctx *c, const struct cJSON *arr,
    const struct snapshot *snap, struct score_request *r);

/*
 * The eight score options, members o[0..7] in the order horizon_days,
 * tail_dof, cascade_threshold_bps, paths, steps, seed, depth_scale,
 * include_market_levels (NULL when absent), decoded into pr (holding the
 * defaults); errors added to c (codec_score.c).
 */
struct lc_params;
void codec_score_options(struct codec_ctx *c, const struct cJSON *const *o,
    const struct codec_limits *limits, struct lc_params *pr);
/* The same eight options echoed into an answer, in that order. */
struct json_buf;
void codec_buf_score_options(struct json_buf *b, const struct lc_params *p);

/*
 * The volatility of a cached market before any request override, and its
 * source (CODEC_VOL_*): with volatility_source history and enough data,
 * sigma(h) = lc_vol_blend at horizon h with mean reversion m days
 * (docs/model.md section 9); else the written volatility.
 */
struct snapshot_asset;
double codec_market_vol(const struct snapshot_asset *sa, double horizon_days,
    double mean_reversion_days, unsigned char *src);

#endif

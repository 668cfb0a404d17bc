/*
 * codec_books_sim.c - the JSON of POST /v1/books/{book}/simulate
 * (docs/books.md "Simulate", docs/model.md 8.4): the score options in,
 * the distribution of the book's liquidated value and bad debt out.
 *
 * Decoding takes only the options of POST /v1/score that a simulation
 * reads (horizon_days, tail_dof, cascade_threshold_bps, paths, steps,
 * seed, depth_scale, include_market_levels) with their ranges and
 * defaults; anything else (positions, prices, volatility included) is an
 * unknown member: 422 with its pointer.  The positions are the book's.
 * Volatilities are those a score would use (the price history's sigma(h)
 * where the asset's volatility comes from it, section 9).
 *
 * Ownership: the decoder fills caller-owned members of a score_request
 * (price, vol, vol_src; codec_request_release frees them); the encoder
 * returns a malloc'd string.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cascade/book_sim.h"
#include "cascade/vol.h"
#include "codec_int.h"
#include "json.h"
#include "rfc3339.h"
#include "snapshot.h"

enum { S_HORIZON, S_DOF, S_THRESH, S_PATHS, S_STEPS, S_SEED, S_SCALE,
	S_LEVELS, S_N };

int
codec_decode_books_sim(const char *body, size_t len,
    const struct snapshot *snap, const struct codec_limits *lim,
    struct score_request *out, struct problem *err)
{
	static const char *const keys[] = { "horizon_days", "tail_dof",
		"cascade_threshold_bps", "paths", "steps", "seed",
		"depth_scale", "include_market_levels", NULL };
	const cJSON *v[S_N + 1];
	struct lc_params *pr = &out->params;
	struct codec_ctx c;
	cJSON *root = NULL;
	size_t i;
	int rc;

	if (len == 0) {
		body = "{}";
		len = 2;
	}
	rc = codec_open(&c, body, len, keys, v, &root, err);
	if (rc < 0)
		return -1;
	lc_params_default(pr);
	pr->threads = lim->threads;
	if (rc == 0)
		codec_score_options(&c, v, lim, pr);
	cJSON_Delete(root);
	if (c.nerr > 0 || rc != 0) {
		problem_set(err, 422, "validation", "Unprocessable request",
		    "%zu field(s) break the contract (see errors)", c.nerr);
		return -1;
	}
	out->nassets = snap->nassets;
	out->price = malloc((snap->nassets + 1) * sizeof(double));
	out->vol = malloc((snap->nassets + 1) * sizeof(double));
	out->vol_src = calloc(snap->nassets + 1, 1);
	if (out->price == NULL || out->vol == NULL || out->vol_src == NULL) {
		problem_set(err, 500, "internal", "Internal server error",
		    "out of memory while decoding the request");
		return -1;
	}
	for (i = 0; i < snap->nassets; i++) {
		const struct snapshot_asset *sa = &snap->assets[i];

		out->price[i] = sa->price;
		out->vol[i] = codec_market_vol(sa, pr->horizon_days,
		    lim->vol_mean_reversion_days, &out->vol_src[i]);
	}
	out->lc.params = *pr;
	out->lc.price = out->price;
	out->lc.vol = out->vol;
	return 0;
}

static void
buf_fig(struct json_buf *b, const char *name, const struct lc_book_sim_fig *f)
{
	size_t i;

	json_buf_key(b, name);
	json_buf_begin(b, '{');
	json_buf_key(b, "expected");
	json_buf_num(b, f->expected);
	json_buf_key(b, "std_error");
	json_buf_num(b, f->std_error);
	json_buf_key(b, "var");
	json_buf_begin(b, '[');
	for (i = 0; i < 2; i++) {
		json_buf_begin(b, '{');
		json_buf_key(b, "q");
		json_buf_num(b, i == 0 ? 0.95 : 0.99);
		json_buf_key(b, "value");
		json_buf_num(b, i == 0 ? f->var95 : f->var99);
		json_buf_end(b, '}');
	}
	json_buf_end(b, ']');
	json_buf_key(b, "quantiles");
	json_buf_begin(b, '[');
	for (i = 0; i < LC_BOOK_SIM_NQ; i++) {
		json_buf_begin(b, '{');
		json_buf_key(b, "q");
		json_buf_num(b, lc_book_sim_q[i]);
		json_buf_key(b, "value");
		json_buf_num(b, f->q[i]);
		json_buf_end(b, '}');
	}
	json_buf_end(b, ']');
	json_buf_key(b, "max");
	json_buf_num(b, f->max);
	json_buf_end(b, '}');
}

int
codec_encode_books_sim(const char *book, size_t npos,
    const struct score_request *req, const struct lc_book_sim *res,
    char **out)
{
	const struct lc_params *p = &req->params;
	struct codec_warnings w;
	struct rfc3339_time t;
	struct json_buf b;
	char now[64];

	*out = NULL;
	codec_warnings_init(&w);
	if (res->shrunk)
		codec_warnings_add(&w, "correlation_shrunk", NULL, NULL, -1,
		    NULL, "the correlation matrix was not positive "
		    "semidefinite and was shrunk");
	json_buf_init(&b, 2048);
	rfc3339_now(&t, 0);
	rfc3339_format(now, sizeof(now), &t);
	json_buf_begin(&b, '{');
	json_buf_key(&b, "book");
	json_buf_str(&b, book);
	json_buf_key(&b, "model");
	json_buf_str(&b, "cascade-1");
	json_buf_key(&b, "as_of");
	json_buf_str(&b, now);
	codec_buf_score_options(&b, p);
	json_buf_key(&b, "positions");
	json_buf_int(&b, (int64_t)npos);
	json_buf_key(&b, "single_asset_positions");
	json_buf_int(&b, (int64_t)res->singles);
	json_buf_key(&b, "coupled_loans");
	json_buf_int(&b, (int64_t)res->coupled);
	json_buf_key(&b, "unreachable_loans");
	json_buf_int(&b, (int64_t)res->unreachable);
	json_buf_key(&b, "paths_walked");
	json_buf_int(&b, (int64_t)res->walked);
	json_buf_key(&b, "loan_paths_skipped");
	json_buf_int(&b, (int64_t)res->skipped);
	json_buf_key(&b, "p_any_liquidation");
	json_buf_num(&b, res->p_any);
	json_buf_key(&b, "p_any_liquidation_std_error");
	json_buf_num(&b, res->p_any_se);
	buf_fig(&b, "liquidated_value", &res->value);
	buf_fig(&b, "bad_debt", &res->bad_debt);
	buf_fig(&b, "liquidated_positions", &res->positions);
	codec_buf_warnings(&b, &w);
	json_buf_end(&b, '}');
	codec_warnings_release(&w);
	*out = json_buf_take(&b);
	return *out != NULL ? 0 : -1;
}

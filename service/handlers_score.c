/*
 * handlers_score.c - POST /v1/score (SPEC 7): a reference to the current
 * snapshot, codec_decode_score, lc_score, codec_encode_score, unref.
 *
 * The same api_score() serves `cascaded score`, so the command prints
 * exactly what the endpoint answers.  Requests that need Monte Carlo go
 * through lc_score() as well: it runs the Monte Carlo pass itself when the
 * engine is linked, and until then the answer carries null for the
 * figures only Monte Carlo gives (SPEC 5.2).  Nothing here touches SQL:
 * the snapshot is immutable and shared, so scoring never waits for a
 * market write.
 */
#include <stdlib.h>

#include "app.h"
#include "cascade/score.h"
#include "codec.h"
#include "handlers.h"
#include "log.h"
#include "snapshot.h"

void
api_score_limits(const struct config *cfg, struct codec_limits *lim)
{
	codec_limits_default(lim);
	if (cfg == NULL)
		return;
	if (cfg->max_positions > 0)
		lim->max_positions = cfg->max_positions;
	lim->stale_depth_s = cfg->stale_depth_seconds;
	/* Monte Carlo runs on the calling thread until a compute pool lands */
	lim->threads = 1;
}

int
api_score(const struct snapshot *snap, const struct codec_limits *lim,
    const char *body, size_t len, struct api_answer *ans)
{
	struct score_request req;
	struct lc_score_result res;
	enum lc_status st;

	codec_request_init(&req);
	lc_score_result_init(&res);
	if (snap == NULL) {
		problem_set(&ans->err, 503, "not-ready", "Service unavailable",
		    "no market snapshot is loaded yet");
		goto fail;
	}
	if (codec_decode_score(body, len, snap, lim, &req, &ans->err) != 0)
		goto fail;
	st = lc_score(&snap->market, &req.lc, &res);
	if (st == LC_ENOMEM) {
		problem_set(&ans->err, 503, "unavailable",
		    "Service unavailable", "out of memory while scoring");
		goto fail;
	}
	if (st != LC_OK) {
		/* the codec validated the request: this is a bug */
		log_kv(LOG_LVL_ERROR, "lc_score failed", "status",
		    lc_status_str(st), (const char *)NULL);
		problem_set(&ans->err, 500, "internal", "Internal server error",
		    "the model rejected a validated request (%s)",
		    lc_status_str(st));
		goto fail;
	}
	if (codec_encode_score(&req, &res, snap, &ans->body) != 0) {
		problem_set(&ans->err, 503, "unavailable",
		    "Service unavailable", "out of memory while encoding");
		goto fail;
	}
	ans->status = 200;
	goto out;
fail:
	if (ans->err.status == 0)
		problem_set(&ans->err, 500, "internal", "Internal server error",
		    "scoring failed");
	ans->status = ans->err.status;
out:
	lc_score_result_release(&res);
	codec_request_release(&req);
	return ans->status;
}

static void
post_score(struct server_request *req, struct server_response *res)
{
	struct app *app = req->app;
	struct codec_limits lim;
	struct api_answer ans;
	struct snapshot *snap;

	api_answer_init(&ans);
	api_score_limits(app->cfg, &lim);
	snap = app->cell != NULL ? snapshot_cell_get(app->cell) : NULL;
	api_score(snap, &lim, req->body, req->body_len, &ans);
	snapshot_unref(snap);
	api_answer_respond(&ans, res, req->path);
	api_answer_release(&ans);
}

/* Scoring stores nothing: open unless configured otherwise (SPEC 7). */
const struct server_route handlers_score_routes[] = {
	{ "POST", "/v1/score", post_score, SERVER_ROUTE_BODY },
};
const size_t handlers_score_nroutes =
    sizeof(handlers_score_routes) / sizeof(handlers_score_routes[0]);

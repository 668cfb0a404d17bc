/*
 * handlers_score.c - POST /v1/score (docs/model.md 7) over HTTP: api_score() with
 * the compute pool as its place for Monte Carlo.
 *
 * Where the work runs (docs/model.md 5.2): the body is decoded and validated on the
 * HTTP polling thread (microseconds to a few milliseconds, and every
 * malformed request is answered there).  A request that needs no Monte
 * Carlo is scored and encoded inline too.  One that needs Monte Carlo is
 * handed to the compute pool with server_defer(): the job owns the decoded
 * request and a snapshot reference, runs with the thread count the pool
 * suggests (max(1, cores / running jobs): a lone request uses every core,
 * a busy pool one thread per job; the answer does not depend on it), and
 * the server sends the answer.  A full pool is 503 with Retry-After: 1.
 */
#include "api.h"
#include "handlers.h"
#include "server.h"

static void
score_job_work(void *arg, unsigned threads, struct server_response *res)
{
	struct api_answer ans;

	api_answer_init(&ans);
	api_score_job_run(arg, threads, &ans);
	handlers_respond(&ans, res, "/v1/score");
}

static void
score_job_free(void *arg)
{
	api_score_job_free(arg);
}

struct defer_ctx {
	struct server_request *req;
	struct server_response *res;
};

/* On failure server_defer() has answered and freed the job itself. */
static void
defer_to_pool(void *ctx, struct api_score_job *job)
{
	struct defer_ctx *d = ctx;

	server_defer(d->req, d->res, score_job_work, score_job_free, job);
}

static void
post_score(struct server_request *req, struct server_response *res)
{
	struct defer_ctx d = { req, res };
	struct api_score_opts opts = { defer_to_pool, &d };
	struct api_answer ans;

	if (handlers_wants_svg(server_header(req, "Accept"))) {
		handlers_score_svg(req, res); /* the position's picture */
		return;
	}
	api_answer_init(&ans);
	if (api_score(req->app, req->body, req->body_len, &opts, &ans) ==
	    API_DEFERRED)
		api_answer_release(&ans);
	else
		handlers_respond(&ans, res, req->path);
}

/*
 * Scoring stores nothing: open unless --protect-reads (server.h) asks for
 * a key on reads too (docs/model.md 7).
 */
const struct server_route handlers_score_routes[] = {
	{ "POST", "/v1/score", post_score, SERVER_ROUTE_BODY },
};
const size_t handlers_score_nroutes =
    sizeof(handlers_score_routes) / sizeof(handlers_score_routes[0]);

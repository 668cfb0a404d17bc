/*
 * handlers_score.c - POST /v1/score (SPEC 7): a reference to the current
 * snapshot, codec_decode_score, lc_score, codec_encode_score, unref.
 *
 * The same api_score() serves `cascaded score`, so the command prints
 * exactly what the endpoint answers.  Nothing here touches SQL: the
 * snapshot is immutable and shared, so scoring never waits for a market
 * write.
 *
 * Where the work runs (SPEC 5.2): the body is decoded and validated on the
 * HTTP polling thread (microseconds to a few milliseconds, and every
 * malformed request is answered there).  A request that needs no Monte
 * Carlo is scored and encoded inline too.  One that needs Monte Carlo is
 * handed to the compute pool with server_defer(): the job owns the decoded
 * request and a snapshot reference, runs lc_score with the thread count
 * the pool suggests (max(1, cores / running jobs): a lone request uses
 * every core, a busy pool one thread per job; the answer does not depend
 * on it), encodes, and the server sends the answer.  A full pool is 503
 * with Retry-After: 1.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "cascade/score.h"
#include "codec.h"
#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "snapshot.h"

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Online cores, asked once: sysconf() opens and reads a sysfs file on
 * every call, which was three system calls per score request.
 */
static unsigned
online_cores(void)
{
	static atomic_uint cached;
	unsigned c = atomic_load_explicit(&cached, memory_order_relaxed);

	if (c == 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		c = n > 0 ? (unsigned)n : 1;
		atomic_store_explicit(&cached, c, memory_order_relaxed);
	}
	return c;
}

void
api_score_limits(const struct config *cfg, struct codec_limits *lim)
{
	codec_limits_default(lim);
	/* `cascaded score` alone on the machine: every core (or the pool's) */
	lim->threads = online_cores();
	if (cfg == NULL)
		return;
	if (cfg->max_positions > 0)
		lim->max_positions = cfg->max_positions;
	lim->stale_depth_s = cfg->stale_depth_seconds;
	if (cfg->max_mc_cost > 0)
		lim->max_cost = cfg->max_mc_cost;
	if (cfg->compute_threads > 0 && cfg->compute_threads < lim->threads)
		lim->threads = cfg->compute_threads;
}

/*
 * One score result (with the model's workspace) per thread, reused by
 * every request that thread scores: lc_score then allocates nothing in
 * steady state (no mmap/munmap of a large workspace per request).  It is
 * freed when the thread exits.  Without a key, a fresh result per call.
 */
static pthread_key_t result_key;
static pthread_once_t result_once = PTHREAD_ONCE_INIT;
static int result_key_ok;

static void
result_free(void *p)
{
	lc_score_result_release(p);
	free(p);
}

static void
result_key_init(void)
{
	result_key_ok = pthread_key_create(&result_key, result_free) == 0;
}

static struct lc_score_result *
thread_result(int *owned)
{
	struct lc_score_result *r;

	*owned = 0;
	pthread_once(&result_once, result_key_init);
	if (result_key_ok) {
		r = pthread_getspecific(result_key);
		if (r != NULL)
			return r;
	}
	r = malloc(sizeof(*r));
	if (r == NULL)
		return NULL;
	lc_score_result_init(r);
	if (!result_key_ok || pthread_setspecific(result_key, r) != 0)
		*owned = 1;
	return r;
}

/* lc_score and encode a decoded request into *ans; the HTTP status. */
static int
score_run(const struct snapshot *snap, struct score_request *req,
    struct api_answer *ans)
{
	struct lc_score_result *res;
	enum lc_status st;
	int64_t t0 = now_us();
	int owned;

	res = thread_result(&owned);
	if (res == NULL) {
		problem_set(&ans->err, 503, "unavailable",
		    "Service unavailable", "out of memory while scoring");
		ans->retry_after = 1;
		ans->status = 503;
		return 503;
	}
	st = lc_score(&snap->market, &req->lc, res);
	if (st == LC_ENOMEM) {
		problem_set(&ans->err, 503, "unavailable",
		    "Service unavailable", "out of memory while scoring");
		ans->retry_after = 1;
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
	if (codec_encode_score(req, res, snap, &ans->body) != 0) {
		problem_set(&ans->err, 503, "unavailable",
		    "Service unavailable", "out of memory while encoding");
		ans->retry_after = 1;
		goto fail;
	}
	ans->status = 200;
	metrics_score_observe(req->monte_carlo, now_us() - t0);
	goto out;
fail:
	if (ans->err.status == 0)
		problem_set(&ans->err, 500, "internal", "Internal server error",
		    "scoring failed");
	ans->status = ans->err.status;
out:
	if (owned)
		result_free(res);
	return ans->status;
}

static int
no_snapshot(struct api_answer *ans)
{
	problem_set(&ans->err, 503, "not-ready", "Service unavailable",
	    "no market snapshot is loaded yet");
	ans->retry_after = 1;
	ans->status = 503;
	return 503;
}

int
api_score(const struct snapshot *snap, const struct codec_limits *lim,
    const char *body, size_t len, struct api_answer *ans)
{
	struct score_request req;

	codec_request_init(&req);
	if (snap == NULL)
		return no_snapshot(ans);
	if (codec_decode_score(body, len, snap, lim, &req, &ans->err) != 0) {
		if (ans->err.status == 0)
			problem_set(&ans->err, 500, "internal",
			    "Internal server error", "decoding failed");
		ans->status = ans->err.status;
	} else {
		score_run(snap, &req, ans);
	}
	codec_request_release(&req);
	return ans->status;
}

/* A Monte Carlo request on its way through the compute pool. */
struct score_job {
	struct snapshot *snap;		/* one reference */
	struct score_request req;
	char instance[32];
};

static void
score_job_release(void *arg)
{
	struct score_job *j = arg;

	if (j == NULL)
		return;
	codec_request_release(&j->req);
	snapshot_unref(j->snap);
	free(j);
}

static void
score_job_work(void *arg, unsigned threads, struct server_response *res)
{
	struct score_job *j = arg;
	struct api_answer ans;

	api_answer_init(&ans);
	j->req.params.threads = threads;
	j->req.lc.params.threads = threads;
	score_run(j->snap, &j->req, &ans);
	api_answer_respond(&ans, res, j->instance);
	api_answer_release(&ans);
}

static void
post_score(struct server_request *req, struct server_response *res)
{
	struct app *app = req->app;
	struct codec_limits lim;
	struct api_answer ans;
	struct score_job *job;

	api_answer_init(&ans);
	api_score_limits(app->cfg, &lim);
	job = calloc(1, sizeof(*job));
	if (job == NULL) {
		problem_set(&ans.err, 503, "unavailable", "Service unavailable",
		    "out of memory");
		ans.status = 503;
		ans.retry_after = 1;
		goto answer;
	}
	codec_request_init(&job->req);
	snprintf(job->instance, sizeof(job->instance), "/v1/score");
	job->snap = app->cell != NULL ? snapshot_cell_get(app->cell) : NULL;
	if (job->snap == NULL) {
		no_snapshot(&ans);
		goto answer;
	}
	if (codec_decode_score(req->body, req->body_len, job->snap, &lim,
	    &job->req, &ans.err) != 0) {
		if (ans.err.status == 0)
			problem_set(&ans.err, 500, "internal",
			    "Internal server error", "decoding failed");
		ans.status = ans.err.status;
		goto answer;
	}
	if (job->req.monte_carlo) {
		/* the job is the server's from here, answered or not */
		server_defer(req, res, score_job_work, score_job_release, job);
		api_answer_release(&ans);
		return;
	}
	score_run(job->snap, &job->req, &ans);
answer:
	score_job_release(job);
	api_answer_respond(&ans, res, req->path);
	api_answer_release(&ans);
}

/*
 * Scoring stores nothing: open unless --protect-reads (server.h) asks for
 * a key on reads too (SPEC 7).
 */
const struct server_route handlers_score_routes[] = {
	{ "POST", "/v1/score", post_score, SERVER_ROUTE_BODY },
};
const size_t handlers_score_nroutes =
    sizeof(handlers_score_routes) / sizeof(handlers_score_routes[0]);

/*
 * api_score.c - POST /v1/score (docs/model.md 7) as a use case (api.h): a
 * reference to the current snapshot, codec_decode_score, lc_score,
 * codec_encode_score, unref.
 *
 * The HTTP endpoint and `cascaded score` both call api_score(), so the
 * command prints exactly what the endpoint answers.  Nothing here touches
 * SQL: the snapshot is immutable and shared, so scoring never waits for a
 * market write.
 *
 * Where the work runs is the caller's choice (struct api_score_opts): the
 * body is always decoded and validated in the call (every malformed
 * request is answered there), and a request that needs no Monte Carlo is
 * scored and encoded there too.  One that needs Monte Carlo becomes a
 * job (the decoded request and a snapshot reference) that a caller with
 * a compute pool runs elsewhere with the thread count it chooses; the
 * answer does not depend on that count.
 */
#include <stdatomic.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "api_int.h"
#include "cascade/score.h"
#include "codec.h"
#include "log.h"
#include "snapshot.h"

/* A decoded request on its way to the model, with its snapshot. */
struct api_score_job {
	struct snapshot *snap;		/* one reference */
	struct score_request req;
	const struct api_hooks *hooks;
	/* books (8.1): the market without the named own copies, or NULL */
	void *own;
	struct lc_market mkt;
};

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
	if (cfg->vol_half_life_days > 0)
		lim->vol_half_life_days = cfg->vol_half_life_days;
	if (cfg->vol_mean_reversion_days > 0)
		lim->vol_mean_reversion_days = cfg->vol_mean_reversion_days;
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

/* 503 out of memory (Retry-After: 1) with `what`; returns 503. */
static int
score_oom(struct api_answer *ans, const char *what)
{
	problem_set(&ans->err, 503, "unavailable", "Service unavailable",
	    "out of memory %s", what);
	ans->retry_after = 1;
	ans->status = 503;
	return 503;
}

int
api_score_eval(const struct lc_market *mkt, const struct score_request *req,
    struct lc_score_result *res, struct api_answer *ans)
{
	enum lc_status st;

	st = lc_score(mkt, &req->lc, res);
	if (st == LC_ENOMEM) {
		score_oom(ans, "while scoring");
		return -1;
	}
	if (st != LC_OK) {
		/* the codec validated the request: this is a bug */
		log_kv(LOG_LVL_ERROR, "lc_score failed", "status",
		    lc_status_str(st), (const char *)NULL);
		problem_set(&ans->err, 500, "internal", "Internal server error",
		    "the model rejected a validated request (%s)",
		    lc_status_str(st));
		ans->status = 500;
		return -1;
	}
	return 0;
}

/* lc_score and encode a decoded request into *ans; the HTTP status. */
static int
score_run(const struct snapshot *snap, const struct lc_market *mkt,
    struct score_request *req, const struct api_hooks *hooks,
    struct api_answer *ans)
{
	struct lc_score_result *res;
	int64_t t0 = now_us();
	int owned;

	res = thread_result(&owned);
	if (res == NULL)
		return score_oom(ans, "while scoring");
	if (api_score_eval(mkt, req, res, ans) != 0)
		goto out;
	if (codec_encode_score(req, res, snap, &ans->body) != 0) {
		score_oom(ans, "while encoding");
		goto out;
	}
	ans->status = 200;
	if (hooks != NULL && hooks->scored != NULL)
		hooks->scored(req->monte_carlo, now_us() - t0);
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

void
api_score_job_free(struct api_score_job *job)
{
	if (job == NULL)
		return;
	codec_request_release(&job->req);
	api_books_own_free(job->own);
	snapshot_unref(job->snap);
	free(job);
}

int
api_score_job_run(struct api_score_job *job, unsigned threads,
    struct api_answer *ans)
{
	if (threads > 0) {
		job->req.params.threads = threads;
		job->req.lc.params.threads = threads;
	}
	return score_run(job->snap, job->own != NULL ? &job->mkt :
	    &job->snap->market, &job->req, job->hooks, ans);
}

struct snapshot *
api_score_decode(struct app *app, const char *body, size_t len,
    struct score_request *req, struct lc_market *mkt, void **own,
    struct api_answer *ans)
{
	struct codec_limits lim;
	struct snapshot *snap = NULL;
	int rc, tries;
	void *pin;

	api_score_limits(app->cfg, &lim);
	*own = NULL;
	/*
	 * Positions naming their copy in a book (8.1) need the books that
	 * match the snapshot: when a write came between, decode again with
	 * the books pinned to the current snapshot.
	 */
	for (tries = 0;; tries++) {
		pin = NULL;
		if (tries == 0)
			snap = app->cell != NULL
			    ? snapshot_cell_get(app->cell) : NULL;
		else
			snap = api_books_pin(app, &pin);
		if (snap == NULL) {
			no_snapshot(ans);
			return NULL;
		}
		rc = codec_decode_score(body, len, snap, &lim, req, &ans->err);
		if (rc == 0)
			rc = api_books_exclude(app, snap, req, mkt, own,
			    pin != NULL, &ans->err);
		else if (ans->err.status == 0)
			problem_set(&ans->err, 500, "internal",
			    "Internal server error", "decoding failed");
		api_books_unpin(pin);
		if (rc == 0)
			return snap;
		if (rc < 0 || tries > 0) {
			if (rc > 0)
				no_snapshot(ans);
			else
				ans->status = ans->err.status;
			snapshot_unref(snap);
			return NULL;
		}
		codec_request_release(req);
		codec_request_init(req);
		snapshot_unref(snap);
	}
}

int
api_score(struct app *app, const char *body, size_t len,
    const struct api_score_opts *opts, struct api_answer *ans)
{
	struct api_score_job *job;

	job = calloc(1, sizeof(*job));
	if (job == NULL)
		return score_oom(ans, "");
	codec_request_init(&job->req);
	job->hooks = app->hooks;
	job->snap = api_score_decode(app, body, len, &job->req, &job->mkt,
	    &job->own, ans);
	if (job->snap == NULL)
		goto out;
	if (job->req.monte_carlo && opts != NULL && opts->defer != NULL) {
		/* the job is defer's from here, answered or not */
		opts->defer(opts->ctx, job);
		return API_DEFERRED;
	}
	score_run(job->snap, job->own != NULL ? &job->mkt :
	    &job->snap->market, &job->req, job->hooks, ans);
out:
	api_score_job_free(job);
	return ans->status;
}

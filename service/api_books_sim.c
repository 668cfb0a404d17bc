/*
 * api_books_sim.c - POST /v1/books/{book}/simulate (docs/books.md
 * "Simulate", docs/model.md 8.4) as a use case (api.h): the book's
 * positions and the market without the book's own derived levels
 * (api_books_sim_take), the options (codec_decode_books_sim), the cost
 * bound, then lc_book_sim on the compute pool and the answer
 * (codec_encode_books_sim).
 *
 * The book's positions act as the request's positions: its derived
 * levels are left out of the market for the run, so their sales feed the
 * cascades once, as request triggers (the rule of 8.1 for a position
 * naming its copy, applied to the whole book).
 *
 * Cost bound (docs/model.md 5.2, `--max-mc-cost`): paths * steps *
 * (volatile assets + coupled loans that some prices can liquidate),
 * 422 at /paths above it (lc_book_sim_cost).  Single-asset positions are
 * cascade triggers and cost O(log) per path whatever their number.
 *
 * Ownership: a job owns its snapshot reference, the market copy (own),
 * the decoded request with the copied positions, and the book name.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_int.h"
#include "cascade/book_sim.h"
#include "codec.h"
#include "log.h"
#include "snapshot.h"

struct api_sim_job {
	struct snapshot *snap;		/* one reference */
	void *own;			/* the market's storage */
	struct lc_market mkt;
	struct score_request req;	/* options + the book's positions */
	char book[72];
};

void
api_sim_job_free(struct api_sim_job *job)
{
	if (job == NULL)
		return;
	codec_request_release(&job->req);
	api_books_own_free(job->own);
	snapshot_unref(job->snap);
	free(job);
}

/* Deep copy of the book's positions into the request (copy callback). */
static int
copy_positions(void *ctx, const struct lc_position *const *pos, size_t n)
{
	struct score_request *r = ctx;
	size_t i, j, ne = 0, nt = 0, nid = 0, ke = 0, kt = 0, ki = 0;

	for (i = 0; i < n; i++) {
		const struct lc_position *p = pos[i];

		nid += strlen(p->id) + 1;
		if (p->type == LC_POS_LOAN)
			ne += p->u.loan.ncoll + p->u.loan.ndebt;
		else
			nt += p->u.perp.ntiers;
	}
	r->pos = calloc(n + 1, sizeof(*r->pos));
	r->entries = malloc((ne + 1) * sizeof(*r->entries));
	r->tiers = malloc((nt + 1) * sizeof(*r->tiers));
	r->ids = malloc(nid + 1);
	if (r->pos == NULL || r->entries == NULL || r->tiers == NULL ||
	    r->ids == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		struct lc_position *q = &r->pos[i];
		size_t len = strlen(pos[i]->id) + 1;

		*q = *pos[i];
		memcpy(r->ids + ki, pos[i]->id, len);
		q->id = r->ids + ki;
		ki += len;
		if (q->type == LC_POS_LOAN) {
			struct lc_loan *l = &q->u.loan;

			for (j = 0; j < l->ncoll; j++)
				r->entries[ke + j] = l->coll[j];
			l->coll = r->entries + ke;
			ke += l->ncoll;
			for (j = 0; j < l->ndebt; j++)
				r->entries[ke + j] = l->debt[j];
			l->debt = r->entries + ke;
			ke += l->ndebt;
		} else if (q->u.perp.ntiers > 0) {
			memcpy(r->tiers + kt, q->u.perp.tiers,
			    q->u.perp.ntiers * sizeof(*r->tiers));
			q->u.perp.tiers = r->tiers + kt;
			kt += q->u.perp.ntiers;
		}
	}
	r->npos = n;
	return 0;
}

int
api_sim_job_run(struct api_sim_job *job, unsigned threads,
    struct api_answer *ans)
{
	struct lc_book_sim res;
	enum lc_status st;

	if (threads > 0) {
		job->req.params.threads = threads;
		job->req.lc.params.threads = threads;
	}
	st = lc_book_sim(&job->mkt, &job->req.lc, &res);
	if (st == LC_ENOMEM) {
		ans->retry_after = 1;
		return api_oom(ans);
	}
	if (st != LC_OK) {
		log_kv(LOG_LVL_ERROR, "lc_book_sim failed", "status",
		    lc_status_str(st), (const char *)NULL);
		problem_set(&ans->err, 500, "internal",
		    "Internal server error",
		    "the model rejected a validated request (%s)",
		    lc_status_str(st));
		ans->status = 500;
		return 500;
	}
	if (codec_encode_books_sim(job->book, job->req.npos, &job->req, &res,
	    &ans->body) != 0) {
		ans->retry_after = 1;
		return api_oom(ans);
	}
	ans->status = 200;
	return 200;
}

int
api_books_sim(struct app *app, const char *book, const char *body,
    size_t len, const struct api_sim_opts *opts, struct api_answer *ans)
{
	struct api_sim_job *job = calloc(1, sizeof(*job));
	struct codec_limits lim;
	double cost;

	if (job == NULL)
		return api_oom(ans);
	codec_request_init(&job->req);
	snprintf(job->book, sizeof(job->book), "%s", book);
	job->snap = api_books_sim_take(app, book, copy_positions, &job->req,
	    &job->mkt, &job->own, ans);
	if (job->snap == NULL)
		goto out;
	api_score_limits(app->cfg, &lim);
	if (codec_decode_books_sim(body, len, job->snap, &lim, &job->req,
	    &ans->err) != 0) {
		ans->status = ans->err.status;
		goto out;
	}
	job->req.lc.pos = job->req.pos;
	job->req.lc.npos = job->req.npos;
	cost = lc_book_sim_cost(&job->req.lc, job->snap->nassets);
	if (cost > lim.max_cost) {
		char d[160];

		snprintf(d, sizeof(d), "paths * steps * (volatile assets + "
		    "reachable coupled loans) = %.17g exceeds the limit %.17g",
		    cost, lim.max_cost);
		api_fail_field(ans, "/paths", d);
		goto out;
	}
	if (opts != NULL && opts->defer != NULL) {
		opts->defer(opts->ctx, job);
		return API_DEFERRED;
	}
	api_sim_job_run(job, 0, ans);
out:
	api_sim_job_free(job);
	return ans->status;
}

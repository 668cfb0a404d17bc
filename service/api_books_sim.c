/*
 * api_books_sim.c - POST /v1/books/{book}/simulate (docs/books.md
 * "Simulate", docs/model.md 8.4) as a use case (api.h): the book's
 * positions and the market without the book's own derived levels
 * (api_books_sim_take, drop_own), the options (codec_decode_books_sim), the cost
 * bound, then lc_book_sim on the compute pool and the answer
 * (codec_encode_books_sim).
 *
 * The book's positions act as the request's positions: its derived
 * levels are left out of the market for the run, so their sales feed the
 * cascades once, as request triggers (the rule of 8.1 for a position
 * naming its copy, applied to the whole book).
 *
 * Cost bound (docs/model.md 5.2, `--max-mc-cost`): paths * steps *
 * (volatile assets + the mean number of coupled loans per path that the
 * engine cannot prove safe up front), 422 at /paths above it: the
 * assets' part checked in the call (lc_book_sim_cost), the whole by
 * lc_book_sim's pilot in the job.  Single-asset positions are cascade
 * triggers and cost O(log) per path whatever their number.
 *
 * Ownership: a job owns its snapshot reference, the market copy (its
 * assets and the level arrays it rewrote),
 * the decoded request with the copied positions, and the book name.
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_int.h"
#include "cascade/book.h"
#include "cascade/book_sim.h"
#include "codec.h"
#include "log.h"
#include "snapshot.h"

struct api_sim_job {
	struct snapshot *snap;		/* one reference */
	struct lc_market mkt;		/* the snapshot's, without the book */
	struct lc_asset_market *assets;	/* mkt.assets */
	double **lvl;			/* [2 a + dir]: price then qty; NULL */
	size_t nlvl;
	struct score_request req;	/* options + the book's positions */
	char book[72];
	double max_cost;		/* --max-mc-cost */
};

/* 422 at /paths: the cost bound (docs/books.md "Simulate"). */
static void
cost_fail(struct api_answer *ans, double cost, double max)
{
	char d[200];

	snprintf(d, sizeof(d), "paths * steps * (volatile assets + coupled "
	    "loans not proved safe per path) = %.17g exceeds the limit %.17g",
	    cost, max);
	api_fail_field(ans, "/paths", d);
}

void
api_sim_job_free(struct api_sim_job *job)
{
	size_t i;

	if (job == NULL)
		return;
	codec_request_release(&job->req);
	for (i = 0; i < job->nlvl; i++)
		free(job->lvl[i]);
	free(job->lvl);
	free(job->assets);
	snapshot_unref(job->snap);
	free(job);
}

/*
 * The levels of (a, dir) without the book's own non-stale derived levels
 * (both in cascade order; the book's are a subsequence of the market's,
 * so a greedy walk that drops each first equal (price, qty) removes
 * them, whichever copy of an equal pair it drops).  O(n + k log k).
 */
static int
drop_own(struct api_sim_job *job, const struct api_books_sim_view *v,
    uint32_t a, int dir, struct lc_book_levels *bl)
{
	struct lc_asset_market *am = &job->assets[a];
	const struct lc_levels *l = &v->snap->lc_assets[a].levels[dir];
	size_t ad = 2 * (size_t)a + (size_t)dir, i, j = 0, m = 0;
	double *buf;

	if (lc_book_levels(v->book, a, (enum lc_dir)dir, v->price[a],
	    LC_BOOK_NO_SLOT, bl) != LC_OK)
		return -1;
	if (bl->n == 0)
		return 0;
	buf = malloc(2 * (l->n + 1) * sizeof(double));
	if (buf == NULL)
		return -1;
	job->lvl[ad] = buf;
	for (i = 0; i < l->n; i++) {
		if (j < bl->n && l->price[i] == bl->price[j] &&
		    l->qty[i] == bl->qty[j]) {
			j++;
			continue;
		}
		buf[m] = l->price[i];
		buf[l->n + 1 + m] = l->qty[i];
		m++;
	}
	am->levels[dir].n = m;
	am->levels[dir].price = buf;
	am->levels[dir].qty = buf + l->n + 1;
	am->base[dir] = NULL;	/* the prebuilt cascade is of all levels */
	return 0;
}

static int copy_positions(struct score_request *r,
    const struct lc_position *const *pos, size_t n);

/* Under the books' lock: the market without the book, its positions. */
static int
take_book(void *ctx, const struct api_books_sim_view *v)
{
	struct api_sim_job *job = ctx;
	struct lc_book_levels bl;
	size_t na = v->snap->nassets, a;
	int dir, rc = -1;

	lc_book_levels_init(&bl);
	job->assets = malloc((na + 1) * sizeof(*job->assets));
	job->lvl = calloc(2 * na + 1, sizeof(*job->lvl));
	if (job->assets == NULL || job->lvl == NULL)
		goto out;
	job->nlvl = 2 * na;
	memcpy(job->assets, v->snap->lc_assets, na * sizeof(*job->assets));
	job->mkt = v->snap->market;
	job->mkt.assets = job->assets;
	for (a = 0; a < na; a++)
		for (dir = 0; dir < 2; dir++)
			if (drop_own(job, v, (uint32_t)a, dir, &bl) != 0)
				goto out;
	rc = copy_positions(&job->req, v->pos, v->npos);
out:
	lc_book_levels_release(&bl);
	return rc;
}

/* Deep copy of the book's positions into the request. */
static int
copy_positions(struct score_request *r, const struct lc_position *const *pos,
    size_t n)
{
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
	st = lc_book_sim(&job->mkt, &job->req.lc, job->max_cost, &res);
	if (st == LC_ELIMIT) {
		cost_fail(ans, res.cost, job->max_cost);
		return ans->status;
	}
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
	job->snap = api_books_sim_take(app, book, take_book, job, ans);
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
	job->max_cost = lim.max_cost;
	/* the assets' part now; the loans' part after the pilot (the job) */
	cost = lc_book_sim_cost(&job->req.lc, job->snap->nassets);
	if (cost > lim.max_cost) {
		cost_fail(ans, cost, lim.max_cost);
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

/*
 * mc.c - the entry points of the Monte Carlo engine (mc.h): compile the
 * model (mc_build.c), run its chunks of paths on the workers
 * (mc_thread.c, mc_walk.c), and turn the counts into the estimates and
 * the scoring figures (docs/model.md 4.2, 5.2, 5.3, 6).
 *
 * Determinism.  Paths are cut into chunks of LC_MC_CHUNK; chunk c uses
 * stream (seed, c).  Counts are integers (summed per worker, exact);
 * slippage sums are kept per chunk and added here in chunk order.
 *
 * Estimates.  p = count / paths, standard error sqrt(p (1 - p) / paths);
 * a coupled loan's expected slippage is the mean of its first step's
 * fills over the paths that liquidate it (NAN when none does).  The exact
 * unwind slippage of a coupled loan (docs/model.md 6) sells (buys) the net
 * volatile exposure per asset on the bid (ask) from V0 = 0.
 */
#include "model/mc_int.h"
#include "cascade/curve.h"
#include "cascade/position.h"
#include "model/mc_thread.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void
lc_mc_stats_init(struct lc_mc_stats *s)
{
	memset(s, 0, sizeof(*s));
}

void
lc_mc_stats_release(struct lc_mc_stats *s)
{
	if (s == NULL)
		return;
	free(s->p_liq);
	free(s->cascade);
	free(s->path_value);
	free(s->path_nliq);
	lc_mc_stats_init(s);
}

static enum lc_status
stats_reserve(struct lc_mc_stats *s, size_t npos, size_t nassets)
{
	size_t i;

	lc_mc_stats_release(s);
	s->p_liq = malloc((4 * npos + 1) * sizeof(double));
	s->cascade = malloc((2 * nassets + 1) * sizeof(double));
	if (s->p_liq == NULL || s->cascade == NULL) {
		lc_mc_stats_release(s);
		return LC_ENOMEM;
	}
	s->npos = npos;
	s->nassets = nassets;
	s->p_liq_static = s->p_liq + npos;
	s->slip_bps = s->p_liq_static + npos;
	s->slip_quote = s->slip_bps + npos;
	for (i = 0; i < 4 * npos; i++)
		s->p_liq[i] = NAN;
	for (i = 0; i < 2 * nassets; i++)
		s->cascade[i] = NAN;
	return LC_OK;
}

static enum lc_status
mc_estimate(const struct lc_market *m, const struct lc_request *req,
    unsigned flags, const struct lc_mc_prebuilt *pre, double max_cost,
    double *cost, struct lc_mc_stats *st)
{
	struct mc_model md;
	enum lc_status rc;
	unsigned threads = req->params.threads > 1 ? req->params.threads : 1;
	uint64_t any = 0, casc = 0;
	double np;
	size_t i, a, c;

	rc = stats_reserve(st, req->npos, m->nassets);
	if (rc != LC_OK)
		return rc;
	rc = mc_model_build(&md, m, req, flags, pre);
	if (rc == LC_OK && (flags & LC_MC_BOOK_LOSS)) {
		/* per path, by path index: the thread count cannot matter */
		st->path_value = malloc(2 * (size_t)md.paths * sizeof(double));
		st->path_nliq = malloc((size_t)md.paths * sizeof(uint32_t));
		if (st->path_value == NULL || st->path_nliq == NULL)
			rc = LC_ENOMEM;
		else
			st->path_bad_debt = st->path_value + md.paths;
		md.pv = st->path_value;
		md.pb = st->path_bad_debt;
		md.pn = st->path_nliq;
	}
	if (rc == LC_OK)
		rc = mc_model_workspaces(&md, threads);
	if (rc != LC_OK)
		goto out;
	if (cost != NULL) {
		*cost = (double)md.paths * (double)md.steps *
		    ((double)md.n + mc_pilot(&md));
		if (*cost > max_cost) {
			rc = LC_ELIMIT;
			goto out;
		}
	}
	mc_run_chunks((unsigned)md.nws, md.nchunks, mc_chunk_run, &md);

	np = (double)md.paths;
	st->paths = md.paths;
	st->walked = 0;
	st->skipped = st->parked = st->unparked = 0;
	st->shrunk = md.shrunk;
	st->ninvolved = md.n;
	st->ncoupled = md.nloan;
	for (i = 0; i < md.nws; i++) {
		any += md.ws[i].cnt_any;
		casc += md.ws[i].cnt_casc;
		st->walked += md.ws[i].cnt_walk;
		st->skipped += md.ws[i].cnt_skip;
		st->parked += md.ws[i].cnt_park;
		st->unparked += md.ws[i].cnt_unpark;
	}
	st->p_any = (double)any / np;
	st->cascade_any = (double)casc / np;
	for (i = 0; i < md.nloan; i++) {
		uint64_t nl = 0, ns = 0;
		double sb = 0.0, sq = 0.0;
		size_t pos = md.loan[i].pos;

		for (c = 0; c < md.nws; c++) {
			nl += md.ws[c].cnt_liq[i];
			ns += md.ws[c].cnt_sliq[i];
		}
		for (c = 0; c < md.nchunks; c++) {
			sb += md.chunk_slip[(c * md.nloan + i) * 2];
			sq += md.chunk_slip[(c * md.nloan + i) * 2 + 1];
		}
		st->p_liq[pos] = (double)nl / np;
		st->p_liq_static[pos] = (double)ns / np;
		st->slip_bps[pos] = nl > 0 ? sb / (double)nl : (double)NAN;
		st->slip_quote[pos] = nl > 0 ? sq / (double)nl : (double)NAN;
	}
	for (a = 0; a < md.n; a++)
		for (i = 0; i < 2; i++) {
			uint64_t ne = 0;

			if (!md.as[a].ad[i].exposed &&
			    !(flags & LC_MC_ALL_POSITIONS))
				continue;
			for (c = 0; c < md.nws; c++)
				ne += md.ws[c].cnt_ev[2 * a + i];
			st->cascade[2 * (size_t)md.as[a].idx + i] =
			    (double)ne / np;
		}
	if (flags & LC_MC_ALL_POSITIONS)
		for (i = 0; i < md.nsingle; i++) {
			const struct mc_single *sg = &md.single[i];
			const struct mc_ad *ad = &md.as[sg->a].ad[sg->dir];
			uint64_t nl = 0;
			size_t k;

			if (sg->first != NONE)
				for (c = 0; c < md.nws; c++)
					for (k = sg->first + 1; k <= ad->c->n;
					    k++)
						nl += md.ws[c].hist[ad->hoff +
						    k];
			st->p_liq[sg->pos] = (double)nl / np;
		}
	rc = LC_OK;
out:
	mc_model_free(&md);
	if (rc != LC_OK)
		lc_mc_stats_release(st);
	return rc;
}

enum lc_status
lc_mc_estimate(const struct lc_market *m, const struct lc_request *req,
    unsigned flags, struct lc_mc_stats *st)
{
	return mc_estimate(m, req, flags, NULL, 0.0, NULL, st);
}

enum lc_status
lc_mc_estimate_bounded(const struct lc_market *m,
    const struct lc_request *req, unsigned flags, double max_cost,
    double *cost, struct lc_mc_stats *st)
{
	*cost = 0.0;
	return mc_estimate(m, req, flags, NULL, max_cost, cost, st);
}

static double
std_error(double p, double n)
{
	return sqrt(p * (1.0 - p) / n);
}

/* Append one warning to out->warn (grown geometrically). */
static enum lc_status
push_warning(struct lc_score_result *out, enum lc_warning_code code)
{
	if (out->nwarn >= out->warn_cap) {
		size_t cap = out->warn_cap ? 2 * out->warn_cap : 4;
		struct lc_warning *w = realloc(out->warn, cap * sizeof(*w));

		if (w == NULL)
			return LC_ENOMEM;
		out->warn = w;
		out->warn_cap = cap;
	}
	out->warn[out->nwarn].code = code;
	out->warn[out->nwarn].asset = -1;
	out->warn[out->nwarn].side = -1;
	out->warn[out->nwarn].count = -1;
	out->warn[out->nwarn].position = -1;
	out->nwarn++;
	return LC_OK;
}

/*
 * Exact unwind slippage of a coupled loan (docs/model.md 6): net volatile exposure
 * per asset, sold on the bid or bought on the ask from V0 = 0.
 */
static void
coupled_unwind(const struct lc_market *m, const struct lc_request *req,
    const struct lc_loan *l, double *bps, double *quote)
{
	double q_tot = 0.0, notional = 0.0;
	size_t i, j;

	for (i = 0; i < l->ncoll + l->ndebt; i++) {
		const struct lc_entry *e = i < l->ncoll ? &l->coll[i] :
		    &l->debt[i - l->ncoll];
		uint32_t a = e->asset;
		double net = 0.0, qty, sl;
		int seen = 0;

		if (!mc_vol_of(req, a))
			continue;
		for (j = 0; j < i; j++) {
			const struct lc_entry *f = j < l->ncoll ? &l->coll[j] :
			    &l->debt[j - l->ncoll];

			if (f->asset == a)
				seen = 1;
		}
		if (seen)
			continue;
		for (j = 0; j < l->ncoll; j++)
			if (l->coll[j].asset == a)
				net += l->coll[j].amount;
		for (j = 0; j < l->ndebt; j++)
			if (l->debt[j].asset == a)
				net -= l->debt[j].amount;
		if (net == 0.0)
			continue;
		qty = fabs(net);
		sl = net > 0.0 ?
		    lc_fill_slippage_bps(&m->assets[a].curve[LC_BID], LC_BID,
		    0.0, qty, req->params.depth_scale) :
		    lc_fill_slippage_bps(&m->assets[a].curve[LC_ASK], LC_ASK,
		    0.0, qty, req->params.depth_scale);
		q_tot += sl / 1e4 * qty * req->price[a];
		notional += qty * req->price[a];
	}
	*quote = q_tot;
	*bps = notional > 0.0 ? 1e4 * q_tot / notional : 0.0;
}

enum lc_status
lc_mc_score(const struct lc_market *m, const struct lc_request *req,
    struct lc_score_result *out)
{
	return lc_mc_score_prebuilt(m, req, NULL, out);
}

enum lc_status
lc_mc_score_prebuilt(const struct lc_market *m, const struct lc_request *req,
    const struct lc_mc_prebuilt *pre, struct lc_score_result *out)
{
	struct lc_mc_stats st;
	enum lc_status rc;
	double np, slip = 0.0;
	size_t i;

	if (out->npos < req->npos)
		return LC_EINVAL;
	lc_mc_stats_init(&st);
	rc = mc_estimate(m, req, 0, pre, 0.0, NULL, &st);
	if (rc != LC_OK)
		return rc;
	np = (double)st.paths;
	for (i = 0; i < req->npos; i++) {
		const struct lc_position *p = &req->pos[i];
		struct lc_pos_result *r = &out->pos[i];
		uint32_t sa;
		enum lc_dir sd;

		if (p->type == LC_POS_LOAN &&
		    lc_loan_classify(&p->u.loan, req->vol, &sa, &sd) ==
		    LC_LOAN_COUPLED) {
			r->p_liq = st.p_liq[i];
			r->p_liq_static = st.p_liq_static[i];
			r->std_error = std_error(r->p_liq, np);
			r->std_error_static = std_error(r->p_liq_static, np);
			r->method = LC_MONTE_CARLO;
			r->exp_slip_bps = st.slip_bps[i];
			r->exp_slip_quote = st.slip_quote[i];
			if (isnan(r->unwind_bps) || isnan(r->unwind_quote))
				coupled_unwind(m, req, &p->u.loan,
				    &r->unwind_bps, &r->unwind_quote);
		}
		if (r->p_liq > 0.0 && isfinite(r->exp_slip_quote))
			slip += r->p_liq * r->exp_slip_quote;
	}
	out->portfolio.p_any = st.p_any;
	out->portfolio.p_any_se = std_error(st.p_any, np);
	out->portfolio.cascade_prob = st.cascade_any;
	out->portfolio.cascade_prob_se = std_error(st.cascade_any, np);
	out->portfolio.exp_slip_quote = slip;
	out->portfolio.method = LC_MONTE_CARLO;
	if (st.shrunk)
		rc = push_warning(out, LC_W_CORRELATION_SHRUNK);
	lc_mc_stats_release(&st);
	return rc;
}

/*
 * score.c - the exact path of POST /v1/score (docs/model.md 4.1, 5.1, 5.3, 6):
 * per-position liquidation prices and probabilities, per-market cascade
 * figures, and the portfolio figures when they are exact.
 *
 * Design
 * ------
 * 1. Every position is classified: perps and single-asset loans have a
 *    ladder (position.c); stable loans are decided now (p = 1 when
 *    liquidatable, else 0); coupled loans need Monte Carlo.
 * 2. Markets: each volatile asset of the request, in order of first
 *    appearance (loan collateral entries, then debt entries; perp asset).
 * 3. Triggers of an asset and direction (docs/model.md 4.1): the stored levels of
 *    that side, already sorted in cascade order, minus their stale prefix
 *    (sell >= P, buy <= P: lc_level_is_stale(); omitted with
 *    include_market_levels 0), merged with the request's ladder steps
 *    of that asset and direction, which are few and sorted stably first
 *    (stored levels first at equal prices, then positions in request
 *    order, steps in ladder order): each step finds its place by
 *    bisection and the runs of levels between steps are block copies.
 *    lc_cascade_build gives m_k and S_k on the curve of the direction
 *    (the one O(n) pass over the levels).
 *    Prebuilt: when the asset carries a base of these levels
 *    (lc_asset_market.base, built once per snapshot) that fits the
 *    request (same level arrays and stale prefix, curve, depth_scale) and
 *    either no Monte Carlo pass follows or the bucket has no request
 *    step (the Monte Carlo pass borrows the cascades: then the base's own
 *    cascade and its tables, else the rebuilt one), the
 *    bucket is a view instead (cascade_base.c): S_k, m_k, k* and the
 *    counts come from the base and the steps, the levels are not copied
 *    and only those between a step and a point asked beyond it are
 *    walked (one loan: O(steps log n)).  The same bits as the rebuild.
 * 4. A position whose first step is trigger j: effective price m_j (P when
 *    liquidatable now), p_liquidation = barrier probability at m_j,
 *    p_liquidation_static at the static price, expected slippage of the
 *    fill S_{j-1} .. S_{j-1} + x_j (docs/model.md 6), its quote amount at the
 *    static price (P when liquidatable now).  unwind_slippage closes the
 *    whole volatile exposure on today's curves from V0 = 0.
 * 5. Per market and direction: cascade trigger price m_{k*} and its
 *    probability, the trigger quantity within 10% of P (a prefix of the
 *    cascade order: S_k at its end, found by bisection), D(200 bps) after
 *    depth_scale, depth_exhausted.
 * 6. Portfolio: exact when every non-stable position is single-asset on
 *    one asset and direction; otherwise the request needs Monte Carlo:
 *    needs_mc is set, the fields it fills are left NAN, and lc_mc_score()
 *    (mc.c) fills them at the end unless params.paths is 0 (score.h),
 *    borrowing the cascades built here (mc_int.h, lc_mc_score_prebuilt).
 *
 * Decisions where docs/model.md is silent (also in score.h):
 * - stale_levels: one warning per asset (side -1), count = stale sell
 *   levels + stale buy levels; none when include_market_levels is 0.
 * - missing_depth: one warning per missing side of each market asset,
 *   both sides, because the answer reports both directions per market.
 * - depth_exhausted also counts the unwind fills (exact fills reported
 *   for that asset and direction).
 *
 * No allocation in steady state: everything lives in the result's
 * workspace and arrays, grown geometrically and reused across calls.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cascade/cascade.h"
#include "cascade/mc.h"
#include "cascade/score.h"
#include "cascade/stats.h"
#include "model/mc_int.h"

/* Per-position scratch. */
struct pos_info {
	int has_ladder;		/* perp or single-asset loan */
	enum lc_loan_kind kind;	/* loans */
	uint32_t asset;		/* ladder asset */
	enum lc_dir dir;	/* ladder direction */
	int now;		/* ladder: liquidatable now */
	double static_price;	/* NAN: null */
	size_t step0;		/* first step in ws->steps */
	size_t nsteps;
	size_t lp0;		/* first entry in lp_store */
	size_t nlp;
};

/* One request ladder step. */
struct step {
	double price;
	double qty;
	size_t pos;
	size_t comb;		/* its index in the combined trigger list */
};

struct score_ws {
	size_t asset_cap;
	int64_t *mkt_of;	/* asset -> market index, -1 */
	size_t pi_cap;
	struct pos_info *pi;
	size_t step_cap;
	struct step *steps;
	size_t idx_cap;
	size_t *idx;		/* step indices bucketed by (market, dir) */
	size_t tmp_cap;
	size_t *tmp;		/* merge sort scratch, bucket counters */
	size_t off_cap;
	size_t *off;		/* bucket offsets, 2 * nmarkets + 1 */
	size_t tp_cap, tq_cap;
	double *tp;		/* combined trigger prices */
	double *tq;		/* combined trigger quantities */
	size_t lpw_cap;
	struct lc_liq_price *lpw;	/* static liquidation prices */
	size_t cas_cap;
	struct lc_cascade *cas;	/* [2 * market + dir] */
	size_t exh_cap;
	int *exhausted;		/* [2 * market + dir] */
	size_t ks_cap;
	size_t *kstar;		/* [2 * market + dir]: k*, SIZE_MAX none */
	size_t nmk;		/* markets of the current call */
	/* prebuilt bases (lc_asset_market.base): [2 * market + dir] */
	size_t vw_cap;
	struct lc_cascade_view *view;	/* .b NULL: w->cas[] is used */
	size_t vp_cap, vq_cap, vss_cap, vms_cap, vat_cap;
	double *vp, *vq;	/* request triggers, by bucket (idx order) */
	double *vss, *vms;	/* the views' memos, like vp */
	size_t *vat;		/* a_i, ns + nb entries */
};

void
lc_params_default(struct lc_params *p)
{
	p->horizon_days = 1.0;
	p->tail_dof = 4.0;
	p->threshold_bps = 100.0;
	p->depth_scale = 1.0;
	p->include_market_levels = 1;
	p->paths = 20000;
	p->steps = 16;
	p->seed = 1;
	p->threads = 0;
}

void
lc_score_result_init(struct lc_score_result *r)
{
	memset(r, 0, sizeof(*r));
	r->pos = NULL;
	r->markets = NULL;
	r->warn = NULL;
	r->lp_store = NULL;
	r->ws = NULL;
}

static void
ws_free(struct score_ws *w)
{
	size_t i;

	if (w == NULL)
		return;
	free(w->mkt_of);
	free(w->pi);
	free(w->steps);
	free(w->idx);
	free(w->tmp);
	free(w->off);
	free(w->tp);
	free(w->tq);
	free(w->lpw);
	for (i = 0; i < w->cas_cap; i++)
		lc_cascade_release(&w->cas[i]);
	free(w->cas);
	free(w->exhausted);
	free(w->kstar);
	free(w->view);
	free(w->vp);
	free(w->vq);
	free(w->vss);
	free(w->vms);
	free(w->vat);
	free(w);
}

void
lc_score_result_release(struct lc_score_result *r)
{
	if (r == NULL)
		return;
	free(r->pos);
	free(r->markets);
	free(r->warn);
	free(r->lp_store);
	ws_free(r->ws);
	lc_score_result_init(r);
}

/* Grow *p to hold at least `need` elements of size sz (0 on success). */
static int
grow(void *pp, size_t *cap, size_t need, size_t sz)
{
	void **p = pp;
	size_t nc;
	void *q;

	if (need <= *cap && (*p != NULL || need == 0))
		return 0;
	nc = *cap > 8 ? *cap : 8;
	while (nc < need) {
		if (nc > SIZE_MAX / 2 / sz)
			return -1;
		nc *= 2;
	}
	q = realloc(*p, nc * sz);
	if (q == NULL)
		return -1;
	*p = q;
	*cap = nc;
	return 0;
}

static int
grow_cascades(struct score_ws *w, size_t need)
{
	size_t old = w->cas_cap, i;

	if (grow(&w->cas, &w->cas_cap, need, sizeof(*w->cas)) != 0)
		return -1;
	for (i = old; i < w->cas_cap; i++)
		lc_cascade_init(&w->cas[i]);
	if (grow(&w->kstar, &w->ks_cap, need, sizeof(*w->kstar)) != 0)
		return -1;
	return grow(&w->exhausted, &w->exh_cap, need, sizeof(*w->exhausted));
}

static enum lc_side
side_of(enum lc_dir d)
{
	return d == LC_DOWN ? LC_BID : LC_ASK;
}

/* S_k and m_k of bucket b's cascade, prebuilt (view) or rebuilt. */
static double
bucket_cum(struct score_ws *w, size_t b, size_t k)
{
	if (w->view[b].b != NULL)
		return lc_view_cum(&w->view[b], k);
	return w->cas[b].cum[k];
}

static double
bucket_m(struct score_ws *w, size_t b, size_t k)
{
	if (w->view[b].b != NULL)
		return lc_view_m(&w->view[b], k);
	return w->cas[b].m[k];
}

/* a strictly before b in cascade order of d. */
static int
before(enum lc_dir d, double a, double b)
{
	return d == LC_DOWN ? a > b : a < b;
}

/*
 * First index e in [lo, hi) of prices in cascade order of d that x comes
 * strictly before (hi when none): every price before e is at or before x.
 */
static size_t
level_run_end(const double *price, size_t lo, size_t hi, enum lc_dir d,
    double x)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (before(d, x, price[mid]))
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Stable bottom-up merge sort of step indices by price, cascade order. */
static void
sort_steps(const struct step *st, enum lc_dir d, size_t *a, size_t *tmp,
    size_t n)
{
	size_t width, i;

	for (width = 1; width < n; width *= 2) {
		for (i = 0; i < n; i += 2 * width) {
			size_t lo = i, mid = i + width, hi = i + 2 * width;
			size_t l, r, k;

			if (mid >= n) {
				memcpy(tmp + lo, a + lo, (n - lo) * sizeof(*a));
				continue;
			}
			if (hi > n)
				hi = n;
			l = lo;
			r = mid;
			k = lo;
			while (l < mid && r < hi) {
				if (before(d, st[a[r]].price, st[a[l]].price))
					tmp[k++] = a[r++];
				else
					tmp[k++] = a[l++];
			}
			while (l < mid)
				tmp[k++] = a[l++];
			while (r < hi)
				tmp[k++] = a[r++];
		}
		memcpy(a, tmp, n * sizeof(*a));
	}
}

static double
unwind_side(const struct lc_asset_market *am, double net, double scale,
    double p0, double *quote, double *notional, int *exh_down, int *exh_up)
{
	enum lc_side side = net > 0.0 ? LC_BID : LC_ASK;
	const struct lc_curve *c = &am->curve[side];
	double q = fabs(net), slip;

	if (!(q > 0.0))
		return 0.0;
	slip = lc_fill_slippage_bps(c, side, 0.0, q, scale);
	*quote += slip / 1e4 * q * p0;
	*notional += q * p0;
	if (c->n > 0 && q > lc_curve_max_qty(c, scale)) {
		if (side == LC_BID)
			*exh_down = 1;
		else
			*exh_up = 1;
	}
	return slip;
}

/*
 * Unwind of a loan: net each volatile asset (collateral - debt) and close
 * it on today's curves from V0 = 0 (docs/model.md 6).  *has: any volatile asset.
 */
static void
loan_unwind(const struct lc_market *m, const struct lc_request *req,
    const struct lc_loan *l, struct score_ws *w, int *has,
    double *bps, double *quote)
{
	double notional = 0.0, q = 0.0;
	size_t idx, i;

	*has = 0;
	for (idx = 0; idx < l->ncoll + l->ndebt; idx++) {
		const struct lc_entry *e = idx < l->ncoll ? &l->coll[idx] :
		    &l->debt[idx - l->ncoll];
		uint32_t a = e->asset;
		double net = 0.0;
		int seen = 0;
		int64_t mk;

		if (!(e->amount > 0.0) || !(req->vol[a] > 0.0))
			continue;
		for (i = 0; i < idx && !seen; i++) {
			const struct lc_entry *f = i < l->ncoll ? &l->coll[i] :
			    &l->debt[i - l->ncoll];

			seen = f->amount > 0.0 && f->asset == a;
		}
		if (seen)
			continue;
		*has = 1;
		for (i = 0; i < l->ncoll; i++)
			if (l->coll[i].asset == a && l->coll[i].amount > 0.0)
				net += l->coll[i].amount;
		for (i = 0; i < l->ndebt; i++)
			if (l->debt[i].asset == a && l->debt[i].amount > 0.0)
				net -= l->debt[i].amount;
		mk = w->mkt_of[a];
		unwind_side(&m->assets[a], net, req->params.depth_scale,
		    req->price[a], &q, &notional,
		    &w->exhausted[2 * (size_t)mk + LC_DOWN],
		    &w->exhausted[2 * (size_t)mk + LC_UP]);
	}
	*quote = q;
	*bps = notional > 0.0 ? 1e4 * q / notional : 0.0;
}

static enum lc_status
check_request(const struct lc_market *m, const struct lc_request *req)
{
	const struct lc_params *pp = &req->params;
	size_t i, k;

	if (req->price == NULL || req->vol == NULL ||
	    (req->npos > 0 && req->pos == NULL) ||
	    (m->nassets > 0 && m->assets == NULL))
		return LC_EINVAL;
	if (!(pp->depth_scale > 0.0) || !isfinite(pp->depth_scale) ||
	    !(pp->horizon_days > 0.0) || !isfinite(pp->horizon_days) ||
	    !(pp->threshold_bps > 0.0) || !isfinite(pp->threshold_bps) ||
	    !(pp->tail_dof == 0.0 || pp->tail_dof > 2.0))
		return LC_EINVAL;
	for (i = 0; i < m->nassets; i++)
		if (!(req->price[i] > 0.0) || !isfinite(req->price[i]) ||
		    !(req->vol[i] >= 0.0) || !isfinite(req->vol[i]))
			return LC_EINVAL;
	for (i = 0; i < req->npos; i++) {
		const struct lc_position *p = &req->pos[i];

		if (p->type == LC_POS_PERP) {
			const struct lc_perp *pe = &p->u.perp;

			if (pe->asset >= m->nassets ||
			    !(req->vol[pe->asset] > 0.0) ||
			    !(pe->size > 0.0) || !(pe->entry > 0.0) ||
			    (pe->ntiers > 0 && pe->tiers == NULL))
				return LC_EINVAL;
		} else if (p->type == LC_POS_LOAN) {
			const struct lc_loan *l = &p->u.loan;

			if ((l->ncoll > 0 && l->coll == NULL) ||
			    (l->ndebt > 0 && l->debt == NULL))
				return LC_EINVAL;
			for (k = 0; k < l->ncoll; k++)
				if (l->coll[k].asset >= m->nassets)
					return LC_EINVAL;
			for (k = 0; k < l->ndebt; k++)
				if (l->debt[k].asset >= m->nassets)
					return LC_EINVAL;
		} else {
			return LC_EINVAL;
		}
	}
	return LC_OK;
}

static void
add_market(struct score_ws *w, const struct lc_request *req, uint32_t a,
    size_t *nm)
{
	if (req->vol[a] > 0.0 && w->mkt_of[a] < 0)
		w->mkt_of[a] = (int64_t)(*nm)++;
}

/*
 * Pass 1: classify positions, register markets, collect ladder steps and
 * count liquidation-price entries.
 */
static enum lc_status
collect(const struct lc_market *m, const struct lc_request *req,
    struct score_ws *w, size_t *nm_out, size_t *nsteps_out, size_t *nlp_out)
{
	size_t i, k, nm = 0, ns = 0, nlp = 0;
	struct lc_ladder ld;

	for (i = 0; i < m->nassets; i++)
		w->mkt_of[i] = -1;
	for (i = 0; i < req->npos; i++) {
		const struct lc_position *p = &req->pos[i];
		struct pos_info *pi = &w->pi[i];

		memset(pi, 0, sizeof(*pi));
		pi->static_price = NAN;
		ld.n = 0;
		if (p->type == LC_POS_PERP) {
			struct lc_perp_liq pl;

			add_market(w, req, p->u.perp.asset, &nm);
			lc_perp_liq_price(&p->u.perp, req->price, &pl);
			lc_perp_ladder(&p->u.perp, req->price, &ld);
			pi->has_ladder = 1;
			pi->static_price = pl.price;
			pi->nlp = 1;
			if (grow(&w->lpw, &w->lpw_cap, nlp + 1,
			    sizeof(*w->lpw)) != 0)
				return LC_ENOMEM;
			w->lpw[nlp].asset = p->u.perp.asset;
			w->lpw[nlp].dir = ld.dir;
			w->lpw[nlp].price = pl.price;
		} else {
			const struct lc_loan *l = &p->u.loan;
			size_t n = 0;

			for (k = 0; k < l->ncoll; k++)
				if (l->coll[k].amount > 0.0)
					add_market(w, req, l->coll[k].asset,
					    &nm);
			for (k = 0; k < l->ndebt; k++)
				if (l->debt[k].amount > 0.0)
					add_market(w, req, l->debt[k].asset,
					    &nm);
			pi->kind = lc_loan_classify(l, req->vol, NULL, NULL);
			lc_loan_liq_prices(l, req->price, req->vol, NULL, 0,
			    &n);
			pi->nlp = n;
			if (grow(&w->lpw, &w->lpw_cap, nlp + n,
			    sizeof(*w->lpw)) != 0)
				return LC_ENOMEM;
			/* no liquidation price: lpw may still be NULL */
			lc_loan_liq_prices(l, req->price, req->vol,
			    n > 0 ? w->lpw + nlp : NULL, n, &n);
			if (pi->kind == LC_LOAN_SINGLE) {
				lc_loan_ladder(l, req->price, req->vol, &ld);
				pi->has_ladder = 1;
			}
		}
		pi->lp0 = nlp;
		nlp += pi->nlp;
		if (!pi->has_ladder)
			continue;
		pi->asset = ld.asset;
		pi->dir = ld.dir;
		pi->now = ld.liquidatable_now;
		pi->step0 = ns;
		pi->nsteps = ld.n;
		if (grow(&w->steps, &w->step_cap, ns + ld.n,
		    sizeof(*w->steps)) != 0)
			return LC_ENOMEM;
		for (k = 0; k < ld.n; k++) {
			w->steps[ns].price = ld.price[k];
			w->steps[ns].qty = ld.qty[k];
			w->steps[ns].pos = i;
			w->steps[ns].comb = 0;
			ns++;
		}
	}
	*nm_out = nm;
	*nsteps_out = ns;
	*nlp_out = nlp;
	return LC_OK;
}

/* Number of stale levels at the front of a sorted level list. */
static size_t
stale_prefix(const struct lc_levels *lv, enum lc_dir d, double p0)
{
	return lc_levels_stale(d, lv->price, lv->n, p0);
}

/*
 * Pass 2: bucket the steps by (market, dir), sort each bucket stably,
 * merge it with the stored levels and build the cascades.
 */
/*
 * Bucket b's steps idx[s0..s1) against the prebuilt base: the view
 * (cascade_base.c) answers from the base and the steps alone.  The steps
 * are checked as lc_cascade_build would check them.
 */
static enum lc_status
view_bucket(struct score_ws *w, size_t b, const struct lc_cascade_base *base,
    size_t s0, size_t s1)
{
	struct lc_cascade_view *v = &w->view[b];
	size_t k;

	for (k = s0; k < s1; k++) {
		const struct step *s = &w->steps[w->idx[k]];

		if (!isfinite(s->price) || !(s->price > 0.0) ||
		    !isfinite(s->qty) || !(s->qty >= 0.0))
			return LC_EINVAL;
		w->vp[k] = s->price;
		w->vq[k] = s->qty;
	}
	lc_view_init(v, base, w->vp + s0, w->vq + s0, s1 - s0,
	    w->vat + s0 + b, w->vss + s0, w->vms + s0);
	for (k = s0; k < s1; k++)
		w->steps[w->idx[k]].comb = lc_view_index(v, k - s0);
	return LC_OK;
}

static enum lc_status
build_cascades(const struct lc_market *m, const struct lc_request *req,
    struct score_ws *w, size_t nm, size_t ns, int use_base,
    struct lc_score_result *out)
{
	size_t nb = 2 * nm, b, i;
	int inc = req->params.include_market_levels;
	double scale = req->params.depth_scale;

	if (grow(&w->off, &w->off_cap, nb + 1, sizeof(*w->off)) != 0 ||
	    grow(&w->idx, &w->idx_cap, ns, sizeof(*w->idx)) != 0 ||
	    grow_cascades(w, nb) != 0 ||
	    grow(&w->view, &w->vw_cap, nb, sizeof(*w->view)) != 0 ||
	    grow(&w->vp, &w->vp_cap, ns, sizeof(*w->vp)) != 0 ||
	    grow(&w->vq, &w->vq_cap, ns, sizeof(*w->vq)) != 0 ||
	    grow(&w->vss, &w->vss_cap, ns, sizeof(*w->vss)) != 0 ||
	    grow(&w->vms, &w->vms_cap, ns, sizeof(*w->vms)) != 0 ||
	    grow(&w->vat, &w->vat_cap, ns + nb, sizeof(*w->vat)) != 0)
		return LC_ENOMEM;
	/* tmp doubles as the per-bucket fill counters: nb entries. */
	if (grow(&w->tmp, &w->tmp_cap, ns > nb ? ns : nb,
	    sizeof(*w->tmp)) != 0)
		return LC_ENOMEM;
	memset(w->off, 0, (nb + 1) * sizeof(*w->off));
	for (i = 0; i < ns; i++) {
		const struct step *s = &w->steps[i];
		const struct pos_info *pi = &w->pi[s->pos];

		w->off[2 * (size_t)w->mkt_of[pi->asset] + pi->dir + 1]++;
	}
	for (b = 0; b < nb; b++)
		w->off[b + 1] += w->off[b];
	{
		/* Fill in request order: counting sort keeps it stable. */
		size_t *fill = w->tmp;

		for (b = 0; b < nb; b++)
			fill[b] = 0;
		for (i = 0; i < ns; i++) {
			const struct pos_info *pi = &w->pi[w->steps[i].pos];

			b = 2 * (size_t)w->mkt_of[pi->asset] + pi->dir;
			w->idx[w->off[b] + fill[b]++] = i;
		}
	}
	for (b = 0; b < nb; b++) {
		size_t mk = b / 2, a = 0, ntrig, nst, is, k, t, nl;
		enum lc_dir d = (enum lc_dir)(b % 2);
		const struct lc_asset_market *am;
		const struct lc_levels *lv;
		struct lc_dir_result *dr;
		size_t s0, s1;
		double p0, sigma_h, tp, bound;
		enum lc_status st;
		size_t ks, k10;
		int trig;

		a = out->markets[mk].asset;
		am = &m->assets[a];
		lv = &am->levels[d];
		p0 = req->price[a];
		s0 = w->off[b];
		s1 = w->off[b + 1];
		/* no step here (idx may still be NULL): nothing to sort */
		if (s1 > s0)
			sort_steps(w->steps, d, w->idx + s0, w->tmp, s1 - s0);
		w->view[b].b = NULL;
		/* with a Monte Carlo pass ahead, only buckets it can borrow */
		if ((use_base || s1 == s0) && inc && lv->price != NULL &&
		    lc_cascade_base_fits(am->base[d], d,
		    &am->curve[side_of(d)], scale, lv->price, lv->n, p0)) {
			st = view_bucket(w, b, am->base[d], s0, s1);
			if (st != LC_OK)
				return st;
			ntrig = lc_view_n(&w->view[b]);
			goto figures;
		}
		is = inc ? stale_prefix(lv, d, p0) : 0;
		nst = inc && lv->price != NULL ? lv->n - is : 0;
		ntrig = nst + (s1 - s0);
		if (grow(&w->tp, &w->tp_cap, ntrig, sizeof(*w->tp)) != 0 ||
		    grow(&w->tq, &w->tq_cap, ntrig, sizeof(*w->tq)) != 0)
			return LC_ENOMEM;
		/*
		 * Merge: stored levels first at equal prices.  The steps are
		 * few: each finds by bisection the first level it comes
		 * strictly before, and the runs of levels between them are
		 * copied whole.
		 */
		t = 0;
		i = is;
		nl = inc && lv->price != NULL ? lv->n : is;
		for (k = s0; k < s1; k++) {
			struct step *s = &w->steps[w->idx[k]];
			size_t e = level_run_end(lv->price, i, nl, d, s->price);

			if (e > i) {
				memcpy(w->tp + t, lv->price + i,
				    (e - i) * sizeof(double));
				memcpy(w->tq + t, lv->qty + i,
				    (e - i) * sizeof(double));
				t += e - i;
				i = e;
			}
			s->comb = t;
			w->tp[t] = s->price;
			w->tq[t++] = s->qty;
		}
		if (nl > i) {
			memcpy(w->tp + t, lv->price + i,
			    (nl - i) * sizeof(double));
			memcpy(w->tq + t, lv->qty + i,
			    (nl - i) * sizeof(double));
		}
		st = lc_cascade_build(&w->cas[b], d, &am->curve[side_of(d)],
		    scale, w->tp, w->tq, ntrig);
		if (st != LC_OK)
			return st;

figures:
		/* Market figures of this direction. */
		dr = &out->markets[mk].dir[d];
		sigma_h = lc_sigma_h(req->vol[a], req->params.horizon_days);
		w->kstar[b] = SIZE_MAX;
		bound = d == LC_DOWN ? 0.9 * p0 : 1.1 * p0;
		if (w->view[b].b != NULL) {
			trig = lc_view_trigger(&w->view[b],
			    req->params.threshold_bps, &tp, &ks);
			k10 = lc_view_count_to(&w->view[b], bound);
		} else {
			trig = lc_cascade_trigger(&w->cas[b],
			    req->params.threshold_bps, &tp, &ks);
			k10 = level_run_end(w->tp, 0, ntrig, d, bound);
		}
		if (trig == 0) {
			w->kstar[b] = ks;
			dr->trigger_price = tp;
			dr->cascade_prob = lc_barrier_prob(d, p0, tp, sigma_h,
			    req->params.tail_dof);
		} else {
			dr->trigger_price = NAN;
			dr->cascade_prob = 0.0;
		}
		/*
		 * The triggers within 10% of P are a prefix of the cascade
		 * order, and cum sums them in that order: the same bits as
		 * adding them up one by one.
		 */
		dr->qty_to_10pct = bucket_cum(w, b, k10);
		dr->depth_2pct = lc_curve_depth(&am->curve[side_of(d)], 200.0,
		    scale);
		if (w->view[b].b != NULL)
			w->exhausted[b] = am->curve[side_of(d)].n > 0 &&
			    lc_view_total_above(&w->view[b], lc_curve_max_qty(
			    &am->curve[side_of(d)], scale));
		else
			w->exhausted[b] = am->curve[side_of(d)].n > 0 &&
			    w->cas[b].cum[ntrig] >
			    lc_curve_max_qty(&am->curve[side_of(d)], scale);
	}
	return LC_OK;
}

static int
add_warning(struct lc_score_result *out, enum lc_warning_code code,
    int64_t asset, int side, int64_t count)
{
	struct lc_warning *wn;

	if (grow(&out->warn, &out->warn_cap, out->nwarn + 1,
	    sizeof(*out->warn)) != 0)
		return -1;
	wn = &out->warn[out->nwarn++];
	wn->code = code;
	wn->asset = asset;
	wn->side = side;
	wn->count = count;
	wn->position = -1;
	return 0;
}

/* Pass 3: per-position results. */
static void
position_results(const struct lc_market *m, const struct lc_request *req,
    struct score_ws *w, struct lc_score_result *out)
{
	const struct lc_params *pp = &req->params;
	size_t i, k;

	for (i = 0; i < req->npos; i++) {
		const struct lc_position *p = &req->pos[i];
		const struct pos_info *pi = &w->pi[i];
		struct lc_pos_result *r = &out->pos[i];
		struct lc_liq_result *lr;
		const struct step *s0;
		double p0, sigma_h, sp;
		size_t b;

		r->type = p->type;
		r->nlp = pi->nlp;
		r->lp = pi->nlp > 0 ? out->lp_store + pi->lp0 : NULL;
		for (k = 0; k < pi->nlp; k++) {
			const struct lc_liq_price *src = &w->lpw[pi->lp0 + k];

			lr = &r->lp[k];
			lr->asset = src->asset;
			lr->dir = src->dir;
			lr->price = src->price;
			lr->effective_price = NAN;
			lr->distance_pct = isnan(src->price) ? (double)NAN :
			    (src->price / req->price[src->asset] - 1.0) * 100.0;
		}
		r->health_factor = NAN;
		r->common_move_pct = NAN;
		r->method = LC_EXACT;
		r->std_error = 0.0;
		r->std_error_static = 0.0;
		r->exp_slip_bps = NAN;
		r->exp_slip_quote = NAN;
		r->unwind_bps = NAN;
		r->unwind_quote = NAN;
		r->p_liq = 0.0;
		r->p_liq_static = 0.0;

		if (p->type == LC_POS_LOAN) {
			const struct lc_loan *l = &p->u.loan;
			int has;

			r->health_factor = lc_loan_health(l, req->price);
			r->liquidatable = r->health_factor <= 1.0;
			r->common_move_pct = lc_loan_common_move(l, req->price,
			    req->vol);
			loan_unwind(m, req, l, w, &has, &r->unwind_bps,
			    &r->unwind_quote);
			if (!has) {
				r->unwind_bps = NAN;
				r->unwind_quote = NAN;
			}
			if (pi->kind == LC_LOAN_STABLE) {
				r->p_liq = r->liquidatable ? 1.0 : 0.0;
				r->p_liq_static = r->p_liq;
				continue;
			}
			if (pi->kind == LC_LOAN_COUPLED) {
				/* Filled by the Monte Carlo pass (score.h). */
				r->method = LC_MONTE_CARLO;
				r->p_liq = r->p_liq_static = NAN;
				r->std_error = r->std_error_static = NAN;
				continue;
			}
		} else {
			const struct lc_perp *pe = &p->u.perp;
			double q = 0.0, notional = 0.0;
			size_t mk = (size_t)w->mkt_of[pe->asset];

			r->liquidatable = pi->now;
			r->unwind_bps = unwind_side(&m->assets[pe->asset],
			    pe->is_short ? -pe->size : pe->size,
			    pp->depth_scale, req->price[pe->asset], &q,
			    &notional, &w->exhausted[2 * mk + LC_DOWN],
			    &w->exhausted[2 * mk + LC_UP]);
			r->unwind_quote = q;
		}

		/* Single-asset loan or perp: exact, through the cascade. */
		lr = &r->lp[0];
		sp = lr->price;
		p0 = req->price[pi->asset];
		sigma_h = lc_sigma_h(req->vol[pi->asset], pp->horizon_days);
		b = 2 * (size_t)w->mkt_of[pi->asset] + pi->dir;
		if (pi->now)
			r->p_liq_static = 1.0;
		else if (!isnan(sp))
			r->p_liq_static = lc_barrier_prob(pi->dir, p0, sp,
			    sigma_h, pp->tail_dof);
		if (pi->nsteps == 0) {
			/*
			 * Never liquidated; or liquidatable now with nothing
			 * left to seize (a fill of zero quantity).
			 */
			if (pi->now) {
				lr->effective_price = p0;
				r->p_liq = 1.0;
				r->exp_slip_bps = 0.0;
				r->exp_slip_quote = 0.0;
			}
			continue;
		}
		s0 = &w->steps[pi->step0];
		if (pi->now) {
			lr->effective_price = p0;
			r->p_liq = 1.0;
		} else {
			lr->effective_price = bucket_m(w, b, s0->comb + 1);
			r->p_liq = lc_barrier_prob(pi->dir, p0,
			    lr->effective_price, sigma_h, pp->tail_dof);
		}
		{
			double v0 = bucket_cum(w, b, s0->comb);
			enum lc_side sd = side_of(pi->dir);

			r->exp_slip_bps = lc_fill_slippage_bps(
			    &m->assets[pi->asset].curve[sd], sd, v0,
			    v0 + s0->qty, pp->depth_scale);
			r->exp_slip_quote = r->exp_slip_bps / 1e4 * s0->qty *
			    (pi->now ? p0 : sp);
		}
	}
}

/*
 * Will the Monte Carlo pass run?  The classification of portfolio()
 * before the cascades are built: that pass borrows the cascades
 * (pre_cascade), so with it the prebuilt bases are used only for the
 * buckets without request steps (their cascade is the base's own).
 */
static int
mc_ahead(const struct lc_request *req, const struct score_ws *w)
{
	size_t i, n = 0;
	uint32_t asset = 0;
	enum lc_dir dir = LC_DOWN;

	for (i = 0; i < req->npos; i++) {
		const struct pos_info *pi = &w->pi[i];

		if (req->pos[i].type == LC_POS_LOAN &&
		    pi->kind == LC_LOAN_COUPLED)
			return 1;
		if (!pi->has_ladder)
			continue;
		if (n == 0) {
			asset = pi->asset;
			dir = pi->dir;
		} else if (pi->asset != asset || pi->dir != dir) {
			return 1;
		}
		n++;
	}
	return 0;
}

/* Pass 4: portfolio figures (docs/model.md 5.3). */
static void
portfolio(const struct lc_request *req, const struct score_ws *w,
    struct lc_score_result *out)
{
	struct lc_portfolio_result *pf = &out->portfolio;
	size_t i, n = 0;
	int mc = 0, any_now = 0;
	uint32_t asset = 0;
	enum lc_dir dir = LC_DOWN;
	double best = NAN, slip = 0.0;

	for (i = 0; i < req->npos && !mc; i++) {
		const struct pos_info *pi = &w->pi[i];
		const struct lc_pos_result *r = &out->pos[i];

		if (r->liquidatable)
			any_now = 1;
		if (r->type == LC_POS_LOAN && pi->kind == LC_LOAN_COUPLED) {
			mc = 1;
			break;
		}
		if (!pi->has_ladder)
			continue;	/* stable loan: p is 0 or 1 */
		if (n == 0) {
			asset = pi->asset;
			dir = pi->dir;
		} else if (pi->asset != asset || pi->dir != dir) {
			mc = 1;
			break;
		}
		n++;
		if (r->lp != NULL && !isnan(r->lp[0].effective_price) &&
		    (isnan(best) || before(dir, r->lp[0].effective_price,
		    best)))
			best = r->lp[0].effective_price;
	}
	out->needs_mc = mc;
	if (mc) {
		pf->p_any = pf->p_any_se = NAN;
		pf->cascade_prob = pf->cascade_prob_se = NAN;
		pf->exp_slip_quote = NAN;
		pf->method = LC_MONTE_CARLO;
		return;
	}
	pf->method = LC_EXACT;
	pf->p_any_se = 0.0;
	pf->cascade_prob_se = 0.0;
	if (any_now)
		pf->p_any = 1.0;
	else if (!isnan(best))
		pf->p_any = lc_barrier_prob(dir, req->price[asset], best,
		    lc_sigma_h(req->vol[asset], req->params.horizon_days),
		    req->params.tail_dof);
	else
		pf->p_any = 0.0;
	pf->cascade_prob = n > 0 ?
	    out->markets[w->mkt_of[asset]].dir[dir].cascade_prob : 0.0;
	for (i = 0; i < req->npos; i++) {
		const struct lc_pos_result *r = &out->pos[i];

		if (!isnan(r->exp_slip_quote) && r->p_liq > 0.0)
			slip += r->p_liq * r->exp_slip_quote;
	}
	pf->exp_slip_quote = slip;
}

static enum lc_status
warnings(const struct lc_market *m, const struct lc_request *req,
    struct lc_score_result *out)
{
	size_t mk;

	out->nwarn = 0;
	for (mk = 0; mk < out->nmarkets; mk++) {
		uint32_t a = out->markets[mk].asset;
		const struct lc_asset_market *am = &m->assets[a];
		size_t stale = 0;
		int sd;

		if (req->params.include_market_levels)
			stale = stale_prefix(&am->levels[LC_DOWN], LC_DOWN,
			    req->price[a]) + stale_prefix(&am->levels[LC_UP],
			    LC_UP, req->price[a]);
		if (stale > 0 && add_warning(out, LC_W_STALE_LEVELS, a, -1,
		    (int64_t)stale) != 0)
			return LC_ENOMEM;
		for (sd = LC_BID; sd <= LC_ASK; sd++)
			if (am->curve[sd].n == 0 && add_warning(out,
			    LC_W_MISSING_DEPTH, a, sd, -1) != 0)
				return LC_ENOMEM;
	}
	return LC_OK;
}

/*
 * The exact pass's cascades, lent to the Monte Carlo pass of the same
 * lc_score() call (mc_int.h, struct lc_mc_prebuilt): the triggers are the
 * same (stored non-stale levels and single-asset ladder steps, docs/model.md 4.1
 * order).
 */
/* Bucket of (asset, dir) in the current call, SIZE_MAX: none. */
static size_t
pre_bucket(const struct score_ws *w, uint32_t asset, enum lc_dir dir)
{
	if (w == NULL || asset >= w->asset_cap || w->mkt_of[asset] < 0 ||
	    (size_t)w->mkt_of[asset] >= w->nmk)
		return SIZE_MAX;
	return 2 * (size_t)w->mkt_of[asset] + (size_t)dir;
}

static const struct lc_cascade *
pre_cascade(const void *ctx, uint32_t asset, enum lc_dir dir, size_t *kstar)
{
	const struct lc_score_result *out = ctx;
	const struct score_ws *w = out->ws;
	size_t b = pre_bucket(w, asset, dir);

	if (b == SIZE_MAX)
		return NULL;
	*kstar = w->kstar[b];
	if (w->view[b].b != NULL)	/* no step here: the base's own */
		return w->view[b].r == 0 ? &w->view[b].b->c : NULL;
	return &w->cas[b];
}

/* The base whose cascade pre_cascade() lends, or NULL. */
static const struct lc_cascade_base *
pre_base(const void *ctx, uint32_t asset, enum lc_dir dir)
{
	const struct lc_score_result *out = ctx;
	const struct score_ws *w = out->ws;
	size_t b = pre_bucket(w, asset, dir);

	return b != SIZE_MAX && w->view[b].b != NULL && w->view[b].r == 0 ?
	    w->view[b].b : NULL;
}

static size_t
pre_first(const void *ctx, size_t pos)
{
	const struct lc_score_result *out = ctx;
	const struct score_ws *w = out->ws;
	const struct pos_info *pi = &w->pi[pos];

	if (!pi->has_ladder || pi->nsteps == 0)
		return SIZE_MAX;
	return w->steps[pi->step0].comb;
}

enum lc_status
lc_score(const struct lc_market *m, const struct lc_request *req,
    struct lc_score_result *out)
{
	struct score_ws *w;
	struct lc_mc_prebuilt pre;
	size_t nm = 0, ns = 0, nlp = 0, a, mk;
	enum lc_status st;

	if (m == NULL || req == NULL || out == NULL)
		return LC_EINVAL;
	st = check_request(m, req);
	if (st != LC_OK)
		return st;
	if (out->ws == NULL) {
		out->ws = calloc(1, sizeof(struct score_ws));
		if (out->ws == NULL)
			return LC_ENOMEM;
	}
	w = out->ws;
	out->npos = 0;
	out->nmarkets = 0;
	out->nwarn = 0;
	out->needs_mc = 0;
	if (grow(&w->mkt_of, &w->asset_cap, m->nassets, sizeof(*w->mkt_of))
	    != 0 || grow(&w->pi, &w->pi_cap, req->npos, sizeof(*w->pi)) != 0)
		return LC_ENOMEM;
	st = collect(m, req, w, &nm, &ns, &nlp);
	if (st != LC_OK)
		return st;
	if (grow(&out->pos, &out->pos_cap, req->npos, sizeof(*out->pos))
	    != 0 || grow(&out->markets, &out->mk_cap, nm,
	    sizeof(*out->markets)) != 0 || grow(&out->lp_store, &out->lp_cap,
	    nlp, sizeof(*out->lp_store)) != 0)
		return LC_ENOMEM;
	for (a = 0; a < m->nassets; a++)
		if (w->mkt_of[a] >= 0)
			out->markets[w->mkt_of[a]].asset = (uint32_t)a;
	out->nmarkets = nm;
	st = build_cascades(m, req, w, nm, ns,
	    req->params.paths == 0 || !mc_ahead(req, w), out);
	if (st != LC_OK)
		return st;
	out->npos = req->npos;
	position_results(m, req, w, out);
	for (mk = 0; mk < nm; mk++) {
		out->markets[mk].dir[LC_DOWN].depth_exhausted =
		    w->exhausted[2 * mk + LC_DOWN];
		out->markets[mk].dir[LC_UP].depth_exhausted =
		    w->exhausted[2 * mk + LC_UP];
	}
	portfolio(req, w, out);
	st = warnings(m, req, out);
	if (st != LC_OK || !out->needs_mc || req->params.paths == 0)
		return st;
	w->nmk = nm;
	pre.ctx = out;
	pre.cascade = pre_cascade;
	pre.first = pre_first;
	pre.base = pre_base;
	return lc_mc_score_prebuilt(m, req, &pre, out);
}

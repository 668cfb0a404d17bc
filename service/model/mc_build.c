/*
 * mc_build.c - the cold part of the Monte Carlo engine, once per call:
 * the model compiled from a request (involved assets, correlation and its
 * Cholesky factor, coupled loans, cascades with the per-path tables of
 * mc_walk.c) and the per-worker workspaces (docs/model.md 4.2, 5.2).
 *
 * Design
 * ------
 * Assets.  The simulated ("involved") assets are the volatile assets of
 * the request's positions, indexed 0..n-1.  R_ab is the market's
 * correlation (default for missing pairs), factored R = L L^T by
 * lc_mc_cholesky() (pivots < 1e-12 are zero; not PSD: off-diagonals
 * shrink by 0.9, at most 200 times, correlation_shrunk).
 *
 * Cholesky: a zero pivot with a residual above 1e-6 below it is not PSD
 * either (else rows 1 = 2 with different rho to 3 would pass): a reading
 * of docs/model.md 5.2.
 *
 * Coupled loans.  Entries of the same asset on one side are merged
 * (amounts add, LT becomes the amount-weighted mean); each loan lists its
 * distinct volatile assets, collateral first, and owns an nv x nv block
 * of the path covariances and a 2 nv + 2 block of folded amounts.
 *
 * No allocation per path: all per-path state lives in per-worker
 * workspaces allocated once per call.
 *
 * Setup.  Called from lc_score() the engine borrows the cascades its exact
 * pass has just built for the same request (mc_int.h, struct
 * lc_mc_prebuilt): docs/model.md 4.1 triggers are the same, so only the
 * per-path tables (ln(m_k / P), g(S_k) by a monotone curve cursor, the
 * bucket index) are made here.  Where lc_score() lends a snapshot base's
 * own cascade (no request step in that direction) at the base's price
 * p0, the base has those tables already (cascade_base.c, the same
 * expressions): they are borrowed, and the setup does no work per level.
 * Called directly it builds them itself.
 * With LC_MC_BOOK_LOSS the request's steps are also replayed at their
 * fill prices e_j = m_j g(S_{j-1}) (book_tables(), lc_book_replay()):
 * value and constant bad debt as prefix sums over the triggers, the
 * steps whose bad debt depends on the end price listed.
 * e' (e'') is not drawn when nothing reads a minimum (maximum): no
 * trigger in that direction and no coupled loan with volatile collateral
 * (debt).
 */
#include "model/mc_int.h"
#include "cascade/book.h"
#include "cascade/cascade.h"
#include "cascade/curve.h"
#include "cascade/position.h"
#include "cascade/rng.h"
#include "cascade/stats.h"
#include "model/curve_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SHRINK 200
#define PIVOT_ZERO 1e-12
#define PIVOT_NEG (-1e-9)
#define RESID_TOL 1e-6
#define AAVE_FLB_DEFAULT 2000.0

/* ------------------------------------------------------------------ */
/* Correlation */

int
lc_mc_cholesky(double *r, double *l, size_t n)
{
	int shrink;
	size_t i, j, kx;

	for (shrink = 0; shrink <= MAX_SHRINK; shrink++) {
		int ok = 1;

		if (shrink > 0)
			for (i = 0; i < n; i++)
				for (j = 0; j < n; j++)
					if (i != j)
						r[i * n + j] *= 0.9;
		memset(l, 0, n * n * sizeof(*l));
		for (j = 0; j < n && ok; j++) {
			double d = r[j * n + j];

			for (kx = 0; kx < j; kx++)
				d -= l[j * n + kx] * l[j * n + kx];
			if (d < PIVOT_NEG) {
				ok = 0;
				break;
			}
			if (d < PIVOT_ZERO) {
				/* zero pivot: its column must be zero too */
				for (i = j + 1; i < n; i++) {
					double res = r[i * n + j];

					for (kx = 0; kx < j; kx++)
						res -= l[i * n + kx] *
						    l[j * n + kx];
					if (fabs(res) > RESID_TOL) {
						ok = 0;
						break;
					}
				}
				continue;
			}
			l[j * n + j] = sqrt(d);
			for (i = j + 1; i < n; i++) {
				double res = r[i * n + j];

				for (kx = 0; kx < j; kx++)
					res -= l[i * n + kx] * l[j * n + kx];
				l[i * n + j] = res / l[j * n + j];
			}
		}
		if (ok)
			return shrink;
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* Workspaces */

static void
ws_free(struct mc_ws *w)
{
	free(w->e);
	free(w->eb);
	free(w->xs);
	free(w->zs);
	free(w->zps);
	free(w->s);
	free(w->lo);
	free(w->pendlo);
	free(w->pendhi);
	free(w->npendlo);
	free(w->curlo);
	free(w->k);
	free(w->E);
	free(w->amt);
	free(w->agg);
	free(w->liq);
	free(w->nsteps);
	free(w->jver);
	free(w->dfirst);
	free(w->w);
	free(w->ord);
	free(w->cnt_liq);
	free(w->cov);
	free(w->cnt_ev);
	free(w->hist);
	free(w->cand);
	free(w->plo0);
	memset(w, 0, sizeof(*w));
}

/* Carve one workspace; arrays grouped so that few allocations are made. */
static enum lc_status
ws_alloc(const struct mc_model *md, struct mc_ws *w)
{
	size_t n = md->n, S = md->steps, nl = md->nloan;
	size_t nv = md->maxnv ? md->maxnv : 1;
	size_t nn = n ? n : 1, nlx = nl ? nl : 1;

	memset(w, 0, sizeof(*w));
	w->e = calloc(2 * nn, sizeof(double));
	w->eb = calloc(3 * nn * S + S, sizeof(double));
	w->xs = calloc(nn * (S + 1), sizeof(double));
	w->zs = calloc(nn * S, sizeof(double));
	w->zps = calloc(nn * S, sizeof(double));
	w->s = calloc(nn * 4, sizeof(double));
	w->lo = calloc(nn * 10, sizeof(double));
	w->pendlo = calloc(nn * S, sizeof(uint32_t));
	w->pendhi = calloc(nn * S, sizeof(uint32_t));
	w->npendlo = calloc(nn * 2, sizeof(size_t));
	w->curlo = calloc(nn * 2, 1);
	w->k = calloc(nn * 2, sizeof(size_t));
	w->E = calloc(nn * 6, sizeof(double));
	w->amt = calloc(md->nent ? md->nent : 1, sizeof(double));
	w->agg = calloc(md->nagg + 1, sizeof(double));
	w->liq = calloc(nlx * 4, 1);
	w->nsteps = calloc(nlx * 2, sizeof(uint32_t));
	w->jver = calloc(2 * nlx + 3 * nn, sizeof(uint64_t));
	w->dfirst = calloc(nlx, sizeof(double));
	w->w = calloc(nv * 10, sizeof(double));
	w->ord = calloc(md->maxside ? md->maxside : 1, sizeof(size_t));
	w->cnt_liq = calloc(nlx * 2, sizeof(uint64_t));
	w->cov = calloc(md->ncov + 1, sizeof(double));
	w->cnt_ev = calloc(nn * 2, sizeof(uint64_t));
	if (md->nhist > 0)
		w->hist = calloc(md->nhist, sizeof(uint64_t));
	w->cand = calloc(3 * md->nlw + 1, sizeof(uint64_t));
	w->plo0 = calloc(nn * 3, sizeof(double));
	if (w->plo0 == NULL || w->e == NULL || w->eb == NULL || w->xs == NULL ||
	    w->zs == NULL || w->zps == NULL ||
	    w->s == NULL || w->lo == NULL || w->pendlo == NULL ||
	    w->pendhi == NULL || w->npendlo == NULL || w->curlo == NULL ||
	    w->k == NULL || w->E == NULL || w->amt == NULL || w->liq == NULL ||
	    w->agg == NULL ||
	    w->nsteps == NULL || w->jver == NULL || w->dfirst == NULL ||
	    w->w == NULL || w->ord == NULL || w->cnt_liq == NULL ||
	    w->cov == NULL || w->cnt_ev == NULL || w->cand == NULL ||
	    (md->nhist > 0 && w->hist == NULL)) {
		ws_free(w);
		return LC_ENOMEM;
	}
	w->dx = w->eb + 3 * nn * S;
	w->Z = w->e;
	w->Zp = w->Z + nn;
	w->ex0 = w->s + nn;
	w->ex1 = w->ex0 + nn;
	w->gam = w->ex1 + nn;
	w->hi = w->lo + nn;
	w->certlo = w->hi + nn;
	w->certhi = w->certlo + nn;
	w->lb = w->certhi + nn;
	w->ub = w->lb + nn;
	w->glo = w->ub + nn;
	w->ghi = w->glo + nn;
	w->plo = w->ghi + nn;
	w->phi = w->plo + nn;
	w->npendhi = w->npendlo + nn;
	w->curhi = w->curlo + nn;
	w->b = w->E + 2 * nn;
	w->gd = w->b + 2 * nn;
	w->park = w->cand + md->nlw;
	w->pmask = w->park + md->nlw;
	w->phi0 = w->plo0 + nn;
	w->fdr = w->phi0 + nn;
	w->sliq = w->liq + nlx;
	w->dead = w->sliq + nlx;
	w->lsafe = w->dead + nlx;
	w->cw = w->w + nv;
	w->kk = w->cw + nv;
	w->p0 = w->kk + nv;
	w->p1 = w->p0 + nv;
	w->q = w->p1 + nv;
	w->ca = w->q + nv;
	w->da = w->ca + nv;
	w->cas = w->da + nv;
	w->das = w->cas + nv;
	w->cnt_sliq = w->cnt_liq + nlx;
	w->jt = w->nsteps + nlx;
	w->gver = w->jver + nlx;
	w->ever = w->gver + nn;
	w->bver = w->ever + nn;
	w->covs = w->bver + nn;
	return LC_OK;
}

enum lc_status
mc_model_workspaces(struct mc_model *md, unsigned threads)
{
	enum lc_status rc;
	size_t i;

	md->nws = threads < md->nchunks ? threads : md->nchunks;
	md->ws = calloc(md->nws, sizeof(*md->ws));
	if (md->ws == NULL)
		return LC_ENOMEM;
	for (i = 0; i < md->nws; i++) {
		rc = ws_alloc(md, &md->ws[i]);
		if (rc != LC_OK) {
			md->nws = i;
			return rc;
		}
	}
	return LC_OK;
}

/* ------------------------------------------------------------------ */
/* Building the model from a request */

/* Release an mc_ad's tables (the base's when borrowed stay). */
static void
ad_tables_free(struct mc_ad *ad)
{
	if (!ad->borrowed) {
		free(ad->lm);
		free(ad->kb);
		free(ad->gk);
	}
	ad->lm = ad->gk = NULL;
	ad->kb = NULL;
	ad->nb = 0;
	ad->borrowed = 0;
}

void
mc_model_free(struct mc_model *md)
{
	size_t a, i;

	if (md->ws != NULL) {
		for (i = 0; i < md->nws; i++)
			ws_free(&md->ws[i]);
		free(md->ws);
	}
	if (md->as != NULL)
		for (a = 0; a < md->n; a++) {
			for (i = 0; i < 2; i++) {
				lc_cascade_release(&md->as[a].ad[i].own);
				ad_tables_free(&md->as[a].ad[i]);
				free(md->as[a].ad[i].lv);	/* and bc */
				free(md->as[a].ad[i].nl);
				free(md->as[a].ad[i].bs);
			}
		}
	free(md->as);
	free(md->R);
	free(md->L);
	free(md->loan);
	free(md->ent);
	free(md->amt0);
	free(md->agg0);
	free(md->ntrig);
	free(md->need_lb);
	free(md->va);
	free(md->single);
	free(md->chunk_slip);
	free(md->amask);
	free(md->ph);
	free(md->pf);
	memset(md, 0, sizeof(*md));
}

static double
pair_rho(const struct lc_market *m, uint32_t a, uint32_t b)
{
	double r = m->default_rho;

	if (a == b)
		return 1.0;
	if (m->rho != NULL && isfinite(m->rho[(size_t)a * m->nassets + b]))
		r = m->rho[(size_t)a * m->nassets + b];
	if (!(r >= -1.0))
		r = -1.0;
	if (r > 1.0)
		r = 1.0;
	return r;
}

/*
 * Append an entry of side [start, nent) of the loan being compiled, merging
 * the same asset (amounts add, LT becomes the amount-weighted mean).
 */
static void
add_entry(struct mc_model *md, size_t start, const struct lc_entry *src,
    const struct lc_request *req)
{
	struct mc_entry *e;
	size_t i;

	if (!(src->amount > 0.0))
		return;
	for (i = start; i < md->nent; i++) {
		e = &md->ent[i];
		if (e->asset == src->asset) {
			double tot = e->amount + src->amount;

			e->lt = (e->lt * e->amount + src->lt * src->amount) /
			    tot;
			e->amount = tot;
			return;
		}
	}
	e = &md->ent[md->nent++];
	e->asset = src->asset;
	e->v = mc_vol_of(req, src->asset) ? 0 : -1;
	e->a = 0;
	e->price = req->price[src->asset];
	e->amount = src->amount;
	e->lt = src->lt;
}

/* Compile coupled loan l (position pos) into md (entries, volatile list). */
static void
compile_loan(struct mc_model *md, const struct lc_loan *l, size_t pos,
    const struct lc_request *req, const size_t *inv)
{
	struct mc_loan *cl = &md->loan[md->nloan++];
	size_t i, j;

	cl->pos = pos;
	cl->proto = l->protocol;
	cl->bonus = lc_loan_bonus(l, req->price);
	cl->cf = lc_loan_close_factor(l);
	cl->flb = isnan(l->full_liq_below) ? AAVE_FLB_DEFAULT :
	    l->full_liq_below;
	cl->ec = md->nent;
	for (i = 0; i < l->ncoll; i++)
		add_entry(md, cl->ec, &l->coll[i], req);
	cl->nc = md->nent - cl->ec;
	cl->ed = md->nent;
	for (i = 0; i < l->ndebt; i++) {
		struct lc_entry d = l->debt[i];

		d.lt = 0.0;
		add_entry(md, cl->ed, &d, req);
	}
	cl->nd = md->nent - cl->ed;
	if (cl->nc > md->maxside)
		md->maxside = cl->nc;
	if (cl->nd > md->maxside)
		md->maxside = cl->nd;
	/* distinct volatile assets, collateral first */
	cl->ev = md->nva;
	for (i = cl->ec; i < md->nent; i++) {
		struct mc_entry *e = &md->ent[i];

		if (e->v < 0)
			continue;
		e->a = (uint32_t)inv[e->asset];
		for (j = cl->ev; j < md->nva; j++)
			if (md->va[j] == e->a)
				break;
		if (j == md->nva)
			md->va[md->nva++] = e->a;
		e->v = (int)(j - cl->ev);
		md->as[e->a].in_loan = 1;
		md->as[e->a].ad[i < cl->ed ? LC_DOWN : LC_UP].exposed = 1;
	}
	cl->nv = md->nva - cl->ev;
	cl->co = md->ncov;
	md->ncov += cl->nv * cl->nv;
	cl->go = md->nagg;
	md->nagg += 2 * cl->nv + 2;
	if (cl->nv > md->maxnv)
		md->maxnv = cl->nv;
	for (i = cl->ec; i < md->nent; i++)
		md->amt0[i] = md->ent[i].amount;
}

/* Bucket index of kfind(): nb = n buckets between sg lm[1] and sg lm[n]. */
static enum lc_status
build_index(struct mc_ad *ad, double sg)
{
	return lc_log_buckets(ad->lm, ad->c->n, sg, &ad->kb, &ad->nb,
	    &ad->binv);
}

/*
 * Per-path tables of a built cascade: thresholds ln(m_k / P), g(S_k) for
 * assets of coupled loans (a monotone cursor over the curve, the numbers of
 * lc_cascade_factor()), the bucket index, the first threshold b0.
 */
static enum lc_status
ad_finish(struct mc_model *md, const struct mc_asset *as, struct mc_ad *ad,
    enum lc_dir dir)
{
	const struct lc_cascade *c = ad->c;
	const struct lc_cascade_base *bs = ad->base;
	size_t nm = c->n, j, cur = 0;

	if (bs != NULL && c == &bs->c && bs->lm != NULL &&
	    !(as->P < bs->p0) && !(as->P > bs->p0)) {
		/* the base's own cascade at its price: its tables */
		ad->borrowed = 1;
		ad->lm = bs->lm;
		ad->kb = bs->lkb;
		ad->nb = bs->nlb;
		ad->binv = bs->lbinv;
		ad->gk = as->in_loan ? bs->gk : NULL;
		goto b0;
	}
	ad->lm = malloc((nm + 1) * sizeof(double));
	if (ad->lm == NULL)
		return LC_ENOMEM;
	for (j = 0; j <= nm; j++)
		ad->lm[j] = log(c->m[j] / as->P);
	/* Gamma is read only for assets of coupled loans */
	if (as->in_loan) {
		ad->gk = malloc((nm + 1) * sizeof(double));
		if (ad->gk == NULL)
			return LC_ENOMEM;
		for (j = 0; j <= nm; j++)
			ad->gk[j] = lc_price_factor_seek(c->curve, ad->side,
			    c->cum[j], c->scale, &cur);
	}
	if (build_index(ad, dir == LC_DOWN ? 1.0 : -1.0) != LC_OK)
		return LC_ENOMEM;
b0:
	if (nm > 0) {
		double g = lc_price_factor(c->curve, ad->side, 0.0, md->scale);

		ad->b0 = dir == LC_DOWN && !(g > 0.0) ?
		    HUGE_VAL : log(c->price[0] / (as->P * g));
	} else {
		ad->b0 = dir == LC_DOWN ? -HUGE_VAL : HUGE_VAL;
	}
	ad->minfirst = NONE;
	ad->hoff = md->nhist;
	if (md->flags & LC_MC_ALL_POSITIONS)
		md->nhist += nm + 1;
	return LC_OK;
}

static void minfirst(struct mc_model *md);

/* Request trigger: one ladder step of a single-asset position. */
struct rtrig {
	double price, qty;
	size_t key;		/* 2 a + dir */
	size_t single;
	size_t step;
};

/* Ladder of single-asset position i (loan or perp). */
static enum lc_status
single_ladder(const struct lc_request *req, size_t i, struct lc_ladder *ld)
{
	const struct lc_position *p = &req->pos[i];

	if (p->type == LC_POS_PERP)
		return lc_perp_ladder(&p->u.perp, req->price, ld);
	return lc_loan_ladder(&p->u.loan, req->price, req->vol, ld);
}

static int
cmp_bstep(const void *x, const void *y)
{
	size_t a = ((const struct mc_bstep *)x)->t;
	size_t b = ((const struct mc_bstep *)y)->t;

	return (a > b) - (a < b);
}

/*
 * LC_MC_BOOK_LOSS: the request's steps as triggers of the built cascades
 * (rtn[r]: the 0-based trigger of request step r; ro[i] .. ro[i + 1]: the
 * steps of single i).  A step that is trigger j fills at e_j = m_j
 * g(S_{j-1}) (docs/model.md 8.2; P for a step at or beyond P), and the
 * position is replayed along those prices (lc_book_replay()): value
 * liquidated per step, summed into lv[] by trigger, and the account's
 * bad debt after each step (bs[]).
 */
static enum lc_status
book_tables(struct mc_model *md, const struct lc_request *req,
    const size_t *rtn, const size_t *ro)
{
	double e[LC_MAX_STEPS], val[LC_MAX_STEPS], bd[3 * LC_MAX_STEPS];
	size_t a, i, k;
	enum lc_status st;

	for (a = 0; a < md->n; a++)
		for (i = 0; i < 2; i++) {
			struct mc_ad *ad = &md->as[a].ad[i];

			ad->lv = calloc(2 * (ad->c->n + 1), sizeof(double));
			ad->nl = calloc(ad->c->n + 1, sizeof(uint32_t));
			ad->bs = calloc(ad->c->n + 1, sizeof(*ad->bs));
			if (ad->lv == NULL || ad->nl == NULL || ad->bs == NULL)
				return LC_ENOMEM;
			ad->bc = ad->lv + ad->c->n + 1;
		}
	for (i = 0; i < md->nsingle; i++) {
		const struct mc_single *sg = &md->single[i];
		struct mc_ad *ad = &md->as[sg->a].ad[sg->dir];
		double P = md->as[sg->a].P;
		size_t r0 = ro[i], ns = ro[i + 1] - ro[i];

		for (k = 0; k < ns; k++) {
			size_t t = rtn[r0 + k];
			double l = ad->c->price[t];

			e[k] = (sg->dir == LC_DOWN ? l >= P : l <= P) ? P :
			    ad->c->m[t + 1] * lc_cascade_factor(ad->c, t);
		}
		st = lc_book_replay(&req->pos[sg->pos], req->price, req->vol,
		    md->as[sg->a].idx, sg->dir, e, ns, val, bd);
		if (st != LC_OK)
			return st;
		for (k = 0; k < ns; k++) {
			size_t t = rtn[r0 + k];
			size_t nx = k + 1 < ns ? rtn[r0 + k + 1] : NONE;
			struct mc_bstep *b;

			ad->lv[t + 1] += val[k];
			if (k == 0)
				ad->nl[t + 1]++;
			if (bd[3 * k + 1] == 0.0) {
				/*
				 * a constant: counted while t < k <= next,
				 * i.e. added at t + 1, taken off at next + 1
				 */
				double cst = bd[3 * k + 2] +
				    (bd[3 * k] > 0.0 ? bd[3 * k] : 0.0);

				ad->bc[t + 1] += cst;
				if (nx != NONE)
					ad->bc[nx + 1] -= cst;
				continue;
			}
			b = &ad->bs[ad->nbs++];
			b->t = t;
			b->next = nx;
			b->a = bd[3 * k];
			b->b = bd[3 * k + 1];
			b->s = bd[3 * k + 2];
		}
	}
	for (a = 0; a < md->n; a++)
		for (i = 0; i < 2; i++) {
			struct mc_ad *ad = &md->as[a].ad[i];

			for (k = 1; k <= ad->c->n; k++) {
				ad->lv[k] += ad->lv[k - 1];
				ad->bc[k] += ad->bc[k - 1];
				ad->nl[k] += ad->nl[k - 1];
			}
			qsort(ad->bs, ad->nbs, sizeof(*ad->bs), cmp_bstep);
		}
	return LC_OK;
}

/*
 * Triggers of every involved (asset, direction): stored non-stale levels
 * then the request's ladder steps, merged in docs/model.md 4.1 order, and the
 * cascades built on them.
 */
static enum lc_status
build_cascades(struct mc_model *md, const struct lc_market *m,
    const struct lc_request *req)
{
	struct lc_ladder *ld = NULL;
	struct rtrig *rt = NULL;
	double *rp = NULL, *rq = NULL, *mp = NULL, *mq = NULL;
	uint64_t *tag = NULL;
	size_t *cnt = NULL, nrt = 0, i, j, a, maxlv = 0, maxr = 0;
	size_t *rtn = NULL, *ro = NULL;	/* LC_MC_BOOK_LOSS */
	enum lc_status st = LC_ENOMEM;
	int lvl = req->params.include_market_levels;

	ld = malloc(sizeof(*ld));
	rt = malloc((md->nsingle * LC_MAX_STEPS + 1) * sizeof(*rt));
	cnt = calloc(2 * md->n + 1, sizeof(*cnt));
	ro = calloc(md->nsingle + 1, sizeof(*ro));
	rtn = malloc((md->nsingle * LC_MAX_STEPS + 1) * sizeof(*rtn));
	if (ld == NULL || rt == NULL || cnt == NULL || ro == NULL ||
	    rtn == NULL)
		goto out;
	for (i = 0; i < md->nsingle; i++) {
		struct mc_single *sg = &md->single[i];

		ro[i] = nrt;
		sg->first = NONE;
		st = single_ladder(req, sg->pos, ld);
		if (st != LC_OK)
			goto out;
		for (j = 0; j < ld->n; j++) {
			rt[nrt].price = ld->price[j];
			rt[nrt].qty = ld->qty[j];
			rt[nrt].key = 2 * sg->a + (size_t)sg->dir;
			rt[nrt].single = i;
			rt[nrt].step = j;
			cnt[rt[nrt].key]++;
			nrt++;
		}
	}
	ro[md->nsingle] = nrt;
	for (i = 0; i < 2 * md->n; i++)
		if (cnt[i] > maxr)
			maxr = cnt[i];
	for (a = 0; a < md->n; a++)
		for (i = 0; i < 2; i++)
			if (m->assets[md->as[a].idx].levels[i].n > maxlv)
				maxlv = m->assets[md->as[a].idx].levels[i].n;
	st = LC_ENOMEM;
	rp = malloc((maxr + 1) * sizeof(*rp));
	rq = malloc((maxr + 1) * sizeof(*rq));
	tag = malloc((maxr + 1) * sizeof(*tag));
	mp = malloc((maxr + maxlv + 1) * sizeof(*mp));
	mq = malloc((maxr + maxlv + 1) * sizeof(*mq));
	if (rp == NULL || rq == NULL || tag == NULL || mp == NULL ||
	    mq == NULL)
		goto out;
	for (a = 0; a < md->n; a++) {
		struct mc_asset *as = &md->as[a];
		const struct lc_asset_market *am = &m->assets[as->idx];

		for (i = 0; i < 2; i++) {
			enum lc_dir dir = (enum lc_dir)i;
			struct mc_ad *ad = &as->ad[i];
			const struct lc_levels *lv = &am->levels[i];
			size_t key = 2 * a + i, nr = 0, nm = 0, x = 0, y = 0;
			size_t ks;

			ad->side = dir == LC_DOWN ? LC_BID : LC_ASK;
			for (j = 0; j < nrt; j++)
				if (rt[j].key == key) {
					rp[nr] = rt[j].price;
					rq[nr] = rt[j].qty;
					tag[nr] = (uint64_t)j;
					nr++;
				}
			st = lc_trigger_sort(dir, rp, rq, tag, nr);
			if (st != LC_OK)
				goto out;
			/* merge: stored levels first on ties */
			for (;;) {
				int take_lv;

				while (lvl && x < lv->n &&
				    (dir == LC_DOWN ? lv->price[x] >= as->P :
				    lv->price[x] <= as->P))
					x++;	/* stale */
				if (!(lvl && x < lv->n) && y >= nr)
					break;
				if (!(lvl && x < lv->n))
					take_lv = 0;
				else if (y >= nr)
					take_lv = 1;
				else
					take_lv = dir == LC_DOWN ?
					    lv->price[x] >= rp[y] :
					    lv->price[x] <= rp[y];
				if (take_lv) {
					mp[nm] = lv->price[x];
					mq[nm] = lv->qty[x];
					x++;
				} else {
					const struct rtrig *r = &rt[tag[y]];

					mp[nm] = rp[y];
					mq[nm] = rq[y];
					if (r->step == 0)
						md->single[r->single].first =
						    nm;
					rtn[tag[y]] = nm;
					y++;
				}
				nm++;
			}
			st = lc_cascade_build(&ad->own, dir,
			    &am->curve[ad->side], md->scale, mp, mq, nm);
			if (st != LC_OK)
				goto out;
			ad->c = &ad->own;
			ad->kstar = lc_cascade_trigger(ad->c, md->thr, NULL,
			    &ks) == 0 ? ks : NONE;
			st = ad_finish(md, as, ad, dir);
			if (st != LC_OK)
				goto out;
		}
	}
	minfirst(md);
	st = md->flags & LC_MC_BOOK_LOSS ? book_tables(md, req, rtn, ro) :
	    LC_OK;
out:
	free(rtn);
	free(ro);
	free(mq);
	free(mp);
	free(tag);
	free(rq);
	free(rp);
	free(cnt);
	free(rt);
	free(ld);
	return st;
}

/*
 * The same from lc_score()'s cascades (mc_int.h): LC_OK, or LC_EINVAL when one
 * is missing (then build_cascades() does it all).
 */
static enum lc_status
borrow_cascades(struct mc_model *md, const struct lc_mc_prebuilt *pre)
{
	size_t a, i, ks;
	enum lc_status st;

	for (a = 0; a < md->n; a++)
		for (i = 0; i < 2; i++) {
			const struct lc_cascade *c = pre->cascade(pre->ctx,
			    md->as[a].idx, (enum lc_dir)i, &ks);

			if (c == NULL || c->dir != (enum lc_dir)i)
				return LC_EINVAL;
		}
	for (i = 0; i < md->nsingle; i++) {
		ks = pre->first(pre->ctx, md->single[i].pos);
		md->single[i].first = ks == SIZE_MAX ? NONE : ks;
	}
	for (a = 0; a < md->n; a++)
		for (i = 0; i < 2; i++) {
			struct mc_ad *ad = &md->as[a].ad[i];

			ad->side = i == LC_DOWN ? LC_BID : LC_ASK;
			ad->c = pre->cascade(pre->ctx, md->as[a].idx,
			    (enum lc_dir)i, &ks);
			ad->base = pre->base != NULL ? pre->base(pre->ctx,
			    md->as[a].idx, (enum lc_dir)i) : NULL;
			ad->kstar = ks == SIZE_MAX ? NONE : ks;
			st = ad_finish(md, &md->as[a], ad, (enum lc_dir)i);
			if (st != LC_OK)
				return st;
		}
	minfirst(md);
	return LC_OK;
}

static void
minfirst(struct mc_model *md)
{
	size_t i;

	for (i = 0; i < md->nsingle; i++) {
		struct mc_single *sg = &md->single[i];
		struct mc_ad *ad = &md->as[sg->a].ad[sg->dir];

		ad->exposed = 1;
		if (sg->first != NONE &&
		    (ad->minfirst == NONE || sg->first < ad->minfirst))
			ad->minfirst = sg->first;
	}
}

enum lc_status
mc_model_build(struct mc_model *md, const struct lc_market *m,
    const struct lc_request *req, unsigned flags,
    const struct lc_mc_prebuilt *pre)
{
	const struct lc_params *pp = &req->params;
	size_t na = m->nassets, i, j, a, nent = 0, nloan = 0, nsingle = 0;
	size_t *inv = NULL;
	enum lc_status st = LC_ENOMEM;
	int sh;

	memset(md, 0, sizeof(*md));
	if (pp->paths < 1 || pp->steps < 1 || !(pp->horizon_days > 0.0) ||
	    !(pp->depth_scale > 0.0) || !(pp->threshold_bps > 0.0) ||
	    !(pp->tail_dof == 0.0 || pp->tail_dof > 2.0))
		return LC_EINVAL;
	md->paths = pp->paths;
	md->steps = pp->steps;
	md->seed = pp->seed;
	md->nu = pp->tail_dof;
	md->thr = pp->threshold_bps;
	md->scale = pp->depth_scale;
	md->flags = flags;
	lc_ziggurat_init(&md->zig);
	inv = malloc((na + 1) * sizeof(*inv));
	if (inv == NULL)
		return LC_ENOMEM;
	for (a = 0; a < na; a++)
		inv[a] = NONE;
	/* pass 1: classify, involved assets, sizes */
	st = LC_EINVAL;
	for (i = 0; i < req->npos; i++) {
		const struct lc_position *p = &req->pos[i];

		if (p->type == LC_POS_PERP) {
			a = p->u.perp.asset;
			if (a >= na)
				goto out;
			if (mc_vol_of(req, (uint32_t)a)) {
				if (inv[a] == NONE)
					inv[a] = md->n++;
				nsingle++;
			}
		} else {
			const struct lc_loan *l = &p->u.loan;
			uint32_t sa;
			enum lc_dir sd;
			enum lc_loan_kind kind;

			for (j = 0; j < l->ncoll; j++)
				if (l->coll[j].asset >= na)
					goto out;
			for (j = 0; j < l->ndebt; j++)
				if (l->debt[j].asset >= na)
					goto out;
			kind = lc_loan_classify(l, req->vol, &sa, &sd);
			if (kind == LC_LOAN_STABLE) {
				if (lc_loan_health(l, req->price) <= 1.0)
					md->any_now = 1;
			} else if (kind == LC_LOAN_SINGLE) {
				if (inv[sa] == NONE)
					inv[sa] = md->n++;
				nsingle++;
			} else {
				for (j = 0; j < l->ncoll + l->ndebt; j++) {
					const struct lc_entry *e =
					    j < l->ncoll ? &l->coll[j] :
					    &l->debt[j - l->ncoll];

					if (mc_vol_of(req, e->asset) &&
					    e->amount > 0.0 &&
					    inv[e->asset] == NONE)
						inv[e->asset] = md->n++;
				}
				nloan++;
				nent += l->ncoll + l->ndebt;
			}
		}
	}
	st = LC_ENOMEM;
	md->as = calloc(md->n ? md->n : 1, sizeof(*md->as));
	md->R = calloc(md->n * md->n + 1, sizeof(double));
	md->L = calloc(md->n * md->n + 1, sizeof(double));
	md->loan = calloc(nloan + 1, sizeof(*md->loan));
	md->ent = calloc(nent + 1, sizeof(*md->ent));
	md->amt0 = calloc(nent + 1, sizeof(double));
	md->va = calloc(nent + 1, sizeof(*md->va));
	md->single = calloc(nsingle + 1, sizeof(*md->single));
	if (md->as == NULL || md->R == NULL || md->L == NULL ||
	    md->loan == NULL || md->ent == NULL || md->amt0 == NULL ||
	    md->va == NULL || md->single == NULL)
		goto out;
	for (a = 0; a < md->n; a++)
		for (i = 0; i < 2; i++) {
			lc_cascade_init(&md->as[a].ad[i].own);
			md->as[a].ad[i].c = &md->as[a].ad[i].own;
		}
	for (a = 0; a < na; a++) {
		struct mc_asset *as;

		if (inv[a] == NONE)
			continue;
		as = &md->as[inv[a]];
		as->idx = (uint32_t)a;
		as->P = req->price[a];
		as->sigh = lc_sigma_h(req->vol[a], pp->horizon_days);
	}
	/* pass 2: singles and coupled loans */
	for (i = 0; i < req->npos; i++) {
		const struct lc_position *p = &req->pos[i];
		uint32_t sa;
		enum lc_dir sd;

		if (p->type == LC_POS_PERP) {
			if (!mc_vol_of(req, p->u.perp.asset))
				continue;
			sa = p->u.perp.asset;
			sd = p->u.perp.is_short ? LC_UP : LC_DOWN;
		} else {
			enum lc_loan_kind kind = lc_loan_classify(&p->u.loan,
			    req->vol, &sa, &sd);

			if (kind == LC_LOAN_COUPLED)
				compile_loan(md, &p->u.loan, i, req, inv);
			if (kind != LC_LOAN_SINGLE)
				continue;
		}
		md->single[md->nsingle].pos = i;
		md->single[md->nsingle].a = (uint32_t)inv[sa];
		md->single[md->nsingle].dir = sd;
		md->nsingle++;
	}
	for (i = 0; i < md->n; i++)
		for (j = 0; j < md->n; j++)
			md->R[i * md->n + j] = pair_rho(m, md->as[i].idx,
			    md->as[j].idx);
	md->agg0 = calloc(md->nagg + 1, sizeof(double));
	md->nlw = (md->nloan + 63) / 64;
	md->amask = calloc(md->n * md->nlw + 1, sizeof(uint64_t));
	if (md->agg0 == NULL || md->amask == NULL)
		goto out;
	for (i = 0; i < md->nloan; i++)
		for (j = 0; j < md->loan[i].nv; j++)
			md->amask[md->va[md->loan[i].ev + j] * md->nlw + i / 64] |=
			    (uint64_t)1 << (i % 64);
	sh = lc_mc_cholesky(md->R, md->L, md->n);
	if (sh < 0) {
		st = LC_EDOMAIN;
		goto out;
	}
	md->shrunk = sh > 0;
	mc_walk_tables(md);
	md->ph = malloc((md->nloan + 1) * sizeof(*md->ph));
	md->pf = malloc((md->nva + 1) * sizeof(*md->pf));
	if (md->ph == NULL || md->pf == NULL) {
		st = LC_ENOMEM;
		goto out;
	}
	for (i = 0; i < md->nloan; i++) {
		const struct mc_loan *l = &md->loan[i];
		const double *ag = md->agg0 + l->go;

		md->ph[i].ev = l->ev;
		md->ph[i].nv = l->nv;
		md->ph[i].A = ag[2 * l->nv];
		md->ph[i].B = ag[2 * l->nv + 1];
		for (j = 0; j < l->nv; j++) {
			md->pf[l->ev + j].a = md->va[l->ev + j];
			md->pf[l->ev + j].c = ag[j];
			md->pf[l->ev + j].d = ag[l->nv + j];
		}
	}
	md->cs_ok = 1;
	for (i = 0; i < md->n; i++)
		for (j = 0; j < md->n; j++) {
			double acc = 0.0;

			for (a = 0; a < md->n; a++)
				acc += md->L[i * md->n + a] *
				    md->L[j * md->n + a];
			if (!(fabs(acc - md->R[i * md->n + j]) <= 1e-13))
				md->cs_ok = 0;
		}
	st = pre != NULL ? borrow_cascades(md, pre) : LC_EINVAL;
	if (st == LC_EINVAL) {
		for (a = 0; a < md->n; a++)
			for (i = 0; i < 2; i++) {
				struct mc_ad *ad = &md->as[a].ad[i];

				ad_tables_free(ad);
				ad->base = NULL;
				ad->c = &ad->own;
			}
		md->nhist = 0;
		st = build_cascades(md, m, req);
	}
	if (st != LC_OK)
		goto out;
	for (a = 0; a < md->n; a++)
		for (i = 0; i < 2; i++)
			if (md->as[a].ad[i].c->n > 0)
				md->need_z[i] = 1;
	for (i = 0; i < md->nloan; i++) {
		const struct mc_loan *l = &md->loan[i];

		for (j = l->ec; j < l->ed + l->nd; j++)
			if (md->ent[j].v >= 0)
				md->need_z[j < l->ed ? LC_DOWN : LC_UP] = 1;
	}
	md->need_lb = calloc(2 * md->n + 1, 1);
	if (md->need_lb == NULL) {
		st = LC_ENOMEM;
		goto out;
	}
	md->need_ub = md->need_lb + md->n;
	for (a = 0; a < md->n; a++) {
		md->need_lb[a] = md->as[a].in_loan ||
		    md->as[a].ad[LC_DOWN].c->n > 0;
		md->need_ub[a] = md->as[a].in_loan ||
		    md->as[a].ad[LC_UP].c->n > 0;
	}
	md->ne = md->need_z[LC_DOWN] ? (md->need_z[LC_UP] ? 3 : 2) * md->n :
	    md->n;
	md->ntrig = malloc((2 * md->n + 1) * sizeof(*md->ntrig));
	if (md->ntrig == NULL) {
		st = LC_ENOMEM;
		goto out;
	}
	for (a = 0; a < md->n; a++)
		for (i = 0; i < 2; i++)
			md->ntrig[2 * a + i] = md->as[a].ad[i].c->n;
	md->nchunks = (md->paths + LC_MC_CHUNK - 1) / LC_MC_CHUNK;
	md->chunk_slip = calloc(md->nchunks * md->nloan * 2 + 1,
	    sizeof(double));
	if (md->chunk_slip == NULL) {
		st = LC_ENOMEM;
		goto out;
	}
	st = LC_OK;
out:
	free(inv);
	return st;
}

/*
 * book.c - books (docs/model.md section 8): the liquidation levels derived
 * from a book's positions, kept per position so that an upsert re-derives
 * only what changed, and the book under a shock (risk curve, value at
 * risk, expected figures).
 *
 * Design
 * ------
 * Derived levels (8.1).  A perp gives its one step (lc_perp_ladder), a
 * single-asset loan its ladder (lc_loan_ladder): the ladders of section 3
 * themselves, not a copy.  A coupled loan gives, for each volatile asset a,
 * its ladder in a alone: every other price held at P, HF is
 * linear-fractional in P_a,
 *
 *     HF(x) = (W' + C_a x) / (D' + D_a x),  C_a = sum c_a LT_a, D_a = d_a,
 *
 * so the next liquidation price is x = (D' - W') / (C_a - D_a), reached by
 * a fall when C_a > D_a (down ladder) and by a rise when C_a < D_a (up).
 * A step at x is the 3.1 mechanics in value terms (acct_step): R = cf *
 * debt value (aave-v3: cf = 1 when the collateral or the debt value is
 * below full_liquidation_below), seize R (1 + bonus): volatile collateral
 * by decreasing value, then stable collateral pro rata; all of it when
 * too small (R = value / (1 + bonus), bad debt, the ladder ends).  Debts
 * are repaid volatile first, then stable, each by decreasing value.
 * compound-v3 absorbs everything in one step.  The level of the step is
 * the units of a sold (down) or bought (up): 0 when the step trades other
 * assets only (it stays a step: a zero-volume trigger, so the loan's
 * liquidation is still seen).  The rules that place and end a step are
 * those of lc_loan_ladder: a step of an account liquidatable at P
 * (HF(P) <= 1: the loan is liquidatable now, or x is at or beyond P, or
 * an up ladder's x <= 0, liquidatable at every price) happens at P; stop
 * after 64 steps, when no collateral or no debt value is left, when x
 * is not a positive price, when the side of a flips (C_a - D_a changes
 * sign: the move no longer liquidates), or when the debt value after a
 * step is below 1e-9 of the value at the first step.
 *
 * Incremental book.  struct lc_book keeps each slot's steps in an arena;
 * lc_book_put() derives one position (O(its steps)) and appends them, the
 * old ones become dead and the arena is compacted when half of it is dead
 * (amortised O(1) per step).  Per-asset totals (count and quantity per
 * side, for the book's summary) are updated by the same put/remove.
 *
 * Sorted index.  Each asset and direction keeps its steps in cascade
 * order (price, then slot, then rank: the order of a stable sort of the
 * steps gathered in slot order, as lc_trigger_sort would give), as
 * 24-byte entries (price, qty, slot << 7 | rank << 1 | dead).  A put
 * appends (slot, gen) to a pending list; a remove marks the old steps'
 * entries dead (binary search on that key) and bumps the slot's gen, so
 * a pending entry is live while its gen is the slot's.  lc_book_levels
 * (read only) merges the live entries with the pending steps, sorted by
 * an in-place MSD radix sort on an order-preserving key of the price
 * bits (American flag: 11 bits a pass, 6 under 16384 entries; under 32
 * an insertion sort, a run of one price by (slot, rank): the order is
 * total, no stability needed): O(n + k log k).  ix_merge folds the
 * pending steps in and drops the dead: the larger arrays and one scratch
 * first (LC_ENOMEM changes nothing), then each index compacted in place,
 * one pass over the pending slots appending their steps to the indexes'
 * tails, each tail sorted (its first pass out of place through the
 * scratch: a scatter of independent stores, where in-place cycles chain a
 * cache miss per entry) and merged with the live run (the smaller run
 * copied out): lc_book_flush, or a put/remove once pending + dead > 4 x
 * indexed and 4096.  Arrays of 8 MiB and more are advised huge pages
 * (big_advise) before they are first touched: a fresh 1e6-position book
 * maps some 300 MiB, and one fault per 4 KiB was most of its build time.
 * Nothing in the index depends on the arena's offsets, so the
 * arena's compaction leaves it alone.  What invalidates a
 * position's steps: its own amounts, and the prices of the assets it
 * holds (a coupled loan's ladders use its other assets' prices; a single
 * asset's ladder moves when the loan becomes or stops being liquidatable
 * now); the caller re-puts those positions.
 *
 * Book under a shock (8.2).  The market's triggers of (asset, dir) are the
 * stored levels then every book's derived levels (books in the caller's
 * order, each in cascade order: ties by slot, then ladder rank), not stale,
 * ordered by lc_trigger_sort and built into one lc_cascade.  The book's
 * level i is trigger j_i (increasing in i).  For a shocked price p:
 *
 *   cascade: step i happens iff j_i <= k(p), at e_i = m_{j_i} g(S_{j_i - 1}),
 *            final price F(p) = p g(S_{k(p)});
 *   static:  step i happens iff its trigger is at or beyond p, at e_i = l_i,
 *            final price p;
 *   stale steps (liquidatable now) happen in both, at e = P.
 *
 * A position's happening steps are a prefix of its ladder (its triggers
 * are monotone and keep ladder order in the stable sort), and e does not
 * depend on p.  So each exposed position is replayed once per mode along
 * its whole ladder, recording after each step the value it added
 * (down: collateral seized, every asset, valued at e and P; up: volatile
 * debt bought back, units x price; perp: size x e) and its account as
 *
 *   bad debt at final price F:  S + max(0, A + B F),
 *   A = (debt - collateral) value of the other assets at P,
 *   B = (debt - collateral) units of the asset,
 *   S = compound-v3's shortfall at its absorption (the account is then
 *       empty: A = B = 0).
 *
 * With h(p) the number of the book's levels that happen (binary search on
 * j_i against k(p), or on l_i against p), liquidated_qty, _value and
 * _positions are prefix sums over the levels; bad debt adds, for every
 * position whose last happening step is level i (its next level is not
 * below h), the expression above with that step's A, B, S.  A position
 * none of whose steps happen owes nothing: its first trigger lies beyond
 * F (down: l < F), where its health is above 1.  Along the grid, h and F
 * are monotone, so bad debt is kept by a sweep (see eval_grid): each
 * position's current entry is switched on and off once, and its
 * A + B F changes sign at most once, at a grid point found by a binary
 * search on the points' F.  Cost per query: O(N) to merge the market's N
 * levels (stored, then each book's, each run already in cascade order: a
 * left-to-right merge with ties to the left is the stable sort of their
 * concatenation), O(B) replay steps for the book's B exposed levels,
 * O(B log points + points) for the grid; the two var points walk the
 * happening levels, O(B).  The replay runs in level (price) order: the
 * common loan (one volatile collateral in the asset, one stable debt,
 * not compound-v3, down; its stale steps first) is replayed without an
 * account, by the same operations in the same order (simple_step), on a
 * per-slot state of its two amounts per mode: a first pass over the
 * slots replays its stale steps and reserves the stale entries in slot
 * order, then the level pass computes e, steps the level's slot and
 * writes the level's figures in order (the states, read out of order,
 * are prefetched a few levels ahead).  Any other position is replayed
 * whole per slot (its levels grouped by a counting sort).  A position's
 * steps keep their order either way, so the figures are those of a
 * replay per position; the prefix sums are taken by the level pass.
 * The query's scratch arrays stay in struct lc_book_risk for its next
 * call (fresh memory costs a page fault per 4 KiB).  The figures are those of a
 * replay per point (the tests compare with independent references);
 * bad debt sums the sweep's groups in their own order.
 *
 * Horizon law (section 5): var at q solves 2 F_r(x_q) = 1 - q (up:
 * 2 S_r(x_q) = 1 - q) by bisection on the monotone F_r of stats.c,
 * s_q = exp(x_q) - 1, and the figures are evaluated at s_q itself;
 * expected E = sum_{i<n} f(s_{i+1}) (pi_i - pi_{i+1}) + f(s_n) pi_n with
 * pi_i = lc_barrier_prob at P (1 + s_i).
 *
 * C11 + libm (and madvise where the system has it), no globals,
 * reentrant.
 */
#include "cascade/book.h"
#include "cascade/cascade.h"
#include "cascade/stats.h"
#include "model/curve_int.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define NONE ((size_t)-1)
#define DEBT_REL_STOP 1e-9	/* as position.c */
#define AAVE_FLB_DEFAULT 2000.0	/* as position.c */
#define GRID_EPS 1e-9
#define ACCT_SMALL 8		/* entries of an account kept inline */
#define ACCT_SMALL_ASSETS 32	/* assets of its inline price copy */

/* ---------------------------------------------------------------- */
/* Big arrays: transparent huge pages.                              */

#define HUGE_PAGE ((uintptr_t)2 << 20)
#define BIG_BYTES ((size_t)8 << 20)

/*
 * Ask for huge pages on the 2 MiB-aligned interior of a big block
 * (n >= BIG_BYTES) just allocated: its first touch then faults once per
 * 2 MiB, not once per 4 KiB page (a fresh 1e6-position book maps a few
 * hundred MiB; the 4 KiB faults were most of its time).  Advice only:
 * where the system has no huge pages nothing changes.
 */
static void
big_advise(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
	uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	uintptr_t e = ((uintptr_t)p + n) & ~(HUGE_PAGE - 1);

	if (p != NULL && n >= BIG_BYTES && e > a)
		(void)madvise((void *)a, (size_t)(e - a), MADV_HUGEPAGE);
#else
	(void)p;
	(void)n;
#endif
}

/* malloc(n), huge pages advised when big. */
static void *
big_malloc(size_t n)
{
	void *p = malloc(n);

	big_advise(p, n);
	return p;
}

/* ---------------------------------------------------------------- */
/* A loan's account in value terms (coupled ladders and replays).   */

struct acct {
	enum lc_protocol proto;
	double cf0, bonus, flb;
	size_t nc, nd;
	struct lc_entry *c;	/* collateral copies */
	struct lc_entry *d;	/* debt copies */
	size_t *ord;		/* scratch ordering */
	double *q;		/* prices: P, with q[a] set per step */
	const double *vol;
	uint32_t nq;
	/* small accounts live here, not on the heap (replays are many) */
	struct lc_entry cbuf[ACCT_SMALL];
	size_t obuf[ACCT_SMALL];
	double qbuf[ACCT_SMALL_ASSETS];
};

/* Outcome of one step. */
struct step_out {
	double sold;		/* units of the ladder's asset seized */
	double bought;		/* units of it repaid */
	double seized;		/* collateral value seized, every asset */
	double vdebt;		/* volatile debt repaid, value */
	double shortfall;	/* compound-v3: debt - collateral at absorb */
	int end;		/* the ladder ends after this step */
};

static void
acct_free(struct acct *ac)
{
	if (ac->c != ac->cbuf)
		free(ac->c);
	if (ac->ord != ac->obuf)
		free(ac->ord);
	if (ac->q != ac->qbuf)
		free(ac->q);
	ac->c = NULL;
	ac->ord = NULL;
	ac->q = NULL;
}

static enum lc_status
acct_new(struct acct *ac, const struct lc_loan *l, const double *price,
    const double *vol)
{
	size_t i, n = l->ncoll + l->ndebt;
	uint32_t top = 0;

	for (i = 0; i < n; i++) {
		uint32_t a = i < l->ncoll ? l->coll[i].asset :
		    l->debt[i - l->ncoll].asset;

		if (a >= top)
			top = a + 1;
	}
	if (n <= ACCT_SMALL) {
		ac->c = ac->cbuf;
		ac->ord = ac->obuf;
	} else {
		ac->c = malloc(n * sizeof(*ac->c));
		ac->ord = malloc(n * sizeof(*ac->ord));
	}
	ac->q = top <= ACCT_SMALL_ASSETS ? ac->qbuf :
	    malloc(top * sizeof(*ac->q));
	if (ac->c == NULL || ac->ord == NULL || ac->q == NULL) {
		acct_free(ac);
		return LC_ENOMEM;
	}
	if (n > 0) {
		memcpy(ac->c, l->coll, l->ncoll * sizeof(*ac->c));
		memcpy(ac->c + l->ncoll, l->debt, l->ndebt * sizeof(*ac->c));
	}
	if (top > 0)
		memcpy(ac->q, price, top * sizeof(*ac->q));
	ac->d = ac->c + l->ncoll;
	ac->nc = l->ncoll;
	ac->nd = l->ndebt;
	ac->nq = top;
	ac->vol = vol;
	ac->proto = l->protocol;
	ac->cf0 = lc_loan_close_factor(l);
	ac->bonus = lc_loan_bonus(l, price);
	ac->flb = isnan(l->full_liq_below) ? AAVE_FLB_DEFAULT :
	    l->full_liq_below;
	return LC_OK;
}

static double
side_value(const struct acct *ac, const struct lc_entry *e, size_t n)
{
	double v = 0.0;
	size_t i;

	for (i = 0; i < n; i++)
		if (e[i].amount > 0.0)
			v += e[i].amount * ac->q[e[i].asset];
	return v;
}

/* Order entries e[0..n) by decreasing value at q, volatile first. */
static void
order_entries(struct acct *ac, const struct lc_entry *e, size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		int vi = ac->vol[e[i].asset] > 0.0;
		double wi = e[i].amount * ac->q[e[i].asset];

		for (j = i; j > 0; j--) {
			const struct lc_entry *f = &e[ac->ord[j - 1]];
			int vf = ac->vol[f->asset] > 0.0;

			if (vf > vi || (vf == vi &&
			    f->amount * ac->q[f->asset] >= wi))
				break;
			ac->ord[j] = ac->ord[j - 1];
		}
		ac->ord[j] = i;
	}
}

/*
 * Take what *rem (value still to take) allows of an entry of `amount`
 * units at px worth *val: all of it when *val <= *rem, else *rem of
 * value.  Returns the units taken; *val becomes the value taken and
 * *rem drops by it.
 */
static double
take_entry(double amount, double px, double *val, double *rem)
{
	double qty;

	if (*val <= *rem) {
		qty = amount;
		*rem -= *val;
	} else {
		qty = *rem / px;
		*val = *rem;
		*rem = 0.0;
	}
	return qty;
}

/*
 * Take `value` off collateral: volatile entries by decreasing value, then
 * stable pro rata.  Units of asset a taken are added to *units_a.
 */
static void
take_collateral(struct acct *ac, double value, uint32_t a, double *units_a)
{
	double rem = value, sv = 0.0, f;
	size_t i;

	order_entries(ac, ac->c, ac->nc);
	for (i = 0; i < ac->nc; i++) {
		struct lc_entry *e = &ac->c[ac->ord[i]];
		double px = ac->q[e->asset], val = e->amount * px, qty;

		if (!(e->amount > 0.0))
			continue;
		if (!(ac->vol[e->asset] > 0.0)) {
			sv += val;
			continue;
		}
		if (!(rem > 0.0) || !(val > 0.0))
			continue;
		qty = take_entry(e->amount, px, &val, &rem);
		e->amount -= qty;
		if (e->asset == a)
			*units_a += qty;
	}
	if (!(rem > 0.0) || !(sv > 0.0))
		return;
	f = rem >= sv ? 1.0 : rem / sv;
	for (i = 0; i < ac->nc; i++)
		if (!(ac->vol[ac->c[i].asset] > 0.0))
			ac->c[i].amount = f >= 1.0 ? 0.0 :
			    ac->c[i].amount * (1.0 - f);
}

/* Repay `value` of debt: volatile, then stable, by decreasing value. */
static void
repay_debt(struct acct *ac, double value, uint32_t a, double *units_a,
    double *vdebt)
{
	double rem = value;
	size_t i;

	order_entries(ac, ac->d, ac->nd);
	for (i = 0; i < ac->nd && rem > 0.0; i++) {
		struct lc_entry *e = &ac->d[ac->ord[i]];
		double px = ac->q[e->asset], val = e->amount * px, qty;

		if (!(val > 0.0))
			continue;
		qty = take_entry(e->amount, px, &val, &rem);
		e->amount -= qty;
		if (ac->vol[e->asset] > 0.0)
			*vdebt += val;
		if (e->asset == a)
			*units_a += qty;
	}
}

/* One 3.1 step at prices ac->q, counting units of asset a. */
static void
acct_step(struct acct *ac, uint32_t a, double d_first, struct step_out *o)
{
	double cv = side_value(ac, ac->c, ac->nc);
	double dv = side_value(ac, ac->d, ac->nd);
	double cf = ac->cf0, r, v;
	size_t i;

	memset(o, 0, sizeof(*o));
	if (!(cv > 0.0) || !(dv > 0.0)) {
		o->end = 1;
		return;
	}
	if (ac->proto == LC_COMPOUND_V3) {
		/* absorb: all collateral seized (volatile sold), debt taken */
		for (i = 0; i < ac->nc; i++) {
			if (ac->c[i].asset == a && ac->vol[a] > 0.0)
				o->sold += ac->c[i].amount;
			ac->c[i].amount = 0.0;
		}
		for (i = 0; i < ac->nd; i++)
			ac->d[i].amount = 0.0;
		o->seized = cv;
		o->shortfall = dv > cv ? dv - cv : 0.0;
		o->end = 1;
		return;
	}
	if (ac->proto == LC_AAVE_V3 && ac->flb > 0.0 &&
	    (cv < ac->flb || dv < ac->flb))
		cf = 1.0;
	r = cf * dv;
	v = r * (1.0 + ac->bonus);
	if (v > cv) {
		/* bad debt: everything goes, the rest is written off */
		v = cv;
		r = cv / (1.0 + ac->bonus);
		for (i = 0; i < ac->nc; i++) {
			if (ac->c[i].asset == a)
				o->sold += ac->c[i].amount;
			ac->c[i].amount = 0.0;
		}
		o->end = 1;
	} else {
		take_collateral(ac, v, a, &o->sold);
	}
	o->seized = v;
	repay_debt(ac, r, a, &o->bought, &o->vdebt);
	if (!(side_value(ac, ac->c, ac->nc) > 0.0) ||
	    side_value(ac, ac->d, ac->nd) < DEBT_REL_STOP * d_first)
		o->end = 1;
}

/* Units of a on each side, and the other assets' W' and D' at q. */
static void
acct_split(const struct acct *ac, uint32_t a, double *ca, double *da,
    double *wo, double *dof)
{
	size_t i;

	*ca = *da = *wo = *dof = 0.0;
	for (i = 0; i < ac->nc + ac->nd; i++) {
		const struct lc_entry *e = &ac->c[i];
		int coll = i < ac->nc;

		if (!(e->amount > 0.0))
			continue;
		if (e->asset == a)
			*(coll ? ca : da) += coll ? e->amount * e->lt :
			    e->amount;
		else
			*(coll ? wo : dof) += e->amount * ac->q[e->asset] *
			    (coll ? e->lt : 1.0);
	}
}

/*
 * Ladder of a coupled loan in asset a alone (see the design block):
 * appends its steps to out[*n .. cap).
 */
static enum lc_status
coupled_ladder(const struct lc_loan *l, const double *price,
    const double *vol, uint32_t a, struct lc_book_step *out, size_t cap,
    size_t *n)
{
	struct acct ac;
	enum lc_status st;
	double p0 = price[a], ca, da, wo, dof, d_first = 0.0;
	int now, down;
	uint32_t k;

	st = acct_new(&ac, l, price, vol);
	if (st != LC_OK)
		return st;
	acct_split(&ac, a, &ca, &da, &wo, &dof);
	down = ca > da;
	if (ca == da)
		goto out;	/* HF does not depend on P_a */
	for (k = 0; k < LC_MAX_STEPS; k++) {
		struct step_out o;
		double x, p, cv, dv;

		acct_split(&ac, a, &ca, &da, &wo, &dof);
		ac.q[a] = p0;
		cv = side_value(&ac, ac.c, ac.nc);
		if (!(cv > 0.0))
			break;
		/* liquidatable at P (now, or x at or beyond P): at P */
		now = wo + ca * p0 <= dof + da * p0;
		if (now) {
			p = p0;
		} else if (down ? !(ca > da) : !(ca < da)) {
			break;	/* the move no longer liquidates */
		} else {
			x = down ? (dof - wo) / (ca - da) :
			    (wo - dof) / (da - ca);
			if (!(x > 0.0) || !isfinite(x))
				break;
			p = x;
		}
		ac.q[a] = p;
		dv = side_value(&ac, ac.d, ac.nd);
		if (!(dv > 0.0))
			break;
		if (k == 0)
			d_first = dv;
		acct_step(&ac, a, d_first, &o);
		if (out != NULL && *n < cap) {
			out[*n].asset = a;
			out[*n].dir = down ? LC_DOWN : LC_UP;
			out[*n].rank = k;
			out[*n].price = p;
			out[*n].qty = down ? o.sold : o.bought;
		}
		(*n)++;
		if (o.end)
			break;
	}
out:
	acct_free(&ac);
	return LC_OK;
}

static void
put_ladder(const struct lc_ladder *ld, struct lc_book_step *out, size_t cap,
    size_t *n)
{
	size_t i;

	for (i = 0; i < ld->n; i++, (*n)++) {
		if (out == NULL || *n >= cap)
			continue;
		out[*n].asset = ld->asset;
		out[*n].dir = ld->dir;
		out[*n].rank = (uint32_t)i;
		out[*n].price = ld->price[i];
		out[*n].qty = ld->qty[i];
	}
}

enum lc_status
lc_book_derive(const struct lc_position *p, const double *price,
    const double *vol, struct lc_book_step *out, size_t cap, size_t *n)
{
	struct lc_ladder ld;
	enum lc_status st = LC_OK;
	size_t i;

	*n = 0;
	if (p->type == LC_POS_PERP) {
		if (!(vol[p->u.perp.asset] > 0.0))
			return LC_EINVAL;
		st = lc_perp_ladder(&p->u.perp, price, &ld);
		if (st == LC_OK)
			put_ladder(&ld, out, cap, n);
	} else {
		const struct lc_loan *l = &p->u.loan;

		switch (lc_loan_classify(l, vol, NULL, NULL)) {
		case LC_LOAN_STABLE:
			break;
		case LC_LOAN_SINGLE:
			st = lc_loan_ladder(l, price, vol, &ld);
			if (st == LC_OK)
				put_ladder(&ld, out, cap, n);
			break;
		case LC_LOAN_COUPLED:
		default:
			/* each volatile asset once, collateral entries first */
			for (i = 0; i < l->ncoll + l->ndebt && st == LC_OK;
			    i++) {
				const struct lc_entry *e = i < l->ncoll ?
				    &l->coll[i] : &l->debt[i - l->ncoll];
				size_t j;

				if (!(e->amount > 0.0) || !(vol[e->asset] > 0.0))
					continue;
				for (j = 0; j < i; j++) {
					const struct lc_entry *f = j < l->ncoll ?
					    &l->coll[j] : &l->debt[j - l->ncoll];

					if (f->asset == e->asset &&
					    f->amount > 0.0)
						break;
				}
				if (j == i)
					st = coupled_ladder(l, price, vol,
					    e->asset, out, cap, n);
			}
			break;
		}
	}
	if (st != LC_OK)
		return st;
	return out != NULL && *n > cap ? LC_ELIMIT : LC_OK;
}

int
lc_book_step_stale(const struct lc_book_step *s, double p0)
{
	return s->dir == LC_DOWN ? s->price >= p0 : s->price <= p0;
}

/* ---------------------------------------------------------------- */
/* The incremental book.                                            */

void
lc_book_init(struct lc_book *b)
{
	memset(b, 0, sizeof(*b));
	b->slot = NULL;
	b->step = NULL;
	b->total = NULL;
}

void
lc_book_release(struct lc_book *b)
{
	size_t x;

	if (b == NULL)
		return;
	for (x = 0; x < 2 * b->nix; x++)
		free(b->ix[x].e);
	free(b->ix);
	free(b->pend);
	free(b->slot);
	free(b->step);
	free(b->total);
	lc_book_init(b);
}

static enum lc_status
grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t nc = *cap > 0 ? *cap : 16;
	void *p;

	if (need <= *cap)
		return LC_OK;
	while (nc < need) {
		if (nc > SIZE_MAX / 2 / size)
			return LC_ELIMIT;
		nc *= 2;
	}
	if (nc * size >= BIG_BYTES) {
		/* advised before the copy touches it (realloc would not) */
		p = big_malloc(nc * size);
		if (p == NULL)
			return LC_ENOMEM;
		if (*cap > 0)
			memcpy(p, *arr, *cap * size);
		free(*arr);
	} else {
		p = realloc(*arr, nc * size);
		if (p == NULL)
			return LC_ENOMEM;
	}
	*arr = p;
	*cap = nc;
	return LC_OK;
}

static void
total_add(struct lc_book *b, const struct lc_book_step *s, double sign)
{
	struct lc_book_total *t;

	if (s->asset >= b->nassets)
		return;
	t = &b->total[s->asset];
	if (sign > 0.0)
		t->count[s->dir]++;
	else if (t->count[s->dir] > 0)
		t->count[s->dir]--;
	t->qty[s->dir] += sign * s->qty;
	if (t->count[s->dir] == 0)
		t->qty[s->dir] = 0.0;	/* no rounding residue when empty */
}

/* Drop dead steps, keep slot order; recompute the totals exactly. */
static void
compact(struct lc_book *b)
{
	size_t s, w = 0, i;

	/* slots' steps were appended in put order: move them in slot order */
	struct lc_book_step *tmp = malloc((b->nsteps - b->dead + 1) *
	    sizeof(*tmp));

	if (tmp == NULL)
		return;	/* keep the dead ones; correct, only larger */
	for (s = 0; s < b->nslots; s++) {
		struct lc_book_slot *sl = &b->slot[s];

		if (sl->pos == NULL)
			continue;
		memcpy(tmp + w, b->step + sl->off, sl->n * sizeof(*tmp));
		sl->off = w;
		w += sl->n;
	}
	memcpy(b->step, tmp, w * sizeof(*tmp));
	free(tmp);
	b->nsteps = w;
	b->dead = 0;
	memset(b->total, 0, b->nassets * sizeof(*b->total));
	for (i = 0; i < w; i++)
		total_add(b, &b->step[i], 1.0);
}

/* ---------------------------------------------------------------- */
/* The sorted index of each asset and direction.                    */

#define IX_MIN_MERGE 4096	/* pending + dead steps before a merge */
#define RADIX_BITS 11
#define RADIX_N (1u << RADIX_BITS)
#define RADIX_DEPTH 12		/* passes of 6 bits or more cover 64 bits */
#define SR_SLOT_SHIFT 7		/* sr: slot << 7 | rank << 1 | dead */

static uint64_t
sr_make(size_t slot, uint32_t rank)
{
	return ((uint64_t)slot << SR_SLOT_SHIFT) | ((uint64_t)rank << 1);
}

static size_t
sr_slot(uint64_t sr)
{
	return (size_t)(sr >> SR_SLOT_SHIFT);
}

static uint32_t
sr_rank(uint64_t sr)
{
	return (uint32_t)(sr >> 1) & (LC_MAX_STEPS - 1);
}

/* Does entry x come strictly before y in cascade order (slot, rank)? */
static int
ix_before(enum lc_dir dir, const struct lc_book_ixent *x,
    const struct lc_book_ixent *y)
{
	if (x->price != y->price)
		return dir == LC_DOWN ? x->price > y->price :
		    x->price < y->price;
	return (x->sr >> 1) < (y->sr >> 1);
}

/* An unsigned key increasing in cascade order (finite prices). */
static uint64_t
ix_key(enum lc_dir dir, double p)
{
	uint64_t u;

	memcpy(&u, &p, sizeof(u));
	u = (u >> 63) != 0 ? ~u : u | ((uint64_t)1 << 63);
	return dir == LC_DOWN ? ~u : u;
}

static int
cmp_sr(const void *x, const void *y)
{
	uint64_t a = ((const struct lc_book_ixent *)x)->sr >> 1;
	uint64_t b = ((const struct lc_book_ixent *)y)->sr >> 1;

	return (a > b) - (a < b);
}

/*
 * In-place MSD radix sort (American flag) of a[0..n) on the key bits
 * below `hi`, RADIX_BITS a pass, the bucket bounds in cs (RADIX_DEPTH
 * levels of RADIX_N + 1 offsets and RADIX_N heads): no copy of the
 * entries.  Under 32 entries an insertion sort on the full order; a run
 * of one price (no key bit left) by (slot, rank).  The order is total
 * (a slot's rank is unique), so no stability is needed.
 */
static void
ix_afs(enum lc_dir dir, struct lc_book_ixent *a, size_t n, unsigned hi,
    size_t *cs)
{
	size_t *off = cs, *head = cs + RADIX_N + 1, i, d, nd;
	unsigned sh, bits;
	uint64_t mask;

	if (n < 32) {
		for (i = 1; i < n; i++) {
			struct lc_book_ixent x = a[i];
			size_t j = i;

			for (; j > 0 && ix_before(dir, &x, &a[j - 1]); j--)
				a[j] = a[j - 1];
			a[j] = x;
		}
		return;
	}
	if (hi == 0) {
		qsort(a, n, sizeof(*a), cmp_sr);
		return;
	}
	/* a small bucket: fewer digits (the counts are a pass of their own) */
	bits = n >= 16384 ? RADIX_BITS : 6;
	nd = (size_t)1 << bits;
	sh = hi > bits ? hi - bits : 0;
	mask = ((uint64_t)1 << (hi - sh)) - 1;
	memset(off, 0, (nd + 1) * sizeof(*off));
	for (i = 0; i < n; i++)
		off[((ix_key(dir, a[i].price) >> sh) & mask) + 1]++;
	for (d = 0; d < nd; d++) {
		off[d + 1] += off[d];
		head[d] = off[d];
	}
	for (d = 0; d < nd; d++) {
		while (head[d] < off[d + 1]) {
			struct lc_book_ixent x = a[head[d]], t;
			size_t k = (size_t)((ix_key(dir, x.price) >> sh) & mask);

			while (k != d) {
				t = a[head[k]];
				a[head[k]++] = x;
				x = t;
				k = (size_t)((ix_key(dir, x.price) >> sh) & mask);
			}
			a[head[d]++] = x;
		}
	}
	for (d = 0; d < nd; d++)
		if (off[d + 1] - off[d] > 1)
			ix_afs(dir, a + off[d], off[d + 1] - off[d], sh,
			    cs + 2 * RADIX_N + 1);
}

/* Bucket bounds for ix_sort (RADIX_DEPTH levels); NULL on no memory. */
static size_t *
ix_sort_scratch(void)
{
	return malloc(RADIX_DEPTH * (2 * RADIX_N + 1) * sizeof(size_t));
}

/* The number of low key bits that differ among e[0..n). */
static unsigned
ix_key_bits(enum lc_dir dir, const struct lc_book_ixent *e, size_t n)
{
	uint64_t diff = 0, k0 = n > 0 ? ix_key(dir, e[0].price) : 0;
	unsigned hi = 0;
	size_t i;

	for (i = 1; i < n; i++)
		diff |= ix_key(dir, e[i].price) ^ k0;
	while (hi < 64 && (diff >> hi) != 0)
		hi++;
	return hi;
}

/* Sort e[0..n) in cascade order (price, then slot, then rank). */
static void
ix_sort(enum lc_dir dir, struct lc_book_ixent *e, size_t n, size_t *cs)
{
	if (n > 1)
		ix_afs(dir, e, n, ix_key_bits(dir, e, n), cs);
}

/*
 * Sort e[0..n) with scratch t of n entries: the first pass out of place
 * (e copied to t, scattered back by the top digit: independent stores,
 * where the in-place cycles of ix_afs chain a cache miss per entry on a
 * large array), then each bucket in place (it fits the cache).
 */
static void
ix_sort_big(enum lc_dir dir, struct lc_book_ixent *e, size_t n,
    struct lc_book_ixent *t, size_t *cs)
{
	size_t *off = cs, *head = cs + RADIX_N + 1, i, d, k;
	unsigned hi, sh;
	uint64_t mask;

	if (n < 16384) {
		ix_sort(dir, e, n, cs);
		return;
	}
	hi = ix_key_bits(dir, e, n);
	if (hi == 0) {
		ix_afs(dir, e, n, hi, cs);
		return;
	}
	sh = hi > RADIX_BITS ? hi - RADIX_BITS : 0;
	mask = ((uint64_t)1 << (hi - sh)) - 1;
	memcpy(t, e, n * sizeof(*t));
	memset(off, 0, (RADIX_N + 1) * sizeof(*off));
	for (i = 0; i < n; i++)
		off[((ix_key(dir, t[i].price) >> sh) & mask) + 1]++;
	for (d = 0; d < RADIX_N; d++) {
		off[d + 1] += off[d];
		head[d] = off[d];
	}
	for (i = 0; i < n; i++) {
		k = (size_t)((ix_key(dir, t[i].price) >> sh) & mask);
		e[head[k]++] = t[i];
	}
	for (d = 0; d < RADIX_N; d++)
		if (off[d + 1] - off[d] > 1)
			ix_afs(dir, e + off[d], off[d + 1] - off[d], sh,
			    cs + 2 * RADIX_N + 1);
}

/*
 * Append the live pending steps of slot ps (slot `skip` left out) to
 * their indexes' tails: at[x] is the next free entry of index x (NULL
 * entries: that index is not wanted).
 */
static void
pend_gather(const struct lc_book *b, const struct lc_book_pend *ps,
    size_t skip, struct lc_book_ixent **at, size_t nat)
{
	const struct lc_book_slot *sl = &b->slot[ps->slot];
	size_t k;

	if (sl->pos == NULL || sl->gen != ps->gen || ps->slot == skip)
		return;
	for (k = 0; k < sl->n; k++) {
		const struct lc_book_step *s = &b->step[sl->off + k];
		size_t x = 2 * (size_t)s->asset + s->dir;
		struct lc_book_ixent *e;

		if (x >= nat || at[x] == NULL)
			continue;
		e = at[x]++;
		e->price = s->price;
		e->qty = s->qty;
		e->sr = sr_make(ps->slot, s->rank);
	}
}

/* Pending steps of one asset and direction, in cascade order. */
struct pend_set {
	struct lc_book_ixent *e;
	size_t n;
};

static void
pend_set_free(struct pend_set *p)
{
	free(p->e);
	memset(p, 0, sizeof(*p));
}

/*
 * The live pending steps of (asset, dir), slot `skip` left out, in
 * cascade order (ties by slot, then rank).
 */
static enum lc_status
pend_sorted(const struct lc_book *b, uint32_t asset, enum lc_dir dir,
    size_t skip, struct pend_set *out)
{
	const struct lc_book_index *ix = asset < b->nix ?
	    &b->ix[2 * (size_t)asset + dir] : NULL;
	struct lc_book_ixent *e;
	size_t cap = ix != NULL ? ix->npend : 0, i, *cs;

	memset(out, 0, sizeof(*out));
	if (cap == 0)
		return LC_OK;
	e = big_malloc(cap * sizeof(*e));
	cs = ix_sort_scratch();
	if (e == NULL || cs == NULL) {
		free(e);
		free(cs);
		return LC_ENOMEM;
	}
	for (i = 0; i < b->npend; i++) {
		const struct lc_book_slot *sl = &b->slot[b->pend[i].slot];
		size_t k;

		if (sl->pos == NULL || sl->gen != b->pend[i].gen ||
		    b->pend[i].slot == skip)
			continue;
		for (k = 0; k < sl->n; k++) {
			const struct lc_book_step *s = &b->step[sl->off + k];

			if (s->asset != asset || s->dir != dir)
				continue;
			e[out->n].price = s->price;
			e[out->n].qty = s->qty;
			e[out->n].sr = sr_make(b->pend[i].slot, s->rank);
			out->n++;
		}
	}
	ix_sort(dir, e, out->n, cs);
	free(cs);
	out->e = e;
	return LC_OK;
}

/*
 * Merge the sorted run r = e[m .. m + k) into the sorted run e[0 .. m)
 * with scratch t of min(m, k) entries: the smaller run is copied out,
 * then merged from the end (k <= m) or from the start (m < k), so that
 * no unread entry is overwritten.  No two entries are equal.
 */
static void
ix_merge_runs(enum lc_dir dir, struct lc_book_ixent *e, size_t m, size_t k,
    struct lc_book_ixent *t)
{
	size_t i, j, o;

	if (m == 0 || k == 0)
		return;
	if (k <= m) {
		memcpy(t, e + m, k * sizeof(*t));
		i = m;
		j = k;
		o = m + k;
		while (j > 0) {
			if (i > 0 && ix_before(dir, &t[j - 1], &e[i - 1]))
				e[--o] = e[--i];
			else
				e[--o] = t[--j];
		}
		return;
	}
	memcpy(t, e, m * sizeof(*t));
	i = 0;
	j = m;
	o = 0;
	while (i < m) {
		if (j < m + k && ix_before(dir, &e[j], &t[i]))
			e[o++] = e[j++];
		else
			e[o++] = t[i++];
	}
}

/*
 * Merge the pending steps into every index and drop its dead entries.
 * The larger arrays and the scratch are made first, so a failure
 * (LC_ENOMEM) changes nothing; then each index is compacted in place,
 * one pass over the pending slots appends their steps to the indexes'
 * tails, and each tail is sorted in place and merged with the live run.
 */
static enum lc_status
ix_merge(struct lc_book *b)
{
	struct lc_book_ixent **at = NULL, *t = NULL;
	size_t x, i, m, nx = 2 * b->nix, tcap = 0, *live = NULL, *cs;
	enum lc_status st = LC_OK;

	at = calloc(nx + 1, sizeof(*at));
	live = calloc(nx + 1, sizeof(*live));
	cs = ix_sort_scratch();
	if (at == NULL || live == NULL || cs == NULL) {
		st = LC_ENOMEM;
		goto out;
	}
	for (x = 0; x < nx && st == LC_OK; x++) {
		struct lc_book_index *ix = &b->ix[x];
		size_t lv = ix->n - ix->ndead, k = ix->npend;

		if (k == 0 && ix->ndead == 0)
			continue;
		if (lv + k > ix->cap)
			st = grow((void **)&ix->e, &ix->cap, lv + k,
			    sizeof(*ix->e));
		if (k > tcap)
			tcap = k;	/* the sort's scratch, then the merge's */
	}
	if (st == LC_OK && tcap > 0) {
		t = big_malloc(tcap * sizeof(*t));
		if (t == NULL)
			st = LC_ENOMEM;
	}
	if (st != LC_OK)
		goto out;
	for (x = 0; x < nx; x++) {
		struct lc_book_index *ix = &b->ix[x];

		if (ix->npend == 0 && ix->ndead == 0)
			continue;
		for (i = m = 0; i < ix->n && ix->ndead > 0; i++)
			if (!(ix->e[i].sr & 1u))
				ix->e[m++] = ix->e[i];
		live[x] = ix->ndead > 0 ? m : ix->n;
		ix->n = live[x];
		at[x] = ix->e + ix->n;
	}
	for (i = 0; i < b->npend; i++)
		pend_gather(b, &b->pend[i], LC_BOOK_NO_SLOT, at, nx);
	for (x = 0; x < nx; x++) {
		struct lc_book_index *ix = &b->ix[x];
		enum lc_dir dir = (enum lc_dir)(x % 2);
		size_t k;

		if (at[x] == NULL)
			continue;
		k = (size_t)(at[x] - (ix->e + live[x]));
		ix_sort_big(dir, ix->e + live[x], k, t, cs);
		ix_merge_runs(dir, ix->e, live[x], k, t);
		ix->n = live[x] + k;
		ix->ndead = ix->npend = 0;
	}
	b->npend = b->pend_steps = b->ix_dead = 0;
out:
	free(cs);
	free(t);
	free(at);
	free(live);
	return st;
}

/* Mark the index entry of an indexed slot's step dead. */
static void
ix_kill(struct lc_book *b, size_t slot, const struct lc_book_step *s)
{
	struct lc_book_index *ix = &b->ix[2 * (size_t)s->asset + s->dir];
	struct lc_book_ixent key;
	size_t lo = 0, hi = ix->n;

	key.price = s->price;
	key.sr = sr_make(slot, s->rank);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix_before(s->dir, &ix->e[mid], &key))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ix->n && !ix_before(s->dir, &key, &ix->e[lo]); lo++)
		if (!(ix->e[lo].sr & 1u)) {
			ix->e[lo].sr |= 1u;
			ix->ndead++;
			b->ix_dead++;
			return;
		}
}

/*
 * Merge when the pending and dead steps pass four times the indexed live
 * ones: from an empty book the index grows by a factor of 5 per merge,
 * so the merges of n puts move about 1.25 n entries; lc_book_flush()
 * after a batch does the rest.
 */
static void
ix_maybe_merge(struct lc_book *b)
{
	size_t live = b->nsteps - b->dead, work = b->pend_steps + b->ix_dead;
	size_t indexed = live > b->pend_steps ? live - b->pend_steps : 0;

	if (work > IX_MIN_MERGE && work / 4 > indexed)
		(void)ix_merge(b);	/* on failure they stay pending */
}

void
lc_book_remove(struct lc_book *b, size_t slot)
{
	struct lc_book_slot *sl;
	size_t i;

	if (slot >= b->nslots || b->slot[slot].pos == NULL)
		return;
	sl = &b->slot[slot];
	for (i = 0; i < sl->n; i++) {
		total_add(b, &b->step[sl->off + i], -1.0);
		ix_kill(b, slot, &b->step[sl->off + i]);
	}
	b->dead += sl->n;
	sl->pos = NULL;
	sl->off = sl->n = 0;
	sl->gen++;
	if (b->dead > 64 && 2 * b->dead > b->nsteps)
		compact(b);
	ix_maybe_merge(b);
}

enum lc_status
lc_book_put(struct lc_book *b, size_t slot, const struct lc_position *p,
    const double *price, const double *vol)
{
	enum lc_status st;
	size_t bound, n = 0, i, ne;
	uint32_t top = 0;

	if (slot > (SIZE_MAX >> SR_SLOT_SHIFT) - 1)
		return LC_ELIMIT;	/* the index keeps slot << 7 */
	lc_book_remove(b, slot);
	if (slot >= b->nslots) {
		st = grow((void **)&b->slot, &b->slot_cap, slot + 1,
		    sizeof(*b->slot));
		if (st != LC_OK)
			return st;
		memset(b->slot + b->nslots, 0,
		    (slot + 1 - b->nslots) * sizeof(*b->slot));
		b->nslots = slot + 1;
	}
	ne = p->type == LC_POS_PERP ? 1 : p->u.loan.ncoll + p->u.loan.ndebt;
	bound = LC_MAX_STEPS * (ne > 0 ? ne : 1);
	st = grow((void **)&b->step, &b->step_cap, b->nsteps + bound,
	    sizeof(*b->step));
	if (st != LC_OK)
		return st;
	st = lc_book_derive(p, price, vol, b->step + b->nsteps, bound, &n);
	if (st != LC_OK)
		return st;
	for (i = 0; i < n; i++)
		if (b->step[b->nsteps + i].asset >= top)
			top = b->step[b->nsteps + i].asset + 1;
	if (top > b->nassets) {
		size_t cap = b->nassets;
		struct lc_book_total *t = realloc(b->total,
		    top * sizeof(*t));

		if (t == NULL)
			return LC_ENOMEM;
		memset(t + cap, 0, (top - cap) * sizeof(*t));
		b->total = t;
		b->nassets = top;
	}
	if (top > b->nix) {
		struct lc_book_index *x = realloc(b->ix,
		    2 * (size_t)top * sizeof(*x));

		if (x == NULL)
			return LC_ENOMEM;
		memset(x + 2 * b->nix, 0, 2 * (top - b->nix) * sizeof(*x));
		b->ix = x;
		b->nix = top;
	}
	if (n > 0) {
		st = grow((void **)&b->pend, &b->pend_cap, b->npend + 1,
		    sizeof(*b->pend));
		if (st != LC_OK)
			return st;
	}
	b->slot[slot].pos = p;
	b->slot[slot].off = b->nsteps;
	b->slot[slot].n = n;
	b->slot[slot].gen++;
	for (i = 0; i < n; i++) {
		const struct lc_book_step *e = &b->step[b->nsteps + i];

		total_add(b, e, 1.0);
		b->ix[2 * (size_t)e->asset + e->dir].npend++;
	}
	b->nsteps += n;
	if (n > 0) {
		b->pend[b->npend].slot = slot;
		b->pend[b->npend].gen = b->slot[slot].gen;
		b->npend++;
		b->pend_steps += n;
		ix_maybe_merge(b);
	}
	return LC_OK;
}

enum lc_status
lc_book_flush(struct lc_book *b)
{
	return b->npend > 0 || b->ix_dead > 0 ? ix_merge(b) : LC_OK;
}

struct lc_book_total
lc_book_totals(const struct lc_book *b, uint32_t a)
{
	struct lc_book_total t;

	if (a < b->nassets)
		return b->total[a];
	memset(&t, 0, sizeof(t));
	return t;
}

void
lc_book_levels_init(struct lc_book_levels *l)
{
	memset(l, 0, sizeof(*l));
	l->price = l->qty = NULL;
	l->slot = NULL;
	l->rank = NULL;
}

/* Free the four arrays of l, leaving its other members as they are. */
static void
levels_free(struct lc_book_levels *l)
{
	free(l->price);
	free(l->qty);
	free(l->slot);
	free(l->rank);
}

void
lc_book_levels_release(struct lc_book_levels *l)
{
	if (l == NULL)
		return;
	levels_free(l);
	lc_book_levels_init(l);
}

static enum lc_status
levels_reserve(struct lc_book_levels *l, size_t n)
{
	size_t cap = n > 0 ? n : 1;

	if (n <= l->cap && l->price != NULL)
		return LC_OK;
	levels_free(l);
	l->price = big_malloc(cap * sizeof(double));
	l->qty = big_malloc(cap * sizeof(double));
	l->slot = big_malloc(cap * sizeof(size_t));
	l->rank = big_malloc(cap * sizeof(uint32_t));
	if (l->price == NULL || l->qty == NULL || l->slot == NULL ||
	    l->rank == NULL) {
		lc_book_levels_release(l);
		return LC_ENOMEM;
	}
	l->cap = cap;
	return LC_OK;
}

/* Append entry x to the levels unless skipped or stale. */
static void
levels_push(struct lc_book_levels *out, const struct lc_book_ixent *x,
    enum lc_dir dir, double p0, size_t skip)
{
	size_t slot = sr_slot(x->sr);

	if (slot == skip)
		return;
	if (dir == LC_DOWN ? x->price >= p0 : x->price <= p0) {
		out->stale++;
		return;
	}
	out->price[out->n] = x->price;
	out->qty[out->n] = x->qty;
	out->slot[out->n] = slot;
	out->rank[out->n] = sr_rank(x->sr);
	out->n++;
}

enum lc_status
lc_book_levels(const struct lc_book *b, uint32_t asset, enum lc_dir dir,
    double p0, size_t skip, struct lc_book_levels *out)
{
	const struct lc_book_index *ix = asset < b->nix ?
	    &b->ix[2 * (size_t)asset + dir] : NULL;
	struct pend_set ps;
	size_t i, j, ni = ix != NULL ? ix->n : 0;
	enum lc_status st;

	out->n = 0;
	out->stale = 0;
	st = pend_sorted(b, asset, dir, skip, &ps);
	if (st != LC_OK)
		return st;
	st = levels_reserve(out, ni + ps.n);
	if (st != LC_OK) {
		pend_set_free(&ps);
		return st;
	}
	/* the index's live entries merged with the sorted pending steps */
	for (i = j = 0; i < ni || j < ps.n;) {
		const struct lc_book_ixent *pe = j < ps.n ? &ps.e[j] : NULL;

		if (i < ni && (ix->e[i].sr & 1u)) {
			i++;
		} else if (pe != NULL && (i == ni ||
		    ix_before(dir, pe, &ix->e[i]))) {
			levels_push(out, pe, dir, p0, skip);
			j++;
		} else {
			levels_push(out, &ix->e[i++], dir, p0, skip);
		}
	}
	pend_set_free(&ps);
	return LC_OK;
}

/* ---------------------------------------------------------------- */
/* The grid and the horizon law.                                    */

enum lc_status
lc_book_grid(enum lc_dir dir, double from, double to, double step,
    double *out, size_t *n)
{
	double span, ratio, sgn, last;
	size_t k, cnt;
	int append;

	*n = 0;
	if (!isfinite(from) || !isfinite(to) || !isfinite(step) ||
	    !(step > 0.0) || !(1.0 + from > 0.0) || !(1.0 + to > 0.0))
		return LC_EINVAL;
	if (dir == LC_DOWN ? to > from : to < from)
		return LC_EINVAL;
	span = fabs(to - from);
	ratio = span / step + GRID_EPS;
	if (!(ratio < (double)LC_BOOK_MAX_POINTS))
		return LC_EINVAL;
	cnt = (size_t)floor(ratio);
	sgn = dir == LC_DOWN ? -1.0 : 1.0;
	last = from + (double)cnt * step * sgn;
	append = fabs(last - to) > GRID_EPS * step;
	if (cnt + 1 + (append ? 1u : 0u) > LC_BOOK_MAX_POINTS)
		return LC_EINVAL;
	if (out != NULL) {
		for (k = 0; k <= cnt; k++)
			out[k] = from + (double)k * step * sgn;
		if (append)
			out[cnt + 1] = to;
	}
	*n = cnt + 1 + (append ? 1u : 0u);
	return LC_OK;
}

/*
 * x_q of the running extreme: down 2 F_r(x) = 1 - q (x < 0), up
 * 2 S_r(x) = 1 - q (x > 0), by bisection (F_r is monotone); 0 when
 * sigma_h is 0 (the extreme stays at P).
 */
static double
extreme_quantile(enum lc_dir dir, double q, double sigma_h, double nu)
{
	double target = (1.0 - q) / 2.0, lo, hi, mid;
	int it;

	if (!(sigma_h > 0.0))
		return 0.0;
	/* work on the lower tail: up mirrors through S_r(x) = F_r(-x) */
	hi = 0.0;
	lo = -sigma_h;
	for (it = 0; it < 2000 && lc_logret_cdf(lo, sigma_h, nu) > target;
	    it++)
		lo *= 2.0;
	for (it = 0; it < 300; it++) {
		mid = 0.5 * (lo + hi);
		if (mid <= lo || mid >= hi)
			break;
		if (lc_logret_cdf(mid, sigma_h, nu) > target)
			hi = mid;
		else
			lo = mid;
	}
	mid = 0.5 * (lo + hi);
	return dir == LC_DOWN ? mid : -mid;
}

/* ---------------------------------------------------------------- */
/* The book under a shock.                                          */

void
lc_book_risk_init(struct lc_book_risk *r)
{
	memset(r, 0, sizeof(*r));
	r->points = NULL;
}

struct risk_ws;
static void risk_ws_free(struct risk_ws *w);

void
lc_book_risk_release(struct lc_book_risk *r)
{
	if (r == NULL)
		return;
	if (r->ws != NULL) {
		risk_ws_free(r->ws);
		free(r->ws);
	}
	free(r->points);
	lc_book_risk_init(r);
}

/* Account after a replayed step: bad debt at F is s + max(0, a + b F). */
struct bd {
	double a, b, s;
};

/* Positions with stale steps: happen at P in both modes. */
struct stale_pos {
	size_t first_lvl;	/* its first non-stale level, NONE */
	double val[2];
	struct bd bd[2];
};

/* Scratch arrays of a query, kept by struct lc_book_risk between calls. */
enum {
	WB_PR0, WB_PR1, WB_QT0, WB_QT1, WB_ORG0, WB_ORG1, WB_J, WB_LV, WB_SP,
	WB_START, WB_ORD, WB_PQ, WB_PV0, WB_PV1, WB_PF,
	WB_PREV, WB_ON0, WB_POS0, WB_JOIN0, WB_LEAVE0, WB_ON1, WB_POS1,
	WB_JOIN1, WB_LEAVE1, WB_GH, WB_GG, WB_PTS, WB_ALL,
	WB_AT, WB_LVAL0, WB_LVAL1, WB_LBD0, WB_LBD1, WB_SST, WB_GEN, WB_GEX,
	WB_N
};

struct wbuf {
	void *p;
	size_t cap;	/* bytes */
};

struct risk_ws {
	struct wbuf buf[WB_N];
	struct lc_book_levels tmp;	/* other books' levels */
	struct lc_cascade c;
	struct lc_book_levels self;
	size_t *j;		/* trigger index of each self level */
	/*
	 * Per level of the book (arrays apart: each pass reads only its
	 * own), per mode [0] cascade, [1] static: the account after the
	 * step, the next and the previous level of the same slot (NONE;
	 * the previous of a first level is n + its stale entry when its
	 * position has stale steps), the prefix sums of the levels' qty,
	 * liquidated_value added and first happening steps (no previous).
	 */
	double *lval[2];	/* liquidated_value added */
	struct bd *lbd[2];
	size_t *lnext, *lprev;
	double *pre_qty, *pre_val[2];
	size_t *pre_first;
	struct stale_pos *sp;
	size_t nsp;
	double stale_qty, stale_val[2];
};

static double
bd_at(const struct bd *d, double f)
{
	double x = d->a + d->b * f;

	return d->s + (x > 0.0 ? x : 0.0);
}

static struct bd
acct_bd(const struct acct *ac, uint32_t a, double s)
{
	struct bd d;
	size_t i;

	d.a = d.b = 0.0;
	d.s = s;
	for (i = 0; i < ac->nc + ac->nd; i++) {
		const struct lc_entry *e = &ac->c[i];
		double sg = i < ac->nc ? -1.0 : 1.0;

		if (!(e->amount > 0.0))
			continue;
		if (e->asset == a)
			d.b += sg * e->amount;
		else
			d.a += sg * e->amount * ac->q[e->asset];
	}
	return d;
}

/*
 * The common loan of a book: one collateral entry, volatile, in the
 * shocked asset, one debt entry in a stable asset, not compound-v3,
 * replayed down.  Its replay needs no account: the operations of the
 * generic one (acct_step, take_collateral, repay_debt, acct_bd) on its
 * two amounts, in the same order, so the same bits (a sum over entries
 * starting at 0.0 adds one term here: 0.0 + x is x).
 */
static int
simple_down(const struct lc_loan *l, uint32_t asset, enum lc_dir dir,
    const double *vol)
{
	return dir == LC_DOWN && l->protocol != LC_COMPOUND_V3 &&
	    l->ncoll == 1 && l->ndebt == 1 && l->coll[0].asset == asset &&
	    vol[asset] > 0.0 && l->debt[0].asset != asset &&
	    !(vol[l->debt[0].asset] > 0.0);
}

/*
 * A common loan's replay state (both modes) and its constants: acct_new's
 * close factor, 1 + bonus, and aave-v3's full_liquidation_below (-inf
 * when the rule does not apply: `cv < flb` is then never true).  Also
 * replay_book's record of the slot: its last level so far (NONE, or
 * n + its stale entry before its first level) and how it is replayed.
 */
enum { SK_NONE, SK_SIMPLE, SK_GENERIC };

struct sst {
	double ca[2], da[2];	/* per mode: collateral, debt units */
	double pd, cf0, ob, flb;
	size_t last;
	unsigned char dead[2];
	unsigned char kind;
};

/*
 * The level pass reads its slots' states out of order: each one a cache
 * (and TLB) miss, more than its steps' work can hide.  Asked for
 * PREFETCH_AHEAD levels ahead (a hint; nothing where the compiler has
 * no such builtin).
 */
#define PREFETCH_AHEAD 16

static void
prefetch_rw(const void *p, size_t n)
{
#if defined(__GNUC__)
	const char *c = p;
	size_t k;

	for (k = 0; k < n; k += 64)
		__builtin_prefetch(c + k, 1, 3);
	__builtin_prefetch(c + n - 1, 1, 3);
#else
	(void)p;
	(void)n;
#endif
}

static void
sst_init(struct sst *t, const struct lc_loan *l, const double *price)
{
	double flb = isnan(l->full_liq_below) ? AAVE_FLB_DEFAULT :
	    l->full_liq_below;

	t->ca[0] = t->ca[1] = l->coll[0].amount;
	t->da[0] = t->da[1] = l->debt[0].amount;
	t->pd = price[l->debt[0].asset];
	t->cf0 = lc_loan_close_factor(l);
	t->ob = 1.0 + lc_loan_bonus(l, price);
	t->flb = l->protocol == LC_AAVE_V3 && flb > 0.0 ? flb : -HUGE_VAL;
	t->dead[0] = t->dead[1] = 0;
}

/*
 * One step of mode m at execution price pa: the value seized into *val,
 * the account after it into *bd.
 */
static inline void
simple_step(struct sst *t, int m, double pa, double *val, struct bd *bd)
{
	double ca = t->ca[m], da = t->da[m], pd = t->pd, seized = 0.0;

	if (!t->dead[m]) {
		double cv = ca > 0.0 ? ca * pa : 0.0;
		double dv = da > 0.0 ? da * pd : 0.0;

		if (cv > 0.0 && dv > 0.0) {
			double cf = t->cf0, r, v, x, rem;

			if (cv < t->flb || dv < t->flb)
				cf = 1.0;
			r = cf * dv;
			v = r * t->ob;
			if (v > cv) {
				v = cv;
				r = cv / t->ob;
				ca = 0.0;
			} else {
				x = ca * pa;
				rem = v;
				if (rem > 0.0 && x > 0.0)
					ca -= take_entry(ca, pa, &x, &rem);
			}
			seized = v;
			x = da * pd;
			rem = r;
			if (rem > 0.0 && x > 0.0)
				da -= take_entry(da, pd, &x, &rem);
		}
		t->dead[m] = !((ca > 0.0 ? ca * pa : 0.0) > 0.0);
		t->ca[m] = ca;
		t->da[m] = da;
	}
	*val = seized;
	bd->a = da > 0.0 ? da * pd : 0.0;
	bd->b = ca > 0.0 ? -ca : 0.0;
	bd->s = 0.0;
}

static void
replay_simple(const struct lc_loan *l, const double *price, const double *e,
    size_t n, double *val, struct bd *bd)
{
	struct sst t;
	size_t k;

	sst_init(&t, l, price);
	for (k = 0; k < n; k++)
		simple_step(&t, 0, e[k], &val[k], &bd[k]);
}

/*
 * Replay one position along its ladder in (asset, dir) at execution
 * prices e[k] (k = rank), recording per step the value added and the
 * account after it into val[] and bd[].
 */
static enum lc_status
replay(const struct lc_position *p, const double *price, const double *vol,
    uint32_t asset, enum lc_dir dir, const double *e, size_t n, double *val,
    struct bd *bd)
{
	struct acct ac;
	enum lc_status st;
	double s = 0.0, d_first = 0.0;
	size_t k;
	int dead = 0;

	if (p->type == LC_POS_PERP) {
		for (k = 0; k < n; k++) {
			val[k] = p->u.perp.size * e[k];
			bd[k].a = bd[k].b = bd[k].s = 0.0;
		}
		return LC_OK;
	}
	if (simple_down(&p->u.loan, asset, dir, vol)) {
		replay_simple(&p->u.loan, price, e, n, val, bd);
		return LC_OK;
	}
	st = acct_new(&ac, &p->u.loan, price, vol);
	if (st != LC_OK)
		return st;
	for (k = 0; k < n; k++) {
		struct step_out o;

		memset(&o, 0, sizeof(o));
		ac.q[asset] = e[k];
		if (k == 0)
			d_first = side_value(&ac, ac.d, ac.nd);
		if (!dead) {
			acct_step(&ac, asset, d_first, &o);
			/* compound-v3 and bad debt end the account */
			dead = ac.proto == LC_COMPOUND_V3 ||
			    !(side_value(&ac, ac.c, ac.nc) > 0.0);
		}
		s += o.shortfall;
		val[k] = dir == LC_DOWN ? o.seized : o.vdebt;
		ac.q[asset] = price[asset];
		bd[k] = acct_bd(&ac, asset, s);
	}
	acct_free(&ac);
	return LC_OK;
}

static void
risk_ws_free(struct risk_ws *w)
{
	size_t i;

	lc_cascade_release(&w->c);
	lc_book_levels_release(&w->self);
	lc_book_levels_release(&w->tmp);
	for (i = 0; i < WB_N; i++)
		free(w->buf[i].p);
}

/*
 * Buffer `id` of at least n elements of `size` bytes (its contents are
 * not kept when it grows).  Kept from call to call: a reused struct
 * lc_book_risk does not map fresh memory (page faults) per query.
 */
static void *
ws_take(struct risk_ws *w, int id, size_t n, size_t size)
{
	struct wbuf *b = &w->buf[id];

	if (n == 0)
		n = 1;
	if (n > SIZE_MAX / size)
		return NULL;
	if (n * size > b->cap) {
		free(b->p);
		b->cap = 0;
		b->p = big_malloc(n * size);
		if (b->p == NULL)
			return NULL;
		b->cap = n * size;
	}
	return b->p;
}

/*
 * Merge the sorted run (pr, qt, org)[0..n) with the levels lv into
 * (npr, nqt, norg): a stable merge, ties to the run (it comes first in
 * the concatenation).  org of a level: its index when `self`, else NONE.
 */
static size_t
merge_run(enum lc_dir dir, const double *pr, const double *qt,
    const size_t *org, size_t n, const struct lc_book_levels *lv, int self,
    double *npr, double *nqt, size_t *norg)
{
	size_t i = 0, j = 0, k = 0;

	while (i < n || j < lv->n) {
		if (j < lv->n && (i == n || (dir == LC_DOWN ?
		    lv->price[j] > pr[i] : lv->price[j] < pr[i]))) {
			npr[k] = lv->price[j];
			nqt[k] = lv->qty[j];
			norg[k++] = self ? j : NONE;
			j++;
		} else {
			npr[k] = pr[i];
			nqt[k] = qt[i];
			norg[k++] = org[i];
			i++;
		}
	}
	return k;
}

/*
 * Build the market's cascade; fills w->c, w->self and w->j.  The stored
 * levels and each book's levels come in cascade order already: merging
 * them left to right (ties to the left) gives the order of a stable sort
 * of their concatenation (lc_trigger_sort's), in O(N) per book.
 */
static enum lc_status
build_market(const struct lc_book_risk_args *a, struct risk_ws *w,
    size_t *stale_total)
{
	struct lc_book_levels *tmp = &w->tmp;
	double p0 = a->price[a->asset], *pr[2] = { NULL, NULL };
	double *qt[2] = { NULL, NULL };
	size_t *org[2] = { NULL, NULL }, n = 0, cap = 0, b, i;
	enum lc_status st = LC_OK;
	int cur = 0;

	*stale_total = 0;
	if (a->stored != NULL)
		cap += a->stored->n;
	for (b = 0; b < a->nbooks; b++)
		cap += lc_book_totals(a->books[b], a->asset).count[a->dir];
	for (i = 0; i < 2; i++) {
		pr[i] = ws_take(w, WB_PR0 + (int)i, cap + 1, sizeof(double));
		qt[i] = ws_take(w, WB_QT0 + (int)i, cap + 1, sizeof(double));
		org[i] = ws_take(w, WB_ORG0 + (int)i, cap + 1, sizeof(size_t));
		if (pr[i] == NULL || qt[i] == NULL || org[i] == NULL) {
			st = LC_ENOMEM;
			goto out;
		}
	}
	for (i = 0; a->stored != NULL && i < a->stored->n; i++) {
		double l = a->stored->price[i];

		if (i > 0 && (a->dir == LC_DOWN ? l > a->stored->price[i - 1] :
		    l < a->stored->price[i - 1])) {
			st = LC_EINVAL;
			goto out;
		}
		if (a->dir == LC_DOWN ? l >= p0 : l <= p0) {
			(*stale_total)++;
			continue;
		}
		pr[0][n] = l;
		qt[0][n] = a->stored->qty[i];
		org[0][n] = NONE;
		n++;
	}
	for (b = 0; b < a->nbooks; b++) {
		struct lc_book_levels *lv = b == a->self ? &w->self : tmp;

		st = lc_book_levels(a->books[b], a->asset, a->dir, p0,
		    LC_BOOK_NO_SLOT, lv);
		if (st != LC_OK)
			goto out;
		*stale_total += lv->stale;
		if (n + lv->n > cap) {
			st = LC_EINVAL;	/* totals out of step: cannot happen */
			goto out;
		}
		n = merge_run(a->dir, pr[cur], qt[cur], org[cur], n, lv,
		    b == a->self, pr[1 - cur], qt[1 - cur], org[1 - cur]);
		cur = 1 - cur;
	}
	w->j = ws_take(w, WB_J, w->self.n + 1, sizeof(*w->j));
	if (w->j == NULL) {
		st = LC_ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++)
		if (org[cur][i] != NONE)
			w->j[org[cur][i]] = i + 1;
	st = lc_cascade_build(&w->c, a->dir, a->curve, a->depth_scale,
	    pr[cur], qt[cur], n);
out:
	return st;
}

/*
 * The first pass of replay_book, slot s: its steps in (asset, dir) (at
 * most LC_MAX_STEPS, as the replay reads them), the stale quantity (slot,
 * rank order), its stale entry (reserved in slot order) and how it is
 * replayed: SK_SIMPLE (a common loan whose stale steps come first) has
 * its stale steps replayed here, at P in both modes, its levels by the
 * level pass; SK_GENERIC by replay_generic.
 */
static void
slot_prepare(const struct lc_book_risk_args *a, struct risk_ws *w,
    size_t s, struct sst *t)
{
	const struct lc_book *bk = a->books[a->self];
	const struct lc_book_slot *sl = &bk->slot[s];
	double p0 = a->price[a->asset], v;
	size_t i, k, nall = 0, nst = 0, nlv = 0;
	struct stale_pos *sp;
	struct bd d;
	int m, ok = 1;

	t->kind = SK_NONE;
	t->last = NONE;
	if (sl->pos == NULL)
		return;
	for (i = 0; i < sl->n && nall < LC_MAX_STEPS; i++) {
		const struct lc_book_step *e0 = &bk->step[sl->off + i];

		if (e0->asset != a->asset || e0->dir != a->dir)
			continue;
		if (lc_book_step_stale(e0, p0)) {
			nst++;
			w->stale_qty += e0->qty;
			ok = ok && nlv == 0;
		} else {
			nlv++;
		}
		nall++;
	}
	if (nall == 0)
		return;
	t->kind = ok && nall < LC_MAX_STEPS && sl->pos->type == LC_POS_LOAN &&
	    simple_down(&sl->pos->u.loan, a->asset, a->dir, a->vol) ?
	    SK_SIMPLE : SK_GENERIC;
	if (t->kind == SK_SIMPLE)
		sst_init(t, &sl->pos->u.loan, a->price);
	if (nst == 0)
		return;
	t->last = w->self.n + w->nsp;
	sp = &w->sp[w->nsp++];
	sp->first_lvl = NONE;
	if (t->kind != SK_SIMPLE)
		return;
	for (m = 0; m < 2; m++) {
		sp->val[m] = 0.0;
		for (k = 0; k < nst; k++) {
			simple_step(t, m, p0, &v, &d);
			sp->val[m] += v;
		}
		sp->bd[m] = d;
	}
}

/*
 * Slot s replayed whole (replay()), its levels' e gathered from the
 * generic levels grouped by slot: ord[k0 .. k1) index gen[] and gex[].
 */
static enum lc_status
replay_generic(const struct lc_book_risk_args *a, struct risk_ws *w,
    size_t s, const struct sst *t, const size_t *ord, size_t k0, size_t k1,
    const size_t *gen, const double *gex)
{
	const struct lc_book *bk = a->books[a->self];
	const struct lc_book_slot *sl = &bk->slot[s];
	double p0 = a->price[a->asset];
	double e[2][LC_MAX_STEPS], val[2][LC_MAX_STEPS];
	struct bd bd[2][LC_MAX_STEPS];
	size_t lvl_of[LC_MAX_STEPS], i, m, k = k0, nall = 0, nst = 0;
	size_t prev = t->last;
	enum lc_status st = LC_OK;
	int mode;

	for (i = 0; i < sl->n && nall < LC_MAX_STEPS; i++) {
		const struct lc_book_step *e0 = &bk->step[sl->off + i];

		if (e0->asset != a->asset || e0->dir != a->dir)
			continue;
		lvl_of[nall] = NONE;
		if (lc_book_step_stale(e0, p0)) {
			e[0][nall] = e[1][nall] = p0;
			nst++;
		} else if (k < k1) {
			/* levels of a slot come in ladder order */
			lvl_of[nall] = gen[ord[k]];
			e[0][nall] = gex[ord[k]];
			e[1][nall] = w->self.price[lvl_of[nall]];
			k++;
		} else {
			e[0][nall] = e[1][nall] = e0->price;
		}
		nall++;
	}
	for (mode = 0; mode < 2 && st == LC_OK; mode++)
		st = replay(sl->pos, a->price, a->vol, a->asset, a->dir,
		    e[mode], nall, val[mode], bd[mode]);
	if (st != LC_OK)
		return st;
	if (nst > 0) {
		struct stale_pos *sp = &w->sp[t->last - w->self.n];

		sp->first_lvl = k0 < k1 ? gen[ord[k0]] : NONE;
		for (mode = 0; mode < 2; mode++) {
			sp->val[mode] = 0.0;
			for (m = 0; m < nall; m++)
				if (lvl_of[m] == NONE)
					sp->val[mode] += val[mode][m];
		}
		/* the account after its last stale step */
		for (m = 0; m < nall; m++)
			if (lvl_of[m] == NONE) {
				sp->bd[0] = bd[0][m];
				sp->bd[1] = bd[1][m];
			}
	}
	for (m = 0; m < nall; m++) {
		i = lvl_of[m];
		if (i == NONE)
			continue;
		w->lval[0][i] = val[0][m];
		w->lval[1][i] = val[1][m];
		w->lbd[0][i] = bd[0][m];
		w->lbd[1][i] = bd[1][m];
		w->lprev[i] = prev;
		prev = i;
	}
	return LC_OK;
}

/* The prefix sums over levels 0..i, from those over 0..i-1. */
static inline void
prefix_step(struct risk_ws *w, size_t i)
{
	w->pre_qty[i + 1] = w->pre_qty[i] + w->self.qty[i];
	w->pre_val[0][i + 1] = w->pre_val[0][i] + w->lval[0][i];
	w->pre_val[1][i + 1] = w->pre_val[1][i] + w->lval[1][i];
	w->pre_first[i + 1] = w->pre_first[i] +
	    (w->lprev[i] == NONE ? 1u : 0u);
}

/*
 * Replay every exposed position of the book, both modes.  Slot pass
 * (slot_prepare), then the levels in cascade order: e = m_j g(S_{j-1})
 * (j increases with the level, so S does: the curve is read with a
 * cursor, lc_cascade_factor's bits), a common loan's step replayed on
 * its slot's state (its levels come in ladder order), every other
 * level's e kept for replay_generic, its slot replayed whole; the
 * prefix sums in the same pass (taken again after replay_generic when
 * it ran).  The level pass reads and writes the level arrays in order:
 * only the slots' states are read out of order.
 */
static enum lc_status
replay_book(const struct lc_book_risk_args *a, struct risk_ws *w)
{
	const struct lc_book *bk = a->books[a->self];
	size_t n = w->self.n, ns = bk->nslots, s, i, ng = 0, nsg = 0, cur = 0;
	enum lc_side side = a->dir == LC_DOWN ? LC_BID : LC_ASK;
	size_t *gen, *start, *ord;
	struct sst *t;
	double *gex;
	enum lc_status st;

	w->lval[0] = ws_take(w, WB_LVAL0, n + 1, sizeof(double));
	w->lval[1] = ws_take(w, WB_LVAL1, n + 1, sizeof(double));
	w->lbd[0] = ws_take(w, WB_LBD0, n + 1, sizeof(struct bd));
	w->lbd[1] = ws_take(w, WB_LBD1, n + 1, sizeof(struct bd));
	w->lprev = ws_take(w, WB_PREV, n + 1, sizeof(*w->lprev));
	w->pre_qty = ws_take(w, WB_PQ, n + 1, sizeof(double));
	w->pre_val[0] = ws_take(w, WB_PV0, n + 1, sizeof(double));
	w->pre_val[1] = ws_take(w, WB_PV1, n + 1, sizeof(double));
	w->pre_first = ws_take(w, WB_PF, n + 1, sizeof(size_t));
	w->sp = ws_take(w, WB_SP, ns + 1, sizeof(*w->sp));
	t = ws_take(w, WB_SST, ns + 1, sizeof(*t));
	gen = ws_take(w, WB_GEN, n + 1, sizeof(*gen));
	gex = ws_take(w, WB_GEX, n + 1, sizeof(*gex));
	if (w->lval[0] == NULL || w->lval[1] == NULL || w->lbd[0] == NULL ||
	    w->lbd[1] == NULL || w->lprev == NULL || w->pre_qty == NULL ||
	    w->pre_val[0] == NULL || w->pre_val[1] == NULL ||
	    w->pre_first == NULL || w->sp == NULL || t == NULL ||
	    gen == NULL || gex == NULL)
		return LC_ENOMEM;
	w->stale_qty = 0.0;
	w->pre_qty[0] = w->pre_val[0][0] = w->pre_val[1][0] = 0.0;
	w->pre_first[0] = 0;
	for (s = 0; s < ns; s++) {
		slot_prepare(a, w, s, &t[s]);
		if (t[s].kind == SK_GENERIC)
			nsg++;
	}
	for (i = 0; i < n; i++) {
		size_t jj = w->j[i];
		struct sst *x = &t[w->self.slot[i]];
		double e0;

		if (i + PREFETCH_AHEAD < n)
			prefetch_rw(&t[w->self.slot[i + PREFETCH_AHEAD]],
			    sizeof(*t));
		e0 = w->c.m[jj] * lc_price_factor_seek(w->c.curve, side,
		    w->c.cum[jj - 1], w->c.scale, &cur);

		if (x->kind != SK_SIMPLE) {
			/* filled by replay_generic (a slot's every level) */
			w->lval[0][i] = w->lval[1][i] = 0.0;
			memset(&w->lbd[0][i], 0, sizeof(struct bd));
			memset(&w->lbd[1][i], 0, sizeof(struct bd));
			w->lprev[i] = NONE;
			gen[ng] = i;
			gex[ng++] = e0;
		} else {
			simple_step(x, 0, e0, &w->lval[0][i], &w->lbd[0][i]);
			simple_step(x, 1, w->self.price[i], &w->lval[1][i],
			    &w->lbd[1][i]);
			if (x->last != NONE && x->last >= n)
				w->sp[x->last - n].first_lvl = i;
			w->lprev[i] = x->last;
			x->last = i;
		}
		prefix_step(w, i);
	}
	if (nsg > 0) {
		/*
		 * The generic levels grouped by slot (stable counting sort);
		 * every generic slot, even one of stale steps only (its
		 * stale entry is filled here).
		 */
		start = ws_take(w, WB_START, ns + 2, sizeof(*start));
		ord = ws_take(w, WB_ORD, ng + 1, sizeof(*ord));
		if (start == NULL || ord == NULL)
			return LC_ENOMEM;
		memset(start, 0, (ns + 2) * sizeof(*start));
		for (i = 0; i < ng; i++)
			start[w->self.slot[gen[i]] + 2]++;
		for (s = 2; s < ns + 2; s++)
			start[s] += start[s - 1];
		for (i = 0; i < ng; i++)
			ord[start[w->self.slot[gen[i]] + 1]++] = i;
		for (s = 0; s < ns; s++) {
			if (t[s].kind != SK_GENERIC)
				continue;
			st = replay_generic(a, w, s, &t[s], ord, start[s],
			    start[s + 1], gen, gex);
			if (st != LC_OK)
				return st;
		}
	}
	/* the prefix sums again, with the generic levels' figures */
	for (i = 0; ng > 0 && i < n; i++)
		prefix_step(w, i);
	return LC_OK;
}

/* Stale values (the quantities are summed by replay_book). */
static void
stale_totals(struct risk_ws *w)
{
	size_t i;

	w->stale_val[0] = w->stale_val[1] = 0.0;
	for (i = 0; i < w->nsp; i++) {
		w->stale_val[0] += w->sp[i].val[0];
		w->stale_val[1] += w->sp[i].val[1];
	}
}

/* Figures of one mode when the book's first h levels happen. */
static void
figures(const struct risk_ws *w, int mode, size_t h, double f,
    struct lc_book_figs *out, int walk)
{
	size_t i;
	double bd = 0.0;

	out->positions = w->nsp + w->pre_first[h];
	out->qty = w->stale_qty + w->pre_qty[h];
	out->value = w->stale_val[mode] + w->pre_val[mode][h];
	out->bad_debt = 0.0;
	if (!walk)
		return;
	for (i = 0; i < w->nsp; i++)
		if (w->sp[i].first_lvl == NONE || w->sp[i].first_lvl >= h)
			bd += bd_at(&w->sp[i].bd[mode], f);
	for (i = 0; i < h; i++)
		if (w->lnext[i] == NONE || w->lnext[i] >= h)
			bd += bd_at(&w->lbd[mode][i], f);
	out->bad_debt = bd;
}

/* Number of the book's levels with j <= k (j increasing). */
static size_t
count_le(const size_t *j, size_t n, size_t k)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (j[mid] <= k)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Number of the book's levels at or beyond p (prices in cascade order). */
static size_t
count_beyond(const double *l, size_t n, enum lc_dir dir, double p)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (dir == LC_DOWN ? l[mid] >= p : l[mid] <= p)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Bad debt along the grid.  The grid is monotone in p, so h(p) and F(p)
 * are monotone too (F is monotone in p, 4.1): positions only gain
 * happening steps, and each one's "last happening step" entry (bd of
 * that level, or of its stale steps) is switched on once and off once.
 * With G = F (down) or -F (up) non-increasing along the sweep and
 * b' = b (down) or -b (up), an entry's a + b' G changes sign at most once
 * while it is on: b' < 0 joins the positive group when G < K = -a/b'
 * and stays, b' > 0 leaves it when G <= K.  Every point's G is known
 * before the sweep (eval_point without the walk), so an entry switched
 * on at point i finds the point of its change by a binary search on
 * G[i..n) (the same comparison with K at that point as a heap of K
 * would make) and waits in that point's list; the positive group keeps
 * sums of a and b'.  So the whole grid costs O(B log points + points)
 * after the replay, instead of O(B) per point (or a heap's cache misses).
 */
struct sweep {
	double sg;		/* +1 down, -1 up */
	unsigned char *on, *pos;
	size_t *nxt;		/* next entry waiting at the same point */
	size_t *head;		/* first entry waiting at point i, NONE */
	size_t non, npos;
	double sum_s, sum_a, sum_b;
	const double *g;	/* G at every point */
	size_t npts;
};

/* Sweep m's arrays from the workspace (buffers WB_ON0 + 4 m ..). */
static enum lc_status
sweep_new(struct sweep *sw, struct risk_ws *w, int m, size_t nent,
    enum lc_dir dir, const double *g, size_t npts)
{
	int base = m == 0 ? WB_ON0 : WB_ON1;
	size_t i;

	memset(sw, 0, sizeof(*sw));
	sw->sg = dir == LC_DOWN ? 1.0 : -1.0;
	sw->g = g;
	sw->npts = npts;
	sw->on = ws_take(w, base, nent + 1, 1);
	sw->pos = ws_take(w, base + 1, nent + 1, 1);
	sw->nxt = ws_take(w, base + 2, nent + 1, sizeof(*sw->nxt));
	sw->head = ws_take(w, base + 3, npts + 1, sizeof(*sw->head));
	if (sw->on == NULL || sw->pos == NULL || sw->nxt == NULL ||
	    sw->head == NULL)
		return LC_ENOMEM;
	memset(sw->on, 0, nent + 1);
	memset(sw->pos, 0, nent + 1);
	for (i = 0; i <= npts; i++)
		sw->head[i] = NONE;
	return LC_OK;
}

/*
 * The first point from i on where the entry changes: G < k (join) or
 * G <= k (leave); npts when none (G is non-increasing).
 */
static size_t
sweep_when(const struct sweep *sw, size_t i, double k, int join)
{
	size_t lo = i, hi = sw->npts;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (join ? sw->g[mid] < k : sw->g[mid] <= k)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static void
sweep_wait(struct sweep *sw, size_t at, size_t id)
{
	if (at >= sw->npts)
		return;
	sw->nxt[id] = sw->head[at];
	sw->head[at] = id;
}

static void
pos_set(struct sweep *sw, const struct bd *d, size_t id, int in)
{
	if (sw->pos[id] == in)
		return;
	sw->pos[id] = (unsigned char)in;
	if (in) {
		sw->npos++;
		sw->sum_a += d->a;
		sw->sum_b += sw->sg * d->b;
	} else if (--sw->npos == 0) {
		sw->sum_a = sw->sum_b = 0.0;	/* no residue */
	} else {
		sw->sum_a -= d->a;
		sw->sum_b -= sw->sg * d->b;
	}
}

/* Switch entry id on at point i (G = g). */
static void
sweep_on(struct sweep *sw, const struct bd *d, size_t id, size_t i, double g)
{
	double b = sw->sg * d->b;

	sw->on[id] = 1;
	sw->non++;
	sw->sum_s += d->s;
	if (d->a + b * g > 0.0) {
		pos_set(sw, d, id, 1);
		if (b > 0.0)
			sweep_wait(sw, sweep_when(sw, i, -d->a / b, 0), id);
	} else if (b < 0.0) {
		sweep_wait(sw, sweep_when(sw, i, -d->a / b, 1), id);
	}
}

static void
sweep_off(struct sweep *sw, const struct bd *d, size_t id)
{
	if (!sw->on[id])
		return;
	pos_set(sw, d, id, 0);
	sw->on[id] = 0;
	if (--sw->non == 0)
		sw->sum_s = 0.0;
	else
		sw->sum_s -= d->s;
}

/* Entry id's account (level or stale position) in mode m. */
static const struct bd *
entry_bd(const struct risk_ws *w, int m, size_t id)
{
	return id < w->self.n ? &w->lbd[m][id] :
	    &w->sp[id - w->self.n].bd[m];
}

/* Bad debt at point i: the changes waiting there, then the sums. */
static double
sweep_value(struct sweep *sw, const struct risk_ws *w, int m, size_t i)
{
	double x, g = sw->g[i];
	size_t id;

	for (id = sw->head[i]; id != NONE; id = sw->nxt[id]) {
		const struct bd *d = entry_bd(w, m, id);

		if (sw->on[id])
			pos_set(sw, d, id, sw->sg * d->b < 0.0);
	}
	x = sw->sum_a + sw->sum_b * g;
	return sw->sum_s + (x > 0.0 ? x : 0.0);
}

/* Move mode m's sweep from h0 to h levels happening (h >= h0), point i. */
static void
sweep_advance(struct sweep *sw, const struct risk_ws *w, int m,
    const size_t *prev, size_t h0, size_t h, size_t i)
{
	size_t k;

	for (k = h0; k < h; k++) {
		size_t pv = prev[k];

		if (pv != NONE)
			sweep_off(sw, entry_bd(w, m, pv), pv);
		sweep_on(sw, &w->lbd[m][k], k, i, sw->g[i]);
	}
}

static void
eval_point(const struct lc_book_risk_args *a, const struct risk_ws *w,
    double shock, struct lc_book_point *pt, size_t *h, int walk)
{
	double p = a->price[a->asset] * (1.0 + shock);
	size_t k = lc_cascade_fired(&w->c, p);

	pt->shock = shock;
	pt->shocked_price = p;
	pt->final_price = p * lc_cascade_factor(&w->c, k);
	h[0] = count_le(w->j, w->self.n, k);
	h[1] = count_beyond(w->self.price, w->self.n, a->dir, p);
	figures(w, 0, h[0], pt->final_price, &pt->cascade, walk);
	figures(w, 1, h[1], p, &pt->stat, walk);
}

/*
 * The grid's points: every point's h and G first, then bad debt by the
 * sweep (by a walk at every point if h or G is not monotone).
 */
static enum lc_status
eval_grid(const struct lc_book_risk_args *a, struct risk_ws *w,
    const double *shock, size_t n, struct lc_book_point *pts)
{
	struct sweep sw[2];
	size_t nl = w->self.n, ne = nl + w->nsp, *hh, i, x;
	double sg = a->dir == LC_DOWN ? 1.0 : -1.0, *gg;
	enum lc_status st;
	int m, broken = 0;

	hh = ws_take(w, WB_GH, 2 * n + 2, sizeof(*hh));
	gg = ws_take(w, WB_GG, 2 * n + 2, sizeof(*gg));
	if (hh == NULL || gg == NULL)
		return LC_ENOMEM;
	for (i = 0; i < n; i++) {
		eval_point(a, w, shock[i], &pts[i], &hh[2 * i], 0);
		gg[i] = sg * pts[i].final_price;
		gg[n + i] = sg * pts[i].shocked_price;
		for (m = 0; m < 2 && i > 0; m++)
			if (hh[2 * i + (size_t)m] < hh[2 * i - 2 + (size_t)m] ||
			    gg[(size_t)m * n + i] > gg[(size_t)m * n + i - 1])
				broken = 1;
	}
	if (broken) {
		/* the walk's next level of the same slot (NONE) */
		w->lnext = ws_take(w, WB_LV, nl + 1, sizeof(*w->lnext));
		if (w->lnext == NULL)
			return LC_ENOMEM;
		for (i = 0; i < nl; i++)
			w->lnext[i] = NONE;
		for (i = 0; i < nl; i++)
			if (w->lprev[i] < nl)
				w->lnext[w->lprev[i]] = i;
		for (i = 0; i < n; i++)
			eval_point(a, w, shock[i], &pts[i], &hh[2 * i], 1);
		return LC_OK;
	}
	for (m = 0; m < 2; m++) {
		st = sweep_new(&sw[m], w, m, ne, a->dir, gg + (size_t)m * n, n);
		if (st != LC_OK)
			return st;
	}
	for (m = 0; m < 2; m++) {
		size_t h0 = 0;

		for (x = 0; x < w->nsp && n > 0; x++)
			sweep_on(&sw[m], &w->sp[x].bd[m], nl + x, 0, sw[m].g[0]);
		for (i = 0; i < n; i++) {
			struct lc_book_figs *f = m == 0 ? &pts[i].cascade :
			    &pts[i].stat;
			size_t h = hh[2 * i + (size_t)m];

			sweep_advance(&sw[m], w, m, w->lprev, h0, h, i);
			f->bad_debt = sweep_value(&sw[m], w, m, i);
			h0 = h;
		}
	}
	return LC_OK;
}

/*
 * The grid's points and the two var points in one sweep: the var shocks
 * inserted where they fall in the grid's order (the sweep needs p
 * monotone), then the figures moved to their places in out.
 */
static enum lc_status
eval_all(const struct lc_book_risk_args *a, struct risk_ws *w,
    const double *shock, size_t n, struct lc_book_risk *out)
{
	struct lc_book_point *pts;
	double *all;
	size_t *at, i, k = 0, v = 0, ord[2];
	enum lc_status st;

	pts = ws_take(w, WB_PTS, n + 2, sizeof(*pts));
	all = ws_take(w, WB_ALL, n + 2, sizeof(*all));
	at = ws_take(w, WB_AT, n + 2, sizeof(*at));
	if (pts == NULL || all == NULL || at == NULL)
		return LC_ENOMEM;
	/* the var points in sweep order, each before the first grid point
	 * it comes before (down: a larger shock, up: a smaller one) */
	ord[0] = a->dir == LC_DOWN ? out->var[0].shock < out->var[1].shock :
	    out->var[0].shock > out->var[1].shock;
	ord[1] = 1 - ord[0];
	for (i = 0; i <= n; i++) {
		while (v < 2 && (i == n || (a->dir == LC_DOWN ?
		    out->var[ord[v]].shock > shock[i] :
		    out->var[ord[v]].shock < shock[i]))) {
			at[n + ord[v]] = k;
			all[k++] = out->var[ord[v]].shock;
			v++;
		}
		if (i < n) {
			at[i] = k;
			all[k++] = shock[i];
		}
	}
	st = eval_grid(a, w, all, n + 2, pts);
	if (st != LC_OK)
		return st;
	for (i = 0; i < n; i++)
		out->points[i] = pts[at[i]];
	for (v = 0; v < 2; v++)
		out->var[v].at = pts[at[n + v]];
	return LC_OK;
}

static int
args_ok(const struct lc_book_risk_args *a)
{
	if (a->dir != LC_DOWN && a->dir != LC_UP)
		return 0;
	if (a->self >= a->nbooks || a->books == NULL || a->price == NULL ||
	    a->vol == NULL)
		return 0;
	if (!(a->horizon_days > 0.0 && a->horizon_days <= 365.0))
		return 0;
	if (!(a->tail_dof == 0.0 || (a->tail_dof > 2.0 &&
	    a->tail_dof <= 1000.0)))
		return 0;
	if (a->curve != NULL && a->curve->n > 0 &&
	    !(a->depth_scale > 0.0 && isfinite(a->depth_scale)))
		return 0;
	return isfinite(a->price[a->asset]) && a->price[a->asset] > 0.0;
}

enum lc_status
lc_book_risk(const struct lc_book_risk_args *a, struct lc_book_risk *out)
{
	static const double qs[2] = { 0.95, 0.99 };
	struct risk_ws *wp = out->ws;
	enum lc_status st;
	double shock[LC_BOOK_MAX_POINTS], sh, pi, pn;
	size_t n, i;
	int v;

	if (!args_ok(a))
		return LC_EINVAL;
	st = lc_book_grid(a->dir, a->from, a->to, a->step, shock, &n);
	if (st != LC_OK)
		return st;
	if (wp == NULL) {
		wp = calloc(1, sizeof(*wp));
		if (wp == NULL)
			return LC_ENOMEM;
		lc_cascade_init(&wp->c);
		lc_book_levels_init(&wp->self);
		lc_book_levels_init(&wp->tmp);
		out->ws = wp;
	}
	wp->nsp = 0;
	st = build_market(a, wp, &out->stale_levels);
	if (st == LC_OK)
		st = replay_book(a, wp);
	if (st == LC_OK)
		stale_totals(wp);
	if (st == LC_OK && n > out->cap) {
		struct lc_book_point *np = realloc(out->points,
		    n * sizeof(*np));

		if (np == NULL) {
			st = LC_ENOMEM;
		} else {
			out->points = np;
			out->cap = n;
		}
	}
	if (st != LC_OK)
		goto out;
	out->price = a->price[a->asset];
	out->nlevels = wp->c.n;
	out->npoints = n;
	sh = lc_sigma_h(a->vol[a->asset], a->horizon_days);
	for (v = 0; v < 2; v++) {
		out->var[v].q = qs[v];
		out->var[v].shock = expm1(extreme_quantile(a->dir, qs[v], sh,
		    a->tail_dof));
	}
	st = eval_all(a, wp, shock, n, out);
	if (st != LC_OK)
		goto out;
	memset(&out->expected, 0, sizeof(out->expected));
	memset(&out->expected_static, 0, sizeof(out->expected_static));
	pi = lc_barrier_prob(a->dir, out->price, out->points[0].shocked_price,
	    sh, a->tail_dof);
	for (i = 0; i < n; i++) {
		const struct lc_book_point *nx = &out->points[i + 1 < n ?
		    i + 1 : i];
		double band;

		/* the last band is everything at or beyond s_n */
		pn = i + 1 < n ? lc_barrier_prob(a->dir, out->price,
		    nx->shocked_price, sh, a->tail_dof) : 0.0;
		band = pi - pn;
		out->expected.value += nx->cascade.value * band;
		out->expected.bad_debt += nx->cascade.bad_debt * band;
		out->expected_static.value += nx->stat.value * band;
		out->expected_static.bad_debt += nx->stat.bad_debt * band;
		pi = pn;
	}
out:
	return st;
}

double
lc_book_effective_distance(const struct lc_liq_result *lp, size_t n,
    const double *price)
{
	double best = INFINITY;
	size_t i;

	for (i = 0; i < n; i++) {
		double x = isnan(lp[i].effective_price) ? lp[i].price :
		    lp[i].effective_price, d;

		if (isnan(x))
			continue;
		d = fabs(x / price[lp[i].asset] - 1.0);
		if (d < best)
			best = d;
	}
	return best;
}

/* ---------------------------------------------------------------- */
/* The riskiest positions: a bounded heap.                          */

struct top_item {
	double k;	/* key, NaN mapped to +INFINITY with nan set */
	int nan;
	size_t slot;
};

/* Does x come after y in the order (key ascending, NaN last, slot)? */
static int
top_after(const struct top_item *x, const struct top_item *y)
{
	if (x->nan != y->nan)
		return x->nan > y->nan;
	if (x->k != y->k)
		return x->k > y->k;
	return x->slot > y->slot;
}

/* Max-heap (the entry coming last on top) sift-down from i. */
static void
top_sift(struct top_item *h, size_t n, size_t i)
{
	struct top_item x = h[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && top_after(&h[c + 1], &h[c]))
			c++;
		if (!top_after(&h[c], &x))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

enum lc_status
lc_book_top(const struct lc_book *b, const double *key, size_t offset,
    size_t limit, size_t *out, size_t *n)
{
	struct top_item *h;
	size_t m, cnt = 0, s, i;

	*n = 0;
	if (limit == 0 || offset >= b->nslots)
		return LC_OK;
	m = offset + (limit < b->nslots - offset ? limit : b->nslots - offset);
	h = malloc(m * sizeof(*h));
	if (h == NULL)
		return LC_ENOMEM;
	for (s = 0; s < b->nslots; s++) {
		struct top_item x;

		if (b->slot[s].pos == NULL)
			continue;
		x.nan = isnan(key[s]);
		x.k = x.nan ? 0.0 : key[s];
		x.slot = s;
		if (cnt < m) {
			/* sift up */
			i = cnt++;
			while (i > 0 && top_after(&x, &h[(i - 1) / 2])) {
				h[i] = h[(i - 1) / 2];
				i = (i - 1) / 2;
			}
			h[i] = x;
		} else if (top_after(&h[0], &x)) {
			h[0] = x;
			top_sift(h, cnt, 0);
		}
	}
	/* heap sort in place: the largest goes to the end */
	for (i = cnt; i > 1; i--) {
		struct top_item t = h[0];

		h[0] = h[i - 1];
		h[i - 1] = t;
		top_sift(h, i - 1, 0);
	}
	for (i = offset; i < cnt; i++)
		out[(*n)++] = h[i].slot;
	free(h);
	return LC_OK;
}

/* ---- simulate */
enum lc_status
lc_book_replay(const struct lc_position *p, const double *price,
    const double *vol, uint32_t asset, enum lc_dir dir, const double *e,
    size_t n, double *val, double *bd)
{
	struct bd tmp[LC_MAX_STEPS];
	enum lc_status st;
	size_t k;

	if (n > LC_MAX_STEPS)
		return LC_EINVAL;
	st = replay(p, price, vol, asset, dir, e, n, val, tmp);
	for (k = 0; st == LC_OK && k < n; k++) {
		bd[3 * k] = tmp[k].a;
		bd[3 * k + 1] = tmp[k].b;
		bd[3 * k + 2] = tmp[k].s;
	}
	return st;
}

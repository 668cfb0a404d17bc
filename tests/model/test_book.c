/*
 * test_book.c - Check suite of book.c (docs/model.md section 8): derived
 * levels against the ladders of position.c and against a brute force of
 * the 3.1 mechanics, the incremental book against a fresh one, and the
 * book under a shock against an independent per-point reference (a fresh
 * cascade per point and a naive replay of every position), on seeded
 * random books.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cascade/book.h"
#include "cascade/cascade.h"
#include "cascade/stats.h"
#include "splitmix.h"

#define REL(a, b, tol) \
	ck_assert_msg(fabs((a) - (b)) <= (tol) * fmax(1.0, fabs(b)), \
	    "%s = %.17g, want %.17g", #a, (double)(a), (double)(b))

enum { USDC = 0, ETH = 1, BTC = 2, DAI = 3, NASSETS = 4 };

static const double PRICE[NASSETS] = { 1.0, 2000.0, 60000.0, 0.999 };
static const double VOL[NASSETS] = { 0.0, 0.8, 0.6, 0.0 };

/* A position with its own entry storage. */
struct tpos {
	struct lc_position p;
	struct lc_entry c[4], d[4];
	char id[16];
};

static void
mk_loan(struct tpos *t, enum lc_protocol proto)
{
	memset(t, 0, sizeof(*t));
	t->p.id = t->id;
	t->p.type = LC_POS_LOAN;
	t->p.u.loan.protocol = proto;
	t->p.u.loan.coll = t->c;
	t->p.u.loan.debt = t->d;
	t->p.u.loan.bonus = NAN;
	t->p.u.loan.close_factor = NAN;
	t->p.u.loan.full_liq_below = NAN;
}

static void
add_c(struct tpos *t, uint32_t a, double amt, double lt)
{
	struct lc_entry *e = &t->c[t->p.u.loan.ncoll++];

	e->asset = a;
	e->amount = amt;
	e->lt = lt;
}

static void
add_d(struct tpos *t, uint32_t a, double amt)
{
	struct lc_entry *e = &t->d[t->p.u.loan.ndebt++];

	e->asset = a;
	e->amount = amt;
	e->lt = 0.0;
}

static void
mk_perp(struct tpos *t, uint32_t a, int is_short, double size, double entry,
    double margin)
{
	memset(t, 0, sizeof(*t));
	t->p.id = t->id;
	t->p.type = LC_POS_PERP;
	t->p.u.perp.asset = a;
	t->p.u.perp.is_short = is_short;
	t->p.u.perp.size = size;
	t->p.u.perp.entry = entry;
	t->p.u.perp.margin = margin;
	t->p.u.perp.mmr = 0.005;
}

/* Weighted collateral (sum c P LT) of t at price. */
static double
wcoll(const struct tpos *t, const double *price)
{
	double w = 0.0;
	size_t i;

	for (i = 0; i < t->p.u.loan.ncoll; i++)
		w += t->c[i].amount * price[t->c[i].asset] * t->c[i].lt;
	return w;
}

/* Scale the debts so that HF = hf at the current prices. */
static void
set_health(struct tpos *t, double hf)
{
	double d = 0.0, f;
	size_t i;

	for (i = 0; i < t->p.u.loan.ndebt; i++)
		d += t->d[i].amount * PRICE[t->d[i].asset];
	f = wcoll(t, PRICE) / hf / d;
	for (i = 0; i < t->p.u.loan.ndebt; i++)
		t->d[i].amount *= f;
}

/* ------------------------------------------------------------------ */
/* A naive account: the 3.1 mechanics written out directly.           */

struct nacct {
	size_t n;
	uint32_t asset[8];
	double amt[8], lt[8];
	int coll[8];
	enum lc_protocol proto;
	double bonus, cf, flb;
};

static void
nacct_of(struct nacct *a, const struct lc_position *p)
{
	const struct lc_loan *l = &p->u.loan;
	size_t i;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < l->ncoll + l->ndebt; i++) {
		const struct lc_entry *e = i < l->ncoll ? &l->coll[i] :
		    &l->debt[i - l->ncoll];

		a->asset[a->n] = e->asset;
		a->amt[a->n] = e->amount;
		a->lt[a->n] = e->lt;
		a->coll[a->n] = i < l->ncoll;
		a->n++;
	}
	a->proto = l->protocol;
	a->bonus = lc_loan_bonus(l, PRICE);
	a->cf = lc_loan_close_factor(l);
	a->flb = isnan(l->full_liq_below) ? 2000.0 : l->full_liq_below;
}

static double
nval(const struct nacct *a, const double *q, int coll, double lt_weight)
{
	double v = 0.0;
	size_t i;

	for (i = 0; i < a->n; i++)
		if (a->coll[i] == coll)
			v += a->amt[i] * q[a->asset[i]] *
			    (lt_weight > 0.0 ? a->lt[i] : 1.0);
	return v;
}

static double
nhealth(const struct nacct *a, const double *q)
{
	return nval(a, q, 1, 1.0) / nval(a, q, 0, 0.0);
}

struct nstep {
	double sold, bought, seized, vdebt, shortfall;
	int end;
};

/*
 * Take `value` from side `coll`: volatile entries by decreasing value
 * (ties: entry order), then stable ones: pro rata (collateral) or by
 * decreasing value (debt).  Returns units of asset x taken.
 */
static double
ntake(struct nacct *a, const double *q, int coll, double value, uint32_t x,
    double *vol_value)
{
	int done[8] = { 0 };
	double rem = value, units = 0.0, sv = 0.0;
	size_t i, pass;

	for (pass = 0; pass < 2; pass++) {
		for (;;) {
			size_t best = 8;
			double bv = -1.0, take, qty;

			for (i = 0; i < a->n; i++) {
				int v = VOL[a->asset[i]] > 0.0;

				if (a->coll[i] != coll || done[i] ||
				    v != (pass == 0) || (coll && !v))
					continue;
				if (a->amt[i] * q[a->asset[i]] > bv) {
					bv = a->amt[i] * q[a->asset[i]];
					best = i;
				}
			}
			if (best == 8)
				break;
			done[best] = 1;
			if (!(rem > 0.0) || !(bv > 0.0))
				continue;
			take = bv < rem ? bv : rem;
			qty = take >= bv ? a->amt[best] :
			    take / q[a->asset[best]];
			a->amt[best] -= qty;
			rem -= take;
			if (a->asset[best] == x)
				units += qty;
			if (pass == 0 && vol_value != NULL)
				*vol_value += take;
		}
	}
	if (coll && rem > 0.0) {
		for (i = 0; i < a->n; i++)
			if (a->coll[i] && VOL[a->asset[i]] == 0.0)
				sv += a->amt[i] * q[a->asset[i]];
		for (i = 0; i < a->n && sv > 0.0; i++)
			if (a->coll[i] && VOL[a->asset[i]] == 0.0)
				a->amt[i] *= rem >= sv ? 0.0 : 1.0 - rem / sv;
	}
	return units;
}

static void
nstep_at(struct nacct *a, const double *q, uint32_t x, double dfirst,
    struct nstep *o)
{
	double cv = nval(a, q, 1, 0.0), dv = nval(a, q, 0, 0.0), cf, r, v;
	size_t i;

	memset(o, 0, sizeof(*o));
	if (!(cv > 0.0) || !(dv > 0.0)) {
		o->end = 1;
		return;
	}
	if (a->proto == LC_COMPOUND_V3) {
		for (i = 0; i < a->n; i++) {
			if (a->coll[i] && a->asset[i] == x)
				o->sold += a->amt[i];
			a->amt[i] = 0.0;
		}
		o->seized = cv;
		o->shortfall = fmax(0.0, dv - cv);
		o->end = 1;
		return;
	}
	cf = a->cf;
	if (a->proto == LC_AAVE_V3 && a->flb > 0.0 &&
	    (cv < a->flb || dv < a->flb))
		cf = 1.0;
	r = cf * dv;
	v = r * (1.0 + a->bonus);
	if (v > cv) {
		r = cv / (1.0 + a->bonus);
		v = cv;
		for (i = 0; i < a->n; i++)
			if (a->coll[i]) {
				if (a->asset[i] == x)
					o->sold += a->amt[i];
				a->amt[i] = 0.0;
			}
		o->end = 1;
	} else {
		o->sold = ntake(a, q, 1, v, x, NULL);
	}
	o->seized = v;
	o->bought = ntake(a, q, 0, r, x, &o->vdebt);
	if (!(nval(a, q, 1, 0.0) > 0.0) || nval(a, q, 0, 0.0) < 1e-9 * dfirst)
		o->end = 1;
}

/*
 * Brute-force ladder of loan p in asset x alone, direction dir: walk P_x
 * away from P by 0.5 % steps until HF <= 1, bisect the crossing to the
 * last bit, step there; a step liquidatable at P happens at P.
 */
static size_t
brute_ladder(const struct lc_position *p, uint32_t x, enum lc_dir dir,
    double *price, double *qty)
{
	struct nacct a;
	double q[NASSETS], dfirst = 0.0;
	size_t n = 0;

	nacct_of(&a, p);
	memcpy(q, PRICE, sizeof(q));
	while (n < LC_MAX_STEPS) {
		struct nstep o;
		double lo, hi, at;
		int k;

		q[x] = PRICE[x];
		if (!(nval(&a, q, 1, 0.0) > 0.0))
			break;
		if (nhealth(&a, q) <= 1.0) {
			at = PRICE[x];
		} else {
			/* hi: healthy side, lo: liquidated side */
			hi = PRICE[x];
			lo = hi;
			for (k = 0; k < 4000; k++) {
				lo = dir == LC_DOWN ? lo * 0.995 : lo * 1.005;
				q[x] = lo;
				if (nhealth(&a, q) <= 1.0)
					break;
				hi = lo;
			}
			if (k == 4000)
				break;
			for (k = 0; k < 200; k++) {
				double mid = 0.5 * (lo + hi);

				if (mid == lo || mid == hi)
					break;
				q[x] = mid;
				if (nhealth(&a, q) <= 1.0)
					lo = mid;
				else
					hi = mid;
			}
			at = lo;
		}
		q[x] = at;
		if (n == 0)
			dfirst = nval(&a, q, 0, 0.0);
		nstep_at(&a, q, x, dfirst, &o);
		price[n] = at;
		qty[n] = dir == LC_DOWN ? o.sold : o.bought;
		n++;
		if (o.end)
			break;
	}
	return n;
}

/* ------------------------------------------------------------------ */
/* One-position books give exactly the position's ladder.             */

static void
check_one(const struct tpos *t, const struct lc_ladder *ld)
{
	struct lc_book b;
	struct lc_book_levels lv;
	struct lc_book_total tot;
	size_t i, k = 0, stale = 0;
	double p0 = PRICE[ld->asset], sum = 0.0;

	lc_book_init(&b);
	lc_book_levels_init(&lv);
	ck_assert_int_eq(lc_book_put(&b, 0, &t->p, PRICE, VOL), LC_OK);
	ck_assert_int_eq(lc_book_levels(&b, ld->asset, ld->dir, p0,
	    LC_BOOK_NO_SLOT, &lv),
	    LC_OK);
	for (i = 0; i < ld->n; i++) {
		sum += ld->qty[i];
		if (ld->dir == LC_DOWN ? ld->price[i] >= p0 :
		    ld->price[i] <= p0) {
			stale++;
			continue;
		}
		ck_assert_uint_lt(k, lv.n);
		REL(lv.price[k], ld->price[i], 1e-12);
		REL(lv.qty[k], ld->qty[i], 1e-12);
		ck_assert_uint_eq(lv.rank[k], i);
		ck_assert_uint_eq(lv.slot[k], 0);
		k++;
	}
	ck_assert_uint_eq(k, lv.n);
	ck_assert_uint_eq(lv.stale, stale);
	tot = lc_book_totals(&b, ld->asset);
	ck_assert_uint_eq(tot.count[ld->dir], ld->n);
	ck_assert_uint_eq(tot.count[1 - ld->dir], 0);
	REL(tot.qty[ld->dir], sum, 1e-12);
	lc_book_levels_release(&lv);
	lc_book_release(&b);
}

/* A loan on ETH, down (ETH against USDC) or up (USDC against ETH). */
static size_t
loan_case(enum lc_protocol proto, double hf, enum lc_dir dir)
{
	struct tpos t;
	struct lc_ladder ld;

	mk_loan(&t, proto);
	if (dir == LC_DOWN) {
		add_c(&t, ETH, 10.0, 0.83);
		add_c(&t, DAI, 1500.0, 0.77);
		add_d(&t, USDC, 1000.0);
	} else {
		add_c(&t, USDC, 30000.0, 0.8);
		add_d(&t, ETH, 5.0);
		add_d(&t, DAI, 500.0);
	}
	set_health(&t, hf);
	ck_assert_int_eq(lc_loan_ladder(&t.p.u.loan, PRICE, VOL, &ld), LC_OK);
	ck_assert_int_eq(ld.dir, dir);
	ck_assert_uint_gt(ld.n, 0);
	check_one(&t, &ld);
	return ld.n;
}

START_TEST(test_one_position_ladders)
{
	static const enum lc_protocol protos[3] = { LC_AAVE_V3,
	    LC_MORPHO_BLUE, LC_COMPOUND_V3 };
	static const double hfs[4] = { 1.6, 1.15, 1.02, 0.95 };
	struct tpos t;
	struct lc_ladder ld;
	size_t pi, hi, nsteps = 0;

	for (pi = 0; pi < 3; pi++)
		for (hi = 0; hi < 4; hi++) {
			nsteps += loan_case(protos[pi], hfs[hi], LC_DOWN);
			nsteps += loan_case(protos[pi], hfs[hi], LC_UP);
		}
	ck_assert_uint_gt(nsteps, 30);	/* real ladders, not one step each */
	/* perps: long and short, healthy and liquidatable now */
	for (hi = 0; hi < 2; hi++) {
		mk_perp(&t, BTC, 0, 0.5, 60000.0, hi ? 100.0 : 3000.0);
		ck_assert_int_eq(lc_perp_ladder(&t.p.u.perp, PRICE, &ld), LC_OK);
		ck_assert_uint_eq(ld.n, 1);
		check_one(&t, &ld);
		mk_perp(&t, ETH, 1, 3.0, 2000.0, hi ? 10.0 : 600.0);
		ck_assert_int_eq(lc_perp_ladder(&t.p.u.perp, PRICE, &ld), LC_OK);
		ck_assert_uint_eq(ld.n, 1);
		check_one(&t, &ld);
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* Random positions.                                                  */

static enum lc_protocol
rand_proto(uint64_t *s)
{
	static const enum lc_protocol p[3] = { LC_AAVE_V3, LC_MORPHO_BLUE,
	    LC_COMPOUND_V3 };

	return p[rng_below(s, 3)];
}

/* A random coupled loan of one of four shapes, HF in [0.92, 1.7]. */
static void
rand_coupled(uint64_t *s, struct tpos *t)
{
	double lt = 0.6 + 0.3 * rng_unif(s);

	mk_loan(t, rand_proto(s));
	switch (rng_below(s, 5)) {
	case 0:		/* ETH + BTC collateral, stable debt */
		add_c(t, ETH, 1.0 + 20.0 * rng_unif(s), lt);
		add_c(t, BTC, 0.05 + rng_unif(s), lt - 0.05);
		if (rng_below(s, 2))
			add_c(t, USDC, 5000.0 * rng_unif(s), 0.8);
		add_d(t, USDC, 1000.0);
		break;
	case 1:		/* ETH collateral against BTC (and USDC) debt */
		add_c(t, ETH, 5.0 + 20.0 * rng_unif(s), lt);
		add_d(t, BTC, 0.1 + rng_unif(s));
		add_d(t, USDC, 3000.0 * rng_unif(s) + 1.0);
		break;
	case 2:		/* BTC collateral against ETH and USDC debt */
		add_c(t, BTC, 0.5 + rng_unif(s), lt);
		add_d(t, ETH, 1.0 + 10.0 * rng_unif(s));
		add_d(t, USDC, 2000.0 * rng_unif(s) + 1.0);
		break;
	case 3:		/* ETH on both sides, net collateral */
		add_c(t, ETH, 10.0, lt);
		add_c(t, USDC, 2000.0 * rng_unif(s), 0.8);
		add_d(t, ETH, 10.0 * lt * 0.95 * rng_unif(s));
		add_d(t, USDC, 1000.0);
		break;
	default:	/* ETH on both sides, net debt */
		add_c(t, ETH, 1.0 + 3.0 * rng_unif(s), lt);
		add_c(t, USDC, 20000.0 + 20000.0 * rng_unif(s), 0.8);
		add_d(t, ETH, 4.0 + 6.0 * rng_unif(s));
		add_d(t, USDC, 1000.0);
		break;
	}
	if (rng_below(s, 3) == 0)
		t->p.u.loan.close_factor = 0.3 + 0.7 * rng_unif(s);
	if (rng_below(s, 3) == 0)
		t->p.u.loan.full_liq_below = 0.0;
	set_health(t, 0.92 + 0.78 * rng_unif(s));
	if (lc_loan_check(&t->p.u.loan, PRICE, NULL) != LC_OK)
		t->p.u.loan.protocol = LC_COMPOUND_V3;
}

/* Any position on ETH (single or coupled) or a perp. */
static void
rand_position(uint64_t *s, struct tpos *t)
{
	double lt = 0.6 + 0.3 * rng_unif(s), u;

	switch (rng_below(s, 5)) {
	case 0:
		mk_loan(t, rand_proto(s));
		add_c(t, ETH, 1.0 + 30.0 * rng_unif(s), lt);
		if (rng_below(s, 2))
			add_c(t, DAI, 3000.0 * rng_unif(s), 0.75);
		add_d(t, USDC, 1000.0);
		/* now and then deep under water: bad debt at P */
		set_health(t, rng_below(s, 6) == 0 ? 0.4 + 0.5 * rng_unif(s) :
		    0.95 + 0.7 * rng_unif(s));
		break;
	case 1:
		mk_loan(t, rand_proto(s));
		add_c(t, USDC, 10000.0 + 50000.0 * rng_unif(s), lt);
		add_d(t, ETH, 1.0);
		if (rng_below(s, 2))
			add_d(t, USDC, 1000.0 * rng_unif(s) + 1.0);
		set_health(t, 0.95 + 0.7 * rng_unif(s));
		break;
	case 2:
		u = rng_unif(s);
		mk_perp(t, ETH, (int)rng_below(s, 2), 0.5 + 20.0 * rng_unif(s),
		    2000.0 * (0.85 + 0.3 * rng_unif(s)), 0.0);
		t->p.u.perp.margin = t->p.u.perp.size * t->p.u.perp.entry *
		    (0.03 + 0.4 * u);
		break;
	default:
		rand_coupled(s, t);
		break;
	}
	if (t->p.type == LC_POS_LOAN &&
	    lc_loan_check(&t->p.u.loan, PRICE, NULL) != LC_OK)
		t->p.u.loan.protocol = LC_COMPOUND_V3;
}

START_TEST(test_coupled_brute_force)
{
	uint64_t seed = 0xb00c0001u;
	size_t trial, checked = 0, multi = 0;

	for (trial = 0; trial < 300; trial++) {
		struct tpos t;
		struct lc_book_step st[4 * LC_MAX_STEPS];
		size_t n, i, k;

		rand_coupled(&seed, &t);
		ck_assert_int_eq(lc_loan_classify(&t.p.u.loan, VOL, NULL, NULL),
		    LC_LOAN_COUPLED);
		ck_assert_int_eq(lc_book_derive(&t.p, PRICE, VOL, st,
		    4 * LC_MAX_STEPS, &n), LC_OK);
		for (k = ETH; k <= BTC; k++) {
			double bp[LC_MAX_STEPS], bq[LC_MAX_STEPS];
			size_t m = 0, nb;
			enum lc_dir dir = LC_DOWN;

			for (i = 0; i < n; i++)
				if (st[i].asset == k) {
					dir = st[i].dir;
					ck_assert_uint_eq(st[i].rank, m);
					m++;
				}
			if (m == 0)
				continue;
			nb = brute_ladder(&t.p, (uint32_t)k, dir, bp, bq);
			ck_assert_uint_eq(m, nb);
			for (i = 0, m = 0; i < n; i++) {
				if (st[i].asset != k)
					continue;
				REL(st[i].price, bp[m], 1e-12);
				REL(st[i].qty, bq[m], 1e-10);
				m++;
			}
			checked++;
			multi += nb > 1;
		}
	}
	ck_assert_uint_gt(checked, 300);
	ck_assert_uint_gt(multi, 30);
}
END_TEST

/* A coupled loan's first step sits at its static liquidation price. */
START_TEST(test_coupled_first_step_static_price)
{
	uint64_t seed = 0xb00c0002u;
	size_t trial;

	for (trial = 0; trial < 200; trial++) {
		struct tpos t;
		struct lc_book_step st[4 * LC_MAX_STEPS];
		struct lc_liq_price lp[4];
		size_t n, nlp, i, k;

		rand_coupled(&seed, &t);
		if (lc_loan_health(&t.p.u.loan, PRICE) <= 1.0)
			continue;
		ck_assert_int_eq(lc_book_derive(&t.p, PRICE, VOL, st,
		    4 * LC_MAX_STEPS, &n), LC_OK);
		ck_assert_int_eq(lc_loan_liq_prices(&t.p.u.loan, PRICE, VOL, lp,
		    4, &nlp), LC_OK);
		for (k = 0; k < nlp; k++)
			for (i = 0; i < n; i++)
				if (st[i].asset == lp[k].asset &&
				    st[i].rank == 0) {
					ck_assert_int_eq(st[i].dir, lp[k].dir);
					REL(st[i].price, lp[k].price, 1e-12);
				}
	}
}
END_TEST

/* ------------------------------------------------------------------ */
/* The incremental book equals a fresh one.                           */

static void
same_levels(const struct lc_book *a, const struct lc_book *b,
    enum lc_dir dir, size_t skip)
{
	struct lc_book_levels la, lb;
	size_t i;

	lc_book_levels_init(&la);
	lc_book_levels_init(&lb);
	ck_assert_int_eq(lc_book_levels(a, ETH, dir, PRICE[ETH], skip, &la),
	    LC_OK);
	ck_assert_int_eq(lc_book_levels(b, ETH, dir, PRICE[ETH],
	    LC_BOOK_NO_SLOT, &lb), LC_OK);
	ck_assert_uint_eq(la.n, lb.n);
	ck_assert_uint_eq(la.stale, lb.stale);
	for (i = 0; i < la.n; i++) {
		ck_assert(la.price[i] == lb.price[i]);
		ck_assert(la.qty[i] == lb.qty[i]);
		ck_assert_uint_eq(la.slot[i], lb.slot[i]);
		ck_assert_uint_eq(la.rank[i], lb.rank[i]);
		if (i > 0)
			ck_assert(dir == LC_DOWN ?
			    la.price[i] <= la.price[i - 1] :
			    la.price[i] >= la.price[i - 1]);
	}
	if (skip == LC_BOOK_NO_SLOT) {
		ck_assert_uint_eq(lc_book_totals(a, ETH).count[dir],
		    lc_book_totals(b, ETH).count[dir]);
		REL(lc_book_totals(a, ETH).qty[dir],
		    lc_book_totals(b, ETH).qty[dir], 1e-9);
	}
	lc_book_levels_release(&la);
	lc_book_levels_release(&lb);
}

START_TEST(test_incremental)
{
	enum { N = 120 };
	static struct tpos pos[N], alt[N];
	uint64_t seed = 0xb00c0003u;
	struct lc_book inc, fresh;
	int live[N] = { 0 }, use_alt[N] = { 0 };
	size_t i, r;

	lc_book_init(&inc);
	for (i = 0; i < N; i++) {
		rand_position(&seed, &pos[i]);
		rand_position(&seed, &alt[i]);
	}
	for (r = 0; r < 2000; r++) {
		size_t k = rng_below(&seed, N);

		switch (rng_below(&seed, 3)) {
		case 0:
			lc_book_remove(&inc, k);
			live[k] = 0;
			break;
		default:
			use_alt[k] = (int)rng_below(&seed, 2);
			ck_assert_int_eq(lc_book_put(&inc, k, use_alt[k] ?
			    &alt[k].p : &pos[k].p, PRICE, VOL), LC_OK);
			live[k] = 1;
			break;
		}
	}
	lc_book_init(&fresh);
	for (i = 0; i < N; i++)
		if (live[i])
			ck_assert_int_eq(lc_book_put(&fresh, i, use_alt[i] ?
			    &alt[i].p : &pos[i].p, PRICE, VOL), LC_OK);
	same_levels(&inc, &fresh, LC_DOWN, LC_BOOK_NO_SLOT);
	same_levels(&inc, &fresh, LC_UP, LC_BOOK_NO_SLOT);
	/* leaving a slot out equals the book without it */
	for (i = 0; i < N && !live[i]; i++)
		;
	ck_assert_uint_lt(i, N);
	lc_book_remove(&fresh, i);
	same_levels(&inc, &fresh, LC_DOWN, i);
	same_levels(&inc, &fresh, LC_UP, i);
	ck_assert_uint_le(inc.nsteps, 2 * (fresh.nsteps + 64) + 64 *
	    LC_MAX_STEPS);
	lc_book_release(&inc);
	lc_book_release(&fresh);
}
END_TEST

/*
 * The levels as book.c made them before its sorted index: every step of
 * the asset and direction gathered in slot order (ladder order within a
 * slot), then the stable lc_trigger_sort; the reference of the index.
 */
static void
ref_levels(const struct lc_book *b, uint32_t asset, enum lc_dir dir,
    double p0, size_t skip, struct lc_book_levels *out)
{
	size_t cap = b->nsteps + 1, n = 0, s, i;
	double *pr = malloc(cap * sizeof(*pr)), *qt = malloc(cap * sizeof(*qt));
	uint64_t *tag = malloc(cap * sizeof(*tag));
	size_t *sl = malloc(cap * sizeof(*sl));
	uint32_t *rk = malloc(cap * sizeof(*rk));

	ck_assert(pr != NULL && qt != NULL && tag != NULL && sl != NULL &&
	    rk != NULL);
	out->stale = 0;
	for (s = 0; s < b->nslots; s++) {
		const struct lc_book_slot *x = &b->slot[s];

		for (i = 0; x->pos != NULL && s != skip && i < x->n; i++) {
			const struct lc_book_step *e = &b->step[x->off + i];

			if (e->asset != asset || e->dir != dir)
				continue;
			if (lc_book_step_stale(e, p0)) {
				out->stale++;
				continue;
			}
			pr[n] = e->price;
			qt[n] = e->qty;
			sl[n] = s;
			rk[n] = e->rank;
			tag[n] = n;
			n++;
		}
	}
	ck_assert_int_eq(lc_trigger_sort(dir, pr, qt, tag, n), LC_OK);
	ck_assert_int_eq(lc_book_levels(b, asset, dir, p0, skip, out), LC_OK);
	ck_assert_uint_eq(out->n, n);
	for (i = 0; i < n; i++) {
		ck_assert(memcmp(&out->price[i], &pr[i], sizeof(double)) == 0);
		ck_assert(memcmp(&out->qty[i], &qt[i], sizeof(double)) == 0);
		ck_assert_uint_eq(out->slot[i], sl[tag[i]]);
		ck_assert_uint_eq(out->rank[i], rk[tag[i]]);
	}
	free(pr);
	free(qt);
	free(tag);
	free(sl);
	free(rk);
}

/*
 * The sorted index (merged by puts past its threshold, by lc_book_flush,
 * or not at all: pending steps) gives the levels of the reference, bit
 * for bit, on a random history of puts and removes; equal trigger prices
 * (copies of one position in several slots) test the ties.
 */
START_TEST(test_index_vs_reference)
{
	enum { N = 1200, OPS = 9000 };
	static struct tpos pos[N / 2], alt[N / 2];
	uint64_t seed = 0xb00c0007u + (uint64_t)_i;
	struct lc_book b;
	struct lc_book_levels lv;
	size_t i, r, merged = 0;

	lc_book_init(&b);
	lc_book_levels_init(&lv);
	for (i = 0; i < N / 2; i++) {
		rand_position(&seed, &pos[i]);
		rand_position(&seed, &alt[i]);
	}
	for (r = 0; r < OPS; r++) {
		size_t k = rng_below(&seed, N), u = rng_below(&seed, 1000);

		if (u < 150) {
			lc_book_remove(&b, k);
		} else if (u < 152 && _i == 1) {
			ck_assert_int_eq(lc_book_flush(&b), LC_OK);
		} else {
			/* slot k and k + N/2 hold the same position: ties */
			const struct tpos *t = rng_below(&seed, 2) ?
			    &alt[k % (N / 2)] : &pos[k % (N / 2)];

			ck_assert_int_eq(lc_book_put(&b, k, &t->p, PRICE, VOL),
			    LC_OK);
		}
		if (b.npend == 0)
			merged++;
		if (r % 700 == 699) {
			double p0 = PRICE[ETH] * (0.97 + 0.06 *
			    rng_unif(&seed));
			size_t skip = rng_below(&seed, 2) ? LC_BOOK_NO_SLOT :
			    rng_below(&seed, N);

			ref_levels(&b, ETH, LC_DOWN, p0, skip, &lv);
			ref_levels(&b, ETH, LC_UP, p0, skip, &lv);
			ref_levels(&b, BTC, LC_DOWN, PRICE[BTC], skip, &lv);
		}
	}
	ck_assert_uint_gt(merged, 0);	/* the index was merged */
	ck_assert_int_eq(lc_book_flush(&b), LC_OK);
	ck_assert_uint_eq(b.npend, 0);
	ref_levels(&b, ETH, LC_DOWN, PRICE[ETH], LC_BOOK_NO_SLOT, &lv);
	ref_levels(&b, ETH, LC_UP, PRICE[ETH], LC_BOOK_NO_SLOT, &lv);
	lc_book_levels_release(&lv);
	lc_book_release(&b);
}
END_TEST

/*
 * A bulk load (the radix sorts: the out-of-place first pass past 16384
 * pending steps, in-place passes below, runs of one price longer than
 * the insertion sort's 32 that fall back to the (slot, rank) order):
 * 1000 positions, each put in 40 slots, against the reference before
 * and after the flush, then after removing every third slot.
 */
START_TEST(test_index_bulk)
{
	enum { NP = 1000, COPIES = 40 };
	static struct tpos pos[NP];
	uint64_t seed = 0xb0b0b0b1u;
	struct lc_book b;
	struct lc_book_levels lv;
	size_t i, c;

	lc_book_init(&b);
	lc_book_levels_init(&lv);
	for (i = 0; i < NP; i++)
		rand_position(&seed, &pos[i]);
	for (c = 0; c < COPIES; c++)
		for (i = 0; i < NP; i++)
			ck_assert_int_eq(lc_book_put(&b, (i * 7919 + c * NP) %
			    (NP * COPIES), &pos[i].p, PRICE, VOL), LC_OK);
	ck_assert_uint_gt(b.npend, 0);
	ref_levels(&b, ETH, LC_DOWN, PRICE[ETH], LC_BOOK_NO_SLOT, &lv);
	ck_assert_uint_gt(lv.n, 16384);
	ck_assert_int_eq(lc_book_flush(&b), LC_OK);
	ref_levels(&b, ETH, LC_DOWN, PRICE[ETH], LC_BOOK_NO_SLOT, &lv);
	ref_levels(&b, ETH, LC_UP, PRICE[ETH], 17, &lv);
	ref_levels(&b, BTC, LC_DOWN, PRICE[BTC], LC_BOOK_NO_SLOT, &lv);
	for (i = 0; i < NP * COPIES; i += 3)
		lc_book_remove(&b, i);
	ck_assert_int_eq(lc_book_flush(&b), LC_OK);
	ref_levels(&b, ETH, LC_DOWN, PRICE[ETH], LC_BOOK_NO_SLOT, &lv);
	ref_levels(&b, BTC, LC_UP, PRICE[BTC], LC_BOOK_NO_SLOT, &lv);
	lc_book_levels_release(&lv);
	lc_book_release(&b);
}
END_TEST

/* ------------------------------------------------------------------ */
/* The book under a shock against a per-point reference.              */

struct trig {
	double price, qty;
	int book;		/* -1 stored */
	size_t slot, idx;	/* idx: insertion order */
	uint32_t rank;
};

static enum lc_dir g_dir;

static int
trig_cmp(const void *x, const void *y)
{
	const struct trig *a = x, *b = y;

	if (a->price != b->price)
		return (g_dir == LC_DOWN ? a->price > b->price :
		    a->price < b->price) ? -1 : 1;
	if (a->book != b->book)
		return a->book < b->book ? -1 : 1;
	if (a->slot != b->slot)
		return a->slot < b->slot ? -1 : 1;
	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	return a->idx < b->idx ? -1 : (a->idx > b->idx);
}

struct market {
	struct lc_curve curve;
	size_t nstored;
	double sp[64], sq[64];		/* stored levels, cascade order */
	struct tpos *pos[2];		/* two books: [0] asked, [1] other */
	size_t npos[2];
	struct lc_book book[2];
	enum lc_dir dir;
	double scale;			/* depth_scale */
};

static void
rand_curve(uint64_t *s, struct lc_curve *c, enum lc_side side)
{
	double bps[8], qty[8], d = 0.0, q = 0.0;
	size_t i, n = 2 + rng_below(s, 6), bad;

	for (i = 0; i < n; i++) {
		d += 5.0 + 300.0 * rng_unif(s);
		q += 10.0 + 200.0 * rng_unif(s);
		bps[i] = side == LC_BID ? fmin(d, 9000.0 + (double)i) : d;
		qty[i] = q;
	}
	ck_assert_int_eq(lc_curve_from_points(c, side, bps, qty, n, &bad),
	    LC_OK);
}

static void
rand_market(uint64_t *s, struct market *m, enum lc_dir dir, size_t n0,
    size_t n1)
{
	size_t b, i;

	m->dir = dir;
	m->scale = rng_below(s, 2) ? 1.0 : 0.02 + 0.3 * rng_unif(s);
	lc_curve_init(&m->curve);
	rand_curve(s, &m->curve, dir == LC_DOWN ? LC_BID : LC_ASK);
	m->nstored = rng_below(s, 20);
	for (i = 0; i < m->nstored; i++) {
		/* a few stale ones too */
		double f = dir == LC_DOWN ? 1.02 - 0.5 * rng_unif(s) :
		    0.98 + 0.5 * rng_unif(s);

		m->sp[i] = PRICE[ETH] * f;
		m->sq[i] = 50.0 * rng_unif(s);
		if (i > 0 && rng_below(s, 6) == 0)
			m->sp[i] = m->sp[i - 1];	/* ties */
	}
	{
		double tq[64];
		uint64_t tag[64];

		memcpy(tq, m->sq, sizeof(tq));
		for (i = 0; i < 64; i++)
			tag[i] = i;
		ck_assert_int_eq(lc_trigger_sort(dir, m->sp, tq, tag,
		    m->nstored), LC_OK);
		memcpy(m->sq, tq, sizeof(tq));
	}
	m->npos[0] = n0;
	m->npos[1] = n1;
	for (b = 0; b < 2; b++) {
		m->pos[b] = calloc(m->npos[b] + 1, sizeof(struct tpos));
		ck_assert_ptr_nonnull(m->pos[b]);
		lc_book_init(&m->book[b]);
		for (i = 0; i < m->npos[b]; i++) {
			rand_position(s, &m->pos[b][i]);
			ck_assert_int_eq(lc_book_put(&m->book[b], i,
			    &m->pos[b][i].p, PRICE, VOL), LC_OK);
		}
	}
}

static void
free_market(struct market *m)
{
	size_t b;

	for (b = 0; b < 2; b++) {
		lc_book_release(&m->book[b]);
		free(m->pos[b]);
	}
	lc_curve_release(&m->curve);
}

/* Naive figures of one point (mode 0 cascade, 1 static). */
static void
brute_point(const struct market *m, double shock, int mode,
    struct lc_book_figs *out, double *final)
{
	enum lc_dir dir = m->dir;
	enum lc_side side = dir == LC_DOWN ? LC_BID : LC_ASK;
	double p0 = PRICE[ETH], p = p0 * (1.0 + shock), f;
	struct trig *tr;
	size_t nt = 0, cap = m->nstored + 1, i, b, k, j;
	struct lc_cascade c;
	double *pr, *qt;

	for (b = 0; b < 2; b++)
		cap += lc_book_totals(&m->book[b], ETH).count[dir];
	tr = calloc(cap, sizeof(*tr));
	pr = calloc(cap, sizeof(*pr));
	qt = calloc(cap, sizeof(*qt));
	ck_assert(tr != NULL && pr != NULL && qt != NULL);
	for (i = 0; i < m->nstored; i++) {
		if (dir == LC_DOWN ? m->sp[i] >= p0 : m->sp[i] <= p0)
			continue;
		tr[nt].price = m->sp[i];
		tr[nt].qty = m->sq[i];
		tr[nt].book = -1;
		tr[nt].idx = i;
		nt++;
	}
	for (b = 0; b < 2; b++)
		for (i = 0; i < m->npos[b]; i++) {
			struct lc_book_step st[4 * LC_MAX_STEPS];
			size_t n;

			ck_assert_int_eq(lc_book_derive(&m->pos[b][i].p, PRICE,
			    VOL, st, 4 * LC_MAX_STEPS, &n), LC_OK);
			for (k = 0; k < n; k++) {
				if (st[k].asset != ETH || st[k].dir != dir ||
				    lc_book_step_stale(&st[k], p0))
					continue;
				tr[nt].price = st[k].price;
				tr[nt].qty = st[k].qty;
				tr[nt].book = (int)b;
				tr[nt].slot = i;
				tr[nt].rank = st[k].rank;
				nt++;
			}
		}
	g_dir = dir;
	qsort(tr, nt, sizeof(*tr), trig_cmp);
	for (i = 0; i < nt; i++) {
		pr[i] = tr[i].price;
		qt[i] = tr[i].qty;
	}
	lc_cascade_init(&c);
	ck_assert_int_eq(lc_cascade_build(&c, dir, &m->curve, m->scale, pr, qt,
	    nt), LC_OK);
	k = lc_cascade_fired(&c, p);
	{
		double sk = 0.0;

		for (i = 0; i < k; i++)
			sk += qt[i];
		f = mode == 0 ? p * lc_price_factor(&m->curve, side, sk,
		    m->scale) : p;
	}
	*final = f;
	memset(out, 0, sizeof(*out));
	/* each position of book 0, replayed naively */
	for (i = 0; i < m->npos[0]; i++) {
		const struct lc_position *ps = &m->pos[0][i].p;
		struct lc_book_step st[4 * LC_MAX_STEPS];
		size_t n, happened = 0;
		struct nacct a;
		double q[NASSETS], dfirst = 0.0, shortfall = 0.0;
		int exposed = 0, dead = 0;

		ck_assert_int_eq(lc_book_derive(ps, PRICE, VOL, st,
		    4 * LC_MAX_STEPS, &n), LC_OK);
		if (ps->type == LC_POS_LOAN)
			nacct_of(&a, ps);
		memcpy(q, PRICE, sizeof(q));
		for (k = 0; k < n; k++) {
			double e = NAN;
			int happens = 0;

			if (st[k].asset != ETH || st[k].dir != dir)
				continue;
			exposed = 1;
			if (lc_book_step_stale(&st[k], p0)) {
				happens = 1;
				e = p0;
			} else if (mode == 1) {
				happens = dir == LC_DOWN ? st[k].price >= p :
				    st[k].price <= p;
				e = st[k].price;
			} else {
				double s = 0.0;

				for (j = 0; j < nt; j++) {
					if (tr[j].book == 0 && tr[j].slot == i &&
					    tr[j].rank == st[k].rank)
						break;
					s += qt[j];
				}
				ck_assert_uint_lt(j, nt);
				happens = j + 1 <= lc_cascade_fired(&c, p);
				e = c.m[j + 1] * lc_price_factor(&m->curve,
				    side, s, m->scale);
			}
			if (!happens)
				continue;
			happened++;
			out->qty += st[k].qty;
			if (ps->type == LC_POS_PERP) {
				out->value += ps->u.perp.size * e;
				continue;
			}
			if (dead)
				continue;
			{
				struct nstep o;

				q[ETH] = e;
				if (happened == 1)
					dfirst = nval(&a, q, 0, 0.0);
				nstep_at(&a, q, ETH, dfirst, &o);
				out->value += dir == LC_DOWN ? o.seized : o.vdebt;
				shortfall += o.shortfall;
				dead = a.proto == LC_COMPOUND_V3 ||
				    !(nval(&a, q, 1, 0.0) > 0.0);
			}
		}
		if (happened > 0)
			out->positions++;
		if (exposed && ps->type == LC_POS_LOAN) {
			q[ETH] = f;
			out->bad_debt += shortfall + fmax(0.0,
			    nval(&a, q, 0, 0.0) - nval(&a, q, 1, 0.0));
		}
	}
	lc_cascade_release(&c);
	free(tr);
	free(pr);
	free(qt);
}

static void
same_figs(const struct lc_book_figs *got, const struct lc_book_figs *want)
{
	ck_assert_uint_eq(got->positions, want->positions);
	REL(got->qty, want->qty, 1e-9);
	REL(got->value, want->value, 1e-9);
	REL(got->bad_debt, want->bad_debt, 1e-9);
}

static void
risk_args(struct market *m, struct lc_book_risk_args *a,
    const struct lc_book **books, const struct lc_levels *stored)
{
	memset(a, 0, sizeof(*a));
	a->asset = ETH;
	a->dir = m->dir;
	a->from = 0.0;
	a->to = m->dir == LC_DOWN ? -0.6 : 0.6;
	a->step = 0.015;
	a->horizon_days = 7.0;
	a->tail_dof = 4.0;
	a->price = PRICE;
	a->vol = VOL;
	a->stored = stored;
	books[0] = &m->book[0];
	books[1] = &m->book[1];
	a->books = books;
	a->nbooks = 2;
	a->self = 0;
	a->curve = &m->curve;
	a->depth_scale = m->scale;
}

START_TEST(test_risk_brute_force)
{
	uint64_t seed = 0xb00c0004u + (uint64_t)_i * 7919u;
	size_t liq_seen = 0, bad_seen = 0, casc_seen = 0;
	int d;

	for (d = 0; d < 2; d++) {
		struct market m;
		struct lc_book_risk_args a;
		const struct lc_book *books[2];
		struct lc_levels stored;
		struct lc_book_risk r;
		size_t i, n;
		double shocks[LC_BOOK_MAX_POINTS], e[4] = { 0, 0, 0, 0 };
		double pi_prev, sh;

		rand_market(&seed, &m, d ? LC_UP : LC_DOWN, 40, 25);
		stored.n = m.nstored;
		stored.price = m.sp;
		stored.qty = m.sq;
		risk_args(&m, &a, books, &stored);
		lc_book_risk_init(&r);
		ck_assert_int_eq(lc_book_risk(&a, &r), LC_OK);
		ck_assert_int_eq(lc_book_grid(a.dir, a.from, a.to, a.step,
		    shocks, &n), LC_OK);
		ck_assert_uint_eq(r.npoints, n);
		ck_assert_uint_eq(n, 41);
		sh = lc_sigma_h(VOL[ETH], a.horizon_days);
		pi_prev = 0.0;
		for (i = 0; i < n; i++) {
			struct lc_book_figs bc, bs;
			double fc, fs, pi;
			const struct lc_book_point *pt = &r.points[i];

			REL(pt->shock, shocks[i], 0.0);
			brute_point(&m, shocks[i], 0, &bc, &fc);
			brute_point(&m, shocks[i], 1, &bs, &fs);
			REL(pt->shocked_price, PRICE[ETH] * (1 + shocks[i]),
			    1e-15);
			REL(pt->final_price, fc, 1e-12);
			same_figs(&pt->cascade, &bc);
			same_figs(&pt->stat, &bs);
			liq_seen += bc.positions;
			bad_seen += bc.bad_debt > 0.0;
			casc_seen += bc.value > bs.value * (1 + 1e-9) ||
			    bc.positions > bs.positions;
			/* expected: bands counted at their deeper end */
			pi = lc_barrier_prob(a.dir, PRICE[ETH],
			    pt->shocked_price, sh, a.tail_dof);
			if (i > 0) {
				e[0] += bc.value * (pi_prev - pi);
				e[1] += bc.bad_debt * (pi_prev - pi);
				e[2] += bs.value * (pi_prev - pi);
				e[3] += bs.bad_debt * (pi_prev - pi);
			}
			if (i + 1 == n) {
				e[0] += bc.value * pi;
				e[1] += bc.bad_debt * pi;
				e[2] += bs.value * pi;
				e[3] += bs.bad_debt * pi;
			}
			pi_prev = pi;
		}
		REL(r.expected.value, e[0], 1e-9);
		REL(r.expected.bad_debt, e[1], 1e-9);
		REL(r.expected_static.value, e[2], 1e-9);
		REL(r.expected_static.bad_debt, e[3], 1e-9);
		/* var: the running extreme's quantile and the point there */
		for (i = 0; i < 2; i++) {
			struct lc_book_figs bc, bs;
			double fc, fs, pr;
			const struct lc_book_var *v = &r.var[i];

			ck_assert(v->q == (i == 0 ? 0.95 : 0.99));
			pr = lc_barrier_prob(a.dir, PRICE[ETH],
			    PRICE[ETH] * (1 + v->shock), sh, a.tail_dof);
			REL(pr, 1.0 - v->q, 1e-9);
			ck_assert(a.dir == LC_DOWN ? v->shock < 0 : v->shock > 0);
			brute_point(&m, v->shock, 0, &bc, &fc);
			brute_point(&m, v->shock, 1, &bs, &fs);
			same_figs(&v->at.cascade, &bc);
			same_figs(&v->at.stat, &bs);
		}
		lc_book_risk_release(&r);
		free_market(&m);
	}
	ck_assert_uint_gt(liq_seen, 0);
	ck_assert_uint_gt(casc_seen, 0);	/* the cascade changed figures */
	(void)bad_seen;		/* some seeds only: see test_risk_nontrivial */
}
END_TEST

static void
same_bits(const void *x, const void *y, size_t n)
{
	ck_assert(memcmp(x, y, n) == 0);
}

/*
 * Loans of one ETH collateral and one stable debt entry replay on a fast
 * path (book.c: replay_simple); the same loans with a second, empty debt
 * entry take the general account.  Both books give the same bits, on
 * random protocols, health (liquidatable now: stale steps; bad debt) and
 * thin curves (deep cascades).
 */
START_TEST(test_risk_simple_path)
{
	uint64_t seed = 0xb00c000bu;
	size_t t, bad = 0;

	for (t = 0; t < 8; t++) {
		struct market m;
		struct lc_book_risk_args a;
		const struct lc_book *books[2];
		struct lc_book_risk r[3];
		struct tpos *x[3];
		size_t i, k, n = 80;
		int v;

		rand_market(&seed, &m, LC_DOWN, 1, 20);
		if (t % 2)
			m.scale = 0.03;
		for (v = 0; v < 3; v++) {
			x[v] = calloc(n, sizeof(struct tpos));
			ck_assert_ptr_nonnull(x[v]);
		}
		for (i = 0; i < n; i++) {
			uint64_t u = rng_below(&seed, 3);

			/* the last: compound-v3 liquidatable now, one stale
			 * step and no level (a general slot all stale) */
			mk_loan(&x[0][i], i == n - 1 ? LC_COMPOUND_V3 : u == 0 ?
			    LC_AAVE_V3 : u == 1 ? LC_MORPHO_BLUE : LC_AAVE_V3);
			if (u == 2)
				x[0][i].p.u.loan.full_liq_below = 0.0;
			add_c(&x[0][i], ETH, 0.5 + 20.0 * rng_unif(&seed),
			    0.7 + 0.15 * rng_unif(&seed));
			add_d(&x[0][i], rng_below(&seed, 2) ? USDC : DAI, 1.0);
			set_health(&x[0][i], i == n - 1 ? 0.9 :
			    0.9 + 0.9 * rng_unif(&seed));
			x[1][i] = x[0][i];
			x[1][i].p.id = x[1][i].id;
			x[1][i].p.u.loan.coll = x[1][i].c;
			x[1][i].p.u.loan.debt = x[1][i].d;
			add_d(&x[1][i], USDC, 0.0);
			/* a book of both kinds: level pass and whole slots */
			x[2][i] = i % 3 == 1 ? x[1][i] : x[0][i];
			x[2][i].p.id = x[2][i].id;
			x[2][i].p.u.loan.coll = x[2][i].c;
			x[2][i].p.u.loan.debt = x[2][i].d;
		}
		for (v = 0; v < 3; v++) {
			lc_book_release(&m.book[0]);
			lc_book_init(&m.book[0]);
			for (i = 0; i < n; i++)
				ck_assert_int_eq(lc_book_put(&m.book[0], i,
				    &x[v][i].p, PRICE, VOL), LC_OK);
			risk_args(&m, &a, books, NULL);
			lc_book_risk_init(&r[v]);
			ck_assert_int_eq(lc_book_risk(&a, &r[v]), LC_OK);
		}
		for (v = 1; v < 3; v++) {
			ck_assert_uint_eq(r[0].npoints, r[v].npoints);
			for (k = 0; k < r[0].npoints; k++)
				same_bits(&r[0].points[k], &r[v].points[k],
				    sizeof(r[0].points[k]));
			same_bits(r[0].var, r[v].var, sizeof(r[0].var));
			same_bits(&r[0].expected, &r[v].expected,
			    sizeof(r[0].expected));
			same_bits(&r[0].expected_static, &r[v].expected_static,
			    sizeof(r[0].expected_static));
		}
		for (k = 0; k < r[0].npoints; k++)
			bad += r[0].points[k].cascade.bad_debt > 0.0;
		for (v = 0; v < 3; v++) {
			lc_book_risk_release(&r[v]);
			free(x[v]);
		}
		free_market(&m);
	}
	ck_assert_uint_gt(bad, 0);
}
END_TEST

/* Over all seeds the reference must see cascades and bad debt. */
START_TEST(test_risk_nontrivial)
{
	uint64_t seed = 0xb00c0005u;
	size_t bad = 0, cascaded = 0, t;

	for (t = 0; t < 6; t++) {
		struct market m;
		struct lc_book_risk_args a;
		const struct lc_book *books[2];
		struct lc_book_risk r;
		size_t i;

		rand_market(&seed, &m, t % 2 ? LC_UP : LC_DOWN, 60, 30);
		m.scale = 0.03;		/* thin: deep cascades */
		risk_args(&m, &a, books, NULL);
		lc_book_risk_init(&r);
		ck_assert_int_eq(lc_book_risk(&a, &r), LC_OK);
		for (i = 0; i < r.npoints; i++) {
			const struct lc_book_point *pt = &r.points[i];

			bad += pt->cascade.bad_debt > 0.0;
			cascaded += pt->cascade.value >
			    pt->stat.value * (1 + 1e-9);
			/* the cascade only adds liquidations */
			ck_assert_uint_ge(pt->cascade.positions,
			    pt->stat.positions);
			if (i > 0) {
				ck_assert_uint_ge(pt->cascade.positions,
				    r.points[i - 1].cascade.positions);
				ck_assert(pt->cascade.qty >=
				    r.points[i - 1].cascade.qty);
			}
		}
		lc_book_risk_release(&r);
		free_market(&m);
	}
	ck_assert_uint_gt(bad, 0);
	ck_assert_uint_gt(cascaded, 0);
}
END_TEST

/*
 * A loan whose account, replayed beyond its trigger, is insolvent at the
 * final price with net ETH collateral left: its bad debt falls to 0 as F
 * rises (the sweep's "leave" path).  BTC 1 + ETH 12 (LT 0.8) against
 * ETH 20 + USDC 23040: HF 1 at ETH 2400, up.  A stored buy level at 2300
 * of 1000 ETH on an ask curve of 1000 ETH to +10000 bps doubles the price
 * first, so the loan's step executes at e = 2300 x 2 = 4600: BTC goes
 * first, 12.5 ETH of debt are bought, 11.9 ETH of collateral stay.  A
 * second loan, under water now (USDC 10000 against ETH 8), keeps a bad
 * debt that grows with F, so the first one's must leave the sum.
 */
START_TEST(test_risk_insolvent_then_solvent)
{
	struct market m;
	struct lc_book_risk_args a;
	const struct lc_book *books[2];
	struct lc_levels stored;
	struct lc_book_risk r;
	double bps[1] = { 10000.0 }, qty[1] = { 1000.0 };
	size_t i, bad, pos_seen = 0, zero_after = 0;

	memset(&m, 0, sizeof(m));
	m.dir = LC_UP;
	m.scale = 1.0;
	lc_curve_init(&m.curve);
	ck_assert_int_eq(lc_curve_from_points(&m.curve, LC_ASK, bps, qty, 1,
	    &bad), LC_OK);
	m.nstored = 1;
	m.sp[0] = 2300.0;
	m.sq[0] = 1000.0;
	m.npos[0] = 2;
	m.npos[1] = 0;
	for (i = 0; i < 2; i++) {
		m.pos[i] = calloc(2, sizeof(struct tpos));
		ck_assert_ptr_nonnull(m.pos[i]);
		lc_book_init(&m.book[i]);
	}
	mk_loan(&m.pos[0][0], LC_AAVE_V3);
	add_c(&m.pos[0][0], BTC, 1.0, 0.8);
	add_c(&m.pos[0][0], ETH, 12.0, 0.8);
	add_d(&m.pos[0][0], ETH, 20.0);
	add_d(&m.pos[0][0], USDC, 23040.0);
	mk_loan(&m.pos[0][1], LC_AAVE_V3);
	add_c(&m.pos[0][1], USDC, 10000.0, 0.8);
	add_d(&m.pos[0][1], ETH, 8.0);
	for (i = 0; i < 2; i++)
		ck_assert_int_eq(lc_book_put(&m.book[0], i, &m.pos[0][i].p,
		    PRICE, VOL), LC_OK);
	stored.n = 1;
	stored.price = m.sp;
	stored.qty = m.sq;
	risk_args(&m, &a, books, &stored);
	a.from = 0.1;
	a.to = 0.5;
	a.step = 0.01;
	lc_book_risk_init(&r);
	ck_assert_int_eq(lc_book_risk(&a, &r), LC_OK);
	for (i = 0; i < r.npoints; i++) {
		struct lc_book_figs bc, bs;
		double fc, fs;

		brute_point(&m, r.points[i].shock, 0, &bc, &fc);
		brute_point(&m, r.points[i].shock, 1, &bs, &fs);
		same_figs(&r.points[i].cascade, &bc);
		same_figs(&r.points[i].stat, &bs);
		/* the second loan's part alone: 3.238 ETH owed, nothing held */
		if (bc.bad_debt > 3.3 * r.points[i].final_price)
			pos_seen++;
		else if (pos_seen > 0)
			zero_after++;
	}
	ck_assert_uint_gt(pos_seen, 0);
	ck_assert_uint_gt(zero_after, 0);
	lc_book_risk_release(&r);
	free_market(&m);
}
END_TEST

/* Arguments for a one-book market without stored levels or depth. */
static void
one_book_args(struct lc_book_risk_args *a, const struct lc_book **books,
    double step, double tail_dof)
{
	memset(a, 0, sizeof(*a));
	a->asset = ETH;
	a->dir = LC_DOWN;
	a->from = 0.0;
	a->to = -0.5;
	a->step = step;
	a->horizon_days = 1.0;
	a->tail_dof = tail_dof;
	a->price = PRICE;
	a->vol = VOL;
	a->books = books;
	a->nbooks = 1;
	a->curve = NULL;
	a->depth_scale = 1.0;
}

/* Hand case: one ETH loan, no depth: cascade == static, known values. */
START_TEST(test_risk_hand_case)
{
	struct tpos t;
	struct lc_book b;
	const struct lc_book *books[1];
	struct lc_book_risk_args a;
	struct lc_book_risk r;
	size_t i;

	/* 10 ETH (LT 0.8) against 15000 USDC: HF 1 at 1875, morpho cf 1 */
	mk_loan(&t, LC_MORPHO_BLUE);
	add_c(&t, ETH, 10.0, 0.8);
	add_d(&t, USDC, 15000.0);
	t.p.u.loan.bonus = 0.05;
	lc_book_init(&b);
	ck_assert_int_eq(lc_book_put(&b, 0, &t.p, PRICE, VOL), LC_OK);
	books[0] = &b;
	one_book_args(&a, books, 0.05, 0.0);
	lc_book_risk_init(&r);
	ck_assert_int_eq(lc_book_risk(&a, &r), LC_OK);
	ck_assert_uint_eq(r.npoints, 11);
	for (i = 0; i < r.npoints; i++) {
		const struct lc_book_point *pt = &r.points[i];
		double p = 2000.0 * (1.0 + pt->shock);

		REL(pt->final_price, p, 1e-15);
		same_figs(&pt->cascade, &pt->stat);
		if (p > 1875.0) {
			ck_assert_uint_eq(pt->stat.positions, 0);
			ck_assert(pt->stat.value == 0.0);
		} else {
			/* seize 15000 * 1.05 = 15750 worth at 1875: 8.4 ETH */
			ck_assert_uint_eq(pt->stat.positions, 1);
			REL(pt->stat.qty, 8.4, 1e-12);
			REL(pt->stat.value, 15750.0, 1e-12);
			/* 1.6 ETH left, no debt: no bad debt */
			ck_assert(pt->stat.bad_debt == 0.0);
		}
	}
	lc_book_risk_release(&r);
	lc_book_release(&b);
}
END_TEST

START_TEST(test_bad_inputs)
{
	struct tpos t;
	struct lc_book b;
	const struct lc_book *books[1];
	struct lc_book_risk_args a;
	struct lc_book_risk r;
	double out[LC_BOOK_MAX_POINTS];
	size_t n;

	ck_assert_int_eq(lc_book_grid(LC_DOWN, 0, -0.5, 0.0005, out, &n),
	    LC_OK);
	ck_assert_uint_eq(n, 1001);
	REL(out[1000], -0.5, 1e-12);
	ck_assert_int_eq(lc_book_grid(LC_DOWN, 0, -0.5, 0.0004, out, &n),
	    LC_EINVAL);
	ck_assert_int_eq(lc_book_grid(LC_DOWN, 0, 0.5, 0.01, out, &n),
	    LC_EINVAL);
	ck_assert_int_eq(lc_book_grid(LC_UP, 0, -0.5, 0.01, out, &n),
	    LC_EINVAL);
	ck_assert_int_eq(lc_book_grid(LC_DOWN, 0, -0.5, 0.0, out, &n),
	    LC_EINVAL);
	ck_assert_int_eq(lc_book_grid(LC_DOWN, 0, -0.5, -0.1, out, &n),
	    LC_EINVAL);
	ck_assert_int_eq(lc_book_grid(LC_DOWN, 0, -1.0, 0.1, out, &n),
	    LC_EINVAL);
	ck_assert_int_eq(lc_book_grid(LC_DOWN, NAN, -0.5, 0.1, out, &n),
	    LC_EINVAL);
	/* to appended when the step does not land on it */
	ck_assert_int_eq(lc_book_grid(LC_UP, 0, 0.25, 0.1, out, &n), LC_OK);
	ck_assert_uint_eq(n, 4);
	ck_assert(out[3] == 0.25);
	ck_assert_int_eq(lc_book_grid(LC_UP, 0.1, 0.1, 0.1, out, &n), LC_OK);
	ck_assert_uint_eq(n, 1);

	mk_perp(&t, ETH, 0, 1.0, 2000.0, 200.0);
	lc_book_init(&b);
	ck_assert_int_eq(lc_book_put(&b, 0, &t.p, PRICE, VOL), LC_OK);
	books[0] = &b;
	one_book_args(&a, books, 0.0004, 4.0);	/* 1251 points */
	lc_book_risk_init(&r);
	ck_assert_int_eq(lc_book_risk(&a, &r), LC_EINVAL);
	a.step = 0.01;
	a.to = 0.1;		/* wrong side */
	ck_assert_int_eq(lc_book_risk(&a, &r), LC_EINVAL);
	a.to = -0.5;
	a.tail_dof = 1.5;
	ck_assert_int_eq(lc_book_risk(&a, &r), LC_EINVAL);
	a.tail_dof = 4.0;
	a.horizon_days = 400.0;
	ck_assert_int_eq(lc_book_risk(&a, &r), LC_EINVAL);
	a.horizon_days = 1.0;
	a.self = 1;
	ck_assert_int_eq(lc_book_risk(&a, &r), LC_EINVAL);
	a.self = 0;
	ck_assert_int_eq(lc_book_risk(&a, &r), LC_OK);
	ck_assert_uint_eq(r.npoints, 51);
	/* a perp on a stable asset cannot be derived */
	mk_perp(&t, USDC, 0, 1.0, 1.0, 0.5);
	ck_assert_int_eq(lc_book_derive(&t.p, PRICE, VOL, NULL, 0, &n),
	    LC_EINVAL);
	lc_book_risk_release(&r);
	lc_book_release(&b);
}
END_TEST

START_TEST(test_effective_distance)
{
	struct lc_liq_result lp[3];

	lp[0].asset = ETH;
	lp[0].price = 1500.0;
	lp[0].effective_price = 1800.0;
	lp[1].asset = BTC;
	lp[1].price = 66000.0;
	lp[1].effective_price = NAN;	/* coupled: the static price */
	lp[2].asset = ETH;
	lp[2].price = NAN;
	lp[2].effective_price = NAN;
	REL(lc_book_effective_distance(lp, 3, PRICE), 0.1, 1e-15);
	lp[1].price = 63000.0;
	REL(lc_book_effective_distance(lp, 3, PRICE), 0.05, 1e-15);
	ck_assert(isinf(lc_book_effective_distance(lp + 2, 1, PRICE)));
}
END_TEST

/* Reference order of lc_book_top: key ascending, NaN last, then slot. */
static const double *top_keys;

static int
cmp_top_ref(const void *x, const void *y)
{
	size_t a = *(const size_t *)x, b = *(const size_t *)y;
	double ka = top_keys[a], kb = top_keys[b];
	int na = isnan(ka), nb = isnan(kb);

	if (na != nb)
		return na - nb;
	if (!na && ka != kb)
		return ka < kb ? -1 : 1;
	return (a > b) - (a < b);
}

/*
 * The riskiest positions by a bounded heap equal the head of a full sort
 * of the non-empty slots (ties of equal keys, NaN keys, empty slots,
 * offsets past the end).
 */
START_TEST(test_top_vs_sort)
{
	enum { N = 700 };
	static struct tpos pos[N];
	static double key[N];
	static size_t all[N], out[N];
	uint64_t seed = 0xb00c0009u;
	struct lc_book b;
	size_t i, m = 0, n, r;

	lc_book_init(&b);
	for (i = 0; i < N; i++) {
		rand_position(&seed, &pos[i]);
		if (rng_below(&seed, 5) != 0)
			ck_assert_int_eq(lc_book_put(&b, i, &pos[i].p, PRICE,
			    VOL), LC_OK);
		switch (rng_below(&seed, 6)) {
		case 0:
			key[i] = NAN;
			break;
		case 1:
			key[i] = 0.25;	/* ties */
			break;
		case 2:
			key[i] = INFINITY;
			break;
		default:
			key[i] = rng_unif(&seed);
			break;
		}
		if (b.slot != NULL && i < b.nslots && b.slot[i].pos != NULL)
			all[m++] = i;
	}
	top_keys = key;
	qsort(all, m, sizeof(*all), cmp_top_ref);
	for (r = 0; r < 40; r++) {
		size_t off = rng_below(&seed, m + 20), lim = rng_below(&seed,
		    m + 20);

		ck_assert_int_eq(lc_book_top(&b, key, off, lim, out, &n),
		    LC_OK);
		ck_assert_uint_eq(n, off >= m ? 0 : (lim < m - off ? lim :
		    m - off));
		for (i = 0; i < n; i++)
			ck_assert_uint_eq(out[i], all[off + i]);
	}
	ck_assert_int_eq(lc_book_top(&b, key, 0, m, out, &n), LC_OK);
	ck_assert_uint_eq(n, m);
	ck_assert_uint_gt(m, N / 2);
	lc_book_release(&b);
}
END_TEST

static Suite *
book_suite(void)
{
	Suite *s = suite_create("book");
	TCase *tc;

	tc = tcase_create("derived");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_one_position_ladders);
	tcase_add_test(tc, test_coupled_brute_force);
	tcase_add_test(tc, test_coupled_first_step_static_price);
	tcase_add_test(tc, test_incremental);
	tcase_add_loop_test(tc, test_index_vs_reference, 0, 2);
	tcase_add_test(tc, test_index_bulk);
	suite_add_tcase(s, tc);

	tc = tcase_create("risk");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_risk_brute_force, 0, 6);
	tcase_add_test(tc, test_risk_nontrivial);
	tcase_add_test(tc, test_risk_simple_path);
	tcase_add_test(tc, test_risk_hand_case);
	tcase_add_test(tc, test_risk_insolvent_then_solvent);
	suite_add_tcase(s, tc);

	tc = tcase_create("inputs");
	tcase_add_test(tc, test_bad_inputs);
	tcase_add_test(tc, test_effective_distance);
	tcase_add_test(tc, test_top_vs_sort);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(book_suite());
	int nf;

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

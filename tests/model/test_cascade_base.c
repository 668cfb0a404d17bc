/*
 * test_cascade_base.c - Check suite of cascade_base.c: the prebuilt
 * cascade of the stored levels and its merge with a request's triggers
 * (docs/model.md 4.1), against the cascade rebuilt from the merged
 * trigger list (lc_cascade_build, the path lc_score takes without a base)
 * on seeded random markets of up to 1e4 levels, both directions, request
 * triggers interleaving with the levels and tying with them and with each
 * other; then lc_score with and without bases, every output field.
 *
 * Everything is compared bit for bit: the view adds the triggers up in
 * the order of the rebuild (cascade_base.c).
 */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cascade/cascade.h"
#include "cascade/score.h"
#include "ckutil.h"
#include "failalloc.h"
#include "splitmix.h"

#define MAXLEV 10000
#define MAXREQ 12

/* ---- random levels and curves -------------------------------------------- */

struct lv {
	enum lc_dir dir;
	double p0;
	size_t n;
	double *price, *qty;
	struct lc_curve curve;
	const struct lc_curve *cp;
	double depth;
};

/*
 * A random curve of 1..30 points (sometimes none), levels on both sides
 * of p0 (the stale ones lead), on a coarse grid a quarter of the time so
 * that prices tie.
 */
static void
random_levels(uint64_t *s, struct lv *m, size_t n, enum lc_dir dir)
{
	double bps[30], qty[30], d = 0.0, q = 0.0, span, grid[8];
	size_t np = 1 + rng_below(s, 30), k, bad;
	enum lc_side side = dir == LC_DOWN ? LC_BID : LC_ASK;

	m->dir = dir;
	m->p0 = 100.0 + 3000.0 * rng_unif(s);
	m->depth = pow(10.0, 1.0 + 4.0 * rng_unif(s));
	span = side == LC_BID ? 9990.0 * (0.01 + 0.99 * rng_unif(s)) :
	    20000.0 * rng_unif(s) + 5.0;
	for (k = 0; k < np; k++) {
		d += 0.05 + rng_unif(s);
		bps[k] = d;
		q += m->depth * (rng_unif(s) + 1e-3);
		qty[k] = q;
	}
	for (k = 0; k < np; k++)
		bps[k] *= span / d;
	lc_curve_init(&m->curve);
	ck_assert_int_eq(lc_curve_from_points(&m->curve, side, bps, qty, np,
	    &bad), LC_OK);
	m->cp = rng_below(s, 10) ? &m->curve : NULL;
	m->n = n;
	m->price = malloc((n ? n : 1) * sizeof(double));
	m->qty = malloc((n ? n : 1) * sizeof(double));
	ck_assert(m->price != NULL && m->qty != NULL);
	for (k = 0; k < 8; k++)
		grid[k] = m->p0 * (dir == LC_DOWN ? 1.05 - 0.6 * rng_unif(s) :
		    0.95 + 0.6 * rng_unif(s));
	for (k = 0; k < n; k++) {
		double u = rng_unif(s);

		m->price[k] = rng_below(s, 4) == 0 ? grid[rng_below(s, 8)] :
		    m->p0 * (dir == LC_DOWN ? 1.1 - 0.7 * u : 0.9 + 0.7 * u);
		m->qty[k] = rng_below(s, 20) == 0 ? 0.0 :
		    3.0 * m->depth / (double)(n + 1) * rng_unif(s) *
		    pow(10.0, 2.0 * rng_unif(s) - 1.0);
	}
	ck_assert_int_eq(lc_trigger_sort(dir, m->price, m->qty, NULL, n),
	    LC_OK);
}

static void
lv_free(struct lv *m)
{
	free(m->price);
	free(m->qty);
	lc_curve_release(&m->curve);
}

/* x strictly before y in cascade order. */
static int
before(enum lc_dir d, double x, double y)
{
	return d == LC_DOWN ? x > y : x < y;
}

/* ---- the view against the rebuilt merged cascade ------------------------ */

#define BITS(what, k, got, want)					\
	ck_assert_msg(memcmp(&(double){ (got) }, &(double){ (want) },	\
	    sizeof(double)) == 0, "%s at %zu: %.17g != %.17g", (what),	\
	    (size_t)(k), (got), (want))

static void
check_view(uint64_t *s, size_t n)
{
	struct lv m;
	struct lc_cascade_base *b;
	struct lc_cascade ref;
	struct lc_cascade_view v;
	double rp[MAXREQ], rq[MAXREQ], ss[MAXREQ], ms[MAXREQ];
	double *tp, *tq, thr, scale;
	size_t at[MAXREQ + 1], r, i, j, k, t, skip, nk, kr, kv;
	enum lc_status st;
	int hr, hv;
	double pr = 0.0, pv = 0.0;

	random_levels(s, &m, n, rng_below(s, 2) ? LC_UP : LC_DOWN);
	scale = rng_below(s, 3) ? 1.0 : 0.2 + 2.0 * rng_unif(s);
	b = lc_cascade_base_build(m.dir, m.cp, scale, m.p0, m.price, m.qty,
	    m.n, &st);
	ck_assert_int_eq(st, LC_OK);
	ck_assert_ptr_nonnull(b);
	skip = lc_levels_stale(m.dir, m.price, m.n, m.p0);
	ck_assert_uint_eq(b->skip, skip);
	ck_assert(lc_cascade_base_fits(b, m.dir, m.cp, scale, m.price, m.n,
	    m.p0));

	/* request triggers: some on level prices, some tied together */
	r = rng_below(s, MAXREQ + 1);
	for (i = 0; i < r; i++) {
		size_t c = rng_below(s, 4);

		if (c == 0 && m.n > skip)
			rp[i] = m.price[skip + rng_below(s, m.n - skip)];
		else if (c == 1 && i > 0)
			rp[i] = rp[rng_below(s, i)];
		else
			rp[i] = m.p0 * (m.dir == LC_DOWN ?
			    1.0 - 0.7 * rng_unif(s) : 1.0 + 0.7 * rng_unif(s));
		rq[i] = rng_below(s, 10) == 0 ? 0.0 :
		    m.depth * 0.2 * rng_unif(s);
	}
	ck_assert_int_eq(lc_trigger_sort(m.dir, rp, rq, NULL, r), LC_OK);
	lc_view_init(&v, b, rp, rq, r, at, ss, ms);
	ck_assert_uint_eq(lc_view_n(&v), m.n - skip + r);

	/* the reference: merge (levels first at equal prices) and rebuild */
	nk = m.n - skip + r;
	tp = malloc((nk + 1) * sizeof(double));
	tq = malloc((nk + 1) * sizeof(double));
	ck_assert(tp != NULL && tq != NULL);
	t = 0;
	j = skip;
	for (i = 0; i < r; i++) {
		while (j < m.n && !before(m.dir, rp[i], m.price[j])) {
			tp[t] = m.price[j];
			tq[t++] = m.qty[j++];
		}
		ck_assert_uint_eq(lc_view_index(&v, i), t);
		tp[t] = rp[i];
		tq[t++] = rq[i];
	}
	while (j < m.n) {
		tp[t] = m.price[j];
		tq[t++] = m.qty[j++];
	}
	ck_assert_uint_eq(t, nk);
	lc_cascade_init(&ref);
	ck_assert_int_eq(lc_cascade_build(&ref, m.dir, m.cp, scale, tp, tq,
	    nk), LC_OK);

	/* S_k and m_k, bit for bit */
	for (k = 0; k <= nk; k += nk > 3000 ? 1 + rng_below(s, 40) : 1) {
		BITS("S", k, lc_view_cum(&v, k), ref.cum[k]);
		BITS("m", k, lc_view_m(&v, k), ref.m[k]);
	}
	/* the same in another order (the view's memo grows on demand) */
	lc_view_init(&v, b, rp, rq, r, at, ss, ms);
	for (k = 0; k < 30 && nk > 0; k++) {
		size_t q = rng_below(s, nk + 1);

		BITS("m", q, lc_view_m(&v, q), ref.m[q]);
		BITS("S", q, lc_view_cum(&v, q), ref.cum[q]);
	}
	/* every request trigger's own m and S, backwards */
	lc_view_init(&v, b, rp, rq, r, at, ss, ms);
	for (i = r; i-- > 0;) {
		k = lc_view_index(&v, i);
		BITS("m", k + 1, lc_view_m(&v, k + 1), ref.m[k + 1]);
		BITS("S", k, lc_view_cum(&v, k), ref.cum[k]);
	}
	/* the total against values around it */
	for (k = 0; k < 5; k++) {
		double q = ref.cum[nk] * (k == 0 ? 1.0 : k == 1 ?
		    1.0 + DBL_EPSILON : k == 2 ? 1.0 - DBL_EPSILON :
		    0.5 + rng_unif(s));

		ck_assert_int_eq(lc_view_total_above(&v, q), ref.cum[nk] > q);
	}
	/* counts at random prices, level and request prices included */
	for (k = 0; k < 20; k++) {
		double x = k % 3 == 0 && nk > 0 ? tp[rng_below(s, nk)] :
		    m.p0 * (m.dir == LC_DOWN ? 1.2 - 0.9 * rng_unif(s) :
		    0.8 + 0.9 * rng_unif(s));
		size_t want = 0;

		while (want < nk && !before(m.dir, x, tp[want]))
			want++;
		ck_assert_uint_eq(lc_view_count_to(&v, x), want);
	}
	/* the cascade trigger at thresholds met at various depths */
	for (k = 0; k < 6; k++) {
		thr = k == 0 ? 1e9 : 1.0 + 2000.0 * rng_unif(s) *
		    rng_unif(s);
		hr = lc_cascade_trigger(&ref, thr, &pr, &kr);
		hv = lc_view_trigger(&v, thr, &pv, &kv);
		ck_assert_int_eq(hv, hr);
		if (hr != 0)
			continue;
		ck_assert_uint_eq(kv, kr);
		BITS("trigger price", kr, pv, pr);
	}
	free(tp);
	free(tq);
	lc_cascade_release(&ref);
	lc_cascade_base_free(b);
	lv_free(&m);
}

START_TEST(test_view_small)
{
	uint64_t s = 0x5eed0001u;
	int i;

	for (i = 0; i < 600; i++)
		check_view(&s, rng_below(&s, 300));
}
END_TEST

START_TEST(test_view_large)
{
	uint64_t s = 0x5eed0002u;
	int i;

	for (i = 0; i < 12; i++)
		check_view(&s, 1000 + rng_below(&s, MAXLEV - 999));
}
END_TEST

START_TEST(test_fits)
{
	uint64_t s = 7;
	struct lv m;
	struct lc_cascade_base *b;
	enum lc_status st;
	struct lc_curve cv;
	double hi;

	random_levels(&s, &m, 50, LC_DOWN);
	m.cp = &m.curve;
	b = lc_cascade_base_build(LC_DOWN, m.cp, 1.0, m.p0, m.price, m.qty,
	    m.n, &st);
	ck_assert_ptr_nonnull(b);
	ck_assert(lc_cascade_base_fits(b, LC_DOWN, m.cp, 1.0, m.price, m.n,
	    m.p0));
	ck_assert(!lc_cascade_base_fits(NULL, LC_DOWN, m.cp, 1.0, m.price,
	    m.n, m.p0));
	/* the curve is known by its arrays, wherever its struct lives */
	cv = m.curve;
	ck_assert(lc_cascade_base_fits(b, LC_DOWN, &cv, 1.0, m.price, m.n,
	    m.p0));
	lc_curve_init(&cv);
	ck_assert_int_eq(lc_curve_copy(&cv, &m.curve), LC_OK);
	ck_assert(!lc_cascade_base_fits(b, LC_DOWN, &cv, 1.0, m.price, m.n,
	    m.p0));
	lc_curve_release(&cv);
	ck_assert(!lc_cascade_base_fits(b, LC_UP, m.cp, 1.0, m.price, m.n,
	    m.p0));
	ck_assert(!lc_cascade_base_fits(b, LC_DOWN, m.cp, 2.0, m.price, m.n,
	    m.p0));
	ck_assert(!lc_cascade_base_fits(b, LC_DOWN, NULL, 1.0, m.price, m.n,
	    m.p0));
	ck_assert(!lc_cascade_base_fits(b, LC_DOWN, m.cp, 1.0, m.price,
	    m.n - 1, m.p0));
	/* a price above the highest level: no stale level, another prefix */
	hi = m.price[0] * 1.01;
	ck_assert_uint_ne(b->skip, 0);
	ck_assert(!lc_cascade_base_fits(b, LC_DOWN, m.cp, 1.0, m.price, m.n,
	    hi));
	lc_cascade_base_free(b);
	/* levels out of cascade order: no base, LC_EINVAL */
	m.price[m.n - 1] = m.price[0] * 2.0;
	ck_assert_ptr_null(lc_cascade_base_build(LC_DOWN, m.cp, 1.0, 1e12,
	    m.price, m.qty, m.n, &st));
	ck_assert_int_eq(st, LC_EINVAL);
	lv_free(&m);
}
END_TEST

static struct lv oom_lv;

static int
oom_run(void *ctx)
{
	enum lc_status st;
	struct lc_cascade_base *b;

	(void)ctx;
	b = lc_cascade_base_build(LC_UP, &oom_lv.curve, 1.0, oom_lv.p0,
	    oom_lv.price, oom_lv.qty, oom_lv.n, &st);
	/* no ck_assert here: Check allocates for its own bookkeeping */
	if ((b != NULL) != (st == LC_OK))
		st = LC_EINVAL;
	lc_cascade_base_free(b);
	return (int)st;
}

/* Each allocation of the build failing in turn: LC_ENOMEM, no leak. */
START_TEST(test_out_of_memory)
{
	uint64_t s = 9;
	char why[160];
	long n;

	random_levels(&s, &oom_lv, 200, LC_UP);
	n = failalloc_sweep(oom_run, NULL, LC_OK, LC_ENOMEM, 0, 100, why,
	    sizeof(why));
	ck_assert_msg(n > 2, "%s", why);
	lv_free(&oom_lv);
}
END_TEST

/* ---- lc_score with and without bases ------------------------------------ */

enum { VOL = 0, USDC = 1 };

struct fix {
	struct lc_asset_market am[2];
	struct lc_market m;
	struct lv lv[2];	/* [dir] */
	double price[2], vol[2];
	struct lc_entry ent[16][2];
	struct lc_position pos[16];
	struct lc_request req;
};

/*
 * Position i a loan of VOL against asset 1 (a fall: VOL collateral) or
 * of asset 1 against VOL (up: a rise), at health hf at the prices.
 */
static void
random_loan(uint64_t *s, struct fix *f, size_t i, int up, double size,
    double hf)
{
	struct lc_position *q = &f->pos[i];
	double p = f->price[VOL];

	q->type = LC_POS_LOAN;
	q->u.loan.protocol = (enum lc_protocol)rng_below(s, 3);
	q->u.loan.bonus = NAN;
	q->u.loan.close_factor = NAN;
	q->u.loan.full_liq_below = 2000.0;
	f->ent[i][0].asset = up ? USDC : VOL;
	f->ent[i][0].amount = up ? size * p : size;
	f->ent[i][0].lt = 0.8;
	f->ent[i][1].asset = up ? VOL : USDC;
	f->ent[i][1].amount = 0.8 * size * p / hf / (up ? p : 1.0);
	f->ent[i][1].lt = 0.0;
	q->u.loan.coll = &f->ent[i][0];
	q->u.loan.ncoll = 1;
	q->u.loan.debt = &f->ent[i][1];
	q->u.loan.ndebt = 1;
}

/*
 * Up to 16 positions on the volatile asset: perps both ways, loans of it
 * against USDC (a fall) and of USDC against it (a rise), some
 * liquidatable now.  one_dir: all of one direction.
 */
static void
random_request(uint64_t *s, struct fix *f, size_t npos, int one_dir)
{
	size_t i;
	int dir0 = (int)rng_below(s, 2);
	double p = f->price[VOL];

	for (i = 0; i < npos; i++) {
		struct lc_position *q = &f->pos[i];
		int up = one_dir ? dir0 : (int)rng_below(s, 2);
		double hf = 0.95 + 1.5 * rng_unif(s), size;

		memset(q, 0, sizeof(*q));
		q->id = "x";
		size = f->lv[LC_DOWN].depth * 0.3 * rng_unif(s) + 1e-3;
		if (rng_below(s, 3) == 0) {
			double lev = 1.5 + 30.0 * rng_unif(s);

			q->type = LC_POS_PERP;
			q->u.perp.asset = VOL;
			q->u.perp.is_short = up;
			q->u.perp.size = size;
			q->u.perp.entry = p * (0.9 + 0.2 * rng_unif(s));
			q->u.perp.margin = size * q->u.perp.entry / lev;
			q->u.perp.mmr = 0.005;
			continue;
		}
		random_loan(s, f, i, up, size, hf);
	}
	f->req.pos = f->pos;
	f->req.npos = npos;
}

static int
same(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

/* Bit for bit (NaN equal to NaN). */
static void
same_bits(const char *what, double a, double b)
{
	ck_assert_msg(same(a, b), "%s %.17g != %.17g", what, a, b);
}

/* Every field of two lc_score results, bit for bit. */
static void
compare_results(const struct lc_score_result *x,
    const struct lc_score_result *y)
{
	size_t i, k;

	ck_assert_uint_eq(x->npos, y->npos);
	ck_assert_uint_eq(x->nmarkets, y->nmarkets);
	ck_assert_uint_eq(x->nwarn, y->nwarn);
	ck_assert_int_eq(x->needs_mc, y->needs_mc);
	for (i = 0; i < x->npos; i++) {
		const struct lc_pos_result *a = &x->pos[i], *b = &y->pos[i];

		ck_assert_int_eq(a->type, b->type);
		ck_assert_int_eq(a->liquidatable, b->liquidatable);
		ck_assert_int_eq(a->method, b->method);
		ck_assert(same(a->health_factor, b->health_factor));
		ck_assert(same(a->common_move_pct, b->common_move_pct));
		ck_assert_uint_eq(a->nlp, b->nlp);
		for (k = 0; k < a->nlp; k++) {
			ck_assert_uint_eq(a->lp[k].asset, b->lp[k].asset);
			ck_assert_int_eq(a->lp[k].dir, b->lp[k].dir);
			ck_assert(same(a->lp[k].price, b->lp[k].price));
			ck_assert(same(a->lp[k].distance_pct,
			    b->lp[k].distance_pct));
			same_bits("effective_price", a->lp[k].effective_price,
			    b->lp[k].effective_price);
		}
		same_bits("p_liq", a->p_liq, b->p_liq);
		ck_assert(same(a->p_liq_static, b->p_liq_static));
		ck_assert(same(a->std_error, b->std_error));
		ck_assert(same(a->std_error_static, b->std_error_static));
		same_bits("exp_slip_bps", a->exp_slip_bps, b->exp_slip_bps);
		same_bits("exp_slip_quote", a->exp_slip_quote,
		    b->exp_slip_quote);
		ck_assert(same(a->unwind_bps, b->unwind_bps));
		ck_assert(same(a->unwind_quote, b->unwind_quote));
	}
	for (i = 0; i < x->nmarkets; i++) {
		ck_assert_uint_eq(x->markets[i].asset, y->markets[i].asset);
		for (k = 0; k < 2; k++) {
			const struct lc_dir_result *a = &x->markets[i].dir[k];
			const struct lc_dir_result *b = &y->markets[i].dir[k];

			same_bits("cascade_prob", a->cascade_prob,
			    b->cascade_prob);
			same_bits("trigger_price", a->trigger_price,
			    b->trigger_price);
			same_bits("qty_to_10pct", a->qty_to_10pct,
			    b->qty_to_10pct);
			ck_assert(same(a->depth_2pct, b->depth_2pct));
			ck_assert_int_eq(a->depth_exhausted,
			    b->depth_exhausted);
		}
	}
	same_bits("p_any", x->portfolio.p_any, y->portfolio.p_any);
	ck_assert(same(x->portfolio.p_any_se, y->portfolio.p_any_se));
	same_bits("portfolio cascade_prob", x->portfolio.cascade_prob,
	    y->portfolio.cascade_prob);
	same_bits("portfolio exp_slip_quote", x->portfolio.exp_slip_quote,
	    y->portfolio.exp_slip_quote);
	ck_assert_int_eq(x->portfolio.method, y->portfolio.method);
	for (i = 0; i < x->nwarn; i++) {
		ck_assert_int_eq(x->warn[i].code, y->warn[i].code);
		ck_assert_int_eq(x->warn[i].asset, y->warn[i].asset);
		ck_assert_int_eq(x->warn[i].side, y->warn[i].side);
		ck_assert_int_eq(x->warn[i].count, y->warn[i].count);
	}
}

static void
fix_init(uint64_t *s, struct fix *f, size_t n)
{
	int d;

	memset(f, 0, sizeof(*f));
	random_levels(s, &f->lv[LC_DOWN], n, LC_DOWN);
	random_levels(s, &f->lv[LC_UP], rng_below(s, n + 1), LC_UP);
	/* one asset: the same price and curves on both sides */
	f->lv[LC_UP].p0 = f->lv[LC_DOWN].p0;
	for (d = 0; d < 2; d++) {
		struct lv *l = &f->lv[d];
		size_t k;

		/* rescale the up levels to the common price */
		if (d == LC_UP)
			for (k = 0; k < l->n; k++)
				l->price[k] *= f->lv[LC_DOWN].p0 / l->p0;
		lc_curve_init(&f->am[VOL].curve[d == LC_DOWN ? LC_BID :
		    LC_ASK]);
		if (l->cp != NULL)
			f->am[VOL].curve[d == LC_DOWN ? LC_BID : LC_ASK] =
			    l->curve;
		f->am[VOL].levels[d].n = l->n;
		f->am[VOL].levels[d].price = l->price;
		f->am[VOL].levels[d].qty = l->qty;
		lc_curve_init(&f->am[USDC].curve[d]);
	}
	f->lv[LC_UP].p0 = f->lv[LC_DOWN].p0;
	f->am[VOL].symbol = "ETH";
	f->am[VOL].price = f->price[VOL] = f->lv[LC_DOWN].p0;
	f->am[VOL].vol = f->vol[VOL] = 0.3 + rng_unif(s);
	f->am[USDC].symbol = "USDC";
	f->am[USDC].price = f->price[USDC] = 1.0;
	f->m.nassets = 2;
	f->m.assets = f->am;
	lc_params_default(&f->req.params);
	f->req.price = f->price;
	f->req.vol = f->vol;
}

static void
fix_bases(struct fix *f, struct lc_cascade_base **b, double scale)
{
	int d;

	for (d = 0; d < 2; d++) {
		enum lc_status st;
		struct lc_asset_market *am = &f->am[VOL];

		b[d] = lc_cascade_base_build((enum lc_dir)d,
		    &am->curve[d == LC_DOWN ? LC_BID : LC_ASK], scale,
		    am->price, am->levels[d].price, am->levels[d].qty,
		    am->levels[d].n, &st);
		ck_assert_int_eq(st, LC_OK);
		am->base[d] = b[d];
	}
}

static void
fix_free(struct fix *f, struct lc_cascade_base **b)
{
	int d;

	for (d = 0; d < 2; d++) {
		lc_cascade_base_free(b[d]);
		f->am[VOL].base[d] = NULL;
		free(f->lv[d].price);
		free(f->lv[d].qty);
		lc_curve_release(&f->lv[d].curve);
	}
}

/* lc_score with the bases and without (the rebuild) on one request. */
static void
score_both(struct fix *f)
{
	struct lc_score_result with, without;
	const struct lc_cascade_base *keep[2] = { f->am[VOL].base[0],
		f->am[VOL].base[1] };

	lc_score_result_init(&with);
	lc_score_result_init(&without);
	ck_assert_int_eq(lc_score(&f->m, &f->req, &with), LC_OK);
	f->am[VOL].base[0] = f->am[VOL].base[1] = NULL;
	ck_assert_int_eq(lc_score(&f->m, &f->req, &without), LC_OK);
	f->am[VOL].base[0] = keep[0];
	f->am[VOL].base[1] = keep[1];
	compare_results(&with, &without);
	lc_score_result_release(&with);
	lc_score_result_release(&without);
}

START_TEST(test_score_equal)
{
	uint64_t s = 0x5eed0003u;
	int i;

	for (i = 0; i < 160; i++) {
		struct fix f;
		struct lc_cascade_base *b[2];
		size_t n = i % 8 == 0 ? MAXLEV : rng_below(&s, 2000);
		int one = (int)rng_below(&s, 2);

		fix_init(&s, &f, n);
		fix_bases(&f, b, 1.0);
		/* one position: bit for bit */
		random_request(&s, &f, 1, 1);
		f.req.params.paths = 0;
		score_both(&f);
		/* several, one direction (no Monte Carlo then) or both */
		random_request(&s, &f, 1 + rng_below(&s, 16), one);
		f.req.params.paths = one ? 200 : 0;
		score_both(&f);
		/* a price override: another stale prefix, the rebuild */
		f.price[VOL] *= 0.9 + 0.2 * rng_unif(&s);
		score_both(&f);
		f.price[VOL] = f.am[VOL].price;
		/* without the market's levels */
		f.req.params.include_market_levels = 0;
		score_both(&f);
		fix_free(&f, b);
	}
}
END_TEST

/*
 * Coupled loans of VOL against a second volatile asset (asset 1 given a
 * volatility: it has no levels), both ways, healthy or close, plus
 * `extra` positions of random_request() on VOL alone after them.
 */
static void
coupled_request(uint64_t *s, struct fix *f, size_t nloan, size_t extra)
{
	size_t i;

	random_request(s, f, nloan + extra, 0);
	/* random_request() wrote positions 0..; the loans go first */
	for (i = 0; i < nloan; i++) {
		struct lc_position *q = &f->pos[i];
		int up = (int)rng_below(s, 2);
		double hf = 1.02 + 1.0 * rng_unif(s);
		double size = f->lv[LC_DOWN].depth * 0.3 * rng_unif(s) + 1e-3;

		memset(q, 0, sizeof(*q));
		q->id = "c";
		random_loan(s, f, i, up, size, hf);
	}
}

/*
 * Monte Carlo requests (coupled loans, positions both ways): the buckets
 * without request steps are read from the bases, and the Monte Carlo pass
 * takes the bases' own cascades and tables (ln(m_k / P), g(S_k), the
 * bucket index) at the snapshot price, or computes the tables from the
 * base's cascade at another price.  Every field equals the rebuild's bit
 * for bit, including the seed-like case of 70 000 levels.
 */
START_TEST(test_mc_equal)
{
	uint64_t s = 0x5eed0004u;
	int i;

	for (i = 0; i < 40; i++) {
		struct fix f;
		struct lc_cascade_base *b[2];
		size_t n = i == 0 ? 70000 : i % 8 == 1 ? MAXLEV :
		    rng_below(&s, 2000);

		fix_init(&s, &f, n);
		f.vol[USDC] = f.am[USDC].vol = 0.2 + 0.6 * rng_unif(&s);
		f.am[USDC].symbol = "BTC";
		fix_bases(&f, b, 1.0);
		f.req.params.paths = i == 0 ? 2000 : 300;
		/* coupled loans alone: both VOL buckets from the bases */
		coupled_request(&s, &f, 1 + rng_below(&s, 3), 0);
		score_both(&f);
		/* with positions on VOL alone: some buckets rebuilt */
		coupled_request(&s, &f, 1 + rng_below(&s, 3),
		    1 + rng_below(&s, 4));
		score_both(&f);
		/* both directions, no coupled loan */
		random_request(&s, &f, 2 + rng_below(&s, 6), 0);
		score_both(&f);
		/* another price, the same stale prefix: tables recomputed */
		coupled_request(&s, &f, 2, 0);
		f.price[VOL] *= 1.0 + 1e-12;
		score_both(&f);
		f.price[VOL] = f.am[VOL].price;
		fix_free(&f, b);
	}
}
END_TEST

/*
 * The base is what lc_score reads when it fits, and only then: a level
 * changed in place after the base was built changes the answer without
 * the base, not with it, until the request no longer fits the base
 * (depth_scale 2).
 */
START_TEST(test_score_uses_base)
{
	uint64_t s = 11;
	struct fix f;
	struct lc_cascade_base *b[2];
	struct lc_score_result r0, r1;
	size_t k;

	fix_init(&s, &f, 400);
	f.am[VOL].curve[LC_BID] = f.lv[LC_DOWN].curve;
	fix_bases(&f, b, 1.0);
	random_request(&s, &f, 1, 1);
	f.req.params.paths = 0;
	lc_score_result_init(&r0);
	lc_score_result_init(&r1);
	ck_assert_int_eq(lc_score(&f.m, &f.req, &r0), LC_OK);
	for (k = 0; k < f.lv[LC_DOWN].n; k++)
		f.lv[LC_DOWN].qty[k] *= 3.0;
	for (k = 0; k < f.lv[LC_UP].n; k++)
		f.lv[LC_UP].qty[k] *= 3.0;
	ck_assert_int_eq(lc_score(&f.m, &f.req, &r1), LC_OK);
	compare_results(&r1, &r0);
	f.am[VOL].base[0] = f.am[VOL].base[1] = NULL;
	ck_assert_int_eq(lc_score(&f.m, &f.req, &r1), LC_OK);
	ck_assert(!same(r1.markets[0].dir[LC_DOWN].qty_to_10pct,
	    r0.markets[0].dir[LC_DOWN].qty_to_10pct) ||
	    !same(r1.markets[0].dir[LC_UP].qty_to_10pct,
	    r0.markets[0].dir[LC_UP].qty_to_10pct));
	lc_score_result_release(&r0);
	lc_score_result_release(&r1);
	fix_free(&f, b);
}
END_TEST

static Suite *
cascade_base_suite(void)
{
	Suite *s = suite_create("cascade_base");
	TCase *tc;

	tc = tcase_create("view");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_view_small);
	tcase_add_test(tc, test_view_large);
	tcase_add_test(tc, test_fits);
	tcase_add_test(tc, test_out_of_memory);
	suite_add_tcase(s, tc);

	tc = tcase_create("score");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_score_equal);
	tcase_add_test(tc, test_score_uses_base);
	tcase_add_test(tc, test_mc_equal);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ck_run_suite(cascade_base_suite());
}

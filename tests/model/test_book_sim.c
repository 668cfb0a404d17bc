/*
 * test_book_sim.c - Check suite of lc_book_sim() (book_sim.c and the
 * LC_MC_BOOK_LOSS records of mc_walk.c) against independent references:
 * the closed form of docs/model.md 5.1 for a perp without depth (mean
 * liquidated value = size x L x P(min <= L)), two perps on independent
 * and on perfectly correlated assets, a hand-computed cascade replay
 * that leaves bad debt (8.2 mechanics at e = m_j g(S_{j-1})), the same
 * per-path records with the engine's shortcuts off (paths proved safe,
 * loans proved safe one by one on walked paths), thread-count
 * invariance, unreachable coupled loans left out (counter and cost), bad
 * parameters, and an allocation failure at every allocation.
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cascade/book_sim.h"
#include "cascade/mc.h"
#include "cascade/position.h"
#include "cascade/score.h"
#include "cascade/stats.h"
#include "ckutil.h"
#include "failalloc.h"

#define NA 4		/* 0: USDC, 1..3 volatile when given a vol */
#define NP 8

struct bk {
	struct lc_asset_market am[NA];
	struct lc_market m;
	double price[NA], vol[NA], rho[NA * NA];
	struct lc_position pos[NP];
	struct lc_entry ent[NP][4];
	struct lc_request req;
	double lvp[1], lvq[1];
};

static void
bk_init(struct bk *b)
{
	int a, s;

	memset(b, 0, sizeof(*b));
	for (a = 0; a < NA; a++) {
		for (s = 0; s < 2; s++)
			lc_curve_init(&b->am[a].curve[s]);
		b->am[a].symbol = a == 0 ? "USDC" : "V";
		b->am[a].price = b->price[a] = 1.0;
		b->rho[a * NA + a] = 1.0;
	}
	b->m.nassets = NA;
	b->m.assets = b->am;
	b->m.rho = b->rho;
	lc_params_default(&b->req.params);
	b->req.params.horizon_days = 30;
	b->req.params.paths = 20000;
	b->req.params.threads = 1;
	b->req.price = b->price;
	b->req.vol = b->vol;
	b->req.pos = b->pos;
}

static void
bk_release(struct bk *b)
{
	int a, s;

	for (a = 0; a < NA; a++)
		for (s = 0; s < 2; s++)
			lc_curve_release(&b->am[a].curve[s]);
}

static void
bk_asset(struct bk *b, int a, double price, double vol)
{
	b->am[a].price = b->price[a] = price;
	b->am[a].vol = b->vol[a] = vol;
}

static void
bk_perp(struct bk *b, int a, double size, double entry, double margin)
{
	struct lc_perp *p = &b->pos[b->req.npos].u.perp;

	b->pos[b->req.npos].id = "perp";
	b->pos[b->req.npos].type = LC_POS_PERP;
	memset(p, 0, sizeof(*p));
	p->asset = (uint32_t)a;
	p->size = size;
	p->entry = entry;
	p->margin = margin;
	p->mmr = 0.005;
	b->req.npos++;
}

/* A loan: up to 2 collateral (asset, amount, lt) and 1 debt (asset, amt). */
static void
bk_loan(struct bk *b, enum lc_protocol proto, int nc, const double *c,
    int da, double damt)
{
	size_t i = b->req.npos++;
	struct lc_loan *l = &b->pos[i].u.loan;
	int j;

	b->pos[i].id = "loan";
	b->pos[i].type = LC_POS_LOAN;
	for (j = 0; j < nc; j++) {
		b->ent[i][j].asset = (uint32_t)c[3 * j];
		b->ent[i][j].amount = c[3 * j + 1];
		b->ent[i][j].lt = c[3 * j + 2];
	}
	b->ent[i][nc].asset = (uint32_t)da;
	b->ent[i][nc].amount = damt;
	l->protocol = proto;
	l->coll = b->ent[i];
	l->ncoll = (size_t)nc;
	l->debt = b->ent[i] + nc;
	l->ndebt = 1;
	l->bonus = l->close_factor = l->full_liq_below = NAN;
}

static double
sigh(const struct bk *b, int a)
{
	return lc_sigma_h(b->vol[a], b->req.params.horizon_days);
}

static double
p_down(const struct bk *b, int a, double m)
{
	return lc_barrier_prob(LC_DOWN, b->price[a], m, sigh(b, a),
	    b->req.params.tail_dof);
}

/* |got - want| within 4 standard errors se (floored). */
#define WITHIN4(got, want, se) ck_assert_msg(				\
	fabs((got) - (want)) <= 4.0 * fmax((se), 1e-12),		\
	"%s = %.10g, want %.10g (se %.3g)", #got, (double)(got),	\
	(double)(want), (double)(se))

/* Long perp, no depth, no levels: value size x L with P(min <= L). */
START_TEST(test_perp_closed_form)
{
	struct bk b;
	struct lc_book_sim s;
	double L, p, n;

	bk_init(&b);
	bk_asset(&b, 1, 2000, 0.8);
	bk_perp(&b, 1, 2.0, 2000, 300);
	L = (2.0 * 2000 - 300) / (2.0 * (1 - 0.005));
	p = p_down(&b, 1, L);
	n = b.req.params.paths;
	ck_assert_int_eq(lc_book_sim(&b.m, &b.req, HUGE_VAL, &s), LC_OK);
	ck_assert_uint_eq(s.paths, 20000);
	ck_assert_uint_eq(s.singles, 1);
	WITHIN4(s.value.expected, 2.0 * L * p,
	    2.0 * L * sqrt(p * (1 - p) / n));
	ck_rel(s.value.std_error, 2.0 * L * sqrt(p * (1 - p) / n), 0.05);
	WITHIN4(s.p_any, p, sqrt(p * (1 - p) / n));
	WITHIN4(s.positions.expected, p, sqrt(p * (1 - p) / n));
	ck_assert(s.bad_debt.expected == 0.0 && s.bad_debt.var99 == 0.0);
	/* p is about 0.5: the median path may or may not liquidate */
	ck_assert(p > 0.05);
	ck_rel(s.value.var95, 2.0 * L, 1e-12);
	ck_rel(s.value.max, 2.0 * L, 1e-12);
	bk_release(&b);
}
END_TEST

/* Two perps: independent assets, then perfectly correlated ones. */
START_TEST(test_two_perps_joint_law)
{
	struct bk b;
	struct lc_book_sim s;
	double L1, L2, p1, p2, pa, n, ev;

	bk_init(&b);
	bk_asset(&b, 1, 2000, 0.8);
	bk_asset(&b, 2, 100, 0.8);
	bk_perp(&b, 1, 1.0, 2000, 400);
	bk_perp(&b, 2, 10.0, 100, 15);
	L1 = (2000 - 400) / (1 - 0.005);
	L2 = (1000 - 15) / (10.0 * (1 - 0.005));
	p1 = p_down(&b, 1, L1);
	p2 = p_down(&b, 2, L2);
	n = b.req.params.paths;
	ev = L1 * p1 + 10.0 * L2 * p2;
	ck_assert_int_eq(lc_book_sim(&b.m, &b.req, HUGE_VAL, &s), LC_OK);
	pa = 1 - (1 - p1) * (1 - p2);
	WITHIN4(s.p_any, pa, sqrt(pa * (1 - pa) / n));
	WITHIN4(s.value.expected, ev, s.value.std_error);
	WITHIN4(s.positions.expected, p1 + p2, s.positions.std_error);
	/* rho = 1, equal vols: one running minimum for both */
	b.rho[1 * NA + 2] = b.rho[2 * NA + 1] = 1.0;
	ck_assert_int_eq(lc_book_sim(&b.m, &b.req, HUGE_VAL, &s), LC_OK);
	pa = fmax(p1, p2);
	WITHIN4(s.p_any, pa, sqrt(pa * (1 - pa) / n));
	WITHIN4(s.value.expected, ev, s.value.std_error);
	bk_release(&b);
}
END_TEST

/*
 * A stored level at 1600 (qty 10) drops the price to 0.8 of it (bid
 * impact 2000 bps at 10 units); the morpho loan's step (trigger 1500)
 * then fills at e = m_2 g(S_1) = 1600 x 0.8 = 1280, where its collateral
 * no longer covers debt x (1 + bonus): all of it is seized, the rest of
 * the debt is bad debt (hand computed below).
 */
START_TEST(test_cascade_bad_debt)
{
	static const double bps[] = { 2000, 5000 }, qty[] = { 10, 1000 };
	static const double coll[] = { 1, 1.0, 0.86 };
	struct bk b;
	struct lc_book_sim s;
	double bonus, e = 1280.0, bad, p, n;
	size_t bad_i;

	bk_init(&b);
	bk_asset(&b, 1, 2000, 0.8);
	ck_assert_int_eq(lc_curve_from_points(&b.am[1].curve[LC_BID], LC_BID,
	    bps, qty, 2, &bad_i), LC_OK);
	b.lvp[0] = 1600;
	b.lvq[0] = 10;
	b.am[1].levels[LC_DOWN].n = 1;
	b.am[1].levels[LC_DOWN].price = b.lvp;
	b.am[1].levels[LC_DOWN].qty = b.lvq;
	bk_loan(&b, LC_MORPHO_BLUE, 1, coll, 0, 1290);
	bonus = 1.0 / (0.3 * 0.86 + 0.7) - 1.0;
	ck_assert(1290 * (1 + bonus) > e);
	bad = 1290 - e / (1 + bonus);
	p = p_down(&b, 1, 1600);
	n = b.req.params.paths;
	ck_assert_int_eq(lc_book_sim(&b.m, &b.req, HUGE_VAL, &s), LC_OK);
	WITHIN4(s.value.expected, e * p, e * sqrt(p * (1 - p) / n));
	WITHIN4(s.bad_debt.expected, bad * p, bad * sqrt(p * (1 - p) / n));
	ck_assert(p > 0.05 && p < 0.5);
	ck_rel(s.value.var95, e, 1e-12);
	ck_rel(s.bad_debt.var99, bad, 1e-12);
	ck_assert(s.bad_debt.q[0] == 0.0);	/* the median path: none */
	bk_release(&b);
}
END_TEST

/* A book with every kind: singles, a coupled loan near liquidation. */
static void
mixed_book(struct bk *b)
{
	static const double bps[] = { 50, 300, 2000 }, qty[] = { 5, 50, 400 };
	static const double c1[] = { 1, 10.0, 0.8, 2, 100.0, 0.7 };
	static const double c2[] = { 1, 3.0, 0.8 };
	static const double c3[] = { 2, 50.0, 0.75, 1, 1.0, 0.8 };
	size_t bad_i;
	int a;

	bk_init(b);
	bk_asset(b, 1, 2000, 0.8);
	bk_asset(b, 2, 100, 0.9);
	bk_asset(b, 3, 10, 1.2);
	b->rho[1 * NA + 2] = b->rho[2 * NA + 1] = 0.7;
	for (a = 1; a < NA; a++)
		ck_assert_int_eq(lc_curve_from_points(&b->am[a].curve[LC_BID],
		    LC_BID, bps, qty, 3, &bad_i), LC_OK);
	/* a wall of sales at 1800 drops asset 1 to 0.6 of the price */
	b->lvp[0] = 1800;
	b->lvq[0] = 1600;
	b->am[1].levels[LC_DOWN].n = 1;
	b->am[1].levels[LC_DOWN].price = b->lvp;
	b->am[1].levels[LC_DOWN].qty = b->lvq;
	bk_loan(b, LC_AAVE_V3, 2, c1, 0, 19000);	/* coupled, HF 1.2 */
	bk_loan(b, LC_AAVE_V3, 1, c2, 0, 4200);		/* single */
	bk_loan(b, LC_COMPOUND_V3, 2, c3, 0, 3500);	/* coupled */
	bk_loan(b, LC_AAVE_V3, 2, c1, 0, 6000);		/* coupled, HF 3.8 */
	bk_perp(b, 1, 5.0, 2000, 1500);
	bk_perp(b, 3, 100.0, 10, 200);
	b->req.params.paths = 3000;
}

START_TEST(test_threads_identical)
{
	struct bk b;
	struct lc_book_sim s1, s3;

	mixed_book(&b);
	ck_assert_int_eq(lc_book_sim(&b.m, &b.req, HUGE_VAL, &s1), LC_OK);
	b.req.params.threads = 3;
	ck_assert_int_eq(lc_book_sim(&b.m, &b.req, HUGE_VAL, &s3), LC_OK);
	ck_assert(s1.value.expected > 0 && s1.walked > 0);
	ck_assert_uint_eq(s1.coupled, 3);
	ck_assert(memcmp(&s1, &s3, sizeof(s1)) == 0);
	bk_release(&b);
}
END_TEST

/* The per-path records of a and z agree (z: the shortcuts off). */
static void
same_records(const struct lc_mc_stats *a, const struct lc_mc_stats *z)
{
	uint32_t i;

	ck_assert_uint_eq(a->paths, z->paths);
	for (i = 0; i < a->paths; i++) {
		ck_assert_uint_eq(a->path_nliq[i], z->path_nliq[i]);
		ck_assert(rel_close(a->path_value[i], z->path_value[i],
		    1e-12));
		ck_assert(rel_close(a->path_bad_debt[i], z->path_bad_debt[i],
		    1e-9));
	}
}

/* The shortcuts (paths proved safe, settled counts) change no record. */
START_TEST(test_shortcuts_same_records)
{
	struct bk b;
	struct lc_mc_stats a, z;
	uint32_t i;
	int nz = 0;

	mixed_book(&b);
	lc_mc_stats_init(&a);
	lc_mc_stats_init(&z);
	ck_assert_int_eq(lc_mc_estimate(&b.m, &b.req, LC_MC_BOOK_LOSS, &a),
	    LC_OK);
	ck_assert_int_eq(lc_mc_estimate(&b.m, &b.req,
	    LC_MC_BOOK_LOSS | LC_MC_NO_PRUNE, &z), LC_OK);
	ck_assert(a.walked < z.walked);
	/* the far loan (HF 3.8) is proved safe on nearly every walked path */
	ck_assert_msg(a.skipped >= a.walked / 2 && z.skipped == 0,
	    "skipped %llu of %llu walked", (unsigned long long)a.skipped,
	    (unsigned long long)a.walked);
	same_records(&a, &z);
	for (i = 0; i < a.paths; i++)
		nz += a.path_bad_debt[i] > 0;
	ck_assert(nz > 0);
	lc_mc_stats_release(&a);
	lc_mc_stats_release(&z);
	bk_release(&b);
}
END_TEST

/*
 * A book of NBIG coupled loans whose health factors crowd above 1 (some
 * below: liquidatable now) on thin books: the fills of the near loans
 * move the bounds of the far ones.  Loans proved with room to spare are
 * parked (not visited while the drift stays below the room), and the
 * paths whose fills drift by more unpark them: both happen here, and
 * the per-path records equal those of the run with every shortcut off.
 */
#define NBIG 600

START_TEST(test_parked_same_records)
{
	static const double bps[] = { 50, 300, 2000 }, bq[] = { 40, 300, 2000 };
	struct bk b;
	struct lc_position *pos = calloc(NBIG, sizeof(*pos));
	struct lc_entry *ent = calloc(3 * NBIG, sizeof(*ent));
	struct lc_mc_stats a, z, n;
	size_t bad_i, i;
	int nz = 0, k;

	ck_assert(pos != NULL && ent != NULL);
	bk_init(&b);
	bk_asset(&b, 1, 2000, 0.8);
	bk_asset(&b, 2, 100, 0.9);
	b.rho[1 * NA + 2] = b.rho[2 * NA + 1] = 0.6;
	for (k = 1; k <= 2; k++)
		ck_assert_int_eq(lc_curve_from_points(&b.am[k].curve[LC_BID],
		    LC_BID, bps, bq, 3, &bad_i), LC_OK);
	for (i = 0; i < NBIG; i++) {
		struct lc_loan *l = &pos[i].u.loan;
		double u = (double)i / NBIG, x = 1.0 + (double)(i % 7);
		double y = 10.0 * (double)(i % 5), hf = 0.97 + 1.5 * u * u;

		ent[3 * i] = (struct lc_entry){ .asset = 1, .amount = x,
		    .lt = 0.8 };
		ent[3 * i + 1] = (struct lc_entry){ .asset = 2, .amount = y,
		    .lt = 0.75 };
		ent[3 * i + 2] = (struct lc_entry){ .asset = 0, .amount =
		    (0.8 * x * 2000 + 0.75 * y * 100) / hf };
		pos[i].id = "loan";
		pos[i].type = LC_POS_LOAN;
		l->protocol = LC_AAVE_V3;
		l->coll = ent + 3 * i;
		l->ncoll = y > 0.0 ? 2 : 1;
		if (y == 0.0)
			ent[3 * i + 1] = ent[3 * i + 2];
		l->debt = ent + 3 * i + (y > 0.0 ? 2 : 1);
		l->ndebt = 1;
		l->bonus = l->close_factor = l->full_liq_below = NAN;
	}
	b.req.pos = pos;
	b.req.npos = NBIG;
	b.req.params.horizon_days = 1;
	b.req.params.paths = 1500;
	lc_mc_stats_init(&a);
	lc_mc_stats_init(&z);
	lc_mc_stats_init(&n);
	ck_assert_int_eq(lc_mc_estimate(&b.m, &b.req, LC_MC_BOOK_LOSS, &a),
	    LC_OK);
	ck_assert_int_eq(lc_mc_estimate(&b.m, &b.req,
	    LC_MC_BOOK_LOSS | LC_MC_NO_PRUNE, &z), LC_OK);
	ck_assert_msg(a.parked > a.walked && a.parked <= a.skipped &&
	    a.unparked > 0 && a.unparked < a.walked,
	    "walked %llu, skipped %llu, parked %llu, unparked %llu",
	    (unsigned long long)a.walked, (unsigned long long)a.skipped,
	    (unsigned long long)a.parked, (unsigned long long)a.unparked);
	fprintf(stderr, "book_sim: %llu paths walked, %llu loans parked, "
	    "unparked on %llu paths\n", (unsigned long long)a.walked,
	    (unsigned long long)a.parked, (unsigned long long)a.unparked);
	ck_assert(z.parked == 0 && z.unparked == 0);
	/* parking only spares visits: the same bits without it */
	ck_assert_int_eq(lc_mc_estimate(&b.m, &b.req,
	    LC_MC_BOOK_LOSS | LC_MC_NO_PARK, &n), LC_OK);
	ck_assert(n.parked == 0 && n.skipped == a.skipped &&
	    n.walked == a.walked);
	ck_assert(memcmp(n.path_value, a.path_value,
	    a.paths * sizeof(double)) == 0);
	ck_assert(memcmp(n.path_bad_debt, a.path_bad_debt,
	    a.paths * sizeof(double)) == 0);
	ck_assert(memcmp(n.path_nliq, a.path_nliq,
	    a.paths * sizeof(uint32_t)) == 0);
	ck_assert(memcmp(n.p_liq, a.p_liq, 4 * NBIG * sizeof(double)) == 0);
	lc_mc_stats_release(&n);
	same_records(&a, &z);
	for (i = 0; i < a.paths; i++)
		nz += a.path_nliq[i] > 0;
	ck_assert(nz > 0);
	ck_assert(memcmp(a.p_liq, z.p_liq, NBIG * sizeof(double)) == 0);
	ck_assert(memcmp(a.p_liq_static, z.p_liq_static,
	    NBIG * sizeof(double)) == 0);
	lc_mc_stats_release(&a);
	lc_mc_stats_release(&z);
	bk_release(&b);
	free(pos);
	free(ent);
}
END_TEST

/* A coupled loan no price can liquidate: left out, counted, no cost. */
START_TEST(test_unreachable_left_out)
{
	static const double c[] = { 1, 1.0, 0.8, 3, 10.0, 0.8,
		0, 5000.0, 0.9 };
	struct bk b;
	struct lc_book_sim s0, s1;
	double cost0, cost1;

	mixed_book(&b);
	ck_assert_int_eq(lc_book_sim(&b.m, &b.req, HUGE_VAL, &s0), LC_OK);
	cost0 = lc_book_sim_cost(&b.req, NA);
	ck_assert(cost0 == 3000.0 * 16 * 3);
	/* 1 + 3 + 5000 USDC (x 0.9) against 4000 USDC: HF > 1 always */
	bk_loan(&b, LC_AAVE_V3, 3, c, 0, 4000);
	ck_assert(!lc_book_sim_reachable(&b.pos[b.req.npos - 1], b.price,
	    b.vol));
	ck_assert(lc_book_sim_reachable(&b.pos[0], b.price, b.vol));
	cost1 = lc_book_sim_cost(&b.req, NA);
	ck_assert(cost1 == cost0);
	ck_assert_int_eq(lc_book_sim(&b.m, &b.req, HUGE_VAL, &s1), LC_OK);
	ck_assert_uint_eq(s1.unreachable, 1);
	ck_assert_uint_eq(s1.coupled, 3);
	s1.unreachable = 0;
	ck_assert(memcmp(&s0, &s1, sizeof(s0)) == 0);
	/*
	 * the bound: assets + the loans not proved safe per path (the far
	 * loan nearly never counts; the one at HF 1.2 often does)
	 */
	ck_assert(s1.cost >= cost0 && s1.cost < 3000.0 * 16 * (3 + 2));
	ck_assert_int_eq(lc_book_sim(&b.m, &b.req, s1.cost, &s0), LC_OK);
	ck_assert_int_eq(lc_book_sim(&b.m, &b.req, s1.cost * (1 - 1e-12), &s0),
	    LC_ELIMIT);
	ck_assert(s0.cost == s1.cost);
	bk_release(&b);
}
END_TEST

START_TEST(test_bad_params)
{
	struct bk b;
	struct lc_book_sim s;

	mixed_book(&b);
	b.req.params.paths = 0;
	ck_assert_int_eq(lc_book_sim(&b.m, &b.req, HUGE_VAL, &s), LC_EINVAL);
	b.req.params.paths = 1;
	b.req.params.steps = 1;
	ck_assert_int_eq(lc_book_sim(&b.m, &b.req, HUGE_VAL, &s), LC_OK);
	ck_assert(s.value.std_error == 0.0);
	ck_assert(s.value.var95 == s.value.expected);
	bk_release(&b);
}
END_TEST

static struct lc_book_sim oom_ref;

/* A run; an answer despite a failed allocation must be the same. */
static int
oom_run(void *ctx)
{
	const struct bk *b = ctx;
	struct lc_book_sim s;
	int rc = (int)lc_book_sim(&b->m, &b->req, HUGE_VAL, &s);

	if (rc == LC_OK && memcmp(&s, &oom_ref, sizeof(s)) != 0)
		rc = -1;
	return rc;
}

/* Every allocation of lc_book_sim failing in turn: LC_ENOMEM, no leak. */
START_TEST(test_out_of_memory)
{
	struct bk b;
	char why[256];
	long n;

	mixed_book(&b);
	b.req.params.paths = 600;	/* two chunks */
	b.req.params.threads = 2;
	ck_assert_int_eq(lc_book_sim(&b.m, &b.req, HUGE_VAL, &oom_ref), LC_OK);
	/* absorb: a thread that cannot start leaves its chunks to others */
	n = failalloc_sweep(oom_run, &b, LC_OK, LC_ENOMEM, 1, 10000, why,
	    sizeof(why));
	ck_assert_msg(n > 0, "%s", why);
	bk_release(&b);
}
END_TEST

static Suite *
book_sim_suite(void)
{
	Suite *s = suite_create("book_sim");
	TCase *tc = tcase_create("book_sim");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_perp_closed_form);
	tcase_add_test(tc, test_two_perps_joint_law);
	tcase_add_test(tc, test_cascade_bad_debt);
	tcase_add_test(tc, test_threads_identical);
	tcase_add_test(tc, test_shortcuts_same_records);
	tcase_add_test(tc, test_parked_same_records);
	tcase_add_test(tc, test_unreachable_left_out);
	tcase_add_test(tc, test_bad_params);
	tcase_add_test(tc, test_out_of_memory);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return ck_run_suite(book_sim_suite());
}

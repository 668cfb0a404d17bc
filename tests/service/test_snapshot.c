/*
 * test_snapshot.c - incremental snapshots (snapshot_update) against full
 * rebuilds (snapshot_build of store_load) on seeded random write sequences
 * applied to a real temporary store; block sharing and reference counts;
 * the stable price sorts (merge, radix) against the (price, seq)
 * comparator.
 *
 * Run under ASan in no-fork mode to check that every block is freed with
 * the last snapshot that holds it:
 *   make BUILD=build/asan OPT='-O1 -g' SAN='-fsanitize=address,undefined' \
 *       build/asan/tests/svc_snapshot && \
 *   CK_FORK=no ./build/asan/tests/svc_snapshot
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "cascade/cascade.h"
#include "cascade/common.h"
#include "cascade/score.h"
#include "marketdata.h"
#include "snapshot.h"
#include "store.h"
#include "store_fixture.h"
#include "testlib.h"

static char *dir;
static struct store *st;
static uint64_t rng;

static void
setup(void)
{
	char db[512], *err = NULL;

	st = store_fixture_open(&dir, db, sizeof(db), "t.db", &err);
	ck_assert_msg(st != NULL, "store_open: %s", err ? err : "?");
}

static void
teardown(void)
{
	store_fixture_close(&st, &dir);
}

static unsigned
rnd(unsigned n)
{
	rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)((rng >> 33) % n);
}

/* ---- comparison ------------------------------------------------------ */

static void
same_doubles(const double *a, const double *b, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++)
		ck_assert_msg(memcmp(&a[k], &b[k], sizeof(double)) == 0,
		    "element %zu: %.17g != %.17g", k, a[k], b[k]);
}

static void
same_curve(const struct lc_curve *a, const struct lc_curve *b)
{
	ck_assert_uint_eq(a->n, b->n);
	same_doubles(a->bps, b->bps, a->n);
	same_doubles(a->qty, b->qty, a->n);
}

/* ---- prebuilt cascades ------------------------------------------------ */

/* Each side with levels has a base that fits them; none without. */
static void
check_bases(const struct snapshot *x)
{
	size_t i;
	int d;

	for (i = 0; i < x->nassets; i++) {
		const struct lc_asset_market *la = &x->lc_assets[i];

		for (d = 0; d < 2; d++) {
			if (la->levels[d].n == 0) {
				ck_assert_ptr_null(la->base[d]);
				continue;
			}
			ck_assert_ptr_nonnull(x->bases[2 * i + d]);
			ck_assert(la->base[d] == x->bases[2 * i + d]->b);
			ck_assert(lc_cascade_base_fits(la->base[d],
			    (enum lc_dir)d, &la->curve[d == LC_DOWN ? LC_BID :
			    LC_ASK], 1.0, la->levels[d].price,
			    la->levels[d].n, la->price));
		}
	}
}

static void
near(double a, double b, int exact)
{
	if (exact || isnan(b) || b == 0.0)
		ck_assert_msg((isnan(a) && isnan(b)) || a == b,
		    "%.17g != %.17g", a, b);
	else
		ck_assert_msg(fabs(a - b) <= 1e-12 * fabs(b),
		    "%.17g vs %.17g", a, b);
}

/*
 * The random writes store curves the codec would refuse (quantities
 * falling): impact() is then not a function of the volume, and no two
 * ways of evaluating it need agree.  Scores are compared on valid ones.
 */
static int
valid_curve(const struct lc_curve *c, enum lc_side side)
{
	struct lc_curve v;
	size_t bad;
	int ok;

	if (c->n == 0)
		return 1;
	lc_curve_init(&v);
	ok = lc_curve_from_points(&v, side, c->bps, c->qty, c->n, &bad) ==
	    LC_OK;
	lc_curve_release(&v);
	return ok;
}

/*
 * A score through the snapshot (its prebuilt cascades) equals the score
 * of the same market without them (the rebuild): a long and a short perp
 * on every volatile asset, 20% and 10% away; the positions bit for bit
 * (each is the first trigger of its direction's request steps), the
 * market figures to 1e-12.  Returns the number of positions scored.
 */
static size_t
score_matches(const struct snapshot *x)
{
	struct lc_position pos[2 * 8];
	struct lc_asset_market *copy;
	struct lc_market plain = x->market;
	struct lc_request req;
	struct lc_score_result r0, r1;
	double *price, *vol;
	size_t i, k, np = 0;

	copy = calloc(x->nassets, sizeof(*copy));
	price = calloc(x->nassets, sizeof(double));
	vol = calloc(x->nassets, sizeof(double));
	ck_assert(copy != NULL && price != NULL && vol != NULL);
	for (i = 0; i < x->nassets; i++) {
		const struct lc_asset_market *la = &x->lc_assets[i];

		copy[i] = *la;
		copy[i].base[0] = copy[i].base[1] = NULL;
		price[i] = la->price;
		vol[i] = la->vol;
		if (!(la->vol > 0.0) || !(la->price > 0.0) || np + 2 > 16 ||
		    !valid_curve(&la->curve[LC_BID], LC_BID) ||
		    !valid_curve(&la->curve[LC_ASK], LC_ASK))
			continue;
		for (k = 0; k < 2; k++) {
			struct lc_perp *pe = &pos[np].u.perp;
			double lev = k == 0 ? 5.0 : 10.0;

			memset(&pos[np], 0, sizeof(pos[np]));
			pos[np].id = "p";
			pos[np].type = LC_POS_PERP;
			pe->asset = (uint32_t)i;
			pe->is_short = (int)k;
			pe->size = 1.0 + (double)la->levels[k].n;
			pe->entry = la->price;
			pe->margin = pe->size * pe->entry / lev;
			pe->mmr = 0.005;
			np++;
		}
	}
	plain.assets = copy;
	lc_params_default(&req.params);
	req.params.paths = 0;
	req.pos = pos;
	req.npos = np;
	req.price = price;
	req.vol = vol;
	lc_score_result_init(&r0);
	lc_score_result_init(&r1);
	ck_assert_int_eq(lc_score(&x->market, &req, &r0), LC_OK);
	ck_assert_int_eq(lc_score(&plain, &req, &r1), LC_OK);
	ck_assert_uint_eq(r0.npos, r1.npos);
	ck_assert_uint_eq(r0.nmarkets, r1.nmarkets);
	for (i = 0; i < r0.npos; i++) {
		near(r0.pos[i].lp[0].effective_price,
		    r1.pos[i].lp[0].effective_price, 1);
		near(r0.pos[i].p_liq, r1.pos[i].p_liq, 1);
		near(r0.pos[i].exp_slip_bps, r1.pos[i].exp_slip_bps, 1);
		near(r0.pos[i].exp_slip_quote, r1.pos[i].exp_slip_quote, 1);
	}
	for (i = 0; i < r0.nmarkets; i++)
		for (k = 0; k < 2; k++) {
			const struct lc_dir_result *a = &r0.markets[i].dir[k];
			const struct lc_dir_result *b = &r1.markets[i].dir[k];

			near(a->trigger_price, b->trigger_price, 0);
			near(a->cascade_prob, b->cascade_prob, 0);
			near(a->qty_to_10pct, b->qty_to_10pct, 0);
			ck_assert_int_eq(a->depth_exhausted,
			    b->depth_exhausted);
		}
	ck_assert_uint_eq(r0.nwarn, r1.nwarn);
	lc_score_result_release(&r0);
	lc_score_result_release(&r1);
	free(copy);
	free(price);
	free(vol);
	return np;
}

/* Everything a reader can see, asset by asset (version aside). */
static void
same_snapshot(const struct snapshot *x, const struct snapshot *y)
{
	size_t i, k, j;
	int s;

	ck_assert_uint_eq(x->nassets, y->nassets);
	ck_assert_str_eq(x->etag, y->etag);
	ck_assert_uint_eq(x->usd, y->usd);
	ck_assert(x->default_rho == y->default_rho);
	for (i = 0; i < x->nassets; i++) {
		const struct snapshot_asset *a = &x->assets[i];
		const struct snapshot_asset *b = &y->assets[i];
		const struct lc_asset_market *la = &x->lc_assets[i];
		const struct lc_asset_market *lb = &y->lc_assets[i];

		ck_assert_uint_eq(x->by_symbol[i], y->by_symbol[i]);
		ck_assert_str_eq(a->symbol, b->symbol);
		ck_assert(a->price == b->price && a->vol == b->vol);
		ck_assert_str_eq(a->updated_at, b->updated_at);
		ck_assert_int_eq(a->implicit, b->implicit);
		ck_assert_str_eq(a->depth_as_of, b->depth_as_of);
		for (s = 0; s < 2; s++) {
			const struct snapshot_side *p = &a->side[s];
			const struct snapshot_side *q = &b->side[s];
			const struct snapshot_levels *u = &a->levels[s];
			const struct snapshot_levels *v = &b->levels[s];

			ck_assert_uint_eq(p->nvenues, q->nvenues);
			ck_assert(p->oldest_epoch == q->oldest_epoch);
			same_doubles(p->depth_qty, q->depth_qty,
			    SNAPSHOT_NDEPTH);
			for (k = 0; k < p->nvenues; k++) {
				ck_assert_str_eq(p->venues[k].venue,
				    q->venues[k].venue);
				ck_assert_str_eq(p->venues[k].as_of,
				    q->venues[k].as_of);
				ck_assert(p->venues[k].as_of_epoch ==
				    q->venues[k].as_of_epoch);
				ck_assert_uint_eq(p->venues[k].npoints,
				    q->venues[k].npoints);
			}
			ck_assert_uint_eq(u->n, v->n);
			same_doubles(u->price, v->price, u->n);
			same_doubles(u->qty, v->qty, u->n);
			ck_assert(u->total_qty == v->total_qty);
			ck_assert_uint_eq(u->nstale, v->nstale);
			/* lc_market: what lc_score() reads */
			ck_assert_str_eq(la->symbol, lb->symbol);
			ck_assert(la->symbol == a->symbol);
			ck_assert(la->price == lb->price && la->vol == lb->vol);
			same_curve(&la->curve[s], &lb->curve[s]);
			ck_assert_uint_eq(la->levels[s].n, lb->levels[s].n);
			ck_assert_uint_eq(la->levels[s].n, u->n);
			same_doubles(la->levels[s].price, lb->levels[s].price,
			    u->n);
			same_doubles(la->levels[s].qty, lb->levels[s].qty,
			    u->n);
		}
	}
	same_doubles(x->rho, y->rho, x->nassets * x->nassets);
	ck_assert_uint_eq(x->market.nassets, y->market.nassets);
	ck_assert(x->market.assets == x->lc_assets);
	ck_assert(x->market.rho == x->rho);
	for (i = 0; i < x->nassets; i++)
		for (j = 0; j < x->nassets; j++)
			ck_assert(x->market.rho[i * x->nassets + j] ==
			    y->market.rho[i * y->nassets + j]);
}

/* ---- random writes ---------------------------------------------------- */

static const char *const syms[] = {"BTC", "ETH", "SOL", "AAA", "ZZZ",
	"USDC"};
#define NSYMS (sizeof(syms) / sizeof(syms[0]))
static const char *const venues[] = {"binance", "okx", "kraken"};

/*
 * One random write; returns the symbol it touched (NULL: correlations) or
 * "" when the store refused it (nothing changed), and in *lvm what it did
 * to the levels.
 */
static const char *
random_write(enum snapshot_level_mode *lvm)
{
	const char *sym = syms[rnd(NSYMS)];
	struct md_level lv[64];
	struct md_curve c[2];
	struct md_corr corr[3];
	double bps[4] = {10, 50, 100, 500}, qty[2][4];
	char when[MD_TIME_MAX];
	enum store_status r = STORE_OK;
	size_t n, k;
	unsigned op = rnd(8);

	*lvm = SNAPSHOT_LEVELS_KEEP;

	snprintf(when, sizeof(when), "2026-01-%02uT00:00:00Z", 1 + rnd(28));
	switch (op) {
	case 0:
	case 1:
		r = store_put_asset(st, sym, 50.0 + rnd(100), 0.1 * rnd(10),
		    when, NULL);
		break;
	case 2:
		if (rnd(3) == 0)
			r = store_delete_asset(st, sym);
		else
			r = store_put_asset(st, sym, 100, 0.5, when, NULL);
		break;
	case 3:
		n = 1 + rnd(2);
		memset(c, 0, sizeof(c));
		for (k = 0; k < n; k++) {
			size_t j;

			snprintf(c[k].venue, sizeof(c[k].venue), "%s",
			    venues[rnd(3)]);
			c[k].side = n == 2 ? (int)k : (int)rnd(2);
			snprintf(c[k].as_of, sizeof(c[k].as_of), "%s", when);
			for (j = 0; j < 4; j++)
				qty[k][j] = (double)(j + 1) * (1 + rnd(50));
			c[k].curve.n = 4;
			c[k].curve.bps = bps;
			c[k].curve.qty = qty[k];
		}
		if (n == 2)
			snprintf(c[1].venue, sizeof(c[1].venue), "%s",
			    c[0].venue);
		r = store_put_curves(st, sym, c, n, NULL);
		break;
	case 4:
		r = store_delete_venue(st, sym, venues[rnd(3)]);
		break;
	case 5:
	case 6:
		n = rnd(64);
		memset(lv, 0, sizeof(lv));
		for (k = 0; k < n; k++) {
			lv[k].price = 80.0 + rnd(40); /* many ties */
			lv[k].qty = 1.0 + rnd(9);
			lv[k].side = (int)rnd(2);
			snprintf(lv[k].as_of, sizeof(lv[k].as_of), "%s", when);
			snprintf(lv[k].source, sizeof(lv[k].source), "s%u",
			    rnd(2));
		}
		r = op == 5 ? store_replace_levels(st, sym, lv, n)
		            : store_append_levels(st, sym, lv, n);
		*lvm = op == 5 ? SNAPSHOT_LEVELS_RELOAD
		               : SNAPSHOT_LEVELS_APPEND;
		break;
	default:
		n = 1 + rnd(3);
		memset(corr, 0, sizeof(corr));
		for (k = 0; k < n; k++) {
			size_t a = rnd(NSYMS), b = (a + 1 + rnd(NSYMS - 1)) %
			    NSYMS;

			snprintf(corr[k].a, sizeof(corr[k].a), "%s", syms[a]);
			snprintf(corr[k].b, sizeof(corr[k].b), "%s", syms[b]);
			corr[k].rho = -1.0 + 0.25 * rnd(9);
		}
		r = store_put_correlations(st, corr, n, rnd(4) == 0);
		sym = NULL;
		break;
	}
	return r == STORE_OK ? sym : "";
}

static struct snapshot *
full_build(double rho)
{
	struct market_data md;
	struct snapshot *s = NULL;

	market_data_init(&md);
	ck_assert_int_eq(store_load(st, &md), STORE_OK);
	ck_assert_int_eq(snapshot_build(&md, rho, &s), 0);
	market_data_release(&md);
	return s;
}

/* What republish() does after a write to sym. */
static struct snapshot *
incremental(const struct snapshot *cur, const char *sym,
    enum snapshot_level_mode lvm)
{
	struct market_data md;
	struct snapshot *s = NULL;
	int64_t after = 0;
	int full = -1;

	market_data_init(&md);
	if (sym == NULL || snapshot_max_seq(cur, sym, &after) != 0)
		lvm = SNAPSHOT_LEVELS_RELOAD;
	if (lvm == SNAPSHOT_LEVELS_RELOAD)
		after = 0;
	else if (lvm == SNAPSHOT_LEVELS_KEEP)
		after = STORE_NO_LEVELS;
	ck_assert_int_eq(store_load_asset(st, sym, after, &md, &full),
	    STORE_OK);
	ck_assert_int_eq(full, 0);	/* no other connection writes */
	ck_assert_int_eq(snapshot_update(cur, sym, &md, lvm, &s), 0);
	market_data_release(&md);
	return s;
}

/* Blocks of assets other than sym are shared with the previous snapshot. */
static void
check_sharing(const struct snapshot *prev, const struct snapshot *next,
    const char *sym, enum snapshot_level_mode lvm)
{
	size_t i;
	long j;

	for (i = 0; i < next->nassets; i++) {
		if (next->blocks[i] == NULL) {
			ck_assert_int_eq(next->assets[i].implicit, 1);
			continue;
		}
		if (sym != NULL && strcmp(next->assets[i].symbol, sym) == 0) {
			j = snapshot_find(prev, sym);
			if (j >= 0)
				ck_assert(prev->blocks[j] != next->blocks[i]);
			if (j >= 0 && lvm == SNAPSHOT_LEVELS_KEEP)
				ck_assert(prev->blocks[j]->lv ==
				    next->blocks[i]->lv);
			else
				ck_assert_uint_eq(atomic_load(
				    &next->blocks[i]->lv->refs), 1);
			ck_assert_uint_eq(atomic_load(
			    &next->blocks[i]->refs), 1);
			continue;
		}
		j = snapshot_find(prev, next->assets[i].symbol);
		ck_assert_int_ge(j, 0);
		ck_assert(prev->blocks[j] == next->blocks[i]);
		/* an unchanged asset keeps its prebuilt cascades */
		ck_assert(next->bases[2 * i] == prev->bases[2 * (size_t)j]);
		ck_assert(next->bases[2 * i + 1] ==
		    prev->bases[2 * (size_t)j + 1]);
		ck_assert_uint_ge(atomic_load(&next->blocks[i]->refs), 2);
	}
}

START_TEST(incremental_equals_full)
{
	struct snapshot *cur, *inc, *full;
	enum snapshot_level_mode lvm;
	const char *sym;
	int step, writes = 0;
	size_t scored = 0;

	rng = 0x5eed0000u + (uint64_t)_i;
	cur = full_build(0.25);
	for (step = 0; step < 150; step++) {
		sym = random_write(&lvm);
		if (sym != NULL && sym[0] == '\0')
			continue; /* refused: nothing to publish */
		writes++;
		inc = incremental(cur, sym, lvm);
		full = full_build(0.25);
		same_snapshot(inc, full);
		check_sharing(cur, inc, sym, lvm);
		check_bases(inc);
		check_bases(full);
		scored += score_matches(inc);
		ck_assert_uint_gt(inc->version, cur->version);
		snapshot_unref(full);
		snapshot_unref(cur);
		cur = inc;
	}
	ck_assert_int_gt(writes, 30);
	ck_assert_uint_gt(scored, 20);
	/* the survivor holds the only reference to each of its blocks */
	for (step = 0; step < (int)cur->nassets; step++)
		if (cur->blocks[step] != NULL)
			ck_assert_uint_eq(
			    atomic_load(&cur->blocks[step]->refs), 1);
	snapshot_unref(cur);
}
END_TEST

/* A reader's reference keeps the old snapshot and its blocks whole. */
START_TEST(old_snapshot_survives)
{
	struct snapshot *a, *b;
	struct md_level lv[2];
	double p0;
	long i;

	ck_assert_int_eq(store_put_asset(st, "ETH", 100, 0.5, "t", NULL),
	    STORE_OK);
	ck_assert_int_eq(store_put_asset(st, "BTC", 100, 0.5, "t", NULL),
	    STORE_OK);
	memset(lv, 0, sizeof(lv));
	lv[0].price = 90;
	lv[0].qty = 1;
	lv[1].price = 80;
	lv[1].qty = 2;
	ck_assert_int_eq(store_replace_levels(st, "ETH", lv, 2), STORE_OK);
	a = full_build(0.0);
	lv[0].price = 70;
	ck_assert_int_eq(store_replace_levels(st, "ETH", lv, 1), STORE_OK);
	b = incremental(a, "ETH", SNAPSHOT_LEVELS_RELOAD);
	i = snapshot_find(a, "ETH");
	ck_assert_int_ge(i, 0);
	p0 = a->lc_assets[i].levels[LC_DOWN].price[0];
	snapshot_unref(b); /* the newer one goes first */
	ck_assert(a->lc_assets[i].levels[LC_DOWN].price[0] == p0);
	ck_assert_uint_eq(a->lc_assets[i].levels[LC_DOWN].n, 2);
	snapshot_unref(a);
}
END_TEST

/* ---- the stable sort -------------------------------------------------- */

/*
 * The same levels in seq order (packed: the stable merge sort) and
 * shuffled (write form: the qsort fallback) give the same order.
 */
START_TEST(stable_sort_matches_comparator)
{
	struct market_data x, y;
	struct md_asset *a, *b;
	struct snapshot *s1, *s2;
	/* small n: the merge sort; from 256 on: the radix sort */
	static const size_t sizes[] = {7, 100, 255, 256, 5000, 70001};
	size_t n = sizes[_i], k;

	rng = 42 + (uint64_t)_i;
	market_data_init(&x);
	market_data_init(&y);
	x.assets = calloc(1, sizeof(*x.assets));
	y.assets = calloc(1, sizeof(*y.assets));
	ck_assert(x.assets != NULL && y.assets != NULL);
	x.nassets = y.nassets = 1;
	a = &x.assets[0];
	b = &y.assets[0];
	snprintf(a->symbol, sizeof(a->symbol), "ETH");
	snprintf(b->symbol, sizeof(b->symbol), "ETH");
	a->price = b->price = 100;
	a->packed = calloc(n, sizeof(*a->packed));
	b->levels = calloc(n, sizeof(*b->levels));
	ck_assert(a->packed != NULL && b->levels != NULL);
	a->npacked = b->nlevels = n;
	for (k = 0; k < n; k++) {
		a->packed[k].price = 50.0 + rnd(100) * 0.5;
		a->packed[k].qty = 1.0 + (double)k;
		a->packed[k].side = (int32_t)rnd(2);
		a->packed[k].seq = (int64_t)(k * 3 + 1);
	}
	for (k = 0; k < n; k++) {
		b->levels[k].price = a->packed[k].price;
		b->levels[k].qty = a->packed[k].qty;
		b->levels[k].side = a->packed[k].side;
		b->levels[k].seq = a->packed[k].seq;
	}
	for (k = n - 1; k > 0; k--) { /* shuffle */
		size_t j = rnd((unsigned)(k + 1));
		struct md_level t = b->levels[k];

		b->levels[k] = b->levels[j];
		b->levels[j] = t;
	}
	ck_assert_int_eq(snapshot_build(&x, 0.0, &s1), 0);
	ck_assert_int_eq(snapshot_build(&y, 0.0, &s2), 0);
	for (k = 0; k < 2; k++) {
		const struct snapshot_levels *l = &s1->assets[0].levels[k];
		size_t j;

		ck_assert_uint_eq(l->n, s2->assets[0].levels[k].n);
		same_doubles(l->price, s2->assets[0].levels[k].price, l->n);
		same_doubles(l->qty, s2->assets[0].levels[k].qty, l->n);
		for (j = 1; j < l->n; j++)
			ck_assert(k == LC_DOWN
			        ? l->price[j - 1] >= l->price[j]
			        : l->price[j - 1] <= l->price[j]);
	}
	snapshot_unref(s1);
	snapshot_unref(s2);
	market_data_release(&x);
	market_data_release(&y);
}
END_TEST

static Suite *
snapshot_suite(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc;

	tc = tcase_create("incremental");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, incremental_equals_full, 0, 4);
	tcase_add_test(tc, old_snapshot_survives);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	tc = tcase_create("sort");
	tcase_add_loop_test(tc, stable_sort_matches_comparator, 0, 6);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(snapshot_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

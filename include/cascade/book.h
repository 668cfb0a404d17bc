/*
 * book.h - books: positions a data owner already holds (docs/model.md
 * section 8).  Their derived liquidation levels (8.1) and the book under
 * a shock (8.2): the risk curve, its value at risk and expected figures.
 *
 * Assets are indices into the caller's price and volatility arrays, as in
 * position.h.  Loan entries must be normalized (lc_entries_normalize)
 * beforehand, as for lc_score().
 *
 * Ownership: struct lc_book owns its step storage and per-asset totals
 * (lc_book_init / lc_book_release); the positions it derives from are
 * borrowed: a position passed to lc_book_put() must stay valid, unchanged,
 * until its slot is put again or removed, because lc_book_risk() replays
 * it.  struct lc_book_levels and struct lc_book_risk own their arrays
 * (_init / _release; a reused one keeps its storage).  Everything else is
 * borrowed and const.  Nothing here keeps global state: a book may be read
 * by several threads at once while nobody writes it.
 */
#ifndef CASCADE_BOOK_H
#define CASCADE_BOOK_H

#include "cascade/common.h"
#include "cascade/curve.h"
#include "cascade/position.h"
#include "cascade/score.h"

/* Most points of a risk grid (docs/model.md section 7, cascade curve). */
#define LC_BOOK_MAX_POINTS 1001

/* One derived liquidation level of a position (8.1). */
struct lc_book_step {
	uint32_t asset;
	enum lc_dir dir;	/* LC_DOWN: side sell; LC_UP: side buy */
	uint32_t rank;		/* index in the position's ladder in asset */
	double price;		/* trigger price */
	double qty;		/* units of asset sold (down) / bought (up) */
};

/*
 * Derive the levels of one position at the current prices: a perp's one
 * step, a single-asset loan's ladder (lc_loan_ladder, exactly), and for a
 * coupled loan, for each volatile asset a in lc_loan_liq_prices() order,
 * its ladder in a alone (every other price held), counting only the units
 * of a sold (down) or bought (up) at each step (0 for a step that trades
 * other assets only).  A stable loan has no levels.  Steps of one asset
 * come in ladder order.  Writes at most cap steps; *n receives the total.
 * out == NULL (with cap 0) only counts.  LC_ELIMIT when cap is too small,
 * LC_EINVAL on a bad position (perp on a stable asset), LC_ENOMEM.
 * At most LC_MAX_STEPS steps per asset and position.
 */
enum lc_status lc_book_derive(const struct lc_position *p,
    const double *price, const double *vol, struct lc_book_step *out,
    size_t cap, size_t *n);

/* A step at or beyond P (down: price >= P; up: price <= P) is stale. */
int lc_book_step_stale(const struct lc_book_step *s, double p0);

/* Derived steps of one slot (borrowed position + its steps). */
struct lc_book_slot {
	const struct lc_position *pos;	/* NULL: empty slot */
	size_t off;		/* first step in the book's step arena */
	size_t n;		/* its step count */
	uint32_t gen;		/* bumped by every put and remove */
};

/*
 * The sorted index of one asset and direction (book.c): every indexed
 * step in cascade order (ties by slot, then rank); entries of a slot put
 * again or removed since are marked dead.  Steps put since the last
 * merge wait in the book's pending list.
 */
struct lc_book_ixent {
	double price;
	double qty;
	uint64_t sr;	/* slot << 7 | ladder rank << 1 | dead (bit 0) */
};

struct lc_book_index {
	size_t n, cap, ndead, npend;	/* npend: pending steps of it */
	struct lc_book_ixent *e;
};

struct lc_book_pend {
	size_t slot;
	uint32_t gen;		/* live while the slot's gen is this */
};

/* Per-asset totals of the derived levels, stale included, [dir]. */
struct lc_book_total {
	size_t count[2];
	double qty[2];
};

struct lc_book {
	size_t nslots, slot_cap;
	struct lc_book_slot *slot;
	size_t nsteps, step_cap, dead;	/* arena; `dead` steps unused */
	struct lc_book_step *step;
	size_t nassets;
	struct lc_book_total *total;	/* indexed by asset */
	size_t nix;			/* assets of ix */
	struct lc_book_index *ix;	/* [2 asset + dir] */
	size_t npend, pend_cap, pend_steps, ix_dead;
	struct lc_book_pend *pend;	/* slots put since the last merge */
};

void lc_book_init(struct lc_book *b);
void lc_book_release(struct lc_book *b);

/*
 * Put position p (borrowed) in slot `slot` (any index; the book grows),
 * replacing what was there: derive its steps at the current prices and
 * update the totals.  The slot index is the book order (ties of equal
 * trigger prices between positions go by slot).  O(steps of p), amortised
 * (the arena is compacted when half of it is dead), plus O(log n) per old
 * step (its index entry marked dead) and the amortised share of the
 * index merges (lc_book_flush).  On failure the slot is left empty
 * (LC_ELIMIT: a slot of 2^57 or more, beyond the index's key).
 */
enum lc_status lc_book_put(struct lc_book *b, size_t slot,
    const struct lc_position *p, const double *price, const double *vol);

/* Empty a slot (no-op when empty or out of range).  O(its steps). */
void lc_book_remove(struct lc_book *b, size_t slot);

/*
 * Merge the steps put since the last merge into the sorted index of each
 * asset and direction (O(n + k log k)), so that the next lc_book_levels()
 * merges nothing: call it after a batch of puts.  Optional: puts and
 * removes merge by themselves once the pending and dead steps pass half
 * the live ones (amortised O(log n) per step).  LC_ENOMEM leaves the book
 * as it was (its steps stay pending; everything stays correct).
 */
enum lc_status lc_book_flush(struct lc_book *b);

/* Totals of asset a (zeros when the book never saw it). */
struct lc_book_total lc_book_totals(const struct lc_book *b, uint32_t a);

/*
 * The non-stale derived levels of one asset and direction, in cascade
 * order (down: price descending, up: ascending; ties by slot, then
 * ladder rank), with each level's slot and rank; `stale` counts the
 * rest.  Slot `skip` is left out (a request position that names its copy
 * in this book, 8.1; LC_BOOK_NO_SLOT: none).  O(n + k log k) for the n
 * indexed steps of the asset and the k put since the last merge of the
 * index (a merge of the sorted index with the pending steps, radix
 * sorted; the puts merge the index once the pending steps pass four
 * times it).
 */
#define LC_BOOK_NO_SLOT ((size_t)-1)

struct lc_book_levels {
	size_t n, cap;
	double *price;
	double *qty;
	size_t *slot;
	uint32_t *rank;
	size_t stale;
};

void lc_book_levels_init(struct lc_book_levels *l);
void lc_book_levels_release(struct lc_book_levels *l);
enum lc_status lc_book_levels(const struct lc_book *b, uint32_t asset,
    enum lc_dir dir, double p0, size_t skip, struct lc_book_levels *out);

/*
 * The grid of shocks (the cascade curve's rule): step > 0, to on the
 * direction's side of from (down: to <= from; up: to >= from),
 * 1 + from > 0, 1 + to > 0; n = floor(|to - from| / step + 1e-9),
 * s_i = from + i step sign(to - from), i = 0..n, then `to` appended when
 * |s_n - to| > 1e-9 step.  LC_EINVAL on a broken rule, including more
 * than LC_BOOK_MAX_POINTS points (a 422 like any bad query).  out may be NULL (count only, *n set).
 */
enum lc_status lc_book_grid(enum lc_dir dir, double from, double to,
    double step, double *out, size_t *n);

struct lc_book_risk_args {
	uint32_t asset;
	enum lc_dir dir;
	double from, to, step;		/* the grid, lc_book_grid() */
	double horizon_days;		/* 0 < h <= 365 */
	double tail_dof;		/* 0 (normal) or 2 < nu <= 1000 */
	const double *price;		/* P per asset */
	const double *vol;		/* sigma per asset */
	/* The market's levels of (asset, dir): */
	const struct lc_levels *stored;	/* cascade order; NULL: none */
	const struct lc_book *const *books;	/* every book of the market */
	size_t nbooks;
	size_t self;			/* books[self] is the book asked for */
	const struct lc_curve *curve;	/* the direction's curve; NULL: none */
	double depth_scale;
};

/* Figures of one point (8.2); the _static forms without the cascade. */
struct lc_book_figs {
	size_t positions;	/* liquidated_positions */
	double qty;		/* liquidated_qty */
	double value;		/* liquidated_value */
	double bad_debt;
};

struct lc_book_point {
	double shock;
	double shocked_price;
	double final_price;
	struct lc_book_figs cascade;
	struct lc_book_figs stat;	/* final price p */
};

struct lc_book_var {
	double q;
	double shock;
	struct lc_book_point at;	/* the point's figures at shock s_q */
};

struct lc_book_risk {
	double price;			/* P of the asset */
	size_t npoints, cap;
	struct lc_book_point *points;
	struct lc_book_var var[2];	/* q = 0.95, 0.99 */
	struct lc_book_figs expected;	/* value and bad_debt only */
	struct lc_book_figs expected_static;
	size_t stale_levels;	/* stale stored + derived levels skipped */
	size_t nlevels;		/* triggers of the cascade */
	void *ws;		/* book.c's scratch, kept for the next call */
};

void lc_book_risk_init(struct lc_book_risk *r);
void lc_book_risk_release(struct lc_book_risk *r);

/*
 * The book under a shock (8.2).  LC_EINVAL for a bad grid (more than
 * LC_BOOK_MAX_POINTS points included), horizon, tail_dof or depth scale,
 * self >= nbooks, or stored levels out of cascade order (a stable asset
 * is accepted: its running extreme stays at P, both var shocks are 0);
 * LC_ENOMEM.  Cost: O(N) to merge the market's N levels (each run comes
 * sorted), O(B) replayed steps for the book's B exposed levels,
 * O(B log points + points) for the grid's figures (bad debt by a sweep,
 * book.c), O(B) per var point.  out keeps its scratch arrays for the
 * next call (freed by lc_book_risk_release): reuse one per thread.
 */
enum lc_status lc_book_risk(const struct lc_book_risk_args *a,
    struct lc_book_risk *out);

/*
 * Sort key of 8.3 for one position: the smallest |effective_price / P - 1|
 * over its liquidation prices, given the effective prices a score gave
 * (lp as in struct lc_pos_result; the static price is used where the
 * effective one is NAN, as for coupled loans); +INFINITY when none.
 */
double lc_book_effective_distance(const struct lc_liq_result *lp, size_t n,
    const double *price);

/*
 * The riskiest positions of a book (8.3): the non-empty slots ordered by
 * key[slot] ascending (the caller's lc_book_effective_distance or health
 * factor), ties by slot, NaN keys last; writes the slots of ranks
 * offset .. offset + limit - 1 of that order to out (at most limit) and
 * their count to *n.  A partial selection: a bounded max-heap of
 * offset + limit entries, O(S log(offset + limit)) for the S slots of the
 * book, not a sort of all of them.  key has b->nslots entries.  LC_ENOMEM.
 */
enum lc_status lc_book_top(const struct lc_book *b, const double *key,
    size_t offset, size_t limit, size_t *out, size_t *n);

/* ---- simulate */
/*
 * The replay of 8.2 for one position (what lc_book_risk() runs): its
 * ladder in (asset, dir) at execution prices e[0..n), n <= LC_MAX_STEPS,
 * per step the value liquidated val[k] and the account after it as three
 * numbers bd[3 k .. 3 k + 2] = (a, b, s): bad debt at a final price F of
 * `asset` (other assets at price[]) is s + max(0, a + b F).  LC_EINVAL
 * when n is too large, LC_ENOMEM.  Used by book_sim (mc_build.c).
 */
enum lc_status lc_book_replay(const struct lc_position *p,
    const double *price, const double *vol, uint32_t asset, enum lc_dir dir,
    const double *e, size_t n, double *val, double *bd);

#endif

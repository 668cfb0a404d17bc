/*
 * position.h - loans and perps (docs/model.md section 3): health, liquidation
 * prices, common move, and the liquidation ladder.
 *
 * Assets are indices into the caller's price and volatility arrays
 * (price[a] > 0, vol[a] >= 0; vol[a] == 0 marks a stable asset).
 * All structs here are plain values; arrays inside positions are borrowed.
 */
#ifndef CASCADE_POSITION_H
#define CASCADE_POSITION_H

#include "cascade/common.h"

enum lc_protocol {
	LC_AAVE_V3 = 0,
	LC_MORPHO_BLUE,
	LC_COMPOUND_V3
};

struct lc_entry {
	uint32_t asset;
	double amount;
	double lt;	/* liquidation_threshold; collateral only */
};

struct lc_loan {
	enum lc_protocol protocol;
	const struct lc_entry *coll;
	size_t ncoll;
	const struct lc_entry *debt;
	size_t ndebt;
	double bonus;		/* NAN: protocol default */
	double close_factor;	/* NAN: protocol default */
	double full_liq_below;	/* aave-v3 only; default 2000 (also when
				 * NAN), 0 disables */
};

struct lc_tier {
	double max_notional;	/* INFINITY when omitted */
	double mmr;
	double amount;
};

struct lc_perp {
	uint32_t asset;
	int is_short;
	double size;
	double entry;
	double margin;		/* leverage already resolved by the caller */
	double mmr;
	double mm_amount;
	const struct lc_tier *tiers;	/* ntiers == 0: mmr / mm_amount apply */
	size_t ntiers;
};

enum lc_pos_type {
	LC_POS_LOAN = 0,
	LC_POS_PERP
};

struct lc_position {
	const char *id;
	enum lc_pos_type type;
	union {
		struct lc_loan loan;
		struct lc_perp perp;
	} u;
};

enum lc_loan_kind {
	LC_LOAN_STABLE = 0,
	LC_LOAN_SINGLE,
	LC_LOAN_COUPLED
};

/* Per-asset static liquidation price of a loan or perp (docs/model.md 3). */
struct lc_liq_price {
	uint32_t asset;
	enum lc_dir dir;
	double price;		/* NAN: null (no positive price gives HF = 1) */
};

/* One single-asset liquidation ladder (docs/model.md 3.1 / 3.2). */
struct lc_ladder {
	uint32_t asset;
	enum lc_dir dir;
	int liquidatable_now;	/* steps at or beyond P happen at P */
	size_t n;
	double price[LC_MAX_STEPS];	/* trigger price of each step */
	double qty[LC_MAX_STEPS];	/* base quantity sold (down) / bought (up) */
};

/*
 * Merge entries of the same asset in place (amounts add, lt becomes the
 * amount-weighted mean) and drop zero amounts; *n is updated.  Keeps the
 * first occurrence's position in the array.
 */
void lc_entries_normalize(struct lc_entry *e, size_t *n);

/* Health factor; NAN when the loan has no debt value. */
double lc_loan_health(const struct lc_loan *l, const double *price);

/*
 * Resolved bonus and close factor of the protocol (docs/model.md 3.1 defaults).
 * compound-v3 ignores both: bonus 0, close factor 1.  The aave-v3 close
 * factor returned is the one in effect above full_liq_below (the ladder
 * switches to 1 per step).
 */
double lc_loan_bonus(const struct lc_loan *l, const double *price);
double lc_loan_close_factor(const struct lc_loan *l);

/*
 * Validate ranges that depend on the protocol: lt * (1 + bonus) <= 1 for
 * every collateral entry with a positive amount (not for compound-v3),
 * with a relative slack of 1e-12 for the rounding of the default
 * 1/LT_max - 1.  On LC_EINVAL *bad_coll is the offending collateral index
 * (an index into l->coll as passed, i.e. after normalization).
 */
enum lc_status lc_loan_check(const struct lc_loan *l, const double *price,
    size_t *bad_coll);

/*
 * Classify (docs/model.md 3.1).  For LC_LOAN_SINGLE *asset and *dir (down when the
 * volatile asset is collateral, up when debt) are set.
 */
enum lc_loan_kind lc_loan_classify(const struct lc_loan *l, const double *vol,
    uint32_t *asset, enum lc_dir *dir);

/*
 * Per-asset liquidation prices, one per volatile asset in the contract's (docs/model.md) order
 * (collateral entries first in array order, then debt entries; an asset on
 * both sides appears once, at its first occurrence).  Writes at most cap
 * entries, *n receives the count written; LC_ELIMIT when more exist.
 * out == NULL only counts (*n = total, LC_OK).  An asset whose weighted
 * collateral equals its debt amount (HF independent of its price) has
 * price NAN and the direction of its first occurrence.
 */
enum lc_status lc_loan_liq_prices(const struct lc_loan *l, const double *price,
    const double *vol, struct lc_liq_price *out, size_t cap, size_t *n);

/* common_move_pct (docs/model.md 3.1); NAN when no move m > -1 gives HF = 1. */
double lc_loan_common_move(const struct lc_loan *l, const double *price,
    const double *vol);

/*
 * Ladder of a single-asset loan (docs/model.md 3.1 mechanics), with the "liquidated
 * now" rule applied (liquidatable_now is lc_loan_health() <= 1).  LC_EINVAL
 * when the loan is not single-asset.  A loan that is never liquidated gives
 * n == 0; so does a volatile-debt loan without collateral (nothing to
 * seize), even though it is liquidatable now.  compound-v3: one step
 * (all volatile collateral, or quantity 0 for a volatile debt).  Bad debt
 * (collateral worth less than R (1 + bonus)) ends the ladder.
 */
enum lc_status lc_loan_ladder(const struct lc_loan *l, const double *price,
    const double *vol, struct lc_ladder *out);

/* Perp: static liquidation price (docs/model.md 3.2, tiers resolved). */
struct lc_perp_liq {
	double price;		/* NAN: null */
	int always;		/* liquidatable at every price (short) */
	int liquidatable_now;
	size_t tier;		/* tier index used (0 without tiers) */
};
enum lc_status lc_perp_liq_price(const struct lc_perp *p, const double *price,
    struct lc_perp_liq *out);

/* Perp ladder: one step of `size` at the liquidation price (or P now). */
enum lc_status lc_perp_ladder(const struct lc_perp *p, const double *price,
    struct lc_ladder *out);

/*
 * Validate perp tiers: 0 <= mmr < 1, amount >= 0, max_notional finite,
 * > 0 and strictly ascending on every tier but the last (whose max is
 * ignored: it covers everything above the previous max), continuity of
 * amounts to 1e-6 * max(1, |amount|).  n == 0 is LC_EINVAL (*bad = 0).
 * On LC_EINVAL *bad is the offending tier.
 */
enum lc_status lc_perp_check_tiers(const struct lc_tier *t, size_t n,
    size_t *bad);

#endif

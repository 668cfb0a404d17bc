/*
 * score.h - the scoring entry point: a validated portfolio against a market
 * snapshot gives per-position, per-market and portfolio results
 * (docs/model.md sections 4.1, 5, 6; POST /v1/score).
 *
 * The market is an immutable snapshot the caller owns and may share between
 * threads (lc_score only reads it).  Asset indices are positions in
 * market->assets; the request's price/vol arrays (overrides applied by the
 * caller) have market->nassets entries each.
 *
 * Results: lc_score fills a caller-owned struct lc_score_result; its arrays
 * are owned by it and freed by lc_score_result_release().  Reusing one
 * result (and workspace) across calls avoids allocation in steady state.
 */
#ifndef CASCADE_SCORE_H
#define CASCADE_SCORE_H

#include "cascade/common.h"
#include "cascade/curve.h"
#include "cascade/cascade.h"
#include "cascade/position.h"

/* Stored liquidation levels of one asset on one side. */
struct lc_levels {
	size_t n;
	/*
	 * Sorted in cascade order: sell levels (LC_DOWN) by price descending,
	 * buy levels (LC_UP) ascending, ties in insertion order.  Stale
	 * levels (sell >= P, buy <= P) are skipped by lc_score against the P
	 * in effect, so overrides of P work.
	 */
	const double *price;
	const double *qty;
};

struct lc_asset_market {
	const char *symbol;
	double price;
	double vol;
	struct lc_curve curve[2];	/* aggregated, [LC_BID], [LC_ASK] */
	struct lc_levels levels[2];	/* [LC_DOWN] sell, [LC_UP] buy */
	/*
	 * Optional, borrowed: the prebuilt cascade of levels[d] on
	 * curve[side of d] (cascade.h).  lc_score() uses it when it fits
	 * the request (lc_cascade_base_fits: same level arrays, stale prefix,
	 * curve and depth_scale) and the request needs no Monte Carlo; else,
	 * or when NULL, it merges and rebuilds the cascade itself.
	 */
	const struct lc_cascade_base *base[2];
};

struct lc_market {
	size_t nassets;
	const struct lc_asset_market *assets;
	double default_rho;		/* correlation for missing pairs */
	const double *rho;		/* nassets x nassets, row-major; NULL: default */
};

struct lc_params {
	double horizon_days;		/* default 1 */
	double tail_dof;		/* default 4; 0: normal */
	double threshold_bps;		/* cascade_threshold_bps, default 100 */
	double depth_scale;		/* default 1 */
	int include_market_levels;	/* default 1 */
	uint32_t paths;			/* default 20000; 0: lc_score skips
					 * the Monte Carlo pass (needs_mc) */
	uint32_t steps;			/* default 16 */
	uint64_t seed;			/* default 1 */
	unsigned threads;		/* Monte Carlo threads, 0: 1 */
};

void lc_params_default(struct lc_params *p);

struct lc_request {
	struct lc_params params;
	const struct lc_position *pos;
	size_t npos;
	const double *price;	/* effective P per asset (overrides applied) */
	const double *vol;	/* effective sigma per asset */
};

enum lc_method {
	LC_EXACT = 0,
	LC_MONTE_CARLO
};

struct lc_liq_result {
	uint32_t asset;
	enum lc_dir dir;
	double price;		/* static; NAN null */
	double effective_price;	/* NAN null (coupled loans, none) */
	double distance_pct;	/* NAN null */
};

struct lc_pos_result {
	enum lc_pos_type type;
	double health_factor;	/* NAN: null (no debt); perps: unused */
	int liquidatable;
	double common_move_pct;	/* NAN: null; perps: unused */
	size_t nlp;
	struct lc_liq_result *lp;	/* points into the result's storage */
	double p_liq;
	double p_liq_static;
	enum lc_method method;
	double std_error;
	double std_error_static;
	double exp_slip_bps;	/* NAN null */
	double exp_slip_quote;	/* NAN null */
	double unwind_bps;	/* NAN null */
	double unwind_quote;	/* NAN null */
};

struct lc_dir_result {
	double cascade_prob;
	double trigger_price;	/* NAN: null */
	double qty_to_10pct;
	double depth_2pct;
	int depth_exhausted;
};

struct lc_market_result {
	uint32_t asset;
	struct lc_dir_result dir[2];	/* [LC_DOWN], [LC_UP] */
};

struct lc_portfolio_result {
	double p_any;
	double p_any_se;
	double cascade_prob;
	double cascade_prob_se;
	double exp_slip_quote;
	enum lc_method method;
};

enum lc_warning_code {
	LC_W_STALE_LEVELS = 0,
	LC_W_MISSING_DEPTH,
	LC_W_CORRELATION_SHRUNK,
	LC_W_IGNORED_FIELD,
	LC_W_POOL_PRICE_MISMATCH,
	LC_W_STALE_DEPTH
};

struct lc_warning {
	enum lc_warning_code code;
	int64_t asset;		/* -1: none */
	int side;		/* enum lc_side, -1: none */
	int64_t count;		/* -1: none */
	int64_t position;	/* position index for ignored_field, -1: none */
};

struct lc_score_result {
	size_t npos;
	struct lc_pos_result *pos;
	size_t nmarkets;
	struct lc_market_result *markets;	/* each volatile asset, by first appearance */
	struct lc_portfolio_result portfolio;
	size_t nwarn;
	struct lc_warning *warn;
	/*
	 * Set when the request needs Monte Carlo (a coupled loan, or
	 * single-asset positions on several assets or in both directions).
	 * lc_score then leaves NAN, with method LC_MONTE_CARLO: the
	 * portfolio's p_any, cascade_prob, their std errors and
	 * exp_slip_quote, and each coupled loan's p_liq, p_liq_static,
	 * std_error, std_error_static, exp_slip_bps and exp_slip_quote;
	 * then, unless params.paths is 0, lc_score calls lc_mc_score()
	 * (mc.h) on the same result, which fills exactly those fields.  With
	 * paths 0 the caller may run lc_mc_score() itself later (e.g. on a
	 * compute pool).  Everything else (all exact per-position and
	 * per-market numbers) is final after the exact pass.
	 */
	int needs_mc;
	/* private storage */
	size_t lp_cap, pos_cap, mk_cap, warn_cap;
	struct lc_liq_result *lp_store;
	void *ws;		/* workspace reused across calls */
};

void lc_score_result_init(struct lc_score_result *r);
void lc_score_result_release(struct lc_score_result *r);

/*
 * Score a validated request (exact path).  LC_EINVAL for a precondition
 * violation the codec should have caught (index out of range, bad param,
 * a perp on a stable asset, stored levels not in cascade order); LC_ENOMEM.
 * Loan entries should be normalized (lc_entries_normalize) beforehand.
 *
 * Conventions where docs/model.md is silent:
 * - stale_levels: one warning per market asset (side -1) whose count is
 *   its stale sell plus stale buy levels; none with include_market_levels
 *   0 (the stored levels are not used at all then).
 * - missing_depth: one warning per missing side (bid and/or ask) of every
 *   market asset, since the answer reports both directions per market.
 * - depth_exhausted also counts the unwind fills (exact fills reported
 *   for that asset and direction).
 * - unwind_slippage: NAN for stable loans; a loan whose volatile assets
 *   net to zero gives 0 bps and 0 quote.
 * - A position liquidatable now with an empty ladder (nothing left to
 *   seize) reports effective price P, p 1 and slippage 0.
 * Warnings are ordered by market, then stale_levels, missing bid, ask.
 */
enum lc_status lc_score(const struct lc_market *m, const struct lc_request *req,
    struct lc_score_result *out);

#endif

/*
 * book_sim.h - a whole book under correlated price paths: the
 * distribution of its liquidated value and bad debt over the horizon
 * (docs/model.md 8.4, a project extension; POST
 * /v1/books/{book}/simulate).
 *
 * The book's positions are the request's positions (req->pos); the
 * market m must not hold the book's own derived levels (the caller
 * leaves them out, docs/model.md 8.4), so that their sales feed the
 * cascades once, as request triggers.  The paths, their cascades and
 * coupled loans are those of the Monte Carlo engine (mc.h, docs/model.md
 * 4.2 and 5.2), which records per path:
 *   liquidated value  the collateral value seized by the steps that
 *                     happened on the path (every asset, valued at the
 *                     fill prices: a single-asset step that is trigger
 *                     j fills at e_j = m_j g(S_{j-1}) as in 8.2, at P
 *                     when at or beyond P; a coupled loan's step at its
 *                     crossing prices); a perp: size x fill price;
 *   bad debt          per loan max(0, debt value - collateral value) of
 *                     its account after the path's steps, at the path's
 *                     end prices P exp(x(T)) Gamma(T) (compound-v3: its
 *                     shortfall at absorption); perps 0;
 *   positions         positions with at least one step on the path.
 * Figures: mean ("expected") and its standard error sd / sqrt(paths)
 * (sd with the n - 1 divisor; 0 for one path), value at risk at q =
 * 0.95 and 0.99 and the quantiles of LC_BOOK_SIM_NQ: the empirical
 * quantile x_(ceil(q N)) of the N sorted per-path figures (the smallest
 * x with at least q N paths at or below it); p_any_liquidation, the
 * share of paths with a liquidated position, and its standard error.
 * Sums are taken in path order, so the answer depends on (market,
 * request, seed) only, never on req->params.threads.
 *
 * Cost: that of lc_mc_estimate() (mc.h) plus O(paths log paths) for the
 * quantiles and, per path, O(request steps whose bad debt depends on the
 * end price) for the bad debt.
 * Single-asset positions are cascade triggers (O(log) per path); coupled
 * loans that no price can liquidate (lc_book_sim_reachable() false) are
 * left out of the simulation.
 *
 * Ownership: m and req are borrowed and only read; *out owns nothing
 * (plain numbers).
 */
#ifndef CASCADE_BOOK_SIM_H
#define CASCADE_BOOK_SIM_H

#include "cascade/common.h"
#include "cascade/score.h"

#define LC_BOOK_SIM_NQ 6	/* quantiles 0.5 0.75 0.9 0.95 0.99 0.999 */

struct lc_book_sim_fig {
	double expected;
	double std_error;
	double var95, var99;
	double q[LC_BOOK_SIM_NQ];
	double max;
};

struct lc_book_sim {
	uint32_t paths;
	struct lc_book_sim_fig value;		/* liquidated_value */
	struct lc_book_sim_fig bad_debt;
	struct lc_book_sim_fig positions;	/* liquidated positions */
	double p_any, p_any_se;
	uint64_t walked;	/* paths walked step by step */
	uint64_t skipped;	/* (walked path, coupled loan) pairs proved
				 * safe up front (mc.h) */
	size_t coupled;		/* coupled loans simulated */
	size_t unreachable;	/* coupled loans left out (never liquidated) */
	size_t singles;		/* single-asset positions (triggers) */
	int shrunk;		/* correlation_shrunk */
	double cost;		/* the cost bound's figure (lc_book_sim()) */
};

extern const double lc_book_sim_q[LC_BOOK_SIM_NQ];

/*
 * Can some positive prices liquidate loan l (HF <= 1)?  False only when
 * it has no volatile debt and its stable collateral alone keeps HF above
 * 1 (or it has no debt): then no path can reach it, and it costs
 * nothing.  Perps and single-asset loans: true.
 */
int lc_book_sim_reachable(const struct lc_position *p, const double *price,
    const double *vol);

/*
 * paths * steps * (volatile assets of req's positions, unreachable loans
 * left out): the part of the cost bound known before any path is drawn
 * (a caller's early check; lc_book_sim() adds the loans).
 */
double lc_book_sim_cost(const struct lc_request *req, size_t nassets);

/*
 * Simulate (see the top of this file).  The cost bound: paths * steps *
 * (volatile assets + u), u the mean number of coupled loans per path of
 * the first chunk that the engine cannot prove safe up front (mc.h,
 * lc_mc_estimate_bounded); above max_cost (HUGE_VAL: none) nothing is
 * run and LC_ELIMIT is returned, out->cost holding the figure.
 * LC_EINVAL on the preconditions of lc_mc_estimate(), LC_ENOMEM.  A
 * request without a volatile position gives zeros (paths still echoed).
 */
enum lc_status lc_book_sim(const struct lc_market *m,
    const struct lc_request *req, double max_cost, struct lc_book_sim *out);

#endif

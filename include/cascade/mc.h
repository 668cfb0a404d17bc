/*
 * mc.h - the Monte Carlo engine: coupled loans and portfolio-wide figures
 * over correlated price paths (docs/model.md 3.1 coupled mechanics, 4.2, 5.2, 5.3,
 * 6 coupled slippage).
 *
 * lc_mc_score() is what lc_score() calls, after the exact path has filled
 * every single-asset position and every market's exact figures, when the
 * request needs the joint law (a coupled loan, several volatile assets, or
 * both directions).  It fills each coupled loan's p_liq, p_liq_static,
 * standard errors, method, expected slippage (and the exact unwind
 * slippage when still NAN), and the portfolio block; it appends a
 * correlation_shrunk warning to out->warn when R had to be shrunk.
 * Single-asset positions and markets are left untouched.
 *
 * The answer depends on (request, market, seed) only: paths are cut into
 * chunks of LC_MC_CHUNK, chunk c draws from stream (seed, c), and
 * floating-point sums are added in chunk order, so any thread count
 * (req->params.threads, 0 or 1: the calling thread only) gives the same
 * bits.
 *
 * Ownership: m and req are borrowed and only read (the market may be
 * shared between threads).  Workspace is allocated per call and freed
 * before return; nothing is allocated per path.  The warning appended to
 * out->warn grows the array with realloc() and out->warn_cap, the same
 * discipline as score.c.
 *
 * Cost: setup is O(triggers) per call (the cascades of every involved
 * asset and direction are borrowed from lc_score()'s exact pass, or
 * rebuilt when called directly, stored levels included); a path costs
 * O(steps * assets) to draw, plus, when its coupled loans cannot be
 * proved safe up front, O(steps * (assets + coupled loans)) to walk and
 * O(log) per jump of a cascade; fired counts of paths that are not walked
 * are settled against the thresholds the answer reads, not trigger by
 * trigger (mc_walk.c, "Paths that need no walk").  Threads: the paths
 * are split into chunks run on up to req->params.threads POSIX threads
 * (mc_thread.c); the calling thread takes part.
 */
#ifndef CASCADE_MC_H
#define CASCADE_MC_H

#include "cascade/common.h"
#include "cascade/score.h"

/* Paths per chunk (one generator stream each).  Part of the answer. */
#define LC_MC_CHUNK 512

/* Flags of lc_mc_estimate(). */
#define LC_MC_ALL_POSITIONS 1u	/* also estimate single-asset positions
				 * and every involved market direction
				 * (tests: MC against the exact engine) */
#define LC_MC_NO_PRUNE 2u	/* walk every path step by step with exact
				 * fired counts: the engine without its
				 * shortcuts (tests: the same answer) */
#define LC_MC_BOOK_LOSS 4u	/* per path: liquidated value, bad debt
				 * and liquidated positions of the
				 * request's positions (book_sim.h) */
#define LC_MC_NO_PARK 8u	/* no loan parked on walked paths (every
				 * proved loan proved again when a fill
				 * touches its assets): the same answer,
				 * slower (bench: the ratio) */

/*
 * Raw estimates.  Arrays are owned by the struct: lc_mc_stats_init() /
 * lc_mc_stats_release() (release accepts a zeroed or half-built struct).
 * Per position i < npos: p_liq[i], p_liq_static[i], slip_bps[i],
 * slip_quote[i]: NAN where not estimated (single-asset positions without
 * LC_MC_ALL_POSITIONS, stable loans; p_liq_static of single-asset
 * positions; slippage of a loan never liquidated).  cascade[2 a + dir]:
 * share of paths with a cascade event on market asset a and direction
 * dir; NAN for assets not involved or (without the flag) not exposed.
 */
struct lc_mc_stats {
	size_t npos;
	size_t nassets;
	double *p_liq;
	double *p_liq_static;
	double *slip_bps;
	double *slip_quote;
	double *cascade;
	double p_any;
	double cascade_any;	/* event on an exposed (asset, direction) */
	uint32_t paths;
	uint64_t walked;	/* paths whose loans were walked step by step
				 * (the others were proved safe up front) */
	uint64_t skipped;	/* (walked path, coupled loan) pairs whose
				 * loan was proved safe on that path up
				 * front: not judged while no loan trades
				 * its assets */
	uint64_t parked;	/* of those, the pairs proved with room to
				 * spare: not visited at all while the
				 * path's fills move the bounds by less
				 * than that room */
	uint64_t unparked;	/* walked paths on which the fills moved
				 * the bounds by the room (every parked
				 * loan proved again from then on) */
	int shrunk;		/* R was shrunk (correlation_shrunk) */
	size_t ninvolved;	/* volatile assets simulated */
	size_t ncoupled;	/* coupled loans */
	/*
	 * LC_MC_BOOK_LOSS (else NULL): per path p < paths, the request's
	 * liquidated value, bad debt and liquidated positions (book_sim.h
	 * defines them); owned like the other arrays.
	 */
	double *path_value;
	double *path_bad_debt;
	uint32_t *path_nliq;
};

void lc_mc_stats_init(struct lc_mc_stats *s);
void lc_mc_stats_release(struct lc_mc_stats *s);

/*
 * Run the simulation of docs/model.md 4.2 / 5.2 for req against m and write the
 * estimates to *st (its arrays are (re)allocated to req->npos and
 * m->nassets).  LC_EINVAL on a precondition violation (asset index out of
 * range, paths or steps 0, nu in (0, 2]), LC_ENOMEM.
 */
enum lc_status lc_mc_estimate(const struct lc_market *m,
    const struct lc_request *req, unsigned flags, struct lc_mc_stats *st);

/*
 * The same with a cost bound: after the model is built, a pilot over the
 * first chunk's paths (mc_walk.c, nothing walked) measures u, the mean
 * number of coupled loans per path that the up-front bound does not
 * prove safe; when paths * steps * (simulated assets + u) exceeds
 * max_cost the run is not made: LC_ELIMIT.  *cost receives that figure
 * (0 before the pilot).  The answer is the same as lc_mc_estimate()'s.
 */
enum lc_status lc_mc_estimate_bounded(const struct lc_market *m,
    const struct lc_request *req, unsigned flags, double max_cost,
    double *cost, struct lc_mc_stats *st);

/*
 * The scoring entry point (see the top of this file).  out must already
 * hold req->npos position results (filled by the exact path).
 */
enum lc_status lc_mc_score(const struct lc_market *m,
    const struct lc_request *req, struct lc_score_result *out);

/*
 * Cholesky factor of a correlation matrix with docs/model.md 5.2 rule: pivots
 * below 1e-12 count as zero, a pivot below -1e-9 (or a residual above 1e-6
 * against a zero pivot) means not PSD, and then every off-diagonal entry
 * of r is multiplied by 0.9, at most 200 times.  r (n x n, row-major,
 * unit diagonal) is shrunk in place; l (n x n) receives the lower factor.
 * Returns the number of shrinks applied (0: R was PSD), or -1 when 200
 * did not suffice (cannot happen for |r_ab| <= 1).
 */
int lc_mc_cholesky(double *r, double *l, size_t n);

#endif

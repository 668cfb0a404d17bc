/*
 * mc_int.h - internals of the Monte Carlo engine shared by its files
 * (private to the model library: score.c and mc*.c; not for adapters nor
 * for the public include/cascade/mc.h).
 *
 * The engine is split by temperature:
 *   mc.c        the public entry points of mc.h: build, run, sum up;
 *   mc_build.c  cold, once per call: the model compiled from a request
 *               (assets, Cholesky, coupled loans, cascades and their
 *               per-path tables) and the per-worker workspaces;
 *   mc_walk.c   hot, per path: the draw, the shortcuts and the walk, in
 *               one translation unit so that its static helpers inline;
 *   mc_thread.c the chunks on POSIX threads.
 * The numbers of each step are described atop the file that computes them.
 *
 * Ownership: struct mc_model owns every array it points to (mc_model_free()
 * releases a zeroed, half-built or complete model, workspaces included);
 * a workspace's arrays are owned by the workspace.  The cascades an mc_ad
 * borrows from lc_score() (lc_mc_prebuilt) are only read.
 */
#ifndef CASCADE_MC_INT_H
#define CASCADE_MC_INT_H

#include "cascade/mc.h"
#include "cascade/cascade.h"
#include "cascade/position.h"
#include "cascade/rng.h"

#include <stddef.h>
#include <stdint.h>

#define NONE ((size_t)-1)
#define HZ_PER 8		/* hz[] entries per unit of z */
#define HZ_N 304		/* hz[] covers z = 0 .. -38 (U clamp beyond) */

/*
 * lc_score() runs the Monte Carlo pass with the cascades its exact pass
 * has just built for the same (market, request): the triggers of docs/model.md 4.1
 * are the same, so the engine borrows them instead of rebuilding them
 * (O(levels) per asset and direction saved on every call).  pre->cascade
 * returns the cascade of (asset, dir), or NULL when it has none (then
 * everything is rebuilt), and the index k* of lc_cascade_trigger() at
 * params.threshold_bps (SIZE_MAX: none); pre->first the merged index of a
 * single-asset position's first ladder step (SIZE_MAX: empty ladder).
 * Both are only valid during the call.  With pre NULL this is
 * lc_mc_score().
 */
struct lc_mc_prebuilt {
	const void *ctx;
	const struct lc_cascade *(*cascade)(const void *ctx, uint32_t asset,
	    enum lc_dir dir, size_t *kstar);
	size_t (*first)(const void *ctx, size_t pos);
	/*
	 * May be NULL, or return NULL: the snapshot's base whose own
	 * cascade (&base->c) pre->cascade lends, when it does: the engine
	 * then borrows the base's tables too (ln(m_k / P) when P is the
	 * base's p0, g(S_k), the bucket index) instead of O(levels) work.
	 */
	const struct lc_cascade_base *(*base)(const void *ctx, uint32_t asset,
	    enum lc_dir dir);
};

enum lc_status lc_mc_score_prebuilt(const struct lc_market *m,
    const struct lc_request *req, const struct lc_mc_prebuilt *pre,
    struct lc_score_result *out);

/* One involved asset and direction. */
struct mc_ad {
	const struct lc_cascade *c;	/* &own, or lc_score()'s (below) */
	struct lc_cascade own;
	const struct lc_cascade_base *base;	/* c's base, or NULL */
	int borrowed;		/* lm, gk, kb are the base's: not freed */
	double *lm;		/* ln(m_k / P), k = 0..n (E = 0 thresholds) */
	double *gk;		/* g(S_k), k = 0..n (assets of coupled loans) */
	uint32_t *kb;		/* bucket index of lm (see kfind), nb + 1 */
	size_t nb;
	double binv;		/* buckets per unit of ln price */
	enum lc_side side;
	double b0;		/* threshold of trigger 1 at E = 0 */
	size_t kstar;		/* event at E = 0 iff k >= kstar; NONE */
	size_t minfirst;	/* smallest first-step index of a single */
	int exposed;
	size_t hoff;		/* histogram offset (LC_MC_ALL_POSITIONS) */
	/*
	 * LC_MC_BOOK_LOSS (else NULL / 0): lv[k] the value liquidated by
	 * the request's steps among triggers 1..k, nl[k] the positions
	 * whose first step is among them, bs the request's steps in
	 * trigger order whose account's bad debt depends on the end price
	 * (mc_bstep), bc[k] the bad debt of the others (a constant per
	 * step) over the positions whose last fired step it is.
	 */
	double *lv, *bc;
	uint32_t *nl;
	size_t nbs;
	struct mc_bstep *bs;
};

/*
 * A request step that is trigger t + 1 (t 0-based) of its cascade: once
 * it has fired and the position's next step (trigger next + 1; NONE:
 * none) has not, the position's bad debt at the end price F of the asset
 * is s + max(0, a + b F) (lc_book_replay()).
 */
struct mc_bstep {
	size_t t, next;
	double a, b, s;
};

struct mc_asset {
	uint32_t idx;		/* market index */
	double P;
	double sigh;		/* sigma_h */
	int in_loan;		/* appears in a coupled loan */
	struct mc_ad ad[2];
};

/* A merged entry of a coupled loan. */
struct mc_entry {
	int v;			/* index in the loan's volatile list, -1 */
	uint32_t asset;		/* market index */
	uint32_t a;		/* involved asset when v >= 0 */
	double price;		/* P of a stable asset */
	double amount;
	double lt;
};

struct mc_loan {
	size_t pos;
	size_t ec, nc;		/* collateral entries ent[ec .. ec+nc) */
	size_t ed, nd;		/* debt entries */
	size_t ev, nv;		/* volatile assets va[ev .. ev+nv) */
	size_t co;		/* its nv x nv block of the path covariances */
	size_t go;		/* its 2 nv + 2 block of folded amounts */
	enum lc_protocol proto;
	double bonus, cf, flb;
};

/*
 * loan_safe()'s reading of a coupled loan, packed: ph[li] its head (its
 * volatile assets pf[ev .. ev+nv), constant terms A and B of agg0), pf
 * per volatile asset its folded collateral c and debt d (agg0).
 */
struct mc_ph {
	size_t ev, nv;
	double A, B;
};

struct mc_pf {
	uint32_t a;		/* involved asset */
	double c, d;
};

struct mc_single {
	size_t pos;
	uint32_t a;		/* involved asset */
	enum lc_dir dir;
	size_t first;		/* merged trigger index of step 1; NONE */
};

struct mc_ws;

struct mc_model {
	uint32_t paths, steps;
	uint64_t seed;
	double nu, thr, scale;
	unsigned flags;
	size_t n;
	struct mc_asset *as;
	double *R, *L;
	size_t nloan;
	struct mc_loan *loan;
	size_t nent;
	struct mc_entry *ent;
	double *amt0;		/* nent original amounts */
	size_t nagg;		/* sum of 2 nv + 2 over coupled loans */
	double *agg0;		/* folded amt0 (loan_fold()) */
	size_t nva;
	uint32_t *va;
	size_t maxnv, maxside;
	size_t ncov;		/* sum of nv^2 over coupled loans */
	size_t nsingle;
	struct mc_single *single;
	size_t nhist;
	/*
	 * need_z[dir]: some minimum (LC_DOWN) or maximum (LC_UP) of the path
	 * can matter: an asset with triggers in that direction, or a coupled
	 * loan with volatile collateral (debt), whose V reads Z (Z').
	 * Otherwise e' (e'') is not drawn.
	 */
	int need_z[2];
	size_t *ntrig;		/* 2n: triggers of (a, dir) (may_fire) */
	size_t ne;		/* e, e' and e'' drawn as one block: n..3n */
	int any_now;
	int shrunk;
	size_t nchunks;
	double *chunk_slip;	/* nchunks x nloan x 2 (bps, quote) */
	struct lc_ziggurat zig;
	double exp2j[64];	/* 2^(j/64), fast_exp() */
	/*
	 * hz[i] >= sqrt(-ln Phi(-i / HZ_PER) / 2) (U clamped as ln_phi()):
	 * a bridge's excursion below its lower end is at most s hz[] (see
	 * loans_safe()).  cs_ok: L L^T reproduces R to rounding, so the
	 * Cauchy-Schwarz bound on a loan's V / sd(V) holds.
	 */
	double hz[HZ_N + 1];
	int cs_ok;
	/* per asset: lb (ub) is read: in a coupled loan, or has triggers */
	unsigned char *need_lb, *need_ub;
	/*
	 * amask: per involved asset, a bitmap (nlw words) of the coupled
	 * loans holding it (step_rounds()'s candidates)
	 */
	size_t nlw;
	uint64_t *amask;
	struct mc_ph *ph;	/* nloan */
	struct mc_pf *pf;	/* nva */
	size_t nws;
	struct mc_ws *ws;
	/* LC_MC_BOOK_LOSS outputs, per path (else NULL; lc_mc_stats's) */
	double *pv, *pb;
	uint32_t *pn;
};

struct mc_ws {
	struct lc_rng rng;
	double *e;		/* 2n: the block of Z and Zp */
	double *Z, *Zp;		/* n each: this step's (replay()) */
	double *xs;		/* n x (steps + 1) log moves */
	double *zs, *zps;	/* n x steps */
	double *s;		/* step sigma per asset */
	double *lo, *hi;	/* running extremes known so far */
	double *lb, *ub;	/* bounds of the path's extremes (loans_safe) */
	double *eb;		/* 3n x steps: the path's normals */
	double *dx;		/* steps: N of one asset */
	double *glo, *ghi;	/* bounds of Gamma on the path (loans_safe) */
	double *plo, *phi;	/* P exp(lb) glo and P exp(ub) ghi */
	double *certlo, *certhi;
	uint32_t *pendlo, *pendhi;	/* n x steps pending step indices */
	size_t *npendlo, *npendhi;
	unsigned char *curlo, *curhi;
	double *ex0, *ex1;	/* P exp(x) at step start and end */
	size_t *k;		/* 2n fired counts */
	double *E;		/* 2n extra volumes */
	double *b;		/* 2n next thresholds */
	double *gam;		/* n */
	double *gd;		/* 2n: g(E + S_k) per direction */
	uint64_t *gver;		/* n: bumped whenever gam changes */
	uint64_t *jver;		/* per loan: version at its last judgment */
	uint32_t *jt;		/* per loan: step + 1 of a no-crossing verdict
				 * (0: none) */
	double *amt;		/* nent current amounts */
	double *agg;		/* folded amt */
	unsigned char *liq, *sliq, *dead;
	/*
	 * per loan, on a walked path: proved safe up front (loans_mark());
	 * not judged while no loan trades its assets (E = 0 on them)
	 */
	unsigned char *lsafe;
	/*
	 * ever[a]: bumped when E of asset a changes; bver[a]: the ever[a]
	 * its bounds glo / ghi were computed at; hr: the path's excursion
	 * factor of loans_safe()
	 */
	uint64_t *ever, *bver;
	double hr;
	/* a ratio A / B above which loan_safe() holds at hr (safe_cut()) */
	double qsafe;
	/*
	 * cand: bitmap of the loans step_rounds() visits: those not proved
	 * safe, and the proved ones an E of whose assets changed since
	 * their last proof (fill() adds amask[a]); the others are skipped
	 * (loan_skipped() would return 1 at once)
	 */
	uint64_t *cand;
	/*
	 * park: bitmap of the loans proved at loans_mark() with room to
	 * spare (loan_safe() == 2): they stay out of cand whatever fill()
	 * does while the drift of the bounds, dprod = prod_a fdr[a] (fdr[a]
	 * = max(1, plo0/plo) max(1, phi/phi0), plo0 / phi0 the bounds at the
	 * mark), stays below the room (park_room()); pmask: the loans fill()
	 * may put back in cand (not parked, not finished)
	 */
	uint64_t *park, *pmask;
	double *plo0, *phi0, *fdr, dprod;
	size_t nparked;
	double qpark;		/* the ratio A / B of a parked loan */
	uint32_t *nsteps;
	double *dfirst;
	double *cov;		/* per loan R_uv s_u s_v of this path */
	uint64_t *covs;		/* per loan: walk (nwalk) its cov is of */
	uint64_t nwalk;		/* replay() calls so far */
	double *w, *cw, *kk, *p0, *p1, *q, *ca, *da;	/* maxnv scratch */
	double *cas, *das;	/* maxnv scratch of judge_both() */
	size_t *ord;		/* maxside scratch */
	uint32_t t;		/* current step */
	/* first-step slippage accumulators of the loan being stepped */
	double fill_num, fill_den, fill_quote;
	/* counts */
	uint64_t *cnt_liq, *cnt_sliq, *cnt_ev, *hist;
	uint64_t cnt_any, cnt_casc;
	uint64_t cnt_walk;	/* paths walked step by step (replay()) */
	uint64_t cnt_skip;	/* (walked path, loan) pairs proved safe */
	uint64_t cnt_park;	/* of those, parked (loans_mark()) */
	uint64_t cnt_unpark;	/* walked paths whose drift unparked */
	/* LC_MC_BOOK_LOSS: coupled loans' value seized, shortfalls */
	double bval, bbad;
};

static inline int
mc_vol_of(const struct lc_request *req, uint32_t a)
{
	return req->vol[a] > 0.0;
}

/* mc_build.c */

/*
 * Compile req against m into *md (zeroed first): LC_EINVAL on a
 * precondition violation of lc_mc_estimate(), LC_EDOMAIN when R cannot be
 * shrunk to PSD, LC_ENOMEM.  On failure *md may be half built: release it
 * with mc_model_free() in every case.
 */
enum lc_status mc_model_build(struct mc_model *md, const struct lc_market *m,
    const struct lc_request *req, unsigned flags,
    const struct lc_mc_prebuilt *pre);

/*
 * One workspace per worker: min(threads, chunks) of them (md->nws, md->ws).
 * LC_ENOMEM leaves the ones made so far for mc_model_free().
 */
enum lc_status mc_model_workspaces(struct mc_model *md, unsigned threads);

void mc_model_free(struct mc_model *md);

/* mc_walk.c */

/*
 * The walk's own tables of a model being built: exp2j (fast_exp()), hz
 * (loans_safe()), and agg0, the folded original amounts of every coupled
 * loan (md->agg0 allocated, md->loan and md->amt0 filled).
 */
void mc_walk_tables(struct mc_model *md);

/*
 * The cost pilot (lc_mc_estimate_bounded()): on the paths of chunk 0
 * (drawn on workspace 0 from the same stream, nothing walked), the mean
 * number of coupled loans that the bound of loans_safe() does not prove
 * safe one by one on a path (0 on a path proved safe whole).
 */
double mc_pilot(const struct mc_model *md);

/* The paths of chunk `chunk` on workspace `worker` (mc_chunk_fn, ctx: md). */
void mc_chunk_run(void *ctx, size_t worker, size_t chunk);

#endif

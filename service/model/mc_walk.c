/*
 * mc_walk.c - the hot path of the Monte Carlo engine: one correlated price
 * path at a time, its cascades and coupled loans (docs/model.md 3.1 coupled
 * mechanics, 4.2, 5.3, 6).  Everything the paths read is compiled
 * beforehand by mc_build.c (mc_int.h): the involved assets and the
 * Cholesky factor L of their correlations, the coupled loans, the
 * cascades with their per-path tables, and per-worker workspaces that
 * hold all per-path state (nothing is allocated per path).  The walk is
 * one translation unit so that its static helpers inline.
 *
 * Design
 * ------
 * Paths.  W ~ chi2(nu) once per path (normal: none), f = sqrt((nu-2)/W)
 * (normal: 1), step sigma s_a = sigma_h,a f / sqrt(steps).  Per step three
 * iid normal vectors e, e', e'' give N = L e, Z = L e', Z' = L e'', the
 * log price moves x1 = x0 + s_a N_a, and the Brownian bridge extremes
 *   min = (x0 + x1 - sqrt((x1 - x0)^2 - 2 s^2 ln U)) / 2,   U = Phi(Z),
 *   max = (x0 + x1 + sqrt((x1 - x0)^2 - 2 s^2 ln U')) / 2,  U' = Phi(Z'),
 * U clamped into [1e-300, 1).  Conditionally on W the running minimum of
 * x is then exactly that of a Brownian motion, whose law given W is
 * P(min <= b) = 2 Phi(b / (sigma_h f)); mixing over W gives 2 F_r(b) of
 * docs/model.md 5 for every number of steps.
 *
 * Paths that need no walk.  A path is drawn whole first (draw_path(): the
 * normals of every step in the order a step-by-step walk draws them, so
 * the answer does not depend on what follows).  Most paths of a healthy
 * loan never come near its liquidation, and a walk (judging every loan
 * at every step) would only confirm it.  loans_safe() proves it instead
 * from bounds: each asset's extremes (the end points of its steps, minus
 * (plus) the largest Brownian-bridge excursion its Z (Z') allows, from a
 * table of sqrt(-ln Phi(-v) / 2)), Gamma at those extremes with E = 0,
 * and each loan's health bridge (Cauchy-Schwarz on V / sd(V)); see its
 * comment for the argument.  When every loan clears 0 by a margin, no
 * loan steps, E stays 0 on the path, and each asset's fired count is the
 * 4.1 count at its path extreme.  The records read only whether it
 * reaches k* (cascade event) and a single's first step, so settle_fast()
 * tests just those thresholds, whose bridges the bound of
 * bridge_misses() nearly always dismisses, however dense the levels
 * are.  Other paths are walked (replay()) exactly as below, except
 * that a loan the same bound proves safe on its own (loans_mark()) is
 * not judged; when a loan trades one of its assets (E changes), it is
 * proved again with the bounds of the new volumes (bounds_with_volume(),
 * loan_skipped()) or judged from then on.  A walk's rounds visit only
 * the loans of a bitmap (w->cand): those not proved safe, and the proved
 * ones whose asset a fill has touched since their proof (fill() ORs the
 * asset's bitmap of loans, md->amask); a proved loan left out would be
 * skipped at once, so the visits and their order are those of a loop
 * over every loan.  A loan proved with room to spare (its ratio A / B
 * at least e^PARK_ROOM above what the proof needs) is parked: fill()
 * leaves it out of cand while the product of the path's bound drifts
 * stays below that room (park_drift()), since it would be proved again
 * at once; a loan liquidated to its end (dead, its static figure
 * liquidated too) leaves cand for the rest of the path.  The proof
 * itself reads P exp(lb) glo and P exp(ub) ghi per asset once (plo /
 * phi) and takes a log only when the ratio A / B lies between 1 and
 * safe_cut()'s bound for the path.  A loan's path covariances are made
 * at its first judgment that needs them (loan_cov()).  The shortcuts
 * give the same bits as walking every path with exact fired
 * counts (LC_MC_NO_PRUNE, which the tests compare against).  Skipping
 * the provably safe steps inside a walk was tried and measured: the
 * cascades then catch up at the next judged step at nearly the same
 * cost (within 5 % of instructions), so walks judge every step.
 *
 * Lazy extremes.  Only comparisons "running min <= b" are ever needed
 * (b = ln(l_{k+1} / (P g(E + S_k))) for the next trigger of a cascade),
 * and the bridge of a step crosses b iff ln U <= -2 (x0 - b)(x1 - b) / s^2
 * (both ends above b).  A table of ln Phi at z = 0, -0.5, ..., -8 bounds
 * ln U from below (Phi is increasing; U >= 1e-300 beyond), so most steps
 * are proved to stay above b without Phi, log or sqrt (bridge_misses):
 * they are left "pending" with certificate b.  That first test is inlined
 * in the loops (may_fire), so the common "nothing can fire" costs no
 * call.  b can later rise (E grows
 * on an asset of a coupled loan); a query with b above the smallest
 * pending certificate first computes every pending step's minimum from
 * the stored (x0, x1, Z).  So the running minimum is exact whenever it
 * matters and the answer is the same as computing every bridge.  Maxima
 * mirror this.  Assets outside every coupled loan keep E = 0 and nobody
 * reads their cascade during the path: their fired counts are settled
 * once at the path's end (settle()).
 *
 * Cascades (docs/model.md 4.2 step 1).  Per asset and direction: the 4.1 triggers
 * (stored non-stale levels then single-asset ladder steps, stable order),
 * fired count k (only grows), extra volume E from coupled loans.  Fire the
 * next trigger while l_{k+1} >= P exp(runmin) g(E + S_k), i.e. runmin <= b.
 * With E = 0 this is 4.1 itself: given p <= m_k, trigger k+1 fires iff
 * p <= m_{k+1}, so thresholds are ln(m_k / P) (precomputed) and a jump is
 * a galloping search, O(log jump).  With E > 0 the triggers are tested in
 * price space (l_{k+1} >= p g(E + S_k), p = P exp(known extreme): one exp
 * per batch instead of a log per trigger), and every trigger priced
 * beyond p g(E + S_k) of a passing one passes too (g_bid only falls with
 * volume), so a galloping search over the prices jumps them
 * (fire_with_volume()).
 * Gamma_a = g_bid(E_down + S_down) g_ask(E_up + S_up) (both directions, as
 * docs/model.md 4.2 says), kept as the product of the two cached factors.
 *
 * Coupled loans (4.2 step 2), with p_a = P_a exp(x_a) Gamma_a:
 *   y = ln(sum_i c_i p_i LT_i) - ln(sum_j d_j p_j)  (y0 step start, y1 end)
 *   w_a = c_a p_a LT_a / sum_i c_i p_i LT_i - d_a p_a / sum_j d_j p_j
 *   C_ab = R_ab s_a s_b, s_y^2 = w'Cw, k_a = (Cw)_a / s_y^2
 *   V = sum_{w_a>0} w_a s_a Z_a + sum_{w_a<0} |w_a| s_a Z'_a,
 *   sd(V)^2 = sum_{w_a,w_b>0} w_a w_b C_ab + sum_{w_a,w_b<0} w_a w_b C_ab
 *   U_y = Phi(V / sd(V)),  y_min from the bridge formula (s_y = 0:
 *   min(y0, y1)).
 * If y_min <= 0 a ladder step happens at the crossing prices
 * p_a exp(k_a (y_c - y1)), y_c = max(y_min, min(y0, 0)).  The loan is then
 * judged again with its new amounts (its new liquidation price: the next
 * ladder step) while y_min <= ln(1 + 1e-12), at most 64 steps per path
 * step.  A step in value terms (docs/model.md 3.1): R = cf * debt value (aave-v3:
 * cf = 1 below full_liquidation_below), seize R (1 + bonus): volatile
 * collateral by decreasing value (sold: E_down), then stable pro rata; all
 * collateral when too small (repay = seized / (1 + bonus), the rest is bad
 * debt, the loan ends).  Repay volatile debt by decreasing value (bought:
 * E_up), then stable pro rata.  compound-v3 absorbs: all volatile
 * collateral is sold, nothing is bought, the loan ends.  The loan also
 * ends when no collateral value is left or its debt value falls below
 * 1e-9 of the value at its first step.  After a loan's steps its assets'
 * cascades advance again; rounds repeat until nothing new happens.
 * The static figure judges the original amounts with every Gamma = 1.
 * Loans are pruned like bridges: y >= 2 (HF - 1) / (HF + 1) bounds y
 * from below (HF >= 1), s_y <= sum_a (c_a p_a LT_a / A + d_a p_a / B) s_a,
 * and V >= 0 gives U_y >= 1/2, so most healthy loans are judged without
 * logs or the O(nv^2) covariance sums; a verdict is reused within a step
 * while neither the amounts nor the Gamma of the loan's assets changed.
 * A loan's amounts are folded per volatile asset (loan_fold: sum c LT,
 * sum d, stable values) and refolded after each of its ladder steps.  The
 * static judgment reads nothing a round changes, so it is made in the
 * first round of the step, in one pass with the loan's first judgment
 * while the loan is untouched (judge_both).
 *
 * Readings of docs/model.md where it is terse:
 * - "while its HF there is <= 1 + 1e-12": after each ladder step the loan
 *   is judged again on the same bridge with its new amounts (its health
 *   at its worst moment), and steps go on while y_min <= ln(1 + 1e-12).
 *   HF evaluated at the first crossing prices would, through the
 *   linearization p_a exp(k_a (y_c - y1)), sometimes read 1 + 1e-9 at a
 *   genuine crossing and skip a liquidation.
 * - A loan's own sales and purchases update E and Gamma at once (its
 *   next judgment sees them); triggers advance after its steps.
 * - With E > 0 "l_{k+1} >= p g(E + S_k)" is tested as written (price
 *   space); the log-space threshold of the next trigger is the same test
 *   up to rounding.
 * - A round in which no loan stepped ends the path step (cascades are at
 *   their fixed point after step 1 and loans were judged after it).
 * - Fill price px_f: the crossing price of the asset (Gamma included).
 *   A liquidated path whose first step has zero notional (stable
 *   collateral only, compound absorb of a volatile debt) counts with 0.
 * - Stable debt is repaid pro rata, like stable collateral is seized.
 * - compound-v3 absorb of a coupled loan: volatile collateral sold, no
 *   purchase, the loan ends.  Bad debt also ends the loan.
 * - A loan with no collateral value is liquidated at once, with no fill.
 *
 * Book records (LC_MC_BOOK_LOSS, book_sim.h): exact fired counts
 * (settle()), the request's steps' value and bad debt by prefix sums
 * over the triggers (book_loss()), coupled loans' seized value and end
 * bad debt; stored per path index.
 *
 * Events and records.  A cascade event of (asset, dir) is
 * impact(E + S_k) >= threshold at the end of the path (E and S only grow,
 * impact is monotone).  Single-asset positions are liquidated when their
 * first ladder step has fired.  The first ladder step's fills of each
 * coupled loan give its slippage (docs/model.md 6).
 *
 * Determinism.  Chunk c of LC_MC_CHUNK paths draws from stream (seed, c)
 * (mc_chunk_run()); its slippage sums go to its own slot, which mc.c adds
 * in chunk order.
 *
 * Cost (instructions per asset-step, callgrind, the bench's case: 5
 * assets in one coupled loan at health 1.25 against 10 000 sell levels
 * each): about 215, of which the normals are 80 (two per asset-step,
 * about 35 each with the generator in registers, lc_rng_normals()), the
 * correlation and the log path about 60; under 1 % of the paths are
 * walked.  A walked path costs about 650 per asset-step: normals, exp
 * for the assets of coupled loans, erfc and log for the bridge extremes
 * that a trigger makes necessary, and the loans' judgments.  So a loan
 * near its liquidation (health 1.05: 59 % of paths walked) runs about 4
 * times slower than a healthy one (bench/README.md).
 */
#include "model/mc_int.h"
#include "cascade/curve.h"
#include "cascade/rng.h"
#include "model/curve_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define HF_SLACK_LOG 9.999999999995e-13	/* ln(1 + 1e-12) */
#define U_MAX_SF 1.1102230246251565e-16	/* U <= 1 - 2^-53 */
#define INV_SQRT2 0.70710678118654752440	/* as stats.c */
#define SAFE_MARGIN 1e-9	/* loans_safe(): y bound must clear 0 by it */
/*
 * loans_mark(): a loan proved with ln(A / B) at least PARK_ROOM above
 * safe_cut()'s ratio is parked (left out of the candidates) until the
 * bounds of the path's assets have drifted by that much (park_drift()).
 */
#ifndef PARK_ROOM
#define PARK_ROOM 0.05
#endif

enum { ST_FRESH = 0, ST_PENDING, ST_DONE };

/* ------------------------------------------------------------------ */
/* Path pieces */

/*
 * exp(x) for the prices P exp(x) of the assets of coupled loans, once per
 * asset and step (Tang's method): x = (64 m + j) ln2/64 + r, |r| <=
 * ln2/128, exp(x) = 2^m 2^(j/64) e^r with a degree-6 Taylor polynomial
 * (truncation below 1e-19 relative); within 2 ulp of libm's exp (checked
 * on 2e7 points in [-700, 700]).  Outside
 * |x| < 700 (overflow, underflow, NaN) libm's exp itself.
 */
static inline double
fast_exp(const struct mc_model *md, double x)
{
	const double inv = 92.332482616893656768;	/* 64 / ln 2 */
	const double hi = 1.083042469326756e-02;	/* ln2/64, 32 bits */
	const double lo = 2.9815858269852933e-12;	/* ln2/64 - hi */
	const double shift = 6755399441055744.0;	/* 1.5 * 2^52 */
	double t, kf, r, p, sc;
	int64_t k, j;
	uint64_t bits;

	if (!(fabs(x) < 700.0))
		return exp(x);
	t = x * inv + shift;
	kf = t - shift;		/* nearest integer to x 64 / ln 2 */
	k = (int64_t)kf;
	r = (x - kf * hi) - kf * lo;
	p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 +
	    r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
	j = k & 63;		/* two's complement: 0..63 */
	bits = (uint64_t)((k - j) / 64 + 1023) << 52;	/* 2^m, normal */
	memcpy(&sc, &bits, sizeof(sc));
	return md->exp2j[j] * p * sc;
}

/* ln U, U = Phi(z) clamped into [1e-300, 1 - 2^-53]. */
static double
ln_phi(double z)
{
	/* lc_norm_cdf / lc_norm_sf (stats.c) inlined: the same numbers */
	if (z < 0.0) {
		double u = 0.5 * erfc(-z * INV_SQRT2);

		return log(u > 1e-300 ? u : 1e-300);
	}
	{
		double sf = 0.5 * erfc(z * INV_SQRT2);

		return log1p(-(sf > U_MAX_SF ? sf : U_MAX_SF));
	}
}

/*
 * A certain lower bound of ln U = ln Phi(z) (clamped) from a table: Phi is
 * increasing, so z >= z_i gives ln U >= ln Phi(z_i) (values rounded
 * down).  A bridge from x0 to x1 with step sigma s reaches b only if
 * ln U <= -2 (x0 - b)(x1 - b) / s^2, so q = 2 (x0 - b)(x1 - b) >
 * -ln_phi_lb(z) s^2 proves it does not, without erfc, log or sqrt.
 */
static double
ln_phi_lb(double z)
{
	/* ln Phi(-i/2), i = 0..16, rounded down at the 7th decimal */
	static const double lp[] = { -0.6931472, -1.1759118, -1.8410217,
	    -2.7059445, -3.7831844, -5.0816483, -6.6077263, -8.3660654,
	    -10.3601015, -12.5924198, -15.0649984, -17.7793764, -20.7367690,
	    -23.9381495, -27.3843075, -31.0758910, -35.0134372 };
	double t = -2.0 * z;

	if (!(t > 0.0))
		return lp[0];
	if (!(t < 16.0))
		return -690.8;	/* U >= 1e-300 */
	return lp[(size_t)t + 1];	/* -(floor(t) + 1)/2 < z */
}

/* The step from x0 to x1 certainly stays on its side of b (see above). */
static inline int
bridge_misses(double x0, double x1, double b, double s, double z)
{
	double q = 2.0 * (x0 - b) * (x1 - b), s2 = s * s;

	if (q > 690.8 * s2)
		return 1;	/* whatever z */
	if (q <= 0.6931472 * s2)
		return 0;	/* no table entry can prove it */
	return q > -ln_phi_lb(z) * s2;
}

static double
bridge_min(double x0, double x1, double s, double z)
{
	double d = x1 - x0;

	return 0.5 * (x0 + x1 - sqrt(d * d - 2.0 * s * s * ln_phi(z)));
}

static double
bridge_max(double x0, double x1, double s, double z)
{
	double d = x1 - x0;

	return 0.5 * (x0 + x1 + sqrt(d * d - 2.0 * s * s * ln_phi(z)));
}

/* mirror of flush_hi() in mc_walk.c (upper tail): keep in step */
static void
flush_lo(const struct mc_model *md, struct mc_ws *w, size_t a)
{
	size_t i, S = md->steps;
	double s = w->s[a];

	for (i = 0; i < w->npendlo[a]; i++) {
		size_t t = w->pendlo[a * S + i];
		double mn = bridge_min(w->xs[a * (S + 1) + t],
		    w->xs[a * (S + 1) + t + 1], s, w->zs[a * S + t]);

		if (mn < w->lo[a])
			w->lo[a] = mn;
	}
	w->npendlo[a] = 0;
	w->certlo[a] = HUGE_VAL;
	if (w->curlo[a] == ST_PENDING)
		w->curlo[a] = ST_DONE;
}

/* mirror of flush_lo() in mc_walk.c (lower tail): keep in step */
static void
flush_hi(const struct mc_model *md, struct mc_ws *w, size_t a)
{
	size_t i, S = md->steps;
	double s = w->s[a];

	for (i = 0; i < w->npendhi[a]; i++) {
		size_t t = w->pendhi[a * S + i];
		double mx = bridge_max(w->xs[a * (S + 1) + t],
		    w->xs[a * (S + 1) + t + 1], s, w->zps[a * S + t]);

		if (mx > w->hi[a])
			w->hi[a] = mx;
	}
	w->npendhi[a] = 0;
	w->certhi[a] = -HUGE_VAL;
	if (w->curhi[a] == ST_PENDING)
		w->curhi[a] = ST_DONE;
}

/* mirror of above() in mc_walk.c: keep in step */
/* Is the running minimum of asset a (so far, this step included) <= b? */
static int
below(const struct mc_model *md, struct mc_ws *w, size_t a, double b)
{
	size_t S = md->steps, t = w->t;
	double x0, x1, s;

	if (w->lo[a] <= b)
		return 1;
	if (b > w->certlo[a]) {
		flush_lo(md, w, a);
		if (w->lo[a] <= b)
			return 1;
	}
	if (w->curlo[a] != ST_FRESH)
		return 0;
	x0 = w->xs[a * (S + 1) + t];
	x1 = w->xs[a * (S + 1) + t + 1];
	s = w->s[a];
	if (bridge_misses(x0, x1, b, s, w->zs[a * S + t])) {
		w->curlo[a] = ST_PENDING;
		w->pendlo[a * S + w->npendlo[a]++] = (uint32_t)t;
		if (b < w->certlo[a])
			w->certlo[a] = b;
		return 0;
	}
	w->curlo[a] = ST_DONE;
	x0 = bridge_min(x0, x1, s, w->zs[a * S + t]);
	if (x0 < w->lo[a])
		w->lo[a] = x0;
	return w->lo[a] <= b;
}

/* mirror of below() in mc_walk.c: keep in step */
/* Is the running maximum of asset a >= b? */
static int
above(const struct mc_model *md, struct mc_ws *w, size_t a, double b)
{
	size_t S = md->steps, t = w->t;
	double x0, x1, s;

	if (w->hi[a] >= b)
		return 1;
	if (b < w->certhi[a]) {
		flush_hi(md, w, a);
		if (w->hi[a] >= b)
			return 1;
	}
	if (w->curhi[a] != ST_FRESH)
		return 0;
	x0 = w->xs[a * (S + 1) + t];
	x1 = w->xs[a * (S + 1) + t + 1];
	s = w->s[a];
	if (bridge_misses(x0, x1, b, s, w->zps[a * S + t])) {
		w->curhi[a] = ST_PENDING;
		w->pendhi[a * S + w->npendhi[a]++] = (uint32_t)t;
		if (b > w->certhi[a])
			w->certhi[a] = b;
		return 0;
	}
	w->curhi[a] = ST_DONE;
	x0 = bridge_max(x0, x1, s, w->zps[a * S + t]);
	if (x0 > w->hi[a])
		w->hi[a] = x0;
	return w->hi[a] >= b;
}

static double
ad_factor(const struct mc_model *md, const struct mc_ws *w, size_t a, int dir)
{
	const struct mc_ad *ad = &md->as[a].ad[dir];
	size_t i = 2 * a + (size_t)dir;

	if (w->E[i] == 0.0)
		return ad->gk[w->k[i]];
	return lc_price_factor(ad->c->curve, ad->side,
	    w->E[i] + ad->c->cum[w->k[i]], md->scale);
}

/*
 * Threshold in log-move space of the next trigger of (a, dir), and the
 * direction's factor g(E + S_k) (w->gd, what update_gamma() multiplies).
 */
static void
update_b(const struct mc_model *md, struct mc_ws *w, size_t a, int dir)
{
	const struct mc_ad *ad = &md->as[a].ad[dir];
	size_t i = 2 * a + (size_t)dir, k = w->k[i];
	double g;

	if (w->E[i] == 0.0) {
		if (ad->gk != NULL)
			w->gd[i] = ad->gk[k];
		/* given p <= m_k, p <= t_{k+1} iff p <= m_{k+1} */
		w->b[i] = k >= ad->c->n ? (dir == LC_DOWN ? -HUGE_VAL :
		    HUGE_VAL) : ad->lm[k + 1];
		return;
	}
	g = ad_factor(md, w, a, dir);
	w->gd[i] = g;
	if (k >= ad->c->n)
		w->b[i] = dir == LC_DOWN ? -HUGE_VAL : HUGE_VAL;
	else if (dir == LC_DOWN && !(g > 0.0))
		w->b[i] = HUGE_VAL;
	else
		w->b[i] = log(ad->c->price[k] / (md->as[a].P * g));
}

static void
update_gamma(const struct mc_model *md, struct mc_ws *w, size_t a)
{
	double g = w->gd[2 * a] * w->gd[2 * a + 1];

	(void)md;
	if (g != w->gam[a]) {
		w->gam[a] = g;
		w->gver[a]++;
	}
}

/* Sum of the gamma versions of a loan's assets (changes iff one does). */
static uint64_t
loan_ver(const struct mc_model *md, const struct mc_ws *w,
    const struct mc_loan *l)
{
	uint64_t s = 0;
	size_t v;

	for (v = 0; v < l->nv; v++)
		s += w->gver[md->va[l->ev + v]];
	return s;
}

/*
 * Fired count at extreme x with E = 0: the largest j >= k with
 * sg x <= sg lm[j] (sg = +1 down, -1 up, so sg lm is non-increasing),
 * knowing that it holds at k.  A bucket index over sg lm (kb[i] = that
 * count at the edge sg lm[1] - i width) brackets the answer to a few
 * entries; a bracket that rounding spoiled falls back to galloping from
 * what is known.  O(1) typical, O(log(j - k)) at worst.
 */
static size_t
kfind(const struct mc_ad *ad, size_t k, double x, double sg)
{
	const double *lm = ad->lm;
	size_t n = ad->c->n, lo = k, hi, step = 1;
	double sx = sg * x;

	if (k >= n || !(sx <= sg * lm[k + 1]))
		return k;	/* nothing more (the buckets need x past 1) */
	if (ad->nb > 0) {
		double u = (sg * lm[1] - sx) * ad->binv;
		size_t bi = u < (double)ad->nb ? (size_t)u : ad->nb;
		size_t cl = ad->kb[bi];

		if (bi == ad->nb) {
			if (sx <= sg * lm[n])
				return n;	/* beyond the last */
			bi = ad->nb - 1;	/* rounding: last bucket */
			cl = ad->kb[bi];
		}
		if (cl > lo && sx <= sg * lm[cl])
			lo = cl;
		hi = (size_t)ad->kb[bi + 1] + 1;
		if (hi > lo && (hi > n || sx > sg * lm[hi]))
			goto bisect;
	}
	while (lo + step <= n && sx <= sg * lm[lo + step]) {
		lo += step;
		step *= 2;
	}
	hi = lo + step <= n ? lo + step : n + 1;	/* first known false */
bisect:
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (sx <= sg * lm[mid])
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Fired count of (a, dir) with extra volume E > 0, knowing trigger k + 1
 * fires: l_{j+1} >= p g(E + S_j) while it holds (up: <=), p = P exp(known
 * extreme) (the true extreme is at least as far), compared in price space
 * so that no log is taken per trigger; the next threshold is then
 * examined by below() (pending steps included).  Jumps: the levels are
 * monotone and g_bid(E + S_j) only falls with j (g_ask only rises), so
 * once trigger j passes against lim = p g(E + S_j), every later trigger
 * priced at or beyond lim passes too; a galloping search over the prices
 * finds the first that is not, and only there is g evaluated again (with
 * a forward curve cursor: E + S_k only grows).
 */
static size_t fire_from(const struct mc_model *md, size_t a, int dir,
    double E, double p, size_t k);

static size_t
fire_with_volume(const struct mc_model *md, const struct mc_ws *w, size_t a,
    int dir)
{
	size_t i = 2 * a + (size_t)dir;

	return fire_from(md, a, dir, w->E[i], md->as[a].P *
	    exp(dir == LC_DOWN ? w->lo[a] : w->hi[a]), w->k[i] + 1);
}

/*
 * The fired count of (a, dir) with extra volume E at exogenous price p,
 * knowing that triggers 1 .. k fire (the search of fire_with_volume()).
 */
static size_t
fire_from(const struct mc_model *md, size_t a, int dir, double E, double p,
    size_t k)
{
	const struct mc_ad *ad = &md->as[a].ad[dir];
	const struct lc_cascade *c = ad->c;
	const double *pr = c->price;
	size_t n = c->n;
	double sg = dir == LC_DOWN ? 1.0 : -1.0;
	size_t cur = 0;

	while (k < n) {
		double lim = p * lc_price_factor_seek(c->curve, ad->side,
		    E + c->cum[k], md->scale, &cur), sl = sg * lim;
		size_t lo, hi, step = 1;

		if (!(sg * pr[k] >= sl))
			break;
		/* pr[lo] passes; find the first hi > lo beyond lim */
		lo = k;
		while (lo + step < n && sg * pr[lo + step] >= sl) {
			lo += step;
			step *= 2;
		}
		hi = lo + step < n ? lo + step : n;
		while (hi - lo > 1) {
			size_t mid = lo + (hi - lo) / 2;

			if (sg * pr[mid] >= sl)
				lo = mid;
			else
				hi = mid;
		}
		k = hi;
	}
	return k;
}

/* Advance the cascade of (a, dir); 1 when something fired. */
static int
advance(const struct mc_model *md, struct mc_ws *w, size_t a, int dir)
{
	const struct mc_ad *ad = &md->as[a].ad[dir];
	size_t i = 2 * a + (size_t)dir, n = ad->c->n;
	int fired = 0;

	while (w->k[i] < n) {
		int hit = dir == LC_DOWN ? below(md, w, a, w->b[i]) :
		    above(md, w, a, w->b[i]);

		if (!hit)
			break;
		if (w->E[i] == 0.0) {
			/* 4.1 from the known extreme: galloping search */
			size_t k = dir == LC_DOWN ?
			    kfind(ad, w->k[i] + 1, w->lo[a], 1.0) :
			    kfind(ad, w->k[i] + 1, w->hi[a], -1.0);

			/* update_b() with E = 0, inlined */
			w->k[i] = k;
			if (ad->gk != NULL)
				w->gd[i] = ad->gk[k];
			w->b[i] = k < n ? ad->lm[k + 1] : dir == LC_DOWN ?
			    -HUGE_VAL : HUGE_VAL;
			fired = 1;
			continue;
		} else {
			w->k[i] = fire_with_volume(md, w, a, dir);
		}
		fired = 1;
		update_b(md, w, a, dir);
	}
	if (fired)
		update_gamma(md, w, a);
	return fired;
}

/*
 * May advance() fire anything on (a, dir) now?  The cheap part of
 * below() / above(), inlined in the loops so that the common answer "no"
 * costs no call: a step proved to stay clear of b is marked pending here
 * exactly as below() would.
 */
static inline int
may_fire(const struct mc_model *md, struct mc_ws *w, size_t a, int dir)
{
	size_t i = 2 * a + (size_t)dir, S = md->steps, t = w->t;
	double b = w->b[i], x0, x1;

	if (w->k[i] >= md->ntrig[i])
		return 0;
	/* the down branch and the up one mirror each other: keep in step */
	if (dir == LC_DOWN) {
		if (w->lo[a] <= b || b > w->certlo[a])
			return 1;
		if (w->curlo[a] != ST_FRESH)
			return 0;
		x0 = w->xs[a * (S + 1) + t];
		x1 = w->xs[a * (S + 1) + t + 1];
		if (!bridge_misses(x0, x1, b, w->s[a], w->zs[a * S + t]))
			return 1;
		w->curlo[a] = ST_PENDING;
		w->pendlo[a * S + w->npendlo[a]++] = (uint32_t)t;
		if (b < w->certlo[a])
			w->certlo[a] = b;
		return 0;
	}
	if (w->hi[a] >= b || b < w->certhi[a])
		return 1;
	if (w->curhi[a] != ST_FRESH)
		return 0;
	x0 = w->xs[a * (S + 1) + t];
	x1 = w->xs[a * (S + 1) + t + 1];
	if (!bridge_misses(x0, x1, b, w->s[a], w->zps[a * S + t]))
		return 1;
	w->curhi[a] = ST_PENDING;
	w->pendhi[a * S + w->npendhi[a]++] = (uint32_t)t;
	if (b > w->certhi[a])
		w->certhi[a] = b;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Coupled loans */

/*
 * Fold a loan's entry amounts into what judge() reads: per volatile asset v
 * of the loan, out[v] = sum of its collateral amount * LT and
 * out[nv + v] = its debt amount; out[2 nv] = stable collateral value * LT,
 * out[2 nv + 1] = stable debt value.
 */
static void
loan_fold(const struct mc_model *md, const struct mc_loan *l,
    const double *am, double *out)
{
	size_t i, nv = l->nv;

	for (i = 0; i < 2 * nv + 2; i++)
		out[i] = 0.0;
	for (i = l->ec; i < l->ec + l->nc; i++) {
		const struct mc_entry *e = &md->ent[i];

		if (e->v < 0)
			out[2 * nv] += am[i] * e->lt * e->price;
		else
			out[e->v] += am[i] * e->lt;
	}
	for (i = l->ed; i < l->ed + l->nd; i++) {
		const struct mc_entry *e = &md->ent[i];

		if (e->v < 0)
			out[2 * nv + 1] += am[i] * e->price;
		else
			out[nv + (size_t)e->v] += am[i];
	}
}

struct judge {
	int never;		/* no debt: never liquidated */
	double y0, y1, ymin, s2;
};

/* The sums of judge() (A: collateral * LT, B: debt, sa/sd: times s). */
struct jsum {
	double A0, A1, B0, B1, sa, sd;
};

/*
 * Loan l's block of the path covariances R_uv s_u s_v (w->cov), made
 * the first time a judgment of this walk needs it: most loans are
 * proved safe or cleared by the cheap bounds and never need it.
 */
static const double *
loan_cov(const struct mc_model *md, struct mc_ws *w, const struct mc_loan *l)
{
	size_t li = (size_t)(l - md->loan), u, v, n = md->n;
	const uint32_t *va = md->va + l->ev;

	if (w->covs[li] != w->nwalk) {
		for (v = 0; v < l->nv; v++)
			for (u = 0; u < l->nv; u++)
				w->cov[l->co + v * l->nv + u] =
				    md->R[va[v] * n + va[u]] * w->s[va[v]] *
				    w->s[va[u]];
		w->covs[li] = w->nwalk;
	}
	return w->cov + l->co;
}

/*
 * Worst moment of loan l in this step (docs/model.md 4.2 step 2), second half:
 * from the sums, with ca / da the collateral and debt terms at the end
 * prices per volatile asset.  The first half is in judge() and
 * judge_both().  ymin is exact when <= barrier, otherwise only
 * known to be above it (+INF when pruned).  Leaves p1, k (w->kk) in the
 * workspace for the crossing prices.
 */
static void
judge_tail(const struct mc_model *md, struct mc_ws *w, const struct mc_loan *l,
    const struct jsum *js, const double *ca, const double *da,
    double barrier, struct judge *j)
{
	const uint32_t *va = md->va + l->ev;
	size_t u, v, nv = l->nv;
	double *restrict ww = w->w;
	double A0 = js->A0, A1 = js->A1, B0 = js->B0, B1 = js->B1;
	double V = 0.0, sd2 = 0.0, z, lnu, d, iA1, iB1, l0, l1;
	double s2, sb;
	const double *cov;
	size_t npos = 0, nneg = 0;

	j->never = 0;
	if (!(B1 > 0.0) || !(B0 > 0.0)) {
		j->never = 1;
		return;
	}
	if (!(A1 > 0.0) || !(A0 > 0.0)) {
		/* no collateral value: liquidatable at any price */
		j->y0 = j->y1 = j->ymin = -HUGE_VAL;
		j->s2 = 0.0;
		for (v = 0; v < nv; v++)
			w->kk[v] = 0.0;
		return;
	}
	/*
	 * Cheapest certain no-crossing: U >= 1e-300 (ln U >= -690.8) and
	 * s_y <= sum_a |w_a| s_a <= sum_a (ca_a / A1 + da_a / B1) s_a, with
	 * ln x >= 2 (x - 1) / (x + 1) (x >= 1) bounding y0 and y1 from below
	 * (a negative bound proves nothing and is never used).
	 */
	iA1 = 1.0 / A1;
	iB1 = 1.0 / B1;
	l0 = 2.0 * (A0 - B0) / (A0 + B0) - barrier;
	l1 = 2.0 * (A1 - B1) / (A1 + B1) - barrier;
	sb = js->sa * iA1 + js->sd * iB1;
	if (l0 > 0.0 && l1 > 0.0 && 2.0 * l0 * l1 > 691.0 * sb * sb) {
		j->y0 = j->y1 = j->ymin = HUGE_VAL;
		j->s2 = 0.0;
		return;
	}
	for (v = 0; v < nv; v++) {
		double wv = ca[v] * iA1 - da[v] * iB1;

		ww[v] = wv;
		if (wv > 0.0) {
			V += wv * w->s[va[v]] * w->Z[va[v]];
			npos++;
		} else if (wv < 0.0) {
			V -= wv * w->s[va[v]] * w->Zp[va[v]];
			nneg++;
		}
	}
	/*
	 * V >= 0: z >= 0, U_y >= 1/2 (ln U_y >= -0.6931472), with the same
	 * bound sb of s_y: no crossing, without the O(nv^2) covariances.
	 */
	if (V >= 0.0 && l0 > 0.0 && l1 > 0.0 &&
	    2.0 * l0 * l1 > 0.6931472 * sb * sb) {
		j->y0 = j->y1 = j->ymin = HUGE_VAL;
		j->s2 = 0.0;
		return;
	}
	s2 = 0.0;
	cov = loan_cov(md, w, l);
	if (npos == nv || nneg == nv) {
		/* one sign: every pair counts in sd(V), so sd2 = s2 exactly */
		for (v = 0; v < nv; v++) {
			const double *Cv = cov + v * nv;
			double acc = 0.0;

			for (u = 0; u < nv; u++)
				acc += Cv[u] * ww[u];
			w->cw[v] = acc;
			s2 += ww[v] * acc;
		}
		sd2 = s2;
	} else {
		for (v = 0; v < nv; v++) {
			const double *Cv = cov + v * nv;
			double acc = 0.0, pos = 0.0, wv = ww[v];

			if (wv == 0.0) {
				w->cw[v] = 0.0;
				for (u = 0; u < nv; u++)
					w->cw[v] += Cv[u] * ww[u];
				continue;
			}
			for (u = 0; u < nv; u++) {
				double c = Cv[u] * ww[u];

				acc += c;
				if (wv * ww[u] > 0.0)
					pos += c;
			}
			w->cw[v] = acc;
			s2 += wv * acc;
			sd2 += wv * pos;
		}
	}
	j->s2 = s2;
	if (!(j->s2 > 0.0) || !(sd2 > 0.0)) {
		j->y0 = log(A0 / B0);
		j->y1 = log(A1 / B1);
		j->s2 = 0.0;
		j->ymin = fmin(j->y0, j->y1);
		for (v = 0; v < nv; v++)
			w->kk[v] = 0.0;
		return;
	}
	z = V / sqrt(sd2);
	/* certain no-crossing first without logs (the bounds above) */
	if (l0 > 0.0 && l1 > 0.0 && bridge_misses(l0, l1, 0.0, sqrt(j->s2),
	    z)) {
		j->y0 = j->y1 = j->ymin = HUGE_VAL;
		return;
	}
	j->y0 = log(A0 / B0);
	j->y1 = log(A1 / B1);
	for (v = 0; v < nv; v++)
		w->kk[v] = w->cw[v] / j->s2;
	if (j->y0 > barrier && j->y1 > barrier &&
	    bridge_misses(j->y0, j->y1, barrier, sqrt(j->s2), z)) {
		j->ymin = HUGE_VAL;
		return;
	}
	lnu = ln_phi(z);
	d = j->y1 - j->y0;
	j->ymin = 0.5 * (j->y0 + j->y1 - sqrt(d * d - 2.0 * j->s2 * lnu));
}

/*
 * mirror of judge_both() in mc_walk.c (its js and jg sums are two
 * copies of this loop, fused for speed): keep in step.
 */
/*
 * One judgment: the sums, then judge_tail().  ag: the loan's amounts
 * folded per volatile asset (loan_fold()); gamma: apply the current
 * impact factors (else every Gamma = 1).
 */
static void
judge(const struct mc_model *md, struct mc_ws *w, const struct mc_loan *l,
    const double *ag, int gamma, double barrier, struct judge *j)
{
	const uint32_t *va = md->va + l->ev;
	size_t v, nv = l->nv;
	const double *cl = ag, *dd = ag + nv;
	double *restrict ca = w->ca, *restrict da = w->da;
	double *restrict p1 = w->p1;
	struct jsum js;

	js.A0 = js.A1 = ag[2 * nv];
	js.B0 = js.B1 = ag[2 * nv + 1];
	js.sa = js.sd = 0.0;
	for (v = 0; v < nv; v++) {
		uint32_t a = va[v];
		double g = gamma ? w->gam[a] : 1.0;
		double q0 = w->ex0[a] * g, q1 = w->ex1[a] * g, sv = w->s[a];
		double t1 = cl[v] * q1, t2 = dd[v] * q1;

		p1[v] = q1;
		js.A0 += cl[v] * q0;
		js.A1 += t1;
		js.B0 += dd[v] * q0;
		js.B1 += t2;
		ca[v] = t1;
		da[v] = t2;
		js.sa += t1 * sv;
		js.sd += t2 * sv;
	}
	judge_tail(md, w, l, &js, ca, da, barrier, j);
}

/*
 * mirror of judge() in mc_walk.c: both sums here (js with Gamma = 1,
 * jg with Gamma) repeat its loop body, fused into one pass: keep in step.
 */
/*
 * The static judgment (original amounts, every Gamma = 1) and the first
 * judgment of the step with the current Gamma, for a loan still holding
 * its original amounts (ag = its folded amt0): one pass over its assets
 * for both, the same numbers as two judge() calls, the cascade one last
 * (it leaves p1 and k for the crossing prices).  Barrier 0 for both.
 */
static void
judge_both(const struct mc_model *md, struct mc_ws *w,
    const struct mc_loan *l, const double *ag, struct judge *jst,
    struct judge *jc)
{
	const uint32_t *va = md->va + l->ev;
	size_t v, nv = l->nv;
	const double *cl = ag, *dd = ag + nv;
	double *restrict ca = w->ca, *restrict da = w->da;
	double *restrict cs = w->cas, *restrict ds = w->das;
	double *restrict p1 = w->p1;
	struct jsum js, jg;
	int one = 1;

	js.A0 = js.A1 = jg.A0 = jg.A1 = ag[2 * nv];
	js.B0 = js.B1 = jg.B0 = jg.B1 = ag[2 * nv + 1];
	js.sa = js.sd = jg.sa = jg.sd = 0.0;
	for (v = 0; v < nv; v++) {
		uint32_t a = va[v];
		double g = w->gam[a], e0 = w->ex0[a], e1 = w->ex1[a];
		double sv = w->s[a], q0 = e0 * g, q1 = e1 * g;

		if (g != 1.0)
			one = 0;
		double t1 = cl[v] * e1, t2 = dd[v] * e1;
		double u1 = cl[v] * q1, u2 = dd[v] * q1;

		/* g = 1: the same products as judge() (x * 1.0 == x) */
		js.A0 += cl[v] * e0;
		js.A1 += t1;
		js.B0 += dd[v] * e0;
		js.B1 += t2;
		cs[v] = t1;
		ds[v] = t2;
		js.sa += t1 * sv;
		js.sd += t2 * sv;
		p1[v] = q1;
		jg.A0 += cl[v] * q0;
		jg.A1 += u1;
		jg.B0 += dd[v] * q0;
		jg.B1 += u2;
		ca[v] = u1;
		da[v] = u2;
		jg.sa += u1 * sv;
		jg.sd += u2 * sv;
	}
	if (one) {
		/* every Gamma 1: the two judgments are the same numbers */
		judge_tail(md, w, l, &jg, ca, da, 0.0, jc);
		*jst = *jc;
		return;
	}
	judge_tail(md, w, l, &js, cs, ds, 0.0, jst);
	judge_tail(md, w, l, &jg, ca, da, 0.0, jc);
}

/* One market fill of a liquidation step on (a, dir). */
static void
fill(const struct mc_model *md, struct mc_ws *w, uint32_t a, int dir,
    double qty, double px, int first)
{
	const struct mc_ad *ad = &md->as[a].ad[dir];
	size_t i = 2 * (size_t)a + (size_t)dir, j;

	if (!(qty > 0.0))
		return;
	if (first) {
		double v0 = w->E[i] + ad->c->cum[w->k[i]];
		double sl = lc_fill_slippage_bps(ad->c->curve, ad->side, v0,
		    v0 + qty, md->scale);

		w->fill_num += sl * qty * px;
		w->fill_den += qty * px;
		w->fill_quote += sl / 1e4 * qty * px;
	}
	w->E[i] += qty;
	w->ever[a]++;
	for (j = 0; j < md->nlw; j++)
		w->cand[j] |= md->amask[(size_t)a * md->nlw + j] & w->pmask[j];
	update_b(md, w, a, dir);
	update_gamma(md, w, a);
}

static double
entry_px(const struct mc_entry *e, const double *q)
{
	return e->v < 0 ? e->price : q[e->v];
}

/* Order entries [off, off + n) by decreasing value at q (stable). */
static void
order_by_value(const struct mc_model *md, struct mc_ws *w, size_t off,
    size_t n, const double *q)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		size_t e = off + i;
		double ve = w->amt[e] * entry_px(&md->ent[e], q);

		for (j = i; j > 0; j--) {
			size_t f = w->ord[j - 1];

			if (w->amt[f] * entry_px(&md->ent[f], q) >= ve)
				break;
			w->ord[j] = f;
		}
		w->ord[j] = e;
	}
}

static void
loan_values(const struct mc_model *md, const struct mc_ws *w,
    const struct mc_loan *l, const double *q, double *cv, double *dv)
{
	size_t i;

	*cv = *dv = 0.0;
	for (i = l->ec; i < l->ec + l->nc; i++)
		*cv += w->amt[i] * entry_px(&md->ent[i], q);
	for (i = l->ed; i < l->ed + l->nd; i++)
		*dv += w->amt[i] * entry_px(&md->ent[i], q);
}

/*
 * Take `value` (quote units) off one side of a loan, entries [off,
 * off + n): volatile entries by decreasing value at q, each traded at
 * market on (asset, dir) (collateral sold: LC_DOWN; debt bought: LC_UP),
 * then the stable entries pro rata (docs/model.md 3.1).
 */
static void
reduce_side(const struct mc_model *md, struct mc_ws *w, size_t off,
    size_t n, double value, int dir, const double *q, int first)
{
	double rem = value, sv = 0.0;
	size_t i;

	order_by_value(md, w, off, n, q);
	for (i = 0; i < n; i++) {
		size_t e = w->ord[i];
		const struct mc_entry *en = &md->ent[e];
		double val, take, qty;

		if (en->v < 0) {
			sv += w->amt[e] * en->price;
			continue;
		}
		val = w->amt[e] * q[en->v];
		if (!(rem > 0.0) || !(val > 0.0))
			continue;
		take = val <= rem ? val : rem;
		qty = take >= val ? w->amt[e] : take / q[en->v];
		w->amt[e] -= qty;
		if (take >= val)
			w->amt[e] = 0.0;
		rem -= take;
		fill(md, w, en->a, dir, qty, q[en->v], first);
	}
	if (rem > 0.0 && sv > 0.0) {
		double f = rem >= sv ? 1.0 : rem / sv;

		for (i = off; i < off + n; i++)
			if (md->ent[i].v < 0)
				w->amt[i] = f >= 1.0 ? 0.0 :
				    w->amt[i] * (1.0 - f);
	}
}

/* One ladder step of loan li at prices q (docs/model.md 3.1 in value terms). */
static void
loan_step(const struct mc_model *md, struct mc_ws *w, size_t li,
    const double *q, int first)
{
	const struct mc_loan *l = &md->loan[li];
	double cv, dv, cf, rep, seize;
	int bad = 0;
	size_t i;

	loan_values(md, w, l, q, &cv, &dv);
	if (first)
		w->dfirst[li] = dv;
	if (!(dv > 0.0) || !(cv > 0.0)) {
		w->dead[li] = 1;
		return;
	}
	if (l->proto == LC_COMPOUND_V3) {
		/* book loss: every collateral absorbed, the shortfall */
		w->bval += cv;
		w->bbad += dv > cv ? dv - cv : 0.0;
		/* absorb: volatile collateral sold, debt taken over */
		order_by_value(md, w, l->ec, l->nc, q);
		for (i = 0; i < l->nc; i++) {
			size_t e = w->ord[i];

			if (md->ent[e].v >= 0)
				fill(md, w, md->ent[e].a, LC_DOWN, w->amt[e],
				    q[md->ent[e].v], first);
		}
		w->dead[li] = 1;
		return;
	}
	cf = l->cf;
	if (l->proto == LC_AAVE_V3 && l->flb > 0.0 &&
	    (cv < l->flb || dv < l->flb))
		cf = 1.0;
	rep = cf * dv;
	seize = rep * (1.0 + l->bonus);
	if (seize >= cv) {
		seize = cv;
		rep = cv / (1.0 + l->bonus);
		bad = 1;
	}
	w->bval += seize;	/* book loss: collateral value seized */
	/* collateral seized (sold), then debt repaid (volatile debt bought) */
	reduce_side(md, w, l->ec, l->nc, seize, LC_DOWN, q, first);
	reduce_side(md, w, l->ed, l->nd, rep, LC_UP, q, first);
	loan_values(md, w, l, q, &cv, &dv);
	if (bad || !(cv > 0.0) || dv < 1e-9 * w->dfirst[li])
		w->dead[li] = 1;
}

static void park_drift(const struct mc_model *md, struct mc_ws *w,
    const struct mc_loan *l);
static void bounds_with_volume(const struct mc_model *md, struct mc_ws *w,
    size_t a);

/*
 * Judge and liquidate loan li in this round; 1 when a step happened.  pre:
 * its first judgment, already made by judge_both() (NULL: judge here).
 */
static int
loan_round(const struct mc_model *md, struct mc_ws *w, size_t li,
    double *slip, const struct judge *pre)
{
	const struct mc_loan *l = &md->loan[li];
	struct judge j;
	int did = 0;
	size_t v;

	/* same amounts and impact factors as a no-crossing verdict: skip */
	if (pre == NULL && w->jt[li] == w->t + 1 &&
	    w->jver[li] == loan_ver(md, w, l))
		return 0;
	w->jt[li] = 0;
	while (!w->dead[li] && w->nsteps[li] < LC_MAX_STEPS) {
		double barrier = did ? HF_SLACK_LOG : 0.0, yc;
		int first = !w->liq[li];

		if (pre != NULL && !did)
			j = *pre;	/* judge_both(): the same numbers */
		else
			judge(md, w, l, w->agg + l->go, 1, barrier, &j);
		if (j.never || !(j.ymin <= barrier)) {
			w->jt[li] = w->t + 1;
			w->jver[li] = loan_ver(md, w, l);
			break;
		}
		if (isfinite(j.y1)) {
			yc = fmax(j.ymin, fmin(j.y0, 0.0));
			for (v = 0; v < l->nv; v++)
				w->q[v] = w->p1[v] *
				    exp(w->kk[v] * (yc - j.y1));
		} else {
			for (v = 0; v < l->nv; v++)
				w->q[v] = w->p1[v];
		}
		w->fill_num = w->fill_den = w->fill_quote = 0.0;
		loan_step(md, w, li, w->q, first);
		loan_fold(md, l, w->amt, w->agg + l->go);
		if (first) {
			w->liq[li] = 1;
			slip[2 * li] += w->fill_den > 0.0 ?
			    w->fill_num / w->fill_den : 0.0;
			slip[2 * li + 1] += w->fill_quote;
		}
		w->nsteps[li]++;
		did = 1;
	}
	if (did) {
		for (v = 0; v < l->nv; v++) {
			if (may_fire(md, w, md->va[l->ev + v], LC_DOWN))
				advance(md, w, md->va[l->ev + v], LC_DOWN);
			if (may_fire(md, w, md->va[l->ev + v], LC_UP))
				advance(md, w, md->va[l->ev + v], LC_UP);
		}
		if (w->nparked > 0)
			park_drift(md, w, l);
	}
	return did;
}

/*
 * Final fired count of (a, dir) for an asset outside every coupled loan:
 * its E stays 0 and nothing reads its cascade during the path, so k is the
 * 4.1 count at the path's extreme, found once.  Steps are examined against
 * the next threshold b; b only moves away as k grows, so a step pruned
 * against an earlier b stays pruned.
 */
static void
settle(const struct mc_model *md, struct mc_ws *w, size_t a, int dir)
{
	const struct mc_ad *ad = &md->as[a].ad[dir];
	size_t i = 2 * a + (size_t)dir, k = w->k[i], n = ad->c->n, t;
	size_t S = md->steps;
	const double *xs = w->xs + a * (S + 1);
	const double *zz = (dir == LC_DOWN ? w->zs : w->zps) + a * S;
	double s = w->s[a];
	double ext = dir == LC_DOWN ? w->lo[a] : w->hi[a], b, lim;

	if (k >= n)
		return;
	b = ad->lm[k + 1];
	lim = 690.8 * s * s;	/* bridge_misses() whatever z */
	for (t = 0;; t++) {
		if (dir == LC_DOWN ? ext <= b : ext >= b) {
			k = kfind(ad, k + 1, ext, dir == LC_DOWN ? 1.0 : -1.0);
			if (k >= n)
				break;
			b = ad->lm[k + 1];
		}
		/* the next step that the bridge test cannot settle at once */
		while (t < S && 2.0 * (xs[t] - b) * (xs[t + 1] - b) > lim)
			t++;
		if (t >= S)
			break;
		if (bridge_misses(xs[t], xs[t + 1], b, s, zz[t]))
			continue;
		if (dir == LC_DOWN) {
			double m = bridge_min(xs[t], xs[t + 1], s, zz[t]);

			if (m < ext)
				ext = m;
		} else {
			double m = bridge_max(xs[t], xs[t + 1], s, zz[t]);

			if (m > ext)
				ext = m;
		}
	}
	w->k[i] = k;
}

/*
 * Does the path's minimum (LC_DOWN) of asset a reach b, i.e. min <= b
 * (LC_UP: max >= b)?  Steps whose bridge certainly stays clear of b are
 * skipped without erfc or log; the others are computed exactly.  The
 * same comparisons as kfind() on the exact extreme: k >= T iff the
 * extreme reaches lm[T].
 */
static int
path_reaches(const struct mc_model *md, const struct mc_ws *w, size_t a,
    int dir, double b)
{
	size_t S = md->steps, t;
	const double *xs = w->xs + a * (S + 1);
	const double *zz = (dir == LC_DOWN ? w->zs : w->zps) + a * S;
	double s = w->s[a];

	if (dir == LC_DOWN ? w->lo[a] <= b : w->hi[a] >= b)
		return 1;	/* an end of a step (x_0 = 0 included) */
	if (dir == LC_DOWN ? w->lb[a] > b : w->ub[a] < b)
		return 0;	/* no bridge of the path gets there */
	for (t = 0; t < S; t++) {
		if (bridge_misses(xs[t], xs[t + 1], b, s, zz[t]))
			continue;
		if (dir == LC_DOWN ?
		    bridge_min(xs[t], xs[t + 1], s, zz[t]) <= b :
		    bridge_max(xs[t], xs[t + 1], s, zz[t]) >= b)
			return 1;
	}
	return 0;
}

/*
 * Final fired count of (a, dir) with E = 0 for the whole path, as far as
 * the records read it: they ask only k >= kstar (cascade event) and
 * k > minfirst (a single-asset position liquidated).  So k is settled to
 * min(true count, largest of those thresholds) by at most two
 * path_reaches() tests, whose bridges are nearly all dismissed by the
 * bound of bridge_misses() however dense the levels are.  With the
 * per-trigger histogram (LC_MC_ALL_POSITIONS) the exact count: settle().
 */
static void
settle_fast(const struct mc_model *md, struct mc_ws *w, size_t a, int dir)
{
	const struct mc_ad *ad = &md->as[a].ad[dir];
	size_t i = 2 * a + (size_t)dir, n = ad->c->n, t1, t2, k = 0;

	if (w->hist != NULL || md->pv != NULL) {
		settle(md, w, a, dir);
		return;
	}
	t1 = ad->kstar;
	t2 = ad->minfirst == NONE ? NONE : ad->minfirst + 1;
	if (t2 < t1) {
		size_t x = t1;

		t1 = t2;
		t2 = x;
	}
	if (t1 != NONE && t1 >= 1 && t1 <= n &&
	    path_reaches(md, w, a, dir, ad->lm[t1])) {
		k = t1;
		if (t2 != NONE && t2 > t1 && t2 <= n &&
		    path_reaches(md, w, a, dir, ad->lm[t2]))
			k = t2;
	}
	w->k[i] = k;
}

/*
 * An upper bound of sqrt(-ln U / 2) for U = Phi(z), z >= -v (v >= 0):
 * hz[] at the next grid point below -v.
 */
static inline double
hz_bound(const struct mc_model *md, double v)
{
	double u = v * HZ_PER;

	if (!(v > 0.0))
		return v <= 0.0 ? md->hz[0] : md->hz[HZ_N];	/* NaN: worst */
	if (!(u < (double)(HZ_N - 1)))
		return md->hz[HZ_N];
	return md->hz[(size_t)u + 1];
}

static void safe_cut(const struct mc_model *md, struct mc_ws *w, double hr);

/*
 * loans_safe()'s bound for loan li (hr its excursion, qsafe its
 * safe_cut()), from P exp(lb) glo and P exp(ub) ghi in plo / phi.
 */
static int
loan_safe(const struct mc_model *md, const struct mc_ws *w, size_t li,
    double hr)
{
	const struct mc_ph *h = &md->ph[li];
	const struct mc_pf *f = md->pf + h->ev;
	size_t nv = h->nv, v;
	double A = h->A, B = h->B, sc = 0.0, sd = 0.0, q;

	for (v = 0; v < nv; v++) {
		size_t ai = f[v].a;

		if (!(f[v].c >= 0.0) || !(f[v].d >= 0.0))
			return 0;
		if (f[v].c > 0.0) {
			A += f[v].c * w->plo[ai];
			if (w->s[ai] > sc)
				sc = w->s[ai];
		}
		if (f[v].d > 0.0) {
			B += f[v].d * w->phi[ai];
			if (w->s[ai] > sd)
				sd = w->s[ai];
		}
	}
	if (B == 0.0)
		return 1;	/* no debt: never liquidated */
	if (!(A > 0.0) || !(B > 0.0))
		return 0;
	q = A / B;
	if (q > w->qsafe)
		return q > w->qpark ? 2 : 1;	/* safe_cut(); 2: parked */
	if (!(q >= 1.0))
		return 0;	/* log(q) <= 0 and (sc + sd) hr >= 0 */
	return log(q) - (sc + sd) * hr > SAFE_MARGIN;
}

/*
 * The ratio q = A / B above which loan_safe() holds whatever the loan:
 * its sc and sd are step sigmas, at most smax = max_a s_a, so its
 * ln(q) - (sc + sd) hr > SAFE_MARGIN once ln q > SAFE_MARGIN + 2 smax
 * hr + 1e-6: the same verdict without the log (q and qsafe finite, so
 * ln q and that bound lie below 710: the rounding of these few
 * operations is under 1e-12, far below the 1e-6 spared).
 */
static void
safe_cut(const struct mc_model *md, struct mc_ws *w, double hr)
{
	double smax = 0.0;
	size_t a;

	for (a = 0; a < md->n; a++)
		if (w->s[a] > smax)
			smax = w->s[a];
	w->qsafe = exp(SAFE_MARGIN + 2.0 * smax * hr + 1e-6);
	if (!(w->qsafe < HUGE_VAL))
		w->qsafe = HUGE_VAL;	/* NaN or overflow: no shortcut */
	w->qpark = w->qsafe * exp(PARK_ROOM);
}

/*
 * Can no coupled loan be liquidated anywhere on this path (the normals of
 * every step drawn, nothing judged yet)?  Then no extra volume E is ever
 * added, every Gamma is that of the E = 0 cascades, and the loans' steps
 * need not be simulated at all: the answer is the same.
 *
 * While no loan has stepped (E = 0), with lb_a <= every minimum of x_a on
 * the path and ub_a >= every maximum (s_a hz[] beyond the step's ends,
 * the Brownian-bridge excursion bound sqrt(d^2 + c) <= |d| + sqrt(c)):
 *   Gamma_a >= g_bid(S_k(lb_a)) =: glo_a,  Gamma_a <= g_ask(S_k(ub_a)),
 * every y0 and y1 of a step is at least Y = ln(A / B), A the collateral
 * value at (lb, glo), B the debt value at (ub, ghi); s_y <= sum_a |w_a| s_a
 * <= sC + sD (largest step sigma of a volatile collateral, resp. debt;
 * |R_ab| <= 1, the weights of one side sum to at most 1); and
 * V / sd(V) = (u.e' + u'.e'') / sqrt(|u|^2 + |u'|^2) >= -|(e', e'')| by
 * Cauchy-Schwarz (Z = L e', Z' = L e''), so with r the largest |(e', e'')|
 * of the path, y_min >= min(y0, y1) - s_y sqrt(-ln U_y / 2)
 * >= Y - (sC + sD) hz(r).  When that clears 0 for every loan (by
 * SAFE_MARGIN, far above rounding), no loan's y_min reaches 0 in any
 * step, cascade or static (Gamma = 1 lies within the bounds), and by
 * induction over the steps E stays 0.  Every exp here is libm's; the
 * engine's fast_exp() is within 2 ulp of it, and lb_a lies at least
 * 0.58 s_a below every end of a step.
 */
static int
loans_safe(const struct mc_model *md, struct mc_ws *w, double rmax2)
{
	size_t a, li;
	double hr = md->cs_ok ? hz_bound(md, sqrt(rmax2) * (1.0 + 1e-6) +
	    1e-9) : md->hz[HZ_N];

	for (a = 0; a < md->n; a++) {
		const struct mc_ad *dn = &md->as[a].ad[LC_DOWN];
		const struct mc_ad *up = &md->as[a].ad[LC_UP];
		size_t k;

		if (!md->as[a].in_loan)
			continue;
		k = dn->c->n > 0 ? kfind(dn, 0, w->lb[a], 1.0) : 0;
		w->glo[a] = dn->gk[k];
		k = up->c->n > 0 ? kfind(up, 0, w->ub[a], -1.0) : 0;
		w->ghi[a] = up->gk[k];
		/* loan_safe()'s cached values (replay() recomputes them) */
		w->plo[a] = md->as[a].P * exp(w->lb[a]) * w->glo[a];
		w->phi[a] = md->as[a].P * exp(w->ub[a]) * w->ghi[a];
	}
	safe_cut(md, w, hr);
	for (li = 0; li < md->nloan; li++) {
		if (!loan_safe(md, w, li, hr))
			return 0;
	}
	return 1;
}

/*
 * On a path that must be walked: which loans loans_safe()'s bound proves
 * safe one by one (w->lsafe).  Its argument holds per loan while E stays
 * 0 on the loan's own assets (their Gamma within glo .. ghi): such a
 * loan is not judged until some loan trades one of its assets
 * (step_rounds()); its static figure (every Gamma = 1, within the
 * bounds) stays safe for the whole path.
 */
static void
loans_mark(const struct mc_model *md, struct mc_ws *w, double rmax2)
{
	size_t li;
	double hr = md->cs_ok ? hz_bound(md, sqrt(rmax2) * (1.0 + 1e-6) +
	    1e-9) : md->hz[HZ_N];

	w->hr = hr;
	safe_cut(md, w, hr);
	memset(w->park, 0, md->nlw * sizeof(uint64_t));
	w->nparked = 0;
	for (li = 0; li < md->nloan; li++) {
		int r = loan_safe(md, w, li, hr);

		w->lsafe[li] = r != 0;
		w->cnt_skip += w->lsafe[li];
		if (r == 2 && !(md->flags & LC_MC_NO_PARK)) {
			w->park[li / 64] |= (uint64_t)1 << (li % 64);
			w->nparked++;
			w->cnt_park++;
		}
	}
	/* the bounds of the proofs: loans_safe() made them just before */
	memcpy(w->plo0, w->plo, md->n * sizeof(double));
	memcpy(w->phi0, w->phi, md->n * sizeof(double));
}

/*
 * A parked loan (loans_mark(), loan_safe() == 2) was proved with ratio
 * q0 = A / B > qsafe e^PARK_ROOM at the bounds plo0 / phi0.  Its A is
 * a sum of nonnegative terms, those of volatile collateral in plo[a];
 * its B likewise in phi[a].  With the current bounds, valid for the
 * current volumes E (bounds_with_volume()), A >= A0 / prod max(1, plo0
 * / plo) and B <= B0 prod max(1, phi / phi0) over the loan's assets, so
 * A / B >= q0 / dprod, dprod the product of those factors over every
 * asset: while dprod < e^PARK_ROOM, A / B > qsafe and loan_safe() would
 * prove the loan again, so it need not be visited.  Called after every
 * loan step (only a loan's own assets trade in its steps); when the
 * drift reaches the room, every parked loan joins the candidates and is
 * proved again one by one from then on (loan_skipped()).
 */
static void
park_drift(const struct mc_model *md, struct mc_ws *w,
    const struct mc_loan *l)
{
	size_t v, j;
	double d = 1.0;

	for (v = 0; v < l->nv; v++) {
		uint32_t a = md->va[l->ev + v];
		double f = 1.0;

		if (w->bver[a] != w->ever[a])
			bounds_with_volume(md, w, a);
		/* a NaN bound makes f NaN: unparked below */
		if (!(w->plo[a] >= w->plo0[a]))
			f = w->plo0[a] / w->plo[a];
		if (!(w->phi[a] <= w->phi0[a]))
			f *= w->phi[a] / w->phi0[a];
		w->fdr[a] = f;
	}
	for (v = 0; v < md->n; v++)
		d *= w->fdr[v];
	w->dprod = d;
	/* NaN too; 1e-9 of the room spared for rounding */
	if (d < exp(PARK_ROOM) * (1.0 - 1e-9))
		return;
	for (j = 0; j < md->nlw; j++) {
		w->cand[j] |= w->park[j];
		w->pmask[j] |= w->park[j];
		w->park[j] = 0;
	}
	w->nparked = 0;
	w->cnt_unpark++;
}

/*
 * The bounds glo / ghi of asset a with its current extra volumes E
 * (constant until ever[a] changes): the fired counts at the path's
 * bounds lb / ub with those volumes (at least the counts so far); and
 * plo / phi.
 */
static void
bounds_with_volume(const struct mc_model *md, struct mc_ws *w, size_t a)
{
	const struct mc_asset *as = &md->as[a];
	const struct mc_ad *dn = &as->ad[LC_DOWN], *up = &as->ad[LC_UP];
	double Ed = w->E[2 * a], Eu = w->E[2 * a + 1];
	size_t k;

	k = Ed == 0.0 ? (dn->c->n > 0 ? kfind(dn, 0, w->lb[a], 1.0) : 0) :
	    fire_from(md, a, LC_DOWN, Ed, as->P * exp(w->lb[a]), w->k[2 * a]);
	w->glo[a] = lc_price_factor(dn->c->curve, dn->side, Ed + dn->c->cum[k],
	    md->scale);
	k = Eu == 0.0 ? (up->c->n > 0 ? kfind(up, 0, w->ub[a], -1.0) : 0) :
	    fire_from(md, a, LC_UP, Eu, as->P * exp(w->ub[a]),
	    w->k[2 * a + 1]);
	w->ghi[a] = lc_price_factor(up->c->curve, up->side, Eu + up->c->cum[k],
	    md->scale);
	w->plo[a] = as->P * exp(w->lb[a]) * w->glo[a];
	w->phi[a] = as->P * exp(w->ub[a]) * w->ghi[a];
	w->bver[a] = w->ever[a];
}

/*
 * May loan li be skipped now?  Proved safe, and, if a loan has traded
 * one of its assets since (E changed), proved safe again with the
 * bounds of the new volumes; else it is judged from now on.  Its earlier
 * steps were covered by the proof in force then.  Called only for the
 * loans of w->cand (next_cand()): a proved loan is there only when an E
 * of one of its assets changed since its last proof.
 */
static inline int
loan_skipped(const struct mc_model *md, struct mc_ws *w, size_t li)
{
	const struct mc_ph *h = &md->ph[li];
	size_t v;

	if (!w->lsafe[li])
		return 0;
	for (v = 0; v < h->nv; v++) {
		uint32_t a = md->pf[h->ev + v].a;

		if (w->bver[a] != w->ever[a])
			bounds_with_volume(md, w, a);
	}
	w->lsafe[li] = loan_safe(md, w, li, w->hr) != 0;
	return w->lsafe[li];
}

/* ------------------------------------------------------------------ */
/* One path */

/*
 * The first loan li >= from in w->cand (md->nloan when none).  A loan
 * not in it is proved safe with the E of its assets unchanged since:
 * loan_skipped() would return 1 at once, so it is not visited; a fill
 * puts the loans of its asset back (fill()), before or after the
 * current one, as a visit of every loan would find them.
 */
static inline size_t
next_cand(const struct mc_model *md, const struct mc_ws *w, size_t from)
{
	size_t wi = from / 64;
	uint64_t m;

	if (wi >= md->nlw)
		return md->nloan;
	m = w->cand[wi] & (~(uint64_t)0 << (from % 64));
	while (m == 0) {
		if (++wi >= md->nlw)
			return md->nloan;
		m = w->cand[wi];
	}
#if defined(__GNUC__)
	return wi * 64 + (size_t)__builtin_ctzll(m);
#else
	from = wi * 64;
	while (!(m & 1)) {
		m >>= 1;
		from++;
	}
	return from;
#endif
}

/* docs/model.md 4.2 steps 1-3 for the current step: rounds until nothing moves. */
static void
step_rounds(const struct mc_model *md, struct mc_ws *w, double *slip)
{
	size_t a, li, n = md->n;
	int changed, first;

	for (li = 0; li < md->nloan; li++)
		w->nsteps[li] = 0;
	/*
	 * Rounds: advance every cascade to its fixed point, then the
	 * loans (each advancing its assets after its steps).  Only a
	 * loan step can make an earlier loan or cascade move again, so
	 * a round without one ends the step.  The static figure
	 * (original amounts, every Gamma = 1) reads nothing a round
	 * changes: it is judged in the first round, together with the
	 * loan's first judgment while the loan is untouched.
	 */
	first = 1;
	do {
		changed = 0;
		for (a = 0; a < n; a++) {
			if (!md->as[a].in_loan)
				continue;	/* see settle() */
			if (may_fire(md, w, a, LC_DOWN))
				advance(md, w, a, LC_DOWN);
			if (may_fire(md, w, a, LC_UP))
				advance(md, w, a, LC_UP);
		}
		for (li = next_cand(md, w, 0); li < md->nloan;
		    li = next_cand(md, w, li + 1)) {
			const struct mc_loan *l = &md->loan[li];
			struct judge js, jc, *pre = NULL;

			if (w->dead[li] && w->sliq[li]) {
				/* nothing left to judge on this path */
				w->cand[li / 64] &= ~((uint64_t)1 << (li % 64));
				w->pmask[li / 64] &= ~((uint64_t)1 << (li % 64));
				continue;
			}
			if (loan_skipped(md, w, li)) {
				/* see loans_mark(); back when E moves */
				w->cand[li / 64] &= ~((uint64_t)1 << (li % 64));
				continue;
			}
			if (first && !w->sliq[li]) {
				if (!w->liq[li] && !w->dead[li]) {
					judge_both(md, w, l, md->agg0 +
					    l->go, &js, &jc);
					pre = &jc;
				} else {
					judge(md, w, l, md->agg0 +
					    l->go, 0, 0.0, &js);
				}
				if (!js.never && js.ymin <= 0.0)
					w->sliq[li] = 1;
			}
			if (!w->dead[li])
				changed |= loan_round(md, w, li, slip,
				    pre);
		}
		first = 0;
	} while (changed);
}


/*
 * Draw the whole path before anything is judged: per step the normals e,
 * e' (and e''), in the order a step-by-step walk draws them, stored by
 * component (eb[i S + t]); then per asset the correlated moves N = L e,
 * Z = L e', Z' = L e'' over all steps (the same sums in the same order),
 * the log path xs, its end extremes lo / hi, and the bounds lb / ub of
 * its true extremes that loans_safe() and path_reaches() use.  Returns
 * the largest |(e', e'')|^2 of a step (loans_safe()).
 */
static double
draw_path(const struct mc_model *md, struct mc_ws *w)
{
	size_t n = md->n, S = md->steps, ne = md->ne, a, i, t;
	double *restrict eb = w->eb, *restrict dx = w->dx;
	double rmax2 = 0.0;
	int eup = md->need_z[LC_UP] && !md->need_z[LC_DOWN];
	/* the drawn components of e' and e'' */
	size_t i0 = md->need_z[LC_DOWN] ? n : 2 * n;
	size_t i1 = md->need_z[LC_UP] ? 3 * n : (ne > n ? 2 * n : n);

	for (t = 0; t < S; t++) {
		/*
		 * e'' (e') only when some maximum (minimum) can matter:
		 * nothing reads Z' (Z) otherwise (see need_z); the vectors
		 * not drawn stay 0 (ws_alloc).
		 */
		lc_rng_normals(&w->rng, &md->zig, eb + t, ne, S);
		if (eup)
			lc_rng_normals(&w->rng, &md->zig, eb + 2 * n * S + t,
			    n, S);
	}
	if (md->nloan > 0)
		for (t = 0; t < S; t++) {
			double r2 = 0.0;

			for (i = i0; i < i1; i++)
				r2 += eb[i * S + t] * eb[i * S + t];
			if (r2 > rmax2)
				rmax2 = r2;
		}
	for (a = 0; a < n; a++) {
		const double *L = md->L + a * n;
		double *restrict xs = w->xs + a * (S + 1);
		double *restrict zs = w->zs + a * S;
		double *restrict zps = w->zps + a * S;
		double s = w->s[a], x, lo = 0.0, hi = 0.0;
		double lb = md->need_lb[a] ? HUGE_VAL : -HUGE_VAL;
		double ub = md->need_ub[a] ? -HUGE_VAL : HUGE_VAL;

		/* Z (Z') stays 0 when e' (e'') is not drawn */
		for (t = 0; t < S; t++)
			dx[t] = 0.0;
		for (i = 0; i <= a; i++) {
			const double *e0 = eb + i * S;
			double li = L[i];

			for (t = 0; t < S; t++)
				dx[t] += li * e0[t];
		}
		if (i0 == n) {
			for (t = 0; t < S; t++)
				zs[t] = 0.0;
			for (i = 0; i <= a; i++) {
				const double *e1 = eb + (n + i) * S;
				double li = L[i];

				for (t = 0; t < S; t++)
					zs[t] += li * e1[t];
			}
		}
		if (i1 == 3 * n) {
			for (t = 0; t < S; t++)
				zps[t] = 0.0;
			for (i = 0; i <= a; i++) {
				const double *e2 = eb + (2 * n + i) * S;
				double li = L[i];

				for (t = 0; t < S; t++)
					zps[t] += li * e2[t];
			}
		}
		xs[0] = x = 0.0;
		for (t = 0; t < S; t++) {
			x += s * dx[t];
			xs[t + 1] = x;
			lo = x < lo ? x : lo;
			hi = x > hi ? x : hi;
		}
		w->lo[a] = lo;
		w->hi[a] = hi;
		/*
		 * Loose bounds first: the lowest end minus the excursion of
		 * the most negative Z of the path (tight_bounds() pairs
		 * them step by step when these do not settle the path).
		 */
		if (md->need_lb[a]) {
			double zm = 0.0;

			for (t = 0; t < S; t++)
				zm = zs[t] < zm ? zs[t] : zm;
			lb = lo - s * hz_bound(md, -zm);
		}
		if (md->need_ub[a]) {
			double zm = 0.0;

			/* U' = Phi(Z') too: a negative Z' makes a high max */
			for (t = 0; t < S; t++)
				zm = zps[t] < zm ? zps[t] : zm;
			ub = hi + s * hz_bound(md, -zm);
		}
		w->lb[a] = lb;
		w->ub[a] = ub;
	}
	return rmax2;
}

/*
 * The bounds lb / ub of draw_path() step by step: each step's own end
 * extreme with its own excursion bound.  Tighter, and a table lookup per
 * step.
 */
static void
tight_bounds(const struct mc_model *md, struct mc_ws *w)
{
	size_t n = md->n, S = md->steps, a, t;

	for (a = 0; a < n; a++) {
		const double *xs = w->xs + a * (S + 1);
		const double *zs = w->zs + a * S, *zps = w->zps + a * S;
		double s = w->s[a], lb = HUGE_VAL, ub = -HUGE_VAL;

		if (md->need_lb[a]) {
			for (t = 0; t < S; t++) {
				double m = xs[t] < xs[t + 1] ? xs[t] :
				    xs[t + 1];

				m -= s * hz_bound(md, -zs[t]);
				lb = m < lb ? m : lb;
			}
			w->lb[a] = lb;
		}
		if (md->need_ub[a]) {
			for (t = 0; t < S; t++) {
				double m = xs[t] > xs[t + 1] ? xs[t] :
				    xs[t + 1];

				m += s * hz_bound(md, -zps[t]);
				ub = m > ub ? m : ub;
			}
			w->ub[a] = ub;
		}
	}
}

/*
 * The drawn path walked step by step (docs/model.md 4.2 with its coupled loans):
 * what a path costs when loans_safe() cannot rule the loans out.
 */
static void
replay(const struct mc_model *md, struct mc_ws *w, double *slip)
{
	size_t n = md->n, S = md->steps, a, i, li;

	for (a = 0; a < n; a++) {
		const struct mc_asset *as = &md->as[a];

		w->lo[a] = w->hi[a] = 0.0;
		w->certlo[a] = HUGE_VAL;
		w->certhi[a] = -HUGE_VAL;
		w->npendlo[a] = w->npendhi[a] = 0;
		w->ex1[a] = as->P;
		w->gam[a] = 1.0;
		w->gver[a] = 0;
		w->ever[a] = 0;
		w->bver[a] = UINT64_MAX;	/* plo / phi not computed */
		for (i = 0; i < 2; i++) {
			w->b[2 * a + i] = as->ad[i].b0;
			w->gd[2 * a + i] = 1.0;
		}
	}
	for (i = 0; i < md->nent; i++)
		w->amt[i] = md->ent[i].amount;
	memcpy(w->agg, md->agg0, md->nagg * sizeof(double));
	w->nwalk++;	/* every cov stale: loan_cov() */
	for (li = 0; li < md->nloan; li++) {
		w->dead[li] = 0;
		w->jt[li] = 0;
		w->dfirst[li] = 0.0;
	}
	/*
	 * the loans not proved safe; the proved ones join when E moves
	 * (the parked ones when the bounds drift: park_drift())
	 */
	memset(w->cand, 0, md->nlw * sizeof(uint64_t));
	for (i = 0; i < md->nlw; i++)
		w->pmask[i] = ~w->park[i];
	for (a = 0; a < n; a++)
		w->fdr[a] = 1.0;
	w->dprod = 1.0;
	for (li = 0; li < md->nloan; li++)
		if (!w->lsafe[li])
			w->cand[li / 64] |= (uint64_t)1 << (li % 64);
	for (w->t = 0; w->t < S; w->t++) {
		uint32_t t = w->t;

		for (a = 0; a < n; a++) {
			double x1 = w->xs[a * (S + 1) + t + 1];

			w->Z[a] = w->zs[a * S + t];
			w->Zp[a] = w->zps[a * S + t];
			if (x1 < w->lo[a])
				w->lo[a] = x1;
			if (x1 > w->hi[a])
				w->hi[a] = x1;
			w->curlo[a] = w->curhi[a] = ST_FRESH;
			if (md->as[a].in_loan) {
				w->ex0[a] = w->ex1[a];
				w->ex1[a] = md->as[a].P * fast_exp(md, x1);
			}
		}
		step_rounds(md, w, slip);
	}
}

/*
 * LC_MC_BOOK_LOSS records of path p (book_sim.h): the request's steps
 * among the fired triggers (exact counts: settle()) give their value by
 * the prefix sums lv[k] and their positions by nl[k]; each position's
 * last fired step gives its bad debt: a constant (bc[k], prefix sums) or,
 * when its account still holds the asset, at the end price F = P
 * exp(x(T)) Gamma(T) of its asset.  Coupled loans add the value their steps
 * seized (loan_step()) and their end bad debt max(0, debt - collateral)
 * at the end prices (compound-v3: its shortfall at absorption).
 */
static void
book_loss(const struct mc_model *md, struct mc_ws *w, size_t p, int walked)
{
	size_t a, i, li, S = md->steps;
	double val = w->bval, bad = w->bbad;
	uint32_t nl = 0;

	for (a = 0; a < md->n; a++) {
		double x = md->as[a].P * exp(w->xs[a * (S + 1) + S]), g = NAN;

		if (walked && md->as[a].in_loan)
			g = w->gam[a];
		for (i = 0; i < 2; i++) {
			const struct mc_ad *ad = &md->as[a].ad[i];
			size_t k = w->k[2 * a + i], j;

			val += ad->lv[k];
			bad += ad->bc[k];
			nl += ad->nl[k];
			for (j = 0; j < ad->nbs && ad->bs[j].t < k; j++) {
				const struct mc_bstep *b = &ad->bs[j];
				double y;

				if (b->next != NONE && b->next < k)
					continue;	/* not its last step */
				if (isnan(g)) {
					const struct mc_ad *d0 =
					    &md->as[a].ad[LC_DOWN];
					const struct mc_ad *d1 =
					    &md->as[a].ad[LC_UP];

					g = lc_price_factor(d0->c->curve,
					    d0->side, d0->c->cum[w->k[2 * a]],
					    md->scale) *
					    lc_price_factor(d1->c->curve,
					    d1->side, d1->c->cum[w->k[2 * a + 1]],
					    md->scale);
				}
				y = b->a + b->b * x * g;
				bad += b->s + (y > 0.0 ? y : 0.0);
			}
		}
	}
	for (li = 0; li < md->nloan; li++) {
		const struct mc_loan *l = &md->loan[li];
		double cv, dv;
		size_t v;

		if (!w->liq[li])
			continue;
		nl++;
		if (l->proto == LC_COMPOUND_V3)
			continue;	/* its shortfall is in bbad */
		for (v = 0; v < l->nv; v++) {
			uint32_t a2 = md->va[l->ev + v];

			w->q[v] = md->as[a2].P *
			    exp(w->xs[a2 * (S + 1) + S]) * w->gam[a2];
		}
		loan_values(md, w, l, w->q, &cv, &dv);
		bad += dv > cv ? dv - cv : 0.0;
	}
	md->pv[p] = val;
	md->pb[p] = bad;
	md->pn[p] = nl;
}

/* The path's variance draw, step sigmas and normals (draw_path()). */
static double
path_begin(const struct mc_model *md, struct mc_ws *w)
{
	double f = 1.0, rs = 1.0 / sqrt((double)md->steps);
	size_t a;

	if (md->nu > 0.0) {
		double W = lc_rng_chisq(&w->rng, &md->zig, md->nu);

		f = sqrt((md->nu - 2.0) / W);
	}
	for (a = 0; a < md->n; a++)
		w->s[a] = md->as[a].sigh * f * rs;
	return draw_path(md, w);
}

double
mc_pilot(const struct mc_model *md)
{
	struct mc_ws *w = &md->ws[0];
	size_t n = md->paths < LC_MC_CHUNK ? md->paths : LC_MC_CHUNK, p, li;
	uint64_t skip0 = w->cnt_skip, park0 = w->cnt_park, open = 0;

	if (md->nloan == 0 || n == 0)
		return 0.0;
	lc_rng_seed(&w->rng, md->seed, 0);
	for (p = 0; p < n; p++) {
		double rmax2 = path_begin(md, w);

		if (loans_safe(md, w, rmax2))
			continue;
		tight_bounds(md, w);
		if (loans_safe(md, w, rmax2))
			continue;
		loans_mark(md, w, rmax2);
		for (li = 0; li < md->nloan; li++)
			open += !w->lsafe[li];
	}
	w->cnt_skip = skip0;
	w->cnt_park = park0;
	return (double)open / (double)n;
}

static void
run_path(const struct mc_model *md, struct mc_ws *w, double *slip, size_t p)
{
	size_t n = md->n, a, i, li;
	double rmax2 = 0.0;
	int any, casc, safe;

	for (a = 0; a < n; a++) {
		w->k[2 * a] = w->k[2 * a + 1] = 0;
		w->E[2 * a] = w->E[2 * a + 1] = 0.0;
	}
	for (li = 0; li < md->nloan; li++)
		w->liq[li] = w->sliq[li] = w->lsafe[li] = 0;
	memset(w->park, 0, md->nlw * sizeof(uint64_t));
	w->nparked = 0;
	w->bval = w->bbad = 0.0;
	rmax2 = path_begin(md, w);
	safe = md->nloan == 0;
	if (!safe && !(md->flags & LC_MC_NO_PRUNE)) {
		/* the loose bounds first; the step-by-step ones if need be */
		safe = loans_safe(md, w, rmax2);
		if (!safe) {
			tight_bounds(md, w);
			safe = loans_safe(md, w, rmax2);
			if (!safe)
				loans_mark(md, w, rmax2);
		}
	}
	if (md->flags & LC_MC_NO_PRUNE) {
		/* tests: every path walked, every count exact */
		w->cnt_walk++;
		if (md->nloan > 0)
			replay(md, w, slip);
		for (a = 0; a < n; a++)
			if (!md->as[a].in_loan) {
				settle(md, w, a, LC_DOWN);
				settle(md, w, a, LC_UP);
			}
	} else if (safe) {
		/* E = 0 throughout: each cascade is 4.1 at its extreme */
		for (a = 0; a < n; a++) {
			settle_fast(md, w, a, LC_DOWN);
			settle_fast(md, w, a, LC_UP);
		}
	} else {
		w->cnt_walk++;
		replay(md, w, slip);
		for (a = 0; a < n; a++)
			if (!md->as[a].in_loan) {
				settle_fast(md, w, a, LC_DOWN);
				settle_fast(md, w, a, LC_UP);
			}
	}
	/* records */
	any = md->any_now;
	casc = 0;
	for (li = 0; li < md->nloan; li++) {
		w->cnt_liq[li] += w->liq[li];
		w->cnt_sliq[li] += w->sliq[li];
		any |= w->liq[li];
	}
	for (a = 0; a < n; a++) {
		for (i = 0; i < 2; i++) {
			const struct mc_ad *ad = &md->as[a].ad[i];
			size_t ki = w->k[2 * a + i];
			int ev;

			if (ad->minfirst != NONE && ki > ad->minfirst)
				any = 1;
			if (w->E[2 * a + i] == 0.0)
				ev = ad->kstar != NONE && ki >= ad->kstar;
			else
				ev = lc_impact_bps(ad->c->curve, ad->side,
				    w->E[2 * a + i] + ad->c->cum[ki],
				    md->scale) >= md->thr;
			if (ev) {
				w->cnt_ev[2 * a + i]++;
				if (ad->exposed)
					casc = 1;
			}
			if (w->hist != NULL)
				w->hist[ad->hoff + ki]++;
		}
	}
	w->cnt_any += (uint64_t)any;
	w->cnt_casc += (uint64_t)casc;
	if (md->pv != NULL)
		book_loss(md, w, p, (md->flags & LC_MC_NO_PRUNE) || !safe);
}

/* ------------------------------------------------------------------ */
/* Chunks and tables */

void
mc_chunk_run(void *ctx, size_t worker, size_t chunk)
{
	const struct mc_model *md = ctx;
	struct mc_ws *w = &md->ws[worker];
	size_t p0 = chunk * LC_MC_CHUNK, p1 = p0 + LC_MC_CHUNK, p;
	double *slip = md->chunk_slip + chunk * md->nloan * 2;

	if (p1 > md->paths)
		p1 = md->paths;
	lc_rng_seed(&w->rng, md->seed, (uint64_t)chunk);
	for (p = p0; p < p1; p++)
		run_path(md, w, slip, p);
}

void
mc_walk_tables(struct mc_model *md)
{
	size_t i;

	for (i = 0; i < 64; i++)
		md->exp2j[i] = exp2((double)i / 64.0);
	for (i = 0; i < md->nloan; i++)
		loan_fold(md, &md->loan[i], md->amt0,
		    md->agg0 + md->loan[i].go);
	for (i = 0; i <= HZ_N; i++)
		md->hz[i] = sqrt(-0.5 * ln_phi(-(double)i / HZ_PER)) *
		    (1.0 + 1e-9) + 1e-12;
}

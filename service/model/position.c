/*
 * position.c - loans and perps (docs/model.md section 3): entry normalization,
 * health factor, classification, static liquidation prices, the common
 * move, protocol defaults and the liquidation ladder.
 *
 * Design
 * ------
 * Loan health with collateral c_i (threshold LT_i) and debt d_j:
 *
 *     HF = W / D,   W = sum_i c_i P_i LT_i,   D = sum_j d_j P_j.
 *
 * HF is linear-fractional in any one price, so every question here has a
 * closed form:
 *
 * - liquidation price of asset a (others fixed), with C_a = c_a LT_a and
 *   D_a = d_a the amounts of a on each side and W', D' the sums over the
 *   other entries:  x = (D' - W') / (C_a - D_a); down when C_a > D_a, up
 *   when C_a < D_a, null when equal or when x <= 0;
 * - common move: scaling every volatile price by k = 1 + m gives
 *   HF(k) = (Ws + k Wv) / (Ds + k Dv), so k = (Ds - Ws) / (Wv - Dv) and a
 *   move exists when k > 0 (m > -1).
 *
 * Ladder of a single-asset loan.  Only one price moves, so the account
 * reduces to scalars: the volatile quantity q (collateral for a fall, debt
 * for a rise) with its threshold, the stable collateral value Cs and its
 * LT-weighted value Ws, and the stable debt value Ds.  Stable collateral
 * is seized pro rata, which scales Cs and Ws by the same factor, so the
 * scalars stay exact.  One step at price p (docs/model.md 3.1):
 *
 *     R = cf * (total debt value at p),   seized value V = R (1 + bonus),
 *
 * volatile collateral first, then stable; a volatile debt is bought back
 * for min(R / p, q) units and the rest of R repays stable debt.  When the
 * collateral is worth less than V all of it goes, R shrinks to
 * value / (1 + bonus) and the remaining debt is bad debt (the ladder ends).
 * With lt * (1 + bonus) <= 1 (lc_loan_check) every step at HF = 1 leaves
 * HF >= 1 at p, so the next trigger lies beyond p and the ladder runs
 * monotonically in the direction of the move.
 *
 * Steps at or beyond P ("liquidated now") take place at P with their
 * quantities computed at P.  A loan whose volatile asset is the debt and
 * whose stable collateral does not cover its stable debt (x <= 0) is
 * liquidatable at every price: its steps happen at P.
 *
 * Perps: equity = margin +- size (P - entry), maintenance = size P mmr -
 * amount.  The liquidation price solves equity = maintenance; with tiers,
 * maintenance is continuous and piecewise linear in the notional, so
 * exactly one tier's root has its notional inside that tier.
 *
 * Everything here is pure and reentrant; no allocation.
 */
#include <math.h>

#include "cascade/position.h"

/* Relative slack of the lt * (1 + bonus) <= 1 check (rounding of 1/lt). */
#define LT_BONUS_SLACK 1e-12
/* A ladder stops when its debt value falls below this share of the first. */
#define DEBT_REL_STOP 1e-9
/* aave-v3 full_liquidation_below when the caller leaves it NAN. */
#define AAVE_FULL_LIQ_DEFAULT 2000.0

static int
is_volatile(const double *vol, uint32_t a)
{
	return vol[a] > 0.0;
}

void
lc_entries_normalize(struct lc_entry *e, size_t *n)
{
	size_t i, j, out = 0;

	/*
	 * Quadratic in the number of distinct assets, which is bounded by the
	 * market's asset count; loans hold a handful of entries.
	 */
	for (i = 0; i < *n; i++) {
		struct lc_entry cur = e[i];

		if (!(cur.amount > 0.0))
			continue;
		for (j = 0; j < out; j++)
			if (e[j].asset == cur.asset)
				break;
		if (j < out) {
			double a = e[j].amount + cur.amount;

			e[j].lt = (e[j].amount * e[j].lt + cur.amount * cur.lt)
			    / a;
			e[j].amount = a;
		} else {
			e[out++] = cur;
		}
	}
	*n = out;
}

static void
loan_totals(const struct lc_loan *l, const double *price, double *w,
    double *d)
{
	size_t i;

	*w = 0.0;
	*d = 0.0;
	for (i = 0; i < l->ncoll; i++)
		if (l->coll[i].amount > 0.0)
			*w += l->coll[i].amount * price[l->coll[i].asset] *
			    l->coll[i].lt;
	for (i = 0; i < l->ndebt; i++)
		if (l->debt[i].amount > 0.0)
			*d += l->debt[i].amount * price[l->debt[i].asset];
}

double
lc_loan_health(const struct lc_loan *l, const double *price)
{
	double w, d;

	loan_totals(l, price, &w, &d);
	if (!(d > 0.0))
		return NAN;
	return w / d;
}

double
lc_loan_bonus(const struct lc_loan *l, const double *price)
{
	size_t i;

	switch (l->protocol) {
	case LC_COMPOUND_V3:
		return 0.0;	/* absorb: the bonus plays no part */
	case LC_MORPHO_BLUE: {
		double best = -1.0, lt = 1.0;

		if (!isnan(l->bonus))
			return l->bonus;
		for (i = 0; i < l->ncoll; i++) {
			double v = l->coll[i].amount * price[l->coll[i].asset];

			if (l->coll[i].amount > 0.0 && v > best) {
				best = v;
				lt = l->coll[i].lt;
			}
		}
		return fmin(0.15, 1.0 / (0.3 * lt + 0.7) - 1.0);
	}
	case LC_AAVE_V3:
	default: {
		double ltmax = 0.0;

		if (!isnan(l->bonus))
			return l->bonus;
		for (i = 0; i < l->ncoll; i++)
			if (l->coll[i].amount > 0.0 && l->coll[i].lt > ltmax)
				ltmax = l->coll[i].lt;
		if (!(ltmax > 0.0))
			return 0.05;
		return fmin(0.05, 1.0 / ltmax - 1.0);
	}
	}
}

double
lc_loan_close_factor(const struct lc_loan *l)
{
	switch (l->protocol) {
	case LC_COMPOUND_V3:
		return 1.0;
	case LC_MORPHO_BLUE:
		return isnan(l->close_factor) ? 1.0 : l->close_factor;
	case LC_AAVE_V3:
	default:
		return isnan(l->close_factor) ? 0.5 : l->close_factor;
	}
}

enum lc_status
lc_loan_check(const struct lc_loan *l, const double *price, size_t *bad_coll)
{
	double b;
	size_t i;

	if (l->protocol == LC_COMPOUND_V3)
		return LC_OK;
	b = lc_loan_bonus(l, price);
	for (i = 0; i < l->ncoll; i++) {
		if (!(l->coll[i].amount > 0.0))
			continue;
		if (l->coll[i].lt * (1.0 + b) > 1.0 + LT_BONUS_SLACK) {
			if (bad_coll != NULL)
				*bad_coll = i;
			return LC_EINVAL;
		}
	}
	return LC_OK;
}

enum lc_loan_kind
lc_loan_classify(const struct lc_loan *l, const double *vol, uint32_t *asset,
    enum lc_dir *dir)
{
	uint32_t a0 = 0;
	int found = 0, sides = 0;
	size_t i;

	for (i = 0; i < l->ncoll + l->ndebt; i++) {
		int is_coll = i < l->ncoll;
		const struct lc_entry *e = is_coll ? &l->coll[i] :
		    &l->debt[i - l->ncoll];

		if (!(e->amount > 0.0) || !is_volatile(vol, e->asset))
			continue;
		if (!found) {
			a0 = e->asset;
			found = 1;
		} else if (e->asset != a0) {
			return LC_LOAN_COUPLED;
		}
		sides |= is_coll ? 1 : 2;
	}
	if (!found)
		return LC_LOAN_STABLE;
	if (sides == 3)
		return LC_LOAN_COUPLED;
	if (asset != NULL)
		*asset = a0;
	if (dir != NULL)
		*dir = sides == 1 ? LC_DOWN : LC_UP;
	return LC_LOAN_SINGLE;
}

/* Has asset a already appeared before entry `idx` (coll then debt)? */
static int
seen_before(const struct lc_loan *l, const double *vol, size_t idx,
    uint32_t a)
{
	size_t i;

	for (i = 0; i < idx; i++) {
		const struct lc_entry *e = i < l->ncoll ? &l->coll[i] :
		    &l->debt[i - l->ncoll];

		if (e->amount > 0.0 && is_volatile(vol, e->asset) &&
		    e->asset == a)
			return 1;
	}
	return 0;
}

enum lc_status
lc_loan_liq_prices(const struct lc_loan *l, const double *price,
    const double *vol, struct lc_liq_price *out, size_t cap, size_t *n)
{
	size_t idx, i, cnt = 0;

	for (idx = 0; idx < l->ncoll + l->ndebt; idx++) {
		const struct lc_entry *e = idx < l->ncoll ? &l->coll[idx] :
		    &l->debt[idx - l->ncoll];
		uint32_t a = e->asset;
		double ca = 0.0, da = 0.0, wo = 0.0, dof = 0.0, den, x;
		struct lc_liq_price lp;

		if (!(e->amount > 0.0) || !is_volatile(vol, a) ||
		    seen_before(l, vol, idx, a))
			continue;
		for (i = 0; i < l->ncoll; i++) {
			const struct lc_entry *c = &l->coll[i];

			if (!(c->amount > 0.0))
				continue;
			if (c->asset == a)
				ca += c->amount * c->lt;
			else
				wo += c->amount * price[c->asset] * c->lt;
		}
		for (i = 0; i < l->ndebt; i++) {
			const struct lc_entry *d = &l->debt[i];

			if (!(d->amount > 0.0))
				continue;
			if (d->asset == a)
				da += d->amount;
			else
				dof += d->amount * price[d->asset];
		}
		lp.asset = a;
		den = ca - da;
		if (den > 0.0) {
			lp.dir = LC_DOWN;
			x = (dof - wo) / den;
		} else if (den < 0.0) {
			lp.dir = LC_UP;
			x = (wo - dof) / -den;
		} else {
			/* HF does not depend on P_a: no liquidation price. */
			lp.dir = idx < l->ncoll ? LC_DOWN : LC_UP;
			x = NAN;
		}
		lp.price = x > 0.0 && isfinite(x) ? x : (double)NAN;
		if (cnt < cap && out != NULL)
			out[cnt] = lp;
		cnt++;
	}
	if (out == NULL) {
		*n = cnt;
		return LC_OK;
	}
	*n = cnt < cap ? cnt : cap;
	return cnt <= cap ? LC_OK : LC_ELIMIT;
}

double
lc_loan_common_move(const struct lc_loan *l, const double *price,
    const double *vol)
{
	double ws = 0.0, wv = 0.0, ds = 0.0, dv = 0.0, k;
	int nvol = 0;
	size_t i;

	for (i = 0; i < l->ncoll; i++) {
		const struct lc_entry *c = &l->coll[i];
		double v;

		if (!(c->amount > 0.0))
			continue;
		v = c->amount * price[c->asset] * c->lt;
		if (is_volatile(vol, c->asset)) {
			wv += v;
			nvol++;
		} else {
			ws += v;
		}
	}
	for (i = 0; i < l->ndebt; i++) {
		const struct lc_entry *d = &l->debt[i];
		double v;

		if (!(d->amount > 0.0))
			continue;
		v = d->amount * price[d->asset];
		if (is_volatile(vol, d->asset)) {
			dv += v;
			nvol++;
		} else {
			ds += v;
		}
	}
	if (nvol == 0)
		return NAN;
	if (wv == dv)	/* HF independent of the move: 1 everywhere or never */
		return (ds == ws && ds + dv > 0.0) ? 0.0 : (double)NAN;
	k = (ds - ws) / (wv - dv);
	if (!(k > 0.0) || !isfinite(k))
		return NAN;
	return (k - 1.0) * 100.0;
}

/* Close factor of one step: aave-v3 goes to 1 on small accounts. */
static double
step_close_factor(const struct lc_loan *l, double cf, double coll_value,
    double debt_value)
{
	double below;

	if (l->protocol != LC_AAVE_V3)
		return cf;
	below = isnan(l->full_liq_below) ? AAVE_FULL_LIQ_DEFAULT :
	    l->full_liq_below;
	if (below > 0.0 && (coll_value < below || debt_value < below))
		return 1.0;
	return cf;
}

/* Scalar state of a single-asset loan (see the design block). */
struct single {
	double q;	/* volatile quantity (collateral or debt) */
	double lt;	/* its threshold (collateral) */
	double cs;	/* stable collateral value */
	double ws;	/* stable collateral value * LT */
	double ds;	/* stable debt value */
};

static void
single_state(const struct lc_loan *l, const double *price, uint32_t a,
    struct single *s)
{
	double qlt = 0.0;
	size_t i;

	s->q = s->lt = s->cs = s->ws = s->ds = 0.0;
	for (i = 0; i < l->ncoll; i++) {
		const struct lc_entry *c = &l->coll[i];

		if (!(c->amount > 0.0))
			continue;
		if (c->asset == a) {
			s->q += c->amount;
			qlt += c->amount * c->lt;
		} else {
			s->cs += c->amount * price[c->asset];
			s->ws += c->amount * price[c->asset] * c->lt;
		}
	}
	for (i = 0; i < l->ndebt; i++) {
		const struct lc_entry *d = &l->debt[i];

		if (!(d->amount > 0.0))
			continue;
		if (d->asset == a)
			s->q += d->amount;
		else
			s->ds += d->amount * price[d->asset];
	}
	s->lt = s->q > 0.0 ? qlt / s->q : 0.0;
}

/* Seize `v` of stable collateral pro rata (v <= cs). */
static void
seize_stable(struct single *s, double v)
{
	double f;

	if (!(v > 0.0) || !(s->cs > 0.0))
		return;
	f = v >= s->cs ? 1.0 : v / s->cs;
	s->cs *= 1.0 - f;
	s->ws *= 1.0 - f;
	if (f >= 1.0)
		s->cs = s->ws = 0.0;
}

/* mirror of ladder_up() in position.c (the other direction): keep in step */
static void
ladder_down(const struct lc_loan *l, double p0, double cf0, double bonus,
    int now, struct single *s, struct lc_ladder *out)
{
	double d0 = 0.0;

	out->liquidatable_now = now;
	while (out->n < LC_MAX_STEPS) {
		double x, p, r, v, qty;

		if (!(s->q > 0.0) || !(s->ds > 0.0) || !(s->lt > 0.0))
			break;
		x = (s->ds - s->ws) / (s->q * s->lt);
		if ((out->n == 0 && now) || x >= p0)
			p = p0;
		else if (x > 0.0)
			p = x;
		else
			break;	/* never liquidatable again */
		if (out->n == 0)
			d0 = s->ds;
		if (l->protocol == LC_COMPOUND_V3) {
			out->price[out->n] = p;
			out->qty[out->n] = s->q;
			out->n++;
			break;
		}
		r = step_close_factor(l, cf0, s->q * p + s->cs, s->ds) * s->ds;
		v = r * (1.0 + bonus);
		if (v > s->q * p + s->cs) {
			/* Bad debt: everything is seized, the rest written off. */
			out->price[out->n] = p;
			out->qty[out->n] = s->q;
			out->n++;
			break;
		}
		if (v < s->q * p) {
			qty = v / p;
			s->q -= qty;
		} else {
			qty = s->q;
			seize_stable(s, v - s->q * p);
			s->q = 0.0;
		}
		s->ds -= r;
		out->price[out->n] = p;
		out->qty[out->n] = qty;
		out->n++;
		if (s->ds < DEBT_REL_STOP * d0)
			break;
	}
}

/* mirror of ladder_down() in position.c (the other direction): keep in step */
static void
ladder_up(const struct lc_loan *l, double p0, double cf0, double bonus,
    int now, struct single *s, struct lc_ladder *out)
{
	double d0 = 0.0;

	out->liquidatable_now = now;
	while (out->n < LC_MAX_STEPS) {
		double x, p, dv, r, v, qty;
		int bad = 0;

		if (!(s->q > 0.0) || !(s->cs > 0.0))
			break;
		x = (s->ws - s->ds) / s->q;
		/* x <= 0: liquidatable at every price, so at P. */
		p = ((out->n == 0 && now) || x <= p0) ? p0 : x;
		dv = s->q * p + s->ds;
		if (out->n == 0)
			d0 = dv;
		if (l->protocol == LC_COMPOUND_V3) {
			/* Absorbed by the protocol: no market purchase. */
			out->price[out->n] = p;
			out->qty[out->n] = 0.0;
			out->n++;
			break;
		}
		r = step_close_factor(l, cf0, s->cs, dv) * dv;
		v = r * (1.0 + bonus);
		if (v > s->cs) {
			bad = 1;
			v = s->cs;
			r = v / (1.0 + bonus);
		}
		qty = r / p;
		if (qty >= s->q) {
			qty = s->q;
			s->q = 0.0;
		} else {
			s->q -= qty;
		}
		s->ds -= r - qty * p;
		if (s->ds < 0.0)
			s->ds = 0.0;
		seize_stable(s, v);
		out->price[out->n] = p;
		out->qty[out->n] = qty;
		out->n++;
		if (bad || s->q * p + s->ds < DEBT_REL_STOP * d0)
			break;
	}
}

enum lc_status
lc_loan_ladder(const struct lc_loan *l, const double *price,
    const double *vol, struct lc_ladder *out)
{
	struct single s;
	uint32_t a;
	enum lc_dir dir;
	double cf, bonus;
	int now;

	out->n = 0;
	out->liquidatable_now = 0;
	if (lc_loan_classify(l, vol, &a, &dir) != LC_LOAN_SINGLE)
		return LC_EINVAL;
	out->asset = a;
	out->dir = dir;
	cf = lc_loan_close_factor(l);
	bonus = lc_loan_bonus(l, price);
	single_state(l, price, a, &s);
	/* The same test as the answer's `liquidatable` (HF <= 1). */
	now = lc_loan_health(l, price) <= 1.0;
	if (dir == LC_DOWN)
		ladder_down(l, price[a], cf, bonus, now, &s, out);
	else
		ladder_up(l, price[a], cf, bonus, now, &s, out);
	return LC_OK;
}

/* Root of equity = maintenance for one (mmr, amount). */
static double
perp_formula(const struct lc_perp *p, double mmr, double amount)
{
	if (p->is_short)
		return (p->margin + p->size * p->entry + amount) /
		    (p->size * (1.0 + mmr));
	return (p->size * p->entry - p->margin - amount) /
	    (p->size * (1.0 - mmr));
}

static void
tier_range(const struct lc_tier *t, size_t n, size_t k, double *lo,
    double *hi)
{
	*lo = k == 0 ? 0.0 : t[k - 1].max_notional;
	*hi = k + 1 == n ? (double)INFINITY : t[k].max_notional;
}

/* mmr and amount in effect at notional `notional`. */
static void
perp_mm_at(const struct lc_perp *p, double notional, double *mmr,
    double *amount)
{
	size_t k;

	if (p->ntiers == 0) {
		*mmr = p->mmr;
		*amount = p->mm_amount;
		return;
	}
	for (k = 0; k + 1 < p->ntiers; k++)
		if (notional <= p->tiers[k].max_notional)
			break;
	*mmr = p->tiers[k].mmr;
	*amount = p->tiers[k].amount;
}

static int
perp_liquidatable_at(const struct lc_perp *p, double px)
{
	double mmr, amount, equity, maint;

	perp_mm_at(p, p->size * px, &mmr, &amount);
	equity = p->is_short ? p->margin + p->size * (p->entry - px) :
	    p->margin + p->size * (px - p->entry);
	maint = p->size * px * mmr - amount;
	return equity <= maint;
}

enum lc_status
lc_perp_liq_price(const struct lc_perp *p, const double *price,
    struct lc_perp_liq *out)
{
	double x;
	size_t k, tier = 0;

	if (p->ntiers == 0) {
		x = perp_formula(p, p->mmr, p->mm_amount);
	} else {
		double best = INFINITY;

		/*
		 * Exactly one tier's root lies inside its tier; at a tier
		 * boundary rounding may put both neighbours a hair outside,
		 * so fall back to the root closest to its tier.
		 */
		x = NAN;
		for (k = 0; k < p->ntiers; k++) {
			double xk = perp_formula(p, p->tiers[k].mmr,
			    p->tiers[k].amount);
			double nk = p->size * xk, lo, hi, dist;

			tier_range(p->tiers, p->ntiers, k, &lo, &hi);
			dist = nk <= lo ? lo - nk : (nk > hi ? nk - hi : 0.0);
			if (dist < best) {
				best = dist;
				x = xk;
				tier = k;
			}
			if (dist == 0.0)
				break;
		}
	}
	out->tier = tier;
	out->always = 0;
	if (x > 0.0 && isfinite(x)) {
		out->price = x;
	} else {
		out->price = NAN;
		out->always = p->is_short;
	}
	out->liquidatable_now = out->always ||
	    perp_liquidatable_at(p, price[p->asset]);
	return LC_OK;
}

enum lc_status
lc_perp_ladder(const struct lc_perp *p, const double *price,
    struct lc_ladder *out)
{
	struct lc_perp_liq pl;
	double p0 = price[p->asset];

	out->asset = p->asset;
	out->dir = p->is_short ? LC_UP : LC_DOWN;
	out->n = 0;
	lc_perp_liq_price(p, price, &pl);
	out->liquidatable_now = pl.liquidatable_now;
	if (!pl.liquidatable_now && isnan(pl.price))
		return LC_OK;
	if (pl.liquidatable_now ||
	    (p->is_short ? pl.price <= p0 : pl.price >= p0))
		out->price[0] = p0;
	else
		out->price[0] = pl.price;
	out->qty[0] = p->size;
	out->n = 1;
	return LC_OK;
}

enum lc_status
lc_perp_check_tiers(const struct lc_tier *t, size_t n, size_t *bad)
{
	size_t k;

	if (n == 0) {
		if (bad != NULL)
			*bad = 0;
		return LC_EINVAL;
	}
	for (k = 0; k < n; k++) {
		int ok = t[k].mmr >= 0.0 && t[k].mmr < 1.0 &&
		    t[k].amount >= 0.0 && isfinite(t[k].amount);

		/* The last tier's max_notional is ignored (docs/model.md 3.2). */
		if (k + 1 < n)
			ok = ok && t[k].max_notional > 0.0 &&
			    isfinite(t[k].max_notional) &&
			    (k == 0 || t[k].max_notional >
			    t[k - 1].max_notional);
		if (ok && k > 0) {
			double want = t[k - 1].amount + t[k - 1].max_notional *
			    (t[k].mmr - t[k - 1].mmr);

			ok = fabs(t[k].amount - want) <=
			    1e-6 * fmax(1.0, fabs(t[k].amount));
		}
		if (!ok) {
			if (bad != NULL)
				*bad = k;
			return LC_EINVAL;
		}
	}
	return LC_OK;
}

/*
 * book_sim.c - a whole book under correlated price paths (book_sim.h,
 * docs/model.md 8.4): the Monte Carlo engine's per-path records
 * (LC_MC_BOOK_LOSS, mc_walk.c) summed up into expected values, standard
 * errors, values at risk and quantiles.
 *
 * Design
 * ------
 * Records.  Per path p the engine gives the liquidated value V_p, the bad
 * debt B_p and the liquidated positions N_p (book_sim.h defines them).
 * Over N paths:
 *   expected   = (1/N) sum_p X_p                    (summed in path order)
 *   std_error  = sqrt(sum_p (X_p - mean)^2 / (N - 1)) / sqrt(N)   (0: N = 1)
 *   q-quantile = X_(ceil(q N)), the ceil(q N)-th smallest (1-based), i.e.
 *                the smallest x with #{X_p <= x} >= q N; VaR at 0.95 and
 *                0.99 are the quantiles of the loss X (V or B)
 *   p_any      = #{N_p > 0} / N,  std error sqrt(p (1 - p) / N).
 * The per-path arrays are indexed by path (chunk c holds paths
 * c LC_MC_CHUNK ..), so the sums and the sorts see the same numbers
 * whatever the thread count.
 *
 * Unreachable coupled loans.  A loan whose health cannot reach 1 at any
 * positive prices (no volatile debt, and stable collateral * LT above
 * the debt, or no debt at all) is never liquidated on any path and has
 * no bad debt (HF > 1 means collateral above debt): it is left out of
 * the engine's request, so it costs nothing and does not count in the
 * cost bound.  Single-asset positions are cascade triggers and cost
 * O(log) per path whatever their number.
 *
 * Cost bound.  paths * steps * (volatile assets + u), u the mean number
 * of coupled loans per path that the engine's up-front bound does not
 * prove safe, measured on the first chunk's paths before the run (a
 * loan proved safe on a path is not judged there: mc_walk.c).
 */
#include "cascade/book_sim.h"
#include "cascade/mc.h"
#include "cascade/position.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const double lc_book_sim_q[LC_BOOK_SIM_NQ] = { 0.5, 0.75, 0.9, 0.95, 0.99,
	0.999 };

int
lc_book_sim_reachable(const struct lc_position *p, const double *price,
    const double *vol)
{
	const struct lc_loan *l;
	double sc = 0.0, sd = 0.0;
	size_t i;

	if (p->type != LC_POS_LOAN)
		return 1;
	l = &p->u.loan;
	for (i = 0; i < l->ndebt; i++) {
		if (!(l->debt[i].amount > 0.0))
			continue;
		if (vol[l->debt[i].asset] > 0.0)
			return 1;
		sd += l->debt[i].amount * price[l->debt[i].asset];
	}
	if (!(sd > 0.0))
		return 0;	/* no debt */
	for (i = 0; i < l->ncoll; i++)
		if (!(vol[l->coll[i].asset] > 0.0) && l->coll[i].amount > 0.0)
			sc += l->coll[i].amount * price[l->coll[i].asset] *
			    l->coll[i].lt;
	return !(sc > sd);
}

static void
mark_assets(const struct lc_position *p, const double *vol,
    unsigned char *inv)
{
	size_t j;

	if (p->type == LC_POS_PERP) {
		if (vol[p->u.perp.asset] > 0.0)
			inv[p->u.perp.asset] = 1;
		return;
	}
	for (j = 0; j < p->u.loan.ncoll + p->u.loan.ndebt; j++) {
		const struct lc_entry *e = j < p->u.loan.ncoll ?
		    &p->u.loan.coll[j] : &p->u.loan.debt[j - p->u.loan.ncoll];

		if (vol[e->asset] > 0.0 && e->amount > 0.0)
			inv[e->asset] = 1;
	}
}

double
lc_book_sim_cost(const struct lc_request *req, size_t nassets)
{
	unsigned char *inv = calloc(nassets + 1, 1);
	size_t i, n = 0;

	if (inv == NULL)
		return HUGE_VAL;
	for (i = 0; i < req->npos; i++) {
		if (req->pos[i].type == LC_POS_LOAN &&
		    !lc_book_sim_reachable(&req->pos[i], req->price, req->vol))
			continue;
		mark_assets(&req->pos[i], req->vol, inv);
	}
	for (i = 0; i < nassets; i++)
		n += inv[i];
	free(inv);
	return (double)req->params.paths * (double)req->params.steps *
	    (double)n;
}

static int
cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;

	return (a > b) - (a < b);
}

/* x_(ceil(q n)) of the sorted s[0..n). */
static double
quantile(const double *s, size_t n, double q)
{
	double r = ceil(q * (double)n - 1e-9);
	size_t k = r < 1.0 ? 1 : (size_t)r;

	return s[(k > n ? n : k) - 1];
}

/* The figures of x[0..n) (n >= 1); sorts the scratch s. */
static void
figure(const double *x, double *s, size_t n, struct lc_book_sim_fig *f)
{
	double sum = 0.0, ss = 0.0, mean;
	size_t i;

	for (i = 0; i < n; i++)
		sum += x[i];
	mean = sum / (double)n;
	for (i = 0; i < n; i++)
		ss += (x[i] - mean) * (x[i] - mean);
	f->expected = mean;
	f->std_error = n > 1 ? sqrt(ss / (double)(n - 1) / (double)n) : 0.0;
	memcpy(s, x, n * sizeof(double));
	qsort(s, n, sizeof(double), cmp_double);
	f->var95 = quantile(s, n, 0.95);
	f->var99 = quantile(s, n, 0.99);
	for (i = 0; i < LC_BOOK_SIM_NQ; i++)
		f->q[i] = quantile(s, n, lc_book_sim_q[i]);
	f->max = s[n - 1];
}

enum lc_status
lc_book_sim(const struct lc_market *m, const struct lc_request *req,
    double max_cost, struct lc_book_sim *out)
{
	struct lc_position *pos = NULL;
	struct lc_request r = *req;
	struct lc_mc_stats st;
	enum lc_status rc = LC_ENOMEM;
	double *s = NULL, *nl = NULL;
	size_t i, n = 0, np;
	uint64_t any = 0;

	memset(out, 0, sizeof(*out));
	lc_mc_stats_init(&st);
	pos = malloc((req->npos + 1) * sizeof(*pos));
	if (pos == NULL)
		goto out;
	for (i = 0; i < req->npos; i++) {
		const struct lc_position *p = &req->pos[i];
		uint32_t a;
		enum lc_dir d;

		if (p->type == LC_POS_LOAN &&
		    lc_loan_classify(&p->u.loan, req->vol, &a, &d) ==
		    LC_LOAN_COUPLED) {
			if (!lc_book_sim_reachable(p, req->price, req->vol)) {
				out->unreachable++;
				continue;
			}
			out->coupled++;
		} else if (p->type == LC_POS_PERP ||
		    lc_loan_classify(&p->u.loan, req->vol, &a, &d) ==
		    LC_LOAN_SINGLE) {
			out->singles++;
		}
		pos[n++] = *p;
	}
	r.pos = pos;
	r.npos = n;
	rc = lc_mc_estimate_bounded(m, &r, LC_MC_BOOK_LOSS, max_cost,
	    &out->cost, &st);
	if (rc != LC_OK)
		goto out;
	rc = LC_ENOMEM;
	np = st.paths;
	s = malloc((np + 1) * sizeof(double));
	nl = malloc((np + 1) * sizeof(double));
	if (s == NULL || nl == NULL)
		goto out;
	for (i = 0; i < np; i++) {
		nl[i] = (double)st.path_nliq[i];
		any += st.path_nliq[i] > 0;
	}
	out->paths = st.paths;
	out->walked = st.walked;
	out->skipped = st.skipped;
	out->shrunk = st.shrunk;
	figure(st.path_value, s, np, &out->value);
	figure(st.path_bad_debt, s, np, &out->bad_debt);
	figure(nl, s, np, &out->positions);
	out->p_any = (double)any / (double)np;
	out->p_any_se = sqrt(out->p_any * (1.0 - out->p_any) / (double)np);
	rc = LC_OK;
out:
	free(nl);
	free(s);
	free(pos);
	lc_mc_stats_release(&st);
	return rc;
}

/*
 * snapshot.c - build, share and publish immutable market snapshots
 * (snapshot.h).
 *
 * Building does all the work a request would otherwise repeat: the venues'
 * curves of each side are summed into one aggregated curve (SPEC 1), the
 * stored levels are split by side and sorted into cascade order (sell by
 * price descending, buy ascending, ties by insertion seq), the correlation
 * matrix is filled (1 on the diagonal, stored pairs symmetric, default_rho
 * elsewhere) and symbols get a sorted index for O(log n) lookup.  The
 * ETag is a 64-bit FNV-1a hash of the content, so equal data gives equal
 * tags across restarts; `version` is a process-wide counter.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "snapshot.h"

const double snapshot_depth_bps[SNAPSHOT_NDEPTH] = {
    100.0, 200.0, 500.0, 1000.0};

static atomic_uint_fast64_t snapshot_counter;

struct lvl {
	double price;
	double qty;
	int64_t seq;
};

static int
cmp_sell(const void *a, const void *b)
{
	const struct lvl *x = a, *y = b;

	if (x->price != y->price)
		return x->price > y->price ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

static int
cmp_buy(const void *a, const void *b)
{
	const struct lvl *x = a, *y = b;

	if (x->price != y->price)
		return x->price < y->price ? -1 : 1;
	return (x->seq > y->seq) - (x->seq < y->seq);
}

/* Sorting the symbol index needs the assets: pass them through a pair. */
struct symref {
	const char *sym;
	uint32_t idx;
};

static int
cmp_sym(const void *a, const void *b)
{
	const struct symref *x = a, *y = b;

	return strcmp(x->sym, y->sym);
}

static uint64_t
fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= c[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static uint64_t
fnv_str(uint64_t h, const char *s)
{
	return fnv(h, s, strlen(s) + 1);
}

static uint64_t
fnv_dbl(uint64_t h, double v)
{
	return fnv(h, &v, sizeof(v));
}

static void
snapshot_free(struct snapshot *s)
{
	size_t i;
	int k;

	if (s == NULL)
		return;
	for (i = 0; i < s->nassets; i++) {
		if (s->assets != NULL) {
			for (k = 0; k < 2; k++) {
				free(s->assets[i].side[k].venues);
				free(s->assets[i].levels[k].price);
				free(s->assets[i].levels[k].qty);
			}
		}
		if (s->lc_assets != NULL)
			for (k = 0; k < 2; k++)
				lc_curve_release(&s->lc_assets[i].curve[k]);
	}
	free(s->assets);
	free(s->lc_assets);
	free(s->rho);
	free(s->by_symbol);
	free(s->strings);
	free(s);
}

/* Aggregate the curves and copy the venues of one side of one asset. */
static int
build_side(struct snapshot *s, size_t ai, const struct md_asset *a, int side,
    char **strp, int64_t *newest)
{
	struct snapshot_asset *sa = &s->assets[ai];
	struct snapshot_side *ss = &sa->side[side];
	struct lc_curve *venues = NULL;
	size_t k, n = 0, nv = 0;
	int rc = -1, j;

	ss->oldest_epoch = INT64_MAX;
	for (k = 0; k < a->ncurves; k++)
		if (a->curves[k].side == side)
			n++;
	if (n == 0) {
		rc = 0;
		goto out;
	}
	venues = calloc(n, sizeof(*venues));
	ss->venues = calloc(n, sizeof(*ss->venues));
	if (venues == NULL || ss->venues == NULL)
		goto out;
	for (k = 0; k < a->ncurves; k++) {
		const struct md_curve *c = &a->curves[k];
		struct snapshot_venue *v;
		size_t l;

		if (c->side != side)
			continue;
		venues[nv] = c->curve; /* shallow: aggregate only reads */
		v = &ss->venues[nv++];
		l = strlen(c->venue) + 1;
		memcpy(*strp, c->venue, l);
		v->venue = *strp;
		*strp += l;
		l = strlen(c->as_of) + 1;
		memcpy(*strp, c->as_of, l);
		v->as_of = *strp;
		*strp += l;
		v->npoints = c->curve.n;
		if (codec_time_parse(
			c->as_of, strlen(c->as_of), NULL, &v->as_of_epoch) != 0)
			v->as_of_epoch = INT64_MIN;
		if (v->as_of_epoch < ss->oldest_epoch)
			ss->oldest_epoch = v->as_of_epoch;
		if (v->as_of_epoch != INT64_MIN &&
		    (sa->depth_as_of[0] == '\0' || v->as_of_epoch > *newest)) {
			snprintf(sa->depth_as_of, sizeof(sa->depth_as_of), "%s",
			    c->as_of);
			*newest = v->as_of_epoch;
		}
	}
	ss->nvenues = nv;
	if (lc_curve_aggregate(&s->lc_assets[ai].curve[side], venues, nv) !=
	    LC_OK)
		goto out;
	for (j = 0; j < SNAPSHOT_NDEPTH; j++)
		ss->depth_qty[j] = lc_curve_depth(
		    &s->lc_assets[ai].curve[side], snapshot_depth_bps[j], 1.0);
	rc = 0;
out:
	free(venues);
	return rc;
}

static int
build_levels(struct snapshot_asset *sa, const struct md_asset *a)
{
	struct lvl *tmp = NULL;
	size_t k, n[2] = {0, 0};
	int side, rc = -1;

	for (k = 0; k < a->nlevels; k++)
		if (a->levels[k].side == LC_DOWN || a->levels[k].side == LC_UP)
			n[a->levels[k].side]++;
	if (a->nlevels > 0) {
		tmp = malloc(a->nlevels * sizeof(*tmp));
		if (tmp == NULL)
			goto out;
	}
	for (side = 0; side < 2; side++) {
		struct snapshot_levels *sl = &sa->levels[side];
		size_t m = 0;

		if (n[side] == 0)
			continue;
		for (k = 0; k < a->nlevels; k++) {
			if (a->levels[k].side != side)
				continue;
			tmp[m].price = a->levels[k].price;
			tmp[m].qty = a->levels[k].qty;
			tmp[m].seq = a->levels[k].seq;
			m++;
		}
		qsort(
		    tmp, m, sizeof(*tmp), side == LC_DOWN ? cmp_sell : cmp_buy);
		sl->price = malloc(m * sizeof(double));
		sl->qty = malloc(m * sizeof(double));
		if (sl->price == NULL || sl->qty == NULL)
			goto out;
		sl->n = m;
		for (k = 0; k < m; k++) {
			sl->price[k] = tmp[k].price;
			sl->qty[k] = tmp[k].qty;
			sl->total_qty += tmp[k].qty;
			if (side == LC_DOWN ? tmp[k].price >= a->price
					    : tmp[k].price <= a->price)
				sl->nstale++;
		}
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

static uint64_t
content_hash(const struct market_data *md, double default_rho)
{
	uint64_t h = 14695981039346656037ULL;
	size_t i, k, j;

	h = fnv_dbl(h, default_rho);
	for (i = 0; i < md->nassets; i++) {
		const struct md_asset *a = &md->assets[i];

		h = fnv_str(h, a->symbol);
		h = fnv_dbl(h, a->price);
		h = fnv_dbl(h, a->vol);
		for (k = 0; k < a->ncurves; k++) {
			const struct md_curve *c = &a->curves[k];

			h = fnv_str(h, c->venue);
			h = fnv(h, &c->side, sizeof(c->side));
			h = fnv_str(h, c->as_of);
			for (j = 0; j < c->curve.n; j++) {
				h = fnv_dbl(h, c->curve.bps[j]);
				h = fnv_dbl(h, c->curve.qty[j]);
			}
		}
		for (k = 0; k < a->nlevels; k++) {
			const struct md_level *l = &a->levels[k];

			h = fnv_dbl(h, l->price);
			h = fnv_dbl(h, l->qty);
			h = fnv(h, &l->side, sizeof(l->side));
			h = fnv(h, &l->seq, sizeof(l->seq));
		}
	}
	for (i = 0; i < md->ncorr; i++) {
		h = fnv_str(h, md->corr[i].a);
		h = fnv_str(h, md->corr[i].b);
		h = fnv_dbl(h, md->corr[i].rho);
	}
	return h;
}

int
snapshot_build(
    const struct market_data *md, double default_rho, struct snapshot **out)
{
	struct snapshot *s = NULL;
	struct symref *refs = NULL;
	char *strp;
	size_t i, k, n, nstr = 0;
	long usd;
	int rc = -1;

	*out = NULL;
	if (!(default_rho >= -1.0 && default_rho <= 1.0))
		goto out;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto out;
	atomic_init(&s->refs, 1);
	s->default_rho = default_rho;
	usd = market_data_find(md, "USD");
	n = md->nassets + (usd < 0 ? 1 : 0);
	for (i = 0; i < md->nassets; i++)
		for (k = 0; k < md->assets[i].ncurves; k++)
			nstr += strlen(md->assets[i].curves[k].venue) +
			    strlen(md->assets[i].curves[k].as_of) + 2;
	s->assets = calloc(n, sizeof(*s->assets));
	s->lc_assets = calloc(n, sizeof(*s->lc_assets));
	s->rho = malloc(n * n * sizeof(double));
	s->by_symbol = malloc(n * sizeof(uint32_t));
	s->strings = malloc(nstr + 1);
	refs = malloc(n * sizeof(*refs));
	if (s->assets == NULL || s->lc_assets == NULL || s->rho == NULL ||
	    s->by_symbol == NULL || s->strings == NULL || refs == NULL)
		goto out;
	s->nassets = n;
	strp = s->strings;
	for (i = 0; i < n; i++) {
		struct snapshot_asset *sa = &s->assets[i];

		for (k = 0; k < 2; k++) {
			lc_curve_init(&s->lc_assets[i].curve[k]);
			sa->side[k].oldest_epoch = INT64_MAX;
		}
	}
	for (i = 0; i < md->nassets; i++) {
		const struct md_asset *a = &md->assets[i];
		struct snapshot_asset *sa = &s->assets[i];
		int64_t newest = INT64_MIN;

		memcpy(sa->symbol, a->symbol, sizeof(sa->symbol));
		sa->symbol[MD_SYMBOL_MAX] = '\0';
		sa->price = a->price;
		sa->vol = a->vol;
		memcpy(sa->updated_at, a->updated_at, sizeof(sa->updated_at));
		sa->updated_at[MD_TIME_MAX - 1] = '\0';
		if (build_side(s, i, a, LC_BID, &strp, &newest) != 0 ||
		    build_side(s, i, a, LC_ASK, &strp, &newest) != 0 ||
		    build_levels(sa, a) != 0)
			goto out;
	}
	if (usd < 0) {
		struct snapshot_asset *sa = &s->assets[n - 1];

		snprintf(sa->symbol, sizeof(sa->symbol), "USD");
		sa->price = 1.0;
		sa->vol = 0.0;
		sa->implicit = 1;
		s->usd = (uint32_t)(n - 1);
	} else {
		s->usd = (uint32_t)usd;
	}
	for (i = 0; i < n; i++) {
		struct lc_asset_market *la = &s->lc_assets[i];
		struct snapshot_asset *sa = &s->assets[i];

		la->symbol = sa->symbol;
		la->price = sa->price;
		la->vol = sa->vol;
		for (k = 0; k < 2; k++) {
			la->levels[k].n = sa->levels[k].n;
			la->levels[k].price = sa->levels[k].price;
			la->levels[k].qty = sa->levels[k].qty;
		}
		refs[i].sym = sa->symbol;
		refs[i].idx = (uint32_t)i;
	}
	qsort(refs, n, sizeof(*refs), cmp_sym);
	for (i = 0; i < n; i++)
		s->by_symbol[i] = refs[i].idx;
	for (i = 0; i < n; i++)
		for (k = 0; k < n; k++)
			s->rho[i * n + k] = i == k ? 1.0 : default_rho;
	for (i = 0; i < md->ncorr; i++) {
		long a = snapshot_find(s, md->corr[i].a);
		long b = snapshot_find(s, md->corr[i].b);
		double r = md->corr[i].rho;

		if (a < 0 || b < 0 || a == b || !(r >= -1.0 && r <= 1.0))
			continue;
		s->rho[(size_t)a * n + (size_t)b] = r;
		s->rho[(size_t)b * n + (size_t)a] = r;
	}
	s->market.nassets = n;
	s->market.assets = s->lc_assets;
	s->market.default_rho = default_rho;
	s->market.rho = s->rho;
	s->version = atomic_fetch_add(&snapshot_counter, 1) + 1;
	snprintf(s->etag, sizeof(s->etag), "\"%016llx\"",
	    (unsigned long long)content_hash(md, default_rho));
	*out = s;
	s = NULL;
	rc = 0;
out:
	free(refs);
	snapshot_free(s);
	return rc;
}

struct snapshot *
snapshot_ref(struct snapshot *s)
{
	if (s != NULL)
		atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
	return s;
}

void
snapshot_unref(struct snapshot *s)
{
	if (s == NULL)
		return;
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		snapshot_free(s);
}

long
snapshot_find_n(const struct snapshot *s, const char *symbol, size_t len)
{
	size_t lo = 0, hi;

	if (s == NULL || len > MD_SYMBOL_MAX)
		return -1;
	hi = s->nassets;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *m = s->assets[s->by_symbol[mid]].symbol;
		int c = strncmp(symbol, m, len);

		if (c == 0 && m[len] != '\0')
			c = -1; /* symbol is a proper prefix of m */
		if (c == 0)
			return (long)s->by_symbol[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

long
snapshot_find(const struct snapshot *s, const char *symbol)
{
	if (symbol == NULL)
		return -1;
	return snapshot_find_n(s, symbol, strlen(symbol));
}

int
snapshot_cell_init(struct snapshot_cell *c)
{
	c->cur = NULL;
	return pthread_mutex_init(&c->mu, NULL) == 0 ? 0 : -1;
}

void
snapshot_cell_release(struct snapshot_cell *c)
{
	if (c == NULL)
		return;
	snapshot_unref(c->cur);
	c->cur = NULL;
	pthread_mutex_destroy(&c->mu);
}

struct snapshot *
snapshot_cell_get(struct snapshot_cell *c)
{
	struct snapshot *s;

	pthread_mutex_lock(&c->mu);
	s = snapshot_ref(c->cur);
	pthread_mutex_unlock(&c->mu);
	return s;
}

void
snapshot_cell_publish(struct snapshot_cell *c, struct snapshot *s)
{
	struct snapshot *old;

	pthread_mutex_lock(&c->mu);
	old = c->cur;
	c->cur = s;
	pthread_mutex_unlock(&c->mu);
	snapshot_unref(old);
}

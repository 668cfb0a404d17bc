/*
 * snapshot.c - build, share and publish immutable market snapshots
 * (snapshot.h).
 *
 * Building does all the work a request would otherwise repeat: the venues'
 * curves of each side are summed into one aggregated curve (docs/model.md 1), the
 * stored levels are split by side and sorted into cascade order (sell by
 * price descending, buy ascending, ties by insertion seq), the correlation
 * matrix is filled (1 on the diagonal, stored pairs symmetric, default_rho
 * elsewhere) and symbols get a sorted index for O(log n) lookup.
 *
 * Each stored asset is built into its own reference-counted block; a
 * snapshot is a thin table over blocks plus the correlation matrix, so a
 * write to one asset rebuilds one block and the table (snapshot_update).
 * Blocks are never written after they are built and published.
 *
 * Levels arrive in seq order (the store loads them so), so a stable sort
 * by price alone gives the cascade order: a merge sort on (price, qty).
 * Input not in seq order (hand-built data) falls back to qsort by (price,
 * seq).  The levels live in a level set of their own, shared by the
 * asset's successive blocks while they do not change; an append sorts
 * only the new levels and merges them after the old ones (their seqs are
 * all larger), so it costs O(old + new log new) and no reload of the old
 * rows.
 *
 * The etag is a 64-bit FNV-1a hash (hash.h) over default_rho, each
 * asset's content hash (everything GET /v1/markets shows of it: symbol,
 * price, volatility, updated_at, curves, levels) and the correlations, so
 * equal data gives equal tags across restarts and however the snapshot
 * was reached; `version` is a process-wide counter.  The listing's ETag
 * is built from both (api_markets.c).
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cascade/cascade.h"
#include "hash.h"
#include "rfc3339.h"
#include "snapshot.h"

const double snapshot_depth_bps[SNAPSHOT_NDEPTH] = {
    100.0, 200.0, 500.0, 1000.0};

static atomic_uint_fast64_t snapshot_counter;

struct lvl {
	double price;
	double qty;
	int64_t seq;
	uint32_t src;	/* index into the level set's sources */
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

/* y strictly before x in cascade order (desc: sell, price descending). */
#define BEFORE(y, x, desc) ((desc) ? (y) > (x) : (y) < (x))

/*
 * Stable sort of v[0..n-1] by price (desc or asc) with scratch w[n]:
 * insertion sort of runs of 32, then bottom-up merges.  Returns the buffer
 * that holds the result (v or w).
 */
static struct lvl *
sort_by_price(struct lvl *v, struct lvl *w, size_t n, int desc)
{
	const size_t run = 32;
	struct lvl *src = v, *dst = w, *t;
	size_t i, j, lo, mid, hi, a, b, k, width;

	for (lo = 0; lo < n; lo += run) {
		hi = lo + run < n ? lo + run : n;
		for (i = lo + 1; i < hi; i++) {
			struct lvl x = v[i];

			for (j = i; j > lo && BEFORE(x.price, v[j - 1].price,
			    desc); j--)
				v[j] = v[j - 1];
			v[j] = x;
		}
	}
	for (width = run; width < n; width *= 2) {
		for (lo = 0; lo < n; lo += 2 * width) {
			mid = lo + width < n ? lo + width : n;
			hi = lo + 2 * width < n ? lo + 2 * width : n;
			a = lo;
			b = mid;
			k = lo;
			while (a < mid && b < hi) {
				if (BEFORE(src[b].price, src[a].price, desc))
					dst[k++] = src[b++];
				else
					dst[k++] = src[a++];
			}
			while (a < mid)
				dst[k++] = src[a++];
			while (b < hi)
				dst[k++] = src[b++];
		}
		t = src;
		src = dst;
		dst = t;
	}
	return src;
}

/*
 * Stable LSD radix sort of v[0..n-1] by price, for prices that are all
 * positive and finite: their IEEE bit patterns order like the values
 * (complemented for descending).  11-bit digits, a pass skipped when all
 * keys share its digit.  Returns the buffer that holds the result, or
 * NULL on no memory (v unchanged).
 */
#define RADIX_BITS 11
#define RADIX_SIZE (1u << RADIX_BITS)

static uint64_t
price_key(double p, int desc)
{
	uint64_t u;

	memcpy(&u, &p, sizeof(u));
	return desc ? ~u : u;
}

static struct lvl *
radix_by_price(struct lvl *v, struct lvl *w, size_t n, int desc)
{
	size_t *cnt, i, sum, c;
	struct lvl *t;
	unsigned shift, d;

	cnt = malloc(RADIX_SIZE * sizeof(*cnt));
	if (cnt == NULL)
		return NULL;
	for (shift = 0; shift < 64; shift += RADIX_BITS) {
		memset(cnt, 0, RADIX_SIZE * sizeof(*cnt));
		for (i = 0; i < n; i++)
			cnt[(price_key(v[i].price, desc) >> shift) &
			    (RADIX_SIZE - 1)]++;
		d = (unsigned)((price_key(v[0].price, desc) >> shift) &
		    (RADIX_SIZE - 1));
		if (cnt[d] == n)
			continue; /* one digit everywhere: order unchanged */
		for (sum = 0, d = 0; d < RADIX_SIZE; d++) {
			c = cnt[d];
			cnt[d] = sum;
			sum += c;
		}
		for (i = 0; i < n; i++)
			w[cnt[(price_key(v[i].price, desc) >> shift) &
			    (RADIX_SIZE - 1)]++] = v[i];
		t = v;
		v = w;
		w = t;
	}
	free(cnt);
	return v;
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

/* ---- blocks ---------------------------------------------------------- */

static void
levelset_free(struct snapshot_levelset *ls)
{
	int k;

	if (ls == NULL)
		return;
	for (k = 0; k < 2; k++) {
		free(ls->price[k]);
		free(ls->qty[k]);
		free(ls->src[k]);
	}
	for (k = 0; k < (int)ls->nsources; k++)
		free(ls->sources[k]);
	free(ls->sources);
	free(ls);
}

static struct snapshot_levelset *
levelset_ref(struct snapshot_levelset *ls)
{
	if (ls != NULL)
		atomic_fetch_add_explicit(&ls->refs, 1, memory_order_relaxed);
	return ls;
}

static void
levelset_unref(struct snapshot_levelset *ls)
{
	if (ls == NULL)
		return;
	if (atomic_fetch_sub_explicit(&ls->refs, 1, memory_order_acq_rel) == 1)
		levelset_free(ls);
}

static void
block_free(struct snapshot_block *b)
{
	int k;

	if (b == NULL)
		return;
	for (k = 0; k < 2; k++) {
		free(b->sa.side[k].venues);
		lc_curve_release(&b->curve[k]);
	}
	levelset_unref(b->lv);
	free(b->strings);
	free(b);
}

static struct snapshot_block *
block_ref(struct snapshot_block *b)
{
	if (b != NULL)
		atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
	return b;
}

static void
block_unref(struct snapshot_block *b)
{
	if (b == NULL)
		return;
	if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		block_free(b);
}

/* Aggregate the curves and copy the venues of one side of one asset. */
static int
build_side(struct snapshot_block *blk, const struct md_asset *a, int side,
    char **strp, int64_t *newest)
{
	struct snapshot_asset *sa = &blk->sa;
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
		struct rfc3339_time t;
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
		if (rfc3339_parse(c->as_of, strlen(c->as_of), &t) == 0)
			v->as_of_epoch = t.sec;
		else
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
	if (lc_curve_aggregate(&blk->curve[side], venues, nv) != LC_OK)
		goto out;
	for (j = 0; j < SNAPSHOT_NDEPTH; j++)
		ss->depth_qty[j] = lc_curve_depth(
		    &blk->curve[side], snapshot_depth_bps[j], 1.0);
	rc = 0;
out:
	free(venues);
	return rc;
}

/* Level k of an asset: the write form first, then the packed form. */
static void
level_at(const struct md_asset *a, size_t k, struct lvl *out, int *side)
{
	if (k < a->nlevels) {
		out->price = a->levels[k].price;
		out->qty = a->levels[k].qty;
		out->seq = a->levels[k].seq;
		*side = a->levels[k].side;
	} else {
		const struct md_packed_level *p = &a->packed[k - a->nlevels];

		out->price = p->price;
		out->qty = p->qty;
		out->seq = p->seq;
		*side = p->side;
	}
}

/*
 * Gather the levels of one side of `a` (write form, then packed) into v,
 * in cascade order; *n gets their count.  `w` is scratch of the same
 * size; returns the buffer that holds the result.
 */
static struct lvl *
gather_side(const struct md_asset *a, int side, const uint32_t *srcmap,
    struct lvl *v, struct lvl *w, size_t *n)
{
	size_t k, m = 0, total = a->nlevels + a->npacked;
	int sd, sorted = 1, positive = 1;
	struct lvl x, *r;

	for (k = 0; k < total; k++) {
		level_at(a, k, &x, &sd);
		if (sd != side)
			continue;
		if (m > 0 && x.seq < v[m - 1].seq)
			sorted = 0;
		if (!(x.price > 0 && x.price <= DBL_MAX))
			positive = 0;
		x.src = srcmap[k];
		v[m++] = x;
	}
	*n = m;
	/* seq order in: a stable sort by price keeps ties by seq */
	if (sorted && positive && m >= 256 &&
	    (r = radix_by_price(v, w, m, side == LC_DOWN)) != NULL)
		return r;
	if (sorted)
		return sort_by_price(v, w, m, side == LC_DOWN);
	qsort(v, m, sizeof(*v), side == LC_DOWN ? cmp_sell : cmp_buy);
	return v;
}

/* FNV of the levels of `a` in stream order, continuing from h. */
static uint64_t
levels_hash(uint64_t h, const struct md_asset *a, int64_t *max_seq)
{
	size_t k;
	struct lvl x;
	int sd;

	for (k = 0; k < a->nlevels + a->npacked; k++) {
		level_at(a, k, &x, &sd);
		/* a 64-bit word per step: millions of levels, an internal tag */
		h = hash_fnv_word(h, price_key(x.price, 0));
		h = hash_fnv_word(h, price_key(x.qty, 0));
		h = hash_fnv_word(h, (uint64_t)(int64_t)sd);
		h = hash_fnv_word(h, (uint64_t)x.seq);
		if (x.seq > *max_seq)
			*max_seq = x.seq;
	}
	return h;
}

/* ---- level sources (the liquidation map stacks by them) */

/* Index of source s in ls->sources, added when new; -1 on no memory. */
static long
source_index(struct snapshot_levelset *ls, const char *s)
{
	char **v;
	size_t k;

	for (k = ls->nsources; k-- > 0;)
		if (strcmp(ls->sources[k], s) == 0)
			return (long)k;
	if (ls->nsources >= SNAPSHOT_MAX_SOURCES)
		return SNAPSHOT_MAX_SOURCES - 1; /* the last one: "other" */
	v = realloc(ls->sources, (ls->nsources + 1) * sizeof(*v));
	if (v == NULL)
		return -1;
	ls->sources = v;
	if (ls->nsources == SNAPSHOT_MAX_SOURCES - 1)
		s = "other";
	v[ls->nsources] = strdup(s);
	if (v[ls->nsources] == NULL)
		return -1;
	return (long)ls->nsources++;
}

/*
 * ls->sources: old's (same indices), then those of a's levels first seen
 * in stream order; srcmap[k]: the index of a's level k.  0, or -1.
 */
static int
levelset_sources(struct snapshot_levelset *ls,
    const struct snapshot_levelset *old, const struct md_asset *a,
    uint32_t *srcmap)
{
	const char *s, *last = NULL;
	long idx = 0;
	size_t k;

	for (k = 0; old != NULL && k < old->nsources; k++)
		if (source_index(ls, old->sources[k]) < 0)
			return -1;
	for (k = 0; k < a->nlevels + a->npacked; k++) {
		if (k < a->nlevels)
			s = a->levels[k].source;
		else if (a->packed[k - a->nlevels].batch < a->nbatches)
			s = a->batches[a->packed[k - a->nlevels].batch].source;
		else
			s = "";
		if (last == NULL || strcmp(s, last) != 0) {
			idx = source_index(ls, s);
			if (idx < 0)
				return -1;
			last = s;
		}
		srcmap[k] = (uint32_t)idx;
	}
	return 0;
}

/*
 * The level set of `a` (old NULL), or `old`'s levels followed by those of
 * `a`, all of which come after old's in seq order (an append): the new
 * ones are sorted alone, then merged after old's on equal prices, which
 * is where a full sort by (price, seq) puts them.
 */
static struct snapshot_levelset *
levelset_build(const struct snapshot_levelset *old, const struct md_asset *a)
{
	struct snapshot_levelset *ls;
	struct lvl *tmp = NULL, *scratch = NULL, *res;
	uint32_t *srcmap = NULL;
	size_t total = a->nlevels + a->npacked, m, i, j, k, no;
	int side;

	ls = calloc(1, sizeof(*ls));
	if (ls == NULL)
		return NULL;
	atomic_init(&ls->refs, 1);
	ls->hash = old != NULL ? old->hash : HASH_FNV_INIT;
	ls->max_seq = old != NULL ? old->max_seq : 0;
	ls->hash = levels_hash(ls->hash, a, &ls->max_seq);
	tmp = malloc(total * sizeof(*tmp) + 1);
	scratch = malloc(total * sizeof(*scratch) + 1);
	srcmap = malloc(total * sizeof(*srcmap) + 1);
	if (tmp == NULL || scratch == NULL || srcmap == NULL ||
	    levelset_sources(ls, old, a, srcmap) != 0)
		goto fail;
	for (side = 0; side < 2; side++) {
		int desc = side == LC_DOWN;
		double sum = 0;

		res = gather_side(a, side, srcmap, tmp, scratch, &m);
		no = old != NULL ? old->n[side] : 0;
		if (m + no == 0)
			continue;
		ls->price[side] = malloc((m + no) * sizeof(double));
		ls->qty[side] = malloc((m + no) * sizeof(double));
		ls->src[side] = malloc((m + no) * sizeof(uint32_t));
		if (ls->price[side] == NULL || ls->qty[side] == NULL ||
		    ls->src[side] == NULL)
			goto fail;
		i = j = k = 0;
		while (i < no || j < m) {
			/* old first on ties: its seqs are all smaller */
			if (j >= m || (i < no && !BEFORE(res[j].price,
			    old->price[side][i], desc))) {
				ls->price[side][k] = old->price[side][i];
				ls->src[side][k] = old->src[side][i];
				ls->qty[side][k++] = old->qty[side][i++];
			} else {
				ls->price[side][k] = res[j].price;
				ls->src[side][k] = res[j].src;
				ls->qty[side][k++] = res[j++].qty;
			}
		}
		ls->n[side] = k;
		for (k = 0; k < ls->n[side]; k++)
			sum += ls->qty[side][k]; /* in cascade order, as ever */
		ls->total_qty[side] = sum;
	}
	free(tmp);
	free(scratch);
	free(srcmap);
	return ls;
fail:
	free(tmp);
	free(scratch);
	free(srcmap);
	levelset_free(ls);
	return NULL;
}

static uint64_t
asset_hash(const struct md_asset *a, const struct snapshot_levelset *ls)
{
	uint64_t h = HASH_FNV_INIT;
	size_t k, j;

	h = hash_fnv_str(h, a->symbol);
	h = hash_fnv_dbl(h, a->price);
	h = hash_fnv_dbl(h, a->vol);
	/* price history: what the answers show of it */
	h = hash_fnv(h, &a->vol_source, sizeof(a->vol_source));
	h = hash_fnv(h, &a->vol_pinned, sizeof(a->vol_pinned));
	if (a->hist.ok) {
		h = hash_fnv_dbl(h, a->hist.ewma_var);
		h = hash_fnv_dbl(h, a->hist.long_run_var);
	}
	/* as the block keeps it: at most MD_TIME_MAX - 1 bytes */
	h = hash_fnv(h, a->updated_at,
	    strnlen(a->updated_at, sizeof(a->updated_at) - 1));
	for (k = 0; k < a->ncurves; k++) {
		const struct md_curve *c = &a->curves[k];

		h = hash_fnv_str(h, c->venue);
		h = hash_fnv(h, &c->side, sizeof(c->side));
		h = hash_fnv_str(h, c->as_of);
		for (j = 0; j < c->curve.n; j++) {
			h = hash_fnv_dbl(h, c->curve.bps[j]);
			h = hash_fnv_dbl(h, c->curve.qty[j]);
		}
	}
	return hash_fnv(h, &ls->hash, sizeof(ls->hash));
}

/*
 * Build one stored asset's block over the level set `ls` (the block takes
 * over one reference to it, also on failure); NULL on no memory.
 */
static struct snapshot_block *
block_build(const struct md_asset *a, struct snapshot_levelset *ls)
{
	struct snapshot_block *b;
	struct snapshot_asset *sa;
	int64_t newest = INT64_MIN;
	size_t k, nstr = 0;
	char *strp;

	if (ls == NULL)
		return NULL;
	b = calloc(1, sizeof(*b));
	if (b == NULL) {
		levelset_unref(ls);
		return NULL;
	}
	atomic_init(&b->refs, 1);
	b->lv = ls;
	sa = &b->sa;
	for (k = 0; k < 2; k++) {
		lc_curve_init(&b->curve[k]);
		sa->side[k].oldest_epoch = INT64_MAX;
	}
	for (k = 0; k < a->ncurves; k++)
		nstr += strlen(a->curves[k].venue) +
		    strlen(a->curves[k].as_of) + 2;
	b->strings = malloc(nstr + 1);
	if (b->strings == NULL)
		goto fail;
	strp = b->strings;
	memcpy(sa->symbol, a->symbol, sizeof(sa->symbol));
	sa->symbol[MD_SYMBOL_MAX] = '\0';
	sa->price = a->price;
	sa->vol = a->vol;
	sa->vol_source = a->vol_source;
	sa->vol_pinned = a->vol_pinned;
	sa->hist = a->hist;
	memcpy(sa->updated_at, a->updated_at, sizeof(sa->updated_at));
	sa->updated_at[MD_TIME_MAX - 1] = '\0';
	if (build_side(b, a, LC_BID, &strp, &newest) != 0 ||
	    build_side(b, a, LC_ASK, &strp, &newest) != 0)
		goto fail;
	for (k = 0; k < 2; k++) {
		struct snapshot_levels *sl = &sa->levels[k];

		sl->n = ls->n[k];
		sl->price = ls->price[k];
		sl->qty = ls->qty[k];
		sl->total_qty = ls->total_qty[k];
		sl->src = ls->src[k];
		sl->nstale = lc_levels_stale((enum lc_dir)k, sl->price, sl->n,
		    a->price);
	}
	sa->nsources = ls->nsources;
	sa->sources = (const char *const *)ls->sources;
	b->hash = asset_hash(a, ls);
	return b;
fail:
	block_free(b);
	return NULL;
}

/* ---- snapshots -------------------------------------------------------- */

static void
base_unref(struct snapshot_base *b)
{
	if (b != NULL && atomic_fetch_sub_explicit(&b->refs, 1,
	    memory_order_acq_rel) == 1) {
		lc_cascade_base_free(b->b);
		free(b);
	}
}

/*
 * Merged level arrays (books), shared by the snapshots that hold them.
 * digest and total are computed once, when the arrays are made: adopting
 * them into the next snapshot costs O(1), not O(n) (levels_adopt).  tag
 * is the writer's (snapshot_tag_levels); readers never look at it.
 */
struct snapshot_merged {
	atomic_size_t refs;
	size_t n;
	double *price;
	double *qty;
	uint32_t *src;
	uint64_t digest;	/* levels_digest() of price, qty */
	double total;		/* the sum of qty, in order */
	uint64_t tag;		/* 0: none */
};

/*
 * The content digest of n levels (FNV-1a over price and qty, in order)
 * and, in *total, the sum of their qty: the one definition the etag of
 * every path (snapshot_build + merge, snapshot_update + merge,
 * snapshot_copy + merge) mixes in, whether the arrays are new or adopted.
 */
static uint64_t
levels_digest(const double *price, const double *qty, size_t n,
    double *total)
{
	uint64_t h = HASH_FNV_INIT;
	double sum = 0;
	size_t k;

	for (k = 0; k < n; k++) {
		sum += qty[k];
		h = hash_fnv_word(h, price_key(price[k], 0));
		h = hash_fnv_word(h, price_key(qty[k], 0));
	}
	*total = sum;
	return h;
}

static void
merged_unref(struct snapshot_merged *m)
{
	if (m != NULL && atomic_fetch_sub_explicit(&m->refs, 1,
	    memory_order_acq_rel) == 1) {
		free(m->price);
		free(m->qty);
		free(m->src);
		free(m);
	}
}

static void
snapshot_free(struct snapshot *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->nassets && s->blocks != NULL; i++)
		block_unref(s->blocks[i]);
	for (i = 0; i < 2 * s->nassets && s->own != NULL; i++)
		merged_unref(s->own[i]);
	free(s->own);
	for (i = 0; i < s->nassets && s->own_names != NULL; i++)
		free(s->own_names[i]);
	free(s->own_names);
	for (i = 0; i < 2 * s->nassets && s->bases != NULL; i++)
		base_unref(s->bases[i]);
	free(s->bases);
	free(s->blocks);
	free(s->assets);
	free(s->lc_assets);
	free(s->rho);
	free(s->by_symbol);
	free(s);
}

/* Set the pairs c[0..n-1] in s->rho (bad ones skipped); the hash. */
static uint64_t
put_pairs(struct snapshot *s, const struct md_corr *c, size_t nc, uint64_t h)
{
	size_t i, n = s->nassets;

	for (i = 0; i < nc; i++) {
		long a = snapshot_find(s, c[i].a);
		long b = snapshot_find(s, c[i].b);
		double r = c[i].rho;

		h = hash_fnv_str(h, c[i].a);
		h = hash_fnv_str(h, c[i].b);
		h = hash_fnv_dbl(h, r);
		if (a < 0 || b < 0 || a == b || !(r >= -1.0 && r <= 1.0))
			continue;
		s->rho[(size_t)a * n + (size_t)b] = r;
		s->rho[(size_t)b * n + (size_t)a] = r;
	}
	return h;
}

/*
 * The snapshot over blk[0..nb-1] (stored assets in store order; each gets
 * a new reference, the caller keeps its own) and the correlations.
 */
static int
assemble(struct snapshot_block *const *blk, size_t nb,
    const struct market_data *md, double default_rho, struct snapshot **out)
{
	struct snapshot *s = NULL;
	struct symref *refs = NULL;
	size_t i, k, n;
	long usd = -1;
	uint64_t h = HASH_FNV_INIT;
	int rc = -1;

	*out = NULL;
	if (!(default_rho >= -1.0 && default_rho <= 1.0))
		goto out;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto out;
	atomic_init(&s->refs, 1);
	s->default_rho = default_rho;
	for (i = 0; i < nb && usd < 0; i++)
		if (strcmp(blk[i]->sa.symbol, "USD") == 0)
			usd = (long)i;
	n = nb + (usd < 0 ? 1 : 0);
	s->assets = calloc(n, sizeof(*s->assets));
	s->lc_assets = calloc(n, sizeof(*s->lc_assets));
	s->blocks = calloc(n, sizeof(*s->blocks));
	s->rho = malloc(n * n * sizeof(double));
	s->by_symbol = malloc(n * sizeof(uint32_t));
	refs = malloc(n * sizeof(*refs));
	if (s->assets == NULL || s->lc_assets == NULL || s->blocks == NULL ||
	    s->rho == NULL || s->by_symbol == NULL || refs == NULL)
		goto out;
	s->nassets = n;
	h = hash_fnv_dbl(h, default_rho);
	for (i = 0; i < nb; i++) {
		s->blocks[i] = block_ref(blk[i]);
		/* shallow: the arrays stay in the block */
		s->assets[i] = blk[i]->sa;
		for (k = 0; k < 2; k++)
			s->lc_assets[i].curve[k] = blk[i]->curve[k];
		h = hash_fnv(h, &blk[i]->hash, sizeof(blk[i]->hash));
	}
	if (usd < 0) {
		struct snapshot_asset *sa = &s->assets[n - 1];

		snprintf(sa->symbol, sizeof(sa->symbol), "USD");
		sa->price = 1.0;
		sa->vol = 0.0;
		sa->implicit = 1;
		for (k = 0; k < 2; k++) {
			sa->side[k].oldest_epoch = INT64_MAX;
			lc_curve_init(&s->lc_assets[n - 1].curve[k]);
		}
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
	/* estimated from the price history, then the written ones win */
	h = put_pairs(s, md->hcorr, md->nhcorr, h);
	h = put_pairs(s, md->corr, md->ncorr, h);
	s->market.nassets = n;
	s->market.assets = s->lc_assets;
	s->market.default_rho = default_rho;
	s->market.rho = s->rho;
	s->version = atomic_fetch_add(&snapshot_counter, 1) + 1;
	s->hash = s->base_hash = h;
	hash_etag(h, s->etag);
	*out = s;
	s = NULL;
	rc = 0;
out:
	free(refs);
	snapshot_free(s);
	return rc;
}

/* ---- prebuilt cascades ------------------------------------------------ */

/*
 * The base of asset i's levels of direction d in s: old's base of the
 * same asset when it still fits (the same level and curve arrays, the
 * same stale prefix), else a new one.  NULL with *nomem 0: the levels
 * have no base (lc_cascade_build refuses them: lc_score then rebuilds
 * and reports it).
 */
/* old's base of asset i of s, direction d, when it fits: a reference. */
static struct snapshot_base *
base_share(const struct snapshot *s, const struct snapshot *old, size_t i,
    int d)
{
	const struct lc_asset_market *la = &s->lc_assets[i];
	const struct lc_curve *cv = &la->curve[d == LC_DOWN ? LC_BID : LC_ASK];
	long j = old != NULL ? snapshot_find(old, la->symbol) : -1;
	struct snapshot_base *sb;

	if (j < 0 || old->bases == NULL)
		return NULL;
	sb = old->bases[2 * (size_t)j + (size_t)d];
	if (sb == NULL || !lc_cascade_base_fits(sb->b, (enum lc_dir)d, cv,
	    1.0, la->levels[d].price, la->levels[d].n, la->price))
		return NULL;
	atomic_fetch_add_explicit(&sb->refs, 1, memory_order_relaxed);
	return sb;
}

static struct snapshot_base *
base_for(const struct snapshot *s, const struct snapshot *old, size_t i,
    int d, int *nomem)
{
	const struct lc_asset_market *la = &s->lc_assets[i];
	const struct lc_curve *cv = &la->curve[d == LC_DOWN ? LC_BID : LC_ASK];
	struct snapshot_base *sb;
	enum lc_status st;

	sb = base_share(s, old, i, d);
	if (sb != NULL)
		return sb;
	sb = calloc(1, sizeof(*sb));
	if (sb == NULL) {
		*nomem = 1;
		return NULL;
	}
	atomic_init(&sb->refs, 1);
	sb->b = lc_cascade_base_build((enum lc_dir)d, cv, 1.0, la->price,
	    la->levels[d].price, la->levels[d].qty, la->levels[d].n, &st);
	if (sb->b == NULL) {
		*nomem = st == LC_ENOMEM;
		free(sb);
		return NULL;
	}
	return sb;
}

/*
 * Were old's levels of `symbol`, direction d, merged with the books?
 * The books layer then merges s's again and gives them their base
 * (snapshot_rebase): a base of the stored levels alone would be built
 * for nothing (about 0.1 s for 70 000 levels).
 */
static int
merged_in(const struct snapshot *old, const char *symbol, int d)
{
	long j = old != NULL && old->own != NULL ?
	    snapshot_find(old, symbol) : -1;

	return j >= 0 && old->own[2 * (size_t)j + (size_t)d] != NULL;
}

/*
 * Give every asset's levels of each direction their prebuilt cascade,
 * from the final level arrays of *out (at the asset's price, depth_scale
 * 1), sharing old's where they still fit (old NULL: none), and lend them
 * to lc_score() through lc_assets.  0, or -1 on no memory (*out is then
 * freed and NULL).
 */
static int
snapshot_bases(struct snapshot **out, const struct snapshot *old)
{
	struct snapshot *s = *out;
	size_t i;
	int d, nomem = 0;

	s->bases = calloc(2 * s->nassets, sizeof(*s->bases));
	if (s->bases == NULL)
		goto fail;
	for (i = 0; i < s->nassets; i++)
		for (d = 0; d < 2; d++) {
			struct snapshot_base *sb;

			if (s->lc_assets[i].levels[d].n == 0 ||
			    merged_in(old, s->lc_assets[i].symbol, d))
				continue;
			sb = base_for(s, old, i, d, &nomem);
			if (nomem)
				goto fail;
			s->bases[2 * i + (size_t)d] = sb;
			s->lc_assets[i].base[d] = sb != NULL ? sb->b : NULL;
		}
	return 0;
fail:
	snapshot_free(s);
	*out = NULL;
	return -1;
}

int
snapshot_build(
    const struct market_data *md, double default_rho, struct snapshot **out)
{
	struct snapshot_block **blk = NULL;
	size_t i, nb = 0;
	int rc = -1;

	*out = NULL;
	if (!(default_rho >= -1.0 && default_rho <= 1.0))
		goto out;
	blk = calloc(md->nassets + 1, sizeof(*blk));
	if (blk == NULL)
		goto out;
	for (nb = 0; nb < md->nassets; nb++) {
		blk[nb] = block_build(&md->assets[nb],
		    levelset_build(NULL, &md->assets[nb]));
		if (blk[nb] == NULL)
			goto out;
	}
	rc = assemble(blk, nb, md, default_rho, out);
	if (rc == 0)
		rc = snapshot_bases(out, NULL);
out:
	for (i = 0; i < nb && blk != NULL; i++)
		block_unref(blk[i]);
	free(blk);
	return rc;
}

static struct snapshot_block *
find_block(const struct snapshot *s, const char *symbol)
{
	long i = snapshot_find(s, symbol);

	return i >= 0 ? s->blocks[i] : NULL;
}

int
snapshot_max_seq(const struct snapshot *s, const char *symbol,
    int64_t *max_seq)
{
	const struct snapshot_block *b = find_block(s, symbol);

	if (b == NULL)
		return -1;
	*max_seq = b->lv->max_seq;
	return 0;
}

int
snapshot_update(const struct snapshot *old, const char *symbol,
    const struct market_data *md, enum snapshot_level_mode lv,
    struct snapshot **out)
{
	struct snapshot_block **blk = NULL, *nbk = NULL, *ob = NULL;
	struct snapshot_levelset *ls = NULL;
	const struct md_asset *a = NULL;
	size_t i, nb = 0;
	int rc = -1, placed = 0;

	*out = NULL;
	if (old == NULL || md == NULL)
		goto out;
	if (symbol != NULL) {
		for (i = 0; i < md->nassets && a == NULL; i++)
			if (strcmp(md->assets[i].symbol, symbol) == 0)
				a = &md->assets[i];
		ob = find_block(old, symbol);
	}
	if (a != NULL) {
		if (lv != SNAPSHOT_LEVELS_RELOAD && ob == NULL)
			goto out;
		if (lv == SNAPSHOT_LEVELS_KEEP)
			ls = levelset_ref(ob->lv);
		else
			ls = levelset_build(
			    lv == SNAPSHOT_LEVELS_APPEND ? ob->lv : NULL, a);
		if ((nbk = block_build(a, ls)) == NULL)
			goto out;
	}
	blk = calloc(old->nassets + 2, sizeof(*blk));
	if (blk == NULL)
		goto out;
	/* store order is by symbol: the new block goes where it sorts */
	for (i = 0; i < old->nassets; i++) {
		struct snapshot_block *b = old->blocks[i];
		int c;

		if (b == NULL)
			continue; /* the implicit USD: assemble adds it */
		c = symbol != NULL ? strcmp(b->sa.symbol, symbol) : -1;
		if (c > 0 && !placed) {
			if (nbk != NULL)
				blk[nb++] = nbk;
			placed = 1;
		}
		if (c == 0) {
			if (nbk != NULL)
				blk[nb++] = nbk;
			placed = 1;
			continue;
		}
		blk[nb++] = b;
	}
	if (!placed && nbk != NULL)
		blk[nb++] = nbk;
	rc = assemble(blk, nb, md, old->default_rho, out);
	if (rc == 0)
		rc = snapshot_bases(out, old);
out:
	free(blk);
	block_unref(nbk);
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

/* ---- books: derived levels ------------------------------------------- */

int
snapshot_copy(const struct snapshot *s, struct snapshot **out)
{
	struct snapshot *c;
	size_t n = s->nassets, i;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -1;
	/* member by member: s->refs moves under other threads */
	atomic_init(&c->refs, 1);
	c->default_rho = s->default_rho;
	c->nassets = n;
	c->usd = s->usd;
	c->market = s->market;
	c->assets = malloc(n * sizeof(*c->assets));
	c->lc_assets = malloc(n * sizeof(*c->lc_assets));
	c->blocks = malloc(n * sizeof(*c->blocks));
	c->rho = malloc(n * n * sizeof(double));
	c->by_symbol = malloc(n * sizeof(uint32_t));
	if (c->assets == NULL || c->lc_assets == NULL || c->blocks == NULL ||
	    c->rho == NULL || c->by_symbol == NULL) {
		c->nassets = 0;
		snapshot_free(c);
		return -1;
	}
	memcpy(c->assets, s->assets, n * sizeof(*c->assets));
	memcpy(c->lc_assets, s->lc_assets, n * sizeof(*c->lc_assets));
	memcpy(c->rho, s->rho, n * n * sizeof(double));
	memcpy(c->by_symbol, s->by_symbol, n * sizeof(uint32_t));
	for (i = 0; i < n; i++) {
		c->blocks[i] = block_ref(s->blocks[i]);
		/* the level arrays are the blocks' (s's own ones are s's) */
		if (s->blocks[i] != NULL) {
			c->assets[i].levels[0] = s->blocks[i]->sa.levels[0];
			c->assets[i].levels[1] = s->blocks[i]->sa.levels[1];
			c->assets[i].nsources = s->blocks[i]->sa.nsources;
			c->assets[i].sources = s->blocks[i]->sa.sources;
		}
		c->lc_assets[i].symbol = c->assets[i].symbol;
		c->lc_assets[i].levels[0].n = c->assets[i].levels[0].n;
		c->lc_assets[i].levels[0].price = c->assets[i].levels[0].price;
		c->lc_assets[i].levels[0].qty = c->assets[i].levels[0].qty;
		c->lc_assets[i].levels[1].n = c->assets[i].levels[1].n;
		c->lc_assets[i].levels[1].price = c->assets[i].levels[1].price;
		c->lc_assets[i].levels[1].qty = c->assets[i].levels[1].qty;
	}
	/* the bases lent through lc_assets: c holds references of its own */
	if (s->bases != NULL) {
		c->bases = calloc(2 * n + 1, sizeof(*c->bases));
		if (c->bases == NULL) {
			for (i = 0; i < n; i++)
				c->lc_assets[i].base[0] =
				    c->lc_assets[i].base[1] = NULL;
		}
		for (i = 0; c->bases != NULL && i < 2 * n; i++) {
			c->bases[i] = s->bases[i];
			if (c->bases[i] != NULL)
				atomic_fetch_add_explicit(&c->bases[i]->refs, 1,
				    memory_order_relaxed);
		}
	}
	c->market.assets = c->lc_assets;
	c->market.rho = c->rho;
	/* the tag of the content: the merges are hashed in again */
	c->hash = c->base_hash = s->base_hash;
	hash_etag(c->hash, c->etag);
	c->version = atomic_fetch_add(&snapshot_counter, 1) + 1;
	*out = c;
	return 0;
}

/*
 * Make m (one reference taken over; NULL: back to the stored levels) the
 * levels of (asset, dir) of s; the etag takes their content in: the
 * digest of the levels (levels_digest, precomputed in m), chained onto
 * s->hash in the order of the calls (books_merge: assets in order, sell
 * then buy).  base_hash, the hash without merged levels, stays: a
 * snapshot_copy() starts from it, so that the etag of the same content
 * does not depend on the path that led to it.
 */
static void
levels_adopt(struct snapshot *s, size_t asset, int dir,
    struct snapshot_merged *m, size_t nstale)
{
	struct snapshot_levels *sl;
	uint64_t h = s->hash, digest = HASH_FNV_INIT;
	double sum = 0, *price = NULL, *qty = NULL;
	size_t n = 0, slot = 2 * asset + (size_t)dir;

	merged_unref(s->own[slot]);
	s->own[slot] = m;
	sl = &s->assets[asset].levels[dir];
	if (m == NULL && s->blocks[asset] != NULL) {
		/* back to the stored levels */
		*sl = s->blocks[asset]->sa.levels[dir];
		n = sl->n;
		price = sl->price;
		qty = sl->qty;
		nstale = sl->nstale;
		digest = levels_digest(price, qty, n, &sum);
	} else if (m != NULL) {
		sl->src = m->src;
		n = m->n;
		price = m->price;
		qty = m->qty;
		digest = m->digest;
		sum = m->total;
	}
	h = hash_fnv_word(h, (uint64_t)(4 * asset + (size_t)dir));
	h = hash_fnv_word(h, digest);
	sl->n = n;
	sl->price = price;
	sl->qty = qty;
	sl->total_qty = sum;
	sl->nstale = nstale;
	s->lc_assets[asset].levels[dir].n = n;
	s->lc_assets[asset].levels[dir].price = price;
	s->lc_assets[asset].levels[dir].qty = qty;
	s->hash = h;
	hash_etag(h, s->etag);
}

/* s->own allocated (asset in range): 0, or -1. */
static int
own_table(struct snapshot *s, size_t asset)
{
	if (s->own == NULL)
		s->own = calloc(2 * s->nassets + 1, sizeof(*s->own));
	return s->own != NULL && asset < s->nassets ? 0 : -1;
}

void
snapshot_set_levels(struct snapshot *s, size_t asset, int dir,
    double *price, double *qty, uint32_t *src, size_t n, size_t nstale)
{
	struct snapshot_merged *m = NULL;

	if (own_table(s, asset) != 0)
		goto fail;
	if (price != NULL) {
		m = malloc(sizeof(*m));
		if (m == NULL)
			goto fail;
		atomic_init(&m->refs, 1);
		m->n = n;
		m->price = price;
		m->qty = qty;
		m->src = src;
		m->digest = levels_digest(price, qty, n, &m->total);
		m->tag = 0;
	} else {
		free(qty);
		free(src);
	}
	levels_adopt(s, asset, dir, m, nstale);
	return;
fail:
	free(price);
	free(qty);
	free(src);
}

void
snapshot_set_levels_shared(struct snapshot *s, size_t asset, int dir,
    double *price, double *qty, uint32_t *src, size_t n, size_t nstale,
    const struct snapshot *prev)
{
	struct snapshot_merged *pm = NULL;
	long j = prev != NULL && prev->own != NULL && asset < s->nassets ?
	    snapshot_find(prev, s->assets[asset].symbol) : -1;

	if (j >= 0)
		pm = prev->own[2 * (size_t)j + (size_t)dir];
	if (pm == NULL || price == NULL || src == NULL || pm->n != n ||
	    own_table(s, asset) != 0 ||
	    memcmp(pm->price, price, n * sizeof(*price)) != 0 ||
	    memcmp(pm->qty, qty, n * sizeof(*qty)) != 0 ||
	    memcmp(pm->src, src, n * sizeof(*src)) != 0) {
		snapshot_set_levels(s, asset, dir, price, qty, src, n, nstale);
		return;
	}
	free(price);
	free(qty);
	free(src);
	atomic_fetch_add_explicit(&pm->refs, 1, memory_order_relaxed);
	levels_adopt(s, asset, dir, pm, nstale);
}

int
snapshot_keep_levels(struct snapshot *s, size_t asset, int dir,
    const struct snapshot *prev, uint64_t tag)
{
	const struct snapshot_asset *sa;
	struct snapshot_merged *pm;
	long j;

	if (tag == 0 || prev == NULL || prev->own == NULL ||
	    asset >= s->nassets || s->blocks[asset] == NULL)
		return 0;
	sa = &s->assets[asset];
	j = snapshot_find(prev, sa->symbol);
	if (j < 0 || prev->blocks[j] == NULL)
		return 0;
	pm = prev->own[2 * (size_t)j + (size_t)dir];
	/* the same book state, stored levels and price: the same merge */
	if (pm == NULL || pm->tag != tag ||
	    prev->blocks[j]->lv != s->blocks[asset]->lv ||
	    !(prev->assets[j].price == sa->price) || own_table(s, asset) != 0)
		return 0;
	atomic_fetch_add_explicit(&pm->refs, 1, memory_order_relaxed);
	levels_adopt(s, asset, dir, pm, lc_levels_stale((enum lc_dir)dir,
	    pm->price, pm->n, sa->price));
	return 1;
}

void
snapshot_tag_levels(struct snapshot *s, size_t asset, int dir, uint64_t tag)
{
	if (s->own != NULL && asset < s->nassets &&
	    s->own[2 * asset + (size_t)dir] != NULL)
		s->own[2 * asset + (size_t)dir]->tag = tag;
}

int
snapshot_set_sources(struct snapshot *s, size_t asset,
    const char *const *names, size_t n)
{
	size_t k, len = 0;
	char **v, *p;

	if (asset >= s->nassets)
		return -1;
	if (s->own_names == NULL)
		s->own_names = calloc(s->nassets + 1, sizeof(char *));
	if (s->own_names == NULL)
		return -1;
	for (k = 0; k < n; k++)
		len += strlen(names[k]) + 1;
	/* the pointers, then the strings, in one block */
	v = malloc((n + 1) * sizeof(char *) + len + 1);
	if (v == NULL)
		return -1;
	p = (char *)(v + n + 1);
	for (k = 0; k < n; k++) {
		size_t l = strlen(names[k]) + 1;

		memcpy(p, names[k], l);
		v[k] = p;
		p += l;
	}
	v[n] = NULL;
	free(s->own_names[asset]);
	s->own_names[asset] = (char *)v;
	s->assets[asset].sources = (const char *const *)v;
	s->assets[asset].nsources = n;
	return 0;
}

int
snapshot_rebase(struct snapshot *s, const struct snapshot *old)
{
	struct snapshot_base **nb;
	size_t i;
	int d, nomem = 0;

	nb = calloc(2 * s->nassets + 1, sizeof(*nb));
	if (nb == NULL)
		return -1;
	for (i = 0; i < s->nassets; i++)
		for (d = 0; d < 2; d++) {
			struct snapshot_base *sb = NULL;

			if (s->lc_assets[i].levels[d].n > 0 && !nomem) {
				/* s's own when its arrays did not change */
				sb = base_share(s, s, i, d);
				if (sb == NULL)
					sb = base_for(s, old, i, d, &nomem);
			}
			nb[2 * i + (size_t)d] = sb;
			s->lc_assets[i].base[d] = sb != NULL ? sb->b : NULL;
		}
	for (i = 0; i < 2 * s->nassets && s->bases != NULL; i++)
		base_unref(s->bases[i]);
	free(s->bases);
	s->bases = nb;
	return nomem ? -1 : 0;
}

/*
 * api_books.c - books as use cases (api.h, docs/model.md section 8): the
 * writes, the reads, the derived levels merged into the market, the own
 * copy a score request leaves out, the book under a shock and the
 * riskiest positions.
 *
 * State.  The writer keeps every book in memory (struct api_books, under
 * app->writer): each position decoded once (the /v1/score codec) into a
 * block of its own, an id -> position hash, and a struct lc_book (the
 * model's incremental derivation: lc_book_put / lc_book_remove re-derive
 * only the positions written).  Per book and asset the sorted derived
 * levels of each side are cached (lc_book_levels) and recomputed only
 * for the assets a write touched.  The prices the steps were derived at
 * are the published snapshot's.
 *
 * Publishing.  A book write runs under the writer mutex: decode against
 * the current snapshot (nothing stored on any error), one store
 * transaction (store_books.c), then the in-memory books under the write
 * lock of `rw`, and a copy of the snapshot whose level arrays are the
 * stored levels merged with every book's derived levels (cascade order;
 * ties: stored first, then books by name, slot, ladder rank: the order
 * lc_book_risk uses).  A market write calls api_books_sync() on the
 * snapshot it built before publishing it: the positions holding an asset
 * whose price or volatility changed are put again (lc_book_put), so the
 * levels always match the book and the prices; a changed asset set
 * reloads the books from the store (asset indices moved).  An asset
 * and side whose merge inputs did not change since the published
 * snapshot keeps its merged arrays as they are (books_merge,
 * snapshot_keep_levels): a write costs what it changed.
 *
 * Readers.  The risk and positions reads and a score request naming its
 * book copy read the lc_book objects: they hold the read lock of `rw`
 * and check that the snapshot they use is the current one (so the book
 * state and the snapshot match).  Writers hold the write lock only while
 * they change the books and publish.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api_int.h"
#include "cascade/book.h"
#include "cascade/cascade.h"
#include "cascade/stats.h"
#include "json.h"
#include "log.h"
#include "rfc3339.h"
#include "store_books.h"

#define BOOK_MAX_WRITE 2000000	/* positions per write */
#define LOAD_CHUNK 4096		/* stored positions decoded at once */
#define RPOOL_N 2		/* risk scratch kept (the cores) */

/* ---- state ------------------------------------------------------------ */

/* One position with its own storage (entries, tiers, id follow it). */
struct bk_pos {
	struct lc_position pos;
	size_t slot;
};

/*
 * Sorted derived levels of one asset, per side: `full` when they must be
 * recomputed (lc_book_levels: a new price, a new book), `touched` when
 * positions written since the last merge had or have steps on it (those
 * slots' levels are patched in, O(n + k log k)).
 */
struct bk_cache {
	struct lc_book_levels lv[2];
	int full;
	int touched;
	int held;	/* a position put since the load holds the asset */
};

struct bk_book {
	struct store_book meta;
	size_t npos;		/* live positions */
	size_t next_slot;
	size_t cap;
	struct bk_pos **by_slot;	/* [next_slot]; NULL: empty */
	size_t hcap, hn;	/* id hash: open addressing, tombstones */
	struct bk_pos **hash;
	struct lc_book lc;
	struct bk_cache *cache;	/* [nassets] */
	size_t *tslot;		/* slots written since the last merge */
	size_t ntouched, tcap;
	unsigned char *tmark;	/* [tmcap]: slot in tslot */
	size_t tmcap;
};

struct api_books {
	pthread_rwlock_t rw;
	size_t n, cap;
	struct bk_book **b;	/* by name */
	size_t nassets;
	char (*sym)[MD_SYMBOL_MAX + 1];
	double *price, *vol;	/* what the steps were derived at */
	int reload;		/* the store changed under us: load again */
	/*
	 * Merge tags (snapshot_keep_levels): gen only grows; agen[a] is
	 * the gen of the last change of asset a's derived levels, set_gen
	 * that of the last change of the book set.  max(agen[a], set_gen)
	 * stays the same exactly while nothing the merge of a reads from
	 * the books changed.
	 */
	uint64_t gen, set_gen;
	uint64_t *agen;		/* [nassets] */
	/*
	 * Risk queries' scratch, kept between queries (risk_take()): a
	 * fresh one maps its arrays anew, and on an asset of 71 706 stored
	 * levels the page faults cost as much as the query.
	 */
	pthread_mutex_t rmu;
	struct lc_book_risk *rpool[RPOOL_N];
	size_t nrpool;
};

static struct bk_pos tombstone;

/* A risk query's scratch: a kept one, or a new one (NULL: no memory). */
static struct lc_book_risk *
risk_take(struct api_books *bs)
{
	struct lc_book_risk *r = NULL;

	pthread_mutex_lock(&bs->rmu);
	if (bs->nrpool > 0)
		r = bs->rpool[--bs->nrpool];
	pthread_mutex_unlock(&bs->rmu);
	if (r == NULL && (r = malloc(sizeof(*r))) != NULL)
		lc_book_risk_init(r);
	return r;
}

/* Give r back: kept for the next query (at most RPOOL_N), else freed. */
static void
risk_give(struct api_books *bs, struct lc_book_risk *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&bs->rmu);
	if (bs->nrpool < RPOOL_N) {
		bs->rpool[bs->nrpool++] = r;
		r = NULL;
	}
	pthread_mutex_unlock(&bs->rmu);
	if (r != NULL) {
		lc_book_risk_release(r);
		free(r);
	}
}

static uint64_t
id_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The hash cell of id: its position, or the first free one. */
static size_t
hash_find(const struct bk_book *b, const char *id, int *found)
{
	size_t i = (size_t)id_hash(id) & (b->hcap - 1), tomb = SIZE_MAX;

	*found = 0;
	for (;; i = (i + 1) & (b->hcap - 1)) {
		struct bk_pos *p = b->hash[i];

		if (p == NULL)
			return tomb != SIZE_MAX ? tomb : i;
		if (p == &tombstone) {
			if (tomb == SIZE_MAX)
				tomb = i;
		} else if (strcmp(p->pos.id, id) == 0) {
			*found = 1;
			return i;
		}
	}
}

static struct bk_pos *
book_get(const struct bk_book *b, const char *id)
{
	int found;
	size_t i;

	if (b->hcap == 0)
		return NULL;
	i = hash_find(b, id, &found);
	return found ? b->hash[i] : NULL;
}

static int
hash_grow(struct bk_book *b, size_t want)
{
	struct bk_pos **old = b->hash;
	size_t oldcap = b->hcap, cap = 64, i, k;
	int found;

	while (cap < 2 * want)
		cap *= 2;
	if (cap <= oldcap)
		return 0;
	b->hash = calloc(cap, sizeof(*b->hash));
	if (b->hash == NULL) {
		b->hash = old;
		return -1;
	}
	b->hcap = cap;
	b->hn = 0;
	for (i = 0; i < oldcap; i++) {
		if (old[i] == NULL || old[i] == &tombstone)
			continue;
		k = hash_find(b, old[i]->pos.id, &found);
		b->hash[k] = old[i];
		b->hn++;
	}
	free(old);
	return 0;
}

/* A copy of p with its own storage, at slot. */
static struct bk_pos *
pos_copy(const struct lc_position *p, size_t slot)
{
	size_t ne = 0, nt = 0, idl = strlen(p->id) + 1, sz;
	struct bk_pos *bp;
	struct lc_entry *e;
	struct lc_tier *t;
	char *id;

	if (p->type == LC_POS_LOAN)
		ne = p->u.loan.ncoll + p->u.loan.ndebt;
	else
		nt = p->u.perp.ntiers;
	sz = sizeof(*bp) + ne * sizeof(*e) + nt * sizeof(*t) + idl;
	bp = malloc(sz);
	if (bp == NULL)
		return NULL;
	bp->pos = *p;
	bp->slot = slot;
	e = (struct lc_entry *)(void *)(bp + 1);
	t = (struct lc_tier *)(void *)(e + ne);
	id = (char *)(t + nt);
	memcpy(id, p->id, idl);
	bp->pos.id = id;
	if (p->type == LC_POS_LOAN) {
		const struct lc_loan *l = &p->u.loan;

		memcpy(e, l->coll, l->ncoll * sizeof(*e));
		memcpy(e + l->ncoll, l->debt, l->ndebt * sizeof(*e));
		bp->pos.u.loan.coll = e;
		bp->pos.u.loan.debt = e + l->ncoll;
	} else if (nt > 0) {
		memcpy(t, p->u.perp.tiers, nt * sizeof(*t));
		bp->pos.u.perp.tiers = t;
	}
	return bp;
}

/*
 * A slot about to change or changed: the assets its steps are on need
 * their cached levels patched, and the slot joins the touched list.
 * 0, or -1 on no memory (then every cache is recomputed in full).
 */
static int
mark_slot(struct bk_book *b, size_t slot, size_t nassets)
{
	const struct lc_book_slot *s;
	size_t k;

	if (slot >= b->tmcap || b->ntouched == b->tcap) {
		size_t mc = b->tmcap > 0 ? b->tmcap : 64, tc;
		unsigned char *m;
		size_t *t;

		while (mc <= slot)
			mc *= 2;
		tc = b->tcap > 0 ? 2 * b->tcap : 64;
		m = realloc(b->tmark, mc);
		if (m != NULL) {
			memset(m + b->tmcap, 0, mc - b->tmcap);
			b->tmark = m;
			b->tmcap = mc;
		}
		t = b->tslot;
		if (b->ntouched == b->tcap) {
			t = realloc(b->tslot, tc * sizeof(*t));
			if (t != NULL) {
				b->tslot = t;
				b->tcap = tc;
			}
		}
		if (m == NULL || t == NULL) {
			for (k = 0; k < nassets; k++)
				b->cache[k].full = 1;
			return -1;
		}
	}
	if (!b->tmark[slot]) {
		b->tmark[slot] = 1;
		b->tslot[b->ntouched++] = slot;
	}
	if (slot >= b->lc.nslots)
		return 0;
	s = &b->lc.slot[slot];
	for (k = 0; k < s->n; k++)
		if (b->lc.step[s->off + k].asset < nassets)
			b->cache[b->lc.step[s->off + k].asset].touched = 1;
	return 0;
}

static struct bk_book *
book_new(const struct store_book *meta, size_t nassets)
{
	struct bk_book *b = calloc(1, sizeof(*b));
	size_t a;

	if (b == NULL)
		return NULL;
	b->meta = *meta;
	lc_book_init(&b->lc);
	b->cache = calloc(nassets + 1, sizeof(*b->cache));
	if (b->cache == NULL) {
		free(b);
		return NULL;
	}
	for (a = 0; a < nassets; a++) {
		lc_book_levels_init(&b->cache[a].lv[0]);
		lc_book_levels_init(&b->cache[a].lv[1]);
		b->cache[a].full = 1;
	}
	return b;
}

static void
book_free(struct bk_book *b, size_t nassets)
{
	size_t i;

	if (b == NULL)
		return;
	for (i = 0; i < b->next_slot; i++)
		free(b->by_slot[i]);
	for (i = 0; i < nassets; i++) {
		lc_book_levels_release(&b->cache[i].lv[0]);
		lc_book_levels_release(&b->cache[i].lv[1]);
	}
	free(b->cache);
	free(b->tslot);
	free(b->tmark);
	free(b->by_slot);
	free(b->hash);
	lc_book_release(&b->lc);
	free(b);
}

/* Room for slots 0..n-1, and next_slot at least n.  0, or -1. */
static int
book_reserve(struct bk_book *b, size_t n)
{
	size_t cap = b->cap > 0 ? b->cap : 64;
	struct bk_pos **t;

	if (n > b->cap) {
		while (cap < n)
			cap *= 2;
		t = realloc(b->by_slot, cap * sizeof(*t));
		if (t == NULL)
			return -1;
		memset(t + b->cap, 0, (cap - b->cap) * sizeof(*t));
		b->by_slot = t;
		b->cap = cap;
	}
	if (b->next_slot < n)
		b->next_slot = n;
	return 0;
}

/* Does p hold asset a (in any role)? */
static int
holds(const struct lc_position *p, const unsigned char *changed)
{
	size_t k;

	if (p->type == LC_POS_PERP)
		return changed[p->u.perp.asset];
	for (k = 0; k < p->u.loan.ncoll; k++)
		if (changed[p->u.loan.coll[k].asset])
			return 1;
	for (k = 0; k < p->u.loan.ndebt; k++)
		if (changed[p->u.loan.debt[k].asset])
			return 1;
	return 0;
}

/*
 * Note the assets p holds in b->cache[].held (sticky: a delete leaves
 * them), so that a price write to an asset no position of b ever held
 * skips the scan of b's positions (books_reprice).
 */
static void
note_held(struct bk_book *b, const struct lc_position *p, size_t nassets)
{
	size_t k;

	if (p->type == LC_POS_PERP) {
		if (p->u.perp.asset < nassets)
			b->cache[p->u.perp.asset].held = 1;
		return;
	}
	for (k = 0; k < p->u.loan.ncoll; k++)
		if (p->u.loan.coll[k].asset < nassets)
			b->cache[p->u.loan.coll[k].asset].held = 1;
	for (k = 0; k < p->u.loan.ndebt; k++)
		if (p->u.loan.debt[k].asset < nassets)
			b->cache[p->u.loan.debt[k].asset].held = 1;
}

/*
 * Put a copy of p in book b (replacing the position of that id, which
 * keeps its slot; a new id takes `slot`, or the next one when SIZE_MAX).
 * 0, or -1 on no memory.
 */
static int
book_put(struct api_books *bs, struct bk_book *b, const struct lc_position *p,
    size_t slot)
{
	struct bk_pos *old, *np;
	size_t h;
	int found;

	if (hash_grow(b, b->hn + 1) != 0)
		return -1;
	h = hash_find(b, p->id, &found);
	old = found ? b->hash[h] : NULL;
	if (old != NULL)
		slot = old->slot;
	else if (slot == SIZE_MAX)
		slot = b->next_slot;
	if (book_reserve(b, slot + 1) != 0)
		return -1;
	np = pos_copy(p, slot);
	if (np == NULL)
		return -1;
	mark_slot(b, slot, bs->nassets);
	if (lc_book_put(&b->lc, slot, &np->pos, bs->price, bs->vol) != LC_OK) {
		/* the slot is empty now: the old copy is out too */
		free(np);
		np = NULL;
	}
	mark_slot(b, slot, bs->nassets);
	if (old == NULL && np != NULL)
		b->npos++;
	else if (old != NULL && np == NULL)
		b->npos--;
	if (np != NULL) {
		if (!found)
			b->hn++;
		b->hash[h] = np;
	} else if (found) {
		b->hash[h] = &tombstone;
	}
	free(old);
	b->by_slot[slot] = np;
	if (np != NULL)
		note_held(b, &np->pos, bs->nassets);
	if (slot >= b->next_slot)
		b->next_slot = slot + 1;
	return np != NULL ? 0 : -1;
}

static int
book_remove(struct api_books *bs, struct bk_book *b, const char *id)
{
	struct bk_pos *p;
	size_t h;
	int found;

	if (b->hcap == 0)
		return -1;
	h = hash_find(b, id, &found);
	if (!found)
		return -1;
	p = b->hash[h];
	mark_slot(b, p->slot, bs->nassets);
	lc_book_remove(&b->lc, p->slot);
	b->by_slot[p->slot] = NULL;
	b->hash[h] = &tombstone;
	b->npos--;
	free(p);
	return 0;
}

static long
books_find(const struct api_books *bs, const char *name)
{
	size_t lo = 0, hi = bs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, bs->b[mid]->meta.name);

		if (c == 0)
			return (long)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -(long)lo - 1;
}

/* Insert a new book in name order; it takes over b.  0, or -1. */
static int
books_insert(struct api_books *bs, struct bk_book *b)
{
	long at = books_find(bs, b->meta.name);
	size_t i;

	if (at >= 0)
		return -1;
	at = -at - 1;
	if (bs->n == bs->cap) {
		size_t cap = bs->cap > 0 ? 2 * bs->cap : 8;
		struct bk_book **t = realloc(bs->b, cap * sizeof(*t));

		if (t == NULL)
			return -1;
		bs->b = t;
		bs->cap = cap;
	}
	for (i = bs->n; i > (size_t)at; i--)
		bs->b[i] = bs->b[i - 1];
	bs->b[at] = b;
	bs->n++;
	bs->set_gen = ++bs->gen;
	return 0;
}

static void
books_drop(struct api_books *bs, size_t at)
{
	book_free(bs->b[at], bs->nassets);
	memmove(bs->b + at, bs->b + at + 1, (bs->n - at - 1) * sizeof(*bs->b));
	bs->n--;
	bs->set_gen = ++bs->gen;
}

static void
books_clear(struct api_books *bs)
{
	while (bs->n > 0)
		books_drop(bs, bs->n - 1);
	free(bs->sym);
	free(bs->price);
	free(bs->vol);
	free(bs->agen);
	bs->sym = NULL;
	bs->price = bs->vol = NULL;
	bs->agen = NULL;
	bs->nassets = 0;
	bs->set_gen = ++bs->gen;
}

/* Prices and symbols of s into bs (which is empty of books). */
static int
books_assets(struct api_books *bs, const struct snapshot *s)
{
	size_t i, n = s->nassets;

	bs->sym = calloc(n + 1, sizeof(*bs->sym));
	bs->price = malloc((n + 1) * sizeof(double));
	bs->vol = malloc((n + 1) * sizeof(double));
	bs->agen = calloc(n + 1, sizeof(*bs->agen));
	if (bs->sym == NULL || bs->price == NULL || bs->vol == NULL ||
	    bs->agen == NULL)
		return -1;
	bs->nassets = n;
	for (i = 0; i < n; i++) {
		memcpy(bs->sym[i], s->assets[i].symbol, sizeof(bs->sym[i]));
		bs->price[i] = s->assets[i].price;
		bs->vol[i] = s->assets[i].vol;
	}
	return 0;
}

static int
same_assets(const struct api_books *bs, const struct snapshot *s)
{
	size_t i;

	if (bs->sym == NULL || bs->nassets != s->nassets)
		return 0;
	for (i = 0; i < s->nassets; i++)
		if (strcmp(bs->sym[i], s->assets[i].symbol) != 0)
			return 0;
	return 1;
}

/* ---- loading from the store ------------------------------------------- */

struct loader {
	struct api_books *bs;
	const struct snapshot *snap;
	struct bk_book *cur;
	char *text;		/* "[p0,p1,...]" */
	size_t len, cap;
	int64_t *slots;
	size_t *off, *end;	/* position i: text[off[i], end[i]) */
	size_t n;
	int oom;
	size_t skipped;
};

/*
 * Decode the JSON array json[0..len) of stored positions and put them at
 * slots[]: 0, 1 when a position no longer decodes (an asset of it is
 * gone), -1 on no memory.
 */
static int
load_array(struct loader *ld, const char *json, size_t len,
    const int64_t *slots)
{
	struct score_request r;
	struct problem err;
	size_t i;
	int rc = 0;

	codec_request_init(&r);
	problem_init(&err);
	if (codec_decode_positions(json, len, ld->snap, &r, &err) == 0) {
		for (i = 0; i < r.npos; i++)
			if (book_put(ld->bs, ld->cur, &r.pos[i],
			    (size_t)slots[i]) != 0)
				ld->skipped++;
	} else {
		rc = err.status >= 500 ? -1 : 1;
	}
	codec_request_release(&r);
	problem_release(&err);
	return rc;
}

/* Decode the positions gathered (or, failing that, one by one). */
static int
loader_flush(struct loader *ld)
{
	size_t i, n;
	char *one;
	int rc;

	if (ld->n == 0 || ld->cur == NULL)
		return 0;
	ld->text[ld->len] = ']';
	rc = load_array(ld, ld->text, ld->len + 1, ld->slots);
	/* an asset of some position is gone: the others still load */
	for (i = 0; rc == 1 && i < ld->n; i++) {
		n = ld->end[i] - ld->off[i];
		one = malloc(n + 2);
		if (one == NULL) {
			rc = -1;
			break;
		}
		one[0] = '[';
		memcpy(one + 1, ld->text + ld->off[i], n);
		one[n + 1] = ']';
		if (load_array(ld, one, n + 2, &ld->slots[i]) != 0)
			ld->skipped++;
		free(one);
	}
	if (rc < 0)
		ld->oom = 1;
	ld->n = 0;
	ld->len = 1;
	return ld->oom ? -1 : 0;
}

static int
load_book(void *ctx, const struct store_book *meta)
{
	struct loader *ld = ctx;
	struct bk_book *b;

	if (loader_flush(ld) != 0)
		return -1;
	b = book_new(meta, ld->bs->nassets);
	if (b == NULL || books_insert(ld->bs, b) != 0) {
		book_free(b, ld->bs->nassets);
		ld->oom = 1;
		return -1;
	}
	ld->cur = b;
	return 0;
}

static int
load_pos(void *ctx, const char *id, int64_t slot, const char *body,
    size_t len)
{
	struct loader *ld = ctx;

	(void)id;
	if (ld->len + len + 2 > ld->cap) {
		size_t cap = 2 * (ld->len + len + 2);
		char *t = realloc(ld->text, cap);

		if (t == NULL)
			return -1;
		ld->text = t;
		ld->cap = cap;
	}
	if (ld->n > 0)
		ld->text[ld->len++] = ',';
	ld->off[ld->n] = ld->len;
	memcpy(ld->text + ld->len, body, len);
	ld->len += len;
	ld->end[ld->n] = ld->len;
	ld->slots[ld->n++] = slot;
	return ld->n == LOAD_CHUNK ? loader_flush(ld) : 0;
}

/* Every book of the store, decoded against s (bs holds none). */
static enum store_status
books_load(struct app *app, struct api_books *bs, const struct snapshot *s)
{
	struct store_books_sink sink = { load_book, load_pos, NULL };
	struct loader ld;
	enum store_status st;
	size_t k;

	memset(&ld, 0, sizeof(ld));
	ld.bs = bs;
	ld.snap = s;
	ld.cap = 1 << 16;
	ld.text = malloc(ld.cap);
	ld.slots = malloc(LOAD_CHUNK * sizeof(*ld.slots));
	ld.off = malloc(LOAD_CHUNK * sizeof(*ld.off));
	ld.end = malloc(LOAD_CHUNK * sizeof(*ld.end));
	if (ld.text == NULL || ld.slots == NULL || ld.off == NULL ||
	    ld.end == NULL) {
		st = STORE_NOMEM;
		goto out;
	}
	ld.text[0] = '[';
	ld.len = 1;
	sink.ctx = &ld;
	st = store_books_load(app->store, NULL, &sink);
	if (st == STORE_OK && loader_flush(&ld) != 0)
		st = STORE_NOMEM;
	/* new ids go after every slot ever given (a deleted tail too) */
	for (k = 0; st == STORE_OK && k < bs->n; k++)
		if (book_reserve(bs->b[k], (size_t)bs->b[k]->meta.next_slot)
		    != 0)
			st = STORE_NOMEM;
	if (ld.skipped > 0) {
		char n[32];

		snprintf(n, sizeof(n), "%zu", ld.skipped);
		log_kv(LOG_LVL_WARN, "book positions not loaded (an asset "
		    "they hold is gone)", "count", n, (const char *)NULL);
	}
out:
	free(ld.text);
	free(ld.slots);
	free(ld.off);
	free(ld.end);
	return st;
}

/* ---- derived levels into the snapshot --------------------------------- */

/* One derived level with its place in lc_book_levels' order. */
struct blv {
	double price, qty;
	size_t slot;
	uint32_t rank;
};

/* x strictly before y in cascade order (ties: slot, then rank). */
static int
blv_before(const struct blv *x, const struct blv *y, int desc)
{
	if (x->price != y->price)
		return desc ? x->price > y->price : x->price < y->price;
	if (x->slot != y->slot)
		return x->slot < y->slot;
	return x->rank < y->rank;
}

static int
cmp_blv_down(const void *x, const void *y)
{
	return blv_before(x, y, 1) ? -1 : blv_before(y, x, 1) ? 1 : 0;
}

static int
cmp_blv_up(const void *x, const void *y)
{
	return blv_before(x, y, 0) ? -1 : blv_before(y, x, 0) ? 1 : 0;
}

/*
 * Patch the cached levels of (a, d): drop those of the touched slots,
 * merge in their current non-stale steps.  The result is what
 * lc_book_levels() gives (the same order).  0, or -1 on no memory.
 */
static int
cache_patch(const struct api_books *bs, struct bk_book *b, uint32_t a, int d)
{
	struct lc_book_levels *l = &b->cache[a].lv[d];
	struct lc_book_total tot;
	struct blv *nw = NULL, cur;
	size_t nn = 0, cap = 16, t, k, i, j, m, total;
	double *price = NULL, *qty = NULL;
	size_t *slot = NULL;
	uint32_t *rank = NULL;
	int desc = d == LC_DOWN, rc = -1;

	nw = malloc(cap * sizeof(*nw));
	if (nw == NULL)
		return -1;
	for (t = 0; t < b->ntouched; t++) {
		const struct lc_book_slot *sl;

		if (b->tslot[t] >= b->lc.nslots)
			continue;
		sl = &b->lc.slot[b->tslot[t]];
		for (k = 0; k < sl->n; k++) {
			const struct lc_book_step *st = &b->lc.step[sl->off + k];

			if (st->asset != a || (int)st->dir != d ||
			    lc_book_step_stale(st, bs->price[a]))
				continue;
			if (nn == cap) {
				struct blv *g = realloc(nw, 2 * cap *
				    sizeof(*nw));

				if (g == NULL)
					goto out;
				nw = g;
				cap *= 2;
			}
			nw[nn].price = st->price;
			nw[nn].qty = st->qty;
			nw[nn].slot = b->tslot[t];
			nw[nn++].rank = st->rank;
		}
	}
	qsort(nw, nn, sizeof(*nw), desc ? cmp_blv_down : cmp_blv_up);
	total = l->n + nn + 1;
	price = malloc(total * sizeof(*price));
	qty = malloc(total * sizeof(*qty));
	slot = malloc(total * sizeof(*slot));
	rank = malloc(total * sizeof(*rank));
	if (price == NULL || qty == NULL || slot == NULL || rank == NULL)
		goto out;
	for (i = j = m = 0; i < l->n || j < nn;) {
		if (i < l->n && l->slot[i] < b->tmcap && b->tmark[l->slot[i]]) {
			i++;	/* a touched slot's old level */
			continue;
		}
		if (i < l->n) {
			cur.price = l->price[i];
			cur.slot = l->slot[i];
			cur.rank = l->rank[i];
		}
		if (j < nn && (i >= l->n || blv_before(&nw[j], &cur, desc))) {
			price[m] = nw[j].price;
			qty[m] = nw[j].qty;
			slot[m] = nw[j].slot;
			rank[m++] = nw[j++].rank;
		} else {
			price[m] = l->price[i];
			qty[m] = l->qty[i];
			slot[m] = l->slot[i];
			rank[m++] = l->rank[i++];
		}
	}
	free(l->price);
	free(l->qty);
	free(l->slot);
	free(l->rank);
	l->price = price;
	l->qty = qty;
	l->slot = slot;
	l->rank = rank;
	l->n = m;
	l->cap = total;
	tot = lc_book_totals(&b->lc, a);
	l->stale = tot.count[d] > m ? tot.count[d] - m : 0;
	price = qty = NULL;
	slot = NULL;
	rank = NULL;
	rc = 0;
out:
	free(nw);
	free(price);
	free(qty);
	free(slot);
	free(rank);
	return rc;
}

static int
cache_update(struct api_books *bs, struct bk_book *b, size_t a)
{
	struct bk_cache *c = &b->cache[a];
	int d;

	for (d = 0; d < 2; d++) {
		if (c->full) {
			if (lc_book_levels(&b->lc, (uint32_t)a, (enum lc_dir)d,
			    bs->price[a], LC_BOOK_NO_SLOT, &c->lv[d]) != LC_OK)
				return -1;
		} else if (c->touched &&
		    cache_patch(bs, b, (uint32_t)a, d) != 0) {
			c->full = 1;
			return -1;
		}
	}
	c->full = c->touched = 0;
	return 0;
}

/*
 * Merge the stored levels of (a, d) and every book's derived ones into
 * new arrays on s (cascade order; ties: stored, then book order).
 */
static int
merge_asset(struct api_books *bs, struct snapshot *s, size_t a, int d,
    const uint32_t *bsrc, const struct snapshot *prev)
{
	const struct snapshot_levels *st;
	size_t total, k, j, *at = NULL, best;
	double *price, *qty, bp = 0;
	uint32_t *src;
	int desc = d == LC_DOWN;

	if (s->blocks[a] == NULL)
		return 0;
	st = &s->blocks[a]->sa.levels[d];
	total = st->n;
	for (k = 0; k < bs->n; k++)
		total += bs->b[k]->cache[a].lv[d].n;
	if (total == st->n) {
		if (s->assets[a].levels[d].price != st->price)
			snapshot_set_levels(s, a, d, NULL, NULL, NULL, 0, 0);
		return 0;
	}
	price = malloc(total * sizeof(double));
	qty = malloc(total * sizeof(double));
	src = malloc(total * sizeof(uint32_t));
	at = calloc(bs->n + 1, sizeof(size_t));
	if (price == NULL || qty == NULL || src == NULL || at == NULL) {
		free(price);
		free(qty);
		free(src);
		free(at);
		return -1;
	}
	for (j = 0; j < total; j++) {
		/* head 0: stored; 1 + k: book k; ties go to the lowest head */
		best = SIZE_MAX;
		if (at[0] < st->n) {
			best = 0;
			bp = st->price[at[0]];
		}
		for (k = 0; k < bs->n; k++) {
			const struct lc_book_levels *l =
			    &bs->b[k]->cache[a].lv[d];
			double x;

			if (at[k + 1] >= l->n)
				continue;
			x = l->price[at[k + 1]];
			if (best == SIZE_MAX || (desc ? x > bp : x < bp)) {
				best = k + 1;
				bp = x;
			}
		}
		if (best == 0) {
			src[j] = st->src != NULL ? st->src[at[0]] : 0;
			price[j] = st->price[at[0]];
			qty[j] = st->qty[at[0]++];
		} else {
			const struct lc_book_levels *l =
			    &bs->b[best - 1]->cache[a].lv[d];

			src[j] = bsrc[best - 1];
			price[j] = l->price[at[best]];
			qty[j] = l->qty[at[best]++];
		}
	}
	free(at);
	/* prev's arrays when the same: its prebuilt cascade stays too */
	snapshot_set_levels_shared(s, a, d, price, qty, src, total,
	    lc_levels_stale((enum lc_dir)d, price, total, s->assets[a].price),
	    prev);
	return 0;
}

/*
 * The level sources of asset a: the stored ones, then "book:<name>" of
 * each book with derived levels of a (the liquidation map stacks by
 * them); bsrc[k] is book k's index among them.
 */
static int
merge_sources(const struct api_books *bs, struct snapshot *s, size_t a,
    uint32_t *bsrc)
{
	const struct snapshot_asset *sa = &s->blocks[a]->sa;
	size_t k, n = sa->nsources;
	char **names = NULL, *text = NULL;
	int rc = -1;

	names = malloc((sa->nsources + bs->n + 1) * sizeof(*names));
	text = malloc(bs->n * (STORE_BOOK_NAME_MAX + 6) + 1);
	if (names == NULL || text == NULL)
		goto out;
	for (k = 0; k < sa->nsources; k++)
		names[k] = (char *)(uintptr_t)sa->sources[k];
	for (k = 0; k < bs->n; k++) {
		const struct bk_book *b = bs->b[k];

		if (b->cache[a].lv[0].n + b->cache[a].lv[1].n == 0)
			continue;
		if (n >= SNAPSHOT_MAX_SOURCES) {
			/* pooled like the stored ones (snapshot.h) */
			bsrc[k] = SNAPSHOT_MAX_SOURCES - 1;
			continue;
		}
		bsrc[k] = (uint32_t)n;
		names[n] = text + k * (STORE_BOOK_NAME_MAX + 6);
		snprintf(names[n], STORE_BOOK_NAME_MAX + 6, "%s%s",
		    n == SNAPSHOT_MAX_SOURCES - 1 ? "other" : "book:",
		    n == SNAPSHOT_MAX_SOURCES - 1 ? "" : b->meta.name);
		n++;
	}
	rc = n == sa->nsources ? 0 : snapshot_set_sources(s, a,
	    (const char *const *)names, n);
out:
	free(names);
	free(text);
	return rc;
}

/*
 * After a batch of puts (a load, a reprice, a large write): merge the
 * pending steps into the book's sorted index (lc_book_flush), so that
 * every later lc_book_levels (each risk query) merges nothing.  A small
 * write is left pending (a flush moves the whole index): the book merges
 * by itself once the pending steps grow.
 */
static void
book_flush_batch(struct lc_book *lc)
{
	size_t live = lc->nsteps - lc->dead;

	if (lc->pend_steps + lc->ix_dead > 0 &&
	    8 * (lc->pend_steps + lc->ix_dead) >= live)
		(void)lc_book_flush(lc);	/* on failure: still pending */
}

/*
 * The merge tag of asset a (snapshot_keep_levels), after a change of its
 * derived levels is noted when `dirty`: 0 (never kept) without a table.
 */
static uint64_t
merge_tag(struct api_books *bs, size_t a, int dirty)
{
	if (bs->agen == NULL || a >= bs->nassets)
		return 0;
	if (dirty)
		bs->agen[a] = ++bs->gen;
	return bs->agen[a] > bs->set_gen ? bs->agen[a] : bs->set_gen;
}

/*
 * The merged levels of every asset of s.  An (asset, direction) whose
 * inputs did not change since prev (no book's cache of it changed, the
 * same stored levels and price, the same books) adopts prev's arrays in
 * O(1): a write costs what it changed, not O(all levels).
 */
static int
books_merge(struct api_books *bs, struct snapshot *s,
    const struct snapshot *prev)
{
	size_t a, k, t;
	uint32_t *bsrc;
	uint64_t tag;
	int d, dirty, rc = -1;

	bsrc = calloc(bs->n + 1, sizeof(*bsrc));
	if (bsrc == NULL)
		return -1;
	for (k = 0; k < bs->n; k++)
		book_flush_batch(&bs->b[k]->lc);
	for (a = 0; a < s->nassets; a++) {
		dirty = 0;
		for (k = 0; k < bs->n; k++)
			dirty |= bs->b[k]->cache[a].full |
			    bs->b[k]->cache[a].touched;
		tag = merge_tag(bs, a, dirty);
		for (k = 0; k < bs->n; k++)
			if (cache_update(bs, bs->b[k], a) != 0)
				goto out;
		if (s->blocks[a] != NULL && merge_sources(bs, s, a, bsrc) != 0)
			goto out;
		for (d = 0; d < 2; d++) {
			if (snapshot_keep_levels(s, a, d, prev, tag))
				continue;
			if (merge_asset(bs, s, a, d, bsrc, prev) != 0)
				goto out;
			snapshot_tag_levels(s, a, d, tag);
		}
	}
	rc = 0;
out:
	free(bsrc);
	if (rc != 0) {
		bs->set_gen = ++bs->gen;	/* trust no tag */
		return -1;
	}
	for (k = 0; k < bs->n; k++) {
		struct bk_book *b = bs->b[k];

		for (t = 0; t < b->ntouched; t++)
			b->tmark[b->tslot[t]] = 0;
		b->ntouched = 0;
	}
	return 0;
}

/* New prices of s: put again every position holding a changed asset. */
static int
books_reprice(struct api_books *bs, const struct snapshot *s)
{
	unsigned char *changed;
	size_t a, k, i, nch = 0;
	int rc = 0;

	changed = calloc(s->nassets + 1, 1);
	if (changed == NULL)
		return -1;
	for (a = 0; a < s->nassets; a++) {
		if (bs->price[a] == s->assets[a].price &&
		    bs->vol[a] == s->assets[a].vol)
			continue;
		changed[a] = 1;
		nch++;
		bs->price[a] = s->assets[a].price;
		bs->vol[a] = s->assets[a].vol;
		for (k = 0; k < bs->n; k++)
			bs->b[k]->cache[a].full = 1;
	}
	for (k = 0; k < bs->n && nch > 0; k++) {
		struct bk_book *b = bs->b[k];
		int any = 0;

		for (a = 0; a < s->nassets && !any; a++)
			any = changed[a] && b->cache[a].held;
		for (i = 0; any && i < b->next_slot; i++) {
			struct bk_pos *p = b->by_slot[i];

			if (p == NULL || !holds(&p->pos, changed))
				continue;
			mark_slot(b, i, bs->nassets);
			if (lc_book_put(&b->lc, i, &p->pos, bs->price,
			    bs->vol) != LC_OK)
				rc = -1;
			mark_slot(b, i, bs->nassets);
		}
	}
	free(changed);
	return rc;
}

static struct api_books *
books_state(struct app *app)
{
	struct api_books *bs = app->writer->books;

	if (bs != NULL)
		return bs;
	bs = calloc(1, sizeof(*bs));
	if (bs == NULL)
		return NULL;
	if (pthread_rwlock_init(&bs->rw, NULL) != 0) {
		free(bs);
		return NULL;
	}
	if (pthread_mutex_init(&bs->rmu, NULL) != 0) {
		pthread_rwlock_destroy(&bs->rw);
		free(bs);
		return NULL;
	}
	app->writer->books = bs;
	return bs;
}

/*
 * The books loaded from the store against the assets of s (the write
 * lock held): 0, or -1 (logged; bs left empty, to load again).
 */
static int
books_reload(struct app *app, struct api_books *bs, const struct snapshot *s)
{
	enum store_status st = STORE_NOMEM;

	books_clear(bs);
	if (books_assets(bs, s) == 0)
		st = books_load(app, bs, s);
	if (st == STORE_OK)
		return 0;
	log_kv(LOG_LVL_ERROR, "cannot load the books", "error",
	    store_status_str(st), (const char *)NULL);
	books_clear(bs);
	return -1;
}

int
api_books_sync(struct app *app, struct snapshot *s, int publish)
{
	struct api_books *bs = books_state(app);
	struct snapshot *prev;
	int rc = -1;

	if (bs == NULL) {
		if (publish)
			snapshot_cell_publish(app->cell, snapshot_ref(s));
		return -1;
	}
	pthread_rwlock_wrlock(&bs->rw);
	if (bs->reload || !same_assets(bs, s)) {
		bs->reload = 0;
		if (books_reload(app, bs, s) != 0)
			goto out;
	} else if (books_reprice(bs, s) != 0) {
		goto out;
	}
	/* the published one: its merged arrays and bases, where unchanged */
	prev = snapshot_cell_get(app->cell);
	rc = books_merge(bs, s, prev);
	/* the prebuilt cascades of the merged arrays (s's own kept) */
	if (rc == 0)
		rc = snapshot_rebase(s, prev);
	snapshot_unref(prev);
out:
	if (publish)
		snapshot_cell_publish(app->cell, snapshot_ref(s));
	pthread_rwlock_unlock(&bs->rw);
	return rc;
}

void
api_books_stale(struct app *app)
{
	struct api_books *bs = books_state(app);

	if (bs == NULL)
		return;
	pthread_rwlock_wrlock(&bs->rw);
	bs->reload = 1;
	pthread_rwlock_unlock(&bs->rw);
}

/*
 * The books of a write (the writer mutex held, t->snap current): loaded
 * again first when a failure left them out.  NULL with a 503 answer.
 */
static struct api_books *
write_books(struct wtx *t, struct api_answer *ans)
{
	struct api_books *bs = NULL;
	int rc = 0;

	if (t->snap != NULL)
		bs = books_state(t->app);
	if (bs != NULL && !same_assets(bs, t->snap)) {
		pthread_rwlock_wrlock(&bs->rw);
		rc = books_reload(t->app, bs, t->snap);
		pthread_rwlock_unlock(&bs->rw);
	}
	if (bs == NULL || rc != 0) {
		problem_set(&ans->err, 503, "unavailable",
		    "Service unavailable", "the books could not be loaded");
		ans->retry_after = 1;
		ans->status = 503;
		return NULL;
	}
	return bs;
}

void
api_books_trim(struct app *app)
{
	struct api_books *bs = app->writer != NULL ? app->writer->books : NULL;
	struct lc_book_risk *r;

	if (bs == NULL)
		return;
	for (;;) {
		pthread_mutex_lock(&bs->rmu);
		r = bs->nrpool > 0 ? bs->rpool[--bs->nrpool] : NULL;
		pthread_mutex_unlock(&bs->rmu);
		if (r == NULL)
			break;
		lc_book_risk_release(r);
		free(r);
	}
}

void
api_books_free(struct app *app)
{
	struct api_books *bs;

	if (app->writer == NULL || app->writer->books == NULL)
		return;
	bs = app->writer->books;
	api_books_trim(app);
	books_clear(bs);
	free(bs->b);
	pthread_mutex_destroy(&bs->rmu);
	pthread_rwlock_destroy(&bs->rw);
	free(bs);
	app->writer->books = NULL;
}

/*
 * After a book write (the writer mutex and the write lock held): a copy
 * of the current snapshot with the merged levels, published.
 */
static int
publish_books(struct wtx *t, struct api_books *bs, struct api_answer *a)
{
	struct snapshot *s = NULL;

	if (snapshot_copy(t->snap, &s) != 0 || books_merge(bs, s, t->snap) != 0 ||
	    snapshot_rebase(s, t->snap) != 0) {
		bs->set_gen = ++bs->gen;	/* s's tags go unpublished */
		snapshot_unref(s);
		api_oom(a);
		return -1;
	}
	if (t->call->seq != 0)
		s->version = t->call->seq;	/* the bus sequence applied */
	snapshot_cell_publish(t->app->cell, snapshot_ref(s));
	t->ns = s;
	return 0;
}

/* ---- writes ----------------------------------------------------------- */

static int
bad_name(const char *book, struct api_answer *ans)
{
	if (codec_book_name_valid(book))
		return 0;
	api_fail_field(ans, "/path/book",
	    "a book name is 1-64 characters of a-z, 0-9, '.', '_' and '-'");
	return 1;
}

static void
book_not_found(struct api_answer *a, const char *book)
{
	problem_set(&a->err, 404, "not-found", "Not found", "unknown book %s",
	    book);
	a->status = 404;
}

static void
now_text(char *out)
{
	struct rfc3339_time t;

	rfc3339_now(&t, 0);
	rfc3339_format(out, MD_TIME_MAX, &t);
}

static char *
write_body(const char *book, size_t written, size_t npos)
{
	struct json_buf b;

	json_buf_init(&b, 128);
	json_buf_begin(&b, '{');
	json_buf_key(&b, "book");
	json_buf_str(&b, book);
	json_buf_key(&b, "written");
	json_buf_int(&b, (int64_t)written);
	json_buf_key(&b, "positions");
	json_buf_int(&b, (int64_t)npos);
	json_buf_key(&b, "warnings");
	json_buf_begin(&b, '[');
	json_buf_end(&b, ']');
	json_buf_end(&b, '}');
	return json_buf_take(&b);
}

/* The store rows of a decoded write; slots from the book (upsert). */
static struct store_book_pos *
store_rows(const struct codec_book_put *d, const struct bk_book *b,
    int64_t *next)
{
	struct store_book_pos *rows;
	size_t i;

	rows = malloc((d->pos.npos + 1) * sizeof(*rows));
	if (rows == NULL)
		return NULL;
	for (i = 0; i < d->pos.npos; i++) {
		const struct bk_pos *old = b != NULL
		    ? book_get(b, d->pos.pos[i].id) : NULL;

		rows[i].id = d->pos.pos[i].id;
		rows[i].slot = old != NULL ? (int64_t)old->slot : (*next)++;
		rows[i].body = d->text + d->text_off[i];
		rows[i].len = d->text_end[i] - d->text_off[i];
	}
	return rows;
}

/* PUT /v1/books/{book} (replace) or POST .../positions (upsert). */
static int
put_write(const struct api_wcall *c, int upsert, struct api_answer *ans)
{
	struct app *app = c->app;
	const char *book = c->param[0];
	struct codec_book_put d;
	struct store_book meta;
	struct store_book_pos *rows = NULL;
	struct api_books *bs;
	struct bk_book *b = NULL, *nb = NULL;
	struct wtx t;
	enum store_status st;
	int created = 0, locked = 0;
	long at;
	size_t i;

	wtx_init(&t, c);
	codec_book_put_init(&d);
	if (bad_name(book, ans))
		goto out;
	wtx_lock(&t);
	if ((bs = write_books(&t, ans)) == NULL)
		goto out;
	if (codec_decode_book_put(c->body, c->len, t.snap, BOOK_MAX_WRITE, &d,
	    &ans->err) != 0) {
		ans->status = ans->err.status;
		goto out;
	}
	at = books_find(bs, book);
	b = at >= 0 ? bs->b[at] : NULL;
	if (upsert && b == NULL) {
		book_not_found(ans, book);
		goto out;
	}
	if (wtx_validated(&t, ans))
		goto out;
	memset(&meta, 0, sizeof(meta));
	snprintf(meta.name, sizeof(meta.name), "%s", book);
	memcpy(meta.as_of, d.as_of, sizeof(meta.as_of));
	memcpy(meta.source, d.source, sizeof(meta.source));
	now_text(meta.updated_at);
	meta.next_slot = upsert ? (int64_t)b->next_slot : 0;
	rows = store_rows(&d, upsert ? b : NULL, &meta.next_slot);
	if (rows == NULL) {
		api_oom(ans);
		goto out;
	}
	st = upsert ? store_book_upsert(app->store, &meta, rows, d.pos.npos)
	            : store_book_replace(app->store, &meta, rows, d.pos.npos,
	                  &created);
	if (wtx_commit_store(&t, st, book, ans) != 0)
		goto out;
	pthread_rwlock_wrlock(&bs->rw);
	locked = 1;
	if (!upsert) {
		/* the whole new book, then swap it in */
		nb = book_new(&meta, bs->nassets);
		for (i = 0; nb != NULL && i < d.pos.npos; i++)
			if (book_put(bs, nb, &d.pos.pos[i], i) != 0)
				break;
		if (nb == NULL || i < d.pos.npos)
			goto oom;
		if (b != NULL)
			books_drop(bs, (size_t)at);
		if (books_insert(bs, nb) != 0)
			goto oom;
		b = nb;
		nb = NULL;
	} else {
		for (i = 0; i < d.pos.npos; i++)
			if (book_put(bs, b, &d.pos.pos[i], SIZE_MAX) != 0)
				goto oom;
		b->meta = meta;
	}
	b->meta.npositions = (int64_t)b->npos;
	if (publish_books(&t, bs, ans) != 0)
		goto out;
	ans->body = write_body(book, d.pos.npos, b->npos);
	wtx_answer(ans, 1, created ? 201 : 200);
	if (created && ans->status == 201)
		snprintf(ans->location, sizeof(ans->location), "/v1/books/%s",
		    book);
	goto out;
oom:
	/* stored but not in memory: loaded again by the next write */
	book_free(nb, bs->nassets);
	nb = NULL;
	books_clear(bs);
	api_oom(ans);
out:
	if (locked)
		pthread_rwlock_unlock(&bs->rw);
	if (nb != NULL)
		book_free(nb, bs->nassets);
	free(rows);
	codec_book_put_release(&d);
	return wtx_end(&t, ans);
}

/* DELETE a book (id NULL) or one of its positions. */
static int
delete_write(const struct api_wcall *c, const char *id,
    struct api_answer *ans)
{
	struct app *app = c->app;
	const char *book = c->param[0];
	struct api_books *bs = NULL;
	struct wtx t;
	char now[MD_TIME_MAX];
	enum store_status st;
	size_t gone;
	long at;

	wtx_init(&t, c);
	if (bad_name(book, ans))
		goto out;
	wtx_lock(&t);
	if ((bs = write_books(&t, ans)) == NULL)
		goto out;
	at = books_find(bs, book);
	if (at < 0) {
		book_not_found(ans, book);
		goto out;
	}
	if (wtx_validated(&t, ans))
		goto out;
	now_text(now);
	st = id != NULL ? store_book_delete_position(app->store, book, id, now)
	                : store_book_delete(app->store, book);
	if (wtx_commit_store(&t, st, id != NULL ? "the position" : book,
	    ans) != 0)
		goto out;
	pthread_rwlock_wrlock(&bs->rw);
	gone = id != NULL ? 1 : bs->b[at]->npos;
	if (id != NULL) {
		book_remove(bs, bs->b[at], id);
		memcpy(bs->b[at]->meta.updated_at, now, sizeof(now));
	} else {
		books_drop(bs, (size_t)at);
	}
	if (publish_books(&t, bs, ans) == 0) {
		ans->body = write_body(book, gone,
		    id != NULL ? bs->b[at]->npos : 0);
		wtx_answer(ans, 1, 200);
	}
	pthread_rwlock_unlock(&bs->rw);
out:
	return wtx_end(&t, ans);
}

int
api_w_put_book(const struct api_wcall *c, struct api_answer *ans)
{
	return put_write(c, 0, ans);
}

int
api_w_post_book_positions(const struct api_wcall *c, struct api_answer *ans)
{
	return put_write(c, 1, ans);
}

int
api_w_delete_book_position(const struct api_wcall *c, struct api_answer *ans)
{
	return delete_write(c, c->param[1] != NULL ? c->param[1] : "", ans);
}

int
api_w_delete_book(const struct api_wcall *c, struct api_answer *ans)
{
	return delete_write(c, NULL, ans);
}

/* ---- the public write use cases: api_write() runs or relays them ---- */

int
api_put_book(struct app *app, const char *book, const char *body, size_t len,
    int upsert, struct api_answer *ans)
{
	return api_write(app, upsert ? "POST" : "PUT", upsert
	    ? "/v1/books/{book}/positions" : "/v1/books/{book}", book, NULL,
	    body, len, ans);
}

int
api_delete_book_position(struct app *app, const char *book, const char *id,
    struct api_answer *ans)
{
	return api_write(app, "DELETE", "/v1/books/{book}/positions/{id}",
	    book, id != NULL ? id : "", "", 0, ans);
}

int
api_delete_book(struct app *app, const char *book, struct api_answer *ans)
{
	return api_write(app, "DELETE", "/v1/books/{book}", book, NULL, "", 0,
	    ans);
}

/* Close an answer object with empty warnings: the 200 answer. */
static void
answer_json(struct json_buf *j, struct api_answer *ans)
{
	json_buf_key(j, "warnings");
	json_buf_begin(j, '[');
	json_buf_end(j, ']');
	json_buf_end(j, '}');
	ans->body = json_buf_take(j);
	wtx_answer(ans, 1, 200);
}

/* ---- readers ---------------------------------------------------------- */

/*
 * The read lock with the current snapshot matching the books (same
 * assets and prices): NULL with a 503 answer when there is none (the
 * books failed to load; every writer publishes under the write lock, so
 * otherwise they match at once).
 */
static struct snapshot *
read_begin(struct app *app, struct api_books **bsp, struct api_answer *a)
{
	struct api_books *bs = app->writer != NULL ? app->writer->books : NULL;
	struct snapshot *s;
	size_t i;
	int tries;

	*bsp = bs;
	for (tries = 0; bs != NULL && tries < 200; tries++) {
		pthread_rwlock_rdlock(&bs->rw);
		s = snapshot_cell_get(app->cell);
		if (s != NULL && same_assets(bs, s)) {
			for (i = 0; i < s->nassets; i++)
				if (bs->price[i] != s->assets[i].price ||
				    bs->vol[i] != s->assets[i].vol)
					break;
			if (i == s->nassets)
				return s;
		}
		snapshot_unref(s);
		pthread_rwlock_unlock(&bs->rw);
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	}
	problem_set(&a->err, 503, "not-ready", "Service unavailable",
	    "the books are not loaded");
	a->retry_after = 1;
	a->status = 503;
	return NULL;
}

static void
read_end(struct api_books *bs, struct snapshot *s)
{
	snapshot_unref(s);
	pthread_rwlock_unlock(&bs->rw);
}

static void
buf_meta(struct json_buf *j, const struct bk_book *b)
{
	json_buf_key(j, "book");
	json_buf_str(j, b->meta.name);
	json_buf_key(j, "positions");
	json_buf_int(j, (int64_t)b->npos);
	json_buf_key(j, "as_of");
	json_buf_str(j, b->meta.as_of);
	json_buf_key(j, "source");
	json_buf_str(j, b->meta.source);
	json_buf_key(j, "updated_at");
	json_buf_str(j, b->meta.updated_at);
}

int
api_get_books(struct app *app, struct api_answer *ans)
{
	struct api_books *bs;
	struct snapshot *s = read_begin(app, &bs, ans);
	struct json_buf j;
	size_t k;

	if (s == NULL)
		return ans->status;
	json_buf_init(&j, 256 + 160 * bs->n);
	json_buf_begin(&j, '{');
	json_buf_key(&j, "books");
	json_buf_begin(&j, '[');
	for (k = 0; k < bs->n; k++) {
		json_buf_begin(&j, '{');
		buf_meta(&j, bs->b[k]);
		json_buf_end(&j, '}');
	}
	json_buf_end(&j, ']');
	answer_json(&j, ans);
	read_end(bs, s);
	return ans->status;
}

/* The book named in the path of a read: NULL with 422 / 404. */
static struct bk_book *
read_book(struct api_books *bs, const char *book, struct api_answer *ans)
{
	long at;

	if (bad_name(book, ans))
		return NULL;
	at = books_find(bs, book);
	if (at < 0) {
		book_not_found(ans, book);
		return NULL;
	}
	return bs->b[at];
}

/* Units per asset: [4 a]: collateral, debt, long perps, short perps. */
static double *
book_amounts(const struct bk_book *b, size_t nassets)
{
	double *t = calloc(4 * nassets + 1, sizeof(double));
	size_t i, k;

	if (t == NULL)
		return NULL;
	for (i = 0; i < b->next_slot; i++) {
		const struct lc_position *p;

		if (b->by_slot[i] == NULL)
			continue;
		p = &b->by_slot[i]->pos;
		if (p->type == LC_POS_PERP) {
			t[4 * p->u.perp.asset + 2 + (p->u.perp.is_short ? 1
			    : 0)] += p->u.perp.size;
			continue;
		}
		for (k = 0; k < p->u.loan.ncoll; k++)
			t[4 * p->u.loan.coll[k].asset] +=
			    p->u.loan.coll[k].amount;
		for (k = 0; k < p->u.loan.ndebt; k++)
			t[4 * p->u.loan.debt[k].asset + 1] +=
			    p->u.loan.debt[k].amount;
	}
	return t;
}

int
api_get_book(struct app *app, const char *book, struct api_answer *ans)
{
	static const char *const side[2] = { "sell", "buy" };
	struct api_books *bs;
	struct snapshot *s = read_begin(app, &bs, ans);
	const struct bk_book *b;
	struct json_buf j;
	double *amt = NULL;
	size_t a;
	int d;

	if (s == NULL)
		return ans->status;
	b = read_book(bs, book, ans);
	if (b == NULL)
		goto out;
	amt = book_amounts(b, s->nassets);
	if (amt == NULL) {
		api_oom(ans);
		goto out;
	}
	json_buf_init(&j, 1024);
	json_buf_begin(&j, '{');
	buf_meta(&j, b);
	json_buf_key(&j, "assets");
	json_buf_begin(&j, '[');
	for (a = 0; a < s->nassets; a++) {
		struct lc_book_total tot = lc_book_totals(&b->lc, (uint32_t)a);

		if (amt[4 * a] == 0 && amt[4 * a + 1] == 0 &&
		    amt[4 * a + 2] == 0 && amt[4 * a + 3] == 0 &&
		    tot.count[0] + tot.count[1] == 0)
			continue;
		json_buf_begin(&j, '{');
		json_buf_key(&j, "asset");
		json_buf_str(&j, s->assets[a].symbol);
		json_buf_key(&j, "collateral");
		json_buf_num(&j, amt[4 * a]);
		json_buf_key(&j, "debt");
		json_buf_num(&j, amt[4 * a + 1]);
		json_buf_key(&j, "perp_long");
		json_buf_num(&j, amt[4 * a + 2]);
		json_buf_key(&j, "perp_short");
		json_buf_num(&j, amt[4 * a + 3]);
		json_buf_key(&j, "levels");
		json_buf_begin(&j, '{');
		for (d = 0; d < 2; d++) {
			json_buf_key(&j, side[d]);
			json_buf_begin(&j, '{');
			json_buf_key(&j, "count");
			json_buf_int(&j, (int64_t)tot.count[d]);
			json_buf_key(&j, "qty");
			json_buf_num(&j, tot.qty[d]);
			json_buf_key(&j, "stale");
			json_buf_int(&j, (int64_t)(tot.count[d] -
			    b->cache[a].lv[d].n));
			json_buf_end(&j, '}');
		}
		json_buf_end(&j, '}');
		json_buf_end(&j, '}');
	}
	json_buf_end(&j, ']');
	answer_json(&j, ans);
out:
	free(amt);
	read_end(bs, s);
	return ans->status;
}

/* ---- a market without some book positions (own copies, 8.1) ----------- */

struct own {
	struct lc_market mkt;
	struct lc_asset_market *assets;
	const struct snapshot *snap;
	size_t nassets;
	/* per (asset, dir) [2 a + d]: the copy's buffers and the indices
	 * of the snapshot's levels taken out (sorted by own_finish) */
	double **price, **qty;
	size_t *cap;
	size_t **out, *nout, *outcap;
};

void
api_books_own_free(void *p)
{
	struct own *o = p;
	size_t i;

	if (o == NULL)
		return;
	for (i = 0; i < 2 * o->nassets; i++) {
		if (o->price != NULL)
			free(o->price[i]);
		if (o->qty != NULL)
			free(o->qty[i]);
		if (o->out != NULL)
			free(o->out[i]);
	}
	free(o->price);
	free(o->qty);
	free(o->cap);
	free(o->out);
	free(o->nout);
	free(o->outcap);
	free(o->assets);
	free(o);
}

/* The market of snap again, the buffers kept for the next use. */
static void
own_reset(struct own *o)
{
	memcpy(o->assets, o->snap->lc_assets,
	    o->nassets * sizeof(*o->assets));
	memset(o->nout, 0, 2 * o->nassets * sizeof(*o->nout));
	o->mkt = o->snap->market;
	o->mkt.assets = o->assets;
}

static struct own *
own_new(const struct snapshot *snap)
{
	struct own *o = calloc(1, sizeof(*o));
	size_t n = 2 * snap->nassets + 1;

	if (o == NULL)
		return NULL;
	o->snap = snap;
	o->nassets = snap->nassets;
	o->assets = malloc((snap->nassets + 1) * sizeof(*o->assets));
	o->price = calloc(n, sizeof(*o->price));
	o->qty = calloc(n, sizeof(*o->qty));
	o->cap = calloc(n, sizeof(*o->cap));
	o->out = calloc(n, sizeof(*o->out));
	o->nout = calloc(n, sizeof(*o->nout));
	o->outcap = calloc(n, sizeof(*o->outcap));
	if (o->assets == NULL || o->price == NULL || o->qty == NULL ||
	    o->cap == NULL || o->out == NULL || o->nout == NULL ||
	    o->outcap == NULL) {
		api_books_own_free(o);
		return NULL;
	}
	own_reset(o);
	return o;
}

/*
 * Take one level (price x, qty q) of (a, d) out: the first of the
 * snapshot's levels with that price and quantity not taken yet.
 */
static int
own_remove(struct own *o, uint32_t a, int d, double x, double q)
{
	const struct lc_levels *l = &o->snap->lc_assets[a].levels[d];
	size_t ad = 2 * (size_t)a + (size_t)d, lo = 0, hi = l->n, k, t;
	int desc = d == LC_DOWN;

	/* first level not before x in cascade order */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (desc ? l->price[mid] > x : l->price[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (k = lo; k < l->n && l->price[k] == x; k++) {
		if (l->qty[k] != q)
			continue;
		for (t = 0; t < o->nout[ad] && o->out[ad][t] != k; t++)
			;
		if (t < o->nout[ad])
			continue;	/* taken by an earlier step */
		if (o->nout[ad] == o->outcap[ad]) {
			size_t c = o->outcap[ad] > 0 ? 2 * o->outcap[ad] : 8;
			size_t *g = realloc(o->out[ad], c * sizeof(*g));

			if (g == NULL)
				return -1;
			o->out[ad] = g;
			o->outcap[ad] = c;
		}
		o->out[ad][o->nout[ad]++] = k;
		return 0;
	}
	return 0;
}

static int
cmp_size(const void *x, const void *y)
{
	size_t a = *(const size_t *)x, b = *(const size_t *)y;

	return (a > b) - (a < b);
}

/* The copies without the levels taken out, in o->mkt.  0, or -1. */
static int
own_finish(struct own *o)
{
	size_t ad, k, from, m;

	for (ad = 0; ad < 2 * o->nassets; ad++) {
		const struct lc_levels *l;

		if (o->nout[ad] == 0)
			continue;
		l = &o->snap->lc_assets[ad / 2].levels[ad % 2];
		if (o->cap[ad] < l->n) {
			free(o->price[ad]);
			free(o->qty[ad]);
			o->price[ad] = malloc(l->n * sizeof(double));
			o->qty[ad] = malloc(l->n * sizeof(double));
			o->cap[ad] = l->n;
			if (o->price[ad] == NULL || o->qty[ad] == NULL) {
				o->cap[ad] = 0;
				return -1;
			}
		}
		qsort(o->out[ad], o->nout[ad], sizeof(size_t), cmp_size);
		/* the runs between the levels taken out, block copies */
		for (k = 0, from = 0, m = 0; k <= o->nout[ad]; k++) {
			size_t to = k < o->nout[ad] ? o->out[ad][k] : l->n;

			memcpy(o->price[ad] + m, l->price + from,
			    (to - from) * sizeof(double));
			memcpy(o->qty[ad] + m, l->qty + from,
			    (to - from) * sizeof(double));
			m += to - from;
			from = to + 1;
		}
		o->assets[ad / 2].levels[ad % 2].n = m;
		o->assets[ad / 2].levels[ad % 2].price = o->price[ad];
		o->assets[ad / 2].levels[ad % 2].qty = o->qty[ad];
		/* the snapshot's prebuilt cascade is of the full arrays */
		o->assets[ad / 2].base[ad % 2] = NULL;
	}
	return 0;
}

/* Take the non-stale derived levels of one book position out of o. */
static int
own_remove_slot(struct own *o, const struct api_books *bs,
    const struct bk_book *b, size_t slot)
{
	const struct lc_book_slot *sl;
	size_t k;

	if (slot >= b->lc.nslots)
		return 0;
	sl = &b->lc.slot[slot];
	for (k = 0; k < sl->n; k++) {
		const struct lc_book_step *st = &b->lc.step[sl->off + k];

		if (lc_book_step_stale(st, bs->price[st->asset]))
			continue;
		if (own_remove(o, st->asset, (int)st->dir, st->price,
		    st->qty) != 0)
			return -1;
	}
	return 0;
}

int
api_books_exclude(struct app *app, const struct snapshot *snap,
    const struct score_request *req, struct lc_market *mkt, void **own,
    int pinned, struct problem *err)
{
	struct api_books *bs = app->writer != NULL ? app->writer->books : NULL;
	struct api_answer tmp;
	struct snapshot *cur;
	struct own *o = NULL;
	size_t i, nerr = 0;
	int rc = -1;

	*own = NULL;
	*mkt = snap->market;
	for (i = 0; i < req->npos && req->book != NULL; i++)
		if (req->book[i] != NULL)
			break;
	if (req->book == NULL || i == req->npos)
		return 0;
	if (pinned) {
		cur = NULL;
	} else {
		api_answer_init(&tmp);
		cur = read_begin(app, &bs, &tmp);
		api_answer_release(&tmp);
		if (cur == NULL)
			return 1;
		if (cur != snap) {
			rc = 1;
			goto out;
		}
	}
	if (bs == NULL)
		return 1;
	o = own_new(snap);
	if (o == NULL)
		goto oom;
	for (i = 0; i < req->npos; i++) {
		const struct bk_book *b;
		const struct bk_pos *p;
		char ptr[64];
		long at;

		if (req->book[i] == NULL)
			continue;
		snprintf(ptr, sizeof(ptr), "/positions/%zu/book", i);
		at = books_find(bs, req->book[i]);
		if (at < 0) {
			problem_add(err, ptr, "unknown book %s", req->book[i]);
			nerr++;
			continue;
		}
		b = bs->b[at];
		p = book_get(b, req->pos[i].id);
		if (p == NULL) {
			problem_add(err, ptr, "book %s holds no position %s",
			    req->book[i], req->pos[i].id);
			nerr++;
			continue;
		}
		if (own_remove_slot(o, bs, b, p->slot) != 0)
			goto oom;
	}
	if (nerr > 0) {
		problem_set(err, 422, "validation", "Unprocessable request",
		    "%zu book reference(s) break the contract (see errors)",
		    nerr);
		goto out;
	}
	if (own_finish(o) != 0)
		goto oom;
	*mkt = o->mkt;
	*own = o;
	o = NULL;
	rc = 0;
	goto out;
oom:
	problem_set(err, 503, "unavailable", "Service unavailable",
	    "out of memory");
out:
	api_books_own_free(o);
	if (!pinned)
		read_end(bs, cur);
	return rc;
}

struct snapshot *
api_books_pin(struct app *app, void **pin)
{
	struct api_books *bs;
	struct api_answer tmp;
	struct snapshot *s;

	api_answer_init(&tmp);
	s = read_begin(app, &bs, &tmp);
	api_answer_release(&tmp);
	*pin = s != NULL ? bs : NULL;
	return s;
}

void
api_books_unpin(void *pin)
{
	struct api_books *bs = pin;

	if (bs != NULL)
		pthread_rwlock_unlock(&bs->rw);
}

/* ---- the book under a shock (8.2) ------------------------------------- */

enum { R_ASSET, R_DIR, R_FROM, R_TO, R_STEP, R_THRESH, R_HORIZON, R_DOF,
	R_N };
static const char *const rnames[R_N] = { "asset", "direction", "from", "to",
	"step", "cascade_threshold_bps", "horizon_days", "tail_dof" };

/* horizon_days and tail_dof of a query (7's ranges); -1 with errors. */
static int
query_horizon(struct problem *err, const char *h, const char *nu,
    double *horizon, double *dof)
{
	*horizon = 1;
	*dof = 4;
	if (api_query_num(err, "horizon_days", h, horizon) == 0 &&
	    !(*horizon > 0 && *horizon <= 365))
		api_query_error(err, "horizon_days", "must be in (0, 365]");
	if (api_query_num(err, "tail_dof", nu, dof) == 0 &&
	    !(*dof == 0 || (*dof > 2 && *dof <= 1000)))
		api_query_error(err, "tail_dof", "must be 0 (normal) or in (2, 1000]");
	return err->nerrors > 0 ? -1 : 0;
}

static void
buf_figs(struct json_buf *j, const struct lc_book_figs *f, const char *sfx,
    int counts)
{
	char k[48];

	if (counts) {
		snprintf(k, sizeof(k), "liquidated_positions%s", sfx);
		json_buf_key(j, k);
		json_buf_int(j, (int64_t)f->positions);
		snprintf(k, sizeof(k), "liquidated_qty%s", sfx);
		json_buf_key(j, k);
		json_buf_num(j, f->qty);
	}
	snprintf(k, sizeof(k), "liquidated_value%s", sfx);
	json_buf_key(j, k);
	json_buf_num(j, f->value);
	snprintf(k, sizeof(k), "bad_debt%s", sfx);
	json_buf_key(j, k);
	json_buf_num(j, f->bad_debt);
}

static char *
risk_body(const char *book, const char *asset, enum lc_dir dir,
    const struct lc_book_risk_args *ra, const struct lc_book_risk *r)
{
	struct json_buf j;
	size_t i;
	int q;

	json_buf_init(&j, 512 + 400 * r->npoints);
	json_buf_begin(&j, '{');
	json_buf_key(&j, "book");
	json_buf_str(&j, book);
	json_buf_key(&j, "asset");
	json_buf_str(&j, asset);
	json_buf_key(&j, "direction");
	json_buf_str(&j, dir == LC_UP ? "up" : "down");
	json_buf_key(&j, "price");
	json_buf_num(&j, r->price);
	json_buf_key(&j, "horizon_days");
	json_buf_num(&j, ra->horizon_days);
	json_buf_key(&j, "tail_dof");
	json_buf_num(&j, ra->tail_dof);
	json_buf_key(&j, "points");
	json_buf_begin(&j, '[');
	for (i = 0; i < r->npoints; i++) {
		const struct lc_book_point *p = &r->points[i];

		json_buf_begin(&j, '{');
		json_buf_key(&j, "shock");
		json_buf_num(&j, p->shock);
		json_buf_key(&j, "shocked_price");
		json_buf_num(&j, p->shocked_price);
		json_buf_key(&j, "final_price");
		json_buf_num(&j, p->final_price);
		buf_figs(&j, &p->cascade, "", 1);
		buf_figs(&j, &p->stat, "_static", 1);
		json_buf_end(&j, '}');
	}
	json_buf_end(&j, ']');
	json_buf_key(&j, "var");
	json_buf_begin(&j, '[');
	for (q = 0; q < 2; q++) {
		json_buf_begin(&j, '{');
		json_buf_key(&j, "q");
		json_buf_num(&j, r->var[q].q);
		json_buf_key(&j, "shock");
		json_buf_num(&j, r->var[q].shock);
		buf_figs(&j, &r->var[q].at.cascade, "", 0);
		buf_figs(&j, &r->var[q].at.stat, "_static", 0);
		json_buf_end(&j, '}');
	}
	json_buf_end(&j, ']');
	json_buf_key(&j, "expected");
	json_buf_begin(&j, '{');
	buf_figs(&j, &r->expected, "", 0);
	buf_figs(&j, &r->expected_static, "_static", 0);
	json_buf_end(&j, '}');
	json_buf_key(&j, "warnings");
	json_buf_begin(&j, '[');
	if (r->stale_levels > 0) {
		json_buf_begin(&j, '{');
		json_buf_key(&j, "code");
		json_buf_str(&j, "stale_levels");
		json_buf_key(&j, "detail");
		json_buf_str(&j, "levels at or beyond the price are not "
		    "triggers of the cascade");
		json_buf_key(&j, "asset");
		json_buf_str(&j, asset);
		json_buf_key(&j, "count");
		json_buf_int(&j, (int64_t)r->stale_levels);
		json_buf_end(&j, '}');
	}
	json_buf_end(&j, ']');
	json_buf_end(&j, '}');
	return json_buf_take(&j);
}

int
api_get_book_risk(struct app *app, const char *book,
    const struct api_param *query, size_t nquery, struct api_answer *ans)
{
	struct api_books *bs;
	struct snapshot *s = read_begin(app, &bs, ans);
	const struct lc_book **books = NULL;
	struct lc_book_risk_args ra;
	struct lc_book_risk *r = NULL;
	struct lc_levels stored;
	const char *v[R_N];
	double thresh = 100;
	size_t k, npts;
	long a = -1, self;
	enum lc_status st;

	if (s == NULL)
		return ans->status;
	if (read_book(bs, book, ans) == NULL)
		goto out;
	self = books_find(bs, book);
	memset(&ra, 0, sizeof(ra));
	api_query_check(query, nquery, rnames, R_N, NULL, v, &ans->err);
	if (v[R_ASSET] == NULL)
		api_query_error(&ans->err, "asset", "is required");
	else if ((a = api_find_stored(s, v[R_ASSET])) < 0)
		api_not_found(ans, v[R_ASSET]);
	if (ans->status == 404) {
		problem_release(&ans->err);
		problem_init(&ans->err);
		api_not_found(ans, v[R_ASSET]);
		goto out;
	}
	ra.dir = LC_DOWN;
	if (v[R_DIR] != NULL && strcmp(v[R_DIR], "up") == 0)
		ra.dir = LC_UP;
	else if (v[R_DIR] != NULL && strcmp(v[R_DIR], "down") != 0)
		api_query_error(&ans->err, "direction", "must be down or up");
	ra.from = 0;
	ra.to = ra.dir == LC_DOWN ? -0.5 : 0.5;
	ra.step = 0.01;
	api_query_num(&ans->err, "from", v[R_FROM], &ra.from);
	api_query_num(&ans->err, "to", v[R_TO], &ra.to);
	api_query_num(&ans->err, "step", v[R_STEP], &ra.step);
	if (api_query_num(&ans->err, "cascade_threshold_bps", v[R_THRESH],
	    &thresh) == 0 && !(thresh > 0 && thresh <= 1e6))
		api_query_error(&ans->err, "cascade_threshold_bps",
		    "must be in (0, 1e6]");
	query_horizon(&ans->err, v[R_HORIZON], v[R_DOF], &ra.horizon_days,
	    &ra.tail_dof);
	if (ans->err.nerrors == 0 && lc_book_grid(ra.dir, ra.from, ra.to,
	    ra.step, NULL, &npts) != LC_OK)
		api_query_error(&ans->err, !(ra.step > 0) ? "step" :
		    !(1 + ra.from > 0) ? "from" :
		    (ra.dir == LC_DOWN ? ra.to > ra.from : ra.to < ra.from) ||
		    !(1 + ra.to > 0) ? "to" : "step",
		    "breaks the grid rule (step > 0, to on the direction's "
		    "side of from, 1 + shock > 0, at most 1001 points)");
	if (api_query_failed(ans))
		goto out;
	books = malloc((bs->n + 1) * sizeof(*books));
	if (books == NULL)
		goto oom;
	for (k = 0; k < bs->n; k++)
		books[k] = &bs->b[k]->lc;
	stored.n = s->blocks[a]->sa.levels[ra.dir].n;
	stored.price = s->blocks[a]->sa.levels[ra.dir].price;
	stored.qty = s->blocks[a]->sa.levels[ra.dir].qty;
	ra.asset = (uint32_t)a;
	ra.price = bs->price;
	ra.vol = bs->vol;
	ra.stored = &stored;
	ra.books = books;
	ra.nbooks = bs->n;
	ra.self = (size_t)self;
	ra.curve = &s->lc_assets[a].curve[ra.dir == LC_DOWN ? LC_BID : LC_ASK];
	ra.depth_scale = 1;
	r = risk_take(bs);
	if (r == NULL)
		goto oom;
	st = lc_book_risk(&ra, r);
	if (st == LC_ENOMEM)
		goto oom;
	if (st != LC_OK) {
		problem_set(&ans->err, 500, "internal", "Internal server error",
		    "the model rejected the book's risk query (%s)",
		    lc_status_str(st));
		ans->status = 500;
		goto out;
	}
	ans->body = risk_body(book, s->assets[a].symbol, ra.dir, &ra, r);
	wtx_answer(ans, 1, 200);
	goto out;
oom:
	api_oom(ans);
out:
	free(books);
	risk_give(bs, r);
	read_end(bs, s);
	return ans->status;
}

/* ---- the riskiest positions (8.3) ------------------------------------- */

enum { S_SORT, S_LIMIT, S_OFFSET, S_HORIZON, S_DOF, S_N };
static const char *const snames[S_N] = { "sort", "limit", "offset",
	"horizon_days", "tail_dof" };

/*
 * Effective prices for the sort (docs/model.md 4.1, 5.1): a single-asset
 * position's is m_j of the cascade, j its first ladder step.  Scored
 * alone, its own steps are triggers after every market level of equal
 * price; with its copy in the market's levels, m_j is the same at the
 * last level of its price: m_k is a minimum over t_1..t_k, and among
 * levels of one price the first has the smallest t (the least volume
 * before it), whatever the order of the others.  So one cascade per asset
 * and direction over the market's levels gives every position's key,
 * equal to what lc_score gives it alone (tested against the answers).
 */
struct rank_ctx {
	const struct snapshot *s;
	const struct api_books *bs;
	struct lc_cascade *cas;		/* [2 nassets], built on demand */
	unsigned char *built;
	struct lc_liq_price *lp;	/* scratch */
	struct lc_liq_result *lr;
	size_t cap;
};

/* m_k of (a, d) with k the market's levels at or before x; NAN none. */
static double
rank_effective(struct rank_ctx *rc, uint32_t a, enum lc_dir d, double x)
{
	const struct lc_levels *l = &rc->s->lc_assets[a].levels[d];
	struct lc_cascade *c = &rc->cas[2 * (size_t)a + (size_t)d];
	double P = rc->bs->price[a];
	size_t nst = lc_levels_stale(d, l->price, l->n, P), lo, hi;

	if (!rc->built[2 * (size_t)a + (size_t)d]) {
		if (lc_cascade_build(c, d, &rc->s->lc_assets[a].curve[d ==
		    LC_DOWN ? LC_BID : LC_ASK], 1.0, l->n > nst ? l->price +
		    nst : NULL, l->n > nst ? l->qty + nst : NULL, l->n - nst)
		    != LC_OK)
			return NAN;
		rc->built[2 * (size_t)a + (size_t)d] = 1;
	}
	lo = 0;
	hi = c->n;
	while (lo < hi) {	/* levels at or before x */
		size_t mid = lo + (hi - lo) / 2;

		if (d == LC_DOWN ? c->price[mid] >= x : c->price[mid] <= x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > 0 ? c->m[lo] : (double)NAN;
}

/* The sort key of one position (NAN: none, sorted last). */
static double
rank_key(struct rank_ctx *rc, const struct lc_position *p, int by_health)
{
	const double *price = rc->bs->price, *vol = rc->bs->vol;
	struct lc_ladder lad;
	size_t n = 0, k;
	uint32_t a;
	enum lc_dir d;
	enum lc_loan_kind kind = LC_LOAN_SINGLE;

	if (p->type == LC_POS_LOAN && by_health)
		return lc_loan_health(&p->u.loan, price);
	if (by_health)
		return NAN;
	if (p->type == LC_POS_PERP) {
		struct lc_perp_liq pl;

		if (lc_perp_liq_price(&p->u.perp, price, &pl) != LC_OK ||
		    lc_perp_ladder(&p->u.perp, price, &lad) != LC_OK)
			return NAN;
		rc->lr[0].asset = p->u.perp.asset;
		rc->lr[0].dir = p->u.perp.is_short ? LC_UP : LC_DOWN;
		rc->lr[0].price = pl.price;
		n = 1;
	} else {
		kind = lc_loan_classify(&p->u.loan, vol, &a, &d);
		if (lc_loan_liq_prices(&p->u.loan, price, vol, rc->lp, rc->cap,
		    &n) != LC_OK || n > rc->cap)
			return NAN;
		for (k = 0; k < n; k++) {
			rc->lr[k].asset = rc->lp[k].asset;
			rc->lr[k].dir = rc->lp[k].dir;
			rc->lr[k].price = rc->lp[k].price;
			rc->lr[k].effective_price = NAN;
		}
		if (kind == LC_LOAN_SINGLE && (n != 1 ||
		    lc_loan_ladder(&p->u.loan, price, vol, &lad) != LC_OK))
			return NAN;
	}
	if (kind == LC_LOAN_SINGLE && n == 1) {
		a = rc->lr[0].asset;
		if (lad.liquidatable_now)
			rc->lr[0].effective_price = price[a];
		else if (lad.n > 0)
			rc->lr[0].effective_price = rank_effective(rc, a,
			    rc->lr[0].dir, lad.price[0]);
		else
			rc->lr[0].effective_price = NAN;
	}
	return lc_book_effective_distance(rc->lr, n, price);
}

static int
rank_positions(const struct api_books *bs, const struct bk_book *b,
    const struct snapshot *s, int by_health, double *key, size_t *n)
{
	struct rank_ctx rc;
	size_t i, na = s->nassets;
	int ok;

	memset(&rc, 0, sizeof(rc));
	rc.s = s;
	rc.bs = bs;
	rc.cap = 2 * na + 2;
	rc.cas = calloc(2 * na + 1, sizeof(*rc.cas));
	rc.built = calloc(2 * na + 1, 1);
	rc.lp = malloc(rc.cap * sizeof(*rc.lp));
	rc.lr = malloc(rc.cap * sizeof(*rc.lr));
	ok = rc.cas != NULL && rc.built != NULL && rc.lp != NULL &&
	    rc.lr != NULL;
	for (i = 0; rc.cas != NULL && i < 2 * na; i++)
		lc_cascade_init(&rc.cas[i]);
	*n = 0;
	for (i = 0; ok && i < b->next_slot; i++) {
		key[i] = NAN;
		if (b->by_slot[i] == NULL)
			continue;
		key[i] = rank_key(&rc, &b->by_slot[i]->pos, by_health);
		(*n)++;
	}
	for (i = 0; rc.cas != NULL && i < 2 * na; i++)
		lc_cascade_release(&rc.cas[i]);
	free(rc.cas);
	free(rc.built);
	free(rc.lp);
	free(rc.lr);
	return ok ? 0 : -1;
}

/*
 * Score one book position alone, its own copy left out (8.3), into j; o
 * and res are reused from one position to the next.
 */
static int
score_alone(const struct api_books *bs, const struct bk_book *b,
    struct own *o, struct lc_score_result *res, const struct lc_params *pr,
    size_t slot, struct json_buf *j)
{
	struct score_request one;
	const char *bookname = b->meta.name;

	own_reset(o);
	if (own_remove_slot(o, bs, b, slot) != 0 || own_finish(o) != 0)
		return -1;
	memset(&one, 0, sizeof(one));
	one.params = *pr;
	one.npos = 1;
	one.pos = &b->by_slot[slot]->pos;
	one.book = &bookname;
	one.nassets = o->nassets;
	one.price = bs->price;
	one.vol = bs->vol;
	one.lc.params = *pr;
	one.lc.pos = one.pos;
	one.lc.npos = 1;
	one.lc.price = bs->price;
	one.lc.vol = bs->vol;
	if (lc_score(&o->mkt, &one.lc, res) != LC_OK)
		return -1;
	codec_buf_position(j, &one, o->snap, 0, &res->pos[0]);
	return 0;
}

int
api_get_book_positions(struct app *app, const char *book,
    const struct api_param *query, size_t nquery, struct api_answer *ans)
{
	struct api_books *bs;
	struct snapshot *s = read_begin(app, &bs, ans);
	const struct bk_book *b;
	double *key = NULL;
	size_t *top = NULL, ntop = 0;
	struct lc_score_result res;
	struct own *o = NULL;
	struct lc_params pr;
	struct json_buf j;
	const char *v[S_N];
	double limit = 100, offset = 0;
	size_t n = 0, i;
	int by_health = 0;

	lc_score_result_init(&res);
	if (s == NULL)
		return ans->status;
	b = read_book(bs, book, ans);
	if (b == NULL)
		goto out;
	lc_params_default(&pr);
	api_query_check(query, nquery, snames, S_N, NULL, v, &ans->err);
	if (v[S_SORT] != NULL && strcmp(v[S_SORT], "health_factor") == 0)
		by_health = 1;
	else if (v[S_SORT] != NULL &&
	    strcmp(v[S_SORT], "effective_distance") != 0)
		api_query_error(&ans->err, "sort",
		    "must be effective_distance or health_factor");
	if (api_query_num(&ans->err, "limit", v[S_LIMIT], &limit) == 0 &&
	    !(limit >= 1 && limit <= 1000 && limit == floor(limit)))
		api_query_error(&ans->err, "limit", "must be an integer in [1, 1000]");
	if (api_query_num(&ans->err, "offset", v[S_OFFSET], &offset) == 0 &&
	    !(offset >= 0 && offset <= 1e15 && offset == floor(offset)))
		api_query_error(&ans->err, "offset", "must be an integer >= 0");
	query_horizon(&ans->err, v[S_HORIZON], v[S_DOF], &pr.horizon_days,
	    &pr.tail_dof);
	if (api_query_failed(ans))
		goto out;
	/* keys by slot, then the page by a bounded heap (lc_book_top) */
	key = malloc((b->next_slot > b->lc.nslots ? b->next_slot :
	    b->lc.nslots) * sizeof(*key) + sizeof(*key));
	top = malloc((size_t)limit * sizeof(*top));
	o = own_new(s);
	if (o == NULL)
		goto oom;
	for (i = 0; key != NULL && i < b->lc.nslots; i++)
		key[i] = NAN;	/* slots past next_slot (none in practice) */
	if (key == NULL || top == NULL ||
	    rank_positions(bs, b, s, by_health, key, &n) != 0 ||
	    lc_book_top(&b->lc, key, (size_t)offset, (size_t)limit, top,
	    &ntop) != LC_OK)
		goto oom;
	json_buf_init(&j, 4096);
	json_buf_begin(&j, '{');
	json_buf_key(&j, "book");
	json_buf_str(&j, b->meta.name);
	json_buf_key(&j, "total");
	json_buf_int(&j, (int64_t)n);
	json_buf_key(&j, "sort");
	json_buf_str(&j, by_health ? "health_factor" : "effective_distance");
	json_buf_key(&j, "offset");
	json_buf_int(&j, (int64_t)offset);
	json_buf_key(&j, "positions");
	json_buf_begin(&j, '[');
	for (i = 0; i < ntop; i++) {
		json_buf_begin(&j, '{');
		json_buf_key(&j, by_health ? "health_factor"
		                           : "effective_distance");
		json_buf_num(&j, key[top[i]]);
		json_buf_key(&j, "position");
		if (score_alone(bs, b, o, &res, &pr, top[i], &j) != 0) {
			json_buf_free(&j);
			goto oom;
		}
		json_buf_end(&j, '}');
	}
	json_buf_end(&j, ']');
	answer_json(&j, ans);
	goto out;
oom:
	api_oom(ans);
out:
	free(key);
	free(top);
	api_books_own_free(o);
	lc_score_result_release(&res);
	read_end(bs, s);
	return ans->status;
}

/* ---- simulate */
struct snapshot *
api_books_sim_take(struct app *app, const char *book,
    int (*take)(void *ctx, const struct api_books_sim_view *v), void *ctx,
    struct api_answer *ans)
{
	struct api_books *bs;
	struct snapshot *s = read_begin(app, &bs, ans), *ret = NULL;
	struct api_books_sim_view v;
	const struct bk_book *b;
	size_t i;

	if (s == NULL)
		return NULL;
	b = read_book(bs, book, ans);
	if (b == NULL)
		goto out;
	v.pos = malloc((b->npos + 1) * sizeof(*v.pos));
	if (v.pos == NULL) {
		api_oom(ans);
		goto out;
	}
	v.snap = s;
	v.book = &b->lc;
	v.price = bs->price;
	v.npos = 0;
	for (i = 0; i < b->next_slot; i++)
		if (b->by_slot[i] != NULL)
			v.pos[v.npos++] = &b->by_slot[i]->pos;
	if (take(ctx, &v) == 0)
		ret = snapshot_ref(s);
	else
		api_oom(ans);
	free(v.pos);
out:
	read_end(bs, s);
	return ret;
}

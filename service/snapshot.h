/*
 * snapshot.h - the immutable, reference-counted in-memory market snapshot
 * that requests read without locks or SQL (STYLE: "JSON -> validated curve
 * -> SQLite -> a new immutable in-memory snapshot").
 *
 * A snapshot is built once from a struct market_data (what the store
 * loaded) and never changes afterwards.  What it holds per stored asset is
 * built into a struct snapshot_block of its own, reference-counted and
 * immutable, so that snapshot_update() can make the next snapshot after a
 * write to one asset by building only that asset's block and sharing every
 * other block with the current snapshot.  It holds, per asset: the
 * aggregated bid and ask curves, the stored liquidation levels of each side
 * in cascade order (sell: price descending, buy: ascending, ties by seq),
 * the struct lc_market that lc_score() takes, the correlation matrix, a
 * symbol index, and the figures GET /v1/markets shows.
 *
 * USD: the snapshot always contains an asset "USD" (docs/model.md 1: USD exists
 * implicitly with price 1 and volatility 0).  When the market data has no
 * USD row, one is appended with `implicit` set (no curves, no levels);
 * listings skip implicit assets and writes cannot refer to them.  A stored
 * USD row, if the store allows one, is used as stored.
 *
 * Ownership and threads: snapshot_build() returns a snapshot with one
 * reference.  snapshot_ref() adds one, snapshot_unref() drops one and frees
 * the snapshot with the last (NULL is a no-op); the count is a C11 atomic,
 * so any thread may drop its reference.  Everything reachable from a
 * snapshot is read-only and may be read by any number of threads at once.
 * A struct snapshot_cell publishes the current snapshot: get returns a new
 * reference (the caller unrefs it), publish swaps in a new one (the cell
 * takes over the caller's reference) and drops the cell's reference to the
 * old one; only the pointer swap and the ref run under a tiny mutex.
 */
#ifndef CASCADED_SNAPSHOT_H
#define CASCADED_SNAPSHOT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "cascade/score.h"
#include "marketdata.h"

/* Depth grid of GET /v1/markets: 1, 2, 5, 10 % in bps. */
#define SNAPSHOT_NDEPTH 4
/* Distinct level sources kept per asset; the last one is "other". */
#define SNAPSHOT_MAX_SOURCES 32
extern const double snapshot_depth_bps[SNAPSHOT_NDEPTH];

struct snapshot_venue {
	const char *venue;   /* points into the snapshot */
	const char *as_of;   /* RFC 3339 UTC */
	int64_t as_of_epoch; /* seconds since 1970; INT64_MIN unparsable */
	size_t npoints;
};

/* One side (bid or ask) of an asset's depth. */
struct snapshot_side {
	size_t nvenues;
	struct snapshot_venue *venues;     /* in market_data order */
	double depth_qty[SNAPSHOT_NDEPTH]; /* aggregated D(d), scale 1 */
	int64_t oldest_epoch; /* oldest venue as_of; INT64_MAX none */
};

/* Stored liquidation levels of one side (sell = LC_DOWN, buy = LC_UP). */
struct snapshot_levels {
	size_t n;
	double *price; /* cascade order */
	double *qty;
	double total_qty;
	size_t nstale; /* stale against the cached price */
	const uint32_t *src; /* parallel: index into the asset's sources */
};

struct snapshot_asset {
	char symbol[MD_SYMBOL_MAX + 1];
	double price;
	double vol;
	char updated_at[MD_TIME_MAX];
	int implicit;                     /* the implicit USD */
	char depth_as_of[MD_TIME_MAX];    /* newest curve as_of, "" none */
	struct snapshot_side side[2];     /* [LC_BID], [LC_ASK] */
	struct snapshot_levels levels[2]; /* [LC_DOWN] sell, [LC_UP] buy */
	/* price history (docs/model.md section 9): see struct md_asset */
	int vol_source;                   /* MD_VOL_EXPLICIT / _HISTORY */
	int vol_pinned;
	struct md_vol_hist hist;
	/* the distinct `source` strings of the levels ("" none), see src */
	size_t nsources;
	const char *const *sources;
};

/*
 * One asset's stored levels in cascade order, shared by the blocks of
 * that asset while its levels do not change (a price or depth write keeps
 * them; an append merges into a new set).  Immutable once built.
 */
struct snapshot_levelset {
	atomic_size_t refs;
	uint64_t hash;              /* FNV-1a over the levels in seq order */
	int64_t max_seq;            /* highest seq held, 0 none */
	size_t n[2];                /* [LC_DOWN] sell, [LC_UP] buy */
	double *price[2];
	double *qty[2];
	double total_qty[2];
	/* level sources: distinct, first seen in seq order; src parallel */
	size_t nsources;
	char **sources;
	uint32_t *src[2];
};

/*
 * One stored asset, built: the snapshot_asset (whose venues point into
 * the block and whose levels into its level set), the aggregated curves,
 * the strings, and a content hash.  Immutable once built; freed with the
 * last snapshot that holds it.
 */
struct snapshot_block {
	atomic_size_t refs;
	uint64_t hash;              /* FNV-1a of the asset's content */
	struct snapshot_asset sa;
	struct lc_curve curve[2];   /* aggregated [LC_BID], [LC_ASK] */
	char *strings;              /* venue and as_of storage */
	struct snapshot_levelset *lv; /* one reference */
};

/* A prebuilt cascade shared by the snapshots that hold it. */
struct snapshot_base {
	atomic_size_t refs;
	struct lc_cascade_base *b;
};

struct snapshot {
	atomic_size_t refs;
	uint64_t version; /* increases with every build */
	char etag[24];    /* "\"<16 hex>\"": content hash */
	double default_rho;
	size_t nassets;
	struct snapshot_asset *assets;     /* store order, implicit USD last */
	struct lc_asset_market *lc_assets; /* parallel to assets */
	double *rho;                       /* nassets x nassets, row-major */
	struct lc_market market;           /* what lc_score() takes */
	uint32_t *by_symbol;               /* indices sorted by symbol */
	uint32_t usd;                      /* index of USD */
	struct snapshot_block **blocks;    /* parallel; NULL: implicit USD */
	/*
	 * books (8.1): merged level arrays of [2 * asset + dir], or NULL;
	 * one reference each (shared with the next snapshot while they do
	 * not change: snapshot_set_levels_shared, so that its prebuilt
	 * cascade is shared too)
	 */
	struct snapshot_merged **own;
	char **own_names;                  /* [nassets]: source name blocks */
	uint64_t hash;                     /* what etag shows */
	uint64_t base_hash;                /* hash before merged levels */
	/* ---- prebuilt cascades */
	/*
	 * [2 * asset + dir]: the cascade of the asset's levels of that
	 * direction on its curve at depth_scale 1 (cascade.h), one reference
	 * each, lent to lc_score() through lc_assets[a].base[dir]; NULL for
	 * a side without levels.  snapshot_update() shares the previous
	 * snapshot's base of an asset whose levels, curve and stale prefix
	 * did not change (the same arrays).
	 */
	struct snapshot_base **bases;
};

/*
 * Build a snapshot of `md` (borrowed; nothing of it is kept).  Curves must
 * already be valid lc_curves (the codec and the store validate them).
 * default_rho in [-1, 1] fills the correlations of pairs md does not hold
 * (md->corr, the written ones, win over md->hcorr, those estimated from
 * the price history, which win over default_rho).
 * Returns 0 and *out with one reference, or -1 (no memory, bad rho) with
 * *out NULL.
 */
int snapshot_build(
    const struct market_data *md, double default_rho, struct snapshot **out);

/* What a write did to the levels of the asset snapshot_update() gets. */
enum snapshot_level_mode {
	SNAPSHOT_LEVELS_RELOAD,	/* md holds all of them (replaced) */
	SNAPSHOT_LEVELS_KEEP,	/* unchanged: md holds none */
	SNAPSHOT_LEVELS_APPEND	/* md: those after snapshot_max_seq() */
};

/*
 * The snapshot after a write to one asset: `md` holds what the store now
 * has for `symbol` (one asset, or none when it was deleted: see
 * store_load_asset()) and every correlation; `lv` says which of its
 * levels md holds.  Every other asset's block is shared with `old`
 * (borrowed, unchanged), and so is the asset's level set with KEEP; the
 * correlation matrix is rebuilt from md->corr.  symbol NULL: only the
 * correlations changed.  KEEP and APPEND on an asset `old` does not hold
 * are an error.  The result equals snapshot_build() of the whole data
 * (version aside).  Returns 0 and *out with one reference, or -1 (no
 * memory, bad arguments) with *out NULL.
 */
int snapshot_update(const struct snapshot *old, const char *symbol,
    const struct market_data *md, enum snapshot_level_mode lv,
    struct snapshot **out);
/*
 * The highest level seq `old` holds for `symbol` (0: none) in *max_seq:
 * 0, or -1 when the snapshot holds no stored asset of that name.
 */
int snapshot_max_seq(const struct snapshot *s, const char *symbol,
    int64_t *max_seq);

struct snapshot *snapshot_ref(struct snapshot *s);
void snapshot_unref(struct snapshot *s);

/* Index of `symbol` (NUL-terminated), or -1; O(log n). */
long snapshot_find(const struct snapshot *s, const char *symbol);
/* Same for a symbol of `len` bytes (not NUL-terminated). */
long snapshot_find_n(const struct snapshot *s, const char *symbol, size_t len);

struct snapshot_cell {
	pthread_mutex_t mu;
	struct snapshot *cur;
};

/* Starts empty (get returns NULL until the first publish). */
int snapshot_cell_init(struct snapshot_cell *c);
/* Drops the cell's reference; no other thread may use the cell. */
void snapshot_cell_release(struct snapshot_cell *c);
/* A new reference to the current snapshot (NULL before the first publish). */
struct snapshot *snapshot_cell_get(struct snapshot_cell *c);
/* Make `s` current; takes over the caller's reference to `s`. */
void snapshot_cell_publish(struct snapshot_cell *c, struct snapshot *s);

/* ---- books: derived levels (docs/model.md 8.1) --------------------- */

/*
 * A new snapshot with the same content as s (blocks shared, tables
 * copied, a new version): the books layer sets its merged levels on it
 * before publishing.  0 and *out with one reference, or -1.
 */
int snapshot_copy(const struct snapshot *s, struct snapshot **out);
/*
 * Replace the level arrays of (asset, dir) of an unpublished snapshot by
 * price[0..n-1], qty[0..n-1] and src[0..n-1] (cascade order; src indexes
 * the asset's sources, see snapshot_set_sources(); the snapshot takes
 * them over, malloc'd, and frees them) with nstale of them stale: what
 * the cascade, the score, the liquidation map and GET /v1/markets then
 * use.  price NULL: back to the stored levels.  The etag takes their
 * content in.  The stored levels stay in the asset's block.
 */
void snapshot_set_levels(struct snapshot *s, size_t asset, int dir,
    double *price, double *qty, uint32_t *src, size_t n, size_t nstale);
/*
 * snapshot_set_levels(), but when prev (NULL: none) holds merged arrays
 * of the same symbol and direction with the same content (bit for bit:
 * price, qty, src), those are shared and the arrays given are freed:
 * the arrays keep their identity from one snapshot to the next, so
 * snapshot_rebase(s, prev) shares prev's prebuilt cascade instead of
 * building one (a write that does not move these levels: a depth or
 * correlation write, a price write to another asset).
 */
void snapshot_set_levels_shared(struct snapshot *s, size_t asset, int dir,
    double *price, double *qty, uint32_t *src, size_t n, size_t nstale,
    const struct snapshot *prev);
/*
 * The O(1) path of a write that did not touch these levels: when prev
 * (NULL: none) holds merged arrays of the same symbol and direction
 * tagged `tag` (snapshot_tag_levels; 0 never matches), on the same
 * stored levels (the same level set) and at the same price, s adopts
 * them (a reference; the etag mixes their precomputed digest, the same
 * value a merge into new arrays gives) and 1 is returned; else 0 and s
 * is unchanged.  The caller's tag must change whenever anything else the
 * merge reads changes (the books' derived levels, the set of books).
 */
int snapshot_keep_levels(struct snapshot *s, size_t asset, int dir,
    const struct snapshot *prev, uint64_t tag);
/*
 * Tag the merged arrays of (asset, dir) of s, if any, with what the
 * writer derived them from (also when shared with an older snapshot:
 * their content is that merge's).  Only the writer reads tags.
 */
void snapshot_tag_levels(struct snapshot *s, size_t asset, int dir,
    uint64_t tag);
/*
 * The level sources of asset (names[0..n-1], copied): what the src
 * arrays of snapshot_set_levels() index.  0, or -1 on no memory.
 */
int snapshot_set_sources(struct snapshot *s, size_t asset,
    const char *const *names, size_t n);
/*
 * After snapshot_set_levels(): the prebuilt cascades (bases) of every
 * asset and direction again from the final level arrays of s, keeping
 * those of s whose arrays did not change, else sharing old's that still
 * fit (old NULL: none), else building them.  0, or -1 on no memory (the
 * sides left without a base are then rebuilt by each lc_score()).
 */
int snapshot_rebase(struct snapshot *s, const struct snapshot *old);

#endif

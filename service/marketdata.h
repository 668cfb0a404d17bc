/*
 * marketdata.h - the raw market data set as stored (docs/model.md section 1): what
 * the SQLite store loads and writes, and what a snapshot is built from.
 *
 * Liquidation levels come in two forms.  struct md_level is the write
 * form (the codec's output, the store's input): it carries its batch's
 * as_of and source.  struct md_packed_level is the loaded form: 32 bytes
 * per level, with as_of and source interned once per batch of consecutive
 * levels that share them (md_asset.batches).  The store loads only the
 * packed form; an md_asset built by hand may use either (or both: the
 * snapshot takes `levels` first, then `packed`).
 *
 * Plain owned data: market_data_release() frees everything below it.
 */
#ifndef CASCADED_MARKETDATA_H
#define CASCADED_MARKETDATA_H

#include <stddef.h>
#include <stdint.h>
#include "cascade/curve.h"

#define MD_SYMBOL_MAX 16
#define MD_VENUE_MAX 64
#define MD_TIME_MAX 40		/* RFC 3339 text */
#define MD_SOURCE_MAX 128

/* One venue's curve on one side. */
struct md_curve {
	char venue[MD_VENUE_MAX + 1];
	int side;			/* enum lc_side */
	char as_of[MD_TIME_MAX];	/* RFC 3339, UTC */
	struct lc_curve curve;		/* validated points */
};

/* One stored liquidation level. */
struct md_level {
	double price;
	double qty;
	int side;			/* enum lc_dir: LC_DOWN sell, LC_UP buy */
	int64_t seq;			/* insertion order (ties) */
	char as_of[MD_TIME_MAX];
	char source[MD_SOURCE_MAX + 1];
};

/* One stored liquidation level as loaded (compact). */
struct md_packed_level {
	double price;
	double qty;
	int64_t seq;			/* insertion order (ties) */
	int32_t side;			/* enum lc_dir */
	uint32_t batch;			/* index into md_asset.batches */
};

/* as_of and source shared by consecutive levels of one write. */
struct md_level_batch {
	char as_of[MD_TIME_MAX];
	char source[MD_SOURCE_MAX + 1];
};

/* ---- price history (docs/model.md section 9) */
#define MD_VOL_EXPLICIT 0	/* the written volatility */
#define MD_VOL_HISTORY 1	/* sigma(h) from the price history */

/*
 * The estimators of an asset's price history at its last candle, as the
 * api layer's incremental state holds them (not stored: filled before a
 * snapshot is built).  ok: both the EWMA and the long-run variance have
 * enough data (the minimum-data rule), and the variances are set.
 */
struct md_vol_hist {
	int ok;
	double ewma_var, long_run_var;	/* annualised variances */
	size_t n_returns;
	int64_t t_last;			/* last candle, 0 none */
	/* GARCH(1,1) at the defaults of cascade/vol.h (shown, not used
	 * by the score): next-hour and long-run variances, garch_ok 0
	 * before its start */
	int garch_ok;
	double garch_var, garch_level;
};

struct md_asset {
	char symbol[MD_SYMBOL_MAX + 1];
	double price;
	double vol;
	char updated_at[MD_TIME_MAX];
	size_t ncurves;
	struct md_curve *curves;
	size_t nlevels;
	struct md_level *levels;	/* write form; store_load: empty */
	size_t npacked;
	struct md_packed_level *packed;	/* loaded form, by seq */
	size_t nbatches;
	struct md_level_batch *batches;
	/* price history: the stored source and pin, the api's estimators */
	int vol_source;			/* MD_VOL_EXPLICIT / MD_VOL_HISTORY */
	int vol_pinned;
	struct md_vol_hist hist;
};

struct md_corr {
	char a[MD_SYMBOL_MAX + 1];
	char b[MD_SYMBOL_MAX + 1];
	double rho;
};

struct market_data {
	size_t nassets;
	struct md_asset *assets;
	size_t ncorr;
	struct md_corr *corr;
	/*
	 * Correlations estimated from the price history (not stored; the
	 * api layer fills them): used for pairs `corr` does not hold.
	 */
	size_t nhcorr;
	struct md_corr *hcorr;
};

void market_data_init(struct market_data *md);
void market_data_release(struct market_data *md);
/* Free what one asset owns (curves, levels, batches); NULL is a no-op. */
void md_asset_release(struct md_asset *a);
/* Set a pair with its symbols in the store's order (a < b). */
void md_corr_set(struct md_corr *c, const char *a, const char *b,
    double rho);
/* Index of an asset by symbol, or -1. */
long market_data_find(const struct market_data *md, const char *symbol);

#endif

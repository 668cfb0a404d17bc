/*
 * store_prices.h - the price history of docs/model.md section 9 in the
 * SQLite store (migrations/0003_price_history.sql): candles per asset and
 * opening time, upserted in one write transaction together with the
 * retention cut and the asset's volatility source; ranges read back in
 * time order.
 *
 * Ownership: inputs are borrowed; store_get_prices() returns a malloc'd
 * array the caller frees.  Candles passed in are validated by the caller
 * (codec_prices.c): times strictly increasing, 0 < low <= min(open,
 * close) <= max(open, close) <= high; the table's CHECKs refuse
 * non-positive prices (STORE_CONSTRAINT).
 */
#ifndef CASCADED_STORE_PRICES_H
#define CASCADED_STORE_PRICES_H

#include <stddef.h>
#include <stdint.h>

#include "cascade/backtest.h"
#include "store.h"

/*
 * Upsert c[0..n-1] of `asset` (a candle at an existing t replaces it);
 * with retention_days > 0 delete the asset's candles older than its last
 * t minus retention_days; set the volatility source to src (STORE_SRC_*,
 * STORE_SRC_KEEP none).  One transaction: all of it or nothing.
 * STORE_NOT_FOUND when the asset does not exist.  *deleted (may be NULL)
 * gets the number of candles the retention removed.
 */
enum store_status store_put_prices(struct store *st, const char *asset,
    const struct lc_candle *c, size_t n, double retention_days, int src,
    size_t *deleted);

/*
 * The candles of `asset` with from <= t <= to, by t, at most limit (0:
 * no limit) in *out (malloc'd, NULL when none) and their count in *n.
 * STORE_NOT_FOUND when the asset does not exist.
 */
enum store_status store_get_prices(struct store *st, const char *asset,
    int64_t from, int64_t to, size_t limit, struct lc_candle **out,
    size_t *n);

/*
 * The symbols of the assets that have price history, sorted, in *out (a
 * malloc'd array of MD_SYMBOL_MAX + 1 byte names; NULL when none) and
 * their count in *n.
 */
enum store_status store_price_assets(struct store *st,
    char (**out)[MD_SYMBOL_MAX + 1], size_t *n);

#endif

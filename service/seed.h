/*
 * seed.h - load a seed market data file (data/seed.json, embedded in the
 * binary) into the store: `cascaded seed`.
 *
 * The file holds the same bodies the write API accepts:
 *   {"markets": [{"asset": "ETH", "body": {"price", "volatility"}}],
 *    "depth": [{"asset", "venue", "body": {"side", "as_of",
 *               "points" | "quotes"}}],
 *    "liquidations": [{"asset", "body": {"levels": [{"price", "qty",
 *                      "side"}], "as_of", "source"}}],
 *    "correlations": {"pairs": [["ETH", "BTC", 0.8], ...]},
 *    "prices": [{"asset", "body": {"candles": [[t, o, h, l, c], ...]}
 *                | {"points": [[t, price], ...]}}],
 *    "books": [{"name", "as_of", "source", "positions": [...]}]}
 * (prices: numbers, t strictly increasing; the market's
 * volatility_source becomes history unless pinned.)
 * Applying it is idempotent: assets are upserted, each venue's curve and
 * each asset's levels replaced, correlation pairs upserted, each book
 * replaced (the book write is wired to the book store in seed.c).  Depth is
 * converted with the model library (lc_curve_from_points / _from_quotes),
 * i.e. by the contract's (docs/model.md) rules.
 */
#ifndef CASCADED_SEED_H
#define CASCADED_SEED_H

#include <stddef.h>

#include "store.h"

struct seed_stats {
	size_t assets;
	size_t curves;
	size_t levels;
	size_t pairs;
	size_t candles;		/* price history entries */
	size_t books;		/* "books": [{"name", "as_of", "source", */
	size_t book_positions;	/*  "positions": [...]}] (seed.c) */
};

/* 0 on success; -1 with err set (nothing is rolled back across writes). */
int seed_apply(struct store *st, const char *json, size_t len,
    struct seed_stats *stats, char *err, size_t errlen);

#endif

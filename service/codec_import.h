/*
 * codec_import.h - positions other systems publish, mapped to the bodies
 * of this service's writes (docs/import.md, field by field):
 *
 *   defillama          DefiLlama liquidations-adapter records
 *                      -> liquidation levels (PUT /v1/markets/{asset}/
 *                         liquidations bodies, one per asset)
 *   hyperliquid        a Hyperliquid `clearinghouseState` answer
 *                      -> isolated positions as `perp` positions, cross
 *                         positions as liquidation levels
 *   aave-v3-subgraph   an Aave v3 subgraph `users { reserves }` answer
 *                      -> one `loan` per user with a debt
 *
 * The mapper does not validate positions itself: it writes the JSON of
 * the /v1/score position schema (docs/model.md section 3), so that every
 * position goes through the one validating decoder downstream (the book
 * write); it checks only what it reads (types, numbers, raw integer
 * amounts, the mapping) and reports errors with JSON pointers into the
 * input (or into the mapping document: detail says which).
 *
 * The mapping document (--map) is one JSON object:
 *   defillama:        {"tokens": {"<chain>:<address>": {"asset": "ETH",
 *                      "decimals": 18}, ...}} (required; a record whose
 *                      token is not in it is skipped and counted)
 *   hyperliquid:      {"coins": {"<coin>": "ASSET" | {"asset"?,
 *                      "maintenance_margin_rate"? | "maintenance_tiers"?}},
 *                      "account"?: "<id prefix>"} (optional; a coin maps
 *                      to itself by default)
 *   aave-v3-subgraph: {"symbols": {"WETH": "ETH", ...}} (optional; a
 *                      symbol maps to itself by default)
 *
 * Ownership: inputs are borrowed; struct import_result owns every string
 * it holds (codec_import_release).  No cJSON tree outlives the call.
 */
#ifndef CASCADED_CODEC_IMPORT_H
#define CASCADED_CODEC_IMPORT_H

#include <stddef.h>

#include "marketdata.h"
#include "problem.h"

enum import_format {
	IMPORT_DEFILLAMA,
	IMPORT_HYPERLIQUID,
	IMPORT_AAVE_V3_SUBGRAPH
};

/* "defillama", "hyperliquid", "aave-v3-subgraph": 0 and *out, else -1. */
int codec_import_format(const char *name, enum import_format *out);

/* One PUT /v1/markets/{asset}/liquidations body. */
struct import_levels {
	char asset[MD_SYMBOL_MAX + 1];
	size_t n;	/* level rows */
	char *body;	/* {"levels": [{"price", "qty", "side"}...], "source"} */
};

struct import_result {
	char *positions;	/* {"positions": [...], "source"?} or NULL */
	size_t npositions;
	struct import_levels *levels;	/* per asset, in order of first use */
	size_t nlevel_assets;
	size_t nlevels;		/* level rows over every asset */
	size_t records;		/* records / positions / users read */
	size_t unmapped;	/* defillama: token not in the map (skipped) */
	size_t zero;		/* zero quantity or size (skipped) */
	size_t no_debt;		/* aave: users without debt (skipped) */
	size_t not_collateral;	/* aave: supplies not usable as collateral */
	size_t null_liquidation; /* hyperliquid cross: liquidationPx null */
};

void codec_import_init(struct import_result *r);
void codec_import_release(struct import_result *r);

/*
 * Map `input` (format f) with the mapping document `map` (NULL or len 0:
 * none; defillama needs one).  source: the levels' and positions'
 * `source` (NULL: "import:<format>").  Returns 0 with *out filled (it is
 * released first), or -1 with err (400 malformed JSON, 422 with pointers,
 * 500 no memory).
 */
int codec_import(enum import_format f, const char *input, size_t len,
    const char *map, size_t maplen, const char *source,
    struct import_result *out, struct problem *err);

#endif

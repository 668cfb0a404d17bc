/*
 * codec.h - the JSON codecs: request bytes -> validated structs, result
 * structs -> answer bytes (docs/model.md sections 3 and 7).  codec_score.c holds
 * POST /v1/score, codec_market.c the market writes and reads, codec.c the
 * pieces they share (warnings, the decoding context of codec_int.h).
 * They write through the JSON base (json.h) and take times from
 * rfc3339.h; nothing below this layer includes it.
 *
 * Decoders parse with cJSON_ParseWithLength (the body need not be
 * NUL-terminated; nothing but whitespace may follow the value), never
 * touch the locale, and collect EVERY error of a request into a struct
 * problem with a JSON pointer each: malformed JSON (including nesting
 * deeper than 1000) is status 400, a valid JSON body that breaks the
 * contract is 422.  Unknown members are 422 everywhere except in the
 * exchange order-book depth forms (docs/model.md 7).  Numbers must be finite and
 * at most 1e15 in magnitude (volatility at most 100).  The cJSON tree
 * never outlives a decoder call.
 *
 * Ownership: every decoded struct owns its arrays and strings and is
 * freed by its _release() (safe on an initialised or half-built struct).
 * Encoders return a malloc'd NUL-terminated string through *out (NULL on
 * failure) and return 0 or -1 (no memory).  Inputs are borrowed.
 *
 * Readings of the contract (docs/model.md) made here (also in docs/):
 * - USD: the snapshot always holds a USD asset (snapshot.h), so the
 *   request's price/vol arrays simply cover every snapshot asset.  USD may
 *   not be overridden to anything but price 1 / volatility 0 (it is the
 *   quote currency).
 * - Monte Carlo is needed when the request holds a coupled loan, or its
 *   single-asset positions (loans and perps) are exposed to more than one
 *   (asset, direction) pair; stable loans never count.  Only then is the
 *   cost bound paths * steps * (distinct volatile assets of the request's
 *   positions + coupled loans) > max_cost checked (422 at /paths).
 * - Integers (paths, steps, seed) must be JSON numbers with an integral
 *   value (20000.0 is accepted as 20000).
 * - A member given twice in one object is 422 at its later occurrence.
 * - Position ids: 1-128 Unicode characters of valid UTF-8, no control
 *   characters (C0, DEL, C1).
 * - full_liquidation_below (aave-v3 only, >= 0, default 2000):
 *   on another protocol it is an ignored_field warning, like close_factor
 *   and liquidation_bonus on compound-v3.
 * - Perp maintenance tiers: mmr required in [0, 1), maintenance_amount
 *   default 0 and >= 0, max_notional required on every tier but the last,
 *   at most 64 tiers.
 * - The answer carries std_error_static next to std_error on every
 *   position (the standard error of p_liquidation_static: 0 when exact).
 * - stale_depth: a curve whose as_of is older than stale_depth_s at decode
 *   time gives a warning (asset, side) for each volatile asset of the
 *   request; 0 disables.  The answer's depth_as_of of an asset is the
 *   newest as_of among its curves (null without any).
 * - Market writes: PUT /v1/markets/{asset} needs price when it creates
 *   the asset (volatility defaults to 0) and keeps omitted fields when it
 *   updates.  Order-book levels with qty <= 0 are 422 (not skipped); in
 *   the book form with both sides the mid is (best bid + best ask) / 2, so
 *   a crossed book is 422 at the offending level; one side alone uses the
 *   asset's price.  `levels` in the one-side form also accepts strings
 *   and extra elements.  as_of is normalised to UTC ("Z"), fractional
 *   seconds kept (at most 9 digits), leap seconds (:60) rejected.
 *   Per write at most 10000 points/levels/quotes per side, 100000
 *   liquidation levels, 100000 correlation pairs.
 */
#ifndef CASCADED_CODEC_H
#define CASCADED_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "cascade/score.h"
#include "json.h"
#include "marketdata.h"
#include "problem.h"
#include "snapshot.h"

/* ---- common pieces -------------------------------------------------- */

/* One warning of an answer (docs/model.md 7): code and detail, the rest optional. */
struct codec_warning {
	const char *code;              /* static string */
	char *detail;                  /* malloc'd */
	char asset[MD_SYMBOL_MAX + 1]; /* "" none */
	const char *side;              /* "bid" / "ask" / NULL */
	int64_t count;                 /* -1 none */
	char *pointer;                 /* malloc'd or NULL */
};

struct codec_warnings {
	size_t n;
	size_t cap;
	struct codec_warning *w;
};

void codec_warnings_init(struct codec_warnings *w);
void codec_warnings_release(struct codec_warnings *w);
/* Append a warning (detail printf-style); silently dropped on ENOMEM. */
void codec_warnings_add(struct codec_warnings *w, const char *code,
    const char *asset, const char *side, int64_t count, const char *pointer,
    const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* The member "warnings": [...] of an answer (b: json.h). */
void codec_buf_warnings(struct json_buf *b, const struct codec_warnings *w);

/* 1 when s is an asset symbol: 1-16 of A-Z, 0-9, '.', '_', '-' (docs/model.md 1). */
int codec_symbol_valid(const char *s);

/* ---- POST /v1/score ------------------------------------------------- */

/*
 * Defaults of the limits the configuration can change (config.c's
 * --max-positions, --max-mc-cost and --stale-depth-seconds start from
 * them).  Plain literals: config.c also prints them in --help.
 */
#define CODEC_DEFAULT_MAX_POSITIONS 10000
#define CODEC_DEFAULT_MAX_COST 4e8
#define CODEC_DEFAULT_STALE_DEPTH_S 3600

struct codec_limits {
	size_t max_positions; /* 10000 */
	uint32_t max_paths;   /* 1000000 */
	uint32_t max_steps;   /* 256 */
	size_t max_entries;   /* per collateral / debt list: 256 */
	double max_cost;      /* paths*steps*(assets+coupled): 4e8 */
	double stale_depth_s; /* stale_depth warning age: 3600; 0 off */
	unsigned threads;     /* Monte Carlo threads passed to lc_params */
	/* price history: H and M of sigma(h) (docs/model.md section 9) */
	double vol_half_life_days;
	double vol_mean_reversion_days;
};

void codec_limits_default(struct codec_limits *l);

/* A decoded, validated score request; lc points into the other members. */
struct score_request {
	struct lc_params params;
	size_t npos;
	struct lc_position *pos;    /* pos[i].id -> ids storage */
	char *ids;                  /* id strings, NUL-separated */
	struct lc_entry *entries;   /* every loan's entries */
	struct lc_tier *tiers;      /* every perp's tiers */
	size_t nassets;             /* = snapshot nassets */
	double *price;              /* effective P per snapshot asset */
	double *vol;                /* effective sigma per snapshot asset */
	unsigned char *vol_src;     /* its CODEC_VOL_* source, per asset */
	double vol_half_life_days;  /* H, M of the history's sigma(h) */
	double vol_mean_reversion_days;
	int monte_carlo;            /* the request needs Monte Carlo */
	struct codec_warnings warn; /* the codec's own warnings */
	struct lc_request lc;       /* what lc_score() takes */
	const char **book;          /* per position: `book` (8.1) or NULL */
};

/*
 * Where an asset's volatility in a score comes from (echoed per market as
 * "volatility_source"): the written volatility, sigma(h) of the price
 * history at the request's horizon, or the request's override.
 */
#define CODEC_VOL_EXPLICIT 0
#define CODEC_VOL_HISTORY 1
#define CODEC_VOL_REQUEST 2

void codec_request_init(struct score_request *r);
void codec_request_release(struct score_request *r);

/*
 * Decode and validate a POST /v1/score body against snapshot `snap`.
 * Returns 0 with *out filled, or -1 with err set (400 malformed JSON, 422
 * with every offending pointer, 500 no memory).  *out must be initialised;
 * it is released first.  limits NULL: defaults.
 */
int codec_decode_score(const char *body, size_t len,
    const struct snapshot *snap, const struct codec_limits *limits,
    struct score_request *out, struct problem *err);

/*
 * Encode the answer of docs/model.md 7 (model "cascade-1", as_of now, assumptions
 * echoed, positions, markets, portfolio, warnings = the codec's then the
 * model's).  Returns 0 with *out malloc'd, -1 on ENOMEM.
 */
int codec_encode_score(const struct score_request *req,
    const struct lc_score_result *res, const struct snapshot *snap, char **out);

/* ---- market writes (codec_market.c) --------------------------------- */

/*
 * PUT /v1/markets/{asset}: {"price", "volatility"}.  `existing` is the
 * stored asset or NULL when the write creates it: creating needs price,
 * volatility defaults to 0; updating keeps what is omitted (but {} is
 * 422).  price in (0, 1e15], volatility in [0, 100].
 */
struct codec_asset_put {
	double price;
	double vol;
	char as_of[MD_TIME_MAX];	/* `as_of` or the time of the write */
	char source[MD_SOURCE_MAX + 1];	/* `source`, "" when absent */
	int vol_src;			/* CODEC_SRC_* (price history) */
};

/*
 * What a PUT does to the volatility source (docs/model.md section 9):
 * keep it (neither volatility nor volatility_source given), explicit
 * (volatility given; a pin stays), pinned explicit ("volatility_source":
 * "explicit"), history unpinned ("volatility_source": "history").
 */
#define CODEC_SRC_KEEP (-1)
#define CODEC_SRC_EXPLICIT 0
#define CODEC_SRC_PIN 1
#define CODEC_SRC_HISTORY 2

int codec_decode_asset(const char *body, size_t len,
    const struct md_asset *existing, struct codec_asset_put *out,
    struct problem *err);

/*
 * Limits per write: points, levels and quotes of one depth side at most
 * CODEC_MAX_POINTS; liquidation levels at most CODEC_MAX_LEVELS;
 * correlation pairs at most CODEC_MAX_PAIRS.  Beyond: 422.
 */
#define CODEC_MAX_POINTS 10000
#define CODEC_MAX_LEVELS 100000
#define CODEC_MAX_PAIRS 100000

/* PUT /v1/markets/{asset}/depth/{venue}. */
struct codec_depth {
	int has[2]; /* [LC_BID], [LC_ASK] written */
	struct lc_curve curve[2];
	char as_of[MD_TIME_MAX]; /* normalised; default now */
	char source[MD_SOURCE_MAX + 1];
	const char *form;         /* "points", "levels", "quotes",
					   "constant_product", "book" */
	double max_deviation_bps; /* quotes only; NAN otherwise */
	struct codec_warnings warn;
};

void codec_depth_init(struct codec_depth *d);
void codec_depth_release(struct codec_depth *d);
/*
 * Decode a depth write for `asset` (its cached price is the default mid
 * and the pool-mismatch reference).  Accepts the one-side form
 * {"side", "points"|"levels"|"quotes"|"constant_product", "mid" (levels
 * only), "as_of", "source"} and the order-book forms {"bids", "asks"}
 * (Binance-like; other members ignored except as_of/source, which are
 * validated), {"result": {"b", "a"}} (Bybit) and {"data": [{"bids",
 * "asks"}]} (OKX); book levels are [price, qty, ...] with strings or
 * numbers.
 */
int codec_decode_depth(const char *body, size_t len,
    const struct md_asset *asset, struct codec_depth *out, struct problem *err);
/* Answer of a depth write: {"asset", "venue", "as_of", "sides": {...},
 * "max_deviation_bps"?, "warnings"}. */
int codec_encode_depth(const struct codec_depth *d, const char *asset,
    const char *venue, char **out);

/*
 * The written sides as md_curve rows for store_put_curves(): at most 2,
 * returns the count.  The curves are borrowed from d (shallow copies).
 */
size_t codec_depth_curves(
    const struct codec_depth *d, const char *venue, struct md_curve out[2]);

/* PUT / POST /v1/markets/{asset}/liquidations. */
struct codec_levels {
	size_t n;
	struct md_level *levels; /* seq = index in the write */
	char as_of[MD_TIME_MAX];
	char source[MD_SOURCE_MAX + 1];
	size_t nstale;              /* against the asset's cached price */
	struct codec_warnings warn; /* stale_levels with count */
};

void codec_levels_init(struct codec_levels *l);
void codec_levels_release(struct codec_levels *l);
int codec_decode_levels(const char *body, size_t len,
    const struct md_asset *asset, struct codec_levels *out,
    struct problem *err);
/* {"asset", "stored": n, "sell": n, "buy": n, "warnings"}. */
int codec_encode_levels(
    const struct codec_levels *l, const char *asset, char **out);

/* PUT / POST /v1/correlations: pairs normalised so that a < b. */
struct codec_corr {
	size_t n;
	struct md_corr *pairs;
};

void codec_corr_init(struct codec_corr *c);
void codec_corr_release(struct codec_corr *c);
/* Assets are checked against `snap` (implicit assets are unknown). */
int codec_decode_correlations(const char *body, size_t len,
    const struct snapshot *snap, struct codec_corr *out, struct problem *err);

/*
 * GET /v1/markets (asset < 0: {"version", "markets": [...]}) and
 * GET /v1/markets/{asset} (one market object).  Implicit assets are not
 * listed.
 */
int codec_encode_markets(const struct snapshot *snap, long asset, char **out);

/*
 * GET /v1/markets/{asset}/cascade: the cascade curve of one asset and
 * direction, evaluated by the caller (points in shock order, trigger price
 * from lc_cascade_trigger, nlevels the stored levels that take part).
 */
struct codec_cascade {
	const char *asset;
	enum lc_dir dir;
	double price;			/* P the shocks apply to */
	double threshold_bps;
	int has_trigger;		/* 0: cascade_trigger_price null */
	double trigger_price;
	size_t nlevels;
	size_t npoints;
	const struct lc_cascade_point *points;
	const struct codec_warnings *warn;
};

int codec_encode_cascade(const struct codec_cascade *c, char **out);


/* ---- books (codec_books.c) ------------------------------------------ */

/* 1 when s is a book name: 1-64 of a-z, 0-9, '.', '_', '-' (8). */
int codec_book_name_valid(const char *s);

/*
 * A book write, PUT /v1/books/{book} ({"positions", "as_of", "source"})
 * or POST /v1/books/{book}/positions (the same body): the positions
 * decoded and validated by the /v1/score position code against the
 * snapshot's assets and prices (pos.price, pos.vol are the snapshot's),
 * with each position's JSON text for the store.
 */
struct codec_book_put {
	struct score_request pos;	/* npos, pos[], their storage */
	char *text;		/* the positions' JSON texts */
	size_t *text_off;	/* position i is text[off[i], end[i]) */
	size_t *text_end;
	char as_of[MD_TIME_MAX];
	char source[MD_SOURCE_MAX + 1];
};

void codec_book_put_init(struct codec_book_put *b);
void codec_book_put_release(struct codec_book_put *b);
/*
 * 0, or -1 with err (400 bad JSON, 422 with pointers such as
 * /positions/3/collateral/0/asset; a duplicate id at its later
 * occurrence; at most max_positions).
 */
int codec_decode_book_put(const char *body, size_t len,
    const struct snapshot *snap, size_t max_positions,
    struct codec_book_put *out, struct problem *err);
/*
 * Stored position texts joined as one JSON array: decoded into out as a
 * book write's positions (no as_of).  0, or -1 with err.
 */
int codec_decode_positions(const char *json, size_t len,
    const struct snapshot *snap, struct score_request *out,
    struct problem *err);

/*
 * The answer object of position i of req (7), as POST /v1/score writes
 * it (codec_score.c): for the book routes that answer per position.
 */
void codec_buf_position(struct json_buf *b, const struct score_request *req,
    const struct snapshot *snap, size_t i, const struct lc_pos_result *pr);
/* ---- price history (codec_prices.c) --------------------------------- */

#include "cascade/backtest.h"

/* Entries per POST /v1/markets/{asset}/prices body; beyond: 422. */
#define CODEC_MAX_CANDLES 100000
/* Largest `limit` of GET /v1/markets/{asset}/prices (and its default). */
#define CODEC_MAX_PRICES_LIMIT 100000

/* A decoded price write: candles by t, strictly increasing. */
struct codec_prices {
	size_t n;
	struct lc_candle *c;
	size_t received;	/* entries in the body */
	const char *form;	/* "candles", "points", "binance-klines" */
};

void codec_prices_init(struct codec_prices *p);
void codec_prices_release(struct codec_prices *p);
/* Decode and validate a body (every rule: codec_prices.c). */
int codec_decode_prices(const char *body, size_t len,
    struct codec_prices *out, struct problem *err);
/*
 * The same rules on candles already in memory (cascaded import): 0, or
 * -1 with a 422 in err, pointers /candles/i/k (i: index in c).
 */
int codec_prices_check(const struct lc_candle *c, size_t n,
    struct problem *err);
/* Sort by t, the last of equal times winning; -1 on no memory. */
int codec_prices_sort(struct lc_candle *c, size_t *n);

/* The answer of a price write. */
struct codec_prices_put {
	const char *asset;
	const char *form;
	size_t received, stored, deleted;
	int64_t first, last;	/* of the stored candles */
	int vol_source;		/* MD_VOL_* after the write */
	struct md_vol_hist hist;
};

/* The object {"ewma", "long_run", "returns"} (sigmas; null when short). */
void codec_buf_vol_history(struct json_buf *b, const struct md_vol_hist *h);
int codec_encode_prices_put(const struct codec_prices_put *a, char **out);
/* GET /v1/markets/{asset}/prices: {"asset", "count", "truncated",
 * "candles": [[t, open, high, low, close], ...]}. */
int codec_encode_prices(const char *asset, const struct lc_candle *c,
    size_t n, int truncated, char **out);

/* ---- books: simulate (codec_books_sim.c) ---------------------------- */

/*
 * POST /v1/books/{book}/simulate (docs/books.md): the score options
 * horizon_days, tail_dof, cascade_threshold_bps, paths, steps, seed,
 * depth_scale, include_market_levels (the ranges and defaults of
 * /v1/score; anything else is 422 with its pointer; an empty body is
 * {}) into out->params and out->lc.params, and the price and volatility
 * per asset of snap that a score uses into out->price / vol / vol_src
 * (out->lc points at them).  The positions are not touched.  0, or -1
 * with err (400, 422, 500).
 */
int codec_decode_books_sim(const char *body, size_t len,
    const struct snapshot *snap, const struct codec_limits *lim,
    struct score_request *out, struct problem *err);
struct lc_book_sim;
/* Its answer (npos: the book's positions); 0, or -1 on no memory. */
int codec_encode_books_sim(const char *book, size_t npos,
    const struct score_request *req, const struct lc_book_sim *res,
    char **out);

#endif

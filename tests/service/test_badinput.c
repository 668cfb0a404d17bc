/*
 * test_badinput.c - table-driven hostile and malformed requests against
 * the real build/cascaded: malformed JSON, wrong types, every range of
 * docs/model.md 3 and 7, limits, unknown fields, unknown assets, duplicate ids,
 * auth, CORS preflight, 404/405/413/415.  Each row names the expected
 * status, problem type and (for validation failures) the JSON pointer;
 * after every row the stored data must be unchanged: GET /v1/markets
 * answers byte for byte what it answered before (its body carries the
 * snapshot version, which moves with every publish).
 *
 * One server for the table (API key "k1", 128 KiB body cap, 5 positions
 * at most, one CORS origin), seeded over HTTP once.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "testlib.h"

#define T_MS 10000
#define BASE "https://cascaded.dev/problems/"
#define KEY "Authorization: Bearer k1\r\n"
#define MAX_BODY 131072

static char *dir;
static char db[512];
static struct server_proc srv;

enum gen { G_NONE, G_DEEP, G_BIG, G_UTF8, G_POINTS, G_ID129 };
enum auth { A_KEY, A_NONE, A_WRONG };

struct bad {
	const char *name;
	const char *method;
	const char *path;
	const char *body; /* NULL: none (or generated) */
	enum gen gen;
	enum auth auth;
	const char *ctype; /* NULL: application/json with a body */
	const char *extra; /* more header lines */
	int status;
	const char *type; /* problem slug; NULL: not a problem */
	const char *pointer; /* one of errors[].pointer; NULL: unchecked */
};

#define PERP(x) \
	"{\"id\": \"p\", \"type\": \"perp\", \"asset\": \"ETH\", " \
	"\"side\": \"long\", \"size\": 1, \"entry_price\": 2000" x "}"
#define PERP_OK PERP(", \"leverage\": 5")
#define LOAN(coll, debt, x) \
	"{\"id\": \"a\", \"type\": \"loan\", " \
	"\"collateral\": [" coll "], \"debt\": [" debt "]" x "}"
#define COLL(x) \
	"{\"asset\": \"ETH\", \"amount\": 10, " \
	"\"liquidation_threshold\": 0.8" x "}"
#define DEBT(x) "{\"asset\": \"USDC\", \"amount\": 1000" x "}"
#define LOAN_OK LOAN(COLL(""), DEBT(""), "")
#define SCORE(pos, x) "{\"positions\": [" pos "]" x "}"
#define SIDE(x) "{\"side\": \"bid\", " x "}"

static const struct bad table[] = {
	/* ---- malformed bodies: 400 ---- */
	{ "truncated JSON", "POST", "/v1/score", "{\"positions\": [", G_NONE,
	    A_KEY, NULL, NULL, 400, "malformed-json", NULL },
	{ "trailing garbage", "POST", "/v1/score", SCORE(PERP_OK, "") " x",
	    G_NONE, A_KEY, NULL, NULL, 400, "malformed-json", NULL },
	{ "empty body", "POST", "/v1/score", "", G_NONE, A_KEY, NULL, NULL, 400,
	    "malformed-json", NULL },
	{ "nesting deeper than 1000", "POST", "/v1/score", NULL, G_DEEP, A_KEY,
	    NULL, NULL, 400, "malformed-json", NULL },
	{ "invalid UTF-8", "POST", "/v1/score", NULL, G_UTF8, A_KEY, NULL, NULL,
	    400, "malformed-json", NULL },
	{ "malformed depth write", "PUT", "/v1/markets/ETH/depth/main",
	    "{\"side\": bid}", G_NONE, A_KEY, NULL, NULL, 400, "malformed-json",
	    NULL },
	/* ---- score: shape, types, unknown fields ---- */
	{ "body is an array", "POST", "/v1/score", "[]", G_NONE, A_KEY, NULL,
	    NULL, 422, "validation", "" },
	{ "positions missing", "POST", "/v1/score", "{}", G_NONE, A_KEY, NULL,
	    NULL, 422, "validation", "/positions" },
	{ "positions empty", "POST", "/v1/score", SCORE("", ""), G_NONE, A_KEY,
	    NULL, NULL, 422, "validation", "/positions" },
	{ "positions not an array", "POST", "/v1/score", "{\"positions\": {}}",
	    G_NONE, A_KEY, NULL, NULL, 422, "validation", "/positions" },
	{ "more positions than --max-positions", "POST", "/v1/score",
	    SCORE(PERP_OK "," PERP_OK "," PERP_OK "," PERP_OK "," PERP_OK
	                  "," PERP_OK,
	        ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation", "/positions" },
	{ "unknown top-level field", "POST", "/v1/score",
	    SCORE(PERP_OK, ", \"horizon\": 2"), G_NONE, A_KEY, NULL, NULL, 422,
	    "validation", "/horizon" },
	{ "unknown position field", "POST", "/v1/score",
	    SCORE(PERP(", \"leverage\": 5, \"lev\": 5"), ""), G_NONE, A_KEY,
	    NULL, NULL, 422, "validation", "/positions/0/lev" },
	{ "unknown collateral field", "POST", "/v1/score",
	    SCORE(LOAN(COLL(", \"bonus\": 0.1"), DEBT(""), ""), ""), G_NONE,
	    A_KEY, NULL, NULL, 422, "validation",
	    "/positions/0/collateral/0/bonus" },
	{ "liquidation_threshold on debt", "POST", "/v1/score",
	    SCORE(LOAN(COLL(""), DEBT(", \"liquidation_threshold\": 0.8"), ""),
	        ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/positions/0/debt/0/liquidation_threshold" },
	{ "liquidation_threshold missing", "POST", "/v1/score",
	    SCORE(LOAN("{\"asset\": \"ETH\", \"amount\": 10}", DEBT(""), ""),
	        ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/positions/0/collateral/0/liquidation_threshold" },
	{ "liquidation_threshold above 1", "POST", "/v1/score",
	    SCORE(LOAN("{\"asset\": \"ETH\", \"amount\": 10, "
	               "\"liquidation_threshold\": 1.2}",
	              DEBT(""), ""),
	        ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/positions/0/collateral/0/liquidation_threshold" },
	{ "LT * (1 + bonus) above 1", "POST", "/v1/score",
	    SCORE(LOAN(COLL(""), DEBT(""), ", \"liquidation_bonus\": 0.3"), ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/positions/0/collateral/0/liquidation_threshold" },
	{ "liquidation_bonus 1", "POST", "/v1/score",
	    SCORE(LOAN(COLL(""), DEBT(""), ", \"liquidation_bonus\": 1"), ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/positions/0/liquidation_bonus" },
	{ "close_factor 0", "POST", "/v1/score",
	    SCORE(LOAN(COLL(""), DEBT(""), ", \"close_factor\": 0"), ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/positions/0/close_factor" },
	{ "negative amount", "POST", "/v1/score",
	    SCORE(LOAN("{\"asset\": \"ETH\", \"amount\": -1, "
	               "\"liquidation_threshold\": 0.8}",
	              DEBT(""), ""),
	        ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/positions/0/collateral/0/amount" },
	{ "amount as a string", "POST", "/v1/score",
	    SCORE(LOAN(COLL(""), "{\"asset\": \"USDC\", \"amount\": \"1000\"}",
	              ""),
	        ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/positions/0/debt/0/amount" },
	{ "amount above 1e15", "POST", "/v1/score",
	    SCORE(LOAN(COLL(""), "{\"asset\": \"USDC\", \"amount\": 2e15}", ""),
	        ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/positions/0/debt/0/amount" },
	{ "every amount zero", "POST", "/v1/score",
	    SCORE(LOAN("{\"asset\": \"ETH\", \"amount\": 0, "
	               "\"liquidation_threshold\": 0.8}",
	              "{\"asset\": \"USDC\", "
	              "\"amount\": 0}",
	              ""),
	        ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation", "/positions/0" },
	{ "unknown asset in a loan", "POST", "/v1/score",
	    SCORE(LOAN("{\"asset\": \"DOGE\", \"amount\": 10, "
	               "\"liquidation_threshold\": 0.8}",
	              DEBT(""), ""),
	        ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/positions/0/collateral/0/asset" },
	{ "duplicate id at its later occurrence", "POST", "/v1/score",
	    SCORE(PERP_OK ", " PERP_OK, ""), G_NONE, A_KEY, NULL, NULL, 422,
	    "validation", "/positions/1/id" },
	{ "empty id", "POST", "/v1/score",
	    SCORE("{\"id\": \"\", \"type\": \"perp\", \"asset\": \"ETH\", "
	          "\"side\": \"long\", \"size\": 1, \"entry_price\": 2000, "
	          "\"leverage\": 5}",
	        ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation", "/positions/0/id" },
	{ "id of 129 characters", "POST", "/v1/score", NULL, G_ID129, A_KEY,
	    NULL, NULL, 422, "validation", "/positions/0/id" },
	{ "unknown position type", "POST", "/v1/score",
	    SCORE("{\"id\": \"o\", \"type\": \"option\"}", ""), G_NONE, A_KEY,
	    NULL, NULL, 422, "validation", "/positions/0/type" },
	{ "unknown protocol", "POST", "/v1/score",
	    SCORE(LOAN(COLL(""), DEBT(""), ", \"protocol\": \"maker\""), ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/positions/0/protocol" },
	{ "perp size 0", "POST", "/v1/score",
	    SCORE("{\"id\": \"p\", \"type\": \"perp\", \"asset\": \"ETH\", "
	          "\"side\": \"long\", \"size\": 0, \"entry_price\": 2000, "
	          "\"leverage\": 5}",
	        ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation", "/positions/0/size" },
	{ "perp margin and leverage", "POST", "/v1/score",
	    SCORE(PERP(", \"leverage\": 5, \"margin\": 100"), ""), G_NONE,
	    A_KEY, NULL, NULL, 422, "validation", "/positions/0/leverage" },
	{ "perp leverage below 1", "POST", "/v1/score",
	    SCORE(PERP(", \"leverage\": 0.5"), ""), G_NONE, A_KEY, NULL, NULL,
	    422, "validation", "/positions/0/leverage" },
	{ "perp mmr 1", "POST", "/v1/score",
	    SCORE(PERP(", \"leverage\": 5, \"maintenance_margin_rate\": 1"),
	        ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/positions/0/maintenance_margin_rate" },
	{ "perp side sideways", "POST", "/v1/score",
	    SCORE("{\"id\": \"p\", \"type\": \"perp\", \"asset\": \"ETH\", "
	          "\"side\": \"up\", \"size\": 1, \"entry_price\": 2000, "
	          "\"leverage\": 5}",
	        ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation", "/positions/0/side" },
	{ "perp on a stable asset", "POST", "/v1/score",
	    SCORE("{\"id\": \"p\", \"type\": \"perp\", \"asset\": \"USDC\", "
	          "\"side\": \"long\", \"size\": 1, \"entry_price\": 1, "
	          "\"margin\": 1}",
	        ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/positions/0/asset" },
	{ "perp tiers not continuous", "POST", "/v1/score",
	    SCORE(PERP(", \"leverage\": 20, \"maintenance_tiers\": "
	               "[{\"max_notional\": 50000, \"mmr\": 0.004}, {\"mmr\": "
	               "0.005, "
	               "\"maintenance_amount\": 0}]"),
	        ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/positions/0/maintenance_tiers/1" },
	{ "perp tiers with mmr", "POST", "/v1/score",
	    SCORE(PERP(", \"leverage\": 20, \"maintenance_margin_rate\": 0.01, "
	               "\"maintenance_tiers\": [{\"mmr\": 0.004}]"),
	        ""),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/positions/0/maintenance_tiers" },
	{ "horizon_days 0", "POST", "/v1/score",
	    SCORE(PERP_OK, ", \"horizon_days\": 0"), G_NONE, A_KEY, NULL, NULL,
	    422, "validation", "/horizon_days" },
	{ "horizon_days 366", "POST", "/v1/score",
	    SCORE(PERP_OK, ", \"horizon_days\": 366"), G_NONE, A_KEY, NULL,
	    NULL, 422, "validation", "/horizon_days" },
	{ "tail_dof 2", "POST", "/v1/score",
	    SCORE(PERP_OK, ", \"tail_dof\": 2"), G_NONE, A_KEY, NULL, NULL, 422,
	    "validation", "/tail_dof" },
	{ "cascade_threshold_bps 0", "POST", "/v1/score",
	    SCORE(PERP_OK, ", \"cascade_threshold_bps\": 0"), G_NONE, A_KEY,
	    NULL, NULL, 422, "validation", "/cascade_threshold_bps" },
	{ "paths 0", "POST", "/v1/score", SCORE(PERP_OK, ", \"paths\": 0"),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation", "/paths" },
	{ "paths not an integer", "POST", "/v1/score",
	    SCORE(PERP_OK, ", \"paths\": 1.5"), G_NONE, A_KEY, NULL, NULL, 422,
	    "validation", "/paths" },
	{ "steps 257", "POST", "/v1/score", SCORE(PERP_OK, ", \"steps\": 257"),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation", "/steps" },
	{ "seed negative", "POST", "/v1/score",
	    SCORE(PERP_OK, ", \"seed\": -1"), G_NONE, A_KEY, NULL, NULL, 422,
	    "validation", "/seed" },
	{ "depth_scale 0", "POST", "/v1/score",
	    SCORE(PERP_OK, ", \"depth_scale\": 0"), G_NONE, A_KEY, NULL, NULL,
	    422, "validation", "/depth_scale" },
	{ "include_market_levels a string", "POST", "/v1/score",
	    SCORE(PERP_OK, ", \"include_market_levels\": \"yes\""), G_NONE,
	    A_KEY, NULL, NULL, 422, "validation", "/include_market_levels" },
	{ "price override of an unknown asset", "POST", "/v1/score",
	    SCORE(PERP_OK, ", \"prices\": {\"XYZ\": 1}"), G_NONE, A_KEY, NULL,
	    NULL, 422, "validation", "/prices/XYZ" },
	{ "negative price override", "POST", "/v1/score",
	    SCORE(PERP_OK, ", \"prices\": {\"ETH\": -1}"), G_NONE, A_KEY, NULL,
	    NULL, 422, "validation", "/prices/ETH" },
	{ "volatility override above 100", "POST", "/v1/score",
	    SCORE(PERP_OK, ", \"volatility\": {\"ETH\": 101}"), G_NONE, A_KEY,
	    NULL, NULL, 422, "validation", "/volatility/ETH" },
	{ "Monte Carlo cost bound", "POST", "/v1/score",
	    SCORE(PERP_OK ", {\"id\": \"b\", \"type\": \"perp\", \"asset\": "
	                  "\"BTC\", \"side\": \"short\", \"size\": 1, "
	                  "\"entry_price\": 60000, "
	                  "\"leverage\": 5}",
	        ", \"paths\": 1000000, \"steps\": 256"),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation", "/paths" },
	/* ---- market writes ---- */
	{ "asset price 0", "PUT", "/v1/markets/ETH", "{\"price\": 0}", G_NONE,
	    A_KEY, NULL, NULL, 422, "validation", "/price" },
	{ "asset volatility 101", "PUT", "/v1/markets/ETH",
	    "{\"volatility\": 101}", G_NONE, A_KEY, NULL, NULL, 422,
	    "validation", "/volatility" },
	{ "new asset without a price", "PUT", "/v1/markets/SOL",
	    "{\"volatility\": 1}", G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/price" },
	{ "asset unknown field", "PUT", "/v1/markets/ETH",
	    "{\"price\": 1, \"vol\": 1}", G_NONE, A_KEY, NULL, NULL, 422,
	    "validation", "/vol" },
	{ "asset update with nothing", "PUT", "/v1/markets/ETH", "{}", G_NONE,
	    A_KEY, NULL, NULL, 422, "validation", "" },
	{ "asset symbol in lower case", "PUT", "/v1/markets/eth",
	    "{\"price\": 1}", G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/path/asset" },
	{ "asset symbol too long", "PUT", "/v1/markets/ABCDEFGHIJKLMNOPQ",
	    "{\"price\": 1}", G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/path/asset" },
	{ "writing the quote currency", "PUT", "/v1/markets/USD",
	    "{\"price\": 1}", G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/path/asset" },
	{ "depth of an unknown asset", "PUT", "/v1/markets/DOGE/depth/main",
	    SIDE("\"points\": [[100, 5]]"), G_NONE, A_KEY, NULL, NULL, 404,
	    "not-found", NULL },
	{ "depth points not increasing", "PUT", "/v1/markets/ETH/depth/main",
	    SIDE("\"points\": [[100, 5], [100, 6]]"), G_NONE, A_KEY, NULL, NULL,
	    422, "validation", "/points/1" },
	{ "bid depth at 10000 bps", "PUT", "/v1/markets/ETH/depth/main",
	    SIDE("\"points\": [[10000, 5]]"), G_NONE, A_KEY, NULL, NULL, 422,
	    "validation", "/points/0" },
	{ "depth side unknown", "PUT", "/v1/markets/ETH/depth/main",
	    "{\"side\": \"mid\", \"points\": [[100, 5]]}", G_NONE, A_KEY, NULL,
	    NULL, 422, "validation", "/side" },
	{ "two depth forms at once", "PUT", "/v1/markets/ETH/depth/main",
	    SIDE("\"points\": [[100, 5]], \"quotes\": [[1, 1]]"), G_NONE, A_KEY,
	    NULL, NULL, 422, "validation", "/quotes" },
	{ "bid level beyond the mid", "PUT", "/v1/markets/ETH/depth/main",
	    SIDE("\"levels\": [[\"2001\", \"1\"]]"), G_NONE, A_KEY, NULL, NULL,
	    422, "validation", "/levels/0" },
	{ "mid with points", "PUT", "/v1/markets/ETH/depth/main",
	    SIDE("\"points\": [[100, 5]], \"mid\": 2000"), G_NONE, A_KEY, NULL,
	    NULL, 422, "validation", "/mid" },
	{ "empty book side", "PUT", "/v1/markets/ETH/depth/main",
	    "{\"bids\": []}", G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/bids" },
	{ "depth as_of not RFC 3339", "PUT", "/v1/markets/ETH/depth/main",
	    SIDE("\"points\": [[100, 5]], \"as_of\": \"yesterday\""), G_NONE,
	    A_KEY, NULL, NULL, 422, "validation", "/as_of" },
	{ "depth unknown field", "PUT", "/v1/markets/ETH/depth/main",
	    SIDE("\"points\": [[100, 5]], \"venue\": \"x\""), G_NONE, A_KEY,
	    NULL, NULL, 422, "validation", "/venue" },
	{ "constant product reserve 0", "PUT", "/v1/markets/ETH/depth/pool",
	    SIDE("\"constant_product\": {\"base_reserve\": 0, "
	         "\"quote_reserve\": 1}"),
	    G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/constant_product/base_reserve" },
	{ "more than 10000 depth points", "PUT", "/v1/markets/ETH/depth/main",
	    NULL, G_POINTS, A_KEY, NULL, NULL, 422, "validation", "/points" },
	{ "venue name with a space", "PUT", "/v1/markets/ETH/depth/a%20b",
	    SIDE("\"points\": [[100, 5]]"), G_NONE, A_KEY, NULL, NULL, 422,
	    "validation", "/path/venue" },
	{ "delete an unknown venue", "DELETE", "/v1/markets/ETH/depth/nope",
	    NULL, G_NONE, A_KEY, NULL, NULL, 404, "not-found", NULL },
	{ "delete an unknown asset", "DELETE", "/v1/markets/DOGE", NULL, G_NONE,
	    A_KEY, NULL, NULL, 404, "not-found", NULL },
	{ "liquidation side unknown", "PUT", "/v1/markets/ETH/liquidations",
	    "{\"levels\": [{\"price\": 1, \"qty\": 1, \"side\": \"hold\"}]}",
	    G_NONE, A_KEY, NULL, NULL, 422, "validation", "/levels/0/side" },
	{ "liquidation qty 0", "POST", "/v1/markets/ETH/liquidations",
	    "{\"levels\": [{\"price\": 1900, \"qty\": 0, \"side\": \"sell\"}]}",
	    G_NONE, A_KEY, NULL, NULL, 422, "validation", "/levels/0/qty" },
	{ "liquidation levels missing", "PUT", "/v1/markets/ETH/liquidations",
	    "{\"source\": \"x\"}", G_NONE, A_KEY, NULL, NULL, 422, "validation",
	    "/levels" },
	{ "liquidations of an unknown asset", "PUT",
	    "/v1/markets/DOGE/liquidations", "{\"levels\": []}", G_NONE, A_KEY,
	    NULL, NULL, 404, "not-found", NULL },
	{ "correlation with an unknown asset", "PUT", "/v1/correlations",
	    "{\"pairs\": [[\"ETH\", \"DOGE\", 0.1]]}", G_NONE, A_KEY, NULL,
	    NULL, 422, "validation", "/pairs/0/1" },
	{ "correlation of an asset with itself", "POST", "/v1/correlations",
	    "{\"pairs\": [[\"ETH\", \"ETH\", 0.1]]}", G_NONE, A_KEY, NULL, NULL,
	    422, "validation", "/pairs/0" },
	{ "correlation above 1", "PUT", "/v1/correlations",
	    "{\"pairs\": [[\"ETH\", \"BTC\", 1.5]]}", G_NONE, A_KEY, NULL, NULL,
	    422, "validation", "/pairs/0/2" },
	{ "duplicate correlation pair", "PUT", "/v1/correlations",
	    "{\"pairs\": [[\"ETH\", \"BTC\", 0.5], [\"BTC\", \"ETH\", 0.4]]}",
	    G_NONE, A_KEY, NULL, NULL, 422, "validation", "/pairs/1" },
	/* ---- the cascade curve's query ---- */
	{ "cascade step 0", "GET", "/v1/markets/ETH/cascade?step=0", NULL,
	    G_NONE, A_KEY, NULL, NULL, 422, "validation", "/query/step" },
	{ "cascade to -150%", "GET", "/v1/markets/ETH/cascade?to=-1.5", NULL,
	    G_NONE, A_KEY, NULL, NULL, 422, "validation", "/query/to" },
	{ "cascade direction unknown", "GET",
	    "/v1/markets/ETH/cascade?direction=sideways", NULL, G_NONE, A_KEY,
	    NULL, NULL, 422, "validation", "/query/direction" },
	{ "cascade from not a number", "GET",
	    "/v1/markets/ETH/cascade?from=abc", NULL, G_NONE, A_KEY, NULL, NULL,
	    422, "validation", "/query/from" },
	{ "cascade more than 1001 points", "GET",
	    "/v1/markets/ETH/cascade?step=0.0001", NULL, G_NONE, A_KEY, NULL,
	    NULL, 422, "validation", "/query/step" },
	{ "cascade to on the wrong side", "GET",
	    "/v1/markets/ETH/cascade?direction=up&to=-0.1", NULL, G_NONE, A_KEY,
	    NULL, NULL, 422, "validation", "/query/to" },
	{ "cascade threshold 0", "GET",
	    "/v1/markets/ETH/cascade?cascade_threshold_bps=0", NULL, G_NONE,
	    A_KEY, NULL, NULL, 422, "validation",
	    "/query/cascade_threshold_bps" },
	{ "cascade unknown parameter", "GET",
	    "/v1/markets/ETH/cascade?stepp=0.1", NULL, G_NONE, A_KEY, NULL,
	    NULL, 422, "validation", "/query/stepp" },
	{ "cascade of an unknown asset", "GET", "/v1/markets/DOGE/cascade",
	    NULL, G_NONE, A_KEY, NULL, NULL, 404, "not-found", NULL },
	{ "unknown market", "GET", "/v1/markets/DOGE", NULL, G_NONE, A_KEY,
	    NULL, NULL, 404, "not-found", NULL },
	/* ---- the server's own answers ---- */
	{ "write without a key", "PUT", "/v1/markets/ETH", "{\"price\": 1}",
	    G_NONE, A_NONE, NULL, NULL, 401, "unauthorized", NULL },
	{ "write with a wrong key", "DELETE", "/v1/markets/ETH", NULL, G_NONE,
	    A_WRONG, NULL, NULL, 403, "forbidden", NULL },
	{ "correlations without a key", "POST", "/v1/correlations",
	    "{\"pairs\": []}", G_NONE, A_NONE, NULL, NULL, 401, "unauthorized",
	    NULL },
	{ "CORS preflight needs no key", "OPTIONS", "/v1/markets/ETH", NULL,
	    G_NONE, A_NONE, NULL,
	    "Origin: https://app.example\r\n"
	    "Access-Control-Request-Method: DELETE\r\n",
	    204, NULL, NULL },
	{ "method not allowed", "PATCH", "/v1/markets/ETH", "{\"price\": 1}",
	    G_NONE, A_KEY, NULL, NULL, 405, "method-not-allowed", NULL },
	{ "POST on a market", "POST", "/v1/markets/ETH", "{\"price\": 1}",
	    G_NONE, A_KEY, NULL, NULL, 405, "method-not-allowed", NULL },
	{ "body over --max-body", "POST", "/v1/score", NULL, G_BIG, A_KEY, NULL,
	    NULL, 413, "body-too-large", NULL },
	{ "text/plain body", "POST", "/v1/score", SCORE(PERP_OK, ""), G_NONE,
	    A_KEY, "text/plain", NULL, 415, "unsupported-media-type", NULL },
	{ "form body on a write", "PUT", "/v1/markets/ETH", "price=1", G_NONE,
	    A_KEY, "application/x-www-form-urlencoded", NULL, 415,
	    "unsupported-media-type", NULL },
	{ "unknown route", "GET", "/v2/score", NULL, G_NONE, A_KEY, NULL, NULL,
	    404, "not-found", NULL },
};

#define NCASES ((int)(sizeof(table) / sizeof(table[0])))

/* The access log goes to a pipe: read it as we go (see test_api.c). */
static void
drain_log(void)
{
	server_proc_read_log(&srv);
	if (srv.log_len > (1u << 20)) {
		srv.log_len = 0;
		srv.log[0] = '\0';
	}
}

static int
send_req(const char *method, const char *path, const char *hdr,
    const char *body, size_t len, struct http_reply *r)
{
	drain_log();
	return http_request(srv.port, method, path, hdr, body, len, r, T_MS);
}

static void
must_write(const char *method, const char *path, const char *body)
{
	struct http_reply r;

	ck_assert_int_eq(send_req(method, path,
	                     KEY "Content-Type: application/json\r\n", body,
	                     strlen(body), &r),
	    0);
	ck_assert_msg(r.status == 200 || r.status == 201, "%s %s: %d %s",
	    method, path, r.status, r.body);
	http_reply_release(&r);
}

static void
setup(void)
{
	static const char *const args[] = { "--api-key", "k1", "--max-body",
		"131072", "--max-positions", "5", "--cors-origin",
		"https://app.example", NULL };

	ck_assert_msg(fixture_start(&srv, &dir, db, sizeof(db), "bad.db", args,
	    T_MS) == 0, "server did not start: %s",
	    srv.log ? srv.log : "(no log)");
	must_write("PUT", "/v1/markets/ETH",
	    "{\"price\": 2000, \"volatility\": 0.8}");
	must_write("PUT", "/v1/markets/BTC",
	    "{\"price\": 60000, \"volatility\": 0.6}");
	must_write("PUT", "/v1/markets/USDC", "{\"price\": 1}");
	must_write("PUT", "/v1/markets/ETH/depth/main",
	    "{\"bids\": [[1990, 100], [1950, 1000]], "
	    "\"asks\": [[2010, 100], [2050, 1000]]}");
	must_write("PUT", "/v1/markets/ETH/liquidations",
	    "{\"levels\": [{\"price\": 1900, \"qty\": 500, \"side\": "
	    "\"sell\"}, {\"price\": 2100, \"qty\": 50, \"side\": \"buy\"}]}");
	must_write("PUT", "/v1/correlations",
	    "{\"pairs\": [[\"ETH\", \"BTC\", 0.8]]}");
}

static void
teardown(void)
{
	fixture_stop(&srv, &dir, T_MS);
}

/* GET /v1/markets (and one market): the state every row must keep. */
static char *
state(void)
{
	struct http_reply r, r2;
	char *s;
	size_t n;

	ck_assert_int_eq(send_req("GET", "/v1/markets", NULL, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(send_req("GET", "/v1/markets/ETH/cascade?to=-0.1",
	                     NULL, NULL, 0, &r2),
	    0);
	ck_assert_int_eq(r2.status, 200);
	n = r.body_len + r2.body_len + 2;
	s = malloc(n);
	ck_assert_ptr_nonnull(s);
	snprintf(s, n, "%s\n%s", r.body, r2.body);
	http_reply_release(&r);
	http_reply_release(&r2);
	return s;
}

/* Build the generated bodies. */
static char *
generate(enum gen g, size_t *len)
{
	char *b = NULL;
	size_t i, n = 0;

	switch (g) {
	case G_DEEP:
		n = 2 * 1100 + 32;
		b = malloc(n + 1);
		n = (size_t)sprintf(b, "{\"positions\": ");
		for (i = 0; i < 1100; i++)
			b[n++] = '[';
		for (i = 0; i < 1100; i++)
			b[n++] = ']';
		b[n++] = '}';
		break;
	case G_BIG:
		n = MAX_BODY + 100;
		b = malloc(n + 1);
		memset(b, ' ', n);
		b[0] = '{';
		b[n - 1] = '}';
		break;
	case G_UTF8:
		b = strdup("{\"positions\": [{\"id\": \"\xff\xfe\", \"type\": "
		           "\"perp\"}]}");
		n = strlen(b);
		break;
	case G_POINTS:
		/* 10001 points, about 90 KB: under the body cap */
		b = malloc(10001 * 16 + 64);
		n = (size_t)sprintf(b, "{\"side\": \"ask\", \"points\": [");
		for (i = 0; i < 10001; i++)
			n += (size_t)sprintf(b + n, "%s[%zu,1]", i ? "," : "",
			    i + 1);
		n += (size_t)sprintf(b + n, "]}");
		break;
	case G_ID129:
		b = malloc(512);
		n = (size_t)sprintf(b, "{\"positions\": [{\"id\": \"");
		for (i = 0; i < 129; i++)
			b[n++] = 'x';
		n += (size_t)sprintf(b + n,
		    "\", \"type\": \"perp\", \"asset\": "
		    "\"ETH\", \"side\": \"long\", \"size\": 1, "
		    "\"entry_price\": "
		    "2000, \"leverage\": 5}]}");
		break;
	case G_NONE: break;
	}
	if (b != NULL)
		b[n] = '\0';
	*len = n;
	return b;
}

START_TEST(bad_request)
{
	const struct bad *c = &table[_i];
	struct http_reply r;
	char hdr[1024], v[256], *before, *after, *gen = NULL;
	const char *body = c->body;
	const cJSON *e, *errs;
	size_t len = body != NULL ? strlen(body) : 0;
	cJSON *j;
	int found = 0;

	before = state();
	if (c->gen != G_NONE) {
		gen = generate(c->gen, &len);
		ck_assert_ptr_nonnull(gen);
		body = gen;
	}
	snprintf(hdr, sizeof(hdr), "%s%s%s%s%s",
	    c->auth == A_KEY         ? KEY
	        : c->auth == A_WRONG ? "Authorization: Bearer k2\r\n"
	                             : "",
	    body != NULL ? "Content-Type: " : "",
	    body != NULL ? (c->ctype != NULL ? c->ctype : "application/json")
	                 : "",
	    body != NULL ? "\r\n" : "", c->extra != NULL ? c->extra : "");
	ck_assert_msg(send_req(c->method, c->path, hdr, body, len, &r) == 0,
	    "%s: no answer", c->name);
	ck_assert_msg(r.status == c->status, "%s: status %d, expected %d: %s",
	    c->name, r.status, c->status, r.body);
	if (c->type != NULL) {
		ck_assert_msg(http_header(&r, "Content-Type", v, sizeof(v)) !=
		            NULL &&
		        strcmp(v, "application/problem+json") == 0,
		    "%s: not problem+json", c->name);
		j = cJSON_Parse(r.body);
		ck_assert_msg(j != NULL, "%s: not JSON: %s", c->name, r.body);
		snprintf(v, sizeof(v), BASE "%s", c->type);
		ck_assert_msg(cJSON_IsString(cJSON_GetObjectItem(j, "type")) &&
		        strcmp(cJSON_GetObjectItem(j, "type")->valuestring,
		            v) == 0,
		    "%s: type %s, expected %s", c->name, r.body, v);
		ck_assert_int_eq(cJSON_GetObjectItem(j, "status")->valueint,
		    c->status);
		ck_assert(cJSON_IsString(cJSON_GetObjectItem(j, "title")));
		ck_assert(cJSON_IsString(cJSON_GetObjectItem(j, "detail")));
		if (c->pointer != NULL) {
			errs = cJSON_GetObjectItem(j, "errors");
			cJSON_ArrayForEach(e, errs)
			{
				const cJSON *p =
				    cJSON_GetObjectItem(e, "pointer");

				if (cJSON_IsString(p) &&
				    strcmp(p->valuestring, c->pointer) == 0)
					found = 1;
				ck_assert(cJSON_IsString(
				    cJSON_GetObjectItem(e, "detail")));
			}
			ck_assert_msg(found, "%s: no error at \"%s\": %s",
			    c->name, c->pointer, r.body);
		}
		cJSON_Delete(j);
	}
	if (c->status == 405)
		ck_assert_msg(http_header(&r, "Allow", v, sizeof(v)) != NULL &&
		        strstr(v, "GET") != NULL && strstr(v, "PUT") != NULL,
		    "%s: Allow", c->name);
	if (c->status == 401)
		ck_assert_ptr_nonnull(
		    http_header(&r, "WWW-Authenticate", v, sizeof(v)));
	if (c->status == 204) {
		ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Origin",
		                     v, sizeof(v)),
		    "https://app.example");
		ck_assert_ptr_nonnull(
		    strstr(http_header(&r, "Access-Control-Allow-Methods", v,
		               sizeof(v)),
		        "DELETE"));
	}
	http_reply_release(&r);
	/* nothing changed, and the server still answers */
	after = state();
	ck_assert_msg(strcmp(before, after) == 0,
	    "%s changed the stored "
	    "data",
	    c->name);
	free(before);
	free(after);
	free(gen);
}
END_TEST

START_TEST(table_is_large_enough)
{
	ck_assert_int_ge(NCASES, 40);
}
END_TEST

static Suite *
badinput_suite(void)
{
	Suite *s = suite_create("badinput");
	TCase *tc = tcase_create("table");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, table_is_large_enough);
	tcase_add_loop_test(tc, bad_request, 0, NCASES);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(badinput_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

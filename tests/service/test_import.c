/*
 * test_import.c - the format mappers of codec_import.h on the hand-written
 * fixtures of tests/fixtures/import/ (values computed by hand from the
 * fixtures, see docs/import.md), their errors with JSON pointers, the
 * `cascaded import --format` subcommand (levels written through the
 * levels write, positions printed and accepted by `cascaded score`), and
 * the seed's books decoded by the /v1/score position decoder.
 *
 * IMPORT_FIXTURES overrides the fixture folder (default
 * tests/fixtures/import, relative to the repository root).
 */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "codec.h"
#include "codec_import.h"
#include "embed.h"
#include "marketdata.h"
#include "problem.h"
#include "seed.h"
#include "snapshot.h"
#include "store.h"
#include "store_books.h"
#include "store_fixture.h"
#include "testlib.h"

#define T_MS 60000

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;

	if (f == NULL)
		return NULL;
	n = getdelim(&buf, &cap, '\0', f);
	fclose(f);
	if (n < 0) {
		free(buf);
		return strdup("");
	}
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

/* The path of a fixture (four calls may be used at once). */
static const char *
fixture(const char *name)
{
	static char path[4][256];
	static unsigned k;
	const char *d = getenv("IMPORT_FIXTURES");

	k = (k + 1) % 4;
	snprintf(path[k], sizeof(path[k]), "%s/%s",
	    d != NULL ? d : "tests/fixtures/import", name);
	return path[k];
}

/* Map fixture `in` with fixture `map` (NULL: none); 0 or -1 with err. */
static int
import_files(enum import_format f, const char *in, const char *map,
    struct import_result *r, struct problem *err)
{
	char *body, *m = NULL;
	size_t len = 0, mlen = 0;
	int rc;

	body = slurp(fixture(in), &len);
	ck_assert_msg(body != NULL, "no fixture %s", in);
	if (map != NULL) {
		m = slurp(fixture(map), &mlen);
		ck_assert_msg(m != NULL, "no fixture %s", map);
	}
	rc = codec_import(f, body, len, m, mlen, NULL, r, err);
	free(body);
	free(m);
	return rc;
}

static double
num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	ck_assert_msg(cJSON_IsNumber(v), "%s is not a number", key);
	return v->valuedouble;
}

static const char *
str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	ck_assert_msg(cJSON_IsString(v), "%s is not a string", key);
	return v->valuestring;
}

/* Level k of a levels body is (price, qty, side). */
static void
ck_level(const cJSON *levels, int k, double price, double qty,
    const char *side)
{
	const cJSON *l = cJSON_GetArrayItem(levels, k);

	ck_assert_msg(l != NULL, "no level %d", k);
	ck_assert_double_eq(num(l, "price"), price);
	ck_assert_double_eq(num(l, "qty"), qty);
	ck_assert_str_eq(str(l, "side"), side);
}

static cJSON *
levels_of(const struct import_levels *l, const char *asset, size_t n)
{
	cJSON *root;
	const cJSON *arr;

	ck_assert_str_eq(l->asset, asset);
	ck_assert_uint_eq(l->n, n);
	root = cJSON_Parse(l->body);
	ck_assert(root != NULL);
	arr = cJSON_GetObjectItemCaseSensitive(root, "levels");
	ck_assert_int_eq(cJSON_GetArraySize(arr), (int)n);
	ck_assert_str_eq(str(root, "source"), "import:defillama");
	return root;
}

START_TEST(defillama_levels)
{
	struct import_result r;
	struct problem err;
	cJSON *eth, *btc;
	const cJSON *a;

	codec_import_init(&r);
	problem_init(&err);
	ck_assert_int_eq(import_files(IMPORT_DEFILLAMA, "defillama.json",
	    "defillama_map.json", &r, &err), 0);
	ck_assert_uint_eq(r.records, 6);
	ck_assert_uint_eq(r.unmapped, 1);	/* the 0x...dead token */
	ck_assert_uint_eq(r.zero, 1);		/* collateralAmount "0" */
	ck_assert(r.positions == NULL);
	ck_assert_uint_eq(r.nlevel_assets, 2);
	ck_assert_uint_eq(r.nlevels, 4);
	eth = levels_of(&r.levels[0], "ETH", 3);
	a = cJSON_GetObjectItemCaseSensitive(eth, "levels");
	ck_level(a, 0, 1500.5, 2.5, "sell");	/* 25e17 / 1e18 */
	ck_level(a, 1, 1400, 1e-18, "sell");	/* 1 wei */
	/* 1e23 wei (> 2^53) under a checksummed (mixed-case) token id */
	ck_level(a, 2, 1200, 100000, "sell");
	btc = levels_of(&r.levels[1], "BTC", 1);
	ck_level(cJSON_GetObjectItemCaseSensitive(btc, "levels"), 0, 20000,
	    0.12345678, "sell");
	cJSON_Delete(eth);
	cJSON_Delete(btc);
	codec_import_release(&r);
	problem_release(&err);
}
END_TEST

/* The positions body of r, parsed, with n positions in *pos. */
static cJSON *
positions_of(const struct import_result *r, size_t n, const cJSON **pos)
{
	cJSON *root = cJSON_Parse(r->positions);

	ck_assert(root != NULL);
	ck_assert_uint_eq(r->npositions, n);
	*pos = cJSON_GetObjectItemCaseSensitive(root, "positions");
	ck_assert_int_eq(cJSON_GetArraySize(*pos), (int)n);
	return root;
}

START_TEST(hyperliquid_perps_and_levels)
{
	struct import_result r;
	struct problem err;
	cJSON *root, *lv;
	const cJSON *pos, *p;

	codec_import_init(&r);
	problem_init(&err);
	ck_assert_int_eq(import_files(IMPORT_HYPERLIQUID, "hyperliquid.json",
	    "hyperliquid_map.json", &r, &err), 0);
	ck_assert_uint_eq(r.records, 6);
	ck_assert_uint_eq(r.null_liquidation, 1);	/* DOGE */
	root = positions_of(&r, 2, &pos);
	/*
	 * ETH isolated long: upnl = 100.02765 - 0.0335 * 2986.3 = -0.0134,
	 * margin = 4.967826 + 0.0134 = 4.981226 (= rawUsd + szi entryPx =
	 * -95.059824 + 100.04105); mmr = 1 / (2 * 50).
	 */
	p = cJSON_GetArrayItem(pos, 0);
	ck_assert_str_eq(str(p, "id"), "0xabc:ETH");
	ck_assert_str_eq(str(p, "type"), "perp");
	ck_assert_str_eq(str(p, "asset"), "ETH");
	ck_assert_str_eq(str(p, "side"), "long");
	ck_assert_double_eq(num(p, "size"), 0.0335);
	ck_assert_double_eq(num(p, "entry_price"), 2986.3);
	ck_assert_double_eq_tol(num(p, "margin"), 4.981226, 1e-12);
	ck_assert_double_eq(num(p, "maintenance_margin_rate"), 0.01);
	ck_assert(cJSON_GetObjectItemCaseSensitive(p, "leverage") == NULL);
	/* BTC isolated short at 60000, mark 58000: upnl = +1000 */
	p = cJSON_GetArrayItem(pos, 1);
	ck_assert_str_eq(str(p, "id"), "0xabc:BTC");
	ck_assert_str_eq(str(p, "side"), "short");
	ck_assert_double_eq(num(p, "size"), 0.5);
	ck_assert_double_eq(num(p, "entry_price"), 60000);
	ck_assert_double_eq(num(p, "margin"), 3000);
	ck_assert_double_eq(num(p, "maintenance_margin_rate"), 0.004);
	ck_assert_str_eq(str(root, "source"), "import:hyperliquid");
	cJSON_Delete(root);
	/* cross positions: levels, in order of first use of each asset */
	ck_assert_uint_eq(r.nlevel_assets, 3);
	ck_assert_str_eq(r.levels[0].asset, "SOL");
	ck_assert_str_eq(r.levels[1].asset, "ETH");
	ck_assert_str_eq(r.levels[2].asset, "KPEPE");
	lv = cJSON_Parse(r.levels[0].body);
	ck_level(cJSON_GetObjectItemCaseSensitive(lv, "levels"), 0, 95.5, 100,
	    "sell");
	cJSON_Delete(lv);
	lv = cJSON_Parse(r.levels[1].body);
	ck_level(cJSON_GetObjectItemCaseSensitive(lv, "levels"), 0, 3500, 2,
	    "buy");
	cJSON_Delete(lv);
	lv = cJSON_Parse(r.levels[2].body);
	ck_level(cJSON_GetObjectItemCaseSensitive(lv, "levels"), 0, 0.0081,
	    1000, "sell");
	cJSON_Delete(lv);
	codec_import_release(&r);
	problem_release(&err);
}
END_TEST

static void
ck_entry(const cJSON *arr, int k, const char *asset, double amount,
    double lt)
{
	const cJSON *e = cJSON_GetArrayItem(arr, k);

	ck_assert_msg(e != NULL, "no entry %d", k);
	ck_assert_str_eq(str(e, "asset"), asset);
	ck_assert_double_eq(num(e, "amount"), amount);
	if (isnan(lt))
		ck_assert(cJSON_GetObjectItemCaseSensitive(e,
		    "liquidation_threshold") == NULL);
	else
		ck_assert_double_eq(num(e, "liquidation_threshold"), lt);
}

START_TEST(aave_loans)
{
	struct import_result r;
	struct problem err;
	cJSON *root;
	const cJSON *pos, *p, *c, *d;

	codec_import_init(&r);
	problem_init(&err);
	ck_assert_int_eq(import_files(IMPORT_AAVE_V3_SUBGRAPH, "aave.json",
	    "aave_map.json", &r, &err), 0);
	ck_assert_uint_eq(r.records, 4);
	ck_assert_uint_eq(r.no_debt, 1);		/* 0xu2 */
	ck_assert_uint_eq(r.not_collateral, 1);	/* 0xu3's DAI */
	ck_assert_uint_eq(r.nlevel_assets, 0);
	root = positions_of(&r, 3, &pos);

	p = cJSON_GetArrayItem(pos, 0);
	ck_assert_str_eq(str(p, "id"), "0xu1");
	ck_assert_str_eq(str(p, "type"), "loan");
	ck_assert_str_eq(str(p, "protocol"), "aave-v3");
	c = cJSON_GetObjectItemCaseSensitive(p, "collateral");
	d = cJSON_GetObjectItemCaseSensitive(p, "debt");
	ck_assert_int_eq(cJSON_GetArraySize(c), 1);
	ck_entry(c, 0, "ETH", 10, 0.825);
	ck_assert_int_eq(cJSON_GetArraySize(d), 1);
	ck_entry(d, 0, "USDC", 15000.5, NAN);	/* variable + stable */
	ck_assert_double_eq(num(p, "liquidation_bonus"), 0.05);
	ck_assert(cJSON_GetObjectItemCaseSensitive(p, "close_factor") ==
	    NULL);

	p = cJSON_GetArrayItem(pos, 1);
	ck_assert_str_eq(str(p, "id"), "0xu3");
	c = cJSON_GetObjectItemCaseSensitive(p, "collateral");
	ck_assert_int_eq(cJSON_GetArraySize(c), 1);
	ck_entry(c, 0, "BTC", 1, 0.73);
	ck_entry(cJSON_GetObjectItemCaseSensitive(p, "debt"), 0, "ETH", 1.5,
	    NAN);
	ck_assert_double_eq(num(p, "liquidation_bonus"), 0.065);

	/* bonus max(0.05, 0.10) capped at 1/0.95 - 1; USDT unmapped:
	 * itself; debt 1e9 + 99999999999999999999 = 100000000000999999999 */
	p = cJSON_GetArrayItem(pos, 2);
	ck_assert_str_eq(str(p, "id"), "0xu4");
	c = cJSON_GetObjectItemCaseSensitive(p, "collateral");
	ck_entry(c, 0, "ETH", 2, 0.95);
	ck_entry(c, 1, "USDT", 1000, 0.7);
	ck_entry(cJSON_GetObjectItemCaseSensitive(p, "debt"), 0, "DAI",
	    100.000000001, NAN);
	ck_assert_double_eq(num(p, "liquidation_bonus"), 1.0 / 0.95 - 1.0);
	cJSON_Delete(root);
	codec_import_release(&r);
	problem_release(&err);
}
END_TEST

/* 1 when err holds an error at exactly `pointer`. */
static int
has_pointer(const struct problem *err, const char *pointer)
{
	size_t i;

	for (i = 0; i < err->nerrors; i++)
		if (strcmp(err->errors[i].pointer, pointer) == 0)
			return 1;
	return 0;
}

static void
ck_rejects(enum import_format f, const char *in, const char *map, int status,
    const char *pointer)
{
	struct import_result r;
	struct problem err;
	size_t k;

	codec_import_init(&r);
	problem_init(&err);
	ck_assert_int_eq(codec_import(f, in, strlen(in), map,
	    map != NULL ? strlen(map) : 0, NULL, &r, &err), -1);
	ck_assert_int_eq(err.status, status);
	for (k = 0; pointer != NULL && k < 1; k++)
		ck_assert_msg(has_pointer(&err, pointer), "no error at %s (%s)",
		    pointer, err.nerrors ? err.errors[0].pointer : "none");
	ck_assert(r.positions == NULL && r.levels == NULL);
	codec_import_release(&r);
	problem_release(&err);
}

START_TEST(errors_have_pointers)
{
	static const char tok[] = "{\"tokens\": {\"eth:0x1\": {\"asset\": "
	    "\"ETH\", \"decimals\": 18}}}";
	struct import_result r;
	struct problem err;

	/* defillama needs a map; a map entry is checked */
	ck_rejects(IMPORT_DEFILLAMA, "[]", NULL, 422, "");
	ck_rejects(IMPORT_DEFILLAMA, "[]",
	    "{\"tokens\": {\"eth:0x1\": {\"asset\": \"eth\", "
	    "\"decimals\": 18}}}", 422, "/tokens/eth:0x1/asset");
	ck_rejects(IMPORT_DEFILLAMA, "[]",
	    "{\"tokens\": {\"eth:0x1\": {\"asset\": \"ETH\", "
	    "\"decimals\": 99}}}", 422, "/tokens/eth:0x1/decimals");
	ck_rejects(IMPORT_DEFILLAMA, "[]", "{\"coins\": {}}", 422, "/coins");
	/* records: price, raw amount */
	ck_rejects(IMPORT_DEFILLAMA,
	    "[{\"liqPrice\": 10, \"collateral\": \"eth:0x1\", "
	    "\"collateralAmount\": \"5\"}, {\"liqPrice\": -1, "
	    "\"collateral\": \"eth:0x1\", \"collateralAmount\": \"5\"}]",
	    tok, 422, "/1/liqPrice");
	ck_rejects(IMPORT_DEFILLAMA,
	    "{\"positions\": [{\"liqPrice\": 10, \"collateral\": "
	    "\"eth:0x1\", \"collateralAmount\": \"1.5\"}]}", tok, 422,
	    "/positions/0/collateralAmount");
	ck_rejects(IMPORT_DEFILLAMA, "[{", tok, 400, NULL);
	/* a coin that is no symbol needs a mapping */
	ck_rejects(IMPORT_HYPERLIQUID,
	    "{\"assetPositions\": [{\"position\": {\"coin\": \"kPEPE\", "
	    "\"szi\": \"1\", \"liquidationPx\": \"1\", \"leverage\": "
	    "{\"type\": \"cross\", \"value\": 2}}}]}", NULL, 422,
	    "/assetPositions/0/position/coin");
	ck_rejects(IMPORT_HYPERLIQUID,
	    "{\"assetPositions\": [{\"position\": {\"coin\": \"ETH\", "
	    "\"szi\": \"1\", \"leverage\": {\"type\": \"spot\"}}}]}", NULL,
	    422, "/assetPositions/0/position/leverage");
	/* isolated long whose margin is gone: used 1, upnl 1100 - 1000 */
	ck_rejects(IMPORT_HYPERLIQUID,
	    "{\"assetPositions\": [{\"position\": {\"coin\": \"ETH\", "
	    "\"szi\": \"1\", \"entryPx\": \"1000\", \"marginUsed\": \"1\", "
	    "\"positionValue\": \"1200\", \"leverage\": {\"type\": "
	    "\"isolated\", \"value\": 10}}}]}", NULL, 422,
	    "/assetPositions/0/position/marginUsed");
	ck_rejects(IMPORT_AAVE_V3_SUBGRAPH,
	    "{\"data\": {\"users\": [{\"id\": \"u\", \"reserves\": "
	    "[{\"currentATokenBalance\": \"1.5\", \"currentVariableDebt\": "
	    "\"0\", \"reserve\": {\"symbol\": \"ETH\", \"decimals\": 18, "
	    "\"reserveLiquidationThreshold\": \"8000\", "
	    "\"reserveLiquidationBonus\": \"10500\"}}]}]}}", NULL, 422,
	    "/data/users/0/reserves/0/currentATokenBalance");
	ck_rejects(IMPORT_AAVE_V3_SUBGRAPH,
	    "{\"data\": {\"users\": [{\"id\": \"u\", \"reserves\": "
	    "[{\"currentATokenBalance\": \"1\", \"currentVariableDebt\": "
	    "\"0\", \"reserve\": {\"symbol\": \"ETH\", \"decimals\": 18, "
	    "\"reserveLiquidationThreshold\": \"80000\", "
	    "\"reserveLiquidationBonus\": \"10500\"}}]}]}}", NULL, 422,
	    "/data/users/0/reserves/0/reserve/reserveLiquidationThreshold");
	ck_rejects(IMPORT_AAVE_V3_SUBGRAPH, "{\"data\": {}}", NULL, 422,
	    "/data/users");
	/* nothing to skip is not an error */
	codec_import_init(&r);
	problem_init(&err);
	ck_assert_int_eq(codec_import(IMPORT_DEFILLAMA, "[]", 2, tok,
	    strlen(tok), "mine", &r, &err), 0);
	ck_assert_uint_eq(r.nlevel_assets, 0);
	ck_assert(r.positions == NULL);
	codec_import_release(&r);
	problem_release(&err);
}
END_TEST

/* Several accounts: ids <user>:<coin>; the map's account is not used. */
START_TEST(hyperliquid_accounts)
{
	static const char in[] = "[{\"user\": \"0xa\", \"state\": "
	    "{\"assetPositions\": [{\"position\": {\"coin\": \"ETH\", "
	    "\"szi\": \"-1\", \"entryPx\": \"2000\", \"marginUsed\": "
	    "\"150\", \"positionValue\": \"2100\", \"leverage\": "
	    "{\"type\": \"isolated\", \"value\": 10}}}]}}, {\"user\": "
	    "\"0xb\", \"state\": {\"assetPositions\": []}}]";
	static const char map[] = "{\"account\": \"ignored\"}";
	struct import_result r;
	struct problem err;
	const cJSON *pos, *p;
	cJSON *root;

	codec_import_init(&r);
	problem_init(&err);
	ck_assert_int_eq(codec_import(IMPORT_HYPERLIQUID, in, strlen(in), map,
	    strlen(map), "hl", &r, &err), 0);
	ck_assert_uint_eq(r.records, 1);
	root = positions_of(&r, 1, &pos);
	p = cJSON_GetArrayItem(pos, 0);
	ck_assert_str_eq(str(p, "id"), "0xa:ETH");
	ck_assert_str_eq(str(p, "side"), "short");
	ck_assert_double_eq(num(p, "size"), 1);
	/* short, mark 2100 above entry 2000: upnl -100, margin 250 */
	ck_assert_double_eq(num(p, "margin"), 250);
	/* no maxLeverage, no map entry: the schema's default mmr */
	ck_assert(cJSON_GetObjectItemCaseSensitive(p,
	    "maintenance_margin_rate") == NULL);
	ck_assert_str_eq(str(root, "source"), "hl");
	cJSON_Delete(root);
	codec_import_release(&r);
	problem_release(&err);
}
END_TEST

START_TEST(format_names)
{
	enum import_format f;

	ck_assert_int_eq(codec_import_format("defillama", &f), 0);
	ck_assert_int_eq(f, IMPORT_DEFILLAMA);
	ck_assert_int_eq(codec_import_format("hyperliquid", &f), 0);
	ck_assert_int_eq(f, IMPORT_HYPERLIQUID);
	ck_assert_int_eq(codec_import_format("aave-v3-subgraph", &f), 0);
	ck_assert_int_eq(f, IMPORT_AAVE_V3_SUBGRAPH);
	ck_assert_int_eq(codec_import_format("aave", &f), -1);
	ck_assert_int_eq(codec_import_format(NULL, &f), -1);
}
END_TEST

/* ---- the seed's books --------------------------------------------- */

START_TEST(seed_books_decode)
{
	struct store *st;
	struct market_data md;
	struct snapshot *snap = NULL;
	struct seed_stats stats;
	struct score_request req;
	struct codec_limits lim;
	struct problem err;
	char dir_db[512], errs[256], *dir = NULL, *serr = NULL, *body;
	cJSON *root, *books, *b, *wrap;
	struct store_book *list = NULL;
	size_t nbooks = 0, nlist = 0, k;

	st = store_fixture_open(&dir, dir_db, sizeof(dir_db), "s.db", &serr);
	ck_assert_msg(st != NULL, "%s", serr ? serr : "store");
	ck_assert_msg(seed_apply(st, (const char *)embed_seed.data,
	    embed_seed.len, &stats, errs, sizeof(errs)) == 0, "%s", errs);
	market_data_init(&md);
	ck_assert_int_eq(store_load(st, &md), STORE_OK);
	ck_assert_int_eq(snapshot_build(&md, 0.0, &snap), 0);
	/* the seed stored its books, every position */
	ck_assert_int_eq(store_books_list(st, &list, &nlist), STORE_OK);
	root = cJSON_ParseWithLength((const char *)embed_seed.data,
	    embed_seed.len);
	ck_assert(root != NULL);
	books = cJSON_GetObjectItemCaseSensitive(root, "books");
	ck_assert(cJSON_IsArray(books));
	codec_limits_default(&lim);
	lim.max_positions = 1000000;
	lim.max_cost = 1e300;
	cJSON_ArrayForEach(b, books) {
		cJSON *pos = cJSON_GetObjectItemCaseSensitive(b, "positions");
		int n = cJSON_GetArraySize(pos);

		wrap = cJSON_CreateObject();
		cJSON_AddItemReferenceToObject(wrap, "positions", pos);
		body = cJSON_PrintUnformatted(wrap);
		cJSON_Delete(wrap);
		ck_assert(body != NULL);
		codec_request_init(&req);
		problem_init(&err);
		ck_assert_msg(codec_decode_score(body, strlen(body), snap, &lim,
		    &req, &err) == 0, "book %s: %s at %s", str(b, "name"),
		    err.nerrors ? err.errors[0].detail : "?",
		    err.nerrors ? err.errors[0].pointer : "?");
		ck_assert_uint_eq(req.npos, (size_t)n);
		ck_assert_int_gt(n, 0);
		for (k = 0; k < nlist; k++)
			if (strcmp(list[k].name, str(b, "name")) == 0)
				break;
		ck_assert_msg(k < nlist, "book %s not stored", str(b, "name"));
		ck_assert_int_eq(list[k].npositions, n);
		codec_request_release(&req);
		problem_release(&err);
		cJSON_free(body);
		nbooks++;
	}
	ck_assert_uint_eq(stats.books, nbooks);
	ck_assert_uint_eq(nlist, nbooks);
	ck_assert_uint_ge(nbooks, 1);
	free(list);
	cJSON_Delete(root);
	snapshot_unref(snap);
	market_data_release(&md);
	store_fixture_close(&st, &dir);
	free(serr);
}
END_TEST

/* seed_apply of `json` on a fresh store: its return, stats in *s. */
static int
seed_text(const char *json, struct seed_stats *s)
{
	struct store *st;
	char db[512], errs[256], *dir = NULL, *serr = NULL;
	int rc;

	st = store_fixture_open(&dir, db, sizeof(db), "b.db", &serr);
	ck_assert_msg(st != NULL, "%s", serr ? serr : "store");
	rc = seed_apply(st, json, strlen(json), s, errs, sizeof(errs));
	store_fixture_close(&st, &dir);
	free(serr);
	return rc;
}

START_TEST(seed_books_shape)
{
	struct seed_stats s;

	ck_assert_int_eq(seed_text("{\"books\": [{\"name\": \"a-1\", "
	    "\"positions\": [{\"id\": \"x\", \"type\": \"loan\"}, "
	    "{\"id\": \"y\", \"type\": \"perp\"}]}, {\"name\": \"b\", "
	    "\"as_of\": \"2023-03-27T13:00:00Z\", \"positions\": []}]}", &s),
	    0);
	ck_assert_uint_eq(s.books, 2);
	ck_assert_uint_eq(s.book_positions, 2);
	/* a name outside a-z 0-9 . _ -, no positions array, no id, no type */
	ck_assert_int_eq(seed_text("{\"books\": [{\"name\": \"A\", "
	    "\"positions\": []}]}", &s), -1);
	ck_assert_int_eq(seed_text("{\"books\": [{\"name\": \"a\"}]}", &s),
	    -1);
	ck_assert_int_eq(seed_text("{\"books\": [{\"name\": \"a\", "
	    "\"positions\": [{\"type\": \"loan\"}]}]}", &s), -1);
	ck_assert_int_eq(seed_text("{\"books\": [{\"name\": \"a\", "
	    "\"positions\": [{\"id\": \"x\"}]}]}", &s), -1);
	ck_assert_int_eq(seed_text("{\"books\": {}}", &s), -1);
}
END_TEST

/* ---- the subcommand ----------------------------------------------- */

struct run {
	int status;
	char *out;
	char *err;
};

/* `cascaded <cmd>` with stdout and stderr into dir/out, dir/err. */
static void
run_cli(const char *dir, const char *cmd, struct run *r)
{
	char *line, path[600];
	size_t n;
	int st;

	n = strlen(test_bin()) + strlen(cmd) + 2 * strlen(dir) + 16;
	line = malloc(n);
	ck_assert(line != NULL);
	snprintf(line, n, "%s %s >%s/out 2>%s/err", test_bin(), cmd, dir,
	    dir);
	st = system(line);
	free(line);
	ck_assert(st != -1);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	snprintf(path, sizeof(path), "%s/out", dir);
	r->out = slurp(path, NULL);
	snprintf(path, sizeof(path), "%s/err", dir);
	r->err = slurp(path, NULL);
	ck_assert(r->out != NULL && r->err != NULL);
}

static void
run_release(struct run *r)
{
	free(r->out);
	free(r->err);
}

START_TEST(cli_aave_print_then_score)
{
	char db[512], cmd[8192], path[600], *dir = NULL, *body;
	struct run r;
	cJSON *root, *score;
	FILE *f;

	ck_assert_int_eq(store_fixture_seeded(&dir, db, sizeof(db), "c.db",
	    T_MS), 0);
	snprintf(cmd, sizeof(cmd), "import --db %s --book aave-test --format "
	    "aave-v3-subgraph --map %s --print %s", db,
	    fixture("aave_map.json"), fixture("aave.json"));
	run_cli(dir, cmd, &r);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	ck_assert(strstr(r.err, "4 records, 3 positions") != NULL);
	root = cJSON_Parse(r.out);
	ck_assert(root != NULL);
	ck_assert_int_eq(cJSON_GetArraySize(
	    cJSON_GetObjectItemCaseSensitive(root, "positions")), 3);
	/* the printed positions pass the /v1/score decoder on the seed */
	score = cJSON_CreateObject();
	cJSON_AddItemReferenceToObject(score, "positions",
	    cJSON_GetObjectItemCaseSensitive(root, "positions"));
	body = cJSON_PrintUnformatted(score);
	snprintf(path, sizeof(path), "%s/score.json", dir);
	f = fopen(path, "w");
	ck_assert(f != NULL && body != NULL);
	fputs(body, f);
	fclose(f);
	cJSON_free(body);
	cJSON_Delete(score);
	cJSON_Delete(root);
	run_release(&r);
	snprintf(cmd, sizeof(cmd), "score --db %s %s", db, path);
	run_cli(dir, cmd, &r);
	ck_assert_msg(r.status == 0, "score exit %d: %s%s", r.status, r.out,
	    r.err);
	run_release(&r);
	tmpdir_free(dir);
}
END_TEST

START_TEST(cli_defillama_writes_levels)
{
	char db[512], cmd[8192], *dir = NULL, *nl;
	struct run r;
	cJSON *a;
	struct store *st;
	struct market_data md;
	char *err = NULL;
	size_t i;

	ck_assert_int_eq(store_fixture_seeded(&dir, db, sizeof(db), "d.db",
	    T_MS), 0);
	snprintf(cmd, sizeof(cmd), "import --format defillama --map %s "
	    "--db %s %s", fixture("defillama_map.json"), db,
	    fixture("defillama.json"));
	run_cli(dir, cmd, &r);
	ck_assert_msg(r.status == 0, "exit %d: %s", r.status, r.err);
	/* one answer of the levels write per asset, one per line */
	nl = strchr(r.out, '\n');
	ck_assert(nl != NULL);
	*nl = '\0';
	a = cJSON_Parse(r.out);
	ck_assert(a != NULL);
	ck_assert_str_eq(str(a, "asset"), "ETH");
	ck_assert_double_eq(num(a, "stored"), 3);
	cJSON_Delete(a);
	a = cJSON_Parse(nl + 1);
	ck_assert(a != NULL);
	ck_assert_str_eq(str(a, "asset"), "BTC");
	ck_assert_double_eq(num(a, "stored"), 1);
	cJSON_Delete(a);
	run_release(&r);
	/* stored: ETH's levels replaced by the three imported */
	st = store_open(db, &err);
	ck_assert_msg(st != NULL, "%s", err ? err : "");
	market_data_init(&md);
	ck_assert_int_eq(store_load(st, &md), STORE_OK);
	for (i = 0; i < md.nassets; i++)
		if (strcmp(md.assets[i].symbol, "ETH") == 0)
			ck_assert_uint_eq(md.assets[i].npacked, 3);
	market_data_release(&md);
	store_close(st);
	tmpdir_free(dir);
}
END_TEST

START_TEST(cli_usage_errors)
{
	/* command (then the fixture), fixture, exit, text on stderr */
	static const struct {
		const char *cmd, *file;
		int status;
		const char *err;
	} c[] = {
		{ "import --format nope", "aave.json", 2, "--format" },
		/* positions need somewhere to go */
		{ "import --format hyperliquid", "hyperliquid.json", 2,
		    "--book" },
		{ "import --format defillama --book BAD", "defillama.json",
		    2, "--book" },
		{ "import --format defillama --csv", "defillama.json", 2,
		    "--csv" },
		/* a rejected input: its problem on stderr, exit 1 */
		{ "import --format defillama", "defillama.json", 1,
		    "mapping" },
		{ "score --print", "aave.json", 2, "--print" },
	};
	char cmd[8192], *dir = tmpdir_new();
	struct run r;
	size_t i;

	ck_assert(dir != NULL);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		snprintf(cmd, sizeof(cmd), "%s %s", c[i].cmd, fixture(c[i].file));
		run_cli(dir, cmd, &r);
		ck_assert_msg(r.status == c[i].status, "%s: exit %d", cmd,
		    r.status);
		ck_assert_msg(strstr(r.err, c[i].err) != NULL, "%s: %s", cmd,
		    r.err);
		run_release(&r);
	}
	tmpdir_free(dir);
}
END_TEST

static Suite *
import_suite(void)
{
	Suite *s = suite_create("import");
	TCase *tc;

	tc = tcase_create("codec");
	tcase_add_test(tc, defillama_levels);
	tcase_add_test(tc, hyperliquid_perps_and_levels);
	tcase_add_test(tc, aave_loans);
	tcase_add_test(tc, errors_have_pointers);
	tcase_add_test(tc, hyperliquid_accounts);
	tcase_add_test(tc, format_names);
	suite_add_tcase(s, tc);
	tc = tcase_create("seed");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, seed_books_decode);
	tcase_add_test(tc, seed_books_shape);
	suite_add_tcase(s, tc);
	tc = tcase_create("cli");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, cli_aave_print_then_score);
	tcase_add_test(tc, cli_defillama_writes_levels);
	tcase_add_test(tc, cli_usage_errors);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(import_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

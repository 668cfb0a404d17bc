/*
 * codec_import.c - DefiLlama / Hyperliquid / Aave v3 subgraph answers to
 * position and level bodies (codec_import.h; docs/import.md).
 *
 * Design (all amounts in the units docs/model.md uses):
 *   raw units:   amount = raw / 10^decimals, computed by handing the
 *                decimal text "<raw digits>e-<decimals>" to strtod, so
 *                the result is the correctly rounded value of the exact
 *                quotient (raw integers may exceed 2^53).  Aave debt =
 *                variable + stable, added exactly as decimal integers.
 *   DefiLlama:   level (price = liqPrice, qty = raw / 10^decimals, sell).
 *   Hyperliquid: szi signed size; side long when szi > 0, size |szi|.
 *                Isolated: the margin put up, margin = marginUsed - upnl,
 *                upnl = sign(szi) positionValue - szi entryPx (marginUsed
 *                is the isolated equity, margin plus unrealised PnL at
 *                the mark positionValue / |szi|), so that docs/model.md
 *                3.2's equity margin + size (P - entry) equals marginUsed
 *                at the mark.  mmr: the map's, else 1 / (2 maxLeverage)
 *                when the position gives maxLeverage (Hyperliquid's
 *                maintenance margin is half the initial margin at max
 *                leverage), else the schema default.
 *                Cross: level (liquidationPx, |szi|, sell for long, buy
 *                for short).
 *   Aave v3:     LT = reserveLiquidationThreshold / 10^4; per reserve
 *                bonus b = (reserveLiquidationBonus - 10^4) / 10^4; the
 *                loan's bonus = min(max b over its collateral,
 *                1 / LT_max - 1) (one bonus per loan; the cap keeps
 *                LT (1 + bonus) <= 1 for every entry).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec.h"
#include "codec_import.h"
#include "codec_int.h"
#include "json.h"

#define RAW_DIGITS_MAX 78	/* uint256 has 78 decimal digits */
#define DECIMALS_MAX 77

struct lvl {
	char asset[MD_SYMBOL_MAX + 1];
	size_t n;
	struct json_buf b;
};

struct imp {
	struct codec_ctx ctx;
	const char *source;
	const cJSON *map;	/* the mapping document or NULL */
	struct json_buf pos;	/* {"positions": [ ... */
	size_t npos;
	struct lvl *lv;
	size_t nlv;
	size_t cap;
	int oom;
	struct import_result *out;
};

static const char *const format_names[] = { "defillama", "hyperliquid",
	"aave-v3-subgraph" };

int
codec_import_format(const char *name, enum import_format *out)
{
	int k;

	for (k = 0; k < 3; k++)
		if (name != NULL && strcmp(name, format_names[k]) == 0) {
			*out = (enum import_format)k;
			return 0;
		}
	return -1;
}

void
codec_import_init(struct import_result *r)
{
	memset(r, 0, sizeof(*r));
}

void
codec_import_release(struct import_result *r)
{
	size_t i;

	free(r->positions);
	for (i = 0; i < r->nlevel_assets; i++)
		free(r->levels[i].body);
	free(r->levels);
	codec_import_init(r);
}

/* ---- numbers -------------------------------------------------------- */

/*
 * A raw integer amount: a string of digits or an integral JSON number
 * >= 0, into buf as digits.  0, or -1 with an error at member.
 */
static int
raw_digits(struct codec_ctx *c, const char *member, const cJSON *item,
    char buf[RAW_DIGITS_MAX + 2])
{
	const char *s;
	size_t n;

	if (cJSON_IsNumber(item) && isfinite(item->valuedouble) &&
	    item->valuedouble >= 0 && item->valuedouble < 1e77 &&
	    floor(item->valuedouble) == item->valuedouble) {
		snprintf(buf, RAW_DIGITS_MAX + 2, "%.0f", item->valuedouble);
		return 0;
	}
	if (cJSON_IsString(item)) {
		s = item->valuestring;
		n = strspn(s, "0123456789");
		if (n > 0 && s[n] == '\0' && n <= RAW_DIGITS_MAX) {
			memcpy(buf, s, n + 1);
			return 0;
		}
	}
	codec_err(c, member,
	    "must be a raw integer amount (a string of at most %d digits, "
	    "or an integral number >= 0)", RAW_DIGITS_MAX);
	return -1;
}

/* a + b of two digit strings into out (RAW_DIGITS_MAX + 2 bytes). */
static void
add_digits(const char *a, const char *b, char out[RAW_DIGITS_MAX + 2])
{
	char tmp[RAW_DIGITS_MAX + 3];
	size_t la = strlen(a), lb = strlen(b), k = 0, i;
	int carry = 0, d;

	while (la > 0 || lb > 0 || carry) {
		d = carry + (la > 0 ? a[--la] - '0' : 0) +
		    (lb > 0 ? b[--lb] - '0' : 0);
		carry = d / 10;
		if (k < sizeof(tmp) - 1)
			tmp[k++] = (char)('0' + d % 10);
	}
	if (k > RAW_DIGITS_MAX)
		k = RAW_DIGITS_MAX; /* two 78-digit sums: cannot happen */
	for (i = 0; i < k; i++)
		out[i] = tmp[k - 1 - i];
	out[k] = '\0';
	if (k == 0)
		memcpy(out, "0", 2);
}

/* raw / 10^decimals, correctly rounded. */
static double
scale_raw(const char *digits, int decimals)
{
	char tmp[RAW_DIGITS_MAX + 16];

	snprintf(tmp, sizeof(tmp), "%se-%d", digits, decimals);
	return strtod(tmp, NULL);
}

/* An integer in [lo, hi], as a JSON number or a digit string. */
static int
int_of(struct codec_ctx *c, const char *member, const cJSON *item, long lo,
    long hi, long *out)
{
	double v = NAN;
	char *end = NULL;

	if (cJSON_IsNumber(item))
		v = item->valuedouble;
	else if (cJSON_IsString(item) && item->valuestring[0] != '\0' &&
	    strspn(item->valuestring, "0123456789") ==
	        strlen(item->valuestring))
		v = strtod(item->valuestring, &end);
	if (!isfinite(v) || floor(v) != v || v < (double)lo ||
	    v > (double)hi) {
		codec_err(c, member, "must be an integer in [%ld, %ld]", lo,
		    hi);
		return -1;
	}
	*out = (long)v;
	return 0;
}

/* A price: a number or decimal string > 0. */
static int
price_of(struct codec_ctx *c, const char *member, const cJSON *item,
    double *out)
{
	if (codec_qty_text(c, member, item, out) != 0)
		return -1;
	if (!(*out > 0)) {
		codec_err(c, member, "must be > 0");
		return -1;
	}
	return 0;
}

/* ---- output --------------------------------------------------------- */

static struct lvl *
lvl_of(struct imp *m, const char *asset)
{
	struct lvl *nl;
	size_t i;

	for (i = 0; i < m->nlv; i++)
		if (strcmp(m->lv[i].asset, asset) == 0)
			return &m->lv[i];
	if (m->nlv == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 8;

		nl = realloc(m->lv, ncap * sizeof(*nl));
		if (nl == NULL) {
			m->oom = 1;
			return NULL;
		}
		m->lv = nl;
		m->cap = ncap;
	}
	nl = &m->lv[m->nlv++];
	memset(nl, 0, sizeof(*nl));
	snprintf(nl->asset, sizeof(nl->asset), "%s", asset);
	json_buf_init(&nl->b, 0);
	json_buf_begin(&nl->b, '{');
	json_buf_key(&nl->b, "levels");
	json_buf_begin(&nl->b, '[');
	return nl;
}

static void
level_add(struct imp *m, const char *asset, double price, double qty,
    const char *side)
{
	struct lvl *l = lvl_of(m, asset);

	if (l == NULL)
		return;
	json_buf_begin(&l->b, '{');
	json_buf_key(&l->b, "price");
	json_buf_num(&l->b, price);
	json_buf_key(&l->b, "qty");
	json_buf_num(&l->b, qty);
	json_buf_key(&l->b, "side");
	json_buf_str(&l->b, side);
	json_buf_end(&l->b, '}');
	l->n++;
}

/* Emit a cJSON value as it is (the map's maintenance tiers). */
static void
emit_value(struct json_buf *b, const cJSON *v)
{
	const cJSON *it;

	if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
		json_buf_begin(b, cJSON_IsObject(v) ? '{' : '[');
		for (it = v->child; it != NULL; it = it->next) {
			if (cJSON_IsObject(v))
				json_buf_key(b, it->string);
			emit_value(b, it);
		}
		json_buf_end(b, cJSON_IsObject(v) ? '}' : ']');
	} else if (cJSON_IsNumber(v)) {
		json_buf_num(b, v->valuedouble);
	} else if (cJSON_IsString(v)) {
		json_buf_str(b, v->valuestring);
	} else if (cJSON_IsBool(v)) {
		json_buf_bool(b, cJSON_IsTrue(v));
	} else {
		json_buf_null(b);
	}
}

/* Move the buffers into m->out. */
static int
finish(struct imp *m)
{
	struct import_result *r = m->out;
	size_t i;

	json_buf_end(&m->pos, ']');
	json_buf_key(&m->pos, "source");
	json_buf_str(&m->pos, m->source);
	json_buf_end(&m->pos, '}');
	if (m->npos > 0) {
		r->positions = json_buf_take(&m->pos);
		if (r->positions == NULL)
			m->oom = 1;
	}
	r->npositions = m->npos;
	if (m->nlv > 0) {
		r->levels = calloc(m->nlv, sizeof(*r->levels));
		if (r->levels == NULL)
			m->oom = 1;
	}
	for (i = 0; r->levels != NULL && i < m->nlv; i++) {
		struct json_buf *b = &m->lv[i].b;

		json_buf_end(b, ']');
		json_buf_key(b, "source");
		json_buf_str(b, m->source);
		json_buf_end(b, '}');
		snprintf(r->levels[i].asset, sizeof(r->levels[i].asset), "%s",
		    m->lv[i].asset);
		r->levels[i].n = m->lv[i].n;
		r->levels[i].body = json_buf_take(b);
		r->nlevel_assets = i + 1;
		r->nlevels += m->lv[i].n;
		if (r->levels[i].body == NULL)
			m->oom = 1;
	}
	return m->oom ? -1 : 0;
}

/* ---- the mapping document ------------------------------------------- */

/* An asset symbol at member (a string, docs/model.md section 1). */
static const char *
symbol_at(struct codec_ctx *c, const char *member, const cJSON *v)
{
	if (!cJSON_IsString(v) || !codec_symbol_valid(v->valuestring)) {
		codec_err(c, member,
		    "must be an asset symbol (1-16 of A-Z 0-9 . _ -)");
		return NULL;
	}
	return v->valuestring;
}

/* Check every entry of the map's object `member` with fn. */
static void
map_entries(struct codec_ctx *c, const cJSON *obj, const char *member,
    void (*fn)(struct codec_ctx *c, const cJSON *v))
{
	const cJSON *it;
	size_t old, old2;

	if (obj == NULL)
		return;
	old = codec_ptr_key(c, member);
	if (!cJSON_IsObject(obj))
		codec_err(c, NULL, "must be an object");
	else
		for (it = obj->child; it != NULL; it = it->next) {
			old2 = codec_ptr_key(c, it->string);
			fn(c, it);
			codec_ptr_pop(c, old2);
		}
	codec_ptr_pop(c, old);
}

static void
check_token(struct codec_ctx *c, const cJSON *v)
{
	static const char *const keys[] = { "asset", "decimals", NULL };
	const cJSON *f[2];
	long d;

	if (codec_members(c, v, keys, f, 0) != 0 && !cJSON_IsObject(v))
		return;
	if (f[0] == NULL || f[1] == NULL) {
		codec_err(c, NULL, "needs asset and decimals");
		return;
	}
	symbol_at(c, "asset", f[0]);
	int_of(c, "decimals", f[1], 0, DECIMALS_MAX, &d);
}

static void
check_coin(struct codec_ctx *c, const cJSON *v)
{
	static const char *const keys[] = { "asset",
		"maintenance_margin_rate", "maintenance_tiers", NULL };
	const cJSON *f[3];
	double mmr;

	if (cJSON_IsString(v)) {
		symbol_at(c, NULL, v);
		return;
	}
	if (codec_members(c, v, keys, f, 0) != 0 && !cJSON_IsObject(v))
		return;
	if (f[0] != NULL)
		symbol_at(c, "asset", f[0]);
	if (f[1] != NULL && codec_number(c, "maintenance_margin_rate", f[1],
	    &mmr) == 0 && (mmr < 0 || mmr >= 1))
		codec_err(c, "maintenance_margin_rate", "must be in [0, 1)");
	if (f[2] != NULL && !cJSON_IsArray(f[2]))
		codec_err(c, "maintenance_tiers", "must be an array of tiers");
	if (f[1] != NULL && f[2] != NULL)
		codec_err(c, NULL,
		    "maintenance_margin_rate or maintenance_tiers, not both");
}

static void
check_symbol(struct codec_ctx *c, const cJSON *v)
{
	symbol_at(c, NULL, v);
}

/* Validate the map for format f (pointers into the map document). */
static void
check_map(struct codec_ctx *c, enum import_format f, const cJSON *map)
{
	static const char *const kd[] = { "tokens", NULL };
	static const char *const kh[] = { "coins", "account", NULL };
	static const char *const ka[] = { "symbols", NULL };
	const char *const *keys = f == IMPORT_DEFILLAMA ? kd
	    : f == IMPORT_HYPERLIQUID ? kh : ka;
	const cJSON *v[2];

	if (map == NULL) {
		if (f == IMPORT_DEFILLAMA)
			codec_err(c, NULL, "defillama needs a mapping "
			    "{\"tokens\": {\"<chain>:<address>\": "
			    "{\"asset\", \"decimals\"}}}");
		return;
	}
	if (codec_members(c, map, keys, v, 0) != 0 && !cJSON_IsObject(map))
		return;
	if (f == IMPORT_DEFILLAMA) {
		if (v[0] == NULL)
			codec_err(c, "tokens", "is required");
		map_entries(c, v[0], "tokens", check_token);
	} else if (f == IMPORT_HYPERLIQUID) {
		map_entries(c, v[0], "coins", check_coin);
		if (v[1] != NULL && (!cJSON_IsString(v[1]) ||
		    v[1]->valuestring[0] == '\0' ||
		    strlen(v[1]->valuestring) > 64))
			codec_err(c, "account", "must be a string of 1-64 "
			    "bytes");
	} else {
		map_entries(c, v[0], "symbols", check_symbol);
	}
}

/* The map's entry for key in its object `member` (NULL: none). */
static const cJSON *
map_get(const struct imp *m, const char *member, const char *key,
    int case_sensitive)
{
	const cJSON *o = m->map != NULL
	    ? cJSON_GetObjectItemCaseSensitive(m->map, member) : NULL;

	if (o == NULL || key == NULL)
		return NULL;
	return case_sensitive ? cJSON_GetObjectItemCaseSensitive(o, key)
	    : cJSON_GetObjectItem(o, key);
}

/*
 * A coin or symbol mapped to an asset: the map's string (or "asset"
 * member), else the name itself when it is a valid symbol.
 */
static const char *
asset_for(struct imp *m, const char *member, const char *name,
    const char *field)
{
	const cJSON *e = map_get(m, member, name, 1);

	if (cJSON_IsObject(e))
		e = cJSON_GetObjectItemCaseSensitive(e, "asset");
	if (cJSON_IsString(e))
		return e->valuestring;
	if (codec_symbol_valid(name))
		return name;
	codec_err(&m->ctx, field,
	    "%s is not an asset symbol: map it in the mapping's %s", name,
	    member);
	return NULL;
}

/* ---- DefiLlama ------------------------------------------------------ */

static void
import_defillama(struct imp *m, const cJSON *root)
{
	static const char *const keys[] = { "owner", "liqPrice", "collateral",
		"collateralAmount", "extra", NULL };
	const cJSON *recs = root, *it, *v[5], *tok;
	char raw[RAW_DIGITS_MAX + 2];
	size_t old = m->ctx.plen, old2, i = 0;
	double price, qty;
	long dec;
	int bad;

	if (cJSON_IsObject(root)) {
		recs = cJSON_GetObjectItemCaseSensitive(root, "positions");
		old = codec_ptr_key(&m->ctx, "positions");
	}
	if (!cJSON_IsArray(recs)) {
		codec_err(&m->ctx, NULL, "must be an array of liquidation "
		    "records (or an object with one in \"positions\")");
		goto out;
	}
	for (it = recs->child; it != NULL; it = it->next, i++) {
		old2 = codec_ptr_idx(&m->ctx, i);
		m->out->records++;
		bad = codec_members(&m->ctx, it, keys, v, 1);
		if (!cJSON_IsObject(it))
			goto next;
		if (v[1] == NULL || v[2] == NULL || v[3] == NULL) {
			codec_err(&m->ctx, NULL, "needs liqPrice, collateral "
			    "and collateralAmount");
			goto next;
		}
		if (price_of(&m->ctx, "liqPrice", v[1], &price) != 0)
			bad = -1;
		if (raw_digits(&m->ctx, "collateralAmount", v[3], raw) != 0)
			bad = -1;
		if (!cJSON_IsString(v[2])) {
			codec_err(&m->ctx, "collateral", "must be a token id "
			    "(\"<chain>:<address>\")");
			bad = -1;
		}
		if (bad != 0)
			goto next;
		tok = map_get(m, "tokens", v[2]->valuestring, 0);
		if (tok == NULL) {
			m->out->unmapped++;
			goto next;
		}
		int_of(&m->ctx, "decimals",
		    cJSON_GetObjectItemCaseSensitive(tok, "decimals"), 0,
		    DECIMALS_MAX, &dec);
		qty = scale_raw(raw, (int)dec);
		if (qty == 0) {
			m->out->zero++;
			goto next;
		}
		level_add(m, cJSON_GetObjectItemCaseSensitive(tok,
		    "asset")->valuestring, price, qty, "sell");
	next:
		codec_ptr_pop(&m->ctx, old2);
	}
out:
	codec_ptr_pop(&m->ctx, old);
}

/* ---- Hyperliquid ---------------------------------------------------- */

enum { H_COIN, H_SZI, H_ENTRY, H_LIQ, H_LEV, H_MARGIN, H_VALUE, H_MAXLEV,
	H_N };

/* One assetPositions[i].position of the account `account` ("" none). */
static void
hl_position(struct imp *m, const cJSON *p, const char *account)
{
	static const char *const keys[] = { "coin", "szi", "entryPx",
		"liquidationPx", "leverage", "marginUsed", "positionValue",
		"maxLeverage", NULL };
	const cJSON *v[H_N + 1], *lt, *ce;
	const char *asset, *type;
	double szi, entry = 0, liq = 0, used = 0, value = 0, margin, maxlev = 0;
	char id[160];
	int bad;

	bad = codec_members(&m->ctx, p, keys, v, 1);
	if (!cJSON_IsObject(p))
		return;
	if (v[H_COIN] == NULL || v[H_SZI] == NULL || v[H_LEV] == NULL) {
		codec_err(&m->ctx, NULL, "needs coin, szi and leverage");
		return;
	}
	if (!cJSON_IsString(v[H_COIN])) {
		codec_err(&m->ctx, "coin", "must be a string");
		return;
	}
	if (codec_qty_text(&m->ctx, "szi", v[H_SZI], &szi) != 0)
		bad = -1;
	lt = cJSON_GetObjectItemCaseSensitive(v[H_LEV], "type");
	type = cJSON_IsString(lt) ? lt->valuestring : "";
	if (strcmp(type, "cross") != 0 && strcmp(type, "isolated") != 0) {
		codec_err(&m->ctx, "leverage",
		    "needs type \"cross\" or \"isolated\"");
		bad = -1;
	}
	asset = asset_for(m, "coins", v[H_COIN]->valuestring, "coin");
	if (bad != 0 || asset == NULL)
		return;
	if (szi == 0) {
		m->out->zero++;
		return;
	}
	if (strcmp(type, "cross") == 0) {
		if (v[H_LIQ] == NULL || cJSON_IsNull(v[H_LIQ])) {
			m->out->null_liquidation++;
			return;
		}
		if (price_of(&m->ctx, "liquidationPx", v[H_LIQ], &liq) == 0)
			level_add(m, asset, liq, fabs(szi),
			    szi > 0 ? "sell" : "buy");
		return;
	}
	if (v[H_ENTRY] == NULL || v[H_MARGIN] == NULL || v[H_VALUE] == NULL) {
		codec_err(&m->ctx, NULL, "an isolated position needs entryPx, "
		    "marginUsed and positionValue");
		return;
	}
	if (price_of(&m->ctx, "entryPx", v[H_ENTRY], &entry) != 0 ||
	    codec_qty_text(&m->ctx, "marginUsed", v[H_MARGIN], &used) != 0 ||
	    codec_qty_text(&m->ctx, "positionValue", v[H_VALUE], &value) != 0)
		return;
	if (v[H_MAXLEV] != NULL && (codec_qty_text(&m->ctx, "maxLeverage",
	    v[H_MAXLEV], &maxlev) != 0 || !(maxlev >= 1))) {
		codec_err(&m->ctx, "maxLeverage", "must be >= 1");
		return;
	}
	margin = used - ((szi > 0 ? value : -value) - szi * entry);
	if (!(margin > 0)) {
		codec_err(&m->ctx, "marginUsed", "gives no margin left "
		    "(marginUsed - unrealised PnL = %.17g)", margin);
		return;
	}
	snprintf(id, sizeof(id), "%s%s%s", account, account[0] ? ":" : "",
	    v[H_COIN]->valuestring);
	ce = map_get(m, "coins", v[H_COIN]->valuestring, 1);
	json_buf_begin(&m->pos, '{');
	json_buf_key(&m->pos, "id");
	json_buf_str(&m->pos, id);
	json_buf_key(&m->pos, "type");
	json_buf_str(&m->pos, "perp");
	json_buf_key(&m->pos, "asset");
	json_buf_str(&m->pos, asset);
	json_buf_key(&m->pos, "side");
	json_buf_str(&m->pos, szi > 0 ? "long" : "short");
	json_buf_key(&m->pos, "size");
	json_buf_num(&m->pos, fabs(szi));
	json_buf_key(&m->pos, "entry_price");
	json_buf_num(&m->pos, entry);
	json_buf_key(&m->pos, "margin");
	json_buf_num(&m->pos, margin);
	if (cJSON_IsObject(ce) && cJSON_GetObjectItemCaseSensitive(ce,
	    "maintenance_tiers") != NULL) {
		json_buf_key(&m->pos, "maintenance_tiers");
		emit_value(&m->pos, cJSON_GetObjectItemCaseSensitive(ce,
		    "maintenance_tiers"));
	} else if (cJSON_IsObject(ce) && cJSON_GetObjectItemCaseSensitive(ce,
	    "maintenance_margin_rate") != NULL) {
		json_buf_key(&m->pos, "maintenance_margin_rate");
		emit_value(&m->pos, cJSON_GetObjectItemCaseSensitive(ce,
		    "maintenance_margin_rate"));
	} else if (maxlev >= 1) {
		json_buf_key(&m->pos, "maintenance_margin_rate");
		json_buf_num(&m->pos, 1.0 / (2.0 * maxlev));
	}
	json_buf_end(&m->pos, '}');
	m->npos++;
}

/* One clearinghouseState answer. */
static void
hl_state(struct imp *m, const cJSON *st, const char *account)
{
	const cJSON *arr, *it, *p;
	size_t old, old2, old3, i = 0;

	if (!cJSON_IsObject(st)) {
		codec_err(&m->ctx, NULL, "must be a clearinghouseState object");
		return;
	}
	arr = cJSON_GetObjectItemCaseSensitive(st, "assetPositions");
	old = codec_ptr_key(&m->ctx, "assetPositions");
	if (!cJSON_IsArray(arr)) {
		codec_err(&m->ctx, NULL, "must be an array");
		goto out;
	}
	for (it = arr->child; it != NULL; it = it->next, i++) {
		old2 = codec_ptr_idx(&m->ctx, i);
		m->out->records++;
		p = cJSON_GetObjectItemCaseSensitive(it, "position");
		old3 = codec_ptr_key(&m->ctx, "position");
		if (p == NULL)
			codec_err(&m->ctx, NULL, "is required");
		else
			hl_position(m, p, account);
		codec_ptr_pop(&m->ctx, old3);
		codec_ptr_pop(&m->ctx, old2);
	}
out:
	codec_ptr_pop(&m->ctx, old);
}

/*
 * A clearinghouseState object (ids: the map's account prefix, if any,
 * then the coin), or an array of {"user", "state"} (ids "<user>:<coin>").
 */
static void
import_hyperliquid(struct imp *m, const cJSON *root)
{
	const cJSON *it, *u, *s, *acc;
	size_t old, old2, i = 0;

	if (!cJSON_IsArray(root)) {
		acc = m->map != NULL
		    ? cJSON_GetObjectItemCaseSensitive(m->map, "account")
		    : NULL;
		hl_state(m, root, cJSON_IsString(acc) ? acc->valuestring : "");
		return;
	}
	for (it = root->child; it != NULL; it = it->next, i++) {
		old = codec_ptr_idx(&m->ctx, i);
		u = cJSON_GetObjectItemCaseSensitive(it, "user");
		s = cJSON_GetObjectItemCaseSensitive(it, "state");
		if (!cJSON_IsString(u) || u->valuestring[0] == '\0' ||
		    strlen(u->valuestring) > 64 || s == NULL) {
			codec_err(&m->ctx, NULL, "must be {\"user\": "
			    "\"<1-64 bytes>\", \"state\": {...}}");
		} else {
			old2 = codec_ptr_key(&m->ctx, "state");
			hl_state(m, s, u->valuestring);
			codec_ptr_pop(&m->ctx, old2);
		}
		codec_ptr_pop(&m->ctx, old);
	}
}

/* ---- Aave v3 subgraph ----------------------------------------------- */

/* One entry of a loan being built. */
struct aentry {
	const char *asset;
	double amount;
	double lt;	/* collateral only */
};

static void
emit_entries(struct json_buf *b, const char *key, const struct aentry *e,
    size_t n, int coll)
{
	size_t i;

	json_buf_key(b, key);
	json_buf_begin(b, '[');
	for (i = 0; i < n; i++) {
		json_buf_begin(b, '{');
		json_buf_key(b, "asset");
		json_buf_str(b, e[i].asset);
		json_buf_key(b, "amount");
		json_buf_num(b, e[i].amount);
		if (coll) {
			json_buf_key(b, "liquidation_threshold");
			json_buf_num(b, e[i].lt);
		}
		json_buf_end(b, '}');
	}
	json_buf_end(b, ']');
}

enum { R_ATOKEN, R_VDEBT, R_SDEBT, R_USE, R_RESERVE, R_N };
enum { S_SYMBOL, S_DEC, S_LT, S_BONUS, S_USE, S_N };

/*
 * One userReserve into coll / debt (capacity 1 each); *bonus the
 * reserve's bonus when it is collateral.  -1 on an error.
 */
static int
aave_reserve(struct imp *m, const cJSON *ur, struct aentry *coll,
    size_t *nc, struct aentry *debt, size_t *nd, double *bonus)
{
	static const char *const keys[] = { "currentATokenBalance",
		"currentVariableDebt", "currentStableDebt",
		"usageAsCollateralEnabledOnUser", "reserve", NULL };
	static const char *const rkeys[] = { "symbol", "decimals",
		"reserveLiquidationThreshold", "reserveLiquidationBonus",
		"usageAsCollateralEnabled", NULL };
	const cJSON *v[R_N + 1], *r[S_N + 1];
	char a[RAW_DIGITS_MAX + 2], vd[RAW_DIGITS_MAX + 2],
	    sd[RAW_DIGITS_MAX + 2] = "0", d[RAW_DIGITS_MAX + 2];
	const char *asset = NULL;
	long dec = 0, lt = 0, lb = 0;
	size_t old;
	int bad;

	bad = codec_members(&m->ctx, ur, keys, v, 1);
	if (!cJSON_IsObject(ur))
		return -1;
	if (v[R_ATOKEN] == NULL || v[R_VDEBT] == NULL ||
	    v[R_RESERVE] == NULL) {
		codec_err(&m->ctx, NULL, "needs currentATokenBalance, "
		    "currentVariableDebt and reserve");
		return -1;
	}
	if (raw_digits(&m->ctx, "currentATokenBalance", v[R_ATOKEN], a) ||
	    raw_digits(&m->ctx, "currentVariableDebt", v[R_VDEBT], vd) ||
	    (v[R_SDEBT] != NULL &&
	        raw_digits(&m->ctx, "currentStableDebt", v[R_SDEBT], sd)))
		bad = -1;
	old = codec_ptr_key(&m->ctx, "reserve");
	if (codec_members(&m->ctx, v[R_RESERVE], rkeys, r, 1) != 0 &&
	    !cJSON_IsObject(v[R_RESERVE])) {
		bad = -1;
	} else if (r[S_SYMBOL] == NULL || r[S_DEC] == NULL || r[S_LT] == NULL ||
	    r[S_BONUS] == NULL) {
		codec_err(&m->ctx, NULL, "needs symbol, decimals, "
		    "reserveLiquidationThreshold and reserveLiquidationBonus");
		bad = -1;
	} else {
		if (!cJSON_IsString(r[S_SYMBOL]))
			codec_err(&m->ctx, "symbol", "must be a string");
		else
			asset = asset_for(m, "symbols",
			    r[S_SYMBOL]->valuestring, "symbol");
		if (asset == NULL ||
		    int_of(&m->ctx, "decimals", r[S_DEC], 0, DECIMALS_MAX,
		        &dec) ||
		    int_of(&m->ctx, "reserveLiquidationThreshold", r[S_LT], 0,
		        10000, &lt) ||
		    int_of(&m->ctx, "reserveLiquidationBonus", r[S_BONUS], 0,
		        20000, &lb))
			bad = -1;
	}
	codec_ptr_pop(&m->ctx, old);
	if (bad != 0)
		return -1;
	if (scale_raw(a, (int)dec) > 0) {
		if (lt == 0 || cJSON_IsFalse(v[R_USE]) ||
		    cJSON_IsFalse(r[S_USE])) {
			m->out->not_collateral++;
		} else {
			coll->asset = asset;
			coll->amount = scale_raw(a, (int)dec);
			coll->lt = (double)lt / 10000.0;
			*bonus = lb > 10000 ? (double)(lb - 10000) / 10000.0 : 0;
			*nc = 1;
		}
	}
	add_digits(vd, sd, d);
	if (scale_raw(d, (int)dec) > 0) {
		debt->asset = asset;
		debt->amount = scale_raw(d, (int)dec);
		*nd = 1;
	}
	return 0;
}

static void
aave_user(struct imp *m, const cJSON *u, struct aentry *coll,
    struct aentry *debt)
{
	const cJSON *id, *res, *it;
	size_t nc = 0, nd = 0, c1, d1, old, old2, i = 0;
	double b, bonus = -1, ltmax = 0;
	int bad = 0;

	id = cJSON_GetObjectItemCaseSensitive(u, "id");
	res = cJSON_GetObjectItemCaseSensitive(u, "reserves");
	if (!cJSON_IsString(id) || id->valuestring[0] == '\0' ||
	    strlen(id->valuestring) > 128 || !cJSON_IsArray(res)) {
		codec_err(&m->ctx, NULL, "needs id (1-128 bytes) and reserves "
		    "(an array)");
		return;
	}
	old = codec_ptr_key(&m->ctx, "reserves");
	for (it = res->child; it != NULL; it = it->next, i++) {
		old2 = codec_ptr_idx(&m->ctx, i);
		c1 = d1 = 0;
		b = 0;
		if (aave_reserve(m, it, coll + nc, &c1, debt + nd, &d1, &b))
			bad = -1;
		if (c1) {
			bonus = fmax(bonus, b);
			ltmax = fmax(ltmax, coll[nc].lt);
		}
		nc += c1;
		nd += d1;
		codec_ptr_pop(&m->ctx, old2);
	}
	codec_ptr_pop(&m->ctx, old);
	if (bad != 0)
		return;
	if (nd == 0) {
		m->out->no_debt++;
		return;
	}
	json_buf_begin(&m->pos, '{');
	json_buf_key(&m->pos, "id");
	json_buf_str(&m->pos, id->valuestring);
	json_buf_key(&m->pos, "type");
	json_buf_str(&m->pos, "loan");
	json_buf_key(&m->pos, "protocol");
	json_buf_str(&m->pos, "aave-v3");
	emit_entries(&m->pos, "collateral", coll, nc, 1);
	emit_entries(&m->pos, "debt", debt, nd, 0);
	if (nc > 0) {
		json_buf_key(&m->pos, "liquidation_bonus");
		json_buf_num(&m->pos, fmin(bonus, 1.0 / ltmax - 1.0));
	}
	json_buf_end(&m->pos, '}');
	m->npos++;
}

static void
import_aave(struct imp *m, const cJSON *root)
{
	const cJSON *data, *users, *it, *res;
	struct aentry *coll = NULL, *debt = NULL;
	size_t old, old2, old3, i = 0, cap = 0, n;

	data = cJSON_GetObjectItemCaseSensitive(root, "data");
	old = codec_ptr_key(&m->ctx, "data");
	users = cJSON_GetObjectItemCaseSensitive(data, "users");
	old2 = codec_ptr_key(&m->ctx, "users");
	if (!cJSON_IsArray(users)) {
		codec_err(&m->ctx, NULL, "must be an array (the answer of "
		    "users { id reserves { ... } })");
		goto out;
	}
	for (it = users->child; it != NULL; it = it->next, i++) {
		old3 = codec_ptr_idx(&m->ctx, i);
		m->out->records++;
		res = cJSON_GetObjectItemCaseSensitive(it, "reserves");
		n = cJSON_IsArray(res) ? (size_t)cJSON_GetArraySize(res) : 0;
		if (n > cap) {
			free(coll);
			free(debt);
			cap = n;
			coll = calloc(cap, sizeof(*coll));
			debt = calloc(cap, sizeof(*debt));
			if (coll == NULL || debt == NULL) {
				m->oom = 1;
				cap = 0;
				codec_ptr_pop(&m->ctx, old3);
				goto out;
			}
		}
		if (!cJSON_IsObject(it))
			codec_err(&m->ctx, NULL, "must be an object");
		else
			aave_user(m, it, coll, debt);
		codec_ptr_pop(&m->ctx, old3);
	}
out:
	free(coll);
	free(debt);
	codec_ptr_pop(&m->ctx, old2);
	codec_ptr_pop(&m->ctx, old);
}

/* ---- entry point ---------------------------------------------------- */

int
codec_import(enum import_format f, const char *input, size_t len,
    const char *map, size_t maplen, const char *source,
    struct import_result *out, struct problem *err)
{
	struct imp m;
	cJSON *root = NULL, *mroot = NULL;
	char src[MD_SOURCE_MAX + 1];
	size_t i;
	int rc = -1;

	codec_import_release(out);
	memset(&m, 0, sizeof(m));
	m.out = out;
	snprintf(src, sizeof(src), "%s", source != NULL ? source : "");
	if (source == NULL)
		snprintf(src, sizeof(src), "import:%s", format_names[f]);
	m.source = src;
	json_buf_init(&m.pos, 0);
	json_buf_begin(&m.pos, '{');
	json_buf_key(&m.pos, "positions");
	json_buf_begin(&m.pos, '[');
	if (map != NULL && maplen > 0) {
		mroot = codec_parse(map, maplen, err);
		if (mroot == NULL) {
			free(err->detail);
			err->detail = strdup("the mapping document is not "
			    "valid JSON");
			goto out;
		}
	}
	m.map = mroot;
	codec_ctx_init(&m.ctx, err);
	check_map(&m.ctx, f, mroot);
	if (m.ctx.nerr > 0) {
		problem_set(err, 422, "validation", "Unprocessable request",
		    "the mapping document is invalid (pointers are into it)");
		goto out;
	}
	root = codec_parse(input, len, err);
	if (root == NULL)
		goto out;
	switch (f) {
	case IMPORT_DEFILLAMA: import_defillama(&m, root); break;
	case IMPORT_HYPERLIQUID: import_hyperliquid(&m, root); break;
	case IMPORT_AAVE_V3_SUBGRAPH: import_aave(&m, root); break;
	}
	if (m.ctx.nerr > 0) {
		problem_set(err, 422, "validation", "Unprocessable request",
		    "the %s input is invalid", format_names[f]);
		goto out;
	}
	if (finish(&m) != 0 || m.oom) {
		problem_set(err, 500, "internal", "Internal server error",
		    "out of memory");
		goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		codec_import_release(out);
	json_buf_free(&m.pos);
	for (i = 0; i < m.nlv; i++)
		json_buf_free(&m.lv[i].b);
	free(m.lv);
	cJSON_Delete(root);
	cJSON_Delete(mroot);
	return rc;
}

/*
 * codec_score.c - POST /v1/score: decode and validate the request body
 * into the model's structs, encode lc_score()'s result as the answer of
 * docs/model.md 7.
 *
 * Decoding walks the cJSON tree once, checks every member against the
 * contract and keeps going after an error so that one 422 lists them all,
 * each with its JSON pointer; storage for positions, entries, tiers and
 * ids is sized in one pass first, so the lc_* structs point into a few
 * arrays the request owns.  The answer is written by hand through the
 * JSON emitter (json.h; cJSON's printing of doubles costs more than the
 * parse), numbers in their shortest round-trip form.  See codec.h for the
 * readings of the contract (docs/model.md) made here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec_calibration.h"
#include "cascade/vol.h"
#include "codec_int.h"
#include "json.h"
#include "rfc3339.h"

#define MAX_ID_CHARS 128
#define MAX_TIERS 64
#define MAX_SEED 9007199254740991.0 /* 2^53 - 1 */

/* ---- POST /v1/score: decode ----------------------------------------- */

void
codec_limits_default(struct codec_limits *l)
{
	l->max_positions = CODEC_DEFAULT_MAX_POSITIONS;
	l->max_paths = 1000000;
	l->max_steps = 256;
	l->max_entries = 256;
	l->max_cost = CODEC_DEFAULT_MAX_COST;
	l->stale_depth_s = CODEC_DEFAULT_STALE_DEPTH_S;
	l->threads = 0;
	l->vol_half_life_days = LC_VOL_DEFAULT_HALF_LIFE_DAYS;
	l->vol_mean_reversion_days = LC_VOL_DEFAULT_MEAN_REVERSION_DAYS;
}

void
codec_request_init(struct score_request *r)
{
	memset(r, 0, sizeof(*r));
	codec_warnings_init(&r->warn);
}

void
codec_request_release(struct score_request *r)
{
	if (r == NULL)
		return;
	free(r->pos);
	free(r->ids);
	free(r->entries);
	free(r->tiers);
	free(r->price);
	free(r->vol);
	free(r->book);
	free(r->vol_src);
	codec_warnings_release(&r->warn);
	codec_request_init(r);
}

struct dec {
	struct codec_ctx ctx;
	const struct snapshot *snap;
	const struct codec_limits *lim;
	struct score_request *r;
	size_t nentries; /* used of r->entries */
	size_t ntiers; /* used of r->tiers */
	size_t idlen; /* used of r->ids */
	int64_t now;
	int in_book; /* decoding a book's positions: no `book` member */
};

/* Number in a range given as bounds and openness; -1 with an error. */
static int
num_range(struct codec_ctx *c, const char *member, const cJSON *item, double lo,
    int lo_open, double hi, int hi_open, double *out)
{
	double v;

	if (codec_number(c, member, item, &v) != 0)
		return -1;
	if ((lo_open ? !(v > lo) : !(v >= lo)) ||
	    (hi_open ? !(v < hi) : !(v <= hi))) {
		if (hi >= LC_MAX_VALUE && !hi_open)
			codec_err(c, member, "must be %s %g",
			    lo_open ? ">" : ">=", lo);
		else
			codec_err(c, member, "must be in %c%g, %g%c",
			    lo_open ? '(' : '[', lo, hi, hi_open ? ')' : ']');
		return -1;
	}
	*out = v;
	return 0;
}

static int
int_range(struct codec_ctx *c, const char *member, const cJSON *item, double lo,
    double hi, double *out)
{
	double v;

	if (!cJSON_IsNumber(item) || !isfinite(item->valuedouble) ||
	    item->valuedouble != floor(item->valuedouble)) {
		codec_err(c, member, "must be an integer");
		return -1;
	}
	v = item->valuedouble;
	if (v < lo || v > hi) {
		codec_err(c, member, "must be an integer in [%.0f, %.0f]",
		    lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

/* Asset symbol member: known to the snapshot; -1 with an error. */
static long
asset_ref(struct dec *d, const char *member, const cJSON *item)
{
	long a;

	if (!cJSON_IsString(item)) {
		codec_err(&d->ctx, member, "must be an asset symbol (string)");
		return -1;
	}
	a = snapshot_find(d->snap, item->valuestring);
	if (a < 0) {
		codec_err(&d->ctx, member, "unknown asset '%.32s'",
		    item->valuestring);
		return -1;
	}
	return a;
}

/* 1-128 characters of valid UTF-8 without control characters. */
static int
id_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t nch = 0;

	while (*p != '\0') {
		if (*p < 0x20 || *p == 0x7f)
			return 0;
		/* C1 controls U+0080..U+009F are 0xc2 0x80..0x9f */
		if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return 0;
		if (*p < 0x80)
			p++;
		else if (*p < 0xe0)
			p += 2;
		else if (*p < 0xf0)
			p += 3;
		else
			p += 4;
		nch++;
	}
	return nch >= 1 && nch <= MAX_ID_CHARS;
}

static void
decode_overrides(struct dec *d, const cJSON *obj, int is_vol)
{
	const cJSON *it;
	unsigned char *seen = NULL;
	size_t old;
	double v;
	long a;

	old = codec_ptr_key(&d->ctx, is_vol ? "volatility" : "prices");
	if (!cJSON_IsObject(obj)) {
		codec_err(&d->ctx, NULL, "must be an object of asset: number");
		goto out;
	}
	seen = calloc(d->snap->nassets + 1, 1);
	if (seen == NULL) {
		problem_set(d->ctx.err, 500, "internal",
		    "Internal server error", "out of memory");
		d->ctx.nerr++;
		goto out;
	}
	for (it = obj->child; it != NULL; it = it->next) {
		int ok;

		a = snapshot_find(d->snap, it->string);
		if (a < 0) {
			codec_err(&d->ctx, it->string, "unknown asset");
			continue;
		}
		if (seen[a]) {
			codec_err(&d->ctx, it->string, "duplicate member");
			continue;
		}
		seen[a] = 1;
		if (is_vol)
			ok = num_range(&d->ctx, it->string, it, 0, 0, LC_MAX_VOL, 0,
			         &v) == 0;
		else
			ok = num_range(&d->ctx, it->string, it, 0, 1, LC_MAX_VALUE, 0,
			         &v) == 0;
		if (!ok)
			continue;
		if ((uint32_t)a == d->snap->usd && v != (is_vol ? 0.0 : 1.0)) {
			codec_err(&d->ctx, it->string,
			    "USD is the quote "
			    "currency: its %s is %s",
			    is_vol ? "volatility" : "price",
			    is_vol ? "0" : "1");
			continue;
		}
		if (is_vol) {
			d->r->vol[a] = v;
			d->r->vol_src[a] = CODEC_VOL_REQUEST;
		} else
			d->r->price[a] = v;
	}
out:
	free(seen);
	codec_ptr_pop(&d->ctx, old);
}

/* Collateral or debt list into r->entries; returns the count stored. */
static size_t
decode_entries(struct dec *d, const cJSON *arr, int coll, struct lc_entry *out)
{
	static const char *const ckeys[] = { "asset", "amount",
		"liquidation_threshold", NULL };
	static const char *const dkeys[] = { "asset", "amount", NULL };
	const char *member = coll ? "collateral" : "debt";
	const cJSON *it, *v[3];
	size_t old, old2, i = 0, n = 0;

	if (arr == NULL)
		return 0;
	old = codec_ptr_key(&d->ctx, member);
	if (!cJSON_IsArray(arr)) {
		codec_err(&d->ctx, NULL, "must be an array");
		goto out;
	}
	if ((size_t)cJSON_GetArraySize(arr) > d->lim->max_entries) {
		codec_err(&d->ctx, NULL, "at most %zu entries",
		    d->lim->max_entries);
		goto out;
	}
	for (it = arr->child; it != NULL; it = it->next, i++) {
		struct lc_entry e;
		long a;
		int bad;

		old2 = codec_ptr_idx(&d->ctx, i);
		bad = codec_members(&d->ctx, it, coll ? ckeys : dkeys, v, 0);
		if (!cJSON_IsObject(it))
			goto next;
		memset(&e, 0, sizeof(e));
		if (v[0] == NULL) {
			codec_err(&d->ctx, "asset", "is required");
			bad = -1;
		} else if ((a = asset_ref(d, "asset", v[0])) < 0) {
			bad = -1;
		} else {
			e.asset = (uint32_t)a;
		}
		if (v[1] == NULL) {
			codec_err(&d->ctx, "amount", "is required");
			bad = -1;
		} else if (num_range(&d->ctx, "amount", v[1], 0, 0, LC_MAX_VALUE, 0,
		               &e.amount) != 0) {
			bad = -1;
		}
		if (coll) {
			if (v[2] == NULL) {
				codec_err(&d->ctx, "liquidation_threshold",
				    "is required on collateral");
				bad = -1;
			} else if (num_range(&d->ctx, "liquidation_threshold", v[2],
			               0, 1, 1, 0, &e.lt) != 0) {
				bad = -1;
			}
		}
		if (bad == 0)
			out[n++] = e;
	next:
		codec_ptr_pop(&d->ctx, old2);
	}
out:
	codec_ptr_pop(&d->ctx, old);
	return n;
}

/* Original index in `arr` of the first entry of asset `a`. */
static size_t
entry_origin(struct dec *d, const cJSON *arr, uint32_t a)
{
	const cJSON *it;
	size_t i = 0;

	for (it = arr != NULL ? arr->child : NULL; it != NULL;
	     it = it->next, i++) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(it, "asset");

		if (cJSON_IsString(s) &&
		    snapshot_find(d->snap, s->valuestring) == (long)a)
			return i;
	}
	return 0;
}

enum {
	L_ID,
	L_TYPE,
	L_PROTOCOL,
	L_COLL,
	L_DEBT,
	L_BONUS,
	L_CF,
	L_FULL,
	L_BOOK,
	L_NKEYS
};

static int
decode_loan(struct dec *d, const cJSON *obj, struct lc_position *p)
{
	static const char *const keys[] = { "id", "type", "protocol",
		"collateral", "debt", "liquidation_bonus", "close_factor",
		"full_liquidation_below", "book", NULL };
	const cJSON *v[L_NKEYS + 1];
	struct lc_loan *l = &p->u.loan;
	struct lc_entry *coll, *debt;
	size_t nerr0 = d->ctx.nerr, bad;

	codec_members(&d->ctx, obj, keys, v, 0);
	p->type = LC_POS_LOAN;
	l->protocol = LC_AAVE_V3;
	l->bonus = NAN;
	l->close_factor = NAN;
	l->full_liq_below = 2000.0;
	if (v[L_PROTOCOL] != NULL) {
		const char *s = cJSON_IsString(v[L_PROTOCOL])
		    ? v[L_PROTOCOL]->valuestring
		    : "";

		if (strcmp(s, "aave-v3") == 0)
			l->protocol = LC_AAVE_V3;
		else if (strcmp(s, "morpho-blue") == 0)
			l->protocol = LC_MORPHO_BLUE;
		else if (strcmp(s, "compound-v3") == 0)
			l->protocol = LC_COMPOUND_V3;
		else
			codec_err(&d->ctx, "protocol",
			    "must be one of "
			    "aave-v3, morpho-blue, compound-v3");
	}
	coll = d->r->entries + d->nentries;
	l->coll = coll;
	l->ncoll = decode_entries(d, v[L_COLL], 1, coll);
	d->nentries += l->ncoll;
	debt = d->r->entries + d->nentries;
	l->debt = debt;
	l->ndebt = decode_entries(d, v[L_DEBT], 0, debt);
	d->nentries += l->ndebt;
	if (v[L_BONUS] != NULL)
		num_range(&d->ctx, "liquidation_bonus", v[L_BONUS], 0, 0, 1, 1,
		    &l->bonus);
	if (v[L_CF] != NULL)
		num_range(&d->ctx, "close_factor", v[L_CF], 0, 1, 1, 0,
		    &l->close_factor);
	if (v[L_FULL] != NULL)
		num_range(&d->ctx, "full_liquidation_below", v[L_FULL], 0, 0,
		    LC_MAX_VALUE, 0, &l->full_liq_below);
	if (d->ctx.nerr != nerr0)
		return -1;

	if (l->protocol == LC_COMPOUND_V3) {
		static const char *const ign[] = { "liquidation_bonus",
			"close_factor" };
		int k;

		for (k = 0; k < 2; k++) {
			size_t old;

			if (v[k == 0 ? L_BONUS : L_CF] == NULL)
				continue;
			old = codec_ptr_key(&d->ctx, ign[k]);
			codec_warnings_add(&d->r->warn, "ignored_field", NULL,
			    NULL, -1, d->ctx.ptr,
			    "%s is ignored by "
			    "compound-v3 (absorb)",
			    ign[k]);
			codec_ptr_pop(&d->ctx, old);
		}
		l->bonus = NAN;
		l->close_factor = NAN;
	}
	if (l->protocol != LC_AAVE_V3 && v[L_FULL] != NULL) {
		size_t old = codec_ptr_key(&d->ctx, "full_liquidation_below");

		codec_warnings_add(&d->r->warn, "ignored_field", NULL, NULL, -1,
		    d->ctx.ptr,
		    "full_liquidation_below applies to "
		    "aave-v3 only");
		codec_ptr_pop(&d->ctx, old);
	}
	/* merge same-asset entries, drop zero amounts (docs/model.md 3) */
	lc_entries_normalize(coll, &l->ncoll);
	lc_entries_normalize(debt, &l->ndebt);
	if (l->ncoll + l->ndebt == 0) {
		codec_err(&d->ctx, NULL,
		    "a loan needs at least one entry with "
		    "a positive amount");
		return -1;
	}
	if (l->protocol != LC_COMPOUND_V3 &&
	    lc_loan_check(l, d->r->price, &bad) != LC_OK && bad < l->ncoll) {
		size_t old, old2;

		old = codec_ptr_key(&d->ctx, "collateral");
		old2 = codec_ptr_idx(&d->ctx,
		    entry_origin(d, v[L_COLL], coll[bad].asset));
		codec_err(&d->ctx, "liquidation_threshold",
		    "liquidation_threshold * (1 + liquidation_bonus) must be "
		    "<= 1 (bonus in effect: %.15g)",
		    lc_loan_bonus(l, d->r->price));
		codec_ptr_pop(&d->ctx, old2);
		codec_ptr_pop(&d->ctx, old);
		return -1;
	}
	return 0;
}

static int
decode_tiers(struct dec *d, const cJSON *arr, struct lc_perp *pp)
{
	static const char *const keys[] = { "max_notional", "mmr",
		"maintenance_amount", NULL };
	const cJSON *it, *v[3];
	struct lc_tier *t = d->r->tiers + d->ntiers;
	size_t old, old2, i = 0, n, bad, nerr0 = d->ctx.nerr;

	old = codec_ptr_key(&d->ctx, "maintenance_tiers");
	if (!cJSON_IsArray(arr)) {
		codec_err(&d->ctx, NULL, "must be an array");
		goto out;
	}
	n = (size_t)cJSON_GetArraySize(arr);
	if (n == 0 || n > MAX_TIERS) {
		codec_err(&d->ctx, NULL, "must hold 1 to %d tiers", MAX_TIERS);
		goto out;
	}
	for (it = arr->child; it != NULL; it = it->next, i++) {
		old2 = codec_ptr_idx(&d->ctx, i);
		codec_members(&d->ctx, it, keys, v, 0);
		t[i].max_notional = INFINITY;
		t[i].mmr = 0;
		t[i].amount = 0;
		if (cJSON_IsObject(it)) {
			if (v[0] != NULL)
				num_range(&d->ctx, "max_notional", v[0], 0, 1,
				    LC_MAX_VALUE, 0, &t[i].max_notional);
			else if (it->next != NULL)
				codec_err(&d->ctx, "max_notional",
				    "is required "
				    "on every tier but the last");
			if (v[1] == NULL)
				codec_err(&d->ctx, "mmr", "is required");
			else
				num_range(&d->ctx, "mmr", v[1], 0, 0, 1, 1,
				    &t[i].mmr);
			if (v[2] != NULL)
				num_range(&d->ctx, "maintenance_amount", v[2], 0, 0,
				    LC_MAX_VALUE, 0, &t[i].amount);
		}
		codec_ptr_pop(&d->ctx, old2);
	}
	if (d->ctx.nerr != nerr0)
		goto out;
	if (lc_perp_check_tiers(t, n, &bad) != LC_OK) {
		old2 = codec_ptr_idx(&d->ctx, bad < n ? bad : 0);
		codec_err(&d->ctx, NULL,
		    "tiers must ascend by max_notional "
		    "and their maintenance amounts must be continuous "
		    "(amount_k = amount_k-1 + max_k-1 * (mmr_k - mmr_k-1))");
		codec_ptr_pop(&d->ctx, old2);
		goto out;
	}
	pp->tiers = t;
	pp->ntiers = n;
	d->ntiers += n;
out:
	codec_ptr_pop(&d->ctx, old);
	return d->ctx.nerr == nerr0 ? 0 : -1;
}

enum {
	P_ID,
	P_TYPE,
	P_ASSET,
	P_SIDE,
	P_SIZE,
	P_ENTRY,
	P_MARGIN,
	P_LEV,
	P_MMR,
	P_MMA,
	P_TIERS,
	P_BOOK,
	P_NKEYS
};

static int
decode_perp(struct dec *d, const cJSON *obj, struct lc_position *p)
{
	static const char *const keys[] = { "id", "type", "asset", "side",
		"size", "entry_price", "margin", "leverage",
		"maintenance_margin_rate", "maintenance_amount",
		"maintenance_tiers", "book", NULL };
	const cJSON *v[P_NKEYS + 1];
	struct lc_perp *pp = &p->u.perp;
	size_t nerr0 = d->ctx.nerr;
	double lev = 0;
	long a;

	codec_members(&d->ctx, obj, keys, v, 0);
	p->type = LC_POS_PERP;
	pp->mmr = 0.005;
	pp->mm_amount = 0;
	if (v[P_ASSET] == NULL) {
		codec_err(&d->ctx, "asset", "is required");
	} else if ((a = asset_ref(d, "asset", v[P_ASSET])) >= 0) {
		pp->asset = (uint32_t)a;
		if (!(d->r->vol[a] > 0))
			codec_err(&d->ctx, "asset",
			    "must be a volatile asset "
			    "(volatility > 0)");
	}
	if (v[P_SIDE] == NULL) {
		codec_err(&d->ctx, "side", "is required");
	} else if (cJSON_IsString(v[P_SIDE]) &&
	    strcmp(v[P_SIDE]->valuestring, "long") == 0) {
		pp->is_short = 0;
	} else if (cJSON_IsString(v[P_SIDE]) &&
	    strcmp(v[P_SIDE]->valuestring, "short") == 0) {
		pp->is_short = 1;
	} else {
		codec_err(&d->ctx, "side", "must be long or short");
	}
	if (v[P_SIZE] == NULL)
		codec_err(&d->ctx, "size", "is required");
	else
		num_range(&d->ctx, "size", v[P_SIZE], 0, 1, LC_MAX_VALUE, 0,
		    &pp->size);
	if (v[P_ENTRY] == NULL)
		codec_err(&d->ctx, "entry_price", "is required");
	else
		num_range(&d->ctx, "entry_price", v[P_ENTRY], 0, 1, LC_MAX_VALUE, 0,
		    &pp->entry);
	if (v[P_MARGIN] != NULL && v[P_LEV] != NULL)
		codec_err(&d->ctx, "leverage",
		    "give margin or leverage, not "
		    "both");
	else if (v[P_MARGIN] == NULL && v[P_LEV] == NULL)
		codec_err(&d->ctx, "margin", "margin or leverage is required");
	else if (v[P_MARGIN] != NULL)
		num_range(&d->ctx, "margin", v[P_MARGIN], 0, 1, LC_MAX_VALUE, 0,
		    &pp->margin);
	else
		num_range(&d->ctx, "leverage", v[P_LEV], 1, 0, LC_MAX_VALUE, 0, &lev);
	if (v[P_MMR] != NULL)
		num_range(&d->ctx, "maintenance_margin_rate", v[P_MMR], 0, 0, 1, 1,
		    &pp->mmr);
	if (v[P_MMA] != NULL)
		num_range(&d->ctx, "maintenance_amount", v[P_MMA], 0, 0, LC_MAX_VALUE,
		    0, &pp->mm_amount);
	if (v[P_TIERS] != NULL) {
		if (v[P_MMR] != NULL || v[P_MMA] != NULL)
			codec_err(&d->ctx, "maintenance_tiers",
			    "cannot be "
			    "combined with maintenance_margin_rate or "
			    "maintenance_amount");
		else
			decode_tiers(d, v[P_TIERS], pp);
	}
	if (d->ctx.nerr != nerr0)
		return -1;
	if (v[P_LEV] != NULL) {
		pp->margin = pp->size * pp->entry / lev;
		if (!(pp->margin > 0) || !isfinite(pp->margin)) {
			codec_err(&d->ctx, "leverage",
			    "gives no positive "
			    "finite margin");
			return -1;
		}
	}
	return 0;
}

/* `book` (8.1): the book holding this position's copy, into ids. */
static void
decode_book_member(struct dec *d, const cJSON *obj, size_t i)
{
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(obj, "book");
	size_t n;

	if (b == NULL)
		return;
	if (d->in_book) {
		codec_err(&d->ctx, "book",
		    "a position of a book cannot name a book");
		return;
	}
	if (!cJSON_IsString(b) || !codec_book_name_valid(b->valuestring)) {
		codec_err(&d->ctx, "book",
		    "must be a book name: 1 to 64 of a-z 0-9 . _ -");
		return;
	}
	n = strlen(b->valuestring) + 1;
	memcpy(d->r->ids + d->idlen, b->valuestring, n);
	d->r->book[i] = d->r->ids + d->idlen;
	d->idlen += n;
}

static void
decode_position(struct dec *d, const cJSON *obj, size_t i)
{
	struct lc_position *p = &d->r->pos[i];
	const cJSON *id, *type;
	size_t old;

	old = codec_ptr_idx(&d->ctx, i);
	if (!cJSON_IsObject(obj)) {
		codec_err(&d->ctx, NULL, "must be an object");
		goto out;
	}
	id = cJSON_GetObjectItemCaseSensitive(obj, "id");
	type = cJSON_GetObjectItemCaseSensitive(obj, "type");
	if (id == NULL) {
		codec_err(&d->ctx, "id", "is required");
	} else if (!cJSON_IsString(id) || !id_valid(id->valuestring)) {
		codec_err(&d->ctx, "id",
		    "must be a string of 1 to %d "
		    "printable characters",
		    MAX_ID_CHARS);
	} else {
		size_t n = strlen(id->valuestring) + 1;

		memcpy(d->r->ids + d->idlen, id->valuestring, n);
		p->id = d->r->ids + d->idlen;
		d->idlen += n;
	}
	decode_book_member(d, obj, i);
	if (type == NULL)
		codec_err(&d->ctx, "type", "is required");
	else if (cJSON_IsString(type) && strcmp(type->valuestring, "loan") == 0)
		decode_loan(d, obj, p);
	else if (cJSON_IsString(type) && strcmp(type->valuestring, "perp") == 0)
		decode_perp(d, obj, p);
	else
		codec_err(&d->ctx, "type", "must be loan or perp");
out:
	codec_ptr_pop(&d->ctx, old);
}

/* Upper bounds of the storage the positions need (one pass). */
static void
count_storage(const cJSON *positions, size_t max_entries, size_t *nentries,
    size_t *ntiers, size_t *idbytes)
{
	const cJSON *p, *m;

	*nentries = *ntiers = *idbytes = 0;
	for (p = positions->child; p != NULL; p = p->next) {
		for (m = p->child; m != NULL; m = m->next) {
			size_t n;

			if (m->string == NULL)
				continue;
			if (cJSON_IsString(m) && (strcmp(m->string, "id") == 0
			    || strcmp(m->string, "book") == 0))
				*idbytes += strlen(m->valuestring) + 1;
			if (!cJSON_IsArray(m))
				continue;
			n = (size_t)cJSON_GetArraySize(m);
			if (strcmp(m->string, "collateral") == 0 ||
			    strcmp(m->string, "debt") == 0)
				*nentries += n < max_entries ? n : max_entries;
			else if (strcmp(m->string, "maintenance_tiers") == 0)
				*ntiers += n < MAX_TIERS ? n : MAX_TIERS;
		}
	}
}

struct idref {
	const char *id;
	size_t idx;
};

static int
cmp_id(const void *a, const void *b)
{
	const struct idref *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c != 0)
		return c;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

static int
check_duplicate_ids(struct dec *d)
{
	struct idref *ids;
	size_t i, n = 0;

	ids = malloc(d->r->npos * sizeof(*ids) + 1);
	if (ids == NULL)
		return -1;
	for (i = 0; i < d->r->npos; i++) {
		if (d->r->pos[i].id == NULL)
			continue;
		ids[n].id = d->r->pos[i].id;
		ids[n].idx = i;
		n++;
	}
	qsort(ids, n, sizeof(*ids), cmp_id);
	for (i = 1; i < n; i++) {
		if (strcmp(ids[i].id, ids[i - 1].id) == 0) {
			size_t old = codec_ptr_key(&d->ctx, "positions");
			size_t old2 = codec_ptr_idx(&d->ctx, ids[i].idx);

			codec_err(&d->ctx, "id",
			    "duplicate id (first at "
			    "/positions/%zu)",
			    ids[i - 1].idx);
			codec_ptr_pop(&d->ctx, old2);
			codec_ptr_pop(&d->ctx, old);
		}
	}
	free(ids);
	return 0;
}

/*
 * The array `arr` of positions into d->r (whose price and vol are set):
 * storage sized in one pass, each position at /positions/i, then the
 * duplicate ids.  0, or -1 on no memory (validation errors in d->ctx).
 */
static int
decode_positions(struct dec *d, const cJSON *arr)
{
	struct score_request *r = d->r;
	size_t i, n, nent, ntier, idb, old;
	const cJSON *it;

	n = (size_t)cJSON_GetArraySize(arr);
	count_storage(arr, d->lim->max_entries, &nent, &ntier, &idb);
	r->pos = calloc(n + 1, sizeof(*r->pos));
	r->book = calloc(n + 1, sizeof(*r->book));
	r->entries = malloc((nent + 1) * sizeof(*r->entries));
	r->tiers = malloc((ntier + 1) * sizeof(*r->tiers));
	r->ids = malloc(idb + 1);
	if (r->pos == NULL || r->book == NULL || r->entries == NULL ||
	    r->tiers == NULL || r->ids == NULL)
		return -1;
	r->npos = n;
	old = codec_ptr_key(&d->ctx, "positions");
	for (i = 0, it = arr->child; it != NULL; it = it->next, i++)
		decode_position(d, it, i);
	codec_ptr_pop(&d->ctx, old);
	return check_duplicate_ids(d);
}

int
codec_positions(struct codec_ctx *c, const cJSON *arr,
    const struct snapshot *snap, struct score_request *r)
{
	struct codec_limits lim;
	struct dec d;
	int rc;

	codec_limits_default(&lim);
	memset(&d, 0, sizeof(d));
	d.ctx = *c;
	d.snap = snap;
	d.lim = &lim;
	d.r = r;
	d.in_book = 1;
	rc = decode_positions(&d, arr);
	*c = d.ctx;
	return rc;
}

/*
 * Which positions need Monte Carlo (docs/model.md 5.2) and the cost bound; the
 * stale_depth warnings of the volatile assets involved.
 */
static int
classify(struct dec *d)
{
	struct score_request *r = d->r;
	unsigned char *expo = NULL, *involved = NULL;
	size_t i, k, npairs = 0, nvol = 0, ncoupled = 0, na = r->nassets;
	int rc = -1;

	expo = calloc(2 * na + 1, 1);
	involved = calloc(na + 1, 1);
	if (expo == NULL || involved == NULL)
		goto out;
	for (i = 0; i < r->npos; i++) {
		const struct lc_position *p = &r->pos[i];
		uint32_t a;
		enum lc_dir dir;

		if (p->type == LC_POS_PERP) {
			a = p->u.perp.asset;
			dir = p->u.perp.is_short ? LC_UP : LC_DOWN;
		} else {
			const struct lc_loan *l = &p->u.loan;
			enum lc_loan_kind kind;

			kind = lc_loan_classify(l, r->vol, &a, &dir);
			if (kind == LC_LOAN_STABLE)
				continue;
			if (kind == LC_LOAN_COUPLED) {
				ncoupled++;
				for (k = 0; k < l->ncoll; k++)
					if (r->vol[l->coll[k].asset] > 0)
						involved[l->coll[k].asset] = 1;
				for (k = 0; k < l->ndebt; k++)
					if (r->vol[l->debt[k].asset] > 0)
						involved[l->debt[k].asset] = 1;
				continue;
			}
		}
		involved[a] = 1;
		if (!expo[2 * a + (size_t)dir]) {
			expo[2 * a + (size_t)dir] = 1;
			npairs++;
		}
	}
	for (i = 0; i < na; i++)
		nvol += involved[i];
	r->monte_carlo = ncoupled > 0 || npairs > 1;
	if (r->monte_carlo) {
		double cost = (double)r->params.paths *
		    (double)r->params.steps * (double)(nvol + ncoupled);

		if (cost > d->lim->max_cost)
			codec_err(&d->ctx, "paths",
			    "paths * steps * (volatile "
			    "assets + coupled loans) = %.17g exceeds the "
			    "limit %.17g",
			    cost, d->lim->max_cost);
	}
	if (d->lim->stale_depth_s > 0) {
		for (i = 0; i < na; i++) {
			const struct snapshot_asset *sa = &d->snap->assets[i];
			int side;

			if (!involved[i])
				continue;
			for (side = 0; side < 2; side++) {
				int64_t t = sa->side[side].oldest_epoch;

				if (t == INT64_MAX ||
				    (t != INT64_MIN &&
				        (double)(d->now - t) <=
				            d->lim->stale_depth_s))
					continue;
				codec_warnings_add(&r->warn, "stale_depth",
				    sa->symbol, side == LC_BID ? "bid" : "ask",
				    -1, NULL,
				    "the %s depth of %s is older than "
				    "%.0f s (still used)",
				    side == LC_BID ? "bid" : "ask", sa->symbol,
				    d->lim->stale_depth_s);
			}
		}
	}
	rc = 0;
out:
	free(expo);
	free(involved);
	return rc;
}

/*
 * The score options (docs/model.md 7) from their members, in this order:
 * horizon_days, tail_dof, cascade_threshold_bps, paths, steps, seed,
 * depth_scale, include_market_levels (NULL when absent), into pr, which
 * holds the defaults; errors are added to c.  The score and the book
 * simulation decode them here.
 */
void
codec_score_options(struct codec_ctx *c, const cJSON *const *o,
    const struct codec_limits *limits, struct lc_params *pr)
{
	double x;

	if (o[0] != NULL)
		num_range(c, "horizon_days", o[0], 0, 1, 365, 0,
		    &pr->horizon_days);
	if (o[1] != NULL && codec_number(c, "tail_dof", o[1], &x) == 0) {
		if (x == 0 || (x > 2 && x <= 1000))
			pr->tail_dof = x;
		else
			codec_err(c, "tail_dof",
			    "must be 0 (normal) or in (2, 1000]");
	}
	if (o[2] != NULL)
		num_range(c, "cascade_threshold_bps", o[2], 0, 1, 1e6, 0,
		    &pr->threshold_bps);
	if (o[3] != NULL && int_range(c, "paths", o[3], 1,
	    (double)limits->max_paths, &x) == 0)
		pr->paths = (uint32_t)x;
	if (o[4] != NULL && int_range(c, "steps", o[4], 1,
	    (double)limits->max_steps, &x) == 0)
		pr->steps = (uint32_t)x;
	if (o[5] != NULL && int_range(c, "seed", o[5], 0, MAX_SEED, &x) == 0)
		pr->seed = (uint64_t)x;
	if (o[6] != NULL)
		num_range(c, "depth_scale", o[6], 0, 1, 1e6, 0,
		    &pr->depth_scale);
	if (o[7] != NULL) {
		if (cJSON_IsBool(o[7]))
			pr->include_market_levels = cJSON_IsTrue(o[7]) ? 1 : 0;
		else
			codec_err(c, "include_market_levels",
			    "must be true or false");
	}
}

enum {
	T_POS,
	T_HORIZON,
	T_DOF,
	T_THRESH,
	T_PATHS,
	T_STEPS,
	T_SEED,
	T_SCALE,
	T_LEVELS,
	T_PRICES,
	T_VOL,
	T_NKEYS
};

/* The volatility of asset i before any override (codec_market_vol). */
static void
history_vol(struct score_request *r, const struct snapshot_asset *sa,
    size_t i)
{
	r->vol[i] = codec_market_vol(sa, r->params.horizon_days,
	    r->vol_mean_reversion_days, &r->vol_src[i]);
}

int
codec_decode_score(const char *body, size_t len, const struct snapshot *snap,
    const struct codec_limits *limits, struct score_request *out,
    struct problem *err)
{
	static const char *const keys[] = { "positions", "horizon_days",
		"tail_dof", "cascade_threshold_bps", "paths", "steps", "seed",
		"depth_scale", "include_market_levels", "prices", "volatility",
		NULL };
	struct codec_limits deflim;
	const cJSON *v[T_NKEYS + 1];
	struct lc_params *pr;
	struct rfc3339_time now;
	struct dec d;
	cJSON *root = NULL;
	size_t i, n = 0;
	int rc = -1;

	codec_request_release(out);
	if (snap == NULL) {
		problem_set(err, 503, "not-ready", "Service unavailable",
		    "no market snapshot is loaded yet");
		return -1;
	}
	if (limits == NULL) {
		codec_limits_default(&deflim);
		limits = &deflim;
	}
	memset(&d, 0, sizeof(d));
	codec_ctx_init(&d.ctx, err);
	d.snap = snap;
	d.lim = limits;
	d.r = out;
	rfc3339_now(&now, 0);
	d.now = now.sec;
	root = codec_parse(body, len, err);
	if (root == NULL)
		goto out;
	if (codec_members(&d.ctx, root, keys, v, 0) != 0 &&
	    !cJSON_IsObject(root))
		goto out;

	/* parameters */
	pr = &out->params;
	lc_params_default(pr);
	pr->threads = limits->threads;
	codec_score_options(&d.ctx, &v[T_HORIZON], limits, pr);

	/* effective prices and volatilities */
	out->nassets = snap->nassets;
	out->price = malloc(snap->nassets * sizeof(double));
	out->vol = malloc(snap->nassets * sizeof(double));
	out->vol_src = calloc(snap->nassets + 1, 1);
	if (out->price == NULL || out->vol == NULL || out->vol_src == NULL)
		goto oom;
	out->vol_half_life_days = limits->vol_half_life_days;
	out->vol_mean_reversion_days = limits->vol_mean_reversion_days;
	for (i = 0; i < snap->nassets; i++) {
		out->price[i] = snap->assets[i].price;
		history_vol(out, &snap->assets[i], i);
	}
	if (v[T_PRICES] != NULL)
		decode_overrides(&d, v[T_PRICES], 0);
	if (v[T_VOL] != NULL)
		decode_overrides(&d, v[T_VOL], 1);

	/* positions */
	if (v[T_POS] == NULL) {
		codec_err(&d.ctx, "positions", "is required");
		goto done;
	}
	if (!cJSON_IsArray(v[T_POS])) {
		codec_err(&d.ctx, "positions", "must be an array");
		goto done;
	}
	n = (size_t)cJSON_GetArraySize(v[T_POS]);
	if (n < 1 || n > limits->max_positions) {
		codec_err(&d.ctx, "positions", "must hold 1 to %zu positions",
		    limits->max_positions);
		goto done;
	}
	if (decode_positions(&d, v[T_POS]) != 0)
		goto oom;
	if (d.ctx.nerr == 0 && classify(&d) != 0)
		goto oom;
done:
	if (d.ctx.nerr != 0 || err->nerrors != 0)
		goto out;
	out->lc.params = out->params;
	out->lc.pos = out->pos;
	out->lc.npos = out->npos;
	out->lc.price = out->price;
	out->lc.vol = out->vol;
	rc = 0;
	goto out;
oom:
	problem_set(err, 500, "internal", "Internal server error",
	    "out of memory while decoding the request");
out:
	if (rc != 0 && err->status == 0)
		problem_set(err, 422, "validation", "Unprocessable request",
		    "the request breaks the contract");
	if (rc != 0 && err->status == 422 && err->detail == NULL)
		problem_set(err, 422, "validation", "Unprocessable request",
		    "%zu field(s) break the contract (see errors%s)",
		    d.ctx.nerr,
		    d.ctx.nerr > CODEC_MAX_ERRORS ? "; the first 100 are listed"
		                                  : "");
	if (rc != 0)
		codec_request_release(out);
	cJSON_Delete(root);
	return rc;
}

/* ---- POST /v1/score: encode ----------------------------------------- */

static const char *
vol_source_name(unsigned char src)
{
	return src == CODEC_VOL_REQUEST ? "request" :
	    src == CODEC_VOL_HISTORY ? "history" : "explicit";
}

/*
 * "calibration": the estimator of the history volatilities, H, M, and
 * the backtest's pooled O/E at the request's horizon and tail_dof when
 * codec_calibration.h has them (else null).
 */
static void
encode_calibration(struct json_buf *b, const struct score_request *req)
{
	const struct calibration_row *row = NULL;
	size_t i;

	for (i = 0; i < sizeof(calibration_rows) / sizeof(*calibration_rows);
	     i++) {
		const struct calibration_row *c = &calibration_rows[i];

		if (c->horizon_days == req->params.horizon_days &&
		    c->tail_dof == req->params.tail_dof &&
		    c->half_life_days == req->vol_half_life_days &&
		    c->mean_reversion_days == req->vol_mean_reversion_days)
			row = c;
	}
	json_buf_key(b, "calibration");
	json_buf_begin(b, '{');
	json_buf_key(b, "estimator");
	json_buf_str(b, "blend");
	json_buf_key(b, "half_life_days");
	json_buf_num(b, req->vol_half_life_days);
	json_buf_key(b, "mean_reversion_days");
	json_buf_num(b, req->vol_mean_reversion_days);
	json_buf_key(b, "backtest");
	if (row == NULL) {
		json_buf_null(b);
	} else {
		json_buf_begin(b, '{');
		json_buf_key(b, "source");
		json_buf_str(b, calibration_source);
		json_buf_key(b, "horizon_days");
		json_buf_num(b, row->horizon_days);
		json_buf_key(b, "n");
		json_buf_int(b, (int64_t)row->n);
		json_buf_key(b, "oe_down");
		json_buf_num(b, row->oe_down);
		json_buf_key(b, "oe_up");
		json_buf_num(b, row->oe_up);
		json_buf_end(b, '}');
	}
	json_buf_end(b, '}');
}

static const char *
dir_name(int dir)
{
	return dir == LC_UP ? "up" : "down";
}

static const char *
method_name(enum lc_method m)
{
	return m == LC_MONTE_CARLO ? "monte_carlo" : "exact";
}

static void
encode_position(struct json_buf *b, const struct score_request *req,
    const struct snapshot *snap, size_t i, const struct lc_pos_result *pr)
{
	const struct lc_position *p = &req->pos[i];
	size_t k;

	json_buf_begin(b, '{');
	json_buf_key(b, "id");
	json_buf_str(b, p->id != NULL ? p->id : "");
	json_buf_key(b, "type");
	json_buf_str(b, p->type == LC_POS_LOAN ? "loan" : "perp");
	if (p->type == LC_POS_LOAN) {
		json_buf_key(b, "health_factor");
		json_buf_num(b, pr->health_factor);
	}
	json_buf_key(b, "liquidatable");
	json_buf_bool(b, pr->liquidatable);
	if (p->type == LC_POS_LOAN) {
		json_buf_key(b, "common_move_pct");
		json_buf_num(b, pr->common_move_pct);
	}
	json_buf_key(b, "liquidation_prices");
	json_buf_begin(b, '[');
	for (k = 0; k < pr->nlp; k++) {
		const struct lc_liq_result *lp = &pr->lp[k];

		json_buf_begin(b, '{');
		json_buf_key(b, "asset");
		json_buf_str(b,
		    lp->asset < snap->nassets ? snap->assets[lp->asset].symbol
		                              : "");
		json_buf_key(b, "direction");
		json_buf_str(b, dir_name(lp->dir));
		json_buf_key(b, "price");
		json_buf_num(b, lp->price);
		json_buf_key(b, "effective_price");
		json_buf_num(b, lp->effective_price);
		json_buf_key(b, "distance_pct");
		json_buf_num(b, lp->distance_pct);
		json_buf_end(b, '}');
	}
	json_buf_end(b, ']');
	json_buf_key(b, "p_liquidation");
	json_buf_num(b, pr->p_liq);
	json_buf_key(b, "p_liquidation_static");
	json_buf_num(b, pr->p_liq_static);
	json_buf_key(b, "method");
	json_buf_str(b, method_name(pr->method));
	json_buf_key(b, "std_error");
	json_buf_num(b, pr->std_error);
	json_buf_key(b, "std_error_static");
	json_buf_num(b, pr->std_error_static);
	json_buf_key(b, "expected_slippage_bps");
	json_buf_num(b, pr->exp_slip_bps);
	json_buf_key(b, "expected_slippage_quote");
	json_buf_num(b, pr->exp_slip_quote);
	json_buf_key(b, "unwind_slippage_bps");
	json_buf_num(b, pr->unwind_bps);
	json_buf_key(b, "unwind_slippage_quote");
	json_buf_num(b, pr->unwind_quote);
	json_buf_end(b, '}');
}

void
codec_buf_score_options(struct json_buf *b, const struct lc_params *p)
{
	json_buf_key(b, "horizon_days");
	json_buf_num(b, p->horizon_days);
	json_buf_key(b, "tail_dof");
	json_buf_num(b, p->tail_dof);
	json_buf_key(b, "cascade_threshold_bps");
	json_buf_num(b, p->threshold_bps);
	json_buf_key(b, "paths");
	json_buf_int(b, p->paths);
	json_buf_key(b, "steps");
	json_buf_int(b, p->steps);
	json_buf_key(b, "seed");
	json_buf_int(b, (int64_t)p->seed);
	json_buf_key(b, "depth_scale");
	json_buf_num(b, p->depth_scale);
	json_buf_key(b, "include_market_levels");
	json_buf_bool(b, p->include_market_levels);
}

void
codec_buf_position(struct json_buf *b, const struct score_request *req,
    const struct snapshot *snap, size_t i, const struct lc_pos_result *pr)
{
	encode_position(b, req, snap, i, pr);
}

static void
encode_dir(struct json_buf *b, const char *name, const struct lc_dir_result *d)
{
	json_buf_key(b, name);
	json_buf_begin(b, '{');
	json_buf_key(b, "cascade_probability");
	json_buf_num(b, d->cascade_prob);
	json_buf_key(b, "cascade_trigger_price");
	json_buf_num(b, d->trigger_price);
	json_buf_key(b, "liquidation_qty_to_10pct");
	json_buf_num(b, d->qty_to_10pct);
	json_buf_key(b, "depth_2pct_qty");
	json_buf_num(b, d->depth_2pct);
	json_buf_key(b, "depth_exhausted");
	json_buf_bool(b, d->depth_exhausted);
	json_buf_end(b, '}');
}

/* The model's warnings in the answer's vocabulary. */
static void
model_warnings(struct codec_warnings *w, const struct lc_score_result *res,
    const struct snapshot *snap)
{
	size_t i;

	for (i = 0; i < res->nwarn; i++) {
		const struct lc_warning *x = &res->warn[i];
		const char *sym =
		    x->asset >= 0 && (size_t)x->asset < snap->nassets
		    ? snap->assets[x->asset].symbol
		    : NULL;
		const char *side = x->side == LC_BID ? "bid"
		    : x->side == LC_ASK              ? "ask"
		                                     : NULL;
		char ptr[64];

		switch (x->code) {
		case LC_W_STALE_LEVELS:
			codec_warnings_add(w, "stale_levels", sym, side,
			    x->count, NULL,
			    "%lld stored liquidation level(s) "
			    "of %s have already fired at the current price "
			    "and are ignored",
			    (long long)x->count, sym != NULL ? sym : "?");
			break;
		case LC_W_MISSING_DEPTH:
			codec_warnings_add(w, "missing_depth", sym, side, -1,
			    NULL,
			    "%s has no %s depth curve: its impact is "
			    "taken as 0",
			    sym != NULL ? sym : "?", side != NULL ? side : "");
			break;
		case LC_W_CORRELATION_SHRUNK:
			codec_warnings_add(w, "correlation_shrunk", NULL, NULL,
			    -1, NULL,
			    "the correlation matrix was not positive "
			    "semidefinite: its off-diagonal entries were "
			    "shrunk");
			break;
		case LC_W_IGNORED_FIELD:
			snprintf(ptr, sizeof(ptr), "/positions/%lld",
			    (long long)x->position);
			codec_warnings_add(w, "ignored_field", NULL, NULL, -1,
			    x->position >= 0 ? ptr : NULL,
			    "a field was "
			    "ignored");
			break;
		case LC_W_POOL_PRICE_MISMATCH:
			codec_warnings_add(w, "pool_price_mismatch", sym, side,
			    -1, NULL,
			    "pool price differs from the asset's "
			    "price by over 1%%");
			break;
		case LC_W_STALE_DEPTH:
			codec_warnings_add(w, "stale_depth", sym, side, -1,
			    NULL,
			    "depth is older than the configured age "
			    "(still used)");
			break;
		}
	}
}

int
codec_encode_score(const struct score_request *req,
    const struct lc_score_result *res, const struct snapshot *snap, char **out)
{
	struct codec_warnings mw;
	struct json_buf b;
	struct rfc3339_time t;
	char now[RFC3339_MAX];
	size_t i;

	*out = NULL;
	codec_warnings_init(&mw);
	json_buf_init(&b, 1024 + 768 * res->npos);
	rfc3339_now(&t, 0);
	rfc3339_format(now, sizeof(now), &t);
	json_buf_begin(&b, '{');
	json_buf_key(&b, "model");
	json_buf_str(&b, "cascade-1");
	json_buf_key(&b, "as_of");
	json_buf_str(&b, now);
	codec_buf_score_options(&b, &req->params);
	encode_calibration(&b, req);

	json_buf_key(&b, "positions");
	json_buf_begin(&b, '[');
	for (i = 0; i < res->npos && i < req->npos; i++)
		encode_position(&b, req, snap, i, &res->pos[i]);
	json_buf_end(&b, ']');

	json_buf_key(&b, "markets");
	json_buf_begin(&b, '[');
	for (i = 0; i < res->nmarkets; i++) {
		const struct lc_market_result *m = &res->markets[i];
		const struct snapshot_asset *sa;

		if (m->asset >= snap->nassets)
			continue;
		sa = &snap->assets[m->asset];
		json_buf_begin(&b, '{');
		json_buf_key(&b, "asset");
		json_buf_str(&b, sa->symbol);
		json_buf_key(&b, "price");
		json_buf_num(&b, req->price[m->asset]);
		json_buf_key(&b, "volatility");
		json_buf_num(&b, req->vol[m->asset]);
		json_buf_key(&b, "volatility_source");
		json_buf_str(&b, vol_source_name(req->vol_src[m->asset]));
		json_buf_key(&b, "depth_as_of");
		if (sa->depth_as_of[0] != '\0')
			json_buf_str(&b, sa->depth_as_of);
		else
			json_buf_null(&b);
		encode_dir(&b, "down", &m->dir[LC_DOWN]);
		encode_dir(&b, "up", &m->dir[LC_UP]);
		json_buf_end(&b, '}');
	}
	json_buf_end(&b, ']');

	json_buf_key(&b, "portfolio");
	json_buf_begin(&b, '{');
	json_buf_key(&b, "p_any_liquidation");
	json_buf_num(&b, res->portfolio.p_any);
	json_buf_key(&b, "p_any_liquidation_std_error");
	json_buf_num(&b, res->portfolio.p_any_se);
	json_buf_key(&b, "cascade_probability");
	json_buf_num(&b, res->portfolio.cascade_prob);
	json_buf_key(&b, "cascade_probability_std_error");
	json_buf_num(&b, res->portfolio.cascade_prob_se);
	json_buf_key(&b, "expected_slippage_quote");
	json_buf_num(&b, res->portfolio.exp_slip_quote);
	json_buf_key(&b, "method");
	json_buf_str(&b, method_name(res->portfolio.method));
	json_buf_end(&b, '}');

	/* the codec's warnings, then the model's */
	model_warnings(&mw, res, snap);
	json_buf_key(&b, "warnings");
	json_buf_begin(&b, '[');
	codec_buf_warning_items(&b, &req->warn);
	codec_buf_warning_items(&b, &mw);
	json_buf_end(&b, ']');
	json_buf_end(&b, '}');
	codec_warnings_release(&mw);
	*out = json_buf_take(&b);
	return *out != NULL ? 0 : -1;
}

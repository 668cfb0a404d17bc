/*
 * codec.c - what the codecs share (codec.h, codec_int.h): the warnings of
 * an answer, the decoding context (JSON pointer of the cursor, at most
 * CODEC_MAX_ERRORS errors kept), the strict parse of a body (valid UTF-8,
 * one JSON value, nothing after it), member lists, numbers and decimal
 * strings, as_of and source.
 *
 * Decoders walk the cJSON tree once, check every member against the
 * contract and keep going after an error so that one 422 lists them all,
 * each with its JSON pointer.  See codec.h for the readings of the contract (docs/model.md)
 * made here.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cascade/vol.h"
#include "codec_int.h"
#include "rfc3339.h"

_Static_assert(MD_TIME_MAX >= RFC3339_MAX,
    "an as_of buffer holds any formatted time");

/* ---- warnings ------------------------------------------------------- */

void
codec_warnings_init(struct codec_warnings *w)
{
	memset(w, 0, sizeof(*w));
}

void
codec_warnings_release(struct codec_warnings *w)
{
	size_t i;

	if (w == NULL)
		return;
	for (i = 0; i < w->n; i++) {
		free(w->w[i].detail);
		free(w->w[i].pointer);
	}
	free(w->w);
	codec_warnings_init(w);
}

void
codec_warnings_add(struct codec_warnings *w, const char *code,
    const char *asset, const char *side, int64_t count, const char *pointer,
    const char *fmt, ...)
{
	struct codec_warning *x;
	char tmp[512];
	va_list ap;

	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 4;

		x = realloc(w->w, ncap * sizeof(*x));
		if (x == NULL)
			return;
		w->w = x;
		w->cap = ncap;
	}
	x = &w->w[w->n];
	memset(x, 0, sizeof(*x));
	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	x->detail = strdup(tmp);
	if (pointer != NULL)
		x->pointer = strdup(pointer);
	if (x->detail == NULL || (pointer != NULL && x->pointer == NULL)) {
		free(x->detail);
		free(x->pointer);
		return;
	}
	x->code = code;
	if (asset != NULL)
		snprintf(x->asset, sizeof(x->asset), "%s", asset);
	x->side = side;
	x->count = count;
	w->n++;
}

/* ---- symbols -------------------------------------------------------- */

int
codec_symbol_valid(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] != '\0'; n++) {
		char c = s[n];

		if (n >= MD_SYMBOL_MAX ||
		    !((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		        c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return n > 0;
}

/* ---- warnings in an answer ------------------------------------------ */

void
codec_buf_warning_items(struct json_buf *b, const struct codec_warnings *w)
{
	size_t i;

	for (i = 0; w != NULL && i < w->n; i++) {
		const struct codec_warning *x = &w->w[i];

		json_buf_begin(b, '{');
		json_buf_key(b, "code");
		json_buf_str(b, x->code);
		json_buf_key(b, "detail");
		json_buf_str(b, x->detail);
		if (x->asset[0] != '\0') {
			json_buf_key(b, "asset");
			json_buf_str(b, x->asset);
		}
		if (x->side != NULL) {
			json_buf_key(b, "side");
			json_buf_str(b, x->side);
		}
		if (x->count >= 0) {
			json_buf_key(b, "count");
			json_buf_int(b, x->count);
		}
		if (x->pointer != NULL) {
			json_buf_key(b, "pointer");
			json_buf_str(b, x->pointer);
		}
		json_buf_end(b, '}');
	}
}

void
codec_buf_warnings(struct json_buf *b, const struct codec_warnings *w)
{
	json_buf_key(b, "warnings");
	json_buf_begin(b, '[');
	codec_buf_warning_items(b, w);
	json_buf_end(b, ']');
}

/* ---- decoding context ----------------------------------------------- */

void
codec_ctx_init(struct codec_ctx *c, struct problem *err)
{
	c->err = err;
	c->nerr = 0;
	c->plen = 0;
	c->ptr[0] = '\0';
}

static void
ptr_put(struct codec_ctx *c, char ch)
{
	if (c->plen + 1 < CODEC_PTR_MAX)
		c->ptr[c->plen++] = ch;
	c->ptr[c->plen] = '\0';
}

size_t
codec_ptr_key(struct codec_ctx *c, const char *key)
{
	size_t old = c->plen, n = 0;

	ptr_put(c, '/');
	/* RFC 6901 escapes; an absurdly long key is cut at 256 bytes */
	for (; *key != '\0' && n < 256; key++, n++) {
		if (*key == '~') {
			ptr_put(c, '~');
			ptr_put(c, '0');
		} else if (*key == '/') {
			ptr_put(c, '~');
			ptr_put(c, '1');
		} else {
			ptr_put(c, *key);
		}
	}
	return old;
}

size_t
codec_ptr_idx(struct codec_ctx *c, size_t i)
{
	size_t old = c->plen;
	char tmp[24];
	int n = 0;

	/* by hand: this runs for every array element decoded */
	do {
		tmp[n++] = (char)('0' + i % 10);
		i /= 10;
	} while (i > 0);
	ptr_put(c, '/');
	while (n > 0)
		ptr_put(c, tmp[--n]);
	return old;
}

void
codec_ptr_pop(struct codec_ctx *c, size_t old)
{
	c->plen = old;
	c->ptr[old] = '\0';
}

void
codec_err(struct codec_ctx *c, const char *member, const char *fmt, ...)
{
	char tmp[512];
	size_t old = c->plen;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	c->nerr++;
	if (c->nerr > CODEC_MAX_ERRORS) {
		/* keep the status right even when nothing more is stored */
		if (c->err->status == 0)
			problem_add(c->err, c->ptr, "%s", tmp);
		return;
	}
	if (member != NULL)
		codec_ptr_key(c, member);
	problem_add(c->err, c->ptr, "%s", tmp);
	codec_ptr_pop(c, old);
}

/* ---- parsing -------------------------------------------------------- */

/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t k, len;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 3 &&
		        (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		i += len;
	}
	return 1;
}

struct cJSON *
codec_parse(const char *body, size_t len, struct problem *err)
{
	const char *end = NULL;
	cJSON *root;
	size_t i;

	if (body == NULL || len == 0) {
		problem_set(err, 400, "malformed-json", "Malformed JSON",
		    "the request body is empty");
		return NULL;
	}
	if (!utf8_valid((const unsigned char *)body, len)) {
		problem_set(err, 400, "malformed-json", "Malformed JSON",
		    "the request body is not valid UTF-8");
		return NULL;
	}
	/* the parse end, not cJSON_GetErrorPtr(): that one is a global */
	root = cJSON_ParseWithLengthOpts(body, len, &end, 0);
	if (root == NULL) {
		size_t off = end != NULL && end >= body && end <= body + len
		    ? (size_t)(end - body)
		    : 0;

		problem_set(err, 400, "malformed-json", "Malformed JSON",
		    "the body is not valid JSON (near byte %zu; nesting is "
		    "limited to %d levels)",
		    off, CJSON_NESTING_LIMIT);
		return NULL;
	}
	for (i = end != NULL ? (size_t)(end - body) : len; i < len; i++) {
		if (body[i] != ' ' && body[i] != '\t' && body[i] != '\n' &&
		    body[i] != '\r') {
			cJSON_Delete(root);
			problem_set(err, 400, "malformed-json",
			    "Malformed JSON",
			    "unexpected data after the JSON "
			    "value at byte %zu",
			    i);
			return NULL;
		}
	}
	return root;
}

int
codec_members(struct codec_ctx *c, const struct cJSON *obj,
    const char *const *keys, const struct cJSON **vals, int allow_unknown)
{
	const cJSON *it;
	size_t k, nkeys = 0;
	int rc = 0;

	while (keys[nkeys] != NULL)
		vals[nkeys++] = NULL;
	if (!cJSON_IsObject(obj)) {
		codec_err(c, NULL, "must be an object");
		return -1;
	}
	for (it = obj->child; it != NULL; it = it->next) {
		const char *name = it->string != NULL ? it->string : "";

		for (k = 0; k < nkeys; k++)
			if (strcmp(name, keys[k]) == 0)
				break;
		if (k == nkeys) {
			if (!allow_unknown) {
				codec_err(c, name, "unknown field");
				rc = -1;
			}
			continue;
		}
		if (vals[k] != NULL) {
			codec_err(c, name, "duplicate member");
			rc = -1;
			continue;
		}
		vals[k] = it;
	}
	return rc;
}

int
codec_open(struct codec_ctx *c, const char *body, size_t len,
    const char *const *keys, const cJSON **vals, cJSON **root,
    struct problem *err)
{
	codec_ctx_init(c, err);
	*root = codec_parse(body, len, err);
	if (*root == NULL)
		return -1;
	if (codec_members(c, *root, keys, vals, 0) != 0 &&
	    !cJSON_IsObject(*root))
		return 1;
	return 0;
}

int
codec_batch_array(struct codec_ctx *c, const cJSON *item, const char *name,
    size_t max, size_t *n)
{
	if (item == NULL) {
		codec_err(c, name, "is required");
		return -1;
	}
	if (!cJSON_IsArray(item)) {
		codec_err(c, name, "must be an array");
		return -1;
	}
	*n = (size_t)cJSON_GetArraySize(item);
	if (*n > max) {
		codec_err(c, name, "at most %zu %s per write", max, name);
		return -1;
	}
	return 0;
}

/* v finite and |v| <= LC_MAX_VALUE: 0 and *out, else an error at member. */
static int
bounded_value(struct codec_ctx *c, const char *member, double v, double *out)
{
	if (!isfinite(v) || fabs(v) > LC_MAX_VALUE) {
		codec_err(c, member,
		    "must be finite and at most 1e15 in "
		    "magnitude");
		return -1;
	}
	*out = v;
	return 0;
}

int
codec_number(struct codec_ctx *c, const char *member, const struct cJSON *item,
    double *out)
{
	double v;

	if (!cJSON_IsNumber(item)) {
		codec_err(c, member, "must be a number");
		return -1;
	}
	v = item->valuedouble;
	return bounded_value(c, member, v, out);
}

/* A JSON-style decimal: -?digits[.digits][(e|E)[+-]digits]. */
static int
decimal_syntax(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

int
codec_qty_text(struct codec_ctx *c, const char *member,
    const struct cJSON *item, double *out)
{
	double v;

	if (cJSON_IsNumber(item))
		return codec_number(c, member, item, out);
	if (!cJSON_IsString(item) || !decimal_syntax(item->valuestring)) {
		codec_err(c, member, "must be a number or a decimal string");
		return -1;
	}
	errno = 0;
	v = strtod(item->valuestring, NULL);
	return bounded_value(c, member, v, out);
}

int
codec_as_of(struct codec_ctx *c, const struct cJSON *item, char *out)
{
	struct rfc3339_time t;

	if (item == NULL) {
		rfc3339_now(&t, 0);
	} else if (!cJSON_IsString(item) ||
	    rfc3339_parse(item->valuestring, strlen(item->valuestring), &t) !=
	        0) {
		codec_err(c, "as_of",
		    "must be an RFC 3339 date-time "
		    "(e.g. 2026-11-26T00:00:00Z)");
		return -1;
	}
	rfc3339_format(out, MD_TIME_MAX, &t);
	return 0;
}

int
codec_source(struct codec_ctx *c, const struct cJSON *item, char *out)
{
	out[0] = '\0';
	if (item == NULL)
		return 0;
	if (!cJSON_IsString(item) ||
	    strlen(item->valuestring) > MD_SOURCE_MAX) {
		codec_err(c, "source",
		    "must be a string of at most %d "
		    "characters",
		    MD_SOURCE_MAX);
		return -1;
	}
	snprintf(out, MD_SOURCE_MAX + 1, "%s", item->valuestring);
	return 0;
}

double
codec_market_vol(const struct snapshot_asset *sa, double horizon_days,
    double mean_reversion_days, unsigned char *src)
{
	if (sa->vol_source != MD_VOL_HISTORY || !sa->hist.ok) {
		*src = CODEC_VOL_EXPLICIT;
		return sa->vol;
	}
	*src = CODEC_VOL_HISTORY;
	return lc_vol_blend(sa->hist.ewma_var, sa->hist.long_run_var,
	    horizon_days, mean_reversion_days);
}

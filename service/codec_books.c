/*
 * codec_books.c - the bodies of the book writes (docs/model.md section
 * 8): {"positions": [...], "as_of", "source"}.  The positions are decoded
 * and validated by the /v1/score position code (codec_positions in
 * codec_score.c), so a book position and a request position obey the same
 * contract, with the same pointers (/positions/3/collateral/0/asset);
 * each position's JSON text is kept for the store.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec_int.h"
#include "json.h"

int
codec_book_name_valid(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return 0;
	for (; s[n] != '\0'; n++)
		if (!((s[n] >= 'a' && s[n] <= 'z') ||
		        (s[n] >= '0' && s[n] <= '9') || s[n] == '.' ||
		        s[n] == '_' || s[n] == '-'))
			return 0;
	return n >= 1 && n <= 64;
}

void
codec_book_put_init(struct codec_book_put *b)
{
	memset(b, 0, sizeof(*b));
	codec_request_init(&b->pos);
}

void
codec_book_put_release(struct codec_book_put *b)
{
	if (b == NULL)
		return;
	codec_request_release(&b->pos);
	free(b->text);
	free(b->text_off);
	free(b->text_end);
	codec_book_put_init(b);
}

/* The snapshot's prices and volatilities into r. */
static int
market_prices(const struct snapshot *snap, struct score_request *r)
{
	size_t i;

	r->nassets = snap->nassets;
	r->price = malloc((snap->nassets + 1) * sizeof(double));
	r->vol = malloc((snap->nassets + 1) * sizeof(double));
	if (r->price == NULL || r->vol == NULL)
		return -1;
	for (i = 0; i < snap->nassets; i++) {
		r->price[i] = snap->assets[i].price;
		r->vol[i] = snap->assets[i].vol;
	}
	return 0;
}

/*
 * A validated value as JSON text, numbers in their shortest round-trip
 * form (json.h): cJSON's own printer keeps 15 digits when they parse back
 * within an epsilon, which would store a position that is not the one
 * validated.
 */
static void
print_exact(struct json_buf *b, const cJSON *v)
{
	const cJSON *c;

	if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
		json_buf_begin(b, cJSON_IsObject(v) ? '{' : '[');
		for (c = v->child; c != NULL; c = c->next) {
			if (cJSON_IsObject(v))
				json_buf_key(b, c->string);
			print_exact(b, c);
		}
		json_buf_end(b, cJSON_IsObject(v) ? '}' : ']');
	} else if (cJSON_IsString(v)) {
		json_buf_str(b, v->valuestring);
	} else if (cJSON_IsNumber(v)) {
		json_buf_num(b, v->valuedouble);
	} else if (cJSON_IsBool(v)) {
		json_buf_bool(b, cJSON_IsTrue(v));
	} else {
		json_buf_null(b);
	}
}

/* Each position's JSON text, back to back. */
static int
keep_texts(const cJSON *arr, struct codec_book_put *out)
{
	const cJSON *it;
	struct json_buf b;
	size_t i = 0;

	out->text_off = malloc((out->pos.npos + 1) * sizeof(size_t));
	out->text_end = malloc((out->pos.npos + 1) * sizeof(size_t));
	if (out->text_off == NULL || out->text_end == NULL)
		return -1;
	json_buf_init(&b, 256 * out->pos.npos + 16);
	for (it = arr->child; it != NULL; it = it->next, i++) {
		/* top-level values in a row, comma-separated by the emitter */
		out->text_off[i] = b.len + (i > 0 ? 1 : 0);
		print_exact(&b, it);
		out->text_end[i] = b.len;
	}
	out->text = json_buf_take(&b);
	return out->text != NULL || i == 0 ? 0 : -1;
}

static int
finish(int rc, struct codec_ctx *c, struct problem *err)
{
	if (rc == 0)
		return 0;
	if (err->status == 0 || (err->status == 422 && err->detail == NULL))
		problem_set(err, 422, "validation", "Unprocessable request",
		    "%zu field(s) break the contract (see errors)", c->nerr);
	return -1;
}

int
codec_decode_book_put(const char *body, size_t len,
    const struct snapshot *snap, size_t max_positions,
    struct codec_book_put *out, struct problem *err)
{
	static const char *const keys[] = { "positions", "as_of", "source",
		NULL };
	const cJSON *v[4];
	struct codec_ctx c;
	cJSON *root;
	size_t n;
	int rc = -1;

	codec_book_put_release(out);
	if (codec_open(&c, body, len, keys, v, &root, err) != 0) {
		if (root == NULL)
			return -1;
		goto out;
	}
	codec_as_of(&c, v[1], out->as_of);
	codec_source(&c, v[2], out->source);
	if (codec_batch_array(&c, v[0], "positions", max_positions, &n) != 0)
		goto out;
	if (market_prices(snap, &out->pos) != 0 ||
	    codec_positions(&c, v[0], snap, &out->pos) != 0)
		goto oom;
	if (c.nerr != 0 || err->nerrors != 0)
		goto out;
	if (keep_texts(v[0], out) != 0)
		goto oom;
	rc = 0;
	goto out;
oom:
	problem_set(err, 500, "internal", "Internal server error",
	    "out of memory while decoding the book");
out:
	cJSON_Delete(root);
	rc = finish(rc, &c, err);
	if (rc != 0)
		codec_book_put_release(out);
	return rc;
}

int
codec_decode_positions(const char *json, size_t len,
    const struct snapshot *snap, struct score_request *out,
    struct problem *err)
{
	struct codec_ctx c;
	cJSON *root;
	int rc = -1;

	codec_request_release(out);
	codec_ctx_init(&c, err);
	root = codec_parse(json, len, err);
	if (root == NULL)
		return -1;
	if (!cJSON_IsArray(root)) {
		codec_err(&c, NULL, "must be an array of positions");
		goto out;
	}
	if (market_prices(snap, out) != 0 ||
	    codec_positions(&c, root, snap, out) != 0) {
		problem_set(err, 500, "internal", "Internal server error",
		    "out of memory while decoding positions");
		goto out;
	}
	rc = c.nerr == 0 && err->nerrors == 0 ? 0 : -1;
out:
	cJSON_Delete(root);
	rc = finish(rc, &c, err);
	if (rc != 0)
		codec_request_release(out);
	return rc;
}

/*
 * fuzz_common.c - the fixed market and the entry points of the fuzz
 * targets (fuzz_common.h).  Compiled into every libFuzzer target by
 * tests/fuzz.mk and included by tests/service/test_fuzz_regress.c, so the
 * kept inputs replay through exactly this code under `make test`.
 *
 * The fixed market (built once, never freed: the fuzzer process ends
 * without tearing it down):
 *   ETH   2000, vol 0.8, venue "main" bid+ask, 3 sell and 1 buy level
 *   BTC   50000, vol 0.6, venue "main" bid+ask, 1 sell level
 *   STETH 1990, vol 0.7, bid only (missing_depth on the ask side)
 *   USDC  1, vol 0 (stable)
 *   correlations ETH/BTC 0.8, ETH/STETH 0.95; implicit USD appended by
 *   the snapshot.
 * Writes are applied to a shallow copy of it (the written asset's arrays
 * swapped), a snapshot is built from the copy and fixed requests are
 * scored against it, so fuzzed market data reaches snapshot_build(), the
 * cascade and the model as it would after a stored write.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"
#include "app.h"
#include "cascade/cascade.h"
#include "cascade/score.h"
#include "codec.h"
#include "config.h"
#include "fuzz_common.h"
#include "log.h"
#include "marketdata.h"
#include "problem.h"
#include "seed.h"
#include "snapshot.h"
#include "store.h"

#define FZ_AS_OF "2026-11-26T00:00:00Z"

static struct market_data fz_md;
static struct snapshot *fz_snap;
static int fz_ready;

/* ---- the fixed market ------------------------------------------------ */

static int
add_curve(struct md_asset *a, const char *venue, enum lc_side side,
    const double *bps, const double *qty, size_t n)
{
	struct md_curve *c = &a->curves[a->ncurves];
	size_t bad;

	memset(c, 0, sizeof(*c));
	snprintf(c->venue, sizeof(c->venue), "%s", venue);
	snprintf(c->as_of, sizeof(c->as_of), "%s", FZ_AS_OF);
	c->side = (int)side;
	lc_curve_init(&c->curve);
	if (lc_curve_from_points(&c->curve, side, bps, qty, n, &bad) != LC_OK)
		return -1;
	a->ncurves++;
	return 0;
}

static void
add_level(struct md_asset *a, double price, double qty, enum lc_dir dir)
{
	struct md_level *l = &a->levels[a->nlevels];

	memset(l, 0, sizeof(*l));
	l->price = price;
	l->qty = qty;
	l->side = (int)dir;
	l->seq = (int64_t)a->nlevels + 1;
	snprintf(l->as_of, sizeof(l->as_of), "%s", FZ_AS_OF);
	snprintf(l->source, sizeof(l->source), "fuzz");
	a->nlevels++;
}

static struct md_asset *
add_asset(struct market_data *md, const char *sym, double price, double vol)
{
	struct md_asset *a = &md->assets[md->nassets++];

	memset(a, 0, sizeof(*a));
	snprintf(a->symbol, sizeof(a->symbol), "%s", sym);
	snprintf(a->updated_at, sizeof(a->updated_at), "%s", FZ_AS_OF);
	a->price = price;
	a->vol = vol;
	a->curves = calloc(2, sizeof(*a->curves));
	a->levels = calloc(4, sizeof(*a->levels));
	if (a->curves == NULL || a->levels == NULL)
		return NULL;
	return a;
}

static int
fixture_build(void)
{
	static const double eth_bps[] = { 100, 500, 2000 };
	static const double eth_qty[] = { 5000, 20000, 60000 };
	static const double btc_bps[] = { 50, 200, 1000 };
	static const double btc_qty[] = { 100, 400, 1500 };
	struct market_data *md = &fz_md;
	struct md_asset *a;

	market_data_init(md);
	md->assets = calloc(4, sizeof(*md->assets));
	md->corr = calloc(2, sizeof(*md->corr));
	if (md->assets == NULL || md->corr == NULL)
		return -1;
	if ((a = add_asset(md, "ETH", 2000, 0.8)) == NULL ||
	    add_curve(a, "main", LC_BID, eth_bps, eth_qty, 3) != 0 ||
	    add_curve(a, "main", LC_ASK, eth_bps, eth_qty, 3) != 0)
		return -1;
	add_level(a, 1900, 3000, LC_DOWN);
	add_level(a, 1850, 5000, LC_DOWN);
	add_level(a, 1750, 8000, LC_DOWN);
	add_level(a, 2100, 2000, LC_UP);
	if ((a = add_asset(md, "BTC", 50000, 0.6)) == NULL ||
	    add_curve(a, "main", LC_BID, btc_bps, btc_qty, 3) != 0 ||
	    add_curve(a, "main", LC_ASK, btc_bps, btc_qty, 3) != 0)
		return -1;
	add_level(a, 48000, 50, LC_DOWN);
	if ((a = add_asset(md, "STETH", 1990, 0.7)) == NULL ||
	    add_curve(a, "lido", LC_BID, eth_bps, eth_qty, 3) != 0)
		return -1;
	if (add_asset(md, "USDC", 1, 0) == NULL)
		return -1;
	snprintf(md->corr[0].a, sizeof(md->corr[0].a), "BTC");
	snprintf(md->corr[0].b, sizeof(md->corr[0].b), "ETH");
	md->corr[0].rho = 0.8;
	snprintf(md->corr[1].a, sizeof(md->corr[1].a), "ETH");
	snprintf(md->corr[1].b, sizeof(md->corr[1].b), "STETH");
	md->corr[1].rho = 0.95;
	md->ncorr = 2;
	return snapshot_build(md, 0.0, &fz_snap);
}

static void
fixture(void)
{
	if (fz_ready)
		return;
	if (fixture_build() != 0) {
		fprintf(stderr, "fuzz: cannot build the fixed market\n");
		abort();
	}
	fz_ready = 1;
}

static void
limits(struct codec_limits *l)
{
	codec_limits_default(l);
	l->max_positions = FZ_MAX_POSITIONS;
	l->max_paths = FZ_MAX_PATHS;
	l->max_steps = FZ_MAX_STEPS;
	l->max_entries = 16;
	l->max_cost = FZ_MAX_COST;
	l->stale_depth_s = 0;
	l->threads = 1;
}

/* ---- invariants ------------------------------------------------------ */

static int
fz_fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz invariant broken: %s%s%s\n", what,
	    detail != NULL ? ": " : "", detail != NULL ? detail : "");
	return -1;
}

/* A rejected body: 400 or 422 with a renderable problem. */
static int
check_rejected(const struct problem *err, const char *what)
{
	char *txt;
	cJSON *j;

	if (err->status != 400 && err->status != 422)
		return fz_fail(what, "rejected without a 400/422 problem");
	if (err->status == 422 && err->nerrors == 0)
		return fz_fail(what, "422 without a pointer");
	txt = problem_render(err, NULL);
	if (txt == NULL)
		return fz_fail(what, "problem_render failed");
	j = cJSON_Parse(txt);
	free(txt);
	if (j == NULL)
		return fz_fail(what, "problem is not JSON");
	cJSON_Delete(j);
	return 0;
}

/* An answer: non-NULL, valid JSON. */
static int
check_json(char *txt, const char *what)
{
	cJSON *j;

	if (txt == NULL)
		return fz_fail(what, "encoder failed");
	j = cJSON_Parse(txt);
	if (j == NULL) {
		fprintf(stderr, "answer: %.400s\n", txt);
		free(txt);
		return fz_fail(what, "answer is not JSON");
	}
	cJSON_Delete(j);
	free(txt);
	return 0;
}

/*
 * Decode, score and encode one score body against snap.  Returns 0 when
 * the invariants hold.
 */
static int
score_body(const char *body, size_t len, const struct snapshot *snap,
    int must_accept)
{
	struct codec_limits lim;
	struct score_request req;
	struct lc_score_result res;
	struct problem err;
	enum lc_status st;
	char *out = NULL;
	int rc = 0;

	limits(&lim);
	codec_request_init(&req);
	lc_score_result_init(&res);
	problem_init(&err);
	if (codec_decode_score(body, len, snap, &lim, &req, &err) != 0) {
		if (must_accept) {
			fprintf(stderr, "detail: %s (%s)\n",
			    err.detail ? err.detail : "",
			    err.nerrors ? err.errors[0].pointer : "");
			rc = fz_fail("score", "a fixed request was rejected");
		} else {
			rc = check_rejected(&err, "score");
		}
		goto out;
	}
	st = lc_score(&snap->market, &req.lc, &res);
	if (st != LC_OK) {
		rc = fz_fail("score: the model rejected a validated request",
		    lc_status_str(st));
		goto out;
	}
	if (codec_encode_score(&req, &res, snap, &out) != 0) {
		rc = fz_fail("score", "codec_encode_score failed");
		goto out;
	}
	rc = check_json(out, "score");
out:
	problem_release(&err);
	lc_score_result_release(&res);
	codec_request_release(&req);
	return rc;
}

/* Fixed requests scored against a snapshot built from fuzzed data. */
static const char fixed_exact[] =
    "{\"positions\": ["
    "{\"id\": \"l\", \"type\": \"loan\", \"collateral\": [{\"asset\": "
    "\"ETH\", \"amount\": 10, \"liquidation_threshold\": 0.8}], \"debt\": "
    "[{\"asset\": \"USDC\", \"amount\": 14000}]},"
    "{\"id\": \"p\", \"type\": \"perp\", \"asset\": \"ETH\", \"side\": "
    "\"long\", \"size\": 5, \"entry_price\": 2000, \"leverage\": 10}]}";
static const char fixed_up[] =
    "{\"positions\": ["
    "{\"id\": \"s\", \"type\": \"perp\", \"asset\": \"ETH\", \"side\": "
    "\"short\", \"size\": 5, \"entry_price\": 2000, \"leverage\": 10}],"
    "\"include_market_levels\": true}";
static const char fixed_mc[] =
    "{\"positions\": ["
    "{\"id\": \"c\", \"type\": \"loan\", \"collateral\": ["
    "{\"asset\": \"ETH\", \"amount\": 10, \"liquidation_threshold\": 0.8},"
    "{\"asset\": \"BTC\", \"amount\": 1, \"liquidation_threshold\": 0.7},"
    "{\"asset\": \"STETH\", \"amount\": 3, \"liquidation_threshold\": "
    "0.75}], \"debt\": [{\"asset\": \"USDC\", \"amount\": 40000}]},"
    "{\"id\": \"b\", \"type\": \"perp\", \"asset\": \"BTC\", \"side\": "
    "\"short\", \"size\": 1, \"entry_price\": 50000, \"leverage\": 5}],"
    "\"paths\": 200, \"steps\": 4, \"seed\": 7}";

/*
 * must_accept: the write left prices and volatilities alone, so the fixed
 * requests stay valid (an asset write may make ETH stable, and a perp on
 * a stable asset is 422).
 */
static int
score_fixed(const struct snapshot *snap, int mc, int must_accept)
{
	if (score_body(fixed_exact, sizeof(fixed_exact) - 1, snap,
	    must_accept) != 0 ||
	    score_body(fixed_up, sizeof(fixed_up) - 1, snap, must_accept) != 0)
		return -1;
	if (mc && score_body(fixed_mc, sizeof(fixed_mc) - 1, snap,
	    must_accept) != 0)
		return -1;
	return 0;
}

/* The cascade curve of GET /v1/markets/{asset}/cascade, both sides. */
static int
cascade_points(const struct snapshot *snap, long i)
{
	const struct snapshot_asset *sa = &snap->assets[i];
	const struct lc_asset_market *am = &snap->lc_assets[i];
	struct lc_cascade c;
	struct lc_cascade_point pt;
	double tp, s;
	size_t kstar, k;
	int d, rc = 0;

	lc_cascade_init(&c);
	for (d = 0; d < 2; d++) {
		const struct lc_curve *curve =
		    &am->curve[d == LC_DOWN ? LC_BID : LC_ASK];

		if (lc_cascade_build(&c, (enum lc_dir)d, curve, 1.0,
		    sa->levels[d].price, sa->levels[d].qty,
		    sa->levels[d].n) != LC_OK) {
			rc = fz_fail("cascade", "lc_cascade_build failed");
			break;
		}
		(void)lc_cascade_trigger(&c, 100.0, &tp, &kstar);
		for (k = 0; k <= 20; k++) {
			s = (d == LC_DOWN ? -0.05 : 0.05) * (double)k;
			lc_cascade_point(&c, sa->price, s, &pt);
		}
	}
	lc_cascade_release(&c);
	return rc;
}

/*
 * A shallow copy of the fixed market with the arrays of one asset
 * replaced; only the copy's own arrays are freed (copy_release).
 */
struct md_copy {
	struct market_data md;
	struct md_curve *curves;	/* owned: the asset's new curve list */
};

static int
copy_init(struct md_copy *c)
{
	memset(c, 0, sizeof(*c));
	c->md = fz_md;
	c->md.assets = malloc(fz_md.nassets * sizeof(*fz_md.assets));
	if (c->md.assets == NULL)
		return -1;
	memcpy(c->md.assets, fz_md.assets,
	    fz_md.nassets * sizeof(*fz_md.assets));
	return 0;
}

static void
copy_release(struct md_copy *c)
{
	free(c->md.assets);
	free(c->curves);
}

/* Build a snapshot of c, score the fixed requests, walk the cascades. */
static int
exercise(struct md_copy *c, int mc, int must_accept)
{
	struct snapshot *s = NULL;
	char *txt = NULL;
	long i;
	int rc;

	if (snapshot_build(&c->md, 0.0, &s) != 0)
		return fz_fail("snapshot_build", "failed on accepted data");
	rc = score_fixed(s, mc, must_accept);
	for (i = 0; rc == 0 && i < (long)s->nassets; i++)
		if (!s->assets[i].implicit)
			rc = cascade_points(s, i);
	if (rc == 0 && codec_encode_markets(s, -1, &txt) != 0)
		rc = fz_fail("markets", "codec_encode_markets failed");
	if (rc == 0)
		rc = check_json(txt, "markets");
	snapshot_unref(s);
	return rc;
}

/* ---- entry points ---------------------------------------------------- */

int
fz_score(const uint8_t *data, size_t len)
{
	fixture();
	return score_body((const char *)data, len, fz_snap, 0);
}

int
fz_depth(const uint8_t *data, size_t len)
{
	struct codec_depth d;
	struct problem err;
	struct md_curve out[2];
	struct md_copy c;
	struct md_asset *eth;
	char *txt = NULL;
	size_t n, k, j;
	int rc = 0;

	fixture();
	codec_depth_init(&d);
	problem_init(&err);
	memset(&c, 0, sizeof(c));
	if (codec_decode_depth((const char *)data, len, &fz_md.assets[0], &d,
	    &err) != 0) {
		rc = check_rejected(&err, "depth");
		goto out;
	}
	if (codec_encode_depth(&d, "ETH", "fz", &txt) != 0) {
		rc = fz_fail("depth", "codec_encode_depth failed");
		goto out;
	}
	if ((rc = check_json(txt, "depth")) != 0)
		goto out;
	n = codec_depth_curves(&d, "fz", out);
	if (n == 0 || n > 2)
		goto bad;
	for (k = 0; k < n; k++)
		if (out[k].curve.n == 0)
			goto bad;
	/* ETH with its "main" curves plus the written venue "fz" */
	if (copy_init(&c) != 0)
		goto out;
	eth = &c.md.assets[0];
	c.curves = calloc(eth->ncurves + n, sizeof(*c.curves));
	if (c.curves == NULL)
		goto out;
	for (j = 0; j < eth->ncurves; j++)
		c.curves[j] = eth->curves[j];
	for (k = 0; k < n; k++)
		c.curves[j++] = out[k];
	eth->curves = c.curves;
	eth->ncurves = j;
	rc = exercise(&c, 0, 1);
	goto out;
bad:
	rc = fz_fail("depth", "accepted write without a non-empty curve");
out:
	copy_release(&c);
	problem_release(&err);
	codec_depth_release(&d);
	return rc;
}

int
fz_levels(const uint8_t *data, size_t len)
{
	struct codec_levels l;
	struct problem err;
	struct md_copy c;
	struct md_asset *eth;
	struct md_level *lv = NULL;
	char *txt = NULL;
	size_t k, base;
	int rc = 0, append;

	fixture();
	codec_levels_init(&l);
	problem_init(&err);
	memset(&c, 0, sizeof(c));
	if (codec_decode_levels((const char *)data, len, &fz_md.assets[0], &l,
	    &err) != 0) {
		rc = check_rejected(&err, "levels");
		goto out;
	}
	if (codec_encode_levels(&l, "ETH", &txt) != 0) {
		rc = fz_fail("levels", "codec_encode_levels failed");
		goto out;
	}
	if ((rc = check_json(txt, "levels")) != 0)
		goto out;
	for (k = 0; k < l.n; k++) {
		const struct md_level *v = &l.levels[k];

		if (!isfinite(v->price) || !isfinite(v->qty) ||
		    v->price <= 0 || v->qty <= 0 ||
		    (v->side != LC_DOWN && v->side != LC_UP)) {
			rc = fz_fail("levels", "accepted an invalid level");
			goto out;
		}
	}
	/* PUT replaces, POST appends: pick by the length's parity */
	if (copy_init(&c) != 0)
		goto out;
	eth = &c.md.assets[0];
	append = (len & 1) != 0;
	base = append ? eth->nlevels : 0;
	lv = calloc(base + l.n + 1, sizeof(*lv));
	if (lv == NULL)
		goto out;
	if (base > 0)
		memcpy(lv, eth->levels, base * sizeof(*lv));
	for (k = 0; k < l.n; k++) {
		lv[base + k] = l.levels[k];
		lv[base + k].seq = (int64_t)(base + k + 100);
	}
	eth->levels = lv;
	eth->nlevels = base + l.n;
	rc = exercise(&c, 0, 1);
out:
	free(lv);
	copy_release(&c);
	problem_release(&err);
	codec_levels_release(&l);
	return rc;
}

int
fz_writes(const uint8_t *data, size_t len)
{
	struct codec_asset_put put;
	struct codec_corr corr;
	struct problem err;
	struct md_copy c;
	int rc = 0, k;

	fixture();
	codec_corr_init(&corr);
	memset(&c, 0, sizeof(c));
	/* PUT /v1/markets/ETH (update), then PUT /v1/markets/NEW (create) */
	for (k = 0; k < 2 && rc == 0; k++) {
		problem_init(&err);
		if (codec_decode_asset((const char *)data, len,
		    k == 0 ? &fz_md.assets[0] : NULL, &put, &err) != 0) {
			rc = check_rejected(&err, "asset");
		} else if (!isfinite(put.price) || put.price <= 0 ||
		    !isfinite(put.vol) || put.vol < 0) {
			rc = fz_fail("asset", "accepted an invalid price/vol");
		} else if (k == 0 && copy_init(&c) == 0) {
			c.md.assets[0].price = put.price;
			c.md.assets[0].vol = put.vol;
			rc = exercise(&c, 1, 0);
			copy_release(&c);
			memset(&c, 0, sizeof(c));
		}
		problem_release(&err);
	}
	if (rc != 0)
		goto out;
	/* PUT /v1/correlations: the pairs become the whole set */
	problem_init(&err);
	if (codec_decode_correlations((const char *)data, len, fz_snap, &corr,
	    &err) != 0) {
		rc = check_rejected(&err, "correlations");
		problem_release(&err);
		goto out;
	}
	problem_release(&err);
	if (copy_init(&c) != 0)
		goto out;
	c.md.corr = corr.pairs;
	c.md.ncorr = corr.n;
	rc = exercise(&c, 1, 1);
	copy_release(&c);
out:
	codec_corr_release(&corr);
	return rc;
}


/* ---- the write API over an in-memory store (fz_api) ------------------ */

/* The fixed market again, in the seed format of seed.h. */
static const char api_seed[] =
    "{\"markets\": ["
    "{\"asset\": \"ETH\", \"body\": {\"price\": 2000, \"volatility\": 0.8}},"
    "{\"asset\": \"BTC\", \"body\": {\"price\": 50000, \"volatility\": 0.6}},"
    "{\"asset\": \"STETH\", \"body\": {\"price\": 1990, "
    "\"volatility\": 0.7}},"
    "{\"asset\": \"USDC\", \"body\": {\"price\": 1, \"volatility\": 0}}],"
    "\"depth\": ["
    "{\"asset\": \"ETH\", \"venue\": \"main\", \"body\": {\"side\": \"bid\", "
    "\"as_of\": \"" FZ_AS_OF "\", \"points\": [[100, 5000], [500, 20000], "
    "[2000, 60000]]}},"
    "{\"asset\": \"ETH\", \"venue\": \"main\", \"body\": {\"side\": \"ask\", "
    "\"as_of\": \"" FZ_AS_OF "\", \"points\": [[100, 5000], [500, 20000], "
    "[2000, 60000]]}},"
    "{\"asset\": \"BTC\", \"venue\": \"main\", \"body\": {\"side\": \"bid\", "
    "\"as_of\": \"" FZ_AS_OF "\", \"points\": [[50, 100], [200, 400], "
    "[1000, 1500]]}}],"
    "\"liquidations\": ["
    "{\"asset\": \"ETH\", \"body\": {\"levels\": ["
    "{\"price\": 1900, \"qty\": 3000, \"side\": \"sell\"},"
    "{\"price\": 1750, \"qty\": 8000, \"side\": \"sell\"},"
    "{\"price\": 2100, \"qty\": 2000, \"side\": \"buy\"}], "
    "\"as_of\": \"" FZ_AS_OF "\", \"source\": \"fuzz\"}}],"
    "\"correlations\": {\"pairs\": [[\"BTC\", \"ETH\", 0.8], "
    "[\"ETH\", \"STETH\", 0.95]]}}";

/* A write answer: 2xx with a JSON body, or a client error. */
static int
check_answer(const struct api_answer *a, char op)
{
	char what[32];
	char *txt;
	cJSON *j;

	snprintf(what, sizeof(what), "api op '%c'", op);
	if (a->status != 200 && a->status != 201 && a->status != 400 &&
	    a->status != 404 && a->status != 422) {
		fprintf(stderr, "status %d: %s\n", a->status,
		    a->err.detail != NULL ? a->err.detail : "");
		return fz_fail(what, "unexpected status");
	}
	txt = api_answer_text(a);
	if (txt == NULL)
		return fz_fail(what, "api_answer_text failed");
	j = cJSON_Parse(txt);
	free(txt);
	if (j == NULL)
		return fz_fail(what, "answer is not JSON");
	cJSON_Delete(j);
	return 0;
}

/* A NUL-terminated copy of at most 80 bytes (a path segment). */
static void
segment(char *out, const char *p, size_t n)
{
	if (n > 80)
		n = 80;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* One operation on app: op character, then the body. */
static int
api_op(struct app *app, const char *p, size_t n)
{
	struct api_answer a;
	struct snapshot *snap;
	char seg[81];
	char op = n > 0 ? p[0] : '?';
	int rc = 0;

	if (n == 0)
		return 0;
	p++;
	n--;
	api_answer_init(&a);
	switch (op) {
	case 'a':
		api_put_asset(app, "ETH", p, n, &a);
		break;
	case 'n':
		api_put_asset(app, "NEW", p, n, &a);
		break;
	case 'd':
		api_put_depth(app, "ETH", "fz", p, n, &a);
		break;
	case 'b':
		api_put_depth(app, "BTC", "main", p, n, &a);
		break;
	case 'v':
		segment(seg, p, n);
		api_delete_venue(app, "ETH", seg, &a);
		break;
	case 'l':
	case 'L':
		api_put_levels(app, "ETH", p, n, op == 'L', &a);
		break;
	case 'c':
	case 'C':
		api_put_correlations(app, p, n, op == 'c', &a);
		break;
	case 'x':
		segment(seg, p, n);
		api_delete_asset(app, seg, &a);
		break;
	case 's':
		snap = snapshot_cell_get(app->cell);
		rc = score_body(p, n, snap, 0);
		snapshot_unref(snap);
		api_answer_release(&a);
		return rc;
	default:
		api_answer_release(&a);
		return 0;
	}
	rc = check_answer(&a, op);
	api_answer_release(&a);
	if (rc == 0) {
		/* whatever the write did, the published snapshot scores */
		snap = snapshot_cell_get(app->cell);
		rc = score_fixed(snap, 1, 0);
		snapshot_unref(snap);
	}
	return rc;
}

int
fz_api(const uint8_t *data, size_t len)
{
	static const char sep[] = "\n--\n";
	const char *p = (const char *)data, *end = p + len, *q;
	struct config cfg;
	struct app app;
	struct seed_stats ss;
	char e[256], *err = NULL;
	int rc = -1, nops = 0;

	fixture();
	log_set_level(LOG_LVL_ERROR);
	config_init(&cfg);
	memset(&app, 0, sizeof(app));
	app.cfg = &cfg;
	app.store = store_open(":memory:", &err);
	if (app.store == NULL) {
		fz_fail("api: store_open", err);
		goto out;
	}
	if (seed_apply(app.store, api_seed, sizeof(api_seed) - 1, &ss, e,
	    sizeof(e)) != 0) {
		fz_fail("api: seed_apply", e);
		goto out;
	}
	if (api_app_init(&app) != 0) {
		fz_fail("api: api_app_init", NULL);
		goto out;
	}
	/* operations separated by "\n--\n", at most 8 */
	rc = 0;
	while (rc == 0 && p < end && nops++ < 8) {
		q = p;
		while (q + sizeof(sep) - 1 <= end &&
		    memcmp(q, sep, sizeof(sep) - 1) != 0)
			q++;
		if (q + sizeof(sep) - 1 > end)
			q = end;
		rc = api_op(&app, p, (size_t)(q - p));
		p = q == end ? end : q + sizeof(sep) - 1;
	}
out:
	api_app_release(&app);
	store_close(app.store);
	free(err);
	config_release(&cfg);
	return rc;
}

fz_entry_fn
fz_entry(const char *name)
{
	if (strcmp(name, "score") == 0)
		return fz_score;
	if (strcmp(name, "depth") == 0)
		return fz_depth;
	if (strcmp(name, "levels") == 0)
		return fz_levels;
	if (strcmp(name, "writes") == 0)
		return fz_writes;
	if (strcmp(name, "api") == 0)
		return fz_api;
	return NULL;
}

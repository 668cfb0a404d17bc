/*
 * test_golden.c - the worked examples of tests/golden/ (copies of the
 * independent implementation's answers, kept unchanged) run end to end
 * through the codec and the model without HTTP or SQLite.
 *
 * For each file: its "writes" are decoded by the market decoders into an
 * in-memory struct market_data, a snapshot is built, the "request" is
 * decoded, scored with lc_score() and encoded, and the encoded answer is
 * parsed back and compared with every field present in "expected": numbers
 * to 1e-9 relative, slippage in bps to 1e-6 bps absolute (as each file's
 * "compare" says), null only with null, booleans and strings exactly.
 * Example 07 checks the quotes converter (points and max deviation).
 *
 * GOLDEN_DIR overrides the folder (default tests/golden, relative to the
 * repository root where `make unit` runs the suites).
 */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "cascade/score.h"
#include "codec.h"
#include "marketdata.h"
#include "snapshot.h"

#define MAX_FILES 64

static char files[MAX_FILES][512];
static int nfiles;

static const char *
golden_dir(void)
{
	const char *d = getenv("GOLDEN_DIR");

	return d != NULL ? d : "tests/golden";
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
list_files(void)
{
	DIR *dir = opendir(golden_dir());
	struct dirent *e;

	nfiles = 0;
	if (dir == NULL)
		return;
	while ((e = readdir(dir)) != NULL && nfiles < MAX_FILES) {
		size_t n = strlen(e->d_name);

		if (n > 5 && strcmp(e->d_name + n - 5, ".json") == 0)
			snprintf(files[nfiles++], sizeof(files[0]), "%s/%s",
			    golden_dir(), e->d_name);
	}
	closedir(dir);
	qsort(files, (size_t)nfiles, sizeof(files[0]), cmp_str);
}

static cJSON *
load_json(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;
	cJSON *j;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	j = cJSON_ParseWithLength(buf, (size_t)n);
	free(buf);
	ck_assert_msg(j != NULL, "cannot parse %s", path);
	return j;
}

/* ---- an in-memory market_data, edited the way the store would ------- */

static struct md_asset *
md_asset_get(struct market_data *md, const char *sym, int create)
{
	long i = market_data_find(md, sym);
	struct md_asset *a;

	if (i >= 0)
		return &md->assets[i];
	if (!create)
		return NULL;
	a = realloc(md->assets, (md->nassets + 1) * sizeof(*a));
	ck_assert_ptr_nonnull(a);
	md->assets = a;
	a = &md->assets[md->nassets++];
	memset(a, 0, sizeof(*a));
	ck_assert_uint_le(strlen(sym), MD_SYMBOL_MAX);
	memcpy(a->symbol, sym, strlen(sym) + 1);
	snprintf(a->updated_at, sizeof(a->updated_at), "2026-11-26T00:00:00Z");
	return a;
}

static void
md_put_curve(struct md_asset *a, const struct md_curve *c)
{
	size_t k;
	struct md_curve *x;

	for (k = 0; k < a->ncurves; k++) {
		if (strcmp(a->curves[k].venue, c->venue) == 0 &&
		    a->curves[k].side == c->side) {
			lc_curve_release(&a->curves[k].curve);
			break;
		}
	}
	if (k == a->ncurves) {
		x = realloc(a->curves, (a->ncurves + 1) * sizeof(*x));
		ck_assert_ptr_nonnull(x);
		a->curves = x;
		a->ncurves++;
	}
	x = &a->curves[k];
	memcpy(x->venue, c->venue, sizeof(x->venue));
	memcpy(x->as_of, c->as_of, sizeof(x->as_of));
	x->side = c->side;
	lc_curve_init(&x->curve);
	ck_assert_int_eq(lc_curve_copy(&x->curve, &c->curve), LC_OK);
}

static int64_t seq_next = 1;

static void
md_put_levels(struct md_asset *a, const struct codec_levels *l, int replace)
{
	size_t k, base = replace ? 0 : a->nlevels;
	struct md_level *x;

	x = realloc(a->levels, (base + l->n + 1) * sizeof(*x));
	ck_assert_ptr_nonnull(x);
	a->levels = x;
	for (k = 0; k < l->n; k++) {
		x[base + k] = l->levels[k];
		x[base + k].seq = seq_next++;
	}
	a->nlevels = base + l->n;
}

static void
md_put_corr(struct market_data *md, const struct codec_corr *c)
{
	free(md->corr);
	md->corr = calloc(c->n + 1, sizeof(*md->corr));
	ck_assert_ptr_nonnull(md->corr);
	memcpy(md->corr, c->pairs, c->n * sizeof(*md->corr));
	md->ncorr = c->n;
}

/* Apply one write {"method", "path", "body"} to md. */
static void
apply_write(struct market_data *md, const cJSON *w)
{
	const char *method =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w, "method"));
	const char *path =
	    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(w, "path"));
	const cJSON *body = cJSON_GetObjectItemCaseSensitive(w, "body");
	char sym[64] = "", rest[128] = "", *text;
	struct problem err;
	struct snapshot *snap = NULL;
	struct md_asset *a;

	ck_assert_ptr_nonnull(method);
	ck_assert_ptr_nonnull(path);
	text = cJSON_PrintUnformatted(body);
	ck_assert_ptr_nonnull(text);
	problem_init(&err);
	if (strcmp(path, "/v1/correlations") == 0) {
		struct codec_corr c;

		codec_corr_init(&c);
		ck_assert_int_eq(snapshot_build(md, 0.0, &snap), 0);
		ck_assert_msg(codec_decode_correlations(
				  text, strlen(text), snap, &c, &err) == 0,
		    "correlations: %s", err.detail != NULL ? err.detail : "");
		md_put_corr(md, &c);
		codec_corr_release(&c);
		snapshot_unref(snap);
		goto out;
	}
	ck_assert_msg(sscanf(path, "/v1/markets/%16[^/]%127s", sym, rest) >= 1,
	    "path %s", path);
	a = md_asset_get(md, sym, 0);
	if (rest[0] == '\0') {
		struct codec_asset_put put;

		ck_assert_msg(
		    codec_decode_asset(text, strlen(text), a, &put, &err) == 0,
		    "asset %s: %s", sym, err.detail != NULL ? err.detail : "");
		a = md_asset_get(md, sym, 1);
		a->price = put.price;
		a->vol = put.vol;
	} else if (strncmp(rest, "/depth/", 7) == 0) {
		struct codec_depth d;
		struct md_curve c[2];
		size_t n, k;

		ck_assert_ptr_nonnull(a);
		codec_depth_init(&d);
		ck_assert_msg(
		    codec_decode_depth(text, strlen(text), a, &d, &err) == 0,
		    "depth %s: %s (%s)", path,
		    err.detail != NULL ? err.detail : "",
		    err.nerrors ? err.errors[0].detail : "");
		n = codec_depth_curves(&d, rest + 7, c);
		ck_assert_uint_ge(n, 1);
		for (k = 0; k < n; k++)
			md_put_curve(a, &c[k]);
		codec_depth_release(&d);
	} else if (strcmp(rest, "/liquidations") == 0) {
		struct codec_levels l;

		ck_assert_ptr_nonnull(a);
		codec_levels_init(&l);
		ck_assert_msg(
		    codec_decode_levels(text, strlen(text), a, &l, &err) == 0,
		    "levels: %s", err.detail != NULL ? err.detail : "");
		md_put_levels(a, &l, strcmp(method, "PUT") == 0);
		codec_levels_release(&l);
	} else {
		ck_abort_msg("unknown write path %s", path);
	}
out:
	problem_release(&err);
	free(text);
}

/* ---- comparison ----------------------------------------------------- */

static int
is_slippage_bps(const char *key)
{
	return key != NULL && strstr(key, "slippage_bps") != NULL;
}

static void
compare(const cJSON *exp, const cJSON *got, const char *path, const char *key,
    int *nfail)
{
	char sub[512];

	if (cJSON_IsNull(exp)) {
		if (!cJSON_IsNull(got)) {
			fprintf(stderr, "  %s: expected null, got %s\n", path,
			    got == NULL ? "(missing)" : "a value");
			(*nfail)++;
		}
		return;
	}
	if (got == NULL) {
		fprintf(stderr, "  %s: missing\n", path);
		(*nfail)++;
		return;
	}
	if (cJSON_IsNumber(exp)) {
		double e = exp->valuedouble, g, diff;
		int ok;

		if (!cJSON_IsNumber(got)) {
			fprintf(stderr, "  %s: expected %.17g, got %s\n", path,
			    e, cJSON_IsNull(got) ? "null" : "a non-number");
			(*nfail)++;
			return;
		}
		g = got->valuedouble;
		diff = fabs(g - e);
		if (is_slippage_bps(key))
			ok = diff <= 1e-6;
		else
			ok = diff <= 1e-9 * fmax(fabs(e), fabs(g)) ||
			    diff <= 1e-300;
		if (!ok) {
			fprintf(stderr,
			    "  %s: expected %.17g, got %.17g "
			    "(rel %.3g)\n",
			    path, e, g, diff / fmax(fabs(e), 1e-300));
			(*nfail)++;
		}
		return;
	}
	if (cJSON_IsBool(exp)) {
		if (!cJSON_IsBool(got) ||
		    cJSON_IsTrue(exp) != cJSON_IsTrue(got)) {
			fprintf(stderr, "  %s: boolean differs\n", path);
			(*nfail)++;
		}
		return;
	}
	if (cJSON_IsString(exp)) {
		if (!cJSON_IsString(got) ||
		    strcmp(exp->valuestring, got->valuestring) != 0) {
			fprintf(stderr, "  %s: expected \"%s\", got %s\n", path,
			    exp->valuestring,
			    cJSON_IsString(got) ? got->valuestring
						: "a non-string");
			(*nfail)++;
		}
		return;
	}
	if (cJSON_IsArray(exp)) {
		const cJSON *e, *g;
		int i = 0;

		if (!cJSON_IsArray(got) ||
		    cJSON_GetArraySize(got) != cJSON_GetArraySize(exp)) {
			fprintf(stderr,
			    "  %s: expected an array of %d, got "
			    "%d\n",
			    path, cJSON_GetArraySize(exp),
			    cJSON_IsArray(got) ? cJSON_GetArraySize(got) : -1);
			(*nfail)++;
			return;
		}
		for (e = exp->child, g = got->child; e != NULL;
		     e = e->next, g = g->next, i++) {
			snprintf(sub, sizeof(sub), "%s/%d", path, i);
			compare(e, g, sub, key, nfail);
		}
		return;
	}
	if (cJSON_IsObject(exp)) {
		const cJSON *e;

		if (!cJSON_IsObject(got)) {
			fprintf(stderr, "  %s: expected an object\n", path);
			(*nfail)++;
			return;
		}
		for (e = exp->child; e != NULL; e = e->next) {
			snprintf(sub, sizeof(sub), "%s/%s", path, e->string);
			compare(e,
			    cJSON_GetObjectItemCaseSensitive(got, e->string),
			    sub, e->string, nfail);
		}
	}
}

/* ---- the cases ------------------------------------------------------ */

static void
run_quotes_case(const cJSON *root, const char *file)
{
	const cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "write");
	const cJSON *ep =
	    cJSON_GetObjectItemCaseSensitive(root, "expected_points");
	const cJSON *ed = cJSON_GetObjectItemCaseSensitive(
	    root, "expected_max_deviation_bps");
	const cJSON *e;
	struct md_asset asset;
	struct codec_depth d;
	struct problem err;
	char *text;
	size_t k = 0;
	int nfail = 0;

	memset(&asset, 0, sizeof(asset));
	strcpy(asset.symbol, "ETH");
	asset.price = 3000.0;
	text =
	    cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(w, "body"));
	ck_assert_ptr_nonnull(text);
	codec_depth_init(&d);
	problem_init(&err);
	ck_assert_msg(
	    codec_decode_depth(text, strlen(text), &asset, &d, &err) == 0,
	    "%s: quotes rejected: %s", file,
	    err.nerrors ? err.errors[0].detail : "");
	ck_assert_int_eq(d.has[LC_BID], 1);
	ck_assert_uint_eq(d.curve[LC_BID].n, (size_t)cJSON_GetArraySize(ep));
	for (e = ep->child; e != NULL; e = e->next, k++) {
		double bps = e->child->valuedouble;
		double qty = e->child->next->valuedouble;

		if (fabs(d.curve[LC_BID].bps[k] - bps) > 1e-9 * fabs(bps) ||
		    fabs(d.curve[LC_BID].qty[k] - qty) > 1e-9 * fabs(qty)) {
			fprintf(stderr,
			    "  %s: point %zu expected [%.17g, "
			    "%.17g], got [%.17g, %.17g]\n",
			    file, k, bps, qty, d.curve[LC_BID].bps[k],
			    d.curve[LC_BID].qty[k]);
			nfail++;
		}
	}
	/* the expected deviation is rounding noise: compare absolutely */
	if (!(fabs(d.max_deviation_bps - ed->valuedouble) <= 1e-9)) {
		fprintf(stderr,
		    "  %s: max_deviation_bps expected %.17g, got "
		    "%.17g\n",
		    file, ed->valuedouble, d.max_deviation_bps);
		nfail++;
	}
	codec_depth_release(&d);
	problem_release(&err);
	free(text);
	ck_assert_msg(nfail == 0, "%s: %d field(s) differ", file, nfail);
}

START_TEST(test_golden_file)
{
	const char *file = files[_i];
	cJSON *root = load_json(file), *got;
	const cJSON *w, *req, *exp;
	struct market_data md;
	struct snapshot *snap = NULL;
	struct score_request sr;
	struct lc_score_result res;
	struct problem err;
	enum lc_status st;
	char *text, *answer = NULL;
	size_t i;
	int nfail = 0;

	fprintf(stderr, "golden %s\n", file);
	if (cJSON_GetObjectItemCaseSensitive(root, "expected_points") != NULL) {
		run_quotes_case(root, file);
		cJSON_Delete(root);
		return;
	}
	market_data_init(&md);
	seq_next = 1;
	cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(root, "writes"))
	    apply_write(&md, w);
	ck_assert_int_eq(snapshot_build(&md, 0.0, &snap), 0);

	req = cJSON_GetObjectItemCaseSensitive(root, "request");
	exp = cJSON_GetObjectItemCaseSensitive(root, "expected");
	ck_assert_ptr_nonnull(req);
	ck_assert_ptr_nonnull(exp);
	text = cJSON_PrintUnformatted(req);
	ck_assert_ptr_nonnull(text);
	codec_request_init(&sr);
	problem_init(&err);
	if (codec_decode_score(text, strlen(text), snap, NULL, &sr, &err) !=
	    0) {
		for (i = 0; i < err.nerrors; i++)
			fprintf(stderr, "  %s: %s\n", err.errors[i].pointer,
			    err.errors[i].detail);
		ck_abort_msg("%s: request rejected (%d)", file, err.status);
	}
	lc_score_result_init(&res);
	st = lc_score(&snap->market, &sr.lc, &res);
	ck_assert_msg(st == LC_OK, "%s: lc_score: %s", file, lc_status_str(st));
	ck_assert_int_eq(codec_encode_score(&sr, &res, snap, &answer), 0);
	got = cJSON_Parse(answer);
	ck_assert_msg(got != NULL, "%s: own answer does not parse", file);
	if (getenv("GOLDEN_VERBOSE") != NULL)
		fprintf(stderr, "%s\n", answer);
	compare(exp, got, "", NULL, &nfail);
	/* shape checks the files do not list */
	ck_assert_str_eq(cJSON_GetStringValue(
			     cJSON_GetObjectItemCaseSensitive(got, "model")),
	    "cascade-1");
	ck_assert(
	    cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(got, "warnings")));

	cJSON_Delete(got);
	free(answer);
	free(text);
	lc_score_result_release(&res);
	codec_request_release(&sr);
	problem_release(&err);
	snapshot_unref(snap);
	market_data_release(&md);
	cJSON_Delete(root);
	ck_assert_msg(
	    nfail == 0, "%s: %d field(s) differ (see stderr)", file, nfail);
}
END_TEST

START_TEST(test_golden_present)
{
	ck_assert_msg(nfiles >= 7,
	    "expected the 7 golden files in %s, found "
	    "%d",
	    golden_dir(), nfiles);
}
END_TEST

static Suite *
golden_suite(void)
{
	Suite *s = suite_create("golden");
	TCase *tc = tcase_create("examples");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_golden_present);
	if (nfiles > 0)
		tcase_add_loop_test(tc, test_golden_file, 0, nfiles);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	list_files();
	sr = srunner_create(golden_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

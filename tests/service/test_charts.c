/*
 * test_charts.c - the chart routes of docs/model.md section 10
 * (api_charts.c, handlers_charts.c) and the page at / (handlers_page.c).
 *
 * In process, on a fixed market written through the API (ETH at 2000
 * with a bid curve and levels from two sources, one of them stale; USDC;
 * EMPTY with neither levels nor depth):
 * - every route's SVG is well-formed (xmllint --noout), renders with
 *   rsvg-convert to a PNG of the requested size, and equals its golden
 *   tests/golden/charts/<name>.svg (UPDATE_GOLDEN=1 rewrites them);
 * - the numbers drawn are the JSON routes' numbers: the cascade trigger
 *   price of GET .../cascade and the static and effective liquidation
 *   prices of POST /v1/score appear in the SVG's <desc>;
 * - the liquidation map bins by hand: within 10% of 2000 only the two
 *   aave sell levels (1900, 1850) count, the stale 2100 never, and the
 *   compound level at 1500 only from a range of 25% on;
 * - bad parameters are 422 problems at /query/<name>, a picture of two
 *   positions 422 at /positions, an unknown asset 404;
 * - the ETag is the bytes' hash: If-None-Match gives 304 without a body;
 *   the same data gives the same bytes, another size other bytes;
 * - an asset without levels or depth renders its reason;
 * - out of memory at any allocation of each route: 503 (or the answer
 *   without a dropped warning), nothing leaked.
 * Over HTTP against $CASCADED_BIN: Content-Type image/svg+xml, ETag and
 * 304, content negotiation (Accept on GET .../cascade and POST
 * /v1/score), and the page and its assets with their CSP.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"
#include "config.h"
#include "failalloc.h"
#include "store.h"
#include "testlib.h"

#define T_MS 10000
#define AS_OF "2023-03-27T13:00:00Z"

static const char eth[] = "{\"price\": 2000, \"volatility\": 0.6, "
    "\"as_of\": \"" AS_OF "\"}";
static const char usdc[] = "{\"price\": 1, \"volatility\": 0, "
    "\"as_of\": \"" AS_OF "\"}";
static const char empty[] = "{\"price\": 5, \"volatility\": 0.8, "
    "\"as_of\": \"" AS_OF "\"}";
static const char depth[] = "{\"side\": \"bid\", \"as_of\": \"" AS_OF "\", "
    "\"points\": [[100, 50], [500, 300], [2000, 1500]]}";
static const char lv_aave[] = "{\"as_of\": \"" AS_OF "\", \"source\": "
    "\"aave\", \"levels\": [{\"price\": 1900, \"qty\": 80, \"side\": "
    "\"sell\"}, {\"price\": 1850, \"qty\": 40, \"side\": \"sell\"}, "
    "{\"price\": 2100, \"qty\": 3, \"side\": \"sell\"}, {\"price\": 2300, "
    "\"qty\": 7, \"side\": \"buy\"}]}";
static const char lv_comp[] = "{\"as_of\": \"" AS_OF "\", \"source\": "
    "\"compound\", \"levels\": [{\"price\": 1500, \"qty\": 20, \"side\": "
    "\"sell\"}]}";
static const char loan[] = "{\"positions\": [{\"id\": \"alice\", \"type\": "
    "\"loan\", \"collateral\": [{\"asset\": \"ETH\", \"amount\": 10, "
    "\"liquidation_threshold\": 0.8}], \"debt\": [{\"asset\": \"USDC\", "
    "\"amount\": 12000}]}], \"horizon_days\": 7}";
static const char two[] = "{\"positions\": [{\"id\": \"a\", \"type\": "
    "\"perp\", \"asset\": \"ETH\", \"side\": \"long\", \"size\": 1, "
    "\"entry_price\": 2000, \"leverage\": 10}, {\"id\": \"b\", \"type\": "
    "\"perp\", \"asset\": \"ETH\", \"side\": \"short\", \"size\": 1, "
    "\"entry_price\": 2000, \"leverage\": 10}]}";

/*
 * A small book on ETH: loans liquidated at 1937.5, 1750, 1583.3 and
 * 1888.9 (thin: a cascade past it leaves bad debt) and a long perp.
 */
static const char desk[] = "{\"as_of\": \"2023-03-27T12:00:00Z\", "
    "\"source\": \"test\", \"positions\": ["
    "{\"id\": \"a\", \"type\": \"loan\", \"collateral\": [{\"asset\": "
    "\"ETH\", \"amount\": 10, \"liquidation_threshold\": 0.8}], \"debt\": "
    "[{\"asset\": \"USDC\", \"amount\": 14000}]}, "
    "{\"id\": \"b\", \"type\": \"loan\", \"collateral\": [{\"asset\": "
    "\"ETH\", \"amount\": 30, \"liquidation_threshold\": 0.8}], \"debt\": "
    "[{\"asset\": \"USDC\", \"amount\": 38000}]}, "
    "{\"id\": \"c\", \"type\": \"loan\", \"collateral\": [{\"asset\": "
    "\"ETH\", \"amount\": 4, \"liquidation_threshold\": 0.8}], \"debt\": "
    "[{\"asset\": \"USDC\", \"amount\": 6200}]}, "
    "{\"id\": \"d\", \"type\": \"loan\", \"liquidation_bonus\": 0.1, "
    "\"collateral\": [{\"asset\": \"ETH\", \"amount\": 5, "
    "\"liquidation_threshold\": 0.9}], \"debt\": [{\"asset\": \"USDC\", "
    "\"amount\": 8500}]}, "
    "{\"id\": \"p\", \"type\": \"perp\", \"asset\": \"ETH\", \"side\": "
    "\"long\", \"size\": 2, \"entry_price\": 2000, \"leverage\": 5}]}";

static struct config cfg;
static struct app app;
static char *tmp;

static void
ok_write(int status, int want, struct api_answer *a)
{
	ck_assert_msg(status == want, "write: %d (want %d): %s", status, want,
	    a->err.detail);
	api_answer_release(a);
}

static void
setup(void)
{
	struct api_answer a;
	char *err = NULL;

	config_init(&cfg);
	memset(&app, 0, sizeof(app));
	app.cfg = &cfg;
	app.store = store_open(":memory:", &err);
	ck_assert_msg(app.store != NULL, "store_open: %s", err);
	ck_assert_int_eq(api_app_init(&app), 0);
	api_answer_init(&a);
	ok_write(api_put_asset(&app, "ETH", eth, sizeof(eth) - 1, &a), 201,
	    &a);
	ok_write(api_put_asset(&app, "USDC", usdc, sizeof(usdc) - 1, &a), 201,
	    &a);
	ok_write(api_put_asset(&app, "EMPTY", empty, sizeof(empty) - 1, &a),
	    201, &a);
	ok_write(api_put_depth(&app, "ETH", "venue-a", depth,
	    sizeof(depth) - 1, &a), 201, &a);
	ok_write(api_put_levels(&app, "ETH", lv_aave, sizeof(lv_aave) - 1, 0,
	    &a), 200, &a);
	ok_write(api_put_levels(&app, "ETH", lv_comp, sizeof(lv_comp) - 1, 1,
	    &a), 200, &a);
	tmp = tmpdir_new();
	ck_assert_ptr_nonnull(tmp);
}

static void
teardown(void)
{
	api_app_release(&app);
	store_close(app.store);
	config_release(&cfg);
	tmpdir_free(tmp);
	tmp = NULL;
}

/* ---- helpers -------------------------------------------------------- */

/* Split "a=1&b=2" into params (pointers into buf). */
static size_t
parse_query(char *buf, struct api_param *p, size_t cap)
{
	size_t n = 0;
	char *s = buf, *amp, *eq;

	while (s != NULL && *s != '\0' && n < cap) {
		amp = strchr(s, '&');
		if (amp != NULL)
			*amp = '\0';
		eq = strchr(s, '=');
		if (eq != NULL)
			*eq = '\0';
		p[n].name = s;
		p[n++].value = eq != NULL ? eq + 1 : "";
		s = amp != NULL ? amp + 1 : NULL;
	}
	return n;
}

enum route { R_CASCADE, R_LIQ, R_SCORE, R_BOOK };

/* One chart answer in process; the status. */
static int
chart(enum route r, const char *asset, const char *query, const char *inm,
    const char *body, struct api_answer *a)
{
	struct api_param p[16];
	char buf[256];
	size_t n;

	snprintf(buf, sizeof(buf), "%s", query != NULL ? query : "");
	n = parse_query(buf, p, 16);
	api_answer_init(a);
	if (r == R_CASCADE)
		return api_get_cascade_svg(&app, asset, p, n, inm, a);
	if (r == R_LIQ)
		return api_get_liquidations_svg(&app, asset, p, n, inm, a);
	if (r == R_BOOK) /* asset: the book */
		return api_get_book_risk_svg(&app, asset, p, n, inm, a);
	return api_score_svg(&app, body, strlen(body), p, n, inm, a);
}

static int
has_prog(const char *name)
{
	const char *argv[] = { "/bin/sh", "-c", "command -v \"$0\" >/dev/null",
		name, NULL };

	return run_command(argv, 10000) == 0;
}

static void
put_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* The whole file (NUL-terminated, malloc'd), read in chunks; NULL none. */
static char *
get_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL, *nb;
	size_t cap = 0, got;

	*len = 0;
	if (f == NULL)
		return NULL;
	do {
		if (cap - *len < 4096) {
			cap = cap * 2 + 8192;
			nb = realloc(buf, cap);
			ck_assert_ptr_nonnull(nb);
			buf = nb;
		}
		got = fread(buf + *len, 1, cap - *len - 1, f);
		*len += got;
	} while (got > 0);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static unsigned
be32(const unsigned char *p)
{
	return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 |
	    (unsigned)p[2] << 8 | p[3];
}

/*
 * xmllint, rsvg-convert to a PNG of w x h, and the golden <name>.svg
 * (tests/golden/charts, GOLDEN_CHARTS_DIR moves it).
 */
static void
check_doc(const char *name, const char *doc, int w, int h)
{
	char svg[512], png[512], golden[512];
	const char *gd = getenv("GOLDEN_CHARTS_DIR");
	unsigned char *img;
	char *want;
	size_t len = strlen(doc), plen = 0, wlen = 0;

	snprintf(svg, sizeof(svg), "%s/%s.svg", tmp, name);
	snprintf(png, sizeof(png), "%s/%s.png", tmp, name);
	put_file(svg, doc, len);
	/* self-contained: no reference to anything outside the document */
	ck_assert_ptr_null(strstr(doc, "href"));
	ck_assert_ptr_null(strstr(doc, "url("));
	ck_assert_ptr_null(strstr(doc, "<script"));
	if (!has_prog("xmllint")) {
		fprintf(stderr, "SKIP %s: xmllint is not installed\n", name);
	} else {
		const char *argv[] = { "/bin/sh", "-c",
			"exec xmllint --noout \"$0\"", svg, NULL };

		ck_assert_msg(run_command(argv, 20000) == 0,
		    "%s: xmllint --noout fails", name);
	}
	if (!has_prog("rsvg-convert")) {
		fprintf(stderr, "SKIP %s: rsvg-convert is not installed\n",
		    name);
	} else {
		const char *argv[] = { "/bin/sh", "-c",
			"exec rsvg-convert -o \"$1\" \"$0\"", svg, png, NULL };

		ck_assert_msg(run_command(argv, 30000) == 0,
		    "%s: rsvg-convert fails", name);
		img = (unsigned char *)get_file(png, &plen);
		ck_assert_ptr_nonnull(img);
		ck_assert_uint_gt(plen, 24);
		ck_assert_int_eq(memcmp(img + 12, "IHDR", 4), 0);
		ck_assert_uint_eq(be32(img + 16), (unsigned)w);
		ck_assert_uint_eq(be32(img + 20), (unsigned)h);
		free(img);
	}
	snprintf(golden, sizeof(golden), "%s/%s.svg",
	    gd != NULL ? gd : "tests/golden/charts", name);
	if (getenv("UPDATE_GOLDEN") != NULL) {
		put_file(golden, doc, len);
		return;
	}
	want = get_file(golden, &wlen);
	ck_assert_msg(want != NULL, "no golden %s (UPDATE_GOLDEN=1 makes it)",
	    golden);
	ck_assert_msg(wlen == len && memcmp(want, doc, len) == 0,
	    "%s differs from %s (UPDATE_GOLDEN=1 after a checked change)",
	    name, golden);
	free(want);
}

/* The problem has an error at pointer. */
static void
has_pointer(const struct api_answer *a, const char *pointer)
{
	size_t i;

	for (i = 0; i < a->err.nerrors; i++)
		if (strcmp(a->err.errors[i].pointer, pointer) == 0)
			return;
	ck_abort_msg("no error at %s", pointer);
}

/* %.10g of v is in the document's <desc>. */
static void
desc_has(const char *doc, double v)
{
	const char *d = strstr(doc, "<desc>"), *e = strstr(doc, "</desc>");
	char num[64];
	const char *f;

	ck_assert_ptr_nonnull(d);
	ck_assert_ptr_nonnull(e);
	snprintf(num, sizeof(num), "%.10g", v);
	f = strstr(d, num);
	ck_assert_msg(f != NULL && f < e, "%s not in the desc", num);
}

/* A linear axis read back from its first and last tick labels. */
struct axis_map {
	double p0, v0, p1, v1;
};

/* A tick label's value: "-20", "1.5", "20k", "1.5M". */
static double
label_value(const char *t)
{
	char *e;
	double v = strtod(t, &e);

	ck_assert_ptr_ne(e, t);
	if (*e == 'k')
		v *= 1e3;
	else if (*e == 'M')
		v *= 1e6;
	else if (*e == 'G')
		v *= 1e9;
	else
		ck_assert_msg(*e == '\0', "tick label %s", t);
	return v;
}

/*
 * The axis of the k-th group (0-based) that opens with `open`: its tick
 * labels, at x (x axis) or 4 px under the grid line (y axis).
 */
static void
read_axis(const char *doc, const char *open, int k, int is_y,
    struct axis_map *m)
{
	const char *g = doc, *end, *t;
	char lab[32];
	double x, y, pix;
	int i, n = 0;

	for (i = 0; i <= k; i++) {
		g = strstr(g, open);
		ck_assert_msg(g != NULL, "no axis group %d", k);
		g += strlen(open);
	}
	end = strstr(g, "</g>");
	for (t = strstr(g, "<text "); t != NULL && t < end;
	    t = strstr(t + 1, "<text ")) {
		ck_assert_int_eq(sscanf(t, "<text x=\"%lf\" y=\"%lf\">%31[^<]",
		    &x, &y, lab), 3);
		pix = is_y ? y - 4 : x;
		if (n++ == 0) {
			m->p0 = pix;
			m->v0 = label_value(lab);
		}
		m->p1 = pix;
		m->v1 = label_value(lab);
	}
	ck_assert_int_ge(n, 2);
}

static double
unmap(const struct axis_map *m, double pix)
{
	return m->v0 + (pix - m->p0) * (m->v1 - m->v0) / (m->p1 - m->p0);
}

/* A value per 0.02 px: coordinates are written with 2 decimals. */
static double
px_tol(const struct axis_map *m)
{
	return 0.02 * fabs((m->v1 - m->v0) / (m->p1 - m->p0)) + 1e-9;
}

/* The k-th <path d="M x y L x y ..."> (0-based): its points. */
static size_t
read_path(const char *doc, int k, double *px, double *py, size_t cap)
{
	const char *d = doc;
	char *e;
	size_t n = 0;
	int i;

	for (i = 0; i <= k; i++) {
		d = strstr(d, "<path d=\"");
		ck_assert_msg(d != NULL, "no path %d", k);
		d += 9;
	}
	while (*d == 'M' || *d == 'L') {
		ck_assert_uint_lt(n, cap);
		px[n] = strtod(d + 1, &e);
		py[n++] = strtod(e, &e);
		d = *e == ' ' ? e + 1 : e;
	}
	ck_assert_int_eq(*d, '"');
	return n;
}

/* ---- in process ----------------------------------------------------- */

/* The book desk (only the book tests: its levels join ETH's map). */
static void
put_desk(void)
{
	struct api_answer a;

	api_answer_init(&a);
	ok_write(api_put_book(&app, "desk", desk, sizeof(desk) - 1, 0, &a),
	    201, &a);
}

START_TEST(test_cascade_svg)
{
	struct api_answer a, j;
	cJSON *root;
	double trig;

	ck_assert_int_eq(chart(R_CASCADE, "ETH", NULL, NULL, NULL, &a), 200);
	ck_assert_str_eq(a.content_type, "image/svg+xml");
	check_doc("cascade", a.body, 800, 450);
	/* the trigger price of the JSON route, drawn and stated */
	api_answer_init(&j);
	ck_assert_int_eq(api_get_cascade(&app, "ETH", NULL, 0, &j), 200);
	root = cJSON_Parse(j.body);
	ck_assert_ptr_nonnull(root);
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(root,
	    "cascade_trigger_price")));
	trig = cJSON_GetObjectItem(root, "cascade_trigger_price")->valuedouble;
	desc_has(a.body, trig);
	ck_assert_ptr_nonnull(strstr(a.body, "cascade trigger"));
	cJSON_Delete(root);
	api_answer_release(&j);
	api_answer_release(&a);
	ck_assert_int_eq(chart(R_CASCADE, "ETH", "theme=dark&width=600&"
	    "height=300&direction=down&step=0.02", NULL, NULL, &a), 200);
	check_doc("cascade-dark", a.body, 600, 300);
	api_answer_release(&a);
}
END_TEST

START_TEST(test_liquidations_svg)
{
	struct api_answer a;

	ck_assert_int_eq(chart(R_LIQ, "ETH", "range=0.5&bins=50", NULL, NULL,
	    &a), 200);
	ck_assert_str_eq(a.content_type, "image/svg+xml");
	check_doc("liquidations", a.body, 800, 450);
	/* 1900, 1850, 1500 sell and 2300 buy; the stale 2100 is not drawn */
	ck_assert_ptr_nonnull(strstr(a.body, "4 level(s) from 2 source(s)"));
	ck_assert_ptr_nonnull(strstr(a.body, ">aave<"));
	ck_assert_ptr_nonnull(strstr(a.body, ">compound<"));
	ck_assert_ptr_nonnull(strstr(a.body, AS_OF));
	api_answer_release(&a);
	/* [1800, 2200]: the two aave sell levels only */
	ck_assert_int_eq(chart(R_LIQ, "ETH", "range=0.1&bins=4&theme=dark",
	    NULL, NULL, &a), 200);
	ck_assert_ptr_nonnull(strstr(a.body, "2 level(s) from 1 source(s)"));
	ck_assert_ptr_null(strstr(a.body, ">compound<"));
	check_doc("liquidations-narrow", a.body, 800, 450);
	api_answer_release(&a);
	/* [1500, 2500]: 1500 is the lowest edge, in the first bin */
	ck_assert_int_eq(chart(R_LIQ, "ETH", "range=0.25&bins=10", NULL, NULL,
	    &a), 200);
	ck_assert_ptr_nonnull(strstr(a.body, "4 level(s) from 2 source(s)"));
	api_answer_release(&a);
}
END_TEST

START_TEST(test_position_svg)
{
	struct api_answer a, j;
	cJSON *root, *lp;
	double sp, ep;

	ck_assert_int_eq(chart(R_SCORE, NULL, NULL, NULL, loan, &a), 200);
	ck_assert_str_eq(a.content_type, "image/svg+xml");
	check_doc("position", a.body, 800, 700);
	api_answer_init(&j);
	ck_assert_int_eq(api_score(&app, loan, sizeof(loan) - 1, NULL, &j),
	    200);
	root = cJSON_Parse(j.body);
	lp = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
	    cJSON_GetObjectItem(root, "positions"), 0), "liquidation_prices"),
	    0);
	ck_assert_ptr_nonnull(lp);
	sp = cJSON_GetObjectItem(lp, "price")->valuedouble;
	ep = cJSON_GetObjectItem(lp, "effective_price")->valuedouble;
	/* 12000 / (10 * 0.8) = 1500 by hand */
	ck_assert_double_eq_tol(sp, 1500, 1e-9);
	desc_has(a.body, sp);
	desc_has(a.body, ep);
	cJSON_Delete(root);
	api_answer_release(&j);
	api_answer_release(&a);
}
END_TEST

#define RISK_Q "asset=ETH&to=-0.4&step=0.02&horizon_days=3"

/*
 * The book risk chart: its four lines read back through the axes' tick
 * labels are GET /v1/books/desk/risk's points, its markers its VaR.
 */
START_TEST(test_book_risk_svg)
{
	static const char *const keys[4] = { "liquidated_value",
		"liquidated_value_static", "bad_debt", "bad_debt_static" };
	struct api_param q[8];
	struct api_answer a, b, j;
	struct axis_map ax, ay[2];
	double px[600], py[600];
	char buf[128];
	cJSON *root, *pts, *var;
	size_t n, i, k, differ = 0;

	put_desk();
	ck_assert_int_eq(chart(R_BOOK, "desk", RISK_Q, NULL, NULL, &a), 200);
	ck_assert_str_eq(a.content_type, "image/svg+xml");
	check_doc("book-risk", a.body, 800, 450);
	ck_assert_int_eq(chart(R_BOOK, "desk", RISK_Q, NULL, NULL, &b), 200);
	ck_assert_str_eq(a.body, b.body);
	api_answer_release(&b);
	/* the JSON answer of the same query */
	snprintf(buf, sizeof(buf), "%s", RISK_Q);
	n = parse_query(buf, q, 8);
	api_answer_init(&j);
	ck_assert_int_eq(api_get_book_risk(&app, "desk", q, n, &j), 200);
	root = cJSON_Parse(j.body);
	ck_assert_ptr_nonnull(root);
	pts = cJSON_GetObjectItem(root, "points");
	ck_assert_int_eq(cJSON_GetArraySize(pts), 21);
	read_axis(a.body, "<g font-size=\"11\" fill=\"#595959\" "
	    "text-anchor=\"middle\">", 0, 0, &ax);
	for (k = 0; k < 2; k++)
		read_axis(a.body, "<g font-size=\"11\" fill=\"#595959\" "
		    "text-anchor=\"end\">", (int)k, 1, &ay[k]);
	for (k = 0; k < 4; k++) {
		ck_assert_uint_eq(read_path(a.body, (int)k, px, py, 600), 21);
		for (i = 0; i < 21; i++) {
			cJSON *pt = cJSON_GetArrayItem(pts, (int)i);
			double x = 100 * cJSON_GetObjectItem(pt, "shock")->
			    valuedouble;
			double y = cJSON_GetObjectItem(pt, keys[k])->valuedouble;

			ck_assert_double_eq_tol(unmap(&ax, px[i]), x,
			    px_tol(&ax));
			ck_assert_double_eq_tol(unmap(&ay[k / 2], py[i]), y,
			    px_tol(&ay[k / 2]));
			if (k % 2 == 1 && y != cJSON_GetObjectItem(pt,
			    keys[k - 1])->valuedouble)
				differ++;
		}
	}
	/* the cascade changes the figures: solid and dashed lines differ */
	ck_assert_uint_gt(differ, 0);
	/* VaR 95 and 99: marked at their shocks and stated in the desc */
	var = cJSON_GetObjectItem(root, "var");
	for (k = 0; k < 2; k++) {
		cJSON *v = cJSON_GetArrayItem(var, (int)k);

		desc_has(a.body, 100 * cJSON_GetObjectItem(v, "shock")->
		    valuedouble);
		desc_has(a.body, cJSON_GetObjectItem(v, "liquidated_value")->
		    valuedouble);
		desc_has(a.body, cJSON_GetObjectItem(v, "bad_debt")->
		    valuedouble);
	}
	ck_assert_ptr_nonnull(strstr(a.body, ">VaR 95% "));
	ck_assert_ptr_nonnull(strstr(a.body, ">VaR 99% "));
	/* the book's as_of in the heading, the market's in the desc */
	ck_assert_ptr_nonnull(strstr(a.body, "as of 2023-03-27T12:00:00Z"));
	desc_has(a.body, cJSON_GetObjectItem(root, "price")->valuedouble);
	ck_assert_ptr_nonnull(strstr(a.body, "prices of ETH as of " AS_OF));
	cJSON_Delete(root);
	api_answer_release(&j);
	api_answer_release(&a);
	/* the ETag: 304 for the same bytes, other bytes for another theme */
	ck_assert_int_eq(chart(R_BOOK, "desk", RISK_Q, NULL, NULL, &a), 200);
	ck_assert_int_eq(chart(R_BOOK, "desk", RISK_Q, a.etag, NULL, &b),
	    304);
	ck_assert_ptr_null(b.body);
	api_answer_release(&b);
	ck_assert_int_eq(chart(R_BOOK, "desk", RISK_Q "&theme=dark&width=600"
	    "&height=320", NULL, NULL, &b), 200);
	ck_assert_str_ne(a.etag, b.etag);
	check_doc("book-risk-dark", b.body, 600, 320);
	api_answer_release(&b);
	api_answer_release(&a);
	/* nothing of the book is exposed to ETH going up: the reason */
	ck_assert_int_eq(chart(R_BOOK, "desk", "asset=ETH&direction=up", NULL,
	    NULL, &a), 200);
	ck_assert_ptr_nonnull(strstr(a.body, "No data: book desk holds no "
	    "position exposed to ETH going up."));
	ck_assert_ptr_null(strstr(a.body, "<path "));
	check_doc("book-risk-empty", a.body, 800, 450);
	api_answer_release(&a);
}
END_TEST

/* A request that fails: its status, and an error at each pointer. */
struct bad_case {
	enum route r;
	const char *target;	/* asset or book */
	const char *query;
	const char *body;
	int status;
	const char *ptr[5];	/* up to 5, NULL after the last */
	size_t nerrors;		/* exactly this many (0: not checked) */
};

static void
check_bad(const struct bad_case *c, size_t n)
{
	struct api_answer a;
	size_t i, k;

	for (i = 0; i < n; i++) {
		ck_assert_msg(chart(c[i].r, c[i].target, c[i].query, NULL,
		    c[i].body, &a) == c[i].status, "case %zu: %d", i,
		    a.status);
		for (k = 0; k < 5 && c[i].ptr[k] != NULL; k++)
			has_pointer(&a, c[i].ptr[k]);
		if (c[i].nerrors > 0)
			ck_assert_uint_eq(a.err.nerrors, c[i].nerrors);
		ck_assert_ptr_null(a.body);
		api_answer_release(&a);
	}
}

START_TEST(test_book_risk_bad_parameters)
{
	static const struct bad_case c[] = {
		/* the chart's and the risk's parameters checked together */
		{ R_BOOK, "desk", "asset=ETH&width=4001&theme=blue&foo=1&"
		    "horizon_days=400", NULL, 422, { "/query/width",
		    "/query/theme", "/query/foo", "/query/horizon_days" }, 4 },
		{ R_BOOK, "desk", "asset=ETH&step=0&width=640", NULL, 422,
		    { "/query/step" }, 1 },
		{ R_BOOK, "desk", "height=199", NULL, 422, { "/query/height",
		    "/query/asset" }, 2 },
		{ R_BOOK, "desk", "asset=ETH&width=300&width=400", NULL, 422,
		    { "/query/width" }, 1 },
		{ R_BOOK, "nope", "asset=ETH", NULL, 404, { NULL }, 0 },
		{ R_BOOK, "desk", "asset=NOPE&width=1", NULL, 404, { NULL }, 0 },
		{ R_BOOK, "Bad!", "asset=ETH", NULL, 422, { "/path/book" }, 0 },
	};

	put_desk();
	check_bad(c, sizeof(c) / sizeof(c[0]));
}
END_TEST

START_TEST(test_bad_parameters)
{
	static const struct bad_case c[] = {
		{ R_LIQ, "ETH", "width=4001&bins=501&theme=blue&range=0&foo=1",
		    NULL, 422, { "/query/width", "/query/bins", "/query/theme",
		    "/query/range", "/query/foo" }, 0 },
		{ R_CASCADE, "ETH", "height=199&step=0&x=1", NULL, 422,
		    { "/query/height", "/query/step", "/query/x" }, 0 },
		{ R_CASCADE, "ETH", "width=300&width=400", NULL, 422,
		    { "/query/width" }, 0 },
		{ R_SCORE, NULL, "height=300", loan, 422, { "/query/height" },
		    0 },
		{ R_SCORE, NULL, NULL, two, 422, { "/positions" }, 0 },
		{ R_SCORE, NULL, NULL, "{", 400, { NULL }, 0 },
		{ R_LIQ, "NOPE", NULL, NULL, 404, { NULL }, 0 },
		{ R_CASCADE, "NOPE", NULL, NULL, 404, { NULL }, 0 },
	};

	check_bad(c, sizeof(c) / sizeof(c[0]));
}
END_TEST

START_TEST(test_etag_and_determinism)
{
	struct api_answer a, b, c;
	char tag[64], list[160];

	ck_assert_int_eq(chart(R_LIQ, "ETH", NULL, NULL, NULL, &a), 200);
	ck_assert_int_eq(chart(R_LIQ, "ETH", NULL, NULL, NULL, &b), 200);
	ck_assert_str_eq(a.body, b.body);
	ck_assert_str_eq(a.etag, b.etag);
	ck_assert_int_eq(chart(R_LIQ, "ETH", "width=900", NULL, NULL, &c),
	    200);
	ck_assert_str_ne(a.etag, c.etag);
	api_answer_release(&c);
	snprintf(tag, sizeof(tag), "%s", a.etag);
	snprintf(list, sizeof(list), "\"0000000000000000\", W/%s", tag);
	ck_assert_int_eq(chart(R_LIQ, "ETH", NULL, list, NULL, &c), 304);
	ck_assert_ptr_null(c.body);
	ck_assert_str_eq(c.etag, tag);
	api_answer_release(&c);
	ck_assert_int_eq(chart(R_LIQ, "ETH", NULL, "\"0000000000000000\"",
	    NULL, &c), 200);
	api_answer_release(&c);
	api_answer_release(&a);
	api_answer_release(&b);
	ck_assert_int_eq(chart(R_SCORE, NULL, NULL, NULL, loan, &a), 200);
	ck_assert_int_eq(chart(R_SCORE, NULL, NULL, a.etag, loan, &b), 304);
	api_answer_release(&a);
	api_answer_release(&b);
	ck_assert_int_eq(chart(R_CASCADE, "ETH", NULL, NULL, NULL, &a), 200);
	ck_assert_int_eq(chart(R_CASCADE, "ETH", NULL, a.etag, NULL, &b), 304);
	api_answer_release(&a);
	api_answer_release(&b);
}
END_TEST

START_TEST(test_no_data)
{
	struct api_answer a;

	ck_assert_int_eq(chart(R_LIQ, "EMPTY", NULL, NULL, NULL, &a), 200);
	ck_assert_ptr_nonnull(strstr(a.body, "EMPTY has no stored "
	    "liquidation levels within 50% of its price"));
	check_doc("liquidations-empty", a.body, 800, 450);
	api_answer_release(&a);
	ck_assert_int_eq(chart(R_CASCADE, "EMPTY", NULL, NULL, NULL, &a), 200);
	ck_assert_ptr_nonnull(strstr(a.body, "EMPTY has no stored sell "
	    "levels in reach: nothing fires"));
	check_doc("cascade-empty", a.body, 800, 450);
	api_answer_release(&a);
	/* a perp on it: (1 * 5 - 0.5) / (1 * (1 - 0.005)) by hand, stated */
	ck_assert_int_eq(chart(R_SCORE, NULL, NULL, NULL, "{\"positions\": "
	    "[{\"id\": \"e\", \"type\": \"perp\", \"asset\": \"EMPTY\", "
	    "\"side\": \"long\", \"size\": 1, \"entry_price\": 5, "
	    "\"leverage\": 10}]}", &a), 200);
	ck_assert_ptr_nonnull(strstr(a.body, "EMPTY has no stored liquidation "
	    "levels within 50% of its price; liquidation price 4.522613065"));
	api_answer_release(&a);
}
END_TEST

/* One entry point of a sweep: its status, no memory folded into 503. */
static int
oom_run(void *ctx)
{
	const int *which = ctx;
	struct api_answer a;
	int st;

	if (*which == 0)
		st = chart(R_LIQ, "ETH", "bins=20", NULL, NULL, &a);
	else if (*which == 1)
		st = chart(R_CASCADE, "ETH", NULL, NULL, NULL, &a);
	else if (*which == 2)
		st = chart(R_SCORE, NULL, NULL, NULL, loan, &a);
	else if (*which == 3)
		st = chart(R_BOOK, "desk", "asset=ETH&step=0.1", NULL, NULL,
		    &a);
	else /* the no-exposure reason reads the book's summary too */
		st = chart(R_BOOK, "desk", "asset=ETH&direction=up&step=0.1",
		    NULL, NULL, &a);
	api_books_trim(&app);	/* the risk scratch kept for the next query */
	/* the score decoder reports its own no-memory as 500 */
	if (st == 500 && a.err.detail != NULL &&
	    strstr(a.err.detail, "decod") != NULL)
		st = 503;
	api_answer_release(&a);
	return st;
}

START_TEST(test_out_of_memory)
{
	char why[256];
	int which = _i;
	long n;

	if (which >= 3)
		put_desk();
	/* absorbed: a warning is dropped on no memory (codec.h); the SVG
	 * draws none of them */
	n = failalloc_sweep(oom_run, &which, 200, 503, 1, 100000, why,
	    sizeof(why));
	ck_assert_msg(n > 0, "chart %d: %s", which, why);
}
END_TEST

/* ---- over HTTP ------------------------------------------------------ */

static char *hdir;
static char hdb[512];
static struct server_proc srv;

static void
http_setup(void)
{
	struct http_reply r;
	static const char *const bodies[][2] = {
		{ "/v1/markets/ETH", eth },
		{ "/v1/markets/USDC", usdc },
		{ "/v1/markets/ETH/depth/venue-a", depth },
		{ "/v1/markets/ETH/liquidations", lv_aave },
		{ "/v1/books/desk", desk },
	};
	size_t i;

	ck_assert_msg(fixture_start(&srv, &hdir, hdb, sizeof(hdb), "c.db",
	    NULL, T_MS) == 0, "server did not start: %s",
	    srv.log ? srv.log : "(no log)");
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		ck_assert_int_eq(http_request(srv.port, "PUT", bodies[i][0],
		    "Content-Type: application/json\r\n", bodies[i][1],
		    strlen(bodies[i][1]), &r, T_MS), 0);
		ck_assert_msg(r.status == 200 || r.status == 201, "%s: %d",
		    bodies[i][0], r.status);
		http_reply_release(&r);
	}
}

static void
http_teardown(void)
{
	fixture_stop(&srv, &hdir, T_MS);
}

static int
get(const char *path, const char *extra, struct http_reply *r)
{
	ck_assert_int_eq(http_request(srv.port, "GET", path, extra, NULL, 0, r,
	    T_MS), 0);
	return r->status;
}

START_TEST(test_http_charts)
{
	struct http_reply r, s;
	char buf[256], inm[300];

	ck_assert_int_eq(get("/v1/markets/ETH/liquidations.svg?bins=20", NULL,
	    &r), 200);
	ck_assert_str_eq(http_header(&r, "Content-Type", buf, sizeof(buf)),
	    "image/svg+xml");
	ck_assert_ptr_nonnull(http_header(&r, "ETag", buf, sizeof(buf)));
	snprintf(inm, sizeof(inm), "If-None-Match: %s\r\n", buf);
	ck_assert_int_eq(get("/v1/markets/ETH/liquidations.svg?bins=20", inm,
	    &s), 304);
	ck_assert_uint_eq(s.body_len, 0);
	http_reply_release(&s);
	http_reply_release(&r);
	ck_assert_int_eq(get("/v1/markets/ETH/liquidations.svg?width=5000",
	    NULL, &r), 422);
	ck_assert_str_eq(http_header(&r, "Content-Type", buf, sizeof(buf)),
	    "application/problem+json");
	ck_assert_ptr_nonnull(strstr(r.body, "/query/width"));
	http_reply_release(&r);
	/* negotiation: the JSON route answers the SVG when asked first */
	ck_assert_int_eq(get("/v1/markets/ETH/cascade.svg", NULL, &r), 200);
	ck_assert_int_eq(get("/v1/markets/ETH/cascade", "Accept: "
	    "image/svg+xml, application/json;q=0.5\r\n", &s), 200);
	ck_assert_str_eq(http_header(&s, "Content-Type", buf, sizeof(buf)),
	    "image/svg+xml");
	ck_assert_str_eq(r.body, s.body);
	http_reply_release(&s);
	ck_assert_int_eq(get("/v1/markets/ETH/cascade", "Accept: */*\r\n",
	    &s), 200);
	ck_assert_str_eq(http_header(&s, "Content-Type", buf, sizeof(buf)),
	    "application/json");
	http_reply_release(&s);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "POST", "/v1/score",
	    "Content-Type: application/json\r\nAccept: image/svg+xml\r\n",
	    loan, sizeof(loan) - 1, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(http_header(&r, "Content-Type", buf, sizeof(buf)),
	    "image/svg+xml");
	ck_assert_ptr_nonnull(strstr(r.body, "<title>Position alice on ETH"));
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "POST", "/v1/score?width=9",
	    "Content-Type: application/json\r\nAccept: image/svg+xml\r\n",
	    loan, sizeof(loan) - 1, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 422);
	ck_assert_ptr_nonnull(strstr(r.body, "/query/width"));
	http_reply_release(&r);
	ck_assert_int_eq(get("/v1/markets/NOPE/cascade.svg", NULL, &r), 404);
	http_reply_release(&r);
	/* the book risk chart: its route, ETag, and GET .../risk negotiated */
	ck_assert_int_eq(get("/v1/books/desk/risk.svg?asset=ETH&step=0.05",
	    NULL, &r), 200);
	ck_assert_str_eq(http_header(&r, "Content-Type", buf, sizeof(buf)),
	    "image/svg+xml");
	ck_assert_ptr_nonnull(strstr(r.body, "<title>Book desk under a "
	    "shock of ETH (down)</title>"));
	ck_assert_ptr_nonnull(http_header(&r, "ETag", buf, sizeof(buf)));
	snprintf(inm, sizeof(inm), "If-None-Match: %s\r\n", buf);
	ck_assert_int_eq(get("/v1/books/desk/risk.svg?asset=ETH&step=0.05",
	    inm, &s), 304);
	http_reply_release(&s);
	ck_assert_int_eq(get("/v1/books/desk/risk?asset=ETH&step=0.05",
	    "Accept: image/svg+xml\r\n", &s), 200);
	ck_assert_str_eq(http_header(&s, "Content-Type", buf, sizeof(buf)),
	    "image/svg+xml");
	ck_assert_str_eq(r.body, s.body);
	http_reply_release(&s);
	ck_assert_int_eq(get("/v1/books/desk/risk?asset=ETH&step=0.05",
	    "Accept: application/json, image/svg+xml;q=0.9\r\n", &s), 200);
	ck_assert_str_eq(http_header(&s, "Content-Type", buf, sizeof(buf)),
	    "application/json");
	http_reply_release(&s);
	http_reply_release(&r);
	ck_assert_int_eq(get("/v1/books/desk/risk.svg?asset=ETH&width=4001",
	    NULL, &r), 422);
	ck_assert_str_eq(http_header(&r, "Content-Type", buf, sizeof(buf)),
	    "application/problem+json");
	ck_assert_ptr_nonnull(strstr(r.body, "/query/width"));
	http_reply_release(&r);
	ck_assert_int_eq(get("/v1/books/nope/risk.svg?asset=ETH", NULL, &r),
	    404);
	http_reply_release(&r);
}
END_TEST

START_TEST(test_http_page)
{
	static const char *const paths[][2] = {
		{ "/", "text/html; charset=utf-8" },
		{ "/app.js", "text/javascript; charset=utf-8" },
		{ "/app.css", "text/css; charset=utf-8" },
	};
	struct http_reply r;
	char buf[512];
	size_t i;

	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(get(paths[i][0], NULL, &r), 200);
		ck_assert_str_eq(http_header(&r, "Content-Type", buf,
		    sizeof(buf)), paths[i][1]);
		ck_assert_ptr_nonnull(http_header(&r,
		    "Content-Security-Policy", buf, sizeof(buf)));
		ck_assert_ptr_nonnull(strstr(buf, "default-src 'none'"));
		ck_assert_ptr_nonnull(strstr(buf, "script-src 'self'"));
		ck_assert_ptr_nonnull(strstr(buf, "frame-ancestors 'none'"));
		ck_assert_ptr_null(strstr(buf, "unsafe"));
		ck_assert_uint_gt(r.body_len, 100);
		/* no other origin, no inline code */
		ck_assert_ptr_null(strstr(r.body, "http://"));
		ck_assert_ptr_null(strstr(r.body, "https://"));
		ck_assert_ptr_null(strstr(r.body, "onclick"));
		ck_assert_ptr_null(strstr(r.body, "style=\""));
		http_reply_release(&r);
	}
	ck_assert_int_eq(get("/", NULL, &r), 200);
	ck_assert_ptr_nonnull(strstr(r.body, "<script src=\"/app.js\""));
	http_reply_release(&r);
}
END_TEST

static Suite *
charts_suite(void)
{
	Suite *s = suite_create("charts");
	TCase *tc = tcase_create("in process");
	TCase *th = tcase_create("http");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_cascade_svg);
	tcase_add_test(tc, test_liquidations_svg);
	tcase_add_test(tc, test_position_svg);
	tcase_add_test(tc, test_bad_parameters);
	tcase_add_test(tc, test_etag_and_determinism);
	tcase_add_test(tc, test_no_data);
	tcase_add_test(tc, test_book_risk_svg);
	tcase_add_test(tc, test_book_risk_bad_parameters);
	tcase_add_loop_test(tc, test_out_of_memory, 0, 5);
	suite_add_tcase(s, tc);
	tcase_add_checked_fixture(th, http_setup, http_teardown);
	tcase_set_timeout(th, 60);
	tcase_add_test(th, test_http_charts);
	tcase_add_test(th, test_http_page);
	suite_add_tcase(s, th);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(charts_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

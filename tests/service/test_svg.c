/*
 * test_svg.c - the SVG emitter (service/svg.c) and the charts drawn with
 * it (service/chart.c).
 *
 * - emitter: escaping of the five XML specials, of control characters and
 *   of invalid UTF-8 (to U+FFFD); number formatting (fixed decimals, no
 *   "-0", no exponent); element order mistakes and the cap reported as
 *   errors; a small document byte for byte.
 * - axes: nice ticks against hand-computed cases (0..97 -> 0, 20, ...,
 *   100; 1812..1813 -> steps of 0.2; a 2.5 step; negative spans) and
 *   tick labels with SI suffixes.
 * - themes: WCAG 2 contrast ratios computed here from the hex colours
 *   (text >= 7:1, muted text >= 4.5:1, every series colour >= 3:1).
 * - charts, every kind on fixed data: well-formed XML (xmllint --noout;
 *   the case is skipped with a message when xmllint is not installed),
 *   rendered by rsvg-convert to a PNG of the requested size (read from
 *   the IHDR chunk), byte-identical to tests/golden/svg/<name>.svg
 *   (UPDATE_GOLDEN=1 rewrites them; GOLDEN_SVG_DIR moves the folder),
 *   the same bytes when rendered twice, no reference out of the document
 *   ("http" only in the xmlns, no href, url(, <script, <image, @import),
 *   and the no-data charts state their reason.
 * - bad options and data give CHART_EINVAL; every cap below the size of
 *   a document gives CHART_ENOMEM and no document, the exact size works.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chart.h"
#include "svg.h"
#include "testlib.h"

/* ---- helpers ---------------------------------------------------- */

static const char *
golden_dir(void)
{
	const char *d = getenv("GOLDEN_SVG_DIR");

	return d != NULL ? d : "tests/golden/svg";
}

/* Absolute path of an executable found on $PATH into buf, or NULL. */
static const char *
find_prog(const char *name, char *buf, size_t cap)
{
	const char *path = getenv("PATH"), *p, *e;

	if (path == NULL)
		path = "/usr/bin:/bin";
	for (p = path; *p != '\0'; p = *e ? e + 1 : e) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		if (e > p) {
			snprintf(buf, cap, "%.*s/%s", (int)(e - p), p, name);
			if (access(buf, X_OK) == 0)
				return buf;
		}
	}
	return NULL;
}

static int
write_file(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int rc;

	if (f == NULL)
		return -1;
	rc = fwrite(data, 1, len, f) == len ? 0 : -1;
	if (fclose(f) != 0)
		rc = -1;
	return rc;
}

/* The whole file (malloc'd, NUL-terminated) or NULL. */
static char *
read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf != NULL) {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (hay = strstr(hay, needle); hay != NULL;
	    hay = strstr(hay + 1, needle))
		n++;
	return n;
}

/* ---- emitter ---------------------------------------------------- */

static void
expect_escape(const char *in, const char *want)
{
	char buf[256];
	size_t n = svg_escape(buf, sizeof(buf), in);

	ck_assert_str_eq(buf, want);
	ck_assert_uint_eq(n, strlen(want));
}

START_TEST(escape_specials)
{
	expect_escape("a&b<c>\"d'e", "a&amp;b&lt;c&gt;&quot;d&apos;e");
	expect_escape("&amp;", "&amp;amp;");
	expect_escape("plain text 1812.43", "plain text 1812.43");
	expect_escape("", "");
	/* tab, newline and CR are allowed in XML 1.0; other C0 are not */
	expect_escape("a\tb\nc\rd", "a\tb\nc\rd");
	expect_escape("a\x01" "b\x1f", "a\xef\xbf\xbd" "b\xef\xbf\xbd");
}
END_TEST

START_TEST(escape_utf8)
{
	char buf[8];
	size_t n;

	/* valid: 2, 3 and 4 byte sequences pass through */
	expect_escape("\xc2\xb5 \xe2\x80\xa6 \xf0\x9f\x93\x88",
	    "\xc2\xb5 \xe2\x80\xa6 \xf0\x9f\x93\x88");
	/* a lone continuation byte, a truncated sequence, an overlong
	 * '/', a surrogate, a code point above U+10FFFF */
	expect_escape("a\x80z", "a\xef\xbf\xbdz");
	expect_escape("a\xe2\x80z", "a\xef\xbf\xbdz");
	expect_escape("\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd");
	expect_escape("\xed\xa0\x80", "\xef\xbf\xbd");
	expect_escape("\xf4\x90\x80\x80", "\xef\xbf\xbd");
	/* short buffer: whole characters only, the length still counted */
	n = svg_escape(buf, 7, "ab&cd");	/* "ab&amp;" needs 8 */
	ck_assert_uint_eq(n, 9);
	ck_assert_str_eq(buf, "ab");
	n = svg_escape(buf, 8, "ab&cd");
	ck_assert_uint_eq(n, 9);
	ck_assert_str_eq(buf, "ab&amp;");
	n = svg_escape(buf, sizeof(buf), "abcdefg");
	ck_assert_str_eq(buf, "abcdefg");
	ck_assert_uint_eq(n, 7);
}
END_TEST

static void
expect_num(double v, int prec, const char *want)
{
	char buf[SVG_NUM_LEN];
	size_t n = svg_fmt_num(buf, sizeof(buf), v, prec);

	ck_assert_msg(strcmp(buf, want) == 0, "fmt(%.17g, %d) = %s, want %s",
	    v, prec, buf, want);
	ck_assert_uint_eq(n, strlen(want));
}

START_TEST(number_format)
{
	expect_num(0, 2, "0");
	expect_num(-0.0, 2, "0");
	expect_num(-0.004, 2, "0");	/* rounds to zero: no "-0" */
	expect_num(-0.005, 2, "-0.01");	/* half away from zero */
	expect_num(1.25, 1, "1.3");
	expect_num(-1.25, 1, "-1.3");
	expect_num(3, 2, "3");
	expect_num(2.5, 2, "2.5");
	expect_num(2.50001, 2, "2.5");
	expect_num(1812.43, 2, "1812.43");
	expect_num(0.1 + 0.2, 2, "0.3");
	expect_num(1234567.891, 2, "1234567.89");
	expect_num(1e-7, 6, "0");
	expect_num(0.000123, 6, "0.000123");
	expect_num(1e20, 2, "1000000000000000");	/* clamped, no exponent */
	expect_num(-1e20, 0, "-1000000000000000");
	expect_num(NAN, 2, "0");
	expect_num(INFINITY, 2, "0");
	expect_num(7.77, -3, "8");	/* prec clamped to 0 */
	expect_num(1.0 / 3, 20, "0.333333333333");	/* clamped to 12 */
}
END_TEST

START_TEST(document_bytes)
{
	struct svg *s = svg_new(0);
	char *doc;
	size_t len;
	double x[] = { 0, 1.005, NAN, 3 }, y[] = { 0, -2, 5, 4.125 };

	ck_assert_ptr_nonnull(s);
	svg_doc_begin(s, 200, 100, "sans-serif");
	svg_title(s, "t<1>");
	svg_group(s);
	svg_attr(s, "fill", "#fff");
	svg_rect(s, 1, 2, -3, 4.567);
	svg_end(s);
	svg_path(s, x, y, 4);
	svg_end(s);
	svg_polyline(s, x, y, 2);
	svg_end(s);
	svg_end(s);
	svg_text(s, 5, 6);
	svg_attr_num(s, "font-size", 11, 1);
	svg_chars(s, "a&b");
	svg_end(s);
	svg_end(s);
	ck_assert_int_eq(svg_finish(s, &doc, &len), SVG_OK);
	ck_assert_str_eq(doc,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"200\" "
	    "height=\"100\" viewBox=\"0 0 200 100\" role=\"img\" "
	    "font-family=\"sans-serif\">\n"
	    "<title>t&lt;1&gt;</title>\n"
	    "<g fill=\"#fff\">\n"
	    "<rect x=\"1\" y=\"2\" width=\"0\" height=\"4.57\"/>\n"
	    "<path d=\"M0 0 L1 -2 M3 4.13\"/>\n"
	    "<polyline points=\"0,0 1,-2\"/>\n"
	    "</g>\n"
	    "<text x=\"5\" y=\"6\" font-size=\"11\">a&amp;b</text>\n"
	    "</svg>\n");
	ck_assert_uint_eq(len, strlen(doc));
	free(doc);
	svg_free(s);
	svg_free(NULL);
}
END_TEST

START_TEST(emitter_errors)
{
	struct svg *s;
	char *doc = (char *)1;
	size_t len = 1;
	double x[] = { 0, NAN }, y[] = { 0, 1 };

	/* an attribute after content */
	s = svg_new(0);
	svg_doc_begin(s, 10, 10, NULL);
	svg_chars(s, "x");
	svg_attr(s, "a", "b");
	ck_assert_int_eq(svg_status(s), SVG_EINVAL);
	svg_end(s);
	ck_assert_int_eq(svg_finish(s, &doc, &len), SVG_EINVAL);
	ck_assert_ptr_null(doc);
	ck_assert_uint_eq(len, 0);
	svg_free(s);

	/* an element left open; a bad name; closing more than opened */
	s = svg_new(0);
	svg_doc_begin(s, 10, 10, NULL);
	svg_group(s);
	svg_end(s);
	ck_assert_int_eq(svg_finish(s, &doc, &len), SVG_EINVAL);
	svg_free(s);
	s = svg_new(0);
	svg_open(s, "a b");
	ck_assert_int_eq(svg_status(s), SVG_EINVAL);
	svg_free(s);
	s = svg_new(0);
	svg_end(s);
	ck_assert_int_eq(svg_status(s), SVG_EINVAL);
	svg_free(s);

	/* a polyline cannot have gaps */
	s = svg_new(0);
	svg_doc_begin(s, 10, 10, NULL);
	svg_polyline(s, x, y, 2);
	ck_assert_int_eq(svg_status(s), SVG_EINVAL);
	svg_free(s);

	/* the cap counts the NUL: 5 bytes hold "<svg" and no more */
	s = svg_new(5);
	svg_open(s, "svg");
	ck_assert_int_eq(svg_status(s), SVG_OK);
	svg_attr(s, "a", "");
	ck_assert_int_eq(svg_status(s), SVG_ENOMEM);
	svg_end(s);	/* sticky: nothing more happens */
	ck_assert_int_eq(svg_finish(s, &doc, &len), SVG_ENOMEM);
	ck_assert_ptr_null(doc);
	svg_free(s);
}
END_TEST

/* ---- axes ------------------------------------------------------- */

static void
expect_ticks(double lo, double hi, unsigned target, double first,
    double step, size_t n)
{
	double t[64], st;
	size_t got, i;

	got = chart_nice_ticks(lo, hi, target, t, 64, &st);
	ck_assert_msg(got == n && fabs(st - step) <= 1e-12 * step,
	    "ticks(%g, %g, %u): %zu ticks step %.17g, want %zu step %g", lo,
	    hi, target, got, st, n, step);
	for (i = 0; i < n; i++)
		ck_assert_msg(fabs(t[i] - (first + (double)i * step)) <=
		    1e-9 * fmax(1, fabs(t[i])), "tick %zu = %.17g", i, t[i]);
	ck_assert(t[0] <= lo + 1e-9 && t[n - 1] >= hi - 1e-9);
}

START_TEST(nice_ticks)
{
	double t[4], st;

	/* 0..97: range ceil-nice 100, 100/5 = 20 -> 0, 20, ..., 100 */
	expect_ticks(0, 97, 6, 0, 20, 6);
	/* 1812..1813: range 1, 1/5 = 0.2 -> 1812, 1812.2, ..., 1813 */
	expect_ticks(1812, 1813, 6, 1812, 0.2, 6);
	/* 0..9.5 with 5: range 10, 10/4 = 2.5 -> 0, 2.5, ..., 10 */
	expect_ticks(0, 9.5, 5, 0, 2.5, 5);
	/* -3..7 with 6: range 10, step 2 -> -4, -2, ..., 8 */
	expect_ticks(-3, 7, 6, -4, 2, 7);
	/* 906.2..2718.6 with 10: range 2000, 2000/9 = 222 -> 200 */
	expect_ticks(906.2, 2718.6, 10, 800, 200, 11);
	/* 0..0.0042 with 5: range 0.005, 0.00125 -> 0.001 */
	expect_ticks(0, 0.0042, 5, 0, 0.001, 6);
	/* one value: widened by 1% (1812 +- 18.12: range 50, 12.5 -> 10) */
	expect_ticks(1812, 1812, 5, 1790, 10, 6);
	/* zero alone: widened to -1..1 */
	expect_ticks(0, 0, 3, -1, 1, 3);
	/* the cap bounds what is written */
	ck_assert_uint_eq(chart_nice_ticks(0, 97, 6, t, 4, &st), 4);
	ck_assert_uint_eq(chart_nice_ticks(1, 0, 6, t, 4, &st), 0);
	ck_assert_uint_eq(chart_nice_ticks(NAN, 1, 6, t, 4, &st), 0);
	ck_assert_uint_eq(chart_nice_ticks(0, INFINITY, 6, t, 4, &st), 0);
}
END_TEST

static void
expect_label(double v, double step, double max_abs, const char *want)
{
	char buf[64];

	chart_fmt_value(buf, sizeof(buf), v, step, max_abs);
	ck_assert_msg(strcmp(buf, want) == 0,
	    "label(%g, %g, %g) = %s, want %s", v, step, max_abs, buf, want);
}

START_TEST(tick_labels)
{
	expect_label(1812.2, 0.2, 1813, "1812.2");
	expect_label(1813, 0.2, 1813, "1813");
	expect_label(2000, 200, 2800, "2000");	/* 4 digits stay plain */
	expect_label(20000, 20000, 100000, "20k");
	expect_label(7500, 2500, 10000, "7.5k");
	expect_label(0, 2500, 10000, "0");	/* not "0k" */
	expect_label(1.5e6, 5e5, 2.5e6, "1.5M");
	expect_label(25e6, 5e6, 25e6, "25M");
	expect_label(3e9, 1e9, 4e9, "3G");
	expect_label(2e12, 1e12, 3e12, "2T");
	expect_label(0.25, 0.25, 1, "0.25");
	expect_label(-0.0000001, 0.2, 1, "0");
	expect_label(-40, 20, 60, "-40");
	expect_label(0.003, 0.001, 0.005, "0.003");
}
END_TEST

/* ---- themes ----------------------------------------------------- */

static double
luminance(const char *hex)
{
	double c[3];
	unsigned v;
	int i;

	ck_assert_int_eq(strlen(hex), 7);
	ck_assert_int_eq(sscanf(hex + 1, "%6x", &v), 1);
	for (i = 0; i < 3; i++) {
		double x = (double)((v >> (16 - 8 * i)) & 0xffu) / 255;

		c[i] = x <= 0.04045 ? x / 12.92 : pow((x + 0.055) / 1.055, 2.4);
	}
	return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
}

/* WCAG 2.x contrast ratio */
static double
contrast(const char *a, const char *b)
{
	double la = luminance(a), lb = luminance(b);

	return (fmax(la, lb) + 0.05) / (fmin(la, lb) + 0.05);
}

START_TEST(theme_contrast)
{
	enum chart_theme t = (enum chart_theme)_i;
	const struct chart_palette *p = chart_palette(t);
	size_t i, j;

	ck_assert_double_ge(contrast(p->text, p->background), 7);
	ck_assert_double_ge(contrast(p->muted, p->background), 4.5);
	ck_assert_double_ge(contrast(p->axis, p->background), 3);
	for (i = 0; i < CHART_NCOLOURS; i++) {
		ck_assert_msg(contrast(p->series[i], p->background) >= 3,
		    "theme %d colour %s: %.2f:1", (int)t, p->series[i],
		    contrast(p->series[i], p->background));
		for (j = 0; j < i; j++)
			ck_assert_str_ne(p->series[i], p->series[j]);
	}
}
END_TEST

START_TEST(options)
{
	struct chart_opts o;
	enum chart_theme t;

	chart_opts_init(&o);
	ck_assert_ptr_null(chart_opts_check(&o));
	o.width = 199;
	ck_assert_str_eq(chart_opts_check(&o), "width");
	o.width = 4001;
	ck_assert_str_eq(chart_opts_check(&o), "width");
	o.width = 200;
	o.height = 4000;
	ck_assert_ptr_null(chart_opts_check(&o));
	o.height = 4001;
	ck_assert_str_eq(chart_opts_check(&o), "height");
	o.height = 200;
	o.theme = (enum chart_theme)7;
	ck_assert_str_eq(chart_opts_check(&o), "theme");
	ck_assert_int_eq(chart_theme_parse("dark", &t), 0);
	ck_assert_int_eq(t, CHART_THEME_DARK);
	ck_assert_int_eq(chart_theme_parse("light", &t), 0);
	ck_assert_int_eq(t, CHART_THEME_LIGHT);
	ck_assert_int_eq(chart_theme_parse("Dark", &t), -1);
	ck_assert_int_eq(chart_theme_parse("", &t), -1);
	ck_assert_int_eq(chart_theme_parse(NULL, &t), -1);
}
END_TEST

/* ---- fixed chart data ------------------------------------------- */

#define P0 1812.43	/* the "current price" of the fixtures */
#define NCURVE 41
#define NBINS 50

static double shocked[NCURVE], final_px[NCURVE], fired[NCURVE];
static double shock_pct[NCURVE], liq_with[NCURVE], liq_without[NCURVE];
static double debt_with[NCURVE], debt_without[NCURVE];
static double edges[NBINS + 1], q_aave[NBINS], q_comp[NBINS], q_book[NBINS];

/*
 * Made-up but cascade-shaped numbers: the price is shocked from P0 down
 * to 0.7 P0; below the trigger at 1650 fired liquidations push the final
 * price further down.  Liquidation levels are bumps under P0.
 */
static void
fixtures(void)
{
	size_t i;

	for (i = 0; i < NCURVE; i++) {
		double s = P0 * (1 - 0.3 * (double)i / (NCURVE - 1));
		double below = s < 1650 ? 1650 - s : 0;

		shocked[i] = s;
		fired[i] = below * 180 + (below > 0 ? 2500 : 0);
		final_px[i] = s - 0.35 * below - (below > 0 ? 12 : 0);
		shock_pct[i] = 50.0 * (double)i / (NCURVE - 1);
		liq_without[i] = 4e5 * shock_pct[i] * shock_pct[i];
		liq_with[i] = liq_without[i] * (1 + 0.02 * shock_pct[i]);
		debt_without[i] = shock_pct[i] > 20 ?
		    3e4 * (shock_pct[i] - 20) * (shock_pct[i] - 20) : 0;
		debt_with[i] = debt_without[i] * 1.6;
	}
	for (i = 0; i <= NBINS; i++)
		edges[i] = P0 * (0.5 + (double)i / NBINS);
	for (i = 0; i < NBINS; i++) {
		double m = (edges[i] + edges[i + 1]) / 2;
		double a = (m - 1550) / 60, b = (m - 1350) / 90;
		double c = (m - 2100) / 50;

		q_aave[i] = m < P0 ? 1800 * exp(-a * a) + 120 : 0;
		q_comp[i] = m < P0 ? 900 * exp(-b * b) : 0;
		q_book[i] = m > P0 ? 600 * exp(-c * c) : 40;
	}
}

static void
frame_set(struct chart_frame *f, const char *title, const char *desc,
    const char *x_label, const char *y_label, const char *no_data)
{
	f->title = title;
	f->desc = desc;
	f->as_of = "2026-12-01T00:00:00Z";
	f->x_label = x_label;
	f->y_label = y_label;
	f->no_data = no_data;
}

static const struct chart_marker cascade_marks[] = {
	{ CHART_MARK_X, 1650, "cascade trigger", 0 },
	{ CHART_MARK_X, P0, "current price", 0 },
};

static struct chart_series cascade_series[3];

static void
cascade_chart(struct chart_line *c)
{
	memset(c, 0, sizeof(*c));
	memset(cascade_series, 0, sizeof(cascade_series));
	cascade_series[0] = (struct chart_series){ "final price", shocked,
		final_px, NCURVE, 0, 1, 0, 0 };
	cascade_series[1] = (struct chart_series){ "without the cascade",
		shocked, shocked, NCURVE, 0, 0, 1, 0 };
	cascade_series[2] = (struct chart_series){ "fired volume", shocked,
		fired, NCURVE, 1, 1, 0, 0 };
	frame_set(&c->frame, "ETH cascade: final price after a shock",
	    "Final price and fired liquidation volume against the shocked "
	    "price of ETH; the cascade trigger and the current price are "
	    "marked.", "shocked price (USD)", "final price (USD)",
	    "no cascade curve for ETH");
	c->y2_label = "fired volume (ETH)";
	c->series = cascade_series;
	c->nseries = 3;
	c->markers = cascade_marks;
	c->nmarkers = 2;
}

static struct chart_series risk_series[4];

static void
risk_chart(struct chart_line *c)
{
	memset(c, 0, sizeof(*c));
	risk_series[0] = (struct chart_series){ "liquidated value",
		shock_pct, liq_with, NCURVE, 0, 0, 0, 0 };
	risk_series[1] = (struct chart_series){
		"liquidated value, no cascade", shock_pct, liq_without, NCURVE,
		0, 0, 1, 0 };
	risk_series[2] = (struct chart_series){ "bad debt", shock_pct,
		debt_with, NCURVE, 0, 0, 0, 0 };
	risk_series[3] = (struct chart_series){ "bad debt, no cascade",
		shock_pct, debt_without, NCURVE, 0, 0, 1, 0 };
	frame_set(&c->frame, "Book desk-a: value at risk against the shock",
	    "Liquidated value and bad debt of book desk-a against a "
	    "downward shock of ETH, with and without the cascade.",
	    "shock (%)", "value (USD)", NULL);
	c->series = risk_series;
	c->nseries = 4;
}

static struct chart_stack liq_stacks[3];
static const struct chart_marker liq_marks[] = {
	{ CHART_MARK_X, P0, "current price", 0 },
};
static const struct chart_marker pos_marks[] = {
	{ CHART_MARK_X, 1540.2, "static liquidation", 0 },
	{ CHART_MARK_X, 1601.7, "effective liquidation", 0 },
	{ CHART_MARK_X, P0, "current price", 0 },
};

static void
liq_chart(struct chart_bars *c)
{
	memset(c, 0, sizeof(*c));
	liq_stacks[0] = (struct chart_stack){ "aave-v3 (stored)", q_aave };
	liq_stacks[1] = (struct chart_stack){ "compound-v3 (stored)",
		q_comp };
	liq_stacks[2] = (struct chart_stack){ "book desk-a", q_book };
	frame_set(&c->frame, "ETH liquidation map",
	    "Quantity of ETH liquidated per price bin within 50% of the "
	    "current price, stacked by source.", "price (USD)",
	    "quantity (ETH)", "no liquidation levels for ETH");
	c->edges = edges;
	c->nbins = NBINS;
	c->stacks = liq_stacks;
	c->nstacks = 3;
	c->markers = liq_marks;
	c->nmarkers = 1;
}

enum kind { LINE, BARS };

struct chart_case {
	const char *name;
	enum kind kind;
	int width, height;
	enum chart_theme theme;
	const char *reason;	/* no-data charts: the reason shown */
};

static const struct chart_case cases[] = {
	{ "cascade", LINE, 800, 450, CHART_THEME_LIGHT, NULL },
	{ "cascade-dark", LINE, 800, 450, CHART_THEME_DARK, NULL },
	{ "book-risk", LINE, 720, 400, CHART_THEME_LIGHT, NULL },
	{ "liquidations", BARS, 800, 450, CHART_THEME_LIGHT, NULL },
	{ "liquidations-dark", BARS, 800, 450, CHART_THEME_DARK, NULL },
	{ "liquidations-small", BARS, 200, 200, CHART_THEME_LIGHT, NULL },
	{ "position", BARS, 640, 360, CHART_THEME_LIGHT, NULL },
	{ "no-data-line", LINE, 400, 240, CHART_THEME_DARK,
	    "no cascade curve for ETH" },
	{ "no-data-bars", BARS, 400, 240, CHART_THEME_LIGHT,
	    "no liquidation levels for ETH" },
};
#define NCASES (sizeof(cases) / sizeof(cases[0]))

static enum chart_status
render(const struct chart_case *k, size_t max_bytes, char **out, size_t *len)
{
	struct chart_opts o;
	struct chart_line l;
	struct chart_bars b;

	fixtures();
	chart_opts_init(&o);
	o.width = k->width;
	o.height = k->height;
	o.theme = k->theme;
	o.max_bytes = max_bytes;
	if (k->kind == LINE) {
		if (strcmp(k->name, "book-risk") == 0)
			risk_chart(&l);
		else
			cascade_chart(&l);
		if (k->reason != NULL)
			l.nseries = 0;
		return chart_line_svg(&l, &o, out, len);
	}
	liq_chart(&b);
	if (strcmp(k->name, "position") == 0) {
		b.frame.title = "Position 1: liquidation prices on the ETH map";
		b.markers = pos_marks;
		b.nmarkers = 3;
	}
	if (k->reason != NULL) {
		/* bins but nothing in them: the map of an empty market */
		memset(q_aave, 0, sizeof(q_aave));
		memset(q_comp, 0, sizeof(q_comp));
		memset(q_book, 0, sizeof(q_book));
	}
	return chart_bars_svg(&b, &o, out, len);
}

static unsigned
be32(const unsigned char *p)
{
	return (unsigned)p[0] << 24 | (unsigned)p[1] << 16 |
	    (unsigned)p[2] << 8 | p[3];
}

/* xmllint --noout and rsvg-convert on the document in dir. */
static void
external_checks(const struct chart_case *k, const char *dir,
    const char *doc, size_t len)
{
	char xmllint[512], rsvg[512], svgp[512], pngp[512];
	unsigned char *png;
	size_t plen;

	snprintf(svgp, sizeof(svgp), "%s/%s.svg", dir, k->name);
	snprintf(pngp, sizeof(pngp), "%s/%s.png", dir, k->name);
	ck_assert_int_eq(write_file(svgp, doc, len), 0);
	if (find_prog("xmllint", xmllint, sizeof(xmllint)) == NULL) {
		fprintf(stderr, "SKIP %s: xmllint not installed "
		    "(apt-get install libxml2-utils)\n", k->name);
	} else {
		const char *argv[] = { xmllint, "--noout", svgp, NULL };

		ck_assert_msg(run_command(argv, 20000) == 0,
		    "%s: xmllint --noout fails", k->name);
	}
	if (find_prog("rsvg-convert", rsvg, sizeof(rsvg)) == NULL) {
		fprintf(stderr, "SKIP %s: rsvg-convert not installed "
		    "(apt-get install librsvg2-bin)\n", k->name);
		return;
	}
	{
		const char *argv[] = { rsvg, "-o", pngp, svgp, NULL };

		ck_assert_msg(run_command(argv, 30000) == 0,
		    "%s: rsvg-convert fails", k->name);
	}
	png = (unsigned char *)read_file(pngp, &plen);
	ck_assert_ptr_nonnull(png);
	/* signature, then the IHDR chunk: length 13, "IHDR", w, h */
	ck_assert_uint_gt(plen, 33);
	ck_assert_int_eq(memcmp(png, "\x89PNG\r\n\x1a\n", 8), 0);
	ck_assert_int_eq(memcmp(png + 12, "IHDR", 4), 0);
	ck_assert_uint_eq(be32(png + 16), (unsigned)k->width);
	ck_assert_uint_eq(be32(png + 20), (unsigned)k->height);
	free(png);
}

static void
golden_check(const struct chart_case *k, const char *doc, size_t len)
{
	char path[512];
	char *want;
	size_t wlen = 0;

	snprintf(path, sizeof(path), "%s/%s.svg", golden_dir(), k->name);
	if (getenv("UPDATE_GOLDEN") != NULL &&
	    strcmp(getenv("UPDATE_GOLDEN"), "1") == 0) {
		ck_assert_msg(write_file(path, doc, len) == 0,
		    "cannot write %s", path);
		fprintf(stderr, "golden %s rewritten\n", path);
		return;
	}
	want = read_file(path, &wlen);
	ck_assert_msg(want != NULL, "%s missing (UPDATE_GOLDEN=1 writes it)",
	    path);
	ck_assert_msg(wlen == len && memcmp(want, doc, len) == 0,
	    "%s differs from the rendering (%zu vs %zu bytes); review and "
	    "rerun with UPDATE_GOLDEN=1 if the change is intended", path,
	    wlen, len);
	free(want);
}

/* Each string of the NULL-terminated list present (1) or absent (0). */
static void
expect_in(const char *doc, const char *const *list, int present)
{
	for (; *list != NULL; list++)
		ck_assert_msg((strstr(doc, *list) != NULL) == present,
		    "\"%s\" %s", *list, present ? "missing" : "found");
}

/* external references, and numbers that should never be written */
static const char *const absent[] = { "href", "url(", "<script", "<image",
	"@import", "<foreignObject", "-0\"", "nan", "inf", NULL };
static const char *const cascade_texts[] = {
	">cascade trigger 1650</text>", ">current price 1812</text>",
	">fired volume (ETH)</text>", ">shocked price (USD)</text>",
	">50k</text>", ">100k</text>", NULL };

START_TEST(chart_kind)
{
	const struct chart_case *k = &cases[_i];
	char *doc = NULL, *again = NULL, *dir;
	size_t len = 0, len2 = 0;
	const char *p;

	ck_assert_int_eq(render(k, 0, &doc, &len), CHART_OK);
	ck_assert_ptr_nonnull(doc);
	ck_assert_uint_eq(strlen(doc), len);
	/* determinism: the same input gives the same bytes */
	ck_assert_int_eq(render(k, 0, &again, &len2), CHART_OK);
	ck_assert_uint_eq(len, len2);
	ck_assert_int_eq(memcmp(doc, again, len), 0);
	free(again);

	/* self-contained: the namespace is the only URL */
	ck_assert_uint_eq(count(doc, "http"), 1);
	p = strstr(doc, "http");
	ck_assert_int_eq(strncmp(p - 7, "xmlns=\"http://www.w3.org/2000/svg\"",
	    34), 0);
	expect_in(doc, absent, 0);
	ck_assert_uint_eq(count(doc, "<title>"), 1);
	ck_assert_uint_eq(count(doc, "<desc>"), 1);
	ck_assert_ptr_nonnull(strstr(doc, "As of 2026-12-01T00:00:00Z."));
	if (k->reason != NULL) {
		char want[256];

		snprintf(want, sizeof(want), ">%s</text>", k->reason);
		ck_assert_ptr_nonnull(strstr(doc, want));
		snprintf(want, sizeof(want), "No data: %s.</desc>", k->reason);
		ck_assert_ptr_nonnull(strstr(doc, want));
	} else {
		ck_assert_ptr_null(strstr(doc, "No data"));
		ck_assert_ptr_nonnull(strstr(doc, "(USD)</text>"));
	}

	dir = tmpdir_new();
	ck_assert_ptr_nonnull(dir);
	external_checks(k, dir, doc, len);
	tmpdir_free(dir);
	golden_check(k, doc, len);
	free(doc);
}
END_TEST

START_TEST(chart_content)
{
	char *doc;
	size_t len;

	/* the cascade chart: two panels, both markers with their values,
	 * SI labels on the fired volume axis, one dot per finite point */
	ck_assert_int_eq(render(&cases[0], 0, &doc, &len), CHART_OK);
	expect_in(doc, cascade_texts, 1);
	ck_assert_uint_eq(count(doc, "<circle"), 2 * NCURVE);
	ck_assert_uint_eq(count(doc, "<path"), 3);
	free(doc);
	/* the liquidation map: one rect per non-zero quantity, the
	 * background and the three legend swatches */
	ck_assert_int_eq(render(&cases[3], 0, &doc, &len), CHART_OK);
	{
		size_t i, n = 0;

		for (i = 0; i < NBINS; i++)
			n += (q_aave[i] > 0) + (q_comp[i] > 0) + (q_book[i] > 0);
		ck_assert_uint_eq(count(doc, "<rect"), n + 1 + 3);
	}
	ck_assert_ptr_nonnull(strstr(doc, ">aave-v3 (stored)</text>"));
	ck_assert_ptr_nonnull(strstr(doc, ">current price 1812</text>"));
	free(doc);
}
END_TEST

START_TEST(bad_input)
{
	struct chart_opts o;
	struct chart_line l;
	struct chart_bars b;
	struct chart_marker m = { CHART_MARK_Y, 1, "y", 0 };
	double bad_edges[NBINS + 1], neg[NBINS];
	char *doc = (char *)1;
	size_t len = 1;

	fixtures();
	chart_opts_init(&o);
	cascade_chart(&l);
	o.width = 100;
	ck_assert_int_eq(chart_line_svg(&l, &o, &doc, &len), CHART_EINVAL);
	ck_assert_ptr_null(doc);
	ck_assert_uint_eq(len, 0);
	chart_opts_init(&o);
	o.height = 5000;
	ck_assert_int_eq(chart_line_svg(&l, &o, &doc, &len), CHART_EINVAL);
	chart_opts_init(&o);
	cascade_series[2].panel = 2;
	ck_assert_int_eq(chart_line_svg(&l, &o, &doc, &len), CHART_EINVAL);
	cascade_chart(&l);
	cascade_series[0].y = NULL;
	ck_assert_int_eq(chart_line_svg(&l, &o, &doc, &len), CHART_EINVAL);
	cascade_chart(&l);
	l.nseries = CHART_MAX_SERIES + 1;
	ck_assert_int_eq(chart_line_svg(&l, &o, &doc, &len), CHART_EINVAL);
	cascade_chart(&l);
	m.value = NAN;
	l.markers = &m;
	l.nmarkers = 1;
	ck_assert_int_eq(chart_line_svg(&l, &o, &doc, &len), CHART_EINVAL);

	liq_chart(&b);
	memcpy(bad_edges, edges, sizeof(edges));
	bad_edges[10] = bad_edges[9];
	b.edges = bad_edges;
	ck_assert_int_eq(chart_bars_svg(&b, &o, &doc, &len), CHART_EINVAL);
	bad_edges[10] = NAN;
	ck_assert_int_eq(chart_bars_svg(&b, &o, &doc, &len), CHART_EINVAL);
	liq_chart(&b);
	memcpy(neg, q_aave, sizeof(neg));
	neg[3] = -1;
	liq_stacks[0].qty = neg;
	ck_assert_int_eq(chart_bars_svg(&b, &o, &doc, &len), CHART_EINVAL);
	liq_chart(&b);
	m.value = 1;
	b.markers = &m;	/* a horizontal marker on bars */
	b.nmarkers = 1;
	ck_assert_int_eq(chart_bars_svg(&b, &o, &doc, &len), CHART_EINVAL);
	liq_chart(&b);
	b.nbins = CHART_MAX_BINS + 1;
	ck_assert_int_eq(chart_bars_svg(&b, &o, &doc, &len), CHART_EINVAL);

	/* no bins or no stacks is not an error: the no-data chart */
	liq_chart(&b);
	b.nbins = 0;
	b.edges = NULL;
	ck_assert_int_eq(chart_bars_svg(&b, &o, &doc, &len), CHART_OK);
	ck_assert_ptr_nonnull(strstr(doc, ">no liquidation levels for ETH<"));
	free(doc);
	liq_chart(&b);
	b.nstacks = 0;
	ck_assert_int_eq(chart_bars_svg(&b, &o, &doc, &len), CHART_OK);
	ck_assert_ptr_nonnull(strstr(doc, ">no liquidation levels for ETH<"));
	free(doc);
	/* a line of only gaps has no data either */
	cascade_chart(&l);
	{
		double nan2[2] = { NAN, NAN }, one[2] = { 1, 2 };

		cascade_series[0] = (struct chart_series){ "x", one, nan2, 2,
			0, 0, 0, 0 };
		l.nseries = 1;
		ck_assert_int_eq(chart_line_svg(&l, &o, &doc, &len), CHART_OK);
		ck_assert_ptr_nonnull(strstr(doc, ">no cascade curve for "
		    "ETH<"));
		free(doc);
	}
}
END_TEST

/*
 * Every cap below the document's size (its NUL included) fails cleanly
 * with no document; the exact size succeeds with the same bytes.
 */
START_TEST(cap_is_enforced)
{
	const struct chart_case *k = &cases[_i];
	char *full, *doc;
	size_t len, l2, cap, stride;

	ck_assert_int_eq(render(k, 0, &full, &len), CHART_OK);
	stride = len / 97 + 1;
	for (cap = 1; cap <= len; cap += stride) {
		doc = (char *)1;
		ck_assert_int_eq(render(k, cap, &doc, &l2), CHART_ENOMEM);
		ck_assert_ptr_null(doc);
	}
	ck_assert_int_eq(render(k, len, &doc, &l2), CHART_ENOMEM);
	ck_assert_int_eq(render(k, len + 1, &doc, &l2), CHART_OK);
	ck_assert_uint_eq(l2, len);
	ck_assert_int_eq(memcmp(doc, full, len), 0);
	free(doc);
	free(full);
}
END_TEST

static Suite *
svg_suite(void)
{
	Suite *s = suite_create("svg");
	TCase *tc = tcase_create("emitter");

	tcase_add_test(tc, escape_specials);
	tcase_add_test(tc, escape_utf8);
	tcase_add_test(tc, number_format);
	tcase_add_test(tc, document_bytes);
	tcase_add_test(tc, emitter_errors);
	suite_add_tcase(s, tc);
	tc = tcase_create("axes");
	tcase_add_test(tc, nice_ticks);
	tcase_add_test(tc, tick_labels);
	suite_add_tcase(s, tc);
	tc = tcase_create("themes");
	tcase_add_loop_test(tc, theme_contrast, CHART_THEME_LIGHT,
	    CHART_THEME_DARK + 1);
	tcase_add_test(tc, options);
	suite_add_tcase(s, tc);
	tc = tcase_create("charts");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, chart_kind, 0, (int)NCASES);
	tcase_add_test(tc, chart_content);
	tcase_add_test(tc, bad_input);
	tcase_add_loop_test(tc, cap_is_enforced, 0, (int)NCASES);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(svg_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

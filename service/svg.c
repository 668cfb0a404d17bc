/*
 * svg.c - the SVG emitter of svg.h: one growable buffer (doubling, never
 * past the cap), a stack of open element names, and a sticky status.
 *
 * Numbers are formatted with integer arithmetic (llround of v * 10^prec,
 * then the integer and fraction digits with %lld), so no locale, no
 * exponent and no "-0" can reach the output.  Escaping decodes UTF-8 one
 * character at a time: the five XML specials become entities, invalid
 * sequences, overlongs, surrogates and the C0 controls XML 1.0 forbids
 * (all but tab, newline and carriage return) become U+FFFD.
 */
#include "svg.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_LEN 16

struct svg {
	char *buf;
	size_t len;		/* bytes used, NUL excluded */
	size_t alloc;		/* bytes allocated */
	size_t cap;		/* most bytes allowed, NUL included */
	enum svg_status status;
	int in_tag;		/* the innermost start tag is still open */
	size_t depth;
	char names[SVG_MAX_DEPTH][NAME_LEN];
};

static const char replacement[] = "\xef\xbf\xbd";	/* U+FFFD */

struct svg *
svg_new(size_t cap)
{
	struct svg *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->cap = cap ? cap : SVG_DEFAULT_CAP;
	return s;
}

void
svg_free(struct svg *s)
{
	if (s == NULL)
		return;
	free(s->buf);
	free(s);
}

enum svg_status
svg_status(const struct svg *s)
{
	return s->status;
}

static void
fail(struct svg *s, enum svg_status st)
{
	if (s->status == SVG_OK)
		s->status = st;
}

/* Room for n more bytes and the NUL; 0 when there is. */
static int
reserve(struct svg *s, size_t n)
{
	size_t need, na;
	char *nb;

	if (s->status != SVG_OK)
		return -1;
	if (n > s->cap || s->len + 1 > s->cap - n) {
		fail(s, SVG_ENOMEM);
		return -1;
	}
	need = s->len + n + 1;
	if (need <= s->alloc)
		return 0;
	na = s->alloc ? s->alloc : 1024;
	while (na < need)
		na = na > s->cap / 2 ? s->cap : na * 2;
	if (na > s->cap)
		na = s->cap;
	nb = realloc(s->buf, na);
	if (nb == NULL) {
		fail(s, SVG_ENOMEM);
		return -1;
	}
	s->buf = nb;
	s->alloc = na;
	return 0;
}

static void
put(struct svg *s, const char *p, size_t n)
{
	if (reserve(s, n) != 0)
		return;
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

static void
puts_(struct svg *s, const char *p)
{
	put(s, p, strlen(p));
}

/*
 * The escaped form of the character at *p (advancing *p past it) into
 * out (at least 7 bytes); returns its length.
 */
static size_t
escape_one(const unsigned char **p, char *out)
{
	const unsigned char *c = *p;
	uint32_t cp;
	size_t n, i;
	const char *ent = NULL;

	switch (c[0]) {
	case '&': ent = "&amp;"; break;
	case '<': ent = "&lt;"; break;
	case '>': ent = "&gt;"; break;
	case '"': ent = "&quot;"; break;
	case '\'': ent = "&apos;"; break;
	default: break;
	}
	if (ent != NULL) {
		*p = c + 1;
		n = strlen(ent);
		memcpy(out, ent, n);
		return n;
	}
	if (c[0] < 0x80) {
		*p = c + 1;
		if (c[0] < 0x20 && c[0] != '\t' && c[0] != '\n' &&
		    c[0] != '\r')
			goto bad;
		out[0] = (char)c[0];
		return 1;
	}
	if (c[0] >= 0xc2 && c[0] <= 0xdf) {
		n = 2;
		cp = c[0] & 0x1fu;
	} else if (c[0] >= 0xe0 && c[0] <= 0xef) {
		n = 3;
		cp = c[0] & 0x0fu;
	} else if (c[0] >= 0xf0 && c[0] <= 0xf4) {
		n = 4;
		cp = c[0] & 0x07u;
	} else {
		*p = c + 1;
		goto bad;
	}
	for (i = 1; i < n; i++) {
		if ((c[i] & 0xc0) != 0x80) {
			/* resume at the byte that broke the sequence */
			*p = c + i;
			goto bad;
		}
		cp = (cp << 6) | (c[i] & 0x3fu);
	}
	*p = c + n;
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
	    cp == 0xfffe || cp == 0xffff)
		goto bad;
	memcpy(out, c, n);
	return n;
bad:
	memcpy(out, replacement, 3);
	return 3;
}

size_t
svg_escape(char *buf, size_t cap, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	char one[8];
	size_t n, len = 0, w = 0;
	int stop = 0;

	while (p != NULL && *p != '\0') {
		n = escape_one(&p, one);
		/* whole characters only: stop at the first that does not fit */
		if (!stop && w + n < cap) {
			memcpy(buf + w, one, n);
			w += n;
		} else {
			stop = 1;
		}
		len += n;
	}
	if (cap > 0)
		buf[w] = '\0';
	return len;
}

static void
put_escaped(struct svg *s, const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	char one[8];

	while (p != NULL && *p != '\0' && s->status == SVG_OK)
		put(s, one, escape_one(&p, one));
}

size_t
svg_fmt_num(char *buf, size_t cap, double v, int prec)
{
	static const double pow10[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6,
		1e7, 1e8, 1e9, 1e10, 1e11, 1e12 };
	long long m, ip, fp, scale;
	double a;
	int neg, n, i;
	char frac[24];

	if (prec < 0)
		prec = 0;
	if (prec > 12)
		prec = 12;
	if (!isfinite(v))
		v = 0;
	neg = v < 0;
	a = fabs(v);
	if (a > 1e15)
		a = 1e15;
	/* 1e15 * 10^prec must stay below 2^63 (about 9.2e18) */
	while (prec > 0 && a * pow10[prec] >= 9e18)
		prec--;
	m = llround(a * pow10[prec]);
	if (m == 0)
		neg = 0;
	scale = (long long)pow10[prec];
	ip = m / scale;
	fp = m % scale;
	if (fp == 0)
		return (size_t)snprintf(buf, cap, "%s%lld", neg ? "-" : "", ip);
	snprintf(frac, sizeof(frac), "%0*lld", prec, fp);
	for (i = prec; i > 0 && frac[i - 1] == '0'; i--)
		frac[i - 1] = '\0';
	n = snprintf(buf, cap, "%s%lld.%s", neg ? "-" : "", ip, frac);
	return n < 0 ? 0 : (size_t)n;
}

static void
put_num(struct svg *s, double v, int prec)
{
	char b[SVG_NUM_LEN];

	put(s, b, svg_fmt_num(b, sizeof(b), v, prec));
}

/* The open start tag gets its '>' before content. */
static void
close_tag(struct svg *s)
{
	if (s->in_tag) {
		puts_(s, ">");
		s->in_tag = 0;
	}
}

/* An element or attribute name of at most max - 1 bytes. */
static int
valid_name(const char *name, size_t max)
{
	size_t i, n = strlen(name);

	if (n == 0 || n >= max)
		return 0;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9' && i > 0) || c == '-' || c == ':'))
			return 0;
	}
	return 1;
}

void
svg_open(struct svg *s, const char *name)
{
	if (s->status != SVG_OK)
		return;
	if (!valid_name(name, NAME_LEN) || s->depth >= SVG_MAX_DEPTH) {
		fail(s, SVG_EINVAL);
		return;
	}
	if (s->in_tag) {
		close_tag(s);
		puts_(s, "\n");
	}
	puts_(s, "<");
	puts_(s, name);
	memcpy(s->names[s->depth], name, strlen(name) + 1);
	s->depth++;
	s->in_tag = 1;
}

void
svg_attr(struct svg *s, const char *name, const char *value)
{
	if (s->status != SVG_OK)
		return;
	if (!s->in_tag || !valid_name(name, 64)) {
		fail(s, SVG_EINVAL);
		return;
	}
	puts_(s, " ");
	puts_(s, name);
	puts_(s, "=\"");
	put_escaped(s, value);
	puts_(s, "\"");
}

void
svg_attr_num(struct svg *s, const char *name, double v, int prec)
{
	char b[SVG_NUM_LEN];

	svg_fmt_num(b, sizeof(b), v, prec);
	svg_attr(s, name, b);
}

void
svg_chars(struct svg *s, const char *text)
{
	if (s->status != SVG_OK)
		return;
	if (s->depth == 0) {
		fail(s, SVG_EINVAL);
		return;
	}
	close_tag(s);
	put_escaped(s, text);
}

void
svg_end(struct svg *s)
{
	if (s->status != SVG_OK)
		return;
	if (s->depth == 0) {
		fail(s, SVG_EINVAL);
		return;
	}
	s->depth--;
	if (s->in_tag) {
		puts_(s, "/>\n");
		s->in_tag = 0;
		return;
	}
	puts_(s, "</");
	puts_(s, s->names[s->depth]);
	puts_(s, ">\n");
}

void
svg_doc_begin(struct svg *s, double width, double height,
    const char *font_family)
{
	if (s->status != SVG_OK)
		return;
	if (s->len != 0) {
		fail(s, SVG_EINVAL);
		return;
	}
	puts_(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
	svg_open(s, "svg");
	svg_attr(s, "xmlns", "http://www.w3.org/2000/svg");
	svg_attr_num(s, "width", width, SVG_COORD_PREC);
	svg_attr_num(s, "height", height, SVG_COORD_PREC);
	puts_(s, " viewBox=\"0 0 ");
	put_num(s, width, SVG_COORD_PREC);
	puts_(s, " ");
	put_num(s, height, SVG_COORD_PREC);
	puts_(s, "\"");
	svg_attr(s, "role", "img");
	if (font_family != NULL)
		svg_attr(s, "font-family", font_family);
}

void
svg_group(struct svg *s)
{
	svg_open(s, "g");
}

static void
coord(struct svg *s, const char *name, double v)
{
	svg_attr_num(s, name, v, SVG_COORD_PREC);
}

void
svg_rect(struct svg *s, double x, double y, double w, double h)
{
	svg_open(s, "rect");
	coord(s, "x", x);
	coord(s, "y", y);
	coord(s, "width", w < 0 ? 0 : w);
	coord(s, "height", h < 0 ? 0 : h);
}

void
svg_line(struct svg *s, double x1, double y1, double x2, double y2)
{
	svg_open(s, "line");
	coord(s, "x1", x1);
	coord(s, "y1", y1);
	coord(s, "x2", x2);
	coord(s, "y2", y2);
}

void
svg_circle(struct svg *s, double cx, double cy, double r)
{
	svg_open(s, "circle");
	coord(s, "cx", cx);
	coord(s, "cy", cy);
	coord(s, "r", r < 0 ? 0 : r);
}

void
svg_polyline(struct svg *s, const double *x, const double *y, size_t n)
{
	size_t i;

	svg_open(s, "polyline");
	if (s->status != SVG_OK)
		return;
	for (i = 0; i < n; i++) {
		if (!isfinite(x[i]) || !isfinite(y[i])) {
			fail(s, SVG_EINVAL);
			return;
		}
	}
	puts_(s, " points=\"");
	for (i = 0; i < n; i++) {
		if (i > 0)
			puts_(s, " ");
		put_num(s, x[i], SVG_COORD_PREC);
		puts_(s, ",");
		put_num(s, y[i], SVG_COORD_PREC);
	}
	puts_(s, "\"");
}

void
svg_path(struct svg *s, const double *x, const double *y, size_t n)
{
	size_t i;
	int pen = 0;		/* 1: the previous point was drawn */
	int any = 0;

	svg_open(s, "path");
	puts_(s, " d=\"");
	for (i = 0; i < n && s->status == SVG_OK; i++) {
		if (!isfinite(x[i]) || !isfinite(y[i])) {
			pen = 0;
			continue;
		}
		if (any)
			puts_(s, " ");
		puts_(s, pen ? "L" : "M");
		put_num(s, x[i], SVG_COORD_PREC);
		puts_(s, " ");
		put_num(s, y[i], SVG_COORD_PREC);
		pen = any = 1;
	}
	puts_(s, "\"");
}

void
svg_text(struct svg *s, double x, double y)
{
	svg_open(s, "text");
	coord(s, "x", x);
	coord(s, "y", y);
}

static void
text_element(struct svg *s, const char *name, const char *text)
{
	svg_open(s, name);
	svg_chars(s, text);
	svg_end(s);
}

void
svg_title(struct svg *s, const char *text)
{
	text_element(s, "title", text);
}

void
svg_desc(struct svg *s, const char *text)
{
	text_element(s, "desc", text);
}

enum svg_status
svg_finish(struct svg *s, char **out, size_t *len)
{
	enum svg_status st;

	*out = NULL;
	*len = 0;
	if (s->status == SVG_OK && (s->depth != 0 || s->len == 0))
		fail(s, SVG_EINVAL);
	st = s->status;
	if (st != SVG_OK)
		goto out;
	*out = s->buf;
	*len = s->len;
	s->buf = NULL;
	s->len = s->alloc = 0;
out:
	return st;
}

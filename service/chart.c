/*
 * chart.c - the line and stacked bar charts of chart.h, written with
 * svg.h.
 *
 * Layout (px, top to bottom): a heading (title left, "as of" right or on
 * a second line), the legend in rows that wrap at the width, the plot
 * box(es), the x tick labels and the x axis label.  The left margin is
 * the y axis label (rotated) plus the widest y tick label.  Text widths
 * are estimated at CHAR_EM of the font size per character (a sans-serif
 * average; DejaVu Sans is about 0.55-0.6), so tick labels are thinned
 * until they cannot overlap, and titles and legend entries are cut with
 * an ellipsis to fit.
 *
 * Axes (Heckbert, "Nice numbers for graph labels", Graphics Gems, 1990):
 * a tick step is 1, 2, 2.5 or 5 times a power of ten,
 *   range = nice_ceil(hi - lo), step = nice_round(range / (target - 1)),
 * and the ticks are the multiples of step from floor(lo / step) to
 * ceil(hi / step).  A y axis spans its first to last tick; an x axis
 * spans the data (and markers) exactly, with the ticks inside it.  The
 * number of ticks follows the size: about one per 40 px of height and
 * per 80 px of width, fewer while x labels would overlap.
 */
#include "chart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svg.h"

#define FONT "system-ui, sans-serif"
#define TITLE_PX 15.0
#define LABEL_PX 12.0
#define TICK_PX 11.0
#define PAD 12.0
#define CHAR_EM 0.6
#define ROW_PX 18.0		/* a legend row */
#define MAX_TICKS 64
#define TEXT_LEN 512		/* a label after fitting */
#define DESC_LEN 2048
#define MIN_PLOT_PX 60.0

static const struct chart_palette palettes[] = {
	/* light: white; Okabe-Ito with orange and sky blue darkened to
	 * reach 3:1 on white */
	{ "#ffffff", "#1a1a1a", "#595959", "#e0e0e0", "#767676",
	    { "#0072b2", "#d55e00", "#009e73", "#cc79a7", "#b47c00",
		"#3a8fc4", "#000000" } },
	/* dark: near black; Okabe-Ito as published */
	{ "#15171a", "#e8e8e8", "#a0a4a8", "#2e3238", "#8b9096",
	    { "#56b4e9", "#e69f00", "#009e73", "#f0e442", "#cc79a7",
		"#d55e00", "#0072b2" } },
};

struct axis {
	double lo, hi;		/* the span drawn */
	double ticks[MAX_TICKS];
	size_t nticks;
	double step;
	double max_abs;		/* the largest magnitude labelled */
};

struct box {
	double x, y, w, h;
};

struct draw {
	struct svg *s;
	const struct chart_palette *pal;
	const struct chart_frame *frame;
	double width, height;
	double top;		/* below the heading and legend */
};

enum swatch { SW_LINE, SW_DASHED, SW_BOX };

struct legend_item {
	const char *name;
	const char *colour;
	enum swatch kind;
};

/* ---- options ---------------------------------------------------- */

void
chart_opts_init(struct chart_opts *o)
{
	o->width = CHART_DEFAULT_WIDTH;
	o->height = CHART_DEFAULT_HEIGHT;
	o->theme = CHART_THEME_LIGHT;
	o->max_bytes = 0;
}

const char *
chart_opts_check(const struct chart_opts *o)
{
	if (o->width < CHART_MIN_SIZE || o->width > CHART_MAX_SIZE)
		return "width";
	if (o->height < CHART_MIN_SIZE || o->height > CHART_MAX_SIZE)
		return "height";
	if (o->theme != CHART_THEME_LIGHT && o->theme != CHART_THEME_DARK)
		return "theme";
	return NULL;
}

int
chart_theme_parse(const char *s, enum chart_theme *out)
{
	if (s != NULL && strcmp(s, "light") == 0)
		*out = CHART_THEME_LIGHT;
	else if (s != NULL && strcmp(s, "dark") == 0)
		*out = CHART_THEME_DARK;
	else
		return -1;
	return 0;
}

const struct chart_palette *
chart_palette(enum chart_theme t)
{
	return &palettes[t == CHART_THEME_DARK ? 1 : 0];
}

/* ---- numbers ---------------------------------------------------- */

/* Heckbert's nicenum with 2.5 added: ceil (round 0) or nearest. */
static double
nicenum(double x, int round)
{
	double e = floor(log10(x)), p = pow(10, e), f = x / p, nf;

	if (f >= 10) {
		p *= 10;
		f /= 10;
	} else if (f < 1) {
		p /= 10;
		f *= 10;
	}
	if (round)
		nf = f < 1.5 ? 1 : f < 2.25 ? 2 : f < 3.5 ? 2.5 : f < 7.5 ? 5 : 10;
	else
		nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
	return nf * p;
}

size_t
chart_nice_ticks(double lo, double hi, unsigned target, double *ticks,
    size_t cap, double *step)
{
	double range, d, k0, k1;
	size_t i, n;

	*step = 0;
	if (!isfinite(lo) || !isfinite(hi) || lo > hi)
		return 0;
	if (target < 2)
		target = 2;
	if (target > 20)
		target = 20;
	if (hi - lo <= 1e-12 * fmax(fabs(lo), fabs(hi))) {
		d = lo == 0 ? 1 : fabs(lo) * 0.01;
		lo -= d;
		hi += d;
	}
	range = nicenum(hi - lo, 0);
	d = nicenum(range / (double)(target - 1), 1);
	/* a tolerance so that 1812 / 0.2 = 9059.999... counts as 9060 */
	k0 = floor(lo / d + 1e-9);
	k1 = ceil(hi / d - 1e-9);
	n = (size_t)(k1 - k0) + 1;
	if (n > cap)
		n = cap;
	for (i = 0; i < n; i++)
		ticks[i] = (k0 + (double)i) * d;
	*step = d;
	return n;
}

size_t
chart_fmt_value(char *buf, size_t cap, double v, double step,
    double max_abs)
{
	double scale = 1, st, x;
	const char *suffix = "";
	char num[SVG_NUM_LEN];
	int dec;

	max_abs = fabs(max_abs);
	if (max_abs >= 1e12) {
		scale = 1e12;
		suffix = "T";
	} else if (max_abs >= 1e9) {
		scale = 1e9;
		suffix = "G";
	} else if (max_abs >= 1e6) {
		scale = 1e6;
		suffix = "M";
	} else if (max_abs >= 1e4) {
		scale = 1e3;
		suffix = "k";
	}
	st = fabs(step) / scale;
	if (!(st > 0) || !isfinite(st)) {
		dec = 2;
	} else {
		/* the fewest decimals that write the step exactly */
		for (dec = 0; dec < 9; dec++) {
			x = st * pow(10, dec);
			if (fabs(x - nearbyint(x)) <= 1e-6 * x)
				break;
		}
	}
	svg_fmt_num(num, sizeof(num), v / scale, dec);
	if (strcmp(num, "0") == 0)
		suffix = "";
	return (size_t)snprintf(buf, cap, "%s%s", num, suffix);
}

/* ---- text ------------------------------------------------------- */

static size_t
utf8_chars(const char *t)
{
	size_t n = 0;

	for (; t != NULL && *t != '\0'; t++)
		n += ((unsigned char)*t & 0xc0) != 0x80;
	return n;
}

static double
text_w(const char *t, double px)
{
	return (double)utf8_chars(t) * px * CHAR_EM;
}

/*
 * src cut at a character boundary so that it fits maxw px (and dst),
 * with an ellipsis when cut.
 */
static const char *
fit(char *dst, size_t cap, const char *src, double px, double maxw)
{
	size_t n = 0, chars = 0, keep;
	size_t len;

	if (src == NULL)
		src = "";
	len = strlen(src);
	if (text_w(src, px) <= maxw && len < cap)
		return src;
	keep = maxw > 0 ? (size_t)(maxw / (px * CHAR_EM)) : 0;
	keep = keep > 0 ? keep - 1 : 0;	/* room for the ellipsis */
	while (n < len && n + 4 + 3 < cap) {
		size_t step = 1;

		while (n + step < len &&
		    ((unsigned char)src[n + step] & 0xc0) == 0x80)
			step++;
		if (chars == keep)
			break;
		n += step;
		chars++;
	}
	memcpy(dst, src, n);
	memcpy(dst + n, "\xe2\x80\xa6", 4);	/* U+2026 and the NUL */
	return dst;
}

/* A text element: anchor "start", "middle" or "end". */
static void
text(struct draw *d, double x, double y, const char *anchor, double px,
    const char *fill, const char *t)
{
	svg_text(d->s, x, y);
	if (strcmp(anchor, "start") != 0)
		svg_attr(d->s, "text-anchor", anchor);
	svg_attr_num(d->s, "font-size", px, 1);
	svg_attr(d->s, "fill", fill);
	svg_chars(d->s, t);
	svg_end(d->s);
}

/* ---- frame: document, heading, legend, no data ------------------ */

/* Space under the lowest plot box: tick labels and the x axis label. */
static double
bottom_margin(void)
{
	return 6 + TICK_PX + 8 + LABEL_PX + PAD;
}

static void
doc_begin(struct draw *d, int has_data)
{
	const struct chart_frame *f = d->frame;
	char desc[DESC_LEN];
	size_t n = 0;

	svg_doc_begin(d->s, d->width, d->height, FONT);
	svg_title(d->s, f->title != NULL ? f->title : "chart");
	desc[0] = '\0';
	if (f->desc != NULL)
		n += (size_t)snprintf(desc + n, sizeof(desc) - n, "%s",
		    f->desc);
	if (f->as_of != NULL && n < sizeof(desc))
		n += (size_t)snprintf(desc + n, sizeof(desc) - n, "%sAs of %s.",
		    n > 0 ? " " : "", f->as_of);
	if (!has_data && n < sizeof(desc))
		snprintf(desc + n, sizeof(desc) - n, "%sNo data: %s.",
		    n > 0 ? " " : "", f->no_data != NULL ? f->no_data :
		    "nothing to draw");
	svg_desc(d->s, desc);
	svg_rect(d->s, 0, 0, d->width, d->height);
	svg_attr(d->s, "fill", d->pal->background);
	svg_end(d->s);
}

/* The heading; sets d->top below it. */
static void
heading(struct draw *d)
{
	const struct chart_frame *f = d->frame;
	char tb[TEXT_LEN], ab[TEXT_LEN], asof[TEXT_LEN];
	double avail = d->width - 2 * PAD, tw, aw = 0;
	double y = PAD + TITLE_PX;
	const char *t;

	asof[0] = '\0';
	if (f->as_of != NULL)
		snprintf(asof, sizeof(asof), "as of %s", f->as_of);
	if (asof[0] != '\0')
		aw = text_w(asof, TICK_PX);
	tw = text_w(f->title != NULL ? f->title : "", TITLE_PX);
	svg_text(d->s, PAD, y);
	svg_attr_num(d->s, "font-size", TITLE_PX, 1);
	svg_attr(d->s, "font-weight", "bold");
	svg_attr(d->s, "fill", d->pal->text);
	svg_chars(d->s, fit(tb, sizeof(tb), f->title, TITLE_PX, avail));
	svg_end(d->s);
	if (asof[0] != '\0') {
		t = fit(ab, sizeof(ab), asof, TICK_PX, avail);
		if (tw + aw + 24 <= avail) {
			text(d, d->width - PAD, y, "end", TICK_PX, d->pal->muted,
			    t);
		} else {
			y += TICK_PX + 5;
			text(d, PAD, y, "start", TICK_PX, d->pal->muted, t);
		}
	}
	d->top = y + 8;
}

/*
 * Rows taken by legend entries 0..k-1 and then the note more (when not
 * NULL), wrapping at the width; entry i at (xs[i], d->top + ys[i]) when
 * xs is not NULL (the note at index k).
 */
static size_t
legend_layout(const struct draw *d, const struct legend_item *it, size_t k,
    const char *more, double *xs, double *ys)
{
	double x = PAD, right = d->width - PAD, w;
	char nb[TEXT_LEN];
	const char *name;
	size_t rows = 1, i;

	for (i = 0; i <= k; i++) {
		if (i == k && more == NULL)
			break;
		name = i == k ? more : fit(nb, sizeof(nb), it[i].name,
		    LABEL_PX, right - PAD - 26);
		w = 26 + text_w(name, LABEL_PX);
		if (x > PAD && x + w > right) {
			x = PAD;
			rows++;
		}
		if (xs != NULL) {
			xs[i] = x;
			ys[i] = ROW_PX / 2 + (double)(rows - 1) * ROW_PX;
		}
		x += w + 18;
	}
	return rows;
}

/*
 * The legend in rows from d->top, moving d->top below it.  It leaves the
 * plot at least MIN_PLOT_PX: entries that do not fit are counted in a
 * "+N more" note instead.
 */
static void
legend(struct draw *d, const struct legend_item *it, size_t n)
{
	double xs[CHART_MAX_SERIES + 1], ys[CHART_MAX_SERIES + 1], room;
	char nb[TEXT_LEN], more[32];
	const char *note = NULL;
	size_t i, k = n, rows, max_rows;

	if (n == 0)
		return;
	room = d->height - bottom_margin() - MIN_PLOT_PX - d->top;
	max_rows = room >= 2 * ROW_PX ? (size_t)(room / ROW_PX) : 1;
	rows = legend_layout(d, it, n, NULL, NULL, NULL);
	while (rows > max_rows && k > 0) {
		k--;
		snprintf(more, sizeof(more), "+%zu more", n - k);
		note = more;
		rows = legend_layout(d, it, k, note, NULL, NULL);
	}
	legend_layout(d, it, k, note, xs, ys);
	svg_group(d->s);
	svg_attr_num(d->s, "font-size", LABEL_PX, 1);
	svg_attr(d->s, "fill", d->pal->text);
	for (i = 0; i < k; i++) {
		double x = xs[i], y = d->top + ys[i];

		if (it[i].kind == SW_BOX) {
			svg_rect(d->s, x + 4, y - 5, 12, 10);
			svg_attr(d->s, "fill", it[i].colour);
		} else {
			svg_line(d->s, x, y, x + 20, y);
			svg_attr(d->s, "stroke", it[i].colour);
			svg_attr(d->s, "stroke-width", "2.5");
			if (it[i].kind == SW_DASHED)
				svg_attr(d->s, "stroke-dasharray", "5 3");
		}
		svg_end(d->s);
		svg_text(d->s, x + 26, y + 4);
		svg_chars(d->s, fit(nb, sizeof(nb), it[i].name, LABEL_PX,
		    d->width - 3 * PAD - 26));
		svg_end(d->s);
	}
	svg_end(d->s);
	if (note != NULL)
		text(d, xs[k], d->top + ys[k] + 4, "start", LABEL_PX,
		    d->pal->muted, note);
	d->top += (double)rows * ROW_PX + 6;
}

/* The reason there is no picture, inside the plot area. */
static void
no_data(struct draw *d)
{
	const struct chart_frame *f = d->frame;
	char rb[TEXT_LEN];
	struct box b = { PAD, d->top, d->width - 2 * PAD,
		d->height - PAD - d->top };

	svg_rect(d->s, b.x, b.y, b.w, b.h);
	svg_attr(d->s, "fill", "none");
	svg_attr(d->s, "stroke", d->pal->grid);
	svg_attr(d->s, "stroke-dasharray", "6 4");
	svg_end(d->s);
	text(d, b.x + b.w / 2, b.y + b.h / 2 + 5, "middle", 14,
	    d->pal->muted, fit(rb, sizeof(rb),
		f->no_data != NULL ? f->no_data : "no data", 14, b.w - 16));
}

/*
 * Start a chart: the writer (capped at o->max_bytes), the theme, the
 * document with its <title>, <desc> and background, the heading, and
 * the no-data box when there is nothing to draw.  -1: out of memory.
 */
static int
draw_begin(struct draw *d, const struct chart_opts *o,
    const struct chart_frame *f, int has_data)
{
	memset(d, 0, sizeof(*d));
	d->s = svg_new(o->max_bytes);
	if (d->s == NULL)
		return -1;
	d->pal = chart_palette(o->theme);
	d->frame = f;
	d->width = o->width;
	d->height = o->height;
	doc_begin(d, has_data);
	heading(d);
	if (!has_data)
		no_data(d);
	return 0;
}

/*
 * Close the root and hand the document over (on CHART_OK); the writer's
 * ENOMEM and EINVAL become the chart's.  Frees the writer.
 */
static enum chart_status
draw_end(struct draw *d, enum chart_status st, char **out, size_t *len)
{
	enum svg_status ss;

	svg_end(d->s);
	if (st == CHART_OK) {
		ss = svg_finish(d->s, out, len);
		if (ss != SVG_OK)
			st = ss == SVG_ENOMEM ? CHART_ENOMEM : CHART_EINVAL;
	}
	svg_free(d->s);
	d->s = NULL;
	return st;
}

/* ---- axes ------------------------------------------------------- */

/*
 * Ticks for [lo, hi]: expand (y axes) spans the ticks, else the span
 * stays [lo, hi] (widened when empty) and only ticks inside it remain.
 */
static void
axis_make(struct axis *a, double lo, double hi, unsigned target, int expand)
{
	double t[MAX_TICKS], eps;
	size_t n, i;

	n = chart_nice_ticks(lo, hi, target, t, MAX_TICKS, &a->step);
	a->nticks = 0;
	a->max_abs = 0;
	if (n == 0) {
		a->lo = 0;
		a->hi = 1;
		return;
	}
	if (expand || hi - lo <= 1e-12 * fmax(fabs(lo), fabs(hi))) {
		lo = t[0];
		hi = t[n - 1];
	}
	a->lo = lo;
	a->hi = hi;
	eps = a->step * 1e-9;
	for (i = 0; i < n; i++) {
		if (t[i] < lo - eps || t[i] > hi + eps)
			continue;
		a->ticks[a->nticks++] = t[i];
		a->max_abs = fmax(a->max_abs, fabs(t[i]));
	}
}

static void
axis_label(const struct axis *a, double v, char *buf, size_t cap)
{
	chart_fmt_value(buf, cap, v, a->step, a->max_abs);
}

static double
axis_widest(const struct axis *a, double px)
{
	char b[64];
	double w = 0;
	size_t i;

	for (i = 0; i < a->nticks; i++) {
		axis_label(a, a->ticks[i], b, sizeof(b));
		w = fmax(w, text_w(b, px));
	}
	return w;
}

static unsigned
clampu(double v, unsigned lo, unsigned hi)
{
	return v < lo ? lo : v > hi ? hi : (unsigned)v;
}

/* An x axis over w px whose labels do not overlap. */
static void
axis_x(struct axis *a, double lo, double hi, double w)
{
	unsigned target = clampu(w / 80, 3, 10);

	for (;;) {
		axis_make(a, lo, hi, target, 0);
		if (target <= 2 || a->nticks < 2 ||
		    a->step / (a->hi - a->lo) * w >=
		    axis_widest(a, TICK_PX) + 12)
			break;
		target--;
	}
}

static void
axis_y(struct axis *a, double lo, double hi, double h)
{
	/* three ticks where they fit (a tick label is about 11 px high) */
	axis_make(a, lo, hi, clampu(h / 40, h >= 3 * (TICK_PX + 6) ? 3 : 2,
	    8), 1);
}

static double
map_x(const struct box *b, const struct axis *a, double v)
{
	return b->x + (v - a->lo) / (a->hi - a->lo) * b->w;
}

static double
map_y(const struct box *b, const struct axis *a, double v)
{
	return b->y + b->h - (v - a->lo) / (a->hi - a->lo) * b->h;
}

/* Left margin: the rotated y label, the widest tick label, the gap. */
static double
left_margin(const struct axis *a, const struct axis *b)
{
	double w = axis_widest(a, TICK_PX);

	if (b != NULL)
		w = fmax(w, axis_widest(b, TICK_PX));
	return PAD + LABEL_PX + 8 + w + 6;
}

/* Open the group of one axis's tick labels, anchored at `anchor`. */
static void
tick_group(struct draw *d, const char *anchor)
{
	svg_group(d->s);
	svg_attr_num(d->s, "font-size", TICK_PX, 1);
	svg_attr(d->s, "fill", d->pal->muted);
	svg_attr(d->s, "text-anchor", anchor);
}

/*
 * Grid, axis lines and labels of one plot box.  The x tick labels and
 * the x axis label only when xlabels (the lowest box).
 */
static void
plot_axes(struct draw *d, const struct box *b, const struct axis *ax,
    const struct axis *ay, const char *ylabel, int xlabels)
{
	char lb[64], tb[TEXT_LEN];
	double v, px;
	size_t i;

	svg_group(d->s);
	svg_attr(d->s, "stroke", d->pal->grid);
	svg_attr(d->s, "stroke-width", "1");
	for (i = 0; i < ay->nticks; i++) {
		v = map_y(b, ay, ay->ticks[i]);
		svg_line(d->s, b->x, v, b->x + b->w, v);
		svg_end(d->s);
	}
	for (i = 0; i < ax->nticks; i++) {
		v = map_x(b, ax, ax->ticks[i]);
		svg_line(d->s, v, b->y, v, b->y + b->h);
		svg_end(d->s);
	}
	svg_end(d->s);
	svg_group(d->s);
	svg_attr(d->s, "stroke", d->pal->axis);
	svg_attr(d->s, "stroke-width", "1");
	svg_line(d->s, b->x, b->y, b->x, b->y + b->h);
	svg_end(d->s);
	svg_line(d->s, b->x, b->y + b->h, b->x + b->w, b->y + b->h);
	svg_end(d->s);
	svg_end(d->s);

	tick_group(d, "end");
	for (i = 0; i < ay->nticks; i++) {
		axis_label(ay, ay->ticks[i], lb, sizeof(lb));
		svg_text(d->s, b->x - 6, map_y(b, ay, ay->ticks[i]) + 4);
		svg_chars(d->s, lb);
		svg_end(d->s);
	}
	svg_end(d->s);
	/* the y axis label, rotated, centred on the box */
	px = PAD + LABEL_PX - 2;
	v = b->y + b->h / 2;
	svg_text(d->s, px, v);
	svg_attr(d->s, "text-anchor", "middle");
	svg_attr_num(d->s, "font-size", LABEL_PX, 1);
	svg_attr(d->s, "fill", d->pal->text);
	snprintf(tb, sizeof(tb), "rotate(-90 %d %d)", (int)lround(px),
	    (int)lround(v));
	/* integer centre: the rotation stays exact and deterministic */
	svg_attr(d->s, "transform", tb);
	/* it may reach a little past a short box, into the gap */
	svg_chars(d->s, fit(tb, sizeof(tb), ylabel, LABEL_PX, b->h + 24));
	svg_end(d->s);
	if (!xlabels)
		return;

	tick_group(d, "middle");
	for (i = 0; i < ax->nticks; i++) {
		axis_label(ax, ax->ticks[i], lb, sizeof(lb));
		svg_text(d->s, map_x(b, ax, ax->ticks[i]),
		    b->y + b->h + 6 + TICK_PX);
		svg_chars(d->s, lb);
		svg_end(d->s);
	}
	svg_end(d->s);
	text(d, b->x + b->w / 2, d->height - PAD, "middle", LABEL_PX,
	    d->pal->text, fit(tb, sizeof(tb), d->frame->x_label, LABEL_PX,
		b->w));
}

/* ---- markers ---------------------------------------------------- */

static int
markers_ok(const struct chart_marker *m, size_t n, int only_x)
{
	size_t i;

	if (n > CHART_MAX_MARKERS || (n > 0 && m == NULL))
		return 0;
	for (i = 0; i < n; i++) {
		if (!isfinite(m[i].value) || m[i].panel < 0 ||
		    m[i].panel > 1)
			return 0;
		if (m[i].dir != CHART_MARK_X &&
		    (only_x || m[i].dir != CHART_MARK_Y))
			return 0;
	}
	return 1;
}

/* Widen [*lo, *hi] by the markers along dir (in panel, for y). */
static void
markers_span(const struct chart_marker *m, size_t n, enum chart_axis_dir dir,
    int panel, double *lo, double *hi)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (m[i].dir != dir || (dir == CHART_MARK_Y &&
		    m[i].panel != panel))
			continue;
		*lo = fmin(*lo, m[i].value);
		*hi = fmax(*hi, m[i].value);
	}
}

/* "label value", the value with a tenth of the axis step. */
static void
marker_text(const struct chart_marker *m, const struct axis *a, char *buf,
    size_t cap)
{
	char v[64];

	chart_fmt_value(v, sizeof(v), m->value, a->step / 10,
	    fmax(a->max_abs, fabs(m->value)));
	snprintf(buf, cap, "%s%s%s", m->label != NULL ? m->label : "",
	    m->label != NULL ? " " : "", v);
}

static void
marker_label(struct draw *d, double x, double y, const char *anchor,
    const char *t)
{
	svg_text(d->s, x, y);
	if (strcmp(anchor, "start") != 0)
		svg_attr(d->s, "text-anchor", anchor);
	/* a halo in the background colour keeps it readable over lines */
	svg_attr(d->s, "stroke", d->pal->background);
	svg_attr(d->s, "stroke-width", "3");
	svg_attr(d->s, "paint-order", "stroke");
	svg_chars(d->s, t);
	svg_end(d->s);
}

/*
 * Vertical markers across boxes top (first) to bottom (last); horizontal
 * markers in their panel's box.
 */
static void
markers_draw(struct draw *d, const struct chart_marker *m, size_t n,
    const struct box *boxes, const struct axis *ax, const struct axis *ays,
    size_t nboxes)
{
	const struct box *top = &boxes[0], *bot = &boxes[nboxes - 1];
	char tb[TEXT_LEN], tl[TEXT_LEN];
	double x = 0, y = 0, w;
	size_t i, k = 0;

	if (n == 0)
		return;
	svg_group(d->s);
	svg_attr_num(d->s, "font-size", TICK_PX, 1);
	svg_attr(d->s, "fill", d->pal->text);
	for (i = 0; i < n; i++) {
		const struct box *b = top;
		const struct axis *ay;

		if (m[i].dir == CHART_MARK_X) {
			x = map_x(top, ax, m[i].value);
			svg_line(d->s, x, top->y, x, bot->y + bot->h);
			marker_text(&m[i], ax, tb, sizeof(tb));
		} else {
			/* a lower panel without series is not drawn */
			if ((size_t)m[i].panel >= nboxes)
				continue;
			b = &boxes[m[i].panel];
			ay = &ays[m[i].panel];
			y = map_y(b, ay, m[i].value);
			svg_line(d->s, b->x, y, b->x + b->w, y);
			marker_text(&m[i], ay, tb, sizeof(tb));
		}
		svg_attr(d->s, "stroke", d->pal->text);
		svg_attr(d->s, "stroke-width", "1.25");
		svg_attr(d->s, "stroke-dasharray", "4 3");
		svg_end(d->s);
		w = text_w(tb, TICK_PX);
		if (m[i].dir == CHART_MARK_X) {
			double rr = top->x + top->w - (x + 4);
			double rl = x - 4 - top->x;

			/* staggered down the top box so labels never meet;
			 * right of the line, else left, else cut to fit */
			y = top->y + TICK_PX + 2 + (TICK_PX + 4) * (double)k++;
			if (w <= rr || rr >= rl)
				marker_label(d, x + 4, y, "start",
				    fit(tl, sizeof(tl), tb, TICK_PX, rr));
			else
				marker_label(d, x - 4, y, "end",
				    fit(tl, sizeof(tl), tb, TICK_PX, rl));
		} else {
			marker_label(d, b->x + b->w - 4, y - 4, "end", tb);
		}
	}
	svg_end(d->s);
}

/* ---- the line chart --------------------------------------------- */

static int
series_ok(const struct chart_series *s, size_t n)
{
	size_t i;

	if (n > CHART_MAX_SERIES || (n > 0 && s == NULL))
		return 0;
	for (i = 0; i < n; i++)
		if ((s[i].n > 0 && (s[i].x == NULL || s[i].y == NULL)) ||
		    s[i].panel < 0 || s[i].panel > 1)
			return 0;
	return 1;
}

/* Extent of the finite points of the series in panel (-1: any). */
static size_t
series_span(const struct chart_series *s, size_t n, int panel, double *xlo,
    double *xhi, double *ylo, double *yhi)
{
	size_t i, j, cnt = 0;

	*xlo = *ylo = INFINITY;
	*xhi = *yhi = -INFINITY;
	for (i = 0; i < n; i++) {
		if (panel >= 0 && s[i].panel != panel)
			continue;
		for (j = 0; j < s[i].n; j++) {
			if (!isfinite(s[i].x[j]) || !isfinite(s[i].y[j]))
				continue;
			*xlo = fmin(*xlo, s[i].x[j]);
			*xhi = fmax(*xhi, s[i].x[j]);
			*ylo = fmin(*ylo, s[i].y[j]);
			*yhi = fmax(*yhi, s[i].y[j]);
			cnt++;
		}
	}
	return cnt;
}

/* An empty span (no points) becomes [0, 1]. */
static void
span_default(double *lo, double *hi)
{
	if (*lo > *hi) {
		*lo = 0;
		*hi = 1;
	}
}

/* The colour of series s at position i of its list. */
static const char *
series_colour(const struct draw *d, const struct chart_series *s, size_t i)
{
	size_t k = s->colour > 0 ? (size_t)(s->colour - 1) : i;

	return d->pal->series[k % CHART_NCOLOURS];
}

static enum chart_status
draw_series(struct draw *d, const struct chart_series *s, size_t i,
    const struct box *b, const struct axis *ax, const struct axis *ay)
{
	const char *colour = series_colour(d, s, i);
	double *px = NULL, *py = NULL;
	enum chart_status st = CHART_OK;
	size_t j;

	if (s->n == 0)
		goto out;
	px = malloc(s->n * sizeof(*px));
	py = malloc(s->n * sizeof(*py));
	if (px == NULL || py == NULL) {
		st = CHART_ENOMEM;
		goto out;
	}
	for (j = 0; j < s->n; j++) {
		int ok = isfinite(s->x[j]) && isfinite(s->y[j]);

		px[j] = ok ? map_x(b, ax, s->x[j]) : (double)NAN;
		py[j] = ok ? map_y(b, ay, s->y[j]) : (double)NAN;
	}
	svg_path(d->s, px, py, s->n);
	svg_attr(d->s, "fill", "none");
	svg_attr(d->s, "stroke", colour);
	svg_attr(d->s, "stroke-width", "2");
	svg_attr(d->s, "stroke-linejoin", "round");
	if (s->dashed)
		svg_attr(d->s, "stroke-dasharray", "6 4");
	svg_end(d->s);
	if (!s->points)
		goto out;
	svg_group(d->s);
	svg_attr(d->s, "fill", colour);
	for (j = 0; j < s->n; j++)
		if (isfinite(px[j]) && isfinite(py[j])) {
			svg_circle(d->s, px[j], py[j], 3);
			svg_end(d->s);
		}
	svg_end(d->s);
out:
	free(px);
	free(py);
	return st;
}

static void
legend_series(struct draw *d, const struct chart_series *s, size_t n)
{
	struct legend_item it[CHART_MAX_SERIES];
	size_t i, k = 0;

	for (i = 0; i < n; i++) {
		if (s[i].name == NULL)
			continue;
		it[k].name = s[i].name;
		it[k].colour = series_colour(d, &s[i], i);
		it[k++].kind = s[i].dashed ? SW_DASHED : SW_LINE;
	}
	legend(d, it, k);
}

enum chart_status
chart_line_svg(const struct chart_line *c, const struct chart_opts *o,
    char **out, size_t *len)
{
	struct draw d;
	struct box boxes[2];
	struct axis ax, ay[2];
	double xlo, xhi, ylo[2], yhi[2], t0, t1, bottom, left, total;
	size_t npanels = 1, i, npts;
	enum chart_status st = CHART_OK;

	*out = NULL;
	*len = 0;
	if (chart_opts_check(o) != NULL || !series_ok(c->series, c->nseries) ||
	    !markers_ok(c->markers, c->nmarkers, 0))
		return CHART_EINVAL;
	for (i = 0; i < c->nseries; i++)
		if (c->series[i].panel == 1)
			npanels = 2;
	npts = series_span(c->series, c->nseries, -1, &xlo, &xhi, &t0, &t1);
	if (draw_begin(&d, o, &c->frame, npts > 0) != 0)
		return CHART_ENOMEM;
	if (npts == 0)
		goto done;
	legend_series(&d, c->series, c->nseries);
	markers_span(c->markers, c->nmarkers, CHART_MARK_X, 0, &xlo, &xhi);
	for (i = 0; i < npanels; i++) {
		series_span(c->series, c->nseries, (int)i, &t0, &t1, &ylo[i],
		    &yhi[i]);
		markers_span(c->markers, c->nmarkers, CHART_MARK_Y, (int)i,
		    &ylo[i], &yhi[i]);
		span_default(&ylo[i], &yhi[i]);
		if (c->y_zero && ylo[i] > 0)
			ylo[i] = 0;
		if (c->y_zero && !(yhi[i] > ylo[i]))
			yhi[i] = ylo[i] + 1;
	}
	bottom = d.height - bottom_margin();
	total = bottom - d.top;
	if (npanels == 2) {
		boxes[0].h = (total - 14) * 0.62;
		boxes[1].h = total - 14 - boxes[0].h;
		boxes[0].y = d.top;
		boxes[1].y = d.top + boxes[0].h + 14;
	} else {
		boxes[0].h = total;
		boxes[0].y = d.top;
	}
	for (i = 0; i < npanels; i++)
		axis_y(&ay[i], ylo[i], yhi[i], boxes[i].h);
	left = left_margin(&ay[0], npanels == 2 ? &ay[1] : NULL);
	for (i = 0; i < npanels; i++) {
		boxes[i].x = left;
		boxes[i].w = d.width - PAD - 8 - left;
	}
	axis_x(&ax, xlo, xhi, boxes[0].w);
	for (i = 0; i < npanels; i++)
		plot_axes(&d, &boxes[i], &ax, &ay[i],
		    i == 0 ? c->frame.y_label : c->y2_label, i + 1 == npanels);
	for (i = 0; i < c->nseries && st == CHART_OK; i++) {
		size_t p = (size_t)c->series[i].panel;

		st = draw_series(&d, &c->series[i], i, &boxes[p], &ax, &ay[p]);
	}
	markers_draw(&d, c->markers, c->nmarkers, boxes, &ax, ay, npanels);
done:
	return draw_end(&d, st, out, len);
}

/* ---- the stacked bar chart -------------------------------------- */

static int
bars_ok(const struct chart_bars *c)
{
	size_t i, k;

	if (c->nbins > CHART_MAX_BINS || c->nstacks > CHART_MAX_SERIES ||
	    (c->nstacks > 0 && c->stacks == NULL) ||
	    (c->nbins > 0 && c->edges == NULL) ||
	    !markers_ok(c->markers, c->nmarkers, 1))
		return 0;
	for (i = 0; i < c->nbins; i++)
		if (!isfinite(c->edges[i]) || !isfinite(c->edges[i + 1]) ||
		    !(c->edges[i] < c->edges[i + 1]))
			return 0;
	for (k = 0; k < c->nstacks && c->nbins > 0; k++) {
		if (c->stacks[k].qty == NULL)
			return 0;
		for (i = 0; i < c->nbins; i++)
			if (!isfinite(c->stacks[k].qty[i]) ||
			    c->stacks[k].qty[i] < 0)
				return 0;
	}
	return 1;
}

static double
bin_total(const struct chart_bars *c, size_t i)
{
	double t = 0;
	size_t k;

	for (k = 0; k < c->nstacks; k++)
		t += c->stacks[k].qty[i];
	return t;
}

static void
draw_bars(struct draw *d, const struct chart_bars *c, const struct box *b,
    const struct axis *ax, const struct axis *ay)
{
	double x0, x1, gap, base, top;
	size_t i, k;

	for (k = 0; k < c->nstacks; k++) {
		svg_group(d->s);
		svg_attr(d->s, "fill", d->pal->series[k % CHART_NCOLOURS]);
		for (i = 0; i < c->nbins; i++) {
			double q = c->stacks[k].qty[i];

			if (q <= 0)
				continue;
			base = 0;
			for (size_t j = 0; j < k; j++)
				base += c->stacks[j].qty[i];
			x0 = map_x(b, ax, c->edges[i]);
			x1 = map_x(b, ax, c->edges[i + 1]);
			/* a hairline between bars when they are wide enough */
			gap = x1 - x0 > 4 ? 1 : 0;
			top = map_y(b, ay, base + q);
			svg_rect(d->s, x0 + gap / 2, top, x1 - x0 - gap,
			    map_y(b, ay, base) - top);
			svg_end(d->s);
		}
		svg_end(d->s);
	}
}

enum chart_status
chart_bars_svg(const struct chart_bars *c, const struct chart_opts *o,
    char **out, size_t *len)
{
	struct legend_item it[CHART_MAX_SERIES];
	struct draw d;
	struct box b;
	struct axis ax, ay;
	double ymax = 0, xlo, xhi;
	size_t i;
	enum chart_status st = CHART_OK;

	*out = NULL;
	*len = 0;
	if (chart_opts_check(o) != NULL || !bars_ok(c))
		return CHART_EINVAL;
	for (i = 0; i < c->nbins && c->nstacks > 0; i++)
		ymax = fmax(ymax, bin_total(c, i));
	if (draw_begin(&d, o, &c->frame, ymax > 0) != 0)
		return CHART_ENOMEM;
	if (!(ymax > 0))
		goto done;
	for (i = 0; i < c->nstacks; i++) {
		it[i].name = c->stacks[i].name != NULL ? c->stacks[i].name : "";
		it[i].colour = d.pal->series[i % CHART_NCOLOURS];
		it[i].kind = SW_BOX;
	}
	legend(&d, it, c->nstacks);
	xlo = c->edges[0];
	xhi = c->edges[c->nbins];
	markers_span(c->markers, c->nmarkers, CHART_MARK_X, 0, &xlo, &xhi);
	b.y = d.top;
	b.h = d.height - bottom_margin() - d.top;
	axis_y(&ay, 0, ymax, b.h);
	b.x = left_margin(&ay, NULL);
	b.w = d.width - PAD - 8 - b.x;
	axis_x(&ax, xlo, xhi, b.w);
	plot_axes(&d, &b, &ax, &ay, c->frame.y_label, 1);
	draw_bars(&d, c, &b, &ax, &ay);
	markers_draw(&d, c->markers, c->nmarkers, &b, &ax, &ay, 1);
done:
	return draw_end(&d, st, out, len);
}

/*
 * chart.h - the service's pictures as SVG documents: a line chart (one or
 * two panels sharing the x axis) and a stacked bar chart over bins, with
 * marker lines, axes at "nice" round ticks, unit labels, a legend, a
 * <title> and a <desc>.  Drawn from plain arrays the caller already has
 * (the numbers its JSON routes answer): nothing is computed again here.
 * Built on svg.h only.
 *
 * Every chart: width and height in CHART_MIN_SIZE..CHART_MAX_SIZE px, a
 * light or dark theme (Okabe-Ito colours, each at least 3:1 against its
 * background, text at least 7:1), a "no data" rendering that states the
 * reason inside the chart when there is nothing to draw, and the same
 * bytes for the same input (no time, randomness or addresses).
 *
 * Ownership: every input (structs, strings, arrays) is borrowed for the
 * call.  On CHART_OK, *out is a malloc'd NUL-terminated document the
 * caller frees with free(); on an error *out is NULL.  Reentrant.
 */
#ifndef CASCADED_CHART_H
#define CASCADED_CHART_H

#include <stddef.h>

#define CHART_MIN_SIZE 200
#define CHART_MAX_SIZE 4000
#define CHART_DEFAULT_WIDTH 800
#define CHART_DEFAULT_HEIGHT 450
#define CHART_NCOLOURS 7
/* Most series (line chart) or stacks (bar chart) drawn. */
#define CHART_MAX_SERIES 32
#define CHART_MAX_MARKERS 8
/* Most bins of a bar chart. */
#define CHART_MAX_BINS 1000

enum chart_status {
	CHART_OK = 0,
	CHART_EINVAL,		/* bad options or data: see the function */
	CHART_ENOMEM		/* out of memory or over opts.max_bytes */
};

enum chart_theme {
	CHART_THEME_LIGHT = 0,
	CHART_THEME_DARK
};

struct chart_opts {
	int width;		/* px, CHART_MIN_SIZE..CHART_MAX_SIZE */
	int height;
	enum chart_theme theme;
	size_t max_bytes;	/* cap on the document; 0: SVG_DEFAULT_CAP */
};

/* The defaults: 800 x 450, light, default cap. */
void chart_opts_init(struct chart_opts *o);
/*
 * NULL when o is valid, else the name of the first bad parameter
 * ("width", "height" or "theme"), for the caller's error report.
 */
const char *chart_opts_check(const struct chart_opts *o);
/* "light" or "dark" (exactly) into *out: 0; anything else: -1. */
int chart_theme_parse(const char *s, enum chart_theme *out);

/* The colours of a theme, as "#rrggbb" strings (static). */
struct chart_palette {
	const char *background;
	const char *text;	/* titles, labels, marker lines */
	const char *muted;	/* tick labels, as_of, the no-data reason */
	const char *grid;
	const char *axis;
	const char *series[CHART_NCOLOURS];	/* in order of use */
};
const struct chart_palette *chart_palette(enum chart_theme t);

/* What every chart says about itself.  All strings may be NULL. */
struct chart_frame {
	const char *title;	/* the heading and the <title> */
	const char *desc;	/* the <desc>: what the chart shows */
	const char *as_of;	/* the data's time, in the heading and <desc> */
	const char *x_label;	/* axis labels with units: "price (USD)" */
	const char *y_label;
	const char *no_data;	/* why there is nothing to draw ("no data") */
};

enum chart_axis_dir {
	CHART_MARK_X = 0,	/* a vertical line at x = value */
	CHART_MARK_Y		/* a horizontal line at y = value */
};

/*
 * A marker line, labelled "label value" (the value with a tenth of the
 * axis step).  Markers widen the axis range so that they are always
 * shown; a horizontal marker of panel 1 is left out when no series is in
 * panel 1.
 */
struct chart_marker {
	enum chart_axis_dir dir;
	double value;		/* finite */
	const char *label;
	int panel;		/* CHART_MARK_Y: 0 upper, 1 lower panel */
};

/*
 * One line: n points (x[i], y[i]); a non-finite x or y leaves a gap.
 * panel 1 draws it in a lower panel with its own y axis (y2_label),
 * under the same x axis.  points: mark every point with a dot.  dashed:
 * a dashed line (for example "without the cascade").  colour: 0 takes
 * the series' own position in the list, k > 0 the colour of position
 * k - 1 (the same figure in two panels shares its colour).  A series
 * without a name has no legend entry (another one names its look).
 */
struct chart_series {
	const char *name;	/* legend entry; NULL: none */
	const double *x;
	const double *y;
	size_t n;
	int panel;		/* 0 or 1 */
	int points;
	int dashed;
	int colour;		/* 0, or 1 + the position whose colour */
};

struct chart_line {
	struct chart_frame frame;
	const char *y2_label;	/* the lower panel's y axis, with unit */
	const struct chart_series *series;
	size_t nseries;		/* <= CHART_MAX_SERIES */
	const struct chart_marker *markers;
	size_t nmarkers;	/* <= CHART_MAX_MARKERS */
	/* each y axis starts at 0 (values >= 0: amounts) and reaches 1 */
	int y_zero;
};

/* One layer of the stacked bars: nbins quantities, finite and >= 0. */
struct chart_stack {
	const char *name;	/* legend entry */
	const double *qty;
};

/*
 * Bars over nbins bins [edges[i], edges[i+1]) (nbins + 1 finite edges,
 * strictly increasing), one stacked layer per source in order from the
 * axis up, and vertical markers (CHART_MARK_X only).
 */
struct chart_bars {
	struct chart_frame frame;
	const double *edges;
	size_t nbins;		/* <= CHART_MAX_BINS */
	const struct chart_stack *stacks;
	size_t nstacks;		/* <= CHART_MAX_SERIES */
	const struct chart_marker *markers;
	size_t nmarkers;	/* <= CHART_MAX_MARKERS */
};

/*
 * Render a chart.  CHART_EINVAL: chart_opts_check() fails, a count is
 * over its limit, a pointer needed for a count is NULL, a marker value
 * is not finite, a panel is not 0 or 1, or (bars) an edge or quantity is
 * not as stated above.  No points with finite coordinates (line), no
 * bins, no stacks or only zero quantities (bars): the frame with the
 * no_data reason, CHART_OK.
 */
enum chart_status chart_line_svg(const struct chart_line *c,
    const struct chart_opts *o, char **out, size_t *len);
enum chart_status chart_bars_svg(const struct chart_bars *c,
    const struct chart_opts *o, char **out, size_t *len);

/*
 * Ticks at round numbers (Heckbert's "nice numbers", steps 1, 2, 2.5 or
 * 5 times a power of ten) covering [lo, hi] with about target ticks
 * (2..20): the first tick is at or below lo, the last at or above hi.
 * lo == hi is widened first.  Writes at most cap ticks and the step;
 * returns the number of ticks (0 for non-finite input or lo > hi).
 */
size_t chart_nice_ticks(double lo, double hi, unsigned target,
    double *ticks, size_t cap, double *step);

/*
 * A tick label: v with the decimals that step needs, scaled by the SI
 * suffix k, M, G or T when max_abs (the largest magnitude on the axis)
 * reaches 1e4, 1e6, 1e9 or 1e12 ("20k", "1.5M"); "1812.2" otherwise.
 * Returns the length needed (snprintf semantics).
 */
size_t chart_fmt_value(char *buf, size_t cap, double v, double step,
    double max_abs);

#endif

/*
 * svg.h - a small SVG 1.1 emitter: a growable, capped buffer and
 * elements written in document order, with their attributes, XML-escaped
 * character data and deterministically formatted numbers.  Base layer:
 * it knows nothing of the rest of the service (charts are chart.c).
 *
 * Use: s = svg_new(cap); svg_doc_begin(s, w, h, font); then elements;
 * svg_end(s) for the root; svg_finish(s, &doc, &len); svg_free(s).
 * An element is opened by svg_open() (or a shape helper: svg_rect(),
 * svg_line(), ...), which leaves its start tag open: svg_attr*() add
 * attributes until the first child or character data, and svg_end()
 * closes the innermost open element ("/>" when it has no content).
 *
 * Errors are sticky (as stdio's ferror): the first failure (out of
 * memory, the cap reached, a call out of order) is recorded, every later
 * call does nothing, and svg_finish() reports it.  So a caller writes a
 * whole document and checks once.
 *
 * Text: every string (attribute values, character data) is escaped
 * (& < > " ' as entities); bytes that are not valid UTF-8 and control
 * characters XML 1.0 forbids become U+FFFD, so the output is always
 * well-formed.  Numbers: svg_fmt_num() - fixed precision, trailing zeros
 * dropped, never "-0", no exponent, independent of the locale.  Nothing
 * in the output depends on time, addresses or randomness: the same calls
 * give the same bytes.
 *
 * Ownership: strings and arrays passed in are borrowed for the call.
 * svg_finish() hands the document (malloc'd, NUL-terminated) to the
 * caller, who frees it with free().  struct svg is owned by its creator
 * and freed by svg_free() (NULL is a no-op).  Not thread-safe per
 * object; distinct objects are independent.
 */
#ifndef CASCADED_SVG_H
#define CASCADED_SVG_H

#include <stddef.h>

/* Default cap on a document, the NUL included (svg_new(0)). */
#define SVG_DEFAULT_CAP ((size_t)4 << 20)
/* Deepest element nesting accepted. */
#define SVG_MAX_DEPTH 16
/* Decimals of coordinates and lengths written by the helpers. */
#define SVG_COORD_PREC 2
/* Room for any svg_fmt_num() output, the NUL included. */
#define SVG_NUM_LEN 32

enum svg_status {
	SVG_OK = 0,
	SVG_EINVAL,	/* call out of order (attribute after content, ...) */
	SVG_ENOMEM	/* allocation failed or the cap was reached */
};

struct svg;

/*
 * A new empty writer whose document may hold at most cap bytes, its
 * terminating NUL included (0: SVG_DEFAULT_CAP).  NULL when out of
 * memory.
 */
struct svg *svg_new(size_t cap);
void svg_free(struct svg *s);
/* The first error so far, or SVG_OK. */
enum svg_status svg_status(const struct svg *s);

/*
 * Finish: on SVG_OK, *out is the document (malloc'd, NUL-terminated,
 * the caller's) and *len its length; the writer is left empty.  Every
 * element must have been closed (else SVG_EINVAL).  On an error *out is
 * NULL and *len 0.
 */
enum svg_status svg_finish(struct svg *s, char **out, size_t *len);

/*
 * The XML declaration and the open root element: xmlns, width, height,
 * viewBox "0 0 w h", and font-family when not NULL (a generic list such
 * as "system-ui, sans-serif": never a font by URL).
 */
void svg_doc_begin(struct svg *s, double width, double height,
    const char *font_family);

/* Open an element (name: letters, digits, '-' and ':'; under 16 bytes). */
void svg_open(struct svg *s, const char *name);
/* An attribute (name under 64 bytes) of the element whose start tag is
 * open; the value escaped. */
void svg_attr(struct svg *s, const char *name, const char *value);
/* A number attribute with prec decimals (svg_fmt_num). */
void svg_attr_num(struct svg *s, const char *name, double v, int prec);
/* Escaped character data inside the innermost open element. */
void svg_chars(struct svg *s, const char *text);
/* Close the innermost open element. */
void svg_end(struct svg *s);

/* Shapes: open the element with its geometry (coordinates at
 * SVG_COORD_PREC decimals); add style attributes, then svg_end(). */
void svg_group(struct svg *s);
void svg_rect(struct svg *s, double x, double y, double w, double h);
void svg_line(struct svg *s, double x1, double y1, double x2, double y2);
void svg_circle(struct svg *s, double cx, double cy, double r);
/* <polyline points="x,y ...">: n points, all finite (else SVG_EINVAL). */
void svg_polyline(struct svg *s, const double *x, const double *y, size_t n);
/*
 * <path d="M x y L x y ...">: a non-finite x or y ends the current run
 * and the next finite point starts a new one (a gap in the line).
 */
void svg_path(struct svg *s, const double *x, const double *y, size_t n);
/* <text x y>: open; attributes, then svg_chars() and svg_end(). */
void svg_text(struct svg *s, double x, double y);
/* Whole elements: <title>text</title>, <desc>text</desc>. */
void svg_title(struct svg *s, const char *text);
void svg_desc(struct svg *s, const char *text);

/*
 * v with prec decimals (0..12, clamped), rounded half away from zero,
 * trailing zeros and a trailing '.' dropped, "0" for anything that
 * rounds to zero (never "-0"), and "0" for NaN and infinities.
 * Magnitudes are clamped to 1e15.  Writes at most cap bytes (NUL
 * included; SVG_NUM_LEN is always enough) and returns the length it
 * needed, as snprintf.
 */
size_t svg_fmt_num(char *buf, size_t cap, double v, int prec);

/*
 * XML-escape text into buf (cap bytes, NUL included; truncated at a
 * character boundary when short).  Returns the length needed.
 */
size_t svg_escape(char *buf, size_t cap, const char *text);

#endif

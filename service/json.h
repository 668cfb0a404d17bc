/*
 * json.h - the JSON writing base of the service: a growing buffer with an
 * emitter that places the commas itself, and the shortest round-trip text
 * of a double.  Everything that writes JSON answers by hand (the codecs,
 * the handlers) writes through it; it knows no service type.
 *
 * Ownership: a json_buf owns its text until json_buf_take() hands it to
 * the caller (free() it); json_buf_free() drops it.  Strings passed in
 * are borrowed and copied.  Allocation failure sets `oom`: every later
 * call does nothing and json_buf_take() returns NULL, so a writer checks
 * once at the end.
 */
#ifndef CASCADED_JSON_H
#define CASCADED_JSON_H

#include <stddef.h>
#include <stdint.h>

/*
 * Shortest round-trip text of a finite double (the smallest precision
 * among 15, 16, 17 significant digits that strtod reads back exactly;
 * integral values below 2^53 as integers; -0 as 0).  buf >= 32 bytes.
 * Non-finite values give "null".  Returns the length.
 */
size_t json_format_double(char *buf, double v);

/*
 * The emitter: values and keys in document order, begin/end around
 * objects ('{', '}') and arrays ('[', ']'), at most JSON_BUF_DEPTH - 1
 * containers deep (deeper, the commas come out wrong).
 * Strings are escaped (", \ and control characters; other bytes, UTF-8
 * included, pass through).  Numbers: json_format_double.
 */
#define JSON_BUF_DEPTH 32
struct json_buf {
	char *p;
	size_t len;
	size_t cap;
	int oom;
	int depth;
	int after_key;
	unsigned char first[JSON_BUF_DEPTH];
};

/* cap: the first allocation (0: 256 bytes). */
void json_buf_init(struct json_buf *b, size_t cap);
void json_buf_free(struct json_buf *b);
/* Hand over the text (NUL-terminated); NULL when out of memory. */
char *json_buf_take(struct json_buf *b);
void json_buf_begin(struct json_buf *b, char open);
void json_buf_end(struct json_buf *b, char close);
void json_buf_key(struct json_buf *b, const char *key);
void json_buf_num(struct json_buf *b, double v);
void json_buf_int(struct json_buf *b, int64_t v);
void json_buf_str(struct json_buf *b, const char *s);
void json_buf_bool(struct json_buf *b, int v);
void json_buf_null(struct json_buf *b);

#endif

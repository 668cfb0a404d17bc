/*
 * log.c - JSON lines on stderr, one write(2) per line.
 *
 * Lines are built in a fixed 4 KiB buffer; a value that does not fit is
 * cut and the line closed properly, so readers can always parse a line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "rfc3339.h"

#define LINE_MAX_BYTES 4096

static enum log_level min_level = LOG_LVL_INFO;
static int log_fd = 2;
static _Thread_local const char *cur_request_id;

struct line {
	char buf[LINE_MAX_BYTES];
	size_t n;
	int full;
};

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int
log_parse_level(const char *s, enum log_level *out)
{
	size_t i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = LOG_LVL_WARN;
		return 0;
	}
	return -1;
}

const char *
log_level_name(enum log_level lvl)
{
	return level_names[lvl <= LOG_LVL_ERROR ? lvl : LOG_LVL_ERROR];
}

void
log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

void
log_set_request_id(const char *id)
{
	cur_request_id = id;
}

void
log_set_fd(int fd)
{
	log_fd = fd;
}

int
log_enabled(enum log_level lvl)
{
	return lvl >= min_level;
}

/* Keep 8 bytes for the closing "}\n" and a cut string's quote. */
static void
put_raw(struct line *l, const char *s, size_t len)
{
	if (l->full)
		return;
	if (l->n + len + 8 > sizeof(l->buf)) {
		l->full = 1;
		return;
	}
	memcpy(l->buf + l->n, s, len);
	l->n += len;
}

static void
put_str(struct line *l, const char *s)
{
	const unsigned char *p;
	char esc[8];

	if (s == NULL) {
		put_raw(l, "null", 4);
		return;
	}
	put_raw(l, "\"", 1);
	for (p = (const unsigned char *)s; *p != '\0' && !l->full; p++) {
		if (l->n + 16 > sizeof(l->buf)) {
			/* cut: close the string and stop */
			l->buf[l->n++] = '"';
			l->full = 1;
			return;
		}
		switch (*p) {
		case '"': put_raw(l, "\\\"", 2); break;
		case '\\': put_raw(l, "\\\\", 2); break;
		case '\n': put_raw(l, "\\n", 2); break;
		case '\r': put_raw(l, "\\r", 2); break;
		case '\t': put_raw(l, "\\t", 2); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				snprintf(esc, sizeof(esc), "\\u%04x", *p);
				put_raw(l, esc, 6);
			} else {
				put_raw(l, (const char *)p, 1);
			}
		}
	}
	put_raw(l, "\"", 1);
}

static void
put_key(struct line *l, const char *k)
{
	/* a key must never end a line: leave room for it and some value */
	if (l->n + strlen(k) + 32 > sizeof(l->buf))
		l->full = 1;
	put_raw(l, ",", 1);
	put_str(l, k);
	put_raw(l, ":", 1);
}

static void
put_num(struct line *l, const char *k, long long v)
{
	char num[32];
	int n;

	put_key(l, k);
	n = snprintf(num, sizeof(num), "%lld", v);
	put_raw(l, num, (size_t)n);
}

static void
begin(struct line *l, enum log_level lvl)
{
	struct rfc3339_time now;
	char ts[RFC3339_MAX];

	l->n = 0;
	l->full = 0;
	rfc3339_now(&now, 6); /* microseconds */
	rfc3339_format(ts, sizeof(ts), &now);
	put_raw(l, "{\"time\":", 8);
	put_str(l, ts);
	put_key(l, "level");
	put_str(l, log_level_name(lvl));
}

static void
finish(struct line *l)
{
	ssize_t w;
	size_t off = 0;

	/* put_raw keeps room for these two bytes even when full */
	l->buf[l->n++] = '}';
	l->buf[l->n++] = '\n';
	while (off < l->n) {
		w = write(log_fd, l->buf + off, l->n - off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		off += (size_t)w;
	}
}

void
log_kv(enum log_level lvl, const char *msg, ...)
{
	struct line l;
	va_list ap;
	const char *k, *v;

	if (!log_enabled(lvl))
		return;
	begin(&l, lvl);
	put_key(&l, "msg");
	put_str(&l, msg);
	va_start(ap, msg);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		put_key(&l, k);
		put_str(&l, v);
	}
	va_end(ap);
	if (cur_request_id != NULL) {
		put_key(&l, "request_id");
		put_str(&l, cur_request_id);
	}
	finish(&l);
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!log_enabled(lvl))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_kv(lvl, msg, (const char *)NULL);
}

void
log_access(const struct log_access *a)
{
	struct line l;

	if (!log_enabled(LOG_LVL_INFO))
		return;
	begin(&l, LOG_LVL_INFO);
	put_key(&l, "msg");
	put_str(&l, "request");
	put_key(&l, "method");
	put_str(&l, a->method);
	put_key(&l, "path");
	put_str(&l, a->path);
	if (a->route != NULL) {
		put_key(&l, "route");
		put_str(&l, a->route);
	}
	put_num(&l, "status", a->status);
	put_num(&l, "duration_us", (long long)a->duration_us);
	put_key(&l, "request_id");
	put_str(&l, a->request_id);
	if (a->remote != NULL) {
		put_key(&l, "remote");
		put_str(&l, a->remote);
	}
	if (a->key_id != NULL) {
		put_key(&l, "key_id");
		put_str(&l, a->key_id);
	}
	put_num(&l, "bytes_in", (long long)a->bytes_in);
	put_num(&l, "bytes_out", (long long)a->bytes_out);
	finish(&l);
}

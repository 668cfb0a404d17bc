/*
 * log.h - structured logging: one JSON object per line on stderr.
 *
 * Every line is assembled in a bounded stack buffer and written with a
 * single write(2), so lines from concurrent threads never interleave.
 * Long values are truncated (the line stays valid JSON).  The level is a
 * process-wide setting made once at startup, before threads start; lines
 * below it are dropped before any formatting.
 *
 * Request ids: the server names the request a thread is working on with
 * log_set_request_id() (the HTTP handler, the compute-pool job), and every
 * line that thread logs meanwhile carries "request_id", so an error deep
 * in a handler can be tied to its access-log line.  Secrets (API keys)
 * are never passed to the logger; the access log names a key by its id.
 */
#ifndef CASCADED_LOG_H
#define CASCADED_LOG_H

#include <stdint.h>

enum log_level {
	LOG_LVL_DEBUG = 0,
	LOG_LVL_INFO,
	LOG_LVL_WARN,
	LOG_LVL_ERROR
};

/* "debug", "info", "warn", "error": 0 and *out set, else -1. */
int log_parse_level(const char *s, enum log_level *out);
const char *log_level_name(enum log_level lvl);
void log_set_level(enum log_level lvl);
/* Destination file descriptor (default 2). */
void log_set_fd(int fd);
int log_enabled(enum log_level lvl);

/*
 * One line {"time", "level", "msg", key: value...}: the variable part is
 * NULL-terminated pairs of const char * key and value (strings).
 */
void log_kv(enum log_level lvl, const char *msg, ...);

/*
 * Tag this thread's lines with a request id (borrowed: it must stay valid
 * until the next call; NULL clears).
 */
void log_set_request_id(const char *id);

/* printf-style message with no extra fields. */
void log_msg(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The access log line of one request (level info). */
struct log_access {
	const char *method;
	const char *path;
	int status;
	int64_t duration_us;
	const char *request_id;
	const char *remote;	/* client address, may be NULL */
	const char *route;	/* route template, NULL when none matched */
	const char *key_id;	/* API key id, NULL when none was used */
	uint64_t bytes_in;
	uint64_t bytes_out;
};
void log_access(const struct log_access *a);

#endif

/*
 * testlib.h - helpers shared by the service test suites: a tiny HTTP/1.1
 * client over loopback sockets (no libcurl), a child-process wrapper that
 * starts the real build/cascaded on an ephemeral port, and temporary
 * directories.  Every wait is bounded by a timeout.
 */
#ifndef CASCADED_TESTLIB_H
#define CASCADED_TESTLIB_H

#include <stddef.h>
#include <sys/types.h>

struct http_reply {
	int status;		/* 0: no valid answer */
	char *head;		/* status line and headers, NUL-terminated */
	char *body;		/* NUL-terminated (not counted in body_len) */
	size_t body_len;
};

/*
 * Send one request (with "Connection: close") and read the whole answer.
 * extra: more header lines, each ending in "\r\n", or NULL.  A body is
 * sent with Content-Length.  0 on success, -1 on a socket error/timeout.
 */
int http_request(unsigned port, const char *method, const char *path,
    const char *extra, const char *body, size_t body_len,
    struct http_reply *out, int timeout_ms);
/* Send raw bytes as the request and read the answer. */
int http_raw(unsigned port, const char *raw, size_t len,
    struct http_reply *out, int timeout_ms);
/* Copy of a header's value (case-insensitive name) into buf, or NULL. */
const char *http_header(const struct http_reply *r, const char *name,
    char *buf, size_t cap);
void http_reply_release(struct http_reply *r);

struct server_proc_drain;

/*
 * The child's stderr is a pipe that a thread of ours empties all the time
 * (a server blocked on a full pipe would stall every worker); the bytes
 * wait in the thread's buffer until server_proc_read_log() moves them to
 * log, which only the test's own thread touches (it may truncate it).
 */
struct server_proc {
	pid_t pid;
	int err_fd;		/* read end of the child's stderr (the
				 * drain thread's: do not read it) */
	unsigned port;
	char *log;		/* stderr collected so far, NUL-terminated */
	size_t log_len;
	struct server_proc_drain *drain;
};

/*
 * Start $CASCADED_BIN serve --listen 127.0.0.1:0 --db db [args...]
 * (args NULL-terminated, may be NULL) and wait up to timeout_ms for its
 * "listening" log line, which gives the port.  0 on success.
 */
int server_proc_start(struct server_proc *p, const char *db,
    const char *const *args, int timeout_ms);
/*
 * Append whatever the child wrote to stderr so far to p->log (never
 * blocks; the server never waits for it either).
 */
void server_proc_read_log(struct server_proc *p);
/*
 * Send sig and wait up to timeout_ms for the exit; SIGKILL after that.
 * Returns the exit status (0..255), 128+signal when killed, -1 on timeout.
 */
int server_proc_stop(struct server_proc *p, int sig, int timeout_ms);

/* Run argv (argv[0] a path) and return its exit status, -1 on error. */
int run_command(const char *const *argv, int timeout_ms);

/* mkdtemp under $TMPDIR or /tmp; the path is malloc'd. */
char *tmpdir_new(void);
/* rm -r of a directory made by tmpdir_new (one level deep); frees path. */
void tmpdir_free(char *path);
/* Path of the binary under test: $CASCADED_BIN or build/cascaded. */
const char *test_bin(void);

/*
 * The fixture of the suites that drive the server over HTTP, on their own
 * static srv, dir and db (cap bytes).  fixture_dir: a new temporary
 * directory in *dir and db = <dir>/<name>.  fixture_start: that, then the
 * server on db with args (srv->log says why it did not start).  Both 0,
 * or -1.  fixture_stop: SIGKILL to a running server, its log freed, the
 * directory removed; safe on a half-built fixture.
 */
int fixture_dir(char **dir, char *db, size_t cap, const char *name);
int fixture_start(struct server_proc *srv, char **dir, char *db, size_t cap,
    const char *name, const char *const *args, int timeout_ms);
void fixture_stop(struct server_proc *srv, char **dir, int timeout_ms);

#endif

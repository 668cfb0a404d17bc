/*
 * server.h - the HTTP server: libmicrohttpd daemon, router, per-request
 * context, body cap, CORS, API keys, problem+json errors, request ids and
 * the JSON access log.
 *
 * Adding endpoints: write handlers of type server_handler_fn and list them
 * in a static table of struct server_route; main.c registers each table
 * with server_add_routes() before server_start().  Example:
 *
 *	static void get_market(struct server_request *req,
 *	    struct server_response *res);
 *	const struct server_route market_routes[] = {
 *		{ "GET", "/v1/markets/{asset}", get_market, 0 },
 *		{ "PUT", "/v1/markets/{asset}", put_market,
 *		  SERVER_ROUTE_BODY | SERVER_ROUTE_AUTH },
 *	};
 *
 * Patterns are literal segments and {name} segments (one whole segment,
 * 1..SERVER_PARAM_MAX bytes, percent-decoded by MHD); the first route
 * whose pattern and method match wins.  Before a handler runs the server
 * has already answered: 404 (no pattern matches the path), 405 with Allow
 * (the path matches, the method does not), 401/403 (SERVER_ROUTE_AUTH
 * routes when API keys are configured), 413 (body over --max-body, by
 * Content-Length up front or while streaming), 415 (a non-empty body
 * whose Content-Type is not application/json or application/...+json, on
 * any route), OPTIONS and CORS preflights.  HEAD is routed
 * as GET (MHD drops the body).  With --protect-reads every route under
 * /v1/ needs a key as well (probes, /metrics and /openapi.json stay
 * open).  Handlers run on the HTTP polling threads: keep them short, and
 * hand anything slow (Monte Carlo) to the compute pool with
 * server_defer().
 *
 * A handler must fill the response: use server_respond_json(),
 * server_respond_problem() or server_respond_error().  A handler that
 * leaves it empty yields a 500 problem.  Every answer carries
 * X-Request-Id (the client's when it is 1-128 characters of [A-Za-z0-9._:-],
 * else generated) and, under CORS, the allow-origin headers.
 *
 * Limits: --max-connections, --per-ip-limit and an inactivity timeout
 * (--timeout) come from MHD; MHD 0.9.75 has no total-time bound on a
 * request, so a client trickling bytes is only cut by the body cap.
 *
 * Lifetime: everything in struct server_request is valid only during the
 * handler call.  The response's body and headers are owned by the
 * response and freed by the server.
 */
#ifndef CASCADED_SERVER_H
#define CASCADED_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "problem.h"

#define SERVER_MAX_PARAMS 4
#define SERVER_PARAM_MAX 128
#define SERVER_MAX_HEADERS 8
#define SERVER_REQUEST_ID_MAX 128

struct server;
struct pool;
struct MHD_Connection;

/* Route flags. */
#define SERVER_ROUTE_BODY 0x1	/* takes a JSON body (documentation) */
#define SERVER_ROUTE_AUTH 0x2	/* needs an API key when keys are set */

struct server_param {
	const char *name;	/* as in the pattern, without braces */
	const char *value;
};

struct server_request {
	const char *method;	/* "GET", "PUT"... (HEAD arrives as "GET") */
	const char *path;	/* decoded path, no query string */
	size_t nparams;
	struct server_param params[SERVER_MAX_PARAMS];
	const char *body;	/* not NUL-terminated; NULL when empty */
	size_t body_len;
	const char *content_type;	/* NULL when absent */
	const char *request_id;
	const char *client_addr;	/* "127.0.0.1" / "::1" */
	int draining;		/* the server is shutting down */
	void *app;		/* the pointer given to server_new() */
	struct server *server;
	struct MHD_Connection *conn;	/* for server_query / server_header */
	const char *key_id;	/* id of the API key used (8 hex), or NULL */
	void *priv;		/* the server's own: do not touch */
};

struct server_header {
	char *name;
	char *value;
};

struct server_response {
	int status;			/* 0: not filled */
	const char *content_type;	/* static string */
	char *body;			/* malloc'd, owned */
	size_t body_len;
	size_t nheaders;
	struct server_header headers[SERVER_MAX_HEADERS];
};

typedef void (*server_handler_fn)(struct server_request *req,
    struct server_response *res);

struct server_route {
	const char *method;
	const char *pattern;
	server_handler_fn fn;
	unsigned flags;
};

/*
 * Create a server from the configuration (not yet listening).  app is
 * handed to every handler as req->app.  NULL on failure (logged).
 */
struct server *server_new(const struct config *cfg, void *app);
/*
 * Register a route table (borrowed: it must outlive the server; a static
 * const array).  Up to 32 tables.  0, or -1 when full.
 */
int server_add_routes(struct server *srv, const struct server_route *routes,
    size_t n);
/*
 * A function every response passes just before it is sent (any thread,
 * handlers' and early answers alike), with the app of server_new(): it
 * may rewrite the body or add headers.  Set it before server_start().
 */
typedef void (*server_annotate_fn)(void *app, struct server_response *res);
void server_set_annotate(struct server *srv, server_annotate_fn fn);
/*
 * Bind and start the MHD daemon.  On success *port receives the port
 * actually bound (for --listen ...:0) and buf (may be NULL) the address as
 * "127.0.0.1:PORT" / "[::1]:PORT".  0 on success, -1 on failure (logged).
 */
int server_start(struct server *srv, char *buf, size_t cap, unsigned *port);
/*
 * Graceful stop: readiness turns 503 (req->draining), stop accepting,
 * wait up to drain_seconds for open connections to finish, then stop MHD.
 * Safe to call once after server_start().
 */
void server_drain(struct server *srv, double drain_seconds);
/* Free (stops the daemon if still running).  NULL is a no-op. */
void server_free(struct server *srv);
int server_is_draining(const struct server *srv);

/* Path parameter by name (from the pattern), or NULL. */
const char *server_param(const struct server_request *req, const char *name);
/* Query argument by name (decoded), or NULL; "" for "?flag". */
const char *server_query(const struct server_request *req, const char *name);
/* Request header by name (case-insensitive), or NULL. */
const char *server_header(const struct server_request *req, const char *name);
/*
 * Call fn for every query argument in order; stop early when fn returns
 * non-zero.  Returns the number visited.
 */
size_t server_query_each(const struct server_request *req,
    int (*fn)(void *cls, const char *name, const char *value), void *cls);

/* Take ownership of a malloc'd body (NULL: empty) with a content type. */
void server_respond(struct server_response *res, int status,
    const char *content_type, char *body, size_t len);
/* Copy a NUL-terminated JSON text as the body (application/json). */
void server_respond_json(struct server_response *res, int status,
    const char *json);
/* Render p (problem+json; status p->status). */
void server_respond_problem(struct server_response *res,
    const struct problem *p, const char *instance);
/* Shortcut: a problem with status, type slug and printf detail. */
void server_respond_error(struct server_response *res, int status,
    const char *slug, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Add a header (copied); -1 when full or out of memory. */
int server_add_header(struct server_response *res, const char *name,
    const char *value);
/* Free body and headers; the response becomes empty. */
void server_response_release(struct server_response *res);

/*
 * Deferred work: the compute pool (docs/model.md 5.2).
 *
 * A handler that calls server_defer() and gets 0 leaves `res` empty and
 * returns at once: the connection is suspended, work(arg, threads, wres)
 * runs on a compute-pool thread and fills wres exactly as a handler fills
 * its response (server_respond_*, server_add_header), then release(arg)
 * runs (also on the pool thread), the connection is resumed and the
 * server sends wres.  `threads` is the Monte Carlo thread count the pool
 * suggests for this job (>= 1, see pool.h).  The work must not use `req`
 * (it is gone by then): copy what it needs into arg first.
 *
 * On -1 the job was not queued and `res` already holds the answer: 503
 * with Retry-After: 1 when the pool is saturated (problem type
 * "saturated") or shutting down, 500 when called twice or outside a
 * handler; release(arg) has been called.  Either way arg belongs to the
 * server from the call on.  On shutdown a job still queued is dropped
 * (release runs, the answer is 503) and the answer of one still running
 * when the drain deadline passes is a 503; the job then finishes on its
 * own and its result is discarded.  release may be NULL.
 */
typedef void (*server_work_fn)(void *arg, unsigned threads,
    struct server_response *res);
typedef void (*server_release_fn)(void *arg);

int server_defer(struct server_request *req, struct server_response *res,
    server_work_fn work, server_release_fn release, void *arg);

/* The compute pool (NULL before server_start); for stats (pool.h). */
struct pool *server_pool(struct server *srv);

#endif

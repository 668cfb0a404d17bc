/*
 * server.c - libmicrohttpd 0.9.75 glue: daemon setup, the per-request
 * context, routing, body cap, CORS, API keys, responses and access log.
 *
 * MHD calls the access handler several times per request: first with the
 * headers only (we create the context, route, and reject an oversized
 * Content-Length at once, which closes the connection), then with body
 * pieces (appended to a capped buffer), and finally with
 * *upload_data_size == 0, when the response is queued.  Queueing on that
 * later call keeps the connection alive (HTTP-NOTES: a response queued on
 * the first call makes 0.9.75 close the connection).  The context is freed
 * in the request-completed callback, which also writes the access log line
 * and the request metrics and runs on timeouts and aborts too.
 *
 * Deferred work (server_defer): the handler's last call suspends the
 * connection (MHD_ALLOW_SUSPEND_RESUME) and hands a job to the compute
 * pool; the worker fills a struct server_response, then resumes the
 * connection, and MHD calls the access handler once more, which queues
 * that response.  A struct defer is shared by the request and the worker:
 * srv->dmu guards its flags and the list of suspended jobs, and whichever
 * side finishes last frees it.  The connection is suspended while the
 * job is submitted under srv->dmu, so a worker can never resume a
 * connection that is not suspended yet.  On drain, queued jobs are
 * cancelled (503) and connections whose job still runs are resumed with
 * a 503 before MHD_stop_daemon (0.9.75 must not stop with suspended
 * connections); such a job finishes on its own and frees itself.
 *
 * API keys are never compared as strings: each configured key is hashed
 * once with SHA-256 (nettle, see digest.h) under a per-process random
 * salt, a presented key is hashed the same way, and the 32-byte digests
 * of every configured key are compared in constant time, so neither the
 * timing nor an early exit tells anything about a key's length or
 * content.  The access log names
 * a key only by an 8-hex-digit id, the start of SHA-256(key).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "digest.h"
#include "log.h"
#include "metrics.h"
#include "pool.h"
#include "server.h"

#define MAX_TABLES 32
#define ALLOW_MAX 96

#define KEY_ID_LEN 8

struct defer;

struct api_key {
	unsigned char digest[DIGEST_SHA256_LEN];	/* SHA-256(salt || key) */
	char id[KEY_ID_LEN + 1];		/* hex of SHA-256(key) */
};

struct server {
	const struct config *cfg;
	void *app;
	const struct server_route *tables[MAX_TABLES];
	size_t table_len[MAX_TABLES];
	int *metric_ids[MAX_TABLES];	/* per route: metrics label id */
	size_t ntables;
	struct MHD_Daemon *d;
	atomic_int draining;
	atomic_ullong next_id;
	unsigned id_prefix;
	MHD_socket quiesced;
	/* API keys */
	unsigned char salt[32];
	struct api_key *keys;
	size_t nkeys;
	/* deferred work */
	struct pool *pool;
	pthread_mutex_t dmu;
	struct defer *suspended;	/* jobs whose connection is suspended */
	int stopped;			/* daemon stopped and pool shut */
	server_annotate_fn annotate;	/* every response passes it, NULL */
};

/* A job handed to the pool (see the top of the file). */
struct defer {
	struct server *srv;
	struct MHD_Connection *conn;
	server_work_fn work;
	server_release_fn release;
	void *arg;
	struct server_response res;
	char request_id[SERVER_REQUEST_ID_MAX + 1];
	int suspended;		/* in srv->suspended, connection suspended */
	int finished;		/* res is final (worked or cancelled) */
	int request_gone;	/* the request context was freed */
	struct defer *prev, *next;
};

struct ctx {
	struct timespec start;
	char *method;
	char *path;
	char request_id[SERVER_REQUEST_ID_MAX + 1];
	char client[INET6_ADDRSTRLEN];
	const struct server_route *route;
	int metric_id;		/* route label of the metrics, 0 unmatched */
	int early_status;	/* decided before the handler: 404/405/413 */
	int preflight;		/* OPTIONS */
	char allow[ALLOW_MAX];
	size_t nparams;
	char pname[SERVER_MAX_PARAMS][32];
	char pvalue[SERVER_MAX_PARAMS][SERVER_PARAM_MAX + 1];
	char *body;
	size_t len;
	size_t alloc;		/* allocated bytes of body */
	size_t cap;		/* --max-body */
	uint64_t bytes_in;
	int queued;
	int status;
	uint64_t bytes_out;
	struct defer *defer;	/* deferred to the compute pool */
	char key_id[KEY_ID_LEN + 1];	/* the API key used, "" none */
};

/* --- small helpers --------------------------------------------------- */

static int64_t
elapsed_us(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (int64_t)(t1.tv_sec - t0->tv_sec) * 1000000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000;
}

static int
valid_request_id(const char *s)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++) {
		char ch = s[n];

		if (n >= SERVER_REQUEST_ID_MAX)
			return 0;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
		    ch == ':' || ch == '-'))
			return 0;
	}
	return n > 0;
}

static int
is_json_type(const char *ct)
{
	const char *semi, *plus;
	size_t n;

	if (ct == NULL)
		return 0;
	while (*ct == ' ')
		ct++;
	semi = strchr(ct, ';');
	n = semi != NULL ? (size_t)(semi - ct) : strlen(ct);
	while (n > 0 && ct[n - 1] == ' ')
		n--;
	if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
		return 1;
	if (n > 17 && strncasecmp(ct, "application/", 12) == 0) {
		plus = ct + n - 5;
		if (strncasecmp(plus, "+json", 5) == 0)
			return 1;
	}
	return 0;
}

/* --- API keys: salted digests (digest.h), constant-time comparison --- */

static void
key_digest(const struct server *srv, const char *key, size_t len,
    unsigned char out[DIGEST_SHA256_LEN])
{
	digest_sha256_salted(srv->salt, sizeof(srv->salt), key, len, out);
}

/* Hash every configured key once; -1 out of memory. */
static int
keys_init(struct server *srv)
{
	char hex[DIGEST_SHA256_HEX_LEN + 1];
	size_t i;

	if (srv->cfg->napi_keys == 0)
		return 0;
	srv->keys = calloc(srv->cfg->napi_keys, sizeof(*srv->keys));
	if (srv->keys == NULL)
		return -1;
	for (i = 0; i < srv->cfg->napi_keys; i++) {
		const char *k = srv->cfg->api_keys[i];

		key_digest(srv, k, strlen(k), srv->keys[i].digest);
		digest_sha256_hex(k, strlen(k), hex);
		memcpy(srv->keys[i].id, hex, KEY_ID_LEN);
		srv->keys[i].id[KEY_ID_LEN] = '\0';
	}
	srv->nkeys = srv->cfg->napi_keys;
	return 0;
}

/*
 * Index of the configured key matching `key` (len bytes), or -1.  Every
 * configured digest is compared in full whatever matches, so the time
 * depends only on the presented length and the number of keys.
 */
static long
key_lookup(const struct server *srv, const char *key, size_t len)
{
	unsigned char d[DIGEST_SHA256_LEN];
	size_t i;
	long found = -1, same;

	key_digest(srv, key, len, d);
	for (i = 0; i < srv->nkeys; i++) {
		same = digest_equal(d, sizeof(d), srv->keys[i].digest,
		    sizeof(srv->keys[i].digest));
		/* branch-free select of the first match */
		found += (same & (found < 0)) * ((long)i + 1);
	}
	return found;
}

/* --- responses ------------------------------------------------------- */

void
server_response_release(struct server_response *res)
{
	size_t i;

	free(res->body);
	for (i = 0; i < res->nheaders; i++) {
		free(res->headers[i].name);
		free(res->headers[i].value);
	}
	memset(res, 0, sizeof(*res));
}

void
server_respond(struct server_response *res, int status,
    const char *content_type, char *body, size_t len)
{
	free(res->body);
	res->status = status;
	res->content_type = content_type;
	res->body = body;
	res->body_len = body != NULL ? len : 0;
}

void
server_respond_json(struct server_response *res, int status,
    const char *json)
{
	char *copy = strdup(json);

	if (copy == NULL) {
		server_respond(res, 503, NULL, NULL, 0);
		return;
	}
	server_respond(res, status, "application/json", copy, strlen(copy));
}

void
server_respond_problem(struct server_response *res, const struct problem *p,
    const char *instance)
{
	char *text = problem_render(p, instance);

	server_respond(res, p->status ? p->status : 500,
	    "application/problem+json", text, text ? strlen(text) : 0);
}

void
server_respond_error(struct server_response *res, int status,
    const char *slug, const char *fmt, ...)
{
	struct problem p;
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	problem_init(&p);
	problem_set(&p, status, slug, problem_status_title(status), "%s",
	    detail);
	server_respond_problem(res, &p, NULL);
	problem_release(&p);
}

int
server_add_header(struct server_response *res, const char *name,
    const char *value)
{
	char *n, *v;

	if (res->nheaders >= SERVER_MAX_HEADERS)
		return -1;
	n = strdup(name);
	v = strdup(value);
	if (n == NULL || v == NULL) {
		free(n);
		free(v);
		return -1;
	}
	res->headers[res->nheaders].name = n;
	res->headers[res->nheaders].value = v;
	res->nheaders++;
	return 0;
}

/* --- request accessors ----------------------------------------------- */

const char *
server_param(const struct server_request *req, const char *name)
{
	size_t i;

	for (i = 0; i < req->nparams; i++)
		if (strcmp(req->params[i].name, name) == 0)
			return req->params[i].value;
	return NULL;
}

const char *
server_query(const struct server_request *req, const char *name)
{
	const char *v;

	if (req->conn == NULL)
		return NULL;
	v = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
	if (v == NULL && MHD_lookup_connection_value_n(req->conn,
	    MHD_GET_ARGUMENT_KIND, name, strlen(name), NULL, NULL) == MHD_YES)
		return "";
	return v;
}

const char *
server_header(const struct server_request *req, const char *name)
{
	if (req->conn == NULL)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

struct query_iter {
	int (*fn)(void *, const char *, const char *);
	void *cls;
	size_t n;
};

static enum MHD_Result
query_cb(void *cls, enum MHD_ValueKind kind, const char *key,
    const char *value)
{
	struct query_iter *it = cls;

	(void)kind;
	it->n++;
	if (it->fn(it->cls, key, value != NULL ? value : ""))
		return MHD_NO;
	return MHD_YES;
}

size_t
server_query_each(const struct server_request *req,
    int (*fn)(void *cls, const char *name, const char *value), void *cls)
{
	struct query_iter it = { fn, cls, 0 };

	if (req->conn == NULL)
		return 0;
	MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, query_cb,
	    &it);
	return it.n;
}

/* --- routing --------------------------------------------------------- */

/*
 * Match path against pattern; on success with c != NULL the {name}
 * segments are copied into c's parameters.  1 on match, 0 else.
 */
static int
match(const char *pat, const char *path, struct ctx *c)
{
	const char *pe, *ue;
	size_t plen, ulen, np = 0;

	if (*pat != '/' || *path != '/')
		return 0;
	for (;;) {
		if (*pat == '\0' || *path == '\0')
			break;
		if (*pat != '/' || *path != '/')
			return 0;
		pat++;
		path++;
		pe = strchr(pat, '/');
		if (pe == NULL)
			pe = pat + strlen(pat);
		ue = strchr(path, '/');
		if (ue == NULL)
			ue = path + strlen(path);
		plen = (size_t)(pe - pat);
		ulen = (size_t)(ue - path);
		if (plen >= 2 && pat[0] == '{' && pat[plen - 1] == '}') {
			if (ulen == 0 || ulen > SERVER_PARAM_MAX ||
			    np >= SERVER_MAX_PARAMS || plen - 2 >= 32)
				return 0;
			if (c != NULL) {
				memcpy(c->pname[np], pat + 1, plen - 2);
				c->pname[np][plen - 2] = '\0';
				memcpy(c->pvalue[np], path, ulen);
				c->pvalue[np][ulen] = '\0';
			}
			np++;
		} else if (plen != ulen || memcmp(pat, path, plen) != 0) {
			return 0;
		}
		pat = pe;
		path = ue;
	}
	if (*pat != '\0' || *path != '\0')
		return 0;
	if (c != NULL)
		c->nparams = np;
	return 1;
}

static void
allow_add(char *allow, const char *method)
{
	size_t n = strlen(allow), m = strlen(method);
	const char *p = allow;

	/* already listed? (whole tokens) */
	while ((p = strstr(p, method)) != NULL) {
		if ((p == allow || p[-1] == ' ') &&
		    (p[m] == ',' || p[m] == '\0'))
			return;
		p += m;
	}
	if (n + m + 3 >= ALLOW_MAX)
		return;
	snprintf(allow + n, ALLOW_MAX - n, "%s%s", n ? ", " : "", method);
}

/* Route c->method / c->path: sets c->route, c->allow, c->early_status. */
static void
route(struct server *srv, struct ctx *c)
{
	const struct server_route *r;
	const char *m = c->method;
	size_t t, i;
	int path_found = 0;

	if (strcmp(m, "HEAD") == 0)
		m = "GET";
	for (t = 0; t < srv->ntables; t++) {
		for (i = 0; i < srv->table_len[t]; i++) {
			r = &srv->tables[t][i];
			if (!match(r->pattern, c->path, NULL))
				continue;
			if (!path_found && srv->metric_ids[t] != NULL)
				c->metric_id = srv->metric_ids[t][i];
			path_found = 1;
			allow_add(c->allow, r->method);
			if (strcmp(r->method, "GET") == 0)
				allow_add(c->allow, "HEAD");
			if (c->route == NULL && strcmp(r->method, m) == 0) {
				c->route = r;
				if (srv->metric_ids[t] != NULL)
					c->metric_id = srv->metric_ids[t][i];
				match(r->pattern, c->path, c);
			}
		}
	}
	if (path_found)
		allow_add(c->allow, "OPTIONS");
	if (!path_found)
		c->early_status = 404;
	else if (strcmp(c->method, "OPTIONS") == 0)
		c->preflight = 1;
	else if (c->route == NULL)
		c->early_status = 405;
}

/* --- CORS and auth --------------------------------------------------- */

static const char *
cors_origin(const struct server *srv, struct MHD_Connection *conn)
{
	const char *origin;
	size_t i;

	if (srv->cfg->ncors_origins == 0)
		return NULL;
	origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
	if (origin == NULL)
		return NULL;
	for (i = 0; i < srv->cfg->ncors_origins; i++) {
		if (strcmp(srv->cfg->cors_origins[i], "*") == 0)
			return "*";
		if (strcmp(srv->cfg->cors_origins[i], origin) == 0)
			return origin;
	}
	return NULL;
}

/* Does this route need a key?  Writes always; reads with --protect-reads. */
static int
needs_auth(const struct server *srv, const struct server_route *r)
{
	if (srv->nkeys == 0)
		return 0;
	if (r->flags & SERVER_ROUTE_AUTH)
		return 1;
	/* the API proper; probes, metrics and the document stay open */
	return srv->cfg->protect_reads && strncmp(r->pattern, "/v1/", 4) == 0;
}

/* 0 when allowed (c->key_id set), else fills res with 401/403. */
static int
check_auth(const struct server *srv, struct MHD_Connection *conn,
    struct ctx *c, struct server_response *res)
{
	const char *h;
	size_t len;
	long k;

	h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    "Authorization");
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		server_respond_error(res, 401, "unauthorized",
		    "this request needs an API key: Authorization: Bearer "
		    "<key>");
		server_add_header(res, "WWW-Authenticate", "Bearer");
		return -1;
	}
	h += 7;
	while (*h == ' ')
		h++;
	len = strlen(h);
	while (len > 0 && h[len - 1] == ' ')
		len--;
	k = key_lookup(srv, h, len);
	if (k < 0) {
		server_respond_error(res, 403, "forbidden",
		    "the API key is not valid");
		return -1;
	}
	memcpy(c->key_id, srv->keys[k].id, sizeof(c->key_id));
	return 0;
}

/* --- queueing -------------------------------------------------------- */

static enum MHD_Result
queue(struct server *srv, struct MHD_Connection *conn, struct ctx *c,
    struct server_response *res)
{
	struct MHD_Response *r;
	const char *origin;
	enum MHD_Result ret;
	size_t i;

	if (res->status == 0) {
		server_response_release(res);
		server_respond_error(res, 500, "internal",
		    "the handler produced no answer");
	}
	if (srv->annotate != NULL)
		srv->annotate(srv->app, res);
	if (res->body == NULL && res->status >= 400) {
		/* rendering failed (out of memory): answer bare */
		res->content_type = NULL;
	}
	r = MHD_create_response_from_buffer(res->body_len,
	    res->body != NULL ? res->body : (void *)(uintptr_t)"",
	    res->body != NULL ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		server_response_release(res);
		return MHD_NO;
	}
	res->body = NULL;	/* MHD owns it now */
	if (res->content_type != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
		    res->content_type);
	MHD_add_response_header(r, "X-Request-Id", c->request_id);
	for (i = 0; i < res->nheaders; i++)
		MHD_add_response_header(r, res->headers[i].name,
		    res->headers[i].value);
	origin = cors_origin(srv, conn);
	if (origin != NULL) {
		MHD_add_response_header(r, "Access-Control-Allow-Origin",
		    origin);
		MHD_add_response_header(r, "Vary", "Origin");
		MHD_add_response_header(r, "Access-Control-Expose-Headers",
		    "X-Request-Id, Location, ETag, Retry-After");
	}
	if (atomic_load(&srv->draining))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION,
		    "close");
	c->status = res->status;
	c->bytes_out = res->body_len;
	ret = MHD_queue_response(conn, (unsigned)res->status, r);
	MHD_destroy_response(r);
	server_response_release(res);
	c->queued = 1;
	return ret;
}

static void
early_answer(struct ctx *c, struct server_response *res)
{
	switch (c->early_status) {
	case 404:
		server_respond_error(res, 404, "not-found",
		    "no route for %s", c->path);
		break;
	case 405:
		server_respond_error(res, 405, "method-not-allowed",
		    "%s is not allowed on %s (allowed: %s)", c->method,
		    c->path, c->allow);
		server_add_header(res, MHD_HTTP_HEADER_ALLOW, c->allow);
		break;
	case 503:
		server_respond_error(res, 503, "unavailable",
		    "out of memory while reading the request body");
		server_add_header(res, "Retry-After", "1");
		break;
	default:
		server_respond_error(res, 413, "body-too-large",
		    "the request body exceeds the limit of %zu bytes", c->cap);
		server_add_header(res, MHD_HTTP_HEADER_CONNECTION, "close");
		break;
	}
}

static void
preflight(struct server *srv, struct MHD_Connection *conn, struct ctx *c,
    struct server_response *res)
{
	server_respond(res, 204, NULL, NULL, 0);
	server_add_header(res, MHD_HTTP_HEADER_ALLOW, c->allow);
	if (cors_origin(srv, conn) != NULL &&
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    "Access-Control-Request-Method") != NULL) {
		server_add_header(res, "Access-Control-Allow-Methods",
		    c->allow);
		server_add_header(res, "Access-Control-Allow-Headers",
		    "Content-Type, Authorization, X-Request-Id, If-None-Match, "
		    "If-Match");
		server_add_header(res, "Access-Control-Max-Age", "600");
	}
}

static void
dispatch(struct server *srv, struct MHD_Connection *conn, struct ctx *c,
    struct server_response *res)
{
	struct server_request req;
	const char *ct;
	size_t i;

	if (c->early_status != 0) {
		early_answer(c, res);
		return;
	}
	if (c->preflight) {
		preflight(srv, conn, c, res);
		return;
	}
	if (needs_auth(srv, c->route) && check_auth(srv, conn, c, res) != 0)
		return;
	ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    MHD_HTTP_HEADER_CONTENT_TYPE);
	/* every body this API takes is JSON, whatever the route */
	if (c->len > 0 && !is_json_type(ct)) {
		server_respond_error(res, 415, "unsupported-media-type",
		    "the body must be application/json (got %s)",
		    ct != NULL ? ct : "no Content-Type");
		return;
	}
	memset(&req, 0, sizeof(req));
	req.method = c->route->method;
	req.path = c->path;
	req.nparams = c->nparams;
	for (i = 0; i < c->nparams; i++) {
		req.params[i].name = c->pname[i];
		req.params[i].value = c->pvalue[i];
	}
	req.body = c->len > 0 ? c->body : NULL;
	req.body_len = c->len;
	req.content_type = ct;
	req.request_id = c->request_id;
	req.client_addr = c->client;
	req.draining = atomic_load(&srv->draining);
	req.app = srv->app;
	req.server = srv;
	req.conn = conn;
	req.key_id = c->key_id[0] != '\0' ? c->key_id : NULL;
	req.priv = c;
	log_set_request_id(c->request_id);
	c->route->fn(&req, res);
	log_set_request_id(NULL);
}

/* --- deferred work --------------------------------------------------- */

static void
defer_free(struct defer *d)
{
	server_response_release(&d->res);
	free(d);
}

static void
list_remove(struct server *srv, struct defer *d)
{
	if (d->prev != NULL)
		d->prev->next = d->next;
	else
		srv->suspended = d->next;
	if (d->next != NULL)
		d->next->prev = d->prev;
	d->prev = d->next = NULL;
}

static void
cancelled_answer(struct server_response *res)
{
	server_response_release(res);
	server_respond_error(res, 503, "unavailable",
	    "the server is shutting down; the computation was not finished");
	server_add_header(res, "Retry-After", "1");
}

/* Pool job: run the work (or cancel), then hand the answer back. */
static void
run_defer(void *arg, int cancelled)
{
	struct defer *d = arg;
	struct server *srv = d->srv;
	struct MHD_Connection *conn = d->conn;
	int resume, gone;

	if (!cancelled) {
		log_set_request_id(d->request_id);
		d->work(d->arg, pool_threads_hint(srv->pool), &d->res);
		log_set_request_id(NULL);
	} else {
		cancelled_answer(&d->res);
	}
	if (d->release != NULL)
		d->release(d->arg);
	d->arg = NULL;
	pthread_mutex_lock(&srv->dmu);
	d->finished = 1;
	resume = d->suspended;
	if (resume) {
		list_remove(srv, d);
		d->suspended = 0;
	}
	gone = d->request_gone;
	pthread_mutex_unlock(&srv->dmu);
	/*
	 * After the resume the request may complete and free d at once:
	 * touch nothing of d from here on.
	 */
	if (resume)
		MHD_resume_connection(conn);
	else if (gone)
		defer_free(d);
}

int
server_defer(struct server_request *req, struct server_response *res,
    server_work_fn work, server_release_fn release, void *arg)
{
	struct server *srv = req->server;
	struct ctx *c = req->priv;
	struct defer *d = NULL;
	enum pool_result pr;

	if (c == NULL || c->defer != NULL || req->conn == NULL ||
	    srv->pool == NULL) {
		server_respond_error(res, 500, "internal",
		    "this request cannot be deferred");
		goto fail;
	}
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		server_respond_error(res, 503, "unavailable",
		    "out of memory while queueing the computation");
		server_add_header(res, "Retry-After", "1");
		goto fail;
	}
	d->srv = srv;
	d->conn = req->conn;
	d->work = work;
	d->release = release;
	d->arg = arg;
	memcpy(d->request_id, c->request_id, sizeof(d->request_id));
	pthread_mutex_lock(&srv->dmu);
	pr = pool_submit(srv->pool, run_defer, d);
	if (pr == POOL_OK) {
		/* before any worker can finish: it needs dmu to resume */
		MHD_suspend_connection(req->conn);
		d->suspended = 1;
		d->next = srv->suspended;
		if (srv->suspended != NULL)
			srv->suspended->prev = d;
		srv->suspended = d;
		c->defer = d;
	}
	pthread_mutex_unlock(&srv->dmu);
	if (pr == POOL_OK)
		return 0;
	free(d);
	d = NULL;
	if (pr == POOL_SATURATED)
		server_respond_error(res, 503, "saturated",
		    "the compute pool is saturated; retry shortly");
	else
		server_respond_error(res, 503, "unavailable",
		    "the server is shutting down");
	server_add_header(res, "Retry-After", "1");
fail:
	if (release != NULL)
		release(arg);
	return -1;
}

/* Resume every connection still waiting for a job (drain). */
static size_t
resume_all(struct server *srv)
{
	struct MHD_Connection *conns[64];
	struct defer *d;
	size_t n, i, total = 0;

	do {
		n = 0;
		pthread_mutex_lock(&srv->dmu);
		while ((d = srv->suspended) != NULL && n < 64) {
			list_remove(srv, d);
			d->suspended = 0;
			conns[n++] = d->conn;
		}
		pthread_mutex_unlock(&srv->dmu);
		for (i = 0; i < n; i++)
			MHD_resume_connection(conns[i]);
		total += n;
	} while (n == 64);
	return total;
}

/* The answer of a deferred request, on the call after its resume. */
static void
take_deferred(struct server *srv, struct ctx *c, struct server_response *res)
{
	struct defer *d = c->defer;

	pthread_mutex_lock(&srv->dmu);
	if (d->finished) {
		*res = d->res;
		memset(&d->res, 0, sizeof(d->res));
	}
	pthread_mutex_unlock(&srv->dmu);
	if (res->status == 0)	/* resumed by the drain before the end */
		cancelled_answer(res);
}

struct pool *
server_pool(struct server *srv)
{
	return srv != NULL ? srv->pool : NULL;
}

/* --- MHD callbacks --------------------------------------------------- */

static struct ctx *
ctx_new(struct server *srv, struct MHD_Connection *conn, const char *url,
    const char *method)
{
	const union MHD_ConnectionInfo *ci;
	const char *rid;
	struct ctx *c;
	const struct sockaddr *sa;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	c->method = strdup(method);
	c->path = strdup(url);
	if (c->method == NULL || c->path == NULL) {
		free(c->method);
		free(c->path);
		free(c);
		return NULL;
	}
	c->cap = srv->cfg->max_body;
	metrics_request_begin();
	rid = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    "X-Request-Id");
	if (rid != NULL && valid_request_id(rid))
		snprintf(c->request_id, sizeof(c->request_id), "%s", rid);
	else
		snprintf(c->request_id, sizeof(c->request_id), "%08x-%llx",
		    srv->id_prefix,
		    (unsigned long long)atomic_fetch_add(&srv->next_id, 1));
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci != NULL && ci->client_addr != NULL) {
		sa = ci->client_addr;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)
			    (const void *)sa)->sin_addr, c->client,
			    sizeof(c->client));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)
			    (const void *)sa)->sin6_addr, c->client,
			    sizeof(c->client));
	}
	return c;
}

/* Append a body piece; 413 over the cap, 503 out of memory, else 0. */
static int
body_append(struct ctx *c, const char *data, size_t n)
{
	size_t nalloc;
	char *nb;

	c->bytes_in += n;
	if (n > c->cap - c->len)
		return 413;
	if (c->len + n > c->alloc) {
		nalloc = c->alloc ? c->alloc : 4096;
		while (nalloc < c->len + n)
			nalloc *= 2;
		if (nalloc > c->cap)
			nalloc = c->cap;
		nb = realloc(c->body, nalloc);
		if (nb == NULL)
			return 503;
		c->body = nb;
		c->alloc = nalloc;
	}
	memcpy(c->body + c->len, data, n);
	c->len += n;
	return 0;
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **con_cls)
{
	struct server *srv = cls;
	struct ctx *c = *con_cls;
	struct server_response res;
	const char *cl;
	char *end;
	unsigned long long n;

	(void)version;
	memset(&res, 0, sizeof(res));
	if (c == NULL) {
		c = ctx_new(srv, conn, url, method);
		if (c == NULL)
			return MHD_NO;
		*con_cls = c;
		route(srv, c);
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		    MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl != NULL) {
			errno = 0;
			n = strtoull(cl, &end, 10);
			if (errno != 0 || end == cl || n > c->cap) {
				/* answer now: MHD closes the connection */
				c->early_status = 413;
				early_answer(c, &res);
				return queue(srv, conn, c, &res);
			}
			/* one allocation for the announced body */
			if (n > 0 && (c->body = malloc((size_t)n)) != NULL)
				c->alloc = (size_t)n;
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		/*
		 * 0.9.75 cannot queue a response while the body is still
		 * arriving, so a body over the cap is read and dropped and
		 * the 413 goes out at the end; past twice the cap the
		 * connection is simply closed.
		 */
		if (c->early_status == 0 && !c->queued) {
			c->early_status = body_append(c, upload_data,
			    *upload_data_size);
		} else {
			c->bytes_in += *upload_data_size;
		}
		*upload_data_size = 0;
		if (c->bytes_in / 2 > c->cap + 65536)
			return MHD_NO;
		return MHD_YES;
	}
	if (c->queued)
		return MHD_YES;
	if (c->defer != NULL) {
		take_deferred(srv, c, &res);
		return queue(srv, conn, c, &res);
	}
	dispatch(srv, conn, c, &res);
	if (c->defer != NULL) {
		/* suspended: the worker resumes us with the answer */
		server_response_release(&res);
		return MHD_YES;
	}
	return queue(srv, conn, c, &res);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct server *srv = cls;
	struct ctx *c = *con_cls;
	struct log_access a;
	int gone = 0;

	(void)conn;
	if (c == NULL)
		return;
	memset(&a, 0, sizeof(a));
	a.method = c->method;
	a.path = c->path;
	a.route = c->route != NULL ? c->route->pattern : NULL;
	a.key_id = c->key_id[0] != '\0' ? c->key_id : NULL;
	a.status = c->queued ? c->status : 0;
	a.duration_us = elapsed_us(&c->start);
	metrics_request_end(c->metric_id, c->method, a.status, a.duration_us);
	a.request_id = c->request_id;
	a.remote = c->client[0] != '\0' ? c->client : NULL;
	a.bytes_in = c->bytes_in;
	a.bytes_out = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ?
	    c->bytes_out : 0;
	log_access(&a);
	if (c->defer != NULL) {
		pthread_mutex_lock(&srv->dmu);
		c->defer->request_gone = 1;
		gone = c->defer->finished;
		pthread_mutex_unlock(&srv->dmu);
		if (gone)
			defer_free(c->defer);
	}
	free(c->body);
	free(c->method);
	free(c->path);
	free(c);
	*con_cls = NULL;
}

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/*
	 * Debug level: most of these are clients leaving mid-request, which
	 * any client can produce at will; at warn they would let one flood
	 * the log (and a blocked stderr stalls every worker).
	 */
	log_kv(LOG_LVL_DEBUG, "libmicrohttpd", "detail", msg,
	    (const char *)NULL);
}

/* --- lifecycle ------------------------------------------------------- */

struct server *
server_new(const struct config *cfg, void *app)
{
	struct server *srv;
	unsigned char rnd[4] = { 0, 0, 0, 0 };
	struct timespec now;
	size_t i;
	int fd, salted = 0;

	srv = calloc(1, sizeof(*srv));
	if (srv == NULL) {
		log_msg(LOG_LVL_ERROR, "server: out of memory");
		return NULL;
	}
	srv->cfg = cfg;
	srv->app = app;
	srv->quiesced = MHD_INVALID_SOCKET;
	atomic_init(&srv->draining, 0);
	atomic_init(&srv->next_id, 1);
	pthread_mutex_init(&srv->dmu, NULL);
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
			memset(rnd, 0, sizeof(rnd));
		salted = read(fd, srv->salt, sizeof(srv->salt)) ==
		    (ssize_t)sizeof(srv->salt);
		close(fd);
	}
	if (!salted) {
		/* weaker, but the digests stay fixed-length either way */
		clock_gettime(CLOCK_REALTIME, &now);
		for (i = 0; i < sizeof(srv->salt); i++)
			srv->salt[i] ^= (unsigned char)(((uint64_t)now.tv_nsec ^
			    (uint64_t)getpid() * 2654435761u) >> (i % 8 * 8));
	}
	srv->id_prefix = ((unsigned)rnd[0] << 24 | (unsigned)rnd[1] << 16 |
	    (unsigned)rnd[2] << 8 | rnd[3]) ^ (unsigned)getpid();
	if (keys_init(srv) != 0) {
		log_msg(LOG_LVL_ERROR, "server: out of memory");
		server_free(srv);
		return NULL;
	}
	return srv;
}

void
server_set_annotate(struct server *srv, server_annotate_fn fn)
{
	srv->annotate = fn;
}

int
server_add_routes(struct server *srv, const struct server_route *routes,
    size_t n)
{
	int *ids;
	size_t i;

	if (srv->ntables >= MAX_TABLES)
		return -1;
	ids = calloc(n > 0 ? n : 1, sizeof(*ids));
	if (ids == NULL)
		return -1;
	for (i = 0; i < n; i++)
		ids[i] = metrics_route_id(routes[i].pattern);
	srv->tables[srv->ntables] = routes;
	srv->table_len[srv->ntables] = n;
	srv->metric_ids[srv->ntables] = ids;
	srv->ntables++;
	return 0;
}

int
server_start(struct server *srv, char *buf, size_t cap, unsigned *port)
{
	struct sockaddr_storage ss, bound;
	socklen_t len, blen = sizeof(bound);
	const union MHD_DaemonInfo *di;
	char err[256], host[INET6_ADDRSTRLEN];
	unsigned threads = srv->cfg->threads;
	unsigned flags;
	long ncpu;

	if (config_parse_listen(srv->cfg->listen, &ss, &len, err,
	    sizeof(err)) != 0) {
		log_kv(LOG_LVL_ERROR, "cannot listen", "error", err,
		    (const char *)NULL);
		return -1;
	}
	if (threads == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		threads = ncpu > 0 ? (unsigned)ncpu : 1;
	}
	if (srv->pool == NULL) {
		srv->pool = pool_new(srv->cfg->compute_threads,
		    srv->cfg->compute_queue);
		if (srv->pool == NULL) {
			log_msg(LOG_LVL_ERROR, "cannot start the compute pool");
			return -1;
		}
	}
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_USE_ITC | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    /* 1 would draw a warning: 0 is the same single thread */
	    MHD_OPTION_THREAD_POOL_SIZE, threads > 1 ? threads : 0U,
	    MHD_OPTION_CONNECTION_LIMIT, srv->cfg->max_connections,
	    MHD_OPTION_CONNECTION_TIMEOUT, srv->cfg->connection_timeout,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, srv->cfg->per_ip_limit,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
	    MHD_OPTION_LISTENING_ADDRESS_REUSE, 1U,
	    MHD_OPTION_END);
	if (srv->d == NULL) {
		log_kv(LOG_LVL_ERROR, "cannot listen", "listen",
		    srv->cfg->listen, "error", "MHD_start_daemon failed "
		    "(address in use or not available?)", (const char *)NULL);
		return -1;
	}
	di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_LISTEN_FD);
	if (di == NULL || getsockname(di->listen_fd,
	    (struct sockaddr *)&bound, &blen) != 0)
		memcpy(&bound, &ss, sizeof(ss));
	if (bound.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&bound;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		*port = ntohs(s6->sin6_port);
		if (buf != NULL)
			snprintf(buf, cap, "[%s]:%u", host, *port);
	} else {
		const struct sockaddr_in *s4 = (const void *)&bound;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		*port = ntohs(s4->sin_port);
		if (buf != NULL)
			snprintf(buf, cap, "%s:%u", host, *port);
	}
	(void)len;
	return 0;
}

int
server_is_draining(const struct server *srv)
{
	return atomic_load(&((struct server *)(uintptr_t)srv)->draining);
}

/* Open connections (suspended ones included), 0 when unknown. */
static unsigned
open_connections(struct server *srv)
{
	const union MHD_DaemonInfo *di;

	di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
	return di != NULL ? di->num_connections : 0;
}

static void
wait_connections(struct server *srv, double seconds)
{
	struct timespec t0, nap = { 0, 20 * 1000 * 1000 };

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (open_connections(srv) > 0 &&
	    (double)elapsed_us(&t0) < seconds * 1e6)
		nanosleep(&nap, NULL);
}

/*
 * Stop the daemon with no connection left suspended: refuse new jobs,
 * cancel the queued ones (their connections resume with a 503), resume
 * those whose job still runs (503 too), give the answers a moment to
 * leave, then stop MHD.
 */
static void
stop_daemon(struct server *srv)
{
	size_t cancelled, resumed;

	if (srv->d == NULL)
		return;
	pool_shutdown(srv->pool);
	cancelled = pool_cancel_queued(srv->pool);
	resumed = resume_all(srv);
	if (cancelled + resumed > 0) {
		log_msg(LOG_LVL_WARN, "shutdown: %zu queued computations "
		    "cancelled, %zu still running answered 503", cancelled,
		    resumed);
		wait_connections(srv, 0.5);
	}
	MHD_stop_daemon(srv->d);
	srv->d = NULL;
}

void
server_drain(struct server *srv, double drain_seconds)
{
	unsigned open_conns;

	if (srv == NULL || srv->d == NULL)
		return;
	atomic_store(&srv->draining, 1);
	srv->quiesced = MHD_quiesce_daemon(srv->d);
	/* suspended connections count: their jobs get the same deadline */
	wait_connections(srv, drain_seconds);
	open_conns = open_connections(srv);
	if (open_conns > 0)
		log_msg(LOG_LVL_WARN, "drain deadline reached with %u open "
		    "connections", open_conns);
	stop_daemon(srv);
	if (srv->quiesced != MHD_INVALID_SOCKET) {
		close(srv->quiesced);
		srv->quiesced = MHD_INVALID_SOCKET;
	}
}

void
server_free(struct server *srv)
{
	size_t t;

	if (srv == NULL)
		return;
	stop_daemon(srv);
	if (srv->quiesced != MHD_INVALID_SOCKET)
		close(srv->quiesced);
	/*
	 * A job still computing after the drain cannot be interrupted; it
	 * frees its own state, but uses srv->dmu: if the pool has to leave
	 * it running, srv stays allocated for it.
	 */
	if (pool_free(srv->pool, 0.25) != 0)
		return;
	for (t = 0; t < srv->ntables; t++)
		free(srv->metric_ids[t]);
	free(srv->keys);
	pthread_mutex_destroy(&srv->dmu);
	free(srv);
}

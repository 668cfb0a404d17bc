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
 * and runs on timeouts and aborts too.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"
#include "server.h"

#define MAX_TABLES 32
#define ALLOW_MAX 96

struct server {
	const struct config *cfg;
	void *app;
	const struct server_route *tables[MAX_TABLES];
	size_t table_len[MAX_TABLES];
	size_t ntables;
	struct MHD_Daemon *d;
	atomic_int draining;
	atomic_ullong next_id;
	unsigned id_prefix;
	MHD_socket quiesced;
};

struct ctx {
	struct timespec start;
	char *method;
	char *path;
	char request_id[SERVER_REQUEST_ID_MAX + 1];
	char client[INET6_ADDRSTRLEN];
	const struct server_route *route;
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

/* Constant-time comparison of two NUL-terminated keys. */
static int
key_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i;
	unsigned char diff = (unsigned char)(la != lb);

	for (i = 0; i < la; i++)
		diff |= (unsigned char)(a[i] ^ b[i < lb ? i : 0]);
	return diff == 0;
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
			path_found = 1;
			allow_add(c->allow, r->method);
			if (strcmp(r->method, "GET") == 0)
				allow_add(c->allow, "HEAD");
			if (c->route == NULL && strcmp(r->method, m) == 0) {
				c->route = r;
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

/* 0 when allowed, else fills res with 401/403. */
static int
check_auth(const struct server *srv, struct MHD_Connection *conn,
    struct server_response *res)
{
	const char *h;
	size_t i;

	if (srv->cfg->napi_keys == 0)
		return 0;
	h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
	    "Authorization");
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		server_respond_error(res, 401, "unauthorized",
		    "this write needs an API key: Authorization: Bearer <key>");
		server_add_header(res, "WWW-Authenticate", "Bearer");
		return -1;
	}
	h += 7;
	while (*h == ' ')
		h++;
	for (i = 0; i < srv->cfg->napi_keys; i++)
		if (key_equal(h, srv->cfg->api_keys[i]))
			return 0;
	server_respond_error(res, 403, "forbidden", "the API key is not valid");
	return -1;
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
	if ((c->route->flags & SERVER_ROUTE_AUTH) &&
	    check_auth(srv, conn, res) != 0)
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
	c->route->fn(&req, res);
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
	dispatch(srv, conn, c, &res);
	return queue(srv, conn, c, &res);
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct ctx *c = *con_cls;
	struct log_access a;

	(void)cls;
	(void)conn;
	if (c == NULL)
		return;
	memset(&a, 0, sizeof(a));
	a.method = c->method;
	a.path = c->path;
	a.status = c->queued ? c->status : 0;
	a.duration_us = elapsed_us(&c->start);
	a.request_id = c->request_id;
	a.remote = c->client[0] != '\0' ? c->client : NULL;
	a.bytes_in = c->bytes_in;
	a.bytes_out = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ?
	    c->bytes_out : 0;
	log_access(&a);
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
	log_kv(LOG_LVL_WARN, "libmicrohttpd", "detail", msg,
	    (const char *)NULL);
}

/* --- lifecycle ------------------------------------------------------- */

struct server *
server_new(const struct config *cfg, void *app)
{
	struct server *srv;
	unsigned char rnd[4] = { 0, 0, 0, 0 };
	int fd;

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
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
			memset(rnd, 0, sizeof(rnd));
		close(fd);
	}
	srv->id_prefix = ((unsigned)rnd[0] << 24 | (unsigned)rnd[1] << 16 |
	    (unsigned)rnd[2] << 8 | rnd[3]) ^ (unsigned)getpid();
	return srv;
}

int
server_add_routes(struct server *srv, const struct server_route *routes,
    size_t n)
{
	if (srv->ntables >= MAX_TABLES)
		return -1;
	srv->tables[srv->ntables] = routes;
	srv->table_len[srv->ntables] = n;
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
	flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	    MHD_USE_ITC | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	srv->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, srv,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv,
	    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	    MHD_OPTION_THREAD_POOL_SIZE, threads,
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

void
server_drain(struct server *srv, double drain_seconds)
{
	const union MHD_DaemonInfo *di;
	struct timespec t0, nap = { 0, 20 * 1000 * 1000 };
	unsigned open_conns = 0;

	if (srv == NULL || srv->d == NULL)
		return;
	atomic_store(&srv->draining, 1);
	srv->quiesced = MHD_quiesce_daemon(srv->d);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		di = MHD_get_daemon_info(srv->d,
		    MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
		open_conns = di != NULL ? di->num_connections : 0;
		if (open_conns == 0 ||
		    (double)elapsed_us(&t0) >= drain_seconds * 1e6)
			break;
		nanosleep(&nap, NULL);
	}
	if (open_conns > 0)
		log_msg(LOG_LVL_WARN, "drain deadline reached with %u open "
		    "connections", open_conns);
	MHD_stop_daemon(srv->d);
	srv->d = NULL;
	if (srv->quiesced != MHD_INVALID_SOCKET) {
		close(srv->quiesced);
		srv->quiesced = MHD_INVALID_SOCKET;
	}
}

void
server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	if (srv->d != NULL)
		MHD_stop_daemon(srv->d);
	if (srv->quiesced != MHD_INVALID_SOCKET)
		close(srv->quiesced);
	free(srv);
}

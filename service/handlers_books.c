/*
 * handlers_books.c - the book endpoints of docs/model.md section 8 over
 * HTTP: each handler reads the path parameters, the body or the query
 * string, makes one call into the use-case layer (api_books.c) and sends
 * its answer (handlers_respond).
 *
 *   GET    /v1/books                         listing
 *   GET    /v1/books/{book}                  summary (404)
 *   PUT    /v1/books/{book}                  replace: create 201 / 200
 *   DELETE /v1/books/{book}
 *   POST   /v1/books/{book}/positions        upsert by id
 *   DELETE /v1/books/{book}/positions/{id}
 *   GET    /v1/books/{book}/risk             the book under a shock (8.2)
 *   GET    /v1/books/{book}/positions        the riskiest positions (8.3)
 *   POST   /v1/books/{book}/simulate         Monte Carlo of the book (8.4)
 *
 * The writes need an API key when keys are configured (SERVER_ROUTE_AUTH).
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "handlers.h"
#include "server.h"

static void
put_book(struct server_request *req, struct server_response *res)
{
	struct api_answer a;
	int upsert = strcmp(req->method, "POST") == 0;

	api_answer_init(&a);
	api_put_book(req->app, server_param(req, "book"), req->body,
	    req->body_len, upsert, &a);
	handlers_respond(&a, res, req->path);
}

static void
delete_book(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_delete_book(req->app, server_param(req, "book"), &a);
	handlers_respond(&a, res, req->path);
}

static void
delete_position(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_delete_book_position(req->app, server_param(req, "book"),
	    server_param(req, "id"), &a);
	handlers_respond(&a, res, req->path);
}

static void
get_books(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_get_books(req->app, &a);
	handlers_respond(&a, res, NULL);
}

static void
get_book(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_get_book(req->app, server_param(req, "book"), &a);
	handlers_respond(&a, res, a.status == 422 ? req->path : NULL);
}

/* The query string as a list of parameters, in request order. */
struct bquery {
	struct api_param p[32];
	size_t n;
	int over;
};

static int
bquery_add(void *cls, const char *name, const char *value)
{
	struct bquery *q = cls;

	if (q->n == 32) {
		q->over = 1;
		return 1;
	}
	q->p[q->n].name = name;
	q->p[q->n].value = value;
	q->n++;
	return 0;
}

static void
book_query(struct server_request *req, struct server_response *res,
    int risk)
{
	struct api_answer a;
	struct bquery q;

	q.n = 0;
	q.over = 0;
	server_query_each(req, bquery_add, &q);
	if (q.over) {
		server_respond_error(res, 422, "validation",
		    "at most 32 query parameters");
		return;
	}
	api_answer_init(&a);
	if (risk)
		api_get_book_risk(req->app, server_param(req, "book"), q.p,
		    q.n, &a);
	else
		api_get_book_positions(req->app, server_param(req, "book"),
		    q.p, q.n, &a);
	handlers_respond(&a, res, a.status == 422 ? req->path : NULL);
}

static void
get_risk(struct server_request *req, struct server_response *res)
{
	if (handlers_wants_svg(server_header(req, "Accept"))) {
		handlers_book_risk_svg(req, res); /* risk.svg */
		return;
	}
	book_query(req, res, 1);
}

static void
get_positions(struct server_request *req, struct server_response *res)
{
	book_query(req, res, 0);
}

/* ---- simulate: POST /v1/books/{book}/simulate on the compute pool */

static void
sim_job_work(void *arg, unsigned threads, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_sim_job_run(arg, threads, &a);
	handlers_respond(&a, res, NULL);
}

static void
sim_job_free(void *arg)
{
	api_sim_job_free(arg);
}

struct sim_defer {
	struct server_request *req;
	struct server_response *res;
};

/* On failure server_defer() has answered and freed the job itself. */
static void
sim_defer(void *ctx, struct api_sim_job *job)
{
	struct sim_defer *d = ctx;

	server_defer(d->req, d->res, sim_job_work, sim_job_free, job);
}

static void
post_simulate(struct server_request *req, struct server_response *res)
{
	struct sim_defer d = { req, res };
	struct api_sim_opts opts = { sim_defer, &d };
	struct api_answer a;

	api_answer_init(&a);
	if (api_books_sim(req->app, server_param(req, "book"), req->body,
	    req->body_len, &opts, &a) == API_DEFERRED)
		api_answer_release(&a);
	else
		handlers_respond(&a, res, a.status == 422 ? req->path : NULL);
}

#define W (SERVER_ROUTE_BODY | SERVER_ROUTE_AUTH)
const struct server_route handlers_book_routes[] = {
	{ "GET", "/v1/books", get_books, 0 },
	{ "GET", "/v1/books/{book}", get_book, 0 },
	{ "PUT", "/v1/books/{book}", put_book, W },
	{ "DELETE", "/v1/books/{book}", delete_book, SERVER_ROUTE_AUTH },
	{ "POST", "/v1/books/{book}/positions", put_book, W },
	{ "GET", "/v1/books/{book}/positions", get_positions, 0 },
	{ "DELETE", "/v1/books/{book}/positions/{id}", delete_position,
	    SERVER_ROUTE_AUTH },
	{ "GET", "/v1/books/{book}/risk", get_risk, 0 },
	{ "POST", "/v1/books/{book}/simulate", post_simulate,
	    SERVER_ROUTE_BODY },
};
#undef W
const size_t handlers_book_nroutes =
    sizeof(handlers_book_routes) / sizeof(handlers_book_routes[0]);

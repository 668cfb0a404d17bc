/*
 * handlers_markets.c - the market-data endpoints of docs/model.md 7 over HTTP: each
 * handler reads the path parameters, the body, If-None-Match or the query
 * string, makes one call into the use-case layer (api_markets.c,
 * api_cascade.c) and sends its answer (handlers_respond).
 *
 *   GET    /v1/markets                        listing (ETag, 304)
 *   GET    /v1/markets/{asset}                one market (404, ETag, 304)
 *   PUT    /v1/markets/{asset}                create 201 / update 200
 *   DELETE /v1/markets/{asset}                with curves, levels, pairs
 *   PUT    /v1/markets/{asset}/depth/{venue}  every input form
 *   DELETE /v1/markets/{asset}/depth/{venue}
 *   PUT    /v1/markets/{asset}/liquidations   replace
 *   POST   /v1/markets/{asset}/liquidations   append
 *   PUT    /v1/correlations                   replace the set
 *   POST   /v1/correlations                   upsert pairs
 *   GET    /v1/markets/{asset}/cascade        cascade curve, stored levels
 *
 * The writes need an API key when keys are configured; the reads only
 * with --protect-reads (server.h).
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "handlers.h"
#include "server.h"

/* ---- writes --------------------------------------------------------- */

static void
put_market(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_put_asset(req->app, server_param(req, "asset"), req->body,
	    req->body_len, &a);
	handlers_respond(&a, res, req->path);
}

static void
delete_market(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_delete_asset(req->app, server_param(req, "asset"), &a);
	handlers_respond(&a, res, req->path);
}

static void
put_depth(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_put_depth(req->app, server_param(req, "asset"),
	    server_param(req, "venue"), req->body, req->body_len, &a);
	handlers_respond(&a, res, req->path);
}

static void
delete_depth(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_delete_venue(req->app, server_param(req, "asset"),
	    server_param(req, "venue"), &a);
	handlers_respond(&a, res, req->path);
}

/* PUT replaces the asset's levels, POST appends to them. */
static void
levels(struct server_request *req, struct server_response *res)
{
	struct api_answer a;
	int append = strcmp(req->method, "POST") == 0;

	api_answer_init(&a);
	api_put_levels(req->app, server_param(req, "asset"), req->body,
	    req->body_len, append, &a);
	handlers_respond(&a, res, req->path);
}

/* PUT replaces the set of pairs, POST upserts pairs. */
static void
correlations(struct server_request *req, struct server_response *res)
{
	struct api_answer a;
	int replace = strcmp(req->method, "PUT") == 0;

	api_answer_init(&a);
	api_put_correlations(req->app, req->body, req->body_len, replace, &a);
	handlers_respond(&a, res, req->path);
}

/* ---- reads ---------------------------------------------------------- */

/*
 * The read answers name their instance only on a query error (422);
 * their 404 and 503 problems come without one.
 */
static void
respond_read(struct api_answer *a, struct server_request *req,
    struct server_response *res)
{
	handlers_respond(a, res, a->status == 422 ? req->path : NULL);
}

static void
get_markets(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_get_markets(req->app, server_header(req, "If-None-Match"), &a);
	respond_read(&a, req, res);
}

static void
get_market(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_get_market(req->app, server_param(req, "asset"),
	    server_header(req, "If-None-Match"), &a);
	respond_read(&a, req, res);
}

static void
get_cascade(struct server_request *req, struct server_response *res)
{
	struct api_answer a;
	struct api_param *p;
	size_t n;

	if (handlers_wants_svg(server_header(req, "Accept"))) {
		handlers_cascade_svg(req, res); /* cascade.svg */
		return;
	}
	api_answer_init(&a);
	if (handlers_query(req, &p, &n) != 0) {
		server_respond_error(res, 503, "unavailable", "out of memory");
		api_answer_release(&a);
	} else {
		api_get_cascade(req->app, server_param(req, "asset"), p, n, &a);
		respond_read(&a, req, res);
	}
	free(p);
}

#define W (SERVER_ROUTE_BODY | SERVER_ROUTE_AUTH)
const struct server_route handlers_market_routes[] = {
	{ "GET", "/v1/markets", get_markets, 0 },
	{ "GET", "/v1/markets/{asset}", get_market, 0 },
	{ "PUT", "/v1/markets/{asset}", put_market, W },
	{ "DELETE", "/v1/markets/{asset}", delete_market, SERVER_ROUTE_AUTH },
	{ "PUT", "/v1/markets/{asset}/depth/{venue}", put_depth, W },
	{ "DELETE", "/v1/markets/{asset}/depth/{venue}", delete_depth,
	    SERVER_ROUTE_AUTH },
	{ "PUT", "/v1/markets/{asset}/liquidations", levels, W },
	{ "POST", "/v1/markets/{asset}/liquidations", levels, W },
	{ "GET", "/v1/markets/{asset}/cascade", get_cascade, 0 },
	{ "PUT", "/v1/correlations", correlations, W },
	{ "POST", "/v1/correlations", correlations, W },
};
#undef W
const size_t handlers_market_nroutes =
    sizeof(handlers_market_routes) / sizeof(handlers_market_routes[0]);

/*
 * handlers_prices.c - the price-history endpoints of docs/model.md
 * section 9 over HTTP: one call into api_prices.c each.
 *
 *   POST /v1/markets/{asset}/prices   upsert candles / points / klines
 *   GET  /v1/markets/{asset}/prices   ?from&to&limit
 *
 * The write needs an API key when keys are configured (SERVER_ROUTE_AUTH);
 * the read only with --protect-reads.  A body over --max-body is 413 in
 * the server before it gets here.
 */
#include <stdlib.h>

#include "api.h"
#include "handlers.h"
#include "server.h"

static void
post_prices(struct server_request *req, struct server_response *res)
{
	struct api_answer a;

	api_answer_init(&a);
	api_post_prices(req->app, server_param(req, "asset"), req->body,
	    req->body_len, &a);
	handlers_respond(&a, res, req->path);
}

static void
get_prices(struct server_request *req, struct server_response *res)
{
	struct api_answer a;
	struct api_param *p = NULL;
	size_t n = 0;

	api_answer_init(&a);
	if (handlers_query(req, &p, &n) != 0) {
		server_respond_error(res, 503, "unavailable", "out of memory");
		api_answer_release(&a);
	} else {
		api_get_prices(req->app, server_param(req, "asset"), p, n, &a);
		handlers_respond(&a, res, a.status == 422 ? req->path : NULL);
	}
	free(p);
}

const struct server_route handlers_prices_routes[] = {
	{ "POST", "/v1/markets/{asset}/prices", post_prices,
	    SERVER_ROUTE_BODY | SERVER_ROUTE_AUTH },
	{ "GET", "/v1/markets/{asset}/prices", get_prices, 0 },
};
const size_t handlers_prices_nroutes =
    sizeof(handlers_prices_routes) / sizeof(handlers_prices_routes[0]);

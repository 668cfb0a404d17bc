/*
 * handlers.h - the HTTP side of the REST API of docs/model.md 7: route tables whose
 * handlers turn a request into one use-case call (api.h) and its answer
 * into the response.  Everything the endpoints decide lives in api*.c;
 * what is HTTP's stays here: path parameters, query strings, headers
 * (If-None-Match in, ETag, Location, Retry-After out) and the compute
 * pool that runs Monte Carlo scoring (server_defer).
 *
 * Ownership: the route tables are static; handlers_respond() takes over
 * the answer.
 */
#ifndef CASCADED_HANDLERS_H
#define CASCADED_HANDLERS_H

#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "server.h"

/*
 * Send an answer as the HTTP response and release it: the body (200,
 * 201) with Location and ETag when set, 304 with the ETag, or the problem
 * (status >= 400, instance when not NULL) with Retry-After when set.
 */
void handlers_respond(struct api_answer *a, struct server_response *res,
    const char *instance);

/*
 * The query string as parameters in request order (pointing into req):
 * *p malloc'd (the caller frees it; NULL when empty), *n their count.
 * 0, or -1 out of memory.
 */
int handlers_query(struct server_request *req, struct api_param **p,
    size_t *n);

/* Route tables (main.c registers them). */
extern const struct server_route handlers_score_routes[];
extern const size_t handlers_score_nroutes;
extern const struct server_route handlers_market_routes[];
extern const size_t handlers_market_nroutes;
/* handlers_books.c: the books of docs/model.md section 8 */
extern const struct server_route handlers_book_routes[];
extern const size_t handlers_book_nroutes;
/* handlers_ops.c: /healthz /readyz /version /metrics /openapi.json */
extern const struct server_route handlers_ops_routes[];
extern const size_t handlers_ops_nroutes;
/* ---- charts (handlers_charts.c) and the page (handlers_page.c) */
extern const struct server_route handlers_chart_routes[];
extern const size_t handlers_chart_nroutes;
extern const struct server_route handlers_page_routes[];
extern const size_t handlers_page_nroutes;
/*
 * Accept (NULL: absent) prefers image/svg+xml to JSON: listed with q > 0
 * and above application/json, application/ * and * / * (a tie: listed
 * first).
 */
int handlers_wants_svg(const char *accept);
/* The SVG forms of GET .../cascade and POST /v1/score (negotiated). */
void handlers_cascade_svg(struct server_request *req,
    struct server_response *res);
void handlers_score_svg(struct server_request *req,
    struct server_response *res);
/* The SVG form of GET /v1/books/{book}/risk (risk.svg, negotiated). */
void handlers_book_risk_svg(struct server_request *req,
    struct server_response *res);

/*
 * The server's annotate hook (server_set_annotate) with a bus: while the
 * bus is unreachable every answer gets a Warning header and, in a JSON
 * object body, a market_data_frozen item in its top-level "warnings"
 * array (added when absent); it is counted for GET /metrics.
 */
void handlers_bus_annotate(void *app, struct server_response *res);
/*
 * The GET /metrics text: the counters of metrics.c, then the pool and
 * snapshot families (each left out when NULL); malloc'd, NULL on ENOMEM.
 */
struct pool_stats;
char *handlers_ops_metrics(const struct pool_stats *pool,
    const struct snapshot *snap, int64_t now_epoch);

/* handlers_prices.c: /v1/markets/{asset}/prices */
extern const struct server_route handlers_prices_routes[];
extern const size_t handlers_prices_nroutes;

#endif

/*
 * handlers.h - the HTTP side of the REST API of SPEC 7: route tables whose
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
/*
 * The GET /metrics text: the counters of metrics.c, then the pool and
 * snapshot families (each left out when NULL); malloc'd, NULL on ENOMEM.
 */
struct pool_stats;
char *handlers_ops_metrics(const struct pool_stats *pool,
    const struct snapshot *snap, int64_t now_epoch);

#endif

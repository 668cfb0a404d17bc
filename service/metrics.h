/*
 * metrics.h - process-wide counters and histograms for GET /metrics
 * (Prometheus text exposition format 0.0.4).
 *
 * The request path only does relaxed C11 atomic increments on fixed
 * arrays: no mutex, no allocation.  Route labels are registered once
 * (server_add_routes) and are the route templates ("/v1/markets/{asset}"),
 * never the raw path, so the label set stays bounded; requests that match
 * no route count under route="unmatched".  Histograms keep per-bucket
 * counts and are made cumulative when rendered.
 *
 * What is exported (names as in the output):
 *   cascaded_http_requests_total{route,method,status}        counter
 *   cascaded_http_request_duration_seconds{route}            histogram
 *   cascaded_http_requests_in_flight                          gauge
 *   cascaded_score_duration_seconds{method="exact"|"monte_carlo"} histogram
 *   cascaded_db_write_failures_total                          counter
 *   cascaded_compute_pool_{threads,queue_capacity,queue_depth,running}
 *                                                             gauges
 *   cascaded_compute_pool_saturated_total, _jobs_total        counters
 *   cascaded_snapshot_version                                 gauge
 *   cascaded_depth_age_seconds{asset,side}                    gauge
 *     (now minus the oldest venue as_of of that side; sides without
 *     depth are left out)
 */
#ifndef CASCADED_METRICS_H
#define CASCADED_METRICS_H

#include <stdint.h>

#include "server.h"

struct pool_stats;
struct snapshot;

#define METRICS_MAX_ROUTES 64
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Label id of a route template (registration time, takes a mutex; the
 * same template gives the same id).  The string must outlive the process
 * (route tables are static).  0 ("unmatched") when the table is full.
 */
int metrics_route_id(const char *pattern);

void metrics_request_begin(void);
/* route_id from metrics_route_id() or 0; method as received. */
void metrics_request_end(int route_id, const char *method, int status,
    int64_t duration_us);
/* One lc_score call (including encoding) by method. */
void metrics_score_observe(int monte_carlo, int64_t duration_us);
/* A market-data write that the database refused or failed. */
void metrics_db_write_failed(void);

/*
 * The exposition text (malloc'd, NUL-terminated; NULL out of memory).
 * pool and snap may be NULL (their families are left out); now_epoch is
 * the wall clock in seconds (depth ages).
 */
char *metrics_render(const struct pool_stats *pool,
    const struct snapshot *snap, int64_t now_epoch);

/* Tests: zero every counter (no request may be in flight). */
void metrics_reset(void);

/* GET /metrics (req->app is a struct app). */
extern const struct server_route metrics_routes[];
extern const size_t metrics_nroutes;

#endif

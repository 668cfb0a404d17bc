/*
 * metrics.h - process-wide counters and histograms for GET /metrics
 * (Prometheus text exposition format 0.0.4).
 *
 * A leaf of the base layer: it knows no server, app, pool or snapshot;
 * the GET /metrics handler (handlers_ops.c) appends the families of
 * those modules through metrics_render()'s callback.
 *
 * The request path only does relaxed C11 atomic increments on fixed
 * arrays: no mutex, no allocation.  Route labels are registered once per
 * route table at startup and are the route templates
 * ("/v1/markets/{asset}"), never the raw path, so the label set stays
 * bounded; requests that match no route count under route="unmatched".  Histograms keep per-bucket
 * counts and are made cumulative when rendered.
 *
 * What is exported (names as in the output):
 *   cascaded_http_requests_total{route,method,status}        counter
 *   cascaded_http_request_duration_seconds{route}            histogram
 *   cascaded_http_requests_in_flight                          gauge
 *   cascaded_score_duration_seconds{method="exact"|"monte_carlo"} histogram
 *   cascaded_db_write_failures_total                          counter
 * The pool and snapshot families (cascaded_compute_pool_*,
 * cascaded_snapshot_version, cascaded_depth_age_seconds) are written by
 * handlers_ops.c after these.
 */
#ifndef CASCADED_METRICS_H
#define CASCADED_METRICS_H

#include <stdint.h>
#include <stdio.h>

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

/* Writes more families to f (other modules' gauges); cls as given. */
typedef void (*metrics_extra_fn)(FILE *f, void *cls);

/*
 * The exposition text (malloc'd, NUL-terminated; NULL out of memory or
 * on a write error): this module's families, then whatever extra (may be
 * NULL) writes.
 */
char *metrics_render(metrics_extra_fn extra, void *cls);

/* A label value for extra: backslash, quote and newline escaped. */
void metrics_put_label(FILE *f, const char *value);

/* Tests: zero every counter (no request may be in flight). */
void metrics_reset(void);

#endif

/*
 * handlers_ops.c - the operations routes: GET /healthz (the process
 * answers), GET /readyz (database open and migrated, not draining; else
 * 503 with Retry-After), GET /version, GET /metrics (Prometheus text) and
 * GET /openapi.json (the OpenAPI 3.1 description of this API).  Handlers
 * expect req->app to be a struct app.
 *
 * /readyz runs one PRAGMA on the store (microseconds) so a database that
 * became unusable shows up; during shutdown it answers 503 at once so a
 * load balancer stops sending traffic while in-flight requests finish.
 * /readyz?verbose answers the same status with a JSON detail instead of
 * the problem: database open, migrations applied, draining, the snapshot
 * version and the compute pool's state.
 *
 * /metrics is metrics.c's counters followed by the families of the
 * compute pool and of the market snapshot, which this file writes (the
 * counters module knows neither).
 *
 * /openapi.json serves docs/openapi.json, compiled into the binary by
 * docs/openapi.mk.  The document is referenced weakly: a build that does
 * not include docs/openapi.mk still links, and the endpoint then answers
 * 404 with a problem saying the document was not built in.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "embed.h"
#include "handlers.h"
#include "metrics.h"
#include "pool.h"
#include "server.h"
#include "snapshot.h"
#include "store.h"

#ifndef CASCADED_VERSION
#define CASCADED_VERSION "0.0.0"
#endif

/* --- probes and version ---------------------------------------------- */

static void
get_healthz(struct server_request *req, struct server_response *res)
{
	(void)req;
	server_respond_json(res, 200, "{\"status\":\"ok\"}");
}

static void
readyz_verbose(struct server_request *req, struct server_response *res)
{
	const struct app *app = req->app;
	struct pool_stats ps;
	struct snapshot *snap = NULL;
	char body[768], ver[32] = "null";
	int v, migrated, ready;

	v = app != NULL && app->store != NULL ?
	    store_schema_version(app->store) : -1;
	migrated = v >= 0 && v == store_migration_count();
	ready = migrated && !req->draining;
	if (app != NULL && app->cell != NULL)
		snap = snapshot_cell_get(app->cell);
	if (snap != NULL)
		snprintf(ver, sizeof(ver), "%" PRIu64, snap->version);
	snapshot_unref(snap);
	pool_stats(server_pool(req->server), &ps);
	snprintf(body, sizeof(body), "{\"status\":\"%s\",\"db_open\":%s,"
	    "\"schema_version\":%d,\"migrations\":%d,"
	    "\"migrations_applied\":%s,\"draining\":%s,"
	    "\"snapshot_version\":%s,\"compute_pool\":{\"threads\":%u,"
	    "\"queue_capacity\":%zu,\"queued\":%zu,\"running\":%u,"
	    "\"saturated_total\":%llu,\"completed_total\":%llu,"
	    "\"stopped\":%s}}", ready ? "ready" : "not-ready",
	    v >= 0 ? "true" : "false", v, store_migration_count(),
	    migrated ? "true" : "false", req->draining ? "true" : "false", ver,
	    ps.threads, ps.capacity, ps.queued, ps.running,
	    (unsigned long long)ps.saturated,
	    (unsigned long long)ps.completed, ps.stopped ? "true" : "false");
	server_respond_json(res, ready ? 200 : 503, body);
	if (!ready)
		server_add_header(res, "Retry-After", "1");
}

static void
get_readyz(struct server_request *req, struct server_response *res)
{
	const struct app *app = req->app;
	char body[128];
	int v;

	if (server_query(req, "verbose") != NULL) {
		readyz_verbose(req, res);
		return;
	}
	if (req->draining) {
		server_respond_error(res, 503, "not-ready",
		    "the server is shutting down");
		server_add_header(res, "Retry-After", "1");
		return;
	}
	v = app != NULL ? store_schema_version(app->store) : -1;
	if (v < 0 || v != store_migration_count()) {
		server_respond_error(res, 503, "not-ready",
		    "the database is not open or not migrated (schema %d of %d)",
		    v, store_migration_count());
		server_add_header(res, "Retry-After", "1");
		return;
	}
	snprintf(body, sizeof(body), "{\"status\":\"ready\","
	    "\"schema_version\":%d}", v);
	server_respond_json(res, 200, body);
}

static void
get_version(struct server_request *req, struct server_response *res)
{
	const struct app *app = req->app;
	char body[256];

	snprintf(body, sizeof(body), "{\"name\":\"cascaded\",\"version\":\"%s\","
	    "\"model\":\"cascade-1\",\"schema_version\":%d,\"migrations\":%d}",
	    CASCADED_VERSION, app != NULL ? store_schema_version(app->store) :
	    -1, store_migration_count());
	server_respond_json(res, 200, body);
}

/* --- GET /metrics ---------------------------------------------------- */

static void
render_pool(FILE *f, const struct pool_stats *p)
{
	fprintf(f,
	    "# HELP cascaded_compute_pool_threads Monte Carlo worker threads.\n"
	    "# TYPE cascaded_compute_pool_threads gauge\n"
	    "cascaded_compute_pool_threads %u\n"
	    "# HELP cascaded_compute_pool_queue_capacity Most jobs that may "
	    "wait.\n"
	    "# TYPE cascaded_compute_pool_queue_capacity gauge\n"
	    "cascaded_compute_pool_queue_capacity %zu\n"
	    "# HELP cascaded_compute_pool_queue_depth Jobs waiting now.\n"
	    "# TYPE cascaded_compute_pool_queue_depth gauge\n"
	    "cascaded_compute_pool_queue_depth %zu\n"
	    "# HELP cascaded_compute_pool_running Jobs being computed now.\n"
	    "# TYPE cascaded_compute_pool_running gauge\n"
	    "cascaded_compute_pool_running %u\n"
	    "# HELP cascaded_compute_pool_saturated_total Jobs refused with "
	    "503 because the queue was full.\n"
	    "# TYPE cascaded_compute_pool_saturated_total counter\n"
	    "cascaded_compute_pool_saturated_total %llu\n"
	    "# HELP cascaded_compute_pool_jobs_total Jobs run to the end.\n"
	    "# TYPE cascaded_compute_pool_jobs_total counter\n"
	    "cascaded_compute_pool_jobs_total %llu\n",
	    p->threads, p->capacity, p->queued, p->running,
	    (unsigned long long)p->saturated,
	    (unsigned long long)p->completed);
}

/* Depth ages: now minus the oldest venue as_of; sides without depth out. */
static void
render_snapshot(FILE *f, const struct snapshot *snap, int64_t now)
{
	static const char *const side_names[2] = { "bid", "ask" };
	const struct snapshot_asset *a;
	int64_t t;
	size_t i, s;

	fprintf(f, "# HELP cascaded_snapshot_version Version of the market "
	    "snapshot being served (grows with every write).\n"
	    "# TYPE cascaded_snapshot_version gauge\n"
	    "cascaded_snapshot_version %" PRIu64 "\n", snap->version);
	fputs("# HELP cascaded_depth_age_seconds Age of the oldest venue "
	    "curve of each asset and side.\n"
	    "# TYPE cascaded_depth_age_seconds gauge\n", f);
	for (i = 0; i < snap->nassets; i++) {
		a = &snap->assets[i];
		if (a->implicit)
			continue;
		for (s = 0; s < 2; s++) {
			t = a->side[s].oldest_epoch;
			if (t == INT64_MAX || t == INT64_MIN)
				continue;
			fputs("cascaded_depth_age_seconds{asset=\"", f);
			metrics_put_label(f, a->symbol);
			fprintf(f, "\",side=\"%s\"} %lld\n", side_names[s],
			    (long long)(now - t));
		}
	}
}

struct ops_families {
	const struct pool_stats *pool;
	const struct snapshot *snap;
	int64_t now;
};

static void
render_families(FILE *f, void *cls)
{
	const struct ops_families *o = cls;

	if (o->pool != NULL)
		render_pool(f, o->pool);
	if (o->snap != NULL)
		render_snapshot(f, o->snap, o->now);
}

char *
handlers_ops_metrics(const struct pool_stats *pool,
    const struct snapshot *snap, int64_t now_epoch)
{
	struct ops_families o = { pool, snap, now_epoch };

	return metrics_render(render_families, &o);
}

static void
get_metrics(struct server_request *req, struct server_response *res)
{
	struct app *app = req->app;
	struct pool_stats ps;
	struct snapshot *snap = NULL;
	char *text;

	pool_stats(server_pool(req->server), &ps);
	if (app != NULL && app->cell != NULL)
		snap = snapshot_cell_get(app->cell);
	text = handlers_ops_metrics(&ps, snap, (int64_t)time(NULL));
	snapshot_unref(snap);
	if (text == NULL) {
		server_respond_error(res, 503, "unavailable",
		    "out of memory while rendering the metrics");
		server_add_header(res, "Retry-After", "1");
		return;
	}
	server_respond(res, 200, METRICS_CONTENT_TYPE, text, strlen(text));
}

/* --- GET /openapi.json ----------------------------------------------- */

/* Defined in build/gen/openapi.c (docs/openapi.mk); may be absent. */
extern const struct embed_file embed_openapi __attribute__((weak));

static void
get_openapi(struct server_request *req, struct server_response *res)
{
	const struct embed_file *f = &embed_openapi;

	(void)req;
	if (f == NULL || f->data == NULL || f->len == 0) {
		server_respond_error(res, 404, "not-found",
		    "this build does "
		    "not embed docs/openapi.json (include docs/openapi.mk in "
		    "the Makefile)");
		return;
	}
	server_respond_json(res, 200, (const char *)f->data);
}

const struct server_route handlers_ops_routes[] = {
	{ "GET", "/healthz", get_healthz, 0 },
	{ "GET", "/readyz", get_readyz, 0 },
	{ "GET", "/version", get_version, 0 },
	{ "GET", "/metrics", get_metrics, 0 },
	{ "GET", "/openapi.json", get_openapi, 0 },
};
const size_t handlers_ops_nroutes =
    sizeof(handlers_ops_routes) / sizeof(handlers_ops_routes[0]);

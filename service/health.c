/*
 * health.c - /healthz, /readyz and /version.
 *
 * /readyz runs one PRAGMA on the store (microseconds) so a database that
 * became unusable shows up; during shutdown it answers 503 at once so a
 * load balancer stops sending traffic while in-flight requests finish.
 * /readyz?verbose answers the same status with a JSON detail instead of
 * the problem: database open, migrations applied, draining, the snapshot
 * version and the compute pool's state.
 */
#include <inttypes.h>
#include <stdio.h>

#include "app.h"
#include "health.h"
#include "pool.h"
#include "snapshot.h"
#include "store.h"

#ifndef CASCADED_VERSION
#define CASCADED_VERSION "0.0.0"
#endif

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

const struct server_route health_routes[] = {
	{ "GET", "/healthz", get_healthz, 0 },
	{ "GET", "/readyz", get_readyz, 0 },
	{ "GET", "/version", get_version, 0 },
};
const size_t health_nroutes = sizeof(health_routes) /
    sizeof(health_routes[0]);

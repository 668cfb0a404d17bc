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
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "bus.h"
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

/* The "bus" member of /readyz?verbose: null without a bus. */
static void
bus_json(const struct app *app, const struct bus_status *bs, char *out,
    size_t cap)
{
	if (app == NULL || app->bus == NULL) {
		snprintf(out, cap, "null");
		return;
	}
	snprintf(out, cap, "{\"connected\":%s,\"caught_up\":%s,"
	    "\"applied_seq\":%llu,\"start_seq\":%llu,"
	    "\"stream_last_seq\":%llu}", bs->connected ? "true" : "false",
	    bs->ready ? "true" : "false", (unsigned long long)bs->applied,
	    (unsigned long long)bs->start_last,
	    (unsigned long long)bs->stream_last);
}

static void
readyz_verbose(struct server_request *req, struct server_response *res)
{
	const struct app *app = req->app;
	struct pool_stats ps;
	struct bus_status bs;
	struct snapshot *snap = NULL;
	char body[1024], ver[32] = "null", bus[256];
	int v, migrated, ready;

	v = app != NULL && app->store != NULL ?
	    store_schema_version(app->store) : -1;
	migrated = v >= 0 && v == store_migration_count();
	bus_get_status(app != NULL ? app->bus : NULL, &bs);
	bus_json(app, &bs, bus, sizeof(bus));
	ready = migrated && !req->draining &&
	    (app == NULL || app->bus == NULL || bs.ready);
	if (app != NULL && app->cell != NULL)
		snap = snapshot_cell_get(app->cell);
	if (snap != NULL)
		snprintf(ver, sizeof(ver), "%" PRIu64, snap->version);
	snapshot_unref(snap);
	pool_stats(server_pool(req->server), &ps);
	snprintf(body, sizeof(body), "{\"status\":\"%s\",\"db_open\":%s,"
	    "\"schema_version\":%d,\"migrations\":%d,"
	    "\"migrations_applied\":%s,\"draining\":%s,"
	    "\"snapshot_version\":%s,\"bus\":%s,"
	    "\"compute_pool\":{\"threads\":%u,"
	    "\"queue_capacity\":%zu,\"queued\":%zu,\"running\":%u,"
	    "\"saturated_total\":%llu,\"completed_total\":%llu,"
	    "\"stopped\":%s}}", ready ? "ready" : "not-ready",
	    v >= 0 ? "true" : "false", v, store_migration_count(),
	    migrated ? "true" : "false", req->draining ? "true" : "false", ver,
	    bus, ps.threads, ps.capacity, ps.queued, ps.running,
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
	if (app->bus != NULL) {
		struct bus_status bs;

		bus_get_status(app->bus, &bs);
		if (!bs.ready) {
			server_respond_error(res, 503, "not-ready",
			    "catching up with the message bus (applied %llu of "
			    "%llu)%s", (unsigned long long)bs.applied,
			    (unsigned long long)bs.start_last, bs.connected ?
			    "" : "; the bus is unreachable");
			server_add_header(res, "Retry-After", "1");
			return;
		}
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

static void
render_bus(FILE *f, const struct bus_status *b)
{
	fprintf(f,
	    "# HELP cascaded_bus_connected 1 while the message bus is "
	    "reachable (0: market data frozen).\n"
	    "# TYPE cascaded_bus_connected gauge\n"
	    "cascaded_bus_connected %d\n"
	    "# HELP cascaded_bus_ready 1 once the writes on the bus at the "
	    "start are applied.\n"
	    "# TYPE cascaded_bus_ready gauge\n"
	    "cascaded_bus_ready %d\n"
	    "# HELP cascaded_bus_applied_seq Last bus sequence applied here.\n"
	    "# TYPE cascaded_bus_applied_seq gauge\n"
	    "cascaded_bus_applied_seq %llu\n"
	    "# HELP cascaded_bus_stream_last_seq Last sequence seen on the "
	    "writes stream (lag: minus applied).\n"
	    "# TYPE cascaded_bus_stream_last_seq gauge\n"
	    "cascaded_bus_stream_last_seq %llu\n"
	    "# HELP cascaded_bus_published_total Writes this replica put on "
	    "the bus.\n"
	    "# TYPE cascaded_bus_published_total counter\n"
	    "cascaded_bus_published_total %llu\n"
	    "# HELP cascaded_bus_frozen_answers_total Answers sent with the "
	    "market_data_frozen warning.\n"
	    "# TYPE cascaded_bus_frozen_answers_total counter\n"
	    "cascaded_bus_frozen_answers_total %llu\n"
	    "# HELP cascaded_bus_snapshots_total Snapshots this replica "
	    "published.\n"
	    "# TYPE cascaded_bus_snapshots_total counter\n"
	    "cascaded_bus_snapshots_total %llu\n"
	    "# HELP cascaded_bus_restores_total Snapshots this replica "
	    "restored.\n"
	    "# TYPE cascaded_bus_restores_total counter\n"
	    "cascaded_bus_restores_total %llu\n",
	    b->connected, b->ready, (unsigned long long)b->applied,
	    (unsigned long long)b->stream_last,
	    (unsigned long long)b->published,
	    (unsigned long long)b->frozen_answers,
	    (unsigned long long)b->snapshots,
	    (unsigned long long)b->restores);
}

struct ops_families {
	const struct pool_stats *pool;
	const struct snapshot *snap;
	int64_t now;
	const struct bus_status *bus;	/* NULL without a bus */
};

static void
render_families(FILE *f, void *cls)
{
	const struct ops_families *o = cls;

	if (o->pool != NULL)
		render_pool(f, o->pool);
	if (o->snap != NULL)
		render_snapshot(f, o->snap, o->now);
	if (o->bus != NULL)
		render_bus(f, o->bus);
}

char *
handlers_ops_metrics(const struct pool_stats *pool,
    const struct snapshot *snap, int64_t now_epoch)
{
	struct ops_families o = { pool, snap, now_epoch, NULL };

	return metrics_render(render_families, &o);
}

static void
get_metrics(struct server_request *req, struct server_response *res)
{
	struct app *app = req->app;
	struct pool_stats ps;
	struct bus_status bs;
	struct ops_families o;
	struct snapshot *snap;
	char *text;

	pool_stats(server_pool(req->server), &ps);
	snap = app != NULL && app->cell != NULL ?
	    snapshot_cell_get(app->cell) : NULL;
	o.pool = &ps;
	o.snap = snap;
	o.now = (int64_t)time(NULL);
	o.bus = NULL;
	if (app != NULL && app->bus != NULL) {
		bus_get_status(app->bus, &bs);
		o.bus = &bs;
	}
	text = metrics_render(render_families, &o);
	snapshot_unref(snap);
	if (text == NULL) {
		server_respond_error(res, 503, "unavailable",
		    "out of memory while rendering the metrics");
		server_add_header(res, "Retry-After", "1");
		return;
	}
	server_respond(res, 200, METRICS_CONTENT_TYPE, text, strlen(text));
}

/* --- the market_data_frozen warning ---------------------------------- */

/*
 * Where a warning goes in the JSON object text t[0..n): just after the
 * '[' of its top-level "warnings" array (*comma: the array is not empty),
 * or before its closing '}' (*member: add the member; *comma: the object
 * is not empty).  Returns the offset, or 0 when t is not an object.
 */
static size_t
warning_slot(const char *t, size_t n, int *member, int *comma)
{
	size_t i = 0, k0 = 0, last = 0;
	int depth = 0, instr = 0, members = 0;

	while (i < n && (t[i] == ' ' || t[i] == '\n' || t[i] == '\t' ||
	    t[i] == '\r'))
		i++;
	if (i >= n || t[i] != '{')
		return 0;
	for (; i < n; i++) {
		char ch = t[i];

		if (instr) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				instr = 0;
			continue;
		}
		if (ch == '"') {
			instr = 1;
			k0 = i + 1;
			if (depth == 1)
				members = 1;
			/* a key of the top level: "warnings" then ':' '[' */
			if (depth == 1 && n - k0 > 9 &&
			    memcmp(t + k0, "warnings\"", 9) == 0) {
				size_t j = k0 + 9;

				while (j < n && (t[j] == ' ' || t[j] == ':'))
					j++;
				if (j < n && t[j] == '[') {
					size_t lb = j + 1;

					j = lb;
					while (j < n && t[j] == ' ')
						j++;
					*member = 0;
					*comma = j < n && t[j] != ']';
					return lb;
				}
			}
		} else if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			if (--depth == 0) {
				last = i;
				break;
			}
		}
	}
	if (last == 0)
		return 0;
	*member = 1;
	*comma = members;
	return last;
}

void
handlers_bus_annotate(void *appv, struct server_response *res)
{
	struct app *app = appv;
	static const char item[] = "{\"code\":\"market_data_frozen\","
	    "\"detail\":\"the message bus is unreachable: this answer uses "
	    "the market data as of the last write applied here, and writes "
	    "are refused until the bus returns\"}";
	char *nb;
	size_t at, n, m = 0, cap;
	int member = 0, comma = 0;

	if (app == NULL || !bus_frozen(app->bus))
		return;
	bus_count_frozen_answer(app->bus);
	server_add_header(res, "Warning",
	    "199 cascaded \"market_data_frozen\"");
	if (res->body == NULL || res->content_type == NULL ||
	    strstr(res->content_type, "json") == NULL)
		return;
	n = res->body_len;
	at = warning_slot(res->body, n, &member, &comma);
	if (at == 0)
		return;
	cap = n + sizeof(item) + 32;
	nb = malloc(cap);
	if (nb == NULL)
		return;
	memcpy(nb, res->body, at);
	m = at;
	if (member)
		m += (size_t)snprintf(nb + m, cap - m, "%s\"warnings\":[%s]",
		    comma ? "," : "", item);
	else
		m += (size_t)snprintf(nb + m, cap - m, "%s%s", item,
		    comma ? "," : "");
	memcpy(nb + m, res->body + at, n - at);
	m += n - at;
	nb[m] = '\0';
	free(res->body);
	res->body = nb;
	res->body_len = m;
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

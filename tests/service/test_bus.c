/*
 * test_bus.c - the write path a message bus carries (api.h "market
 * writes as data", store.h "bus", bus.h), in process and without NATS:
 *
 * - a relay standing for the bus: it applies each write it is handed to
 *   two replicas (the publisher and another) with api_write_apply() and
 *   sequences 1, 2, ...; bad input never reaches it; every answer is
 *   byte for byte the answer of a plain single-process app doing the same
 *   writes; both replicas end with the same listing (body and ETag) and
 *   the number of writes as their recorded sequence, refused applies
 *   (404) included;
 * - the store: a stamp is recorded by the next committed write only, a
 *   refused write leaves it for store_bus_record(), and a copy restored
 *   into another store brings data and sequence;
 * - rfc3339_pin_now(): a write without as_of applied under a pinned time
 *   stores that time;
 * - with the bus unreachable (a closed loopback port): writes answer 503
 *   with Retry-After, and handlers_bus_annotate() puts the
 *   market_data_frozen warning in the top-level "warnings" of every JSON
 *   answer (added when absent, nested arrays untouched);
 * - `cascaded import` with --bus refuses to write the file aside.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "bus.h"
#include "config.h"
#include "handlers.h"
#include "rfc3339.h"
#include "server.h"
#include "store.h"
#include "testlib.h"

struct replica {
	struct config cfg;
	struct app app;
};

static void
replica_open(struct replica *r, const char *path)
{
	char *err = NULL;

	config_init(&r->cfg);
	memset(&r->app, 0, sizeof(r->app));
	r->app.cfg = &r->cfg;
	r->app.store = store_open(path, &err);
	ck_assert_msg(r->app.store != NULL, "store_open: %s", err);
	ck_assert_int_eq(api_app_init(&r->app), 0);
}

static void
replica_close(struct replica *r)
{
	api_app_release(&r->app);
	store_close(r->app.store);
	config_release(&r->cfg);
}

static uint64_t
applied(struct replica *r)
{
	uint64_t seq = 99;

	ck_assert_int_eq(store_bus_seq(r->app.store, &seq), STORE_OK);
	return seq;
}

/* ---- a relay standing for the bus ----------------------------------- */

struct fake_bus {
	struct replica *self, *other;
	uint64_t seq;
	int relayed;
	char last[256];		/* "METHOD ROUTE p0 p1" of the last write */
};

static int
fake_submit(void *ctx, const struct api_write *w, const struct api_wcall *c,
    struct api_answer *ans)
{
	struct fake_bus *fb = ctx;
	struct api_wcall on;
	struct api_answer other;

	fb->relayed++;
	fb->seq++;
	snprintf(fb->last, sizeof(fb->last), "%s %s %s %s", w->method,
	    w->route, c->param[0] ? c->param[0] : "-",
	    c->param[1] ? c->param[1] : "-");
	ck_assert_int_eq(c->dry, 0);
	/* the other replica first, then the publisher: same order */
	on = *c;
	on.seq = fb->seq;
	on.app = &fb->other->app;
	api_answer_init(&other);
	api_write_apply(w, &on, &other);
	on.app = &fb->self->app;
	api_write_apply(w, &on, ans);
	ck_assert_int_eq(other.status, ans->status);
	if (ans->body != NULL)
		ck_assert_str_eq(other.body, ans->body);
	api_answer_release(&other);
	return ans->status;
}

/* one write on the bus app and on the plain one: same status and body */
static int
both(struct app *bus, struct app *plain,
    int (*fn)(struct app *, const char *, const char *, size_t,
        struct api_answer *),
    const char *asset, const char *body)
{
	struct api_answer a, b;
	int st;

	api_answer_init(&a);
	api_answer_init(&b);
	st = fn(bus, asset, body, strlen(body), &a);
	ck_assert_int_eq(fn(plain, asset, body, strlen(body), &b), st);
	if (st < 400)
		ck_assert_str_eq(a.body, b.body);
	else
		ck_assert_int_eq(a.err.status, b.err.status);
	ck_assert_str_eq(a.location, b.location);
	api_answer_release(&a);
	api_answer_release(&b);
	return st;
}

static int
put_levels_append(struct app *app, const char *asset, const char *body,
    size_t len, struct api_answer *ans)
{
	return api_put_levels(app, asset, body, len, 1, ans);
}

static int
post_corr(struct app *app, const char *asset, const char *body, size_t len,
    struct api_answer *ans)
{
	(void)asset;
	return api_put_correlations(app, body, len, 0, ans);
}

static void
listing(struct app *app, char **body, char *etag)
{
	struct api_answer a;

	api_answer_init(&a);
	ck_assert_int_eq(api_get_markets(app, NULL, &a), 200);
	*body = a.body;
	a.body = NULL;
	strcpy(etag, a.etag);
	api_answer_release(&a);
}

START_TEST(relay_replicas_match_single_process)
{
	static const char *const asof = "\"as_of\": \"2026-01-02T03:04:05Z\"";
	struct replica ra, rb, plain;
	struct fake_bus fb;
	struct api_relay relay = { fake_submit, &fb };
	struct api_answer a;
	struct api_wcall c;
	char body[512], *la, *lb, ta[24], tb[24];

	replica_open(&ra, ":memory:");
	replica_open(&rb, ":memory:");
	replica_open(&plain, ":memory:");
	memset(&fb, 0, sizeof(fb));
	fb.self = &ra;
	fb.other = &rb;
	ra.app.relay = &relay;

	/* bad input never reaches the bus */
	ck_assert_int_eq(both(&ra.app, &plain.app, api_put_asset, "ETH",
	    "{\"price\": -1}"), 422);
	ck_assert_int_eq(both(&ra.app, &plain.app, api_put_asset, "bad sym",
	    "{\"price\": 1, \"volatility\": 0}"), 422);
	ck_assert_int_eq(both(&ra.app, &plain.app, put_levels_append, "NONE",
	    "{\"levels\": []}"), 404);
	ck_assert_int_eq(fb.relayed, 0);
	ck_assert_int_eq((int)applied(&ra), 0);

	snprintf(body, sizeof(body), "{\"price\": 2000, \"volatility\": 0.8, "
	    "%s}", asof);
	ck_assert_int_eq(both(&ra.app, &plain.app, api_put_asset, "ETH", body),
	    201);
	ck_assert_str_eq(fb.last, "PUT /v1/markets/{asset} ETH -");
	snprintf(body, sizeof(body), "{\"price\": 50000, \"volatility\": 0.6, "
	    "%s}", asof);
	ck_assert_int_eq(both(&ra.app, &plain.app, api_put_asset, "BTC", body),
	    201);
	snprintf(body, sizeof(body), "{\"levels\": [{\"price\": 1500, \"qty\": "
	    "3, \"side\": \"sell\"}, {\"price\": 2500, \"qty\": 2, \"side\": "
	    "\"buy\"}], %s}", asof);
	ck_assert_int_eq(both(&ra.app, &plain.app, put_levels_append, "ETH",
	    body), 200);
	ck_assert_str_eq(fb.last,
	    "POST /v1/markets/{asset}/liquidations ETH -");
	ck_assert_int_eq(both(&ra.app, &plain.app, post_corr, NULL,
	    "{\"pairs\": [[\"ETH\", \"BTC\", 0.8]]}"), 200);
	ck_assert_int_eq(fb.relayed, 4);

	/* depth carries two path parameters */
	api_answer_init(&a);
	snprintf(body, sizeof(body), "{\"side\": \"bid\", \"points\": "
	    "[[100, 5], [200, 12]], %s}", asof);
	ck_assert_int_lt(api_put_depth(&ra.app, "ETH", "dex", body,
	    strlen(body), &a), 300);
	ck_assert_str_eq(fb.last,
	    "PUT /v1/markets/{asset}/depth/{venue} ETH dex");
	api_answer_release(&a);

	ck_assert_int_eq(api_delete_asset(&ra.app, "BTC", &a), 200);
	api_answer_release(&a);
	ck_assert_int_eq(fb.relayed, 6);
	ck_assert_int_eq((int)applied(&ra), 6);
	ck_assert_int_eq((int)applied(&rb), 6);
	/* valid when published, refused when applied: recorded all the same */
	memset(&c, 0, sizeof(c));
	c.param[0] = "BTC";
	c.body = "";
	c.seq = 7;
	c.app = &ra.app;
	ck_assert_int_eq(api_write_apply(api_write_find("DELETE",
	    "/v1/markets/{asset}"), &c, &a), 404);
	api_answer_release(&a);
	c.app = &rb.app;
	ck_assert_int_eq(api_write_apply(api_write_find("DELETE",
	    "/v1/markets/{asset}"), &c, &a), 404);
	api_answer_release(&a);
	ck_assert_int_eq((int)applied(&ra), 7);
	ck_assert_int_eq((int)applied(&rb), 7);

	/* same listing, body and tag (its version is the sequence) */
	listing(&ra.app, &la, ta);
	listing(&rb.app, &lb, tb);
	ck_assert_str_eq(la, lb);
	ck_assert_str_eq(ta, tb);
	ck_assert_ptr_nonnull(strstr(la, "\"ETH\""));
	ck_assert_ptr_null(strstr(la, "\"BTC\""));
	free(la);
	free(lb);
	ra.app.relay = NULL;
	replica_close(&ra);
	replica_close(&rb);
	replica_close(&plain);
}
END_TEST

START_TEST(store_stamp_copy_restore)
{
	struct replica r, s;
	struct market_data md;
	char *dir = tmpdir_new(), p1[512], p2[512], copy[512];
	struct api_answer a;
	struct api_wcall c;
	const struct api_write *w;

	ck_assert_ptr_nonnull(dir);
	snprintf(p1, sizeof(p1), "%s/one.db", dir);
	snprintf(p2, sizeof(p2), "%s/two.db", dir);
	snprintf(copy, sizeof(copy), "%s/copy.db", dir);
	replica_open(&r, p1);
	replica_open(&s, p2);
	ck_assert_int_eq((int)applied(&r), 0);

	/* a refused write leaves the stamp; store_bus_record() takes it */
	store_bus_stamp(r.app.store, 7);
	ck_assert_int_eq(store_put_asset(r.app.store, "ETH", -1, 0,
	    "2026-01-01T00:00:00Z", NULL), STORE_CONSTRAINT);
	ck_assert_int_eq((int)applied(&r), 0);
	ck_assert_int_eq(store_bus_record(r.app.store), STORE_OK);
	ck_assert_int_eq((int)applied(&r), 7);
	/* nothing pending: a no-op */
	ck_assert_int_eq(store_bus_record(r.app.store), STORE_OK);
	ck_assert_int_eq((int)applied(&r), 7);

	/* a write applied from the bus under a pinned clock */
	w = api_write_find("PUT", "/v1/markets/{asset}");
	ck_assert_ptr_nonnull(w);
	ck_assert_ptr_null(api_write_find("PATCH", "/v1/markets/{asset}"));
	memset(&c, 0, sizeof(c));
	c.app = &r.app;
	c.param[0] = "ETH";
	c.body = "{\"price\": 3000, \"volatility\": 0.5}";
	c.len = strlen(c.body);
	c.seq = 8;
	{
		struct rfc3339_time t = { 1767323045, 0, 0 };

		rfc3339_pin_now(&t);
		api_answer_init(&a);
		ck_assert_int_eq(api_write_apply(w, &c, &a), 201);
		rfc3339_pin_now(NULL);
	}
	ck_assert_ptr_nonnull(strstr(a.body,
	    "\"updated_at\":\"2026-01-02T03:04:05Z\""));
	api_answer_release(&a);
	ck_assert_int_eq((int)applied(&r), 8);

	/* copy, restore into the other store: data and sequence */
	ck_assert_int_eq(store_copy_to(r.app.store, copy), STORE_OK);
	ck_assert_int_eq(store_restore_from(s.app.store, copy), STORE_OK);
	ck_assert_int_eq((int)applied(&s), 8);
	market_data_init(&md);
	ck_assert_int_eq(store_load(s.app.store, &md), STORE_OK);
	ck_assert_uint_eq(md.nassets, 1);
	ck_assert_str_eq(md.assets[0].symbol, "ETH");
	ck_assert(md.assets[0].price == 3000);
	market_data_release(&md);
	ck_assert_int_eq(api_reload(&s.app, 8), 0);
	api_answer_init(&a);
	ck_assert_int_eq(api_get_market(&s.app, "ETH", NULL, &a), 200);
	api_answer_release(&a);

	replica_close(&r);
	replica_close(&s);
	tmpdir_free(dir);
}
END_TEST

/* ---- the bus unreachable -------------------------------------------- */

static char *
annotate(struct app *app, const char *body)
{
	struct server_response res;
	char *out;

	memset(&res, 0, sizeof(res));
	res.status = 200;
	res.content_type = "application/json";
	res.body = strdup(body);
	res.body_len = strlen(body);
	handlers_bus_annotate(app, &res);
	ck_assert_uint_eq(res.body_len, strlen(res.body));
	out = strndup(res.body, res.body_len);
	server_response_release(&res);
	return out;
}

#define FROZEN "{\"code\":\"market_data_frozen\",\"detail\":\"the message " \
	"bus is unreachable: this answer uses the market data as of the " \
	"last write applied here, and writes are refused until the bus " \
	"returns\"}"

START_TEST(unreachable_bus_freezes)
{
	struct replica r;
	struct bus *b = NULL;
	struct bus_status st;
	struct api_answer a;
	char *s;
	static const char ok[] = "{\"price\": 1, \"volatility\": 0}";
	static char url[] = "nats://127.0.0.1:1";
	char *urls[1] = { url };

	replica_open(&r, ":memory:");
	r.cfg.bus_urls = urls;
	r.cfg.nbus_urls = 1;
	ck_assert_int_eq(bus_open(&r.app, &b), 0);
	ck_assert_ptr_eq(r.app.bus, b);
	ck_assert_int_eq(bus_frozen(b), 1);
	ck_assert_int_eq(bus_frozen(NULL), 0);

	api_answer_init(&a);
	ck_assert_int_eq(api_put_asset(&r.app, "ETH", ok, strlen(ok), &a),
	    503);
	ck_assert_int_eq(a.retry_after, 1);
	api_answer_release(&a);
	/* validation still answers first */
	ck_assert_int_eq(api_put_asset(&r.app, "ETH", "{}", 2, &a), 422);
	api_answer_release(&a);

	s = annotate(&r.app, "{\"a\":1}");
	ck_assert_str_eq(s, "{\"a\":1,\"warnings\":[" FROZEN "]}");
	free(s);
	s = annotate(&r.app, "{}");
	ck_assert_str_eq(s, "{\"warnings\":[" FROZEN "]}");
	free(s);
	s = annotate(&r.app, "{\"x\":\"warnings\",\"warnings\":[]}");
	ck_assert_str_eq(s, "{\"x\":\"warnings\",\"warnings\":[" FROZEN "]}");
	free(s);
	s = annotate(&r.app, "{\"o\":{\"warnings\":[1]},\"s\":\"}{\\\"\","
	    "\"warnings\":[{\"code\":\"x\"}]}");
	ck_assert_str_eq(s, "{\"o\":{\"warnings\":[1]},\"s\":\"}{\\\"\","
	    "\"warnings\":[" FROZEN ",{\"code\":\"x\"}]}");
	free(s);
	s = annotate(&r.app, "[1]");
	ck_assert_str_eq(s, "[1]");
	free(s);
	bus_get_status(b, &st);
	ck_assert_int_eq(st.connected, 0);
	ck_assert_int_eq(st.ready, 0);
	ck_assert_uint_eq(st.frozen_answers, 5);

	bus_close(b);
	ck_assert_ptr_null(r.app.bus);
	ck_assert_ptr_null(r.app.relay);
	r.cfg.bus_urls = NULL;
	r.cfg.nbus_urls = 0;
	replica_close(&r);
}
END_TEST

/* `cascaded import` never writes a replica's file aside from the bus. */
START_TEST(cli_import_refused_with_bus)
{
	char *dir = tmpdir_new(), db[512], file[512];
	const char *bin = test_bin();
	FILE *f;

	ck_assert_ptr_nonnull(dir);
	snprintf(db, sizeof(db), "%s/i.db", dir);
	snprintf(file, sizeof(file), "%s/lv.json", dir);
	f = fopen(file, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"levels\": [{\"price\": 1, \"qty\": 1, \"side\": "
	    "\"sell\"}]}", f);
	fclose(f);
	{
		const char *const mig[] = { bin, "migrate", "--db", db, NULL };
		const char *const seed[] = { bin, "seed", "--db", db, NULL };
		const char *const bus[] = { bin, "import", "liquidations",
			"ETH", file, "--db", db, "--bus",
			"nats://127.0.0.1:1", NULL };
		const char *const alone[] = { bin, "import", "liquidations",
			"ETH", file, "--db", db, NULL };

		ck_assert_int_eq(run_command(mig, 10000), 0);
		ck_assert_int_eq(run_command(seed, 10000), 0);
		ck_assert_int_eq(run_command(bus, 10000), 2);
		ck_assert_int_eq(run_command(alone, 10000), 0);
	}
	tmpdir_free(dir);
}
END_TEST

static Suite *
bus_suite(void)
{
	Suite *s = suite_create("bus");
	TCase *tc = tcase_create("bus");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, relay_replicas_match_single_process);
	tcase_add_test(tc, store_stamp_copy_restore);
	tcase_add_test(tc, unreachable_bus_freezes);
	tcase_add_test(tc, cli_import_refused_with_bus);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(bus_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

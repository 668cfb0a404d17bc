/*
 * test_metrics.c - the counters and the Prometheus text rendering
 * (format 0.0.4): route templates as labels, cumulative histograms whose
 * +Inf bucket equals _count, label escaping, and the pool and snapshot
 * families the GET /metrics handler adds (handlers_ops_metrics).  The
 * HTTP side (GET /metrics on the real binary) is in test_server.c.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "metrics.h"
#include "metrics_read.h"
#include "pool.h"
#include "snapshot.h"

static void
setup(void)
{
	metrics_reset();
}

START_TEST(route_ids)
{
	int a = metrics_route_id("/v1/markets/{asset}");
	int b = metrics_route_id("/v1/score");

	ck_assert_int_gt(a, 0);
	ck_assert_int_gt(b, 0);
	ck_assert_int_ne(a, b);
	ck_assert_int_eq(metrics_route_id("/v1/markets/{asset}"), a);
	ck_assert_int_eq(metrics_route_id(NULL), 0);
}
END_TEST

START_TEST(requests_and_histograms)
{
	int r = metrics_route_id("/v1/markets/{asset}");
	char *t;

	metrics_request_begin();
	metrics_request_begin();
	metrics_request_begin();
	metrics_request_end(r, "GET", 200, 300);	/* 0.3 ms */
	metrics_request_end(r, "GET", 200, 40000);	/* 40 ms */
	metrics_request_end(0, "BREW", 418, 10);
	metrics_request_begin();	/* one still in flight */
	metrics_score_observe(1, 2000000);
	metrics_db_write_failed();
	t = metrics_render(NULL, NULL);
	ck_assert_ptr_nonnull(t);
	ck_assert_double_eq(metrics_read_value(t, "cascaded_http_requests_total{route="
	    "\"/v1/markets/{asset}\",method=\"GET\",status=\"200\"}"), 2);
	ck_assert_double_eq(metrics_read_value(t, "cascaded_http_requests_total{route="
	    "\"unmatched\",method=\"other\",status=\"4xx\"}"), 1);
	ck_assert_double_eq(metrics_read_value(t,
	    "cascaded_http_request_duration_seconds_bucket{route="
	    "\"/v1/markets/{asset}\",le=\"0.0005\"}"), 1);
	ck_assert_double_eq(metrics_read_value(t,
	    "cascaded_http_request_duration_seconds_bucket{route="
	    "\"/v1/markets/{asset}\",le=\"0.025\"}"), 1);
	ck_assert_double_eq(metrics_read_value(t,
	    "cascaded_http_request_duration_seconds_bucket{route="
	    "\"/v1/markets/{asset}\",le=\"0.05\"}"), 2);
	ck_assert_double_eq(metrics_read_value(t,
	    "cascaded_http_request_duration_seconds_bucket{route="
	    "\"/v1/markets/{asset}\",le=\"+Inf\"}"), 2);
	ck_assert_double_eq(metrics_read_value(t,
	    "cascaded_http_request_duration_seconds_count{route="
	    "\"/v1/markets/{asset}\"}"), 2);
	ck_assert_double_eq_tol(metrics_read_value(t,
	    "cascaded_http_request_duration_seconds_sum{route="
	    "\"/v1/markets/{asset}\"}"), 0.0403, 1e-12);
	ck_assert_double_eq(metrics_read_value(t, "cascaded_http_requests_in_flight"),
	    1);
	ck_assert_double_eq(metrics_read_value(t, "cascaded_score_duration_seconds_count"
	    "{method=\"monte_carlo\"}"), 1);
	ck_assert_double_eq(metrics_read_value(t, "cascaded_score_duration_seconds_bucket"
	    "{method=\"monte_carlo\",le=\"1\"}"), 0);
	ck_assert_double_eq(metrics_read_value(t, "cascaded_score_duration_seconds_bucket"
	    "{method=\"monte_carlo\",le=\"2.5\"}"), 1);
	ck_assert_double_eq(metrics_read_value(t, "cascaded_score_duration_seconds_count"
	    "{method=\"exact\"}"), 0);
	ck_assert_double_eq(metrics_read_value(t, "cascaded_db_write_failures_total"),
	    1);
	ck_assert_ptr_nonnull(strstr(t,
	    "# TYPE cascaded_http_request_duration_seconds histogram\n"));
	ck_assert_ptr_nonnull(strstr(t,
	    "# TYPE cascaded_http_requests_total counter\n"));
	/* no pool, no snapshot: their families are left out */
	ck_assert_ptr_null(strstr(t, "cascaded_compute_pool"));
	ck_assert_ptr_null(strstr(t, "cascaded_snapshot_version"));
	free(t);
}
END_TEST

START_TEST(label_escaping)
{
	int r = metrics_route_id("/odd\"route\\x");
	char *t;

	metrics_request_begin();
	metrics_request_end(r, "PUT", 201, 1);
	t = metrics_render(NULL, NULL);
	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(strstr(t, "route=\"/odd\\\"route\\\\x\","
	    "method=\"PUT\",status=\"201\"} 1\n"));
	free(t);
}
END_TEST

START_TEST(pool_family)
{
	struct pool_stats ps;
	char *t;

	memset(&ps, 0, sizeof(ps));
	ps.threads = 4;
	ps.capacity = 64;
	ps.queued = 3;
	ps.running = 2;
	ps.saturated = 7;
	ps.completed = 11;
	t = handlers_ops_metrics(&ps, NULL, 0);
	ck_assert_ptr_nonnull(t);
	ck_assert_double_eq(metrics_read_value(t, "cascaded_compute_pool_threads"), 4);
	ck_assert_double_eq(metrics_read_value(t, "cascaded_compute_pool_queue_capacity"),
	    64);
	ck_assert_double_eq(metrics_read_value(t, "cascaded_compute_pool_queue_depth"),
	    3);
	ck_assert_double_eq(metrics_read_value(t, "cascaded_compute_pool_running"), 2);
	ck_assert_double_eq(metrics_read_value(t,
	    "cascaded_compute_pool_saturated_total"), 7);
	ck_assert_double_eq(metrics_read_value(t, "cascaded_compute_pool_jobs_total"),
	    11);
	free(t);
}
END_TEST

START_TEST(snapshot_family)
{
	struct snapshot snap;
	struct snapshot_asset as[3];
	char *t;

	memset(&snap, 0, sizeof(snap));
	memset(as, 0, sizeof(as));
	snprintf(as[0].symbol, sizeof(as[0].symbol), "ETH");
	as[0].side[0].oldest_epoch = 1000;
	as[0].side[1].oldest_epoch = INT64_MAX;	/* no depth: left out */
	snprintf(as[1].symbol, sizeof(as[1].symbol), "BTC");
	as[1].side[0].oldest_epoch = INT64_MIN;	/* unparsable: left out */
	as[1].side[1].oldest_epoch = 4999;
	snprintf(as[2].symbol, sizeof(as[2].symbol), "USD");
	as[2].implicit = 1;			/* never listed */
	snap.version = 7;
	snap.nassets = 3;
	snap.assets = as;
	t = handlers_ops_metrics(NULL, &snap, 5000);
	ck_assert_ptr_nonnull(t);
	ck_assert_double_eq(metrics_read_value(t, "cascaded_snapshot_version"),
	    7);
	ck_assert_double_eq(metrics_read_value(t,
	    "cascaded_depth_age_seconds{asset=\"ETH\",side=\"bid\"}"), 4000);
	ck_assert_double_eq(metrics_read_value(t,
	    "cascaded_depth_age_seconds{asset=\"BTC\",side=\"ask\"}"), 1);
	ck_assert_ptr_null(strstr(t, "asset=\"ETH\",side=\"ask\""));
	ck_assert_ptr_null(strstr(t, "asset=\"BTC\",side=\"bid\""));
	ck_assert_ptr_null(strstr(t, "asset=\"USD\""));
	ck_assert_ptr_nonnull(strstr(t,
	    "# TYPE cascaded_depth_age_seconds gauge\n"));
	/* no pool given: its family is left out */
	ck_assert_ptr_null(strstr(t, "cascaded_compute_pool"));
	free(t);
}
END_TEST

START_TEST(every_line_is_well_formed)
{
	int r = metrics_route_id("/healthz");
	struct pool_stats ps;
	char *t, *line, *nl;

	memset(&ps, 0, sizeof(ps));
	metrics_request_begin();
	metrics_request_end(r, "GET", 200, 5);
	t = handlers_ops_metrics(&ps, NULL, 0);
	ck_assert_ptr_nonnull(t);
	ck_assert(t[strlen(t) - 1] == '\n');
	for (line = t; *line != '\0'; line = nl + 1) {
		char *sp;

		nl = strchr(line, '\n');
		ck_assert_ptr_nonnull(nl);
		*nl = '\0';
		if (line[0] == '#') {
			ck_assert(strncmp(line, "# HELP ", 7) == 0 ||
			    strncmp(line, "# TYPE ", 7) == 0);
			continue;
		}
		ck_assert(strncmp(line, "cascaded_", 9) == 0);
		sp = strrchr(line, ' ');
		ck_assert_ptr_nonnull(sp);
		{
			char *end;

			strtod(sp + 1, &end);
			ck_assert_msg(*end == '\0', "bad value: %s", line);
		}
	}
	free(t);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, route_ids);
	tcase_add_test(tc, requests_and_histograms);
	tcase_add_test(tc, label_escaping);
	tcase_add_test(tc, pool_family);
	tcase_add_test(tc, snapshot_family);
	tcase_add_test(tc, every_line_is_well_formed);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

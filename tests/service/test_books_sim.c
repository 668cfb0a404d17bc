/*
 * test_books_sim.c - POST /v1/books/{book}/simulate (docs/books.md
 * "Simulate", docs/model.md 8.4): in process through api.h on a database
 * file, and end to end over HTTP through the real server.
 *
 * - a perp book on an asset without depth or levels: the expected
 *   liquidated value is size x L x P(min <= L) (5.1) within 4 standard
 *   errors;
 * - the book's own derived levels are left out: the answer equals
 *   lc_book_sim of the same positions (decoded by the score codec)
 *   against the market without any level; with a copy y of the book,
 *   the answer for x equals lc_book_sim against the market that held x
 *   alone (exactly one copy of the levels left);
 * - the same answer with 1 and 4 threads (the deferred job run twice);
 * - 404 unknown book, 422 bad options and the cost bound with pointers;
 * - over HTTP: 200 with the documented members, 404, 422 problem+json.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api.h"
#include "app_fixture.h"
#include "cascade/book_sim.h"
#include "cascade/stats.h"
#include "codec.h"
#include "config.h"
#include "snapshot.h"
#include "store.h"
#include "store_fixture.h"
#include "testlib.h"

static char *dir;
static char db[512];
static struct config cfg;
static struct app app;

static void
setup(void)
{
	char *err = NULL;

	ck_assert_msg(app_fixture_setup(&app, &cfg, &dir, db, sizeof(db),
	    "sim.db", &err) == 0, "fixture: %s", err);
}

static void
teardown(void)
{
	app_fixture_teardown(&app, &cfg, &dir);
}

static char *last;

/* A use-case call that must answer `want`; its text kept in `last`. */
static void
check_answer(struct api_answer *a, int want, const char *what)
{
	char *t = api_answer_text(a);

	ck_assert_msg(a->status == want, "%s: %d %s", what, a->status,
	    t != NULL ? t : "");
	free(last);
	last = t;
	api_answer_release(a);
}

static void
put(const char *what, int (*fn)(struct app *, const char *, const char *,
    size_t, struct api_answer *), const char *name, const char *body)
{
	struct api_answer a;
	int st;

	api_answer_init(&a);
	st = fn(&app, name, body, strlen(body), &a);
	ck_assert_msg(st == 200 || st == 201, "%s %s: %d", what, name, st);
	api_answer_release(&a);
}

static int
put_asset(struct app *ap, const char *s, const char *b, size_t n,
    struct api_answer *a)
{
	return api_put_asset(ap, s, b, n, a);
}

static int
put_book(struct app *ap, const char *s, const char *b, size_t n,
    struct api_answer *a)
{
	return api_put_book(ap, s, b, n, 0, a);
}

static void
simulate(const char *book, const char *body, int want)
{
	struct api_answer a;

	api_answer_init(&a);
	api_books_sim(&app, book, body, strlen(body), NULL, &a);
	check_answer(&a, want, book);
}

static double
num_at(const cJSON *j, const char *obj, const char *key)
{
	const cJSON *o = obj != NULL ? cJSON_GetObjectItem(j, obj) : j;
	const cJSON *v = cJSON_GetObjectItem(o, key);

	ck_assert_msg(cJSON_IsNumber(v), "%s.%s", obj ? obj : "", key);
	return v->valuedouble;
}

#define PERPS "{\"positions\": [{\"id\": \"p1\", \"type\": \"perp\", " \
	"\"asset\": \"SOL\", \"side\": \"long\", \"size\": 10, " \
	"\"entry_price\": 100, \"margin\": 150}]}"

/* 5.1's closed form for a perp without depth. */
START_TEST(perp_closed_form)
{
	double L = (10.0 * 100 - 150) / (10.0 * (1 - 0.005)), p, se;
	cJSON *j;

	put("asset", put_asset, "SOL", "{\"price\": 100, \"volatility\": 1}");
	put("book", put_book, "pp", PERPS);
	simulate("pp", "{\"horizon_days\": 30, \"paths\": 20000}", 200);
	j = cJSON_Parse(last);
	ck_assert_ptr_nonnull(j);
	p = lc_barrier_prob(LC_DOWN, 100, L, lc_sigma_h(1.0, 30), 4);
	se = 10 * L * sqrt(p * (1 - p) / 20000);
	ck_assert_msg(fabs(num_at(j, "liquidated_value", "expected") -
	    10 * L * p) <= 4 * se, "mean %.6g want %.6g",
	    num_at(j, "liquidated_value", "expected"), 10 * L * p);
	ck_assert(fabs(num_at(j, NULL, "p_any_liquidation") - p) <=
	    4 * sqrt(p * (1 - p) / 20000));
	ck_assert(num_at(j, "bad_debt", "expected") == 0);
	ck_assert(num_at(j, NULL, "paths") == 20000);
	ck_assert(num_at(j, NULL, "positions") == 1);
	ck_assert_ptr_nonnull(strstr(last, "\"book\":\"pp\""));
	cJSON_Delete(j);
}
END_TEST

#define LOANS "{\"positions\": [" \
	"{\"id\": \"a\", \"type\": \"loan\", \"collateral\": [{\"asset\": " \
	"\"ETH\", \"amount\": 300, \"liquidation_threshold\": 0.8}], " \
	"\"debt\": [{\"asset\": \"USD\", \"amount\": 420000}]}," \
	"{\"id\": \"b\", \"type\": \"loan\", \"collateral\": [{\"asset\": " \
	"\"ETH\", \"amount\": 200, \"liquidation_threshold\": 0.8}], " \
	"\"debt\": [{\"asset\": \"USD\", \"amount\": 290000}]}," \
	"{\"id\": \"c\", \"type\": \"perp\", \"asset\": \"ETH\", " \
	"\"side\": \"long\", \"size\": 100, \"entry_price\": 2000, " \
	"\"margin\": 30000}]}"

static void
eth_market(void)
{
	static const char bid[] = "{\"side\": \"bid\", \"points\": "
	    "[[100, 40], [500, 150], [2000, 500]]}";
	struct api_answer a;

	put("asset", put_asset, "ETH", "{\"price\": 2000, \"volatility\": 0.8}");
	api_answer_init(&a);
	api_put_depth(&app, "ETH", "main", bid, sizeof(bid) - 1, &a);
	check_answer(&a, 201, "depth");
}

/* The book's own levels left out; another book's levels counted. */
START_TEST(own_levels_left_out)
{
	static const char opts[] = "{\"horizon_days\": 7, \"paths\": 4000}";
	struct score_request req;
	struct lc_asset_market am[16];
	struct lc_market m;
	struct lc_book_sim ref;
	struct snapshot *s;
	struct problem err;
	char body[2048];
	double ev, bd;
	size_t i;
	cJSON *j;

	eth_market();
	put("book", put_book, "x", LOANS);
	simulate("x", opts, 200);
	j = cJSON_Parse(last);
	ev = num_at(j, "liquidated_value", "expected");
	bd = num_at(j, "bad_debt", "expected");
	ck_assert(ev > 0);
	cJSON_Delete(j);
	/* the reference: the same positions against no level at all */
	s = snapshot_cell_get(app.cell);
	ck_assert_ptr_nonnull(s);
	ck_assert(s->nassets <= 16);
	snprintf(body, sizeof(body), "%.*s, \"horizon_days\": 7, "
	    "\"paths\": 4000}", (int)(strlen(LOANS) - 1), LOANS);
	codec_request_init(&req);
	problem_init(&err);
	ck_assert_int_eq(codec_decode_score(body, strlen(body), s, NULL, &req,
	    &err), 0);
	m = s->market;
	memcpy(am, m.assets, s->nassets * sizeof(*am));
	for (i = 0; i < s->nassets; i++) {
		am[i].levels[0].n = am[i].levels[1].n = 0;
		am[i].base[0] = am[i].base[1] = NULL;
	}
	m.assets = am;
	req.lc.params.threads = 1;
	ck_assert_int_eq(lc_book_sim(&m, &req.lc, HUGE_VAL, &ref), LC_OK);
	ck_assert_msg(ref.value.expected == ev, "%.17g vs %.17g",
	    ref.value.expected, ev);
	ck_assert(ref.bad_debt.expected == bd);
	/*
	 * y, a copy of x: its sales deepen the cascades of x, and what is
	 * left of the market is exactly one copy of the levels (those of
	 * the market that held x alone)
	 */
	put("book", put_book, "y", LOANS);
	simulate("x", opts, 200);
	j = cJSON_Parse(last);
	ck_assert(num_at(j, "liquidated_value", "expected") != ev);
	ck_assert_int_eq(lc_book_sim(&s->market, &req.lc, HUGE_VAL, &ref), LC_OK);
	ck_assert(ref.value.expected ==
	    num_at(j, "liquidated_value", "expected"));
	ck_assert(ref.bad_debt.expected == num_at(j, "bad_debt", "expected"));
	cJSON_Delete(j);
	codec_request_release(&req);
	problem_release(&err);
	snapshot_unref(s);
}
END_TEST

static struct api_sim_job *captured;

static void
capture(void *ctx, struct api_sim_job *job)
{
	(void)ctx;
	captured = job;
}

/* The body after "as_of" (the only member that depends on the clock). */
static const char *
after_as_of(const char *b)
{
	const char *p = strstr(b, "\"horizon_days\"");

	ck_assert_ptr_nonnull(p);
	return p;
}

START_TEST(threads_same_answer)
{
	struct api_sim_opts o = { capture, NULL };
	struct api_answer a;
	char *one;

	eth_market();
	put("book", put_book, "x", LOANS);
	api_answer_init(&a);
	ck_assert_int_eq(api_books_sim(&app, "x", "{\"paths\": 3000}", 15, &o,
	    &a), API_DEFERRED);
	api_answer_release(&a);
	ck_assert_ptr_nonnull(captured);
	api_answer_init(&a);
	api_sim_job_run(captured, 1, &a);
	check_answer(&a, 200, "1 thread");
	one = strdup(after_as_of(last));
	api_answer_init(&a);
	api_sim_job_run(captured, 4, &a);
	check_answer(&a, 200, "4 threads");
	ck_assert_str_eq(one, after_as_of(last));
	free(one);
	api_sim_job_free(captured);
	captured = NULL;
}
END_TEST

START_TEST(bad_requests)
{
	eth_market();
	put("book", put_book, "x", LOANS);
	simulate("nope", "{}", 404);
	simulate("No", "{}", 422);
	simulate("x", "{\"paths\": 0}", 422);
	ck_assert_ptr_nonnull(strstr(last, "/paths"));
	simulate("x", "{\"tail_dof\": 1}", 422);
	ck_assert_ptr_nonnull(strstr(last, "/tail_dof"));
	simulate("x", "{\"positions\": []}", 422);
	ck_assert_ptr_nonnull(strstr(last, "/positions"));
	simulate("x", "[1]", 422);
	simulate("x", "{", 400);
	simulate("x", "", 200);
	cfg.max_mc_cost = 1000;
	simulate("x", "{\"paths\": 100}", 422);
	ck_assert_ptr_nonnull(strstr(last, "/paths"));
	simulate("x", "{\"paths\": 10, \"steps\": 16}", 200);
}
END_TEST

/* ---- HTTP ------------------------------------------------------------- */

static struct server_proc srv;
static char *hdir;
static char hdb[512];

static int
http(const char *method, const char *path, const char *body, char **out,
    char *ctype, size_t cap)
{
	struct http_reply r;
	char cbuf[128];
	const char *ct;
	int st;

	ck_assert_int_eq(http_request(srv.port, method, path,
	    "Content-Type: application/json\r\n", body,
	    body != NULL ? strlen(body) : 0, &r, 20000), 0);
	st = r.status;
	ct = http_header(&r, "Content-Type", cbuf, sizeof(cbuf));
	if (ctype != NULL)
		snprintf(ctype, cap, "%s", ct != NULL ? ct : "");
	if (out != NULL) {
		*out = r.body;
		r.body = NULL;
	}
	http_reply_release(&r);
	return st;
}

START_TEST(http_end_to_end)
{
	static const char *const args[] = { NULL };
	static const char *const members[] = { "\"liquidated_value\":{",
		"\"bad_debt\":{", "\"liquidated_positions\":{",
		"\"expected\":", "\"std_error\":", "\"var\":[{\"q\":0.95",
		"\"quantiles\":[", "\"p_any_liquidation\":",
		"\"p_any_liquidation_std_error\":", "\"seed\":7",
		"\"steps\":8", "\"paths_walked\":", "\"warnings\":[]" };
	char *b = NULL, ct[128];
	size_t i;

	ck_assert_msg(fixture_start(&srv, &hdir, hdb, sizeof(hdb), "h.db",
	    args, 10000) == 0, "server: %s", srv.log ? srv.log : "");
	ck_assert_int_eq(http("PUT", "/v1/markets/ETH",
	    "{\"price\": 2000, \"volatility\": 0.8}", NULL, NULL, 0), 201);
	ck_assert_int_eq(http("PUT", "/v1/books/h", LOANS, NULL, NULL, 0),
	    201);
	ck_assert_int_eq(http("POST", "/v1/books/h/simulate",
	    "{\"paths\": 2000, \"steps\": 8, \"seed\": 7}", &b, ct,
	    sizeof(ct)), 200);
	for (i = 0; i < sizeof(members) / sizeof(members[0]); i++)
		ck_assert_msg(strstr(b, members[i]) != NULL, "%s in %s",
		    members[i], b);
	free(b);
	ck_assert_int_eq(http("POST", "/v1/books/none/simulate", "{}", NULL,
	    NULL, 0), 404);
	ck_assert_int_eq(http("POST", "/v1/books/h/simulate",
	    "{\"steps\": 300}", &b, ct, sizeof(ct)), 422);
	ck_assert_ptr_nonnull(strstr(ct, "application/problem+json"));
	ck_assert_ptr_nonnull(strstr(b, "\"pointer\":\"/steps\""));
	free(b);
	ck_assert_int_eq(http("GET", "/v1/books/h/simulate", NULL, NULL,
	    NULL, 0), 405);
	fixture_stop(&srv, &hdir, 10000);
}
END_TEST

static Suite *
books_sim_suite(void)
{
	Suite *s = suite_create("books_sim");
	TCase *tc = tcase_create("api");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, perp_closed_form);
	tcase_add_test(tc, own_levels_left_out);
	tcase_add_test(tc, threads_same_answer);
	tcase_add_test(tc, bad_requests);
	suite_add_tcase(s, tc);
	tc = tcase_create("http");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, http_end_to_end);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	int nf;
	SRunner *sr = srunner_create(books_sim_suite());

	srunner_run_all(sr, CK_NORMAL);
	nf = srunner_ntests_failed(sr);
	srunner_free(sr);
	free(last);
	return nf == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

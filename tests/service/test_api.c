/*
 * test_api.c - integration of the REST API (docs/model.md 7) against the real
 * build/cascaded ($CASCADED_BIN) on 127.0.0.1:0 with a temporary
 * database: every endpoint's status codes, Location, ETag/304, writes read
 * back, the score of the worked example 01 after applying its writes over
 * HTTP, `cascaded score` answering exactly what POST /v1/score answers
 * for every golden request, `cascaded import` of JSON and CSV, and scoring
 * from several threads while depth writes run (every answer must come
 * from one whole snapshot).
 *
 * The worked examples are read from tests/golden/ (GOLDEN_DIR overrides),
 * relative to the repository root the suites run from.
 */
#include <check.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "api.h"
#include "cascade/cascade.h"
#include "config.h"
#include "marketdata.h"
#include "snapshot.h"
#include "store.h"
#include "testlib.h"

#define T_MS 10000
#define JSON_CT "Content-Type: application/json\r\n"

static char *dir;
static char db[512];
static struct server_proc srv;

static void
start_with(const char *const *args)
{
	ck_assert_msg(fixture_start(&srv, &dir, db, sizeof(db), "api.db", args,
	    T_MS) == 0, "server did not start: %s",
	    srv.log ? srv.log : "(no log)");
}

static void
setup(void)
{
	static const char *const args[] = { "--threads", "4", NULL };

	start_with(args);
}

static void
setup_auth(void)
{
	static const char *const args[] = { "--api-key", "k-secret",
		"--cors-origin", "https://app.example", NULL };

	start_with(args);
}

static void
teardown(void)
{
	fixture_stop(&srv, &dir, T_MS);
}

/* ---- helpers -------------------------------------------------------- */

static const char *
golden_dir(void)
{
	const char *d = getenv("GOLDEN_DIR");

	return d != NULL ? d : "tests/golden";
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf != NULL) {
		buf[n] = '\0';
		if (len != NULL)
			*len = (size_t)n;
	}
	return buf;
}

static cJSON *
golden(const char *name)
{
	char path[1024];
	char *text;
	cJSON *j;

	snprintf(path, sizeof(path), "%s/%s", golden_dir(), name);
	text = slurp(path, NULL);
	ck_assert_msg(text != NULL, "cannot read %s", path);
	j = cJSON_Parse(text);
	free(text);
	ck_assert_msg(j != NULL, "%s is not JSON", path);
	return j;
}

/*
 * The server's access log goes to a pipe: read it as we go, or hundreds of
 * requests fill the pipe and block the server.  Main thread only.
 */
static void
drain_log(void)
{
	server_proc_read_log(&srv);
	if (srv.log_len > (1u << 20)) {
		srv.log_len = 0;
		srv.log[0] = '\0';
	}
}

/* One request; the reply must be a valid HTTP answer. */
static void
req(const char *method, const char *path, const char *extra, const char *body,
    struct http_reply *r)
{
	char hdr[512];

	drain_log();
	snprintf(hdr, sizeof(hdr), "%s%s", body != NULL ? JSON_CT : "",
	    extra != NULL ? extra : "");
	ck_assert_int_eq(http_request(srv.port, method, path, hdr, body,
	                     body != NULL ? strlen(body) : 0, r, T_MS),
	    0);
	ck_assert_msg(r->status > 0, "%s %s: no answer", method, path);
}

/* Request, check the status, return the parsed body (NULL if empty). */
static cJSON *
call(const char *method, const char *path, const char *body, int status)
{
	struct http_reply r;
	cJSON *j = NULL;

	req(method, path, NULL, body, &r);
	ck_assert_msg(r.status == status, "%s %s: status %d, expected %d: %s",
	    method, path, r.status, status, r.body);
	if (r.body_len > 0) {
		j = cJSON_Parse(r.body);
		ck_assert_msg(j != NULL, "%s %s: not JSON: %s", method, path,
		    r.body);
		ck_assert_msg(cJSON_IsArray(
		                  cJSON_GetObjectItem(j, "warnings")) ||
		        status >= 400 || strcmp(method, "GET") == 0,
		    "%s %s: no warnings array", method, path);
	}
	http_reply_release(&r);
	return j;
}

static double
num_at(const cJSON *j, const char *a, const char *b)
{
	const cJSON *v = cJSON_GetObjectItem(j, a);

	if (b != NULL)
		v = cJSON_GetObjectItem(v, b);
	ck_assert_msg(cJSON_IsNumber(v), "%s%s%s is not a number", a,
	    b ? "." : "", b ? b : "");
	return v->valuedouble;
}

/* GET path with If-None-Match: tag: 304 without a body, the same ETag. */
static void
expect_not_modified(const char *path, const char *tag)
{
	struct http_reply r;
	char hdr[128], etag[64];

	snprintf(hdr, sizeof(hdr), "If-None-Match: %s\r\n", tag);
	req("GET", path, hdr, NULL, &r);
	ck_assert_int_eq(r.status, 304);
	ck_assert_int_eq((int)r.body_len, 0);
	ck_assert_str_eq(http_header(&r, "ETag", etag, sizeof(etag)), tag);
	http_reply_release(&r);
}

/* Apply the "writes" of a golden file over HTTP. */
static void
apply_writes(const cJSON *g)
{
	const cJSON *w, *writes = cJSON_GetObjectItem(g, "writes");
	struct http_reply r;
	char *body;

	if (writes == NULL && cJSON_GetObjectItem(g, "write") != NULL)
		return;
	cJSON_ArrayForEach(w, writes)
	{
		body = cJSON_PrintUnformatted(cJSON_GetObjectItem(w, "body"));
		ck_assert_ptr_nonnull(body);
		req(cJSON_GetObjectItem(w, "method")->valuestring,
		    cJSON_GetObjectItem(w, "path")->valuestring, NULL, body,
		    &r);
		ck_assert_msg(r.status == 200 || r.status == 201,
		    "write %s: %d %s",
		    cJSON_GetObjectItem(w, "path")->valuestring, r.status,
		    r.body);
		http_reply_release(&r);
		free(body);
	}
}

/* Every member of `exp` must be in `act` (numbers to a tolerance). */
static void
expect_subset(const cJSON *exp, const cJSON *act, const char *path)
{
	const cJSON *e, *a;
	char sub[512];
	double x, y, tol;
	int i;

	if (cJSON_IsObject(exp)) {
		ck_assert_msg(cJSON_IsObject(act), "%s: not an object", path);
		cJSON_ArrayForEach(e, exp)
		{
			snprintf(sub, sizeof(sub), "%s/%s", path, e->string);
			a = cJSON_GetObjectItem(act, e->string);
			ck_assert_msg(a != NULL, "%s: missing", sub);
			expect_subset(e, a, sub);
		}
	} else if (cJSON_IsArray(exp)) {
		ck_assert_msg(cJSON_IsArray(act), "%s: not an array", path);
		ck_assert_msg(cJSON_GetArraySize(act) ==
		        cJSON_GetArraySize(exp),
		    "%s: %d entries, expected %d", path,
		    cJSON_GetArraySize(act), cJSON_GetArraySize(exp));
		for (i = 0; i < cJSON_GetArraySize(exp); i++) {
			snprintf(sub, sizeof(sub), "%s/%d", path, i);
			expect_subset(cJSON_GetArrayItem(exp, i),
			    cJSON_GetArrayItem(act, i), sub);
		}
	} else if (cJSON_IsNumber(exp)) {
		ck_assert_msg(cJSON_IsNumber(act), "%s: not a number", path);
		x = exp->valuedouble;
		y = act->valuedouble;
		tol = strstr(path, "slippage") != NULL
		    ? 1e-6
		    : 1e-9 * fmax(1.0, fabs(x));
		ck_assert_msg(fabs(x - y) <= tol, "%s: %.17g, expected %.17g",
		    path, y, x);
	} else if (cJSON_IsString(exp)) {
		ck_assert_msg(cJSON_IsString(act) &&
		        strcmp(exp->valuestring, act->valuestring) == 0,
		    "%s: expected \"%s\"", path, exp->valuestring);
	} else if (cJSON_IsNull(exp)) {
		ck_assert_msg(cJSON_IsNull(act), "%s: expected null", path);
	} else if (cJSON_IsBool(exp)) {
		ck_assert_msg(cJSON_IsBool(act) &&
		        cJSON_IsTrue(exp) == cJSON_IsTrue(act),
		    "%s: boolean differs", path);
	}
}

/*
 * Run the binary with argv (NULL-terminated, argv[0] ignored: the binary),
 * capture stdout (up to cap bytes) and return the exit status.
 */
static int
run_capture(const char *const *argv, char *out, size_t cap)
{
	const char *av[32];
	int pfd[2], status = -1, devnull;
	size_t n = 0, k;
	ssize_t got;
	pid_t pid;
	struct pollfd p;

	av[0] = test_bin();
	for (k = 1; argv[k] != NULL && k < 31; k++)
		av[k] = argv[k];
	av[k] = NULL;
	if (pipe(pfd) != 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(pfd[1], 1);
		devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, 2);
		close(pfd[0]);
		execv(av[0], (char *const *)(void *)av);
		_exit(127);
	}
	close(pfd[1]);
	p.fd = pfd[0];
	p.events = POLLIN;
	for (;;) {
		if (poll(&p, 1, T_MS) != 1)
			break;
		got = read(pfd[0], out + n, cap - 1 - n);
		if (got <= 0)
			break;
		n += (size_t)got;
		if (n + 1 >= cap)
			break;
	}
	out[n] = '\0';
	close(pfd[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Canonical text of a score answer without its as_of timestamp. */
static char *
without_as_of(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	char *s;

	ck_assert_msg(j != NULL, "not JSON: %.300s", text);
	cJSON_DeleteItemFromObject(j, "as_of");
	s = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return s;
}

static void
put_basics(void)
{
	cJSON *j;

	j = call("PUT", "/v1/markets/ETH",
	    "{\"price\": 2000, \"volatility\": 0.8}", 201);
	cJSON_Delete(j);
	j = call("PUT", "/v1/markets/USDC", "{\"price\": 1, \"volatility\": 0}",
	    201);
	cJSON_Delete(j);
}

/* ---- markets -------------------------------------------------------- */

START_TEST(markets_create_read_update_delete)
{
	struct http_reply r;
	char loc[256], etag[64], etag2[64], hdr[128];
	cJSON *j;

	j = call("GET", "/v1/markets", NULL, 200);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "markets")),
	    0);
	cJSON_Delete(j);

	/* create: 201 with Location; again: 200 */
	req("PUT", "/v1/markets/ETH", NULL,
	    "{\"price\": 2000, \"volatility\": 0.8}", &r);
	ck_assert_int_eq(r.status, 201);
	ck_assert_ptr_nonnull(http_header(&r, "Location", loc, sizeof(loc)));
	ck_assert_str_eq(loc, "/v1/markets/ETH");
	j = cJSON_Parse(r.body);
	ck_assert_double_eq(num_at(j, "price", NULL), 2000);
	ck_assert(cJSON_IsArray(cJSON_GetObjectItem(j, "warnings")));
	cJSON_Delete(j);
	http_reply_release(&r);
	req("PUT", "/v1/markets/ETH", NULL, "{\"volatility\": 0.7}", &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_null(http_header(&r, "Location", loc, sizeof(loc)));
	http_reply_release(&r);

	/* read back; the update kept the price */
	req("GET", "/v1/markets/ETH", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(http_header(&r, "ETag", etag, sizeof(etag)));
	j = cJSON_Parse(r.body);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "asset")->valuestring, "ETH");
	ck_assert_double_eq(num_at(j, "price", NULL), 2000);
	ck_assert_double_eq(num_at(j, "volatility", NULL), 0.7);
	cJSON_Delete(j);
	http_reply_release(&r);

	/* If-None-Match: 304 without a body; another tag: 200 */
	expect_not_modified("/v1/markets/ETH", etag);
	snprintf(hdr, sizeof(hdr), "If-None-Match: %s\r\n", etag);
	req("GET", "/v1/markets/ETH", "If-None-Match: W/\"x\", *\r\n", NULL,
	    &r);
	ck_assert_int_eq(r.status, 304);
	http_reply_release(&r);
	req("GET", "/v1/markets/ETH", "If-None-Match: \"0000\"\r\n", NULL, &r);
	ck_assert_int_eq(r.status, 200);
	http_reply_release(&r);

	/* a write to another asset keeps ETH's tag; a write to ETH changes it */
	j = call("PUT", "/v1/markets/BTC", "{\"price\": 60000}", 201);
	cJSON_Delete(j);
	req("GET", "/v1/markets/ETH", hdr, NULL, &r);
	ck_assert_int_eq(r.status, 304);
	http_reply_release(&r);
	j = call("PUT", "/v1/markets/ETH", "{\"price\": 2100}", 200);
	cJSON_Delete(j);
	req("GET", "/v1/markets/ETH", hdr, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_ne(http_header(&r, "ETag", etag2, sizeof(etag2)), etag);
	http_reply_release(&r);

	/* the listing, sorted by symbol, with its own ETag */
	req("GET", "/v1/markets", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(http_header(&r, "ETag", etag, sizeof(etag)));
	j = cJSON_Parse(r.body);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "markets")),
	    2);
	ck_assert_str_eq(
	    cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j,
	                                               "markets"),
	                            0),
	        "asset")
	        ->valuestring,
	    "BTC");
	cJSON_Delete(j);
	http_reply_release(&r);
	snprintf(hdr, sizeof(hdr), "If-None-Match: %s\r\n", etag);
	req("GET", "/v1/markets", hdr, NULL, &r);
	ck_assert_int_eq(r.status, 304);
	http_reply_release(&r);

	/* delete, then 404 everywhere */
	j = call("DELETE", "/v1/markets/BTC", NULL, 200);
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "deleted")));
	cJSON_Delete(j);
	cJSON_Delete(call("GET", "/v1/markets/BTC", NULL, 404));
	cJSON_Delete(call("DELETE", "/v1/markets/BTC", NULL, 404));
	cJSON_Delete(call("GET", "/v1/markets/NOPE", NULL, 404));
	/* the implicit USD is not a stored market */
	cJSON_Delete(call("GET", "/v1/markets/USD", NULL, 404));
	/* HEAD is GET without a body */
	req("HEAD", "/v1/markets/ETH", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	http_reply_release(&r);
}
END_TEST

START_TEST(depth_all_forms)
{
	struct http_reply r;
	char loc[256];
	const cJSON *bid, *ask;
	cJSON *j, *m;

	put_basics();
	/* points: creates the venue (201, Location), then replaces (200) */
	req("PUT", "/v1/markets/ETH/depth/main", NULL,
	    "{\"side\": \"bid\", \"as_of\": \"2026-11-26T00:00:00Z\", "
	    "\"points\": [[100, 5000], [200, 10000]]}",
	    &r);
	ck_assert_int_eq(r.status, 201);
	ck_assert_str_eq(http_header(&r, "Location", loc, sizeof(loc)),
	    "/v1/markets/ETH/depth/main");
	j = cJSON_Parse(r.body);
	ck_assert_int_eq((int)num_at(cJSON_GetObjectItem(j, "sides"), "bid",
	                     "point_count"),
	    2);
	cJSON_Delete(j);
	http_reply_release(&r);
	j = call("PUT", "/v1/markets/ETH/depth/main",
	    "{\"side\": \"ask\", \"points\": [[100, 4000], [200, 8000], "
	    "[300, 9000]]}",
	    200);
	ck_assert_int_eq((int)num_at(cJSON_GetObjectItem(j, "sides"), "ask",
	                     "point_count"),
	    3);
	cJSON_Delete(j);

	/* the Binance order book, both sides, strings, extra members */
	j = call("PUT", "/v1/markets/ETH/depth/binance",
	    "{\"lastUpdateId\": 1027024, \"bids\": [[\"1999\", \"10\"], "
	    "[\"1990\", \"20\", \"x\"], [\"1999\", \"5\"]], \"asks\": "
	    "[[\"2001\", \"7\"], [\"2010\", \"30\"]]}",
	    201);
	bid = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "sides"), "bid");
	ask = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "sides"), "ask");
	/* equal prices merged: 2 bid points, cumulative 15 then 35 */
	ck_assert_int_eq((int)num_at(bid, "point_count", NULL), 2);
	ck_assert_double_eq(num_at(bid, "max_qty", NULL), 35);
	ck_assert_int_eq((int)num_at(ask, "point_count", NULL), 2);
	cJSON_Delete(j);
	/* one side of a book only: that side is replaced */
	j = call("PUT", "/v1/markets/ETH/depth/binance",
	    "{\"bids\": [[1995, 3]]}", 200);
	ck_assert_ptr_null(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(j, "sides"), "ask"));
	cJSON_Delete(j);

	/* quotes report max_deviation_bps; constant product */
	j = call("PUT", "/v1/markets/ETH/depth/dex",
	    "{\"side\": \"bid\", \"quotes\": [[10, 2], [100, 10], "
	    "[1000, 50]]}",
	    201);
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(j, "max_deviation_bps")));
	cJSON_Delete(j);
	j = call("PUT", "/v1/markets/ETH/depth/pool",
	    "{\"side\": \"ask\", \"constant_product\": {\"base_reserve\": "
	    "1000, \"quote_reserve\": 2000000}}",
	    201);
	ck_assert_int_eq((int)num_at(cJSON_GetObjectItem(j, "sides"), "ask",
	                     "point_count"),
	    64);
	cJSON_Delete(j);
	/* a pool whose price is off by more than 1% warns */
	j = call("PUT", "/v1/markets/ETH/depth/pool",
	    "{\"side\": \"ask\", \"constant_product\": {\"base_reserve\": "
	    "1000, \"quote_reserve\": 3000000}}",
	    200);
	ck_assert_str_eq(
	    cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j,
	                                               "warnings"),
	                            0),
	        "code")
	        ->valuestring,
	    "pool_price_mismatch");
	cJSON_Delete(j);

	/* read back: venues per side */
	m = call("GET", "/v1/markets/ETH", NULL, 200);
	ck_assert_int_eq(cJSON_GetArraySize(
	                     cJSON_GetObjectItem(cJSON_GetObjectItem(m, "bid"),
	                         "venues")),
	    3);
	ck_assert_int_eq(cJSON_GetArraySize(
	                     cJSON_GetObjectItem(cJSON_GetObjectItem(m, "ask"),
	                         "venues")),
	    3);
	cJSON_Delete(m);

	/* delete a venue; again 404; unknown asset 404 */
	j = call("DELETE", "/v1/markets/ETH/depth/binance", NULL, 200);
	cJSON_Delete(j);
	cJSON_Delete(
	    call("DELETE", "/v1/markets/ETH/depth/binance", NULL, 404));
	cJSON_Delete(call("PUT", "/v1/markets/NOPE/depth/x",
	    "{\"side\": \"bid\", \"points\": [[1, 1]]}", 404));
	m = call("GET", "/v1/markets/ETH", NULL, 200);
	ck_assert_int_eq(cJSON_GetArraySize(
	                     cJSON_GetObjectItem(cJSON_GetObjectItem(m, "bid"),
	                         "venues")),
	    2);
	cJSON_Delete(m);
}
END_TEST

START_TEST(liquidations_and_correlations)
{
	const cJSON *w;
	cJSON *j, *m;

	put_basics();
	cJSON_Delete(call("PUT", "/v1/markets/BTC",
	    "{\"price\": 60000, \"volatility\": 0.6}", 201));
	j = call("PUT", "/v1/markets/ETH/liquidations",
	    "{\"levels\": [{\"price\": 1900, \"qty\": 10, \"side\": \"sell\"},"
	    " {\"price\": 2100, \"qty\": 5, \"side\": \"sell\"}, "
	    "{\"price\": 2200, \"qty\": 7, \"side\": \"buy\"}], "
	    "\"source\": \"test\"}",
	    200);
	ck_assert_int_eq((int)num_at(j, "stored", NULL), 3);
	/* the sell level above the price has already fired */
	w = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "warnings"), 0);
	ck_assert_str_eq(cJSON_GetObjectItem(w, "code")->valuestring,
	    "stale_levels");
	ck_assert_int_eq(cJSON_GetObjectItem(w, "count")->valueint, 1);
	cJSON_Delete(j);
	j = call("POST", "/v1/markets/ETH/liquidations",
	    "{\"levels\": [{\"price\": 1800, \"qty\": 1, \"side\": \"sell\"}]}",
	    200);
	cJSON_Delete(j);
	m = call("GET", "/v1/markets/ETH", NULL, 200);
	ck_assert_int_eq((int)num_at(cJSON_GetObjectItem(m, "levels"), "sell",
	                     "count"),
	    3);
	ck_assert_int_eq((int)num_at(cJSON_GetObjectItem(m, "levels"), "buy",
	                     "count"),
	    1);
	cJSON_Delete(m);
	/* replace with nothing */
	cJSON_Delete(call("PUT", "/v1/markets/ETH/liquidations",
	    "{\"levels\": []}", 200));
	m = call("GET", "/v1/markets/ETH", NULL, 200);
	ck_assert_int_eq((int)num_at(cJSON_GetObjectItem(m, "levels"), "sell",
	                     "count"),
	    0);
	cJSON_Delete(m);
	cJSON_Delete(call("POST", "/v1/markets/NOPE/liquidations",
	    "{\"levels\": []}", 404));

	j = call("PUT", "/v1/correlations",
	    "{\"pairs\": [[\"ETH\", \"BTC\", "
	    "0.8]]}",
	    200);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "mode")->valuestring,
	    "replace");
	cJSON_Delete(j);
	j = call("POST", "/v1/correlations",
	    "{\"pairs\": [[\"BTC\", \"ETH\", "
	    "0.7]]}",
	    200);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "mode")->valuestring, "upsert");
	cJSON_Delete(j);
	/* deleting an asset takes its pairs along */
	cJSON_Delete(call("DELETE", "/v1/markets/BTC", NULL, 200));
	cJSON_Delete(call("POST", "/v1/correlations",
	    "{\"pairs\": "
	    "[[\"BTC\", \"ETH\", 0.7]]}",
	    422));
}
END_TEST

START_TEST(cascade_curve_example01)
{
	const cJSON *pts, *p;
	cJSON *g, *j;
	int i;

	g = golden("01-four-level-cascade.json");
	apply_writes(g);
	cJSON_Delete(g);
	/* defaults: down from 0 to -0.5 by 0.01: 51 points */
	j = call("GET", "/v1/markets/ETH/cascade", NULL, 200);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "direction")->valuestring,
	    "down");
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "points")),
	    51);
	/* the worked example: the cascade trigger is the 1900 level */
	ck_assert_double_eq_tol(num_at(j, "cascade_trigger_price", NULL), 1900,
	    1e-9);
	cJSON_Delete(j);
	j = call("GET",
	    "/v1/markets/ETH/cascade?from=0&to=-0.12&step=0.05"
	    "&cascade_threshold_bps=100",
	    NULL, 200);
	pts = cJSON_GetObjectItem(j, "points");
	/* 0, -0.05, -0.10 and the appended -0.12 */
	ck_assert_int_eq(cJSON_GetArraySize(pts), 4);
	ck_assert_double_eq_tol(num_at(cJSON_GetArrayItem(pts, 3), "shock",
	                            NULL),
	    -0.12, 1e-15);
	p = cJSON_GetArrayItem(pts, 0);
	ck_assert_int_eq((int)num_at(p, "fired", NULL), 0);
	ck_assert_double_eq(num_at(p, "final_price", NULL), 2000);
	/* a 5% drop reaches 1900: the cascade fires levels */
	p = cJSON_GetArrayItem(pts, 1);
	ck_assert_int_ge((int)num_at(p, "fired", NULL), 1);
	ck_assert(num_at(p, "final_price", NULL) < 1900);
	for (i = 1; i < cJSON_GetArraySize(pts); i++) {
		p = cJSON_GetArrayItem(pts, i);
		ck_assert(num_at(p, "volume", NULL) >=
		    num_at(cJSON_GetArrayItem(pts, i - 1), "volume", NULL));
	}
	cJSON_Delete(j);
	/* up: no buy levels in this example, nothing fires */
	j = call("GET", "/v1/markets/ETH/cascade?direction=up&to=0.1&step=0.1",
	    NULL, 200);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "points")),
	    2);
	ck_assert(
	    cJSON_IsNull(cJSON_GetObjectItem(j, "cascade_trigger_price")));
	cJSON_Delete(j);
	cJSON_Delete(call("GET", "/v1/markets/NOPE/cascade", NULL, 404));
}
END_TEST

/* ---- scoring -------------------------------------------------------- */

START_TEST(score_example01_over_http)
{
	cJSON *g, *j;
	char *body;

	g = golden("01-four-level-cascade.json");
	apply_writes(g);
	body = cJSON_PrintUnformatted(cJSON_GetObjectItem(g, "request"));
	j = call("POST", "/v1/score", body, 200);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring,
	    "cascade-1");
	expect_subset(cJSON_GetObjectItem(g, "expected"), j, "");
	cJSON_Delete(j);
	free(body);
	cJSON_Delete(g);
}
END_TEST

static int
has_request(const char *name)
{
	cJSON *g = golden(name);
	int ok = cJSON_GetObjectItem(g, "request") != NULL;

	cJSON_Delete(g);
	return ok;
}

START_TEST(cli_score_matches_http)
{
	static const char *const files[] = {
		"01-four-level-cascade.json",
		"02-liquidatable-now.json",
		"03-up-direction.json",
		"04-protocol-presets.json",
		"05-tiers-and-stress.json",
		"06-without-stored-levels.json",
	};
	char path[600], *out, *a, *b, *body;
	struct http_reply r;
	size_t i, n = 0;
	FILE *f;
	cJSON *g;
	int rc;

	out = malloc(1 << 20);
	ck_assert_ptr_nonnull(out);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (!has_request(files[i]))
			continue;
		g = golden(files[i]);
		apply_writes(g);
		body =
		    cJSON_PrintUnformatted(cJSON_GetObjectItem(g, "request"));
		snprintf(path, sizeof(path), "%s/req.json", dir);
		f = fopen(path, "w");
		ck_assert_ptr_nonnull(f);
		fputs(body, f);
		fclose(f);
		req("POST", "/v1/score", NULL, body, &r);
		ck_assert_int_eq(r.status, 200);
		{
			const char *argv[] = { "", "score", path, "--db", db,
				NULL };

			rc = run_capture(argv, out, 1 << 20);
		}
		ck_assert_msg(rc == 0, "%s: cascaded score exited %d", files[i],
		    rc);
		a = without_as_of(r.body);
		b = without_as_of(out);
		ck_assert_msg(strcmp(a, b) == 0,
		    "%s: CLI and HTTP differ:\n"
		    "%.400s\n%.400s",
		    files[i], a, b);
		free(a);
		free(b);
		http_reply_release(&r);
		free(body);
		cJSON_Delete(g);
		n++;
	}
	ck_assert_int_ge((int)n, 6);
	/* a rejected request: the same problem, exit 1 */
	snprintf(path, sizeof(path), "%s/bad.json", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"positions\": []}", f);
	fclose(f);
	{
		const char *argv[] = { "", "score", path, "--db", db, NULL };

		rc = run_capture(argv, out, 1 << 20);
	}
	ck_assert_int_eq(rc, 1);
	g = cJSON_Parse(out);
	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(cJSON_GetObjectItem(g, "status")->valueint, 422);
	cJSON_Delete(g);
	free(out);
}
END_TEST

START_TEST(cli_import_json_and_csv)
{
	char path[600], *out;
	FILE *f;
	cJSON *j, *m;
	int rc;

	put_basics();
	out = malloc(1 << 16);
	ck_assert_ptr_nonnull(out);
	/* JSON, the endpoint's body */
	snprintf(path, sizeof(path), "%s/book.json", dir);
	f = fopen(path, "w");
	fputs("{\"bids\": [[\"1999\", \"10\"]], \"asks\": [[\"2001\", \"4\"]]}",
	    f);
	fclose(f);
	{
		const char *argv[] = { "", "import", "depth", "ETH", "binance",
			path, "--db", db, NULL };

		rc = run_capture(argv, out, 1 << 16);
	}
	ck_assert_int_eq(rc, 0);
	j = cJSON_Parse(out);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "venue")->valuestring,
	    "binance");
	cJSON_Delete(j);
	/* CSV levels with a header, --side and --mid */
	snprintf(path, sizeof(path), "%s/bids.csv", dir);
	f = fopen(path, "w");
	fputs("price,qty\n1990,5\n1980,10\n", f);
	fclose(f);
	{
		const char *argv[] = { "", "import", "depth", "ETH", "csvex",
			path, "--side", "bid", "--mid", "2000", "--db", db,
			NULL };

		rc = run_capture(argv, out, 1 << 16);
	}
	ck_assert_int_eq(rc, 0);
	j = cJSON_Parse(out);
	ck_assert_int_eq((int)num_at(cJSON_GetObjectItem(j, "sides"), "bid",
	                     "point_count"),
	    2);
	cJSON_Delete(j);
	/* CSV points without a header need --form */
	snprintf(path, sizeof(path), "%s/pts.csv", dir);
	f = fopen(path, "w");
	fputs("100,50\n200,120\n", f);
	fclose(f);
	{
		const char *argv[] = { "", "import", "depth", "ETH", "pts",
			path, "--csv", "--side", "ask", "--db", db, NULL };

		ck_assert_int_eq(run_capture(argv, out, 1 << 16), 1);
	}
	{
		const char *argv[] = { "", "import", "depth", "ETH", "pts",
			path, "--side", "ask", "--form", "points", "--db", db,
			NULL };

		ck_assert_int_eq(run_capture(argv, out, 1 << 16), 0);
	}
	/* CSV liquidations, replace then --append; a bad row changes nothing */
	snprintf(path, sizeof(path), "%s/liq.csv", dir);
	f = fopen(path, "w");
	fputs("price,qty,side\n1900,10,sell\n2300,4,buy\n", f);
	fclose(f);
	{
		const char *argv[] = { "", "import", "liquidations", "ETH",
			path, "--db", db, NULL };

		ck_assert_int_eq(run_capture(argv, out, 1 << 16), 0);
	}
	{
		const char *argv[] = { "", "import", "liquidations", "ETH",
			path, "--append", "--db", db, NULL };

		ck_assert_int_eq(run_capture(argv, out, 1 << 16), 0);
	}
	snprintf(path, sizeof(path), "%s/badliq.csv", dir);
	f = fopen(path, "w");
	fputs("1900,10,sell\n1800,-1,sell\n", f);
	fclose(f);
	{
		const char *argv[] = { "", "import", "liquidations", "ETH",
			path, "--db", db, NULL };

		ck_assert_int_eq(run_capture(argv, out, 1 << 16), 1);
	}
	/*
	 * The running server sees the CLI's writes with its next publish
	 * (any write reloads the whole store).
	 */
	cJSON_Delete(call("PUT", "/v1/markets/USDC", "{\"price\": 1}", 200));
	m = call("GET", "/v1/markets/ETH", NULL, 200);
	ck_assert_int_eq((int)num_at(cJSON_GetObjectItem(m, "levels"), "sell",
	                     "count"),
	    2);
	ck_assert_int_eq((int)num_at(cJSON_GetObjectItem(m, "levels"), "buy",
	                     "count"),
	    2);
	ck_assert_int_eq(cJSON_GetArraySize(
	                     cJSON_GetObjectItem(cJSON_GetObjectItem(m, "bid"),
	                         "venues")),
	    2);
	ck_assert_int_eq(cJSON_GetArraySize(
	                     cJSON_GetObjectItem(cJSON_GetObjectItem(m, "ask"),
	                         "venues")),
	    2);
	cJSON_Delete(m);
	free(out);
}
END_TEST

/* ---- concurrency ---------------------------------------------------- */

/*
 * Venues A and B on ETH's bid, one point each at 200 bps, so the answer's
 * down.depth_2pct_qty is exactly qty_A + qty_B.  The writer alternates:
 * write j (1..N) sets A = 1000 (j + 1) when j is odd, B = j + 1 when j is
 * even.  The whole-snapshot totals are the states after each write; a
 * score mixing A of one snapshot with B of another gives a total outside
 * that set (A = 1000 a pairs only with B in {a - 1, a + 1}).
 */
#define NWRITES 120
#define NREADERS 3

static double valid[NWRITES + 2];
static int nvalid;
static volatile int writer_done;

struct reader {
	int n;
	int bad;
	int errors;
	double last_bad;
};

static int
is_valid(double t)
{
	int i;

	for (i = 0; i < nvalid; i++)
		if (valid[i] == t)
			return 1;
	return 0;
}

static void *
reader_main(void *arg)
{
	static const char body[] =
	    "{\"positions\": [{\"id\": \"p\", \"type\": "
	    "\"perp\", \"asset\": \"ETH\", \"side\": \"long\", \"size\": 1, "
	    "\"entry_price\": 2000, \"leverage\": 5}]}";
	struct reader *rd = arg;
	struct http_reply r;
	const cJSON *down;
	cJSON *j;
	double t;
	int more = 1;

	while (more) {
		more = !writer_done;
		if (http_request(srv.port, "POST", "/v1/score", JSON_CT, body,
		        sizeof(body) - 1, &r, T_MS) != 0 ||
		    r.status != 200) {
			rd->errors++;
			http_reply_release(&r);
			continue;
		}
		j = cJSON_Parse(r.body);
		down = cJSON_GetObjectItem(
		    cJSON_GetArrayItem(cJSON_GetObjectItem(j, "markets"), 0),
		    "down");
		t = cJSON_GetObjectItem(down, "depth_2pct_qty") != NULL
		    ? cJSON_GetObjectItem(down, "depth_2pct_qty")->valuedouble
		    : -1;
		if (!is_valid(t)) {
			rd->bad++;
			rd->last_bad = t;
		}
		rd->n++;
		cJSON_Delete(j);
		http_reply_release(&r);
	}
	return NULL;
}

static void
put_venue(const char *venue, double qty)
{
	char path[128], body[256];
	struct http_reply r;

	drain_log();
	snprintf(path, sizeof(path), "/v1/markets/ETH/depth/%s", venue);
	snprintf(body, sizeof(body),
	    "{\"side\": \"bid\", \"points\": "
	    "[[200, %.17g]]}",
	    qty);
	ck_assert_int_eq(http_request(srv.port, "PUT", path, JSON_CT, body,
	                     strlen(body), &r, T_MS),
	    0);
	ck_assert_msg(r.status == 200 || r.status == 201, "%d %s", r.status,
	    r.body);
	http_reply_release(&r);
}

START_TEST(concurrent_scores_see_whole_snapshots)
{
	pthread_t th[NREADERS];
	struct reader rd[NREADERS];
	double a = 1000, b = 1;
	int i, j, total = 0;

	put_basics();
	put_venue("a", a);
	put_venue("b", b);
	nvalid = 0;
	valid[nvalid++] = a + b;
	for (j = 1; j <= NWRITES; j++) {
		if (j % 2)
			a = 1000.0 * (j + 1);
		else
			b = j + 1;
		valid[nvalid++] = a + b;
	}
	writer_done = 0;
	memset(rd, 0, sizeof(rd));
	for (i = 0; i < NREADERS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, reader_main,
		                     &rd[i]),
		    0);
	for (j = 1; j <= NWRITES; j++) {
		if (j % 2)
			put_venue("a", 1000.0 * (j + 1));
		else
			put_venue("b", j + 1);
	}
	writer_done = 1;
	for (i = 0; i < NREADERS; i++) {
		pthread_join(th[i], NULL);
		ck_assert_msg(rd[i].errors == 0,
		    "reader %d: %d failed "
		    "requests",
		    i, rd[i].errors);
		ck_assert_msg(rd[i].bad == 0,
		    "reader %d: %d answers from a "
		    "mixed snapshot (e.g. depth %.17g)",
		    i, rd[i].bad, rd[i].last_bad);
		ck_assert_int_ge(rd[i].n, 1);
		total += rd[i].n;
	}
	/* the final state is visible */
	{
		cJSON *m = call("GET", "/v1/markets/ETH", NULL, 200);

		ck_assert_double_eq(
		    num_at(cJSON_GetObjectItem(cJSON_GetObjectItem(m, "bid"),
		               "depth_qty"),
		        "2pct", NULL),
		    valid[nvalid - 1]);
		cJSON_Delete(m);
	}
	ck_assert_int_ge(total, NREADERS);
}
END_TEST

/* ---- auth, CORS, openapi -------------------------------------------- */

START_TEST(auth_writes_need_key_reads_do_not)
{
	struct http_reply r;
	char v[256];

	/* no key: 401 with WWW-Authenticate; wrong key: 403 */
	req("PUT", "/v1/markets/ETH", NULL, "{\"price\": 2000}", &r);
	ck_assert_int_eq(r.status, 401);
	ck_assert_ptr_nonnull(
	    http_header(&r, "WWW-Authenticate", v, sizeof(v)));
	http_reply_release(&r);
	req("PUT", "/v1/markets/ETH", "Authorization: Bearer k-wrong\r\n",
	    "{\"price\": 2000}", &r);
	ck_assert_int_eq(r.status, 403);
	http_reply_release(&r);
	req("PUT", "/v1/markets/ETH", "Authorization: Bearer k-secret\r\n",
	    "{\"price\": 2000, \"volatility\": 0.8}", &r);
	ck_assert_int_eq(r.status, 201);
	http_reply_release(&r);
	req("DELETE", "/v1/markets/ETH/depth/x", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 401);
	http_reply_release(&r);
	req("POST", "/v1/correlations", NULL, "{\"pairs\": []}", &r);
	ck_assert_int_eq(r.status, 401);
	http_reply_release(&r);
	/* reads and scoring are open */
	req("GET", "/v1/markets/ETH", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	http_reply_release(&r);
	req("POST", "/v1/score", NULL,
	    "{\"positions\": [{\"id\": \"p\", "
	    "\"type\": \"perp\", \"asset\": \"ETH\", \"side\": \"short\", "
	    "\"size\": 1, \"entry_price\": 2000, \"margin\": 500}]}",
	    &r);
	ck_assert_int_eq(r.status, 200);
	http_reply_release(&r);
	/* a CORS preflight of a write never needs the key */
	req("OPTIONS", "/v1/markets/ETH",
	    "Origin: https://app.example\r\n"
	    "Access-Control-Request-Method: PUT\r\n"
	    "Access-Control-Request-Headers: authorization, content-type\r\n",
	    NULL, &r);
	ck_assert_int_eq(r.status, 204);
	ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Origin", v,
	                     sizeof(v)),
	    "https://app.example");
	ck_assert_ptr_nonnull(
	    strstr(http_header(&r, "Access-Control-Allow-Methods", v,
	               sizeof(v)),
	        "PUT"));
	http_reply_release(&r);
}
END_TEST

START_TEST(openapi_served)
{
	cJSON *j;
	struct http_reply r;
	char ct[128];

	req("GET", "/openapi.json", NULL, NULL, &r);
	ck_assert_msg(r.status == 200,
	    "GET /openapi.json: %d %s (is "
	    "docs/openapi.mk included in the Makefile?)",
	    r.status, r.body);
	ck_assert_str_eq(http_header(&r, "Content-Type", ct, sizeof(ct)),
	    "application/json");
	j = cJSON_Parse(r.body);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "openapi")->valuestring,
	    "3.1.0");
	ck_assert_ptr_nonnull(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(j, "paths"), "/v1/score"));
	cJSON_Delete(j);
	http_reply_release(&r);
}
END_TEST

/*
 * The listing's ETag is the snapshot's content tag with its version: it
 * holds while nothing is written, and changes with every published
 * snapshot (so does the body's "version"), even one from a write that
 * stores the values already there; only the current tag gets 304.
 */
START_TEST(markets_listing_etag_follows_snapshot)
{
	static const char eth[] = "{\"price\": 2000, \"volatility\": 0.8, "
				  "\"as_of\": \"2026-01-01T00:00:00Z\"}";
	struct http_reply r;
	char t1[64], t2[64], hdr[128];
	double v1, v2;
	cJSON *j;

	cJSON_Delete(call("PUT", "/v1/markets/ETH", eth, 201));
	req("GET", "/v1/markets", NULL, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(http_header(&r, "ETag", t1, sizeof(t1)));
	j = cJSON_Parse(r.body);
	v1 = num_at(j, "version", NULL);
	cJSON_Delete(j);
	http_reply_release(&r);
	/* nothing written: the same tag, 304 for it */
	req("GET", "/v1/markets", NULL, NULL, &r);
	ck_assert_str_eq(http_header(&r, "ETag", t2, sizeof(t2)), t1);
	http_reply_release(&r);
	expect_not_modified("/v1/markets", t1);
	snprintf(hdr, sizeof(hdr), "If-None-Match: %s\r\n", t1);

	/* the same values again: a new snapshot, a new version and tag */
	cJSON_Delete(call("PUT", "/v1/markets/ETH", eth, 200));
	req("GET", "/v1/markets", hdr, NULL, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_ne(http_header(&r, "ETag", t2, sizeof(t2)), t1);
	j = cJSON_Parse(r.body);
	v2 = num_at(j, "version", NULL);
	cJSON_Delete(j);
	http_reply_release(&r);
	ck_assert(v2 > v1);
	snprintf(hdr, sizeof(hdr), "If-None-Match: W/\"x\", %s\r\n", t2);
	req("GET", "/v1/markets", hdr, NULL, &r);
	ck_assert_int_eq(r.status, 304);
	http_reply_release(&r);
}
END_TEST

/* One stored asset, as the store would load it. */
static struct snapshot *
one_asset_snapshot(const char *updated_at)
{
	struct market_data md;
	struct snapshot *s = NULL;

	market_data_init(&md);
	md.assets = calloc(1, sizeof(*md.assets));
	ck_assert_ptr_nonnull(md.assets);
	md.nassets = 1;
	snprintf(md.assets[0].symbol, sizeof(md.assets[0].symbol), "ETH");
	md.assets[0].price = 2000;
	md.assets[0].vol = 0.8;
	snprintf(md.assets[0].updated_at, sizeof(md.assets[0].updated_at),
	    "%s", updated_at);
	ck_assert_int_eq(snapshot_build(&md, 0.0, &s), 0);
	market_data_release(&md);
	return s;
}

/*
 * The snapshot's content tag covers everything the listing shows of an
 * asset, updated_at included (the listing's ETag rests on it): equal data
 * gives equal tags, another updated_at another tag.
 */
START_TEST(snapshot_tag_covers_updated_at)
{
	struct snapshot *a = one_asset_snapshot("2026-01-01T00:00:00Z");
	struct snapshot *b = one_asset_snapshot("2026-01-01T00:00:00Z");
	struct snapshot *c = one_asset_snapshot("2026-01-02T00:00:00Z");

	ck_assert_uint_ne(a->version, b->version);
	ck_assert_str_eq(a->etag, b->etag);
	ck_assert_str_ne(a->etag, c->etag);
	snapshot_unref(a);
	snapshot_unref(b);
	snapshot_unref(c);
}
END_TEST

/*
 * The stale-level rule the cascade curve, the snapshot, the level import
 * and lc_score share: by hand at the boundary, and lc_levels_stale()
 * (a bisection) against a count of the prefix on seeded sorted lists.
 */
START_TEST(stale_level_rule)
{
	double down[64], up[64], p;
	size_t n, k, want;
	uint64_t x = 12345;
	int it;

	ck_assert(lc_level_is_stale(LC_DOWN, 100.0, 100.0));
	ck_assert(lc_level_is_stale(LC_DOWN, 101.0, 100.0));
	ck_assert(!lc_level_is_stale(LC_DOWN, 99.0, 100.0));
	ck_assert(lc_level_is_stale(LC_UP, 100.0, 100.0));
	ck_assert(lc_level_is_stale(LC_UP, 99.0, 100.0));
	ck_assert(!lc_level_is_stale(LC_UP, 101.0, 100.0));
	ck_assert_uint_eq(lc_levels_stale(LC_DOWN, NULL, 0, 1.0), 0);
	for (it = 0; it < 200; it++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		n = (size_t)(x >> 58); /* 0..63 */
		for (k = 0; k < n; k++) {
			/* integer prices: ties with p and between levels */
			down[k] = (double)(64 - k / 2);
			up[k] = (double)(1 + k / 2);
		}
		p = (double)((x >> 20) % 70);
		for (want = 0; want < n && down[want] >= p; want++)
			;
		ck_assert_uint_eq(lc_levels_stale(LC_DOWN, down, n, p), want);
		for (want = 0; want < n && up[want] <= p; want++)
			;
		ck_assert_uint_eq(lc_levels_stale(LC_UP, up, n, p), want);
	}
}
END_TEST

/* ---- the use-case layer in-process (api.h) -------------------------- */

static int n_scored, n_scored_mc, n_write_failed;
static struct api_score_job *kept_job;

static void
on_scored(int monte_carlo, int64_t duration_us)
{
	ck_assert(duration_us >= 0);
	n_scored++;
	n_scored_mc += monte_carlo != 0;
}

static void
on_write_failed(void)
{
	n_write_failed++;
}

static void
keep_job(void *ctx, struct api_score_job *job)
{
	ck_assert_ptr_null(ctx);
	kept_job = job;
}

/*
 * api_score() without and with a place to defer Monte Carlo to: an exact
 * request is scored in the call either way; a Monte Carlo one is handed
 * over, and the job run later (another thread count) answers exactly what
 * the inline call did.  The hooks see every scoring and no refused write.
 */
START_TEST(api_score_defer_and_hooks)
{
	static const struct api_hooks hooks = { on_scored, on_write_failed };
	static const char eth[] = "{\"price\": 2000, \"volatility\": 0.8}";
	static const char btc[] = "{\"price\": 50000, \"volatility\": 0.6}";
	static const char exact[] = "{\"positions\": [{\"id\": \"p\", "
	    "\"type\": \"perp\", \"asset\": \"ETH\", \"side\": \"long\", "
	    "\"size\": 1, \"entry_price\": 2000, \"leverage\": 10}]}";
	/* two (asset, direction) pairs: Monte Carlo */
	static const char mc[] = "{\"positions\": [{\"id\": \"p\", "
	    "\"type\": \"perp\", \"asset\": \"ETH\", \"side\": \"long\", "
	    "\"size\": 1, \"entry_price\": 2000, \"leverage\": 10}, "
	    "{\"id\": \"q\", \"type\": \"perp\", \"asset\": \"BTC\", "
	    "\"side\": \"short\", \"size\": 1, \"entry_price\": 50000, "
	    "\"leverage\": 5}], \"paths\": 300, \"steps\": 4, \"seed\": 7}";
	struct api_score_opts opts = { keep_job, NULL };
	struct api_answer a, b;
	struct config cfg;
	struct app app;
	char *err = NULL;

	n_scored = n_scored_mc = n_write_failed = 0;
	kept_job = NULL;
	config_init(&cfg);
	memset(&app, 0, sizeof(app));
	app.cfg = &cfg;
	app.hooks = &hooks;
	app.store = store_open(":memory:", &err);
	ck_assert_msg(app.store != NULL, "store_open: %s", err);
	ck_assert_int_eq(api_app_init(&app), 0);
	api_answer_init(&a);
	api_answer_init(&b);
	ck_assert_int_eq(api_put_asset(&app, "ETH", eth, sizeof(eth) - 1, &a),
	    201);
	api_answer_release(&a);
	ck_assert_int_eq(api_put_asset(&app, "BTC", btc, sizeof(btc) - 1, &a),
	    201);
	api_answer_release(&a);
	/* refused by validation and by the store: no database failure */
	ck_assert_int_eq(api_put_asset(&app, "ETH", "{}", 2, &a), 422);
	api_answer_release(&a);
	ck_assert_int_eq(api_delete_venue(&app, "ETH", "nope", &a), 404);
	api_answer_release(&a);
	ck_assert_int_eq(n_write_failed, 0);

	ck_assert_int_eq(api_score(&app, exact, sizeof(exact) - 1, &opts, &a),
	    200);
	ck_assert_ptr_null(kept_job);
	ck_assert_int_eq(n_scored, 1);
	ck_assert_int_eq(n_scored_mc, 0);
	api_answer_release(&a);
	ck_assert_int_eq(api_score(&app, "{", 1, &opts, &a), 400);
	ck_assert_int_eq(n_scored, 1);
	api_answer_release(&a);

	ck_assert_int_eq(api_score(&app, mc, sizeof(mc) - 1, NULL, &a), 200);
	ck_assert_int_eq(n_scored_mc, 1);
	ck_assert_int_eq(api_score(&app, mc, sizeof(mc) - 1, &opts, &b),
	    API_DEFERRED);
	ck_assert_ptr_nonnull(kept_job);
	ck_assert_int_eq(b.status, 0);
	ck_assert_int_eq(n_scored_mc, 1);
	ck_assert_int_eq(api_score_job_run(kept_job, 3, &b), 200);
	api_score_job_free(kept_job);
	ck_assert_int_eq(n_scored_mc, 2);
	ck_assert_ptr_nonnull(strstr(a.body, "\"monte_carlo\""));
	ck_assert_str_eq(a.body, b.body);
	api_answer_release(&a);
	api_answer_release(&b);
	api_app_release(&app);
	store_close(app.store);
	config_release(&cfg);
}
END_TEST

static Suite *
api_suite(void)
{
	Suite *s = suite_create("api");
	TCase *tc;

	tc = tcase_create("markets");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, markets_create_read_update_delete);
	tcase_add_test(tc, depth_all_forms);
	tcase_add_test(tc, liquidations_and_correlations);
	tcase_add_test(tc, cascade_curve_example01);
	tcase_add_test(tc, markets_listing_etag_follows_snapshot);
	suite_add_tcase(s, tc);

	tc = tcase_create("units");
	tcase_add_test(tc, snapshot_tag_covers_updated_at);
	tcase_add_test(tc, stale_level_rule);
	tcase_add_test(tc, api_score_defer_and_hooks);
	suite_add_tcase(s, tc);

	tc = tcase_create("score");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, score_example01_over_http);
	tcase_add_test(tc, cli_score_matches_http);
	tcase_add_test(tc, cli_import_json_and_csv);
	suite_add_tcase(s, tc);

	tc = tcase_create("concurrency");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, concurrent_scores_see_whole_snapshots);
	suite_add_tcase(s, tc);

	tc = tcase_create("auth");
	tcase_add_checked_fixture(tc, setup_auth, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, auth_writes_need_key_reads_do_not);
	tcase_add_test(tc, openapi_served);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(api_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

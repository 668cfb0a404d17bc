/*
 * test_server.c - integration: start the real build/cascaded on
 * 127.0.0.1:0 with a temporary database, read the port from its first log
 * line, and talk HTTP to it with the loopback client of tests/lib.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "metrics_read.h"
#include "server.h"
#include "store_fixture.h"
#include "testlib.h"

#define T_MS 5000

static char *dir;
static char db[512];
static struct server_proc srv;

static void
start_with(const char *const *args)
{
	ck_assert_msg(fixture_start(&srv, &dir, db, sizeof(db), "t.db", args,
	    T_MS) == 0, "server did not start: %s",
	    srv.log ? srv.log : "(no log)");
}

static void
setup(void)
{
	static const char *const args[] = { "--max-body", "4096",
	    "--cors-origin", "https://app.example", "--threads", "2", NULL };

	start_with(args);
}

static void
teardown(void)
{
	fixture_stop(&srv, &dir, T_MS);
}

/* Check a problem+json answer and return its parsed body. */
static cJSON *
expect_problem(const struct http_reply *r, int status)
{
	char ct[128];
	cJSON *j, *v;

	ck_assert_int_eq(r->status, status);
	ck_assert_ptr_nonnull(http_header(r, "Content-Type", ct, sizeof(ct)));
	ck_assert_str_eq(ct, "application/problem+json");
	j = cJSON_Parse(r->body);
	ck_assert_msg(j != NULL, "not JSON: %s", r->body);
	v = cJSON_GetObjectItem(j, "type");
	ck_assert(cJSON_IsString(v));
	ck_assert(strncmp(v->valuestring, "https://", 8) == 0);
	ck_assert(cJSON_IsString(cJSON_GetObjectItem(j, "title")));
	ck_assert(cJSON_IsString(cJSON_GetObjectItem(j, "detail")));
	v = cJSON_GetObjectItem(j, "status");
	ck_assert(cJSON_IsNumber(v));
	ck_assert_int_eq(v->valueint, status);
	return j;
}

START_TEST(healthz_readyz_version)
{
	struct http_reply r;
	char ct[128];
	cJSON *j;

	ck_assert_int_eq(http_request(srv.port, "GET", "/healthz", NULL, NULL,
	    0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(http_header(&r, "Content-Type", ct, sizeof(ct)),
	    "application/json");
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "GET", "/readyz", NULL, NULL,
	    0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "GET", "/version", NULL, NULL,
	    0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	j = cJSON_Parse(r.body);
	ck_assert_ptr_nonnull(j);
	ck_assert(cJSON_IsString(cJSON_GetObjectItem(j, "version")));
	ck_assert_int_eq(cJSON_GetObjectItem(j, "schema_version")->valueint,
	    cJSON_GetObjectItem(j, "migrations")->valueint);
	cJSON_Delete(j);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "HEAD", "/healthz", NULL,
	    NULL, 0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	http_reply_release(&r);
}
END_TEST

START_TEST(not_found)
{
	struct http_reply r;
	cJSON *j;

	ck_assert_int_eq(http_request(srv.port, "GET", "/no/such/route",
	    NULL, NULL, 0, &r, T_MS), 0);
	j = expect_problem(&r, 404);
	cJSON_Delete(j);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "GET", "/healthz/", NULL,
	    NULL, 0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 404);
	http_reply_release(&r);
}
END_TEST

START_TEST(method_not_allowed)
{
	struct http_reply r;
	char allow[128];
	cJSON *j;

	ck_assert_int_eq(http_request(srv.port, "DELETE", "/healthz", NULL,
	    NULL, 0, &r, T_MS), 0);
	j = expect_problem(&r, 405);
	ck_assert_ptr_nonnull(http_header(&r, "Allow", allow, sizeof(allow)));
	ck_assert_ptr_nonnull(strstr(allow, "GET"));
	cJSON_Delete(j);
	http_reply_release(&r);
}
END_TEST

START_TEST(body_too_large)
{
	struct http_reply r;
	char *big = malloc(10000);
	static const char chunked[] = "GET /version HTTP/1.1\r\n"
	    "Host: x\r\nContent-Type: application/json\r\n"
	    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
	char *raw;
	size_t n, i;
	cJSON *j;

	ck_assert_ptr_nonnull(big);
	memset(big, ' ', 10000);
	/* by Content-Length */
	ck_assert_int_eq(http_request(srv.port, "GET", "/version",
	    "Content-Type: application/json\r\n", big, 10000, &r, T_MS), 0);
	j = expect_problem(&r, 413);
	cJSON_Delete(j);
	http_reply_release(&r);
	/* streamed (chunked, no length): 3 chunks of 2000 bytes */
	raw = malloc(sizeof(chunked) + 3 * 2100 + 16);
	ck_assert_ptr_nonnull(raw);
	n = (size_t)snprintf(raw, sizeof(chunked), "%s", chunked);
	for (i = 0; i < 3; i++) {
		n += (size_t)sprintf(raw + n, "7d0\r\n");
		memset(raw + n, ' ', 2000);
		n += 2000;
		n += (size_t)sprintf(raw + n, "\r\n");
	}
	n += (size_t)sprintf(raw + n, "0\r\n\r\n");
	ck_assert_int_eq(http_raw(srv.port, raw, n, &r, T_MS), 0);
	j = expect_problem(&r, 413);
	cJSON_Delete(j);
	http_reply_release(&r);
	free(raw);
	free(big);
}
END_TEST

START_TEST(unsupported_media_type)
{
	struct http_reply r;
	cJSON *j;

	ck_assert_int_eq(http_request(srv.port, "GET", "/version",
	    "Content-Type: text/plain\r\n", "hello", 5, &r, T_MS), 0);
	j = expect_problem(&r, 415);
	cJSON_Delete(j);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "GET", "/version",
	    "Content-Type: application/json; charset=utf-8\r\n", "{}", 2, &r,
	    T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	http_reply_release(&r);
}
END_TEST

START_TEST(request_id)
{
	struct http_reply r;
	char id[160], id2[160];

	ck_assert_int_eq(http_request(srv.port, "GET", "/healthz",
	    "X-Request-Id: trace-42.a_b:c\r\n", NULL, 0, &r, T_MS), 0);
	ck_assert_str_eq(http_header(&r, "X-Request-Id", id, sizeof(id)),
	    "trace-42.a_b:c");
	http_reply_release(&r);
	/* invalid ids are replaced by generated ones, which differ */
	ck_assert_int_eq(http_request(srv.port, "GET", "/healthz",
	    "X-Request-Id: bad id\"\r\n", NULL, 0, &r, T_MS), 0);
	ck_assert_ptr_nonnull(http_header(&r, "X-Request-Id", id, sizeof(id)));
	ck_assert_str_ne(id, "bad id\"");
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "GET", "/nope", NULL, NULL, 0,
	    &r, T_MS), 0);
	ck_assert_ptr_nonnull(http_header(&r, "X-Request-Id", id2,
	    sizeof(id2)));
	ck_assert_str_ne(id, id2);
	http_reply_release(&r);
}
END_TEST

START_TEST(cors_preflight)
{
	struct http_reply r;
	char v[256];

	ck_assert_int_eq(http_request(srv.port, "OPTIONS", "/version",
	    "Origin: https://app.example\r\n"
	    "Access-Control-Request-Method: GET\r\n", NULL, 0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 204);
	ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Origin", v,
	    sizeof(v)), "https://app.example");
	ck_assert_ptr_nonnull(http_header(&r, "Access-Control-Allow-Methods",
	    v, sizeof(v)));
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "GET", "/healthz",
	    "Origin: https://evil.example\r\n", NULL, 0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_null(http_header(&r, "Access-Control-Allow-Origin", v,
	    sizeof(v)));
	http_reply_release(&r);
}
END_TEST

START_TEST(access_log_and_sigterm)
{
	struct http_reply r;
	struct timespec t0, t1;
	char *line, *nl;
	int rc, found = 0;
	double secs;

	ck_assert_int_eq(http_request(srv.port, "GET", "/healthz",
	    "X-Request-Id: log-check-1\r\n", NULL, 0, &r, T_MS), 0);
	http_reply_release(&r);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = server_proc_stop(&srv, SIGTERM, T_MS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(secs < 5.0, "shutdown took %.2f s", secs);
	ck_assert_ptr_nonnull(srv.log);
	ck_assert_ptr_nonnull(strstr(srv.log, "\"msg\":\"listening\""));
	ck_assert_ptr_nonnull(strstr(srv.log, "\"msg\":\"stopped\""));
	/* every line is a JSON object; the request has its line */
	for (line = srv.log; *line != '\0'; line = nl + 1) {
		cJSON *j;

		nl = strchr(line, '\n');
		ck_assert_ptr_nonnull(nl);
		*nl = '\0';
		j = cJSON_Parse(line);
		ck_assert_msg(j != NULL, "log line not JSON: %s", line);
		if (strstr(line, "log-check-1") != NULL) {
			ck_assert_str_eq(cJSON_GetObjectItem(j, "method")->
			    valuestring, "GET");
			ck_assert_str_eq(cJSON_GetObjectItem(j, "path")->
			    valuestring, "/healthz");
			ck_assert_int_eq(cJSON_GetObjectItem(j, "status")->
			    valueint, 200);
			ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(j,
			    "duration_us")));
			ck_assert(cJSON_IsString(cJSON_GetObjectItem(j,
			    "time")));
			found = 1;
		}
		cJSON_Delete(j);
	}
	ck_assert(found);
}
END_TEST

START_TEST(sigterm_with_idle_connection)
{
	/* an idle client must not hold shutdown past 5 s */
	struct sockaddr_in sa;
	struct timespec t0, t1;
	int fd, rc;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)srv.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(write(fd, "GET /hea", 8), 8);	/* half a request */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = server_proc_stop(&srv, SIGINT, T_MS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_int_eq(rc, 0);
	ck_assert_int_lt(t1.tv_sec - t0.tv_sec, 5);
	close(fd);
}
END_TEST


/* Read one HTTP answer (headers + Content-Length body) from fd. */
static int
read_answer(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t n;
	char *end, *cl;
	size_t need;

	for (;;) {
		n = recv(fd, buf + got, cap - 1 - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		buf[got] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end == NULL)
			continue;
		cl = strstr(buf, "Content-Length: ");
		need = (size_t)(end + 4 - buf) +
		    (cl ? strtoul(cl + 16, NULL, 10) : 0);
		if (got >= need)
			return atoi(buf + 9);
	}
}

START_TEST(readyz_503_while_draining)
{
	static const char req[] = "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n";
	struct sockaddr_in sa;
	struct timeval tv = { 5, 0 };
	struct timespec nap = { 0, 300 * 1000 * 1000 };
	char buf[4096];
	int fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)srv.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(send(fd, req, sizeof(req) - 1, 0),
	    (ssize_t)sizeof(req) - 1);
	ck_assert_int_eq(read_answer(fd, buf, sizeof(buf)), 200);
	kill(srv.pid, SIGTERM);
	nanosleep(&nap, NULL);
	/* the kept-alive connection is still served, but not ready */
	ck_assert_int_eq(send(fd, req, sizeof(req) - 1, 0),
	    (ssize_t)sizeof(req) - 1);
	ck_assert_int_eq(read_answer(fd, buf, sizeof(buf)), 503);
	ck_assert_ptr_nonnull(strstr(buf, "Retry-After"));
	close(fd);
	ck_assert_int_eq(server_proc_stop(&srv, SIGTERM, T_MS), 0);
}
END_TEST

START_TEST(healthcheck_command)
{
	char addr[64];
	const char *argv[4];

	snprintf(addr, sizeof(addr), "127.0.0.1:%u", srv.port);
	argv[0] = test_bin();
	argv[1] = "healthcheck";
	argv[2] = addr;
	argv[3] = NULL;
	ck_assert_int_eq(run_command(argv, T_MS), 0);
	server_proc_stop(&srv, SIGTERM, T_MS);
	ck_assert_int_eq(run_command(argv, T_MS), 1);
}
END_TEST

START_TEST(migrate_and_seed_commands)
{
	const char *mig[] = { test_bin(), "migrate", "--db", db, NULL };
	const char *seed[] = { test_bin(), "seed", "--db", db, NULL };
	const char *bad[] = { test_bin(), "frobnicate", NULL };
	const char *ver[] = { test_bin(), "--version", NULL };

	ck_assert_int_eq(run_command(mig, T_MS), 0);
	ck_assert_int_eq(run_command(seed, T_MS), 0);
	ck_assert_int_eq(run_command(seed, T_MS), 0);
	ck_assert_int_eq(run_command(bad, T_MS), 2);
	ck_assert_int_eq(run_command(ver, T_MS), 0);
}
END_TEST

START_TEST(bad_listen_fails)
{
	struct server_proc p2;
	static const char *const args[] = { "--listen", "nonsense", NULL };

	/* --listen given twice: the later flag wins, and it is invalid */
	ck_assert_int_ne(server_proc_start(&p2, db, args, 2000), 0);
	server_proc_stop(&p2, SIGKILL, 1000);
	free(p2.log);
}
END_TEST


/* --- compute pool, metrics, readiness detail, keys (seeded database) -- */

/* Two perps on two assets in opposite directions: Monte Carlo. */
#define MC_BODY(paths, steps) "{\"paths\":" paths ",\"steps\":" steps "," \
	"\"positions\":[{\"id\":\"a\",\"type\":\"perp\",\"asset\":\"ETH\"," \
	"\"side\":\"long\",\"size\":1,\"entry_price\":3000,\"leverage\":5}," \
	"{\"id\":\"b\",\"type\":\"perp\",\"asset\":\"BTC\"," \
	"\"side\":\"short\",\"size\":1,\"entry_price\":23000,\"leverage\":5}]}"
/* ~20x the default cost: long enough to overlap other requests */
#define SLOW_MC MC_BODY("200000", "32")
#define EXACT_BODY "{\"positions\":[{\"id\":\"a\",\"type\":\"perp\"," \
	"\"asset\":\"ETH\",\"side\":\"long\",\"size\":1," \
	"\"entry_price\":3000,\"leverage\":5}]}"
#define JSON_CT "Content-Type: application/json\r\n"

static void
start_seeded(const char *const *args)
{
	ck_assert_int_eq(store_fixture_seeded(&dir, db, sizeof(db), "t.db",
	    T_MS), 0);
	ck_assert_msg(server_proc_start(&srv, db, args, T_MS) == 0,
	    "server did not start: %s", srv.log ? srv.log : "(no log)");
}

static double
since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

struct client {
	pthread_t th;
	unsigned port;
	const char *body;
	int rc;
	int status;
	char retry_after[16];
	char type[128];
};

static void *
client_main(void *arg)
{
	struct client *c = arg;
	struct http_reply r;
	cJSON *j;

	c->rc = http_request(c->port, "POST", "/v1/score", JSON_CT, c->body,
	    strlen(c->body), &r, 60000);
	if (c->rc != 0)
		return NULL;
	c->status = r.status;
	if (http_header(&r, "Retry-After", c->retry_after,
	    sizeof(c->retry_after)) == NULL)
		c->retry_after[0] = '\0';
	j = cJSON_Parse(r.body);
	if (j != NULL && cJSON_IsString(cJSON_GetObjectItem(j, "type")))
		snprintf(c->type, sizeof(c->type), "%s",
		    cJSON_GetObjectItem(j, "type")->valuestring);
	cJSON_Delete(j);
	http_reply_release(&r);
	return NULL;
}

static void
clients_start(struct client *c, size_t n, const char *body)
{
	size_t i;

	for (i = 0; i < n; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		c[i].port = srv.port;
		c[i].body = body;
		c[i].rc = -1;
		ck_assert_int_eq(pthread_create(&c[i].th, NULL, client_main,
		    &c[i]), 0);
	}
}

static void
clients_join(struct client *c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		pthread_join(c[i].th, NULL);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void
cteardown(void)
{
	fixture_stop(&srv, &dir, T_MS);
}

START_TEST(monte_carlo_off_the_polling_threads)
{
	/* one polling thread: were Monte Carlo on it, probes would wait */
	static const char *const args[] = { "--threads", "1",
	    "--compute-threads", "2", NULL };
	struct client c[4];
	struct http_reply r;
	struct timespec t0;
	double worst = 0, t;
	size_t i;
	int k;

	start_seeded(args);
	clients_start(c, 4, SLOW_MC);
	sleep_ms(100);
	for (k = 0; k < 5; k++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ck_assert_int_eq(http_request(srv.port, "GET", "/healthz",
		    NULL, NULL, 0, &r, T_MS), 0);
		t = since(&t0);
		ck_assert_int_eq(r.status, 200);
		http_reply_release(&r);
		if (t > worst)
			worst = t;
		/* an exact score stays inline and fast too */
		ck_assert_int_eq(http_request(srv.port, "POST", "/v1/score",
		    JSON_CT, EXACT_BODY, strlen(EXACT_BODY), &r, T_MS), 0);
		ck_assert_int_eq(r.status, 200);
		http_reply_release(&r);
		sleep_ms(20);
	}
	clients_join(c, 4);
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(c[i].rc, 0);
		ck_assert_int_eq(c[i].status, 200);
	}
	/* generous: a functional check, not a benchmark */
	ck_assert_msg(worst < 1.5, "/healthz took %.3f s during Monte Carlo",
	    worst);
}
END_TEST

START_TEST(deferred_answer_keeps_the_connection)
{
	static const char *const args[] = { NULL };
	static const char probe[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	const char *body = MC_BODY("2000", "4");
	struct sockaddr_in sa;
	struct timeval tv = { 10, 0 };
	char raw[1024], buf[16384];
	int fd, n;

	start_seeded(args);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)srv.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	n = snprintf(raw, sizeof(raw), "POST /v1/score HTTP/1.1\r\nHost: x\r\n"
	    JSON_CT "Content-Length: %zu\r\n\r\n%s", strlen(body), body);
	ck_assert_int_eq(send(fd, raw, (size_t)n, 0), n);
	ck_assert_int_eq(read_answer(fd, buf, sizeof(buf)), 200);
	ck_assert_ptr_nonnull(strstr(buf, "\"method\":\"monte_carlo\""));
	ck_assert_ptr_nonnull(strstr(buf, "X-Request-Id: "));
	ck_assert_ptr_null(strstr(buf, "Connection: close"));
	/* the resumed connection is still good for the next request */
	ck_assert_int_eq(send(fd, probe, sizeof(probe) - 1, 0),
	    (ssize_t)sizeof(probe) - 1);
	ck_assert_int_eq(read_answer(fd, buf, sizeof(buf)), 200);
	ck_assert_ptr_nonnull(strstr(buf, "{\"status\":\"ok\"}"));
	close(fd);
}
END_TEST

START_TEST(saturated_pool_is_503)
{
	static const char *const args[] = { "--compute-threads", "1",
	    "--compute-queue", "1", NULL };
	struct client c[24];
	struct http_reply r;
	size_t i, n, ok = 0, busy = 0;

	start_seeded(args);
	/* more clients each round, should the model become much faster */
	for (n = 6; n <= 24 && busy == 0; n *= 2) {
		clients_start(c, n, SLOW_MC);
		clients_join(c, n);
		for (i = 0; i < n; i++) {
			ck_assert_int_eq(c[i].rc, 0);
			if (c[i].status == 200) {
				ok++;
				continue;
			}
			ck_assert_int_eq(c[i].status, 503);
			ck_assert_str_eq(c[i].retry_after, "1");
			ck_assert_str_eq(c[i].type, PROBLEM_BASE "saturated");
			busy++;
		}
	}
	ck_assert_uint_ge(ok, 1);
	ck_assert_uint_ge(busy, 1);
	/* still serving, and the refusals are counted */
	ck_assert_int_eq(http_request(srv.port, "GET", "/metrics", NULL, NULL,
	    0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_double_eq(metrics_read_value(r.body,
	    "cascaded_compute_pool_saturated_total"), (double)busy);
	http_reply_release(&r);
}
END_TEST

START_TEST(drain_with_computations)
{
	static const char *const args[] = { "--compute-threads", "1",
	    "--compute-queue", "8", "--drain-seconds", "0.5", NULL };
	struct client c[4];
	struct timespec t0;
	size_t i;
	int rc;

	start_seeded(args);
	clients_start(c, 4, MC_BODY("400000", "64"));
	sleep_ms(300);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = server_proc_stop(&srv, SIGTERM, 10000);
	ck_assert_int_eq(rc, 0);
	ck_assert_msg(since(&t0) < 5.0, "shutdown took %.2f s", since(&t0));
	clients_join(c, 4);
	/* every client got an answer: a result or a 503 */
	for (i = 0; i < 4; i++) {
		ck_assert_int_eq(c[i].rc, 0);
		ck_assert(c[i].status == 200 || c[i].status == 503);
	}
	ck_assert_ptr_nonnull(strstr(srv.log, "\"msg\":\"stopped\""));
}
END_TEST

START_TEST(metrics_endpoint)
{
	static const char *const args[] = { NULL };
	struct http_reply r;
	char ct[128];
	int i;

	start_seeded(args);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(http_request(srv.port, "GET",
		    "/v1/markets/ETH", NULL, NULL, 0, &r, T_MS), 0);
		ck_assert_int_eq(r.status, 200);
		http_reply_release(&r);
	}
	ck_assert_int_eq(http_request(srv.port, "GET", "/v1/markets/NOPE",
	    NULL, NULL, 0, &r, T_MS), 0);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "GET", "/no/such", NULL,
	    NULL, 0, &r, T_MS), 0);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "POST", "/v1/score", JSON_CT,
	    EXACT_BODY, strlen(EXACT_BODY), &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "GET", "/metrics", NULL, NULL,
	    0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_nonnull(http_header(&r, "Content-Type", ct,
	    sizeof(ct)));
	ck_assert_msg(strncmp(ct, "text/plain; version=0.0.4", 25) == 0,
	    "%s", ct);
	ck_assert_double_eq(metrics_read_value(r.body, "cascaded_http_requests_total{route="
	    "\"/v1/markets/{asset}\",method=\"GET\",status=\"200\"}"), 3);
	ck_assert_double_eq(metrics_read_value(r.body, "cascaded_http_requests_total{route="
	    "\"/v1/markets/{asset}\",method=\"GET\",status=\"404\"}"), 1);
	ck_assert_double_eq(metrics_read_value(r.body, "cascaded_http_requests_total{route="
	    "\"unmatched\",method=\"GET\",status=\"404\"}"), 1);
	ck_assert_double_eq(metrics_read_value(r.body,
	    "cascaded_http_request_duration_seconds_count{route="
	    "\"/v1/markets/{asset}\"}"), 4);
	ck_assert_double_eq(metrics_read_value(r.body,
	    "cascaded_http_request_duration_seconds_bucket{route="
	    "\"/v1/markets/{asset}\",le=\"+Inf\"}"), 4);
	ck_assert_double_eq(metrics_read_value(r.body, "cascaded_score_duration_seconds_"
	    "count{method=\"exact\"}"), 1);
	/* this scrape itself is in flight */
	ck_assert_double_eq(metrics_read_value(r.body, "cascaded_http_requests_in_flight"),
	    1);
	ck_assert_double_eq(metrics_read_value(r.body, "cascaded_snapshot_version"), 1);
	ck_assert_double_gt(metrics_read_value(r.body, "cascaded_depth_age_seconds{asset="
	    "\"ETH\",side=\"bid\"}"), 0);
	ck_assert_double_ge(metrics_read_value(r.body, "cascaded_compute_pool_threads"),
	    1);
	ck_assert_double_eq(metrics_read_value(r.body,
	    "cascaded_compute_pool_queue_capacity"), 64);
	ck_assert_double_eq(metrics_read_value(r.body,
	    "cascaded_db_write_failures_total"), 0);
	http_reply_release(&r);
}
END_TEST

START_TEST(readyz_verbose)
{
	static const char *const args[] = { "--compute-threads", "3",
	    NULL };
	struct http_reply r;
	cJSON *j, *p;

	start_seeded(args);
	ck_assert_int_eq(http_request(srv.port, "GET", "/readyz?verbose",
	    NULL, NULL, 0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	j = cJSON_Parse(r.body);
	ck_assert_msg(j != NULL, "%s", r.body);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "status")->valuestring,
	    "ready");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "db_open")));
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "migrations_applied")));
	ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(j, "draining")));
	ck_assert_int_eq(cJSON_GetObjectItem(j, "snapshot_version")->valueint,
	    1);
	p = cJSON_GetObjectItem(j, "compute_pool");
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(cJSON_GetObjectItem(p, "threads")->valueint, 3);
	ck_assert_int_eq(cJSON_GetObjectItem(p, "queue_capacity")->valueint,
	    64);
	ck_assert_int_eq(cJSON_GetObjectItem(p, "queued")->valueint, 0);
	cJSON_Delete(j);
	http_reply_release(&r);
	/* the plain probe is unchanged */
	ck_assert_int_eq(http_request(srv.port, "GET", "/readyz", NULL, NULL,
	    0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	ck_assert_ptr_null(strstr(r.body, "compute_pool"));
	http_reply_release(&r);
}
END_TEST

START_TEST(keys_from_file_and_protected_reads)
{
	char keyfile[600], kf_arg[640];
	const char *args[] = { "--api-key-file", NULL, "--protect-reads",
	    NULL };
	struct http_reply r;
	FILE *f;
	char *line, *nl;
	int found = 0;

	ck_assert_int_eq(fixture_dir(&dir, db, sizeof(db), "t.db"), 0);
	snprintf(keyfile, sizeof(keyfile), "%s/keys", dir);
	f = fopen(keyfile, "w");
	ck_assert_ptr_nonnull(f);
	fputs("# operators\nfirst-key-0123456789\nk2\n", f);
	fclose(f);
	snprintf(kf_arg, sizeof(kf_arg), "%s", keyfile);
	args[1] = kf_arg;
	ck_assert_msg(server_proc_start(&srv, db, args, T_MS) == 0,
	    "server did not start: %s", srv.log ? srv.log : "(no log)");
	/* reads under /v1/ need a key now */
	ck_assert_int_eq(http_request(srv.port, "GET", "/v1/markets", NULL,
	    NULL, 0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 401);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "POST", "/v1/score", JSON_CT,
	    "{}", 2, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 401);
	http_reply_release(&r);
	/* a prefix, an extension and another length of a key: 403 */
	ck_assert_int_eq(http_request(srv.port, "GET", "/v1/markets",
	    "Authorization: Bearer first-key\r\n", NULL, 0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 403);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "GET", "/v1/markets",
	    "Authorization: Bearer first-key-01234567890\r\n", NULL, 0, &r,
	    T_MS), 0);
	ck_assert_int_eq(r.status, 403);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "GET", "/v1/markets",
	    "Authorization: Bearer k3\r\n", NULL, 0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 403);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "GET", "/v1/markets",
	    "Authorization: Bearer first-key-0123456789\r\n"
	    "X-Request-Id: with-key-1\r\n", NULL, 0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "GET", "/v1/markets",
	    "Authorization: Bearer k2\r\n", NULL, 0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	http_reply_release(&r);
	/* probes, metrics and preflights stay open */
	ck_assert_int_eq(http_request(srv.port, "GET", "/healthz", NULL, NULL,
	    0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "GET", "/metrics", NULL, NULL,
	    0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(srv.port, "OPTIONS", "/v1/markets",
	    NULL, NULL, 0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 204);
	http_reply_release(&r);
	ck_assert_int_eq(server_proc_stop(&srv, SIGTERM, T_MS), 0);
	/* the log names the key by its id and never shows a key */
	ck_assert_ptr_nonnull(srv.log);
	ck_assert_ptr_null(strstr(srv.log, "first-key"));
	ck_assert_ptr_null(strstr(srv.log, "\"k2\""));
	for (line = srv.log; *line != '\0'; line = nl + 1) {
		cJSON *j, *k;

		nl = strchr(line, '\n');
		ck_assert_ptr_nonnull(nl);
		*nl = '\0';
		if (strstr(line, "with-key-1") == NULL)
			continue;
		j = cJSON_Parse(line);
		ck_assert_ptr_nonnull(j);
		k = cJSON_GetObjectItem(j, "key_id");
		ck_assert(cJSON_IsString(k));
		ck_assert_uint_eq(strlen(k->valuestring), 8);
		ck_assert_str_eq(cJSON_GetObjectItem(j, "route")->valuestring,
		    "/v1/markets");
		cJSON_Delete(j);
		found = 1;
	}
	ck_assert(found);
}
END_TEST

START_TEST(log_never_blocks_the_server)
{
	/* far more access-log lines than a pipe holds, never read */
	struct http_reply r;
	int i;

	for (i = 0; i < 1200; i++) {
		ck_assert_int_eq(http_request(srv.port, "GET", "/healthz",
		    NULL, NULL, 0, &r, T_MS), 0);
		ck_assert_int_eq(r.status, 200);
		http_reply_release(&r);
	}
	server_proc_read_log(&srv);
	ck_assert_ptr_nonnull(strstr(srv.log, "\"path\":\"/healthz\""));
	ck_assert_uint_gt(srv.log_len, 65536);
}
END_TEST


/* --- in-process: the router and handler API with a test route table --- */

static struct config icfg;
static struct server *isrv;
static unsigned iport;

static void
echo(struct server_request *req, struct server_response *res)
{
	cJSON *o = cJSON_CreateObject();
	char *txt;
	const char *q = server_query(req, "q");
	const char *h = server_header(req, "X-Test");

	cJSON_AddStringToObject(o, "method", req->method);
	cJSON_AddStringToObject(o, "path", req->path);
	cJSON_AddStringToObject(o, "asset", server_param(req, "asset") ?
	    server_param(req, "asset") : "");
	cJSON_AddStringToObject(o, "venue", server_param(req, "venue") ?
	    server_param(req, "venue") : "");
	cJSON_AddStringToObject(o, "q", q ? q : "(null)");
	cJSON_AddStringToObject(o, "h", h ? h : "(null)");
	cJSON_AddNumberToObject(o, "len", (double)req->body_len);
	cJSON_AddStringToObject(o, "rid", req->request_id);
	txt = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	server_respond(res, strcmp(req->method, "PUT") == 0 ? 201 : 200,
	    "application/json", txt, strlen(txt));
	server_add_header(res, "Location", "/v1/markets/X");
}

static void
silent(struct server_request *req, struct server_response *res)
{
	(void)req;
	(void)res;
}

static void
validation(struct server_request *req, struct server_response *res)
{
	struct problem p;

	(void)req;
	problem_init(&p);
	problem_add(&p, "/positions/0/size", "must be > %d", 0);
	problem_add(&p, "/query/step", "must be a number");
	server_respond_problem(res, &p, NULL);
	problem_release(&p);
}

struct later {
	char path[64];
};

static void
later_work(void *arg, unsigned threads, struct server_response *res)
{
	struct later *l = arg;
	char body[160];
	struct timespec nap = { 0, 20 * 1000 * 1000 };

	nanosleep(&nap, NULL);
	snprintf(body, sizeof(body), "{\"path\":\"%s\",\"threads\":%u}",
	    l->path, threads);
	server_respond_json(res, 202, body);
	server_add_header(res, "X-Deferred", "yes");
}

static atomic_int later_released;

static void
later_release(void *arg)
{
	free(arg);
	atomic_fetch_add(&later_released, 1);
}

static void
later(struct server_request *req, struct server_response *res)
{
	struct later *l = calloc(1, sizeof(*l));

	if (l == NULL) {
		server_respond_error(res, 503, "unavailable", "no memory");
		return;
	}
	snprintf(l->path, sizeof(l->path), "%s", req->path);
	server_defer(req, res, later_work, later_release, l);
}

static const struct server_route test_routes[] = {
	{ "GET", "/later", later, 0 },
	{ "GET", "/v1/markets/{asset}", echo, 0 },
	{ "PUT", "/v1/markets/{asset}", echo,
	  SERVER_ROUTE_BODY | SERVER_ROUTE_AUTH },
	{ "GET", "/v1/markets/{asset}/depth/{venue}", echo, 0 },
	{ "GET", "/silent", silent, 0 },
	{ "POST", "/v1/score", validation, SERVER_ROUTE_BODY },
};

static void
isetup(void)
{
	char *argv[] = { (char *)(uintptr_t)"--api-key",
	    (char *)(uintptr_t)"sekret", (char *)(uintptr_t)"--cors-origin",
	    (char *)(uintptr_t)"*", (char *)(uintptr_t)"--listen",
	    (char *)(uintptr_t)"127.0.0.1:0", (char *)(uintptr_t)"--threads",
	    (char *)(uintptr_t)"2", (char *)(uintptr_t)"--log-level",
	    (char *)(uintptr_t)"error" };
	char err[128];

	config_init(&icfg);
	ck_assert_int_eq(config_load(&icfg, 10, argv, NULL, err, sizeof(err)),
	    CONFIG_OK);
	log_set_level(icfg.log_level);
	isrv = server_new(&icfg, NULL);
	ck_assert_ptr_nonnull(isrv);
	ck_assert_int_eq(server_add_routes(isrv, test_routes,
	    sizeof(test_routes) / sizeof(test_routes[0])), 0);
	ck_assert_int_eq(server_start(isrv, NULL, 0, &iport), 0);
	ck_assert_uint_gt(iport, 0);
}

static void
iteardown(void)
{
	server_drain(isrv, 1);
	server_free(isrv);
	config_release(&icfg);
}

START_TEST(params_query_headers)
{
	struct http_reply r;
	char v[128];
	cJSON *j;

	ck_assert_int_eq(http_request(iport, "GET",
	    "/v1/markets/ETH/depth/uni%2Dv3?q=a%20b&x=1", "X-Test: hi\r\n",
	    NULL, 0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 200);
	j = cJSON_Parse(r.body);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "asset")->valuestring, "ETH");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "venue")->valuestring,
	    "uni-v3");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "q")->valuestring, "a b");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "h")->valuestring, "hi");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "rid")->valuestring,
	    http_header(&r, "X-Request-Id", v, sizeof(v)));
	ck_assert_str_eq(http_header(&r, "Location", v, sizeof(v)),
	    "/v1/markets/X");
	cJSON_Delete(j);
	http_reply_release(&r);
}
END_TEST

START_TEST(auth_and_body)
{
	struct http_reply r;
	char v[128];
	cJSON *j;

	ck_assert_int_eq(http_request(iport, "PUT", "/v1/markets/ETH",
	    "Content-Type: application/json\r\n", "{\"price\":1}", 11, &r,
	    T_MS), 0);
	j = expect_problem(&r, 401);
	ck_assert_ptr_nonnull(http_header(&r, "WWW-Authenticate", v,
	    sizeof(v)));
	cJSON_Delete(j);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(iport, "PUT", "/v1/markets/ETH",
	    "Content-Type: application/json\r\nAuthorization: Bearer nope\r\n",
	    "{\"price\":1}", 11, &r, T_MS), 0);
	j = expect_problem(&r, 403);
	cJSON_Delete(j);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(iport, "PUT", "/v1/markets/ETH",
	    "Content-Type: application/json\r\nAuthorization: Bearer sekret\r\n"
	    "Origin: https://x.example\r\n", "{\"price\":1}", 11, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 201);
	ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Origin", v,
	    sizeof(v)), "*");
	j = cJSON_Parse(r.body);
	ck_assert_int_eq(cJSON_GetObjectItem(j, "len")->valueint, 11);
	cJSON_Delete(j);
	http_reply_release(&r);
	/* a preflight never needs a key */
	ck_assert_int_eq(http_request(iport, "OPTIONS", "/v1/markets/ETH",
	    "Origin: https://x.example\r\nAccess-Control-Request-Method: PUT\r\n",
	    NULL, 0, &r, T_MS), 0);
	ck_assert_int_eq(r.status, 204);
	ck_assert_ptr_nonnull(strstr(http_header(&r,
	    "Access-Control-Allow-Methods", v, sizeof(v)), "PUT"));
	http_reply_release(&r);
}
END_TEST

START_TEST(handler_without_answer_and_validation)
{
	struct http_reply r;
	cJSON *j, *e;

	ck_assert_int_eq(http_request(iport, "GET", "/silent", NULL, NULL, 0,
	    &r, T_MS), 0);
	j = expect_problem(&r, 500);
	cJSON_Delete(j);
	http_reply_release(&r);
	ck_assert_int_eq(http_request(iport, "POST", "/v1/score",
	    "Content-Type: application/json\r\n", "{}", 2, &r, T_MS), 0);
	j = expect_problem(&r, 422);
	e = cJSON_GetObjectItem(j, "errors");
	ck_assert_int_eq(cJSON_GetArraySize(e), 2);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 0),
	    "pointer")->valuestring, "/positions/0/size");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(e, 0),
	    "detail")->valuestring, "must be > 0");
	cJSON_Delete(j);
	http_reply_release(&r);
	/*
	 * keep-alive: two pipelined requests on one connection; the first
	 * answer must not close the connection (responses are queued on the
	 * second handler call, HTTP-NOTES)
	 */
	{
		static const char two[] = "GET /v1/markets/A HTTP/1.1\r\n"
		    "Host: x\r\n\r\nGET /v1/markets/B HTTP/1.1\r\nHost: x\r\n"
		    "Connection: close\r\n\r\n";

		ck_assert_int_eq(http_raw(iport, two, sizeof(two) - 1, &r,
		    T_MS), 0);
		ck_assert_int_eq(r.status, 200);
		ck_assert_ptr_nonnull(strstr(r.body, "/v1/markets/A"));
		ck_assert_ptr_null(strstr(r.head, "Connection: close"));
		http_reply_release(&r);
	}
}
END_TEST

START_TEST(deferred_handler)
{
	struct http_reply r;
	char v[64];
	cJSON *j;
	int i;

	atomic_store(&later_released, 0);
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(http_request(iport, "GET", "/later",
		    "X-Request-Id: later-1\r\n", NULL, 0, &r, T_MS), 0);
		ck_assert_int_eq(r.status, 202);
		ck_assert_str_eq(http_header(&r, "X-Deferred", v, sizeof(v)),
		    "yes");
		ck_assert_str_eq(http_header(&r, "X-Request-Id", v,
		    sizeof(v)), "later-1");
		j = cJSON_Parse(r.body);
		ck_assert_ptr_nonnull(j);
		ck_assert_str_eq(cJSON_GetObjectItem(j, "path")->valuestring,
		    "/later");
		ck_assert_int_ge(cJSON_GetObjectItem(j, "threads")->valueint,
		    1);
		cJSON_Delete(j);
		http_reply_release(&r);
	}
	ck_assert_int_eq(atomic_load(&later_released), 3);
}
END_TEST

static Suite *
server_suite(void)
{
	Suite *s = suite_create("server");
	TCase *tc;

	tc = tcase_create("http");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, healthz_readyz_version);
	tcase_add_test(tc, not_found);
	tcase_add_test(tc, method_not_allowed);
	tcase_add_test(tc, body_too_large);
	tcase_add_test(tc, unsupported_media_type);
	tcase_add_test(tc, request_id);
	tcase_add_test(tc, cors_preflight);
	suite_add_tcase(s, tc);
	tc = tcase_create("lifecycle");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, access_log_and_sigterm);
	tcase_add_test(tc, sigterm_with_idle_connection);
	tcase_add_test(tc, readyz_503_while_draining);
	tcase_add_test(tc, healthcheck_command);
	tcase_add_test(tc, migrate_and_seed_commands);
	tcase_add_test(tc, bad_listen_fails);
	tcase_add_test(tc, log_never_blocks_the_server);
	suite_add_tcase(s, tc);
	tc = tcase_create("compute");
	tcase_add_checked_fixture(tc, NULL, cteardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, monte_carlo_off_the_polling_threads);
	tcase_add_test(tc, deferred_answer_keeps_the_connection);
	tcase_add_test(tc, saturated_pool_is_503);
	tcase_add_test(tc, drain_with_computations);
	suite_add_tcase(s, tc);
	tc = tcase_create("observability");
	tcase_add_checked_fixture(tc, NULL, cteardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, metrics_endpoint);
	tcase_add_test(tc, readyz_verbose);
	tcase_add_test(tc, keys_from_file_and_protected_reads);
	suite_add_tcase(s, tc);
	tc = tcase_create("router");
	tcase_add_checked_fixture(tc, isetup, iteardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, params_query_headers);
	tcase_add_test(tc, auth_and_body);
	tcase_add_test(tc, handler_without_answer_and_validation);
	tcase_add_test(tc, deferred_handler);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(server_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

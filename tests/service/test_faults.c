/*
 * test_faults.c - fault injection against the real build/cascaded
 * ($CASCADED_BIN), loopback only, every wait bounded:
 *
 * - crash: kill -9 in the middle of a stream of depth and level writes,
 *   20 times over one database.  After each kill the file passes PRAGMA
 *   integrity_check, every written set (an asset's levels, a venue's
 *   side) holds exactly one write's content (write k stores qty k in
 *   every level and k * (i + 1) at point i), that write is at least the
 *   last acknowledged one (acknowledged writes are durable) and at most
 *   the last sent, and the restarted server serves the same data.
 * - unwritable database: the server's file size limit is lowered to 1
 *   byte with prlimit(2) while it runs (SIGXFSZ ignored), which makes
 *   every database write fail with EFBIG, as root too (chmod does not
 *   stop root, and the test machines have neither mount nor a tiny file
 *   system).  Writes answer a 503 problem and change nothing, reads keep
 *   being served from the snapshot, /readyz stays 200 (it reports "can
 *   serve": database open, migrated, not draining; it must not claim the
 *   database writable), and writes succeed again once the limit is back.
 * - slow and idle clients: 500 connections trickling one header byte a
 *   second do not delay a normal /healthz beyond a few seconds; idle
 *   connections are closed after --timeout; --max-connections and
 *   --per-ip-limit hold.
 * - hostile bodies: oversized (Content-Length and chunked), deeply
 *   nested, truncated, non-UTF-8, 1e400 / -0 / 1e-400: always 4xx (or a
 *   closed connection for a truncated body), the server stays up, and
 *   GET /v1/markets is byte-identical before and after.
 */
#define _GNU_SOURCE	/* prlimit(2) */

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <check.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "testlib.h"

#define T_MS 5000
#define JSON_CT "Content-Type: application/json\r\n"

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* One request; returns the status (0 when no answer).  out may be NULL. */
static int
call(unsigned port, const char *method, const char *path, const char *body,
    struct http_reply *out)
{
	struct http_reply r;
	int st;

	if (http_request(port, method, path, body != NULL ? JSON_CT : NULL,
	    body, body != NULL ? strlen(body) : 0, &r, T_MS) != 0)
		return 0;
	st = r.status;
	if (out != NULL)
		*out = r;
	else
		http_reply_release(&r);
	return st;
}

/* The body of GET path (malloc'd), or NULL. */
static char *
get_body(unsigned port, const char *path)
{
	struct http_reply r;
	char *b;

	if (call(port, "GET", path, NULL, &r) != 200) {
		http_reply_release(&r);
		return NULL;
	}
	b = r.body;
	r.body = NULL;
	http_reply_release(&r);
	return b;
}

static int
connect_lo(unsigned port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* 1 when the peer closed fd (EOF or reset) within ms. */
static int
closed_within(int fd, int ms)
{
	struct pollfd p = { fd, POLLIN, 0 };
	char c;
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return 0;
	n = recv(fd, &c, 1, MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* 1 when fd has an HTTP answer waiting. */
static int
answered(int fd)
{
	char buf[16];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_PEEK);

	return n >= 12 && strncmp(buf, "HTTP/1.", 7) == 0;
}

static struct server_proc srv;
static char *dir;
static char db[512];

static void
start(const char *const *args)
{
	ck_assert_msg(server_proc_start(&srv, db, args, T_MS) == 0,
	    "server did not start: %s", srv.log ? srv.log : "(no log)");
}

static void
stop(int sig)
{
	server_proc_stop(&srv, sig, T_MS);
	free(srv.log);
	srv.log = NULL;
}

/*
 * Read what the server logged so far: its stderr is a pipe, and a server
 * blocked on a full pipe stalls every worker (MHD logs one warning per
 * client that leaves with an incomplete request).  Main thread only.
 */
static void
drain(void)
{
	if (srv.pid > 0 && srv.err_fd >= 0)
		server_proc_read_log(&srv);
}

/* Sleep ms in slices, draining the server's log. */
static void
nap(long ms)
{
	long long end = now_ms() + ms;

	while (now_ms() < end) {
		drain();
		sleep_ms(ms < 50 ? ms : 50);
	}
	drain();
}

static void
setup(void)
{
	/* the server inherits the ignored SIGXFSZ (the prlimit case) */
	signal(SIGXFSZ, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(fixture_dir(&dir, db, sizeof(db), "faults.db"), 0);
	memset(&srv, 0, sizeof(srv));
	srv.err_fd = -1;
}

static void
teardown(void)
{
	stop(SIGKILL);
	tmpdir_free(dir);
}

static void
put_asset(unsigned port, const char *sym, double price)
{
	char path[64], body[96];
	int st;

	snprintf(path, sizeof(path), "/v1/markets/%s", sym);
	snprintf(body, sizeof(body), "{\"price\": %g, \"volatility\": 0.5}",
	    price);
	st = call(port, "PUT", path, body, NULL);
	ck_assert_msg(st == 200 || st == 201, "PUT %s: %d", path, st);
}

/* ---- kill -9 during writes ------------------------------------------ */

#define NLEVELS 50
#define NPOINTS 20
#define NSTREAMS 4
#define ROUNDS 20

/* stream s: 0 FA levels, 1 FA bid "main", 2 FB levels, 3 FB ask "main" */
static const char *const s_asset[NSTREAMS] = { "FA", "FA", "FB", "FB" };
static const int s_side[NSTREAMS] = { -1, 0, -1, 1 };

struct writer {
	unsigned port;
	long k0;
	atomic_int stop;
	atomic_long sent[NSTREAMS];	/* last k whose write was started */
	atomic_long acked[NSTREAMS];	/* last k answered 200/201 */
	atomic_long nwrites;
};

static char *
stream_body(int s, long k)
{
	size_t cap = 64 * (NLEVELS + NPOINTS) + 128, n = 0;
	char *b = malloc(cap);
	int i;

	if (b == NULL)
		return NULL;
	if (s_side[s] < 0) {
		n += (size_t)snprintf(b + n, cap - n, "{\"levels\": [");
		for (i = 0; i < NLEVELS; i++)
			n += (size_t)snprintf(b + n, cap - n,
			    "%s{\"price\": %d, \"qty\": %ld, \"side\": "
			    "\"sell\"}", i ? ", " : "", 900 - i, k);
		snprintf(b + n, cap - n, "], \"source\": \"fault-%ld\"}", k);
	} else {
		n += (size_t)snprintf(b + n, cap - n, "{\"side\": \"%s\", "
		    "\"points\": [", s_side[s] == 0 ? "bid" : "ask");
		for (i = 0; i < NPOINTS; i++)
			n += (size_t)snprintf(b + n, cap - n, "%s[%d, %ld]",
			    i ? ", " : "", 10 * (i + 1), k * (i + 1));
		snprintf(b + n, cap - n, "]}");
	}
	return b;
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	char path[96], *body;
	long k;
	int s, st;

	for (k = w->k0; !atomic_load(&w->stop); k++) {
		for (s = 0; s < NSTREAMS; s++) {
			if (s_side[s] < 0)
				snprintf(path, sizeof(path),
				    "/v1/markets/%s/liquidations", s_asset[s]);
			else
				snprintf(path, sizeof(path),
				    "/v1/markets/%s/depth/main", s_asset[s]);
			body = stream_body(s, k);
			if (body == NULL)
				return NULL;
			atomic_store(&w->sent[s], k);
			st = call(w->port, "PUT", path, body, NULL);
			free(body);
			if (st == 0)
				return NULL;	/* the server is gone */
			if (st != 200 && st != 201) {
				fprintf(stderr, "faults: PUT %s: %d\n", path,
				    st);
				return NULL;
			}
			atomic_store(&w->acked[s], k);
			atomic_fetch_add(&w->nwrites, 1);
		}
	}
	return NULL;
}

/*
 * The write k held by stream s in the database: 0 when it holds nothing,
 * -1 when it holds a mix or a wrong count.
 */
static long
stored_k(sqlite3 *h, int s)
{
	static const char lv_sql[] = "SELECT count(*), min(qty), max(qty) "
	    "FROM liquidation_levels WHERE asset = ?1";
	static const char pt_sql[] = "SELECT count(*), min(p.qty * 10 / "
	    "p.bps), max(p.qty * 10 / p.bps) FROM depth_points p JOIN "
	    "depth_curves c ON p.curve_id = c.id WHERE c.asset = ?1 AND "
	    "c.venue = 'main' AND c.side = ?2";
	sqlite3_stmt *q;
	long k = -1;
	int n;
	double lo, hi;

	ck_assert_int_eq(sqlite3_prepare_v2(h, s_side[s] < 0 ? lv_sql :
	    pt_sql, -1, &q, NULL), SQLITE_OK);
	sqlite3_bind_text(q, 1, s_asset[s], -1, SQLITE_STATIC);
	if (s_side[s] >= 0)
		sqlite3_bind_int(q, 2, s_side[s]);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	n = sqlite3_column_int(q, 0);
	lo = sqlite3_column_double(q, 1);
	hi = sqlite3_column_double(q, 2);
	if (n == 0)
		k = 0;
	else if (n == (s_side[s] < 0 ? NLEVELS : NPOINTS) && lo == hi &&
	    lo == floor(lo))
		k = (long)lo;
	else
		fprintf(stderr, "faults: stream %d holds %d rows, k in "
		    "[%g, %g]\n", s, n, lo, hi);
	sqlite3_finalize(q);
	return k;
}

/*
 * integrity_check and (k not NULL) the per-stream k's of the database at
 * path.
 */
static void
check_db(const char *path, long *k)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *q;
	int s;

	ck_assert_int_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(h, 2000);
	ck_assert_int_eq(sqlite3_prepare_v2(h, "PRAGMA integrity_check", -1,
	    &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(q, 0), "ok");
	sqlite3_finalize(q);
	for (s = 0; k != NULL && s < NSTREAMS; s++)
		k[s] = stored_k(h, s);
	sqlite3_close(h);
}

/* The API shows what the database holds: level count and total. */
static void
check_api(unsigned port, const long k[NSTREAMS])
{
	char path[64], *b;
	cJSON *j, *sell;
	int s;

	for (s = 0; s < NSTREAMS; s += 2) {
		snprintf(path, sizeof(path), "/v1/markets/%s", s_asset[s]);
		b = get_body(port, path);
		ck_assert_msg(b != NULL, "GET %s failed", path);
		j = cJSON_Parse(b);
		ck_assert_ptr_nonnull(j);
		sell = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "levels"),
		    "sell");
		ck_assert_ptr_nonnull(sell);
		ck_assert_int_eq(cJSON_GetObjectItem(sell, "count")->valueint,
		    k[s] > 0 ? NLEVELS : 0);
		ck_assert(fabs(cJSON_GetObjectItem(sell, "total_qty")->
		    valuedouble - (double)(k[s] * NLEVELS)) < 1e-6);
		cJSON_Delete(j);
		free(b);
	}
}

START_TEST(kill9_during_writes)
{
	struct writer w;
	pthread_t th;
	long k[NSTREAMS], total = 0;
	long long t0;
	unsigned seed = 20261126;
	int round, s;

	start(NULL);
	put_asset(srv.port, "FA", 1000);
	put_asset(srv.port, "FB", 1000);
	for (round = 0; round < ROUNDS; round++) {
		memset(&w, 0, sizeof(w));
		w.port = srv.port;
		w.k0 = (long)(round + 1) * 100000;
		if (round > 0) {
			/* what the previous rounds left is the floor */
			for (s = 0; s < NSTREAMS; s++)
				atomic_store(&w.acked[s], k[s]);
		}
		ck_assert_int_eq(pthread_create(&th, NULL, writer_main, &w),
		    0);
		/*
		 * Kill in the middle of the stream: once a few writes went
		 * through (a slow sanitizer build needs longer for that),
		 * then after a random 0-200 ms.
		 */
		t0 = now_ms();
		while (atomic_load(&w.nwrites) < 3 && now_ms() - t0 < 60000)
			nap(5);
		nap((long)(rand_r(&seed) % 200));
		server_proc_stop(&srv, SIGKILL, T_MS);
		free(srv.log);
		srv.log = NULL;
		atomic_store(&w.stop, 1);
		pthread_join(th, NULL);
		total += atomic_load(&w.nwrites);
		check_db(db, k);
		for (s = 0; s < NSTREAMS; s++) {
			long a = atomic_load(&w.acked[s]);
			long snt = atomic_load(&w.sent[s]);

			ck_assert_msg(k[s] >= 0, "round %d: stream %d holds a "
			    "mix of writes", round, s);
			ck_assert_msg(k[s] >= a, "round %d: stream %d lost the "
			    "acknowledged write %ld (holds %ld)", round, s, a,
			    k[s]);
			ck_assert_msg(snt == 0 ? k[s] == a : k[s] <= snt,
			    "round %d: stream %d holds %ld, never sent (last "
			    "%ld)", round, s, k[s], snt);
		}
		start(NULL);
		ck_assert_int_eq(call(srv.port, "GET", "/healthz", NULL, NULL),
		    200);
		ck_assert_int_eq(call(srv.port, "GET", "/readyz", NULL, NULL),
		    200);
		check_api(srv.port, k);
	}
	/* the server still takes writes after all that */
	put_asset(srv.port, "FA", 1001);
	fprintf(stderr, "faults: %d kills, %ld acknowledged writes\n",
	    ROUNDS, total);
	ck_assert_int_ge(total, 3 * ROUNDS);
}
END_TEST

/* ---- kill -9 during a large book write -------------------------------- */

#define BOOK_N 15000
#define BOOK_ROUNDS 4

/* PUT /v1/books/kb of version k: ids "k-i", source "v<k>". */
static char *
book_body(long k)
{
	char *b = malloc(BOOK_N * 200 + 64), *p;
	long i;

	if (b == NULL)
		return NULL;
	p = b + sprintf(b, "{\"source\": \"v%ld\", \"positions\": [", k);
	for (i = 0; i < BOOK_N; i++)
		p += sprintf(p, "%s{\"id\": \"%ld-%ld\", \"type\": \"loan\", "
		    "\"collateral\": [{\"asset\": \"FA\", \"amount\": %ld, "
		    "\"liquidation_threshold\": 0.8}], \"debt\": [{\"asset\": "
		    "\"USD\", \"amount\": %ld}]}", i > 0 ? "," : "", k, i,
		    1 + i % 50, 500 * (1 + i % 50) + k);
	sprintf(p, "]}");
	return b;
}

struct book_writer {
	unsigned port;
	long k0;
	atomic_long sent, acked;
	atomic_llong first_ms;	/* how long the round's first PUT took */
	atomic_int stop;
};

static void *
book_writer_main(void *arg)
{
	struct book_writer *w = arg;
	long k;

	for (k = w->k0; !atomic_load(&w->stop); k++) {
		char *b = book_body(k);
		int st;

		if (b == NULL)
			return NULL;
		long long t0 = now_ms();

		atomic_store(&w->sent, k);
		st = call(w->port, "PUT", "/v1/books/kb", b, NULL);
		free(b);
		if (st != 200 && st != 201)
			return NULL;	/* killed */
		if (k == w->k0)
			atomic_store(&w->first_ms, now_ms() - t0 + 1);
		atomic_store(&w->acked, k);
	}
	return NULL;
}

/* The version the database holds for book kb: -1 for a mix. */
static long
stored_book(const char *path)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *q;
	long k = -1, lo, hi, n, src = -2;

	ck_assert_int_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE,
	    NULL), SQLITE_OK);
	sqlite3_busy_timeout(h, 2000);
	ck_assert_int_eq(sqlite3_prepare_v2(h, "SELECT count(*), "
	    "min(CAST(substr(id, 1, instr(id, '-') - 1) AS INTEGER)), "
	    "max(CAST(substr(id, 1, instr(id, '-') - 1) AS INTEGER)) FROM "
	    "book_positions WHERE book = 'kb'", -1, &q, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
	n = sqlite3_column_int64(q, 0);
	lo = sqlite3_column_int64(q, 1);
	hi = sqlite3_column_int64(q, 2);
	sqlite3_finalize(q);
	ck_assert_int_eq(sqlite3_prepare_v2(h, "SELECT CAST(substr(source, 2) "
	    "AS INTEGER) FROM books WHERE name = 'kb'", -1, &q, NULL),
	    SQLITE_OK);
	if (sqlite3_step(q) == SQLITE_ROW)
		src = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(h);
	if (n == BOOK_N && lo == hi && src == lo)
		k = lo;
	else if (n == 0 && src == -2)
		k = 0;	/* no book yet */
	else
		fprintf(stderr, "faults: book holds %ld positions of versions "
		    "[%ld, %ld], source v%ld\n", n, lo, hi, src);
	return k;
}

/*
 * SIGKILL while PUT /v1/books/kb replaces a book of 15000 positions:
 * after the restart the database holds one whole version (the last
 * acknowledged or the one in flight), never a mix, and the service
 * loads it back (GET /v1/books/kb shows all of it).
 */
START_TEST(kill9_during_book_writes)
{
	struct book_writer w;
	pthread_t th;
	unsigned seed = 8;
	long k = 0, stored = 0;
	int round;
	char *b;

	start(NULL);
	put_asset(srv.port, "FA", 1000);
	for (round = 0; round < BOOK_ROUNDS; round++) {
		memset(&w, 0, sizeof(w));
		w.port = srv.port;
		w.k0 = (long)(round + 1) * 1000;
		ck_assert_int_eq(pthread_create(&th, NULL, book_writer_main,
		    &w), 0);
		/*
		 * Kill in the middle of a write whatever the machine's speed:
		 * the first round kills during its first PUT, at a random
		 * 300-1800 ms; the later ones wait for one PUT to finish
		 * (bounded), then kill at a random point of the next one,
		 * scaled to how long the first took (a sanitizer build on a
		 * loaded machine is many times slower than a plain one).
		 */
		if (round == 0) {
			nap(300 + (long)(rand_r(&seed) % 1500));
		} else {
			long long t0 = now_ms(), d;

			while (atomic_load(&w.first_ms) == 0 &&
			    now_ms() - t0 < 120000)
				nap(5);
			d = atomic_load(&w.first_ms);
			ck_assert_msg(d > 0, "round %d: no PUT finished in 120 s",
			    round);
			nap((long)(rand_r(&seed) % (unsigned)(d + d / 2)));
		}
		server_proc_stop(&srv, SIGKILL, T_MS);
		free(srv.log);
		srv.log = NULL;
		atomic_store(&w.stop, 1);
		pthread_join(th, NULL);
		k = stored_book(db);
		ck_assert_msg(k >= 0, "round %d: the book holds a mix", round);
		ck_assert_msg(k == atomic_load(&w.acked) ||
		    k == atomic_load(&w.sent) || (atomic_load(&w.acked) == 0
		    && k < w.k0), "round %d: holds v%ld, acked %ld, sent %ld",
		    round, k, (long)atomic_load(&w.acked),
		    (long)atomic_load(&w.sent));
		start(NULL);
		b = get_body(srv.port, "/v1/books/kb");
		if (k > 0) {
			char want[64];

			ck_assert_ptr_nonnull(b);
			snprintf(want, sizeof(want), "\"positions\":%d",
			    BOOK_N);
			ck_assert_ptr_nonnull(strstr(b, want));
			snprintf(want, sizeof(want), "\"source\":\"v%ld\"", k);
			ck_assert_ptr_nonnull(strstr(b, want));
		}
		free(b);
		stored += k > 0;
	}
	ck_assert_int_gt(stored, 0);
}
END_TEST

/* ---- unwritable database --------------------------------------------- */

static int
set_fsize(pid_t pid, rlim_t cur)
{
	struct rlimit rl = { cur, RLIM_INFINITY };

	return prlimit(pid, RLIMIT_FSIZE, &rl, NULL);
}

START_TEST(unwritable_database)
{
	static const char levels[] = "{\"levels\": [{\"price\": 900, "
	    "\"qty\": 7, \"side\": \"sell\"}]}";
	static const char depth[] = "{\"side\": \"bid\", \"points\": "
	    "[[10, 5], [20, 9]]}";
	static const char score[] = "{\"positions\": [{\"id\": \"p\", "
	    "\"type\": \"perp\", \"asset\": \"FA\", \"side\": \"long\", "
	    "\"size\": 1, \"entry_price\": 1000, \"leverage\": 5}]}";
	struct http_reply r;
	char *before, *after, ct[128];
	cJSON *j, *wr;
	int st, i;

	start(NULL);
	put_asset(srv.port, "FA", 1000);
	ck_assert_int_eq(call(srv.port, "PUT", "/v1/markets/FA/liquidations",
	    levels, NULL), 200);
	before = get_body(srv.port, "/v1/markets");
	ck_assert_ptr_nonnull(before);
	ck_assert_msg(set_fsize(srv.pid, 1) == 0, "prlimit: %s",
	    strerror(errno));
	/* every kind of write: 503 problem, nothing changes */
	for (i = 0; i < 4; i++) {
		static const char *const m[] = { "PUT", "PUT", "PUT",
			"DELETE" };
		static const char *const p[] = { "/v1/markets/FA",
			"/v1/markets/FA/depth/x", "/v1/markets/FA/liquidations",
			"/v1/markets/FA" };
		const char *b[] = { "{\"price\": 2000}", depth, levels, NULL };

		st = call(srv.port, m[i], p[i], b[i], &r);
		ck_assert_msg(st == 503, "%s %s during the fault: %d %s", m[i],
		    p[i], st, r.body ? r.body : "");
		ck_assert_str_eq(http_header(&r, "Content-Type", ct,
		    sizeof(ct)), "application/problem+json");
		http_reply_release(&r);
	}
	/* reads and scoring keep working from the snapshot */
	after = get_body(srv.port, "/v1/markets");
	ck_assert_ptr_nonnull(after);
	ck_assert_str_eq(before, after);
	free(after);
	ck_assert_int_eq(call(srv.port, "POST", "/v1/score", score, NULL),
	    200);
	ck_assert_int_eq(call(srv.port, "GET", "/healthz", NULL, NULL), 200);
	/* /readyz: ready to serve, and never claims the file writable */
	st = call(srv.port, "GET", "/readyz", NULL, &r);
	ck_assert_msg(st == 200 || st == 503, "readyz %d", st);
	j = cJSON_Parse(r.body);
	ck_assert_ptr_nonnull(j);
	wr = cJSON_GetObjectItem(j, "writable");
	ck_assert(wr == NULL || cJSON_IsFalse(wr));
	cJSON_Delete(j);
	http_reply_release(&r);
	fprintf(stderr, "faults: /readyz with an unwritable database: %d\n",
	    st);
	/* the limit lifted: writes work again, the file is sound */
	ck_assert_int_eq(set_fsize(srv.pid, RLIM_INFINITY), 0);
	ck_assert_int_eq(call(srv.port, "PUT", "/v1/markets/FA/depth/main",
	    "{\"side\": \"bid\", \"points\": [[10, 3], [20, 6]]}", NULL), 201);
	ck_assert_int_eq(call(srv.port, "GET", "/readyz", NULL, NULL), 200);
	stop(SIGTERM);
	check_db(db, NULL);
	free(before);
}
END_TEST

/* ---- slow and idle clients ------------------------------------------- */

#define NSLOW 500

START_TEST(slow_clients_do_not_starve)
{
	static const char trickle[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
	    "X-Slow: abcdefghijklmnopqrstuvwxyz";
	/*
	 * Every client here is 127.0.0.1, the normal one too: the per-IP
	 * limit (default 256) would refuse it outright, which is what it is
	 * for (idle_timeout_and_limits checks it).  Without it, this checks
	 * that 500 trickling connections do not starve the workers.
	 */
	static const char *const args[] = { "--threads", "2",
		"--per-ip-limit", "0", NULL };
	int *fd = malloc(NSLOW * sizeof(*fd));
	int i, sec, open_fds = 0, alive = 0;
	long long t0, dt, worst = 0;
	struct rlimit rl;

	ck_assert_ptr_nonnull(fd);
	/* 500 sockets here and 500 in the server: raise the soft limit */
	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < 2 * NSLOW + 64 && rl.rlim_max >= 2 * NSLOW + 64) {
		rl.rlim_cur = 2 * NSLOW + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	start(args);
	for (i = 0; i < NSLOW; i++) {
		fd[i] = connect_lo(srv.port);
		if (fd[i] >= 0)
			open_fds++;
	}
	ck_assert_int_ge(open_fds, NSLOW * 9 / 10);
	for (sec = 0; sec < 6; sec++) {
		for (i = 0; i < NSLOW; i++)
			if (fd[i] >= 0 && send(fd[i], trickle + sec, 1,
			    MSG_NOSIGNAL | MSG_DONTWAIT) != 1) {
				close(fd[i]);
				fd[i] = -1;
			}
		t0 = now_ms();
		ck_assert_int_eq(call(srv.port, "GET", "/healthz", NULL, NULL),
		    200);
		dt = now_ms() - t0;
		if (dt > worst)
			worst = dt;
		ck_assert_msg(dt < 3000, "a normal request took %lld ms "
		    "among %d trickling clients", dt, open_fds);
		nap(1000 - (dt < 1000 ? (long)dt : 999));
	}
	for (i = 0; i < NSLOW; i++) {
		if (fd[i] >= 0) {
			alive += !closed_within(fd[i], 0);
			close(fd[i]);
		}
	}
	fprintf(stderr, "faults: %d trickling clients, slowest /healthz "
	    "%lld ms, %d still connected after 6 s\n", open_fds, worst,
	    alive);
	free(fd);
	nap(1000);
	ck_assert_int_eq(call(srv.port, "GET", "/healthz", NULL, NULL), 200);
}
END_TEST

START_TEST(idle_timeout_and_limits)
{
	static const char *const a1[] = { "--timeout", "2", "--threads", "2",
		NULL };
	static const char *const a2[] = { "--per-ip-limit", "4", "--threads",
		"2", NULL };
	static const char *const a3[] = { "--max-connections", "20",
		"--threads", "2", NULL };
	static const char keep[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
	int fd[40], i, closed, n, served;
	long long t0;

	/* idle connections are closed after --timeout (2 s) */
	start(a1);
	for (i = 0; i < 10; i++) {
		fd[i] = connect_lo(srv.port);
		ck_assert_int_ge(fd[i], 0);
	}
	t0 = now_ms();
	for (i = 0, closed = 0; i < 10; i++)
		closed += closed_within(fd[i], (int)(t0 + 6000 - now_ms()));
	ck_assert_int_eq(closed, 10);
	ck_assert_int_ge(now_ms() - t0, 1500);
	for (i = 0; i < 10; i++)
		close(fd[i]);
	ck_assert_int_eq(call(srv.port, "GET", "/healthz", NULL, NULL), 200);
	/*
	 * A client trickling a byte a second is never idle for 2 s: MHD's
	 * timeout is an inactivity timer (HTTP-NOTES), so it outlives
	 * --timeout.  Measured and printed, not asserted: bounding the
	 * total header time is the server's to add.
	 */
	fd[0] = connect_lo(srv.port);
	ck_assert_int_ge(fd[0], 0);
	for (i = 0; i < 5 && !closed_within(fd[0], 0); i++) {
		(void)!send(fd[0], "GET /healthz" + i, 1, MSG_NOSIGNAL);
		nap(1000);
	}
	fprintf(stderr, "faults: a client trickling 1 byte/s %s after %d s "
	    "with --timeout 2\n", closed_within(fd[0], 0) ? "was closed" :
	    "is still connected", i);
	close(fd[0]);
	stop(SIGTERM);

	/* --per-ip-limit 4: the fifth connection from 127.0.0.1 is refused */
	start(a2);
	for (i = 0; i < 4; i++) {
		fd[i] = connect_lo(srv.port);
		ck_assert_int_ge(fd[i], 0);
	}
	nap(300);
	ck_assert_int_eq(call(srv.port, "GET", "/healthz", NULL, NULL), 0);
	for (i = 0; i < 4; i++)
		close(fd[i]);
	nap(300);
	ck_assert_int_eq(call(srv.port, "GET", "/healthz", NULL, NULL), 200);
	stop(SIGTERM);

	/*
	 * --max-connections 20: 40 clients each send a request; at most 20
	 * connections are served (MHD leaves the rest in the backlog or
	 * closes them), and all are served again once they leave.
	 */
	start(a3);
	for (i = 0, n = 0; i < 40; i++) {
		fd[i] = connect_lo(srv.port);
		n += fd[i] >= 0;
	}
	nap(300);
	for (i = 0; i < 40; i++)
		if (fd[i] >= 0)
			(void)!send(fd[i], keep, sizeof(keep) - 1,
			    MSG_NOSIGNAL);
	nap(1000);
	for (i = 0, served = 0; i < 40; i++)
		if (fd[i] >= 0)
			served += answered(fd[i]);
	fprintf(stderr, "faults: --max-connections 20: %d of %d served\n",
	    served, n);
	ck_assert_int_le(served, 20);
	ck_assert_int_ge(served, 1);
	for (i = 0; i < 40; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	nap(300);
	ck_assert_int_eq(call(srv.port, "GET", "/healthz", NULL, NULL), 200);
}
END_TEST

/* ---- hostile bodies -------------------------------------------------- */

/* Send raw bytes; the status of the answer, 0 when the server closed. */
static int
raw(unsigned port, const char *bytes, size_t len)
{
	struct http_reply r;
	int st;

	if (http_raw(port, bytes, len, &r, T_MS) != 0)
		return 0;
	st = r.status;
	http_reply_release(&r);
	return st;
}

/* A request sent in full, then half-closed: Content-Length lies. */
static int
truncated(unsigned port, const char *path, size_t claimed, const char *sent)
{
	char head[512];
	int fd, st = 0, n;
	char buf[4096];
	ssize_t got;
	size_t have = 0;

	fd = connect_lo(port);
	if (fd < 0)
		return -1;
	n = snprintf(head, sizeof(head), "PUT %s HTTP/1.1\r\nHost: x\r\n"
	    JSON_CT "Content-Length: %zu\r\n\r\n%s", path, claimed, sent);
	(void)!send(fd, head, (size_t)n, MSG_NOSIGNAL);
	shutdown(fd, SHUT_WR);
	/* the server may answer 400 or just close: either is fine */
	while (have < sizeof(buf) - 1 && closed_within(fd, 0) == 0) {
		struct pollfd p = { fd, POLLIN, 0 };

		if (poll(&p, 1, T_MS) != 1)
			break;
		got = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
		if (got <= 0)
			break;
		have += (size_t)got;
	}
	buf[have] = '\0';
	if (have > 12 && strncmp(buf, "HTTP/1.", 7) == 0)
		st = (int)strtol(buf + 9, NULL, 10);
	close(fd);
	return st;
}

START_TEST(hostile_bodies_change_nothing)
{
	static const char *const args[] = { "--max-body", "65536",
		"--threads", "2", NULL };
	static const struct {
		const char *method, *path, *body;
	} cases[] = {
		{ "PUT", "/v1/markets/FA", "{\"price\": 1e400}" },
		{ "PUT", "/v1/markets/FA", "{\"price\": -0}" },
		{ "PUT", "/v1/markets/FA", "{\"price\": 1e-400}" },
		{ "PUT", "/v1/markets/FA", "{\"price\": -1e400}" },
		{ "PUT", "/v1/markets/FA", "{\"volatility\": 1e400}" },
		{ "PUT", "/v1/markets/NEW", "{\"price\": \"\xff\xfe\"}" },
		{ "PUT", "/v1/markets/FA/depth/main",
		  "{\"side\": \"bid\", \"points\": [[1e400, 1]]}" },
		{ "PUT", "/v1/markets/FA/depth/main",
		  "{\"side\": \"bid\", \"points\": [[10, 1e-400]]}" },
		{ "PUT", "/v1/markets/FA/depth/main",
		  "{\"bids\": [[\"1e400\", \"1\"]], \"asks\": []}" },
		{ "PUT", "/v1/markets/FA/depth/main",
		  "{\"side\": \"bid\", \"source\": \"\xc3\x28\", "
		  "\"points\": [[10, 1]]}" },
		{ "PUT", "/v1/markets/FA/liquidations",
		  "{\"levels\": [{\"price\": 900, \"qty\": 1e400, "
		  "\"side\": \"sell\"}]}" },
		{ "PUT", "/v1/markets/FA/liquidations",
		  "{\"levels\": [{\"price\": -0, \"qty\": 1, "
		  "\"side\": \"sell\"}]}" },
		{ "POST", "/v1/markets/FA/liquidations",
		  "{\"levels\": [{\"price\": 900, \"qty\": 1, "
		  "\"side\": \"sell\"}], \"source\": \"\xed\xa0\x80\"}" },
		{ "PUT", "/v1/correlations",
		  "{\"pairs\": [[\"FA\", \"FB\", 1e400]]}" },
		{ "POST", "/v1/correlations",
		  "{\"pairs\": [[\"FA\", \"F\xff\", 0.5]]}" },
		{ "POST", "/v1/score", "{\"positions\": [{\"id\": \"\xff\", "
		  "\"type\": \"perp\", \"asset\": \"FA\", \"side\": \"long\", "
		  "\"size\": 1e400, \"entry_price\": 1000, "
		  "\"leverage\": 5}]}" },
		{ "PUT", "/v1/markets/FA", "{\"price\": 1000" },
		{ "PUT", "/v1/markets/FA", "{\"price\": 1000}}" },
		{ "PUT", "/v1/markets/FA", "" },
	};
	char *before, *after, *big, *deep;
	size_t i, n;
	int st;

	start(args);
	put_asset(srv.port, "FA", 1000);
	put_asset(srv.port, "FB", 20);
	ck_assert_int_eq(call(srv.port, "PUT", "/v1/markets/FA/liquidations",
	    "{\"levels\": [{\"price\": 900, \"qty\": 5, \"side\": \"sell\"}]}",
	    NULL), 200);
	before = get_body(srv.port, "/v1/markets");
	ck_assert_ptr_nonnull(before);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		st = call(srv.port, cases[i].method, cases[i].path,
		    cases[i].body, NULL);
		ck_assert_msg(st >= 400 && st < 500, "case %zu (%s %s): %d", i,
		    cases[i].method, cases[i].path, st);
	}
	/* oversized by Content-Length */
	big = malloc(200000);
	ck_assert_ptr_nonnull(big);
	memset(big, ' ', 200000);
	big[0] = '{';
	big[199999] = '}';
	{
		struct http_reply r;

		ck_assert_int_eq(http_request(srv.port, "PUT",
		    "/v1/markets/FA", JSON_CT, big, 200000, &r, T_MS), 0);
		ck_assert_int_eq(r.status, 413);
		http_reply_release(&r);
	}
	/* oversized, chunked without a length: 4 chunks of 30000 */
	{
		static const char head[] = "PUT /v1/markets/FA HTTP/1.1\r\n"
		    "Host: x\r\n" JSON_CT "Transfer-Encoding: chunked\r\n"
		    "Connection: close\r\n\r\n";
		size_t cap = sizeof(head) + 4 * 30020 + 16;
		char *req = malloc(cap);

		ck_assert_ptr_nonnull(req);
		n = (size_t)snprintf(req, cap, "%s", head);
		for (i = 0; i < 4; i++) {
			n += (size_t)snprintf(req + n, cap - n, "7530\r\n");
			memset(req + n, ' ', 30000);
			n += 30000;
			n += (size_t)snprintf(req + n, cap - n, "\r\n");
		}
		n += (size_t)snprintf(req + n, cap - n, "0\r\n\r\n");
		ck_assert_int_eq(raw(srv.port, req, n), 413);
		free(req);
	}
	/* nested far beyond 1000 levels, within the body cap: 400 */
	deep = malloc(60001);
	ck_assert_ptr_nonnull(deep);
	memset(deep, '[', 30000);
	memset(deep + 30000, ']', 30000);
	deep[60000] = '\0';
	ck_assert_int_eq(call(srv.port, "POST", "/v1/score", deep, NULL), 400);
	ck_assert_int_eq(call(srv.port, "PUT", "/v1/correlations", deep,
	    NULL), 400);
	memset(deep, '{', 1);
	ck_assert_int_eq(call(srv.port, "PUT", "/v1/markets/FA", deep, NULL),
	    400);
	free(deep);
	/* truncated: Content-Length 1000, 20 bytes, then EOF */
	st = truncated(srv.port, "/v1/markets/FA", 1000,
	    "{\"price\": 5000, \"vol");
	ck_assert_msg(st == 0 || (st >= 400 && st < 500), "truncated: %d", st);
	st = truncated(srv.port, "/v1/markets/FA/liquidations", 100000,
	    "{\"levels\": [");
	ck_assert_msg(st == 0 || (st >= 400 && st < 500), "truncated: %d", st);
	/* nothing changed, and the server is still up */
	ck_assert_int_eq(call(srv.port, "GET", "/healthz", NULL, NULL), 200);
	after = get_body(srv.port, "/v1/markets");
	ck_assert_ptr_nonnull(after);
	ck_assert_str_eq(before, after);
	free(after);
	free(before);
	free(big);
	ck_assert_int_eq(server_proc_stop(&srv, SIGTERM, T_MS), 0);
}
END_TEST

static Suite *
faults_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *tc;

	tc = tcase_create("crash");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, kill9_during_writes);
	tcase_add_test(tc, kill9_during_book_writes);
	suite_add_tcase(s, tc);
	tc = tcase_create("disk");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, unwritable_database);
	suite_add_tcase(s, tc);
	tc = tcase_create("clients");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, slow_clients_do_not_starve);
	tcase_add_test(tc, idle_timeout_and_limits);
	suite_add_tcase(s, tc);
	tc = tcase_create("bodies");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, hostile_bodies_change_nothing);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(faults_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

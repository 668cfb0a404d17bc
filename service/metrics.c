/*
 * metrics.c - lock-free counters and the Prometheus text rendering.
 *
 * Storage is static and fixed: requests[route][method][status] counters,
 * one duration histogram per route, one scoring histogram per method.
 * Increments are relaxed atomics (a scrape may see a request in the
 * counter a moment before it shows in the histogram; Prometheus tolerates
 * that).  A histogram's _count is the sum of its buckets as read, so
 * +Inf and _count always agree within one scrape.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define NBUCKETS 16	/* the last is +Inf */

static const double bucket_le[NBUCKETS - 1] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10, 30
};

static const char *const method_names[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "other"
};
#define NMETHODS (sizeof(method_names) / sizeof(method_names[0]))

static const int status_codes[] = {
	200, 201, 204, 304, 400, 401, 403, 404, 405, 408, 409, 413, 415, 422,
	429, 500, 503
};
#define NSTATUS_KNOWN (sizeof(status_codes) / sizeof(status_codes[0]))
/* then one "other" slot per class: 1xx..5xx, and 0 (no answer) */
#define NSTATUS (NSTATUS_KNOWN + 6)

struct histogram {
	atomic_ullong bucket[NBUCKETS];
	atomic_ullong sum_us;
};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
/* route 0 is "unmatched"; published count read with acquire */
static const char *route_names[METRICS_MAX_ROUTES] = { "unmatched" };
static atomic_int nroutes = 1;

static atomic_ullong requests[METRICS_MAX_ROUTES][NMETHODS][NSTATUS];
static struct histogram route_hist[METRICS_MAX_ROUTES];
static struct histogram score_hist[2];
static atomic_llong in_flight;
static atomic_ullong db_write_failures;

int
metrics_route_id(const char *pattern)
{
	int i, n, id = 0;

	if (pattern == NULL)
		return 0;
	pthread_mutex_lock(&reg_mu);
	n = atomic_load(&nroutes);
	for (i = 1; i < n; i++) {
		if (strcmp(route_names[i], pattern) == 0) {
			id = i;
			goto out;
		}
	}
	if (n < METRICS_MAX_ROUTES) {
		route_names[n] = pattern;
		atomic_store(&nroutes, n + 1);
		id = n;
	}
out:
	pthread_mutex_unlock(&reg_mu);
	return id;
}

static size_t
method_index(const char *m)
{
	size_t i;

	if (m != NULL)
		for (i = 0; i + 1 < NMETHODS; i++)
			if (strcmp(m, method_names[i]) == 0)
				return i;
	return NMETHODS - 1;
}

static size_t
status_index(int status)
{
	size_t i;

	for (i = 0; i < NSTATUS_KNOWN; i++)
		if (status_codes[i] == status)
			return i;
	if (status >= 100 && status <= 599)
		return NSTATUS_KNOWN + (size_t)(status / 100) - 1;
	return NSTATUS - 1;
}

static void
status_label(size_t i, char *buf, size_t cap)
{
	if (i < NSTATUS_KNOWN)
		snprintf(buf, cap, "%d", status_codes[i]);
	else if (i < NSTATUS - 1)
		snprintf(buf, cap, "%zuxx", i - NSTATUS_KNOWN + 1);
	else
		snprintf(buf, cap, "0");
}

static void
observe(struct histogram *h, int64_t us)
{
	double s;
	size_t b;

	if (us < 0)
		us = 0;
	s = (double)us / 1e6;
	for (b = 0; b < NBUCKETS - 1; b++)
		if (s <= bucket_le[b])
			break;
	atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_us, (unsigned long long)us,
	    memory_order_relaxed);
}

void
metrics_request_begin(void)
{
	atomic_fetch_add_explicit(&in_flight, 1, memory_order_relaxed);
}

void
metrics_request_end(int route_id, const char *method, int status,
    int64_t duration_us)
{
	if (route_id < 0 || route_id >= METRICS_MAX_ROUTES)
		route_id = 0;
	atomic_fetch_add_explicit(&requests[route_id][method_index(method)]
	    [status_index(status)], 1, memory_order_relaxed);
	observe(&route_hist[route_id], duration_us);
	atomic_fetch_sub_explicit(&in_flight, 1, memory_order_relaxed);
}

void
metrics_score_observe(int monte_carlo, int64_t duration_us)
{
	observe(&score_hist[monte_carlo ? 1 : 0], duration_us);
}

void
metrics_db_write_failed(void)
{
	atomic_fetch_add_explicit(&db_write_failures, 1,
	    memory_order_relaxed);
}

void
metrics_reset(void)
{
	size_t r, m, s, b;

	for (r = 0; r < METRICS_MAX_ROUTES; r++) {
		for (m = 0; m < NMETHODS; m++)
			for (s = 0; s < NSTATUS; s++)
				atomic_store(&requests[r][m][s], 0);
		for (b = 0; b < NBUCKETS; b++)
			atomic_store(&route_hist[r].bucket[b], 0);
		atomic_store(&route_hist[r].sum_us, 0);
	}
	for (r = 0; r < 2; r++) {
		for (b = 0; b < NBUCKETS; b++)
			atomic_store(&score_hist[r].bucket[b], 0);
		atomic_store(&score_hist[r].sum_us, 0);
	}
	atomic_store(&in_flight, 0);
	atomic_store(&db_write_failures, 0);
}

/* --- rendering ------------------------------------------------------- */

void
metrics_put_label(FILE *f, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', f);
		if (*v == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*v, f);
	}
}

/* Shortest text that reads back as v (0.0005, not 0.00050000000000000001). */
static void
put_double(FILE *f, double v)
{
	char buf[40];
	int prec;

	for (prec = 1; prec < 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	snprintf(buf, sizeof(buf), "%.*g", prec, v);
	fputs(buf, f);
}

/*
 * One histogram's series; `labels` is 'name="value"' text (escaped by the
 * caller) or "".
 */
static void
put_histogram(FILE *f, const char *name, const char *labels,
    const struct histogram *h)
{
	unsigned long long cum = 0, v;
	size_t b;

	for (b = 0; b < NBUCKETS; b++) {
		v = atomic_load_explicit(&((struct histogram *)(uintptr_t)h)->
		    bucket[b], memory_order_relaxed);
		cum += v;
		fprintf(f, "%s_bucket{%s%sle=\"", name, labels,
		    labels[0] ? "," : "");
		if (b < NBUCKETS - 1)
			put_double(f, bucket_le[b]);
		else
			fputs("+Inf", f);
		fprintf(f, "\"} %llu\n", cum);
	}
	fprintf(f, "%s_sum%s%s%s ", name, labels[0] ? "{" : "", labels,
	    labels[0] ? "}" : "");
	put_double(f, (double)atomic_load_explicit(&((struct histogram *)
	    (uintptr_t)h)->sum_us, memory_order_relaxed) / 1e6);
	fprintf(f, "\n%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "",
	    labels, labels[0] ? "}" : "", cum);
}

static unsigned long long
hist_total(const struct histogram *h)
{
	unsigned long long n = 0;
	size_t b;

	for (b = 0; b < NBUCKETS; b++)
		n += atomic_load_explicit(&((struct histogram *)(uintptr_t)h)->
		    bucket[b], memory_order_relaxed);
	return n;
}

static void
render_http(FILE *f)
{
	int r, n = atomic_load(&nroutes);
	size_t m, s;
	unsigned long long v;
	char st[8], lab[256];
	FILE *lf;

	fputs("# HELP cascaded_http_requests_total HTTP requests answered, by "
	    "route template, method and status.\n"
	    "# TYPE cascaded_http_requests_total counter\n", f);
	for (r = 0; r < n; r++)
		for (m = 0; m < NMETHODS; m++)
			for (s = 0; s < NSTATUS; s++) {
				v = atomic_load_explicit(&requests[r][m][s],
				    memory_order_relaxed);
				if (v == 0)
					continue;
				status_label(s, st, sizeof(st));
				fputs("cascaded_http_requests_total{route=\"",
				    f);
				metrics_put_label(f, route_names[r]);
				fprintf(f, "\",method=\"%s\",status=\"%s\"} "
				    "%llu\n", method_names[m], st, v);
			}
	fputs("# HELP cascaded_http_request_duration_seconds Time from the "
	    "request headers to the end of the answer, by route template.\n"
	    "# TYPE cascaded_http_request_duration_seconds histogram\n", f);
	for (r = 0; r < n; r++) {
		if (hist_total(&route_hist[r]) == 0)
			continue;
		lf = fmemopen(lab, sizeof(lab), "w");
		if (lf == NULL)
			continue;
		fputs("route=\"", lf);
		metrics_put_label(lf, route_names[r]);
		fputs("\"", lf);
		fputc('\0', lf);
		fclose(lf);
		lab[sizeof(lab) - 1] = '\0';
		put_histogram(f, "cascaded_http_request_duration_seconds",
		    lab, &route_hist[r]);
	}
	fprintf(f, "# HELP cascaded_http_requests_in_flight Requests being "
	    "read, computed or answered.\n"
	    "# TYPE cascaded_http_requests_in_flight gauge\n"
	    "cascaded_http_requests_in_flight %lld\n",
	    (long long)atomic_load(&in_flight));
}

char *
metrics_render(metrics_extra_fn extra, void *cls)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (f == NULL)
		return NULL;
	render_http(f);
	fputs("# HELP cascaded_score_duration_seconds Scoring time (model and "
	    "encoding) by method.\n"
	    "# TYPE cascaded_score_duration_seconds histogram\n", f);
	put_histogram(f, "cascaded_score_duration_seconds",
	    "method=\"exact\"", &score_hist[0]);
	put_histogram(f, "cascaded_score_duration_seconds",
	    "method=\"monte_carlo\"", &score_hist[1]);
	fprintf(f, "# HELP cascaded_db_write_failures_total Market-data "
	    "writes the database refused or failed.\n"
	    "# TYPE cascaded_db_write_failures_total counter\n"
	    "cascaded_db_write_failures_total %llu\n",
	    (unsigned long long)atomic_load(&db_write_failures));
	if (extra != NULL)
		extra(f, cls);
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return NULL;
	}
	fclose(f);
	return buf;
}

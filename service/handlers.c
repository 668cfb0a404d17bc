/*
 * handlers.c - the answer of a use case as an HTTP response (handlers.h),
 * shared by every handlers_*.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"

void
handlers_respond(struct api_answer *a, struct server_response *res,
    const char *instance)
{
	char buf[32];

	if (a->status >= 400 || (a->status != 304 && a->body == NULL)) {
		if (a->err.status == 0)
			problem_set(&a->err, 500, "internal",
			    "Internal server error", "no answer");
		server_respond_problem(res, &a->err, instance);
		if (a->retry_after > 0) {
			snprintf(buf, sizeof(buf), "%d", a->retry_after);
			server_add_header(res, "Retry-After", buf);
		}
		goto out;
	}
	if (a->status == 304) {
		server_respond(res, 304, NULL, NULL, 0);
	} else {
		server_respond(res, a->status,
		    a->content_type != NULL ? a->content_type
		                            : "application/json",
		    a->body, strlen(a->body));
		a->body = NULL;
		if (a->location[0] != '\0')
			server_add_header(res, "Location", a->location);
	}
	if (a->etag[0] != '\0') {
		server_add_header(res, "ETag", a->etag);
		server_add_header(res, "Cache-Control", "no-cache");
	}
out:
	api_answer_release(a);
}

/* ---- the query string as parameters --------------------------------- */

struct query {
	struct api_param *p;
	size_t n, cap;
	int oom;
};

static int
query_add(void *cls, const char *name, const char *value)
{
	struct query *q = cls;
	struct api_param *p;
	size_t cap;

	if (q->n == q->cap) {
		cap = q->cap > 0 ? 2 * q->cap : 8;
		p = realloc(q->p, cap * sizeof(*p));
		if (p == NULL) {
			q->oom = 1;
			return 1;
		}
		q->p = p;
		q->cap = cap;
	}
	q->p[q->n].name = name;
	q->p[q->n].value = value;
	q->n++;
	return 0;
}

int
handlers_query(struct server_request *req, struct api_param **p, size_t *n)
{
	struct query q = { NULL, 0, 0, 0 };

	server_query_each(req, query_add, &q);
	if (q.oom) {
		free(q.p);
		q.p = NULL;
		q.n = 0;
	}
	*p = q.p;
	*n = q.n;
	return q.oom ? -1 : 0;
}

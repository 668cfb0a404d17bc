/*
 * handlers_charts.c - the pictures of docs/model.md section 10 over HTTP
 * (api_charts.c draws them):
 *
 *   GET  /v1/markets/{asset}/cascade.svg       the cascade curve
 *   GET  /v1/markets/{asset}/liquidations.svg  the liquidation map
 *   GET  /v1/books/{book}/risk.svg             the book under a shock
 *   POST /v1/score, Accept: image/svg+xml      a position's picture
 *   GET  /v1/markets/{asset}/cascade, Accept: image/svg+xml  cascade.svg
 *   GET  /v1/books/{book}/risk, Accept: image/svg+xml        risk.svg
 *
 * The position picture and the book risk chart run on the compute pool
 * (one scores the request once per horizon, the other the book at every
 * shock).  The last three are negotiated: handlers_score.c,
 * handlers_markets.c and handlers_books.c ask handlers_wants_svg() and
 * hand the request to the functions here.  The
 * query string goes to the use case as a list in request order; the
 * answer is the SVG (ETag, 304 with If-None-Match) or a problem+json.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "handlers.h"
#include "server.h"

/* ---- Accept --------------------------------------------------------- */

/* q of one media range "type/sub;q=0.5" (1 when absent, 0 bad). */
static double
range_q(const char *p, const char *end)
{
	const char *q;

	for (q = p; q + 2 < end; q++)
		if (*q == ';') {
			const char *r = q + 1;

			while (r < end && isspace((unsigned char)*r))
				r++;
			if (end - r >= 2 && (r[0] == 'q' || r[0] == 'Q') &&
			    r[1] == '=')
				return strtod(r + 2, NULL);
		}
	return 1;
}

/* The media range at p (up to ';', ',' or end) is `type`. */
static int
range_is(const char *p, const char *end, const char *type)
{
	size_t n = 0, tl = strlen(type);

	while (p < end && isspace((unsigned char)*p))
		p++;
	while (p + n < end && p[n] != ';' && p[n] != ',' &&
	    !isspace((unsigned char)p[n]))
		n++;
	return n == tl && strncasecmp(p, type, n) == 0;
}

int
handlers_wants_svg(const char *accept)
{
	const char *p = accept, *end;
	double q_svg = 0, q_json = 0, q;
	int svg_first = 0, seen_json = 0;

	if (accept == NULL)
		return 0;
	while (*p != '\0') {
		end = strchr(p, ',');
		if (end == NULL)
			end = p + strlen(p);
		q = range_q(p, end);
		if (range_is(p, end, "image/svg+xml")) {
			if (q > q_svg)
				q_svg = q;
			if (!seen_json)
				svg_first = 1;
		} else if (range_is(p, end, "application/json") ||
		    range_is(p, end, "application/*") ||
		    range_is(p, end, "*/*")) {
			if (q > q_json)
				q_json = q;
			seen_json = 1;
		}
		p = *end == ',' ? end + 1 : end;
	}
	return q_svg > 0 && (q_svg > q_json || (q_svg == q_json && svg_first));
}

enum chart_kind { K_CASCADE, K_LIQ };

/* One chart request: query, use case, response. */
static void
chart(struct server_request *req, struct server_response *res,
    enum chart_kind kind)
{
	struct api_answer a;
	struct api_param *p;
	size_t n;
	const char *inm = server_header(req, "If-None-Match");
	const char *asset = server_param(req, "asset");

	api_answer_init(&a);
	if (handlers_query(req, &p, &n) != 0) {
		server_respond_error(res, 503, "unavailable", "out of memory");
		api_answer_release(&a);
		goto out;
	}
	if (kind == K_CASCADE)
		api_get_cascade_svg(req->app, asset, p, n, inm, &a);
	else
		api_get_liquidations_svg(req->app, asset, p, n, inm, &a);
	handlers_respond(&a, res, a.status == 422 ? req->path : NULL);
out:
	free(p);
}

void
handlers_cascade_svg(struct server_request *req, struct server_response *res)
{
	chart(req, res, K_CASCADE);
}

static void
liquidations_svg(struct server_request *req, struct server_response *res)
{
	chart(req, res, K_LIQ);
}

/*
 * The position picture scores the request once per horizon, the book
 * risk chart evaluates the book at every shock: both run on the compute
 * pool (server_defer), never on the polling thread, with a copy of what
 * they need from the request (body, query, If-None-Match, the book and
 * the path) in one block.
 */
struct picture_job {
	void *app;
	char *body;		/* into blob */
	size_t body_len;
	char *inm;		/* into blob; NULL absent */
	char *book;		/* into blob; NULL: the position picture */
	char *path;		/* into blob: the problem's instance */
	struct api_param *p;	/* names and values into blob */
	size_t n;
	char blob[];
};

static void
picture_work(void *arg, unsigned threads, struct server_response *res)
{
	struct picture_job *j = arg;
	struct api_answer a;

	(void)threads; /* the answer does not depend on it */
	api_answer_init(&a);
	if (j->book != NULL) {
		api_get_book_risk_svg(j->app, j->book, j->p, j->n, j->inm, &a);
		handlers_respond(&a, res, a.status == 422 ? j->path : NULL);
		return;
	}
	api_score_svg(j->app, j->body, j->body_len, j->p, j->n, j->inm, &a);
	handlers_respond(&a, res, "/v1/score");
}

static void
picture_free(void *arg)
{
	free(arg);
}

/* Append s (NUL included) at *w; its copy. */
static char *
put_str(char **w, const char *s, size_t len)
{
	char *c = *w;

	memcpy(c, s, len);
	c[len] = '\0';
	*w += len + 1;
	return c;
}

/* The job of the request (book: the book risk chart's, else NULL). */
static void
defer_picture(struct server_request *req, struct server_response *res,
    const char *book)
{
	const char *inm = server_header(req, "If-None-Match");
	struct picture_job *j = NULL;
	struct api_param *p = NULL;
	size_t n = 0, k, size;
	char *w;

	if (handlers_query(req, &p, &n) != 0)
		goto oom;
	size = req->body_len + 1 + (inm != NULL ? strlen(inm) + 1 : 0) +
	    (book != NULL ? strlen(book) + strlen(req->path) + 2 : 0) +
	    n * sizeof(struct api_param) + sizeof(struct api_param);
	for (k = 0; k < n; k++)
		size += strlen(p[k].name) + strlen(p[k].value) + 2;
	j = malloc(sizeof(*j) + size);
	if (j == NULL)
		goto oom;
	/* the parameters first: the blob is aligned for them */
	j->p = (struct api_param *)(void *)j->blob;
	j->n = n;
	w = j->blob + (n + 1) * sizeof(struct api_param);
	for (k = 0; k < n; k++) {
		j->p[k].name = put_str(&w, p[k].name, strlen(p[k].name));
		j->p[k].value = put_str(&w, p[k].value, strlen(p[k].value));
	}
	j->app = req->app;
	j->body_len = req->body_len;
	j->body = put_str(&w, req->body != NULL ? req->body : "",
	    req->body_len);
	j->inm = inm != NULL ? put_str(&w, inm, strlen(inm)) : NULL;
	j->book = book != NULL ? put_str(&w, book, strlen(book)) : NULL;
	j->path = book != NULL ? put_str(&w, req->path, strlen(req->path))
	                       : NULL;
	free(p);
	/* on failure the server has answered (503) and freed the job */
	server_defer(req, res, picture_work, picture_free, j);
	return;
oom:
	free(p);
	server_respond_error(res, 503, "unavailable", "out of memory");
}

void
handlers_score_svg(struct server_request *req, struct server_response *res)
{
	defer_picture(req, res, NULL);
}

void
handlers_book_risk_svg(struct server_request *req,
    struct server_response *res)
{
	const char *book = server_param(req, "book");

	defer_picture(req, res, book != NULL ? book : "");
}

const struct server_route handlers_chart_routes[] = {
	{ "GET", "/v1/markets/{asset}/cascade.svg", handlers_cascade_svg, 0 },
	{ "GET", "/v1/markets/{asset}/liquidations.svg", liquidations_svg,
	    0 },
	{ "GET", "/v1/books/{book}/risk.svg", handlers_book_risk_svg, 0 },
};
const size_t handlers_chart_nroutes =
    sizeof(handlers_chart_routes) / sizeof(handlers_chart_routes[0]);

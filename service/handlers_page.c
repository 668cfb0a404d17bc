/*
 * handlers_page.c - the page at / (docs/model.md section 10): plain HTML,
 * CSS and JavaScript under web/, compiled into the binary by web/web.mk
 * (as docs/openapi.mk does for /openapi.json), served as they are:
 *
 *   GET /          web/index.html
 *   GET /app.js    web/app.js
 *   GET /app.css   web/app.css
 *   GET /favicon.svg  web/favicon.svg
 *
 * The page uses the API of the same origin only, so every answer carries
 * a Content-Security-Policy that forbids everything else (no inline
 * script or style, no other origin, no frames, no forms posted), with
 * X-Content-Type-Options: nosniff.  The files are referenced weakly: a
 * build without web/web.mk still links and / answers 404.  The page
 * offers no write and holds no secret.
 */
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "handlers.h"
#include "server.h"

/* Defined in build/gen/web.c (web/web.mk); may be absent. */
extern const struct embed_file embed_web[] __attribute__((weak));

#define PAGE_CSP                                                              \
	"default-src 'none'; script-src 'self'; style-src 'self'; "           \
	"img-src 'self' blob:; connect-src 'self'; base-uri 'none'; "         \
	"form-action 'none'; frame-ancestors 'none'"

static void
serve(struct server_response *res, const char *name, const char *type)
{
	const struct embed_file *f;
	char *body;

	for (f = embed_web; f != NULL && f->name != NULL; f++)
		if (strcmp(f->name, name) == 0)
			break;
	if (f == NULL || f->name == NULL) {
		server_respond_error(res, 404, "not-found",
		    "this build does not embed web/%s (include web/web.mk in "
		    "the Makefile)", name);
		return;
	}
	body = malloc(f->len + 1);
	if (body == NULL) {
		server_respond_error(res, 503, "unavailable", "out of memory");
		return;
	}
	memcpy(body, f->data, f->len + 1);
	server_respond(res, 200, type, body, f->len);
	server_add_header(res, "Content-Security-Policy", PAGE_CSP);
	server_add_header(res, "X-Content-Type-Options", "nosniff");
	server_add_header(res, "Referrer-Policy", "no-referrer");
	server_add_header(res, "Cache-Control", "no-cache");
}

static void
index_html(struct server_request *req, struct server_response *res)
{
	(void)req;
	serve(res, "index.html", "text/html; charset=utf-8");
}

static void
app_js(struct server_request *req, struct server_response *res)
{
	(void)req;
	serve(res, "app.js", "text/javascript; charset=utf-8");
}

static void
app_css(struct server_request *req, struct server_response *res)
{
	(void)req;
	serve(res, "app.css", "text/css; charset=utf-8");
}

static void
favicon(struct server_request *req, struct server_response *res)
{
	(void)req;
	serve(res, "favicon.svg", "image/svg+xml");
}

const struct server_route handlers_page_routes[] = {
	{ "GET", "/", index_html, 0 },
	{ "GET", "/app.js", app_js, 0 },
	{ "GET", "/app.css", app_css, 0 },
	{ "GET", "/favicon.svg", favicon, 0 },
};
const size_t handlers_page_nroutes =
    sizeof(handlers_page_routes) / sizeof(handlers_page_routes[0]);

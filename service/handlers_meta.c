/*
 * handlers_meta.c - GET /openapi.json: the OpenAPI 3.1 description of this
 * API (docs/openapi.json), compiled into the binary by docs/openapi.mk.
 *
 * The document is referenced weakly: a build that does not include
 * docs/openapi.mk still links, and the endpoint then answers 404 with a
 * problem saying the document was not built in.
 */
#include <stddef.h>

#include "embed.h"
#include "handlers.h"
#include "server.h"

/* Defined in build/gen/openapi.c (docs/openapi.mk); may be absent. */
extern const struct embed_file embed_openapi __attribute__((weak));

static void
get_openapi(struct server_request *req, struct server_response *res)
{
	const struct embed_file *f = &embed_openapi;

	(void)req;
	if (f == NULL || f->data == NULL || f->len == 0) {
		server_respond_error(res, 404, "not-found",
		    "this build does "
		    "not embed docs/openapi.json (include docs/openapi.mk in "
		    "the Makefile)");
		return;
	}
	server_respond_json(res, 200, (const char *)f->data);
}

const struct server_route handlers_meta_routes[] = {
	{ "GET", "/openapi.json", get_openapi, 0 },
};
const size_t handlers_meta_nroutes =
    sizeof(handlers_meta_routes) / sizeof(handlers_meta_routes[0]);

/*
 * health.h - operational endpoints: GET /healthz (the process answers),
 * GET /readyz (database open and migrated, not draining; else 503 with
 * Retry-After), GET /version.  Handlers expect req->app to be a struct app.
 */
#ifndef CASCADED_HEALTH_H
#define CASCADED_HEALTH_H

#include <stddef.h>

#include "server.h"

extern const struct server_route health_routes[];
extern const size_t health_nroutes;

#endif

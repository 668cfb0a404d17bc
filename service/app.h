/*
 * app.h - the application state main.c builds and every handler receives
 * as req->app: configuration, the store, the server, the market snapshot
 * and its writer (api.h).  Only main.c creates and destroys it (the CLI
 * and the fuzz targets build their own, without a server).
 */
#ifndef CASCADED_APP_H
#define CASCADED_APP_H

#include "config.h"
#include "snapshot.h"
#include "store.h"

struct api_hooks;
struct api_relay;
struct api_writer;
struct bus;
struct server;

struct app {
	const struct config *cfg;
	struct store *store;		/* NULL when the database is closed */
	struct server *srv;		/* NULL outside `serve` */
	void *ext;			/* reserved for later modules */
	/* api.h: api_app_init() sets both, api_app_release() clears */
	struct snapshot_cell *cell;	/* the current market snapshot */
	struct api_writer *writer;	/* serialises market writes */
	const struct api_hooks *hooks;	/* observers of the use cases */
	/* api.h: the bus (bus.c) sets it; NULL: writes go to the store */
	const struct api_relay *relay;
	struct bus *bus;		/* bus.h: NULL without --bus */
};

#endif

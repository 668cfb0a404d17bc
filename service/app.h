/*
 * app.h - the application state main.c builds and every handler receives
 * as req->app: configuration, the store, the server.  Later modules
 * (snapshot cell, compute pool, metrics) add their members here; only
 * main.c creates and destroys it.
 */
#ifndef CASCADED_APP_H
#define CASCADED_APP_H

#include "config.h"
#include "server.h"
#include "snapshot.h"
#include "store.h"

struct api_writer;

struct app {
	const struct config *cfg;
	struct store *store;		/* NULL when the database is closed */
	struct server *srv;
	void *ext;			/* reserved for later modules */
	/* handlers.h: handlers_app_init() sets both, _release() clears */
	struct snapshot_cell *cell;	/* the current market snapshot */
	struct api_writer *writer;	/* serialises market writes */
};

#endif

/* app_fixture.c - see app_fixture.h. */
#include <string.h>

#include "api.h"
#include "app.h"
#include "app_fixture.h"
#include "config.h"
#include "store.h"
#include "store_fixture.h"
#include "testlib.h"

int
app_fixture_setup(struct app *app, struct config *cfg, char **dir, char *db,
    size_t cap, const char *name, char **err)
{
	struct store *st;

	config_init(cfg);
	st = store_fixture_open(dir, db, cap, name, err);
	if (st == NULL)
		return -1;
	store_close(st);
	return app_fixture_open(app, cfg, db, err);
}

int
app_fixture_open(struct app *app, struct config *cfg, const char *db,
    char **err)
{
	*err = NULL;
	memset(app, 0, sizeof(*app));
	app->cfg = cfg;
	app->store = store_open(db, err);
	if (app->store == NULL)
		return -1;
	return api_app_init(app) == 0 ? 0 : -1;
}

void
app_fixture_close(struct app *app)
{
	api_app_release(app);
	store_close(app->store);
	app->store = NULL;
}

void
app_fixture_teardown(struct app *app, struct config *cfg, char **dir)
{
	app_fixture_close(app);
	config_release(cfg);
	tmpdir_free(*dir);
	*dir = NULL;
}

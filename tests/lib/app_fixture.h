/*
 * app_fixture.h - the in-process service of the api suites: a struct app
 * over a fresh migrated database in a temporary directory (store_fixture.h),
 * opened and closed as a restart would.
 *
 * Ownership: the caller's app, cfg, *dir and db buffer (cap bytes);
 * *err, when set, is malloc'd by store_open and the caller's to free.
 */
#ifndef CASCADED_APP_FIXTURE_H
#define CASCADED_APP_FIXTURE_H

#include <stddef.h>

struct app;
struct config;

/*
 * config_init(cfg), a new temporary directory in *dir with db =
 * <dir>/<name> created and migrated, and app opened on it
 * (app_fixture_open).  0, or -1 with *err possibly set.
 */
int app_fixture_setup(struct app *app, struct config *cfg, char **dir,
    char *db, size_t cap, const char *name, char **err);
/* app zeroed, app->cfg = cfg, the store at db opened, api_app_init. */
int app_fixture_open(struct app *app, struct config *cfg, const char *db,
    char **err);
/* api_app_release and the store closed (app->store NULL). */
void app_fixture_close(struct app *app);
/* app_fixture_close, config_release(cfg), *dir removed (NULL). */
void app_fixture_teardown(struct app *app, struct config *cfg, char **dir);

#endif

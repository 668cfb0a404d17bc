/*
 * store_prices.c - the price-history table (store_prices.h).  Writes run
 * in one BEGIN IMMEDIATE transaction under the store's lock
 * (store_tx_begin / store_tx_end of store.c): the asset check, one
 * prepared upsert stepped per candle, the retention DELETE and the
 * volatility-source UPDATE.  A million candles are one transaction of
 * prepared steps (no statement per row is compiled).
 */
#include <stdio.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "store_prices.h"

#define DAY_SECONDS 86400.0

static int
upsert(sqlite3 *db, const char *asset, const struct lc_candle *c, size_t n)
{
	sqlite3_stmt *s = NULL;
	size_t i;
	int rc;

	rc = store_prepare_text(db, "INSERT INTO prices (asset, t, open, high, "
	    "low, close) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (asset, "
	    "t) DO UPDATE SET open = excluded.open, high = excluded.high, "
	    "low = excluded.low, close = excluded.close", asset, NULL, &s);
	for (i = 0; i < n && rc == SQLITE_OK; i++) {
		sqlite3_bind_int64(s, 2, c[i].t);
		sqlite3_bind_double(s, 3, c[i].open);
		sqlite3_bind_double(s, 4, c[i].high);
		sqlite3_bind_double(s, 5, c[i].low);
		sqlite3_bind_double(s, 6, c[i].close);
		rc = sqlite3_step(s);
		sqlite3_reset(s);
		if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

/* Delete what is older than the last t minus `days`; the count in *n. */
static int
retain(sqlite3 *db, const char *asset, double days, size_t *n)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = store_prepare_text(db, "DELETE FROM prices WHERE asset = ?1 AND "
	    "t < (SELECT max(t) FROM prices WHERE asset = ?1) - ?2", asset,
	    NULL, &s);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(s, 2, (sqlite3_int64)(days *
		    DAY_SECONDS));
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		rc = SQLITE_OK;
		*n = (size_t)sqlite3_changes(db);
	}
	sqlite3_finalize(s);
	return rc;
}

enum store_status
store_put_prices(struct store *st, const char *asset,
    const struct lc_candle *c, size_t n, double retention_days, int src,
    size_t *deleted)
{
	sqlite3 *db;
	size_t gone = 0;
	int rc;

	if (deleted != NULL)
		*deleted = 0;
	if (st == NULL)
		return STORE_IO;
	db = store_tx_begin(st, &rc);
	if (rc == SQLITE_OK)
		rc = store_asset_check_locked(db, asset);
	if (rc == SQLITE_OK)
		rc = upsert(db, asset, c, n);
	if (rc == SQLITE_OK && retention_days > 0)
		rc = retain(db, asset, retention_days, &gone);
	if (rc == SQLITE_OK && src != STORE_SRC_KEEP)
		rc = store_set_source_locked(db, asset, src);
	if (rc == SQLITE_OK && deleted != NULL)
		*deleted = gone;
	return store_tx_end(st, rc, "put_prices");
}

enum store_status
store_get_prices(struct store *st, const char *asset, int64_t from,
    int64_t to, size_t limit, struct lc_candle **out, size_t *n)
{
	sqlite3 *db;
	sqlite3_stmt *s = NULL;
	struct lc_candle *v = NULL, *nv;
	size_t cap = 0, k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return STORE_IO;
	db = store_read_begin(st);
	if (db == NULL)
		return STORE_IO;
	rc = store_asset_check_locked(db, asset);
	if (rc != SQLITE_OK)
		goto out;
	rc = store_prepare_text(db, "SELECT t, open, high, low, close FROM "
	    "prices WHERE asset = ?1 AND t >= ?2 AND t <= ?3 ORDER BY t "
	    "LIMIT ?4", asset, NULL, &s);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(s, 2, from);
	sqlite3_bind_int64(s, 3, to);
	sqlite3_bind_int64(s, 4, limit > 0 ? (sqlite3_int64)limit : -1);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (k == cap) {
			cap = cap > 0 ? 2 * cap : 1024;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = SQLITE_NOMEM;
				goto out;
			}
			v = nv;
		}
		v[k].t = sqlite3_column_int64(s, 0);
		v[k].open = sqlite3_column_double(s, 1);
		v[k].high = sqlite3_column_double(s, 2);
		v[k].low = sqlite3_column_double(s, 3);
		v[k].close = sqlite3_column_double(s, 4);
		k++;
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
out:
	sqlite3_finalize(s);
	if (rc != SQLITE_OK) {
		free(v);
		v = NULL;
		k = 0;
	}
	*out = v;
	*n = k;
	if (rc == -1) {
		store_read_end(st, SQLITE_OK);
		return STORE_NOT_FOUND;
	}
	return store_read_end(st, rc);
}

enum store_status
store_price_assets(struct store *st, char (**out)[MD_SYMBOL_MAX + 1],
    size_t *n)
{
	sqlite3 *db;
	sqlite3_stmt *s = NULL;
	char (*v)[MD_SYMBOL_MAX + 1] = NULL, (*nv)[MD_SYMBOL_MAX + 1];
	size_t cap = 0, k = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (st == NULL || (db = store_read_begin(st)) == NULL)
		return STORE_IO;
	rc = sqlite3_prepare_v2(db, "SELECT DISTINCT asset FROM prices ORDER "
	    "BY asset", -1, &s, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (k == cap) {
			cap = cap > 0 ? 2 * cap : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (nv == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			v = nv;
		}
		snprintf(v[k], sizeof(v[k]), "%s",
		    (const char *)sqlite3_column_text(s, 0));
		k++;
		rc = SQLITE_OK;
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(s);
	if (rc != SQLITE_OK) {
		free(v);
		v = NULL;
		k = 0;
	}
	*out = v;
	*n = k;
	return store_read_end(st, rc);
}

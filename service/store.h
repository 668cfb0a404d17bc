/*
 * store.h - the SQLite market-data store (docs/model.md section 1).
 *
 * One connection, used by one thread at a time (an internal mutex
 * serialises callers), opened in WAL mode with a busy timeout and foreign
 * keys on.  store_open() applies the embedded migrations (each in its own
 * transaction, PRAGMA user_version bumped inside it) and refuses a
 * database written by a newer binary.  Every write is one BEGIN IMMEDIATE
 * transaction: it either applies whole or leaves the old data untouched.
 *
 * Ownership: inputs are borrowed; store_load() (and store_load_asset())
 * fills a caller-owned struct
 * market_data (release it with market_data_release()).  Strings passed in
 * are NUL-terminated; symbols are at most MD_SYMBOL_MAX bytes, venues
 * MD_VENUE_MAX, times MD_TIME_MAX - 1, sources MD_SOURCE_MAX.
 */
#ifndef CASCADED_STORE_H
#define CASCADED_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "marketdata.h"

struct store;

enum store_status {
	STORE_OK = 0,
	STORE_NOT_FOUND,	/* the asset (or venue) does not exist: 404 */
	STORE_CONSTRAINT,	/* data breaks a constraint: 422 */
	STORE_BUSY,		/* locked beyond the busy timeout: 503 */
	STORE_READONLY,		/* read-only file or file system: 503 */
	STORE_IO,		/* I/O error, disk full, closed store: 503 */
	STORE_NOMEM,		/* out of memory: 503 */
	STORE_TOO_NEW,		/* schema newer than this binary */
	STORE_ERROR		/* anything else (a bug): 500 */
};

const char *store_status_str(enum store_status st);
/* HTTP status an API answer should use for st (200 for STORE_OK). */
int store_status_http(enum store_status st);

/*
 * Open (creating if needed) and migrate.  NULL on failure with *err set to
 * a malloc'd message (free it).  A schema newer than the binary is refused.
 */
struct store *store_open(const char *path, char **err);
/* Close; NULL is a no-op. */
void store_close(struct store *st);
/* 1 when the database is open and at the binary's schema version. */
int store_ready(struct store *st);
/* PRAGMA user_version of the open database (-1 on error). */
int store_schema_version(struct store *st);
/* Number of migrations compiled into the binary. */
int store_migration_count(void);

/*
 * Load everything: assets by symbol, their curves by venue then side,
 * their levels by insertion order (seq) in the packed form (md_asset.packed
 * and .batches; .levels stays empty), correlations by pair.
 * *out must be initialised (market_data_init); it is replaced.
 */
enum store_status store_load(struct store *st, struct market_data *out);
/*
 * After a write to `symbol` (NULL: to the correlations only): *out gets
 * that asset (nassets 0 when it does not exist) with its curves and those
 * of its levels whose seq is above levels_after (0: all of them;
 * STORE_NO_LEVELS: none), and every correlation, read in one transaction;
 * *full is 0.  When another connection (another process: cascaded import,
 * seed) committed since this store's last load, *out gets everything, as
 * from store_load(), and *full is 1.
 */
#define STORE_NO_LEVELS INT64_MAX
enum store_status store_load_asset(struct store *st, const char *symbol,
    int64_t levels_after, struct market_data *out, int *full);
/*
 * Make the next store_load_asset() load everything: what a caller does
 * when it could not publish what it loaded (the next partial load would
 * build on data it never published).
 */
void store_want_full_load(struct store *st);

/* Create or update an asset; *created (may be NULL) says which. */
enum store_status store_put_asset(struct store *st, const char *symbol,
    double price, double vol, const char *updated_at, int *created);
/*
 * The same with the volatility source (docs/model.md section 9) in the
 * same transaction: src one of STORE_SRC_* below.
 */
enum store_status store_put_asset_src(struct store *st, const char *symbol,
    double price, double vol, const char *updated_at, int src, int *created);
/* Delete an asset with its curves, levels and correlations. */
enum store_status store_delete_asset(struct store *st, const char *symbol);

/*
 * Replace the curves c[0..n-1] (each its own venue, side, as_of and
 * validated points) of one asset in one transaction: one side or both.
 * *created (may be NULL) is 1 when no curve of that venue existed.
 */
enum store_status store_put_curves(struct store *st, const char *asset,
    const struct md_curve *c, size_t n, int *created);
/* Delete every curve of a venue: STORE_NOT_FOUND when there is none. */
enum store_status store_delete_venue(struct store *st, const char *asset,
    const char *venue);

/*
 * Replace all levels of an asset, or append to them.  The input's seq is
 * ignored (the store assigns increasing ones); side is enum lc_dir.
 */
enum store_status store_replace_levels(struct store *st, const char *asset,
    const struct md_level *lv, size_t n);
enum store_status store_append_levels(struct store *st, const char *asset,
    const struct md_level *lv, size_t n);

/*
 * Correlations: replace != 0 replaces the whole set, else upserts.  Pairs
 * are normalised to a < b.  An unknown asset is STORE_NOT_FOUND, a pair of
 * an asset with itself or rho outside [-1, 1] STORE_CONSTRAINT.
 */
enum store_status store_put_correlations(struct store *st,
    const struct md_corr *c, size_t n, int replace);

/* ---- price history: what store_prices.c shares with store.c ---------- */

/* Volatility-source changes (store_put_asset_src, store_prices.c). */
#define STORE_SRC_KEEP (-1)		/* leave source and pin */
#define STORE_SRC_EXPLICIT 0		/* 'explicit', pin kept */
#define STORE_SRC_PIN 1			/* 'explicit' and pinned */
#define STORE_SRC_HISTORY 2		/* 'history', unpinned */
#define STORE_SRC_HISTORY_UNPINNED 3	/* 'history' unless pinned */

struct sqlite3;
struct sqlite3_stmt;
/*
 * The connection under the store's lock, for the store_*.c files only:
 * store_tx_begin() locks and runs BEGIN IMMEDIATE (its SQLite code in
 * *rc); store_tx_end() commits when rc is SQLITE_OK (else rolls back;
 * rc -1 is "not found"), unlocks and maps the outcome.  The read pair
 * runs a deferred read transaction (NULL: it could not begin, unlocked).
 */
#define STORE_RC_NOT_FOUND (-1)
struct sqlite3 *store_tx_begin(struct store *st, int *rc);
enum store_status store_tx_end(struct store *st, int rc, const char *what);
struct sqlite3 *store_read_begin(struct store *st);
enum store_status store_read_end(struct store *st, int rc);
/* SQLITE_OK when the asset exists, -1 when not, else an SQLite code. */
int store_asset_check_locked(struct sqlite3 *db, const char *symbol);
/* Set the volatility source (STORE_SRC_*) inside a write transaction. */
int store_set_source_locked(struct sqlite3 *db, const char *symbol, int src);
/*
 * Prepare sql into *s (the caller's, sqlite3_finalize) and bind the text
 * parameters a (?1) and b (?2), each left unbound when NULL; an SQLite code.
 */
int store_prepare_text(struct sqlite3 *db, const char *sql, const char *a,
    const char *b, struct sqlite3_stmt **s);

/* ---- bus (bus.h): the bus sequence applied, recorded with the data */

/* The bus sequence the data includes (0: none yet; creates its table). */
enum store_status store_bus_seq(struct store *st, uint64_t *seq);
/*
 * The next write transaction that commits also records seq as applied,
 * atomically with its data (0: cancel).
 */
void store_bus_stamp(struct store *st, uint64_t seq);
/* Record a stamp no write consumed, in a transaction of its own. */
enum store_status store_bus_record(struct store *st);
/* Back to "nothing applied" (the data founds a new, empty bus). */
enum store_status store_bus_reset(struct store *st);
/* A consistent copy of the whole database into a new file (VACUUM INTO). */
enum store_status store_copy_to(struct store *st, const char *path);
/*
 * Replace the whole content of the database by the file at path (a copy
 * made by store_copy_to(), SQLite backup API, one transaction).
 */
enum store_status store_restore_from(struct store *st, const char *path);

#endif

/*
 * store.c - SQLite market-data store: open, migrate, load, write.
 *
 * Concurrency: one connection behind a mutex.  Writes are rare (market
 * data updates) and each is one BEGIN IMMEDIATE transaction, so a single
 * writer with a busy timeout never deadlocks against other processes
 * (cascaded migrate/seed on the same file).  Reads for scoring never come
 * here: they use the in-memory snapshot built from store_load().
 *
 * Errors map SQLite result codes to enum store_status so the API can tell
 * a client mistake (404/422) from an unavailable database (503).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "embed.h"
#include "log.h"
#include "store.h"

#define BUSY_TIMEOUT_MS 5000

struct store {
	sqlite3 *db;
	pthread_mutex_t mu;
	int version;		/* user_version after migration */
	sqlite3_int64 data_version; /* PRAGMA data_version at the last load */
	uint64_t bus_stamp;	/* store_bus_stamp(): recorded by the next write */
	int bus_table;		/* bus_state exists */
};

const char *
store_status_str(enum store_status st)
{
	switch (st) {
	case STORE_OK: return "ok";
	case STORE_NOT_FOUND: return "not found";
	case STORE_CONSTRAINT: return "constraint violated";
	case STORE_BUSY: return "database busy";
	case STORE_READONLY: return "database read-only";
	case STORE_IO: return "database I/O error";
	case STORE_NOMEM: return "out of memory";
	case STORE_TOO_NEW: return "database schema newer than this binary";
	case STORE_ERROR: break;
	}
	return "database error";
}

int
store_status_http(enum store_status st)
{
	switch (st) {
	case STORE_OK: return 200;
	case STORE_NOT_FOUND: return 404;
	case STORE_CONSTRAINT: return 422;
	case STORE_BUSY:
	case STORE_READONLY:
	case STORE_IO:
	case STORE_NOMEM:
	case STORE_TOO_NEW: return 503;
	case STORE_ERROR: break;
	}
	return 500;
}

static enum store_status
map_rc(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW: return STORE_OK;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_TOOBIG:
	case SQLITE_RANGE: return STORE_CONSTRAINT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return STORE_BUSY;
	case SQLITE_READONLY: return STORE_READONLY;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_PROTOCOL: return STORE_IO;
	case SQLITE_NOMEM: return STORE_NOMEM;
	default: return STORE_ERROR;
	}
}

static char *
msgdup(const char *fmt, ...)
{
	va_list ap;
	char buf[512];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return strdup(buf);
}

static void
copy_text(char *dst, size_t cap, const unsigned char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? (const char *)src : "");
}

static int
exec_sql(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* The integer value of a PRAGMA that answers one row ("PRAGMA x"). */
static int
pragma_int(sqlite3 *db, const char *sql, sqlite3_int64 *out)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(s, 0);
		rc = SQLITE_OK;
	}
out:
	sqlite3_finalize(s);
	return rc;
}

/* Changes when another connection commits (not with our own writes). */
static int
data_version(sqlite3 *db, sqlite3_int64 *out)
{
	return pragma_int(db, "PRAGMA data_version", out);
}

static int
user_version(sqlite3 *db, int *out)
{
	sqlite3_int64 v = 0;
	int rc = pragma_int(db, "PRAGMA user_version", &v);

	if (rc == SQLITE_OK)
		*out = (int)v;
	return rc;
}

int
store_migration_count(void)
{
	return (int)embed_nmigrations;
}

/* Apply migrations v+1..N, each in its own transaction. */
static int
migrate(sqlite3 *db, char **err)
{
	char sql[64];
	int v, n = (int)embed_nmigrations, i, rc;

	for (i = 0; i < n; i++) {
		if (embed_migrations[i].number != i + 1) {
			*err = msgdup("migration %s is out of sequence "
			    "(expected number %d)", embed_migrations[i].name,
			    i + 1);
			return -1;
		}
	}
	rc = user_version(db, &v);
	if (rc != SQLITE_OK)
		goto sqlfail;
	if (v > n) {
		*err = msgdup("database schema version %d is newer than this "
		    "binary (%d migrations): upgrade cascaded", v, n);
		return -2;
	}
	for (i = v; i < n; i++) {
		rc = exec_sql(db, "BEGIN IMMEDIATE");
		if (rc != SQLITE_OK)
			goto sqlfail;
		/* another process may have migrated meanwhile */
		rc = user_version(db, &v);
		if (rc != SQLITE_OK)
			goto rollback;
		if (v > i) {
			exec_sql(db, "ROLLBACK");
			if (v > n) {
				*err = msgdup("database schema version %d is "
				    "newer than this binary", v);
				return -2;
			}
			i = v - 1;
			continue;
		}
		rc = exec_sql(db, (const char *)embed_migrations[i].data);
		if (rc != SQLITE_OK)
			goto rollback;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", i + 1);
		rc = exec_sql(db, sql);
		if (rc != SQLITE_OK)
			goto rollback;
		rc = exec_sql(db, "COMMIT");
		if (rc != SQLITE_OK)
			goto rollback;
		log_kv(LOG_LVL_DEBUG, "migration applied", "name",
		    embed_migrations[i].name, (const char *)NULL);
	}
	return 0;
rollback:
	*err = msgdup("migration %s: %s", embed_migrations[i].name,
	    sqlite3_errmsg(db));
	exec_sql(db, "ROLLBACK");
	return -1;
sqlfail:
	*err = msgdup("migrate: %s", sqlite3_errmsg(db));
	return -1;
}

/* Create the parent directory of path when it is missing (one level). */
static void
make_parent(const char *path)
{
	char dir[4096];
	char *slash;

	if (strlen(path) >= sizeof(dir))
		return;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return;
}

struct store *
store_open(const char *path, char **err)
{
	struct store *st = NULL;
	sqlite3 *db = NULL;
	int rc;

	*err = NULL;
	if (strcmp(path, ":memory:") != 0)
		make_parent(path);
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		*err = msgdup("open %s: %s", path, db != NULL ?
		    sqlite3_errmsg(db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	sqlite3_extended_result_codes(db, 1);
	/* journal_mode answers a row; exec ignores it */
	if (exec_sql(db, "PRAGMA journal_mode = WAL") != SQLITE_OK ||
	    exec_sql(db, "PRAGMA synchronous = NORMAL") != SQLITE_OK ||
	    exec_sql(db, "PRAGMA foreign_keys = ON") != SQLITE_OK) {
		*err = msgdup("open %s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	if (migrate(db, err) != 0)
		goto fail;
	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		*err = msgdup("out of memory");
		goto fail;
	}
	if (pthread_mutex_init(&st->mu, NULL) != 0) {
		*err = msgdup("mutex init failed");
		free(st);
		st = NULL;
		goto fail;
	}
	st->db = db;
	if (user_version(db, &st->version) != SQLITE_OK)
		st->version = -1;
	if (data_version(db, &st->data_version) != SQLITE_OK)
		st->data_version = -1;
	return st;
fail:
	if (*err == NULL)
		*err = msgdup("open %s failed", path);
	sqlite3_close(db);
	return NULL;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	/* close_v2: tolerate a statement left behind by a bug */
	sqlite3_close_v2(st->db);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

int
store_schema_version(struct store *st)
{
	int v = -1;

	if (st == NULL)
		return -1;
	pthread_mutex_lock(&st->mu);
	if (user_version(st->db, &v) != SQLITE_OK)
		v = -1;
	pthread_mutex_unlock(&st->mu);
	return v;
}

int
store_ready(struct store *st)
{
	return st != NULL &&
	    store_schema_version(st) == (int)embed_nmigrations;
}

/* --- load ------------------------------------------------------------ */

static int
grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 8;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (p == NULL)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

/*
 * Append one zeroed element to *arr (*n in use, *cap allocated) and
 * return it; NULL when out of memory (nothing changed).
 */
static void *
push_zeroed(void **arr, size_t *cap, size_t *n, size_t elem)
{
	char *p;

	if (grow(arr, cap, *n + 1, elem))
		return NULL;
	p = (char *)*arr + *n * elem;
	(*n)++;
	memset(p, 0, elem);
	return p;
}

static long
find_asset(const struct market_data *md, const unsigned char *sym)
{
	size_t lo = 0, hi = md->nassets, mid;
	int c;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strcmp(md->assets[mid].symbol, (const char *)sym);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/*
 * The loaders below read everything (sym NULL) or one asset's rows (the
 * incremental reload after a write to that asset).
 */
/*
 * Prepare sql into *s and bind the text parameters a (?1) and b (?2);
 * a NULL one is left unbound.  The caller finalizes *s.
 */
int
store_prepare_text(sqlite3 *db, const char *sql, const char *a, const char *b,
    sqlite3_stmt **s)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, s, NULL);

	if (rc == SQLITE_OK && a != NULL)
		rc = sqlite3_bind_text(*s, 1, a, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && b != NULL)
		rc = sqlite3_bind_text(*s, 2, b, -1, SQLITE_STATIC);
	return rc;
}

static int
prepare_for(sqlite3 *db, const char *all, const char *one, const char *sym,
    sqlite3_stmt **s)
{
	return store_prepare_text(db, sym != NULL ? one : all, sym, NULL, s);
}

/* Finalize a row loop's statement; a loop run to its end is SQLITE_OK. */
static int
rows_done(sqlite3_stmt *s, int rc)
{
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
load_assets(sqlite3 *db, struct market_data *md, const char *sym)
{
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	struct md_asset *a;
	int rc;

	rc = prepare_for(db, "SELECT symbol, price, volatility, "
	    "updated_at, volatility_source = 'history', volatility_pinned "
	    "FROM assets ORDER BY symbol", "SELECT symbol, price, "
	    "volatility, updated_at, volatility_source = 'history', "
	    "volatility_pinned FROM assets WHERE symbol = ?", sym, &s);
	if (rc != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		a = push_zeroed((void **)&md->assets, &cap, &md->nassets,
		    sizeof(*md->assets));
		if (a == NULL) {
			rc = SQLITE_NOMEM;
			goto out;
		}
		copy_text(a->symbol, sizeof(a->symbol),
		    sqlite3_column_text(s, 0));
		a->price = sqlite3_column_double(s, 1);
		a->vol = sqlite3_column_double(s, 2);
		copy_text(a->updated_at, sizeof(a->updated_at),
		    sqlite3_column_text(s, 3));
		a->vol_source = sqlite3_column_int(s, 4) ? MD_VOL_HISTORY
		                                         : MD_VOL_EXPLICIT;
		a->vol_pinned = sqlite3_column_int(s, 5) != 0;
	}
out:
	return rows_done(s, rc);
}

static int
load_curves(sqlite3 *db, struct market_data *md, const char *sym)
{
	sqlite3_stmt *s = NULL;
	struct md_asset *a = NULL;
	struct md_curve *c = NULL;
	size_t ccap = 0, pcap = 0;
	sqlite3_int64 id, last_id = -1;
	long ai;
	int rc;

	rc = prepare_for(db, "SELECT c.id, c.asset, c.venue, c.side, "
	    "c.as_of, p.bps, p.qty FROM depth_curves c JOIN depth_points p "
	    "ON p.curve_id = c.id ORDER BY c.asset, c.venue, c.side, p.k",
	    "SELECT c.id, c.asset, c.venue, c.side, "
	    "c.as_of, p.bps, p.qty FROM depth_curves c JOIN depth_points p "
	    "ON p.curve_id = c.id WHERE c.asset = ? "
	    "ORDER BY c.asset, c.venue, c.side, p.k", sym, &s);
	if (rc != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		id = sqlite3_column_int64(s, 0);
		if (id != last_id) {
			ai = find_asset(md, sqlite3_column_text(s, 1));
			if (ai < 0) {
				rc = SQLITE_CORRUPT;
				goto out;
			}
			if (a != &md->assets[ai]) {
				a = &md->assets[ai];
				ccap = 0;
			}
			c = push_zeroed((void **)&a->curves, &ccap,
			    &a->ncurves, sizeof(*a->curves));
			if (c == NULL) {
				rc = SQLITE_NOMEM;
				goto out;
			}
			copy_text(c->venue, sizeof(c->venue),
			    sqlite3_column_text(s, 2));
			c->side = sqlite3_column_int(s, 3);
			copy_text(c->as_of, sizeof(c->as_of),
			    sqlite3_column_text(s, 4));
			pcap = 0;
			last_id = id;
		}
		if (c->curve.n + 1 > pcap) {
			size_t ncap = pcap ? pcap * 2 : 16;
			double *b, *q;

			b = realloc(c->curve.bps, ncap * sizeof(double));
			if (b == NULL) {
				rc = SQLITE_NOMEM;
				goto out;
			}
			c->curve.bps = b;
			q = realloc(c->curve.qty, ncap * sizeof(double));
			if (q == NULL) {
				rc = SQLITE_NOMEM;
				goto out;
			}
			c->curve.qty = q;
			pcap = ncap;
		}
		c->curve.bps[c->curve.n] = sqlite3_column_double(s, 5);
		c->curve.qty[c->curve.n] = sqlite3_column_double(s, 6);
		c->curve.n++;
	}
out:
	return rows_done(s, rc);
}

/* Does the batch hold `as_of` and `source` (as copy_text would cut them)? */
static int
same_batch(const struct md_level_batch *b, const unsigned char *as_of,
    const unsigned char *source)
{
	const char *t = as_of != NULL ? (const char *)as_of : "";
	const char *u = source != NULL ? (const char *)source : "";

	return strncmp(b->as_of, t, sizeof(b->as_of) - 1) == 0 &&
	    strncmp(b->source, u, sizeof(b->source) - 1) == 0;
}

/* Levels in the packed form, as_of and source interned per batch. */
static int
load_levels(sqlite3 *db, struct market_data *md, const char *sym,
    int64_t after)
{
	sqlite3_stmt *s = NULL;
	struct md_asset *a = NULL;
	struct md_packed_level *l;
	struct md_level_batch *b;
	const unsigned char *as_of, *source;
	size_t cap = 0, bcap = 0;
	long ai;
	int rc;

	rc = prepare_for(db, "SELECT asset, price, qty, side, seq, "
	    "as_of, source FROM liquidation_levels ORDER BY asset, seq",
	    "SELECT asset, price, qty, side, seq, as_of, source FROM "
	    "liquidation_levels WHERE asset = ? AND seq > ? "
	    "ORDER BY asset, seq", sym, &s);
	if (rc == SQLITE_OK && sym != NULL)
		rc = sqlite3_bind_int64(s, 2, after);
	if (rc != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *sy = sqlite3_column_text(s, 0);

		if (a == NULL || sy == NULL ||
		    strcmp(a->symbol, (const char *)sy) != 0) {
			ai = find_asset(md, sy);
			if (ai < 0) {
				rc = SQLITE_CORRUPT;
				goto out;
			}
			a = &md->assets[ai];
			cap = a->npacked;
			bcap = a->nbatches;
		}
		if (grow((void **)&a->packed, &cap, a->npacked + 1,
		    sizeof(*a->packed))) {
			rc = SQLITE_NOMEM;
			goto out;
		}
		as_of = sqlite3_column_text(s, 5);
		source = sqlite3_column_text(s, 6);
		if (a->nbatches == 0 ||
		    !same_batch(&a->batches[a->nbatches - 1], as_of, source)) {
			b = push_zeroed((void **)&a->batches, &bcap,
			    &a->nbatches, sizeof(*a->batches));
			if (b == NULL) {
				rc = SQLITE_NOMEM;
				goto out;
			}
			copy_text(b->as_of, sizeof(b->as_of), as_of);
			copy_text(b->source, sizeof(b->source), source);
		}
		l = &a->packed[a->npacked++];
		l->price = sqlite3_column_double(s, 1);
		l->qty = sqlite3_column_double(s, 2);
		l->side = sqlite3_column_int(s, 3);
		l->seq = sqlite3_column_int64(s, 4);
		l->batch = (uint32_t)(a->nbatches - 1);
	}
out:
	return rows_done(s, rc);
}

static int
load_corr(sqlite3 *db, struct market_data *md)
{
	sqlite3_stmt *s = NULL;
	struct md_corr *c;
	size_t cap = 0;
	int rc;

	rc = sqlite3_prepare_v2(db, "SELECT a, b, rho FROM correlations "
	    "ORDER BY a, b", -1, &s, NULL);
	if (rc != SQLITE_OK)
		goto out;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		c = push_zeroed((void **)&md->corr, &cap, &md->ncorr,
		    sizeof(*md->corr));
		if (c == NULL) {
			rc = SQLITE_NOMEM;
			goto out;
		}
		copy_text(c->a, sizeof(c->a), sqlite3_column_text(s, 0));
		copy_text(c->b, sizeof(c->b), sqlite3_column_text(s, 1));
		c->rho = sqlite3_column_double(s, 2);
	}
out:
	return rows_done(s, rc);
}

/*
 * Load everything (sym NULL) or one asset and the correlations, in one
 * read transaction.  When another connection (cascaded import or seed)
 * committed since our last load, a partial load would miss its changes:
 * load everything then and say so in *full.
 */
static enum store_status
load(struct store *st, const char *sym, int64_t after,
    struct market_data *out, int *full)
{
	struct market_data md;
	sqlite3_int64 dv = -1;
	int rc;

	market_data_init(&md);
	if (full != NULL)
		*full = sym == NULL;
	if (st == NULL)
		return STORE_IO;
	pthread_mutex_lock(&st->mu);
	rc = exec_sql(st->db, "BEGIN");
	if (rc != SQLITE_OK)
		goto out;
	/*
	 * Read before the data: a commit by another connection after this
	 * point shows in the next load's value (at worst one extra full load).
	 */
	rc = data_version(st->db, &dv);
	if (rc != SQLITE_OK)
		goto done;
	if (sym != NULL && (dv != st->data_version || st->data_version < 0)) {
		sym = NULL;
		if (full != NULL)
			*full = 1;
	}
	rc = load_assets(st->db, &md, sym);
	if (rc == SQLITE_OK && (sym == NULL || md.nassets > 0))
		rc = load_curves(st->db, &md, sym);
	if (rc == SQLITE_OK && (sym == NULL ||
	    (md.nassets > 0 && after != STORE_NO_LEVELS)))
		rc = load_levels(st->db, &md, sym, after);
	if (rc == SQLITE_OK)
		rc = load_corr(st->db, &md);
done:
	exec_sql(st->db, "COMMIT");
out:
	if (rc != SQLITE_OK)
		log_kv(LOG_LVL_ERROR, "store load failed", "error",
		    sqlite3_errmsg(st->db), (const char *)NULL);
	else
		st->data_version = dv;
	pthread_mutex_unlock(&st->mu);
	if (rc != SQLITE_OK) {
		market_data_release(&md);
		return map_rc(rc);
	}
	market_data_release(out);
	*out = md;
	return STORE_OK;
}

enum store_status
store_load(struct store *st, struct market_data *out)
{
	return load(st, NULL, 0, out, NULL);
}

void
store_want_full_load(struct store *st)
{
	if (st == NULL)
		return;
	pthread_mutex_lock(&st->mu);
	st->data_version = -1;
	pthread_mutex_unlock(&st->mu);
}

enum store_status
store_load_asset(struct store *st, const char *symbol, int64_t levels_after,
    struct market_data *out, int *full)
{
	/* no asset is called "": the correlations only */
	return load(st, symbol != NULL ? symbol : "", levels_after, out, full);
}

/* --- writes ---------------------------------------------------------- */

/*
 * Every write: lock, BEGIN IMMEDIATE, body, COMMIT; on any failure
 * ROLLBACK.  Bodies return SQLite codes, or STATUS_NOT_FOUND below.
 */
#define RC_NOT_FOUND (-1)

/* UPDATE bus_state to seq (in the open transaction). */
static int
bus_seq_write(struct store *st, uint64_t seq)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = sqlite3_prepare_v2(st->db, "UPDATE bus_state SET applied_seq = ? "
	    "WHERE id = 1", -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
		rc = sqlite3_step(s);
		rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	sqlite3_finalize(s);
	return rc;
}

static enum store_status
finish_tx(struct store *st, int rc, const char *what)
{
	enum store_status res;

	if (rc == SQLITE_OK && st->bus_stamp != 0)
		rc = bus_seq_write(st, st->bus_stamp);
	if (rc == SQLITE_OK) {
		rc = exec_sql(st->db, "COMMIT");
		if (rc == SQLITE_OK) {
			st->bus_stamp = 0;
			return STORE_OK;
		}
	}
	res = rc == RC_NOT_FOUND ? STORE_NOT_FOUND : map_rc(rc);
	if (rc != RC_NOT_FOUND)
		log_kv(res == STORE_CONSTRAINT ? LOG_LVL_DEBUG : LOG_LVL_WARN,
		    "store write failed", "op", what, "error",
		    sqlite3_errmsg(st->db), (const char *)NULL);
	if (!sqlite3_get_autocommit(st->db))
		exec_sql(st->db, "ROLLBACK");
	return res;
}

static int
begin_tx(struct store *st)
{
	return exec_sql(st->db, "BEGIN IMMEDIATE");
}

/* SQLITE_ROW when the asset exists, SQLITE_DONE when not, else error. */
static int
asset_exists(sqlite3 *db, const char *symbol)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = store_prepare_text(db, "SELECT 1 FROM assets WHERE symbol = ?",
	    symbol, NULL, &s);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc;
}

/* Turn asset_exists() into OK / RC_NOT_FOUND / error. */
static int
need_asset(sqlite3 *db, const char *symbol)
{
	int rc = asset_exists(db, symbol);

	if (rc == SQLITE_ROW)
		return SQLITE_OK;
	if (rc == SQLITE_DONE)
		return RC_NOT_FOUND;
	return rc;
}

/* Step a one-shot statement to completion; SQLITE_OK on success. */
static int
step_done(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* store_prepare_text(), step to completion, finalize; SQLITE_OK on success. */
static int
exec_text(sqlite3 *db, const char *sql, const char *a, const char *b)
{
	sqlite3_stmt *s = NULL;
	int rc = store_prepare_text(db, sql, a, b, &s);

	if (rc == SQLITE_OK)
		rc = step_done(s);
	sqlite3_finalize(s);
	return rc;
}

/*
 * One DELETE (text parameters a, b) in its own transaction; a statement
 * that removes no row is STORE_NOT_FOUND.
 */
static enum store_status
delete_where(struct store *st, const char *sql, const char *a,
    const char *b, const char *what)
{
	enum store_status res;
	int rc;

	if (st == NULL)
		return STORE_IO;
	pthread_mutex_lock(&st->mu);
	rc = begin_tx(st);
	if (rc == SQLITE_OK)
		rc = exec_text(st->db, sql, a, b);
	if (rc == SQLITE_OK && sqlite3_changes(st->db) == 0)
		rc = RC_NOT_FOUND;
	res = finish_tx(st, rc, what);
	pthread_mutex_unlock(&st->mu);
	return res;
}

enum store_status
store_put_asset(struct store *st, const char *symbol, double price,
    double vol, const char *updated_at, int *created)
{
	return store_put_asset_src(st, symbol, price, vol, updated_at,
	    STORE_SRC_KEEP, created);
}

enum store_status
store_put_asset_src(struct store *st, const char *symbol, double price,
    double vol, const char *updated_at, int src, int *created)
{
	sqlite3_stmt *s = NULL;
	enum store_status res;
	int rc, exists = 0;

	if (st == NULL)
		return STORE_IO;
	if (strlen(symbol) == 0 || strlen(symbol) > MD_SYMBOL_MAX ||
	    !isfinite(price) || !isfinite(vol) || updated_at == NULL ||
	    strlen(updated_at) >= MD_TIME_MAX)
		return STORE_CONSTRAINT;
	pthread_mutex_lock(&st->mu);
	rc = begin_tx(st);
	if (rc != SQLITE_OK)
		goto out;
	rc = asset_exists(st->db, symbol);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto out;
	exists = rc == SQLITE_ROW;
	rc = sqlite3_prepare_v2(st->db, "INSERT INTO assets (symbol, price, "
	    "volatility, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (symbol) "
	    "DO UPDATE SET price = excluded.price, volatility = "
	    "excluded.volatility, updated_at = excluded.updated_at", -1, &s,
	    NULL);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, symbol, -1, SQLITE_STATIC);
	sqlite3_bind_double(s, 2, price);
	sqlite3_bind_double(s, 3, vol);
	sqlite3_bind_text(s, 4, updated_at, -1, SQLITE_STATIC);
	rc = step_done(s);
	if (rc == SQLITE_OK && src != STORE_SRC_KEEP)
		rc = store_set_source_locked(st->db, symbol, src);
out:
	sqlite3_finalize(s);
	res = finish_tx(st, rc, "put_asset");
	pthread_mutex_unlock(&st->mu);
	if (res == STORE_OK && created != NULL)
		*created = !exists;
	return res;
}

enum store_status
store_delete_asset(struct store *st, const char *symbol)
{
	return delete_where(st, "DELETE FROM assets WHERE symbol = ?",
	    symbol, NULL, "delete_asset");
}

static int
put_one_curve(sqlite3 *db, const char *asset, const struct md_curve *c)
{
	sqlite3_stmt *del = NULL, *ins = NULL, *pt = NULL;
	sqlite3_int64 id;
	size_t k;
	int rc;

	if (c->curve.n == 0 || (c->side != 0 && c->side != 1) ||
	    c->venue[0] == '\0')
		return SQLITE_CONSTRAINT;
	rc = sqlite3_prepare_v2(db, "DELETE FROM depth_curves WHERE asset = ? "
	    "AND venue = ? AND side = ?", -1, &del, NULL);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_text(del, 1, asset, -1, SQLITE_STATIC);
	sqlite3_bind_text(del, 2, c->venue, -1, SQLITE_STATIC);
	sqlite3_bind_int(del, 3, c->side);
	rc = step_done(del);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_prepare_v2(db, "INSERT INTO depth_curves (asset, venue, "
	    "side, as_of) VALUES (?, ?, ?, ?)", -1, &ins, NULL);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_text(ins, 1, asset, -1, SQLITE_STATIC);
	sqlite3_bind_text(ins, 2, c->venue, -1, SQLITE_STATIC);
	sqlite3_bind_int(ins, 3, c->side);
	sqlite3_bind_text(ins, 4, c->as_of, -1, SQLITE_STATIC);
	rc = step_done(ins);
	if (rc != SQLITE_OK)
		goto out;
	id = sqlite3_last_insert_rowid(db);
	rc = sqlite3_prepare_v2(db, "INSERT INTO depth_points (curve_id, k, "
	    "bps, qty) VALUES (?, ?, ?, ?)", -1, &pt, NULL);
	if (rc != SQLITE_OK)
		goto out;
	for (k = 0; k < c->curve.n; k++) {
		sqlite3_bind_int64(pt, 1, id);
		sqlite3_bind_int64(pt, 2, (sqlite3_int64)k);
		/* NaN binds as NULL and fails NOT NULL: a constraint error */
		sqlite3_bind_double(pt, 3, c->curve.bps[k]);
		sqlite3_bind_double(pt, 4, c->curve.qty[k]);
		rc = step_done(pt);
		if (rc != SQLITE_OK)
			goto out;
	}
out:
	sqlite3_finalize(del);
	sqlite3_finalize(ins);
	sqlite3_finalize(pt);
	return rc;
}

static int
venue_exists(sqlite3 *db, const char *asset, const char *venue, int *exists)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = store_prepare_text(db, "SELECT 1 FROM depth_curves WHERE asset = ? "
	    "AND venue = ?", asset, venue, &s);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
		*exists = rc == SQLITE_ROW;
		rc = SQLITE_OK;
	}
out:
	sqlite3_finalize(s);
	return rc;
}

enum store_status
store_put_curves(struct store *st, const char *asset,
    const struct md_curve *c, size_t n, int *created)
{
	enum store_status res;
	size_t i;
	int rc, exists = 0, any_new = 0;

	if (st == NULL)
		return STORE_IO;
	if (n == 0)
		return STORE_CONSTRAINT;
	pthread_mutex_lock(&st->mu);
	rc = begin_tx(st);
	if (rc != SQLITE_OK)
		goto out;
	rc = need_asset(st->db, asset);
	for (i = 0; rc == SQLITE_OK && i < n; i++) {
		rc = venue_exists(st->db, asset, c[i].venue, &exists);
		if (rc == SQLITE_OK && !exists)
			any_new = 1;
	}
	for (i = 0; rc == SQLITE_OK && i < n; i++)
		rc = put_one_curve(st->db, asset, &c[i]);
out:
	res = finish_tx(st, rc, "put_curves");
	pthread_mutex_unlock(&st->mu);
	if (res == STORE_OK && created != NULL)
		*created = any_new;
	return res;
}

enum store_status
store_delete_venue(struct store *st, const char *asset, const char *venue)
{
	return delete_where(st, "DELETE FROM depth_curves WHERE asset = ? "
	    "AND venue = ?", asset, venue, "delete_venue");
}

static enum store_status
put_levels(struct store *st, const char *asset, const struct md_level *lv,
    size_t n, int replace)
{
	sqlite3_stmt *del = NULL, *ins = NULL;
	enum store_status res;
	size_t i;
	int rc;

	if (st == NULL)
		return STORE_IO;
	pthread_mutex_lock(&st->mu);
	rc = begin_tx(st);
	if (rc != SQLITE_OK)
		goto out;
	rc = need_asset(st->db, asset);
	if (rc != SQLITE_OK)
		goto out;
	if (replace) {
		rc = sqlite3_prepare_v2(st->db, "DELETE FROM liquidation_levels "
		    "WHERE asset = ?", -1, &del, NULL);
		if (rc != SQLITE_OK)
			goto out;
		sqlite3_bind_text(del, 1, asset, -1, SQLITE_STATIC);
		rc = step_done(del);
		if (rc != SQLITE_OK)
			goto out;
	}
	rc = sqlite3_prepare_v2(st->db, "INSERT INTO liquidation_levels "
	    "(asset, price, qty, side, source, as_of) VALUES (?, ?, ?, ?, ?, ?)",
	    -1, &ins, NULL);
	if (rc != SQLITE_OK)
		goto out;
	for (i = 0; i < n; i++) {
		sqlite3_bind_text(ins, 1, asset, -1, SQLITE_STATIC);
		/* NaN binds as NULL; CHECKs reject <= 0 and bad sides */
		sqlite3_bind_double(ins, 2, lv[i].price);
		sqlite3_bind_double(ins, 3, lv[i].qty);
		sqlite3_bind_int(ins, 4, lv[i].side);
		sqlite3_bind_text(ins, 5, lv[i].source, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 6, lv[i].as_of, -1, SQLITE_STATIC);
		rc = step_done(ins);
		if (rc != SQLITE_OK)
			goto out;
	}
out:
	sqlite3_finalize(del);
	sqlite3_finalize(ins);
	res = finish_tx(st, rc, replace ? "replace_levels" : "append_levels");
	pthread_mutex_unlock(&st->mu);
	return res;
}

enum store_status
store_replace_levels(struct store *st, const char *asset,
    const struct md_level *lv, size_t n)
{
	return put_levels(st, asset, lv, n, 1);
}

enum store_status
store_append_levels(struct store *st, const char *asset,
    const struct md_level *lv, size_t n)
{
	return put_levels(st, asset, lv, n, 0);
}

enum store_status
store_put_correlations(struct store *st, const struct md_corr *c, size_t n,
    int replace)
{
	sqlite3_stmt *ins = NULL;
	enum store_status res;
	const char *a, *b;
	size_t i;
	int rc, cmp;

	if (st == NULL)
		return STORE_IO;
	pthread_mutex_lock(&st->mu);
	rc = begin_tx(st);
	if (rc != SQLITE_OK)
		goto out;
	if (replace) {
		rc = exec_sql(st->db, "DELETE FROM correlations");
		if (rc != SQLITE_OK)
			goto out;
	}
	rc = sqlite3_prepare_v2(st->db, "INSERT INTO correlations (a, b, rho) "
	    "VALUES (?, ?, ?) ON CONFLICT (a, b) DO UPDATE SET "
	    "rho = excluded.rho", -1, &ins, NULL);
	if (rc != SQLITE_OK)
		goto out;
	for (i = 0; i < n; i++) {
		cmp = strcmp(c[i].a, c[i].b);
		if (cmp == 0 || !(c[i].rho >= -1.0 && c[i].rho <= 1.0)) {
			rc = SQLITE_CONSTRAINT;
			goto out;
		}
		a = cmp < 0 ? c[i].a : c[i].b;
		b = cmp < 0 ? c[i].b : c[i].a;
		rc = need_asset(st->db, a);
		if (rc == SQLITE_OK)
			rc = need_asset(st->db, b);
		if (rc != SQLITE_OK)
			goto out;
		sqlite3_bind_text(ins, 1, a, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, b, -1, SQLITE_STATIC);
		sqlite3_bind_double(ins, 3, c[i].rho);
		rc = step_done(ins);
		if (rc != SQLITE_OK)
			goto out;
	}
out:
	sqlite3_finalize(ins);
	res = finish_tx(st, rc, "put_correlations");
	pthread_mutex_unlock(&st->mu);
	return res;
}

/* ---- shared with the store_*.c files (store.h) ---------------------- */

int
store_set_source_locked(sqlite3 *db, const char *symbol, int src)
{
	/* STORE_SRC_EXPLICIT and _HISTORY leave a pin as it is */
	return exec_text(db, src == STORE_SRC_HISTORY_UNPINNED ?
	    "UPDATE assets SET volatility_source = 'history' "
	    "WHERE symbol = ?1 AND volatility_pinned = 0" :
	    src == STORE_SRC_PIN ?
	    "UPDATE assets SET volatility_source = 'explicit', "
	    "volatility_pinned = 1 WHERE symbol = ?1" :
	    src == STORE_SRC_HISTORY ?
	    "UPDATE assets SET volatility_source = 'history', "
	    "volatility_pinned = 0 WHERE symbol = ?1" :
	    "UPDATE assets SET volatility_source = 'explicit' "
	    "WHERE symbol = ?1", symbol, NULL);
}

sqlite3 *
store_tx_begin(struct store *st, int *rc)
{
	pthread_mutex_lock(&st->mu);
	*rc = begin_tx(st);
	return st->db;
}

enum store_status
store_tx_end(struct store *st, int rc, const char *what)
{
	enum store_status res = finish_tx(st, rc, what);

	pthread_mutex_unlock(&st->mu);
	return res;
}

sqlite3 *
store_read_begin(struct store *st)
{
	pthread_mutex_lock(&st->mu);
	if (exec_sql(st->db, "BEGIN") != SQLITE_OK) {
		pthread_mutex_unlock(&st->mu);
		return NULL;
	}
	return st->db;
}

enum store_status
store_read_end(struct store *st, int rc)
{
	exec_sql(st->db, "COMMIT");
	pthread_mutex_unlock(&st->mu);
	return map_rc(rc);
}

int
store_asset_check_locked(sqlite3 *db, const char *symbol)
{
	return need_asset(db, symbol);
}

/* --- bus state (store.h) -------------------------------------------- */

/*
 * The one-row table of the bus sequence applied, created here rather than
 * by a migration so that a database without a bus never changes shape.
 */
static const char bus_schema[] =
    "CREATE TABLE IF NOT EXISTS bus_state ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " applied_seq INTEGER NOT NULL CHECK (applied_seq >= 0));"
    "INSERT OR IGNORE INTO bus_state (id, applied_seq) VALUES (1, 0);";

/* Create bus_state once (the caller holds st->mu). */
static int
bus_table(struct store *st)
{
	int rc = SQLITE_OK;

	if (!st->bus_table) {
		rc = exec_sql(st->db, bus_schema);
		st->bus_table = rc == SQLITE_OK;
	}
	return rc;
}

enum store_status
store_bus_seq(struct store *st, uint64_t *seq)
{
	sqlite3_int64 v = 0;
	int rc;

	*seq = 0;
	pthread_mutex_lock(&st->mu);
	rc = bus_table(st);
	if (rc == SQLITE_OK)
		rc = pragma_int(st->db, "SELECT applied_seq FROM bus_state "
		    "WHERE id = 1", &v);
	pthread_mutex_unlock(&st->mu);
	if (rc != SQLITE_OK)
		return map_rc(rc);
	*seq = (uint64_t)v;
	return STORE_OK;
}

void
store_bus_stamp(struct store *st, uint64_t seq)
{
	pthread_mutex_lock(&st->mu);
	/* a failure shows in the write that records the stamp */
	bus_table(st);
	st->bus_stamp = seq;
	pthread_mutex_unlock(&st->mu);
}

/* Write seq as applied in a transaction of its own (st->mu held). */
static int
bus_seq_alone(struct store *st, uint64_t seq)
{
	int rc = begin_tx(st);

	if (rc == SQLITE_OK)
		rc = bus_seq_write(st, seq);
	if (rc == SQLITE_OK)
		rc = exec_sql(st->db, "COMMIT");
	if (rc != SQLITE_OK && !sqlite3_get_autocommit(st->db))
		exec_sql(st->db, "ROLLBACK");
	return rc;
}

enum store_status
store_bus_reset(struct store *st)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = bus_table(st);
	if (rc == SQLITE_OK)
		rc = bus_seq_alone(st, 0);
	st->bus_stamp = 0;
	pthread_mutex_unlock(&st->mu);
	return rc == SQLITE_OK ? STORE_OK : map_rc(rc);
}

enum store_status
store_bus_record(struct store *st)
{
	int rc = SQLITE_OK;

	pthread_mutex_lock(&st->mu);
	if (st->bus_stamp != 0) {
		rc = bus_seq_alone(st, st->bus_stamp);
		if (rc == SQLITE_OK)
			st->bus_stamp = 0;
	}
	pthread_mutex_unlock(&st->mu);
	return rc == SQLITE_OK ? STORE_OK : map_rc(rc);
}

enum store_status
store_copy_to(struct store *st, const char *path)
{
	int rc;

	pthread_mutex_lock(&st->mu);
	rc = exec_text(st->db, "VACUUM INTO ?", path, NULL);
	pthread_mutex_unlock(&st->mu);
	return rc == SQLITE_OK ? STORE_OK : map_rc(rc);
}

enum store_status
store_restore_from(struct store *st, const char *path)
{
	sqlite3 *src = NULL;
	sqlite3_backup *bk;
	int rc;

	rc = sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK)
		goto out;
	pthread_mutex_lock(&st->mu);
	bk = sqlite3_backup_init(st->db, "main", src, "main");
	if (bk == NULL) {
		rc = sqlite3_errcode(st->db);
	} else {
		rc = sqlite3_backup_step(bk, -1);
		rc = sqlite3_backup_finish(bk) == SQLITE_OK && rc == SQLITE_DONE ?
		    SQLITE_OK : (rc == SQLITE_DONE ? sqlite3_errcode(st->db) :
		    rc);
	}
	st->bus_stamp = 0;
	st->bus_table = 0;
	st->data_version = -1;	/* the next load rebuilds everything */
	pthread_mutex_unlock(&st->mu);
out:
	sqlite3_close(src);
	return rc == SQLITE_OK ? STORE_OK : map_rc(rc);
}

/*
 * store_books.c - books in the SQLite store (store_books.h).
 *
 * Each write: the store's lock, BEGIN IMMEDIATE, the rows through one
 * prepared statement per kind (bound and reset per row), COMMIT, or
 * ROLLBACK on the first failure (store_tx_end, which also records a
 * bus stamp).  A replace deletes the
 * book's positions and inserts the new ones in the same transaction, so
 * a reader (or a restart after SIGKILL) sees the old book or the new one.
 */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store_books.h"

static int
step_reset(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* Insert or update the book row; *created when it did not exist. */
static int
put_book_row(sqlite3 *db, const struct store_book *b, int *created)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = store_prepare_text(db, "SELECT 1 FROM books WHERE name = ?",
	    b->name, NULL, &s);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		goto out;
	if (created != NULL)
		*created = rc == SQLITE_DONE;
	sqlite3_finalize(s);
	rc = sqlite3_prepare_v2(db, "INSERT INTO books (name, as_of, source, "
	    "updated_at, next_slot) VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) "
	    "DO UPDATE SET as_of = excluded.as_of, source = excluded.source, "
	    "updated_at = excluded.updated_at, next_slot = excluded.next_slot",
	    -1, &s, NULL);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, b->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, b->as_of, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, b->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, b->updated_at, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, b->next_slot);
	rc = step_reset(s);
out:
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
put_positions(sqlite3 *db, const char *book, const struct store_book_pos *p,
    size_t n, int upsert)
{
	sqlite3_stmt *s = NULL;
	size_t i;
	int rc;

	rc = sqlite3_prepare_v2(db, upsert
	    ? "INSERT INTO book_positions (book, id, slot, body) VALUES "
	      "(?, ?, ?, ?) ON CONFLICT (book, id) DO UPDATE SET "
	      "slot = excluded.slot, body = excluded.body"
	    : "INSERT INTO book_positions (book, id, slot, body) VALUES "
	      "(?, ?, ?, ?)", -1, &s, NULL);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, book, -1, SQLITE_STATIC);
	for (i = 0; i < n && rc == SQLITE_OK; i++) {
		if (p[i].len > (size_t)INT32_MAX) {
			rc = SQLITE_TOOBIG;
			break;
		}
		sqlite3_bind_text(s, 2, p[i].id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 3, p[i].slot);
		sqlite3_bind_text(s, 4, p[i].body, (int)p[i].len,
		    SQLITE_STATIC);
		rc = step_reset(s);
	}
out:
	sqlite3_finalize(s);
	return rc;
}

/* One statement with a text parameter; *changes rows changed. */
static int
exec1(sqlite3 *db, const char *sql, const char *a, const char *b,
    int *changes)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = store_prepare_text(db, sql, a, b, &s);
	if (rc != SQLITE_OK)
		goto out;
	rc = step_reset(s);
	if (changes != NULL)
		*changes = sqlite3_changes(db);
out:
	sqlite3_finalize(s);
	return rc;
}

/*
 * One write of a book: its row, then (replace) the old positions out and
 * the new ones in, or (upsert, the book must exist) the positions upserted.
 */
static enum store_status
put_book(struct store *st, const struct store_book *b,
    const struct store_book_pos *p, size_t n, int upsert, int *created)
{
	enum store_status res;
	int rc, fresh = 0;
	sqlite3 *db = store_tx_begin(st, &rc);

	if (rc == SQLITE_OK)
		rc = put_book_row(db, b, &fresh);
	if (rc == SQLITE_OK && upsert && fresh)
		rc = STORE_RC_NOT_FOUND;
	if (rc == SQLITE_OK && !upsert)
		rc = exec1(db, "DELETE FROM book_positions WHERE book = ?",
		    b->name, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = put_positions(db, b->name, p, n, upsert);
	res = store_tx_end(st, rc, upsert ? "upsert_book" : "replace_book");
	if (created != NULL)
		*created = fresh;
	return res;
}

enum store_status
store_book_replace(struct store *st, const struct store_book *b,
    const struct store_book_pos *p, size_t n, int *created)
{
	return put_book(st, b, p, n, 0, created);
}

enum store_status
store_book_upsert(struct store *st, const struct store_book *b,
    const struct store_book_pos *p, size_t n)
{
	return put_book(st, b, p, n, 1, NULL);
}

/*
 * A delete: `del` (parameters a, b) must change a row, else
 * STORE_NOT_FOUND; then `after` (parameters a, c) when not NULL.
 */
static enum store_status
delete_rows(struct store *st, const char *del, const char *after,
    const char *a, const char *b, const char *c, const char *what)
{
	int rc, changes = 0;
	sqlite3 *db = store_tx_begin(st, &rc);

	if (rc == SQLITE_OK)
		rc = exec1(db, del, a, b, &changes);
	if (rc == SQLITE_OK && changes == 0)
		rc = STORE_RC_NOT_FOUND;
	if (rc == SQLITE_OK && after != NULL)
		rc = exec1(db, after, a, c, NULL);
	return store_tx_end(st, rc, what);
}

enum store_status
store_book_delete_position(struct store *st, const char *book, const char *id,
    const char *updated_at)
{
	return delete_rows(st, "DELETE FROM book_positions WHERE book = ? AND "
	    "id = ?", "UPDATE books SET updated_at = ?2 WHERE name = ?1", book,
	    id, updated_at, "delete_book_position");
}

enum store_status
store_book_delete(struct store *st, const char *book)
{
	return delete_rows(st, "DELETE FROM books WHERE name = ?", NULL, book,
	    NULL, NULL, "delete_book");
}

static void
copy_col(char *dst, size_t cap, sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	size_t n = t != NULL ? strlen((const char *)t) : 0;

	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(dst, t, n);
	dst[n] = '\0';
}

static void
read_book(sqlite3_stmt *s, struct store_book *b)
{
	memset(b, 0, sizeof(*b));
	copy_col(b->name, sizeof(b->name), s, 0);
	copy_col(b->as_of, sizeof(b->as_of), s, 1);
	copy_col(b->source, sizeof(b->source), s, 2);
	copy_col(b->updated_at, sizeof(b->updated_at), s, 3);
	b->next_slot = sqlite3_column_int64(s, 4);
	b->npositions = sqlite3_column_int64(s, 5);
}

#define BOOK_COLS "SELECT name, as_of, source, updated_at, next_slot, " \
	"(SELECT count(*) FROM book_positions WHERE book = name) FROM books "

enum store_status
store_books_list(struct store *st, struct store_book **out, size_t *n)
{
	sqlite3 *db;
	sqlite3_stmt *s = NULL;
	struct store_book *v = NULL, *t;
	size_t cap = 0, k = 0;
	enum store_status res;
	int rc;

	*out = NULL;
	*n = 0;
	db = store_read_begin(st);
	if (db == NULL)
		return STORE_IO;
	rc = sqlite3_prepare_v2(db, BOOK_COLS "ORDER BY name", -1, &s, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (k == cap) {
			cap = cap > 0 ? 2 * cap : 8;
			t = realloc(v, cap * sizeof(*v));
			if (t == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			v = t;
		}
		read_book(s, &v[k++]);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	res = store_read_end(st, rc == SQLITE_OK ? SQLITE_ERROR : rc);
	if (res != STORE_OK) {
		free(v);
		return res;
	}
	*out = v;
	*n = k;
	return STORE_OK;
}

/* The positions of one book by slot, to the sink. */
static int
load_positions(sqlite3 *db, const char *book,
    const struct store_books_sink *sink)
{
	sqlite3_stmt *s = NULL;
	int rc;

	rc = store_prepare_text(db, "SELECT id, slot, body FROM "
	    "book_positions WHERE book = ? ORDER BY slot", book, NULL, &s);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(s);
		return rc;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(s, 0);
		const char *body = (const char *)sqlite3_column_text(s, 2);
		size_t len = (size_t)sqlite3_column_bytes(s, 2);

		if (id == NULL || body == NULL) {
			rc = SQLITE_NOMEM;
			break;
		}
		if (sink->pos_fn != NULL && sink->pos_fn(sink->ctx, id,
		    sqlite3_column_int64(s, 1), body, len) != 0) {
			rc = SQLITE_ABORT;
			break;
		}
	}
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

enum store_status
store_books_load(struct store *st, const char *book,
    const struct store_books_sink *sink)
{
	sqlite3 *db = store_read_begin(st);
	sqlite3_stmt *s = NULL;
	struct store_book b;
	enum store_status res;
	int rc;

	if (db == NULL)
		return STORE_IO;
	rc = store_prepare_text(db, book != NULL
	    ? BOOK_COLS "WHERE name = ? ORDER BY name"
	    : BOOK_COLS "ORDER BY name", book, NULL, &s);
	while (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		read_book(s, &b);
		if (sink->book_fn != NULL && sink->book_fn(sink->ctx, &b) != 0)
			rc = SQLITE_ABORT;
		else
			rc = load_positions(db, b.name, sink);
	}
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
	sqlite3_finalize(s);
	res = store_read_end(st, rc);
	return rc == SQLITE_ABORT ? STORE_ERROR : res;
}

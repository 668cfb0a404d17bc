/*
 * store_books.h - the books of docs/model.md section 8 in the SQLite
 * store (migrations/0002_books.sql): a book row and its positions, each
 * the JSON text of one /v1/score position with its id and slot (the book
 * order).
 *
 * Every write is one BEGIN IMMEDIATE transaction on the store's
 * connection: it applies whole or not at all, so a failed or interrupted
 * write (a crash, SIGKILL) leaves the previous book whole.  Bulk writes use
 * one prepared statement per kind of row, bound per row.
 *
 * Ownership: every input is borrowed; store_books_list() returns a
 * malloc'd array (free it); store_books_load() hands each row to the
 * callbacks, whose pointers are valid only during the call.
 */
#ifndef CASCADED_STORE_BOOKS_H
#define CASCADED_STORE_BOOKS_H

#include <stddef.h>
#include <stdint.h>

#include "marketdata.h"
#include "store.h"

#define STORE_BOOK_NAME_MAX 64

struct store_book {
	char name[STORE_BOOK_NAME_MAX + 1];
	char as_of[MD_TIME_MAX];
	char source[MD_SOURCE_MAX + 1];
	char updated_at[MD_TIME_MAX];
	int64_t next_slot;	/* slot of the next new id */
	int64_t npositions;	/* filled by list / load */
};

/* One position to write: its id, slot and JSON text (not NUL-ended). */
struct store_book_pos {
	const char *id;
	int64_t slot;
	const char *body;
	size_t len;
};

/*
 * Replace the book b->name (creating it: *created, may be NULL) with the
 * positions p[0..n-1]: as_of, source, updated_at and next_slot from b.
 */
enum store_status store_book_replace(struct store *st,
    const struct store_book *b, const struct store_book_pos *p, size_t n,
    int *created);
/*
 * Insert or update the positions p[0..n-1] by id in the existing book
 * b->name (STORE_NOT_FOUND when it does not exist), and set its as_of,
 * source, updated_at and next_slot from b.
 */
enum store_status store_book_upsert(struct store *st,
    const struct store_book *b, const struct store_book_pos *p, size_t n);
/* Remove one position (STORE_NOT_FOUND: no such book or id). */
enum store_status store_book_delete_position(struct store *st,
    const char *book, const char *id, const char *updated_at);
/* Remove a book with its positions (STORE_NOT_FOUND: none). */
enum store_status store_book_delete(struct store *st, const char *book);

/* Every book by name with its position count: *out malloc'd, *n. */
enum store_status store_books_list(struct store *st, struct store_book **out,
    size_t *n);

/*
 * Load in one read transaction every book (book NULL) or one: for each
 * book by name, book_fn, then pos_fn for each of its positions by slot.
 * A callback returning non-zero stops the load (STORE_ERROR).
 */
struct store_books_sink {
	int (*book_fn)(void *ctx, const struct store_book *b);
	int (*pos_fn)(void *ctx, const char *id, int64_t slot,
	    const char *body, size_t len);
	void *ctx;
};

enum store_status store_books_load(struct store *st, const char *book,
    const struct store_books_sink *sink);

#endif

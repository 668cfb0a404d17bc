-- 0002_books.sql - books: named sets of positions (docs/model.md section 8).
--
-- A book owns its positions (ON DELETE CASCADE).  A position is stored as
-- the JSON object of the /v1/score position schema (`body`), decoded by the
-- same codec as a score request when the service loads it; `slot` is its
-- place in the book order (ties of equal trigger prices between positions
-- go by slot), assigned by the service: a replace numbers the positions
-- 0..n-1 in body order, an upsert keeps an existing id's slot and gives a
-- new id the book's next_slot.  Every write is one transaction.

CREATE TABLE books (
	name TEXT PRIMARY KEY NOT NULL
		CHECK (length(name) BETWEEN 1 AND 64),
	as_of TEXT NOT NULL,
	source TEXT NOT NULL DEFAULT '',
	updated_at TEXT NOT NULL,
	next_slot INTEGER NOT NULL DEFAULT 0 CHECK (next_slot >= 0)
) WITHOUT ROWID;

CREATE TABLE book_positions (
	book TEXT NOT NULL REFERENCES books(name) ON DELETE CASCADE,
	id TEXT NOT NULL CHECK (length(id) BETWEEN 1 AND 128),
	slot INTEGER NOT NULL CHECK (slot >= 0),
	body TEXT NOT NULL,
	PRIMARY KEY (book, id)
) WITHOUT ROWID;
CREATE INDEX book_positions_slot ON book_positions(book, slot);

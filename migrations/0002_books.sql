-- 0002_books.sql - PLACEHOLDER on the prices branch only, so that
-- 0003_price_history.sql applies in sequence; the books branch owns this
-- file (on merge, take the books branch's version).
SELECT 1;

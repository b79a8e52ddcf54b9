-- 0004_bodies_in_row: the bodies and frames move into the exchange's row, as
-- its last columns, and the per-service index goes: one row to insert and
-- to delete per exchange instead of two, and one B-tree. Listing still never
-- reads a body: SQLite reads a row's columns in order and stops at the last
-- one asked for, so the bodies' overflow pages are not touched. A listing
-- by service scans the (bounded) history by id.
ALTER TABLE exchanges ADD COLUMN req_body  BLOB NOT NULL DEFAULT X'';
ALTER TABLE exchanges ADD COLUMN resp_body BLOB NOT NULL DEFAULT X'';
ALTER TABLE exchanges ADD COLUMN frames    TEXT NOT NULL DEFAULT '[]';
UPDATE exchanges SET req_body = b.request, resp_body = b.response, frames = b.frames
	FROM bodies b WHERE b.id = exchanges.id;
DROP TABLE bodies;
DROP INDEX exchanges_by_service;

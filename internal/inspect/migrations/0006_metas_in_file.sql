-- 0006_metas_in_file: a segment's meta records move from its row into its
-- file, after its body records (internal/inspect/sqlite.go), and the row
-- keeps a few numbers: a blob of some hundred KiB per batch through the WAL
-- and then the checkpoint was most of what storing a small exchange cost. A
-- row written since has an empty metas; a row of 0005 keeps its meta
-- records (and count 0) until its segment is evicted.
--
-- An evicted segment's file is overwritten by a later segment rather than
-- removed and another created (the system reuses its cached pages), and it
-- keeps its name, <file>.seg, from the segment it was created for.
ALTER TABLE segments ADD COLUMN file      INTEGER NOT NULL DEFAULT 0; -- its file; 0 in a row of 0005: <id>.seg
ALTER TABLE segments ADD COLUMN count     INTEGER NOT NULL DEFAULT 0; -- its exchanges
ALTER TABLE segments ADD COLUMN metas_at  INTEGER NOT NULL DEFAULT 0; -- where its meta records start in the file
ALTER TABLE segments ADD COLUMN metas_crc INTEGER NOT NULL DEFAULT 0; -- their CRC-32C (Castagnoli)

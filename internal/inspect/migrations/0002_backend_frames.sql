-- 0002_backend_frames: the replica that answered, and the frames of a
-- WebSocket connection (kept with the bodies, as a JSON array).
ALTER TABLE exchanges ADD COLUMN backend     TEXT    NOT NULL DEFAULT '';
ALTER TABLE exchanges ADD COLUMN frame_count INTEGER NOT NULL DEFAULT 0; -- frames seen, kept or not
ALTER TABLE bodies    ADD COLUMN frames      TEXT    NOT NULL DEFAULT '[]';

-- 0005_segments: exchanges are stored in segments, one per batch that the
-- Recorder stores, instead of one row each: a row holds the segment's meta
-- records (everything but the bodies, the heads as HTTP text), and a file
-- beside the database, inspect.bodies/<id>.seg, its body records
-- (internal/inspect/codec.go, sqlite.go). At recording rates one INSERT per
-- exchange, bodies through the WAL, was most of the inspector's cost. The
-- exchanges table stays until DB's open has moved its rows into segments
-- (keeping their IDs), then goes.
CREATE TABLE segments (
	id    INTEGER PRIMARY KEY, -- the ID of its first exchange
	metas BLOB    NOT NULL,
	size  INTEGER NOT NULL     -- bytes of its file
);

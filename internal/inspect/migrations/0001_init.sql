-- 0001_init: recorded HTTP exchanges, their bodies, and running totals for
-- the bounded history.
--
-- Times are INTEGER nanoseconds since the Unix epoch (UTC); NULL means "none".

-- AUTOINCREMENT so that an ID is never reused after eviction: IDs name
-- exchanges in the CLI, the dashboard and replay links.
CREATE TABLE exchanges (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	replay_of      INTEGER, -- no foreign key: the original may be evicted first
	service        TEXT    NOT NULL DEFAULT '',
	conn           INTEGER NOT NULL DEFAULT 0,
	seq            INTEGER NOT NULL DEFAULT 0,
	remote         TEXT    NOT NULL DEFAULT '',
	method         TEXT    NOT NULL,
	target         TEXT    NOT NULL,
	proto          TEXT    NOT NULL DEFAULT '',
	host           TEXT    NOT NULL DEFAULT '',
	req_header     TEXT    NOT NULL DEFAULT '{}', -- JSON object: name → array of values
	req_size       INTEGER NOT NULL DEFAULT 0,
	req_truncated  INTEGER NOT NULL DEFAULT 0,
	resp_proto     TEXT    NOT NULL DEFAULT '',
	status         INTEGER NOT NULL DEFAULT 0,   -- 0: no response head
	reason         TEXT    NOT NULL DEFAULT '',
	resp_header    TEXT    NOT NULL DEFAULT '{}',
	resp_size      INTEGER NOT NULL DEFAULT 0,
	resp_truncated INTEGER NOT NULL DEFAULT 0,
	started_at     INTEGER,
	first_byte_at  INTEGER,
	ended_at       INTEGER,
	held_ns        INTEGER NOT NULL DEFAULT 0,
	upgraded       INTEGER NOT NULL DEFAULT 0,
	error          TEXT    NOT NULL DEFAULT '',
	server_timing  TEXT    NOT NULL DEFAULT '[]', -- JSON array of {name, dur, desc}
	body_bytes     INTEGER NOT NULL DEFAULT 0     -- bytes of both kept bodies, for the bound
);
CREATE INDEX exchanges_by_service   ON exchanges (service, id);
CREATE INDEX exchanges_by_replay_of ON exchanges (replay_of) WHERE replay_of IS NOT NULL;

-- Bodies live apart so that listing and eviction never read them.
CREATE TABLE bodies (
	id       INTEGER PRIMARY KEY REFERENCES exchanges (id) ON DELETE CASCADE,
	request  BLOB NOT NULL,
	response BLOB NOT NULL
);

-- One row: how many exchanges are kept and their body bytes, kept current
-- by the triggers below so that checking the bounds costs one read.
CREATE TABLE totals (
	one        INTEGER PRIMARY KEY CHECK (one = 1),
	exchanges  INTEGER NOT NULL,
	body_bytes INTEGER NOT NULL
);
INSERT INTO totals (one, exchanges, body_bytes) VALUES (1, 0, 0);

CREATE TRIGGER exchanges_added AFTER INSERT ON exchanges BEGIN
	UPDATE totals SET exchanges = exchanges + 1, body_bytes = body_bytes + NEW.body_bytes;
END;
CREATE TRIGGER exchanges_removed AFTER DELETE ON exchanges BEGIN
	UPDATE totals SET exchanges = exchanges - 1, body_bytes = body_bytes - OLD.body_bytes;
END;

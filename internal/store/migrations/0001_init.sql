-- 0001_init: jobs, their watchers, API tokens and per-user notifications.
--
-- Times are INTEGER nanoseconds since the Unix epoch (UTC); NULL means "not yet".
-- Read them in the sqlite3 shell with datetime(created_at / 1000000000, 'unixepoch').

-- AUTOINCREMENT so that an ID is never reused, even after rows are deleted:
-- job IDs name streams (job/42) and output files (jobs/42.log).
CREATE TABLE jobs (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	service     TEXT    NOT NULL CHECK (service <> ''),
	command     TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings
	kind        TEXT    NOT NULL CHECK (kind IN ('run', 'exec', 'restart', 'api')),
	launched_by TEXT    NOT NULL DEFAULT '',
	status      TEXT    NOT NULL DEFAULT 'queued'
	                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
	exit_code   INTEGER,
	error       TEXT    NOT NULL DEFAULT '',
	created_at  INTEGER NOT NULL,
	started_at  INTEGER,
	ended_at    INTEGER,
	output_path TEXT    NOT NULL DEFAULT '' -- relative to the database's directory
);
CREATE INDEX jobs_by_service ON jobs (service, id);
CREATE INDEX jobs_by_status  ON jobs (status, id);

CREATE TABLE job_watchers (
	job_id   INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	username TEXT    NOT NULL CHECK (username <> ''),
	added_at INTEGER NOT NULL,
	PRIMARY KEY (job_id, username)
) WITHOUT ROWID;

-- hash is SHA-256 of the secret; the secret itself is never stored.
CREATE TABLE tokens (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	name       TEXT    NOT NULL CHECK (name <> ''),
	hash       BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
	created_at INTEGER NOT NULL,
	revoked_at INTEGER,
	last_used  INTEGER
);
-- A name is unique among active tokens; revoked ones keep their history.
CREATE UNIQUE INDEX tokens_active_name ON tokens (name) WHERE revoked_at IS NULL;

CREATE TABLE notifications (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	username     TEXT    NOT NULL CHECK (username <> ''),
	job_id       INTEGER NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
	payload      BLOB    NOT NULL, -- JSON
	created_at   INTEGER NOT NULL,
	delivered_at INTEGER
);
CREATE INDEX notifications_pending ON notifications (username, id) WHERE delivered_at IS NULL;
CREATE INDEX notifications_by_job  ON notifications (job_id);

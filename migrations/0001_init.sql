-- Users, their keys, repositories, grants and the audit log.

CREATE TABLE users (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE,
	admin      BOOLEAN NOT NULL DEFAULT FALSE,
	disabled   BOOLEAN NOT NULL DEFAULT FALSE,
	created_at TEXT NOT NULL
);

-- A fingerprint is unique across public_keys and deploy_keys; the store
-- checks the other table in the same transaction, the UNIQUE here and there
-- catch the rest.
CREATE TABLE public_keys (
	id           INTEGER PRIMARY KEY,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	fingerprint  TEXT NOT NULL UNIQUE,
	type         TEXT NOT NULL,
	bits         INTEGER NOT NULL,
	comment      TEXT NOT NULL DEFAULT '',
	key          TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	last_used_at TEXT
);

CREATE INDEX public_keys_user_id ON public_keys (user_id);

-- No cascade from users: deleting a user who still owns repositories is
-- refused, by the store first and by this foreign key as a backstop.
CREATE TABLE repos (
	id             INTEGER PRIMARY KEY,
	owner_id       INTEGER NOT NULL REFERENCES users (id),
	name           TEXT NOT NULL,
	private        BOOLEAN NOT NULL DEFAULT FALSE,
	description    TEXT NOT NULL DEFAULT '',
	default_branch TEXT NOT NULL DEFAULT 'main',
	created_at     TEXT NOT NULL,
	updated_at     TEXT NOT NULL,
	UNIQUE (owner_id, name)
);

-- level is gatehouse.AccessLevel: 1 read, 2 write, 3 admin.
CREATE TABLE collaborators (
	repo_id INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	level   INTEGER NOT NULL CHECK (level BETWEEN 1 AND 3),
	PRIMARY KEY (repo_id, user_id)
);

CREATE INDEX collaborators_user_id ON collaborators (user_id);

-- The audit log names actors and repositories as text, not foreign keys,
-- so it outlives the rows it talks about.
CREATE TABLE audit_log (
	id      INTEGER PRIMARY KEY,
	time    TEXT NOT NULL,
	actor   TEXT NOT NULL DEFAULT '',
	action  TEXT NOT NULL,
	repo    TEXT NOT NULL DEFAULT '',
	detail  TEXT NOT NULL DEFAULT '',
	address TEXT NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_time ON audit_log (time);
CREATE INDEX audit_log_actor ON audit_log (actor, time);
CREATE INDEX audit_log_repo ON audit_log (repo, time);

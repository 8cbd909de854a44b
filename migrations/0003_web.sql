-- The web panel (issue 5): one-time login links and the sessions they
-- open. Like api_tokens (0002), only a SHA-256 digest of each secret is
-- stored, so a copy of the database logs nobody in.

CREATE TABLE login_links (
	id         INTEGER PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash       TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL
);

CREATE TABLE web_sessions (
	id         INTEGER PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash       TEXT NOT NULL UNIQUE,
	created_at TEXT NOT NULL,
	expires_at TEXT NOT NULL
);

CREATE INDEX web_sessions_user_id ON web_sessions (user_id);

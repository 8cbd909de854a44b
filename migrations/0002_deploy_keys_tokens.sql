-- Tables for features that come later: deploy keys, protected branches and
-- API tokens. Created now so that the store can already keep fingerprints
-- unique across user and deploy keys.

CREATE TABLE deploy_keys (
	id          INTEGER PRIMARY KEY,
	repo_id     INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	fingerprint TEXT NOT NULL UNIQUE,
	key         TEXT NOT NULL,
	title       TEXT NOT NULL DEFAULT '',
	write       BOOLEAN NOT NULL DEFAULT FALSE,
	created_at  TEXT NOT NULL
);

CREATE INDEX deploy_keys_repo_id ON deploy_keys (repo_id);

-- pattern is a ref name or glob such as "main" or "release/*".
CREATE TABLE protected_branches (
	repo_id INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	pattern TEXT NOT NULL,
	PRIMARY KEY (repo_id, pattern)
);

-- hash is a digest of the token; the token itself is never stored.
CREATE TABLE api_tokens (
	id           INTEGER PRIMARY KEY,
	user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash         TEXT NOT NULL UNIQUE,
	name         TEXT NOT NULL DEFAULT '',
	created_at   TEXT NOT NULL,
	expires_at   TEXT,
	last_used_at TEXT
);

CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

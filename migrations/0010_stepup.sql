-- Two-factor step-up (issue 18): TOTP secrets, recovery codes, the
-- windows a verified code opens, wrong-code counts and the policies.
--
-- A secret counts once confirmed by one valid code; last_step is the
-- last time step a code was accepted for, so a code works once. Recovery
-- codes are kept as SHA-256 digests (high-entropy, so no slow hash).
-- Windows are per user and source address (an IP), in the database so
-- that several nodes share them.

CREATE TABLE totp_secrets (
	user_id      INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	secret       BLOB NOT NULL,
	confirmed    BOOLEAN NOT NULL DEFAULT FALSE,
	last_step    INTEGER NOT NULL DEFAULT 0,
	created_at   TEXT NOT NULL,
	confirmed_at TEXT
);

CREATE TABLE totp_recovery_codes (
	id      INTEGER PRIMARY KEY,
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	hash    TEXT NOT NULL UNIQUE,
	used_at TEXT
);

CREATE INDEX totp_recovery_codes_user_id ON totp_recovery_codes (user_id);

CREATE TABLE stepup_windows (
	user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	address    TEXT NOT NULL,
	expires_at TEXT NOT NULL,
	PRIMARY KEY (user_id, address)
);

-- subject is "user:ID" or "addr:IP". failures counts wrong codes since
-- the last lockout or success; locked_until is set once they reach the
-- bound.
CREATE TABLE stepup_failures (
	subject      TEXT PRIMARY KEY,
	failures     INTEGER NOT NULL,
	locked_until TEXT
);

-- The site's policy is the one row with id 1; an organization's is keyed
-- by the organization. level: 0 off, 1 write, 2 all.
CREATE TABLE stepup_site_policy (
	id             INTEGER PRIMARY KEY CHECK (id = 1),
	level          INTEGER NOT NULL CHECK (level BETWEEN 0 AND 2),
	protected_only BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE TABLE stepup_org_policies (
	org_id         INTEGER PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
	level          INTEGER NOT NULL CHECK (level BETWEEN 0 AND 2),
	protected_only BOOLEAN NOT NULL DEFAULT FALSE
);

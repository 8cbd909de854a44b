-- Organizations and teams (issue 7).
--
-- An organization is a row in users, so that users and organizations share
-- one namespace (users.name is UNIQUE) and repos.owner_id, with every
-- query that joins it to users, keeps working unchanged. The orgs row
-- marks it as an organization and holds what only organizations have; the
-- store keeps organizations out of everything that looks up a user (keys,
-- tokens, logins, grants), so an organization can never log in.

CREATE TABLE orgs (
	id            INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	-- gatehouse.AccessLevel members get on its repositories: 0 none, 1 read.
	default_level INTEGER NOT NULL DEFAULT 1 CHECK (default_level BETWEEN 0 AND 1)
);

CREATE TABLE org_members (
	org_id  INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	admin   BOOLEAN NOT NULL DEFAULT FALSE,
	PRIMARY KEY (org_id, user_id)
);

CREATE INDEX org_members_user_id ON org_members (user_id);

CREATE TABLE teams (
	id         INTEGER PRIMARY KEY,
	org_id     INTEGER NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	created_at TEXT NOT NULL,
	UNIQUE (org_id, name)
);

CREATE TABLE team_members (
	team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
	user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	PRIMARY KEY (team_id, user_id)
);

CREATE INDEX team_members_user_id ON team_members (user_id);

-- level is gatehouse.AccessLevel: 1 read, 2 write, 3 admin.
CREATE TABLE team_grants (
	repo_id INTEGER NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
	team_id INTEGER NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
	level   INTEGER NOT NULL CHECK (level BETWEEN 1 AND 3),
	PRIMARY KEY (repo_id, team_id)
);

CREATE INDEX team_grants_team_id ON team_grants (team_id);

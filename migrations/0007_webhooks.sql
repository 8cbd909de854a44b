-- Webhooks and their delivery queue.
--
-- A webhook belongs to one repository (repo_id), one organization
-- (org_id, every repository it owns) or the whole site (both NULL); it is
-- removed with its repository or organization. The secret is kept as
-- given: deliveries sign with it, so it cannot be a digest, and a key to
-- encrypt it would sit in the same data folder. The API never shows it.
-- events is a comma-separated list of event names.
CREATE TABLE webhooks (
	id         INTEGER PRIMARY KEY,
	scope      TEXT NOT NULL CHECK (scope IN ('repo', 'org', 'site')),
	repo_id    INTEGER REFERENCES repos (id) ON DELETE CASCADE,
	org_id     INTEGER REFERENCES orgs (id) ON DELETE CASCADE,
	url        TEXT NOT NULL,
	secret     TEXT NOT NULL DEFAULT '',
	events     TEXT NOT NULL,
	insecure   BOOLEAN NOT NULL DEFAULT FALSE,
	active     BOOLEAN NOT NULL DEFAULT TRUE,
	created_at TEXT NOT NULL,
	CHECK ((scope = 'repo') = (repo_id IS NOT NULL) AND (scope = 'org') = (org_id IS NOT NULL))
);

CREATE INDEX webhooks_repo_id ON webhooks (repo_id);
CREATE INDEX webhooks_org_id ON webhooks (org_id);

-- One row per event to send to one webhook. next_at is when the next
-- attempt is due (NULL once it succeeded or gave up); status is pending,
-- delivered or failed. A delivery outlives its webhook's removal only
-- until the cascade.
CREATE TABLE webhook_deliveries (
	id         TEXT PRIMARY KEY, -- a UUID, sent as X-Gatehouse-Delivery
	hook_id    INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	event      TEXT NOT NULL,
	action     TEXT NOT NULL DEFAULT '',
	repo       TEXT NOT NULL DEFAULT '',
	payload    BLOB NOT NULL,
	attempts   INTEGER NOT NULL DEFAULT 0,
	status     TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
	next_at    TEXT,
	created_at TEXT NOT NULL
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE next_at IS NOT NULL;
CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (hook_id, created_at);

-- Each attempt at a delivery, written when it starts (so one cut short by
-- a crash is still counted) and completed when it ends.
CREATE TABLE webhook_attempts (
	delivery_id TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
	n           INTEGER NOT NULL,
	started_at  TEXT NOT NULL,
	duration_ms INTEGER NOT NULL DEFAULT 0,
	status_code INTEGER NOT NULL DEFAULT 0,
	error       TEXT NOT NULL DEFAULT '',
	response    TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (delivery_id, n)
);

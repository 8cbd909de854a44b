-- Access rules beyond owner and collaborator (issue 6): deploy keys record
-- their last use like user keys do, protected branch patterns may be
-- admin-only, and user keys may expire.

ALTER TABLE deploy_keys ADD COLUMN last_used_at TEXT;

ALTER TABLE protected_branches ADD COLUMN admin_only BOOLEAN NOT NULL DEFAULT FALSE;
-- Rows from before this migration get the empty string, read as "unknown".
ALTER TABLE protected_branches ADD COLUMN created_at TEXT NOT NULL DEFAULT '';

-- A user key may expire; NULL means never.
ALTER TABLE public_keys ADD COLUMN expires_at TEXT;

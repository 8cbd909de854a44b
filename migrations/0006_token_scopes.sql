-- API token scopes: scope is gatehouse.TokenScope, 1 read, 2 write,
-- 3 admin. Tokens from before this migration could do everything their
-- user could, so they become admin and keep working as they did.

ALTER TABLE api_tokens ADD COLUMN scope INTEGER NOT NULL DEFAULT 3 CHECK (scope BETWEEN 1 AND 3);

-- Hardware-key policy (issue 18).
--
-- The security key options a key was registered with, from its
-- authorized_keys line: no-touch-required (signatures need not assert
-- user presence) and verify-required (each use asks for a PIN or
-- biometric).

ALTER TABLE public_keys ADD COLUMN no_touch_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE public_keys ADD COLUMN verify_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE deploy_keys ADD COLUMN no_touch_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE deploy_keys ADD COLUMN verify_required BOOLEAN NOT NULL DEFAULT FALSE;

-- key_policy is gatehouse.KeyPolicy by name, for users and organizations
-- alike (both are rows in users).
ALTER TABLE users ADD COLUMN key_policy TEXT NOT NULL DEFAULT 'any'
	CHECK (key_policy IN ('any', 'sk-only', 'sk-touch', 'sk-verify'));

-- The site's key policy: one row at most, scope 'site'. No row is 'any'.
CREATE TABLE site_key_policy (
	scope  TEXT NOT NULL PRIMARY KEY CHECK (scope = 'site'),
	policy TEXT NOT NULL CHECK (policy IN ('any', 'sk-only', 'sk-touch', 'sk-verify'))
);

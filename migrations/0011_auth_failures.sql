-- Failed logins per client address, counted for every node together so
-- that several nodes behind a load balancer do not multiply the limit
-- (sshd's MaxAuthFailures and AuthBan). addr is the address as sshd keys
-- it (an IPv6 client is its /64). window_start opens the minute the
-- failures are counted in; banned_until is '' when the address is not
-- banned. Only failures write here; a login reads its address's row.

CREATE TABLE auth_failures (
	addr         TEXT PRIMARY KEY,
	window_start TEXT NOT NULL,
	failures     INTEGER NOT NULL,
	banned_until TEXT NOT NULL DEFAULT ''
);

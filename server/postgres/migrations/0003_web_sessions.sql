-- 0003: web sessions, the cookie credentials of sessions created by an HTML
-- login (server.WebSession; server/sqlite's 0003 on PostgreSQL).

-- A cookie credential is kept as the SHA-256 of the cookie value only (32
-- bytes), as refresh tokens are. It lives as long as its session: a lookup
-- joins sessions and users and refuses a revoked or expired session or a
-- disabled user. last_seen_at is the last recorded use, for the idle
-- timeout; lookups update it lazily (only once it is old enough), and
-- PruneExpired deletes a credential with its session.
CREATE TABLE web_sessions (
	hash         bytea       NOT NULL PRIMARY KEY CHECK (length(hash) = 32),
	session_id   bytea       NOT NULL REFERENCES sessions (id),
	created_at   timestamptz NOT NULL,
	last_seen_at timestamptz NOT NULL CHECK (last_seen_at >= created_at)
);

-- Pruning a session's credentials (and the foreign key from web_sessions).
CREATE INDEX web_sessions_session_id ON web_sessions (session_id);

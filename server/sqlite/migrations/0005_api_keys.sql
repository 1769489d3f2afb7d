-- 0005: API keys (server.APIKey, package apikey).
--
-- Times are Unix microseconds (UTC), as in 0001 to 0004; NULL is "never".
--
-- A key is kept as its HMAC-SHA-256 under a server key only (32 bytes):
-- a copy of the database gives no key, and without the server key cannot
-- even test a guess. id is the key's public id (16 base62 characters),
-- the primary key a request's key is looked up by. scopes are
-- space-separated, allowed_cidrs too ('' allows every address).
-- credential_version is the user's when the key was created: a password
-- change, role change or disable moves the user's on, which ends the key.
-- Revoking a key deletes its row. last_used_at is written at most once a
-- minute per key, never on every request.
CREATE TABLE api_keys (
	id                 TEXT    NOT NULL PRIMARY KEY CHECK (length(id) = 16),
	user_id            TEXT    NOT NULL REFERENCES users (id),
	name               TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
	hash               BLOB    NOT NULL CHECK (length(hash) = 32),
	scopes             TEXT    NOT NULL,
	allowed_cidrs      TEXT    NOT NULL DEFAULT '',
	created_at         INTEGER NOT NULL,
	expires_at         INTEGER,
	last_used_at       INTEGER,
	credential_version INTEGER NOT NULL CHECK (credential_version >= 0)
) STRICT;

-- Listing and counting a user's keys.
CREATE INDEX api_keys_user_id ON api_keys (user_id, created_at);

-- 0005: API keys (server.APIKey, package apikey; server/sqlite's 0005 on
-- PostgreSQL).
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
	id                 text        NOT NULL PRIMARY KEY CHECK (id ~ '^[0-9A-Za-z]{16}$'),
	user_id            bytea       NOT NULL REFERENCES users (id),
	name               text        NOT NULL CHECK (octet_length(name) BETWEEN 1 AND 100),
	hash               bytea       NOT NULL CHECK (length(hash) = 32),
	scopes             text        NOT NULL,
	allowed_cidrs      text        NOT NULL DEFAULT '',
	created_at         timestamptz NOT NULL,
	expires_at         timestamptz,
	last_used_at       timestamptz,
	credential_version bigint      NOT NULL CHECK (credential_version >= 0)
);

-- Listing and counting a user's keys.
CREATE INDEX api_keys_user_id ON api_keys (user_id, created_at);

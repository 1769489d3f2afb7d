-- 0002: authentication: users, sessions and their refresh tokens, the
-- revocation log, the security event log and the JWT signing keys
-- (server/sqlite's 0002 on PostgreSQL).
--
-- As in 0001, caller-supplied strings are bytea; text holds only what the
-- store itself checks to be ASCII (role, revocation kind, scopes). A NULL
-- time is the zero time.Time ("not yet": not revoked, not rotated...).

-- Users are never deleted, only disabled. The store keeps usernames only
-- in their canonical form (server.CanonicalUsername: RFC 8265
-- UsernameCaseMapped, so no A-Z) and compares them exactly: the unique
-- index on username makes "Admin" and "ａｄｍｉｎ" the same name, "admin",
-- and GetUserByName canonicalizes what it is given before the lookup.
CREATE TABLE users (
	id            bytea       NOT NULL PRIMARY KEY,
	username      bytea       NOT NULL CHECK (length(username) > 0),
	role          text        NOT NULL CHECK (role IN ('user', 'admin')),
	password_hash bytea       NOT NULL CHECK (length(password_hash) > 0),
	disabled      boolean     NOT NULL DEFAULT false,
	created_at    timestamptz NOT NULL,
	updated_at    timestamptz NOT NULL
);

CREATE UNIQUE INDEX users_username ON users (username);

-- The last-admin check looks for other enabled administrators.
CREATE INDEX users_enabled_admins ON users (id) WHERE role = 'admin' AND NOT disabled;

-- A session is one login; scopes is the granted scopes, space-separated
-- (server.JoinScopes: RFC 6749 scope-tokens, printable ASCII).
CREATE TABLE sessions (
	id         bytea       NOT NULL PRIMARY KEY,
	user_id    bytea       NOT NULL REFERENCES users (id),
	scopes     text        NOT NULL,
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	revoked_at timestamptz
);

-- Revoking every session of a user (and the foreign key from sessions).
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Refresh tokens are kept as the SHA-256 of the token only. rotated_at is
-- NULL while the token is the current one of its session.
CREATE TABLE refresh_tokens (
	hash       bytea       NOT NULL PRIMARY KEY CHECK (length(hash) > 0),
	session_id bytea       NOT NULL REFERENCES sessions (id),
	created_at timestamptz NOT NULL,
	expires_at timestamptz NOT NULL,
	rotated_at timestamptz
);

CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);

-- The revocation log every server process replays, in seq order, into its
-- in-memory checker. An identity column never reuses a value, so a
-- reader's "after seq" cursor stays valid after pruning. Values of a
-- sequence are handed out before their transactions commit, so they could
-- commit out of order; the store therefore takes a transaction-level
-- advisory lock before every insert here (see the package documentation):
-- entries become visible in seq order, and a reader that has seen seq N
-- will never later find a new entry below N.
CREATE TABLE revocations (
	seq        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind       text        NOT NULL CHECK (kind IN ('subject', 'session', 'jti')),
	value      bytea       NOT NULL CHECK (length(value) > 0),
	not_before timestamptz,
	until      timestamptz NOT NULL,
	created_at timestamptz NOT NULL
);

-- Entries whose until has passed can be forgotten (pruned).
CREATE INDEX revocations_until ON revocations (until);

-- The security event log (audit). An empty string is an absent field. No
-- foreign keys: an event about an unknown username has no user.
CREATE TABLE events (
	id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at         timestamptz NOT NULL,
	type       bytea       NOT NULL CHECK (length(type) > 0),
	user_id    bytea       NOT NULL DEFAULT '',
	username   bytea       NOT NULL DEFAULT '',
	session_id bytea       NOT NULL DEFAULT '',
	client_ip  bytea       NOT NULL DEFAULT '',
	detail     bytea       NOT NULL DEFAULT ''
);

-- ListEvents pages newest first, optionally by type or by user.
CREATE INDEX events_type_id ON events (type, id);
CREATE INDEX events_user_id_id ON events (user_id, id);

-- JWT signing keys (jwtkey.StoredKey). alg and state are jwtkey's names,
-- checked there, not here. public is the public key (NULL for HS256),
-- sealed the private key encrypted under the master key, never in clear
-- (NULL once the key is retired or revoked). A row with revoked_at set is
-- never updated again (SaveKeys).
CREATE TABLE signing_keys (
	id           bytea NOT NULL PRIMARY KEY,
	alg          bytea NOT NULL,
	state        bytea NOT NULL,
	created_at   timestamptz,
	activated_at timestamptz,
	retiring_at  timestamptz,
	retired_at   timestamptz,
	revoked_at   timestamptz,
	public       bytea,
	sealed       bytea
);

-- 0002: authentication: users, sessions and their refresh tokens, the
-- revocation log, the security event log and the JWT signing keys.
--
-- Times are Unix microseconds (UTC), as in 0001; a NULL time is the zero
-- time.Time ("not yet": not revoked, not rotated...).
--
-- items.owner_id deliberately gets no foreign key to users: the item
-- contract suite stores items of owners that have no user row, and users are
-- never deleted (only disabled), so such a key would protect nothing.

-- Users are never deleted, only disabled. The username is unique compared
-- ASCII-case-insensitively. That is an index on lower(username), not a
-- COLLATE NOCASE column: NOCASE stops comparing at a NUL byte, so it would
-- take 'a\0b' and 'a\0c' for one name, while lower() keeps every byte and
-- folds only A-Z. Lookups use the same expression (the index serves them).
CREATE TABLE users (
	id            TEXT    NOT NULL PRIMARY KEY,
	username      TEXT    NOT NULL,
	role          TEXT    NOT NULL CHECK (role IN ('user', 'admin')),
	password_hash TEXT    NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX users_username ON users (lower(username));

-- The last-admin check counts enabled administrators.
CREATE INDEX users_role_disabled ON users (role, disabled);

-- A session is one login; scopes is the granted scopes, space-separated.
CREATE TABLE sessions (
	id         TEXT    NOT NULL PRIMARY KEY,
	user_id    TEXT    NOT NULL REFERENCES users (id),
	scopes     TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	revoked_at INTEGER
) STRICT;

-- Revoking every session of a user (and the foreign key from sessions).
CREATE INDEX sessions_user_id ON sessions (user_id);

-- Refresh tokens are kept as the SHA-256 of the token only. rotated_at is
-- NULL while the token is the current one of its session.
CREATE TABLE refresh_tokens (
	hash       BLOB    NOT NULL PRIMARY KEY CHECK (length(hash) > 0),
	session_id TEXT    NOT NULL REFERENCES sessions (id),
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	rotated_at INTEGER
) STRICT;

CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

-- The revocation log every server process replays, in seq order, into its
-- in-memory checker. AUTOINCREMENT: a seq is never reused, even after the
-- newest entries are deleted, so a reader's "after seq" cursor stays valid.
CREATE TABLE revocations (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT,
	kind       TEXT    NOT NULL CHECK (kind IN ('subject', 'session', 'jti')),
	value      TEXT    NOT NULL CHECK (value <> ''),
	not_before INTEGER,
	until      INTEGER NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

-- Entries whose until has passed can be forgotten (pruned).
CREATE INDEX revocations_until ON revocations (until);

-- The security event log (audit). An empty string is an absent field. No
-- foreign keys: an event about an unknown username has no user.
CREATE TABLE events (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	at         INTEGER NOT NULL,
	type       TEXT    NOT NULL CHECK (type <> ''),
	user_id    TEXT    NOT NULL DEFAULT '',
	username   TEXT    NOT NULL DEFAULT '',
	session_id TEXT    NOT NULL DEFAULT '',
	client_ip  TEXT    NOT NULL DEFAULT '',
	detail     TEXT    NOT NULL DEFAULT ''
) STRICT;

-- ListEvents pages newest first, optionally by type or by user.
CREATE INDEX events_type_id ON events (type, id);
CREATE INDEX events_user_id_id ON events (user_id, id);

-- JWT signing keys (jwtkey.StoredKey). alg and state are jwtkey's names,
-- checked there, not here. public is the public key (NULL for HS256),
-- sealed the private key encrypted under the master key, never in clear
-- (NULL once the key is retired or revoked). A row with revoked_at set is
-- never updated again (SaveKeys).
CREATE TABLE signing_keys (
	id           TEXT    NOT NULL PRIMARY KEY,
	alg          TEXT    NOT NULL,
	state        TEXT    NOT NULL,
	created_at   INTEGER,
	activated_at INTEGER,
	retiring_at  INTEGER,
	retired_at   INTEGER,
	revoked_at   INTEGER,
	public       BLOB,
	sealed       BLOB
) STRICT;

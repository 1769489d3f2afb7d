-- 0004: credential versions (server/sqlite's 0004 on PostgreSQL).
-- users.credential_version counts the changes that end a user's sessions
-- (UpdateUser with Revoke: a password change, a disable, a role change);
-- sessions.credential_version is the user's version the login read before
-- checking the password. A session is inserted only while the two are
-- equal (checked in the inserting transaction, the user row locked FOR
-- SHARE), and a session whose version lags its user's is refused like a
-- revoked one (RotateRefresh, LookupWebSession): a login that raced a
-- password change cannot keep a session made with the old password.
--
-- Existing rows start at 0 on both sides: every live session stays valid.

ALTER TABLE users ADD COLUMN credential_version bigint NOT NULL DEFAULT 0 CHECK (credential_version >= 0);

ALTER TABLE sessions ADD COLUMN credential_version bigint NOT NULL DEFAULT 0 CHECK (credential_version >= 0);

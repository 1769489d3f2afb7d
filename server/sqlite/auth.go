package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fortapi/fortapi/server"
)

// server.AuthStore on SQLite (tables of migrations/0002_auth.sql and
// 0003_web_sessions.sql).
//
// Reads run on the read-only pool with statements prepared at Open. Writes
// go through the group-commit writer as multi-statement ops (writeTx): each
// runs in a transaction, inside its own savepoint, and whatever it reads to
// decide (the user UpdateUser changes, the token RotateRefresh rotates) it
// reads inside that transaction, so no other write can slip in between the
// read and the write. Auth writes are rare (logins, refreshes, admin
// changes), so their statements are not prepared, except the event insert,
// which AddEvent runs on the one-statement fast path, and the web session
// touch.
//
// LookupWebSession runs on every request of a browser, so it is a read:
// one prepared query on the read-only pool (the credential, its session
// and its user), decided in Go. Only when the credential's last recorded
// use is touchAfter old does it write, one prepared UPDATE on the
// one-statement fast path, whose WHERE lets it only move last_seen_at
// forward: lookups racing the same touch write it once, the others change
// nothing. A revocation is seen by the first read that starts after it
// commits.

// maxEventsPage is the largest page ListEvents returns.
const maxEventsPage = 1000

// Every statement is a constant with ? placeholders; values travel only as
// arguments. The only literals are the role and revocation kind names of
// the schema itself.
const (
	userColumns  = "id, username, role, password_hash, disabled, created_at, updated_at, credential_version"
	uUserColumns = "u.id, u.username, u.role, u.password_hash, u.disabled, u.created_at, u.updated_at, u.credential_version"

	// A new user starts at credential version 0 (the column's default).
	sqlInsertUser     = "INSERT INTO users (id, username, role, password_hash, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
	sqlGetUser        = "SELECT " + userColumns + " FROM users WHERE id = ?"
	sqlGetUserByName  = "SELECT " + userColumns + " FROM users WHERE lower(username) = ? AND username = ?"
	sqlListUsers      = "SELECT " + userColumns + " FROM users WHERE id > ? ORDER BY id LIMIT ?"
	sqlUpdateUser     = "UPDATE users SET role = ?, password_hash = ?, disabled = ?, updated_at = ?, credential_version = ? WHERE id = ?"
	sqlOtherAdminLeft = "SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin' AND disabled = 0 AND id <> ?)"

	sqlInsertSession       = "INSERT INTO sessions (id, user_id, scopes, created_at, expires_at, revoked_at, credential_version) VALUES (?, ?, ?, ?, ?, ?, ?)"
	sqlGetSessionForRevoke = "SELECT user_id FROM sessions WHERE id = ?"
	sqlRevokeSession       = "UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
	sqlRevokeUserSessions  = "UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL"
	// One session revocation per live session of a user, logged with the
	// subject revocation: sessions are exact where a subject's not-before
	// (whole seconds in tokens) cannot be.
	sqlLogUserSessionRevocations = "INSERT INTO revocations (kind, value, not_before, until, created_at) " +
		"SELECT 'session', id, NULL, ?, ? FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?"
	sqlUserStanding = "SELECT role, disabled, credential_version FROM users WHERE id = ?"

	sqlInsertWebSession = "INSERT INTO web_sessions (hash, session_id, created_at, last_seen_at) VALUES (?, ?, ?, ?)"
	// The credential with its session and user, on the read-only pool.
	sqlFindWebSession = "SELECT w.last_seen_at, w.session_id, s.user_id, s.scopes, s.created_at, s.expires_at, s.revoked_at, s.credential_version, " +
		uUserColumns +
		" FROM web_sessions AS w JOIN sessions AS s ON s.id = w.session_id JOIN users AS u ON u.id = s.user_id" +
		" WHERE w.hash = ?"
	// The lazy touch: last_seen_at only moves forward, to now, and only
	// from at most the bound LookupWebSession computes (now-touchAfter).
	sqlTouchWebSession = "UPDATE web_sessions SET last_seen_at = ? WHERE hash = ? AND last_seen_at <= ?"

	sqlInsertRefresh = "INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at, rotated_at) VALUES (?, ?, ?, ?, NULL)"
	sqlRotateRefresh = "UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ? AND rotated_at IS NULL"
	// The presented token with its session and user, read inside the
	// rotating transaction.
	sqlFindRefresh = "SELECT rt.session_id, rt.expires_at, rt.rotated_at, " +
		"s.user_id, s.scopes, s.created_at, s.expires_at, s.revoked_at, s.credential_version, " + uUserColumns +
		" FROM refresh_tokens AS rt JOIN sessions AS s ON s.id = rt.session_id JOIN users AS u ON u.id = s.user_id" +
		" WHERE rt.hash = ?"
	// Whether a rotated token's successor (deterministic: the caller
	// derives it from the presented token) is its session's current
	// token: stored for that session, not rotated, not expired.
	sqlSuccessorCurrent = "SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE hash = ? AND session_id = ? AND rotated_at IS NULL AND expires_at > ?)"

	revocationColumns   = "seq, kind, value, not_before, until, created_at"
	sqlInsertRevocation = "INSERT INTO revocations (kind, value, not_before, until, created_at) VALUES (?, ?, ?, ?, ?)"
	sqlRevocations      = "SELECT " + revocationColumns + " FROM revocations WHERE seq > ? AND until > ? ORDER BY seq LIMIT ?"

	eventColumns       = "id, at, type, user_id, username, session_id, client_ip, detail"
	sqlInsertEvent     = "INSERT INTO events (at, type, user_id, username, session_id, client_ip, detail) VALUES (?, ?, ?, ?, ?, ?, ?)"
	sqlListEvents      = "SELECT " + eventColumns + " FROM events WHERE id < ? ORDER BY id DESC LIMIT ?"
	sqlListEventsType  = "SELECT " + eventColumns + " FROM events WHERE type = ? AND id < ? ORDER BY id DESC LIMIT ?"
	sqlListEventsUser  = "SELECT " + eventColumns + " FROM events WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?"
	sqlListEventsTypeU = "SELECT " + eventColumns + " FROM events WHERE type = ? AND user_id = ? AND id < ? ORDER BY id DESC LIMIT ?"

	keyColumns  = "id, alg, state, created_at, activated_at, retiring_at, retired_at, revoked_at, public, sealed"
	sqlLoadKeys = "SELECT " + keyColumns + " FROM signing_keys ORDER BY created_at, id"
	// A revoked row is final: the upsert leaves it alone (jwtkey.Store).
	sqlUpsertKey = "INSERT INTO signing_keys (" + keyColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)" +
		" ON CONFLICT (id) DO UPDATE SET alg = excluded.alg, state = excluded.state," +
		" created_at = excluded.created_at, activated_at = excluded.activated_at," +
		" retiring_at = excluded.retiring_at, retired_at = excluded.retired_at," +
		" revoked_at = excluded.revoked_at, public = excluded.public, sealed = excluded.sealed" +
		" WHERE signing_keys.revoked_at IS NULL"
)

// authStatements lists the prepared statements of the auth methods, for
// prepare and Close.
func (s *Store) authStatements() []preparedStmt {
	return []preparedStmt{
		{&s.getUser, s.reader, sqlGetUser},
		{&s.getUserByName, s.reader, sqlGetUserByName},
		{&s.listUsers, s.reader, sqlListUsers},
		{&s.revocations, s.reader, sqlRevocations},
		{&s.listEvents, s.reader, sqlListEvents},
		{&s.listEventsType, s.reader, sqlListEventsType},
		{&s.listEventsUser, s.reader, sqlListEventsUser},
		{&s.listEventsTypeU, s.reader, sqlListEventsTypeU},
		{&s.loadKeys, s.reader, sqlLoadKeys},
		{&s.insertEvent, s.writer, sqlInsertEvent},
		{&s.findWebSession, s.reader, sqlFindWebSession},
		{&s.touchWebSession, s.writer, sqlTouchWebSession},
		{&s.findAPIKey, s.reader, sqlFindAPIKey},
		{&s.touchAPIKey, s.writer, sqlTouchAPIKey},
	}
}

// Times.
//
// Times are stored as Unix microseconds and come back in UTC; a zero
// time.Time is stored as NULL (where the column allows it) and comes back
// zero.

// micro truncates t to what the database keeps: the same instant, to the
// microsecond, in UTC.
func micro(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

// nullTime is the argument for a nullable time column.
func nullTime(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromMicro(us int64) time.Time { return time.UnixMicro(us).UTC() }

func fromNullTime(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicro(n.Int64)
}

// nullBytes is the argument for a nullable BLOB: nil and empty are NULL.
func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// Input checks. A store is the last line: an empty id would otherwise
// become a row with an empty key that later lookups could match.

// The store-independent rules (role, scope syntax, revocation fields,
// event defaults) live in package server; these helpers apply them here.

func checkRole(r server.Role) error { return r.Validate() }

func checkUser(u server.User) error {
	switch {
	case u.ID == "":
		return errors.New("empty user id")
	case u.Username == "":
		return errors.New("empty username")
	}
	if err := server.CheckCanonicalUsername(u.Username); err != nil {
		return err
	}
	switch {
	case u.PasswordHash == "":
		return errors.New("empty password hash")
	case u.CreatedAt.IsZero():
		return errors.New("zero CreatedAt")
	}
	return checkRole(u.Role)
}

func splitScopes(s string) []string { return server.SplitScopes(s) }

func checkRevocation(rev server.Revocation) error { return rev.Validate() }

// isForeignKeyViolation reports whether err is SQLite refusing a row whose
// parent does not exist.
func isForeignKeyViolation(err error) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// scanUser reads one row of userColumns.
func scanUser(sc interface{ Scan(...any) error }) (server.User, error) {
	var (
		u                server.User
		role             string
		disabled         int64
		created, updated int64
	)
	if err := sc.Scan(&u.ID, &u.Username, &role, &u.PasswordHash, &disabled, &created, &updated, &u.CredentialVersion); err != nil {
		return server.User{}, err
	}
	u.Role = server.Role(role)
	u.Disabled = disabled != 0
	u.CreatedAt = fromMicro(created)
	u.UpdatedAt = fromMicro(updated)
	return u, nil
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// execEvent writes ev on tx (a no-op when ev.Type is empty); the caller has
// set ev.At.
func (s *Store) execEvent(ctx context.Context, tx *sql.Tx, ev server.Event) error {
	if ev.Type == "" {
		return nil
	}
	_, err := tx.StmtContext(ctx, s.insertEvent).ExecContext(ctx, eventArgs(ev)...)
	return err
}

func eventArgs(ev server.Event) []any {
	return []any{ev.At.UnixMicro(), ev.Type, ev.UserID, ev.Username, ev.SessionID, ev.ClientIP, ev.Detail}
}

// execRevocation appends rev, already checked, to the revocation log on tx.
func execRevocation(ctx context.Context, tx *sql.Tx, rev server.Revocation) error {
	_, err := tx.ExecContext(ctx, sqlInsertRevocation,
		string(rev.Kind), rev.Value, nullTime(rev.NotBefore), rev.Until.UnixMicro(), rev.CreatedAt.UnixMicro())
	return err
}

// fillEvent sets the fields of ev the store knows and the caller left
// empty (server.Event.Filled).
func fillEvent(ev server.Event, at time.Time, userID, username, sessionID string) server.Event {
	return ev.Filled(at, userID, username, sessionID)
}

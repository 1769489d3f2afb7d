package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fortapi/fortapi/jwtkey"
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

func joinScopes(scopes []string) (string, error) { return server.JoinScopes(scopes) }

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

// CreateUser implements server.AuthStore.
func (s *Store) CreateUser(ctx context.Context, u server.User, ev server.Event) error {
	const op = "create user"
	if err := checkUser(u); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	ev = fillEvent(ev, u.CreatedAt, u.ID, u.Username, "")
	return s.writeTx(ctx, op, func(rc context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(rc, sqlInsertUser, u.ID, u.Username, string(u.Role), u.PasswordHash,
			boolInt(u.Disabled), u.CreatedAt.UnixMicro(), u.UpdatedAt.UnixMicro())
		if err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("sqlite: %s: id or username taken: %w", op, server.ErrConflict)
			}
			return wrap(ctx, op, err)
		}
		if err := s.execEvent(rc, tx, ev); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	})
}

// fillEvent sets the fields of ev the store knows and the caller left
// empty (server.Event.Filled).
func fillEvent(ev server.Event, at time.Time, userID, username, sessionID string) server.Event {
	return ev.Filled(at, userID, username, sessionID)
}

// GetUser implements server.AuthStore.
func (s *Store) GetUser(ctx context.Context, id string) (server.User, error) {
	return s.oneUser(ctx, "get user", s.getUser, id)
}

// GetUserByName implements server.AuthStore: the user whose username is
// the canonical form of username; a username without one is ErrNotFound.
// Stored usernames are canonical and compared exactly; the lower() term
// lets the unique index of migration 0002 (on lower(username)) serve the
// lookup: a canonical name has no A-Z, so its lower() is itself.
func (s *Store) GetUserByName(ctx context.Context, username string) (server.User, error) {
	name, err := server.CanonicalUsername(username)
	if err != nil {
		return server.User{}, server.ErrNotFound
	}
	return s.oneUser(ctx, "get user by name", s.getUserByName, name, name)
}

func (s *Store) oneUser(ctx context.Context, op string, st *sql.Stmt, args ...any) (server.User, error) {
	u, err := scanUser(st.QueryRowContext(ctx, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return server.User{}, server.ErrNotFound
	}
	if err != nil {
		return server.User{}, wrap(ctx, op, err)
	}
	return u, nil
}

// ListUsers implements server.AuthStore, in ascending ID order. limit must
// be positive.
func (s *Store) ListUsers(ctx context.Context, after string, limit int) ([]server.User, error) {
	const op = "list users"
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: %s: limit is %d, want > 0", op, limit)
	}
	rows, err := s.listUsers.QueryContext(ctx, after, limit)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	defer rows.Close()
	users := make([]server.User, 0, min(limit, 128))
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, wrap(ctx, op, err)
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, op, err)
	}
	return users, nil
}

// UpdateUser implements server.AuthStore. The user is read, checked and
// written in one transaction, so IfPasswordHash and the last-admin check
// see what is changed.
func (s *Store) UpdateUser(ctx context.Context, id string, ch server.UserChange, now time.Time, ev server.Event) (server.User, error) {
	const op = "update user"
	if id == "" {
		return server.User{}, fmt.Errorf("sqlite: %s: empty user id", op)
	}
	if now.IsZero() {
		return server.User{}, fmt.Errorf("sqlite: %s: zero time", op)
	}
	if ch.Role != nil {
		if err := checkRole(*ch.Role); err != nil {
			return server.User{}, fmt.Errorf("sqlite: %s: %w", op, err)
		}
	}
	if ch.PasswordHash != nil && *ch.PasswordHash == "" {
		return server.User{}, fmt.Errorf("sqlite: %s: empty password hash", op)
	}
	var rev server.Revocation
	if ch.Revoke != nil {
		rev = *ch.Revoke
		if rev.Kind == "" {
			rev.Kind = server.RevokeSubject
		}
		if rev.Value == "" {
			rev.Value = id
		}
		if rev.CreatedAt.IsZero() {
			rev.CreatedAt = now
		}
		if rev.NotBefore.IsZero() && rev.Kind == server.RevokeSubject {
			// Zero would refuse nothing: every token issued so far.
			rev.NotBefore = now
		}
		if err := checkRevocation(rev); err != nil {
			return server.User{}, fmt.Errorf("sqlite: %s: %w", op, err)
		}
	}
	now = micro(now)

	var got server.User // set by the writer; read only after writeTx returns nil
	err := s.writeTx(ctx, op, func(rc context.Context, tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(rc, sqlGetUser, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: %s: %w", op, server.ErrNotFound)
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		if ch.IfPasswordHash != nil && *ch.IfPasswordHash != u.PasswordHash {
			return fmt.Errorf("sqlite: %s: the password hash has changed: %w", op, server.ErrConflict)
		}
		wasAdmin := u.Role == server.RoleAdmin && !u.Disabled
		if ch.Role != nil {
			u.Role = *ch.Role
		}
		if ch.Disabled != nil {
			u.Disabled = *ch.Disabled
		}
		if ch.PasswordHash != nil {
			u.PasswordHash = *ch.PasswordHash
		}
		u.UpdatedAt = now
		if ch.Revoke != nil {
			// Every change that ends the user's sessions also ends the
			// logins in flight: their CreateSession compares the version.
			u.CredentialVersion++
		}
		if wasAdmin && (u.Role != server.RoleAdmin || u.Disabled) {
			var others bool
			if err := tx.QueryRowContext(rc, sqlOtherAdminLeft, id).Scan(&others); err != nil {
				return wrap(ctx, op, err)
			}
			if !others {
				return fmt.Errorf("sqlite: %s: %w", op, server.ErrLastAdmin)
			}
		}
		if _, err := tx.ExecContext(rc, sqlUpdateUser, string(u.Role), u.PasswordHash, boolInt(u.Disabled), now.UnixMicro(), u.CredentialVersion, id); err != nil {
			return wrap(ctx, op, err)
		}
		if ch.Revoke != nil {
			if _, err := tx.ExecContext(rc, sqlLogUserSessionRevocations, rev.Until.UnixMicro(), now.UnixMicro(), id, now.UnixMicro()); err != nil {
				return wrap(ctx, op, err)
			}
			if _, err := tx.ExecContext(rc, sqlRevokeUserSessions, now.UnixMicro(), id); err != nil {
				return wrap(ctx, op, err)
			}
			if err := execRevocation(rc, tx, rev); err != nil {
				return wrap(ctx, op, err)
			}
		}
		if err := s.execEvent(rc, tx, fillEvent(ev, now, u.ID, u.Username, "")); err != nil {
			return wrap(ctx, op, err)
		}
		got = u
		return nil
	})
	if err != nil {
		return server.User{}, err
	}
	return got, nil
}

// checkNewSession checks a session CreateSession or CreateWebSession is to
// store and returns its scopes as stored.
func checkNewSession(sess server.Session) (string, error) {
	switch {
	case sess.ID == "" || sess.UserID == "":
		return "", errors.New("empty session or user id")
	case sess.CreatedAt.IsZero() || sess.ExpiresAt.IsZero():
		return "", errors.New("zero CreatedAt or ExpiresAt")
	case sess.CredentialVersion < 0:
		return "", errors.New("negative CredentialVersion")
	}
	return joinScopes(sess.Scopes)
}

// insertSession stores sess, already checked (scopes is its stored form),
// on tx, after checking in the same transaction that its user exists
// (ErrNotFound), is enabled, that its credential version is still the one
// the login read and that its current role grants every scope of sess
// (ErrConflict): a login that raced a password change, a disable or a
// role change must not start a session with what the user no longer has.
// A session id already stored is ErrConflict. ctx is the caller's, for
// wrap.
func insertSession(ctx, rc context.Context, tx *sql.Tx, op string, sess server.Session, scopes string) error {
	var role string
	var disabled int
	var version int64
	err := tx.QueryRowContext(rc, sqlUserStanding, sess.UserID).Scan(&role, &disabled, &version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlite: %s: no such user: %w", op, server.ErrNotFound)
	case err != nil:
		return wrap(ctx, op, err)
	case disabled != 0:
		return fmt.Errorf("sqlite: %s: the user is disabled: %w", op, server.ErrConflict)
	case version != sess.CredentialVersion:
		return fmt.Errorf("sqlite: %s: the user's credentials changed after the login read them: %w", op, server.ErrConflict)
	}
	granted := server.Role(role).Scopes()
	for _, sc := range sess.Scopes {
		if !slices.Contains(granted, sc) {
			return fmt.Errorf("sqlite: %s: the scope %q is not granted to the user's role: %w", op, sc, server.ErrConflict)
		}
	}
	_, err = tx.ExecContext(rc, sqlInsertSession, sess.ID, sess.UserID, scopes,
		sess.CreatedAt.UnixMicro(), sess.ExpiresAt.UnixMicro(), nullTime(sess.RevokedAt), sess.CredentialVersion)
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("sqlite: %s: session id taken: %w", op, server.ErrConflict)
	case isForeignKeyViolation(err):
		return fmt.Errorf("sqlite: %s: no such user: %w", op, server.ErrNotFound)
	case err != nil:
		return wrap(ctx, op, err)
	}
	return nil
}

// CreateSession implements server.AuthStore. An unknown user is
// ErrNotFound; a session id or token hash already stored is ErrConflict.
func (s *Store) CreateSession(ctx context.Context, sess server.Session, rt server.RefreshToken, ev server.Event) error {
	const op = "create session"
	scopes, err := checkNewSession(sess)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	switch {
	case rt.SessionID != "" && rt.SessionID != sess.ID:
		return fmt.Errorf("sqlite: %s: the refresh token names another session", op)
	case len(rt.Hash) == 0:
		return fmt.Errorf("sqlite: %s: empty refresh token hash", op)
	case rt.ExpiresAt.IsZero():
		return fmt.Errorf("sqlite: %s: refresh token with a zero ExpiresAt", op)
	}
	if rt.CreatedAt.IsZero() {
		rt.CreatedAt = sess.CreatedAt
	}
	ev = fillEvent(ev, sess.CreatedAt, sess.UserID, "", sess.ID)
	return s.writeTx(ctx, op, func(rc context.Context, tx *sql.Tx) error {
		if err := insertSession(ctx, rc, tx, op, sess, scopes); err != nil {
			return err
		}
		_, err := tx.ExecContext(rc, sqlInsertRefresh, rt.Hash, sess.ID, rt.CreatedAt.UnixMicro(), rt.ExpiresAt.UnixMicro())
		if isUniqueViolation(err) {
			return fmt.Errorf("sqlite: %s: refresh token hash taken: %w", op, server.ErrConflict)
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		if err := s.execEvent(rc, tx, ev); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	})
}

// CreateWebSession implements server.AuthStore: the session as
// CreateSession stores it (same checks, in the transaction), then its
// cookie credential, then ev.
func (s *Store) CreateWebSession(ctx context.Context, sess server.Session, ws server.WebSession, ev server.Event) error {
	const op = "create web session"
	scopes, err := checkNewSession(sess)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if ws.CreatedAt.IsZero() {
		ws.CreatedAt = sess.CreatedAt
	}
	if ws.LastSeenAt.IsZero() {
		ws.LastSeenAt = ws.CreatedAt
	}
	switch {
	case ws.SessionID != "" && ws.SessionID != sess.ID:
		return fmt.Errorf("sqlite: %s: the web session names another session", op)
	case len(ws.Hash) != sha256.Size:
		return fmt.Errorf("sqlite: %s: web session hash of %d bytes, want %d (SHA-256)", op, len(ws.Hash), sha256.Size)
	case ws.LastSeenAt.UnixMicro() < ws.CreatedAt.UnixMicro():
		return fmt.Errorf("sqlite: %s: web session LastSeenAt before its CreatedAt", op)
	}
	ev = fillEvent(ev, sess.CreatedAt, sess.UserID, "", sess.ID)
	return s.writeTx(ctx, op, func(rc context.Context, tx *sql.Tx) error {
		if err := insertSession(ctx, rc, tx, op, sess, scopes); err != nil {
			return err
		}
		_, err := tx.ExecContext(rc, sqlInsertWebSession, ws.Hash, sess.ID, ws.CreatedAt.UnixMicro(), ws.LastSeenAt.UnixMicro())
		if isUniqueViolation(err) {
			return fmt.Errorf("sqlite: %s: web session hash taken: %w", op, server.ErrConflict)
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		if err := s.execEvent(rc, tx, ev); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	})
}

// LookupWebSession implements server.AuthStore. Every refusal is the bare
// server.ErrNotFound, the same value and text whatever the reason. The
// credential, its session and its user are read in one query on the
// read-only pool; the touch, when due, is one UPDATE through the writer
// (see the top of this file).
func (s *Store) LookupWebSession(ctx context.Context, hash []byte, now time.Time, idle, touchAfter time.Duration) (server.Session, server.User, error) {
	const op = "look up web session"
	switch {
	case len(hash) != sha256.Size:
		return server.Session{}, server.User{}, fmt.Errorf("sqlite: %s: hash of %d bytes, want %d (SHA-256)", op, len(hash), sha256.Size)
	case now.IsZero():
		return server.Session{}, server.User{}, fmt.Errorf("sqlite: %s: zero time", op)
	case idle <= 0:
		return server.Session{}, server.User{}, fmt.Errorf("sqlite: %s: idle timeout %v, want > 0", op, idle)
	case touchAfter < 0 || touchAfter >= idle:
		return server.Session{}, server.User{}, fmt.Errorf("sqlite: %s: touchAfter %v, want 0 <= touchAfter < idle (%v)", op, touchAfter, idle)
	}
	now = micro(now)
	var (
		sess                      server.Session
		scopes                    string
		lastSeen                  int64
		sessRevoked               sql.NullInt64
		sessCreated, sessExpires  int64
		uID, uName, uRole, uHash  string
		uDisabled, uCreated, uUpd int64
		uVersion                  int64
	)
	err := s.findWebSession.QueryRowContext(ctx, hash).Scan(
		&lastSeen, &sess.ID,
		&sess.UserID, &scopes, &sessCreated, &sessExpires, &sessRevoked, &sess.CredentialVersion,
		&uID, &uName, &uRole, &uHash, &uDisabled, &uCreated, &uUpd, &uVersion)
	if errors.Is(err, sql.ErrNoRows) {
		return server.Session{}, server.User{}, server.ErrNotFound
	}
	if err != nil {
		return server.Session{}, server.User{}, wrap(ctx, op, err)
	}
	seen := fromMicro(lastSeen)
	if sessRevoked.Valid || now.UnixMicro() >= sessExpires || uDisabled != 0 || !now.Before(seen.Add(idle)) ||
		sess.CredentialVersion != uVersion {
		return server.Session{}, server.User{}, server.ErrNotFound
	}
	user := server.User{
		ID: uID, Username: uName, Role: server.Role(uRole), PasswordHash: uHash,
		Disabled: uDisabled != 0, CreatedAt: fromMicro(uCreated), UpdatedAt: fromMicro(uUpd),
		CredentialVersion: uVersion,
	}
	// Defence in depth: only the scopes the role grants now. A demotion
	// without Revoke leaves the session alive but takes the scopes away.
	granted := user.Role.Scopes()
	for _, sc := range splitScopes(scopes) {
		if slices.Contains(granted, sc) {
			sess.Scopes = append(sess.Scopes, sc)
		}
	}
	sess.CreatedAt = fromMicro(sessCreated)
	sess.ExpiresAt = fromMicro(sessExpires)

	if !now.Before(seen.Add(touchAfter)) && seen.Before(now) {
		// Seen touchAfter or longer ago. The bound makes the UPDATE a
		// no-op when another lookup (or process) has touched it since the
		// read: last_seen_at only moves forward.
		bound := min(now.Add(-touchAfter).UnixMicro(), now.UnixMicro()-1)
		args := []any{now.UnixMicro(), hash, bound}
		err := s.write(ctx, op, func(rc context.Context, stmt func(*sql.Stmt) *sql.Stmt) error {
			if _, err := stmt(s.touchWebSession).ExecContext(rc, args...); err != nil {
				return wrap(ctx, op, err)
			}
			return nil
		})
		if err != nil {
			return server.Session{}, server.User{}, err
		}
	}
	return sess, user, nil
}

// RotateRefresh implements server.AuthStore. The presented token, its
// session and its user are read in the transaction that rotates it, so two
// refreshes with one token are decided one after the other: the first
// rotates it and stores its successor, the next ones (within the grace)
// find that successor stored and current and store nothing. A Reused
// outcome commits (the session's revocation must stick) and returns a nil
// error.
func (s *Store) RotateRefresh(ctx context.Context, req server.RefreshRequest) (server.RefreshResult, error) {
	const op = "rotate refresh token"
	switch {
	case len(req.Hash) == 0 || len(req.Next.Hash) == 0:
		return server.RefreshResult{}, fmt.Errorf("sqlite: %s: empty token hash", op)
	case req.Now.IsZero():
		return server.RefreshResult{}, fmt.Errorf("sqlite: %s: zero Now", op)
	case req.Next.ExpiresAt.IsZero():
		return server.RefreshResult{}, fmt.Errorf("sqlite: %s: next token with a zero ExpiresAt", op)
	case req.Grace < 0:
		return server.RefreshResult{}, fmt.Errorf("sqlite: %s: negative grace %v", op, req.Grace)
	}
	now := micro(req.Now)
	rev := req.Revoke
	if rev.Kind == "" {
		rev.Kind = server.RevokeSession
	}
	if rev.CreatedAt.IsZero() {
		rev.CreatedAt = now
	}
	// The value is filled in below; check the rest now, so that a bad
	// request fails on every refresh, not only on the rare reuse.
	if err := checkRevocation(withValue(rev, "-")); err != nil {
		return server.RefreshResult{}, fmt.Errorf("sqlite: %s: reuse revocation: %w", op, err)
	}
	next := req.Next
	if next.CreatedAt.IsZero() {
		next.CreatedAt = now
	}

	var res server.RefreshResult // set by the writer; read only after writeTx returns nil
	err := s.writeTx(ctx, op, func(rc context.Context, tx *sql.Tx) error {
		var (
			sess                      server.Session
			scopes                    string
			rtExpires                 int64
			rtRotated, sessRevoked    sql.NullInt64
			sessCreated, sessExpires  int64
			uID, uName, uRole, uHash  string
			uDisabled, uCreated, uUpd int64
			uVersion                  int64
		)
		err := tx.QueryRowContext(rc, sqlFindRefresh, req.Hash).Scan(
			&sess.ID, &rtExpires, &rtRotated,
			&sess.UserID, &scopes, &sessCreated, &sessExpires, &sessRevoked, &sess.CredentialVersion,
			&uID, &uName, &uRole, &uHash, &uDisabled, &uCreated, &uUpd, &uVersion)
		if errors.Is(err, sql.ErrNoRows) {
			res = server.RefreshResult{Outcome: server.RefreshInvalid}
			return nil
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		if now.UnixMicro() >= rtExpires || now.UnixMicro() >= sessExpires || sessRevoked.Valid || uDisabled != 0 ||
			sess.CredentialVersion != uVersion {
			res = server.RefreshResult{Outcome: server.RefreshInvalid}
			return nil
		}
		sess.Scopes = splitScopes(scopes)
		sess.CreatedAt = fromMicro(sessCreated)
		sess.ExpiresAt = fromMicro(sessExpires)
		user := server.User{
			ID: uID, Username: uName, Role: server.Role(uRole), PasswordHash: uHash,
			Disabled: uDisabled != 0, CreatedAt: fromMicro(uCreated), UpdatedAt: fromMicro(uUpd),
			CredentialVersion: uVersion,
		}

		if rtRotated.Valid {
			// Presented again. Within the grace window, while the
			// successor its rotation stored is still the session's
			// current token, it is a client's concurrent refresh: it gets
			// that same successor (Next, derived from the presented token
			// by the caller), never a second chain. Otherwise the token
			// was stolen (or the client replayed it late): end the
			// session.
			since := now.Sub(fromMicro(rtRotated.Int64))
			if req.Grace > 0 && since < req.Grace {
				var current bool
				if err := tx.QueryRowContext(rc, sqlSuccessorCurrent, next.Hash, sess.ID, now.UnixMicro()).Scan(&current); err != nil {
					return wrap(ctx, op, err)
				}
				if current {
					res = server.RefreshResult{Outcome: server.RefreshRotated, Replay: true, Session: sess, User: user}
					return nil
				}
			}
			if _, err := tx.ExecContext(rc, sqlRevokeSession, now.UnixMicro(), sess.ID); err != nil {
				return wrap(ctx, op, err)
			}
			if err := execRevocation(rc, tx, withValue(rev, sess.ID)); err != nil {
				return wrap(ctx, op, err)
			}
			ev := req.Event
			if ev.Type == "" {
				ev.Type = server.EventRefreshReuse
			}
			if err := s.execEvent(rc, tx, fillEvent(ev, now, user.ID, user.Username, sess.ID)); err != nil {
				return wrap(ctx, op, err)
			}
			sess.RevokedAt = now
			res = server.RefreshResult{Outcome: server.RefreshReused, Session: sess, User: user}
			return nil
		}
		if _, err := tx.ExecContext(rc, sqlRotateRefresh, now.UnixMicro(), req.Hash); err != nil {
			return wrap(ctx, op, err)
		}
		_, err = tx.ExecContext(rc, sqlInsertRefresh, next.Hash, sess.ID, next.CreatedAt.UnixMicro(), next.ExpiresAt.UnixMicro())
		if isUniqueViolation(err) {
			return fmt.Errorf("sqlite: %s: next token hash taken: %w", op, server.ErrConflict)
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		res = server.RefreshResult{Outcome: server.RefreshRotated, Session: sess, User: user}
		return nil
	})
	if err != nil {
		return server.RefreshResult{}, err
	}
	return res, nil
}

// withValue returns rev with Value set to v when it has none.
func withValue(rev server.Revocation, v string) server.Revocation {
	if rev.Value == "" {
		rev.Value = v
	}
	return rev
}

// RevokeSession implements server.AuthStore. An unknown session is
// ErrNotFound. rev and ev are written even when the session was already
// revoked (its RevokedAt then stays as it was).
func (s *Store) RevokeSession(ctx context.Context, sessionID string, rev server.Revocation, now time.Time, ev server.Event) error {
	const op = "revoke session"
	if sessionID == "" {
		return fmt.Errorf("sqlite: %s: empty session id", op)
	}
	if now.IsZero() {
		return fmt.Errorf("sqlite: %s: zero time", op)
	}
	now = micro(now)
	if rev.Kind == "" {
		rev.Kind = server.RevokeSession
	}
	rev = withValue(rev, sessionID)
	if rev.CreatedAt.IsZero() {
		rev.CreatedAt = now
	}
	if err := checkRevocation(rev); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return s.writeTx(ctx, op, func(rc context.Context, tx *sql.Tx) error {
		var userID string
		err := tx.QueryRowContext(rc, sqlGetSessionForRevoke, sessionID).Scan(&userID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: %s: %w", op, server.ErrNotFound)
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		if _, err := tx.ExecContext(rc, sqlRevokeSession, now.UnixMicro(), sessionID); err != nil {
			return wrap(ctx, op, err)
		}
		if err := execRevocation(rc, tx, rev); err != nil {
			return wrap(ctx, op, err)
		}
		if err := s.execEvent(rc, tx, fillEvent(ev, now, userID, "", sessionID)); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	})
}

// AddRevocation implements server.AuthStore. A zero CreatedAt is set to
// the current time.
func (s *Store) AddRevocation(ctx context.Context, rev server.Revocation) error {
	const op = "add revocation"
	if err := checkRevocation(rev); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if rev.CreatedAt.IsZero() {
		rev.CreatedAt = time.Now()
	}
	return s.writeTx(ctx, op, func(rc context.Context, tx *sql.Tx) error {
		if err := execRevocation(rc, tx, rev); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	})
}

// The statements of PruneExpired, in order: tokens and web session
// credentials first (they reference sessions), then sessions past their
// end, then the revocation log. A web session credential goes only with
// its session (see server.AuthStore.PruneExpired).
const (
	sqlPruneTokens      = "DELETE FROM refresh_tokens WHERE expires_at <= ? OR session_id IN (SELECT id FROM sessions WHERE expires_at <= ?)"
	sqlPruneWebSessions = "DELETE FROM web_sessions WHERE session_id IN (SELECT id FROM sessions WHERE expires_at <= ?)"
	sqlPruneSessions    = "DELETE FROM sessions WHERE expires_at <= ?"
	sqlPruneRevocations = "DELETE FROM revocations WHERE until <= ?"
)

// PruneExpired implements server.AuthStore, in one transaction.
func (s *Store) PruneExpired(ctx context.Context, now time.Time) (int64, error) {
	const op = "prune expired"
	if now.IsZero() {
		return 0, fmt.Errorf("sqlite: %s: zero time", op)
	}
	at := now.UnixMicro()
	var total int64 // set by the writer; read only after writeTx returns nil
	err := s.writeTx(ctx, op, func(rc context.Context, tx *sql.Tx) error {
		var n int64
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{sqlPruneTokens, []any{at, at}},
			{sqlPruneWebSessions, []any{at}},
			{sqlPruneSessions, []any{at}},
			{sqlPruneRevocations, []any{at}},
		} {
			res, err := tx.ExecContext(rc, q.sql, q.args...)
			if err != nil {
				return wrap(ctx, op, err)
			}
			k, err := res.RowsAffected()
			if err != nil {
				return wrap(ctx, op, err)
			}
			n += k
		}
		total = n
		return nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}

// Revocations implements server.AuthStore. limit must be positive.
func (s *Store) Revocations(ctx context.Context, afterSeq int64, now time.Time, limit int) ([]server.Revocation, error) {
	const op = "list revocations"
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: %s: limit is %d, want > 0", op, limit)
	}
	rows, err := s.revocations.QueryContext(ctx, afterSeq, now.UnixMicro(), limit)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	defer rows.Close()
	var out []server.Revocation
	for rows.Next() {
		var (
			r              server.Revocation
			kind           string
			notBefore      sql.NullInt64
			until, created int64
		)
		if err := rows.Scan(&r.Seq, &kind, &r.Value, &notBefore, &until, &created); err != nil {
			return nil, wrap(ctx, op, err)
		}
		r.Kind = server.RevocationKind(kind)
		r.NotBefore = fromNullTime(notBefore)
		r.Until = fromMicro(until)
		r.CreatedAt = fromMicro(created)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, op, err)
	}
	return out, nil
}

// AddEvent implements server.AuthStore. A zero At is set to the current
// time. It is one statement, so it takes the writer's fast path.
func (s *Store) AddEvent(ctx context.Context, ev server.Event) error {
	const op = "add event"
	if ev.Type == "" {
		return fmt.Errorf("sqlite: %s: empty event type", op)
	}
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	args := eventArgs(ev)
	return s.write(ctx, op, func(rc context.Context, stmt func(*sql.Stmt) *sql.Stmt) error {
		if _, err := stmt(s.insertEvent).ExecContext(rc, args...); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	})
}

// ListEvents implements server.AuthStore. f.Limit must be 1..1000.
func (s *Store) ListEvents(ctx context.Context, f server.EventFilter) ([]server.Event, error) {
	const op = "list events"
	if f.Limit <= 0 || f.Limit > maxEventsPage {
		return nil, fmt.Errorf("sqlite: %s: limit is %d, want 1..%d", op, f.Limit, maxEventsPage)
	}
	if f.BeforeID < 0 {
		return nil, fmt.Errorf("sqlite: %s: BeforeID is %d, want >= 0", op, f.BeforeID)
	}
	before := f.BeforeID
	if before == 0 {
		before = math.MaxInt64
	}
	var (
		rows *sql.Rows
		err  error
	)
	switch {
	case f.Type != "" && f.UserID != "":
		rows, err = s.listEventsTypeU.QueryContext(ctx, f.Type, f.UserID, before, f.Limit)
	case f.Type != "":
		rows, err = s.listEventsType.QueryContext(ctx, f.Type, before, f.Limit)
	case f.UserID != "":
		rows, err = s.listEventsUser.QueryContext(ctx, f.UserID, before, f.Limit)
	default:
		rows, err = s.listEvents.QueryContext(ctx, before, f.Limit)
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	defer rows.Close()
	var out []server.Event
	for rows.Next() {
		var (
			ev server.Event
			at int64
		)
		if err := rows.Scan(&ev.ID, &at, &ev.Type, &ev.UserID, &ev.Username, &ev.SessionID, &ev.ClientIP, &ev.Detail); err != nil {
			return nil, wrap(ctx, op, err)
		}
		ev.At = fromMicro(at)
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, op, err)
	}
	return out, nil
}

// LoadKeys implements jwtkey.Store: every key, oldest first (zero
// CreatedAt first), then by ID. Empty Public and Sealed come back nil.
func (s *Store) LoadKeys(ctx context.Context) ([]jwtkey.StoredKey, error) {
	const op = "load signing keys"
	rows, err := s.loadKeys.QueryContext(ctx)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	defer rows.Close()
	var out []jwtkey.StoredKey
	for rows.Next() {
		var (
			k                                     jwtkey.StoredKey
			alg, state                            string
			created, activated, retiring, retired sql.NullInt64
			revoked                               sql.NullInt64
		)
		if err := rows.Scan(&k.ID, &alg, &state, &created, &activated, &retiring, &retired, &revoked, &k.Public, &k.Sealed); err != nil {
			return nil, wrap(ctx, op, err)
		}
		k.Alg = jwtkey.Alg(alg)
		k.State = jwtkey.State(state)
		k.CreatedAt = fromNullTime(created)
		k.ActivatedAt = fromNullTime(activated)
		k.RetiringAt = fromNullTime(retiring)
		k.RetiredAt = fromNullTime(retired)
		k.RevokedAt = fromNullTime(revoked)
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, op, err)
	}
	return out, nil
}

// SaveKeys implements jwtkey.Store: an upsert of every key in one
// transaction, all or none. An empty ID, Alg or State, or an ID given
// twice, is refused before anything is written. A stored row that is
// already revoked is left unchanged.
func (s *Store) SaveKeys(ctx context.Context, keys []jwtkey.StoredKey) error {
	const op = "save signing keys"
	seen := make(map[string]bool, len(keys))
	for _, k := range keys {
		switch {
		case k.ID == "":
			return fmt.Errorf("sqlite: %s: key without an ID", op)
		case k.Alg == "" || k.State == "":
			return fmt.Errorf("sqlite: %s: key %q without an Alg or State", op, k.ID)
		case seen[k.ID]:
			return fmt.Errorf("sqlite: %s: key %q given twice", op, k.ID)
		}
		seen[k.ID] = true
	}
	if len(keys) == 0 {
		return nil
	}
	return s.writeTx(ctx, op, func(rc context.Context, tx *sql.Tx) error {
		for _, k := range keys {
			_, err := tx.ExecContext(rc, sqlUpsertKey, k.ID, string(k.Alg), string(k.State),
				nullTime(k.CreatedAt), nullTime(k.ActivatedAt), nullTime(k.RetiringAt),
				nullTime(k.RetiredAt), nullTime(k.RevokedAt), nullBytes(k.Public), nullBytes(k.Sealed))
			if err != nil {
				return wrap(ctx, op, err)
			}
		}
		return nil
	})
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fortapi/fortapi/server"
)

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
	rt, err := rt.CheckNew(sess)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return s.createSession(ctx, op, sess, ev, "refresh token", func(rc context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(rc, sqlInsertRefresh, rt.Hash, sess.ID, rt.CreatedAt.UnixMicro(), rt.ExpiresAt.UnixMicro())
		return err
	})
}

// CreateWebSession implements server.AuthStore: the session as
// CreateSession stores it (same checks, in the transaction), then its
// cookie credential, then ev.
func (s *Store) CreateWebSession(ctx context.Context, sess server.Session, ws server.WebSession, ev server.Event) error {
	const op = "create web session"
	ws, err := ws.CheckNew(sess)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	return s.createSession(ctx, op, sess, ev, "web session", func(rc context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(rc, sqlInsertWebSession, ws.Hash, sess.ID, ws.CreatedAt.UnixMicro(), ws.LastSeenAt.UnixMicro())
		return err
	})
}

// createSession checks sess and stores it, its credential (insertCred,
// whose unique violation means the credential's hash is taken: what names
// it) and ev, in one transaction.
func (s *Store) createSession(ctx context.Context, op string, sess server.Session, ev server.Event, what string, insertCred func(rc context.Context, tx *sql.Tx) error) error {
	scopes, err := sess.CheckNew()
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	ev = fillEvent(ev, sess.CreatedAt, sess.UserID, "", sess.ID)
	return s.writeTx(ctx, op, func(rc context.Context, tx *sql.Tx) error {
		if err := insertSession(ctx, rc, tx, op, sess, scopes); err != nil {
			return err
		}
		err := insertCred(rc, tx)
		if isUniqueViolation(err) {
			return fmt.Errorf("sqlite: %s: %s hash taken: %w", op, what, server.ErrConflict)
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
	if err := server.CheckWebSessionLookup(hash, now, idle, touchAfter); err != nil {
		return server.Session{}, server.User{}, fmt.Errorf("sqlite: %s: %w", op, err)
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
	sess.Scopes = splitScopes(scopes)
	sess.CreatedAt = fromMicro(sessCreated)
	sess.ExpiresAt = fromMicro(sessExpires)
	sess.RevokedAt = fromNullTime(sessRevoked)
	user := server.User{
		ID: uID, Username: uName, Role: server.Role(uRole), PasswordHash: uHash,
		Disabled: uDisabled != 0, CreatedAt: fromMicro(uCreated), UpdatedAt: fromMicro(uUpd),
		CredentialVersion: uVersion,
	}
	v := server.DecideWebSession(fromMicro(lastSeen), sess, user, now, idle, touchAfter)
	if !v.Live {
		return server.Session{}, server.User{}, server.ErrNotFound
	}
	if v.Touch {
		// The bound makes the UPDATE a no-op when another lookup (or
		// process) has touched it since the read: last_seen_at only moves
		// forward.
		args := []any{now.UnixMicro(), hash, v.TouchBound.UnixMicro()}
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
	return v.Session, user, nil
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
	req, err := req.Normalize()
	if err != nil {
		return server.RefreshResult{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	now, next := req.Now, req.Next

	var res server.RefreshResult // set by the writer; read only after writeTx returns nil
	err = s.writeTx(ctx, op, func(rc context.Context, tx *sql.Tx) error {
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
		sess.Scopes = splitScopes(scopes)
		sess.CreatedAt = fromMicro(sessCreated)
		sess.ExpiresAt = fromMicro(sessExpires)
		sess.RevokedAt = fromNullTime(sessRevoked)
		user := server.User{
			ID: uID, Username: uName, Role: server.Role(uRole), PasswordHash: uHash,
			Disabled: uDisabled != 0, CreatedAt: fromMicro(uCreated), UpdatedAt: fromMicro(uUpd),
			CredentialVersion: uVersion,
		}
		st := server.RefreshState{
			Token:   server.RefreshToken{ExpiresAt: fromMicro(rtExpires), RotatedAt: fromNullTime(rtRotated)},
			Session: sess,
			User:    user,
		}
		decision, err := server.DecideRefresh(st, now, req.Grace, func() (bool, error) {
			var current bool
			err := tx.QueryRowContext(rc, sqlSuccessorCurrent, next.Hash, sess.ID, now.UnixMicro()).Scan(&current)
			return current, err
		})
		if err != nil {
			return wrap(ctx, op, err)
		}
		switch decision {
		case server.RefreshRefuse:
			res = server.RefreshResult{Outcome: server.RefreshInvalid}
			return nil
		case server.RefreshReplay:
			res = server.RefreshResult{Outcome: server.RefreshRotated, Replay: true, Session: sess, User: user}
			return nil
		case server.RefreshRevoke:
			rev, ev := req.Reuse(sess, user)
			if _, err := tx.ExecContext(rc, sqlRevokeSession, now.UnixMicro(), sess.ID); err != nil {
				return wrap(ctx, op, err)
			}
			if err := execRevocation(rc, tx, rev); err != nil {
				return wrap(ctx, op, err)
			}
			if err := s.execEvent(rc, tx, ev); err != nil {
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

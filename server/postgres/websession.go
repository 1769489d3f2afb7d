package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fortapi/fortapi/server"
)

// Web session credentials (migrations/0003_web_sessions.sql).
//
// LookupWebSession runs on every request of a browser, so it is a read:
// one query (the credential, its session and its user), decided in Go.
// Only when the credential's last recorded use is touchAfter old does it
// write, one UPDATE whose WHERE lets it only move last_seen_at forward:
// lookups racing the same touch write it once (the others, after waiting
// for the row, find the new value and change nothing). A revocation is
// seen by the first lookup that starts after it commits.

const (
	sqlInsertWebSession = "INSERT INTO web_sessions (hash, session_id, created_at, last_seen_at) VALUES ($1, $2, $3, $4)"
	sqlFindWebSession   = "SELECT w.last_seen_at, w.session_id, s.user_id, s.scopes, s.created_at, s.expires_at, s.revoked_at, s.credential_version, " +
		uUserColumns +
		" FROM web_sessions AS w JOIN sessions AS s ON s.id = w.session_id JOIN users AS u ON u.id = s.user_id" +
		" WHERE w.hash = $1"
	// The lazy touch: last_seen_at only moves forward, to now, and only
	// from at most the bound LookupWebSession computes (now-touchAfter).
	sqlTouchWebSession = "UPDATE web_sessions SET last_seen_at = $1 WHERE hash = $2 AND last_seen_at <= $3"
)

// CreateWebSession implements server.AuthStore: the session as
// CreateSession stores it (same checks, in the transaction), then its
// cookie credential, then ev.
func (s *Store) CreateWebSession(ctx context.Context, sess server.Session, ws server.WebSession, ev server.Event) error {
	const op = "create web session"
	ws, err := ws.CheckNew(sess)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	return s.createSession(ctx, op, sess, ev, "web session", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sqlInsertWebSession, ws.Hash, raw(sess.ID), micro(ws.CreatedAt), micro(ws.LastSeenAt))
		return err
	})
}

// LookupWebSession implements server.AuthStore. Every refusal is the bare
// server.ErrNotFound, the same value and text whatever the reason.
func (s *Store) LookupWebSession(ctx context.Context, hash []byte, now time.Time, idle, touchAfter time.Duration) (server.Session, server.User, error) {
	const op = "look up web session"
	if err := server.CheckWebSessionLookup(hash, now, idle, touchAfter); err != nil {
		return server.Session{}, server.User{}, fmt.Errorf("postgres: %s: %w", op, err)
	}
	now = micro(now)
	var (
		sess                  server.Session
		user                  server.User
		scopes                string
		seen                  time.Time
		sessRevoked           *time.Time
		sessCreated, sessEnds time.Time
	)
	dest := append([]any{&seen, str(&sess.ID), str(&sess.UserID), &scopes, &sessCreated, &sessEnds, &sessRevoked,
		&sess.CredentialVersion}, userDest(&user)...)
	err := s.pool.QueryRow(ctx, sqlFindWebSession, hash).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return server.Session{}, server.User{}, server.ErrNotFound
	}
	if err != nil {
		return server.Session{}, server.User{}, wrap(ctx, op, err)
	}
	user = utcUser(user)
	sess.Scopes = server.SplitScopes(scopes)
	sess.CreatedAt = sessCreated.UTC()
	sess.ExpiresAt = sessEnds.UTC()
	sess.RevokedAt = fromNull(sessRevoked)
	v := server.DecideWebSession(seen.UTC(), sess, user, now, idle, touchAfter)
	if !v.Live {
		return server.Session{}, server.User{}, server.ErrNotFound
	}
	if v.Touch {
		// The bound makes the UPDATE a no-op when another lookup (or
		// process) has touched it since the read: last_seen_at only moves
		// forward.
		if _, err := s.pool.Exec(ctx, sqlTouchWebSession, now, hash, v.TouchBound); err != nil {
			return server.Session{}, server.User{}, wrap(ctx, op, err)
		}
	}
	return v.Session, user, nil
}

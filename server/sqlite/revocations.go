package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/fortapi/fortapi/server"
)

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
	rev = rev.WithDefaults(server.RevokeSession, sessionID, now)
	if err := rev.Validate(); err != nil {
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
	return scanEvents(ctx, op, rows)
}

// scanEvents reads rows of eventColumns and closes them.
func scanEvents(ctx context.Context, op string, rows *sql.Rows) ([]server.Event, error) {
	defer rows.Close()
	var out []server.Event
	for rows.Next() {
		var (
			ev server.Event
			at int64
		)
		if err := rows.Scan(&ev.ID, &at, &ev.Type, &ev.UserID, &ev.Username, &ev.SessionID, &ev.ClientIP, &ev.Detail, &ev.Actor, &ev.RequestID); err != nil {
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

// EventsInOrder implements server.AuthStore.
func (s *Store) EventsInOrder(ctx context.Context, after server.EventCursor, until time.Time, limit int) ([]server.Event, error) {
	const op = "events in order"
	if err := server.CheckEventBatch(limit); err != nil {
		return nil, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	end := int64(math.MaxInt64)
	if !until.IsZero() {
		end = until.UnixMicro()
	}
	start := int64(math.MinInt64)
	if !after.At.IsZero() {
		start = after.At.UnixMicro()
	}
	rows, err := s.reader.QueryContext(ctx, sqlEventsInOrder, start, after.ID, end, limit)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	return scanEvents(ctx, op, rows)
}

// PruneEvents implements server.AuthStore. It is one statement on the
// writer's fast path: a batch holds the write lock only as long as
// deleting limit rows takes.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	const op = "prune events"
	if err := server.CheckEventBatch(limit); err != nil {
		return 0, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if before.IsZero() {
		return 0, fmt.Errorf("sqlite: %s: zero time", op)
	}
	var n int64 // set by the writer; read only after write returns nil
	err := s.write(ctx, op, func(rc context.Context, stmt func(*sql.Stmt) *sql.Stmt) error {
		res, err := stmt(s.pruneEvents).ExecContext(rc, before.UnixMicro(), limit)
		if err != nil {
			return wrap(ctx, op, err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

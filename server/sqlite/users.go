package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fortapi/fortapi/server"
)

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
	ch, err := ch.Normalize(id, now)
	if err != nil {
		return server.User{}, fmt.Errorf("sqlite: %s: %w", op, err)
	}
	now = micro(now)

	var got server.User // set by the writer; read only after writeTx returns nil
	err = s.writeTx(ctx, op, func(rc context.Context, tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(rc, sqlGetUser, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: %s: %w", op, server.ErrNotFound)
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		u, checkLastAdmin, err := ch.Apply(u, now)
		if err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		if checkLastAdmin {
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
			if _, err := tx.ExecContext(rc, sqlLogUserSessionRevocations, ch.Revoke.Until.UnixMicro(), now.UnixMicro(), id, now.UnixMicro()); err != nil {
				return wrap(ctx, op, err)
			}
			if _, err := tx.ExecContext(rc, sqlRevokeUserSessions, now.UnixMicro(), id); err != nil {
				return wrap(ctx, op, err)
			}
			if err := execRevocation(rc, tx, *ch.Revoke); err != nil {
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

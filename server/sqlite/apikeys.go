package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fortapi/fortapi/server"
)

// server.APIKeyStore on SQLite (migrations/0005_api_keys.sql). LookupAPIKey
// runs on every request made with a key: one prepared query on the
// read-only pool (the key and its user). The use is recorded by
// TouchAPIKey, one prepared UPDATE on the writer's fast path, at most once
// per touch interval: its WHERE lets last_used_at only move forward.

const (
	apiKeyColumns   = "k.id, k.user_id, k.name, k.hash, k.scopes, k.allowed_cidrs, k.created_at, k.expires_at, k.last_used_at, k.credential_version"
	sqlInsertAPIKey = "INSERT INTO api_keys (id, user_id, name, hash, scopes, allowed_cidrs, created_at, expires_at, last_used_at, credential_version)" +
		" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	sqlCountAPIKeys = "SELECT count(*) FROM api_keys WHERE user_id = ?"
	sqlListAPIKeys  = "SELECT " + apiKeyColumns + " FROM api_keys AS k WHERE k.user_id = ? ORDER BY k.created_at, k.id"
	sqlFindAPIKey   = "SELECT " + apiKeyColumns + ", " + uUserColumns +
		" FROM api_keys AS k JOIN users AS u ON u.id = k.user_id WHERE k.id = ?"
	sqlTouchAPIKey  = "UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at <= ?)"
	sqlDeleteAPIKey = "DELETE FROM api_keys WHERE id = ? AND user_id = ?"
)

// CreateAPIKey implements server.APIKeyStore.
func (s *Store) CreateAPIKey(ctx context.Context, k server.APIKey, ev server.Event) error {
	const op = "create API key"
	scopes, cidrs, err := k.CheckNew()
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	ev = fillEvent(ev, k.CreatedAt, k.UserID, "", "")
	return s.writeTx(ctx, op, func(rc context.Context, tx *sql.Tx) error {
		var role string
		var disabled int
		var version int64
		err := tx.QueryRowContext(rc, sqlUserStanding, k.UserID).Scan(&role, &disabled, &version)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: %s: no such user: %w", op, server.ErrNotFound)
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		var count int
		if err := tx.QueryRowContext(rc, sqlCountAPIKeys, k.UserID).Scan(&count); err != nil {
			return wrap(ctx, op, err)
		}
		if err := k.CheckAPIKeyStanding(server.Role(role), disabled != 0, version, count); err != nil {
			return fmt.Errorf("sqlite: %s: %w", op, err)
		}
		_, err = tx.ExecContext(rc, sqlInsertAPIKey, k.ID, k.UserID, k.Name, k.Hash, scopes, cidrs,
			k.CreatedAt.UnixMicro(), nullTime(k.ExpiresAt), nullTime(k.LastUsedAt), k.CredentialVersion)
		switch {
		case isUniqueViolation(err):
			return fmt.Errorf("sqlite: %s: id taken: %w", op, server.ErrConflict)
		case err != nil:
			return wrap(ctx, op, err)
		}
		if err := s.execEvent(rc, tx, ev); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	})
}

// apiKeyRow holds the columns of apiKeyColumns as scanned.
type apiKeyRow struct {
	k                 server.APIKey
	scopes, cidrs     string
	created           int64
	expires, lastUsed sql.NullInt64
}

func (r *apiKeyRow) dest() []any {
	return []any{&r.k.ID, &r.k.UserID, &r.k.Name, &r.k.Hash, &r.scopes, &r.cidrs, &r.created, &r.expires, &r.lastUsed, &r.k.CredentialVersion}
}

func (r *apiKeyRow) key() server.APIKey {
	k := r.k
	k.Scopes = splitScopes(r.scopes)
	if r.cidrs != "" {
		k.AllowedCIDRs = strings.Split(r.cidrs, " ")
	}
	k.CreatedAt = fromMicro(r.created)
	k.ExpiresAt = fromNullTime(r.expires)
	k.LastUsedAt = fromNullTime(r.lastUsed)
	return k
}

// ListAPIKeys implements server.APIKeyStore.
func (s *Store) ListAPIKeys(ctx context.Context, userID string) ([]server.APIKey, error) {
	const op = "list API keys"
	if userID == "" {
		return nil, fmt.Errorf("sqlite: %s: empty user id", op)
	}
	rows, err := s.reader.QueryContext(ctx, sqlListAPIKeys, userID)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	defer rows.Close()
	var out []server.APIKey
	for rows.Next() {
		var r apiKeyRow
		if err := rows.Scan(r.dest()...); err != nil {
			return nil, wrap(ctx, op, err)
		}
		out = append(out, r.key())
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, op, err)
	}
	return out, nil
}

// LookupAPIKey implements server.APIKeyStore.
func (s *Store) LookupAPIKey(ctx context.Context, id string) (server.APIKey, server.User, error) {
	const op = "look up API key"
	if id == "" {
		return server.APIKey{}, server.User{}, fmt.Errorf("sqlite: %s: empty id", op)
	}
	var (
		r                         apiKeyRow
		uID, uName, uRole, uHash  string
		uDisabled, uCreated, uUpd int64
		uVersion                  int64
	)
	dest := append(r.dest(), &uID, &uName, &uRole, &uHash, &uDisabled, &uCreated, &uUpd, &uVersion)
	err := s.findAPIKey.QueryRowContext(ctx, id).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return server.APIKey{}, server.User{}, server.ErrNotFound
	}
	if err != nil {
		return server.APIKey{}, server.User{}, wrap(ctx, op, err)
	}
	u := server.User{ID: uID, Username: uName, Role: server.Role(uRole), PasswordHash: uHash, Disabled: uDisabled != 0,
		CreatedAt: fromMicro(uCreated), UpdatedAt: fromMicro(uUpd), CredentialVersion: uVersion}
	return r.key(), u, nil
}

// TouchAPIKey implements server.APIKeyStore.
func (s *Store) TouchAPIKey(ctx context.Context, id string, now, bound time.Time) error {
	const op = "touch API key"
	if id == "" || now.IsZero() {
		return fmt.Errorf("sqlite: %s: empty id or zero time", op)
	}
	args := []any{micro(now).UnixMicro(), id, micro(bound).UnixMicro()}
	return s.write(ctx, op, func(rc context.Context, stmt func(*sql.Stmt) *sql.Stmt) error {
		if _, err := stmt(s.touchAPIKey).ExecContext(rc, args...); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	})
}

// RevokeAPIKey implements server.APIKeyStore.
func (s *Store) RevokeAPIKey(ctx context.Context, userID, id string, now time.Time, ev server.Event) error {
	const op = "revoke API key"
	if userID == "" || id == "" || now.IsZero() {
		return fmt.Errorf("sqlite: %s: empty user or key id or zero time", op)
	}
	ev = fillEvent(ev, micro(now), userID, "", "")
	return s.writeTx(ctx, op, func(rc context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(rc, sqlDeleteAPIKey, id, userID)
		if err != nil {
			return wrap(ctx, op, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return wrap(ctx, op, err)
		} else if n == 0 {
			return fmt.Errorf("sqlite: %s: %w", op, server.ErrNotFound)
		}
		if err := s.execEvent(rc, tx, ev); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	})
}

package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fortapi/fortapi/server"
)

// server.APIKeyStore on PostgreSQL (migrations/0005_api_keys.sql).
// LookupAPIKey runs on every request made with a key: one query (the key
// and its user), decided by the caller; a revocation, a disable or a
// credential change is seen by the first lookup that starts after it
// commits, on every instance. TouchAPIKey records a use at most once per
// touch interval, and its WHERE lets last_used_at only move forward.
// CreateAPIKey locks the user row FOR UPDATE: the checks of the user and
// the count of its keys hold until the key is inserted, and two creations
// for one user run one after the other.

const (
	apiKeyColumns   = "k.id, k.user_id, k.name, k.hash, k.scopes, k.allowed_cidrs, k.created_at, k.expires_at, k.last_used_at, k.credential_version"
	sqlInsertAPIKey = "INSERT INTO api_keys (id, user_id, name, hash, scopes, allowed_cidrs, created_at, expires_at, last_used_at, credential_version)" +
		" VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
	sqlLockUserForKey = "SELECT role, disabled, credential_version FROM users WHERE id = $1 FOR UPDATE"
	sqlCountAPIKeys   = "SELECT count(*) FROM api_keys WHERE user_id = $1"
	sqlListAPIKeys    = "SELECT " + apiKeyColumns + " FROM api_keys AS k WHERE k.user_id = $1 ORDER BY k.created_at, k.id"
	sqlFindAPIKey     = "SELECT " + apiKeyColumns + ", " + uUserColumns +
		" FROM api_keys AS k JOIN users AS u ON u.id = k.user_id WHERE k.id = $1"
	sqlTouchAPIKey  = "UPDATE api_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at <= $3)"
	sqlDeleteAPIKey = "DELETE FROM api_keys WHERE id = $1 AND user_id = $2"
)

// CreateAPIKey implements server.APIKeyStore.
func (s *Store) CreateAPIKey(ctx context.Context, k server.APIKey, ev server.Event) error {
	const op = "create API key"
	scopes, cidrs, err := k.CheckNew()
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	ev = ev.Filled(micro(k.CreatedAt), k.UserID, "", "")
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		var role string
		var disabled bool
		var version int64
		err := tx.QueryRow(ctx, sqlLockUserForKey, raw(k.UserID)).Scan(&role, &disabled, &version)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: %s: no such user: %w", op, server.ErrNotFound)
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		var count int
		if err := tx.QueryRow(ctx, sqlCountAPIKeys, raw(k.UserID)).Scan(&count); err != nil {
			return wrap(ctx, op, err)
		}
		if err := k.CheckAPIKeyStanding(server.Role(role), disabled, version, count); err != nil {
			return fmt.Errorf("postgres: %s: %w", op, err)
		}
		_, err = tx.Exec(ctx, sqlInsertAPIKey, k.ID, raw(k.UserID), k.Name, k.Hash, scopes, cidrs,
			micro(k.CreatedAt), nullTime(micro0(k.ExpiresAt)), nullTime(micro0(k.LastUsedAt)), k.CredentialVersion)
		switch {
		case isUniqueViolation(err):
			return fmt.Errorf("postgres: %s: id taken: %w", op, server.ErrConflict)
		case err != nil:
			return wrap(ctx, op, err)
		}
		if err := execEvent(ctx, tx, ev); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	})
}

// apiKeyRow holds the columns of apiKeyColumns as scanned.
type apiKeyRow struct {
	k                 server.APIKey
	scopes, cidrs     string
	expires, lastUsed *time.Time
}

func (r *apiKeyRow) dest() []any {
	return []any{&r.k.ID, str(&r.k.UserID), &r.k.Name, &r.k.Hash, &r.scopes, &r.cidrs, &r.k.CreatedAt, &r.expires, &r.lastUsed,
		&r.k.CredentialVersion}
}

func (r *apiKeyRow) key() server.APIKey {
	k := r.k
	k.Scopes = server.SplitScopes(r.scopes)
	if r.cidrs != "" {
		k.AllowedCIDRs = strings.Split(r.cidrs, " ")
	}
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt = fromNull(r.expires)
	k.LastUsedAt = fromNull(r.lastUsed)
	return k
}

// ListAPIKeys implements server.APIKeyStore.
func (s *Store) ListAPIKeys(ctx context.Context, userID string) ([]server.APIKey, error) {
	const op = "list API keys"
	if userID == "" {
		return nil, fmt.Errorf("postgres: %s: empty user id", op)
	}
	rows, err := s.pool.Query(ctx, sqlListAPIKeys, raw(userID))
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
		return server.APIKey{}, server.User{}, fmt.Errorf("postgres: %s: empty id", op)
	}
	var r apiKeyRow
	var u server.User
	err := s.pool.QueryRow(ctx, sqlFindAPIKey, id).Scan(append(r.dest(), userDest(&u)...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return server.APIKey{}, server.User{}, server.ErrNotFound
	}
	if err != nil {
		return server.APIKey{}, server.User{}, wrap(ctx, op, err)
	}
	return r.key(), utcUser(u), nil
}

// TouchAPIKey implements server.APIKeyStore.
func (s *Store) TouchAPIKey(ctx context.Context, id string, now, bound time.Time) error {
	const op = "touch API key"
	if id == "" || now.IsZero() {
		return fmt.Errorf("postgres: %s: empty id or zero time", op)
	}
	if _, err := s.pool.Exec(ctx, sqlTouchAPIKey, micro(now), id, micro(bound)); err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}

// RevokeAPIKey implements server.APIKeyStore.
func (s *Store) RevokeAPIKey(ctx context.Context, userID, id string, now time.Time, ev server.Event) error {
	const op = "revoke API key"
	if userID == "" || id == "" || now.IsZero() {
		return fmt.Errorf("postgres: %s: empty user or key id or zero time", op)
	}
	ev = ev.Filled(micro(now), userID, "", "")
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlDeleteAPIKey, id, raw(userID))
		if err != nil {
			return wrap(ctx, op, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("postgres: %s: %w", op, server.ErrNotFound)
		}
		if err := execEvent(ctx, tx, ev); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	})
}

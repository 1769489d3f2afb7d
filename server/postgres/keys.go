package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/server"
)

// Signing keys (jwtkey.Store), in the signing_keys table of
// migrations/0002_auth.sql.

const (
	keyColumns = "id, alg, state, created_at, activated_at, retiring_at, retired_at, revoked_at, public, sealed"
	// Oldest first, a key without CreatedAt first (as SQLite orders NULL).
	sqlLoadKeys = "SELECT " + keyColumns + " FROM signing_keys ORDER BY created_at NULLS FIRST, id"
	// A revoked row is final: the upsert leaves it alone (jwtkey.Store).
	sqlUpsertKey = "INSERT INTO signing_keys (" + keyColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)" +
		" ON CONFLICT (id) DO UPDATE SET alg = excluded.alg, state = excluded.state," +
		" created_at = excluded.created_at, activated_at = excluded.activated_at," +
		" retiring_at = excluded.retiring_at, retired_at = excluded.retired_at," +
		" revoked_at = excluded.revoked_at, public = excluded.public, sealed = excluded.sealed" +
		" WHERE signing_keys.revoked_at IS NULL"
)

// LoadKeys implements jwtkey.Store: every key, oldest first (zero
// CreatedAt first), then by ID. Empty Public and Sealed come back nil.
func (s *Store) LoadKeys(ctx context.Context) ([]jwtkey.StoredKey, error) {
	const op = "load signing keys"
	rows, err := s.pool.Query(ctx, sqlLoadKeys)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (jwtkey.StoredKey, error) {
		var (
			k                                              jwtkey.StoredKey
			created, activated, retiring, retired, revoked *time.Time
		)
		if err := r.Scan(str(&k.ID), str((*string)(&k.Alg)), str((*string)(&k.State)),
			&created, &activated, &retiring, &retired, &revoked, &k.Public, &k.Sealed); err != nil {
			return jwtkey.StoredKey{}, err
		}
		k.CreatedAt = fromNull(created)
		k.ActivatedAt = fromNull(activated)
		k.RetiringAt = fromNull(retiring)
		k.RetiredAt = fromNull(retired)
		k.RevokedAt = fromNull(revoked)
		return k, nil
	})
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// SaveKeys implements jwtkey.Store: an upsert of every key in one
// transaction, all or none. An empty ID, Alg or State, or an ID given
// twice, is refused before anything is written. A stored row that is
// already revoked is left unchanged.
func (s *Store) SaveKeys(ctx context.Context, keys []jwtkey.StoredKey) error {
	const op = "save signing keys"
	if err := server.CheckKeys(keys); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if len(keys) == 0 {
		return nil
	}
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		// Every listener reloads the keys when this commits (notify.go).
		if err := s.notify(ctx, tx, payloadKeys); err != nil {
			return wrap(ctx, op, err)
		}
		for _, k := range keys {
			_, err := tx.Exec(ctx, sqlUpsertKey, raw(k.ID), raw(string(k.Alg)), raw(string(k.State)),
				nullTime(micro0(k.CreatedAt)), nullTime(micro0(k.ActivatedAt)), nullTime(micro0(k.RetiringAt)),
				nullTime(micro0(k.RetiredAt)), nullTime(micro0(k.RevokedAt)), nullBytes(k.Public), nullBytes(k.Sealed))
			if err != nil {
				return wrap(ctx, op, err)
			}
		}
		return nil
	})
}

// nullBytes is the argument for a nullable bytea: nil and empty are NULL.
func nullBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/server"
)

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
	if err := server.CheckKeys(keys); err != nil {
		return fmt.Errorf("sqlite: %s: %w", op, err)
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

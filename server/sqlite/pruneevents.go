package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/fortapi/fortapi/server"
)

// Oldest first by id (ids grow with time): the scan stops after limit
// matches, without an index on at.
const sqlPruneEvents = `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < ? ORDER BY id LIMIT ?)`

// PruneEvents implements server.AuthStore.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	const op = "prune events"
	if before.IsZero() || limit < 1 || limit > server.MaxPruneEventsBatch {
		return 0, fmt.Errorf("sqlite: %s: want a time and a limit of 1 to %d", op, server.MaxPruneEventsBatch)
	}
	var n int64 // set by the writer; read only after writeTx returns nil
	err := s.writeTx(ctx, op, func(rc context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(rc, sqlPruneEvents, before.UnixMicro(), limit)
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

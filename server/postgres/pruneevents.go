package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/fortapi/fortapi/server"
)

// Oldest first by id (ids grow with time): the scan stops after limit
// matches, without an index on at.
const sqlPruneEvents = `DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < $1 ORDER BY id LIMIT $2)`

// PruneEvents implements server.AuthStore.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	const op = "prune events"
	if before.IsZero() || limit < 1 || limit > server.MaxPruneEventsBatch {
		return 0, fmt.Errorf("postgres: %s: want a time and a limit of 1 to %d", op, server.MaxPruneEventsBatch)
	}
	tag, err := s.pool.Exec(ctx, sqlPruneEvents, micro(before), limit)
	if err != nil {
		return 0, wrap(ctx, op, err)
	}
	return tag.RowsAffected(), nil
}

package sqlite

import "database/sql"

// PoolStats returns the statistics of the connection pools, for metrics:
// the writer's (one connection) and the readers'.
func (s *Store) PoolStats() (writer, reader sql.DBStats) {
	return s.writer.Stats(), s.reader.Stats()
}

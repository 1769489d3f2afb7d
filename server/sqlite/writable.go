package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fortapi/fortapi/server"
)

// sqlProbeWrite rewrites the newest schema_migrations row with itself: a
// real write (the page goes to the WAL at commit) that changes nothing.
const sqlProbeWrite = "UPDATE schema_migrations SET version = version WHERE version = (SELECT max(version) FROM schema_migrations)"

// CheckWritable reports whether the database takes writes, for readiness:
// it commits a write that changes nothing through the writer, like every
// write. A file (or directory, or file system) that is read-only, a full
// disk, a lock held too long by another process or a closed store make it
// fail with a *server.UnwritableError whose Reason is fit for a public
// answer. ctx bounds the wait.
func (s *Store) CheckWritable(ctx context.Context) error {
	err := s.writeTx(ctx, "check writable", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, sqlProbeWrite)
		return err
	})
	if err == nil {
		return nil
	}
	return &server.UnwritableError{Reason: unwritableReason(ctx, err), Err: err}
}

// unwritableReason describes why a write failed, without paths.
func unwritableReason(ctx context.Context, err error) string {
	var se *msqlite.Error
	switch {
	case errors.Is(err, ErrClosed):
		return "the store is closed"
	case ctx.Err() != nil:
		return "a write did not finish in time (the database may be locked by another process)"
	case !errors.As(err, &se):
		return "a write failed"
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_READONLY:
		return "the database is read-only (its file, directory or file system)"
	case sqlite3.SQLITE_FULL:
		return "the disk is full"
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return "the database is locked by another process"
	case sqlite3.SQLITE_IOERR:
		return "the database cannot be written (I/O error)"
	case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM:
		return "the database cannot be opened for writing"
	}
	return fmt.Sprintf("a write failed (SQLite result code %d)", se.Code())
}

package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fortapi/fortapi/server"
)

// sqlProbeWrite rewrites the newest schema_migrations row with itself, in
// a transaction that is rolled back: it takes a row lock and needs the
// write privilege and a writable server, and leaves nothing behind.
const sqlProbeWrite = "UPDATE schema_migrations SET version = version WHERE version = (SELECT max(version) FROM schema_migrations)"

// CheckWritable reports whether the database takes writes, for readiness:
// a server in recovery (a standby), sessions that are read-only
// (default_transaction_read_only), a lost connection, or a write refused
// for any other reason (privileges, a full disk) make it fail with a
// *server.UnwritableError whose Reason is fit for a public answer (no
// host, user or password). ctx bounds it.
func (s *Store) CheckWritable(ctx context.Context) error {
	var recovery bool
	var readOnly string
	err := s.pool.QueryRow(ctx, "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')").Scan(&recovery, &readOnly)
	switch {
	case err != nil:
		return unwritable(ctx, err)
	case recovery:
		return &server.UnwritableError{Reason: "PostgreSQL is in recovery (a read-only standby)"}
	case readOnly == "on":
		return &server.UnwritableError{Reason: "PostgreSQL transactions are read-only (default_transaction_read_only)"}
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlProbeWrite); err != nil {
			return err
		}
		return errRollback
	})
	if err != nil && !errors.Is(err, errRollback) {
		return unwritable(ctx, err)
	}
	return nil
}

// errRollback makes pgx.BeginFunc roll the probe back.
var errRollback = errors.New("postgres: probe rolled back")

// unwritable describes why a write failed, without host, user or
// password: a SQLSTATE or a generic reason. Only a server's error is kept
// as Err: pgx's connection errors may carry the connection settings.
func unwritable(ctx context.Context, err error) error {
	var pe *pgconn.PgError
	var kept error // a server's error carries no connection settings
	reason := "PostgreSQL is not reachable"
	switch {
	case ctx.Err() != nil:
		reason = "PostgreSQL did not answer in time"
	case errors.As(err, &pe):
		kept = pe
		switch pe.Code {
		case "25006":
			reason = "PostgreSQL transactions are read-only"
		case "42501":
			reason = "the database user may not write"
		case "53100":
			reason = "PostgreSQL's disk is full"
		case "57P03", "57P01", "57P02":
			reason = "PostgreSQL is starting up or shutting down"
		default:
			reason = fmt.Sprintf("a write failed (SQLSTATE %s)", pe.Code)
		}
	}
	return &server.UnwritableError{Reason: reason, Err: kept}
}

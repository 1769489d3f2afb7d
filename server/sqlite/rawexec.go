package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
)

// A lone item insert (the commonest write, POST /items/) runs on the writer's
// driver connection directly, through a statement prepared once on that
// connection, instead of through database/sql's *Stmt: that skips finding
// the statement's copy for the connection, converting and checking every
// argument into a new []driver.NamedValue, and wrapping the result, about a
// quarter of the instructions and allocations the insert cost outside
// SQLite itself. The SQL, the autocommit statement and therefore what is
// stored and when it is durable are the same as with database/sql. Batched
// inserts (writeLoop) still go through database/sql's transaction.

// driverStmt is a statement prepared on the writer's driver connection. It is
// used, prepared, replaced and closed only by whoever holds Store.wlock.
type driverStmt struct {
	query string
	// conn is the driver connection stmt was prepared on. If database/sql
	// ever replaces the writer connection (only after the driver reported
	// it unusable), the statement is prepared again on the new one; the old
	// statement is dropped without being touched, since its connection is
	// closed.
	conn driver.Conn
	stmt driver.StmtExecContext
	// args is reused by every run (its values are cleared after each run,
	// so no item outlives its write).
	args []driver.NamedValue
}

func newDriverStmt(query string, nargs int) *driverStmt {
	args := make([]driver.NamedValue, nargs)
	for i := range args {
		args[i].Ordinal = i + 1
	}
	return &driverStmt{query: query, args: args}
}

// execDriver runs ds with ds.args on the writer's connection, which must be
// free (the caller holds wlock and found it idle), as one autocommit
// statement, never interrupted (like runAlone's context), then clears the
// arguments.
func (s *Store) execDriver(ds *driverStmt) error {
	defer func() { // keep the ordinals, drop the values
		for i := range ds.args {
			ds.args[i].Value = nil
		}
	}()
	ctx := context.Background()
	c, err := s.writer.Conn(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	s.rawTarget = ds
	return c.Raw(s.rawExec)
}

// rawExec is execDriver's work on the driver connection dc, for the
// statement in s.rawTarget; built once (Open) so that a run allocates no
// closure.
func (s *Store) rawExecFunc() func(dc any) error {
	return func(dc any) error {
		ds := s.rawTarget
		s.rawTarget = nil
		conn, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("driver connection %T is not a driver.Conn", dc)
		}
		ctx := context.Background()
		if ds.conn != conn || ds.stmt == nil {
			ds.conn, ds.stmt = nil, nil
			st, err := prepareDriver(ctx, conn, ds.query)
			if err != nil {
				return err
			}
			ds.conn, ds.stmt = conn, st
		}
		_, err := ds.stmt.ExecContext(ctx, ds.args)
		return err
	}
}

// prepareDriver prepares query on conn as a statement that takes a context.
func prepareDriver(ctx context.Context, conn driver.Conn, query string) (driver.StmtExecContext, error) {
	var (
		st  driver.Stmt
		err error
	)
	if pc, ok := conn.(driver.ConnPrepareContext); ok {
		st, err = pc.PrepareContext(ctx, query)
	} else {
		st, err = conn.Prepare(query)
	}
	if err != nil {
		return nil, fmt.Errorf("preparing %q: %w", query, err)
	}
	se, ok := st.(driver.StmtExecContext)
	if !ok {
		st.Close()
		return nil, errors.New("the driver's statements do not implement driver.StmtExecContext")
	}
	return se, nil
}

// closeDriver closes ds if it was prepared on the writer's current
// connection. Store.Close calls it before closing the writer pool: an
// unfinalized statement would keep SQLite from really closing the
// connection (and checkpointing the WAL).
func (s *Store) closeDriver(ds *driverStmt) error {
	if ds == nil || ds.stmt == nil {
		return nil
	}
	c, err := s.writer.Conn(context.Background())
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
		st, prepOn := ds.stmt, ds.conn
		ds.conn, ds.stmt = nil, nil
		if conn, ok := dc.(driver.Conn); !ok || conn != prepOn {
			return nil // prepared on a connection closed since
		}
		return st.(driver.Stmt).Close()
	})
}

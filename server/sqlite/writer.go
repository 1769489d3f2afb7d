package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Group commit.
//
// Every write (the item writes and the auth writes of users.go,
// sessions.go, revocations.go and keys.go) becomes a writeOp run on the
// writer connection by whoever holds s.wlock. A write that finds the writer
// idle (wlock free, nothing queued) runs at once on its caller's goroutine:
// no hand-over to another goroutine and back, which on a small machine cost
// more than the statement (two goroutine wake-ups, futex calls and the
// scheduler's spinning threads per write). A write that finds the writer
// busy is sent to one goroutine, writeLoop, which takes the first op, waits
// for wlock, also takes whatever else is already queued (up to maxBatch),
// and runs them all in one BEGIN IMMEDIATE ... COMMIT, each op inside its
// own SAVEPOINT so that an op that fails is undone alone (except a stmt op,
// the item insert: one statement, which SQLite undoes alone when it
// violates a constraint; any other error of it fails the batch). Only after COMMIT
// returns does any caller get its result: an acknowledged write is a
// committed write, exactly as with one transaction per write. The loop
// never waits for more work: batches form only from the writes that queued
// while the writer was busy.
//
// An op is one of two kinds. A one-statement op (exec: the item writes)
// that runs alone runs as one autocommit statement, its fastest form. A
// multi-statement op (tx: the auth writes, which read and change several
// rows) always runs inside a transaction: alone, it is a batch of one.

// ErrClosed is returned (wrapped) by a write on a Store that is closed or
// closing.
var ErrClosed = errors.New("store is closed")

// The savepoint every op of a batch runs in, prepared once like the item
// statements. One name is enough: each op's savepoint is released (or rolled
// back to and released) before the next op starts.
const (
	sqlSavepoint  = "SAVEPOINT op"
	sqlRelease    = "RELEASE op"
	sqlRollbackTo = "ROLLBACK TO op"
)

// writeOp is one write waiting for the writer goroutine.
type writeOp struct {
	// ctx is the caller's context. It is only checked when the writer picks
	// the op up, never passed to the statements: a cancellation that
	// interrupted a statement could roll back the whole shared transaction
	// (SQLite may do that for SQLITE_INTERRUPT inside a transaction).
	ctx context.Context
	// name is the operation for error messages ("create item").
	name string
	// exec runs the op and returns the caller's error (already wrapped, or
	// a server sentinel). It must run exactly ONE statement, obtained
	// through stmt(prepared) and run with runCtx (never cancelled): in a
	// batch, stmt binds it to the batch's transaction; a lone op runs it
	// in autocommit mode, where one statement is its own transaction.
	// Results other than the error are written by exec into variables of
	// the caller, which reads them only after receiving from done.
	exec func(runCtx context.Context, stmt func(*sql.Stmt) *sql.Stmt) error
	// tx, set instead of exec, runs an op of any number of statements (reads
	// included) on tx with runCtx, and returns like exec. It always runs in
	// a transaction, inside its own savepoint: when it returns an error,
	// everything it did is undone and the other ops of the batch go on. It
	// must not commit or roll back tx, nor use savepoint names of its own.
	tx func(runCtx context.Context, tx *sql.Tx) error
	// stmt, set instead of exec and tx, makes the op the one statement
	// stmt run with args[:nargs]: through stmt (bound to the batch's
	// transaction) in a batch, and through driverStmt, the same SQL
	// prepared on the driver connection (rawexec.go), when it runs alone.
	// stmtErr maps the statement's error (never nil) to the caller's.
	// Unlike a closure, these need no allocation: the op is recycled.
	stmt       *sql.Stmt
	driverStmt *driverStmt
	args       [8]any
	nargs      int
	stmtErr    func(ctx context.Context, err error) error

	// then, when set, runs after the op's transaction committed, before
	// the writer lock is released (see server.ItemCommitHooks), and only
	// when the op succeeded.
	then func()

	err     error      // exec's result, set by the writer
	skipped bool       // ctx was done at pickup: exec never ran, err says why
	done    chan error // buffered (1): the writer never blocks delivering
}

// write runs exec (on the caller's goroutine when the writer is idle, else
// by the writer goroutine) and returns its result, which comes only after
// the transaction that ran it has committed (or failed).
//
// If ctx ends while the op is queued, write returns at once with ctx's
// error, but an op the writer goroutine already picked up still runs and
// may commit: the caller cannot tell, just as a one-statement write racing
// a cancellation could commit before the driver saw the cancellation. An
// op running on the caller's goroutine (only when the writer connection
// was free) runs to its end and returns its own result.
func (s *Store) write(ctx context.Context, name string, exec func(runCtx context.Context, stmt func(*sql.Stmt) *sql.Stmt) error) error {
	return s.writeThen(ctx, name, exec, nil)
}

// writeThen is write, then then once the write committed, if it succeeded
// (see writeOp.then).
func (s *Store) writeThen(ctx context.Context, name string, exec func(runCtx context.Context, stmt func(*sql.Stmt) *sql.Stmt) error, then func()) error {
	op := s.newOp(ctx, name)
	op.exec, op.then = exec, then
	return s.submit(op)
}

// writeTx is write for an op of several statements (see writeOp.tx): fn runs
// in a transaction, in its own savepoint, and what it did commits only if it
// returns nil.
func (s *Store) writeTx(ctx context.Context, name string, fn func(runCtx context.Context, tx *sql.Tx) error) error {
	op := s.newOp(ctx, name)
	op.tx = fn
	return s.submit(op)
}

// newOp returns a cleared writeOp with an empty done channel, recycled
// when one is free.
func (s *Store) newOp(ctx context.Context, name string) *writeOp {
	op, _ := s.opPool.Get().(*writeOp)
	if op == nil {
		op = &writeOp{done: make(chan error, 1)}
	}
	op.ctx, op.name = ctx, name
	return op
}

// recycle returns op to the pool. Only an op whose result was received
// from done may be recycled: the writer's last use of an op is that send
// (runBatch), so nothing refers to it any more, and done is empty again.
func (s *Store) recycle(op *writeOp) {
	*op = writeOp{done: op.done}
	s.opPool.Put(op)
}

// submit runs op, on the caller's goroutine when the writer is idle, else
// by queueing it for the writer goroutine, and returns its result (see
// write).
func (s *Store) submit(op *writeOp) error {
	ctx, name := op.ctx, op.name
	if err := ctx.Err(); err != nil {
		s.recycle(op) // never sent
		return wrap(ctx, name, err)
	}

	// The read lock makes "not closed" and the send (or the run) one step
	// with respect to Close, which takes the write lock before closing
	// s.ops: a send on a closed channel cannot happen, and Close waits for
	// a write running on its caller's goroutine. A send may block while the
	// queue is full; the writer keeps draining it, so Close's wait for the
	// lock ends.
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		s.recycle(op) // never sent
		return fmt.Errorf("sqlite: %s: %w", name, ErrClosed)
	}
	// The writer is idle: nothing queued (or held by writeLoop), nothing
	// running and the connection free (Ping, or a test, may hold it: a
	// write that waited for it here could not honour ctx). Queued writes
	// go first: a write that finds some queues behind them.
	if s.queued.Load() == 0 && s.wlock.TryLock() {
		if s.writer.Stats().InUse == 0 {
			err := s.result(op, s.run(op))
			if err == nil && op.then != nil {
				callThen(op.then) // a panic must not leave wlock held
			}
			s.wlock.Unlock()
			s.mu.RUnlock()
			s.recycle(op)
			return err
		}
		s.wlock.Unlock()
	}
	s.queued.Add(1)
	select {
	case s.ops <- op:
		s.mu.RUnlock()
	case <-ctx.Done():
		s.queued.Add(-1)
		s.mu.RUnlock()
		s.recycle(op) // never sent
		return wrap(ctx, name, ctx.Err())
	}

	select {
	case err := <-op.done:
		s.recycle(op)
		return err
	case <-ctx.Done():
		// Prefer a result that is already there over the cancellation.
		select {
		case err := <-op.done:
			s.recycle(op)
			return err
		default:
		}
		// The writer may still hold op: it is left to the collector.
		return wrap(ctx, name, ctx.Err())
	}
}

// writeLoop is the writer goroutine: it runs batches of the queued writes
// until Close closes s.ops and everything queued before that has run.
func (s *Store) writeLoop() {
	defer close(s.writerDone)
	batch := make([]*writeOp, 0, s.maxBatch)
	for {
		op, ok := <-s.ops // wait for work; no linger once there is some
		if !ok {
			return
		}
		// A write running on its caller's goroutine finishes first; the
		// writes that queue meanwhile join this batch.
		s.wlock.Lock()
		batch = append(batch[:0], op)
	drain: // take what queued meanwhile, without waiting for more
		for len(batch) < s.maxBatch {
			select {
			case op, ok := <-s.ops:
				if !ok {
					break drain // closed: run this batch, then return above
				}
				batch = append(batch, op)
			default:
				break drain
			}
		}
		s.runBatch(batch)
		s.queued.Add(-int64(len(batch)))
		s.wlock.Unlock()
		clear(batch) // let the finished ops be collected
	}
}

// runBatch runs batch and then, only then, delivers every result.
func (s *Store) runBatch(batch []*writeOp) {
	var err error
	if len(batch) == 1 {
		err = s.run(batch[0])
	} else {
		err = s.runMany(batch)
	}
	for _, op := range batch {
		res := s.result(op, err)
		if res == nil && op.then != nil {
			callThen(op.then)
		}
		op.done <- res
	}
}

// callThen runs a commit hook: a panic there (a bug) must neither end the
// process (on the writer goroutine) nor leave the write lock held (on a
// caller's goroutine), and the write it follows has committed, so its
// caller still gets nil. The hook's work is lost, as a failed publish is.
func callThen(then func()) {
	defer func() { _ = recover() }()
	then()
}

// result is op's result once the batch that ran it ended with err.
func (s *Store) result(op *writeOp, err error) error {
	if err != nil && !op.skipped {
		// The transaction did not commit, so nothing of the op was
		// stored, whether it ran or not. Its own result is replaced
		// even if it was an error: an ErrConflict or ErrNotFound may
		// have been caused by an earlier op of the batch that is now
		// rolled back too.
		op.err = fmt.Errorf("sqlite: %s: %w", op.name, err)
	}
	return op.err
}

// run runs a lone op: a one-statement op by itself, a multi-statement op
// in a transaction of its own. A panic (a bug) fails the op instead of the
// process: before group commit it would have hit one request's goroutine,
// which net/http recovers.
func (s *Store) run(op *writeOp) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in the writer: %v", r)
		}
	}()
	if op.tx == nil {
		s.runAlone(op)
		return nil
	}
	return s.runTx([]*writeOp{op})
}

// runMany runs batch in one transaction; a panic fails the whole batch.
func (s *Store) runMany(batch []*writeOp) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in the writer: %v", r)
		}
	}()
	return s.runTx(batch)
}

// skip reports whether op's context was done when the writer got to it, and
// if so records the context's error as its result, without running it, as a
// one-statement write with a done context never runs.
func skip(op *writeOp) bool {
	if err := op.ctx.Err(); err != nil {
		op.err = wrap(op.ctx, op.name, err)
		op.skipped = true
		return true
	}
	return false
}

// runAlone runs a lone op as one autocommit statement: SQLite makes the
// statement its own transaction and has committed it when exec returns. For
// a single write this is what BEGIN IMMEDIATE, SAVEPOINT, the statement,
// RELEASE and COMMIT would achieve, at the cost of one statement instead of
// five (an explicit transaction measured about 10 µs more): a write that
// finds no company runs the same SQL as before group commit, and only the
// hand-over to this goroutine and back is added.
func (s *Store) runAlone(op *writeOp) {
	if skip(op) {
		return
	}
	if op.stmt != nil {
		ds := op.driverStmt
		for i, v := range op.args[:op.nargs] {
			ds.args[i].Value = v
		}
		if err := s.execDriver(ds); err != nil {
			op.err = op.stmtErr(op.ctx, err)
		}
		return
	}
	op.err = op.exec(context.Background(), func(st *sql.Stmt) *sql.Stmt { return st })
}

// runTx runs the ops of batch in one transaction and commits it (a lone
// multi-statement op too: its statements must commit together). It returns
// nil once the transaction committed (each op's own result is in op.err), or
// the error that made the whole transaction fail, which then stands for
// every op not skipped, including those it never got to.
func (s *Store) runTx(batch []*writeOp) error {
	// The transaction's context is never cancelled: database/sql rolls a
	// transaction back when its context ends, which would take every op of
	// the batch with it.
	ctx := context.Background()
	tx, err := s.writer.BeginTx(ctx, nil) // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	// Undoes everything unless committed (then it is a no-op returning
	// sql.ErrTxDone), also when an op panics.
	defer tx.Rollback()
	// Each prepared statement is bound to tx once per batch, not per op.
	bound := make(map[*sql.Stmt]*sql.Stmt)
	stmt := func(st *sql.Stmt) *sql.Stmt {
		b, ok := bound[st]
		if !ok {
			b = tx.StmtContext(ctx, st)
			bound[st] = b
		}
		return b
	}
	for _, op := range batch {
		if skip(op) {
			continue
		}
		if op.stmt != nil {
			// One statement needs no savepoint: a constraint violation
			// (the schema has no ON CONFLICT clause and no trigger, so
			// SQLite aborts the statement alone, undoing what it did, and
			// the transaction goes on) is this op's own error. Any other
			// failure may have ended the transaction: it fails the batch.
			if _, err := stmt(op.stmt).ExecContext(ctx, op.args[:op.nargs]...); err != nil {
				if !isConstraint(err) {
					return err
				}
				op.err = op.stmtErr(op.ctx, err)
			}
			continue
		}
		if _, err := stmt(s.savepoint).ExecContext(ctx); err != nil {
			return fmt.Errorf("savepoint: %w", err)
		}
		if op.tx != nil {
			op.err = op.tx(ctx, tx)
		} else {
			op.err = op.exec(ctx, stmt)
		}
		if op.err != nil {
			// Undo this op alone; the transaction and the other ops in it
			// go on. A failure here means the transaction itself is broken
			// (SQLite may roll it back on I/O errors): give up on all.
			if _, err := stmt(s.rollbackTo).ExecContext(ctx); err != nil {
				return fmt.Errorf("rollback to savepoint: %w", err)
			}
		}
		if _, err := stmt(s.release).ExecContext(ctx); err != nil {
			return fmt.Errorf("release savepoint: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

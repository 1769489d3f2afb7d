package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/server"
)

// Defaults applied for zero Options fields.
const (
	DefaultReadConns   = 4
	DefaultBusyTimeout = 5 * time.Second
	DefaultMaxBatch    = 128
)

// Synchronous is the durability level of a commit (PRAGMA synchronous).
type Synchronous int

const (
	// SynchronousNormal (the zero value, the default) does not sync the WAL
	// on each commit, only at checkpoints. Under WAL a committed transaction
	// survives a crash of the process; one committed just before a power
	// loss or OS crash may be rolled back, but the database stays intact.
	SynchronousNormal Synchronous = iota
	// SynchronousFull syncs the WAL on every commit, so a committed
	// transaction also survives a power loss, at the cost of one fsync per
	// write.
	SynchronousFull
)

// String returns the PRAGMA synchronous value.
func (s Synchronous) String() string {
	switch s {
	case SynchronousNormal:
		return "NORMAL"
	case SynchronousFull:
		return "FULL"
	}
	return "Synchronous(" + strconv.Itoa(int(s)) + ")"
}

// Options tunes Open. The zero value is valid and gives the documented
// defaults.
type Options struct {
	// ReadConns is the size of the read-only connection pool that serves
	// every read (ListItems, the user, revocation, event and key reads)
	// and Ping, and also of the second read-only pool that serves GetItem
	// alone (read.go). Zero means DefaultReadConns (4); negative is an
	// error. Writes always use one dedicated connection.
	ReadConns int
	// BusyTimeout is how long a connection waits for a lock held by another
	// connection (another process on the same file, or a checkpoint) before
	// giving up with SQLITE_BUSY. Zero means DefaultBusyTimeout (5s);
	// negative or more than math.MaxInt32 milliseconds is an error. It is
	// rounded up to whole milliseconds.
	BusyTimeout time.Duration
	// Synchronous is the commit durability. The zero value is
	// SynchronousNormal.
	Synchronous Synchronous
	// MaxBatch is the most writes that group commit puts in one
	// transaction: the writer runs whatever is queued, up to MaxBatch, as
	// one transaction (see the package documentation). Zero means
	// DefaultMaxBatch (128); 1 gives every write its own transaction;
	// negative is an error.
	MaxBatch int
}

// ErrSchemaTooNew is returned (wrapped) by Open when the database was
// migrated by a newer binary than this one: its schema version is higher
// than the newest migration embedded here, and running against it could
// corrupt data. It is server.ErrSchemaTooNew, which every store returns.
var ErrSchemaTooNew = server.ErrSchemaTooNew

// errNoUser is returned when an Access names no user and does not lift the
// owner condition: a programming error upstream, never "all items".
var errNoUser = errors.New("sqlite: access has neither a user id nor All")

// Store is the SQLite implementation of server.Store. It is safe for
// concurrent use. Writes are serialized on one connection, owned by one
// goroutine that group-commits them; reads run on a separate pool of
// read-only connections and, thanks to WAL, never wait for a write.
type Store struct {
	writer *sql.DB
	reader *sql.DB
	// items serves GetItem on connections of its own (read.go).
	items *itemReaders

	// Group commit (writer.go): writes queue on ops for the writer
	// goroutine, which closes writerDone when it exits. mu guards closed
	// and the sends on ops against Close closing it.
	maxBatch   int
	ops        chan *writeOp
	writerDone chan struct{}
	// wlock is held by whoever runs writes on the writer connection: a
	// caller that found it free (and nothing queued), or writeLoop for a
	// batch. queued counts the writes sent to writeLoop and not yet run.
	wlock  sync.Mutex
	queued atomic.Int64
	// opPool recycles writeOps (and their done channels) whose result
	// the caller received: the writer is done with them (submit).
	opPool sync.Pool
	mu     sync.RWMutex
	closed bool

	// Statements prepared once per pool; database/sql prepares each on a
	// connection the first time that connection runs it. Preparing costs
	// more than running a point query: this makes GetItem 2-3x faster.
	insertItem, listItemsOwn, listItemsAll,
	updateItemOwn, updateItemAll, deleteItemOwn, deleteItemAll *sql.Stmt
	// insertDriver is sqlInsertItem on the writer's driver connection,
	// for a lone insert (rawexec.go); used only under wlock.
	insertDriver *driverStmt
	// rawExec and rawTarget: see execDriver (under wlock too).
	rawExec   func(dc any) error
	rawTarget *driverStmt
	// The savepoint statements group commit runs around every write.
	savepoint, release, rollbackTo *sql.Stmt
	// The auth statements (auth.go): reads, the event insert and the web
	// session lookup and touch.
	getUser, getUserByName, listUsers, revocations, listEvents, listEventsType,
	listEventsUser, listEventsTypeU, loadKeys, insertEvent, pruneEvents,
	findWebSession, touchWebSession *sql.Stmt
	findAPIKey, touchAPIKey *sql.Stmt

	closeOnce sync.Once
	closeErr  error
}

var (
	_ server.Store           = (*Store)(nil)
	_ server.ItemCommitHooks = (*Store)(nil)
	_ jwtkey.Store           = (*Store)(nil)
)

// orDefault returns v, or def when v is zero; a negative v is an error
// naming the option.
func orDefault[T int | time.Duration](name string, v, def T) (T, error) {
	switch {
	case v < 0:
		return 0, fmt.Errorf("sqlite: open: %s is %v, want >= 0", name, v)
	case v == 0:
		return def, nil
	}
	return v, nil
}

// Open opens (creating if needed) the SQLite database file at path, which is
// a file-system path, not a DSN or URI, applies the embedded migrations the
// file lacks and returns a ready Store. The directory must exist. ctx bounds
// the open and the migrations only.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if path == "" {
		return nil, errors.New("sqlite: open: empty database path")
	}
	readConns, err := orDefault("ReadConns", opts.ReadConns, DefaultReadConns)
	if err != nil {
		return nil, err
	}
	busy, err := orDefault("BusyTimeout", opts.BusyTimeout, DefaultBusyTimeout)
	if err != nil {
		return nil, err
	}
	maxBatch, err := orDefault("MaxBatch", opts.MaxBatch, DefaultMaxBatch)
	if err != nil {
		return nil, err
	}
	if busy > math.MaxInt32*time.Millisecond {
		return nil, fmt.Errorf("sqlite: open: BusyTimeout %v exceeds %d ms", busy, math.MaxInt32)
	}
	busyMillis := int64(busy / time.Millisecond)
	if busy%time.Millisecond != 0 {
		busyMillis++
	}
	if opts.Synchronous != SynchronousNormal && opts.Synchronous != SynchronousFull {
		return nil, fmt.Errorf("sqlite: open: unknown %v", opts.Synchronous)
	}
	migs, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: resolving %q: %w", path, err)
	}

	writer, err := sql.Open("sqlite", dsn(abs, false, busyMillis, opts.Synchronous))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open writer for %q: %w", abs, err)
	}
	// One connection: SQLite allows one writer at a time anyway, and queueing
	// in database/sql (which honours ctx) beats spinning on SQLITE_BUSY. It
	// is kept open for the life of the Store.
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	s := &Store{writer: writer, insertDriver: newDriverStmt(sqlInsertItem, 8)}
	s.rawExec = s.rawExecFunc()
	if err := s.initWriterRetrying(ctx, abs, migs, busy); err != nil {
		writer.Close()
		return nil, err
	}

	// The reader pool opens only now: mode=ro cannot create the file or
	// switch it to WAL, and the writer has done both.
	reader, err := sql.Open("sqlite", dsn(abs, true, busyMillis, opts.Synchronous))
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("sqlite: open readers for %q: %w", abs, err)
	}
	reader.SetMaxOpenConns(readConns)
	reader.SetMaxIdleConns(readConns)
	reader.SetConnMaxLifetime(0)
	reader.SetConnMaxIdleTime(0)
	s.reader = reader
	if err := reader.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open readers for %q: %w", abs, err)
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", abs, err)
	}
	if s.items, err = openItemReaders(abs, readConns, busy); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", abs, err)
	}
	// The writer goroutine starts last, once nothing can fail: Close stops
	// it only if it runs.
	s.maxBatch = maxBatch
	s.ops = make(chan *writeOp, maxBatch)
	s.writerDone = make(chan struct{})
	go s.writeLoop()
	if err := s.canonicalizeUsernames(ctx, time.Now().UTC()); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", abs, err)
	}
	return s, nil
}

// preparedStmt is a statement to prepare at Open: where it goes, the pool
// that runs it and its SQL.
type preparedStmt struct {
	dst   **sql.Stmt
	db    *sql.DB
	query string
}

// statements lists every prepared statement of the store.
func (s *Store) statements() []preparedStmt {
	return append([]preparedStmt{
		{&s.insertItem, s.writer, sqlInsertItem},
		{&s.listItemsOwn, s.reader, sqlListItemsOwn},
		{&s.listItemsAll, s.reader, sqlListItemsAll},
		{&s.updateItemOwn, s.writer, sqlUpdateItemOwn},
		{&s.updateItemAll, s.writer, sqlUpdateItemAll},
		{&s.deleteItemOwn, s.writer, sqlDeleteItemOwn},
		{&s.deleteItemAll, s.writer, sqlDeleteItemAll},
		{&s.savepoint, s.writer, sqlSavepoint},
		{&s.release, s.writer, sqlRelease},
		{&s.rollbackTo, s.writer, sqlRollbackTo},
	}, s.authStatements()...)
}

// prepare prepares the statements, each on the pool that runs it.
func (s *Store) prepare(ctx context.Context) error {
	for _, p := range s.statements() {
		st, err := p.db.PrepareContext(ctx, p.query)
		if err != nil {
			return fmt.Errorf("preparing %q: %w", p.query, err)
		}
		*p.dst = st
	}
	return nil
}

// initWriter connects the writer, checks that WAL took effect and migrates.
// initWriterRetrying runs initWriter again while it fails with SQLITE_BUSY,
// for up to the busy timeout. Several processes opening one new file at
// once (the server and a CLI command, say) race to create it and switch it
// to WAL; SQLite reports some of those races as SQLITE_BUSY without
// consulting the busy timeout (for example while another connection
// recovers or initialises the WAL index).
func (s *Store) initWriterRetrying(ctx context.Context, abs string, migs []migration, busy time.Duration) error {
	deadline := time.Now().Add(busy)
	wait := time.Millisecond
	for {
		err := s.initWriter(ctx, abs, migs)
		if err == nil || !isBusy(err) || time.Now().Add(wait).After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("sqlite: open %q: %w", abs, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

func (s *Store) initWriter(ctx context.Context, abs string, migs []migration) error {
	var mode string
	if err := s.writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("sqlite: open %q: %w", abs, err)
	}
	// SQLite silently keeps the old mode where WAL is impossible (some
	// network file systems); the durability promise would not hold.
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("sqlite: open %q: journal_mode is %q, want wal (is the file on a network file system?)", abs, mode)
	}
	if err := migrate(ctx, s.writer, migs); err != nil {
		return fmt.Errorf("sqlite: open %q: %w", abs, err)
	}
	return nil
}

// dsn builds the modernc.org/sqlite data source name for the database file
// at abs. It is a file: URI so that SQLite honours mode=ro; the path is
// percent-encoded, so a '?', '#' or '%' in it cannot start the query, cut
// the path or decode into another name. Every value below is a constant or
// an integer: nothing from outside reaches a PRAGMA as text.
//
// The driver runs the _pragma values on every new connection, busy_timeout
// first, so each pooled connection is configured alike.
func dsn(abs string, readOnly bool, busyMillis int64, sync Synchronous) string {
	p := filepath.ToSlash(abs)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: C:/x must become /C:/x
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(busyMillis, 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous("+sync.String()+")")
	if readOnly {
		// mode=ro opens the file with SQLITE_OPEN_READONLY: no statement on
		// these connections can write, whatever it is. query_only is a
		// second, independent lock on the same door.
		q.Set("mode", "ro")
		q.Add("_pragma", "query_only(1)")
	} else {
		// WAL is a property of the file; setting it on the writer, which
		// opens first, converts a new database.
		q.Add("_pragma", "journal_mode(WAL)")
		// Transactions take the write lock at BEGIN, so a transaction never
		// fails half-way trying to upgrade a read lock.
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: p, RawQuery: q.Encode()}
	return u.String()
}

// Ping checks that both the writer and the reader pool can reach the
// database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.writer.PingContext(ctx); err != nil {
		return wrap(ctx, "ping writer", err)
	}
	// A query that reads the file, not just a connection check.
	var n int
	if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		return wrap(ctx, "ping readers", err)
	}
	return nil
}

// Close closes both pools after the calls in flight finish. Writes already
// queued run and commit first; writes that arrive once Close has begun get
// ErrClosed. Close returns after the writer goroutine has exited. It is safe
// to call more than once; later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		if s.ops != nil {
			// Taking the write lock waits for sends in progress; after it,
			// no write can queue, and the writer runs what is queued and
			// exits.
			s.mu.Lock()
			s.closed = true
			close(s.ops)
			s.mu.Unlock()
			<-s.writerDone
		}
		var errs []error
		if err := s.closeDriver(s.insertDriver); err != nil {
			errs = append(errs, fmt.Errorf("sqlite: closing a statement: %w", err))
		}
		for _, p := range s.statements() {
			st := *p.dst
			if st == nil { // Open failed part-way
				continue
			}
			if err := st.Close(); err != nil {
				errs = append(errs, fmt.Errorf("sqlite: closing a statement: %w", err))
			}
		}
		if s.items != nil {
			if err := s.items.close(); err != nil {
				errs = append(errs, err)
			}
		}
		if s.reader != nil {
			if err := s.reader.Close(); err != nil {
				errs = append(errs, fmt.Errorf("sqlite: closing readers: %w", err))
			}
		}
		// The writer closes last: its connection checkpoints the WAL.
		if err := s.writer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sqlite: closing writer: %w", err))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// Every statement is a constant with ? placeholders; values travel only as
// arguments. Each item query has an owner-scoped form ("...Own") and an
// unscoped one for Access.All.
const (
	itemColumns = "id, owner_id, name, description, price, tax, created_at, updated_at"

	sqlInsertItem = "INSERT INTO items (" + itemColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"

	// GetItem reads back only the columns it does not know: the id and,
	// in the owner-scoped form, the owner are equal, byte for byte, to
	// the arguments they matched (TEXT compares with BINARY collation).
	// Each column of a result costs the driver its name and declared type
	// as Go strings on every query, and each text value a string.
	itemValueColumns = "name, description, price, tax, created_at, updated_at"
	sqlGetItemOwn    = "SELECT " + itemValueColumns + " FROM items WHERE id = ? AND owner_id = ?"
	sqlGetItemAll    = "SELECT owner_id, " + itemValueColumns + " FROM items WHERE id = ?"

	sqlListItemsOwn = "SELECT " + itemColumns + " FROM items WHERE owner_id = ? AND id > ? ORDER BY id LIMIT ?"
	sqlListItemsAll = "SELECT " + itemColumns + " FROM items WHERE id > ? ORDER BY id LIMIT ?"

	sqlUpdateItemOwn = "UPDATE items SET name = ?, description = ?, price = ?, tax = ?, updated_at = ? WHERE id = ? AND owner_id = ? RETURNING " + itemColumns
	sqlUpdateItemAll = "UPDATE items SET name = ?, description = ?, price = ?, tax = ?, updated_at = ? WHERE id = ? RETURNING " + itemColumns

	sqlDeleteItemOwn = "DELETE FROM items WHERE id = ? AND owner_id = ?"
	sqlDeleteItemAll = "DELETE FROM items WHERE id = ?"
)

// CreateItem implements server.ItemStore. It returns once the transaction
// that stored the item has committed (see the package documentation).
func (s *Store) CreateItem(ctx context.Context, it server.Item) error {
	return s.CreateItemThen(ctx, it, nil)
}

// CreateItemThen implements server.ItemCommitHooks.
func (s *Store) CreateItemThen(ctx context.Context, it server.Item, then func()) error {
	if it.ID == "" || it.OwnerID == "" {
		return errors.New("sqlite: create item: empty id or owner id")
	}
	if err := checkNumbers(it); err != nil {
		return fmt.Errorf("sqlite: create item: %w", err)
	}
	op := s.newOp(ctx, "create item")
	op.then = then
	// A tax is passed as a float64 or nil, not as a sql.NullFloat64 (boxed,
	// then boxed again by its Value); a new item's two times are usually
	// one value, boxed once.
	var tax any
	if it.Tax != nil {
		tax = *it.Tax
	}
	var created, updated any = it.CreatedAt.UnixMicro(), nil
	if it.UpdatedAt.Equal(it.CreatedAt) {
		updated = created
	} else {
		updated = it.UpdatedAt.UnixMicro()
	}
	op.args = [8]any{it.ID, it.OwnerID, it.Name, it.Description, it.Price, tax, created, updated}
	op.nargs = 8
	op.stmt, op.driverStmt, op.stmtErr = s.insertItem, s.insertDriver, createItemErr
	return s.submit(op)
}

// createItemErr is CreateItem's error for the insert's error err.
func createItemErr(ctx context.Context, err error) error {
	if isUniqueViolation(err) {
		return fmt.Errorf("sqlite: create item: id already exists: %w", server.ErrConflict)
	}
	return wrap(ctx, "create item", err)
}

// GetItem implements server.ItemStore. It runs on the item read
// connections (read.go), not on the database/sql reader pool.
func (s *Store) GetItem(ctx context.Context, acc server.Access, id string) (server.Item, error) {
	return s.items.get(ctx, acc, id)
}

// ListItems implements server.ItemStore. limit must be positive; callers
// cap it.
func (s *Store) ListItems(ctx context.Context, acc server.Access, after string, limit int) ([]server.Item, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("sqlite: list items: limit is %d, want > 0", limit)
	}
	var (
		rows *sql.Rows
		err  error
	)
	switch {
	case acc.All:
		rows, err = s.listItemsAll.QueryContext(ctx, after, limit)
	case acc.UserID != "":
		rows, err = s.listItemsOwn.QueryContext(ctx, acc.UserID, after, limit)
	default:
		return nil, errNoUser
	}
	if err != nil {
		return nil, wrap(ctx, "list items", err)
	}
	defer rows.Close()
	items := make([]server.Item, 0, min(limit, 128))
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			return nil, wrap(ctx, "list items", err)
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(ctx, "list items", err)
	}
	return items, nil
}

// UpdateItem implements server.ItemStore. It returns once the transaction
// that changed the item has committed.
func (s *Store) UpdateItem(ctx context.Context, acc server.Access, it server.Item) (server.Item, error) {
	return s.UpdateItemThen(ctx, acc, it, nil)
}

// UpdateItemThen implements server.ItemCommitHooks.
func (s *Store) UpdateItemThen(ctx context.Context, acc server.Access, it server.Item, then func(server.Item)) (server.Item, error) {
	if err := checkNumbers(it); err != nil {
		return server.Item{}, fmt.Errorf("sqlite: update item: %w", err)
	}
	args := []any{it.Name, it.Description, it.Price, nullFloat(it.Tax), it.UpdatedAt.UnixMicro(), it.ID}
	var st *sql.Stmt
	switch {
	case acc.All:
		st = s.updateItemAll
	case acc.UserID != "":
		st, args = s.updateItemOwn, append(args, acc.UserID)
	default:
		return server.Item{}, errNoUser
	}
	const op = "update item"
	var got server.Item // set by the writer; read only after write returns nil
	var after func()
	if then != nil {
		after = func() { then(got) }
	}
	err := s.writeThen(ctx, op, func(runCtx context.Context, stmt func(*sql.Stmt) *sql.Stmt) error {
		stored, err := scanItem(stmt(st).QueryRowContext(runCtx, args...))
		if errors.Is(err, sql.ErrNoRows) {
			return server.ErrNotFound
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		got = stored
		return nil
	}, after)
	if err != nil {
		return server.Item{}, err
	}
	return got, nil
}

// DeleteItem implements server.ItemStore. It returns once the transaction
// that removed the item has committed.
func (s *Store) DeleteItem(ctx context.Context, acc server.Access, id string) error {
	return s.DeleteItemThen(ctx, acc, id, nil)
}

// DeleteItemThen implements server.ItemCommitHooks.
func (s *Store) DeleteItemThen(ctx context.Context, acc server.Access, id string, then func()) error {
	var (
		st   *sql.Stmt
		args []any
	)
	switch {
	case acc.All:
		st, args = s.deleteItemAll, []any{id}
	case acc.UserID != "":
		st, args = s.deleteItemOwn, []any{id, acc.UserID}
	default:
		return errNoUser
	}
	const op = "delete item"
	return s.writeThen(ctx, op, func(runCtx context.Context, stmt func(*sql.Stmt) *sql.Stmt) error {
		res, err := stmt(st).ExecContext(runCtx, args...)
		if err != nil {
			return wrap(ctx, op, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return wrap(ctx, op, err)
		}
		if n == 0 {
			return server.ErrNotFound
		}
		return nil
	}, then)
}

// scanItem reads one row of itemColumns.
func scanItem(sc interface{ Scan(...any) error }) (server.Item, error) {
	d := new(itemRow)
	if err := sc.Scan(&d.it.ID, &d.it.OwnerID, &d.it.Name, &d.it.Description, &d.it.Price, &d.tax, &d.created, &d.updated); err != nil {
		return server.Item{}, err
	}
	return d.item(), nil
}

// itemRow holds the scan targets of an item row. They escape (Scan takes
// them as any): in one struct they are one allocation, not four.
type itemRow struct {
	it               server.Item
	tax              sql.NullFloat64
	created, updated int64
}

// item is the row as a server.Item.
func (d *itemRow) item() server.Item {
	it := d.it
	if d.tax.Valid {
		it.Tax = &d.tax.Float64
	}
	it.CreatedAt = time.UnixMicro(d.created).UTC()
	it.UpdatedAt = time.UnixMicro(d.updated).UTC()
	return it
}

// checkNumbers rejects NaN (server.Item.CheckNumbers): SQLite stores a NaN
// REAL as NULL, so a NaN tax would silently come back as "no tax" and a
// NaN price would fail NOT NULL with a misleading message.
func checkNumbers(it server.Item) error { return it.CheckNumbers() }

func nullFloat(f *float64) sql.NullFloat64 {
	if f == nil {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: *f, Valid: true}
}

// isUniqueViolation reports whether err is SQLite refusing a duplicate key,
// by its extended result code (the driver enables extended codes).
// isBusy reports whether err is SQLITE_BUSY or one of its extended codes.
func isBusy(err error) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}

// isConstraint reports whether err is SQLITE_CONSTRAINT or one of its
// extended codes.
func isConstraint(err error) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}

func isUniqueViolation(err error) bool {
	var se *msqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
		return true
	}
	return false
}

// wrap adds the operation to err and, when ctx has ended, makes sure the
// result matches ctx.Err() under errors.Is even if the driver reported the
// interruption its own way. SQLite's messages name tables and constraints,
// never bound values, and no value is ever part of the SQL text.
func wrap(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("sqlite: %s: %w: %w", op, cerr, err)
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fortapi/fortapi/server"
)

// The item read path.
//
// GetItem, the hot read of the reference server, does not go through
// database/sql. A profile of GET /items/{id} under load put a quarter of the
// server's CPU in it, most of that in machinery a point read by primary key
// does not need: database/sql's connection and statement pools (locks, a
// driver.NamedValue slice, a Rows and its column names and declared types as
// Go strings on every query), the driver's goroutine watching each
// cancellable context, one C allocation per bound string, and the mutex a
// connection opened SQLITE_OPEN_FULLMUTEX (the driver's only mode) takes and
// releases around every call.
//
// itemReaders is instead a small pool of connections of its own, opened
// through SQLite's C API (modernc.org/sqlite/lib, the library the driver
// itself calls) with:
//   - SQLITE_OPEN_READONLY, and PRAGMA query_only as a second lock: these
//     connections cannot write;
//   - SQLITE_OPEN_NOMUTEX: a connection is only ever used by the goroutine
//     that took it from the pool, which the channel hand-off orders;
//   - the two GetItem statements prepared once per connection and the
//     arguments bound SQLITE_STATIC from a C buffer the connection owns.
//
// The connections use the ordinary unix VFS and WAL: every read is its own
// read transaction under the usual shared locks, so another process (the
// fortapi CLI) may read and write the same file meanwhile, and a read sees
// every write committed before it started. Nothing is cached between reads
// but the prepared statements and SQLite's page cache, which WAL keeps
// coherent.
//
// Cancellation: ctx is checked before the read and while it waits for a
// connection or for a lock. The statement itself, one B-tree lookup by
// primary key, is not interrupted. A lock held by another connection (a
// checkpoint, another process) is waited for in Go, up to the store's busy
// timeout, not in SQLite's busy handler, so that the wait ends with ctx or
// Close.

// itemReaders is the pool of item read connections. Its zero value is not
// usable: see openItemReaders.
type itemReaders struct {
	free chan *itemConn // the idle connections
	n    int            // how many exist; Close takes n back from free
	busy time.Duration  // how long a read waits for a lock
	// step is sqlite3_step; tests replace it to play a lock held by
	// another process (SQLITE_BUSY), which one process cannot make SQLite
	// report on demand.
	step func(tls *libc.TLS, st uintptr) int32
	// closed says what done's being closed says, for acquire's check on
	// every read: an atomic load, where a select on done costs a lock.
	closed atomic.Bool   // set by close before it takes the connections back
	done   chan struct{} // closed with closed: ends the waits
	once   sync.Once
	err    error // close's result
}

// itemConn is one read connection and its statements. It is used by one
// goroutine at a time, the one that took it from itemReaders.free.
type itemConn struct {
	tls    *libc.TLS
	db     uintptr
	getOwn uintptr // sqlGetItemOwn
	getAll uintptr // sqlGetItemAll
	// buf is C memory for the bound arguments: the statements refer to it
	// (SQLITE_STATIC) from the bind until the next bind; bufLen is its size.
	buf    uintptr
	bufLen int
}

// itemBufMin is the size of a connection's first argument buffer: an id
// and an owner id of the reference server (UUID text) fit.
const itemBufMin = 256

// maxItemKey bounds the length of an id (and of an owner id) GetItem binds.
// No stored id can be longer: SQLite's default limit on a value is 10^9
// bytes, and the handlers accept far shorter ones.
const maxItemKey = 1 << 20

// openItemReaders opens n read connections to the database file at abs,
// which the writer has created and switched to WAL.
func openItemReaders(abs string, n int, busy time.Duration) (*itemReaders, error) {
	r := &itemReaders{free: make(chan *itemConn, n), busy: busy, done: make(chan struct{}), step: sqlite3.Xsqlite3_step}
	for range n {
		c, err := openItemConn(abs)
		if err != nil {
			r.close()
			return nil, err
		}
		r.n++
		r.free <- c
	}
	return r, nil
}

// openItemConn opens one read-only connection and prepares its statements.
func openItemConn(abs string) (_ *itemConn, err error) {
	c := &itemConn{tls: libc.NewTLS()}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	name, err := libc.CString(abs)
	if err != nil {
		return nil, err
	}
	defer libc.Xfree(c.tls, name)
	pdb := c.tls.Alloc(int(unsafe.Sizeof(uintptr(0))))
	defer c.tls.Free(int(unsafe.Sizeof(uintptr(0))))
	*(*uintptr)(cPtr(pdb)) = 0
	// Not SQLITE_OPEN_URI: abs is a plain path, whatever characters it
	// holds. SQLITE_OPEN_EXRESCODE: extended result codes, as the driver.
	const flags = sqlite3.SQLITE_OPEN_READONLY | sqlite3.SQLITE_OPEN_NOMUTEX |
		sqlite3.SQLITE_OPEN_PRIVATECACHE | sqlite3.SQLITE_OPEN_EXRESCODE
	rc := sqlite3.Xsqlite3_open_v2(c.tls, name, pdb, flags, 0)
	c.db = *(*uintptr)(cPtr(pdb)) // set even on failure: close frees it
	if rc != sqlite3.SQLITE_OK {
		return nil, fmt.Errorf("sqlite: open item reader: %w", c.errorf(rc))
	}
	if err := c.exec("PRAGMA query_only = 1"); err != nil {
		return nil, err
	}
	if c.getOwn, err = c.prepare(sqlGetItemOwn); err != nil {
		return nil, err
	}
	if c.getAll, err = c.prepare(sqlGetItemAll); err != nil {
		return nil, err
	}
	if c.buf = libc.Xmalloc(c.tls, itemBufMin); c.buf == 0 {
		return nil, errors.New("sqlite: open item reader: out of memory")
	}
	c.bufLen = itemBufMin
	return c, nil
}

// exec runs one statement that returns no rows.
func (c *itemConn) exec(query string) error {
	st, err := c.prepare(query)
	if err != nil {
		return err
	}
	rc := sqlite3.Xsqlite3_step(c.tls, st)
	if frc := sqlite3.Xsqlite3_finalize(c.tls, st); rc == sqlite3.SQLITE_DONE || rc == sqlite3.SQLITE_ROW {
		rc = frc
	}
	if rc != sqlite3.SQLITE_OK {
		return fmt.Errorf("sqlite: open item reader: %q: %w", query, c.errorf(rc))
	}
	return nil
}

// prepare prepares query, a constant of this package, for the life of the
// connection.
func (c *itemConn) prepare(query string) (uintptr, error) {
	q, err := libc.CString(query)
	if err != nil {
		return 0, err
	}
	defer libc.Xfree(c.tls, q)
	pst := c.tls.Alloc(int(unsafe.Sizeof(uintptr(0))))
	defer c.tls.Free(int(unsafe.Sizeof(uintptr(0))))
	*(*uintptr)(cPtr(pst)) = 0
	rc := sqlite3.Xsqlite3_prepare_v3(c.tls, c.db, q, -1, sqlite3.SQLITE_PREPARE_PERSISTENT, pst, 0)
	if rc != sqlite3.SQLITE_OK {
		return 0, fmt.Errorf("sqlite: open item reader: preparing %q: %w", query, c.errorf(rc))
	}
	return *(*uintptr)(cPtr(pst)), nil
}

// close finalizes the statements, closes the connection and frees its C
// memory. The statements go first: they refer to buf.
func (c *itemConn) close() error {
	var rc int32 = sqlite3.SQLITE_OK
	for _, st := range [...]*uintptr{&c.getOwn, &c.getAll} {
		if *st != 0 {
			sqlite3.Xsqlite3_finalize(c.tls, *st)
			*st = 0
		}
	}
	if c.db != 0 {
		rc = sqlite3.Xsqlite3_close_v2(c.tls, c.db)
		c.db = 0
	}
	if c.buf != 0 {
		libc.Xfree(c.tls, c.buf)
		c.buf, c.bufLen = 0, 0
	}
	var err error
	if rc != sqlite3.SQLITE_OK {
		err = fmt.Errorf("sqlite: closing an item reader: %w", sqliteError{rc: rc, msg: libc.GoString(sqlite3.Xsqlite3_errstr(c.tls, rc))})
	}
	c.tls.Close()
	return err
}

// sqliteError is an error code of SQLite and its message.
type sqliteError struct {
	rc  int32
	msg string
}

func (e sqliteError) Error() string { return fmt.Sprintf("%s (%d)", e.msg, e.rc) }

// errorf returns rc, the result of the last call on c, with SQLite's message.
func (c *itemConn) errorf(rc int32) error {
	msg := ""
	if c.db != 0 {
		msg = libc.GoString(sqlite3.Xsqlite3_errmsg(c.tls, c.db))
	}
	if msg == "" {
		msg = libc.GoString(sqlite3.Xsqlite3_errstr(c.tls, rc))
	}
	return sqliteError{rc: rc, msg: msg}
}

// close waits for the reads in flight and closes every connection. Later
// calls return the first one's result.
func (r *itemReaders) close() error {
	r.once.Do(func() {
		r.closed.Store(true)
		close(r.done)
		var errs []error
		for range r.n {
			if err := (<-r.free).close(); err != nil {
				errs = append(errs, err)
			}
		}
		r.err = errors.Join(errs...)
	})
	return r.err
}

// acquire takes an idle connection, waiting for one while ctx lasts and
// the pool is open.
func (r *itemReaders) acquire(ctx context.Context) (*itemConn, error) {
	var c *itemConn
	select {
	case c = <-r.free:
	default:
		select {
		case c = <-r.free:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-r.done:
			return nil, ErrClosed
		}
	}
	// close may have begun while c was idle: it takes c back.
	if r.closed.Load() {
		r.free <- c
		return nil, ErrClosed
	}
	return c, nil
}

// get is GetItem on a connection of the pool.
func (r *itemReaders) get(ctx context.Context, acc server.Access, id string) (server.Item, error) {
	const op = "get item"
	if err := ctx.Err(); err != nil {
		return server.Item{}, wrap(ctx, op, err)
	}
	var owner string
	switch {
	case acc.All:
	case acc.UserID != "":
		owner = acc.UserID
	default:
		return server.Item{}, errNoUser
	}
	if len(id) > maxItemKey || len(owner) > maxItemKey {
		return server.Item{}, server.ErrNotFound
	}
	c, err := r.acquire(ctx)
	if err != nil {
		return server.Item{}, wrap(ctx, op, err)
	}
	it, err := r.getOn(ctx, c, id, owner)
	r.free <- c
	if err != nil {
		if errors.Is(err, server.ErrNotFound) {
			return server.Item{}, err
		}
		return server.Item{}, wrap(ctx, op, err)
	}
	return it, nil
}

// getOn reads item id, owned by owner unless owner is "", on c.
func (r *itemReaders) getOn(ctx context.Context, c *itemConn, id, owner string) (server.Item, error) {
	st := c.getAll
	if owner != "" {
		st = c.getOwn
	}
	if err := c.bind(st, id, owner); err != nil {
		return server.Item{}, err
	}
	var deadline time.Time
	for attempt := 0; ; attempt++ {
		rc := r.step(c.tls, st)
		switch rc {
		case sqlite3.SQLITE_ROW:
			it := c.item(st, id, owner)
			// reset ends the read transaction: it releases the WAL read
			// lock; its result repeats step's, which was ROW.
			sqlite3.Xsqlite3_reset(c.tls, st)
			return it, nil
		case sqlite3.SQLITE_DONE:
			sqlite3.Xsqlite3_reset(c.tls, st)
			return server.Item{}, server.ErrNotFound
		}
		err := c.errorf(rc)
		sqlite3.Xsqlite3_reset(c.tls, st)
		if rc&0xff != sqlite3.SQLITE_BUSY {
			return server.Item{}, err
		}
		// Another connection holds a lock this read needs: wait a little,
		// as SQLite's busy handler would, up to the busy timeout.
		if attempt == 0 {
			deadline = time.Now().Add(r.busy)
		}
		wait := min(time.Millisecond<<min(attempt, 7), 100*time.Millisecond)
		if time.Now().Add(wait).After(deadline) {
			return server.Item{}, err
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return server.Item{}, ctx.Err()
		case <-r.done:
			t.Stop()
			return server.Item{}, ErrClosed
		}
	}
}

// bind binds id and, when not "", owner to st's parameters, copying them
// into c.buf.
func (c *itemConn) bind(st uintptr, id, owner string) error {
	need := len(id) + len(owner)
	if need > c.bufLen {
		size := max(need, 2*c.bufLen)
		p := libc.Xrealloc(c.tls, c.buf, libc.Tsize_t(size))
		if p == 0 {
			return errors.New("out of memory")
		}
		c.buf, c.bufLen = p, size
	}
	b := unsafe.Slice((*byte)(cPtr(c.buf)), need)
	copy(b, id)
	copy(b[len(id):], owner)
	// SQLITE_STATIC (0): SQLite reads the value from c.buf when the
	// statement runs; it is bound again before every run. A zero-length
	// value still needs a non-nil pointer (nil binds NULL): buf is never nil.
	if rc := sqlite3.Xsqlite3_bind_text(c.tls, st, 1, c.buf, int32(len(id)), 0); rc != sqlite3.SQLITE_OK {
		return c.errorf(rc)
	}
	if owner != "" {
		if rc := sqlite3.Xsqlite3_bind_text(c.tls, st, 2, c.buf+uintptr(len(id)), int32(len(owner)), 0); rc != sqlite3.SQLITE_OK {
			return c.errorf(rc)
		}
	}
	return nil
}

// item reads the current row of st: owner_id first when owner is "" (the
// unscoped statement), then itemValueColumns. The table is STRICT, so every
// column has its declared type (name and description TEXT NOT NULL, price
// REAL NOT NULL, tax REAL or NULL, the times INTEGER NOT NULL).
//
// The row's text columns are copied into one allocation that the item's
// strings share.
func (c *itemConn) item(st uintptr, id, owner string) server.Item {
	col := int32(0)
	if owner == "" {
		col = 1
	}
	var (
		text [3]uintptr // owner_id, name, description
		n    [3]int
	)
	for i := 1 - col; i < 3; i++ {
		// column_text before column_bytes, as SQLite documents.
		text[i] = sqlite3.Xsqlite3_column_text(c.tls, st, col-1+i)
		n[i] = int(sqlite3.Xsqlite3_column_bytes(c.tls, st, col-1+i))
	}
	var s [3]string
	if total := n[0] + n[1] + n[2]; total > 0 {
		b := make([]byte, 0, total)
		for i := range text {
			if n[i] > 0 {
				b = append(b, unsafe.Slice((*byte)(cPtr(text[i])), n[i])...)
			}
		}
		all := unsafe.String(unsafe.SliceData(b), total)
		off := 0
		for i := range s {
			s[i], off = all[off:off+n[i]], off+n[i]
		}
	}
	it := server.Item{ID: id, OwnerID: owner, Name: s[1], Description: s[2]}
	if owner == "" {
		it.OwnerID = s[0]
	}
	it.Price = sqlite3.Xsqlite3_column_double(c.tls, st, col+2)
	if sqlite3.Xsqlite3_column_type(c.tls, st, col+3) != sqlite3.SQLITE_NULL {
		tax := sqlite3.Xsqlite3_column_double(c.tls, st, col+3)
		it.Tax = &tax
	}
	it.CreatedAt = time.UnixMicro(sqlite3.Xsqlite3_column_int64(c.tls, st, col+4)).UTC()
	it.UpdatedAt = time.UnixMicro(sqlite3.Xsqlite3_column_int64(c.tls, st, col+5)).UTC()
	return it
}

// cPtr returns p, an address in C memory (libc's heap, which SQLite's
// allocations, the TLS stack and the argument buffers live in, outside the
// Go heap), as an unsafe.Pointer. Go's collector neither moves nor frees
// that memory, so the conversion is sound; written this way, go vet does
// not take it for the conversion of a Go address held in a uintptr.
func cPtr(p uintptr) unsafe.Pointer { return *(*unsafe.Pointer)(unsafe.Pointer(&p)) }

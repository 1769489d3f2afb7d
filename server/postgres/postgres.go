package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/server"
)

// Defaults applied for zero Options fields.
const (
	DefaultMaxConns         = 10
	DefaultStatementTimeout = 5 * time.Second
	// DefaultApplicationName is the application_name the store's
	// connections show in pg_stat_activity unless the URL sets one.
	DefaultApplicationName = "fortapi"
)

// Options configures Open. Only URL is required; every other zero field
// gives the documented default.
type Options struct {
	// URL locates the database: a postgres:// or postgresql:// URL (or a
	// libpq keyword/value string), parsed by pgx. It may carry a password;
	// the password is never logged nor put in an error. Query parameters
	// that are not connection settings are run-time parameters of every
	// connection: search_path=myschema puts the tables in that schema.
	// As with libpq, PG* environment variables and ~/.pgpass fill in what
	// the URL leaves out.
	URL string
	// MaxConns is the most connections the pool opens. Zero means
	// DefaultMaxConns (10); negative or more than math.MaxInt32 is an
	// error.
	MaxConns int
	// StatementTimeout bounds every statement on the server side
	// (statement_timeout, set on each connection at its start, and taking
	// precedence over one in the URL): a statement that runs longer, or
	// that waits longer for a lock, fails instead of holding a connection.
	// Zero means DefaultStatementTimeout (5s); negative is an error. It is
	// rounded up to whole milliseconds.
	StatementTimeout time.Duration
	// Logger receives what the store reports: the migrations it applies.
	// Nil discards. The URL's password is never part of a record.
	Logger *slog.Logger
	// Now is the clock for the times the store fills in itself (a zero
	// At of AddEvent, a zero CreatedAt of AddRevocation, applied_at of a
	// migration). Nil means time.Now.
	Now func() time.Time
}

// ErrSchemaTooNew is returned (wrapped) by Open when the database was
// migrated by a newer binary than this one: its schema version is higher
// than the newest migration embedded here, and running against it could
// corrupt data. It is server.ErrSchemaTooNew, which every store returns.
var ErrSchemaTooNew = server.ErrSchemaTooNew

// errNoUser is returned when an Access names no user and does not lift the
// owner condition: a programming error upstream, never "all items".
var errNoUser = errors.New("postgres: access has neither a user id nor All")

// Store is the PostgreSQL implementation of server.Store, on a pgxpool
// pool. It is safe for concurrent use.
type Store struct {
	pool   *pgxpool.Pool
	now    func() time.Time
	logger *slog.Logger
	// Keys of the transaction-level advisory locks (see the package
	// documentation), derived from the schema the tables are in so that
	// stores in different schemas of one database do not share them.
	revocationLock, adminLock int64
	// channel is the schema's change-notification channel and connCfg
	// the configuration of the pool's connections, from which Listen
	// makes its own (notify.go).
	channel string
	connCfg *pgx.ConnConfig
}

var (
	_ server.Store = (*Store)(nil)
	_ jwtkey.Store = (*Store)(nil)
)

// Open connects to the database at opts.URL, applies the embedded
// migrations it lacks (under an advisory lock, so that several processes
// opening one database at once migrate it once) and returns a ready
// Store. ctx bounds the open and the migrations only.
//
// The tables go in the first schema of the connections' search_path,
// which must exist. A database whose schema is newer than this binary is
// refused (ErrSchemaTooNew).
func Open(ctx context.Context, opts Options) (*Store, error) {
	cfg, err := poolConfig(opts)
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	migs, err := loadMigrations(migrationFiles)
	if err != nil {
		return nil, err
	}
	pw := cfg.ConnConfig.Password
	target := describe(&cfg.ConnConfig.Config)

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, connError(ctx, "open "+target, err, pw)
	}
	s := &Store{pool: pool, now: now, logger: logger}
	schema, err := s.initSchema(ctx, migs, target)
	if err != nil {
		pool.Close()
		return nil, connError(ctx, "open "+target, err, pw)
	}
	s.revocationLock = lockKey("revocations", schema)
	s.adminLock = lockKey("admins", schema)
	s.channel = channelName(schema)
	s.connCfg = cfg.ConnConfig.Copy()
	return s, nil
}

// poolConfig turns opts into a pool configuration, checking every field.
// Errors never quote the URL.
func poolConfig(opts Options) (*pgxpool.Config, error) {
	if opts.URL == "" {
		return nil, errors.New("postgres: open: empty URL")
	}
	maxConns, err := orDefault("MaxConns", opts.MaxConns, DefaultMaxConns)
	if err != nil {
		return nil, err
	}
	if maxConns > math.MaxInt32 {
		return nil, fmt.Errorf("postgres: open: MaxConns %d exceeds %d", maxConns, math.MaxInt32)
	}
	timeout, err := orDefault("StatementTimeout", opts.StatementTimeout, DefaultStatementTimeout)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %s", parseErrorText(opts.URL, err))
	}
	cfg.MaxConns = int32(maxConns)
	millis := int64(timeout / time.Millisecond)
	if timeout%time.Millisecond != 0 {
		millis++
	}
	rp := cfg.ConnConfig.RuntimeParams
	rp["statement_timeout"] = strconv.FormatInt(millis, 10)
	if rp["application_name"] == "" {
		rp["application_name"] = DefaultApplicationName
	}
	// Times travel as timestamptz and come back as instants; pinning the
	// session time zone keeps anything printed by the server (logs,
	// errors) unambiguous.
	if rp["timezone"] == "" && rp["TimeZone"] == "" {
		rp["timezone"] = "UTC"
	}
	return cfg, nil
}

// orDefault returns v, or def when v is zero; a negative v is an error
// naming the option.
func orDefault[T int | time.Duration](name string, v, def T) (T, error) {
	switch {
	case v < 0:
		return 0, fmt.Errorf("postgres: open: %s is %v, want >= 0", name, v)
	case v == 0:
		return def, nil
	}
	return v, nil
}

// parseErrorText says why the URL does not parse without repeating it:
// url.Parse and pgx quote the whole string, password included. pgx's
// message redacts the password, but only for the forms it recognises, so
// only the reason is kept, and any occurrence of the password is replaced
// besides.
func parseErrorText(raw string, err error) string {
	reason := "the URL does not parse"
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		// "cannot parse `<the string, password redacted>`: <reason>": keep
		// the reason only, unless it could still be part of the string.
		text := pe.Error()
		if i := strings.LastIndex(text, "`: "); i >= 0 && !strings.Contains(text[i+3:], "`") {
			reason += ": " + text[i+3:]
		}
	}
	if u, perr := url.Parse(raw); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			reason = redact(reason, pw)
		}
	}
	return reason
}

// describe names the database for messages: user, host, port and
// database, never the password.
func describe(c *pgconn.Config) string {
	return fmt.Sprintf("database %q on %s as user %q", c.Database, hostPort(c.Host, c.Port), c.User)
}

func hostPort(host string, port uint16) string {
	if strings.HasPrefix(host, "/") { // a Unix socket directory
		return host
	}
	return fmt.Sprintf("%s:%d", host, port)
}

// redact replaces every occurrence of pw in s.
func redact(s, pw string) string {
	if pw == "" {
		return s
	}
	return strings.ReplaceAll(s, pw, "xxxxx")
}

// connError reports a failure to connect or to prepare the database. The
// driver's error is kept as text only, with the password replaced: pgx's
// connection errors carry the whole configuration, password included, for
// anyone who unwraps them. A context error stays matchable with
// errors.Is, and so does ErrSchemaTooNew.
func connError(ctx context.Context, op string, err error, pw string) error {
	msg := redact(err.Error(), pw)
	switch {
	case errors.Is(err, ErrSchemaTooNew):
		return fmt.Errorf("postgres: %s: %s: %w", op, msg, ErrSchemaTooNew)
	case ctx.Err() != nil:
		return fmt.Errorf("postgres: %s: %s: %w", op, msg, ctx.Err())
	}
	return fmt.Errorf("postgres: %s: %s", op, msg)
}

// lockKey is the advisory lock key for the named lock of the store whose
// tables are in schema: 64 bits of FNV-1a. A collision with a lock of
// another application only makes one wait for the other.
func lockKey(name, schema string) int64 {
	h := fnv.New64a()
	h.Write([]byte("fortapi\x00" + name + "\x00" + schema))
	return int64(h.Sum64())
}

// Ping checks that the database answers a query that reads the schema.
func (s *Store) Ping(ctx context.Context) error {
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		return wrap(ctx, "ping", err)
	}
	return nil
}

// Close closes the pool. It waits for connections in use to be returned,
// so calls in flight finish first. It is safe to call more than once.
func (s *Store) Close() error {
	s.pool.Close() // idempotent
	return nil
}

// Strings and bytes.
//
// Every caller-supplied string is a bytea column (see migrations/0001):
// it goes in as []byte, never as a Go string, which pgx would send in
// text format, where bytea's input syntax would turn "\x41" into "A".

// raw is the query argument for a string kept in a bytea column.
func raw(s string) []byte {
	if s == "" {
		return []byte{} // an empty value, not NULL
	}
	return []byte(s)
}

// byteString scans a bytea column into a Go string, byte for byte.
type byteString string

// ScanBytes implements pgtype.BytesScanner; v is copied by the conversion.
func (b *byteString) ScanBytes(v []byte) error {
	*b = byteString(v)
	return nil
}

// str is the scan destination for a string kept in a bytea column.
func str(p *string) *byteString { return (*byteString)(p) }

// Times.
//
// Times are timestamptz: PostgreSQL keeps microseconds, which is what the
// store contract promises; they come back in UTC. A zero time.Time is
// NULL where the column allows it and comes back zero.

// micro truncates t to what the database keeps: the same instant, to the
// microsecond, in UTC.
func micro(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

// nullTime is the argument for a nullable time column.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// fromNull reads a nullable time column.
func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// Error mapping.

// PostgreSQL error codes the store maps.
const (
	codeUniqueViolation     = "23505"
	codeForeignKeyViolation = "23503"
	codeSerialization       = "40001"
	codeDeadlock            = "40P01"
)

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func isUniqueViolation(err error) bool     { return pgCode(err) == codeUniqueViolation }
func isForeignKeyViolation(err error) bool { return pgCode(err) == codeForeignKeyViolation }

// wrap adds the operation to err and, when ctx has ended, makes sure the
// result matches ctx.Err() under errors.Is even if the driver reported the
// interruption its own way. PostgreSQL's messages name tables and
// constraints; a unique violation's detail may quote a key, but such
// errors are mapped to server.ErrConflict before they get here.
//
// An error that says the server could not be reached or cannot serve for
// now (unavailable) also matches server.ErrUnavailable, so that the HTTP
// layer answers 503 with Retry-After rather than 500.
func wrap(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("postgres: %s: %w: %w", op, cerr, err)
	}
	if ctx.Err() == nil && unavailable(err) {
		return fmt.Errorf("postgres: %s: %w: %w", op, server.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// unavailable reports whether err says that PostgreSQL could not be
// reached or cannot serve for now, rather than that the statement failed:
// a connection refused, lost or timed out (pgconn's connect and network
// errors, EOF, and pgconn.ErrConnClosed: a connection the driver closed
// after an earlier failure of the same operation, as a COMMIT lost with the
// server gets), or a server answer of class 08 (connection exception),
// 57P01-57P03 (shutting down, crashed, starting up), 53300 (no connection
// slot), 25006 (read-only: a standby after a failover) or 57014 (a
// statement timeout; the caller's own cancellation is told apart by wrap).
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", "57P02", "57P03", "53300", "25006", "57014":
			return true
		}
		return strings.HasPrefix(pe.Code, "08")
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, pgconn.ErrConnClosed) || pgconn.Timeout(err) || pgconn.SafeToRetry(err)
}

// txAttempts is how often inTx runs a transaction that PostgreSQL aborted
// to break a deadlock (or a serialization failure).
const txAttempts = 3

// inTx runs fn in a transaction and commits it when fn returns nil; any
// error rolls everything back. fn's errors are returned as they are (fn
// wraps its own); failures to begin or commit are wrapped with op.
//
// The locks of the store's transactions are taken in one order (see
// auth.go), so deadlocks are not expected; should PostgreSQL still abort
// one to break a deadlock (40P01) or a serialization failure (40001), the
// whole transaction runs again, up to txAttempts times in all. fn must
// therefore set its results afresh on every run.
func (s *Store) inTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	var err error
	for range txAttempts {
		err = s.tryTx(ctx, op, fn)
		if code := pgCode(err); (code != codeDeadlock && code != codeSerialization) || ctx.Err() != nil {
			return err
		}
	}
	return err
}

// tryTx is one run of inTx.
func (s *Store) tryTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrap(ctx, op, err)
	}
	defer func() {
		// A no-op after Commit. The caller's context may have ended: the
		// rollback must still reach the server (or pgx closes the
		// connection, which rolls back as well).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tx.Rollback(rctx)
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}

// lockRevocationLog takes the transaction-level advisory lock that every
// insert into the revocation log holds until its transaction ends, so that
// entries commit in the order of their seq (see the package
// documentation). A transaction takes it after its row locks, right before
// its inserts, so it is held briefly and never while waiting for a row.
func (s *Store) lockRevocationLog(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", s.revocationLock)
	return err
}

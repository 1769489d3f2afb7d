package postgres

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fortapi/fortapi/server"
)

// Change notifications (LISTEN/NOTIFY).
//
// Every transaction that appends to the revocation log, and every SaveKeys,
// calls pg_notify on the store's channel inside the transaction, so
// PostgreSQL delivers the notification only when (and if) it commits. The
// channel is named after the schema (Store.channel), so stores in several
// schemas of one database (tests run many) do not wake each other. The
// payload says what changed: payloadRevocations or payloadKeys.
//
// A notification carries no data: it only wakes a reader, which then
// reads the log by seq (authn.Service.Sync) or reloads the keys. The
// database stays the source of truth, so a notification lost while a
// listener was disconnected loses nothing: after every (re)connect the
// Listener wakes its reader at once, and that read catches up.

// The payloads of the store's notifications. An item change is
// payloadItem, an op (itemOpCreated, ...), ":", the hex of the item's id,
// ":", the hex of its owner's id.
const (
	payloadRevocations = "r"
	payloadKeys        = "k"
	payloadItem        = "i"

	itemOpCreated = 'c'
	itemOpUpdated = 'u'
	itemOpDeleted = 'd'
)

// ItemOp says what happened to an item.
type ItemOp byte

// The ops of ItemChange.
const (
	ItemCreated ItemOp = itemOpCreated
	ItemUpdated ItemOp = itemOpUpdated
	ItemDeleted ItemOp = itemOpDeleted
)

// ItemChange is one committed item write, as a Listener with
// ListenOptions.Items delivers it. A creation or an update of an item
// small enough carries the item as the write left it (Item; id, owner,
// name and description of at most 3400 bytes together: PostgreSQL limits a
// notification's payload to 8000 bytes); a larger one, and a deletion,
// only a reference (Item nil), which the reader fetches when it needs
// more.
//
// A change with Gap set is no write: it says that changes may have been
// lost before it (the listening connection was (re)established, or the
// reader fell DefaultListenItemQueue changes behind). The reader must
// assume it missed some.
type ItemChange struct {
	Op      ItemOp
	ID      string
	OwnerID string
	Item    *server.Item
	Gap     bool
	// Gen, on a Gap, is the Generation it belongs to: a reader that has
	// handled the Gap of the current Generation has seen everything since
	// the connection listened.
	Gen uint64
}

// parseItemChange reads the payload of an item notification (notifyItem
// in items.go): a reference of 2 fields after the op, or a snapshot of 8.
func parseItemChange(payload string) (ItemChange, bool) {
	rest, ok := strings.CutPrefix(payload, payloadItem)
	if !ok || len(rest) < 2 || rest[1] != ':' {
		return ItemChange{}, false
	}
	op := ItemOp(rest[0])
	if op != ItemCreated && op != ItemUpdated && op != ItemDeleted {
		return ItemChange{}, false
	}
	f := strings.Split(rest[2:], ":")
	if len(f) != 2 && (len(f) != 8 || op == ItemDeleted) {
		return ItemChange{}, false
	}
	var bad bool
	hexField := func(s string) string {
		b, err := hex.DecodeString(s)
		bad = bad || err != nil
		return string(b)
	}
	float := func(s string) float64 {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 8 {
			bad = true
			return 0
		}
		v := math.Float64frombits(binary.BigEndian.Uint64(b))
		bad = bad || math.IsNaN(v) || math.IsInf(v, 0)
		return v
	}
	micros := func(s string) time.Time {
		n, err := strconv.ParseInt(s, 10, 64)
		bad = bad || err != nil
		return time.UnixMicro(n).UTC()
	}
	c := ItemChange{Op: op, ID: hexField(f[0]), OwnerID: hexField(f[1])}
	if c.ID == "" || c.OwnerID == "" {
		return ItemChange{}, false
	}
	if len(f) == 8 {
		it := server.Item{ID: c.ID, OwnerID: c.OwnerID, Name: hexField(f[2]), Description: hexField(f[3]),
			Price: float(f[4]), CreatedAt: micros(f[6]), UpdatedAt: micros(f[7])}
		if f[5] != "" {
			tax := float(f[5])
			it.Tax = &tax
		}
		c.Item = &it
	}
	if bad {
		return ItemChange{}, false
	}
	return c, true
}

// Defaults of ListenOptions.
const (
	DefaultListenMinBackoff = 100 * time.Millisecond
	DefaultListenMaxBackoff = 2 * time.Second
	DefaultListenPingEvery  = 250 * time.Millisecond
	// DefaultListenPingTimeout bounds a ping's round trip before the
	// connection counts as lost (and is replaced, with a Gap).
	DefaultListenPingTimeout = 5 * time.Second
	// DefaultListenItemQueue is how many item changes may wait for the
	// reader of Listener.Items; past it they are dropped and a Gap
	// follows.
	DefaultListenItemQueue = 4096
	// listenApplicationName is the application_name of the listener's
	// connection when the URL leaves the store's default in place.
	listenApplicationName = DefaultApplicationName + " listener"
)

// channelName is the notification channel of the store whose tables are in
// schema: "fortapi_" and 16 hex digits of a hash of the schema's name, so
// it is a plain identifier well under PostgreSQL's 63-byte limit whatever
// the schema is called. Two schemas that collide only wake each other's
// readers for nothing.
func channelName(schema string) string {
	h := fnv.New64a()
	h.Write([]byte("fortapi\x00notify\x00" + schema))
	return "fortapi_" + strconv.FormatUint(h.Sum64()|1<<63, 16)
}

// notify queues a notification of what changed (payloadRevocations or
// payloadKeys) on tx, delivered by PostgreSQL when tx commits.
func (s *Store) notify(ctx context.Context, tx pgx.Tx, payload string) error {
	_, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", s.channel, payload)
	return err
}

// ListenOptions configure Store.Listen. Every zero field gives its
// default.
type ListenOptions struct {
	// MinBackoff is the wait before reconnecting after a connection is
	// lost (default 100ms); it doubles with every failed attempt up to
	// MaxBackoff (default 2s), and starts again at MinBackoff once a
	// connection has been listening.
	MinBackoff, MaxBackoff time.Duration
	// PingEvery is how long the connection may stay silent before the
	// listener checks it with a round trip (default 250ms), so that a
	// connection that died without closing (a network partition) is
	// noticed within about twice PingEvery: 500ms by default, not after
	// TCP's timeouts. A ping unanswered after PingEvery makes Err report
	// the listener down, so the consumer polls the store (authn: every
	// 250ms while the feed is down), which keeps a silent partition
	// inside the 1s propagation bound.
	PingEvery time.Duration
	// PingTimeout is how long a ping may take before the connection
	// counts as lost (default 5s). A ping slower than PingEvery but
	// answered within PingTimeout (a loaded server or network) keeps the
	// connection: Err reports it down meanwhile, and nothing is missed,
	// since the notifications wait on the connection; only a lost
	// connection costs the item reader a Gap.
	PingTimeout time.Duration
	// Logger receives connection losses and recoveries (once each, not
	// once per attempt). Nil: the store's logger.
	Logger *slog.Logger
	// Now is the clock of Err's "since". Nil: the store's clock.
	Now func() time.Time
	// Items turns on Listener.Items, the item changes, in commit order.
	// Its reader must keep up: more than DefaultListenItemQueue waiting
	// changes are dropped, and a Gap says so. False: item changes are
	// ignored.
	Items bool
}

// Listener keeps one dedicated connection (not from the pool) listening to
// the store's change notifications and turns them into wake-ups: a value
// on Revocations after the revocation log may have grown, on Keys after
// the signing keys may have changed. Each channel holds at most one
// pending wake-up (a burst of notifications coalesces into one; a reader
// that catches up after taking it sees them all). After every connect and
// reconnect both channels get a wake-up, so the reader backfills whatever
// it may have missed while the connection was down.
//
// It implements the Feed that authn.Options takes. Close stops it.
type Listener struct {
	store  *Store
	opts   ListenOptions
	logger *slog.Logger
	now    func() time.Time

	revocations, keys chan struct{}
	// items is nil without ListenOptions.Items. itemGap, owned by run's
	// goroutine, says a Gap must be delivered before the next change.
	items   chan ItemChange
	itemGap bool
	// gen counts the connections that listened (ItemChange.Gen).
	gen atomic.Uint64

	mu    sync.Mutex
	err   error     // nil while listening
	since time.Time // when err began
	pid   uint32    // backend pid of the listening connection; 0 when none

	cancel context.CancelFunc
	done   chan struct{}
}

// errNotYetListening is Err's answer before the first connection listens.
var errNotYetListening = errors.New("postgres: listener: not connected yet")

// Listen starts a Listener for the store's change notifications, on a
// connection of its own made from the store's URL, and returns at once:
// until the connection listens, Err says so. It runs until Close (or
// until the store's owner stops calling it: Close is required to release
// the connection). Bad options are an error.
func (s *Store) Listen(opts ListenOptions) (*Listener, error) {
	def := func(name string, d *time.Duration, v time.Duration) error {
		switch {
		case *d < 0:
			return fmt.Errorf("postgres: listen: %s is %v, want >= 0", name, *d)
		case *d == 0:
			*d = v
		}
		return nil
	}
	if err := errors.Join(def("MinBackoff", &opts.MinBackoff, DefaultListenMinBackoff),
		def("MaxBackoff", &opts.MaxBackoff, DefaultListenMaxBackoff),
		def("PingEvery", &opts.PingEvery, DefaultListenPingEvery),
		def("PingTimeout", &opts.PingTimeout, DefaultListenPingTimeout)); err != nil {
		return nil, err
	}
	if opts.PingTimeout < opts.PingEvery {
		return nil, fmt.Errorf("postgres: listen: PingTimeout %v is below PingEvery %v", opts.PingTimeout, opts.PingEvery)
	}
	if opts.MaxBackoff < opts.MinBackoff {
		return nil, fmt.Errorf("postgres: listen: MaxBackoff %v is below MinBackoff %v", opts.MaxBackoff, opts.MinBackoff)
	}
	l := &Listener{
		store: s, opts: opts, logger: opts.Logger, now: opts.Now,
		revocations: make(chan struct{}, 1), keys: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
	if opts.Items {
		l.items = make(chan ItemChange, DefaultListenItemQueue)
	}
	if l.logger == nil {
		l.logger = s.logger
	}
	if l.now == nil {
		l.now = s.now
	}
	l.err, l.since = errNotYetListening, l.now()
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go l.run(ctx)
	return l, nil
}

// Revocations returns the channel of wake-ups for the revocation log.
func (l *Listener) Revocations() <-chan struct{} { return l.revocations }

// Keys returns the channel of wake-ups for the signing keys.
func (l *Listener) Keys() <-chan struct{} { return l.keys }

// Generation counts the connections that have listened: it grows by one
// on every connect, before that connection's Gap is queued.
func (l *Listener) Generation() uint64 { return l.gen.Load() }

// Items returns the channel of item changes (nil without
// ListenOptions.Items): every committed item write of every instance, in
// commit order, so that the changes of one item arrive in the order of
// its writes. After every connect, and whenever the reader fell
// DefaultListenItemQueue changes behind, a change with Gap set comes
// first: what was committed while nobody listened is not replayed.
func (l *Listener) Items() <-chan ItemChange { return l.items }

// item queues an item change for the Items reader, a pending Gap first;
// when the queue is full it is dropped and a Gap is due. Only run's
// goroutine calls it.
func (l *Listener) item(c ItemChange) {
	if l.items == nil {
		return
	}
	if !l.flushGap() {
		return
	}
	select {
	case l.items <- c:
	default:
		l.itemGap = true
	}
}

// flushGap delivers a pending Gap, if the queue has room: it reports
// whether none is pending any more.
func (l *Listener) flushGap() bool {
	if !l.itemGap {
		return true
	}
	select {
	case l.items <- ItemChange{Gap: true, Gen: l.gen.Load()}:
		l.itemGap = false
		return true
	default:
		return false
	}
}

// Err returns nil while the listener's connection is listening, else an
// error saying why not and since when.
func (l *Listener) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		return nil
	}
	return fmt.Errorf("%w (since %s)", l.err, l.since.UTC().Format(time.RFC3339Nano))
}

// Close stops the listener and closes its connection; it waits for both.
// It is safe to call more than once.
func (l *Listener) Close() error {
	l.cancel()
	<-l.done
	return nil
}

// backendPID is the pid of the listening connection's backend, 0 when
// there is none (for tests that terminate it).
func (l *Listener) backendPID() uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pid
}

// wake queues a wake-up on ch unless one is pending.
func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// run connects, listens and reconnects until ctx ends.
func (l *Listener) run(ctx context.Context) {
	defer close(l.done)
	defer l.setDown(errors.New("postgres: listener: closed"), 0)
	backoff := l.opts.MinBackoff
	for {
		listened, err := l.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if listened {
			backoff = l.opts.MinBackoff
		}
		l.setDown(err, backoff)
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, l.opts.MaxBackoff)
	}
}

// setDown records that the listener is not listening, because of err, and
// logs it the first time.
func (l *Listener) setDown(err error, retry time.Duration) {
	l.mu.Lock()
	wasUp := l.err == nil
	first := errors.Is(l.err, errNotYetListening)
	if wasUp {
		l.since = l.now()
	}
	l.err, l.pid = err, 0
	l.mu.Unlock()
	switch {
	case retry == 0:
	case wasUp:
		l.logger.Warn("change notifications lost; reconnecting",
			slog.String("channel", l.store.channel), slog.Any("error", err), slog.Duration("retry_in", retry))
	case first:
		l.logger.Warn("change notifications: cannot listen yet; retrying",
			slog.String("channel", l.store.channel), slog.Any("error", err), slog.Duration("retry_in", retry))
	}
}

// errSlowPing is Err's answer while a ping has waited over PingEvery.
var errSlowPing = errors.New("postgres: listen: the connection is slow to answer a ping")

// ping checks conn with a round trip bounded by PingTimeout. Past
// PingEvery without an answer the listener counts as down (Err, so
// revocations are polled meanwhile), and as up again once the answer
// comes: the connection and its pending notifications are kept.
func (l *Listener) ping(ctx context.Context, conn *pgx.Conn) error {
	pid := conn.PgConn().PID()
	slow := make(chan struct{})
	t := time.AfterFunc(l.opts.PingEvery, func() {
		defer close(slow)
		l.mu.Lock()
		if l.err == nil {
			l.err, l.since = errSlowPing, l.now()
		}
		l.mu.Unlock()
		l.logger.Warn("change notifications: the connection is slow to answer; polling meanwhile",
			slog.String("channel", l.store.channel), slog.Duration("after", l.opts.PingEvery))
	})
	pctx, cancel := context.WithTimeout(ctx, l.opts.PingTimeout)
	err := conn.Ping(pctx)
	cancel()
	if t.Stop() {
		return err
	}
	<-slow
	if err == nil {
		l.setUp(pid)
	}
	return err
}

// setUp records that the connection with backend pid listens.
func (l *Listener) setUp(pid uint32) {
	l.mu.Lock()
	wasDown := l.err != nil && !errors.Is(l.err, errNotYetListening)
	l.err, l.pid = nil, pid
	l.mu.Unlock()
	if wasDown {
		l.logger.Info("change notifications work again", slog.String("channel", l.store.channel))
	}
}

// session makes one connection, listens on it and turns its notifications
// into wake-ups until it fails or ctx ends. listened says whether it got
// as far as listening.
func (l *Listener) session(ctx context.Context) (listened bool, err error) {
	cfg := l.store.connCfg.Copy()
	if cfg.RuntimeParams["application_name"] == DefaultApplicationName {
		cfg.RuntimeParams["application_name"] = listenApplicationName
	}
	pw := cfg.Password
	cctx, cancel := context.WithTimeout(ctx, l.opts.PingEvery+l.opts.MaxBackoff)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return false, connError(ctx, "listen: connect", err, pw)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	// The channel is hex digits after "fortapi_": quoting changes nothing,
	// but no identifier is ever spliced in unquoted.
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.store.channel}.Sanitize()); err != nil {
		return false, connError(ctx, "listen", err, pw)
	}
	l.gen.Add(1)
	l.setUp(conn.PgConn().PID())
	// Whatever was committed while nobody listened: the reader catches up.
	wake(l.revocations)
	wake(l.keys)
	// Item changes are not replayed: their reader learns that it may have
	// missed some.
	if l.items != nil {
		l.itemGap = true
		l.flushGap()
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, l.opts.PingEvery)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			switch n.Payload {
			case payloadRevocations:
				wake(l.revocations)
			case payloadKeys:
				wake(l.keys)
			default:
				if c, ok := parseItemChange(n.Payload); ok {
					l.item(c)
					continue
				}
				// Not ours: wake both, it costs two reads.
				wake(l.revocations)
				wake(l.keys)
			}
		case ctx.Err() != nil:
			return true, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			if l.items != nil {
				l.flushGap() // a Gap that found the queue full waits no longer than this
			}
			// Silence: make sure the connection is still alive. A
			// notification that arrives during the ping is queued by pgx
			// and returned by the next WaitForNotification.
			if err := l.ping(ctx, conn); err != nil {
				return true, connError(ctx, "listen: ping", err, pw)
			}
		default:
			return true, connError(ctx, "listen", err, pw)
		}
	}
}

package wsfeed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/coder/websocket"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/secheader"
)

// Close codes the feed sends. A client reconnects after CloseGoingAway,
// authenticates again after CloseCredentials, and should read faster (or
// ask for less) after CloseSlowConsumer.
const (
	// CloseGoingAway (1001): the feed is shutting down (Feed.Close).
	CloseGoingAway = websocket.StatusGoingAway
	// CloseUnsupportedData (1003): the client sent a data message; the
	// feed is server-to-client only.
	CloseUnsupportedData = websocket.StatusUnsupportedData
	// CloseSlowConsumer (1008, policy violation): the connection's send
	// queue overflowed. When even the close frame cannot be written the
	// connection is cut after WriteTimeout instead (the client sees 1006).
	CloseSlowConsumer = websocket.StatusPolicyViolation
	// CloseTooBig (1009): a client message was longer than ReadLimit.
	CloseTooBig = websocket.StatusMessageTooBig
	// CloseCredentials (4401): the credentials the socket was opened with
	// were revoked (logout, disable, role or password change, key
	// revocation: reason "credentials revoked") or expired (reason
	// "credentials expired"). Authenticate again before reconnecting.
	CloseCredentials websocket.StatusCode = 4401
	// CloseResync (4409): events meant for the socket may have been lost
	// (Feed.Resync), for example while the server's link to the other
	// instances was down. Reconnect, then reload the state the events
	// update (for the item feed: GET /items/).
	CloseResync websocket.StatusCode = 4409
)

// Defaults of Options.
const (
	DefaultReadLimit          = 1 << 10
	DefaultMaxConnsPerSubject = 8
	DefaultMaxConns           = 10000
	DefaultSendQueue          = 64
	DefaultWriteTimeout       = 10 * time.Second
	DefaultPingInterval       = 25 * time.Second
	DefaultIdleTimeout        = 10 * time.Second
	DefaultCheckInterval      = 250 * time.Millisecond
)

// Revocations tells whether a connection's credentials still hold. The
// feed asks it for every connection every Options.CheckInterval, so it
// must answer from memory (a revocation list pushed to every instance),
// not from a database. A non-nil error closes the connection with
// CloseCredentials ("credentials revoked").
type Revocations interface {
	Still(ctx context.Context, p *fortapi.Principal) error
}

// RevocationsFunc adapts a function to Revocations.
type RevocationsFunc func(ctx context.Context, p *fortapi.Principal) error

// Still calls f.
func (f RevocationsFunc) Still(ctx context.Context, p *fortapi.Principal) error { return f(ctx, p) }

// Options configure New. The zero value is safe: every bound is on, each
// field documents its default.
type Options struct {
	// Tickets, when set, lets the feed's operation accept single-use
	// tickets (TicketScheme): Register installs the scheme on the API.
	// Nil: no ticket is a credential.
	Tickets *Tickets

	// Origins are the origins besides the server's own (the Host the
	// upgrade was sent to) from which a browser may open the socket with
	// ambient credentials: a cookie session, a ticket, or any
	// Authorization other than one "Bearer" header. Exact
	// scheme://host[:port] values, normalised as for CORS
	// (secheader.NormalizeOrigin); pass the server's CORS allowlist.
	// An upgrade with an Origin outside them is refused (403) before the
	// upgrade; one without Origin (not a browser) passes. Default: the
	// own origin only.
	Origins []string

	// Revocations is asked every CheckInterval whether each connection's
	// credentials still hold. Nil: only Revoke and expiry close sockets.
	Revocations Revocations

	// Available, when set, is asked before every upgrade: while it returns
	// an error the upgrade is refused with 503 and Retry-After, before the
	// upgrade (for example while the events of other instances cannot be
	// received). Nil: always available.
	Available func() error

	// AllScope is the scope whose holders receive every event (for
	// example "users:admin"). Empty: everyone receives only the events
	// whose Owner is their subject. Ignored when Filter is set.
	AllScope string
	// Filter decides per connection whether p receives e. Default:
	// e.Owner == p.Subject, or p holds AllScope.
	Filter func(p *fortapi.Principal, e *Event) bool

	// ReadLimit caps a client message in bytes (default DefaultReadLimit,
	// 1 KiB). The feed is server-to-client: a data message is refused
	// with CloseUnsupportedData once read, one longer than ReadLimit with
	// CloseTooBig as soon as the limit is passed. Pings, pongs and close
	// frames (at most 125 bytes) are answered as usual.
	ReadLimit int64
	// MaxConnsPerSubject caps one subject's open sockets (default
	// DefaultMaxConnsPerSubject, 8); the next upgrade gets 429 with
	// Retry-After, before the upgrade.
	MaxConnsPerSubject int
	// MaxConns caps the feed's open sockets (default DefaultMaxConns,
	// 10,000); the next upgrade gets 503 with Retry-After, before the
	// upgrade.
	MaxConns int
	// SendQueue is how many events may wait for one connection (default
	// DefaultSendQueue, 64). Publish never blocks: when a connection's
	// queue is full it is closed with CloseSlowConsumer, so a slow reader
	// costs at most SendQueue references to shared messages.
	SendQueue int
	// WriteTimeout bounds each write to a socket (default
	// DefaultWriteTimeout, 10 s); a write that does not finish in time
	// cuts the connection.
	WriteTimeout time.Duration
	// PingInterval is how often an idle connection is pinged (default
	// DefaultPingInterval, 25 s: under the usual 30-60 s proxy idle
	// timeouts).
	PingInterval time.Duration
	// IdleTimeout is how long a ping may go unanswered before the
	// connection is cut as dead (default DefaultIdleTimeout, 10 s): a
	// socket is closed at most PingInterval+IdleTimeout after its peer
	// went silent.
	IdleTimeout time.Duration
	// CheckInterval is how often every connection is checked against
	// Revocations, its credentials' expiry (Principal.ExpiresAt) and its
	// keep-alive (default DefaultCheckInterval, 250 ms: revoked or expired
	// sockets close within a second). At most 1 s. The Still calls of one
	// sweep share a deadline of CheckInterval: a call cut short by it
	// counts as still valid and is logged (a slow revocation source must
	// not close every socket), and is asked again at the next sweep.
	CheckInterval time.Duration

	// Now is the clock of expiry, keep-alive and revocation decisions
	// (default time.Now). The sweep itself runs on a real ticker every
	// CheckInterval.
	Now func() time.Time
	// Logger receives connection ends and refusals at Debug level, never
	// a credential (default slog.Default()).
	Logger *slog.Logger

	// holdHandler keeps the upgrade's net/http goroutine as the reader
	// (the handler-holds pattern), for the memory benchmark; the default
	// returns from the handler and reads on a fresh goroutine.
	holdHandler bool
}

// withDefaults checks o and fills in its defaults.
func (o Options) withDefaults() (Options, []string, error) {
	type bound struct {
		name string
		neg  bool
	}
	for _, b := range []bound{
		{"ReadLimit", o.ReadLimit < 0}, {"MaxConnsPerSubject", o.MaxConnsPerSubject < 0},
		{"MaxConns", o.MaxConns < 0}, {"SendQueue", o.SendQueue < 0}, {"WriteTimeout", o.WriteTimeout < 0},
		{"PingInterval", o.PingInterval < 0}, {"IdleTimeout", o.IdleTimeout < 0},
		{"CheckInterval", o.CheckInterval < 0},
	} {
		if b.neg {
			return o, nil, fmt.Errorf("wsfeed: Options.%s is negative", b.name)
		}
	}
	if o.CheckInterval > time.Second {
		return o, nil, errors.New("wsfeed: Options.CheckInterval above 1s would keep revoked sockets open too long")
	}
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	defI := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.ReadLimit, DefaultReadLimit)
	defI(&o.MaxConnsPerSubject, DefaultMaxConnsPerSubject)
	defI(&o.MaxConns, DefaultMaxConns)
	defI(&o.SendQueue, DefaultSendQueue)
	defD(&o.WriteTimeout, DefaultWriteTimeout)
	defD(&o.PingInterval, DefaultPingInterval)
	defD(&o.IdleTimeout, DefaultIdleTimeout)
	defD(&o.CheckInterval, DefaultCheckInterval)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Filter == nil {
		all := o.AllScope
		o.Filter = func(p *fortapi.Principal, e *Event) bool {
			return e.Owner == p.Subject || all != "" && p.HasScope(all)
		}
	}
	origins := make([]string, 0, len(o.Origins))
	for _, s := range o.Origins {
		n, err := secheader.NormalizeOrigin(s)
		if err != nil {
			return o, nil, fmt.Errorf("wsfeed: Options.Origins: %q: %w", s, err)
		}
		origins = append(origins, n)
	}
	return o, origins, nil
}

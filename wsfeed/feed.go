package wsfeed

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/internal/problem"
	"github.com/fortapi/fortapi/secheader"
)

// closeGrace is how long a close handshake may take before the TCP
// connection is cut: a revoked socket is gone at most CheckInterval +
// closeGrace after the revocation, whatever its peer does.
const closeGrace = 500 * time.Millisecond

// retryAfterSeconds is the Retry-After of the 429 and 503 answers.
const retryAfterSeconds = "10"

// Event is one thing that happened, for the subscribers allowed to see it.
type Event struct {
	// Owner is the subject the event belongs to (an item's owner): by
	// default only connections of that subject, and those holding
	// Options.AllScope, receive it.
	Owner string
	// Message is sent as one JSON text message. It is encoded once per
	// Publish, whatever the number of subscribers.
	Message any
}

// Feed is a server-to-client WebSocket feed: Register declares its
// upgrade operation on a fortapi API, Publish sends events to the open
// sockets allowed to see them. It is safe for concurrent use. Close it
// when the server shuts down: hijacked connections are not closed by
// http.Server.Shutdown.
type Feed struct {
	o       Options
	origins []string

	pubMu sync.Mutex // serialises Publish: every socket sees one order

	mu         sync.RWMutex
	conns      []*conn // open and upgrading sockets; conn.idx is the position
	perSubject map[string]int
	closed     bool

	wg   sync.WaitGroup // readers and the sweeper
	done chan struct{}
}

// New returns a feed, its sweeper running (revocation, expiry and
// keep-alive checks every CheckInterval). It fails on invalid options.
func New(o Options) (*Feed, error) {
	o, origins, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	f := &Feed{o: o, origins: origins, perSubject: map[string]int{}, done: make(chan struct{})}
	f.wg.Add(1)
	go f.sweeper()
	return f, nil
}

// Scopes declares the security of a feed operation: a bearer token (and,
// through fortapi, a cookie session) or a ticket (TicketScheme), each
// granting every one of scopes. A ticket carries the scopes of the
// credentials it was issued for.
func Scopes(scopes ...string) []map[string][]string {
	return append(fortapi.Scopes(scopes...), map[string][]string{TicketScheme: slices.Clone(scopes)})
}

// Register declares op (method GET) as f's upgrade operation on api,
// through fortapi.RegisterHandler: it is in the OpenAPI document with its
// security, and the declared security is enforced before the upgrade (401
// and 403 problem+json with WWW-Authenticate, like every operation). Then
// the feed checks the handshake (426), the Origin (403), the per-subject
// and global caps (429, 503) and upgrades.
//
// When f has Tickets, op.Security must name TicketScheme (declare
// Scopes(...)), and Register installs the scheme on api. The only query
// parameter the operation accepts is the ticket; any other, such as a
// token, is refused (422) and never logged.
func Register(api *fortapi.API, op huma.Operation, f *Feed) error {
	if op.Method == "" {
		op.Method = http.MethodGet
	}
	if op.Method != http.MethodGet {
		return fmt.Errorf("wsfeed.Register: a WebSocket upgrade is a GET, not %s", op.Method)
	}
	names := false
	for _, alt := range op.Security {
		if _, ok := alt[TicketScheme]; ok {
			names = true
		}
	}
	t := f.o.Tickets
	switch {
	case names && t == nil:
		return errors.New("wsfeed.Register: the operation accepts tickets but Options.Tickets is nil")
	case !names && t != nil:
		return errors.New("wsfeed.Register: Options.Tickets is set but the operation does not accept TicketScheme: declare wsfeed.Scopes(...)")
	case t != nil:
		if err := api.AddSecurityScheme(TicketScheme, t.SecurityScheme(), t); err != nil {
			return fmt.Errorf("wsfeed.Register: %w", err)
		}
		op.Parameters = append(op.Parameters, &huma.Param{
			Name: TicketParam, In: "query",
			Description: "A single-use ticket (see the " + TicketScheme + " security scheme). No other credential is accepted in the URL.",
			Schema:      &huma.Schema{Type: "string", MinLength: ptr(ticketLen), MaxLength: ptr(ticketLen)},
		})
	}
	op.Parameters = append(op.Parameters, &huma.Param{
		Name: "Sec-WebSocket-Protocol", In: "header",
		Description: "Subprotocols; `ticket, <value>` presents a ticket (the answer selects `ticket`, never the value).",
		Schema:      &huma.Schema{Type: "string"},
	})
	if op.Summary == "" {
		op.Summary = "Open the WebSocket feed"
	}
	if op.Description == "" {
		op.Description = "A server-to-client WebSocket feed of JSON text messages."
	}
	op.Description += fmt.Sprintf("\n\nAuthenticated before the upgrade. Cookie and ticket upgrades must come from this origin or an allowed one. "+
		"Client data messages are refused (close %d; longer than %d bytes: %d). A socket is closed with %d when its credentials are revoked or expire, "+
		"%d when it falls %d messages behind, %d when events meant for it may have been lost (reconnect and reload), %d when the server shuts down.",
		CloseUnsupportedData, f.o.ReadLimit, CloseTooBig, CloseCredentials, CloseSlowConsumer, f.o.SendQueue, CloseResync, CloseGoingAway)
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	resp := func(code, desc string) {
		if op.Responses[code] == nil {
			op.Responses[code] = &huma.Response{Description: desc}
		}
	}
	resp("101", "Switching Protocols: the WebSocket is open")
	resp("400", "Bad Request: a malformed WebSocket handshake")
	resp("403", "Forbidden: a required scope is missing, or the Origin is not allowed")
	resp("426", "Upgrade Required: not a WebSocket upgrade request (version 13)")
	resp("429", fmt.Sprintf("Too Many Requests: the caller has %d sockets open (Retry-After)", f.o.MaxConnsPerSubject))
	resp("503", "Service Unavailable: the feed is full, shutting down or cannot deliver events now (Retry-After)")
	fortapi.RegisterHandler(api, op, http.HandlerFunc(f.serve))
	return nil
}

func ptr[T any](v T) *T { return &v }

// Publish sends e to every open socket whose principal Options.Filter
// accepts, in the order of Publish calls. It never blocks on a socket: a
// socket whose queue is full is closed with CloseSlowConsumer. The error
// is that of encoding e.Message. Filter runs under the feed's lock: it
// must be quick and must not call the feed.
func (f *Feed) Publish(e Event) error {
	data, err := json.Marshal(e.Message)
	if err != nil {
		return fmt.Errorf("wsfeed: encoding the event: %w", err)
	}
	f.pubMu.Lock()
	defer f.pubMu.Unlock()
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, c := range f.conns {
		if f.o.Filter(c.p, &e) {
			c.enqueue(data)
		}
	}
	return nil
}

// Subscribed reports whether some open socket would receive e by
// Options.Filter (e.Message is not looked at): a server may skip preparing
// an event nobody receives.
func (f *Feed) Subscribed(e Event) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, c := range f.conns {
		if f.o.Filter(c.p, &e) {
			return true
		}
	}
	return false
}

// Revoke closes every open socket whose principal match accepts with
// CloseCredentials ("credentials revoked"), and returns how many. A
// server calls it when it learns of a logout, a disable, a role or
// password change or a key revocation (MatchSubject, MatchSession,
// MatchToken); the close frame leaves at once, the connection is cut if
// the handshake has not finished 500 ms later.
func (f *Feed) Revoke(match func(p *fortapi.Principal) bool) int {
	f.mu.RLock()
	var hit []*conn
	for _, c := range f.conns {
		if match(c.p) {
			hit = append(hit, c)
		}
	}
	f.mu.RUnlock()
	for _, c := range hit {
		c.closeWith(CloseCredentials, "credentials revoked")
	}
	return len(hit)
}

// Resync closes every open socket whose principal match accepts (nil:
// every socket) with CloseResync ("events were missed: reconnect and
// reload"), and returns how many. A server calls it when events may have
// been lost on their way to the feed (its source of events reconnected or
// overflowed): the clients reconnect and reload instead of silently
// missing a change.
func (f *Feed) Resync(match func(p *fortapi.Principal) bool) int {
	f.mu.RLock()
	var hit []*conn
	for _, c := range f.conns {
		if match == nil || match(c.p) {
			hit = append(hit, c)
		}
	}
	f.mu.RUnlock()
	for _, c := range hit {
		c.closeWith(CloseResync, "events were missed: reconnect and reload")
	}
	return len(hit)
}

// MatchSubject matches the principals of subject (a user).
func MatchSubject(subject string) func(*fortapi.Principal) bool {
	return func(p *fortapi.Principal) bool { return p.Subject == subject }
}

// MatchSession matches the principals of one login (Principal.SessionID).
func MatchSession(id string) func(*fortapi.Principal) bool {
	return func(p *fortapi.Principal) bool { return id != "" && p.SessionID == id }
}

// MatchToken matches the principals of one token (Principal.TokenID).
func MatchToken(id string) func(*fortapi.Principal) bool {
	return func(p *fortapi.Principal) bool { return id != "" && p.TokenID == id }
}

// Conns is the number of open sockets (upgrading ones included).
func (f *Feed) Conns() int {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return len(f.conns)
}

// Close refuses new upgrades (503), closes every socket with
// CloseGoingAway, stops the sweeper and returns once every socket is gone
// (at most about 500 ms: slow handshakes are cut).
func (f *Feed) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		f.wg.Wait()
		return nil
	}
	f.closed = true
	close(f.done)
	all := slices.Clone(f.conns)
	f.mu.Unlock()
	for _, c := range all {
		c.closeWith(CloseGoingAway, "server shutting down")
	}
	f.wg.Wait()
	return nil
}

// serve answers an authorized upgrade request.
func (f *Feed) serve(w http.ResponseWriter, r *http.Request) {
	p, ok := fortapi.PrincipalFrom(r.Context())
	if !ok { // fortapi runs this only for authorized callers
		problem.Write(w, r, http.StatusUnauthorized, "authentication required")
		return
	}
	if status, detail := checkHandshake(r); status != 0 {
		if status == http.StatusUpgradeRequired {
			w.Header().Set("Upgrade", "websocket")
			w.Header().Set("Sec-WebSocket-Version", "13")
		}
		problem.Write(w, r, status, detail)
		return
	}
	if !f.originAllowed(r, p) {
		f.o.Logger.LogAttrs(r.Context(), slog.LevelDebug, "wsfeed: upgrade from a foreign origin refused",
			slog.String("request_id", fortapi.RequestID(r.Context())), slog.String("subject", p.Subject))
		problem.Write(w, r, http.StatusForbidden, "WebSocket connections with these credentials are not allowed from this origin")
		return
	}
	if f.o.Available != nil {
		if err := f.o.Available(); err != nil {
			f.o.Logger.LogAttrs(r.Context(), slog.LevelDebug, "wsfeed: unavailable, upgrade refused",
				slog.String("request_id", fortapi.RequestID(r.Context())), slog.String("error", err.Error()))
			w.Header().Set("Retry-After", retryAfterSeconds)
			problem.Write(w, r, http.StatusServiceUnavailable, "the feed cannot deliver events right now")
			return
		}
	}
	c := &conn{f: f, p: p, lastPing: f.o.Now()}
	// The socket subscribes before the upgrade answer leaves: every event
	// published after the client saw 101 reaches it.
	if status := f.admit(c); status != 0 {
		w.Header().Set("Retry-After", retryAfterSeconds)
		if status == http.StatusTooManyRequests {
			problem.Write(w, r, status, fmt.Sprintf("at most %d WebSocket connections per user", f.o.MaxConnsPerSubject))
		} else {
			problem.Write(w, r, status, "the feed accepts no more connections now")
		}
		return
	}
	opts := &websocket.AcceptOptions{
		InsecureSkipVerify: true, // the Origin was checked above, by the feed's own rules
		CompressionMode:    websocket.CompressionDisabled,
	}
	if p.Scheme == TicketScheme && slices.Contains(offeredProtocols(r), TicketProtocol) {
		// A browser fails the connection unless one offered subprotocol
		// is selected; select the marker, never the ticket itself.
		opts.Subprotocols = []string{TicketProtocol}
	}
	// http.Server's read and write deadlines would outlive the hijack and
	// kill the socket after ReadTimeout/WriteTimeout: the feed bounds its
	// connections itself.
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	hw := &hijackWriter{ResponseWriter: w}
	ws, err := websocket.Accept(hw, r, opts)
	if err != nil {
		c.mu.Lock()
		c.ended, c.queue = true, nil
		c.mu.Unlock()
		f.remove(c)
		f.wg.Done()
		f.o.Logger.LogAttrs(r.Context(), slog.LevelDebug, "wsfeed: upgrade failed",
			slog.String("request_id", fortapi.RequestID(r.Context())), slog.String("error", err.Error()))
		return
	}
	ws.SetReadLimit(f.o.ReadLimit)
	c.mu.Lock()
	c.ws, c.nc = ws, hw.nc
	code, reason := c.closeCode, c.closeReason
	start := code == 0 && len(c.queue) > 0
	c.writing = start
	c.mu.Unlock()
	switch {
	case code != 0: // revoked, expired or shut down while upgrading
		go c.handshake(code, reason)
	case start:
		go c.write()
	}
	if f.o.holdHandler {
		c.read()
		return
	}
	go c.read()
}

// checkHandshake returns the status and detail refusing r, or 0 for a
// valid WebSocket (version 13) upgrade request.
func checkHandshake(r *http.Request) (int, string) {
	if !hasToken(r.Header, "Connection", "upgrade") || !hasToken(r.Header, "Upgrade", "websocket") {
		return http.StatusUpgradeRequired, "this is a WebSocket endpoint: send an upgrade request (Connection: Upgrade, Upgrade: websocket)"
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" || len(r.Header.Values("Sec-WebSocket-Version")) != 1 {
		return http.StatusUpgradeRequired, "unsupported WebSocket version: use 13"
	}
	keys := r.Header.Values("Sec-WebSocket-Key")
	if len(keys) != 1 {
		return http.StatusBadRequest, "the upgrade needs exactly one Sec-WebSocket-Key"
	}
	if k, err := base64.StdEncoding.DecodeString(keys[0]); err != nil || len(k) != 16 {
		return http.StatusBadRequest, "Sec-WebSocket-Key must be 16 bytes in base64"
	}
	return 0, ""
}

// hasToken reports whether a comma-separated header field holds token,
// compared case-insensitively.
func hasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// originAllowed applies the Origin rule: an upgrade without Origin is not
// from a browser (no cross-site page can open it); one authenticated by a
// single "Authorization: Bearer" header carries no ambient credential (a
// page cannot make a browser set it on a WebSocket); every other upgrade
// with an Origin — a cookie session, a ticket, ambient Authorization — must
// come from the server's own origin or Options.Origins.
func (f *Feed) originAllowed(r *http.Request, p *fortapi.Principal) bool {
	vs := r.Header.Values("Origin")
	if len(vs) == 0 {
		return true
	}
	if p.Scheme != fortapi.SessionScheme && p.Scheme != TicketScheme && explicitBearer(r) {
		return true
	}
	if len(vs) != 1 {
		return false
	}
	o, err := secheader.NormalizeOrigin(vs[0])
	if err != nil {
		return false
	}
	if slices.Contains(f.origins, o) {
		return true
	}
	scheme := o[:strings.Index(o, "://")]
	if scheme != "https" && (scheme != "http" || r.TLS != nil) {
		return false // a page served over TLS never has an http origin
	}
	own, err := secheader.NormalizeOrigin(scheme + "://" + r.Host)
	return err == nil && own == o
}

// explicitBearer reports whether r has exactly one Authorization field,
// of the Bearer scheme.
func explicitBearer(r *http.Request) bool {
	v := r.Header["Authorization"]
	return len(v) == 1 && len(v[0]) > 7 && strings.EqualFold(v[0][:7], "bearer ")
}

// admit makes c a subscriber within the caps, or returns the refusing
// status: 503 when the feed is full or closed, 429 when c's subject has
// MaxConnsPerSubject sockets.
func (f *Feed) admit(c *conn) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case f.closed || len(f.conns) >= f.o.MaxConns:
		return http.StatusServiceUnavailable
	case f.perSubject[c.p.Subject] >= f.o.MaxConnsPerSubject:
		return http.StatusTooManyRequests
	}
	f.perSubject[c.p.Subject]++
	c.idx = len(f.conns)
	f.conns = append(f.conns, c)
	f.wg.Add(1)
	return 0
}

// remove ends c's subscription and frees its place in the caps.
func (f *Feed) remove(c *conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	last := len(f.conns) - 1
	if c.idx > last || f.conns[c.idx] != c {
		return
	}
	f.conns[c.idx] = f.conns[last]
	f.conns[c.idx].idx = c.idx
	f.conns[last] = nil
	f.conns = f.conns[:last]
	if f.perSubject[c.p.Subject]--; f.perSubject[c.p.Subject] <= 0 {
		delete(f.perSubject, c.p.Subject)
	}
}

// sweeper checks every socket every CheckInterval: expiry, Revocations,
// keep-alive.
func (f *Feed) sweeper() {
	defer f.wg.Done()
	t := time.NewTicker(f.o.CheckInterval)
	defer t.Stop()
	var snap []*conn
	for {
		select {
		case <-f.done:
			return
		case <-t.C:
		}
		f.mu.RLock()
		snap = append(snap[:0], f.conns...)
		f.mu.RUnlock()
		f.sweep(snap)
		clear(snap)
	}
}

func (f *Feed) sweep(conns []*conn) {
	now := f.o.Now()
	ctx, cancel := context.WithTimeout(context.Background(), f.o.CheckInterval)
	defer cancel()
	slow := 0
	for _, c := range conns {
		if exp := c.p.ExpiresAt; !exp.IsZero() && !now.Before(exp) {
			c.closeWith(CloseCredentials, "credentials expired")
			continue
		}
		if f.o.Revocations != nil {
			err := f.o.Revocations.Still(ctx, c.p)
			switch {
			case err == nil:
			case ctx.Err() != nil && errors.Is(err, ctx.Err()):
				slow++ // too slow to say: still valid, the next sweep asks again
			default:
				c.closeWith(CloseCredentials, "credentials revoked")
				continue
			}
		}
		c.keepAlive(now)
	}
	if slow > 0 {
		f.o.Logger.LogAttrs(ctx, slog.LevelWarn, "wsfeed: the revocation check did not answer within the check interval",
			slog.Int("sockets", slow))
	}
}

// conn is one open socket. An idle one costs the reader goroutine and the
// connection's buffers: a writer goroutine runs only while messages wait,
// a pinger only while a ping waits for its pong.
type conn struct {
	f   *Feed
	p   *fortapi.Principal
	idx int // position in f.conns, guarded by f.mu

	closing atomic.Bool // a close was started: nothing more is sent

	mu sync.Mutex
	// ws and nc (the hijacked connection, to cut it when a close stalls)
	// are nil until the upgrade is done, then never change.
	ws          *websocket.Conn
	nc          net.Conn
	queue       [][]byte // waiting messages, at most SendQueue
	writing     bool     // a writer goroutine runs
	ended       bool     // the reader ended: drop everything
	closeCode   websocket.StatusCode
	closeReason string
	pinging     bool
	lastPing    time.Time
}

// enqueue queues a message, starting the writer when none runs.
func (c *conn) enqueue(data []byte) {
	c.mu.Lock()
	if c.ended || c.closing.Load() {
		c.mu.Unlock()
		return
	}
	if len(c.queue) >= c.f.o.SendQueue {
		c.queue = nil
		c.mu.Unlock()
		c.closeWith(CloseSlowConsumer, "too slow: send queue full")
		return
	}
	c.queue = append(c.queue, data)
	start := !c.writing && c.ws != nil // else the upgrade starts it
	c.writing = c.writing || start
	c.mu.Unlock()
	if start {
		go c.write()
	}
}

// write sends the queued messages in order, then ends.
func (c *conn) write() {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 || c.ended || c.closing.Load() {
			c.queue = nil // an idle socket keeps no queue
			c.writing = false
			c.mu.Unlock()
			return
		}
		data := c.queue[0]
		c.queue[0] = nil
		c.queue = c.queue[1:]
		c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), c.f.o.WriteTimeout)
		err := c.ws.Write(ctx, websocket.MessageText, data)
		cancel()
		if err != nil {
			c.cut() // a write that timed out has closed it already
		}
	}
}

// keepAlive starts a ping when one is due.
func (c *conn) keepAlive(now time.Time) {
	c.mu.Lock()
	due := c.ws != nil && !c.pinging && !c.ended && now.Sub(c.lastPing) >= c.f.o.PingInterval
	if due {
		c.pinging, c.lastPing = true, now
	}
	c.mu.Unlock()
	if due {
		go c.ping()
	}
}

// ping cuts the connection when its pong does not come within
// IdleTimeout.
func (c *conn) ping() {
	ctx, cancel := context.WithTimeout(context.Background(), c.f.o.IdleTimeout)
	err := c.ws.Ping(ctx)
	cancel()
	c.mu.Lock()
	c.pinging = false
	c.mu.Unlock()
	if err != nil && !c.closing.Load() {
		c.f.o.Logger.LogAttrs(ctx, slog.LevelDebug, "wsfeed: no pong, connection cut", slog.String("subject", c.p.Subject))
		c.cut()
	}
}

// closeWith starts the close handshake with code, once; the connection is
// cut if the handshake has not finished after closeGrace.
func (c *conn) closeWith(code websocket.StatusCode, reason string) {
	c.mu.Lock()
	if c.closeCode != 0 || c.ended {
		c.mu.Unlock()
		return
	}
	c.closeCode, c.closeReason = code, reason
	ready := c.ws != nil // else the upgrade closes it
	c.closing.Store(true)
	c.mu.Unlock()
	c.f.o.Logger.LogAttrs(context.Background(), slog.LevelDebug, "wsfeed: closing",
		slog.String("subject", c.p.Subject), slog.Int("code", int(code)), slog.String("reason", reason))
	if ready {
		go c.handshake(code, reason)
	}
}

// handshake closes the socket with code, cutting it after closeGrace.
func (c *conn) handshake(code websocket.StatusCode, reason string) {
	t := time.AfterFunc(closeGrace, c.cut)
	_ = c.ws.Close(code, reason)
	t.Stop()
}

// cut closes the TCP connection without a handshake; only after the
// upgrade.
func (c *conn) cut() {
	c.closing.Store(true)
	_ = c.nc.Close()
}

// read is the connection's reader for its whole life: it answers pings
// and close frames (inside the websocket library) and refuses data
// messages. When it ends the socket is unsubscribed.
func (c *conn) read() {
	defer c.end()
	_, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return // closed, by either side, or a protocol error (already answered)
	}
	// A data message: read it to the limit (the library closes with 1009
	// past it), then refuse it.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return
	}
	c.closeWith(CloseUnsupportedData, "this feed accepts no messages")
}

// end unsubscribes c and makes sure the connection is closed.
func (c *conn) end() {
	c.f.remove(c)
	c.mu.Lock()
	c.ended, c.queue = true, nil
	requested := c.closeCode != 0
	c.mu.Unlock()
	c.closing.Store(true)
	if !requested { // the peer went, or a protocol error was answered
		_ = c.ws.CloseNow()
	}
	c.f.wg.Done()
}

// hijackWriter keeps the connection the websocket library hijacks.
type hijackWriter struct {
	http.ResponseWriter
	nc net.Conn
}

func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	w.nc = nc
	return nc, brw, err
}

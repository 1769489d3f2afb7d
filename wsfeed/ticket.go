package wsfeed

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
)

// TicketScheme is the name of the ticket security scheme in the OpenAPI
// document. A principal authenticated by a ticket has this Scheme, so only
// operations whose security names it accept tickets (Scopes adds it to a
// feed's declaration).
const TicketScheme = "wsticket"

// TicketProtocol is the WebSocket subprotocol that announces a ticket: a
// browser presents a ticket as new WebSocket(url, ["ticket", value]), and
// the server answers with the subprotocol "ticket", never echoing the
// value.
const TicketProtocol = "ticket"

// TicketParam is the query parameter that may carry a ticket instead:
// ?ticket=value. It is the one credential allowed in a URL, being worthless
// once used and dead after at most MaxTicketTTL.
const TicketParam = "ticket"

// Ticket bounds and defaults.
const (
	// MaxTicketTTL is the longest (and default) life of a ticket.
	MaxTicketTTL = 30 * time.Second
	// DefaultMaxTickets is the default TicketOptions.MaxOutstanding.
	DefaultMaxTickets = 10000
	// DefaultMaxTicketsPerSubject is the default
	// TicketOptions.MaxPerSubject.
	DefaultMaxTicketsPerSubject = 16
)

// Errors of Issue and Redeem.
var (
	// ErrTicketsFull: the store holds MaxOutstanding tickets, or the
	// subject MaxPerSubject; an issuing endpoint answers 503 or 429.
	ErrTicketsFull = errors.New("wsfeed: too many outstanding tickets")
	// ErrSubjectTickets: the subject holds MaxPerSubject unused tickets.
	ErrSubjectTickets = errors.New("wsfeed: too many outstanding tickets for this subject")
	// ErrInvalidTicket: unknown, malformed, used, expired or forged. The
	// error says no more, on purpose.
	ErrInvalidTicket = errors.New("wsfeed: invalid ticket")
	// ErrTicketPrincipal: tickets are issued only to principals of another
	// scheme, whose credentials have not expired.
	ErrTicketPrincipal = errors.New("wsfeed: no ticket for this principal")
)

// TicketOptions configure NewTickets. The zero value is safe; each field
// documents its default.
type TicketOptions struct {
	// TTL is how long a ticket stays redeemable (default and at most
	// MaxTicketTTL, 30 s). A ticket never outlives the credentials it was
	// issued for (Principal.ExpiresAt).
	TTL time.Duration
	// MaxOutstanding bounds the unused, unexpired tickets held in memory
	// (default DefaultMaxTickets, 10,000).
	MaxOutstanding int
	// MaxPerSubject bounds the unused tickets of one subject (default
	// DefaultMaxTicketsPerSubject, 16), so that one user cannot fill the
	// store.
	MaxPerSubject int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Rand is the source of ticket values (default crypto/rand). Reads
	// are serialised.
	Rand io.Reader
}

// ticketIDLen and ticketSecretLen make a ticket: a 128-bit id that finds
// it and a 256-bit secret compared in constant time against its stored
// SHA-256. Encoded (unpadded base64url) a ticket is 64 characters, all of
// them RFC 9110 token characters, so it is a valid subprotocol name.
const (
	ticketIDLen     = 16
	ticketSecretLen = 32
	ticketLen       = (ticketIDLen + ticketSecretLen) * 4 / 3
)

type ticket struct {
	sum     [sha256.Size]byte
	p       fortapi.Principal
	expires time.Time
}

// Tickets issues and redeems single-use WebSocket tickets: an in-memory,
// bounded store, safe for concurrent use. Each ticket binds a copy of the
// principal it was issued to; redeeming it returns that principal with
// Scheme TicketScheme and removes the ticket. It is the Authenticator of
// TicketScheme (Register installs it).
//
// Tickets live in one process: with several instances behind a load
// balancer, the ticket request and the upgrade must reach the same
// instance, or the server shares tickets itself.
type Tickets struct {
	ttl       time.Duration
	max, maxS int
	now       func() time.Time
	rand      io.Reader
	b64       *base64.Encoding
	doc       *huma.SecurityScheme

	mu        sync.Mutex
	byID      map[[ticketIDLen]byte]*ticket
	subjects  map[string]int // unused tickets per subject
	lastSweep time.Time
}

// NewTickets returns an empty store. It fails on negative bounds or a TTL
// above MaxTicketTTL.
func NewTickets(o TicketOptions) (*Tickets, error) {
	switch {
	case o.TTL < 0 || o.TTL > MaxTicketTTL:
		return nil, fmt.Errorf("wsfeed: TicketOptions.TTL %v is outside (0, %v]", o.TTL, MaxTicketTTL)
	case o.MaxOutstanding < 0:
		return nil, errors.New("wsfeed: TicketOptions.MaxOutstanding is negative")
	case o.MaxPerSubject < 0:
		return nil, errors.New("wsfeed: TicketOptions.MaxPerSubject is negative")
	}
	t := &Tickets{
		ttl: o.TTL, max: o.MaxOutstanding, maxS: o.MaxPerSubject, now: o.Now, rand: o.Rand,
		b64:      base64.RawURLEncoding.Strict(),
		byID:     map[[ticketIDLen]byte]*ticket{},
		subjects: map[string]int{},
	}
	if t.ttl == 0 {
		t.ttl = MaxTicketTTL
	}
	if t.max == 0 {
		t.max = DefaultMaxTickets
	}
	if t.maxS == 0 {
		t.maxS = DefaultMaxTicketsPerSubject
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.rand == nil {
		t.rand = rand.Reader
	}
	t.doc = &huma.SecurityScheme{
		Type: "apiKey", In: "query", Name: TicketParam,
		Description: "A single-use WebSocket ticket from the ticket endpoint, valid for at most " +
			t.ttl.String() + " and bound to the caller it was issued to. Present it as the subprotocol pair " +
			"`ticket, <value>` (Sec-WebSocket-Protocol; new WebSocket(url, [\"ticket\", value]) in a browser) " +
			"or as `?ticket=<value>`. No other credential is ever accepted in a URL.",
	}
	return t, nil
}

// TTL is the life of the tickets this store issues.
func (t *Tickets) TTL() time.Duration { return t.ttl }

// Issue returns a new ticket for p and how long it stays valid: TTL, or
// less when p's credentials expire sooner. p is copied. Principals
// authenticated by a ticket get none (ErrTicketPrincipal): a ticket cannot
// be renewed by itself.
func (t *Tickets) Issue(p *fortapi.Principal) (string, time.Duration, error) {
	if p == nil || p.Scheme == TicketScheme || p.Subject == "" {
		return "", 0, ErrTicketPrincipal
	}
	var raw [ticketIDLen + ticketSecretLen]byte
	now := t.now()
	exp := now.Add(t.ttl)
	if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(exp) {
		exp = p.ExpiresAt
	}
	if !exp.After(now) {
		return "", 0, ErrTicketPrincipal
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.byID) >= t.max || t.subjects[p.Subject] >= t.maxS {
		t.sweep(now)
	}
	if len(t.byID) >= t.max {
		return "", 0, ErrTicketsFull
	}
	if t.subjects[p.Subject] >= t.maxS {
		return "", 0, ErrSubjectTickets
	}
	if _, err := io.ReadFull(t.rand, raw[:]); err != nil {
		return "", 0, fmt.Errorf("wsfeed: reading randomness: %w", err)
	}
	var id [ticketIDLen]byte
	copy(id[:], raw[:ticketIDLen])
	if _, dup := t.byID[id]; dup {
		return "", 0, errors.New("wsfeed: the random source repeats itself")
	}
	tk := &ticket{sum: sha256.Sum256(raw[ticketIDLen:]), p: *p, expires: exp}
	tk.p.Scopes = slices.Clone(p.Scopes)
	t.byID[id] = tk
	t.subjects[p.Subject]++
	return t.b64.EncodeToString(raw[:]), exp.Sub(now), nil
}

// sweep drops expired tickets, at most once a second (it walks them all).
func (t *Tickets) sweep(now time.Time) {
	if !t.lastSweep.IsZero() && now.Sub(t.lastSweep) < time.Second && now.After(t.lastSweep) {
		return
	}
	t.lastSweep = now
	for id, tk := range t.byID {
		if !now.Before(tk.expires) {
			t.drop(id, tk)
		}
	}
}

func (t *Tickets) drop(id [ticketIDLen]byte, tk *ticket) {
	delete(t.byID, id)
	if t.subjects[tk.p.Subject]--; t.subjects[tk.p.Subject] <= 0 {
		delete(t.subjects, tk.p.Subject)
	}
}

// Redeem uses a ticket: it returns the principal the ticket was issued
// to, with Scheme TicketScheme, and removes the ticket, or
// ErrInvalidTicket. The secret half is compared in constant time.
func (t *Tickets) Redeem(value string) (*fortapi.Principal, error) {
	if len(value) != ticketLen {
		return nil, ErrInvalidTicket
	}
	var raw [ticketIDLen + ticketSecretLen]byte
	if n, err := t.b64.Decode(raw[:], []byte(value)); err != nil || n != len(raw) {
		return nil, ErrInvalidTicket
	}
	var id [ticketIDLen]byte
	copy(id[:], raw[:ticketIDLen])
	sum := sha256.Sum256(raw[ticketIDLen:])
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	tk, ok := t.byID[id]
	if !ok || subtle.ConstantTimeCompare(sum[:], tk.sum[:]) != 1 {
		return nil, ErrInvalidTicket
	}
	t.drop(id, tk) // single use, also when it has just expired
	if !now.Before(tk.expires) {
		return nil, ErrInvalidTicket
	}
	p := tk.p
	p.Scheme = TicketScheme
	return &p, nil
}

// Outstanding is the number of tickets held (unused; some may have
// expired and not been swept yet).
func (t *Tickets) Outstanding() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byID)
}

// Authenticate implements fortapi.Authenticator for TicketScheme: it
// redeems the ticket r presents as the subprotocol pair "ticket, <value>"
// or as ?ticket=<value>, and returns fortapi.ErrNoCredentials when r
// presents none (or has an Authorization header, which authenticates
// alone). Two tickets, a repeated parameter or a "ticket" subprotocol
// without a value are invalid credentials.
func (t *Tickets) Authenticate(r *http.Request) (*fortapi.Principal, error) {
	if len(r.Header["Authorization"]) > 0 {
		return nil, fortapi.ErrNoCredentials
	}
	fromProto, inProto, err := protocolTicket(r)
	if err != nil {
		return nil, err
	}
	q := r.URL.Query()[TicketParam]
	switch {
	case inProto && len(q) > 0:
		return nil, errors.New("wsfeed: a ticket both as subprotocol and in the query")
	case len(q) > 1:
		return nil, errors.New("wsfeed: the ticket parameter is repeated")
	case inProto:
		return t.Redeem(fromProto)
	case len(q) == 1:
		return t.Redeem(q[0])
	}
	return nil, fortapi.ErrNoCredentials
}

// protocolTicket finds the value following the "ticket" subprotocol.
func protocolTicket(r *http.Request) (value string, ok bool, err error) {
	protos := offeredProtocols(r)
	i := slices.Index(protos, TicketProtocol)
	if i < 0 {
		return "", false, nil
	}
	if i+1 >= len(protos) || protos[i+1] == TicketProtocol || slices.Index(protos[i+1:], TicketProtocol) >= 0 {
		return "", false, errors.New("wsfeed: the ticket subprotocol needs exactly one value after it")
	}
	return protos[i+1], true, nil
}

// offeredProtocols lists the subprotocols of r's Sec-WebSocket-Protocol
// fields, in order.
func offeredProtocols(r *http.Request) []string {
	var out []string
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

// SecurityScheme is the OpenAPI description of TicketScheme.
func (t *Tickets) SecurityScheme() *huma.SecurityScheme { return t.doc }

// TicketOutput is the answer of the ticket endpoint.
type TicketOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		Ticket    string `json:"ticket" doc:"Single-use WebSocket ticket, bound to the caller; present it as the subprotocol pair 'ticket, <value>' or as ?ticket=<value>."`
		ExpiresIn int    `json:"expires_in" doc:"Seconds the ticket stays valid (at most 30)." minimum:"1" maximum:"30"`
	}
}

// RegisterTickets declares op (default method POST) as the endpoint that
// issues tickets to its caller: {"ticket", "expires_in"}. op.Security must
// name the schemes that may obtain one (bearer, session) and not
// TicketScheme, else it panics. A full store answers 503 and a subject
// holding MaxPerSubject tickets 429, both with Retry-After.
func RegisterTickets(api *fortapi.API, op huma.Operation, t *Tickets) {
	if t == nil {
		panic("wsfeed.RegisterTickets: nil Tickets")
	}
	for _, alt := range op.Security {
		if _, ok := alt[TicketScheme]; ok {
			panic("wsfeed.RegisterTickets: a ticket cannot buy another ticket; declare bearer or session security")
		}
	}
	if op.Method == "" {
		op.Method = http.MethodPost
	}
	if op.Summary == "" {
		op.Summary = "Get a WebSocket ticket"
	}
	if op.Description == "" {
		op.Description = "A single-use ticket for a WebSocket upgrade, valid for " + t.ttl.String() +
			" at most, for browser scripts that hold a bearer token (a browser cannot set Authorization on a WebSocket)."
	}
	op.Errors = append(op.Errors, http.StatusTooManyRequests, http.StatusServiceUnavailable)
	huma.Register(api, op, func(ctx context.Context, _ *struct{}) (*TicketOutput, error) {
		p, ok := fortapi.PrincipalFrom(ctx)
		if !ok {
			return nil, huma.Error401Unauthorized("authentication required")
		}
		v, ttl, err := t.Issue(p)
		switch {
		case errors.Is(err, ErrSubjectTickets):
			return nil, huma.ErrorWithHeaders(huma.Error429TooManyRequests("too many unused tickets: use or let them expire"),
				http.Header{"Retry-After": {retryAfter(t.ttl)}})
		case errors.Is(err, ErrTicketsFull):
			return nil, huma.ErrorWithHeaders(huma.Error503ServiceUnavailable("too many outstanding tickets"),
				http.Header{"Retry-After": {retryAfter(t.ttl)}})
		case errors.Is(err, ErrTicketPrincipal):
			return nil, huma.Error403Forbidden("these credentials cannot obtain a ticket")
		case err != nil:
			return nil, err
		}
		out := &TicketOutput{CacheControl: "no-store"}
		out.Body.Ticket = v
		out.Body.ExpiresIn = max(1, int(ttl/time.Second))
		return out, nil
	})
}

func retryAfter(d time.Duration) string { return fmt.Sprint(max(1, int(d/time.Second))) }

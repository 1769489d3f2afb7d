package authn

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/apikey"
	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/oidc"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/ratelimit"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/token"
)

// Defaults of Options.
const (
	DefaultRefreshLifetime = 14 * 24 * time.Hour
	DefaultSessionLifetime = 30 * 24 * time.Hour
	DefaultRefreshGrace    = 10 * time.Second
	DefaultSyncEvery       = 250 * time.Millisecond
	DefaultKeysEvery       = 2 * time.Second
	DefaultPruneEvery      = time.Hour
	// Web sessions (WebLogin): the absolute end, the idle timeout, and how
	// often a use is recorded (LastSeenAt).
	DefaultWebLifetime = 12 * time.Hour
	DefaultWebIdle     = 30 * time.Minute
	DefaultWebTouch    = time.Minute
	// MaxUsernameBytes is the longest username accepted (in its
	// canonical form, server.CanonicalUsername).
	MaxUsernameBytes = server.MaxUsernameBytes
	// MinRefreshKeyBytes is the shortest Options.RefreshKey accepted.
	MinRefreshKeyBytes = 32
)

// Errors of the login paths. The HTTP layer maps them to RFC 6749 errors;
// none says which check failed.
var (
	// ErrInvalidGrant: wrong username or password, unknown, expired,
	// revoked or reused refresh token, disabled user.
	ErrInvalidGrant = errors.New("authn: invalid grant")
	// ErrInvalidScope: a scope was asked for that the user's role (or the
	// session) does not grant.
	ErrInvalidScope = errors.New("authn: invalid scope")
	// ErrWrongPassword: the current password given to ChangePassword is
	// wrong.
	ErrWrongPassword = errors.New("authn: the current password is wrong")
)

// ThrottledError says the account must wait before its next login attempt.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("authn: too many failed logins for this account; retry in %v", e.RetryAfter.Round(time.Second))
}

// FailureLimiter bounds failed password checks per username: Options.
// LoginFailures. A *ratelimit.Limiter with a spec such as "5/minute"
// implements it, in memory or on Redis (then the bound holds across every
// instance, unlike the in-memory throttle). Only failures of untrusted
// logins count (those without a valid device credential, see
// ThrottleOptions): the Service peeks (Peek) before checking the password
// of an untrusted login and refuses the attempt when no failure is left,
// and takes one (Check) after its failure; trusted logins neither peek
// nor count, so they are never refused by it. Keys are "username:" and
// the canonical username (throttleKey), whether or not it exists.
type FailureLimiter interface {
	Peek(ctx context.Context, key string) (ratelimit.Result, error)
	Check(ctx context.Context, key string) (ratelimit.Result, error)
}

// UnavailableError says a password attempt was refused without being
// checked because Options.LoginFailures could not be consulted (its store
// is unreachable and it fails closed). The HTTP layer answers 503 with
// Retry-After.
type UnavailableError struct{ RetryAfter time.Duration }

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("authn: the failed-login limit cannot be checked; retry in %v", e.RetryAfter.Round(time.Second))
}

// unavailable is an authenticator's answer when what it must read (the
// store, an identity provider's keys) cannot be reached: 503 with
// Retry-After, which fortapi keeps (huma.ErrorWithHeaders), never a 500
// nor a 401 that would tell the client its credentials are bad.
func unavailable(msg string) error {
	return huma.ErrorWithHeaders(huma.Error503ServiceUnavailable(msg), http.Header{"Retry-After": {"1"}})
}

// Options configure New.
type Options struct {
	Store       server.AuthStore   // required
	Hasher      *password.Hasher   // required
	Policy      *password.Policy   // default password.DefaultPolicy()
	Tokens      *token.Service     // required
	Revocations *token.Revocations // required: the checker Tokens consults
	Keys        *jwtkey.Ring       // required
	// RefreshKey (required, at least MinRefreshKeyBytes of secret
	// randomness, the same on every instance of one store) derives a
	// refresh token's successor from the token: HMAC-SHA256(RefreshKey,
	// "fortapi refresh successor v1" || token). Every presentation of one
	// token asks for the same successor, so a replay within RefreshGrace
	// is answered with the successor already stored, never a second
	// chain, and whichever of two holders uses it second is detected.
	// Changing it only makes replays in flight at that moment count as
	// reuse (fail closed).
	RefreshKey []byte
	// AccessLifetime and Leeway are those of Tokens; revocations are kept
	// until every token they refuse has expired (defaults 15m and 30s).
	AccessLifetime, Leeway time.Duration
	// RefreshLifetime is how long an unused refresh token lives (default
	// 14 days); SessionLifetime is the absolute end of a login (default 30
	// days); RefreshGrace is how long a rotated refresh token is still
	// answered, with the same successor, for concurrent refreshes
	// (default 10s).
	RefreshLifetime, SessionLifetime, RefreshGrace time.Duration
	Throttle                                       ThrottleOptions
	// LoginFailures, when set, also bounds failed password checks per
	// username (untrusted logins and ChangePassword), next to the
	// throttle: such an attempt is refused with a *ThrottledError while
	// the username has no failure left. Logins with a valid device
	// credential are not counted nor refused by it. Nil (the default):
	// only the throttle applies.
	// Concurrent attempts that all peek before any fails can exceed it by
	// at most the number of attempts in flight, which the bounded password
	// hasher caps.
	LoginFailures FailureLimiter
	// DeviceKey signs device credentials (see device.go): at least
	// MinDeviceKeyBytes of secret key, the same on every instance so that
	// a credential from one is trusted by all. Nil (the default): a random
	// key for this process only, so credentials are trusted until it
	// restarts. DeviceLifetime is how long a credential is trusted
	// (default DefaultDeviceLifetime, a year).
	DeviceKey      []byte
	DeviceLifetime time.Duration
	// SyncEvery is how often the revocation log is replayed from the store
	// (default 250ms): a revocation made by another process (the CLI)
	// takes effect within it. With a Feed it is the rate while the feed
	// is down (see Feed). KeysEvery is how often the key ring is
	// reloaded and maintained (default 2s). PruneEvery is how often
	// expired sessions, refresh tokens and revocation-log rows are deleted
	// from the store (default 1h).
	SyncEvery, KeysEvery, PruneEvery time.Duration
	// AuditRetention is how long security events are kept: Run deletes
	// older ones at its start and every PruneEvery, in batches
	// (retention.go; default DefaultAuditRetention, 90 days; negative
	// keeps them forever). AuditPruneBatch (default
	// DefaultAuditPruneBatch, at most server.MaxPruneEventsBatch) is how
	// many one statement deletes, AuditPrunePause (default
	// DefaultAuditPrunePause) the pause between two.
	AuditRetention  time.Duration
	AuditPruneBatch int
	AuditPrunePause time.Duration
	// Feed, when set, pushes wake-ups when the store's revocation log or
	// keys change (server/postgres's Listener): Run replays the log (or
	// reloads the keys) at once on each, polls only every FeedSyncEvery
	// (default 5s) while the feed is healthy, and every SyncEvery while it
	// is not. PropagationBound (default 1s) is how long the feed may be
	// down before PropagationHealth reports it. Nil (SQLite, the CLI):
	// polling every SyncEvery. See feed.go.
	Feed                            Feed
	FeedSyncEvery, PropagationBound time.Duration
	// WebLifetime is the absolute end of a web session (default
	// DefaultWebLifetime), WebIdle how long an unused one lives (default
	// DefaultWebIdle), WebTouch how often a use is written to the store
	// (default DefaultWebTouch, below WebIdle). SessionCookie is the
	// cookie's name (default fortapi.DefaultSessionCookie).
	WebLifetime, WebIdle, WebTouch time.Duration
	SessionCookie                  string
	// Observer, when set, is told the outcome of every login and refresh,
	// refresh token reuses and revocation lag (metrics). Default: none.
	Observer Observer
	Logger   *slog.Logger     // default slog.Default()
	Now      func() time.Time // default time.Now
	Rand     io.Reader        // default crypto/rand

	// APIKeyHashKey (at least apikey.MinHashKeyBytes of secret
	// randomness, the same on every instance of one store) is the HMAC key
	// API keys are stored under (apikey.go). Nil: API keys are off (none
	// can be created, every one presented is refused). APIKeyTouch is how
	// often a key's use is written to the store (default
	// DefaultAPIKeyTouch). ClientIP gives the client address key
	// allowlists are checked against (default: the TCP peer).
	APIKeyHashKey []byte
	APIKeyTouch   time.Duration
	ClientIP      func(*http.Request) netip.Addr

	// OIDC, when set, are the external identity providers whose bearer
	// tokens are accepted (external.go): each stands for the user record
	// of its issuer and subject. OIDCProvision creates that record on
	// first use (role user, no password); off, an unknown subject is
	// refused with 403 (MsgExternalUnknown).
	OIDC          *oidc.Set
	OIDCProvision bool
}

// Service runs logins, refreshes, logouts and account changes, and
// authenticates requests for the fortapi package.
type Service struct {
	o        Options
	throttle *throttle

	syncMu  sync.Mutex
	lastSeq int64
	synced  bool // a Sync has run (guarded by syncMu)
	// own are this process's revocation writes, whose replay Sync does
	// not report as propagation.
	own ownWrites

	// health is what PropagationHealth reports (feed.go).
	health propagation

	// keyHasher hashes API keys (nil: Options.APIKeyHashKey unset).
	keyHasher *apikey.Hasher

	// names caches user id -> username for messages on hot paths;
	// usernames never change. Bounded: cleared when full.
	namesMu sync.RWMutex
	names   map[string]string
}

// maxCachedNames bounds the username cache.
const maxCachedNames = 10_000

// New checks opts and returns a Service. Call Sync once before serving and
// Run in the background.
func New(o Options) (*Service, error) {
	if o.Store == nil || o.Hasher == nil || o.Tokens == nil || o.Revocations == nil || o.Keys == nil {
		return nil, errors.New("authn: Store, Hasher, Tokens, Revocations and Keys are required")
	}
	if len(o.RefreshKey) < MinRefreshKeyBytes {
		return nil, fmt.Errorf("authn: RefreshKey is %d bytes, want at least %d", len(o.RefreshKey), MinRefreshKeyBytes)
	}
	o.RefreshKey = slices.Clone(o.RefreshKey)
	if o.Policy == nil {
		o.Policy = password.DefaultPolicy()
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.AccessLifetime, 15*time.Minute)
	def(&o.Leeway, 30*time.Second)
	def(&o.RefreshLifetime, DefaultRefreshLifetime)
	def(&o.SessionLifetime, DefaultSessionLifetime)
	def(&o.RefreshGrace, DefaultRefreshGrace)
	def(&o.SyncEvery, DefaultSyncEvery)
	def(&o.KeysEvery, DefaultKeysEvery)
	def(&o.PruneEvery, DefaultPruneEvery)
	if o.AuditRetention == 0 { // negative: forever, kept as it is
		o.AuditRetention = DefaultAuditRetention
	}
	def(&o.AuditPrunePause, DefaultAuditPrunePause)
	if o.AuditPruneBatch <= 0 {
		o.AuditPruneBatch = DefaultAuditPruneBatch
	}
	o.AuditPruneBatch = min(o.AuditPruneBatch, server.MaxPruneEventsBatch)
	def(&o.FeedSyncEvery, DefaultFeedSyncEvery)
	def(&o.PropagationBound, DefaultPropagationBound)
	def(&o.WebLifetime, DefaultWebLifetime)
	def(&o.WebIdle, DefaultWebIdle)
	def(&o.WebTouch, DefaultWebTouch)
	def(&o.DeviceLifetime, DefaultDeviceLifetime)
	def(&o.APIKeyTouch, DefaultAPIKeyTouch)
	if o.WebTouch >= o.WebIdle {
		return nil, errors.New("authn: WebTouch must be shorter than WebIdle")
	}
	if o.SessionCookie == "" {
		o.SessionCookie = fortapi.DefaultSessionCookie
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	switch {
	case o.DeviceKey == nil:
		o.DeviceKey = make([]byte, MinDeviceKeyBytes)
		if _, err := io.ReadFull(o.Rand, o.DeviceKey); err != nil {
			return nil, fmt.Errorf("authn: generating a device key: %w", err)
		}
	case len(o.DeviceKey) < MinDeviceKeyBytes:
		return nil, fmt.Errorf("authn: DeviceKey must be at least %d bytes", MinDeviceKeyBytes)
	default:
		o.DeviceKey = slices.Clone(o.DeviceKey)
	}
	var keyHasher *apikey.Hasher
	if o.APIKeyHashKey != nil {
		h, err := apikey.NewHasher(o.APIKeyHashKey)
		if err != nil {
			return nil, fmt.Errorf("authn: APIKeyHashKey: %w", err)
		}
		keyHasher = h
	}
	return &Service{o: o, throttle: newThrottle(o.Throttle), names: make(map[string]string), keyHasher: keyHasher}, nil
}

// Tokens is what a successful login or refresh returns.
type Tokens struct {
	AccessToken  string
	ExpiresIn    time.Duration
	RefreshToken string
	Scopes       []string
	// DeviceToken is a fresh device credential for the account (a
	// password login only; "" for a refresh): presented as Login.Device
	// at later logins, it exempts them from failures made elsewhere.
	DeviceToken string
}

// requestID is the id of the request ctx serves, for its events ("" for
// the CLI and background work).
func requestID(ctx context.Context) string { return fortapi.RequestID(ctx) }

// event writes a security event; a failure is logged, never fatal.
func (s *Service) event(ctx context.Context, ev server.Event) {
	ev.At = s.o.Now().UTC().Truncate(time.Microsecond)
	s.nameActor(ctx, &ev)
	if err := s.o.Store.AddEvent(context.WithoutCancel(ctx), ev); err != nil {
		s.o.Logger.ErrorContext(ctx, "writing a security event failed", slog.String("type", ev.Type), slog.Any("error", err))
	}
}

// nameActor sets the event's Username from its UserID when it has none,
// so that the audit log names the user beside the id (logout, key
// rotation). A user it cannot find leaves the name empty.
func (s *Service) nameActor(ctx context.Context, ev *server.Event) {
	if ev.UserID == "" || ev.Username != "" {
		return
	}
	if name, err := s.Username(context.WithoutCancel(ctx), ev.UserID); err == nil {
		ev.Username = name
	}
}

// apiKeyField is apikey.Header as http.Header stores it: looked up
// directly, it costs no canonicalization (an allocation for "X-API-Key")
// on every request. Never changed.
var apiKeyField = http.CanonicalHeaderKey(apikey.Header)

// Authenticate implements fortapi.Authenticator: a bearer access token in
// the Authorization header or, when the request has no Authorization
// header, a web session cookie (WebLogin). An API key (X-API-Key, or a
// bearer token starting with apikey.Prefix) gives a principal of
// fortapi.APIKeyScheme, which only operations declaring that scheme accept. A request never mixes both: an
// Authorization header that is not a bearer token makes the request
// anonymous, whatever cookie it carries.
func (s *Service) Authenticate(r *http.Request) (*fortapi.Principal, error) {
	if len(r.Header[apiKeyField]) > 0 {
		return s.AuthenticateAPIKey(r)
	}
	if len(r.Header["Authorization"]) == 0 {
		return s.authenticateSession(r)
	}
	tok, err := fortapi.BearerToken(r)
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(tok, apikey.Prefix) {
		return s.authenticateAPIKey(r, tok)
	}
	if prov := s.externalProvider(tok); prov != nil {
		return s.authenticateExternal(r, prov, tok)
	}
	c, err := s.o.Tokens.Verify(r.Context(), tok)
	if err != nil {
		return nil, err
	}
	return fortapi.BearerPrincipal(c), nil
}

func subset(want, have []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func intersect(a, b []string) []string {
	out := make([]string, 0, len(a))
	for _, s := range a {
		if slices.Contains(b, s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func dedupe(s []string) []string {
	out := make([]string, 0, len(s))
	for _, v := range s {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

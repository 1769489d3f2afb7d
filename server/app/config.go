package app

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/clientip"
	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/metrics"
	"github.com/fortapi/fortapi/oidc"
	"github.com/fortapi/fortapi/ratelimit"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/server/httpapi"
)

// The token contract of the reference server: the defaults of Config.
const (
	DefaultIssuer         = "fortapi"
	DefaultAudience       = "fortapi-api"
	DefaultAccessLifetime = 15 * time.Minute
	DefaultLeeway         = 30 * time.Second
)

// Default limits of Limits beyond those of httpapi (DefaultLimits).
const (
	DefaultLoginFailures = "5/minute"    // failed password checks per username
	DefaultGlobalLimit   = "1200/minute" // every request, per client address
	DefaultRedisPrefix   = "fortapi:ratelimit:"
)

// Config is everything the reference server is built from, each shared
// value stated once. The zero value of every field but Store and
// MasterKey takes the documented default; New checks the rest.
type Config struct {
	// Issuer and Audience are the iss and aud of every access token
	// (defaults DefaultIssuer and DefaultAudience).
	Issuer, Audience string
	// AccessLifetime is how long an access token lives (default
	// DefaultAccessLifetime, 15m); Leeway the clock skew allowed when one
	// is verified (default DefaultLeeway, 30s). The key ring keeps a
	// retired key verifying, and the revocation checker keeps a
	// revocation, for AccessLifetime + Leeway: both read them from here.
	AccessLifetime, Leeway time.Duration
	// RefreshLifetime is how long an unused refresh token lives,
	// SessionLifetime the absolute end of a login, RefreshGrace how long a
	// rotated refresh token is still answered with the same successor
	// (defaults authn.DefaultRefreshLifetime, DefaultSessionLifetime,
	// DefaultRefreshGrace).
	RefreshLifetime, SessionLifetime, RefreshGrace time.Duration
	// SessionCookie names the web session cookie the login service sets
	// and the API authenticates and binds CSRF tokens to (default
	// fortapi.DefaultSessionCookie).
	SessionCookie string

	// Limits are the rate limits, as parsed specs (default
	// DefaultLimits()).
	Limits Limits
	// TrustedProxies are the reverse proxies whose forwarding header
	// (ClientIPHeader, default X-Forwarded-For) names the client. Nil: the
	// client is the TCP peer.
	TrustedProxies []netip.Prefix
	ClientIPHeader string
	// CORSOrigins may call the API with credentials and read the answers;
	// each is also trusted by the CSRF origin check. Nil: none (logged as a
	// warning when set).
	CORSOrigins []string
	// AssumeTLS: clients reach the server over HTTPS although it serves
	// plain HTTP (behind a TLS-terminating proxy), so answers carry HSTS.
	AssumeTLS bool
	// FeedMaxConnsPerUser caps one user's open GET /ws/items sockets on
	// this instance (default wsfeed.DefaultMaxConnsPerSubject, 8): the next
	// upgrade gets 429 before the upgrade. The cap is per instance, not
	// global: behind a load balancer of N instances a user may hold up to
	// N times it.
	FeedMaxConnsPerUser int
	// CertExpiry, when set, reports the served TLS certificate's expiry
	// on /readyz.
	CertExpiry httpapi.CertExpiryFunc
	// Metrics, when set, receives the server's metrics (package
	// metrics): requests, authentication, tokens, rate limits, CSRF,
	// password hashing, revocations, keys, the certificate, the store
	// pool and the WebSocket feed. Nil: none.
	Metrics prometheus.Registerer

	// Store says where the data lives: SQLite (the default) or
	// PostgreSQL. Required.
	Store StoreConfig
	// MasterKey seals the signing keys at rest and derives the CSRF,
	// refresh-successor and device-credential keys: exactly
	// jwtkey.MasterKeySize (32) secret random bytes, the same on every
	// instance of one store. Required. It is copied.
	MasterKey []byte

	// AuditRetention is how long security events are kept; older ones
	// are pruned hourly, in batches (default authn.DefaultAuditRetention,
	// 90 days; negative keeps them forever).
	AuditRetention time.Duration

	// LoginConcurrency bounds the password hashes run at once (default
	// half the CPUs, at least one).
	LoginConcurrency int
	// InsecureTestHashes WEAKENS new password hashes to
	// password.InsecureTestParams, for tests that are not about hashing;
	// New fails with it outside a test binary (fortapi serve never sets
	// it).
	InsecureTestHashes bool
	// Version is the API's version in its OpenAPI document (default
	// "0.0.0").
	Version string
	// Logger receives the server's log (default slog.Default()). Nothing
	// in Config that is secret (MasterKey, the PostgreSQL and Redis
	// passwords) is ever logged.
	Logger *slog.Logger
	// Now is the clock and Rand the randomness of every part (defaults
	// time.Now and crypto/rand).
	Now  func() time.Time
	Rand io.Reader

	// OIDC are the external identity providers whose access tokens the
	// server accepts (package oidc; Logger and Now default to this
	// Config's), on the operations that declare fortapi.OIDCScheme: GET
	// /protected, GET /users/me and the items API. OIDCProvision creates
	// the user record of an unknown external subject on first use (role
	// user, no password); off, such a token is refused with 403.
	OIDC          []oidc.Options
	OIDCProvision bool

	// onClose, when set (tests), is told the name of each part Close
	// closes, in order.
	onClose func(name string)
	// sec are the event counters New registers with Metrics (nil
	// without), given to the libraries as their observers.
	sec *metrics.Security
	// ws are the WebSocket feed's counters New registers with Metrics
	// (nil without Metrics).
	ws *metrics.WebSocket
}

// StoreConfig selects the store: PostgresURL when set, else the SQLite
// file at SQLitePath.
type StoreConfig struct {
	// SQLitePath is the SQLite database file (created when missing; the
	// directory must exist).
	SQLitePath string
	// SQLiteReadConns is the size of SQLite's read pool (default
	// sqlite.DefaultReadConns).
	SQLiteReadConns int
	// PostgresURL locates a PostgreSQL database (postgres://...); it may
	// hold a password, which is never logged: Describe masks it.
	PostgresURL string
	// PostgresMaxConns bounds the pool (default postgres.DefaultMaxConns).
	PostgresMaxConns int
}

// Limits are the rate limits of the server.
type Limits struct {
	// Login limits POST /token per client address, LoginFailures the
	// failed password checks per username, Writes and Reads the
	// authenticated writes and reads per user, Global every request per
	// client address. A zero Spec takes its default (DefaultLimits).
	Login, LoginFailures, Writes, Reads, Global ratelimit.Spec
	// Scale multiplies every limit (load tests; default 1).
	Scale int
	// RedisURL, when set, keeps every limit in Redis, shared by all
	// instances; it may hold a password, never logged. RedisPrefix
	// prefixes the keys (default DefaultRedisPrefix).
	RedisURL, RedisPrefix string
	// OnRedisError is what limits do while Redis is unreachable
	// (default ratelimit.FailOpen), and Instances how many instances
	// share Redis (default 1): failing open, each limits locally to
	// 1/Instances of each limit.
	OnRedisError ratelimit.ErrorPolicy
	Instances    int
}

// DefaultLimits are the documented default limits: httpapi's per-operation
// limits, DefaultLoginFailures and DefaultGlobalLimit, in memory, scale 1.
func DefaultLimits() Limits {
	return Limits{
		Login:         ratelimit.MustParseSpec(httpapi.DefaultLoginLimit),
		LoginFailures: ratelimit.MustParseSpec(DefaultLoginFailures),
		Writes:        ratelimit.MustParseSpec(httpapi.DefaultWritesLimit),
		Reads:         ratelimit.MustParseSpec(httpapi.DefaultReadsLimit),
		Global:        ratelimit.MustParseSpec(DefaultGlobalLimit),
		Scale:         1,
		RedisPrefix:   DefaultRedisPrefix,
		Instances:     1,
	}
}

// withDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	for _, p := range []struct{ v, def *ratelimit.Spec }{
		{&l.Login, &d.Login}, {&l.LoginFailures, &d.LoginFailures}, {&l.Writes, &d.Writes},
		{&l.Reads, &d.Reads}, {&l.Global, &d.Global},
	} {
		if *p.v == (ratelimit.Spec{}) {
			*p.v = *p.def
		}
	}
	if l.Scale == 0 {
		l.Scale = 1
	}
	if l.Instances == 0 {
		l.Instances = 1
	}
	if l.RedisPrefix == "" {
		l.RedisPrefix = d.RedisPrefix
	}
	return l
}

// operations are the limits the API's operations declare.
func (l Limits) operations() httpapi.Limits {
	return httpapi.Limits{Login: l.Login.String(), Writes: l.Writes.String(), Reads: l.Reads.String()}
}

// withDefaults returns c with every zero field defaulted, or an error
// naming what is wrong. It never quotes a secret.
func (c Config) withDefaults() (Config, error) {
	str := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	dur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	str(&c.Issuer, DefaultIssuer)
	str(&c.Audience, DefaultAudience)
	str(&c.SessionCookie, fortapi.DefaultSessionCookie)
	str(&c.ClientIPHeader, clientip.XForwardedFor)
	dur(&c.AccessLifetime, DefaultAccessLifetime)
	dur(&c.Leeway, DefaultLeeway)
	dur(&c.RefreshLifetime, authn.DefaultRefreshLifetime)
	dur(&c.SessionLifetime, authn.DefaultSessionLifetime)
	dur(&c.RefreshGrace, authn.DefaultRefreshGrace)
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"AccessLifetime", c.AccessLifetime}, {"Leeway", c.Leeway}, {"RefreshLifetime", c.RefreshLifetime},
		{"SessionLifetime", c.SessionLifetime}, {"RefreshGrace", c.RefreshGrace},
	} {
		if d.v < 0 {
			return c, fmt.Errorf("app: %s is %v, want > 0", d.name, d.v)
		}
	}
	c.Limits = c.Limits.withDefaults()
	if c.FeedMaxConnsPerUser < 0 {
		return c, errors.New("app: FeedMaxConnsPerUser is negative")
	}
	if c.Limits.Scale < 1 || c.Limits.Instances < 1 {
		return c, errors.New("app: Limits.Scale and Limits.Instances must be at least 1")
	}
	if c.LoginConcurrency == 0 {
		c.LoginConcurrency = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if len(c.MasterKey) != jwtkey.MasterKeySize {
		return c, fmt.Errorf("app: the master key is %d bytes, want %d", len(c.MasterKey), jwtkey.MasterKeySize)
	}
	if c.Store.PostgresURL == "" && c.Store.SQLitePath == "" {
		return c, errors.New("app: no store: set Store.SQLitePath or Store.PostgresURL")
	}
	return c, nil
}

// oidcSet builds the providers of cfg.OIDC (nil when there are none).
func oidcSet(cfg Config) (*oidc.Set, error) {
	if len(cfg.OIDC) == 0 {
		return nil, nil
	}
	provs := make([]*oidc.Provider, 0, len(cfg.OIDC))
	for _, o := range cfg.OIDC {
		if o.Logger == nil {
			o.Logger = cfg.Logger
		}
		if o.Now == nil {
			o.Now = cfg.Now
		}
		p, err := oidc.New(o)
		if err != nil {
			return nil, fmt.Errorf("external identity provider: %w", err)
		}
		provs = append(provs, p)
	}
	return oidc.NewSet(provs...)
}

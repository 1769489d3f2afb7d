package oidc

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Defaults and bounds of Options.
const (
	DefaultLeeway          = 30 * time.Second
	MaxLeeway              = 60 * time.Second
	DefaultRefreshInterval = 10 * time.Second
	DefaultKeysMaxAge      = time.Hour
	DefaultFetchTimeout    = 10 * time.Second
	DefaultMaxResponse     = 256 << 10
	DefaultMaxLifetime     = 24 * time.Hour
	// MaxTokenBytes is the longest token Verify looks at.
	MaxTokenBytes = 16 << 10
)

// ErrInvalidToken is wrapped by every error Verify returns for a token
// that is refused; its text names the reason and never echoes token
// content.
var ErrInvalidToken = errors.New("oidc: invalid token")

// ErrUnavailable is wrapped when the provider's keys cannot be fetched and
// none are cached: the token may be fine, the caller should answer 503.
var ErrUnavailable = errors.New("oidc: the identity provider's keys are unavailable")

// Options configure New. The zero value of each field but Issuer and
// Audiences takes the documented default.
type Options struct {
	// Issuer is the provider's issuer identifier: an https URL, compared
	// exactly (trailing slash included) with the discovery document's
	// issuer and each token's iss. Required.
	Issuer string
	// Audiences: a token's aud must contain one of them (the identifier
	// of this API at the provider, not a client id: an ID token issued to
	// a client then never passes). Required.
	Audiences []string
	// ScopeRules map the provider's claims to this API's scopes; a token
	// is granted only the scopes its claims map to (unmapped values are
	// ignored).
	ScopeRules []ScopeRule
	// Leeway is the clock skew allowed on exp, nbf and iat (default
	// DefaultLeeway, at most MaxLeeway).
	Leeway time.Duration
	// MaxLifetime refuses tokens whose exp lies further ahead than this
	// (default DefaultMaxLifetime).
	MaxLifetime time.Duration
	// RequireTyp refuses tokens whose header lacks typ "at+jwt" (RFC
	// 9068). False (the default): a missing typ or the generic "JWT" is
	// accepted, since Keycloak, Auth0 and Entra ID send those; any other
	// typ is refused either way.
	RequireTyp bool
	// RefreshInterval is the least time between two fetches of the JWKS
	// (default DefaultRefreshInterval): a token with an unknown kid
	// triggers a fetch only when the last one is older, and concurrent
	// ones share it, so a flood of made-up kids costs the provider one
	// request per interval.
	RefreshInterval time.Duration
	// KeysMaxAge is how long fetched keys are used before the next token
	// triggers a refresh (default DefaultKeysMaxAge), so keys the
	// provider withdraws stop verifying. A failed refresh keeps the old
	// keys.
	KeysMaxAge time.Duration
	// HTTPClient fetches the discovery document and the JWKS. Default: a
	// client verifying TLS against the system roots, not following
	// redirects. Tests inject one trusting their CA. Its TLS settings are
	// its own; FetchTimeout and MaxResponseBytes bound every fetch.
	HTTPClient *http.Client
	// FetchTimeout bounds each fetch (default DefaultFetchTimeout);
	// MaxResponseBytes each response body (default DefaultMaxResponse).
	FetchTimeout     time.Duration
	MaxResponseBytes int64
	// InsecureAllowLoopbackHTTP accepts an http:// issuer and JWKS on a
	// loopback host (127.0.0.0/8, ::1, localhost) for tests and
	// development. Off: only https is accepted.
	InsecureAllowLoopbackHTTP bool
	// Logger receives refresh failures (default slog.Default()); Now is
	// the clock (default time.Now).
	Logger *slog.Logger
	Now    func() time.Time
}

// Provider verifies the access tokens of one external OpenID provider.
// It is safe for concurrent use.
type Provider struct {
	o         Options
	discovery string // the discovery document's URL

	mu        sync.Mutex
	jwksURI   string
	keys      map[string]publicKey
	fetchedAt time.Time     // last successful JWKS fetch
	attempt   time.Time     // last JWKS fetch attempt (rate limit)
	inflight  chan struct{} // closed when the running fetch ends
	lastErr   error
	fetches   int
}

// New checks opts and returns a Provider. It fetches nothing: the first
// Verify (or Refresh) fetches the discovery document and the JWKS.
func New(opts Options) (*Provider, error) {
	if err := checkURL(opts.Issuer, opts.InsecureAllowLoopbackHTTP); err != nil {
		return nil, fmt.Errorf("oidc: issuer %q: %v", opts.Issuer, err)
	}
	if len(opts.Audiences) == 0 {
		return nil, fmt.Errorf("oidc: issuer %q: at least one audience is required", opts.Issuer)
	}
	for _, a := range opts.Audiences {
		if a == "" || !printable(a) {
			return nil, fmt.Errorf("oidc: issuer %q: the audience %q is empty or not printable", opts.Issuer, a)
		}
	}
	for _, r := range opts.ScopeRules {
		if err := r.check(); err != nil {
			return nil, fmt.Errorf("oidc: issuer %q: %v", opts.Issuer, err)
		}
	}
	switch {
	case opts.Leeway < 0 || opts.Leeway > MaxLeeway:
		return nil, fmt.Errorf("oidc: Leeway %v is outside 0..%v", opts.Leeway, MaxLeeway)
	case opts.Leeway == 0:
		opts.Leeway = DefaultLeeway
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.MaxLifetime, DefaultMaxLifetime)
	def(&opts.RefreshInterval, DefaultRefreshInterval)
	def(&opts.KeysMaxAge, DefaultKeysMaxAge)
	def(&opts.FetchTimeout, DefaultFetchTimeout)
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponse
	}
	if opts.HTTPClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		opts.HTTPClient = &http.Client{Transport: tr, Timeout: opts.FetchTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Audiences = slices.Clone(opts.Audiences)
	opts.ScopeRules = slices.Clone(opts.ScopeRules)
	return &Provider{o: opts, discovery: strings.TrimSuffix(opts.Issuer, "/") + "/.well-known/openid-configuration"}, nil
}

// Issuer returns the issuer identifier the provider was configured with.
func (p *Provider) Issuer() string { return p.o.Issuer }

// DiscoveryURL returns the URL of the provider's discovery document (the
// OpenAPI openIdConnectUrl).
func (p *Provider) DiscoveryURL() string { return p.discovery }

// Fetches returns how many JWKS fetches were attempted (for metrics and
// tests).
func (p *Provider) Fetches() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fetches
}

// checkURL refuses anything but an absolute https URL without user info,
// query or fragment (http on a loopback host when allowed).
func checkURL(s string, loopbackHTTP bool) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return errors.New("must be an absolute URL without user info, query or fragment")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if !loopbackHTTP {
			return errors.New("must use https (an http issuer is accepted only on a loopback host with the insecure loopback option)")
		}
		h := u.Hostname()
		if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return errors.New("http is accepted only on a loopback host (127.0.0.1, ::1, localhost)")
	}
	return errors.New("must use https")
}

// Refresh fetches the JWKS now, unless a fetch ran within
// RefreshInterval; concurrent calls share one fetch. It returns the
// error of the fetch it waited for, if any.
func (p *Provider) Refresh(ctx context.Context) error {
	_, err := p.refresh(ctx)
	return err
}

// refresh fetches the JWKS unless rate limited. It reports whether a
// fetch ran (its own or one it waited for).
func (p *Provider) refresh(ctx context.Context) (bool, error) {
	p.mu.Lock()
	if ch := p.inflight; ch != nil {
		p.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return false, ctx.Err()
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		return true, p.lastErr
	}
	now := p.o.Now()
	if !p.attempt.IsZero() && now.Sub(p.attempt) < p.o.RefreshInterval {
		p.mu.Unlock()
		return false, nil
	}
	p.attempt = now
	p.fetches++
	ch := make(chan struct{})
	p.inflight = ch
	jwksURI := p.jwksURI
	p.mu.Unlock()

	// The fetch outlives a caller that gives up: others wait for it.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.o.FetchTimeout)
	keys, uri, err := p.fetch(fctx, jwksURI)
	cancel()

	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.keys, p.jwksURI, p.fetchedAt = keys, uri, p.o.Now()
	} else {
		p.o.Logger.Warn("fetching the identity provider's keys failed; keeping the keys held",
			slog.String("issuer", p.o.Issuer), slog.Int("keys_held", len(p.keys)), slog.Any("error", err))
	}
	p.lastErr = err
	p.inflight = nil
	close(ch)
	return true, err
}

// fetch reads the discovery document (when jwksURI is not known yet) and
// the JWKS.
func (p *Provider) fetch(ctx context.Context, jwksURI string) (map[string]publicKey, string, error) {
	if jwksURI == "" {
		body, err := p.get(ctx, p.discovery)
		if err != nil {
			return nil, "", fmt.Errorf("discovery document: %w", err)
		}
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := json.Unmarshal(body, &doc); err != nil {
			return nil, "", fmt.Errorf("discovery document: not JSON: %v", err)
		}
		if doc.Issuer != p.o.Issuer {
			return nil, "", fmt.Errorf("discovery document: its issuer %q is not the configured %q", doc.Issuer, p.o.Issuer)
		}
		if err := checkURL(doc.JWKSURI, p.o.InsecureAllowLoopbackHTTP); err != nil {
			return nil, "", fmt.Errorf("discovery document: jwks_uri %q %v", doc.JWKSURI, err)
		}
		jwksURI = doc.JWKSURI
	}
	body, err := p.get(ctx, jwksURI)
	if err != nil {
		return nil, "", fmt.Errorf("JWKS: %w", err)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, "", fmt.Errorf("JWKS: %w", err)
	}
	return keys, jwksURI, nil
}

func (p *Provider) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := p.o.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.Request != nil && resp.Request.URL != nil {
		// An injected client may follow redirects: the answer must still
		// come from an https URL.
		if err := checkURL(resp.Request.URL.String(), p.o.InsecureAllowLoopbackHTTP); err != nil && resp.Request.URL.String() != u {
			return nil, fmt.Errorf("GET %s: redirected to %s, which %v", u, resp.Request.URL.Redacted(), err)
		}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %d", u, resp.StatusCode)
	}
	if resp.ContentLength > p.o.MaxResponseBytes {
		return nil, fmt.Errorf("GET %s: the response is larger than %d bytes", u, p.o.MaxResponseBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.o.MaxResponseBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", u, err)
	}
	if int64(len(body)) > p.o.MaxResponseBytes {
		return nil, fmt.Errorf("GET %s: the response is larger than %d bytes", u, p.o.MaxResponseBytes)
	}
	return body, nil
}

// key returns the key named kid: from the cache, or after a refresh
// (rate limited) when kid is unknown or the keys are older than
// KeysMaxAge.
func (p *Provider) key(ctx context.Context, kid string) (publicKey, error) {
	p.mu.Lock()
	k, ok := p.keys[kid]
	have := p.keys != nil
	stale := have && p.o.Now().Sub(p.fetchedAt) > p.o.KeysMaxAge
	p.mu.Unlock()
	if ok && !stale {
		return k, nil
	}
	fetched, err := p.refresh(ctx)
	p.mu.Lock()
	k, ok = p.keys[kid]
	have = p.keys != nil
	p.mu.Unlock()
	switch {
	case ok:
		return k, nil
	case !have && (err != nil || !fetched):
		if err == nil {
			err = errors.New("no keys fetched yet; the last attempt failed within the refresh interval")
		}
		return publicKey{}, fmt.Errorf("%w: %s: %v", ErrUnavailable, p.o.Issuer, err)
	}
	return publicKey{}, fmt.Errorf("%w: unknown key id", ErrInvalidToken)
}

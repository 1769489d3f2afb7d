package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Security are the event counters of an authentication server. Its
// methods implement the observer interfaces of the libraries (token,
// csrf, secheader, and the reference server's authn), whose arguments
// come from fixed sets.
type Security struct {
	authAttempts  *prometheus.CounterVec
	refreshReuse  prometheus.Counter
	verifications *prometheus.CounterVec
	cache         *prometheus.CounterVec
	csrf          *prometheus.CounterVec
	cors          prometheus.Counter
	revocationLag prometheus.Histogram

	// Resolved once: the hot path (a verification per request) looks up
	// no labels. Read-only after NewSecurity.
	cacheHit, cacheMiss prometheus.Counter
	verified            map[string]prometheus.Counter
}

// NewSecurity creates the security counters and registers them with reg.
func NewSecurity(reg prometheus.Registerer) (*Security, error) {
	s := &Security{
		authAttempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "auth_attempts_total",
			Help: "Authentication attempts by method (password: OAuth2 password grant, refresh: refresh grant, session: HTML login form), result (success, failure, refused, error) and reason.",
		}, []string{"method", "result", "reason"}),
		refreshReuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refresh_reuse_detected_total",
			Help: "Rotated refresh tokens presented again: each revoked its session (likely token theft).",
		}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "token_verifications_total",
			Help: "Access token verifications by result: ok, expired, bad_signature, unknown_kid, revoked, malformed.",
		}, []string{"result"}),
		cache: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "token_cache_requests_total",
			Help: "Lookups in the verified-token cache by result: hit or miss.",
		}, []string{"result"}),
		csrf: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "csrf_rejections_total",
			Help: "Requests refused by the CSRF protection, by reason: cross_origin, missing_token, bad_token, form_too_large, bad_form.",
		}, []string{"reason"}),
		cors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "cors_rejections_total",
			Help: "CORS preflight requests refused: an origin, method or header not allowed.",
		}),
		revocationLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "revocation_propagation_seconds",
			Help:    "Time from a revocation's write to the store to its application in this process.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	s.cacheHit, s.cacheMiss = s.cache.WithLabelValues("hit"), s.cache.WithLabelValues("miss")
	s.verified = map[string]prometheus.Counter{}
	for _, r := range []string{"ok", "expired", "bad_signature", "unknown_kid", "revoked", "malformed"} {
		s.verified[r] = s.verifications.WithLabelValues(r)
	}
	if err := register(reg, s.authAttempts, s.refreshReuse, s.verifications, s.cache, s.csrf, s.cors, s.revocationLag); err != nil {
		return nil, err
	}
	return s, nil
}

// AuthAttempt counts an authentication attempt (authn.Observer).
func (s *Security) AuthAttempt(method, result, reason string) {
	s.authAttempts.WithLabelValues(method, result, reason).Inc()
}

// RefreshReuse counts a refresh token reuse (authn.Observer).
func (s *Security) RefreshReuse() { s.refreshReuse.Inc() }

// RevocationApplied observes a revocation's propagation time
// (authn.Observer).
func (s *Security) RevocationApplied(lag time.Duration) { s.revocationLag.Observe(lag.Seconds()) }

// Verified counts a token verification (token.Observer).
func (s *Security) Verified(result string) {
	if c, ok := s.verified[result]; ok {
		c.Inc()
		return
	}
	s.verifications.WithLabelValues(result).Inc()
}

// CacheLookup counts a verified-token cache lookup (token.Observer).
func (s *Security) CacheLookup(hit bool) {
	if hit {
		s.cacheHit.Inc()
		return
	}
	s.cacheMiss.Inc()
}

// Rejected counts a CSRF refusal (csrf.Observer).
func (s *Security) Rejected(reason string) { s.csrf.WithLabelValues(reason).Inc() }

// CORSRejected counts a refused CORS preflight (secheader.CORSObserver).
func (s *Security) CORSRejected() { s.cors.Inc() }

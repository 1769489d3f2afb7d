// Package scan is a black-box security auditor for HTTP APIs described by
// an OpenAPI document: `fortapi scan` is its command line.
//
// Run reads the document, logs in two or more principals (OAuth2 password
// grant, or given tokens), then sends the checks of the catalog (Rules):
// transport, headers and CORS, authentication and JWT forgeries,
// authorization across users (BOLA, BFLA, mass assignment), input
// handling (schema-negative requests, SQL injection, reflected XSS,
// verbose errors, oversized bodies) and exposure (debug endpoints,
// secrets in responses). Every finding has a stable id, an OWASP API Top
// 10 2023 category, CWE ids, masked evidence and a fix.
//
// Safety: the scanner never leaves the target's scheme, host and port (it
// follows no redirect and refuses absolute URLs elsewhere), sends
// PUT/PATCH/DELETE only to objects it created itself unless
// Options.AllowDestructive, keeps to a request budget and a rate, and
// paces logins so that it never locks a real account out: real accounts
// get only their one successful login; wrong passwords go to throwaway
// usernames or to an account the scan created itself (see docs/scan.md).
package scan

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Severity of a finding: info, low, medium, high or critical.
type Severity string

// The severities, lowest first.
const (
	Info     Severity = "info"
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Rank orders severities: info 0 ... critical 4; unknown is -1.
func (s Severity) Rank() int {
	switch s {
	case Info:
		return 0
	case Low:
		return 1
	case Medium:
		return 2
	case High:
		return 3
	case Critical:
		return 4
	}
	return -1
}

// ParseSeverity reads a severity name (case-insensitive).
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToLower(strings.TrimSpace(s)))
	if v.Rank() < 0 {
		return "", fmt.Errorf("unknown severity %q (info, low, medium, high, critical)", s)
	}
	return v, nil
}

// Finding is one flaw found (or, with severity info, an inventory note).
// The JSON names are a contract other tools read.
type Finding struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Severity  Severity `json:"severity"`
	OWASP     string   `json:"owasp"`
	CWE       []string `json:"cwe"`
	Operation string   `json:"operation"` // "GET /items/{id}", "" for host-wide
	Parameter string   `json:"parameter"`
	Evidence  string   `json:"evidence"`
	Fix       string   `json:"fix"`
}

// Report is a scan's result. The JSON names are a contract.
type Report struct {
	Target    string    `json:"target"`
	Started   time.Time `json:"started"`
	DurationS float64   `json:"duration_s"`
	Requests  int       `json:"requests"`
	Findings  []Finding `json:"findings"`
}

// Count returns how many findings have at least severity min.
func (r *Report) Count(min Severity) int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity.Rank() >= min.Rank() {
			n++
		}
	}
	return n
}

// Credential is a username and password for the OAuth2 password grant.
type Credential struct {
	Name, Password string
}

// ParseCredential reads NAME:PASSWORD (the password may contain colons).
func ParseCredential(s string) (Credential, error) {
	name, pw, ok := strings.Cut(s, ":")
	if !ok || name == "" || pw == "" {
		return Credential{}, fmt.Errorf("want NAME:PASSWORD")
	}
	return Credential{Name: name, Password: pw}, nil
}

// Progress is reported after every request and at every check.
type Progress struct {
	Check    string // the running check group
	Done     int    // groups finished
	Total    int    // groups selected
	Requests int    // requests sent so far
	Budget   int    // Options.MaxRequests
}

// Clock is the scanner's time: Now for timing answers, Sleep for pacing.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// Limiter paces requests: Wait returns when the next one may go.
type Limiter interface {
	Wait(ctx context.Context) error
}

// Options of a scan. Target and at least the document are needed; two
// users (or tokens) for the authorization checks, an admin for BFLA.
type Options struct {
	// Target is the API's base URL, https://host:port (a path prefix is
	// kept for discovery only; operations use the document's paths).
	Target string
	// OpenAPI is the document's URL (on the target's host) or file path;
	// empty tries /openapi.json, /openapi.yaml and /docs/openapi.json.
	OpenAPI string
	// Users are logged in through the OAuth2 password grant; Tokens are
	// used as given, one per principal, after the users.
	Users  []Credential
	Tokens []string
	// Admin (or AdminToken) is a principal with administrator rights.
	Admin      *Credential
	AdminToken string
	// TokenURL overrides the document's oauth2 tokenUrl (default /token).
	TokenURL string
	// Checks lists categories (Categories) or finding ids; empty: all.
	Checks []string
	// MaxRequests is the request budget (default 3000); Rate the requests
	// per second (default 20).
	MaxRequests int
	Rate        float64
	// Insecure accepts an untrusted certificate (still reported if
	// expired or for another name). RootCAs trusts these roots instead of
	// the system's.
	Insecure bool
	RootCAs  *x509.CertPool
	// HTTPURL is the target's plain-HTTP address (http://host:port) for
	// HTTP-NO-REDIRECT; empty skips that check unless the target is on
	// port 443 (then http://host:80 is tried).
	HTTPURL string
	// AllowDestructive lets PUT/PATCH/DELETE reach objects the scan did
	// not create (BFLA and mass assignment on existing objects).
	AllowDestructive bool
	// LoginProbes is the number of wrong-password logins sent for one
	// throwaway username by the rate-limit probe (default 12).
	LoginProbes int
	// SleepSeconds is the delay asked by time-based SQL injection
	// payloads (default 2).
	SleepSeconds int
	// second is the unit of SleepSeconds the time-based probes time
	// answers against: a second (zero) for every user. The package's
	// tests shorten it, with targets whose sleep(n) and heavy query take
	// n of the same unit, so that the probes' decisions (the same
	// fractions of the delay) are tested without waiting whole seconds.
	second time.Duration
	// forgeryKey is the RSA key of the header-key forgeries (jwk, x5c):
	// nil, a fresh one per scan, for every user. The package's tests,
	// whose scans number in the dozens, share one (a 2048-bit key costs
	// about 0.1 s of CPU).
	forgeryKey *rsa.PrivateKey
	// Progress, if set, is called after every request.
	Progress func(Progress)
	// Clock and Limiter default to the wall clock and a limiter at Rate.
	Clock   Clock
	Limiter Limiter
	// Transport replaces the HTTP transport (tests); its TLS settings
	// then are the caller's.
	Transport http.RoundTripper
	// Timeout of one request (default 20 s).
	Timeout time.Duration
}

// Run scans opts.Target and returns the report. An error means the scan
// could not start (target unreachable, no document, no login); findings
// of a scan stopped by its budget or ctx are returned with a note.
func Run(ctx context.Context, opts Options) (*Report, error) {
	s, err := newScanner(opts)
	if err != nil {
		return nil, err
	}
	return s.run(ctx)
}

package vulnapi

import (
	"fmt"
	"slices"
	"strings"
)

// Flaw names one planted vulnerability. The names are stable: the command's
// --flaws list and testdata/ground_truth.json use them.
type Flaw string

// The flaws, grouped as the scanner's catalog groups its finding ids.
const (
	// transport (planted by Serve, not by Handler)
	FlawTLSLegacy      Flaw = "tls-legacy"       // TLS 1.0 and 1.1 accepted (with CBC suites, the only ones they have)
	FlawTLSCBC         Flaw = "tls-cbc"          // a CBC suite accepted on TLS 1.2
	FlawTLSExpiredCert Flaw = "tls-expired-cert" // the certificate expired yesterday
	FlawHTTPServesAPI  Flaw = "http-serves-api"  // the plain-HTTP port serves the API instead of redirecting
	FlawHSTSMissing    Flaw = "hsts-missing"     // no Strict-Transport-Security

	// headers and CORS
	FlawNosniffMissing Flaw = "nosniff-missing" // no X-Content-Type-Options: nosniff
	FlawFramingMissing Flaw = "framing-missing" // no X-Frame-Options and no frame-ancestors
	FlawCSPMissing     Flaw = "csp-missing"     // no Content-Security-Policy
	FlawServerBanner   Flaw = "server-banner"   // Server and X-Powered-By with versions
	FlawCORSReflect    Flaw = "cors-reflect"    // GET /users/me reflects any Origin with credentials
	FlawCORSNull       Flaw = "cors-null"       // GET /items/ allows Origin: null with credentials
	FlawCORSWildcard   Flaw = "cors-wildcard"   // GET /protected answers * with credentials

	// authentication
	FlawAuthMissing        Flaw = "auth-missing"         // GET /items/ answers without credentials (all items)
	FlawAuthGarbageToken   Flaw = "auth-garbage-token"   // GET /protected accepts any bearer token
	FlawJWTAlgNone         Flaw = "jwt-alg-none"         // alg "none" (any case) accepted
	FlawJWTNoVerify        Flaw = "jwt-no-verify"        // the signature is decoded but never checked
	FlawJWTAlgConfusion    Flaw = "jwt-alg-confusion"    // HS256 keyed with the JWKS public key (PEM or DER) accepted
	FlawJWTWeakSecret      Flaw = "jwt-weak-secret"      // tokens are HS256 with a secret from testdata/jwt-secrets.txt
	FlawJWTExpiredAccepted Flaw = "jwt-expired-accepted" // exp not checked
	FlawJWTNbfIgnored      Flaw = "jwt-nbf-ignored"      // nbf not checked
	FlawJWTKidInjection    Flaw = "jwt-kid-injection"    // kid read from a file path or spliced into SQL
	FlawJWTHeaderKeyTrust  Flaw = "jwt-header-key-trust" // a jwk (or loopback jku) in the header is trusted
	FlawUserEnumeration    Flaw = "user-enumeration"     // unknown user and wrong password answer differently
	FlawNoLoginRateLimit   Flaw = "no-login-rate-limit"  // failed logins never throttled

	// authorization
	FlawBOLARead       Flaw = "bola-read"       // GET /items/{id} without the owner check
	FlawBOLAWrite      Flaw = "bola-write"      // PUT /items/{id} without the owner check
	FlawBOLADelete     Flaw = "bola-delete"     // DELETE /items/{id} without the owner check
	FlawBFLA           Flaw = "bfla"            // GET /users (users:admin) open to every user
	FlawMassAssignment Flaw = "mass-assignment" // POST /items/ applies owner_id from the body

	// input
	FlawInput5xx      Flaw = "input-5xx"      // POST /items/ panics (500) on a price that is not a number
	FlawSQLiError     Flaw = "sqli-error"     // GET /items/?sort= spliced into ORDER BY, SQLite errors shown
	FlawSQLiBoolean   Flaw = "sqli-boolean"   // GET /items/{id}: id spliced into WHERE, errors read as not found
	FlawSQLiTime      Flaw = "sqli-time"      // POST /items/ name spliced into a blind count query
	FlawXSSHTML       Flaw = "xss-html"       // GET /search?q= reflected unescaped in the page
	FlawXSSError      Flaw = "xss-error"      // GET /items/{id}/view: the id reflected unescaped in an HTML error
	FlawVerboseErrors Flaw = "verbose-errors" // every problem response carries a Go stack trace with file paths
	FlawBodyOversized Flaw = "body-oversized" // no request body limit (10 MiB accepted)

	// exposure
	FlawDebugEndpoint Flaw = "debug-endpoint" // GET /debug/pprof/ reachable without credentials
	FlawSecretField   Flaw = "secret-field"   // GET /users/me includes password_hash
)

// Entry is one line of the ground truth: the flaw, the finding id of
// `fortapi scan` that reports it, the operation ("GET /items/{id}": method
// and OpenAPI path template, "" for host-wide) and the parameter, if any.
type Entry struct {
	Flaw      Flaw   `json:"flaw"`
	Finding   string `json:"finding"`
	Operation string `json:"operation"`
	Parameter string `json:"parameter,omitempty"`
}

// Catalog returns every flaw the target can plant, in a fixed order. It is
// the ground truth; testdata/ground_truth.json is kept equal to it by a test.
func Catalog() []Entry {
	return []Entry{
		{FlawTLSLegacy, "TLS-LEGACY-PROTOCOL", "", ""},
		{FlawTLSCBC, "TLS-WEAK-CIPHER", "", ""},
		{FlawTLSExpiredCert, "TLS-CERT-INVALID", "", ""},
		{FlawHTTPServesAPI, "HTTP-NO-REDIRECT", "", ""},
		{FlawHSTSMissing, "HSTS-MISSING", "", ""},

		{FlawNosniffMissing, "HDR-NOSNIFF-MISSING", "", ""},
		{FlawFramingMissing, "HDR-FRAMING-MISSING", "", ""},
		{FlawCSPMissing, "HDR-CSP-MISSING", "", ""},
		{FlawServerBanner, "HDR-SERVER-BANNER", "", ""},
		{FlawCORSReflect, "CORS-REFLECT-ORIGIN", "GET /users/me", ""},
		{FlawCORSNull, "CORS-NULL-ORIGIN", "GET /items/", ""},
		{FlawCORSWildcard, "CORS-WILDCARD-CREDENTIALS", "GET /protected", ""},

		{FlawAuthMissing, "AUTH-MISSING", "GET /items/", ""},
		{FlawAuthGarbageToken, "AUTH-GARBAGE-TOKEN", "GET /protected", ""},
		{FlawJWTAlgNone, "JWT-ALG-NONE", "", ""},
		{FlawJWTNoVerify, "JWT-SIGNATURE-NOT-VERIFIED", "", ""},
		{FlawJWTAlgConfusion, "JWT-ALG-CONFUSION", "", ""},
		{FlawJWTWeakSecret, "JWT-WEAK-SECRET", "", ""},
		{FlawJWTExpiredAccepted, "JWT-EXPIRED-ACCEPTED", "", ""},
		{FlawJWTNbfIgnored, "JWT-NBF-IGNORED", "", ""},
		{FlawJWTKidInjection, "JWT-KID-INJECTION", "", ""},
		{FlawJWTHeaderKeyTrust, "JWT-HEADER-KEY-TRUST", "", ""},
		{FlawUserEnumeration, "AUTH-USER-ENUMERATION", "POST /token", "username"},
		{FlawNoLoginRateLimit, "AUTH-NO-LOGIN-RATE-LIMIT", "POST /token", ""},

		{FlawBOLARead, "BOLA-READ", "GET /items/{id}", "id"},
		{FlawBOLAWrite, "BOLA-WRITE", "PUT /items/{id}", "id"},
		{FlawBOLADelete, "BOLA-WRITE", "DELETE /items/{id}", "id"},
		{FlawBFLA, "BFLA", "GET /users", ""},
		{FlawMassAssignment, "MASS-ASSIGNMENT", "POST /items/", "owner_id"},

		{FlawInput5xx, "INPUT-5XX", "POST /items/", "price"},
		{FlawSQLiError, "SQLI-ERROR", "GET /items/", "sort"},
		{FlawSQLiBoolean, "SQLI-BOOLEAN", "GET /items/{id}", "id"},
		{FlawSQLiTime, "SQLI-TIME", "POST /items/", "name"},
		{FlawXSSHTML, "XSS-REFLECTED", "GET /search", "q"},
		{FlawXSSError, "XSS-REFLECTED", "GET /items/{id}/view", "id"},
		{FlawVerboseErrors, "ERROR-VERBOSE", "", ""},
		{FlawBodyOversized, "BODY-OVERSIZED", "", ""},

		{FlawDebugEndpoint, "EXPOSURE-DEBUG-ENDPOINT", "GET /debug/pprof/", ""},
		{FlawSecretField, "EXPOSURE-SECRET-FIELD", "GET /users/me", "password_hash"},
	}
}

// Set is a set of flaws. The nil or empty Set is the clean target.
type Set map[Flaw]bool

// All returns the set of every flaw in Catalog.
func All() Set {
	s := Set{}
	for _, e := range Catalog() {
		s[e.Flaw] = true
	}
	return s
}

// Has reports whether f is in the set.
func (s Set) Has(f Flaw) bool { return s[f] }

// List returns the flaws in the set in catalog order.
func (s Set) List() []Flaw {
	var out []Flaw
	for _, e := range Catalog() {
		if s[e.Flaw] && !slices.Contains(out, e.Flaw) {
			out = append(out, e.Flaw)
		}
	}
	return out
}

// String is the comma-separated list, "none" when empty.
func (s Set) String() string {
	l := s.List()
	if len(l) == 0 {
		return "none"
	}
	parts := make([]string, len(l))
	for i, f := range l {
		parts[i] = string(f)
	}
	return strings.Join(parts, ",")
}

// ParseFlaws parses "all", "none" (or "") or a comma-separated list of
// flaw names; an unknown name is an error.
func ParseFlaws(s string) (Set, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "all":
		return All(), nil
	case "", "none":
		return Set{}, nil
	}
	known := All()
	out := Set{}
	for _, name := range strings.Split(s, ",") {
		f := Flaw(strings.TrimSpace(name))
		if f == "" {
			continue
		}
		if !known[f] {
			return nil, fmt.Errorf("vulnapi: unknown flaw %q", f)
		}
		out[f] = true
	}
	return out, nil
}

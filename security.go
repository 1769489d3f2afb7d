package fortapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// BearerScheme is the name of the OAuth2 bearer-token security scheme in
// the OpenAPI document (components.securitySchemes).
const BearerScheme = "bearer"

// OAuth2Scheme is the name of the OAuth2 password-flow security scheme that
// Options.OAuth2 adds to the document. It describes how to obtain the same
// bearer tokens: every requirement an operation declares on BearerScheme is
// documented on OAuth2Scheme as well (so docs UIs offer a login), and a
// principal authenticated with a bearer token satisfies either.
const OAuth2Scheme = "oauth2"

// SessionScheme is the name of the cookie-session security scheme that
// Options.Session adds to the document: an HTML login's server-side
// session, presented as a cookie. A principal authenticated by it
// (Principal.Scheme == SessionScheme) is accepted by every operation that
// declares bearer scopes, with the same scopes, and by operations
// declaring SessionScopes.
const SessionScheme = "session"

// DefaultSessionCookie is the default name of the session cookie: the
// __Host- prefix makes browsers refuse it unless it is Secure, has Path=/
// and no Domain, so a sibling subdomain cannot plant or overwrite it.
const DefaultSessionCookie = "__Host-session"

// SessionCookie describes cookie sessions (Options.Session).
type SessionCookie struct {
	// Name is the cookie's name (default DefaultSessionCookie).
	Name string
	// LoginURL, when set, is where a browser is sent (303 See Other) from
	// an operation that accepts only sessions (SessionScopes) when it has
	// no valid session and asks for HTML (its Accept header names
	// text/html), with the page asked for in its "next" query parameter
	// on GET and HEAD (/login?next=%2Fitems%2F42%2Fview): the login page
	// must accept only same-origin paths there (an open redirect
	// otherwise). Other callers get 401 as anywhere else. A path on this
	// server: it must start with a single "/". Empty: always 401.
	LoginURL string
}

// validLocalPath reports whether u is a path on this server (no scheme, no
// host, no "//" or "/\" that browsers would take as another host).
func validLocalPath(u string) bool {
	if len(u) == 0 || u[0] != '/' || (len(u) > 1 && (u[1] == '/' || u[1] == '\\')) {
		return false
	}
	for i := 0; i < len(u); i++ {
		if u[i] < 0x21 || u[i] > 0x7e {
			return false
		}
	}
	return true
}

// sessionOnly reports whether every requirement of sec names only the
// session scheme.
func sessionOnly(sec []map[string][]string) bool {
	for _, alt := range sec {
		if _, ok := alt[SessionScheme]; !ok || len(alt) != 1 {
			return false
		}
	}
	return len(sec) > 0
}

// wantsHTML reports whether r comes from a browser navigating to a page.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// OAuth2Password describes an OAuth2 password-grant token endpoint
// (RFC 6749 §4.3) for the OpenAPI document.
type OAuth2Password struct {
	// TokenURL is where tokens are issued ("/token").
	TokenURL string
	// Scopes maps each scope the endpoint grants to its description.
	Scopes map[string]string
}

// ErrNoCredentials is what an Authenticator returns when the request
// carries no credentials at all; the caller is anonymous (401 without an
// error code, RFC 6750 §3.1).
var ErrNoCredentials = errors.New("fortapi: no credentials")

// Principal is an authenticated caller.
type Principal struct {
	// Subject identifies the caller (a user id).
	Subject string
	// Issuer, for a token of an external identity provider (OIDCScheme)
	// that no user record stands for, is its iss: (Issuer, Subject) is
	// then the caller's identity. Empty otherwise.
	Issuer string
	// Scheme is the security scheme the caller authenticated with
	// (BearerScheme, ...). An operation accepts a principal only through a
	// requirement naming this scheme.
	Scheme string
	// Scopes are what the caller was granted.
	Scopes []string
	// SessionID names the login the credentials belong to (the sid claim
	// of an access token), when there is one; logout revokes it.
	SessionID string
	// TokenID is the presented token's id (jti), when there is one.
	TokenID string
	// KeyID is the kid of the key that signed the presented token, when
	// there is one: a long-lived connection (a WebSocket) checks that the
	// key is still trusted, so revoking a key closes it.
	KeyID string
	// ExpiresAt is when the presented credentials expire (zero: unknown).
	ExpiresAt time.Time
	// IssuedAt is when the presented credentials were issued (the iat of
	// an access token, the start of a session; zero: unknown). A
	// revocation of every credential of the subject issued before some
	// time is checked against it, for example on a long-lived WebSocket.
	IssuedAt time.Time
}

// HasScope reports whether the principal was granted scope.
func (p *Principal) HasScope(scope string) bool {
	return p != nil && slices.Contains(p.Scopes, scope)
}

// errSessionWithAuthorization refuses a cookie session offered for a
// request that has an Authorization header.
var errSessionWithAuthorization = errors.New("fortapi: a request with an Authorization header cannot authenticate with a session cookie")

// Authenticator turns a request into a principal. It must not read the
// body. A request with an Authorization header (even an empty one or
// another scheme than bearer) must be authenticated by that header alone,
// its cookies ignored: the API refuses a SessionScheme principal for it
// (401 invalid_token), since the CSRF check did not look at its cookies. It returns ErrNoCredentials when the request has no credentials; any
// other error means the credentials are invalid (401 invalid_token), unless
// it is a huma.StatusError, whose status is used (for example 503 when the
// session store is down), with the headers of a huma.ErrorWithHeaders
// around it (the 503's Retry-After).
type Authenticator interface {
	Authenticate(r *http.Request) (*Principal, error)
}

// AuthenticatorFunc adapts a function to Authenticator.
type AuthenticatorFunc func(r *http.Request) (*Principal, error)

// Authenticate calls f(r).
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*Principal, error) { return f(r) }

// Scopes declares that an operation needs a bearer token granting every one
// of scopes. Use it as huma.Operation.Security.
func Scopes(scopes ...string) []map[string][]string {
	return []map[string][]string{{BearerScheme: slices.Clone(scopes)}}
}

// SessionScopes declares that an operation needs a cookie session granting
// every one of scopes (HTML pages). It needs Options.Session; bearer
// tokens are not accepted.
func SessionScopes(scopes ...string) []map[string][]string {
	return []map[string][]string{{SessionScheme: slices.Clone(scopes)}}
}

// Authenticated declares that an operation needs a valid bearer token and
// no particular scope (the OpenAPI requirement {"bearer": []}). It is what
// Scopes() with no scope gives; prefer naming the scopes an operation needs.
func Authenticated() []map[string][]string {
	return []map[string][]string{{BearerScheme: {}}}
}

// Public declares that anyone may call an operation. In the OpenAPI
// document it is the empty security requirement ({}), which says exactly
// that. Use it as huma.Operation.Security, alone: combined with other
// requirements (append(Public(), Scopes("x")...)) it makes them moot — the
// operation is public, its scopes are never checked and its handler gets
// no principal — so registering such an operation logs a warning naming
// it. It is a warning, not a refusal, because the outcome is the safe
// reading of a document that says "{} or scopes": anyone may call it.
func Public() []map[string][]string {
	return []map[string][]string{{}}
}

type principalKey struct{}

// PrincipalFrom returns the authenticated caller of the operation whose
// context ctx is. Handlers of protected operations always have one; public
// operations have none.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// isPublic reports whether the declared security contains the empty
// requirement.
func isPublic(sec []map[string][]string) bool {
	for _, alt := range sec {
		if len(alt) == 0 {
			return true
		}
	}
	return false
}

// checkDeclaration returns why an operation's declared security is not
// acceptable, or "".
func checkDeclaration(op *huma.Operation, schemes map[string]*huma.SecurityScheme) string {
	if len(op.Security) == 0 {
		return "declares no security: use fortapi.Scopes(...) or fortapi.Public()"
	}
	for _, alt := range op.Security {
		if len(alt) > 1 {
			return "combines several security schemes in one requirement, which fortapi does not enforce"
		}
		for scheme, scopes := range alt {
			if _, ok := schemes[scheme]; !ok {
				return "names the unknown security scheme " + strconv.Quote(scheme)
			}
			for _, s := range scopes {
				if !validScope(s) {
					return "declares the invalid scope " + strconv.Quote(s) + " (RFC 6749 §3.3: printable ASCII without space, quote or backslash)"
				}
			}
		}
	}
	return ""
}

// validScope reports whether s is an RFC 6749 scope-token: one or more of
// %x21 / %x23-5B / %x5D-7E. Scopes end up in WWW-Authenticate headers, so
// nothing else may pass.
func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// expandSecurity returns sec with, after each bearer requirement, the same
// requirement on OAuth2Scheme (when oauth2: a documented way to obtain the
// same tokens) and on SessionScheme (when session: a cookie session is a
// principal with the same scopes). The result is both documented and
// enforced.
func expandSecurity(sec []map[string][]string, oauth2, session bool) []map[string][]string {
	out := make([]map[string][]string, 0, 3*len(sec))
	for _, alt := range sec {
		out = append(out, alt)
		scopes, ok := alt[BearerScheme]
		if !ok || len(alt) != 1 {
			continue
		}
		if oauth2 {
			out = append(out, map[string][]string{OAuth2Scheme: slices.Clone(scopes)})
		}
		if session {
			out = append(out, map[string][]string{SessionScheme: slices.Clone(scopes)})
		}
	}
	return out
}

// authorize decides whether p may call an operation declaring sec. It
// returns the scopes to name in an insufficient_scope answer when p is
// authenticated through an accepted scheme but lacks scopes, and ok=false
// with nil scopes when no requirement accepts p's scheme.
func authorize(p *Principal, sec []map[string][]string) (ok bool, missing []string) {
	for _, alt := range sec {
		scopes, named := alt[p.Scheme]
		if !named || len(alt) != 1 {
			continue
		}
		if allGranted(p, scopes) {
			return true, nil
		}
		if missing == nil {
			missing = scopes
		}
	}
	return false, missing
}

// acceptedSchemes names the schemes the requirements of sec accept.
func acceptedSchemes(sec []map[string][]string) []string {
	var out []string
	for _, alt := range sec {
		for name := range alt {
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// bearerDescription documents the bearer scheme: where its tokens come
// from when the API documents a token URL.
func bearerDescription(o *OAuth2Password) string {
	if o != nil && o.TokenURL != "" {
		return "An access token from POST " + o.TokenURL + ", sent as `Authorization: Bearer <token>`."
	}
	return "An access token, sent as `Authorization: Bearer <token>`."
}

func allGranted(p *Principal, scopes []string) bool {
	for _, s := range scopes {
		if !p.HasScope(s) {
			return false
		}
	}
	return true
}

package fortapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// RegisterHandler registers an operation whose handler answers from the
// underlying http.ResponseWriter itself: a WebSocket upgrade, which
// hijacks the connection, or a stream. It is documented in the OpenAPI
// document and enforced exactly like an operation registered with
// huma.Register: deny by default (an operation declaring no security makes
// Handler fail), authentication and the declared scopes checked first,
// then the declared rate limits, then repeated query parameters refused
// (400) — all before h runs. Query parameters op does not declare (in
// op.Parameters, In "query") are refused too (422 "unknown query
// parameter", their value never echoed), so a handler sees no query
// parameter its OpenAPI entry does not name.
//
// h gets the request with the principal in its context (PrincipalFrom);
// it must not read a body. Responses op declares with a status of 400 or
// more and no content are documented as application/problem+json, like
// fortapi's own. Like huma.Register it panics without a method or a path.
func RegisterHandler(api *API, op huma.Operation, h http.Handler) {
	if op.Method == "" || op.Path == "" {
		panic("fortapi.RegisterHandler: the operation needs a method and a path")
	}
	if h == nil {
		panic("fortapi.RegisterHandler: nil handler")
	}
	if op.OperationID == "" {
		op.OperationID = huma.GenerateOperationID(op.Method, op.Path, &struct{}{})
	}
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	if len(op.Responses) == 0 {
		op.Responses[strconv.Itoa(http.StatusOK)] = &huma.Response{Description: http.StatusText(http.StatusOK)}
	}
	for code, resp := range op.Responses {
		if status, err := strconv.Atoi(code); err == nil && status >= 400 && resp != nil && resp.Content == nil {
			resp.Content = map[string]*huma.MediaType{"application/problem+json": {Schema: api.errModel}}
		}
	}
	declared := map[string]bool{}
	for _, p := range op.Parameters {
		if p != nil && p.In == "query" {
			declared[p.Name] = true
		}
	}
	if !op.Hidden {
		api.OpenAPI().AddOperation(&op)
	}
	// The guard adapter wraps the handler: declaration checks, the
	// authorization check and the rate limits, as for huma.Register.
	api.Adapter().Handle(&op, func(ctx huma.Context) {
		r, w := humago.Unwrap(ctx)
		if name, ok := undeclaredQuery(r.URL.RawQuery, declared); ok {
			_ = huma.WriteErr(api, ctx, http.StatusUnprocessableEntity, "validation failed",
				&huma.ErrorDetail{Location: "query." + name, Message: "unknown query parameter"})
			return
		}
		h.ServeHTTP(w, r.WithContext(ctx.Context()))
	})
}

// undeclaredQuery returns the first query parameter of raw that is not
// declared. A name that cannot be decoded is reported as it is written.
func undeclaredQuery(raw string, declared map[string]bool) (string, bool) {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return "(malformed)", true
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range q {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range names {
		if !declared[k] {
			return k, true
		}
	}
	return "", false
}

// ErrSchemeExists is returned by AddSecurityScheme for a name already in
// use by another scheme.
var ErrSchemeExists = errors.New("fortapi: the security scheme already exists")

// AddSecurityScheme adds a security scheme to the OpenAPI document
// (components.securitySchemes[name] = doc), so that operations may declare
// requirements naming it, and makes auth its authenticator.
//
// auth is consulted only for operations that declare name, only for
// requests without an Authorization header (those authenticate by it
// alone), and before Options.Authenticator: when it returns
// ErrNoCredentials (the request does not carry this scheme's credential)
// Options.Authenticator decides as usual; any other answer is final (an
// invalid credential is 401 invalid_token, not a fall-back to cookies).
// The principal it returns is taken with Scheme set to name, so it
// satisfies only requirements naming this scheme: declared equals
// enforced.
//
// Call it before registering the operations that name the scheme. The
// built-in schemes (BearerScheme, OAuth2Scheme, SessionScheme) cannot be
// replaced; adding the same name again with the same doc and the same
// pointer as auth is a no-op (wsfeed.Register does it for every feed
// sharing one ticket store).
func (a *API) AddSecurityScheme(name string, doc *huma.SecurityScheme, auth Authenticator) error {
	if !validScope(name) || doc == nil || auth == nil {
		return fmt.Errorf("fortapi: AddSecurityScheme(%q) needs a name, a document and an authenticator", name)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.handler != nil {
		return fmt.Errorf("fortapi: AddSecurityScheme(%q) after Handler", name)
	}
	schemes := a.OpenAPI().Components.SecuritySchemes
	if old, ok := a.schemes[name]; ok && sameAuthenticator(old, auth) && schemes[name] == doc {
		return nil
	}
	if _, ok := schemes[name]; ok || name == BearerScheme || name == OAuth2Scheme || name == SessionScheme {
		return fmt.Errorf("%w: %q", ErrSchemeExists, name)
	}
	if a.schemes == nil {
		a.schemes = map[string]Authenticator{}
	}
	schemes[name] = doc
	a.schemes[name] = auth
	return nil
}

// sameAuthenticator reports whether a and b are the same value, without
// panicking on uncomparable ones (an AuthenticatorFunc never equals
// anything).
func sameAuthenticator(a, b Authenticator) bool {
	t := reflect.TypeOf(a)
	return t == reflect.TypeOf(b) && t.Kind() == reflect.Pointer && a == b
}

// schemeAuthenticators returns the authenticators of the added schemes
// that sec names, in the order sec names them.
func (a *API) schemeAuthenticators(sec []map[string][]string) []namedAuthenticator {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []namedAuthenticator
	for _, alt := range sec {
		for name := range alt {
			if auth, ok := a.schemes[name]; ok && !slices.ContainsFunc(out, func(n namedAuthenticator) bool { return n.name == name }) {
				out = append(out, namedAuthenticator{name, auth})
			}
		}
	}
	return out
}

type namedAuthenticator struct {
	name string
	auth Authenticator
}

// authenticate finds the principal of r for an operation whose added
// schemes are extra: an added scheme's credential first, for requests
// without an Authorization header, then Options.Authenticator.
func (a *API) authenticate(r *http.Request, extra []namedAuthenticator) (*Principal, error) {
	if len(r.Header["Authorization"]) == 0 {
		for _, s := range extra {
			p, err := s.auth.Authenticate(r)
			if errors.Is(err, ErrNoCredentials) || err == nil && p == nil {
				continue
			}
			if err != nil {
				return nil, err
			}
			cp := *p
			cp.Scheme = s.name
			return &cp, nil
		}
	}
	if a.opts.Authenticator == nil {
		return nil, ErrNoCredentials
	}
	return a.opts.Authenticator.Authenticate(r)
}

package fortapi

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fortapi/fortapi/clientip"
	"github.com/fortapi/fortapi/csrf"
	"github.com/fortapi/fortapi/docsui"
	"github.com/fortapi/fortapi/metrics"
	"github.com/fortapi/fortapi/ratelimit"
	"github.com/fortapi/fortapi/sanitize"
	"github.com/fortapi/fortapi/secheader"
)

// huma matches JSON property names case-insensitively unless this
// process-wide switch is on; fortapi wants "NAME" to be an unknown property,
// not "name". Importing fortapi turns it on for every huma API in the
// process.
func init() { huma.ValidateStrictCasing = true }

// Fixed paths every fortapi API serves.
const (
	OpenAPIPath = "/openapi.json"
	DocsPath    = "/docs"
)

// DefaultMaxHeaderBytes is the default of Options.MaxHeaderBytes.
const DefaultMaxHeaderBytes = 32 << 10

// Options configure New. The zero value is safe: every field documents its
// default.
type Options struct {
	// Title and Version describe the API in its OpenAPI document
	// (defaults "API" and "0.0.0").
	Title, Version string
	// Description is the OpenAPI info.description (optional).
	Description string
	// Authenticator turns a request into a principal. Nil means nobody is
	// authenticated: every protected operation answers 401.
	Authenticator Authenticator
	// Logger receives the access log, errors and panics (default
	// slog.Default()).
	Logger *slog.Logger
	// MaxHeaderBytes caps the size of a request's header block (names and
	// values); larger requests answer 431 problem+json. Default 32 KiB.
	// NewServer sets the hard net/http limit to twice this value.
	MaxHeaderBytes int
	// Rand is the source of request ids (default crypto/rand).
	Rand io.Reader
	// Now is the clock of the access log (default time.Now).
	Now func() time.Time
	// DisableDocs turns off the /docs UI (the OpenAPI document stays).
	DisableDocs bool
	// DocsCSRFTokenURL, with CSRF, is the path of an operation answering
	// {"csrf_token": ...} (a public GET that calls CSRF.Ensure): the docs
	// UI fetches a token from it before each unsafe "Try it out" request,
	// which a browser holding cookies needs. Empty: the docs UI sends no
	// token. It must be an absolute path on this origin.
	DocsCSRFTokenURL string
	// OAuth2, when set, documents the OAuth2 password flow that issues the
	// bearer tokens (see OAuth2Scheme). It changes nothing in enforcement.
	OAuth2 *OAuth2Password
	// Session, when set, accepts cookie sessions (SessionScheme): the
	// Authenticator returns principals with Scheme SessionScheme for them,
	// every bearer requirement accepts them too, and SessionScopes
	// declarations become valid. Nil: no cookie is ever a credential.
	Session *SessionCookie
	// CSRF protects every unsafe request (not GET, HEAD or OPTIONS) that
	// a browser could forge, before routing: the cross-origin check, and
	// for requests with cookies the signed double-submit token, bound to
	// the session cookie (CSRFSession). A request with an Authorization
	// header authenticates by it alone (a session principal is refused for
	// it), so its cookies play no part: it needs no token, and only an
	// ambient Authorization (Basic, ...) gets the cross-origin check
	// (csrf.Protector.HeaderAuthHandler). Required with Session: Handler
	// refuses to start without it. Nil without Session: no check (a
	// bearer-only API has no ambient credentials).
	CSRF *csrf.Protector
	// Sanitizer applies the sanitize tags of request body types, after
	// the JSON body is decoded and before it is validated: a field tagged
	// sanitize:"rich" is sanitized HTML, sanitize:"strip" text with the
	// tags removed, both checked by the schema (minLength, maxLength,
	// pattern) as they will be stored; sanitize:"plain" marks plain text,
	// kept exactly as sent (escape it on output). Every spelling of a
	// member that encoding/json maps to a field is sanitized. The body
	// limit applies to the body as sent and to its sanitized form (413).
	// A bad tag makes Handler fail. Nil: a sanitize.New() of the API's own, built when the first
	// body type with tags is registered.
	Sanitizer *sanitize.Sanitizer
	// Headers sets the security headers on every response (secheader:
	// nosniff, frame denial, referrer and permissions policies, CSP,
	// HSTS over TLS, no-store for credentialed requests). Nil: secheader's
	// defaults. HTML pages get their nonce-based CSP from API.Headers().HTML.
	Headers *secheader.Headers
	// CORS lets the listed origins read answers cross-origin
	// (secheader.CORS, answering preflights before routing). Nil: no
	// cross-origin access at all.
	CORS *secheader.CORS

	// RateLimits is the family every rate limit of the API belongs to:
	// its store (memory, or Redis through ratelimit/redisstore), outage
	// policy, instance count and scale. Nil: an in-memory Set of the
	// API's own (exact within this process, scale 1, clock Now), created
	// when the first limit is declared. Limits declared on operations
	// (RateLimits, RateLimit) are enforced whatever this is. Give each API
	// a Set of its own: limit names are unique within a Set.
	RateLimits *ratelimit.Set
	// ClientIP finds the client address that per-IP limits count by.
	// Nil: the TCP peer, never a forwarding header (no trusted proxy).
	ClientIP *clientip.Resolver
	// GlobalLimit is a limit per client address on every request the
	// handler serves, checked before routing: operations, 404s, 405s,
	// /openapi.json and /docs alike (spec text such as "1200/minute";
	// policy name GlobalLimitName). Empty: no global limit. A bad spec
	// makes Handler fail, quoting it.
	GlobalLimit string

	// Metrics, when set, receives the request metrics (package metrics):
	// http_server_request_duration_seconds{operation,method,status_class}
	// and http_server_active_requests. Nil: none. A registration
	// conflict makes Handler fail.
	Metrics prometheus.Registerer
}

// API is a huma API whose operations are checked against their declared
// security. Register operations with huma.Register(api, ...), then call
// Handler.
type API struct {
	huma.API

	mux      *http.ServeMux
	cfg      huma.Config
	opts     Options
	log      *slog.Logger
	errModel *huma.Schema
	headers  *secheader.Headers
	ids      *idSource // request ids' randomness, from opts.Rand

	mu       sync.Mutex
	problems []string     // operations whose declaration is refused
	handler  http.Handler // built once by Handler
	built    bool         // Handler succeeded: no more operations
	// formPost are the paths of operations taking a form-encoded POST
	// (Options.OAuth2's token URL must be one).
	formPost map[string]bool
	rl       rateLimits // guarded by mu while operations register
	// schemes are the authenticators of AddSecurityScheme, by name.
	schemes map[string]Authenticator
	// httpMetrics (Options.Metrics) and the operation of each route
	// pattern, for its labels (httpmetrics.go); metrics is built by Handler.
	httpMetrics *metrics.HTTP
	opNames     map[string]string
	metrics     *httpMetrics
	// offers are the sanitizer's decodings of request bodies, for huma's
	// validation (bodyoffer.go).
	offers offerTable
	// fillPlans are the plans for filling sanitized body structs from an
	// offer, by the pointer type huma decodes into, made at registration;
	// nil for a type not filled so (structfill.go).
	fillPlans sync.Map
}

// New returns an API with fortapi's defaults. See the package
// documentation for what they are.
func New(opts Options) *API {
	if opts.Title == "" {
		opts.Title = "API"
	}
	if opts.Version == "" {
		opts.Version = "0.0.0"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Session != nil {
		sc := *opts.Session // the caller's value stays as it is
		if sc.Name == "" {
			sc.Name = DefaultSessionCookie
		}
		opts.Session = &sc
	}
	a := &API{mux: http.NewServeMux(), opts: opts, log: opts.Logger, headers: opts.Headers, ids: newIDSource(opts.Rand)}
	if a.headers == nil {
		a.headers, _ = secheader.New(secheader.Options{}) // nil on failure: Handler refuses to start
	}

	registry := huma.NewMapRegistry("#/components/schemas/", huma.DefaultSchemaNamer)
	cfg := huma.Config{
		OpenAPI: &huma.OpenAPI{
			OpenAPI: "3.1.0",
			Info:    &huma.Info{Title: opts.Title, Version: opts.Version, Description: opts.Description},
			Components: &huma.Components{
				Schemas: registry,
				SecuritySchemes: map[string]*huma.SecurityScheme{
					BearerScheme: {
						Type:         "http",
						Scheme:       "bearer",
						BearerFormat: "JWT",
						Description:  bearerDescription(opts.OAuth2),
					},
				},
			},
		},
		// fortapi serves the document and the docs itself (no CDN).
		OpenAPIPath:                  "",
		DocsPath:                     "",
		SchemasPath:                  "",
		Formats:                      map[string]huma.Format{"application/json": strictJSON, "json": strictJSON},
		DefaultFormat:                "application/json",
		RejectUnknownQueryParameters: true,
	}
	if o := opts.OAuth2; o != nil {
		cfg.Components.SecuritySchemes[OAuth2Scheme] = &huma.SecurityScheme{
			Type: "oauth2",
			Description: "OAuth2 password grant (RFC 6749 §4.3): POST `grant_type=password`, `username` and `password` to the token URL " +
				"as `application/x-www-form-urlencoded`; the answer's `access_token` is a bearer token.",
			Flows: &huma.OAuthFlows{Password: &huma.OAuthFlow{
				TokenURL: o.TokenURL,
				Scopes:   maps.Clone(o.Scopes),
			}},
		}
	}
	if o := opts.Session; o != nil {
		cfg.Components.SecuritySchemes[SessionScheme] = &huma.SecurityScheme{
			Type: "apiKey", In: "cookie", Name: o.Name,
			Description: "A session from the HTML login (POST /login), sent by the browser as the cookie " + o.Name +
				". Unsafe methods also need the CSRF token (X-CSRF-Token header or csrf_token form field).",
		}
	}
	cfg.Transformers = []huma.Transformer{a.transformError}
	a.cfg = cfg
	a.initRateLimits()
	if opts.Metrics != nil {
		var err error
		if a.httpMetrics, err = metrics.NewHTTP(opts.Metrics); err != nil {
			a.problems = append(a.problems, "Options.Metrics: "+err.Error())
		}
	}
	a.API = huma.NewAPI(cfg, &guardAdapter{inner: humago.NewAdapter(a.mux, ""), api: a})
	a.errModel = registry.Schema(reflect.TypeOf(huma.NewError(0, "")), true, "")
	return a
}

// Headers returns the security headers middleware the API's handler uses
// (Options.Headers or the default): pages call its HTML method for the
// nonce of their Content-Security-Policy.
func (a *API) Headers() *secheader.Headers { return a.headers }

// CSRF returns Options.CSRF, the protector the API's handler checks unsafe
// requests with (nil when the API has none): pages and a token endpoint
// mint their tokens with it, bound to CSRFSession.
func (a *API) CSRF() *csrf.Protector { return a.opts.CSRF }

// SessionCookie returns the name of the session cookie (Options.Session,
// defaulted), or "" when cookies are no credential.
func (a *API) SessionCookie() string {
	if a.opts.Session == nil {
		return ""
	}
	return a.opts.Session.Name
}

// CSRFSession is the session id CSRF tokens are bound to for r: the
// hex SHA-256 of the session cookie's value, or "" for a visitor without
// one. Pages mint tokens with Options.CSRF.Ensure(w, r, api.CSRFSession(r));
// after a login sets a new cookie, mint with CSRFSessionFor(cookie).
func (a *API) CSRFSession(r *http.Request) string {
	if a.opts.Session == nil {
		return ""
	}
	c, err := r.Cookie(a.opts.Session.Name)
	if err != nil {
		return ""
	}
	return CSRFSessionFor(c.Value)
}

// CSRFSessionFor is the session id CSRF tokens are bound to for the session
// cookie value (CSRFSession).
func CSRFSessionFor(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

func (a *API) csrfSession(r *http.Request) (string, bool) {
	id := a.CSRFSession(r)
	return id, id != ""
}

// Config returns the huma configuration; huma reads settings such as
// RejectUnknownQueryParameters through it.
func (a *API) Config() huma.Config { return a.cfg }

// ErrHandlerCalled is what a second call of API.Handler returns: the
// handler is built once, from the operations registered before it.
var ErrHandlerCalled = errors.New("fortapi: Handler was already called; build the handler once, after registering every operation")

// Handler returns the API's http.Handler with every middleware in place, or
// an error naming each operation whose security declaration is missing or
// invalid. Register every operation before calling it, and call it once:
// a second call returns ErrHandlerCalled, and registering an operation
// afterwards panics (as huma.Register does for other programming errors)
// instead of leaving a route that could only answer 403.
func (a *API) Handler() (http.Handler, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.built {
		return nil, ErrHandlerCalled
	}
	problems := slices.Sorted(slices.Values(a.problems))
	if a.headers == nil {
		problems = append(problems, "the default security headers cannot be built")
	}
	if a.opts.Session != nil && a.opts.Session.LoginURL != "" && !validLocalPath(a.opts.Session.LoginURL) {
		problems = append(problems, "Options.Session.LoginURL must be a path on this server starting with a single /")
	}
	if u := a.opts.DocsCSRFTokenURL; u != "" && (!validLocalPath(u) || strings.ContainsAny(u, "\"'<>`")) {
		problems = append(problems, "Options.DocsCSRFTokenURL must be a path on this server starting with a single /")
	}
	if a.opts.Session != nil && a.opts.CSRF == nil {
		problems = append(problems, "Options.Session makes cookies credentials, which needs Options.CSRF")
	}
	if o := a.opts.OAuth2; o != nil && validLocalPath(o.TokenURL) && !a.formPost[o.TokenURL] {
		problems = append(problems, "Options.OAuth2 documents the token URL "+strconv.Quote(o.TokenURL)+
			", but no operation takes a form-encoded POST there (fortapi.RegisterTokenEndpoint registers one)")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("fortapi: refusing to start, deny by default: %s", strings.Join(problems, "; "))
	}
	doc, err := a.OpenAPIJSON()
	if err != nil {
		return nil, err
	}
	a.mux.Handle("GET "+OpenAPIPath, openAPIHandler(doc))
	if !a.opts.DisableDocs {
		var opts []docsui.Option
		if a.opts.DocsCSRFTokenURL != "" {
			opts = append(opts, docsui.CSRFTokenURL(a.opts.DocsCSRFTokenURL))
		}
		ui := docsui.Handler(DocsPath, OpenAPIPath, opts...)
		a.mux.Handle(DocsPath, ui)
		a.mux.Handle(DocsPath+"/", ui)
	}
	a.metrics = a.buildMetrics()
	var next http.Handler = a.mux
	if a.opts.CSRF != nil {
		// authorize refuses a session principal for a request with an
		// Authorization header, so such a request's cookies are no
		// credential and the CSRF check may ignore them.
		next = a.opts.CSRF.HeaderAuthHandler(next, a.csrfSession)
	}
	if a.opts.CORS != nil {
		next = a.opts.CORS.Handler(next)
	}
	a.handler = &outer{a.headers.Handler(&frontDoor{api: a, next: next, limited: a.rl.global != nil || len(a.rl.named) > 0})}
	a.built = true
	return a.handler, nil
}

// outer is the handler Handler returns: a pointer, so that every call
// returns the same, comparable value.
type outer struct{ http.Handler }

// OpenAPIJSON returns the OpenAPI 3.1 document as JSON.
func (a *API) OpenAPIJSON() ([]byte, error) {
	doc, err := a.OpenAPI().MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("fortapi: encoding the OpenAPI document: %w", err)
	}
	return doc, nil
}

func openAPIHandler(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-cache")
		_, _ = w.Write(doc)
	})
}

// guardAdapter wraps the net/http adapter: it sees every operation,
// including hidden ones, records those whose security or rate-limit
// declaration is refused, documents the errors enforcement adds, and puts
// the authorization check and then the operation's rate limits in front of
// huma's handler so that they run before any input is decoded.
type guardAdapter struct {
	inner huma.Adapter
	api   *API
}

func (g *guardAdapter) ServeHTTP(w http.ResponseWriter, r *http.Request) { g.inner.ServeHTTP(w, r) }

func (g *guardAdapter) Handle(op *huma.Operation, handler func(huma.Context)) {
	a := g.api
	name := op.Method + " " + op.Path
	if op.OperationID != "" {
		name = op.OperationID + " (" + name + ")"
	}
	a.mu.Lock()
	built := a.built
	a.mu.Unlock()
	if built {
		panic("fortapi: operation " + name + " registered after API.Handler: register every operation before building the handler")
	}
	if why := checkDeclaration(op, a.OpenAPI().Components.SecuritySchemes); why != "" {
		a.mu.Lock()
		a.problems = append(a.problems, "operation "+name+" "+why)
		a.mu.Unlock()
	}
	public := isPublic(op.Security)
	if public && len(op.Security) > 1 {
		// {} makes every other requirement moot: the scopes are neither
		// checked nor is a principal available to the handler.
		a.log.Warn("fortapi: operation "+name+" combines Public() with other security requirements; "+
			"it is public and its scopes are not checked (declare one or the other)", slog.String("operation", name))
	}
	if op.Method == http.MethodPost && op.RequestBody != nil && op.RequestBody.Content["application/x-www-form-urlencoded"] != nil {
		a.mu.Lock()
		if a.formPost == nil {
			a.formPost = map[string]bool{}
		}
		a.formPost[op.Path] = true
		a.mu.Unlock()
	}
	a.mu.Lock()
	limits, why := a.declaredLimits(op, public, name)
	a.noteOperation(op, route(op))
	if why != "" {
		a.problems = append(a.problems, "operation "+name+" "+why)
	}
	a.mu.Unlock()
	a.documentErrors(op, public)
	a.documentRateLimits(op)
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[sensitiveKey] = sensitiveLocations(a.OpenAPI().Components.Schemas, op)
	hasBody := op.RequestBody != nil
	var sanType reflect.Type
	var san *sanitize.Sanitizer
	if t := bodyType(a.OpenAPI().Components.Schemas, op); t != nil {
		a.mu.Lock()
		s := a.sanitizerLocked()
		a.mu.Unlock()
		switch declares, err := s.Declares(t); {
		case err != nil:
			a.mu.Lock()
			a.problems = append(a.problems, "operation "+name+" "+errBadSanitizeTag.Error()+": "+err.Error())
			a.mu.Unlock()
		case declares:
			sanType, san = t, s
			a.fillable(t)
		}
	}
	maxBody := op.MaxBodyBytes
	repeatable := repeatableQuery(op)
	sec := expandSecurity(op.Security, a.opts.OAuth2 != nil, a.opts.Session != nil)
	op.Security = sec
	extra := a.schemeAuthenticators(sec)
	loginRedirect := ""
	if a.opts.Session != nil && a.opts.Session.LoginURL != "" && sessionOnly(sec) {
		loginRedirect = a.opts.Session.LoginURL
		if _, ok := op.Responses["303"]; !ok {
			op.Responses["303"] = &huma.Response{Description: "A browser without a valid session is sent to the login page",
				Headers: map[string]*huma.Param{"Location": {Schema: &huma.Schema{Type: "string"}}}}
		}
	}
	route := route(op)
	g.inner.Handle(route, func(ctx huma.Context) {
		var p *Principal
		if !public {
			var ok bool
			if p, ok = a.authorize(ctx, sec, extra, loginRedirect); !ok {
				return
			}
		}
		// The principal and the body watch share one allocation.
		ctx = opContext(ctx, p, san != nil)
		if len(limits) > 0 && !a.admit(ctx, limits) {
			return
		}
		if name, ok := repeatedQuery(ctx.URL().RawQuery, repeatable); ok {
			// huma would take the first value and drop the rest, while a
			// proxy or a WAF in front may have checked another one.
			detail, loc := repeatedQueryDetail(name)
			_ = huma.WriteErr(a, ctx, http.StatusBadRequest, detail, &huma.ErrorDetail{Location: loc, Message: "is repeated"})
			return
		}
		if hasBody && ctx.Header("Content-Type") == "" && requestHasBody(ctx) {
			_ = huma.WriteErr(a, ctx, http.StatusUnsupportedMediaType, "a request body needs Content-Type: application/json")
			return
		}
		// Reads through the body watch opContext installed.
		if san != nil && !sanitizeBody(a, ctx, sanType, san, maxBody) {
			_ = huma.WriteErr(a, ctx, http.StatusUnsupportedMediaType, "a request body needs Content-Type: application/json")
			return
		}
		if c := findBody(ctx); c != nil && c.san != nil {
			defer c.san.withdraw() // an offer huma did not take
		}
		handler(ctx)
	})
}

// route is the operation as registered on the mux: net/http's ServeMux
// treats a pattern ending in "/" as a whole subtree ("POST /items/" would
// also serve /items/anything), so "{$}" anchors it, and only the declared
// path is served.
func route(op *huma.Operation) *huma.Operation {
	if !strings.HasSuffix(op.Path, "/") {
		return op
	}
	cp := *op
	cp.Path += "{$}"
	return &cp
}

// StatusClientClosedRequest is the status recorded when the client went
// away before the handler finished (nginx's 499): the handler's failure
// (typically context.Canceled from the store) is not a server error.
const StatusClientClosedRequest = 499

func requestHasBody(ctx huma.Context) bool {
	r, _ := humago.Unwrap(ctx)
	return r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
}

// authorize authenticates the request and checks the declared security,
// and returns the principal. It writes the 401/403 answer itself and
// returns false when the call is refused.
//
// loginRedirect, when set, is where a browser that asks for HTML is sent
// (303) instead of a 401 (SessionCookie.LoginURL, on session-only
// operations).
func (a *API) authorize(ctx huma.Context, sec []map[string][]string, extra []namedAuthenticator, loginRedirect string) (*Principal, bool) {
	if len(sec) == 0 { // undeclared: Handler refuses to start, deny anyway
		_ = huma.WriteErr(a, ctx, http.StatusForbidden, "this operation declares no security and is denied")
		return nil, false
	}
	r, _ := humago.Unwrap(ctx)
	p, err := a.authenticate(r, extra)
	if err == nil && p == nil {
		err = ErrNoCredentials
	}
	if err == nil && p.Scheme == SessionScheme && len(r.Header["Authorization"]) > 0 {
		// A request with an Authorization header authenticates by it
		// alone: the CSRF check ignored its cookies, so a cookie session
		// must not be taken from it (an Authenticator that prefers the
		// cookie would otherwise let a forged request through).
		err = errSessionWithAuthorization
	}
	if err != nil {
		var se huma.StatusError
		switch {
		case loginRedirect != "" && !errors.As(err, &se) && wantsHTML(r):
			// A browser without a valid session, on a page: to the login,
			// which returns here once signed in (GET and HEAD only: a
			// form's target cannot be navigated back to).
			loc := loginRedirect
			if base, query, _ := strings.Cut(loc, "?"); (r.Method == http.MethodGet || r.Method == http.MethodHead) && !strings.Contains(loc, "#") {
				if q, err := url.ParseQuery(query); err == nil && !q.Has("next") {
					q.Set("next", r.URL.RequestURI())
					loc = base + "?" + q.Encode()
				}
			}
			ctx.SetHeader("Location", loc)
			ctx.SetHeader("Cache-Control", "no-store")
			ctx.SetStatus(http.StatusSeeOther)
		case errors.Is(err, ErrNoCredentials):
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="api"`)
			_ = huma.WriteErr(a, ctx, http.StatusUnauthorized, "authentication required")
		case errors.As(err, &se):
			detail := http.StatusText(se.GetStatus())
			if em, ok := se.(*huma.ErrorModel); ok && em.Detail != "" {
				detail = em.Detail // the authenticator's own explanation (a 403, a 503)
			}
			// The authenticator's headers (huma.ErrorWithHeaders): the
			// Retry-After of a 503 when its store is unavailable.
			var he huma.HeadersError
			if errors.As(err, &he) {
				for k, vs := range he.GetHeaders() {
					for _, v := range vs {
						ctx.AppendHeader(k, v)
					}
				}
			}
			_ = huma.WriteErr(a, ctx, se.GetStatus(), detail)
		default:
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="api", error="invalid_token"`)
			_ = huma.WriteErr(a, ctx, http.StatusUnauthorized, "the credentials are invalid or expired")
		}
		return nil, false
	}
	if p.Scheme == "" {
		// A programming error in the Authenticator, not the caller's: say
		// so in the log, where the developer looks, and answer 500.
		a.log.LogAttrs(r.Context(), slog.LevelError, "fortapi: the Authenticator returned a Principal with an empty Scheme; "+
			"set Principal.Scheme to the scheme the credentials belong to (fortapi.BearerScheme for bearer tokens; "+
			"fortapi.NewTokenAuthenticator does it)", slog.String("request_id", RequestID(r.Context())), slog.String("subject", p.Subject))
		_ = huma.WriteErr(a, ctx, http.StatusInternalServerError, "the authenticator returned a principal without a scheme")
		return nil, false
	}
	ok, missing := authorize(p, sec)
	if !ok {
		if missing == nil {
			accepted := acceptedSchemes(sec)
			a.log.LogAttrs(r.Context(), slog.LevelInfo, "credentials of a scheme this operation does not accept",
				slog.String("request_id", RequestID(r.Context())), slog.String("scheme", p.Scheme),
				slog.String("accepted", strings.Join(accepted, " ")))
			ctx.SetHeader("WWW-Authenticate", `Bearer realm="api"`)
			_ = huma.WriteErr(a, ctx, http.StatusUnauthorized, "this operation does not accept "+p.Scheme+" credentials; it accepts "+strings.Join(accepted, ", "))
			return nil, false
		}
		ctx.SetHeader("WWW-Authenticate", `Bearer realm="api", error="insufficient_scope", scope="`+strings.Join(missing, " ")+`"`)
		_ = huma.WriteErr(a, ctx, http.StatusForbidden, "insufficient scope: needs "+strings.Join(missing, " "))
		return nil, false
	}
	return p, true
}

// documentErrors adds to the operation's OpenAPI entry the error responses
// fortapi itself may send.
func (a *API) documentErrors(op *huma.Operation, public bool) {
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	// An operation's own answer for a status keeps its description and
	// content; the problem+json fortapi itself may send is added beside.
	add := func(status int, desc string) {
		if r := op.Responses[strconv.Itoa(status)]; r != nil && r.Description == http.StatusText(status) &&
			(status == http.StatusUnprocessableEntity || status == http.StatusInternalServerError) {
			r.Description = desc // huma's placeholder for its own validation and server errors
		}
		a.addProblemResponse(op, status, desc, nil)
	}
	if !public {
		add(http.StatusUnauthorized, "Unauthorized: no or invalid credentials (WWW-Authenticate: Bearer)")
		add(http.StatusForbidden, "Forbidden: a required scope is missing (error=\"insufficient_scope\")")
	}
	if op.RequestBody != nil {
		add(http.StatusBadRequest, "Bad Request: a query parameter is repeated, or the body cannot be read (not valid UTF-8 JSON, malformed chunked encoding)")
		add(http.StatusRequestEntityTooLarge, fmt.Sprintf("Content Too Large: the body exceeds %d bytes", op.MaxBodyBytes))
		add(http.StatusUnsupportedMediaType, "Unsupported Media Type: send application/json")
	} else {
		add(http.StatusBadRequest, "Bad Request: a query parameter is repeated")
	}
	add(http.StatusUnprocessableEntity, "Unprocessable Entity: the input failed validation (or names an unknown query parameter)")
	add(http.StatusInternalServerError, "Internal Server Error")
}

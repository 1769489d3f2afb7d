package httpapi

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"reflect"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/csrf"
	"github.com/fortapi/fortapi/sanitize"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/wsfeed"
)

// Register adds every operation of the reference server to api. What
// the API already owns (the client-address resolver, the CSRF protector
// and its session binding, the security headers) the handlers read from
// it. The HTML pages and GET /csrftoken/ are registered only when the API
// has a CSRF protector (fortapi.Options.CSRF).
//
// Every route of the reference server is declared in this file, in the
// register functions below (health, auth, items, users, feed, pages);
// their handlers live in the file of that name (the feed's in package
// wsfeed). GET /ws/items and POST /ws/ticket are registered only when
// Deps.Feed is set.
func Register(api *fortapi.API, d Deps) {
	d.api = api
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Rand == nil {
		d.Rand = rand.Reader
	}
	d.Limits = d.Limits.withDefaults()
	if d.Sanitizer == nil {
		d.Sanitizer = sanitize.New()
	}
	// API keys: X-API-Key reaches Auth.AuthenticateAPIKey on the
	// operations that declare the scheme; "Authorization: Bearer fak_..."
	// reaches the API's Authenticator (Auth.Authenticate), which returns
	// such principals with fortapi.APIKeyScheme too, refused wherever
	// undeclared.
	var keys fortapi.Authenticator = fortapi.AuthenticatorFunc(func(*http.Request) (*fortapi.Principal, error) {
		return nil, fortapi.ErrNoCredentials // no Auth: the document only
	})
	if d.Auth != nil {
		keys = fortapi.AuthenticatorFunc(d.Auth.AuthenticateAPIKey)
	}
	if err := api.AddAPIKeyScheme(keys); err != nil {
		panic(err) // registered twice: a programming error, like huma.Register's panics
	}
	if len(d.OIDCDiscovery) > 0 {
		if err := api.AddOIDCScheme(d.OIDCDiscovery...); err != nil {
			panic(err) // registered twice: a programming error
		}
	}
	registerHealth(api, d)
	registerAuth(api, d)
	registerItems(api, d)
	registerUsers(api, d)
	registerAPIKeys(api, d)
	registerFeed(api, d)
	if api.CSRF() != nil {
		registerPages(api, d)
	}
}

// storeRetryAfter is the Retry-After of a 503 answered because the store
// is unavailable (server.ErrUnavailable): the pool reconnects at the next
// request.
const storeRetryAfter = time.Second

// register is huma.Register for an operation that uses the store: an error
// matching server.ErrUnavailable (the store lost, restarting, read-only,
// timing out) is answered 503 with Retry-After, not 500, while the caller
// is still there (a caller that left gets fortapi's 499). The store's error
// goes to the log with the request id, not to the client.
func register[I, O any](api huma.API, op huma.Operation, h func(context.Context, *I) (*O, error)) {
	huma.Register(api, op, func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil && ctx.Err() == nil && errors.Is(err, server.ErrUnavailable) {
			return nil, withRetryAfter(huma.Error503ServiceUnavailable("the store is unavailable; retry later", err), storeRetryAfter)
		}
		return out, err
	})
}

type statusOutput struct {
	Body struct {
		Status string `json:"status" example:"ok"`
	}
}

func registerHealth(api huma.API, d Deps) {
	writable := &writeCheck{now: d.Now}
	if wc, ok := d.Store.(WriteChecker); ok {
		writable.store = wc
	}
	huma.Register(api, huma.Operation{
		OperationID: "healthz", Method: http.MethodGet, Path: "/healthz",
		Summary: "Liveness", Tags: []string{"health"}, Security: fortapi.Public(),
	}, func(ctx context.Context, _ *struct{}) (*statusOutput, error) {
		out := &statusOutput{}
		out.Body.Status = "ok"
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "readyz", Method: http.MethodGet, Path: "/readyz",
		Summary: "Readiness: the store answers and takes writes, the TLS certificate is valid",
		Description: "200 while the store answers and takes writes and the served TLS certificate (if the server terminates TLS) has not expired. " +
			"`certificate_not_after` is the served certificate's expiry. `warnings` lists what needs an operator without taking " +
			"the instance out of service: a certificate expiring within 14 days, certificate files that were refused (the previous " +
			"certificate is still served), an ACME certificate not obtained yet. 503, with the reason, when the store does not answer, " +
			"cannot write (a read-only database file or file system, a lost connection, a PostgreSQL standby), or the certificate has expired. With shared rate limits on Redis, an unreachable Redis is a warning, or 503 when the limits fail closed.",
		Tags: []string{"health"}, Security: fortapi.Public(),
		Errors: []int{http.StatusServiceUnavailable},
	}, func(ctx context.Context, _ *struct{}) (*readyOutput, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if d.Store == nil || d.Store.Ping(ctx) != nil {
			return nil, huma.Error503ServiceUnavailable("the store is not reachable")
		}
		if err := writable.check(ctx); err != nil {
			reason := "the store cannot write"
			var ue *server.UnwritableError
			if errors.As(err, &ue) {
				reason += ": " + ue.Reason
			}
			return nil, huma.Error503ServiceUnavailable(reason)
		}
		if d.Auth != nil {
			if err := d.Auth.PropagationHealth(); err != nil {
				// The details (host, since when) go to the log, not to
				// this public endpoint.
				return nil, huma.Error503ServiceUnavailable("revocations may not reach this instance in time: " + propagationReason(err))
			}
		}
		out := &readyOutput{}
		out.Body.Status = "ready"
		if d.Redis != nil {
			if err := d.Redis(ctx); err != nil {
				if d.RedisRequired {
					return nil, huma.Error503ServiceUnavailable("Redis (shared rate limits, failing closed) is not reachable")
				}
				out.Body.Warnings = append(out.Body.Warnings, "Redis is not reachable: rate limits are per instance until it answers")
			}
		}
		if d.CertExpiry != nil {
			notAfter, err := d.CertExpiry(ctx)
			if !notAfter.IsZero() {
				if !d.Now().Before(notAfter) {
					return nil, huma.Error503ServiceUnavailable("the TLS certificate expired at " + notAfter.UTC().Format(time.RFC3339))
				}
				t := notAfter.UTC()
				out.Body.CertificateNotAfter = &t
				if notAfter.Sub(d.Now()) < CertExpiryWarning {
					out.Body.Warnings = append(out.Body.Warnings, "the TLS certificate expires within 14 days, at "+t.Format(time.RFC3339))
				}
			}
			if err != nil {
				out.Body.Warnings = append(out.Body.Warnings, err.Error())
			}
		}
		return out, nil
	})
}

// propagationReason is the public reason of a PropagationHealth error:
// fixed words, never the store's address.
func propagationReason(err error) string {
	if errors.Is(err, authn.ErrPropagationDegraded) {
		return "revocation propagation degraded (the push feed or the revocation log is unreachable)"
	}
	return "revocation propagation unknown"
}

// WriteChecker is a store that can tell whether it takes writes
// (sqlite.Store and postgres.Store do): /readyz answers 503 while
// CheckWritable fails. The text shown is the Reason of a
// *server.UnwritableError, which names no path, host or credential (/readyz
// is public); any other error is shown as "the store cannot write".
type WriteChecker interface {
	CheckWritable(ctx context.Context) error
}

// writeCheckEvery is how long a write check's result is reused: /readyz is
// public, and each check is a write.
const writeCheckEvery = time.Second

// writeCheck runs the store's write check for /readyz, at most once per
// writeCheckEvery; callers in between get the last result.
type writeCheck struct {
	store WriteChecker // nil: the store cannot tell; assumed writable
	now   func() time.Time

	mu   sync.Mutex
	at   time.Time
	last error
}

func (w *writeCheck) check(ctx context.Context) error {
	if w.store == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if now := w.now(); w.at.IsZero() || now.Sub(w.at) >= writeCheckEvery || now.Before(w.at) {
		w.last = w.store.CheckWritable(ctx)
		if ctx.Err() == nil { // a caller that left proves nothing for the others
			w.at = w.now()
		} else {
			w.at = time.Time{}
		}
	}
	return w.last
}

// CertExpiryWarning is how long before the TLS certificate expires
// /readyz starts warning about it: 14 days (tlsconfig.ExpiryWarning).
const CertExpiryWarning = 14 * 24 * time.Hour

// CertExpiryFunc reports when the served TLS certificate expires (zero
// when unknown) and a problem with it, if any. The error's text is shown
// on /readyz, which is public: it must name no path or internal detail.
type CertExpiryFunc func(context.Context) (time.Time, error)

type readyOutput struct {
	Body struct {
		Status string `json:"status" example:"ready"`
		// CertificateNotAfter is when the served TLS certificate expires.
		CertificateNotAfter *time.Time `json:"certificate_not_after,omitempty" doc:"When the served TLS certificate expires (absent when this server does not terminate TLS)"`
		Warnings            []string   `json:"warnings,omitempty" doc:"Problems that need an operator but leave the server ready (certificate expiring within 14 days, refused certificate files, ACME certificate not obtained yet)"`
	}
}

func registerAuth(api huma.API, d Deps) {
	h := &authAPI{d}
	reg := api.OpenAPI().Components.Schemas
	tokenSchema := reg.Schema(reflect.TypeFor[TokenResponse](), true, "")
	errSchema := reg.Schema(reflect.TypeFor[OAuthError](), true, "")
	oauthResp := func(desc string, headers ...string) *huma.Response {
		r := &huma.Response{Description: desc,
			Content: map[string]*huma.MediaType{"application/json": {Schema: errSchema}}}
		if len(headers) > 0 {
			r.Headers = map[string]*huma.Param{}
			for _, h := range headers {
				r.Headers[h] = &huma.Param{Schema: &huma.Schema{Type: "string"}}
			}
		}
		return r
	}
	register(api, huma.Operation{
		OperationID: "token", Method: http.MethodPost, Path: "/token", Tags: []string{"auth"},
		Summary: "Log in or refresh: OAuth2 password and refresh_token grants",
		Description: "Form-encoded (RFC 6749 §4.3 and §6). `grant_type=password` with `username`, `password` and optionally " +
			"`scope` (space-separated, a subset of the role's scopes); or `grant_type=refresh_token` with `refresh_token` " +
			"(single use: the answer carries its successor; presenting a used one again after " +
			"10 seconds revokes the whole session) and optionally `scope`. A password grant may add `device_token`, the " +
			"device credential an earlier successful login to the same account returned: failed logins made without it " +
			"(from elsewhere) then never slow this one, only failures made with the same credential do, and five of those " +
			"make it worthless; a successful password grant returns a fresh `device_token`. Errors follow RFC 6749 §5.2 and " +
			"never say whether the username exists. After repeated failures an account must wait (429, Retry-After); a " +
			"saturated password hasher answers 503 with Retry-After.",
		Security:     fortapi.Public(),
		MaxBodyBytes: MaxTokenRequestBytes,
		Extensions:   d.Limits.login(),
		Responses: map[string]*huma.Response{
			"200": {Description: "Tokens issued", Content: map[string]*huma.MediaType{"application/json": {Schema: tokenSchema}}},
			"400": oauthResp("invalid_request, invalid_grant, unsupported_grant_type or invalid_scope"),
			"429": oauthResp("Too many failed logins for this account (error temporarily_unavailable)", "Retry-After"),
			"503": oauthResp("Too many logins in progress, or the failed-login limit cannot be checked (error temporarily_unavailable)", "Retry-After"),
		},
	}, h.token)
	// Document the form fields instead of huma's opaque binary body.
	if op := api.OpenAPI().Paths["/token"].Post; op != nil && op.RequestBody != nil {
		op.RequestBody.Required = true
		op.RequestBody.Content["application/x-www-form-urlencoded"] = &huma.MediaType{Schema: &huma.Schema{
			Type:     "object",
			Required: []string{"grant_type"},
			Properties: map[string]*huma.Schema{
				"grant_type":    {Type: "string", Enum: []any{"password", "refresh_token"}},
				"username":      {Type: "string", MaxLength: ptrInt(authn.MaxUsernameBytes)},
				"password":      {Type: "string", Format: "password", WriteOnly: true},
				"refresh_token": {Type: "string", WriteOnly: true},
				"scope":         {Type: "string", Description: "Space-separated scopes to narrow the grant."},
				"device_token": {Type: "string", WriteOnly: true, Description: "Password grant, optional: the device_token " +
					"of an earlier successful login to the same account. An invalid, expired or foreign one is ignored."},
			},
		}}
	}

	register(api, huma.Operation{
		OperationID: "logout", Method: http.MethodPost, Path: "/logout", Tags: []string{"auth"},
		Summary: "Log out: revoke this session's refresh tokens and access tokens",
		Description: "A cookie session is ended and its cookie cleared; from an HTML form (with its csrf_token field) " +
			"the answer is 303 to /login.",
		Security: fortapi.Authenticated(), DefaultStatus: http.StatusNoContent,
		Responses: map[string]*huma.Response{
			"204": {Description: "Logged out"},
			"303": {Description: "Logged out from an HTML form", Headers: map[string]*huma.Param{"Location": {Schema: &huma.Schema{Type: "string"}}}},
		},
		Extensions: d.Limits.writes(),
	}, h.logout)

	register(api, huma.Operation{
		OperationID: "protected", Method: http.MethodGet, Path: "/protected", Tags: []string{"auth"},
		Summary:  "A protected resource: names the caller",
		Security: d.external(fortapi.WithAPIKey(fortapi.Authenticated())), Extensions: d.Limits.reads(),
	}, h.protected)

	register(api, huma.Operation{
		OperationID: "me", Method: http.MethodGet, Path: "/users/me", Tags: []string{"users"},
		Summary:  "The caller's profile",
		Security: d.external(fortapi.Authenticated()),
		Errors:   []int{http.StatusNotFound}, Extensions: d.Limits.reads(),
	}, h.me)

	register(api, huma.Operation{
		OperationID: "change-password", Method: http.MethodPut, Path: "/users/me/password", Tags: []string{"users"},
		Summary:     "Change the caller's password",
		Description: "Needs the current password. Every session and access token of the user is revoked, this one included: log in again.",
		Security:    fortapi.Authenticated(), DefaultStatus: http.StatusNoContent,
		Errors: []int{http.StatusTooManyRequests, http.StatusServiceUnavailable}, Extensions: d.Limits.writes(),
	}, h.changePassword)

	register(api, huma.Operation{
		OperationID: "jwks", Method: http.MethodGet, Path: "/.well-known/jwks.json", Tags: []string{"auth"},
		Summary:     "Public keys that verify access tokens (RFC 7517)",
		Description: "The next, active and retiring keys. HS256 keys are secret and never listed.",
		Security:    fortapi.Public(),
		Responses: map[string]*huma.Response{"200": {Description: "JWK Set",
			Content: map[string]*huma.MediaType{"application/jwk-set+json": {Schema: &huma.Schema{Type: "object", Required: []string{"keys"},
				Properties: map[string]*huma.Schema{"keys": {Type: "array", Items: &huma.Schema{Type: "object"}}}}}}}},
	}, h.jwks)

	register(api, huma.Operation{
		OperationID: "rotate-keys", Method: http.MethodPost, Path: "/admin/keys/rotate", Tags: []string{"admin"},
		Summary:     "Rotate the signing key now",
		Description: "The next key (already published) starts signing; the current one keeps verifying until its tokens expire. Nobody is logged out.",
		Security:    fortapi.Scopes(server.ScopeKeysAdmin), Extensions: d.Limits.writes(),
	}, h.rotateKeys)
}

func registerItems(api huma.API, d Deps) {
	h := &items{Deps: d}
	if hs, ok := d.Store.(server.ItemCommitHooks); ok && d.Events != nil {
		h.hooks = hs
	}
	tags := []string{"items"}
	register(api, huma.Operation{
		OperationID: "create-item", Method: http.MethodPost, Path: "/items/",
		Summary: "Create an item", Tags: tags, DefaultStatus: http.StatusCreated,
		Security: d.external(fortapi.WithAPIKey(fortapi.Scopes(ScopeItemsWrite))), Extensions: d.Limits.writes(),
	}, h.create)
	register(api, huma.Operation{
		OperationID: "list-items", Method: http.MethodGet, Path: "/items/",
		Summary: "List the caller's items", Description: "Administrators see every item. Pages are ordered by id.",
		Tags: tags, Security: d.external(fortapi.WithAPIKey(fortapi.Scopes(ScopeItemsRead))), Extensions: ownerOnly(d.Limits.reads()),
	}, h.list)
	register(api, huma.Operation{
		OperationID: "get-item", Method: http.MethodGet, Path: "/items/{id}",
		Summary: "Get an item", Description: "Another user's item answers 404, exactly like a missing one.",
		Tags: tags, Security: d.external(fortapi.WithAPIKey(fortapi.Scopes(ScopeItemsRead))), Errors: []int{http.StatusNotFound},
		Extensions: ownerOnly(d.Limits.reads()),
	}, h.get)
	register(api, huma.Operation{
		OperationID: "update-item", Method: http.MethodPut, Path: "/items/{id}",
		Summary: "Replace an item's fields", Tags: tags, Security: d.external(fortapi.WithAPIKey(fortapi.Scopes(ScopeItemsWrite))),
		Errors: []int{http.StatusNotFound}, Extensions: ownerOnly(d.Limits.writes()),
	}, h.update)
	register(api, huma.Operation{
		OperationID: "delete-item", Method: http.MethodDelete, Path: "/items/{id}",
		Summary: "Delete an item", Tags: tags, DefaultStatus: http.StatusNoContent,
		Security: d.external(fortapi.WithAPIKey(fortapi.Scopes(ScopeItemsWrite))), Errors: []int{http.StatusNotFound},
		Extensions: ownerOnly(d.Limits.writes()),
	}, h.delete)
}

// registerFeed declares the WebSocket feed of item events (DESIGN.md §4):
// GET /ws/items, for a bearer token, a cookie session or a single-use
// ticket granting items:read, and POST /ws/ticket, which issues tickets.
// wsfeed enforces the rest before the upgrade (the Origin of cookie and
// ticket upgrades, the connection caps) and closes a socket whose
// credentials are revoked or expire (4401).
func registerFeed(api *fortapi.API, d Deps) {
	if d.Feed == nil {
		return
	}
	tags := []string{"items"}
	if err := wsfeed.Register(api, huma.Operation{
		OperationID: "item-feed", Path: "/ws/items", Tags: tags,
		Summary: "The caller's item events, live (WebSocket)",
		Description: "JSON text messages `{\"type\": \"item.created\"|\"item.updated\"|\"item.deleted\", \"id\": ..., \"item\": {...}}` " +
			"for every item of the caller created, replaced or deleted after the upgrade; `item` is the item as GET /items/{id} " +
			"returns it, absent for a deletion. Administrators (users:admin) receive every user's events. Authenticate with " +
			"`Authorization: Bearer`, the session cookie, or a ticket from POST /ws/ticket; never put a token in the URL.",
		Security: wsfeed.Scopes(ScopeItemsRead), Extensions: d.Limits.reads(),
	}, d.Feed); err != nil {
		panic(err) // the feed and its tickets disagree: a programming error, like huma.Register's panics
	}
	if d.Tickets != nil {
		wsfeed.RegisterTickets(api, huma.Operation{
			OperationID: "ws-ticket", Path: "/ws/ticket", Tags: tags,
			Security: fortapi.Authenticated(), Extensions: d.Limits.writes(),
		}, d.Tickets)
	}
}

func registerUsers(api huma.API, d Deps) {
	h := &usersAPI{d}
	tags := []string{"admin"}
	admin := fortapi.Scopes(server.ScopeUsersAdmin)
	register(api, huma.Operation{
		OperationID: "create-user", Method: http.MethodPost, Path: "/users", Tags: tags,
		Summary: "Create a user", DefaultStatus: http.StatusCreated, Security: admin,
		Errors:     []int{http.StatusConflict, http.StatusServiceUnavailable},
		Extensions: d.Limits.writes(),
	}, h.create)
	register(api, huma.Operation{
		OperationID: "list-users", Method: http.MethodGet, Path: "/users", Tags: tags,
		Summary: "List users", Description: "Pages are ordered by id.", Security: admin,
		Extensions: d.Limits.reads(),
	}, h.list)
	register(api, huma.Operation{
		OperationID: "update-user", Method: http.MethodPatch, Path: "/users/{id}", Tags: tags,
		Summary: "Change a user's role or disable a user",
		Description: "Every session and access token of the user is revoked at once, on every instance within a second, " +
			"whatever changed. The last enabled administrator cannot be demoted or disabled (409).",
		Security: admin, Errors: []int{http.StatusNotFound, http.StatusConflict},
		Extensions: d.Limits.writes(),
	}, h.patch)
	register(api, huma.Operation{
		OperationID: "audit", Method: http.MethodGet, Path: "/admin/audit", Tags: tags,
		Summary: "Security events, newest first",
		Description: "Logins, failures, throttling, refresh-token reuse, logouts, password, role and key changes. " +
			"Filter by type and by user id; page with next_cursor. Events never hold a password or a token.",
		Security: admin, Extensions: d.Limits.reads(),
	}, h.audit)
}

// registerAPIKeys declares the API key routes (DESIGN.md §4). None of
// them accepts an API key (nor do password change, logout or user
// administration): a stolen key cannot mint more keys, keep itself alive
// or escalate. Keys are accepted only where routes declare
// fortapi.WithAPIKey: the items API and GET /protected.
func registerAPIKeys(api huma.API, d Deps) {
	h := &apiKeysAPI{d}
	tags := []string{"users"}
	register(api, huma.Operation{
		OperationID: "create-api-key", Method: http.MethodPost, Path: "/users/me/api-keys", Tags: tags,
		Summary: "Create an API key (shown once)",
		Description: "The key (fak_<id>_<secret><checksum>) is in this answer only: only its hash is stored. Its scopes must be " +
			"a subset of the caller's (403 names the one that is not). It works until it is revoked or expires, or its owner " +
			"is disabled, changes role or password. Send it as X-API-Key or Authorization: Bearer, never in a URL (400).",
		DefaultStatus: http.StatusCreated, Security: fortapi.Authenticated(),
		Errors: []int{http.StatusConflict}, Extensions: d.Limits.writes(),
	}, h.create)
	register(api, huma.Operation{
		OperationID: "list-api-keys", Method: http.MethodGet, Path: "/users/me/api-keys", Tags: tags,
		Summary: "The caller's API keys (never the keys themselves)", Security: fortapi.Authenticated(),
		Extensions: d.Limits.reads(),
	}, h.listMine)
	register(api, huma.Operation{
		OperationID: "revoke-api-key", Method: http.MethodDelete, Path: "/users/me/api-keys/{key_id}", Tags: tags,
		Summary: "Revoke one of the caller's API keys", Description: "Refused on every instance from the next request.",
		DefaultStatus: http.StatusNoContent, Security: fortapi.Authenticated(),
		Errors: []int{http.StatusNotFound}, Extensions: d.Limits.writes(),
	}, h.revokeMine)
	admin := fortapi.Scopes(server.ScopeUsersAdmin)
	register(api, huma.Operation{
		OperationID: "list-user-api-keys", Method: http.MethodGet, Path: "/users/{id}/api-keys", Tags: []string{"admin"},
		Summary: "A user's API keys (never the keys themselves)", Security: admin,
		Errors: []int{http.StatusNotFound}, Extensions: d.Limits.reads(),
	}, h.listUser)
	register(api, huma.Operation{
		OperationID: "revoke-user-api-key", Method: http.MethodDelete, Path: "/users/{id}/api-keys/{key_id}", Tags: []string{"admin"},
		Summary: "Revoke a user's API key", Description: "Refused on every instance from the next request.",
		DefaultStatus: http.StatusNoContent, Security: admin,
		Errors: []int{http.StatusNotFound}, Extensions: d.Limits.writes(),
	}, h.revokeUser)
}

func registerPages(api huma.API, d Deps) {
	h := &pagesAPI{Deps: d, tmpl: parsePages()}
	tags := []string{"pages"}
	register(api, huma.Operation{
		OperationID: "login-page", Method: http.MethodGet, Path: "/login", Tags: tags,
		Summary: "The HTML sign-in form (or, signed in, the user's items)", Security: fortapi.Public(),
		Description: "With `next`, a path on this server, the form returns there once signed in (and a browser already " +
			"signed in goes there at once, 303). Pages that need a session send a browser without one here with `next` set.",
		Responses: map[string]*huma.Response{
			"200": htmlResponse("The page"),
			"303": {Description: "Signed in already: to the page `next` names", Headers: map[string]*huma.Param{
				"Location": {Schema: &huma.Schema{Type: "string"}}}},
		},
	}, h.getLogin)
	register(api, huma.Operation{
		OperationID: "login-submit", Method: http.MethodPost, Path: "/login", Tags: tags,
		Summary: "Sign in from the HTML form: starts a cookie session",
		Description: "Form-encoded `username`, `password` and `csrf_token` (from the form, bound to the `__Host-csrf` cookie; " +
			"needed even without a session: login CSRF). The same checks as POST /token; the `__Host-device` cookie, when " +
			"the browser has one, is the login's device credential (POST /token's device_token). An optional `next` field names the " +
			"page to return to (a path on this server; anything else is ignored). Success: 303 to that page, else to /login, with the " +
			"`__Host-session` cookie (Secure, HttpOnly, SameSite=Lax), a fresh `__Host-device` cookie (Secure, HttpOnly, " +
			"SameSite=Strict, a year) and a renewed CSRF token. Failures re-render the form.",
		Security: fortapi.Public(), Extensions: d.Limits.login(),
		Responses: map[string]*huma.Response{
			"303": {Description: "Signed in; the session cookie is set", Headers: map[string]*huma.Param{
				"Location": {Schema: &huma.Schema{Type: "string"}}, "Set-Cookie": {Schema: &huma.Schema{Type: "string"}}}},
			"400": htmlResponse("Invalid username or password, or an unreadable form"),
			"403": htmlResponse("The CSRF token is missing or invalid"),
			"413": htmlResponse("The form is too large"),
			"429": htmlResponse("Too many failed sign-ins for this account (Retry-After)"),
			"503": htmlResponse("Too many sign-ins in progress (Retry-After)"),
		},
	}, h.postLogin)
	if op := api.OpenAPI().Paths["/login"].Post; op != nil {
		op.RequestBody = &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/x-www-form-urlencoded": {Schema: &huma.Schema{
				Type: "object", Required: []string{"username", "password", csrf.FieldName},
				Properties: map[string]*huma.Schema{
					"username":     {Type: "string", MaxLength: ptrInt(authn.MaxUsernameBytes)},
					"password":     {Type: "string", Format: "password", WriteOnly: true},
					NextParam:      {Type: "string", Description: "The page to return to: a path on this server, else ignored."},
					csrf.FieldName: {Type: "string", WriteOnly: true},
				},
			}},
		}}
	}
	register(api, huma.Operation{
		OperationID: "item-page", Method: http.MethodGet, Path: "/items/{id}/view", Tags: tags,
		Summary:     "An item as an HTML page",
		Description: "For the signed-in browser (cookie session). The description is shown as sanitized HTML; another user's item answers 404.",
		Security:    fortapi.SessionScopes(ScopeItemsRead), Errors: []int{http.StatusNotFound},
		Extensions: ownerOnly(d.Limits.reads()),
		Responses:  map[string]*huma.Response{"200": htmlResponse("The page")},
	}, h.view)
	register(api, huma.Operation{
		OperationID: "csrf-token", Method: http.MethodGet, Path: "/csrftoken/", Tags: []string{"auth"},
		Summary: "A CSRF token for cookie-authenticated requests",
		Description: "Sets the `__Host-csrf` cookie and returns the same token, bound to the caller's session cookie (or to no " +
			"session). Send it in the X-CSRF-Token header with every unsafe request that carries cookies.",
		Security: fortapi.Public(),
	}, h.csrfToken)
}

// external returns sec declaring fortapi.OIDCScheme beside each bearer
// requirement when external identity providers are configured
// (Deps.OIDCDiscovery), sec unchanged otherwise. Only reads of the
// caller's identity and the items API accept external tokens: account
// changes, API keys, logout, tickets and administration do not.
func (d Deps) external(sec []map[string][]string) []map[string][]string {
	if len(d.OIDCDiscovery) == 0 {
		return sec
	}
	return fortapi.WithOIDC(sec)
}

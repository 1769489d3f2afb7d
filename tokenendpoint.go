package fortapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/fortapi/fortapi/internal/oauthform"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/token"
)

// Defaults of TokenEndpoint.
const (
	DefaultTokenPath      = "/token"
	DefaultTokenRateLimit = "10/minute"
	// MaxTokenRequestBytes caps a token request's body.
	MaxTokenRequestBytes = 8 << 10
)

// ErrUnknownUser is what TokenEndpoint.UserByName and UserBySubject return
// for a user that does not exist.
var ErrUnknownUser = errors.New("fortapi: unknown user")

// TokenUser is a user as a TokenEndpoint checks it.
type TokenUser struct {
	// Subject is the user's stable id: the sub of the access tokens.
	Subject string
	// PasswordHash is the user's password hash (password.Hasher.Hash:
	// argon2id, or bcrypt to be re-hashed).
	PasswordHash string
	// Scopes are the scopes the user may be granted.
	Scopes []string
	// Disabled users cannot log in nor refresh (invalid_grant).
	Disabled bool
}

// RefreshStore issues and redeems refresh tokens for a TokenEndpoint.
// token.MemoryRefresh implements it (one process); a server with several
// instances implements it on its database. RedeemRefresh must consume the
// token (single use) and return an error wrapping token.ErrInvalidRefresh
// for any token it refuses; other errors answer 500.
type RefreshStore interface {
	IssueRefresh(ctx context.Context, g token.Grant) (string, error)
	RedeemRefresh(ctx context.Context, refreshToken string) (token.Grant, error)
}

// TokenEndpoint configures RegisterTokenEndpoint: an OAuth2 token endpoint
// (RFC 6749 §3.2) for the password grant (§4.3) and, with Refresh, the
// refresh_token grant (§6), answering as §5.1 and §5.2 say.
type TokenEndpoint struct {
	// Path is where the endpoint is served (default DefaultTokenPath,
	// "/token"). Options.OAuth2.TokenURL documents it for docs UIs.
	Path string
	// Tokens issues the access tokens (required).
	Tokens *token.Service
	// Hasher checks passwords (required). Its bound on concurrent hashes
	// is the endpoint's: a saturated hasher answers 503 with Retry-After.
	Hasher *password.Hasher
	// UserByName finds a user by the username as sent (required). It
	// returns ErrUnknownUser (possibly wrapped) for an unknown name; the
	// endpoint then spends a dummy password verification, so the answer
	// and its timing are those of a wrong password.
	UserByName func(ctx context.Context, username string) (TokenUser, error)
	// Refresh, when set, issues a refresh token with each login and
	// accepts grant_type=refresh_token; UserBySubject is then required
	// too: a refresh re-checks that the user exists, is enabled and still
	// has the scopes. Nil: no refresh tokens (log in again when the
	// access token expires).
	Refresh       RefreshStore
	UserBySubject func(ctx context.Context, subject string) (TokenUser, error)
	// RateLimit limits the endpoint per client address, whatever the
	// grant and outcome (default DefaultTokenRateLimit, "10/minute").
	RateLimit string
	// Rand is the source of session ids (default crypto/rand).
	Rand io.Reader
	// Logger receives malformed stored hashes and store errors (default
	// the API's logger).
	Logger *slog.Logger
}

// TokenResponse is a successful token answer (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken  string `json:"access_token" doc:"A JWT access token (RFC 9068), for Authorization: Bearer."`
	TokenType    string `json:"token_type" enum:"bearer"`
	ExpiresIn    int    `json:"expires_in" doc:"Seconds until the access token expires."`
	RefreshToken string `json:"refresh_token,omitempty" doc:"Single use: each refresh returns a new one."`
	Scope        string `json:"scope" doc:"The granted scopes, space-separated."`
}

// OAuthError is an error answer of a token endpoint (RFC 6749 §5.2).
type OAuthError struct {
	Error            string `json:"error" enum:"invalid_request,invalid_grant,unsupported_grant_type,invalid_scope,temporarily_unavailable"`
	ErrorDescription string `json:"error_description,omitempty"`
}

type tokenEndpointInput struct {
	RawBody []byte `contentType:"application/x-www-form-urlencoded"`

	contentType string
}

// Resolve keeps the Content-Type, which the handler checks itself.
func (in *tokenEndpointInput) Resolve(ctx huma.Context) []error {
	in.contentType = ctx.Header("Content-Type")
	return nil
}

type tokenEndpointOutput struct {
	Status       int
	CacheControl string `header:"Cache-Control"`
	Pragma       string `header:"Pragma"`
	RetryAfter   string `header:"Retry-After"`
	Body         any
}

// RegisterTokenEndpoint registers ep's token endpoint on api: a public
// POST taking application/x-www-form-urlencoded bodies (the one kind of
// body fortapi accepts besides JSON, and only here), at most
// MaxTokenRequestBytes, limited per client address.
//
// The password grant takes username, password and optionally scope (a
// space-separated subset of the user's scopes; absent: all of them), and
// answers an access token, its lifetime, the granted scopes and, with
// Refresh, a refresh token. The refresh_token grant takes refresh_token and
// optionally scope (a subset of the original grant; scopes the user has
// lost since the login are dropped). A refresh token is consumed by any
// refresh that gets past its own check, also one then refused for its
// scope or a disabled user: ask for the scopes you had, or log in again.
// Answers carry Cache-Control: no-store.
//
// What it defends against:
//
//   - User enumeration: an unknown user costs a dummy verification of the
//     password (password.Hasher.VerifyDummy), the same work as a wrong
//     password, and gets the same invalid_grant; so does a disabled user.
//   - Password guessing and CPU exhaustion: the per-address rate limit,
//     and the hasher's bound on concurrent hashes: beyond it the answer is
//     503 temporarily_unavailable with Retry-After, never a queue that
//     grows.
//   - Ambiguous input: a parameter given twice, bad percent-encoding or
//     another Content-Type is invalid_request; unknown grant types are
//     unsupported_grant_type. No error says which check failed.
//   - Cross-site request forgery: a form-encoded POST is a "simple"
//     request that any site can make a browser send. The endpoint neither
//     reads nor sets cookies: its credentials are in the body, and its
//     answer goes to the page that sent it, which another site cannot
//     read, so a forged request gains nothing. Keep it that way: do not
//     add a cookie to its answers (a cookie-setting login is an HTML form
//     behind the CSRF token of Options.CSRF). With Options.CSRF set, the
//     API's cross-origin check applies to it as to every unsafe request.
//   - Refresh-token theft: with token.MemoryRefresh, refresh tokens are
//     single use and a reused one ends its session.
//
// It also documents the endpoint in the bearer scheme's description. It
// returns an error for a missing Tokens, Hasher or UserByName, a Refresh
// without UserBySubject, or a bad path or rate limit.
func RegisterTokenEndpoint(api *API, ep TokenEndpoint) error {
	if ep.Tokens == nil || ep.Hasher == nil || ep.UserByName == nil {
		return errors.New("fortapi: TokenEndpoint needs Tokens, Hasher and UserByName")
	}
	if ep.Refresh != nil && ep.UserBySubject == nil {
		return errors.New("fortapi: TokenEndpoint.Refresh needs UserBySubject, to re-check the user at each refresh")
	}
	if ep.Path == "" {
		ep.Path = DefaultTokenPath
	}
	if !validLocalPath(ep.Path) {
		return fmt.Errorf("fortapi: TokenEndpoint.Path %q must be a path starting with a single /", ep.Path)
	}
	if ep.RateLimit == "" {
		ep.RateLimit = DefaultTokenRateLimit
	}
	if ep.Rand == nil {
		ep.Rand = rand.Reader
	}
	if ep.Logger == nil {
		ep.Logger = api.log
	}
	h := &tokenEndpoint{ep: ep}
	reg := api.OpenAPI().Components.Schemas
	okSchema := reg.Schema(reflect.TypeFor[TokenResponse](), true, "")
	errSchema := reg.Schema(reflect.TypeFor[OAuthError](), true, "")
	oauthResp := func(desc string, retry bool) *huma.Response {
		r := &huma.Response{Description: desc, Content: map[string]*huma.MediaType{"application/json": {Schema: errSchema}}}
		if retry {
			r.Headers = map[string]*huma.Param{"Retry-After": {Schema: &huma.Schema{Type: "string"}}}
		}
		return r
	}
	grants := "`grant_type=password` with `username`, `password` and optionally `scope` (space-separated, a subset of the user's scopes)"
	if ep.Refresh != nil {
		grants += "; or `grant_type=refresh_token` with `refresh_token` (single use: the answer carries its successor) and optionally `scope`"
	}
	var regErr error
	func() {
		defer func() {
			if v := recover(); v != nil {
				regErr = fmt.Errorf("fortapi: registering the token endpoint: %v", v)
			}
		}()
		huma.Register(api, huma.Operation{
			OperationID: "token", Method: http.MethodPost, Path: ep.Path, Tags: []string{"auth"},
			Summary: "Log in: OAuth2 token endpoint",
			Description: "Form-encoded (`application/x-www-form-urlencoded`, RFC 6749 §4.3 and §6): " + grants +
				". Errors follow RFC 6749 §5.2 and never say whether the username exists; a saturated password hasher answers " +
				"503 with Retry-After. No cookie is read or set.",
			Security:     Public(),
			MaxBodyBytes: MaxTokenRequestBytes,
			Extensions:   RateLimits(PerIP("token", ep.RateLimit)),
			Responses: map[string]*huma.Response{
				"200": {Description: "Tokens issued", Content: map[string]*huma.MediaType{"application/json": {Schema: okSchema}}},
				"400": oauthResp("invalid_request, invalid_grant, unsupported_grant_type or invalid_scope", false),
				"503": oauthResp("The password hasher is saturated (error temporarily_unavailable)", true),
			},
		}, h.serve)
	}()
	if regErr != nil {
		return regErr
	}
	op := api.OpenAPI().Paths[ep.Path].Post
	if op != nil && op.RequestBody != nil {
		props := map[string]*huma.Schema{
			"grant_type": {Type: "string", Enum: []any{"password"}},
			"username":   {Type: "string"},
			"password":   {Type: "string", Format: "password", WriteOnly: true},
			"scope":      {Type: "string", Description: "Space-separated scopes to narrow the grant."},
		}
		if ep.Refresh != nil {
			props["grant_type"].Enum = append(props["grant_type"].Enum, "refresh_token")
			props["refresh_token"] = &huma.Schema{Type: "string", WriteOnly: true}
		}
		op.RequestBody.Required = true
		op.RequestBody.Content["application/x-www-form-urlencoded"] = &huma.MediaType{Schema: &huma.Schema{
			Type: "object", Required: []string{"grant_type"}, Properties: props,
		}}
	}
	if b := api.OpenAPI().Components.SecuritySchemes[BearerScheme]; b != nil {
		b.Description = bearerDescription(&OAuth2Password{TokenURL: ep.Path})
	}
	return nil
}

type tokenEndpoint struct {
	ep TokenEndpoint
}

func oauthError(status int, code, desc string) *tokenEndpointOutput {
	return &tokenEndpointOutput{Status: status, CacheControl: "no-store", Pragma: "no-cache",
		Body: OAuthError{Error: code, ErrorDescription: desc}}
}

// subsetOf reports whether every one of want is in have.
func subsetOf(want, have []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// errGrant is any refused credential: one answer for every reason.
var errGrant = errors.New("invalid grant")

func (h *tokenEndpoint) serve(ctx context.Context, in *tokenEndpointInput) (*tokenEndpointOutput, error) {
	mt, _, err := mime.ParseMediaType(in.contentType)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return oauthError(http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded"), nil
	}
	form, why := oauthform.Parse(in.RawBody)
	if why != "" {
		return oauthError(http.StatusBadRequest, "invalid_request", why), nil
	}
	scopes, ok := oauthform.Scopes(form)
	if !ok {
		return oauthError(http.StatusBadRequest, "invalid_scope", "the scope parameter is empty"), nil
	}
	var g token.Grant
	switch gt := form.Get("grant_type"); {
	case gt == "password":
		user, pw := form.Get("username"), form.Get("password")
		if user == "" || pw == "" {
			return oauthError(http.StatusBadRequest, "invalid_request", "username and password are required"), nil
		}
		g, err = h.password(ctx, user, pw, scopes)
	case gt == "refresh_token" && h.ep.Refresh != nil:
		rt := form.Get("refresh_token")
		if rt == "" {
			return oauthError(http.StatusBadRequest, "invalid_request", "refresh_token is required"), nil
		}
		g, err = h.refresh(ctx, rt, scopes)
	case gt == "":
		return oauthError(http.StatusBadRequest, "invalid_request", "grant_type is required"), nil
	default:
		supported := "password"
		if h.ep.Refresh != nil {
			supported += " or refresh_token"
		}
		return oauthError(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be "+supported), nil
	}
	var busy *password.BusyError
	switch {
	case err == nil:
	case errors.Is(err, errGrant):
		return oauthError(http.StatusBadRequest, "invalid_grant", "the credentials are invalid"), nil
	case errors.Is(err, errScope):
		return oauthError(http.StatusBadRequest, "invalid_scope", "a requested scope is not granted"), nil
	case errors.As(err, &busy) && ctx.Err() == nil:
		out := oauthError(http.StatusServiceUnavailable, "temporarily_unavailable", "too many logins in progress; retry later")
		out.RetryAfter = strconv.Itoa(int(max(1, math.Ceil(busy.RetryAfter.Seconds()))))
		return out, nil
	default:
		return nil, err // 500 (or 499 when the client left), logged, details not sent
	}
	access, claims, err := h.ep.Tokens.Issue(g.Subject, g.SessionID, g.Scopes)
	if err != nil {
		return nil, err
	}
	body := TokenResponse{AccessToken: access, TokenType: "bearer",
		ExpiresIn: int(claims.ExpiresAt.Sub(claims.IssuedAt) / time.Second), Scope: strings.Join(claims.Scopes, " ")}
	if h.ep.Refresh != nil {
		if body.RefreshToken, err = h.ep.Refresh.IssueRefresh(ctx, g); err != nil {
			return nil, err
		}
	}
	return &tokenEndpointOutput{Status: http.StatusOK, CacheControl: "no-store", Pragma: "no-cache", Body: body}, nil
}

// errScope: a requested scope is not granted.
var errScope = errors.New("invalid scope")

// password runs the password grant: the user, the password (or the dummy
// verification), the scopes and a new session id.
func (h *tokenEndpoint) password(ctx context.Context, username, pw string, scopes []string) (token.Grant, error) {
	u, err := h.ep.UserByName(ctx, username)
	switch {
	case errors.Is(err, ErrUnknownUser):
		if err := h.ep.Hasher.VerifyDummy(ctx, pw); err != nil {
			return token.Grant{}, err
		}
		return token.Grant{}, errGrant
	case err != nil:
		return token.Grant{}, fmt.Errorf("fortapi: token endpoint: finding the user: %w", err)
	}
	ok, err := h.ep.Hasher.Verify(ctx, pw, u.PasswordHash)
	if errors.Is(err, password.ErrMalformedHash) {
		// A broken stored hash fails like a wrong password, loudly.
		h.ep.Logger.ErrorContext(ctx, "fortapi: token endpoint: the stored password hash is malformed", slog.String("subject", u.Subject))
		ok, err = false, nil
	}
	if err != nil {
		return token.Grant{}, err
	}
	if !ok || u.Disabled {
		return token.Grant{}, errGrant
	}
	granted := u.Scopes
	if scopes != nil {
		if !subsetOf(scopes, u.Scopes) {
			return token.Grant{}, errScope
		}
		granted = scopes
	}
	var raw [16]byte
	if _, err := io.ReadFull(h.ep.Rand, raw[:]); err != nil {
		return token.Grant{}, fmt.Errorf("fortapi: token endpoint: reading random bytes: %w", err)
	}
	return token.Grant{Subject: u.Subject, SessionID: base64.RawURLEncoding.EncodeToString(raw[:]), Scopes: slices.Clone(granted)}, nil
}

// refresh runs the refresh_token grant: the token is consumed, and the
// user checked again; the scopes can only narrow.
func (h *tokenEndpoint) refresh(ctx context.Context, rt string, scopes []string) (token.Grant, error) {
	g, err := h.ep.Refresh.RedeemRefresh(ctx, rt)
	switch {
	case errors.Is(err, token.ErrInvalidRefresh):
		return token.Grant{}, errGrant
	case err != nil:
		return token.Grant{}, fmt.Errorf("fortapi: token endpoint: redeeming a refresh token: %w", err)
	}
	u, err := h.ep.UserBySubject(ctx, g.Subject)
	switch {
	case errors.Is(err, ErrUnknownUser):
		return token.Grant{}, errGrant
	case err != nil:
		return token.Grant{}, fmt.Errorf("fortapi: token endpoint: finding the user: %w", err)
	case u.Disabled:
		return token.Grant{}, errGrant
	}
	// What the user may still have: a role narrowed since the login
	// narrows the refreshed token too.
	kept := slices.DeleteFunc(slices.Clone(g.Scopes), func(s string) bool { return !slices.Contains(u.Scopes, s) })
	if scopes != nil {
		if !subsetOf(scopes, kept) {
			return token.Grant{}, errScope
		}
		kept = scopes
	}
	g.Scopes = kept
	return g, nil
}

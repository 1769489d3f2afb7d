package httpapi

import (
	"context"
	"errors"
	"github.com/fortapi/fortapi/internal/oauthform"
	"math"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
)

// MaxTokenRequestBytes caps a POST /token body: a 64-byte username, a
// 1,024-byte password, a scope list and percent-encoding fit easily.
const MaxTokenRequestBytes = 8 << 10

// TokenResponse is a successful POST /token answer (RFC 6749 §5.1).
type TokenResponse struct {
	AccessToken  string `json:"access_token" doc:"A JWT access token (RFC 9068), for Authorization: Bearer."`
	TokenType    string `json:"token_type" enum:"bearer"`
	ExpiresIn    int    `json:"expires_in" doc:"Seconds until the access token expires."`
	RefreshToken string `json:"refresh_token" doc:"Opaque; single use: each refresh returns a new one."`
	Scope        string `json:"scope" doc:"The granted scopes, space-separated."`
	DeviceToken  string `json:"device_token,omitempty" maxLength:"128" doc:"Password grant only: a device credential for this account (valid for a year). Send it back as the device_token parameter of later password grants for the same account: they are then not slowed by failed logins made elsewhere. Each login returns a fresh one."`
}

// OAuthError is an error answer of POST /token (RFC 6749 §5.2).
type OAuthError struct {
	Error            string `json:"error" enum:"invalid_request,invalid_grant,unsupported_grant_type,invalid_scope,temporarily_unavailable"`
	ErrorDescription string `json:"error_description,omitempty"`
}

type tokenInput struct {
	RawBody []byte `contentType:"application/x-www-form-urlencoded"`

	contentType string
	req         *http.Request
}

// Resolve keeps what the handler needs of the request besides the body.
func (in *tokenInput) Resolve(ctx huma.Context) []error {
	in.contentType = ctx.Header("Content-Type")
	in.req, _ = humago.Unwrap(ctx)
	return nil
}

// clientIP names the client of r in audit records.
func (d Deps) clientIP(r *http.Request) string {
	if d.api != nil && r != nil {
		if a := d.api.ClientIP(r); a.IsValid() {
			return a.String()
		}
	}
	if r == nil {
		return ""
	}
	return peerIP(r.RemoteAddr)
}

// peerIP is the address part of a RemoteAddr.
func peerIP(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

type tokenOutput struct {
	Status       int
	CacheControl string `header:"Cache-Control"`
	Pragma       string `header:"Pragma"`
	RetryAfter   string `header:"Retry-After"`
	Body         any
}

func oauthErr(status int, code, desc string) *tokenOutput {
	return &tokenOutput{Status: status, CacheControl: "no-store", Pragma: "no-cache",
		Body: OAuthError{Error: code, ErrorDescription: desc}}
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(max(1, math.Ceil(d.Seconds()))))
}

type authAPI struct {
	Deps
}

func ptrInt(v int) *int { return &v }

func (h *authAPI) token(ctx context.Context, in *tokenInput) (*tokenOutput, error) {
	mt, _, err := mime.ParseMediaType(in.contentType)
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return oauthErr(http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded"), nil
	}
	form, why := oauthform.Parse(in.RawBody)
	if why != "" {
		return oauthErr(http.StatusBadRequest, "invalid_request", why), nil
	}
	scopes, ok := oauthform.Scopes(form)
	if !ok {
		return oauthErr(http.StatusBadRequest, "invalid_scope", "the scope parameter is empty"), nil
	}
	var tokens authn.Tokens
	switch gt := form.Get("grant_type"); gt {
	case "password":
		user, pw := form.Get("username"), form.Get("password")
		if user == "" || pw == "" {
			return oauthErr(http.StatusBadRequest, "invalid_request", "username and password are required"), nil
		}
		tokens, err = h.Auth.Login(ctx, authn.Login{Username: user, Password: pw, Scopes: scopes, ClientIP: h.clientIP(in.req),
			Device: form.Get("device_token")})
	case "refresh_token":
		rt := form.Get("refresh_token")
		if rt == "" {
			return oauthErr(http.StatusBadRequest, "invalid_request", "refresh_token is required"), nil
		}
		tokens, err = h.Auth.Refresh(ctx, rt, scopes, h.clientIP(in.req))
	case "":
		return oauthErr(http.StatusBadRequest, "invalid_request", "grant_type is required"), nil
	default:
		return oauthErr(http.StatusBadRequest, "unsupported_grant_type", "grant_type must be password or refresh_token"), nil
	}
	later, status, wait, isLater := retryLater(err)
	switch {
	case err == nil:
	case errors.Is(err, authn.ErrInvalidGrant):
		return oauthErr(http.StatusBadRequest, "invalid_grant", "the credentials are invalid"), nil
	case errors.Is(err, authn.ErrInvalidScope):
		return oauthErr(http.StatusBadRequest, "invalid_scope", "a requested scope is not granted to this account"), nil
	case isLater:
		out := oauthErr(status, "temporarily_unavailable", map[laterReason]string{
			laterThrottled:   "too many failed logins for this account; retry later",
			laterBusy:        "too many logins in progress; retry later",
			laterUnavailable: "logins cannot be checked right now; retry later",
		}[later])
		out.RetryAfter = retryAfter(wait)
		return out, nil
	default:
		return nil, err
	}
	return &tokenOutput{Status: http.StatusOK, CacheControl: "no-store", Pragma: "no-cache", Body: TokenResponse{
		AccessToken: tokens.AccessToken, TokenType: "bearer", ExpiresIn: int(tokens.ExpiresIn / time.Second),
		RefreshToken: tokens.RefreshToken, Scope: strings.Join(tokens.Scopes, " "), DeviceToken: tokens.DeviceToken,
	}}, nil
}

// principal is the caller of a protected operation. fortapi authorizes
// before handlers run: reaching the error is a bug, answered 401.
func principal(ctx context.Context) (*fortapi.Principal, error) {
	p, ok := fortapi.PrincipalFrom(ctx)
	if !ok || p.Subject == "" {
		return nil, huma.Error401Unauthorized("authentication required")
	}
	return p, nil
}

type logoutOutput struct {
	Status   int
	Location string `header:"Location"`
}

// logout ends the caller's session. A cookie session also loses its
// cookie, and an HTML form's logout is sent back to the sign-in page.
func (h *authAPI) logout(ctx context.Context, in *rawInput) (*logoutOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.Auth.Logout(ctx, p, h.clientIP(in.req)); err != nil {
		return nil, err
	}
	out := &logoutOutput{Status: http.StatusNoContent}
	if p.Scheme == fortapi.SessionScheme {
		http.SetCookie(in.w, &http.Cookie{Name: h.Auth.CookieName(), Value: "", Path: "/", Secure: true,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, MaxAge: -1})
		if isFormPost(in.req) {
			out.Status, out.Location = http.StatusSeeOther, "/login"
		}
	}
	return out, nil
}

type messageOutput struct {
	Body messageOutputBody
}

// messageOutputBody is GET /protected's answer (its schema keeps the name
// huma gave the anonymous struct it was, MessageOutputBody).
type messageOutputBody struct {
	Message string `json:"message" example:"Hello, alice: your token is valid."`
}

// AppendFortapiJSON appends the body as encoding/json encodes it (HTML
// characters escaped, invalid UTF-8 replaced), without reflection:
// fortapi's JSON format writes a body that has this method with it
// (TestMessageJSONEqualsReflection).
func (m messageOutputBody) AppendFortapiJSON(b []byte) ([]byte, error) {
	b = append(b, `{"message":`...)
	b = appendJSONString(b, m.Message)
	return append(b, '}'), nil
}

func (h *authAPI) protected(ctx context.Context, _ *struct{}) (*messageOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	name, err := h.Auth.Username(ctx, p.Subject)
	if err != nil {
		return nil, userErr(err)
	}
	out := &messageOutput{}
	out.Body.Message = "Hello, " + name + ": your token is valid."
	return out, nil
}

// Profile is a user as the user sees themself: never the password hash.
type Profile struct {
	ID        string    `json:"id"`
	Username  string    `json:"username"`
	Role      string    `json:"role" enum:"user,admin"`
	Scopes    []string  `json:"scopes" doc:"The scopes of the token used for this call."`
	CreatedAt time.Time `json:"created_at"`
}

type profileOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         Profile
}

func userErr(err error) error {
	if errors.Is(err, server.ErrNotFound) {
		return huma.Error404NotFound("no such user")
	}
	return err
}

func (h *authAPI) me(ctx context.Context, _ *struct{}) (*profileOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	u, err := h.Store.GetUser(ctx, p.Subject)
	if err != nil {
		return nil, userErr(err)
	}
	scopes := p.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return &profileOutput{CacheControl: "no-store", Body: Profile{
		ID: u.ID, Username: u.Username, Role: string(u.Role), Scopes: scopes, CreatedAt: u.CreatedAt,
	}}, nil
}

type changePasswordInput struct {
	Body struct {
		CurrentPassword string `json:"current_password" minLength:"1" maxLength:"1024" format:"password" writeOnly:"true"`
		NewPassword     string `json:"new_password" minLength:"1" maxLength:"1024" format:"password" writeOnly:"true" doc:"8 to 1,024 bytes; not a common password, not the username."`
	}
}

func (h *authAPI) changePassword(ctx context.Context, in *changePasswordInput) (*struct{}, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	err = h.Auth.ChangePassword(ctx, p.Subject, in.Body.CurrentPassword, in.Body.NewPassword)
	var pe *password.PolicyError
	later, status, wait, isLater := retryLater(err)
	switch {
	case err == nil:
		return &struct{}{}, nil
	case errors.Is(err, authn.ErrWrongPassword):
		return nil, huma.Error422UnprocessableEntity("the current password is wrong",
			&huma.ErrorDetail{Location: "body.current_password", Message: "is wrong"})
	case errors.As(err, &pe):
		return nil, huma.Error422UnprocessableEntity("the new password is not acceptable",
			&huma.ErrorDetail{Location: "body.new_password", Message: pe.Error()})
	case isLater:
		return nil, withRetryAfter(huma.NewError(status, map[laterReason]string{
			laterThrottled:   "too many wrong passwords for this account; retry later",
			laterBusy:        "too many password checks in progress; retry later",
			laterUnavailable: "password checks cannot be limited right now; retry later",
		}[later]), wait)
	default:
		return nil, userErr(err)
	}
}

// laterReason says why a password check asks the client to come back.
type laterReason int

const (
	laterThrottled   laterReason = iota + 1 // the account's failed-login throttle or limit (429)
	laterBusy                               // the bounded password hasher is saturated (503)
	laterUnavailable                        // the failed-login limit cannot be checked (503)
)

// retryLater classifies the errors of a password check (Login, Refresh,
// WebLogin, ChangePassword) that mean "come back later": the reason, the
// status to answer and the wait for Retry-After. ok is false for any
// other error.
func retryLater(err error) (why laterReason, status int, wait time.Duration, ok bool) {
	var throttled *authn.ThrottledError
	var busy *password.BusyError
	var unavailable *authn.UnavailableError
	switch {
	case errors.As(err, &throttled):
		return laterThrottled, http.StatusTooManyRequests, throttled.RetryAfter, true
	case errors.As(err, &busy):
		return laterBusy, http.StatusServiceUnavailable, busy.RetryAfter, true
	case errors.As(err, &unavailable):
		return laterUnavailable, http.StatusServiceUnavailable, unavailable.RetryAfter, true
	}
	return 0, 0, 0, false
}

// withRetryAfter adds a Retry-After header to a huma error.
func withRetryAfter(err huma.StatusError, d time.Duration) error {
	h := http.Header{}
	h.Set("Retry-After", retryAfter(d))
	return huma.ErrorWithHeaders(err, h)
}

type jwksOutput struct {
	ContentType  string `header:"Content-Type"`
	CacheControl string `header:"Cache-Control"`
	Body         []byte
}

func (h *authAPI) jwks(ctx context.Context, _ *struct{}) (*jwksOutput, error) {
	return &jwksOutput{ContentType: "application/jwk-set+json", CacheControl: "public, max-age=300", Body: h.Keys.JWKS()}, nil
}

// KeyInfo describes a signing key: never its material.
type KeyInfo struct {
	ID          string     `json:"kid"`
	Alg         string     `json:"alg"`
	State       string     `json:"state" enum:"next,active,retiring,retired"`
	CreatedAt   time.Time  `json:"created_at"`
	ActivatedAt *time.Time `json:"activated_at,omitempty"`
	RetiringAt  *time.Time `json:"retiring_at,omitempty"`
	RetiredAt   *time.Time `json:"retired_at,omitempty"`
	Revoked     bool       `json:"revoked"`
}

type keysOutput struct {
	Body struct {
		Keys []KeyInfo `json:"keys"`
	}
}

func (h *authAPI) rotateKeys(ctx context.Context, _ *struct{}) (*keysOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.Auth.RotateKeys(ctx, p.Subject); err != nil {
		return nil, err
	}
	out := &keysOutput{}
	out.Body.Keys = keyInfos(h.Keys)
	return out, nil
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// keyInfos lists the ring's keys without their material.
func keyInfos(r *jwtkey.Ring) []KeyInfo {
	keys := r.Keys()
	out := make([]KeyInfo, 0, len(keys))
	for _, k := range keys {
		out = append(out, KeyInfo{
			ID: k.ID, Alg: string(k.Alg), State: string(k.State), CreatedAt: k.CreatedAt,
			ActivatedAt: optTime(k.ActivatedAt), RetiringAt: optTime(k.RetiringAt), RetiredAt: optTime(k.RetiredAt),
			Revoked: !k.RevokedAt.IsZero(),
		})
	}
	return out
}

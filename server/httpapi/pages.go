package httpapi

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/csrf"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
)

//go:embed pages/*.html
var pageFiles embed.FS

// MaxLoginFormBytes caps a POST /login body, as MaxTokenRequestBytes caps
// POST /token.
const MaxLoginFormBytes = 8 << 10

// DeviceCookie is the cookie that carries the HTML login's device
// credential (authn.Login.Device): Secure, HttpOnly, SameSite=Strict,
// Path=/, for as long as the credential is trusted. It authenticates
// nothing; it only exempts the browser's logins to its account from the
// failures made elsewhere.
const DeviceCookie = "__Host-device"

// htmlType is the media type of every page.
const htmlType = "text/html; charset=utf-8"

// rawInput gives a handler the request and the response writer: pages set
// cookies and their Content-Security-Policy nonce on the writer before
// huma writes the answer.
type rawInput struct {
	req *http.Request
	w   http.ResponseWriter
}

func (in *rawInput) Resolve(ctx huma.Context) []error {
	in.req, in.w = humago.Unwrap(ctx)
	return nil
}

type pageOutput struct {
	Status       int
	ContentType  string `header:"Content-Type"`
	CacheControl string `header:"Cache-Control"`
	Location     string `header:"Location"`
	Body         []byte
}

type viewInput struct {
	rawInput
	ID string `path:"id" format:"uuid" maxLength:"36" doc:"Item id."`
}

type csrfOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         struct {
		CSRFToken string `json:"csrf_token" doc:"Send back in the X-CSRF-Token header (or the csrf_token form field) with every unsafe request that carries cookies."`
	}
}

// pageData is what the templates see. Every string is escaped by
// html/template, except Description, which the Rich policy sanitized on
// the way in.
type pageData struct {
	Title, Nonce, CSRF string
	User, Username     string
	Error              string
	Next               string // the page to return to after signing in (safeNext), or ""
	Items              []server.Item
	Item               server.Item
	Description        template.HTML
	// The error page (HTMLErrors).
	Status            int
	Detail, RequestID string
	Problems          []string
}

type pagesAPI struct {
	Deps
	tmpl *template.Template
}

func (h *pagesAPI) render(w http.ResponseWriter, status int, name string, data pageData) (*pageOutput, error) {
	nonce, err := h.api.Headers().HTML(w)
	if err != nil {
		return nil, err
	}
	data.Nonce = nonce
	var b bytes.Buffer
	if err := h.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		return nil, err
	}
	return &pageOutput{Status: status, ContentType: htmlType, CacheControl: "no-store", Body: b.Bytes()}, nil
}

// signedIn is the web session of r, if any.
func (h *pagesAPI) signedIn(r *http.Request) *fortapi.Principal {
	if r.Header.Get("Authorization") != "" {
		return nil
	}
	p, err := h.Auth.Authenticate(r)
	if err != nil || p.Scheme != fortapi.SessionScheme {
		return nil
	}
	return p
}

// loginPage renders the form, or the signed-in user's items.
func (h *pagesAPI) loginPage(ctx context.Context, in *rawInput, status int, username, msg string) (*pageOutput, error) {
	tok, err := h.api.CSRF().Ensure(in.w, in.req, h.api.CSRFSession(in.req))
	if err != nil {
		return nil, err
	}
	data := pageData{Title: "Sign in", CSRF: tok, Username: username, Error: msg, Next: requestedNext(in.req)}
	if p := h.signedIn(in.req); p != nil && msg == "" {
		name, err := h.Auth.Username(ctx, p.Subject)
		if err != nil {
			return nil, userErr(err)
		}
		items, err := h.Store.ListItems(ctx, server.Access{UserID: p.Subject}, "", MaxPageSize)
		if err != nil {
			return nil, err
		}
		data.Title, data.User, data.Items = "Your items", name, items
	}
	return h.render(in.w, status, "login.html", data)
}

// loginInput is GET /login's input: the page to return to.
type loginInput struct {
	rawInput
	Next string `query:"next" doc:"The page to return to once signed in: a path on this server (/items/{id}/view). Anything else (another host, a scheme, //, backslashes, control characters) is ignored."`
}

func (h *pagesAPI) getLogin(ctx context.Context, in *loginInput) (*pageOutput, error) {
	// Already signed in: straight to the page asked for, if any.
	if next := safeNext(in.Next); next != "" && h.signedIn(in.req) != nil {
		return &pageOutput{Status: http.StatusSeeOther, Location: next, CacheControl: "no-store"}, nil
	}
	return h.loginPage(ctx, &in.rawInput, http.StatusOK, "", "")
}

// requestedNext is the page r asks to return to after signing in: the
// form's next field on POST, the query's on GET; "" for none or one
// safeNext refuses.
func requestedNext(r *http.Request) string {
	if r.Method == http.MethodPost {
		if r.PostForm == nil {
			return ""
		}
		return safeNext(r.PostForm.Get(NextParam))
	}
	return safeNext(r.URL.Query().Get(NextParam))
}

// postLogin is the HTML form's login: the same checks as POST /token
// (authn's throttle, failure limit and dummy hash), after the CSRF token,
// which a login needs even without cookies (login CSRF).
func (h *pagesAPI) postLogin(ctx context.Context, in *rawInput) (*pageOutput, error) {
	r := in.req
	// A body nobody has read yet is capped here; the CSRF middleware may
	// have parsed it already under its own, larger cap, so the parsed
	// form's size is checked too.
	r.Body = http.MaxBytesReader(in.w, r.Body, MaxLoginFormBytes)
	err := h.api.CSRF().CheckRequired(r, h.api.CSRFSession(r))
	if errors.Is(err, csrf.ErrFormTooLarge) || formBytes(r.PostForm) > MaxLoginFormBytes {
		return h.loginPage(ctx, in, http.StatusRequestEntityTooLarge, "", "The form is too large.")
	}
	if err != nil {
		return h.loginPage(ctx, in, http.StatusForbidden, "", "This form has expired. Please sign in again.")
	}
	if err := r.ParseForm(); err != nil {
		status, _ := fortapi.BodyReadStatus(err, r) // 413 over the cap, else 400
		return h.loginPage(ctx, in, status, "", "The form could not be read.")
	}
	for k, vs := range r.PostForm {
		if len(vs) > 1 || (k != "username" && k != "password" && k != NextParam && k != csrf.FieldName) {
			return h.loginPage(ctx, in, http.StatusBadRequest, "", "The form could not be read.")
		}
	}
	user, pw := r.PostForm.Get("username"), r.PostForm.Get("password")
	if user == "" || pw == "" {
		return h.loginPage(ctx, in, http.StatusBadRequest, "", "Enter your username and password.")
	}
	keep := user
	if len(keep) > authn.MaxUsernameBytes {
		keep = ""
	}
	ws, err := h.Auth.WebLogin(ctx, authn.Login{Username: user, Password: pw, ClientIP: h.clientIP(r), Device: deviceCookie(r)})
	later, status, wait, isLater := retryLater(err)
	switch {
	case err == nil:
	case errors.Is(err, authn.ErrInvalidGrant):
		return h.loginPage(ctx, in, http.StatusBadRequest, keep, "Invalid username or password.")
	case isLater:
		in.w.Header().Set("Retry-After", retryAfter(wait))
		return h.loginPage(ctx, in, status, keep, map[laterReason]string{
			laterThrottled:   "Too many failed sign-ins for this account. Try again later.",
			laterBusy:        "Too many sign-ins in progress. Try again shortly.",
			laterUnavailable: "Sign-ins cannot be checked right now. Try again shortly.",
		}[later])
	default:
		return nil, err
	}
	// A session the browser already had ends: one browser, one session.
	if old := h.signedIn(r); old != nil {
		_ = h.Auth.Logout(ctx, old, h.clientIP(r))
	}
	http.SetCookie(in.w, &http.Cookie{
		Name: h.Auth.CookieName(), Value: ws.Cookie, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, MaxAge: int(ws.ExpiresAt.Sub(h.Now()) / time.Second),
	})
	http.SetCookie(in.w, &http.Cookie{
		Name: DeviceCookie, Value: ws.Device, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: int(ws.DeviceExpiresAt.Sub(h.Now()) / time.Second),
	})
	// The CSRF token is renewed for the new session.
	if _, err := h.api.CSRF().Issue(in.w, fortapi.CSRFSessionFor(ws.Cookie)); err != nil {
		return nil, err
	}
	// Back to the page asked for, if it is one of this server's.
	next := requestedNext(r)
	if next == "" {
		next = "/login"
	}
	return &pageOutput{Status: http.StatusSeeOther, Location: next, CacheControl: "no-store"}, nil
}

// deviceCookie is the device credential the browser presents: "" for
// none, and for several (a sibling planting its own must not pick which
// one counts).
func deviceCookie(r *http.Request) string {
	cs := r.CookiesNamed(DeviceCookie)
	if len(cs) != 1 {
		return ""
	}
	return cs[0].Value
}

// formBytes is the size of a parsed form's names and values.
func formBytes(f url.Values) int {
	n := 0
	for k, vs := range f {
		for _, v := range vs {
			n += len(k) + len(v)
		}
	}
	return n
}

func (h *pagesAPI) view(ctx context.Context, in *viewInput) (*pageOutput, error) {
	it, err := getItem(ctx, h.Store, in.ID)
	if err != nil {
		return nil, err
	}
	// The description was sanitized with the Rich policy when it was
	// stored; it is sanitized again here, so that rows written before
	// (or around) the API are safe too.
	desc := template.HTML(h.Sanitizer.Rich().Sanitize(it.Description)) //nolint:gosec // sanitized by the Rich policy
	return h.render(in.w, http.StatusOK, "item.html", pageData{Title: it.Name, Item: it, Description: desc})
}

func (h *pagesAPI) csrfToken(ctx context.Context, in *rawInput) (*csrfOutput, error) {
	tok, err := h.api.CSRF().Ensure(in.w, in.req, h.api.CSRFSession(in.req))
	if err != nil {
		return nil, err
	}
	out := &csrfOutput{CacheControl: "no-store"}
	out.Body.CSRFToken = tok
	return out, nil
}

func htmlResponse(desc string) *huma.Response {
	return &huma.Response{Description: desc, Content: map[string]*huma.MediaType{"text/html": {Schema: &huma.Schema{Type: "string"}}}}
}

// isFormPost reports whether r came from an HTML form.
func isFormPost(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data")
}

package main

// Black-box authorization attacks against `fortapi serve` (OWASP API
// Security Top 10 2023: API1 object level, API2 authentication where it
// touches authorization, API3 object property level, API5 function level).
//
// The API is taken from GET /openapi.json and DESIGN.md §4 only. alice is the
// attacker, bob the victim; after every attack the victim's items, every
// user's role and disabled flag, and the audit log's role changes and key
// rotations are checked to be unchanged. Every answer is scanned for 5xx,
// password hashes, private key material and passwords; answers to anyone but
// bob and the full-scope admin are scanned for bob's item data.
//
// TestAuthorizationAttacks: what the server gets right; it must pass.
// TestAttackFindings: the attacks that got through (see the report); it
// runs only with FORTAPI_ATTACK_FINDINGS=1.

import (
	"bufio"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/fortapi/fortapi/internal/e2e"
)

type atkResp struct {
	status int
	hdr    http.Header
	body   string
}

type atkUser struct {
	name, password, id string
	access, refresh    string
}

// atkItem holds every field of an item that a write would change.
type atkItem struct {
	ID           string  `json:"id"`
	Owner        string  `json:"owner"`
	Name         string  `json:"name"`
	Description  string  `json:"description"`
	Price        float64 `json:"price"`
	PriceWithTax float64 `json:"price_with_tax"`
	CreatedAt    string  `json:"created_at"`
	UpdatedAt    string  `json:"updated_at"`
}

type atkUserInfo struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Role     string `json:"role"`
	Disabled bool   `json:"disabled"`
}

type atkEnv struct {
	base, host string
	c          *http.Client
	tlsCfg     *tls.Config

	admin, alice, bob *atkUser
	// cookie sessions from POST /login
	adminSession, aliceSession, bobSession *atkSession
	// narrowed tokens (scope asked at login)
	aliceRead, adminRead, adminUsersOnly, adminKeysOnly string

	bobItems   []atkItem
	aliceItems []atkItem

	// frank's first refresh token, rotated at setup: presented again after
	// the server's grace window it must revoke the whole session.
	frank          *atkUser
	frankOld       string
	frankNew       tokens
	frankRotatedAt time.Time

	// expected state, updated by the attacks that change it legitimately
	roles        map[string]string
	disabled     map[string]bool
	roleChanges  int
	keyRotations int

	never      []string // may appear in no answer at all
	bobSecrets []string // may appear in no answer to anyone but bob and admin
}

func atkRand(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newAtkEnv(t *testing.T) *atkEnv {
	t.Helper()
	bin := shared.Binary(t)
	dir := t.TempDir()
	p := e2e.Serve(t, bin, dir)
	c := e2e.TLSClient(t, dir, nil)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg := c.Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	e := &atkEnv{
		admin: &atkUser{}, bob: &atkUser{}, adminSession: &atkSession{}, bobSession: &atkSession{},
		base: p.URL, host: strings.TrimPrefix(p.URL, "https://"), c: c, tlsCfg: cfg,
		roles:    map[string]string{"admin": "admin"},
		disabled: map[string]bool{},
		never:    []string{"$argon2id$", "$argon2i$", "$2a$", "$2b$", "$2y$", "PRIVATE KEY", `"d":"`, e2e.AdminPassword},
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", p.Log.String())
		}
	})
	e.admin = &atkUser{name: "admin", password: e2e.AdminPassword}
	e.login(t, e.admin)
	e.admin.id = e.me(t, e.admin.access)
	e.alice = e.createUser(t, "alice", "user")
	e.bob = e.createUser(t, "bob", "user")
	e.adminSession = e.sessionLogin(t, e.admin)
	e.aliceSession = e.sessionLogin(t, e.alice)
	e.bobSession = e.sessionLogin(t, e.bob)
	e.aliceRead = e.loginScope(t, e.alice, "items:read")
	e.adminRead = e.loginScope(t, e.admin, "items:read")
	e.adminUsersOnly = e.loginScope(t, e.admin, "users:admin")
	e.adminKeysOnly = e.loginScope(t, e.admin, "keys:admin")

	e.frank = e.createUser(t, "frank", "user")
	code, nt, body := e.refresh(t, e.frank.refresh, "")
	if code != 200 {
		t.Fatalf("frank's refresh: %d %s", code, body)
	}
	e.frankOld, e.frankNew, e.frankRotatedAt = e.frank.refresh, nt, time.Now()

	for i := range 3 {
		name, desc := "bob-secret-name-"+atkRand(6), "bob-secret-desc-"+atkRand(6)
		e.bobSecrets = append(e.bobSecrets, name, desc)
		e.bobItems = append(e.bobItems, e.createItem(t, e.bob.access, name, desc, float64(100+i)))
	}
	for i := range 2 {
		e.aliceItems = append(e.aliceItems, e.createItem(t, e.alice.access, fmt.Sprintf("alice-item-%d", i), "alice's", float64(1+i)))
	}
	return e
}

// atkSession is a browser session: the session cookie, the CSRF cookie
// and the CSRF token bound to them.
type atkSession struct{ sid, csrfCookie, csrf string }

func (s *atkSession) cookie() string {
	return "__Host-session=" + s.sid + "; __Host-csrf=" + s.csrfCookie
}

// hdr: the cookies and, with csrf, the X-CSRF-Token header.
func (s *atkSession) hdr(csrf bool, more ...string) []string {
	h := []string{"Cookie", s.cookie()}
	if csrf {
		h = append(h, "X-CSRF-Token", s.csrf)
	}
	return append(h, more...)
}

func respCookie(r atkResp, name string) string {
	for _, c := range (&http.Response{Header: r.hdr}).Cookies() {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (e *atkEnv) csrfToken(t *testing.T, cookie string) (token, setCookie string) {
	t.Helper()
	var h []string
	if cookie != "" {
		h = []string{"Cookie", cookie}
	}
	r := e.do(t, "GET", "/csrftoken/", "", "", "", h...)
	var body struct {
		Token string `json:"csrf_token"`
	}
	if r.status != 200 || jsonUnmarshal(r.body, &body) != nil || body.Token == "" {
		t.Fatalf("GET /csrftoken/: %d %s", r.status, r.body)
	}
	return body.Token, respCookie(r, "__Host-csrf")
}

// sessionLogin signs in through the HTML form (POST /login).
func (e *atkEnv) sessionLogin(t *testing.T, u *atkUser) *atkSession {
	t.Helper()
	tok, csrfCookie := e.csrfToken(t, "")
	form := url.Values{"csrf_token": {tok}, "username": {u.name}, "password": {u.password}}
	r := e.do(t, "POST", "/login", "", "application/x-www-form-urlencoded", form.Encode(), "Cookie", "__Host-csrf="+csrfCookie)
	s := &atkSession{sid: respCookie(r, "__Host-session"), csrfCookie: respCookie(r, "__Host-csrf")}
	if s.sid == "" || r.status >= 400 {
		t.Fatalf("POST /login as %s: %d %v %.300s", u.name, r.status, r.hdr, r.body)
	}
	if s.csrfCookie == "" {
		s.csrfCookie = csrfCookie
	}
	tok, set := e.csrfToken(t, s.cookie())
	if set != "" {
		s.csrfCookie = set
	}
	s.csrf = tok
	return s
}

func (e *atkEnv) loginForm(t *testing.T, u *atkUser, scope string) (int, tokens, string) {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {u.name}, "password": {u.password}}
	if scope != "" {
		form.Set("scope", scope)
	}
	code, tr, body := postToken(t, e.c, e.base, form)
	e.scan(t, "POST /token", atkResp{status: code, body: body}, true)
	return code, tr, body
}

func (e *atkEnv) login(t *testing.T, u *atkUser) {
	t.Helper()
	code, tr, body := e.loginForm(t, u, "")
	if code != 200 || tr.AccessToken == "" || tr.RefreshToken == "" {
		t.Fatalf("login %s: %d %s", u.name, code, body)
	}
	u.access, u.refresh = tr.AccessToken, tr.RefreshToken
}

func (e *atkEnv) loginScope(t *testing.T, u *atkUser, scope string) string {
	t.Helper()
	code, tr, body := e.loginForm(t, u, scope)
	if code != 200 || tr.Scope != scope {
		t.Fatalf("login %s with scope %q: %d %s", u.name, scope, code, body)
	}
	return tr.AccessToken
}

func (e *atkEnv) refresh(t *testing.T, rt, scope string) (int, tokens, string) {
	t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
	if scope != "" {
		form.Set("scope", scope)
	}
	code, tr, body := postToken(t, e.c, e.base, form)
	e.scan(t, "POST /token (refresh)", atkResp{status: code, body: body}, true)
	return code, tr, body
}

func (e *atkEnv) me(t *testing.T, tok string) string {
	t.Helper()
	r := e.do(t, "GET", "/users/me", tok, "", "")
	var p struct {
		ID string `json:"id"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &p) != nil || p.ID == "" {
		t.Fatalf("GET /users/me: %d %s", r.status, r.body)
	}
	return p.ID
}

// createUser creates a user through the API as admin and logs them in.
func (e *atkEnv) createUser(t *testing.T, name, role string) *atkUser {
	t.Helper()
	u := &atkUser{name: name, password: name + " passphrase " + atkRand(8)}
	body, _ := json.Marshal(map[string]string{"username": name, "password": u.password, "role": role})
	r := e.do(t, "POST", "/users", e.admin.access, "application/json", string(body))
	var info atkUserInfo
	if r.status != 201 || json.Unmarshal([]byte(r.body), &info) != nil || info.ID == "" || info.Role != role {
		t.Fatalf("create user %s: %d %s", name, r.status, r.body)
	}
	u.id = info.ID
	e.roles[name] = role
	e.never = append(e.never, u.password)
	e.login(t, u)
	return u
}

func (e *atkEnv) createItem(t *testing.T, tok, name, desc string, price float64) atkItem {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "description": desc, "price": price})
	r := e.do(t, "POST", "/items/", tok, "application/json", string(body))
	var it atkItem
	if r.status != 201 || json.Unmarshal([]byte(r.body), &it) != nil || it.ID == "" {
		t.Fatalf("create item: %d %s", r.status, r.body)
	}
	return it
}

// trusted reports whether an answer to a request carrying s may show
// bob's data: it carries bob's or the full admin's credentials.
func (e *atkEnv) trusted(s string) bool {
	for _, v := range []string{e.bob.access, e.admin.access, e.adminSession.sid, e.bobSession.sid} {
		if v != "" && strings.Contains(s, v) {
			return true
		}
	}
	return false
}

func (e *atkEnv) scan(t *testing.T, what string, r atkResp, untrusted bool) {
	t.Helper()
	if r.status >= 500 {
		t.Errorf("%s: answered %d (5xx): %.300s", what, r.status, r.body)
	}
	var hdr strings.Builder
	for k, v := range r.hdr {
		fmt.Fprintf(&hdr, "%s: %s\n", k, strings.Join(v, ", "))
	}
	all := r.body + "\n" + hdr.String()
	for _, s := range e.never {
		if s != "" && strings.Contains(all, s) {
			t.Errorf("%s: the answer contains %q (excessive data exposure): %.300s", what, s, r.body)
		}
	}
	if untrusted {
		for _, s := range e.bobSecrets {
			if strings.Contains(all, s) {
				t.Errorf("%s: the answer shows bob's data %q: %.300s", what, s, r.body)
			}
		}
	}
}

// do sends one request; tok "" sends no Authorization; hdr are name, value pairs.
func (e *atkEnv) do(t *testing.T, method, path, tok, ctype, body string, hdr ...string) atkResp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := e.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	r := atkResp{status: resp.StatusCode, hdr: resp.Header, body: string(b)}
	e.scan(t, method+" "+path, r, !e.trusted(strings.Join(hdr, "\n")+"\n"+tok))
	return r
}

// rawReq builds an HTTP/1.x request byte for byte; hdr are name, value pairs.
func rawReq(method, target, proto, body string, hdr ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s\r\n", method, target, proto)
	for i := 0; i+1 < len(hdr); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", hdr[i], hdr[i+1])
	}
	if body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.WriteString(body)
	return b.String()
}

// raw sends a request over a fresh TLS connection, exactly as written.
func (e *atkEnv) raw(t *testing.T, req string) atkResp {
	t.Helper()
	method, _, _ := strings.Cut(req, " ")
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", e.host, e.tlsCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%.80q: %v", req, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	r := atkResp{status: resp.StatusCode, hdr: resp.Header, body: string(b)}
	first, _, _ := strings.Cut(req, "\r\n")
	e.scan(t, first, r, !e.trusted(req))
	return r
}

func (e *atkEnv) getItem(t *testing.T, tok, id string) (int, atkItem) {
	t.Helper()
	r := e.do(t, "GET", "/items/"+id, tok, "", "")
	var it atkItem
	if r.status == 200 {
		if err := json.Unmarshal([]byte(r.body), &it); err != nil {
			t.Fatalf("GET /items/%s: %v %s", id, err, r.body)
		}
	}
	return r.status, it
}

func (e *atkEnv) listUsers(t *testing.T) []atkUserInfo {
	t.Helper()
	var all []atkUserInfo
	cursor := ""
	for range 20 {
		path := "/users?limit=100"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		r := e.do(t, "GET", path, e.admin.access, "", "")
		var page struct {
			Users      []atkUserInfo `json:"users"`
			NextCursor string        `json:"next_cursor"`
		}
		if r.status != 200 || json.Unmarshal([]byte(r.body), &page) != nil {
			t.Fatalf("GET /users as admin: %d %s", r.status, r.body)
		}
		all = append(all, page.Users...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	return all
}

// auditCount counts the audit events of one type (limit=500: the declared
// maximum page).
func (e *atkEnv) auditCount(t *testing.T, typ string) int {
	t.Helper()
	r := e.do(t, "GET", "/admin/audit?limit=500&type="+typ, e.admin.access, "", "")
	var page struct {
		Events []struct {
			Type string `json:"type"`
		} `json:"events"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &page) != nil {
		t.Fatalf("GET /admin/audit: %d %s", r.status, r.body)
	}
	for _, ev := range page.Events {
		if ev.Type != typ {
			t.Errorf("audit filter type=%s returned a %s event", typ, ev.Type)
		}
	}
	return len(page.Events)
}

// verifyIntact checks that nothing an attack could have changed changed:
// bob's items (every field, updated_at included), the set of users with
// their roles and disabled flags, and the audit's role changes and key
// rotations.
func (e *atkEnv) verifyIntact(t *testing.T) {
	t.Helper()
	for _, want := range e.bobItems {
		status, got := e.getItem(t, e.bob.access, want.ID)
		if status != 200 || got != want {
			t.Errorf("victim's item changed: GET as bob: %d %+v, want %+v", status, got, want)
		}
	}
	users := e.listUsers(t)
	seen := map[string]bool{}
	for _, u := range users {
		seen[u.Username] = true
		role, ok := e.roles[u.Username]
		if !ok {
			t.Errorf("an unexpected user exists: %+v", u)
			continue
		}
		if u.Role != role || u.Disabled != e.disabled[u.Username] {
			t.Errorf("user %s is %s disabled=%v, want %s disabled=%v", u.Username, u.Role, u.Disabled, role, e.disabled[u.Username])
		}
	}
	for name := range e.roles {
		if !seen[name] {
			t.Errorf("user %s is missing from GET /users", name)
		}
	}
	if n := e.auditCount(t, "user.role_changed"); n != e.roleChanges {
		t.Errorf("the audit shows %d role changes, want %d", n, e.roleChanges)
	}
	if n := e.auditCount(t, "key.rotated"); n != e.keyRotations {
		t.Errorf("the audit shows %d key rotations, want %d", n, e.keyRotations)
	}
}

// atkCase is one attack: either a request (raw, or method/path/...) with
// the status it must get, or fn for a sequence.
type atkCase struct {
	name                           string
	method, path, tok, ctype, body string
	hdr                            []string
	raw                            string
	want                           int
	check                          func(t *testing.T, r atkResp)
	fn                             func(t *testing.T)
}

func (e *atkEnv) runCases(t *testing.T, cases []atkCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.fn != nil {
				tc.fn(t)
			} else {
				var r atkResp
				what := tc.method + " " + tc.path
				if tc.raw != "" {
					r = e.raw(t, tc.raw)
					what, _, _ = strings.Cut(tc.raw, "\r\n")
				} else {
					r = e.do(t, tc.method, tc.path, tc.tok, tc.ctype, tc.body, tc.hdr...)
				}
				if r.status != tc.want {
					t.Errorf("%.200s: status %d, want %d; body %.300s", what, r.status, tc.want, r.body)
				}
				if r.status == 401 && !strings.HasPrefix(r.hdr.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%.200s: 401 without WWW-Authenticate: Bearer (%q)", what, r.hdr.Get("WWW-Authenticate"))
				}
				if tc.check != nil {
					tc.check(t, r)
				}
			}
			e.verifyIntact(t)
		})
	}
}

// atkInParallel runs fn for every item in n parallel subtests, each
// taking every n-th item: for request loops that only wait on the server
// (each request is independent and changes nothing it is refused).
func atkInParallel[T any](t *testing.T, n int, items []T, fn func(t *testing.T, item T)) {
	t.Helper()
	for i := range n {
		t.Run(fmt.Sprintf("part %d of %d", i+1, n), func(t *testing.T) {
			t.Parallel()
			for k := i; k < len(items); k += n {
				fn(t, items[k])
			}
		})
	}
}

func expectStatus(t *testing.T, what string, r atkResp, want int) {
	t.Helper()
	if r.status != want {
		t.Errorf("%s: status %d, want %d; body %.300s", what, r.status, want, r.body)
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func utf16LE(s string) string {
	var b []byte
	for _, u := range utf16.Encode([]rune(s)) {
		b = append(b, byte(u), byte(u>>8))
	}
	return string(b)
}

// ---- JWT helpers (the attacker's side) ----

func atkB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jwtSplit(t *testing.T, tok string) (hdr, claims map[string]any, sig string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWS: %q", tok)
	}
	for i, dst := range []*map[string]any{&hdr, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, dst) != nil {
			t.Fatalf("JWT segment %d: %v", i, err)
		}
	}
	return hdr, claims, parts[2]
}

func jwtSeg(v any) string {
	b, _ := json.Marshal(v)
	return atkB64(b)
}

func jwtHMAC(h func() hash.Hash, hdr, claims map[string]any, key []byte) string {
	in := jwtSeg(hdr) + "." + jwtSeg(claims)
	m := hmac.New(h, key)
	m.Write([]byte(in))
	return in + "." + atkB64(m.Sum(nil))
}

func jwtEd(hdr, claims map[string]any, priv ed25519.PrivateKey) string {
	in := jwtSeg(hdr) + "." + jwtSeg(claims)
	return in + "." + atkB64(ed25519.Sign(priv, []byte(in)))
}

// copyMap copies m and sets (or, with a nil value, deletes) the pairs kv.
func copyMap(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

const allScopes = "items:read items:write users:admin keys:admin"

func jsonKeySet(t *testing.T, what, body string) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("%s: %v %s", what, err, body)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func sqliPayloads(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/sqli-payloads.txt")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	if len(out) < 100 {
		t.Fatalf("only %d SQL injection payloads", len(out))
	}
	return out
}

// ---- the attacks ----

// TestAuthorizationAttacks: every attack here must be refused exactly as
// declared; it passes on a correct server.
func TestAuthorizationAttacks(t *testing.T) {
	t.Parallel()
	start := time.Now()
	e := newAtkEnv(t)
	t.Run("API1", func(t *testing.T) { e.runCases(t, e.api1Cases(t)) })
	t.Run("API3", func(t *testing.T) { e.runCases(t, e.api3Cases(t)) })
	t.Run("API5", func(t *testing.T) { e.runCases(t, e.api5Cases(t)) })
	t.Run("Session", func(t *testing.T) { e.runCases(t, e.sessionCases(t)) })
	t.Run("Red", func(t *testing.T) { e.runCases(t, e.redCases(t)) })
	// API2 last: it logs out, revokes, demotes and disables (its own users).
	t.Run("API2", func(t *testing.T) { e.runCases(t, e.api2Cases(t)) })
	t.Logf("attack suite ran in %v", time.Since(start).Round(time.Millisecond))
}

func (e *atkEnv) api1Cases(t *testing.T) []atkCase {
	bi := e.bobItems[0]
	ai := e.aliceItems[0]
	upper := strings.ToUpper(bi.ID)
	noHyphen := strings.ReplaceAll(bi.ID, "-", "")
	random := "01234567-89ab-7cde-8f01-23456789abcd"
	put := `{"name":"pwned by alice","price":0.01}`
	js := "application/json"
	h := []string{"Host", e.host, "Authorization", "Bearer " + e.alice.access}

	// The 404 for another's item must look exactly like the 404 for an id
	// that does not exist: no existence oracle.
	instanceRE := regexp.MustCompile(`"instance":"[^"]*"`)
	sameAsMissing := func(method string) func(t *testing.T, r atkResp) {
		return func(t *testing.T, r atkResp) {
			var body string
			if method == "PUT" {
				body = put
			}
			m := e.do(t, method, "/items/"+random, e.alice.access, js, body)
			strip := func(s string) string { return instanceRE.ReplaceAllString(s, "") }
			if m.status != r.status || strip(m.body) != strip(r.body) {
				t.Errorf("another's item (%d %s) differs from a missing item (%d %s)", r.status, r.body, m.status, m.body)
			}
		}
	}
	ownItemsOnly := func(t *testing.T, r atkResp) {
		var page struct {
			Items []atkItem `json:"items"`
		}
		if err := jsonUnmarshal(r.body, &page); err != nil {
			t.Fatalf("%v: %s", err, r.body)
		}
		for _, it := range page.Items {
			if it.Owner != e.alice.id {
				t.Errorf("alice's listing shows an item of %s: %+v", it.Owner, it)
			}
		}
	}
	redirectsTo := func(loc string, then int, method string) func(t *testing.T, r atkResp) {
		return func(t *testing.T, r atkResp) {
			if got := r.hdr.Get("Location"); got != loc {
				t.Errorf("Location %q, want %q", got, loc)
			}
			f := e.do(t, method, loc, e.alice.access, "", "")
			expectStatus(t, "following the redirect", f, then)
		}
	}
	fullwidth := strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r - '0' + '０'
		}
		return r
	}, bi.ID)

	cases := []atkCase{
		// positive controls: the 404s below are about ownership, not a broken route
		{name: "control: bob reads his own item", method: "GET", path: "/items/" + bi.ID, tok: e.bob.access, want: 200},
		{name: "control: admin reads bob's item", method: "GET", path: "/items/" + bi.ID, tok: e.admin.access, want: 200},
		{name: "control: alice reads her own item", method: "GET", path: "/items/" + ai.ID, tok: e.alice.access, want: 200},

		{name: "GET another's item", method: "GET", path: "/items/" + bi.ID, tok: e.alice.access, want: 404, check: sameAsMissing("GET")},
		{name: "PUT another's item", method: "PUT", path: "/items/" + bi.ID, tok: e.alice.access, ctype: js, body: put, want: 404, check: sameAsMissing("PUT")},
		{name: "DELETE another's item", method: "DELETE", path: "/items/" + bi.ID, tok: e.alice.access, want: 404, check: sameAsMissing("DELETE")},
		{name: "HEAD another's item", method: "HEAD", path: "/items/" + bi.ID, tok: e.alice.access, want: 404},
		{name: "GET another's item, upper-case UUID", method: "GET", path: "/items/" + upper, tok: e.alice.access, want: 404},
		{name: "PUT another's item, upper-case UUID", method: "PUT", path: "/items/" + upper, tok: e.alice.access, ctype: js, body: put, want: 404},
		{name: "DELETE another's item, upper-case UUID", method: "DELETE", path: "/items/" + upper, tok: e.alice.access, want: 404},
		{name: "GET another's item, UUID without hyphens", method: "GET", path: "/items/" + noHyphen, tok: e.alice.access, want: 404},
		{name: "DELETE another's item, UUID without hyphens", method: "DELETE", path: "/items/" + noHyphen, tok: e.alice.access, want: 404},
		{name: "GET another's item, braced UUID", method: "GET", path: "/items/%7B" + bi.ID + "%7D", tok: e.alice.access, want: 422},
		{name: "GET another's item, urn:uuid:", method: "GET", path: "/items/urn:uuid:" + bi.ID, tok: e.alice.access, want: 422},
		{name: "GET another's item, leading space", method: "GET", path: "/items/%20" + bi.ID, tok: e.alice.access, want: 422},
		{name: "DELETE another's item, trailing space", method: "DELETE", path: "/items/" + bi.ID + "%20", tok: e.alice.access, want: 422},
		{name: "GET another's item, trailing NUL", method: "GET", path: "/items/" + bi.ID + "%00", tok: e.alice.access, want: 422},
		{name: "GET another's item, ;param", raw: rawReq("GET", "/items/"+bi.ID+";x=1", "HTTP/1.1", "", h...), want: 422},
		{name: "DELETE another's item, ;param", raw: rawReq("DELETE", "/items/"+bi.ID+";owner="+e.alice.id, "HTTP/1.1", "", h...), want: 422},
		{name: "GET another's item, %2F before the id", method: "GET", path: "/items/%2F" + bi.ID, tok: e.alice.access, want: 422},
		{name: "GET another's item, /items%2F", method: "GET", path: "/items%2F" + bi.ID, tok: e.alice.access, want: 404},
		{name: "GET another's item, /ITEMS/", method: "GET", path: "/ITEMS/" + bi.ID, tok: e.alice.access, want: 404},
		{name: "DELETE another's item, /ITEMS/", method: "DELETE", path: "/ITEMS/" + bi.ID, tok: e.alice.access, want: 404},
		// Paths under /items/ that the document does not declare are not
		// served (was finding F1: a ServeMux subtree pattern served them).
		{name: "GET another's item, trailing slash", method: "GET", path: "/items/" + bi.ID + "/", tok: e.alice.access, want: 404},
		{name: "GET another's item, /items/%2e%2e/items/ID", raw: rawReq("GET", "/items/%2e%2e/items/"+bi.ID, "HTTP/1.1", "", h...), want: 404},
		{name: "PUT another's item, trailing slash", method: "PUT", path: "/items/" + bi.ID + "/", tok: e.alice.access, ctype: js, body: put, want: 404},
		{name: "DELETE another's item, trailing slash", method: "DELETE", path: "/items/" + bi.ID + "/", tok: e.alice.access, want: 404},
		{name: "POST /items/<bob's item id> is not an operation", method: "POST", path: "/items/" + bi.ID, tok: e.alice.access, ctype: js, body: `{"name":"x","price":1}`, want: 405},
		{name: "POST /items/anything/else is not an operation", method: "POST", path: "/items/anything/else", tok: e.alice.access, ctype: js, body: `{"name":"x","price":1}`, want: 404},
		// The audit's declared maximum page answers; beyond it 422 (was
		// finding F2: the maximum answered 500).
		{name: "GET /admin/audit at the declared maximum page", method: "GET", path: "/admin/audit?limit=500&type=user.role_changed", tok: e.admin.access, want: 200},
		{name: "GET /admin/audit beyond the declared maximum page", method: "GET", path: "/admin/audit?limit=1000", tok: e.admin.access, want: 422},
		{name: "GET another's item, //items/ID", raw: rawReq("GET", "//items/"+bi.ID, "HTTP/1.1", "", h...), want: 307, check: redirectsTo("/items/"+bi.ID, 404, "GET")},
		{name: "DELETE another's item, //items/ID", raw: rawReq("DELETE", "//items/"+bi.ID, "HTTP/1.1", "", h...), want: 307, check: redirectsTo("/items/"+bi.ID, 404, "DELETE")},
		{name: "GET another's item, /items/./ID", raw: rawReq("GET", "/items/./"+bi.ID, "HTTP/1.1", "", h...), want: 307, check: redirectsTo("/items/"+bi.ID, 404, "GET")},
		{name: "DELETE another's item, /items/../items/ID", raw: rawReq("DELETE", "/items/../items/"+bi.ID, "HTTP/1.1", "", h...), want: 307, check: redirectsTo("/items/"+bi.ID, 404, "DELETE")},
		{name: "GET another's item, id 5000 bytes", method: "GET", path: "/items/" + bi.ID + strings.Repeat("a", 5000-len(bi.ID)), tok: e.alice.access, want: 422},
		{name: "DELETE another's item, id 60000 bytes", method: "DELETE", path: "/items/" + strings.Repeat(bi.ID, 60000/len(bi.ID)), tok: e.alice.access, want: 431},
		{name: "GET another's item, SQL tautology after the id", method: "GET", path: "/items/" + url.PathEscape(bi.ID+"' OR '1'='1"), tok: e.alice.access, want: 422},
		{name: "GET another's item, fullwidth digits", method: "GET", path: "/items/" + url.PathEscape(fullwidth), tok: e.alice.access, want: 422},
		{name: "GET another's item with ?owner= pollution", method: "GET", path: "/items/" + bi.ID + "?owner=" + e.bob.id, tok: e.alice.access, want: 422},
		{name: "DELETE another's item with ?user_id= pollution", method: "DELETE", path: "/items/" + bi.ID + "?user_id=" + e.bob.id, tok: e.alice.access, want: 422},
		{name: "GET another's item with X-HTTP-Method-Override: DELETE", method: "GET", path: "/items/" + bi.ID, tok: e.alice.access, hdr: []string{"X-HTTP-Method-Override", "DELETE"}, want: 404},
		{name: "PATCH another's item (no such operation)", method: "PATCH", path: "/items/" + bi.ID, tok: e.alice.access, ctype: "application/merge-patch+json", body: `{"name":"pwned"}`, want: 405},

		// read-only and admin-narrowed tokens
		{name: "items:read token GETs another's item", method: "GET", path: "/items/" + bi.ID, tok: e.aliceRead, want: 404},
		{name: "items:read token PUTs another's item: 403, same as a missing id", method: "PUT", path: "/items/" + bi.ID, tok: e.aliceRead, ctype: js, body: put, want: 403, check: func(t *testing.T, r atkResp) {
			m := e.do(t, "PUT", "/items/"+random, e.aliceRead, js, put)
			expectStatus(t, "PUT of a missing id with the same token", m, 403)
		}},
		{name: "items:read token DELETEs another's item", method: "DELETE", path: "/items/" + bi.ID, tok: e.aliceRead, want: 403},
		{name: "admin narrowed to items:read GETs bob's item", method: "GET", path: "/items/" + bi.ID, tok: e.adminRead, want: 404},
		{name: "admin narrowed to items:read lists: sees no other user's items", method: "GET", path: "/items/?limit=100", tok: e.adminRead, want: 200, check: func(t *testing.T, r atkResp) {
			if strings.Contains(r.body, e.bob.id) || strings.Contains(r.body, e.alice.id) {
				t.Errorf("a token without users:admin lists others' items: %.300s", r.body)
			}
		}},
		{name: "admin narrowed to users:admin (no items:read) GETs bob's item", method: "GET", path: "/items/" + bi.ID, tok: e.adminUsersOnly, want: 403},
		{name: "admin narrowed to items:read PUTs bob's item", method: "PUT", path: "/items/" + bi.ID, tok: e.adminRead, ctype: js, body: put, want: 403},

		// listings
		{name: "alice's listing holds exactly her items", method: "GET", path: "/items/?limit=100", tok: e.alice.access, want: 200, check: func(t *testing.T, r atkResp) {
			ownItemsOnly(t, r)
			for _, it := range e.aliceItems {
				if !strings.Contains(r.body, it.ID) {
					t.Errorf("alice's own item %s is missing from her listing", it.ID)
				}
			}
		}},
		{name: "control: admin's listing holds bob's items", method: "GET", path: "/items/?limit=100", tok: e.admin.access, want: 200, check: func(t *testing.T, r atkResp) {
			if !strings.Contains(r.body, bi.ID) {
				t.Errorf("admin's listing lacks bob's item: %.300s", r.body)
			}
		}},
	}
	for _, q := range []string{"owner=" + e.bob.id, "owner_id=" + e.bob.id, "user_id=" + e.bob.id, "all=true", "include_all=1", "admin=true", "scope=users:admin", "access_token=" + e.admin.access, "_method=DELETE"} {
		name, _, _ := strings.Cut(q, "=")
		cases = append(cases, atkCase{name: "list with ?" + name + "= pollution", method: "GET", path: "/items/?" + q, tok: e.alice.access, want: 422})
	}
	for _, l := range []string{"0", "101", "-1", "1e9", "100000000000000000000"} {
		cases = append(cases, atkCase{name: "list with limit=" + l, method: "GET", path: "/items/?limit=" + l, tok: e.alice.access, want: 422})
	}
	// forged cursors: the cursor is the base64 of the last id; the owner check must not depend on it
	for _, c := range []struct{ name, cursor string }{
		{"cursor of bob's item id (base64url)", base64.URLEncoding.EncodeToString([]byte(bi.ID))},
		{"cursor of bob's item id (std base64)", base64.StdEncoding.EncodeToString([]byte(bi.ID))},
		{"cursor of the zero UUID", base64.URLEncoding.EncodeToString([]byte("00000000-0000-0000-0000-000000000000"))},
		{"cursor of a UUID before every item", base64.URLEncoding.EncodeToString([]byte("00000000-0000-7000-8000-000000000000"))},
	} {
		cases = append(cases, atkCase{name: "list from a forged " + c.name, method: "GET", path: "/items/?limit=100&cursor=" + url.QueryEscape(c.cursor), tok: e.alice.access, want: 200, check: ownItemsOnly})
	}
	cases = append(cases,
		atkCase{name: "list from bob's own next_cursor", fn: func(t *testing.T) {
			r := e.do(t, "GET", "/items/?limit=1", e.bob.access, "", "")
			var page struct {
				NextCursor string `json:"next_cursor"`
			}
			if r.status != 200 || jsonUnmarshal(r.body, &page) != nil || page.NextCursor == "" {
				t.Fatalf("bob's first page: %d %s", r.status, r.body)
			}
			a := e.do(t, "GET", "/items/?limit=100&cursor="+url.QueryEscape(page.NextCursor), e.alice.access, "", "")
			expectStatus(t, "alice with bob's cursor", a, 200)
			ownItemsOnly(t, a)
		}},
		atkCase{name: "paging through alice's listing with limit=1 never reaches bob's items", fn: func(t *testing.T) {
			cursor, seen := "", 0
			for range 50 {
				path := "/items/?limit=1"
				if cursor != "" {
					path += "&cursor=" + url.QueryEscape(cursor)
				}
				r := e.do(t, "GET", path, e.alice.access, "", "")
				expectStatus(t, path, r, 200)
				ownItemsOnly(t, r)
				var page struct {
					Items      []atkItem `json:"items"`
					NextCursor string    `json:"next_cursor"`
				}
				_ = jsonUnmarshal(r.body, &page)
				seen += len(page.Items)
				if cursor = page.NextCursor; cursor == "" {
					break
				}
			}
			if seen < len(e.aliceItems) {
				t.Errorf("paged through %d items, alice has at least %d", seen, len(e.aliceItems))
			}
		}},
		atkCase{name: "SQL injection payloads as item id (GET, PUT, DELETE)", fn: func(t *testing.T) {
			atkInParallel(t, 4, sqliPayloads(t), func(t *testing.T, p string) {
				for _, m := range []string{"GET", "PUT", "DELETE"} {
					var body, ct string
					if m == "PUT" {
						body, ct = put, js
					}
					r := e.do(t, m, "/items/"+url.PathEscape(p), e.alice.access, ct, body)
					if r.status != 422 {
						t.Errorf("%s /items/%q: %d, want 422: %.200s", m, p, r.status, r.body)
					}
				}
			})
		}},
		atkCase{name: "SQL injection payloads as list cursor (raw and base64)", fn: func(t *testing.T) {
			atkInParallel(t, 4, sqliPayloads(t), func(t *testing.T, p string) {
				for _, c := range []string{p, base64.URLEncoding.EncodeToString([]byte(p)), base64.URLEncoding.EncodeToString([]byte(bi.ID + p))} {
					if len(c) > 64 {
						continue
					}
					r := e.do(t, "GET", "/items/?cursor="+url.QueryEscape(c), e.alice.access, "", "")
					if r.status != 422 {
						t.Errorf("cursor %q: %d, want 422: %.200s", c, r.status, r.body)
					}
				}
			})
		}},
		atkCase{name: "SQL injection payloads in admin audit filters", fn: func(t *testing.T) {
			typeRE := regexp.MustCompile(`^[a-z_.]+$`)
			atkInParallel(t, 4, sqliPayloads(t), func(t *testing.T, p string) {
				want := 422
				if typeRE.MatchString(p) && len(p) <= 64 {
					want = 200
				}
				r := e.do(t, "GET", "/admin/audit?type="+url.QueryEscape(p), e.admin.access, "", "")
				if r.status != want {
					t.Errorf("audit type=%q: %d, want %d", p, r.status, want)
				}
				if r = e.do(t, "GET", "/admin/audit?user_id="+url.QueryEscape(p), e.admin.access, "", ""); r.status != 422 {
					t.Errorf("audit user_id=%q: %d, want 422", p, r.status)
				}
			})
		}},
		atkCase{name: "POST /items/<bob's id> never writes bob's item nor runs without items:write", fn: func(t *testing.T) {
			// The path has no POST operation: 405 before any authorization.
			r := e.do(t, "POST", "/items/"+bi.ID, e.aliceRead, js, `{"name":"x","price":1}`)
			expectStatus(t, "with an items:read token", r, 405)
			r = e.do(t, "POST", "/items/"+bi.ID, e.alice.access, js, `{"name":"alice via item path","price":1}`)
			if r.status == 201 {
				var it atkItem
				_ = jsonUnmarshal(r.body, &it)
				if it.Owner != e.alice.id || it.ID == bi.ID {
					t.Errorf("POST /items/<bob's id> made %+v", it)
				}
				e.aliceItems = append(e.aliceItems, it)
			}
		}},
	)
	return cases
}

func (e *atkEnv) api3Cases(t *testing.T) []atkCase {
	js := "application/json"
	ai := e.aliceItems[0]
	bi := e.bobItems[0]
	var cases []atkCase
	unexpected := func(field string) func(t *testing.T, r atkResp) {
		return func(t *testing.T, r atkResp) {
			if !strings.Contains(r.body, `"body.`+field+`"`) {
				t.Errorf("the error does not name body.%s: %s", field, r.body)
			}
		}
	}
	aliceItemUnchanged := func(t *testing.T, _ atkResp) {
		status, got := e.getItem(t, e.alice.access, ai.ID)
		if status != 200 || got != ai {
			t.Errorf("alice's item changed: %d %+v, want %+v", status, got, ai)
		}
	}
	for _, f := range []struct {
		field string
		value string
	}{
		{"owner", `"` + e.bob.id + `"`},
		{"owner_id", `"` + e.bob.id + `"`},
		{"ownerId", `"` + e.bob.id + `"`},
		{"user_id", `"` + e.bob.id + `"`},
		{"id", `"` + bi.ID + `"`},
		{"created_at", `"2000-01-01T00:00:00Z"`},
		{"updated_at", `"2000-01-01T00:00:00Z"`},
		{"price_with_tax", `0`},
		{"role", `"admin"`},
		{"scopes", `["users:admin"]`},
		{"disabled", `false`},
		{"password_hash", `"$argon2id$x"`},
		{"Owner", `"` + e.bob.id + `"`},
		{"OWNER", `"` + e.bob.id + `"`},
		{"__proto__", `{"owner":"` + e.bob.id + `"}`},
		{"constructor", `{"prototype":{"owner":"` + e.bob.id + `"}}`},
	} {
		body := `{"name":"mass","price":1,"` + f.field + `":` + f.value + `}`
		cases = append(cases,
			atkCase{name: "POST /items/ with " + f.field, method: "POST", path: "/items/", tok: e.alice.access, ctype: js, body: body, want: 422, check: unexpected(f.field)},
			atkCase{name: "PUT own item with " + f.field, method: "PUT", path: "/items/" + ai.ID, tok: e.alice.access, ctype: js, body: body, want: 422, check: aliceItemUnchanged},
		)
	}
	cases = append(cases,
		atkCase{name: "PUT another's item with id and owner of alice", method: "PUT", path: "/items/" + bi.ID, tok: e.alice.access, ctype: js, body: `{"name":"x","price":1,"id":"` + bi.ID + `","owner":"` + e.alice.id + `"}`, want: 422},
		atkCase{name: "POST /items/ duplicate key: valid price then negative", method: "POST", path: "/items/", tok: e.alice.access, ctype: js, body: `{"name":"dup","price":1,"price":-5}`, want: 400},
		atkCase{name: "POST /items/ duplicate key: owner smuggled after a second name", method: "POST", path: "/items/", tok: e.alice.access, ctype: js, body: `{"name":"dup","price":1,"name":"x","owner":"` + e.bob.id + `"}`, want: 400},
		atkCase{name: "POST /items/ name as an operator object", method: "POST", path: "/items/", tok: e.alice.access, ctype: js, body: `{"name":{"$ne":null},"price":1}`, want: 422},
		atkCase{name: "POST /items/ array body", method: "POST", path: "/items/", tok: e.alice.access, ctype: js, body: `[{"name":"x","price":1,"owner":"` + e.bob.id + `"}]`, want: 422},
		atkCase{name: "PUT own item as a JSON array", method: "PUT", path: "/items/" + ai.ID, tok: e.alice.access, ctype: js, body: `[{"name":"x","price":1}]`, want: 422, check: aliceItemUnchanged},
		atkCase{name: "POST /items/ with a UTF-8 BOM", method: "POST", path: "/items/", tok: e.alice.access, ctype: js, body: "\ufeff" + `{"name":"bom","price":1}`, want: 400},
		atkCase{name: "POST /items/ as text/plain", method: "POST", path: "/items/", tok: e.alice.access, ctype: "text/plain", body: `{"name":"x","price":1}`, want: 415},
		atkCase{name: "POST /items/ as a form", method: "POST", path: "/items/", tok: e.alice.access, ctype: "application/x-www-form-urlencoded", body: "name=x&price=1&owner=" + e.bob.id, want: 415},
		atkCase{name: "POST /items/ as multipart", method: "POST", path: "/items/", tok: e.alice.access, ctype: "multipart/form-data; boundary=x", body: "--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx\r\n--x--\r\n", want: 415},
		atkCase{name: "POST /items/ as XML", method: "POST", path: "/items/", tok: e.alice.access, ctype: "application/xml", body: `<item><name>x</name><price>1</price></item>`, want: 415},
		atkCase{name: "PUT own item as text/plain", method: "PUT", path: "/items/" + ai.ID, tok: e.alice.access, ctype: "text/plain", body: `{"name":"x","price":1}`, want: 415, check: aliceItemUnchanged},
		atkCase{name: "POST /items/ with a UTF-16 body", method: "POST", path: "/items/", tok: e.alice.access, ctype: "application/json; charset=utf-16", body: utf16LE(`{"name":"x","price":1,"owner":"` + e.bob.id + `"}`), want: 400},

		// the password change body has no room for a role
		atkCase{name: "PUT /users/me/password setting role", method: "PUT", path: "/users/me/password", tok: e.alice.access, ctype: js, body: `{"current_password":` + jsonString(e.alice.password) + `,"new_password":"a brand new passphrase 1","role":"admin"}`, want: 422, check: func(t *testing.T, r atkResp) {
			unexpected("role")(t, r)
			if got := e.do(t, "GET", "/protected", e.alice.access, "", ""); got.status != 200 {
				t.Errorf("alice's token stopped working: the password changed? %d", got.status)
			}
		}},
		atkCase{name: "PUT /users/me/password setting scopes and username", method: "PUT", path: "/users/me/password", tok: e.alice.access, ctype: js, body: `{"current_password":` + jsonString(e.alice.password) + `,"new_password":"a brand new passphrase 1","scopes":["users:admin"],"username":"admin"}`, want: 422},
		atkCase{name: "PUT /users/me/password with a Role case variant", method: "PUT", path: "/users/me/password", tok: e.alice.access, ctype: js, body: `{"current_password":` + jsonString(e.alice.password) + `,"new_password":"a brand new passphrase 1","Role":"admin"}`, want: 422},
		atkCase{name: "PUT /users/me/password duplicate new_password key", method: "PUT", path: "/users/me/password", tok: e.alice.access, ctype: js, body: `{"current_password":` + jsonString(e.alice.password) + `,"new_password":"a brand new passphrase 1","new_password":"x"}`, want: 400},

		// admin bodies: only the declared properties
		atkCase{name: "PATCH /users/{bob} by admin with username", method: "PATCH", path: "/users/" + e.bob.id, tok: e.admin.access, ctype: js, body: `{"username":"admin2"}`, want: 422},
		atkCase{name: "PATCH /users/{bob} by admin with password", method: "PATCH", path: "/users/" + e.bob.id, tok: e.admin.access, ctype: js, body: `{"password":"another long passphrase"}`, want: 422},
		atkCase{name: "PATCH /users/{bob} by admin with password_hash", method: "PATCH", path: "/users/" + e.bob.id, tok: e.admin.access, ctype: js, body: `{"password_hash":"$argon2id$v=19$m=19456,t=2,p=1$AAAA$AAAA"}`, want: 422},
		atkCase{name: "PATCH /users/{bob} by admin with scopes", method: "PATCH", path: "/users/" + e.bob.id, tok: e.admin.access, ctype: js, body: `{"scopes":["users:admin"]}`, want: 422},
		atkCase{name: "PATCH /users/{bob} by admin with Role", method: "PATCH", path: "/users/" + e.bob.id, tok: e.admin.access, ctype: js, body: `{"Role":"admin"}`, want: 422},
		atkCase{name: "PATCH /users/{bob} by admin with an unknown role", method: "PATCH", path: "/users/" + e.bob.id, tok: e.admin.access, ctype: js, body: `{"role":"superadmin"}`, want: 422},
		atkCase{name: "PATCH /users/{bob} by admin with role ADMIN", method: "PATCH", path: "/users/" + e.bob.id, tok: e.admin.access, ctype: js, body: `{"role":"ADMIN"}`, want: 422},
		atkCase{name: "PATCH /users/{bob} by admin as a form", method: "PATCH", path: "/users/" + e.bob.id, tok: e.admin.access, ctype: "application/x-www-form-urlencoded", body: `role=admin`, want: 415},
		atkCase{name: "PATCH /users/{bob} duplicate role key", method: "PATCH", path: "/users/" + e.bob.id, tok: e.admin.access, ctype: js, body: `{"role":"user","role":"admin"}`, want: 400},
		atkCase{name: "POST /users by admin with scopes", method: "POST", path: "/users", tok: e.admin.access, ctype: js, body: `{"username":"mass1","password":"mass long passphrase 1","role":"user","scopes":["users:admin"]}`, want: 422},
		atkCase{name: "POST /users by admin with id", method: "POST", path: "/users", tok: e.admin.access, ctype: js, body: `{"username":"mass2","password":"mass long passphrase 1","role":"user","id":"` + e.admin.id + `"}`, want: 422},
		atkCase{name: "POST /users by admin with password_hash", method: "POST", path: "/users", tok: e.admin.access, ctype: js, body: `{"username":"mass3","password":"mass long passphrase 1","role":"user","password_hash":"$2a$10$x"}`, want: 422},
		atkCase{name: "POST /users by admin with is_admin", method: "POST", path: "/users", tok: e.admin.access, ctype: js, body: `{"username":"mass4","password":"mass long passphrase 1","role":"user","is_admin":true}`, want: 422},
		atkCase{name: "POST /users by admin with a Role case variant", method: "POST", path: "/users", tok: e.admin.access, ctype: js, body: `{"username":"mass5","password":"mass long passphrase 1","role":"user","Role":"admin"}`, want: 422},
		atkCase{name: "POST /users by admin with role root", method: "POST", path: "/users", tok: e.admin.access, ctype: js, body: `{"username":"mass6","password":"mass long passphrase 1","role":"root"}`, want: 422},
		atkCase{name: "POST /users by admin with disabled", method: "POST", path: "/users", tok: e.admin.access, ctype: js, body: `{"username":"mass7","password":"mass long passphrase 1","role":"user","disabled":true}`, want: 422},
		atkCase{name: "POST /users duplicate role key", method: "POST", path: "/users", tok: e.admin.access, ctype: js, body: `{"username":"dupkey","password":"dupkey long passphrase","role":"user","role":"admin"}`, want: 400},

		// excessive data exposure
		atkCase{name: "GET /users/me shows only the profile", method: "GET", path: "/users/me", tok: e.alice.access, want: 200, check: func(t *testing.T, r atkResp) {
			if got, want := jsonKeySet(t, "me", r.body), []string{"created_at", "id", "role", "scopes", "username"}; !slices.Equal(got, want) {
				t.Errorf("profile fields %v, want %v", got, want)
			}
		}},
		atkCase{name: "GET /users shows no secrets", method: "GET", path: "/users?limit=100", tok: e.admin.access, want: 200, check: func(t *testing.T, r atkResp) {
			var page struct {
				Users []json.RawMessage `json:"users"`
			}
			_ = jsonUnmarshal(r.body, &page)
			for _, u := range page.Users {
				if got, want := jsonKeySet(t, "user", string(u)), []string{"created_at", "disabled", "id", "role", "updated_at", "username"}; !slices.Equal(got, want) {
					t.Errorf("user fields %v, want %v", got, want)
				}
			}
		}},
		atkCase{name: "an item shows only item fields", method: "GET", path: "/items/" + ai.ID, tok: e.alice.access, want: 200, check: func(t *testing.T, r atkResp) {
			if got, want := jsonKeySet(t, "item", r.body), []string{"created_at", "description", "id", "name", "owner", "price", "price_with_tax", "tax", "updated_at"}; !slices.Equal(got, want) {
				t.Errorf("item fields %v, want %v", got, want)
			}
		}},
		atkCase{name: "JWKS publishes public parameters only", method: "GET", path: "/.well-known/jwks.json", want: 200, check: func(t *testing.T, r atkResp) {
			var set struct {
				Keys []json.RawMessage `json:"keys"`
			}
			if jsonUnmarshal(r.body, &set) != nil || len(set.Keys) == 0 {
				t.Fatalf("JWKS: %s", r.body)
			}
			for _, k := range set.Keys {
				for _, f := range jsonKeySet(t, "jwk", string(k)) {
					if !slices.Contains([]string{"alg", "crv", "e", "kid", "kty", "n", "use", "x", "y"}, f) {
						t.Errorf("JWKS key has the non-public parameter %q", f)
					}
				}
			}
		}},
		atkCase{name: "openapi.json holds no secrets", method: "GET", path: "/openapi.json", want: 200},
		atkCase{name: "docs hold no secrets", method: "GET", path: "/docs", want: 200},
		atkCase{name: "the token answer and the access token carry nothing extra", fn: func(t *testing.T) {
			code, _, body := e.loginForm(t, e.alice, "items:read")
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			if got, want := jsonKeySet(t, "token", body), []string{"access_token", "device_token", "expires_in", "refresh_token", "scope", "token_type"}; !slices.Equal(got, want) {
				// device_token: the login device credential (docs/authentication.md), an extra member RFC 6749 §5.1 allows.
				t.Errorf("token answer fields %v, want %v", got, want)
			}
			_, claims, _ := jwtSplit(t, e.alice.access)
			for k := range claims {
				if !slices.Contains([]string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "sid", "client_id", "auth_time"}, k) {
					t.Errorf("the access token carries the claim %q", k)
				}
			}
		}},
		atkCase{name: "validation errors never echo a password", fn: func(t *testing.T) {
			weak := "Zq9" + atkRand(1) // too short: refused
			r := e.do(t, "POST", "/users", e.admin.access, js, `{"username":"weakpw","password":"`+weak+`","role":"user"}`)
			expectStatus(t, "weak password", r, 422)
			if strings.Contains(r.body, weak) {
				t.Errorf("POST /users echoes the password: %s", r.body)
			}
			wrong := "wrong current " + atkRand(6)
			r = e.do(t, "PUT", "/users/me/password", e.alice.access, js, `{"current_password":"`+wrong+`","new_password":"x"}`)
			if r.status != 422 || strings.Contains(r.body, wrong) || strings.Contains(r.body, `"x"`) {
				t.Errorf("password change with a wrong current password: %d %s", r.status, r.body)
			}
			code, _, body := postToken(t, e.c, e.base, url.Values{"grant_type": {"bogus"}, "username": {"alice"}, "password": {wrong}})
			if code != 400 && code != 422 || strings.Contains(body, wrong) {
				t.Errorf("/token with a bad grant: %d %s", code, body)
			}
		}},
		atkCase{name: "a failed login's password is not in the audit", fn: func(t *testing.T) {
			marker := "typed-password-" + atkRand(6)
			e.never = append(e.never, marker)
			code, _, body := postToken(t, e.c, e.base, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {marker}})
			if code != 400 || !strings.Contains(body, "invalid_grant") {
				t.Errorf("wrong password: %d %s", code, body)
			}
			r := e.do(t, "GET", "/admin/audit?limit=50", e.admin.access, "", "")
			expectStatus(t, "audit", r, 200)
		}},
	)
	return cases
}

func (e *atkEnv) api5Cases(t *testing.T) []atkCase {
	js := "application/json"
	ai := e.aliceItems[0]
	type op struct {
		name, method, path, ctype, body, scope string
	}
	ops := []op{
		{"list users", "GET", "/users", "", "", "users:admin"},
		{"create an admin", "POST", "/users", js, `{"username":"mallory","password":"mallory long passphrase","role":"admin"}`, "users:admin"},
		{"promote self", "PATCH", "/users/" + e.alice.id, js, `{"role":"admin"}`, "users:admin"},
		{"disable the victim", "PATCH", "/users/" + e.bob.id, js, `{"disabled":true}`, "users:admin"},
		{"demote the admin", "PATCH", "/users/" + e.admin.id, js, `{"role":"user"}`, "users:admin"},
		{"read the audit", "GET", "/admin/audit", "", "", "users:admin"},
		{"read the audit about bob", "GET", "/admin/audit?user_id=" + e.bob.id, "", "", "users:admin"},
		{"rotate the keys", "POST", "/admin/keys/rotate", "", "", "keys:admin"},
	}
	type tokCase struct {
		name, tok string
		want      int
	}
	var cases []atkCase
	for _, o := range ops {
		toks := []tokCase{
			{"user token", e.alice.access, 403},
			{"items:read token", e.aliceRead, 403},
			{"admin token narrowed to items:read", e.adminRead, 403},
			{"no token", "", 401},
			{"garbage token", "x.y.z", 401},
		}
		if o.scope == "users:admin" {
			toks = append(toks, tokCase{"admin token narrowed to keys:admin", e.adminKeysOnly, 403})
		} else {
			toks = append(toks, tokCase{"admin token narrowed to users:admin", e.adminUsersOnly, 403})
		}
		for _, tk := range toks {
			cases = append(cases, atkCase{name: o.name + " with " + tk.name, method: o.method, path: o.path, tok: tk.tok, ctype: o.ctype, body: o.body, want: tk.want})
		}
	}
	// scope narrowing holds for items too; method overrides are not honoured
	cases = append(cases,
		atkCase{name: "items:read token creates an item", method: "POST", path: "/items/", tok: e.aliceRead, ctype: js, body: `{"name":"x","price":1}`, want: 403},
		atkCase{name: "items:read token updates its own item", method: "PUT", path: "/items/" + ai.ID, tok: e.aliceRead, ctype: js, body: `{"name":"x","price":1}`, want: 403},
		atkCase{name: "items:read token deletes its own item", method: "DELETE", path: "/items/" + ai.ID, tok: e.aliceRead, want: 403},
		atkCase{name: "control: items:read token reads its own item", method: "GET", path: "/items/" + ai.ID, tok: e.aliceRead, want: 200},
		atkCase{name: "items:read token: X-HTTP-Method-Override: DELETE on GET is not honoured", method: "GET", path: "/items/" + ai.ID, tok: e.aliceRead, hdr: []string{"X-HTTP-Method-Override", "DELETE", "X-Method-Override", "DELETE", "X-HTTP-Method", "DELETE"}, want: 200, check: func(t *testing.T, _ atkResp) {
			if s, _ := e.getItem(t, e.alice.access, ai.ID); s != 200 {
				t.Errorf("alice's item is gone: %d", s)
			}
		}},
		atkCase{name: "items:read token: ?_method=DELETE", method: "GET", path: "/items/" + ai.ID + "?_method=DELETE", tok: e.aliceRead, want: 422},
		atkCase{name: "items:read token: POST with X-HTTP-Method-Override: GET", method: "POST", path: "/items/", tok: e.aliceRead, ctype: js, body: `{"name":"x","price":1}`, hdr: []string{"X-HTTP-Method-Override", "GET"}, want: 403},
		atkCase{name: "user: POST /admin/keys/rotate with X-HTTP-Method-Override: GET", method: "POST", path: "/admin/keys/rotate", tok: e.alice.access, hdr: []string{"X-HTTP-Method-Override", "GET"}, want: 403},
		atkCase{name: "user: POST /admin/keys/rotate with X-Method-Override: GET", method: "POST", path: "/admin/keys/rotate", tok: e.alice.access, hdr: []string{"X-Method-Override", "GET"}, want: 403},
		atkCase{name: "user: GET /admin/keys/rotate with X-HTTP-Method-Override: POST", method: "GET", path: "/admin/keys/rotate", tok: e.alice.access, hdr: []string{"X-HTTP-Method-Override", "POST"}, want: 405},
		atkCase{name: "user: POST /users?_method=GET", method: "POST", path: "/users?_method=GET", tok: e.alice.access, ctype: js, body: `{"username":"m2","password":"mallory long passphrase","role":"admin"}`, want: 403},
		atkCase{name: "user: PATCH self via /users/me", method: "PATCH", path: "/users/me", tok: e.alice.access, ctype: js, body: `{"role":"admin"}`, want: 403},
		atkCase{name: "user: HEAD /users", method: "HEAD", path: "/users", tok: e.alice.access, want: 403},
		atkCase{name: "user: HEAD /admin/audit", method: "HEAD", path: "/admin/audit", tok: e.alice.access, want: 403},
		atkCase{name: "user: OPTIONS /users", method: "OPTIONS", path: "/users", tok: e.alice.access, want: 405},
		atkCase{name: "anonymous: OPTIONS /admin/keys/rotate (CORS preflight)", method: "OPTIONS", path: "/admin/keys/rotate", hdr: []string{"Origin", "https://evil.example", "Access-Control-Request-Method", "POST"}, want: 405},
		atkCase{name: "user: TRACE /users", method: "TRACE", path: "/users", tok: e.alice.access, want: 405},
		atkCase{name: "user: TRACE /admin/audit", method: "TRACE", path: "/admin/audit", tok: e.alice.access, want: 405},
		atkCase{name: "user: lower-case method get /users", method: "get", path: "/users", tok: e.alice.access, want: 405},
		atkCase{name: "user: method FOO /admin/keys/rotate", method: "FOO", path: "/admin/keys/rotate", tok: e.alice.access, want: 405},
		atkCase{name: "user: GET /users with X-Original-URL: /items/", method: "GET", path: "/users", tok: e.alice.access, hdr: []string{"X-Original-URL", "/items/", "X-Rewrite-URL", "/items/"}, want: 403},
		atkCase{name: "user: GET /items/ with X-Original-URL: /users serves items", method: "GET", path: "/items/", tok: e.alice.access, hdr: []string{"X-Original-URL", "/users", "X-Rewrite-URL", "/admin/audit"}, want: 200, check: func(t *testing.T, r atkResp) {
			if strings.Contains(r.body, `"users"`) || strings.Contains(r.body, `"events"`) {
				t.Errorf("the rewrite header was honoured: %.300s", r.body)
			}
		}},
		atkCase{name: "user: identity headers X-Forwarded-User/X-Remote-User/X-User-Id", method: "GET", path: "/users", tok: e.alice.access, hdr: []string{"X-Forwarded-User", "admin", "X-Remote-User", "admin", "X-User-Id", e.admin.id, "X-Forwarded-For", "127.0.0.1", "X-Real-IP", "127.0.0.1", "X-Auth-Request-User", "admin"}, want: 403},
		atkCase{name: "no token: identity headers alone", method: "GET", path: "/users", hdr: []string{"X-Forwarded-User", "admin", "X-Remote-User", "admin", "X-User-Id", e.admin.id, "X-Scopes", allScopes}, want: 401},
	)
	// path case and encoding tricks
	h := []string{"Host", e.host, "Authorization", "Bearer " + e.alice.access}
	follow := func(method, loc string, then int) func(t *testing.T, r atkResp) {
		return func(t *testing.T, r atkResp) {
			if got := r.hdr.Get("Location"); got != loc {
				t.Errorf("Location %q, want %q", got, loc)
			}
			expectStatus(t, "following the redirect", e.do(t, method, loc, e.alice.access, "", ""), then)
		}
	}
	for _, p := range []struct {
		method, target string
		want           int
		check          func(t *testing.T, r atkResp)
	}{
		{"GET", "/Users", 404, nil},
		{"GET", "/USERS", 404, nil},
		{"GET", "/users/", 404, nil},
		{"GET", "/%75sers", 403, nil},
		{"GET", "/%55sers", 404, nil},
		{"GET", "/users%2F", 404, nil},
		{"GET", "/users;x=1", 404, nil},
		{"GET", "/users.json", 404, nil},
		{"GET", "/users%00", 404, nil},
		{"GET", "/./users", 307, follow("GET", "/users", 403)},
		{"GET", "//users", 307, follow("GET", "/users", 403)},
		{"GET", "/items/../users", 307, follow("GET", "/users", 403)},
		{"GET", "/items/%2e%2e/users", 404, nil},
		{"GET", "/admin/audit/", 404, nil},
		{"GET", "/Admin/audit", 404, nil},
		{"GET", "/admin/Audit", 404, nil},
		{"GET", "/admin/audit;.js", 404, nil},
		{"GET", "/admin/%61udit", 403, nil},
		{"GET", "/admin/./audit", 307, follow("GET", "/admin/audit", 403)},
		{"POST", "/admin%2Fkeys/rotate", 404, nil},
		{"POST", "/admin/keys%2Frotate", 404, nil},
		{"POST", "/admin/keys/rotate/", 404, nil},
		{"POST", "/admin/keys/rotate%20", 404, nil},
		{"POST", "/admin/keys//rotate", 307, follow("POST", "/admin/keys/rotate", 403)},
		{"POST", "/ADMIN/KEYS/ROTATE", 404, nil},
		{"PATCH", "/users/" + e.alice.id + "/", 404, nil},
		{"PATCH", "/Users/" + e.alice.id, 404, nil},
		{"PATCH", "/users/" + strings.ToUpper(e.alice.id), 403, nil},
		{"PATCH", "/users%2F" + e.alice.id, 404, nil},
	} {
		body := ""
		hh := h
		if p.method == "PATCH" {
			body = `{"role":"admin"}`
			hh = append(slices.Clone(h), "Content-Type", js)
		}
		cases = append(cases, atkCase{name: "user: " + p.method + " " + p.target, raw: rawReq(p.method, p.target, "HTTP/1.1", body, hh...), want: p.want, check: p.check})
	}
	adminNone := jwtSeg(map[string]any{"alg": "none", "typ": "at+jwt"}) + "." + jwtSeg(map[string]any{"sub": e.admin.id, "scope": allScopes, "exp": time.Now().Add(time.Hour).Unix()}) + "."
	cases = append(cases,
		atkCase{name: "user: HTTP/1.0 GET /users", raw: rawReq("GET", "/users", "HTTP/1.0", "", "Authorization", "Bearer "+e.alice.access), want: 403},
		atkCase{name: "user: HTTP/1.0 POST /admin/keys/rotate", raw: rawReq("POST", "/admin/keys/rotate", "HTTP/1.0", "", "Host", e.host, "Authorization", "Bearer "+e.alice.access), want: 403},
		atkCase{name: "user: absolute-form POST https://host/admin/keys/rotate", raw: rawReq("POST", e.base+"/admin/keys/rotate", "HTTP/1.1", "", h...), want: 403},
		atkCase{name: "user: absolute-form GET for another host", raw: rawReq("GET", "https://admin.internal/users", "HTTP/1.1", "", "Host", "admin.internal", "Authorization", "Bearer "+e.alice.access), want: 403},
		atkCase{name: "user: Host: localhost", raw: rawReq("GET", "/users", "HTTP/1.1", "", "Host", "localhost", "Authorization", "Bearer "+e.alice.access), want: 403},
		atkCase{name: "duplicate Authorization: user then admin", raw: rawReq("POST", "/admin/keys/rotate", "HTTP/1.1", "", "Host", e.host, "Authorization", "Bearer "+e.alice.access, "Authorization", "Bearer "+e.admin.access), want: 401},
		atkCase{name: "duplicate Authorization: admin then user", raw: rawReq("POST", "/admin/keys/rotate", "HTTP/1.1", "", "Host", e.host, "Authorization", "Bearer "+e.admin.access, "Authorization", "Bearer "+e.alice.access), want: 401},
		atkCase{name: "duplicate Authorization: user then forged admin", raw: rawReq("GET", "/users", "HTTP/1.1", "", "Host", e.host, "Authorization", "Bearer "+e.alice.access, "Authorization", "Bearer "+adminNone), want: 401},
		atkCase{name: "duplicate Authorization: forged admin then user", raw: rawReq("GET", "/users", "HTTP/1.1", "", "Host", e.host, "Authorization", "Bearer "+adminNone, "Authorization", "Bearer "+e.alice.access), want: 401},
		atkCase{name: "two bearer tokens in one header", raw: rawReq("GET", "/users", "HTTP/1.1", "", "Host", e.host, "Authorization", "Bearer "+e.alice.access+", Bearer "+e.admin.access), want: 401},
		atkCase{name: "user: lower-case scheme on an admin operation", method: "GET", path: "/users", hdr: []string{"Authorization", "bearer " + e.alice.access}, want: 403},
		atkCase{name: "user: upper-case scheme on an admin operation", method: "POST", path: "/admin/keys/rotate", hdr: []string{"Authorization", "BEARER " + e.alice.access}, want: 403},
		atkCase{name: "control: lower-case scheme is a bearer token (RFC 7235)", method: "GET", path: "/protected", hdr: []string{"Authorization", "bearer " + e.alice.access}, want: 200},
		atkCase{name: "Basic credentials of admin", method: "GET", path: "/users", hdr: []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+e2e.AdminPassword))}, want: 401},
		atkCase{name: "wrong scheme Token <admin>", method: "GET", path: "/users", hdr: []string{"Authorization", "Token " + e.admin.access}, want: 401},
		atkCase{name: "no space after Bearer", method: "GET", path: "/users", hdr: []string{"Authorization", "Bearer" + e.admin.access}, want: 401},
		atkCase{name: "admin token in ?access_token=, no header", method: "GET", path: "/users?access_token=" + e.admin.access, want: 401},
		atkCase{name: "admin token in ?access_token= on rotate", method: "POST", path: "/admin/keys/rotate?access_token=" + e.admin.access, want: 401},
		atkCase{name: "user header plus admin ?access_token=", method: "GET", path: "/users?access_token=" + e.admin.access, tok: e.alice.access, want: 403},
		atkCase{name: "admin token in a form body", method: "POST", path: "/admin/keys/rotate", ctype: "application/x-www-form-urlencoded", body: "access_token=" + e.admin.access, want: 401},
		atkCase{name: "admin token in X-Access-Token/X-Auth-Token/X-Api-Key", method: "GET", path: "/users", hdr: []string{"X-Access-Token", e.admin.access, "X-Auth-Token", e.admin.access, "X-Api-Key", e.admin.access}, want: 401},
		atkCase{name: "the last admin cannot demote itself", method: "PATCH", path: "/users/" + e.admin.id, tok: e.admin.access, ctype: js, body: `{"role":"user"}`, want: 409},
		atkCase{name: "the last admin cannot disable itself", method: "PATCH", path: "/users/" + e.admin.id, tok: e.admin.access, ctype: js, body: `{"disabled":true}`, want: 409},
	)
	for _, ck := range []string{"access_token", "token", "jwt", "session", "__Host-session", "Authorization", "fortapi_session"} {
		cases = append(cases,
			atkCase{name: "admin token in cookie " + ck + ": GET /users", method: "GET", path: "/users", hdr: []string{"Cookie", ck + "=" + e.admin.access}, want: 401},
			atkCase{name: "admin token in cookie " + ck + ": POST /admin/keys/rotate", method: "POST", path: "/admin/keys/rotate", hdr: []string{"Cookie", ck + "=" + e.admin.access}, want: 403, check: func(t *testing.T, r atkResp) {
				if !strings.Contains(r.body, "CSRF") {
					t.Errorf("want the CSRF refusal: %s", r.body)
				}
			}},
		)
	}
	return cases
}

// sessionCases: the same attacks through cookie sessions (the OpenAPI
// document declares the session scheme on every protected operation).
func (e *atkEnv) sessionCases(t *testing.T) []atkCase {
	js := "application/json"
	bi, ai := e.bobItems[0], e.aliceItems[0]
	as := e.aliceSession
	put := `{"name":"pwned by alice's session","price":0.01}`
	csrfRefused := func(t *testing.T, r atkResp) {
		if !strings.Contains(r.body, "CSRF") && !strings.Contains(strings.ToLower(r.body), "origin") {
			t.Errorf("want a CSRF refusal: %s", r.body)
		}
	}
	cases := []atkCase{
		{name: "control: alice's session views her own item", method: "GET", path: "/items/" + ai.ID + "/view", hdr: as.hdr(false), want: 200, check: func(t *testing.T, r atkResp) {
			if !strings.Contains(r.body, ai.Name) {
				t.Errorf("the page lacks the item's name: %.300s", r.body)
			}
		}},
		{name: "control: bob's session views his own item", method: "GET", path: "/items/" + bi.ID + "/view", hdr: e.bobSession.hdr(false), want: 200},
		{name: "control: alice's session with CSRF creates an item", fn: func(t *testing.T) {
			r := e.do(t, "POST", "/items/", "", js, `{"name":"via session","price":1}`, as.hdr(true)...)
			expectStatus(t, "create", r, 201)
			var it atkItem
			if jsonUnmarshal(r.body, &it) == nil && it.Owner != e.alice.id {
				t.Errorf("owner %s, want alice", it.Owner)
			}
		}},
		{name: "session: view another's item", method: "GET", path: "/items/" + bi.ID + "/view", hdr: as.hdr(false), want: 404},
		{name: "session: view another's item, upper-case UUID", method: "GET", path: "/items/" + strings.ToUpper(bi.ID) + "/view", hdr: as.hdr(false), want: 404},
		{name: "session: view another's item, trailing slash", method: "GET", path: "/items/" + bi.ID + "/view/", hdr: as.hdr(false), want: 404},
		{name: "session: view with a bearer token (session only)", method: "GET", path: "/items/" + ai.ID + "/view", tok: e.alice.access, want: 401},
		{name: "session: GET another's item", method: "GET", path: "/items/" + bi.ID, hdr: as.hdr(false), want: 404},
		{name: "session: PUT another's item with CSRF", method: "PUT", path: "/items/" + bi.ID, ctype: js, body: put, hdr: as.hdr(true), want: 404},
		{name: "session: DELETE another's item with CSRF", method: "DELETE", path: "/items/" + bi.ID, hdr: as.hdr(true), want: 404},
		{name: "session: listing shows only alice's items", method: "GET", path: "/items/?limit=100", hdr: as.hdr(false), want: 200, check: func(t *testing.T, r atkResp) {
			if strings.Contains(r.body, e.bob.id) {
				t.Errorf("bob's items in alice's listing: %.300s", r.body)
			}
		}},
		{name: "session: GET /users", method: "GET", path: "/users", hdr: as.hdr(false), want: 403},
		{name: "session: GET /admin/audit", method: "GET", path: "/admin/audit", hdr: as.hdr(false), want: 403},
		{name: "session: POST /admin/keys/rotate with CSRF", method: "POST", path: "/admin/keys/rotate", hdr: as.hdr(true), want: 403},
		{name: "session: PATCH self to admin with CSRF", method: "PATCH", path: "/users/" + e.alice.id, ctype: js, body: `{"role":"admin"}`, hdr: as.hdr(true), want: 403},
		{name: "session: POST /users admin with CSRF", method: "POST", path: "/users", ctype: js, body: `{"username":"sessmallory","password":"mallory long passphrase","role":"admin"}`, hdr: as.hdr(true), want: 403},
		{name: "session: alice's session with a forged admin bearer", method: "GET", path: "/users", tok: jwtSeg(map[string]any{"alg": "none"}) + "." + jwtSeg(map[string]any{"sub": e.admin.id, "scope": allScopes}) + ".", hdr: as.hdr(false), want: 401},
		{name: "session: admin's session id as a bearer token", method: "GET", path: "/users", tok: e.adminSession.sid, want: 401},
		{name: "session: admin's session cookie without the __Host- prefix", method: "GET", path: "/users", hdr: []string{"Cookie", "session=" + e.adminSession.sid}, want: 401},
		{name: "session: forged session id", method: "GET", path: "/users", hdr: []string{"Cookie", "__Host-session=" + atkB64([]byte(atkRand(16)))}, want: 401},

		// CSRF: the session is an ambient credential
		{name: "csrf: create an item without a token", method: "POST", path: "/items/", ctype: js, body: `{"name":"csrf","price":1}`, hdr: as.hdr(false), want: 403, check: csrfRefused},
		{name: "csrf: delete own item without a token", method: "DELETE", path: "/items/" + ai.ID, hdr: as.hdr(false), want: 403, check: csrfRefused},
		{name: "csrf: admin rotate without a token", method: "POST", path: "/admin/keys/rotate", hdr: e.adminSession.hdr(false), want: 403, check: csrfRefused},
		{name: "csrf: admin PATCH alice to admin without a token", method: "PATCH", path: "/users/" + e.alice.id, ctype: js, body: `{"role":"admin"}`, hdr: e.adminSession.hdr(false), want: 403, check: csrfRefused},
		{name: "csrf: admin PATCH with alice's CSRF token", method: "PATCH", path: "/users/" + e.alice.id, ctype: js, body: `{"role":"admin"}`, hdr: []string{"Cookie", e.adminSession.cookie(), "X-CSRF-Token", as.csrf}, want: 403, check: csrfRefused},
		{name: "csrf: admin PATCH with alice's CSRF cookie and token", method: "PATCH", path: "/users/" + e.alice.id, ctype: js, body: `{"role":"admin"}`, hdr: []string{"Cookie", "__Host-session=" + e.adminSession.sid + "; __Host-csrf=" + as.csrfCookie, "X-CSRF-Token", as.csrf}, want: 403, check: csrfRefused},
		{name: "csrf: admin rotate, valid token, cross-site Origin", method: "POST", path: "/admin/keys/rotate", hdr: e.adminSession.hdr(true, "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"), want: 403},
		{name: "csrf: admin rotate, valid token, Sec-Fetch-Site cross-site", method: "POST", path: "/admin/keys/rotate", hdr: e.adminSession.hdr(true, "Sec-Fetch-Site", "cross-site"), want: 403},
		{name: "csrf: admin PATCH as a form with the token in the body", method: "PATCH", path: "/users/" + e.alice.id, ctype: "application/x-www-form-urlencoded", body: "role=admin&csrf_token=" + url.QueryEscape(e.adminSession.csrf), hdr: e.adminSession.hdr(false, "Origin", "https://evil.example"), want: 403},
		{name: "csrf: token without its cookie", method: "POST", path: "/admin/keys/rotate", hdr: []string{"Cookie", "__Host-session=" + e.adminSession.sid, "X-CSRF-Token", e.adminSession.csrf}, want: 403, check: csrfRefused},
		{name: "csrf: token with one byte changed", method: "POST", path: "/admin/keys/rotate", hdr: []string{"Cookie", e.adminSession.cookie(), "X-CSRF-Token", "A" + e.adminSession.csrf[1:]}, want: 403, check: csrfRefused},
		{name: "csrf: cross-site POST /login (login CSRF)", method: "POST", path: "/login", ctype: "application/x-www-form-urlencoded", body: url.Values{"username": {"alice"}, "password": {e.alice.password}}.Encode(), hdr: []string{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"}, want: 403},

		{name: "session fixation: an attacker-chosen session id is not adopted", fn: func(t *testing.T) {
			fixed := atkB64([]byte(atkRand(16)))
			tok, csrfCookie := e.csrfToken(t, "__Host-session="+fixed)
			form := url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {e.alice.password}}
			r := e.do(t, "POST", "/login", "", "application/x-www-form-urlencoded", form.Encode(), "Cookie", "__Host-session="+fixed+"; __Host-csrf="+csrfCookie)
			if sid := respCookie(r, "__Host-session"); sid == "" || sid == fixed {
				t.Errorf("login with a planted session id: %d, session %q", r.status, sid)
			}
			expectStatus(t, "the planted id", e.do(t, "GET", "/users/me", "", "", "", "Cookie", "__Host-session="+fixed), 401)
		}},
		{name: "session: a wrong password sets no session", fn: func(t *testing.T) {
			tok, csrfCookie := e.csrfToken(t, "")
			form := url.Values{"csrf_token": {tok}, "username": {"alice"}, "password": {"not alice's passphrase"}}
			r := e.do(t, "POST", "/login", "", "application/x-www-form-urlencoded", form.Encode(), "Cookie", "__Host-csrf="+csrfCookie)
			if r.status != 400 || respCookie(r, "__Host-session") != "" {
				t.Errorf("wrong password: %d, session %q", r.status, respCookie(r, "__Host-session"))
			}
		}},
		{name: "session: logout needs CSRF and then ends the session", fn: func(t *testing.T) {
			s := e.sessionLogin(t, e.alice)
			expectStatus(t, "logout without CSRF", e.do(t, "POST", "/logout", "", "", "", s.hdr(false)...), 403)
			expectStatus(t, "still signed in", e.do(t, "GET", "/users/me", "", "", "", s.hdr(false)...), 200)
			expectStatus(t, "logout", e.do(t, "POST", "/logout", "", "", "", s.hdr(true)...), 204)
			expectStatus(t, "after logout", e.do(t, "GET", "/users/me", "", "", "", s.hdr(false)...), 401)
			expectStatus(t, "control: alice's other session", e.do(t, "GET", "/users/me", "", "", "", as.hdr(false)...), 200)
		}},
	}
	return cases
}

func (e *atkEnv) api2Cases(t *testing.T) []atkCase {
	js := "application/json"
	bi := e.bobItems[0]
	hdr, claims, sig := jwtSplit(t, e.alice.access)
	signed := func(h, c map[string]any) string { return jwtSeg(h) + "." + jwtSeg(c) + "." + sig }
	escalated := copyMap(claims, "scope", allScopes)

	// the public keys, to try them as HMAC secrets
	jr := e.do(t, "GET", "/.well-known/jwks.json", "", "", "")
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	if jr.status != 200 || jsonUnmarshal(jr.body, &jwks) != nil || len(jwks.Keys) == 0 {
		t.Fatalf("JWKS: %d %s", jr.status, jr.body)
	}
	_, atkPriv, _ := ed25519.GenerateKey(rand.Reader)
	atkPub := atkPriv.Public().(ed25519.PublicKey)

	type forged struct{ name, tok string }
	var forgeries []forged
	add := func(name, tok string) { forgeries = append(forgeries, forged{name, tok}) }
	add("scope claim raised, original signature", signed(hdr, escalated))
	add("sub changed to admin, original signature", signed(hdr, copyMap(claims, "sub", e.admin.id)))
	add("sub changed to bob, original signature", signed(hdr, copyMap(claims, "sub", e.bob.id)))
	add("scp and scopes claims added", signed(hdr, copyMap(claims, "scp", []string{"users:admin", "keys:admin"}, "scopes", []string{"users:admin", "keys:admin"})))
	add("exp pushed back, original signature", signed(hdr, copyMap(escalated, "exp", time.Now().Add(240*time.Hour).Unix())))
	add("exp in the past", signed(hdr, copyMap(claims, "exp", time.Now().Add(-time.Hour).Unix())))
	add("exp removed", signed(hdr, copyMap(escalated, "exp", nil)))
	add("typ changed to JWT", signed(copyMap(hdr, "typ", "JWT"), escalated))
	for _, a := range []string{"none", "None", "NONE", "nOnE"} {
		h := copyMap(hdr, "alg", a)
		add("alg "+a+", empty signature", jwtSeg(h)+"."+jwtSeg(escalated)+".")
		add("alg "+a+", no signature segment", jwtSeg(h)+"."+jwtSeg(escalated))
	}
	add("alg none, original signature", signed(copyMap(hdr, "alg", "none"), escalated))
	add("alg empty", jwtSeg(copyMap(hdr, "alg", ""))+"."+jwtSeg(escalated)+".")
	for _, k := range jwks.Keys {
		kid, _ := k["kid"].(string)
		x, _ := k["x"].(string)
		raw, _ := base64.RawURLEncoding.DecodeString(x)
		jwkJSON, _ := json.Marshal(k)
		secrets := map[string][]byte{"raw x": raw, "x string": []byte(x), "JWK JSON": jwkJSON, "JWKS document": []byte(jr.body)}
		if len(raw) == ed25519.PublicKeySize {
			if der, err := x509.MarshalPKIXPublicKey(ed25519.PublicKey(raw)); err == nil {
				secrets["PEM"] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
				secrets["DER"] = der
			}
		}
		for sname, s := range secrets {
			add("HS256 keyed with the "+sname+" of kid "+kid, jwtHMAC(sha256.New, copyMap(hdr, "alg", "HS256", "kid", kid), escalated, s))
		}
		add("HS512 keyed with the raw x of kid "+kid, jwtHMAC(sha512.New, copyMap(hdr, "alg", "HS512", "kid", kid), escalated, raw))
		add("kid set to "+kid+", original signature", signed(copyMap(hdr, "kid", kid), escalated))
		add("attacker's Ed25519 key under kid "+kid, jwtEd(copyMap(hdr, "kid", kid), escalated, atkPriv))
	}
	add("kid removed", signed(copyMap(hdr, "kid", nil), escalated))
	add("kid empty", signed(copyMap(hdr, "kid", ""), escalated))
	add("kid path traversal", signed(copyMap(hdr, "kid", "../../../../../../dev/null"), escalated))
	add("kid SQL injection", signed(copyMap(hdr, "kid", "x' UNION SELECT 'AAAA' --"), escalated))
	add("kid 10000 bytes", signed(copyMap(hdr, "kid", strings.Repeat("k", 10000)), escalated))
	add("HS256 with an empty secret and kid path traversal", jwtHMAC(sha256.New, copyMap(hdr, "alg", "HS256", "kid", "../../../../../../dev/null"), escalated, nil))
	add("embedded attacker jwk", jwtEd(copyMap(hdr, "kid", "attacker", "jwk", map[string]any{"kty": "OKP", "crv": "Ed25519", "x": atkB64(atkPub), "kid": "attacker"}), escalated, atkPriv))
	add("jku to an attacker URL", jwtEd(copyMap(hdr, "kid", "attacker", "jku", "https://127.0.0.1:1/jwks.json"), escalated, atkPriv))
	add("x5u to an attacker URL", jwtEd(copyMap(hdr, "kid", "attacker", "x5u", "https://127.0.0.1:1/cert.pem"), escalated, atkPriv))
	add("attacker key, alg ES256 header", jwtEd(copyMap(hdr, "alg", "ES256"), escalated, atkPriv))
	parts := strings.Split(e.alice.access, ".")
	adminParts := strings.Split(e.admin.access, ".")
	add("truncated signature", parts[0]+"."+parts[1]+"."+parts[2][:len(parts[2])/2])
	add("signature of another token", parts[0]+"."+jwtSeg(escalated)+"."+adminParts[2])
	add("admin's header and signature on alice's payload", adminParts[0]+"."+parts[1]+"."+adminParts[2])
	add("padded base64 segments", parts[0]+"=."+parts[1]+"."+parts[2])
	add("four segments", e.alice.access+".x")
	add("JWE-shaped five segments", parts[0]+".."+parts[1]+".."+parts[2])
	add("refresh token as access token", e.alice.refresh)

	cases := []atkCase{
		{name: "forged: empty bearer token", method: "GET", path: "/users", hdr: []string{"Authorization", "Bearer "}, want: 401},
		{name: "forged: attacker key rotates keys", method: "POST", path: "/admin/keys/rotate", tok: jwtEd(hdr, escalated, atkPriv), want: 401},
	}
	for _, f := range forgeries {
		cases = append(cases,
			atkCase{name: "forged: " + f.name + ": GET /users", method: "GET", path: "/users", tok: f.tok, want: 401},
			atkCase{name: "forged: " + f.name + ": GET bob's item", method: "GET", path: "/items/" + bi.ID, tok: f.tok, want: 401},
		)
	}

	// every operation that declares security refuses an anonymous caller
	for _, o := range []struct{ method, path, ctype, body string }{
		{"POST", "/logout", "", ""},
		{"GET", "/protected", "", ""},
		{"GET", "/users/me", "", ""},
		{"PUT", "/users/me/password", js, `{"current_password":"x","new_password":"a long passphrase 1"}`},
		{"POST", "/users", js, `{"username":"anon","password":"anon long passphrase","role":"admin"}`},
		{"GET", "/users", "", ""},
		{"PATCH", "/users/" + e.alice.id, js, `{"role":"admin"}`},
		{"GET", "/admin/audit", "", ""},
		{"POST", "/admin/keys/rotate", "", ""},
		{"POST", "/items/", js, `{"name":"x","price":1}`},
		{"GET", "/items/", "", ""},
		{"GET", "/items/" + bi.ID, "", ""},
		{"PUT", "/items/" + bi.ID, js, `{"name":"x","price":1}`},
		{"DELETE", "/items/" + bi.ID, "", ""},
	} {
		cases = append(cases, atkCase{name: "anonymous " + o.method + " " + strings.Replace(o.path, bi.ID, "{bob's item}", 1), method: o.method, path: o.path, ctype: o.ctype, body: o.body, want: 401})
	}

	cases = append(cases,
		atkCase{name: "access token used as a refresh token", fn: func(t *testing.T) {
			code, _, body := e.refresh(t, e.alice.access, "")
			if code != 400 || !strings.Contains(body, "invalid_grant") {
				t.Errorf("%d %s, want 400 invalid_grant", code, body)
			}
		}},
		atkCase{name: "forged refresh token", fn: func(t *testing.T) {
			code, _, body := e.refresh(t, atkB64([]byte(atkRand(16))), "")
			if code != 400 || !strings.Contains(body, "invalid_grant") {
				t.Errorf("%d %s, want 400 invalid_grant", code, body)
			}
		}},
		atkCase{name: "user asks for admin scopes at login", fn: func(t *testing.T) {
			for _, s := range []string{"users:admin", "keys:admin", "items:read users:admin", allScopes, "items:read+users:admin", "items:read,users:admin", "items:read\tusers:admin", "items:read\nusers:admin", "USERS:ADMIN", "users:admin ", "*", "admin", "users:*"} {
				code, tr, body := e.loginForm(t, e.alice, s)
				if code != 400 || !strings.Contains(body, "invalid_scope") {
					t.Errorf("scope %q: %d %s (scope granted %q), want 400 invalid_scope", s, code, body, tr.Scope)
				}
			}
		}},
		atkCase{name: "a narrowed grant stays narrow across refreshes", fn: func(t *testing.T) {
			code, tr, body := e.loginForm(t, e.alice, "items:read")
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			for _, s := range []string{"items:read items:write", "users:admin", allScopes} {
				if c, _, b := e.refresh(t, tr.RefreshToken, s); c != 400 || !strings.Contains(b, "invalid_scope") {
					t.Errorf("refresh widening to %q: %d %s, want 400 invalid_scope", s, c, b)
				}
			}
			c, nt, b := e.refresh(t, tr.RefreshToken, "")
			if c != 200 {
				t.Fatalf("plain refresh: %d %s", c, b)
			}
			if nt.Scope != "items:read" {
				t.Errorf("a refresh without scope widened the grant to %q", nt.Scope)
			}
			r := e.do(t, "POST", "/items/", nt.AccessToken, js, `{"name":"x","price":1}`)
			expectStatus(t, "create with the refreshed read-only token", r, 403)
		}},
		atkCase{name: "unknown user and wrong password answer alike", fn: func(t *testing.T) {
			_, _, b1 := postToken(t, e.c, e.base, url.Values{"grant_type": {"password"}, "username": {"nosuchuser-" + atkRand(4)}, "password": {"some long passphrase"}})
			code, _, b2 := postToken(t, e.c, e.base, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"some long passphrase"}})
			if code != 400 || b1 != b2 {
				t.Errorf("unknown user %q vs wrong password %d %q", b1, code, b2)
			}
		}},
		atkCase{name: "logout revokes the access and the refresh token", fn: func(t *testing.T) {
			u := e.createUser(t, "carol", "user")
			expectStatus(t, "logout", e.do(t, "POST", "/logout", u.access, "", ""), 204)
			expectStatus(t, "access token after logout", e.do(t, "GET", "/protected", u.access, "", ""), 401)
			if c, _, b := e.refresh(t, u.refresh, ""); c != 400 {
				t.Errorf("refresh after logout: %d %s", c, b)
			}
		}},
		atkCase{name: "a refresh token replayed within the grace gets the same successor, and a replay after the chain moved on revokes it", fn: func(t *testing.T) {
			// DESIGN §5: a concurrent-refresh grace may answer a replay with
			// the same successor, never a second chain. Was finding F3: the
			// replay minted an independent pair that lived on unnoticed.
			u := e.createUser(t, "replay", "user")
			c, legit, b := e.refresh(t, u.refresh, "")
			if c != 200 {
				t.Fatalf("first refresh: %d %s", c, b)
			}
			c, stolen, b := e.refresh(t, u.refresh, "")
			if c != 200 || stolen.RefreshToken != legit.RefreshToken {
				t.Fatalf("a replay within the grace: %d %s; want 200 with the same successor", c, b)
			}
			c, next, b := e.refresh(t, legit.RefreshToken, "")
			if c != 200 {
				t.Fatalf("the client refreshes with the successor: %d %s", c, b)
			}
			c, next2, b := e.refresh(t, next.RefreshToken, "")
			if c != 200 {
				t.Fatalf("the client refreshes again: %d %s", c, b)
			}
			if c, _, b := e.refresh(t, u.refresh, ""); c != 400 || !strings.Contains(b, "invalid_grant") {
				t.Errorf("the first token replayed after the chain moved on: %d %s, want 400 invalid_grant", c, b)
			}
			if c, _, b := e.refresh(t, next2.RefreshToken, ""); c != 400 {
				t.Errorf("the family's current refresh token after the reuse: %d %s, want 400", c, b)
			}
			expectStatus(t, "the family's access token after the reuse", e.do(t, "GET", "/protected", next2.AccessToken, "", ""), 401)
		}},
		atkCase{name: "refresh token reuse (after 11s) revokes the whole session", fn: func(t *testing.T) {
			time.Sleep(time.Until(e.frankRotatedAt.Add(11 * time.Second)))
			expectStatus(t, "control: frank's current access token", e.do(t, "GET", "/protected", e.frankNew.AccessToken, "", ""), 200)
			before := e.auditCount(t, "token.refresh_reuse")
			if c, _, b := e.refresh(t, e.frankOld, ""); c != 400 || !strings.Contains(b, "invalid_grant") {
				t.Errorf("reused refresh token: %d %s, want 400 invalid_grant", c, b)
			}
			if c, _, b := e.refresh(t, e.frankNew.RefreshToken, ""); c != 400 {
				t.Errorf("the session's newer refresh token still works after the reuse: %d %s", c, b)
			}
			expectStatus(t, "the session's access token after the reuse", e.do(t, "GET", "/protected", e.frankNew.AccessToken, "", ""), 401)
			if n := e.auditCount(t, "token.refresh_reuse"); n != before+1 {
				t.Errorf("the audit shows %d refresh token reuses, want %d", n, before+1)
			}
		}},
		atkCase{name: "demoting an admin revokes the admin token at once", fn: func(t *testing.T) {
			u := e.createUser(t, "dave", "admin")
			ds := e.sessionLogin(t, u)
			expectStatus(t, "control: dave lists users", e.do(t, "GET", "/users", u.access, "", ""), 200)
			expectStatus(t, "control: dave's session lists users", e.do(t, "GET", "/users", "", "", "", ds.hdr(false)...), 200)
			expectStatus(t, "demotion", e.do(t, "PATCH", "/users/"+u.id, e.admin.access, js, `{"role":"user"}`), 200)
			e.roles["dave"] = "user"
			e.roleChanges++
			expectStatus(t, "dave's old admin token on GET /users", e.do(t, "GET", "/users", u.access, "", ""), 401)
			expectStatus(t, "dave's old admin token on rotate", e.do(t, "POST", "/admin/keys/rotate", u.access, "", ""), 401)
			expectStatus(t, "dave's admin session after the demotion", e.do(t, "GET", "/users", "", "", "", ds.hdr(false)...), 401)
			if c, tr, b := e.refresh(t, u.refresh, ""); c != 400 {
				t.Errorf("dave's old refresh token: %d %s (scope %q)", c, b, tr.Scope)
			}
			e.login(t, u)
			expectStatus(t, "dave's new token on GET /users", e.do(t, "GET", "/users", u.access, "", ""), 403)
		}},
		atkCase{name: "promoting a user does not widen the user's old token", fn: func(t *testing.T) {
			u := e.createUser(t, "erin", "user")
			expectStatus(t, "promotion", e.do(t, "PATCH", "/users/"+u.id, e.admin.access, js, `{"role":"admin"}`), 200)
			e.roles["erin"] = "admin"
			e.roleChanges++
			expectStatus(t, "erin's pre-promotion token on GET /users", e.do(t, "GET", "/users", u.access, "", ""), 401)
			expectStatus(t, "demotion back", e.do(t, "PATCH", "/users/"+u.id, e.admin.access, js, `{"role":"user"}`), 200)
			e.roles["erin"] = "user"
			e.roleChanges++
		}},
		atkCase{name: "disabling a user revokes at once and login fails like a wrong password", fn: func(t *testing.T) {
			u := e.createUser(t, "gina", "user")
			it := e.createItem(t, u.access, "gina's", "", 1)
			gs := e.sessionLogin(t, u)
			expectStatus(t, "disable", e.do(t, "PATCH", "/users/"+u.id, e.admin.access, js, `{"disabled":true}`), 200)
			e.disabled["gina"] = true
			expectStatus(t, "disabled user's token", e.do(t, "GET", "/items/"+it.ID, u.access, "", ""), 401)
			expectStatus(t, "disabled user's session", e.do(t, "GET", "/items/"+it.ID+"/view", "", "", "", gs.hdr(false)...), 401)
			if c, _, b := e.refresh(t, u.refresh, ""); c != 400 {
				t.Errorf("disabled user's refresh: %d %s", c, b)
			}
			c, _, b := e.loginForm(t, u, "")
			_, _, wrong := postToken(t, e.c, e.base, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"not alice's passphrase"}})
			if c != 400 || b != wrong {
				t.Errorf("disabled user's login: %d %s, want the wrong-password answer %s", c, b, wrong)
			}
		}},
		atkCase{name: "a password change revokes the other sessions", fn: func(t *testing.T) {
			u := e.createUser(t, "hank", "user")
			other := *u
			e.login(t, &other)
			hs := e.sessionLogin(t, u)
			np := "hank's new passphrase " + atkRand(6)
			e.never = append(e.never, np)
			r := e.do(t, "PUT", "/users/me/password", u.access, js, `{"current_password":`+jsonString(u.password)+`,"new_password":`+jsonString(np)+`}`)
			expectStatus(t, "password change", r, 204)
			expectStatus(t, "the other session's access token", e.do(t, "GET", "/protected", other.access, "", ""), 401)
			expectStatus(t, "the browser session", e.do(t, "GET", "/protected", "", "", "", hs.hdr(false)...), 401)
			if c, _, b := e.refresh(t, other.refresh, ""); c != 400 {
				t.Errorf("the other session's refresh token: %d %s", c, b)
			}
			if c, _, _ := e.loginForm(t, u, ""); c != 400 {
				t.Errorf("the old password still logs in: %d", c)
			}
		}},
		atkCase{name: "SQL injection payloads as username", fn: func(t *testing.T) {
			n := 0
			for _, p := range sqliPayloads(t) {
				if len(p) > 64 || n >= 15 {
					continue
				}
				n++
				code, tr, body := postToken(t, e.c, e.base, url.Values{"grant_type": {"password"}, "username": {p}, "password": {"x' OR '1'='1"}})
				if code != 400 || tr.AccessToken != "" {
					t.Errorf("username %q: %d %s", p, code, body)
				}
			}
		}},
	)
	return cases
}

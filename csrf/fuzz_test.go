package csrf_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/csrf"
)

// FuzzValid feeds arbitrary session ids and tokens to Valid. It must never
// panic, and whatever it accepts must be exactly the token Token would
// mint for that session from the token's own random half: one spelling,
// the right MAC. Since the fuzzer cannot compute HMACs, in practice only
// the seeded tokens are accepted, and the property checks those.
func FuzzValid(f *testing.F) {
	p := newProtector(f)
	for _, sid := range []string{"", "s1", "s2", "\x00", strings.Repeat("long", 100)} {
		tok := mint(f, p, sid)
		f.Add(sid, tok)
		f.Add(sid+"x", tok)
		f.Add(sid, tok[:len(tok)-1]+"B")
		f.Add(sid, tok+"=")
		f.Add(sid, strings.Replace(tok, ".", "", 1))
	}
	f.Add("s1", "")
	f.Add("s1", ".")
	f.Add("s1", strings.Repeat("A", csrf.TokenLen))
	f.Fuzz(func(t *testing.T, sid, token string) {
		if !p.Valid(sid, token) {
			return
		}
		rnd, _, ok := strings.Cut(token, ".")
		raw, err := base64.RawURLEncoding.DecodeString(rnd)
		if !ok || err != nil || len(raw) != 32 {
			t.Fatalf("Valid(%q, %q) accepted a token whose random half does not decode", sid, token)
		}
		if want := reference(testKey, sid, raw); token != want {
			t.Fatalf("Valid(%q, %q) accepted a token it did not mint (would mint %q)", sid, token, want)
		}
	})
}

// FuzzTamper changes one byte of a freshly minted token, or checks it
// against another session id: Valid must refuse every change.
func FuzzTamper(f *testing.F) {
	p := newProtector(f)
	f.Add("s1", "s2", uint16(0), byte('A'))
	f.Add("", "s1", uint16(43), byte('_'))
	f.Add("s1", "s1\x00", uint16(86), byte('='))
	f.Add("a", "", uint16(42), byte('\n'))
	f.Fuzz(func(t *testing.T, sid, other string, pos uint16, b byte) {
		tok := mint(t, p, sid)
		if !p.Valid(sid, tok) {
			t.Fatalf("Valid refused a fresh token for %q", sid)
		}
		if other != sid && p.Valid(other, tok) {
			t.Fatalf("a token for %q is valid for %q", sid, other)
		}
		m := []byte(tok)
		m[int(pos)%len(m)] = b
		if string(m) != tok && p.Valid(sid, string(m)) {
			t.Fatalf("accepted tampered token %q (from %q)", m, tok)
		}
	})
}

// FuzzCheck sends arbitrary Cookie, X-CSRF-Token, Content-Type, Accept
// and body through the middleware. It must never panic or answer 500, and
// it may let the request through only if the one valid token (for
// session s1) is both in a cookie and submitted.
func FuzzCheck(f *testing.F) {
	// A fixed Rand makes tok the same in the fuzzing coordinator, which
	// stores the seeds, and in every worker, which checks them.
	p := newProtector(f, func(o *csrf.Options) { o.Rand = &countingReader{} })
	tok := mint(f, p, "s1")
	f.Add("__Host-csrf="+tok, tok, "", "", "")
	f.Add("__Host-csrf="+tok, "", "application/x-www-form-urlencoded", "text/html", "csrf_token="+tok)
	f.Add("__Host-csrf="+tok, "", "application/x-www-form-urlencoded; charset=utf-8", "*/*", "a=%zz&csrf_token="+tok)
	f.Add("__Host-csrf=x; __Host-csrf="+tok, "x", "application/json", "application/json;q=0.1, text/html", `{"csrf_token":"`+tok+`"}`)
	f.Add("", "", "multipart/form-data; boundary=x", "text/html;q=2", "--x--")
	f.Fuzz(func(t *testing.T, cookie, header, contentType, accept, body string) {
		reached := false
		h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { reached = true }),
			func(*http.Request) (string, bool) { return "s1", true })
		r := httptest.NewRequest(http.MethodPost, "https://app.example/x", strings.NewReader(body))
		for k, v := range map[string]string{"Cookie": cookie, "X-CSRF-Token": header, "Content-Type": contentType, "Accept": accept} {
			if v != "" {
				r.Header.Set(k, v)
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("status %d", w.Code)
		}
		if !reached {
			if w.Code != http.StatusForbidden && w.Code != http.StatusRequestEntityTooLarge && w.Code != http.StatusBadRequest {
				t.Fatalf("refused with %d", w.Code)
			}
			if strings.Contains(w.Body.String(), tok) {
				t.Fatal("refusal echoes the token")
			}
			return
		}
		if cookie == "" {
			return // exempt: no Cookie header
		}
		if !strings.Contains(cookie, tok) || !(header == tok || strings.Contains(body, tok)) {
			t.Fatalf("passed without the valid token in cookie and submission: cookie %q header %q body %q", cookie, header, body)
		}
	})
}

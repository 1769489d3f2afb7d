package csrf_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/csrf"
)

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name    string
		o       csrf.Options
		wantErr string // substring; "" means success
	}{
		{"no key", csrf.Options{}, "Key is required"},
		{"short key", csrf.Options{Key: testKey[:31]}, "31 bytes"},
		{"zero key", csrf.Options{Key: make([]byte, 32)}, "all zero"},
		{"negative MaxFormBytes", csrf.Options{Key: testKey, MaxFormBytes: -1}, "MaxFormBytes"},
		{"minimal", csrf.Options{Key: testKey}, ""},
		{"long key", csrf.Options{Key: append(append([]byte{}, testKey...), testKey...)}, ""},
		{"good origins", csrf.Options{Key: testKey, TrustedOrigins: []string{
			"https://app.example", "http://localhost:8080", "https://[::1]:8443", "HTTPS://Partner.Example:443",
		}}, ""},
	}
	bad := []string{
		"", "app.example", "//app.example", "https://", "https://app.example/",
		"https://app.example/path", "https://app.example?x=1", "https://app.example#f",
		"https://user@app.example", "https://*.example", "*", "null", "https://app.example:",
		"https://app.example:99999", "https://app.example:0443", "https:app.example", "https://app .example",
		"https://bücher.example", "https://app.example\\",
	}
	for _, o := range bad {
		tests = append(tests, struct {
			name    string
			o       csrf.Options
			wantErr string
		}{"bad origin " + o, csrf.Options{Key: testKey, TrustedOrigins: []string{"https://fine.example", o}}, fmt.Sprintf("TrustedOrigins: %q", o)})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := csrf.New(tc.o)
			if tc.wantErr == "" {
				if err != nil || p == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("New accepted %+v", tc.o)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not mention %q", err, tc.wantErr)
			}
		})
	}
}

func TestKeyIsCopied(t *testing.T) {
	key := append([]byte(nil), testKey...)
	p, err := csrf.New(csrf.Options{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	tok := mint(t, p, "s1")
	key[0] ^= 0xff
	if !p.Valid("s1", tok) {
		t.Fatal("changing the caller's key slice changed the Protector's key")
	}
}

// reference computes the token for sessionID and rnd independently of the
// package, from the documented format.
func reference(key []byte, sessionID string, rnd []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("fortapi/csrf v1\x00"))
	m.Write(binary.BigEndian.AppendUint64(nil, uint64(len(sessionID))))
	m.Write([]byte(sessionID))
	m.Write(rnd)
	enc := base64.RawURLEncoding
	return enc.EncodeToString(rnd) + "." + enc.EncodeToString(m.Sum(nil))
}

func TestTokenFormat(t *testing.T) {
	for _, sid := range []string{"", "s1", "a much longer session identifier with spaces and \x00 bytes"} {
		t.Run(sid, func(t *testing.T) {
			p := newProtector(t, func(o *csrf.Options) { o.Rand = &countingReader{} })
			rnd := make([]byte, 32)
			(&countingReader{}).Read(rnd)
			got := mint(t, p, sid)
			if want := reference(testKey, sid, rnd); got != want {
				t.Fatalf("Token = %q, want %q", got, want)
			}
			if len(got) != csrf.TokenLen || csrf.TokenLen != 87 {
				t.Fatalf("len = %d, TokenLen = %d, want 87", len(got), csrf.TokenLen)
			}
			if !p.Valid(sid, got) {
				t.Fatal("Valid refused its own token")
			}
		})
	}
}

func TestTokensAreFresh(t *testing.T) {
	p := newProtector(t)
	seen := map[string]bool{}
	for range 100 {
		tok := mint(t, p, "s1")
		if seen[tok] {
			t.Fatal("Token repeated a token")
		}
		seen[tok] = true
	}
}

func TestValidRefuses(t *testing.T) {
	p := newProtector(t)
	tok := mint(t, p, "s1")
	other := newProtector(t, func(o *csrf.Options) { o.Key = otherKey })
	rnd, mac, _ := strings.Cut(tok, ".")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	tests := []struct {
		name, sid, token string
	}{
		{"empty", "s1", ""},
		{"other session", "s2", tok},
		{"anonymous session", "", tok},
		{"session prefix", "s", tok},
		{"session extended", "s1\x00", tok},
		{"other key", "s1", mint(t, other, "s1")},
		{"tampered random", "s1", flip(rnd, 5) + "." + mac},
		{"tampered mac", "s1", rnd + "." + flip(mac, 5)},
		{"swapped halves", "s1", mac + "." + rnd},
		{"random only", "s1", rnd},
		{"mac only", "s1", mac},
		{"overlong", "s1", tok + "A"},
		{"padded", "s1", tok + "="},
		{"truncated", "s1", tok[:len(tok)-1]},
		{"no dot", "s1", rnd + "_" + mac},
		{"std alphabet", "s1", strings.Replace(tok, tok[3:4], "+", 1)},
		{"newline in random", "s1", "\n" + rnd[1:] + "." + mac},
		{"newline in mac", "s1", rnd + "." + mac[:42] + "\n"},
		{"non-zero trailing bits in random", "s1", sloppy(rnd) + "." + mac},
		{"non-zero trailing bits in mac", "s1", rnd + "." + sloppy(mac)},
		{"garbage", "s1", strings.Repeat("!", csrf.TokenLen)},
		{"huge", "s1", strings.Repeat(tok, 1000)},
		{"non-ASCII", "s1", strings.Repeat("é", csrf.TokenLen/2) + "."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.token == tok && tc.sid == "s1" {
				t.Fatal("test case does not change anything")
			}
			if p.Valid(tc.sid, tc.token) {
				t.Errorf("Valid(%q, %q) = true", tc.sid, tc.token)
			}
		})
	}
	if !p.Valid("s1", tok) {
		t.Fatal("the untouched token was refused; every case above proves nothing")
	}
}

// sloppy re-spells a 43-character base64url string with non-zero trailing
// bits: a lenient decoder reads the same bytes from it.
func sloppy(s string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, s[len(s)-1])
	return s[:len(s)-1] + string(alphabet[i+1]) // i is a multiple of 4
}

func TestSloppyDecodesTheSame(t *testing.T) {
	p := newProtector(t)
	rnd, _, _ := strings.Cut(mint(t, p, "s1"), ".")
	a, err1 := base64.RawURLEncoding.DecodeString(rnd)
	b, err2 := base64.RawURLEncoding.DecodeString(sloppy(rnd))
	if err1 != nil || err2 != nil || string(a) != string(b) || sloppy(rnd) == rnd {
		t.Fatal("sloppy does not make a second spelling; the trailing-bits cases prove nothing")
	}
}

// TestValidRefusesEverySubstitution changes each character of a token to
// every other character of the alphabet (and a few outside it).
func TestValidRefusesEverySubstitution(t *testing.T) {
	p := newProtector(t)
	tok := mint(t, p, "s1")
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+/= \n\x00"
	b := []byte(tok)
	for i := range b {
		orig := b[i]
		for j := 0; j < len(alphabet); j++ {
			if alphabet[j] == orig {
				continue
			}
			b[i] = alphabet[j]
			if p.Valid("s1", string(b)) {
				t.Errorf("accepted %q (position %d changed to %q)", b, i, alphabet[j])
			}
		}
		b[i] = orig
	}
}

func TestTokenRandFailure(t *testing.T) {
	tests := []struct {
		name string
		r    func() *csrf.Protector
	}{
		{"error", func() *csrf.Protector { return newProtector(t, func(o *csrf.Options) { o.Rand = errReader{} }) }},
		{"short", func() *csrf.Protector {
			return newProtector(t, func(o *csrf.Options) { o.Rand = strings.NewReader("only sixteen byt") })
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.r()
			if tok, err := p.Token("s1"); err == nil || tok != "" {
				t.Fatalf("Token = %q, %v; want an error", tok, err)
			}
			w := httptest.NewRecorder()
			if tok, err := p.Issue(w, "s1"); err == nil || tok != "" {
				t.Fatalf("Issue = %q, %v; want an error", tok, err)
			}
			if sc := w.Header().Values("Set-Cookie"); len(sc) != 0 {
				t.Fatalf("Issue set a cookie after failing: %q", sc)
			}
		})
	}
}

func TestCookieAttributes(t *testing.T) {
	p := newProtector(t)
	w := httptest.NewRecorder()
	tok, err := p.Issue(w, "s1")
	if err != nil {
		t.Fatal(err)
	}
	lines := w.Result().Header.Values("Set-Cookie")
	if len(lines) != 1 {
		t.Fatalf("Set-Cookie lines = %q, want one", lines)
	}
	raw := lines[0]
	c, err := http.ParseSetCookie(raw)
	if err != nil {
		t.Fatalf("ParseSetCookie(%q): %v", raw, err)
	}
	checks := []struct {
		name string
		ok   bool
	}{
		{"name __Host-csrf", c.Name == "__Host-csrf" && csrf.CookieName == "__Host-csrf"},
		{"value is the token", c.Value == tok},
		{"Secure", c.Secure},
		{"HttpOnly", c.HttpOnly},
		{"Path=/", c.Path == "/"},
		{"no Domain", c.Domain == "" && !strings.Contains(strings.ToLower(raw), "domain")},
		{"SameSite=Lax", c.SameSite == http.SameSiteLaxMode && strings.Contains(raw, "SameSite=Lax")},
		{"session cookie", c.MaxAge == 0 && c.Expires.IsZero()},
		{"not partitioned", !c.Partitioned},
	}
	for _, ch := range checks {
		t.Run(ch.name, func(t *testing.T) {
			if !ch.ok {
				t.Errorf("Set-Cookie %q fails %s", raw, ch.name)
			}
		})
	}
}

func TestEnsure(t *testing.T) {
	p := newProtector(t)
	s1 := mint(t, p, "s1")
	tests := []struct {
		name     string
		cookie   string
		sid      string
		wantSame bool
	}{
		{"valid cookie is reused", "__Host-csrf=" + s1, "s1", true},
		{"valid among others", "a=b; __Host-csrf=junk; __Host-csrf=" + s1, "s1", true},
		{"other session's cookie is replaced", "__Host-csrf=" + s1, "s2", false},
		{"garbage is replaced", "__Host-csrf=junk", "s1", false},
		{"no cookie", "", "s1", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "https://app.example/form", nil)
			if tc.cookie != "" {
				r.Header.Set("Cookie", tc.cookie)
			}
			w := httptest.NewRecorder()
			got, err := p.Ensure(w, r, tc.sid)
			if err != nil {
				t.Fatal(err)
			}
			setCookie := len(w.Header().Values("Set-Cookie")) > 0
			if (got == s1) != tc.wantSame || setCookie == tc.wantSame {
				t.Fatalf("Ensure = %q (reused %v, set cookie %v), want reused %v", got, got == s1, setCookie, tc.wantSame)
			}
			if !p.Valid(tc.sid, got) {
				t.Fatal("Ensure returned a token that is not valid for the session")
			}
		})
	}
}

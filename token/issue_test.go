package token

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/fortapi/fortapi/jwtkey"
)

func TestNewOptions(t *testing.T) {
	keys := newTestKeys(t)
	base := Options{Issuer: testIssuer, Audience: testAudience, Keys: keys}
	for _, c := range []struct {
		name string
		mod  func(*Options)
		ok   bool
	}{
		{"minimal", func(*Options) {}, true},
		{"no issuer", func(o *Options) { o.Issuer = "" }, false},
		{"issuer with control character", func(o *Options) { o.Issuer = "a\nb" }, false},
		{"no audience", func(o *Options) { o.Audience = "" }, false},
		{"no keys", func(o *Options) { o.Keys = nil }, false},
		{"lifetime 1s", func(o *Options) { o.Lifetime = time.Second }, true},
		{"lifetime 24h", func(o *Options) { o.Lifetime = 24 * time.Hour }, true},
		{"lifetime above 24h", func(o *Options) { o.Lifetime = 24*time.Hour + time.Second }, false},
		{"lifetime below 1s", func(o *Options) { o.Lifetime = 999 * time.Millisecond }, false},
		{"lifetime negative", func(o *Options) { o.Lifetime = -time.Minute }, false},
		{"leeway 1s", func(o *Options) { o.Leeway = time.Second }, true},
		{"leeway 31s", func(o *Options) { o.Leeway = 31 * time.Second }, false},
		{"leeway negative", func(o *Options) { o.Leeway = -time.Second }, false},
		{"leeway below 1s", func(o *Options) { o.Leeway = time.Millisecond }, false},
		{"cache disabled", func(o *Options) { o.CacheSize = -1 }, true},
		{"cache 1", func(o *Options) { o.CacheSize = 1 }, true},
		{"cache max", func(o *Options) { o.CacheSize = MaxCacheSize }, true},
		{"cache above max", func(o *Options) { o.CacheSize = MaxCacheSize + 1 }, false},
		{"max bytes 512", func(o *Options) { o.MaxTokenBytes = 512 }, true},
		{"max bytes 511", func(o *Options) { o.MaxTokenBytes = 511 }, false},
		{"max bytes 8193", func(o *Options) { o.MaxTokenBytes = 8193 }, false},
		{"max bytes negative", func(o *Options) { o.MaxTokenBytes = -1 }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := base
			c.mod(&o)
			s, err := New(o)
			if (err == nil) != c.ok {
				t.Fatalf("New: err = %v, want ok %v", err, c.ok)
			}
			if err != nil && s != nil {
				t.Fatal("non-nil Service with an error")
			}
		})
	}
}

func TestNewDefaults(t *testing.T) {
	s, err := New(Options{Issuer: testIssuer, Audience: testAudience, Keys: newTestKeys(t)})
	if err != nil {
		t.Fatal(err)
	}
	if s.lifetime != 15*time.Minute || s.Lifetime() != 15*time.Minute {
		t.Errorf("lifetime %v", s.lifetime)
	}
	if s.leeway != 30*time.Second {
		t.Errorf("leeway %v", s.leeway)
	}
	if s.maxBytes != 8192 {
		t.Errorf("max bytes %d", s.maxBytes)
	}
	if s.cache == nil || s.cache.capacity() != DefaultCacheSize {
		t.Errorf("cache capacity %d", s.cache.capacity())
	}
	if s.now == nil || s.rand == nil {
		t.Error("no clock or randomness")
	}
	d, err := New(Options{Issuer: testIssuer, Audience: testAudience, Keys: newTestKeys(t), CacheSize: -1, Lifetime: 90*time.Second + 500*time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if d.cache != nil {
		t.Error("negative CacheSize did not disable the cache")
	}
	if d.Lifetime() != 90*time.Second {
		t.Errorf("lifetime %v, want whole seconds", d.Lifetime())
	}
}

func TestIssueClaims(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Rand = bytes.NewReader(bytes.Repeat([]byte{0xff}, 16)) })
	e.clock.Set(time.Date(2026, 3, 1, 12, 0, 0, 999999999, time.UTC))
	scopes := []string{"items:read", "items:write"}
	tok, c, err := e.svc.Issue("alice", "s1", scopes)
	if err != nil {
		t.Fatal(err)
	}
	scopes[0] = "changed"
	iat := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	want := Claims{
		Issuer: testIssuer, Subject: "alice", Audience: testAudience,
		ID: "_____________________w", SessionID: "s1",
		Scopes:   []string{"items:read", "items:write"},
		IssuedAt: iat, NotBefore: iat, ExpiresAt: iat.Add(15 * time.Minute), KeyID: "ed1",
	}
	if !equalClaims(c, want) {
		t.Errorf("claims\n got %+v\nwant %+v", c, want)
	}
	body := decode(t, strings.Split(tok, ".")[1])
	wantBody := `{"iss":"https://api.example","sub":"alice","aud":"fortapi","exp":1772367300,"nbf":1772366400,"iat":1772366400,"jti":"_____________________w","scope":"items:read items:write","sid":"s1"}`
	if body != wantBody {
		t.Errorf("payload\n got %s\nwant %s", body, wantBody)
	}
	// The Rand is exhausted now.
	if _, _, err := e.svc.Issue("alice", "s1", nil); err == nil {
		t.Error("Issue succeeded without random bytes")
	}
}

func TestIssueUniqueIDs(t *testing.T) {
	e := newEnv(t, nil)
	seen := map[string]bool{}
	for range 1000 {
		_, c, err := e.svc.Issue("alice", "s1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if seen[c.ID] || len(c.ID) != 22 {
			t.Fatalf("jti %q repeated or not 128 bits", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestIssueRefusesBadInput(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxTokenBytes = 512 })
	long := make([]string, 40)
	for i := range long {
		long[i] = "scope" + strings.Repeat("x", 10) + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	for _, c := range []struct {
		name     string
		sub, sid string
		scopes   []string
	}{
		{"empty subject", "", "s1", nil},
		{"empty session", "alice", "", nil},
		{"subject with NUL", "al\x00ice", "s1", nil},
		{"subject with newline", "alice\n", "s1", nil},
		{"subject with DEL", "alice\x7f", "s1", nil},
		{"subject with C1 control", "alice\u0085", "s1", nil},
		{"subject invalid UTF-8", "alice\xff", "s1", nil},
		{"subject too long", strings.Repeat("a", 257), "s1", nil},
		{"session too long", "alice", strings.Repeat("a", 257), nil},
		{"empty scope", "alice", "s1", []string{""}},
		{"scope with space", "alice", "s1", []string{"items read"}},
		{"scope with quote", "alice", "s1", []string{`items"read`}},
		{"scope with backslash", "alice", "s1", []string{`items\read`}},
		{"scope non-ASCII", "alice", "s1", []string{"itéms"}},
		{"scope repeated", "alice", "s1", []string{"a", "b", "a"}},
		{"scope repeated in a long list", "alice", "s1", append(append([]string{}, long[:20]...), long[3])},
		{"token above MaxTokenBytes", "alice", "s1", long},
	} {
		t.Run(c.name, func(t *testing.T) {
			tok, claims, err := e.svc.Issue(c.sub, c.sid, c.scopes)
			if err == nil || tok != "" || claims.Subject != "" {
				t.Fatalf("Issue = %q, %+v, %v; want an error", tok, claims, err)
			}
		})
	}
	if _, _, err := e.svc.Issue("élève", "s1", []string{"!#[]~"}); err != nil {
		t.Errorf("valid unusual input: %v", err)
	}
}

// badKeys returns one fixed signing key.
type badKeys struct {
	sk  jwtkey.SigningKey
	err error
}

func (b badKeys) Signer() (jwtkey.SigningKey, error)          { return b.sk, b.err }
func (b badKeys) Verifier(string) (jwtkey.VerifyingKey, bool) { return jwtkey.VerifyingKey{}, false }

func TestIssueRefusesBadSigningKeys(t *testing.T) {
	edKeys := newTestKeys(t)
	ed := edKeys.signing("ed1").Key
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		keys badKeys
	}{
		{"source error", badKeys{err: errors.New("no active key")}},
		{"kid with slash", badKeys{sk: jwtkey.SigningKey{ID: "a/b", Alg: jwtkey.EdDSA, Key: ed}}},
		{"kid with quote", badKeys{sk: jwtkey.SigningKey{ID: `a"b`, Alg: jwtkey.EdDSA, Key: ed}}},
		{"kid empty", badKeys{sk: jwtkey.SigningKey{ID: "", Alg: jwtkey.EdDSA, Key: ed}}},
		{"alg none", badKeys{sk: jwtkey.SigningKey{ID: "k", Alg: "none", Key: ed}}},
		{"alg RS256", badKeys{sk: jwtkey.SigningKey{ID: "k", Alg: "RS256", Key: ed}}},
		{"EdDSA with bytes", badKeys{sk: jwtkey.SigningKey{ID: "k", Alg: jwtkey.EdDSA, Key: make([]byte, 64)}}},
		{"ES256 with P-384", badKeys{sk: jwtkey.SigningKey{ID: "k", Alg: jwtkey.ES256, Key: p384}}},
		{"ES256 nil", badKeys{sk: jwtkey.SigningKey{ID: "k", Alg: jwtkey.ES256, Key: (*ecdsa.PrivateKey)(nil)}}},
		{"HS256 short", badKeys{sk: jwtkey.SigningKey{ID: "k", Alg: jwtkey.HS256, Key: make([]byte, 31)}}},
		{"HS256 with a private key", badKeys{sk: jwtkey.SigningKey{ID: "k", Alg: jwtkey.HS256, Key: ed}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := New(Options{Issuer: testIssuer, Audience: testAudience, Keys: c.keys})
			if err != nil {
				t.Fatal(err)
			}
			if tok, _, err := s.Issue("alice", "s1", nil); err == nil {
				t.Fatalf("Issue = %q, want an error", tok)
			}
		})
	}
}

func TestIssueRandError(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Rand = iotest.ErrReader(io.ErrUnexpectedEOF) })
	if _, _, err := e.svc.Issue("alice", "s1", nil); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v", err)
	}
}

// TestIssueLifetime: exp - iat is Lifetime, and a Service with a shorter
// Lifetime refuses tokens of a longer one.
func TestIssueLifetime(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Lifetime = time.Hour })
	tok, c := e.issue(t, "ed1", "alice", "s1")
	if got := c.ExpiresAt.Sub(c.IssuedAt); got != time.Hour {
		t.Errorf("exp - iat = %v", got)
	}
	short, err := New(Options{Issuer: testIssuer, Audience: testAudience, Keys: e.keys, Now: e.clock.Now, Lifetime: 59 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := short.Verify(context.Background(), tok); err != reasonLifetime {
		t.Errorf("err = %v, want %v", err, reasonLifetime)
	}
}

package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fortapi/fortapi/internal/testutil"
	"github.com/fortapi/fortapi/jwtkey"
)

// testKeys is a KeySource over real generated keys: ed1, ed2 (EdDSA), es1
// (ES256) and hs1 (HS256).
type testKeys struct {
	mu        sync.RWMutex
	signer    string
	private   map[string]jwtkey.SigningKey
	verifiers map[string]jwtkey.VerifyingKey
}

func newTestKeys(t testing.TB) *testKeys {
	t.Helper()
	k := &testKeys{
		signer:    "ed1",
		private:   map[string]jwtkey.SigningKey{},
		verifiers: map[string]jwtkey.VerifyingKey{},
	}
	for _, kid := range []string{"ed1", "ed2"} {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.add(jwtkey.SigningKey{ID: kid, Alg: jwtkey.EdDSA, Key: priv}, jwtkey.VerifyingKey{ID: kid, Alg: jwtkey.EdDSA, Key: pub})
	}
	for _, kid := range []string{"es1", "es2"} {
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		k.add(jwtkey.SigningKey{ID: kid, Alg: jwtkey.ES256, Key: priv}, jwtkey.VerifyingKey{ID: kid, Alg: jwtkey.ES256, Key: &priv.PublicKey})
	}
	for _, kid := range []string{"hs1", "hs2"} {
		secret := make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			t.Fatal(err)
		}
		k.add(jwtkey.SigningKey{ID: kid, Alg: jwtkey.HS256, Key: secret}, jwtkey.VerifyingKey{ID: kid, Alg: jwtkey.HS256, Key: secret})
	}
	return k
}

func (k *testKeys) add(sk jwtkey.SigningKey, vk jwtkey.VerifyingKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.private[sk.ID] = sk
	k.verifiers[vk.ID] = vk
}

func (k *testKeys) Signer() (jwtkey.SigningKey, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	sk, ok := k.private[k.signer]
	if !ok {
		return jwtkey.SigningKey{}, errors.New("no signing key")
	}
	return sk, nil
}

func (k *testKeys) Verifier(kid string) (jwtkey.VerifyingKey, bool) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	vk, ok := k.verifiers[kid]
	return vk, ok
}

// setVerifier makes kid name vk, whatever vk.ID says.
func (k *testKeys) setVerifier(kid string, vk jwtkey.VerifyingKey) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.verifiers[kid] = vk
}

// use makes kid the signing key.
func (k *testKeys) use(kid string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.signer = kid
}

// remove withdraws kid: its tokens must stop verifying.
func (k *testKeys) remove(kid string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.verifiers, kid)
}

func (k *testKeys) signing(kid string) jwtkey.SigningKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.private[kid]
}

func (k *testKeys) verifying(kid string) jwtkey.VerifyingKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.verifiers[kid]
}

// newClock is the tests' settable clock, at a fixed start.
func newClock() *testutil.Clock {
	return testutil.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

const (
	testIssuer   = "https://api.example"
	testAudience = "fortapi"
)

// env is a Service with its keys, clock and revocations.
type env struct {
	svc   *Service
	keys  *testKeys
	clock *testutil.Clock
	rev   *Revocations
}

func newEnv(t testing.TB, mod func(*Options)) *env {
	t.Helper()
	e := &env{keys: newTestKeys(t), clock: newClock()}
	e.rev = NewRevocations(RevocationsOptions{Now: e.clock.Now})
	opts := Options{
		Issuer:      testIssuer,
		Audience:    testAudience,
		Keys:        e.keys,
		Revocations: e.rev,
		Now:         e.clock.Now,
	}
	if mod != nil {
		mod(&opts)
	}
	svc, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e.svc = svc
	return e
}

func (e *env) issue(t testing.TB, kid, sub, sid string, scopes ...string) (string, Claims) {
	t.Helper()
	e.keys.use(kid)
	tok, c, err := e.svc.Issue(sub, sid, scopes)
	if err != nil {
		t.Fatalf("Issue: %v", err)
	}
	return tok, c
}

// kv is one JSON member with a raw JSON value.
type kv struct{ k, v string }

func obj(kvs []kv) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, m := range kvs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + m.k + `":` + m.v)
	}
	b.WriteByte('}')
	return b.String()
}

func q(s string) string { return `"` + s + `"` }

func header(alg, kid string) []kv {
	return []kv{{"alg", q(alg)}, {"typ", q("at+jwt")}, {"kid", q(kid)}}
}

func num(t time.Time) string { return itoa(t.Unix()) }

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	if neg {
		b = append([]byte{'-'}, b...)
	}
	return string(b)
}

// claimsAt are valid claims issued at now.
func claimsAt(now time.Time) []kv {
	return []kv{
		{"iss", q(testIssuer)},
		{"sub", q("alice")},
		{"aud", q(testAudience)},
		{"exp", num(now.Add(15 * time.Minute))},
		{"nbf", num(now)},
		{"iat", num(now)},
		{"jti", q("AAAAAAAAAAAAAAAAAAAAAA")},
		{"scope", q("items:read items:write")},
		{"sid", q("s1")},
	}
}

// set returns kvs with member k set to raw v (appended when absent).
func set(kvs []kv, k, v string) []kv {
	out := append([]kv(nil), kvs...)
	for i := range out {
		if out[i].k == k {
			out[i].v = v
			return out
		}
	}
	return append(out, kv{k, v})
}

// without returns kvs without member k.
func without(kvs []kv, k string) []kv {
	var out []kv
	for _, m := range kvs {
		if m.k != k {
			out = append(out, m)
		}
	}
	return out
}

// signRaw builds a token from raw header and payload JSON, signed by the
// private key kid of keys with that key's algorithm.
func signRaw(t testing.TB, keys *testKeys, kid, hdr, body string) string {
	t.Helper()
	sk := keys.signing(kid)
	var m jwt.SigningMethod
	switch sk.Alg {
	case jwtkey.EdDSA:
		m = jwt.SigningMethodEdDSA
	case jwtkey.ES256:
		m = jwt.SigningMethodES256
	case jwtkey.HS256:
		m = jwt.SigningMethodHS256
	default:
		t.Fatalf("no key %q", kid)
	}
	input := base64.RawURLEncoding.EncodeToString([]byte(hdr)) + "." + base64.RawURLEncoding.EncodeToString([]byte(body))
	sig, err := m.Sign(input, sk.Key)
	if err != nil {
		t.Fatal(err)
	}
	if sk.Alg == jwtkey.ES256 {
		lowS(sig) // as Issue does; TestES256OneSpelling covers high s
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// hmacRaw builds a token signed with HS256 under an arbitrary secret.
func hmacRaw(t testing.TB, secret []byte, hdr, body string) string {
	t.Helper()
	input := base64.RawURLEncoding.EncodeToString([]byte(hdr)) + "." + base64.RawURLEncoding.EncodeToString([]byte(body))
	sig, err := jwt.SigningMethodHS256.Sign(input, secret)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// unsigned builds header.payload.sig from raw parts.
func unsigned(hdr, body, sig string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(hdr)) + "." + base64.RawURLEncoding.EncodeToString([]byte(body)) + "." + sig
}

package token

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/jwtkey"
)

// TestVerifyRefusesHostileTokens is the attack table: every token must be
// refused with ErrInvalidToken, for the stated reason, without a panic, both
// with and without the cache.
func TestVerifyRefusesHostileTokens(t *testing.T) {
	for _, cacheSize := range []int{0, -1} {
		e := newEnv(t, func(o *Options) { o.CacheSize = cacheSize })
		now := e.clock.Now()
		ok := claimsAt(now)
		okBody := obj(ok)
		edHdr := obj(header("EdDSA", "ed1"))
		sign := func(kid string, hdr []kv, body []kv) string {
			return signRaw(t, e.keys, kid, obj(hdr), obj(body))
		}
		edPub := e.keys.verifying("ed1").Key.(ed25519.PublicKey)
		esPub := e.keys.verifying("es1").Key.(*ecdsa.PublicKey)
		esDER, err := x509.MarshalPKIXPublicKey(esPub)
		if err != nil {
			t.Fatal(err)
		}
		esPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: esDER})
		edDER, err := x509.MarshalPKIXPublicKey(edPub)
		if err != nil {
			t.Fatal(err)
		}
		attackerPub, attackerPriv, _ := ed25519.GenerateKey(rand.Reader)
		attackerJWK := `{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(attackerPub) + `"}`
		e.keys.add(jwtkey.SigningKey{ID: "attacker", Alg: jwtkey.EdDSA, Key: attackerPriv}, jwtkey.VerifyingKey{})
		e.keys.remove("attacker") // keep the private key for signing only

		valid, _ := e.issue(t, "ed1", "alice", "s1", "items:read")
		validHS, _ := e.issue(t, "hs1", "alice", "s1", "items:read")
		parts := strings.Split(valid, ".")

		type tc struct {
			name string
			tok  string
			want reason
		}
		cases := []tc{
			// Size and shape.
			{"empty", "", reasonSegments},
			{"100 KB of dots", strings.Repeat(".", 100<<10), reasonTooLong},
			{"8193 bytes", valid + "." + strings.Repeat("A", 8192-len(valid)), reasonTooLong},
			{"8192 dots", strings.Repeat(".", 8192), reasonSegments},
			{"two segments", parts[0] + "." + parts[1], reasonSegments},
			{"four segments", valid + "." + parts[2], reasonSegments},
			{"trailing dot", valid + ".", reasonSegments},
			{"stripped signature", parts[0] + "." + parts[1] + ".", reasonSegments},
			{"empty header", "." + parts[1] + "." + parts[2], reasonSegments},
			{"trailing space", valid + " ", reasonSegments},
			{"trailing newline", valid + "\n", reasonSegments},
			{"newline inside signature", parts[0] + "." + parts[1] + "." + parts[2][:10] + "\n" + parts[2][10:], reasonSegments},
			{"padding", valid + "==", reasonSegments},
			{"std base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+/", reasonSegments},
			{"non-base64 segments", "!!!.???.***", reasonSegments},
			{"NUL byte", parts[0] + "\x00." + parts[1] + "." + parts[2], reasonSegments},
			{"unicode", "ü." + parts[1] + "." + parts[2], reasonSegments},
			{"impossible base64 length", "A." + parts[1] + "." + parts[2], reasonEncoding},
			{"non-zero trailing bits", parts[0] + "." + parts[1] + "." + flipLastBits(parts[2]), reasonEncoding},
			{"trailing garbage after signature", valid + "AAAA", reasonSignature},
			{"bearer prefix", "Bearer " + valid, reasonSegments},

			// alg none and friends.
			{"alg none, empty signature", unsigned(obj(header("none", "ed1")), okBody, ""), reasonSegments},
			{"alg None, empty signature", unsigned(obj(header("None", "ed1")), okBody, ""), reasonSegments},
			{"alg none", unsigned(obj(header("none", "ed1")), okBody, "c2ln"), reasonAlgorithm},
			{"alg None", unsigned(obj(header("None", "ed1")), okBody, "c2ln"), reasonAlgorithm},
			{"alg NONE", unsigned(obj(header("NONE", "ed1")), okBody, "c2ln"), reasonAlgorithm},
			{"alg nOnE", unsigned(obj(header("nOnE", "ed1")), okBody, "c2ln"), reasonAlgorithm},
			{"alg none without kid", unsigned(`{"alg":"none","typ":"at+jwt"}`, okBody, "c2ln"), reasonHeaderMissing},
			{"alg missing", unsigned(`{"typ":"at+jwt","kid":"ed1"}`, okBody, "c2ln"), reasonHeaderMissing},
			{"alg empty", sign("ed1", header("", "ed1"), ok), reasonAlgorithm},
			{"alg eddsa lower case", sign("ed1", header("eddsa", "ed1"), ok), reasonAlgorithm},
			{"alg RS256", sign("ed1", header("RS256", "ed1"), ok), reasonAlgorithm},
			{"alg ES256 on EdDSA key", sign("es1", header("ES256", "ed1"), ok), reasonAlgorithm},
			{"alg EdDSA on ES256 key", sign("ed1", header("EdDSA", "es1"), ok), reasonAlgorithm},
			{"alg EdDSA on HS256 key", sign("ed1", header("EdDSA", "hs1"), ok), reasonAlgorithm},
			{"alg as number", unsigned(`{"alg":1,"typ":"at+jwt","kid":"ed1"}`, okBody, "c2ln"), reasonHeaderJSON},

			// HS256 "signed" with a public key (algorithm confusion).
			{"HS256 with Ed25519 public key bytes", hmacRaw(t, edPub, obj(header("HS256", "ed1")), okBody), reasonAlgorithm},
			{"HS256 with Ed25519 public key DER", hmacRaw(t, edDER, obj(header("HS256", "ed1")), okBody), reasonAlgorithm},
			{"HS256 with ES256 public key DER", hmacRaw(t, esDER, obj(header("HS256", "es1")), okBody), reasonAlgorithm},
			{"HS256 with ES256 public key PEM", hmacRaw(t, esPEM, obj(header("HS256", "es1")), okBody), reasonAlgorithm},
			{"HS256 with a guessed secret", hmacRaw(t, []byte("secret"), obj(header("HS256", "hs1")), okBody), reasonSignature},
			{"HS256 with the ES256 PEM on an HS256 kid", hmacRaw(t, esPEM, obj(header("HS256", "hs1")), okBody), reasonSignature},

			// kid.
			{"kid path traversal", sign("ed1", header("EdDSA", "../../etc/passwd"), ok), reasonKeyID},
			{"kid SQL", sign("ed1", header("EdDSA", "' OR 1=1--"), ok), reasonKeyID},
			{"kid empty", sign("ed1", header("EdDSA", ""), ok), reasonKeyID},
			{"kid missing", sign("ed1", without(header("EdDSA", "ed1"), "kid"), ok), reasonHeaderMissing},
			{"kid 200 bytes", sign("ed1", header("EdDSA", strings.Repeat("a", 200)), ok), reasonKeyID},
			{"kid 10 KB", sign("ed1", header("EdDSA", strings.Repeat("a", 10<<10)), ok), reasonTooLong},
			{"kid null", sign("ed1", set(header("EdDSA", "ed1"), "kid", "null"), ok), reasonHeaderJSON},
			{"kid number", sign("ed1", set(header("EdDSA", "ed1"), "kid", "1"), ok), reasonHeaderJSON},
			{"kid NUL escape", sign("ed1", set(header("EdDSA", "ed1"), "kid", `"ed1\u0000"`), ok), reasonKeyID},
			{"kid other case", sign("ed1", header("EdDSA", "ED1"), ok), reasonUnknownKey},
			{"kid unknown", sign("ed1", header("EdDSA", "nope"), ok), reasonUnknownKey},
			{"kid of a withdrawn key", sign("attacker", header("EdDSA", "attacker"), ok), reasonUnknownKey},
			{"kid repeated", signRaw(t, e.keys, "ed1", `{"alg":"EdDSA","typ":"at+jwt","kid":"ed2","kid":"ed1"}`, okBody), reasonHeaderJSON},

			// Key injection through the header.
			{"embedded jwk", signRaw(t, e.keys, "attacker", `{"alg":"EdDSA","typ":"at+jwt","kid":"ed1","jwk":`+attackerJWK+`}`, okBody), reasonHeaderJSON},
			{"embedded jwk as string", sign("attacker", set(header("EdDSA", "ed1"), "jwk", q("x")), ok), reasonHeaderForbidden},
			{"jku", sign("attacker", set(header("EdDSA", "ed1"), "jku", q("https://evil.example/jwks.json")), ok), reasonHeaderForbidden},
			{"x5u", sign("attacker", set(header("EdDSA", "ed1"), "x5u", q("https://evil.example/cert.pem")), ok), reasonHeaderForbidden},
			{"x5c", signRaw(t, e.keys, "attacker", `{"alg":"EdDSA","typ":"at+jwt","kid":"ed1","x5c":["MIIB"]}`, okBody), reasonHeaderJSON},
			{"x5c as string", sign("attacker", set(header("EdDSA", "ed1"), "x5c", q("MIIB")), ok), reasonHeaderForbidden},
			{"x5t", sign("ed1", set(header("EdDSA", "ed1"), "x5t", q("abc")), ok), reasonHeaderForbidden},
			{"crit", signRaw(t, e.keys, "ed1", `{"alg":"EdDSA","typ":"at+jwt","kid":"ed1","crit":["exp"]}`, okBody), reasonHeaderJSON},
			{"crit as string", sign("ed1", set(header("EdDSA", "ed1"), "crit", q("exp")), ok), reasonHeaderForbidden},
			{"zip", sign("ed1", set(header("EdDSA", "ed1"), "zip", q("DEF")), ok), reasonHeaderForbidden},
			{"unknown header member", sign("ed1", set(header("EdDSA", "ed1"), "foo", q("bar")), ok), reasonHeaderUnknown},
			{"escaped header name", signRaw(t, e.keys, "ed1", `{"alg":"EdDSA","typ":"at+jwt","k\u0069d":"ed1"}`, okBody), reasonHeaderJSON},
			{"header not an object", signRaw(t, e.keys, "ed1", `["EdDSA"]`, okBody), reasonHeaderJSON},
			{"header with trailing data", signRaw(t, e.keys, "ed1", edHdr+`{}`, okBody), reasonHeaderJSON},
			{"header not JSON", unsigned("not json", okBody, "c2ln"), reasonHeaderJSON},

			// typ.
			{"typ JWT", sign("ed1", set(header("EdDSA", "ed1"), "typ", q("JWT")), ok), reasonType},
			{"typ missing", sign("ed1", without(header("EdDSA", "ed1"), "typ"), ok), reasonHeaderMissing},
			{"typ empty", sign("ed1", set(header("EdDSA", "ed1"), "typ", q("")), ok), reasonType},
			{"typ at+jwt with suffix", sign("ed1", set(header("EdDSA", "ed1"), "typ", q("at+jwt ")), ok), reasonType},
			{"typ application/jwt", sign("ed1", set(header("EdDSA", "ed1"), "typ", q("application/jwt")), ok), reasonType},

			// Signatures.
			{"signature of another key", sign("ed2", header("EdDSA", "ed1"), ok), reasonSignature},
			{"signature of another ES256 key", sign("es2", header("ES256", "es1"), ok), reasonSignature},
			{"signature of another HS256 key", sign("hs2", header("HS256", "hs1"), ok), reasonSignature},
			{"signature of the attacker", sign("attacker", header("EdDSA", "ed1"), ok), reasonSignature},
			{"signature truncated", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString([]byte(decode(t, parts[2])[:60])), reasonSignature},
			{"signature extended", parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString([]byte(decode(t, parts[2])+"\x00")), reasonSignature},
			{"signature of another token", parts[0] + "." + parts[1] + "." + strings.Split(validHS, ".")[2], reasonSignature},
			{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(decode(t, parts[1]), `"sub":"alice"`, `"sub":"admin"`, 1))) + "." + parts[2], reasonSignature},
			{"tampered header", base64.RawURLEncoding.EncodeToString([]byte(obj(set(header("EdDSA", "ed1"), "typ", q("application/at+jwt"))))) + "." + parts[1] + "." + parts[2], reasonSignature},

			// Claims, each signed with the right key.
			{"iss wrong", sign("ed1", header("EdDSA", "ed1"), set(ok, "iss", q("https://evil.example"))), reasonIssuer},
			{"iss differs in case", sign("ed1", header("EdDSA", "ed1"), set(ok, "iss", q(strings.ToUpper(testIssuer)))), reasonIssuer},
			{"aud wrong", sign("ed1", header("EdDSA", "ed1"), set(ok, "aud", q("other"))), reasonAudience},
			{"aud array with ours", sign("ed1", header("EdDSA", "ed1"), set(ok, "aud", `["`+testAudience+`"]`)), reasonClaimsJSON},
			{"aud array with ours and another", sign("ed1", header("EdDSA", "ed1"), set(ok, "aud", `["other","`+testAudience+`"]`)), reasonClaimsJSON},
			{"expired beyond leeway", sign("ed1", header("EdDSA", "ed1"), set(set(set(ok, "iat", num(now.Add(-15*time.Minute-30*time.Second))), "nbf", num(now.Add(-15*time.Minute-30*time.Second))), "exp", num(now.Add(-30*time.Second)))), reasonExpired},
			{"expired long ago", sign("ed1", header("EdDSA", "ed1"), set(set(set(ok, "iat", num(now.Add(-48*time.Hour))), "nbf", num(now.Add(-48*time.Hour))), "exp", num(now.Add(-48*time.Hour+15*time.Minute)))), reasonExpired},
			{"nbf in the future", sign("ed1", header("EdDSA", "ed1"), set(ok, "nbf", num(now.Add(31*time.Second)))), reasonNotYetValid},
			{"iat in the future", sign("ed1", header("EdDSA", "ed1"), set(set(ok, "iat", num(now.Add(time.Minute))), "exp", num(now.Add(10*time.Minute)))), reasonIssuedInFuture},
			{"exp - iat ten years", sign("ed1", header("EdDSA", "ed1"), set(ok, "exp", num(now.AddDate(10, 0, 0)))), reasonLifetime},
			{"exp - iat one second too long", sign("ed1", header("EdDSA", "ed1"), set(ok, "exp", num(now.Add(15*time.Minute+time.Second)))), reasonLifetime},
			{"exp before iat", sign("ed1", header("EdDSA", "ed1"), set(ok, "exp", num(now.Add(-time.Second)))), reasonLifetime},
			{"exp equals iat", sign("ed1", header("EdDSA", "ed1"), set(ok, "exp", num(now))), reasonLifetime},
			{"exp fractional", sign("ed1", header("EdDSA", "ed1"), set(ok, "exp", num(now)+".5")), reasonClaimsJSON},
			{"exp exponent", sign("ed1", header("EdDSA", "ed1"), set(ok, "exp", "1e10")), reasonClaimsJSON},
			{"exp negative", sign("ed1", header("EdDSA", "ed1"), set(ok, "exp", "-1")), reasonClaimsJSON},
			{"exp huge", sign("ed1", header("EdDSA", "ed1"), set(ok, "exp", "99999999999999999999")), reasonClaimsJSON},
			{"exp leading zero", sign("ed1", header("EdDSA", "ed1"), set(ok, "exp", "0"+num(now))), reasonClaimsJSON},
			{"exp as string", sign("ed1", header("EdDSA", "ed1"), set(ok, "exp", q(num(now.Add(time.Minute))))), reasonClaimType},
			{"exp null", sign("ed1", header("EdDSA", "ed1"), set(ok, "exp", "null")), reasonClaimsJSON},
			{"sub as number", sign("ed1", header("EdDSA", "ed1"), set(ok, "sub", "1")), reasonClaimType},
			{"sub empty", sign("ed1", header("EdDSA", "ed1"), set(ok, "sub", q(""))), reasonSubject},
			{"sub with control character", sign("ed1", header("EdDSA", "ed1"), set(ok, "sub", q(`alice\u0000`))), reasonSubject},
			{"sub invalid UTF-8", sign("ed1", header("EdDSA", "ed1"), set(ok, "sub", "\"\xff\"")), reasonClaimsJSON},
			{"sid empty", sign("ed1", header("EdDSA", "ed1"), set(ok, "sid", q(""))), reasonSession},
			{"jti empty", sign("ed1", header("EdDSA", "ed1"), set(ok, "jti", q(""))), reasonID},
			{"jti short", sign("ed1", header("EdDSA", "ed1"), set(ok, "jti", q("abc"))), reasonID},
			{"scope double space", sign("ed1", header("EdDSA", "ed1"), set(ok, "scope", q("a  b"))), reasonScope},
			{"scope repeated", sign("ed1", header("EdDSA", "ed1"), set(ok, "scope", q("a a"))), reasonScope},
			{"scope with quote", sign("ed1", header("EdDSA", "ed1"), set(ok, "scope", q(`a\"b`))), reasonScope},
			{"scope as array", sign("ed1", header("EdDSA", "ed1"), set(ok, "scope", `["a"]`)), reasonClaimsJSON},
			{"duplicate sub as a tenth member", signRaw(t, e.keys, "ed1", edHdr, strings.TrimSuffix(okBody, "}")+`,"sub":"admin"}`), reasonClaimsJSON},
			{"duplicate sub", signRaw(t, e.keys, "ed1", edHdr, strings.TrimSuffix(obj(without(ok, "sid")), "}")+`,"sub":"admin"}`), reasonClaimDuplicate},
			{"duplicate exp", signRaw(t, e.keys, "ed1", edHdr, strings.TrimSuffix(obj(without(ok, "sid")), "}")+`,"exp":`+num(now.Add(time.Hour))+`}`), reasonClaimDuplicate},
			{"unknown claim", sign("ed1", header("EdDSA", "ed1"), set(ok, "role", q("admin"))), reasonClaimsJSON},
			{"unknown claim instead of one", sign("ed1", header("EdDSA", "ed1"), set(without(ok, "sid"), "role", q("admin"))), reasonClaimUnknown},
			{"escaped claim name", signRaw(t, e.keys, "ed1", edHdr, strings.Replace(okBody, `"sub"`, `"s\u0075b"`, 1)), reasonClaimsJSON},
			{"claims not an object", signRaw(t, e.keys, "ed1", edHdr, `[1,2]`), reasonClaimsJSON},
			{"claims empty object", signRaw(t, e.keys, "ed1", edHdr, `{}`), reasonClaimMissing},
			{"claims with trailing data", signRaw(t, e.keys, "ed1", edHdr, okBody+`x`), reasonClaimsJSON},
			{"claims truncated", signRaw(t, e.keys, "ed1", edHdr, okBody[:len(okBody)-1]), reasonClaimsJSON},
			{"claims not JSON", signRaw(t, e.keys, "ed1", edHdr, `hello`), reasonClaimsJSON},
		}
		for _, name := range []string{"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "scope", "sid"} {
			cases = append(cases, tc{"missing " + name, sign("ed1", header("EdDSA", "ed1"), without(ok, name)), reasonClaimMissing})
		}

		for _, c := range cases {
			t.Run(cacheName(cacheSize)+"/"+c.name, func(t *testing.T) {
				for attempt := 0; attempt < 2; attempt++ { // the second from the cache, if it had cached it
					claims, err := e.svc.Verify(context.Background(), c.tok)
					if claims != nil {
						t.Fatalf("claims returned: %+v", claims)
					}
					if !errors.Is(err, ErrInvalidToken) {
						t.Fatalf("err = %v, want ErrInvalidToken", err)
					}
					if err != c.want {
						t.Fatalf("err = %q, want %q", err, c.want)
					}
				}
			})
		}
	}
}

func cacheName(size int) string {
	if size < 0 {
		return "nocache"
	}
	return "cache"
}

// flipLastBits changes the unused low bits of the last base64 character,
// which a lenient decoder would ignore.
func flipLastBits(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	return seg[:len(seg)-1] + string(alphabet[last^1])
}

func decode(t testing.TB, seg string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestVerifyAcceptsValidTokens covers each algorithm and the accepted
// variants.
func TestVerifyAcceptsValidTokens(t *testing.T) {
	for _, cacheSize := range []int{0, -1} {
		e := newEnv(t, func(o *Options) { o.CacheSize = cacheSize })
		for _, kid := range []string{"ed1", "es1", "hs1"} {
			t.Run(cacheName(cacheSize)+"/issued/"+kid, func(t *testing.T) {
				tok, issued := e.issue(t, kid, "alice", "session-1", "items:read", "items:write")
				for attempt := 0; attempt < 3; attempt++ {
					got, err := e.svc.Verify(context.Background(), tok)
					if err != nil {
						t.Fatalf("Verify: %v", err)
					}
					if !equalClaims(*got, issued) {
						t.Fatalf("claims\n got %+v\nwant %+v", *got, issued)
					}
				}
				hdr := decode(t, strings.Split(tok, ".")[0])
				want := `{"alg":"` + string(e.keys.signing(kid).Alg) + `","typ":"at+jwt","kid":"` + kid + `"}`
				if hdr != want {
					t.Errorf("header %s, want %s", hdr, want)
				}
			})
		}
		now := e.clock.Now()
		ok := claimsAt(now)
		sign := func(kid string, hdr []kv, body []kv) string {
			return signRaw(t, e.keys, kid, obj(hdr), obj(body))
		}
		for _, c := range []struct{ name, tok string }{
			{"typ application/at+jwt", sign("ed1", set(header("EdDSA", "ed1"), "typ", q("application/at+jwt")), ok)},
			{"typ AT+JWT", sign("ed1", set(header("EdDSA", "ed1"), "typ", q("AT+JWT")), ok)},
			{"members in another order with whitespace", signRaw(t, e.keys, "es1", "{ \"kid\" : \"es1\",\n\"typ\":\"at+jwt\" ,\t\"alg\":\"ES256\" }", obj([]kv{ok[8], ok[7], ok[6], ok[5], ok[4], ok[3], ok[2], ok[1], ok[0]}))},
			{"expired within leeway", sign("ed1", header("EdDSA", "ed1"), set(set(set(ok, "iat", num(now.Add(-15*time.Minute-29*time.Second))), "nbf", num(now.Add(-15*time.Minute-29*time.Second))), "exp", num(now.Add(-29*time.Second))))},
			{"nbf within leeway", sign("ed1", header("EdDSA", "ed1"), set(ok, "nbf", num(now.Add(30*time.Second))))},
			{"iat within leeway", sign("ed1", header("EdDSA", "ed1"), set(set(set(ok, "iat", num(now.Add(30*time.Second))), "nbf", num(now.Add(30*time.Second))), "exp", num(now.Add(10*time.Minute))))},
			{"exp - iat exactly Lifetime", sign("ed1", header("EdDSA", "ed1"), set(ok, "exp", num(now.Add(15*time.Minute))))},
			{"empty scope", sign("hs1", header("HS256", "hs1"), set(ok, "scope", q("")))},
			{"escaped subject", sign("hs1", header("HS256", "hs1"), set(ok, "sub", q(`\u00e9l\u00e8ve \"x\"`)))},
		} {
			t.Run(cacheName(cacheSize)+"/"+c.name, func(t *testing.T) {
				for attempt := 0; attempt < 2; attempt++ {
					if _, err := e.svc.Verify(context.Background(), c.tok); err != nil {
						t.Fatalf("Verify: %v", err)
					}
				}
			})
		}
	}
}

func equalClaims(a, b Claims) bool {
	if len(a.Scopes) != len(b.Scopes) {
		return false
	}
	for i := range a.Scopes {
		if a.Scopes[i] != b.Scopes[i] {
			return false
		}
	}
	a.Scopes, b.Scopes = nil, nil
	return a.Issuer == b.Issuer && a.Subject == b.Subject && a.Audience == b.Audience &&
		a.ID == b.ID && a.SessionID == b.SessionID && a.KeyID == b.KeyID &&
		a.IssuedAt.Equal(b.IssuedAt) && a.NotBefore.Equal(b.NotBefore) && a.ExpiresAt.Equal(b.ExpiresAt)
}

func TestVerifyEscapedSubjectIsDecoded(t *testing.T) {
	e := newEnv(t, nil)
	tok := signRaw(t, e.keys, "hs1", obj(header("HS256", "hs1")), obj(set(claimsAt(e.clock.Now()), "sub", q(`\u00e9l\u00e8ve \"x\"`))))
	c, err := e.svc.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != `élève "x"` {
		t.Errorf("subject %q", c.Subject)
	}
}

// TestVerifyTimeFromCache: exp and nbf are re-checked on every cache hit.
func TestVerifyTimeFromCache(t *testing.T) {
	e := newEnv(t, nil)
	now := e.clock.Now()
	future := signRaw(t, e.keys, "ed1", obj(header("EdDSA", "ed1")), obj(set(claimsAt(now), "nbf", num(now.Add(30*time.Second)))))
	tok, c := e.issue(t, "ed1", "alice", "s1")
	for _, x := range []string{tok, future} {
		if _, err := e.svc.Verify(context.Background(), x); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Set(now.Add(-time.Second))
	if _, err := e.svc.Verify(context.Background(), future); err != reasonNotYetValid {
		t.Errorf("cached token before nbf - leeway: %v", err)
	}
	e.clock.Set(c.ExpiresAt.Add(30*time.Second - time.Nanosecond))
	if _, err := e.svc.Verify(context.Background(), tok); err != nil {
		t.Errorf("cached token within leeway: %v", err)
	}
	e.clock.Set(c.ExpiresAt.Add(30 * time.Second))
	if _, err := e.svc.Verify(context.Background(), tok); err != reasonExpired {
		t.Errorf("cached token at exp + leeway: %v", err)
	}
}

// TestVerifyWithdrawnKey: a token whose key the source no longer returns
// fails at once, cold and from the cache; so does one whose kid now names
// another key.
func TestVerifyWithdrawnKey(t *testing.T) {
	for _, kid := range []string{"ed1", "es1", "hs1"} {
		t.Run(kid, func(t *testing.T) {
			e := newEnv(t, nil)
			cold, err := New(Options{Issuer: testIssuer, Audience: testAudience, Keys: e.keys, Now: e.clock.Now, CacheSize: -1})
			if err != nil {
				t.Fatal(err)
			}
			tok, _ := e.issue(t, kid, "alice", "s1")
			for _, svc := range []*Service{e.svc, cold} {
				if _, err := svc.Verify(context.Background(), tok); err != nil {
					t.Fatal(err)
				}
			}
			if e.svc.cache.len() != 1 {
				t.Fatalf("cache holds %d tokens, want 1", e.svc.cache.len())
			}
			saved := e.keys.verifying(kid)
			e.keys.remove(kid)
			for name, svc := range map[string]*Service{"cached": e.svc, "cold": cold} {
				if _, err := svc.Verify(context.Background(), tok); err != reasonUnknownKey {
					t.Errorf("%s: err = %v, want %v", name, err, reasonUnknownKey)
				}
			}
			// The same kid back with another key of the same algorithm.
			other := e.keys.verifying(map[string]string{"ed1": "ed2", "es1": "es2", "hs1": "hs2"}[kid])
			e.keys.add(e.keys.signing(kid), jwtkey.VerifyingKey{ID: kid, Alg: other.Alg, Key: other.Key})
			if _, err := e.svc.Verify(context.Background(), tok); err != reasonKeyChanged {
				t.Errorf("cached, kid re-used: err = %v, want %v", err, reasonKeyChanged)
			}
			if _, err := cold.Verify(context.Background(), tok); err != reasonSignature {
				t.Errorf("cold, kid re-used: err = %v, want %v", err, reasonSignature)
			}
			e.keys.add(e.keys.signing(kid), saved)
			if _, err := e.svc.Verify(context.Background(), tok); err != nil {
				t.Errorf("key restored: %v", err)
			}
		})
	}
}

// TestVerifyUnusableKeys: a KeySource returning a key that does not fit
// its algorithm refuses the token instead of verifying with it.
func TestVerifyUnusableKeys(t *testing.T) {
	e := newEnv(t, nil)
	edPub := e.keys.verifying("ed1").Key
	for _, c := range []struct {
		name string
		vk   jwtkey.VerifyingKey
		alg  string
		want reason
	}{
		{"short HMAC secret", jwtkey.VerifyingKey{ID: "k", Alg: jwtkey.HS256, Key: []byte("short")}, "HS256", reasonKeyUnusable},
		{"EdDSA with HMAC bytes", jwtkey.VerifyingKey{ID: "k", Alg: jwtkey.EdDSA, Key: make([]byte, 32)}, "EdDSA", reasonKeyUnusable},
		{"HS256 with a public key", jwtkey.VerifyingKey{ID: "k", Alg: jwtkey.HS256, Key: edPub}, "HS256", reasonKeyUnusable},
		{"nil ECDSA key", jwtkey.VerifyingKey{ID: "k", Alg: jwtkey.ES256, Key: (*ecdsa.PublicKey)(nil)}, "ES256", reasonKeyUnusable},
		{"RS256 key", jwtkey.VerifyingKey{ID: "k", Alg: "RS256", Key: edPub}, "RS256", reasonKeyUnusable},
		{"none key", jwtkey.VerifyingKey{ID: "k", Alg: "none", Key: nil}, "none", reasonKeyUnusable},
		{"ID differs from kid", jwtkey.VerifyingKey{ID: "other", Alg: jwtkey.EdDSA, Key: edPub}, "EdDSA", reasonUnknownKey},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.keys.setVerifier("k", c.vk)
			tok := hmacRaw(t, []byte("short"), obj(header(c.alg, "k")), obj(claimsAt(e.clock.Now())))
			if _, err := e.svc.Verify(context.Background(), tok); err != c.want {
				t.Errorf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// TestVerifyRevocations: subject, session and jti revocations refuse tokens
// cold and from the cache.
func TestVerifyRevocations(t *testing.T) {
	for _, cacheSize := range []int{0, -1} {
		for _, c := range []struct {
			name   string
			revoke func(e *env, c Claims)
		}{
			{"subject", func(e *env, c Claims) { e.rev.RevokeSubject(c.Subject, e.clock.Now()) }},
			{"session", func(e *env, c Claims) { e.rev.RevokeSession(c.SessionID, c.ExpiresAt) }},
			{"jti", func(e *env, c Claims) { e.rev.RevokeJTI(c.ID, c.ExpiresAt) }},
		} {
			t.Run(cacheName(cacheSize)+"/"+c.name, func(t *testing.T) {
				e := newEnv(t, func(o *Options) { o.CacheSize = cacheSize })
				tok, claims := e.issue(t, "ed1", "alice", "s1")
				other, _ := e.issue(t, "ed1", "bob", "s2")
				for _, x := range []string{tok, other} {
					if _, err := e.svc.Verify(context.Background(), x); err != nil {
						t.Fatal(err)
					}
				}
				e.clock.Advance(time.Minute)
				c.revoke(e, claims)
				if _, err := e.svc.Verify(context.Background(), tok); err != reasonRevoked {
					t.Errorf("revoked token: err = %v, want %v", err, reasonRevoked)
				}
				if _, err := e.svc.Verify(context.Background(), other); err != nil {
					t.Errorf("other token: %v", err)
				}
				// A fresh token of the same user after a subject revocation works.
				if c.name == "subject" {
					fresh, _ := e.issue(t, "ed1", "alice", "s3")
					if _, err := e.svc.Verify(context.Background(), fresh); err != nil {
						t.Errorf("token issued after the revocation: %v", err)
					}
				}
			})
		}
	}
}

// TestRevokeSubjectSameSecond pins the whole-second rule: a token issued
// earlier in the revocation's second is refused; one issued later in that
// second is moved to the next second by Issue and accepted.
func TestRevokeSubjectSameSecond(t *testing.T) {
	e := newEnv(t, nil)
	base := e.clock.Now().Truncate(time.Second)
	e.clock.Set(base.Add(200 * time.Millisecond))
	before, bc := e.issue(t, "ed1", "alice", "s1")
	if !bc.IssuedAt.Equal(base) {
		t.Fatalf("iat %v, want %v", bc.IssuedAt, base)
	}
	e.clock.Set(base.Add(500 * time.Millisecond))
	e.rev.RevokeSubject("alice", e.clock.Now())
	if _, err := e.svc.Verify(context.Background(), before); err != reasonRevoked {
		t.Errorf("token from earlier in the second: err = %v, want %v", err, reasonRevoked)
	}
	e.clock.Set(base.Add(700 * time.Millisecond))
	after, ac := e.issue(t, "ed1", "alice", "s1")
	if want := base.Add(time.Second); !ac.IssuedAt.Equal(want) || !ac.NotBefore.Equal(want) || !ac.ExpiresAt.Equal(want.Add(15*time.Minute)) {
		t.Errorf("claims after revocation: iat %v nbf %v exp %v, want iat %v", ac.IssuedAt, ac.NotBefore, ac.ExpiresAt, want)
	}
	if _, err := e.svc.Verify(context.Background(), after); err != nil {
		t.Errorf("token from later in the second: %v", err)
	}
	// Another user is not affected and not moved.
	_, oc := e.issue(t, "ed1", "bob", "s2")
	if !oc.IssuedAt.Equal(base) {
		t.Errorf("bob's iat %v, want %v", oc.IssuedAt, base)
	}
	// A revocation on a whole second refuses the second before it only.
	e.rev.RevokeSubject("carol", base.Add(time.Second))
	for _, c := range []struct {
		iat  time.Time
		want bool
	}{{base, true}, {base.Add(time.Second), false}} {
		if got := e.rev.Revoked(&Claims{Subject: "carol", IssuedAt: c.iat}); got != c.want {
			t.Errorf("carol iat %v: revoked %v, want %v", c.iat, got, c.want)
		}
	}
}

func TestIssueRefusesRevokedSession(t *testing.T) {
	e := newEnv(t, nil)
	e.rev.RevokeSession("dead", e.clock.Now().Add(time.Hour))
	if _, _, err := e.svc.Issue("alice", "dead", nil); err == nil {
		t.Fatal("Issue for a revoked session succeeded")
	}
}

// TestVerifyErrorTextIsSafe: the error names a reason but never repeats
// attacker-chosen content.
func TestVerifyErrorTextIsSafe(t *testing.T) {
	e := newEnv(t, nil)
	for _, kid := range []string{"../../etc/passwd", "' OR 1=1--", "nope\r\nX-Injected: 1"} {
		tok := signRaw(t, e.keys, "ed1", `{"alg":"EdDSA","typ":"at+jwt","kid":`+mustJSON(kid)+`}`, obj(claimsAt(e.clock.Now())))
		_, err := e.svc.Verify(context.Background(), tok)
		if err == nil {
			t.Fatal("accepted")
		}
		msg := err.Error()
		if strings.Contains(msg, "passwd") || strings.Contains(msg, "OR 1") || strings.Contains(msg, "Injected") || strings.Contains(msg, tok) {
			t.Errorf("error text %q repeats token content", msg)
		}
		if !strings.HasPrefix(msg, "token: invalid token: ") {
			t.Errorf("error text %q", msg)
		}
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestEveryReasonHasText(t *testing.T) {
	for r := reasonTooLong; r <= reasonRevoked; r++ {
		if r.text() == "unknown reason" {
			t.Errorf("reason %d has no text", r)
		}
		if !errors.Is(r, ErrInvalidToken) {
			t.Errorf("reason %d is not ErrInvalidToken", r)
		}
	}
}

func TestHasScope(t *testing.T) {
	c := &Claims{Scopes: []string{"items:read", "items:write"}}
	for s, want := range map[string]bool{"items:read": true, "items:write": true, "users:admin": false, "": false, "items": false} {
		if got := c.HasScope(s); got != want {
			t.Errorf("HasScope(%q) = %v", s, got)
		}
	}
	if (&Claims{}).HasScope("") {
		t.Error("empty claims have a scope")
	}
}

// TestVerifyCacheHitDoesNotAllocate pins the cheap hit path.
func TestVerifyCacheHitDoesNotAllocate(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.Now = time.Now })
	tok, _ := e.issue(t, "ed1", "alice", "s1", "items:read")
	if _, err := e.svc.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := e.svc.Verify(context.Background(), tok); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a cache hit allocates %v times", allocs)
	}
}

// TestES256OneSpelling: ES256 tokens are issued with a low s, and the other
// spelling of a valid signature (r, n-s), which ECDSA would accept, is
// refused, so one token cannot take two cache entries or two jtis in logs.
func TestES256OneSpelling(t *testing.T) {
	e := newEnv(t, nil)
	n := elliptic.P256().Params().N
	half := new(big.Int).Rsh(n, 1)
	for i := range 64 {
		tok, _ := e.issue(t, "es1", "alice", "s1")
		dot := strings.LastIndexByte(tok, '.')
		sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
		if err != nil || len(sig) != 64 {
			t.Fatalf("signature %d: %v, %d bytes", i, err, len(sig))
		}
		s := new(big.Int).SetBytes(sig[32:])
		if s.Cmp(half) > 0 {
			t.Fatalf("token %d issued with a high s", i)
		}
		if _, err := e.svc.Verify(context.Background(), tok); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		// The malleated twin verifies as ECDSA but is refused.
		s.Sub(n, s)
		s.FillBytes(sig[32:])
		twin := tok[:dot+1] + base64.RawURLEncoding.EncodeToString(sig)
		if !ecdsa.Verify(&e.keys.signing("es1").Key.(*ecdsa.PrivateKey).PublicKey, sha256Sum(tok[:dot]), new(big.Int).SetBytes(sig[:32]), s) {
			t.Fatal("the twin does not verify as plain ECDSA: the test proves nothing")
		}
		if _, err := e.svc.Verify(context.Background(), twin); err != reasonSignature {
			t.Fatalf("the high-s twin of token %d: %v, want %v", i, err, reasonSignature)
		}
	}
	if got := e.svc.cache.len(); got != 64 {
		t.Errorf("cache holds %d entries for 64 tokens", got)
	}
}

func sha256Sum(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

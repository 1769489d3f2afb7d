package token

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func benchAlgs() []struct{ name, kid string } {
	return []struct{ name, kid string }{{"EdDSA", "ed1"}, {"ES256", "es1"}, {"HS256", "hs1"}}
}

func benchEnv(b *testing.B, cacheSize int) *env {
	return newEnv(b, func(o *Options) {
		o.CacheSize = cacheSize
		o.Now = time.Now
	})
}

// BenchmarkVerifyCold is the full check: no cache.
func BenchmarkVerifyCold(b *testing.B) {
	for _, a := range benchAlgs() {
		b.Run(a.name, func(b *testing.B) {
			e := benchEnv(b, -1)
			tok, _ := e.issue(b, a.kid, "alice", "s1", "items:read", "items:write")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.svc.Verify(context.Background(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyWarm is a cache hit, with a Revocations in place.
func BenchmarkVerifyWarm(b *testing.B) {
	for _, a := range benchAlgs() {
		b.Run(a.name, func(b *testing.B) {
			e := benchEnv(b, 0)
			tok, _ := e.issue(b, a.kid, "alice", "s1", "items:read", "items:write")
			if _, err := e.svc.Verify(context.Background(), tok); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.svc.Verify(context.Background(), tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyWarmParallel is a cache hit from all cores.
func BenchmarkVerifyWarmParallel(b *testing.B) {
	e := benchEnv(b, 0)
	tok, _ := e.issue(b, "ed1", "alice", "s1", "items:read", "items:write")
	if _, err := e.svc.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.svc.Verify(context.Background(), tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkVerifyRefused is the cost of a forged token (wrong signature).
func BenchmarkVerifyRefused(b *testing.B) {
	e := benchEnv(b, 0)
	tok := signRaw(b, e.keys, "ed2", obj(header("EdDSA", "ed1")), obj(claimsAt(time.Now())))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.svc.Verify(context.Background(), tok); err == nil {
			b.Fatal("accepted")
		}
	}
}

func BenchmarkIssue(b *testing.B) {
	for _, a := range benchAlgs() {
		b.Run(a.name, func(b *testing.B) {
			e := benchEnv(b, 0)
			e.keys.use(a.kid)
			scopes := []string{"items:read", "items:write"}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := e.svc.Issue("alice", "s1", scopes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGolangJWTHS256Baseline is bare golang-jwt parsing an HS256
// token with the usual options, for comparison.
func BenchmarkGolangJWTHS256Baseline(b *testing.B) {
	keys := newTestKeys(b)
	secret := keys.signing("hs1").Key.([]byte)
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": testIssuer, "sub": "alice", "aud": testAudience,
		"exp": now.Add(15 * time.Minute).Unix(), "nbf": now.Unix(), "iat": now.Unix(),
		"jti": "AAAAAAAAAAAAAAAAAAAAAA", "scope": "items:read items:write", "sid": "s1",
	}).SignedString(secret)
	if err != nil {
		b.Fatal(err)
	}
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer(testIssuer),
		jwt.WithAudience(testAudience), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second))
	keyFunc := func(*jwt.Token) (any, error) { return secret, nil }
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parser.Parse(tok, keyFunc); err != nil {
			b.Fatal(err)
		}
	}
}

package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/internal/testutil"
	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/ratelimit"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/server/httpapi"
	"github.com/fortapi/fortapi/server/sqlite"
	"github.com/fortapi/fortapi/token"
)

// The authenticated path in process (no network, no TLS): GET /protected
// through the whole fortapi stack (front door, access log to io.Discard,
// the global and per-user rate limits, bearer-token authentication with
// the verified-token cache, the handler)
// against DESIGN.md §8's reference, a bare net/http handler that verifies
// an HS256 token with golang-jwt on every request.

func protectedStack(b *testing.B, alg jwtkey.Alg) (http.Handler, string) {
	b.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	ring, err := jwtkey.Open(ctx, jwtkey.Options{Alg: alg, MasterKey: master, Store: store})
	if err != nil {
		b.Fatal(err)
	}
	revs := token.NewRevocations(token.RevocationsOptions{})
	tokens, err := token.New(token.Options{Issuer: testIssuer, Audience: testAudience, Keys: ring, Revocations: revs})
	if err != nil {
		b.Fatal(err)
	}
	hasher, err := password.NewHasher(password.HasherOptions{})
	if err != nil {
		b.Fatal(err)
	}
	svc, err := authn.New(authn.Options{Store: store, Hasher: hasher, Tokens: tokens, Revocations: revs, Keys: ring,
		RefreshKey: []byte("httpapi bench refresh successor key, 32+ bytes")})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateUser(ctx, "alice", alicePass, server.RoleUser, "bench"); err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	// The limits fortapi serve runs with (global per IP, reads per user),
	// scaled so that the benchmark measures their cost, never a 429.
	set, err := ratelimit.NewSet(ratelimit.SetOptions{Scale: 50_000})
	if err != nil {
		b.Fatal(err)
	}
	api := fortapi.New(fortapi.Options{Authenticator: svc, Logger: log, RateLimits: set, GlobalLimit: "1200/minute"})
	httpapi.Register(api, httpapi.Deps{Store: store, Auth: svc, Keys: ring})
	h, err := api.Handler()
	if err != nil {
		b.Fatal(err)
	}
	form := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {alicePass}}
	req := httptest.NewRequest("POST", "/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var tr httpapi.TokenResponse
	if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &tr) != nil {
		b.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	return h, tr.AccessToken
}

func baselineHS256(b *testing.B) (http.Handler, string) {
	b.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	parser := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithIssuer("baseline"), jwt.WithAudience("baseline"),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(30*time.Second))
	now := time.Now()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{
		Issuer: "baseline", Audience: jwt.ClaimStrings{"baseline"}, Subject: "alice",
		IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}).SignedString(key)
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /protected", func(w http.ResponseWriter, r *http.Request) {
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		var c jwt.RegisteredClaims
		if !ok {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if _, err := parser.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return key, nil }); err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"message": "Hello, " + c.Subject + ": your token is valid."})
	})
	return mux, tok
}

func benchGet(b *testing.B, h http.Handler, tok string) {
	b.ReportAllocs()
	// The set-up (a store, an argon2id login) is not the request path.
	defer testutil.ReportCPU(b)()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("GET", "/protected", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}

func BenchmarkProtected(b *testing.B) {
	b.Run("baseline-golang-jwt-HS256-every-request", func(b *testing.B) {
		h, tok := baselineHS256(b)
		benchGet(b, h, tok)
	})
	for _, alg := range []jwtkey.Alg{jwtkey.EdDSA, jwtkey.ES256, jwtkey.HS256} {
		b.Run("fortapi-"+string(alg), func(b *testing.B) {
			h, tok := protectedStack(b, alg)
			benchGet(b, h, tok)
		})
	}
}

package fortapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/token"
)

// A complete login: keys in memory (development), a token service, the
// bearer authenticator, and the form-encoded OAuth2 token endpoint.
// Clients POST grant_type=password to /token and send the access token
// as "Authorization: Bearer ...".
func ExampleRegisterTokenEndpoint() {
	ctx := context.Background()
	ring, _ := jwtkey.NewMemoryRing(ctx, jwtkey.Options{}) // production: jwtkey.Open on a shared store
	tokens, _ := token.New(token.Options{Issuer: "https://notes.example", Audience: "notes", Keys: ring})
	hasher, _ := password.NewHasher(password.HasherOptions{})
	aliceHash, _ := hasher.Hash(ctx, "correct horse battery staple")

	api := fortapi.New(fortapi.Options{
		Authenticator: fortapi.NewTokenAuthenticator(tokens),
		Logger:        slog.New(slog.DiscardHandler),
	})
	err := fortapi.RegisterTokenEndpoint(api, fortapi.TokenEndpoint{
		Tokens: tokens, Hasher: hasher,
		UserByName: func(ctx context.Context, name string) (fortapi.TokenUser, error) {
			if name != "alice" {
				return fortapi.TokenUser{}, fortapi.ErrUnknownUser // costs a dummy verification
			}
			return fortapi.TokenUser{Subject: "user-1", PasswordHash: aliceHash, Scopes: []string{"notes:read"}}, nil
		},
	})
	if err != nil {
		panic(err)
	}
	huma.Register(api, huma.Operation{Method: http.MethodGet, Path: "/whoami", Security: fortapi.Scopes("notes:read")},
		func(ctx context.Context, _ *struct{}) (*greeting, error) {
			p, _ := fortapi.PrincipalFrom(ctx)
			out := &greeting{}
			out.Body.Message = p.Subject + " via " + p.Scheme
			return out, nil
		})
	h, err := api.Handler()
	if err != nil {
		panic(err)
	}

	login := func(user, pass string) *httptest.ResponseRecorder {
		form := url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass}}
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := login("mallory", "guess")
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))

	rec = login("alice", "correct horse battery staple")
	var tok fortapi.TokenResponse
	_ = json.Unmarshal(rec.Body.Bytes(), &tok)
	fmt.Println(rec.Code, tok.TokenType, tok.ExpiresIn, tok.Scope)

	req := httptest.NewRequest(http.MethodGet, "/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	// Output:
	// 400 {"error":"invalid_grant","error_description":"the credentials are invalid"}
	// 200 bearer 900 notes:read
	// 200 {"message":"user-1 via bearer"}
}

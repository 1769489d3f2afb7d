package fortapi_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
)

type greeting struct {
	Body struct {
		Message string `json:"message"`
	}
}

// Declare each operation's security; fortapi enforces exactly that, before
// the input is decoded, and refuses to start when an operation declares
// nothing. Anonymous callers get 401, bad credentials 401 invalid_token,
// a principal without the declared scope 403 insufficient_scope (RFC
// 6750); handlers read the principal and never check roles themselves.
func Example() {
	// A real service authenticates tokens or sessions here.
	auth := fortapi.AuthenticatorFunc(func(r *http.Request) (*fortapi.Principal, error) {
		switch r.Header.Get("Authorization") {
		case "":
			return nil, fortapi.ErrNoCredentials
		case "Bearer alice":
			return &fortapi.Principal{Subject: "alice", Scheme: fortapi.BearerScheme, Scopes: []string{"greetings:read"}}, nil
		case "Bearer bob":
			return &fortapi.Principal{Subject: "bob", Scheme: fortapi.BearerScheme, Scopes: []string{"profile:read"}}, nil
		}
		return nil, errors.New("unknown token") // 401 invalid_token
	})
	api := fortapi.New(fortapi.Options{Title: "Greeter", Authenticator: auth, Logger: slog.New(slog.DiscardHandler)})

	huma.Register(api, huma.Operation{
		Method: http.MethodGet, Path: "/greeting",
		Security: fortapi.Scopes("greetings:read"),
	}, func(ctx context.Context, _ *struct{}) (*greeting, error) {
		p, _ := fortapi.PrincipalFrom(ctx)
		out := &greeting{}
		out.Body.Message = "hello, " + p.Subject
		return out, nil
	})
	huma.Register(api, huma.Operation{
		Method: http.MethodGet, Path: "/ping",
		Security: fortapi.Public(),
	}, func(ctx context.Context, _ *struct{}) (*greeting, error) {
		out := &greeting{}
		out.Body.Message = "pong"
		return out, nil
	})

	handler, err := api.Handler()
	if err != nil {
		panic(err) // an operation without a security declaration
	}

	for _, auth := range []string{"", "Bearer forged", "Bearer bob", "Bearer alice"} {
		req := httptest.NewRequest(http.MethodGet, "/greeting", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body.Len() > 0)
	}
	// Output:
	// 401 Bearer realm="api" true
	// 401 Bearer realm="api", error="invalid_token" true
	// 403 Bearer realm="api", error="insufficient_scope", scope="greetings:read" true
	// 200  true
}

package fortapi_test

import (
	"context"
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
// nothing.
func Example() {
	// A real service authenticates tokens or sessions here.
	auth := fortapi.AuthenticatorFunc(func(r *http.Request) (*fortapi.Principal, error) {
		if r.Header.Get("Authorization") != "Bearer let-me-in" {
			return nil, fortapi.ErrNoCredentials
		}
		return &fortapi.Principal{Subject: "alice", Scheme: fortapi.BearerScheme, Scopes: []string{"greetings:read"}}, nil
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

	for _, auth := range []string{"", "Bearer let-me-in"} {
		req := httptest.NewRequest(http.MethodGet, "/greeting", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("Content-Type"))
	}
	// Output:
	// 401 application/problem+json
	// 200 application/json
}

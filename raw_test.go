package fortapi_test

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
)

// TestRegisterHandler: an operation answered from the ResponseWriter is
// documented and enforced like any other: deny by default, authorization
// before the handler, undeclared query parameters refused.
func TestRegisterHandler(t *testing.T) {
	t.Run("deny by default", func(t *testing.T) {
		api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler)})
		fortapi.RegisterHandler(api, huma.Operation{Method: http.MethodGet, Path: "/raw"}, http.NotFoundHandler())
		if _, err := api.Handler(); err == nil || !strings.Contains(err.Error(), "/raw") {
			t.Fatalf("an undeclared raw operation started: %v", err)
		}
	})

	auth := fortapi.AuthenticatorFunc(func(r *http.Request) (*fortapi.Principal, error) {
		switch r.Header.Get("Authorization") {
		case "":
			return nil, fortapi.ErrNoCredentials
		case "Bearer alice":
			return &fortapi.Principal{Subject: "alice", Scheme: fortapi.BearerScheme, Scopes: []string{"feed:read"}}, nil
		}
		return nil, errors.New("bad token")
	})
	api := fortapi.New(fortapi.Options{Authenticator: auth, Logger: slog.New(slog.DiscardHandler)})
	ran := 0
	fortapi.RegisterHandler(api, huma.Operation{
		Method: http.MethodGet, Path: "/raw", Security: fortapi.Scopes("feed:read"),
		Parameters: []*huma.Param{{Name: "cursor", In: "query", Schema: &huma.Schema{Type: "string"}}},
		Responses:  map[string]*huma.Response{"101": {Description: "Switching Protocols"}, "426": {Description: "Upgrade Required"}},
	}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran++
		p, ok := fortapi.PrincipalFrom(r.Context())
		if !ok || fortapi.RequestID(r.Context()) == "" {
			t.Error("no principal or request id in the handler's context")
		}
		_, _ = io.WriteString(w, p.Subject)
	}))
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, target, auth string
		status             int
		body               string
	}{
		{"anonymous", "/raw", "", http.StatusUnauthorized, ""},
		{"bad token", "/raw", "Bearer x", http.StatusUnauthorized, ""},
		{"authorized", "/raw", "Bearer alice", http.StatusOK, "alice"},
		{"declared parameter", "/raw?cursor=1", "Bearer alice", http.StatusOK, "alice"},
		{"undeclared parameter", "/raw?access_token=secret", "Bearer alice", http.StatusUnprocessableEntity, ""},
		{"repeated parameter", "/raw?cursor=1&cursor=2", "Bearer alice", http.StatusBadRequest, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := ran
			req := httptest.NewRequest(http.MethodGet, tc.target, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.body != "" && rec.Body.String() != tc.body {
				t.Fatalf("body %q", rec.Body)
			}
			if (ran > before) != (tc.status == http.StatusOK) {
				t.Fatalf("handler ran %d times", ran-before)
			}
			if strings.Contains(rec.Body.String(), "secret") {
				t.Fatalf("the answer echoes a query value: %s", rec.Body)
			}
		})
	}
	doc, _ := api.OpenAPIJSON()
	for _, want := range []string{`"/raw"`, `"feed:read"`, `"426"`, `"application/problem+json"`} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("the document lacks %s", want)
		}
	}
}

// TestAddSecurityScheme: an added scheme authenticates only for the
// operations that declare it, never instead of an Authorization header,
// and its principals satisfy only its own requirements.
func TestAddSecurityScheme(t *testing.T) {
	main := fortapi.AuthenticatorFunc(func(r *http.Request) (*fortapi.Principal, error) {
		if r.Header.Get("Authorization") == "Bearer alice" {
			return &fortapi.Principal{Subject: "alice", Scheme: fortapi.BearerScheme, Scopes: []string{"s"}}, nil
		}
		if r.Header.Get("Authorization") != "" {
			return nil, errors.New("bad token")
		}
		return nil, fortapi.ErrNoCredentials
	})
	pass := &headerPass{}
	doc := &huma.SecurityScheme{Type: "apiKey", In: "header", Name: "X-Pass"}
	api := fortapi.New(fortapi.Options{Authenticator: main, Logger: slog.New(slog.DiscardHandler)})
	if err := api.AddSecurityScheme("pass", doc, pass); err != nil {
		t.Fatal(err)
	}
	if err := api.AddSecurityScheme("pass", doc, pass); err != nil {
		t.Fatalf("adding the same scheme again: %v", err)
	}
	if err := api.AddSecurityScheme("pass", doc, &headerPass{}); !errors.Is(err, fortapi.ErrSchemeExists) {
		t.Errorf("another authenticator for pass: %v", err)
	}
	if err := api.AddSecurityScheme("pass", doc, main); !errors.Is(err, fortapi.ErrSchemeExists) {
		t.Errorf("a func authenticator for pass: %v", err)
	}
	for _, name := range []string{fortapi.BearerScheme, fortapi.SessionScheme, fortapi.OAuth2Scheme} {
		if err := api.AddSecurityScheme(name, doc, pass); !errors.Is(err, fortapi.ErrSchemeExists) {
			t.Errorf("replacing %s: %v", name, err)
		}
	}
	if err := api.AddSecurityScheme("pass", &huma.SecurityScheme{Type: "http"}, pass); !errors.Is(err, fortapi.ErrSchemeExists) {
		t.Errorf("redefining pass: %v", err)
	}
	if err := api.AddSecurityScheme("bad name", doc, pass); err == nil {
		t.Error("a scheme name with a space")
	}
	who := func(w http.ResponseWriter, r *http.Request) {
		p, _ := fortapi.PrincipalFrom(r.Context())
		_, _ = io.WriteString(w, p.Subject+" "+p.Scheme)
	}
	fortapi.RegisterHandler(api, huma.Operation{Method: http.MethodGet, Path: "/both",
		Security: append(fortapi.Scopes("s"), map[string][]string{"pass": {"s"}})}, http.HandlerFunc(who))
	fortapi.RegisterHandler(api, huma.Operation{Method: http.MethodGet, Path: "/bearer", Security: fortapi.Scopes("s")}, http.HandlerFunc(who))
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	if err := api.AddSecurityScheme("late", doc, pass); err == nil {
		t.Error("a scheme added after Handler")
	}
	cases := []struct {
		name, path, auth, pass string
		status                 int
		body                   string
		consulted              bool
	}{
		{"pass where declared", "/both", "", "good", http.StatusOK, "bob pass", true},
		{"bearer where both are declared", "/both", "Bearer alice", "", http.StatusOK, "alice bearer", false},
		{"authorization wins", "/both", "Bearer alice", "good", http.StatusOK, "alice bearer", false},
		{"bad pass, no fall-back", "/both", "", "forged", http.StatusUnauthorized, "", true},
		{"pass where not declared", "/bearer", "", "good", http.StatusUnauthorized, "", false},
		{"nothing", "/both", "", "", http.StatusUnauthorized, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := pass.calls
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			if tc.pass != "" {
				req.Header.Set("X-Pass", tc.pass)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status || tc.body != "" && rec.Body.String() != tc.body {
				t.Fatalf("%d %s, want %d %s", rec.Code, rec.Body, tc.status, tc.body)
			}
			if (pass.calls > before) != tc.consulted {
				t.Fatalf("the added scheme consulted: %v", pass.calls > before)
			}
		})
	}
}

// headerPass authenticates the X-Pass header, counting its calls.
type headerPass struct{ calls int }

func (h *headerPass) Authenticate(r *http.Request) (*fortapi.Principal, error) {
	h.calls++
	switch r.Header.Get("X-Pass") {
	case "":
		return nil, fortapi.ErrNoCredentials
	case "good":
		// The scheme is set by the API, whatever the authenticator says.
		return &fortapi.Principal{Subject: "bob", Scheme: fortapi.BearerScheme, Scopes: []string{"s"}}, nil
	}
	return nil, errors.New("bad pass")
}

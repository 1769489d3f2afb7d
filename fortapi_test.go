package fortapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/internal/testutil"
)

// testAuth authenticates "Authorization: Test SUBJECT SCOPE..." and
// rejects "Authorization: Test" alone as invalid.
func testAuth(r *http.Request) (*fortapi.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, fortapi.ErrNoCredentials
	}
	f := strings.Fields(h)
	switch {
	case len(f) >= 1 && f[0] == "Down":
		return nil, huma.Error503ServiceUnavailable("session store down")
	case len(f) < 2 || f[0] != "Test":
		return nil, errors.New("bad token")
	}
	return &fortapi.Principal{Subject: f[1], Scheme: fortapi.BearerScheme, Scopes: f[2:]}, nil
}

type thingBody struct {
	Name     string `json:"name" minLength:"1" maxLength:"10"`
	Count    int    `json:"count" minimum:"0" maximum:"5"`
	Password string `json:"password,omitempty" minLength:"8" maxLength:"64"`
	PIN      string `json:"pin,omitempty" writeOnly:"true" pattern:"^[0-9]{4}$"`
	Nested   *struct {
		Secret string `json:"client_secret" minLength:"20"`
		Label  string `json:"label" maxLength:"3"`
	} `json:"nested,omitempty"`
}

type thingIn struct {
	Body thingBody
}

type thingOut struct {
	Body struct {
		Name string `json:"name"`
		By   string `json:"by"`
	}
}

type listIn struct {
	Limit int `query:"limit" minimum:"1" maximum:"100" default:"10"`
}

type okOut struct {
	Body struct {
		OK bool `json:"ok"`
	}
}

// newTestAPI registers a small API: a protected create with a body, a
// protected list, a public health check, a handler that panics and one
// that fails with an internal error.
func newTestAPI(t testing.TB) (*fortapi.API, *testutil.Buffer) {
	t.Helper()
	return newTestAPIWith(t, fortapi.Options{})
}

// newTestAPIWith is newTestAPI with more options: its title,
// authenticator and logger are set here.
func newTestAPIWith(t testing.TB, o fortapi.Options) (*fortapi.API, *testutil.Buffer) {
	t.Helper()
	logs := &testutil.Buffer{}
	o.Title = "test"
	o.Authenticator = fortapi.AuthenticatorFunc(testAuth)
	o.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	api := fortapi.New(o)
	huma.Register(api, huma.Operation{
		OperationID: "create-thing", Method: http.MethodPost, Path: "/things",
		Security: fortapi.Scopes("things:write"),
	}, func(ctx context.Context, in *thingIn) (*thingOut, error) {
		p, _ := fortapi.PrincipalFrom(ctx)
		out := &thingOut{}
		out.Body.Name, out.Body.By = in.Body.Name, p.Subject
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "list-things", Method: http.MethodGet, Path: "/things",
		Security: fortapi.Scopes("things:read"),
	}, func(ctx context.Context, in *listIn) (*okOut, error) {
		out := &okOut{}
		out.Body.OK = true
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "health", Method: http.MethodGet, Path: "/health", Security: fortapi.Public(),
	}, func(ctx context.Context, _ *struct{}) (*okOut, error) {
		if _, ok := fortapi.PrincipalFrom(ctx); ok {
			return nil, errors.New("public operations must not carry a principal")
		}
		out := &okOut{}
		out.Body.OK = true
		return out, nil
	})
	huma.Register(api, huma.Operation{
		OperationID: "boom", Method: http.MethodGet, Path: "/boom", Security: fortapi.Public(),
	}, func(ctx context.Context, _ *struct{}) (*okOut, error) {
		panic("kaboom: db password is hunter2")
	})
	huma.Register(api, huma.Operation{
		OperationID: "fail", Method: http.MethodGet, Path: "/fail", Security: fortapi.Public(),
	}, func(ctx context.Context, _ *struct{}) (*okOut, error) {
		return nil, errors.New("pq: connection to 10.0.0.7 failed, password=hunter2")
	})
	return api, logs
}

func newTestServer(t *testing.T) (*httptest.Server, *testutil.Buffer) {
	t.Helper()
	api, logs := newTestAPI(t)
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, logs
}

type problem struct {
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Instance string `json:"instance"`
	Errors   []struct {
		Message  string `json:"message"`
		Location string `json:"location"`
		Value    any    `json:"value"`
	} `json:"errors"`
}

type call struct {
	method, path, body string
	header             map[string]string
}

func (c call) do(t *testing.T, srv *httptest.Server) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, srv.URL+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func decodeProblem(t *testing.T, resp *http.Response, b []byte) problem {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type = %q, want application/problem+json; body %s", ct, b)
	}
	var p problem
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("problem body is not JSON: %v: %s", err, b)
	}
	if p.Status != resp.StatusCode {
		t.Errorf("problem status %d != response status %d", p.Status, resp.StatusCode)
	}
	if p.Title == "" {
		t.Error("problem has no title")
	}
	if id := resp.Header.Get("X-Request-Id"); id == "" || p.Instance != "urn:fortapi:request:"+id {
		t.Errorf("problem instance %q does not name the request id %q", p.Instance, id)
	}
	return p
}

var (
	writer = map[string]string{"Authorization": "Test alice things:write", "Content-Type": "application/json"}
	reader = map[string]string{"Authorization": "Test alice things:read"}
)

func TestAuthorizationIsEnforced(t *testing.T) {
	srv, _ := newTestServer(t)
	tests := []struct {
		name      string
		call      call
		status    int
		challenge string // substring of WWW-Authenticate
	}{
		{"anonymous", call{method: "POST", path: "/things", body: `{"name":"a","count":1}`, header: map[string]string{"Content-Type": "application/json"}}, 401, `Bearer realm="api"`},
		{"invalid credentials", call{method: "POST", path: "/things", body: `{"name":"a","count":1}`, header: map[string]string{"Authorization": "Bogus", "Content-Type": "application/json"}}, 401, `error="invalid_token"`},
		{"missing scope", call{method: "POST", path: "/things", body: `{"name":"a","count":1}`, header: map[string]string{"Authorization": "Test alice things:read", "Content-Type": "application/json"}}, 403, `error="insufficient_scope", scope="things:write"`},
		{"scope granted", call{method: "POST", path: "/things", body: `{"name":"a","count":1}`, header: writer}, 200, ""},
		{"read scope does not write", call{method: "GET", path: "/things", header: writer}, 403, `scope="things:read"`},
		{"read", call{method: "GET", path: "/things", header: reader}, 200, ""},
		{"authenticator status error", call{method: "GET", path: "/things", header: map[string]string{"Authorization": "Down"}}, 503, ""},
		{"public needs nothing", call{method: "GET", path: "/health"}, 200, ""},
		{"public ignores credentials", call{method: "GET", path: "/health", header: map[string]string{"Authorization": "Bogus"}}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := tt.call.do(t, srv)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if tt.challenge != "" && !strings.Contains(resp.Header.Get("WWW-Authenticate"), tt.challenge) {
				t.Errorf("WWW-Authenticate = %q, want it to contain %q", resp.Header.Get("WWW-Authenticate"), tt.challenge)
			}
			if tt.status >= 400 {
				decodeProblem(t, resp, b)
			}
		})
	}
}

// countingBody records whether the server read the body.
type countingBody struct {
	r    io.Reader
	read atomic.Int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func TestAuthorizationPrecedesDecoding(t *testing.T) {
	api, _ := newTestAPI(t)
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		auth   string
		body   string
		status int
	}{
		{"anonymous with malformed body", "", `{"name":`, 401},
		{"anonymous with oversized body", "", `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, 401},
		{"wrong scope with invalid body", "Test bob things:read", `[[[[`, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := &countingBody{r: strings.NewReader(tt.body)}
			req := httptest.NewRequest("POST", "/things", body)
			req.Header.Set("Content-Type", "application/json")
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if n := body.read.Load(); n != 0 {
				t.Errorf("the server read %d body bytes from an unauthorized caller", n)
			}
		})
	}
}

func TestDenyByDefault(t *testing.T) {
	type out struct {
		Body string
	}
	h := func(ctx context.Context, _ *struct{}) (*out, error) { return &out{}, nil }
	tests := []struct {
		name string
		op   huma.Operation
		want string
	}{
		{"no security", huma.Operation{OperationID: "naked", Method: "GET", Path: "/naked"}, "naked (GET /naked) declares no security"},
		{"empty security", huma.Operation{OperationID: "empty", Method: "GET", Path: "/e", Security: []map[string][]string{}}, "empty (GET /e) declares no security"},
		{"hidden and undeclared", huma.Operation{OperationID: "hidden", Method: "GET", Path: "/h", Hidden: true}, "hidden (GET /h) declares no security"},
		{"unknown scheme", huma.Operation{OperationID: "u", Method: "GET", Path: "/u", Security: []map[string][]string{{"apikey": {"x"}}}}, `unknown security scheme "apikey"`},
		{"invalid scope", huma.Operation{OperationID: "i", Method: "GET", Path: "/i", Security: fortapi.Scopes("a b")}, `invalid scope "a b"`},
		{"scope with a quote", huma.Operation{OperationID: "q", Method: "GET", Path: "/q", Security: fortapi.Scopes(`a"b`)}, `invalid scope "a\"b"`},
		{"non-ASCII scope", huma.Operation{OperationID: "n", Method: "GET", Path: "/n", Security: fortapi.Scopes("ünï")}, "invalid scope"},
		{"combined schemes", huma.Operation{OperationID: "c", Method: "GET", Path: "/c", Security: []map[string][]string{{"bearer": {"x"}, "other": {"y"}}}}, "combines several security schemes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler)})
			huma.Register(api, huma.Operation{OperationID: "fine", Method: "GET", Path: "/fine", Security: fortapi.Public()}, h)
			huma.Register(api, tt.op, h)
			handler, err := api.Handler()
			if err == nil || handler != nil {
				t.Fatal("Handler accepted an operation it must refuse")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "fine") {
				t.Errorf("error names the well-declared operation: %v", err)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	srv, _ := newTestServer(t)
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	tests := []struct {
		name   string
		call   call
		status int
		loc    string // a location that must be reported, if any
	}{
		{"malformed JSON", call{method: "POST", path: "/things", body: `{"name":`, header: writer}, 400, "body"},
		{"not JSON at all", call{method: "POST", path: "/things", body: `name=a`, header: writer}, 400, "body"},
		{"trailing data", call{method: "POST", path: "/things", body: `{"name":"a","count":1} {}`, header: writer}, 400, "body"},
		{"duplicate member", call{method: "POST", path: "/things", body: `{"name":"a","count":1,"name":"b"}`, header: writer}, 400, "body"},
		{"duplicate member, escaped", call{method: "POST", path: "/things", body: `{"name":"a","count":1,"\u006eame":"b"}`, header: writer}, 400, "body"},
		{"same member in two objects", call{method: "POST", path: "/things", body: `{"name":"a","count":1,"tags":[{"k":1},{"k":2}]}`, header: writer}, 422, "body.tags"},
		{"wrong type", call{method: "POST", path: "/things", body: `{"name":1,"count":"x"}`, header: writer}, 422, "body.count"},
		{"unknown field", call{method: "POST", path: "/things", body: `{"name":"a","count":1,"admin":true}`, header: writer}, 422, "body.admin"},
		{"wrong casing", call{method: "POST", path: "/things", body: `{"NAME":"a","count":1}`, header: writer}, 422, "body.NAME"},
		{"missing field", call{method: "POST", path: "/things", body: `{"name":"a"}`, header: writer}, 422, "body"},
		{"empty body", call{method: "POST", path: "/things", header: writer}, 400, ""},
		{"out of range", call{method: "POST", path: "/things", body: `{"name":"a","count":6}`, header: writer}, 422, "body.count"},
		{"too long", call{method: "POST", path: "/things", body: `{"name":"abcdefghijk","count":1}`, header: writer}, 422, "body.name"},
		{"huge number", call{method: "POST", path: "/things", body: `{"name":"a","count":1e400}`, header: writer}, 400, "body"},
		{"null body", call{method: "POST", path: "/things", body: `null`, header: writer}, 422, ""},
		{"oversized body", call{method: "POST", path: "/things", body: `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, header: writer}, 413, ""},
		{"invalid UTF-8", call{method: "POST", path: "/things", body: "{\"name\":\"\xff\xfe\",\"count\":1}", header: writer}, 400, "body"},
		{"wrong content type", call{method: "POST", path: "/things", body: `{"name":"a","count":1}`, header: map[string]string{"Authorization": "Test a things:write", "Content-Type": "text/plain"}}, 415, ""},
		{"missing content type", call{method: "POST", path: "/things", body: `{"name":"a","count":1}`, header: map[string]string{"Authorization": "Test a things:write"}}, 415, ""},
		{"lookalike content type", call{method: "POST", path: "/things", body: `{"name":"a","count":1}`, header: map[string]string{"Authorization": "Test a things:write", "Content-Type": "application/jsonx"}}, 415, ""},
		{"100,000-deep nesting", call{method: "POST", path: "/things", body: deep, header: writer}, 400, "body"},
		{"deep nesting within the limit", call{method: "POST", path: "/things", body: strings.Repeat("[", 2000) + strings.Repeat("]", 2000), header: writer}, 422, ""},
		{"huge headers", call{method: "GET", path: "/health", header: map[string]string{"X-Junk": strings.Repeat("a", 40<<10)}}, 431, ""},
		{"absurd query value", call{method: "GET", path: "/things?limit=1e99", header: reader}, 422, "query.limit"},
		{"negative query value", call{method: "GET", path: "/things?limit=-1", header: reader}, 422, "query.limit"},
		{"non-numeric query value", call{method: "GET", path: "/things?limit=abc", header: reader}, 422, "query.limit"},
		{"unknown query parameter", call{method: "GET", path: "/things?debug=1", header: reader}, 422, "query.debug"},
		{"unknown path", call{method: "GET", path: "/nope"}, 404, ""},
		{"encoded traversal", call{method: "GET", path: "/%2e%2e/%2e%2e/etc/passwd"}, 404, ""},
		{"unknown docs asset", call{method: "GET", path: "/docs/assets/0000000000000000/x.js"}, 404, ""},
		{"docs traversal", call{method: "GET", path: "/docs/assets/%2e%2e/%2e%2e/go.mod"}, 404, ""},
		{"POST to the docs", call{method: "POST", path: "/docs", body: "x", header: map[string]string{"Content-Type": "text/plain"}}, 405, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := tt.call.do(t, srv)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			p := decodeProblem(t, resp, b)
			if tt.loc == "" {
				return
			}
			for _, e := range p.Errors {
				if e.Location == tt.loc {
					return
				}
			}
			t.Errorf("no error at %s: %s", tt.loc, b)
		})
	}
}

func TestValidationListsEveryField(t *testing.T) {
	srv, _ := newTestServer(t)
	resp, b := call{method: "POST", path: "/things", body: `{"name":"","count":-1,"extra":1}`, header: writer}.do(t, srv)
	if resp.StatusCode != 422 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	p := decodeProblem(t, resp, b)
	seen := map[string]bool{}
	for _, e := range p.Errors {
		seen[e.Location] = true
	}
	for _, loc := range []string{"body.name", "body.count", "body.extra"} {
		if !seen[loc] {
			t.Errorf("no error for %s in %s", loc, b)
		}
	}
}

func TestErrorsNeverEchoSecrets(t *testing.T) {
	srv, logs := newTestServer(t)
	const secret = "hunter2-very-secret"
	tests := []struct {
		name string
		body string
	}{
		{"password too short", `{"name":"a","count":1,"password":"` + secret[:6] + `"}`},
		{"password in a failing body", `{"name":"","count":1,"password":"` + secret + `"}`},
		{"missing field next to a password", `{"name":"a","password":"` + secret + `"}`},
		{"writeOnly field", `{"name":"a","count":1,"pin":"` + secret + `"}`},
		{"nested secret", `{"name":"a","count":1,"nested":{"client_secret":"` + secret[:6] + `","label":"x"}}`},
		{"secret in malformed JSON", `{"name":"a","password":"` + secret + `",`},
		{"secret in wrong casing", `{"name":"a","count":1,"Password":"` + secret + `"}`},
		{"unknown field named token", `{"name":"a","count":1,"token":"` + secret + `"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := call{method: "POST", path: "/things", body: tt.body, header: writer}.do(t, srv)
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			decodeProblem(t, resp, b)
			if bytes.Contains(b, []byte(secret[:6])) {
				t.Errorf("the error echoes the secret: %s", b)
			}
		})
	}
	t.Run("harmless values are still echoed", func(t *testing.T) {
		resp, b := call{method: "POST", path: "/things", body: `{"name":"a","count":77}`, header: writer}.do(t, srv)
		p := decodeProblem(t, resp, b)
		if len(p.Errors) != 1 || p.Errors[0].Value != float64(77) {
			t.Errorf("want the out-of-range count echoed: %s", b)
		}
	})
	if strings.Contains(logs.String(), secret[:6]) {
		t.Errorf("the log contains the secret")
	}
}

func TestServerErrorsHideInternals(t *testing.T) {
	srv, logs := newTestServer(t)
	for _, path := range []string{"/boom", "/fail"} {
		t.Run(path, func(t *testing.T) {
			resp, b := call{method: "GET", path: path}.do(t, srv)
			if resp.StatusCode != 500 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			p := decodeProblem(t, resp, b)
			id := resp.Header.Get("X-Request-Id")
			if !strings.Contains(p.Detail, id) {
				t.Errorf("500 detail %q does not quote the request id %s", p.Detail, id)
			}
			for _, leak := range []string{"hunter2", "10.0.0.7", "goroutine", ".go:"} {
				if bytes.Contains(b, []byte(leak)) {
					t.Errorf("the 500 body leaks %q: %s", leak, b)
				}
			}
			if !strings.Contains(logs.String(), id) {
				t.Errorf("the log does not mention request %s", id)
			}
		})
	}
	if !strings.Contains(logs.String(), "goroutine") {
		t.Error("the panic's stack is not in the log")
	}
}

func TestRoutingErrorsAreProblems(t *testing.T) {
	srv, _ := newTestServer(t)
	resp, b := call{method: "DELETE", path: "/things"}.do(t, srv)
	if resp.StatusCode != 405 {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	decodeProblem(t, resp, b)
	if allow := resp.Header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "POST") {
		t.Errorf("Allow = %q", allow)
	}
	resp, b = call{method: "HEAD", path: "/missing"}.do(t, srv)
	if resp.StatusCode != 404 || len(b) != 0 {
		t.Errorf("HEAD of a missing path: %d with %d body bytes", resp.StatusCode, len(b))
	}
}

func TestRequestIDs(t *testing.T) {
	srv, logs := newTestServer(t)
	tests := []struct {
		name, sent string
		kept       bool
	}{
		{"absent", "", false},
		{"valid", "trace-1234.abc_DEF", true},
		{"log injection", "x\",\"level\":\"ERROR", false},
		{"too long", strings.Repeat("a", 65), false},
		{"unicode", "ünïcode", false},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.sent != "" {
				h["X-Request-Id"] = tt.sent
			}
			resp, _ := call{method: "GET", path: "/health", header: h}.do(t, srv)
			got := resp.Header.Get("X-Request-Id")
			if tt.kept && got != tt.sent {
				t.Errorf("id %q replaced by %q", tt.sent, got)
			}
			if !tt.kept && (got == tt.sent || len(got) != 32) {
				t.Errorf("id %q not replaced by a generated one (got %q)", tt.sent, got)
			}
			if seen[got] {
				t.Errorf("id %q reused", got)
			}
			seen[got] = true
		})
	}
	t.Run("one access-log line per request, without the query", func(t *testing.T) {
		before := len(logs.JSONLines(t))
		resp, _ := call{method: "GET", path: "/things?limit=5&token=sekrit", header: reader}.do(t, srv)
		var access []map[string]any
		for _, l := range logs.JSONLines(t)[before:] {
			if l["msg"] == "request" {
				access = append(access, l)
			}
		}
		if len(access) != 1 {
			t.Fatalf("%d access-log lines, want 1", len(access))
		}
		l := access[0]
		if l["request_id"] != resp.Header.Get("X-Request-Id") || l["path"] != "/things" || l["status"] != float64(422) || l["method"] != "GET" {
			t.Errorf("access-log line %v", l)
		}
		if strings.Contains(logs.String(), "sekrit") {
			t.Error("the access log contains the query string")
		}
	})
}

func TestOpenAPIDocument(t *testing.T) {
	srv, _ := newTestServer(t)
	resp, b := call{method: "GET", path: "/openapi.json"}.do(t, srv)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Security  []map[string][]string `json:"security"`
			Responses map[string]any        `json:"responses"`
		} `json:"paths"`
		Components struct {
			SecuritySchemes map[string]any `json:"securitySchemes"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q", doc.OpenAPI)
	}
	if _, ok := doc.Components.SecuritySchemes["bearer"]; !ok {
		t.Error("no bearer security scheme")
	}
	post := doc.Paths["/things"]["post"]
	if len(post.Security) != 1 || len(post.Security[0]["bearer"]) != 1 || post.Security[0]["bearer"][0] != "things:write" {
		t.Errorf("POST /things security = %v", post.Security)
	}
	for _, code := range []string{"400", "401", "403", "413", "415", "422"} {
		if _, ok := post.Responses[code]; !ok {
			t.Errorf("POST /things does not document %s", code)
		}
	}
	health := doc.Paths["/health"]["get"]
	if len(health.Security) != 1 || len(health.Security[0]) != 0 {
		t.Errorf("public operation security = %v, want [{}]", health.Security)
	}
	if _, ok := health.Responses["401"]; ok {
		t.Error("a public operation documents 401")
	}
}

// TestClientGoneIsNotAServerError: a handler failing because the client
// disconnected is logged as 499 at INFO, not as a 500 at ERROR.
func TestClientGoneIsNotAServerError(t *testing.T) {
	api, logs := newTestAPI(t)
	entered := make(chan struct{})
	huma.Register(api, huma.Operation{OperationID: "slow", Method: "GET", Path: "/slow", Security: fortapi.Public()},
		func(ctx context.Context, _ *struct{}) (*okOut, error) {
			close(entered)
			<-ctx.Done()
			return nil, fmt.Errorf("store: %w", ctx.Err())
		})
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/slow", nil)
	go func() {
		<-entered
		cancel()
	}()
	if resp, err := srv.Client().Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("the request was not cancelled")
	}
	var line map[string]any
	for deadline := time.Now().Add(5 * time.Second); line == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, l := range logs.JSONLines(t) {
			if l["msg"] == "request" && l["path"] == "/slow" {
				line = l
			}
		}
	}
	if line == nil {
		t.Fatal("no access-log line")
	}
	if line["status"] != float64(fortapi.StatusClientClosedRequest) {
		t.Errorf("access log status %v, want 499", line["status"])
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("a client disconnect was logged as an error:\n%s", logs.String())
	}
}

// TestLateRegistrationPanics: an operation registered after Handler would
// escape the start-up checks and could only be denied at run time: it is a
// programming error, reported at once (as huma.Register reports others),
// and the handler built before serves nothing for it.
func TestLateRegistrationPanics(t *testing.T) {
	api, _ := newTestAPI(t)
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	called := false
	func() {
		defer func() {
			v := recover()
			if msg, _ := v.(string); !strings.Contains(msg, "late (GET /late) registered after API.Handler") {
				t.Errorf("recovered %v, want a panic naming the late operation", v)
			}
		}()
		huma.Register(api, huma.Operation{OperationID: "late", Method: "GET", Path: "/late", Security: fortapi.Public()},
			func(ctx context.Context, _ *struct{}) (*okOut, error) {
				called = true
				return &okOut{}, nil
			})
	}()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/late", nil))
	if rec.Code != http.StatusNotFound || called {
		t.Errorf("status %d, handler called %v", rec.Code, called)
	}
}

// TestHandlerTwice: the handler is built once; a second call is an error
// that says so, not a second handler missing what was registered since.
func TestHandlerTwice(t *testing.T) {
	api, _ := newTestAPI(t)
	h1, err1 := api.Handler()
	h2, err2 := api.Handler()
	if err1 != nil || h1 == nil || !errors.Is(err2, fortapi.ErrHandlerCalled) || h2 != nil {
		t.Errorf("Handler twice: %v, then %v %v", err1, h2, err2)
	}
}

func TestDisableDocs(t *testing.T) {
	api := fortapi.New(fortapi.Options{DisableDocs: true, Logger: slog.New(slog.DiscardHandler)})
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/docs": 404, "/docs/": 404, "/openapi.json": 200} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}
}

// TestTrailingSlashPathsAreExact: an operation declared on a path ending
// in "/" serves that path only, not the subtree net/http's ServeMux would
// give it.
func TestTrailingSlashPathsAreExact(t *testing.T) {
	api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler)})
	huma.Register(api, huma.Operation{OperationID: "list", Method: http.MethodGet, Path: "/things/", Security: fortapi.Public()},
		func(ctx context.Context, _ *struct{}) (*struct{}, error) { return &struct{}{}, nil })
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]int{"/things/": 204, "/things/x": 404, "/things/x/": 404, "/things/%2e%2e/admin": 404} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s: %d, want %d", path, rec.Code, want)
		}
	}
}

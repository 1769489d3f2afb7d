package httpapi_test

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/server/httpapi"
)

// validating wraps the API's handler so that every response a test
// receives is checked against the OpenAPI document: its status must be
// documented for the operation, its content type declared, and its body
// valid against the declared schema. The document cannot drift from what
// the server sends without a test failing.
func validating(t testing.TB, api *fortapi.API, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		if err := checkResponse(api, r, rec); err != "" {
			t.Errorf("%s %s -> %d: %s\nbody: %.300s", r.Method, r.URL.Path, rec.Code, err, rec.Body)
		}
	})
}

// findOperation matches a request to the documented operation: a literal
// path before a template ("/users/me" before "/users/{id}"), and only a
// path that has the method.
func findOperation(oapi *huma.OpenAPI, method, path string) *huma.Operation {
	byMethod := func(item *huma.PathItem) *huma.Operation {
		switch method {
		case http.MethodGet, http.MethodHead:
			return item.Get
		case http.MethodPost:
			return item.Post
		case http.MethodPut:
			return item.Put
		case http.MethodDelete:
			return item.Delete
		case http.MethodPatch:
			return item.Patch
		}
		return nil
	}
	if item := oapi.Paths[path]; item != nil {
		if op := byMethod(item); op != nil {
			return op
		}
	}
	for tmpl, item := range oapi.Paths {
		if matchTemplate(tmpl, path) {
			if op := byMethod(item); op != nil {
				return op
			}
		}
	}
	return nil
}

func matchTemplate(tmpl, path string) bool {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if strings.HasPrefix(ts[i], "{") && strings.HasSuffix(ts[i], "}") {
			if ps[i] == "" {
				return false
			}
			continue
		}
		if ts[i] != ps[i] {
			return false
		}
	}
	return true
}

func checkResponse(api *fortapi.API, r *http.Request, rec *httptest.ResponseRecorder) string {
	ct := rec.Header().Get("Content-Type")
	oapi := api.OpenAPI()
	op := findOperation(oapi, r.Method, r.URL.Path)
	if op == nil {
		if r.URL.Path == "/openapi.json" && rec.Code == http.StatusOK {
			return "" // the document itself
		}
		if rec.Code < 400 || ct != "application/problem+json" {
			return "a request matching no documented operation got a non-problem answer"
		}
		if r.Method == http.MethodHead {
			return "" // no body
		}
		return validateBody(oapi, api.OpenAPI().Components.Schemas.Schema(errModelType, true, ""), rec.Body.Bytes())
	}
	resp := op.Responses[strconv.Itoa(rec.Code)]
	if resp == nil {
		resp = op.Responses["default"]
	}
	if resp == nil {
		return "status " + strconv.Itoa(rec.Code) + " is not documented for " + op.OperationID
	}
	if rec.Body.Len() == 0 {
		return ""
	}
	base, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "content type " + ct + " does not parse"
	}
	mt := resp.Content[base]
	if mt == nil {
		return "content type " + ct + " is not documented for this status"
	}
	if base == "text/html" {
		return "" // a page: its content is checked by the page tests
	}
	return validateBody(oapi, mt.Schema, rec.Body.Bytes())
}

func validateBody(oapi *huma.OpenAPI, schema *huma.Schema, body []byte) string {
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return "body is not JSON: " + err.Error()
	}
	res := &huma.ValidateResult{}
	huma.Validate(oapi.Components.Schemas, schema, huma.NewPathBuffer([]byte{}, 0), huma.ModeReadFromServer, v, res)
	if len(res.Errors) > 0 {
		msgs := make([]string, len(res.Errors))
		for i, e := range res.Errors {
			msgs[i] = e.Error()
		}
		return "body does not match the documented schema: " + strings.Join(msgs, "; ")
	}
	return ""
}

var errModelType = reflect.TypeOf(huma.NewError(0, ""))

// TestCheckResponseCatchesDrift proves the validating wrapper can fail.
func TestCheckResponseCatchesDrift(t *testing.T) {
	api := fortapi.New(fortapi.Options{})
	httpapi.Register(api, httpapi.Deps{})
	id := "/items/01a2211e-0000-7000-8000-000000000000"
	for _, tt := range []struct {
		name, method, path, ctype, body string
		status                          int
		ok                              bool
	}{
		{"documented item", "GET", id, "application/json", `{"id":"01a2211e-0000-7000-8000-000000000000","owner":"a","name":"n","description":"","price":1,"tax":null,"price_with_tax":1,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}`, 200, true},
		{"undocumented status", "GET", id, "application/problem+json", `{"title":"I'm a teapot","status":418}`, 418, false},
		{"wrong field type", "GET", id, "application/json", `{"id":5}`, 200, false},
		{"extra field", "GET", id, "application/json", `{"id":"x","owner":"a","name":"n","description":"","price":1,"price_with_tax":1,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","password_hash":"x"}`, 200, false},
		{"undeclared content type", "GET", id, "text/html", `<p>`, 200, false},
		{"unrouted non-problem", "GET", "/nowhere", "text/plain", `404 page not found`, 404, false},
		{"unrouted problem", "GET", "/nowhere", "application/problem+json", `{"title":"Not Found","status":404}`, 404, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			rec.Header().Set("Content-Type", tt.ctype)
			rec.WriteHeader(tt.status)
			rec.WriteString(tt.body)
			err := checkResponse(api, httptest.NewRequest(tt.method, tt.path, nil), rec)
			if (err == "") != tt.ok {
				t.Errorf("checkResponse = %q, want ok=%v", err, tt.ok)
			}
		})
	}
}

package fortapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
)

type tagsIn struct {
	Tags []string `query:"tag,explode" maxItems:"5"`
	IDs  []string `query:"ids" maxItems:"5"`
}

type tagsOut struct {
	Body struct {
		Tags []string `json:"tags"`
		IDs  []string `json:"ids"`
	}
}

// TestRepeatedQueryParametersAreRefused attacks every kind of operation
// with a query parameter given twice (?limit=1&limit=3). huma would take
// the first value and drop the rest while a proxy, a WAF or a log in
// front may have looked at another one, and /token already refuses
// repeats: the API refuses them everywhere with a 400 problem naming the
// parameter, spelt however the repeat is encoded. Only a parameter the
// operation declares as a repeated array (explode) may repeat. A repeated
// parameter the operation does not declare is refused too: it means
// nothing to the operation, and refusing it is the safe choice (huma
// would answer 422 "unknown query parameter" to it anyway).
func TestRepeatedQueryParametersAreRefused(t *testing.T) {
	api, _ := newTestAPI(t)
	huma.Register(api, huma.Operation{
		OperationID: "tags", Method: http.MethodGet, Path: "/tags", Security: fortapi.Public(),
	}, func(ctx context.Context, in *tagsIn) (*tagsOut, error) {
		out := &tagsOut{}
		out.Body.Tags, out.Body.IDs = in.Tags, in.IDs
		return out, nil
	})
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	var many []string
	for i := range 40 {
		many = append(many, "p"+strconv.Itoa(i)+"=1")
	}
	tests := []struct {
		name   string
		call   call
		status int
		param  string // the parameter the refusal must name
	}{
		{"declared parameter", call{method: "GET", path: "/things?limit=1&limit=3", header: reader}, 400, "limit"},
		{"declared parameter, same value", call{method: "GET", path: "/things?limit=3&limit=3", header: reader}, 400, "limit"},
		{"declared parameter, encoded name", call{method: "GET", path: "/things?limit=1&l%69mit=3", header: reader}, 400, "limit"},
		{"declared parameter, bad second value", call{method: "GET", path: "/things?limit=1&limit=%zz", header: reader}, 400, "limit"},
		{"declared parameter, empty value", call{method: "GET", path: "/things?limit=1&limit", header: reader}, 400, "limit"},
		{"after many distinct parameters", call{method: "GET", path: "/things?" + strings.Join(many, "&") + "&p3=2", header: reader}, 400, "p3"},
		{"undeclared parameter", call{method: "GET", path: "/things?limit=1&debug=1&debug=0", header: reader}, 400, "debug"},
		{"undeclared parameter on a body operation", call{method: "POST", path: "/things?x=1&x=2", body: `{"name":"a","count":1}`, header: writer}, 400, "x"},
		{"public operation", call{method: "GET", path: "/health?a=1&a=2"}, 400, "a"},
		{"array read as one comma-separated value", call{method: "GET", path: "/tags?ids=a&ids=b"}, 400, "ids"},
		// Authorization still comes first: anonymous callers learn nothing.
		{"anonymous caller", call{method: "GET", path: "/things?limit=1&limit=3"}, 401, ""},
		{"once each", call{method: "GET", path: "/things?limit=1", header: reader}, 200, ""},
		{"declared repeated array", call{method: "GET", path: "/tags?tag=a&tag=b&tag=a&ids=x,y"}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := tt.call.do(t, srv)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, b)
			}
			if tt.status == 200 || tt.param == "" {
				return
			}
			p := decodeProblem(t, resp, b)
			if !strings.Contains(p.Detail, strconv.Quote(tt.param)) {
				t.Errorf("detail %q does not name %q", p.Detail, tt.param)
			}
			if len(p.Errors) != 1 || p.Errors[0].Location != "query."+tt.param {
				t.Errorf("errors do not point at query.%s: %s", tt.param, b)
			}
		})
	}

	resp, b := call{method: "GET", path: "/tags?tag=a&tag=b&ids=x,y"}.do(t, srv)
	var got struct{ Tags, IDs []string }
	if resp.StatusCode != 200 || json.Unmarshal(b, &got) != nil || strings.Join(got.Tags, " ") != "a b" || strings.Join(got.IDs, " ") != "x y" {
		t.Errorf("the declared array lost values: %d %s", resp.StatusCode, b)
	}
}

// TestRepeatedQueryRefusalIsDocumented: every operation documents the 400
// it may now answer.
func TestRepeatedQueryRefusalIsDocumented(t *testing.T) {
	api, _ := newTestAPI(t)
	for _, path := range []string{"/things", "/health"} {
		op := api.OpenAPI().Paths[path].Get
		r := op.Responses["400"]
		if r == nil || r.Content["application/problem+json"] == nil || !strings.Contains(r.Description, "repeated") {
			t.Errorf("GET %s does not document the 400 for a repeated query parameter", path)
		}
	}
}

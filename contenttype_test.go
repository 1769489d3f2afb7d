package fortapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
)

type typedOut struct {
	ContentType string `header:"Content-Type"`
	Body        struct {
		OK bool `json:"ok"`
	}
}

// TestContentTypeOnAuthenticatedOperations: the Content-Type huma sets on
// an authenticated operation's answer (assigned by fortapi without
// allocating, bodyContext.SetHeader) is the one huma would set, once; an
// output header that sets it first wins; concurrent answers of both kinds
// each get their own.
func TestContentTypeOnAuthenticatedOperations(t *testing.T) {
	api, _ := newTestAPI(t)
	huma.Register(api, huma.Operation{
		OperationID: "typed", Method: http.MethodGet, Path: "/typed", Security: fortapi.Scopes("things:read"),
	}, func(ctx context.Context, _ *struct{}) (*typedOut, error) {
		out := &typedOut{ContentType: "application/vnd.test+json"}
		out.Body.OK = true
		return out, nil
	})
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	cases := []struct{ path, accept, want string }{
		{"/things", "", "application/json"},
		{"/typed", "", "application/vnd.test+json"},
	}
	var wg sync.WaitGroup
	for range 8 {
		for _, tc := range cases {
			wg.Add(1)
			go func() {
				defer wg.Done()
				hdr := map[string]string{"Authorization": "Test alice things:read"}
				if tc.accept != "" {
					hdr["Accept"] = tc.accept
				}
				resp, b := call{method: "GET", path: tc.path, header: hdr}.do(t, srv)
				if got := resp.Header.Values("Content-Type"); resp.StatusCode != 200 || len(got) != 1 || got[0] != tc.want {
					t.Errorf("GET %s (Accept %q): %d Content-Type %q, want [%q]: %s", tc.path, tc.accept, resp.StatusCode, got, tc.want, b)
				}
			}()
		}
	}
	wg.Wait()
}

type headersOut struct {
	Location string `header:"Location"`
	Other    string `header:"X-Other"`
	Body     struct {
		OK bool `json:"ok"`
	}
}

// TestOutputHeadersOnAuthenticatedOperations: the first output header
// field an operation sets after Content-Type gets the value slice kept in
// its request's context (bodyContext.SetHeader), the next ones their own:
// concurrent answers each carry exactly their own values, once.
func TestOutputHeadersOnAuthenticatedOperations(t *testing.T) {
	api, _ := newTestAPI(t)
	huma.Register(api, huma.Operation{
		OperationID: "located", Method: http.MethodGet, Path: "/located/{n}", Security: fortapi.Scopes("things:read"),
	}, func(ctx context.Context, in *struct {
		N string `path:"n" maxLength:"8"`
	}) (*headersOut, error) {
		out := &headersOut{Location: "/located/" + in.N}
		if in.N != "0" {
			out.Other = "other-" + in.N
		}
		out.Body.OK = true
		return out, nil
	})
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := strconv.Itoa(i % 4)
			hdr := map[string]string{"Authorization": "Test alice things:read"}
			resp, b := call{method: "GET", path: "/located/" + n, header: hdr}.do(t, srv)
			wantOther := []string{"other-" + n}
			if n == "0" {
				wantOther = nil
			}
			if loc, other := resp.Header.Values("Location"), resp.Header.Values("X-Other"); resp.StatusCode != 200 ||
				!slices.Equal(loc, []string{"/located/" + n}) || !slices.Equal(other, wantOther) {
				t.Errorf("GET /located/%s: %d Location %q X-Other %q, want [/located/%s] %q: %s", n, resp.StatusCode, loc, other, n, wantOther, b)
			}
		}()
	}
	wg.Wait()
}

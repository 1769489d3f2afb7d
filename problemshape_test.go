package fortapi_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/fortapi/fortapi"
)

// TestEveryProblemHasTheSameMembers: whichever layer answers — huma's
// validation, the router's 404, the global and the per-operation rate
// limits — a problem has exactly the same members (title, status, detail,
// instance naming the request id), so no answer tells which layer gave it
// and clients parse one shape. The rate limiter used to add
// "type":"about:blank".
func TestEveryProblemHasTheSameMembers(t *testing.T) {
	srv, _, _ := newLimitedServer(t, fortapi.Options{GlobalLimit: "1000/minute"})
	global, _, _ := newLimitedServer(t, fortapi.Options{GlobalLimit: "1/hour"})
	members := func(t *testing.T, resp *http.Response, b []byte) []string {
		t.Helper()
		decodeProblem(t, resp, b)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return slices.Sorted(maps.Keys(m))
	}
	resp, b := call{method: "GET", path: "/nope"}.do(t, srv)
	if resp.StatusCode != 404 {
		t.Fatalf("404: %d %s", resp.StatusCode, b)
	}
	want := members(t, resp, b)
	if !slices.Equal(want, []string{"detail", "instance", "status", "title"}) {
		t.Fatalf("a 404 problem has the members %v", want)
	}

	login := call{method: "POST", path: "/login"}
	for i := 0; i < 2; i++ {
		if resp, b := login.do(t, srv); resp.StatusCode != 200 {
			t.Fatalf("login %d: %d %s", i, resp.StatusCode, b)
		}
	}
	if resp, b := (call{method: "GET", path: "/nope"}).do(t, global); resp.StatusCode != 404 {
		t.Fatalf("first request under the global limit: %d %s", resp.StatusCode, b)
	}
	for _, c := range []struct {
		name   string
		srv    func() (*http.Response, []byte)
		status int
	}{
		{"operation limit", func() (*http.Response, []byte) { return login.do(t, srv) }, 429},
		{"global limit", func() (*http.Response, []byte) { return call{method: "GET", path: "/nope"}.do(t, global) }, 429},
		{"huma validation", func() (*http.Response, []byte) {
			return call{method: "GET", path: "/things?limit=0", header: bearer("a", "things:read")}.do(t, srv)
		}, 422},
		{"authorization", func() (*http.Response, []byte) { return call{method: "GET", path: "/things"}.do(t, srv) }, 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, b := c.srv()
			if resp.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.status, b)
			}
			got := members(t, resp, b)
			if c.status == 422 {
				got = slices.DeleteFunc(got, func(s string) bool { return s == "errors" })
			}
			if !slices.Equal(got, want) {
				t.Errorf("members %v, want %v (as a 404's): %s", got, want, b)
			}
		})
	}
}

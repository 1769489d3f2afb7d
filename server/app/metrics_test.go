package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fortapi/fortapi/server/authn"
)

// Label values never come from the request: after 10,000 requests with
// distinct usernames, item ids, paths, tokens and methods, every metric
// family has a handful of series, and none of the request's values
// appears in a label.
func TestMetricsCardinalityBounded(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	cfg := testConfig(t)
	cfg.Metrics = reg
	a, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	const pw = "a long passphrase for metrics"
	if _, _, err := a.Auth().Bootstrap(ctx, pw); err != nil {
		t.Fatal(err)
	}
	tok, err := a.Auth().Login(ctx, authn.Login{Username: "admin", Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	h := a.Handler()
	const n = 10000
	for i := range n {
		var req *http.Request
		switch i % 5 {
		case 0: // a distinct username
			form := url.Values{"grant_type": {"password"}, "username": {fmt.Sprintf("user%06d", i)}, "password": {"wrong password"}}
			req = httptest.NewRequest("POST", "/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		case 1: // a distinct item id
			req = httptest.NewRequest("GET", fmt.Sprintf("/items/id%06d", i), nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		case 2: // a distinct garbage token
			req = httptest.NewRequest("GET", "/users/me", nil)
			req.Header.Set("Authorization", fmt.Sprintf("Bearer tok%06d.x.y", i))
		case 3: // a distinct unknown path
			req = httptest.NewRequest("GET", fmt.Sprintf("/nowhere/p%06d", i), nil)
		default: // a distinct method
			req = httptest.NewRequest(fmt.Sprintf("M%06d", i), "/items/", nil)
		}
		// Distinct clients, so that the global limit stays out of the way;
		// the logins from one, so that its login limit answers most of them
		// 429 before any password hashing.
		req.RemoteAddr = fmt.Sprintf("10.%d.%d.1:1234", i/256%256, i%256)
		if i%5 == 0 {
			req.RemoteAddr = "192.0.2.1:1234"
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, mf := range mfs {
		series := len(mf.GetMetric())
		total += series
		if series > 20 {
			t.Errorf("%s has %d series after %d distinct requests", mf.GetName(), series, n)
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if v := l.GetValue(); strings.Contains(v, "user0") || strings.Contains(v, "id0") || strings.Contains(v, "tok0") ||
					strings.Contains(v, "/p0") || strings.HasPrefix(v, "M0") || strings.Contains(v, "10.") {
					t.Errorf("%s{%s=%q}: a label value from the request", mf.GetName(), l.GetName(), v)
				}
			}
		}
	}
	if total > 150 {
		t.Errorf("%d series in all, want a bounded handful", total)
	}
	t.Logf("%d families, %d series", len(mfs), total)
}

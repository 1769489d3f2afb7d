package fortapi_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/fortapi/fortapi"
)

// requestCount is the number of requests the duration histogram holds for
// the labels want (operation, method, status_class), and the number of
// series it has.
func requestCount(t *testing.T, reg *prometheus.Registry, want map[string]string) (count uint64, series int) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "http_server_request_duration_seconds" {
			continue
		}
		series = len(mf.GetMetric())
		for _, m := range mf.GetMetric() {
			if labelsMatch(m, want) {
				count += m.GetHistogram().GetSampleCount()
			}
		}
	}
	return count, series
}

func labelsMatch(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func newMetricsAPI(t *testing.T, reg prometheus.Registerer, global string) http.Handler {
	t.Helper()
	api, _ := newTestAPIWith(t, fortapi.Options{Metrics: reg, GlobalLimit: global})
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestRequestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	h := newMetricsAPI(t, reg, "")
	serve := func(method, target, body string, header map[string]string) int {
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for range 3 {
		serve("GET", "/things", "", map[string]string{"Authorization": "Test alice things:read"})
	}
	serve("GET", "/things", "", nil)
	serve("POST", "/things", `{"name":"hammer","count":3}`, writer)
	serve("GET", "/boom", "", nil)
	serve("GET", "/nowhere", "", nil)
	serve("BREW", "/things", "", nil)
	serve("GET", "/openapi.json", "", nil)
	for _, tt := range []struct {
		labels map[string]string
		want   uint64
	}{
		{map[string]string{"operation": "list-things", "method": "GET", "status_class": "2xx"}, 3},
		{map[string]string{"operation": "list-things", "method": "GET", "status_class": "4xx"}, 1},
		{map[string]string{"operation": "create-thing", "method": "POST", "status_class": "2xx"}, 1},
		{map[string]string{"operation": "boom", "method": "GET", "status_class": "5xx"}, 1},
		{map[string]string{"operation": "unmatched", "method": "GET", "status_class": "4xx"}, 1},
		{map[string]string{"operation": "unmatched", "method": "other", "status_class": "4xx"}, 1},
		{map[string]string{"operation": "openapi", "method": "GET", "status_class": "2xx"}, 1},
	} {
		t.Run(fmt.Sprint(tt.labels), func(t *testing.T) {
			if got, _ := requestCount(t, reg, tt.labels); got != tt.want {
				t.Errorf("count %d, want %d", got, tt.want)
			}
		})
	}
	if got := gauge(t, reg, "http_server_active_requests"); got != 0 {
		t.Errorf("http_server_active_requests %v after every request ended, want 0", got)
	}
}

// A request refused before routing (the global limit) is counted under
// the operation its route belongs to, not as unmatched.
func TestRequestMetricsRefusedBeforeRouting(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	h := newMetricsAPI(t, reg, "1/hour")
	for range 2 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/health", nil))
	}
	if got, _ := requestCount(t, reg, map[string]string{"operation": "health", "status_class": "4xx"}); got != 1 {
		t.Errorf("health 4xx (429) count %d, want 1", got)
	}
}

// Label values never come from the request: ten thousand distinct paths,
// methods and users leave a handful of series.
func TestRequestMetricsCardinality(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	h := newMetricsAPI(t, reg, "")
	for i := range 10000 {
		var req *http.Request
		switch i % 4 {
		case 0:
			req = httptest.NewRequest("GET", fmt.Sprintf("/things/%d?user=u%d", i, i), nil)
		case 1:
			req = httptest.NewRequest(fmt.Sprintf("M%d", i), "/things", nil)
		case 2:
			req = httptest.NewRequest("GET", "/things", nil)
			req.Header.Set("Authorization", fmt.Sprintf("Test user%d things:read", i))
		default:
			req = httptest.NewRequest("GET", fmt.Sprintf("/%x", i), nil)
		}
		h.ServeHTTP(httptest.NewRecorder(), req)
	}
	total, series := requestCount(t, reg, nil)
	if total != 10000 {
		t.Errorf("%d requests counted, want 10000", total)
	}
	if series > 4 {
		t.Errorf("%d series after 10,000 distinct paths, methods and users, want at most 4", series)
	}
}

// A Registerer that already holds the metrics (two APIs, one registry)
// makes Handler fail instead of dropping the metrics silently.
func TestRequestMetricsConflict(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	newMetricsAPI(t, reg, "")
	api, _ := newTestAPIWith(t, fortapi.Options{Metrics: reg})
	if _, err := api.Handler(); err == nil || !strings.Contains(err.Error(), "Options.Metrics") {
		t.Fatalf("Handler error %v, want one naming Options.Metrics", err)
	}
}

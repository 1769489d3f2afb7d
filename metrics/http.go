package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// durationBuckets are the buckets of request durations, in seconds: from
// half a millisecond (an in-memory answer) to ten seconds.
func durationBuckets() []float64 {
	return []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}
}

// Label values of HTTP metrics that are not an operation id.
const (
	// OperationUnmatched labels requests that matched no route (404, 405)
	// or were refused before routing and match none.
	OperationUnmatched = "unmatched"
	// MethodOther labels a request method outside the standard set.
	MethodOther = "other"
)

// HTTP are the request metrics of one API:
// http_server_request_duration_seconds{operation,method,status_class}
// and http_server_active_requests.
type HTTP struct {
	duration *prometheus.HistogramVec
	active   prometheus.Gauge
}

// NewHTTP creates the request metrics and registers them with reg.
func NewHTTP(reg prometheus.Registerer) (*HTTP, error) {
	h := &HTTP{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "http_server_request_duration_seconds",
			Help:    "Duration of HTTP requests, by OpenAPI operation id (\"unmatched\" for requests matching no route), method and status class (2xx, 4xx, ...).",
			Buckets: durationBuckets(),
		}, []string{"operation", "method", "status_class"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "http_server_active_requests",
			Help: "HTTP requests being served now.",
		}),
	}
	if err := register(reg, h.duration, h.active); err != nil {
		return nil, err
	}
	return h, nil
}

// Active is the gauge of requests in flight.
func (h *HTTP) Active() prometheus.Gauge { return h.active }

// Observer is the duration histogram of one label set. Callers resolve it
// once per operation, method and status class and keep it: the lookup
// allocates, an observation does not.
func (h *HTTP) Observer(operation, method, statusClass string) prometheus.Observer {
	return h.duration.WithLabelValues(operation, method, statusClass)
}

// register registers every collector with reg, or none: on an error the
// ones already registered are unregistered again.
func register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			for _, done := range cs[:i] {
				reg.Unregister(done)
			}
			return err
		}
	}
	return nil
}

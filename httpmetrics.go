package fortapi

import (
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fortapi/fortapi/metrics"
)

// The request metrics (Options.Metrics): every request the handler serves
// is counted once, by the operation its route belongs to, its method and
// its status class. Label values come from fixed sets: the operations
// registered before Handler, the standard methods (else "other"), five
// status classes. The observers are resolved once per label set and kept,
// so that a request allocates nothing for its metrics.

// Methods with a label value of their own; others are metrics.MethodOther.
var metricMethods = [...]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", metrics.MethodOther}

var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

func methodIndex(m string) int {
	switch m {
	case "GET":
		return 0
	case "HEAD":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "PATCH":
		return 4
	case "DELETE":
		return 5
	case "OPTIONS":
		return 6
	}
	return len(metricMethods) - 1
}

func classIndex(status int) int {
	return min(max(status/100, 1), 5) - 1
}

// httpMetrics observes the requests of one API's handler.
type httpMetrics struct {
	m   *metrics.HTTP
	now func() time.Time
	mux *http.ServeMux
	// ops are the operations by mux pattern, fixed when Handler is built;
	// read without a lock.
	ops       map[string]*opMetrics
	unmatched *opMetrics
}

// opMetrics are one operation's observers, resolved on first use.
type opMetrics struct {
	name string
	m    *metrics.HTTP
	obs  [len(metricMethods)][len(statusClasses)]atomic.Pointer[observer]
}

type observer struct{ prometheus.Observer }

func (o *opMetrics) observer(method, class int) prometheus.Observer {
	p := &o.obs[method][class]
	if b := p.Load(); b != nil {
		return b.Observer
	}
	// WithLabelValues returns the same child for the same labels: a race
	// here only stores an equal value twice.
	b := &observer{o.m.Observer(o.name, metricMethods[method], statusClasses[class])}
	p.Store(b)
	return b.Observer
}

// noteOperation records the operation name of a route pattern (the
// operation id, or "METHOD /path" when it has none). Called with a.mu held.
func (a *API) noteOperation(op *huma.Operation, route *huma.Operation) {
	if a.opNames == nil {
		a.opNames = map[string]string{}
	}
	name := op.OperationID
	if name == "" {
		name = strings.ToUpper(op.Method) + " " + op.Path
	}
	a.opNames[strings.ToUpper(route.Method)+" "+route.Path] = name
}

// buildMetrics makes the request metrics' lookup table from the
// operations registered so far, and the document and docs routes.
// Called by Handler with a.mu held; nil without Options.Metrics.
func (a *API) buildMetrics() *httpMetrics {
	if a.httpMetrics == nil {
		return nil
	}
	h := &httpMetrics{m: a.httpMetrics, now: a.opts.Now, mux: a.mux, ops: map[string]*opMetrics{}}
	h.unmatched = &opMetrics{name: metrics.OperationUnmatched, m: h.m}
	byName := map[string]*opMetrics{}
	add := func(pattern, name string) {
		o := byName[name]
		if o == nil {
			o = &opMetrics{name: name, m: h.m}
			byName[name] = o
		}
		h.ops[pattern] = o
	}
	for pattern, name := range a.opNames {
		add(pattern, name)
	}
	add("GET "+OpenAPIPath, "openapi")
	add(DocsPath, "docs")
	add(DocsPath+"/", "docs")
	return h
}

// begin counts a request in flight; done ends it.
func (h *httpMetrics) begin() { h.m.Active().Inc() }

func (h *httpMetrics) done(r *http.Request, rec *recorder, start time.Time) {
	h.m.Active().Dec()
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	op := h.unmatched
	pattern := r.Pattern
	if pattern == "" && status != http.StatusNotFound && status != http.StatusMethodNotAllowed {
		// Refused before routing (the global limit, the header cap, CSRF,
		// a CORS preflight): the operation it was meant for, if any.
		_, pattern = h.mux.Handler(r)
	}
	if o := h.ops[pattern]; o != nil {
		op = o
	}
	op.observer(methodIndex(r.Method), classIndex(status)).Observe(h.now().Sub(start).Seconds())
}

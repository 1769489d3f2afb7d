package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/ratelimit"
)

// The collectors below read their values when Prometheus scrapes, from
// what the libraries already count: nothing runs on the request path.

// collector is a prometheus.Collector made of a description list and a
// function emitting the metrics.
type collector struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

// RegisterRateLimits registers ratelimit_decisions_total{limit,result}
// (result: allowed, denied, unavailable) and ratelimit_store_errors_total
// for the limiters of set, read at scrape time. Limit names are fixed
// when the limiters are made.
func RegisterRateLimits(reg prometheus.Registerer, set *ratelimit.Set) error {
	decisions := prometheus.NewDesc("ratelimit_decisions_total",
		"Rate limit decisions by limit and result: allowed, denied (429), unavailable (the store failed and the policy is fail-closed: 503).",
		[]string{"limit", "result"}, nil)
	storeErrors := prometheus.NewDesc("ratelimit_store_errors_total",
		"Failed calls to the rate limit store (Redis): the limits applied their outage policy.", nil, nil)
	fallbacks := prometheus.NewDesc("ratelimit_fallback_decisions_total",
		"Decisions taken by the local fallback while the store failed (fail-open).", nil, nil)
	return reg.Register(&collector{
		descs: []*prometheus.Desc{decisions, storeErrors, fallbacks},
		collect: func(ch chan<- prometheus.Metric) {
			var errs, fb uint64
			for _, l := range set.Limiters() {
				st := l.Stats()
				ch <- prometheus.MustNewConstMetric(decisions, prometheus.CounterValue, float64(st.Allowed), l.Name(), "allowed")
				ch <- prometheus.MustNewConstMetric(decisions, prometheus.CounterValue, float64(st.Denied), l.Name(), "denied")
				ch <- prometheus.MustNewConstMetric(decisions, prometheus.CounterValue, float64(st.Unavailable), l.Name(), "unavailable")
				errs += st.StoreErrors
				fb += st.Fallbacks
			}
			ch <- prometheus.MustNewConstMetric(storeErrors, prometheus.CounterValue, float64(errs))
			ch <- prometheus.MustNewConstMetric(fallbacks, prometheus.CounterValue, float64(fb))
		},
	})
}

// RegisterHasher registers password_hash_queue_depth,
// password_hash_running and password_hash_rejections_total for h.
func RegisterHasher(reg prometheus.Registerer, h *password.Hasher) error {
	queue := prometheus.NewDesc("password_hash_queue_depth", "Password hash computations waiting for a slot.", nil, nil)
	running := prometheus.NewDesc("password_hash_running", "Password hash computations running.", nil, nil)
	refused := prometheus.NewDesc("password_hash_rejections_total",
		"Password checks refused because the hasher was saturated (queue full or queue timeout): answered 503.", nil, nil)
	return reg.Register(&collector{
		descs: []*prometheus.Desc{queue, running, refused},
		collect: func(ch chan<- prometheus.Metric) {
			st := h.Stats()
			ch <- prometheus.MustNewConstMetric(queue, prometheus.GaugeValue, float64(st.Queued))
			ch <- prometheus.MustNewConstMetric(running, prometheus.GaugeValue, float64(st.Running))
			ch <- prometheus.MustNewConstMetric(refused, prometheus.CounterValue, float64(st.Refused))
		},
	})
}

// RegisterKeys registers signing_keys{state} for ring.
func RegisterKeys(reg prometheus.Registerer, ring *jwtkey.Ring) error {
	// Every state is always reported, zero included.
	keyStates := [...]jwtkey.State{jwtkey.StateNext, jwtkey.StateActive, jwtkey.StateRetiring, jwtkey.StateRetired, jwtkey.StateRevoked}
	keys := prometheus.NewDesc("signing_keys", "Signing keys by state: next, active, retiring, retired, revoked.", []string{"state"}, nil)
	return reg.Register(&collector{
		descs: []*prometheus.Desc{keys},
		collect: func(ch chan<- prometheus.Metric) {
			var n [len(keyStates)]int
			for _, k := range ring.Keys() {
				for i, s := range keyStates {
					if k.State == s {
						n[i]++
					}
				}
			}
			for i, s := range keyStates {
				ch <- prometheus.MustNewConstMetric(keys, prometheus.GaugeValue, float64(n[i]), string(s))
			}
		},
	})
}

// RegisterGaugeFunc registers a gauge without labels whose value f gives
// at scrape time (f may report ok=false: no value then).
func RegisterGaugeFunc(reg prometheus.Registerer, name, help string, f func() (float64, bool)) error {
	d := prometheus.NewDesc(name, help, nil, nil)
	return reg.Register(&collector{
		descs: []*prometheus.Desc{d},
		collect: func(ch chan<- prometheus.Metric) {
			if v, ok := f(); ok {
				ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
			}
		},
	})
}

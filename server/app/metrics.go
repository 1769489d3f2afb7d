package app

import (
	"context"
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fortapi/fortapi/metrics"
	"github.com/fortapi/fortapi/server/postgres"
	"github.com/fortapi/fortapi/server/sqlite"
)

// registerMetrics registers the server's scrape-time metrics with reg:
// rate limits, the password hasher, the signing keys, the certificate's
// expiry, the store's connection pools and the WebSocket feed. The event
// counters (metrics.Security) are wired into the libraries by New.
func (a *App) registerMetrics(reg prometheus.Registerer) error {
	if err := metrics.RegisterHasher(reg, a.hasher); err != nil {
		return err
	}
	if err := metrics.RegisterKeys(reg, a.ring); err != nil {
		return err
	}
	if err := metrics.RegisterGaugeFunc(reg, "websocket_connections", "Open WebSocket connections of the item feed (GET /ws/items).",
		func() (float64, bool) { return float64(a.feed.Conns()), true }); err != nil {
		return err
	}
	if ce := a.cfg.CertExpiry; ce != nil {
		if err := metrics.RegisterGaugeFunc(reg, "tls_certificate_expiry_timestamp_seconds",
			"When the served TLS certificate expires, in Unix seconds.", func() (float64, bool) {
				t, err := ce(context.Background())
				return float64(t.Unix()), err == nil && !t.IsZero()
			}); err != nil {
			return err
		}
	}
	return reg.Register(newStoreCollector(a.store))
}

// storeCollector reads the store's pool statistics at scrape time:
// database/sql's DBStats for SQLite (pools writer and reader), pgxpool's
// Stat for PostgreSQL (pool postgres).
type storeCollector struct {
	store                                          Store
	poolConns, poolMax, poolWaits, poolWaitSeconds *prometheus.Desc
}

func newStoreCollector(store Store) *storeCollector {
	return &storeCollector{store: store,
		poolConns: prometheus.NewDesc("store_pool_connections", "Connections of the store's pool by state: in_use or idle.",
			[]string{"pool", "state"}, nil),
		poolMax: prometheus.NewDesc("store_pool_max_connections", "The most connections the store's pool opens.",
			[]string{"pool"}, nil),
		poolWaits: prometheus.NewDesc("store_pool_waits_total", "Times a query waited for a free connection.",
			[]string{"pool"}, nil),
		poolWaitSeconds: prometheus.NewDesc("store_pool_wait_seconds_total", "Total time queries waited for a free connection.",
			[]string{"pool"}, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.poolConns, c.poolMax, c.poolWaits, c.poolWaitSeconds} {
		ch <- d
	}
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	emit := func(pool string, inUse, idle, maxConns, waits int64, wait time.Duration) {
		ch <- prometheus.MustNewConstMetric(c.poolConns, prometheus.GaugeValue, float64(inUse), pool, "in_use")
		ch <- prometheus.MustNewConstMetric(c.poolConns, prometheus.GaugeValue, float64(idle), pool, "idle")
		ch <- prometheus.MustNewConstMetric(c.poolMax, prometheus.GaugeValue, float64(maxConns), pool)
		ch <- prometheus.MustNewConstMetric(c.poolWaits, prometheus.CounterValue, float64(waits), pool)
		ch <- prometheus.MustNewConstMetric(c.poolWaitSeconds, prometheus.CounterValue, wait.Seconds(), pool)
	}
	sqlStats := func(pool string, s sql.DBStats) {
		emit(pool, int64(s.InUse), int64(s.Idle), int64(s.MaxOpenConnections), s.WaitCount, s.WaitDuration)
	}
	switch s := c.store.(type) {
	case *sqlite.Store:
		w, r := s.PoolStats()
		sqlStats("writer", w)
		sqlStats("reader", r)
	case *postgres.Store:
		st := s.PoolStat()
		emit("postgres", int64(st.AcquiredConns()), int64(st.IdleConns()), int64(st.MaxConns()), st.EmptyAcquireCount(), st.EmptyAcquireWaitTime())
	}
}

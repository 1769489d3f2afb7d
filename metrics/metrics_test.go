package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSecurityCounters(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	s, err := NewSecurity(reg)
	if err != nil {
		t.Fatal(err)
	}
	s.Verified("ok")
	s.Verified("ok")
	s.Verified("revoked")
	s.CacheLookup(true)
	s.CacheLookup(false)
	s.CacheLookup(false)
	s.AuthAttempt("password", "failure", "invalid_credentials")
	s.Rejected("missing_token")
	s.CORSRejected()
	s.RefreshReuse()
	for _, tt := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{s.verifications.WithLabelValues("ok"), 2},
		{s.verifications.WithLabelValues("revoked"), 1},
		{s.cacheHit, 1},
		{s.cacheMiss, 2},
		{s.authAttempts.WithLabelValues("password", "failure", "invalid_credentials"), 1},
		{s.csrf.WithLabelValues("missing_token"), 1},
		{s.cors, 1},
		{s.refreshReuse, 1},
	} {
		if got := testutil.ToFloat64(tt.c); got != tt.want {
			t.Errorf("%v = %v, want %v", tt.c, got, tt.want)
		}
	}
	// A second set on the same registry is refused, and leaves nothing
	// half-registered behind.
	if _, err := NewSecurity(reg); err == nil {
		t.Error("NewSecurity registered twice on one registry")
	}
	if _, err := NewHTTP(reg); err != nil {
		t.Errorf("NewHTTP after a refused NewSecurity: %v", err)
	}
}

// BenchmarkSecurityHotPath is what a verified request adds: a cache
// lookup and a verification counted.
func BenchmarkSecurityHotPath(b *testing.B) {
	s, err := NewSecurity(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		s.CacheLookup(true)
		s.Verified("ok")
	}
}

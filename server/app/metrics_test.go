package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fortapi/fortapi/internal/pgtest"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/token"
	"github.com/fortapi/fortapi/wsfeed"
)

// Label values never come from the request: after 10,000 requests with
// distinct usernames, item ids, paths, tokens, methods and WebSocket
// upgrade origins and keys, every metric
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
		switch i % 6 {
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
		case 4: // a distinct method
			req = httptest.NewRequest(fmt.Sprintf("M%06d", i), "/items/", nil)
		default: // a WebSocket upgrade from a distinct origin, with a distinct bad key
			req = httptest.NewRequest("GET", "/ws/items", nil)
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			req.Header.Set("Origin", fmt.Sprintf("https://o%06d.example", i))
			for k, v := range map[string]string{"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
				"Sec-WebSocket-Key": fmt.Sprintf("key%06d", i)} {
				req.Header.Set(k, v)
			}
		}
		// Distinct clients, so that the global limit stays out of the way;
		// the logins from one, so that its login limit answers most of them
		// 429 before any password hashing.
		req.RemoteAddr = fmt.Sprintf("10.%d.%d.1:1234", i/256%256, i%256)
		if i%6 == 0 {
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
					strings.Contains(v, "/p0") || strings.HasPrefix(v, "M0") || strings.Contains(v, "10.") ||
					strings.Contains(v, "example") || strings.Contains(v, "key0") {
					t.Errorf("%s{%s=%q}: a label value from the request", mf.GetName(), l.GetName(), v)
				}
			}
		}
	}
	if total > 150 {
		t.Errorf("%d series in all, want a bounded handful", total)
	}
	t.Logf("%d families, %d series", len(mfs), total)
	// The upgrades the per-user read limit let through reached the feed.
	if got := metricValue(t, reg, "websocket_upgrade_rejections_total", "reason", "handshake"); got < 100 || got > n/6 {
		t.Errorf("websocket_upgrade_rejections_total{reason=handshake} = %v, want 100 to %d", got, n/6)
	}
}

// metricValue is the value of the series of reg's family name whose
// labels include the name=value pairs given; a histogram's sample count.
// Absent: 0.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
				}
				if !found {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

// TestMetricsWebSocketAndRevocationPropagation drives two instances on
// one store: a socket refused by the per-user cap, one closed by the
// client, one closed by a logout (4401); and revocations written by each
// instance, of which only those learned from the log (written by the
// other) count as propagation. On SQLite the instances poll the log; on
// PostgreSQL they are woken by LISTEN/NOTIFY.
func TestMetricsWebSocketAndRevocationPropagation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		store func(t *testing.T) StoreConfig
	}{
		{"sqlite", nil},
		{"postgres", func(t *testing.T) StoreConfig { return StoreConfig{PostgresURL: pgtest.SchemaURL(t, "on")} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t)
			if tc.store != nil {
				cfg.Store = tc.store(t)
			}
			testMetricsTwoInstances(t, cfg)
		})
	}
}

func testMetricsTwoInstances(t *testing.T, cfgA Config) {
	ctx := context.Background()
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	cfgA.Metrics, cfgA.FeedMaxConnsPerUser = regA, 1
	cfgB := cfgA
	cfgB.Metrics = regB
	a := newWSEnv(t, &cfgA)
	ids := map[string]string{}
	for name, role := range map[string]server.Role{"alice": server.RoleUser, "carol": server.RoleUser, "root": server.RoleAdmin} {
		u, err := a.a.Auth().CreateUser(ctx, name, wsPass, role, "test")
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = u.ID
	}
	b := newWSEnv(t, &cfgB)

	// A client's own close, then a refusal by the per-user cap (1), then
	// a logout on instance A closing the socket.
	tok := a.login("alice")
	a.mustDial(bearer(tok)).Close(websocket.StatusNormalClosure, "bye")
	waitMetric := func(reg *prometheus.Registry, want float64, name string, labels ...string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for metricValue(t, reg, name, labels...) < want && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if got := metricValue(t, reg, name, labels...); got != want {
			t.Fatalf("%s%v = %v, want %v", name, labels, got, want)
		}
	}
	waitMetric(regA, 1, "websocket_closes_total", "code", "1000", "initiator", "client")
	c := a.mustDial(bearer(tok))
	_, resp, err := a.dial("", bearer(a.login("alice")))
	refused(t, "a second socket past the per-user cap", resp, err, http.StatusTooManyRequests)
	if st, body := a.call(http.MethodPost, "/logout", tok, nil); st != http.StatusNoContent {
		t.Fatalf("logout: %d %s", st, body)
	}
	closedWith(t, c, wsfeed.CloseCredentials, 2*time.Second)
	waitMetric(regA, 1, "websocket_closes_total", "code", "4401", "initiator", "server")
	for _, tc := range []struct {
		want   float64
		name   string
		labels []string
	}{
		{1, "websocket_upgrade_rejections_total", []string{"reason", "subject_cap"}},
		{0, "websocket_upgrade_rejections_total", []string{"reason", "origin"}},
		{0, "websocket_connections", nil},
	} {
		if got := metricValue(t, regA, tc.name, tc.labels...); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	mfs, err := regA.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "websocket_closes_total" {
			continue
		}
		total := 0.0
		for _, m := range mf.GetMetric() {
			total += m.GetCounter().GetValue()
		}
		if total != 2 {
			t.Errorf("websocket_closes_total counts %v closes in all, want the two above", total)
		}
	}

	// Instance B disables carol. Its own Sync (run by the change) replays
	// A's logout, learned from the log, and its own revocation, which it
	// applied when it wrote it: one propagation.
	if _, err := b.a.Auth().SetDisabled(ctx, ids["carol"], true, ids["root"]); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, regB, "revocation_propagation_seconds"); got != 1 {
		t.Errorf("instance B observed %v propagations, want 1 (A's logout, not its own disable)", got)
	}
	// Instance A learns of the disable from the log (Run's replay): one
	// propagation, its own logout not counted. The Sync after the wait
	// waits for any replay in progress.
	deadline := time.Now().Add(5 * time.Second)
	for !a.a.revs.Revoked(&token.Claims{Subject: ids["carol"], IssuedAt: time.Now().Add(-time.Minute)}) {
		if time.Now().After(deadline) {
			t.Fatal("instance A did not apply B's revocation")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := a.a.Auth().Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := metricValue(t, regA, "revocation_propagation_seconds"); got != 1 {
		t.Errorf("instance A observed %v propagations, want 1 (B's disable, not its own logout)", got)
	}
}

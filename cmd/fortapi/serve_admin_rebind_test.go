package main

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestAdminDNSRebinding: without a token, the admin listener is protected
// by being on loopback only, which a web page defeats by DNS rebinding
// (its own name resolved to 127.0.0.1, then read /metrics or, with
// --admin-pprof, /debug/pprof/cmdline and the heap as same-origin). A
// request whose Host is a name other than localhost or the configured
// host is refused; IP literals and localhost pass. With a token the Host
// does not matter (a rebinding page cannot present the token).
func TestAdminDNSRebinding(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	open := adminHandler(newMetricsRegistry(), true, nil, "127.0.0.1", log)
	named := adminHandler(newMetricsRegistry(), false, nil, "metrics.internal", log)
	withToken := adminHandler(newMetricsRegistry(), false, []byte("0123456789abcdef0123456789abcdef"), "127.0.0.1", log)
	for _, tt := range []struct {
		name  string
		h     http.Handler
		host  string
		path  string
		token string
		want  int
	}{
		{"loopback IP", open, "127.0.0.1:9090", "/metrics", "", 200},
		{"IPv6 loopback", open, "[::1]:9090", "/metrics", "", 200},
		{"localhost", open, "localhost:9090", "/metrics", "", 200},
		{"LOCALHOST.", open, "LOCALHOST.:9090", "/metrics", "", 200},
		{"another IP", open, "10.0.0.5:9090", "/metrics", "", 200},
		{"rebinding name, metrics", open, "attacker.example:9090", "/metrics", "", 403},
		{"rebinding name, pprof cmdline", open, "attacker.example:9090", "/debug/pprof/cmdline", "", 403},
		{"rebinding name without port", open, "attacker.example", "/metrics", "", 403},
		{"localhost suffix", open, "localhost.attacker.example:9090", "/metrics", "", 403},
		{"decimal IP is a name", open, "2130706433:9090", "/metrics", "", 403},
		{"empty host", open, "", "/metrics", "", 403},
		{"configured name", named, "metrics.internal:9090", "/metrics", "", 200},
		{"configured name, other name", named, "attacker.example:9090", "/metrics", "", 403},
		{"token: any host", withToken, "attacker.example:9090", "/metrics", "0123456789abcdef0123456789abcdef", 200},
		{"token: rebinding without it", withToken, "attacker.example:9090", "/metrics", "", 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "http://127.0.0.1"+tt.path, nil)
			req.Host = tt.host
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			rec := httptest.NewRecorder()
			tt.h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("Host %q %s: %d, want %d: %.200s", tt.host, tt.path, rec.Code, tt.want, rec.Body)
			}
		})
	}
}

package main

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// scrape reads the admin listener's /metrics into series -> value, the
// series spelled as the text format writes it (labels sorted by name).
func scrape(t *testing.T, admin string) map[string]float64 {
	t.Helper()
	code, body := adminGet(t, plainClient, admin, "")
	if code != 200 {
		t.Fatalf("GET %s: %d\n%s", admin, code, body)
	}
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad line %q", line)
		}
		m[line[:i]] = v
	}
	return m
}

func dump(m map[string]float64) string {
	var b strings.Builder
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, "go_") && !strings.HasPrefix(k, "process_") && !strings.Contains(k, "_bucket{") {
			b.WriteString(k + " " + strconv.FormatFloat(m[k], 'g', -1, 64) + "\n")
		}
	}
	return b.String()
}

// TestMetricsScriptedSession drives a real server through logins,
// failures, refreshes, a refresh token reuse, a 429 and a CSRF refusal,
// and finds every counter at its expected value on the admin listener.
func TestMetricsScriptedSession(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const pw = "metrics admin passphrase"
	s := startServeEnv(t, dir, map[string]string{"FORTAPI_ADMIN_PASSWORD": pw},
		"--admin-addr", "127.0.0.1:0", "--rate-reads", "3/minute")
	admin := adminURL(t, s)
	c := tlsClient(t, dir, nil)
	base := s.url

	// Logins: one success, a wrong password, an unknown user.
	code, t0, body := postToken(t, c, base, url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {pw}})
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	for _, f := range []url.Values{
		{"grant_type": {"password"}, "username": {"admin"}, "password": {"not the password"}},
		{"grant_type": {"password"}, "username": {"ghost"}, "password": {"not the password"}},
	} {
		if code, _, body := postToken(t, c, base, f); code != 400 {
			t.Fatalf("failed login: %d %s", code, body)
		}
	}
	// Refreshes: r0 -> r1 -> r2, then r0 again: its successor was used,
	// so this is theft and the session is revoked.
	refresh := func(rt string) (int, tokens) {
		code, tr, _ := postToken(t, c, base, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}})
		return code, tr
	}
	code, t1 := refresh(t0.RefreshToken)
	if code != 200 {
		t.Fatalf("refresh: %d", code)
	}
	if code, _ := refresh(t1.RefreshToken); code != 200 {
		t.Fatalf("second refresh: %d", code)
	}
	if code, _ := refresh(t0.RefreshToken); code != 400 {
		t.Fatalf("reused refresh token: %d, want 400", code)
	}
	// A second login; its token makes four reads: the fourth is over
	// --rate-reads (429). The revoked session's token is refused (401),
	// a garbage token too.
	code, ta, body := postToken(t, c, base, url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {pw}})
	if code != 200 {
		t.Fatalf("second login: %d %s", code, body)
	}
	for i, want := range []int{200, 200, 200, 429} {
		if got, body := getWith(t, c, base+"/users/me", ta.AccessToken); got != want {
			t.Fatalf("read %d: %d %s, want %d", i+1, got, body, want)
		}
	}
	if got, _ := getWith(t, c, base+"/users/me", t0.AccessToken); got != 401 {
		t.Fatalf("token of the revoked session: %d, want 401", got)
	}
	if got, _ := getWith(t, c, base+"/users/me", "not-a-token"); got != 401 {
		t.Fatalf("garbage token: %d, want 401", got)
	}
	// A CSRF refusal: the login form posted without its token.
	resp, err := c.PostForm(base+"/login", url.Values{"username": {"admin"}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("login form without a CSRF token: %d, want 403", resp.StatusCode)
	}

	want := map[string]float64{
		`auth_attempts_total{method="password",reason="ok",result="success"}`:                                   2,
		`auth_attempts_total{method="password",reason="invalid_credentials",result="failure"}`:                  2,
		`auth_attempts_total{method="refresh",reason="ok",result="success"}`:                                    2,
		`auth_attempts_total{method="refresh",reason="reused",result="failure"}`:                                1,
		`refresh_reuse_detected_total`:                                                                          1,
		`csrf_rejections_total{reason="missing_token"}`:                                                         1,
		`ratelimit_decisions_total{limit="reads",result="allowed"}`:                                             3,
		`ratelimit_decisions_total{limit="reads",result="denied"}`:                                              1,
		`ratelimit_store_errors_total`:                                                                          0,
		`token_verifications_total{result="ok"}`:                                                                4,
		`token_verifications_total{result="revoked"}`:                                                           1,
		`token_verifications_total{result="malformed"}`:                                                         1,
		`http_server_request_duration_seconds_count{method="POST",operation="token",status_class="2xx"}`:        4,
		`http_server_request_duration_seconds_count{method="POST",operation="token",status_class="4xx"}`:        3,
		`http_server_request_duration_seconds_count{method="GET",operation="me",status_class="4xx"}`:            3,
		`http_server_request_duration_seconds_count{method="POST",operation="login-submit",status_class="4xx"}`: 1,
		`http_server_active_requests`:                                                                           0,
		`password_hash_queue_depth`:                                                                             0,
		`password_hash_rejections_total`:                                                                        0,
		`signing_keys{state="active"}`:                                                                          1,
		`signing_keys{state="next"}`:                                                                            1,
		`websocket_connections`:                                                                                 0,
		`cors_rejections_total`:                                                                                 0,
	}
	// The revocation of the reused session reaches the log's replay
	// within the sync interval (250 ms): wait for it, not for a time.
	var m map[string]float64
	deadline := time.Now().Add(30 * time.Second)
	for {
		m = scrape(t, admin)
		if m["revocation_propagation_seconds_count"] >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
	}
	if m["revocation_propagation_seconds_count"] < 1 {
		t.Error("no revocation propagation observed")
	}
	if m[`token_cache_requests_total{result="hit"}`] < 1 || m[`token_cache_requests_total{result="miss"}`] < 1 {
		t.Error("token cache lookups not counted")
	}
	if exp := m["tls_certificate_expiry_timestamp_seconds"]; exp < float64(time.Now().Unix()) {
		t.Errorf("tls_certificate_expiry_timestamp_seconds %v, want a future time", exp)
	}
	if _, ok := m[`store_pool_max_connections{pool="reader"}`]; !ok {
		t.Error("no store pool gauges")
	}
	// Never a username, token or password in the metrics.
	_, text := adminGet(t, plainClient, admin, "")
	for _, secret := range []string{"ghost", pw, t0.RefreshToken, ta.AccessToken, "not-a-token"} {
		if strings.Contains(text, secret) {
			t.Errorf("/metrics holds %q", secret)
		}
	}
	checkDocsQueries(t, m)
	if t.Failed() {
		t.Logf("metrics:\n%s", dump(m))
	}
}

// checkDocsQueries parses docs/grafana-dashboard.json and
// docs/prometheus-alerts.yml and checks that every metric their
// expressions query is among the scraped series m.
func checkDocsQueries(t *testing.T, m map[string]float64) {
	t.Helper()
	names := map[string]bool{}
	for series := range m {
		name, _, _ := strings.Cut(series, "{")
		names[name] = true
	}
	var exprs []string
	b, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("dashboard panel %q queries nothing", p.Title)
		}
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	b, err = os.ReadFile("../../docs/prometheus-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatalf("docs/prometheus-alerts.yml: %v", err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("alert rule %+v lacks a name or an expression", r)
			}
			exprs = append(exprs, r.Expr)
		}
	}
	if len(exprs) < 20 {
		t.Fatalf("only %d expressions in the dashboard and the alert rules", len(exprs))
	}
	promql := map[string]bool{"sum": true, "rate": true, "increase": true, "histogram_quantile": true, "clamp_min": true,
		"time": true, "by": true, "without": true, "and": true, "or": true, "unless": true, "max": true, "min": true, "avg": true}
	for _, e := range exprs {
		stripped := promqlNoise.ReplaceAllString(e, " ")
		for _, id := range promqlIdent.FindAllString(stripped, -1) {
			if !promql[id] && !names[id] {
				t.Errorf("%q queries %s, which the server does not export", e, id)
			}
		}
	}
}

var (
	// Label matchers, range selectors, by/without groupings and strings.
	promqlNoise = regexp.MustCompile(`\{[^}]*\}|\[[^\]]*\]|(by|without) *\([^)]*\)|"[^"]*"`)
	promqlIdent = regexp.MustCompile(`\b[a-zA-Z_:][a-zA-Z0-9_:]*`)
)

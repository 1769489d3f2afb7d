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

	"github.com/fortapi/fortapi/internal/e2e"
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

// TestMetricsScriptedSession drives a real server through logins (token
// endpoint and HTML form), failures, refreshes, a refresh token reuse, a
// 429, revoked, garbage and forged tokens, a CSRF refusal, a refused CORS
// preflight and a revocation written by the CLI, and finds every counter
// at its expected value on the admin listener.
func TestMetricsScriptedSession(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const pw = "metrics admin passphrase"
	s := startServeEnv(t, dir, map[string]string{"FORTAPI_ADMIN_PASSWORD": pw},
		"--admin-addr", "127.0.0.1:0", "--rate-reads", "3/minute", "--cors-origins", "https://app.example")
	admin := adminURL(t, s)
	c := e2e.TLSClient(t, dir, nil)
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
	// A token with one character inside its signature changed (not in
	// the last ones: their padding bits may decode to the same bytes).
	forged := []byte(ta.AccessToken)
	if i := len(forged) - 10; forged[i] == 'A' {
		forged[i] = 'B'
	} else {
		forged[i] = 'A'
	}
	if got, _ := getWith(t, c, base+"/users/me", string(forged)); got != 401 {
		t.Fatalf("forged token: %d, want 401", got)
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
	// A CORS preflight from an origin not allowed.
	req, _ := http.NewRequest(http.MethodOptions, base+"/users/me", nil)
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Access-Control-Request-Method", "GET")
	if resp, err = c.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("preflight from a foreign origin: %d, want 403", resp.StatusCode)
	}
	// Sign-ins through the HTML form (with its CSRF token): a wrong
	// password, then the right one.
	noRedirect := *c
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for _, tc := range []struct {
		password string
		status   int
	}{{"not the password", http.StatusBadRequest}, {pw, http.StatusSeeOther}} {
		resp, err := c.Get(base + "/csrftoken/")
		if err != nil {
			t.Fatal(err)
		}
		var ct struct {
			Token string `json:"csrf_token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&ct)
		resp.Body.Close()
		var csrfCookie string
		for _, ck := range resp.Cookies() {
			if ck.Name == "__Host-csrf" {
				csrfCookie = ck.Value
			}
		}
		if err != nil || ct.Token == "" || csrfCookie == "" {
			t.Fatalf("GET /csrftoken/: %d %v", resp.StatusCode, err)
		}
		form := url.Values{"csrf_token": {ct.Token}, "username": {"admin"}, "password": {tc.password}}
		req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Cookie", "__Host-csrf="+csrfCookie)
		if resp, err = noRedirect.Do(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Fatalf("POST /login: %d, want %d", resp.StatusCode, tc.status)
		}
	}
	// A revocation written by another process (the CLI, on the same
	// store): the only one whose propagation the server measures; its own
	// (the reused session's) it applied when it wrote it.
	if code, _, errOut := runIn(t, "a long passphrase for carol\n", "user", "add", "carol", "--data-dir", dir, "--password-stdin"); code != 0 {
		t.Fatalf("user add: %d %s", code, errOut)
	}
	if code, _, errOut := runIn(t, "", "user", "disable", "carol", "--data-dir", dir); code != 0 {
		t.Fatalf("user disable: %d %s", code, errOut)
	}
	// The admin's password change writes the server's own revocations,
	// then replays the log before it answers: the CLI's entry is applied
	// (and measured) by then, without waiting on the sync interval.
	req, _ = http.NewRequest(http.MethodPut, base+"/users/me/password",
		strings.NewReader(`{"current_password":"`+pw+`","new_password":"another metrics admin passphrase"}`))
	req.Header.Set("Authorization", "Bearer "+ta.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	if resp, err = c.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("password change: %d, want 204", resp.StatusCode)
	}

	want := map[string]float64{
		`auth_attempts_total{method="password",reason="ok",result="success"}`:                                     2,
		`auth_attempts_total{method="password",reason="invalid_credentials",result="failure"}`:                    2,
		`auth_attempts_total{method="refresh",reason="ok",result="success"}`:                                      2,
		`auth_attempts_total{method="refresh",reason="reused",result="failure"}`:                                  1,
		`auth_attempts_total{method="session",reason="ok",result="success"}`:                                      1,
		`auth_attempts_total{method="session",reason="invalid_credentials",result="failure"}`:                     1,
		`refresh_reuse_detected_total`:                                                                            1,
		`csrf_rejections_total{reason="missing_token"}`:                                                           1,
		`ratelimit_decisions_total{limit="reads",result="allowed"}`:                                               3,
		`ratelimit_decisions_total{limit="reads",result="denied"}`:                                                1,
		`ratelimit_store_errors_total`:                                                                            0,
		`token_verifications_total{result="ok"}`:                                                                  5,
		`token_verifications_total{result="revoked"}`:                                                             1,
		`token_verifications_total{result="malformed"}`:                                                           1,
		`token_verifications_total{result="bad_signature"}`:                                                       1,
		`http_server_request_duration_seconds_count{method="POST",operation="token",status_class="2xx"}`:          4,
		`http_server_request_duration_seconds_count{method="POST",operation="token",status_class="4xx"}`:          3,
		`http_server_request_duration_seconds_count{method="GET",operation="me",status_class="4xx"}`:              4,
		`http_server_request_duration_seconds_count{method="POST",operation="login-submit",status_class="4xx"}`:   2,
		`http_server_request_duration_seconds_count{method="POST",operation="login-submit",status_class="3xx"}`:   1,
		`http_server_request_duration_seconds_count{method="PUT",operation="change-password",status_class="2xx"}`: 1,
		`http_server_active_requests`:                                                                             0,
		`password_hash_queue_depth`:                                                                               0,
		`password_hash_rejections_total`:                                                                          0,
		`signing_keys{state="active"}`:                                                                            1,
		`signing_keys{state="next"}`:                                                                              1,
		`websocket_connections`:                                                                                   0,
		`cors_rejections_total`:                                                                                   1,
		`revocation_propagation_seconds_count`:                                                                    1,
	}
	m := scrape(t, admin)
	for k, v := range want {
		if got, ok := m[k]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", k, got, ok, v)
		}
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
	for _, secret := range []string{"ghost", "carol", pw, t0.RefreshToken, ta.AccessToken, "not-a-token", string(forged)} {
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

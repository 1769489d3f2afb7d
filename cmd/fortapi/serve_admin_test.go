package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/e2e"
)

// adminURL is the admin listener's /metrics URL from a server's log.
func adminURL(t *testing.T, s served) string {
	t.Helper()
	for line := range strings.SplitSeq(s.log.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "admin listener" {
			return m["admin_url"].(string)
		}
	}
	t.Fatalf("no admin listener in the log:\n%s", s.log.String())
	return ""
}

// adminGet fetches url with the bearer token (none when empty) and returns the
// status and body.
func adminGet(t *testing.T, c *http.Client, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

var plainClient = &http.Client{Timeout: 60 * time.Second}

func TestAdminListener(t *testing.T) {
	t.Parallel()
	t.Run("metrics, no pprof, nothing on the public listener", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		s := startServe(t, dir, "--admin-addr", "127.0.0.1:0")
		admin := adminURL(t, s)
		pub := e2e.TLSClient(t, dir, nil)
		if code, _ := adminGet(t, pub, s.url+"/healthz", ""); code != 200 {
			t.Fatalf("/healthz: %d", code)
		}
		code, body := adminGet(t, plainClient, admin, "")
		if code != 200 || !strings.Contains(body, `http_server_request_duration_seconds_count{method="GET",operation="healthz",status_class="2xx"} 1`) ||
			!strings.Contains(body, "go_goroutines") {
			t.Errorf("admin /metrics: %d\n%s", code, body)
		}
		base := strings.TrimSuffix(admin, "/metrics")
		for _, u := range []string{base + "/debug/pprof/", base + "/debug/pprof/cmdline", base + "/"} {
			if code, _ := adminGet(t, plainClient, u, ""); code != 404 {
				t.Errorf("admin %s without --admin-pprof: %d, want 404", u, code)
			}
		}
		for _, p := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/cmdline", "/debug/vars"} {
			if code, _ := adminGet(t, pub, s.url+p, ""); code != 404 {
				t.Errorf("public %s: %d, want 404", p, code)
			}
		}
	})
	t.Run("token and pprof", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			t.Fatal(err)
		}
		token := base64.StdEncoding.EncodeToString(raw)
		wrong := base64.StdEncoding.EncodeToString(append(raw[:31:31], raw[31]^1))
		file := filepath.Join(t.TempDir(), "admin.token")
		if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		s := startServe(t, dir, "--admin-addr", "127.0.0.1:0", "--admin-pprof", "--admin-token-file", file)
		admin := adminURL(t, s)
		pprof := strings.TrimSuffix(admin, "/metrics") + "/debug/pprof/"
		for _, tt := range []struct {
			name, url, token string
			want             int
		}{
			{"metrics without token", admin, "", 401},
			{"metrics with a wrong token", admin, wrong, 401},
			{"metrics with a prefix of the token", admin, token[:16], 401},
			{"metrics with the token", admin, token, 200},
			{"pprof without token", pprof, "", 401},
			{"pprof with the token", pprof, token, 200},
		} {
			t.Run(tt.name, func(t *testing.T) {
				code, body := adminGet(t, plainClient, tt.url, tt.token)
				if code != tt.want || strings.Contains(body, token) {
					t.Errorf("%d, want %d:\n%.300s", code, tt.want, body)
				}
			})
		}
		if strings.Contains(s.log.String(), token) {
			t.Error("the log holds the admin token")
		}
	})
}

func TestAdminListenerRefusals(t *testing.T) {
	t.Parallel()
	okArgs, okEnv := productionSetup(t)
	weak := filepath.Join(t.TempDir(), "weak.token")
	if err := os.WriteFile(weak, []byte("changeme\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() }) // the subtests run after this function returns
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"production, all interfaces without a token file", append(okArgs, "--admin-addr", "0.0.0.0:0"), okEnv, exitError,
			"fortapi serve: production: --admin-addr 0.0.0.0:0 is reachable beyond this machine without --admin-token-file"},
		{"production, empty host without a token file", append(okArgs, "--admin-addr", ":0"), okEnv, exitError,
			"fortapi serve: production: --admin-addr :0 is reachable beyond this machine"},
		{"weak token", []string{"--admin-addr", "127.0.0.1:0", "--admin-token-file", weak}, nil, exitError, "--admin-token-file " + weak + ": "},
		{"missing token file", []string{"--admin-addr", "127.0.0.1:0", "--admin-token-file", weak + ".nope"}, nil, exitError, "--admin-token-file: "},
		{"port taken", []string{"--admin-addr", taken.Addr().String()}, nil, exitError, "listening on --admin-addr " + taken.Addr().String()},
		{"bad address", []string{"--admin-addr", "9090"}, nil, exitUsage, `invalid --admin-addr "9090"`},
		{"audit retention too short", []string{"--audit-retention", "10m"}, nil, exitUsage, "invalid --audit-retention 10m0s: want at least 1h, or 0"},
		{"negative audit retention", []string{"--audit-retention", "-1h"}, nil, exitUsage, "invalid --audit-retention -1h0m0s"},
		{"pprof without the listener", []string{"--admin-addr", "", "--admin-pprof"}, nil, exitUsage, "--admin-pprof and --admin-token-file need --admin-addr"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"serve", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0", "--http-addr", ""}, tt.args...)
			code, _, errOut := runCmd(t, args, tt.env)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, want %d with %q; stderr:\n%s", code, tt.code, tt.want, errOut)
			}
			if strings.Contains(errOut, "created the administrator") {
				t.Error("a refused start created the administrator")
			}
		})
	}
}

func TestAdminLoopback(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		addr, token string
		loopback    bool
	}{
		{"127.0.0.1:9090", "", true},
		{"127.8.0.1:9090", "", true},
		{"[::1]:9090", "", true},
		{"localhost:9090", "", true},
		{"LocalHost:9090", "", true},
		{":9090", "", false},
		{"0.0.0.0:9090", "", false},
		{"[::]:9090", "", false},
		{"10.0.0.5:9090", "", false},
		{"metrics.internal:9090", "", false},
		{"localhost.evil.example:9090", "", false},
		{"10.0.0.5:9090", "/etc/fortapi/admin.token", false},
	} {
		t.Run(tt.addr, func(t *testing.T) {
			a := adminConfig{addr: tt.addr, tokenFile: tt.token}
			if got := a.loopback(); got != tt.loopback {
				t.Errorf("loopback %v, want %v", got, tt.loopback)
			}
			if refused := a.productionProblem() != ""; refused != (!tt.loopback && tt.token == "") {
				t.Errorf("production refusal %v", refused)
			}
		})
	}
}

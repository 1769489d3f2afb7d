package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/e2e"
	"github.com/fortapi/fortapi/scan"
)

// TestScanFindsNothingOnServe scans `fortapi serve` (in-process, HTTPS,
// development certificate, rate limits scaled as load tests do) with two
// users and the administrator: the reference server must give no finding
// but info notes. It is also a regression test of the server, and of the
// scanner's pacing: the users log in again afterwards, unthrottled.
func TestScanFindsNothingOnServe(t *testing.T) {
	if testing.Short() {
		t.Skip("a full scan; skipped with -short")
	}
	dir := t.TempDir()
	s := startServeEnv(t, dir, map[string]string{"FORTAPI_ADMIN_PASSWORD": e2e.AdminPassword}, "--rate-scale", "1000")
	c := e2e.TLSClient(t, dir, nil)
	admin := e2e.Login(t, c, s.url)
	users := map[string]string{"alice": "alice scan passphrase " + atkRand(4), "bob": "bob scan passphrase " + atkRand(4)}
	for name, pw := range users {
		body, _ := json.Marshal(map[string]string{"username": name, "password": pw, "role": "user"})
		req, _ := http.NewRequest("POST", s.url+"/users", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("creating %s: %d", name, resp.StatusCode)
		}
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	// the users' credentials come from the environment, as the help advises
	code := run(ctx, []string{"scan", s.url, "--admin", "admin:" + e2e.AdminPassword,
		"--cacert", filepath.Join(dir, "tls", "cert.pem"), "--format", "json", "--rate", "400", "--fail-on", "low"},
		env(map[string]string{"FORTAPI_SCAN_USER": "alice:" + users["alice"] + "\nbob:" + users["bob"]}), strings.NewReader(""), &stdout, &stderr)
	if testing.Verbose() {
		t.Logf("report:\n%s", stdout.String())
	}
	elapsed := time.Since(start)
	var rep scan.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("exit %d, stderr %s, report %q: %v", code, stderr.String(), stdout.String(), err)
	}
	t.Logf("scan of fortapi serve: %d requests in %.1f s (wall %s)", rep.Requests, rep.DurationS, elapsed.Round(time.Millisecond))
	for _, f := range rep.Findings {
		if f.Severity == scan.Info {
			t.Logf("info: %s", f.Evidence)
			continue
		}
		t.Errorf("finding %s %s %s [%s]:\n%s", f.Severity, f.ID, f.Operation, f.Parameter, f.Evidence)
	}
	if code != 0 {
		t.Errorf("exit %d, stderr %s", code, stderr.String())
	}
	if rep.Requests < 200 {
		t.Errorf("only %d requests: the scan did not run its checks", rep.Requests)
	}
	if elapsed > 60*time.Second {
		t.Errorf("the scan took %s, the goal is under 60 s", elapsed)
	}
	// pacing: the real accounts are not locked out by the scan
	for name, pw := range users {
		code, _, body := loginAs(t, c, s.url, name, pw)
		if code != 200 {
			t.Errorf("%s cannot log in after the scan: %d %s", name, code, body)
		}
	}
}

func loginAs(t *testing.T, c *http.Client, base, name, pw string) (int, string, string) {
	t.Helper()
	resp, err := c.PostForm(base+"/token", map[string][]string{"grant_type": {"password"}, "username": {name}, "password": {pw}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), b.String()
}

func TestScanUsage(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no URL", []string{"scan"}, nil, "missing URL"},
		{"bad format", []string{"scan", "https://127.0.0.1:1", "--format", "pdf"}, nil, `invalid --format "pdf"`},
		{"bad fail-on", []string{"scan", "https://127.0.0.1:1", "--fail-on", "severe"}, nil, "invalid --fail-on"},
		{"bad user", []string{"scan", "https://127.0.0.1:1", "--user", "alice"}, nil, "invalid --user: want NAME:PASSWORD"},
		{"bad user from env", []string{"scan", "https://127.0.0.1:1"}, map[string]string{"FORTAPI_SCAN_USER": "alice"}, "invalid --user"},
		{"both env and file", []string{"scan", "https://127.0.0.1:1"}, map[string]string{"FORTAPI_SCAN_ADMIN": "a:b", "FORTAPI_SCAN_ADMIN_FILE": "/x"}, "both FORTAPI_SCAN_ADMIN and FORTAPI_SCAN_ADMIN_FILE"},
		{"bad rate", []string{"scan", "https://127.0.0.1:1", "--rate", "0"}, nil, "invalid --rate"},
		{"bad budget", []string{"scan", "https://127.0.0.1:1", "--max-requests", "0"}, nil, "invalid --max-requests"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args, tt.env)
			if code != exitUsage || out != "" || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, exitUsage, tt.want)
			}
			if strings.Contains(errOut, "hunter") {
				t.Error("a password was echoed")
			}
		})
	}
	code, out, _ := runCmd(t, []string{"scan", "--help"}, nil)
	for _, w := range []string{"FORTAPI_SCAN_USER", "FORTAPI_SCAN_USER_FILE", "--fail-on", "--allow-destructive", "--openapi", "--token-url", "ps"} {
		if code != 0 || !strings.Contains(out, w) {
			t.Errorf("help (exit %d) lacks %q", code, w)
		}
	}
	// a target that does not answer: exit 1, one line
	code, _, errOut := runCmd(t, []string{"scan", "http://127.0.0.1:1", "--rate", "1000"}, nil)
	if code != exitError || !strings.Contains(errOut, "no usable OpenAPI document") {
		t.Errorf("unreachable target: exit %d, %q", code, errOut)
	}
}

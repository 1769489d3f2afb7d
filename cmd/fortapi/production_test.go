package main

import (
	"crypto/rand"
	"encoding/hex"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/tlsconfig"
)

// productionSetup is what a production start needs: certificate files,
// a random master key and the first administrator's password.
func productionSetup(t *testing.T) (args []string, kv map[string]string) {
	t.Helper()
	dc := certPair(t, tlsconfig.DevCertOptions{})
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	return []string{"--env", "production", "--tls-cert", dc.CertFile, "--tls-key", dc.KeyFile},
		map[string]string{"FORTAPI_MASTER_KEY": hex.EncodeToString(key), "FORTAPI_ADMIN_PASSWORD": "a long passphrase for production"}
}

func TestProductionRefusals(t *testing.T) {
	t.Parallel()
	okArgs, okEnv := productionSetup(t)
	without := func(names ...string) map[string]string {
		kv := maps.Clone(okEnv)
		for _, n := range names {
			delete(kv, n)
		}
		return kv
	}
	with := func(k, v string) map[string]string {
		kv := maps.Clone(okEnv)
		kv[k] = v
		return kv
	}
	pwFile := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(pwFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	const (
		noKey    = "fortapi serve: production: no master key: set FORTAPI_MASTER_KEY or FORTAPI_MASTER_KEY_FILE"
		devCert  = "fortapi serve: production: the self-signed development certificate is refused: give --tls-cert and --tls-key, or --acme-domain"
		genAdmin = "fortapi serve: production: the first administrator's password would be generated and printed: set FORTAPI_ADMIN_PASSWORD or FORTAPI_ADMIN_PASSWORD_FILE"
		insecure = "fortapi serve: production: --insecure-http needs --trusted-proxies"
	)
	for _, tt := range []struct {
		name     string
		args     []string
		env      map[string]string
		devFirst bool // a development run first: a generated master.key exists
		want     []string
	}{
		{name: "no master key: would be generated", args: okArgs, env: without("FORTAPI_MASTER_KEY"), want: []string{noKey}},
		{name: "generated master key from a development run", args: okArgs, env: without("FORTAPI_MASTER_KEY"), devFirst: true, want: []string{noKey}},
		{name: "known example master key", args: okArgs, env: with("FORTAPI_MASTER_KEY", "changeme"), want: []string{"fortapi serve: production: master key: ", "$FORTAPI_MASTER_KEY"}},
		{name: "low-entropy master key", args: okArgs, env: with("FORTAPI_MASTER_KEY", strings.Repeat("ab", 32)), want: []string{"fortapi serve: production: master key: ", "$FORTAPI_MASTER_KEY"}},
		{name: "short master key", args: okArgs, env: with("FORTAPI_MASTER_KEY", "k3Y9x2Lq7Wm4ZpT8"), want: []string{"fortapi serve: production: master key: ", "$FORTAPI_MASTER_KEY"}},
		{name: "development certificate", args: []string{"--env", "production"}, env: okEnv, want: []string{devCert}},
		{name: "generated admin password", args: okArgs, env: without("FORTAPI_ADMIN_PASSWORD"), want: []string{genAdmin}},
		{name: "empty admin password file", args: okArgs, env: with("FORTAPI_ADMIN_PASSWORD_FILE", pwFile), want: []string{"fortapi serve: production: administrator password: "}},
		{name: "insecure HTTP without trusted proxies", args: []string{"--env", "production", "--insecure-http"}, env: okEnv, want: []string{insecure}},
		{name: "everything at once, production from the environment", args: nil, env: map[string]string{"FORTAPI_ENV": "production"}, want: []string{noKey, devCert, genAdmin}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.devFirst {
				s := startServe(t, dir)
				s.stop()
			}
			args := append([]string{"serve", "--data-dir", dir, "--addr", "127.0.0.1:0", "--http-addr", ""}, tt.args...)
			code, out, errOut := runCmd(t, args, tt.env)
			if code != exitError || out != "" {
				t.Fatalf("exit %d, stdout %q, want exit %d; stderr:\n%s", code, out, exitError, errOut)
			}
			var lines []string // the refusals, apart from the JSON log
			for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
				if !strings.HasPrefix(l, "{") {
					lines = append(lines, l)
				}
			}
			wantLines := 0
			for _, w := range tt.want {
				if strings.HasPrefix(w, "fortapi serve: ") {
					wantLines++
				}
			}
			if len(lines) != wantLines {
				t.Errorf("%d lines, want %d:\n%s", len(lines), wantLines, strings.Join(lines, "\n"))
			}
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || strings.Contains(l, w)
				}
				if !found {
					t.Errorf("no line with %q:\n%s", w, strings.Join(lines, "\n"))
				}
			}
			for _, v := range tt.env {
				if len(v) >= 8 && strings.Contains(errOut, v) && !strings.HasPrefix(v, "/") && v != "production" {
					t.Errorf("stderr holds the secret %q", v)
				}
			}
			if !tt.devFirst {
				if _, err := os.Stat(filepath.Join(dir, masterKeyFile)); err == nil {
					t.Error("a master key was generated in production mode")
				}
			}
			if strings.Contains(errOut, `"msg":"serving"`) {
				t.Error("served before refusing")
			}
		})
	}
}

// TestProductionStarts: certificate files, a random master key and the
// administrator's password from the environment pass; a restart needs the
// password no more (the administrator exists); --insecure-http passes with
// --trusted-proxies.
func TestProductionStarts(t *testing.T) {
	t.Parallel()
	args, kv := productionSetup(t)
	dir := t.TempDir()
	s := startServeEnv(t, dir, kv, args...)
	dc, err := tlsconfig.DevCertificate(filepath.Dir(args[3]), tlsconfig.DevCertOptions{}) // loads the pair
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := get(t, trusting(t, dc), s.url+"/healthz"); resp.StatusCode != 200 {
		t.Errorf("/healthz: %d %s", resp.StatusCode, body)
	}
	if code := s.stop(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, s.log.String())
	}
	if !strings.Contains(s.log.String(), "production mode: secrets, certificate and transport checked") {
		t.Errorf("production mode not logged:\n%s", s.log.String())
	}
	if _, err := os.Stat(filepath.Join(dir, masterKeyFile)); err == nil {
		t.Error("a master key was generated in production mode")
	}
	delete(kv, "FORTAPI_ADMIN_PASSWORD")
	s = startServeEnv(t, dir, kv, args...)
	if code := s.stop(); code != 0 {
		t.Fatalf("restart: exit %d:\n%s", code, s.log.String())
	}
	_, kv = productionSetup(t)
	s = startServeEnv(t, t.TempDir(), kv, "--env", "production", "--insecure-http", "--trusted-proxies", "10.0.0.0/8")
	if code := s.stop(); code != 0 {
		t.Fatalf("behind a proxy: exit %d:\n%s", code, s.log.String())
	}
}

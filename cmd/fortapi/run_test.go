package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/browsertest"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func runCmd(t *testing.T, args []string, kv map[string]string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code := run(ctx, args, env(kv), strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestHelp(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"serve", "openapi", "version"}},
		{[]string{"serve", "--help"}, []string{"--data-dir", "FORTAPI_DATA_DIR", "--addr", "FORTAPI_ADDR", "--insecure-http", "FORTAPI_INSECURE_HTTP", "--rate-scale", "FORTAPI_RATE_SCALE"}},
		{[]string{"openapi", "-h"}, []string{"OpenAPI 3.1"}},
		{[]string{"version", "--help"}, []string{"version"}},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args, nil)
			if code != 0 || errOut != "" {
				t.Fatalf("exit %d, stderr %q", code, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("help lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"no command", nil, nil, "Usage"},
		{"unknown command", []string{"serv"}, nil, `unknown command "serv"`},
		{"unknown flag", []string{"serve", "--bogus"}, nil, "flag provided but not defined: -bogus"},
		{"bad rate scale", []string{"serve", "--rate-scale", "-3"}, nil, "invalid --rate-scale"},
		{"NaN rate scale", []string{"serve", "--rate-scale", "NaN"}, nil, "invalid --rate-scale"},
		{"non-numeric rate scale", []string{"serve", "--rate-scale", "fast"}, nil, `invalid value "fast" for flag -rate-scale`},
		{"bad env value", []string{"serve"}, map[string]string{"FORTAPI_RATE_SCALE": "fast"}, `invalid value "fast" for FORTAPI_RATE_SCALE`},
		{"bad env bool", []string{"serve"}, map[string]string{"FORTAPI_INSECURE_HTTP": "maybe"}, "FORTAPI_INSECURE_HTTP"},
		{"bad addr", []string{"serve", "--addr", "localhost"}, nil, `invalid --addr "localhost"`},
		{"empty data dir", []string{"serve", "--data-dir", " "}, nil, "--data-dir must not be empty"},
		{"bad log level", []string{"serve", "--log-level", "loud"}, nil, "invalid --log-level"},
		{"bad log format", []string{"serve", "--log-format", "xml"}, nil, "invalid --log-format"},
		{"bad shutdown timeout", []string{"serve", "--shutdown-timeout", "1h"}, nil, "invalid --shutdown-timeout"},
		{"stray argument", []string{"serve", "now"}, nil, `unexpected argument "now"`},
		{"version argument", []string{"version", "x"}, nil, `unexpected argument "x"`},
		{"openapi flag", []string{"openapi", "--pretty"}, nil, "flag provided but not defined"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args, tt.env)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d; stderr %q", code, exitUsage, errOut)
			}
			if out != "" {
				t.Errorf("stdout %q, want nothing", out)
			}
			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q lacks %q", errOut, tt.want)
			}
			if tt.args != nil && strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
				t.Errorf("stderr is not one line: %q", errOut)
			}
		})
	}
}

func TestFlagsFromEnvironmentAndCommandLine(t *testing.T) {
	var stderr bytes.Buffer
	cfg, code, ok := parseServe([]string{"--addr", "127.0.0.1:9"}, env(map[string]string{
		"FORTAPI_ADDR": "127.0.0.1:1", "FORTAPI_DATA_DIR": "/tmp/x", "FORTAPI_INSECURE_HTTP": "true", "FORTAPI_RATE_SCALE": "50",
	}), io.Discard, &stderr)
	if !ok || code != 0 {
		t.Fatalf("parse failed: %s", stderr.String())
	}
	if cfg.addr != "127.0.0.1:9" {
		t.Errorf("the command line must win over the environment: addr %q", cfg.addr)
	}
	if cfg.dataDir != "/tmp/x" || !cfg.insecureHTTP || cfg.rateScale != 50 {
		t.Errorf("environment not applied: %+v", cfg)
	}
}

func TestOpenAPICommand(t *testing.T) {
	code, out, errOut := runCmd(t, []string{"openapi"}, nil)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	want := map[string][]string{"/items/": {"get", "post"}, "/items/{id}": {"get", "put", "delete"}, "/healthz": {"get"}, "/readyz": {"get"}}
	for path, methods := range want {
		for _, m := range methods {
			op, ok := doc.Paths[path][m]
			if !ok {
				t.Errorf("%s %s is missing", m, path)
				continue
			}
			if _, ok := op["security"]; !ok {
				t.Errorf("%s %s declares no security", m, path)
			}
		}
	}
}

func TestVersionCommand(t *testing.T) {
	code, out, _ := runCmd(t, []string{"version"}, nil)
	if code != 0 || !strings.HasPrefix(out, "fortapi ") || !strings.Contains(out, "go1.") {
		t.Errorf("exit %d, output %q", code, out)
	}
}

// lineWriter collects a process's log and reports the "serving" URL.
type lineWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	part []byte
	url  chan string
}

func newLineWriter() *lineWriter { return &lineWriter{url: make(chan string, 1)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.part = append(w.part, p...)
	for {
		i := bytes.IndexByte(w.part, '\n')
		if i < 0 {
			break
		}
		var m map[string]any
		if json.Unmarshal(w.part[:i], &m) == nil && m["msg"] == "serving" {
			select {
			case w.url <- m["url"].(string):
			default:
			}
		}
		w.part = w.part[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// tlsClient trusts only the development certificate in dataDir.
func tlsClient(t *testing.T, dataDir string, cfg *tls.Config) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(dataDir, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("cert.pem holds no certificate")
	}
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.RootCAs = pool
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
}

type served struct {
	url  string
	log  *lineWriter
	stop func() int
}

func startServe(t *testing.T, dataDir string, extra ...string) served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log := newLineWriter()
	done := make(chan int, 1)
	args := append([]string{"serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0"}, extra...)
	go func() { done <- run(ctx, args, env(nil), strings.NewReader(""), io.Discard, log) }()
	var once sync.Once
	code := -1
	stop := func() int {
		once.Do(func() {
			cancel()
			select {
			case code = <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("serve did not stop within 30s of cancellation")
			}
		})
		return code
	}
	t.Cleanup(func() { stop() })
	select {
	case u := <-log.url:
		return served{url: u, log: log, stop: stop}
	case c := <-done:
		t.Fatalf("serve exited %d before serving:\n%s", c, log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not start:\n%s", log.String())
	}
	return served{}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, dir)
	if !strings.HasPrefix(s.url, "https://127.0.0.1:") {
		t.Fatalf("url %q", s.url)
	}
	c := tlsClient(t, dir, nil)
	for _, tt := range []struct {
		path, ctype string
		status      int
	}{
		{"/healthz", "application/json", 200},
		{"/readyz", "application/json", 200},
		{"/openapi.json", "application/json", 200},
		{"/docs", "text/html; charset=utf-8", 200},
		{"/items/", "application/problem+json", 401},
		{"/items/01a2211e-0000-7000-8000-000000000000", "application/problem+json", 401},
		{"/nope", "application/problem+json", 404},
	} {
		t.Run(tt.path, func(t *testing.T) {
			resp, b := get(t, c, s.url+tt.path)
			if resp.StatusCode != tt.status || resp.Header.Get("Content-Type") != tt.ctype {
				t.Fatalf("%d %q: %.200s", resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			if resp.ProtoMajor != 2 {
				t.Errorf("protocol %s, want HTTP/2 over TLS", resp.Proto)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
		})
	}
	t.Run("POST without credentials is refused before the body is read", func(t *testing.T) {
		resp, err := c.Post(s.url+"/items/", "application/json", strings.NewReader(`{"name":"x","price":1}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("old TLS versions are refused", func(t *testing.T) {
		for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
			old := tlsClient(t, dir, &tls.Config{MinVersion: v, MaxVersion: v})
			if _, err := old.Get(s.url + "/healthz"); err == nil {
				t.Errorf("TLS version %x accepted", v)
			}
		}
	})
	t.Run("plain HTTP to the TLS port does not get an answer", func(t *testing.T) {
		resp, err := http.Get(strings.Replace(s.url, "https://", "http://", 1) + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Errorf("plain HTTP served: %d", resp.StatusCode)
			}
		}
	})
	if code := s.stop(); code != 0 {
		t.Fatalf("exit %d after cancellation:\n%s", code, s.log.String())
	}
	for _, want := range []string{`"msg":"shutting down"`, `"msg":"stopped"`, `"created":true`} {
		if !strings.Contains(s.log.String(), want) {
			t.Errorf("log lacks %s", want)
		}
	}
	if strings.Contains(s.log.String(), "PRIVATE KEY") {
		t.Error("the log contains the private key")
	}
}

func TestDevCertificateIsReused(t *testing.T) {
	dir := t.TempDir()
	s := startServe(t, dir)
	s.stop()
	first, err := os.ReadFile(filepath.Join(dir, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "tls", "key.pem"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key.pem mode %v (%v), want 0600", st.Mode().Perm(), err)
	}
	s = startServe(t, dir)
	s.stop()
	second, _ := os.ReadFile(filepath.Join(dir, "tls", "cert.pem"))
	if !bytes.Equal(first, second) || !strings.Contains(s.log.String(), `"created":false`) {
		t.Error("the development certificate was not reused on restart")
	}
	if !strings.Contains(s.log.String(), `"sha256":"`) {
		t.Error("the fingerprint is not logged")
	}
}

func TestInsecureHTTPWarns(t *testing.T) {
	s := startServe(t, t.TempDir(), "--insecure-http")
	if !strings.HasPrefix(s.url, "http://") {
		t.Fatalf("url %q", s.url)
	}
	resp, _ := get(t, http.DefaultClient, s.url+"/healthz")
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
	if !strings.Contains(s.log.String(), `"level":"WARN","msg":"serving plain HTTP (--insecure-http)`) {
		t.Errorf("no warning:\n%s", s.log.String())
	}
}

func TestServeFailsClearly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"port in use", []string{"serve", "--data-dir", t.TempDir(), "--addr", ln.Addr().String()}, "listening on"},
		{"data dir is a file", []string{"serve", "--data-dir", file, "--addr", "127.0.0.1:0"}, "data directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCmd(t, tt.args, nil)
			if code != exitError || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stderr %q", code, errOut)
			}
		})
	}
}

// TestDocsRenderTheRealDocument loads /docs of the real server in Chromium:
// the embedded UI renders every operation of the server's own OpenAPI
// document with no CSP violation or script error.
func TestDocsRenderTheRealDocument(t *testing.T) {
	bin := browsertest.Require(t)
	s := startServe(t, t.TempDir())
	var dom, log string
	for _, budget := range []int{10000, 25000} {
		dom, log = browsertest.DumpDOM(t, bin, s.url+"/docs", browsertest.Options{BudgetMS: budget, IgnoreCertificateErrors: true})
		if strings.Contains(dom, "/items/{id}") {
			break
		}
	}
	for _, p := range browsertest.Problems(log) {
		t.Errorf("CSP violation or script error: %s", p)
	}
	for _, want := range []string{"fortapi", "/healthz", "/readyz", "/items/", "/items/{id}", "Create an item", "Replace an item's fields"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered docs lack %q", want)
		}
	}
	if t.Failed() {
		t.Logf("DOM (%d bytes):\n%.3000s", len(dom), dom)
	}
}

func TestDataFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, dir)
	files := []string{"fortapi.db", "fortapi.db-wal", "fortapi.db-shm", "tls/key.pem"}
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			st, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			if perm := st.Mode().Perm(); perm&0o077 != 0 {
				t.Errorf("%s has mode %v, readable by others", name, perm)
			}
		})
	}
	s.stop()
	if !strings.Contains(s.log.String(), "the data directory is accessible to other users") {
		t.Error("no warning about a data directory open to others")
	}
}

package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

// AdminPassword is the administrator password the processes Serve starts
// bootstrap with (FORTAPI_ADMIN_PASSWORD).
const AdminPassword = "process-test admin passphrase"

// Process is a running fortapi process.
type Process struct {
	Cmd  *exec.Cmd
	Log  *LineWriter // its standard error
	URL  string      // the URL it serves, from its log
	done chan error  // holds cmd.Wait's result once it exits
}

// Start starts cmd with its standard error going to the process's Log,
// kills it (only it, by PID) when t ends, and waits up to 60 s for it to
// log the URL it serves. It returns an error instead of failing t, so that
// processes can start in parallel.
func Start(t testing.TB, cmd *exec.Cmd) (*Process, error) {
	p := &Process{Cmd: cmd, Log: NewLineWriter(), done: make(chan error, 1)}
	cmd.Stderr = p.Log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		p.done <- <-p.done
	})
	select {
	case p.URL = <-p.Log.URL():
		return p, nil
	case err := <-p.done:
		p.done <- err
		return nil, fmt.Errorf("the server exited before serving (%v):\n%s", err, p.Log.String())
	case <-time.After(60 * time.Second):
		return nil, fmt.Errorf("the server did not start within 60s:\n%s", p.Log.String())
	}
}

// Serve starts `bin serve` on a loopback port with HTTPS only, no admin
// listener, dataDir, the administrator password AdminPassword and the
// rate limits scaled by 1000 (the tests' loads run far beyond the default
// limits; the limiter runs), and fails t unless it serves.
func Serve(t testing.TB, bin, dataDir string) *Process {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data-dir", dataDir, "--addr", "127.0.0.1:0", "--http-addr", "", "--admin-addr", "", "--shutdown-timeout", "20s", "--rate-scale", "1000")
	cmd.Env = append(os.Environ(), "FORTAPI_ADMIN_PASSWORD="+AdminPassword)
	p, err := Start(t, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Wait waits up to 40 s for the process to exit and returns how it did;
// it fails t if it does not.
func (p *Process) Wait(t testing.TB) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err
		return err
	case <-time.After(40 * time.Second):
		t.Fatal("the server did not exit")
		return nil
	}
}

// LineWriter collects a server's log and reports the URL of its
// "serving" line.
type LineWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	part []byte
	url  chan string
}

var servingText = regexp.MustCompile(` msg=serving url=(\S+)`)

// NewLineWriter returns an empty LineWriter.
func NewLineWriter() *LineWriter { return &LineWriter{url: make(chan string, 1)} }

func (w *LineWriter) Write(p []byte) (int, error) {
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
		u := ""
		if json.Unmarshal(w.part[:i], &m) == nil && m["msg"] == "serving" {
			u = m["url"].(string)
		} else if t := servingText.FindSubmatch(w.part[:i]); t != nil { // --log-format text
			u = string(t[1])
		}
		if u != "" {
			select {
			case w.url <- u:
			default:
			}
		}
		w.part = w.part[i+1:]
	}
	return len(p), nil
}

// URL delivers the URL of the first "serving" line.
func (w *LineWriter) URL() <-chan string { return w.url }

// String returns the log so far.
func (w *LineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// TLSClient trusts only the development certificate in dataDir (and uses
// cfg, nil for the defaults, for the rest).
func TLSClient(t testing.TB, dataDir string, cfg *tls.Config) *http.Client {
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
	// The timeout guards against a hang, it asserts no speed: a login
	// queued behind others on a machine running -race and parallel tests
	// can take many seconds.
	return &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg, ForceAttemptHTTP2: true}}
}

// Login gets an access token for admin (password AdminPassword) through
// POST /token.
func Login(t testing.TB, c *http.Client, base string) string {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {AdminPassword}}
	resp, err := c.PostForm(base+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(b, &tr) != nil || tr.AccessToken == "" {
		t.Fatalf("login: %d %s", resp.StatusCode, b)
	}
	return tr.AccessToken
}

// PostItem creates an item (body, JSON) at base with the bearer token and
// returns the status and, on 201, the new item's id.
func PostItem(c *http.Client, base, token string, body io.Reader) (int, string, error) {
	req, err := http.NewRequest("POST", base+"/items/", body)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var it struct {
		ID string `json:"id"`
	}
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode == http.StatusCreated {
		err = json.Unmarshal(b, &it)
	}
	return resp.StatusCode, it.ID, err
}

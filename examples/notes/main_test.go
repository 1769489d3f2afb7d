package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startNotes runs the example in-process over HTTPS with its development
// certificate, and returns its base URL and a client that trusts it.
func startNotes(t *testing.T) (string, *http.Client) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	h, err := newAPI(context.Background(), "correct horse battery staple", log)
	if err != nil {
		t.Fatal(err)
	}
	certDir := filepath.Join(t.TempDir(), "tls")
	srv, err := newServer("127.0.0.1:0", certDir, false, h, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeTLS: %v", err)
		}
	})
	pem, err := os.ReadFile(filepath.Join(certDir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	c := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}}}
	return "https://" + ln.Addr().String(), c
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func call(t *testing.T, c *http.Client, method, u, ct, body, tok string) answer {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

// TestNotes walks the example as a client would: a refused login, a login,
// a refused anonymous write, notes created (plain text kept as sent, HTML
// sanitized before validation) and read back, another note not found, a
// refresh, and the security headers of an HTTPS answer.
func TestNotes(t *testing.T) {
	base, c := startNotes(t)
	form := "application/x-www-form-urlencoded"
	login := func(pw string) answer {
		v := url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {pw}}
		return call(t, c, "POST", base+"/token", form, v.Encode(), "")
	}
	if a := login("wrong password"); a.status != 400 || a.body["error"] != "invalid_grant" {
		t.Fatalf("wrong password: %d %v", a.status, a.body)
	}
	a := login("correct horse battery staple")
	tok, _ := a.body["access_token"].(string)
	refresh, _ := a.body["refresh_token"].(string)
	if a.status != 200 || tok == "" || refresh == "" || a.body["scope"] != "notes:read notes:write" {
		t.Fatalf("login: %d %v", a.status, a.body)
	}
	if a.header.Get("Strict-Transport-Security") == "" || a.header.Get("Cache-Control") != "no-store" {
		t.Errorf("login headers: %v", a.header)
	}

	js := "application/json"
	note := `{"title":"Widget <i>deluxe</i>","body":"<p onclick=\"steal()\">hi</p><script>alert(1)</script>"}`
	if a := call(t, c, "POST", base+"/notes", js, note, ""); a.status != 401 || a.header.Get("WWW-Authenticate") == "" {
		t.Errorf("anonymous create: %d", a.status)
	}
	if a := call(t, c, "POST", base+"/notes", js, note, tok+"x"); a.status != 401 {
		t.Errorf("forged token: %d", a.status)
	}
	created := call(t, c, "POST", base+"/notes", js, note, tok)
	id, _ := created.body["id"].(string)
	if created.status != 201 || id == "" || created.body["title"] != "Widget <i>deluxe</i>" || created.body["body"] != "<p>hi</p>" {
		t.Fatalf("create: %d %v", created.status, created.body)
	}
	for name, body := range map[string]string{
		"script-only body":  `{"title":"x","body":"<script>alert(1)</script>"}`,
		"unknown property":  `{"title":"x","body":"y","owner":"bob"}`,
		"title too long":    `{"title":"` + strings.Repeat("t", 101) + `","body":"y"}`,
		"other spelling":    `{"title":"x","body":"y","BODY":"<script>alert(1)</script>"}`,
		"duplicate members": `{"title":"x","body":"y","body":"z"}`,
	} {
		if a := call(t, c, "POST", base+"/notes", js, body, tok); a.status != 422 && a.status != 400 {
			t.Errorf("%s: %d %v", name, a.status, a.body)
		}
	}
	if a := call(t, c, "POST", base+"/notes", form, "title=x&body=y", tok); a.status != 415 {
		t.Errorf("form-encoded note: %d", a.status)
	}

	got := call(t, c, "GET", base+"/notes/"+id, "", "", tok)
	if got.status != 200 || got.body["title"] != "Widget <i>deluxe</i>" || got.header.Get("Content-Type") != "application/json" ||
		got.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("read: %d %v %v", got.status, got.body, got.header)
	}
	if a := call(t, c, "GET", base+"/notes/nope", "", "", tok); a.status != 404 {
		t.Errorf("missing note: %d", a.status)
	}

	v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "scope": {"notes:read"}}
	r := call(t, c, "POST", base+"/token", form, v.Encode(), "")
	tok2, _ := r.body["access_token"].(string)
	if r.status != 200 || tok2 == "" || r.body["scope"] != "notes:read" {
		t.Fatalf("refresh: %d %v", r.status, r.body)
	}
	if a := call(t, c, "GET", base+"/notes/"+id, "", "", tok2); a.status != 200 {
		t.Errorf("read with the refreshed token: %d", a.status)
	}
	if a := call(t, c, "POST", base+"/notes", js, note, tok2); a.status != 403 || !strings.Contains(a.header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Errorf("write with a read-only token: %d %v", a.status, a.header)
	}
}

// TestNotesPlainHTTPIsExplicit: plain HTTP only with --insecure-http, and
// it says so at start-up.
func TestNotesPlainHTTPIsExplicit(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	srv, err := newServer("127.0.0.1:0", filepath.Join(t.TempDir(), "tls"), true, http.NotFoundHandler(), log)
	if err != nil || srv.TLSConfig != nil || !strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("insecure server: %v, TLS %v, log %s", err, srv.TLSConfig != nil, logs.String())
	}
	srv, err = newServer("127.0.0.1:0", filepath.Join(t.TempDir(), "tls"), false, http.NotFoundHandler(), log)
	if err != nil || srv.TLSConfig == nil || srv.TLSConfig.MinVersion != tls.VersionTLS12 {
		t.Errorf("default server: %v, TLS %+v", err, srv.TLSConfig)
	}
}

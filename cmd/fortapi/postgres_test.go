package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/internal/e2e"
	"github.com/fortapi/fortapi/internal/pgtest"
)

// withPassword puts pw in the URL's user info (the test server trusts
// local connections, so any password is accepted and none is needed).
func withPassword(t *testing.T, raw, pw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	user := "postgres"
	if u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, pw)
	return u.String()
}

// TestServeOnPostgres: serve on PostgreSQL (URL with a password, from the
// environment), log in, create an item; `user list` and `keys list`
// against the same URL (from the command line, without a password) see
// the administrator and the keys; the password is in no log line.
func TestServeOnPostgres(t *testing.T) {
	t.Parallel()
	const pw = "pg-Secret-9f3kq"
	pgURL := withPassword(t, pgtest.SchemaURL(t, "off"), pw)
	dir := t.TempDir()
	kv := map[string]string{"FORTAPI_POSTGRES_URL": pgURL, "FORTAPI_ADMIN_PASSWORD": "a long admin passphrase"}
	s := startServeEnv(t, dir, kv)
	c := e2e.TLSClient(t, dir, nil)

	resp, body := send(t, c, "POST", s.url+"/token", formHeader,
		url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {"a long admin passphrase"}}.Encode())
	if resp.StatusCode != 200 {
		t.Fatalf("POST /token: %d %s", resp.StatusCode, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal([]byte(body), &tok); err != nil {
		t.Fatal(err)
	}
	auth := map[string]string{"Authorization": "Bearer " + tok.AccessToken, "Content-Type": "application/json"}
	resp, body = send(t, c, "POST", s.url+"/items/", auth, `{"name":"on postgres","price":2.5}`)
	if resp.StatusCode != 201 {
		t.Fatalf("POST /items/: %d %s", resp.StatusCode, body)
	}
	if resp, body := send(t, c, "GET", s.url+"/readyz", nil, ""); resp.StatusCode != 200 {
		t.Errorf("/readyz: %d %s", resp.StatusCode, body)
	}

	// The CLI against the same database, while the server runs.
	noPW := strings.Replace(pgURL, ":"+pw+"@", "@", 1)
	code, out, errOut := runEnvIn(t, nil, "", "user", "list", "--postgres-url", noPW, "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "admin") {
		t.Errorf("user list: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runEnvIn(t, map[string]string{"FORTAPI_POSTGRES_URL": pgURL}, "", "keys", "list", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "active") {
		t.Errorf("keys list: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = runEnvIn(t, map[string]string{"FORTAPI_POSTGRES_URL": pgURL}, "another long passphrase\n",
		"user", "add", "bob", "--password-stdin", "--data-dir", dir)
	if code != 0 {
		t.Errorf("user add: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	resp, body = send(t, c, "POST", s.url+"/token", formHeader,
		url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"another long passphrase"}}.Encode())
	if resp.StatusCode != 200 {
		t.Errorf("the server does not see the user the CLI added: %d %s", resp.StatusCode, body)
	}

	if code := s.stop(); code != 0 {
		t.Fatalf("exit %d:\n%s", code, s.log.String())
	}
	log := s.log.String()
	if strings.Contains(log, pw) {
		t.Error("the log holds the PostgreSQL password")
	}
	if !strings.Contains(log, `"store":"postgres"`) || !strings.Contains(log, ":xxxxx@") {
		t.Errorf("the log does not name the PostgreSQL store with the password masked:\n%s", log)
	}
}

// TestPostgresURLFlag: a password on the command line is refused (exit 2)
// without being echoed; the URL may come from FORTAPI_POSTGRES_URL_FILE;
// setting the variable and the file is refused as ambiguous; a URL that is
// not PostgreSQL's is refused without being quoted.
func TestPostgresURLFlag(t *testing.T) {
	const pw = "hunter2-Zq8"
	withPW := "postgres://app:" + pw + "@127.0.0.1:1/db"
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"serve, password in the URL", []string{"serve", "--postgres-url", withPW}, nil, "--postgres-url holds a password"},
		{"serve, password as a parameter", []string{"serve", "--postgres-url", "postgres://app@127.0.0.1:1/db?password=" + pw}, nil, "--postgres-url holds a password"},
		{"serve, key=value password", []string{"serve", "--postgres-url", "host=127.0.0.1 password=" + pw}, nil, "--postgres-url holds a password"},
		{"user list, password in the URL", []string{"user", "list", "--postgres-url", withPW}, nil, "--postgres-url holds a password"},
		{"keys list, password in the URL", []string{"keys", "list", "--postgres-url", withPW}, nil, "--postgres-url holds a password"},
		{"variable and file", []string{"serve"}, map[string]string{"FORTAPI_POSTGRES_URL": withPW, "FORTAPI_POSTGRES_URL_FILE": "/nonexistent"}, "both FORTAPI_POSTGRES_URL and FORTAPI_POSTGRES_URL_FILE"},
		{"not a PostgreSQL URL", []string{"serve"}, map[string]string{"FORTAPI_POSTGRES_URL": "mysql://app:" + pw + "@db/x"}, "invalid --postgres-url"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args, tt.env)
			if code != exitUsage || !strings.Contains(errOut, tt.want) || strings.Contains(out+errOut, pw) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d with %q and no password", code, out, errOut, exitUsage, tt.want)
			}
		})
	}
}

// TestPostgresURLFromFile: FORTAPI_POSTGRES_URL_FILE gives the URL; the
// server cannot reach it (nothing listens), fails with exit 1, and says
// so without the password.
func TestPostgresURLFromFile(t *testing.T) {
	const pw = "file-Secret-7Hk"
	f := t.TempDir() + "/pg.url"
	if err := os.WriteFile(f, fmt.Appendf(nil, "postgres://app:%s@127.0.0.1:1/db?connect_timeout=1\n", pw), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, []string{"serve", "--data-dir", t.TempDir(), "--addr", "127.0.0.1:0", "--http-addr", ""},
		map[string]string{"FORTAPI_POSTGRES_URL_FILE": f})
	if code != exitError || strings.Contains(out+errOut, pw) || !strings.Contains(errOut, "postgres") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

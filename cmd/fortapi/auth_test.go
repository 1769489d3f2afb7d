package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/e2e"
)

// runIn is runCmd with stdin.
func runIn(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := run(ctx, args, env(nil), strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	Scope        string `json:"scope"`
}

func postToken(t *testing.T, c *http.Client, base string, form url.Values) (int, tokens, string) {
	t.Helper()
	resp, err := c.PostForm(base+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var tr tokens
	_ = json.Unmarshal(b, &tr)
	return resp.StatusCode, tr, string(b)
}

func getWith(t *testing.T, c *http.Client, u, tok string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitStatus polls until GET u with tok answers want, for at most 1s
// (the promise: CLI revocations reach the running server within a second).
func waitStatus(t *testing.T, c *http.Client, u, tok string, want int) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for {
		got, body := getWith(t, c, u, tok)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d %s, want %d within 1s", u, got, body, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBootstrapLoginAndCLIWhileServing: a fresh data dir gets "admin" with
// a password printed once on stderr and never logged; the user and keys
// commands work against the running server's data dir and their
// revocations reach it within a second.
func TestBootstrapLoginAndCLIWhileServing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServe(t, dir)
	c := e2e.TLSClient(t, dir, nil)
	m := regexp.MustCompile(`(?m)^    (\S+)$`).FindStringSubmatch(s.log.String())
	if m == nil {
		t.Fatalf("no generated admin password on stderr:\n%s", s.log.String())
	}
	adminPW := m[1]
	for _, line := range strings.Split(s.log.String(), "\n") {
		if strings.HasPrefix(line, "{") && strings.Contains(line, adminPW) {
			t.Fatalf("the generated password is in a log line: %s", line)
		}
	}
	if st, err := os.Stat(filepath.Join(dir, masterKeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("master key file: %v %v", st, err)
	}

	code, admin, body := postToken(t, c, s.url, url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPW}})
	if code != 200 || !strings.Contains(admin.Scope, "users:admin") {
		t.Fatalf("admin login: %d %s", code, body)
	}
	if got, b := getWith(t, c, s.url+"/protected", admin.AccessToken); got != 200 || !strings.Contains(b, "admin") {
		t.Fatalf("/protected: %d %s", got, b)
	}

	// user add while the server runs; the password comes from stdin only.
	if code, _, errOut := runIn(t, "", "user", "add", "bob", "--data-dir", dir, "--role", "user"); code != exitUsage || !strings.Contains(errOut, "--password-stdin") {
		t.Fatalf("user add without --password-stdin: %d %s", code, errOut)
	}
	if code, _, errOut := runIn(t, "password\n", "user", "add", "bob", "--data-dir", dir, "--password-stdin"); code != exitUsage || !strings.Contains(errOut, "common") {
		t.Fatalf("user add with a common password: %d %s", code, errOut)
	}
	if code, out, errOut := runIn(t, "bob's long passphrase\n", "user", "add", "bob", "--role", "user", "--data-dir", dir, "--password-stdin"); code != 0 {
		t.Fatalf("user add: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := runIn(t, "bob's long passphrase\n", "user", "add", "BOB", "--data-dir", dir, "--password-stdin"); code != exitError || !strings.Contains(errOut, "taken") {
		t.Fatalf("duplicate user: %d %s", code, errOut)
	}
	if code, _, errOut := runIn(t, "bob's long passphrase\n", "user", "add", "ｂｏｂ", "--data-dir", dir, "--password-stdin"); code != exitError || !strings.Contains(errOut, `is "bob" once normalized`) {
		t.Fatalf("fullwidth duplicate user: %d %s", code, errOut)
	}
	if code, _, errOut := runIn(t, "bob's long passphrase\n", "user", "add", "b\u043eb", "--data-dir", dir, "--password-stdin"); code != exitUsage || !strings.Contains(errOut, "mixes Latin and Cyrillic letters") {
		t.Fatalf("user add with a Cyrillic o: %d %s", code, errOut)
	}
	code, bob, body := postToken(t, c, s.url, url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"bob's long passphrase"}})
	if code != 200 {
		t.Fatalf("bob login: %d %s", code, body)
	}
	if code, out, _ := runIn(t, "", "user", "list", "--data-dir", dir); code != 0 || !strings.Contains(out, "bob") || !strings.Contains(out, "admin") || strings.Contains(out, "argon2") {
		t.Fatalf("user list: %d\n%s", code, out)
	}

	// set-role revokes bob's tokens in the running server within 1s.
	if code, _, errOut := runIn(t, "", "user", "set-role", "bob", "admin", "--data-dir", dir); code != 0 {
		t.Fatalf("set-role: %d %s", code, errOut)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(s.log.String())
		}
	})
	waitStatus(t, c, s.url+"/protected", bob.AccessToken, 401)
	if code, _, _ := postToken(t, c, s.url, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {bob.RefreshToken}}); code != 400 {
		t.Errorf("bob's refresh token after set-role: %d", code)
	}
	_, bob, _ = postToken(t, c, s.url, url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"bob's long passphrase"}})
	if !strings.Contains(bob.Scope, "users:admin") {
		t.Errorf("bob's new scopes: %q", bob.Scope)
	}
	if code, _, errOut := runIn(t, "", "user", "disable", "bob", "--data-dir", dir); code != 0 {
		t.Fatalf("disable: %d %s", code, errOut)
	}
	waitStatus(t, c, s.url+"/protected", bob.AccessToken, 401)
	if code, _, errOut := runIn(t, "", "user", "set-role", "nobody", "admin", "--data-dir", dir); code != exitError || !strings.Contains(errOut, `no user "nobody"`) {
		t.Errorf("set-role of an unknown user: %d %s", code, errOut)
	}
	if code, _, errOut := runIn(t, "", "user", "disable", "admin", "--data-dir", dir); code != exitError || !strings.Contains(errOut, "last enabled administrator") {
		t.Errorf("disabling the last admin: %d %s", code, errOut)
	}

	// keys rotate while serving logs nobody out; revoke is immediate.
	code, out, errOut := runIn(t, "", "keys", "list", "--data-dir", dir)
	if code != 0 || strings.Count(out, "\n") != 3 {
		t.Fatalf("keys list: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := runIn(t, "", "keys", "rotate", "--data-dir", dir); code != 0 {
		t.Fatalf("keys rotate: %d %s", code, errOut)
	}
	time.Sleep(2500 * time.Millisecond) // the server reloads keys every 2s
	if got, _ := getWith(t, c, s.url+"/protected", admin.AccessToken); got != 200 {
		t.Fatalf("a token from before the rotation: %d", got)
	}
	_, fresh, _ := postToken(t, c, s.url, url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPW}})
	if got, _ := getWith(t, c, s.url+"/protected", fresh.AccessToken); got != 200 {
		t.Fatalf("a token signed by the new key: %d", got)
	}
	kid := func(tok string) string {
		var hdr struct {
			Kid string `json:"kid"`
		}
		seg, _, _ := strings.Cut(tok, ".")
		b, _ := base64.RawURLEncoding.DecodeString(seg)
		_ = json.Unmarshal(b, &hdr)
		return hdr.Kid
	}
	if kid(fresh.AccessToken) == kid(admin.AccessToken) {
		t.Fatal("the rotation did not change the signing key")
	}
	if code, _, errOut := runIn(t, "", "keys", "revoke", kid(admin.AccessToken), "--data-dir", dir); code != 0 {
		t.Fatalf("keys revoke: %d %s", code, errOut)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		got, _ := getWith(t, c, s.url+"/protected", admin.AccessToken)
		if got == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a token of a revoked key still works after 5s: %d", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code, _, errOut := runIn(t, "", "keys", "revoke", "no-such-kid", "--data-dir", dir); code != exitError || !strings.Contains(errOut, "no key") {
		t.Errorf("revoking an unknown key: %d %s", code, errOut)
	}
}

func TestHashPassword(t *testing.T) {
	code, out, errOut := runIn(t, "some passphrase\n", "hash-password")
	if code != 0 || !strings.HasPrefix(out, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(out, "some passphrase") {
		t.Fatalf("hash-password: %d %q %q", code, out, errOut)
	}
	for _, tt := range []struct {
		name, stdin string
	}{
		{"empty", ""},
		{"blank line", "\n"},
		{"too long", strings.Repeat("a", 2000)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, errOut := runIn(t, tt.stdin, "hash-password"); code != exitUsage || errOut == "" {
				t.Errorf("exit %d, stderr %q", code, errOut)
			}
		})
	}
}

func TestAdminCommandUsage(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"user without subcommand", []string{"user"}, exitUsage, "user add"},
		{"unknown user subcommand", []string{"user", "delete", "x"}, exitUsage, "unknown subcommand"},
		{"set-role missing role", []string{"user", "set-role", "bob", "--data-dir", dir}, exitUsage, "missing ROLE"},
		{"set-role bad role", []string{"user", "set-role", "bob", "root", "--data-dir", dir}, exitUsage, "unknown role"},
		{"extra argument", []string{"user", "disable", "a", "b", "--data-dir", dir}, exitUsage, "unexpected argument"},
		{"list without a database", []string{"user", "list", "--data-dir", dir}, exitError, "no database"},
		{"keys without a database", []string{"keys", "list", "--data-dir", dir}, exitError, "no database"},
		{"keys unknown subcommand", []string{"keys", "delete"}, exitUsage, "unknown subcommand"},
		{"revoke without kid", []string{"keys", "revoke", "--data-dir", dir}, exitUsage, "missing KID"},
		{"a kid that looks like a flag goes after --", []string{"keys", "revoke", "--data-dir", dir, "--", "-abc"}, exitError, "no database"},
		{"a kid that looks like a flag", []string{"keys", "revoke", "--data-dir", dir, "-abc"}, exitUsage, "flag provided but not defined"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runIn(t, "", tt.args...)
			if code != tt.code || !strings.Contains(out+errOut, tt.want) {
				t.Errorf("exit %d, want %d; output %q %q lacks %q", code, tt.code, out, errOut, tt.want)
			}
		})
	}
}

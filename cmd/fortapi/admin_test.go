package main

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/e2e"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/sqlite"
)

// runEnvIn is runIn with the environment kv.
func runEnvIn(t *testing.T, kv map[string]string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := run(ctx, args, env(kv), strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

var printedPassword = regexp.MustCompile(`(?m)^    (\S+)$`)

// TestAdminCreatedOnlyOnceListening: a first start that fails because a
// port is taken creates no administrator and prints no password (on the
// old code it printed the one-time password, then exited, and the next
// start printed nothing); the next start that serves prints it.
func TestAdminCreatedOnlyOnceListening(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"HTTPS port taken", []string{"--addr", taken.Addr().String(), "--http-addr", ""}},
		{"HTTP port taken", []string{"--addr", "127.0.0.1:0", "--http-addr", taken.Addr().String()}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runCmd(t, append([]string{"serve", "--data-dir", dir}, tt.args...), nil)
			if code != exitError || !strings.Contains(errOut, "listening on") {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			if strings.Contains(errOut, "created the administrator") || printedPassword.MatchString(errOut) {
				t.Errorf("a failed start created the administrator:\n%s", errOut)
			}
			code, out, errOut := runCmd(t, []string{"user", "list", "--data-dir", dir}, nil)
			if code != 0 || strings.Count(out, "\n") != 1 {
				t.Errorf("users after a failed start (want none): %d\n%s%s", code, out, errOut)
			}
		})
	}
	s := startServe(t, dir)
	m := printedPassword.FindStringSubmatch(s.log.String())
	if m == nil {
		t.Fatalf("the first start that serves printed no password:\n%s", s.log.String())
	}
	c := e2e.TLSClient(t, dir, nil)
	if code, _, body := postToken(t, c, s.url, url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {m[1]}}); code != 200 {
		t.Errorf("the printed password does not log in: %d %s", code, body)
	}
	if !strings.Contains(s.log.String(), "fortapi user set-password admin --password-stdin") {
		t.Error("the password notice does not say how to reset it")
	}
}

// TestUserSetPassword resets a password from the command line while the
// server runs: the user's live access token gets 401 within a second, its
// refresh token is refused, the old password no longer logs in and the new
// one does. Weak passwords and unknown users are refused clearly.
func TestUserSetPassword(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const oldPW, newPW = "the old admin passphrase", "a brand new admin passphrase"
	s := startServeEnv(t, dir, map[string]string{"FORTAPI_ADMIN_PASSWORD": oldPW})
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(s.log.String())
		}
	})
	c := e2e.TLSClient(t, dir, nil)
	code, before, body := postToken(t, c, s.url, url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {oldPW}})
	if code != 200 {
		t.Fatalf("login: %d %s", code, body)
	}
	waitStatus(t, c, s.url+"/protected", before.AccessToken, 200)

	for _, tt := range []struct {
		name, stdin string
		args        []string
		code        int
		want        string
	}{
		{"without --password-stdin", newPW + "\n", []string{"admin"}, exitUsage, "--password-stdin is required"},
		{"no password", "", []string{"admin", "--password-stdin"}, exitUsage, "no password on stdin"},
		{"weak password", "password\n", []string{"admin", "--password-stdin"}, exitUsage, "password refused: password is too common"},
		{"too short", "short\n", []string{"admin", "--password-stdin"}, exitUsage, "password refused: password must be at least 8 characters long"},
		{"the username", "admin\n", []string{"admin", "--password-stdin"}, exitUsage, "password refused: "},
		{"unknown user", newPW + "\n", []string{"nobody", "--password-stdin"}, exitError, `fortapi user set-password: no user "nobody"`},
		{"no name", newPW + "\n", []string{"--password-stdin"}, exitUsage, "missing NAME"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runIn(t, tt.stdin, append([]string{"user", "set-password", "--data-dir", dir}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, tt.code, tt.want)
			}
			if strings.Contains(errOut, newPW) {
				t.Errorf("the password is echoed: %q", errOut)
			}
		})
	}
	// Nothing above changed the password or revoked anything.
	waitStatus(t, c, s.url+"/protected", before.AccessToken, 200)

	code, out, errOut := runIn(t, newPW+"\n", "user", "set-password", "admin", "--password-stdin", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "sessions and tokens are revoked") {
		t.Fatalf("set-password: %d %s %s", code, out, errOut)
	}
	waitStatus(t, c, s.url+"/protected", before.AccessToken, 401)
	if code, _, body := postToken(t, c, s.url, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {before.RefreshToken}}); code != 400 || !strings.Contains(body, "invalid_grant") {
		t.Errorf("the refresh token from before: %d %s", code, body)
	}
	if code, _, body := postToken(t, c, s.url, url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {oldPW}}); code != 400 {
		t.Errorf("the old password: %d %s", code, body)
	}
	code, after, body := postToken(t, c, s.url, url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {newPW}})
	if code != 200 {
		t.Fatalf("the new password: %d %s", code, body)
	}
	waitStatus(t, c, s.url+"/protected", after.AccessToken, 200)

	// The audit log names the change and who made it.
	store, err := sqlite.Open(context.Background(), filepath.Join(dir, "fortapi.db"), sqlite.Options{ReadConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	evs, err := store.ListEvents(context.Background(), server.EventFilter{Type: server.EventPasswordChanged, Limit: 10})
	if err != nil || len(evs) != 1 || evs[0].Detail != "by cli" || evs[0].Username != "admin" {
		t.Errorf("password change events: %+v (%v), want one for admin, detail \"by cli\"", evs, err)
	}
}

// TestRoleFlagNotFromEnvironment: a stray FORTAPI_ROLE=admin (set for
// some other program, or left over) does not turn user add into the
// creation of an administrator; the command says it ignores it. --role
// on the command line still works.
func TestRoleFlagNotFromEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	stray := map[string]string{"FORTAPI_ROLE": "admin"}
	code, out, errOut := runEnvIn(t, stray, "carol's long passphrase\n", "user", "add", "carol", "--password-stdin", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "with role user") {
		t.Fatalf("user add with FORTAPI_ROLE=admin: %d %q %q, want role user", code, out, errOut)
	}
	if !strings.Contains(errOut, "ignoring FORTAPI_ROLE: --role grants privileges and is read only from the command line") {
		t.Errorf("the ignored variable is not reported: %q", errOut)
	}
	code, out, errOut = runEnvIn(t, stray, "dave's long passphrase\n", "user", "add", "dave", "--role", "admin", "--password-stdin", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "with role admin") || strings.Contains(errOut, "ignoring") {
		t.Errorf("--role admin on the command line: %d %q %q", code, out, errOut)
	}
	code, out, _ = runCmd(t, []string{"user", "list", "--data-dir", dir}, nil)
	if code != 0 || !regexp.MustCompile(`(?m)\scarol\s+user\s`).MatchString(out) {
		t.Errorf("user list:\n%s", out)
	}
	// Other flags still come from the environment.
	code, out, _ = runEnvIn(t, map[string]string{"FORTAPI_DATA_DIR": dir}, "", "user", "list")
	if code != 0 || !strings.Contains(out, "dave") {
		t.Errorf("FORTAPI_DATA_DIR not read: %d %s", code, out)
	}
	code, out, _ = runCmd(t, []string{"user", "add", "--help"}, nil)
	if code != 0 || !strings.Contains(out, "[command line only]") || strings.Contains(out, "[FORTAPI_ROLE]") {
		t.Errorf("user add --help:\n%s", out)
	}
}

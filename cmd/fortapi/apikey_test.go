package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fortapi/fortapi/internal/e2e"
	"github.com/fortapi/fortapi/internal/pgtest"
)

// TestAPIKeysAcrossInstances runs two `fortapi serve` processes (A, B) on
// one PostgreSQL schema with one master key: a key made on A works on B,
// is stored only as a hash, is refused where the API does not declare
// keys and in a URL, and dies on B with the very next request after a
// revocation (through the API or the CLI), a disable or a demotion made
// on A. Keys are checked against the store on every request, so there is
// no propagation delay to wait for: the test does not retry.
func TestAPIKeysAcrossInstances(t *testing.T) {
	t.Parallel()
	pgURL := pgtest.SchemaURL(t, "off")
	bin := shared.Binary(t)
	env := []string{"FORTAPI_POSTGRES_URL=" + pgURL, "FORTAPI_MASTER_KEY=" + randomHex(t, 32), "FORTAPI_ADMIN_PASSWORD=" + e2e.AdminPassword}
	insts := []*instance{{name: "A", dir: t.TempDir()}, {name: "B", dir: t.TempDir()}}
	// A first: it migrates and creates the administrator; then B.
	for _, in := range insts {
		p, err := startInstance(t, bin, in.dir, env, "--rate-scale", "100")
		if err != nil {
			t.Fatalf("instance %s: %v", in.name, err)
		}
		in.Process, in.c = p, e2e.TLSClient(t, in.dir, nil)
	}
	a, b := insts[0], insts[1]
	call := func(in *instance, method, path string, hdr map[string]string, body string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, in.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := in.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.String()
	}
	bearer := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
	xkey := func(key string) map[string]string { return map[string]string{"X-API-Key": key} }
	admin, err := tokenFor(a, "admin", e2e.AdminPassword)
	if err != nil {
		t.Fatal(err)
	}
	newUser := func(name, role string) (id, tok string) {
		t.Helper()
		code, body := call(a, "POST", "/users", bearer(admin), fmt.Sprintf(`{"username":%q,"password":"%s passphrase 1","role":%q}`, name, name, role))
		var u struct{ ID string }
		if code != 201 || json.Unmarshal([]byte(body), &u) != nil {
			t.Fatalf("creating %s: %d %s", name, code, body)
		}
		tok, err := tokenFor(a, name, name+" passphrase 1")
		if err != nil {
			t.Fatal(err)
		}
		return u.ID, tok
	}
	type created struct{ ID, Key string }
	newKey := func(in *instance, tok, body string) created {
		t.Helper()
		code, out := call(in, "POST", "/users/me/api-keys", bearer(tok), body)
		var k created
		if code != 201 || json.Unmarshal([]byte(out), &k) != nil || !strings.HasPrefix(k.Key, "fak_") {
			t.Fatalf("creating a key on %s: %d %s", in.name, code, out)
		}
		return k
	}
	// status is the answer to GET path on in with the key.
	status := func(in *instance, path, key string) int {
		t.Helper()
		code, _ := call(in, "GET", path, xkey(key), "")
		return code
	}

	bobID, bob := newUser("bob", "user")
	k := newKey(a, bob, `{"name":"ci","scopes":["items:read","items:write"]}`)

	t.Run("only the hash is stored", func(t *testing.T) {
		conn, err := pgx.Connect(context.Background(), pgURL)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var id, name, scopes, cidrs string
		var hash, user []byte
		err = conn.QueryRow(context.Background(), "SELECT id, user_id, name, hash, scopes, allowed_cidrs FROM api_keys WHERE id = $1", k.ID).
			Scan(&id, &user, &name, &hash, &scopes, &cidrs)
		if err != nil {
			t.Fatal(err)
		}
		secret := k.Key[len("fak_")+17 : len(k.Key)-6]
		row := strings.Join([]string{id, string(user), name, string(hash), fmt.Sprintf("%x", hash), scopes, cidrs}, "|")
		if len(hash) != 32 || strings.Contains(row, secret) || strings.Contains(row, k.Key) || string(user) != bobID {
			t.Fatalf("the stored row holds more than a hash: %q", row)
		}
		var n int
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM api_keys WHERE position($1 in hash::text || name || scopes) > 0", secret).Scan(&n); err != nil || n != 0 {
			t.Fatalf("the secret is in the table: %d %v", n, err)
		}
	})

	t.Run("a key made on A works on B, where declared", func(t *testing.T) {
		if got := status(b, "/items/", k.Key); got != 200 {
			t.Fatalf("GET /items/ on B: %d", got)
		}
		if code, body := call(b, "POST", "/items/", bearer(k.Key), `{"name":"by key","price":1}`); code != 201 {
			t.Fatalf("POST /items/ with the key as a bearer token on B: %d %s", code, body)
		}
		// Undeclared: the key cannot mint keys, read the profile or change
		// the password.
		for _, c := range []struct{ method, path, body string }{
			{"GET", "/users/me", ""},
			{"POST", "/users/me/api-keys", `{"name":"more","scopes":["items:read"]}`},
			{"GET", "/users/me/api-keys", ""},
			{"PUT", "/users/me/password", `{"current_password":"x","new_password":"y"}`},
		} {
			if code, body := call(b, c.method, c.path, xkey(k.Key), c.body); code != 401 {
				t.Errorf("%s %s with a key: %d %s", c.method, c.path, code, body)
			}
		}
		if code, body := call(b, "GET", "/items/?api_key="+k.Key, nil, ""); code != 400 || strings.Contains(body, k.Key) {
			t.Errorf("a key in the query: %d %s", code, body)
		}
	})

	t.Run("revoked on A: refused on B at once", func(t *testing.T) {
		if code, body := call(a, "DELETE", "/users/me/api-keys/"+k.ID, bearer(bob), ""); code != 204 {
			t.Fatalf("revoking on A: %d %s", code, body)
		}
		if got := status(b, "/items/", k.Key); got != 401 {
			t.Fatalf("the revoked key on B: %d", got)
		}
	})

	t.Run("revoked by the CLI: refused on B at once", func(t *testing.T) {
		cli := func(args ...string) (string, string, error) {
			cmd := exec.Command(bin, append(args, "--data-dir", a.dir)...)
			cmd.Env = append(os.Environ(), env...)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			err := cmd.Run()
			return out.String(), errb.String(), err
		}
		out, errOut, err := cli("apikey", "create", "bob", "--name", "from cli", "--scopes", "items:read")
		key := strings.TrimSpace(out)
		if err != nil || !strings.HasPrefix(key, "fak_") || strings.Contains(errOut, key) {
			t.Fatalf("apikey create: %v\n%s\n%s", err, out, errOut)
		}
		if got := status(b, "/items/", key); got != 200 {
			t.Fatalf("the CLI's key on B: %d", got)
		}
		id := key[len("fak_") : len("fak_")+16]
		if out, errOut, err := cli("apikey", "list", "bob"); err != nil || !strings.Contains(out, id) || strings.Contains(out, key[21:]) {
			t.Fatalf("apikey list: %v\n%s\n%s", err, out, errOut)
		}
		if out, errOut, err := cli("apikey", "revoke", "bob", id); err != nil {
			t.Fatalf("apikey revoke: %v\n%s\n%s", err, out, errOut)
		}
		if got := status(b, "/items/", key); got != 401 {
			t.Fatalf("the key revoked by the CLI, on B: %d", got)
		}
		if _, errOut, err := cli("apikey", "create", "bob", "--name", "x", "--scopes", "users:admin"); err == nil || !strings.Contains(errOut, `"users:admin"`) {
			t.Fatalf("a key with a scope bob's role lacks: %v %s", err, errOut)
		}
	})

	t.Run("disabled or demoted on A: refused on B at once", func(t *testing.T) {
		k1 := newKey(a, bob, `{"name":"again","scopes":["items:read"]}`)
		carolID, carol := newUser("carol", "admin")
		k2 := newKey(b, carol, `{"name":"ops","scopes":["items:read","users:admin"]}`)
		for _, k := range []string{k1.Key, k2.Key} {
			if got := status(b, "/items/", k); got != 200 {
				t.Fatalf("a fresh key on B: %d", got)
			}
		}
		for _, ch := range []struct{ id, body string }{{bobID, `{"disabled":true}`}, {carolID, `{"role":"user"}`}} {
			if code, body := call(a, "PATCH", "/users/"+ch.id, bearer(admin), ch.body); code != 200 {
				t.Fatalf("PATCH on A: %d %s", code, body)
			}
		}
		for _, k := range []string{k1.Key, k2.Key} {
			if got := status(b, "/items/", k); got != 401 {
				t.Errorf("the key of a disabled or demoted user, on B: %d", got)
			}
		}
	})
}

// TestAPIKeyCommand runs fortapi apikey in-process on a SQLite data dir:
// the key alone on stdout, only its hash in the database file, --scopes
// never from the environment, clear usage errors, list and revoke.
func TestAPIKeyCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if code, out, errOut := runEnvIn(t, nil, "bob's long passphrase 1\n", "user", "add", "bob", "--password-stdin", "--data-dir", dir); code != 0 {
		t.Fatalf("user add: %d %s %s", code, out, errOut)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		code int
		want string
	}{
		{[]string{"apikey"}, nil, exitUsage, "apikey create USER"},
		{[]string{"apikey", "nope"}, nil, exitUsage, `unknown subcommand "nope"`},
		{[]string{"apikey", "create", "bob", "--scopes", "items:read"}, nil, exitUsage, "--name is required"},
		{[]string{"apikey", "create", "bob", "--name", "x"}, map[string]string{"FORTAPI_SCOPES": "items:read"}, exitUsage, "--scopes is required"},
		{[]string{"apikey", "create", "bob", "--name", "x", "--scopes", "users:admin"}, nil, exitUsage, `does not grant the scope "users:admin"`},
		{[]string{"apikey", "create", "bob", "--name", "x", "--scopes", "items:read", "--allow-cidr", "10.0.0.0/33"}, nil, exitUsage, "--allow-cidr"},
		{[]string{"apikey", "create", "bob", "--name", "a\x01b", "--scopes", "items:read"}, nil, exitUsage, "--name"},
		{[]string{"apikey", "create", "nobody", "--name", "x", "--scopes", "items:read"}, nil, exitError, `no user "nobody"`},
		{[]string{"apikey", "revoke", "bob", "AAAAAAAAAAAAAAAA"}, nil, exitError, "has no API key"},
		{[]string{"apikey", "revoke", "bob", "../../etc"}, nil, exitError, "has no API key"},
	} {
		args := append(slices.Clone(tc.args), "--data-dir", dir)
		if len(tc.args) < 2 {
			args = tc.args
		}
		code, out, errOut := runCmd(t, args, tc.env)
		if code != tc.code || !strings.Contains(out+errOut, tc.want) {
			t.Errorf("%q: exit %d, want %d with %q:\n%s%s", tc.args, code, tc.code, tc.want, out, errOut)
		}
	}
	code, out, errOut := runCmd(t, []string{"apikey", "create", "bob", "--name", "deploy", "--scopes", "items:read,items:write",
		"--expires-in", "720h", "--allow-cidr", "203.0.113.0/24", "--data-dir", dir}, nil)
	key := strings.TrimSpace(out)
	if code != 0 || !strings.HasPrefix(key, "fak_") || strings.Count(out, "\n") != 1 || strings.Contains(errOut, key) || !strings.Contains(errOut, "shown only now") {
		t.Fatalf("apikey create: %d %q %q", code, out, errOut)
	}
	id, secret := key[4:20], key[21:64]

	// Only the hash is in the database file.
	db, err := sql.Open("sqlite", filepath.Join(dir, "fortapi.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var hash []byte
	var scopes, cidrs string
	if err := db.QueryRow("SELECT hash, scopes, allowed_cidrs FROM api_keys WHERE id = ?", id).Scan(&hash, &scopes, &cidrs); err != nil {
		t.Fatal(err)
	}
	if len(hash) != 32 || scopes != "items:read items:write" || cidrs != "203.0.113.0/24" {
		t.Fatalf("row: %x %q %q", hash, scopes, cidrs)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "fortapi.db"))
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(filepath.Join(dir, "fortapi.db-wal"))
	if bytes.Contains(append(raw, wal...), []byte(secret)) {
		t.Fatal("the key's secret is in the database files")
	}

	code, out, _ = runCmd(t, []string{"apikey", "list", "bob", "--data-dir", dir}, nil)
	if code != 0 || !strings.Contains(out, id) || !strings.Contains(out, "203.0.113.0/24") || strings.Contains(out, secret) {
		t.Fatalf("apikey list: %d\n%s", code, out)
	}
	if code, out, errOut := runCmd(t, []string{"apikey", "revoke", "bob", id, "--data-dir", dir}, nil); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("apikey revoke: %d %s %s", code, out, errOut)
	}
	if code, out, _ := runCmd(t, []string{"apikey", "list", "bob", "--data-dir", dir}, nil); code != 0 || strings.Contains(out, id) {
		t.Fatalf("the revoked key is still listed: %s", out)
	}
}

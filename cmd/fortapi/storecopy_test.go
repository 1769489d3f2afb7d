package main

import (
	"bytes"
	"context"
	"database/sql"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/pgtest"
	"github.com/fortapi/fortapi/server/postgres"
	"github.com/fortapi/fortapi/server/sqlite"
	"github.com/fortapi/fortapi/server/storecopy"
	"github.com/fortapi/fortapi/server/storecopy/storecopytest"
)

// testPassword is put in every PostgreSQL URL of these tests (the test
// server trusts local connections, so it is never checked): it must never
// appear in the output.
const testPassword = "Pw-7c1f9e-never-printed"

// copyCmd runs `fortapi store copy` in-process.
func copyCmd(t *testing.T, kv map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code = run(ctx, append([]string{"store", "copy"}, args...), func(k string) string { return kv[k] }, strings.NewReader(""), &out, &errOut)
	stdout, stderr = out.String(), errOut.String()
	if strings.Contains(stdout+stderr, testPassword) || strings.Contains(stdout+stderr, url.QueryEscape(testPassword)) {
		t.Errorf("the password is in the output:\n%s\n%s", stdout, stderr)
	}
	return code, stdout, stderr
}

// pgWithPassword returns a fresh schema's URL with testPassword in it.
func pgWithPassword(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(pgtest.SchemaURL(t, "off"))
	if err != nil {
		t.Fatal(err)
	}
	user := "postgres"
	if u.User != nil {
		user = u.User.Username()
	}
	u.User = url.UserPassword(user, testPassword)
	return u.String()
}

// populatedSQLite writes a populated database into dir/fortapi.db.
func populatedSQLite(t *testing.T, dir string, now time.Time) storecopytest.Fixture {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "fortapi.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	return storecopytest.Populate(t, s, now)
}

func openSQLiteT(t *testing.T, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestStoreCopyRoundTrip moves a data dir to PostgreSQL (URL with a
// password from the environment) and back to a new SQLite file (URL from
// a _FILE), compares both copies with the original, and refuses to copy
// into a store that is no longer empty.
func TestStoreCopyRoundTrip(t *testing.T) {
	t.Parallel()
	now := time.Now()
	dir := t.TempDir()
	srcDir := filepath.Join(dir, "data")
	if err := os.Mkdir(srcDir, 0o700); err != nil {
		t.Fatal(err)
	}
	fx := populatedSQLite(t, srcDir, now)
	pgURL := pgWithPassword(t)

	code, stdout, stderr := copyCmd(t, map[string]string{storeCopyToEnv: "postgres:" + pgURL}, "--from", "sqlite:"+srcDir)
	if code != exitOK {
		t.Fatalf("to PostgreSQL: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"users             5", "signing keys      5", "items             23", "audit events      42", "live revocations  3", "Everybody logs in again", "FORTAPI_MASTER_KEY"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if stderr != "" || strings.Contains(stdout, "\r") {
		t.Errorf("not a terminal, yet: stderr %q, stdout %q", stderr, stdout)
	}

	urlFile := filepath.Join(dir, "pg-url")
	if err := os.WriteFile(urlFile, []byte(pgURL+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	back := filepath.Join(dir, "back", "fortapi.db")
	code, _, stderr = copyCmd(t, map[string]string{storeCopyFromEnv + "_FILE": urlFile}, "--to", "sqlite:"+back)
	if code != exitOK {
		t.Fatalf("back to SQLite: exit %d\n%s", code, stderr)
	}

	src := openSQLiteT(t, filepath.Join(srcDir, "fortapi.db"))
	pg, err := postgres.Open(context.Background(), postgres.Options{URL: pgURL})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	storecopytest.Equal(t, fx, src, pg, now)
	storecopytest.Equal(t, fx, src, openSQLiteT(t, back), now)

	// Both targets now hold the installation: a second copy is refused.
	for _, kv := range []map[string]string{
		{storeCopyToEnv: pgURL},
		{storeCopyToEnv: "sqlite:" + back},
	} {
		code, _, stderr = copyCmd(t, kv, "--from", "sqlite:"+srcDir)
		if code != exitError || !strings.Contains(stderr, "not empty") || !strings.Contains(stderr, "left as it was") {
			t.Errorf("copy into a full store: exit %d\n%s", code, stderr)
		}
	}
}

// TestStoreCopyUsage: bad flags and environment exit 2, with a reason, and
// a password given on the command line is refused without being echoed.
func TestStoreCopyUsage(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "x.db")
	file := filepath.Join(dir, "url")
	if err := os.WriteFile(file, []byte("postgres://u@h/db"), 0o600); err != nil {
		t.Fatal(err)
	}
	pw := testPassword
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"nothing", nil, nil, "missing --from"},
		{"no target", nil, []string{"--from", db}, "missing --to"},
		{"password in URL", nil, []string{"--from", db, "--to", "postgres://u:" + pw + "@h/db"}, "--to holds a password"},
		{"password in prefixed URL", nil, []string{"--to", db, "--from", "postgres:postgresql://u:" + pw + "@h/db"}, "--from holds a password"},
		{"password parameter", nil, []string{"--from", db, "--to", "postgres://u@h/db?sslmode=disable&password=" + pw}, "--to holds a password"},
		{"keyword/value password", nil, []string{"--from", db, "--to", "postgres:host=h password=" + pw}, "--to holds a password"},
		{"password in another scheme", nil, []string{"--from", db, "--to", "mysql://u:" + pw + "@h/db"}, "--to holds a password"},
		{"unknown scheme", nil, []string{"--from", db, "--to", "mysql://h/db"}, `invalid --to "mysql://h/db"`},
		{"unknown scheme from env", map[string]string{storeCopyToEnv: "mysql://h/" + pw}, []string{"--from", db}, "invalid $FORTAPI_STORE_COPY_TO"},
		{"empty sqlite path", nil, []string{"--from", "sqlite:", "--to", db}, "needs a PATH"},
		{"same store", nil, []string{"--from", db, "--to", db}, "the same store"},
		{"same store from env", map[string]string{storeCopyFromEnv: db, storeCopyToEnv: db}, nil, "the same store"},
		{"variable and file", map[string]string{storeCopyToEnv: "postgres://u:" + pw + "@h/db", storeCopyToEnv + "_FILE": file}, []string{"--from", db}, "both"},
		{"missing file", map[string]string{storeCopyToEnv + "_FILE": filepath.Join(dir, "nope")}, []string{"--from", db}, "FORTAPI_STORE_COPY_TO_FILE"},
		{"positional argument", nil, []string{"--from", db, "--to", db + "2", "postgres://u:" + pw + "@h/db"}, "unexpected argument"},
		{"unknown flag", nil, []string{"--form", db}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := copyCmd(t, tt.env, tt.args...)
			if code != exitUsage || !strings.Contains(stderr, tt.want) || stdout != "" {
				t.Errorf("exit %d, stderr %q, stdout %q; want 2 and %q", code, stderr, stdout, tt.want)
			}
		})
	}
	t.Run("unknown subcommand", func(t *testing.T) {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), []string{"store", "move"}, func(string) string { return "" }, nil, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), `unknown subcommand "move"`) {
			t.Errorf("exit %d, %q", code, errOut.String())
		}
	})
	t.Run("help", func(t *testing.T) {
		code, stdout, _ := copyCmd(t, nil, "--help")
		if code != exitOK || !strings.Contains(stdout, "FORTAPI_STORE_COPY_FROM_FILE") {
			t.Errorf("exit %d, %q", code, stdout)
		}
	})
}

// TestStoreCopyFailures: a copy that cannot run, or stops half-way,
// exits 1 saying what it left behind.
func TestStoreCopyFailures(t *testing.T) {
	t.Parallel()
	now := time.Now()

	t.Run("no source", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "new.db")
		code, _, stderr := copyCmd(t, nil, "--from", "sqlite:"+filepath.Join(dir, "missing.db"), "--to", "sqlite:"+target)
		if code != exitError || !strings.Contains(stderr, "no database at") {
			t.Errorf("exit %d\n%s", code, stderr)
		}
		if _, err := os.Stat(target); err == nil {
			t.Error("the target was created")
		}
	})
	t.Run("unreachable target", func(t *testing.T) {
		dir := t.TempDir()
		populatedSQLite(t, dir, now)
		u := "postgres://postgres:" + testPassword + "@127.0.0.1:1/test?connect_timeout=2&sslmode=disable"
		code, _, stderr := copyCmd(t, map[string]string{storeCopyToEnv: u}, "--from", "sqlite:"+dir)
		if code != exitError || !strings.Contains(stderr, "--to: postgres: open database") {
			t.Errorf("exit %d\n%s", code, stderr)
		}
	})
	t.Run("empty source", func(t *testing.T) {
		dir := t.TempDir()
		openSQLiteT(t, filepath.Join(dir, "fortapi.db")).Close()
		code, stdout, stderr := copyCmd(t, nil, "--from", "sqlite:"+dir, "--to", "sqlite:"+filepath.Join(dir, "copy.db"))
		if code != exitOK || !strings.Contains(stderr, "holds nothing to copy") || !strings.Contains(stdout, "users             0") {
			t.Errorf("exit %d\n%s\n%s", code, stdout, stderr)
		}
	})

	// A source whose last item has no owner (a database edited by hand),
	// which the target refuses, stops the copy after the revocations, the
	// users, the keys and the other items.
	badSource := func(t *testing.T) string {
		dir := t.TempDir()
		populatedSQLite(t, dir, now)
		db, err := sql.Open("sqlite", filepath.Join(dir, "fortapi.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Exec(`INSERT INTO items (id, owner_id, name, price, created_at, updated_at) VALUES ('ffffffff-ffff-7fff-bfff-ffffffffffff', '', 'orphan', 1, 1, 1)`); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	const written = "3 revocations, 5 users, 3 API keys, 5 keys, 23 items and 0 events"
	t.Run("half-way, new SQLite target", func(t *testing.T) {
		dir := badSource(t)
		target := filepath.Join(t.TempDir(), "new.db")
		code, stdout, stderr := copyCmd(t, nil, "--from", "sqlite:"+dir, "--to", "sqlite:"+target)
		if code != exitError || !strings.Contains(stderr, "writing item ffffffff-") || !strings.Contains(stderr, written) || !strings.Contains(stderr, "deleted again") || stdout != "" {
			t.Errorf("exit %d\n%s%s", code, stdout, stderr)
		}
		if m, _ := filepath.Glob(target + "*"); len(m) > 0 {
			t.Errorf("left behind: %v", m)
		}
	})
	t.Run("half-way, PostgreSQL target", func(t *testing.T) {
		dir := badSource(t)
		pgURL := pgWithPassword(t)
		code, _, stderr := copyCmd(t, map[string]string{storeCopyToEnv: pgURL}, "--from", "sqlite:"+dir)
		if code != exitError || !strings.Contains(stderr, written) || !strings.Contains(stderr, "partial copy") {
			t.Errorf("exit %d\n%s", code, stderr)
		}
		pg, err := postgres.Open(context.Background(), postgres.Options{URL: pgURL})
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Close()
		if users, _ := pg.ListUsers(context.Background(), "", 100); len(users) != 5 {
			t.Errorf("target has %d users, want the 5 reported", len(users))
		}
	})
}

func TestStoreCopyProgress(t *testing.T) {
	tests := []struct {
		p    storecopy.Progress
		want string
	}{
		{storecopy.Progress{Phase: storecopy.PhaseCheck}, "checking that the target is empty: 0 revocations, 0 users, 0 keys, 0 items, 0 events"},
		{storecopy.Progress{Phase: storecopy.PhaseItems, Stats: storecopy.Stats{Revocations: 1, Users: 2, Keys: 3, Items: 4}}, "copying items: 1 revocations, 2 users, 3 keys, 4 items, 0 events"},
		{storecopy.Progress{Phase: storecopy.PhaseEvents, Stats: storecopy.Stats{Events: 5}, EventsTotal: 9}, "copying events: 0 revocations, 0 users, 0 keys, 0 items, 5 of 9 events"},
		{storecopy.Progress{Phase: storecopy.PhaseDone, Stats: storecopy.Stats{Events: 9}, EventsTotal: 9}, "copied: 0 revocations, 0 users, 0 keys, 0 items, 9 of 9 events"},
	}
	for _, tt := range tests {
		if got := progressText(tt.p); got != tt.want {
			t.Errorf("progressText(%+v) = %q, want %q", tt.p, got, tt.want)
		}
	}

	// At most ten updates a second, but always the last one.
	var buf bytes.Buffer
	clock := time.Unix(0, 0)
	line := &progressLine{w: &buf, now: func() time.Time { return clock }}
	line.update(storecopy.Progress{Phase: storecopy.PhaseUsers})
	clock = clock.Add(50 * time.Millisecond)
	line.update(storecopy.Progress{Phase: storecopy.PhaseItems})
	line.update(storecopy.Progress{Phase: storecopy.PhaseDone})
	line.clear()
	if got := strings.Count(buf.String(), "\r"); got != 3 || strings.Contains(buf.String(), "copying items") {
		t.Errorf("progress output %q", buf.String())
	}
	if isTerminal(&buf) {
		t.Error("a buffer is a terminal")
	}
}

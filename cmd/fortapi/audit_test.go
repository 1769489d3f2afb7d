package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/e2e"
	"github.com/fortapi/fortapi/internal/pgtest"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/app"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/server/postgres"
	"github.com/fortapi/fortapi/server/sqlite"
)

// exportedFields are the documented field names of an exported event
// (docs/deployment.md), in order.
var exportedFields = []string{"time", "id", "event", "user_id", "username", "actor", "session_id", "client_ip", "request_id", "details"}

// exportTime is the documented time format: RFC 3339, UTC, microseconds.
var exportTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`)

// parseExport checks every line of an export (one JSON object with
// exactly the documented fields, a well-formed time, in (time, id) order)
// and returns the records.
func parseExport(t *testing.T, out string) []auditRecord {
	t.Helper()
	var recs []auditRecord
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Bytes()
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(line, &fields); err != nil {
			t.Fatalf("line %d is not a JSON object: %v: %s", len(recs)+1, err, line)
		}
		var keys []string
		for k := range fields {
			keys = append(keys, k)
		}
		if slices.Sort(keys); !slices.Equal(keys, slices.Sorted(slices.Values(exportedFields))) {
			t.Fatalf("line %d has the fields %v, want %v", len(recs)+1, keys, exportedFields)
		}
		var r auditRecord
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		if !exportTime.MatchString(r.Time) {
			t.Errorf("line %d: time %q is not RFC 3339 UTC with microseconds", len(recs)+1, r.Time)
		}
		if n := len(recs); n > 0 && (r.Time < recs[n-1].Time || r.Time == recs[n-1].Time && r.ID < recs[n-1].ID) {
			t.Errorf("line %d is out of (time, id) order", n+1)
		}
		recs = append(recs, r)
	}
	return recs
}

// TestAuditExportAfterASession: a scripted session (logins, a failed
// login, a refresh, a password change, an API key created on the command
// line and one over the API, a logout) exported with `fortapi audit
// export`: every event is there, in order, with the username beside the
// user id, the actor of the command-line changes, and none of the
// secrets used anywhere in the output.
func TestAuditExportAfterASession(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const (
		adminPW  = "the admin passphrase 7Qx"
		erinPW   = "erin's first passphrase 4Kd"
		erinPW2  = "erin's second passphrase 9Lm"
		wrongPW  = "a wrong guess passphrase 2Zp"
		masterKy = "6d61737465722d6b65792d666f722d7468652d61756469742d746573742d3332" // hex
	)
	kv := map[string]string{"FORTAPI_ADMIN_PASSWORD": adminPW, "FORTAPI_MASTER_KEY": masterKy}
	start := time.Now().UTC()
	s := startServeEnv(t, dir, kv)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(s.log.String())
		}
	})
	if !strings.Contains(s.log.String(), `"msg":"audit log retention: older security events are deleted at start and hourly","retention":"2160h0m0s"`) {
		t.Errorf("the default retention is not logged at start:\n%s", s.log.String())
	}
	c := e2e.TLSClient(t, dir, nil)
	secrets := []string{adminPW, erinPW, erinPW2, wrongPW, masterKy}

	if code, out, errOut := runEnvIn(t, kv, erinPW+"\n", "user", "add", "erin", "--password-stdin", "--data-dir", dir); code != 0 {
		t.Fatalf("user add: %d %s %s", code, out, errOut)
	}
	code, out, errOut := runEnvIn(t, kv, "", "apikey", "create", "erin", "--name", "ci", "--scopes", "items:read", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("apikey create: %d %s %s", code, out, errOut)
	}
	if key := regexp.MustCompile(`fak_\S+`).FindString(out); key == "" {
		t.Fatalf("no key printed: %q", out)
	} else {
		secrets = append(secrets, key)
	}
	if code, _, body := postToken(t, c, s.url, url.Values{"grant_type": {"password"}, "username": {"erin"}, "password": {wrongPW}}); code != 400 {
		t.Fatalf("wrong password: %d %s", code, body)
	}
	code, adm, body := postToken(t, c, s.url, url.Values{"grant_type": {"password"}, "username": {"admin"}, "password": {adminPW}})
	if code != 200 {
		t.Fatalf("admin login: %d %s", code, body)
	}
	code, erin, body := postToken(t, c, s.url, url.Values{"grant_type": {"password"}, "username": {"erin"}, "password": {erinPW}})
	if code != 200 {
		t.Fatalf("erin login: %d %s", code, body)
	}
	code, erin2, body := postToken(t, c, s.url, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {erin.RefreshToken}})
	if code != 200 {
		t.Fatalf("refresh: %d %s", code, body)
	}
	secrets = append(secrets, adm.AccessToken, adm.RefreshToken, erin.AccessToken, erin.RefreshToken, erin2.AccessToken, erin2.RefreshToken)
	jsonAuth := func(tok string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + tok, "Content-Type": "application/json"}
	}
	resp, body2 := send(t, c, "POST", s.url+"/users/me/api-keys", jsonAuth(erin2.AccessToken), `{"name":"laptop","scopes":["items:read"]}`)
	if resp.StatusCode != 201 {
		t.Fatalf("create API key: %d %s", resp.StatusCode, body2)
	}
	var created struct{ Key string }
	if err := json.Unmarshal([]byte(body2), &created); err != nil || created.Key == "" {
		t.Fatalf("API key answer %s: %v", body2, err)
	}
	secrets = append(secrets, created.Key)
	if resp, body := send(t, c, "POST", s.url+"/logout", jsonAuth(adm.AccessToken), ""); resp.StatusCode != 204 {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	pw := fmt.Sprintf(`{"current_password":%q,"new_password":%q}`, erinPW, erinPW2)
	if resp, body := send(t, c, "PUT", s.url+"/users/me/password", jsonAuth(erin2.AccessToken), pw); resp.StatusCode/100 != 2 {
		t.Fatalf("change password: %d %s", resp.StatusCode, body)
	}

	// While the server runs; --since as a duration.
	code, out, errOut = runEnvIn(t, kv, "", "audit", "export", "--since", "1h", "--data-dir", dir)
	if code != 0 || errOut != "" {
		t.Fatalf("audit export: %d %s", code, errOut)
	}
	for _, sec := range secrets {
		if strings.Contains(out, sec) {
			t.Errorf("the export holds a secret (%.8s...)", sec)
		}
	}
	recs := parseExport(t, out)
	// logged waits for the request log to show sub: a request's line is
	// written once its answer has gone.
	logged := func(sub string) bool {
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if strings.Contains(s.log.String(), sub) {
				return true
			}
			if time.Now().After(deadline) {
				return false
			}
		}
	}
	type want struct{ event, username, actor string }
	var got []want
	for _, r := range recs {
		got = append(got, want{r.Event, r.Username, r.Actor})
		if r.UserID != "" && r.Username == "" {
			t.Errorf("%s for user %s has no username", r.Event, r.UserID)
		}
		// An event caused by a request names it: its request_id is that
		// of a request log line. The command line's events have none.
		switch {
		case r.Actor == "cli" || r.Actor == "bootstrap":
			if r.RequestID != "" {
				t.Errorf("%s by %s has the request id %q", r.Event, r.Actor, r.RequestID)
			}
		case r.RequestID == "" || !logged(`"request_id":"`+r.RequestID+`"`):
			t.Errorf("%s of %s: request id %q is not in the request log", r.Event, r.Username, r.RequestID)
		}
	}
	for _, w := range []want{
		{server.EventUserCreated, "admin", "bootstrap"},
		{server.EventUserCreated, "erin", "cli"},
		{server.EventAPIKeyCreated, "erin", "cli"},
		{server.EventLoginFailure, "erin", ""},
		{server.EventLoginSuccess, "admin", ""},
		{server.EventLoginSuccess, "erin", ""},
		{server.EventAPIKeyCreated, "erin", ""},
		{server.EventLogout, "admin", ""},
		{server.EventPasswordChanged, "erin", ""},
	} {
		i := slices.Index(got, w)
		if i < 0 {
			t.Errorf("no %+v in the export: %+v", w, got)
			continue
		}
		got = got[i+1:] // in this order
	}

	// --since and --until in RFC 3339: the same events, then none.
	code, out2, errOut := runEnvIn(t, kv, "", "audit", "export", "--since", start.Add(-time.Minute).Format(time.RFC3339Nano),
		"--until", time.Now().Add(time.Minute).Format(time.RFC3339), "--format", "jsonl", "--data-dir", dir)
	if code != 0 || out2 != out {
		t.Errorf("export by RFC 3339 bounds: %d, %d lines, want the %d of before; %s", code, strings.Count(out2, "\n"), len(recs), errOut)
	}
	code, out2, errOut = runEnvIn(t, kv, "", "audit", "export", "--since", "2000-01-01T00:00:00Z", "--until", "2000-01-02T00:00:00Z", "--data-dir", dir)
	if code != 0 || out2 != "" {
		t.Errorf("export of a day long ago: %d %q %s", code, out2, errOut)
	}
}

// TestAuditExportErrors: bad flags exit 2 naming what is accepted; a
// missing database or an unreachable PostgreSQL exits 1 with a clear
// message that does not quote the URL's password.
func TestAuditExportErrors(t *testing.T) {
	t.Parallel()
	const pgPW = "pg-Secret-audit-5t"
	dir := t.TempDir()
	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"no subcommand", []string{"audit"}, nil, exitUsage, ""},
		{"unknown command names audit", []string{"audi"}, nil, exitUsage, "apikey, store, audit, scan"},
		{"unknown subcommand", []string{"audit", "import"}, nil, exitUsage, `unknown subcommand "import" (export)`},
		{"format csv", []string{"audit", "export", "--since", "1h", "--format", "csv"}, nil, exitUsage, `invalid --format "csv": want jsonl`},
		{"no since", []string{"audit", "export"}, nil, exitUsage, "--since is required"},
		{"bad since", []string{"audit", "export", "--since", "yesterday"}, nil, exitUsage, `invalid --since "yesterday": want RFC 3339`},
		{"negative since", []string{"audit", "export", "--since", "-1h"}, nil, exitUsage, `invalid --since "-1h": a duration means that long ago and must not be negative`},
		{"bad until", []string{"audit", "export", "--since", "1h", "--until", "soon"}, nil, exitUsage, `invalid --until "soon"`},
		{"until before since", []string{"audit", "export", "--since", "1h", "--until", "2h"}, nil, exitUsage, "--until (" /* ... */},
		{"stray argument", []string{"audit", "export", "--since", "1h", "all"}, nil, exitUsage, `unexpected argument "all"`},
		{"no database", []string{"audit", "export", "--since", "1h", "--data-dir", filepath.Join(dir, "none")}, nil, exitError, "no database at " + filepath.Join(dir, "none", "fortapi.db")},
		{"unreachable postgres", []string{"audit", "export", "--since", "1h"}, map[string]string{"FORTAPI_POSTGRES_URL": "postgres://audit:" + pgPW + "@127.0.0.1:1/x?connect_timeout=5"}, exitError, "connection refused"},
		{"password on the command line", []string{"audit", "export", "--since", "1h", "--postgres-url", "postgres://audit:" + pgPW + "@127.0.0.1:1/x"}, nil, exitUsage, "--postgres-url holds a password"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tt.args, tt.env)
			if code != tt.code || !strings.Contains(errOut+out, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, tt.code, tt.want)
			}
			if tt.code == exitError && out != "" {
				t.Errorf("a failed export wrote %q", out)
			}
			if strings.Contains(out+errOut, pgPW) {
				t.Errorf("the PostgreSQL password is echoed: %q", errOut)
			}
		})
	}
}

// TestAuditRetentionFlag: --audit-retention takes a duration of at least
// an hour, 0 keeps the log forever (negative for the app, a warning in the
// log), and a value negative, too short or unparsable exits 2 naming the
// flag and what it wants.
func TestAuditRetentionFlag(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		value string
		want  time.Duration // for app.Config
		err   string
	}{
		{"", authn.DefaultAuditRetention, ""},
		{"720h", 720 * time.Hour, ""},
		{"0", -1, ""},
		{"0s", -1, ""},
		{"-1h", 0, "fortapi serve: invalid --audit-retention -1h0m0s: want at least 1h, or 0 to keep events forever"},
		{"30m", 0, "fortapi serve: invalid --audit-retention 30m0s: want at least 1h"},
		{"90d", 0, `fortapi serve: invalid value "90d" for --audit-retention: want a duration such as 2160h (90 days: Go durations have no d unit), or 0 to keep events forever`},
		{"forever", 0, `fortapi serve: invalid value "forever" for --audit-retention: want a duration`},
	} {
		t.Run(tt.value, func(t *testing.T) {
			args := []string{"--data-dir", t.TempDir()}
			if tt.value != "" {
				args = append(args, "--audit-retention", tt.value)
			}
			var stdout, stderr bytes.Buffer
			cfg, code, ok := parseServe(args, env(nil), &stdout, &stderr)
			if tt.err != "" {
				if ok || code != exitUsage || !strings.HasPrefix(stderr.String(), tt.err) {
					t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), exitUsage, tt.err)
				}
				return
			}
			if !ok || cfg.admin.appRetention() != tt.want {
				t.Errorf("retention %v (%d %s), want %v", cfg.admin.appRetention(), code, stderr.String(), tt.want)
			}
		})
	}
	// From the environment, like every flag.
	var stderr bytes.Buffer
	if cfg, _, ok := parseServe(nil, env(map[string]string{"FORTAPI_AUDIT_RETENTION": "48h"}), &bytes.Buffer{}, &stderr); !ok || cfg.admin.auditRetention != 48*time.Hour {
		t.Errorf("FORTAPI_AUDIT_RETENTION=48h: %v %s", cfg.admin.auditRetention, stderr.String())
	}
	var log bytes.Buffer
	logAuditRetention(slog.New(slog.NewTextHandler(&log, nil)), 0)
	if !strings.Contains(log.String(), "level=WARN") || !strings.Contains(log.String(), "kept forever (--audit-retention 0)") {
		t.Errorf("retention 0 is not a logged warning: %s", log.String())
	}
}

// TestAuditExportPagesThrough: the export reads the log a page at a time
// by (time, id), on SQLite and on PostgreSQL, and loses or repeats no
// event at page ends, also where several events share a time.
func TestAuditExportPagesThrough(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)
	fill := func(t *testing.T, s server.AuthStore) []string {
		var want []string
		for i := range 23 {
			at := t0.Add(time.Duration(i/3) * time.Second) // three events per time
			ev := server.Event{At: at, Type: server.EventLoginFailure, UserID: fmt.Sprintf("u%d", i), Username: "n\u202e" + fmt.Sprint(i), Detail: fmt.Sprintf("d%d", i)}
			if err := s.AddEvent(ctx, ev); err != nil {
				t.Fatal(err)
			}
			want = append(want, ev.Detail)
		}
		return want
	}
	check := func(t *testing.T, s eventsReader, want []string) {
		for _, page := range []int{1, 3, 4, 50} {
			var buf bytes.Buffer
			n, err := exportAudit(ctx, s, t0.Add(time.Second), time.Time{}, page, &buf)
			if err != nil || n != len(want)-3 {
				t.Fatalf("page %d: exportAudit = %d, %v; want %d", page, n, err, len(want)-3)
			}
			var got []string
			for _, r := range parseExport(t, buf.String()) {
				got = append(got, r.Details)
			}
			if !slices.Equal(got, want[3:]) {
				t.Errorf("page %d: %v, want %v", page, got, want[3:])
			}
		}
		var buf bytes.Buffer
		if _, err := exportAudit(ctx, s, t0, time.Time{}, 5, &buf); err != nil {
			t.Fatal(err)
		}
		if first := parseExport(t, buf.String())[0]; first.Time != "2026-01-02T03:04:05.678901Z" || first.Username != "n\u202e0" {
			t.Errorf("first record %+v", first)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fortapi.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		check(t, s, fill(t, s))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		pgURL := pgtest.SchemaURL(t, "off")
		s, err := postgres.Open(ctx, postgres.Options{URL: pgURL})
		if err != nil {
			t.Fatal(err)
		}
		want := fill(t, s)
		check(t, s, want)
		s.Close()
		// The command against the same database (URL from the environment).
		code, out, errOut := runCmd(t, []string{"audit", "export", "--since", t0.Format(time.RFC3339Nano), "--until", t0.Add(2 * time.Second).Format(time.RFC3339Nano)},
			map[string]string{"FORTAPI_POSTGRES_URL": pgURL})
		if code != 0 {
			t.Fatalf("audit export on PostgreSQL: %d %s", code, errOut)
		}
		if recs := parseExport(t, out); len(recs) != 6 || recs[0].Details != "d0" || recs[5].Details != "d5" {
			t.Errorf("export on PostgreSQL: %+v", recs)
		}
	})
}

// TestAuditExportFieldsDocumented: docs/deployment.md documents every
// exported field, the default retention, and the accepted formats.
func TestAuditExportFieldsDocumented(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../../docs/deployment.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	_, sec, ok := strings.Cut(doc, "## Audit log: retention and export")
	if !ok {
		t.Fatal(`docs/deployment.md lacks the section "Audit log: retention and export"`)
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	for _, f := range exportedFields {
		if !strings.Contains(sec, "| `"+f+"` |") {
			t.Errorf("the field %q is not in the table of docs/deployment.md", f)
		}
	}
	for _, w := range []string{"`--audit-retention 0`", "`" + strings.TrimSuffix(authn.DefaultAuditRetention.String(), "0m0s") + "`", "`jsonl`", "fortapi audit export --since"} {
		if !strings.Contains(sec, w) {
			t.Errorf("the audit section does not mention %s", w)
		}
	}
}

// TestAuditExportWindow: --since as a duration (from the injected clock)
// or RFC 3339 selects the window; hostile text stays inside its JSON line;
// bad flags and a missing database are refused.
func TestAuditExportWindow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	store, err := app.OpenStore(ctx, app.StoreConfig{SQLitePath: filepath.Join(dir, dbFile)}, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, ev := range []server.Event{
		{At: now.Add(-48 * time.Hour), Type: server.EventLoginFailure, Username: "old"},
		{At: now.Add(-2 * time.Hour), Type: server.EventLogout, UserID: "u1", Username: "alice", SessionID: "s1", ClientIP: "192.0.2.1"},
		{At: now.Add(-time.Hour), Type: server.EventLoginFailure, Username: "evil\n{\"event\":\"forged\"}", Detail: "a \"quoted\"\r\nline"},
	} {
		if err := store.AddEvent(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()
	clock := func() time.Time { return now }
	export := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := runAudit(ctx, append([]string{"export", "--data-dir", dir}, args...), env(nil), &out, &errOut, clock)
		return code, out.String(), errOut.String()
	}
	for _, since := range []string{"24h", now.Add(-24 * time.Hour).Format(time.RFC3339)} {
		t.Run("since "+since, func(t *testing.T) {
			code, out, errOut := export("--since", since)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			got := parseExport(t, out)
			if len(got) != 2 {
				t.Fatalf("%d lines, want 2 (oldest first, the 48h old one left out):\n%s", len(got), out)
			}
			if got[0].Event != server.EventLogout || got[0].Username != "alice" || got[0].UserID != "u1" || got[0].ClientIP != "192.0.2.1" ||
				got[0].Time != "2026-12-06T10:00:00.000000Z" ||
				got[1].Event != server.EventLoginFailure || got[1].Username != "evil\n{\"event\":\"forged\"}" || got[1].Details != "a \"quoted\"\r\nline" {
				t.Errorf("exported %+v", got)
			}
		})
	}
	if code, out, errOut := export("--since", "24h", "--until", "90m"); code != 0 || len(parseExport(t, out)) != 1 {
		t.Errorf("--until 90m (ago): exit %d, %q %s; want the logout only", code, out, errOut)
	}
	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no since", nil, exitUsage, "--since is required"},
		{"bad since", []string{"--since", "yesterday"}, exitUsage, `invalid --since "yesterday"`},
		{"negative since", []string{"--since", "-24h"}, exitUsage, `invalid --since "-24h"`},
		{"bad format", []string{"--since", "24h", "--format", "csv"}, exitUsage, `invalid --format "csv": want jsonl`},
		{"no database", []string{"--since", "24h", "--data-dir", t.TempDir()}, exitError, "no database at"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := export(tt.args...)
			if code != tt.code || out != "" || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d with %q", code, out, errOut, tt.code, tt.want)
			}
		})
	}
}

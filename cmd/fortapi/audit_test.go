package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/app"
)

func TestAuditExport(t *testing.T) {
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
		{At: now.Add(-time.Hour), Type: server.EventLoginFailure, Username: "evil\n{\"type\":\"forged\"}", Detail: "a \"quoted\"\r\nline"},
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
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != 2 {
				t.Fatalf("%d lines, want 2 (newest first, the 48h old one left out):\n%s", len(lines), out)
			}
			var got []auditLine
			for _, l := range lines {
				var a auditLine
				if err := json.Unmarshal([]byte(l), &a); err != nil {
					t.Fatalf("line %q: %v", l, err)
				}
				got = append(got, a)
			}
			if got[0].Type != server.EventLoginFailure || got[0].Username != "evil\n{\"type\":\"forged\"}" ||
				got[1].Type != server.EventLogout || got[1].Username != "alice" || got[1].UserID != "u1" || got[1].ClientIP != "192.0.2.1" ||
				!got[1].At.Equal(now.Add(-2*time.Hour)) {
				t.Errorf("exported %+v", got)
			}
		})
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
		{"bad format", []string{"--since", "24h", "--format", "csv"}, exitUsage, `invalid --format "csv"`},
		{"no database", []string{"--since", "24h", "--data-dir", t.TempDir()}, exitError, "no database at"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := export(tt.args...)
			if code != tt.code || out != "" || !strings.Contains(errOut, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d with %q", code, out, errOut, tt.code, tt.want)
			}
		})
	}
	var out, errOut bytes.Buffer
	if code := runAudit(ctx, []string{"import"}, env(nil), &out, &errOut, clock); code != exitUsage {
		t.Errorf("unknown subcommand: exit %d", code)
	}
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/app"
)

const auditHelp = `Reads the security event log (the audit log) of --data-dir (or
--postgres-url), also while the server runs.

  fortapi audit export --since T [--format jsonl]

prints every event at or after T, newest first, one JSON object a line:
{"id", "at", "type", "user_id", "username", "session_id", "client_ip",
"detail"} (empty fields left out), for shipping to a SIEM. T is an RFC 3339
time (2026-12-01T00:00:00Z) or a duration back from now (24h). Events older
than --audit-retention of the server are gone.
`

// auditLine is one exported event.
type auditLine struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Type      string    `json:"type"`
	UserID    string    `json:"user_id,omitempty"`
	Username  string    `json:"username,omitempty"`
	SessionID string    `json:"session_id,omitempty"`
	ClientIP  string    `json:"client_ip,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

func runAudit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, now func() time.Time) int {
	if code, done := groupHelp(args, auditHelp, stdout, stderr); done {
		return code
	}
	sub, rest := args[0], args[1:]
	if sub != "export" {
		fmt.Fprintf(stderr, "fortapi audit: unknown subcommand %q (export)\n", sub)
		return exitUsage
	}
	c := newCommand("audit export", auditHelp)
	sf := addStoreFlags(c, "`DIR` holding the database")
	var sinceText, format string
	c.fs.StringVar(&sinceText, "since", "", "export the events at or after `T`: an RFC 3339 time or a duration back from now such as 24h (required)")
	c.fs.StringVar(&format, "format", "jsonl", "output `FORMAT`: jsonl (one JSON object a line)")
	if code, ok := c.parse(rest, getenv, stdout, stderr); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "fortapi audit export: "+format+"\n", a...)
		return code
	}
	since, err := parseSince(sinceText, now())
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	if format != "jsonl" {
		return fail(exitUsage, "invalid --format %q: want jsonl", format)
	}
	if _, err := sf.resolve(c, getenv); err != nil {
		return fail(exitUsage, "%v", err)
	}
	sc, err := storeConfig(sf.dataDir, sf.postgresURL, false)
	if err != nil {
		return fail(exitError, "%v", err)
	}
	store, err := app.OpenStore(ctx, sc, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return fail(exitError, "%v", err)
	}
	defer store.Close()
	w := bufio.NewWriter(stdout)
	enc := json.NewEncoder(w)
	var before int64
	for {
		evs, err := store.ListEvents(ctx, server.EventFilter{BeforeID: before, Limit: 1000})
		if err != nil {
			return fail(exitError, "reading events: %v", err)
		}
		for _, ev := range evs {
			if ev.At.Before(since) {
				return flushed(w, stderr)
			}
			if err := enc.Encode(auditLine{ID: ev.ID, At: ev.At.UTC(), Type: ev.Type, UserID: ev.UserID, Username: ev.Username,
				SessionID: ev.SessionID, ClientIP: ev.ClientIP, Detail: ev.Detail}); err != nil {
				return fail(exitError, "writing: %v", err)
			}
			before = ev.ID
		}
		if len(evs) < 1000 {
			return flushed(w, stderr)
		}
	}
}

func flushed(w *bufio.Writer, stderr io.Writer) int {
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "fortapi audit export: writing: %v\n", err)
		return exitError
	}
	return exitOK
}

// parseSince reads --since: an RFC 3339 time, or a positive duration back
// from now.
func parseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("--since is required: an RFC 3339 time (2026-12-01T00:00:00Z) or a duration such as 24h")
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("invalid --since %q: want an RFC 3339 time (2026-12-01T00:00:00Z) or a positive duration such as 24h", s)
}

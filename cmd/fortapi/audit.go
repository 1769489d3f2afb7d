package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/fortapi/fortapi/server"
)

// logAuditRetention says at start-up how long the audit log is kept
// (--audit-retention, serve_admin.go).
func logAuditRetention(log *slog.Logger, d time.Duration) {
	if d == 0 {
		log.Warn("the audit log is kept forever (--audit-retention 0): security events are never deleted")
		return
	}
	log.Info("audit log retention: older security events are deleted at start and hourly",
		"retention", d.String(), "days", d.Hours()/24)
}

const auditHelp = `Reads the audit log (security events) of --data-dir (or --postgres-url),
also while the server runs. It needs no master key.

  audit export --since TIME [--until TIME] [--format jsonl]
      writes the events at or after --since (and before --until) to stdout,
      oldest first, one JSON object per line (docs/deployment.md, "Audit
      log: retention and export"). TIME is RFC 3339 (2026-01-02T15:04:05Z)
      or a duration meaning that long ago (24h, 90m). For a SIEM:
        fortapi audit export --since 1h | your-shipper
`

// auditRecord is one exported event: the field names are stable
// (docs/deployment.md). Empty fields are "" rather than absent.
type auditRecord struct {
	Time      string `json:"time"`
	ID        int64  `json:"id"`
	Event     string `json:"event"`
	UserID    string `json:"user_id"`
	Username  string `json:"username"`
	Actor     string `json:"actor"`
	SessionID string `json:"session_id"`
	ClientIP  string `json:"client_ip"`
	RequestID string `json:"request_id"`
	Details   string `json:"details"`
}

// auditTimeFormat is RFC 3339 in UTC with the microseconds the stores
// keep, always six digits (times sort as text).
const auditTimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// auditPage is how many events the export reads at once.
const auditPage = server.MaxEventBatch

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
	since := c.fs.String("since", "", "export the events at or after `TIME`: RFC 3339 (2026-01-02T15:04:05Z) or a duration meaning that long ago (24h) (required)")
	until := c.fs.String("until", "", "export only the events before `TIME` (same forms as --since; default: up to the last one)")
	format := c.fs.String("format", "jsonl", "output `FORMAT`: jsonl (one JSON object per line)")
	if code, ok := c.parse(rest, getenv, stdout, stderr); !ok {
		return code
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "fortapi audit export: %v\n", err)
		return code
	}
	if _, err := sf.resolve(c, getenv); err != nil {
		return fail(exitUsage, err)
	}
	if *format != "jsonl" {
		return fail(exitUsage, fmt.Errorf("invalid --format %q: want jsonl", *format))
	}
	if strings.TrimSpace(*since) == "" {
		return fail(exitUsage, errors.New("--since is required: RFC 3339 (2026-01-02T15:04:05Z) or a duration meaning that long ago (24h)"))
	}
	from, err := parseAuditTime("--since", *since, now())
	if err != nil {
		return fail(exitUsage, err)
	}
	var to time.Time
	if strings.TrimSpace(*until) != "" {
		if to, err = parseAuditTime("--until", *until, now()); err != nil {
			return fail(exitUsage, err)
		}
		if !to.After(from) {
			return fail(exitUsage, fmt.Errorf("--until (%s) is not after --since (%s)", to.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano)))
		}
	}
	env, err := openAdmin(ctx, sf, getenv, false, false)
	if err != nil {
		return fail(exitError, err)
	}
	defer env.close()
	if _, err := exportAudit(ctx, env.store, from, to, auditPage, stdout); err != nil {
		return fail(exitError, err)
	}
	return exitOK
}

// parseAuditTime reads a --since or --until value: RFC 3339, or a
// positive duration before now.
func parseAuditTime(flagName, v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("invalid %s %q: want RFC 3339 (2026-01-02T15:04:05Z) or a duration meaning that long ago (24h, 90m)", flagName, v)
	}
	if d < 0 {
		return time.Time{}, fmt.Errorf("invalid %s %q: a duration means that long ago and must not be negative", flagName, v)
	}
	return now.Add(-d).UTC(), nil
}

// eventsReader is what exportAudit needs of a store.
type eventsReader interface {
	EventsInOrder(ctx context.Context, after server.EventCursor, until time.Time, limit int) ([]server.Event, error)
}

// exportAudit writes the events with At in [from, to) (to zero: no end)
// to w as JSON lines, oldest first, page (1..server.MaxEventBatch) at a
// time, and returns how many it wrote. Each page is flushed to w before the
// next is read: memory holds one page, whatever the log's size.
func exportAudit(ctx context.Context, s eventsReader, from, to time.Time, page int, w io.Writer) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	cur := server.EventCursor{At: from}
	n := 0
	for {
		evs, err := s.EventsInOrder(ctx, cur, to, page)
		if err != nil {
			return n, fmt.Errorf("reading the audit log: %w", err)
		}
		for _, ev := range evs {
			if err := enc.Encode(auditRecord{
				Time: ev.At.UTC().Format(auditTimeFormat), ID: ev.ID, Event: ev.Type,
				UserID: ev.UserID, Username: ev.Username, Actor: ev.Actor,
				SessionID: ev.SessionID, ClientIP: ev.ClientIP, RequestID: ev.RequestID, Details: ev.Detail,
			}); err != nil {
				return n, fmt.Errorf("writing: %w", err)
			}
			n++
		}
		if err := bw.Flush(); err != nil {
			return n, fmt.Errorf("writing: %w", err)
		}
		if len(evs) < page {
			return n, nil
		}
		last := evs[len(evs)-1]
		cur = server.EventCursor{At: last.At, ID: last.ID}
	}
}

// retentionFlag is --audit-retention: a time.Duration whose parse error
// says what is wanted (the flag package's own says "parse error").
type retentionFlag time.Duration

func (r *retentionFlag) String() string { return time.Duration(*r).String() }

func (r *retentionFlag) Set(v string) error {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return errors.New("want a duration such as 2160h (90 days: Go durations have no d unit), or 0 to keep events forever")
	}
	*r = retentionFlag(d)
	return nil
}

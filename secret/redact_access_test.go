package secret

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/accesslog"
	"github.com/fortapi/fortapi/internal/jsonlog"
)

// countingHandler counts how a line reached it.
type countingHandler struct {
	slog.Handler
	access, records *int
}

func (c countingHandler) HandleAccess(ctx context.Context, l accesslog.Line) error {
	*c.access++
	return c.Handler.Handle(ctx, l.Record())
}

func (c countingHandler) Handle(ctx context.Context, r slog.Record) error {
	*c.records++
	return c.Handler.Handle(ctx, r)
}

// TestHandleAccess: the redacting handler writes an access line given to
// HandleAccess exactly as Handle writes the line's record, whatever the
// line carries (a JWT as request id, credentials in the path, the method
// or the remote address) and however the handler was made (sensitive
// keys that cover a key of the line, a sensitive group, attributes); no
// credential reaches the output; and the inner handler's HandleAccess is
// used only when the line's keys are harmless.
func TestHandleAccess(t *testing.T) {
	when := time.Date(2026, 12, 6, 15, 0, 0, 123000000, time.UTC)
	typical := accesslog.Line{Time: when, RequestID: "0123456789abcdef0123456789abcdef", Method: "GET", Path: "/protected",
		Status: 200, Bytes: 51, DurationMS: 0.25, Remote: "127.0.0.1:5555", Proto: "HTTP/1.1"}
	secrets := []string{testJWT, opaque, "hunter2", "fak_0123456789abcdefABCDEF"}
	lines := map[string]accesslog.Line{
		"typical":        typical,
		"jwt request id": func() accesslog.Line { l := typical; l.RequestID = testJWT; return l }(),
		"credentials in path": func() accesslog.Line {
			l := typical
			l.Path = "/a;password=hunter2/fak_0123456789abcdefABCDEF/" + testJWT
			return l
		}(),
		"bearer in method": func() accesslog.Line { l := typical; l.Method = "Bearer " + opaque; return l }(),
		"jwt remote and proto": func() accesslog.Line {
			l := typical
			l.Remote, l.Proto = testJWT, "token="+opaque
			return l
		}(),
	}
	type maker func(inner slog.Handler) slog.Handler
	makers := []struct {
		name string
		mk   maker
		// fast: the inner handler's HandleAccess is used (not counted
		// below WithGroup and WithAttrs, whose inner handler is derived).
		fast, derived bool
	}{
		{"default", func(in slog.Handler) slog.Handler { return NewRedactingHandler(in) }, true, false},
		{"options without effect on the line", func(in slog.Handler) slog.Handler {
			return NewRedactingHandler(in, WithSensitiveKeys("session"), WithAllowedKeys("token_bucket"))
		}, true, false},
		{"path sensitive", func(in slog.Handler) slog.Handler { return NewRedactingHandler(in, WithSensitiveKeys("path")) }, false, false},
		{"request id sensitive", func(in slog.Handler) slog.Handler { return NewRedactingHandler(in, WithSensitiveKeys("requestid")) }, false, false},
		{"status sensitive", func(in slog.Handler) slog.Handler { return NewRedactingHandler(in, WithSensitiveKeys("status")) }, false, false},
		{"request fragment", func(in slog.Handler) slog.Handler { return NewRedactingHandler(in, WithSensitiveKeys("request")) }, false, false},
		{"sensitive group", func(in slog.Handler) slog.Handler { return NewRedactingHandler(in).WithGroup("credentials") }, false, true},
		{"harmless group", func(in slog.Handler) slog.Handler { return NewRedactingHandler(in).WithGroup("http") }, true, true},
		{"attributes", func(in slog.Handler) slog.Handler {
			return NewRedactingHandler(in).WithAttrs([]slog.Attr{slog.String("token", opaque), slog.String("svc", "api")})
		}, true, true},
	}
	inners := []struct {
		name string
		mk   func(*bytes.Buffer) slog.Handler
	}{
		{"slog", func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) }},
		{"jsonlog", func(b *bytes.Buffer) slog.Handler { return jsonlog.New(b, nil) }},
	}
	ctx := context.Background()
	for _, m := range makers {
		for _, in := range inners {
			for name, l := range lines {
				t.Run(m.name+"/"+in.name+"/"+name, func(t *testing.T) {
					var got, want bytes.Buffer
					var access, records int
					h := m.mk(countingHandler{Handler: in.mk(&got), access: &access, records: &records})
					if err := accesslog.Handle(ctx, h, l); err != nil {
						t.Fatal(err)
					}
					if err := m.mk(in.mk(&want)).Handle(ctx, l.Record()); err != nil {
						t.Fatal(err)
					}
					if got.String() != want.String() {
						t.Errorf("\nHandleAccess %s\nHandle       %s", got.String(), want.String())
					}
					for _, s := range secrets {
						if strings.Contains(got.String(), s) {
							t.Errorf("%q leaked: %s", s, got.String())
						}
					}
					if fast := access == 1 && records == 0; !m.derived && fast != m.fast {
						t.Errorf("inner HandleAccess used %d times, Handle %d times; want the fast path %v", access, records, m.fast)
					}
				})
			}
		}
	}
}

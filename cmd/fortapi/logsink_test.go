package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/accesslog"
)

// syncBuf is a bytes.Buffer safe for the sink's goroutine and the test.
type syncBuf struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLogSink(t *testing.T) {
	t.Run("flushes by itself", func(t *testing.T) {
		out := &syncBuf{}
		s := newLogSink(out, 10*time.Millisecond, 1<<10)
		defer s.Close()
		fmt.Fprintln(s, "one")
		deadline := time.Now().Add(5 * time.Second)
		for out.String() != "one\n" {
			if time.Now().After(deadline) {
				t.Fatalf("not flushed within 5s: %q", out.String())
			}
			time.Sleep(5 * time.Millisecond)
		}
	})
	t.Run("close writes the rest", func(t *testing.T) {
		out := &syncBuf{}
		s := newLogSink(out, time.Hour, 1<<10)
		fmt.Fprintln(s, "a")
		fmt.Fprintln(s, "b")
		if out.String() != "" {
			t.Fatalf("written before a flush: %q", out.String())
		}
		s.Close()
		s.Close()
		if out.String() != "a\nb\n" {
			t.Fatalf("after Close: %q", out.String())
		}
		fmt.Fprintln(s, "late")
		if out.String() != "a\nb\nlate\n" {
			t.Fatalf("a write after Close is held back: %q", out.String())
		}
	})
	t.Run("a full buffer is written in one go", func(t *testing.T) {
		out := &syncBuf{}
		s := newLogSink(out, time.Hour, 16)
		for i := range 10 {
			fmt.Fprintf(s, "line %d\n", i) // 7 bytes each: two fit
		}
		s.Close()
		var want strings.Builder
		for i := range 10 {
			fmt.Fprintf(&want, "line %d\n", i)
		}
		if out.String() != want.String() {
			t.Fatalf("got %q", out.String())
		}
		if out.writes > 6 {
			t.Errorf("%d writes for 10 lines with room for two per write", out.writes)
		}
	})
	t.Run("larger than the buffer passes through in order", func(t *testing.T) {
		out := &syncBuf{}
		s := newLogSink(out, time.Hour, 8)
		fmt.Fprint(s, "ab")
		fmt.Fprint(s, "0123456789")
		fmt.Fprint(s, "cd")
		s.Close()
		if out.String() != "ab0123456789cd" {
			t.Fatalf("got %q", out.String())
		}
	})
	t.Run("concurrent writers keep whole lines", func(t *testing.T) {
		out := &syncBuf{}
		s := newLogSink(out, time.Millisecond, 256)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					fmt.Fprintf(s, "g%d-%d\n", g, i)
				}
			}()
		}
		wg.Wait()
		s.Close()
		lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		if len(lines) != 1600 {
			t.Fatalf("%d lines, want 1600", len(lines))
		}
		next := make([]int, 8) // each writer's lines arrive in its order
		for _, l := range lines {
			var g, i int
			if n, err := fmt.Sscanf(l, "g%d-%d", &g, &i); n != 2 || err != nil || g < 0 || g >= 8 || fmt.Sprintf("g%d-%d", g, i) != l {
				t.Fatalf("torn line %q", l)
			}
			if i != next[g] {
				t.Fatalf("writer %d: line %d where %d was next", g, i, next[g])
			}
			next[g]++
		}
	})
	t.Run("a write error is reported, the rest still written", func(t *testing.T) {
		out := &failingWriter{failFirst: 1}
		s := newLogSink(out, time.Hour, 1<<10)
		fmt.Fprintln(s, "lost")
		s.Flush()
		fmt.Fprintln(s, "kept")
		err := s.Close()
		if err == nil || !errors.Is(err, errDiskFull) || !strings.Contains(err.Error(), "5 bytes lost") {
			t.Fatalf("Close: %v, want the write error and 5 bytes lost", err)
		}
		if out.String() != "kept\n" {
			t.Fatalf("written: %q", out.String())
		}
	})
	t.Run("a short write is an error", func(t *testing.T) {
		s := newLogSink(shortWriter{}, time.Hour, 1<<10)
		fmt.Fprintln(s, "abcdef")
		if err := s.Close(); !errors.Is(err, io.ErrShortWrite) || !strings.Contains(err.Error(), "4 bytes lost") {
			t.Fatalf("Close: %v", err)
		}
	})
	t.Run("close syncs a file", func(t *testing.T) {
		f, err := os.Create(filepath.Join(t.TempDir(), "log"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		sf := &syncCounter{File: f}
		s := newLogSink(sf, time.Hour, 1<<10)
		fmt.Fprintln(s, "line")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if sf.syncs != 1 {
			t.Fatalf("%d syncs, want 1", sf.syncs)
		}
		if b, _ := os.ReadFile(f.Name()); string(b) != "line\n" {
			t.Fatalf("file holds %q", b)
		}
	})
	t.Run("close on a pipe is not an error", func(t *testing.T) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		go io.Copy(io.Discard, r)
		s := newLogSink(w, time.Hour, 1<<10)
		fmt.Fprintln(s, "line")
		if err := s.Close(); err != nil {
			t.Fatalf("Close on a pipe: %v", err)
		}
	})
}

func TestFlushOnWarn(t *testing.T) {
	for _, tc := range []struct {
		level slog.Level
		now   bool // written before the (hour-long) interval
	}{
		{slog.LevelDebug, false},
		{slog.LevelInfo, false},
		{slog.LevelWarn, true},
		{slog.LevelError, true},
	} {
		t.Run(tc.level.String(), func(t *testing.T) {
			out := &syncBuf{}
			s := newLogSink(out, time.Hour, 1<<10)
			defer s.Close()
			log := newLogger(s, "json", slog.LevelDebug)
			log = slog.New(flushOnWarn{Handler: log.Handler(), sink: s})
			log.Info("before")
			log.With("k", "v").WithGroup("g").Log(context.Background(), tc.level, "this", "a", 1)
			got := out.String()
			if !tc.now {
				if got != "" {
					t.Fatalf("a %v record was written at once: %q", tc.level, got)
				}
				return
			}
			lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
			if len(lines) != 2 || !strings.Contains(lines[0], `"msg":"before"`) || !strings.Contains(lines[1], `"msg":"this","k":"v","g":{"a":1}`) {
				t.Fatalf("after a %v record: %q (want the info line, then it)", tc.level, got)
			}
		})
	}
}

var errDiskFull = errors.New("disk full")

// failingWriter fails its first failFirst writes.
type failingWriter struct {
	syncBuf
	failFirst int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	fail := f.failFirst > 0
	f.failFirst--
	f.mu.Unlock()
	if fail {
		return 0, errDiskFull
	}
	return f.syncBuf.Write(p)
}

// shortWriter writes 3 bytes of anything and reports no error.
type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return min(3, len(p)), nil }

type syncCounter struct {
	*os.File
	syncs int
}

func (s *syncCounter) Sync() error {
	s.syncs++
	return s.File.Sync()
}

// TestAccessLineThroughServeLogger: fortapi serve's logger (flushOnWarn
// over the redacting handler over jsonlog) writes an access line given to
// HandleAccess byte for byte as it writes the line's record, redacted
// (a JWT as request id, a password in the path), and holds it for the
// interval like any INFO line.
func TestAccessLineThroughServeLogger(t *testing.T) {
	const jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
	l := accesslog.Line{Time: time.Date(2026, 12, 6, 15, 0, 0, 5000, time.UTC), RequestID: jwt, Method: "GET",
		Path: "/x;password=hunter2", Status: 200, Bytes: 51, DurationMS: 1.5, Remote: "127.0.0.1:1", Proto: "HTTP/1.1"}
	var lines [2]string
	for i, write := range []func(slog.Handler) error{
		func(h slog.Handler) error { return accesslog.Handle(context.Background(), h, l) },
		func(h slog.Handler) error { return h.Handle(context.Background(), l.Record()) },
	} {
		out := &syncBuf{}
		s := newLogSink(out, time.Hour, 1<<10)
		h := flushOnWarn{Handler: newLogger(s, "json", slog.LevelInfo).Handler(), sink: s}
		if _, ok := slog.Handler(h).(accesslog.Handler); !ok {
			t.Fatal("flushOnWarn does not pass access lines on")
		}
		if err := write(h); err != nil {
			t.Fatal(err)
		}
		if out.String() != "" {
			t.Fatalf("an access line was written before the interval: %q", out.String())
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		lines[i] = out.String()
	}
	if lines[0] != lines[1] {
		t.Errorf("\nHandleAccess %s\nHandle       %s", lines[0], lines[1])
	}
	if strings.Contains(lines[0], jwt) || strings.Contains(lines[0], "hunter2") || !strings.Contains(lines[0], `"path":"/x;password=[REDACTED]"`) {
		t.Errorf("not redacted: %s", lines[0])
	}
}

package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
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
		for _, l := range lines {
			if !strings.HasPrefix(l, "g") || strings.Count(l, "-") != 1 {
				t.Fatalf("torn line %q", l)
			}
		}
	})
}

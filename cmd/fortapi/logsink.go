package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"github.com/fortapi/fortapi/internal/accesslog"
)

// logSink buffers what the server writes to stderr (its log, and the few
// lines it prints directly) and writes it out every interval, when the
// buffer fills, at once for a record at WARN or above (flushOnWarn), and
// at Close, which also syncs a file. Without it every access-log line is
// one write(2) to stderr, which measured as the largest single cost
// fortapi adds to a request over HTTPS. This is what nginx's access_log
// buffer=64k flush=50ms does. The price: a process killed with SIGKILL
// (or a machine that loses power) loses at most the last interval of
// info lines; warnings and errors are never held back. Every line is
// written, none sampled; everything goes through the one buffer, so the
// order of lines is kept, and the buffer is bounded (max bytes): a
// write that would overflow it writes the buffer out first.
type logSink struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
	max int

	closed bool  // guarded by mu: after Close, writes go straight through
	err    error // guarded by mu: the first write error
	lost   int64 // guarded by mu: bytes that could not be written

	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// Defaults of the log sink.
const (
	logFlushEvery = 50 * time.Millisecond
	logBufferMax  = 64 << 10
)

func newLogSink(w io.Writer, every time.Duration, max int) *logSink {
	s := &logSink{w: w, max: max, buf: make([]byte, 0, max), stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop(every)
	return s
}

func (s *logSink) loop(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Flush()
		}
	}
}

// Write buffers p. It does not fail: the server must not stop because
// stderr does; a failed write to the underlying writer is kept and
// reported by Close (and Err).
func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf)+len(p) > s.max {
		s.flushLocked()
	}
	if s.closed || len(p) > s.max {
		s.writeLocked(p)
		return len(p), nil
	}
	s.buf = append(s.buf, p...)
	return len(p), nil
}

// Flush writes out what is buffered.
func (s *logSink) Flush() {
	s.mu.Lock()
	s.flushLocked()
	s.mu.Unlock()
}

func (s *logSink) flushLocked() {
	if len(s.buf) > 0 {
		s.writeLocked(s.buf)
		s.buf = s.buf[:0]
	}
}

// writeLocked writes p to the underlying writer, noting the first error
// and the bytes lost.
func (s *logSink) writeLocked(p []byte) {
	n, err := s.w.Write(p)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		s.lost += int64(len(p) - max(0, min(n, len(p))))
		if s.err == nil {
			s.err = err
		}
	}
}

// Err is the first error writing to the underlying writer, with the
// number of bytes lost, or nil.
func (s *logSink) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		return nil
	}
	return fmt.Errorf("writing the log: %w (%d bytes lost)", s.err, s.lost)
}

// Close stops the flusher, writes out the rest and syncs the underlying
// writer when it is a file; later writes go straight to the underlying
// writer. It returns Err, or the sync's error. It is safe to call more
// than once.
func (s *logSink) Close() error {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
	})
	s.mu.Lock()
	s.flushLocked()
	s.closed = true
	s.mu.Unlock()
	if f, ok := s.w.(interface{ Sync() error }); ok {
		// A pipe or a terminal cannot be synced (EINVAL, ENOTSUP): there
		// is nothing to sync then.
		if err := f.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
			if e := s.Err(); e != nil {
				return e
			}
			return fmt.Errorf("syncing the log: %w", err)
		}
	}
	return s.Err()
}

// flushOnWarn is a slog.Handler that writes the sink out as soon as a
// record at WARN or above has been handled: a warning or an error is
// never held back for the flush interval.
type flushOnWarn struct {
	slog.Handler
	sink *logSink
}

func (h flushOnWarn) Handle(ctx context.Context, r slog.Record) error {
	err := h.Handler.Handle(ctx, r)
	if r.Level >= slog.LevelWarn {
		h.sink.Flush()
	}
	return err
}

// HandleAccess passes an access line (INFO) on as it is: the handler
// below writes it without an slog.Record when it can.
func (h flushOnWarn) HandleAccess(ctx context.Context, l accesslog.Line) error {
	return accesslog.Handle(ctx, h.Handler, l)
}

func (h flushOnWarn) WithAttrs(as []slog.Attr) slog.Handler {
	return flushOnWarn{Handler: h.Handler.WithAttrs(as), sink: h.sink}
}

func (h flushOnWarn) WithGroup(name string) slog.Handler {
	return flushOnWarn{Handler: h.Handler.WithGroup(name), sink: h.sink}
}

package main

import (
	"io"
	"sync"
	"time"
)

// logSink buffers what the server writes to stderr (its log, and the few
// lines it prints directly) and writes it out every interval, when the
// buffer fills, and at Close. Without it every access-log line is one
// write(2) to stderr, which measured as the largest single cost fortapi
// adds to a request over HTTPS. The price: a process killed with SIGKILL
// loses at most the last interval of log lines (security events are in
// the database's audit table as well). Everything goes through the one
// buffer, so the order of lines is kept.
type logSink struct {
	mu  sync.Mutex
	w   io.Writer
	buf []byte
	max int

	closed bool // guarded by mu: after Close, writes go straight through

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

// Write buffers p; it never fails (a failing stderr cannot be reported
// anywhere else, and the server must not stop for it).
func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.buf)+len(p) > s.max {
		s.flushLocked()
	}
	if s.closed || len(p) > s.max {
		_, _ = s.w.Write(p)
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
		_, _ = s.w.Write(s.buf)
		s.buf = s.buf[:0]
	}
}

// Close stops the flusher and writes out the rest; later writes go
// straight to the underlying writer. It is safe to call more than once.
func (s *logSink) Close() {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
	})
	s.mu.Lock()
	s.flushLocked()
	s.closed = true
	s.mu.Unlock()
}

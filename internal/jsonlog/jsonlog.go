// Package jsonlog is a slog.Handler that writes exactly what
// slog.NewJSONHandler writes, with less work per record for the records a
// server logs most: an access-log line of strings and numbers.
//
// A record handled by the handler New returns (not by one derived with
// WithAttrs or WithGroup) whose attributes are all strings, integers,
// finite floats, booleans or durations under non-empty keys is formatted
// here: keys and values escaped as slog escapes them, a float as
// encoding/json writes it (slog's JSON handler calls json.Marshal for
// each), in a buffer the handler keeps. Every other record, and every
// derived handler, goes to slog's own JSON handler, writing to the same
// writer under the same lock. The two are compared byte for byte by the
// tests.
package jsonlog

import (
	"context"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/fortapi/fortapi/internal/accesslog"
	"github.com/fortapi/fortapi/internal/jsonesc"
)

// Handler is the JSON handler. Create it with New.
type Handler struct {
	level slog.Leveler
	std   slog.Handler // slog's JSON handler on the same writer, under mu

	mu  *sync.Mutex // guards w, buf and clock
	w   io.Writer
	buf []byte
	// clock is the date and time to the second of the last record
	// written (appendTime): records come many to a second.
	clock clockCache
}

// clockCache holds "YYYY-MM-DDTHH:MM:SS" of second sec (Unix) at zone
// offset off.
type clockCache struct {
	ok   bool
	sec  int64
	off  int
	text [19]byte
}

// lockedWriter serializes slog's handler's writes with the fast path's.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// New returns a handler writing JSON lines to w for records at level or
// above (nil: INFO), as slog.NewJSONHandler(w, &slog.HandlerOptions{Level:
// level}) would. Each record is one call to w.Write.
func New(w io.Writer, level slog.Leveler) *Handler {
	if level == nil {
		level = slog.LevelInfo
	}
	mu := &sync.Mutex{}
	return &Handler{
		level: level,
		std:   slog.NewJSONHandler(lockedWriter{mu: mu, w: w}, &slog.HandlerOptions{Level: level}),
		mu:    mu,
		w:     w,
		buf:   make([]byte, 0, 1024),
	}
}

// Enabled reports whether l is at or above the handler's level.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level.Level() }

// WithAttrs returns slog's JSON handler with attrs.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler { return h.std.WithAttrs(attrs) }

// WithGroup returns slog's JSON handler with the group.
func (h *Handler) WithGroup(name string) slog.Handler { return h.std.WithGroup(name) }

// Handle writes r as one JSON line.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if !simple(r) {
		return h.std.Handle(ctx, r)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.buf[:0]
	b = append(b, '{')
	if !r.Time.IsZero() {
		b = append(b, `"time":"`...)
		b = h.clock.appendTime(b, r.Time)
		b = append(b, `",`...)
	}
	b = append(b, `"level":`...)
	b = appendString(b, r.Level.String())
	b = append(b, `,"msg":`...)
	b = appendString(b, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b = append(b, ',')
		b = appendString(b, a.Key)
		b = append(b, ':')
		b = appendValue(b, a.Value)
		return true
	})
	b = append(b, '}', '\n')
	if cap(b) <= 64<<10 {
		h.buf = b // keep the buffer unless one record made it huge
	}
	_, err := h.w.Write(b)
	return err
}

// The constant parts of an access line (accesslog.Line) as slog's JSON
// handler writes them: the keys need no escaping.
const (
	accessHead     = `"level":"INFO","msg":"` + accesslog.Message + `","` + accesslog.KeyRequestID + `":`
	accessMethod   = `,"` + accesslog.KeyMethod + `":`
	accessPath     = `,"` + accesslog.KeyPath + `":`
	accessStatus   = `,"` + accesslog.KeyStatus + `":`
	accessBytes    = `,"` + accesslog.KeyBytes + `":`
	accessDuration = `,"` + accesslog.KeyDurationMS + `":`
	accessRemote   = `,"` + accesslog.KeyRemote + `":`
	accessProto    = `,"` + accesslog.KeyProto + `":`
)

// HandleAccess writes l as Handle writes l.Record(), with the keys and
// the level written as constants and no record built.
func (h *Handler) HandleAccess(ctx context.Context, l accesslog.Line) error {
	if y := l.Time.Year(); !l.Time.IsZero() && (y < 0 || y >= 10000) ||
		math.IsInf(l.DurationMS, 0) || math.IsNaN(l.DurationMS) {
		return h.std.Handle(ctx, l.Record())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	b := append(h.buf[:0], '{')
	if !l.Time.IsZero() {
		b = append(b, `"time":"`...)
		b = h.clock.appendTime(b, l.Time)
		b = append(b, `",`...)
	}
	b = append(b, accessHead...)
	b = appendString(b, l.RequestID)
	b = append(b, accessMethod...)
	b = appendString(b, l.Method)
	b = append(b, accessPath...)
	b = appendString(b, l.Path)
	b = append(b, accessStatus...)
	b = strconv.AppendInt(b, int64(l.Status), 10)
	b = append(b, accessBytes...)
	b = strconv.AppendInt(b, l.Bytes, 10)
	b = append(b, accessDuration...)
	b = appendFloat(b, l.DurationMS)
	b = append(b, accessRemote...)
	b = appendString(b, l.Remote)
	b = append(b, accessProto...)
	b = appendString(b, l.Proto)
	b = append(b, '}', '\n')
	if cap(b) <= 64<<10 {
		h.buf = b
	}
	_, err := h.w.Write(b)
	return err
}

// simple reports whether every attribute of r is one the fast path
// formats exactly as slog does, and its time is within the years slog
// formats without an error.
func simple(r slog.Record) bool {
	if y := r.Time.Year(); !r.Time.IsZero() && (y < 0 || y >= 10000) {
		return false
	}
	ok := true
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "" {
			ok = false
			return false
		}
		switch a.Value.Kind() {
		case slog.KindString, slog.KindInt64, slog.KindUint64, slog.KindBool, slog.KindDuration:
		case slog.KindFloat64:
			f := a.Value.Float64()
			ok = !math.IsInf(f, 0) && !math.IsNaN(f)
		default:
			ok = false
		}
		return ok
	})
	return ok
}

func appendValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendString(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return strconv.AppendInt(b, int64(v.Duration()), 10)
	case slog.KindFloat64:
		return appendFloat(b, v.Float64())
	}
	panic("jsonlog: unexpected kind " + v.Kind().String()) // simple ruled it out
}

// appendFloat writes a finite f as encoding/json does: the shortest
// decimal that reads back as f, in exponent form (with at least one
// exponent digit, no leading zero) below 1e-6 and from 1e21.
func appendFloat(b []byte, f float64) []byte {
	// A count of microseconds in milliseconds (the access line's
	// duration_ms): f is float64(us)/1000 for an integer us of at most 15
	// digits, whose shortest decimal is us/1000 written out (no two
	// decimals of at most 15 significant digits are the same float64).
	if us := math.Round(f * 1000); f != 0 && math.Abs(us) < 1e15 && us/1000 == f {
		return appendMillis(b, int64(us))
	}
	format := byte('f')
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		format = 'e'
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// strconv writes e-07; JSON numbers from encoding/json read e-7.
		if n := len(b); n-start >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendMillis writes us/1000 in decimal, without trailing zeros.
func appendMillis(b []byte, us int64) []byte {
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1000, 10)
	if frac := us % 1000; frac != 0 {
		d := [4]byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
		n := 4
		for d[n-1] == '0' {
			n--
		}
		b = append(b, d[:n]...)
	}
	return b
}

// appendString writes s as a JSON string the way slog's JSON handler
// does (jsonesc.Slog).
func appendString(b []byte, s string) []byte {
	return jsonesc.AppendString(b, s, jsonesc.Slog)
}

// appendTime writes t as t.AppendFormat(b, time.RFC3339Nano) does (years
// 0 to 9999: simple checked), without interpreting the layout: the
// fraction without trailing zeros (none for a whole second), Z for UTC.
// A zone offset with seconds goes to AppendFormat. The date and time to
// the second are c's when t is in c's second and zone offset; else they
// are computed and kept in c.
func (c *clockCache) appendTime(b []byte, t time.Time) []byte {
	_, off := t.Zone()
	if off%60 != 0 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	if sec := t.Unix(); !c.ok || sec != c.sec || off != c.off {
		y, mo, d := t.Date()
		hh, mm, ss := t.Clock()
		c.text = [19]byte{byte('0' + y/1000), byte('0' + y/100%10), byte('0' + y/10%10), byte('0' + y%10), '-',
			byte('0' + int(mo)/10), byte('0' + int(mo)%10), '-', byte('0' + d/10), byte('0' + d%10), 'T',
			byte('0' + hh/10), byte('0' + hh%10), ':', byte('0' + mm/10), byte('0' + mm%10), ':', byte('0' + ss/10), byte('0' + ss%10)}
		c.ok, c.sec, c.off = true, sec, off
	}
	b = append(b, c.text[:]...)
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	if off == 0 {
		return append(b, 'Z')
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	oh, om := off/3600, off/60%60
	return append(b, sign, byte('0'+oh/10), byte('0'+oh%10), ':', byte('0'+om/10), byte('0'+om%10))
}

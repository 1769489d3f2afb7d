package jsonlog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/accesslog"
)

// both handles r with New and with slog's JSON handler and returns the
// two outputs.
func both(t *testing.T, level slog.Level, r slog.Record) (got, want string) {
	t.Helper()
	var g, w bytes.Buffer
	ctx := context.Background()
	if err := New(&g, level).Handle(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := slog.NewJSONHandler(&w, &slog.HandlerOptions{Level: level}).Handle(ctx, r); err != nil {
		t.Fatal(err)
	}
	return g.String(), w.String()
}

func record(tm time.Time, l slog.Level, msg string, attrs ...slog.Attr) slog.Record {
	r := slog.NewRecord(tm, l, msg, 0)
	r.AddAttrs(attrs...)
	return r
}

var when = time.Date(2026, 12, 6, 13, 14, 15, 123456789, time.UTC)

func TestSameBytesAsSlog(t *testing.T) {
	ist := time.FixedZone("IST", 5*3600+1800)
	cases := []struct {
		name string
		r    slog.Record
	}{
		{"access line", record(when, slog.LevelInfo, "request",
			slog.String("request_id", "0123456789abcdef0123456789abcdef"), slog.String("method", "GET"),
			slog.String("path", "/protected"), slog.Int("status", 200), slog.Int64("bytes", 51),
			slog.Float64("duration_ms", 0.123), slog.String("remote", "127.0.0.1:5555"), slog.String("proto", "HTTP/1.1"))},
		{"no time", record(time.Time{}, slog.LevelWarn, "w")},
		{"zone", record(when.In(ist), slog.LevelError, "e")},
		{"whole second", record(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), slog.LevelInfo, "m")},
		{"custom levels", record(when, slog.LevelInfo+2, "m", slog.Bool("b", true), slog.Bool("f", false))},
		{"debug-3", record(when, slog.LevelDebug-3, "m")},
		{"escapes", record(when, slog.LevelInfo, "a\"b\\c\nd\re\tf\x00g\x1fh\x7fi<>&\u2028\u2029é😀\xff\xfez",
			slog.String("k\"ey\n", "v\\al\u2028"), slog.String("html", "<script>&amp;</script>"))},
		{"numbers", record(when, slog.LevelInfo, "n",
			slog.Int64("min", math.MinInt64), slog.Uint64("max", math.MaxUint64), slog.Duration("d", 1500*time.Millisecond),
			slog.Float64("z", 0), slog.Float64("negz", math.Copysign(0, -1)), slog.Float64("tiny", 1e-7),
			slog.Float64("edge", 1e-6), slog.Float64("big", 1e21), slog.Float64("below", 999999999999999999999.0),
			slog.Float64("neg", -1.5e-300), slog.Float64("sub", 5e-324), slog.Float64("max", math.MaxFloat64),
			slog.Float64("third", 1.0/3), slog.Float64("e100", 1e100), slog.Float64("int", 42))},
		// Records the fast path leaves to slog: the same bytes by construction.
		{"any", record(when, slog.LevelInfo, "m", slog.Any("x", map[string]int{"a": 1}), slog.Any("err", errors.New("boom")))},
		{"group", record(when, slog.LevelInfo, "m", slog.Group("g", slog.String("a", "b")), slog.Group("", slog.Int("inline", 1)))},
		{"time attr", record(when, slog.LevelInfo, "m", slog.Time("t", when))},
		{"empty key", record(when, slog.LevelInfo, "m", slog.String("", "v"), slog.Attr{})},
		{"nan", record(when, slog.LevelInfo, "m", slog.Float64("nan", math.NaN()), slog.Float64("inf", math.Inf(1)))},
		{"year 10000", record(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), slog.LevelInfo, "m")},
		{"logvaluer", record(when, slog.LevelInfo, "m", slog.Any("lv", valuer{}))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, want := both(t, slog.LevelDebug-10, tc.r)
			if got != want {
				t.Errorf("\ngot  %s\nwant %s", got, want)
			}
		})
	}
}

type valuer struct{}

func (valuer) LogValue() slog.Value { return slog.StringValue("resolved") }

// gen makes random strings (bytes of every value, runes of every size,
// invalid UTF-8), floats and times (years 0 to 9999, in several zones).
type gen struct{ rng *rand.Rand }

func (g gen) str() string {
	pieces := []string{"a", "Z", "0", " ", "\"", "\\", "\n", "\r", "\t", "\x00", "\x01", "\x1f", "\x7f", "<", ">", "&",
		"é", "€", "😀", "\u2028", "\u2029", "\xff", "\xc3", "\xe2\x80", "\xf0\x9f\x98", "\ufffd"}
	var b strings.Builder
	for range g.rng.IntN(12) {
		if g.rng.IntN(4) == 0 {
			b.WriteByte(byte(g.rng.IntN(256)))
		} else {
			b.WriteString(pieces[g.rng.IntN(len(pieces))])
		}
	}
	return b.String()
}

func (g gen) float() float64 {
	switch g.rng.IntN(4) {
	case 0:
		return math.Float64frombits(g.rng.Uint64()) // any bit pattern (NaN and Inf go to slog)
	case 1:
		return float64(g.rng.IntN(1_000_000)) / 1000 // a duration in ms
	case 2:
		return g.rng.NormFloat64() * math.Pow(10, float64(g.rng.IntN(60)-30))
	}
	return float64(g.rng.Int64()) * 1e6
}

func (g gen) time() time.Time {
	zones := []*time.Location{time.UTC, time.Local, time.FixedZone("", -(9*3600 + 30*60)), time.FixedZone("", 14*3600),
		time.FixedZone("", 5*3600+45*60+30), time.FixedZone("", -1)}
	if ny, err := time.LoadLocation("America/New_York"); err == nil {
		zones = append(zones, ny)
	}
	tm := time.Unix(g.rng.Int64N(253402300800)-62135596800+g.rng.Int64N(62135596800), g.rng.Int64N(1e9)) // years 0 to 9999
	switch g.rng.IntN(3) {
	case 0:
		tm = tm.Truncate(time.Second) // no fraction
	case 1:
		tm = tm.Truncate(time.Millisecond) // trailing zeros
	}
	return tm.In(zones[g.rng.IntN(len(zones))])
}

// TestRandomRecords compares the two handlers on random strings, floats
// and times (gen).
func TestRandomRecords(t *testing.T) {
	g := gen{rand.New(rand.NewPCG(1, 2))}
	for i := range 20000 {
		attrs := []slog.Attr{slog.String(g.str()+"k", g.str()), slog.Float64("f", g.float()), slog.Int64("i", g.rng.Int64()-g.rng.Int64())}
		r := record(g.time(), slog.Level(g.rng.IntN(20)-8), g.str(), attrs...)
		got, want := both(t, slog.LevelDebug-10, r)
		if got != want {
			t.Fatalf("record %d:\ngot  %q\nwant %q", i, got, want)
		}
	}
}

// access handles l with New's HandleAccess and its Record with slog's
// JSON handler, and returns the two outputs.
func access(t *testing.T, l accesslog.Line) (got, want string) {
	t.Helper()
	var g, w bytes.Buffer
	ctx := context.Background()
	if err := accesslog.Handle(ctx, New(&g, slog.LevelInfo), l); err != nil {
		t.Fatal(err)
	}
	if err := slog.NewJSONHandler(&w, nil).Handle(ctx, l.Record()); err != nil {
		t.Fatal(err)
	}
	return g.String(), w.String()
}

var line = accesslog.Line{Time: when, RequestID: "0123456789abcdef0123456789abcdef", Method: "GET", Path: "/protected",
	Status: 200, Bytes: 51, DurationMS: 0.123, Remote: "127.0.0.1:5555", Proto: "HTTP/1.1"}

// TestAccessLine: HandleAccess writes what slog's JSON handler writes for
// the line's record, on fixed lines (including the ones it leaves to slog)
// and on 20,000 random ones.
func TestAccessLine(t *testing.T) {
	if _, ok := slog.Handler(New(io.Discard, nil)).(accesslog.Handler); !ok {
		t.Fatal("the handler does not implement accesslog.Handler")
	}
	with := func(f func(*accesslog.Line)) accesslog.Line {
		l := line
		f(&l)
		return l
	}
	for _, tc := range []struct {
		name string
		l    accesslog.Line
	}{
		{"typical", line},
		{"zero", accesslog.Line{}},
		{"no time", with(func(l *accesslog.Line) { l.Time = time.Time{} })},
		{"zone", with(func(l *accesslog.Line) { l.Time = when.In(time.FixedZone("", -(3*3600 + 30*60))) })},
		{"zone with seconds", with(func(l *accesslog.Line) { l.Time = when.In(time.FixedZone("", 5*3600+45*60+30)) })},
		{"escapes", with(func(l *accesslog.Line) {
			l.RequestID, l.Method, l.Path, l.Remote, l.Proto = "a\"b", "G\nET", "/p\u2028\xff<&>\\", "\x00", "\t"
		})},
		{"numbers", with(func(l *accesslog.Line) { l.Status, l.Bytes, l.DurationMS = -1, math.MinInt64, 1e-7 })},
		{"big duration", with(func(l *accesslog.Line) { l.DurationMS = 1e21 })},
		{"nan", with(func(l *accesslog.Line) { l.DurationMS = math.NaN() })},
		{"inf", with(func(l *accesslog.Line) { l.DurationMS = math.Inf(-1) })},
		{"year 10000", with(func(l *accesslog.Line) { l.Time = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) })},
		{"year -1", with(func(l *accesslog.Line) { l.Time = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := access(t, tc.l); got != want {
				t.Errorf("\ngot  %s\nwant %s", got, want)
			}
		})
	}
	g := gen{rand.New(rand.NewPCG(3, 4))}
	for i := range 20000 {
		l := accesslog.Line{Time: g.time(), RequestID: g.str(), Method: g.str(), Path: g.str(), Status: int(g.rng.Int64() - g.rng.Int64()),
			Bytes: g.rng.Int64(), DurationMS: g.float(), Remote: g.str(), Proto: g.str()}
		if got, want := access(t, l); got != want {
			t.Fatalf("line %d:\ngot  %q\nwant %q", i, got, want)
		}
	}
}

func TestLevelAndDerived(t *testing.T) {
	var g, w bytes.Buffer
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelWarn)
	fast := slog.New(New(&g, lv))
	std := slog.New(slog.NewJSONHandler(&w, &slog.HandlerOptions{Level: lv}))
	for _, l := range []*slog.Logger{fast, std} {
		l.Info("dropped")
		l.Warn("kept", "a", 1)
		l.With("x", "y").WithGroup("g").Error("derived", "b", 2.5)
	}
	lv.Set(slog.LevelDebug)
	for _, l := range []*slog.Logger{fast, std} {
		l.Debug("now kept")
	}
	// The times differ: compare without them.
	strip := func(s string) string {
		var out []string
		for _, line := range strings.Split(s, "\n") {
			if i := strings.Index(line, `"level"`); i >= 0 {
				line = line[i:]
			}
			out = append(out, line)
		}
		return strings.Join(out, "\n")
	}
	if strip(g.String()) != strip(w.String()) || strings.Count(g.String(), "\n") != 3 {
		t.Errorf("\ngot  %s\nwant %s", g.String(), w.String())
	}
}

// syncBuf counts writes and fails the test on a torn line.
type syncBuf struct {
	mu     sync.Mutex
	b      bytes.Buffer
	active int
	torn   bool
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.active++
	if s.active > 1 || len(p) == 0 || p[len(p)-1] != '\n' || bytes.Count(p, []byte("\n")) != 1 {
		s.torn = true
	}
	s.mu.Unlock()
	defer func() { s.mu.Lock(); s.active--; s.mu.Unlock() }()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// TestConcurrent: the fast path and slog's (derived handlers) from many
// goroutines, one whole line per Write, every line there (run with -race).
func TestConcurrent(t *testing.T) {
	out := &syncBuf{}
	h := New(out, slog.LevelInfo)
	log := slog.New(h)
	derived := log.With("d", true)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				if i%3 == 0 {
					derived.Info("derived", "g", g, "i", i)
				} else {
					log.Info("fast", "g", g, "i", i, "s", strings.Repeat("x", i))
				}
			}
		}()
	}
	wg.Wait()
	if out.torn {
		t.Fatal("a line was torn or two writes overlapped")
	}
	if n := strings.Count(out.b.String(), "\n"); n != 8*300 {
		t.Fatalf("%d lines, want %d", n, 8*300)
	}
}

func BenchmarkAccessLine(b *testing.B) {
	r := record(when, slog.LevelInfo, "request",
		slog.String("request_id", "0123456789abcdef0123456789abcdef"), slog.String("method", "GET"),
		slog.String("path", "/protected"), slog.Int("status", 200), slog.Int64("bytes", 51),
		slog.Float64("duration_ms", 0.123), slog.String("remote", "127.0.0.1:5555"), slog.String("proto", "HTTP/1.1"))
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"jsonlog", New(discard{}, slog.LevelInfo)},
		{"slog", slog.NewJSONHandler(discard{}, nil)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = bc.h.Handle(context.Background(), r)
			}
		})
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestClockCache: one handler writing many records keeps the date and
// time of the last second: records in the same second, in another zone
// the same second, the next second, an earlier one, across midnight and
// the year, each written as slog writes them.
func TestClockCache(t *testing.T) {
	var out bytes.Buffer
	h := New(&out, slog.LevelDebug)
	g := gen{rand.New(rand.NewPCG(9, 10))}
	base := []time.Time{time.Date(2026, 12, 31, 23, 59, 58, 0, time.UTC), time.Date(2026, 3, 29, 0, 59, 59, 999999999, time.UTC)}
	zones := []*time.Location{time.UTC, time.FixedZone("", 3600), time.FixedZone("", -(9*3600 + 30*60)), time.FixedZone("", 5*3600+45*60+30)}
	if l, err := time.LoadLocation("Europe/Paris"); err == nil {
		zones = append(zones, l)
	}
	for i := range 20000 {
		tm := base[g.rng.IntN(len(base))].Add(time.Duration(g.rng.Int64N(int64(3*time.Second))) - time.Second)
		if g.rng.IntN(3) == 0 {
			tm = tm.Truncate(time.Second)
		}
		tm = tm.In(zones[g.rng.IntN(len(zones))])
		out.Reset()
		var want bytes.Buffer
		r := record(tm, slog.LevelInfo, "m", slog.Int("i", i))
		if err := h.Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if err := slog.NewJSONHandler(&want, &slog.HandlerOptions{Level: slog.LevelDebug}).Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		if out.String() != want.String() {
			t.Fatalf("record %d at %v:\ngot  %s\nwant %s", i, tm, out.String(), want.String())
		}
	}
}

// TestMillis: a duration in milliseconds made of whole microseconds (the
// access line's duration_ms) is written as encoding/json writes the
// float: zero, negative zero, each power of ten, the largest counts of up
// to 15 digits and past them, and 200,000 random counts of every size.
func TestMillis(t *testing.T) {
	us := []int64{0, 1, -1, 5, 10, 100, 999, 1000, 1001, 1010, 1100, 123456, 999999999999999, -999999999999999,
		1000000000000000, 1000000000000001, 9007199254740993, math.MaxInt64, math.MinInt64 + 1}
	for p := int64(1); p <= 1e18; p *= 10 {
		us = append(us, p, p-1, p+1, -p)
	}
	rng := rand.New(rand.NewPCG(11, 12))
	for range 200000 {
		us = append(us, rng.Int64N(int64(math.Pow(10, float64(1+rng.IntN(17)))))*int64(1-2*rng.IntN(2)))
	}
	floats := []float64{math.Copysign(0, -1)}
	for _, u := range us {
		floats = append(floats, float64(u)/1000)
	}
	for _, f := range floats {
		want, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		if got := appendFloat(nil, f); string(got) != string(want) {
			t.Fatalf("%v (%b): got %s, encoding/json %s", f, f, got, want)
		}
	}
}

package ratelimit

import (
	"strings"
	"testing"
	"time"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Spec
		str  string // String(), when it differs from in
	}{
		{"5/minute", Spec{5, time.Minute, 0}, ""},
		{"100/second", Spec{100, time.Second, 0}, ""},
		{"1000/hour", Spec{1000, time.Hour, 0}, ""},
		{"10/day", Spec{10, 24 * time.Hour, 0}, ""},
		{"100/minute burst 20", Spec{100, time.Minute, 20}, ""},
		{"100/minute burst 500", Spec{100, time.Minute, 500}, ""},
		{"5/minutes", Spec{5, time.Minute, 0}, "5/minute"},
		{"5/Minute", Spec{5, time.Minute, 0}, "5/minute"},
		{"  5/MINUTE  BURST  2 ", Spec{5, time.Minute, 2}, "5/minute burst 2"},
		{"5/30s", Spec{5, 30 * time.Second, 0}, "5/30s"},
		{"5/90m", Spec{5, 90 * time.Minute, 0}, "5/1h30m0s"},
		{"5/60s", Spec{5, time.Minute, 0}, "5/minute"},
		{"1/366days", Spec{}, ""}, // not a unit: see the error table
		{"1000000/second", Spec{1_000_000, time.Second, 0}, ""},
		{"1000000000/day", Spec{1_000_000_000, 24 * time.Hour, 0}, ""},
		{"1/day burst 366", Spec{1, 24 * time.Hour, 366}, ""},
	} {
		if tc.want == (Spec{}) {
			continue
		}
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSpec(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			str := tc.str
			if str == "" {
				str = tc.in
			}
			if got.String() != str {
				t.Fatalf("String() = %q, want %q", got.String(), str)
			}
			back, err := ParseSpec(got.String())
			if err != nil || back != got {
				t.Fatalf("round trip: %+v, %v", back, err)
			}
		})
	}
}

func TestParseSpecErrors(t *testing.T) {
	for _, tc := range []struct{ in, why string }{
		{"", "empty"},
		{"   ", "empty"},
		{"5", `missing "/"`},
		{"5/", `unknown unit ""`},
		{"/minute", "missing count"},
		{"0/minute", "count must be at least 1"},
		{"-5/minute", `count "-5" is not a positive integer`},
		{"+5/minute", `count "+5" is not a positive integer`},
		{"5.5/minute", `count "5.5" is not a positive integer`},
		{"1e3/second", `count "1e3" is not a positive integer`},
		{"5/fortnight", `unknown unit "fortnight"`},
		{"5/s", `unknown unit "s"`},
		{"5/minute/hour", `unknown unit "minute/hour"`},
		{"99999999999999999999/second", `count "99999999999999999999" exceeds 1000000000`},
		{"1000000001/day", `count "1000000001" exceeds 1000000000`},
		{"2000000/second", "exceeds 1000000 per second"},
		{"5/minute burst", "want COUNT/UNIT"},
		{"5/minute burst 0", "burst must be at least 1"},
		{"5/minute burst -1", `burst "-1" is not a positive integer`},
		{"5/minute burst 99999999999", `burst "99999999999" exceeds`},
		{"5/minute bursts 3", "want COUNT/UNIT"},
		{"5/minute burst 3 x", "want COUNT/UNIT"},
		{"5 / minute", "want COUNT/UNIT"},
		{"5/500ms", "at least one second"},
		{"5/1.5s", "not a whole number of seconds"},
		{"5/0s", "at least one second"},
		{"5/-1s", `unknown unit "-1s"`},
		{"1/8809h", "exceeds 8784h0m0s"},
		{"1/day burst 367", "would take longer than 8784h0m0s to refill"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := ParseSpec(tc.in)
			if err == nil {
				t.Fatal("no error")
			}
			prefix := `ratelimit: bad spec "` + tc.in + `": `
			if !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("error %q, want prefix %q and %q", err, prefix, tc.why)
			}
		})
	}
	_, err := ParseSpec("5/fortnight")
	if want := `ratelimit: bad spec "5/fortnight": unknown unit "fortnight"`; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("got %q", err)
	}
}

func TestSpecValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    Spec
		ok   bool
	}{
		{"zero", Spec{}, false},
		{"ok", Spec{5, time.Minute, 0}, true},
		{"sub-second period", Spec{5, 1500 * time.Millisecond, 0}, false},
		{"negative burst", Spec{5, time.Minute, -1}, false},
		{"negative count", Spec{-5, time.Minute, 0}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.s.Validate(); (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v", err)
			}
		})
	}
}

func TestSpecInterval(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want time.Duration
	}{
		{"5/minute", 12 * time.Second},
		{"3/second", 333334 * time.Microsecond},
		{"1000000/second", time.Microsecond},
		{"999999/second", 2 * time.Microsecond},
		{"1/day", 24 * time.Hour},
	} {
		t.Run(tc.s, func(t *testing.T) {
			if got := MustParseSpec(tc.s).Interval(); got != tc.want {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSpecScale(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string // "" means an error
	}{
		{"5/minute", 1, "5/minute"},
		{"5/minute", 10, "50/minute"},
		{"100/minute burst 20", 3, "300/minute burst 60"},
		{"5/minute", 0, ""},
		{"5/minute", -1, ""},
		{"1000000000/day", 2, ""},
		{"1000/second", 10000, ""}, // 10^7 per second
		{"500000000/day", 1 << 62, ""},
	} {
		t.Run(tc.s, func(t *testing.T) {
			got, err := MustParseSpec(tc.s).Scale(tc.n)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("got %v, want an error", got)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("got %v, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestMustParseSpecPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	MustParseSpec("nope")
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"5/minute", "100/minute burst 20", "5/fortnight", "1/90m", "0/s", "5/1h burst 9999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseSpec(text)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "ratelimit: bad spec ") {
				t.Fatalf("error without the quoted text: %v", err)
			}
			return
		}
		if err := s.Validate(); err != nil {
			t.Fatalf("accepted %q but Validate says %v", text, err)
		}
		back, err := ParseSpec(s.String())
		if err != nil || back != s {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", text, s, s.String(), back, err)
		}
		if _, err := newGCRA(s, s.MaxBurst()); err != nil {
			t.Fatal(err)
		}
	})
}

package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits on specs. Anything outside them is refused with an error, at
// start-up, rather than silently clamped.
const (
	// MaxCount is the largest Count and Burst.
	MaxCount = 1_000_000_000
	// MaxPeriod is the longest Period, and the longest a key may take to
	// refill its burst (Burst × Period/Count).
	MaxPeriod = 366 * 24 * time.Hour
	// MinInterval is the shortest emission interval (Period/Count): at
	// most 10^6 requests per second per key.
	MinInterval = time.Microsecond
)

// Spec is a rate: Count requests per Period, with bursts of up to Burst
// requests at once. Requests are spread evenly (one every Period/Count);
// a key that has been idle may send Burst of them back to back.
//
// The text form, parsed by ParseSpec and written by String, is
// "COUNT/UNIT" or "COUNT/UNIT burst N": "5/minute", "100/second",
// "1000/hour", "10/day", "100/minute burst 20". UNIT is second, minute,
// hour or day (plurals and any letter case accepted), or a Go duration
// of whole seconds ("30s", "90m").
type Spec struct {
	Count  int           // requests per Period, 1..MaxCount
	Period time.Duration // whole seconds, 1s..MaxPeriod
	Burst  int           // 0 means Count; else 1..MaxCount
}

var units = []struct {
	name string
	d    time.Duration
}{
	{"second", time.Second},
	{"minute", time.Minute},
	{"hour", time.Hour},
	{"day", 24 * time.Hour},
}

// ParseSpec parses the text form of a Spec (see Spec). Errors quote the
// whole text and name what is wrong with it, e.g.
// `ratelimit: bad spec "5/fortnight": unknown unit "fortnight"`.
func ParseSpec(text string) (Spec, error) {
	bad := func(format string, args ...any) (Spec, error) {
		return Spec{}, fmt.Errorf("ratelimit: bad spec %q: %s", text, fmt.Sprintf(format, args...))
	}
	f := strings.Fields(text)
	var burstText string
	switch {
	case len(f) == 0:
		return bad("empty")
	case len(f) == 3 && strings.EqualFold(f[1], "burst"):
		burstText = f[2]
	case len(f) != 1:
		return bad("want COUNT/UNIT or COUNT/UNIT burst N")
	}
	countText, unitText, ok := strings.Cut(f[0], "/")
	if !ok {
		return bad("missing \"/\" between count and unit")
	}
	var s Spec
	var err error
	if s.Count, err = parseCount("count", countText); err != nil {
		return bad("%v", err)
	}
	if s.Period, ok = parseUnit(unitText); !ok {
		return bad("unknown unit %q (want second, minute, hour, day or a duration such as 30s)", unitText)
	}
	if burstText != "" {
		if s.Burst, err = parseCount("burst", burstText); err != nil {
			return bad("%v", err)
		}
	}
	if err := s.check(); err != nil {
		return bad("%v", err)
	}
	return s, nil
}

// MustParseSpec is ParseSpec for specs written in code; it panics on error.
func MustParseSpec(text string) Spec {
	s, err := ParseSpec(text)
	if err != nil {
		panic(err)
	}
	return s
}

func parseCount(what, t string) (int, error) {
	if t == "" {
		return 0, fmt.Errorf("missing %s", what)
	}
	for i := 0; i < len(t); i++ {
		if t[i] < '0' || t[i] > '9' {
			return 0, fmt.Errorf("%s %q is not a positive integer", what, t)
		}
	}
	if len(t) > 10 {
		return 0, fmt.Errorf("%s %q exceeds %d", what, t, MaxCount)
	}
	n, _ := strconv.Atoi(t) // digits only, at most 10: cannot fail
	if n < 1 {
		return 0, fmt.Errorf("%s must be at least 1", what)
	}
	if n > MaxCount {
		return 0, fmt.Errorf("%s %q exceeds %d", what, t, MaxCount)
	}
	return n, nil
}

func parseUnit(t string) (time.Duration, bool) {
	l := strings.ToLower(t)
	for _, u := range units {
		if l == u.name || l == u.name+"s" {
			return u.d, true
		}
	}
	if l == "" || l[0] < '0' || l[0] > '9' {
		return 0, false
	}
	d, err := time.ParseDuration(l)
	return d, err == nil
}

// check returns why s is not a usable spec, or nil.
func (s Spec) check() error {
	switch {
	case s.Count < 1:
		return errors.New("count must be at least 1")
	case s.Count > MaxCount:
		return fmt.Errorf("count %d exceeds %d", s.Count, MaxCount)
	case s.Period < time.Second:
		return errors.New("period must be at least one second")
	case s.Period%time.Second != 0:
		return fmt.Errorf("period %v is not a whole number of seconds", s.Period)
	case s.Period > MaxPeriod:
		return fmt.Errorf("period %v exceeds %v", s.Period, MaxPeriod)
	case s.Burst < 0:
		return errors.New("burst must not be negative")
	case s.Burst > MaxCount:
		return fmt.Errorf("burst %d exceeds %d", s.Burst, MaxCount)
	case s.Period/time.Duration(s.Count) < MinInterval:
		return fmt.Errorf("rate %d per %v exceeds %d per second", s.Count, s.Period, time.Second/MinInterval)
	}
	if iv := s.Interval(); time.Duration(s.MaxBurst()) > MaxPeriod/iv {
		return fmt.Errorf("burst %d would take longer than %v to refill at one request every %v", s.MaxBurst(), MaxPeriod, iv)
	}
	return nil
}

// Validate reports whether s is within the limits above.
func (s Spec) Validate() error {
	if err := s.check(); err != nil {
		return fmt.Errorf("ratelimit: invalid spec %s: %w", s.debug(), err)
	}
	return nil
}

func (s Spec) debug() string {
	return fmt.Sprintf("{Count:%d Period:%v Burst:%d}", s.Count, s.Period, s.Burst)
}

// MaxBurst is the effective burst: Burst, or Count when Burst is 0.
func (s Spec) MaxBurst() int {
	if s.Burst == 0 {
		return s.Count
	}
	return s.Burst
}

// Interval is the emission interval, Period/Count, rounded up to a whole
// microsecond (the resolution of Redis's clock; rounding up means the
// limit is never looser than declared).
func (s Spec) Interval() time.Duration {
	if s.Count < 1 {
		return 0
	}
	iv := (s.Period + time.Duration(s.Count) - 1) / time.Duration(s.Count)
	return (iv + time.Microsecond - 1) / time.Microsecond * time.Microsecond
}

// String returns the text form of s, which ParseSpec turns back into s.
func (s Spec) String() string {
	unit := ""
	for _, u := range units {
		if s.Period == u.d {
			unit = u.name
		}
	}
	if unit == "" {
		unit = s.Period.String()
	}
	out := strconv.Itoa(s.Count) + "/" + unit
	if s.Burst != 0 {
		out += " burst " + strconv.Itoa(s.Burst)
	}
	return out
}

// Scale multiplies Count and Burst by n, as a --rate-scale flag does for
// load tests (the period stays, so the rate grows n times). It fails when
// n < 1 or the result leaves the limits above.
func (s Spec) Scale(n int) (Spec, error) {
	if n < 1 {
		return Spec{}, fmt.Errorf("ratelimit: scaling %s: factor %d is less than 1", s, n)
	}
	if s.Count > MaxCount/n || s.Burst > MaxCount/n {
		return Spec{}, fmt.Errorf("ratelimit: scaling %s by %d: count or burst exceeds %d", s, n, MaxCount)
	}
	out := Spec{Count: s.Count * n, Period: s.Period, Burst: s.Burst * n}
	if err := out.check(); err != nil {
		return Spec{}, fmt.Errorf("ratelimit: scaling %s by %d: %w", s, n, err)
	}
	return out, nil
}

// divide splits s among n instances (the local fallback of one of n
// servers): Count and Burst divided by n, rounded down, at least 1.
func (s Spec) divide(n int) Spec {
	if n <= 1 {
		return s
	}
	out := Spec{Count: max(1, s.Count/n), Period: s.Period}
	if s.Burst != 0 {
		out.Burst = max(1, s.Burst/n)
	}
	return out
}

package authn

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestThrottleDelays(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := newThrottle(ThrottleOptions{})
	tests := []struct {
		failures int
		want     time.Duration
	}{
		{1, 0}, {5, 0}, {6, time.Second}, {7, 2 * time.Second}, {8, 4 * time.Second},
		{11, 32 * time.Second}, {12, time.Minute}, {30, time.Minute},
	}
	done := 0
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.failures, " failures"), func(t *testing.T) {
			for ; done < tt.failures; done++ {
				th.fail("alice", t0)
			}
			if got := th.wait("alice", t0); got != tt.want {
				t.Errorf("wait = %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("the delay ends", func(t *testing.T) {
		if got := th.wait("alice", t0.Add(time.Minute)); got != 0 {
			t.Errorf("wait after the delay = %v", got)
		}
	})
	t.Run("other accounts are not affected", func(t *testing.T) {
		if got := th.wait("bob", t0); got != 0 {
			t.Errorf("wait = %v", got)
		}
	})
	t.Run("success clears", func(t *testing.T) {
		th.succeed("alice")
		th.fail("alice", t0)
		if got := th.wait("alice", t0); got != 0 {
			t.Errorf("wait = %v", got)
		}
	})
	t.Run("forgotten after quiet", func(t *testing.T) {
		for range 10 {
			th.fail("carol", t0)
		}
		later := t0.Add(DefaultForgetAfter)
		if got := th.wait("carol", later); got != 0 {
			t.Errorf("wait = %v", got)
		}
		th.fail("carol", later)
		if got := th.wait("carol", later); got != 0 {
			t.Errorf("a failure after the quiet period counts from zero: wait = %v", got)
		}
	})
}

// TestThrottleBounded: a spray of distinct usernames never holds more
// than MaxAccounts entries.
func TestThrottleBounded(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := newThrottle(ThrottleOptions{MaxAccounts: 1000})
	for i := range 100_000 {
		th.fail(fmt.Sprint("user", i), t0)
		if n := th.len(); n > 1000 {
			t.Fatalf("%d entries after %d usernames", n, i+1)
		}
	}
}

func TestLogName(t *testing.T) {
	long := strings.Repeat("é", 40) // 80 bytes
	tests := []struct{ in, want string }{
		{"alice", "alice"},
		{"ALICE", "alice"}, // the account, in its canonical form
		{"ａｄｍｉｎ", "admin"},
		{"al\x00ice\n", `al\u0000ice\u000a`},
		{"bad\xffbyte", `bad\xffbyte`},
		{"c1\u0085control", `c1\u0085control`},
		{"\u202enimda", `\u202enimda`},
		{"admin\u200b", `admin\u200b`},
		{"ad\u2066min\u2069", `ad\u2066min\u2069`},
		{long, strings.Repeat("é", 32)},
		{strings.Repeat("a", 63) + "é", strings.Repeat("a", 63)},
		{strings.Repeat("a", 60) + "\u202e", strings.Repeat("a", 60)}, // never half an escape
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.12q", tt.in), func(t *testing.T) {
			got := logName(tt.in)
			if got != tt.want || len(got) > MaxUsernameBytes {
				t.Errorf("logName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

package authn

import (
	"strings"
	"testing"
)

// TestThrottleKeyIsCanonical: every spelling of an account counts against
// one bucket, and a name that no account can have never shares one with
// an account.
func TestThrottleKeyIsCanonical(t *testing.T) {
	same := [][]string{
		{"admin", "ADMIN", "Admin", "ａｄｍｉｎ", "ＡＤＭＩＮ"},
		{"ärger", "ÄRGER", "A\u0308rger"},
		{"k", "K", "\u212a"},
	}
	for _, names := range same {
		for _, n := range names {
			if got, want := throttleKey(n), names[0]; got != want {
				t.Errorf("throttleKey(%+q) = %+q, want %+q", n, got, want)
			}
		}
	}
	for _, n := range []string{"\u0430dmin", "admin\u200b", "\u202eadmin", " admin", "admin ", "adm\xffin", strings.Repeat("a", 65)} {
		k := throttleKey(n)
		if !strings.HasPrefix(k, " ") || k == throttleKey("admin") {
			t.Errorf("throttleKey(%+q) = %+q, want a key of its own (a leading space)", n, k)
		}
	}
	if k := throttleKey(strings.Repeat("x ", 100_000)); len(k) > 1+maxRawKeyBytes {
		t.Errorf("a 200 kB name makes a %d-byte key", len(k))
	}
}

package password

import (
	"errors"
	"strings"
	"testing"
)

func TestPolicyCheck(t *testing.T) {
	p := DefaultPolicy()
	fw := func(s string) string { // fullwidth form of ASCII letters and digits
		var b strings.Builder
		for _, r := range s {
			if r > ' ' && r < 0x7f {
				r += 0xff01 - '!'
			}
			b.WriteRune(r)
		}
		return b.String()
	}
	long := func(n int) string { // n bytes, not a common password
		return strings.Repeat("q7", n/2) + strings.Repeat("z", n%2)
	}
	tests := []struct {
		name, password, username string
		want                     PolicyReason // "" means accepted
	}{
		{"empty", "", "", ReasonTooShort},
		{"7 characters", "q7w9e1r", "", ReasonTooShort},
		{"exactly 8", "q7w9e1r4", "", ""},
		{"8 spaces are fine (no composition rules)", "        ", "", ""},
		{"lower-case letters only", "correcthorsebatterystaple", "", ""},
		{"passphrase with spaces", "correct horse battery staple", "", ""},
		{"exactly 1024 bytes", long(1024), "", ""},
		{"1025 bytes", long(1025), "", ReasonTooLong},
		{"1 MB", long(1 << 20), "", ReasonTooLong},
		{"7 runes in 14 bytes", "пароль1", "", ReasonTooShort},
		{"8 runes in 15 bytes", "пароль12", "", ""},
		// U+FDFA is one code point, 3 bytes, and 18 code points / 33 bytes
		// under NFKC: one typed character still counts once.
		{"1 code point expanding to 18", "\ufdfa", "", ReasonTooShort},
		{"8 code points expanding to 144", strings.Repeat("\ufdfa", 8), "", ""},
		{"NFKC expansion past 1024 bytes", strings.Repeat("\ufdfa", 100), "", ReasonTooLong},
		{"combining marks compose", "e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301e\u0301", "", ReasonTooShort},
		{"common", "password", "", ReasonCommon},
		{"common upper case", "PASSWORD", "", ReasonCommon},
		{"common mixed case", "PassWord", "", ReasonCommon},
		{"common 12345678", "12345678", "", ReasonCommon},
		{"common qwertyuiop", "QwertyUiop", "", ReasonCommon},
		{"common baseball", "baseball", "", ReasonCommon},
		{"common fullwidth", fw("password"), "", ReasonCommon},
		{"common fullwidth upper", fw("PASSWORD"), "", ReasonCommon},
		{"common fullwidth digits", fw("12345678"), "", ReasonCommon},
		{"common with a suffix is not common", "password-for-fortapi-2025", "", ""},
		{"equals username", "alice.wonderland", "alice.wonderland", ReasonUsername},
		{"equals username, other case", "Alice.Wonderland", "alice.wonderland", ReasonUsername},
		{"equals username, fullwidth", fw("ALICE.WONDERLAND"), "alice.wonderland", ReasonUsername},
		{"equals fullwidth username", "alice.wonderland", fw("Alice.Wonderland"), ReasonUsername},
		{"contains username is allowed", "alice.wonderland!", "alice.wonderland", ""},
		{"no username", "alice.wonderland", "", ""},
		{"not UTF-8", "abcdefgh\xff", "", ReasonNotUTF8},
		{"not UTF-8, short", "\xc3", "", ReasonNotUTF8},
		{"not UTF-8, overlong NUL", "abcdefgh\xc0\x80", "", ReasonNotUTF8},
		{"not UTF-8 surrogate", "abcdefgh\xed\xa0\x80", "", ReasonNotUTF8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Check(tc.password, tc.username)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("Check = %v (%T), want *PolicyError", err, err)
			}
			if pe.Reason != tc.want {
				t.Fatalf("Reason = %q, want %q (%v)", pe.Reason, tc.want, err)
			}
			// The message is a function of Reason and Limit alone, so it
			// cannot carry the password.
			if msg := err.Error(); msg != (&PolicyError{Reason: pe.Reason, Limit: pe.Limit}).Error() {
				t.Fatalf("message %q depends on more than the reason", msg)
			}
		})
	}
}

func TestPolicyMessages(t *testing.T) {
	for _, tc := range []struct {
		err  *PolicyError
		want string
	}{
		{&PolicyError{Reason: ReasonTooShort, Limit: 8}, "password must be at least 8 characters long"},
		{&PolicyError{Reason: ReasonTooLong, Limit: 1024}, "password must be at most 1024 bytes long"},
		{&PolicyError{Reason: ReasonNotUTF8}, "password must be valid UTF-8 text"},
		{&PolicyError{Reason: ReasonCommon}, "password is too common; choose one that is harder to guess"},
		{&PolicyError{Reason: ReasonUsername}, "password must not be the same as the username"},
		{&PolicyError{Reason: ReasonForbidden}, "password contains a word that is not allowed here"},
		{&PolicyError{}, "password is not allowed"},
	} {
		t.Run(string(tc.err.Reason), func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Fatalf("Error() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPolicyOptions(t *testing.T) {
	p, err := NewPolicy(PolicyOptions{MinLength: 12, Forbidden: []string{"FortAPI", "ｅｘａｍｐｌｅ.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.MinLength() != 12 {
		t.Fatalf("MinLength = %d", p.MinLength())
	}
	for _, tc := range []struct {
		name, password string
		want           PolicyReason
		limit          int
	}{
		{"11 characters", "q7w9e1r4t5y", ReasonTooShort, 12},
		{"12 characters", "q7w9e1r4t5y6", "", 0},
		{"forbidden word", "myfortapipassword", ReasonForbidden, 0},
		{"forbidden word upper", "MY-FORTAPI-PASSWORD", ReasonForbidden, 0},
		{"forbidden word fullwidth", "ｍｙｆｏｒｔａｐｉｐａｓｓ", ReasonForbidden, 0},
		{"forbidden normalized word", "login@example.com!", ReasonForbidden, 0},
		{"common still applies", "Unbelievable", ReasonCommon, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Check(tc.password, "")
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check = %v", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Reason != tc.want || pe.Limit != tc.limit {
				t.Fatalf("Check = %#v, want reason %q limit %d", err, tc.want, tc.limit)
			}
		})
	}

	for _, tc := range []struct {
		name string
		opts PolicyOptions
	}{
		{"min 7", PolicyOptions{MinLength: 7}},
		{"min negative", PolicyOptions{MinLength: -1}},
		{"min above max", PolicyOptions{MinLength: MaxPasswordBytes + 1}},
		{"empty word", PolicyOptions{Forbidden: []string{"ok-word", ""}}},
		{"non-UTF-8 word", PolicyOptions{Forbidden: []string{"\xff"}}},
	} {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			if p, err := NewPolicy(tc.opts); err == nil || p != nil {
				t.Fatalf("NewPolicy = %v, %v; want an error", p, err)
			}
		})
	}
}

func TestZeroPolicyIsDefault(t *testing.T) {
	var zero Policy
	fromOpts, err := NewPolicy(PolicyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"short", "password", "q7w9e1r4", "ＰＡＳＳＷＯＲＤ"} {
		want := DefaultPolicy().Check(pw, "")
		for name, p := range map[string]*Policy{"zero": &zero, "NewPolicy": fromOpts} {
			got := p.Check(pw, "")
			if (got == nil) != (want == nil) || (got != nil && got.Error() != want.Error()) {
				t.Errorf("%s.Check(%q) = %v, DefaultPolicy: %v", name, pw, got, want)
			}
		}
	}
}

// Every entry of the embedded list that is long enough is refused, in any
// case; shorter ones are refused by length.
func TestCommonListLoaded(t *testing.T) {
	set := commonPasswords()
	if len(set) < 2000 {
		t.Fatalf("only %d common passwords of 8+ characters loaded", len(set))
	}
	p := DefaultPolicy()
	n := 0
	for line := range strings.Lines(commonPasswordsFile) {
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			continue
		}
		n++
		err := p.Check(strings.ToUpper(pw), "")
		var pe *PolicyError
		if !errors.As(err, &pe) || (pe.Reason != ReasonCommon && pe.Reason != ReasonTooShort) {
			t.Fatalf("Check(%q) = %v, want common or too short", pw, err)
		}
	}
	if n != 10000 {
		t.Fatalf("embedded list has %d entries, want 10000", n)
	}
}

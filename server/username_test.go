package server_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fortapi/fortapi/server"
)

// TestCanonicalUsername: the spellings an attacker uses to make a second
// "admin" (or an unreadable name) are refused with a reason that names the
// character; what a person types for an ordinary name maps to one form.
func TestCanonicalUsername(t *testing.T) {
	good := []struct{ name, in, want string }{
		{"ASCII", "alice", "alice"},
		{"ASCII punctuation and digits", "a.b-c_d@example.org", "a.b-c_d@example.org"},
		{"digits first", "1abc", "1abc"},
		{"upper case", "ADMIN", "admin"},
		{"mixed case", "aLiCe", "alice"},
		{"fullwidth", "ａｄｍｉｎ", "admin"},
		{"fullwidth upper case", "ＡＤＭＩＮ", "admin"},
		{"halfwidth katakana", "ｶﾞ", "ガ"},
		{"accented Latin", "Ärger", "ärger"},
		{"sharp s", "straße", "straße"},
		{"decomposed accent is composed (NFC)", "e\u0301lise", "élise"},
		{"two marks on one letter", "a\u0323\u0302", "ậ"},
		{"Thai with a vowel and a tone mark", "กี่", "กี่"},
		{"Greek", "ΣΩΚΡΑΤΗΣ", "σωκρατησ"},
		{"Cyrillic alone", "Иван", "иван"},
		{"CJK", "田中", "田中"},
		{"Latin with CJK", "bob田中", "bob田中"},
		{"Hebrew", "שלום", "שלום"},
		{"Kelvin sign", "\u212a", "k"},
		{"64 bytes", strings.Repeat("a", 64), strings.Repeat("a", 64)},
		{"64 fullwidth letters are 64 bytes", strings.Repeat("ａ", 64), strings.Repeat("a", 64)},
	}
	for _, tc := range good {
		t.Run(tc.name, func(t *testing.T) {
			got, err := server.CanonicalUsername(tc.in)
			if err != nil || got != tc.want {
				t.Fatalf("CanonicalUsername(%+q) = %+q, %v; want %+q", tc.in, got, err, tc.want)
			}
			if again, err := server.CanonicalUsername(got); err != nil || again != got {
				t.Errorf("not idempotent: CanonicalUsername(%+q) = %+q, %v", got, again, err)
			}
			if err := server.CheckCanonicalUsername(got); err != nil {
				t.Errorf("CheckCanonicalUsername(%+q) = %v", got, err)
			}
			if got != tc.in {
				if err := server.CheckCanonicalUsername(tc.in); err == nil {
					t.Errorf("CheckCanonicalUsername(%+q) accepts a non-canonical spelling", tc.in)
				}
			}
		})
	}

	bad := []struct{ name, in, reason string }{
		{"empty", "", "is empty"},
		{"Cyrillic a in admin", "\u0430dmin", "mixes Cyrillic and Latin letters (U+0064)"},
		{"Cyrillic o in root", "r\u043e\u043et", "mixes Latin and Cyrillic letters (U+043E)"},
		{"Greek omicron in bob", "b\u03bfb", "mixes Latin and Greek letters (U+03BF)"},
		{"zero-width space", "admin\u200b", "contains the invisible character U+200B"},
		{"zero-width space inside", "ad\u200bmin", "contains the invisible character U+200B"},
		{"zero-width non-joiner", "ad\u200cmin", "contains the invisible character U+200C"},
		{"zero-width joiner", "ad\u200dmin", "contains the invisible character U+200D"},
		{"word joiner", "ad\u2060min", "contains the invisible character U+2060"},
		{"BOM", "\ufeffadmin", "contains the invisible character U+FEFF"},
		{"soft hyphen", "ad\u00admin", "contains the invisible character U+00AD"},
		{"Mongolian vowel separator", "ad\u180emin", "contains the invisible character U+180E"},
		{"combining grapheme joiner", "ad\u034fmin", "contains the invisible character U+034F"},
		{"variation selector", "ad\ufe0fmin", "contains the invisible character U+FE0F"},
		{"Hangul filler", "\u3164admin", "contains the invisible character U+3164"},
		{"tag character", "admin\U000e0041", "contains the invisible character U+E0041"},
		{"right-to-left override", "\u202enimda", "contains the bidirectional control character U+202E"},
		{"left-to-right embedding", "ad\u202amin", "contains the bidirectional control character U+202A"},
		{"pop directional formatting", "admin\u202c", "contains the bidirectional control character U+202C"},
		{"right-to-left isolate", "ad\u2067min", "contains the bidirectional control character U+2067"},
		{"pop directional isolate", "ad\u2069min", "contains the bidirectional control character U+2069"},
		{"left-to-right mark", "admin\u200e", "contains the bidirectional control character U+200E"},
		{"right-to-left mark", "admin\u200f", "contains the bidirectional control character U+200F"},
		{"Arabic letter mark", "admin\u061c", "contains the bidirectional control character U+061C"},
		{"leading space", " admin", "starts or ends with a space (U+0020)"},
		{"trailing space", "admin ", "starts or ends with a space (U+0020)"},
		{"inner space", "ad min", "contains a space (U+0020)"},
		{"no-break space", "ad\u00a0min", "contains a space (U+00A0)"},
		{"ideographic space", "\u3000admin", "starts or ends with a space (U+3000)"},
		{"NUL", "ad\x00min", "contains the control character U+0000"},
		{"tab", "admin\t", "contains the control character U+0009"},
		{"newline", "ad\nmin", "contains the control character U+000A"},
		{"DEL", "admin\x7f", "contains the control character U+007F"},
		{"C1 control", "admin\u0085", "contains the control character U+0085"},
		{"invalid UTF-8", "adm\xffin", "is not valid UTF-8"},
		{"lone combining mark", "\u0301", "starts with a combining mark (U+0301)"},
		{"leading combining mark", "\u0301admin", "starts with a combining mark (U+0301)"},
		{"stacked combining marks", "a\u0301\u0302\u0303\u0304", "stacks more than 2 combining marks on one character (U+0304)"},
		{"Zalgo", "ad\u0336\u0337\u0338\u0335min", "stacks more than 2 combining marks on one character"},
		{"emoji", "bob😀", "contains U+1F600, which RFC 8265 usernames do not allow"},
		{"ligature (compatibility character)", "\ufb01le", "contains U+FB01, which RFC 8265 usernames do not allow"},
		{"titlecase digraph", "\u01c5ungla", "contains U+01C5, which RFC 8265 usernames do not allow"},
		{"Roman numeral", "ⅷ", "contains U+2177, which RFC 8265 usernames do not allow"},
		{"Bidi Rule: Latin then Hebrew", "abcשלום", "breaks the RFC 5893 Bidi Rule"},
		{"Bidi Rule: digit then Hebrew", "1שלום", "breaks the RFC 5893 Bidi Rule"},
		{"65 bytes", strings.Repeat("a", 65), "is 65 bytes once normalized (RFC 8265), longer than 64"},
		{"33 two-byte letters", strings.Repeat("é", 33), "is 66 bytes once normalized"},
		{"huge", strings.Repeat("a", 100_000), "is longer than 64 bytes"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			got, err := server.CanonicalUsername(tc.in)
			var ue *server.UsernameError
			if !errors.As(err, &ue) {
				t.Fatalf("CanonicalUsername(%+q) = %+q, %v; want a *UsernameError", tc.in, got, err)
			}
			if got != "" {
				t.Errorf("CanonicalUsername(%+q) returned %+q with its error", tc.in, got)
			}
			if !strings.HasPrefix(ue.Reason, tc.reason) {
				t.Errorf("reason %q, want it to start with %q", ue.Reason, tc.reason)
			}
			if !utf8.ValidString(err.Error()) || strings.ContainsFunc(err.Error(), func(r rune) bool {
				return r == 0 || r >= 0x200b && r <= 0x206f || r == 0xfeff
			}) {
				t.Errorf("the message carries the character it refuses: %+q", err.Error())
			}
			if err := server.CheckCanonicalUsername(tc.in); err == nil {
				t.Errorf("CheckCanonicalUsername(%+q) accepts it", tc.in)
			}
		})
	}
}

// TestCanonicalASCII: a name of printable ASCII without A-Z, 1 to 64
// bytes, is its own canonical form (the SQLite store relies on it to skip
// such rows when it canonicalizes old databases).
func TestCanonicalASCII(t *testing.T) {
	var alphabet []byte
	for c := byte('!'); c <= '~'; c++ {
		if c < 'A' || c > 'Z' {
			alphabet = append(alphabet, c)
		}
	}
	check := func(s string) {
		if got, err := server.CanonicalUsername(s); err != nil || got != s {
			t.Fatalf("CanonicalUsername(%q) = %q, %v; want it unchanged", s, got, err)
		}
	}
	for _, a := range alphabet {
		check(string(a))
		for _, b := range alphabet {
			check(string([]byte{a, b}))
		}
	}
}

func TestEscapeUsername(t *testing.T) {
	tests := []struct{ in, want string }{
		{"alice", "alice"},
		{"ärger 田中", "ärger 田中"},
		{`back\slash`, `back\slash`},
		{"\u202enimda", `\u202enimda`},
		{"admin\u200b", `admin\u200b`},
		{"ad\u2066min\u2069", `ad\u2066min\u2069`},
		{"\ufeffx\u00ad", `\ufeffx\u00ad`},
		{"a\x00b\nc\td", `a\u0000b\u000ac\u0009d`},
		{"bad\xffbyte", `bad\xffbyte`},
		{"tag\U000e0041", `tag\U000e0041`},
		{"nbsp\u00a0x", `nbsp\u00a0x`},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			got := server.EscapeUsername(tc.in)
			if got != tc.want {
				t.Errorf("EscapeUsername(%+q) = %q, want %q", tc.in, got, tc.want)
			}
			if again := server.EscapeUsername(got); again != got {
				t.Errorf("not idempotent: %q then %q", got, again)
			}
		})
	}
}

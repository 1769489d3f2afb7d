package server

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// Usernames have one canonical form, used for uniqueness, lookups and every
// limiter key: CanonicalUsername. Stores keep only canonical usernames and
// compare them exactly; the authentication service canonicalizes what a
// client types before it looks a user up or counts a failure.

// MaxUsernameBytes is the longest canonical username, in bytes of UTF-8.
const MaxUsernameBytes = 64

// maxRawUsernameBytes bounds the input CanonicalUsername works on: width
// mapping shrinks a fullwidth letter from 3 bytes to 1 and NFC merges a
// letter and its combining mark, so a longer input cannot map to 64 bytes.
const maxRawUsernameBytes = 4 * MaxUsernameBytes

// maxStackedMarks is the most combining marks a canonical username may
// carry on one character (after NFC). Two cover Vietnamese, Thai and Lao
// tone and vowel marks; piles of marks ("Zalgo" text) hide what a name
// shows.
const maxStackedMarks = 2

// UsernameError says why a string cannot be a username. Reason completes
// the sentence "the username ...": it names code points as U+XXXX and
// never quotes invisible characters.
type UsernameError struct {
	Reason string
}

func (e *UsernameError) Error() string { return "the username " + e.Reason }

func usernameErr(format string, args ...any) error {
	return &UsernameError{Reason: fmt.Sprintf(format, args...)}
}

// CanonicalUsername returns the canonical form of the username s, or a
// *UsernameError saying precisely why s cannot be one. The canonical form
// is RFC 8265's UsernameCaseMapped profile (PRECIS): fullwidth and
// halfwidth forms are mapped to their ordinary forms (ＡＤＭＩＮ is admin),
// letters to lower case, the result to NFC, and the RFC 5893 Bidi Rule
// must hold. On top of the profile it refuses:
//
//   - an empty name, and one longer than MaxUsernameBytes once mapped;
//   - invalid UTF-8;
//   - any space (the profile has none: no leading, trailing or inner
//     spaces), control characters;
//   - bidirectional controls (U+200E, U+200F, U+061C, U+202A–U+202E,
//     U+2066–U+2069) and invisible characters: every format character
//     (Cf: zero-width space, joiners, word joiner, BOM, soft hyphen...)
//     and every other Default_Ignorable_Code_Point (variation selectors,
//     the combining grapheme joiner, Hangul fillers...);
//   - a name that starts with a combining mark or stacks more than two on
//     one character;
//   - letters of more than one of the Latin, Greek and Cyrillic scripts
//     in one name: their look-alikes (Cyrillic а for Latin a) would
//     otherwise spell a second "admin". Other scripts mix freely (a
//     Japanese name mixes Han and kana; "bob田中" is accepted).
//
// CanonicalUsername is idempotent: the canonical form of a canonical
// username is itself.
func CanonicalUsername(s string) (string, error) {
	switch {
	case s == "":
		return "", usernameErr("is empty")
	case len(s) > maxRawUsernameBytes:
		return "", usernameErr("is longer than %d bytes", MaxUsernameBytes)
	case !utf8.ValidString(s):
		return "", usernameErr("is not valid UTF-8")
	}
	if err := checkRawUsername(s); err != nil {
		return "", err
	}
	out, err := precis.UsernameCaseMapped.String(s)
	if err != nil {
		return "", precisErr(s)
	}
	switch {
	case out == "":
		return "", usernameErr("is empty once normalized")
	case len(out) > MaxUsernameBytes:
		return "", usernameErr("is %d bytes once normalized (RFC 8265), longer than %d", len(out), MaxUsernameBytes)
	}
	if err := checkMappedUsername(out); err != nil {
		return "", err
	}
	return out, nil
}

// CheckCanonicalUsername returns nil when s is a canonical username (what
// a store accepts), else a *UsernameError.
func CheckCanonicalUsername(s string) error {
	c, err := CanonicalUsername(s)
	if err != nil {
		return err
	}
	if c != s {
		return usernameErr("is not in canonical form (RFC 8265 UsernameCaseMapped): it is stored as %q", c)
	}
	return nil
}

// checkRawUsername refuses, with a precise reason, what PRECIS would refuse
// with a vague one (or, for a few look-alike spaces, map away).
func checkRawUsername(s string) error {
	first, last := 0, len(s)-utf8.RuneLen(lastRune(s))
	if r, _ := utf8.DecodeRuneInString(s); unicode.Is(unicode.M, r) {
		// Nothing to combine with; PRECIS would blame the Bidi Rule.
		return usernameErr("starts with a combining mark (%s)", codePoint(r))
	}
	for i, r := range s {
		switch {
		case unicode.Is(unicode.Cc, r):
			return usernameErr("contains the control character %s", codePoint(r))
		case unicode.IsSpace(r) || unicode.Is(unicode.Zs, r):
			if i == first || i == last {
				return usernameErr("starts or ends with a space (%s); usernames have no spaces", codePoint(r))
			}
			return usernameErr("contains a space (%s); usernames have no spaces", codePoint(r))
		case isBidiControl(r):
			return usernameErr("contains the bidirectional control character %s", codePoint(r))
		case isInvisible(r):
			return usernameErr("contains the invisible character %s", codePoint(r))
		}
	}
	return nil
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

// precisErr explains why PRECIS refused s: the first character the profile
// refuses on its own, or else the Bidi Rule.
func precisErr(s string) error {
	for _, r := range s {
		if _, err := precis.UsernameCaseMapped.String(string(r)); err != nil {
			return usernameErr("contains %s, which RFC 8265 usernames do not allow (letters, digits and ASCII punctuation only)", codePoint(r))
		}
	}
	return usernameErr("breaks the RFC 5893 Bidi Rule (right-to-left letters mixed with left-to-right ones, or a right-to-left name starting with a digit)")
}

// checkMappedUsername applies the rules on the mapped (NFC) form: combining
// marks and script mixing.
func checkMappedUsername(s string) error {
	marks := 0
	var script string
	for i, r := range s {
		if unicode.Is(unicode.M, r) {
			if i == 0 {
				return usernameErr("starts with a combining mark (%s)", codePoint(r))
			}
			if marks++; marks > maxStackedMarks {
				return usernameErr("stacks more than %d combining marks on one character (%s)", maxStackedMarks, codePoint(r))
			}
			continue
		}
		marks = 0
		sc := confusableScript(r)
		if sc == "" {
			continue
		}
		if script != "" && sc != script {
			return usernameErr("mixes %s and %s letters (%s); a name uses only one of the Latin, Greek and Cyrillic scripts, "+
				"so that look-alikes such as Cyrillic \"а\" for Latin \"a\" cannot spell another user's name", script, sc, codePoint(r))
		}
		script = sc
	}
	return nil
}

// confusableScript names the script of r when it is one of the three whose
// letters look alike, else "".
func confusableScript(r rune) string {
	switch {
	case r < utf8.RuneSelf:
		if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
			return "Latin"
		}
		return ""
	case unicode.Is(unicode.Latin, r):
		return "Latin"
	case unicode.Is(unicode.Greek, r):
		return "Greek"
	case unicode.Is(unicode.Cyrillic, r):
		return "Cyrillic"
	}
	return ""
}

// isBidiControl reports whether r is one of the explicit bidirectional
// formatting characters (Unicode Bidi_Control).
func isBidiControl(r rune) bool {
	return unicode.Is(unicode.Bidi_Control, r)
}

// isInvisible reports whether r draws nothing: a format character (Cf) or
// another Default_Ignorable_Code_Point.
func isInvisible(r rune) bool {
	return unicode.Is(unicode.Cf, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) ||
		unicode.Is(unicode.Variation_Selector, r)
}

// codePoint formats r as U+XXXX.
func codePoint(r rune) string { return fmt.Sprintf("U+%04X", r) }

// EscapeUsername returns s safe to show in an audit record, a log line or
// a terminal: every byte that is not UTF-8 becomes \xNN, and every control,
// bidirectional control, invisible (Cf or Default_Ignorable_Code_Point) or
// otherwise non-graphic character becomes \uXXXX (\UXXXXXXXX beyond
// U+FFFF), so a right-to-left override shows as \u202e instead of
// reversing the text around it. Everything else, backslashes included, is
// kept: EscapeUsername of its own output changes nothing, so layers may
// apply it again. A canonical username never needs escaping, but old
// records, and what clients type, may.
func EscapeUsername(s string) string {
	if !needsEscape(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case mustEscape(r):
			b.WriteString(escapeRune(r))
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(s string) bool {
	if !utf8.ValidString(s) {
		return true
	}
	for _, r := range s {
		if mustEscape(r) {
			return true
		}
	}
	return false
}

func mustEscape(r rune) bool {
	return !unicode.IsGraphic(r) || r != ' ' && unicode.IsSpace(r) || isBidiControl(r) || isInvisible(r)
}

func escapeRune(r rune) string {
	if r > 0xffff {
		return fmt.Sprintf(`\U%08x`, r)
	}
	return fmt.Sprintf(`\u%04x`, r)
}

// Events a store writes when it brings usernames stored before canonical
// ones to their canonical form (see the store's documentation).
const (
	// EventUsernameCanonicalized: a stored username was replaced by its
	// canonical form; Detail names both.
	EventUsernameCanonicalized = "user.username_canonicalized"
	// EventUsernameUnusable: a stored username has no canonical form, or
	// its canonical form is another user's: nobody can sign in by that
	// name any more. The user keeps its id, role, items and sessions; an
	// administrator can disable it by id. Written once per user.
	EventUsernameUnusable = "user.username_unusable"
)

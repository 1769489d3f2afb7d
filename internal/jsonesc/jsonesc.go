// Package jsonesc writes JSON strings escaped byte for byte as
// encoding/json or log/slog's JSON handler escape them, for the encoders
// on fortapi's hot paths (the access log, item answers) that must write
// exactly what those packages would.
//
// What it defends against: a string that ends its JSON value early, forges
// another log line or field (quotes, backslashes, line breaks, control
// characters), breaks a script when a JSON answer is sniffed or embedded
// (< > & in the EncodingJSON style, U+2028 and U+2029 in both), or carries
// invalid UTF-8 (each bad byte becomes U+FFFD). The styles have no options
// beyond whose bytes they copy.
package jsonesc

import "unicode/utf8"

// Style is whose escaping AppendString copies.
type Style uint8

const (
	// Slog escapes as log/slog's JSON handler: '"' and '\\' by a
	// backslash, \n \r \t by name, every other control character as
	// \u00XX, no HTML escaping.
	Slog Style = iota
	// EncodingJSON escapes as encoding/json with HTML escaping on (its
	// default, and json.Encoder's): also \b and \f by name, and < > & as
	// \u003c \u003e \u0026.
	EncodingJSON
)

const hexDigits = "0123456789abcdef"

// plain[style][c] says whether the style copies the byte c as it is.
// (Read only.)
var plain = func() (t [2][256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[Slog][c] = c != '"' && c != '\\'
		t[EncodingJSON][c] = t[Slog][c] && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// Byte-parallel tests on eight bytes in a word (each exact about whether
// any byte matches: a borrow starts only at a byte that matches).
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// hasByte reports whether a byte of x is c.
func hasByte(x uint64, c byte) bool {
	y := x ^ (ones * uint64(c))
	return (y-ones)&^y&highs != 0
}

// plainWord reports whether the style copies every byte of x as it is:
// ASCII, no control character, no '"' or '\\' (nor < > & for
// EncodingJSON). A false answer only means "look at each byte".
func plainWord(x uint64, st Style) bool {
	if x&highs != 0 || (x-ones*0x20)&^x&highs != 0 || hasByte(x, '"') || hasByte(x, '\\') {
		return false
	}
	return st != EncodingJSON || !(hasByte(x, '<') || hasByte(x, '>') || hasByte(x, '&'))
}

// AppendString appends s to b as a quoted JSON string in the style st.
// Both styles write U+2028 and U+2029 as \u2028 and \u2029 and each byte
// of invalid UTF-8 as \ufffd, and copy everything else as it is.
func AppendString(b []byte, s string, st Style) []byte {
	copied := &plain[st&1]
	b = append(b, '"')
	start := 0 // s[start:i] is still to be copied
	i := 0
	// Eight bytes at a time while none needs a look (most strings are
	// plain ASCII throughout); the rest one at a time.
	for i+8 <= len(s) && plainWord(uint64(s[i])|uint64(s[i+1])<<8|uint64(s[i+2])<<16|uint64(s[i+3])<<24|
		uint64(s[i+4])<<32|uint64(s[i+5])<<40|uint64(s[i+6])<<48|uint64(s[i+7])<<56, st) {
		i += 8
	}
	for i < len(s) {
		c := s[i]
		if copied[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b' && st == EncodingJSON:
				b = append(b, '\\', 'b')
			case c == '\f' && st == EncodingJSON:
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

package token

import (
	"encoding/json"
	"unicode/utf8"
)

// This file holds the strict parser for the two JSON objects of a token.
//
// A token this package issues has a header of exactly alg, typ and kid and
// a payload of exactly nine claims, all strings or integer NumericDates.
// Instead of a general JSON decoder (encoding/json keeps the last of
// repeated members, accepts fractional and exponent numbers, and silently
// replaces invalid UTF-8) Verify reads both objects with a small scanner
// that accepts only a flat object whose values are strings or non-negative
// integers, refuses invalid UTF-8, and leaves detection of repeated and
// unknown member names to the caller. Escaped member names are refused;
// escaped string values are decoded by encoding/json.

// maxMembers bounds the members of either object: the payload has nine.
const maxMembers = 9

// maxNumericDate is 9999-12-31T23:59:59Z: larger dates are refused, which
// keeps every time computation far from overflow.
const maxNumericDate = 253402300799

// member is one name/value pair of a flat JSON object.
type member struct {
	name  string
	str   string // the decoded string, when !isNum
	num   int64  // the integer, when isNum
	isNum bool
}

// parseObject scans s, which must be one JSON object with at most
// len(out) members whose values are strings or integers in
// [0, maxNumericDate], into out. It returns the number of members.
func parseObject(s string, out *[maxMembers]member) (int, bool) {
	i := skipWS(s, 0)
	if i >= len(s) || s[i] != '{' {
		return 0, false
	}
	i = skipWS(s, i+1)
	n := 0
	if i < len(s) && s[i] == '}' {
		return 0, skipWS(s, i+1) == len(s)
	}
	for {
		if n == len(out) {
			return 0, false
		}
		var (
			m  member
			ok bool
		)
		m.name, i, ok = scanString(s, i, false)
		if !ok {
			return 0, false
		}
		i = skipWS(s, i)
		if i >= len(s) || s[i] != ':' {
			return 0, false
		}
		i = skipWS(s, i+1)
		if i >= len(s) {
			return 0, false
		}
		switch c := s[i]; {
		case c == '"':
			m.str, i, ok = scanString(s, i, true)
		case '0' <= c && c <= '9':
			m.num, i, ok = scanInt(s, i)
			m.isNum = true
		default:
			ok = false
		}
		if !ok {
			return 0, false
		}
		out[n] = m
		n++
		i = skipWS(s, i)
		if i >= len(s) {
			return 0, false
		}
		switch s[i] {
		case ',':
			i = skipWS(s, i+1)
		case '}':
			return n, skipWS(s, i+1) == len(s)
		default:
			return 0, false
		}
	}
}

func skipWS(s string, i int) int {
	for i < len(s) {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// scanString reads the JSON string starting at s[i] (a '"') and returns its
// value and the index after the closing quote. Raw control characters,
// invalid escapes and invalid UTF-8 are refused; so are escapes at all when
// !allowEscapes.
func scanString(s string, i int, allowEscapes bool) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	start := i + 1
	escaped := false
	for j := start; j < len(s); {
		c := s[j]
		switch {
		case c == '"':
			raw := s[start:j]
			if !utf8.ValidString(raw) {
				return "", 0, false
			}
			if !escaped {
				return raw, j + 1, true
			}
			var v string
			if json.Unmarshal([]byte(s[i:j+1]), &v) != nil {
				return "", 0, false
			}
			return v, j + 1, true
		case c == '\\':
			if !allowEscapes || j+1 >= len(s) {
				return "", 0, false
			}
			escaped = true
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(s) {
					return "", 0, false
				}
				for k := j + 2; k < j+6; k++ {
					if !isHex(s[k]) {
						return "", 0, false
					}
				}
				j += 6
			default:
				return "", 0, false
			}
		case c < 0x20:
			return "", 0, false
		default:
			j++
		}
	}
	return "", 0, false
}

// scanInt reads a JSON integer without sign, fraction or exponent, in
// [0, maxNumericDate]. A following '.', 'e' or 'E' makes the caller fail on
// the next structural character.
func scanInt(s string, i int) (int64, int, bool) {
	start := i
	var v int64
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		if i-start >= 12 {
			return 0, 0, false
		}
		v = v*10 + int64(s[i]-'0')
		i++
	}
	if i == start || (s[start] == '0' && i-start > 1) || v > maxNumericDate {
		return 0, 0, false
	}
	return v, i, true
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

// splitToken splits tok into its three segments. Each must be non-empty
// and consist only of base64url characters, so a fourth segment, padding,
// whitespace (which Go's base64 decoder would skip) and any other byte are
// refused before decoding.
func splitToken(tok string) (header, payload, sig string, ok bool) {
	dots := [2]int{-1, -1}
	n := 0
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c == '.' {
			if n == 2 {
				return "", "", "", false
			}
			dots[n] = i
			n++
			continue
		}
		if !isB64URL(c) {
			return "", "", "", false
		}
	}
	if n != 2 {
		return "", "", "", false
	}
	header, payload, sig = tok[:dots[0]], tok[dots[0]+1:dots[1]], tok[dots[1]+1:]
	if header == "" || payload == "" || sig == "" {
		return "", "", "", false
	}
	return header, payload, sig, true
}

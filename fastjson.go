package fortapi

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeAny is a decoder of JSON text into an any made for the common
// case of sanitizingBody.prepare (decodeFloat): a request body without
// escapes. It gives what json.Unmarshal into an any gives (map[string]any,
// []any, string, float64, bool, nil) for about half the allocations: the
// body is copied into one string once, and every member name and string
// value is a substring of it, where encoding/json allocates each of them
// (and its own scanner and decodeState).
//
// Its contract is one-sided: when it returns true, json.Unmarshal(data, &w)
// succeeds and reflect.DeepEqual(v, w) holds. In every doubtful case it
// returns false, and the caller takes the exact path, which decides as it
// always did: a false costs time, never a different answer. Its caller
// guarantees that data has no backslash (so no escape: every string is the
// raw text between its quotes). It also stands in for the strict checks
// the exact path makes first: it declines a string with a control byte or
// with bytes that are not UTF-8 (outside strings its grammar admits only
// ASCII), and an object with a repeated member name, so a body it decodes
// is valid UTF-8 without duplicate members (utf8.Valid and
// noDuplicateMembers would pass it: FuzzDecodeAny checks both).
//
// The grammar is RFC 8259's: whitespace is space, tab, line feed and
// carriage return; the literals are true, false and null; a number is
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, converted by
// strconv.ParseFloat with 64 bits as json.Unmarshal converts it, and a
// number out of float64's range is a false (json.Unmarshal fails on it
// too); the text is exactly one value, then only whitespace.
func decodeAny(data []byte) (any, bool) {
	// A copy, never an alias of data: huma reuses its body buffer, and
	// the decoding outlives this request's read of it (bodyoffer.go).
	d := fastDecoder{s: string(data)}
	v, ok := d.value(0)
	if !ok {
		return nil, false
	}
	d.space()
	if d.i != len(d.s) {
		return nil, false // trailing data
	}
	return v, true
}

// fastMaxDepth bounds decodeAny's nesting of arrays and objects, so that a
// hostile body cannot make its recursion grow the stack without end: deeper
// bodies (encoding/json takes up to 10000 levels) take the exact path.
const fastMaxDepth = 1000

// fastDecoder is decodeAny's state: the text and the offset of the next
// byte to read.
type fastDecoder struct {
	s string
	i int
}

// space skips JSON whitespace.
func (d *fastDecoder) space() { d.i = skipJSONSpace(d.s, d.i) }

// skipJSONSpace returns the offset of the first byte at or after i in s
// that is not JSON whitespace (space, tab, line feed, carriage return).
func skipJSONSpace[T ~string | ~[]byte](s T, i int) int {
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

// after reads what follows a member of an object or an element of an
// array, after optional whitespace: a comma (more follow), the closing
// byte (the end), or anything else (malformed: ok is false).
func (d *fastDecoder) after(closing byte) (more, ok bool) {
	d.space()
	if d.i >= len(d.s) {
		return false, false
	}
	switch d.s[d.i] {
	case ',':
		d.i++
		return true, true
	case closing:
		d.i++
		return false, true
	}
	return false, false
}

// value decodes the value at d.i, after optional whitespace, nested in
// depth arrays and objects.
func (d *fastDecoder) value(depth int) (any, bool) {
	d.space()
	if d.i >= len(d.s) {
		return nil, false
	}
	switch c := d.s[d.i]; {
	case c == '{':
		return d.object(depth + 1)
	case c == '[':
		return d.array(depth + 1)
	case c == '"':
		s, ok := d.str()
		if !ok {
			return nil, false
		}
		return s, true
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	case c == '-' || ('0' <= c && c <= '9'):
		f, ok := d.number()
		if !ok {
			return nil, false
		}
		return f, true
	}
	return nil, false
}

// literal consumes lit, reporting whether the text at d.i starts with it.
// What follows it is checked by the caller (a separator, a closing
// bracket, or the end): "truex" is refused there.
func (d *fastDecoder) literal(lit string) bool {
	if !strings.HasPrefix(d.s[d.i:], lit) {
		return false
	}
	d.i += len(lit)
	return true
}

// object decodes the object whose '{' is at d.i into a map[string]any, as
// encoding/json does (a repeated name keeps its last value, though the
// caller has refused repeated names already).
func (d *fastDecoder) object(depth int) (any, bool) {
	if depth > fastMaxDepth {
		return nil, false
	}
	d.i++ // '{'
	m := make(map[string]any)
	d.space()
	if d.i < len(d.s) && d.s[d.i] == '}' {
		d.i++
		return m, true
	}
	for {
		d.space()
		if d.i >= len(d.s) || d.s[d.i] != '"' {
			return nil, false
		}
		k, ok := d.str()
		if !ok {
			return nil, false
		}
		d.space()
		if d.i >= len(d.s) || d.s[d.i] != ':' {
			return nil, false
		}
		d.i++
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		if _, dup := m[k]; dup {
			return nil, false // strictJSON refuses it (noDuplicateMembers)
		}
		m[k] = v
		if more, ok := d.after('}'); !ok {
			return nil, false
		} else if !more {
			return m, true
		}
	}
}

// array decodes the array whose '[' is at d.i into a []any. An empty
// array is an empty slice, not nil, as encoding/json gives it
// (reflect.DeepEqual tells them apart).
func (d *fastDecoder) array(depth int) (any, bool) {
	if depth > fastMaxDepth {
		return nil, false
	}
	d.i++ // '['
	a := make([]any, 0)
	d.space()
	if d.i < len(d.s) && d.s[d.i] == ']' {
		d.i++
		return a, true
	}
	for {
		v, ok := d.value(depth)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		if more, ok := d.after(']'); !ok {
			return nil, false
		} else if !more {
			return a, true
		}
	}
}

// str decodes the string whose opening quote is at d.i: the text up to
// the closing quote, a substring of d.s (no allocation). A backslash
// (an escape, which the caller excludes), a control byte (which JSON
// forbids unescaped) or bytes that are not UTF-8 (which encoding/json
// would replace by U+FFFD) make it refuse.
func (d *fastDecoder) str() (string, bool) {
	start := d.i + 1
	for i := start; i < len(d.s); {
		c := d.s[i]
		switch {
		case c == '"':
			d.i = i + 1
			return d.s[start:i], true
		case c == '\\' || c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(d.s[i:])
			if r == utf8.RuneError && size == 1 {
				return "", false
			}
			i += size
		}
	}
	return "", false // unterminated
}

// number decodes the number at d.i, spelled as RFC 8259 has it, into a
// float64 as json.Unmarshal does; false when it is not a number or is out
// of float64's range.
func (d *fastDecoder) number() (float64, bool) {
	s, i := d.s, d.i
	start := i
	if s[i] == '-' {
		i++
	}
	switch {
	case i >= len(s):
		return 0, false
	case s[i] == '0':
		i++
	case '1' <= s[i] && s[i] <= '9':
		i = digits(s, i+1)
	default:
		return 0, false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return 0, false
		}
		i = digits(s, i+1)
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return 0, false
		}
		i = digits(s, i+1)
	}
	f, err := strconv.ParseFloat(s[start:i], 64)
	if err != nil {
		return 0, false
	}
	d.i = i
	return f, true
}

// digits returns the offset of the first byte at or after i in s that is
// not a decimal digit.
func digits(s string, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

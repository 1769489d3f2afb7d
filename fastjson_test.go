package fortapi

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// fastJSONCases are the edge cases of decodeAny, with whether it must
// decode them (true) or decline them (false). Whether json.Unmarshal takes
// them is not written here: TestDecodeAny and FuzzDecodeAny check that
// every decoding is json.Unmarshal's.
var fastJSONCases = []struct {
	name, in string
	ok       bool
}{
	{"item body", `{"name":"bench item","description":"a description","price":12.5,"tax":2.5}`, true},
	{"empty object", `{}`, true},
	{"empty array", `[]`, true},
	{"empty string", `""`, true},
	{"nested empties", `[{},[],"",{"a":[]}]`, true},
	{"literals", `[true,false,null]`, true},
	{"top-level literal", `null`, true},
	{"top-level number", `42`, true},
	{"whitespace everywhere", " \t\r\n{ \t\r\n\"a\" \t\r\n: \t\r\n[ 1 , 2 ] \n, \"b\" : { } } \r\n", true},
	{"minus zero", `-0`, true},
	{"minus zero float", `[-0.0, -0e0, 0E+0]`, true},
	{"exponents", `[1e308, 1E-5, 2.5e+3, -1.5E10]`, true},
	{"largest float", `1.7976931348623157e308`, true},
	{"underflow to zero", `0.1e-400`, true},
	{"subnormal", `4.9e-324`, true},
	{"big int rounded", `9007199254740993`, true},
	{"long int", `123456789012345678901234567890`, true},
	{"unicode", "{\"név\":\"árvíztűrő 😀 ﷺ 中文\",\"€\":\"\u00a0\"}", true},
	{"U+FFFD as sent", "\"\uFFFD\"", true},
	{"DEL byte", "\"a\x7fb\"", true},
	{"duplicate keys", `{"a":1,"a":2}`, false},
	{"duplicate keys nested", `[{"b":{"a":1,"a":2}}]`, false},
	{"same key in two objects", `[{"a":1},{"a":2}]`, true},
	{"nested 1000", strings.Repeat("[", 1000) + strings.Repeat("]", 1000), true},
	{"nested objects 1000", strings.Repeat(`{"a":`, 999) + `{}` + strings.Repeat("}", 999), true},

	{"empty", ``, false},
	{"only space", "  \n", false},
	{"nested 1001", strings.Repeat("[", 1001) + strings.Repeat("]", 1001), false},
	{"nested 20000", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), false},
	{"out of range", `1e309`, false},
	{"out of range negative", `-1e309`, false},
	{"out of range in object", `{"n":1e400}`, false},
	{"leading zero", `01`, false},
	{"minus leading zero", `-01`, false},
	{"trailing dot", `1.`, false},
	{"leading dot", `.5`, false},
	{"plus", `+1`, false},
	{"lone minus", `-`, false},
	{"minus space", `- 1`, false},
	{"empty exponent", `1e`, false},
	{"exponent sign only", `1e+`, false},
	{"hex", `0x10`, false},
	{"NaN", `NaN`, false},
	{"Infinity", `Infinity`, false},
	{"trailing garbage", `{"a":1}x`, false},
	{"two values", `{"a":1} {"b":2}`, false},
	{"trailing comma object", `{"a":1,}`, false},
	{"trailing comma array", `[1,]`, false},
	{"missing colon", `{"a" 1}`, false},
	{"missing comma", `[1 2]`, false},
	{"unquoted key", `{a:1}`, false},
	{"non-string key", `{1:1}`, false},
	{"unclosed object", `{"a":1`, false},
	{"unclosed array", `[1`, false},
	{"unclosed string", `"abc`, false},
	{"single quotes", `'a'`, false},
	{"truncated literal", `tru`, false},
	{"literal with suffix", `truex`, false},
	{"literal in array with suffix", `[nullx]`, false},
	{"capital literal", `True`, false},
	{"escape", `"a\nb"`, false},
	{"unicode escape", `"\u0041"`, false},
	{"control byte", "\"a\x01b\"", false},
	{"raw newline in string", "\"a\nb\"", false},
	{"raw tab in string", "\"a\tb\"", false},
	{"NUL in string", "\"a\x00b\"", false},
	{"invalid UTF-8", "\"a\xffb\"", false},
	{"truncated UTF-8", "\"a\xc3\"", false},
	{"UTF-8 surrogate", "\"\xed\xa0\x80\"", false},
	{"overlong UTF-8", "\"\xc0\xaf\"", false},
	{"form feed as space", "\f1", false},
	{"NBSP as space", "\u00a01", false},
	{"BOM", "\ufeff1", false},
	{"NUL after value", "1\x00", false},
	{"close without open", `]`, false},
	{"mismatched brackets", `[}`, false},
	{"comment", `[1 /* c */]`, false},
}

func TestDecodeAny(t *testing.T) {
	for _, tc := range fastJSONCases {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := decodeAny([]byte(tc.in))
			if ok != tc.ok {
				t.Fatalf("decodeAny(%.60q): ok %v, want %v", tc.in, ok, tc.ok)
			}
			checkDecodeAny(t, []byte(tc.in), v, ok)
		})
	}
}

// checkDecodeAny checks decodeAny's contract on one input: a decoding it
// gives is json.Unmarshal's, and it declines returning nil. It also checks
// that it does not decline what it was made to take: a body meeting its
// preconditions (no backslash, valid UTF-8) that json.Unmarshal decodes,
// nesting no deeper than fastMaxDepth. That is not a safety property
// (declining only costs time) but the fast path's point.
func checkDecodeAny(t *testing.T, data []byte, v any, ok bool) {
	t.Helper()
	var w any
	err := json.Unmarshal(data, &w)
	if !ok {
		if v != nil {
			t.Errorf("decodeAny(%.60q) declines with %#v, not nil", data, v)
		}
		if err == nil && bytes.IndexByte(data, '\\') < 0 && utf8.Valid(data) && maxNesting(data) <= fastMaxDepth &&
			noDuplicateMembers(data) == nil {
			t.Errorf("decodeAny(%.60q) declines what json.Unmarshal decodes into %#v", data, w)
		}
		return
	}
	if err != nil {
		t.Fatalf("decodeAny(%.60q) = %#v, but json.Unmarshal fails: %v", data, v, err)
	}
	// prepare skips the strict checks for a body decodeAny decodes.
	if !utf8.Valid(data) {
		t.Fatalf("decodeAny(%.60q) decodes invalid UTF-8", data)
	}
	if err := noDuplicateMembers(data); err != nil {
		t.Fatalf("decodeAny(%.60q) decodes a body noDuplicateMembers refuses: %v", data, err)
	}
	if !reflect.DeepEqual(v, w) {
		t.Fatalf("decodeAny(%.60q) = %#v, json.Unmarshal %#v", data, v, w)
	}
}

// maxNesting is an upper bound of the nesting of arrays and objects in
// data (brackets inside strings count too).
func maxNesting(data []byte) int {
	depth, deepest := 0, 0
	for _, c := range data {
		switch c {
		case '[', '{':
			depth++
			deepest = max(deepest, depth)
		case ']', '}':
			depth--
		}
	}
	return deepest
}

// TestDecodeAnyValues spells out a few decodings, independently of
// json.Unmarshal: the types, an empty array as an empty (not nil) slice,
// numbers as float64.
func TestDecodeAnyValues(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want any
	}{
		{`{"name":"bench item","price":12.5,"n":null,"ok":true}`, map[string]any{"name": "bench item", "price": 12.5, "n": nil, "ok": true}},
		{`[]`, []any{}},
		{`[1,"x",[false]]`, []any{1.0, "x", []any{false}}},
		{`9007199254740993`, 9007199254740992.0},
		{`-0`, math.Copysign(0, -1)},
		{`0.1e-400`, 0.0},
		{`{"a":{"a":1}}`, map[string]any{"a": map[string]any{"a": 1.0}}}, // a name again in another object
	} {
		t.Run(tc.in, func(t *testing.T) {
			v, ok := decodeAny([]byte(tc.in))
			if !ok || !reflect.DeepEqual(v, tc.want) {
				t.Fatalf("decodeAny(%q) = %#v, %v; want %#v", tc.in, v, ok, tc.want)
			}
			if f, isFloat := tc.want.(float64); isFloat && math.Signbit(f) != math.Signbit(v.(float64)) {
				t.Errorf("decodeAny(%q): sign of %v", tc.in, v)
			}
		})
	}
}

// TestDecodeAnyCopies: the decoding shares no memory with the body, which
// huma reuses for the next request.
func TestDecodeAnyCopies(t *testing.T) {
	data := []byte(`{"name":"bench item","tags":["a","b"]}`)
	v, ok := decodeAny(data)
	if !ok {
		t.Fatal("declined")
	}
	for i := range data {
		data[i] = 'X'
	}
	want := map[string]any{"name": "bench item", "tags": []any{"a", "b"}}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("after the body was overwritten: %#v", v)
	}
}

// TestDecodeFloat: decodeFloat declines the bytes that send a body to the
// exact path at once, and decodes the rest as decodeAny.
func TestDecodeFloat(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{`{"name":"plain","n":1}`, true},
		{`{"name":"<b>x</b>"}`, false},
		{`{"name":"a & b"}`, false},
		{`{"name":"it's"}`, false},
		{`{"name":"a > b"}`, false},
		{`{"name":"\u003c"}`, false},
		{`{"n":1e400}`, false},
		{`{"name":`, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			v, ok := decodeFloat([]byte(tc.in))
			if ok != tc.ok || (!ok && v != nil) {
				t.Fatalf("decodeFloat(%q) = %#v, %v; want ok %v", tc.in, v, ok, tc.ok)
			}
		})
	}
}

// TestDecodeAnyAllocations: the item body of the serve benchmark costs one
// copy of the text, the map (two: its header and its slots), and a box for
// each string and float64 value: 7, where json.Unmarshal takes 12.
func TestDecodeAnyAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	data := []byte(`{"name":"bench item","description":"a description","price":12.5,"tax":2.5}`)
	got := testing.AllocsPerRun(100, func() {
		if _, ok := decodeAny(data); !ok {
			t.Fatal("declined")
		}
	})
	if got > 7 {
		t.Errorf("%.0f allocations, want at most 7", got)
	}
	t.Logf("%.0f allocations", got)
}

// BenchmarkDecodeAny: decodeAny against json.Unmarshal into an any, on the
// item body of the serve benchmark.
func BenchmarkDecodeAny(b *testing.B) {
	data := []byte(`{"name":"bench item","description":"a description","price":12.5,"tax":2.5}`)
	b.Run("decodeAny", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, ok := decodeAny(data); !ok {
				b.Fatal("declined")
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v any
			if err := json.Unmarshal(data, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzDecodeAny checks decodeAny's one-sided contract against
// json.Unmarshal: when it decodes, json.Unmarshal succeeds with a deeply
// equal value; and it does not decline a body meeting its preconditions
// that json.Unmarshal decodes (checkDecodeAny).
func FuzzDecodeAny(f *testing.F) {
	for _, tc := range fastJSONCases {
		f.Add([]byte(tc.in))
	}
	for _, s := range []string{
		`{"name":"x","Name":"y"}`,
		`{"a":{"a":{"a":[1,2,{"b":null}]}}}`,
		`[1e-7,123.456e-789,1E+308,-9007199254740993]`,
		`{"":""}`,
		"[\"\u2028\u2029\"]",
		`[0,-0,0.0,1,10,-10,100e0]`,
		strings.Repeat(`{"a":[`, 400) + strings.Repeat(`]}`, 400),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, ok := decodeAny(data)
		checkDecodeAny(t, data, v, ok)
	})
}

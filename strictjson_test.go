package fortapi

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestNoDuplicateMembers(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		dup      bool
	}{
		{"flat", `{"a":1,"b":2}`, false},
		{"duplicate", `{"a":1,"a":2}`, true},
		{"duplicate after a nested object", `{"a":{"x":1},"a":2}`, true},
		{"duplicate after an array", `{"a":[1,{"a":1}],"a":2}`, true},
		{"escaped duplicate", `{"role":"user","\u0072ole":"admin"}`, true},
		{"nested duplicate", `{"a":{"b":1,"b":2}}`, true},
		{"duplicate in an array element", `[{"a":1},{"a":1,"a":2}]`, true},
		{"same name at two levels", `{"a":{"a":{"a":1}}}`, false},
		{"same name in sibling objects", `[{"a":1},{"a":2}]`, false},
		{"value equal to a name", `{"a":"a","b":"a"}`, false},
		{"no object", `[1,"a","a"]`, false},
		{"case differs", `{"a":1,"A":2}`, false},
		{"malformed is left to Unmarshal", `{"a":1,`, false},
		{"malformed after a duplicate", `{"a":1,"a"`, true},
		{"empty objects", `{"a":{},"b":{}}`, false},
		{"many members", manyMembers(40, ""), false},
		{"many members, the first repeated last", manyMembers(40, `"m0":1`), true},
		{"many members, the 17th repeated", manyMembers(40, `"m16":1`), true},
		{"sixteen members, the first repeated", manyMembers(16, `"m0":1`), true},
		{"nesting beyond the scan depth is left to Unmarshal", strings.Repeat(`{"a":`, 10002) + "1" + strings.Repeat("}", 10002), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := noDuplicateMembers([]byte(tt.in))
			if (err != nil) != tt.dup {
				t.Fatalf("noDuplicateMembers(%s) = %v, want duplicate %v", tt.in, err, tt.dup)
			}
		})
	}
}

// manyMembers is an object of n distinct members m0..m(n-1), then extra.
func manyMembers(n int, extra string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"m%d":%d`, i, i)
	}
	if extra != "" {
		b.WriteString("," + extra)
	}
	b.WriteByte('}')
	return b.String()
}

// FuzzNoDuplicateMembers: never panics, and agrees with a reference built
// on encoding/json for every valid UTF-8 document.
func FuzzNoDuplicateMembers(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":{"b":[{"c":1,"c":2}]}}`, `[{"a":1},{"a":1}]`, `{"x":"y"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		err := noDuplicateMembers([]byte(in))
		var v any
		// strictJSON refuses invalid UTF-8 before the scan (encoding/json
		// would turn every bad byte into U+FFFD and call such names equal).
		if !utf8.ValidString(in) || json.Unmarshal([]byte(in), &v) != nil {
			return
		}
		if want := hasDup(json.NewDecoder(strings.NewReader(in))); (err != nil) != want {
			t.Fatalf("noDuplicateMembers(%q) = %v, reference says duplicate %v", in, err, want)
		}
	})
}

// hasDup is a slow reference: it decodes every object into ordered
// members with RawMessage and recurses.
func hasDup(dec *json.Decoder) bool {
	var raw json.RawMessage
	if dec.Decode(&raw) != nil {
		return false
	}
	return dupIn(raw)
}

func dupIn(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	switch {
	case strings.HasPrefix(s, "["):
		var items []json.RawMessage
		_ = json.Unmarshal(raw, &items)
		for _, it := range items {
			if dupIn(it) {
				return true
			}
		}
	case strings.HasPrefix(s, "{"):
		dec := json.NewDecoder(strings.NewReader(s))
		_, _ = dec.Token() // {
		seen := map[string]bool{}
		for dec.More() {
			k, _ := dec.Token()
			name, _ := k.(string)
			if seen[name] {
				return true
			}
			seen[name] = true
			var val json.RawMessage
			if dec.Decode(&val) != nil {
				return false
			}
			if dupIn(val) {
				return true
			}
		}
	}
	return false
}

func BenchmarkNoDuplicateMembers(b *testing.B) {
	item := []byte(`{"name":"bench item","description":"a description","price":12.5,"tax":2.5}`)
	large := []byte(`{"name":"x","description":"` + strings.Repeat("<p>text &amp; more</p>", 450) + `","price":1,"tags":[{"a":1,"b":2},{"a":3,"b":4}]}`)
	for _, bc := range []struct {
		name string
		in   []byte
	}{{"item", item}, {"10KiB", large}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				if err := noDuplicateMembers(bc.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// appenderBody is a response body with an AppendFortapiJSON method that appends
// what it is told to, or fails.
type appenderBody struct {
	out string
	err error
}

func (a appenderBody) AppendFortapiJSON(b []byte) ([]byte, error) {
	if a.err != nil {
		return b, a.err
	}
	return append(b, a.out...), nil
}

// The response format writes a body with AppendFortapiJSON as json.Encoder
// writes one: its bytes and a newline, in one Write; nothing when it
// fails. A body without the method goes through encoding/json.
func TestStrictJSONMarshalAppender(t *testing.T) {
	for _, tc := range []struct {
		name    string
		v       any
		want    string
		wantErr bool
	}{
		{"appender", appenderBody{out: `{"a":"\u003cb\u003e"}`}, `{"a":"\u003cb\u003e"}` + "\n", false},
		{"large appender", appenderBody{out: `"` + strings.Repeat("x", 100_000) + `"`}, `"` + strings.Repeat("x", 100_000) + `"` + "\n", false},
		{"failing appender", appenderBody{err: fmt.Errorf("no")}, "", true},
		{"no appender", map[string]string{"a": "<b>"}, `{"a":"\u003cb\u003e"}` + "\n", false},
		{"no appender, not encodable", func() {}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 3 { // recycled buffers too
				var w countingWriter
				err := strictJSON.Marshal(&w, tc.v)
				if (err != nil) != tc.wantErr || w.b.String() != tc.want {
					t.Fatalf("Marshal = %q, %v; want %q (error %v)", w.b.String(), err, tc.want, tc.wantErr)
				}
				if tc.want != "" && w.writes != 1 {
					t.Fatalf("%d writes, want 1", w.writes)
				}
			}
		})
	}
}

type countingWriter struct {
	b      strings.Builder
	writes int
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.writes++
	return w.b.Write(p)
}

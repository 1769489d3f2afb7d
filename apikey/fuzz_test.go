package apikey

import (
	"net/url"
	"testing"
)

// FuzzParse: Parse never panics, accepts only what Encode writes (one
// spelling per key), and InURL finds every accepted key in a query.
func FuzzParse(f *testing.F) {
	k, _ := New(nil)
	f.Add(k.Encode())
	f.Add("fak_")
	f.Add("fak_0000000000000000_" + "0000000000000000000000000000000000000000000" + "000000")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := Parse(s)
		if err != nil {
			return
		}
		if got.Encode() != s || !ValidID(got.ID) {
			t.Fatalf("Parse(%q) = %+v, which encodes as %q", s, got, got.Encode())
		}
		if !InURL(&url.URL{Path: "/x", RawQuery: "k=" + url.QueryEscape(s)}) {
			t.Fatalf("InURL misses %q", s)
		}
	})
}

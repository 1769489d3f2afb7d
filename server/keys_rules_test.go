package server

import (
	"testing"

	"github.com/fortapi/fortapi/jwtkey"
)

func TestCheckKeys(t *testing.T) {
	key := func(id string) jwtkey.StoredKey { return jwtkey.StoredKey{ID: id, Alg: "EdDSA", State: "active"} }
	tests := []struct {
		name    string
		keys    []jwtkey.StoredKey
		wantErr string
	}{
		{"none", nil, ""},
		{"two", []jwtkey.StoredKey{key("a"), key("b")}, ""},
		{"no id", []jwtkey.StoredKey{key("")}, "key without an ID"},
		{"no alg", []jwtkey.StoredKey{{ID: "a", State: "active"}}, `key "a" without an Alg or State`},
		{"no state", []jwtkey.StoredKey{{ID: "a", Alg: "EdDSA"}}, `key "a" without an Alg or State`},
		{"twice", []jwtkey.StoredKey{key("a"), key("b"), key("a")}, `key "a" given twice`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckKeys(tc.keys); !errMatches(err, tc.wantErr) {
				t.Fatalf("CheckKeys = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

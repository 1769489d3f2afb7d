package oauthform

import (
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body, why, user string
	}{
		{"plain", "grant_type=password&username=alice", "", "alice"},
		{"escaped", "username=al%69ce", "", "alice"},
		{"empty", "", "", ""},
		{"bad escape", "username=%zz", "the body is not valid form encoding", ""},
		{"semicolon", "a=1;b=2", "the body is not valid form encoding", ""},
		{"repeated", "username=a&username=b", `the parameter "username" is repeated`, ""},
		{"repeated empty", "scope=&scope=", `the parameter "scope" is repeated`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, why := Parse([]byte(tc.body))
			if why != tc.why {
				t.Fatalf("reason %q, want %q", why, tc.why)
			}
			if why == "" && v.Get("username") != tc.user {
				t.Fatalf("username %q, want %q", v.Get("username"), tc.user)
			}
		})
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		want       []string
		ok         bool
	}{
		{"absent", "grant_type=password", nil, true},
		{"one", "scope=items:read", []string{"items:read"}, true},
		{"order kept", "scope=items:write+items:read", []string{"items:write", "items:read"}, true},
		{"repeat dropped", "scope=a+b+a", []string{"a", "b"}, true},
		{"extra spaces", "scope=+a++b+", []string{"a", "b"}, true},
		{"empty", "scope=", nil, false},
		{"only spaces", "scope=+++", nil, false},
		{"tab is not a separator", "scope=a%09b", []string{"a\tb"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, why := Parse([]byte(tc.body))
			if why != "" {
				t.Fatal(why)
			}
			got, ok := Scopes(v)
			if ok != tc.ok || !slices.Equal(got, tc.want) {
				t.Errorf("Scopes(%q) = %q, %v; want %q, %v", tc.body, got, ok, tc.want, tc.ok)
			}
		})
	}
}

package oauthform

import (
	"net/url"
	"slices"
	"strings"
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

// hostileScope is the scope parameter of an 8 KiB token request (both
// token endpoints' body limit) made of as many distinct scope-tokens as
// fit: 2,730 two-character tokens.
func hostileScope() (string, []string) {
	const al = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:"
	var sb strings.Builder
	var tokens []string
	for i := 0; sb.Len() < 8<<10-3; i++ {
		tok := string([]byte{al[i%len(al)], al[i/len(al)%len(al)]})
		tokens = append(tokens, tok)
		sb.WriteString(tok + " ")
	}
	return sb.String(), tokens
}

// Many distinct tokens, each given twice: the first of each kept, in
// order.
func TestScopesManyTokens(t *testing.T) {
	t.Parallel()
	s, tokens := hostileScope()
	got, ok := Scopes(url.Values{"scope": {s + s}})
	if !ok || !slices.Equal(got, tokens) {
		t.Fatalf("Scopes of %d distinct tokens given twice: %d tokens, %v; want them once, in order", len(tokens), len(got), ok)
	}
}

// The scope parameter is read before the request is authenticated: its
// cost must stay linear in its length.
func BenchmarkScopesDistinct(b *testing.B) {
	s, _ := hostileScope()
	v := url.Values{"scope": {s}}
	for b.Loop() {
		Scopes(v)
	}
}

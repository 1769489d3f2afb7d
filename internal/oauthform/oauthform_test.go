package oauthform

import "testing"

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

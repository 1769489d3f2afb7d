package server_test

import (
	"strings"
	"testing"

	"github.com/fortapi/fortapi/server"
)

func TestExternalUsername(t *testing.T) {
	t.Parallel()
	seen := map[string]string{}
	for _, id := range [][2]string{
		{"https://idp.example", "alice"},
		{"https://idp.example", "ALICE"},
		{"https://idp.example/", "alice"},
		{"https://idp.example\x00alice", ""},
		{"https://idp.example", "ａｌｉｃｅ"},
		{"https://idp.example", "al\u200bice"},
		{"https://other.example", "alice"},
		{"https://idp.example", strings.Repeat("x", 255)},
	} {
		name := server.ExternalUsername(id[0], id[1])
		canon, err := server.CanonicalUsername(name)
		if err != nil || canon != name {
			t.Fatalf("ExternalUsername(%q, %q) = %q, canonical %q, %v", id[0], id[1], name, canon, err)
		}
		if prev, dup := seen[name]; dup {
			t.Fatalf("%q and %q share %q", prev, id, name)
		}
		seen[name] = id[0] + " " + id[1]
		if h := server.ExternalPasswordHash(id[0], id[1]); !server.IsExternalPasswordHash(h) {
			t.Fatalf("hash %q not recognized", h)
		}
	}
	if server.IsExternalPasswordHash("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA") {
		t.Fatal("an argon2id hash taken for an external one")
	}
}

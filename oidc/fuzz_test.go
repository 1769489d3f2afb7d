package oidc_test

import (
	"context"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/oidc"
)

// FuzzVerify: whatever the token, Verify neither panics nor accepts
// anything but the tokens the provider signed (the seeds).
func FuzzVerify(f *testing.F) {
	ks := keys()
	p := newIDP(f, ks["rsa"], ks["ec"], ks["ed"])
	prov, _ := p.provider(f, nil)
	valid := map[string]bool{}
	for _, k := range []string{"rsa", "ec", "ed"} {
		tok := sign(f, p, ks[k], map[string]any{"scope": "read:items", "realm_access": map[string]any{"roles": []string{"admin"}}}, nil)
		if _, err := prov.Verify(context.Background(), tok); err != nil {
			f.Fatal(err)
		}
		valid[tok] = true
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
		f.Add(`eyJhbGciOiJub25lIn0.` + parts[1] + ".")
	}
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := prov.Verify(context.Background(), tok)
		if err == nil && !valid[tok] {
			t.Fatalf("accepted a token the provider did not sign: %q -> %+v", tok, c)
		}
		_ = oidc.Issuer(tok)
	})
}

// FuzzParseScopeRule: a rule that parses prints back to itself.
func FuzzParseScopeRule(f *testing.F) {
	for _, s := range []string{"scope[read:items]=items:read", "https://x.example/roles[a]b]=s", "a[b]=c", "[]=", "x[y]="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := oidc.ParseScopeRule(s)
		if err != nil {
			return
		}
		r2, err := oidc.ParseScopeRule(r.String())
		if err != nil || r2 != r {
			t.Fatalf("%q -> %+v -> %q -> %+v, %v", s, r, r.String(), r2, err)
		}
	})
}

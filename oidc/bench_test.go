package oidc_test

import (
	"context"
	"testing"
)

// BenchmarkVerify is the cost of one external token's check with the
// keys cached (no fetch): signature, header and claims.
func BenchmarkVerify(b *testing.B) {
	ks := keys()
	p := newIDP(b, ks["rsa"], ks["ec"], ks["ed"])
	prov, _ := p.provider(b, nil)
	for _, k := range []string{"rsa", "ec", "ed"} {
		tok := sign(b, p, ks[k], map[string]any{"scope": "read:items other", "scp": []string{"Items.Write"}}, nil)
		b.Run(ks[k].alg, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := prov.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

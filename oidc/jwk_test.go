package oidc

import "testing"

// FuzzParseJWKS: a provider's JWKS never panics the parser, and every key
// it yields has an accepted algorithm.
func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"EC","kid":"a","crv":"P-256","x":"AAAA","y":"AAAA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"},{"kty":"OKP","kid":"e","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		keys, err := parseJWKS(b)
		if err != nil {
			return
		}
		for kid, k := range keys {
			if kid == "" || (!rsaAlgs[k.alg] && k.alg != "ES256" && k.alg != "ES384" && k.alg != "ES512" && k.alg != "EdDSA") {
				t.Fatalf("key %q with alg %q", kid, k.alg)
			}
		}
	})
}

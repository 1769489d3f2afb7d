package jwtkey

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"time"
)

// jwk is one RFC 7517 public key. Field order is the output order.
type jwk struct {
	Kid string `json:"kid"`
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
	Alg Alg    `json:"alg"`
	Use string `json:"use"`
}

type jwkSet struct {
	Keys []jwk `json:"keys"`
}

// jwksAt encodes the public keys to publish at now: the active key first,
// then the next key, then the retiring keys whose RetiredAt is after now.
// HS256 keys are symmetric and never published; neither is any private
// member. It also returns the earliest RetiredAt among the published
// retiring keys (zero if none), when the set goes stale. It returns nil
// only if encoding fails, which it cannot for these types.
func jwksAt(recs []*record, now time.Time) ([]byte, time.Time) {
	set := jwkSet{Keys: []jwk{}}
	var until time.Time
	for _, want := range [...]State{StateActive, StateNext, StateRetiring} {
		for _, rec := range recs {
			k := rec.k
			if k.State != want {
				continue
			}
			if want == StateRetiring {
				if !now.Before(k.RetiredAt) {
					continue
				}
				if until.IsZero() || k.RetiredAt.Before(until) {
					until = k.RetiredAt
				}
			}
			if j, ok := publicJWK(k); ok {
				set.Keys = append(set.Keys, j)
			}
		}
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, time.Time{}
	}
	return b, until
}

// publicJWK is the JWK of a stored key's public half, from StoredKey.Public
// (which load has checked against the private key).
func publicJWK(k StoredKey) (jwk, bool) {
	enc := base64.RawURLEncoding
	switch k.Alg {
	case EdDSA:
		if len(k.Public) != ed25519.PublicKeySize {
			return jwk{}, false
		}
		return jwk{Kid: k.ID, Kty: "OKP", Crv: "Ed25519", X: enc.EncodeToString(k.Public), Alg: k.Alg, Use: "sig"}, true
	case ES256:
		// Uncompressed point: 0x04 | X (32) | Y (32); RFC 7518 §6.2.1
		// wants each coordinate as exactly 32 bytes.
		if len(k.Public) != 65 || k.Public[0] != 4 {
			return jwk{}, false
		}
		return jwk{Kid: k.ID, Kty: "EC", Crv: "P-256", X: enc.EncodeToString(k.Public[1:33]), Y: enc.EncodeToString(k.Public[33:]), Alg: k.Alg, Use: "sig"}, true
	}
	return jwk{}, false // HS256: a shared secret is never published
}

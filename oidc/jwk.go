package oidc

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
)

// MinRSABits is the smallest RSA modulus accepted in a JWKS.
const MinRSABits = 2048

// maxKeys bounds the keys taken from one JWKS.
const maxKeys = 100

// publicKey is a verification key from the provider's JWKS with the one
// algorithm it verifies.
type publicKey struct {
	alg string
	key any // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
}

// rawJWK is one member of a JWKS's "keys" (RFC 7517, 7518, 8037).
type rawJWK struct {
	Kty    string   `json:"kty"`
	Kid    string   `json:"kid"`
	Use    string   `json:"use"`
	Alg    string   `json:"alg"`
	KeyOps []string `json:"key_ops"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      string   `json:"y"`
	// Private members: a JWKS that publishes one is refused whole.
	D string `json:"d"`
	K string `json:"k"`
}

// Algorithms accepted from a JWKS. HS* (a symmetric "oct" key has no
// business in a public JWKS) and "none" are never accepted.
var rsaAlgs = map[string]bool{"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true}

var ecAlgByCurve = map[string]string{"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}

var b64 = base64.RawURLEncoding.Strict()

// parseJWKS returns the usable signature keys of a JWKS by kid. Keys for
// encryption, of an unknown type or algorithm, or without a kid are
// skipped; a kid that appears twice is dropped (ambiguous). A JWKS
// publishing private or symmetric key material is refused.
func parseJWKS(body []byte) (map[string]publicKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("the JWKS is not a JSON object with keys: %v", err)
	}
	if len(set.Keys) > maxKeys {
		return nil, fmt.Errorf("the JWKS has %d keys, more than %d", len(set.Keys), maxKeys)
	}
	out := make(map[string]publicKey, len(set.Keys))
	dup := map[string]bool{}
	for _, raw := range set.Keys {
		var j rawJWK
		if err := json.Unmarshal(raw, &j); err != nil {
			continue
		}
		if j.D != "" || j.K != "" || j.Kty == "oct" {
			return nil, errors.New("the JWKS publishes private or symmetric key material")
		}
		if j.Kid == "" || (j.Use != "" && j.Use != "sig") || !verifyOp(j.KeyOps) {
			continue
		}
		k, err := j.parse()
		if err != nil {
			continue
		}
		if _, ok := out[j.Kid]; ok || dup[j.Kid] {
			delete(out, j.Kid)
			dup[j.Kid] = true
			continue
		}
		out[j.Kid] = k
	}
	return out, nil
}

func verifyOp(ops []string) bool {
	if ops == nil {
		return true
	}
	for _, o := range ops {
		if o == "verify" {
			return true
		}
	}
	return false
}

func (j *rawJWK) parse() (publicKey, error) {
	switch j.Kty {
	case "RSA":
		alg := j.Alg
		if alg == "" {
			alg = "RS256" // the one RSA algorithm OpenID Connect requires
		}
		if !rsaAlgs[alg] {
			return publicKey{}, fmt.Errorf("RSA key with alg %q", alg)
		}
		n, err := b64.DecodeString(j.N)
		if err != nil || len(n) == 0 || n[0] == 0 {
			return publicKey{}, errors.New("bad RSA modulus")
		}
		e, err := b64.DecodeString(j.E)
		if err != nil || len(e) == 0 || len(e) > 4 || e[0] == 0 {
			return publicKey{}, errors.New("bad RSA exponent")
		}
		var exp int
		for _, b := range e {
			exp = exp<<8 | int(b)
		}
		if exp < 3 || exp%2 == 0 {
			return publicKey{}, errors.New("bad RSA exponent")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}
		if pub.N.BitLen() < MinRSABits {
			return publicKey{}, errors.New("RSA modulus too short")
		}
		return publicKey{alg: alg, key: pub}, nil
	case "EC":
		alg, ok := ecAlgByCurve[j.Crv]
		if !ok || (j.Alg != "" && j.Alg != alg) {
			return publicKey{}, fmt.Errorf("EC key on %q with alg %q", j.Crv, j.Alg)
		}
		curve := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}[j.Crv]
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := b64.DecodeString(j.X)
		y, err2 := b64.DecodeString(j.Y)
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return publicKey{}, errors.New("bad EC point")
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return publicKey{}, err // not on the curve
		}
		return publicKey{alg: alg, key: pub}, nil
	case "OKP":
		if j.Crv != "Ed25519" || (j.Alg != "" && j.Alg != "EdDSA") {
			return publicKey{}, fmt.Errorf("OKP key on %q", j.Crv)
		}
		x, err := b64.DecodeString(j.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return publicKey{}, errors.New("bad Ed25519 key")
		}
		return publicKey{alg: "EdDSA", key: ed25519.PublicKey(x)}, nil
	}
	return publicKey{}, fmt.Errorf("key type %q", j.Kty)
}

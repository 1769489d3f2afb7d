package jwtkey

// Alg is a JWS signature algorithm a key is bound to. A key signs and
// verifies with exactly one algorithm; verifiers take it from the key named
// by a token's kid, never from the token header.
type Alg string

// The algorithms a Ring can hold.
const (
	EdDSA Alg = "EdDSA" // Ed25519, the default
	ES256 Alg = "ES256" // ECDSA P-256 with SHA-256
	HS256 Alg = "HS256" // HMAC-SHA256; keys are at least 32 random bytes
)

// SigningKey is the key a token issuer signs with: the ring's active key.
//
// Key is ed25519.PrivateKey for EdDSA, *ecdsa.PrivateKey for ES256 and
// []byte for HS256.
type SigningKey struct {
	ID  string
	Alg Alg
	Key any
}

// VerifyingKey is a key a token verifier may check a signature with.
//
// Key is ed25519.PublicKey for EdDSA, *ecdsa.PublicKey for ES256 and []byte
// for HS256.
type VerifyingKey struct {
	ID  string
	Alg Alg
	Key any
}

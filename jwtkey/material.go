package jwtkey

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
)

// Sizes and limits.
const (
	// MasterKeySize is the exact length of Options.MasterKey.
	MasterKeySize = 32
	// MinHMACKeySize is the shortest HS256 key accepted.
	MinHMACKeySize = 32
	// MaxKIDLength is the longest kid a Ring looks up or loads. The kids a
	// Ring generates are 22 characters (128 random bits, base64url).
	MaxKIDLength = 64

	kidRandomBytes = 16
	seedSize       = 32
)

// material is a key's parsed secret and public halves.
type material struct {
	sign   any    // ed25519.PrivateKey, *ecdsa.PrivateKey or []byte
	verify any    // ed25519.PublicKey, *ecdsa.PublicKey or []byte
	secret []byte // what is sealed: PKCS#8 DER, or the raw HMAC key
	public []byte // what is stored in StoredKey.Public (nil for HS256)
}

// validAlg reports whether a is an algorithm a Ring can hold.
func validAlg(a Alg) bool {
	switch a {
	case EdDSA, ES256, HS256:
		return true
	}
	return false
}

// validKID reports whether kid is a plausible key id: 1 to MaxKIDLength
// characters of the base64url alphabet.
func validKID(kid string) bool {
	if len(kid) == 0 || len(kid) > MaxKIDLength {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// newKID returns a fresh random key id: 127 random bits, base64url
// without padding. It is never derived from key material or any input.
// The top bit is cleared so that the first character is always a letter
// (A-Z, a-f): a kid never starts with '-', which command lines would take
// for a flag (`fortapi keys revoke KID`).
func newKID(r io.Reader) (string, error) {
	var b [kidRandomBytes]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("jwtkey: reading randomness for a kid: %w", err)
	}
	b[0] &= 0x7f
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// generate creates fresh key material for alg from r.
func generate(r io.Reader, alg Alg) (material, error) {
	var seed [seedSize]byte
	defer clear(seed[:])
	switch alg {
	case EdDSA:
		if _, err := io.ReadFull(r, seed[:]); err != nil {
			return material{}, fmt.Errorf("jwtkey: reading randomness for an Ed25519 key: %w", err)
		}
		return parseSecret(EdDSA, nil, ed25519.NewKeyFromSeed(seed[:]))
	case ES256:
		// Rejection sampling: a 32-byte string is a valid P-256 scalar
		// unless it is zero or not below the group order (probability
		// about 2^-32), so a few tries always suffice with a working reader.
		for range 8 {
			if _, err := io.ReadFull(r, seed[:]); err != nil {
				return material{}, fmt.Errorf("jwtkey: reading randomness for a P-256 key: %w", err)
			}
			priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), seed[:])
			if err != nil {
				continue
			}
			return parseSecret(ES256, nil, priv)
		}
		return material{}, errors.New("jwtkey: the random source produced no valid P-256 scalar in 8 tries")
	case HS256:
		secret := make([]byte, MinHMACKeySize)
		if _, err := io.ReadFull(r, secret); err != nil {
			return material{}, fmt.Errorf("jwtkey: reading randomness for an HMAC key: %w", err)
		}
		return parseSecret(HS256, secret, nil)
	}
	return material{}, fmt.Errorf("%w: unsupported algorithm %q", ErrInvalidOptions, alg)
}

// parseSecret builds material either from a sealed secret (PKCS#8 DER or
// raw HMAC bytes) or, when key is not nil, from a private key object.
func parseSecret(alg Alg, secret []byte, key any) (material, error) {
	switch alg {
	case EdDSA:
		if key == nil {
			k, err := x509.ParsePKCS8PrivateKey(secret)
			if err != nil {
				return material{}, fmt.Errorf("%w: parsing PKCS#8: %v", ErrCorruptKey, err)
			}
			key = k
		}
		priv, ok := key.(ed25519.PrivateKey)
		if !ok || len(priv) != ed25519.PrivateKeySize {
			return material{}, fmt.Errorf("%w: not an Ed25519 private key", ErrCorruptKey)
		}
		pub := priv.Public().(ed25519.PublicKey)
		if secret == nil {
			der, err := x509.MarshalPKCS8PrivateKey(priv)
			if err != nil {
				return material{}, fmt.Errorf("jwtkey: encoding PKCS#8: %w", err)
			}
			secret = der
		}
		return material{sign: priv, verify: pub, secret: secret, public: bytes.Clone(pub)}, nil
	case ES256:
		if key == nil {
			k, err := x509.ParsePKCS8PrivateKey(secret)
			if err != nil {
				return material{}, fmt.Errorf("%w: parsing PKCS#8: %v", ErrCorruptKey, err)
			}
			key = k
		}
		priv, ok := key.(*ecdsa.PrivateKey)
		if !ok || priv.Curve != elliptic.P256() {
			return material{}, fmt.Errorf("%w: not a P-256 private key", ErrCorruptKey)
		}
		public, err := priv.PublicKey.Bytes()
		if err != nil {
			return material{}, fmt.Errorf("%w: encoding the public key: %v", ErrCorruptKey, err)
		}
		if secret == nil {
			der, err := x509.MarshalPKCS8PrivateKey(priv)
			if err != nil {
				return material{}, fmt.Errorf("jwtkey: encoding PKCS#8: %w", err)
			}
			secret = der
		}
		return material{sign: priv, verify: &priv.PublicKey, secret: secret, public: public}, nil
	case HS256:
		if len(secret) < MinHMACKeySize {
			return material{}, fmt.Errorf("%w: an HS256 key has %d bytes, at least %d are required", ErrWeakKey, len(secret), MinHMACKeySize)
		}
		return material{sign: secret, verify: secret, secret: secret}, nil
	}
	return material{}, fmt.Errorf("%w: unsupported algorithm %q", ErrCorruptKey, alg)
}

// GenerateKey creates a standalone key pair for alg with a fresh random
// kid, outside any Ring: for tests and for tools that need one key. A nil
// random uses crypto/rand. For HS256 both halves hold the same 32-byte
// secret.
func GenerateKey(random io.Reader, alg Alg) (SigningKey, VerifyingKey, error) {
	if random == nil {
		random = rand.Reader
	}
	if !validAlg(alg) {
		return SigningKey{}, VerifyingKey{}, fmt.Errorf("%w: unsupported algorithm %q", ErrInvalidOptions, alg)
	}
	kid, err := newKID(random)
	if err != nil {
		return SigningKey{}, VerifyingKey{}, err
	}
	m, err := generate(random, alg)
	if err != nil {
		return SigningKey{}, VerifyingKey{}, err
	}
	return SigningKey{ID: kid, Alg: alg, Key: m.sign}, VerifyingKey{ID: kid, Alg: alg, Key: m.verify}, nil
}

// NewHMACKey checks an HS256 secret supplied from outside (configuration,
// a secrets manager) and returns it as a signing and a verifying key under
// kid. A secret shorter than MinHMACKeySize bytes is refused with
// ErrWeakKey; kid must be 1 to MaxKIDLength base64url characters. The
// secret is copied. It should be random bytes: a password or a phrase of
// the same length is far weaker than its length suggests.
func NewHMACKey(kid string, secret []byte) (SigningKey, VerifyingKey, error) {
	if !validKID(kid) {
		return SigningKey{}, VerifyingKey{}, fmt.Errorf("%w: kid must be 1 to %d base64url characters", ErrInvalidOptions, MaxKIDLength)
	}
	if len(secret) < MinHMACKeySize {
		return SigningKey{}, VerifyingKey{}, fmt.Errorf("%w: an HS256 key has %d bytes, at least %d are required", ErrWeakKey, len(secret), MinHMACKeySize)
	}
	k := bytes.Clone(secret)
	return SigningKey{ID: kid, Alg: HS256, Key: k}, VerifyingKey{ID: kid, Alg: HS256, Key: k}, nil
}

package jwtkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
)

// Sealed format, version 1:
//
//	0x01 | check (8) | nonce (12) | AES-256-GCM ciphertext and tag
//
// The AES key and the check value are derived from the master key with
// HKDF-SHA256 under distinct labels. The check value lets a wrong master
// key be told apart from a tampered blob; it reveals nothing an attacker
// could not learn by trying the key on the ciphertext itself. The
// additional authenticated data binds the blob to its kid, its algorithm
// and its stored public key, so a blob moved to another row, relabelled
// with another algorithm or paired with a substituted public key fails to
// open.
const (
	sealVersion   = 1
	sealCheckSize = 8
	sealNonceSize = 12
	sealOverhead  = 1 + sealCheckSize + sealNonceSize + 16

	sealKeyLabel   = "fortapi/jwtkey v1 seal key"
	sealCheckLabel = "fortapi/jwtkey v1 master key check"
	sealAADLabel   = "fortapi/jwtkey v1 sealed private key"
)

// sealer encrypts private key material under the master key.
type sealer struct {
	aead  cipher.AEAD
	check [sealCheckSize]byte
}

func newSealer(master []byte) (*sealer, error) {
	key, err := hkdf.Key(sha256.New, master, nil, sealKeyLabel, 32)
	if err != nil {
		return nil, fmt.Errorf("jwtkey: deriving the sealing key: %w", err)
	}
	defer clear(key)
	check, err := hkdf.Key(sha256.New, master, nil, sealCheckLabel, sealCheckSize)
	if err != nil {
		return nil, fmt.Errorf("jwtkey: deriving the master key check: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("jwtkey: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("jwtkey: %w", err)
	}
	s := &sealer{aead: aead}
	copy(s.check[:], check)
	return s, nil
}

// aad is the additional authenticated data for one key: a label, then
// kid, alg and public key, each prefixed with its length so that no two
// different triples encode alike.
func aad(kid string, alg Alg, public []byte) []byte {
	b := make([]byte, 0, len(sealAADLabel)+12+len(kid)+len(alg)+len(public))
	b = append(b, sealAADLabel...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(kid)))
	b = append(b, kid...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(alg)))
	b = append(b, alg...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(public)))
	b = append(b, public...)
	return b
}

// seal encrypts secret for the row (kid, alg, public) with a random nonce.
func (s *sealer) seal(random io.Reader, kid string, alg Alg, public, secret []byte) ([]byte, error) {
	out := make([]byte, 1+sealCheckSize+sealNonceSize, sealOverhead+len(secret))
	out[0] = sealVersion
	copy(out[1:], s.check[:])
	nonce := out[1+sealCheckSize:]
	if _, err := io.ReadFull(random, nonce); err != nil {
		return nil, fmt.Errorf("jwtkey: reading randomness for a nonce: %w", err)
	}
	return s.aead.Seal(out, nonce, secret, aad(kid, alg, public)), nil
}

// open decrypts a sealed blob of the row (kid, alg, public). A blob made
// under another master key fails with ErrWrongMasterKey; any other damage
// fails with ErrCorruptKey.
func (s *sealer) open(kid string, alg Alg, public, sealed []byte) ([]byte, error) {
	if len(sealed) < sealOverhead {
		return nil, fmt.Errorf("%w: sealed private key is %d bytes, too short", ErrCorruptKey, len(sealed))
	}
	if sealed[0] != sealVersion {
		return nil, fmt.Errorf("%w: unknown sealed format version %d", ErrCorruptKey, sealed[0])
	}
	if subtle.ConstantTimeCompare(sealed[1:1+sealCheckSize], s.check[:]) != 1 {
		return nil, ErrWrongMasterKey
	}
	nonce := sealed[1+sealCheckSize : 1+sealCheckSize+sealNonceSize]
	ct := sealed[1+sealCheckSize+sealNonceSize:]
	plain, err := s.aead.Open(nil, nonce, ct, aad(kid, alg, public))
	if err != nil {
		return nil, fmt.Errorf("%w: the sealed private key does not authenticate (altered, or moved from another key)", ErrCorruptKey)
	}
	return plain, nil
}

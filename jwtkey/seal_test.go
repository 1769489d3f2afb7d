package jwtkey

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
)

// TestSealAAD: each part of the additional data is bound on its own, so a
// blob opens only for the row it was sealed for.
func TestSealAAD(t *testing.T) {
	s, err := newSealer(bytes.Repeat([]byte{0x5a}, MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("private key bytes")
	public := []byte("public key bytes")
	sealed, err := s.seal(rand.Reader, "kid1", EdDSA, public, secret)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, secret) {
		t.Fatal("sealed blob contains the secret")
	}
	again, _ := s.seal(rand.Reader, "kid1", EdDSA, public, secret)
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of the same secret are equal: the nonce is not random")
	}
	tests := []struct {
		name   string
		kid    string
		alg    Alg
		public []byte
		want   error
	}{
		{"same row", "kid1", EdDSA, public, nil},
		{"other kid", "kid2", EdDSA, public, ErrCorruptKey},
		{"other alg", "kid1", ES256, public, ErrCorruptKey},
		{"other public", "kid1", EdDSA, []byte("public key byteS"), ErrCorruptKey},
		{"no public", "kid1", EdDSA, nil, ErrCorruptKey},
		{"shifted boundary", "kid1E", "dDSA", public, ErrCorruptKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.open(tt.kid, tt.alg, tt.public, sealed)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("open = %v, want %v", err, tt.want)
			}
			if err == nil && !bytes.Equal(got, secret) {
				t.Fatal("open returned other bytes")
			}
		})
	}
	other, _ := newSealer(bytes.Repeat([]byte{0xa5}, MasterKeySize))
	if _, err := other.open("kid1", EdDSA, public, sealed); !errors.Is(err, ErrWrongMasterKey) {
		t.Fatalf("open under another master key = %v", err)
	}
}

// TestLoadRefusesShortHMACKey: a stored HS256 key shorter than 32 bytes is
// refused even when it authenticates.
func TestLoadRefusesShortHMACKey(t *testing.T) {
	master := bytes.Repeat([]byte{0x5a}, MasterKeySize)
	r, err := newRing(Options{MasterKey: master, Store: NewMemoryStore(), Alg: HS256})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 16, 31, 32} {
		sealed, err := r.sealer.seal(rand.Reader, "kid1", HS256, nil, bytes.Repeat([]byte{7}, n))
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.load(StoredKey{ID: "kid1", Alg: HS256, State: StateActive, Sealed: sealed}, nil)
		if n < MinHMACKeySize && !errors.Is(err, ErrWeakKey) {
			t.Errorf("%d-byte HMAC key loaded: %v", n, err)
		}
		if n >= MinHMACKeySize && err != nil {
			t.Errorf("%d-byte HMAC key refused: %v", n, err)
		}
	}
}

// TestKIDNeverLooksLikeAFlag: a kid starts with a letter, so that
// `fortapi keys revoke KID` never takes it for a flag.
func TestKIDNeverLooksLikeAFlag(t *testing.T) {
	// 0xff bytes are the worst case: without the cleared bit the first
	// character would be '_' (and 0xf8.. gives '-').
	for _, fill := range []byte{0x00, 0xf8, 0xfb, 0xff} {
		t.Run(fmt.Sprintf("%#x", fill), func(t *testing.T) {
			kid, err := newKID(bytes.NewReader(bytes.Repeat([]byte{fill}, 64)))
			if err != nil {
				t.Fatal(err)
			}
			if c := kid[0]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') || !validKID(kid) {
				t.Errorf("kid %q", kid)
			}
		})
	}
}

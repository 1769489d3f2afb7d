package apikey

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
)

// Prefix starts every key.
const Prefix = "fak_"

// Lengths of a key's parts, in characters.
const (
	IDLen       = 16
	SecretLen   = 43
	checksumLen = 6
	// Len is the length of a whole key.
	Len = len(Prefix) + IDLen + 1 + SecretLen + checksumLen
)

// MinHashKeyBytes is the shortest key NewHasher accepts.
const MinHashKeyBytes = 32

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Errors of Parse. ErrChecksum is the typo: the characters are those of a
// key but the checksum does not match.
var (
	ErrMalformed = errors.New("apikey: not an API key")
	ErrChecksum  = errors.New("apikey: the API key's checksum does not match (mistyped or truncated)")
)

// Key is a parsed API key. Its String and LogValue never show the secret;
// Encode does.
type Key struct {
	ID     string
	Secret string
}

// New returns a new random key, reading randomness from rnd (crypto/rand
// when nil).
func New(rnd io.Reader) (Key, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	id, err := randomString(rnd, IDLen)
	if err != nil {
		return Key{}, err
	}
	secret, err := randomString(rnd, SecretLen)
	if err != nil {
		return Key{}, err
	}
	return Key{ID: id, Secret: secret}, nil
}

// randomString returns n characters of alphabet, uniformly (rejection
// sampling: bytes of 248 and above are drawn again).
func randomString(rnd io.Reader, n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4+8)
	for len(out) < n {
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return "", fmt.Errorf("apikey: reading randomness: %w", err)
		}
		for _, b := range buf {
			if b < 248 && len(out) < n {
				out = append(out, alphabet[b%62])
			}
		}
	}
	return string(out), nil
}

// Encode returns the key as it is given to its owner, once:
// fak_<id>_<secret><checksum>.
func (k Key) Encode() string {
	body := Prefix + k.ID + "_" + k.Secret
	return body + checksum(body)
}

// String names the key by its id only.
func (k Key) String() string { return Prefix + k.ID + "_[REDACTED]" }

// LogValue is the id only.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

func checksum(body string) string {
	v := crc32.ChecksumIEEE([]byte(body))
	var out [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = alphabet[v%62]
		v /= 62
	}
	return string(out[:])
}

// Parse checks s (length, prefix, alphabet, checksum) and returns its id
// and secret. It reads nothing but s: ErrMalformed for what is not a key
// at all, ErrChecksum for a key with a wrong character.
func Parse(s string) (Key, error) {
	if len(s) != Len || !strings.HasPrefix(s, Prefix) || s[len(Prefix)+IDLen] != '_' {
		return Key{}, ErrMalformed
	}
	body := s[:Len-checksumLen]
	for i := len(Prefix); i < Len; i++ {
		if i != len(Prefix)+IDLen && !isBase62(s[i]) {
			return Key{}, ErrMalformed
		}
	}
	if checksum(body) != s[Len-checksumLen:] {
		return Key{}, ErrChecksum
	}
	return Key{ID: s[len(Prefix) : len(Prefix)+IDLen], Secret: s[len(Prefix)+IDLen+1 : Len-checksumLen]}, nil
}

// ValidID reports whether s can be a key's id (for a path parameter,
// before any store lookup).
func ValidID(s string) bool {
	if len(s) != IDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isBase62(s[i]) {
			return false
		}
	}
	return true
}

func isBase62(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

// Hasher hashes keys for storage: HMAC-SHA-256 under a server key, so a
// copy of the database without that key cannot even test a guess.
type Hasher struct{ key []byte }

// NewHasher returns a Hasher under key (at least MinHashKeyBytes of secret
// randomness, the same on every instance sharing a store; copied).
func NewHasher(key []byte) (*Hasher, error) {
	if len(key) < MinHashKeyBytes {
		return nil, fmt.Errorf("apikey: the hash key is %d bytes, want at least %d", len(key), MinHashKeyBytes)
	}
	return &Hasher{key: slices.Clone(key)}, nil
}

// Hash returns the 32-byte hash to store for k.
func (h *Hasher) Hash(k Key) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte("fortapi api key v1\x00"))
	m.Write([]byte(k.ID))
	m.Write([]byte{0})
	m.Write([]byte(k.Secret))
	return m.Sum(nil)
}

// Verify reports, in constant time, whether stored is the hash of k.
func (h *Hasher) Verify(k Key, stored []byte) bool {
	return hmac.Equal(h.Hash(k), stored)
}

// Allowlist is the networks a key may be used from; empty allows every
// address.
type Allowlist []netip.Prefix

// ParseAllowlist parses CIDR prefixes ("203.0.113.0/24", "2001:db8::/32";
// a bare address is its own /32 or /128), masked to their network. An
// IPv4-mapped IPv6 prefix is taken as its IPv4 equivalent. The error
// quotes the first invalid entry.
func ParseAllowlist(cidrs []string) (Allowlist, error) {
	out := make(Allowlist, 0, len(cidrs))
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("apikey: %q is not a CIDR prefix (203.0.113.0/24, 2001:db8::/32)", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Zone() != "" {
			return nil, fmt.Errorf("apikey: %q has a zone, which a prefix cannot have", s)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Strings returns the prefixes as text.
func (l Allowlist) Strings() []string {
	out := make([]string, len(l))
	for i, p := range l {
		out[i] = p.String()
	}
	return out
}

// Allows reports whether a key restricted to l may be used from addr. An
// empty list allows every address; an invalid addr is allowed by none.
func (l Allowlist) Allows(addr netip.Addr) bool {
	if len(l) == 0 {
		return true
	}
	addr = addr.Unmap()
	if !addr.IsValid() {
		return false
	}
	for _, p := range l {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

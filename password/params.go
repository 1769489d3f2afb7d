package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Defaults of the argon2id parameters (OWASP Password Storage Cheat Sheet:
// m=19 MiB, t=2, p=1). They are also the weakest parameters NewHasher
// accepts.
const (
	DefaultMemoryKiB uint32 = 19456 // 19 MiB
	DefaultTime      uint32 = 2
	DefaultThreads   uint8  = 1
	DefaultSaltLen   uint32 = 16
	DefaultKeyLen    uint32 = 32
)

// MaxPasswordBytes is the longest password, in bytes, that is hashed or
// verified, counted before and after NFKC normalization. Longer passwords are
// refused by Hash and by Policy, and Verify answers "no match" for them
// without hashing: normalizing and hashing attacker-sized input would be a
// cheap way to burn CPU.
const MaxPasswordBytes = 1024

// Bounds on stored hashes. A stored hash chooses how much memory and time
// its verification costs, so Verify refuses (ErrMalformedHash) hashes that
// ask for more than these bounds instead of allocating whatever the string
// says. They also bound the parameters a Hasher may be configured with.
//
// The memory cap of 256 MiB is 13 times the default and admits RFC 9106's
// second recommended option (64 MiB, t=3, p=4); RFC 9106's first option
// (2 GiB) is deliberately out of reach of a web service. With the time cap
// the most expensive acceptable argon2id hash costs about 4 s of CPU on a
// current core; the most expensive acceptable bcrypt hash (cost 16) about
// 5 s.
const (
	MaxMemoryKiB  uint32 = 256 * 1024 // 256 MiB
	MaxTime       uint32 = 16
	MaxThreads    uint8  = 16
	MinSaltLen           = 8  // bytes, as the PHC string format requires
	MaxSaltLen           = 64 // bytes
	MinKeyLen            = 16 // bytes
	MaxKeyLen            = 64 // bytes
	MinBcryptCost        = 4
	MaxBcryptCost        = 16
)

// maxEncodedLen bounds the length of a stored hash before it is parsed. The
// longest valid argon2id string with the bounds above is 208 bytes, a bcrypt
// string is 60.
const maxEncodedLen = 256

// ErrMalformedHash is returned (wrapped, with the reason) by Verify for a
// stored hash that is not a well-formed argon2id v=19 PHC string or bcrypt
// $2a$/$2b$/$2y$ string within the bounds above. The message never contains
// the stored hash.
var ErrMalformedHash = errors.New("password: malformed stored hash")

func malformed(reason string) error {
	return fmt.Errorf("%w: %s", ErrMalformedHash, reason)
}

// Params are argon2id parameters. A zero field takes its default
// (DefaultMemoryKiB, DefaultTime, DefaultThreads, DefaultSaltLen,
// DefaultKeyLen), so Params{Time: 3} means m=19456,t=3,p=1.
type Params struct {
	// Memory is the memory cost in KiB. Default 19456 (19 MiB), minimum
	// 19456, maximum MaxMemoryKiB.
	Memory uint32
	// Time is the number of passes over the memory. Default 2, minimum 2,
	// maximum MaxTime.
	Time uint32
	// Threads is the degree of parallelism (lanes). Default 1, maximum
	// MaxThreads. Each computation uses up to Threads goroutines, so the
	// CPU a Hasher can occupy is MaxConcurrent × Threads cores.
	Threads uint8
	// SaltLen is the salt length in bytes. Default 16, minimum 16, maximum
	// MaxSaltLen.
	SaltLen uint32
	// KeyLen is the length of the derived hash in bytes. Default 32,
	// minimum 32, maximum MaxKeyLen.
	KeyLen uint32
}

// DefaultParams returns the default argon2id parameters: m=19456 KiB, t=2,
// p=1, 16-byte salt, 32-byte hash.
func DefaultParams() Params {
	return Params{
		Memory:  DefaultMemoryKiB,
		Time:    DefaultTime,
		Threads: DefaultThreads,
		SaltLen: DefaultSaltLen,
		KeyLen:  DefaultKeyLen,
	}
}

func (p Params) withDefaults() Params {
	d := DefaultParams()
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Time == 0 {
		p.Time = d.Time
	}
	if p.Threads == 0 {
		p.Threads = d.Threads
	}
	if p.SaltLen == 0 {
		p.SaltLen = d.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = d.KeyLen
	}
	return p
}

// validate refuses parameters weaker than the defaults or beyond the bounds
// that Verify accepts (a hasher must be able to verify its own hashes).
func (p Params) validate() error {
	switch {
	case p.Memory < DefaultMemoryKiB:
		return fmt.Errorf("password: argon2id memory %d KiB is below the minimum %d KiB", p.Memory, DefaultMemoryKiB)
	case p.Memory > MaxMemoryKiB:
		return fmt.Errorf("password: argon2id memory %d KiB is above the maximum %d KiB", p.Memory, MaxMemoryKiB)
	case p.Time < DefaultTime:
		return fmt.Errorf("password: argon2id time %d is below the minimum %d", p.Time, DefaultTime)
	case p.Time > MaxTime:
		return fmt.Errorf("password: argon2id time %d is above the maximum %d", p.Time, MaxTime)
	case p.Threads > MaxThreads:
		return fmt.Errorf("password: argon2id parallelism %d is above the maximum %d", p.Threads, MaxThreads)
	case p.SaltLen < DefaultSaltLen || p.SaltLen > MaxSaltLen:
		return fmt.Errorf("password: argon2id salt length %d is outside %d..%d", p.SaltLen, DefaultSaltLen, MaxSaltLen)
	case p.KeyLen < DefaultKeyLen || p.KeyLen > MaxKeyLen:
		return fmt.Errorf("password: argon2id key length %d is outside %d..%d", p.KeyLen, DefaultKeyLen, MaxKeyLen)
	}
	return nil
}

// argon2Hash is a parsed argon2id v=19 PHC string.
type argon2Hash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

const argon2Prefix = "$argon2id$v=19$"

func encodeArgon2id(h argon2Hash) string {
	b64 := base64.RawStdEncoding
	var sb strings.Builder
	sb.Grow(len(argon2Prefix) + 32 + b64.EncodedLen(len(h.salt)) + b64.EncodedLen(len(h.key)))
	sb.WriteString(argon2Prefix)
	sb.WriteString("m=")
	sb.WriteString(strconv.FormatUint(uint64(h.memory), 10))
	sb.WriteString(",t=")
	sb.WriteString(strconv.FormatUint(uint64(h.time), 10))
	sb.WriteString(",p=")
	sb.WriteString(strconv.FormatUint(uint64(h.threads), 10))
	sb.WriteByte('$')
	sb.WriteString(b64.EncodeToString(h.salt))
	sb.WriteByte('$')
	sb.WriteString(b64.EncodeToString(h.key))
	return sb.String()
}

// parseArgon2id parses exactly "$argon2id$v=19$m=M,t=T,p=P$SALT$HASH" with
// canonical decimals and unpadded standard base64, within the bounds above.
// Optional PHC fields (keyid, data) and versions other than 19 are refused.
func parseArgon2id(s string) (argon2Hash, error) {
	var h argon2Hash
	if len(s) > maxEncodedLen {
		return h, malformed("too long")
	}
	parts := strings.Split(s, "$")
	if len(parts) < 2 || parts[0] != "" {
		return h, malformed("not a PHC string")
	}
	if parts[1] != "argon2id" {
		return h, malformed("unsupported algorithm")
	}
	if len(parts) != 6 {
		return h, malformed("wrong number of fields")
	}
	if parts[2] != "v=19" {
		return h, malformed("unsupported argon2 version")
	}
	rest, ok := strings.CutPrefix(parts[3], "m=")
	if !ok {
		return h, malformed("parameters must be m=,t=,p=")
	}
	mStr, rest, ok := strings.Cut(rest, ",t=")
	if !ok {
		return h, malformed("parameters must be m=,t=,p=")
	}
	tStr, pStr, ok := strings.Cut(rest, ",p=")
	if !ok {
		return h, malformed("parameters must be m=,t=,p=")
	}
	m, err := parseDecimal(mStr, uint64(MaxMemoryKiB))
	if err != nil {
		return h, malformed("memory " + err.Error())
	}
	t, err := parseDecimal(tStr, uint64(MaxTime))
	if err != nil {
		return h, malformed("time " + err.Error())
	}
	p, err := parseDecimal(pStr, uint64(MaxThreads))
	if err != nil {
		return h, malformed("parallelism " + err.Error())
	}
	if t < 1 {
		return h, malformed("time must be at least 1")
	}
	if p < 1 {
		return h, malformed("parallelism must be at least 1")
	}
	if m < 8*p {
		return h, malformed("memory must be at least 8 KiB per lane")
	}
	salt, err := decodeB64(parts[4], MinSaltLen, MaxSaltLen)
	if err != nil {
		return h, malformed("salt " + err.Error())
	}
	key, err := decodeB64(parts[5], MinKeyLen, MaxKeyLen)
	if err != nil {
		return h, malformed("hash " + err.Error())
	}
	h.memory, h.time, h.threads, h.salt, h.key = uint32(m), uint32(t), uint8(p), salt, key
	return h, nil
}

var errDecimal = errors.New("is not a canonical decimal")

// parseDecimal accepts only digits without sign or leading zeros, at most
// limit.
func parseDecimal(s string, limit uint64) (uint64, error) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, errDecimal
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, errDecimal
		}
		v = v*10 + uint64(c-'0')
	}
	if v > limit {
		return 0, fmt.Errorf("exceeds the maximum %d", limit)
	}
	return v, nil
}

// decodeB64 decodes unpadded standard base64 strictly: only the 64
// alphabet characters (the decoder itself would skip CR and LF), canonical
// trailing bits, and a decoded length within [lo, hi].
func decodeB64(s string, lo, hi int) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/') {
			return nil, errors.New("is not unpadded base64")
		}
	}
	enc := base64.RawStdEncoding.Strict()
	n := enc.DecodedLen(len(s))
	if n < lo || n > hi {
		return nil, fmt.Errorf("length is outside %d..%d bytes", lo, hi)
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, errors.New("is not canonical base64")
	}
	if len(b) < lo || len(b) > hi {
		return nil, fmt.Errorf("length is outside %d..%d bytes", lo, hi)
	}
	return b, nil
}

// bcryptHash is a validated bcrypt string, rewritten to the $2b$ prefix.
type bcryptHash struct {
	cost    int
	encoded []byte
}

const bcryptLen = 60

// parseBcrypt accepts "$2a$", "$2b$" and "$2y$" strings of exactly 60
// characters with a two-digit cost in MinBcryptCost..MaxBcryptCost and 53
// characters of bcrypt's base64 alphabet. For passwords of at most 72 bytes
// the three prefixes name the same function; they only mark fixes of
// historic C bugs (OpenBSD's length wrap-around, $2b$; crypt_blowfish's sign
// extension of bytes >= 0x80, $2y$), so each is verified as $2b$. $2x$,
// which marks hashes made by the buggy crypt_blowfish, is refused.
func parseBcrypt(s string) (bcryptHash, error) {
	var h bcryptHash
	if len(s) != bcryptLen {
		return h, malformed("bcrypt hash must be 60 characters")
	}
	switch s[:4] {
	case "$2a$", "$2b$", "$2y$":
	default:
		return h, malformed("unsupported bcrypt version")
	}
	if s[6] != '$' || s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9' {
		return h, malformed("bcrypt cost must be two digits and a $")
	}
	cost := int(s[4]-'0')*10 + int(s[5]-'0')
	if cost < MinBcryptCost || cost > MaxBcryptCost {
		return h, malformed(fmt.Sprintf("bcrypt cost outside %d..%d", MinBcryptCost, MaxBcryptCost))
	}
	for i := 7; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '.' || c == '/') {
			return h, malformed("bcrypt salt and hash must be bcrypt base64")
		}
	}
	h.cost = cost
	h.encoded = []byte("$2b$" + s[4:])
	return h, nil
}

// stored is a parsed stored hash: exactly one of argon2 and bcrypt is set.
type stored struct {
	argon2 *argon2Hash
	bcrypt *bcryptHash
}

func parseStored(s string) (stored, error) {
	switch {
	case s == "":
		return stored{}, malformed("empty")
	case len(s) > maxEncodedLen:
		return stored{}, malformed("too long")
	case strings.HasPrefix(s, "$2"):
		b, err := parseBcrypt(s)
		if err != nil {
			return stored{}, err
		}
		return stored{bcrypt: &b}, nil
	default:
		a, err := parseArgon2id(s)
		if err != nil {
			return stored{}, err
		}
		return stored{argon2: &a}, nil
	}
}

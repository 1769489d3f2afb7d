package secret

import (
	"crypto/subtle"
	"fmt"
	"io"
	"log/slog"
)

// Redacted is what a Secret, a redacted log attribute and a scrubbed token
// print as.
const Redacted = "[REDACTED]"

// Secret holds sensitive bytes: a key, a password, a token. Every way of
// printing or encoding it (fmt with any verb, encoding/json, encoding/xml
// and other TextMarshaler users, log/slog) yields [REDACTED]; only Reveal
// and RevealString give the bytes back.
//
// The bytes are reachable only through a function value, so that even a
// Secret stored in an unexported field of another struct, which fmt prints
// by reflection without calling any method (and dereferences one pointer
// level deep for a verb it does not know), shows up as a code address
// rather than as its content. For the same reason Secrets cannot be
// compared with ==; use Equal.
//
// The zero value is an empty secret. A Secret is immutable and safe for
// concurrent use; copying it is cheap and shares the bytes.
type Secret struct {
	get func() []byte
}

// New returns a Secret holding a copy of b.
func New(b []byte) Secret { return newOwned(append([]byte(nil), b...)) }

// NewString returns a Secret holding the bytes of s.
func NewString(s string) Secret { return newOwned([]byte(s)) }

// newOwned wraps b without copying; the caller gives b up.
func newOwned(b []byte) Secret {
	if len(b) == 0 {
		return Secret{}
	}
	return Secret{func() []byte { return b }}
}

func (s Secret) bytes() []byte {
	if s.get == nil {
		return nil
	}
	return s.get()
}

// Reveal returns a copy of the secret bytes (nil when empty). Changing
// the copy does not change the Secret.
func (s Secret) Reveal() []byte {
	b := s.bytes()
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// RevealString returns the secret bytes as a string.
func (s Secret) RevealString() string { return string(s.bytes()) }

// Len is the number of secret bytes.
func (s Secret) Len() int { return len(s.bytes()) }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.Len() == 0 }

// Equal compares two secrets in time that depends on their lengths only,
// not on their content.
func (s Secret) Equal(o Secret) bool {
	return subtle.ConstantTimeCompare(s.bytes(), o.bytes()) == 1
}

// String returns [REDACTED].
func (Secret) String() string { return Redacted }

// GoString returns [REDACTED], for %#v.
func (Secret) GoString() string { return Redacted }

// Format writes [REDACTED] for every verb and flag (%v %+v %#v %s %q %x
// %X %d ...), so that no verb falls through to the bytes.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, Redacted) }

// MarshalJSON returns the JSON string "[REDACTED]".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + Redacted + `"`), nil }

// MarshalText returns [REDACTED]; encoding/xml, TOML and YAML encoders and
// slog's text handler use it.
func (Secret) MarshalText() ([]byte, error) { return []byte(Redacted), nil }

// LogValue returns [REDACTED] as a slog string value.
func (Secret) LogValue() slog.Value { return slog.StringValue(Redacted) }

var (
	_ fmt.Formatter  = Secret{}
	_ fmt.GoStringer = Secret{}
	_ slog.LogValuer = Secret{}
)

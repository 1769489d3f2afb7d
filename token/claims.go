package token

import (
	"time"
	"unicode/utf8"
)

// Claims are the claims of a verified (or just issued) access token.
//
// Verify returns a pointer to Claims that may be shared with the
// verified-token cache and with other requests presenting the same token:
// treat it as read-only. Never modify its fields or the Scopes slice; copy
// what you need to change.
type Claims struct {
	Issuer    string    // iss
	Subject   string    // sub: the user
	Audience  string    // aud: a single string
	ID        string    // jti: at least 128 random bits, base64url
	SessionID string    // sid: the login session the token belongs to
	Scopes    []string  // scope, split on spaces; empty when none was granted
	IssuedAt  time.Time // iat, whole seconds, UTC
	NotBefore time.Time // nbf, whole seconds, UTC
	ExpiresAt time.Time // exp, whole seconds, UTC
	KeyID     string    // kid of the key that signed the token
}

// HasScope reports whether the token was granted scope s.
func (c *Claims) HasScope(s string) bool {
	for _, have := range c.Scopes {
		if have == s {
			return true
		}
	}
	return false
}

const (
	maxKeyIDBytes     = 128 // kid
	maxIdentBytes     = 256 // sub, sid
	minIDBytes        = 22  // jti: 16 random bytes, base64url
	maxIDBytes        = 128 // jti
	jtiRandomBytes    = 16
	maxConfigStrBytes = 1024 // iss, aud
)

// validKeyID reports whether kid is 1 to 128 RFC 3986 unreserved characters
// (A-Z a-z 0-9 - . _ ~). Checked before the kid reaches the KeySource, so a
// key source never sees path separators, quotes, spaces or control bytes.
func validKeyID(kid string) bool {
	if len(kid) == 0 || len(kid) > maxKeyIDBytes {
		return false
	}
	for i := 0; i < len(kid); i++ {
		c := kid[i]
		if !(isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// validID reports whether jti looks like one this package issues: base64url
// characters, at least 22 of them (128 bits).
func validID(jti string) bool {
	if len(jti) < minIDBytes || len(jti) > maxIDBytes {
		return false
	}
	for i := 0; i < len(jti); i++ {
		if !isB64URL(jti[i]) {
			return false
		}
	}
	return true
}

// validIdent reports whether s (a subject or session id) is 1 to 256 bytes of
// valid UTF-8 without control characters.
func validIdent(s string) bool {
	if len(s) == 0 || len(s) > maxIdentBytes {
		return false
	}
	return printable(s)
}

// printable reports whether s is valid UTF-8 without C0, DEL or C1 control
// characters.
func printable(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || (r >= 0x80 && r <= 0x9f) {
			return false
		}
		i += size
	}
	return true
}

// validScopeToken reports whether s is a scope-token of RFC 6749 §3.3:
// 1*( %x21 / %x23-5B / %x5D-7E ), printable ASCII without space, '"' and '\'.
func validScopeToken(s string) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// hasDuplicate reports whether ss repeats a string.
func hasDuplicate(ss []string) bool {
	if len(ss) <= 16 {
		for i := 1; i < len(ss); i++ {
			for j := 0; j < i; j++ {
				if ss[i] == ss[j] {
					return true
				}
			}
		}
		return false
	}
	seen := make(map[string]struct{}, len(ss))
	for _, s := range ss {
		if _, dup := seen[s]; dup {
			return true
		}
		seen[s] = struct{}{}
	}
	return false
}

// parseScope splits a scope claim on single spaces and checks each
// scope-token. The empty string is no scopes. Leading, trailing or doubled
// spaces, bad characters and duplicates are refused.
func parseScope(scope string) ([]string, bool) {
	if scope == "" {
		return nil, true
	}
	n := 1
	for i := 0; i < len(scope); i++ {
		if scope[i] == ' ' {
			n++
		}
	}
	out := make([]string, 0, n)
	for start := 0; ; {
		end := start
		for end < len(scope) && scope[end] != ' ' {
			end++
		}
		tok := scope[start:end]
		if !validScopeToken(tok) {
			return nil, false
		}
		out = append(out, tok)
		if end == len(scope) {
			break
		}
		start = end + 1
	}
	if hasDuplicate(out) {
		return nil, false
	}
	return out, true
}

func isAlnum(c byte) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func isB64URL(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

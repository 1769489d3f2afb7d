package secret

import (
	"encoding/base64"
	"github.com/fortapi/fortapi/apikey"
	"strings"
)

// defaultKeyFragments make an attribute key (or a key=value key in text)
// sensitive when the key, lower-cased and with everything but letters and
// digits removed, contains one of them. "token" covers access_token,
// refresh_token, id_token and X-CSRF-Token; "cookie" covers Set-Cookie;
// "secret" covers client_secret.
var defaultKeyFragments = []string{
	"password", "passwd", "passphrase",
	"token",
	"secret",
	"authorization",
	"cookie",
	"csrf", "xsrf",
	"apikey",
	"privatekey",
}

// exemptKeySuffixes make a key that contains a sensitive fragment harmless
// again when it ends in one of them: such keys name facts about a secret,
// not the secret (token_count, token_type, session_cookie_name,
// refresh_token_ttl, csrf_max_age). Values under them are still scrubbed.
var exemptKeySuffixes = []string{
	"count", "type", "name", "ttl", "lifetime", "maxage",
	"expiry", "expires", "expiresat", "expiresin",
}

// keyMatcher decides whether a key is sensitive. It is built once and
// never changed afterwards.
type keyMatcher struct {
	// byFirst lists the normalized fragments by their first byte, so
	// that a key is only compared with fragments that can start at each
	// of its positions.
	byFirst [256][]string
	allow   []string // normalized keys that are never sensitive
}

func newKeyMatcher(fragments, allow []string) *keyMatcher {
	m := &keyMatcher{}
	for _, f := range fragments {
		if n := string(normalizeKey(nil, f)); n != "" {
			m.byFirst[n[0]] = append(m.byFirst[n[0]], n)
		}
	}
	for _, a := range allow {
		if n := string(normalizeKey(nil, a)); n != "" {
			m.allow = append(m.allow, n)
		}
	}
	return m
}

// defaultKeys is the matcher of Scrub; like the tables above it is never
// changed.
var defaultKeys = newKeyMatcher(defaultKeyFragments, nil)

// maxInlineKey keys are normalized on the stack; longer keys allocate.
const maxInlineKey = 64

func normalizeKey(dst []byte, key string) []byte {
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			dst = append(dst, c)
		case 'A' <= c && c <= 'Z':
			dst = append(dst, c+'a'-'A')
		}
	}
	return dst
}

func (m *keyMatcher) sensitive(key string) bool {
	var buf [maxInlineKey]byte
	n := normalizeKey(buf[:0], key)
	if !m.containsFragment(n) {
		return false
	}
	for _, a := range m.allow {
		if string(n) == a {
			return false
		}
	}
	for _, s := range exemptKeySuffixes {
		if len(n) > len(s) && string(n[len(n)-len(s):]) == s {
			return false
		}
	}
	return true
}

func (m *keyMatcher) containsFragment(n []byte) bool {
	for i, c := range n {
		for _, f := range m.byFirst[c] {
			if len(n)-i >= len(f) && string(n[i:i+len(f)]) == f {
				return true
			}
		}
	}
	return false
}

// Scrub returns s with credentials replaced by [REDACTED], using the
// default sensitive keys (see NewRedactingHandler):
//
//   - JWTs and JWEs: a run of base64url characters and dots that starts
//     with "eyJ" and has at least two dots;
//   - the credentials of "Bearer <token>" (a token of 16 or more
//     characters, or any token with a character other than a-z) and
//     "Basic <base64 of user:password>", case-insensitively;
//   - fortapi API keys (package apikey): "fak_" followed by 16 or more
//     letters, digits and underscores, wherever they appear (a URL path, a
//     query, an error message);
//   - values of sensitive keys in key=value text (query strings, form
//     bodies, cookies, logfmt: "password=hunter2") and in JSON
//     ("password": "hunter2").
//
// Text without any of these is returned as is, without allocating.
// Scrub is idempotent.
func Scrub(s string) string {
	out, _ := defaultKeys.scrub(s)
	return out
}

func isJWTChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.'
}

// isToken68Char: RFC 7235 token68 without the trailing '='.
func isToken68Char(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/'
}

func isKeyChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '[' || c == ']'
}

// isValueDelim ends an unquoted value in key=value text.
func isValueDelim(c byte) bool {
	switch c {
	case '&', ';', ',', ' ', '\t', '\r', '\n', '"', '\'', '<', '>', '(', ')', '{', '}', '[', ']', '\\':
		return true
	}
	return false
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func runEnd(s string, i int, in func(byte) bool) int {
	for i < len(s) && in(s[i]) {
		i++
	}
	return i
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// isCredential decides whether the token after an auth scheme is a
// credential rather than an English word ("bearer token missing", "basic
// validation").
func isCredential(basic bool, tok string) bool {
	if basic {
		if len(tok)%4 != 0 || len(tok) < 4 {
			return false
		}
		b, err := base64.StdEncoding.DecodeString(tok)
		return err == nil && strings.IndexByte(string(b), ':') >= 0
	}
	if len(tok) >= 16 {
		return true
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; c < 'a' || c > 'z' {
			return true
		}
	}
	return false
}

// scrubTrigger marks the bytes at which a pattern of scrub can start.
var scrubTrigger = [256]bool{'e': true, 'b': true, 'B': true, '=': true, '"': true, 'f': true}

// An API key (package apikey) is apikey.Prefix, then at least
// apikey.IDLen characters of [A-Za-z0-9_]: the same pattern apikey.InURL
// refuses in URLs.

func isAPIKeyChar(c byte) bool { return isAlnum(c) || c == '_' }

// scrubber accumulates the scrubbed copy of s lazily: out stays nil until
// the first replacement.
type scrubber struct {
	s    string
	out  []byte
	last int // s[last:] is not yet in out
}

// replace puts s[last:from] and [REDACTED] into out and skips to to.
func (w *scrubber) replace(from, to int) {
	if w.out == nil {
		w.out = make([]byte, 0, len(w.s)+len(Redacted))
	}
	w.out = append(w.out, w.s[w.last:from]...)
	w.out = append(w.out, Redacted...)
	w.last = to
}

func (m *keyMatcher) scrub(s string) (string, bool) {
	w := scrubber{s: s}
	// jwtEnd ends a run of JWT characters that started at an "eyJ" with
	// fewer than two dots; no "eyJ" inside it can start a JWT either, so
	// it is not scanned again (keeps the scan linear).
	jwtEnd := 0
	i := 0
	for {
		// Most bytes start no pattern: skip them in a tight loop.
		for i < len(s) && !scrubTrigger[s[i]] {
			i++
		}
		if i >= len(s) {
			break
		}
		switch c := s[i]; c {
		case 'f':
			if (i > w.last && isAlnum(s[i-1])) || !strings.HasPrefix(s[i:], apikey.Prefix) {
				break
			}
			end := runEnd(s, i+len(apikey.Prefix), isAPIKeyChar)
			if end-i-len(apikey.Prefix) >= apikey.IDLen {
				w.replace(i, end)
				i = end
				continue
			}
		case 'e':
			if i < jwtEnd || !strings.HasPrefix(s[i:], "eyJ") {
				break
			}
			end := runEnd(s, i, isJWTChar)
			if strings.Count(s[i:end], ".") >= 2 {
				w.replace(i, end)
				i = end
				continue
			}
			jwtEnd = end
		case 'b', 'B':
			if i > w.last && isAlnum(s[i-1]) {
				break
			}
			var j int
			basic := false
			switch {
			case hasPrefixFold(s[i:], "bearer"):
				j = i + len("bearer")
			case hasPrefixFold(s[i:], "basic"):
				j, basic = i+len("basic"), true
			default:
				i++
				continue
			}
			k := j
			for k < len(s) && (s[k] == ' ' || s[k] == '\t') {
				k++
			}
			if k == j {
				i = j
				continue
			}
			end := runEnd(s, k, isToken68Char)
			for end < len(s) && s[end] == '=' {
				end++
			}
			if end > k && isCredential(basic, s[k:end]) {
				w.replace(k, end)
				i = end
				continue
			}
			i = k
			continue
		case '=':
			start := i
			for start > w.last && isKeyChar(s[start-1]) {
				start--
			}
			if start == i || !m.sensitive(s[start:i]) {
				break
			}
			v := i + 1
			if strings.HasPrefix(s[v:], Redacted) {
				i = v + len(Redacted)
				continue
			}
			end := v
			for end < len(s) && !isValueDelim(s[end]) {
				end++
			}
			if end > v {
				w.replace(v, end)
			}
			i = end
			continue
		case '"':
			if next, ok := m.scrubJSONPair(&w, i); ok {
				i = next
				continue
			}
		}
		i++
	}
	if w.out == nil {
		return s, false
	}
	w.out = append(w.out, s[w.last:]...)
	return string(w.out), true
}

// scrubJSONPair looks at a quoted key at s[i] followed by ':' and redacts
// the value when the key is sensitive. It returns where to go on, and
// false when s[i] does not start such a pair or the key is harmless.
func (m *keyMatcher) scrubJSONPair(w *scrubber, i int) (int, bool) {
	s := w.s
	keyEnd := strings.IndexByte(s[i+1:], '"')
	if keyEnd < 0 {
		return 0, false
	}
	keyEnd += i + 1
	key := s[i+1 : keyEnd]
	if key == "" || strings.IndexByte(key, '\\') >= 0 {
		return 0, false
	}
	j := keyEnd + 1
	for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
		j++
	}
	if j >= len(s) || s[j] != ':' {
		return 0, false
	}
	j++
	for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n') {
		j++
	}
	if j >= len(s) || !m.sensitive(key) {
		return 0, false
	}
	if s[j] == '"' {
		v := j + 1
		end := v
		for end < len(s) && s[end] != '"' {
			if s[end] == '\\' {
				end++
			}
			end++
		}
		if end > len(s) {
			end = len(s)
		}
		if s[v:end] != Redacted && end > v {
			w.replace(v, end)
		}
		return end, true
	}
	if strings.HasPrefix(s[j:], Redacted) {
		return j + len(Redacted), true
	}
	end := j
	for end < len(s) && !strings.ContainsRune(",}] \t\r\n", rune(s[end])) {
		end++
	}
	if end > j {
		w.replace(j, end)
	}
	return end, true
}

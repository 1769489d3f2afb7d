package secret

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// MinKeyBytes is the least key material, in bytes, for signing keys, HMAC
// keys and master keys (256 bits; RFC 7518 §3.2 for HS256).
const MinKeyBytes = 32

// ErrWeak is wrapped by every error of CheckStrength.
var ErrWeak = errors.New("weak secret")

// knownExamples are secrets published in tutorials, framework docs and
// default configurations, normalized (lower case, letters and digits
// only). Anyone can try them against a server.
var knownExamples = map[string]bool{
	// The FastAPI security guide this project answers.
	"hellofromescapeteam":      true,
	"staysecureyourescapeteam": true,
	"asecrettoeverybody":       true,
	// FastAPI's OAuth2/JWT tutorial ("openssl rand -hex 32", printed).
	"09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7": true,
	"changethis": true, // FastAPI full-stack template
	// jwt.io's debugger defaults.
	"your256bitsecret":                true,
	"your384bitsecret":                true,
	"your512bitsecret":                true,
	"astringsecretatleast256bitslong": true,
	// Library and framework docs and defaults.
	"keyboardcat":       true, // express-session
	"shhhhh":            true, // jsonwebtoken (Node)
	"youwillneverguess": true, // Flask Mega-Tutorial
	"notasecret":        true, // Google service-account .p12 password
	"changeit":          true, // Java keystore
	"mysecretpassword":  true, // postgres image examples
	// Generic placeholders.
	"changeme":          true,
	"secret":            true,
	"secrets":           true,
	"secretkey":         true,
	"mysecret":          true,
	"mysecretkey":       true,
	"yoursecret":        true,
	"yoursecretkey":     true,
	"yoursecretkeyhere": true,
	"yourkey":           true,
	"supersecret":       true,
	"supersecretkey":    true,
	"topsecret":         true,
	"verysecret":        true,
	"thisisasecret":     true,
	"thisisnotasecret":  true,
	"s3cr3t":            true,
	"s3cret":            true,
	"jwtsecret":         true,
	"jwtsecretkey":      true,
	"jwtkey":            true,
	"tokensecret":       true,
	"sessionsecret":     true,
	"hmacsecret":        true,
	"signingkey":        true,
	"masterkey":         true,
	"apikey":            true,
	"privatekey":        true,
	"password":          true,
	"passw0rd":          true,
	"p4ssw0rd":          true,
	"letmein":           true,
	"qwerty":            true,
	"admin":             true,
	"default":           true,
	"example":           true,
	"test":              true,
	"testing":           true,
	"dev":               true,
	"development":       true,
	"insecure":          true,
	"key":               true,
	"foobar":            true,
	"xxx":               true,
	"todo":              true,
	"replaceme":         true,
	"pleasechangeme":    true,
	"changemeplease":    true,
}

// CheckStrength returns nil if s is fit to be a key that must hold at
// least min bytes (MinKeyBytes for signing, HMAC and master keys) of
// random key material, and otherwise an error wrapping ErrWeak that names
// the problem but not the value. It refuses, in this order:
//
//   - an empty secret;
//   - known example and default secrets (see knownExamples), compared
//     case-insensitively with everything but letters and digits ignored,
//     also with trailing digits removed ("Change-Me-2024" is "changeme");
//   - less than min bytes of key material, where text that is entirely hex
//     digits counts as the bytes it encodes (64 hex digits are 32 bytes)
//     and text that is valid base64 (standard or URL alphabet) likewise;
//     any other text counts byte for byte;
//   - low-entropy patterns in the text or in the bytes it encodes: one
//     character repeated, a repeating pattern (the text is a shorter text
//     repeated), fewer than 8 distinct characters, or mostly sequential
//     or repeated characters ("abcdef...", "aabbcc...").
//
// These checks catch mistakes and placeholders, not every weak secret:
// a secret made by a person is weaker than its length suggests. Generate
// keys with `openssl rand -base64 32` or LoadOrGenerate.
func CheckStrength(s Secret, min int) error {
	text := s.bytes()
	if len(text) == 0 {
		return fmt.Errorf("%w: empty", ErrWeak)
	}
	if isKnownExample(text) {
		return fmt.Errorf("%w: a published example or default secret", ErrWeak)
	}
	material, form := keyMaterial(text)
	defer func() {
		if form != "" {
			clear(material)
		}
	}()
	if len(material) < min {
		if form != "" {
			return fmt.Errorf("%w: %d bytes of key material (decoded from %s), want at least %d", ErrWeak, len(material), form, min)
		}
		return fmt.Errorf("%w: %d bytes, want at least %d", ErrWeak, len(material), min)
	}
	if p := lowEntropy(text); p != "" {
		return fmt.Errorf("%w: %s", ErrWeak, p)
	}
	if form != "" {
		if p := lowEntropy(material); p != "" {
			return fmt.Errorf("%w: the %s-decoded key is %s", ErrWeak, form, p)
		}
	}
	return nil
}

// isKnownExample normalizes text on the stack where it fits and looks it
// up in knownExamples.
func isKnownExample(text []byte) bool {
	var buf [80]byte
	n := buf[:0]
	if len(text) > len(buf) {
		return false // longer than every example
	}
	for _, c := range text {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			n = append(n, c)
		case 'A' <= c && c <= 'Z':
			n = append(n, c+'a'-'A')
		}
	}
	if knownExamples[string(n)] {
		return true
	}
	for len(n) > 0 && '0' <= n[len(n)-1] && n[len(n)-1] <= '9' {
		n = n[:len(n)-1]
	}
	return len(n) > 0 && knownExamples[string(n)]
}

// keyMaterial returns the bytes that text encodes when it is hex or
// base64, with the name of the encoding, or text itself and "".
func keyMaterial(text []byte) ([]byte, string) {
	if len(text) >= 2 && len(text)%2 == 0 && isHex(text) {
		b := make([]byte, len(text)/2)
		if _, err := hex.Decode(b, text); err == nil {
			return b, "hex"
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b := make([]byte, enc.DecodedLen(len(text)))
		if n, err := enc.Decode(b, text); err == nil {
			return b[:n], "base64"
		}
	}
	return text, ""
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// lowEntropy names the pattern that b follows, or returns "".
func lowEntropy(b []byte) string {
	if len(b) < 2 {
		return ""
	}
	var seen [256]bool
	distinct := 0
	for _, c := range b {
		if !seen[c] {
			seen[c] = true
			distinct++
		}
	}
	if distinct == 1 {
		return "one character repeated"
	}
	if p := smallestPeriod(b); p <= len(b)/2 {
		return fmt.Sprintf("a repeating pattern of %d characters", p)
	}
	if len(b) >= 16 && distinct < 8 {
		return fmt.Sprintf("only %d distinct characters", distinct)
	}
	near := 0
	for i := 1; i < len(b); i++ {
		if d := int(b[i]) - int(b[i-1]); d >= -1 && d <= 1 {
			near++
		}
	}
	if 2*near > len(b)-1 {
		return "mostly sequential or repeated characters"
	}
	return ""
}

// smallestPeriod returns the least p such that b[i] == b[i-p] for every
// i >= p (the Knuth-Morris-Pratt failure function, linear time).
func smallestPeriod(b []byte) int {
	fail := make([]int, len(b))
	k := 0
	for i := 1; i < len(b); i++ {
		for k > 0 && b[i] != b[k] {
			k = fail[k-1]
		}
		if b[i] == b[k] {
			k++
		}
		fail[i] = k
	}
	return len(b) - fail[len(b)-1]
}

// CheckProduction is what production mode asks of a loaded key: not a
// generated development secret, and CheckStrength(l.Secret, min). The
// error names the source (the variable or file), never the value, and fits
// on one line.
func (l Loaded) CheckProduction(min int) error {
	if l.Kind == KindGenerated {
		return fmt.Errorf("secret: %s is a generated development secret; in production set it through the environment or a file", l.Source)
	}
	if err := CheckStrength(l.Secret, min); err != nil {
		return fmt.Errorf("secret: %s: %w", l.Source, err)
	}
	return nil
}

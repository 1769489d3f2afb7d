package csrf

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
)

const (
	randBytes = 32          // random half: 256 bits
	macBytes  = sha256.Size // HMAC-SHA256
	// randChars and macChars are the unpadded base64url lengths of the
	// two halves (both 43).
	randChars = (randBytes*8 + 5) / 6
	macChars  = (macBytes*8 + 5) / 6
	// TokenLen is the length of every token: 43 + 1 + 43 characters.
	TokenLen = randChars + 1 + macChars

	// macLabel separates this MAC from any other use of the key.
	macLabel = "fortapi/csrf v1\x00"
)

// Token mints a token bound to sessionID; "" is the anonymous session of a
// visitor who has not logged in. The token is
//
//	base64url(r) "." base64url(HMAC-SHA256(Key, label ‖ uint64be(len(sessionID)) ‖ sessionID ‖ r))
//
// with r 32 bytes from Options.Rand, label "fortapi/csrf v1\x00", and
// base64url unpadded (RFC 4648 §5): TokenLen characters. The error is
// the Rand's.
func (p *Protector) Token(sessionID string) (string, error) {
	var rnd [randBytes]byte
	if _, err := io.ReadFull(p.rand, rnd[:]); err != nil {
		return "", fmt.Errorf("csrf: reading randomness: %w", err)
	}
	var mac [macBytes]byte
	p.sum(&mac, sessionID, &rnd)
	var buf [TokenLen]byte
	p.b64.Encode(buf[:randChars], rnd[:])
	buf[randChars] = '.'
	p.b64.Encode(buf[randChars+1:], mac[:])
	return string(buf[:]), nil
}

// Valid reports whether token is one that Token minted under this key for
// sessionID. It checks the format and the MAC (with hmac.Equal, in
// constant time) and nothing else: the double-submit cookie is Check's
// job.
func (p *Protector) Valid(sessionID, token string) bool {
	return p.verify(sessionID, token) == 0
}

// verify is Valid, saying why a token is refused: reasonMalformed or
// reasonMAC (0 when it is valid).
func (p *Protector) verify(sessionID, token string) reason {
	if len(token) != TokenLen || token[randChars] != '.' {
		return reasonMalformed
	}
	var raw [TokenLen]byte
	copy(raw[:], token)
	// Newlines, which the decoder would skip, and any other character
	// outside the alphabet are refused here (with the fixed length they
	// would also leave too few characters; this makes the rule explicit).
	if !isB64(raw[:randChars]) || !isB64(raw[randChars+1:]) {
		return reasonMalformed
	}
	var rnd [randBytes]byte
	var got, want [macBytes]byte
	if n, err := p.b64.Decode(rnd[:], raw[:randChars]); err != nil || n != randBytes {
		return reasonMalformed
	}
	if n, err := p.b64.Decode(got[:], raw[randChars+1:]); err != nil || n != macBytes {
		return reasonMalformed
	}
	p.sum(&want, sessionID, &rnd)
	if !hmac.Equal(got[:], want[:]) {
		return reasonMAC
	}
	return 0
}

// isB64 reports whether b holds base64url alphabet characters only.
func isB64(b []byte) bool {
	for _, c := range b {
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}

// SetCookie sets the __Host-csrf cookie to token: Secure, HttpOnly,
// Path=/, no Domain, SameSite=Lax, no expiry (it ends with the browser
// session). Browsers keep Secure cookies only from https origins
// (http://localhost counts as secure in current browsers).
func (p *Protector) SetCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{
		Name:     CookieName,
		Value:    token,
		Path:     "/",
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

// Issue mints a token for sessionID, sets it as the cookie and returns it
// for the page or JSON body. Call it whenever the session changes: with
// the new session id right after login (the anonymous token then stops
// working for the new session) and with "" after logout.
func (p *Protector) Issue(w http.ResponseWriter, sessionID string) (string, error) {
	t, err := p.Token(sessionID)
	if err != nil {
		return "", err
	}
	p.SetCookie(w, t)
	return t, nil
}

// Ensure returns the request's cookie token if it is valid for sessionID,
// and otherwise Issues a new one. Pages that render a form should use it
// rather than Issue, so that two open tabs do not invalidate each other's
// forms.
func (p *Protector) Ensure(w http.ResponseWriter, r *http.Request, sessionID string) (string, error) {
	for _, c := range r.CookiesNamed(CookieName) {
		if p.Valid(sessionID, c.Value) {
			return c.Value, nil
		}
	}
	return p.Issue(w, sessionID)
}

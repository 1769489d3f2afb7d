package token

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fortapi/fortapi/jwtkey"
)

// KeySource supplies keys: the one to sign new tokens with and, by kid, the
// keys tokens may be verified with. jwtkey.Ring satisfies it.
//
// Both methods must be safe for concurrent use. Verifier is called on every
// Verify, cache hits included, so that a key withdrawn from the source
// invalidates the tokens it signed at once; it should be a cheap in-memory
// lookup. The kid it receives has already been checked to be 1 to 128
// characters of A-Z a-z 0-9 - . _ ~; Issue refuses a signing key whose ID
// breaks that rule, so such a key fails loudly at once rather than issuing
// tokens that never verify.
type KeySource interface {
	// Signer returns the key new tokens are signed with.
	Signer() (jwtkey.SigningKey, error)
	// Verifier returns the key named kid, if tokens signed by it are
	// still accepted.
	Verifier(kid string) (jwtkey.VerifyingKey, bool)
}

// Defaults and limits of Options.
const (
	DefaultLifetime      = 15 * time.Minute
	MaxLifetime          = 24 * time.Hour
	DefaultLeeway        = 30 * time.Second
	MaxLeeway            = 30 * time.Second
	DefaultCacheSize     = 16384
	MaxCacheSize         = 1 << 20
	DefaultMaxTokenBytes = 8192
	MinMaxTokenBytes     = 512

	// Type is the typ header of every token (RFC 9068). Verify also
	// accepts "application/at+jwt", and either in any letter case.
	Type = "at+jwt"
)

// Options configures New. Issuer, Audience and Keys are required; every
// other field has a safe default.
type Options struct {
	// Issuer is the iss of issued tokens and the only iss Verify accepts.
	Issuer string
	// Audience is the aud of issued tokens and the only aud Verify
	// accepts. aud must be this single JSON string; an array, even one
	// holding only Audience, is refused.
	Audience string
	// Keys signs new tokens and names the keys tokens verify with.
	Keys KeySource

	// Lifetime is exp - iat of issued tokens, in whole seconds. Verify
	// refuses a token whose exp - iat is longer, whatever its signature
	// says. Default DefaultLifetime (15 minutes); 1 second to MaxLifetime
	// (24 hours).
	Lifetime time.Duration
	// Leeway is the clock skew allowed on exp, nbf and iat. Default
	// DefaultLeeway (30 seconds); 1 second to MaxLeeway (30 seconds).
	Leeway time.Duration

	// Revocations, when set, is consulted on every Verify (cache hits
	// included) and on every Issue. Default: nothing is revoked.
	Revocations RevocationChecker

	// CacheSize is how many verified tokens are kept, so that a token
	// seen again skips the signature check (its exp, nbf, key and
	// revocation are checked on every call still). Zero means
	// DefaultCacheSize (16384); a negative value disables the cache; at
	// most MaxCacheSize. The cache holds at most CacheSize tokens.
	CacheSize int

	// MaxTokenBytes is the longest token Verify parses; longer ones are
	// refused before any other work. Zero means DefaultMaxTokenBytes
	// (8192), which is also the maximum; at least MinMaxTokenBytes.
	MaxTokenBytes int

	// Observer, when set, is told the result of every Verify and
	// whether the cache held the token (metrics). Default: none.
	Observer Observer

	// Now returns the current time. Default time.Now.
	Now func() time.Time
	// Rand is the source of token ids; it must be safe for concurrent
	// use. Default crypto/rand.Reader.
	Rand io.Reader
}

// Service issues and verifies access tokens. It is safe for concurrent use.
type Service struct {
	issuer, audience string
	keys             KeySource
	lifetime, leeway time.Duration
	revocations      RevocationChecker
	cache            *cache // nil when disabled
	maxBytes         int
	now              func() time.Time
	rand             io.Reader
	b64              *base64.Encoding // base64url, no padding, strict
	obs              Observer         // nil: none
}

// New returns a Service configured by opts.
func New(opts Options) (*Service, error) {
	if opts.Issuer == "" || len(opts.Issuer) > maxConfigStrBytes || !printable(opts.Issuer) {
		return nil, errors.New("token: Options.Issuer must be 1 to 1024 bytes of printable UTF-8")
	}
	if opts.Audience == "" || len(opts.Audience) > maxConfigStrBytes || !printable(opts.Audience) {
		return nil, errors.New("token: Options.Audience must be 1 to 1024 bytes of printable UTF-8")
	}
	if opts.Keys == nil {
		return nil, errors.New("token: Options.Keys is required")
	}
	s := &Service{
		issuer:      opts.Issuer,
		audience:    opts.Audience,
		keys:        opts.Keys,
		lifetime:    opts.Lifetime,
		leeway:      opts.Leeway,
		revocations: opts.Revocations,
		maxBytes:    opts.MaxTokenBytes,
		now:         opts.Now,
		rand:        opts.Rand,
		b64:         base64.RawURLEncoding.Strict(),
		obs:         opts.Observer,
	}
	if s.lifetime == 0 {
		s.lifetime = DefaultLifetime
	}
	s.lifetime = s.lifetime.Truncate(time.Second)
	if s.lifetime < time.Second || s.lifetime > MaxLifetime {
		return nil, fmt.Errorf("token: Options.Lifetime %v is outside [1s, %v]", opts.Lifetime, MaxLifetime)
	}
	if s.leeway == 0 {
		s.leeway = DefaultLeeway
	}
	if s.leeway < time.Second || s.leeway > MaxLeeway {
		return nil, fmt.Errorf("token: Options.Leeway %v is outside [1s, %v]", opts.Leeway, MaxLeeway)
	}
	switch {
	case opts.CacheSize == 0:
		s.cache = newCache(DefaultCacheSize)
	case opts.CacheSize < 0:
	case opts.CacheSize > MaxCacheSize:
		return nil, fmt.Errorf("token: Options.CacheSize %d is above %d", opts.CacheSize, MaxCacheSize)
	default:
		s.cache = newCache(opts.CacheSize)
	}
	if s.maxBytes == 0 {
		s.maxBytes = DefaultMaxTokenBytes
	}
	if s.maxBytes < MinMaxTokenBytes || s.maxBytes > DefaultMaxTokenBytes {
		return nil, fmt.Errorf("token: Options.MaxTokenBytes %d is outside [%d, %d]", opts.MaxTokenBytes, MinMaxTokenBytes, DefaultMaxTokenBytes)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	return s, nil
}

// Lifetime returns exp - iat of the tokens s issues.
func (s *Service) Lifetime() time.Duration { return s.lifetime }

// payload is the JSON of a token's claims, in the order they are written.
type payload struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	Audience  string `json:"aud"`
	ExpiresAt int64  `json:"exp"`
	NotBefore int64  `json:"nbf"`
	IssuedAt  int64  `json:"iat"`
	ID        string `json:"jti"`
	Scope     string `json:"scope"`
	SessionID string `json:"sid"`
}

// Issue signs a new access token for subject in session sessionID with
// the given scopes, with the key Keys.Signer returns.
//
// subject and sessionID must be 1 to 256 bytes of printable UTF-8; each
// scope must be a scope-token of RFC 6749 §3.3 (printable ASCII without
// space, '"' and '\'), and none may repeat. The token's iat and nbf are
// now rounded down to a whole second, exp is iat + Lifetime, and jti is
// 128 bits from Rand, base64url.
//
// When Revocations refuses the new claims because a RevokeSubject of the
// same second covers them (iat is in whole seconds, so a token issued just
// after a revocation can fall before its rounded-up notBefore), iat, nbf
// and exp move one second forward. That iat lies at most a second in the
// future, within every allowed Leeway. If the claims are still refused
// (the session or id is revoked), Issue fails.
//
// The returned Claims share nothing with the caller's scopes slice.
func (s *Service) Issue(subject, sessionID string, scopes []string) (token string, claims Claims, err error) {
	if !validIdent(subject) {
		return "", Claims{}, errors.New("token: subject must be 1 to 256 bytes of printable UTF-8")
	}
	if !validIdent(sessionID) {
		return "", Claims{}, errors.New("token: session id must be 1 to 256 bytes of printable UTF-8")
	}
	for _, sc := range scopes {
		if !validScopeToken(sc) {
			return "", Claims{}, fmt.Errorf("token: scope %q is not an RFC 6749 scope-token", sc)
		}
	}
	if hasDuplicate(scopes) {
		return "", Claims{}, errors.New("token: a scope is repeated")
	}
	sk, err := s.keys.Signer()
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: signing key: %w", err)
	}
	method, err := signingMethod(sk)
	if err != nil {
		return "", Claims{}, err
	}
	var rnd [jtiRandomBytes]byte
	if _, err := io.ReadFull(s.rand, rnd[:]); err != nil {
		return "", Claims{}, fmt.Errorf("token: reading random bytes: %w", err)
	}

	iat := time.Unix(s.now().Unix(), 0).UTC()
	claims = Claims{
		Issuer:    s.issuer,
		Subject:   subject,
		Audience:  s.audience,
		ID:        base64.RawURLEncoding.EncodeToString(rnd[:]),
		SessionID: sessionID,
		IssuedAt:  iat,
		NotBefore: iat,
		ExpiresAt: iat.Add(s.lifetime),
		KeyID:     sk.ID,
	}
	if len(scopes) > 0 {
		claims.Scopes = append([]string(nil), scopes...)
	}
	if s.revocations != nil && s.revocations.Revoked(&claims) {
		claims.IssuedAt = claims.IssuedAt.Add(time.Second)
		claims.NotBefore = claims.IssuedAt
		claims.ExpiresAt = claims.ExpiresAt.Add(time.Second)
		if s.revocations.Revoked(&claims) {
			return "", Claims{}, errors.New("token: the session or token id is revoked")
		}
	}

	body, err := json.Marshal(payload{
		Issuer:    claims.Issuer,
		Subject:   claims.Subject,
		Audience:  claims.Audience,
		ExpiresAt: claims.ExpiresAt.Unix(),
		NotBefore: claims.NotBefore.Unix(),
		IssuedAt:  claims.IssuedAt.Unix(),
		ID:        claims.ID,
		Scope:     strings.Join(scopes, " "),
		SessionID: claims.SessionID,
	})
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: encoding claims: %w", err)
	}
	// alg and kid need no JSON escaping: both were checked by signingMethod.
	header := `{"alg":"` + string(sk.Alg) + `","typ":"` + Type + `","kid":"` + sk.ID + `"}`
	input := s.b64.EncodeToString([]byte(header)) + "." + s.b64.EncodeToString(body)
	sig, err := method.Sign(input, sk.Key)
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: signing with key %s: %w", sk.ID, err)
	}
	if sk.Alg == jwtkey.ES256 {
		lowS(sig)
	}
	token = input + "." + s.b64.EncodeToString(sig)
	if len(token) > s.maxBytes {
		return "", Claims{}, fmt.Errorf("token: the token would be %d bytes, above MaxTokenBytes %d", len(token), s.maxBytes)
	}
	return token, claims, nil
}

// ECDSA signatures are malleable: if (r, s) verifies, so does (r, n-s).
// Tokens are issued with s <= n/2 and tokens with a larger s are refused,
// so each ES256 token has exactly one spelling (one cache entry, one
// token id in logs).
var (
	p256N = elliptic.P256().Params().N
	// p256HalfN is n/2 as 32 big-endian bytes (read-only).
	p256HalfN = func() (b [32]byte) {
		new(big.Int).Rsh(p256N, 1).FillBytes(b[:])
		return b
	}()
)

// lowS rewrites a 64-byte ES256 signature r||s in place to use s <= n/2.
func lowS(sig []byte) {
	if len(sig) != 64 || isLowS(sig) {
		return
	}
	sv := new(big.Int).SetBytes(sig[32:])
	sv.Sub(p256N, sv)
	sv.FillBytes(sig[32:])
}

// isLowS reports whether a 64-byte ES256 signature has s <= n/2,
// comparing big-endian bytes (no allocation on the verify path).
func isLowS(sig []byte) bool {
	return len(sig) == 64 && bytes.Compare(sig[32:], p256HalfN[:]) <= 0
}

// signingMethod checks sk and returns the golang-jwt method for its Alg.
func signingMethod(sk jwtkey.SigningKey) (jwt.SigningMethod, error) {
	if !validKeyID(sk.ID) {
		return nil, errors.New("token: signing key id must be 1 to 128 characters of A-Z a-z 0-9 - . _ ~")
	}
	switch sk.Alg {
	case jwtkey.EdDSA:
		if k, ok := sk.Key.(ed25519.PrivateKey); ok && len(k) == ed25519.PrivateKeySize {
			return jwt.SigningMethodEdDSA, nil
		}
	case jwtkey.ES256:
		if k, ok := sk.Key.(*ecdsa.PrivateKey); ok && k != nil && k.Curve == elliptic.P256() {
			return jwt.SigningMethodES256, nil
		}
	case jwtkey.HS256:
		if k, ok := sk.Key.([]byte); ok && len(k) >= 32 {
			return jwt.SigningMethodHS256, nil
		}
	default:
		return nil, fmt.Errorf("token: signing key %s has unsupported algorithm %q", sk.ID, sk.Alg)
	}
	return nil, fmt.Errorf("token: signing key %s does not hold a valid %s private key", sk.ID, sk.Alg)
}

// verifyingMethod checks vk and returns the golang-jwt method for its Alg.
func verifyingMethod(vk jwtkey.VerifyingKey) jwt.SigningMethod {
	switch vk.Alg {
	case jwtkey.EdDSA:
		if k, ok := vk.Key.(ed25519.PublicKey); ok && len(k) == ed25519.PublicKeySize {
			return jwt.SigningMethodEdDSA
		}
	case jwtkey.ES256:
		if k, ok := vk.Key.(*ecdsa.PublicKey); ok && k != nil && k.Curve == elliptic.P256() {
			return jwt.SigningMethodES256
		}
	case jwtkey.HS256:
		if k, ok := vk.Key.([]byte); ok && len(k) >= 32 {
			return jwt.SigningMethodHS256
		}
	}
	return nil
}

// sameKey reports whether two verifying keys of one algorithm are equal.
func sameKey(a, b any) bool {
	switch a := a.(type) {
	case ed25519.PublicKey:
		b, ok := b.(ed25519.PublicKey)
		return ok && subtle.ConstantTimeCompare(a, b) == 1
	case *ecdsa.PublicKey:
		b, ok := b.(*ecdsa.PublicKey)
		return ok && (a == b || (b != nil && a.Equal(b)))
	case []byte:
		b, ok := b.([]byte)
		return ok && subtle.ConstantTimeCompare(a, b) == 1
	}
	return false
}

// Verify checks tok strictly and returns its claims. Every failure is an
// error wrapping ErrInvalidToken; see the package documentation for the
// checks. The returned Claims may be shared with other callers through the
// cache: do not modify them.
//
// ctx is not used yet; it is there for revocation checks that may need to
// wait.
func (s *Service) Verify(ctx context.Context, tok string) (*Claims, error) {
	if s.obs == nil {
		return s.verifyToken(tok)
	}
	c, err := s.verifyToken(tok)
	s.obs.Verified(Result(err))
	return c, err
}

// verifyToken is Verify.
func (s *Service) verifyToken(tok string) (*Claims, error) {
	// Refuse oversized input before looking at a single byte.
	if len(tok) > s.maxBytes {
		return nil, reasonTooLong
	}
	var h uint64
	if s.cache != nil {
		h = s.cache.hash(tok)
		e := s.cache.get(h, tok)
		if s.obs != nil {
			s.obs.CacheLookup(e != nil)
		}
		if e != nil {
			return s.checkCached(e)
		}
	}
	now := s.now()
	c, vk, err := s.verify(tok, now)
	if err != nil {
		return nil, err
	}
	if s.cache != nil {
		// Cached even when revoked: the next attempt is refused cheaply.
		s.cache.put(&entry{
			key:      strings.Clone(tok), // do not pin a larger buffer tok may point into
			hash:     h,
			claims:   c,
			alg:      vk.Alg,
			vkey:     vk.Key,
			expLimit: c.ExpiresAt.Add(s.leeway),
			nbfLimit: c.NotBefore.Add(-s.leeway),
		}, now)
	}
	if s.revocations != nil && s.revocations.Revoked(c) {
		return nil, reasonRevoked
	}
	return c, nil
}

// checkCached repeats, for a cached token, every check that can change
// with time: exp and nbf against now, that Keys still has the very key
// that verified it, and revocation.
func (s *Service) checkCached(e *entry) (*Claims, error) {
	now := s.now()
	if !now.Before(e.expLimit) {
		return nil, reasonExpired
	}
	if now.Before(e.nbfLimit) {
		return nil, reasonNotYetValid
	}
	vk, ok := s.keys.Verifier(e.claims.KeyID)
	if !ok {
		return nil, reasonUnknownKey
	}
	if vk.Alg != e.alg || !sameKey(e.vkey, vk.Key) {
		return nil, reasonKeyChanged
	}
	if s.revocations != nil && s.revocations.Revoked(e.claims) {
		return nil, reasonRevoked
	}
	e.touch()
	return e.claims, nil
}

// Header members.
const (
	hdrAlg = 1 << iota
	hdrTyp
	hdrKid
	hdrAll = hdrAlg | hdrTyp | hdrKid
)

// verify does the full check of a token not in the cache, at time now.
func (s *Service) verify(tok string, now time.Time) (*Claims, jwtkey.VerifyingKey, error) {
	var none jwtkey.VerifyingKey
	headerSeg, payloadSeg, sigSeg, ok := splitToken(tok)
	if !ok {
		return nil, none, reasonSegments
	}

	// Header: exactly alg, typ and kid, each a string, each once.
	hb, err := s.b64.DecodeString(headerSeg)
	if err != nil {
		return nil, none, reasonEncoding
	}
	var members [maxMembers]member
	n, ok := parseObject(string(hb), &members)
	if !ok {
		return nil, none, reasonHeaderJSON
	}
	var alg, typ, kid string
	seen := 0
	for _, m := range members[:n] {
		bit := 0
		switch m.name {
		case "alg":
			bit, alg = hdrAlg, m.str
		case "typ":
			bit, typ = hdrTyp, m.str
		case "kid":
			bit, kid = hdrKid, m.str
		case "jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit", "b64", "zip", "enc", "cty":
			return nil, none, reasonHeaderForbidden
		default:
			return nil, none, reasonHeaderUnknown
		}
		if m.isNum || seen&bit != 0 {
			return nil, none, reasonHeaderJSON
		}
		seen |= bit
	}
	if seen != hdrAll {
		return nil, none, reasonHeaderMissing
	}
	if !strings.EqualFold(typ, Type) && !strings.EqualFold(typ, "application/"+Type) {
		return nil, none, reasonType
	}
	if !validKeyID(kid) {
		return nil, none, reasonKeyID
	}

	// The key named by kid decides the algorithm; the header must agree.
	vk, ok := s.keys.Verifier(kid)
	if !ok {
		return nil, none, reasonUnknownKey
	}
	if vk.ID != kid {
		return nil, none, reasonUnknownKey
	}
	method := verifyingMethod(vk)
	if method == nil {
		return nil, none, reasonKeyUnusable
	}
	if alg != string(vk.Alg) {
		return nil, none, reasonAlgorithm
	}
	sig, err := s.b64.DecodeString(sigSeg)
	if err != nil {
		return nil, none, reasonEncoding
	}
	if vk.Alg == jwtkey.ES256 && !isLowS(sig) {
		return nil, none, reasonSignature // the other spelling of a valid signature
	}
	if method.Verify(tok[:len(headerSeg)+1+len(payloadSeg)], sig, vk.Key) != nil {
		return nil, none, reasonSignature
	}

	// Claims, only now that they are known to come from the key's owner.
	pb, err := s.b64.DecodeString(payloadSeg)
	if err != nil {
		return nil, none, reasonEncoding
	}
	c, err := s.checkClaims(string(pb), now)
	if err != nil {
		return nil, none, err
	}
	c.KeyID = kid
	return c, vk, nil
}

// Claim members, as bits.
const (
	clIss = 1 << iota
	clSub
	clAud
	clExp
	clNbf
	clIat
	clJti
	clScope
	clSid
	clAll = 1<<iota - 1
)

// checkClaims parses the payload and checks every claim against now.
func (s *Service) checkClaims(body string, now time.Time) (*Claims, error) {
	var members [maxMembers]member
	n, ok := parseObject(body, &members)
	if !ok {
		return nil, reasonClaimsJSON
	}
	var (
		iss, sub, aud, jti, scope, sid string
		exp, nbf, iat                  int64
		seen                           int
	)
	for _, m := range members[:n] {
		var bit int
		wantNum := false
		switch m.name {
		case "iss":
			bit, iss = clIss, m.str
		case "sub":
			bit, sub = clSub, m.str
		case "aud":
			bit, aud = clAud, m.str
		case "jti":
			bit, jti = clJti, m.str
		case "scope":
			bit, scope = clScope, m.str
		case "sid":
			bit, sid = clSid, m.str
		case "exp":
			bit, exp, wantNum = clExp, m.num, true
		case "nbf":
			bit, nbf, wantNum = clNbf, m.num, true
		case "iat":
			bit, iat, wantNum = clIat, m.num, true
		default:
			return nil, reasonClaimUnknown
		}
		if seen&bit != 0 {
			return nil, reasonClaimDuplicate
		}
		if m.isNum != wantNum {
			return nil, reasonClaimType
		}
		seen |= bit
	}
	if seen != clAll {
		return nil, reasonClaimMissing
	}
	if iss != s.issuer {
		return nil, reasonIssuer
	}
	if aud != s.audience {
		return nil, reasonAudience
	}
	if !validIdent(sub) {
		return nil, reasonSubject
	}
	if !validIdent(sid) {
		return nil, reasonSession
	}
	if !validID(jti) {
		return nil, reasonID
	}
	scopes, ok := parseScope(scope)
	if !ok {
		return nil, reasonScope
	}
	// Both stamps come from the issuer's clock: no leeway on the lifetime.
	if exp <= iat || exp-iat > int64(s.lifetime/time.Second) {
		return nil, reasonLifetime
	}
	expT, nbfT, iatT := time.Unix(exp, 0).UTC(), time.Unix(nbf, 0).UTC(), time.Unix(iat, 0).UTC()
	if !now.Before(expT.Add(s.leeway)) {
		return nil, reasonExpired
	}
	if nbfT.After(now.Add(s.leeway)) {
		return nil, reasonNotYetValid
	}
	if iatT.After(now.Add(s.leeway)) {
		return nil, reasonIssuedInFuture
	}
	return &Claims{
		Issuer:    iss,
		Subject:   sub,
		Audience:  aud,
		ID:        jti,
		SessionID: sid,
		Scopes:    scopes,
		IssuedAt:  iatT,
		NotBefore: nbfT,
		ExpiresAt: expT,
	}, nil
}

package vulnapi

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

// leeway for exp and nbf.
const leeway = 30 * time.Second

func roleScopes(role string) []string {
	if role == "admin" {
		return []string{"items:read", "items:write", "users:admin"}
	}
	return []string{"items:read", "items:write"}
}

type principal struct {
	ID       int64
	Username string
	Role     string
	Scopes   []string
}

func (p *principal) has(scope string) bool { return p != nil && slices.Contains(p.Scopes, scope) }
func (p *principal) admin() bool           { return p.has("users:admin") }

// issue signs an access token: ES256 (kid es-1) on the clean target, HS256
// with WeakJWTSecret (kid hs-1) under FlawJWTWeakSecret.
func (t *Target) issue(p *principal, scopes []string) (string, error) {
	now := t.now()
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	claims := jwt.MapClaims{
		"iss":   Issuer,
		"aud":   Audience,
		"sub":   p.Username,
		"uid":   p.ID,
		"role":  p.Role,
		"scope": strings.Join(scopes, " "),
		"iat":   now.Unix(),
		"nbf":   now.Unix(),
		"exp":   now.Add(t.opts.TokenLifetime).Unix(),
		"jti":   hex.EncodeToString(jti),
	}
	if t.flaws.Has(FlawJWTWeakSecret) {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
		tok.Header["kid"] = KidHS256
		return tok.SignedString([]byte(WeakJWTSecret))
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	tok.Header["kid"] = KidES256
	return tok.SignedString(t.esKey)
}

type jwtHeader struct {
	Alg  string          `json:"alg"`
	Kid  *string         `json:"kid"`
	Typ  string          `json:"typ"`
	JWK  json.RawMessage `json:"jwk"`
	JKU  string          `json:"jku"`
	X5U  string          `json:"x5u"`
	Crit []string        `json:"crit"`
}

type jwtClaims struct {
	Iss   string          `json:"iss"`
	Aud   json.RawMessage `json:"aud"`
	Sub   string          `json:"sub"`
	Scope string          `json:"scope"`
	Exp   *json.Number    `json:"exp"`
	Nbf   *json.Number    `json:"nbf"`
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

var errBadToken = errors.New("invalid token")

// verify checks a JWT. Each planted JWT flaw weakens exactly one step; with
// none planted it is strict: the algorithm comes from the key named by kid,
// the signature is checked, exp is required, nbf, iss and aud are checked.
func (t *Target) verify(ctx context.Context, raw string) (*jwtClaims, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, errBadToken
	}
	hb, err := b64(parts[0])
	if err != nil {
		return nil, errBadToken
	}
	pb, err := b64(parts[1])
	if err != nil {
		return nil, errBadToken
	}
	sig, err := b64(parts[2])
	if err != nil {
		return nil, errBadToken
	}
	var h jwtHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, errBadToken
	}
	if len(h.Crit) > 0 {
		return nil, errBadToken
	}
	signing := parts[0] + "." + parts[1]
	if err := t.checkSignature(ctx, &h, signing, sig); err != nil {
		return nil, err
	}
	var c jwtClaims
	d := json.NewDecoder(bytes.NewReader(pb))
	d.UseNumber()
	if err := d.Decode(&c); err != nil {
		return nil, errBadToken
	}
	if err := t.checkClaims(&c); err != nil {
		return nil, err
	}
	return &c, nil
}

func (t *Target) checkSignature(ctx context.Context, h *jwtHeader, signing string, sig []byte) error {
	if strings.EqualFold(h.Alg, "none") {
		if t.flaws.Has(FlawJWTAlgNone) {
			return nil // the classic: "none" means no signature to check
		}
		return errBadToken
	}
	if t.flaws.Has(FlawJWTHeaderKeyTrust) && (len(h.JWK) > 0 || h.JKU != "") {
		key, err := t.headerKey(ctx, h)
		if err != nil {
			return errBadToken
		}
		return verifyWith(h.Alg, signing, sig, key)
	}
	alg, key, err := t.lookupKey(ctx, h)
	if err != nil {
		return errBadToken
	}
	if t.flaws.Has(FlawJWTNoVerify) && h.Alg == alg {
		// The bug: the signature is decoded and its presence checked, but
		// never verified.
		if len(sig) == 0 {
			return errBadToken
		}
		return nil
	}
	if h.Alg != alg {
		if t.flaws.Has(FlawJWTAlgConfusion) && h.Alg == "HS256" && alg == "ES256" {
			// The bug: the algorithm is taken from the header, and the
			// "key" of an HMAC is the public key's bytes as stored.
			for _, k := range [][]byte{t.esPEM, bytes.TrimSpace(t.esPEM), t.esDER} {
				if verifyWith("HS256", signing, sig, k) == nil {
					return nil
				}
			}
		}
		return errBadToken
	}
	return verifyWith(alg, signing, sig, key)
}

// lookupKey returns the algorithm and key named by the header's kid.
func (t *Target) lookupKey(ctx context.Context, h *jwtHeader) (string, any, error) {
	if h.Kid == nil {
		if t.flaws.Has(FlawJWTAlgConfusion) {
			return "ES256", &t.esKey.PublicKey, nil // the only key in the JWKS
		}
		return "", nil, errBadToken
	}
	kid := *h.Kid
	if t.flaws.Has(FlawJWTKidInjection) {
		if strings.Contains(kid, "/") || strings.Contains(kid, "..") {
			// The bug: kid names a key file, joined to the key directory.
			b, err := os.ReadFile(filepath.Join(t.dir, "keys", kid))
			if err != nil {
				return "", nil, err
			}
			return "HS256", b, nil
		}
		// The bug: kid spliced into SQL.
		var alg, key string
		err := t.db.QueryRowContext(ctx, "SELECT alg, key FROM jwt_keys WHERE kid = '"+kid+"'").Scan(&alg, &key)
		if err != nil {
			return "", nil, err
		}
		if alg == "ES256" {
			if kid != KidES256 {
				return "", nil, errBadToken
			}
			return alg, &t.esKey.PublicKey, nil
		}
		return alg, []byte(key), nil
	}
	switch {
	case kid == KidES256:
		return "ES256", &t.esKey.PublicKey, nil
	case kid == KidHS256 && t.flaws.Has(FlawJWTWeakSecret):
		return "HS256", []byte(WeakJWTSecret), nil
	}
	return "", nil, errBadToken
}

func verifyWith(alg, signing string, sig []byte, key any) error {
	switch alg {
	case "HS256":
		k, ok := key.([]byte)
		if !ok {
			return errBadToken
		}
		m := hmac.New(sha256.New, k)
		m.Write([]byte(signing))
		if !hmac.Equal(m.Sum(nil), sig) {
			return errBadToken
		}
		return nil
	case "ES256":
		if _, ok := key.(*ecdsa.PublicKey); !ok {
			return errBadToken
		}
		return jwt.SigningMethodES256.Verify(signing, sig, key)
	case "RS256":
		if _, ok := key.(*rsa.PublicKey); !ok {
			return errBadToken
		}
		return jwt.SigningMethodRS256.Verify(signing, sig, key)
	}
	return errBadToken
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid,omitempty"`
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	K   string `json:"k,omitempty"`
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
}

// headerKey is FlawJWTHeaderKeyTrust: the key comes from the token itself
// (jwk) or from a URL it names (jku, fetched from loopback only: this is a
// test target, it never reaches beyond the machine).
func (t *Target) headerKey(ctx context.Context, h *jwtHeader) (any, error) {
	if len(h.JWK) > 0 {
		var k jwk
		if err := json.Unmarshal(h.JWK, &k); err != nil {
			return nil, err
		}
		return k.public()
	}
	u, err := url.Parse(h.JKU)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || !loopbackHost(u.Hostname()) {
		return nil, errBadToken
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&set); err != nil {
		return nil, err
	}
	for _, k := range set.Keys {
		if h.Kid == nil || k.Kid == *h.Kid || len(set.Keys) == 1 {
			return k.public()
		}
	}
	return nil, errBadToken
}

func (k jwk) public() (any, error) {
	switch k.Kty {
	case "EC":
		x, err1 := b64(k.X)
		y, err2 := b64(k.Y)
		if err1 != nil || err2 != nil || k.Crv != "P-256" {
			return nil, errBadToken
		}
		if len(x) != 32 || len(y) != 32 {
			return nil, errBadToken
		}
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	case "RSA":
		n, err1 := b64(k.N)
		e, err2 := b64(k.E)
		if err1 != nil || err2 != nil || len(e) > 4 {
			return nil, errBadToken
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	case "oct":
		return b64(k.K)
	}
	return nil, errBadToken
}

func (t *Target) checkClaims(c *jwtClaims) error {
	now := t.now()
	if c.Iss != Issuer || c.Sub == "" {
		return errBadToken
	}
	var aud []string
	if err := json.Unmarshal(c.Aud, &aud); err != nil {
		var one string
		if err := json.Unmarshal(c.Aud, &one); err != nil {
			return errBadToken
		}
		aud = []string{one}
	}
	if !slices.Contains(aud, Audience) {
		return errBadToken
	}
	if !t.flaws.Has(FlawJWTExpiredAccepted) {
		if c.Exp == nil {
			return errBadToken
		}
		exp, err := c.Exp.Float64()
		if err != nil || now.After(time.Unix(int64(exp), 0).Add(leeway)) {
			return errBadToken
		}
	}
	if c.Nbf != nil && !t.flaws.Has(FlawJWTNbfIgnored) {
		nbf, err := c.Nbf.Float64()
		if err != nil || now.Add(leeway).Before(time.Unix(int64(nbf), 0)) {
			return errBadToken
		}
	}
	return nil
}

// bearer returns the bearer token, "" when there is no Authorization
// header, and ok=false when there is one that is not a bearer token.
func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", true
	}
	scheme, tok, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// authenticate returns the caller, or writes 401 and returns nil.
func (t *Target) authenticate(w http.ResponseWriter, r *http.Request) *principal {
	raw, ok := bearer(r)
	if !ok || raw == "" {
		t.problem(w, http.StatusUnauthorized, "a bearer token is required")
		return nil
	}
	p, err := t.principalFor(r.Context(), raw)
	if err != nil {
		t.problem(w, http.StatusUnauthorized, "the token is not valid")
		return nil
	}
	return p
}

func (t *Target) principalFor(ctx context.Context, raw string) (*principal, error) {
	c, err := t.verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	p := &principal{Username: c.Sub, Scopes: strings.Fields(c.Scope)}
	err = t.db.QueryRowContext(ctx, `SELECT id, role FROM users WHERE username = ?`, c.Sub).Scan(&p.ID, &p.Role)
	if err != nil {
		return nil, errBadToken
	}
	return p, nil
}

// require authenticates and checks a scope; it writes 401 or 403.
func (t *Target) require(w http.ResponseWriter, r *http.Request, scope string) *principal {
	p := t.authenticate(w, r)
	if p == nil {
		return nil
	}
	if !p.has(scope) {
		w.Header().Set("WWW-Authenticate", `Bearer error="insufficient_scope", scope="`+scope+`"`)
		t.problem(w, http.StatusForbidden, "the token lacks the scope "+scope)
		return nil
	}
	return p
}

// ---- POST /token ----

type tokenError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func (t *Target) handleToken(w http.ResponseWriter, r *http.Request) {
	mt := r.Header.Get("Content-Type")
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	if !strings.EqualFold(strings.TrimSpace(mt), "application/x-www-form-urlencoded") {
		writeJSON(w, http.StatusBadRequest, tokenError{"invalid_request", "the body must be application/x-www-form-urlencoded"})
		return
	}
	body, ok := t.readBody(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, tokenError{"invalid_request", "the form cannot be parsed"})
		return
	}
	for _, v := range form {
		if len(v) > 1 {
			writeJSON(w, http.StatusBadRequest, tokenError{"invalid_request", "a parameter is given twice"})
			return
		}
	}
	if form.Get("grant_type") != "password" {
		writeJSON(w, http.StatusBadRequest, tokenError{"unsupported_grant_type", "only the password grant is supported"})
		return
	}
	username, password := form.Get("username"), form.Get("password")
	if username == "" || password == "" || len(username) > 128 || len(password) > 256 {
		writeJSON(w, http.StatusBadRequest, tokenError{"invalid_request", "username and password are required"})
		return
	}
	key := canonicalUsername(username)
	limited := !t.flaws.Has(FlawNoLoginRateLimit)
	if limited {
		if wait, blocked := t.limiter.blocked(key, t.now()); blocked {
			w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
			writeJSON(w, http.StatusTooManyRequests, tokenError{"too_many_requests", "too many failed logins, try again later"})
			return
		}
	}
	p := &principal{}
	var hash string
	err = t.db.QueryRowContext(r.Context(), `SELECT id, username, role, password_hash FROM users WHERE username = ?`, username).
		Scan(&p.ID, &p.Username, &p.Role, &hash)
	fail := func(status int, desc string) {
		if limited {
			t.limiter.fail(key, t.now())
		}
		writeJSON(w, status, tokenError{"invalid_grant", desc})
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if t.flaws.Has(FlawUserEnumeration) {
			fail(http.StatusNotFound, "no such user")
			return
		}
		_ = bcrypt.CompareHashAndPassword(t.dummyHash, []byte(password)) // same time as a known user
		fail(http.StatusBadRequest, "invalid username or password")
		return
	case err != nil:
		t.problem(w, http.StatusInternalServerError, "internal error")
		return
	}
	if bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) != nil {
		if t.flaws.Has(FlawUserEnumeration) {
			fail(http.StatusUnauthorized, "incorrect password")
			return
		}
		fail(http.StatusBadRequest, "invalid username or password")
		return
	}
	if limited {
		t.limiter.reset(key)
	}
	granted := roleScopes(p.Role)
	if s := form.Get("scope"); s != "" {
		var asked []string
		for _, sc := range strings.Fields(s) {
			if !slices.Contains(granted, sc) {
				writeJSON(w, http.StatusBadRequest, tokenError{"invalid_scope", "a requested scope is not allowed"})
				return
			}
			asked = append(asked, sc)
		}
		granted = asked
	}
	tok, err := t.issue(p, granted)
	if err != nil {
		t.problem(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": tok,
		"token_type":   "bearer",
		"expires_in":   int(t.opts.TokenLifetime.Seconds()),
		"scope":        strings.Join(granted, " "),
	})
}

// ---- GET /.well-known/jwks.json ----

func (t *Target) handleJWKS(w http.ResponseWriter, _ *http.Request) {
	point, err := t.esKey.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.problem(w, http.StatusInternalServerError, "internal error")
		return
	}
	x, y := point[1:33], point[33:65]
	enc := base64.RawURLEncoding.EncodeToString
	writeJSON(w, http.StatusOK, map[string]any{"keys": []jwk{{
		Kty: "EC", Kid: KidES256, Crv: "P-256", X: enc(x), Y: enc(y), Alg: "ES256", Use: "sig",
	}}})
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

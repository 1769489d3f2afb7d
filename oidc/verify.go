package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fortapi/fortapi"
)

// Claims are the checked claims of a verified token.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	ID        string // jti, when the token has one
	ExpiresAt time.Time
	IssuedAt  time.Time // zero when the token has no iat
	// Scopes are this API's scopes the token's claims map to
	// (Options.ScopeRules), sorted, without duplicates.
	Scopes []string
}

// ScopeRule grants Scope to a token whose claim Claim holds Value. The
// claim is a string of space-separated values (as OAuth2's "scope") or an
// array of strings (as "scp", "roles", "groups"). Claim names a top-level
// claim, or, when no top-level claim has that name, a path of nested
// objects separated by dots ("realm_access.roles").
type ScopeRule struct {
	Claim, Value, Scope string
}

func (r ScopeRule) check() error {
	switch {
	case r.Claim == "" || !printable(r.Claim):
		return fmt.Errorf("scope rule %q: the claim name is empty or not printable", r.String())
	case r.Value == "" || !printable(r.Value):
		return fmt.Errorf("scope rule %q: the claim value is empty or not printable", r.String())
	case !validScope(r.Scope):
		return fmt.Errorf("scope rule %q: %q is not a scope (RFC 6749: printable ASCII without space, quote or backslash)", r.String(), r.Scope)
	}
	return nil
}

// String is the rule in the form ParseScopeRule reads.
func (r ScopeRule) String() string { return r.Claim + "[" + r.Value + "]=" + r.Scope }

// ParseScopeRule reads a rule written CLAIM[VALUE]=SCOPE, for example
// "scope[read:items]=items:read", "roles[Items.Admin]=users:admin",
// "realm_access.roles[editor]=items:write" or
// "https://example.com/roles[admin]=items:write". The claim is what comes
// before the first "[", the value what lies between it and the last "]=".
func ParseScopeRule(s string) (ScopeRule, error) {
	i := strings.LastIndex(s, "]=")
	j := strings.IndexByte(s, '[')
	if i < 0 || j < 0 || j > i {
		return ScopeRule{}, fmt.Errorf("scope rule %q: want CLAIM[VALUE]=SCOPE, for example scope[read:items]=items:read", s)
	}
	r := ScopeRule{Claim: s[:j], Value: s[j+1 : i], Scope: s[i+2:]}
	if err := r.check(); err != nil {
		return ScopeRule{}, err
	}
	return r, nil
}

// Verify checks raw, a JWT access token of this provider, and returns its
// claims. Every refusal wraps ErrInvalidToken; ErrUnavailable means the
// keys could not be fetched.
//
// Checked: compact JWS of three base64url parts; header with alg, kid
// and optionally typ only (no jwk, jku, x5u, x5c, crit: keys never come
// from the token); kid known (after at most one rate-limited refresh);
// alg equal to the algorithm of the key kid names (so "none", HS256 with
// the public key as secret and any other substitution fail); the
// signature; typ "at+jwt" or "application/at+jwt" (or absent or "JWT"
// unless RequireTyp); iss exactly the issuer; aud containing one of the
// audiences; exp present and not past (with Leeway), not beyond
// MaxLifetime; nbf and iat, when present, not in the future (with
// Leeway); sub present.
func (p *Provider) Verify(ctx context.Context, raw string) (*Claims, error) {
	if len(raw) > MaxTokenBytes {
		return nil, invalid("longer than %d bytes", MaxTokenBytes)
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return nil, invalid("not a signed JWT in compact form")
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, invalid("header is not base64url")
	}
	hdr, err := decodeObject(hb)
	if err != nil {
		return nil, invalid("header: %v", err)
	}
	var alg, kid, typ string
	for name, v := range hdr {
		if name != "alg" && name != "kid" && name != "typ" {
			return nil, invalid("header member %q is not accepted", name)
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, invalid("header member %q is not a string", name)
		}
		switch name {
		case "alg":
			alg = s
		case "kid":
			kid = s
		case "typ":
			typ = s
		}
	}
	if kid == "" || len(kid) > 256 || !printable(kid) {
		return nil, invalid("kid missing or malformed")
	}
	switch t := strings.ToLower(typ); {
	case t == "at+jwt" || t == "application/at+jwt":
	case p.o.RequireTyp:
		return nil, invalid("typ is not at+jwt")
	case t != "" && t != "jwt":
		return nil, invalid("typ is not an access token's")
	}
	key, err := p.key(ctx, kid)
	if err != nil {
		return nil, err
	}
	if alg != key.alg {
		return nil, invalid("alg does not match the key's")
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, invalid("signature is not base64url")
	}
	m := jwt.GetSigningMethod(key.alg)
	if m == nil {
		return nil, invalid("unsupported algorithm")
	}
	if err := m.Verify(parts[0]+"."+parts[1], sig, key.key); err != nil {
		return nil, invalid("bad signature")
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, invalid("payload is not base64url")
	}
	claims, err := decodeObject(pb)
	if err != nil {
		return nil, invalid("payload: %v", err)
	}
	return p.check(claims)
}

func (p *Provider) check(cl map[string]json.RawMessage) (*Claims, error) {
	var c Claims
	if err := str(cl, "iss", &c.Issuer); err != nil || c.Issuer != p.o.Issuer {
		return nil, invalid("wrong issuer")
	}
	if err := str(cl, "sub", &c.Subject); err != nil || c.Subject == "" || len(c.Subject) > 255 || !printable(c.Subject) {
		return nil, invalid("sub missing or malformed")
	}
	switch aud := cl["aud"]; {
	case aud == nil:
		return nil, invalid("no audience")
	case bytes.HasPrefix(bytes.TrimSpace(aud), []byte("[")):
		if json.Unmarshal(aud, &c.Audience) != nil {
			return nil, invalid("aud malformed")
		}
	default:
		var s string
		if json.Unmarshal(aud, &s) != nil {
			return nil, invalid("aud malformed")
		}
		c.Audience = []string{s}
	}
	if !slices.ContainsFunc(c.Audience, func(a string) bool { return slices.Contains(p.o.Audiences, a) }) {
		return nil, invalid("wrong audience")
	}
	if cl["jti"] != nil {
		if str(cl, "jti", &c.ID) != nil {
			return nil, invalid("jti malformed")
		}
	}
	now := p.o.Now()
	exp, ok, err := numericDate(cl, "exp")
	switch {
	case err != nil || !ok:
		return nil, invalid("exp missing or malformed")
	case !now.Before(exp.Add(p.o.Leeway)):
		return nil, invalid("expired")
	case exp.Sub(now) > p.o.MaxLifetime:
		return nil, invalid("exp is further ahead than the longest lifetime accepted")
	}
	c.ExpiresAt = exp
	if nbf, ok, err := numericDate(cl, "nbf"); err != nil {
		return nil, invalid("nbf malformed")
	} else if ok && nbf.After(now.Add(p.o.Leeway)) {
		return nil, invalid("not valid yet")
	}
	iat, ok, err := numericDate(cl, "iat")
	switch {
	case err != nil:
		return nil, invalid("iat malformed")
	case ok && (iat.After(now.Add(p.o.Leeway)) || iat.After(exp)):
		return nil, invalid("issued in the future")
	case ok:
		c.IssuedAt = iat
	}
	c.Scopes = p.mapScopes(cl)
	return &c, nil
}

// mapScopes returns the scopes the rules grant for the claims.
func (p *Provider) mapScopes(cl map[string]json.RawMessage) []string {
	var out []string
	cache := map[string][]string{}
	for _, r := range p.o.ScopeRules {
		vals, ok := cache[r.Claim]
		if !ok {
			vals = claimValues(cl, r.Claim)
			cache[r.Claim] = vals
		}
		if slices.Contains(vals, r.Value) && !slices.Contains(out, r.Scope) {
			out = append(out, r.Scope)
		}
	}
	slices.Sort(out)
	return out
}

// claimValues returns the values of the claim name: the space-separated
// parts of a string, or the strings of an array; nil for anything else.
func claimValues(cl map[string]json.RawMessage, name string) []string {
	v, ok := cl[name]
	if !ok && strings.Contains(name, ".") {
		obj := cl
		path := strings.Split(name, ".")
		for i, seg := range path {
			v, ok = obj[seg]
			if !ok || i == len(path)-1 {
				break
			}
			// A fresh map at each level: decoding into obj itself would
			// merge the nested members into the token's claims.
			var next map[string]json.RawMessage
			if json.Unmarshal(v, &next) != nil {
				return nil
			}
			obj = next
		}
	}
	if !ok {
		return nil
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return strings.Fields(s)
	}
	var arr []string
	if json.Unmarshal(v, &arr) == nil {
		return arr
	}
	return nil
}

func str(cl map[string]json.RawMessage, name string, dst *string) error {
	v, ok := cl[name]
	if !ok {
		return errors.New("missing")
	}
	return json.Unmarshal(v, dst)
}

// numericDate reads an RFC 7519 NumericDate (fractions are truncated).
func numericDate(cl map[string]json.RawMessage, name string) (time.Time, bool, error) {
	v, ok := cl[name]
	if !ok {
		return time.Time{}, false, nil
	}
	var f float64
	if err := json.Unmarshal(v, &f); err != nil || f < 0 || f > math.MaxInt32*4 || math.IsNaN(f) {
		return time.Time{}, true, errors.New("not a NumericDate")
	}
	return time.Unix(int64(f), 0), true, nil
}

// decodeObject decodes a JSON object's members, refusing a member name
// that appears twice (encoding/json would keep the last one, another
// parser the first).
func decodeObject(b []byte) (map[string]json.RawMessage, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	out := map[string]json.RawMessage{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, errors.New("malformed JSON")
		}
		name, _ := t.(string)
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, errors.New("malformed JSON")
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("member %q appears twice", name)
		}
		out[name] = v
	}
	if t, err := d.Token(); err != nil || t != json.Delim('}') {
		return nil, errors.New("malformed JSON")
	}
	if _, err := d.Token(); err == nil {
		return nil, errors.New("data after the object")
	}
	return out, nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func validScope(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// BearerToken returns the token of r's "Authorization: Bearer" header,
// or fortapi.ErrNoCredentials when r has no Authorization header.
func BearerToken(r *http.Request) (string, error) {
	vals := r.Header.Values("Authorization")
	switch {
	case len(vals) == 0:
		return "", fortapi.ErrNoCredentials
	case len(vals) > 1:
		return "", invalid("several Authorization headers")
	}
	scheme, tok, ok := strings.Cut(vals[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", fortapi.ErrNoCredentials
	}
	return strings.TrimLeft(tok, " "), nil
}

// Issuer returns the iss claim of raw without verifying anything, so
// that a server accepting tokens of several issuers can route a token to
// the one Provider that verifies it. "" when raw has none.
func Issuer(raw string) string {
	if len(raw) > MaxTokenBytes {
		return ""
	}
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return ""
	}
	pb, err := b64.DecodeString(parts[1])
	if err != nil {
		return ""
	}
	var c struct {
		Iss string `json:"iss"`
	}
	if json.Unmarshal(pb, &c) != nil {
		return ""
	}
	return c.Iss
}

// Authenticate implements fortapi.Authenticator for an API that accepts
// this provider's tokens: the bearer token of r, verified, as a
// principal of fortapi.OIDCScheme whose Subject is the token's sub,
// Issuer its iss and Scopes the mapped scopes. Only operations declaring
// OIDCScheme (fortapi.WithOIDC) accept it. ErrUnavailable becomes a 503.
func (p *Provider) Authenticate(r *http.Request) (*fortapi.Principal, error) {
	tok, err := BearerToken(r)
	if err != nil {
		return nil, err
	}
	c, err := p.Verify(r.Context(), tok)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return nil, unavailable{}
		}
		return nil, err
	}
	return c.Principal(), nil
}

// Principal returns c as a principal of fortapi.OIDCScheme.
func (c *Claims) Principal() *fortapi.Principal {
	return &fortapi.Principal{Subject: c.Subject, Issuer: c.Issuer, Scheme: fortapi.OIDCScheme,
		Scopes: slices.Clone(c.Scopes), TokenID: c.ID, ExpiresAt: c.ExpiresAt, IssuedAt: c.IssuedAt}
}

// unavailable is a huma.StatusError: fortapi answers 503.
type unavailable struct{}

func (unavailable) Error() string  { return "the identity provider's keys are unavailable" }
func (unavailable) GetStatus() int { return http.StatusServiceUnavailable }

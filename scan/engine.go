package scan

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// errBudget stops a check when the request budget is spent.
var errBudget = errors.New("request budget spent")

// errOffTarget is returned for a URL outside the target's origin.
var errOffTarget = errors.New("refusing a URL outside the target")

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }
func (wallClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// rateLimiter spaces requests 1/rate apart on clock.
type rateLimiter struct {
	mu    sync.Mutex
	clock Clock
	every time.Duration
	next  time.Time
}

func newRateLimiter(rate float64, clock Clock) *rateLimiter {
	return &rateLimiter{clock: clock, every: time.Duration(float64(time.Second) / rate)}
}

func (l *rateLimiter) Wait(ctx context.Context) error {
	l.mu.Lock()
	now := l.clock.Now()
	at := l.next
	if at.Before(now) {
		at = now
	}
	l.next = at.Add(l.every)
	l.mu.Unlock()
	return l.clock.Sleep(ctx, at.Sub(now))
}

// scanner holds one scan's state.
type scanner struct {
	opts    Options
	base    *url.URL // scheme://host:port, no path
	prefix  string   // path prefix of the target URL, without a trailing slash
	client  *http.Client
	clock   Clock
	limiter Limiter
	rules   map[string]Rule
	checks  map[string]bool // selected categories and ids; nil: all

	mu           sync.Mutex
	requests     int
	throttled    int // 429 answers
	throttledOps []string
	waited       time.Duration // slept for Retry-After
	findings     []Finding
	seen         map[string]bool
	check        string
	done         int
	total        int

	doc        *apiDoc
	principals []*principal // users (non-admin)
	admin      *principal
	tokenURL   string
	loginOp    *operation // the token endpoint's operation, if documented
	created    []createdObject
	ownedPaths map[string]bool    // concrete paths of objects the scan created
	accounts   []Credential       // accounts the scan created (known passwords)
	objects    map[string]*object // fixtures by principal, collection and parameter
	probe      *probeTarget       // the endpoint the token checks use
}

type createdObject struct {
	path  string // concrete path, /items/0192...
	owner *principal
	del   *operation // DELETE operation to clean up with, if any
}

func newScanner(opts Options) (*scanner, error) {
	u, err := url.Parse(strings.TrimSpace(opts.Target))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("target %q: want an http:// or https:// URL", opts.Target)
	}
	if u.User != nil {
		return nil, fmt.Errorf("target %q: credentials in the URL are not supported (use --user)", u.Redacted())
	}
	host := u.Host
	if u.Port() == "" {
		port := "443"
		if u.Scheme == "http" {
			port = "80"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	if opts.MaxRequests <= 0 {
		opts.MaxRequests = 3000
	}
	if opts.Rate <= 0 {
		opts.Rate = 20
	}
	if opts.LoginProbes <= 0 {
		opts.LoginProbes = 12
	}
	if opts.SleepSeconds <= 0 {
		opts.SleepSeconds = 2
	}
	if opts.second <= 0 {
		opts.second = time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 20 * time.Second
	}
	if opts.Clock == nil {
		opts.Clock = wallClock{}
	}
	if opts.Limiter == nil {
		opts.Limiter = newRateLimiter(opts.Rate, opts.Clock)
	}
	s := &scanner{
		opts:       opts,
		base:       &url.URL{Scheme: u.Scheme, Host: host},
		prefix:     strings.TrimSuffix(u.Path, "/"),
		clock:      opts.Clock,
		limiter:    opts.Limiter,
		rules:      map[string]Rule{},
		seen:       map[string]bool{},
		ownedPaths: map[string]bool{},
	}
	for _, r := range Rules() {
		s.rules[r.ID] = r
	}
	if len(opts.Checks) > 0 {
		s.checks = map[string]bool{}
		for _, c := range opts.Checks {
			c = strings.TrimSpace(c)
			if c == "" {
				continue
			}
			if _, ok := s.rules[strings.ToUpper(c)]; ok {
				s.checks[strings.ToUpper(c)] = true
				continue
			}
			if !slices.Contains(Categories(), strings.ToLower(c)) {
				return nil, fmt.Errorf("unknown check %q (categories: %s; or a finding id)", c, strings.Join(Categories(), ", "))
			}
			s.checks[strings.ToLower(c)] = true
		}
	}
	tr := opts.Transport
	if tr == nil {
		tr = &http.Transport{
			Proxy:               nil, // never through a proxy from the environment: the scan talks to the target only
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: opts.Insecure, RootCAs: opts.RootCAs, ServerName: u.Hostname(), MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2:   true,
			MaxIdleConnsPerHost: 4,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		}
	}
	s.client = &http.Client{
		Transport: tr,
		Timeout:   opts.Timeout,
		// Redirects are never followed: a check looks at the 3xx itself,
		// and a Location elsewhere is never visited.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return s, nil
}

// enabled reports whether a finding id (or its category) is selected.
func (s *scanner) enabled(id string) bool {
	if s.checks == nil {
		return true
	}
	return s.checks[id] || s.checks[s.rules[id].Category]
}

// anyEnabled reports whether any of the ids is selected.
func (s *scanner) anyEnabled(ids ...string) bool {
	for _, id := range ids {
		if s.enabled(id) {
			return true
		}
	}
	return false
}

// report records a finding once per (id, operation, parameter).
func (s *scanner) report(id, op, param, evidence string) {
	if !s.enabled(id) && id != "INFO-NOTE" {
		return
	}
	r, ok := s.rules[id]
	if !ok {
		panic("scan: unknown finding id " + id)
	}
	key := id + "\x00" + op + "\x00" + param
	if id == "INFO-NOTE" {
		key += "\x00" + evidence
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[key] {
		return
	}
	s.seen[key] = true
	cwe := append([]string{}, r.CWE...)
	s.findings = append(s.findings, Finding{
		ID: id, Title: r.Title, Severity: r.Severity, OWASP: r.OWASP, CWE: cwe,
		Operation: op, Parameter: param, Evidence: truncate(evidence, 2000), Fix: r.Fix,
	})
}

// found reports whether a finding id was already reported on an
// operation (and, when given, a parameter).
func (s *scanner) found(id, op string, param ...string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.findings {
		if f.ID == id && f.Operation == op && (len(param) == 0 || f.Parameter == param[0]) {
			return true
		}
	}
	return false
}

// note records an inventory note (severity info).
func (s *scanner) note(format string, args ...any) {
	s.report("INFO-NOTE", "", "", fmt.Sprintf(format, args...))
}

// req is one request of a check.
type req struct {
	method string
	path   string // path (with query) relative to the origin, or an absolute URL on it
	query  url.Values
	header http.Header
	body   []byte
	ctype  string
	as     *principal // sends its credentials
	token  string     // a bearer token instead of as's
	// noRetry: do not retry a 429 (login probes count the 429s).
	noRetry bool
	// op labels the operation for passive findings ("GET /items/{id}").
	op string
	// sqli marks a SQL payload: its database errors are SQLI-ERROR's,
	// not ERROR-VERBOSE's; noPassive skips the passive checks.
	sqli, noPassive bool
}

// resp is an answer, its body capped at 1 MiB.
type resp struct {
	status int
	header http.Header
	body   []byte
	dur    time.Duration
	req    *http.Request
	sent   []byte // the request body
}

func (r *resp) ctype() string {
	ct := strings.ToLower(r.header.Get("Content-Type"))
	ct, _, _ = strings.Cut(ct, ";")
	return strings.TrimSpace(ct)
}

func (r *resp) isJSON() bool {
	ct := r.ctype()
	return ct == "application/json" || strings.HasSuffix(ct, "+json")
}

func (r *resp) ok() bool { return r.status >= 200 && r.status < 300 }

// resolve turns a path or URL into an absolute URL on the target, or
// errOffTarget.
func (s *scanner) resolve(p string) (*url.URL, error) {
	u, err := url.Parse(p)
	if err != nil {
		return nil, err
	}
	if u.IsAbs() || u.Host != "" {
		if !s.sameOrigin(u) {
			return nil, fmt.Errorf("%w: %s", errOffTarget, u.Redacted())
		}
		return u, nil
	}
	v := *s.base
	v.Path = u.Path
	v.RawPath = u.RawPath
	v.RawQuery = u.RawQuery
	return &v, nil
}

func (s *scanner) sameOrigin(u *url.URL) bool {
	if !strings.EqualFold(u.Scheme, s.base.Scheme) {
		return false
	}
	host := u.Host
	if u.Port() == "" {
		port := "443"
		if strings.EqualFold(u.Scheme, "http") {
			port = "80"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	return strings.EqualFold(host, s.base.Host)
}

// spend takes one request from the budget.
func (s *scanner) spend() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.requests >= s.opts.MaxRequests {
		return errBudget
	}
	s.requests++
	return nil
}

func (s *scanner) progress() {
	if s.opts.Progress == nil {
		return
	}
	s.mu.Lock()
	p := Progress{Check: s.check, Done: s.done, Total: s.total, Requests: s.requests, Budget: s.opts.MaxRequests}
	s.mu.Unlock()
	s.opts.Progress(p)
}

// do sends r to the target. It retries a 429 twice, honouring a
// Retry-After of at most 10 s.
func (s *scanner) do(ctx context.Context, r req) (*resp, error) {
	for attempt := 0; ; attempt++ {
		res, err := s.doOnce(ctx, r)
		if err != nil || res.status != http.StatusTooManyRequests || r.noRetry || attempt >= 2 {
			return res, err
		}
		wait := 2 * time.Second
		if ra, err := strconv.Atoi(strings.TrimSpace(res.header.Get("Retry-After"))); err == nil && ra >= 0 {
			wait = time.Duration(ra) * time.Second
		}
		s.mu.Lock()
		s.throttled++
		if len(s.throttledOps) < 3 && !slices.Contains(s.throttledOps, r.method+" "+res.req.URL.Path) {
			s.throttledOps = append(s.throttledOps, r.method+" "+res.req.URL.Path)
		}
		ok := wait <= 5*time.Second && s.waited+wait <= 20*time.Second
		if ok {
			s.waited += wait
		}
		s.mu.Unlock()
		if !ok {
			return res, nil // the scan waits 20 s at most in all
		}
		if err := s.clock.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

func (s *scanner) doOnce(ctx context.Context, r req) (*resp, error) {
	u, err := s.resolve(r.path)
	if err != nil {
		return nil, err
	}
	if len(r.query) > 0 {
		q := u.Query()
		for k, vs := range r.query {
			q[k] = vs
		}
		u.RawQuery = q.Encode()
	}
	if err := s.spend(); err != nil {
		return nil, err
	}
	if err := s.limiter.Wait(ctx); err != nil {
		return nil, err
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	hr, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	hr.Header.Set("User-Agent", "fortapi-scan/1")
	hr.Header.Set("Accept", "application/json, text/html;q=0.5, */*;q=0.1")
	for k, vs := range r.header {
		hr.Header[k] = vs
	}
	if r.ctype != "" {
		hr.Header.Set("Content-Type", r.ctype)
	}
	tok := r.token
	if tok == "" && r.as != nil {
		tok = r.as.token
	}
	if tok != "" && hr.Header.Get("Authorization") == "" {
		hr.Header.Set("Authorization", "Bearer "+tok)
	}
	start := s.clock.Now()
	hres, err := s.client.Do(hr)
	defer s.progress()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// no answer (connection refused or cut, timeout): status 0,
		// which no check takes for a success or a 5xx
		return &resp{status: 0, header: http.Header{}, dur: s.clock.Now().Sub(start), req: hr, sent: r.body}, nil
	}
	defer hres.Body.Close()
	b, err := io.ReadAll(io.LimitReader(hres.Body, 1<<20))
	dur := s.clock.Now().Sub(start)
	if err != nil && len(b) == 0 && ctx.Err() != nil {
		return nil, ctx.Err()
	}
	res := &resp{status: hres.StatusCode, header: hres.Header, body: b, dur: dur, req: hr, sent: r.body}
	s.passive(r, res)
	s.track(r, res)
	return res, nil
}

// excerpt renders a request and its answer for evidence, secrets masked.
func excerpt(r *resp) string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	q := r.req.URL.RequestURI()
	fmt.Fprintf(&b, "> %s %s\n", r.req.Method, maskQuery(q))
	for _, h := range []string{"Authorization", "Origin", "Cookie", "X-Api-Key"} {
		if v := r.req.Header.Get(h); v != "" {
			fmt.Fprintf(&b, "> %s: %s\n", h, maskHeader(h, v))
		}
	}
	if len(r.sent) > 0 {
		fmt.Fprintf(&b, "> %s\n", truncate(maskBody(window(r.sent)), 300))
	}
	fmt.Fprintf(&b, "< %d", r.status)
	for _, h := range []string{"Content-Type", "Location", "Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Server", "X-Powered-By", "Set-Cookie"} {
		if v := r.header.Get(h); v != "" {
			fmt.Fprintf(&b, "\n< %s: %s", h, maskHeader(h, v))
		}
	}
	if len(r.body) > 0 {
		fmt.Fprintf(&b, "\n< %s", truncate(maskBody(window(r.body)), 400))
	}
	fmt.Fprintf(&b, "\n(%d ms)", r.dur.Milliseconds())
	return b.String()
}

// window is the start of a body that an excerpt masks and shows: masking
// (regular expressions) a 10 MiB body for a 400-character excerpt would
// cost seconds. The window is far wider than the excerpt, so a secret
// shown in part is still masked.
func window(b []byte) string {
	const n = 16 << 10
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// keep valid UTF-8
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// sortFindings orders by severity (highest first), then id and operation.
func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity.Rank() != b.Severity.Rank() {
			return a.Severity.Rank() > b.Severity.Rank()
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if a.Operation != b.Operation {
			return a.Operation < b.Operation
		}
		return a.Parameter < b.Parameter
	})
}

// group is a check category's code.
type group struct {
	name string
	ids  []string
	run  func(ctx context.Context) error
}

func (s *scanner) groups() []group {
	ids := func(cat string) []string {
		var out []string
		for _, r := range Rules() {
			if r.Category == cat {
				out = append(out, r.ID)
			}
		}
		return out
	}
	all := []group{
		{"transport", ids("transport"), s.checkTransport},
		{"headers", ids("headers"), s.checkHeaders},
		{"authn", ids("authn"), s.checkAuthn},
		{"jwt", ids("jwt"), s.checkJWT},
		{"authz", ids("authz"), s.checkAuthz},
		{"input", ids("input"), s.checkInput},
		{"exposure", ids("exposure"), s.checkExposure},
	}
	var out []group
	for _, g := range all {
		if s.anyEnabled(g.ids...) {
			out = append(out, g)
		}
	}
	return out
}

func (s *scanner) run(ctx context.Context) (*Report, error) {
	started := s.clock.Now()
	if err := s.loadDoc(ctx); err != nil {
		return nil, err
	}
	if err := s.login(ctx); err != nil {
		return nil, err
	}
	gs := s.groups()
	s.total = len(gs)
	var stopped error
	for _, g := range gs {
		s.mu.Lock()
		s.check = g.name
		s.mu.Unlock()
		s.progress()
		if err := g.run(ctx); err != nil {
			switch {
			case errors.Is(err, errBudget):
				stopped = err
			case ctx.Err() != nil:
				stopped = ctx.Err()
			default:
				s.note("check group %s stopped: %v", g.name, err)
			}
		}
		s.mu.Lock()
		s.done++
		s.mu.Unlock()
		if stopped != nil {
			break
		}
	}
	if stopped != nil {
		s.note("scan stopped early (%v): the report is partial", stopped)
	}
	if s.throttled > 0 {
		s.note("the target answered 429 (rate limited) %d time(s), e.g. to %s; the scan waited %s for it in all: lower --rate if results look incomplete", s.throttled, strings.Join(s.throttledOps, ", "), s.waited)
	}
	s.cleanup(context.WithoutCancel(ctx))
	s.progress()
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := append([]Finding{}, s.findings...)
	sortFindings(fs)
	target := s.base.String() + s.prefix
	return &Report{
		Target:    target,
		Started:   started.UTC(),
		DurationS: float64(s.clock.Now().Sub(started).Milliseconds()) / 1000,
		Requests:  s.requests,
		Findings:  fs,
	}, nil
}

// cleanup deletes the objects the scan created, when it can, within a
// small extra budget.
func (s *scanner) cleanup(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	s.mu.Lock()
	s.opts.MaxRequests += len(s.created)
	s.mu.Unlock()
	for i := len(s.created) - 1; i >= 0; i-- {
		c := s.created[i]
		if c.del == nil || c.owner == nil {
			continue
		}
		if _, err := s.do(ctx, req{method: "DELETE", path: c.path, as: c.owner}); err != nil {
			return
		}
	}
}

// track records an object a POST created (an id in a 2xx JSON answer),
// with the DELETE to remove it at the end, and marks it as the scan's.
func (s *scanner) track(r req, res *resp) {
	if r.method != "POST" || !res.ok() || s.doc == nil || r.op == "" {
		return
	}
	var op *operation
	for _, o := range s.doc.ops {
		if o.label() == r.op {
			op = o
		}
	}
	if op == nil {
		return
	}
	var got map[string]any
	if json.Unmarshal(res.body, &got) != nil {
		return
	}
	coll := strings.TrimSuffix(op.path, "/")
	var del *operation
	param := "id"
	for _, o := range s.doc.ops {
		if o.method == "DELETE" && strings.HasPrefix(o.path, coll+"/{") && strings.Count(o.path[len(coll):], "/") == 1 && len(o.pathParams()) == len(op.pathParams())+1 {
			del = o
			param = o.pathParams()[len(o.pathParams())-1].name
		}
	}
	id := idOf(got, param)
	if id == "" {
		return
	}
	concrete := strings.TrimSuffix(res.req.URL.Path, "/")
	p := concrete + "/" + url.PathEscape(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ownedPaths[p] {
		return
	}
	s.ownedPaths[p] = true
	s.created = append(s.created, createdObject{path: p, owner: r.as, del: del})
}

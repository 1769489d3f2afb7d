package fortapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/fortapi/fortapi/clientip"
	"github.com/fortapi/fortapi/ratelimit"
)

// RateLimitExtension is the OpenAPI extension listing the rate limits an
// operation is subject to (on each operation) and the limit on every
// request (on the document itself).
const RateLimitExtension = "x-ratelimit"

// GlobalLimitName is the policy name of Options.GlobalLimit, in the
// RateLimit headers and the document. Operations cannot declare it.
const GlobalLimitName = "global"

// LimitKey says what a rate limit counts by.
type LimitKey string

// Keys of a declared rate limit.
const (
	// KeyIP counts per client address, as Options.ClientIP resolves it
	// (the TCP peer unless it is a trusted proxy; IPv6 grouped by /64).
	KeyIP LimitKey = "ip"
	// KeyUser counts per authenticated caller (Principal.Subject). Only
	// protected operations may declare it.
	KeyUser LimitKey = "user"
	// KeyOperation counts every caller of the operation together.
	KeyOperation LimitKey = "operation"
)

// Limit is a rate limit declared on an operation (see RateLimit). Limits
// are named: every operation declaring the same name shares one allowance
// per key (a user's "writes" across all write operations), and must
// declare it with the same spec and key; give an operation a name of its
// own for an allowance of its own.
type Limit struct {
	// Name is the policy name in the RateLimit headers: 1 to 64 of A-Z
	// a-z 0-9 _ . : -.
	Name string `json:"name"`
	// Spec is the limit as ratelimit.ParseSpec reads it: "60/minute",
	// "10/second burst 20". In the served document it is the enforced
	// spec (after the Set's scale).
	Spec string `json:"limit"`
	// Key is what the limit counts by.
	Key LimitKey `json:"key"`
	// Policy is the RateLimit-Policy item responses carry for this limit
	// (`"writes";q=60;w=60`). The API fills it in; leave it empty.
	Policy string `json:"policy,omitempty"`
}

// PerIP declares a limit counted per client address.
func PerIP(name, spec string) Limit { return Limit{Name: name, Spec: spec, Key: KeyIP} }

// PerUser declares a limit counted per authenticated caller.
func PerUser(name, spec string) Limit { return Limit{Name: name, Spec: spec, Key: KeyUser} }

// PerOperation declares a limit shared by every caller of the operation.
func PerOperation(name, spec string) Limit { return Limit{Name: name, Spec: spec, Key: KeyOperation} }

// RateLimits returns operation extensions declaring limits, for use as
// huma.Operation.Extensions:
//
//	Extensions: fortapi.RateLimits(fortapi.PerUser("writes", "60/minute")),
//
// The API enforces exactly what the operation's x-ratelimit extension
// lists, after authentication and authorization and before the input is
// decoded; each limited operation documents its 429 answer.
func RateLimits(limits ...Limit) map[string]any {
	return map[string]any{RateLimitExtension: slices.Clone(limits)}
}

// RateLimit adds limits to the operation's x-ratelimit extension (see
// RateLimits), keeping its other extensions.
func RateLimit(op *huma.Operation, limits ...Limit) {
	if op.Extensions == nil {
		op.Extensions = map[string]any{}
	}
	have, _ := op.Extensions[RateLimitExtension].([]Limit)
	op.Extensions[RateLimitExtension] = append(slices.Clone(have), limits...)
}

// rateLimits is the API's limiting state, built by New and Handle.
type rateLimits struct {
	set    *ratelimit.Set
	ip     *clientip.Resolver
	global *ratelimit.Limiter // nil: no global limit
	doc    []Limit            // the global limit as documented, or nil
	named  map[string]*namedLimit
}

// namedLimit is one declared limit, shared by the operations naming it.
type namedLimit struct {
	spec string // canonical declared spec
	key  LimitKey
	lim  *ratelimit.Limiter
	by   string // the operation that declared it first
}

// opLimit is a limit as one operation enforces it.
type opLimit struct {
	lim   *ratelimit.Limiter
	key   LimitKey
	opKey string // KeyOperation's key
}

// initRateLimits sets up the Set, the resolver and the global limit. Bad
// settings are recorded as problems: Handler refuses to start.
func (a *API) initRateLimits() {
	o := a.opts
	a.rl.named = map[string]*namedLimit{}
	a.rl.ip = o.ClientIP
	if a.rl.ip == nil {
		a.rl.ip, _ = clientip.New(clientip.Options{}) // cannot fail: trusts nobody
	}
	a.rl.set = o.RateLimits
	if o.GlobalLimit == "" {
		return
	}
	spec, err := ratelimit.ParseSpec(o.GlobalLimit)
	if err == nil {
		a.rl.global, err = ratelimit.New(ratelimit.Options{
			Name: GlobalLimitName, Spec: spec, Key: ratelimit.ByClientIP(a.rl.ip.ClientIP), Set: a.limitSet(),
		})
	}
	if err != nil {
		a.problems = append(a.problems, "the global rate limit: "+err.Error())
		return
	}
	a.rl.doc = []Limit{documented(GlobalLimitName, a.rl.global, KeyIP)}
	if a.cfg.OpenAPI.Extensions == nil {
		a.cfg.OpenAPI.Extensions = map[string]any{}
	}
	a.cfg.OpenAPI.Extensions[RateLimitExtension] = slices.Clone(a.rl.doc)
}

// limitSet returns the Set limiters belong to, creating an in-memory one
// on first use when Options.RateLimits is nil.
func (a *API) limitSet() *ratelimit.Set {
	if a.rl.set == nil {
		a.rl.set, _ = ratelimit.NewSet(ratelimit.SetOptions{Now: a.opts.Now, Logger: a.log}) // cannot fail: no option set
	}
	return a.rl.set
}

func documented(name string, l *ratelimit.Limiter, key LimitKey) Limit {
	return Limit{Name: name, Spec: l.Spec().String(), Key: key, Policy: l.Policy()}
}

// declaredLimits reads the operation's x-ratelimit extension, builds or
// finds the limiters it names, and rewrites the extension to what is
// enforced (the global limit first). It returns why the declaration is
// refused, or "".
func (a *API) declaredLimits(op *huma.Operation, public bool, opName string) ([]opLimit, string) {
	decl, err := decodeLimits(op.Extensions[RateLimitExtension])
	if err != nil {
		return nil, "declares an unreadable " + RateLimitExtension + " extension: " + err.Error()
	}
	if len(decl) == 0 && a.rl.global == nil {
		return nil, ""
	}
	var out []opLimit
	doc := slices.Clone(a.rl.doc)
	for _, d := range decl {
		if d.Policy != "" {
			return nil, fmt.Sprintf("declares rate limit %q with a policy; the API writes it", d.Name)
		}
		if d.Name == GlobalLimitName {
			return nil, fmt.Sprintf("declares the rate limit %q, which is reserved for Options.GlobalLimit", d.Name)
		}
		switch d.Key {
		case KeyIP, KeyOperation:
		case KeyUser:
			if public {
				return nil, fmt.Sprintf("is public but declares the per-user rate limit %q (anonymous callers have no user)", d.Name)
			}
		default:
			return nil, fmt.Sprintf("declares rate limit %q with the unknown key %q (want ip, user or operation)", d.Name, d.Key)
		}
		if slices.ContainsFunc(out, func(o opLimit) bool { return o.lim.Name() == d.Name }) {
			return nil, fmt.Sprintf("declares rate limit %q twice", d.Name)
		}
		spec, err := ratelimit.ParseSpec(d.Spec)
		if err != nil {
			return nil, fmt.Sprintf("declares rate limit %q: %v", d.Name, err)
		}
		n, ok := a.rl.named[d.Name]
		switch {
		case !ok:
			lim, err := ratelimit.New(ratelimit.Options{Name: d.Name, Spec: spec, Set: a.limitSet()})
			if err != nil {
				return nil, "declares an invalid rate limit: " + err.Error()
			}
			n = &namedLimit{spec: spec.String(), key: d.Key, lim: lim, by: opName}
			a.rl.named[d.Name] = n
		case n.spec != spec.String() || n.key != d.Key:
			return nil, fmt.Sprintf("declares rate limit %q as %s per %s, but %s declared it as %s per %s",
				d.Name, spec, d.Key, n.by, n.spec, n.key)
		}
		l := opLimit{lim: n.lim, key: d.Key}
		if d.Key == KeyOperation {
			id := op.OperationID
			if id == "" {
				id = op.Method + " " + op.Path
			}
			l.opKey = "op:" + id
		}
		out = append(out, l)
		doc = append(doc, documented(d.Name, n.lim, d.Key))
	}
	if op.Extensions == nil {
		op.Extensions = map[string]any{}
	}
	op.Extensions[RateLimitExtension] = doc
	return out, ""
}

// decodeLimits reads an x-ratelimit extension: what RateLimits and
// RateLimit store, or anything that marshals to a JSON array of limits
// (a document read back from JSON), strictly.
func decodeLimits(v any) ([]Limit, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []Limit:
		return v, nil
	case Limit:
		return []Limit{v}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var out []Limit
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("want a list of {name, limit, key}: %v", err)
	}
	return out, nil
}

// admit checks the operation's limits after authorization: it writes the
// RateLimit headers, or the whole 429 (503 when the store fails and the
// Set fails closed), and reports whether the call may go on. Limits are
// checked in order; a later limit's denial does not give back what an
// earlier one took.
func (a *API) admit(ctx huma.Context, limits []opLimit) bool {
	r, w := humago.Unwrap(ctx)
	// The front door's recorder holds the global limit's fields: every
	// limit's are written at once, after the last (or with the refusal).
	f := pendingFields(r)
	for i := range limits {
		l := &limits[i]
		var ok bool
		switch l.key {
		case KeyUser:
			p, found := PrincipalFrom(ctx.Context())
			if !found { // authorize always sets one on protected operations
				if f != nil {
					f.WriteTo(w.Header())
				}
				ratelimit.WriteUnavailable(w, r, ratelimit.Result{RetryAfter: time.Second})
				return false
			}
			if f != nil {
				ok = l.lim.AdmitUserTo(w, r, p.Subject, f)
			} else {
				ok = l.lim.AdmitUser(w, r, p.Subject) // key "user:" + subject
			}
		case KeyIP:
			if f != nil {
				ok = l.lim.AdmitIPTo(w, r, a.rl.ip.ClientIP(r), f)
			} else {
				ok = l.lim.AdmitIP(w, r, a.rl.ip.ClientIP(r)) // key ratelimit.IPKey
			}
		default:
			if f != nil {
				ok = l.lim.AdmitKeyTo(w, r, l.opKey, f)
			} else {
				ok = l.lim.AdmitKey(w, r, l.opKey)
			}
		}
		if !ok {
			return false
		}
	}
	if f != nil {
		f.WriteTo(w.Header())
	}
	return true
}

// ClientIP is the client's address as the API sees it for rate limits:
// the TCP peer, or what the trusted proxies of Options.ClientIP forwarded.
// Handlers use it to name the client in audit records.
func (a *API) ClientIP(r *http.Request) netip.Addr { return a.rl.ip.ClientIP(r) }

// rateLimitHeaders documents the fields of a limited response.
func rateLimitHeaders() map[string]*huma.Param {
	str := func(desc string) *huma.Param {
		return &huma.Param{Description: desc, Schema: &huma.Schema{Type: "string"}}
	}
	num := func(desc string) *huma.Param {
		return &huma.Param{Description: desc, Schema: &huma.Schema{Type: "integer", Minimum: ptrFloat(0)}}
	}
	return map[string]*huma.Param{
		"Retry-After":         {Description: "Seconds to wait before retrying (at least 1).", Schema: &huma.Schema{Type: "integer", Minimum: ptrFloat(1)}},
		"RateLimit-Policy":    str(`The limits applied (draft-ietf-httpapi-ratelimit-headers-09), e.g. "writes";q=60;w=60: quota q per window w seconds.`),
		"RateLimit":           str(`What is left of each limit (draft-ietf-httpapi-ratelimit-headers-09), e.g. "writes";r=0;t=12: r requests remaining, t seconds until reset.`),
		"RateLimit-Limit":     num("The quota of the most restrictive limit."),
		"RateLimit-Remaining": num("Requests remaining under the most restrictive limit."),
		"RateLimit-Reset":     num("Seconds until the most restrictive limit resets."),
	}
}

func ptrFloat(f float64) *float64 { return &f }

// documentRateLimits adds the limiter's answers to a limited operation,
// next to any the operation documents itself: 429, and 503 for a Set whose
// store fails while it fails closed (the document cannot tell which policy
// a Set has, so the 503 is always listed).
func (a *API) documentRateLimits(op *huma.Operation) {
	limits, _ := op.Extensions[RateLimitExtension].([]Limit)
	if len(limits) == 0 {
		return
	}
	var names []string
	for _, l := range limits {
		names = append(names, fmt.Sprintf("%s %s per %s", strconv.Quote(l.Name), l.Spec, l.Key))
	}
	a.addProblemResponse(op, http.StatusTooManyRequests,
		"Too Many Requests: a rate limit is exhausted ("+strings.Join(names, "; ")+"); wait Retry-After seconds.",
		rateLimitHeaders())
	a.addProblemResponse(op, http.StatusServiceUnavailable,
		"Service Unavailable: the rate-limit store cannot be reached and the server is configured to fail closed; retry after Retry-After seconds.",
		map[string]*huma.Param{"Retry-After": rateLimitHeaders()["Retry-After"]})
}

// addProblemResponse documents a problem+json answer with headers, merged
// into the operation's own answer for that status if it has one.
func (a *API) addProblemResponse(op *huma.Operation, status int, desc string, headers map[string]*huma.Param) {
	code := strconv.Itoa(status)
	resp := op.Responses[code]
	if resp == nil {
		resp = &huma.Response{Description: desc}
		op.Responses[code] = resp
	} else if !strings.Contains(resp.Description, desc) {
		resp.Description += ". Or: " + desc
	}
	if resp.Content == nil {
		resp.Content = map[string]*huma.MediaType{}
	}
	if resp.Content["application/problem+json"] == nil {
		resp.Content["application/problem+json"] = &huma.MediaType{Schema: a.errModel}
	}
	if resp.Headers == nil {
		resp.Headers = map[string]*huma.Param{}
	}
	for k, v := range headers {
		if resp.Headers[k] == nil {
			resp.Headers[k] = v
		}
	}
}

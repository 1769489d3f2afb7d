package scan

import (
	"context"
	"net/http"
	"regexp"
	"strings"
)

var reVersion = regexp.MustCompile(`\d+\.\d+`)

// sample is a request whose answer the header checks look at.
type sample struct {
	op *operation // nil for a path outside the document
	r  *resp
}

// samples fetches a few answers: public and protected JSON, HTML pages.
func (s *scanner) samples(ctx context.Context) ([]sample, error) {
	var out []sample
	seen := map[string]bool{}
	get := func(op *operation, path string, as *principal) error {
		if seen[path] || len(out) >= 8 {
			return nil
		}
		seen[path] = true
		label := ""
		if op != nil {
			label = op.label()
		}
		r, err := s.do(ctx, req{method: "GET", path: path, as: as, op: label})
		if err != nil {
			return err
		}
		out = append(out, sample{op, r})
		return nil
	}
	var pubJSON, protJSON, html int
	for _, op := range s.doc.ops {
		if op.method != "GET" || len(op.pathParams()) > 0 {
			continue
		}
		switch {
		case op.html && html < 2:
			html++
		case op.public && !op.html && pubJSON < 2:
			pubJSON++
		case !op.public && !op.html && protJSON < 2:
			protJSON++
		default:
			continue
		}
		p := op.path
		if q := requiredQuery(op); len(q) > 0 {
			p += "?" + q.Encode()
		}
		if err := get(op, p, s.caller(op)); err != nil {
			return nil, err
		}
	}
	for _, p := range []string{s.prefix + "/", s.prefix + "/docs", s.doc.source} {
		if strings.HasPrefix(p, "/") {
			if err := get(nil, p, nil); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func isHTML(r *resp) bool { return r.ctype() == "text/html" || r.ctype() == "application/xhtml+xml" }

func (s *scanner) checkHeaders(ctx context.Context) error {
	smp, err := s.samples(ctx)
	if err != nil {
		return err
	}
	for _, sm := range smp {
		r := sm.r
		label := ""
		if sm.op != nil {
			label = sm.op.label()
		}
		if len(r.body) > 0 && !strings.EqualFold(r.header.Get("X-Content-Type-Options"), "nosniff") {
			s.report("HDR-NOSNIFF-MISSING", "", "", "no X-Content-Type-Options: nosniff on "+r.req.Method+" "+r.req.URL.Path+"\n"+excerpt(r))
		}
		if isHTML(r) && r.status < 300 {
			csp := strings.ToLower(strings.Join(r.header.Values("Content-Security-Policy"), ", "))
			if r.header.Get("X-Frame-Options") == "" && !strings.Contains(csp, "frame-ancestors") {
				s.report("HDR-FRAMING-MISSING", label, "", "HTML without X-Frame-Options or frame-ancestors\n"+excerpt(r))
			}
			if csp == "" {
				s.report("HDR-CSP-MISSING", label, "", "HTML without Content-Security-Policy\n"+excerpt(r))
			}
		}
		for _, h := range []string{"Server", "X-Powered-By", "X-AspNet-Version", "X-AspNetMvc-Version"} {
			if v := r.header.Get(h); reVersion.MatchString(v) {
				s.report("HDR-SERVER-BANNER", "", h, h+": "+v)
			}
		}
	}
	if s.anyEnabled("CORS-REFLECT-ORIGIN", "CORS-NULL-ORIGIN", "CORS-WILDCARD-CREDENTIALS") {
		return s.checkCORS(ctx, smp)
	}
	return nil
}

// corsMaxOps bounds the operations the CORS probe visits (4 requests each).
const corsMaxOps = 16

// checkCORS sends an evil and a null Origin, simple and preflight, to every
// GET operation without path parameters (CORS is often configured per
// route), up to corsMaxOps, and reports each finding on its operation.
func (s *scanner) checkCORS(ctx context.Context, smp []sample) error {
	type target struct {
		op   *operation
		path string
	}
	var targets []target
	seen := map[*operation]bool{}
	add := func(op *operation, path string) {
		if op == nil || op.html || seen[op] || len(targets) >= corsMaxOps {
			return
		}
		seen[op] = true
		targets = append(targets, target{op, path})
	}
	for _, sm := range smp { // the samples first: they answered
		if !isHTML(sm.r) {
			add(sm.op, sm.r.req.URL.RequestURI())
		}
	}
	for _, op := range s.doc.ops {
		if op.method != "GET" || len(op.pathParams()) > 0 {
			continue
		}
		p := op.path
		if q := requiredQuery(op); len(q) > 0 {
			p += "?" + q.Encode()
		}
		add(op, p)
	}
	evil := "https://fortapi-scan-" + randHex(3) + ".example"
	for _, t := range targets {
		as := s.caller(t.op)
		label := t.op.label()
		for _, origin := range []string{evil, "null"} {
			for _, pre := range []bool{false, true} {
				h := http.Header{"Origin": {origin}}
				method := "GET"
				if pre {
					method = "OPTIONS"
					h.Set("Access-Control-Request-Method", "GET")
					h.Set("Access-Control-Request-Headers", "authorization")
				}
				r, err := s.do(ctx, req{method: method, path: t.path, header: h, as: as, op: label})
				if err != nil {
					return err
				}
				acao := r.header.Get("Access-Control-Allow-Origin")
				cred := strings.EqualFold(strings.TrimSpace(r.header.Get("Access-Control-Allow-Credentials")), "true")
				switch {
				case acao == "*" && cred:
					s.report("CORS-WILDCARD-CREDENTIALS", label, "", "Access-Control-Allow-Origin: * with credentials\n"+excerpt(r))
				case !cred:
				case origin == "null" && acao == "null":
					s.report("CORS-NULL-ORIGIN", label, "", "Origin: null allowed with credentials\n"+excerpt(r))
				case origin == evil && acao == evil:
					s.report("CORS-REFLECT-ORIGIN", label, "", "an arbitrary Origin is reflected with credentials\n"+excerpt(r))
				}
			}
		}
	}
	return nil
}

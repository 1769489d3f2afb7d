package scan

import (
	"context"
	"regexp"
	"strings"
)

// debugPaths are the debug, profiling and environment endpoints tried,
// each with the signature its content has (nil: any 200 other than the
// answer to a random path).
func debugPaths() []struct {
	path string
	sig  *regexp.Regexp
} {
	anyContent := (*regexp.Regexp)(nil)
	return []struct {
		path string
		sig  *regexp.Regexp
	}{
		{"/debug", anyContent},
		{"/debug/pprof/", regexp.MustCompile(`(?i)profile|goroutine|heap`)},
		{"/debug/vars", regexp.MustCompile(`memstats|cmdline`)},
		{"/debug/requests", anyContent},
		{"/_debug", anyContent},
		{"/__debug__/", anyContent},
		{"/api/debug", anyContent},
		{"/env", anyContent},
		{"/api/env", anyContent},
		{"/.env", regexp.MustCompile(`(?m)^[A-Za-z_][A-Za-z0-9_]*\s*=`)},
		{"/actuator", regexp.MustCompile(`_links|"status"`)},
		{"/actuator/env", regexp.MustCompile(`propertySources|activeProfiles`)},
		{"/server-status", regexp.MustCompile(`(?i)server status`)},
		{"/phpinfo.php", regexp.MustCompile(`(?i)phpinfo|PHP Version`)},
		{"/.git/config", regexp.MustCompile(`\[core\]`)},
		{"/console", regexp.MustCompile(`(?i)werkzeug|debugger|console`)},
		{"/config.json", regexp.MustCompile(`(?i)secret|password|database|dsn|api_?key`)},
	}
}

func (s *scanner) checkExposure(ctx context.Context) error {
	if !s.enabled("EXPOSURE-DEBUG-ENDPOINT") {
		// EXPOSURE-SECRET-FIELD is passive: it looked at every answer
		return nil
	}
	base, err := s.do(ctx, req{method: "GET", path: s.prefix + "/fortapi-scan-" + randHex(4)})
	if err != nil {
		return err
	}
	type cand struct {
		path, op string
		sig      *regexp.Regexp
	}
	var cands []cand
	for _, d := range debugPaths() {
		// labelled like an operation ("GET /debug/pprof/"): each path is
		// one endpoint, documented or not
		cands = append(cands, cand{s.prefix + d.path, "GET " + s.prefix + d.path, d.sig})
	}
	for _, op := range s.doc.ops {
		l := strings.ToLower(op.tmpl)
		if op.method == "GET" && len(op.pathParams()) == 0 && (strings.Contains(l, "debug") || strings.HasSuffix(l, "/env") || strings.Contains(l, "pprof")) {
			cands = append(cands, cand{op.path, op.label(), nil})
		}
	}
	seen := map[string]bool{}
	for _, c := range cands {
		if seen[c.path] {
			continue
		}
		seen[c.path] = true
		r, err := s.do(ctx, req{method: "GET", path: c.path, op: c.op})
		if err != nil {
			return err
		}
		if r.status != 200 || len(r.body) == 0 || same(r, base, c.path) {
			continue
		}
		if c.sig != nil && !c.sig.Match(r.body) {
			continue
		}
		s.report("EXPOSURE-DEBUG-ENDPOINT", c.op, "", "reachable without credentials\n"+excerpt(r))
	}
	return nil
}

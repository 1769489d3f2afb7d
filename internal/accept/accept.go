// Package accept reads the Accept header for the one question fortapi asks
// of it: does the client prefer an HTML page to JSON? A browser navigating
// does; an API client, a script asking for anything (*/*) or a header that
// cannot be read does not, so error formats never change for API clients
// by accident. Used by csrf's refusal page and serve's HTML error pages.
package accept

import (
	"net/http"
	"strconv"
	"strings"
)

// PrefersHTML reports whether r's Accept header prefers text/html (or
// XHTML) to JSON (application/json or application/problem+json): the
// highest q of each kind decides, ties and wildcards go to JSON, and an
// element with an invalid q is ignored.
func PrefersHTML(r *http.Request) bool {
	var html, json float64
	// Values("Accept"), without canonicalizing the canonical name.
	for _, line := range r.Header["Accept"] {
		for elem := range strings.SplitSeq(line, ",") {
			rng, params, _ := strings.Cut(elem, ";")
			q, ok := qValue(params)
			if !ok {
				continue
			}
			switch strings.ToLower(strings.TrimSpace(rng)) {
			case "text/html", "application/xhtml+xml":
				html = max(html, q)
			case "application/json", "application/problem+json":
				json = max(json, q)
			}
		}
	}
	return html > json
}

// qValue returns the q parameter of an Accept element's parameters (1
// when absent), or ok false when it is not a valid qvalue.
func qValue(params string) (q float64, ok bool) {
	q = 1
	for p := range strings.SplitSeq(params, ";") {
		name, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil || !(f >= 0 && f <= 1) { // refuses NaN too
			return 0, false
		}
		q = f
	}
	return q, true
}

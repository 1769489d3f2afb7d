// Package oauthform parses the form-encoded bodies of OAuth2 token
// requests (RFC 6749 §3.2) strictly: a body that is not valid form
// encoding, or that repeats a parameter, is refused with a reason the
// caller can send back as an invalid_request description. Both fortapi's
// token endpoint helper and fortapi serve's POST /token use it.
package oauthform

import (
	"net/url"
	"strconv"
	"strings"
)

// Parse returns the parameters of body, or a non-empty reason why it is
// refused: invalid percent-encoding, or a parameter given twice.
func Parse(body []byte) (url.Values, string) {
	v, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, "the body is not valid form encoding"
	}
	for k, vs := range v {
		if len(vs) > 1 {
			return nil, "the parameter " + strconv.Quote(k) + " is repeated"
		}
	}
	return v, ""
}

// Scopes splits the scope parameter of v (RFC 6749 §3.3: scope-tokens
// separated by spaces) in the order given, without repeats. Absent: nil
// and true (the caller's default applies). Present but holding no token:
// nil and false (the caller answers invalid_scope). Only the space
// separates: a tab or line break stays inside a token, which then names no
// scope the caller knows.
func Scopes(v url.Values) ([]string, bool) {
	vs, ok := v["scope"]
	if !ok || len(vs) == 0 {
		return nil, true
	}
	var out []string
	// Repeats are found by a set, not by a scan of the tokens kept: the
	// parameter is read before the request is authenticated, and a scan
	// would make an 8 KiB body of distinct tokens cost quadratic time.
	seen := make(map[string]bool)
	for _, s := range strings.Split(vs[0], " ") {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out, len(out) > 0
}

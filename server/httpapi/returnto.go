package httpapi

import (
	"net/url"
	"path"
	"strings"
)

// NextParam is the query parameter (GET /login?next=...) and form field
// (POST /login) that names the page to return to after signing in.
const NextParam = "next"

// maxNextBytes bounds a return-to path: longer ones are refused, not cut.
const maxNextBytes = 1024

// safeNext returns the same-origin path raw names, normalized, or "" when
// raw is not one (the caller then uses its default page). It is the whole
// defense against an open redirect through the login's return-to
// parameter, so it accepts only what it fully understands:
//
//   - ASCII letters, digits and the URL characters - . _ ~ ! $ & ' ( ) * +
//     , ; = : @ / ? % (no space, control character, backslash, quote,
//     angle bracket, fragment or non-ASCII character: browsers strip tabs
//     and newlines and take "\" for "/", and look-alike slashes are
//     non-ASCII);
//   - a single leading "/", not "//" or "/\" (a network-path reference
//     names another host), also once percent-decoded (%2F, %5C) and once
//     dot segments are removed (/.//evil.com);
//   - no scheme, host or user information;
//   - not the login page itself (no loop).
//
// The path is cleaned of dot segments and repeated slashes; the query is
// kept as given.
func safeNext(raw string) string {
	if raw == "" || len(raw) > maxNextBytes || raw[0] != '/' || (len(raw) > 1 && (raw[1] == '/' || raw[1] == '\\')) {
		return ""
	}
	for i := 0; i < len(raw); i++ {
		if !nextByte(raw[i]) {
			return ""
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || u.Fragment != "" {
		return ""
	}
	p := u.Path // percent-decoded
	if p == "" || p[0] != '/' || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\") {
		return ""
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return ""
		}
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && clean != "/" {
		clean += "/"
	}
	if strings.HasPrefix(clean, "//") || clean == "/login" || clean == "/login/" {
		return ""
	}
	out := (&url.URL{Path: clean, RawQuery: u.RawQuery}).RequestURI()
	if len(out) < 1 || out[0] != '/' || (len(out) > 1 && (out[1] == '/' || out[1] == '\\')) {
		return ""
	}
	return out
}

// nextByte reports whether c may appear in a return-to path as sent.
func nextByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/?%", c) >= 0
}

package sanitize

import (
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
)

// kind tells which pipeline a Policy runs.
type kind uint8

const (
	kindRich kind = iota + 1
	kindPlain
)

// Policy is a built, immutable sanitizing policy: Rich or Plain. Build it
// once and share it (building allocates the allowlists; see the
// BenchmarkBuild benchmarks); Sanitize is safe for concurrent use by any
// number of goroutines.
//
// The zero Policy is not usable: its Sanitize returns the empty string
// (fail closed). Use Rich or Plain.
type Policy struct {
	kind kind
	bm   *bluemonday.Policy
	// elements is the Rich element allowlist, checked again on the parsed
	// tree after bluemonday. Read-only after construction.
	elements map[string]struct{}
}

// RelValue is the exact rel attribute every link kept by Rich carries.
const RelValue = "nofollow noopener noreferrer"

// RichElements returns the HTML elements Rich keeps, in a new slice. Only
// a carries attributes: href (http, https or mailto) and rel (always
// RelValue).
func RichElements() []string {
	return []string{
		// Text formatting.
		"p", "br", "hr",
		"b", "strong", "i", "em", "u", "s", "del", "ins",
		"sub", "sup", "mark", "small",
		"h1", "h2", "h3", "h4", "h5", "h6",
		// Lists.
		"ul", "ol", "li",
		// Quotes.
		"blockquote", "q",
		// Code.
		"pre", "code",
		// Links.
		"a",
	}
}

// Rich returns a new policy for user-supplied formatted text (an item
// description, a comment). Its output is HTML, safe to insert into a page
// as is (in html/template, as template.HTML).
//
// It keeps the elements listed by RichElements and no attribute except
// href on a. A link is kept only when its href is an absolute http or
// https URL with a host and no user info, or a mailto URL with an address;
// relative and protocol-relative URLs and every other scheme (javascript:,
// data:, vbscript:, ...) drop the a element but keep its text. Every kept
// link gets rel="nofollow noopener noreferrer". Comments, style, script,
// svg, math, forms, frames, embedded objects, images and media are removed;
// the content of script, style, iframe, frame, frameset, object, noscript,
// noembed, noframes and title is removed with them, and the text of other
// removed elements is kept.
//
// After bluemonday, the result is parsed with golang.org/x/net/html as a
// body fragment, checked against the same allowlist a second time and
// rendered again, so the output is well-formed: an unclosed <a> or
// <blockquote> in the input cannot swallow the rest of the page.
func Rich() *Policy {
	bm := bluemonday.NewPolicy()
	bm.AllowElements(RichElements()...)
	bm.AllowAttrs("href").OnElements("a")
	bm.RequireParseableURLs(true)
	bm.AllowRelativeURLs(false)
	for _, scheme := range []string{"http", "https", "mailto"} {
		bm.AllowURLSchemeWithCustomPolicy(scheme, linkAllowed)
	}
	bm.RequireNoFollowOnLinks(true)
	bm.RequireNoReferrerOnLinks(true)

	elements := make(map[string]struct{})
	for _, e := range RichElements() {
		elements[e] = struct{}{}
	}
	return &Policy{kind: kindRich, bm: bm, elements: elements}
}

// Plain returns a new policy for fields that are text, not HTML (a name, a
// title). Its output is plain text that the consumer must escape when it
// writes it into HTML (html/template does), never HTML.
//
// The input is read as HTML and reduced to its text: tags are removed, the
// content of script, style, iframe, object, noscript, title and the like is
// dropped, and entities are decoded, so "Tom &amp; Jerry" becomes
// "Tom & Jerry" and "a &lt; b" becomes "a < b". This is repeated until the text no longer
// changes (at most 8 passes), so double-encoded markup such as
// "&amp;lt;script&amp;gt;" is removed too.
//
// Then, as defence in depth, every '<' that is immediately followed by a
// letter, '/', '!' or '?' gets a space inserted after it ("<x" becomes
// "< x"), so the result never contains anything a browser would parse as a
// tag, a comment or a processing instruction. If the text had not settled
// after 8 passes (more than seven levels of encoding, never seen in real
// input), every remaining '&' is replaced by U+FF06 FULLWIDTH AMPERSAND, so
// nothing in the result can decode any further.
//
// Invalid UTF-8 is replaced by U+FFFD, "\r\n" and "\r" become "\n", and
// the other ASCII control characters except tab and newline are removed.
func Plain() *Policy {
	return &Policy{kind: kindPlain, bm: bluemonday.StrictPolicy()}
}

// Sanitize returns s sanitized by the policy: HTML for Rich, plain text for
// Plain. It is idempotent: p.Sanitize(p.Sanitize(s)) == p.Sanitize(s).
func (p *Policy) Sanitize(s string) string {
	if p == nil || p.bm == nil {
		return ""
	}
	switch p.kind {
	case kindRich:
		return p.rich(s)
	case kindPlain:
		return p.plain(s)
	}
	return ""
}

// cleanText makes s valid UTF-8 (invalid bytes become U+FFFD), turns
// "\r\n" and "\r" into "\n" (as an HTML parser would) and removes the other
// ASCII control characters except tab and newline (NUL, DEL, ...). It does
// not allocate when s is already clean.
func cleanText(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if isDroppedControl(s[i]) {
			clean = false
			break
		}
	}
	if clean && utf8.ValidString(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\r':
			b.WriteByte('\n')
		case isDroppedControl(c):
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// isDroppedControl reports whether c is an ASCII control character that
// cleanText removes or rewrites: everything below 0x20 except tab and
// newline, and DEL. (Carriage return is rewritten to newline.)
func isDroppedControl(c byte) bool {
	return (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f
}

// linkAllowed is the link target rule, used both as bluemonday's URL
// policy and on the parsed tree: http and https need a host and no user
// info ("https://good.example@evil.example" is refused) and nothing opaque
// ("http:evil.example"); mailto needs an address and nothing else.
func linkAllowed(u *url.URL) bool {
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" || u.User != nil || u.Opaque != "" {
			return false
		}
	case "mailto":
		if u.Opaque == "" || u.Host != "" || u.User != nil {
			return false
		}
	default:
		return false
	}
	// Backslashes are path separators to browsers but not to net/url, so
	// the two could disagree on the host.
	return !strings.Contains(u.String(), `\`) && stableURL(u.String())
}

// stableURL reports whether s parses and prints back as itself, so that
// sanitizing Rich output again leaves every href unchanged.
func stableURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.String() == s
}

// canonicalLink returns the canonical form of the href value raw, and
// whether it is an allowed link target.
func canonicalLink(raw string) (string, bool) {
	if raw == "" || strings.ContainsAny(raw, " \t\n\r\f") {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || !linkAllowed(u) {
		return "", false
	}
	return u.String(), true
}

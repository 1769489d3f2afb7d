package sanitize

import (
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxPlainPasses bounds how often Plain strips tags and decodes entities.
// Each pass removes one level of encoding; real input needs one pass and a
// second to confirm, a bound keeps hostile input linear.
const maxPlainPasses = 8

// plain runs the Plain pipeline; see Plain for the rule.
func (p *Policy) plain(s string) string {
	s = cleanText(s)
	settled := false
	for range maxPlainPasses {
		if !strings.ContainsAny(s, "<&") {
			// Without '<' there is no tag and without '&' no entity: a
			// pass would return s unchanged.
			settled = true
			break
		}
		next := cleanText(html.UnescapeString(p.bm.Sanitize(s)))
		if next == s {
			settled = true
			break
		}
		s = next
	}
	if !settled {
		s = strings.ReplaceAll(s, "&", "\uFF06")
	}
	return neutraliseTags(s)
}

// neutraliseTags inserts a space after every '<' that is followed by a
// letter (any script, not only ASCII), '/', '!' or '?', the characters that
// make a browser start a tag, an end tag, a comment or a bogus comment.
func neutraliseTags(s string) string {
	i := strings.IndexByte(s, '<')
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i >= 0 {
		b.WriteString(s[:i+1])
		s = s[i+1:]
		if startsMarkup(s) {
			b.WriteByte(' ')
		}
		i = strings.IndexByte(s, '<')
	}
	b.WriteString(s)
	return b.String()
}

// startsMarkup reports whether rest, the text right after a '<', would make
// the '<' start markup.
func startsMarkup(rest string) bool {
	if rest == "" {
		return false
	}
	switch rest[0] {
	case '/', '!', '?':
		return true
	}
	r, _ := utf8.DecodeRuneInString(rest)
	return unicode.IsLetter(r)
}

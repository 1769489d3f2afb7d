package sanitize

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// randomHTML returns a random, usually malformed, HTML fragment built from
// allowed and forbidden elements, attributes, URLs, entities and text: it
// reaches nesting and misnesting cases that byte mutation rarely does.
func randomHTML(r *rand.Rand, budget int) string {
	elements := []string{
		"p", "br", "hr", "b", "strong", "i", "em", "u", "s", "del", "ins",
		"sub", "sup", "mark", "small", "h1", "h3", "h6", "ul", "ol", "li",
		"blockquote", "q", "pre", "code", "a", "a", "a",
		"script", "style", "svg", "math", "iframe", "object", "embed", "form",
		"input", "button", "img", "video", "meta", "link", "base", "div",
		"span", "table", "tr", "td", "textarea", "title", "xmp", "noscript",
		"plaintext", "template", "select", "option", "mtext", "mglyph",
		"foreignObject", "desc", "annotation-xml", "noembed", "frameset",
	}
	attrs := []string{"href", "rel", "title", "style", "class", "id",
		"onclick", "onerror", "src", "cite", "target", "xlink:href", "data-x"}
	vals := []string{"https://example.com/a?b=c&d=e", "http://x.example",
		"mailto:a@example.com", "javascript:alert(1)", "JaVa&#x09;ScRiPt:x",
		"//evil.example", "/rel", "data:text/html,<script>x</script>",
		"https://u@evil.example", `"><script>alert(1)</script>`, "x onload=y",
		"https://例え.jp/パ ス", "&#106;avascript:1", "", "'", "`"}
	texts := []string{"text", " ", "\n", "a < b", "&amp;", "&lt;b&gt;",
		"&amp;lt;i&amp;gt;", "&", "<", ">", "\"", "'", "&#0;", "\x00", "\r\n",
		"ü", "&nGt;", "&lt", "]]>", "<!--", "-->", "<!", "</", "<?x?>", "\xff"}
	var b strings.Builder
	for range budget {
		switch r.IntN(6) {
		case 0, 1:
			e := elements[r.IntN(len(elements))]
			b.WriteString("<" + e)
			for range r.IntN(3) {
				b.WriteString(" " + attrs[r.IntN(len(attrs))])
				switch r.IntN(3) {
				case 0:
					b.WriteString(`="` + vals[r.IntN(len(vals))] + `"`)
				case 1:
					b.WriteString(`='` + vals[r.IntN(len(vals))] + `'`)
				}
			}
			if r.IntN(8) == 0 {
				b.WriteString("/")
			}
			b.WriteString(">")
		case 2:
			b.WriteString("</" + elements[r.IntN(len(elements))] + ">")
		default:
			b.WriteString(texts[r.IntN(len(texts))])
		}
	}
	return b.String()
}

func TestRandomHTML(t *testing.T) {
	n := 3000
	if testing.Short() {
		n = 300
	}
	rich, plain := Rich(), Plain()
	r := rand.New(rand.NewPCG(1, 2))
	for range n {
		in := randomHTML(r, 1+r.IntN(40))
		out := rich.Sanitize(in)
		for _, bad := range richViolations(out) {
			t.Errorf("Rich: %s\n in:  %q\n out: %q", bad, in, out)
		}
		if again := rich.Sanitize(out); again != out {
			t.Errorf("Rich not idempotent\n in:    %q\n once:  %q\n twice: %q", in, out, again)
		}
		p := plain.Sanitize(in)
		for _, bad := range plainViolations(p) {
			t.Errorf("Plain: %s\n in:  %q\n out: %q", bad, in, p)
		}
		if again := plain.Sanitize(p); again != p {
			t.Errorf("Plain not idempotent\n in:    %q\n once:  %q\n twice: %q", in, p, again)
		}
		if t.Failed() {
			return
		}
	}
}

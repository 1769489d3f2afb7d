package sanitize

import (
	"testing"

	"golang.org/x/net/html"
)

// TestRichFastPath: text without '<' and '&' skips bluemonday and the
// parser; the result must be what the full pipeline gives.
func TestRichFastPath(t *testing.T) {
	p := Rich()
	for _, s := range []string{
		"", " ", "plain", `"quoted" 'single' > gt`, "tab\tnew\nline",
		"cr\r\nlf\r", "nul\x00del\x7f", "bad\xffutf8", "Grüße 世界 🌍",
		"\u00a0nbsp\u2028ls", "\ufeffbom", "\n\nleading newlines",
	} {
		c := cleanText(s)
		if got, want := p.rich(s), p.richSlow(c); got != want {
			t.Errorf("fast path %q, full pipeline %q, for %q", got, want, s)
		}
	}
}

// TestRichTreeRounds: a tree the parser builds but cannot serialise
// faithfully is parsed and rendered again until stable.
func TestRichTreeRounds(t *testing.T) {
	p := Rich()
	in := "<h3><b>x<h1>y</b>"
	// What one parse and render gives: h1 inside h3, which a browser
	// would parse as two siblings.
	if got, want := p.checkTree(in), "<h3><b>x</b><h1><b>y</b></h1></h3>"; got != want {
		t.Fatalf("checkTree(%q) = %q, want %q (has the parser changed?)", in, got, want)
	}
	want := "<h3><b>x</b></h3><h1><b>y</b></h1>"
	if got := p.Sanitize(in); got != want {
		t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
	}
}

// TestRichFallback: the text-only result used when the tree does not
// settle is escaped text, and stable under Rich.
func TestRichFallback(t *testing.T) {
	p := Rich()
	fallback := html.EscapeString(p.textOf(`<p>a &amp; <b>"b"</b></p><script>x</script>` + "\x00"))
	if want := "a &amp; &#34;b&#34;"; fallback != want {
		t.Errorf("fallback = %q, want %q", fallback, want)
	}
	if again := p.Sanitize(fallback); again != fallback {
		t.Errorf("Sanitize(fallback) = %q, want %q", again, fallback)
	}
}

package sanitize

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// fuzzSeeds adds the corpus, a few hand-written inputs and some random
// fragments from randomHTML to f.
func fuzzSeeds(f *testing.F) {
	for _, v := range readCorpus(f) {
		f.Add(v.text)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 64 {
		f.Add(randomHTML(r, 1+r.IntN(30)))
	}
	for _, s := range []string{
		"", " ", "Tom &amp; Jerry", "a < b", "<p>x</p>",
		`<a href="https://example.com/?q=1&x=2">l</a>`,
		`<a href="mailto:a@example.com">m</a>`,
		"&amp;amp;amp;amp;amp;amp;amp;amp;amp;lt;b&gt;",
		"<pre>\n\nx</pre>", "\r\n\x00\x7f\xff", "<\u00e9", "</",
		"<h3><b>x<h1>y</b>",
	} {
		f.Add(s)
	}
}

func FuzzRich(f *testing.F) {
	fuzzSeeds(f)
	p := Rich()
	f.Fuzz(func(t *testing.T, s string) {
		out := p.Sanitize(s)
		for _, bad := range richViolations(out) {
			t.Errorf("%s\n in:  %q\n out: %q", bad, s, out)
		}
		if again := p.Sanitize(out); again != out {
			t.Errorf("not idempotent\n in:    %q\n once:  %q\n twice: %q", s, out, again)
		}
		// The text-only fast path must agree with the full pipeline.
		if c := cleanText(s); !strings.ContainsAny(c, "<&") {
			if slow := p.richSlow(c); slow != out {
				t.Errorf("fast path %q, full pipeline %q for %q", out, slow, s)
			}
		}
	})
}

func FuzzPlain(f *testing.F) {
	fuzzSeeds(f)
	p := Plain()
	f.Fuzz(func(t *testing.T, s string) {
		out := p.Sanitize(s)
		for _, bad := range plainViolations(out) {
			t.Errorf("%s\n in:  %q\n out: %q", bad, s, out)
		}
		if again := p.Sanitize(out); again != out {
			t.Errorf("not idempotent\n in:    %q\n once:  %q\n twice: %q", s, out, again)
		}
	})
}

package sanitize_test

import (
	"strings"
	"testing"

	"github.com/fortapi/fortapi/sanitize"
)

func TestPlain(t *testing.T) {
	p := sanitize.Plain()
	tests := []struct{ name, in, want string }{
		// Text stays text, entities are decoded: the consumer escapes.
		{"plain name", "Widget 3000", "Widget 3000"},
		{"ampersand", "Tom & Jerry", "Tom & Jerry"},
		{"encoded ampersand", "Tom &amp; Jerry", "Tom & Jerry"},
		{"less than", "a < b", "a < b"},
		{"encoded less than", "a &lt; b", "a < b"},
		{"greater than", "b > a", "b > a"},
		{"quotes", `"quoted" 'single'`, `"quoted" 'single'`},
		{"numeric entities", "caf&#233; &#x263A;", "café ☺"},
		{"legacy entity without semicolon", "&copy 2024", "© 2024"},
		{"not an entity", "AT&T &unknown; &", "AT&T &unknown; &"},
		{"unicode", "Grüße 世界 🌍", "Grüße 世界 🌍"},
		{"whitespace kept", "  two  spaces\tand tab\n", "  two  spaces\tand tab\n"},
		{"empty", "", ""},

		// Tags are removed, their text kept.
		{"bold", "<b>Bob</b>", "Bob"},
		{"link", `<a href="https://example.com/">site</a>`, "site"},
		{"nested", "<p>Hello <i>big</i> <b>world</b></p>", "Hello big world"},
		{"event handler", `<img src=x onerror=alert(1)>name`, "name"},
		{"svg", `<svg onload=alert(1)><text>t</text></svg>`, "t"},
		{"comment", "a<!-- hidden -->b", "ab"},

		// Script and style content is dropped entirely.
		{"script", "a<script>alert('x')</script>b", "ab"},
		{"script unclosed", "a<script>alert('x')", "a"},
		{"style", "a<style>body{display:none}</style>b", "ab"},
		{"iframe", `a<iframe src="https://x.example/">inner</iframe>b`, "ab"},
		{"title", "<title>t</title>x", "x"},

		// Encoded markup is markup once decoded: removed too (iterate until
		// stable).
		{"encoded script", "&lt;script&gt;alert(1)&lt;/script&gt;name", "name"},
		{"double encoded script", "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;name", "name"},
		{"encoded tag", "&lt;b&gt;Bob&lt;/b&gt;", "Bob"},
		{"numeric encoded tag", "&#60;img src=x onerror=alert(1)&#62;x", "x"},
		{"double encoded ampersand", "Tom &amp;amp; Jerry", "Tom & Jerry"},
		{"raw text element", "<xmp><b>x</b></xmp>", "x"},
		{"textarea", "<textarea><script>alert(1)</script>t</textarea>", "t"},
		{"plaintext", "<plaintext><b>x</b>", "x"},
		{"split tag", "<scr<script>ipt>alert(1)</scr<script>ipt>", "ipt>alert(1)ipt>"},

		// A '<' that would start markup gets a space after it.
		{"lt before non-ASCII letter", "<é", "< é"},
		{"encoded lt before non-ASCII letter", "&lt;é", "< é"},
		{"lone end tag start", "</", "< /"},
		{"lt lt letter", "<<é", "<< é"},
		{"lt digit", "<3 you", "<3 you"},
		{"lt space", "a < b", "a < b"},
		{"markup-like at end", "x <", "x <"},

		// Control characters and invalid UTF-8.
		{"NUL", "a\x00b", "ab"},
		{"controls", "a\x01\x08\x0b\x0c\x1b\x1f\x7fb", "ab"},
		{"encoded control", "a&#1;b", "ab"},
		{"encoded NUL", "a&#0;b", "a\uFFFDb"},
		{"CRLF", "a\r\nb\rc", "a\nb\nc"},
		{"encoded CR", "a&#13;b", "a\nb"},
		{"invalid UTF-8", "a\xff\xfeb", "a\uFFFDb"},
		{"truncated rune", "caf\xc3", "caf\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Sanitize(tt.in); got != tt.want {
				t.Errorf("Sanitize(%q)\n got: %q\nwant: %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestPlainDeepEncoding: input that has not settled after the last pass
// has every '&' replaced, so it cannot decode any further.
func TestPlainDeepEncoding(t *testing.T) {
	p := sanitize.Plain()
	in := "x" + strings.Repeat("&amp;", 1) + "lt;b&gt;y"
	for range 12 {
		in = strings.ReplaceAll(in, "&", "&amp;")
	}
	got := p.Sanitize(in)
	if strings.Contains(got, "&") {
		t.Errorf("Sanitize(%q) = %q, still contains '&'", in, got)
	}
	if !strings.Contains(got, "\uFF06") {
		t.Errorf("Sanitize(%q) = %q, want U+FF06 in place of '&'", in, got)
	}
	if again := p.Sanitize(got); again != got {
		t.Errorf("not idempotent: %q then %q", got, again)
	}

	// Seven levels still settle within the bound.
	in = "x&lt;b&gt;y"
	for range 6 {
		in = strings.ReplaceAll(in, "&", "&amp;")
	}
	if got := p.Sanitize(in); got != "xy" {
		t.Errorf("Sanitize(%q) = %q, want %q", in, got, "xy")
	}
}

func TestPlainIdempotent(t *testing.T) {
	p := sanitize.Plain()
	for _, in := range []string{
		"Tom &amp; Jerry", "a < b", "&lt;é", "<<é", "x&amp;lt;y",
		"<scr<script>ipt>alert(1)</scr<script>ipt>", "a\r\n\x00b\xff",
		"&amp;amp;lt;b&amp;amp;gt;", "&lt", "&", "<", "</", "<!", "<?",
	} {
		once := p.Sanitize(in)
		if twice := p.Sanitize(once); twice != once {
			t.Errorf("Sanitize not idempotent on %q\n once:  %q\n twice: %q", in, once, twice)
		}
	}
}

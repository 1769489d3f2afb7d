package sanitize_test

import (
	"strings"
	"testing"

	"github.com/fortapi/fortapi/sanitize"
)

// richText returns about n bytes of a realistic item description: short
// paragraphs with some formatting, a list, a link, a quote and entities,
// and a stray attribute or two for the policy to remove.
func richText(n int) string {
	const block = `<p>This <b>hand-made</b> oak table seats six and folds to ` +
		`half its size &mdash; ideal for flats. Finish: <i>natural oil</i>; ` +
		`legs are steel &amp; powder coated.</p>` + "\n" +
		`<ul><li>Size: 180 &times; 90 cm</li><li>Weight: 32 kg</li>` +
		`<li>Delivery in 5&ndash;7 days</li></ul>` + "\n" +
		`<p>See the <a href="https://example.com/care?model=oak&amp;lang=en" ` +
		`target="_blank">care guide</a> or write to ` +
		`<a href="mailto:support@example.com">support</a>.</p>` + "\n" +
		`<blockquote>&ldquo;Sturdy and beautiful.&rdquo; &ndash; a customer</blockquote>` + "\n" +
		`<p style="color:red" onclick="track()">Price excludes VAT; ` +
		`orders &gt; 500 &euro; ship free.</p>` + "\n"
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(block)
	}
	return b.String()[:n]
}

func benchmarkPolicy(b *testing.B, p *sanitize.Policy, in string) {
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		p.Sanitize(in)
	}
}

func BenchmarkRich1KiB(b *testing.B)  { benchmarkPolicy(b, sanitize.Rich(), richText(1024)) }
func BenchmarkRich10KiB(b *testing.B) { benchmarkPolicy(b, sanitize.Rich(), richText(10*1024)) }

// BenchmarkRichTextOnly1KiB: 1 KiB with neither '<' nor '&' (fast path).
func BenchmarkRichTextOnly1KiB(b *testing.B) {
	benchmarkPolicy(b, sanitize.Rich(), strings.Repeat("Solid oak, folds flat. ", 45)[:1024])
}

// name100 is a 100-byte product name.
const name100 = "Hand-made oak dining table, seats six, folds to half size - natural oil finish (180 x 90 cm) model A"

func BenchmarkPlainName100(b *testing.B) {
	if len(name100) != 100 {
		b.Fatalf("name is %d bytes", len(name100))
	}
	benchmarkPolicy(b, sanitize.Plain(), name100)
}

// BenchmarkPlainNameMarkup100: a 100-byte name with tags and entities, so
// the full pipeline runs (two passes).
func BenchmarkPlainNameMarkup100(b *testing.B) {
	in := "<b>Hand-made</b> oak table &amp; 6 chairs &ndash; natural oil, <i>180 &times; 90 cm</i>, model X-100"
	if len(in) != 100 {
		b.Fatalf("name is %d bytes", len(in))
	}
	benchmarkPolicy(b, sanitize.Plain(), in)
}

func BenchmarkBuildRich(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sanitize.Rich()
	}
}

func BenchmarkBuildPlain(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sanitize.Plain()
	}
}

func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sanitize.New()
	}
}

func BenchmarkStruct(b *testing.B) {
	s := sanitize.New()
	desc := richText(1024)
	b.ReportAllocs()
	for b.Loop() {
		in := ItemInput{Name: name100, Description: desc}
		if err := s.Struct(&in); err != nil {
			b.Fatal(err)
		}
	}
}

package sanitize_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/sanitize"
)

const rel = `rel="nofollow noopener noreferrer"`

func TestRichKeepsFormatting(t *testing.T) {
	p := sanitize.Rich()
	tests := []struct{ name, in, want string }{
		{"text", `Tom & Jerry say "hi" & 'bye' > 3`, `Tom &amp; Jerry say &#34;hi&#34; &amp; &#39;bye&#39; &gt; 3`},
		{"entities", `a &lt; b &amp;&amp; c`, `a &lt; b &amp;&amp; c`},
		{"paragraph", `<p>one</p><p>two</p>`, `<p>one</p><p>two</p>`},
		{"br and hr", `a<br>b<hr>c<br/>`, `a<br/>b<hr/>c<br/>`},
		{"inline", `<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><s>s</s>`, `<b>b</b><strong>s</strong><i>i</i><em>e</em><u>u</u><s>s</s>`},
		{"edits", `<del>d</del><ins>i</ins>`, `<del>d</del><ins>i</ins>`},
		{"sub sup mark small", `H<sub>2</sub>O x<sup>2</sup> <mark>m</mark> <small>s</small>`, `H<sub>2</sub>O x<sup>2</sup> <mark>m</mark> <small>s</small>`},
		{"headings", `<h1>1</h1><h2>2</h2><h3>3</h3><h4>4</h4><h5>5</h5><h6>6</h6>`, `<h1>1</h1><h2>2</h2><h3>3</h3><h4>4</h4><h5>5</h5><h6>6</h6>`},
		{"lists", `<ul><li>a</li><li>b</li></ul><ol><li>c</li></ol>`, `<ul><li>a</li><li>b</li></ul><ol><li>c</li></ol>`},
		{"quotes", `<blockquote>q</blockquote><q>q</q>`, `<blockquote>q</blockquote><q>q</q>`},
		{"code", "<pre><code>if a &lt; b {\n\treturn\n}</code></pre>", "<pre><code>if a &lt; b {\n\treturn\n}</code></pre>"},
		{"pre leading newlines", "<pre>\n\nx</pre>", "<pre>\n\nx</pre>"},
		{"unicode", `<p>Grüße, 世界 🌍</p>`, `<p>Grüße, 世界 🌍</p>`},
		{"empty", ``, ``},
		{"whitespace", " \n\t", " \n\t"},
		// The output is well-formed, so it cannot affect the page around it.
		{"unclosed closed", `<blockquote><b>x`, `<blockquote><b>x</b></blockquote>`},
		{"misnested", `<b><i>x</b>y</i>`, `<b><i>x</i></b><i>y</i>`},
		{"list items closed", `<ul><li>a<li>b</ul>`, `<ul><li>a</li><li>b</li></ul>`},
		{"stray end tags", `a</b></p>b`, `a<p></p>b`},
		// Attributes are removed from the elements that are kept.
		{"no attributes", `<p class="c" id="i" title="t" dir="rtl" lang="en">x</p>`, `<p>x</p>`},
		{"no cite", `<blockquote cite="https://example.com/">q</blockquote>`, `<blockquote>q</blockquote>`},
		{"controls removed", "a\x00b\x01c\x7fd\r\ne", "abcd\ne"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Sanitize(tt.in); got != tt.want {
				t.Errorf("Sanitize(%q)\n got: %q\nwant: %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRichLinks(t *testing.T) {
	p := sanitize.Rich()
	tests := []struct{ name, in, want string }{
		{"https", `<a href="https://example.com/x?a=1&amp;b=2#f">l</a>`, `<a href="https://example.com/x?a=1&amp;b=2#f" ` + rel + `>l</a>`},
		{"http", `<a href="http://example.com">l</a>`, `<a href="http://example.com" ` + rel + `>l</a>`},
		{"mailto", `<a href="mailto:someone@example.com">m</a>`, `<a href="mailto:someone@example.com" ` + rel + `>m</a>`},
		{"scheme case", `<a href="HTTPS://example.com/">l</a>`, `<a href="https://example.com/" ` + rel + `>l</a>`},
		{"surrounding spaces", `<a href="  https://example.com/ ">l</a>`, `<a href="https://example.com/" ` + rel + `>l</a>`},
		{"rel replaced", `<a href="https://example.com/" rel="opener">l</a>`, `<a href="https://example.com/" ` + rel + `>l</a>`},
		{"rel without nofollow", `<a href="https://example.com/" rel="noopener">l</a>`, `<a href="https://example.com/" ` + rel + `>l</a>`},
		{"other attributes dropped", `<a href="https://example.com/" target="_blank" title="t" class="c" id="i" name="n" ping="https://x.example/" download>l</a>`, `<a href="https://example.com/" ` + rel + `>l</a>`},
		{"no href", `<a name="x">l</a>`, `l`},
		{"unclosed link closed", `<a href="https://example.com/">l`, `<a href="https://example.com/" ` + rel + `>l</a>`},
		{"nested links split", `<a href="https://a.example/"><a href="https://b.example/">b</a></a>`, `<a href="https://a.example/" ` + rel + `></a><a href="https://b.example/" ` + rel + `>b</a>`},
		{"link in formatting", `<p><b><a href="https://example.com/">l</a></b></p>`, `<p><b><a href="https://example.com/" ` + rel + `>l</a></b></p>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Sanitize(tt.in); got != tt.want {
				t.Errorf("Sanitize(%q)\n got: %q\nwant: %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestRichRefusedLinks: a link whose target is not an absolute http, https
// or mailto URL loses its a element; its text stays.
func TestRichRefusedLinks(t *testing.T) {
	p := sanitize.Rich()
	hrefs := []struct{ name, href string }{
		{"javascript", `javascript:alert(1)`},
		{"javascript mixed case", `JaVaScRiPt:alert(1)`},
		{"javascript upper", `JAVASCRIPT:alert(1)`},
		{"javascript leading space", ` javascript:alert(1)`},
		{"javascript leading control", "\x01javascript:alert(1)"},
		{"javascript tab inside", "java\tscript:alert(1)"},
		{"javascript newline inside", "java\nscript:alert(1)"},
		{"javascript entity tab", `java&#x09;script:alert(1)`},
		{"javascript entity newline", `java&#10;script:alert(1)`},
		{"javascript entity CR", `jav&#x0D;ascript:alert(1)`},
		{"javascript decimal entities", `&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)`},
		{"javascript hex entities", `&#x6A;&#x61;&#x76;&#x61;&#x73;&#x63;&#x72;&#x69;&#x70;&#x74;&#x3A;alert(1)`},
		{"javascript padded entities", `&#0000106;&#0000097;vascript:alert(1)`},
		{"javascript entity colon", `javascript&colon;alert(1)`},
		{"javascript NUL", "java\x00script:alert(1)"},
		{"javascript percent", `javascript%3Aalert(1)`},
		{"data", `data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==`},
		{"data upper", `DATA:text/html,<script>alert(1)</script>`},
		{"vbscript", `vbscript:msgbox(1)`},
		{"vbscript mixed case", `VbScRiPt:msgbox(1)`},
		{"file", `file:///etc/passwd`},
		{"ftp", `ftp://example.com/`},
		{"tel", `tel:+123`},
		{"protocol relative", `//evil.example/`},
		{"protocol relative backslashes", `\\evil.example/`},
		{"protocol relative mixed slashes", `/\evil.example/`},
		{"relative path", `/account/delete`},
		{"relative file", `page.html`},
		{"fragment", `#top`},
		{"query", `?q=1`},
		{"scheme without slashes", `https:evil.example`},
		{"scheme with one slash", `https:/evil.example`},
		{"scheme with three slashes", `https:///evil.example`},
		{"user info", `https://good.example@evil.example/`},
		{"backslash in authority", `https://evil.example\@good.example/`},
		{"space inside", `https://exa mple.com/`},
		{"empty", ``},
		{"mailto without address", `mailto:`},
	}
	for _, tt := range hrefs {
		t.Run(tt.name, func(t *testing.T) {
			for _, in := range []string{
				`<a href="` + tt.href + `">x</a>`,
				`<a href='` + tt.href + `'>x</a>`,
				`<a title="t" href="` + tt.href + `" rel="nofollow">x</a>`,
			} {
				if got := p.Sanitize(in); got != "x" {
					t.Errorf("Sanitize(%q) = %q, want %q", in, got, "x")
				}
			}
		})
	}
}

// TestRichRemoves: elements and attributes outside the allowlist are gone;
// for most the text stays, for script-like ones their content goes too.
func TestRichRemoves(t *testing.T) {
	p := sanitize.Rich()
	tests := []struct{ name, in, want string }{
		{"script", `a<script>alert(1)</script>b`, `ab`},
		{"script unclosed", `a<script>alert(1)`, `a`},
		{"script uppercase", `a<SCRIPT SRC=https://x.example/x.js></SCRIPT>b`, `ab`},
		{"style element", `a<style>body{display:none}</style>b`, `ab`},
		{"style attribute", `<p style="position:fixed;top:0">x</p>`, `<p>x</p>`},
		{"class and id", `<b class="admin" id="login">x</b>`, `<b>x</b>`},
		{"svg", `a<svg onload="alert(1)"><circle r="1"/></svg>b`, `ab`},
		{"svg script", `<svg><script>alert(1)</script><text>t</text></svg>`, `t`},
		{"svg animate", `<svg><a><animate attributeName="href" to="javascript:alert(1)"/><text>x</text></a></svg>`, `x`},
		{"math", `<math><mi xlink:href="javascript:alert(1)">m</mi></math>`, `m`},
		{"math mglyph", `<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>`, ``},
		{"iframe", `a<iframe src="https://evil.example/">inner</iframe>b`, `ab`},
		{"iframe srcdoc", `<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>`, ``},
		{"frameset", `<frameset><frame src="https://evil.example/"></frameset>`, ``},
		{"object", `a<object data="x.swf">inner</object>b`, `ab`},
		{"embed", `a<embed src="x.swf">b`, `ab`},
		{"applet", `<applet code="X">t</applet>`, `t`},
		{"form", `<form action="https://evil.example/"><input name="p" type="password"><button formaction="javascript:alert(1)">go</button><select><option>o</option></select><textarea>t</textarea></form>`, `goot`},
		{"img", `<img src="https://x.example/a.png" onerror="alert(1)">after`, `after`},
		{"picture", `<picture><source srcset="x"><img src="x"></picture>p`, `p`},
		{"video audio", `<video src="x" poster="y" onerror="alert(1)">v</video><audio src="x">a</audio>`, `va`},
		{"meta", `<meta http-equiv="refresh" content="0;url=javascript:alert(1)">m`, `m`},
		{"link", `<link rel="stylesheet" href="https://evil.example/x.css">l`, `l`},
		{"base", `<base href="https://evil.example/">b`, `b`},
		{"template", `<template><img src=x onerror=alert(1)></template>t`, `t`},
		{"noscript", `<noscript><p title="</noscript><img src=x onerror=alert(1)>">`, `&#34;&gt;`},
		{"xmp text", `<xmp><script>alert(1)</script></xmp>`, `&lt;script&gt;alert(1)&lt;/script&gt;`},
		{"title", `<title>t</title>x`, `x`},
		{"comment", `a<!-- <script>alert(1)</script> -->b`, `ab`},
		{"conditional comment", `<!--[if IE]><script>alert(1)</script><![endif]-->x`, `x`},
		{"doctype", `<!DOCTYPE html>x`, `x`},
		{"processing instruction", `<?xml version="1.0"?>x`, `x`},
		// Outside svg and math, "<![CDATA[" opens a bogus comment that ends at
		// the first ">".
		{"cdata", `<![CDATA[<script>alert(1)</script>]]>x`, `alert(1)]]&gt;x`},
		{"onclick", `<b onclick="alert(1)">x</b>`, `<b>x</b>`},
		{"onmouseover unquoted", `<i onmouseover=alert(1)>x</i>`, `<i>x</i>`},
		{"event handler on link", `<a href="https://example.com/" onclick="alert(1)" onfocus="x" autofocus>l</a>`, `<a href="https://example.com/" ` + rel + `>l</a>`},
		{"slash separated attribute", `<p/onclick=alert(1)>x</p>`, `<p>x</p>`},
		{"data attributes", `<p data-x="1">x</p>`, `<p>x</p>`},
		{"unknown element", `<custom-el onclick="x">c</custom-el>`, `c`},
		{"details", `<details open ontoggle="alert(1)"><summary>s</summary>d</details>`, `sd`},
		{"marquee", `<marquee onstart="alert(1)">m</marquee>`, `m`},
		{"table", `<table><tr><td>c</td></tr></table>`, `c`},
		{"div span", `<div><span>x</span></div>`, `x`},
		{"html body", `<html><body onload="alert(1)">x</body></html>`, `x`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Sanitize(tt.in); got != tt.want {
				t.Errorf("Sanitize(%q)\n got: %q\nwant: %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRichElements(t *testing.T) {
	got := sanitize.RichElements()
	want := strings.Fields(`p br hr b strong i em u s del ins sub sup mark
		small h1 h2 h3 h4 h5 h6 ul ol li blockquote q pre code a`)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("RichElements() = %v, want %v", got, want)
	}
	// Each element survives on its own.
	p := sanitize.Rich()
	for _, e := range sanitize.RichElements() {
		t.Run(e, func(t *testing.T) {
			in, want := "<"+e+">x</"+e+">", "<"+e+">x</"+e+">"
			switch e {
			case "br", "hr":
				in, want = "<"+e+">", "<"+e+"/>"
			case "a":
				in = `<a href="https://example.com/">x</a>`
				want = `<a href="https://example.com/" ` + rel + `>x</a>`
			case "li":
				in, want = "<ul><li>x</li></ul>", "<ul><li>x</li></ul>"
			}
			if got := p.Sanitize(in); got != want {
				t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
			}
		})
	}
}

func TestZeroPolicy(t *testing.T) {
	var p sanitize.Policy
	if got := p.Sanitize("<b>x</b>"); got != "" {
		t.Errorf("zero Policy Sanitize = %q, want empty (fail closed)", got)
	}
	var nilp *sanitize.Policy
	if got := nilp.Sanitize("x"); got != "" {
		t.Errorf("nil Policy Sanitize = %q, want empty", got)
	}
}

func TestRichIdempotent(t *testing.T) {
	p := sanitize.Rich()
	for _, in := range []string{
		`<p>Hi <b>there</b> <a href="https://example.com/a?b=c&d=e">l</a></p>`,
		`<blockquote><b>x`, `<b><i>x</b>y</i>`, "<pre>\n\n\nx</pre>",
		`<a href="https://例え.jp/パス?q=ü">x</a>`, `&amp;lt;b&amp;gt;`,
		`<p>a<ul><li>b</ul>c</p>`, `<h1><h2>x</h1></h2>`,
	} {
		once := p.Sanitize(in)
		if twice := p.Sanitize(once); twice != once {
			t.Errorf("Sanitize not idempotent on %q\n once:  %q\n twice: %q", in, once, twice)
		}
	}
}

package sanitize

import (
	"bufio"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// The property checks shared by the corpus test and the fuzz targets. They
// deliberately do not use RichElements or anything else from the package:
// they restate the contract independently, so widening the policy by
// mistake makes them fail.

// testRichElements is the Rich element allowlist as the contract states it.
func testRichElements() map[string]bool {
	m := make(map[string]bool)
	for _, e := range strings.Fields(`p br hr b strong i em u s del ins sub
		sup mark small h1 h2 h3 h4 h5 h6 ul ol li blockquote q pre code a`) {
		m[e] = true
	}
	return m
}

const testRel = "nofollow noopener noreferrer"

// parseBody parses s as the inner HTML of a <body>, as a browser would when
// s is inserted into a page.
func parseBody(s string) ([]*html.Node, error) {
	ctx := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	return html.ParseFragment(strings.NewReader(s), ctx)
}

// richViolations returns what is wrong with out as Rich output: elements or
// attributes outside the allowlist, links with another scheme or without
// the exact rel attribute, comments, and output that is not in the form a
// parse and render gives (a sign that a browser could build another tree).
func richViolations(out string) []string {
	nodes, err := parseBody(out)
	if err != nil {
		return []string{"parse: " + err.Error()}
	}
	bad := treeViolations(nodes, true)
	var b strings.Builder
	for _, n := range nodes {
		if err := html.Render(&b, n); err != nil {
			bad = append(bad, "render: "+err.Error())
		}
	}
	if b.String() != out {
		bad = append(bad, "not canonical: parse and render give "+b.String())
	}
	return bad
}

// treeViolations checks the allowlist on parsed nodes. With exactRel, a
// link's rel must be exactly testRel; otherwise only present.
func treeViolations(nodes []*html.Node, exactRel bool) []string {
	var bad []string
	allowed := testRichElements()
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
		case html.ElementNode:
			if n.Namespace != "" || !allowed[n.Data] {
				bad = append(bad, "element "+n.Namespace+" "+n.Data)
			}
			var href, rel bool
			for _, a := range n.Attr {
				switch {
				case strings.HasPrefix(strings.ToLower(a.Key), "on"):
					bad = append(bad, "event handler "+a.Key+" on "+n.Data)
				case a.Namespace != "":
					bad = append(bad, "namespaced attribute "+a.Namespace+":"+a.Key)
				case n.Data == "a" && a.Key == "href":
					href = true
					if v := hrefViolation(a.Val); v != "" {
						bad = append(bad, v)
					}
				case n.Data == "a" && a.Key == "rel":
					rel = true
					if exactRel && a.Val != testRel {
						bad = append(bad, "rel "+a.Val)
					}
				default:
					bad = append(bad, "attribute "+a.Key+" on "+n.Data)
				}
			}
			if n.Data == "a" && (!href || !rel) {
				bad = append(bad, "a without href or rel")
			}
		default:
			bad = append(bad, "node type "+nodeType(n.Type))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n)
	}
	return bad
}

// hrefViolation returns what is wrong with a link target, or "".
func hrefViolation(href string) string {
	u, err := url.Parse(href)
	if err != nil {
		return "href does not parse: " + href
	}
	switch u.Scheme {
	case "http", "https":
		if u.Host == "" {
			return "href without host: " + href
		}
	case "mailto":
	default:
		return "href scheme: " + href
	}
	return ""
}

var tagStart = regexp.MustCompile(`<[\p{L}/!?]`)

// plainViolations returns what is wrong with out as Plain output: anything
// but text when parsed as HTML, a '<' that starts markup, control
// characters, invalid UTF-8.
func plainViolations(out string) []string {
	var bad []string
	if !utf8.ValidString(out) {
		bad = append(bad, "invalid UTF-8")
	}
	for _, r := range out {
		if (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f {
			bad = append(bad, "control character")
			break
		}
	}
	if loc := tagStart.FindStringIndex(out); loc != nil {
		bad = append(bad, "markup start "+out[loc[0]:loc[1]])
	}
	nodes, err := parseBody(out)
	if err != nil {
		return append(bad, "parse: "+err.Error())
	}
	for _, n := range nodes {
		if n.Type != html.TextNode {
			bad = append(bad, "node type "+nodeType(n.Type)+" "+n.Data)
		}
	}
	return bad
}

func nodeType(t html.NodeType) string {
	switch t {
	case html.ElementNode:
		return "element"
	case html.CommentNode:
		return "comment"
	case html.DoctypeNode:
		return "doctype"
	case html.TextNode:
		return "text"
	}
	return "other"
}

// vector is one XSS vector and its line in the corpus file.
type vector struct {
	line int
	text string
}

// readCorpus returns the XSS vectors of ../testdata/xss-vectors.txt: one a
// line; blank lines and lines starting with '#' are comments.
func readCorpus(tb testing.TB) []vector {
	tb.Helper()
	f, err := os.Open("../testdata/xss-vectors.txt")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var vectors []vector
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := sc.Text()
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		vectors = append(vectors, vector{line, text})
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return vectors
}

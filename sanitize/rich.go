package sanitize

import (
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// rich runs the Rich pipeline: clean control characters, bluemonday, then
// parse, check and render the tree.
func (p *Policy) rich(s string) string {
	s = cleanText(s)
	if !strings.ContainsAny(s, "<&") {
		// Only text and no entity: the pipeline below would return
		// exactly the escaped text (TestRichFastPath checks this).
		return html.EscapeString(s)
	}
	return p.richSlow(s)
}

// maxTreeRounds bounds how often richSlow parses and renders its result
// again to reach a form that parses back to the same tree.
const maxTreeRounds = 4

// richSlow is the full Rich pipeline for s, which cleanText has cleaned.
//
// The parser can build trees that have no faithful serialisation: for
// "<h3><b>x<h1>y</b>", the adoption agency algorithm puts h1 inside h3,
// and "<h3><h1>" parses back as two siblings. So the rendered result is
// parsed and rendered again until it no longer changes; a browser then
// builds exactly the tree that was checked, and Sanitize is idempotent.
// Real input settles in one extra round. If it has not settled after
// maxTreeRounds, only the text is kept (fail closed).
func (p *Policy) richSlow(s string) string {
	out := p.checkTree(p.bm.Sanitize(s))
	for range maxTreeRounds {
		next := p.checkTree(out)
		if next == out {
			return out
		}
		out = next
	}
	return html.EscapeString(p.textOf(out))
}

// textOf returns the text of the HTML fragment s that is inside allowed
// elements only.
func (p *Policy) textOf(s string) string {
	body := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	nodes, err := html.ParseFragment(strings.NewReader(s), body)
	if err != nil {
		return ""
	}
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		switch n.Type {
		case html.TextNode:
			b.WriteString(n.Data)
		case html.ElementNode:
			if _, ok := p.elements[n.Data]; !ok || n.Namespace != "" {
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	for _, n := range nodes {
		walk(n)
	}
	return cleanText(b.String())
}

// checkTree parses s as the content of a <body>, as a browser would,
// applies cleanTree and renders the result: well-formed HTML in its
// canonical form. It returns "" if s cannot be parsed (it nests elements
// more than 512 deep).
func (p *Policy) checkTree(s string) string {
	body := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	nodes, err := html.ParseFragment(strings.NewReader(s), body)
	if err != nil {
		return ""
	}
	root := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	for _, n := range nodes {
		root.AppendChild(n)
	}
	p.cleanTree(root)

	var b strings.Builder
	b.Grow(len(s) + len(s)/8)
	for c := root.FirstChild; c != nil; c = c.NextSibling {
		if err := html.Render(&b, c); err != nil {
			return ""
		}
	}
	return b.String()
}

// cleanTree enforces the Rich allowlist on the children of n, recursively.
// bluemonday has already applied the same allowlist; this second check on
// the tree that a browser will build is defence in depth and sets the
// final form of each link.
func (p *Policy) cleanTree(n *html.Node) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		switch c.Type {
		case html.TextNode:
			c.Data = cleanText(c.Data)
		case html.ElementNode:
			if _, ok := p.elements[c.Data]; !ok || c.Namespace != "" {
				// Not reachable after bluemonday; drop element and content.
				n.RemoveChild(c)
				break
			}
			if c.DataAtom != atom.A {
				c.Attr = nil
				p.cleanTree(c)
				break
			}
			href, ok := "", false
			for _, a := range c.Attr {
				if a.Key == "href" && a.Namespace == "" {
					href, ok = canonicalLink(a.Val)
					break
				}
			}
			if !ok {
				// A link without an allowed target: keep its content.
				if c.FirstChild != nil {
					next = c.FirstChild
				}
				unwrap(c)
				break
			}
			c.Attr = []html.Attribute{{Key: "href", Val: href}, {Key: "rel", Val: RelValue}}
			p.cleanTree(c)
		default:
			// Comments, doctypes: bluemonday removes them already.
			n.RemoveChild(c)
		}
		c = next
	}
}

// unwrap replaces n by its children.
func unwrap(n *html.Node) {
	parent := n.Parent
	for c := n.FirstChild; c != nil; c = n.FirstChild {
		n.RemoveChild(c)
		parent.InsertBefore(c, n)
	}
	parent.RemoveChild(n)
}

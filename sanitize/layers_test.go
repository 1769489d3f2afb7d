package sanitize

import (
	"fmt"
	"testing"
)

// TestRichLayers checks each of Rich's two layers on its own against the
// allowlist, so that a regression in one is not hidden by the other:
// bluemonday alone, and the tree check alone on the raw input.
func TestRichLayers(t *testing.T) {
	p := Rich()
	var inputs []string
	for _, v := range readCorpus(t) {
		inputs = append(inputs, v.text)
	}
	inputs = append(inputs,
		`<p title="t" onclick="x" style="color:red">p</p>`,
		`<a href="/relative">r</a><a href="//evil.example/">p</a>`,
		`<a href="https://u@evil.example/">u</a><a href="https:evil.example">o</a>`,
		`<img src="https://x.example/i.png"><div class="c">d</div>`,
	)
	for i, in := range inputs {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			bm := p.bm.Sanitize(cleanText(in))
			nodes, err := parseBody(bm)
			if err != nil {
				t.Fatal(err)
			}
			for _, bad := range treeViolations(nodes, false) {
				t.Errorf("bluemonday alone: %s\n in:  %q\n out: %q", bad, in, bm)
			}

			tree := p.checkTree(cleanText(in))
			nodes, err = parseBody(tree)
			if err != nil {
				t.Fatal(err)
			}
			for _, bad := range treeViolations(nodes, true) {
				t.Errorf("tree check alone: %s\n in:  %q\n out: %q", bad, in, tree)
			}
		})
	}
}

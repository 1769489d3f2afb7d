package sanitize

import (
	"fmt"
	"testing"
)

// minCorpus is the number of vectors in ../testdata/xss-vectors.txt when
// this test was written; fewer means the file or its reading broke.
const minCorpus = 488

func TestCorpus(t *testing.T) {
	vectors := readCorpus(t)
	if len(vectors) < minCorpus {
		t.Fatalf("read %d vectors, want at least %d", len(vectors), minCorpus)
	}
	rich, plain := Rich(), Plain()
	for _, vec := range vectors {
		v := vec.text
		t.Run(fmt.Sprintf("line%03d", vec.line), func(t *testing.T) {
			r := rich.Sanitize(v)
			for _, bad := range richViolations(r) {
				t.Errorf("Rich: %s\n in:  %q\n out: %q", bad, v, r)
			}
			if again := rich.Sanitize(r); again != r {
				t.Errorf("Rich not idempotent\n in:     %q\n once:   %q\n twice:  %q", v, r, again)
			}
			p := plain.Sanitize(v)
			for _, bad := range plainViolations(p) {
				t.Errorf("Plain: %s\n in:  %q\n out: %q", bad, v, p)
			}
			if again := plain.Sanitize(p); again != p {
				t.Errorf("Plain not idempotent\n in:     %q\n once:   %q\n twice:  %q", v, p, again)
			}
		})
	}
}

package scan

import (
	"strings"
	"testing"
)

func TestParseDocYAML(t *testing.T) {
	const doc = `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /items/{id}:
    get:
      operationId: getItem
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer, maximum: 10}}
      responses: {"200": {description: ok}}
`
	d, err := parseDoc([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if d == nil {
		t.Fatal("no document")
	}
	bad := []struct{ name, doc, want string }{
		{"not an object", "- a\n- b\n", "not an object"},
		{"not OpenAPI", "a: 1\n", "no paths"},
		{"syntax", "paths: [\n", "YAML"},
		{"non-string key", "openapi: 3.1.0\npaths: {}\n1: c\n", "JSON cannot"},
		{"alias bomb", yamlBomb(), "expands to more than"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseDoc([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("parseDoc = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// yamlBomb is a document of a few hundred bytes whose aliases expand to
// 10^9 nodes.
func yamlBomb() string {
	var b strings.Builder
	b.WriteString("openapi: 3.1.0\npaths: {}\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		prev := "*a" + string(rune('0'+i-1))
		b.WriteString("a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(prev)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

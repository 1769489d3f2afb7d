package scan

import (
	"encoding/json"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// maxYAMLNodes bounds a YAML document: aliases can expand a small text
// into an enormous tree (a "billion laughs" document), and the target
// chooses what it serves.
const maxYAMLNodes = 200_000

// parseYAML reads an OpenAPI document in YAML and returns it in the shape
// encoding/json gives a JSON document (objects as map[string]any, numbers
// as float64), so the rest of the scanner sees one form. A document whose
// aliases expand beyond maxYAMLNodes is refused.
func parseYAML(b []byte) (any, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(b, &root); err != nil {
		return nil, err
	}
	n := 0
	if !countNodes(&root, &n) {
		return nil, fmt.Errorf("the YAML document expands to more than %d nodes", maxYAMLNodes)
	}
	var v any
	if err := root.Decode(&v); err != nil {
		return nil, err
	}
	// Through JSON: YAML allows keys that are not strings, JSON does not,
	// and an OpenAPI document is JSON's data model written in YAML.
	j, err := json.Marshal(v)
	if err != nil {
		return nil, errors.New("the YAML document holds what JSON cannot (a non-string key?): " + err.Error())
	}
	var out any
	if err := json.Unmarshal(j, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// countNodes counts the nodes of the tree n expands to, following
// aliases, and reports whether it stays within maxYAMLNodes.
func countNodes(n *yaml.Node, count *int) bool {
	*count++
	if *count > maxYAMLNodes {
		return false
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return countNodes(n.Alias, count)
	}
	for _, c := range n.Content {
		if !countNodes(c, count) {
			return false
		}
	}
	return true
}

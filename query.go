package fortapi

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// repeatableQuery lists the query parameters op declares as arrays sent
// by repeating the name (?tag=a&tag=b: style form with explode, which is
// OpenAPI's default for query parameters). huma reads a struct field
// tagged `query:"tag,explode"` that way; without explode it reads one
// comma-separated value, and a repeat would be silently dropped.
func repeatableQuery(op *huma.Operation) []string {
	var out []string
	for _, p := range op.Parameters {
		if p == nil || p.In != "query" || p.Schema == nil || p.Schema.Type != "array" {
			continue
		}
		if p.Style != "" && p.Style != "form" {
			continue
		}
		if p.Explode == nil || *p.Explode {
			out = append(out, p.Name)
		}
	}
	return out
}

// maxEchoedName caps the parameter name a refusal quotes.
const maxEchoedName = 64

// repeatedQuery returns the first parameter named twice in the query
// string rawQuery that is not in repeatable, or "". Names compare after
// percent-decoding, as huma and url.ParseQuery see them, so l%69mit and
// limit are the same parameter. It allocates only for queries of more
// than 16 parameters or with encoded names.
func repeatedQuery(rawQuery string, repeatable []string) (string, bool) {
	var small [16]string
	seen := small[:0]
	var many map[string]struct{}
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" {
			continue
		}
		name, _, _ := strings.Cut(pair, "=")
		if strings.ContainsAny(name, "%+") {
			if n, err := url.QueryUnescape(name); err == nil {
				name = n
			}
		}
		dup := false
		if many != nil {
			_, dup = many[name]
		} else {
			dup = slices.Contains(seen, name)
		}
		if dup {
			if slices.Contains(repeatable, name) {
				continue
			}
			return name, true
		}
		if many == nil && len(seen) < len(small) {
			seen = append(seen, name)
			continue
		}
		if many == nil {
			many = make(map[string]struct{}, 2*len(small))
			for _, n := range seen {
				many[n] = struct{}{}
			}
		}
		many[name] = struct{}{}
	}
	return "", false
}

// repeatedQueryDetail is the refusal of a query naming name twice.
func repeatedQueryDetail(name string) (detail string, loc string) {
	if len(name) > maxEchoedName {
		name = name[:maxEchoedName] + "..."
	}
	q := strconv.QuoteToASCII(name)
	return "the query parameter " + q + " is given more than once; give it once (a list as one comma-separated value, unless the operation declares it as a repeated array)",
		"query." + strings.Trim(q, `"`)
}

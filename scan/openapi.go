package scan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"sort"
	"strings"
	"time"
)

// apiDoc is what the scan uses of an OpenAPI 3 document.
type apiDoc struct {
	source   string
	raw      map[string]any
	ops      []*operation
	tokenURL string // the oauth2 password flow's tokenUrl
}

type operation struct {
	method, path string // "GET", "/items/{id}" (document path, server prefix included)
	tmpl         string // the document's path template, for labels
	params       []*param
	body         map[string]any // request body schema (resolved)
	bodyType     string         // its media type
	public       bool           // security: [] or an empty requirement
	scopes       []string       // scopes every requirement asks for
	admin        bool
	html         bool // documents a text/html answer
}

func (o *operation) label() string { return o.method + " " + o.tmpl }

// pathParams are the operation's path parameters.
func (o *operation) pathParams() []*param {
	var out []*param
	for _, p := range o.params {
		if p.in == "path" {
			out = append(out, p)
		}
	}
	return out
}

type param struct {
	name, in string
	required bool
	schema   map[string]any
}

// loadDoc fetches and reads the OpenAPI document.
func (s *scanner) loadDoc(ctx context.Context) error {
	var cands []string
	if s.opts.OpenAPI != "" {
		cands = []string{s.opts.OpenAPI}
	} else {
		for _, p := range []string{"/openapi.json", "/openapi.yaml", "/docs/openapi.json", "/swagger.json", "/v3/api-docs"} {
			if s.prefix != "" {
				cands = append(cands, s.prefix+p)
			}
			cands = append(cands, p)
		}
	}
	var errs []string
	for _, c := range cands {
		b, src, err := s.fetchDoc(ctx, c)
		if err != nil {
			if errors.Is(err, errBudget) || ctx.Err() != nil {
				return err
			}
			errs = append(errs, err.Error())
			continue
		}
		doc, err := parseDoc(b)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", src, err))
			continue
		}
		doc.source = src
		if err := s.useDoc(doc); err != nil {
			return err
		}
		return nil
	}
	return fmt.Errorf("no usable OpenAPI document (give --openapi): %s", strings.Join(errs, "; "))
}

func (s *scanner) fetchDoc(ctx context.Context, c string) ([]byte, string, error) {
	u, perr := url.Parse(c)
	if perr == nil && u.IsAbs() {
		if !s.sameOrigin(u) {
			return nil, c, fmt.Errorf("%w: the document must be on the target or a file: %s", errOffTarget, u.Redacted())
		}
	} else if !strings.HasPrefix(c, "/") || s.opts.OpenAPI != "" {
		if b, err := os.ReadFile(c); err == nil {
			return b, c, nil
		} else if !strings.HasPrefix(c, "/") {
			return nil, c, err
		}
	}
	r, err := s.do(ctx, req{method: "GET", path: c})
	if err != nil {
		return nil, c, err
	}
	if r.status != 200 {
		return nil, c, fmt.Errorf("%s: %d", c, r.status)
	}
	return r.body, c, nil
}

func parseDoc(b []byte) (*apiDoc, error) {
	var raw map[string]any
	t := strings.TrimSpace(string(b))
	if !strings.HasPrefix(t, "{") {
		v, err := parseYAML(b)
		if err != nil {
			return nil, fmt.Errorf("not JSON, and YAML: %v", err)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, errors.New("the document is not an object")
		}
		raw = m
	} else if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	if _, ok := raw["paths"].(map[string]any); !ok {
		return nil, errors.New("no paths: not an OpenAPI document")
	}
	if _, ok := raw["openapi"]; !ok {
		if _, ok := raw["swagger"]; !ok {
			return nil, errors.New("no openapi version: not an OpenAPI document")
		}
	}
	return &apiDoc{raw: raw}, nil
}

// useDoc builds the operations of doc.
func (s *scanner) useDoc(doc *apiDoc) error {
	raw := doc.raw
	serverPrefix := ""
	if servers, ok := raw["servers"].([]any); ok && len(servers) > 0 {
		if sv, ok := servers[0].(map[string]any); ok {
			if su, ok := sv["url"].(string); ok && su != "" {
				u, err := url.Parse(su)
				switch {
				case err != nil:
				case u.IsAbs() && !s.sameOrigin(u):
					s.note("the document's server %s is not the target: its operations are sent to the target instead", u.Redacted())
				default:
					serverPrefix = strings.TrimSuffix(u.Path, "/")
				}
			}
		}
	}
	// the token URL of an oauth2 password flow
	schemes, _ := dig(raw, "components", "securitySchemes").(map[string]any)
	names := make([]string, 0, len(schemes))
	for n := range schemes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sc, _ := schemes[n].(map[string]any)
		if tu, ok := dig(sc, "flows", "password", "tokenUrl").(string); ok && doc.tokenURL == "" {
			doc.tokenURL = tu
		}
	}
	globalSec, hasGlobal := raw["security"].([]any)
	paths, _ := raw["paths"].(map[string]any)
	pnames := make([]string, 0, len(paths))
	for p := range paths {
		pnames = append(pnames, p)
	}
	sort.Strings(pnames)
	for _, p := range pnames {
		item, ok := paths[p].(map[string]any)
		if !ok {
			continue
		}
		common := paramList(raw, item["parameters"])
		for _, m := range []string{"get", "post", "put", "patch", "delete"} {
			o, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			op := &operation{method: strings.ToUpper(m), path: serverPrefix + p, tmpl: p}
			byKey := map[string]*param{}
			for _, pr := range append(common, paramList(raw, o["parameters"])...) {
				byKey[pr.in+"\x00"+pr.name] = pr
			}
			keys := make([]string, 0, len(byKey))
			for k := range byKey {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				op.params = append(op.params, byKey[k])
			}
			if rb, ok := resolveRef(raw, o["requestBody"]).(map[string]any); ok {
				content, _ := rb["content"].(map[string]any)
				for _, ct := range []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data"} {
					if mt, ok := content[ct].(map[string]any); ok {
						op.bodyType = ct
						op.body = resolveSchema(raw, mt["schema"], 0)
						break
					}
				}
				if op.bodyType == "" {
					for ct, mt := range content {
						if strings.HasSuffix(ct, "+json") {
							op.bodyType = ct
							op.body = resolveSchema(raw, mt.(map[string]any)["schema"], 0)
						}
					}
				}
			}
			sec, has := o["security"].([]any)
			if !has {
				sec, has = globalSec, hasGlobal
			}
			op.public = !has || len(sec) == 0
			var scopeSets [][]string
			for _, r := range sec {
				rm, _ := r.(map[string]any)
				if len(rm) == 0 {
					op.public = true
				}
				var set []string
				for _, v := range rm {
					for _, sc := range asList(v) {
						if str, ok := sc.(string); ok {
							set = append(set, str)
						}
					}
				}
				scopeSets = append(scopeSets, set)
			}
			if !op.public && len(scopeSets) > 0 {
				op.scopes = scopeSets[0]
				for _, set := range scopeSets[1:] {
					op.scopes = slices.DeleteFunc(slices.Clone(op.scopes), func(x string) bool { return !slices.Contains(set, x) })
				}
				sort.Strings(op.scopes)
				op.scopes = slices.Compact(op.scopes)
			}
			op.admin = isAdminOp(p, o, op.scopes)
			if resps, ok := o["responses"].(map[string]any); ok {
				for code, rv := range resps {
					if !strings.HasPrefix(code, "2") {
						continue
					}
					r, _ := resolveRef(raw, rv).(map[string]any)
					if c, ok := r["content"].(map[string]any); ok {
						if _, ok := c["text/html"]; ok {
							op.html = true
						}
					}
				}
			}
			doc.ops = append(doc.ops, op)
		}
	}
	if len(doc.ops) == 0 {
		return errors.New("the OpenAPI document has no operations")
	}
	s.doc = doc
	return nil
}

func isAdminOp(path string, o map[string]any, scopes []string) bool {
	for _, sc := range scopes {
		if strings.Contains(strings.ToLower(sc), "admin") {
			return true
		}
	}
	for _, seg := range strings.Split(strings.ToLower(path), "/") {
		if seg == "admin" || seg == "admins" || seg == "internal" || seg == "management" {
			return true
		}
	}
	for _, t := range asList(o["tags"]) {
		if ts, ok := t.(string); ok && strings.Contains(strings.ToLower(ts), "admin") {
			return true
		}
	}
	for _, k := range []string{"x-admin", "x-admin-only", "x-requires-admin"} {
		if v, ok := o[k].(bool); ok && v {
			return true
		}
	}
	for _, k := range []string{"x-role", "x-required-role", "x-roles"} {
		for _, v := range append(asList(o[k]), o[k]) {
			if vs, ok := v.(string); ok && strings.Contains(strings.ToLower(vs), "admin") {
				return true
			}
		}
	}
	return false
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// resolveRef follows local $refs (at most 20).
func resolveRef(raw map[string]any, v any) any {
	for range 20 {
		m, ok := v.(map[string]any)
		if !ok {
			return v
		}
		ref, ok := m["$ref"].(string)
		if !ok || !strings.HasPrefix(ref, "#/") {
			return v
		}
		var cur any = raw
		for _, part := range strings.Split(ref[2:], "/") {
			part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
			cur = dig(cur, part)
		}
		v = cur
	}
	return nil
}

// resolveSchema resolves refs and merges allOf, down to depth 6.
func resolveSchema(raw map[string]any, v any, depth int) map[string]any {
	m, _ := resolveRef(raw, v).(map[string]any)
	if m == nil || depth > 6 {
		return m
	}
	out := map[string]any{}
	for k, x := range m {
		out[k] = x
	}
	if all, ok := m["allOf"].([]any); ok {
		props := map[string]any{}
		var req []any
		for _, sub := range all {
			sm := resolveSchema(raw, sub, depth+1)
			if p, ok := sm["properties"].(map[string]any); ok {
				for k, x := range p {
					props[k] = x
				}
			}
			req = append(req, asList(sm["required"])...)
			if t, ok := sm["type"]; ok {
				out["type"] = t
			}
		}
		out["properties"], out["required"] = props, req
		delete(out, "allOf")
	}
	for _, k := range []string{"anyOf", "oneOf"} {
		if alts, ok := m[k].([]any); ok && len(alts) > 0 {
			for _, alt := range alts {
				am := resolveSchema(raw, alt, depth+1)
				if t, _ := am["type"].(string); t != "null" {
					for kk, x := range am {
						if _, ok := out[kk]; !ok {
							out[kk] = x
						}
					}
					break
				}
			}
		}
	}
	if p, ok := out["properties"].(map[string]any); ok {
		np := map[string]any{}
		for k, x := range p {
			np[k] = resolveSchema(raw, x, depth+1)
		}
		out["properties"] = np
	}
	if it, ok := out["items"]; ok {
		out["items"] = resolveSchema(raw, it, depth+1)
	}
	return out
}

func paramList(raw map[string]any, v any) []*param {
	var out []*param
	for _, x := range asList(v) {
		m, ok := resolveRef(raw, x).(map[string]any)
		if !ok {
			continue
		}
		name, _ := m["name"].(string)
		in, _ := m["in"].(string)
		if name == "" || in == "" {
			continue
		}
		req, _ := m["required"].(bool)
		out = append(out, &param{name: name, in: in, required: req || in == "path", schema: resolveSchema(raw, m["schema"], 0)})
	}
	return out
}

// schemaType is a schema's main type ("string" for ["string","null"]).
func schemaType(sc map[string]any) string {
	switch t := sc["type"].(type) {
	case string:
		return t
	case []any:
		for _, x := range t {
			if xs, ok := x.(string); ok && xs != "null" {
				return xs
			}
		}
	}
	if _, ok := sc["properties"]; ok {
		return "object"
	}
	return ""
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// privileged names a scan never sets in a valid body (mass assignment
// checks send them on purpose).
func privileged(name string) bool {
	switch strings.ToLower(name) {
	case "id", "owner", "owner_id", "ownerid", "user_id", "userid", "role", "roles", "is_admin", "isadmin", "admin",
		"scopes", "scope", "permissions", "created_at", "updated_at", "password_hash", "hashed_password", "disabled", "is_active", "verified":
		return true
	}
	return false
}

// gen makes a valid value for a schema; name is the property name (for
// usernames, emails, passwords).
func gen(sc map[string]any, name string, depth int) any {
	if sc == nil {
		return "fortapi-scan"
	}
	if ex, ok := sc["example"]; ok && ex != nil && !strings.Contains(strings.ToLower(name), "password") {
		return ex
	}
	if d, ok := sc["default"]; ok && d != nil {
		return d
	}
	if en, ok := sc["enum"].([]any); ok && len(en) > 0 {
		// the least privileged choice
		for _, e := range en {
			if es, ok := e.(string); ok && !strings.Contains(strings.ToLower(es), "admin") {
				return e
			}
		}
		return en[0]
	}
	if c, ok := sc["const"]; ok {
		return c
	}
	lname := strings.ToLower(name)
	switch schemaType(sc) {
	case "integer":
		n := 1.0
		if mn, ok := sc["minimum"].(float64); ok && mn > n {
			n = mn
		}
		if mx, ok := sc["maximum"].(float64); ok && mx < n {
			n = mx
		}
		return int64(n)
	case "number":
		n := 1.5
		if mn, ok := sc["minimum"].(float64); ok && mn > n {
			n = mn
		}
		if mx, ok := sc["maximum"].(float64); ok && mx < n {
			n = mx
		}
		return n
	case "boolean":
		if lname == "disabled" || strings.HasPrefix(lname, "is_") {
			return false
		}
		return true
	case "array":
		it, _ := sc["items"].(map[string]any)
		n := 1
		if mn, ok := sc["minItems"].(float64); ok && int(mn) > n {
			n = int(mn)
		}
		if depth > 4 {
			return []any{}
		}
		out := make([]any, n)
		for i := range out {
			out[i] = gen(it, name, depth+1)
		}
		return out
	case "object":
		out := map[string]any{}
		if depth > 4 {
			return out
		}
		props, _ := sc["properties"].(map[string]any)
		req := map[string]bool{}
		for _, r := range asList(sc["required"]) {
			if rs, ok := r.(string); ok {
				req[rs] = true
			}
		}
		for k, v := range props {
			pm, _ := v.(map[string]any)
			if ro, _ := pm["readOnly"].(bool); ro {
				continue
			}
			if privileged(k) && !req[k] {
				continue
			}
			out[k] = gen(pm, k, depth+1)
		}
		return out
	}
	// strings
	format, _ := sc["format"].(string)
	v := ""
	switch {
	case format == "uuid":
		return randUUID()
	case format == "date-time":
		return time.Now().UTC().Format(time.RFC3339)
	case format == "date":
		return time.Now().UTC().Format(time.DateOnly)
	case format == "email" || strings.Contains(lname, "email"):
		v = "scan-" + randHex(4) + "@example.com"
	case format == "uri" || format == "url" || strings.HasSuffix(lname, "url"):
		v = "https://example.com/" + randHex(4)
	case strings.Contains(lname, "password"):
		v = "Scan-" + randHex(12) + "-pw!"
	case lname == "username" || lname == "login" || lname == "user" || lname == "name" || lname == "user_name":
		v = "fortapiscan" + randHex(4)
	default:
		v = "fortapi-scan-" + randHex(3)
	}
	if mx, ok := sc["maxLength"].(float64); ok && len(v) > int(mx) {
		v = v[:int(mx)]
	}
	if mn, ok := sc["minLength"].(float64); ok {
		for len(v) < int(mn) {
			v += "x"
		}
	}
	return v
}

// fill replaces the path parameters of op with values: vals by name, or
// generated ones.
func fillPath(op *operation, vals map[string]string) string {
	p := op.path
	for _, pr := range op.pathParams() {
		v, ok := vals[pr.name]
		if !ok {
			v = fmt.Sprint(gen(pr.schema, pr.name, 0))
		}
		p = strings.ReplaceAll(p, "{"+pr.name+"}", url.PathEscape(v))
	}
	return p
}

// requiredQuery generates the operation's required query parameters.
func requiredQuery(op *operation) url.Values {
	q := url.Values{}
	for _, pr := range op.params {
		if pr.in == "query" && pr.required {
			q.Set(pr.name, fmt.Sprint(gen(pr.schema, pr.name, 0)))
		}
	}
	return q
}

// encodeBody encodes a generated body value for op.
func encodeBody(op *operation, v any) ([]byte, string) {
	if op.bodyType == "application/x-www-form-urlencoded" || op.bodyType == "multipart/form-data" {
		f := url.Values{}
		if m, ok := v.(map[string]any); ok {
			for k, x := range m {
				f.Set(k, fmt.Sprint(x))
			}
		}
		return []byte(f.Encode()), "application/x-www-form-urlencoded"
	}
	b, _ := json.Marshal(v)
	return b, "application/json"
}

package scan

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"
)

var reParam = regexp.MustCompile(`\{([^}/]+)\}`)

// object is an object whose id a check uses.
type object struct {
	id    string
	owned bool           // the scan created it
	sent  map[string]any // the body it was created with
	got   map[string]any // the creation answer
}

// findOp returns the operation with method on the path template p
// (trailing slash ignored).
func (s *scanner) findOp(method, p string) *operation {
	p = strings.TrimSuffix(p, "/")
	for _, op := range s.doc.ops {
		if op.method == method && strings.TrimSuffix(op.path, "/") == p {
			return op
		}
	}
	return nil
}

// objectPath fills op's path parameters with objects of who: created by
// the scan through the collection's POST when there is one, else taken
// from who's listing (owned false). ok is false when a parameter cannot
// be filled.
func (s *scanner) objectPath(ctx context.Context, who *principal, op *operation) (p string, owned, ok bool, err error) {
	tmpl := op.path
	concrete := tmpl
	owned = true
	locs := reParam.FindAllStringSubmatchIndex(tmpl, -1)
	if len(locs) == 0 {
		return tmpl, false, true, nil // no object of the scan's: /users/me is the user's own
	}
	for _, loc := range locs {
		name := tmpl[loc[2]:loc[3]]
		collTmpl := strings.TrimSuffix(tmpl[:loc[0]], "/")
		// the concrete collection: the template prefix with the earlier
		// parameters already replaced
		idx := strings.Index(concrete, "{"+name+"}")
		if idx < 0 {
			return "", false, false, nil
		}
		collConcrete := strings.TrimSuffix(concrete[:idx], "/")
		o, err := s.objectIn(ctx, who, collTmpl, collConcrete, name)
		if err != nil {
			return "", false, false, err
		}
		if o == nil {
			return "", false, false, nil
		}
		owned = owned && o.owned
		concrete = strings.Replace(concrete, "{"+name+"}", url.PathEscape(o.id), 1)
	}
	return concrete, owned, true, nil
}

// objectIn returns an object of who in a collection (memoized).
func (s *scanner) objectIn(ctx context.Context, who *principal, collTmpl, collConcrete, param string) (*object, error) {
	if s.objects == nil {
		s.objects = map[string]*object{}
	}
	key := fmt.Sprintf("%p|%s|%s", who, collConcrete, param)
	if o, ok := s.objects[key]; ok {
		return o, nil
	}
	s.objects[key] = nil
	o, err := s.createIn(ctx, who, collTmpl, collConcrete, param)
	if err != nil || o != nil {
		s.objects[key] = o
		return o, err
	}
	o, err = s.listIn(ctx, who, collTmpl, collConcrete, param)
	s.objects[key] = o
	return o, err
}

// createIn creates an object in a collection as who.
func (s *scanner) createIn(ctx context.Context, who *principal, collTmpl, collConcrete, param string) (*object, error) {
	post := s.findOp("POST", collTmpl)
	if post == nil || post.body == nil && post.bodyType == "" {
		return nil, nil
	}
	if post.admin && (who == nil || !who.admin) {
		return nil, nil
	}
	if !post.public && who == nil {
		return nil, nil
	}
	bodyV := gen(post.body, "", 0)
	body, ct := encodeBody(post, bodyV)
	target := collConcrete
	if strings.HasSuffix(post.path, "/") {
		target += "/"
	}
	r, err := s.do(ctx, req{method: "POST", path: target, body: body, ctype: ct, as: who, op: post.label()})
	if err != nil || !r.ok() {
		return nil, err
	}
	var got map[string]any
	_ = json.Unmarshal(r.body, &got)
	id := idOf(got, param)
	if id == "" {
		if loc := r.header.Get("Location"); loc != "" {
			if lu, err := url.Parse(loc); err == nil {
				id = path.Base(strings.TrimSuffix(lu.Path, "/"))
			}
		}
	}
	if id == "" {
		return nil, nil
	}
	sent, _ := bodyV.(map[string]any)
	o := &object{id: id, owned: true, sent: sent, got: got}
	return o, nil
}

// idOf finds an object's id in a creation answer.
func idOf(m map[string]any, param string) string {
	if m == nil {
		return ""
	}
	for _, k := range []string{param, "id", "_id", "uuid", "ID", "Id"} {
		if v, ok := m[k]; ok && v != nil {
			switch x := v.(type) {
			case string:
				return x
			case float64:
				return fmt.Sprint(int64(x))
			}
		}
	}
	// {"item": {...}} or {"data": {...}}
	for _, v := range m {
		if sub, ok := v.(map[string]any); ok {
			if id := idOf(sub, param); id != "" {
				return id
			}
		}
	}
	return ""
}

// listIn takes the first id of who's listing of a collection.
func (s *scanner) listIn(ctx context.Context, who *principal, collTmpl, collConcrete, param string) (*object, error) {
	list := s.findOp("GET", collTmpl)
	if list == nil || (!list.public && who == nil) {
		return nil, nil
	}
	target := collConcrete
	if strings.HasSuffix(list.path, "/") {
		target += "/"
	}
	r, err := s.do(ctx, req{method: "GET", path: target, as: who, op: list.label()})
	if err != nil || !r.ok() {
		return nil, err
	}
	var v any
	if json.Unmarshal(r.body, &v) != nil {
		return nil, nil
	}
	arr, _ := v.([]any)
	if m, ok := v.(map[string]any); ok {
		for _, k := range []string{"items", "data", "results", "users", "records", "content"} {
			if a, ok := m[k].([]any); ok {
				arr = a
				break
			}
		}
		if arr == nil {
			for _, x := range m {
				if a, ok := x.([]any); ok {
					arr = a
					break
				}
			}
		}
	}
	for _, e := range arr {
		if m, ok := e.(map[string]any); ok {
			if id := idOf(m, param); id != "" {
				return &object{id: id, got: m}, nil
			}
		}
	}
	return nil, nil
}

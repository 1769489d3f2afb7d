package sanitize

import (
	"fmt"
	"reflect"
	"strings"
)

// Decoded sanitizes v, a JSON value decoded into an any (objects as
// map[string]any, arrays as []any, strings as string, as encoding/json
// makes them) that is to become a value of type t, as t's sanitize tags
// declare: each object member is matched to t's field by its JSON name
// (the json tag, or the field's name; embedded structs' fields promoted),
// exactly as encoding/json matches them — that is, also without regard to
// case, so no spelling of a member escapes its field's policy. It returns
// v with every tagged string replaced (objects and arrays are changed in
// place; a top-level string is returned).
//
// It lets a server sanitize input before validating it: decode the body
// into an any, call Decoded, validate and decode the result, so that
// length and pattern checks see what will be stored. fortapi does this for
// every operation whose body type declares sanitize tags.
//
// The tags are checked as Struct checks them (ErrBadTag), and the plan
// for t is cached in the Sanitizer.
func (s *Sanitizer) Decoded(t reflect.Type, v any) (any, error) {
	v, _, err := s.DecodedChanged(t, v)
	return v, err
}

// DecodedChanged is Decoded, and also reports whether any string was
// replaced by a different one: when it was not, the JSON text v was
// decoded from already says what the sanitized value says, and a server
// can pass that text on instead of encoding v again.
func (s *Sanitizer) DecodedChanged(t reflect.Type, v any) (any, bool, error) {
	if s == nil || s.rich == nil || s.plain == nil {
		return v, false, ErrNotInitialized
	}
	o, err := s.jsonPlan(t)
	if err != nil || o == nil {
		return v, false, err
	}
	changed := false
	v, err = s.applyJSON(o, v, 0, &changed)
	return v, changed, err
}

// Declares reports whether values of type t have a field that Decoded (or
// Struct) changes, and returns the error of a bad tag.
func (s *Sanitizer) Declares(t reflect.Type) (bool, error) {
	if s == nil || s.rich == nil || s.plain == nil {
		return false, ErrNotInitialized
	}
	o, err := s.jsonPlan(t)
	return o != nil, err
}

// jsonOp is a node of the plan that Decoded follows: a string to sanitize
// with mode, an array whose elements follow elem, or an object whose
// members follow fields. Pointers are transparent in JSON.
type jsonOp struct {
	mode   mode // for strings
	elem   *jsonOp
	fields []jsonField
	object bool
}

type jsonField struct {
	name string
	op   *jsonOp
}

type jsonPlanEntry struct {
	op  *jsonOp
	err error
}

// jsonKey tells Decoded's plans from Struct's in Sanitizer.plans.
type jsonKey struct{ t reflect.Type }

func (s *Sanitizer) jsonPlan(t reflect.Type) (*jsonOp, error) {
	if e, ok := s.plans.Load(jsonKey{t}); ok {
		pe := e.(*jsonPlanEntry)
		return pe.op, pe.err
	}
	b := jsonPlanner{objects: map[reflect.Type]*jsonOp{}}
	o, err := b.build(t, modeNone, t.String(), 0)
	if err == nil {
		err = b.checkMaps()
	}
	if err != nil {
		o = nil
	} else if o != nil && !b.leads(o, map[*jsonOp]bool{}) {
		o = nil
	}
	e, _ := s.plans.LoadOrStore(jsonKey{t}, &jsonPlanEntry{op: o, err: err})
	pe := e.(*jsonPlanEntry)
	return pe.op, pe.err
}

type jsonPlanner struct {
	objects map[reflect.Type]*jsonOp
	// maps are the plans of the map value types met, checked once the
	// whole plan is built (a recursive type's may be unfinished when met).
	maps []mapValues
}

type mapValues struct {
	op   *jsonOp
	path string
}

// checkMaps refuses a plan in which a map's values lead to a tagged
// string: maps are not followed, so the tag would be silently ignored.
func (b *jsonPlanner) checkMaps() error {
	for _, m := range b.maps {
		if b.leads(m.op, map[*jsonOp]bool{}) {
			return fmt.Errorf("%w: %s: sanitize tags under a map's values are not applied (use a slice or a struct)", ErrBadTag, m.path)
		}
	}
	return nil
}

// leads reports whether o leads to a string to sanitize.
func (b *jsonPlanner) leads(o *jsonOp, seen map[*jsonOp]bool) bool {
	if o == nil || seen[o] {
		return false
	}
	seen[o] = true
	if o.mode != modeNone {
		return true
	}
	if o.elem != nil && b.leads(o.elem, seen) {
		return true
	}
	for _, f := range o.fields {
		if b.leads(f.op, seen) {
			return true
		}
	}
	return false
}

func (b *jsonPlanner) build(t reflect.Type, m mode, path string, depth int) (*jsonOp, error) {
	if depth > MaxDepth {
		return nil, fmt.Errorf("%w: %s", ErrTooDeep, path)
	}
	switch t.Kind() {
	case reflect.String:
		if m == modeNone || m == modeText {
			return nil, nil
		}
		return &jsonOp{mode: m}, nil
	case reflect.Pointer:
		return b.build(t.Elem(), m, path, depth+1)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Kind() == reflect.Slice {
			if m != modeNone {
				return nil, fmt.Errorf("%w: %s: tag on %s, which is not a string type", ErrBadTag, path, t)
			}
			return nil, nil // []byte is base64 in JSON
		}
		elem, err := b.build(t.Elem(), m, path, depth+1)
		if err != nil || elem == nil {
			return nil, err
		}
		return &jsonOp{elem: elem}, nil
	case reflect.Struct:
		if m != modeNone {
			return nil, fmt.Errorf("%w: %s: tag on %s, which is not a string type", ErrBadTag, path, t)
		}
		if o, ok := b.objects[t]; ok {
			return o, nil
		}
		o := &jsonOp{object: true}
		b.objects[t] = o
		if err := b.fields(o, t, depth); err != nil {
			return nil, err
		}
		return o, nil
	case reflect.Map:
		if m != modeNone {
			return nil, fmt.Errorf("%w: %s: tag on %s, which is not a string type", ErrBadTag, path, t)
		}
		elem, err := b.build(t.Elem(), modeNone, path, depth+1)
		if err != nil {
			return nil, err
		}
		if elem != nil {
			b.maps = append(b.maps, mapValues{op: elem, path: path})
		}
		return nil, nil // not followed
	default:
		if m != modeNone {
			return nil, fmt.Errorf("%w: %s: tag on %s, which is not a string type", ErrBadTag, path, t)
		}
		return nil, nil
	}
}

// fields adds to o the members of struct t, with the fields of embedded
// structs without a JSON name promoted, as encoding/json does.
func (b *jsonPlanner) fields(o *jsonOp, t reflect.Type, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("%w: %s", ErrTooDeep, t)
	}
	for i := range t.NumField() {
		f := t.Field(i)
		path := t.String() + "." + f.Name
		m, skip, err := fieldMode(f, path)
		if err != nil {
			return err
		}
		if skip {
			continue
		}
		jsonTag := f.Tag.Get("json")
		if jsonTag == "-" {
			continue
		}
		name, _, _ := strings.Cut(jsonTag, ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct && m == modeNone {
			if err := b.fields(o, ft, depth+1); err != nil {
				return err
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fo, err := b.build(f.Type, m, path, depth+1)
		if err != nil {
			return err
		}
		if fo != nil {
			o.fields = append(o.fields, jsonField{name: name, op: fo})
		}
	}
	return nil
}

func (s *Sanitizer) applyJSON(o *jsonOp, v any, depth int, changed *bool) (any, error) {
	if depth > MaxDepth {
		return v, ErrTooDeep
	}
	switch x := v.(type) {
	case string:
		if o.mode == modeNone || x == "" {
			return x, nil
		}
		p := s.plain
		if o.mode == modeRich {
			p = s.rich
		}
		out := p.Sanitize(x)
		if out == x {
			return v, nil // v as it is: no new interface value
		}
		*changed = true
		return out, nil
	case []any:
		if o.elem == nil {
			return x, nil
		}
		for i := range x {
			nv, err := s.applyJSON(o.elem, x[i], depth+1, changed)
			if err != nil {
				return v, err
			}
			x[i] = nv
		}
	case map[string]any:
		if !o.object {
			return x, nil
		}
		for k, mv := range x {
			for _, f := range o.fields {
				if k != f.name && !strings.EqualFold(k, f.name) {
					continue
				}
				nv, err := s.applyJSON(f.op, mv, depth+1, changed)
				if err != nil {
					return v, err
				}
				x[k], mv = nv, nv
			}
		}
	}
	return v, nil
}

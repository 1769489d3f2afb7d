package fortapi

import (
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
)

// huma decodes a JSON body twice: into an any, for validation, and then
// into the operation's body struct (bodyoffer.go). When the sanitizer's
// decoding served the first and is an object, and the struct is of the
// simplest kind (fillPlan), the struct is filled from that object instead
// of by encoding/json: no decodeState, no scanner, no string copied.
//
// The contract is one-sided: when fill fills, the struct is exactly
// (reflect.DeepEqual) what json.Unmarshal of the same bytes into the same
// prior contents leaves, and json.Unmarshal would have returned nil. In
// every other case it touches nothing and encoding/json decodes, with its
// own rules (case-insensitive names, unknown members, type errors).

// fillPlan is how a pointer to a struct type is filled from a decoded JSON
// object: its fields encoding/json decodes, by JSON name.
type fillPlan struct {
	fields []fillField
}

// fillField is one field of a fillPlan: its JSON name, its index in the
// struct, the kind of its value (string, float64 or bool), and for a
// pointer the type pointed to.
type fillField struct {
	name  string
	index int
	kind  reflect.Kind
	elem  reflect.Type // nil unless the field is a pointer
}

// fillAliasMax is the largest body whose strings a filled struct may
// share. A string of the sanitizer's decoding (decodeAny) is a substring
// of a copy of the whole body, so a field sharing it keeps the whole body
// alive as long as the handler keeps the field (a store caching it, say);
// encoding/json allocates each string on its own. Above this size every
// string is copied, so the most a kept field can hold on to is this many
// bytes more than its own.
const fillAliasMax = 1 << 10

// fillFromOffer fills the struct v points to from the sanitizer's decoding
// of data, as json.Unmarshal(data, v) would, when there is one and both
// are simple enough (see above); false, having changed nothing, otherwise.
func (a *API) fillFromOffer(data []byte, v any) bool {
	p := a.fillPlanOf(reflect.TypeOf(v))
	if p == nil {
		return false
	}
	o, ok := a.offers.loadAndDelete((*sanitizingBody)(nil).keyOf(data))
	if !ok {
		return false
	}
	m, ok := o.takeObject(data)
	return ok && p.fill(m, v, len(data) <= fillAliasMax)
}

// fillable makes the plan for filling *t, a body type that declares
// sanitize tags (only their bodies are offered), at the registration of
// an operation that takes it.
func (a *API) fillable(t reflect.Type) {
	pt := reflect.PointerTo(t)
	a.fillPlans.LoadOrStore(pt, makeFillPlan(pt))
}

// fillPlanOf returns the plan for t, or nil when t is not a pointer to a
// sanitized body type (fillable), or not one fill handles: the decoding
// of any other body looks for no offer.
func (a *API) fillPlanOf(t reflect.Type) *fillPlan {
	if p, ok := a.fillPlans.Load(t); ok {
		return p.(*fillPlan)
	}
	return nil
}

// makeFillPlan is the plan for t, or nil when t is not a pointer to a
// struct whose exported fields are all string, float64, bool or pointers
// to those, named by a plain json tag (name, optionally ",omitempty";
// "-" skips the field) or by the field's name, no two names equal when
// case is ignored (so that encoding/json's case-insensitive matching could
// never pick another field than the exact match), and with no embedded
// field and no decoding method of its own.
func makeFillPlan(t reflect.Type) *fillPlan {
	if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct {
		return nil
	}
	st := t.Elem()
	if decodesItself(st) {
		return nil
	}
	p := &fillPlan{}
	folded := make(map[string]bool)
	for i := range st.NumField() {
		f := st.Field(i)
		if f.Anonymous {
			return nil // embedded: encoding/json's promotion rules
		}
		if !f.IsExported() {
			continue // encoding/json ignores it, tag or not
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if opts != "" && opts != "omitempty" {
			return nil // ",string" and the like change the decoding
		}
		if name == "" {
			name = f.Name
		}
		if !plainName(name) {
			return nil
		}
		key := strings.ToLower(name) // ASCII: plainName
		if folded[key] {
			return nil // encoding/json's rules for equal names
		}
		folded[key] = true
		// Builtin types only: they have no methods (no UnmarshalJSON or
		// UnmarshalText to run), and none is json.Number (a string kind
		// with rules of its own). A pointer type is unnamed, as here.
		ff := fillField{name: name, index: i}
		vt := f.Type
		if vt.Kind() == reflect.Pointer && vt.Name() == "" {
			ff.elem = vt.Elem()
			vt = ff.elem
		}
		switch vt {
		case reflect.TypeFor[string](), reflect.TypeFor[float64](), reflect.TypeFor[bool]():
			ff.kind = vt.Kind()
		default:
			return nil
		}
		p.fields = append(p.fields, ff)
	}
	return p
}

// decodesItself reports whether encoding/json would decode into t, or
// into *t, by a method of t's.
func decodesItself(t reflect.Type) bool {
	unm := reflect.TypeFor[json.Unmarshaler]()
	text := reflect.TypeFor[encoding.TextUnmarshaler]()
	pt := reflect.PointerTo(t)
	return t.Implements(unm) || t.Implements(text) || pt.Implements(unm) || pt.Implements(text)
}

// plainName reports whether name is a non-empty run of ASCII letters,
// digits, '_' and '-': a name encoding/json takes as written (it falls
// back to the field's name for tags it finds invalid), and which folds
// case as ASCII does.
func plainName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// fill sets the fields of the struct v points to from m, a decoded JSON
// object (numbers float64), as json.Unmarshal sets them, and reports
// true; or it changes nothing and reports false, when a member names no
// field exactly or has a value of another type than its field's (those
// encoding/json decides: case-insensitive names, ignored members, its
// errors), or v is nil. alias lets strings be shared with m's (see
// fillAliasMax).
func (p *fillPlan) fill(m map[string]any, v any, alias bool) bool {
	rv := reflect.ValueOf(v)
	if rv.IsNil() {
		return false // json.Unmarshal's InvalidUnmarshalError
	}
	// Every member checked before any field is set: nothing is changed
	// when encoding/json is to decode after all.
	n := 0
	for i := range p.fields {
		f := &p.fields[i]
		x, ok := m[f.name]
		if !ok {
			continue
		}
		n++
		if !f.takes(x) {
			return false
		}
	}
	if n != len(m) {
		return false // a member with no field of exactly its name
	}
	s := rv.Elem()
	for i := range p.fields {
		f := &p.fields[i]
		if x, ok := m[f.name]; ok {
			f.set(s.Field(f.index), x, alias)
		}
	}
	return true
}

// takes reports whether json.Unmarshal decodes x's JSON value into f
// without an error: a value of f's type, or null.
func (f *fillField) takes(x any) bool {
	switch x.(type) {
	case nil:
		return true
	case string:
		return f.kind == reflect.String
	case float64:
		return f.kind == reflect.Float64
	case bool:
		return f.kind == reflect.Bool
	}
	return false
}

// set sets fv, field f, to x (f.takes(x)) as json.Unmarshal does: null
// makes a pointer nil and leaves any other field as it was; a pointer
// that is not nil has its value set (the value it points to is reused),
// a nil one gets a new value.
func (f *fillField) set(fv reflect.Value, x any, alias bool) {
	if x == nil {
		if f.elem != nil {
			fv.SetZero()
		}
		return
	}
	if f.elem != nil {
		if fv.IsNil() {
			fv.Set(reflect.New(f.elem))
		}
		fv = fv.Elem()
	}
	switch x := x.(type) {
	case string:
		if !alias {
			x = strings.Clone(x)
		}
		fv.SetString(x)
	case float64:
		fv.SetFloat(x)
	case bool:
		fv.SetBool(x)
	}
}

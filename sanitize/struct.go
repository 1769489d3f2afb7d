package sanitize

import (
	"fmt"
	"reflect"
	"sync"
)

// TagName is the struct tag key Sanitizer.Struct reads.
const TagName = "sanitize"

// Tag values.
const (
	// TagRich: the field is HTML; it is sanitized with the Rich policy.
	TagRich = "rich"
	// TagPlain: the field is plain text, kept exactly as sent. Nothing is
	// removed: whoever shows it escapes it (html/template, encoding/json
	// do), so "Widget <i>deluxe</i>" is stored, and shown, as typed. The
	// tag only checks that the field holds text.
	TagPlain = "plain"
	// TagStrip: the field is text made from HTML: tags are removed and
	// entities decoded with the Plain policy. It loses what looks like
	// markup ("a <b> c" becomes "a  c"): choose it only for input that is
	// HTML and must become text.
	TagStrip = "strip"
	// TagSkip: do not touch the field, nor look inside it.
	TagSkip = "-"
)

// Error is the type of the errors Sanitizer.Struct returns; they wrap one
// of the constants below (test with errors.Is). Constants, so the package
// has no mutable state.
type Error string

func (e Error) Error() string { return string(e) }

const (
	// ErrNotStructPointer: the argument is not a non-nil pointer to a
	// struct.
	ErrNotStructPointer Error = "sanitize: argument is not a non-nil pointer to a struct"
	// ErrBadTag: a sanitize tag has an unknown value, or sits on a field
	// whose type holds no string to sanitize, or on an unexported field.
	ErrBadTag Error = "sanitize: bad sanitize tag"
	// ErrTooDeep: the value nests more than MaxDepth levels, usually
	// because pointers form a cycle. Fields visited before are already
	// sanitized: treat the value as rejected.
	ErrTooDeep Error = "sanitize: value nested too deep"
	// ErrNotInitialized: the Sanitizer was not created with New.
	ErrNotInitialized Error = "sanitize: Sanitizer not created with New"
)

// MaxDepth is how many pointers, structs, slices and arrays Struct follows
// into a value before it gives up with ErrTooDeep.
const MaxDepth = 1000

// Sanitizer holds one Rich and one Plain policy and applies them to struct
// fields as their sanitize tags declare. Create it with New, once, and share
// it: its methods are safe for concurrent use. The zero Sanitizer is not
// usable (Struct returns an error).
type Sanitizer struct {
	rich  *Policy
	plain *Policy
	// plans caches, per struct type (reflect.Type), its *planEntry.
	plans sync.Map
}

// New builds a Sanitizer with a Rich and a Plain policy.
func New() *Sanitizer {
	return &Sanitizer{rich: Rich(), plain: Plain()}
}

// Rich returns the Sanitizer's Rich policy.
func (s *Sanitizer) Rich() *Policy { return s.rich }

// Plain returns the Sanitizer's Plain policy.
func (s *Sanitizer) Plain() *Policy { return s.plain }

// Struct sanitizes, in place, the fields of the struct ptr points to, as
// declared by their tags:
//
//	type ItemInput struct {
//		Name        string  `json:"name" sanitize:"plain"`       // kept as sent
//		Description string  `json:"description" sanitize:"rich"` // safe HTML
//		Summary     *string `json:"summary,omitempty" sanitize:"strip"`
//	}
//
// A tag "rich", "plain" or "strip" applies to a field of a string type, or a
// pointer to, slice of or array of such (nil pointers are left alone). Any
// other value (except "-", which skips the field) is ErrBadTag, and so is a
// tag on a field of another type or on an unexported field. Untagged
// exported fields that are structs, pointers to structs, or slices or
// arrays of them are followed, so nested inputs are sanitized too, and so
// are embedded structs of unexported type (their fields are promoted, and
// encoding/json fills them); untagged strings, maps and interfaces are left
// alone. Maps are not followed, so a map whose values lead to a tagged
// field (map[string]Comment) is ErrBadTag rather than left unsanitized.
//
// The tags of a type are checked, and the plan for it cached in the
// Sanitizer, on first use; a bad tag is reported before any field is
// changed. A non-pointer, a nil pointer or a pointer to a non-struct is
// ErrNotStructPointer.
func (s *Sanitizer) Struct(ptr any) error {
	if s == nil || s.rich == nil || s.plain == nil {
		return ErrNotInitialized
	}
	v := reflect.ValueOf(ptr)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("%w: got %T", ErrNotStructPointer, ptr)
	}
	v = v.Elem()
	o, err := s.plan(v.Type())
	if err != nil || o == nil {
		return err
	}
	return s.apply(o, v, 0)
}

// mode is how a string is sanitized.
// fieldMode reads field f's sanitize tag: its mode (modeNone untagged),
// skip for TagSkip, or ErrBadTag for an unknown value or a tag on an
// unexported field; path names the field in errors. Struct and Decoded
// both read tags through it, so they agree on every field.
func fieldMode(f reflect.StructField, path string) (m mode, skip bool, err error) {
	tag, tagged := f.Tag.Lookup(TagName)
	if !tagged {
		return modeNone, false, nil
	}
	switch tag {
	case TagRich:
		m = modeRich
	case TagPlain:
		m = modeText
	case TagStrip:
		m = modeStrip
	case TagSkip:
		return modeNone, true, nil
	default:
		return modeNone, false, fmt.Errorf("%w: %s: unknown value %q (want %q, %q, %q or %q)",
			ErrBadTag, path, tag, TagRich, TagPlain, TagStrip, TagSkip)
	}
	if !f.IsExported() {
		return modeNone, false, fmt.Errorf("%w: %s: tag on an unexported field", ErrBadTag, path)
	}
	return m, false, nil
}

type mode uint8

const (
	modeNone mode = iota
	modeRich
	modeStrip // the Plain policy
	modeText  // tagged plain: checked to be text, left as it is
)

// opKind is what an op does with a value.
type opKind uint8

const (
	opString  opKind = iota + 1 // sanitize the string with op.mode
	opPointer                   // follow a non-nil pointer into op.elem
	opSeq                       // apply op.elem to each slice or array element
	opStruct                    // apply each op.fields to its field
)

// op is a node of the plan for a type: what to do with a value of it. A
// plan is immutable once stored in Sanitizer.plans. Recursive types give
// cyclic plans.
type op struct {
	kind   opKind
	mode   mode
	elem   *op
	fields []fieldOp
}

type fieldOp struct {
	index int
	op    *op
}

// planEntry is the cached outcome of planning a struct type.
type planEntry struct {
	op  *op // nil: nothing to sanitize
	err error
}

// plan returns the cached plan for struct type t, building it on first use.
func (s *Sanitizer) plan(t reflect.Type) (*op, error) {
	if e, ok := s.plans.Load(t); ok {
		pe := e.(*planEntry)
		return pe.op, pe.err
	}
	b := planner{structs: make(map[reflect.Type]*op)}
	o, err := b.build(t, modeNone, t.String())
	if err == nil {
		// Tags the JSON plan refuses (under a map's values) are refused
		// here too: Struct and Decoded accept the same types.
		_, err = s.jsonPlan(t)
	}
	if err == nil {
		o = b.prune(o)
	} else {
		o = nil
	}
	e, _ := s.plans.LoadOrStore(t, &planEntry{op: o, err: err})
	pe := e.(*planEntry)
	return pe.op, pe.err
}

// planner builds the plan for one top-level type.
type planner struct {
	structs map[reflect.Type]*op // struct plans, finished or being built
}

// build returns the op for a value of type t sanitized with m (modeNone:
// untagged), or nil when there is nothing to do. path names the field for
// errors.
func (b *planner) build(t reflect.Type, m mode, path string) (*op, error) {
	switch t.Kind() {
	case reflect.String:
		if m == modeNone || m == modeText {
			return nil, nil
		}
		return &op{kind: opString, mode: m}, nil
	case reflect.Pointer, reflect.Slice, reflect.Array:
		elem, err := b.build(t.Elem(), m, path)
		if err != nil || elem == nil {
			return nil, err
		}
		if t.Kind() == reflect.Pointer {
			return &op{kind: opPointer, elem: elem}, nil
		}
		return &op{kind: opSeq, elem: elem}, nil
	case reflect.Struct:
		if m != modeNone {
			return nil, fmt.Errorf("%w: %s: tag on %s, which is not a string type", ErrBadTag, path, t)
		}
		return b.buildStruct(t)
	default:
		if m != modeNone {
			return nil, fmt.Errorf("%w: %s: tag on %s, which is not a string type", ErrBadTag, path, t)
		}
		return nil, nil
	}
}

// buildStruct returns the op for struct type t, with a field op for every
// field that may need work; prune later removes those that lead to no
// string.
func (b *planner) buildStruct(t reflect.Type) (*op, error) {
	if o, ok := b.structs[t]; ok {
		// Finished, or being built (a recursive type): share it.
		return o, nil
	}
	o := &op{kind: opStruct}
	b.structs[t] = o
	for i := range t.NumField() {
		f := t.Field(i)
		path := t.String() + "." + f.Name
		m, skip, err := fieldMode(f, path)
		if err != nil {
			return nil, err
		}
		if skip {
			continue
		}
		if !f.IsExported() && !(f.Anonymous && f.Type.Kind() == reflect.Struct) {
			// Unexported fields cannot be set, except the promoted fields
			// of an embedded struct of unexported type (encoding/json fills
			// those too), so that one is followed.
			continue
		}
		fo, err := b.build(f.Type, m, path)
		if err != nil {
			return nil, err
		}
		if fo != nil {
			o.fields = append(o.fields, fieldOp{index: i, op: fo})
		}
	}
	return o, nil
}

// prune removes, from every struct op built, the fields that lead to no
// string to sanitize, and returns root, or nil if root has nothing to do.
// Liveness is a fixed point because plans of recursive types are cyclic.
func (b *planner) prune(root *op) *op {
	live := make(map[*op]bool)
	leadsToString := func(o *op) bool {
		for o.kind == opPointer || o.kind == opSeq {
			o = o.elem
		}
		return o.kind == opString || live[o]
	}
	for changed := true; changed; {
		changed = false
		for _, so := range b.structs {
			if live[so] {
				continue
			}
			for _, f := range so.fields {
				if leadsToString(f.op) {
					live[so] = true
					changed = true
					break
				}
			}
		}
	}
	for _, so := range b.structs {
		kept := so.fields[:0]
		for _, f := range so.fields {
			if leadsToString(f.op) {
				kept = append(kept, f)
			}
		}
		so.fields = kept
	}
	if root == nil || !leadsToString(root) {
		return nil
	}
	return root
}

// apply runs o on v, which is addressable.
func (s *Sanitizer) apply(o *op, v reflect.Value, depth int) error {
	if depth > MaxDepth {
		return ErrTooDeep
	}
	switch o.kind {
	case opString:
		p := s.plain
		if o.mode == modeRich {
			p = s.rich
		}
		if old := v.String(); old != "" {
			if clean := p.Sanitize(old); clean != old {
				v.SetString(clean)
			}
		}
	case opPointer:
		if !v.IsNil() {
			return s.apply(o.elem, v.Elem(), depth+1)
		}
	case opSeq:
		for i := range v.Len() {
			if err := s.apply(o.elem, v.Index(i), depth+1); err != nil {
				return err
			}
		}
	case opStruct:
		for _, f := range o.fields {
			if err := s.apply(f.op, v.Field(f.index), depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

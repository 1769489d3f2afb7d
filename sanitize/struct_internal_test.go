package sanitize

import (
	"reflect"
	"testing"
)

type cachedInput struct {
	Name string `sanitize:"strip"`
}

func TestPlanCached(t *testing.T) {
	s := New()
	typ := reflect.TypeFor[cachedInput]()
	if _, ok := s.plans.Load(typ); ok {
		t.Fatal("plan cached before first use")
	}
	if err := s.Struct(&cachedInput{Name: "<b>x</b>"}); err != nil {
		t.Fatal(err)
	}
	e, ok := s.plans.Load(typ)
	if !ok {
		t.Fatal("plan not cached after first use")
	}
	first := e.(*planEntry).op
	if err := s.Struct(&cachedInput{}); err != nil {
		t.Fatal(err)
	}
	e, _ = s.plans.Load(typ)
	if e.(*planEntry).op != first {
		t.Error("plan rebuilt on second use")
	}
	// Another Sanitizer has its own cache.
	if _, ok := New().plans.Load(typ); ok {
		t.Error("plan shared between Sanitizers")
	}
}

package sanitize_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/fortapi/fortapi/sanitize"
)

type mapComment struct {
	Text string `json:"text" sanitize:"rich"`
}

type mapLate struct {
	ByID  map[string]mapLate `json:"by_id"`
	Title string             `json:"title" sanitize:"rich"`
}

// TestTagsUnderMapRefused: sanitize tags reachable only through a map's
// values were silently not applied by Struct nor by Decoded (maps are not
// followed), so a body type map[string]Comment stored Comment.Text as
// sent. Such a type is now ErrBadTag, as a tag on a non-string field is:
// refused when it is first used (fortapi: at start-up), never ignored.
func TestTagsUnderMapRefused(t *testing.T) {
	t.Parallel()
	s := sanitize.New()
	for _, tc := range []struct {
		name string
		v    any
		bad  bool
	}{
		{"map of tagged structs", &struct {
			Comments map[string]mapComment `json:"comments"`
		}{Comments: map[string]mapComment{"a": {Text: "<img src=x onerror=alert(1)>"}}}, true},
		{"map of pointers to tagged structs", &struct {
			Comments map[string]*mapComment
		}{}, true},
		{"map of slices of tagged structs", &struct {
			Comments map[string][]mapComment
		}{}, true},
		{"recursive type, map before the tag", &mapLate{}, true},
		{"untagged map of strings", &struct {
			Meta  map[string]string
			Title string `sanitize:"rich"`
		}{}, false},
		{"map of untagged structs", &struct {
			Meta map[string]struct{ A string }
		}{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Struct(tc.v)
			if got := errors.Is(err, sanitize.ErrBadTag); got != tc.bad {
				t.Errorf("Struct: %v, want ErrBadTag %v", err, tc.bad)
			}
			typ := reflect.TypeOf(tc.v).Elem()
			_, err = s.Declares(typ)
			if got := errors.Is(err, sanitize.ErrBadTag); got != tc.bad {
				t.Errorf("Declares: %v, want ErrBadTag %v", err, tc.bad)
			}
			_, err = s.Decoded(typ, map[string]any{})
			if got := errors.Is(err, sanitize.ErrBadTag); got != tc.bad {
				t.Errorf("Decoded: %v, want ErrBadTag %v", err, tc.bad)
			}
		})
	}
}

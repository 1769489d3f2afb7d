package sanitize_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/fortapi/fortapi/sanitize"
)

type ItemInput struct {
	Name        string  `json:"name" sanitize:"strip"`
	Description string  `json:"description" sanitize:"rich"`
	Note        *string `json:"note,omitempty" sanitize:"strip"`
	SKU         string  `json:"sku"` // untagged: left alone
}

type Label string

type Owner struct {
	Display Label `sanitize:"strip"`
	Bio     string
}

type Meta struct {
	Source string `sanitize:"strip"`
}

type base struct {
	Title string `sanitize:"strip"`
}

type Embeds struct {
	base         // unexported type, promoted fields: followed
	*Meta        // exported pointer: followed
	Body  string `sanitize:"rich"`
}

type Order struct {
	Item     ItemInput
	Items    []ItemInput
	ItemPtrs []*ItemInput
	Owner    *Owner
	Tags     []string    `sanitize:"strip"`
	TagPtrs  []*string   `sanitize:"strip"`
	Fixed    [2]string   `sanitize:"rich"`
	Skipped  ItemInput   `sanitize:"-"`
	Named    []Label     `sanitize:"strip"`
	Counts   map[int]int // maps are not followed
	Meta                 // embedded
	private  ItemInput
}

type Node struct {
	Text     string `sanitize:"strip"`
	Children []*Node
	Next     *Node
}

type ListNoStrings struct {
	N    int
	Next *ListNoStrings
}

func ptr(s string) *string { return &s }

const (
	dirty      = `<b>Bob</b> &amp; <script>x</script>`
	cleanPlain = `Bob & `
	dirtyRich  = `<p onclick="x">Hi <a href="javascript:alert(1)">there</a></p>`
	cleanRich  = `<p>Hi there</p>`
)

func TestStruct(t *testing.T) {
	s := sanitize.New()

	t.Run("tags applied", func(t *testing.T) {
		in := ItemInput{Name: dirty, Description: dirtyRich, Note: ptr(dirty), SKU: dirty}
		if err := s.Struct(&in); err != nil {
			t.Fatal(err)
		}
		want := ItemInput{Name: cleanPlain, Description: cleanRich, SKU: dirty}
		if in.Name != want.Name || in.Description != want.Description || in.SKU != want.SKU {
			t.Errorf("got %+v, want %+v", in, want)
		}
		if in.Note == nil || *in.Note != cleanPlain {
			t.Errorf("Note = %v, want %q", in.Note, cleanPlain)
		}
	})

	t.Run("nil *string", func(t *testing.T) {
		in := ItemInput{Name: dirty}
		if err := s.Struct(&in); err != nil {
			t.Fatal(err)
		}
		if in.Note != nil {
			t.Errorf("Note = %q, want nil", *in.Note)
		}
	})

	t.Run("nested", func(t *testing.T) {
		o := Order{
			Item:     ItemInput{Name: dirty},
			Items:    []ItemInput{{Name: dirty}, {Description: dirtyRich}},
			ItemPtrs: []*ItemInput{nil, {Name: dirty, Note: ptr(dirty)}},
			Owner:    &Owner{Display: dirty, Bio: dirty},
			Tags:     []string{dirty, "ok"},
			TagPtrs:  []*string{nil, ptr(dirty)},
			Fixed:    [2]string{dirtyRich, "x"},
			Skipped:  ItemInput{Name: dirty},
			Named:    []Label{dirty},
			Meta:     Meta{Source: dirty},
			private:  ItemInput{Name: dirty},
		}
		if err := s.Struct(&o); err != nil {
			t.Fatal(err)
		}
		checks := []struct {
			name      string
			got, want string
		}{
			{"Item.Name", o.Item.Name, cleanPlain},
			{"Items[0].Name", o.Items[0].Name, cleanPlain},
			{"Items[1].Description", o.Items[1].Description, cleanRich},
			{"ItemPtrs[1].Name", o.ItemPtrs[1].Name, cleanPlain},
			{"ItemPtrs[1].Note", *o.ItemPtrs[1].Note, cleanPlain},
			{"Owner.Display", string(o.Owner.Display), cleanPlain},
			{"Owner.Bio (untagged)", o.Owner.Bio, dirty},
			{"Tags[0]", o.Tags[0], cleanPlain},
			{"Tags[1]", o.Tags[1], "ok"},
			{"TagPtrs[1]", *o.TagPtrs[1], cleanPlain},
			{"Fixed[0]", o.Fixed[0], cleanRich},
			{"Skipped.Name (sanitize:\"-\")", o.Skipped.Name, dirty},
			{"Named[0]", string(o.Named[0]), cleanPlain},
			{"Meta.Source (embedded)", o.Source, cleanPlain},
			{"private (unexported)", o.private.Name, dirty},
		}
		for _, c := range checks {
			if c.got != c.want {
				t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
			}
		}
		if o.ItemPtrs[0] != nil || o.TagPtrs[0] != nil {
			t.Error("nil pointers in slices changed")
		}
	})

	t.Run("embedded", func(t *testing.T) {
		e := Embeds{base: base{Title: dirty}, Meta: &Meta{Source: dirty}, Body: dirtyRich}
		if err := s.Struct(&e); err != nil {
			t.Fatal(err)
		}
		if e.Title != cleanPlain || e.Source != cleanPlain || e.Body != cleanRich {
			t.Errorf("got %q %q %q", e.Title, e.Source, e.Body)
		}
		e = Embeds{base: base{Title: dirty}}
		if err := s.Struct(&e); err != nil || e.Title != cleanPlain {
			t.Errorf("nil embedded pointer: err %v, Title %q", err, e.Title)
		}
	})

	t.Run("nil nested pointer", func(t *testing.T) {
		o := Order{Owner: nil}
		if err := s.Struct(&o); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("recursive type", func(t *testing.T) {
		n := &Node{Text: dirty, Children: []*Node{{Text: dirty, Next: &Node{Text: dirty}}}}
		if err := s.Struct(n); err != nil {
			t.Fatal(err)
		}
		if n.Text != cleanPlain || n.Children[0].Text != cleanPlain || n.Children[0].Next.Text != cleanPlain {
			t.Errorf("got %q %q %q", n.Text, n.Children[0].Text, n.Children[0].Next.Text)
		}
	})

	t.Run("pointer cycle", func(t *testing.T) {
		n := &Node{Text: dirty}
		n.Next = n
		if err := s.Struct(n); !errors.Is(err, sanitize.ErrTooDeep) {
			t.Errorf("err = %v, want ErrTooDeep", err)
		}
	})

	t.Run("long list without strings is not walked", func(t *testing.T) {
		var head *ListNoStrings
		for i := range 5000 {
			head = &ListNoStrings{N: i, Next: head}
		}
		if err := s.Struct(head); err != nil {
			t.Errorf("err = %v, want nil", err)
		}
	})

	t.Run("struct without tags", func(t *testing.T) {
		v := struct{ A, B string }{dirty, dirty}
		if err := s.Struct(&v); err != nil {
			t.Fatal(err)
		}
		if v.A != dirty || v.B != dirty {
			t.Errorf("untagged fields changed: %+v", v)
		}
	})
}

func TestStructErrors(t *testing.T) {
	s := sanitize.New()
	var nilItem *ItemInput
	n := 3
	tests := []struct {
		name string
		arg  any
		want error
	}{
		{"nil", nil, sanitize.ErrNotStructPointer},
		{"non-pointer struct", ItemInput{Name: dirty}, sanitize.ErrNotStructPointer},
		{"nil pointer", nilItem, sanitize.ErrNotStructPointer},
		{"pointer to int", &n, sanitize.ErrNotStructPointer},
		{"string", dirty, sanitize.ErrNotStructPointer},
		{"pointer to pointer", &nilItem, sanitize.ErrNotStructPointer},
		{"unknown tag", &struct {
			Name string `sanitize:"html"`
		}{}, sanitize.ErrBadTag},
		{"empty tag", &struct {
			Name string `sanitize:""`
		}{}, sanitize.ErrBadTag},
		{"tag with options", &struct {
			Name string `sanitize:"plain,omitempty"`
		}{}, sanitize.ErrBadTag},
		{"upper case tag", &struct {
			Name string `sanitize:"Rich"`
		}{}, sanitize.ErrBadTag},
		{"tag on int", &struct {
			N int `sanitize:"strip"`
		}{}, sanitize.ErrBadTag},
		{"tag on []byte", &struct {
			B []byte `sanitize:"strip"`
		}{}, sanitize.ErrBadTag},
		{"tag on struct", &struct {
			I ItemInput `sanitize:"rich"`
		}{}, sanitize.ErrBadTag},
		{"tag on map", &struct {
			M map[string]string `sanitize:"strip"`
		}{}, sanitize.ErrBadTag},
		{"tag on interface", &struct {
			A any `sanitize:"strip"`
		}{}, sanitize.ErrBadTag},
		{"tag on unexported", &struct {
			name string `sanitize:"strip"`
		}{}, sanitize.ErrBadTag},
		{"bad tag nested", &struct {
			Inner *struct {
				X string `sanitize:"bogus"`
			}
		}{}, sanitize.ErrBadTag},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Struct(tt.arg)
			if !errors.Is(err, tt.want) {
				t.Errorf("Struct(%T) error = %v, want %v", tt.arg, err, tt.want)
			}
		})
	}

	t.Run("bad tag changes nothing", func(t *testing.T) {
		v := struct {
			Name string `sanitize:"strip"`
			Bad  string `sanitize:"bogus"`
		}{Name: dirty, Bad: dirty}
		if err := s.Struct(&v); err == nil {
			t.Fatal("no error")
		}
		if v.Name != dirty || v.Bad != dirty {
			t.Errorf("fields changed despite the error: %+v", v)
		}
	})

	t.Run("error is cached and repeated", func(t *testing.T) {
		type bad struct {
			X string `sanitize:"nope"`
		}
		for range 3 {
			if err := s.Struct(&bad{}); !errors.Is(err, sanitize.ErrBadTag) {
				t.Fatalf("err = %v", err)
			}
		}
	})

	t.Run("zero Sanitizer", func(t *testing.T) {
		var zero sanitize.Sanitizer
		if err := zero.Struct(&ItemInput{}); !errors.Is(err, sanitize.ErrNotInitialized) {
			t.Errorf("err = %v, want ErrNotInitialized", err)
		}
	})
}

// TestStructConcurrent runs Struct on several types from many goroutines
// with a fresh Sanitizer, so plan building and caching race; run it with
// -race.
func TestStructConcurrent(t *testing.T) {
	s := sanitize.New()
	const goroutines, rounds = 16, 50
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range rounds {
				in := ItemInput{Name: fmt.Sprintf("<b>n%d</b>", i), Description: dirtyRich, Note: ptr(dirty)}
				o := Order{Items: []ItemInput{in}, Owner: &Owner{Display: dirty}}
				n := &Node{Text: dirty, Children: []*Node{{Text: dirty}}}
				var err error
				switch (g + i) % 3 {
				case 0:
					err = s.Struct(&in)
					if err == nil && (in.Name != fmt.Sprintf("n%d", i) || in.Description != cleanRich || *in.Note != cleanPlain) {
						err = fmt.Errorf("ItemInput: %+v", in)
					}
				case 1:
					err = s.Struct(&o)
					if err == nil && (o.Items[0].Description != cleanRich || o.Owner.Display != cleanPlain) {
						err = fmt.Errorf("Order: %+v", o)
					}
				case 2:
					err = s.Struct(n)
					if err == nil && n.Children[0].Text != cleanPlain {
						err = fmt.Errorf("Node: %+v", n)
					}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestPoliciesConcurrent(t *testing.T) {
	s := sanitize.New()
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if got := s.Rich().Sanitize(dirtyRich); got != cleanRich {
					errs <- "Rich: " + got
					return
				}
				if got := s.Plain().Sanitize(dirty); got != cleanPlain {
					errs <- "Plain: " + got
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

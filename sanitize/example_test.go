package sanitize_test

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/fortapi/fortapi/sanitize"
)

func Example() {
	// Build once, at start-up, and share.
	s := sanitize.New()

	type ItemInput struct {
		Title       string `json:"title" sanitize:"plain"` // text, kept as sent
		Name        string `json:"name" sanitize:"strip"`  // HTML turned into text
		Description string `json:"description" sanitize:"rich"`
	}
	in := ItemInput{
		Title: "Widget <i>deluxe</i>",
		Name:  "<b>Tom</b> &amp; Jerry<script>alert(1)</script>",
		Description: `<p onclick="steal()">See <a href="https://example.com/">this</a>` +
			` and <a href="javascript:alert(1)">that</a><img src=x onerror=alert(1)>`,
	}
	if err := s.Struct(&in); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(in.Title)       // text: escape it on output
	fmt.Println(in.Name)        // text: escape it on output
	fmt.Println(in.Description) // HTML: insert it as is
	// Output:
	// Widget <i>deluxe</i>
	// Tom & Jerry
	// <p>See <a href="https://example.com/" rel="nofollow noopener noreferrer">this</a> and that</p>
}

func ExamplePolicy_Sanitize() {
	plain := sanitize.Plain()
	fmt.Printf("%q\n", plain.Sanitize("a &lt; b &amp;&amp; <b>c</b>"))
	fmt.Printf("%q\n", plain.Sanitize("&lt;script&gt;alert(1)&lt;/script&gt;Bob"))

	rich := sanitize.Rich()
	fmt.Println(rich.Sanitize(`<b>bold<a href="//evil.example/">link`))
	// Output:
	// "a < b && c"
	// "Bob"
	// <b>boldlink</b>
}

// Decoded sanitizes a JSON body decoded into an any, before it is
// validated and decoded into its struct: fortapi runs it for every
// request body type with sanitize tags, so a length check sees the value
// that is stored.
func ExampleSanitizer_Decoded() {
	s := sanitize.New()
	type NoteInput struct {
		Title string `json:"title" minLength:"1" sanitize:"rich"`
		Name  string `json:"name" sanitize:"plain"`
	}
	var body any
	_ = json.Unmarshal([]byte(`{"title":"<script>x</script>","name":"a <b> c"}`), &body)
	body, err := s.Decoded(reflect.TypeFor[NoteInput](), body)
	fmt.Println(err)
	out, _ := json.Marshal(body)
	fmt.Println(string(out)) // the empty title now fails minLength
	// Output:
	// <nil>
	// {"name":"a \u003cb\u003e c","title":""}
}

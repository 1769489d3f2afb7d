package sanitize_test

import (
	"fmt"

	"github.com/fortapi/fortapi/sanitize"
)

func Example() {
	// Build once, at start-up, and share.
	s := sanitize.New()

	type ItemInput struct {
		Name        string `json:"name" sanitize:"plain"`
		Description string `json:"description" sanitize:"rich"`
	}
	in := ItemInput{
		Name: "<b>Tom</b> &amp; Jerry<script>alert(1)</script>",
		Description: `<p onclick="steal()">See <a href="https://example.com/">this</a>` +
			` and <a href="javascript:alert(1)">that</a><img src=x onerror=alert(1)>`,
	}
	if err := s.Struct(&in); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(in.Name)        // text: escape it on output
	fmt.Println(in.Description) // HTML: insert it as is
	// Output:
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

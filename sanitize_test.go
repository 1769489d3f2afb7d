package fortapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/sanitize"
)

type noteBody struct {
	Title   string   `json:"title" minLength:"1" maxLength:"40" sanitize:"rich"`
	Name    string   `json:"name,omitempty" maxLength:"40" sanitize:"plain"`
	Summary string   `json:"summary,omitempty" sanitize:"strip"`
	Tags    []tagRef `json:"tags,omitempty" maxItems:"3"`
	Count   int64    `json:"count,omitempty"`
}

type tagRef struct {
	Label string `json:"label" minLength:"1" sanitize:"rich"`
}

type noteIn struct{ Body noteBody }

type noteOut struct{ Body noteBody }

// sanitizeAPI serves POST /notes, echoing the body the handler got; got
// keeps the last one.
func sanitizeAPI(t testing.TB) (http.Handler, func() (noteBody, bool)) {
	t.Helper()
	api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler)})
	var mu sync.Mutex
	var last *noteBody
	huma.Register(api, huma.Operation{OperationID: "create", Method: http.MethodPost, Path: "/notes", Security: fortapi.Public()},
		func(ctx context.Context, in *noteIn) (*noteOut, error) {
			mu.Lock()
			b := in.Body
			last = &b
			mu.Unlock()
			return &noteOut{Body: in.Body}, nil
		})
	h, err := api.Handler()
	if err != nil {
		t.Fatal(err)
	}
	return h, func() (noteBody, bool) {
		mu.Lock()
		defer mu.Unlock()
		if last == nil {
			return noteBody{}, false
		}
		b := *last
		last = nil
		return b, true
	}
}

func postJSON(h http.Handler, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/notes", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// TestSanitizeBeforeValidate: sanitize tags run after the body is decoded
// and before validation, so a value that is nothing but script cannot pass
// minLength and reach the handler empty; plain fields arrive exactly as
// sent; every spelling of a member is sanitized; numbers keep their value.
func TestSanitizeBeforeValidate(t *testing.T) {
	t.Parallel()
	h, got := sanitizeAPI(t)
	cases := []struct {
		name   string
		body   string
		status int
		want   noteBody // when status is 200
	}{
		{"script only is empty, fails minLength", `{"title":"<script>x</script>"}`, 422, noteBody{}},
		{"formatting kept", `{"title":"<b>bold</b> move"}`, 200, noteBody{Title: "<b>bold</b> move"}},
		{"handler removed", `{"title":"<i onmouseover=alert(1)>x</i>"}`, 200, noteBody{Title: "<i>x</i>"}},
		{"plain text kept as sent", `{"title":"t","name":"Widget <i>deluxe</i> & co"}`, 200, noteBody{Title: "t", Name: "Widget <i>deluxe</i> & co"}},
		{"strip removes tags", `{"title":"t","summary":"a <b>b</b> &amp; c"}`, 200, noteBody{Title: "t", Summary: "a b & c"}},
		{"nested array sanitized then validated", `{"title":"t","tags":[{"label":"<script>x</script>"}]}`, 422, noteBody{}},
		{"nested array kept", `{"title":"t","tags":[{"label":"<em>a</em><img src=x onerror=alert(1)>"}]}`, 200,
			noteBody{Title: "t", Tags: []tagRef{{Label: "<em>a</em>"}}}},
		{"length checked after sanitizing", `{"title":"<script>` + strings.Repeat("x", 100) + `</script>ok"}`, 200, noteBody{Title: "ok"}},
		{"other spelling refused", `{"TITLE":"<script>x</script>","title":"a"}`, 422, noteBody{}},
		{"big integer exact", `{"title":"t","count":9007199254740993}`, 200, noteBody{Title: "t", Count: 9007199254740993}},
		// Sanitizing changed a string: the body is re-encoded, its numbers
		// as sent (not through float64).
		{"big integer exact when sanitized", `{"title":"<b>t</b><script>x</script>","count":9007199254740993}`, 200, noteBody{Title: "<b>t</b>", Count: 9007199254740993}},
		{"sanitized member in an escaped spelling", `{"title":"\u003cscript\u003ex\u003c/script\u003eok"}`, 200, noteBody{Title: "ok"}},
		{"duplicate member refused", `{"title":"a","title":"<script>x</script>"}`, 400, noteBody{}},
		{"not JSON", `{"title":`, 400, noteBody{}},
		// The sanitizer passes a body that is not one JSON value on as
		// sent: huma must refuse it, whatever follows the value.
		{"a second value after the first", `{"title":"<script>x</script>ok"} {"title":"<script>y</script>"}`, 400, noteBody{}},
		{"garbage after the value", `{"title":"<script>x</script>ok"}x`, 400, noteBody{}},
		{"a comma after the value", `{"title":"<script>x</script>ok"},`, 400, noteBody{}},
		{"a NUL after the value", "{\"title\":\"<script>x</script>ok\"}\x00", 400, noteBody{}},
		{"whitespace around the value is JSON", " \t\r\n{\"title\":\"<script>x</script>ok\"} \t\r\n", 200, noteBody{Title: "ok"}},
		{"a non-JSON space after the value", "{\"title\":\"<script>x</script>ok\"}\u00a0", 400, noteBody{}},
		{"over the body limit", `{"title":"` + strings.Repeat("<b>x</b>", 1<<17) + `"}`, 413, noteBody{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := postJSON(h, tc.body)
			b, called := got()
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status != 200 {
				if called {
					t.Errorf("handler called with %+v", b)
				}
				return
			}
			if !called || b.Title != tc.want.Title || b.Name != tc.want.Name || b.Summary != tc.want.Summary ||
				b.Count != tc.want.Count || len(b.Tags) != len(tc.want.Tags) {
				t.Fatalf("handler got %+v, want %+v", b, tc.want)
			}
			for i := range b.Tags {
				if b.Tags[i] != tc.want.Tags[i] {
					t.Errorf("tag %d = %q, want %q", i, b.Tags[i], tc.want.Tags[i])
				}
			}
			// The JSON answer returns plain text as stored, as JSON that no
			// browser renders: application/json and nosniff.
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("answer Content-Type %q, nosniff %q", ct, rec.Header().Get("X-Content-Type-Options"))
			}
			var echo noteBody
			if err := json.Unmarshal(rec.Body.Bytes(), &echo); err != nil || echo.Name != tc.want.Name {
				t.Errorf("answer %s (%v), want name %q", rec.Body, err, tc.want.Name)
			}
		})
	}
}

// TestSanitizeXSSCorpus sends every vector of testdata/xss-vectors.txt
// as a rich field and as a plain field: the rich value the handler gets is
// the Rich policy's output and holds no element, attribute or URL outside
// its allowlist; the plain one is exactly what was sent.
func TestSanitizeXSSCorpus(t *testing.T) {
	t.Parallel()
	h, got := sanitizeAPI(t)
	f, err := os.Open("testdata/xss-vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rich := sanitize.Rich()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	n := 0
	for line := 1; sc.Scan(); line++ {
		v := sc.Text()
		if strings.TrimSpace(v) == "" || strings.HasPrefix(v, "#") {
			continue
		}
		n++
		title, _ := json.Marshal(v + " ok")
		name, _ := json.Marshal(v)
		body := `{"title":` + string(title) + `,"name":` + string(name) + `}`
		rec := postJSON(h, body)
		b, called := got()
		if len([]rune(v)) > 40 { // name's maxLength: the plain value is checked as sent
			if rec.Code != 422 || called {
				t.Errorf("line %d: status %d, handler called %v, want 422 for a %d-character plain name", line, rec.Code, called, len([]rune(v)))
			}
			continue
		}
		if rec.Code != 200 && rec.Code != 422 {
			t.Errorf("line %d: status %d: %s", line, rec.Code, rec.Body)
			continue
		}
		if rec.Code == 422 {
			if called {
				t.Errorf("line %d: 422 but the handler ran", line)
			}
			continue // the sanitized title is over 40 characters
		}
		if want := rich.Sanitize(v + " ok"); b.Title != want {
			t.Errorf("line %d: title %q, want the Rich policy's %q", line, b.Title, want)
		}
		if why := unsafeHTML(b.Title); why != "" {
			t.Errorf("line %d: stored title %q: %s", line, b.Title, why)
		}
		if b.Name != v {
			t.Errorf("line %d: plain name %q, want it as sent %q", line, b.Name, v)
		}
	}
	if n < 400 {
		t.Fatalf("only %d vectors read", n)
	}
}

// unsafeHTML is an oracle independent of the sanitizer: it parses s as a
// browser would and names the first element, attribute or link that the
// Rich allowlist does not allow.
func unsafeHTML(s string) string {
	allowed := map[string]bool{"p": true, "br": true, "hr": true, "b": true, "strong": true, "i": true, "em": true, "u": true,
		"s": true, "del": true, "ins": true, "sub": true, "sup": true, "mark": true, "small": true, "h1": true, "h2": true,
		"h3": true, "h4": true, "h5": true, "h6": true, "ul": true, "ol": true, "li": true, "blockquote": true, "q": true,
		"pre": true, "code": true, "a": true}
	ctx := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	nodes, err := html.ParseFragment(strings.NewReader(s), ctx)
	if err != nil {
		return err.Error()
	}
	var walk func(n *html.Node) string
	walk = func(n *html.Node) string {
		if n.Type == html.ElementNode {
			if !allowed[n.Data] {
				return "element " + n.Data
			}
			for _, a := range n.Attr {
				switch {
				case n.Data == "a" && a.Key == "rel":
				case n.Data == "a" && a.Key == "href":
					u, err := url.Parse(a.Val)
					if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "mailto") {
						return "link " + a.Val
					}
				default:
					return "attribute " + a.Key + " on " + n.Data
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if why := walk(c); why != "" {
				return why
			}
		}
		return ""
	}
	for _, n := range nodes {
		if why := walk(n); why != "" {
			return why
		}
	}
	return ""
}

// TestSanitizeBadTagRefused: a misspelt tag makes Handler fail, naming
// the operation.
func TestSanitizeBadTagRefused(t *testing.T) {
	t.Parallel()
	type bad struct {
		Body struct {
			Title string `json:"title" sanitize:"html"`
		}
	}
	api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler)})
	huma.Register(api, huma.Operation{OperationID: "bad", Method: http.MethodPost, Path: "/bad", Security: fortapi.Public()},
		func(ctx context.Context, in *bad) (*struct{}, error) { return nil, nil })
	if _, err := api.Handler(); err == nil || !strings.Contains(err.Error(), "bad (POST /bad) declares a bad sanitize tag") {
		t.Fatalf("Handler: %v", err)
	}
}

type plainNoteBody struct {
	Title string `json:"title" minLength:"1" maxLength:"40"`
	Name  string `json:"name,omitempty" maxLength:"40"`
}

// BenchmarkSanitizedBody: the cost sanitize tags add to a request (the
// body decoded, sanitized and re-encoded before huma validates it),
// against the same body on an operation without tags.
func BenchmarkSanitizedBody(b *testing.B) {
	tagged, _ := sanitizeAPI(b)
	api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler)})
	huma.Register(api, huma.Operation{OperationID: "create", Method: http.MethodPost, Path: "/notes", Security: fortapi.Public()},
		func(ctx context.Context, in *struct{ Body plainNoteBody }) (*struct{ Body plainNoteBody }, error) {
			return &struct{ Body plainNoteBody }{Body: in.Body}, nil
		})
	untagged, err := api.Handler()
	if err != nil {
		b.Fatal(err)
	}
	body := `{"title":"Hand-made <b>oak</b> table","name":"Widget <i>deluxe</i> & co"}`
	for _, c := range []struct {
		name string
		h    http.Handler
	}{{"untagged", untagged}, {"tagged", tagged}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if rec := postJSON(c.h, body); rec.Code != 200 {
					b.Fatal(rec.Code, rec.Body)
				}
			}
		})
	}
}

// failingBody returns its bytes, then err.
type failingBody struct {
	data []byte
	err  error
}

func (f *failingBody) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, f.err
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

// TestSanitizedBodyReadErrors: a body that cannot be read is answered for
// what it is on an operation with sanitize tags too (400, not 500), and
// the handler never runs.
func TestSanitizedBodyReadErrors(t *testing.T) {
	t.Parallel()
	h, got := sanitizeAPI(t)
	req := httptest.NewRequest(http.MethodPost, "/notes", &failingBody{data: []byte(`{"title":"<b>x`), err: io.ErrUnexpectedEOF})
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if _, called := got(); rec.Code != http.StatusBadRequest || called || !strings.Contains(rec.Body.String(), "ended before its declared length") {
		t.Errorf("status %d, handler called %v: %s", rec.Code, called, rec.Body)
	}
}

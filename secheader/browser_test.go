package secheader

import (
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fortapi/fortapi/internal/browsertest"
)

// markJS defines mark(name), which appends <p class="mark">name</p>: the
// tests look for ">name</p>", which no script source contains.
const markJS = `window.mark = function (t) {
  var p = document.createElement('p'); p.className = 'mark'; p.textContent = t;
  document.getElementById('out').appendChild(p);
};`

// plusSlash yields bytes whose base64 is "+/+/...".
type plusSlash struct{}

func (plusSlash) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = []byte{0xfb, 0xff, 0xbf}[i%3]
	}
	return len(b), nil
}

func hasMark(dom, name string) bool { return strings.Contains(dom, ">"+name+"</p>") }

// TestBrowserEnforcesHTMLPolicy loads a page served with Headers.HTML in
// Chromium: the page's nonced scripts and styles, and what they load,
// work; injected scripts, event handlers, styles and style attributes do
// not.
func TestBrowserEnforcesHTMLPolicy(t *testing.T) {
	bin := browsertest.Require(t)
	// A nonce of '+' and '/' only, which html/template escapes in
	// attributes (&#43;): the browser must still match it.
	h := mustNew(t, Options{Rand: plusSlash{}})
	mux := http.NewServeMux()
	js := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = io.WriteString(w, body)
		}
	}
	mux.HandleFunc("/app.js", js(`mark('external-ran');
var s = document.createElement('script'); s.src = '/dynamic.js'; document.body.appendChild(s);`))
	mux.HandleFunc("/dynamic.js", js(`mark('dynamic-ran');`))
	mux.HandleFunc("/evil.js", js(`mark('injected-src-ran');`))
	page := template.Must(template.New("page").Parse(strings.ReplaceAll(`<!doctype html><html><head>
<style nonce="{{.}}">#a { color: rgb(1, 2, 3) }</style>
<style>#b { color: rgb(4, 5, 6) }</style>
</head><body>
<div id="out"></div>
<p id="a">a</p><p id="b">b</p><p id="c" style="color: rgb(7, 8, 9)">c</p>
<script nonce="{{.}}">MARKJS
mark('inline-nonce-ran');
document.addEventListener('DOMContentLoaded', function () {
  ['a', 'b', 'c'].forEach(function (id) {
    mark('color-' + id + ':' + getComputedStyle(document.getElementById(id)).color);
  });
});
</script>
<script nonce="{{.}}" src="/app.js"></script>
<!-- what an injection could add: -->
<script>mark('injected-ran')</script>
<script nonce="AAAAAAAAAAAAAAAAAAAAAAAA">mark('guessed-nonce-ran')</script>
<script src="/evil.js"></script>
<img src="/missing.png" onerror="mark('handler-ran')">
<a id="js" href="javascript:mark('javascript-url-ran')">x</a>
<script nonce="{{.}}">document.getElementById('js').click();</script>
</body></html>`, "MARKJS", markJS)))
	var mu sync.Mutex
	var rendered strings.Builder
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) {
		nonce, err := h.HTML(w)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		mu.Lock()
		defer mu.Unlock()
		if err := page.Execute(io.MultiWriter(w, &rendered), nonce); err != nil {
			t.Error(err)
		}
	})
	srv := httptest.NewServer(h.Handler(mux))
	defer srv.Close()

	dom, log := browsertest.DumpDOM(t, bin, srv.URL+"/", browsertest.Options{BudgetMS: 5000})
	mu.Lock()
	if !strings.Contains(rendered.String(), `nonce="&#43;/&#43;/`) {
		t.Errorf("the template did not escape the nonce; the test proves less than it claims:\n%s", rendered.String())
	}
	mu.Unlock()
	for _, m := range []string{"inline-nonce-ran", "external-ran", "dynamic-ran", "color-a:rgb(1, 2, 3)"} {
		if !hasMark(dom, m) {
			t.Errorf("%s missing: the page's own nonced content must work", m)
		}
	}
	for _, m := range []string{"injected-ran", "guessed-nonce-ran", "injected-src-ran", "handler-ran", "javascript-url-ran", "color-b:rgb(4, 5, 6)", "color-c:rgb(7, 8, 9)"} {
		if hasMark(dom, m) {
			t.Errorf("%s: injected content took effect", m)
		}
	}
	for _, m := range []string{"color-b:", "color-c:"} {
		if !strings.Contains(dom, ">"+m) {
			t.Errorf("no %s mark: the style check did not run", m)
		}
	}
	if t.Failed() {
		t.Logf("DOM:\n%s\nlog:\n%s", dom, log)
	}
}

// TestBrowserCORS lets Chromium, on one origin, call APIs on others.
func TestBrowserCORS(t *testing.T) {
	bin := browsertest.Require(t)

	var mu sync.Mutex
	var seen []string // requests that reached an API handler
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.Host+" "+r.Header.Get("X-Evil"))
		mu.Unlock()
		w.Header().Set("X-Request-Id", "rid-1")
		w.Header().Set("X-Secret-Header", "hidden")
		_, _ = io.WriteString(w, "secret-"+r.Method)
	})
	page := httptest.NewUnstartedServer(nil)
	pageOrigin := "http://" + page.Listener.Addr().String()

	h := mustNew(t, Options{})
	listed := httptest.NewServer(h.Handler(mustCORS(t, CORSOptions{AllowedOrigins: []string{pageOrigin}, AllowCredentials: true}).Handler(api)))
	defer listed.Close()
	// Same port on another host name: a different origin.
	lookAlike := httptest.NewServer(h.Handler(mustCORS(t, CORSOptions{AllowedOrigins: []string{strings.Replace(pageOrigin, "127.0.0.1", "localhost", 1)}}).Handler(api)))
	defer lookAlike.Close()

	page.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><div id="out"></div><script>%s
function probe(name, url, init) {
  return fetch(url, init).then(function (r) {
    return r.text().then(function (body) {
      mark(name + ':' + r.status + ':' + body + ':' + r.headers.get('X-Request-Id') + ':' + r.headers.get('X-Secret-Header'));
    });
  }, function () { mark(name + ':blocked'); });
}
var L = %q, X = %q;
probe('get', L + '/data', {credentials: 'include'})
.then(function () { return probe('put', L + '/data', {method: 'PUT', credentials: 'include', headers: {'Content-Type': 'application/json', 'X-CSRF-Token': 't'}, body: '{}'}); })
.then(function () { return probe('bad-header', L + '/data', {method: 'PUT', headers: {'X-Evil': '1'}}); })
.then(function () { return probe('bad-method', L + '/data', {method: 'PROPFIND'}); })
.then(function () { return probe('unlisted', X + '/data', {}); })
.then(function () { mark('done'); });
</script>`, markJS, listed.URL, lookAlike.URL)
	})
	page.Start()
	defer page.Close()

	dom, log := browsertest.DumpDOM(t, bin, page.URL+"/", browsertest.Options{BudgetMS: 5000})
	for _, m := range []string{
		"get:200:secret-GET:rid-1:null", // exposed header readable, others not
		"put:200:secret-PUT:rid-1:null", // preflighted, credentialed
		"bad-header:blocked",
		"bad-method:blocked",
		"unlisted:blocked",
		"done",
	} {
		if !hasMark(dom, m) {
			t.Errorf("mark %q missing", m)
		}
	}
	mu.Lock()
	for _, s := range seen {
		if strings.HasSuffix(s, " 1") || strings.HasPrefix(s, "PROPFIND") {
			t.Errorf("a request whose preflight failed reached the handler: %q", s)
		}
	}
	mu.Unlock()
	if t.Failed() {
		t.Logf("DOM:\n%s\nlog:\n%s", dom, log)
	}
}

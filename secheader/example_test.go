package secheader_test

import (
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/fortapi/fortapi/secheader"
)

func ExampleHeaders_Handler() {
	h, err := secheader.New(secheader.Options{})
	if err != nil {
		panic(err)
	}
	api := h.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300") // overruled: the request has credentials
		_, _ = io.WriteString(w, `{"id":1}`)
	}))

	r := httptest.NewRequest("GET", "https://api.example.com/items/1", nil) // over TLS
	r.Header.Set("Authorization", "Bearer abc")
	w := httptest.NewRecorder()
	api.ServeHTTP(w, r)
	for _, k := range []string{"Strict-Transport-Security", "Content-Security-Policy", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy", "Cache-Control"} {
		fmt.Printf("%s: %s\n", k, w.Header().Get(k))
	}
	// Output:
	// Strict-Transport-Security: max-age=63072000; includeSubDomains
	// Content-Security-Policy: default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'
	// X-Frame-Options: DENY
	// X-Content-Type-Options: nosniff
	// Referrer-Policy: no-referrer
	// Cache-Control: no-store
}

// zeros is a stand-in randomness source so that the output is fixed. Use
// the default (crypto/rand) in production.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) { clear(b); return len(b), nil }

func ExampleHeaders_HTML() {
	h, err := secheader.New(secheader.Options{Rand: zeros{}})
	if err != nil {
		panic(err)
	}
	page := template.Must(template.New("page").Parse(
		`<script nonce="{{.Nonce}}" src="/app.js"></script><p>Hello, {{.Name}}</p>`))

	handler := h.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		nonce, err := h.HTML(w)
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = page.Execute(w, struct{ Nonce, Name string }{nonce, "<script>alert(1)</script>"})
	}))

	w := httptest.NewRecorder()
	handler.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	for d := range strings.SplitSeq(w.Header().Get("Content-Security-Policy"), "; ") {
		fmt.Println(d)
	}
	fmt.Println(w.Body.String())
	// Output:
	// default-src 'self'
	// script-src 'nonce-AAAAAAAAAAAAAAAAAAAAAAAA' 'strict-dynamic'
	// style-src 'self' 'nonce-AAAAAAAAAAAAAAAAAAAAAAAA'
	// img-src 'self' data:
	// object-src 'none'
	// base-uri 'none'
	// form-action 'self'
	// frame-ancestors 'none'
	// <script nonce="AAAAAAAAAAAAAAAAAAAAAAAA" src="/app.js"></script><p>Hello, &lt;script&gt;alert(1)&lt;/script&gt;</p>
}

func ExampleCORS_Handler() {
	c, err := secheader.NewCORS(secheader.CORSOptions{
		AllowedOrigins:   []string{"https://app.example.com"},
		AllowCredentials: true,
	})
	if err != nil {
		panic(err)
	}
	api := c.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"id":1}`)
	}))

	show := func(r *http.Request) {
		w := httptest.NewRecorder()
		api.ServeHTTP(w, r)
		fmt.Println(w.Code, r.Header.Get("Origin"))
		for _, k := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Credentials", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age", "Vary"} {
			if v := w.Header().Get(k); v != "" {
				fmt.Printf("  %s: %s\n", k, v)
			}
		}
	}

	// A preflight from the allowed origin.
	r := httptest.NewRequest("OPTIONS", "/items/1", nil)
	r.Header.Set("Origin", "https://app.example.com")
	r.Header.Set("Access-Control-Request-Method", "PUT")
	r.Header.Set("Access-Control-Request-Headers", "content-type,authorization")
	show(r)

	// The actual request that follows.
	r = httptest.NewRequest("PUT", "/items/1", nil)
	r.Header.Set("Origin", "https://app.example.com")
	show(r)

	// A look-alike origin: no CORS headers, the browser hides the answer.
	r = httptest.NewRequest("GET", "/items/1", nil)
	r.Header.Set("Origin", "https://app.example.com.evil.net")
	show(r)
	// Output:
	// 204 https://app.example.com
	//   Access-Control-Allow-Origin: https://app.example.com
	//   Access-Control-Allow-Credentials: true
	//   Access-Control-Allow-Methods: GET, HEAD, POST, PUT, PATCH, DELETE
	//   Access-Control-Allow-Headers: Authorization, Content-Type
	//   Access-Control-Max-Age: 600
	//   Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers
	// 200 https://app.example.com
	//   Access-Control-Allow-Origin: https://app.example.com
	//   Access-Control-Allow-Credentials: true
	//   Vary: Origin
	// 200 https://app.example.com.evil.net
	//   Vary: Origin
}

func ExampleNewCORS() {
	for _, o := range []secheader.CORSOptions{
		{AllowedOrigins: []string{"*"}, AllowCredentials: true},
		{AllowedOrigins: []string{"null"}},
		{AllowedOrigins: []string{"https://*.example.com"}},
		{AllowedOrigins: []string{"https://app.example.com/"}},
		{AllowedOrigins: []string{"http://app.example.com"}, AllowCredentials: true},
	} {
		_, err := secheader.NewCORS(o)
		fmt.Println(err)
	}
	// Output:
	// secheader: CORS origin "*" with AllowCredentials: browsers refuse it, and reflecting the Origin instead would hand every site your users' credentials; list the origins
	// secheader: CORS origin "null": "null" is the origin of sandboxed frames, data: URLs, file: pages and redirects, which anyone can produce; it is never allowed
	// secheader: CORS origin "https://*.example.com": wildcards are not supported: list every origin ("*" alone allows any origin, without credentials)
	// secheader: CORS origin "https://app.example.com/": has a path, query, fragment, user info or backslash: an origin is only scheme://host[:port], without a trailing "/"
	// secheader: CORS origin "http://app.example.com": plain http with AllowCredentials lets anyone on the network path read credentialed answers; use https or set AllowInsecureOrigins
}

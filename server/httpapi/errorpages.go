package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"github.com/fortapi/fortapi/internal/accept"
	"html/template"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/secheader"
)

// maxProblemBytes bounds the problem document an HTML error page is made
// from; a larger one is summarized by its status alone.
const maxProblemBytes = 64 << 10

// HTMLErrors wraps h, the API's handler, so that a browser gets error
// pages it can read: a request whose Accept header prefers text/html (or
// XHTML) to JSON, as a browser's navigation does, and that is answered
// with an application/problem+json error (404 for a missing page, 405,
// 401, 403, 429, 5xx...) gets an HTML page instead, with the same status
// code and headers (Allow, Retry-After, WWW-Authenticate, X-Request-Id),
// the problem's title, detail and request id, escaped, under the strict
// HTML Content-Security-Policy of api's security headers.
//
// API clients are not affected: a request that names no text/html, names
// it only through a wildcard (*/*), or likes JSON as much (ties go to
// JSON) keeps the problem+json answer, byte for byte. Successful answers
// and errors that are not problem+json (the token endpoint's RFC 6749
// errors, the CSRF check's own HTML page) pass through untouched.
func HTMLErrors(api *fortapi.API, h http.Handler) http.Handler {
	return &htmlErrors{next: h, headers: api.Headers(), tmpl: parsePages()}
}

// parsePages parses the page templates.
func parsePages() *template.Template {
	funcs := template.FuncMap{"deref": func(f *float64) float64 { return *f }}
	return template.Must(template.New("pages").Funcs(funcs).ParseFS(pageFiles, "pages/*.html"))
}

type htmlErrors struct {
	next    http.Handler
	headers *secheader.Headers
	tmpl    *template.Template
}

func (e *htmlErrors) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !accept.PrefersHTML(r) {
		e.next.ServeHTTP(w, r)
		return
	}
	ew := &errorWriter{ResponseWriter: w}
	e.next.ServeHTTP(ew, r)
	if ew.problem {
		e.render(w, r, ew.status, ew.body.Bytes(), ew.overflow)
	}
}

// problemDoc is what an error page shows of a problem document.
type problemDoc struct {
	Title    string `json:"title"`
	Detail   string `json:"detail"`
	Instance string `json:"instance"`
	Errors   []struct {
		Message  string `json:"message"`
		Location string `json:"location"`
	} `json:"errors"`
}

func (e *htmlErrors) render(w http.ResponseWriter, r *http.Request, status int, body []byte, overflow bool) {
	var p problemDoc
	if overflow || json.Unmarshal(body, &p) != nil {
		p = problemDoc{}
	}
	data := pageData{Title: strconv.Itoa(status) + " " + http.StatusText(status), Status: status, Detail: p.Detail,
		RequestID: strings.TrimPrefix(p.Instance, "urn:fortapi:request:")}
	for _, fe := range p.Errors {
		msg := fe.Message
		if fe.Location != "" {
			msg = fe.Location + ": " + msg
		}
		data.Problems = append(data.Problems, msg)
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Set("Content-Type", htmlType)
	h.Set("Cache-Control", "no-store")
	var b bytes.Buffer
	nonce, err := e.headers.HTML(w)
	if err == nil {
		data.Nonce = nonce
		err = e.tmpl.ExecuteTemplate(&b, "error.html", data)
	}
	if err != nil {
		// Never a half page: the problem document as it was.
		h.Set("Content-Type", "application/problem+json")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		b.Reset()
		b.Write(body)
	}
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b.Bytes())
	}
}

// errorWriter passes an answer through unless it is a problem+json error,
// which it keeps for the HTML page.
type errorWriter struct {
	http.ResponseWriter
	wrote    bool // the status is decided
	problem  bool
	status   int
	body     bytes.Buffer
	overflow bool
}

func (w *errorWriter) WriteHeader(code int) {
	if w.wrote {
		if !w.problem {
			w.ResponseWriter.WriteHeader(code)
		}
		return
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code) // 1xx informational: not final
		return
	}
	w.wrote = true
	if code >= 400 && isProblem(w.Header().Get("Content-Type")) {
		w.problem, w.status = true, code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *errorWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if !w.problem {
		return w.ResponseWriter.Write(b)
	}
	if w.body.Len()+len(b) > maxProblemBytes {
		w.overflow = true
	} else {
		w.body.Write(b)
	}
	return len(b), nil
}

func (w *errorWriter) Flush() {
	if w.problem {
		return
	}
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *errorWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.problem {
		return nil, nil, errors.New("httpapi: hijacking an error answer")
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

func (w *errorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// isProblem reports whether ct is application/problem+json.
func isProblem(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/problem+json"
}

package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/fortapi/fortapi"
)

// TestHTMLErrorPageEscapes: whatever a problem document holds (a detail
// or error message quoting the request), the page shows it as text.
func TestHTMLErrorPageEscapes(t *testing.T) {
	t.Parallel()
	api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler)})
	for _, tt := range []struct {
		name, problem string
		want          []string
	}{
		{"detail", `{"title":"Not Found","status":404,"detail":"no <script>alert(1)</script> \"here\" 'x' &amp;","instance":"urn:fortapi:request:<b>id</b>"}`,
			[]string{"no &lt;script&gt;alert(1)&lt;/script&gt; &#34;here&#34; &#39;x&#39; &amp;amp;", "&lt;b&gt;id&lt;/b&gt;"}},
		{"errors", `{"title":"Unprocessable Entity","status":422,"detail":"validation failed","errors":[{"message":"<img src=x onerror=alert(1)>","location":"body.<svg onload=alert(1)>"}]}`,
			[]string{"body.&lt;svg onload=alert(1)&gt;: &lt;img src=x onerror=alert(1)&gt;"}},
		{"not JSON", `<script>alert(1)</script>`, []string{"<h1 id=\"error-title\">404 Not Found</h1>"}},
		{"too large", `{"detail":"` + strings.Repeat("<script>", maxProblemBytes/8+1) + `"}`, []string{"<h1 id=\"error-title\">404 Not Found</h1>"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := HTMLErrors(api, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/problem+json")
				w.Header().Set("Content-Length", "12345")
				w.WriteHeader(http.StatusNotFound)
				for p := tt.problem; p != ""; { // written in pieces
					n := min(len(p), 7)
					_, _ = w.Write([]byte(p[:n]))
					p = p[n:]
				}
			}))
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/x", nil)
			req.Header.Set("Accept", "text/html")
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != 404 || rec.Header().Get("Content-Type") != htmlType || rec.Header().Get("Content-Length") != strconv.Itoa(len(body)) {
				t.Fatalf("%d %v", rec.Code, rec.Header())
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("page lacks %q:\n%s", w, body)
				}
			}
			for _, bad := range []string{"<script>", "<img", "<svg", "<b>"} {
				if strings.Contains(body, bad) {
					t.Errorf("page holds %q unescaped:\n%s", bad, body)
				}
			}
		})
	}
}

// TestHTMLErrorsPassThrough: answers that are not problem+json errors, and
// every answer to an API client, leave the wrapper as they came.
func TestHTMLErrorsPassThrough(t *testing.T) {
	t.Parallel()
	api := fortapi.New(fortapi.Options{Logger: slog.New(slog.DiscardHandler)})
	for _, tt := range []struct {
		name, accept, ctype string
		status              int
	}{
		{"success for a browser", "text/html", "application/json", 200},
		{"redirect for a browser", "text/html", "", 303},
		{"JSON error for a browser (RFC 6749)", "text/html", "application/json", 400},
		{"HTML error for a browser", "text/html", "text/html; charset=utf-8", 403},
		{"problem for an API client", "application/json", "application/problem+json", 404},
		{"problem, no Accept", "", "application/problem+json", 500},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := HTMLErrors(api, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.ctype != "" {
					w.Header().Set("Content-Type", tt.ctype)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte("original"))
			}))
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/x", nil)
			if tt.accept != "" {
				req.Header.Set("Accept", tt.accept)
			}
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status || rec.Body.String() != "original" || rec.Header().Get("Content-Type") != tt.ctype {
				t.Errorf("%d %q %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
			}
		})
	}
}

package docsui

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/browsertest"
)

const (
	testPrefix  = "/docs"
	testSpecURL = "/openapi.json"
)

// testSpec is a small OpenAPI 3.1 document using 3.1-only features (type
// arrays, jsonSchemaDialect, webhooks).
const testSpec = `{
  "openapi": "3.1.0",
  "info": {"title": "Probe API", "version": "1.2.3", "description": "Probe document for **docsui** tests."},
  "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
  "servers": [{"url": "/"}],
  "paths": {
    "/probes": {
      "get": {"operationId": "listProbes", "summary": "List every probe", "tags": ["probes"],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Probe"}}}}}}}
    },
    "/probes/{probeId}": {
      "get": {"operationId": "getProbe", "summary": "Fetch one probe", "tags": ["probes"],
        "parameters": [{"name": "probeId", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Probe"}}}}}},
      "delete": {"operationId": "deleteProbe", "summary": "Remove one probe", "tags": ["probes"],
        "parameters": [{"name": "probeId", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {"204": {"description": "Gone"}}}
    }
  },
  "webhooks": {
    "probeChanged": {"post": {"summary": "A probe changed", "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Probe"}}}}, "responses": {"200": {"description": "OK"}}}}
  },
  "components": {"schemas": {"Probe": {"type": "object", "required": ["id"],
    "properties": {"id": {"type": "string"}, "label": {"type": ["string", "null"]}, "weight": {"type": "integer", "exclusiveMinimum": 0}}}}}
}`

func newTestUI(t *testing.T) *UI {
	t.Helper()
	return Handler(testPrefix, testSpecURL)
}

func do(t *testing.T, h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// pageRef is a URL the page makes the browser load.
type pageRef struct {
	tag, url, integrity string
}

// parsePage parses the page as HTML (non-strict XML with HTML's void
// elements and entities), fails the test on any inline script, inline
// style, style attribute or event-handler attribute, and returns the URLs
// it loads.
func parsePage(t *testing.T, page []byte) []pageRef {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(page))
	dec.Strict = false
	dec.AutoClose = xml.HTMLAutoClose
	dec.Entity = xml.HTMLEntity
	var refs []pageRef
	inScript := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parsing page: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			name := strings.ToLower(tok.Name.Local)
			attrs := map[string]string{}
			for _, a := range tok.Attr {
				an := strings.ToLower(a.Name.Local)
				attrs[an] = a.Value
				if an == "style" {
					t.Errorf("<%s> has a style attribute", name)
				}
				if strings.HasPrefix(an, "on") {
					t.Errorf("<%s> has an event handler attribute %s", name, an)
				}
				if strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Value)), "javascript:") {
					t.Errorf("<%s %s> is a javascript: URL", name, an)
				}
			}
			switch name {
			case "style":
				t.Errorf("page has a <style> element")
			case "script":
				if attrs["src"] == "" {
					t.Errorf("page has a <script> without src")
				}
				if tp := attrs["type"]; tp != "" && tp != "text/javascript" && tp != "module" {
					t.Errorf("script of unexpected type %q", tp)
				}
				refs = append(refs, pageRef{"script", attrs["src"], attrs["integrity"]})
				inScript = true
			case "link":
				refs = append(refs, pageRef{"link:" + attrs["rel"], attrs["href"], attrs["integrity"]})
			case "img", "iframe", "object", "embed", "base", "form":
				t.Errorf("page has an unexpected <%s>", name)
			}
		case xml.EndElement:
			if strings.EqualFold(tok.Name.Local, "script") {
				inScript = false
			}
		case xml.CharData:
			if inScript && strings.TrimSpace(string(tok)) != "" {
				t.Errorf("inline script code: %q", tok)
			}
		}
	}
	// A second, textual look, independent of the parser.
	lower := strings.ToLower(string(page))
	if strings.Contains(lower, "<style") {
		t.Errorf("page contains <style")
	}
	if regexp.MustCompile(`\sstyle\s*=`).MatchString(lower) {
		t.Errorf("page contains a style= attribute")
	}
	if n, m := strings.Count(lower, "<script"), strings.Count(lower, "<script src="); n != m {
		t.Errorf("%d <script> elements, only %d start with src", n, m)
	}
	return refs
}

func TestPageHeadersAndBody(t *testing.T) {
	ui := newTestUI(t)
	for _, target := range []string{"/docs", "/docs/"} {
		t.Run(target, func(t *testing.T) {
			rec := do(t, ui, http.MethodGet, target, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, want 200", rec.Code)
			}
			h := rec.Header()
			want := map[string]string{
				"Content-Security-Policy":      ui.CSP(),
				"X-Content-Type-Options":       "nosniff",
				"Content-Type":                 "text/html; charset=utf-8",
				"Cache-Control":                "no-cache",
				"Referrer-Policy":              "no-referrer",
				"Cross-Origin-Opener-Policy":   "same-origin",
				"Cross-Origin-Resource-Policy": "same-origin",
			}
			for k, v := range want {
				if got := h.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if h.Get("ETag") == "" {
				t.Errorf("no ETag")
			}
			if !strings.Contains(rec.Body.String(), `data-spec-url="/openapi.json"`) {
				t.Errorf("page does not carry the spec URL:\n%s", rec.Body)
			}
		})
	}
}

func TestPageHasNoInlineScriptOrStyle(t *testing.T) {
	rec := do(t, newTestUI(t), http.MethodGet, "/docs", nil)
	refs := parsePage(t, rec.Body.Bytes())
	if len(refs) == 0 {
		t.Fatal("page references no assets")
	}
	var scripts int
	for _, r := range refs {
		if r.tag == "script" {
			scripts++
		}
	}
	if scripts < 2 {
		t.Errorf("page loads %d scripts, want the bundle and init.js", scripts)
	}
}

// cspDirectives splits a policy into directive name -> sources.
func cspDirectives(t *testing.T, policy string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, d := range strings.Split(policy, ";") {
		fields := strings.Fields(d)
		if len(fields) == 0 {
			continue
		}
		name := strings.ToLower(fields[0])
		if _, dup := out[name]; dup {
			t.Errorf("directive %s appears twice", name)
		}
		out[name] = fields[1:]
	}
	return out
}

func TestCSPIsStrict(t *testing.T) {
	d := cspDirectives(t, newTestUI(t).CSP())
	for _, name := range []string{"default-src", "base-uri", "form-action", "frame-ancestors"} {
		if got := strings.Join(d[name], " "); got != "'none'" {
			t.Errorf("%s = %q, want 'none'", name, got)
		}
	}
	for _, name := range []string{"script-src", "style-src"} {
		if got := strings.Join(d[name], " "); got != "'self'" {
			t.Errorf("%s = %q, want exactly 'self'", name, got)
		}
	}
	for name, sources := range d {
		for _, s := range sources {
			switch {
			case s == "'self'" || s == "'none'":
			case s == "data:" && name == "img-src":
			default:
				t.Errorf("%s allows %s; only 'self' (and data: images) may appear", name, s)
			}
			if strings.Contains(s, "unsafe") {
				t.Errorf("%s contains %s", name, s)
			}
		}
	}
	for _, name := range []string{"script-src-elem", "script-src-attr", "style-src-elem", "style-src-attr", "worker-src", "child-src", "frame-src", "object-src"} {
		if _, ok := d[name]; ok {
			t.Errorf("unexpected directive %s: it would override default-src or script/style-src", name)
		}
	}
}

func TestAssetsReferencedByPage(t *testing.T) {
	ui := newTestUI(t)
	page := do(t, ui, http.MethodGet, "/docs", nil)
	for _, ref := range parsePage(t, page.Body.Bytes()) {
		t.Run(ref.url, func(t *testing.T) {
			if !strings.HasPrefix(ref.url, "/docs/assets/") {
				t.Fatalf("%s %q is not under /docs/assets/", ref.tag, ref.url)
			}
			rec := do(t, ui, http.MethodGet, ref.url, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d, want 200", rec.Code)
			}
			wantType := map[string]string{
				".js":  "text/javascript; charset=utf-8",
				".css": "text/css; charset=utf-8",
				".png": "image/png",
			}[path.Ext(ref.url)]
			if got := rec.Header().Get("Content-Type"); wantType == "" || got != wantType {
				t.Errorf("Content-Type = %q, want %q", got, wantType)
			}
			if ref.tag == "script" && !strings.Contains(rec.Header().Get("Content-Type"), "javascript") {
				t.Errorf("script served as %q", rec.Header().Get("Content-Type"))
			}
			if ref.tag == "link:stylesheet" && !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/css") {
				t.Errorf("stylesheet served as %q", rec.Header().Get("Content-Type"))
			}
			checkAssetHeaders(t, rec)
			if ref.integrity != "" {
				sum := sha512.Sum384(rec.Body.Bytes())
				if want := "sha384-" + base64.StdEncoding.EncodeToString(sum[:]); ref.integrity != want {
					t.Errorf("integrity %q does not match the served body (%q)", ref.integrity, want)
				}
			} else if ref.tag == "script" || ref.tag == "link:stylesheet" {
				t.Errorf("%s %s has no integrity attribute", ref.tag, ref.url)
			}
		})
	}
}

func checkAssetHeaders(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	h := rec.Header()
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", got)
	}
	if got := h.Get("Cache-Control"); !strings.HasPrefix(got, "public, max-age=") {
		t.Errorf("Cache-Control = %q", got)
	}
	if h.Get("ETag") == "" {
		t.Errorf("no ETag")
	}
}

// assetBase returns "/docs/assets/<hash>" as the page uses it.
func assetBase(t *testing.T, ui *UI) string {
	t.Helper()
	m := regexp.MustCompile(`src="(/docs/assets/[0-9a-f]+)/init\.js"`).FindStringSubmatch(string(ui.page))
	if m == nil {
		t.Fatalf("no init.js in page:\n%s", ui.page)
	}
	return m[1]
}

func TestEveryAssetServed(t *testing.T) {
	ui := newTestUI(t)
	base := assetBase(t, ui)
	for _, f := range servedFiles() {
		t.Run(f.name, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				rec := do(t, ui, method, base+"/"+f.name, nil)
				if rec.Code != http.StatusOK {
					t.Fatalf("%s: status %d", method, rec.Code)
				}
				if got := rec.Header().Get("Content-Type"); got != f.contentType {
					t.Errorf("%s: Content-Type = %q, want %q", method, got, f.contentType)
				}
				checkAssetHeaders(t, rec)
				want, _ := files.ReadFile(f.file)
				if rec.Header().Get("Content-Length") != fmt.Sprint(len(want)) {
					t.Errorf("%s: Content-Length = %q, want %d", method, rec.Header().Get("Content-Length"), len(want))
				}
				if method == http.MethodGet && !bytes.Equal(rec.Body.Bytes(), want) {
					t.Errorf("GET: body differs from the embedded file")
				}
				if method == http.MethodHead && rec.Body.Len() != 0 {
					t.Errorf("HEAD: body of %d bytes", rec.Body.Len())
				}
			}
		})
	}
}

// traversalTargets are request targets that must never reach a file.
func traversalTargets(base string) []string {
	return []string{
		"/docs/assets/../../etc/passwd",
		"/docs/assets/..%2f..%2fetc%2fpasswd",
		"/docs/assets/%2e%2e/",
		"/docs/assets/%2e%2e/%2e%2e/etc/passwd",
		"/docs/assets/%252e%252e/etc/passwd",
		base + "/../../../etc/passwd",
		base + "/..%2f..%2f..%2fetc%2fpasswd",
		base + "/%2e%2e/%2e%2e/go.mod",
		base + "/..\\..\\etc\\passwd",
		base + "/%2e%2e%5c%2e%2e%5cetc%5cpasswd",
		base + "/./init.js",
		base + "//init.js",
		base + "/init.js/",
		base + "/init%2ejs",
		base + "%2finit.js",
		base + "/init.js%00",
		base + "/web/init.js",
		base + "/assets/LICENSE",
		base + "/index.html",
		base + "/VERSION",
		base + "/SHA256SUMS",
		base + "/docsui.go",
		base + "/INIT.JS",
		base + "/",
		base,
		"/docs/assets/init.js",
		"/docs/assets/0000000000000000/init.js",
		"/docs/assets/",
		"/docs/x",
		"/docsx",
		"/docs//",
		"/",
		"/etc/passwd",
	}
}

func checkProblem(t *testing.T, status int, header http.Header, body []byte) {
	t.Helper()
	if got := header.Get("Content-Type"); got != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", got)
	}
	if got := header.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q", got)
	}
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("body is not JSON: %v: %q", err, body)
	}
	if p["title"] != http.StatusText(status) || p["status"] != float64(status) {
		t.Errorf("problem = %v, want title %q status %d", p, http.StatusText(status), status)
	}
	if d, _ := p["detail"].(string); d == "" {
		t.Errorf("problem has no detail: %v", p)
	}
	for k := range p {
		if k != "title" && k != "status" && k != "detail" {
			t.Errorf("unexpected member %q", k)
		}
	}
}

func TestTraversalIsNotFound(t *testing.T) {
	ui := newTestUI(t)
	base := assetBase(t, ui)
	for _, target := range traversalTargets(base) {
		t.Run(target, func(t *testing.T) {
			for _, method := range []string{http.MethodGet, http.MethodPost} {
				rec := do(t, ui, method, target, nil)
				if rec.Code != http.StatusNotFound {
					t.Fatalf("%s: status %d, want 404; body %q", method, rec.Code, rec.Body)
				}
				checkProblem(t, http.StatusNotFound, rec.Header(), rec.Body.Bytes())
			}
		})
	}
}

// TestTraversalOverTheWire sends the same targets as raw request lines, so
// that no client cleans or re-encodes them, to a server whose handler is
// the UI itself.
func TestTraversalOverTheWire(t *testing.T) {
	ui := newTestUI(t)
	srv := httptest.NewServer(ui)
	defer srv.Close()
	base := assetBase(t, ui)
	for _, target := range traversalTargets(base) {
		t.Run(target, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", srv.Listener.Addr().String(), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n", target)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case http.StatusNotFound:
				checkProblem(t, resp.StatusCode, resp.Header, body)
			case http.StatusBadRequest:
				// net/http itself refuses some targets before any handler.
			default:
				t.Fatalf("status %d, want 404; body %q", resp.StatusCode, body)
			}
			if bytes.Contains(body, []byte("root:")) || bytes.Contains(body, []byte("module ")) {
				t.Fatalf("body leaks a file: %q", body)
			}
		})
	}
}

func TestMethodNotAllowed(t *testing.T) {
	ui := newTestUI(t)
	base := assetBase(t, ui)
	methods := []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions, http.MethodTrace, "PROPFIND"}
	for _, target := range []string{"/docs", "/docs/", base + "/init.js", base + "/swagger-ui.css"} {
		for _, method := range methods {
			t.Run(method+" "+target, func(t *testing.T) {
				rec := do(t, ui, method, target, nil)
				if rec.Code != http.StatusMethodNotAllowed {
					t.Fatalf("status %d, want 405", rec.Code)
				}
				if got := rec.Header().Get("Allow"); got != "GET, HEAD" {
					t.Errorf("Allow = %q, want %q", got, "GET, HEAD")
				}
				checkProblem(t, http.StatusMethodNotAllowed, rec.Header(), rec.Body.Bytes())
			})
		}
	}
}

func TestHeadMatchesGet(t *testing.T) {
	ui := newTestUI(t)
	get := do(t, ui, http.MethodGet, "/docs", nil)
	head := do(t, ui, http.MethodHead, "/docs", nil)
	if head.Code != http.StatusOK || head.Body.Len() != 0 {
		t.Fatalf("HEAD: status %d, %d body bytes", head.Code, head.Body.Len())
	}
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Security-Policy", "ETag", "Cache-Control"} {
		if get.Header().Get(k) != head.Header().Get(k) {
			t.Errorf("%s: GET %q, HEAD %q", k, get.Header().Get(k), head.Header().Get(k))
		}
	}
	if get.Header().Get("Content-Length") != fmt.Sprint(get.Body.Len()) {
		t.Errorf("Content-Length %q for %d bytes", get.Header().Get("Content-Length"), get.Body.Len())
	}
}

func TestConditionalRequests(t *testing.T) {
	ui := newTestUI(t)
	base := assetBase(t, ui)
	for _, target := range []string{"/docs", base + "/swagger-ui-bundle.js", base + "/favicon-32x32.png"} {
		t.Run(target, func(t *testing.T) {
			first := do(t, ui, http.MethodGet, target, nil)
			etag := first.Header().Get("ETag")
			tests := []struct {
				name, inm string
				want      int
			}{
				{"same", etag, http.StatusNotModified},
				{"weak", "W/" + etag, http.StatusNotModified},
				{"list", `"nope", ` + etag, http.StatusNotModified},
				{"star", "*", http.StatusNotModified},
				{"other", `"nope"`, http.StatusOK},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					rec := do(t, ui, http.MethodGet, target, http.Header{"If-None-Match": {tt.inm}})
					if rec.Code != tt.want {
						t.Fatalf("status %d, want %d", rec.Code, tt.want)
					}
					if tt.want == http.StatusNotModified {
						if rec.Body.Len() != 0 || rec.Header().Get("ETag") != etag {
							t.Errorf("304 with %d body bytes, ETag %q", rec.Body.Len(), rec.Header().Get("ETag"))
						}
						if rec.Header().Get("Cache-Control") == "" {
							t.Errorf("304 without Cache-Control")
						}
					}
				})
			}
		})
	}
}

func TestGzip(t *testing.T) {
	ui := newTestUI(t)
	base := assetBase(t, ui)
	tests := []struct {
		name, file, accept string
		wantGzip           bool
	}{
		{"bundle gzip", "swagger-ui-bundle.js", "gzip, deflate, br", true},
		{"css gzip", "swagger-ui.css", "br;q=1.0, gzip;q=0.8", true},
		{"uppercase", "init.js", "GZIP", true},
		{"refused", "swagger-ui.css", "gzip;q=0", false},
		{"refused spaced", "swagger-ui.css", "gzip ; q=0.000", false},
		{"identity only", "swagger-ui.css", "identity", false},
		{"none", "swagger-ui.css", "", false},
		{"png never", "favicon-32x32.png", "gzip", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // also exercises the lazy compression concurrently
			h := http.Header{}
			if tt.accept != "" {
				h.Set("Accept-Encoding", tt.accept)
			}
			rec := do(t, ui, http.MethodGet, base+"/"+tt.file, h)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d", rec.Code)
			}
			want, _ := files.ReadFile(map[string]string{
				"swagger-ui-bundle.js": "assets/swagger-ui-bundle.js",
				"swagger-ui.css":       "assets/swagger-ui.css",
				"init.js":              "web/init.js",
				"favicon-32x32.png":    "assets/favicon-32x32.png",
			}[tt.file])
			got := rec.Body.Bytes()
			if enc := rec.Header().Get("Content-Encoding"); (enc == "gzip") != tt.wantGzip {
				t.Fatalf("Content-Encoding = %q, want gzip: %v", enc, tt.wantGzip)
			}
			if tt.wantGzip {
				zr, err := gzip.NewReader(bytes.NewReader(got))
				if err != nil {
					t.Fatal(err)
				}
				if got, err = io.ReadAll(zr); err != nil {
					t.Fatal(err)
				}
				if rec.Header().Get("ETag") == ui.assets[tt.file].etag {
					t.Errorf("gzip variant shares the identity ETag")
				}
			}
			if !bytes.Equal(got, want) {
				t.Errorf("decoded body differs from the embedded file")
			}
			if tt.file != "favicon-32x32.png" && rec.Header().Get("Vary") != "Accept-Encoding" {
				t.Errorf("Vary = %q", rec.Header().Get("Vary"))
			}
		})
	}
}

func TestSpecURLIsEscaped(t *testing.T) {
	ui := Handler("/docs", "/api/openapi.json?a=1&b=2")
	if !strings.Contains(string(ui.page), `data-spec-url="/api/openapi.json?a=1&amp;b=2"`) {
		t.Errorf("spec URL not escaped as expected:\n%s", ui.page)
	}
	parsePage(t, ui.page)
}

func TestHandlerRejectsBadInput(t *testing.T) {
	tests := []struct{ name, prefix, spec string }{
		{"spec absolute URL", "/docs", "https://evil.example/openapi.json"},
		{"spec protocol-relative", "/docs", "//evil.example/openapi.json"},
		{"spec backslash host", "/docs", `/\evil.example/openapi.json`},
		{"spec javascript", "/docs", "javascript:alert(1)"},
		{"spec data", "/docs", "data:application/json,{}"},
		{"spec relative", "/docs", "openapi.json"},
		{"spec empty", "/docs", ""},
		{"spec quote", "/docs", `/openapi.json" onmouseover="alert(1)`},
		{"spec angle", "/docs", "/openapi.json<script>"},
		{"spec newline", "/docs", "/openapi.json\n"},
		{"prefix relative", "docs", "/openapi.json"},
		{"prefix dotdot", "/docs/../admin", "/openapi.json"},
		{"prefix double slash", "/docs//x", "/openapi.json"},
		{"prefix space", "/my docs", "/openapi.json"},
		{"prefix percent", "/docs%2f", "/openapi.json"},
		{"prefix quote", `/docs"`, "/openapi.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("Handler(%q, %q) did not panic", tt.prefix, tt.spec)
				}
			}()
			Handler(tt.prefix, tt.spec)
		})
	}
}

func TestPrefixes(t *testing.T) {
	tests := []struct{ prefix, page, asset string }{
		{"/docs/", "/docs", "/docs/assets/"},
		{"/api/v1/docs", "/api/v1/docs/", "/api/v1/docs/assets/"},
		{"", "/", "/assets/"},
		{"/", "/", "/assets/"},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			ui := Handler(tt.prefix, "/openapi.json")
			rec := do(t, ui, http.MethodGet, tt.page, nil)
			if rec.Code != http.StatusOK {
				t.Fatalf("page %s: status %d", tt.page, rec.Code)
			}
			for _, ref := range parsePage(t, rec.Body.Bytes()) {
				if !strings.HasPrefix(ref.url, tt.asset) {
					t.Errorf("%s not under %s", ref.url, tt.asset)
				}
				if rec := do(t, ui, http.MethodGet, ref.url, nil); rec.Code != http.StatusOK {
					t.Errorf("%s: status %d", ref.url, rec.Code)
				}
			}
		})
	}
}

func TestAssetURLIsContentAddressed(t *testing.T) {
	a, b := Handler("/docs", "/a.json"), Handler("/docs", "/b.json")
	if a.assetBase != b.assetBase {
		t.Errorf("asset base differs between UIs with the same assets: %s, %s", a.assetBase, b.assetBase)
	}
	if !regexp.MustCompile(`^/docs/assets/[0-9a-f]{16}$`).MatchString(a.assetBase) {
		t.Errorf("asset base %q", a.assetBase)
	}
}

// TestVendoredAssetsMatchChecksums keeps the vendored files byte-identical
// to the npm release named in assets/VERSION.
func TestVendoredAssetsMatchChecksums(t *testing.T) {
	sums, err := os.ReadFile("assets/SHA256SUMS")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, name, ok := strings.Cut(line, "  ")
		if !ok {
			t.Fatalf("bad SHA256SUMS line %q", line)
		}
		listed[name] = true
		t.Run(name, func(t *testing.T) {
			body, err := files.ReadFile("assets/" + name)
			if err != nil {
				t.Fatalf("not embedded: %v", err)
			}
			got := sha256.Sum256(body)
			if hex.EncodeToString(got[:]) != sum {
				t.Errorf("sha256 %x, SHA256SUMS says %s", got, sum)
			}
		})
	}
	for _, f := range servedFiles() {
		if strings.HasPrefix(f.file, "assets/") && !listed[strings.TrimPrefix(f.file, "assets/")] {
			t.Errorf("%s is served but not in SHA256SUMS", f.file)
		}
	}
	version, err := os.ReadFile("assets/VERSION")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"package:   swagger-ui-dist\n", "version:   " + upstreamVersion + "\n", "swagger-ui-dist@" + upstreamVersion} {
		if !strings.Contains(string(version), want) {
			t.Errorf("assets/VERSION lacks %q", want)
		}
	}
}

// TestDocsRenderInChromium loads the page in headless Chromium under the
// real CSP and checks that the operations render and that the browser
// reports no CSP violation.
func TestDocsRenderInChromium(t *testing.T) {
	bin := browsertest.Require(t)

	ui := newTestUI(t)
	var (
		mu   sync.Mutex
		seen = map[string]int{} // path -> last status
	)
	mux := http.NewServeMux()
	mux.Handle("/docs", ui)
	mux.Handle("/docs/", ui)
	mux.HandleFunc("/openapi.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = io.WriteString(w, testSpec)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		mux.ServeHTTP(rec, r)
		mu.Lock()
		seen[r.URL.Path] = rec.status
		mu.Unlock()
	}))
	defer srv.Close()

	var dom, log string
	for attempt, budget := range []int{10000, 25000} {
		dom, log = browsertest.DumpDOM(t, bin, srv.URL+"/docs", browsertest.Options{BudgetMS: budget})
		for _, p := range browsertest.Problems(log) {
			t.Errorf("CSP violation or script error: %s", p)
		}
		if strings.Contains(dom, "/probes/{probeId}") {
			break
		}
		t.Logf("attempt %d: operations not rendered yet (%d bytes of DOM)", attempt+1, len(dom))
	}
	if t.Failed() {
		t.Logf("chromium log:\n%s", log)
	}
	for _, want := range []string{"Probe API", "/probes/{probeId}", "Fetch one probe", "Remove one probe", "List every probe"} {
		if !strings.Contains(dom, want) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("DOM (%d bytes):\n%.4000s", len(dom), dom)
	}

	mu.Lock()
	defer mu.Unlock()
	base := assetBase(t, ui)
	for _, p := range []string{"/docs", "/openapi.json", base + "/swagger-ui-bundle.js", base + "/swagger-ui.css", base + "/init.js"} {
		if status, ok := seen[p]; !ok || status != http.StatusOK {
			t.Errorf("browser request for %s: seen %v, status %d", p, ok, status)
		}
	}
	for p, status := range seen {
		if status >= 400 && p != "/favicon.ico" {
			t.Errorf("browser request for %s answered %d", p, status)
		}
	}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// TestCSRFTokenURL: with the option the page names the token URL for the
// interceptor in init.js; without it, nothing; a URL off this origin
// panics like a bad spec URL.
func TestCSRFTokenURL(t *testing.T) {
	page := func(ui *UI) string {
		rec := httptest.NewRecorder()
		ui.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/docs", nil))
		return rec.Body.String()
	}
	if p := page(Handler("/docs", "/openapi.json", CSRFTokenURL("/csrftoken/"))); !strings.Contains(p, `data-csrf-url="/csrftoken/"`) {
		t.Errorf("the page does not name the token URL:\n%s", p)
	}
	if p := page(Handler("/docs", "/openapi.json")); strings.Contains(p, "data-csrf-url") {
		t.Errorf("a page without the option names a token URL:\n%s", p)
	}
	for _, bad := range []string{"//evil.example/t", "https://evil.example/t", "t", `/t"onload="x`} {
		t.Run(bad, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("CSRFTokenURL(%q) did not panic", bad)
				}
			}()
			Handler("/docs", "/openapi.json", CSRFTokenURL(bad))
		})
	}
}

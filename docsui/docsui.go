package docsui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/fortapi/fortapi/internal/problem"
)

// upstreamVersion is the swagger-ui-dist release vendored in assets/; it
// must match assets/VERSION (a test checks).
const upstreamVersion = "5.35.0"

// policy is the Content-Security-Policy of the docs page. Every fetch
// directive allows this origin only; img-src also allows data: URLs because
// swagger-ui.css draws its icons as data: SVG images. There is no
// 'unsafe-inline' and no 'unsafe-eval' anywhere: Swagger UI sets styles
// through the CSSOM (element.style), which CSP does not restrict, and
// renders with neither inline scripts, eval, style attributes in markup nor
// <style> elements. Fonts are left to default-src 'none': the stylesheet
// uses system fonts only.
const policy = "default-src 'none'; " +
	"script-src 'self'; " +
	"style-src 'self'; " +
	"img-src 'self' data:; " +
	"connect-src 'self'; " +
	"base-uri 'none'; " +
	"form-action 'none'; " +
	"frame-ancestors 'none'"

// assetMaxAge is how long browsers and shared caches may keep an asset.
// Asset URLs carry a hash of all assets, so a changed file gets a new URL.
const assetMaxAge = 365 * 24 * 60 * 60

//go:embed assets/swagger-ui-bundle.js assets/swagger-ui.css assets/favicon-32x32.png
//go:embed assets/LICENSE assets/NOTICE assets/swagger-ui-bundle.js.LICENSE.txt
//go:embed web/init.js web/index.html
var files embed.FS

// servedFile is one name that may follow prefix+"/assets/<hash>/".
type servedFile struct {
	name, file, contentType string
}

// servedFiles lists each served name with its embedded file and
// Content-Type. Nothing else is ever served: a request path is only used as
// a key into the table built from this list, never to open a file.
func servedFiles() []servedFile {
	return []servedFile{
		{"swagger-ui-bundle.js", "assets/swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
		{"swagger-ui.css", "assets/swagger-ui.css", "text/css; charset=utf-8"},
		{"init.js", "web/init.js", "text/javascript; charset=utf-8"},
		{"favicon-32x32.png", "assets/favicon-32x32.png", "image/png"},
		{"LICENSE", "assets/LICENSE", "text/plain; charset=utf-8"},
		{"NOTICE", "assets/NOTICE", "text/plain; charset=utf-8"},
		{"swagger-ui-bundle.js.LICENSE.txt", "assets/swagger-ui-bundle.js.LICENSE.txt", "text/plain; charset=utf-8"},
	}
}

// UI serves the documentation page and its assets. It is safe for
// concurrent use. Create it with Handler.
type UI struct {
	prefix    string // without a trailing slash; "" for the root
	assetBase string // prefix + "/assets/" + version
	page      []byte
	pageETag  string
	assets    map[string]*asset
}

type asset struct {
	contentType string
	body        []byte
	etag        string
	compress    bool // text: offer gzip

	gzipOnce sync.Once
	gzipBody []byte // nil when gzip would not be smaller
	gzipETag string
}

// Handler returns the docs UI for the page at prefix (for example "/docs")
// showing the OpenAPI document at specURL (for example "/openapi.json").
//
// The page is served at prefix and prefix+"/", the assets under
// prefix+"/assets/<hash>/". The UI matches the request's full path, so
// mount it without http.StripPrefix, on both patterns:
//
//	ui := docsui.Handler("/docs", "/openapi.json")
//	mux.Handle("/docs", ui)
//	mux.Handle("/docs/", ui)
//
// prefix must be empty or an absolute, clean path of letters, digits and
// "-._~/" without a trailing slash (one is removed). specURL must be an
// absolute path on the same origin ("/openapi.json", query allowed): the
// page's CSP lets the browser fetch nothing from elsewhere, and a relative
// reference would resolve differently at prefix and prefix+"/". Handler
// panics on anything else, as these are fixed at build time.
//
// Options adjust the page (CSRFTokenURL).
func Handler(prefix, specURL string, opts ...Option) *UI {
	prefix = strings.TrimSuffix(prefix, "/")
	if err := checkPrefix(prefix); err != "" {
		panic("docsui: invalid prefix " + strconv.Quote(prefix) + ": " + err)
	}
	if err := checkSpecURL(specURL); err != "" {
		panic("docsui: invalid spec URL " + strconv.Quote(specURL) + ": " + err)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.csrfURL != "" {
		if err := checkSpecURL(o.csrfURL); err != "" {
			panic("docsui: invalid CSRF token URL " + strconv.Quote(o.csrfURL) + ": " + err)
		}
	}

	u := &UI{prefix: prefix, assets: make(map[string]*asset)}
	version := sha256.New()
	for _, f := range servedFiles() {
		body, err := files.ReadFile(f.file)
		if err != nil {
			panic("docsui: embedded file missing: " + err.Error())
		}
		sum := sha256.Sum256(body)
		version.Write([]byte(f.name))
		version.Write([]byte{0})
		version.Write(sum[:])
		u.assets[f.name] = &asset{
			contentType: f.contentType,
			body:        body,
			etag:        `"` + hex.EncodeToString(sum[:16]) + `"`,
			compress:    strings.HasPrefix(f.contentType, "text/"),
		}
	}
	u.assetBase = prefix + "/assets/" + hex.EncodeToString(version.Sum(nil)[:8])

	src, err := files.ReadFile("web/index.html")
	if err != nil {
		panic("docsui: embedded file missing: " + err.Error())
	}
	tmpl := template.Must(template.New("index.html").Parse(string(src)))
	var page bytes.Buffer
	err = tmpl.Execute(&page, struct {
		Assets, SpecURL, CSRFURL                     string
		BundleIntegrity, CSSIntegrity, InitIntegrity string
	}{
		Assets:          u.assetBase,
		SpecURL:         specURL,
		CSRFURL:         o.csrfURL,
		BundleIntegrity: integrity(u.assets["swagger-ui-bundle.js"].body),
		CSSIntegrity:    integrity(u.assets["swagger-ui.css"].body),
		InitIntegrity:   integrity(u.assets["init.js"].body),
	})
	if err != nil {
		panic("docsui: rendering the page: " + err.Error())
	}
	u.page = page.Bytes()
	pageSum := sha256.Sum256(u.page)
	u.pageETag = `"` + hex.EncodeToString(pageSum[:16]) + `"`
	return u
}

// Option adjusts the docs page.
type Option func(*options)

type options struct {
	csrfURL string
}

// CSRFTokenURL makes "Try it out" send a CSRF token with every unsafe
// request (not GET, HEAD or OPTIONS): before such a request the page GETs
// url (an absolute path on this origin that answers {"csrf_token": ...},
// as fortapi's reference server's /csrftoken/ does) and sends the token
// in the X-CSRF-Token header. Without it, an API that checks CSRF tokens
// refuses the page's unsafe requests whenever the browser holds cookies.
func CSRFTokenURL(url string) Option {
	return func(o *options) { o.csrfURL = url }
}

// CSP returns the exact Content-Security-Policy sent with the page.
func (u *UI) CSP() string { return policy }

// ServeHTTP serves the page, the assets, 404 for any other path, and 405
// for methods other than GET and HEAD. Errors are RFC 9457
// application/problem+json.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")

	p := r.URL.Path
	// Asset names and prefixes never need escaping, so an escaped path
	// (%2e%2e, %2f, ...) is not one of ours.
	if r.URL.RawPath != "" {
		u.notFound(w, r)
		return
	}
	var a *asset
	switch {
	case p == u.prefix || p == u.prefix+"/":
	case strings.HasPrefix(p, u.assetBase+"/"):
		if a = u.assets[p[len(u.assetBase)+1:]]; a == nil {
			u.notFound(w, r)
			return
		}
	default:
		u.notFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		problem.Write(w, r, http.StatusMethodNotAllowed,
			"Only GET and HEAD are allowed on "+p+".")
		return
	}

	if a == nil {
		h.Set("Content-Security-Policy", policy)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Type", "text/html; charset=utf-8")
		serveBody(w, r, u.page, u.pageETag)
		return
	}

	h.Set("Content-Type", a.contentType)
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(assetMaxAge)+", immutable")
	body, etag := a.body, a.etag
	if a.compress {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			if gz, gzETag := a.gzipped(); gz != nil {
				h.Set("Content-Encoding", "gzip")
				body, etag = gz, gzETag
			}
		}
	}
	serveBody(w, r, body, etag)
}

func (u *UI) notFound(w http.ResponseWriter, r *http.Request) {
	problem.Write(w, r, http.StatusNotFound, "There is no documentation resource at this path.")
}

// gzipped compresses the asset on first use and keeps the result.
func (a *asset) gzipped() ([]byte, string) {
	a.gzipOnce.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := zw.Write(a.body); err != nil {
			return
		}
		if err := zw.Close(); err != nil || buf.Len() >= len(a.body) {
			return
		}
		a.gzipBody = buf.Bytes()
		a.gzipETag = strings.TrimSuffix(a.etag, `"`) + `-gzip"`
	})
	return a.gzipBody, a.gzipETag
}

// serveBody answers with body, or 304 when If-None-Match names etag.
func serveBody(w http.ResponseWriter, r *http.Request, body []byte, etag string) {
	h := w.Header()
	h.Set("ETag", etag)
	if etagMatches(r.Header.Values("If-None-Match"), etag) {
		h.Del("Content-Type")
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// etagMatches applies If-None-Match's weak comparison (RFC 9110, 13.1.2).
func etagMatches(headers []string, etag string) bool {
	for _, h := range headers {
		for _, t := range strings.Split(h, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == etag {
				return true
			}
		}
	}
	return false
}

// acceptsGzip reports whether Accept-Encoding lists gzip with a non-zero
// quality.
func acceptsGzip(headers []string) bool {
	for _, h := range headers {
		for _, item := range strings.Split(h, ",") {
			coding, params, _ := strings.Cut(item, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "x-gzip" {
				continue
			}
			q := 1.0
			for _, p := range strings.Split(params, ";") {
				k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
					if err != nil {
						f = 0
					}
					q = f
				}
			}
			return q > 0
		}
	}
	return false
}

// integrity returns a Subresource Integrity value for body.
func integrity(body []byte) string {
	sum := sha512.Sum384(body)
	return "sha384-" + base64.StdEncoding.EncodeToString(sum[:])
}

// checkPrefix returns why prefix is unusable, or "".
func checkPrefix(prefix string) string {
	if prefix == "" {
		return ""
	}
	if prefix[0] != '/' {
		return "must start with /"
	}
	for _, c := range prefix {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-._~/", c)) {
			return "only letters, digits and -._~/ are allowed"
		}
	}
	if path.Clean(prefix) != prefix {
		return "must be a clean path (no //, . or .. segments)"
	}
	return ""
}

// checkSpecURL returns why specURL is unusable, or "".
func checkSpecURL(specURL string) string {
	if !strings.HasPrefix(specURL, "/") || strings.HasPrefix(specURL, "//") {
		return "must be an absolute path on this origin, like /openapi.json"
	}
	if strings.ContainsAny(specURL, "\\\"'<>` ") {
		return "must not contain backslashes, quotes, angle brackets or spaces"
	}
	pu, err := url.Parse(specURL)
	if err != nil {
		return err.Error()
	}
	if pu.Scheme != "" || pu.Host != "" || pu.User != nil {
		return "must not name a scheme or host"
	}
	return ""
}

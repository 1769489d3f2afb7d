// Package docsui serves interactive documentation for an API's OpenAPI 3.1
// document, entirely from the binary and under a strict
// Content-Security-Policy.
//
// The UI is Swagger UI (npm package swagger-ui-dist, version in
// assets/VERSION), vendored unchanged and embedded with go:embed, started
// by a small init.js of this package. Handler returns a *UI that serves:
//
//   - the page at prefix and prefix+"/": a fixed HTML document with no
//     inline script, no inline style and no style attribute, whose only
//     input, the OpenAPI document's URL, is checked to be a same-origin
//     path and HTML-escaped into a data-spec-url attribute;
//   - the assets at prefix+"/assets/<hash>/<name>", where <hash> is derived
//     from the content of all assets.
//
// What it defends against, and the defaults:
//
//   - Supply-chain and CDN compromise: nothing is loaded from a third-party
//     origin, at build time or at run time. The vendored files are checked
//     against assets/SHA256SUMS by the tests, and the page loads them with
//     Subresource Integrity hashes computed from the embedded bytes.
//     Swagger UI's public validator badge is disabled (validatorUrl null).
//   - Cross-site scripting: the page is sent with the strict
//     Content-Security-Policy below (UI.CSP returns it), so an injected
//     script, inline event handler, eval, <style> element or style
//     attribute does not run or apply, and nothing, not even an image in a
//     Markdown description, is fetched from another origin.
//     Neither 'unsafe-inline' nor 'unsafe-eval' is needed, for scripts or
//     styles: Swagger UI sets styles through the CSSOM, which CSP allows.
//     data: images are allowed because the stylesheet draws its icons as
//     data: SVGs. Swagger UI's ?url= and ?configUrl= query parameters are
//     ignored (queryConfigEnabled false), so a crafted link cannot make the
//     page render a hostile document; there is no top bar with a URL field.
//   - MIME sniffing: every response carries X-Content-Type-Options: nosniff
//     and an explicit Content-Type.
//   - Clickjacking and leaks: frame-ancestors 'none', Referrer-Policy:
//     no-referrer, Cross-Origin-Opener-Policy and
//     Cross-Origin-Resource-Policy same-origin.
//   - Path traversal: a request path is only looked up in a fixed table of
//     asset names; any other path, including any percent-encoded one, is
//     404.
//
// The policy:
//
//	default-src 'none'; script-src 'self'; style-src 'self';
//	img-src 'self' data:; connect-src 'self'; base-uri 'none';
//	form-action 'none'; frame-ancestors 'none'
//
// Other behaviour: only GET and HEAD are allowed (405 with Allow: GET,
// HEAD otherwise); errors are RFC 9457 application/problem+json; the page
// is Cache-Control: no-cache with an ETag, assets are cached for a year
// (immutable, the URL changes with the content) with an ETag; text assets
// are sent gzip-compressed to clients that accept it, compressed once on
// first use.
//
// Limits that follow from the policy: "Try it out" can call only the
// page's own origin (connect-src 'self'), so the document's servers should
// be relative or on this origin; OAuth2 authorization flows need Swagger
// UI's oauth2-redirect page, which is not shipped.
package docsui

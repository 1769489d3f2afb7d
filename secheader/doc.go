// Package secheader sets the HTTP response headers that make browsers
// defend an API and its pages, and answers cross-origin (CORS) requests
// from an explicit allowlist. Both are plain net/http middleware:
//
//	h, err := secheader.New(secheader.Options{})
//	c, err := secheader.NewCORS(secheader.CORSOptions{
//		AllowedOrigins: []string{"https://app.example.com"},
//	})
//	handler := h.Handler(c.Handler(mux)) // headers outermost, so preflights get them too
//
// # What Headers defends against
//
//   - SSL stripping. Strict-Transport-Security: max-age=63072000;
//     includeSubDomains makes browsers use HTTPS only, for two years, on
//     this host and its subdomains. It is sent when the request came over
//     TLS, or on every response with Options.AssumeTLS (behind a
//     TLS-terminating proxy; browsers ignore it over plain HTTP).
//   - MIME sniffing. X-Content-Type-Options: nosniff: a JSON body that
//     happens to contain markup is never run as HTML or script.
//   - Clickjacking. X-Frame-Options: DENY and the CSP directive
//     frame-ancestors 'none': no site can frame a response.
//   - XSS, and what it can do. Every response gets the CSP APIPolicy,
//     default-src 'none'; frame-ancestors 'none'; base-uri 'none';
//     form-action 'none': a JSON answer opened as a page loads and runs
//     nothing. HTML pages call Headers.HTML for the strict policy with
//     nonces shown below.
//   - Referrer leaks. Referrer-Policy: no-referrer: URLs (with their ids
//     and tokens in query strings) never reach other sites.
//   - Cross-origin reads and window attacks. Cross-Origin-Resource-Policy:
//     same-origin stops other sites from embedding responses with <img>,
//     <script> and the like (no-cors loads, the Spectre vector); CORS
//     reads are governed by CORS alone. Cross-Origin-Opener-Policy:
//     same-origin cuts the window.opener link between a page and any
//     cross-origin window it opens or was opened by.
//   - Powerful features. Permissions-Policy (PermissionsPolicy) turns off
//     camera, microphone, geolocation, payment, USB, serial, HID, MIDI,
//     sensors, fullscreen, autoplay, screen capture, FLoC and Topics and
//     others for the response and every frame in it.
//   - Caches keeping someone's data. A request carrying credentials (an
//     Authorization header, a Cookie header or a TLS client certificate)
//     gets Cache-Control: no-store, and the handler cannot weaken it: the
//     writer forces no-store when the header is sent, and drops
//     CDN-Cache-Control, other *-Cache-Control fields and
//     Surrogate-Control, which would override it for a CDN. Responses to
//     anonymous requests keep whatever Cache-Control the handler sets.
//
// The policy Headers.HTML installs, N being a fresh nonce of 144 random
// bits per response:
//
//	default-src 'self'; script-src 'nonce-N' 'strict-dynamic';
//	style-src 'self' 'nonce-N'; img-src 'self' data:; object-src 'none';
//	base-uri 'none'; form-action 'self'; frame-ancestors 'none'
//
// Only the page's own <script nonce=N> elements run, and the scripts they
// load ('strict-dynamic'). Injected markup cannot guess N; inline event
// handlers and javascript: URLs never run; there is neither
// 'unsafe-inline', 'unsafe-eval' nor a host source to bypass it through (a
// host allowlist is defeated by any JSONP endpoint or script gadget on an
// allowed host). base-uri 'none' stops an injected <base> from redirecting
// relative script URLs, object-src 'none' stops plugins, and styles need
// the nonce or a same-origin stylesheet. default-src keeps 'self' so that a
// page can fetch from, and load fonts and media from, its own origin, as a
// page served by an API needs to; scripts are governed by script-src alone.
//
// All of them are set before the handler runs, so a handler may replace
// one on purpose: the documentation UI sets its own CSP. Each response
// gets its own value slices: a handler changing a value in place
// (w.Header()["X-Frame-Options"][0] = ...) changes its own response only.
//
// # What CORS defends against
//
// Browsers let a script read a cross-origin response only when the
// response says so. CORS says so for an explicit list of origins and
// nobody else, avoiding the classic mistakes:
//
//   - Reflecting any Origin with Access-Control-Allow-Credentials: true,
//     which gives every website in the world your users' sessions. The
//     allowed origin is answered only for listed origins, and the value
//     sent is the listed one, never the request's bytes.
//   - "*" with credentials: refused by NewCORS ("*" alone, without
//     credentials, is for public data).
//   - Trusting "null", the origin of sandboxed iframes, data: and file:
//     documents and some redirects, which any attacker can produce:
//     refused by NewCORS, and a request from "null" matches nothing.
//   - Prefix, suffix and substring matching. Origins are compared whole
//     after normalisation, so https://example.com allows neither
//     https://example.com.evil.net, https://evilexample.com,
//     http://example.com nor https://example.com:8443. Wildcards such as
//     https://*.example.com are refused.
//   - Trusting plain-http origins with credentials, which lets a network
//     attacker inject a script there and read your answers: refused for
//     hosts other than loopback unless CORSOptions.AllowInsecureOrigins.
//   - Preflights granting too much. A preflight is answered 204 only when
//     the origin, the method and every requested header are allowed;
//     Access-Control-Allow-Headers names just the requested headers,
//     Access-Control-Allow-Private-Network is never sent, and anything
//     else is 403 application/problem+json without any Allow header.
//   - Cache poisoning across origins. Responses that depend on the Origin
//     get Vary: Origin (added to, never replacing, what is there);
//     preflights get Vary: Origin, Access-Control-Request-Method,
//     Access-Control-Request-Headers.
//
// Requests without Origin pass through untouched; requests from origins
// that are not allowed pass through without CORS headers, so the browser
// withholds the answer from the calling script. The zero CORSOptions (and
// the zero CORS) allow no cross-origin access at all.
//
// CORS is not access control: it only decides which browser scripts may
// read answers. Non-browser clients send any Origin they like, and simple
// requests (GET, HEAD, form POSTs) reach the handler whatever the
// origin, so state-changing operations still need authentication and CSRF
// protection.
//
// # Defaults and what weakens them
//
// Options (Headers):
//
//   - HSTSMaxAge: two years (DefaultHSTSMaxAge), at least one day. A
//     shorter max-age lets protection lapse sooner.
//   - HSTSSubdomains: SubdomainsAuto: includeSubDomains for domain names,
//     not for localhost, *.localhost and IP addresses (a development
//     machine's other local sites are not pinned to HTTPS for two years).
//     SubdomainsInclude and SubdomainsExclude decide for every host.
//   - HSTSPreload: off. Asks for inclusion in browsers' built-in list
//     (stronger: no first-visit gap; needs a max-age of a year).
//   - DisableHSTS: off. WEAKENS: no HSTS at all.
//   - AssumeTLS: off. Sends HSTS on plain-HTTP requests too (for TLS
//     terminated by a proxy); weakens nothing.
//   - ReportURI: off. Adds report-uri and report-to to both policies and
//     a Reporting-Endpoints header; weakens no policy, but reports (page
//     URLs, blocked URLs) go to that endpoint.
//   - Rand: crypto/rand. A predictable source makes nonces guessable and
//     the HTML policy worthless.
//   - A handler replacing a header: whatever it sets instead.
//
// CORSOptions:
//
//   - AllowedOrigins: none. Each entry lets its scripts read responses;
//     "*" lets everyone read responses that need no credentials.
//   - AllowCredentials: off. WEAKENS: listed origins act with your users'
//     cookies and HTTP authentication.
//   - AllowInsecureOrigins: off. WEAKENS: http:// origins with
//     credentials.
//   - AllowedMethods: GET, HEAD, POST, PUT, PATCH, DELETE.
//   - AllowedHeaders: Authorization, Content-Type, X-CSRF-Token,
//     X-Request-Id. Each addition is a header cross-origin scripts may send.
//   - ExposedHeaders: RateLimit, RateLimit-Policy, RateLimit-Limit,
//     RateLimit-Remaining, RateLimit-Reset, Retry-After, X-Request-Id,
//     Location. Each addition is a header cross-origin scripts may read.
//   - MaxAge: 600 s, at most one day. Longer delays the effect of
//     removing an origin, method or header.
package secheader

// Package tlsconfig gives servers HTTPS that is safe by default: a modern
// TLS configuration, certificates from files that are reloaded without a
// restart, from ACME (Let's Encrypt), or a self-signed development
// certificate, a plain-HTTP listener that only redirects, and HSTS.
//
// What it defends against:
//
//   - Protocol downgrades and weak ciphers: TLS 1.2 is the minimum; TLS
//     1.2 offers only ECDHE key exchange with AEAD ciphers (AES-GCM,
//     ChaCha20-Poly1305), so no CBC (Lucky13, POODLE-style padding
//     oracles), no RC4, no 3DES, no static-RSA key exchange (no forward
//     secrecy); TLS 1.3 suites are Go's, all AEAD. Go's server has no
//     renegotiation and no compression.
//   - Harvest-now-decrypt-later: the hybrid post-quantum key exchange
//     X25519MLKEM768 is preferred.
//   - Plaintext by default: a server without a certificate of its own gets
//     a development certificate rather than falling back to HTTP, and the
//     HTTP listener only redirects GET and HEAD (308) to HTTPS; HSTS tells
//     browsers to never try HTTP again (SSL stripping).
//   - Credentials silently sent in clear text: the HTTP listener never
//     redirects a request carrying Authorization, Cookie or X-API-Key, nor
//     any method but GET and HEAD; it answers 400 "use HTTPS", so that a
//     client misconfigured with http:// fails at once instead of
//     succeeding after a redirect.
//   - A trusted development certificate turned into a skeleton key: the
//     development certificate is a leaf (CA:FALSE), so trusting it lets
//     its key vouch for nothing but itself; older CA certificates are
//     replaced.
//   - Outages from certificate rotation: FileReloader swaps a renewed
//     pair in atomically, keeps serving the old pair when the new files
//     are broken or half-written, and warns before expiry.
//   - Open redirects and rate-limit abuse: the redirect handler redirects
//     only to the server's own names (by default the development names),
//     and ACME requests certificates only for the configured domains.
//
// Defaults:
//
//   - Server(): TLS 1.2 minimum; for TLS 1.2 the suites
//     ECDHE-{ECDSA,RSA}-{AES128-GCM-SHA256,AES256-GCM-SHA384,CHACHA20-POLY1305};
//     curves X25519MLKEM768, X25519, P-256; ALPN h2, http/1.1.
//   - DevCertificate: a self-signed leaf (CA:FALSE, digitalSignature,
//     serverAuth), ECDSA P-256, for localhost, 127.0.0.1 and ::1, valid
//     90 days, renewed when less than 14 days remain or when the existing
//     one is a CA, written to DIR/cert.pem and DIR/key.pem (key 0600,
//     directory 0700).
//   - NewFileReloader: polls every 5 s (content hash of both files, at
//     most 1 MiB each), logs to slog.Default(), refuses mismatched,
//     unparsable, expired and not-yet-valid pairs (logging each distinct
//     bad content once), warns once a day within ExpiryWarning (14 days)
//     of expiry.
//   - ACME: Let's Encrypt production directory (LetsEncryptURL), autocert
//     DirCache in CacheDir (0700, refused if others may access it), host
//     policy = exactly the configured domains, tls-alpn-01 on the HTTPS
//     listener (ALPN acme-tls/1 added to Server()'s) and http-01 through
//     HTTPHandler, renewal 30 days before expiry (autocert's default),
//     the CA's terms of service accepted.
//   - RedirectHandler: GET and HEAD without credentials get 308 to
//     https://host[:port]/path?query, port left out when 443,
//     Cache-Control: no-store; other methods, requests with credentials
//     and malformed or unlisted hosts get a 400 problem+json; the listed
//     hosts default to DevHosts (localhost, 127.0.0.1, ::1);
//     RedirectToCertificate lists the served certificate's names instead.
//     No HSTS over HTTP.
//   - HSTS: max-age=63072000 (two years, secheader.DefaultHSTSMaxAge: one
//     default for the whole project, spelled by secheader.HSTSValue),
//     includeSubDomains only on request, only on requests that arrived
//     over TLS.
//
// Wiring, in a server's main:
//
//	tc := tlsconfig.Server()                 // and set a certificate source:
//	r, err := tlsconfig.NewFileReloader(certFile, keyFile, tlsconfig.ReloaderOptions{Logger: log})
//	go r.Run(ctx); tc = r.TLSConfig()         // files, or
//	a, err := tlsconfig.ACME(tlsconfig.ACMEOptions{Domains: d, CacheDir: filepath.Join(dataDir, "acme")})
//	tc = a.TLSConfig()                        // ACME, plus on :80
//	http.ListenAndServe(":80", a.HTTPHandler(tlsconfig.RedirectHandler(httpsPort, d...)))
//	handler = tlsconfig.HSTS(handler, 0, false)
package tlsconfig

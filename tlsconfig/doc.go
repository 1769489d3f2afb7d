// Package tlsconfig gives servers a modern TLS configuration and, for
// development, a self-signed certificate that is created once and reused.
//
// What it defends against: protocol downgrades and weak ciphers (TLS 1.2 is
// the minimum; TLS 1.2 offers only ECDHE key exchange with AEAD ciphers;
// TLS 1.3 suites are Go's, all AEAD), and plaintext by default (a server
// that has no certificate of its own gets a development certificate rather
// than falling back to HTTP).
//
// Defaults: Server() prefers X25519MLKEM768, then X25519 and P-256, and
// advertises ALPN h2 and http/1.1. DevCertificate writes an ECDSA P-256
// certificate for localhost, 127.0.0.1 and ::1, valid 90 days, to
// DIR/cert.pem and DIR/key.pem (the key with mode 0600, the directory 0700),
// and renews it when less than 14 days remain.
package tlsconfig

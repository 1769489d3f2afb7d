package main

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
)

// withFortapiHeaders (--fortapi-headers) sets, on every response of next,
// the header fields fortapi serve sends on GET /protected: the security
// headers with fortapi's values, a fresh 128-bit request id, the
// RateLimit and RateLimit-Policy items of its two limits and the three
// legacy RateLimit fields, and over TLS Strict-Transport-Security. The
// values are fixed (nothing is limited or logged): this reference answers
// with the same fields and about the same bytes as fortapi, so that a run
// beside it tells the cost of the contract's fields in net/http and in the
// client apart from the cost of the protections that produce them.
func withFortapiHeaders(next http.Handler, tls bool) http.Handler {
	fixed := [][2]string{
		{"Cache-Control", "no-store"},
		{"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"},
		{"Cross-Origin-Opener-Policy", "same-origin"},
		{"Cross-Origin-Resource-Policy", "same-origin"},
		{"Permissions-Policy", "accelerometer=(), autoplay=(), browsing-topics=(), camera=(), display-capture=(), " +
			"encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), hid=(), idle-detection=(), " +
			"interest-cohort=(), magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), " +
			"screen-wake-lock=(), serial=(), usb=(), xr-spatial-tracking=()"},
		{"Referrer-Policy", "no-referrer"},
		{"X-Content-Type-Options", "nosniff"},
		{"X-Frame-Options", "DENY"},
		{"Ratelimit-Limit", "6000000"},
		{"Ratelimit-Remaining", "5999999"},
		{"Ratelimit-Reset", "1"},
	}
	if tls {
		fixed = append(fixed, [2]string{"Strict-Transport-Security", "max-age=63072000; includeSubDomains"})
	}
	// The value slices are built once and shared by every response, as
	// fortapi shares its constant ones: net/http only reads them.
	type field struct {
		key    string
		values []string
	}
	fields := make([]field, 0, len(fixed)+2)
	for _, kv := range fixed {
		fields = append(fields, field{kv[0], []string{kv[1]}})
	}
	fields = append(fields,
		field{"Ratelimit", []string{`"global";r=11999999;t=1`, `"reads";r=5999999;t=1`}},
		field{"Ratelimit-Policy", []string{`"global";q=12000000;w=60`, `"reads";q=6000000;w=60`}})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, f := range fields {
			h[f.key] = f.values
		}
		var id [16]byte
		_, _ = rand.Read(id[:]) // crypto/rand does not fail
		h["X-Request-Id"] = []string{hex.EncodeToString(id[:])}
		next.ServeHTTP(w, r)
	})
}

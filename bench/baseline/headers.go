package main

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"

	"github.com/fortapi/fortapi/secheader"
)

// withFortapiHeaders (--fortapi-headers) sets, on every response of next,
// the header fields fortapi serve sends on GET /protected: the security
// headers as secheader's defaults write them on an authenticated answer
// (with Strict-Transport-Security over TLS), a fresh 128-bit request id,
// the RateLimit and RateLimit-Policy items of fortapi's two limits and the
// three legacy RateLimit fields. The values are fixed (nothing is limited,
// logged or checked): this reference answers with the same fields and
// about the same bytes as fortapi, so that a run beside it tells the cost
// of the contract's fields in net/http and in the client apart from the
// cost of the protections that produce them.
func withFortapiHeaders(next http.Handler, tls bool) (http.Handler, error) {
	sec, err := secheader.New(secheader.Options{})
	if err != nil {
		return nil, err
	}
	// The security headers exactly as secheader writes them, once: an
	// authenticated request to 127.0.0.1, over TLS or not.
	req := httptest.NewRequest(http.MethodGet, "https://127.0.0.1/protected", nil)
	req.Header.Set("Authorization", "Bearer x")
	if !tls {
		req.TLS = nil
	}
	rec := httptest.NewRecorder()
	sec.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, req)

	// The value slices are built once and shared by every response, as
	// fortapi shares its constant ones: net/http only reads them.
	type field struct {
		key    string
		values []string
	}
	var fields []field
	for k, v := range rec.Header() {
		fields = append(fields, field{k, v})
	}
	fields = append(fields,
		field{"Ratelimit", []string{`"global";r=11999999;t=1`, `"reads";r=5999999;t=1`}},
		field{"Ratelimit-Policy", []string{`"global";q=12000000;w=60`, `"reads";q=6000000;w=60`}},
		field{"Ratelimit-Limit", []string{"6000000"}},
		field{"Ratelimit-Remaining", []string{"5999999"}},
		field{"Ratelimit-Reset", []string{"1"}})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for _, f := range fields {
			h[f.key] = f.values
		}
		var id [16]byte
		_, _ = rand.Read(id[:]) // crypto/rand does not fail
		h["X-Request-Id"] = []string{hex.EncodeToString(id[:])}
		next.ServeHTTP(w, r)
	}), nil
}

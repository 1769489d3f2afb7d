package tlsconfig_test

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/fortapi/fortapi/tlsconfig"
)

// A development certificate for localhost, 127.0.0.1 and ::1, created on
// first use in a directory of its own and reused until it nears expiry;
// its TLSConfig goes to fortapi.ServerOptions.TLSConfig (or any
// http.Server), which is then served with ListenAndServeTLS("", "").
func ExampleDevCertificate() {
	dir, err := os.MkdirTemp("", "devcert")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	dc, err := tlsconfig.DevCertificate(dir, tlsconfig.DevCertOptions{})
	if err != nil {
		panic(err)
	}
	tc := dc.TLSConfig()
	fmt.Println(dc.Created, dc.Certificate.Leaf.DNSNames, dc.Certificate.Leaf.IsCA)
	fmt.Println(tc.MinVersion == tls.VersionTLS12, tc.NextProtos, len(tc.Certificates))

	srv := &http.Server{Addr: "127.0.0.1:8443", TLSConfig: tc, ReadHeaderTimeout: 5 * time.Second}
	_ = srv // go srv.ListenAndServeTLS("", "")

	again, _ := tlsconfig.DevCertificate(dir, tlsconfig.DevCertOptions{})
	fmt.Println(again.Created, again.Fingerprint == dc.Fingerprint)
	// Output:
	// true [localhost] false
	// true [h2 http/1.1] 1
	// false true
}

// HSTS on responses that came over TLS, never over plain HTTP; the value
// is secheader's (one implementation), subdomains only when asked.
func ExampleHSTS() {
	h := tlsconfig.HSTS(http.NotFoundHandler(), 0, false)
	for _, overTLS := range []bool{false, true} {
		req := httptest.NewRequest("GET", "https://api.example.com/", nil)
		if !overTLS {
			req.TLS = nil
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Printf("TLS %v: %q\n", overTLS, rec.Header().Get("Strict-Transport-Security"))
	}
	// Output:
	// TLS false: ""
	// TLS true: "max-age=63072000"
}

// The plain-HTTP listener only redirects GET and HEAD to HTTPS, for the
// server's own names; requests with credentials are refused, not
// redirected, so a client configured with http:// fails at once.
func ExampleRedirectHandler() {
	h := tlsconfig.RedirectHandler("8443", "localhost")
	for _, auth := range []string{"", "Bearer abc"} {
		req := httptest.NewRequest("GET", "http://localhost/items?x=1", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("Location"))
	}
	// Output:
	// 308 https://localhost:8443/items?x=1
	// 400
}

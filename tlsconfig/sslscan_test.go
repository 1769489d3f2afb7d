package tlsconfig

import (
	"crypto/tls"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/internal/sslscan"
)

// TestSSLScan runs Debian's sslscan against servers configured with
// Server(), one with an ECDSA and one with an RSA certificate, and fails on
// any protocol below TLS 1.2, any suite that is not ECDHE (or TLS 1.3)
// with AEAD, any group under 128 bits, renegotiation, compression or
// Heartbleed. Without sslscan it skips, or fails under FORTAPI_TEST_STRICT=1
// (CI installs it). A deliberately weak server proves the check bites.
func TestSSLScan(t *testing.T) {
	bin, err := exec.LookPath("sslscan")
	if err != nil {
		skipOrFail(t, "sslscan is not installed (apt-get install sslscan): %v", err)
	}
	ca := newTestCA(t)
	weak := func() *tls.Config {
		c := Server()
		c.MinVersion = tls.VersionTLS10
		c.CipherSuites = append(c.CipherSuites, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_128_GCM_SHA256)
		return c
	}
	for _, tc := range []struct {
		name string
		rsa  bool
		cfg  *tls.Config
		want []string // problems expected; none for Server()
	}{
		{"ECDSA", false, Server(), nil},
		{"RSA", true, Server(), nil},
		{"weak server is caught", true, weak(), []string{"weak protocol enabled: tls 1.0", "weak protocol enabled: tls 1.1", "ECDHE-RSA-AES128-SHA", "AES128-GCM-SHA256"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := ca.issueNow(t)
			if tc.rsa {
				l = ca.issue(t, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), rsaKey(t))
			}
			tc.cfg.Certificates = []tls.Certificate{l.tls}
			problems, out := sslscanProblems(t, bin, serveTLS(t, tc.cfg, http.NotFoundHandler()), tc.rsa)
			if tc.want == nil {
				for _, p := range problems {
					t.Error(p)
				}
			} else {
				all := strings.Join(problems, "\n")
				for _, w := range tc.want {
					if !strings.Contains(all, w) {
						t.Errorf("sslscan check missed %q; found:\n%s", w, all)
					}
				}
			}
			if t.Failed() {
				t.Logf("sslscan output:\n%s", out)
			}
		})
	}
}

// sslscanProblems scans addr and lists every weakness found.
func sslscanProblems(t *testing.T, bin, addr string, rsa bool) ([]string, []byte) {
	t.Helper()
	problems, out, err := sslscan.Problems(bin, addr, rsa)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return problems, out
}

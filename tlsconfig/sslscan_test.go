package tlsconfig

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// sslscanReport is the part of `sslscan --xml=-` output the test checks.
type sslscanReport struct {
	Tests []struct {
		Protocols []struct {
			Type    string `xml:"type,attr"`
			Version string `xml:"version,attr"`
			Enabled string `xml:"enabled,attr"`
		} `xml:"protocol"`
		Renegotiation []struct {
			Supported string `xml:"supported,attr"`
			Secure    string `xml:"secure,attr"`
		} `xml:"renegotiation"`
		Compression []struct {
			Supported string `xml:"supported,attr"`
		} `xml:"compression"`
		Heartbleed []struct {
			Version    string `xml:"sslversion,attr"`
			Vulnerable string `xml:"vulnerable,attr"`
		} `xml:"heartbleed"`
		Ciphers []struct {
			Status   string `xml:"status,attr"`
			Version  string `xml:"sslversion,attr"`
			Bits     int    `xml:"bits,attr"`
			Name     string `xml:"cipher,attr"`
			Strength string `xml:"strength,attr"`
		} `xml:"cipher"`
		Groups []struct {
			Version string `xml:"sslversion,attr"`
			Bits    int    `xml:"bits,attr"`
			Name    string `xml:"name,attr"`
		} `xml:"group"`
	} `xml:"ssltest"`
}

// allowedSuites are the only suites a server with Server() may accept.
var allowedSuites = map[string]bool{
	"TLS_AES_128_GCM_SHA256":        true,
	"TLS_AES_256_GCM_SHA384":        true,
	"TLS_CHACHA20_POLY1305_SHA256":  true,
	"ECDHE-ECDSA-AES128-GCM-SHA256": true,
	"ECDHE-ECDSA-AES256-GCM-SHA384": true,
	"ECDHE-ECDSA-CHACHA20-POLY1305": true,
	"ECDHE-RSA-AES128-GCM-SHA256":   true,
	"ECDHE-RSA-AES256-GCM-SHA384":   true,
	"ECDHE-RSA-CHACHA20-POLY1305":   true,
}

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
func sslscanProblems(t *testing.T, bin, addr string, rsa bool) (problems []string, out []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--no-colour", "--xml=-", "--sni-name=localhost", addr).Output()
	if err != nil {
		t.Fatalf("sslscan: %v\n%s", err, out)
	}
	xmlStart := strings.Index(string(out), "<?xml")
	if xmlStart < 0 {
		t.Fatalf("no XML in sslscan output:\n%s", out)
	}
	var rep sslscanReport
	if err := xml.Unmarshal(out[xmlStart:], &rep); err != nil {
		t.Fatalf("parsing sslscan XML: %v\n%s", err, out)
	}
	if len(rep.Tests) != 1 {
		t.Fatalf("%d ssltest elements:\n%s", len(rep.Tests), out)
	}
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	r := rep.Tests[0]
	enabled := map[string]bool{}
	for _, p := range r.Protocols {
		name := p.Type + p.Version
		enabled[name] = p.Enabled == "1"
		if p.Enabled == "1" && name != "tls1.2" && name != "tls1.3" {
			add("weak protocol enabled: %s %s", p.Type, p.Version)
		}
	}
	if !enabled["tls1.2"] || !enabled["tls1.3"] {
		add("TLS 1.2 and 1.3 should both be enabled: %v", enabled)
	}
	versions := map[string]int{}
	for _, c := range r.Ciphers {
		if c.Status != "accepted" && c.Status != "preferred" {
			continue
		}
		versions[c.Version]++
		if !allowedSuites[c.Name] || c.Bits < 128 || c.Strength == "weak" || c.Strength == "medium" || c.Strength == "null" || c.Strength == "anonymous" {
			add("weak cipher accepted: %s %s (%d bits, %s)", c.Version, c.Name, c.Bits, c.Strength)
		}
		if c.Version == "TLSv1.2" && strings.HasPrefix(c.Name, "ECDHE-") && strings.Contains(c.Name, "-RSA-") != rsa {
			add("%s suite %s does not fit the certificate", c.Version, c.Name)
		}
	}
	if versions["TLSv1.2"] == 0 || versions["TLSv1.3"] == 0 {
		add("sslscan found no suites for TLS 1.2 or 1.3: %v", versions)
	}
	for _, g := range r.Groups {
		if g.Bits < 128 {
			add("weak group %s (%d bits) for %s", g.Name, g.Bits, g.Version)
		}
	}
	for _, rn := range r.Renegotiation {
		if rn.Supported == "1" && rn.Secure != "1" {
			add("insecure renegotiation supported")
		}
	}
	for _, c := range r.Compression {
		if c.Supported == "1" {
			add("TLS compression supported (CRIME)")
		}
	}
	for _, h := range r.Heartbleed {
		if h.Vulnerable != "0" {
			add("Heartbleed for %s", h.Version)
		}
	}
	return problems, out
}

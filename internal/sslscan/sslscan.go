// Package sslscan runs Debian's sslscan against a TLS server and lists
// every weakness it reports: a protocol below TLS 1.2, a suite that is not
// ECDHE (or TLS 1.3) with AEAD, a group under 128 bits, insecure
// renegotiation, compression, Heartbleed. Tests of tlsconfig and of
// `fortapi serve` share it.
package sslscan

import (
	"context"
	"encoding/xml"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// report is the part of `sslscan --xml=-` output the test checks.
type report struct {
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

// allowedSuites are the only suites tlsconfig.Server() may accept.
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

// Problems scans addr (HOST:PORT, SNI localhost) with the sslscan binary
// bin, for at most two minutes, and lists every weakness found; rsa says
// whether the server's certificate is RSA (else ECDSA). err is set when
// sslscan cannot run or its report cannot be read; out is its output.
func Problems(bin, addr string, rsa bool) (problems []string, out []byte, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err = exec.CommandContext(ctx, bin, "--no-colour", "--xml=-", "--sni-name=localhost", addr).Output()
	if err != nil {
		return nil, out, fmt.Errorf("sslscan: %w", err)
	}
	xmlStart := strings.Index(string(out), "<?xml")
	if xmlStart < 0 {
		return nil, out, fmt.Errorf("no XML in sslscan output")
	}
	var rep report
	if err := xml.Unmarshal(out[xmlStart:], &rep); err != nil {
		return nil, out, fmt.Errorf("parsing sslscan XML: %w", err)
	}
	if len(rep.Tests) != 1 {
		return nil, out, fmt.Errorf("%d ssltest elements", len(rep.Tests))
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
	return problems, out, nil
}

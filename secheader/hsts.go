package secheader

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Subdomains says whether Strict-Transport-Security carries
// includeSubDomains (Options.HSTSSubdomains).
type Subdomains uint8

const (
	// SubdomainsAuto (the default) includes subdomains for a request to a
	// domain name, but not for one to localhost, a *.localhost name or an
	// IP address: on a development machine includeSubDomains would pin
	// every *.localhost site to HTTPS for the max-age (browsers ignore
	// HSTS for IP addresses anyway, RFC 6797 §8.1.1).
	SubdomainsAuto Subdomains = iota
	// SubdomainsInclude always sends includeSubDomains: every subdomain
	// of the host must serve HTTPS for the whole max-age.
	SubdomainsInclude
	// SubdomainsExclude never sends includeSubDomains: the policy covers
	// the host alone.
	SubdomainsExclude
)

// HSTSValue returns the Strict-Transport-Security value for maxAge
// (whole seconds; zero or less means DefaultHSTSMaxAge), with
// includeSubDomains and preload as asked. It is the one place fortapi
// spells the header: Headers and tlsconfig.HSTS both use it. It checks
// the limits: a max-age below MinHSTSMaxAge, or preload without
// includeSubDomains or below MinHSTSPreloadMaxAge, is an error.
func HSTSValue(maxAge time.Duration, includeSubDomains, preload bool) (string, error) {
	if maxAge <= 0 {
		maxAge = DefaultHSTSMaxAge
	}
	if maxAge < MinHSTSMaxAge {
		return "", fmt.Errorf("secheader: HSTS max-age %v is below the minimum of %v (send no HSTS instead)", maxAge, MinHSTSMaxAge)
	}
	if preload && (!includeSubDomains || maxAge < MinHSTSPreloadMaxAge) {
		return "", fmt.Errorf("secheader: HSTS preload needs includeSubDomains and a max-age of at least %v, not %v", MinHSTSPreloadMaxAge, maxAge)
	}
	v := "max-age=" + strconv.FormatInt(int64(maxAge/time.Second), 10)
	if includeSubDomains {
		v += "; includeSubDomains"
	}
	if preload {
		v += "; preload"
	}
	return v, nil
}

// localHost reports whether host (a Host header: name or address, with or
// without a port) is localhost, a *.localhost name or an IP address, where
// SubdomainsAuto leaves includeSubDomains out.
func localHost(host string) bool {
	if strings.HasPrefix(host, "[") { // an IPv6 literal, with or without port
		return true
	}
	if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	if len(host) >= len("localhost") {
		tail := host[len(host)-len("localhost"):]
		if strings.EqualFold(tail, "localhost") && (len(host) == len("localhost") || host[len(host)-len("localhost")-1] == '.') {
			return true
		}
	}
	if host == "" {
		return true // no name: nothing to extend to subdomains
	}
	if c := host[len(host)-1]; c >= '0' && c <= '9' { // cheap pre-check: only IPv4 literals end in a digit here
		_, err := netip.ParseAddr(host)
		return err == nil
	}
	return false
}

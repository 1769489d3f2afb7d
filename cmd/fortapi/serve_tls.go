package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/fortapi/fortapi/tlsconfig"
)

// certSource is where the HTTPS listener's certificate comes from.
type certSource struct {
	kind     string // "files", "acme" or "development"
	config   *tls.Config
	reloader *tlsconfig.FileReloader                  // kind files
	acme     *tlsconfig.ACMEManager                   // kind acme
	notAfter func(context.Context) (time.Time, error) // of the served certificate
}

// certificates sets up the certificate source the flags choose: files
// (reloaded when they change), ACME, or the development certificate.
func (cfg serveConfig) certificates(log *slog.Logger) (*certSource, error) {
	var src *certSource
	switch {
	case cfg.tlsCert != "":
		r, err := tlsconfig.NewFileReloader(cfg.tlsCert, cfg.tlsKey, tlsconfig.ReloaderOptions{Logger: log, PollInterval: cfg.reloadInterval})
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		leaf := r.Leaf()
		log.Info("certificate from files, reloaded when they change",
			"cert", cfg.tlsCert, "key", cfg.tlsKey, "subject", leaf.Subject.String(), "dns_names", strings.Join(leaf.DNSNames, ","),
			"sha256", r.Fingerprint(), "not_after", r.NotAfter().UTC().Format(time.RFC3339), "poll_interval", cfg.reloadInterval.String())
		src = &certSource{kind: "files", config: r.TLSConfig(), reloader: r,
			notAfter: func(context.Context) (time.Time, error) { return r.NotAfter(), r.Err() }}
	case len(cfg.acmeDomains) > 0:
		cache := filepath.Join(cfg.dataDir, "acme")
		a, err := tlsconfig.ACME(tlsconfig.ACMEOptions{Domains: cfg.acmeDomains, CacheDir: cache, Email: cfg.acmeEmail, DirectoryURL: cfg.acmeDirectory})
		if err != nil {
			return nil, fmt.Errorf("ACME: %w", err)
		}
		log.Info("certificates from ACME (the CA's terms of service are accepted)",
			"domains", strings.Join(cfg.acmeDomains, ","), "directory", cfg.acmeDirectory, "cache", cache)
		src = &certSource{kind: "acme", config: a.TLSConfig(), acme: a, notAfter: a.NotAfter}
	default:
		dc, err := tlsconfig.DevCertificate(filepath.Join(cfg.dataDir, "tls"), tlsconfig.DevCertOptions{})
		if err != nil {
			return nil, fmt.Errorf("development certificate: %w", err)
		}
		if dc.ReplacedCA {
			log.Warn("replaced the development certificate, which was an unconstrained CA: whoever read its key.pem can sign certificates for any name; remove it from every trust store it was added to",
				"cert", dc.CertFile)
		} else if dc.Replaced != "" {
			log.Info("replaced the development certificate", "cert", dc.CertFile, "reason", dc.Replaced)
		}
		log.Info("development certificate (a self-signed leaf for localhost, 127.0.0.1 and ::1; trust it with curl --cacert)",
			"cert", dc.CertFile, "sha256", dc.Fingerprint, "not_after", dc.NotAfter.UTC().Format(time.RFC3339), "created", dc.Created)
		tc := tlsconfig.Server()
		tc.Certificates = []tls.Certificate{dc.Certificate}
		src = &certSource{kind: "development", config: tc,
			notAfter: func(context.Context) (time.Time, error) { return dc.NotAfter, nil }}
	}
	src.logExpiry(context.Background(), log)
	return src, nil
}

// redirectHandler is the plain-HTTP listener's handler: 308 for GET and
// HEAD without credentials, to the server's own names only: the ACME
// domains, the names of the certificate files (as served at the time of
// the request), or the development certificate's. hosts describes them
// for the log.
func (c *certSource) redirectHandler(httpsPort string) (h http.Handler, hosts string) {
	switch {
	case c.acme != nil:
		d := c.acme.Domains()
		return tlsconfig.RedirectHandler(httpsPort, d...), strings.Join(d, ",")
	case c.reloader != nil:
		return tlsconfig.RedirectToCertificate(httpsPort, c.reloader.Leaf), "the names of the served certificate"
	default:
		d := tlsconfig.DevHosts()
		return tlsconfig.RedirectHandler(httpsPort, d...), strings.Join(d, ",")
	}
}

// logExpiry warns when the served certificate expires within
// tlsconfig.ExpiryWarning (14 days), or has expired.
func (c *certSource) logExpiry(ctx context.Context, log *slog.Logger) {
	t, err := c.notAfter(ctx)
	switch {
	case errors.Is(err, tlsconfig.ErrNoCertificate):
		log.Info("ACME: no certificate in the cache yet; obtaining one", "error", err.Error())
	case t.IsZero():
	case !time.Now().Before(t):
		log.Error("the TLS certificate has expired", "source", c.kind, "not_after", t.UTC().Format(time.RFC3339))
	case time.Until(t) < tlsconfig.ExpiryWarning:
		log.Warn("the TLS certificate expires within 14 days", "source", c.kind, "not_after", t.UTC().Format(time.RFC3339))
	}
}

// expiry is the served certificate's expiry for /readyz, which is public:
// problems are described without paths or CA messages (those are logged).
func (c *certSource) expiry(ctx context.Context) (time.Time, error) {
	t, err := c.notAfter(ctx)
	switch {
	case err == nil:
		return t, nil
	case c.kind == "files":
		return t, errors.New("the certificate files on disk were refused; the previous certificate is still served (see the log)")
	case errors.Is(err, tlsconfig.ErrNoCertificate):
		return t, errors.New("ACME: no certificate yet for every domain")
	default:
		return t, errors.New("the certificate could not be checked (see the log)")
	}
}

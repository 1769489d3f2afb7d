package fortapi

import (
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"
)

// ServerOptions bound what one connection may cost. Zero fields take the
// documented defaults.
type ServerOptions struct {
	// ReadHeaderTimeout bounds reading the request line and headers
	// (default 5s; slowloris).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request (default 30s).
	ReadTimeout time.Duration
	// WriteTimeout bounds writing the response (default 30s).
	WriteTimeout time.Duration
	// IdleTimeout bounds keep-alive idleness (default 120s).
	IdleTimeout time.Duration
	// MaxHeaderBytes is net/http's hard cap on the header block (default
	// twice DefaultMaxHeaderBytes). Requests between the API's soft cap and
	// this one get a 431 problem+json; above it net/http answers 431 itself.
	MaxHeaderBytes int
	// TLSConfig, when set, is the server's TLS configuration: serve with
	// srv.ListenAndServeTLS("", "") (or ServeTLS on a listener), and the
	// certificate comes from it. Build it with tlsconfig: Server() with a
	// certificate source — tlsconfig.FileReloader.TLSConfig (files
	// reloaded on renewal), ACMEManager.TLSConfig (Let's Encrypt), or
	// DevCert.TLSConfig (a self-signed development certificate). It is
	// used as it is: nil means no TLS (plain HTTP behind a
	// TLS-terminating proxy, or local development), and NewServer never
	// weakens what it is given. HSTS goes on every answer that arrived
	// over TLS (secheader, in the API's handler).
	TLSConfig *tls.Config
	// Logger receives net/http's own errors (TLS handshakes, ...) at Debug
	// level (default slog.Default()).
	Logger *slog.Logger
}

// NewServer returns an http.Server for h with the timeouts, header cap and
// TLS configuration of opts.
//
//	tc, err := tlsconfig.DevCertificate(dir, tlsconfig.DevCertOptions{}) // or a FileReloader, ACME
//	srv := fortapi.NewServer(":8443", h, fortapi.ServerOptions{TLSConfig: tc.TLSConfig()})
//	err = srv.ListenAndServeTLS("", "")
func NewServer(addr string, h http.Handler, opts ServerOptions) *http.Server {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.ReadHeaderTimeout, 5*time.Second)
	def(&opts.ReadTimeout, 30*time.Second)
	def(&opts.WriteTimeout, 30*time.Second)
	def(&opts.IdleTimeout, 120*time.Second)
	if opts.MaxHeaderBytes <= 0 {
		opts.MaxHeaderBytes = 2 * DefaultMaxHeaderBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		TLSConfig:         opts.TLSConfig,
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
	}
}

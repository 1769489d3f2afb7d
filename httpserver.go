package fortapi

import (
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
	// Logger receives net/http's own errors (TLS handshakes, ...) at Debug
	// level (default slog.Default()).
	Logger *slog.Logger
}

// NewServer returns an http.Server for h with the timeouts and header cap
// of opts.
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
		ErrorLog:          slog.NewLogLogger(opts.Logger.Handler(), slog.LevelDebug),
	}
}

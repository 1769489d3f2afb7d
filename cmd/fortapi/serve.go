package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"time"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/internal/jsonlog"
	"github.com/fortapi/fortapi/secret"
	"github.com/fortapi/fortapi/server/app"
	"github.com/fortapi/fortapi/server/authn"
)

// newLogger is the server's log: JSON or text on w, with every record
// passed through secret.NewRedactingHandler, so that passwords, tokens,
// cookies and keys are redacted by attribute key and scrubbed from
// messages and string values (JWTs, Bearer and Basic credentials).
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	// jsonlog writes what slog's JSON handler writes, with half the work
	// for an access-log line.
	var h slog.Handler = jsonlog.New(w, level)
	if format == "text" {
		h = slog.NewTextHandler(w, &slog.HandlerOptions{Level: level})
	}
	return slog.New(secret.NewRedactingHandler(h))
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (code int) {
	cfg, code, ok := parseServe(args, getenv, stdout, stderr)
	if !ok {
		return code
	}
	sampleHeap(cfg.admin.pprof)
	// The log and the lines serve prints directly share one buffered
	// sink, so their order is kept and a request costs no write(2).
	// Warnings and errors are written out at once (flushOnWarn); on
	// every return, the rest is written and synced, and a failure to
	// write the log is reported on the real stderr and fails the exit
	// code.
	realStderr := stderr
	sink := newLogSink(stderr, logFlushEvery, logBufferMax)
	defer func() {
		if err := sink.Close(); err != nil {
			fmt.Fprintf(realStderr, "fortapi serve: %v\n", err)
			code = exitError
		}
	}()
	stderr = sink
	log := newLogger(stderr, cfg.logFormat, cfg.logLevel)
	log = slog.New(flushOnWarn{Handler: log.Handler(), sink: sink})
	if err := serve(ctx, cfg, getenv, log, stderr); err != nil {
		var r refusal
		if errors.As(err, &r) {
			log.Error("refusing to start in production mode", "problems", len(r))
			for _, p := range r {
				fmt.Fprintf(stderr, "fortapi serve: %s\n", p)
			}
			return exitError
		}
		log.Error("fortapi serve failed", "error", err.Error())
		fmt.Fprintf(stderr, "fortapi serve: %v\n", err)
		return exitError
	}
	return exitOK
}

func serve(ctx context.Context, cfg serveConfig, getenv func(string) string, log *slog.Logger, stderr io.Writer) error {
	if err := os.MkdirAll(cfg.dataDir, 0o700); err != nil {
		return fmt.Errorf("creating the data directory: %w", err)
	}
	if st, err := os.Stat(cfg.dataDir); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("the data directory is accessible to other users; it holds the database and keys: chmod 700 it",
			"path", cfg.dataDir, "mode", st.Mode().Perm().String())
	}
	for _, w := range cfg.pgWarnings {
		log.Warn("PostgreSQL URL: " + w)
	}
	sc, err := storeConfig(cfg.dataDir, cfg.postgresURL, true)
	if err != nil {
		return err
	}
	if cfg.env == envProduction {
		if problems := cfg.productionProblems(ctx, getenv, sc); len(problems) > 0 {
			return problems
		}
		log.Info("production mode: secrets, certificate and transport checked")
	}
	mk, err := masterKey(cfg.dataDir, getenv, log, true)
	if err != nil {
		return err
	}
	defer clear(mk)
	cfg.rates.logStart(log)
	logAuditRetention(log, cfg.admin.auditRetention)
	cfg.oidc.logStart(log)

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	if tuneGC(getenv, log) {
		t := time.NewTicker(gcTuneEvery)
		defer t.Stop()
		go newGCTuner().run(bg, t.C)
	}
	var tlsSrc *certSource
	if !cfg.insecureHTTP {
		if tlsSrc, err = cfg.certificates(log); err != nil {
			return err
		}
		if tlsSrc.reloader != nil {
			go tlsSrc.reloader.Run(bg)
		}
	}
	ac := cfg.appConfig(sc, mk, log)
	if tlsSrc != nil {
		ac.CertExpiry = tlsSrc.expiry
	}
	ac.AuditRetention = cfg.admin.appRetention()
	reg := newMetricsRegistry()
	if cfg.admin.addr != "" {
		ac.Metrics = reg
	}
	a, err := app.New(ctx, ac)
	if err != nil {
		return err
	}
	defer func() {
		if err := a.Close(); err != nil {
			log.Error("closing the store", "error", err.Error())
		}
	}()
	go a.Run(bg)
	handler := a.Handler()

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.addr, err)
	}
	scheme := "https"
	if cfg.insecureHTTP {
		scheme = "http"
		log.Warn("serving plain HTTP (--insecure-http): credentials cross the network unencrypted unless a TLS-terminating proxy is in front of this server")
	} else {
		ln = tls.NewListener(ln, tlsSrc.config)
	}
	srv := fortapi.NewServer(cfg.addr, handler, fortapi.ServerOptions{Logger: log})
	srv.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }

	errc := make(chan error, 3)
	var redirect *http.Server
	var hln net.Listener
	switch {
	case cfg.httpAddr == "":
	case cfg.insecureHTTP:
		log.Info("no HTTP redirect listener with --insecure-http", "http_addr", cfg.httpAddr)
	default:
		if hln, err = net.Listen("tcp", cfg.httpAddr); err != nil {
			ln.Close()
			return fmt.Errorf("listening on --http-addr %s: %w", cfg.httpAddr, err)
		}
	}
	admin, err := listenAdmin(cfg.admin, reg, log)
	if err != nil {
		ln.Close()
		if hln != nil {
			hln.Close()
		}
		return err
	}
	// Only now that every listener is bound: a start that fails earlier
	// (a port taken) must not create the administrator, whose generated
	// password would be printed by a run that then exits, and never again.
	if err := bootstrapAdmin(ctx, a.Auth(), getenv, log, stderr); err != nil {
		ln.Close()
		if hln != nil {
			hln.Close()
		}
		if admin != nil {
			admin.ln.Close()
		}
		return err
	}
	if hln != nil {
		_, httpsPort, _ := net.SplitHostPort(ln.Addr().String())
		h, hosts := tlsSrc.redirectHandler(httpsPort)
		if tlsSrc.acme != nil {
			h = tlsSrc.acme.HTTPHandler(h)
		}
		redirect = fortapi.NewServer(cfg.httpAddr, h, fortapi.ServerOptions{Logger: log})
		redirect.BaseContext = srv.BaseContext
		go func() { errc <- redirect.Serve(hln) }()
		log.Info("redirecting HTTP to HTTPS", "url", "http://"+displayAddr(hln.Addr()), "https_port", httpsPort,
			"hosts", hosts, "methods", "GET,HEAD", "acme_http01", tlsSrc.acme != nil)
	}
	if admin != nil {
		admin.serve(errc, cfg.admin, log)
	}
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "url", scheme+"://"+displayAddr(ln.Addr()), "docs", scheme+"://"+displayAddr(ln.Addr())+fortapi.DocsPath)
	if tlsSrc != nil && tlsSrc.acme != nil {
		go func() {
			if err := tlsSrc.acme.Obtain(bg); err != nil {
				log.Error("ACME: obtaining a certificate failed; retried at the next handshake", "error", err.Error())
				return
			}
			tlsSrc.logExpiry(bg, log)
		}()
	}

	select {
	case err := <-errc:
		if redirect != nil {
			_ = redirect.Close()
		}
		if admin != nil {
			_ = admin.srv.Close()
		}
		_ = srv.Close()
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if redirect != nil {
		_ = redirect.Shutdown(sctx)
	}
	if admin != nil {
		admin.shutdown(sctx)
	}
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests did not finish in time; closing their connections", "error", err.Error())
		_ = srv.Close()
	}
	servers := 1
	if redirect != nil {
		servers++
	}
	if admin != nil {
		servers++
	}
	for range servers {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving: %w", err)
		}
	}
	log.Info("stopped")
	return nil
}

// displayAddr turns a listener address into one a client can dial:
// an unspecified host becomes localhost.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

// bootstrapAdmin creates the user admin on a store without users, with the
// password from FORTAPI_ADMIN_PASSWORD(_FILE) or a random one, which is
// printed once, to the log on stderr.
func bootstrapAdmin(ctx context.Context, auth *authn.Service, getenv func(string) string, log *slog.Logger, stderr io.Writer) error {
	pw, warnings, err := adminPassword(getenv)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		log.Warn("administrator password: " + w)
	}
	generated, created, err := auth.Bootstrap(ctx, pw)
	if err != nil {
		return err
	}
	switch {
	case !created:
	case generated != "":
		// Shown once, on stderr and not in the log: it is kept nowhere but
		// as a hash.
		log.Warn("created the administrator \"admin\" with a generated password, printed once on stderr")
		fmt.Fprintf(stderr, "\nfortapi: created the administrator \"admin\". Its password, shown only this once:\n\n    %s\n\nChange it with PUT /users/me/password, or reset it with\n    fortapi user set-password admin --password-stdin\n\n", generated)
	default:
		log.Info("created the administrator \"admin\" with the password from FORTAPI_ADMIN_PASSWORD(_FILE)")
	}
	return nil
}

// defaultMemProfileRate is Go's default runtime.MemProfileRate: one
// sample every 512 KiB allocated.
const defaultMemProfileRate = 512 * 1024

// sampleHeap turns heap-allocation sampling (which main turns off) back
// on when the profiler is served, so that its heap and allocs profiles
// show the server's allocations.
func sampleHeap(pprof bool) {
	if pprof && runtime.MemProfileRate == 0 {
		runtime.MemProfileRate = defaultMemProfileRate
	}
}

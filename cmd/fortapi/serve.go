package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/httpapi"
	"github.com/fortapi/fortapi/server/sqlite"
	"github.com/fortapi/fortapi/tlsconfig"
)

// serveConfig is the typed configuration of `fortapi serve`.
type serveConfig struct {
	dataDir         string
	addr            string
	insecureHTTP    bool
	rateScale       float64
	logLevel        slog.Level
	logFormat       string
	shutdownTimeout time.Duration
}

const serveHelp = `Runs the fortapi reference server: the items API, OpenAPI document at
/openapi.json, docs at /docs, /healthz and /readyz. It serves HTTPS on --addr
with a self-signed development certificate kept in DATA-DIR/tls (created on
first start; its path and SHA-256 fingerprint are logged). SIGINT or SIGTERM
stop it gracefully: no new connections, in-flight requests get
--shutdown-timeout to finish, then the store is closed.
`

func parseServe(args []string, getenv func(string) string, stdout, stderr io.Writer) (serveConfig, int, bool) {
	c := newCommand("serve", serveHelp)
	var cfg serveConfig
	var level, format string
	c.fs.StringVar(&cfg.dataDir, "data-dir", "./fortapi-data", "`DIR` for the SQLite database, generated secrets and the development certificate")
	c.fs.StringVar(&cfg.addr, "addr", ":8443", "`HOST:PORT` to serve HTTPS on (port 0 picks a free port)")
	c.fs.BoolVar(&cfg.insecureHTTP, "insecure-http", false, "serve plain HTTP on --addr, only for running behind a TLS-terminating proxy (logged as a warning)")
	c.fs.Float64Var(&cfg.rateScale, "rate-scale", 1, "multiply every rate limit by `N` (load tests; the limiter still runs)")
	c.fs.StringVar(&level, "log-level", "info", "`LEVEL` of the log: debug, info, warn or error")
	c.fs.StringVar(&format, "log-format", "json", "`FORMAT` of the log on stderr: json or text")
	c.fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 15*time.Second, "how long in-flight requests get to finish at shutdown (`DURATION`, 1s to 10m)")
	if code, ok := c.parse(args, getenv, stdout, stderr); !ok {
		return cfg, code, false
	}
	fail := func(format string, a ...any) (serveConfig, int, bool) {
		fmt.Fprintf(stderr, "fortapi serve: "+format+"\n", a...)
		return cfg, exitUsage, false
	}
	if strings.TrimSpace(cfg.dataDir) == "" {
		return fail("--data-dir must not be empty")
	}
	if _, port, err := net.SplitHostPort(cfg.addr); err != nil || port == "" {
		return fail("invalid --addr %q: want HOST:PORT, e.g. :8443 or 127.0.0.1:8443", cfg.addr)
	}
	if math.IsNaN(cfg.rateScale) || cfg.rateScale <= 0 || cfg.rateScale > 1e6 {
		return fail("invalid --rate-scale %v: want a number above 0 and at most 1000000", cfg.rateScale)
	}
	if err := cfg.logLevel.UnmarshalText([]byte(level)); err != nil {
		return fail("invalid --log-level %q: want debug, info, warn or error", level)
	}
	if format != "json" && format != "text" {
		return fail("invalid --log-format %q: want json or text", format)
	}
	cfg.logFormat = format
	if cfg.shutdownTimeout < time.Second || cfg.shutdownTimeout > 10*time.Minute {
		return fail("invalid --shutdown-timeout %v: want 1s to 10m", cfg.shutdownTimeout)
	}
	return cfg, exitOK, true
}

func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, o))
	}
	return slog.New(slog.NewJSONHandler(w, o))
}

// scopeDocs describes every scope the server grants, for the OpenAPI
// document's OAuth2 flow.
var scopeDocs = map[string]string{
	server.ScopeItemsRead:  "read your items",
	server.ScopeItemsWrite: "create, change and delete your items",
	server.ScopeUsersAdmin: "administer users; see every user's items",
	server.ScopeKeysAdmin:  "rotate the token signing keys",
}

// buildAPI registers the reference server's operations on a fortapi API
// and returns its handler. st is nil when the API is built only for its
// document.
func buildAPI(log *slog.Logger, store server.Store, st *authStack, auth fortapi.Authenticator) (*fortapi.API, http.Handler, error) {
	api := fortapi.New(fortapi.Options{
		Title:         "fortapi",
		Version:       version(),
		Description:   "The fortapi reference server: a secure items API. Log in with POST /token (OAuth2 password grant).",
		Authenticator: auth,
		Logger:        log,
		OAuth2:        &fortapi.OAuth2Password{TokenURL: "/token", Scopes: scopeDocs},
	})
	deps := httpapi.Deps{Store: store}
	if st != nil {
		deps.Auth, deps.Keys = st.svc, st.keys
	}
	httpapi.Register(api, deps)
	h, err := api.Handler()
	if err != nil {
		return nil, nil, err
	}
	return api, h, nil
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, code, ok := parseServe(args, getenv, stdout, stderr)
	if !ok {
		return code
	}
	log := newLogger(stderr, cfg.logFormat, cfg.logLevel)
	if err := serve(ctx, cfg, getenv, log, stderr); err != nil {
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
	dbPath := filepath.Join(cfg.dataDir, "fortapi.db")
	// Create the database file private to this user before SQLite does:
	// SQLite gives its -wal and -shm files the database file's mode.
	f, err := os.OpenFile(dbPath, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("creating the database %s: %w", dbPath, err)
	}
	f.Close()
	store, err := sqlite.Open(ctx, dbPath, sqlite.Options{})
	if err != nil {
		return fmt.Errorf("opening the database %s: %w", dbPath, err)
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("closing the database", "error", err.Error())
		}
	}()
	log.Info("database open", "path", dbPath)

	st, err := openAuth(ctx, cfg.dataDir, store, getenv, log, true)
	if err != nil {
		return err
	}
	if err := st.svc.Sync(ctx); err != nil {
		return err
	}
	if err := bootstrapAdmin(ctx, st, getenv, log, stderr); err != nil {
		return err
	}
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
	go st.svc.Run(bg)

	_, handler, err := buildAPI(log, store, st, st.svc)
	if err != nil {
		return err
	}
	if cfg.rateScale != 1 {
		log.Warn("rate limits scaled (--rate-scale)", "factor", cfg.rateScale)
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.addr, err)
	}
	scheme := "https"
	if cfg.insecureHTTP {
		scheme = "http"
		log.Warn("serving plain HTTP (--insecure-http): credentials cross the network unencrypted unless a TLS-terminating proxy is in front of this server")
	} else {
		dc, err := tlsconfig.DevCertificate(filepath.Join(cfg.dataDir, "tls"), tlsconfig.DevCertOptions{})
		if err != nil {
			ln.Close()
			return fmt.Errorf("development certificate: %w", err)
		}
		log.Info("development certificate (self-signed; trust it with curl --cacert)",
			"cert", dc.CertFile, "sha256", dc.Fingerprint, "not_after", dc.NotAfter.UTC().Format(time.RFC3339), "created", dc.Created)
		tc := tlsconfig.Server()
		tc.Certificates = []tls.Certificate{dc.Certificate}
		ln = tls.NewListener(ln, tc)
	}
	srv := fortapi.NewServer(cfg.addr, handler, fortapi.ServerOptions{Logger: log})
	srv.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "url", scheme+"://"+displayAddr(ln.Addr()), "docs", scheme+"://"+displayAddr(ln.Addr())+fortapi.DocsPath)

	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.shutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests did not finish in time; closing their connections", "error", err.Error())
		_ = srv.Close()
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", err)
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

const openapiHelp = `Prints the OpenAPI 3.1 document of the reference server (the same one
it serves at /openapi.json), indented, to stdout.
`

func runOpenAPI(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	c := newCommand("openapi", openapiHelp)
	if code, ok := c.parse(args, getenv, stdout, stderr); !ok {
		return code
	}
	api, _, err := buildAPI(slog.New(slog.DiscardHandler), nil, nil, nil)
	if err != nil {
		fmt.Fprintf(stderr, "fortapi openapi: %v\n", err)
		return exitError
	}
	doc, err := api.OpenAPIJSON()
	if err == nil {
		var buf bytes.Buffer
		if err = json.Indent(&buf, doc, "", "  "); err == nil {
			buf.WriteByte('\n')
			_, err = stdout.Write(buf.Bytes())
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "fortapi openapi: %v\n", err)
		return exitError
	}
	return exitOK
}

// bootstrapAdmin creates the user admin on a store without users, with the
// password from FORTAPI_ADMIN_PASSWORD(_FILE) or a random one, which is
// printed once, to the log on stderr.
func bootstrapAdmin(ctx context.Context, st *authStack, getenv func(string) string, log *slog.Logger, stderr io.Writer) error {
	pw, err := adminPassword(getenv)
	if err != nil {
		return err
	}
	generated, created, err := st.svc.Bootstrap(ctx, pw)
	if err != nil {
		return err
	}
	switch {
	case !created:
	case generated != "":
		// Shown once, on stderr and not in the log: it is kept nowhere but
		// as a hash.
		log.Warn("created the administrator \"admin\" with a generated password, printed once on stderr")
		fmt.Fprintf(stderr, "\nfortapi: created the administrator \"admin\". Its password, shown only this once:\n\n    %s\n\nChange it with PUT /users/me/password.\n\n", generated)
	default:
		log.Info("created the administrator \"admin\" with the password from FORTAPI_ADMIN_PASSWORD(_FILE)")
	}
	return nil
}

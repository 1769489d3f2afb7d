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
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/clientip"
	"github.com/fortapi/fortapi/ratelimit"
	"github.com/fortapi/fortapi/ratelimit/redisstore"
	"github.com/fortapi/fortapi/secret"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/app"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/tlsconfig"
)

// serveConfig is the typed configuration of `fortapi serve`.
type serveConfig struct {
	dataDir         string
	postgresURL     string   // may hold a password: never logged (app.MaskURL)
	pgWarnings      []string // about FORTAPI_POSTGRES_URL_FILE, for the log
	addr            string
	insecureHTTP    bool
	rateScale       int
	logLevel        slog.Level
	logFormat       string
	shutdownTimeout time.Duration
	rates           rateConfig

	httpAddr       string // the redirect listener; "" is none
	tlsCert        string // certificate file, with --tls-key
	tlsKey         string //
	reloadInterval time.Duration
	acmeDomains    []string // ACME instead of files
	acmeEmail      string
	acmeDirectory  string
	env            string // development or production
	corsOrigins    []string
}

// Environments of --env.
const (
	envDevelopment = "development"
	envProduction  = "production"
)

// Bounds of the rate flags.
const (
	maxRateScale = 1_000_000
	maxInstances = 1000
)

// rateConfig is how `fortapi serve` limits request rates: the limits
// (app.Limits, defaults app.DefaultLimits) and who names the client.
type rateConfig struct {
	app.Limits
	trusted []netip.Prefix
	header  string // the forwarding header the trusted proxies write
}

// defaultRates are the limits without flags: the documented defaults.
func defaultRates() rateConfig {
	return rateConfig{Limits: app.DefaultLimits(), header: clientip.XForwardedFor}
}

const serveHelp = `Runs the fortapi reference server: the items API, OpenAPI document at
/openapi.json, docs at /docs, /healthz and /readyz.

It serves HTTPS on --addr with the certificate in --tls-cert/--tls-key
(reloaded when the files change), one obtained by ACME for --acme-domain
(cached in DATA-DIR/acme), or else a self-signed development certificate
kept in DATA-DIR/tls. HTTPS responses carry HSTS (two years) and the security headers of secheader. --http-addr
redirects GET and HEAD to HTTPS (308), only to the server's own names, and
answers ACME http-01 challenges; other methods, and any request carrying
credentials (Authorization, Cookie, X-API-Key), get 400 "use HTTPS".

The master key that seals the signing keys comes from FORTAPI_MASTER_KEY or
FORTAPI_MASTER_KEY_FILE, or is generated in DATA-DIR/secrets/master.key. On a
fresh database the user admin is created, once the listeners are bound, with
FORTAPI_ADMIN_PASSWORD(_FILE) or a random password printed once to stderr
(reset it with fortapi user set-password admin --password-stdin). --env production refuses to
start with generated or weak secrets, the development certificate, or
--insecure-http without --trusted-proxies. See docs/deployment.md.

SIGINT or SIGTERM stop it gracefully: no new connections, in-flight requests
get --shutdown-timeout to finish, then the store is closed.
`

func parseServe(args []string, getenv func(string) string, stdout, stderr io.Writer) (serveConfig, int, bool) {
	c := newCommand("serve", serveHelp)
	var cfg serveConfig
	var level, format string
	var rateScale float64
	var specs [5]string
	var trusted, failPolicy string
	def := defaultRates()
	cfg.rates = def
	sf := addStoreFlags(c, "`DIR` for the SQLite database, generated secrets and the development certificate")
	c.fs.StringVar(&cfg.addr, "addr", ":8443", "`HOST:PORT` to serve HTTPS on (port 0 picks a free port)")
	c.fs.BoolVar(&cfg.insecureHTTP, "insecure-http", false, "serve plain HTTP on --addr, only for running behind a TLS-terminating proxy (logged as a warning)")
	c.fs.Float64Var(&rateScale, "rate-scale", 1, "multiply every rate limit by `N`, a whole number (load tests; the limiter still runs)")
	c.fs.StringVar(&specs[0], "rate-login", def.Login.String(), "POST /token limit per client address (`SPEC` such as 10/minute or \"100/hour burst 10\")")
	c.fs.StringVar(&specs[1], "rate-login-failures", def.LoginFailures.String(), "failed password checks per username, existing or not (`SPEC`)")
	c.fs.StringVar(&specs[2], "rate-writes", def.Writes.String(), "item writes, logout, password change and key rotation per user, together (`SPEC`)")
	c.fs.StringVar(&specs[3], "rate-reads", def.Reads.String(), "authenticated reads per user, together (`SPEC`)")
	c.fs.StringVar(&specs[4], "rate-global", def.Global.String(), "every request per client address, 404s and /docs included (`SPEC`)")
	c.fs.StringVar(&trusted, "trusted-proxies", "", "`CIDR,...` of the reverse proxies whose forwarding header names the client (default none: the client is the TCP peer)")
	c.fs.StringVar(&cfg.rates.header, "client-ip-header", def.header, "the one forwarding `HEADER` the trusted proxies write: X-Forwarded-For, Forwarded or X-Real-IP")
	c.fs.StringVar(&cfg.rates.RedisURL, "redis-url", "", "keep every rate limit in Redis at `URL` (redis:// or rediss://), shared by all instances; prefer the environment variable when it holds a password")
	c.fs.StringVar(&cfg.rates.RedisPrefix, "redis-prefix", def.RedisPrefix, "`PREFIX` of the rate-limit keys in Redis, one per deployment sharing a Redis")
	c.fs.StringVar(&failPolicy, "rate-fail", "open", "while Redis is unreachable: open (limit locally, each instance to its share of each limit) or closed (refuse limited requests with 503) (`POLICY`)")
	c.fs.IntVar(&cfg.rates.Instances, "instances", def.Instances, "`N` instances share Redis: under --rate-fail open each limits locally to 1/N of each limit")
	var acmeDomains string
	c.fs.StringVar(&cfg.httpAddr, "http-addr", ":8080", "`HOST:PORT` of the plain-HTTP listener, which only redirects GET and HEAD to HTTPS (308; other methods and requests with credentials get 400) and answers ACME http-01 challenges; empty turns it off (never started with --insecure-http)")
	c.fs.StringVar(&cfg.tlsCert, "tls-cert", "", "PEM `FILE` with the certificate and its intermediates, with --tls-key; reloaded when it changes (default: the development certificate)")
	c.fs.StringVar(&cfg.tlsKey, "tls-key", "", "PEM `FILE` with the private key of --tls-cert")
	c.fs.DurationVar(&cfg.reloadInterval, "tls-reload-interval", 5*time.Second, "how often --tls-cert and --tls-key are checked for a new pair (`DURATION`, 1s to 1h)")
	c.fs.StringVar(&acmeDomains, "acme-domain", "", "obtain and renew certificates by ACME (Let's Encrypt) for these `DOMAIN,...`, cached in DATA-DIR/acme; the CA must reach this server on port 443 (tls-alpn-01) or 80 (http-01, --http-addr)")
	c.fs.StringVar(&cfg.acmeEmail, "acme-email", "", "contact `ADDRESS` the ACME CA may warn about expiring or revoked certificates")
	c.fs.StringVar(&cfg.acmeDirectory, "acme-directory", tlsconfig.LetsEncryptURL, "ACME directory `URL` (Let's Encrypt staging for trials)")
	c.fs.Func("cors-origins", "`ORIGIN,...` (https://app.example) whose scripts may call this API with credentials and read the answers; each is also trusted by the CSRF origin check (default none: no cross-origin access)", func(v string) error {
		cfg.corsOrigins = nil
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				cfg.corsOrigins = append(cfg.corsOrigins, o)
			}
		}
		return nil
	})
	c.fs.StringVar(&cfg.env, "env", envDevelopment, "`ENV`: development, or production, which refuses to start with generated or weak secrets, the development certificate, or --insecure-http without --trusted-proxies")
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
	var err error
	if cfg.pgWarnings, err = sf.resolve(c, getenv); err != nil {
		return fail("%v", err)
	}
	cfg.dataDir, cfg.postgresURL = sf.dataDir, sf.postgresURL
	if _, port, err := net.SplitHostPort(cfg.addr); err != nil || port == "" {
		return fail("invalid --addr %q: want HOST:PORT, e.g. :8443 or 127.0.0.1:8443", cfg.addr)
	}
	if math.IsNaN(rateScale) || rateScale < 1 || rateScale > maxRateScale || rateScale != math.Trunc(rateScale) {
		return fail("invalid --rate-scale %v: want a whole number from 1 to %d", rateScale, maxRateScale)
	}
	if cfg.httpAddr != "" {
		if _, _, err := net.SplitHostPort(cfg.httpAddr); err != nil {
			return fail("invalid --http-addr %q: want HOST:PORT, e.g. :8080 or :80, or empty for none", cfg.httpAddr)
		}
	}
	if err := cfg.parseTLS(acmeDomains); err != nil {
		return fail("%v", err)
	}
	if cfg.env != envDevelopment && cfg.env != envProduction {
		return fail("invalid --env %q: want development or production", cfg.env)
	}
	cfg.rateScale = int(rateScale)
	if err := cfg.rates.parse(specs, trusted, failPolicy, cfg.rateScale); err != nil {
		return fail("%v", err)
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

// appConfig is the server's configuration: the store sc, the master key
// mk, and what the flags say.
func (cfg serveConfig) appConfig(sc app.StoreConfig, mk []byte, log *slog.Logger) app.Config {
	return app.Config{
		Limits:         cfg.rates.Limits,
		TrustedProxies: cfg.rates.trusted,
		ClientIPHeader: cfg.rates.header,
		CORSOrigins:    cfg.corsOrigins,
		AssumeTLS:      cfg.insecureHTTP && len(cfg.rates.trusted) > 0,
		Store:          sc,
		MasterKey:      mk,
		Version:        version(),
		Logger:         log,
	}
}

// parseTLS checks the certificate flags: files, ACME or neither (the
// development certificate), and none of them with --insecure-http.
func (cfg *serveConfig) parseTLS(acmeDomains string) error {
	if (cfg.tlsCert == "") != (cfg.tlsKey == "") {
		if cfg.tlsCert == "" {
			return errors.New("--tls-key needs --tls-cert: give both files or neither")
		}
		return errors.New("--tls-cert needs --tls-key: give both files or neither")
	}
	if cfg.reloadInterval < time.Second || cfg.reloadInterval > time.Hour {
		return fmt.Errorf("invalid --tls-reload-interval %v: want 1s to 1h", cfg.reloadInterval)
	}
	for d := range strings.SplitSeq(acmeDomains, ",") {
		d = strings.TrimSpace(d)
		if d == "" {
			continue
		}
		if !validDomain(d) {
			return fmt.Errorf("invalid --acme-domain %q: want DNS names such as api.example.com, comma-separated (no wildcards, IP addresses or ports)", d)
		}
		cfg.acmeDomains = append(cfg.acmeDomains, strings.ToLower(strings.TrimSuffix(d, ".")))
	}
	acme := len(cfg.acmeDomains) > 0
	if acmeDomains != "" && !acme {
		return fmt.Errorf("invalid --acme-domain %q: no domain in it", acmeDomains)
	}
	if cfg.tlsCert != "" && acme {
		return errors.New("--tls-cert/--tls-key and --acme-domain are mutually exclusive: choose certificate files or ACME")
	}
	if cfg.insecureHTTP && (cfg.tlsCert != "" || acme) {
		return errors.New("--insecure-http serves no TLS: it cannot be used with --tls-cert/--tls-key or --acme-domain")
	}
	if !acme && cfg.acmeEmail != "" {
		return errors.New("--acme-email needs --acme-domain")
	}
	if !acme && cfg.acmeDirectory != tlsconfig.LetsEncryptURL {
		return errors.New("--acme-directory needs --acme-domain")
	}
	if cfg.acmeEmail != "" && (strings.Count(cfg.acmeEmail, "@") != 1 || strings.HasPrefix(cfg.acmeEmail, "@") ||
		strings.HasSuffix(cfg.acmeEmail, "@") || strings.ContainsAny(cfg.acmeEmail, " \t\r\n<>,;")) {
		return fmt.Errorf("invalid --acme-email %q: want an address such as ops@example.com", cfg.acmeEmail)
	}
	if u, err := url.Parse(cfg.acmeDirectory); err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return fmt.Errorf("invalid --acme-directory %q: want an https:// URL", cfg.acmeDirectory)
	}
	return nil
}

// validDomain accepts a DNS name of at least two labels of letters, digits
// and hyphens (punycode for international names), as ACME CAs issue for.
func validDomain(d string) bool {
	if len(d) > 253 || net.ParseIP(d) != nil {
		return false
	}
	labels := strings.Split(strings.TrimSuffix(d, "."), ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// parse fills rc from the rate flags, with errors naming the flag and
// quoting the bad text.
func (rc *rateConfig) parse(specs [5]string, trusted, failPolicy string, scale int) error {
	rc.Scale = scale
	for i, p := range []struct {
		flag string
		spec *ratelimit.Spec
	}{
		{"--rate-login", &rc.Login}, {"--rate-login-failures", &rc.LoginFailures}, {"--rate-writes", &rc.Writes},
		{"--rate-reads", &rc.Reads}, {"--rate-global", &rc.Global},
	} {
		spec, err := ratelimit.ParseSpec(specs[i])
		if err != nil {
			return fmt.Errorf("invalid %s: %v", p.flag, err)
		}
		if _, err := spec.Scale(scale); err != nil {
			return fmt.Errorf("invalid %s %q with --rate-scale %d: %v", p.flag, specs[i], scale, err)
		}
		*p.spec = spec
	}
	var err error
	if rc.trusted, err = clientip.ParsePrefixes(trusted); err != nil {
		return fmt.Errorf("invalid --trusted-proxies: %v", err)
	}
	if _, err := clientip.New(clientip.Options{Header: rc.header}); err != nil {
		return fmt.Errorf("invalid --client-ip-header: %v", err)
	}
	if rc.OnRedisError, err = ratelimit.ParseErrorPolicy(failPolicy); err != nil {
		return fmt.Errorf("invalid --rate-fail: %v", err)
	}
	if rc.Instances < 1 || rc.Instances > maxInstances {
		return fmt.Errorf("invalid --instances %d: want 1 to %d", rc.Instances, maxInstances)
	}
	if strings.TrimSpace(rc.RedisPrefix) == "" {
		return errors.New("--redis-prefix must not be empty")
	}
	if rc.RedisURL != "" {
		if _, err := redisstore.ClientOptions(rc.RedisURL); err != nil {
			// url.Parse quotes the whole URL, password included: keep
			// only what is wrong with it.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return fmt.Errorf("invalid --redis-url: %v", err)
		}
	}
	return nil
}

// logStart logs the limits in force, and warns about each setting that
// weakens a default.
func (rc rateConfig) logStart(log *slog.Logger) {
	store := "memory"
	if rc.RedisURL != "" {
		store = "redis"
		if o, err := redisstore.ClientOptions(rc.RedisURL); err == nil { // checked by parse
			store += " " + o.Addr
		}
	}
	def := defaultRates()
	scaled := func(s ratelimit.Spec) string {
		sc, _ := s.Scale(rc.Scale) // checked by parse
		return sc.String()
	}
	log.Info("rate limits",
		"login", scaled(rc.Login)+" per client address", "login_failures", scaled(rc.LoginFailures)+" per username",
		"writes", scaled(rc.Writes)+" per user", "reads", scaled(rc.Reads)+" per user",
		"global", scaled(rc.Global)+" per client address", "store", store, "on_store_error", rc.OnRedisError.String(),
		"instances", rc.Instances)
	for _, l := range []struct {
		flag      string
		got, want ratelimit.Spec
	}{
		{"--rate-login", rc.Login, def.Login}, {"--rate-login-failures", rc.LoginFailures, def.LoginFailures},
		{"--rate-writes", rc.Writes, def.Writes}, {"--rate-reads", rc.Reads, def.Reads}, {"--rate-global", rc.Global, def.Global},
	} {
		if l.got.Interval() < l.want.Interval() || l.got.MaxBurst() > l.want.MaxBurst() {
			log.Warn("rate limit looser than the default", "flag", l.flag, "limit", l.got.String(), "default", l.want.String())
		}
	}
	if rc.Scale != 1 {
		log.Warn("rate limits scaled (--rate-scale): every limit admits this many times more", "factor", rc.Scale)
	}
	if len(rc.trusted) > 0 {
		ps := make([]string, len(rc.trusted))
		for i, p := range rc.trusted {
			ps[i] = p.String()
		}
		log.Warn("client addresses are taken from a forwarding header when the peer is a trusted proxy (--trusted-proxies): each can name any client",
			"trusted_proxies", strings.Join(ps, ","), "header", rc.header)
	}
	if rc.RedisURL != "" && rc.OnRedisError == ratelimit.FailOpen && rc.Instances == 1 {
		log.Warn("with Redis and --rate-fail open, each instance limits locally to 1/--instances of each limit during an outage; --instances is 1",
			"instances", rc.Instances)
	}
}

// newLogger is the server's log: JSON or text on w, with every record
// passed through secret.NewRedactingHandler, so that passwords, tokens,
// cookies and keys are redacted by attribute key and scrubbed from
// messages and string values (JWTs, Bearer and Basic credentials).
func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	o := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewJSONHandler(w, o)
	if format == "text" {
		h = slog.NewTextHandler(w, o)
	}
	return slog.New(secret.NewRedactingHandler(h))
}

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, code, ok := parseServe(args, getenv, stdout, stderr)
	if !ok {
		return code
	}
	// The log and the lines serve prints directly share one buffered
	// sink, so their order is kept and a request costs no write(2).
	sink := newLogSink(stderr, logFlushEvery, logBufferMax)
	defer sink.Close()
	stderr = sink
	log := newLogger(stderr, cfg.logFormat, cfg.logLevel)
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

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBG()
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

	errc := make(chan error, 2)
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
	// Only now that both listeners are bound: a start that fails earlier
	// (a port taken) must not create the administrator, whose generated
	// password would be printed by a run that then exits, and never again.
	if err := bootstrapAdmin(ctx, a.Auth(), getenv, log, stderr); err != nil {
		ln.Close()
		if hln != nil {
			hln.Close()
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
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests did not finish in time; closing their connections", "error", err.Error())
		_ = srv.Close()
	}
	servers := 1
	if redirect != nil {
		servers = 2
	}
	for range servers {
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serving: %w", err)
		}
	}
	log.Info("stopped")
	return nil
}

// refusal is why production mode refuses to start: one line per problem,
// each naming what to set, never a secret.
type refusal []string

func (r refusal) Error() string { return strings.Join(r, "; ") }

// productionProblems is what --env production refuses: a master key that
// is missing (it would be generated), unreadable or weak; the development
// certificate; --insecure-http without --trusted-proxies; a generated
// password for the first administrator. It generates and writes nothing.
func (cfg serveConfig) productionProblems(ctx context.Context, getenv func(string) string, sc app.StoreConfig) refusal {
	var r refusal
	add := func(format string, a ...any) { r = append(r, "production: "+fmt.Sprintf(format, a...)) }
	mk, err := secret.FromEnv(getenv, masterKeyEnv)
	switch {
	case errors.Is(err, secret.ErrNotSet):
		add("no master key: set %s or %s%s to 32 random bytes as base64 or hex (openssl rand -base64 32); the generated development key in DATA-DIR/%s is refused",
			masterKeyEnv, masterKeyEnv, secret.FileSuffix, masterKeyFile)
	case err != nil:
		add("master key: %v", err)
	default:
		if err := mk.CheckProduction(secret.MinKeyBytes); err != nil {
			add("master key: %v", err)
		} else if _, err := secret.DecodeKey(mk.Secret, secret.MinKeyBytes); err != nil {
			add("master key from %s: want exactly 32 bytes as 64 hex digits or base64", mk.Source)
		}
	}
	switch {
	case cfg.insecureHTTP && len(cfg.rates.trusted) == 0:
		add("--insecure-http needs --trusted-proxies: name the TLS-terminating proxy's addresses, or serve HTTPS with --tls-cert/--tls-key or --acme-domain")
	case !cfg.insecureHTTP && cfg.tlsCert == "" && len(cfg.acmeDomains) == 0:
		add("the self-signed development certificate is refused: give --tls-cert and --tls-key, or --acme-domain")
	}
	pw, _, err := adminPassword(getenv)
	switch {
	case err != nil:
		add("administrator password: %v", err)
	case pw == "":
		users, err := listFirstUser(ctx, sc)
		switch {
		case err != nil:
			add("cannot tell whether the database has users: %v", err)
		case len(users) == 0:
			add("the first administrator's password would be generated and printed: set %s or %s%s", adminPasswordEnv, adminPasswordEnv, secret.FileSuffix)
		}
	}
	return r
}

// listFirstUser opens the store of sc for a moment and lists its first
// user, if any (production checks run before the server is composed).
func listFirstUser(ctx context.Context, sc app.StoreConfig) ([]server.User, error) {
	store, err := app.OpenStore(ctx, sc, slog.New(slog.DiscardHandler), nil)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	return store.ListUsers(ctx, "", 1)
}

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
	doc, err := app.Document(app.Config{Version: version(), Logger: slog.New(slog.DiscardHandler)})
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

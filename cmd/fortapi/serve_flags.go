package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/fortapi/fortapi/server/app"
	"github.com/fortapi/fortapi/tlsconfig"
	"github.com/fortapi/fortapi/wsfeed"
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
	wsPerUser      int         // --ws-max-conns-per-user
	admin          adminConfig // --admin-addr and friends (serve_admin.go)
	oidc           *oidcFlags  // external identity providers (serve_oidc.go)
}

// Environments of --env.
const (
	envDevelopment = "development"
	envProduction  = "production"
)

const serveHelp = `Runs the fortapi reference server: the items API, OpenAPI document at
/openapi.json, docs at /docs, /healthz and /readyz.

It serves HTTPS on --addr with the certificate in --tls-cert/--tls-key
(reloaded when the files change), one obtained by ACME for --acme-domain
(cached in DATA-DIR/acme), or else a self-signed development certificate
kept in DATA-DIR/tls. HTTPS responses carry HSTS (two years) and the
security headers (Content-Security-Policy, X-Content-Type-Options, frame
denial). --http-addr redirects GET and HEAD to HTTPS (308), only to the
server's own names, and answers ACME http-01 challenges; other methods, and
any request carrying credentials (Authorization, Cookie, X-API-Key), get
400 "use HTTPS".

The master key that seals the signing keys comes from FORTAPI_MASTER_KEY or
FORTAPI_MASTER_KEY_FILE, or is generated in DATA-DIR/secrets/master.key. On a
fresh database the user admin is created, once the listeners are bound, with
FORTAPI_ADMIN_PASSWORD(_FILE) or a random password printed once to stderr
(reset it with fortapi user set-password admin --password-stdin).
--env production refuses to start with generated or weak secrets, the
development certificate, or --insecure-http without --trusted-proxies. See
docs/deployment.md.

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
	cfg.oidc = addOIDCFlags(c)
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
	c.fs.StringVar(&failPolicy, "rate-fail", "open", "`POLICY` while Redis is unreachable: open (limit locally, each instance to its share of each limit) or closed (refuse limited requests with 503)")
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
	c.fs.IntVar(&cfg.wsPerUser, "ws-max-conns-per-user", wsfeed.DefaultMaxConnsPerSubject, "`N` open GET /ws/items sockets per user on this instance; the next upgrade gets 429 (1 to 1000)")
	c.fs.StringVar(&cfg.env, "env", envDevelopment, "`ENV`: development, or production, which refuses to start with generated or weak secrets, the development certificate, or --insecure-http without --trusted-proxies")
	c.fs.StringVar(&level, "log-level", "info", "`LEVEL` of the log: debug, info, warn or error")
	c.fs.StringVar(&format, "log-format", "json", "`FORMAT` of the log on stderr: json or text")
	c.fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 15*time.Second, "how long in-flight requests get to finish at shutdown (`DURATION`, 1s to 10m)")
	cfg.addAdminFlags(c)
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
	if err := cfg.admin.check(); err != nil {
		return fail("%v", err)
	}
	if cfg.env != envDevelopment && cfg.env != envProduction {
		return fail("invalid --env %q: want development or production", cfg.env)
	}
	if err := cfg.oidc.resolve(cfg.env); err != nil {
		return fail("%v", err)
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
	if cfg.wsPerUser < 1 || cfg.wsPerUser > 1000 {
		return fail("invalid --ws-max-conns-per-user %d: want 1 to 1000", cfg.wsPerUser)
	}
	if cfg.shutdownTimeout < time.Second || cfg.shutdownTimeout > 10*time.Minute {
		return fail("invalid --shutdown-timeout %v: want 1s to 10m", cfg.shutdownTimeout)
	}
	return cfg, exitOK, true
}

// appConfig is the server's configuration: the store sc, the master key
// mk, and what the flags say.
func (cfg serveConfig) appConfig(sc app.StoreConfig, mk []byte, log *slog.Logger) app.Config {
	return app.Config{
		Limits:              cfg.rates.Limits,
		TrustedProxies:      cfg.rates.trusted,
		ClientIPHeader:      cfg.rates.header,
		CORSOrigins:         cfg.corsOrigins,
		FeedMaxConnsPerUser: cfg.wsPerUser,
		AssumeTLS:           cfg.insecureHTTP && len(cfg.rates.trusted) > 0,
		Store:               sc,
		MasterKey:           mk,
		Version:             version(),
		Logger:              log,
		OIDC:                cfg.oidc.options(),
		OIDCProvision:       cfg.oidc.provisionOn(),
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

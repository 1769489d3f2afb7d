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

	"github.com/redis/go-redis/v9"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/clientip"
	"github.com/fortapi/fortapi/ratelimit"
	"github.com/fortapi/fortapi/ratelimit/redisstore"
	"github.com/fortapi/fortapi/secret"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/server/httpapi"
	"github.com/fortapi/fortapi/server/sqlite"
	"github.com/fortapi/fortapi/tlsconfig"
)

// serveConfig is the typed configuration of `fortapi serve`.
type serveConfig struct {
	dataDir         string
	addr            string
	insecureHTTP    bool
	rateScale       int
	logLevel        slog.Level
	logFormat       string
	shutdownTimeout time.Duration
	rates           rateConfig
}

// Default rate limits of `fortapi serve` beyond those of httpapi.
const (
	defaultLoginFailures = "5/minute"    // failed password checks per username
	defaultGlobalLimit   = "1200/minute" // every request, per client address
	defaultRedisPrefix   = "fortapi:ratelimit:"
	maxRateScale         = 1_000_000
	maxInstances         = 1000
)

// rateConfig is how `fortapi serve` limits request rates.
type rateConfig struct {
	login, loginFailures, writes, reads, global ratelimit.Spec

	scale       int // multiplies every limit (--rate-scale)
	trusted     []netip.Prefix
	header      string // the forwarding header the trusted proxies write
	redisURL    string // may hold a password: never logged
	redisPrefix string
	fail        ratelimit.ErrorPolicy
	instances   int
}

// defaultRates are the limits without flags: the documented defaults.
func defaultRates() rateConfig {
	return rateConfig{
		login:         ratelimit.MustParseSpec(httpapi.DefaultLoginLimit),
		loginFailures: ratelimit.MustParseSpec(defaultLoginFailures),
		writes:        ratelimit.MustParseSpec(httpapi.DefaultWritesLimit),
		reads:         ratelimit.MustParseSpec(httpapi.DefaultReadsLimit),
		global:        ratelimit.MustParseSpec(defaultGlobalLimit),
		scale:         1,
		header:        clientip.XForwardedFor,
		redisPrefix:   defaultRedisPrefix,
		instances:     1,
	}
}

// limits are the per-operation limits the API declares.
func (rc rateConfig) limits() httpapi.Limits {
	return httpapi.Limits{Login: rc.login.String(), Writes: rc.writes.String(), Reads: rc.reads.String()}
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
	var rateScale float64
	var specs [5]string
	var trusted, failPolicy string
	def := defaultRates()
	cfg.rates = def
	c.fs.StringVar(&cfg.dataDir, "data-dir", "./fortapi-data", "`DIR` for the SQLite database, generated secrets and the development certificate")
	c.fs.StringVar(&cfg.addr, "addr", ":8443", "`HOST:PORT` to serve HTTPS on (port 0 picks a free port)")
	c.fs.BoolVar(&cfg.insecureHTTP, "insecure-http", false, "serve plain HTTP on --addr, only for running behind a TLS-terminating proxy (logged as a warning)")
	c.fs.Float64Var(&rateScale, "rate-scale", 1, "multiply every rate limit by `N`, a whole number (load tests; the limiter still runs)")
	c.fs.StringVar(&specs[0], "rate-login", def.login.String(), "POST /token limit per client address (`SPEC` such as 10/minute or \"100/hour burst 10\")")
	c.fs.StringVar(&specs[1], "rate-login-failures", def.loginFailures.String(), "failed password checks per username, existing or not (`SPEC`)")
	c.fs.StringVar(&specs[2], "rate-writes", def.writes.String(), "item writes, logout, password change and key rotation per user, together (`SPEC`)")
	c.fs.StringVar(&specs[3], "rate-reads", def.reads.String(), "authenticated reads per user, together (`SPEC`)")
	c.fs.StringVar(&specs[4], "rate-global", def.global.String(), "every request per client address, 404s and /docs included (`SPEC`)")
	c.fs.StringVar(&trusted, "trusted-proxies", "", "`CIDR,...` of the reverse proxies whose forwarding header names the client (default none: the client is the TCP peer)")
	c.fs.StringVar(&cfg.rates.header, "client-ip-header", def.header, "the one forwarding `HEADER` the trusted proxies write: X-Forwarded-For, Forwarded or X-Real-IP")
	c.fs.StringVar(&cfg.rates.redisURL, "redis-url", "", "keep every rate limit in Redis at `URL` (redis:// or rediss://), shared by all instances; prefer the environment variable when it holds a password")
	c.fs.StringVar(&cfg.rates.redisPrefix, "redis-prefix", def.redisPrefix, "`PREFIX` of the rate-limit keys in Redis, one per deployment sharing a Redis")
	c.fs.StringVar(&failPolicy, "rate-fail", "open", "while Redis is unreachable: open (limit locally, each instance to its share of each limit) or closed (refuse limited requests with 503) (`POLICY`)")
	c.fs.IntVar(&cfg.rates.instances, "instances", def.instances, "`N` instances share Redis: under --rate-fail open each limits locally to 1/N of each limit")
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
	if math.IsNaN(rateScale) || rateScale < 1 || rateScale > maxRateScale || rateScale != math.Trunc(rateScale) {
		return fail("invalid --rate-scale %v: want a whole number from 1 to %d", rateScale, maxRateScale)
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

// parse fills rc from the rate flags, with errors naming the flag and
// quoting the bad text.
func (rc *rateConfig) parse(specs [5]string, trusted, failPolicy string, scale int) error {
	rc.scale = scale
	for i, p := range []struct {
		flag string
		spec *ratelimit.Spec
	}{
		{"--rate-login", &rc.login}, {"--rate-login-failures", &rc.loginFailures}, {"--rate-writes", &rc.writes},
		{"--rate-reads", &rc.reads}, {"--rate-global", &rc.global},
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
	if rc.fail, err = ratelimit.ParseErrorPolicy(failPolicy); err != nil {
		return fmt.Errorf("invalid --rate-fail: %v", err)
	}
	if rc.instances < 1 || rc.instances > maxInstances {
		return fmt.Errorf("invalid --instances %d: want 1 to %d", rc.instances, maxInstances)
	}
	if strings.TrimSpace(rc.redisPrefix) == "" {
		return errors.New("--redis-prefix must not be empty")
	}
	if rc.redisURL != "" {
		if _, err := redisstore.ClientOptions(rc.redisURL); err != nil {
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

// build makes what `fortapi serve` limits with: one Set (in memory, or on
// Redis), the client-address resolver and the failed-login limiter. An
// unreachable Redis does not stop the start: the Set applies the outage
// policy (--rate-fail) until Redis answers, logged when the outage begins
// and ends. release closes the Redis client.
func (rc rateConfig) build(ctx context.Context, log *slog.Logger) (set *ratelimit.Set, ip *clientip.Resolver, failures *ratelimit.Limiter, release func(), err error) {
	release = func() {}
	so := ratelimit.SetOptions{OnError: rc.fail, InstanceCount: rc.instances, Scale: rc.scale, Logger: log}
	store := "memory"
	if rc.redisURL != "" {
		o, err := redisstore.ClientOptions(rc.redisURL)
		if err != nil { // checked by parse
			return nil, nil, nil, release, fmt.Errorf("--redis-url: %w", err)
		}
		client := redis.NewClient(o)
		release = func() { _ = client.Close() }
		so.Store = redisstore.New(client, redisstore.Options{Prefix: rc.redisPrefix})
		store = "redis " + o.Addr
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		perr := client.Ping(pctx).Err()
		cancel()
		if perr != nil {
			log.Error("Redis is unreachable at start-up; rate limits apply --rate-fail until it answers",
				"redis", o.Addr, "policy", rc.fail.String(), "error", perr.Error())
		}
	}
	if set, err = ratelimit.NewSet(so); err != nil {
		release()
		return nil, nil, nil, func() {}, err
	}
	if ip, err = clientip.New(clientip.Options{TrustedProxies: rc.trusted, Header: rc.header}); err != nil {
		release()
		return nil, nil, nil, func() {}, err
	}
	if failures, err = ratelimit.New(ratelimit.Options{Name: "login-failures", Spec: rc.loginFailures, Set: set}); err != nil {
		release()
		return nil, nil, nil, func() {}, err
	}
	rc.logStart(log, store)
	return set, ip, failures, release, nil
}

// logStart logs the limits in force, and warns about each setting that
// weakens a default.
func (rc rateConfig) logStart(log *slog.Logger, store string) {
	def := defaultRates()
	scaled := func(s ratelimit.Spec) string {
		sc, _ := s.Scale(rc.scale) // checked by parse
		return sc.String()
	}
	log.Info("rate limits",
		"login", scaled(rc.login)+" per client address", "login_failures", scaled(rc.loginFailures)+" per username",
		"writes", scaled(rc.writes)+" per user", "reads", scaled(rc.reads)+" per user",
		"global", scaled(rc.global)+" per client address", "store", store, "on_store_error", rc.fail.String(),
		"instances", rc.instances)
	for _, l := range []struct {
		flag      string
		got, want ratelimit.Spec
	}{
		{"--rate-login", rc.login, def.login}, {"--rate-login-failures", rc.loginFailures, def.loginFailures},
		{"--rate-writes", rc.writes, def.writes}, {"--rate-reads", rc.reads, def.reads}, {"--rate-global", rc.global, def.global},
	} {
		if l.got.Interval() < l.want.Interval() || l.got.MaxBurst() > l.want.MaxBurst() {
			log.Warn("rate limit looser than the default", "flag", l.flag, "limit", l.got.String(), "default", l.want.String())
		}
	}
	if rc.scale != 1 {
		log.Warn("rate limits scaled (--rate-scale): every limit admits this many times more", "factor", rc.scale)
	}
	if len(rc.trusted) > 0 {
		ps := make([]string, len(rc.trusted))
		for i, p := range rc.trusted {
			ps[i] = p.String()
		}
		log.Warn("client addresses are taken from a forwarding header when the peer is a trusted proxy (--trusted-proxies): each can name any client",
			"trusted_proxies", strings.Join(ps, ","), "header", rc.header)
	}
	if rc.redisURL != "" && rc.fail == ratelimit.FailOpen && rc.instances == 1 {
		log.Warn("with Redis and --rate-fail open, each instance limits locally to 1/--instances of each limit during an outage; --instances is 1",
			"instances", rc.instances)
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

// scopeDocs describes every scope the server grants, for the OpenAPI
// document's OAuth2 flow.
var scopeDocs = map[string]string{
	server.ScopeItemsRead:  "read your items",
	server.ScopeItemsWrite: "create, change and delete your items",
	server.ScopeUsersAdmin: "administer users; see every user's items",
	server.ScopeKeysAdmin:  "rotate the token signing keys",
}

// apiLimits is what buildAPI limits with: the configuration, and the Set
// and resolver built from it (nil: in memory, the TCP peer).
type apiLimits struct {
	cfg rateConfig
	set *ratelimit.Set
	ip  *clientip.Resolver
}

// buildAPI registers the reference server's operations on a fortapi API
// and returns its handler. st is nil when the API is built only for its
// document.
func buildAPI(log *slog.Logger, store server.Store, st *authStack, auth fortapi.Authenticator, rl apiLimits) (*fortapi.API, http.Handler, error) {
	api := fortapi.New(fortapi.Options{
		Title:         "fortapi",
		Version:       version(),
		Description:   "The fortapi reference server: a secure items API. Log in with POST /token (OAuth2 password grant).",
		Authenticator: auth,
		Logger:        log,
		OAuth2:        &fortapi.OAuth2Password{TokenURL: "/token", Scopes: scopeDocs},
		RateLimits:    rl.set,
		ClientIP:      rl.ip,
		GlobalLimit:   rl.cfg.global.String(),
	})
	deps := httpapi.Deps{Store: store, Limits: rl.cfg.limits()}
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

	set, ip, failures, closeRedis, err := cfg.rates.build(ctx, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	st, err := openAuth(ctx, cfg.dataDir, store, getenv, log, true, func(o *authn.Options) { o.LoginFailures = failures })
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

	_, handler, err := buildAPI(log, store, st, st.svc, apiLimits{cfg: cfg.rates, set: set, ip: ip})
	if err != nil {
		return err
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
	api, _, err := buildAPI(slog.New(slog.DiscardHandler), nil, nil, nil, apiLimits{cfg: defaultRates()})
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
	pw, warnings, err := adminPassword(getenv)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		log.Warn("administrator password: " + w)
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

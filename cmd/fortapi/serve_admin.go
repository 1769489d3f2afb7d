package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/secret"
	"github.com/fortapi/fortapi/server/authn"
)

// The admin listener (--admin-addr): /metrics in the Prometheus text
// format and, with --admin-pprof, /debug/pprof/. It is a listener of its
// own, never the public one, on the loopback interface by default; on any
// other address production mode requires --admin-token-file, whose token
// every request must present as "Authorization: Bearer TOKEN".

// defaultAdminAddr is the default of --admin-addr.
const defaultAdminAddr = "127.0.0.1:9090"

// adminConfig is what the admin flags say, and --audit-retention.
type adminConfig struct {
	addr      string // "" is none
	pprof     bool
	tokenFile string

	auditRetention time.Duration // 0: forever
}

func (cfg *serveConfig) addAdminFlags(c *command) {
	c.fs.StringVar(&cfg.admin.addr, "admin-addr", defaultAdminAddr, "`HOST:PORT` of the admin listener: /metrics (Prometheus) and, with --admin-pprof, /debug/pprof/, over plain HTTP; empty turns it off. Production mode refuses an address beyond loopback without --admin-token-file")
	c.fs.BoolVar(&cfg.admin.pprof, "admin-pprof", false, "serve the Go profiler at /debug/pprof/ on the admin listener (it shows the program's internals: keep the listener private)")
	c.fs.DurationVar(&cfg.admin.auditRetention, "audit-retention", authn.DefaultAuditRetention, "how long security events (the audit log) are kept; older ones are deleted hourly, in batches (`DURATION`, at least 1h; 0 keeps them forever)")
	c.fs.StringVar(&cfg.admin.tokenFile, "admin-token-file", "", "`FILE` holding the bearer token every request to the admin listener must present (at least 32 random bytes, e.g. openssl rand -base64 32)")
}

// check validates the admin flags and --audit-retention.
func (a adminConfig) check() error {
	if a.auditRetention < 0 || a.auditRetention > 0 && a.auditRetention < time.Hour {
		return fmt.Errorf("invalid --audit-retention %v: want at least 1h, or 0 to keep events forever", a.auditRetention)
	}
	if a.addr == "" {
		if a.pprof || a.tokenFile != "" {
			return errors.New("--admin-pprof and --admin-token-file need --admin-addr")
		}
		return nil
	}
	if _, port, err := net.SplitHostPort(a.addr); err != nil || port == "" {
		return fmt.Errorf("invalid --admin-addr %q: want HOST:PORT, e.g. 127.0.0.1:9090, or empty for none", a.addr)
	}
	return nil
}

// loopback tells whether the admin address listens only on the loopback
// interface (localhost, 127.0.0.0/8, ::1). An empty host or a name other
// than localhost may be reachable from elsewhere.
func (a adminConfig) loopback() bool {
	host, _, err := net.SplitHostPort(a.addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// productionProblem is what production mode refuses of the admin flags.
func (a adminConfig) productionProblem() string {
	if a.addr != "" && a.tokenFile == "" && !a.loopback() {
		return fmt.Sprintf("--admin-addr %s is reachable beyond this machine without --admin-token-file: give a token file, or listen on 127.0.0.1", a.addr)
	}
	return ""
}

// adminToken reads --admin-token-file, refusing a weak token.
func (a adminConfig) token() ([]byte, error) {
	if a.tokenFile == "" {
		return nil, nil
	}
	l, err := secret.FromFile(a.tokenFile)
	if err != nil {
		return nil, fmt.Errorf("--admin-token-file: %w", err)
	}
	if err := secret.CheckStrength(l.Secret, secret.MinKeyBytes); err != nil {
		return nil, fmt.Errorf("--admin-token-file %s: %w", a.tokenFile, err)
	}
	return l.Secret.Reveal(), nil
}

// newMetricsRegistry is the registry /metrics serves: the Go runtime and
// process collectors, and what the server registers.
func newMetricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// adminHandler serves /metrics from reg, /debug/pprof/ when pprofOn, and
// 404 for everything else; with a token, only to requests presenting it.
func adminHandler(reg *prometheus.Registry, pprofOn bool, token []byte, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError), ErrorHandling: promhttp.ContinueOnError,
	}))
	if pprofOn {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	var want [sha256.Size]byte
	if token != nil {
		want = sha256.Sum256(token)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-store")
		if token != nil {
			got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			// Hashes of equal length, compared in constant time: neither
			// the token's bytes nor its length show in the timing.
			sum := sha256.Sum256([]byte(got))
			if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				h.Set("WWW-Authenticate", `Bearer realm="fortapi-admin"`)
				http.Error(w, "unauthorized: present the admin token (--admin-token-file) as Authorization: Bearer", http.StatusUnauthorized)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

// adminServer is the running admin listener.
type adminServer struct {
	srv *http.Server
	ln  net.Listener
}

// listenAdmin binds --admin-addr (nil when it is empty). A failure is a
// start-up error: the operator asked for metrics.
func listenAdmin(cfg adminConfig, reg *prometheus.Registry, log *slog.Logger) (*adminServer, error) {
	if cfg.addr == "" {
		return nil, nil
	}
	token, err := cfg.token()
	if err != nil {
		return nil, err
	}
	if !cfg.loopback() && token == nil {
		log.Warn("the admin listener is reachable beyond this machine without a token (--admin-token-file): anyone who reaches it reads the metrics",
			"admin_addr", cfg.addr, "pprof", cfg.pprof)
	}
	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("listening on --admin-addr %s: %w", cfg.addr, err)
	}
	srv := fortapi.NewServer(cfg.addr, adminHandler(reg, cfg.pprof, token, log), fortapi.ServerOptions{Logger: log})
	if cfg.pprof {
		srv.WriteTimeout = 0 // profiles and traces take --seconds to write
	}
	return &adminServer{srv: srv, ln: ln}, nil
}

func (a *adminServer) serve(errc chan<- error, cfg adminConfig, log *slog.Logger) {
	go func() { errc <- a.srv.Serve(a.ln) }()
	log.Info("admin listener", "admin_url", "http://"+displayAddr(a.ln.Addr())+"/metrics", "pprof", cfg.pprof, "bearer_required", cfg.tokenFile != "")
}

func (a *adminServer) shutdown(ctx context.Context) {
	if err := a.srv.Shutdown(ctx); err != nil {
		_ = a.srv.Close()
	}
}

// appRetention is --audit-retention as app.Config.AuditRetention: 0
// (forever) is negative there.
func (a adminConfig) appRetention() time.Duration {
	if a.auditRetention == 0 {
		return -1
	}
	return a.auditRetention
}

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"net/url"
	"strings"

	"github.com/fortapi/fortapi/clientip"
	"github.com/fortapi/fortapi/ratelimit"
	"github.com/fortapi/fortapi/ratelimit/redisstore"
	"github.com/fortapi/fortapi/server/app"
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
			return fmt.Errorf("invalid %s: %s", p.flag, plainErr(err))
		}
		if _, err := spec.Scale(scale); err != nil {
			return fmt.Errorf("invalid %s %q with --rate-scale %d: %s", p.flag, specs[i], scale, plainErr(err))
		}
		*p.spec = spec
	}
	var err error
	if rc.trusted, err = clientip.ParsePrefixes(trusted); err != nil {
		return fmt.Errorf("invalid --trusted-proxies: %s", plainErr(err))
	}
	if _, err := clientip.New(clientip.Options{Header: rc.header}); err != nil {
		return fmt.Errorf("invalid --client-ip-header: %s", plainErr(err))
	}
	if rc.OnRedisError, err = ratelimit.ParseErrorPolicy(failPolicy); err != nil {
		return fmt.Errorf("invalid --rate-fail: %s", plainErr(err))
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
			return fmt.Errorf("invalid --redis-url: %s", plainErr(err))
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

// plainErr is err's message without the name of the package that made it
// ("ratelimit: bad spec ..." is "bad spec ..."): a user of the command
// has no use for the module's package names.
func plainErr(err error) string {
	msg := err.Error()
	for _, pkg := range []string{"ratelimit: ", "clientip: ", "redisstore: "} {
		msg = strings.TrimPrefix(msg, pkg)
	}
	return msg
}

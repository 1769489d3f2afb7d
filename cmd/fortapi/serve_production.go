package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/fortapi/fortapi/secret"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/app"
)

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
	if p := cfg.admin.productionProblem(); p != "" {
		add("%s", p)
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

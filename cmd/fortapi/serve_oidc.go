package main

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/fortapi/fortapi/oidc"
	"github.com/fortapi/fortapi/server"
)

// oidcFlags are the flags of `fortapi serve` for external identity
// providers (docs/authentication.md, "External identity providers").
type oidcFlags struct {
	issuers, audiences, rules []string
	provision, requireTyp     bool
	insecureHTTP              bool
	opts                      []oidc.Options // resolved
}

// addOIDCFlags declares the flags; resolve checks them.
func addOIDCFlags(c *command) *oidcFlags {
	f := &oidcFlags{}
	list := func(dst *[]string) func(string) error {
		return func(v string) error {
			for s := range strings.SplitSeq(v, ",") {
				if s = strings.TrimSpace(s); s != "" {
					*dst = append(*dst, s)
				}
			}
			return nil
		}
	}
	c.fs.Func("oidc-issuer", "accept the access tokens of the OpenID provider with this issuer `URL` (https; repeatable or comma-separated), "+
		"its keys from its discovery document and JWKS, on GET /protected, GET /users/me and the items API; needs --oidc-audience", list(&f.issuers))
	c.fs.Func("oidc-audience", "`AUD,...`: the identifier of this API at the provider; an external token's aud must contain one (repeatable)", list(&f.audiences))
	c.fs.Func("oidc-scope-map", "`CLAIM[VALUE]=SCOPE,...`: grant SCOPE (items:read, items:write) to external tokens whose CLAIM holds VALUE, "+
		"e.g. scope[read:items]=items:read or roles[Items.Write]=items:write (repeatable; unmapped values grant nothing)", list(&f.rules))
	c.fs.BoolVar(&f.provision, "oidc-provision", false, "create a user (role user, no password) for an external subject at its first token; "+
		"off: an unknown subject is refused with 403 until an administrator enables this")
	c.fs.BoolVar(&f.requireTyp, "oidc-require-typ", false, "refuse external tokens whose header typ is not at+jwt (RFC 9068); off: a missing or generic JWT typ passes, any other is refused")
	c.fs.BoolVar(&f.insecureHTTP, "oidc-insecure-http", false, "accept an http:// issuer on a loopback host (127.0.0.1, ::1, localhost) for development; refused with --env production (logged as a warning)")
	return f
}

// resolve checks the flags and builds each provider's options.
func (f *oidcFlags) resolve(env string) error {
	if len(f.issuers) == 0 {
		switch {
		case len(f.audiences) > 0:
			return fmt.Errorf("--oidc-audience needs --oidc-issuer")
		case len(f.rules) > 0:
			return fmt.Errorf("--oidc-scope-map needs --oidc-issuer")
		case f.provision:
			return fmt.Errorf("--oidc-provision needs --oidc-issuer")
		case f.requireTyp || f.insecureHTTP:
			return fmt.Errorf("--oidc-require-typ and --oidc-insecure-http need --oidc-issuer")
		}
		return nil
	}
	if len(f.audiences) == 0 {
		return fmt.Errorf("--oidc-issuer needs --oidc-audience: the identifier of this API at the provider (for example api://fortapi, or the API's URL)")
	}
	if f.insecureHTTP && env == envProduction {
		return fmt.Errorf("--oidc-insecure-http is for development: --env production refuses it")
	}
	granted := server.RoleAdmin.Scopes()
	var rules []oidc.ScopeRule
	for _, s := range f.rules {
		r, err := oidc.ParseScopeRule(s)
		if err != nil {
			return fmt.Errorf("invalid --oidc-scope-map: %v", err)
		}
		if !slices.Contains(granted, r.Scope) {
			return fmt.Errorf("invalid --oidc-scope-map %q: %q is not a scope of this server (want one of %s)", s, r.Scope, strings.Join(granted, ", "))
		}
		rules = append(rules, r)
	}
	seen := map[string]bool{}
	for _, iss := range f.issuers {
		if seen[iss] {
			return fmt.Errorf("invalid --oidc-issuer: %q is given twice", iss)
		}
		seen[iss] = true
		o := oidc.Options{Issuer: iss, Audiences: f.audiences, ScopeRules: rules, RequireTyp: f.requireTyp,
			InsecureAllowLoopbackHTTP: f.insecureHTTP}
		if _, err := oidc.New(o); err != nil {
			return fmt.Errorf("invalid --oidc-issuer: %v", strings.TrimPrefix(err.Error(), "oidc: "))
		}
		f.opts = append(f.opts, o)
	}
	return nil
}

// options returns the providers' options (nil without --oidc-issuer).
func (f *oidcFlags) options() []oidc.Options {
	if f == nil {
		return nil
	}
	return f.opts
}

func (f *oidcFlags) provisionOn() bool { return f != nil && f.provision }

// logStart logs the external providers' settings at start-up.
func (f *oidcFlags) logStart(log *slog.Logger) {
	if f == nil || len(f.opts) == 0 {
		return
	}
	rules := make([]string, 0, len(f.opts[0].ScopeRules))
	for _, r := range f.opts[0].ScopeRules {
		rules = append(rules, r.String())
	}
	log.Info("accepting tokens of external identity providers (GET /protected, GET /users/me, items)",
		"issuers", strings.Join(f.issuers, ","), "audiences", strings.Join(f.audiences, ","),
		"scope_map", strings.Join(rules, ","), "provision", f.provision, "require_typ", f.requireTyp)
	if len(rules) == 0 {
		log.Warn("no --oidc-scope-map: external tokens grant no scope (only GET /protected and GET /users/me accept them)")
	}
	if f.insecureHTTP {
		log.Warn("--oidc-insecure-http: an http:// issuer on a loopback host is accepted; its keys travel unauthenticated")
	}
}

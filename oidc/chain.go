package oidc

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/fortapi/fortapi"
)

// Set is the providers an API accepts tokens of, by issuer.
type Set struct {
	byIssuer map[string]*Provider
	order    []*Provider
}

// NewSet returns a Set of providers; two with one issuer are refused.
func NewSet(providers ...*Provider) (*Set, error) {
	s := &Set{byIssuer: map[string]*Provider{}}
	for _, p := range providers {
		if _, dup := s.byIssuer[p.Issuer()]; dup {
			return nil, fmt.Errorf("oidc: the issuer %q is configured twice", p.Issuer())
		}
		s.byIssuer[p.Issuer()] = p
		s.order = append(s.order, p)
	}
	return s, nil
}

// Providers returns the providers in the order given to NewSet.
func (s *Set) Providers() []*Provider { return append([]*Provider(nil), s.order...) }

// DiscoveryURLs returns each provider's discovery URL (for
// fortapi.API.AddOIDCScheme).
func (s *Set) DiscoveryURLs() []string {
	out := make([]string, len(s.order))
	for i, p := range s.order {
		out[i] = p.DiscoveryURL()
	}
	return out
}

// For returns the provider that verifies raw, judged by its unverified
// iss claim (routing only: that provider verifies everything), or nil.
func (s *Set) For(raw string) *Provider {
	if s == nil || len(s.order) == 0 {
		return nil
	}
	return s.byIssuer[Issuer(raw)]
}

// Chain returns an authenticator that verifies a bearer token with the
// provider of its iss (a principal of fortapi.OIDCScheme, see
// Provider.Authenticate) and hands every other request to next (the API's
// own tokens, sessions, ...). Use it as fortapi.Options.Authenticator.
func (s *Set) Chain(next fortapi.Authenticator) fortapi.Authenticator {
	return fortapi.AuthenticatorFunc(func(r *http.Request) (*fortapi.Principal, error) {
		tok, err := BearerToken(r)
		if err == nil {
			if p := s.For(tok); p != nil {
				return p.Authenticate(r)
			}
		} else if !errors.Is(err, fortapi.ErrNoCredentials) {
			return nil, err
		}
		if next == nil {
			return nil, fortapi.ErrNoCredentials
		}
		return next.Authenticate(r)
	})
}

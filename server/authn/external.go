package authn

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/oidc"
	"github.com/fortapi/fortapi/server"
)

// Tokens of external identity providers (Options.OIDC): a bearer token
// whose iss is a configured issuer is verified by that provider (package
// oidc) and stands for the user record server.ExternalUsername(iss, sub),
// read from the store on every request like an API key: disabling the
// user refuses its tokens from the next request, on every instance, and
// a role change bounds its scopes at once. The principal has
// fortapi.OIDCScheme, accepted only where routes declare it
// (fortapi.WithOIDC), and the scopes the provider's claims map to that
// the user's role also grants.

// MsgExternalUnknown is the detail of the 403 answered for a valid
// external token whose subject has no user record here while
// provisioning is off.
const MsgExternalUnknown = "this identity-provider account has no user on this server: " +
	"an administrator must enable just-in-time provisioning (fortapi serve --oidc-provision)"

// msgExternalTaken is the detail of the 403 answered when the username
// derived from an external identity belongs to a local account (made by
// hand): that account is never taken for the external identity.
const msgExternalTaken = "the user record for this identity-provider account is a local account; it is not used for external tokens"

func (s *Service) authenticateExternal(r *http.Request, prov *oidc.Provider, tok string) (*fortapi.Principal, error) {
	ctx := r.Context()
	c, err := prov.Verify(ctx, tok)
	switch {
	case errors.Is(err, oidc.ErrUnavailable):
		return nil, unavailable("the identity provider's keys cannot be fetched right now")
	case err != nil:
		return nil, err
	}
	u, err := s.externalUser(ctx, c)
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, errors.New("authn: the external token's user is disabled")
	}
	return &fortapi.Principal{Subject: u.ID, Scheme: fortapi.OIDCScheme, Scopes: intersect(c.Scopes, u.Role.Scopes()),
		ExpiresAt: c.ExpiresAt, IssuedAt: c.IssuedAt}, nil
}

// externalUser returns the user record of the token's identity,
// provisioning it when Options.OIDCProvision allows.
func (s *Service) externalUser(ctx context.Context, c *oidc.Claims) (server.User, error) {
	name := server.ExternalUsername(c.Issuer, c.Subject)
	hash := server.ExternalPasswordHash(c.Issuer, c.Subject)
	for attempt := 0; ; attempt++ {
		u, err := s.o.Store.GetUserByName(ctx, name)
		switch {
		case err == nil && u.PasswordHash != hash:
			return server.User{}, huma.Error403Forbidden(msgExternalTaken)
		case err == nil:
			return u, nil
		case !errors.Is(err, server.ErrNotFound):
			if ctx.Err() == nil {
				s.o.Logger.ErrorContext(ctx, "looking up an external token's user failed", "error", err)
			}
			return server.User{}, unavailable("users cannot be checked right now")
		case !s.o.OIDCProvision:
			return server.User{}, huma.Error403Forbidden(MsgExternalUnknown)
		case attempt > 0:
			return server.User{}, unavailable("the user could not be provisioned")
		}
		now := s.o.Now().UTC().Truncate(time.Microsecond)
		id, err := server.NewID(now, s.o.Rand)
		if err != nil {
			return server.User{}, err
		}
		u = server.User{ID: id, Username: name, Role: server.RoleUser, PasswordHash: hash, CreatedAt: now, UpdatedAt: now}
		ev := server.Event{Type: server.EventUserCreated, UserID: id, Username: name,
			Detail: "role user, provisioned for subject " + quoteDetail(c.Subject) + " of issuer " + quoteDetail(c.Issuer)}
		err = s.o.Store.CreateUser(ctx, u, ev)
		if err == nil {
			s.o.Logger.InfoContext(ctx, "provisioned a user for an external identity", "user_id", id, "username", name, "issuer", c.Issuer)
			return u, nil
		}
		if !errors.Is(err, server.ErrConflict) {
			if ctx.Err() == nil {
				s.o.Logger.ErrorContext(ctx, "provisioning an external token's user failed", "error", err)
			}
			return server.User{}, unavailable("the user could not be provisioned")
		}
		// Another request provisioned it first: read it again.
	}
}

// quoteDetail bounds an attacker-influenced string (a verified token's
// sub or iss, printable ASCII) for the audit log.
func quoteDetail(s string) string {
	if len(s) > 128 {
		s = s[:128] + "..."
	}
	return `"` + s + `"`
}

// externalProvider returns the provider of tok's issuer, or nil.
func (s *Service) externalProvider(tok string) *oidc.Provider {
	if s.o.OIDC == nil {
		return nil
	}
	return s.o.OIDC.For(tok)
}

package authn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/apikey"
	"github.com/fortapi/fortapi/server"
)

// API keys (package apikey): created by a logged-in user for a subset of
// the scopes of the credential creating it, shown once, stored as an HMAC
// (Options.APIKeyHashKey), and checked against the store on every request
// that presents one: a revocation, a disable, a role or password change
// committed on any instance refuses the key from the next request, on
// every instance, with no propagation delay. The use is recorded at most
// once per Options.APIKeyTouch.

// DefaultAPIKeyTouch is the default of Options.APIKeyTouch.
const DefaultAPIKeyTouch = time.Minute

// ErrInvalidAPIKey is what authenticating a key that is malformed, mistyped
// (checksum), unknown, revoked, expired, of a disabled or changed user,
// used from an address outside its allowlist or with a wrong secret
// returns: one error for all, so a caller learns nothing of which.
var ErrInvalidAPIKey = errors.New("authn: the API key is not valid")

// ErrAPIKeysOff is returned by CreateAPIKey when the Service has no
// Options.APIKeyHashKey.
var ErrAPIKeysOff = errors.New("authn: API keys are not configured (no hash key)")

// APIKeyScopeError says a key was asked for with a scope the credential
// creating it does not grant.
type APIKeyScopeError struct{ Scope string }

func (e *APIKeyScopeError) Error() string {
	return fmt.Sprintf("the scope %q is not granted to you, so no key of yours can have it", e.Scope)
}

// APIKeyInputError says a field of a new key is not acceptable.
type APIKeyInputError struct{ Field, Reason string }

func (e *APIKeyInputError) Error() string { return e.Field + ": " + e.Reason }

// NewAPIKey is what CreateAPIKey needs.
type NewAPIKey struct {
	Name   string
	Scopes []string
	// ExpiresAt, when set, must be at least a minute ahead.
	ExpiresAt time.Time
	// AllowedCIDRs restricts the client addresses (apikey.ParseAllowlist).
	AllowedCIDRs []string
	// Actor names who creates it in the audit log when it is not the
	// user ("cli"); empty for the user's own request.
	Actor string
}

// CreateAPIKey creates a key for the user p authenticates, with scopes
// that p itself holds (a *APIKeyScopeError otherwise), and returns the key
// (to show once) and what is stored. The user's standing is checked again
// in the store's transaction (server.ErrConflict when it changed).
func (s *Service) CreateAPIKey(ctx context.Context, p *fortapi.Principal, in NewAPIKey, clientIP string) (string, server.APIKey, error) {
	if s.keyHasher == nil {
		return "", server.APIKey{}, ErrAPIKeysOff
	}
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	if !server.ValidAPIKeyName(in.Name) {
		return "", server.APIKey{}, &APIKeyInputError{"name", fmt.Sprintf("1 to %d bytes, no control, invisible or bidirectional-control characters", server.MaxAPIKeyName)}
	}
	if len(in.Scopes) == 0 {
		return "", server.APIKey{}, &APIKeyInputError{"scopes", "name at least one scope"}
	}
	scopes := dedupe(in.Scopes)
	for _, sc := range scopes {
		if !p.HasScope(sc) {
			return "", server.APIKey{}, &APIKeyScopeError{Scope: sc}
		}
	}
	if !in.ExpiresAt.IsZero() {
		in.ExpiresAt = in.ExpiresAt.UTC().Truncate(time.Microsecond)
		if in.ExpiresAt.Before(now.Add(time.Minute)) {
			return "", server.APIKey{}, &APIKeyInputError{"expires_at", "must be at least a minute in the future"}
		}
	}
	if len(in.AllowedCIDRs) > server.MaxAPIKeyCIDRs {
		return "", server.APIKey{}, &APIKeyInputError{"allowed_cidrs", fmt.Sprintf("at most %d prefixes", server.MaxAPIKeyCIDRs)}
	}
	allow, err := apikey.ParseAllowlist(in.AllowedCIDRs)
	if err != nil {
		return "", server.APIKey{}, &APIKeyInputError{"allowed_cidrs", strings.TrimPrefix(err.Error(), "apikey: ")}
	}
	u, err := s.o.Store.GetUser(ctx, p.Subject)
	if err != nil {
		return "", server.APIKey{}, err
	}
	k, err := apikey.New(s.o.Rand)
	if err != nil {
		return "", server.APIKey{}, err
	}
	stored := server.APIKey{ID: k.ID, UserID: u.ID, Name: in.Name, Hash: s.keyHasher.Hash(k), Scopes: scopes,
		CreatedAt: now, ExpiresAt: in.ExpiresAt, CredentialVersion: u.CredentialVersion}
	if len(allow) > 0 {
		stored.AllowedCIDRs = allow.Strings()
	}
	ev := server.Event{RequestID: requestID(ctx), Type: server.EventAPIKeyCreated, UserID: u.ID, Username: u.Username, ClientIP: clientIP, Actor: in.Actor,
		Detail: "API key " + k.ID + " (" + strings.Join(scopes, " ") + ")"}
	if err := s.o.Store.CreateAPIKey(ctx, stored, ev); err != nil {
		return "", server.APIKey{}, err
	}
	return k.Encode(), stored, nil
}

// ListAPIKeys returns the user's keys (hashes included: callers show
// neither hash nor key).
func (s *Service) ListAPIKeys(ctx context.Context, userID string) ([]server.APIKey, error) {
	return s.o.Store.ListAPIKeys(ctx, userID)
}

// RevokeAPIKey deletes the user's key with the id: every instance refuses
// it from the next request. server.ErrNotFound when the user has no such
// key. actor names who revoked it in the audit log.
func (s *Service) RevokeAPIKey(ctx context.Context, userID, id, actor string) error {
	if !apikey.ValidID(id) {
		return server.ErrNotFound
	}
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	return s.o.Store.RevokeAPIKey(ctx, userID, id, now,
		server.Event{RequestID: requestID(ctx), Type: server.EventAPIKeyRevoked, UserID: userID, Detail: "API key " + id + " revoked by " + actor, Actor: actor})
}

// AuthenticateAPIKey implements fortapi.Authenticator for the API key
// scheme (fortapi.API.AddAPIKeyScheme): the key of X-API-Key or
// "Authorization: Bearer fak_...". A request without a key is
// fortapi.ErrNoCredentials; two keys, or a key next to an Authorization
// header, are refused.
func (s *Service) AuthenticateAPIKey(r *http.Request) (*fortapi.Principal, error) {
	raw, err := apikey.FromRequest(r)
	switch {
	case errors.Is(err, apikey.ErrNoKey):
		return nil, fortapi.ErrNoCredentials
	case err != nil:
		return nil, err
	}
	return s.authenticateAPIKey(r, raw)
}

func (s *Service) authenticateAPIKey(r *http.Request, raw string) (*fortapi.Principal, error) {
	k, err := apikey.Parse(raw)
	if err != nil || s.keyHasher == nil {
		return nil, ErrInvalidAPIKey // a typo is refused here, without a store read
	}
	ctx := r.Context()
	stored, u, err := s.o.Store.LookupAPIKey(ctx, k.ID)
	switch {
	case errors.Is(err, server.ErrNotFound):
		return nil, ErrInvalidAPIKey
	case err != nil:
		if ctx.Err() == nil {
			s.o.Logger.ErrorContext(ctx, "looking up an API key failed", "error", err)
		}
		return nil, unavailable("API keys cannot be checked right now")
	}
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	if !s.keyHasher.Verify(k, stored.Hash) || !server.LiveAPIKey(stored, u, now) {
		return nil, ErrInvalidAPIKey
	}
	if len(stored.AllowedCIDRs) > 0 {
		allow, err := apikey.ParseAllowlist(stored.AllowedCIDRs)
		if err != nil || !allow.Allows(s.clientIP(r)) {
			return nil, ErrInvalidAPIKey
		}
	}
	if due, bound := server.TouchDue(stored, now, s.o.APIKeyTouch); due {
		// A failed touch loses one last-used time, not the request.
		if err := s.o.Store.TouchAPIKey(ctx, stored.ID, now, bound); err != nil && ctx.Err() == nil {
			s.o.Logger.WarnContext(ctx, "recording an API key's use failed", "key_id", stored.ID, "error", err)
		}
	}
	return &fortapi.Principal{Subject: u.ID, Scheme: fortapi.APIKeyScheme, Scopes: slices.Clone(stored.Scopes),
		TokenID: "apikey:" + stored.ID, ExpiresAt: stored.ExpiresAt, IssuedAt: stored.CreatedAt}, nil
}

// clientIP is the client address keys' allowlists are checked against:
// Options.ClientIP, or the TCP peer (never a forwarding header).
func (s *Service) clientIP(r *http.Request) netip.Addr {
	if s.o.ClientIP != nil {
		return s.o.ClientIP(r)
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

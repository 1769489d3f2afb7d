package authn_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/apikey"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
)

// keyCounter counts the API key reads and writes the service makes.
type keyCounter struct {
	server.AuthStore
	lookups, touches atomic.Int64
}

func (c *keyCounter) LookupAPIKey(ctx context.Context, id string) (server.APIKey, server.User, error) {
	c.lookups.Add(1)
	return c.AuthStore.LookupAPIKey(ctx, id)
}

func (c *keyCounter) TouchAPIKey(ctx context.Context, id string, now, bound time.Time) error {
	c.touches.Add(1)
	return c.AuthStore.TouchAPIKey(ctx, id, now, bound)
}

func keyRequest(key, remote string, hdr ...string) *http.Request {
	r := httptest.NewRequest("GET", "/items/", nil)
	r.RemoteAddr = remote
	r.Header.Set(apikey.Header, key)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

func newKey(t *testing.T, e *env, u server.User, in authn.NewAPIKey) string {
	t.Helper()
	if in.Name == "" {
		in.Name = "test key"
	}
	if in.Scopes == nil {
		in.Scopes = []string{server.ScopeItemsRead}
	}
	key, _, err := e.svc.CreateAPIKey(context.Background(), &fortapi.Principal{Subject: u.ID, Scopes: u.Role.Scopes()}, in, "")
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// TestAPIKeyAuthentication: a key authenticates as its user with its
// scopes under fortapi.APIKeyScheme; a mistyped key is refused without a
// store read; a wrong secret, an expired key, an address outside the
// allowlist (spoofed forwarding headers notwithstanding) are refused; the
// use is written at most once a minute.
func TestAPIKeyAuthentication(t *testing.T) {
	t.Parallel()
	var gate *keyCounter
	e := newEnv(t, func(s server.AuthStore) server.AuthStore { gate = &keyCounter{AuthStore: s}; return gate })
	u := e.user(t, "robot")
	const peer = "192.0.2.10:4242"
	key := newKey(t, e, u, authn.NewAPIKey{Scopes: []string{server.ScopeItemsWrite, server.ScopeItemsRead}})

	p, err := e.svc.Authenticate(keyRequest(key, peer))
	if err != nil || p.Subject != u.ID || p.Scheme != fortapi.APIKeyScheme || strings.Join(p.Scopes, " ") != "items:write items:read" {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	// As a bearer token, the same principal.
	r := httptest.NewRequest("GET", "/items/", nil)
	r.RemoteAddr = peer
	r.Header.Set("Authorization", "Bearer "+key)
	if p, err := e.svc.Authenticate(r); err != nil || p.Scheme != fortapi.APIKeyScheme {
		t.Fatalf("as bearer: %+v, %v", p, err)
	}

	t.Run("typo refused without a store read", func(t *testing.T) {
		before := gate.lookups.Load()
		for i := len(apikey.Prefix); i < len(key); i++ {
			c := byte('A')
			if key[i] == 'A' || key[i] == '_' {
				continue
			}
			typo := key[:i] + string(c) + key[i+1:]
			if _, err := e.svc.Authenticate(keyRequest(typo, peer)); !errors.Is(err, authn.ErrInvalidAPIKey) {
				t.Fatalf("typo at %d: %v", i, err)
			}
		}
		if n := gate.lookups.Load() - before; n != 0 {
			t.Fatalf("%d store reads for mistyped keys", n)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		k, _ := apikey.Parse(key)
		k.Secret = strings.Repeat("x", apikey.SecretLen)
		if _, err := e.svc.Authenticate(keyRequest(k.Encode(), peer)); !errors.Is(err, authn.ErrInvalidAPIKey) {
			t.Fatalf("wrong secret: %v", err)
		}
	})
	t.Run("ambiguous", func(t *testing.T) {
		if _, err := e.svc.Authenticate(keyRequest(key, peer, "Authorization", "Bearer "+key)); err == nil {
			t.Fatal("a key in both headers was accepted")
		}
		if _, err := e.svc.Authenticate(keyRequest(key, peer, apikey.Header, key)); err == nil {
			t.Fatal("two X-API-Key headers were accepted")
		}
	})
	t.Run("last use written at most once a minute", func(t *testing.T) {
		ctx := context.Background()
		k, _ := apikey.Parse(key)
		e.clock.Advance(2 * time.Minute)
		before := gate.touches.Load()
		for range 5 {
			if _, err := e.svc.Authenticate(keyRequest(key, peer)); err != nil {
				t.Fatal(err)
			}
		}
		if n := gate.touches.Load() - before; n != 1 {
			t.Fatalf("%d writes for 5 uses, want 1", n)
		}
		stored, _, _ := e.store.LookupAPIKey(ctx, k.ID)
		if !stored.LastUsedAt.Equal(e.clock.Now().UTC().Truncate(time.Microsecond)) {
			t.Fatalf("LastUsedAt %v, now %v", stored.LastUsedAt, e.clock.Now())
		}
		e.clock.Advance(30 * time.Second)
		_, _ = e.svc.Authenticate(keyRequest(key, peer))
		if n := gate.touches.Load() - before; n != 1 {
			t.Fatalf("written again after 30s (%d)", n)
		}
		e.clock.Advance(31 * time.Second)
		_, _ = e.svc.Authenticate(keyRequest(key, peer))
		if n := gate.touches.Load() - before; n != 2 {
			t.Fatalf("not written after a minute (%d)", n)
		}
	})
	t.Run("expiry", func(t *testing.T) {
		k := newKey(t, e, u, authn.NewAPIKey{ExpiresAt: e.clock.Now().Add(2 * time.Minute)})
		if _, err := e.svc.Authenticate(keyRequest(k, peer)); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(2 * time.Minute)
		if _, err := e.svc.Authenticate(keyRequest(k, peer)); !errors.Is(err, authn.ErrInvalidAPIKey) {
			t.Fatalf("expired key: %v", err)
		}
	})
	t.Run("CIDR allowlist", func(t *testing.T) {
		k := newKey(t, e, u, authn.NewAPIKey{AllowedCIDRs: []string{"203.0.113.0/24", "2001:db8::/32"}})
		for _, tc := range []struct {
			remote string
			hdr    []string
			ok     bool
		}{
			{"203.0.113.7:1000", nil, true},
			{"[2001:db8::5]:1000", nil, true},
			{"[::ffff:203.0.113.8]:1000", nil, true},
			{"192.0.2.10:1000", nil, false},
			// No trusted proxy: forwarding headers are not the client.
			{"192.0.2.10:1000", []string{"X-Forwarded-For", "203.0.113.7", "X-Real-IP", "203.0.113.7", "Forwarded", "for=203.0.113.7"}, false},
		} {
			_, err := e.svc.Authenticate(keyRequest(k, tc.remote, tc.hdr...))
			if (err == nil) != tc.ok {
				t.Errorf("from %s %v: %v", tc.remote, tc.hdr, err)
			}
		}
	})
	t.Run("scopes are a subset of the creator's", func(t *testing.T) {
		ctx := context.Background()
		for _, p := range []*fortapi.Principal{
			{Subject: u.ID, Scopes: []string{server.ScopeItemsRead}}, // a narrowed token
			{Subject: u.ID, Scopes: u.Role.Scopes()},
		} {
			_, _, err := e.svc.CreateAPIKey(ctx, p, authn.NewAPIKey{Name: "x", Scopes: []string{server.ScopeItemsRead, server.ScopeUsersAdmin}}, "")
			var se *authn.APIKeyScopeError
			if !errors.As(err, &se) || se.Scope != server.ScopeUsersAdmin && se.Scope != server.ScopeItemsWrite {
				t.Fatalf("CreateAPIKey = %v", err)
			}
		}
		_, _, err := e.svc.CreateAPIKey(ctx, &fortapi.Principal{Subject: u.ID, Scopes: []string{server.ScopeItemsRead}},
			authn.NewAPIKey{Name: "x", Scopes: []string{server.ScopeItemsWrite}}, "")
		var se *authn.APIKeyScopeError
		if !errors.As(err, &se) || se.Scope != server.ScopeItemsWrite || !strings.Contains(err.Error(), `"items:write" is not granted to you`) {
			t.Fatalf("a read-only token minted a write key: %v", err)
		}
	})
}

// TestAPIKeyDiesWithItsUser: a revocation, a disable, a role change and
// a password change each end a key at once, for good.
func TestAPIKeyDiesWithItsUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, nil)
	const peer = "192.0.2.10:4242"
	for _, tc := range []struct {
		name   string
		change func(u server.User, key string) error
	}{
		{"revoked", func(u server.User, key string) error {
			k, _ := apikey.Parse(key)
			return e.svc.RevokeAPIKey(ctx, u.ID, k.ID, "test")
		}},
		{"disabled", func(u server.User, _ string) error { _, err := e.svc.SetDisabled(ctx, u.ID, true, "test"); return err }},
		{"demoted", func(u server.User, _ string) error {
			_, err := e.svc.SetRole(ctx, u.ID, server.RoleUser, "test")
			return err
		}},
		{"password changed", func(u server.User, _ string) error { return e.svc.ChangePassword(ctx, u.ID, oldPass, newPass) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := e.user(t, "u-"+strings.ReplaceAll(tc.name, " ", "-"))
			if _, err := e.svc.SetRole(ctx, u.ID, server.RoleAdmin, "test"); err != nil {
				t.Fatal(err)
			}
			u, _ = e.store.GetUser(ctx, u.ID)
			key := newKey(t, e, u, authn.NewAPIKey{Scopes: []string{server.ScopeItemsRead, server.ScopeUsersAdmin}})
			if _, err := e.svc.Authenticate(keyRequest(key, peer)); err != nil {
				t.Fatal(err)
			}
			if err := tc.change(u, key); err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.Authenticate(keyRequest(key, peer)); !errors.Is(err, authn.ErrInvalidAPIKey) {
				t.Fatalf("after the change: %v", err)
			}
		})
	}
}

// BenchmarkAuthenticate compares authenticating a request by an API key
// (a store read on SQLite, the HMAC) with a bearer access token (verified
// from the cache after the first request).
func BenchmarkAuthenticate(b *testing.B) {
	e := newEnv(b, nil)
	u := e.user(b, "bench")
	key, _, err := e.svc.CreateAPIKey(context.Background(), &fortapi.Principal{Subject: u.ID, Scopes: u.Role.Scopes()},
		authn.NewAPIKey{Name: "bench", Scopes: []string{server.ScopeItemsRead}}, "")
	if err != nil {
		b.Fatal(err)
	}
	tr, err := e.svc.Login(context.Background(), authn.Login{Username: "bench", Password: oldPass})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, header, value string }{
		{"apikey", apikey.Header, key},
		{"bearer", "Authorization", "Bearer " + tr.AccessToken},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/items/", nil)
			r.Header.Set(bc.header, bc.value)
			for b.Loop() {
				if _, err := e.svc.Authenticate(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

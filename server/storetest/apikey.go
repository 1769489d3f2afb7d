package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/apikey"
	"github.com/fortapi/fortapi/server"
)

// The contract of server.APIKeyStore: CreateAPIKey's checks (in its
// transaction), the round trip, LookupAPIKey, TouchAPIKey's forward-only
// lazy write, RevokeAPIKey by owner only, and how a user change reaches a
// key (LiveAPIKey over the looked-up user).

func init() {
	authTests = append(authTests,
		struct {
			name string
			fn   func(t *testing.T, s server.Store)
		}{"APIKeyRoundTrip", testAPIKeyRoundTrip},
		struct {
			name string
			fn   func(t *testing.T, s server.Store)
		}{"APIKeyCreateRefused", testAPIKeyCreateRefused},
		struct {
			name string
			fn   func(t *testing.T, s server.Store)
		}{"APIKeyTouchAndRevoke", testAPIKeyTouchAndRevoke},
		struct {
			name string
			fn   func(t *testing.T, s server.Store)
		}{"APIKeyUserChanges", testAPIKeyUserChanges},
		struct {
			name string
			fn   func(t *testing.T, s server.Store)
		}{"APIKeyConcurrentCreateLimit", testAPIKeyConcurrentCreateLimit},
	)
}

func newAPIKey(t testing.TB, u server.User) server.APIKey {
	t.Helper()
	k, err := apikey.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return server.APIKey{ID: k.ID, UserID: u.ID, Name: "ci deploy", Hash: tokenHash(t), Scopes: []string{server.ScopeItemsRead},
		CreatedAt: t0, CredentialVersion: u.CredentialVersion}
}

func wantAPIKey(t testing.TB, got, want server.APIKey) {
	t.Helper()
	if got.ID != want.ID || got.UserID != want.UserID || got.Name != want.Name || string(got.Hash) != string(want.Hash) ||
		!slices.Equal(got.Scopes, want.Scopes) || !slices.Equal(got.AllowedCIDRs, want.AllowedCIDRs) ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) || !got.LastUsedAt.Equal(want.LastUsedAt) ||
		got.CredentialVersion != want.CredentialVersion {
		t.Fatalf("key\n got %+v\nwant %+v", got, want)
	}
	for _, tm := range []time.Time{got.CreatedAt, got.ExpiresAt, got.LastUsedAt} {
		if !tm.IsZero() && tm.Location() != time.UTC {
			t.Fatalf("time %v not in UTC", tm)
		}
	}
}

func testAPIKeyRoundTrip(t *testing.T, s server.Store) {
	ctx := context.Background()
	alice := mustCreateUser(t, s, newUser(t, "alice", server.RoleUser))
	bob := mustCreateUser(t, s, newUser(t, "bob", server.RoleUser))
	k1 := newAPIKey(t, alice)
	k1.Scopes = []string{server.ScopeItemsWrite, server.ScopeItemsRead}
	k1.AllowedCIDRs = []string{"203.0.113.0/24", "2001:db8::/32"}
	k1.ExpiresAt = t0.Add(30 * day)
	k2 := newAPIKey(t, alice)
	k2.CreatedAt = t0.Add(time.Second)
	k2.Name = "ünïcode ✓ name"
	k3 := newAPIKey(t, bob)
	for _, k := range []server.APIKey{k1, k2, k3} {
		if err := s.CreateAPIKey(ctx, k, server.Event{Type: server.EventAPIKeyCreated, Detail: "key " + k.ID}); err != nil {
			t.Fatalf("CreateAPIKey: %v", err)
		}
	}
	got, u, err := s.LookupAPIKey(ctx, k1.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantAPIKey(t, got, k1)
	if u.ID != alice.ID || u.Username != "alice" || u.Role != server.RoleUser {
		t.Fatalf("user %+v", u)
	}
	list, err := s.ListAPIKeys(ctx, alice.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("ListAPIKeys = %d keys, %v", len(list), err)
	}
	wantAPIKey(t, list[0], k1)
	wantAPIKey(t, list[1], k2)
	if list, err := s.ListAPIKeys(ctx, newID(t)); err != nil || len(list) != 0 {
		t.Fatalf("keys of nobody: %v %v", list, err)
	}
	if _, _, err := s.LookupAPIKey(ctx, "AAAAAAAAAAAAAAAA"); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
	evs, err := s.ListEvents(ctx, server.EventFilter{Type: server.EventAPIKeyCreated, UserID: alice.ID, Limit: 10})
	if err != nil || len(evs) != 2 {
		t.Fatalf("events: %v %v", evs, err)
	}
}

func testAPIKeyCreateRefused(t *testing.T, s server.Store) {
	ctx := context.Background()
	alice := mustCreateUser(t, s, newUser(t, "alice", server.RoleUser))
	off := newUser(t, "off", server.RoleUser)
	off.Disabled = true
	mustCreateUser(t, s, off)
	taken := newAPIKey(t, alice)
	if err := s.CreateAPIKey(ctx, taken, server.Event{}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		edit func(*server.APIKey)
		want error // nil: any error
	}{
		{"unknown user", func(k *server.APIKey) { k.UserID = newID(t) }, server.ErrNotFound},
		{"disabled user", func(k *server.APIKey) { k.UserID = off.ID }, server.ErrConflict},
		{"scope the role lacks", func(k *server.APIKey) { k.Scopes = []string{server.ScopeUsersAdmin} }, server.ErrConflict},
		{"stale credential version", func(k *server.APIKey) { k.CredentialVersion = 1 }, server.ErrConflict},
		{"id taken", func(k *server.APIKey) { k.ID = taken.ID }, server.ErrConflict},
		{"bad id", func(k *server.APIKey) { k.ID = "short" }, nil},
		{"id with a quote", func(k *server.APIKey) { k.ID = "AAAAAAAAAAAAAAA'" }, nil},
		{"empty name", func(k *server.APIKey) { k.Name = "" }, nil},
		{"control in name", func(k *server.APIKey) { k.Name = "a\nb" }, nil},
		{"bidi in name", func(k *server.APIKey) { k.Name = "a\u202eb" }, nil},
		{"long name", func(k *server.APIKey) { k.Name = string(make([]byte, 101)) }, nil},
		{"short hash", func(k *server.APIKey) { k.Hash = k.Hash[:31] }, nil},
		{"no scope", func(k *server.APIKey) { k.Scopes = nil }, nil},
		{"scope twice", func(k *server.APIKey) { k.Scopes = []string{"items:read", "items:read"} }, nil},
		{"invalid scope", func(k *server.APIKey) { k.Scopes = []string{"items read"} }, nil},
		{"zero created", func(k *server.APIKey) { k.CreatedAt = time.Time{} }, nil},
		{"expires before created", func(k *server.APIKey) { k.ExpiresAt = t0 }, nil},
		{"bad cidr", func(k *server.APIKey) { k.AllowedCIDRs = []string{"10.0.0.0/33"} }, nil},
		{"cidr not canonical", func(k *server.APIKey) { k.AllowedCIDRs = []string{"10.1.2.3/8"} }, nil},
		{"empty user", func(k *server.APIKey) { k.UserID = "" }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newAPIKey(t, alice)
			tc.edit(&k)
			err := s.CreateAPIKey(ctx, k, server.Event{Type: server.EventAPIKeyCreated})
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("CreateAPIKey = %v, want %v", err, tc.want)
			}
		})
	}
	if list, _ := s.ListAPIKeys(ctx, alice.ID); len(list) != 1 {
		t.Fatalf("%d keys stored, want 1", len(list))
	}
	if evs, _ := s.ListEvents(ctx, server.EventFilter{Type: server.EventAPIKeyCreated, Limit: 10}); len(evs) != 0 {
		t.Fatalf("a refused creation wrote its event: %v", evs)
	}
}

func testAPIKeyTouchAndRevoke(t *testing.T, s server.Store) {
	ctx := context.Background()
	alice := mustCreateUser(t, s, newUser(t, "alice", server.RoleUser))
	bob := mustCreateUser(t, s, newUser(t, "bob", server.RoleUser))
	k := newAPIKey(t, alice)
	if err := s.CreateAPIKey(ctx, k, server.Event{}); err != nil {
		t.Fatal(err)
	}
	lastUsed := func() time.Time {
		t.Helper()
		got, _, err := s.LookupAPIKey(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.LastUsedAt
	}
	use := t0.Add(time.Hour)
	if err := s.TouchAPIKey(ctx, k.ID, use, use.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); !got.Equal(use) {
		t.Fatalf("LastUsedAt = %v, want %v", got, use)
	}
	// A touch whose bound is before the recorded use changes nothing.
	if err := s.TouchAPIKey(ctx, k.ID, use.Add(30*time.Second), use.Add(-30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); !got.Equal(use) {
		t.Fatalf("LastUsedAt moved to %v within the interval", got)
	}
	later := use.Add(2 * time.Minute)
	if err := s.TouchAPIKey(ctx, k.ID, later, later.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got := lastUsed(); !got.Equal(later) {
		t.Fatalf("LastUsedAt = %v, want %v", got, later)
	}
	if err := s.TouchAPIKey(ctx, "AAAAAAAAAAAAAAAA", later, later); err != nil {
		t.Fatalf("touching an unknown key: %v", err)
	}

	// Only the owner's revocation finds the key.
	if err := s.RevokeAPIKey(ctx, bob.ID, k.ID, later, server.Event{Type: server.EventAPIKeyRevoked}); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("revoked by another user: %v", err)
	}
	if err := s.RevokeAPIKey(ctx, alice.ID, k.ID, later, server.Event{Type: server.EventAPIKeyRevoked}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.LookupAPIKey(ctx, k.ID); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("revoked key found: %v", err)
	}
	if err := s.RevokeAPIKey(ctx, alice.ID, k.ID, later, server.Event{Type: server.EventAPIKeyRevoked}); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
	evs, err := s.ListEvents(ctx, server.EventFilter{Type: server.EventAPIKeyRevoked, Limit: 10})
	if err != nil || len(evs) != 1 || evs[0].UserID != alice.ID || !evs[0].At.Equal(later) {
		t.Fatalf("revocation events: %+v %v", evs, err)
	}
}

// testAPIKeyUserChanges: what LookupAPIKey returns lets LiveAPIKey end a
// key when its user is disabled, changes role or password (UpdateUser with
// Revoke), and keep it otherwise.
func testAPIKeyUserChanges(t *testing.T, s server.Store) {
	ctx := context.Background()
	now := t0.Add(time.Hour)
	for _, tc := range []struct {
		name string
		ch   func() server.UserChange
		live bool
	}{
		{"no revoking change", func() server.UserChange { r := server.RoleAdmin; return server.UserChange{Role: &r} }, true},
		{"disabled", func() server.UserChange {
			d := true
			return server.UserChange{Disabled: &d, Revoke: &server.Revocation{Until: now.Add(day)}}
		}, false},
		{"demoted", func() server.UserChange {
			r := server.RoleUser
			return server.UserChange{Role: &r, Revoke: &server.Revocation{Until: now.Add(day)}}
		}, false},
		{"password changed", func() server.UserChange {
			h := testHash2
			return server.UserChange{PasswordHash: &h, Revoke: &server.Revocation{Until: now.Add(day)}}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustCreateUser(t, s, newUser(t, "keep-admin-"+fmt.Sprint(len(tc.name)), server.RoleAdmin))
			u := mustCreateUser(t, s, newUser(t, "u-"+fmt.Sprint(len(tc.name)), server.RoleAdmin))
			k := newAPIKey(t, u)
			k.Scopes = []string{server.ScopeUsersAdmin}
			if err := s.CreateAPIKey(ctx, k, server.Event{}); err != nil {
				t.Fatal(err)
			}
			if got, owner, err := s.LookupAPIKey(ctx, k.ID); err != nil || !server.LiveAPIKey(got, owner, now) {
				t.Fatalf("new key not live: %v", err)
			}
			if _, err := s.UpdateUser(ctx, u.ID, tc.ch(), now, server.Event{}); err != nil {
				t.Fatal(err)
			}
			got, owner, err := s.LookupAPIKey(ctx, k.ID)
			if err != nil {
				t.Fatal(err)
			}
			if live := server.LiveAPIKey(got, owner, now); live != tc.live {
				t.Fatalf("live = %v after the change, want %v", live, tc.live)
			}
		})
	}
}

// testAPIKeyConcurrentCreateLimit: concurrent creations for one user never
// exceed MaxAPIKeysPerUser.
func testAPIKeyConcurrentCreateLimit(t *testing.T, s server.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, newUser(t, "many", server.RoleUser))
	for range server.MaxAPIKeysPerUser - 4 {
		if err := s.CreateAPIKey(ctx, newAPIKey(t, u), server.Event{}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, 12)
	for i := range errs {
		wg.Go(func() { errs[i] = s.CreateAPIKey(ctx, newAPIKey(t, u), server.Event{}) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, server.ErrTooManyAPIKeys):
			t.Fatalf("CreateAPIKey: %v", err)
		}
	}
	list, err := s.ListAPIKeys(ctx, u.ID)
	if err != nil || ok != 4 || len(list) != server.MaxAPIKeysPerUser {
		t.Fatalf("%d created concurrently, %d stored (%v); want 4 and %d", ok, len(list), err, server.MaxAPIKeysPerUser)
	}
}

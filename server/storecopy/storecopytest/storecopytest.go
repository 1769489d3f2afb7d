// Package storecopytest fills a store with an installation that exercises
// every field storecopy moves, and compares two stores the way a copy must
// leave them. It is for tests (of storecopy and of `fortapi store copy`).
package storecopytest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/storecopy"
)

// T0 is the time the fixture's rows are dated from (microseconds, UTC).
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC)

// Fixture is what Populate wrote that a copy must not carry over, and
// what it must.
type Fixture struct {
	// Want counts what a copy of the populated store writes.
	Want storecopy.Stats
	// RefreshHash and WebHash are the hashes of a live refresh token and
	// a live web session credential in the source: a copy has neither.
	RefreshHash, WebHash []byte
	// Secret is a substring of the populated data (a password hash) that
	// a copy's output must never show.
	Secret string
}

// Populate fills the empty store s: users (admins, a disabled user, one
// whose credential version has moved, one with a non-ASCII name, bcrypt
// and argon2id hashes), signing keys in every state, items of several
// owners (one without a user row), live and expired revocations, sessions,
// a web session and a few dozen events, some with At out of ID order.
// now is the wall clock (live revocations end an hour after it).
func Populate(t testing.TB, s server.Store, now time.Time) Fixture {
	t.Helper()
	ctx := context.Background()
	fail := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("storecopytest: %s: %v", what, err)
		}
	}
	id := func(at time.Time) string {
		t.Helper()
		v, err := server.NewID(at, nil)
		fail("NewID", err)
		return v
	}
	const (
		argon = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$2Wn8nL3C5x7A0qWJ7GkU3b3n8Qm0yC0yK9kH3oV1rLQ"
		bcr   = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
	)
	zoe, err := server.CanonicalUsername("Zoë")
	fail("CanonicalUsername", err)
	users := []server.User{
		{ID: id(t0), Username: "admin", Role: server.RoleAdmin, PasswordHash: argon, CreatedAt: t0, UpdatedAt: t0},
		{ID: id(t0.Add(time.Minute)), Username: "root", Role: server.RoleAdmin, PasswordHash: bcr, CreatedAt: t0.Add(time.Minute), UpdatedAt: t0.Add(2 * time.Minute)},
		{ID: id(t0.Add(2 * time.Minute)), Username: "alice", Role: server.RoleUser, PasswordHash: argon + "x", CreatedAt: t0.Add(2 * time.Minute)},
		{ID: id(t0.Add(3 * time.Minute)), Username: "carol", Role: server.RoleUser, PasswordHash: bcr + "y", CreatedAt: t0.Add(3 * time.Minute)},
		{ID: id(t0.Add(4 * time.Minute)), Username: zoe, Role: server.RoleUser, PasswordHash: argon + "z", CreatedAt: t0.Add(4 * time.Minute)},
	}
	for _, u := range users {
		fail("CreateUser "+u.Username, s.CreateUser(ctx, u, server.Event{Type: server.EventUserCreated, Username: u.Username, Detail: "by cli", ClientIP: "192.0.2.1"}))
	}
	admin, root, alice, carol, zoeU := users[0], users[1], users[2], users[3], users[4]

	// API keys: alice's two and admin's one are copied; carol's and
	// zoë's die with the changes below (disable, password) and are not.
	apiKey := func(u server.User, n int, edit func(*server.APIKey)) {
		k := server.APIKey{ID: fmt.Sprintf("storecopy%07d", n), UserID: u.ID, Name: fmt.Sprintf("key %d ✓", n),
			Hash: bytes.Repeat([]byte{byte(n)}, 32), Scopes: []string{server.ScopeItemsRead}, CreatedAt: t0.Add(time.Duration(n) * time.Second)}
		if edit != nil {
			edit(&k)
		}
		fail("CreateAPIKey", s.CreateAPIKey(ctx, k, server.Event{}))
	}
	apiKey(alice, 1, func(k *server.APIKey) {
		k.Scopes = server.RoleUser.Scopes()
		k.AllowedCIDRs = []string{"203.0.113.0/24", "2001:db8::/32"}
		k.ExpiresAt = now.Add(30 * 24 * time.Hour)
		k.LastUsedAt = k.CreatedAt.Add(time.Minute)
	})
	apiKey(alice, 2, nil)
	apiKey(admin, 3, func(k *server.APIKey) { k.Scopes = server.RoleAdmin.Scopes() })
	apiKey(carol, 4, nil)
	apiKey(zoeU, 5, nil)

	// carol is disabled; zoë's password changed (her credential version
	// moves and a subject revocation is logged, live); root, an admin,
	// is disabled too.
	yes := true
	_, err = s.UpdateUser(ctx, carol.ID, server.UserChange{Disabled: &yes}, t0.Add(time.Hour), server.Event{Type: server.EventUserDisabled})
	fail("disable carol", err)
	_, err = s.UpdateUser(ctx, root.ID, server.UserChange{Disabled: &yes}, t0.Add(2*time.Hour), server.Event{Type: server.EventUserDisabled})
	fail("disable root", err)
	newHash := argon + "changed"
	_, err = s.UpdateUser(ctx, zoeU.ID, server.UserChange{PasswordHash: &newHash, Revoke: &server.Revocation{Until: now.Add(time.Hour)}},
		t0.Add(3*time.Hour), server.Event{Type: server.EventPasswordChanged})
	fail("set zoë's password", err)

	// Sessions: alice's, live, with a refresh token and a web session;
	// admin's, revoked (a live session revocation).
	sum := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	live := now.Add(24 * time.Hour)
	sAlice := server.Session{ID: id(now), UserID: alice.ID, Scopes: server.RoleUser.Scopes(), CreatedAt: now, ExpiresAt: live}
	rtHash := sum("refresh-alice")
	fail("CreateSession", s.CreateSession(ctx, sAlice, server.RefreshToken{Hash: rtHash, CreatedAt: now, ExpiresAt: live},
		server.Event{Type: server.EventLoginSuccess, ClientIP: "2001:db8::1"}))
	webHash := sum("web-alice")
	sWeb := server.Session{ID: id(now), UserID: alice.ID, Scopes: []string{server.ScopeItemsRead}, CreatedAt: now, ExpiresAt: live}
	fail("CreateWebSession", s.CreateWebSession(ctx, sWeb, server.WebSession{Hash: webHash}, server.Event{Type: server.EventLoginSuccess}))
	sAdmin := server.Session{ID: id(now), UserID: admin.ID, Scopes: server.RoleAdmin.Scopes(), CreatedAt: now, ExpiresAt: live}
	fail("CreateSession admin", s.CreateSession(ctx, sAdmin, server.RefreshToken{Hash: sum("refresh-admin"), CreatedAt: now, ExpiresAt: live}, server.Event{}))
	fail("RevokeSession", s.RevokeSession(ctx, sAdmin.ID, server.Revocation{Until: now.Add(15 * time.Minute)}, now, server.Event{Type: server.EventLogout}))

	// Revocations: a live jti, an expired one (not copied).
	fail("AddRevocation", s.AddRevocation(ctx, server.Revocation{Kind: server.RevokeJTI, Value: "jti-live", Until: now.Add(10 * time.Minute), CreatedAt: t0}))
	fail("AddRevocation", s.AddRevocation(ctx, server.Revocation{Kind: server.RevokeJTI, Value: "jti-expired", Until: now.Add(-time.Minute), CreatedAt: t0}))

	// Keys in every state, as jwtkey stores them.
	keys := []jwtkey.StoredKey{
		{ID: "kid-active", Alg: jwtkey.EdDSA, State: jwtkey.StateActive, CreatedAt: t0, ActivatedAt: t0.Add(time.Minute),
			Public: bytes.Repeat([]byte{0xed}, 32), Sealed: append([]byte{0, 1, 2, 0}, bytes.Repeat([]byte{0xff}, 60)...)},
		{ID: "kid-next", Alg: jwtkey.ES256, State: jwtkey.StateNext, CreatedAt: t0.Add(time.Hour),
			Public: bytes.Repeat([]byte{4}, 65), Sealed: []byte("sealed-es256")},
		{ID: "kid-retiring", Alg: jwtkey.HS256, State: jwtkey.StateRetiring, CreatedAt: t0.Add(-time.Hour),
			ActivatedAt: t0.Add(-50 * time.Minute), RetiringAt: t0, RetiredAt: t0.Add(15*time.Minute + 30*time.Second), Sealed: []byte("sealed-hmac")},
		{ID: "kid-retired", Alg: jwtkey.EdDSA, State: jwtkey.StateRetired, CreatedAt: t0.Add(-2 * time.Hour),
			ActivatedAt: t0.Add(-2 * time.Hour), RetiringAt: t0.Add(-time.Hour), RetiredAt: t0.Add(-30 * time.Minute), Public: bytes.Repeat([]byte{7}, 32)},
		{ID: "kid-revoked", Alg: jwtkey.EdDSA, State: jwtkey.StateRevoked, CreatedAt: t0.Add(-3 * time.Hour), RevokedAt: t0.Add(-time.Hour),
			Public: bytes.Repeat([]byte{8}, 32)},
	}
	fail("SaveKeys", s.SaveKeys(ctx, keys))

	// Items: 23, of alice, zoë, admin and an owner without a user row.
	owners := []string{alice.ID, zoeU.ID, admin.ID, "00000000-0000-7000-8000-000000000000"}
	taxes := []*float64{nil, ptr(0.0), ptr(0.19), ptr(1e-9)}
	for i := range 23 {
		at := t0.Add(time.Duration(i) * time.Second)
		it := server.Item{
			ID: id(at), OwnerID: owners[i%len(owners)], Name: fmt.Sprintf("item %d ✓", i),
			Description: fmt.Sprintf("<b>bold</b> & \"quoted\"\n line %d, \x00nul", i),
			Price:       0.1 + 0.2 + float64(i), Tax: taxes[i%len(taxes)],
			CreatedAt: at, UpdatedAt: at.Add(time.Duration(i) * time.Microsecond),
		}
		fail("CreateItem", s.CreateItem(ctx, it))
	}

	// Events: 31 more, At going backwards now and then (the order is the
	// IDs', not the times').
	types := []string{server.EventLoginFailure, server.EventRefresh, server.EventKeyRotated, server.EventLoginThrottled}
	for i := range 31 {
		ev := server.Event{At: t0.Add(time.Duration(i%7) * time.Hour), Type: types[i%len(types)], Detail: fmt.Sprintf("event %d", i)}
		if i%3 == 0 {
			ev.UserID, ev.Username, ev.SessionID, ev.ClientIP = alice.ID, alice.Username, sAlice.ID, "198.51.100.7"
		}
		fail("AddEvent", s.AddEvent(ctx, ev))
	}

	fx := Fixture{RefreshHash: rtHash, WebHash: webHash, Secret: bcr}
	fx.Want = storecopy.Stats{
		Users: len(users), Keys: len(keys), Items: 23, APIKeys: 3,
		Events:      len(users) + 2 + 1 + 2 + 1 + 31, // created, disabled, password, logins, logout, AddEvent
		Revocations: 1 + 1 + 1,                       // zoë's subject, admin's session, jti-live
	}
	return fx
}

func ptr[T any](v T) *T { return &v }

// Equal fails t unless dst holds what a copy of src must: the same users
// (CredentialVersion 0), keys, items, events (in order; IDs renumbered)
// and live revocations (Seq renumbered), and none of src's sessions.
func Equal(t testing.TB, fx Fixture, src, dst server.Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	got := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("storecopytest: %s: %v", what, err)
		}
	}

	su, du := allUsers(t, src), allUsers(t, dst)
	if len(su) != fx.Want.Users || len(du) != len(su) {
		t.Errorf("users: source %d, target %d, want %d", len(su), len(du), fx.Want.Users)
	}
	for i := range min(len(su), len(du)) {
		want := su[i]
		want.CredentialVersion = 0
		if !reflect.DeepEqual(du[i], want) {
			t.Errorf("user %d:\n got %+v\nwant %+v", i, du[i], want)
		}
	}

	// The API keys that still work, and only those.
	var copied int
	for _, u := range su {
		sk, err := src.ListAPIKeys(ctx, u.ID)
		got("ListAPIKeys", err)
		dk, err := dst.ListAPIKeys(ctx, u.ID)
		got("ListAPIKeys", err)
		var want []server.APIKey
		for _, k := range sk {
			if !u.Disabled && k.CredentialVersion == u.CredentialVersion {
				k.CredentialVersion = 0
				want = append(want, k)
			}
		}
		if !reflect.DeepEqual(dk, want) {
			t.Errorf("API keys of %s:\n got %+v\nwant %+v", u.Username, dk, want)
		}
		copied += len(dk)
	}
	if copied != fx.Want.APIKeys {
		t.Errorf("API keys: %d copied, want %d", copied, fx.Want.APIKeys)
	}

	sk, err := src.LoadKeys(ctx)
	got("LoadKeys", err)
	dk, err := dst.LoadKeys(ctx)
	got("LoadKeys", err)
	if len(sk) != fx.Want.Keys || !reflect.DeepEqual(sk, dk) {
		t.Errorf("keys:\n got %+v\nwant %+v", dk, sk)
	}

	si, di := allItems(t, src), allItems(t, dst)
	if len(si) != fx.Want.Items || !reflect.DeepEqual(si, di) {
		t.Errorf("items: got %d, want %d (equal: %v)", len(di), len(si), reflect.DeepEqual(si, di))
		for i := range min(len(si), len(di)) {
			if !reflect.DeepEqual(si[i], di[i]) {
				t.Errorf("item %d:\n got %+v\nwant %+v", i, di[i], si[i])
				break
			}
		}
	}

	se, de := allEvents(t, src), allEvents(t, dst)
	if len(se) != fx.Want.Events || len(de) != len(se) {
		t.Errorf("events: source %d, target %d, want %d", len(se), len(de), fx.Want.Events)
	}
	for i := range min(len(se), len(de)) {
		a, b := se[i], de[i]
		a.ID, b.ID = 0, 0
		if a != b {
			t.Errorf("event %d (oldest first):\n got %+v\nwant %+v", i, de[i], se[i])
		}
		if i > 0 && de[i].ID <= de[i-1].ID {
			t.Errorf("event %d: id %d after %d: not ascending", i, de[i].ID, de[i-1].ID)
		}
	}

	sr, err := src.Revocations(ctx, 0, now, 1000)
	got("Revocations", err)
	dr, err := dst.Revocations(ctx, 0, now, 1000)
	got("Revocations", err)
	strip := func(rs []server.Revocation) []server.Revocation {
		out := slices.Clone(rs)
		for i := range out {
			out[i].Seq = 0
		}
		return out
	}
	if len(sr) != fx.Want.Revocations || !reflect.DeepEqual(strip(sr), strip(dr)) {
		t.Errorf("live revocations:\n got %+v\nwant %+v", dr, sr)
	}

	// No session moved: alice's refresh token and cookie are unknown.
	res, err := dst.RotateRefresh(ctx, server.RefreshRequest{
		Hash: fx.RefreshHash, Now: now,
		Next:   server.RefreshToken{Hash: bytes.Repeat([]byte{9}, 32), ExpiresAt: now.Add(time.Hour)},
		Revoke: server.Revocation{Until: now.Add(time.Hour)},
	})
	got("RotateRefresh", err)
	if res.Outcome != server.RefreshInvalid {
		t.Errorf("the source's refresh token on the target: outcome %v, want RefreshInvalid", res.Outcome)
	}
	if _, _, err := dst.LookupWebSession(ctx, fx.WebHash, now, time.Hour, time.Minute); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("the source's web session on the target: %v, want ErrNotFound", err)
	}
}

func allUsers(t testing.TB, s server.Store) []server.User {
	t.Helper()
	var out []server.User
	after := ""
	for {
		page, err := s.ListUsers(context.Background(), after, 3)
		if err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
		out = append(out, page...)
		if len(page) < 3 {
			return out
		}
		after = page[len(page)-1].ID
	}
}

func allItems(t testing.TB, s server.Store) []server.Item {
	t.Helper()
	var out []server.Item
	after := ""
	for {
		page, err := s.ListItems(context.Background(), server.Access{All: true}, after, 10)
		if err != nil {
			t.Fatalf("ListItems: %v", err)
		}
		out = append(out, page...)
		if len(page) < 10 {
			return out
		}
		after = page[len(page)-1].ID
	}
}

// allEvents returns every event, oldest first.
func allEvents(t testing.TB, s server.Store) []server.Event {
	t.Helper()
	var out []server.Event
	var before int64
	for {
		page, err := s.ListEvents(context.Background(), server.EventFilter{BeforeID: before, Limit: 1000})
		if err != nil {
			t.Fatalf("ListEvents: %v", err)
		}
		out = append(out, page...)
		if len(page) < 1000 {
			slices.Reverse(out)
			return out
		}
		before = page[len(page)-1].ID
	}
}

package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/server"
)

// The contract of server.AuthStore. Every test gets its own empty store and
// uses fixed times (t0 and offsets), so rotation and expiry are decided by
// the times the test passes, never by the clock.

// authTests are registered in Run.
var authTests = []struct {
	name string
	fn   func(t *testing.T, s server.Store)
}{
	{"UserCreateGet", testUserCreateGet},
	{"UsernameCanonicalOnly", testUsernameCanonicalOnly},
	{"UsernameLookupCanonicalizes", testUsernameLookupCanonicalizes},
	{"UserHostileNames", testUserHostileNames},
	{"UserListPagination", testUserListPagination},
	{"UpdateUser", testUpdateUser},
	{"UpdateUserIfPasswordHash", testUpdateUserIfPasswordHash},
	{"UpdateUserLastAdmin", testUpdateUserLastAdmin},
	{"SessionCreate", testSessionCreate},
	{"RefreshRotation", testRefreshRotation},
	{"RefreshInvalid", testRefreshInvalid},
	{"RefreshConcurrent", testRefreshConcurrent},
	{"RefreshGraceSameSuccessor", testRefreshGraceSameSuccessor},
	{"RefreshGraceChainMovedOn", testRefreshGraceChainMovedOn},
	{"RefreshTheftRace", testRefreshTheftRace},
	{"CredentialVersion", testCredentialVersion},
	{"CredentialVersionRefusesStaleLogin", testCredentialVersionRefusesStaleLogin},
	{"RevokeSession", testRevokeSession},
	{"Revocations", testRevocations},
	{"PruneExpired", testPruneExpired},
	{"WebSessionLookup", testWebSessionLookup},
	{"WebSessionCreateRefused", testWebSessionCreateRefused},
	{"WebSessionPrune", testWebSessionPrune},
	{"WebSessionConcurrent", testWebSessionConcurrent},
	{"Events", testEvents},
	{"PruneEvents", testPruneEvents},
	{"SigningKeys", testSigningKeys},
	{"AuthInputValidation", testAuthInputValidation},
	{"AuthCancelledContext", testAuthCancelledContext},
}

// t0 is the time the auth tests start at: microseconds, UTC.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC)

const (
	testHash  = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
	testHash2 = "$argon2id$v=19$m=19456,t=2,p=1$b3RoZXJzYWx0$b3RoZXJoYXNob3RoZXJoYXNo"
	day       = 24 * time.Hour
)

// newUser returns a valid user named name with the role.
func newUser(t testing.TB, name string, role server.Role) server.User {
	t.Helper()
	return server.User{
		ID:           newID(t),
		Username:     name,
		Role:         role,
		PasswordHash: testHash,
		CreatedAt:    t0,
		UpdatedAt:    t0,
	}
}

func mustCreateUser(t testing.TB, s server.Store, u server.User) server.User {
	t.Helper()
	if err := s.CreateUser(context.Background(), u, server.Event{}); err != nil {
		t.Fatalf("CreateUser(%q): %v", u.Username, err)
	}
	return u
}

func mustGetUser(t testing.TB, s server.Store, id string) server.User {
	t.Helper()
	u, err := s.GetUser(context.Background(), id)
	if err != nil {
		t.Fatalf("GetUser(%q): %v", id, err)
	}
	return u
}

// tokenHash returns a random 32-byte hash, as SHA-256 of a token would be.
func tokenHash(t testing.TB) []byte {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// login creates a session of u at t0 that lasts a day, and returns it with
// the hash of its first refresh token. u's CredentialVersion is the one the
// login read.
func login(t testing.TB, s server.Store, u server.User) (server.Session, []byte) {
	t.Helper()
	sess := server.Session{
		ID:                newID(t),
		UserID:            u.ID,
		Scopes:            u.Role.Scopes(),
		CreatedAt:         t0,
		ExpiresAt:         t0.Add(day),
		CredentialVersion: u.CredentialVersion,
	}
	h := tokenHash(t)
	rt := server.RefreshToken{Hash: h, CreatedAt: t0, ExpiresAt: t0.Add(day)}
	ev := server.Event{Type: server.EventLoginSuccess, ClientIP: "192.0.2.1"}
	if err := s.CreateSession(context.Background(), sess, rt, ev); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	return sess, h
}

// successor is the hash of the token that replaces the token with the hash
// h, derived from it deterministically as the contract asks of callers
// (authn derives it with an HMAC of the token under a server key; any
// fixed function serves the contract).
func successor(h []byte) []byte {
	sum := sha256.Sum256(append([]byte("storetest successor\x00"), h...))
	return sum[:]
}

// refreshReq asks to rotate hash at now with the grace, for its successor.
func refreshReq(t testing.TB, hash []byte, now time.Time, grace time.Duration) server.RefreshRequest {
	t.Helper()
	return server.RefreshRequest{
		Hash:   hash,
		Next:   server.RefreshToken{Hash: successor(hash), CreatedAt: now, ExpiresAt: now.Add(day)},
		Now:    now,
		Grace:  grace,
		Revoke: server.Revocation{Until: now.Add(2 * day)},
		Event:  server.Event{Type: server.EventRefreshReuse, ClientIP: "192.0.2.9", Detail: "refresh token reused"},
	}
}

func rotate(t testing.TB, s server.Store, req server.RefreshRequest) server.RefreshResult {
	t.Helper()
	res, err := s.RotateRefresh(context.Background(), req)
	if err != nil {
		t.Fatalf("RotateRefresh: %v", err)
	}
	return res
}

// wantOutcome rotates req and checks the outcome.
func wantOutcome(t testing.TB, s server.Store, req server.RefreshRequest, want server.RefreshOutcome) server.RefreshResult {
	t.Helper()
	res := rotate(t, s, req)
	if res.Outcome != want {
		t.Fatalf("RotateRefresh at %v = %v, want %v", req.Now.Sub(t0), outcomeName(res.Outcome), outcomeName(want))
	}
	if want == server.RefreshInvalid && (res.Session.ID != "" || res.User.ID != "") {
		t.Errorf("RefreshInvalid came with session %q and user %q, want zero", res.Session.ID, res.User.ID)
	}
	return res
}

func outcomeName(o server.RefreshOutcome) string {
	switch o {
	case server.RefreshInvalid:
		return "Invalid"
	case server.RefreshRotated:
		return "Rotated"
	case server.RefreshReused:
		return "Reused"
	}
	return fmt.Sprintf("RefreshOutcome(%d)", int(o))
}

// sessionAlive reports whether a token of the session can still be
// rotated: hash is its current token. It rotates it, so the caller uses
// the returned hash afterwards.
func sessionAlive(t testing.TB, s server.Store, hash []byte, now time.Time) ([]byte, bool) {
	t.Helper()
	req := refreshReq(t, hash, now, 0)
	switch res := rotate(t, s, req); res.Outcome {
	case server.RefreshRotated:
		return req.Next.Hash, true
	case server.RefreshInvalid:
		return hash, false
	default:
		t.Fatalf("probing a current token gave %v", outcomeName(res.Outcome))
		return nil, false
	}
}

func allRevocations(t testing.TB, s server.Store, now time.Time) []server.Revocation {
	t.Helper()
	revs, err := s.Revocations(context.Background(), 0, now, 10000)
	if err != nil {
		t.Fatalf("Revocations: %v", err)
	}
	return revs
}

func events(t testing.TB, s server.Store, f server.EventFilter) []server.Event {
	t.Helper()
	if f.Limit == 0 {
		f.Limit = 1000
	}
	evs, err := s.ListEvents(context.Background(), f)
	if err != nil {
		t.Fatalf("ListEvents(%+v): %v", f, err)
	}
	return evs
}

// diffUser describes how got differs from want, or returns "".
func diffUser(got, want server.User) string {
	var d []string
	field := func(name string, g, w any) {
		d = append(d, fmt.Sprintf("%s = %#v, want %#v", name, g, w))
	}
	if got.ID != want.ID {
		field("ID", got.ID, want.ID)
	}
	if got.Username != want.Username {
		field("Username", got.Username, want.Username)
	}
	if got.Role != want.Role {
		field("Role", got.Role, want.Role)
	}
	if got.PasswordHash != want.PasswordHash {
		field("PasswordHash", got.PasswordHash, want.PasswordHash)
	}
	if got.Disabled != want.Disabled {
		field("Disabled", got.Disabled, want.Disabled)
	}
	if got.CredentialVersion != want.CredentialVersion {
		field("CredentialVersion", got.CredentialVersion, want.CredentialVersion)
	}
	for _, tt := range []struct {
		name      string
		got, want time.Time
	}{{"CreatedAt", got.CreatedAt, want.CreatedAt}, {"UpdatedAt", got.UpdatedAt, want.UpdatedAt}} {
		if !tt.got.Equal(tt.want) {
			field(tt.name, tt.got.Format(time.RFC3339Nano), tt.want.Format(time.RFC3339Nano))
		} else if tt.got.Location() != time.UTC {
			d = append(d, fmt.Sprintf("%s location = %v, want UTC", tt.name, tt.got.Location()))
		}
	}
	return strings.Join(d, "; ")
}

func wantUser(t testing.TB, got, want server.User) {
	t.Helper()
	if d := diffUser(got, want); d != "" {
		t.Errorf("user %q: %s", want.Username, d)
	}
}

func testUserCreateGet(t *testing.T, s server.Store) {
	ctx := context.Background()
	tests := []struct {
		name string
		edit func(*server.User)
	}{
		{"plain user", func(*server.User) {}},
		{"admin", func(u *server.User) { u.Role = server.RoleAdmin }},
		{"disabled", func(u *server.User) { u.Disabled = true }},
		{"bcrypt hash", func(u *server.User) { u.PasswordHash = "$2b$12$abcdefghijklmnopqrstuuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0" }},
		{"distinct times", func(u *server.User) {
			u.CreatedAt = time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC)
			u.UpdatedAt = time.Date(2030, 1, 2, 3, 4, 5, 6000, time.UTC)
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := newUser(t, fmt.Sprintf("user%d", i), server.RoleUser)
			tc.edit(&u)
			ev := server.Event{Type: server.EventUserCreated, Detail: "created"}
			if err := s.CreateUser(ctx, u, ev); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			wantUser(t, mustGetUser(t, s, u.ID), u)
			byName, err := s.GetUserByName(ctx, u.Username)
			if err != nil {
				t.Fatalf("GetUserByName: %v", err)
			}
			wantUser(t, byName, u)
			// The event was written with the user filled in.
			evs := events(t, s, server.EventFilter{UserID: u.ID})
			if len(evs) != 1 || evs[0].Type != server.EventUserCreated || evs[0].Username != u.Username || !evs[0].At.Equal(u.CreatedAt) {
				t.Errorf("events of the new user = %+v, want one %s with its name at CreatedAt", evs, server.EventUserCreated)
			}
		})
	}
	t.Run("zero UpdatedAt is CreatedAt, non-UTC comes back UTC", func(t *testing.T) {
		u := newUser(t, "zoned", server.RoleUser)
		u.CreatedAt = time.Date(2024, 6, 1, 12, 0, 0, 5000, time.FixedZone("UTC+5:30", 5*3600+1800))
		u.UpdatedAt = time.Time{}
		mustCreateUser(t, s, u)
		want := u
		want.UpdatedAt = u.CreatedAt
		wantUser(t, mustGetUser(t, s, u.ID), want)
	})
	t.Run("no event without a type", func(t *testing.T) {
		u := mustCreateUser(t, s, newUser(t, "silent", server.RoleUser))
		if evs := events(t, s, server.EventFilter{UserID: u.ID}); len(evs) != 0 {
			t.Errorf("events = %+v, want none", evs)
		}
	})
	t.Run("duplicates", func(t *testing.T) {
		orig := mustCreateUser(t, s, newUser(t, "original", server.RoleUser))
		for _, tc := range []struct {
			name string
			edit func(*server.User)
		}{
			{"same username", func(u *server.User) {}},
			{"same id", func(u *server.User) { u.ID = orig.ID; u.Username = "another" }},
		} {
			dup := newUser(t, orig.Username, server.RoleAdmin)
			tc.edit(&dup)
			ev := server.Event{Type: server.EventUserCreated}
			if err := s.CreateUser(ctx, dup, ev); !errors.Is(err, server.ErrConflict) {
				t.Errorf("%s: CreateUser = %v, want ErrConflict", tc.name, err)
			}
			if dup.ID != orig.ID {
				if _, err := s.GetUser(ctx, dup.ID); !errors.Is(err, server.ErrNotFound) {
					t.Errorf("%s: the refused user was stored: GetUser = %v", tc.name, err)
				}
				// Its event went with it.
				if evs := events(t, s, server.EventFilter{UserID: dup.ID}); len(evs) != 0 {
					t.Errorf("%s: the refused user's event was stored", tc.name)
				}
			}
		}
		wantUser(t, mustGetUser(t, s, orig.ID), orig)
	})
	t.Run("missing is ErrNotFound", func(t *testing.T) {
		for _, id := range []string{newID(t), "", "%", "' OR '1'='1"} {
			if _, err := s.GetUser(ctx, id); !errors.Is(err, server.ErrNotFound) {
				t.Errorf("GetUser(%q) = %v, want ErrNotFound", id, err)
			}
		}
		for _, name := range []string{"nobody", "", "%", "_", "user%", "' OR '1'='1", "user0 "} {
			if _, err := s.GetUserByName(ctx, name); !errors.Is(err, server.ErrNotFound) {
				t.Errorf("GetUserByName(%q) = %v, want ErrNotFound", name, err)
			}
		}
	})
}

func testUserHostileNames(t *testing.T, s server.Store) {
	ctx := context.Background()
	names := append(payloads(t),
		"nul\x00inside", "\x00", "trailing nul\x00", "tab\tand\nnewline",
		"Grüße, 世界 🌍 مرحبا e\u0301", "\u202eevil", "\xff\xfe not UTF-8",
		strings.Repeat("long🌍", 500))
	seen := map[string]bool{}
	want := map[string]server.User{} // by id
	spelled := map[string]string{}   // payload -> id of its user
	for _, n := range names {
		// Usernames are stored canonical: a payload with no canonical form
		// is refused, one with a canonical form is stored as that.
		c, err := server.CanonicalUsername(n)
		if err != nil {
			if err := s.CreateUser(ctx, newUser(t, n, server.RoleUser), server.Event{}); err == nil || errors.Is(err, server.ErrConflict) {
				t.Errorf("CreateUser(%q) = %v, want it refused as not canonical", n, err)
			}
			if _, err := s.GetUserByName(ctx, n); !errors.Is(err, server.ErrNotFound) {
				t.Errorf("GetUserByName(%q) = %v, want ErrNotFound", n, err)
			}
			continue
		}
		if seen[c] { // would be a duplicate username
			continue
		}
		seen[c] = true
		u := newUser(t, c, server.RoleUser)
		u.PasswordHash = n // any text round-trips
		mustCreateUser(t, s, u)
		want[u.ID] = u
		spelled[n] = u.ID
	}
	if len(want) < 10 {
		t.Fatalf("only %d payloads are usernames", len(want))
	}
	for n, id := range spelled {
		got, err := s.GetUserByName(ctx, n)
		if err != nil || got.ID != id {
			t.Errorf("GetUserByName(%q) = %q, %v; want the user of its canonical form", n, got.ID, err)
		}
	}
	for _, u := range want {
		got, err := s.GetUserByName(ctx, u.Username)
		if err != nil {
			t.Errorf("GetUserByName(%q): %v", u.Username, err)
			continue
		}
		wantUser(t, got, u)
		wantUser(t, mustGetUser(t, s, u.ID), u)
		// The payload as an id matches nothing.
		if _, err := s.GetUser(ctx, u.Username); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("GetUser(id=%q) = %v, want ErrNotFound", u.Username, err)
		}
	}
	var all []server.User
	after := ""
	for {
		page, err := s.ListUsers(ctx, after, 97)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if len(page) < 97 {
			break
		}
		after = page[len(page)-1].ID
	}
	if len(all) != len(want) {
		t.Fatalf("ListUsers returned %d users, stored %d", len(all), len(want))
	}
	for _, got := range all {
		wantUser(t, got, want[got.ID])
	}
}

func testUserListPagination(t *testing.T, s server.Store) {
	ctx := context.Background()
	var ids []string
	for i := range 23 {
		ids = append(ids, mustCreateUser(t, s, newUser(t, fmt.Sprintf("u%02d", i), server.RoleUser)).ID)
	}
	slices.Sort(ids)
	for _, size := range []int{1, 2, 5, 22, 23, 24, 1000} {
		t.Run(fmt.Sprintf("limit=%d", size), func(t *testing.T) {
			var got []string
			after := ""
			for {
				page, err := s.ListUsers(ctx, after, size)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > size {
					t.Fatalf("page of %d, limit %d", len(page), size)
				}
				for _, u := range page {
					if u.ID <= after {
						t.Fatalf("id %q not after %q", u.ID, after)
					}
					after = u.ID
					got = append(got, u.ID)
				}
				if len(page) < size {
					break
				}
			}
			if !slices.Equal(got, ids) {
				t.Errorf("pages joined = %q, want %q", got, ids)
			}
		})
	}
	page, err := s.ListUsers(ctx, ids[10], 3)
	if err != nil || !slices.Equal(userIDs(page), ids[11:14]) {
		t.Errorf("ListUsers(after=ids[10], 3) = %q, %v; want %q", userIDs(page), err, ids[11:14])
	}
	for _, limit := range []int{0, -1} {
		if got, err := s.ListUsers(ctx, "", limit); err == nil {
			t.Errorf("ListUsers(limit=%d) = %d users, want an error", limit, len(got))
		}
	}
}

func userIDs(us []server.User) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.ID
	}
	return out
}

func rolePtr(r server.Role) *server.Role { return &r }
func boolPtr(b bool) *bool               { return &b }
func strPtr(s string) *string            { return &s }

func testUpdateUser(t *testing.T, s server.Store) {
	ctx := context.Background()
	// Another admin, so that no case here meets the last-admin rule.
	mustCreateUser(t, s, newUser(t, "root", server.RoleAdmin))
	now := t0.Add(time.Hour)
	until := now.Add(day)

	tests := []struct {
		name   string
		role   server.Role
		ch     server.UserChange
		ev     server.Event
		edit   func(*server.User) // the expected result
		revoke bool
	}{
		{"promote", server.RoleUser, server.UserChange{Role: rolePtr(server.RoleAdmin)},
			server.Event{Type: server.EventRoleChanged}, func(u *server.User) { u.Role = server.RoleAdmin }, false},
		{"demote an admin with revoke", server.RoleAdmin,
			server.UserChange{Role: rolePtr(server.RoleUser), Revoke: &server.Revocation{Until: until}},
			server.Event{Type: server.EventRoleChanged}, func(u *server.User) { u.Role = server.RoleUser }, true},
		{"disable with revoke", server.RoleUser,
			server.UserChange{Disabled: boolPtr(true), Revoke: &server.Revocation{Until: until}},
			server.Event{Type: server.EventUserDisabled}, func(u *server.User) { u.Disabled = true }, true},
		{"change password with revoke", server.RoleUser,
			server.UserChange{PasswordHash: strPtr(testHash2), Revoke: &server.Revocation{Until: until}},
			server.Event{Type: server.EventPasswordChanged, ClientIP: "198.51.100.7"}, func(u *server.User) { u.PasswordHash = testHash2 }, true},
		{"everything at once", server.RoleUser,
			server.UserChange{Role: rolePtr(server.RoleAdmin), Disabled: boolPtr(true), PasswordHash: strPtr(testHash2), Revoke: &server.Revocation{Until: until}},
			server.Event{Type: server.EventUserDisabled}, func(u *server.User) {
				u.Role, u.Disabled, u.PasswordHash = server.RoleAdmin, true, testHash2
			}, true},
		{"no change, no event", server.RoleUser, server.UserChange{}, server.Event{}, func(*server.User) {}, false},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u := mustCreateUser(t, s, newUser(t, fmt.Sprintf("target%d", i), tc.role))
			s1, h1 := login(t, s, u)
			s2, h2 := login(t, s, u)
			revsBefore := len(allRevocations(t, s, now))

			got, err := s.UpdateUser(ctx, u.ID, tc.ch, now, tc.ev)
			if err != nil {
				t.Fatalf("UpdateUser: %v", err)
			}
			want := u
			tc.edit(&want)
			want.UpdatedAt = now
			if tc.revoke {
				want.CredentialVersion++
			}
			wantUser(t, got, want)
			wantUser(t, mustGetUser(t, s, u.ID), want)

			evs := events(t, s, server.EventFilter{UserID: u.ID, Type: tc.ev.Type})
			if tc.ev.Type == "" {
				evs = events(t, s, server.EventFilter{UserID: u.ID})
				for _, ev := range evs {
					if ev.Type != server.EventLoginSuccess {
						t.Errorf("unexpected event %+v", ev)
					}
				}
			} else if len(evs) != 1 || evs[0].Username != u.Username || !evs[0].At.Equal(now) || evs[0].ClientIP != tc.ev.ClientIP {
				t.Errorf("events %s of the user = %+v, want one with its name at now", tc.ev.Type, evs)
			}

			revs := allRevocations(t, s, now)
			if !tc.revoke {
				if len(revs) != revsBefore {
					t.Errorf("revocation log grew from %d to %d without Revoke", revsBefore, len(revs))
				}
				// The sessions live on.
				if _, alive := sessionAlive(t, s, h1, now); !alive {
					t.Error("a session died without Revoke")
				}
				return
			}
			// One entry per live session, then the subject entry.
			if len(revs) != revsBefore+3 {
				t.Fatalf("revocation log has %d entries, want %d", len(revs), revsBefore+3)
			}
			sids := []string{revs[revsBefore].Value, revs[revsBefore+1].Value}
			slices.Sort(sids)
			wantSids := []string{s1.ID, s2.ID}
			slices.Sort(wantSids)
			for _, r := range revs[revsBefore : revsBefore+2] {
				if r.Kind != server.RevokeSession || !r.Until.Equal(until) {
					t.Errorf("session revocation = %+v, want kind session until %v", r, until)
				}
			}
			if !slices.Equal(sids, wantSids) {
				t.Errorf("session revocations name %q, want the user's sessions %q", sids, wantSids)
			}
			r := revs[len(revs)-1]
			if r.Kind != server.RevokeSubject || r.Value != u.ID || !r.NotBefore.Equal(now) || !r.Until.Equal(until) || !r.CreatedAt.Equal(now) {
				t.Errorf("revocation = %+v, want subject %q, NotBefore and CreatedAt now, Until %v", r, u.ID, until)
			}
			// Every session is revoked: even once the user is enabled
			// again, neither of its tokens rotates.
			if want.Disabled {
				if _, err := s.UpdateUser(ctx, u.ID, server.UserChange{Disabled: boolPtr(false)}, now, server.Event{}); err != nil {
					t.Fatal(err)
				}
			}
			for i, h := range [][]byte{h1, h2} {
				if _, alive := sessionAlive(t, s, h, now.Add(time.Minute)); alive {
					t.Errorf("session %d still rotates after UpdateUser with Revoke", i+1)
				}
			}
			// A new login, with the role as it is now, works.
			_, h3 := login(t, s, mustGetUser(t, s, u.ID))
			if _, alive := sessionAlive(t, s, h3, now.Add(time.Minute)); !alive {
				t.Error("a session created after the revocation does not rotate")
			}
		})
	}
	t.Run("unknown user", func(t *testing.T) {
		_, err := s.UpdateUser(ctx, newID(t), server.UserChange{Disabled: boolPtr(true)}, now, server.Event{Type: server.EventUserDisabled})
		if !errors.Is(err, server.ErrNotFound) {
			t.Errorf("UpdateUser(unknown) = %v, want ErrNotFound", err)
		}
	})
	t.Run("explicit revocation fields are kept", func(t *testing.T) {
		u := mustCreateUser(t, s, newUser(t, "explicit", server.RoleUser))
		nb := now.Add(-time.Minute)
		rev := server.Revocation{Kind: server.RevokeSubject, Value: u.ID, NotBefore: nb, Until: until, CreatedAt: now.Add(time.Second)}
		if _, err := s.UpdateUser(ctx, u.ID, server.UserChange{Revoke: &rev}, now, server.Event{}); err != nil {
			t.Fatal(err)
		}
		revs := allRevocations(t, s, now)
		r := revs[len(revs)-1]
		if r.Value != u.ID || !r.NotBefore.Equal(nb) || !r.CreatedAt.Equal(rev.CreatedAt) {
			t.Errorf("revocation = %+v, want %+v", r, rev)
		}
	})
}

func testUpdateUserIfPasswordHash(t *testing.T, s server.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, newUser(t, "rehash", server.RoleUser))
	now := t0.Add(time.Hour)
	rehash := "$argon2id$v=19$m=65536,t=3,p=1$bmV3c2FsdA$bmV3aGFzaG5ld2hhc2g"

	// A stale condition changes nothing, writes no event, revokes nothing.
	ch := server.UserChange{PasswordHash: strPtr(rehash), IfPasswordHash: strPtr(testHash2), Revoke: &server.Revocation{Until: now.Add(day)}}
	_, err := s.UpdateUser(ctx, u.ID, ch, now, server.Event{Type: server.EventPasswordRehash})
	if !errors.Is(err, server.ErrConflict) {
		t.Fatalf("UpdateUser with a stale IfPasswordHash = %v, want ErrConflict", err)
	}
	wantUser(t, mustGetUser(t, s, u.ID), u)
	if evs := events(t, s, server.EventFilter{UserID: u.ID}); len(evs) != 0 {
		t.Errorf("a refused update wrote events %+v", evs)
	}
	if revs := allRevocations(t, s, now); len(revs) != 0 {
		t.Errorf("a refused update logged revocations %+v", revs)
	}

	// The current hash applies it.
	ch = server.UserChange{PasswordHash: strPtr(rehash), IfPasswordHash: strPtr(testHash)}
	got, err := s.UpdateUser(ctx, u.ID, ch, now, server.Event{Type: server.EventPasswordRehash})
	if err != nil {
		t.Fatalf("UpdateUser with the current IfPasswordHash: %v", err)
	}
	want := u
	want.PasswordHash, want.UpdatedAt = rehash, now
	wantUser(t, got, want)
	// The same condition again is stale now.
	if _, err := s.UpdateUser(ctx, u.ID, ch, now, server.Event{}); !errors.Is(err, server.ErrConflict) {
		t.Errorf("repeated conditional update = %v, want ErrConflict", err)
	}
	wantUser(t, mustGetUser(t, s, u.ID), want)
}

func testUpdateUserLastAdmin(t *testing.T, s server.Store) {
	ctx := context.Background()
	now := t0.Add(time.Hour)
	update := func(u server.User, ch server.UserChange) error {
		_, err := s.UpdateUser(ctx, u.ID, ch, now, server.Event{Type: server.EventRoleChanged})
		return err
	}
	revoke := &server.Revocation{Until: now.Add(day)}
	demote := server.UserChange{Role: rolePtr(server.RoleUser), Revoke: revoke}
	disable := server.UserChange{Disabled: boolPtr(true), Revoke: revoke}

	// With no admin at all, other users can still be changed.
	plain := mustCreateUser(t, s, newUser(t, "plain", server.RoleUser))
	if err := update(plain, server.UserChange{PasswordHash: strPtr(testHash2)}); err != nil {
		t.Fatalf("changing a user while no admin exists: %v", err)
	}

	first := mustCreateUser(t, s, newUser(t, "first", server.RoleAdmin))
	for _, tc := range []struct {
		name string
		ch   server.UserChange
	}{{"demote", demote}, {"disable", disable}, {"demote and disable", server.UserChange{Role: rolePtr(server.RoleUser), Disabled: boolPtr(true)}}} {
		if err := update(first, tc.ch); !errors.Is(err, server.ErrLastAdmin) {
			t.Errorf("%s the only admin = %v, want ErrLastAdmin", tc.name, err)
		}
	}
	wantUser(t, mustGetUser(t, s, first.ID), first)
	if evs := events(t, s, server.EventFilter{UserID: first.ID}); len(evs) != 0 {
		t.Errorf("refused changes wrote events %+v", evs)
	}
	if revs := allRevocations(t, s, now); len(revs) != 0 {
		t.Errorf("refused changes logged revocations %+v", revs)
	}
	// Changes that keep it an enabled admin are fine.
	if err := update(first, server.UserChange{Role: rolePtr(server.RoleAdmin), Disabled: boolPtr(false), PasswordHash: strPtr(testHash2)}); err != nil {
		t.Errorf("changing the only admin's password = %v", err)
	}

	// A disabled admin does not count.
	dormant := newUser(t, "dormant", server.RoleAdmin)
	dormant.Disabled = true
	mustCreateUser(t, s, dormant)
	if err := update(first, demote); !errors.Is(err, server.ErrLastAdmin) {
		t.Errorf("demote the only enabled admin (another is disabled) = %v, want ErrLastAdmin", err)
	}
	// Demoting the disabled admin is no problem: it was not counted.
	if err := update(dormant, demote); err != nil {
		t.Errorf("demote a disabled admin = %v", err)
	}

	second := mustCreateUser(t, s, newUser(t, "second", server.RoleAdmin))
	if err := update(first, demote); err != nil {
		t.Fatalf("demote one of two admins = %v", err)
	}
	if got := mustGetUser(t, s, first.ID); got.Role != server.RoleUser {
		t.Errorf("first's role = %q after the demotion", got.Role)
	}
	for _, ch := range []server.UserChange{demote, disable} {
		if err := update(second, ch); !errors.Is(err, server.ErrLastAdmin) {
			t.Errorf("change the remaining admin = %v, want ErrLastAdmin", err)
		}
	}
	// Promote first again; now second may be disabled.
	if err := update(first, server.UserChange{Role: rolePtr(server.RoleAdmin)}); err != nil {
		t.Fatal(err)
	}
	if err := update(second, disable); err != nil {
		t.Errorf("disable one of two admins = %v", err)
	}
}

func testSessionCreate(t *testing.T, s server.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, newUser(t, "sessions", server.RoleUser))
	sess, h := login(t, s, u)

	t.Run("round trip through a rotation", func(t *testing.T) {
		res := wantOutcome(t, s, refreshReq(t, h, t0.Add(time.Minute), 0), server.RefreshRotated)
		if res.Session.ID != sess.ID || res.Session.UserID != u.ID || !slices.Equal(res.Session.Scopes, sess.Scopes) ||
			!res.Session.CreatedAt.Equal(sess.CreatedAt) || !res.Session.ExpiresAt.Equal(sess.ExpiresAt) || !res.Session.RevokedAt.IsZero() {
			t.Errorf("session = %+v, want %+v", res.Session, sess)
		}
		wantUser(t, res.User, u)
	})
	t.Run("login event", func(t *testing.T) {
		evs := events(t, s, server.EventFilter{Type: server.EventLoginSuccess})
		if len(evs) != 1 || evs[0].UserID != u.ID || evs[0].SessionID != sess.ID || evs[0].ClientIP != "192.0.2.1" || !evs[0].At.Equal(t0) {
			t.Errorf("login events = %+v, want one for the session at t0", evs)
		}
	})
	t.Run("scopes", func(t *testing.T) {
		for _, scopes := range [][]string{nil, {server.ScopeItemsRead}, {server.ScopeItemsWrite, server.ScopeItemsRead}} {
			s2 := server.Session{ID: newID(t), UserID: u.ID, Scopes: scopes, CreatedAt: t0, ExpiresAt: t0.Add(day)}
			h2 := tokenHash(t)
			if err := s.CreateSession(ctx, s2, server.RefreshToken{Hash: h2, SessionID: s2.ID, ExpiresAt: t0.Add(day)}, server.Event{}); err != nil {
				t.Fatalf("CreateSession(scopes %q): %v", scopes, err)
			}
			res := wantOutcome(t, s, refreshReq(t, h2, t0.Add(time.Minute), 0), server.RefreshRotated)
			if !slices.Equal(res.Session.Scopes, scopes) {
				t.Errorf("scopes %q came back as %q", scopes, res.Session.Scopes)
			}
		}
		// A scope the user's role does not grant (checked in the
		// transaction, against the role stored now).
		for _, bad := range [][]string{{server.ScopeUsersAdmin}, {server.ScopeItemsRead, server.ScopeKeysAdmin}, {"a"}} {
			s2 := server.Session{ID: newID(t), UserID: u.ID, Scopes: bad, CreatedAt: t0, ExpiresAt: t0.Add(day)}
			err := s.CreateSession(ctx, s2, server.RefreshToken{Hash: tokenHash(t), ExpiresAt: t0.Add(day)}, server.Event{})
			if !errors.Is(err, server.ErrConflict) {
				t.Errorf("CreateSession(scopes %q) = %v, want ErrConflict", bad, err)
			}
		}
		// Nor a session for a disabled user.
		off := mustCreateUser(t, s, newUser(t, "switched-off", server.RoleUser))
		if _, err := s.UpdateUser(ctx, off.ID, server.UserChange{Disabled: boolPtr(true)}, t0, server.Event{}); err != nil {
			t.Fatal(err)
		}
		s3 := server.Session{ID: newID(t), UserID: off.ID, Scopes: []string{server.ScopeItemsRead}, CreatedAt: t0, ExpiresAt: t0.Add(day)}
		if err := s.CreateSession(ctx, s3, server.RefreshToken{Hash: tokenHash(t), ExpiresAt: t0.Add(day)}, server.Event{}); !errors.Is(err, server.ErrConflict) {
			t.Errorf("CreateSession for a disabled user = %v, want ErrConflict", err)
		}
		for _, bad := range [][]string{{""}, {"a b"}, {"items:read", "with\ttab"}, {"quote\""}, {"é"}} {
			s2 := server.Session{ID: newID(t), UserID: u.ID, Scopes: bad, CreatedAt: t0, ExpiresAt: t0.Add(day)}
			if err := s.CreateSession(ctx, s2, server.RefreshToken{Hash: tokenHash(t), ExpiresAt: t0.Add(day)}, server.Event{}); err == nil {
				t.Errorf("CreateSession(scopes %q) succeeded, want an error", bad)
			}
		}
	})
	t.Run("conflicts and unknown user", func(t *testing.T) {
		ev := server.Event{Type: server.EventLoginSuccess, Detail: "refused"}
		fresh := func() server.Session {
			return server.Session{ID: newID(t), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(day)}
		}
		rt := func(h []byte) server.RefreshToken {
			return server.RefreshToken{Hash: h, CreatedAt: t0, ExpiresAt: t0.Add(day)}
		}
		dupSession := fresh()
		dupSession.ID = sess.ID
		if err := s.CreateSession(ctx, dupSession, rt(tokenHash(t)), ev); !errors.Is(err, server.ErrConflict) {
			t.Errorf("CreateSession(taken session id) = %v, want ErrConflict", err)
		}
		// A taken token hash refuses the whole session: its id is free
		// afterwards.
		s2 := fresh()
		if err := s.CreateSession(ctx, s2, rt(h), ev); !errors.Is(err, server.ErrConflict) {
			t.Errorf("CreateSession(taken token hash) = %v, want ErrConflict", err)
		}
		ghost := fresh()
		ghost.UserID = newID(t)
		if err := s.CreateSession(ctx, ghost, rt(tokenHash(t)), ev); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("CreateSession(unknown user) = %v, want ErrNotFound", err)
		}
		if evs := events(t, s, server.EventFilter{Type: server.EventLoginSuccess}); len(evs) != 1 {
			t.Errorf("refused sessions wrote events: %d login events, want 1", len(evs))
		}
		h2 := tokenHash(t)
		if err := s.CreateSession(ctx, s2, rt(h2), ev); err != nil {
			t.Errorf("CreateSession with the id of a refused one = %v, want it stored", err)
		}
	})
}

func testRefreshRotation(t *testing.T, s server.Store) {
	const grace = 10 * time.Second
	u := mustCreateUser(t, s, newUser(t, "rotator", server.RoleUser))
	sess, h0 := login(t, s, u)

	at := func(d time.Duration) time.Time { return t0.Add(d) }
	req1 := refreshReq(t, h0, at(time.Minute), grace)
	res := wantOutcome(t, s, req1, server.RefreshRotated)
	if res.Session.ID != sess.ID || res.User.ID != u.ID {
		t.Fatalf("rotation returned session %q user %q, want %q %q", res.Session.ID, res.User.ID, sess.ID, u.ID)
	}
	h1 := req1.Next.Hash

	// The old token again within the grace window: a concurrent refresh,
	// answered with the same successor, stored once.
	req2 := refreshReq(t, h0, at(time.Minute+grace-time.Microsecond), grace)
	if res := wantOutcome(t, s, req2, server.RefreshRotated); !res.Replay || !bytes.Equal(req2.Next.Hash, h1) {
		t.Errorf("replay within the grace: Replay %v, want true, for the same successor", res.Replay)
	}
	if res.Replay {
		t.Error("the first rotation came back as a replay")
	}

	// The new token rotates on.
	req3 := refreshReq(t, h1, at(2*time.Minute), grace)
	wantOutcome(t, s, req3, server.RefreshRotated)
	h3 := req3.Next.Hash

	if n := len(allRevocations(t, s, t0)); n != 0 {
		t.Fatalf("%d revocations before any reuse", n)
	}

	// The old token after the grace window: reuse. The session is revoked,
	// the revocation logged, the event written.
	reuseAt := at(time.Minute + grace)
	req4 := refreshReq(t, h0, reuseAt, grace)
	res = wantOutcome(t, s, req4, server.RefreshReused)
	if res.Session.ID != sess.ID || res.User.ID != u.ID || !res.Session.RevokedAt.Equal(reuseAt) {
		t.Errorf("reuse returned session %+v user %q, want %q revoked at %v", res.Session, res.User.ID, sess.ID, reuseAt)
	}
	revs := allRevocations(t, s, reuseAt)
	if len(revs) != 1 || revs[0].Kind != server.RevokeSession || revs[0].Value != sess.ID ||
		!revs[0].Until.Equal(req4.Revoke.Until) || !revs[0].CreatedAt.Equal(reuseAt) || revs[0].Seq <= 0 {
		t.Errorf("revocations after reuse = %+v, want one for session %q", revs, sess.ID)
	}
	evs := events(t, s, server.EventFilter{Type: server.EventRefreshReuse})
	if len(evs) != 1 || evs[0].UserID != u.ID || evs[0].Username != u.Username || evs[0].SessionID != sess.ID ||
		evs[0].ClientIP != req4.Event.ClientIP || evs[0].Detail != req4.Event.Detail || !evs[0].At.Equal(reuseAt) {
		t.Errorf("reuse events = %+v, want one for user %q session %q", evs, u.ID, sess.ID)
	}

	// Now every token of the family is dead, the newest included, and
	// nothing more is logged.
	for name, h := range map[string][]byte{"newest": h3, "rotated": h1, "reused": h0, "never stored": successor(h3)} {
		t.Run("after reuse, "+name, func(t *testing.T) {
			wantOutcome(t, s, refreshReq(t, h, reuseAt.Add(time.Second), grace), server.RefreshInvalid)
		})
	}
	if n := len(allRevocations(t, s, reuseAt)); n != 1 {
		t.Errorf("%d revocations after replays of a revoked family, want 1", n)
	}

	// Another session of the user is unaffected.
	_, other := login(t, s, u)
	wantOutcome(t, s, refreshReq(t, other, reuseAt, grace), server.RefreshRotated)

	t.Run("zero grace", func(t *testing.T) {
		_, h := login(t, s, u)
		req := refreshReq(t, h, at(time.Minute), 0)
		wantOutcome(t, s, req, server.RefreshRotated)
		wantOutcome(t, s, refreshReq(t, h, at(time.Minute), 0), server.RefreshReused)
	})
	t.Run("reuse event type defaults", func(t *testing.T) {
		sess, h := login(t, s, u)
		wantOutcome(t, s, refreshReq(t, h, at(time.Minute), 0), server.RefreshRotated)
		req := refreshReq(t, h, at(2*time.Minute), 0)
		req.Event = server.Event{}
		req.Revoke = server.Revocation{Until: at(day)}
		wantOutcome(t, s, req, server.RefreshReused)
		evs := events(t, s, server.EventFilter{Type: server.EventRefreshReuse, UserID: u.ID})
		if len(evs) == 0 || evs[0].SessionID != sess.ID {
			t.Errorf("newest reuse event = %+v, want one for session %q", evs, sess.ID)
		}
	})
}

func testRefreshInvalid(t *testing.T, s server.Store) {
	ctx := context.Background()
	now := t0.Add(time.Hour)
	tests := []struct {
		name string
		// setup returns the hash to present at now.
		setup func(t *testing.T) []byte
	}{
		{"unknown hash", func(t *testing.T) []byte { return tokenHash(t) }},
		{"token expired", func(t *testing.T) []byte {
			u := mustCreateUser(t, s, newUser(t, "expired-token", server.RoleUser))
			sess := server.Session{ID: newID(t), UserID: u.ID, CreatedAt: t0, ExpiresAt: t0.Add(day)}
			h := tokenHash(t)
			if err := s.CreateSession(ctx, sess, server.RefreshToken{Hash: h, CreatedAt: t0, ExpiresAt: now}, server.Event{}); err != nil {
				t.Fatal(err)
			}
			return h
		}},
		{"session expired", func(t *testing.T) []byte {
			u := mustCreateUser(t, s, newUser(t, "expired-session", server.RoleUser))
			sess := server.Session{ID: newID(t), UserID: u.ID, CreatedAt: t0, ExpiresAt: now.Add(-time.Microsecond)}
			h := tokenHash(t)
			if err := s.CreateSession(ctx, sess, server.RefreshToken{Hash: h, CreatedAt: t0, ExpiresAt: t0.Add(day)}, server.Event{}); err != nil {
				t.Fatal(err)
			}
			return h
		}},
		{"user disabled", func(t *testing.T) []byte {
			u := mustCreateUser(t, s, newUser(t, "disabled", server.RoleUser))
			_, h := login(t, s, u)
			if _, err := s.UpdateUser(ctx, u.ID, server.UserChange{Disabled: boolPtr(true)}, t0, server.Event{}); err != nil {
				t.Fatal(err)
			}
			return h
		}},
		{"session revoked", func(t *testing.T) []byte {
			u := mustCreateUser(t, s, newUser(t, "logged-out", server.RoleUser))
			sess, h := login(t, s, u)
			if err := s.RevokeSession(ctx, sess.ID, server.Revocation{Until: t0.Add(day)}, t0, server.Event{}); err != nil {
				t.Fatal(err)
			}
			return h
		}},
		{"rotated token of a revoked session", func(t *testing.T) []byte {
			u := mustCreateUser(t, s, newUser(t, "revoked-rotated", server.RoleUser))
			sess, h := login(t, s, u)
			wantOutcome(t, s, refreshReq(t, h, t0, time.Hour), server.RefreshRotated)
			if err := s.RevokeSession(ctx, sess.ID, server.Revocation{Until: t0.Add(day)}, t0, server.Event{}); err != nil {
				t.Fatal(err)
			}
			return h // within grace, but the session is revoked
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.setup(t)
			revs := len(allRevocations(t, s, t0))
			evs := len(events(t, s, server.EventFilter{}))
			req := refreshReq(t, h, now, time.Minute)
			wantOutcome(t, s, req, server.RefreshInvalid)
			// Nothing changed: the next token was not stored, nothing
			// logged.
			wantOutcome(t, s, refreshReq(t, req.Next.Hash, now, time.Minute), server.RefreshInvalid)
			if got := len(allRevocations(t, s, t0)); got != revs {
				t.Errorf("revocations %d -> %d", revs, got)
			}
			if got := len(events(t, s, server.EventFilter{})); got != evs {
				t.Errorf("events %d -> %d", evs, got)
			}
		})
	}
}

func testRefreshConcurrent(t *testing.T, s server.Store) {
	const n = 20
	u := mustCreateUser(t, s, newUser(t, "racer", server.RoleUser))
	// race rotates h n times at once, all at the same instant, and returns
	// the requests and results.
	race := func(t *testing.T, h []byte, grace time.Duration) ([]server.RefreshRequest, []server.RefreshResult) {
		reqs := make([]server.RefreshRequest, n)
		for i := range reqs {
			reqs[i] = refreshReq(t, h, t0.Add(time.Minute), grace)
		}
		results := make([]server.RefreshResult, n)
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				results[i], errs[i] = s.RotateRefresh(context.Background(), reqs[i])
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("RotateRefresh %d: %v", i, err)
			}
		}
		return reqs, results
	}
	count := func(results []server.RefreshResult) map[server.RefreshOutcome]int {
		c := map[server.RefreshOutcome]int{}
		for _, r := range results {
			c[r.Outcome]++
		}
		return c
	}

	t.Run("within grace all get the same successor", func(t *testing.T) {
		sess, h := login(t, s, u)
		reqs, results := race(t, h, time.Minute)
		if c := count(results); c[server.RefreshRotated] != n {
			t.Fatalf("outcomes %v, want %d Rotated", c, n)
		}
		// One rotation stored the successor; every other request was a
		// replay answered with it. No second chain exists.
		replays := 0
		for i, r := range results {
			if r.Session.ID != sess.ID {
				t.Errorf("result %d names session %q", i, r.Session.ID)
			}
			if !bytes.Equal(reqs[i].Next.Hash, successor(h)) {
				t.Fatalf("request %d asks for another successor", i)
			}
			if r.Replay {
				replays++
			}
		}
		if replays != n-1 {
			t.Errorf("%d replays, want %d (one rotation, the rest answered with its successor)", replays, n-1)
		}
		// The client carries on with the successor, and the chain with it.
		next := successor(h)
		wantOutcome(t, s, refreshReq(t, next, t0.Add(2*time.Minute), time.Minute), server.RefreshRotated)
		wantOutcome(t, s, refreshReq(t, successor(next), t0.Add(3*time.Minute), time.Minute), server.RefreshRotated)
		if evs := events(t, s, server.EventFilter{Type: server.EventRefreshReuse, UserID: u.ID}); len(evs) != 0 {
			t.Errorf("reuse events %+v after concurrent refreshes of one client, want none", evs)
		}
	})
	t.Run("zero grace: one rotates, the family dies", func(t *testing.T) {
		sess, h := login(t, s, u)
		revsBefore := len(allRevocations(t, s, t0))
		reqs, results := race(t, h, 0)
		c := count(results)
		// The first wins; the next is a reuse and revokes the session;
		// any later one finds the session revoked.
		if c[server.RefreshRotated] != 1 || c[server.RefreshReused] != 1 || c[server.RefreshInvalid] != n-2 {
			t.Fatalf("outcomes %v, want 1 Rotated, 1 Reused, %d Invalid", c, n-2)
		}
		for i, r := range results {
			if r.Outcome == server.RefreshRotated {
				// The winner's token dies with the session.
				wantOutcome(t, s, refreshReq(t, reqs[i].Next.Hash, t0.Add(2*time.Minute), 0), server.RefreshInvalid)
			}
		}
		revs := allRevocations(t, s, t0)
		if len(revs) != revsBefore+1 || revs[len(revs)-1].Value != sess.ID {
			t.Errorf("revocations %+v, want one more, for session %q", revs, sess.ID)
		}
		if evs := events(t, s, server.EventFilter{Type: server.EventRefreshReuse, UserID: u.ID}); len(evs) != 1 || evs[0].SessionID != sess.ID {
			t.Errorf("reuse events %+v, want one for session %q", evs, sess.ID)
		}
	})
}

func testRevokeSession(t *testing.T, s server.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, newUser(t, "leaver", server.RoleUser))
	sess, h := login(t, s, u)
	_, other := login(t, s, u)
	until := t0.Add(day)
	ev := server.Event{Type: server.EventLogout, ClientIP: "203.0.113.5"}

	for i, at := range []time.Time{t0.Add(time.Minute), t0.Add(2 * time.Minute)} {
		if err := s.RevokeSession(ctx, sess.ID, server.Revocation{Until: until}, at, ev); err != nil {
			t.Fatalf("RevokeSession #%d: %v", i+1, err)
		}
	}
	wantOutcome(t, s, refreshReq(t, h, t0.Add(3*time.Minute), time.Hour), server.RefreshInvalid)
	// Other sessions live.
	wantOutcome(t, s, refreshReq(t, other, t0.Add(3*time.Minute), 0), server.RefreshRotated)

	revs := allRevocations(t, s, t0)
	if len(revs) != 2 {
		t.Fatalf("revocations = %+v, want one per call", revs)
	}
	for _, r := range revs {
		if r.Kind != server.RevokeSession || r.Value != sess.ID || !r.Until.Equal(until) {
			t.Errorf("revocation %+v, want session %q until %v", r, sess.ID, until)
		}
	}
	evs := events(t, s, server.EventFilter{Type: server.EventLogout})
	if len(evs) != 2 {
		t.Fatalf("logout events = %+v, want 2", evs)
	}
	for _, e := range evs {
		if e.UserID != u.ID || e.SessionID != sess.ID || e.ClientIP != ev.ClientIP {
			t.Errorf("logout event %+v, want user %q session %q", e, u.ID, sess.ID)
		}
	}
	if !evs[0].At.Equal(t0.Add(2*time.Minute)) || !evs[1].At.Equal(t0.Add(time.Minute)) {
		t.Errorf("logout events at %v, %v; want newest first", evs[0].At, evs[1].At)
	}

	t.Run("explicit jti revocation", func(t *testing.T) {
		s2, _ := login(t, s, u)
		rev := server.Revocation{Kind: server.RevokeJTI, Value: "jti-123", Until: until}
		if err := s.RevokeSession(ctx, s2.ID, rev, t0, server.Event{}); err != nil {
			t.Fatal(err)
		}
		revs := allRevocations(t, s, t0)
		if r := revs[len(revs)-1]; r.Kind != server.RevokeJTI || r.Value != "jti-123" {
			t.Errorf("revocation = %+v, want the jti one as given", r)
		}
	})
	t.Run("unknown session", func(t *testing.T) {
		n := len(allRevocations(t, s, t0))
		if err := s.RevokeSession(ctx, newID(t), server.Revocation{Until: until}, t0, ev); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("RevokeSession(unknown) = %v, want ErrNotFound", err)
		}
		if got := len(allRevocations(t, s, t0)); got != n {
			t.Errorf("a refused revocation was logged")
		}
	})
}

func testRevocations(t *testing.T, s server.Store) {
	ctx := context.Background()
	type entry struct {
		kind  server.RevocationKind
		value string
		until time.Duration // after t0
	}
	entries := []entry{
		{server.RevokeJTI, "jti-1", time.Minute},
		{server.RevokeSession, "sess-1", time.Hour},
		{server.RevokeSubject, "user-1", 2 * time.Hour},
		{server.RevokeJTI, "jti-2", 30 * time.Second},
		{server.RevokeJTI, "it's \"quoted\" \x00 🌍", 3 * time.Hour},
	}
	for i, e := range entries {
		rev := server.Revocation{Kind: e.kind, Value: e.value, Until: t0.Add(e.until), CreatedAt: t0.Add(time.Duration(i) * time.Second)}
		if e.kind == server.RevokeSubject {
			rev.NotBefore = t0.Add(-time.Second)
		}
		if err := s.AddRevocation(ctx, rev); err != nil {
			t.Fatalf("AddRevocation(%q): %v", e.value, err)
		}
	}
	all := allRevocations(t, s, t0)
	if len(all) != len(entries) {
		t.Fatalf("Revocations = %d entries, want %d", len(all), len(entries))
	}
	for i, r := range all {
		e := entries[i]
		if r.Kind != e.kind || r.Value != e.value || !r.Until.Equal(t0.Add(e.until)) || r.Until.Location() != time.UTC ||
			!r.CreatedAt.Equal(t0.Add(time.Duration(i)*time.Second)) {
			t.Errorf("entry %d = %+v, want %+v", i, r, e)
		}
		if (e.kind == server.RevokeSubject) != !r.NotBefore.IsZero() {
			t.Errorf("entry %d NotBefore = %v", i, r.NotBefore)
		}
		if i > 0 && r.Seq <= all[i-1].Seq {
			t.Errorf("seq %d after %d", r.Seq, all[i-1].Seq)
		}
	}
	seqs := func(rs []server.Revocation) []int64 {
		out := make([]int64, len(rs))
		for i, r := range rs {
			out[i] = r.Seq
		}
		return out
	}
	s0, s1, s2, s4 := all[0].Seq, all[1].Seq, all[2].Seq, all[4].Seq
	tests := []struct {
		name  string
		after int64
		now   time.Time
		limit int
		want  []int64
	}{
		{"all", 0, t0, 100, seqs(all)},
		{"after the first", s0, t0, 100, seqs(all[1:])},
		{"limit", 0, t0, 2, []int64{s0, s1}},
		{"expired ones dropped", 0, t0.Add(time.Minute), 100, []int64{s1, s2, s4}}, // until == now is gone
		{"after and expiry", s1, t0.Add(90 * time.Minute), 100, []int64{s2, s4}},
		{"all expired", 0, t0.Add(3 * time.Hour), 100, nil},
		{"after the last", s4, t0, 100, nil},
	}
	for _, tc := range tests {
		got, err := s.Revocations(ctx, tc.after, tc.now, tc.limit)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !slices.Equal(seqs(got), tc.want) {
			t.Errorf("%s: Revocations(%d, t0+%v, %d) = seqs %v, want %v", tc.name, tc.after, tc.now.Sub(t0), tc.limit, seqs(got), tc.want)
		}
	}
	for _, limit := range []int{0, -1} {
		if _, err := s.Revocations(ctx, 0, t0, limit); err == nil {
			t.Errorf("Revocations(limit=%d) succeeded, want an error", limit)
		}
	}
}

func testEvents(t *testing.T, s server.Store) {
	ctx := context.Background()
	types := []string{server.EventLoginSuccess, server.EventLoginFailure, server.EventRefresh}
	usersOf := []string{"user-a", "user-b", ""}
	var added []server.Event // oldest first
	for i := range 30 {
		ev := server.Event{
			At:        t0.Add(time.Duration(i) * time.Second),
			Type:      types[i%3],
			UserID:    usersOf[(i/2)%3], // a mix including empties
			Username:  fmt.Sprintf("name %d 'x' \x00", i),
			SessionID: fmt.Sprintf("sess-%d", i%4),
			ClientIP:  "2001:db8::1",
			Detail:    fmt.Sprintf("detail %d", i),
		}
		if i%7 == 0 {
			ev.UserID = ""
		}
		if err := s.AddEvent(ctx, ev); err != nil {
			t.Fatalf("AddEvent %d: %v", i, err)
		}
		added = append(added, ev)
	}
	match := func(f server.EventFilter) []server.Event {
		var out []server.Event
		for i := len(added) - 1; i >= 0; i-- {
			ev := added[i]
			if (f.Type == "" || ev.Type == f.Type) && (f.UserID == "" || ev.UserID == f.UserID) {
				out = append(out, ev)
			}
		}
		return out
	}
	same := func(got, want []server.Event) string {
		if len(got) != len(want) {
			return fmt.Sprintf("%d events, want %d", len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			g.ID = 0
			if !g.At.Equal(w.At) || g.At.Location() != time.UTC {
				return fmt.Sprintf("event %d at %v, want %v", i, g.At, w.At)
			}
			g.At = w.At
			if g != w {
				return fmt.Sprintf("event %d = %+v, want %+v", i, g, w)
			}
		}
		return ""
	}
	for _, f := range []server.EventFilter{
		{},
		{Type: server.EventLoginFailure},
		{UserID: "user-a"},
		{UserID: "user-b", Type: server.EventRefresh},
		{Type: "no.such.type"},
		{UserID: "%"},
	} {
		for _, size := range []int{1, 4, 7, 30, 1000} {
			pf := f // the filter of one page
			pf.Limit = size
			var got []server.Event
			for {
				page := events(t, s, pf)
				if len(page) > size {
					t.Fatalf("%+v: page of %d", pf, len(page))
				}
				for _, ev := range page {
					if pf.BeforeID != 0 && ev.ID >= pf.BeforeID {
						t.Fatalf("%+v: id %d not before %d", pf, ev.ID, pf.BeforeID)
					}
					pf.BeforeID = ev.ID
				}
				got = append(got, page...)
				if len(page) < size {
					break
				}
			}
			if d := same(got, match(f)); d != "" {
				t.Errorf("ListEvents(%+v, Limit %d) pages: %s", f, size, d)
			}
		}
	}
	for _, limit := range []int{0, -1, 1001} {
		if _, err := s.ListEvents(ctx, server.EventFilter{Limit: limit}); err == nil {
			t.Errorf("ListEvents(Limit=%d) succeeded, want an error", limit)
		}
	}
	if err := s.AddEvent(ctx, server.Event{At: t0}); err == nil {
		t.Error("AddEvent without a type succeeded")
	}
	// A zero At is the current time.
	before := time.Now().Add(-time.Second)
	if err := s.AddEvent(ctx, server.Event{Type: server.EventKeyRotated}); err != nil {
		t.Fatal(err)
	}
	if evs := events(t, s, server.EventFilter{Type: server.EventKeyRotated}); len(evs) != 1 || evs[0].At.Before(before) {
		t.Errorf("event with a zero At = %+v, want it at the current time", evs)
	}
}

func testSigningKeys(t *testing.T, s server.Store) {
	ctx := context.Background()
	load := func() []jwtkey.StoredKey {
		t.Helper()
		keys, err := s.LoadKeys(ctx)
		if err != nil {
			t.Fatalf("LoadKeys: %v", err)
		}
		return keys
	}
	if keys := load(); len(keys) != 0 {
		t.Fatalf("new store has %d keys", len(keys))
	}
	active := jwtkey.StoredKey{
		ID: "kid-active", Alg: jwtkey.EdDSA, State: jwtkey.StateActive,
		CreatedAt: t0, ActivatedAt: t0.Add(time.Minute),
		Public: bytes.Repeat([]byte{0xed}, 32), Sealed: append([]byte{0, 1, 2, 0}, bytes.Repeat([]byte{0xff}, 60)...),
	}
	next := jwtkey.StoredKey{
		ID: "kid-next", Alg: jwtkey.ES256, State: jwtkey.StateNext,
		CreatedAt: t0.Add(time.Hour), Public: bytes.Repeat([]byte{4}, 65), Sealed: []byte("sealed-es256"),
	}
	hmac := jwtkey.StoredKey{ // no public part; zero times except CreatedAt
		ID: "kid-hmac", Alg: jwtkey.HS256, State: jwtkey.StateRetiring,
		CreatedAt: t0.Add(-time.Hour), ActivatedAt: t0.Add(-50 * time.Minute), RetiringAt: t0,
		RetiredAt: t0.Add(15*time.Minute + 30*time.Second), Sealed: []byte("sealed-hmac"),
	}
	zero := jwtkey.StoredKey{ID: "kid-zero-times", Alg: jwtkey.EdDSA, State: jwtkey.StateRetired}
	if err := s.SaveKeys(ctx, []jwtkey.StoredKey{active, next, hmac, zero}); err != nil {
		t.Fatalf("SaveKeys: %v", err)
	}
	wantKeys(t, load(), []jwtkey.StoredKey{zero, hmac, active, next})

	// Upsert: changed keys replace theirs, new ones are added, the others
	// stay.
	retiring := active
	retiring.State, retiring.RetiringAt, retiring.RetiredAt = jwtkey.StateRetiring, t0.Add(2*time.Hour), t0.Add(3*time.Hour)
	promoted := next
	promoted.State, promoted.ActivatedAt = jwtkey.StateActive, t0.Add(2*time.Hour)
	fresh := jwtkey.StoredKey{ID: "kid-fresh", Alg: jwtkey.EdDSA, State: jwtkey.StateNext, CreatedAt: t0.Add(2 * time.Hour), Public: []byte{1}, Sealed: []byte{2}}
	if err := s.SaveKeys(ctx, []jwtkey.StoredKey{retiring, promoted, fresh}); err != nil {
		t.Fatalf("SaveKeys (upsert): %v", err)
	}
	wantKeys(t, load(), []jwtkey.StoredKey{zero, hmac, retiring, promoted, fresh})

	// Retiring erases the sealed key: nil is stored as nil.
	retired := hmac
	retired.State, retired.Sealed = jwtkey.StateRetired, nil
	if err := s.SaveKeys(ctx, []jwtkey.StoredKey{retired}); err != nil {
		t.Fatal(err)
	}
	// Revocation is final: a later save does not revive the key.
	revoked := fresh
	revoked.State, revoked.RevokedAt, revoked.Sealed = jwtkey.StateRevoked, t0.Add(4*time.Hour), nil
	if err := s.SaveKeys(ctx, []jwtkey.StoredKey{revoked}); err != nil {
		t.Fatal(err)
	}
	revived := fresh
	revived.State = jwtkey.StateActive
	if err := s.SaveKeys(ctx, []jwtkey.StoredKey{revived, zero}); err != nil {
		t.Fatal(err)
	}
	wantKeys(t, load(), []jwtkey.StoredKey{zero, retired, retiring, promoted, revoked})

	// All or nothing: a bad key refuses the whole call.
	changed := zero
	changed.State = jwtkey.StateRevoked
	for name, keys := range map[string][]jwtkey.StoredKey{
		"empty id":    {changed, {Alg: jwtkey.EdDSA, State: jwtkey.StateNext}},
		"duplicate":   {changed, fresh, fresh},
		"empty alg":   {changed, {ID: "x", State: jwtkey.StateNext}},
		"empty state": {changed, {ID: "y", Alg: jwtkey.EdDSA}},
	} {
		if err := s.SaveKeys(ctx, keys); err == nil {
			t.Errorf("SaveKeys(%s) succeeded, want an error", name)
		}
	}
	wantKeys(t, load(), []jwtkey.StoredKey{zero, retired, retiring, promoted, revoked})
	if err := s.SaveKeys(ctx, nil); err != nil {
		t.Errorf("SaveKeys(nil) = %v", err)
	}
}

func wantKeys(t *testing.T, got, want []jwtkey.StoredKey) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("LoadKeys = %d keys, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		d := []string{}
		if g.ID != w.ID || g.Alg != w.Alg || g.State != w.State {
			d = append(d, fmt.Sprintf("id/alg/state %q %q %q, want %q %q %q", g.ID, g.Alg, g.State, w.ID, w.Alg, w.State))
		}
		for _, tt := range []struct {
			name      string
			got, want time.Time
		}{
			{"CreatedAt", g.CreatedAt, w.CreatedAt}, {"ActivatedAt", g.ActivatedAt, w.ActivatedAt},
			{"RetiringAt", g.RetiringAt, w.RetiringAt}, {"RetiredAt", g.RetiredAt, w.RetiredAt},
			{"RevokedAt", g.RevokedAt, w.RevokedAt},
		} {
			// A zero time comes back as time.Time{} exactly, others in UTC.
			if tt.want.IsZero() && tt.got != (time.Time{}) || !tt.got.Equal(tt.want) || !tt.got.IsZero() && tt.got.Location() != time.UTC {
				d = append(d, fmt.Sprintf("%s = %v, want %v", tt.name, tt.got, tt.want))
			}
		}
		if !bytes.Equal(g.Public, w.Public) || (g.Public == nil) != (len(w.Public) == 0) {
			d = append(d, fmt.Sprintf("Public = %x, want %x", g.Public, w.Public))
		}
		if !bytes.Equal(g.Sealed, w.Sealed) || (g.Sealed == nil) != (len(w.Sealed) == 0) {
			d = append(d, fmt.Sprintf("Sealed = %x, want %x", g.Sealed, w.Sealed))
		}
		if len(d) > 0 {
			t.Errorf("key %d (%s): %s", i, w.ID, strings.Join(d, "; "))
		}
	}
}

func testAuthInputValidation(t *testing.T, s server.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, newUser(t, "valid", server.RoleAdmin))
	sess, h := login(t, s, u)
	until := t0.Add(day)
	userWith := func(edit func(*server.User)) server.User {
		v := newUser(t, "fresh", server.RoleUser)
		edit(&v)
		return v
	}
	calls := []struct {
		name string
		call func() error
	}{
		{"CreateUser empty id", func() error {
			return s.CreateUser(ctx, userWith(func(v *server.User) { v.ID = "" }), server.Event{})
		}},
		{"CreateUser empty username", func() error {
			return s.CreateUser(ctx, userWith(func(v *server.User) { v.Username = "" }), server.Event{})
		}},
		{"CreateUser unknown role", func() error {
			return s.CreateUser(ctx, userWith(func(v *server.User) { v.Role = "root" }), server.Event{})
		}},
		{"CreateUser empty role", func() error {
			return s.CreateUser(ctx, userWith(func(v *server.User) { v.Role = "" }), server.Event{})
		}},
		{"CreateUser empty hash", func() error {
			return s.CreateUser(ctx, userWith(func(v *server.User) { v.PasswordHash = "" }), server.Event{})
		}},
		{"UpdateUser empty id", func() error {
			_, err := s.UpdateUser(ctx, "", server.UserChange{Disabled: boolPtr(true)}, t0, server.Event{})
			return err
		}},
		{"UpdateUser unknown role", func() error {
			_, err := s.UpdateUser(ctx, u.ID, server.UserChange{Role: rolePtr("Admin")}, t0, server.Event{})
			return err
		}},
		{"UpdateUser empty hash", func() error {
			_, err := s.UpdateUser(ctx, u.ID, server.UserChange{PasswordHash: strPtr("")}, t0, server.Event{})
			return err
		}},
		{"UpdateUser revocation without Until", func() error {
			_, err := s.UpdateUser(ctx, u.ID, server.UserChange{Revoke: &server.Revocation{}}, t0, server.Event{})
			return err
		}},
		{"CreateSession empty id", func() error {
			return s.CreateSession(ctx, server.Session{UserID: u.ID, CreatedAt: t0, ExpiresAt: until},
				server.RefreshToken{Hash: tokenHash(t), ExpiresAt: until}, server.Event{})
		}},
		{"CreateSession empty user", func() error {
			return s.CreateSession(ctx, server.Session{ID: newID(t), CreatedAt: t0, ExpiresAt: until},
				server.RefreshToken{Hash: tokenHash(t), ExpiresAt: until}, server.Event{})
		}},
		{"CreateSession empty hash", func() error {
			return s.CreateSession(ctx, server.Session{ID: newID(t), UserID: u.ID, CreatedAt: t0, ExpiresAt: until},
				server.RefreshToken{ExpiresAt: until}, server.Event{})
		}},
		{"CreateSession token of another session", func() error {
			return s.CreateSession(ctx, server.Session{ID: newID(t), UserID: u.ID, CreatedAt: t0, ExpiresAt: until},
				server.RefreshToken{Hash: tokenHash(t), SessionID: sess.ID, ExpiresAt: until}, server.Event{})
		}},
		{"RotateRefresh empty hash", func() error {
			_, err := s.RotateRefresh(ctx, refreshReq(t, nil, t0, 0))
			return err
		}},
		{"RotateRefresh empty next hash", func() error {
			req := refreshReq(t, h, t0, 0)
			req.Next.Hash = nil
			return errOf(s.RotateRefresh(ctx, req))
		}},
		{"RotateRefresh revocation without Until", func() error {
			req := refreshReq(t, h, t0, 0)
			req.Revoke = server.Revocation{}
			return errOf(s.RotateRefresh(ctx, req))
		}},
		{"RevokeSession empty id", func() error {
			return s.RevokeSession(ctx, "", server.Revocation{Until: until}, t0, server.Event{})
		}},
		{"AddRevocation unknown kind", func() error {
			return s.AddRevocation(ctx, server.Revocation{Kind: "everyone", Value: "x", Until: until})
		}},
		{"AddRevocation empty value", func() error {
			return s.AddRevocation(ctx, server.Revocation{Kind: server.RevokeJTI, Until: until})
		}},
		{"AddRevocation zero until", func() error {
			return s.AddRevocation(ctx, server.Revocation{Kind: server.RevokeJTI, Value: "x"})
		}},
	}
	for _, c := range calls {
		if err := c.call(); err == nil {
			t.Errorf("%s succeeded, want an error", c.name)
		}
	}
	// Nothing of it was stored, and the session is intact.
	users, err := s.ListUsers(ctx, "", 10)
	if err != nil || len(users) != 1 {
		t.Errorf("ListUsers = %d users, %v; want only the valid one", len(users), err)
	}
	wantUser(t, mustGetUser(t, s, u.ID), u)
	if revs := allRevocations(t, s, t0); len(revs) != 0 {
		t.Errorf("refused calls logged revocations %+v", revs)
	}
	wantOutcome(t, s, refreshReq(t, h, t0.Add(time.Minute), 0), server.RefreshRotated)
}

func errOf(_ server.RefreshResult, err error) error { return err }

func testAuthCancelledContext(t *testing.T, s server.Store) {
	u := mustCreateUser(t, s, newUser(t, "cancelled", server.RoleUser))
	sess, h := login(t, s, u)
	_, wh := webLogin(t, s, u, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	until := t0.Add(day)
	calls := []struct {
		name string
		call func() error
	}{
		{"CreateUser", func() error { return s.CreateUser(ctx, newUser(t, "never", server.RoleUser), server.Event{}) }},
		{"GetUser", func() error { _, err := s.GetUser(ctx, u.ID); return err }},
		{"GetUserByName", func() error { _, err := s.GetUserByName(ctx, u.Username); return err }},
		{"ListUsers", func() error { _, err := s.ListUsers(ctx, "", 10); return err }},
		{"UpdateUser", func() error {
			_, err := s.UpdateUser(ctx, u.ID, server.UserChange{Disabled: boolPtr(true)}, t0, server.Event{})
			return err
		}},
		{"CreateSession", func() error {
			return s.CreateSession(ctx, server.Session{ID: newID(t), UserID: u.ID, CreatedAt: t0, ExpiresAt: until},
				server.RefreshToken{Hash: tokenHash(t), ExpiresAt: until}, server.Event{})
		}},
		{"RotateRefresh", func() error { return errOf(s.RotateRefresh(ctx, refreshReq(t, h, t0, 0))) }},
		{"CreateWebSession", func() error {
			return s.CreateWebSession(ctx, server.Session{ID: newID(t), UserID: u.ID, CreatedAt: t0, ExpiresAt: until},
				server.WebSession{Hash: tokenHash(t)}, server.Event{})
		}},
		{"LookupWebSession", func() error {
			_, _, err := s.LookupWebSession(ctx, wh, t0.Add(webTouch), webIdle, webTouch)
			return err
		}},
		{"RevokeSession", func() error {
			return s.RevokeSession(ctx, sess.ID, server.Revocation{Until: until}, t0, server.Event{})
		}},
		{"AddRevocation", func() error {
			return s.AddRevocation(ctx, server.Revocation{Kind: server.RevokeJTI, Value: "j", Until: until})
		}},
		{"Revocations", func() error { _, err := s.Revocations(ctx, 0, t0, 10); return err }},
		{"AddEvent", func() error { return s.AddEvent(ctx, server.Event{Type: server.EventLogout}) }},
		{"ListEvents", func() error { _, err := s.ListEvents(ctx, server.EventFilter{Limit: 10}); return err }},
		{"LoadKeys", func() error { _, err := s.LoadKeys(ctx); return err }},
		{"SaveKeys", func() error {
			return s.SaveKeys(ctx, []jwtkey.StoredKey{{ID: "k", Alg: jwtkey.EdDSA, State: jwtkey.StateNext}})
		}},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", c.name, err)
		}
	}
	// Nothing happened.
	wantUser(t, mustGetUser(t, s, u.ID), u)
	if revs := allRevocations(t, s, t0); len(revs) != 0 {
		t.Errorf("revocations %+v", revs)
	}
	wantOutcome(t, s, refreshReq(t, h, t0.Add(time.Minute), 0), server.RefreshRotated)
	// The lookup did not touch the credential: it is idle at t0+idle.
	webGone(t, s, wh, t0.Add(webIdle))
}

func testPruneExpired(t *testing.T, s server.Store) {
	ctx := context.Background()
	u := mustCreateUser(t, s, newUser(t, "pruned", server.RoleUser))
	create := func(sessionEnd time.Duration, tokenEnds ...time.Duration) (server.Session, [][]byte) {
		t.Helper()
		sess := server.Session{ID: newID(t), UserID: u.ID, Scopes: u.Role.Scopes(), CreatedAt: t0, ExpiresAt: t0.Add(sessionEnd)}
		var hashes [][]byte
		for i, end := range tokenEnds {
			h := tokenHash(t)
			hashes = append(hashes, h)
			rt := server.RefreshToken{Hash: h, SessionID: sess.ID, CreatedAt: t0, ExpiresAt: t0.Add(end)}
			if i == 0 {
				if err := s.CreateSession(ctx, sess, rt, server.Event{}); err != nil {
					t.Fatal(err)
				}
				continue
			}
			// A further token of the same session: rotate the first into it.
			req := refreshReq(t, hashes[0], t0, time.Hour)
			req.Next = rt
			wantOutcome(t, s, req, server.RefreshRotated)
		}
		return sess, hashes
	}
	_, ended := create(time.Hour, 30*time.Minute) // the session is over at prune time
	_, live := create(10*day, time.Hour, 5*day)   // an expired token, a live one
	for _, until := range []time.Duration{time.Hour, 10 * day} {
		if err := s.AddRevocation(ctx, server.Revocation{Kind: server.RevokeJTI, Value: newID(t), Until: t0.Add(until), CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(2 * time.Hour)
	n, err := s.PruneExpired(ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	// The ended session and its token, the live session's expired token,
	// the passed revocation.
	if n != 4 {
		t.Errorf("PruneExpired deleted %d rows, want 4", n)
	}
	if revs := allRevocations(t, s, t0); len(revs) != 1 || !revs[0].Until.Equal(t0.Add(10*day)) {
		t.Errorf("revocations left: %+v", revs)
	}
	wantOutcome(t, s, refreshReq(t, ended[0], now, 0), server.RefreshInvalid)
	wantOutcome(t, s, refreshReq(t, live[1], now, 0), server.RefreshRotated)
	if n, err := s.PruneExpired(ctx, now); err != nil || n != 0 {
		t.Errorf("second PruneExpired = %d, %v; want 0, nil", n, err)
	}
	if _, err := s.PruneExpired(ctx, time.Time{}); err == nil {
		t.Error("PruneExpired with a zero time succeeded")
	}
}

package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/fortapi/fortapi/server"
)

// The username contract: a store keeps only canonical usernames
// (server.CanonicalUsername), so uniqueness is that of the canonical form,
// and GetUserByName finds a user by any spelling with the same canonical
// form. Registered in authTests.

// usernameSpoofs are spellings of "admin" that an older store took as
// other users.
var usernameSpoofs = []struct{ name, spelling string }{
	{"upper case", "ADMIN"},
	{"title case", "Admin"},
	{"fullwidth", "ａｄｍｉｎ"},
	{"fullwidth upper case", "ＡＤＭＩＮ"},
	{"Cyrillic a", "\u0430dmin"},
	{"zero-width space", "admin\u200b"},
	{"zero-width joiner inside", "ad\u200dmin"},
	{"right-to-left override", "\u202enimda"},
	{"leading space", " admin"},
	{"trailing space", "admin "},
	{"soft hyphen", "ad\u00admin"},
	{"BOM", "\ufeffadmin"},
	{"NUL", "admin\x00"},
}

// testUsernameCanonicalOnly: CreateUser refuses a username that is not
// canonical (a *server.UsernameError, not ErrConflict, and nothing is
// stored), and every spelling whose canonical form is taken is a conflict.
func testUsernameCanonicalOnly(t *testing.T, s server.Store) {
	ctx := context.Background()
	admin := mustCreateUser(t, s, newUser(t, "admin", server.RoleAdmin))
	for _, tc := range usernameSpoofs {
		t.Run(tc.name, func(t *testing.T) {
			u := newUser(t, tc.spelling, server.RoleUser)
			err := s.CreateUser(ctx, u, server.Event{Type: server.EventUserCreated})
			var ue *server.UsernameError
			if !errors.As(err, &ue) {
				t.Errorf("CreateUser(%+q) = %v, want a *server.UsernameError", tc.spelling, err)
			}
			if _, err := s.GetUser(ctx, u.ID); !errors.Is(err, server.ErrNotFound) {
				t.Errorf("the refused user %+q was stored: GetUser = %v", tc.spelling, err)
			}
			if evs := events(t, s, server.EventFilter{UserID: u.ID}); len(evs) != 0 {
				t.Errorf("the refused user's event was stored: %+v", evs)
			}
			// Its canonical form, when it has one, is admin's: a conflict.
			c, err := server.CanonicalUsername(tc.spelling)
			if err != nil {
				return
			}
			u.Username = c
			if err := s.CreateUser(ctx, u, server.Event{}); !errors.Is(err, server.ErrConflict) {
				t.Errorf("CreateUser(%+q, the canonical form of %+q) = %v, want ErrConflict", c, tc.spelling, err)
			}
		})
	}
	wantUser(t, mustGetUser(t, s, admin.ID), admin)
	users, err := s.ListUsers(ctx, "", 100)
	if err != nil || len(users) != 1 {
		t.Errorf("ListUsers = %d users, %v; want admin alone", len(users), err)
	}
}

// testUsernameLookupCanonicalizes: GetUserByName finds a user by any
// spelling with the user's canonical form, and nothing by one without a
// canonical form or with another.
func testUsernameLookupCanonicalizes(t *testing.T, s server.Store) {
	ctx := context.Background()
	users := map[string]server.User{}
	for _, n := range []string{"admin", "ärger", "élise", "田中", "σωκρατησ"} {
		users[n] = mustCreateUser(t, s, newUser(t, n, server.RoleUser))
	}
	tests := []struct {
		lookup string
		want   string // "" for ErrNotFound
	}{
		{"admin", "admin"},
		{"ADMIN", "admin"},
		{"aDmIn", "admin"},
		{"ａｄｍｉｎ", "admin"},
		{"ＡＤＭＩＮ", "admin"},
		{"ÄRGER", "ärger"},       // Unicode case, not ASCII only
		{"A\u0308rger", "ärger"}, // decomposed: NFC
		{"e\u0301lise", "élise"},
		{"ÉLISE", "élise"},
		{"田中", "田中"},
		{"ΣΩΚΡΑΤΗΣ", "σωκρατησ"},
		{"\u0430dmin", ""},
		{"admin\u200b", ""},
		{"\u202eadmin", ""},
		{"admin ", ""},
		{" admin", ""},
		{"admin\x00", ""},
		{"adm", ""},
		{"admins", ""},
		{"", ""},
		{"%", ""},
		{"_dmin", ""},
	}
	for _, tc := range tests {
		got, err := s.GetUserByName(ctx, tc.lookup)
		switch {
		case tc.want == "":
			if !errors.Is(err, server.ErrNotFound) {
				t.Errorf("GetUserByName(%+q) = %q, %v; want ErrNotFound", tc.lookup, got.Username, err)
			}
		case err != nil:
			t.Errorf("GetUserByName(%+q) = %v, want %q", tc.lookup, err, tc.want)
		default:
			wantUser(t, got, users[tc.want])
		}
	}
}

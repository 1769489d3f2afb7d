package server

import (
	"errors"
	"testing"
	"time"
)

func TestRevocationWithDefaults(t *testing.T) {
	got := Revocation{Until: t0}.WithDefaults(RevokeSession, "s1", t0)
	if want := (Revocation{Kind: RevokeSession, Value: "s1", Until: t0, CreatedAt: t0}); got != want {
		t.Errorf("WithDefaults = %+v, want %+v", got, want)
	}
	kept := Revocation{Kind: RevokeJTI, Value: "j", CreatedAt: t0.Add(-time.Hour), NotBefore: t0}
	if got := kept.WithDefaults(RevokeSession, "s1", t0); got != kept {
		t.Errorf("WithDefaults = %+v, want it unchanged %+v", got, kept)
	}
	if got := (Revocation{}).WithDefaults(RevokeSession, "", t0); got.Value != "" {
		t.Errorf("WithDefaults with no value = %+v", got)
	}
}

func TestUserChangeNormalize(t *testing.T) {
	admin, bogus, empty := RoleAdmin, Role("root"), ""
	until := t0.Add(time.Hour)
	tests := []struct {
		name    string
		id      string
		now     time.Time
		ch      UserChange
		wantRev *Revocation
		wantErr string
	}{
		{"nothing", "u1", t0, UserChange{}, nil, ""},
		{"role", "u1", t0, UserChange{Role: &admin}, nil, ""},
		{"revoke defaults", "u1", t0, UserChange{Revoke: &Revocation{Until: until}},
			&Revocation{Kind: RevokeSubject, Value: "u1", NotBefore: t0, Until: until, CreatedAt: t0}, ""},
		{"revoke kept", "u1", t0, UserChange{Revoke: &Revocation{Kind: RevokeSubject, Value: "v", NotBefore: t0.Add(-time.Second), Until: until, CreatedAt: t0.Add(-time.Minute)}},
			&Revocation{Kind: RevokeSubject, Value: "v", NotBefore: t0.Add(-time.Second), Until: until, CreatedAt: t0.Add(-time.Minute)}, ""},
		{"session kind keeps a zero NotBefore", "u1", t0, UserChange{Revoke: &Revocation{Kind: RevokeSession, Until: until}},
			&Revocation{Kind: RevokeSession, Value: "u1", Until: until, CreatedAt: t0}, ""},
		{"empty id", "", t0, UserChange{}, nil, "empty user id"},
		{"zero time", "u1", time.Time{}, UserChange{}, nil, "zero time"},
		{"unknown role", "u1", t0, UserChange{Role: &bogus}, nil, `unknown role "root"`},
		{"empty password hash", "u1", t0, UserChange{PasswordHash: &empty}, nil, "empty password hash"},
		{"revoke without Until", "u1", t0, UserChange{Revoke: &Revocation{}}, nil, "revocation with a zero Until"},
		{"revoke of unknown kind", "u1", t0, UserChange{Revoke: &Revocation{Kind: "x", Until: until}}, nil, `unknown revocation kind "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before Revocation
			if tc.ch.Revoke != nil {
				before = *tc.ch.Revoke
			}
			got, err := tc.ch.Normalize(tc.id, tc.now)
			if !errMatches(err, tc.wantErr) {
				t.Fatalf("Normalize error = %v, want %q", err, tc.wantErr)
			}
			if tc.ch.Revoke != nil && *tc.ch.Revoke != before {
				t.Errorf("Normalize changed the caller's Revoke to %+v", *tc.ch.Revoke)
			}
			if err != nil {
				return
			}
			if got.Role != tc.ch.Role || got.PasswordHash != tc.ch.PasswordHash || got.Disabled != tc.ch.Disabled || got.IfPasswordHash != tc.ch.IfPasswordHash {
				t.Errorf("Normalize changed more than Revoke: %+v", got)
			}
			switch {
			case tc.wantRev == nil && got.Revoke != nil:
				t.Errorf("Revoke = %+v, want nil", *got.Revoke)
			case tc.wantRev != nil && (got.Revoke == nil || *got.Revoke != *tc.wantRev):
				t.Errorf("Revoke = %+v, want %+v", got.Revoke, *tc.wantRev)
			}
		})
	}
}

func TestUserChangeApply(t *testing.T) {
	admin, user, yes, no := RoleAdmin, RoleUser, true, false
	oldHash, newHash, otherHash := "old", "new", "other"
	now := t0.Add(time.Hour)
	stored := func(r Role, disabled bool) User {
		return User{ID: "u1", Username: "alice", Role: r, PasswordHash: oldHash, Disabled: disabled,
			CredentialVersion: 4, CreatedAt: t0, UpdatedAt: t0}
	}
	tests := []struct {
		name      string
		u         User
		ch        UserChange
		want      User
		lastAdmin bool
		conflict  bool
	}{
		{"nothing but the time", stored(RoleUser, false), UserChange{},
			User{ID: "u1", Username: "alice", Role: RoleUser, PasswordHash: oldHash, CredentialVersion: 4, CreatedAt: t0, UpdatedAt: now}, false, false},
		{"password with revoke", stored(RoleUser, false), UserChange{PasswordHash: &newHash, IfPasswordHash: &oldHash, Revoke: &Revocation{}},
			User{ID: "u1", Username: "alice", Role: RoleUser, PasswordHash: newHash, CredentialVersion: 5, CreatedAt: t0, UpdatedAt: now}, false, false},
		{"stale IfPasswordHash", stored(RoleUser, false), UserChange{PasswordHash: &newHash, IfPasswordHash: &otherHash}, User{}, false, true},
		{"promote", stored(RoleUser, false), UserChange{Role: &admin},
			User{ID: "u1", Username: "alice", Role: RoleAdmin, PasswordHash: oldHash, CredentialVersion: 4, CreatedAt: t0, UpdatedAt: now}, false, false},
		{"demote an admin", stored(RoleAdmin, false), UserChange{Role: &user, Revoke: &Revocation{}},
			User{ID: "u1", Username: "alice", Role: RoleUser, PasswordHash: oldHash, CredentialVersion: 5, CreatedAt: t0, UpdatedAt: now}, true, false},
		{"disable an admin", stored(RoleAdmin, false), UserChange{Disabled: &yes},
			User{ID: "u1", Username: "alice", Role: RoleAdmin, PasswordHash: oldHash, Disabled: true, CredentialVersion: 4, CreatedAt: t0, UpdatedAt: now}, true, false},
		{"demote a disabled admin", stored(RoleAdmin, true), UserChange{Role: &user},
			User{ID: "u1", Username: "alice", Role: RoleUser, PasswordHash: oldHash, Disabled: true, CredentialVersion: 4, CreatedAt: t0, UpdatedAt: now}, false, false},
		{"enable an admin", stored(RoleAdmin, true), UserChange{Disabled: &no},
			User{ID: "u1", Username: "alice", Role: RoleAdmin, PasswordHash: oldHash, CredentialVersion: 4, CreatedAt: t0, UpdatedAt: now}, false, false},
		{"admin stays admin", stored(RoleAdmin, false), UserChange{Role: &admin, Disabled: &no},
			User{ID: "u1", Username: "alice", Role: RoleAdmin, PasswordHash: oldHash, CredentialVersion: 4, CreatedAt: t0, UpdatedAt: now}, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, lastAdmin, err := tc.ch.Apply(tc.u, now)
			if tc.conflict {
				if !errors.Is(err, ErrConflict) || err.Error() != "the password hash has changed: conflict" {
					t.Fatalf("Apply error = %v, want the password hash conflict", err)
				}
				return
			}
			if err != nil || got != tc.want || lastAdmin != tc.lastAdmin {
				t.Fatalf("Apply = %+v, %v, %v; want %+v, %v", got, lastAdmin, err, tc.want, tc.lastAdmin)
			}
		})
	}
}

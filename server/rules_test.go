package server

import (
	"math"
	"slices"
	"testing"
	"time"
)

func TestValidScope(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"items:read", true},
		{"a", true},
		{"!#$%&'()*+,-./:;<=>?@[]^_`{|}~", true},
		{"", false},
		{"a b", false},
		{"tab\there", false},
		{`quote"`, false},
		{`back\slash`, false},
		{"é", false},
		{"nul\x00", false},
		{"del\x7f", false},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := ValidScope(tc.in); got != tc.want {
				t.Errorf("ValidScope(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestJoinSplitScopes(t *testing.T) {
	tests := []struct {
		name    string
		in      []string
		want    string
		wantErr bool
	}{
		{"none", nil, "", false},
		{"one", []string{ScopeItemsRead}, "items:read", false},
		{"order kept", []string{ScopeItemsWrite, ScopeItemsRead}, "items:write items:read", false},
		{"space inside", []string{"a b"}, "", true},
		{"empty scope", []string{ScopeItemsRead, ""}, "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := JoinScopes(tc.in)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("JoinScopes(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
			}
			if err == nil && !slices.Equal(SplitScopes(got), tc.in) {
				t.Errorf("SplitScopes(%q) = %q, want %q", got, SplitScopes(got), tc.in)
			}
		})
	}
}

func TestRoleValidateGrants(t *testing.T) {
	tests := []struct {
		role  Role
		valid bool
		scope string
		grant bool
	}{
		{RoleUser, true, ScopeItemsWrite, true},
		{RoleUser, true, ScopeUsersAdmin, false},
		{RoleAdmin, true, ScopeKeysAdmin, true},
		{"Admin", false, ScopeItemsRead, false},
		{"", false, ScopeItemsRead, false},
	}
	for _, tc := range tests {
		t.Run(string(tc.role)+"/"+tc.scope, func(t *testing.T) {
			if err := tc.role.Validate(); (err == nil) != tc.valid {
				t.Errorf("Validate() = %v, want valid %v", err, tc.valid)
			}
			if got := tc.role.Grants(tc.scope); got != tc.grant {
				t.Errorf("Grants(%q) = %v, want %v", tc.scope, got, tc.grant)
			}
		})
	}
}

func TestRevocationValidate(t *testing.T) {
	until := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		rev   Revocation
		valid bool
	}{
		{"jti", Revocation{Kind: RevokeJTI, Value: "x", Until: until}, true},
		{"subject", Revocation{Kind: RevokeSubject, Value: "u", Until: until}, true},
		{"unknown kind", Revocation{Kind: "everyone", Value: "x", Until: until}, false},
		{"empty kind", Revocation{Value: "x", Until: until}, false},
		{"empty value", Revocation{Kind: RevokeSession, Until: until}, false},
		{"zero until", Revocation{Kind: RevokeSession, Value: "s"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.rev.Validate(); (err == nil) != tc.valid {
				t.Errorf("Validate() = %v, want valid %v", err, tc.valid)
			}
		})
	}
}

func TestEventFilledAndEnabledAdmin(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	got := Event{Type: EventLogout, UserID: "given"}.Filled(at, "u", "name", "s")
	want := Event{Type: EventLogout, At: at, UserID: "given", Username: "name", SessionID: "s"}
	if got != want {
		t.Errorf("Filled = %+v, want %+v", got, want)
	}
	for _, tc := range []struct {
		u    User
		want bool
	}{
		{User{Role: RoleAdmin}, true},
		{User{Role: RoleAdmin, Disabled: true}, false},
		{User{Role: RoleUser}, false},
	} {
		if got := tc.u.EnabledAdmin(); got != tc.want {
			t.Errorf("%+v.EnabledAdmin() = %v, want %v", tc.u, got, tc.want)
		}
	}
}

func TestItemCheckNumbers(t *testing.T) {
	nan, one := math.NaN(), 1.0
	tests := []struct {
		name string
		it   Item
		ok   bool
	}{
		{"plain", Item{Price: 1, Tax: &one}, true},
		{"no tax", Item{Price: -1}, true},
		{"infinite price", Item{Price: math.Inf(1)}, true},
		{"NaN price", Item{Price: nan}, false},
		{"NaN tax", Item{Price: 1, Tax: &nan}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.it.CheckNumbers(); (err == nil) != tc.ok {
				t.Errorf("CheckNumbers() = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

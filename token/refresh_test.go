package token

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestMemoryRefresh: refresh tokens are single use, expire, are stored
// hashed, and a reused one ends its session (its successor and, through
// Revocations, its access tokens).
func TestMemoryRefresh(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	revs := NewRevocations(RevocationsOptions{Now: clock})
	m := NewMemoryRefresh(MemoryRefreshOptions{Lifetime: time.Hour, Now: clock, Revocations: revs, MaxTokens: 10})
	g := Grant{Subject: "u1", SessionID: "s1", Scopes: []string{"a", "b"}}
	rt, err := m.IssueRefresh(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.RedeemRefresh(ctx, rt)
	if err != nil || got.Subject != "u1" || got.SessionID != "s1" || len(got.Scopes) != 2 {
		t.Fatalf("redeem: %+v %v", got, err)
	}
	next, _ := m.IssueRefresh(ctx, got)
	if _, err := m.RedeemRefresh(ctx, rt); !errors.Is(err, ErrInvalidRefresh) {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := m.RedeemRefresh(ctx, next); !errors.Is(err, ErrInvalidRefresh) {
		t.Errorf("successor after reuse: %v", err)
	}
	if !revs.Revoked(&Claims{Subject: "u1", SessionID: "s1", ID: "x", IssuedAt: now}) {
		t.Error("the session's access tokens are not revoked after reuse")
	}
	if m.Len() > 0 { // nothing of the session is kept
		t.Fatalf("%d tokens kept after the session ended", m.Len())
	}
	old, _ := m.IssueRefresh(ctx, Grant{Subject: "u2", SessionID: "s2"})
	now = now.Add(time.Hour)
	if _, err := m.RedeemRefresh(ctx, old); !errors.Is(err, ErrInvalidRefresh) {
		t.Errorf("expired: %v", err)
	}
	for _, bad := range []string{"", "short", string(make([]byte, 43))} {
		if _, err := m.RedeemRefresh(ctx, bad); !errors.Is(err, ErrInvalidRefresh) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if _, err := m.IssueRefresh(ctx, Grant{Subject: "", SessionID: "s"}); err == nil {
		t.Error("a grant without a subject was accepted")
	}
	for i := range 25 { // bounded: the oldest go first
		if _, err := m.IssueRefresh(ctx, Grant{Subject: "u", SessionID: "s" + string(rune('a'+i))}); err != nil {
			t.Fatal(err)
		}
	}
	if m.Len() > 10 {
		t.Errorf("%d tokens kept, MaxTokens is 10", m.Len())
	}
}

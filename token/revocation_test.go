package token

import (
	"testing"
	"time"
)

func TestRevocationsRevoked(t *testing.T) {
	clock := newClock()
	r := NewRevocations(RevocationsOptions{Now: clock.Now})
	now := clock.Now()
	c := func(sub, sid, jti string, iat time.Time) *Claims {
		return &Claims{Subject: sub, SessionID: sid, ID: jti, IssuedAt: iat}
	}
	r.RevokeSubject("alice", now.Add(1500*time.Millisecond))
	r.RevokeSession("s-dead", now.Add(time.Hour))
	r.RevokeJTI("jti-dead", now.Add(time.Hour))
	for _, tc := range []struct {
		name string
		c    *Claims
		want bool
	}{
		{"nil claims", nil, true},
		{"unrelated", c("bob", "s1", "j1", now), false},
		{"subject, iat long before", c("alice", "s1", "j1", now.Add(-time.Hour)), true},
		{"subject, iat in the second before", c("alice", "s1", "j1", now), true},
		{"subject, iat in the revocation's second", c("alice", "s1", "j1", now.Add(time.Second)), true},
		{"subject, iat in the next second", c("alice", "s1", "j1", now.Add(2*time.Second)), false},
		{"session", c("bob", "s-dead", "j1", now.Add(time.Hour)), true},
		{"jti", c("bob", "s1", "jti-dead", now.Add(time.Hour)), true},
		{"empty names match nothing", c("", "", "", now), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := r.Revoked(tc.c); got != tc.want {
				t.Errorf("Revoked = %v, want %v", got, tc.want)
			}
		})
	}
	// The latest notBefore wins, an earlier one does not shorten it.
	r.RevokeSubject("alice", now.Add(-time.Hour))
	if !r.Revoked(c("alice", "s1", "j1", now.Add(time.Second))) {
		t.Error("an earlier RevokeSubject undid a later one")
	}
	r.RevokeSubject("alice", now.Add(time.Hour))
	if !r.Revoked(c("alice", "s1", "j1", now.Add(30*time.Minute))) {
		t.Error("a later RevokeSubject did not extend")
	}
	// Empty names are ignored.
	r.RevokeSubject("", now)
	r.RevokeSession("", now)
	r.RevokeJTI("", now)
	if r.size() != 3 {
		t.Errorf("size %d, want 3", r.size())
	}
}

// TestRevocationsPrune: an entry stays exactly as long as it can refuse a
// token that would otherwise be valid.
func TestRevocationsPrune(t *testing.T) {
	clock := newClock()
	r := NewRevocations(RevocationsOptions{Now: clock.Now, MaxTokenAge: 15*time.Minute + 30*time.Second})
	now := clock.Now()
	r.RevokeSubject("alice", now)
	r.RevokeSession("s1", now.Add(15*time.Minute))
	r.RevokeJTI("j1", now.Add(10*time.Minute))
	for _, s := range []struct {
		at            time.Duration
		before, after int
	}{
		{10*time.Minute + 31*time.Second, 3, 2}, // jti: exp + MaxLeeway + 1s
		{15*time.Minute + 30*time.Second, 2, 1}, // subject: notBefore + MaxTokenAge
		{15*time.Minute + 31*time.Second, 1, 0}, // session: until + MaxLeeway + 1s
	} {
		clock.Set(now.Add(s.at - time.Nanosecond))
		r.Prune()
		if r.size() != s.before {
			t.Errorf("just before %v: size %d, want %d", s.at, r.size(), s.before)
		}
		clock.Set(now.Add(s.at))
		r.Prune()
		if r.size() != s.after {
			t.Errorf("at %v: size %d, want %d", s.at, r.size(), s.after)
		}
	}
}

func TestRevocationsPruneLazily(t *testing.T) {
	clock := newClock()
	r := NewRevocations(RevocationsOptions{Now: clock.Now})
	now := clock.Now()
	for i := range 100 {
		r.RevokeJTI("j"+itoa(int64(i)), now)
	}
	clock.Advance(pruneEvery - time.Second)
	r.RevokeJTI("late", now.Add(time.Hour))
	if r.size() != 101 {
		t.Fatalf("pruned before pruneEvery: size %d", r.size())
	}
	clock.Advance(time.Second)
	r.RevokeJTI("later", now.Add(time.Hour))
	if r.size() != 2 {
		t.Fatalf("size %d after a lazy prune, want 2", r.size())
	}
}

func TestRevocationsDefaultMaxAge(t *testing.T) {
	clock := newClock()
	r := NewRevocations(RevocationsOptions{Now: clock.Now})
	r.RevokeSubject("alice", clock.Now())
	clock.Advance(MaxLifetime + MaxLeeway - time.Second)
	r.Prune()
	if r.size() != 1 {
		t.Fatal("subject revocation pruned before MaxLifetime + MaxLeeway")
	}
	clock.Advance(time.Second)
	r.Prune()
	if r.size() != 0 {
		t.Fatal("subject revocation kept after MaxLifetime + MaxLeeway")
	}
	if NewRevocations(RevocationsOptions{}).now == nil {
		t.Fatal("no default clock")
	}
}

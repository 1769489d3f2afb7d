package server

import (
	"errors"
	"testing"
	"time"
)

func TestRefreshRequestNormalize(t *testing.T) {
	now := t0.Add(1500 * time.Nanosecond).In(time.FixedZone("X", 3600))
	nowMicro := t0.Add(time.Microsecond)
	until := t0.Add(time.Hour)
	valid := func() RefreshRequest {
		return RefreshRequest{Hash: hash, Next: RefreshToken{Hash: hash, ExpiresAt: until}, Now: now,
			Grace: time.Second, Revoke: Revocation{Until: until}}
	}
	tests := []struct {
		name    string
		edit    func(*RefreshRequest)
		check   func(RefreshRequest) bool
		wantErr string
	}{
		{"defaults", func(*RefreshRequest) {}, func(r RefreshRequest) bool {
			return r.Now.Equal(nowMicro) && r.Now.Location() == time.UTC &&
				r.Revoke.Kind == RevokeSession && r.Revoke.CreatedAt.Equal(nowMicro) && r.Revoke.Value == "" &&
				r.Next.CreatedAt.Equal(nowMicro) && r.Grace == time.Second
		}, ""},
		{"kept", func(r *RefreshRequest) {
			r.Revoke.Kind, r.Revoke.CreatedAt, r.Revoke.Value = RevokeJTI, t0, "j"
			r.Next.CreatedAt = t0
		}, func(r RefreshRequest) bool {
			return r.Revoke.Kind == RevokeJTI && r.Revoke.CreatedAt.Equal(t0) && r.Revoke.Value == "j" && r.Next.CreatedAt.Equal(t0)
		}, ""},
		{"zero grace", func(r *RefreshRequest) { r.Grace = 0 }, func(r RefreshRequest) bool { return r.Grace == 0 }, ""},
		{"empty hash", func(r *RefreshRequest) { r.Hash = nil }, nil, "empty token hash"},
		{"empty next hash", func(r *RefreshRequest) { r.Next.Hash = nil }, nil, "empty token hash"},
		{"zero now", func(r *RefreshRequest) { r.Now = time.Time{} }, nil, "zero Now"},
		{"next without expiry", func(r *RefreshRequest) { r.Next.ExpiresAt = time.Time{} }, nil, "next token with a zero ExpiresAt"},
		{"negative grace", func(r *RefreshRequest) { r.Grace = -time.Second }, nil, "negative grace -1s"},
		{"revocation without Until", func(r *RefreshRequest) { r.Revoke.Until = time.Time{} }, nil, "reuse revocation: revocation with a zero Until"},
		{"unknown kind", func(r *RefreshRequest) { r.Revoke.Kind = "x" }, nil, `reuse revocation: unknown revocation kind "x"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := valid()
			tc.edit(&req)
			got, err := req.Normalize()
			if !errMatches(err, tc.wantErr) {
				t.Fatalf("Normalize error = %v, want %q", err, tc.wantErr)
			}
			if err == nil && !tc.check(got) {
				t.Fatalf("Normalize = %+v", got)
			}
		})
	}
}

func TestRefreshRequestReuse(t *testing.T) {
	sess := Session{ID: "s1", UserID: "u1"}
	u := User{ID: "u1", Username: "alice"}
	req := RefreshRequest{Now: t0, Revoke: Revocation{Kind: RevokeSession, Until: t0.Add(time.Hour), CreatedAt: t0},
		Event: Event{ClientIP: "192.0.2.1"}}
	rev, ev := req.Reuse(sess, u)
	if rev.Value != "s1" || rev.Kind != RevokeSession || !rev.Until.Equal(t0.Add(time.Hour)) {
		t.Errorf("revocation = %+v", rev)
	}
	want := Event{At: t0, Type: EventRefreshReuse, UserID: "u1", Username: "alice", SessionID: "s1", ClientIP: "192.0.2.1"}
	if ev != want {
		t.Errorf("event = %+v, want %+v", ev, want)
	}
	req.Revoke.Value, req.Event.Type, req.Event.At = "other", "custom", t0.Add(-time.Second)
	rev, ev = req.Reuse(sess, u)
	if rev.Value != "other" || ev.Type != "custom" || !ev.At.Equal(t0.Add(-time.Second)) {
		t.Errorf("Reuse = %+v, %+v: caller's values replaced", rev, ev)
	}
}

func TestSessionLive(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Session, *User)
		want bool
	}{
		{"live", func(*Session, *User) {}, true},
		{"revoked", func(s *Session, _ *User) { s.RevokedAt = t0.Add(-time.Second) }, false},
		{"expires now", func(s *Session, _ *User) { s.ExpiresAt = t0 }, false},
		{"expires a microsecond later", func(s *Session, _ *User) { s.ExpiresAt = t0.Add(time.Microsecond) }, true},
		{"user disabled", func(_ *Session, u *User) { u.Disabled = true }, false},
		{"version moved", func(_ *Session, u *User) { u.CredentialVersion = 3 }, false},
		{"same version", func(s *Session, u *User) { s.CredentialVersion, u.CredentialVersion = 3, 3 }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, u := newSession(), User{ID: "u1"}
			tc.edit(&s, &u)
			if got := s.Live(u, t0); got != tc.want {
				t.Errorf("Live = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDecideRefresh(t *testing.T) {
	const grace = 10 * time.Second
	errRead := errors.New("read failed")
	tests := []struct {
		name      string
		edit      func(*RefreshState)
		grace     time.Duration
		current   bool
		readErr   error
		want      RefreshDecision
		wantAsked bool
		wantErr   error
	}{
		{"current token", func(*RefreshState) {}, grace, false, nil, RefreshRotate, false, nil},
		{"current token, zero grace", func(*RefreshState) {}, 0, false, nil, RefreshRotate, false, nil},
		{"token expired", func(st *RefreshState) { st.Token.ExpiresAt = t0 }, grace, false, nil, RefreshRefuse, false, nil},
		{"rotated token expired", func(st *RefreshState) { st.Token.ExpiresAt, st.Token.RotatedAt = t0, t0 }, grace, true, nil, RefreshRefuse, false, nil},
		{"session revoked", func(st *RefreshState) { st.Session.RevokedAt = t0 }, grace, false, nil, RefreshRefuse, false, nil},
		{"session expired", func(st *RefreshState) { st.Session.ExpiresAt = t0.Add(-time.Second) }, grace, false, nil, RefreshRefuse, false, nil},
		{"user disabled", func(st *RefreshState) { st.User.Disabled = true }, grace, false, nil, RefreshRefuse, false, nil},
		{"version lag", func(st *RefreshState) { st.User.CredentialVersion = 1 }, grace, false, nil, RefreshRefuse, false, nil},
		{"revoked and rotated", func(st *RefreshState) { st.Session.RevokedAt, st.Token.RotatedAt = t0, t0 }, grace, false, nil, RefreshRefuse, false, nil},
		{"replay within grace, successor current", func(st *RefreshState) { st.Token.RotatedAt = t0.Add(-time.Second) }, grace, true, nil, RefreshReplay, true, nil},
		{"replay within grace, rotated now", func(st *RefreshState) { st.Token.RotatedAt = t0 }, grace, true, nil, RefreshReplay, true, nil},
		{"replay within grace, successor moved on", func(st *RefreshState) { st.Token.RotatedAt = t0.Add(-time.Second) }, grace, false, nil, RefreshRevoke, true, nil},
		{"replay at the grace's end", func(st *RefreshState) { st.Token.RotatedAt = t0.Add(-grace) }, grace, true, nil, RefreshRevoke, false, nil},
		{"replay after the grace", func(st *RefreshState) { st.Token.RotatedAt = t0.Add(-time.Hour) }, grace, true, nil, RefreshRevoke, false, nil},
		{"replay with zero grace", func(st *RefreshState) { st.Token.RotatedAt = t0 }, 0, true, nil, RefreshRevoke, false, nil},
		{"successor read fails", func(st *RefreshState) { st.Token.RotatedAt = t0 }, grace, false, errRead, RefreshRefuse, true, errRead},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := RefreshState{
				Token:   RefreshToken{ExpiresAt: t0.Add(time.Hour)},
				Session: newSession(),
				User:    User{ID: "u1"},
			}
			tc.edit(&st)
			asked := false
			got, err := DecideRefresh(st, t0, tc.grace, func() (bool, error) {
				asked = true
				return tc.current, tc.readErr
			})
			if got != tc.want || err != tc.wantErr || asked != tc.wantAsked {
				t.Errorf("DecideRefresh = %v, %v (successor asked: %v); want %v, %v (%v)", got, err, asked, tc.want, tc.wantErr, tc.wantAsked)
			}
		})
	}
}

func TestRefreshDecisionString(t *testing.T) {
	for d, want := range map[RefreshDecision]string{RefreshRefuse: "refuse", RefreshRotate: "rotate",
		RefreshReplay: "replay", RefreshRevoke: "revoke", 9: "RefreshDecision(9)"} {
		if got := d.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(d), got, want)
		}
	}
}

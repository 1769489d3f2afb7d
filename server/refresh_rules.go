package server

import (
	"errors"
	"fmt"
	"time"
)

// The rules of RotateRefresh (AuthStore) that do not depend on a store: the
// request's checks and defaults, the decision taken on what the store read
// of the presented token, and the records a reuse writes. A store reads,
// locks and writes; these decide.

// micro truncates t to what a store keeps: the same instant, to the
// microsecond, in UTC.
func micro(t time.Time) time.Time { return time.UnixMicro(t.UnixMicro()).UTC() }

// Normalize checks req as RotateRefresh does before it reads anything and
// returns it with its defaults filled in: Now truncated to the
// microsecond (UTC), Revoke's Kind (RevokeSession) and CreatedAt (Now),
// Next's CreatedAt (Now). Both hashes, Now and Next.ExpiresAt must be
// set, Grace must not be negative, and Revoke must be a valid revocation
// but for its Value (filled in on reuse, see Reuse): it is checked on
// every call, so that a bad request fails on every refresh, not only on
// the rare reuse.
func (req RefreshRequest) Normalize() (RefreshRequest, error) {
	switch {
	case len(req.Hash) == 0 || len(req.Next.Hash) == 0:
		return RefreshRequest{}, errors.New("empty token hash")
	case req.Now.IsZero():
		return RefreshRequest{}, errors.New("zero Now")
	case req.Next.ExpiresAt.IsZero():
		return RefreshRequest{}, errors.New("next token with a zero ExpiresAt")
	case req.Grace < 0:
		return RefreshRequest{}, fmt.Errorf("negative grace %v", req.Grace)
	}
	req.Now = micro(req.Now)
	req.Revoke = req.Revoke.WithDefaults(RevokeSession, "", req.Now)
	probe := req.Revoke
	if probe.Value == "" {
		probe.Value = "-"
	}
	if err := probe.Validate(); err != nil {
		return RefreshRequest{}, fmt.Errorf("reuse revocation: %w", err)
	}
	if req.Next.CreatedAt.IsZero() {
		req.Next.CreatedAt = req.Now
	}
	return req, nil
}

// Reuse returns what RotateRefresh writes, at req.Now, when it revokes
// the session sess of the user u because a token was reused: req.Revoke
// with its Value defaulting to sess.ID, and req.Event with its Type
// defaulting to EventRefreshReuse and the fields a store fills in
// (Event.Filled) set. req is a normalized request (Normalize).
func (req RefreshRequest) Reuse(sess Session, u User) (Revocation, Event) {
	rev := req.Revoke
	if rev.Value == "" {
		rev.Value = sess.ID
	}
	ev := req.Event
	if ev.Type == "" {
		ev.Type = EventRefreshReuse
	}
	return rev, ev.Filled(req.Now, u.ID, u.Username, sess.ID)
}

// Live reports whether the session s of the user u can still be used at
// now: not revoked, before its ExpiresAt, the user not disabled, and the
// session's CredentialVersion the user's current one.
func (s Session) Live(u User, now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt) && !u.Disabled &&
		s.CredentialVersion == u.CredentialVersion
}

// RefreshState is what RotateRefresh read of a presented token: the token
// (its ExpiresAt and RotatedAt), its session (ExpiresAt, RevokedAt,
// CredentialVersion) and the session's user (Disabled,
// CredentialVersion).
type RefreshState struct {
	Token   RefreshToken
	Session Session
	User    User
}

// RefreshDecision is what RotateRefresh does with a presented token.
type RefreshDecision int

// The decisions of DecideRefresh.
const (
	// RefreshRefuse: RefreshInvalid, nothing changes.
	RefreshRefuse RefreshDecision = iota
	// RefreshRotate: the token is current; rotate it and store Next
	// (RefreshRotated).
	RefreshRotate
	// RefreshReplay: the token was rotated within the grace and its
	// successor is still current; answer with that successor again and
	// store nothing (RefreshRotated with Replay).
	RefreshReplay
	// RefreshRevoke: the token was reused; revoke its session, log the
	// revocation and write the event (Reuse), and commit
	// (RefreshReused).
	RefreshRevoke
)

// String returns the decision's name.
func (d RefreshDecision) String() string {
	switch d {
	case RefreshRefuse:
		return "refuse"
	case RefreshRotate:
		return "rotate"
	case RefreshReplay:
		return "replay"
	case RefreshRevoke:
		return "revoke"
	}
	return fmt.Sprintf("RefreshDecision(%d)", int(d))
}

// DecideRefresh decides, at now (truncated to the microsecond as the
// store keeps times), what RotateRefresh does with a presented token
// whose state st the store has read in its transaction:
//
//   - RefreshRefuse when the token has expired (ExpiresAt <= now) or its
//     session is not Live (revoked, expired, a disabled user, a
//     credential version that moved);
//   - RefreshRotate when the token is current (RotatedAt zero);
//   - otherwise it was presented again. Within the grace (grace > 0 and
//     rotated less than grace ago), while the successor its rotation
//     stored is still the session's current token, it is a client's
//     concurrent refresh: RefreshReplay, it gets that same successor
//     (Next, derived from the presented token by the caller), never a
//     second chain. Otherwise the token was stolen (or the client
//     replayed it late): RefreshRevoke.
//
// successorCurrent asks the store whether the request's Next is stored
// for the session, not rotated and not expired at now; it is called only
// within the grace, and its error is returned as it is.
func DecideRefresh(st RefreshState, now time.Time, grace time.Duration, successorCurrent func() (bool, error)) (RefreshDecision, error) {
	if !now.Before(st.Token.ExpiresAt) || !st.Session.Live(st.User, now) {
		return RefreshRefuse, nil
	}
	if st.Token.RotatedAt.IsZero() {
		return RefreshRotate, nil
	}
	if grace > 0 && now.Sub(st.Token.RotatedAt) < grace {
		current, err := successorCurrent()
		if err != nil {
			return RefreshRefuse, err
		}
		if current {
			return RefreshReplay, nil
		}
	}
	return RefreshRevoke, nil
}

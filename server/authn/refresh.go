package authn

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/server"
)

// refreshSuccessorLabel prefixes a refresh token in the HMAC that derives
// its successor (Options.RefreshKey).
const refreshSuccessorLabel = "fortapi refresh successor v1"

func (s *Service) refreshExpiry(now, sessionEnd time.Time) time.Time {
	return minTime(now.Add(s.o.RefreshLifetime), sessionEnd)
}

func (s *Service) issue(sub, sid string, scopes []string, refresh string) (Tokens, error) {
	at, claims, err := s.o.Tokens.Issue(sub, sid, scopes)
	if err != nil {
		return Tokens{}, fmt.Errorf("authn: issuing an access token: %w", err)
	}
	return Tokens{AccessToken: at, ExpiresIn: claims.ExpiresAt.Sub(claims.IssuedAt), RefreshToken: refresh, Scopes: scopes}, nil
}

// refreshTokenLen is the length of a refresh token: 32 random bytes in
// unpadded base64url.
const refreshTokenLen = 43

// newRefresh returns a new refresh token and the SHA-256 the store keeps.
func (s *Service) newRefresh() (string, []byte, error) {
	tok, err := s.random(32)
	if err != nil {
		return "", nil, err
	}
	h := sha256.Sum256([]byte(tok))
	return tok, h[:], nil
}

func (s *Service) random(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.o.Rand, b); err != nil {
		return "", fmt.Errorf("authn: reading randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// successor returns the refresh token that replaces refresh, and the
// SHA-256 the store keeps: HMAC-SHA256(RefreshKey, label || refresh), in
// the form of every refresh token (32 bytes, unpadded base64url). It is
// unpredictable without the key and the same for every presentation of
// refresh.
func (s *Service) successor(refresh string) (string, []byte) {
	mac := hmac.New(sha256.New, s.o.RefreshKey)
	mac.Write([]byte(refreshSuccessorLabel))
	mac.Write([]byte(refresh))
	next := base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	h := sha256.Sum256([]byte(next))
	return next, h[:]
}

// Refresh exchanges a refresh token for new tokens (RFC 6749 §6), rotating
// it. The new refresh token is derived from the presented one (successor),
// so a concurrent refresh within RefreshGrace gets the same one: there is
// only ever one chain. A token presented again after the grace, or after
// its successor has itself been used, is a sign of theft: the whole
// session is revoked at once. Access tokens are issued fresh every time.
func (s *Service) Refresh(ctx context.Context, refresh string, scopes []string, clientIP string) (_ Tokens, err error) {
	reused := false
	defer func() { s.observeAttempt(MethodRefresh, err, reused) }()
	if len(refresh) != refreshTokenLen {
		return Tokens{}, ErrInvalidGrant
	}
	if _, err := base64.RawURLEncoding.DecodeString(refresh); err != nil {
		return Tokens{}, ErrInvalidGrant
	}
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	next, nextHash := s.successor(refresh)
	h := sha256.Sum256([]byte(refresh))
	res, err := s.o.Store.RotateRefresh(ctx, server.RefreshRequest{
		Hash: h[:],
		// The session check refuses it after the session's absolute end.
		Next:  server.RefreshToken{Hash: nextHash, CreatedAt: now, ExpiresAt: now.Add(s.o.RefreshLifetime)},
		Now:   now,
		Grace: s.o.RefreshGrace,
		Revoke: server.Revocation{Kind: server.RevokeSession, Until: s.revocationUntil(now),
			CreatedAt: now},
		Event: server.Event{Type: server.EventRefreshReuse, ClientIP: clientIP,
			Detail: "a rotated refresh token was presented again; its session is revoked"},
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("authn: refresh: %w", err)
	}
	switch res.Outcome {
	case server.RefreshRotated:
		if res.Replay {
			s.o.Logger.InfoContext(ctx, "refresh token presented again within the grace: answered with its successor",
				slog.String("user_id", res.User.ID), slog.String("session_id", res.Session.ID))
		}
	case server.RefreshReused:
		reused = true
		if o := s.o.Observer; o != nil {
			o.RefreshReuse()
		}
		s.o.Revocations.RevokeSession(res.Session.ID, s.revocationUntil(now))
		s.o.Logger.WarnContext(ctx, "refresh token reuse: session revoked",
			slog.String("user_id", res.User.ID), slog.String("session_id", res.Session.ID))
		return Tokens{}, ErrInvalidGrant
	default:
		return Tokens{}, ErrInvalidGrant
	}
	// The session's scopes, never more than the role grants today.
	granted := intersect(res.Session.Scopes, res.User.Role.Scopes())
	if scopes != nil {
		if !subset(scopes, granted) {
			return Tokens{}, ErrInvalidScope
		}
		granted = dedupe(scopes)
	}
	return s.issue(res.User.ID, res.Session.ID, granted, next)
}

// revocationUntil is when a revocation made at now can be forgotten.
func (s *Service) revocationUntil(now time.Time) time.Time {
	return now.Add(s.o.AccessLifetime + 2*s.o.Leeway + time.Second)
}

// Logout ends the session of the principal's credentials: its refresh
// tokens stop working and every access token of it is refused from now on.
func (s *Service) Logout(ctx context.Context, p *fortapi.Principal, clientIP string) error {
	if p == nil || p.SessionID == "" {
		return errors.New("authn: logout: the credentials name no session")
	}
	now := s.o.Now().UTC().Truncate(time.Microsecond)
	until := s.revocationUntil(now)
	rev := server.Revocation{Kind: server.RevokeSession, Value: p.SessionID, Until: until, CreatedAt: now}
	ev := server.Event{Type: server.EventLogout, UserID: p.Subject, SessionID: p.SessionID, ClientIP: clientIP}
	s.nameActor(ctx, &ev)
	if err := s.o.Store.RevokeSession(ctx, p.SessionID, rev, now, ev); err != nil {
		return fmt.Errorf("authn: logout: %w", err)
	}
	s.o.Revocations.RevokeSession(p.SessionID, until)
	return nil
}

package authn

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/fortapi/fortapi/server"
)

// Sync replays the revocation log entries added since the last Sync into
// the in-memory checker.
func (s *Service) Sync(ctx context.Context) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	// The first Sync replays the log's past: no propagation to measure.
	observe := s.o.Observer != nil && s.synced
	defer func() { s.synced = true }()
	for {
		revs, err := s.o.Store.Revocations(ctx, s.lastSeq, s.o.Now(), 1000)
		if err != nil {
			return fmt.Errorf("authn: reading revocations: %w", err)
		}
		for _, r := range revs {
			switch r.Kind {
			case server.RevokeSubject:
				s.o.Revocations.RevokeSubject(r.Value, r.NotBefore)
			case server.RevokeSession:
				s.o.Revocations.RevokeSession(r.Value, r.Until)
			case server.RevokeJTI:
				s.o.Revocations.RevokeJTI(r.Value, r.Until)
			}
			s.lastSeq = r.Seq
			if observe && !r.CreatedAt.IsZero() {
				s.o.Observer.RevocationApplied(max(s.o.Now().Sub(r.CreatedAt), 0))
			}
		}
		if len(revs) < 1000 {
			return nil
		}
	}
}

// Run keeps the process in step with the store until ctx ends: it replays
// revocations every SyncEvery (with a Feed: on every wake-up, see
// runSync), reloads and maintains the key ring (automatic rotation) every
// KeysEvery, and prunes what has expired every PruneEvery. Failures are
// logged and retried.
func (s *Service) Run(ctx context.Context) {
	syncDone := make(chan struct{})
	go func() { s.runSync(ctx); close(syncDone) }()
	defer func() { <-syncDone }()
	keysT := time.NewTicker(s.o.KeysEvery)
	defer keysT.Stop()
	pruneT := time.NewTicker(s.o.PruneEvery)
	defer pruneT.Stop()
	var keysFailing, pruneFailing bool
	for {
		select {
		case <-ctx.Done():
			return
		case <-keysT.C:
			rotated, err := s.o.Keys.Maintain(ctx)
			keysFailing = s.logTransition(ctx, "maintaining signing keys", err, keysFailing)
			if rotated {
				s.o.Logger.InfoContext(ctx, "signing key rotated automatically")
				s.event(ctx, server.Event{Type: server.EventKeyRotated, Detail: "automatic rotation"})
			}
			s.o.Revocations.Prune()
		case <-pruneT.C:
			// A minute of slack: another process's clock may lag.
			n, err := s.o.Store.PruneExpired(ctx, s.o.Now().Add(-time.Minute))
			pruneFailing = s.logTransition(ctx, "pruning expired sessions and revocations", err, pruneFailing)
			if n > 0 {
				s.o.Logger.InfoContext(ctx, "pruned expired sessions, refresh tokens and revocations", slog.Int64("rows", n))
			}
			if n, err := s.pruneAudit(ctx); err != nil && ctx.Err() == nil {
				s.o.Logger.ErrorContext(ctx, "pruning old security events failed; retried at the next interval", slog.Any("error", err))
			} else if n > 0 {
				s.o.Logger.InfoContext(ctx, "pruned security events past the audit retention", slog.Int64("events", n))
			}
		}
	}
}

// logTransition logs an error once when a background task starts failing
// and once when it recovers.
func (s *Service) logTransition(ctx context.Context, what string, err error, failing bool) bool {
	switch {
	case err != nil && !failing && ctx.Err() == nil:
		s.o.Logger.ErrorContext(ctx, what+" failed; retrying", slog.Any("error", err))
		return true
	case err == nil && failing:
		s.o.Logger.InfoContext(ctx, what+" works again")
		return false
	}
	return failing
}

// RotateKeys rotates the signing key now.
func (s *Service) RotateKeys(ctx context.Context, actor string) error {
	if err := s.o.Keys.Rotate(ctx); err != nil {
		return err
	}
	s.event(ctx, server.Event{Type: server.EventKeyRotated, UserID: actor, Detail: "manual rotation"})
	return nil
}

// RevokeKey stops trusting a signing key at once (see jwtkey.Ring.Revoke):
// every token it signed is refused.
func (s *Service) RevokeKey(ctx context.Context, kid, actor string) error {
	if err := s.o.Keys.Revoke(ctx, kid); err != nil {
		return err
	}
	s.event(ctx, server.Event{Type: server.EventKeyRevoked, UserID: actor, Detail: "key " + kid + " revoked"})
	return nil
}

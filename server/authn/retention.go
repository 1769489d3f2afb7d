package authn

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// DefaultAuditRetention is how long security events are kept unless
// Options.AuditRetention says otherwise.
const DefaultAuditRetention = 90 * 24 * time.Hour

// Audit log pruning (Options.AuditRetention).
const (
	// DefaultAuditPruneBatch is how many events one PruneEvents statement
	// deletes.
	DefaultAuditPruneBatch = 1000
	// DefaultAuditPrunePause is the pause between two batches: other
	// writers (SQLite has one write lock) get their turn.
	DefaultAuditPrunePause = 20 * time.Millisecond
	// auditPruneBatches bounds the batches of one PruneAudit: a backlog
	// (a first start on an old log) is worked off over several runs.
	auditPruneBatches = 100
)

// PruneAudit deletes the security events older than AuditRetention
// (nothing when it is negative: the log is kept forever), oldest first, in
// batches of AuditPruneBatch with AuditPrunePause between them, until a
// batch comes back short or auditPruneBatches have run. It returns how
// many it deleted and logs the count when there were any. Several
// instances may prune at once: each deletes what the others have not.
func (s *Service) PruneAudit(ctx context.Context) (int64, error) {
	if s.o.AuditRetention < 0 {
		return 0, nil
	}
	cutoff := s.o.Now().Add(-s.o.AuditRetention)
	var total int64
	more := false
	defer func() {
		if total > 0 {
			s.o.Logger.InfoContext(ctx, "pruned security events past the audit retention",
				slog.Int64("events", total), slog.Duration("retention", s.o.AuditRetention),
				slog.Time("before", cutoff.UTC()), slog.Bool("more_left", more))
		}
	}()
	for i := range auditPruneBatches {
		if i > 0 {
			t := time.NewTimer(s.o.AuditPrunePause)
			select {
			case <-ctx.Done():
				t.Stop()
				return total, ctx.Err()
			case <-t.C:
			}
		}
		n, err := s.o.Store.PruneEvents(ctx, cutoff, s.o.AuditPruneBatch)
		total += n
		if err != nil {
			return total, fmt.Errorf("authn: pruning security events: %w", err)
		}
		if n < int64(s.o.AuditPruneBatch) {
			return total, nil
		}
	}
	more = true // the next run goes on
	return total, nil
}

// runAuditPrune prunes the audit log at once and then every PruneEvery
// until ctx ends (nothing when AuditRetention is negative).
func (s *Service) runAuditPrune(ctx context.Context) {
	if s.o.AuditRetention < 0 {
		return
	}
	t := time.NewTicker(s.o.PruneEvery)
	defer t.Stop()
	failing := false
	for {
		_, err := s.PruneAudit(ctx)
		failing = s.logTransition(ctx, "pruning security events past the audit retention", err, failing)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

package authn

import (
	"context"
	"log/slog"
	"time"
)

// DefaultAuditRetention is how long security events are kept unless
// Options.AuditRetention says otherwise.
const DefaultAuditRetention = 90 * 24 * time.Hour

// Audit pruning works in batches of auditPruneBatch events, at most
// auditPruneBatches of them per PruneEvery tick: no single write holds
// the store for long, and a backlog is worked off over several ticks.
const (
	auditPruneBatch   = 1000
	auditPruneBatches = 100
)

// pruneAudit deletes the security events older than AuditRetention, in
// batches. It returns how many it deleted.
func (s *Service) pruneAudit(ctx context.Context) (int64, error) {
	if s.o.AuditRetention < 0 {
		return 0, nil
	}
	before := s.o.Now().Add(-s.o.AuditRetention)
	var total int64
	for range auditPruneBatches {
		n, err := s.o.Store.PruneEvents(ctx, before, auditPruneBatch)
		total += n
		if err != nil || n < auditPruneBatch {
			return total, err
		}
	}
	s.o.Logger.InfoContext(ctx, "audit retention: more old events remain; pruning continues at the next interval",
		slog.Int64("pruned", total))
	return total, nil
}

package authn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Defaults of Options with a Feed: the safety-net poll while the feed is
// healthy, and how long it may be down before PropagationHealth reports
// it.
const (
	DefaultFeedSyncEvery    = 5 * time.Second
	DefaultPropagationBound = time.Second
)

// Feed pushes the store's changes to the Service (Options.Feed), so that a
// revocation or a key change made by any instance reaches this one in
// milliseconds instead of a polling interval. server/postgres's Listener
// (LISTEN/NOTIFY) implements it.
//
// A wake-up carries no data: the store stays the source of truth, and the
// Service reads it on every wake-up (Sync replays the revocation log by
// seq; the key ring reloads). So a wake-up that is lost, or delivered
// twice, costs nothing but a read; a feed must only never stay silent
// after a change it has seen, and must wake both channels after every
// (re)connect, so that what was committed while it was down is read.
type Feed interface {
	// Revocations receives a value after the revocation log may have
	// grown (and after every reconnect).
	Revocations() <-chan struct{}
	// Keys receives a value after the signing keys may have changed (and
	// after every reconnect).
	Keys() <-chan struct{}
	// Err is nil while the feed delivers, else why it does not. It is
	// called often (every SyncEvery) and must be cheap.
	Err() error
}

// ErrPropagationDegraded is what PropagationHealth's errors match
// (errors.Is): revocations made elsewhere may not reach this instance
// within the propagation bound by push.
var ErrPropagationDegraded = errors.New("authn: revocation propagation is degraded")

// propagation is what PropagationHealth knows, kept by runSync (and by
// PropagationHealth itself for the feed).
type propagation struct {
	mu sync.Mutex
	// feedDown is when the Service first saw the feed's Err, zero while
	// the feed is healthy; feedErr is that error.
	feedDown time.Time
	feedErr  error
	// syncFailing is when replaying the log started failing, zero while it
	// works; syncErr is the last failure.
	syncFailing time.Time
	syncErr     error
}

// feedHealthy asks the feed and records since when it is down.
func (s *Service) feedHealthy() bool {
	err := s.o.Feed.Err()
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil:
		h.feedDown, h.feedErr = time.Time{}, nil
	case h.feedDown.IsZero():
		h.feedDown, h.feedErr = s.o.Now(), err
	default:
		h.feedErr = err
	}
	return err == nil
}

// noteSync records the outcome of a replay of the log.
func (s *Service) noteSync(err error) {
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil:
		h.syncFailing, h.syncErr = time.Time{}, nil
	case h.syncFailing.IsZero():
		h.syncFailing, h.syncErr = s.o.Now(), err
	default:
		h.syncErr = err
	}
}

// PropagationHealth says whether revocations and key changes made by
// other instances reach this one within Options.PropagationBound (1s by
// default): nil when they do, else an error matching
// ErrPropagationDegraded that names the problem, for /readyz to report:
//
//   - the Feed has been down for longer than the bound. The Service then
//     polls the store every SyncEvery (250ms) instead, which keeps the lag
//     within the bound as long as the store answers, but the instance no
//     longer has its push and says so;
//   - replaying the revocation log has been failing for longer than the
//     bound (the store is unreachable): revocations made elsewhere are
//     not seen at all.
//
// A brief reconnect of the feed (shorter than the bound) is not reported.
// Without a Feed only the second case applies. Run must be running for
// the second case to be noticed.
func (s *Service) PropagationHealth() error {
	if s.o.Feed != nil {
		s.feedHealthy()
	}
	now := s.o.Now()
	h := &s.health
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	if !h.feedDown.IsZero() {
		if d := now.Sub(h.feedDown); d > s.o.PropagationBound {
			errs = append(errs, fmt.Errorf("%w: the change feed has been down for %v (bound %v); polling the store every %v instead: %w",
				ErrPropagationDegraded, d.Round(time.Millisecond), s.o.PropagationBound, s.o.SyncEvery, h.feedErr))
		}
	}
	if !h.syncFailing.IsZero() {
		if d := now.Sub(h.syncFailing); d > s.o.PropagationBound {
			errs = append(errs, fmt.Errorf("%w: replaying the revocation log has been failing for %v (bound %v): %w",
				ErrPropagationDegraded, d.Round(time.Millisecond), s.o.PropagationBound, h.syncErr))
		}
	}
	return errors.Join(errs...)
}

// runSync keeps the in-memory revocations (and, with a Feed, the key
// ring) in step with the store until ctx ends; Run starts it.
//
// Without a Feed it replays the log every SyncEvery. With one it replays
// on every revocation wake-up and reloads the keys on every key wake-up,
// and besides on its SyncEvery tick it replays when the last replay is
// FeedSyncEvery old (the safety net), when the feed is down (then the
// store is polled every SyncEvery: fail closed, the lag stays within
// about SyncEvery plus a query), or when the last replay failed.
func (s *Service) runSync(ctx context.Context) {
	tick := time.NewTicker(s.o.SyncEvery)
	defer tick.Stop()
	var revs, keys <-chan struct{}
	if s.o.Feed != nil {
		revs, keys = s.o.Feed.Revocations(), s.o.Feed.Keys()
	}
	var (
		syncFailing, keysFailing, feedDown bool
		last                               time.Time // the last replay's start
	)
	replay := func() {
		last = s.o.Now()
		err := s.Sync(ctx)
		if ctx.Err() != nil {
			return
		}
		s.noteSync(err)
		syncFailing = s.logTransition(ctx, "replaying revocations", err, syncFailing)
	}
	replay() // at once: Run may start well after the caller's Sync
	for {
		select {
		case <-ctx.Done():
			return
		case <-revs:
			replay()
		case <-keys:
			err := s.o.Keys.Reload(ctx)
			keysFailing = s.logTransition(ctx, "reloading signing keys after a change notification", err, keysFailing)
		case <-tick.C:
			if s.o.Feed == nil || syncFailing {
				replay()
				continue
			}
			healthy := s.feedHealthy()
			if !healthy && !feedDown {
				s.o.Logger.WarnContext(ctx, "the change feed is down: polling the store for revocations every "+s.o.SyncEvery.String(),
					"error", s.o.Feed.Err())
			} else if healthy && feedDown {
				s.o.Logger.InfoContext(ctx, "the change feed works again")
			}
			feedDown = !healthy
			if feedDown || s.o.Now().Sub(last) >= s.o.FeedSyncEvery {
				replay()
			}
		}
	}
}

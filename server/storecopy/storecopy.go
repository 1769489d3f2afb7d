// Package storecopy moves a reference-server installation from one
// server.Store to another (SQLite to PostgreSQL, or back), through the
// server.Store interface only, so that it works for every store that
// passes the contract suite.
//
// # What is copied
//
//   - Users: ids, canonical usernames, roles, password hashes (moved as
//     they are: nobody needs a new password), disabled flags, CreatedAt and
//     UpdatedAt.
//   - Signing keys: every key in every state, with its times, public part
//     and sealed private part, moved as it is in one SaveKeys. The master
//     key that seals them is not in the store and stays the operator's:
//     the server on the target needs the same FORTAPI_MASTER_KEY.
//   - Items of every owner, every field.
//   - The audit log: every event, every field but the ID, in the source's
//     order (oldest first).
//   - The live part of the revocation log: the entries whose Until is
//     still ahead. Access tokens are checked against that log only (not
//     against the sessions), and the signing keys move, so without it an
//     access token revoked on the source (a logout, a disabled user) would
//     be accepted again on the target until it expired.
//
// # What is not copied
//
// API keys that no longer work (of a disabled user, or made before the
// user's last password or role change) are not copied either; the others
// are, with their users, hashes and all: the target verifies them only
// with the same master key (their hash key derives from it).
//
// Sessions, refresh tokens and web (cookie) sessions: everybody logs in
// again after a move. Access tokens already issued keep working on the
// target until they expire (their keys moved with the installation);
// refreshing them fails. Expired revocation-log entries are not copied
// either: they refuse nothing.
//
// # What is not preserved exactly
//
//   - Event IDs. AddEvent assigns them, and the interface has no way to
//     choose one: the target numbers the events afresh (from 1 in a new
//     database), in the source's order, so their order, and every other
//     field, is kept. A gap in the source's numbering is closed.
//   - User.CredentialVersion. CreateUser starts every user at 0, and the
//     interface only raises it as a side effect of a revocation. The
//     version only has to match the version stored with a session, and no
//     session is copied, so 0 is exactly as good; it is not a count anyone
//     reads.
//   - Revocation-log Seq numbers, which AddRevocation assigns (the entries
//     keep their order, kinds, values and times).
//
// # Transactions and failure
//
// The interface offers no transaction wider than one call: each user,
// item, event and revocation is written in its own (a SQLite target may
// group several into one commit), and the keys in one SaveKeys. Copy
// refuses a target that holds anything (ErrTargetNotEmpty) before writing
// a row. If it fails after that (the source or target fails, ctx ends),
// what it wrote stays, Stats says how much, and the target, no longer
// empty, is refused by the next Copy: drop it (delete the SQLite file,
// drop the PostgreSQL schema or database) and copy again. Copy writes the
// live revocations first, so that even a partial copy never accepts a
// token the source refused.
//
// # Memory
//
// Users, items and revocations are read and written a page at a time. The
// audit log can only be read newest first (ListEvents pages backwards by
// BeforeID), yet must be written oldest first; Copy reads it twice: once
// to note where each page starts (one int64 per page of up to 1,000
// events: 80 KB for ten million events), then page by page from the
// oldest, each page reversed. So memory is bounded by one page plus that
// list, whatever the size of the log.
//
// The source should not change during the copy: stop the server first.
// Events added meanwhile are not copied; the pages already noted stay
// stable because event IDs only grow.
package storecopy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fortapi/fortapi/server"
)

// DefaultPageSize is how many users, items or revocations Copy reads per
// call, and (up to the stores' limit of 1,000) how many events.
const DefaultPageSize = 500

// maxEventsPage is the largest Limit ListEvents accepts.
const maxEventsPage = 1000

// ErrTargetNotEmpty is returned (wrapped, with what was found) when the
// target already holds users, items, signing keys, events or live
// revocations. Nothing was written.
var ErrTargetNotEmpty = errors.New("the target store is not empty")

// Phase names what Copy is copying.
type Phase string

// The phases, in the order Copy runs them.
const (
	PhaseCheck       Phase = "check"
	PhaseRevocations Phase = "revocations"
	PhaseUsers       Phase = "users"
	PhaseKeys        Phase = "keys"
	PhaseItems       Phase = "items"
	PhaseEvents      Phase = "events"
	PhaseDone        Phase = "done"
)

// Stats counts what Copy wrote to the target.
type Stats struct {
	Revocations int
	Users       int
	Keys        int
	Items       int
	Events      int
	// APIKeys counts the users' API keys (copied with their users).
	APIKeys int
}

// Total is the number of rows written.
func (s Stats) Total() int { return s.Revocations + s.Users + s.Keys + s.Items + s.Events + s.APIKeys }

// Progress is what Options.Progress receives.
type Progress struct {
	Phase Phase
	// Stats counts what has been written so far.
	Stats Stats
	// EventsTotal is the number of events to copy, known from the
	// PhaseEvents reports on (zero before).
	EventsTotal int
}

// Options configures Copy. The zero value is ready to use.
type Options struct {
	// PageSize is how many rows one read returns (events: at most 1,000).
	// Zero means DefaultPageSize; negative is an error.
	PageSize int
	// Progress, when set, is called at the start of each phase and after
	// each page written, from Copy's goroutine. It must be quick.
	Progress func(Progress)
	// Now is the clock that says which revocations are still live. Nil
	// means time.Now.
	Now func() time.Time
}

// Copy copies the installation in from into to, which must be empty
// (ErrTargetNotEmpty otherwise). It returns what it wrote, also when it
// fails; see the package documentation for what is copied and what a
// failure leaves behind.
func Copy(ctx context.Context, from, to server.Store, opts Options) (Stats, error) {
	c := &copier{from: from, to: to, page: opts.PageSize, progress: opts.Progress}
	switch {
	case c.page < 0:
		return Stats{}, fmt.Errorf("storecopy: PageSize is %d, want >= 0", c.page)
	case c.page == 0:
		c.page = DefaultPageSize
	}
	if c.progress == nil {
		c.progress = func(Progress) {}
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	c.now = now()

	steps := []struct {
		phase Phase
		run   func(context.Context) error
	}{
		{PhaseCheck, c.checkEmpty},
		{PhaseRevocations, c.revocations},
		{PhaseUsers, c.users},
		{PhaseKeys, c.keys},
		{PhaseItems, c.items},
		{PhaseEvents, c.events},
	}
	for _, st := range steps {
		c.phase = st.phase
		c.report()
		if err := st.run(ctx); err != nil {
			if st.phase == PhaseCheck {
				return c.stats, fmt.Errorf("storecopy: %w", err)
			}
			return c.stats, fmt.Errorf("storecopy: copying %s: %w", st.phase, err)
		}
	}
	c.phase = PhaseDone
	c.report()
	return c.stats, nil
}

type copier struct {
	from, to    server.Store
	page        int
	progress    func(Progress)
	now         time.Time
	phase       Phase
	stats       Stats
	eventsTotal int
}

func (c *copier) report() {
	c.progress(Progress{Phase: c.phase, Stats: c.stats, EventsTotal: c.eventsTotal})
}

// checkEmpty refuses a target that holds anything Copy would write.
func (c *copier) checkEmpty(ctx context.Context) error {
	var found []string
	users, err := c.to.ListUsers(ctx, "", 1)
	if err != nil {
		return fmt.Errorf("checking that the target is empty: %w", err)
	}
	if len(users) > 0 {
		found = append(found, "users")
	}
	items, err := c.to.ListItems(ctx, server.Access{All: true}, "", 1)
	if err != nil {
		return fmt.Errorf("checking that the target is empty: %w", err)
	}
	if len(items) > 0 {
		found = append(found, "items")
	}
	keys, err := c.to.LoadKeys(ctx)
	if err != nil {
		return fmt.Errorf("checking that the target is empty: %w", err)
	}
	if len(keys) > 0 {
		found = append(found, "signing keys")
	}
	events, err := c.to.ListEvents(ctx, server.EventFilter{Limit: 1})
	if err != nil {
		return fmt.Errorf("checking that the target is empty: %w", err)
	}
	if len(events) > 0 {
		found = append(found, "audit events")
	}
	revs, err := c.to.Revocations(ctx, 0, c.now, 1)
	if err != nil {
		return fmt.Errorf("checking that the target is empty: %w", err)
	}
	if len(revs) > 0 {
		found = append(found, "revocations")
	}
	if len(found) > 0 {
		return fmt.Errorf("%w (it holds %s); nothing was written", ErrTargetNotEmpty, strings.Join(found, ", "))
	}
	return nil
}

// revocations copies the revocation-log entries still live at c.now, in
// Seq order.
func (c *copier) revocations(ctx context.Context) error {
	var after int64
	for {
		revs, err := c.from.Revocations(ctx, after, c.now, c.page)
		if err != nil {
			return fmt.Errorf("reading the source: %w", err)
		}
		for _, r := range revs {
			seq := r.Seq
			r.Seq = 0
			if err := c.to.AddRevocation(ctx, r); err != nil {
				return fmt.Errorf("writing the entry with seq %d: %w", seq, err)
			}
			c.stats.Revocations++
		}
		c.report()
		if len(revs) < c.page {
			return nil
		}
		after = revs[len(revs)-1].Seq
	}
}

func (c *copier) users(ctx context.Context) error {
	after := ""
	for {
		users, err := c.from.ListUsers(ctx, after, c.page)
		if err != nil {
			return fmt.Errorf("reading the source: %w", err)
		}
		for _, u := range users {
			if err := c.to.CreateUser(ctx, u, server.Event{}); err != nil {
				return fmt.Errorf("writing user %s: %w", u.ID, err)
			}
			c.stats.Users++
			if err := c.apiKeys(ctx, u); err != nil {
				return err
			}
		}
		c.report()
		if len(users) < c.page {
			return nil
		}
		after = users[len(users)-1].ID
	}
}

// apiKeys copies the API keys of u that still work for it (u enabled,
// its credentials unchanged since the key was made, its role granting
// the key's scopes), hashes and all: the target verifies them under the
// same master key. A key of a disabled or changed user is dead for good,
// and is not copied. The target user starts at credential version 0
// (CreateUser), so the copies do too.
func (c *copier) apiKeys(ctx context.Context, u server.User) error {
	keys, err := c.from.ListAPIKeys(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("reading the API keys of user %s: %w", u.ID, err)
	}
	for _, k := range keys {
		if u.Disabled || k.CredentialVersion != u.CredentialVersion || !k.GrantedBy(u.Role) {
			continue
		}
		k.CredentialVersion = 0
		if err := c.to.CreateAPIKey(ctx, k, server.Event{}); err != nil {
			return fmt.Errorf("writing API key %s of user %s: %w", k.ID, u.ID, err)
		}
		c.stats.APIKeys++
	}
	return nil
}

func (c *copier) keys(ctx context.Context) error {
	keys, err := c.from.LoadKeys(ctx)
	if err != nil {
		return fmt.Errorf("reading the source: %w", err)
	}
	if err := c.to.SaveKeys(ctx, keys); err != nil {
		return fmt.Errorf("writing %d keys: %w", len(keys), err)
	}
	c.stats.Keys = len(keys)
	c.report()
	return nil
}

func (c *copier) items(ctx context.Context) error {
	all := server.Access{All: true}
	after := ""
	for {
		items, err := c.from.ListItems(ctx, all, after, c.page)
		if err != nil {
			return fmt.Errorf("reading the source: %w", err)
		}
		for _, it := range items {
			if err := c.to.CreateItem(ctx, it); err != nil {
				return fmt.Errorf("writing item %s: %w", it.ID, err)
			}
			c.stats.Items++
		}
		c.report()
		if len(items) < c.page {
			return nil
		}
		after = items[len(items)-1].ID
	}
}

// events copies the audit log oldest first: a first pass, newest first,
// notes the BeforeID that starts each page (bounds[i] starts page i); the
// second reads the pages from the last (oldest) to the first and writes
// each page reversed.
func (c *copier) events(ctx context.Context) error {
	limit := min(c.page, maxEventsPage)
	var (
		bounds []int64
		sizes  []int
		before int64
	)
	for {
		evs, err := c.from.ListEvents(ctx, server.EventFilter{BeforeID: before, Limit: limit})
		if err != nil {
			return fmt.Errorf("reading the source: %w", err)
		}
		if len(evs) == 0 {
			break
		}
		if before == 0 {
			// Pin the first page: events added from now on have larger
			// IDs and stay out of it.
			before = evs[0].ID + 1
		}
		bounds = append(bounds, before)
		sizes = append(sizes, len(evs))
		c.eventsTotal += len(evs)
		if len(evs) < limit {
			break
		}
		before = evs[len(evs)-1].ID
	}
	c.report()
	for i := len(bounds) - 1; i >= 0; i-- {
		evs, err := c.from.ListEvents(ctx, server.EventFilter{BeforeID: bounds[i], Limit: limit})
		if err != nil {
			return fmt.Errorf("reading the source: %w", err)
		}
		if len(evs) != sizes[i] {
			return fmt.Errorf("the source's audit log changed during the copy (events before id %d: %d, then %d): stop the server and copy into an empty store again", bounds[i], sizes[i], len(evs))
		}
		slices.Reverse(evs)
		for _, ev := range evs {
			id := ev.ID
			ev.ID = 0
			if err := c.to.AddEvent(ctx, ev); err != nil {
				return fmt.Errorf("writing the event with id %d: %w", id, err)
			}
			c.stats.Events++
		}
		c.report()
	}
	return nil
}

package postgres

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/server"
)

// listen starts a listener on s, closed when t ends.
func listen(t testing.TB, s *Store, opts ListenOptions) *Listener {
	t.Helper()
	l, err := s.Listen(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// receive waits for a wake-up on ch, failing t after 10 s.
func receive(t testing.TB, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no wake-up on %s within 10s", what)
	}
}

// pending reports whether ch holds a wake-up, without waiting.
func pending(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// connected waits for the listener's first connection and takes the two
// wake-ups every connect sends.
func connected(t testing.TB, l *Listener) {
	t.Helper()
	receive(t, l.Revocations(), "revocations after connecting")
	receive(t, l.Keys(), "keys after connecting")
	if err := l.Err(); err != nil {
		t.Fatalf("Err after connecting = %v", err)
	}
}

// seedSession stores a user and a session with a refresh token, and
// returns the user, the session and the token's hash.
func seedSession(t *testing.T, s *Store, name string, now time.Time) (server.User, server.Session, []byte) {
	t.Helper()
	ctx := context.Background()
	id, err := server.NewID(now, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := server.User{ID: id, Username: name, Role: server.RoleUser, PasswordHash: "$argon2id$x", CreatedAt: now}
	if err := s.CreateUser(ctx, u, server.Event{}); err != nil {
		t.Fatal(err)
	}
	sess := server.Session{ID: "sess-" + name, UserID: id, Scopes: []string{server.ScopeItemsRead}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	h := sha256.Sum256([]byte("refresh-" + name))
	if err := s.CreateSession(ctx, sess, server.RefreshToken{Hash: h[:], ExpiresAt: now.Add(time.Hour)}, server.Event{}); err != nil {
		t.Fatal(err)
	}
	return u, sess, h[:]
}

// TestListenerWakes: every write that appends to the revocation log wakes
// the revocation channel, SaveKeys the keys channel, each only when its
// transaction commits, and never for another schema's store.
func TestListenerWakes(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	s := open(t, Options{URL: ts.newSchema(t)})
	other := open(t, Options{URL: ts.newSchema(t)})
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	until := now.Add(time.Hour)
	l := listen(t, s, ListenOptions{})
	connected(t, l)

	tests := []struct {
		name string
		keys bool // the keys channel wakes, not the revocations one
		do   func(t *testing.T) error
	}{
		{"AddRevocation", false, func(t *testing.T) error {
			return s.AddRevocation(ctx, server.Revocation{Kind: server.RevokeJTI, Value: "j1", Until: until})
		}},
		{"RevokeSession (logout, web session end)", false, func(t *testing.T) error {
			_, sess, _ := seedSession(t, s, "logout", now)
			return s.RevokeSession(ctx, sess.ID, server.Revocation{Until: until}, now, server.Event{})
		}},
		{"UpdateUser with Revoke (disable, role, password)", false, func(t *testing.T) error {
			u, _, _ := seedSession(t, s, "disable", now)
			_, err := s.UpdateUser(ctx, u.ID, server.UserChange{Disabled: ptr(true), Revoke: &server.Revocation{Until: until}}, now, server.Event{})
			return err
		}},
		{"RotateRefresh reuse", false, func(t *testing.T) error {
			_, _, h := seedSession(t, s, "reuse", now)
			next := sha256.Sum256([]byte("next"))
			req := server.RefreshRequest{Hash: h, Next: server.RefreshToken{Hash: next[:], ExpiresAt: until}, Now: now,
				Revoke: server.Revocation{Until: until}}
			if res, err := s.RotateRefresh(ctx, req); err != nil || res.Outcome != server.RefreshRotated {
				t.Fatalf("first rotation: %+v, %v", res, err)
			}
			// The rotation logs nothing: no wake-up for it.
			if pending(l.Revocations()) {
				t.Fatal("a plain rotation woke the revocations channel")
			}
			res, err := s.RotateRefresh(ctx, req)
			if err == nil && res.Outcome != server.RefreshReused {
				t.Fatalf("replay: %v, want reuse", res.Outcome)
			}
			return err
		}},
		{"SaveKeys", true, func(t *testing.T) error {
			return s.SaveKeys(ctx, []jwtkey.StoredKey{{ID: "k1", Alg: jwtkey.EdDSA, State: jwtkey.StateNext, CreatedAt: now}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.do(t); err != nil {
				t.Fatal(err)
			}
			want, not := l.Revocations(), l.Keys()
			if tt.keys {
				want, not = not, want
			}
			receive(t, want, tt.name)
			// Both notifications of one transaction would have arrived
			// together; and nothing else was written since.
			if pending(not) {
				t.Fatal("the other channel woke too")
			}
		})
	}

	t.Run("only on commit", func(t *testing.T) {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if err := s.execRevocations(ctx, tx, server.Revocation{Kind: server.RevokeJTI, Value: "open", Until: until, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		// Another schema's revocation commits too: not for this channel.
		if err := other.AddRevocation(ctx, server.Revocation{Kind: server.RevokeJTI, Value: "elsewhere", Until: until}); err != nil {
			t.Fatal(err)
		}
		// A later commit's notification arrives; everything committed
		// before it would have arrived first.
		mark := func() {
			if err := s.SaveKeys(ctx, []jwtkey.StoredKey{{ID: "mark", Alg: jwtkey.EdDSA, State: jwtkey.StateNext, CreatedAt: now}}); err != nil {
				t.Fatal(err)
			}
			receive(t, l.Keys(), "keys (mark)")
		}
		mark()
		if pending(l.Revocations()) {
			t.Fatal("an uncommitted revocation, or another schema's, woke the listener")
		}
		if err := tx.Rollback(ctx); err != nil {
			t.Fatal(err)
		}
		mark()
		if pending(l.Revocations()) {
			t.Fatal("a rolled-back revocation woke the listener")
		}
	})
}

// TestNotifyPropagation measures, with three listeners on one schema, the
// time from the start of a committing revocation (AddRevocation, with
// synchronous_commit on, as in production) to each listener's wake-up,
// over 100 revocations written one after the other. It reports the
// figures; it asserts only that every wake-up arrives.
func TestNotifyPropagation(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	u := withParam(t, ts.newSchema(t), "synchronous_commit", "on")
	s := open(t, Options{URL: u})
	ctx := context.Background()
	const listeners, writes = 3, 100
	ls := make([]*Listener, listeners)
	for i := range ls {
		ls[i] = listen(t, s, ListenOptions{})
		connected(t, ls[i])
	}
	// wake: write start -> wake-up; commit: the write's own time, until
	// the commit is acknowledged; after: commit acknowledged -> wake-up
	// (negative when the listener woke before the writer heard back).
	var wake, commit, after []time.Duration
	for i := range writes {
		start := time.Now()
		if err := s.AddRevocation(ctx, server.Revocation{Kind: server.RevokeJTI, Value: fmt.Sprint("jti-", i), Until: start.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		commit = append(commit, time.Since(start))
		var wg sync.WaitGroup
		got := make([]time.Duration, listeners)
		for j, l := range ls {
			wg.Go(func() {
				select {
				case <-l.Revocations():
					got[j] = time.Since(start)
				case <-time.After(10 * time.Second):
					got[j] = -1
				}
			})
		}
		wg.Wait()
		for _, d := range got {
			if d < 0 {
				t.Fatalf("revocation %d: a listener was not woken within 10s", i)
			}
		}
		wake = append(wake, got...)
		for _, d := range got {
			after = append(after, d-commit[i])
		}
	}
	t.Logf("3 listeners, %d revocations (synchronous_commit on): write start -> wake-up p50 %v, p99 %v, max %v (n=%d); "+
		"the write itself (AddRevocation, until the commit is acknowledged) p50 %v, p99 %v; "+
		"commit acknowledged -> wake-up p50 %v, p99 %v",
		writes, pct(wake, 50), pct(wake, 99), pct(wake, 100), len(wake), pct(commit, 50), pct(commit, 99),
		pct(after, 50), pct(after, 99))
}

// pct returns the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(i, 0)].Round(time.Microsecond)
}

// replayer is a consumer of the revocation log as authn.Service.Sync is:
// on every wake-up it reads the entries after the last seq it has seen.
type replayer struct {
	s       *Store
	mu      sync.Mutex
	lastSeq int64
	seen    map[string]bool
	replays int
}

func (r *replayer) run(ctx context.Context, wakes <-chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-wakes:
		}
		for {
			r.mu.Lock()
			after := r.lastSeq
			r.mu.Unlock()
			revs, err := r.s.Revocations(ctx, after, time.Now(), 1000)
			if err != nil {
				break // the next wake-up retries
			}
			r.mu.Lock()
			r.replays++
			for _, rev := range revs {
				r.seen[rev.Value] = true
				r.lastSeq = rev.Seq
			}
			r.mu.Unlock()
			if len(revs) < 1000 {
				break
			}
		}
	}
}

func (r *replayer) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

// TestListenerKill terminates the listener's backend connection (three
// times) while revocations are being written, some of them while no
// connection listens: after the reconnect and the wake-up it sends, the
// consumer, which reads the log only when woken, has every entry.
func TestListenerKill(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	s := open(t, Options{URL: ts.newSchema(t)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := listen(t, s, ListenOptions{MinBackoff: 200 * time.Millisecond})
	waitFor(t, func() bool { return l.backendPID() != 0 })
	r := &replayer{s: s, seen: make(map[string]bool)}
	done := make(chan struct{})
	go func() { r.run(ctx, l.Revocations()); close(done) }()
	defer func() { cancel(); <-done }()

	const kills, perRound, whileDown = 3, 50, 10
	total, writtenDown := 0, 0
	write := func() {
		if err := s.AddRevocation(ctx, server.Revocation{Kind: server.RevokeJTI, Value: fmt.Sprint("jti-", total), Until: time.Now().Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		total++
	}
	for range kills {
		for range perRound {
			write()
		}
		pid := l.backendPID()
		var ok bool
		if err := ts.admin.QueryRow(ctx, "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&ok); err != nil || !ok {
			t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
		}
		// Written after the kill: the connection is gone (or going), so
		// these notifications are lost; only the backfill finds them.
		waitFor(t, func() bool { return l.Err() != nil })
		for range whileDown {
			write()
			if l.Err() != nil {
				writtenDown++
			}
		}
		waitFor(t, func() bool { p := l.backendPID(); return p != 0 && p != pid })
	}
	for range perRound {
		write()
	}
	waitFor(t, func() bool { return r.count() == total })
	r.mu.Lock()
	replays := r.replays
	r.mu.Unlock()
	t.Logf("%d revocations, %d listener connections terminated, %d written while no connection listened: "+
		"all %d replayed after reconnecting (%d reads of the log)", total, kills, writtenDown, r.count(), replays)
}

func TestListenOptions(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	s := open(t, Options{URL: ts.newSchema(t)})
	for _, o := range []ListenOptions{{MinBackoff: -1}, {MaxBackoff: -1}, {PingEvery: -1}, {MinBackoff: time.Second, MaxBackoff: time.Millisecond}} {
		if l, err := s.Listen(o); err == nil {
			l.Close()
			t.Errorf("Listen(%+v) accepted", o)
		}
	}
}

// TestListenerReportsDown: a listener that cannot connect says so, and
// keeps trying.
func TestListenerReportsDown(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	s := open(t, Options{URL: ts.newSchema(t)})
	// Point its connections at a port nothing listens on.
	bad := *s
	bad.connCfg = s.connCfg.Copy()
	bad.connCfg.Port = 1
	l := listen(t, &bad, ListenOptions{MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})
	if err := l.Err(); err == nil {
		t.Fatal("Err = nil before any connection")
	}
	if pending(l.Revocations()) || pending(l.Keys()) {
		t.Fatal("a wake-up without a connection")
	}
}

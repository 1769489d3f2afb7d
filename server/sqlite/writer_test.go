package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
)

// Tests of group commit (writer.go). Several of them make a batch form
// deterministically: holdWriter takes the writer's only connection, so the
// writer goroutine blocks on its first op and the ops sent next stay queued
// in s.ops, where the test counts them; on release the writer finishes the
// first op alone and then runs the queued ones as one batch.

// holdWriter takes the writer pool's only connection and returns the
// function that gives it back.
func holdWriter(t *testing.T, s *Store) (release func()) {
	t.Helper()
	c, err := s.writer.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { c.Close() }) }
	t.Cleanup(release)
	return release
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// writerBlocked waits until the writer goroutine waits for the connection
// that holdWriter took, that is, it has picked up an op and is running it.
func writerBlocked(t *testing.T, s *Store, waitsBefore int64) {
	t.Helper()
	waitFor(t, "the writer to wait for its connection", func() bool {
		return s.writer.Stats().WaitCount > waitsBefore
	})
}

// async runs f in a goroutine and returns a channel with its error.
func async(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

// result waits for the error of an async call.
func result(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("a write did not return")
		return nil
	}
}

// stored reports whether the item with id exists, read through the reader
// pool.
func stored(t *testing.T, s *Store, id string) bool {
	t.Helper()
	_, err := s.GetItem(context.Background(), server.Access{All: true}, id)
	switch {
	case err == nil:
		return true
	case errors.Is(err, server.ErrNotFound):
		return false
	}
	t.Fatalf("GetItem(%s): %v", id, err)
	return false
}

// startBatch holds the writer, sends first and waits until the writer is
// blocked running it, then starts every call of next and waits until all of
// them are queued behind it. The returned function releases the writer.
// first's and next's results arrive on the returned channels.
func startBatch(t *testing.T, s *Store, first func() error, next ...func() error) (release func(), firstErr <-chan error, nextErrs []<-chan error) {
	t.Helper()
	release = holdWriter(t, s)
	waits := s.writer.Stats().WaitCount
	firstErr = async(first)
	writerBlocked(t, s, waits)
	for _, f := range next {
		nextErrs = append(nextErrs, async(f))
	}
	waitFor(t, fmt.Sprintf("%d queued writes", len(next)), func() bool { return len(s.ops) == len(next) })
	return release, firstErr, nextErrs
}

func TestGroupCommitBatchIsolation(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	acc := server.Access{UserID: "owner"}

	existing := testItem(t, "owner")
	if err := s.CreateItem(ctx, existing); err != nil {
		t.Fatal(err)
	}
	toDelete := testItem(t, "owner")
	if err := s.CreateItem(ctx, toDelete); err != nil {
		t.Fatal(err)
	}
	var good []server.Item
	for range 5 {
		good = append(good, testItem(t, "owner"))
	}
	dupOfExisting := testItem(t, "owner")
	dupOfExisting.ID = existing.ID
	dupOfExisting.Name = "must not replace the existing item"
	dupInBatch := testItem(t, "owner")
	dupInBatch.ID = good[0].ID
	dupInBatch.Name = "must not replace good[0]"
	update := good[1]
	update.Name = "updated in the same batch"
	missing := testItem(t, "owner")

	var updated server.Item
	calls := []struct {
		name    string
		call    func() error
		wantErr error
	}{
		{"create good[0]", func() error { return s.CreateItem(ctx, good[0]) }, nil},
		{"create good[1]", func() error { return s.CreateItem(ctx, good[1]) }, nil},
		{"create dup of stored item", func() error { return s.CreateItem(ctx, dupOfExisting) }, server.ErrConflict},
		{"create good[2]", func() error { return s.CreateItem(ctx, good[2]) }, nil},
		{"create dup of good[0], same batch", func() error { return s.CreateItem(ctx, dupInBatch) }, server.ErrConflict},
		{"update missing", func() error { _, err := s.UpdateItem(ctx, acc, missing); return err }, server.ErrNotFound},
		{"create good[3]", func() error { return s.CreateItem(ctx, good[3]) }, nil},
		{"update good[1], same batch", func() error {
			var err error
			updated, err = s.UpdateItem(ctx, acc, update)
			return err
		}, nil},
		{"delete missing", func() error { return s.DeleteItem(ctx, acc, missing.ID) }, server.ErrNotFound},
		{"delete stored item", func() error { return s.DeleteItem(ctx, acc, toDelete.ID) }, nil},
		{"create good[4]", func() error { return s.CreateItem(ctx, good[4]) }, nil},
	}

	// The calls must run in this order (the update after good[1]'s create,
	// the duplicate after good[0]'s), so they queue one at a time; they
	// still form one batch, behind a first write the held writer is
	// running.
	release := holdWriter(t, s)
	waits := s.writer.Stats().WaitCount
	first := testItem(t, "owner")
	firstErr := async(func() error { return s.CreateItem(ctx, first) })
	writerBlocked(t, s, waits)
	errs := make([]<-chan error, len(calls))
	for i, c := range calls {
		errs[i] = async(c.call)
		waitFor(t, c.name+" to queue", func() bool { return len(s.ops) == i+1 })
	}
	release()

	if err := result(t, firstErr); err != nil {
		t.Fatalf("first write: %v", err)
	}
	for i, c := range calls {
		err := result(t, errs[i])
		if c.wantErr == nil && err != nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
			t.Errorf("%s = %v, want %v", c.name, err, c.wantErr)
		}
	}
	for i, it := range good {
		got, err := s.GetItem(ctx, acc, it.ID)
		if err != nil {
			t.Errorf("good[%d] not stored: %v", i, err)
			continue
		}
		want := it
		if i == 1 {
			want.Name = update.Name
		}
		if got.Name != want.Name {
			t.Errorf("good[%d] has name %q, want %q", i, got.Name, want.Name)
		}
	}
	if updated.Name != update.Name || updated.ID != good[1].ID {
		t.Errorf("UpdateItem in the batch returned %+v", updated)
	}
	if got, err := s.GetItem(ctx, acc, existing.ID); err != nil || got.Name != existing.Name {
		t.Errorf("existing item after the duplicate = %+v, %v; want it unchanged", got, err)
	}
	if stored(t, s, toDelete.ID) {
		t.Error("deleted item still stored")
	}
	if stored(t, s, missing.ID) {
		t.Error("the update of a missing item created it")
	}
}

func TestGroupCommitManyWritersDurableAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const (
		writers   = 64
		perWriter = 40
	)
	ctx := context.Background()
	var wg sync.WaitGroup
	ids := make([][]string, writers)
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			owner := fmt.Sprintf("writer-%d", w)
			acc := server.Access{UserID: owner}
			for i := range perWriter {
				it := testItem(t, owner)
				if err := s.CreateItem(ctx, it); err != nil {
					errs <- fmt.Errorf("writer %d create %d: %w", w, i, err)
					return
				}
				ids[w] = append(ids[w], it.ID)
				switch i % 10 {
				case 3: // an update in the mix
					it.Name = "updated"
					if _, err := s.UpdateItem(ctx, acc, it); err != nil {
						errs <- fmt.Errorf("writer %d update %d: %w", w, i, err)
						return
					}
				case 7: // a delete and a create of the same id again
					if err := s.DeleteItem(ctx, acc, it.ID); err != nil {
						errs <- fmt.Errorf("writer %d delete %d: %w", w, i, err)
						return
					}
					if err := s.CreateItem(ctx, it); err != nil {
						errs <- fmt.Errorf("writer %d re-create %d: %w", w, i, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path, Options{})
	var n int
	if err := s.reader.QueryRow("SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != writers*perWriter {
		t.Errorf("after reopen the store holds %d items, want %d", n, writers*perWriter)
	}
	for w := range writers {
		acc := server.Access{UserID: fmt.Sprintf("writer-%d", w)}
		for i, id := range ids[w] {
			got, err := s.GetItem(ctx, acc, id)
			if err != nil {
				t.Fatalf("writer %d item %d after reopen: %v", w, i, err)
			}
			if want := i%10 == 3; (got.Name == "updated") != want {
				t.Errorf("writer %d item %d has name %q", w, i, got.Name)
			}
		}
	}
}

func TestGroupCommitWriteAfterClose(t *testing.T) {
	s := openTemp(t, Options{})
	it := testItem(t, "owner")
	if err := s.CreateItem(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	acc := server.Access{UserID: "owner"}
	for name, call := range map[string]func() error{
		"CreateItem": func() error { return s.CreateItem(ctx, testItem(t, "owner")) },
		"UpdateItem": func() error { _, err := s.UpdateItem(ctx, acc, it); return err },
		"DeleteItem": func() error { return s.DeleteItem(ctx, acc, it.ID) },
	} {
		err := result(t, async(call))
		if !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "store is closed") {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
}

func TestGroupCommitCancelledBeforePickup(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	first, queued := testItem(t, "owner"), testItem(t, "owner")
	ctx, cancel := context.WithCancel(context.Background())
	release, firstErr, queuedErrs := startBatch(t, s,
		func() error { return s.CreateItem(context.Background(), first) },
		func() error { return s.CreateItem(ctx, queued) })

	// The caller stops waiting as soon as its context ends, although the
	// writer is still busy.
	cancel()
	if err := result(t, queuedErrs[0]); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "sqlite: create item") {
		t.Errorf("queued write after cancel = %v, want a wrapped context.Canceled", err)
	}
	release()
	if err := result(t, firstErr); err != nil {
		t.Fatal(err)
	}
	// The writer picked the op up after its context ended: it skipped it.
	// A write that follows is served after that pickup.
	if err := s.CreateItem(context.Background(), testItem(t, "owner")); err != nil {
		t.Fatal(err)
	}
	if stored(t, s, queued.ID) {
		t.Error("a write whose context ended before the writer picked it up was stored")
	}
	if !stored(t, s, first.ID) {
		t.Error("first write not stored")
	}
}

// A write cancelled after the writer picked it up may still commit; its
// caller gets the context's error anyway (as documented on Store.write).
func TestGroupCommitCancelledAfterPickupMayCommit(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	release := holdWriter(t, s)
	waits := s.writer.Stats().WaitCount
	ctx, cancel := context.WithCancel(context.Background())
	it := testItem(t, "owner")
	errCh := async(func() error { return s.CreateItem(ctx, it) })
	writerBlocked(t, s, waits) // picked up, now running
	cancel()
	if err := result(t, errCh); !errors.Is(err, context.Canceled) {
		t.Errorf("write cancelled while running = %v, want context.Canceled", err)
	}
	release()
	// The next write runs after the cancelled one finished.
	if err := s.CreateItem(context.Background(), testItem(t, "owner")); err != nil {
		t.Fatal(err)
	}
	if !stored(t, s, it.ID) {
		t.Error("the write picked up before its cancellation was not committed; expected it to run to the end")
	}
}

func TestGroupCommitCloseWhileWriting(t *testing.T) {
	before := runtime.NumGoroutine()
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		id  string
		err error
	}
	const writers = 32
	var (
		wg       sync.WaitGroup
		acked    atomic.Int64
		outcomes = make([][]outcome, writers)
	)
	for w := range writers {
		wg.Go(func() {
			for {
				it := testItem(t, "owner")
				err := s.CreateItem(context.Background(), it)
				outcomes[w] = append(outcomes[w], outcome{it.ID, err})
				if err != nil {
					return
				}
				acked.Add(1)
			}
		})
	}
	waitFor(t, "writes to be acknowledged", func() bool { return acked.Load() >= 500 })

	closed := async(s.Close)
	if err := result(t, closed); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-s.writerDone:
	default:
		t.Error("Close returned before the writer goroutine exited")
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()
	select {
	case <-writersDone:
	case <-time.After(10 * time.Second):
		t.Fatal("writers still blocked after Close")
	}

	s = openAt(t, path, Options{})
	var ok, refused int
	for w, outs := range outcomes {
		for _, o := range outs {
			switch {
			case o.err == nil:
				ok++
				if !stored(t, s, o.id) {
					t.Errorf("writer %d: acknowledged write %s lost", w, o.id)
				}
			case errors.Is(o.err, ErrClosed):
				refused++
				if stored(t, s, o.id) {
					t.Errorf("writer %d: write %s refused with %v but stored", w, o.id, o.err)
				}
			default:
				t.Errorf("writer %d: write %s failed with %v, want success or ErrClosed", w, o.id, o.err)
			}
		}
	}
	if refused != writers {
		t.Errorf("%d writes refused, want one per writer (%d)", refused, writers)
	}
	t.Logf("%d writes acknowledged and stored, %d refused after Close", ok, refused)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// No goroutine of either store is left (database/sql's end shortly
	// after Close).
	waitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before })
}

// A panic while running a write fails its batch and nothing else: the
// writer goroutine (and the process) survive, the batch is rolled back.
func TestGroupCommitPanicFailsOnlyItsBatch(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	first, a, b := testItem(t, "owner"), testItem(t, "owner"), testItem(t, "owner")
	release, firstErr, errs := startBatch(t, s,
		func() error { return s.CreateItem(ctx, first) },
		func() error { return s.CreateItem(ctx, a) },
		func() error {
			return s.write(ctx, "explode", func(context.Context, func(*sql.Stmt) *sql.Stmt) error { panic("boom") })
		},
		func() error { return s.CreateItem(ctx, b) })
	release()
	if err := result(t, firstErr); err != nil {
		t.Fatal(err)
	}
	for i, ch := range errs {
		if err := result(t, ch); err == nil || !strings.Contains(err.Error(), "panic in the writer: boom") {
			t.Errorf("op %d of the panicking batch = %v, want the panic as its error", i, err)
		}
	}
	if stored(t, s, a.ID) || stored(t, s, b.ID) {
		t.Error("a write of the rolled-back batch was stored")
	}
	after := testItem(t, "owner")
	if err := s.CreateItem(ctx, after); err != nil {
		t.Fatalf("write after the panic: %v", err)
	}
	if !stored(t, s, first.ID) || !stored(t, s, after.ID) {
		t.Error("writes outside the panicking batch were not stored")
	}
}

// MaxBatch caps a batch: with 2, of the ops a, panicking and c queued in
// that order, a and the panic share a transaction and c runs after it.
func TestGroupCommitMaxBatch(t *testing.T) {
	s := openTemp(t, Options{MaxBatch: 2})
	defer s.Close()
	if cap(s.ops) != 2 {
		t.Fatalf("queue capacity %d, want 2", cap(s.ops))
	}
	ctx := context.Background()
	first, a, c := testItem(t, "owner"), testItem(t, "owner"), testItem(t, "owner")
	release, firstErr, errs := startBatch(t, s,
		func() error { return s.CreateItem(ctx, first) },
		func() error { return s.CreateItem(ctx, a) },
		func() error {
			return s.write(ctx, "explode", func(context.Context, func(*sql.Stmt) *sql.Stmt) error { panic("boom") })
		})
	// The queue is full: c waits in its send, behind a and the panic.
	cErr := async(func() error { return s.CreateItem(ctx, c) })
	time.Sleep(50 * time.Millisecond) // let c reach its send
	release()
	if err := result(t, firstErr); err != nil {
		t.Fatal(err)
	}
	for i, ch := range errs {
		if err := result(t, ch); err == nil {
			t.Errorf("op %d of the panicking batch succeeded", i)
		}
	}
	if err := result(t, cErr); err != nil {
		t.Errorf("write after a full batch = %v, want it in the next batch", err)
	}
	if stored(t, s, a.ID) || !stored(t, s, c.ID) {
		t.Errorf("stored a=%v c=%v, want only c", stored(t, s, a.ID), stored(t, s, c.ID))
	}
}

// When COMMIT fails, every op of the batch gets the error, even one that
// had its own (a conflict may have been caused by an op now rolled back),
// nothing of the batch is stored, and the writer goes on.
func TestGroupCommitCommitFailureFailsEveryOp(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	// A deferred foreign key is checked only at COMMIT: an op that breaks
	// it runs fine and makes the batch's COMMIT fail.
	for _, q := range []string{
		"CREATE TABLE parent (id INTEGER PRIMARY KEY)",
		"CREATE TABLE child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED)",
	} {
		if _, err := s.writer.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	orphan, err := s.writer.Prepare("INSERT INTO child (p) VALUES (42)")
	if err != nil {
		t.Fatal(err)
	}
	defer orphan.Close()
	existing := testItem(t, "owner")
	if err := s.CreateItem(ctx, existing); err != nil {
		t.Fatal(err)
	}
	dup := testItem(t, "owner")
	dup.ID = existing.ID
	first, a, b := testItem(t, "owner"), testItem(t, "owner"), testItem(t, "owner")

	release, firstErr, errs := startBatch(t, s,
		func() error { return s.CreateItem(ctx, first) },
		func() error { return s.CreateItem(ctx, a) },
		func() error { return s.CreateItem(ctx, dup) },
		func() error {
			return s.write(ctx, "insert orphan", func(runCtx context.Context, stmt func(*sql.Stmt) *sql.Stmt) error {
				_, err := stmt(orphan).ExecContext(runCtx)
				return err
			})
		},
		func() error { return s.CreateItem(ctx, b) })
	release()
	if err := result(t, firstErr); err != nil {
		t.Fatal(err)
	}
	for i, ch := range errs {
		err := result(t, ch)
		if err == nil || !strings.Contains(err.Error(), "commit: ") || !strings.Contains(err.Error(), "FOREIGN KEY") {
			t.Errorf("op %d = %v, want the COMMIT's error", i, err)
		}
		if errors.Is(err, server.ErrConflict) {
			t.Errorf("op %d = %v: a conflict within a failed transaction is not reported as such", i, err)
		}
	}
	if stored(t, s, a.ID) || stored(t, s, b.ID) {
		t.Error("a write of the failed transaction was stored")
	}
	// The connection is not left inside the failed transaction.
	after := testItem(t, "owner")
	if err := s.CreateItem(ctx, after); err != nil {
		t.Fatalf("write after the failed commit: %v", err)
	}
	if !stored(t, s, first.ID) || !stored(t, s, after.ID) {
		t.Error("writes outside the failed batch were not stored")
	}
}

// crashChildEnv names the database a child process of
// TestGroupCommitSIGKILLKeepsAcknowledgedWrites writes to.
const crashChildEnv = "FORTAPI_SQLITE_CRASH_CHILD_DB"

// The process is killed (SIGKILL) while many writers are being group
// committed; every write it acknowledged must be in the database.
func TestGroupCommitSIGKILLKeepsAcknowledgedWrites(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path) // never returns
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	path := filepath.Join(t.TempDir(), "db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestGroupCommitSIGKILLKeepsAcknowledgedWrites$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	}()

	// Each line is the id of an acknowledged write, printed after
	// CreateItem returned nil; lines already in the pipe outlive the kill.
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if id := sc.Text(); server.ValidID(id) {
			acked = append(acked, id)
		}
		if len(acked) == 3000 && !killed {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	if !killed {
		t.Fatalf("child exited after %d acknowledged writes: %v", len(acked), cmd.Wait())
	}
	cmd.Wait() // "signal: killed"

	s := openAt(t, path, Options{})
	for _, id := range acked {
		if !stored(t, s, id) {
			t.Errorf("acknowledged write %s lost in the crash", id)
		}
	}
	var n int
	if err := s.reader.QueryRow("SELECT count(*) FROM items").Scan(&n); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes acknowledged before SIGKILL, %d stored", len(acked), n)
}

// crashChild writes items from 32 goroutines until it is killed, printing
// the id of each acknowledged one.
func crashChild(path string) {
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	for w := range 32 {
		go func() {
			owner := fmt.Sprintf("w%d", w)
			for {
				id, err := server.NewID(time.Now(), nil)
				if err != nil {
					panic(err)
				}
				now := time.Now().UTC().Truncate(time.Microsecond)
				if err := s.CreateItem(context.Background(), server.Item{ID: id, OwnerID: owner, Name: "n", Price: 1, CreatedAt: now, UpdatedAt: now}); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintln(os.Stdout, id) // one write(2) per line
				mu.Unlock()
			}
		}()
	}
	select {}
}

// A write that finds the writer idle runs on its caller's goroutine (no
// hand-over to the writer goroutine); one that finds the writer connection
// in use queues for the writer goroutine instead, so that its caller can
// still give up when its context ends.
func TestGroupCommitIdleWriteRunsOnCaller(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	// The closures below are named after this test wherever they run:
	// the writer goroutine is told apart by its own frame.
	onCaller := func() bool {
		buf := make([]byte, 64<<10)
		stack := string(buf[:runtime.Stack(buf, false)])
		return strings.Contains(stack, "(*Store).submit") && !strings.Contains(stack, "(*Store).writeLoop")
	}
	for _, tc := range []struct {
		name string
		tx   bool
	}{{"one statement", false}, {"transaction", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var ran, caller bool
			var err error
			if tc.tx {
				err = s.writeTx(ctx, "probe", func(context.Context, *sql.Tx) error {
					ran, caller = true, onCaller()
					return nil
				})
			} else {
				err = s.write(ctx, "probe", func(context.Context, func(*sql.Stmt) *sql.Stmt) error {
					ran, caller = true, onCaller()
					return nil
				})
			}
			if err != nil || !ran {
				t.Fatalf("write = %v, ran %v", err, ran)
			}
			if !caller {
				t.Error("a write with the writer idle did not run on its caller's goroutine")
			}
		})
	}
	t.Run("connection held", func(t *testing.T) {
		// The probe runs no statement: it does not wait for the held
		// connection, only shows where it runs.
		holdWriter(t, s)
		var caller bool
		if err := s.write(ctx, "probe", func(context.Context, func(*sql.Stmt) *sql.Stmt) error {
			caller = onCaller()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if caller {
			t.Error("a write that found the connection in use ran on its caller's goroutine")
		}
	})
}

// The commit hooks (server.ItemCommitHooks) run after their write
// committed, one at a time, in commit order, and only for writes that
// succeeded, whether the write ran alone or in a batch. The hooks below
// append to a slice without a lock: the race detector checks that they
// never run concurrently.
func TestItemCommitHooks(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	acc := server.Access{UserID: "owner"}
	var log []string // written only by hooks

	t.Run("committed before the hook, none on failure", func(t *testing.T) {
		it := testItem(t, "owner")
		var seen bool
		if err := s.CreateItemThen(ctx, it, func() { seen = stored(t, s, it.ID); log = append(log, "create") }); err != nil {
			t.Fatal(err)
		}
		if !seen {
			t.Error("the hook ran before the item was readable")
		}
		if err := s.CreateItemThen(ctx, it, func() { log = append(log, "dup") }); !errors.Is(err, server.ErrConflict) {
			t.Fatalf("duplicate = %v", err)
		}
		if err := s.DeleteItemThen(ctx, acc, testItem(t, "owner").ID, func() { log = append(log, "missing") }); !errors.Is(err, server.ErrNotFound) {
			t.Fatalf("delete missing = %v", err)
		}
		if _, err := s.UpdateItemThen(ctx, acc, testItem(t, "owner"), func(server.Item) { log = append(log, "missing") }); !errors.Is(err, server.ErrNotFound) {
			t.Fatalf("update missing = %v", err)
		}
		if err := s.DeleteItemThen(ctx, acc, it.ID, func() { seen = stored(t, s, it.ID); log = append(log, "delete") }); err != nil {
			t.Fatal(err)
		}
		if seen {
			t.Error("the hook of a deletion ran before the deletion was visible")
		}
		if got := strings.Join(log, ","); got != "create,delete" {
			t.Errorf("hooks ran for %s, want create,delete", got)
		}
	})

	t.Run("commit order under concurrency", func(t *testing.T) {
		it := testItem(t, "owner")
		if err := s.CreateItem(ctx, it); err != nil {
			t.Fatal(err)
		}
		// Concurrent updates of one item, many of them batched: the last
		// hook to run must report the state that is stored in the end.
		var last string
		var wg sync.WaitGroup
		for i := range 64 {
			wg.Go(func() {
				up := it
				up.Name = fmt.Sprintf("name %d", i)
				if _, err := s.UpdateItemThen(ctx, acc, up, func(got server.Item) { last = got.Name; log = append(log, got.Name) }); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		got, err := s.GetItem(ctx, acc, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != last {
			t.Errorf("stored name %q, last hook saw %q: hooks out of commit order", got.Name, last)
		}
		if n := len(log); n != 2+64 {
			t.Errorf("%d hooks ran, want %d", n, 2+64)
		}
	})
}

// A hook that panics loses its own work only: the write it follows stays
// committed and acknowledged, and the store goes on writing.
func TestItemCommitHookPanic(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	it := testItem(t, "owner")
	if err := s.CreateItemThen(ctx, it, func() { panic("hook bug") }); err != nil {
		t.Fatalf("write with a panicking hook = %v, want nil (it committed)", err)
	}
	if !stored(t, s, it.ID) {
		t.Fatal("the write of a panicking hook was not stored")
	}
	after := testItem(t, "owner")
	if err := s.CreateItem(ctx, after); err != nil {
		t.Fatalf("write after a panicking hook: %v", err)
	}
}

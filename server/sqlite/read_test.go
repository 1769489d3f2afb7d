package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/libc"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fortapi/fortapi/server"
)

// TestGetItemRoundTrip reads back items whose values take every branch of
// itemConn.item and itemConn.bind: no tax, empty and long texts, ids longer
// than the first argument buffer, through both statements.
func TestGetItemRoundTrip(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	zero := 0.0
	long := strings.Repeat("é", 700) // 1,400 bytes: past itemBufMin
	for _, tc := range []struct {
		name string
		edit func(*server.Item)
	}{
		{"plain", func(*server.Item) {}},
		{"no tax", func(it *server.Item) { it.Tax = nil }},
		{"zero tax", func(it *server.Item) { it.Tax = &zero }},
		{"empty description", func(it *server.Item) { it.Description = "" }},
		{"unicode and NUL", func(it *server.Item) { it.Name, it.Description = "na\x00me 世界", "d\x00" }},
		{"long texts", func(it *server.Item) { it.Name, it.Description = long, long+"x" }},
		{"long id and owner", func(it *server.Item) { it.ID, it.OwnerID = it.ID+long, "owner"+long }},
		{"negative and old", func(it *server.Item) {
			it.Price = -3.25
			it.CreatedAt = time.Date(1901, 2, 3, 4, 5, 6, 7000, time.UTC)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := testItem(t, "owner")
			tc.edit(&want)
			if err := s.CreateItem(ctx, want); err != nil {
				t.Fatal(err)
			}
			for _, acc := range []server.Access{{UserID: want.OwnerID}, {All: true}, {UserID: "other", All: true}} {
				got, err := s.GetItem(ctx, acc, want.ID)
				if err != nil {
					t.Fatalf("GetItem(%+v): %v", acc, err)
				}
				if !sameItem(got, want) {
					t.Errorf("GetItem(%+v) = %+v, want %+v", acc, got, want)
				}
			}
			for _, acc := range []server.Access{{UserID: "other"}, {UserID: want.OwnerID + "x"}, {UserID: want.OwnerID[:len(want.OwnerID)-1]}} {
				if _, err := s.GetItem(ctx, acc, want.ID); !errors.Is(err, server.ErrNotFound) {
					t.Errorf("GetItem(%+v) = %v, want ErrNotFound", acc, err)
				}
			}
		})
	}
}

// sameItem compares two items, Tax by value.
func sameItem(a, b server.Item) bool {
	if (a.Tax == nil) != (b.Tax == nil) || a.Tax != nil && *a.Tax != *b.Tax {
		return false
	}
	a.Tax, b.Tax = nil, nil
	return a.ID == b.ID && a.OwnerID == b.OwnerID && a.Name == b.Name && a.Description == b.Description &&
		a.Price == b.Price && a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) &&
		a.CreatedAt.Location() == time.UTC && a.UpdatedAt.Location() == time.UTC
}

func TestGetItemKeyTooLong(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	huge := strings.Repeat("x", maxItemKey+1)
	for _, acc := range []server.Access{{All: true}, {UserID: "owner"}, {UserID: huge}} {
		if _, err := s.GetItem(context.Background(), acc, huge); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("GetItem(%d-byte key) = %v, want ErrNotFound", len(huge), err)
		}
	}
}

// TestItemReadersCannotWrite: the item connections are opened read-only and
// query_only.
func TestItemReadersCannotWrite(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	it := testItem(t, "owner")
	if err := s.CreateItem(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	c, err := s.items.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		"DELETE FROM items",
		"INSERT INTO items (id, owner_id, name, price, created_at, updated_at) VALUES ('x', 'o', 'n', 1, 0, 0)",
		"CREATE TABLE evil (x)",
		"PRAGMA query_only = 0; DELETE FROM items", // prepare takes the first statement only
	} {
		if err := c.exec(stmt); err == nil && !strings.HasPrefix(stmt, "PRAGMA") {
			t.Errorf("item reader executed %q", stmt)
		}
	}
	// With query_only lifted, SQLITE_OPEN_READONLY still refuses.
	if err := c.exec("PRAGMA query_only = 0"); err != nil {
		t.Fatal(err)
	}
	if err := c.exec("DELETE FROM items"); err == nil || !strings.Contains(err.Error(), "(8)") { // SQLITE_READONLY
		t.Errorf("DELETE on an item reader without query_only = %v, want SQLITE_READONLY (8)", err)
	}
	s.items.free <- c
	if _, err := s.GetItem(context.Background(), server.Access{All: true}, it.ID); err != nil {
		t.Errorf("item gone after the reader's attempts: %v", err)
	}
}

// TestGetItemConcurrent reads items from many goroutines while they are
// updated, created and deleted; run under -race it also checks that the
// connections are handed over properly. Every read sees a committed
// version: a name and description written together.
func TestGetItemConcurrent(t *testing.T) {
	s := openTemp(t, Options{ReadConns: 2})
	defer s.Close()
	ctx := context.Background()
	const nItems, readers, rounds = 8, 8, 200
	items := make([]server.Item, nItems)
	for i := range items {
		items[i] = testItem(t, fmt.Sprintf("owner-%d", i%2))
		items[i].Name, items[i].Description = "v0", "d-v0"
		if err := s.CreateItem(ctx, items[i]); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	writerDone := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(writerDone)
		for r := 1; r <= rounds; r++ {
			it := items[r%nItems]
			it.Name, it.Description = fmt.Sprintf("v%d", r), fmt.Sprintf("d-v%d", r)
			if _, err := s.UpdateItem(ctx, server.Access{All: true}, it); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	errs := make(chan error, readers)
	for g := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				want := items[i%nItems]
				acc := server.Access{UserID: want.OwnerID}
				switch g % 3 {
				case 1:
					acc = server.Access{All: true}
				case 2: // the other owner: never visible
					acc = server.Access{UserID: items[(i+1)%nItems].OwnerID}
				}
				got, err := s.GetItem(ctx, acc, want.ID)
				switch {
				case g%3 == 2:
					if !errors.Is(err, server.ErrNotFound) {
						errs <- fmt.Errorf("GetItem(%+v, another owner's item) = %+v, %v; want ErrNotFound", acc, got, err)
						return
					}
				case err != nil:
					errs <- fmt.Errorf("GetItem(%+v): %w", acc, err)
					return
				case got.ID != want.ID || got.OwnerID != want.OwnerID || "d-"+got.Name != got.Description:
					errs <- fmt.Errorf("GetItem(%+v) = %+v: not a committed version of %s", acc, got, want.ID)
					return
				}
				select {
				case <-writerDone:
					return
				default:
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Every update is visible once acknowledged: no stale read.
	for i, it := range items {
		got, err := s.GetItem(ctx, server.Access{All: true}, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		last := rounds - (rounds-i)%nItems
		if i == 0 {
			last = rounds - rounds%nItems
		}
		if want := fmt.Sprintf("v%d", last); last > 0 && got.Name != want {
			t.Errorf("item %d: name %q after the writes, want %q", i, got.Name, want)
		}
	}
}

// TestGetItemCloseWhileReading closes the store while goroutines read: each
// read either succeeds or fails with ErrClosed, and Close returns once they
// have let go of the connections.
func TestGetItemCloseWhileReading(t *testing.T) {
	s := openTemp(t, Options{ReadConns: 2})
	it := testItem(t, "owner")
	ctx := context.Background()
	if err := s.CreateItem(ctx, it); err != nil {
		t.Fatal(err)
	}
	const readers = 8
	var wg sync.WaitGroup
	started := make(chan struct{}, readers)
	errs := make(chan error, readers)
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				_, err := s.GetItem(ctx, server.Access{UserID: "owner"}, it.ID)
				if i == 0 {
					started <- struct{}{}
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for range readers {
		<-started
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("GetItem during Close = %v, want ErrClosed", err)
		}
	}
	if _, err := s.GetItem(ctx, server.Access{UserID: "owner"}, it.ID); !errors.Is(err, ErrClosed) {
		t.Errorf("GetItem after Close = %v, want ErrClosed", err)
	}
}

// TestGetItemWaitsForConnection: with every connection taken, GetItem waits,
// and the wait ends with the caller's context or with Close.
func TestGetItemWaitsForConnection(t *testing.T) {
	s := openTemp(t, Options{ReadConns: 1})
	it := testItem(t, "owner")
	if err := s.CreateItem(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	held, err := s.items.acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		res := make(chan error, 1)
		go func() {
			_, err := s.GetItem(ctx, server.Access{All: true}, it.ID)
			res <- err
		}()
		cancel()
		if err := <-res; !errors.Is(err, context.Canceled) {
			t.Errorf("GetItem with its context cancelled while waiting = %v, want context.Canceled", err)
		}
	})

	t.Run("close", func(t *testing.T) {
		res := make(chan error, 1)
		go func() {
			_, err := s.GetItem(context.Background(), server.Access{All: true}, it.ID)
			res <- err
		}()
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		// The only connection is held: the read cannot have one, so it
		// ends with ErrClosed, and Close waits for the connection.
		if err := <-res; !errors.Is(err, ErrClosed) {
			t.Errorf("GetItem waiting while Close runs = %v, want ErrClosed", err)
		}
		s.items.free <- held
		if err := <-closed; err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// isItemBusy reports whether err is SQLITE_BUSY from an item reader.
func isItemBusy(err error) bool {
	var se sqliteError
	return errors.As(err, &se) && se.rc&0xff == sqlite3.SQLITE_BUSY
}

// TestGetItemSeesOtherStoresWrites: two stores on one file, as the server
// and the fortapi CLI: a write acknowledged by one is read by the other at
// once, and a deletion too (no cache beyond SQLite's own, which WAL keeps
// coherent).
func TestGetItemSeesOtherStoresWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fortapi.db")
	server1 := openAt(t, path, Options{})
	cli := openAt(t, path, Options{})
	ctx := context.Background()
	it := testItem(t, "owner")
	all := server.Access{All: true}
	// Warm server1's connections and page caches on the item's page first.
	if _, err := server1.GetItem(ctx, all, it.ID); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("GetItem before the write = %v, want ErrNotFound", err)
	}
	if err := cli.CreateItem(ctx, it); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		it.Name = fmt.Sprintf("round %d", round)
		if _, err := cli.UpdateItem(ctx, all, it); err != nil {
			t.Fatal(err)
		}
		for range DefaultReadConns + 1 { // every connection of the pool
			got, err := server1.GetItem(ctx, all, it.ID)
			if err != nil || got.Name != it.Name {
				t.Fatalf("GetItem after the other store's update = %q, %v; want %q", got.Name, err, it.Name)
			}
		}
	}
	if err := cli.DeleteItem(ctx, all, it.ID); err != nil {
		t.Fatal(err)
	}
	for range DefaultReadConns + 1 {
		if _, err := server1.GetItem(ctx, all, it.ID); !errors.Is(err, server.ErrNotFound) {
			t.Fatalf("GetItem after the other store's delete = %v, want ErrNotFound", err)
		}
	}
}

// busyStep replaces the item readers' sqlite3_step: the first busy calls
// (all when busy < 0) report SQLITE_BUSY, as when another process holds a
// lock the read needs, and signal on called; later ones run the statement.
func busyStep(s *Store, busy int, called chan<- struct{}) *atomic.Int64 {
	var n atomic.Int64
	s.items.step = func(tls *libc.TLS, st uintptr) int32 {
		i := n.Add(1)
		if called != nil {
			select {
			case called <- struct{}{}:
			default:
			}
		}
		if busy < 0 || i <= int64(busy) {
			return sqlite3.SQLITE_BUSY
		}
		return sqlite3.Xsqlite3_step(tls, st)
	}
	return &n
}

// TestGetItemBusy: a read that finds the database locked by another
// process waits and tries again, up to the busy timeout, then reports
// SQLITE_BUSY; its context or Close ends the wait sooner.
func TestGetItemBusy(t *testing.T) {
	ctx := context.Background()
	all := server.Access{All: true}
	setup := func(t *testing.T, busy time.Duration) (*Store, server.Item) {
		s := openTemp(t, Options{BusyTimeout: busy})
		t.Cleanup(func() { s.Close() })
		it := testItem(t, "owner")
		if err := s.CreateItem(ctx, it); err != nil {
			t.Fatal(err)
		}
		return s, it
	}

	t.Run("lock released", func(t *testing.T) {
		s, it := setup(t, time.Hour)
		n := busyStep(s, 3, nil)
		got, err := s.GetItem(ctx, all, it.ID)
		if err != nil || got.ID != it.ID {
			t.Fatalf("GetItem after 3 SQLITE_BUSY = %+v, %v; want the item", got, err)
		}
		if n.Load() != 4 {
			t.Errorf("%d steps, want 4 (3 busy, then the read)", n.Load())
		}
	})

	t.Run("busy timeout", func(t *testing.T) {
		s, it := setup(t, 20*time.Millisecond)
		n := busyStep(s, -1, nil)
		if _, err := s.GetItem(ctx, all, it.ID); !isItemBusy(err) {
			t.Errorf("GetItem while locked = %v, want SQLITE_BUSY", err)
		}
		if n.Load() < 2 {
			t.Errorf("%d steps: the read did not try again", n.Load())
		}
	})

	t.Run("context", func(t *testing.T) {
		s, it := setup(t, time.Hour)
		called := make(chan struct{}, 1)
		busyStep(s, -1, called)
		cctx, cancel := context.WithCancel(ctx)
		res := make(chan error, 1)
		go func() {
			_, err := s.GetItem(cctx, all, it.ID)
			res <- err
		}()
		<-called // the read is waiting for the lock
		cancel()
		if err := <-res; !errors.Is(err, context.Canceled) {
			t.Errorf("GetItem waiting for the lock, context cancelled = %v, want context.Canceled", err)
		}
	})

	t.Run("close", func(t *testing.T) {
		s, it := setup(t, time.Hour)
		called := make(chan struct{}, 1)
		busyStep(s, -1, called)
		res := make(chan error, 1)
		go func() {
			_, err := s.GetItem(ctx, all, it.ID)
			res <- err
		}()
		<-called
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		if err := <-res; !errors.Is(err, ErrClosed) {
			t.Errorf("GetItem waiting for the lock during Close = %v, want ErrClosed", err)
		}
	})
}

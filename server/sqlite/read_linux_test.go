package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
)

// fOFDSetLK is Linux's F_OFD_SETLK: a lock owned by the open file
// description, which conflicts with the process-owned (POSIX) locks SQLite
// takes even within one process, as another process's lock would.
const fOFDSetLK = 37

// lockDatabase takes a write lock on the lock bytes of the database file at
// path (SQLite's PENDING and SHARED bytes, at 1 GiB), as a process holding
// the database exclusively would, until the returned function runs.
func lockDatabase(t *testing.T, path string) (unlock func()) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0x40000000, Len: 512}
	if err := syscall.FcntlFlock(f.Fd(), fOFDSetLK, &lk); err != nil {
		f.Close()
		t.Skipf("no OFD locks here: %v", err)
	}
	return func() { f.Close() } // closing the description releases its lock
}

// TestGetItemBusy: while another process holds the database locked, GetItem
// waits up to the busy timeout and then reports SQLITE_BUSY; its context
// or Close ends the wait sooner; once the lock is gone, reads work again.
func TestGetItemBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fortapi.db")
	s := openAt(t, path, Options{BusyTimeout: 20 * time.Millisecond})
	long := openAt(t, path, Options{BusyTimeout: time.Hour})
	it := testItem(t, "owner")
	ctx := context.Background()
	if err := s.CreateItem(ctx, it); err != nil {
		t.Fatal(err)
	}
	unlock := lockDatabase(t, path)
	defer unlock()

	if _, err := s.GetItem(ctx, server.Access{All: true}, it.ID); !isItemBusy(err) {
		t.Errorf("GetItem while locked = %v, want SQLITE_BUSY", err)
	}

	// An hour of busy timeout: only the context ends the wait.
	cctx, cancel := context.WithCancel(ctx)
	res := make(chan error, 1)
	go func() {
		_, err := long.GetItem(cctx, server.Access{All: true}, it.ID)
		res <- err
	}()
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Errorf("GetItem waiting for the lock, context cancelled = %v, want context.Canceled", err)
	}
	// ... or Close, before or during the wait.
	go func() {
		_, err := long.GetItem(ctx, server.Access{All: true}, it.ID)
		res <- err
	}()
	if err := long.Close(); err != nil {
		t.Error(err)
	}
	if err := <-res; !errors.Is(err, ErrClosed) {
		t.Errorf("GetItem waiting for the lock during Close = %v, want ErrClosed", err)
	}

	unlock()
	if _, err := s.GetItem(ctx, server.Access{All: true}, it.ID); err != nil {
		t.Errorf("GetItem once the lock is gone: %v", err)
	}
}

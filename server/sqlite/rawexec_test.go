package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
)

// A lone CreateItem runs through the driver statement (rawexec.go), a
// batched one through database/sql: both store the same row and report a
// duplicate id as server.ErrConflict, and no argument of a finished insert
// stays in the reused argument slice.
func TestCreateItemAloneAndBatched(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	variants := func(t *testing.T) []server.Item {
		noTax := testItem(t, "owner")
		noTax.Tax = nil
		later := testItem(t, "owner")
		later.UpdatedAt = later.CreatedAt.Add(time.Second)
		later.Name, later.Description = "ünïcode <b>", ""
		return []server.Item{testItem(t, "owner"), noTax, later}
	}
	check := func(t *testing.T, want server.Item) {
		t.Helper()
		got, err := s.GetItem(ctx, server.Access{All: true}, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("stored %+v, want %+v", got, want)
		}
	}
	t.Run("alone", func(t *testing.T) {
		for _, it := range variants(t) {
			if err := s.CreateItem(ctx, it); err != nil {
				t.Fatal(err)
			}
			if s.insertDriver.stmt == nil {
				t.Fatal("a lone insert did not use the driver statement")
			}
			for i, a := range s.insertDriver.args {
				if a.Value != nil || a.Ordinal != i+1 {
					t.Fatalf("argument %d after the insert: %+v", i, a)
				}
			}
			check(t, it)
			if err := s.CreateItem(ctx, it); !errors.Is(err, server.ErrConflict) {
				t.Fatalf("duplicate = %v, want ErrConflict", err)
			}
		}
	})
	t.Run("batched", func(t *testing.T) {
		items := variants(t)
		dup := items[0]
		first := testItem(t, "owner")
		var next []func() error
		for _, it := range append(items, dup) {
			next = append(next, func() error { return s.CreateItem(ctx, it) })
		}
		release, firstErr, nextErrs := startBatch(t, s, func() error { return s.CreateItem(ctx, first) }, next...)
		release()
		if err := result(t, firstErr); err != nil {
			t.Fatal(err)
		}
		// The queued writes run in any order: of items[0] and its
		// duplicate, exactly one is stored and the other one refused.
		conflicts := 0
		for i, ch := range nextErrs {
			switch err := result(t, ch); {
			case errors.Is(err, server.ErrConflict) && (i == 0 || i == len(items)):
				conflicts++
			case err != nil:
				t.Fatalf("insert %d: %v", i, err)
			}
		}
		if conflicts != 1 {
			t.Fatalf("%d of an item and its duplicate refused, want 1", conflicts)
		}
		for _, it := range append(items, first) {
			check(t, it)
		}
	})
}

// Close finalizes the driver statement before closing the writer: an
// unfinalized statement would leave SQLite's connection open as a zombie,
// and the WAL would not be checkpointed and removed.
func TestCloseFinalizesDriverStatement(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fortapi.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateItem(context.Background(), testItem(t, "owner")); err != nil {
		t.Fatal(err)
	}
	if s.insertDriver.stmt == nil {
		t.Fatal("the insert did not use the driver statement")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s.insertDriver.stmt != nil {
		t.Error("the driver statement was not closed")
	}
	if _, err := os.Stat(path + "-wal"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the WAL is still there after Close (stat: %v): a connection was left open", err)
	}
	s2 := openAt(t, path, Options{})
	if _, err := s2.ListItems(context.Background(), server.Access{All: true}, "", 10); err != nil {
		t.Fatal(err)
	}
}

// A batched insert runs without a savepoint, so an error of it other than
// a constraint violation (here the driver refusing missing arguments; in
// production an I/O error, which may end the transaction) fails the whole
// batch: nothing of it is stored and every write of it gets the error.
func TestBatchedInsertOtherErrorFailsBatch(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	good := testItem(t, "owner")
	broken := func() error {
		op := s.newOp(ctx, "broken insert")
		op.args[0], op.nargs = "only-one-argument", 1
		op.stmt, op.driverStmt, op.stmtErr = s.insertItem, s.insertDriver, createItemErr
		return s.submit(op)
	}
	first := testItem(t, "owner")
	release, firstErr, nextErrs := startBatch(t, s,
		func() error { return s.CreateItem(ctx, first) },
		func() error { return s.CreateItem(ctx, good) }, broken)
	release()
	if err := result(t, firstErr); err != nil {
		t.Fatal(err)
	}
	for i, ch := range nextErrs {
		if err := result(t, ch); err == nil || errors.Is(err, server.ErrConflict) {
			t.Errorf("write %d of the failed batch = %v, want the batch's error", i, err)
		}
	}
	if stored(t, s, good.ID) {
		t.Error("an insert of the failed batch was stored")
	}
	if !stored(t, s, first.ID) {
		t.Error("the write before the batch was lost")
	}
}

// Batched item inserts run without a savepoint (writer.go): that is safe
// only while a constraint violation aborts the insert alone, which an ON
// CONFLICT clause (ROLLBACK, FAIL, REPLACE, IGNORE) or a trigger on the
// items table would change. This fails the migration that adds either.
func TestItemsSchemaKeepsStatementAbort(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	var table string
	if err := s.writer.QueryRow(`SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'items'`).Scan(&table); err != nil {
		t.Fatal(err)
	}
	upper := strings.ToUpper(table)
	for _, clause := range []string{"ON CONFLICT", "OR REPLACE", "OR IGNORE", "OR ROLLBACK", "OR FAIL"} {
		if strings.Contains(upper, clause) {
			t.Errorf("the items table has %s: batched inserts need their savepoints back (writer.go)\n%s", clause, table)
		}
	}
	var triggers int
	if err := s.writer.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'items'`).Scan(&triggers); err != nil {
		t.Fatal(err)
	}
	if triggers != 0 {
		t.Errorf("%d triggers on items: batched inserts need their savepoints back (writer.go)", triggers)
	}
	if !strings.HasPrefix(sqlInsertItem, "INSERT INTO items (") {
		t.Errorf("the item insert is %q: an INSERT OR ... needs its savepoint back (writer.go)", sqlInsertItem)
	}
	if !strings.Contains(upper, "CREATE TABLE") {
		t.Fatalf("no schema read: %q", table)
	}
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) server.Store {
		return openTemp(t, Options{})
	})
}

// openTemp opens a new store in a temporary directory. The caller closes it.
func openTemp(t testing.TB, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "fortapi.db"), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// openAt opens the store at path and closes it when the test ends.
func openAt(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testItem(t testing.TB, owner string) server.Item {
	t.Helper()
	id, err := server.NewID(time.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	tax := 0.19
	return server.Item{ID: id, OwnerID: owner, Name: "n", Description: "d", Price: 1.5, Tax: &tax, CreatedAt: now, UpdatedAt: now}
}

type appliedMigration struct {
	version   int
	appliedAt string
}

func appliedMigrations(t *testing.T, s *Store) []appliedMigration {
	t.Helper()
	rows, err := s.reader.Query("SELECT version, applied_at FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []appliedMigration
	for rows.Next() {
		var m appliedMigration
		if err := rows.Scan(&m.version, &m.appliedAt); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMigrationsIdempotentAcrossReopen(t *testing.T) {
	migs, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	first := appliedMigrations(t, s)
	if len(first) != len(migs) {
		t.Fatalf("after first open: %d migrations recorded, want %d", len(first), len(migs))
	}
	for i, m := range first {
		if m.version != i+1 {
			t.Errorf("recorded version %d at position %d", m.version, i)
		}
		if _, err := time.Parse(time.RFC3339Nano, m.appliedAt); err != nil {
			t.Errorf("applied_at %q: %v", m.appliedAt, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s := openAt(t, path, Options{})
		again := appliedMigrations(t, s)
		if len(again) != len(first) {
			t.Fatalf("after reopen: %v, want %v", again, first)
		}
		for i := range again {
			if again[i] != first[i] {
				t.Errorf("after reopen: migration %d is %+v, was %+v (applied twice?)", i, again[i], first[i])
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	const n = 4
	var wg sync.WaitGroup
	stores := make([]*Store, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			stores[i], errs[i] = Open(context.Background(), path, Options{})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		t.Cleanup(func() { stores[i].Close() })
	}
	migs, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	if got := appliedMigrations(t, stores[0]); len(got) != len(migs) {
		t.Errorf("recorded migrations %v, want %d", got, len(migs))
	}
}

func TestDataPersistsAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	for _, sync := range []Synchronous{SynchronousNormal, SynchronousFull} {
		t.Run(sync.String(), func(t *testing.T) {
			s, err := Open(context.Background(), path, Options{Synchronous: sync})
			if err != nil {
				t.Fatal(err)
			}
			it := testItem(t, "owner")
			if err := s.CreateItem(context.Background(), it); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openAt(t, path, Options{Synchronous: sync})
			got, err := s.GetItem(context.Background(), server.Access{UserID: "owner"}, it.ID)
			if err != nil {
				t.Fatalf("GetItem after reopen: %v", err)
			}
			if got.Name != it.Name || !got.CreatedAt.Equal(it.CreatedAt) || *got.Tax != *it.Tax {
				t.Errorf("after reopen got %+v, want %+v", got, it)
			}
		})
	}
}

func TestFutureSchemaRefused(t *testing.T) {
	migs, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	latest := migs[len(migs)-1].Version
	path := filepath.Join(t.TempDir(), "db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.writer.Exec("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", latest+1, "2099-01-01T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(context.Background(), path, Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open of a database from the future succeeded")
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open error = %v, want ErrSchemaTooNew", err)
	}
	for _, want := range []string{fmt.Sprintf("schema version %d", latest+1), fmt.Sprintf("up to %d", latest)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open error %q does not mention %q", err, want)
		}
	}
}

func TestLoadMigrations(t *testing.T) {
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		fsys    fstest.MapFS
		want    []int
		wantErr string
	}{
		{"ordered", fstest.MapFS{
			"migrations/0002_b.sql": file("B"),
			"migrations/0001_a.sql": file("A"),
			"migrations/README":     file("ignored"),
		}, []int{1, 2}, ""},
		{"empty", fstest.MapFS{"migrations/README": file("")}, nil, "no embedded migrations"},
		{"gap", fstest.MapFS{
			"migrations/0001_a.sql": file("A"),
			"migrations/0003_c.sql": file("C"),
		}, nil, "has version 3, want 2"},
		{"duplicate", fstest.MapFS{
			"migrations/0001_a.sql": file("A"),
			"migrations/0001_b.sql": file("B"),
		}, nil, "has version 1, want 2"},
		{"starts at 2", fstest.MapFS{"migrations/0002_a.sql": file("A")}, nil, "want 1"},
		{"bad name", fstest.MapFS{"migrations/1_a.sql": file("A")}, nil, "NNNN_description.sql"},
		{"zero", fstest.MapFS{"migrations/0000_a.sql": file("A")}, nil, "NNNN > 0"},
		{"no underscore", fstest.MapFS{"migrations/0001.sql": file("A")}, nil, "NNNN_description.sql"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			migs, err := loadMigrations(tc.fsys)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("loadMigrations = %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []int
			for _, m := range migs {
				got = append(got, m.Version)
			}
			if len(got) != len(tc.want) || got[0] != tc.want[0] || got[len(got)-1] != tc.want[len(tc.want)-1] {
				t.Errorf("versions = %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("embedded", func(t *testing.T) {
		if _, err := loadMigrations(migrationFiles); err != nil {
			t.Fatal(err)
		}
	})
}

// pragmas reads the connection-level settings of one connection.
type pragmas struct {
	journalMode string
	foreignKeys int
	busyTimeout int
	synchronous int
	queryOnly   int
}

func readPragmas(t *testing.T, c *sql.Conn) pragmas {
	t.Helper()
	var p pragmas
	for _, q := range []struct {
		sql  string
		dest any
	}{
		{"PRAGMA journal_mode", &p.journalMode},
		{"PRAGMA foreign_keys", &p.foreignKeys},
		{"PRAGMA busy_timeout", &p.busyTimeout},
		{"PRAGMA synchronous", &p.synchronous},
		{"PRAGMA query_only", &p.queryOnly},
	} {
		if err := c.QueryRowContext(context.Background(), q.sql).Scan(q.dest); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	return p
}

// conns takes n distinct connections from db at once, so that every one of
// them is checked, not the same idle one n times.
func conns(t *testing.T, db *sql.DB, n int) []*sql.Conn {
	t.Helper()
	out := make([]*sql.Conn, n)
	for i := range out {
		c, err := db.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		out[i] = c
	}
	return out
}

func TestPragmasOnEveryConnection(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		busyMS   int
		syncMode int
	}{
		{"defaults", Options{}, 5000, 1},
		{"custom", Options{ReadConns: 3, BusyTimeout: 1500*time.Millisecond + 1, Synchronous: SynchronousFull}, 1501, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTemp(t, tc.opts)
			defer s.Close()
			readConns := tc.opts.ReadConns
			if readConns == 0 {
				readConns = DefaultReadConns
			}
			check := func(pool string, c *sql.Conn, queryOnly int) {
				got := readPragmas(t, c)
				want := pragmas{journalMode: "wal", foreignKeys: 1, busyTimeout: tc.busyMS, synchronous: tc.syncMode, queryOnly: queryOnly}
				if got != want {
					t.Errorf("%s connection: pragmas %+v, want %+v", pool, got, want)
				}
			}
			for _, c := range conns(t, s.writer, 1) {
				check("writer", c, 0)
			}
			for _, c := range conns(t, s.reader, readConns) {
				check("reader", c, 1)
			}
			if got := s.reader.Stats().MaxOpenConnections; got != readConns {
				t.Errorf("reader pool size %d, want %d", got, readConns)
			}
			if got := s.writer.Stats().MaxOpenConnections; got != 1 {
				t.Errorf("writer pool size %d, want 1", got)
			}
		})
	}
}

func TestReaderCannotWrite(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	it := testItem(t, "owner")
	if err := s.CreateItem(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	c := conns(t, s.reader, 1)[0]
	ctx := context.Background()
	for _, stmt := range []string{
		"DELETE FROM items",
		"INSERT INTO items (id, owner_id, name, price, created_at, updated_at) VALUES ('x', 'o', 'n', 1, 0, 0)",
		"CREATE TABLE evil (x)",
	} {
		if _, err := c.ExecContext(ctx, stmt); err == nil {
			t.Errorf("reader executed %q", stmt)
		}
	}
	// Even with query_only lifted, mode=ro keeps the file read-only.
	if _, err := c.ExecContext(ctx, "PRAGMA query_only = 0"); err != nil {
		t.Fatal(err)
	}
	_, err := c.ExecContext(ctx, "DELETE FROM items")
	var se *msqlite.Error
	if !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_READONLY {
		t.Errorf("DELETE on a reader without query_only = %v, want SQLITE_READONLY", err)
	}
	if _, err := s.GetItem(ctx, server.Access{All: true}, it.ID); err != nil {
		t.Errorf("item gone after the reader's attempts: %v", err)
	}
}

func TestAwkwardPaths(t *testing.T) {
	for _, dir := range []string{
		"with space",
		"question?mark",
		"hash#tag",
		"percent%20encoded",
		"all of ?them#&=;%3F",
		"ünïcode 世界",
	} {
		t.Run(dir, func(t *testing.T) {
			parent := filepath.Join(t.TempDir(), dir)
			if err := os.Mkdir(parent, 0o700); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(parent, "it's a db?.sqlite")
			it := testItem(t, "owner")
			s, err := Open(context.Background(), path, Options{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if err := s.CreateItem(context.Background(), it); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			// The file is where we asked, not at a truncated or decoded name.
			entries, err := os.ReadDir(parent)
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != 1 || entries[0].Name() != filepath.Base(path) {
				var names []string
				for _, e := range entries {
					names = append(names, e.Name())
				}
				t.Fatalf("directory holds %q, want only %q", names, filepath.Base(path))
			}
			s = openAt(t, path, Options{})
			if _, err := s.GetItem(context.Background(), server.Access{UserID: "owner"}, it.ID); err != nil {
				t.Errorf("GetItem after reopen: %v", err)
			}
		})
	}
}

func TestRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	s := openAt(t, "relative.db", Options{})
	if err := s.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("relative.db"); err != nil {
		t.Fatal(err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		path    string
		opts    Options
		wantErr string
	}{
		{"empty path", "", Options{}, "empty database path"},
		{"negative ReadConns", filepath.Join(dir, "a"), Options{ReadConns: -1}, "ReadConns is -1"},
		{"negative BusyTimeout", filepath.Join(dir, "b"), Options{BusyTimeout: -time.Second}, "BusyTimeout is -1s"},
		{"huge BusyTimeout", filepath.Join(dir, "c"), Options{BusyTimeout: time.Duration(math.MaxInt64)}, "exceeds"},
		{"unknown Synchronous", filepath.Join(dir, "d"), Options{Synchronous: 7}, "Synchronous(7)"},
		{"negative MaxBatch", filepath.Join(dir, "e"), Options{MaxBatch: -1}, "MaxBatch is -1"},
		{"missing directory", filepath.Join(dir, "no", "such", "dir", "db"), Options{}, "sqlite: open"},
		{"not a database", writeFile(t, filepath.Join(dir, "junk"), strings.Repeat("not sqlite ", 1000)), Options{}, "sqlite: open"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(context.Background(), tc.path, tc.opts)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Open error %q does not contain %q", err, tc.wantErr)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestNaNRefused(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	nan := math.NaN()
	good := testItem(t, "owner")
	if err := s.CreateItem(ctx, good); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(*server.Item)
		want string
	}{
		{"price", func(it *server.Item) { it.Price = nan }, "price is NaN"},
		{"tax", func(it *server.Item) { it.Tax = &nan }, "tax is NaN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it := testItem(t, "owner")
			tc.edit(&it)
			if err := s.CreateItem(ctx, it); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("CreateItem = %v, want %q", err, tc.want)
			}
			up := good
			tc.edit(&up)
			up.ID = good.ID
			if _, err := s.UpdateItem(ctx, server.Access{UserID: "owner"}, up); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("UpdateItem = %v, want %q", err, tc.want)
			}
		})
	}
	got, err := s.GetItem(ctx, server.Access{UserID: "owner"}, good.ID)
	if err != nil || got.Tax == nil || *got.Tax != *good.Tax || got.Price != good.Price {
		t.Errorf("item after refused NaN writes = %+v, %v", got, err)
	}
}

func TestInfinityRoundTrips(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	it := testItem(t, "owner")
	it.Price = math.Inf(1)
	neg := math.Inf(-1)
	it.Tax = &neg
	if err := s.CreateItem(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetItem(context.Background(), server.Access{UserID: "owner"}, it.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(got.Price, 1) || got.Tax == nil || !math.IsInf(*got.Tax, -1) {
		t.Errorf("got price %v tax %v", got.Price, got.Tax)
	}
}

func TestCloseIdempotentAndFinal(t *testing.T) {
	s := openTemp(t, Options{})
	for i := range 3 {
		if err := s.Close(); err != nil {
			t.Fatalf("Close #%d: %v", i+1, err)
		}
	}
	ctx := context.Background()
	if err := s.Ping(ctx); err == nil {
		t.Error("Ping after Close succeeded")
	}
	if err := s.CreateItem(ctx, testItem(t, "owner")); err == nil {
		t.Error("CreateItem after Close succeeded")
	}
	if _, err := s.ListItems(ctx, server.Access{All: true}, "", 10); err == nil {
		t.Error("ListItems after Close succeeded")
	}
}

func TestSchema(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	ctx := context.Background()
	for _, table := range []string{"items", "schema_migrations"} {
		var strict int
		err := s.reader.QueryRowContext(ctx, "SELECT strict FROM pragma_table_list WHERE schema = 'main' AND name = ?", table).Scan(&strict)
		if err != nil {
			t.Fatalf("table %s: %v", table, err)
		}
		if strict != 1 {
			t.Errorf("table %s is not STRICT", table)
		}
	}
	// Lookups by owner use the (owner_id, id) index.
	rows, err := s.reader.QueryContext(ctx, "EXPLAIN QUERY PLAN "+sqlListItemsOwn, "o", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "items_owner_id_id") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("owner list plan = %q, want the (owner_id, id) index and no sort", p)
	}
	// A value is never SQL: a type error is refused by STRICT, not coerced.
	_, err = s.writer.ExecContext(ctx, "INSERT INTO items (id, owner_id, name, price, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
		"x", "o", "n", "not a number", 0, 0)
	if err == nil {
		t.Error("STRICT table accepted text in a REAL column")
	}
}

// benchSetup opens a store closed at the end of the benchmark and makes
// b.N items to insert.
func benchSetup(b *testing.B) (*Store, []server.Item) {
	s := openTemp(b, Options{})
	b.Cleanup(func() { s.Close() })
	items := make([]server.Item, b.N)
	for i := range items {
		items[i] = testItem(b, "owner")
	}
	return s, items
}

func BenchmarkCreateItem(b *testing.B) {
	s, items := benchSetup(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if err := s.CreateItem(ctx, items[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateItemParallel inserts from 16 goroutines per GOMAXPROCS at
// once, the shape of POST /items/ under load: concurrent inserts that group
// commit can share transactions.
func BenchmarkCreateItemParallel(b *testing.B) {
	s, items := benchSetup(b)
	ctx := context.Background()
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.CreateItem(ctx, items[next.Add(1)-1]); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "inserts/s")
}

func BenchmarkGetItem(b *testing.B) {
	s := openTemp(b, Options{})
	defer s.Close()
	ctx := context.Background()
	const n = 1000
	ids := make([]string, n)
	for i := range ids {
		it := testItem(b, "owner")
		if err := s.CreateItem(ctx, it); err != nil {
			b.Fatal(err)
		}
		ids[i] = it.ID
	}
	acc := server.Access{UserID: "owner"}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := s.GetItem(ctx, acc, ids[i%n]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

func BenchmarkListItems(b *testing.B) {
	s := openTemp(b, Options{})
	defer s.Close()
	ctx := context.Background()
	for range 500 {
		if err := s.CreateItem(ctx, testItem(b, "owner")); err != nil {
			b.Fatal(err)
		}
	}
	acc := server.Access{UserID: "owner"}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.ListItems(ctx, acc, "", 101); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

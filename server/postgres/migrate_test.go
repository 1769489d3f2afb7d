package postgres

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fortapi/fortapi/internal/testutil"
)

// versions returns the recorded versions of the schema of u, in order.
func versions(t *testing.T, s *Store) []int {
	t.Helper()
	rows, err := s.pool.Query(context.Background(), "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func wantVersions(t *testing.T, s *Store, latest int) {
	t.Helper()
	got := versions(t, s)
	if len(got) != latest {
		t.Fatalf("schema_migrations = %v, want 1..%d", got, latest)
	}
	for i, v := range got {
		if v != i+1 {
			t.Fatalf("schema_migrations = %v, want 1..%d", got, latest)
		}
	}
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	migs, err := loadMigrations(migrationFiles)
	if err != nil {
		t.Fatal(err)
	}
	latest := len(migs)
	ctx := context.Background()

	t.Run("fresh, then re-open is a no-op", func(t *testing.T) {
		t.Parallel()
		u := ts.newSchema(t)
		logs := &testutil.LogCapture{}
		s := open(t, Options{URL: u, Logger: slog.New(logs)})
		wantVersions(t, s, latest)
		if n := logs.Count(slog.LevelInfo, "applied migration"); n != latest {
			t.Errorf("%d migrations logged, want %d", n, latest)
		}
		var before []time.Time
		if err := s.pool.QueryRow(ctx, "SELECT array_agg(applied_at ORDER BY version) FROM schema_migrations").Scan(&before); err != nil {
			t.Fatal(err)
		}
		logs2 := &testutil.LogCapture{}
		s2 := open(t, Options{URL: u, Logger: slog.New(logs2)})
		wantVersions(t, s2, latest)
		var after []time.Time
		if err := s2.pool.QueryRow(ctx, "SELECT array_agg(applied_at ORDER BY version) FROM schema_migrations").Scan(&after); err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) || !after[0].Equal(before[0]) || !after[len(after)-1].Equal(before[len(before)-1]) {
			t.Errorf("re-open changed applied_at: %v -> %v", before, after)
		}
		if n := len(logs2.Records()); n != 0 {
			t.Errorf("re-open logged %d records, want none", n)
		}
	})

	t.Run("newer schema is refused", func(t *testing.T) {
		t.Parallel()
		u := ts.newSchema(t)
		s := open(t, Options{URL: u})
		if _, err := s.pool.Exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())", latest+1); err != nil {
			t.Fatal(err)
		}
		s2, err := Open(ctx, Options{URL: u})
		if err == nil {
			s2.Close()
			t.Fatal("Open of a newer schema succeeded")
		}
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Errorf("Open = %v, want ErrSchemaTooNew", err)
		}
		for _, want := range []string{"schema version " + itoa(latest+1), "up to " + itoa(latest)} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})

	t.Run("a gap in the history is refused", func(t *testing.T) {
		t.Parallel()
		u := ts.newSchema(t)
		s := open(t, Options{URL: u})
		if _, err := s.pool.Exec(ctx, "DELETE FROM schema_migrations WHERE version = 1"); err != nil {
			t.Fatal(err)
		}
		if s2, err := Open(ctx, Options{URL: u}); err == nil || !strings.Contains(err.Error(), "inconsistent") {
			if s2 != nil {
				s2.Close()
			}
			t.Errorf("Open with a gap = %v, want an error saying the history is inconsistent", err)
		}
	})

	t.Run("concurrent opens of a fresh schema", func(t *testing.T) {
		t.Parallel()
		u := ts.newSchema(t)
		const n = 4
		var wg sync.WaitGroup
		stores := make([]*Store, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				stores[i], errs[i] = Open(ctx, Options{URL: u, MaxConns: 2})
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("Open %d: %v", i, err)
				continue
			}
			t.Cleanup(func() { stores[i].Close() })
		}
		if t.Failed() {
			return
		}
		wantVersions(t, stores[0], latest)
	})

	t.Run("no schema to migrate into", func(t *testing.T) {
		t.Parallel()
		u := withParam(t, ts.url, "search_path", "fortapi_test_does_not_exist")
		s, err := Open(ctx, Options{URL: u})
		if err == nil {
			s.Close()
			t.Fatal("Open succeeded without a schema")
		}
		if !strings.Contains(err.Error(), "no schema of the search_path exists") {
			t.Errorf("Open = %v, want it to say that no schema exists", err)
		}
	})

	t.Run("a failing migration leaves the previous version", func(t *testing.T) {
		t.Parallel()
		u := ts.newSchema(t)
		s := open(t, Options{URL: u})
		broken := append(migs[:latest:latest], migration{Version: latest + 1, Name: "broken.sql",
			SQL: "CREATE TABLE half_done (x int); SELECT no_such_function()"})
		conn, err := s.pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Release()
		applied, err := migrate(ctx, conn, broken, time.Now)
		if err == nil || len(applied) != 0 {
			t.Fatalf("migrate with a broken migration = %v, %v; want an error and nothing applied", applied, err)
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || !strings.Contains(err.Error(), "broken.sql") {
			t.Errorf("error %v, want PostgreSQL's error naming the file", err)
		}
		wantVersions(t, s, latest)
		var exists bool
		if err := s.pool.QueryRow(ctx, "SELECT to_regclass('half_done') IS NOT NULL").Scan(&exists); err != nil || exists {
			t.Errorf("the broken migration's table exists = %v, %v; want it rolled back", exists, err)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestLoadMigrations(t *testing.T) {
	t.Parallel()
	file := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	tests := []struct {
		name    string
		fsys    fs.FS
		want    int
		wantErr string
	}{
		{"embedded", migrationFiles, 6, ""},
		{"in order, other files ignored", fstest.MapFS{"migrations/0001_a.sql": file("x"), "migrations/0002_b.sql": file("y"), "migrations/README": file("")}, 2, ""},
		{"gap", fstest.MapFS{"migrations/0001_a.sql": file("x"), "migrations/0003_c.sql": file("y")}, 0, "want 2"},
		{"duplicate", fstest.MapFS{"migrations/0001_a.sql": file("x"), "migrations/0001_b.sql": file("y")}, 0, "want 2"},
		{"bad name", fstest.MapFS{"migrations/1_a.sql": file("x")}, 0, "NNNN_description.sql"},
		{"zero", fstest.MapFS{"migrations/0000_a.sql": file("x")}, 0, "NNNN > 0"},
		{"none", fstest.MapFS{"migrations/README": file("")}, 0, "no embedded migrations"},
		{"no directory", fstest.MapFS{}, 0, "reading embedded migrations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			migs, err := loadMigrations(tc.fsys)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("loadMigrations = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || len(migs) != tc.want {
				t.Fatalf("loadMigrations = %d migrations, %v; want %d", len(migs), err, tc.want)
			}
		})
	}
}

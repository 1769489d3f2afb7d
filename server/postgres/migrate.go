package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fortapi/fortapi/server"
)

// migrationFiles holds the schema history, one file per version:
// migrations/NNNN_name.sql, numbered 1, 2, 3... without gaps. A released
// file is never edited; a change is a new file. The versions correspond to
// server/sqlite's.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationsDir is the directory of migrationFiles that holds the files.
const migrationsDir = "migrations"

// migration is one schema version.
type migration = server.Migration

// loadMigrations reads the migrations in dir migrationsDir of fsys, in
// version order, and checks that they number 1..n without gaps or
// duplicates (server.LoadMigrations).
func loadMigrations(fsys fs.FS) ([]migration, error) {
	migs, err := server.LoadMigrations(fsys, migrationsDir)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return migs, nil
}

// sqlCreateSchemaMigrations creates the table that records applied versions.
const sqlCreateSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer     NOT NULL PRIMARY KEY,
	applied_at timestamptz NOT NULL
)`

// initSchema finds the schema the store's tables live in (the first
// existing schema of the search_path) and migrates it; it returns the
// schema's name.
//
// The migrations run on one connection holding a session-level advisory
// lock for the schema, so that processes opening one database at once
// take turns: the first applies what is missing, the others then find
// nothing to do. Each version is applied in its own transaction together
// with its schema_migrations row (PostgreSQL's DDL is transactional), so a
// failure leaves the database at the previous version. Waiting for the
// lock counts against the statement timeout.
func (s *Store) initSchema(ctx context.Context, migs []migration, target string) (string, error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Release()

	var schema *string
	if err := conn.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return "", fmt.Errorf("reading the current schema: %w", err)
	}
	if schema == nil {
		return "", errors.New("no schema of the search_path exists: create it first, or name an existing one in search_path")
	}
	key := lockKey("migrations", *schema)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return "", fmt.Errorf("taking the migration lock: %w", err)
	}
	defer func() {
		// The caller's context may have ended; the unlock must still
		// happen. If it cannot, the connection is closed, which releases
		// every session lock it holds.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
			_ = conn.Conn().Close(uctx)
		}
	}()
	applied, err := migrate(ctx, conn, migs, s.now)
	if err != nil {
		return "", err
	}
	for _, m := range applied {
		s.logger.Info("postgres: applied migration", "version", m.Version, "name", m.Name,
			"schema", *schema, "target", target)
	}
	return *schema, nil
}

// migrate brings the database on conn, whose caller holds the migration
// lock, up to the newest of migs, and returns the migrations it applied.
func migrate(ctx context.Context, conn *pgxpool.Conn, migs []migration, now func() time.Time) ([]migration, error) {
	if _, err := conn.Exec(ctx, sqlCreateSchemaMigrations); err != nil {
		return nil, fmt.Errorf("creating schema_migrations: %w", err)
	}
	latest := migs[len(migs)-1].Version
	cur, err := schemaVersion(ctx, conn, latest)
	if err != nil {
		return nil, err
	}
	var applied []migration
	for _, m := range migs[cur:] {
		if err := applyMigration(ctx, conn, m, latest, now); err != nil {
			return applied, err
		}
		applied = append(applied, m)
	}
	return applied, nil
}

// queryer is what schemaVersion needs of a connection or transaction.
type queryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// schemaVersion returns the version the database is at: the highest applied
// one, 0 for a new database. It refuses a version above latest
// (ErrSchemaTooNew) and a history that is not exactly 1..version.
func schemaVersion(ctx context.Context, q queryer, latest int) (int, error) {
	var cur, n int
	err := q.QueryRow(ctx, "SELECT COALESCE(MAX(version), 0), COUNT(*) FROM schema_migrations").Scan(&cur, &n)
	if err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	if err := server.CheckSchemaVersion(cur, n, latest); err != nil {
		return 0, err
	}
	return cur, nil
}

// applyMigration applies m in one transaction with its record, after
// checking again, inside the transaction, that the database is at the
// version before it.
func applyMigration(ctx context.Context, conn *pgxpool.Conn, m migration, latest int, now func() time.Time) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migration %q: begin: %w", m.Name, err)
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tx.Rollback(rctx) // a no-op after Commit
	}()
	cur, err := schemaVersion(ctx, tx, latest)
	if err != nil {
		return fmt.Errorf("migration %q: %w", m.Name, err)
	}
	if cur != m.Version-1 {
		return fmt.Errorf("migration %q: database is at version %d, want %d", m.Name, cur, m.Version-1)
	}
	// No arguments: pgx sends the file with the simple protocol, which
	// runs every statement in it. The text is embedded, never a value.
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %q: %w", m.Name, err)
	}
	_, err = tx.Exec(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", m.Version, now())
	if err != nil {
		return fmt.Errorf("migration %q: recording version: %w", m.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migration %q: commit: %w", m.Name, err)
	}
	return nil
}

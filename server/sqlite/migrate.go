package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"time"

	"github.com/fortapi/fortapi/server"
)

// migrationFiles holds the schema history, one file per version:
// migrations/NNNN_name.sql, numbered 1, 2, 3... without gaps. A released
// file is never edited; a change is a new file.
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
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return migs, nil
}

// sqlCreateSchemaMigrations creates the table that records applied versions.
const sqlCreateSchemaMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	applied_at TEXT    NOT NULL
) STRICT`

// migrate brings the database on db up to the newest of migs, each version
// in its own transaction together with its schema_migrations row, so a
// failure leaves the database at the previous version. Another process
// migrating the same file at the same moment is safe: transactions begin
// IMMEDIATE, and each one re-reads the version before applying anything.
func migrate(ctx context.Context, db *sql.DB, migs []migration) error {
	if _, err := db.ExecContext(ctx, sqlCreateSchemaMigrations); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	latest := migs[len(migs)-1].Version
	cur, err := schemaVersion(ctx, db, latest)
	if err != nil {
		return err
	}
	if cur == latest {
		return nil
	}
	for _, m := range migs[cur:] {
		if err := applyMigration(ctx, db, m, latest); err != nil {
			return err
		}
	}
	return nil
}

// queryer is what schemaVersion needs of a *sql.DB or *sql.Tx.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// schemaVersion returns the version the database is at: the highest applied
// one, 0 for a new database. It refuses a version above latest
// (ErrSchemaTooNew) and a history that is not exactly 1..version.
func schemaVersion(ctx context.Context, q queryer, latest int) (int, error) {
	var cur, n int
	err := q.QueryRowContext(ctx, "SELECT COALESCE(MAX(version), 0), COUNT(*) FROM schema_migrations").Scan(&cur, &n)
	if err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	if err := server.CheckSchemaVersion(cur, n, latest); err != nil {
		return 0, err
	}
	return cur, nil
}

// applyMigration applies m unless the database already has it.
func applyMigration(ctx context.Context, db *sql.DB, m migration, latest int) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %q: begin: %w", m.Name, err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	cur, err := schemaVersion(ctx, tx, latest)
	if err != nil {
		return fmt.Errorf("migration %q: %w", m.Name, err)
	}
	switch {
	case cur >= m.Version: // another process got here first
		return tx.Rollback()
	case cur != m.Version-1:
		return fmt.Errorf("migration %q: database is at version %d, want %d", m.Name, cur, m.Version-1)
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("migration %q: %w", m.Name, err)
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
		m.Version, time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return fmt.Errorf("migration %q: recording version: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %q: commit: %w", m.Name, err)
	}
	return nil
}

package server

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// The runner rules every store's schema migrations share: how embedded
// migration files are named and numbered, and which recorded schema
// version a store accepts. Applying them (locks, transactions, the
// schema_migrations table) is the store's.

// ErrSchemaTooNew is returned (wrapped) when a database was migrated by a
// newer binary: its schema version is above the newest this one knows.
// A store refuses such a database rather than write to it.
var ErrSchemaTooNew = errors.New("database schema is newer than this binary supports")

// Migration is one schema version, from the file NNNN_description.sql.
type Migration struct {
	Version int
	Name    string // the file name, for error messages
	SQL     string
}

// LoadMigrations reads the migrations in the directory dir of fsys: the
// files named NNNN_description.sql (four digits, NNNN > 0; files not
// ending in .sql are ignored), in version order. They must number 1, 2,
// 3... without gaps or duplicates, and there must be at least one.
func LoadMigrations(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("reading embedded migrations: %w", err)
	}
	var migs []Migration
	for _, e := range entries { // ReadDir sorts by name
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		prefix, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(prefix)
		if !ok || err != nil || len(prefix) != 4 || v <= 0 {
			return nil, fmt.Errorf("migration %q: name must be NNNN_description.sql with NNNN > 0", name)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("reading migration %q: %w", name, err)
		}
		migs = append(migs, Migration{Version: v, Name: name, SQL: string(b)})
	}
	if len(migs) == 0 {
		return nil, errors.New("no embedded migrations")
	}
	for i, m := range migs {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %q has version %d, want %d (versions must run 1, 2, 3... without gaps or duplicates)", m.Name, m.Version, i+1)
		}
	}
	return migs, nil
}

// CheckSchemaVersion checks what a database records of its schema: cur,
// the highest version applied (0 for none), and rows, how many versions
// are recorded, against latest, the newest version this binary knows. A
// version above latest is refused with an error wrapping ErrSchemaTooNew;
// a history that is not exactly 1..cur is refused too.
func CheckSchemaVersion(cur, rows, latest int) error {
	if cur > latest {
		return fmt.Errorf("database is at schema version %d, this binary knows versions up to %d: %w", cur, latest, ErrSchemaTooNew)
	}
	if rows != cur {
		return fmt.Errorf("schema_migrations is inconsistent: %d rows, highest version %d", rows, cur)
	}
	return nil
}

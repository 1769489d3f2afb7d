package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/fortapi/fortapi/secret"
	"github.com/fortapi/fortapi/server/app"
)

// postgresURLEnv names the PostgreSQL URL's environment variable; its
// _FILE variant names a file holding the URL (a password belongs there or
// in the variable, where ps and shell history cannot see it).
const postgresURLEnv = "FORTAPI_POSTGRES_URL"

// dbFile is the SQLite database's name in the data directory.
const dbFile = "fortapi.db"

// storeFlags are the flags that select the store, shared by serve, user
// and keys: --data-dir (the SQLite file, generated secrets) and
// --postgres-url.
type storeFlags struct {
	dataDir     string
	postgresURL string // may hold a password: never logged or echoed
}

// addStoreFlags registers --data-dir (described by dataDirUsage) and
// --postgres-url on c.
func addStoreFlags(c *command, dataDirUsage string) *storeFlags {
	sf := &storeFlags{}
	c.fs.StringVar(&sf.dataDir, "data-dir", "./fortapi-data", dataDirUsage)
	c.fs.StringVar(&sf.postgresURL, "postgres-url", "", "keep the data in PostgreSQL at `URL` (postgres://USER@HOST:PORT/DB?sslmode=...) instead of SQLite in --data-dir; "+
		"a URL with a password is refused on the command line: set "+postgresURLEnv+" or "+postgresURLEnv+secret.FileSuffix+" instead")
	return sf
}

// resolve finishes the store flags after c parsed them: a URL from the
// command line must not hold a password; without one on the command line
// the URL comes from FORTAPI_POSTGRES_URL or the file named by
// FORTAPI_POSTGRES_URL_FILE. Errors are usage errors (exit 2) and never
// quote the URL; warnings are for the log (a file others may read).
func (sf *storeFlags) resolve(c *command, getenv func(string) string) (warnings []string, err error) {
	if strings.TrimSpace(sf.dataDir) == "" {
		return nil, errors.New("--data-dir must not be empty")
	}
	if c.onCmdLine["postgres-url"] {
		if app.HasPassword(sf.postgresURL) {
			return nil, fmt.Errorf("--postgres-url holds a password, which ps and shell history can see: give the URL in %s or in a file named by %s%s",
				postgresURLEnv, postgresURLEnv, secret.FileSuffix)
		}
	} else {
		l, err := secret.FromEnv(getenv, postgresURLEnv)
		switch {
		case errors.Is(err, secret.ErrNotSet):
		case err != nil:
			return nil, err
		default:
			sf.postgresURL, warnings = strings.TrimSpace(l.Secret.RevealString()), l.Warnings
		}
	}
	if sf.postgresURL == "" {
		return warnings, nil
	}
	if err := checkPostgresURL(sf.postgresURL); err != nil {
		return nil, err
	}
	return warnings, nil
}

// checkPostgresURL refuses what is plainly not a PostgreSQL URL, without
// quoting it.
func checkPostgresURL(raw string) error {
	if !strings.Contains(raw, "://") {
		if strings.Contains(raw, "=") { // libpq keyword/value form
			return nil
		}
		return errors.New("invalid --postgres-url: want postgres://USER@HOST:PORT/DB (or libpq key=value settings)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New("invalid --postgres-url: want postgres://USER@HOST:PORT/DB (or libpq key=value settings)")
	}
	return nil
}

// storeConfig is the app's store configuration: PostgreSQL at pgURL, or
// the SQLite file in dataDir. For SQLite it creates the data directory
// (0700) and the file, private to this user (0600), before SQLite does
// (SQLite gives its -wal and -shm files the database file's mode), unless
// !create, when a missing file is an error.
func storeConfig(dataDir, pgURL string, create bool) (app.StoreConfig, error) {
	if pgURL != "" {
		return app.StoreConfig{PostgresURL: pgURL}, nil
	}
	dbPath := filepath.Join(dataDir, dbFile)
	if _, err := os.Stat(dbPath); errors.Is(err, fs.ErrNotExist) && !create {
		return app.StoreConfig{}, fmt.Errorf("no database at %s: check --data-dir (FORTAPI_DATA_DIR) or --postgres-url, or start the server once", dbPath)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return app.StoreConfig{}, fmt.Errorf("creating the data directory: %w", err)
	}
	f, err := os.OpenFile(dbPath, os.O_RDONLY|os.O_CREATE, 0o600)
	if err != nil {
		return app.StoreConfig{}, fmt.Errorf("creating the database %s: %w", dbPath, err)
	}
	f.Close()
	return app.StoreConfig{SQLitePath: dbPath}, nil
}

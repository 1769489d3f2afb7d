package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/httpapi"
	"github.com/fortapi/fortapi/server/postgres"
	"github.com/fortapi/fortapi/server/sqlite"
)

// Store is what both stores implement: the server's data and the signing
// keys.
type Store interface {
	server.Store
	jwtkey.Store
}

var (
	_ Store = (*sqlite.Store)(nil)
	_ Store = (*postgres.Store)(nil)
	// /readyz asks both stores whether they take writes.
	_ httpapi.WriteChecker = (*sqlite.Store)(nil)
	_ httpapi.WriteChecker = (*postgres.Store)(nil)
)

// OpenStore opens the store sc selects: PostgreSQL when PostgresURL is
// set, else SQLite. It logs which, with the PostgreSQL password masked.
func OpenStore(ctx context.Context, sc StoreConfig, log *slog.Logger, now func() time.Time) (Store, error) {
	if log == nil {
		log = slog.Default()
	}
	if sc.PostgresURL != "" {
		s, err := postgres.Open(ctx, postgres.Options{URL: sc.PostgresURL, MaxConns: sc.PostgresMaxConns, Logger: log, Now: now})
		if err != nil {
			return nil, err // postgres never quotes the password
		}
		log.Info("database open", "store", "postgres", "url", MaskURL(sc.PostgresURL))
		return s, nil
	}
	if sc.SQLitePath == "" {
		return nil, errors.New("app: no store: set Store.SQLitePath or Store.PostgresURL")
	}
	s, err := sqlite.Open(ctx, sc.SQLitePath, sqlite.Options{ReadConns: sc.SQLiteReadConns})
	if err != nil {
		return nil, fmt.Errorf("opening the database %s: %w", sc.SQLitePath, err)
	}
	log.Info("database open", "store", "sqlite", "path", sc.SQLitePath)
	return s, nil
}

// MaskURL is raw with its password replaced by "xxxxx", for logs and
// messages: postgres://app:xxxxx@db:5432/fortapi. A libpq keyword/value
// string has its password= value masked; text that cannot be masked with
// certainty becomes "(unparsable URL)".
func MaskURL(raw string) string {
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			return "(unparsable URL)"
		}
		if q := u.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.Redacted()
	}
	if strings.ContainsAny(raw, "'\\") { // quoting could hide a password from the split below
		return "(unparsable URL)"
	}
	fields := strings.Fields(raw)
	for i, f := range fields {
		if k, _, ok := strings.Cut(f, "="); ok && strings.EqualFold(k, "password") {
			fields[i] = k + "=xxxxx"
		}
	}
	return strings.Join(fields, " ")
}

// HasPassword reports whether the PostgreSQL URL raw may carry a password:
// in its user info, as a password query parameter, or as a keyword/value
// password=... (text that does not parse counts as having one).
func HasPassword(raw string) bool {
	if strings.Contains(raw, "://") {
		u, err := url.Parse(raw)
		if err != nil {
			return true
		}
		_, inUser := u.User.Password()
		return inUser || u.Query().Has("password")
	}
	return strings.Contains(strings.ToLower(raw), "password")
}

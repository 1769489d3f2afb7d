// Package pgtest gives tests a PostgreSQL schema of their own on the test
// server (internal/testutil.PostgresURL), so that parallel tests and
// packages never see each other's tables. It is for tests only; it lives
// apart from testutil so that packages without PostgreSQL tests do not
// link pgx.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fortapi/fortapi/internal/testutil"
)

// SchemaURL creates a fresh schema on the test PostgreSQL server, dropped
// when t ends, and returns a URL whose search_path names it. Its
// connections run with synchronous_commit as given ("off": tests need no
// durability; "on": PostgreSQL's default, for benchmarks). It skips t
// when no server takes connections (fails under FORTAPI_TEST_STRICT=1).
func SchemaURL(t testing.TB, synchronousCommit string) string {
	t.Helper()
	base := testutil.PostgresURL(t)
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s must be a postgres:// URL", testutil.EnvPostgresURL)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		testutil.Unavailable(t, "PostgreSQL", "cannot connect to "+testutil.Redacted(base))
	}
	defer conn.Close(ctx)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "fortapi_test_" + hex.EncodeToString(b)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+ident); err != nil {
		t.Fatalf("creating schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("dropping schema %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+ident+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", name, err)
		}
	})
	q := u.Query()
	q.Set("search_path", name)
	q.Set("synchronous_commit", synchronousCommit)
	u.RawQuery = q.Encode()
	return u.String()
}

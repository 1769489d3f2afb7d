package testutil

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// Locating the servers the tests of PostgreSQL and Redis talk to.
//
// A URL in the environment is used as it is. Without one, the local
// default address is probed with a short TCP dial; when nothing answers
// the test is skipped with one line saying what and why, or, under
// FORTAPI_TEST_STRICT=1 (as .ci/run sets), it fails. This package dials
// only: it imports no database client, so test binaries that do not talk
// to a server do not link one. A test that needs more than an open port
// (PostgreSQL: a real connection) checks that itself and reports a failure
// through Unavailable.

// The environment variables and local defaults of the test services.
const (
	EnvPostgresURL = "FORTAPI_TEST_POSTGRES_URL"
	EnvRedisURL    = "FORTAPI_TEST_REDIS_URL"
	EnvStrict      = "FORTAPI_TEST_STRICT"

	DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	DefaultRedisURL    = "redis://127.0.0.1:6379/0"

	// ProbeTimeout bounds the dial that probes a default address.
	ProbeTimeout = 200 * time.Millisecond
)

// PostgresURL returns the URL of the PostgreSQL server for tests:
// $FORTAPI_TEST_POSTGRES_URL, or DefaultPostgresURL when that is unset and
// its port answers. Otherwise it skips t (fails it under strict mode).
func PostgresURL(t testing.TB) string {
	t.Helper()
	return serviceURL(t, "PostgreSQL", EnvPostgresURL, DefaultPostgresURL, "5432")
}

// RedisURL returns the URL of the Redis server for tests:
// $FORTAPI_TEST_REDIS_URL, or DefaultRedisURL when that is unset and its
// port answers. Otherwise it skips t (fails it under strict mode).
func RedisURL(t testing.TB) string {
	t.Helper()
	return serviceURL(t, "Redis", EnvRedisURL, DefaultRedisURL, "6379")
}

func serviceURL(t testing.TB, name, env, def, defPort string) string {
	t.Helper()
	if u := os.Getenv(env); u != "" {
		return u
	}
	addr, err := dialAddr(def, defPort)
	if err != nil { // a broken constant: a bug, not a missing server
		t.Fatalf("testutil: default %s URL: %v", name, err)
	}
	conn, err := net.DialTimeout("tcp", addr, ProbeTimeout)
	if err != nil {
		Unavailable(t, name, fmt.Sprintf("%s is unset and nothing answers at %s (%v)", env, addr, err))
		return "" // not reached: Unavailable ends the test
	}
	conn.Close()
	return def
}

// dialAddr returns the host:port of a URL, with defPort when it has none.
func dialAddr(raw, defPort string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	port := u.Port()
	if port == "" {
		port = defPort
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}

// Unavailable ends t because the service name cannot be used, for the
// reason why (which must not contain a password): a skip of one line, or
// under FORTAPI_TEST_STRICT=1 a failure, since there a missing service is
// a broken set-up, not a choice.
func Unavailable(t testing.TB, name, why string) {
	t.Helper()
	why = strings.Join(strings.Fields(why), " ") // one line, whatever the driver wrote
	if os.Getenv(EnvStrict) == "1" {
		t.Fatalf("%s tests cannot run: %s (%s=1 makes this a failure)", name, why, EnvStrict)
	}
	t.Skipf("skipping %s tests: %s", name, why)
}

// Redacted returns a URL for messages: raw with its password, if any,
// replaced, or a placeholder when raw does not parse.
func Redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that does not parse)"
	}
	return u.Redacted()
}

// Package postgres is the scale-out store of the reference server: a
// server.Store (items, and the server.AuthStore of users, sessions, refresh
// tokens, web session credentials, revocations, security events and signing
// keys) kept in PostgreSQL through a pgx v5 connection pool, so that several
// server processes share one database. It keeps exactly the contract of
// server/sqlite, checked by the same suite (server/storetest).
//
// What it defends against:
//
//   - SQL injection. Every statement is a constant with $n placeholders and
//     every value travels as a bound argument; no SQL text is ever built from
//     a value (the migrations are embedded files). Strings are sent as bytes
//     to bytea columns, never as text that bytea's escape syntax could
//     reinterpret.
//   - Broken object-level authorization. The owner condition is part of the
//     SQL of every item query (WHERE id = $1 AND owner_id = $2), lifted only
//     for server.Access.All; another user's item is server.ErrNotFound, the
//     same as a missing one. An Access with neither a user id nor All is
//     refused, never treated as "everyone".
//   - Races between processes. Every change of several rows is one
//     transaction, and what it decides on it locks first, so that it reads
//     the latest committed state (READ COMMITTED, the default level):
//     RotateRefresh locks the token's session row (SELECT ... FOR UPDATE),
//     so two refreshes of one token, from any processes, are decided one
//     after the other: the first rotates it, a replay within the grace
//     finds the successor the first stored (still current) and is
//     answered with it, storing nothing, and any other replay revokes the
//     family, once; UpdateUser locks the user row (a Revoke adds one to
//     its credential version) and, for a change of role or of the
//     disabled flag, a transaction-level advisory lock for the schema's
//     administrators, so that two concurrent demotions can never remove
//     the last enabled administrator; CreateSession and CreateWebSession
//     read the user FOR SHARE and compare its credential version with the
//     one the login read, so a login racing a password change, a disable
//     or a demotion either sees it (and is refused) or is revoked by it. Locks are taken in one order
//     (the administrators' lock, a user, sessions in id order, tokens,
//     the revocation log's lock), so these transactions do not deadlock;
//     should PostgreSQL abort one anyway (a deadlock or serialization
//     failure), it runs again, up to three times in all.
//   - A reader of the revocation log missing an entry. Revocation seqs come
//     from an identity column, whose values are handed out before their
//     transactions commit: two revoking transactions could commit in the
//     opposite order, and a process polling "seq > last seen" could move
//     past a seq that becomes visible only later. Every insert into the log
//     therefore holds a transaction-level advisory lock (per schema) from
//     just before it takes its seq until its transaction ends, so entries
//     commit in seq order: once seq N is visible, no entry below N can
//     appear. Seqs may have gaps (a transaction that rolled back).
//   - A revocation or key change reaching the other instances late. Every
//     transaction that appends to the revocation log, and every SaveKeys,
//     calls pg_notify on the schema's channel inside the transaction, so
//     the notification goes out exactly when the change commits; a
//     Listener (Store.Listen, notify.go) on each instance turns it into a
//     wake-up of authn.Service.Run, which reads the log by seq. The log
//     stays the source of truth: after every reconnect the Listener wakes
//     its reader, which reads whatever it missed meanwhile.
//   - Schema drift. Migrations are versioned SQL files embedded in the
//     binary (migrations/, numbered like server/sqlite's), applied at Open
//     under a session-level advisory lock so that processes starting
//     together migrate once, each version in its own transaction with its
//     row in schema_migrations. A database migrated by a newer binary is
//     refused (ErrSchemaTooNew) rather than written to, and so is a history
//     with gaps.
//   - Runaway statements and pool exhaustion. Every connection has a
//     statement_timeout (default 5 s), so neither a slow query nor a lock
//     wait can hold a connection for long, and the pool is bounded
//     (default 10 connections).
//   - Credential leaks. The URL's password never appears in a log record or
//     an error: Open reports failures as text with the password removed and
//     does not wrap pgx's connection errors, which carry the whole
//     configuration.
//
// # Data types
//
// Every string the caller supplies is stored as bytea: a Go string is a
// sequence of bytes, and the contract keeps every byte, NUL and bytes
// that are not UTF-8 included, which PostgreSQL's text refuses. Ids
// therefore compare as raw bytes, the cursor order of ListItems and
// ListUsers, whatever the database's collation. Only values the store
// checks itself are text: the role, the revocation kind and the scopes
// (RFC 6749 scope-tokens, printable ASCII). To read a bytea column as text
// in psql: convert_from(name, 'UTF8'). Usernames are stored only in
// their canonical form (server.CanonicalUsername; CreateUser refuses any
// other), unique under a plain unique index and compared exactly;
// GetUserByName canonicalizes its input first. Times are timestamptz (microseconds, as the
// contract promises) and come back in UTC; a zero time.Time is NULL where
// the column allows it. Prices are double precision; NaN is refused as in
// SQLite.
//
// # Options and defaults
//
// Open takes Options: URL (a postgres:// URL or keyword/value string;
// query parameters that are not connection settings become run-time
// parameters of every connection, search_path=name putting the tables in
// that schema, which must exist), MaxConns (default 10, overriding the
// URL's pool_max_conns), StatementTimeout (default 5 s, overriding the
// URL's), Logger (default: discard) and Now (default time.Now, for the
// times the store fills in). Connections get application_name=fortapi and
// TimeZone=UTC unless the URL sets them. As with libpq, the PG*
// environment variables and ~/.pgpass supply what the URL leaves out
// (pgx reads them); the reference server passes everything in the URL.
// Waiting for another process's migrations counts against the statement
// timeout.
//
// # Tests
//
// The tests need a PostgreSQL server: FORTAPI_TEST_POSTGRES_URL, or when it
// is unset postgres://postgres@127.0.0.1:5432/test (internal/testutil
// probes the port, and the tests then connect). Without one they skip with
// one line, or fail under FORTAPI_TEST_STRICT=1. Each test works in a
// schema of its own, fortapi_test_<random>, named in its URL's
// search_path and dropped when the test ends.
package postgres

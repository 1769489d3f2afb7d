// Package sqlite is the embedded default store of the reference server: a
// server.Store (items, and the server.AuthStore of users, sessions, refresh
// tokens, web session credentials, revocations, security events and signing
// keys) kept in one SQLite file through modernc.org/sqlite (pure Go, no
// cgo).
//
// What it defends against:
//
//   - SQL injection. Every statement is a constant with ? placeholders and
//     every value travels as a bound argument; no SQL text is ever built from
//     a value. The pragmas in the connection string are constants and
//     integers, and the database path is percent-encoded into a file: URI,
//     so a '?', '#' or '%' in a directory name cannot inject URI parameters.
//   - Broken object-level authorization. The owner condition is part of the
//     SQL of every item query (WHERE id = ? AND owner_id = ?), lifted only
//     for server.Access.All; another user's item is server.ErrNotFound, the
//     same as a missing one, so existence does not leak. An Access with
//     neither a user id nor All is refused, never treated as "everyone".
//   - Data loss. The database runs in WAL mode. With the default
//     synchronous=NORMAL a committed write survives a crash of the process
//     (the WAL is in the OS page cache); a power loss or OS crash may lose
//     the last commits but never corrupts the file. SynchronousFull syncs
//     every commit and also survives power loss. Schema changes are
//     versioned migrations embedded in the binary, each applied atomically
//     with its record in schema_migrations; a database migrated by a newer
//     binary is refused (ErrSchemaTooNew) rather than written to.
//   - Races in authentication. Every auth change that touches several rows
//     (a user and its sessions, a refresh rotation, a logout) is one
//     transaction, and what it decides on it reads inside that transaction:
//     two refreshes with one token are decided one after the other, the
//     second seeing the first's rotation, and the last-admin and
//     IfPasswordHash checks see the row they change. CreateWebSession
//     checks the user's standing in its transaction exactly as
//     CreateSession does. LookupWebSession decides from one read of the
//     credential, its session and its user, so a revocation, a disable or
//     a demotion that has committed applies to the next lookup; the
//     scopes it returns are cut down to what the user's role grants now.
//   - Lock errors under load. All writes go through one connection, so
//     writers queue (honouring ctx) instead of failing with SQLITE_BUSY;
//     transactions begin IMMEDIATE; reads use a separate pool of read-only
//     connections (mode=ro plus query_only) that WAL lets run alongside the
//     writer; busy_timeout covers other processes. GetItem, the hot read,
//     has read-only connections of its own, used through SQLite's C API
//     without database/sql (read.go); they wait for another process's
//     lock in Go, up to the same busy timeout.
//
// # Group commit
//
// Every write (the item writes and the auth writes) runs on the writer
// connection, one at a time. A write that finds the writer idle runs at
// once on its caller's goroutine. Writes that find it busy queue on a
// channel for one goroutine, started by Open and stopped by Close, which
// takes the first, waits for the writer, then takes whatever else is
// queued at that moment, up to Options.MaxBatch (default 128), and runs
// them in one BEGIN IMMEDIATE ... COMMIT, each inside its own SAVEPOINT
// (except an item insert, one statement that SQLite undoes by itself when
// it violates a constraint).
// Under concurrent writes many share one commit, which is what a write
// costs most; inserts from many goroutines are about twice as fast as with
// one transaction each (docs/benchmarks.md). The guarantees:
//
//   - Acknowledged means committed. A caller gets its result only after the
//     COMMIT of its transaction returned, so the durability above is
//     unchanged: with synchronous=NORMAL an acknowledged write survives a
//     crash of the process.
//   - Writes are isolated from each other. A write that fails (a duplicate
//     id is server.ErrConflict, a missing item server.ErrNotFound, as
//     without batching) is rolled back to its savepoint and the others of
//     its batch commit; a batched insert needs no savepoint for that, since
//     SQLite aborts only the violating statement (the schema has no ON
//     CONFLICT clause and no trigger), and any other error of an insert
//     fails its whole batch, as a failing savepoint would. If the COMMIT
//     itself fails, every write of the
//     batch gets that error, even one that had failed on its own: nothing
//     of the batch is stored, and a conflict may have come from a write now
//     rolled back. A panic while running a write fails its batch, not the
//     process.
//   - No waiting for company. The goroutine never delays a write to collect
//     more: batches form only from writes that queued while the previous
//     transaction ran. An item write (and AddEvent) is one statement: when
//     it finds no other write it runs alone as one autocommit statement,
//     on its caller's goroutine, exactly what it cost before batching (a
//     lone item insert runs through a statement prepared on the driver
//     connection itself, skipping database/sql's per-call work; the same
//     SQL and the same commit).
//   - Multi-statement writes. The other auth writes read and change several
//     rows (UpdateUser reads the user, checks it, updates it, revokes its
//     sessions, logs the revocation and the event). They run like the
//     others, inside their own savepoint when batched, but never in
//     autocommit mode: alone, such a write is a transaction of its own (a
//     batch of one). A failure anywhere in it undoes all of it and nothing
//     else. A refresh-token reuse is not a failure: the session's
//     revocation commits and the caller is told RefreshReused.
//   - Cancellation. A write whose context has ended when it is about to
//     run is skipped and returns the context's error. A caller whose
//     context ends while its write is queued returns at once with the
//     context's error; a write the writer goroutine already picked up may
//     still run and commit: the caller cannot know (as with any write
//     racing a cancellation). A write running on its caller's goroutine
//     (only when it found the writer connection free) runs to its end (a
//     wait for another process's lock included, at most the busy timeout)
//     and returns its own result. Statements never see
//     the caller's context, so a cancellation cannot interrupt a
//     transaction that other writes share.
//   - Close stops accepting writes (later ones get ErrClosed), lets the
//     running and queued ones run and commit, waits for them and for the
//     goroutine to exit and only then closes the connections.
//
// # Tables
//
// Migration 0001 holds items; 0002 adds authentication; 0003 web sessions;
// 0004 credential versions:
//
//   - users: the username is unique under an index on lower(username),
//     so A-Z equal a-z and every other byte (NUL included) must match;
//     COLLATE NOCASE was not used because it stops comparing at a NUL.
//     Role and the disabled flag are CHECKed. Users are never deleted.
//   - sessions (user_id references users) and refresh_tokens (the SHA-256
//     of each token as a BLOB key; session_id references sessions; a NULL
//     rotated_at marks the current token of the session; a replay within
//     the grace is answered only with the successor its rotation stored,
//     while that is current, so a session has one current token). Scopes are
//     stored space-separated and must be RFC 6749 scope-tokens.
//   - revocations: the append-only log (seq AUTOINCREMENT, never reused)
//     that every process replays; indexed on until for pruning.
//   - events: the security event log, newest first by id, indexed by
//     (type, id) and (user_id, id).
//   - signing_keys: jwtkey.StoredKey rows; the sealed private key only;
//     a revoked row is never updated again.
//   - web_sessions (0003): the cookie credentials of HTML logins, keyed by
//     the SHA-256 of the cookie value (a BLOB CHECKed to 32 bytes);
//     session_id references sessions (indexed), so a credential shares its
//     session's revocation and absolute end. last_seen_at (never before
//     created_at) is the last recorded use, for the idle timeout;
//     LookupWebSession moves it forward only once it is touchAfter old,
//     one UPDATE on the one-statement fast path. PruneExpired deletes a
//     credential with its session, not earlier: one that is idle or whose
//     session is revoked is refused by LookupWebSession meanwhile.
//   - credential_version (0004) on users and sessions: UpdateUser with
//     Revoke increments the user's; a session is inserted only with the
//     user's current version (checked in the inserting transaction) and
//     refused by RotateRefresh and LookupWebSession once it lags. Both
//     start at 0 for rows older than 0004.
//
// items.owner_id has no foreign key to users: the item contract suite uses
// owners without user rows, and users are never deleted anyway.
//
// Defaults (the zero Options): 4 read connections (and 4 for GetItem), a 5 s busy timeout,
// synchronous=NORMAL, batches of at most 128 writes. Every connection also
// gets foreign_keys=ON.
//
// Times are stored as INTEGER Unix microseconds and read back as UTC, so the
// microsecond-precision times of server.Item (and of users, sessions...)
// round-trip exactly; finer precision is truncated. Where a time may be
// zero (revoked_at, rotated_at, the signing key times) it is stored as NULL
// and comes back as the zero time.Time. Tables are STRICT. Prices are REAL; NaN is
// refused because SQLite would store it as NULL.
package sqlite

// Package sqlite is the embedded default store of the reference server: a
// server.Store kept in one SQLite file through modernc.org/sqlite (pure Go,
// no cgo).
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
//   - Lock errors under load. All writes go through one connection, so
//     writers queue in database/sql (honouring ctx) instead of failing with
//     SQLITE_BUSY; transactions begin IMMEDIATE; reads use a separate pool
//     of read-only connections (mode=ro plus query_only) that WAL lets run
//     alongside the writer; busy_timeout covers other processes.
//
// Defaults (the zero Options): 4 read connections, a 5 s busy timeout,
// synchronous=NORMAL. Every connection also gets foreign_keys=ON.
//
// Times are stored as INTEGER Unix microseconds and read back as UTC, so the
// microsecond-precision times of server.Item round-trip exactly; finer
// precision is truncated. Tables are STRICT. Prices are REAL; NaN is
// refused because SQLite would store it as NULL.
package sqlite

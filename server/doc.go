// Package server is the domain of the reference server that `fortapi serve`
// runs: its entities (Item), the errors every store reports (ErrNotFound,
// ErrConflict) and the store interfaces its handlers consume.
//
// Defences that live here: object-level authorization is part of every
// store call (Access carries the caller, and stores put the owner condition
// into the query itself, answering ErrNotFound for another user's item so
// existence does not leak), and ids are random UUIDv7 values, never
// sequential, so they cannot be enumerated.
//
// Stores: server/sqlite (embedded default) and server/postgres (scale-out,
// several processes on one database). server/storetest holds the contract
// suite every store passes; the rules every store applies alike (scope
// syntax, roles, revocation fields, event defaults, NaN-free prices) are
// functions and methods here (rules.go), canonical usernames in
// username.go.
package server

package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fortapi/fortapi/jwtkey"
)

// Scopes the reference server grants. A token carries a subset of its
// user's role scopes.
const (
	ScopeItemsRead  = "items:read"
	ScopeItemsWrite = "items:write"
	ScopeUsersAdmin = "users:admin"
	ScopeKeysAdmin  = "keys:admin"
)

// Role is what a user may do; it maps to a fixed set of scopes.
type Role string

// The roles.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// ParseRole returns the role named s, or an error quoting s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleUser, RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q (want %q or %q)", s, RoleUser, RoleAdmin)
}

// Scopes returns the scopes the role grants (a new slice), or nil for an
// unknown role.
func (r Role) Scopes() []string {
	switch r {
	case RoleUser:
		return []string{ScopeItemsRead, ScopeItemsWrite}
	case RoleAdmin:
		return []string{ScopeItemsRead, ScopeItemsWrite, ScopeUsersAdmin, ScopeKeysAdmin}
	}
	return nil
}

// ErrLastAdmin is returned by UpdateUser when the change would leave no
// enabled administrator.
var ErrLastAdmin = errors.New("the last enabled administrator cannot be demoted or disabled")

// User is an account. PasswordHash is a PHC (argon2id) or bcrypt string and
// never leaves the server: no API type has a field for it.
type User struct {
	ID           string
	Username     string
	Role         Role
	PasswordHash string
	Disabled     bool
	// CredentialVersion counts the changes that end the user's sessions:
	// every UpdateUser with Revoke (a password change, a disable, a role
	// change) adds one, in the transaction that revokes. A login reads it
	// with the user and hands it to CreateSession (Session.
	// CredentialVersion), which refuses the session if it has moved since:
	// a login that raced such a change cannot outlive it. A new user
	// starts at 0 (CreateUser ignores the field).
	CredentialVersion int64
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Session is one login: the family of refresh tokens that descend from it.
// Access tokens name it in their sid claim.
type Session struct {
	ID     string
	UserID string
	// Scopes granted at login (a subset of the role's scopes). Each is an
	// RFC 6749 scope-token (printable ASCII, no space, '"' or '\'); a
	// store refuses others.
	Scopes    []string
	CreatedAt time.Time
	// ExpiresAt is the absolute end: no refresh extends it.
	ExpiresAt time.Time
	// RevokedAt is zero while the session lives.
	RevokedAt time.Time
	// CredentialVersion is the user's CredentialVersion as the login read
	// it, before checking the password. CreateSession and CreateWebSession
	// refuse the session (ErrConflict) unless the stored user's version
	// still equals it, checked in the transaction that inserts the
	// session. It is stored with the session: RotateRefresh and
	// LookupWebSession return it, and refuse (as revoked) a session whose
	// version is not the user's current one.
	CredentialVersion int64
}

// RefreshToken is a stored refresh token: only the SHA-256 of the token
// string is kept.
type RefreshToken struct {
	Hash      []byte
	SessionID string
	CreatedAt time.Time
	ExpiresAt time.Time
	// RotatedAt is zero while the token is the current one of its family.
	RotatedAt time.Time
}

// WebSession is the cookie credential of a Session created by an HTML login
// (CreateWebSession). The cookie value is an opaque random string held by
// the browser; only its SHA-256 is stored, so a copy of the database gives
// no cookie. The credential lives as long as its Session (revocation and
// ExpiresAt included) and, besides, ends when it has been idle too long
// (LookupWebSession).
type WebSession struct {
	// Hash is the SHA-256 of the cookie value: exactly 32 bytes.
	Hash []byte
	// SessionID is the session the credential belongs to; the store fills
	// it in from the Session when it is empty.
	SessionID string
	CreatedAt time.Time
	// LastSeenAt is when the credential was last used, as recorded by
	// LookupWebSession (which updates it lazily); zero means CreatedAt.
	LastSeenAt time.Time
}

// RevocationKind says what a Revocation names.
type RevocationKind string

// The kinds of revocation, each consulted per request from memory.
const (
	// RevokeSubject: every access token of the user (Value) issued before
	// NotBefore is refused.
	RevokeSubject RevocationKind = "subject"
	// RevokeSession: every access token of the session (Value) is refused.
	RevokeSession RevocationKind = "session"
	// RevokeJTI: the access token with that jti (Value) is refused.
	RevokeJTI RevocationKind = "jti"
)

// Revocation is one entry of the revocation log, which every server
// process replays into its in-memory checker. Until is when the entry can
// be forgotten: no token it refuses can still be unexpired. A store refuses
// an entry with a zero Until (it would refuse nothing) or an empty Value.
type Revocation struct {
	Seq       int64
	Kind      RevocationKind
	Value     string
	NotBefore time.Time
	Until     time.Time
	CreatedAt time.Time
}

// Security event types written to the audit log.
const (
	EventLoginSuccess    = "login.success"
	EventLoginFailure    = "login.failure"
	EventLoginThrottled  = "login.throttled"
	EventRefresh         = "token.refresh"
	EventRefreshReuse    = "token.refresh_reuse"
	EventLogout          = "session.logout"
	EventPasswordChanged = "user.password_changed"
	EventPasswordRehash  = "user.password_rehashed"
	EventUserCreated     = "user.created"
	EventRoleChanged     = "user.role_changed"
	EventUserDisabled    = "user.disabled"
	EventUserEnabled     = "user.enabled"
	EventKeyRotated      = "key.rotated"
	EventKeyRevoked      = "key.revoked"
	EventAPIKeyCreated   = "apikey.created"
	EventAPIKeyRevoked   = "apikey.revoked"
)

// Event is one security event. It never holds a password or a token:
// Detail is a short fixed description chosen by the server. Where a store
// method writes an event for the caller, it fills in At (the operation's
// time) and the user and session fields the caller left empty.
//
// Username is the user's name when the event was written, kept in the
// row: a later change of the user's name does not rewrite the log. Every
// store method that writes an event in a transaction (all but AddEvent)
// sets an empty Username of an event with a UserID to that user's stored
// name read in the same transaction (escaped: EscapeUsername), or leaves
// it empty for an unknown user. AddEvent writes the event as given (a
// copy between stores must not change history); its callers fill it in.
//
// Actor names who made a change, as the server words it: "cli", an
// administrator (`admin "root"`), "its owner"; empty where the event names
// no one else (a login, a logout, a user's own password change, a key
// rotated by the administrator the event's user is, the server's own).
type Event struct {
	ID        int64
	At        time.Time
	Type      string
	UserID    string
	Username  string
	SessionID string
	ClientIP  string
	Detail    string
	Actor     string
	// RequestID is the id of the HTTP request that caused the event
	// (fortapi.RequestID: the request_id of the request log line and of
	// error answers), empty for the CLI and the server's own events.
	RequestID string
}

// EventCursor is a position in the audit log in time order: the events
// after it are those with a later At, or the same At and a larger ID.
// EventCursor{At: t} starts at the first event at or after t.
type EventCursor struct {
	At time.Time
	ID int64
}

// MaxEventBatch is the most events EventsInOrder returns in one call.
const MaxEventBatch = 1000

// CheckEventBatch is the stores' check of the limit given to
// EventsInOrder and PruneEvents: nil for 1..MaxEventBatch.
func CheckEventBatch(limit int) error {
	if limit <= 0 || limit > MaxEventBatch {
		return fmt.Errorf("limit is %d, want 1..%d", limit, MaxEventBatch)
	}
	return nil
}

// MaxPruneEventsBatch is the most events one PruneEvents call deletes.
const MaxPruneEventsBatch = 10000

// EventFilter selects events for ListEvents. Zero fields do not filter,
// except Limit, which must be 1..1000.
type EventFilter struct {
	Type   string
	UserID string
	// BeforeID pages backwards: only events with a smaller ID (0 = newest).
	BeforeID int64
	Limit    int
}

// UserChange is a change to a user, applied atomically by UpdateUser.
// Nil fields stay as they are.
type UserChange struct {
	Role         *Role
	Disabled     *bool
	PasswordHash *string
	// IfPasswordHash, when set, applies the change only if the stored hash
	// still equals it (a re-hash at login must not overwrite a password
	// changed meanwhile); otherwise UpdateUser returns ErrConflict.
	IfPasswordHash *string
	// Revoke, when set, revokes every session of the user, adds one to its
	// CredentialVersion (so that a login that read the user before this
	// change cannot start a session after it), and appends it
	// (a RevokeSubject entry) and one RevokeSession entry per live session
	// (with Revoke's Until) to the revocation log, in the same transaction
	// as the change. The store fills in what is left zero:
	// Kind (RevokeSubject), Value (the user id), NotBefore and CreatedAt
	// (the change's time); Until must be set.
	Revoke *Revocation
}

// RefreshOutcome is what RotateRefresh found.
type RefreshOutcome int

// The outcomes of RotateRefresh.
const (
	// RefreshInvalid: unknown, expired, or its session or user is revoked,
	// expired or disabled. Nothing changed; the result's Session and User
	// are zero.
	RefreshInvalid RefreshOutcome = iota
	// RefreshRotated: the token was current; it is now rotated and Next
	// is stored as the session's current token. Or (the result's Replay
	// is set) the token was rotated less than Grace ago, and Next is the
	// successor that rotation stored, still current: nothing changes, and
	// the caller answers with that same successor again. A replay within
	// the grace therefore never starts a second chain: the session keeps
	// one current token, and whichever of two holders (a client and a
	// thief) uses it second is a reuse.
	RefreshRotated
	// RefreshReused: a rotated token was presented again and cannot be
	// answered with its successor: it was rotated Grace or longer ago
	// (with a zero Grace: at all), or its successor (Next) is no longer
	// current (it has been rotated in turn: the chain has moved on) or is
	// not the one stored at its rotation. Its session is revoked, the
	// revocation is logged and the event written, all in one transaction,
	// which commits: RotateRefresh returns a nil error, and the caller
	// refuses the refresh. A session already revoked makes any later
	// presentation RefreshInvalid, so a replayed token revokes once.
	RefreshReused
)

// RefreshRequest is the input of RotateRefresh.
type RefreshRequest struct {
	Hash []byte
	// Next is the token that replaces it (SessionID is filled in by the
	// store from the presented token's session; a zero CreatedAt becomes
	// Now). The caller derives it deterministically from the presented
	// token (authn: an HMAC of it under a server key), so that every
	// presentation of one token asks for the same successor: that is how
	// a replay within the grace is recognised and answered with the
	// successor already stored rather than a new one.
	Next RefreshToken
	Now  time.Time
	// Grace is how long after its rotation a token is still answered, with
	// its one successor, while that successor is current (concurrent
	// refreshes from one client); zero accepts a token once.
	Grace time.Duration
	// Revoke is the session revocation to log on reuse (Seq and Value are
	// filled in by the store, Kind if empty with RevokeSession, CreatedAt
	// if zero with Now; Until must be set, and is checked on every call);
	// Event is the event to write on reuse (UserID, Username, SessionID
	// and At filled in by the store, Type if empty with EventRefreshReuse).
	Revoke Revocation
	Event  Event
}

// RefreshResult is the output of RotateRefresh.
type RefreshResult struct {
	Outcome RefreshOutcome
	// Replay is set with RefreshRotated when the token had already been
	// rotated (within the grace) and Next is its stored successor,
	// returned again; nothing was stored.
	Replay  bool
	Session Session
	User    User
}

// AuthStore keeps users, sessions, refresh tokens, web session (cookie)
// credentials, the revocation log, the audit log and the signing keys.
// Every method that changes more than one row does so in one transaction:
// when it returns an error, nothing of it is stored.
//
// As for Item, times are UTC with microsecond precision: a store keeps
// them to the microsecond and gives them back in UTC. Ids, usernames,
// hashes and the times a row needs (CreatedAt, ExpiresAt, Until, now) must
// not be empty or zero, and limits must be positive: a store refuses such
// input with an error rather than store a row with an empty key.
type AuthStore interface {
	// CreateUser stores a new user; an id or a username already taken
	// gives ErrConflict. u.Username must be canonical
	// (CanonicalUsername(u.Username) returns it unchanged): a store refuses
	// any other with a *UsernameError, so "Admin" and "ａｄｍｉｎ" can never
	// be users besides "admin"; the caller canonicalizes first. Usernames
	// compare exactly. A zero UpdatedAt becomes CreatedAt. ev, when its
	// Type is set, is written in the same transaction.
	CreateUser(ctx context.Context, u User, ev Event) error
	// GetUser returns the user with the id, or ErrNotFound.
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByName returns the user whose username is the canonical form
	// of username (CanonicalUsername: "ADMIN" and "ａｄｍｉｎ" find "admin"),
	// or ErrNotFound, also for a username that has no canonical form.
	GetUserByName(ctx context.Context, username string) (User, error)
	// ListUsers returns at most limit users with an ID greater than after
	// ("" for the first page), in ascending ID order.
	ListUsers(ctx context.Context, after string, limit int) ([]User, error)
	// UpdateUser applies ch to the user with the id, sets UpdatedAt to now
	// and returns the stored user: ErrNotFound, ErrConflict
	// (IfPasswordHash mismatch) or ErrLastAdmin (the change would demote
	// or disable the last enabled admin). ev, when its Type is set, is
	// written in the same transaction.
	UpdateUser(ctx context.Context, id string, ch UserChange, now time.Time, ev Event) (User, error)

	// CreateSession stores a new session and its first refresh token, and
	// ev, in one transaction. It refuses (ErrConflict) a session for a
	// disabled user, with a scope the user's current role lacks, or whose
	// CredentialVersion is not the user's current one, checked in the same
	// transaction, so a login racing a password change, a disable or a
	// role change cannot outlive it. rt.SessionID may be left empty. An unknown
	// user gives ErrNotFound; a session id or token hash already stored
	// gives ErrConflict.
	CreateSession(ctx context.Context, s Session, rt RefreshToken, ev Event) error
	// RotateRefresh looks the presented token up by hash and rotates it
	// (see RefreshOutcome), atomically. The result's Session and User are
	// those of the presented token. A token whose session's
	// CredentialVersion is not the user's current one is RefreshInvalid,
	// like one of a revoked session. An error means nothing changed.
	RotateRefresh(ctx context.Context, req RefreshRequest) (RefreshResult, error)
	// RevokeSession marks the session revoked (if it is not already),
	// appends rev to the revocation log and writes ev, in one transaction.
	// Revoking a revoked session is not an error (rev and ev are written
	// again); an unknown session is ErrNotFound. rev's Kind defaults to
	// RevokeSession, its Value to sessionID, its CreatedAt to now.
	RevokeSession(ctx context.Context, sessionID string, rev Revocation, now time.Time, ev Event) error
	// CreateWebSession stores a new session s, its cookie credential ws
	// and ev, in one transaction, with exactly CreateSession's checks: an
	// unknown user gives ErrNotFound; a disabled user, a scope the user's
	// current role lacks, a CredentialVersion that is not the user's
	// current one (all checked in the transaction), a session id
	// or a credential hash already stored give ErrConflict. ws.Hash must
	// be 32 bytes (a SHA-256); ws.SessionID may be left empty; a zero
	// ws.CreatedAt becomes s.CreatedAt and a zero ws.LastSeenAt
	// ws.CreatedAt (a LastSeenAt before CreatedAt is refused).
	CreateWebSession(ctx context.Context, s Session, ws WebSession, ev Event) error
	// LookupWebSession returns the live session whose cookie credential
	// has the hash, and its user. It returns ErrNotFound, one error for
	// every case so that callers cannot tell them apart, when the hash is
	// unknown, the session is revoked (RevokeSession, UpdateUser with
	// Revoke: refused from the moment that commits), the session is past
	// its absolute end (ExpiresAt <= now), the credential has been idle
	// for idle or longer (LastSeenAt+idle <= now), the user is disabled,
	// or the session's CredentialVersion is not the user's current one.
	//
	// The returned Session's Scopes are its stored scopes that the user's
	// CURRENT role still grants, in stored order: a role change without
	// Revoke takes the lost scopes away from cookie sessions at once. Its
	// RevokedAt is zero.
	//
	// When the credential was last seen touchAfter or longer ago
	// (LastSeenAt+touchAfter <= now), LastSeenAt is set to now: one
	// small write, not one per request. LastSeenAt never moves backwards.
	// So the idle timeout counts from the last recorded use, and a
	// credential used steadily expires between idle-touchAfter and idle
	// after its last request. idle must be positive and touchAfter in
	// [0, idle): a touchAfter of idle or more would never record a use
	// before the credential went idle. Bad input (a hash that is not 32
	// bytes, a zero now, such durations) is an error that is not
	// ErrNotFound, as is a failed read or touch: it says nothing of the
	// credential.
	LookupWebSession(ctx context.Context, hash []byte, now time.Time, idle, touchAfter time.Duration) (Session, User, error)
	// AddRevocation appends rev to the revocation log (Seq is assigned; a
	// zero CreatedAt becomes the current time).
	AddRevocation(ctx context.Context, rev Revocation) error
	// Revocations returns the log entries with Seq > afterSeq whose Until
	// is after now, in Seq order, at most limit of them.
	Revocations(ctx context.Context, afterSeq int64, now time.Time, limit int) ([]Revocation, error)

	// PruneExpired deletes what can no longer matter at now: revocation
	// log entries whose Until has passed, refresh tokens that have
	// expired, and sessions past their absolute end (with their tokens
	// and their web session credentials). It returns how many rows it
	// deleted. Security events are kept. A web session credential is
	// deleted only with its session: one idle past LookupWebSession's
	// idle (which PruneExpired does not know) or of a revoked session is
	// already refused by LookupWebSession, and its row goes at its
	// session's ExpiresAt, which bounds every credential's life.
	PruneExpired(ctx context.Context, now time.Time) (int64, error)

	// AddEvent writes one security event (ID is assigned; Type must be
	// set; a zero At becomes the current time).
	AddEvent(ctx context.Context, ev Event) error
	// ListEvents returns events newest first.
	ListEvents(ctx context.Context, f EventFilter) ([]Event, error)
	// EventsInOrder returns at most limit (1..MaxEventBatch) events after
	// the cursor and (unless until is zero) with At before until, in
	// (At, ID) order: the export reads the log page by page, the last
	// event of one page being the cursor of the next.
	EventsInOrder(ctx context.Context, after EventCursor, until time.Time, limit int) ([]Event, error)
	// PruneEvents deletes at most limit (1..MaxPruneEventsBatch) events
	// with At before before, oldest first (by At, then ID), in one short
	// statement, and returns how many it deleted: fewer than limit means
	// none is left. Concurrent calls (several instances) never delete an
	// event twice nor fail on one another's deletions; the audit retention
	// loops, pausing between batches, so that no single write holds the
	// store for long.
	PruneEvents(ctx context.Context, before time.Time, limit int) (int64, error)

	// Signing keys: jwtkey.Store, with its rules (SaveKeys is an
	// all-or-nothing upsert that never changes a revoked row). LoadKeys
	// returns the keys oldest first (zero CreatedAt first), then by ID.
	LoadKeys(ctx context.Context) ([]jwtkey.StoredKey, error)
	SaveKeys(ctx context.Context, keys []jwtkey.StoredKey) error

	// API keys (apikey.go).
	APIKeyStore
}

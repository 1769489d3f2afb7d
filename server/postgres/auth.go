package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fortapi/fortapi/server"
)

// server.AuthStore on PostgreSQL (tables of migrations/0002_auth.sql):
// users, sessions, refresh tokens, the revocation log and the event log.
// Web session credentials are in websession.go, signing keys in keys.go.
//
// Transactions run at READ COMMITTED, PostgreSQL's default, where every
// statement sees what committed before it started. What a transaction
// decides on, it first locks, so that the statements after the lock see
// the latest committed state and nobody can change it before the commit:
//
//   - RotateRefresh locks the token's session row (FOR UPDATE) before it
//     reads the token, its session and its user: every refresh of one
//     family is decided after the previous one has committed.
//   - UpdateUser locks the user row (FOR NO KEY UPDATE); a change of role
//     or of the disabled flag first takes a transaction-level advisory
//     lock for the schema's administrators, so two demotions of the last
//     two administrators are decided one after the other.
//   - CreateSession and CreateWebSession read the user FOR SHARE: a
//     disable, role or password change waits for the login to commit (and
//     its Revoke then finds the new session), or the login waits for it
//     and sees the new standing and credential version.
//   - Inserts into the revocation log hold the log's advisory lock until
//     commit (Store.lockRevocationLog).

// maxEventsPage is the largest page ListEvents returns.
const maxEventsPage = 1000

// Every statement is a constant with $n placeholders; values travel only
// as arguments. The only literals are the role and revocation kind names
// of the schema itself.
const (
	userColumns  = "id, username, role, password_hash, disabled, created_at, updated_at, credential_version"
	uUserColumns = "u.id, u.username, u.role, u.password_hash, u.disabled, u.created_at, u.updated_at, u.credential_version"

	// A new user starts at credential version 0 (the column's default).
	sqlInsertUser = "INSERT INTO users (id, username, role, password_hash, disabled, created_at, updated_at)" +
		" VALUES ($1, $2, $3, $4, $5, $6, $7)"
	sqlGetUser        = "SELECT " + userColumns + " FROM users WHERE id = $1"
	sqlGetUserForUpd  = "SELECT " + userColumns + " FROM users WHERE id = $1 FOR NO KEY UPDATE"
	sqlGetUserByName  = "SELECT " + userColumns + " FROM users WHERE username = $1"
	sqlListUsers      = "SELECT " + userColumns + " FROM users WHERE id > $1 ORDER BY id LIMIT $2"
	sqlUpdateUser     = "UPDATE users SET role = $1, password_hash = $2, disabled = $3, updated_at = $4, credential_version = $5 WHERE id = $6"
	sqlOtherAdminLeft = "SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin' AND NOT disabled AND id <> $1)"
	sqlLockAdmins     = "SELECT pg_advisory_xact_lock($1)"
	sqlUserStanding   = "SELECT role, disabled, credential_version FROM users WHERE id = $1 FOR SHARE"

	sqlInsertSession       = "INSERT INTO sessions (id, user_id, scopes, created_at, expires_at, revoked_at, credential_version) VALUES ($1, $2, $3, $4, $5, $6, $7)"
	sqlGetSessionForRevoke = "SELECT user_id FROM sessions WHERE id = $1 FOR UPDATE"
	sqlRevokeSession       = "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
	// Revoking every session of a user returns those still live, for one
	// session revocation each in the log: sessions are exact where a
	// subject's not-before (whole seconds in tokens) cannot be.
	// The rows are locked in id order, as PruneExpired locks them, so the
	// two cannot deadlock.
	sqlRevokeUserSessions = "UPDATE sessions SET revoked_at = $1 WHERE id IN" +
		" (SELECT id FROM sessions WHERE user_id = $2 AND revoked_at IS NULL ORDER BY id FOR UPDATE)" +
		" RETURNING id, expires_at"

	sqlInsertRefresh = "INSERT INTO refresh_tokens (hash, session_id, created_at, expires_at, rotated_at) VALUES ($1, $2, $3, $4, NULL)"
	sqlRotateRefresh = "UPDATE refresh_tokens SET rotated_at = $1 WHERE hash = $2 AND rotated_at IS NULL"
	// The family lock: the presented token's session row.
	sqlLockRefreshFamily = "SELECT s.id FROM sessions AS s JOIN refresh_tokens AS rt ON rt.session_id = s.id WHERE rt.hash = $1 FOR UPDATE OF s"
	// The presented token with its session and user, read once the family
	// is locked.
	sqlFindRefresh = "SELECT rt.session_id, rt.expires_at, rt.rotated_at, " +
		"s.user_id, s.scopes, s.created_at, s.expires_at, s.revoked_at, s.credential_version, " + uUserColumns +
		" FROM refresh_tokens AS rt JOIN sessions AS s ON s.id = rt.session_id JOIN users AS u ON u.id = s.user_id" +
		" WHERE rt.hash = $1"
	// Whether a rotated token's successor (deterministic: the caller
	// derives it from the presented token) is its session's current
	// token: stored for that session, not rotated, not expired.
	sqlSuccessorCurrent = "SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE hash = $1 AND session_id = $2 AND rotated_at IS NULL AND expires_at > $3)"

	revocationColumns   = "seq, kind, value, not_before, until, created_at"
	sqlInsertRevocation = "INSERT INTO revocations (kind, value, not_before, until, created_at) VALUES ($1, $2, $3, $4, $5)"
	sqlRevocations      = "SELECT " + revocationColumns + " FROM revocations WHERE seq > $1 AND until > $2 ORDER BY seq LIMIT $3"

	eventColumns     = "id, at, type, user_id, username, session_id, client_ip, detail, actor, request_id"
	sqlInsertEvent   = "INSERT INTO events (at, type, user_id, username, session_id, client_ip, detail, actor, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
	sqlEventUsername = "SELECT username FROM users WHERE id = $1"
	sqlEventsInOrder = "SELECT " + eventColumns + " FROM events WHERE (at, id) > ($1, $2) AND at < $3 ORDER BY at, id LIMIT $4"
	// SKIP LOCKED: instances pruning at once take disjoint batches, none
	// waits for another's, and a row is deleted once.
	sqlPruneEvents     = "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE at < $1 ORDER BY at, id LIMIT $2 FOR UPDATE SKIP LOCKED)"
	sqlListEvents      = "SELECT " + eventColumns + " FROM events WHERE id < $1 ORDER BY id DESC LIMIT $2"
	sqlListEventsType  = "SELECT " + eventColumns + " FROM events WHERE type = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
	sqlListEventsUser  = "SELECT " + eventColumns + " FROM events WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
	sqlListEventsTypeU = "SELECT " + eventColumns + " FROM events WHERE type = $1 AND user_id = $2 AND id < $3 ORDER BY id DESC LIMIT $4"
)

// Input checks. A store is the last line: an empty id would otherwise
// become a row with an empty key that later lookups could match.

func checkUser(u server.User) error {
	switch {
	case u.ID == "":
		return errors.New("empty user id")
	case u.Username == "":
		return errors.New("empty username")
	}
	// Only canonical usernames are stored (the caller canonicalizes): the
	// unique index on username then makes every spelling of a name one.
	if err := server.CheckCanonicalUsername(u.Username); err != nil {
		return err
	}
	switch {
	case u.PasswordHash == "":
		return errors.New("empty password hash")
	case u.CreatedAt.IsZero():
		return errors.New("zero CreatedAt")
	}
	return u.Role.Validate()
}

// scanUser reads one row of userColumns.
func scanUser(row pgx.Row) (server.User, error) {
	var u server.User
	if err := row.Scan(userDest(&u)...); err != nil {
		return server.User{}, err
	}
	return utcUser(u), nil
}

// userDest returns the scan destinations of userColumns for u.
func userDest(u *server.User) []any {
	return []any{str(&u.ID), str(&u.Username), (*string)(&u.Role), str(&u.PasswordHash), &u.Disabled, &u.CreatedAt, &u.UpdatedAt,
		&u.CredentialVersion}
}

func utcUser(u server.User) server.User {
	u.CreatedAt = u.CreatedAt.UTC()
	u.UpdatedAt = u.UpdatedAt.UTC()
	return u
}

// execEvent writes ev on tx (a no-op when ev.Type is empty); the caller has
// set ev.At.
func execEvent(ctx context.Context, tx pgx.Tx, ev server.Event) error {
	if ev.Type == "" {
		return nil
	}
	if ev.UserID != "" && ev.Username == "" {
		// The name at the time of the event (server.Event).
		var name string
		err := tx.QueryRow(ctx, sqlEventUsername, raw(ev.UserID)).Scan(str(&name))
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		ev.Username = server.EscapeUsername(name)
	}
	_, err := tx.Exec(ctx, sqlInsertEvent, eventArgs(ev)...)
	return err
}

func eventArgs(ev server.Event) []any {
	return []any{micro(ev.At), raw(ev.Type), raw(ev.UserID), raw(ev.Username), raw(ev.SessionID), raw(ev.ClientIP), raw(ev.Detail), raw(ev.Actor), raw(ev.RequestID)}
}

// execRevocations appends revs, already checked, to the revocation log on
// tx, in order, under the log's lock, and queues the change notification
// that wakes every listener when tx commits (notify.go).
func (s *Store) execRevocations(ctx context.Context, tx pgx.Tx, revs ...server.Revocation) error {
	if err := s.lockRevocationLog(ctx, tx); err != nil {
		return err
	}
	if err := s.notify(ctx, tx, payloadRevocations); err != nil {
		return err
	}
	for _, rev := range revs {
		_, err := tx.Exec(ctx, sqlInsertRevocation,
			string(rev.Kind), raw(rev.Value), nullTime(micro0(rev.NotBefore)), micro(rev.Until), micro(rev.CreatedAt))
		if err != nil {
			return err
		}
	}
	return nil
}

// micro0 is micro that keeps the zero time zero.
func micro0(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return micro(t)
}

// CreateUser implements server.AuthStore.
func (s *Store) CreateUser(ctx context.Context, u server.User, ev server.Event) error {
	const op = "create user"
	if err := checkUser(u); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	ev = ev.Filled(u.CreatedAt, u.ID, u.Username, "")
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sqlInsertUser, raw(u.ID), raw(u.Username),
			string(u.Role), raw(u.PasswordHash), u.Disabled, micro(u.CreatedAt), micro(u.UpdatedAt))
		if isUniqueViolation(err) {
			return fmt.Errorf("postgres: %s: id or username taken: %w", op, server.ErrConflict)
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		if err := execEvent(ctx, tx, ev); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	})
}

// GetUser implements server.AuthStore.
func (s *Store) GetUser(ctx context.Context, id string) (server.User, error) {
	return s.oneUser(ctx, "get user", sqlGetUser, id)
}

// GetUserByName implements server.AuthStore: the user whose username is
// the canonical form of username (stored usernames are canonical and
// compared exactly); a username without one is ErrNotFound.
func (s *Store) GetUserByName(ctx context.Context, username string) (server.User, error) {
	name, err := server.CanonicalUsername(username)
	if err != nil {
		return server.User{}, server.ErrNotFound
	}
	return s.oneUser(ctx, "get user by name", sqlGetUserByName, name)
}

func (s *Store) oneUser(ctx context.Context, op, query, arg string) (server.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, query, raw(arg)))
	if errors.Is(err, pgx.ErrNoRows) {
		return server.User{}, server.ErrNotFound
	}
	if err != nil {
		return server.User{}, wrap(ctx, op, err)
	}
	return u, nil
}

// ListUsers implements server.AuthStore, in ascending ID order (as raw
// bytes). limit must be positive.
func (s *Store) ListUsers(ctx context.Context, after string, limit int) ([]server.User, error) {
	const op = "list users"
	if limit <= 0 {
		return nil, fmt.Errorf("postgres: %s: limit is %d, want > 0", op, limit)
	}
	rows, err := s.pool.Query(ctx, sqlListUsers, raw(after), limit)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (server.User, error) { return scanUser(r) })
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	return users, nil
}

// UpdateUser implements server.AuthStore. The user is locked, read,
// checked and written in one transaction, so IfPasswordHash and the
// last-admin check see what is changed; changes of role or standing are
// serialized by the administrators' advisory lock, so the last-admin
// check cannot be raced.
func (s *Store) UpdateUser(ctx context.Context, id string, ch server.UserChange, now time.Time, ev server.Event) (server.User, error) {
	const op = "update user"
	ch, err := ch.Normalize(id, now)
	if err != nil {
		return server.User{}, fmt.Errorf("postgres: %s: %w", op, err)
	}
	now = micro(now)

	var got server.User
	err = s.inTx(ctx, op, func(tx pgx.Tx) error {
		if ch.Role != nil || ch.Disabled != nil {
			if _, err := tx.Exec(ctx, sqlLockAdmins, s.adminLock); err != nil {
				return wrap(ctx, op, err)
			}
		}
		u, err := scanUser(tx.QueryRow(ctx, sqlGetUserForUpd, raw(id)))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: %s: %w", op, server.ErrNotFound)
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		u, checkLastAdmin, err := ch.Apply(u, now)
		if err != nil {
			return fmt.Errorf("postgres: %s: %w", op, err)
		}
		if checkLastAdmin {
			var others bool
			if err := tx.QueryRow(ctx, sqlOtherAdminLeft, raw(id)).Scan(&others); err != nil {
				return wrap(ctx, op, err)
			}
			if !others {
				return fmt.Errorf("postgres: %s: %w", op, server.ErrLastAdmin)
			}
		}
		if _, err := tx.Exec(ctx, sqlUpdateUser, string(u.Role), raw(u.PasswordHash), u.Disabled, now, u.CredentialVersion, raw(id)); err != nil {
			return wrap(ctx, op, err)
		}
		if ch.Revoke != nil {
			revs, err := revokeUserSessions(ctx, tx, id, now, ch.Revoke.Until)
			if err != nil {
				return wrap(ctx, op, err)
			}
			if err := s.execRevocations(ctx, tx, append(revs, *ch.Revoke)...); err != nil {
				return wrap(ctx, op, err)
			}
		}
		if err := execEvent(ctx, tx, ev.Filled(now, u.ID, u.Username, "")); err != nil {
			return wrap(ctx, op, err)
		}
		got = u
		return nil
	})
	if err != nil {
		return server.User{}, err
	}
	return got, nil
}

// revokeUserSessions revokes every session of the user not yet revoked
// and returns one session revocation (until) for each that had not
// expired yet, in session id order.
func revokeUserSessions(ctx context.Context, tx pgx.Tx, userID string, now, until time.Time) ([]server.Revocation, error) {
	rows, err := tx.Query(ctx, sqlRevokeUserSessions, now, raw(userID))
	if err != nil {
		return nil, err
	}
	type revoked struct {
		id      string
		expires time.Time
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (revoked, error) {
		var v revoked
		err := r.Scan(str(&v.id), &v.expires)
		return v, err
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(got, func(a, b revoked) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	var revs []server.Revocation
	for _, v := range got {
		if v.expires.After(now) {
			revs = append(revs, server.Revocation{Kind: server.RevokeSession, Value: v.id, Until: until, CreatedAt: now})
		}
	}
	return revs, nil
}

// insertSession stores sess, already checked (scopes is its stored form),
// on tx, after checking in the same transaction, with the user row
// locked FOR SHARE, that the user exists (ErrNotFound), is enabled, that
// its credential version is still the one the login read and that its
// current role grants every scope of sess (ErrConflict): a login that
// raced a password change, a disable or a role change must not start a
// session with what the user no longer has. A session id already stored
// is ErrConflict.
func insertSession(ctx context.Context, tx pgx.Tx, op string, sess server.Session, scopes string) error {
	var (
		role     server.Role
		disabled bool
		version  int64
	)
	err := tx.QueryRow(ctx, sqlUserStanding, raw(sess.UserID)).Scan((*string)(&role), &disabled, &version)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("postgres: %s: no such user: %w", op, server.ErrNotFound)
	case err != nil:
		return wrap(ctx, op, err)
	case disabled:
		return fmt.Errorf("postgres: %s: the user is disabled: %w", op, server.ErrConflict)
	case version != sess.CredentialVersion:
		return fmt.Errorf("postgres: %s: the user's credentials changed after the login read them: %w", op, server.ErrConflict)
	}
	for _, sc := range sess.Scopes {
		if !role.Grants(sc) {
			return fmt.Errorf("postgres: %s: the scope %q is not granted to the user's role: %w", op, sc, server.ErrConflict)
		}
	}
	_, err = tx.Exec(ctx, sqlInsertSession, raw(sess.ID), raw(sess.UserID), scopes,
		micro(sess.CreatedAt), micro(sess.ExpiresAt), nullTime(micro0(sess.RevokedAt)), sess.CredentialVersion)
	switch {
	case isUniqueViolation(err):
		return fmt.Errorf("postgres: %s: session id taken: %w", op, server.ErrConflict)
	case isForeignKeyViolation(err):
		return fmt.Errorf("postgres: %s: no such user: %w", op, server.ErrNotFound)
	case err != nil:
		return wrap(ctx, op, err)
	}
	return nil
}

// CreateSession implements server.AuthStore. An unknown user is
// ErrNotFound; a session id or token hash already stored is ErrConflict.
func (s *Store) CreateSession(ctx context.Context, sess server.Session, rt server.RefreshToken, ev server.Event) error {
	const op = "create session"
	rt, err := rt.CheckNew(sess)
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	return s.createSession(ctx, op, sess, ev, "refresh token", func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, sqlInsertRefresh, rt.Hash, raw(sess.ID), micro(rt.CreatedAt), micro(rt.ExpiresAt))
		return err
	})
}

// createSession checks sess and stores it, its credential (insertCred,
// whose unique violation means the credential's hash is taken: what names
// it) and ev, in one transaction. CreateSession and CreateWebSession use
// it.
func (s *Store) createSession(ctx context.Context, op string, sess server.Session, ev server.Event, what string, insertCred func(tx pgx.Tx) error) error {
	scopes, err := sess.CheckNew()
	if err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	ev = ev.Filled(sess.CreatedAt, sess.UserID, "", sess.ID)
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		if err := insertSession(ctx, tx, op, sess, scopes); err != nil {
			return err
		}
		err := insertCred(tx)
		if isUniqueViolation(err) {
			return fmt.Errorf("postgres: %s: %s hash taken: %w", op, what, server.ErrConflict)
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		if err := execEvent(ctx, tx, ev); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	})
}

// RotateRefresh implements server.AuthStore. The presented token's
// session row is locked first (FOR UPDATE): two refreshes of one token,
// or of one family, are decided one after the other, the second reading
// the token, session and user as the first left them. So the first
// rotates the token and stores its successor, and the next ones (within
// the grace) find that successor stored and current and store nothing. A
// Reused outcome commits (the session's revocation must stick) and
// returns a nil error.
func (s *Store) RotateRefresh(ctx context.Context, req server.RefreshRequest) (server.RefreshResult, error) {
	const op = "rotate refresh token"
	req, err := req.Normalize()
	if err != nil {
		return server.RefreshResult{}, fmt.Errorf("postgres: %s: %w", op, err)
	}
	now, next := req.Now, req.Next

	var res server.RefreshResult
	err = s.inTx(ctx, op, func(tx pgx.Tx) error {
		res = server.RefreshResult{Outcome: server.RefreshInvalid}
		var locked string
		err := tx.QueryRow(ctx, sqlLockRefreshFamily, req.Hash).Scan(str(&locked))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		var (
			sess                  server.Session
			user                  server.User
			scopes                string
			rtExpires             time.Time
			rtRotated, sessRevkd  *time.Time
			sessCreated, sessEnds time.Time
		)
		dest := append([]any{str(&sess.ID), &rtExpires, &rtRotated,
			str(&sess.UserID), &scopes, &sessCreated, &sessEnds, &sessRevkd, &sess.CredentialVersion}, userDest(&user)...)
		err = tx.QueryRow(ctx, sqlFindRefresh, req.Hash).Scan(dest...)
		if errors.Is(err, pgx.ErrNoRows) { // deleted meanwhile (PruneExpired)
			return nil
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		user = utcUser(user)
		sess.Scopes = server.SplitScopes(scopes)
		sess.CreatedAt = sessCreated.UTC()
		sess.ExpiresAt = sessEnds.UTC()
		sess.RevokedAt = fromNull(sessRevkd)
		st := server.RefreshState{
			Token:   server.RefreshToken{ExpiresAt: rtExpires.UTC(), RotatedAt: fromNull(rtRotated)},
			Session: sess,
			User:    user,
		}
		decision, err := server.DecideRefresh(st, now, req.Grace, func() (bool, error) {
			var current bool
			err := tx.QueryRow(ctx, sqlSuccessorCurrent, next.Hash, raw(sess.ID), now).Scan(&current)
			return current, err
		})
		if err != nil {
			return wrap(ctx, op, err)
		}
		switch decision {
		case server.RefreshRefuse:
			return nil
		case server.RefreshReplay:
			res = server.RefreshResult{Outcome: server.RefreshRotated, Replay: true, Session: sess, User: user}
			return nil
		case server.RefreshRevoke:
			rev, ev := req.Reuse(sess, user)
			if _, err := tx.Exec(ctx, sqlRevokeSession, now, raw(sess.ID)); err != nil {
				return wrap(ctx, op, err)
			}
			if err := s.execRevocations(ctx, tx, rev); err != nil {
				return wrap(ctx, op, err)
			}
			if err := execEvent(ctx, tx, ev); err != nil {
				return wrap(ctx, op, err)
			}
			sess.RevokedAt = now
			res = server.RefreshResult{Outcome: server.RefreshReused, Session: sess, User: user}
			return nil
		}
		if _, err := tx.Exec(ctx, sqlRotateRefresh, now, req.Hash); err != nil {
			return wrap(ctx, op, err)
		}
		_, err = tx.Exec(ctx, sqlInsertRefresh, next.Hash, raw(sess.ID), micro(next.CreatedAt), micro(next.ExpiresAt))
		if isUniqueViolation(err) {
			return fmt.Errorf("postgres: %s: next token hash taken: %w", op, server.ErrConflict)
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		res = server.RefreshResult{Outcome: server.RefreshRotated, Session: sess, User: user}
		return nil
	})
	if err != nil {
		return server.RefreshResult{}, err
	}
	return res, nil
}

// RevokeSession implements server.AuthStore. An unknown session is
// ErrNotFound. rev and ev are written even when the session was already
// revoked (its RevokedAt then stays as it was).
func (s *Store) RevokeSession(ctx context.Context, sessionID string, rev server.Revocation, now time.Time, ev server.Event) error {
	const op = "revoke session"
	if sessionID == "" {
		return fmt.Errorf("postgres: %s: empty session id", op)
	}
	if now.IsZero() {
		return fmt.Errorf("postgres: %s: zero time", op)
	}
	now = micro(now)
	rev = rev.WithDefaults(server.RevokeSession, sessionID, now)
	if err := rev.Validate(); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		var userID string
		err := tx.QueryRow(ctx, sqlGetSessionForRevoke, raw(sessionID)).Scan(str(&userID))
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: %s: %w", op, server.ErrNotFound)
		}
		if err != nil {
			return wrap(ctx, op, err)
		}
		if _, err := tx.Exec(ctx, sqlRevokeSession, now, raw(sessionID)); err != nil {
			return wrap(ctx, op, err)
		}
		if err := s.execRevocations(ctx, tx, rev); err != nil {
			return wrap(ctx, op, err)
		}
		if err := execEvent(ctx, tx, ev.Filled(now, userID, "", sessionID)); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	})
}

// AddRevocation implements server.AuthStore. A zero CreatedAt is set to
// the store's clock.
func (s *Store) AddRevocation(ctx context.Context, rev server.Revocation) error {
	const op = "add revocation"
	if err := rev.Validate(); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if rev.CreatedAt.IsZero() {
		rev.CreatedAt = s.now()
	}
	return s.inTx(ctx, op, func(tx pgx.Tx) error {
		if err := s.execRevocations(ctx, tx, rev); err != nil {
			return wrap(ctx, op, err)
		}
		return nil
	})
}

// Revocations implements server.AuthStore. limit must be positive.
//
// Entries become visible in seq order (see lockRevocationLog), so a
// reader that polls with afterSeq set to the last seq it has seen misses
// none; seqs may have gaps (a transaction that rolled back after taking
// one).
func (s *Store) Revocations(ctx context.Context, afterSeq int64, now time.Time, limit int) ([]server.Revocation, error) {
	const op = "list revocations"
	if limit <= 0 {
		return nil, fmt.Errorf("postgres: %s: limit is %d, want > 0", op, limit)
	}
	rows, err := s.pool.Query(ctx, sqlRevocations, afterSeq, micro(now), limit)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (server.Revocation, error) {
		var (
			rev       server.Revocation
			notBefore *time.Time
		)
		if err := r.Scan(&rev.Seq, (*string)(&rev.Kind), str(&rev.Value), &notBefore, &rev.Until, &rev.CreatedAt); err != nil {
			return server.Revocation{}, err
		}
		rev.NotBefore = fromNull(notBefore)
		rev.Until = rev.Until.UTC()
		rev.CreatedAt = rev.CreatedAt.UTC()
		return rev, nil
	})
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// The statements of PruneExpired, in order: the sessions past their end
// are locked first, in id order (a session before its tokens, as
// RotateRefresh and UpdateUser lock them, so none of them can deadlock
// with another); then tokens and web session credentials (they reference
// sessions), then those sessions, then the revocation log. A web session
// credential goes only with its session (see
// server.AuthStore.PruneExpired).
const (
	sqlPruneLockSessions = "SELECT id FROM sessions WHERE expires_at <= $1 ORDER BY id FOR UPDATE"
	sqlPruneTokens       = "DELETE FROM refresh_tokens WHERE expires_at <= $1 OR session_id IN (SELECT id FROM sessions WHERE expires_at <= $1)"
	sqlPruneWebSessions  = "DELETE FROM web_sessions WHERE session_id IN (SELECT id FROM sessions WHERE expires_at <= $1)"
	sqlPruneSessions     = "DELETE FROM sessions WHERE expires_at <= $1"
	sqlPruneRevocations  = "DELETE FROM revocations WHERE until <= $1"
)

// PruneExpired implements server.AuthStore, in one transaction.
func (s *Store) PruneExpired(ctx context.Context, now time.Time) (int64, error) {
	const op = "prune expired"
	if now.IsZero() {
		return 0, fmt.Errorf("postgres: %s: zero time", op)
	}
	at := micro(now)
	var total int64
	err := s.inTx(ctx, op, func(tx pgx.Tx) error {
		total = 0
		if _, err := tx.Exec(ctx, sqlPruneLockSessions, at); err != nil {
			return wrap(ctx, op, err)
		}
		for _, q := range []string{sqlPruneTokens, sqlPruneWebSessions, sqlPruneSessions, sqlPruneRevocations} {
			tag, err := tx.Exec(ctx, q, at)
			if err != nil {
				return wrap(ctx, op, err)
			}
			total += tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}

// AddEvent implements server.AuthStore. A zero At is set to the store's
// clock.
func (s *Store) AddEvent(ctx context.Context, ev server.Event) error {
	const op = "add event"
	if ev.Type == "" {
		return fmt.Errorf("postgres: %s: empty event type", op)
	}
	if ev.At.IsZero() {
		ev.At = s.now()
	}
	if _, err := s.pool.Exec(ctx, sqlInsertEvent, eventArgs(ev)...); err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}

// ListEvents implements server.AuthStore. f.Limit must be 1..1000.
func (s *Store) ListEvents(ctx context.Context, f server.EventFilter) ([]server.Event, error) {
	const op = "list events"
	if f.Limit <= 0 || f.Limit > maxEventsPage {
		return nil, fmt.Errorf("postgres: %s: limit is %d, want 1..%d", op, f.Limit, maxEventsPage)
	}
	if f.BeforeID < 0 {
		return nil, fmt.Errorf("postgres: %s: BeforeID is %d, want >= 0", op, f.BeforeID)
	}
	before := f.BeforeID
	if before == 0 {
		before = math.MaxInt64
	}
	var (
		rows pgx.Rows
		err  error
	)
	switch {
	case f.Type != "" && f.UserID != "":
		rows, err = s.pool.Query(ctx, sqlListEventsTypeU, raw(f.Type), raw(f.UserID), before, f.Limit)
	case f.Type != "":
		rows, err = s.pool.Query(ctx, sqlListEventsType, raw(f.Type), before, f.Limit)
	case f.UserID != "":
		rows, err = s.pool.Query(ctx, sqlListEventsUser, raw(f.UserID), before, f.Limit)
	default:
		rows, err = s.pool.Query(ctx, sqlListEvents, before, f.Limit)
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	return collectEvents(ctx, op, rows)
}

// collectEvents reads rows of eventColumns.
func collectEvents(ctx context.Context, op string, rows pgx.Rows) ([]server.Event, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (server.Event, error) {
		var ev server.Event
		err := r.Scan(&ev.ID, &ev.At, str(&ev.Type), str(&ev.UserID), str(&ev.Username),
			str(&ev.SessionID), str(&ev.ClientIP), str(&ev.Detail), str(&ev.Actor), str(&ev.RequestID))
		ev.At = ev.At.UTC()
		return ev, err
	})
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// EventsInOrder implements server.AuthStore.
func (s *Store) EventsInOrder(ctx context.Context, after server.EventCursor, until time.Time, limit int) ([]server.Event, error) {
	const op = "events in order"
	if err := server.CheckEventBatch(limit); err != nil {
		return nil, fmt.Errorf("postgres: %s: %w", op, err)
	}
	end := time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC) // no bound
	if !until.IsZero() {
		end = micro(until)
	}
	rows, err := s.pool.Query(ctx, sqlEventsInOrder, micro(after.At), after.ID, end, limit)
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	return collectEvents(ctx, op, rows)
}

// PruneEvents implements server.AuthStore: one statement, its own
// transaction.
func (s *Store) PruneEvents(ctx context.Context, before time.Time, limit int) (int64, error) {
	const op = "prune events"
	if err := server.CheckEventBatch(limit); err != nil {
		return 0, fmt.Errorf("postgres: %s: %w", op, err)
	}
	if before.IsZero() {
		return 0, fmt.Errorf("postgres: %s: zero time", op)
	}
	tag, err := s.pool.Exec(ctx, sqlPruneEvents, micro(before), limit)
	if err != nil {
		return 0, wrap(ctx, op, err)
	}
	return tag.RowsAffected(), nil
}

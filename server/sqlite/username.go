package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/fortapi/fortapi/server"
)

// Usernames stored before they were canonical.
//
// Stores keep usernames in their canonical form (server.CanonicalUsername)
// and compare them exactly. A database written by an older binary may hold
// others ("Alice", "ａｄｍｉｎ", names with invisible characters...), which
// SQL cannot canonicalize. Open brings them to the canonical form in Go,
// in one transaction, each time it opens the database (a no-op once done):
//
//   - a name whose canonical form no other user has is replaced by it
//     ("Alice" becomes "alice"; the user signs in with either spelling)
//     and a server.EventUsernameCanonicalized event records both;
//   - a name without a canonical form (a space, a bidirectional control, a
//     Latin-Cyrillic mix...), or whose canonical form another user holds,
//     is left as it is: no lookup by name finds it, so
//     nobody can sign in by that name, and a server.EventUsernameUnusable
//     event, written once per user, tells the administrator, who can
//     disable the user by id. The user keeps its id, role, items and
//     sessions.
//
// When several old names share a canonical form, the one the old rules
// (A-Z equals a-z, every other byte exact) reached by that form keeps
// it: "admin" stays admin's although "ａｄｍｉｎ" is older, and "Carol"
// becomes carol over an older "ＣＡＲＯＬ", so whoever signed in as carol
// before reaches the same account. Among the others, the oldest wins.
//
// The SQL filter skips names of printable ASCII without A-Z, 1 to 64 bytes,
// which are canonical already (server's TestCanonicalASCII), so an open
// reads only the rows that may need work.
const (
	sqlNonASCIICanonicalUsers = "SELECT id, username FROM users WHERE username = '' OR length(CAST(username AS BLOB)) > 64" +
		" OR username GLOB '*[^!-@[-~]*' ORDER BY created_at, id"
	// Taken: another row is the canonical form already, or was reached by
	// it under the old rules and so gets it (unique index on lower()).
	sqlUsernameTaken     = "SELECT EXISTS (SELECT 1 FROM users WHERE lower(username) = ? AND id <> ?)"
	sqlRenameUser        = "UPDATE users SET username = ? WHERE id = ?"
	sqlUnusableEventSeen = "SELECT EXISTS (SELECT 1 FROM events WHERE user_id = ? AND type = ?)"
)

// canonicalizeUsernames applies the rules above at now.
func (s *Store) canonicalizeUsernames(ctx context.Context, now time.Time) error {
	const op = "canonicalize usernames"
	return s.writeTx(ctx, op, func(rc context.Context, tx *sql.Tx) error {
		type row struct{ id, name string }
		var rows []row
		q, err := tx.QueryContext(rc, sqlNonASCIICanonicalUsers)
		if err != nil {
			return wrap(ctx, op, err)
		}
		for q.Next() {
			var r row
			if err := q.Scan(&r.id, &r.name); err != nil {
				q.Close()
				return wrap(ctx, op, err)
			}
			rows = append(rows, r)
		}
		if err := q.Close(); err != nil {
			return wrap(ctx, op, err)
		}
		if err := q.Err(); err != nil {
			return wrap(ctx, op, err)
		}
		var pending []row
		for _, r := range rows {
			if server.CheckCanonicalUsername(r.name) != nil {
				pending = append(pending, r)
			}
		}
		for _, r := range pending {
			if err := s.canonicalizeOne(rc, tx, r.id, r.name, now); err != nil {
				return wrap(ctx, op, err)
			}
		}
		return nil
	})
}

func (s *Store) canonicalizeOne(ctx context.Context, tx *sql.Tx, id, name string, at time.Time) error {
	c, err := server.CanonicalUsername(name)
	var why string
	if err == nil {
		var taken bool
		if err := tx.QueryRowContext(ctx, sqlUsernameTaken, c, id).Scan(&taken); err != nil {
			return err
		}
		if !taken {
			_, err := tx.ExecContext(ctx, sqlRenameUser, c, id)
			switch {
			case err == nil:
				return s.execEvent(ctx, tx, server.Event{At: at, Type: server.EventUsernameCanonicalized,
					UserID: id, Username: c,
					Detail: fmt.Sprintf("username %s is now %q (RFC 8265)", quoted(name), c)})
			case !isUniqueViolation(err):
				return err
			}
		}
		why = fmt.Sprintf("its canonical form %q belongs to another user", c)
	} else {
		var ue *server.UsernameError
		if !errors.As(err, &ue) {
			return err
		}
		why = ue.Error()
	}
	var seen bool
	if err := tx.QueryRowContext(ctx, sqlUnusableEventSeen, id, server.EventUsernameUnusable).Scan(&seen); err != nil || seen {
		return err
	}
	return s.execEvent(ctx, tx, server.Event{At: at, Type: server.EventUsernameUnusable,
		UserID: id, Username: server.EscapeUsername(name),
		Detail: fmt.Sprintf("nobody can sign in as %s any more: %s (RFC 8265); the user keeps its id, role, items and sessions, "+
			"and can be disabled by id", quoted(name), why)})
}

// quoted is a stored name for an event's detail: escaped, in quotes.
func quoted(name string) string { return `"` + server.EscapeUsername(name) + `"` }

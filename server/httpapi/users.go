package httpapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/password"
	"github.com/fortapi/fortapi/server"
)

// UserInfo is a user as an administrator sees it: never the password hash.
type UserInfo struct {
	ID        string    `json:"id" format:"uuid"`
	Username  string    `json:"username"`
	Role      string    `json:"role" enum:"user,admin"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toUserInfo(u server.User) UserInfo {
	return UserInfo{ID: u.ID, Username: u.Username, Role: string(u.Role), Disabled: u.Disabled,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

// NewUser is the body of POST /users: no id, timestamps or hash.
type NewUser struct {
	Username string `json:"username" minLength:"1" maxLength:"64" doc:"Stored in its RFC 8265 (PRECIS UsernameCaseMapped) form: fullwidth letters mapped, lower case, NFC; 1 to 64 bytes in that form. Unique in that form (ADMIN and ＡＤＭＩＮ are admin). Refused: spaces, control, invisible and bidirectional-control characters, a leading combining mark or more than 2 on one character, Latin mixed with Greek or Cyrillic letters." example:"bob"`
	Password string `json:"password" minLength:"1" maxLength:"1024" format:"password" writeOnly:"true" doc:"8 to 1,024 bytes; not a common password, not the username."`
	Role     string `json:"role" enum:"user,admin" doc:"The role, which grants its scopes."`
}

// UserPatch is the body of PATCH /users/{id}: the fields an administrator
// may change. Absent fields stay as they are.
type UserPatch struct {
	Role     *string `json:"role,omitempty" enum:"user,admin" doc:"The new role."`
	Disabled *bool   `json:"disabled,omitempty" doc:"true disables the account, false enables it."`
}

// EventInfo is one security event of the audit log.
type EventInfo struct {
	ID        int64     `json:"id"`
	At        time.Time `json:"at"`
	Type      string    `json:"type" doc:"login.success, login.failure, token.refresh_reuse, user.role_changed, key.rotated, ..."`
	UserID    string    `json:"user_id,omitempty"`
	Username  string    `json:"username,omitempty"`
	SessionID string    `json:"session_id,omitempty"`
	ClientIP  string    `json:"client_ip,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// UserPage is one page of users.
type UserPage struct {
	Users      []UserInfo `json:"users"`
	NextCursor string     `json:"next_cursor,omitempty" doc:"Pass as cursor to get the next page; absent on the last page."`
}

// EventPage is one page of the audit log, newest first.
type EventPage struct {
	Events     []EventInfo `json:"events"`
	NextCursor string      `json:"next_cursor,omitempty" doc:"Pass as cursor to get older events; absent on the last page."`
}

type createUserInput struct {
	Body NewUser
}

type userOutput struct {
	Body UserInfo
}

type listUsersInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size, 1 to 100."`
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page."`
}

type listUsersOutput struct {
	Body UserPage
}

type patchUserInput struct {
	ID   string `path:"id" format:"uuid" maxLength:"36" doc:"User id."`
	Body UserPatch
}

type auditInput struct {
	Type   string `query:"type" maxLength:"64" pattern:"^[a-z_.]+$" doc:"Only events of this type."`
	UserID string `query:"user_id" format:"uuid" maxLength:"36" doc:"Only events about this user."`
	Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"Page size, 1 to 500."`
	Cursor string `query:"cursor" maxLength:"32" doc:"next_cursor of the previous page."`
}

type auditOutput struct {
	Body EventPage
}

type usersAPI struct {
	Deps
}

// MaxAuditPage is the largest page GET /admin/audit returns (one more
// row is read to know whether a next page exists; stores return at most
// 1,000).
const MaxAuditPage = 500

// actor names the administrator in audit records.
func (h *usersAPI) actor(ctx context.Context, p *fortapi.Principal) string {
	if name, err := h.Auth.Username(ctx, p.Subject); err == nil {
		return "admin " + strconv.Quote(name)
	}
	return "admin " + p.Subject
}

func (h *usersAPI) create(ctx context.Context, in *createUserInput) (*userOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	u, err := h.Auth.CreateUser(ctx, in.Body.Username, in.Body.Password, server.Role(in.Body.Role), h.actor(ctx, p))
	var pe *password.PolicyError
	var busy *password.BusyError
	var ue *server.UsernameError
	switch {
	case err == nil:
		return &userOutput{Body: toUserInfo(u)}, nil
	case errors.As(err, &ue):
		// The reason names code points (U+200B), never echoes them.
		return nil, huma.Error422UnprocessableEntity("the username is not acceptable",
			&huma.ErrorDetail{Location: "body.username", Message: ue.Error()})
	case errors.Is(err, server.ErrConflict):
		if c, cerr := server.CanonicalUsername(in.Body.Username); cerr == nil && c != in.Body.Username {
			return nil, huma.Error409Conflict(fmt.Sprintf("the username is taken: %q is %q once normalized (RFC 8265)", in.Body.Username, c))
		}
		return nil, huma.Error409Conflict("the username is taken")
	case errors.As(err, &pe):
		return nil, huma.Error422UnprocessableEntity("the password is not acceptable",
			&huma.ErrorDetail{Location: "body.password", Message: pe.Error()})
	case errors.As(err, &busy):
		return nil, withRetryAfter(huma.Error503ServiceUnavailable("too many password hashes in progress; retry later"), busy.RetryAfter)
	default:
		return nil, err
	}
}

func (h *usersAPI) list(ctx context.Context, in *listUsersInput) (*listUsersOutput, error) {
	after, limit, err := pageRequest(in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	found, err := h.Store.ListUsers(ctx, after, limit+1)
	if err != nil {
		return nil, err
	}
	out := &listUsersOutput{}
	out.Body.Users, out.Body.NextCursor = page(found, limit, func(u server.User) string { return u.ID }, toUserInfo)
	return out, nil
}

func (h *usersAPI) patch(ctx context.Context, in *patchUserInput) (*userOutput, error) {
	p, err := principal(ctx)
	if err != nil {
		return nil, err
	}
	if !server.ValidID(in.ID) {
		return nil, huma.Error404NotFound("no such user")
	}
	if in.Body.Role == nil && in.Body.Disabled == nil {
		return nil, huma.Error422UnprocessableEntity("nothing to change",
			&huma.ErrorDetail{Location: "body", Message: "set role, disabled or both"})
	}
	var role *server.Role
	if in.Body.Role != nil {
		r := server.Role(*in.Body.Role)
		role = &r
	}
	u, err := h.Auth.UpdateUser(ctx, in.ID, role, in.Body.Disabled, h.actor(ctx, p))
	switch {
	case err == nil:
		return &userOutput{Body: toUserInfo(u)}, nil
	case errors.Is(err, server.ErrLastAdmin):
		return nil, huma.Error409Conflict("the last enabled administrator cannot be demoted or disabled")
	default:
		return nil, userErr(err)
	}
}

func (h *usersAPI) audit(ctx context.Context, in *auditInput) (*auditOutput, error) {
	var before int64
	if in.Cursor != "" {
		n, err := strconv.ParseInt(in.Cursor, 10, 64)
		if err != nil || n <= 0 {
			return nil, badCursor()
		}
		before = n
	}
	if in.UserID != "" && !server.ValidID(in.UserID) {
		return nil, huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{
			Location: "query.user_id", Message: "not a user id", Value: in.UserID,
		})
	}
	limit := min(max(in.Limit, 1), MaxAuditPage)
	evs, err := h.Store.ListEvents(ctx, server.EventFilter{Type: in.Type, UserID: in.UserID, BeforeID: before, Limit: limit + 1})
	if err != nil {
		return nil, err
	}
	page := EventPage{Events: make([]EventInfo, 0, min(len(evs), limit))}
	for i, ev := range evs {
		if i == limit {
			page.NextCursor = strconv.FormatInt(evs[i-1].ID, 10)
			break
		}
		// Escaped again here (idempotent): records written before usernames
		// were canonical may hold a right-to-left override or an invisible
		// character.
		page.Events = append(page.Events, EventInfo{ID: ev.ID, At: ev.At, Type: ev.Type, UserID: ev.UserID,
			Username: server.EscapeUsername(ev.Username), SessionID: ev.SessionID, ClientIP: ev.ClientIP,
			Detail: server.EscapeUsername(ev.Detail)})
	}
	return &auditOutput{Body: page}, nil
}

func badCursor() error {
	return huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{
		Location: "query.cursor", Message: "not a cursor returned by this API",
	})
}

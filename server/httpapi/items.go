package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/fortapi/fortapi"
	"github.com/fortapi/fortapi/jwtkey"
	"github.com/fortapi/fortapi/sanitize"
	"github.com/fortapi/fortapi/server"
	"github.com/fortapi/fortapi/server/authn"
	"github.com/fortapi/fortapi/wsfeed"
)

// Scopes of the items API.
const (
	ScopeItemsRead  = server.ScopeItemsRead
	ScopeItemsWrite = server.ScopeItemsWrite
	// ScopeAdmin lifts the owner condition on item queries.
	ScopeAdmin = server.ScopeUsersAdmin
)

// MaxPageSize is the largest page GET /items/ returns.
const MaxPageSize = 100

// Deps are what the handlers use.
type Deps struct {
	// Store keeps the items. It may be nil when the API is built only to
	// print its OpenAPI document.
	Store server.Store
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Rand is the randomness of item ids (default crypto/rand).
	Rand io.Reader
	// Auth runs logins, refreshes and account changes; Keys is the signing
	// key ring (JWKS, rotation). Both may be nil only when the API is
	// built to print its OpenAPI document.
	Auth *authn.Service
	Keys *jwtkey.Ring
	// Limits are the rate limits the operations declare.
	Limits Limits
	// Redis, when set, pings the Redis server the rate limits share;
	// /readyz reports an unreachable Redis as a warning, or as 503 when
	// RedisRequired (the limits fail closed, so every request would be
	// refused anyway).
	Redis         func(context.Context) error
	RedisRequired bool
	// CertExpiry, when set, reports the served TLS certificate's expiry
	// on /readyz (see registerHealth in routes.go).
	CertExpiry CertExpiryFunc
	// Sanitizer sanitizes descriptions again when pages show them, for
	// rows stored before a policy change (default sanitize.New()). Input
	// is sanitized on the way in by the API itself, as the body types'
	// sanitize tags declare (fortapi.Options.Sanitizer).
	Sanitizer *sanitize.Sanitizer
	// Feed, when set, is the WebSocket feed of item events: GET /ws/items
	// is its upgrade, and POST /ws/ticket issues its Tickets (see
	// registerFeed in routes.go). Nil: neither route exists.
	Feed    *wsfeed.Feed
	Tickets *wsfeed.Tickets
	// Events, when set, receives every item change the handlers make,
	// after the store has committed it, in commit order (the server
	// publishes them on Feed). Nil: changes are not announced (a store
	// that announces them itself, across instances, needs none).
	Events func(ItemEvent)
	// OIDCDiscovery, when set, are the discovery URLs of the external
	// identity providers whose tokens Auth accepts (fortapi.OIDCScheme):
	// GET /protected, GET /users/me and the items API declare that
	// scheme (Deps.external). Nil: no operation does.
	OIDCDiscovery []string
	// api is the fortapi API the operations are registered on: it owns
	// the client-address resolver (audit records), the CSRF protector and
	// session binding (pages, GET /csrftoken/) and the security headers
	// (CSP nonces); Register sets it.
	api *fortapi.API
}

// Default rate limits of Limits.
const (
	DefaultLoginLimit  = "10/minute"  // POST /token, per client address
	DefaultWritesLimit = "60/minute"  // per user
	DefaultReadsLimit  = "600/minute" // per user
)

// Limits are the rate limits the operations declare in their OpenAPI
// entries (the x-ratelimit extension), which fortapi enforces exactly as
// declared, after authorization and before the input is decoded. Each is
// a ratelimit spec ("60/minute", "100/minute burst 20"); an empty field
// takes its default. The failed-login limit per username is not here: it
// is authn.Options.LoginFailures.
type Limits struct {
	// Login limits POST /token per client address ("login"; default
	// DefaultLoginLimit), whatever the grant and outcome.
	Login string
	// Writes limits the calls that change something, per user: create,
	// replace and delete an item, log out, change the password, rotate
	// the keys ("writes"; default DefaultWritesLimit). They share one
	// allowance.
	Writes string
	// Reads limits the authenticated reads, per user: list and get items,
	// /protected, /users/me ("reads"; default DefaultReadsLimit). They
	// share one allowance.
	Reads string
}

func (l Limits) withDefaults() Limits {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&l.Login, DefaultLoginLimit)
	def(&l.Writes, DefaultWritesLimit)
	def(&l.Reads, DefaultReadsLimit)
	return l
}

func (l Limits) login() map[string]any { return fortapi.RateLimits(fortapi.PerIP("login", l.Login)) }
func (l Limits) writes() map[string]any {
	return fortapi.RateLimits(fortapi.PerUser("writes", l.Writes))
}
func (l Limits) reads() map[string]any { return fortapi.RateLimits(fortapi.PerUser("reads", l.Reads)) }

// ItemInput is what a client may set on an item: no id, owner or
// timestamps (mass assignment is impossible by construction).
//
// Name is plain text, stored exactly as sent ("Widget <i>deluxe</i>"
// stays that) and escaped wherever it is shown: html/template on pages,
// JSON (application/json, nosniff) in the API. Description is rich text:
// fortapi sanitizes it with the Rich policy after decoding and before
// validation (formatting, lists, quotes, code and http/https/mailto links
// kept, everything else removed), so its maxLength holds for what is
// stored and pages may insert it as is.
type ItemInput struct {
	Name        string   `json:"name" minLength:"1" maxLength:"100" sanitize:"plain" doc:"Item name, 1 to 100 characters; plain text, stored as sent (markup is not interpreted: pages show it escaped)." example:"Hammer"`
	Description string   `json:"description,omitempty" maxLength:"10000" sanitize:"rich" doc:"Optional description, at most 10,000 characters; basic HTML formatting and http/https/mailto links are kept, everything else is removed."`
	Price       float64  `json:"price" exclusiveMinimum:"0" maximum:"1000000000" doc:"Price, more than 0 and at most 1e9." example:"12.5"`
	Tax         *float64 `json:"tax,omitempty" minimum:"0" maximum:"1000000000" doc:"Optional tax, 0 to 1e9." example:"2.5"`
}

// Item is an item as the API shows it.
type Item struct {
	ID           string    `json:"id" format:"uuid" doc:"Random id (UUIDv7)."`
	Owner        string    `json:"owner" doc:"Id of the owning user."`
	Name         string    `json:"name"`
	Description  string    `json:"description"`
	Price        float64   `json:"price"`
	Tax          *float64  `json:"tax" required:"false" doc:"Absent when the item has no tax."`
	PriceWithTax float64   `json:"price_with_tax" doc:"price + tax."`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

func toItem(it server.Item) Item {
	out := Item{
		ID: it.ID, Owner: it.OwnerID, Name: it.Name, Description: it.Description,
		Price: it.Price, Tax: it.Tax, PriceWithTax: it.Price,
		CreatedAt: it.CreatedAt, UpdatedAt: it.UpdatedAt,
	}
	if it.Tax != nil {
		out.PriceWithTax += *it.Tax
	}
	return out
}

type itemIDParam struct {
	ID string `path:"id" format:"uuid" maxLength:"36" doc:"Item id."`
}

type createInput struct {
	Body ItemInput
}

type itemOutput struct {
	Body Item
}

type createOutput struct {
	Location string `header:"Location" doc:"URL of the new item."`
	Body     Item
}

type listInput struct {
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size, 1 to 100."`
	Cursor string `query:"cursor" maxLength:"64" doc:"next_cursor of the previous page."`
}

// ItemPage is one page of items.
type ItemPage struct {
	Items      []Item `json:"items"`
	NextCursor string `json:"next_cursor,omitempty" doc:"Pass as cursor to get the next page; absent on the last page."`
}

type listOutput struct {
	Body ItemPage
}

type updateInput struct {
	ID   string `path:"id" format:"uuid" maxLength:"36" doc:"Item id."`
	Body ItemInput
}

type deleteOutput struct{}

type items struct {
	Deps
	// hooks is Store when it announces in commit order itself
	// (server.ItemCommitHooks) and Events is set: writes then run
	// concurrently (the store may batch them) and each event is
	// announced by the store right after its commit.
	hooks server.ItemCommitHooks
	// events otherwise serialises a store write with the announcement of
	// its event when Events is set, so that events leave in commit order
	// (an update is never announced after the item's deletion).
	events sync.Mutex
}

// Types of ItemEvent.
const (
	ItemCreated = "item.created"
	ItemUpdated = "item.updated"
	ItemDeleted = "item.deleted"
)

// ItemEvent is one message of the item feed (GET /ws/items): what
// happened to which item, and the item as GET /items/{id} returns it
// (absent for a deletion).
type ItemEvent struct {
	Type string `json:"type" enum:"item.created,item.updated,item.deleted"`
	ID   string `json:"id"`
	Item *Item  `json:"item,omitempty"`
	// Owner is the id of the item's owner: only the owner (and holders of
	// ScopeAdmin) may receive the event. It is not sent.
	Owner string `json:"-"`
}

// NewItemEvent is the event of type typ about it: with the item as GET
// /items/{id} shows it, except for ItemDeleted.
func NewItemEvent(typ string, it server.Item) ItemEvent {
	ev := ItemEvent{Type: typ, ID: it.ID, Owner: it.OwnerID}
	if typ != ItemDeleted {
		item := toItem(it)
		ev.Item = &item
	}
	return ev
}

// write runs a store write and, when it succeeds, announces the event
// it returns; with Events set the two happen under one lock.
func (h *items) write(fn func() (ItemEvent, error)) error {
	if h.Events == nil {
		_, err := fn()
		return err
	}
	h.events.Lock()
	defer h.events.Unlock()
	ev, err := fn()
	if err == nil {
		h.Events(ev)
	}
	return err
}

// access is the caller's view of the items: the owner condition that
// every store call carries.
func access(ctx context.Context) (server.Access, error) {
	p, err := principal(ctx)
	if err != nil {
		return server.Access{}, err
	}
	return server.Access{UserID: p.Subject, All: p.HasScope(ScopeAdmin)}, nil
}

func (h *items) now() time.Time { return h.Now().UTC().Truncate(time.Microsecond) }

func storeErr(err error) error {
	switch {
	case errors.Is(err, server.ErrNotFound):
		return huma.Error404NotFound("no such item")
	case errors.Is(err, server.ErrConflict):
		return huma.Error409Conflict("an item with this id exists")
	default:
		return err // 500, details logged, not sent
	}
}

// clean checks what the schema cannot: a name of nothing but spaces is
// refused (422), as an empty one. The sanitize tags already ran, before
// validation (fortapi.Options.Sanitizer).
func (h *items) clean(in *ItemInput) error {
	if strings.TrimSpace(in.Name) == "" {
		return huma.Error422UnprocessableEntity("validation failed", &huma.ErrorDetail{
			Location: "body.name", Message: "is blank",
		})
	}
	return nil
}

func (h *items) create(ctx context.Context, in *createInput) (*createOutput, error) {
	acc, err := access(ctx)
	if err != nil {
		return nil, err
	}
	if err := h.clean(&in.Body); err != nil {
		return nil, err
	}
	now := h.now()
	// The Location and the id in one string: the id is its tail.
	const prefix = "/items/"
	var buf [len(prefix) + 36]byte
	b, err := server.AppendID(append(buf[:0], prefix...), now, h.Rand)
	if err != nil {
		return nil, err
	}
	location := string(b)
	id := location[len(prefix):]
	it := server.Item{
		ID: id, OwnerID: acc.UserID, Name: in.Body.Name, Description: in.Body.Description,
		Price: in.Body.Price, Tax: in.Body.Tax, CreatedAt: now, UpdatedAt: now,
	}
	out := &createOutput{Location: location, Body: toItem(it)}
	if h.hooks != nil {
		err = h.hooks.CreateItemThen(ctx, it, func() {
			// The event shares the answer's item, which nothing changes.
			h.Events(ItemEvent{Type: ItemCreated, ID: it.ID, Owner: it.OwnerID, Item: &out.Body})
		})
	} else {
		err = h.write(func() (ItemEvent, error) {
			return NewItemEvent(ItemCreated, it), h.Store.CreateItem(ctx, it)
		})
	}
	if err != nil {
		return nil, storeErr(err)
	}
	return out, nil
}

// getItem is the item id as the caller may see it (the owner condition
// in the query), or 404.
func getItem(ctx context.Context, store server.ItemStore, id string) (server.Item, error) {
	acc, err := access(ctx)
	if err != nil {
		return server.Item{}, err
	}
	if !server.ValidID(id) {
		return server.Item{}, huma.Error404NotFound("no such item")
	}
	it, err := store.GetItem(ctx, acc, id)
	if err != nil {
		return server.Item{}, storeErr(err)
	}
	return it, nil
}

func (h *items) get(ctx context.Context, in *itemIDParam) (*itemOutput, error) {
	it, err := getItem(ctx, h.Store, in.ID)
	if err != nil {
		return nil, err
	}
	return &itemOutput{Body: toItem(it)}, nil
}

func (h *items) update(ctx context.Context, in *updateInput) (*itemOutput, error) {
	acc, err := access(ctx)
	if err != nil {
		return nil, err
	}
	if !server.ValidID(in.ID) {
		return nil, huma.Error404NotFound("no such item")
	}
	if err := h.clean(&in.Body); err != nil {
		return nil, err
	}
	var it server.Item
	change := server.Item{
		ID: in.ID, Name: in.Body.Name, Description: in.Body.Description,
		Price: in.Body.Price, Tax: in.Body.Tax, UpdatedAt: h.now(),
	}
	if h.hooks != nil {
		it, err = h.hooks.UpdateItemThen(ctx, acc, change, func(stored server.Item) {
			h.Events(NewItemEvent(ItemUpdated, stored))
		})
	} else {
		err = h.write(func() (ItemEvent, error) {
			var err error
			it, err = h.Store.UpdateItem(ctx, acc, change)
			return NewItemEvent(ItemUpdated, it), err
		})
	}
	if err != nil {
		return nil, storeErr(err)
	}
	return &itemOutput{Body: toItem(it)}, nil
}

func (h *items) delete(ctx context.Context, in *itemIDParam) (*deleteOutput, error) {
	acc, err := access(ctx)
	if err != nil {
		return nil, err
	}
	if !server.ValidID(in.ID) {
		return nil, huma.Error404NotFound("no such item")
	}
	// The event names the owner, who alone may see it. An item's owner
	// never changes and its id is never reused: the owner read before the
	// deletion is the deleted item's.
	owner := func() (string, error) {
		if h.Events != nil && acc.All {
			it, err := h.Store.GetItem(ctx, acc, in.ID)
			return it.OwnerID, err
		}
		return acc.UserID, nil
	}
	if h.hooks != nil {
		var o string
		if o, err = owner(); err == nil {
			err = h.hooks.DeleteItemThen(ctx, acc, in.ID, func() {
				h.Events(NewItemEvent(ItemDeleted, server.Item{ID: in.ID, OwnerID: o}))
			})
		}
	} else {
		err = h.write(func() (ItemEvent, error) {
			o, err := owner()
			if err != nil {
				return ItemEvent{}, err
			}
			return NewItemEvent(ItemDeleted, server.Item{ID: in.ID, OwnerID: o}), h.Store.DeleteItem(ctx, acc, in.ID)
		})
	}
	if err != nil {
		return nil, storeErr(err)
	}
	return &deleteOutput{}, nil
}

// Cursors are the last id of a page, base64url-encoded: opaque to
// clients, validated on the way back in.
func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeCursor(c string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !server.ValidID(string(b)) {
		return "", false
	}
	return string(b), true
}

func (h *items) list(ctx context.Context, in *listInput) (*listOutput, error) {
	acc, err := access(ctx)
	if err != nil {
		return nil, err
	}
	after, limit, err := pageRequest(in.Cursor, in.Limit)
	if err != nil {
		return nil, err
	}
	found, err := h.Store.ListItems(ctx, acc, after, limit+1)
	if err != nil {
		return nil, storeErr(err)
	}
	out := &listOutput{}
	out.Body.Items, out.Body.NextCursor = page(found, limit, func(it server.Item) string { return it.ID }, toItem)
	return out, nil
}

// pageRequest checks a page's cursor and size: the id to continue after
// ("" for the first page) and the page size, 1 to MaxPageSize.
func pageRequest(cursor string, size int) (after string, limit int, err error) {
	if cursor != "" {
		var ok bool
		if after, ok = decodeCursor(cursor); !ok {
			return "", 0, badCursor()
		}
	}
	return after, min(max(size, 1), MaxPageSize), nil
}

// page turns at most limit+1 rows in id order (a store's answer to a
// request for limit+1) into one page of at most limit converted rows and
// the cursor of the next page ("" on the last).
func page[T, U any](found []T, limit int, id func(T) string, conv func(T) U) ([]U, string) {
	out := make([]U, 0, min(len(found), limit))
	for i, row := range found {
		if i == limit {
			return out, encodeCursor(id(found[i-1]))
		}
		out = append(out, conv(row))
	}
	return out, ""
}

// ObjectAccessExtension names the OpenAPI extension that documents an
// operation's object-level rule. The item operations carry
// {"owner": true, "all-with-scope": "users:admin"}: the caller reaches
// only the items it owns (another user's item answers 404, and listings
// leave it out) unless it holds the scope. The rule is enforced by the
// store (server.Access is part of every item query); the extension tells
// clients and the authorization matrix test what to expect.
const ObjectAccessExtension = "x-object-access"

// ownerOnly adds the object-level rule of the item operations to ext.
func ownerOnly(ext map[string]any) map[string]any {
	ext[ObjectAccessExtension] = map[string]any{"owner": true, "all-with-scope": ScopeAdmin}
	return ext
}

package server

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"
)

// Errors every store returns, so that handlers map them without knowing the
// store: ErrNotFound becomes 404, ErrConflict 409, ErrUnavailable 503 with
// Retry-After.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	// ErrUnavailable is matched (errors.Is) by an error that says the
	// store could not be reached or cannot serve for now: a lost or
	// refused connection, a server shutting down, starting up or in
	// recovery, no connection slot left, a statement timeout. Retrying
	// later may succeed; the request itself is not at fault.
	ErrUnavailable = errors.New("the store is unavailable")
)

// Item is one priced item owned by one user.
//
// Times are UTC with microsecond precision: the caller truncates them before
// handing them to a store, and every store gives them back unchanged.
type Item struct {
	ID          string
	OwnerID     string
	Name        string
	Description string
	Price       float64
	Tax         *float64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Access says whose items a store call may see. It is part of every item
// query (the owner condition lives in the SQL), so a handler cannot forget it.
type Access struct {
	// UserID is the caller. Without All, only items owned by UserID are visible.
	UserID string
	// All lifts the owner condition (administrators).
	All bool
}

// ItemStore keeps items. Every method that reads or changes an existing item
// takes an Access: an item the caller may not see is reported as ErrNotFound,
// exactly like one that does not exist. An Access with neither UserID nor All
// is refused with an error (it would otherwise match items with an empty
// owner), and CreateItem refuses an empty ID or OwnerID. Cursors (after)
// compare as raw bytes.
type ItemStore interface {
	// CreateItem stores a new item; the caller has set every field. An
	// existing ID gives ErrConflict.
	CreateItem(ctx context.Context, it Item) error
	// GetItem returns the item with the id, or ErrNotFound.
	GetItem(ctx context.Context, acc Access, id string) (Item, error)
	// ListItems returns at most limit visible items with an ID greater than
	// after ("" for the first page), in ascending ID order.
	ListItems(ctx context.Context, acc Access, after string, limit int) ([]Item, error)
	// UpdateItem replaces Name, Description, Price, Tax and UpdatedAt of the
	// visible item with it.ID and returns the stored item, or ErrNotFound.
	// OwnerID and CreatedAt are never changed.
	UpdateItem(ctx context.Context, acc Access, it Item) (Item, error)
	// DeleteItem removes the visible item with the id, or returns ErrNotFound.
	DeleteItem(ctx context.Context, acc Access, id string) error
}

// ItemCommitHooks is implemented by an ItemStore that can run a function
// right after one of its item writes commits, in commit order: then runs
// only when the write succeeded, and the then of a write that committed
// earlier has returned before the then of a later one starts. A caller
// that must announce changes in commit order uses it instead of
// serialising its writes (which would stop the store from batching them).
// then must be quick and must not call the store.
type ItemCommitHooks interface {
	// CreateItemThen is CreateItem, then then.
	CreateItemThen(ctx context.Context, it Item, then func()) error
	// UpdateItemThen is UpdateItem, then then with the stored item.
	UpdateItemThen(ctx context.Context, acc Access, it Item, then func(Item)) (Item, error)
	// DeleteItemThen is DeleteItem, then then.
	DeleteItemThen(ctx context.Context, acc Access, id string, then func()) error
}

// Store is everything the reference server keeps.
type Store interface {
	ItemStore
	AuthStore
	// Ping reports whether the store can serve queries (readiness).
	Ping(ctx context.Context) error
	// Close releases the store; in-flight calls finish first.
	Close() error
}

// NewID returns a UUIDv7 (RFC 9562): 48 bits of Unix milliseconds from now,
// then 74 random bits from rnd (crypto/rand when nil). IDs are unguessable
// and never sequential, yet sort roughly by creation time, which keeps
// cursor pagination and B-tree inserts cheap.
func NewID(now time.Time, rnd io.Reader) (string, error) {
	var buf [36]byte
	b, err := AppendID(buf[:0], now, rnd)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// AppendID appends a new id, as NewID makes it, to dst: a caller that
// needs the id inside a longer string (a URL) builds both at once.
func AppendID(dst []byte, now time.Time, rnd io.Reader) ([]byte, error) {
	var u [16]byte
	var err error
	if rnd == nil || rnd == rand.Reader {
		// rand.Read, unlike a read through the io.Reader interface,
		// keeps u on the stack.
		_, err = rand.Read(u[6:])
	} else {
		var b [10]byte // escapes: allocated only on this path
		_, err = io.ReadFull(rnd, b[:])
		copy(u[6:], b[:])
	}
	if err != nil {
		return dst, fmt.Errorf("server: reading randomness for an id: %w", err)
	}
	ms := uint64(now.UnixMilli())
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], ms)
	copy(u[0:6], ts[2:8])
	u[6] = 0x70 | (u[6] & 0x0f) // version 7
	u[8] = 0x80 | (u[8] & 0x3f) // variant 10
	var out [36]byte
	hex.Encode(out[0:8], u[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], u[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], u[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], u[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], u[10:16])
	return append(dst, out[:]...), nil
}

// ValidID reports whether s is an id as NewID writes it: a lower-case,
// hyphenated UUID. Handlers check it before a store sees the value.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
				return false
			}
		}
	}
	return true
}

package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
)

// Run runs the contract suite. open must return a new, empty, ready store
// each time it is called (subtests run in parallel, each with its own
// store). Run closes every store it gets, through t.Cleanup, and fails the
// test if Close fails: open must not close it itself.
func Run(t *testing.T, open func(t *testing.T) server.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s server.Store)
	}{
		{"CreateGetRoundTrip", testCreateGetRoundTrip},
		{"CreateRequiresIDAndOwner", testCreateRequiresIDAndOwner},
		{"DuplicateIDIsConflict", testDuplicateIDIsConflict},
		{"MissingIsNotFound", testMissingIsNotFound},
		{"OtherOwnerIsNotFound", testOtherOwnerIsNotFound},
		{"AccessAllSeesEverything", testAccessAllSeesEverything},
		{"AccessWithoutUserSeesNothing", testAccessWithoutUserSeesNothing},
		{"Update", testUpdate},
		{"UpdateKeepsOwnerAndCreatedAt", testUpdateKeepsOwnerAndCreatedAt},
		{"Delete", testDelete},
		{"Pagination", testPagination},
		{"ListLimitMustBePositive", testListLimitMustBePositive},
		{"HostileStrings", testHostileStrings},
		{"CancelledContext", testCancelledContext},
		{"Ping", testPing},
		{"Concurrency", testConcurrency},
	}
	tests = append(tests, authTests...)
	tests = append(tests, auditTests...)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

// Owners used throughout. Plain strings: the store must not care what a
// user id looks like.
const (
	alice = "user-alice"
	bob   = "user-bob"
)

func ptr(f float64) *float64 { return &f }

// newID returns a fresh UUIDv7.
func newID(t testing.TB) string {
	t.Helper()
	id, err := server.NewID(time.Now(), nil)
	if err != nil {
		t.Fatalf("NewID: %v", err)
	}
	return id
}

// newItem returns a valid item owned by owner, with times truncated to the
// microsecond as the contract demands.
func newItem(t testing.TB, owner string) server.Item {
	t.Helper()
	it, err := makeItem(owner)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// makeItem is newItem for goroutines other than the test's.
func makeItem(owner string) (server.Item, error) {
	id, err := server.NewID(time.Now(), nil)
	if err != nil {
		return server.Item{}, fmt.Errorf("NewID: %w", err)
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	return server.Item{
		ID:          id,
		OwnerID:     owner,
		Name:        "widget",
		Description: "a widget",
		Price:       9.99,
		Tax:         ptr(0.2),
		CreatedAt:   now,
		UpdatedAt:   now,
	}, nil
}

func mustCreate(t testing.TB, s server.Store, it server.Item) server.Item {
	t.Helper()
	if err := s.CreateItem(context.Background(), it); err != nil {
		t.Fatalf("CreateItem(%q): %v", it.ID, err)
	}
	return it
}

func mustGet(t testing.TB, s server.Store, acc server.Access, id string) server.Item {
	t.Helper()
	got, err := s.GetItem(context.Background(), acc, id)
	if err != nil {
		t.Fatalf("GetItem(%+v, %q): %v", acc, id, err)
	}
	return got
}

// listAll pages through everything acc sees, pageSize at a time, checking
// that each page is ascending and not longer than asked.
func listAll(t testing.TB, s server.Store, acc server.Access, pageSize int) []server.Item {
	t.Helper()
	var all []server.Item
	after := ""
	for {
		page, err := s.ListItems(context.Background(), acc, after, pageSize)
		if err != nil {
			t.Fatalf("ListItems(%+v, %q, %d): %v", acc, after, pageSize, err)
		}
		if len(page) > pageSize {
			t.Fatalf("ListItems(%+v, %q, %d) returned %d items", acc, after, pageSize, len(page))
		}
		for _, it := range page {
			if it.ID <= after {
				t.Fatalf("ListItems(%+v, %q, %d): id %q not after %q", acc, after, pageSize, it.ID, after)
			}
			after = it.ID
		}
		all = append(all, page...)
		if len(page) < pageSize {
			return all
		}
	}
}

func ids(items []server.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

// diffItem describes how got differs from want, or returns "". Times must
// be equal instants and in UTC.
func diffItem(got, want server.Item) string {
	var d []string
	field := func(name string, g, w any) {
		d = append(d, fmt.Sprintf("%s = %#v, want %#v", name, g, w))
	}
	if got.ID != want.ID {
		field("ID", got.ID, want.ID)
	}
	if got.OwnerID != want.OwnerID {
		field("OwnerID", got.OwnerID, want.OwnerID)
	}
	if got.Name != want.Name {
		field("Name", got.Name, want.Name)
	}
	if got.Description != want.Description {
		if len(got.Description) > 80 || len(want.Description) > 80 {
			d = append(d, fmt.Sprintf("Description differs (len %d, want len %d)", len(got.Description), len(want.Description)))
		} else {
			field("Description", got.Description, want.Description)
		}
	}
	if got.Price != want.Price {
		field("Price", got.Price, want.Price)
	}
	switch {
	case (got.Tax == nil) != (want.Tax == nil):
		d = append(d, fmt.Sprintf("Tax = %s, want %s", fmtTax(got.Tax), fmtTax(want.Tax)))
	case got.Tax != nil && *got.Tax != *want.Tax:
		d = append(d, fmt.Sprintf("Tax = %s, want %s", fmtTax(got.Tax), fmtTax(want.Tax)))
	}
	for _, tt := range []struct {
		name      string
		got, want time.Time
	}{{"CreatedAt", got.CreatedAt, want.CreatedAt}, {"UpdatedAt", got.UpdatedAt, want.UpdatedAt}} {
		if !tt.got.Equal(tt.want) {
			field(tt.name, tt.got.Format(time.RFC3339Nano), tt.want.Format(time.RFC3339Nano))
		} else if tt.got.Location() != time.UTC {
			d = append(d, fmt.Sprintf("%s location = %v, want UTC", tt.name, tt.got.Location()))
		}
	}
	return strings.Join(d, "; ")
}

func fmtTax(f *float64) string {
	if f == nil {
		return "nil"
	}
	return fmt.Sprint(*f)
}

func wantItem(t testing.TB, got, want server.Item) {
	t.Helper()
	if d := diffItem(got, want); d != "" {
		t.Errorf("item %q: %s", want.ID, d)
	}
}

func testCreateGetRoundTrip(t *testing.T, s server.Store) {
	base := newItem(t, alice)
	tests := []struct {
		name string
		edit func(*server.Item)
	}{
		{"plain", func(*server.Item) {}},
		{"nil tax", func(it *server.Item) { it.Tax = nil }},
		{"zero tax is not nil", func(it *server.Item) { it.Tax = ptr(0) }},
		{"zero price", func(it *server.Item) { it.Price = 0 }},
		{"negative price", func(it *server.Item) { it.Price = -2.5 }},
		{"inexact decimal", func(it *server.Item) { it.Price = 0.1 + 0.2; it.Tax = ptr(1.0 / 3) }},
		{"large price", func(it *server.Item) { it.Price = 1e15 + 0.01 }},
		{"empty description", func(it *server.Item) { it.Description = "" }},
		{"unicode", func(it *server.Item) {
			it.Name = "Grüße, 世界 🌍 مرحبا e\u0301 \u200d\u2028"
			it.Description = "ÅÄÖ — “quotes” 🧪\t\nnew line"
		}},
		{"10000-char description", func(it *server.Item) { it.Description = strings.Repeat("ab€d🌍", 2000) }},
		{"microsecond times", func(it *server.Item) {
			it.CreatedAt = time.Date(2024, 2, 29, 23, 59, 59, 999999000, time.UTC)
			it.UpdatedAt = time.Date(2025, 1, 1, 0, 0, 0, 1000, time.UTC)
		}},
		{"time before 1970", func(it *server.Item) {
			it.CreatedAt = time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)
			it.UpdatedAt = time.Date(1900, 1, 1, 0, 0, 0, 123456000, time.UTC)
		}},
		{"far future", func(it *server.Item) {
			it.UpdatedAt = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it := base
			it.ID = newID(t)
			it.Tax = ptr(*base.Tax)
			tc.edit(&it)
			if tc.name == "10000-char description" && len([]rune(it.Description)) != 10000 {
				t.Fatalf("test bug: description has %d runes", len([]rune(it.Description)))
			}
			mustCreate(t, s, it)
			for _, acc := range []server.Access{{UserID: alice}, {All: true}} {
				wantItem(t, mustGet(t, s, acc, it.ID), it)
			}
		})
	}
	t.Run("non-UTC input comes back UTC", func(t *testing.T) {
		it := newItem(t, alice)
		zone := time.FixedZone("UTC+5:30", 5*3600+1800)
		it.CreatedAt = time.Date(2024, 6, 1, 12, 0, 0, 5000, zone)
		it.UpdatedAt = it.CreatedAt
		mustCreate(t, s, it)
		got := mustGet(t, s, server.Access{UserID: alice}, it.ID)
		if !got.CreatedAt.Equal(it.CreatedAt) || got.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt, it.CreatedAt.UTC())
		}
	})
	t.Run("returned tax is a copy", func(t *testing.T) {
		it := mustCreate(t, s, newItem(t, alice))
		got := mustGet(t, s, server.Access{UserID: alice}, it.ID)
		*got.Tax = 99
		wantItem(t, mustGet(t, s, server.Access{UserID: alice}, it.ID), it)
	})
}

func testCreateRequiresIDAndOwner(t *testing.T, s server.Store) {
	tests := []struct {
		name string
		edit func(*server.Item)
	}{
		{"empty id", func(it *server.Item) { it.ID = "" }},
		{"empty owner", func(it *server.Item) { it.OwnerID = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			it := newItem(t, alice)
			tc.edit(&it)
			if err := s.CreateItem(context.Background(), it); err == nil {
				t.Fatalf("CreateItem with %s succeeded, want an error", tc.name)
			}
		})
	}
	if got := listAll(t, s, server.Access{All: true}, 10); len(got) != 0 {
		t.Errorf("store holds %d items after refused creates, want 0", len(got))
	}
}

func testDuplicateIDIsConflict(t *testing.T, s server.Store) {
	orig := mustCreate(t, s, newItem(t, alice))
	tests := []struct {
		name  string
		owner string
	}{
		{"same owner", alice},
		{"other owner", bob},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dup := newItem(t, tc.owner)
			dup.ID = orig.ID
			dup.Name = "impostor"
			err := s.CreateItem(context.Background(), dup)
			if !errors.Is(err, server.ErrConflict) {
				t.Fatalf("CreateItem(duplicate id) = %v, want ErrConflict", err)
			}
			wantItem(t, mustGet(t, s, server.Access{All: true}, orig.ID), orig)
		})
	}
	if got := listAll(t, s, server.Access{All: true}, 10); len(got) != 1 {
		t.Errorf("store holds %d items, want 1", len(got))
	}
}

func testMissingIsNotFound(t *testing.T, s server.Store) {
	mustCreate(t, s, newItem(t, alice)) // a non-empty table
	missing := newID(t)
	for _, acc := range []server.Access{{UserID: alice}, {All: true}} {
		t.Run(fmt.Sprintf("%+v", acc), func(t *testing.T) {
			ctx := context.Background()
			if _, err := s.GetItem(ctx, acc, missing); !errors.Is(err, server.ErrNotFound) {
				t.Errorf("GetItem = %v, want ErrNotFound", err)
			}
			up := newItem(t, alice)
			up.ID = missing
			if _, err := s.UpdateItem(ctx, acc, up); !errors.Is(err, server.ErrNotFound) {
				t.Errorf("UpdateItem = %v, want ErrNotFound", err)
			}
			if err := s.DeleteItem(ctx, acc, missing); !errors.Is(err, server.ErrNotFound) {
				t.Errorf("DeleteItem = %v, want ErrNotFound", err)
			}
			if _, err := s.GetItem(ctx, acc, missing); !errors.Is(err, server.ErrNotFound) {
				t.Errorf("GetItem after UpdateItem of a missing id = %v, want ErrNotFound (update must not insert)", err)
			}
		})
	}
}

func testOtherOwnerIsNotFound(t *testing.T, s server.Store) {
	ctx := context.Background()
	a := mustCreate(t, s, newItem(t, alice))
	b := mustCreate(t, s, newItem(t, bob))
	asBob := server.Access{UserID: bob}

	if _, err := s.GetItem(ctx, asBob, a.ID); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("GetItem(another owner's item) = %v, want ErrNotFound", err)
	}
	up := a
	up.Name = "stolen"
	up.OwnerID = bob
	if _, err := s.UpdateItem(ctx, asBob, up); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("UpdateItem(another owner's item) = %v, want ErrNotFound", err)
	}
	if err := s.DeleteItem(ctx, asBob, a.ID); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("DeleteItem(another owner's item) = %v, want ErrNotFound", err)
	}
	// Alice's item is untouched by the attempts.
	wantItem(t, mustGet(t, s, server.Access{UserID: alice}, a.ID), a)

	for _, tc := range []struct {
		acc  server.Access
		want []string
	}{
		{server.Access{UserID: alice}, []string{a.ID}},
		{asBob, []string{b.ID}},
		{server.Access{UserID: "user-carol"}, nil},
	} {
		if got := ids(listAll(t, s, tc.acc, 10)); !slices.Equal(got, tc.want) {
			t.Errorf("ListItems(%+v) = %q, want %q", tc.acc, got, tc.want)
		}
	}
	// An owner id is matched exactly, not as a prefix or pattern.
	for _, near := range []string{"user-alic", "user-alice ", "USER-ALICE", "user-%", "user-_lice"} {
		if _, err := s.GetItem(ctx, server.Access{UserID: near}, a.ID); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("GetItem as %q = %v, want ErrNotFound", near, err)
		}
		if got := listAll(t, s, server.Access{UserID: near}, 10); len(got) != 0 {
			t.Errorf("ListItems as %q = %q, want none", near, ids(got))
		}
	}
}

func testAccessAllSeesEverything(t *testing.T, s server.Store) {
	ctx := context.Background()
	a := mustCreate(t, s, newItem(t, alice))
	b := mustCreate(t, s, newItem(t, bob))
	admin := server.Access{UserID: "user-admin", All: true}

	want := []string{a.ID, b.ID}
	slices.Sort(want)
	if got := ids(listAll(t, s, admin, 10)); !slices.Equal(got, want) {
		t.Errorf("ListItems(All) = %q, want %q", got, want)
	}
	wantItem(t, mustGet(t, s, admin, a.ID), a)
	wantItem(t, mustGet(t, s, admin, b.ID), b)

	up := b
	up.Name = "renamed by admin"
	got, err := s.UpdateItem(ctx, admin, up)
	if err != nil {
		t.Fatalf("UpdateItem(All): %v", err)
	}
	wantItem(t, got, up)
	if got.OwnerID != bob {
		t.Errorf("UpdateItem(All) changed owner to %q", got.OwnerID)
	}
	if err := s.DeleteItem(ctx, admin, a.ID); err != nil {
		t.Fatalf("DeleteItem(All): %v", err)
	}
	if _, err := s.GetItem(ctx, admin, a.ID); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("GetItem after DeleteItem(All) = %v, want ErrNotFound", err)
	}
}

func testAccessWithoutUserSeesNothing(t *testing.T, s server.Store) {
	ctx := context.Background()
	a := mustCreate(t, s, newItem(t, alice))
	var none server.Access
	if got, err := s.GetItem(ctx, none, a.ID); err == nil {
		t.Errorf("GetItem(Access{}) = %q, want an error", got.ID)
	}
	if got, err := s.ListItems(ctx, none, "", 10); err == nil || len(got) != 0 {
		t.Errorf("ListItems(Access{}) = %d items, %v; want an error", len(got), err)
	}
	up := a
	up.Name = "anonymous edit"
	if _, err := s.UpdateItem(ctx, none, up); err == nil {
		t.Errorf("UpdateItem(Access{}) succeeded, want an error")
	}
	if err := s.DeleteItem(ctx, none, a.ID); err == nil {
		t.Errorf("DeleteItem(Access{}) succeeded, want an error")
	}
	wantItem(t, mustGet(t, s, server.Access{UserID: alice}, a.ID), a)
}

func testUpdate(t *testing.T, s server.Store) {
	ctx := context.Background()
	orig := mustCreate(t, s, newItem(t, alice))
	later := orig.UpdatedAt.Add(90*time.Minute + 123*time.Microsecond)
	tests := []struct {
		name string
		edit func(*server.Item)
	}{
		{"all fields", func(it *server.Item) {
			it.Name = "gadget"
			it.Description = "a better gadget ✨"
			it.Price = 12.5
			it.Tax = ptr(0.07)
		}},
		{"tax to nil", func(it *server.Item) { it.Tax = nil }},
		{"tax from nil", func(it *server.Item) { it.Tax = ptr(0) }},
		{"empty description", func(it *server.Item) { it.Description = "" }},
		{"same values", func(*server.Item) {}},
	}
	cur := orig
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			up := cur
			later = later.Add(time.Second)
			up.UpdatedAt = later
			tc.edit(&up)
			got, err := s.UpdateItem(ctx, server.Access{UserID: alice}, up)
			if err != nil {
				t.Fatalf("UpdateItem: %v", err)
			}
			wantItem(t, got, up)
			wantItem(t, mustGet(t, s, server.Access{UserID: alice}, up.ID), up)
			cur = up
		})
	}
}

func testUpdateKeepsOwnerAndCreatedAt(t *testing.T, s server.Store) {
	for _, acc := range []server.Access{{UserID: alice}, {UserID: "user-admin", All: true}} {
		t.Run(fmt.Sprintf("%+v", acc), func(t *testing.T) {
			orig := mustCreate(t, s, newItem(t, alice))
			up := orig
			up.OwnerID = bob
			up.CreatedAt = orig.CreatedAt.Add(-24 * time.Hour)
			up.UpdatedAt = orig.UpdatedAt.Add(time.Hour)
			up.Name = "changed"
			want := up
			want.OwnerID = orig.OwnerID
			want.CreatedAt = orig.CreatedAt

			got, err := s.UpdateItem(context.Background(), acc, up)
			if err != nil {
				t.Fatalf("UpdateItem: %v", err)
			}
			wantItem(t, got, want)
			wantItem(t, mustGet(t, s, server.Access{UserID: alice}, orig.ID), want)
			if _, err := s.GetItem(context.Background(), server.Access{UserID: bob}, orig.ID); !errors.Is(err, server.ErrNotFound) {
				t.Errorf("new owner sees the item: GetItem = %v, want ErrNotFound", err)
			}
		})
	}
}

func testDelete(t *testing.T, s server.Store) {
	ctx := context.Background()
	keep := mustCreate(t, s, newItem(t, alice))
	gone := mustCreate(t, s, newItem(t, alice))
	acc := server.Access{UserID: alice}
	if err := s.DeleteItem(ctx, acc, gone.ID); err != nil {
		t.Fatalf("DeleteItem: %v", err)
	}
	if _, err := s.GetItem(ctx, acc, gone.ID); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("GetItem after DeleteItem = %v, want ErrNotFound", err)
	}
	if err := s.DeleteItem(ctx, acc, gone.ID); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("second DeleteItem = %v, want ErrNotFound", err)
	}
	up := gone
	up.Name = "resurrected"
	if _, err := s.UpdateItem(ctx, acc, up); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("UpdateItem after DeleteItem = %v, want ErrNotFound", err)
	}
	if got := ids(listAll(t, s, acc, 10)); !slices.Equal(got, []string{keep.ID}) {
		t.Errorf("ListItems after DeleteItem = %q, want %q", got, []string{keep.ID})
	}
	// The id may be used again once free.
	mustCreate(t, s, gone)
	wantItem(t, mustGet(t, s, acc, gone.ID), gone)
}

func testPagination(t *testing.T, s server.Store) {
	ctx := context.Background()
	const perOwner = 23
	var aliceIDs, allIDs []string
	for i := range 2 * perOwner {
		owner := alice
		if i%2 == 1 {
			owner = bob
		}
		it := newItem(t, owner)
		it.Name = fmt.Sprintf("item %d", i)
		mustCreate(t, s, it)
		allIDs = append(allIDs, it.ID)
		if owner == alice {
			aliceIDs = append(aliceIDs, it.ID)
		}
	}
	slices.Sort(aliceIDs)
	slices.Sort(allIDs)

	for _, tc := range []struct {
		acc  server.Access
		want []string
	}{
		{server.Access{UserID: alice}, aliceIDs},
		{server.Access{All: true}, allIDs},
	} {
		for _, size := range []int{1, 2, 5, 7, 22, 23, 24, 46, 101, 1000} {
			t.Run(fmt.Sprintf("%+v/limit=%d", tc.acc, size), func(t *testing.T) {
				// listAll checks order and page length; equality with the
				// sorted ids rules out duplicates and gaps.
				if got := ids(listAll(t, s, tc.acc, size)); !slices.Equal(got, tc.want) {
					t.Errorf("pages joined = %q,\nwant %q", got, tc.want)
				}
			})
		}
		t.Run(fmt.Sprintf("%+v/cursors", tc.acc), func(t *testing.T) {
			want := tc.want
			for _, c := range []struct {
				name  string
				after string
				limit int
				want  []string
			}{
				{"first page", "", 3, want[:3]},
				{"from the middle", want[10], 4, want[11:15]},
				{"last item", want[len(want)-2], 10, want[len(want)-1:]},
				{"past the end", want[len(want)-1], 10, nil},
				{"beyond every id", "ffffffff-ffff-ffff-ffff-ffffffffffff", 10, nil},
				{"before every id", "0", 2, want[:2]},
				{"cursor not an existing id", want[5] + "0", 2, want[6:8]},
			} {
				page, err := s.ListItems(ctx, tc.acc, c.after, c.limit)
				if err != nil {
					t.Fatalf("%s: ListItems: %v", c.name, err)
				}
				if got := ids(page); !slices.Equal(got, c.want) {
					t.Errorf("%s: ListItems(after=%q, limit=%d) = %q, want %q", c.name, c.after, c.limit, got, c.want)
				}
			}
		})
	}
	t.Run("items are complete", func(t *testing.T) {
		page, err := s.ListItems(ctx, server.Access{UserID: alice}, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page {
			wantItem(t, it, mustGet(t, s, server.Access{UserID: alice}, it.ID))
		}
	})
}

func testListLimitMustBePositive(t *testing.T, s server.Store) {
	mustCreate(t, s, newItem(t, alice))
	for _, limit := range []int{0, -1, math.MinInt} {
		got, err := s.ListItems(context.Background(), server.Access{UserID: alice}, "", limit)
		if err == nil {
			t.Errorf("ListItems(limit=%d) = %d items, want an error", limit, len(got))
		}
	}
}

// payloads returns the SQL injection corpus, one payload a line, plus a few
// values of our own.
func payloads(t *testing.T) []string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("storetest: no go.mod above the working directory; cannot find testdata/sqli-payloads.txt")
		}
		dir = parent
	}
	data, err := os.ReadFile(filepath.Join(dir, "testdata", "sqli-payloads.txt"))
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for line := range bytes.Lines(data) {
		add(strings.TrimRight(string(line), "\r\n"))
	}
	if len(out) < 100 {
		t.Fatalf("storetest: only %d payloads in sqli-payloads.txt", len(out))
	}
	for _, p := range []string{
		"'; DROP TABLE items; --",
		"x'); DELETE FROM items; --",
		"\" OR owner_id IS NOT NULL --",
		"%", "_", "*", "\\", "?", "$1", ":name", "@p1",
		"line\r\nbreak", "tab\there", "\u202eevil", "🌍'🌍",
	} {
		add(p)
	}
	return out
}

func testHostileStrings(t *testing.T, s server.Store) {
	ctx := context.Background()
	ps := payloads(t)
	want := map[string]server.Item{}
	for _, p := range ps {
		it := newItem(t, p)
		it.Name = p
		it.Description = p + "\n" + p
		mustCreate(t, s, it)
		want[it.ID] = it
	}

	all := listAll(t, s, server.Access{All: true}, 101)
	if len(all) != len(want) {
		t.Fatalf("store holds %d items, inserted %d", len(all), len(want))
	}
	for _, got := range all {
		w, ok := want[got.ID]
		if !ok {
			t.Fatalf("store holds an item that was never inserted: %q", got.ID)
		}
		wantItem(t, got, w)
	}

	// Each payload, as the caller's user id, sees exactly its own item.
	for _, w := range want {
		acc := server.Access{UserID: w.OwnerID}
		got := listAll(t, s, acc, 101)
		if len(got) != 1 || got[0].ID != w.ID {
			t.Errorf("ListItems as %q = %q, want only %q", w.OwnerID, ids(got), w.ID)
			continue
		}
		wantItem(t, mustGet(t, s, acc, w.ID), w)
	}

	// Payloads as ids and cursors are just values: an id matches nothing, a
	// cursor is compared as a string.
	byOwner := map[string]server.Item{}
	for _, w := range want {
		byOwner[w.OwnerID] = w
	}
	for _, p := range ps {
		for _, acc := range []server.Access{{UserID: alice}, {All: true}} {
			if _, err := s.GetItem(ctx, acc, p); !errors.Is(err, server.ErrNotFound) {
				t.Errorf("GetItem(%+v, id=%q) = %v, want ErrNotFound", acc, p, err)
			}
		}
		if err := s.DeleteItem(ctx, server.Access{All: true}, p); !errors.Is(err, server.ErrNotFound) {
			t.Errorf("DeleteItem(id=%q) = %v, want ErrNotFound", p, err)
		}
		var wantPage []string
		if own := byOwner[p]; own.ID > p {
			wantPage = []string{own.ID}
		}
		page, err := s.ListItems(ctx, server.Access{UserID: p}, p, 5)
		if err != nil || !slices.Equal(ids(page), wantPage) {
			t.Errorf("ListItems(user=%q, after=%q) = %q, %v; want %q", p, p, ids(page), err, wantPage)
		}
	}
	if got := listAll(t, s, server.Access{All: true}, 101); len(got) != len(want) {
		t.Errorf("store holds %d items after the hostile lookups, want %d", len(got), len(want))
	}

	// Updating with hostile values changes only the one row.
	var target server.Item
	for _, w := range want {
		target = w
		break
	}
	for _, p := range ps[:20] {
		up := target
		up.Name = p
		up.Description = p
		got, err := s.UpdateItem(ctx, server.Access{UserID: target.OwnerID}, up)
		if err != nil {
			t.Fatalf("UpdateItem(name=%q): %v", p, err)
		}
		wantItem(t, got, up)
		target = up
	}
	for _, got := range listAll(t, s, server.Access{All: true}, 101) {
		w := want[got.ID]
		if got.ID == target.ID {
			w = target
		}
		wantItem(t, got, w)
	}
}

func testCancelledContext(t *testing.T, s server.Store) {
	existing := mustCreate(t, s, newItem(t, alice))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	acc := server.Access{UserID: alice}
	fresh := newItem(t, alice)
	up := existing
	up.Name = "should not happen"

	calls := []struct {
		name string
		call func() error
	}{
		{"CreateItem", func() error { return s.CreateItem(ctx, fresh) }},
		{"GetItem", func() error { _, err := s.GetItem(ctx, acc, existing.ID); return err }},
		{"ListItems", func() error { _, err := s.ListItems(ctx, acc, "", 10); return err }},
		{"UpdateItem", func() error { _, err := s.UpdateItem(ctx, acc, up); return err }},
		{"DeleteItem", func() error { return s.DeleteItem(ctx, acc, existing.ID) }},
		{"Ping", func() error { return s.Ping(ctx) }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); !errors.Is(err, context.Canceled) {
				t.Errorf("%s with a cancelled context = %v, want context.Canceled", c.name, err)
			}
		})
	}
	// Nothing happened.
	if got := ids(listAll(t, s, acc, 10)); !slices.Equal(got, []string{existing.ID}) {
		t.Errorf("after cancelled calls the store holds %q, want %q", got, []string{existing.ID})
	}
	wantItem(t, mustGet(t, s, acc, existing.ID), existing)
}

func testPing(t *testing.T, s server.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 3 {
		if err := s.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
	}
}

func testConcurrency(t *testing.T, s server.Store) {
	const (
		writers   = 8
		perWriter = 50
		readers   = 4
	)
	ctx := context.Background()
	seed := mustCreate(t, s, newItem(t, "user-seed"))

	var (
		wg      sync.WaitGroup
		done    = make(chan struct{})
		errMu   sync.Mutex
		errs    []error
		created = make([][]string, writers)
	)
	fail := func(err error) {
		errMu.Lock()
		errs = append(errs, err)
		errMu.Unlock()
	}
	var writersWG sync.WaitGroup
	for w := range writers {
		writersWG.Add(1)
		go func() {
			defer writersWG.Done()
			owner := fmt.Sprintf("user-writer-%d", w)
			for i := range perWriter {
				it, err := makeItem(owner)
				if err != nil {
					fail(err)
					return
				}
				it.Name = fmt.Sprintf("w%d-%d", w, i)
				if err := s.CreateItem(ctx, it); err != nil {
					fail(fmt.Errorf("writer %d create %d: %w", w, i, err))
					return
				}
				created[w] = append(created[w], it.ID)
				if i%10 == 0 { // writes of other kinds in the mix
					up := it
					up.Name += " (updated)"
					if _, err := s.UpdateItem(ctx, server.Access{UserID: owner}, up); err != nil {
						fail(fmt.Errorf("writer %d update %d: %w", w, i, err))
						return
					}
				}
			}
		}()
	}
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-done:
					if n == 0 {
						fail(fmt.Errorf("reader %d never ran", r))
					}
					return
				default:
				}
				if _, err := s.GetItem(ctx, server.Access{UserID: "user-seed"}, seed.ID); err != nil {
					fail(fmt.Errorf("reader %d get: %w", r, err))
					return
				}
				if _, err := s.ListItems(ctx, server.Access{All: true}, "", 50); err != nil {
					fail(fmt.Errorf("reader %d list: %w", r, err))
					return
				}
			}
		}()
	}
	writersWG.Wait()
	close(done)
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}

	if got, want := len(listAll(t, s, server.Access{All: true}, 101)), writers*perWriter+1; got != want {
		t.Errorf("store holds %d items, want %d", got, want)
	}
	for w := range writers {
		acc := server.Access{UserID: fmt.Sprintf("user-writer-%d", w)}
		want := slices.Sorted(slices.Values(created[w]))
		if got := ids(listAll(t, s, acc, 101)); !slices.Equal(got, want) {
			t.Errorf("writer %d: listed %d ids, created %d (or they differ)", w, len(got), len(want))
		}
	}
}

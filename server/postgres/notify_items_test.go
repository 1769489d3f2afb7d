package postgres

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fortapi/fortapi/server"
)

// nextItem waits for the next item change on l, failing t after 10 s.
func nextItem(t *testing.T, l *Listener) ItemChange {
	t.Helper()
	select {
	case c := <-l.Items():
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no item change within 10s")
		return ItemChange{}
	}
}

// wantItem asserts that the next item change is op on id of owner.
func wantChange(t *testing.T, l *Listener, op ItemOp, id, owner string) {
	t.Helper()
	got := nextItem(t, l)
	if got.Op != op || got.ID != id || got.OwnerID != owner || got.Gap {
		t.Fatalf("item change %+v, want %c %q of %q", got, op, id, owner)
	}
}

// wantSnapshot asserts that the next item change is op carrying it.
func wantSnapshot(t *testing.T, l *Listener, op ItemOp, it server.Item) {
	t.Helper()
	got := nextItem(t, l)
	if got.Op != op || got.ID != it.ID || got.OwnerID != it.OwnerID || got.Item == nil {
		t.Fatalf("item change %+v, want %c of %q with the item", got, op, it.ID)
	}
	if !reflect.DeepEqual(*got.Item, it) {
		t.Fatalf("the change carries\n%+v\nwant\n%+v", *got.Item, it)
	}
}

func testItem(t *testing.T, owner string, now time.Time) server.Item {
	t.Helper()
	id, err := server.NewID(now, nil)
	if err != nil {
		t.Fatal(err)
	}
	return server.Item{ID: id, OwnerID: owner, Name: "n", Description: strings.Repeat("long ", 3000), Price: 1,
		CreatedAt: now, UpdatedAt: now}
}

// TestListenerItems: every committed item write of any store on the
// schema is delivered once to the listener, as a reference (op, id,
// owner), whatever the item's size; failed writes and other schemas'
// writes are not; the changes of one item arrive in the order of its
// writes, also when many items are written at once; a reconnect delivers
// a Gap.
func TestListenerItems(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t)
	schema := ts.newSchema(t)
	s := open(t, Options{URL: schema})
	writer := open(t, Options{URL: schema}) // another instance
	other := open(t, Options{URL: ts.newSchema(t)})
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)

	if l := listen(t, s, ListenOptions{}); l.Items() != nil {
		t.Error("Items is not nil without ListenOptions.Items")
	}
	l := listen(t, s, ListenOptions{Items: true, MinBackoff: 50 * time.Millisecond})
	if c := nextItem(t, l); !c.Gap {
		t.Fatalf("first item change %+v, want the Gap of the first connect", c)
	}

	alice, bob := "alice-id", "bob-id"
	it := testItem(t, alice, now) // a description of 15,000 bytes: over the payload limit
	if err := writer.CreateItem(ctx, it); err != nil {
		t.Fatal(err)
	}
	wantChange(t, l, ItemCreated, it.ID, alice)
	// Refused writes announce nothing.
	if err := writer.CreateItem(ctx, it); !errors.Is(err, server.ErrConflict) {
		t.Fatalf("duplicate CreateItem = %v", err)
	}
	up := it
	up.Name = "renamed"
	if _, err := writer.UpdateItem(ctx, server.Access{UserID: bob}, up); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("UpdateItem as another owner = %v", err)
	}
	if err := writer.DeleteItem(ctx, server.Access{UserID: bob}, it.ID); !errors.Is(err, server.ErrNotFound) {
		t.Fatalf("DeleteItem as another owner = %v", err)
	}
	// Another schema's writes are another channel's.
	if err := other.CreateItem(ctx, testItem(t, alice, now)); err != nil {
		t.Fatal(err)
	}
	// The owner's update, an administrator's (the owner comes from the
	// row), an administrator's deletion.
	if _, err := writer.UpdateItem(ctx, server.Access{UserID: alice}, up); err != nil {
		t.Fatal(err)
	}
	wantChange(t, l, ItemUpdated, it.ID, alice)
	if _, err := writer.UpdateItem(ctx, server.Access{All: true}, up); err != nil {
		t.Fatal(err)
	}
	wantChange(t, l, ItemUpdated, it.ID, alice)
	if err := s.DeleteItem(ctx, server.Access{All: true}, it.ID); err != nil {
		t.Fatal(err)
	}
	wantChange(t, l, ItemDeleted, it.ID, alice)

	// An id beyond what a payload can carry is stored, not announced.
	huge := testItem(t, alice, now)
	huge.ID = strings.Repeat("x", 3001)
	if err := writer.CreateItem(ctx, huge); err != nil {
		t.Fatal(err)
	}
	marker := testItem(t, bob, now)
	if err := writer.CreateItem(ctx, marker); err != nil {
		t.Fatal(err)
	}
	wantChange(t, l, ItemCreated, marker.ID, bob)

	// A small item comes whole, byte for byte, as GetItem returns it.
	small := testItem(t, "owner\x00\xff", now)
	small.Name, small.Description = "naïve <b>\x00\xfe", strings.Repeat("€", 1000)
	small.Price, small.Tax = 0.1, ptr(1e9/3)
	small.CreatedAt = time.UnixMicro(-1).UTC()
	if err := writer.CreateItem(ctx, small); err != nil {
		t.Fatal(err)
	}
	stored, err := s.GetItem(ctx, server.Access{All: true}, small.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantSnapshot(t, l, ItemCreated, stored)
	small.Tax, small.Name = nil, "v2"
	if stored, err = writer.UpdateItem(ctx, server.Access{All: true}, small); err != nil {
		t.Fatal(err)
	}
	wantSnapshot(t, l, ItemUpdated, stored)
	if err := writer.DeleteItem(ctx, server.Access{All: true}, small.ID); err != nil {
		t.Fatal(err)
	}
	wantChange(t, l, ItemDeleted, small.ID, small.OwnerID)

	t.Run("per-item order under concurrent writes", func(t *testing.T) {
		const items, updates = 20, 5
		var wg sync.WaitGroup
		errs := make(chan error, items)
		for i := range items {
			wg.Add(1)
			go func() {
				defer wg.Done()
				it := testItem(t, fmt.Sprint("owner-", i), now)
				if err := writer.CreateItem(ctx, it); err != nil {
					errs <- err
					return
				}
				for u := range updates {
					it.Name = fmt.Sprint("v", u)
					if _, err := writer.UpdateItem(ctx, server.Access{UserID: it.OwnerID}, it); err != nil {
						errs <- err
						return
					}
				}
				if err := writer.DeleteItem(ctx, server.Access{UserID: it.OwnerID}, it.ID); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		seqs := map[string]string{}
		for range items * (updates + 2) {
			c := nextItem(t, l)
			if c.Gap {
				t.Fatal("a Gap without a reconnect")
			}
			seqs[c.ID] += string(rune(c.Op))
		}
		want := "c" + strings.Repeat("u", updates) + "d"
		for id, seq := range seqs {
			if seq != want {
				t.Errorf("item %s: changes %q, want %q", id, seq, want)
			}
		}
		if len(seqs) != items {
			t.Errorf("%d items announced, want %d", len(seqs), items)
		}
	})

	t.Run("a reconnect delivers a Gap", func(t *testing.T) {
		pid := l.backendPID()
		var ok bool
		if err := ts.admin.QueryRow(ctx, "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&ok); err != nil || !ok {
			t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
		}
		if c := nextItem(t, l); !c.Gap {
			t.Fatalf("after the listening connection was terminated: %+v, want a Gap", c)
		}
		it := testItem(t, alice, now)
		if err := writer.CreateItem(ctx, it); err != nil {
			t.Fatal(err)
		}
		wantChange(t, l, ItemCreated, it.ID, alice)
	})
}

func TestParseItemChange(t *testing.T) {
	t.Parallel()
	tax := 2.5
	snap := &server.Item{ID: "id", OwnerID: "o", Name: "n", Description: "", Price: 0.5, Tax: &tax,
		CreatedAt: time.UnixMicro(1).UTC(), UpdatedAt: time.UnixMicro(-2).UTC()}
	noTax := *snap
	noTax.Tax = nil
	tests := []struct {
		payload string
		want    ItemChange
		ok      bool
	}{
		{"ic:6964:6f:6e::3fe0000000000000:4004000000000000:1:-2", ItemChange{Op: ItemCreated, ID: "id", OwnerID: "o", Item: snap}, true},
		{"iu:6964:6f:6e::3fe0000000000000::1:-2", ItemChange{Op: ItemUpdated, ID: "id", OwnerID: "o", Item: &noTax}, true},
		{"id:6964:6f:6e::3fe0000000000000::1:-2", ItemChange{}, false},   // a deletion carries no item
		{"ic:6964:6f:6e::7ff8000000000000::1:-2", ItemChange{}, false},   // NaN
		{"ic:6964:6f:6e::3fe00000000000::1:-2", ItemChange{}, false},     // 7 bytes
		{"ic:6964:6f:6e::3fe0000000000000::x:-2", ItemChange{}, false},   // not a time
		{"ic:6964:6f:6e:zz:3fe0000000000000::1:-2", ItemChange{}, false}, // not hex
		{"ic:6964:6f:6e::3fe0000000000000::1", ItemChange{}, false},      // 7 fields
		{"ic:6964:6f:6e::3fe0000000000000::1:-2:3", ItemChange{}, false}, // 9 fields
		{"ic:6964:6f", ItemChange{Op: ItemCreated, ID: "id", OwnerID: "o"}, true},
		{"iu:00ff:01", ItemChange{Op: ItemUpdated, ID: "\x00\xff", OwnerID: "\x01"}, true},
		{"id:61:62", ItemChange{Op: ItemDeleted, ID: "a", OwnerID: "b"}, true},
		{"ix:61:62", ItemChange{}, false},
		{"ic:61", ItemChange{}, false},
		{"ic::62", ItemChange{}, false},
		{"ic:61:", ItemChange{}, false},
		{"ic:zz:62", ItemChange{}, false},
		{"ic61:62", ItemChange{}, false},
		{"i", ItemChange{}, false},
		{"r", ItemChange{}, false},
		{"", ItemChange{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.payload, func(t *testing.T) {
			got, ok := parseItemChange(tc.payload)
			if ok != tc.ok || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("parseItemChange(%q) = %+v, %v; want %+v, %v", tc.payload, got, ok, tc.want, tc.ok)
			}
		})
	}
}

// FuzzParseItemChange: whatever a notification's payload holds, parsing it
// neither panics nor yields a change without an id and owner, and a
// snapshot's item is the change's item.
func FuzzParseItemChange(f *testing.F) {
	f.Add("ic:6964:6f")
	f.Add("iu:6964:6f:6e::3fe0000000000000:4004000000000000:1:-2")
	f.Add("id:00ff:01")
	f.Add("ic:6964:6f:6e::7ff0000000000000::1:-2")
	f.Add("ic:6964:6f:6e::3fe0000000000000::9223372036854775807:-9223372036854775808")
	f.Fuzz(func(t *testing.T, payload string) {
		c, ok := parseItemChange(payload)
		if !ok {
			if c != (ItemChange{}) {
				t.Fatalf("refused %q but returned %+v", payload, c)
			}
			return
		}
		if c.ID == "" || c.OwnerID == "" || c.Gap {
			t.Fatalf("%q parsed as %+v", payload, c)
		}
		if c.Item != nil && (c.Op == ItemDeleted || c.Item.ID != c.ID || c.Item.OwnerID != c.OwnerID ||
			c.Item.CheckNumbers() != nil) {
			t.Fatalf("%q parsed as %+v with item %+v", payload, c, *c.Item)
		}
	})
}

package sqlite

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/fortapi/fortapi/server"
)

// A database at schema version 6 keeps every item, byte for byte, through
// 0007, which rebuilds items as a WITHOUT ROWID table: with and without
// tax, with a description that needs overflow pages, with markup and
// multi-byte text. Afterwards the table has no rowid, the owner index is
// back, reads by id search the primary key alone, and the constraints
// still hold (a duplicate id is a conflict, text in a REAL column is
// refused).
func TestMigrate0007KeepsItems(t *testing.T) {
	ctx := context.Background()
	_, db, path := databaseAt(t, 6, "0007_items_without_rowid.sql")
	var items []server.Item
	for i, desc := range []string{"", "d", "<b>bold</b> – ünïcödé 🚀", strings.Repeat("long description ", 1200)} {
		it := testItem(t, []string{"owner-a", "owner-b"}[i%2])
		it.Description = desc
		if i == 1 {
			it.Tax = nil
		}
		_, err := db.ExecContext(ctx, sqlInsertItem, it.ID, it.OwnerID, it.Name, it.Description, it.Price, nullFloat(it.Tax),
			it.CreatedAt.UnixMicro(), it.UpdatedAt.UnixMicro())
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, it)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openAt(t, path, Options{})
	for _, it := range items {
		got, err := s.GetItem(ctx, server.Access{UserID: it.OwnerID}, it.ID)
		if err != nil {
			t.Fatalf("item %s lost in the migration: %v", it.ID, err)
		}
		if got.ID != it.ID || got.OwnerID != it.OwnerID || got.Name != it.Name || got.Description != it.Description ||
			got.Price != it.Price || (got.Tax == nil) != (it.Tax == nil) || (got.Tax != nil && *got.Tax != *it.Tax) ||
			!got.CreatedAt.Equal(it.CreatedAt) || !got.UpdatedAt.Equal(it.UpdatedAt) {
			t.Errorf("item after 0007 = %+v, want %+v", got, it)
		}
	}
	// Listed in id order (ids made in one millisecond are not in the
	// order they were made).
	wantIDs := []string{items[0].ID, items[2].ID}
	slices.Sort(wantIDs)
	page, err := s.ListItems(ctx, server.Access{UserID: "owner-a"}, "", 10)
	if err != nil || len(page) != 2 || page[0].ID != wantIDs[0] || page[1].ID != wantIDs[1] {
		t.Errorf("owner-a's items after 0007 = %v, %v; want ids %v", page, err, wantIDs)
	}

	var schema string
	if err := s.reader.QueryRowContext(ctx, "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = 'items'").Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(schema, "WITHOUT ROWID") || !strings.Contains(schema, "STRICT") {
		t.Errorf("items after 0007: %s", schema)
	}
	if _, err := s.reader.ExecContext(ctx, "SELECT rowid FROM items"); err == nil {
		t.Error("items still has a rowid")
	}
	var index int
	if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'items_owner_id_id' AND tbl_name = 'items'").Scan(&index); err != nil || index != 1 {
		t.Errorf("items_owner_id_id after 0007: %d, %v", index, err)
	}
	for _, q := range []string{sqlGetItemOwn, sqlGetItemAll} {
		plan := queryPlan(t, s, q, items[0].ID, "owner-a")
		if !strings.Contains(plan, "USING PRIMARY KEY (id=?)") {
			t.Errorf("plan of %q: %s, want a search of the primary key", q, plan)
		}
	}
	plan := queryPlan(t, s, sqlListItemsOwn, "owner-a", "", 10)
	if !strings.Contains(plan, "items_owner_id_id") {
		t.Errorf("plan of %q: %s, want items_owner_id_id", sqlListItemsOwn, plan)
	}

	if err := s.CreateItem(ctx, items[0]); !errors.Is(err, server.ErrConflict) {
		t.Errorf("inserting an existing id after 0007: %v, want ErrConflict", err)
	}
	if _, err := s.writer.ExecContext(ctx, "INSERT INTO items (id, owner_id, name, price, created_at, updated_at) VALUES ('x', 'o', 'n', 'text', 0, 0)"); err == nil {
		t.Error("STRICT lost: text stored in price after 0007")
	}
}

// queryPlan is EXPLAIN QUERY PLAN of q with args, its details joined.
func queryPlan(t *testing.T, s *Store, q string, args ...any) string {
	t.Helper()
	args = args[:strings.Count(q, "?")]
	rows, err := s.reader.Query("EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "; ")
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

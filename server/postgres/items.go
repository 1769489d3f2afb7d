package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/fortapi/fortapi/server"
)

// server.ItemStore on PostgreSQL (migrations/0001_items.sql). Every item
// write is one statement, its own transaction, which also queues the
// item's change notification (notifyItem): PostgreSQL delivers it to every
// listening instance when, and only if, the write commits, in commit
// order. Two writes of one item are serialised by its row lock, so their
// notifications arrive in the order of the writes.

// Every statement is a constant with $n placeholders; values travel only as
// arguments. Each item query has an owner-scoped form ("...Own") and an
// unscoped one for Access.All.
const (
	itemColumns = "id, owner_id, name, description, price, tax, created_at, updated_at"

	sqlInsertItem = "WITH w AS (INSERT INTO items (" + itemColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING " + itemColumns + ") " +
		"SELECT " + notifyItemCreated + " FROM w"

	sqlGetItemOwn = "SELECT " + itemColumns + " FROM items WHERE id = $1 AND owner_id = $2"
	sqlGetItemAll = "SELECT " + itemColumns + " FROM items WHERE id = $1"

	sqlListItemsOwn = "SELECT " + itemColumns + " FROM items WHERE owner_id = $1 AND id > $2 ORDER BY id LIMIT $3"
	sqlListItemsAll = "SELECT " + itemColumns + " FROM items WHERE id > $1 ORDER BY id LIMIT $2"

	// The channel is $1 in the updates and deletes; the notification is
	// an extra column, skipped when scanning.
	sqlUpdateItemOwn = "WITH w AS (UPDATE items SET name = $2, description = $3, price = $4, tax = $5, updated_at = $6 WHERE id = $7 AND owner_id = $8 RETURNING " + itemColumns + ") " +
		"SELECT " + itemColumns + ", " + notifyItemUpdated + " FROM w"
	sqlUpdateItemAll = "WITH w AS (UPDATE items SET name = $2, description = $3, price = $4, tax = $5, updated_at = $6 WHERE id = $7 RETURNING " + itemColumns + ") " +
		"SELECT " + itemColumns + ", " + notifyItemUpdated + " FROM w"

	sqlDeleteItemOwn = "WITH w AS (DELETE FROM items WHERE id = $2 AND owner_id = $3 RETURNING id, owner_id) SELECT " + notifyItemDeleted + " FROM w"
	sqlDeleteItemAll = "WITH w AS (DELETE FROM items WHERE id = $2 RETURNING id, owner_id) SELECT " + notifyItemDeleted + " FROM w"
)

// notifyItem... queue the change notification of the item row w on the
// channel parameter ($9 or $1), parsed by parseItemChange:
//
//   - a creation or an update whose id, owner, name and description take
//     at most 3400 bytes together carries the row itself (a snapshot: hex
//     strings, the price and tax as the hex of their IEEE 754 bytes, the
//     times in Unix microseconds), within PostgreSQL's 8000-byte payload
//     limit: "i" op ":" id ":" owner ":" name ":" description ":" price
//     ":" tax ":" created ":" updated, tax empty when NULL;
//   - a larger one, and a deletion, a reference: "i" op ":" id ":" owner;
//   - an id and owner of more than 3000 bytes together (never the
//     server's: both are UUIDs) nothing: such a write is not announced.
const (
	notifyIDBytes  = "octet_length(w.id) + octet_length(w.owner_id)"
	notifyRef      = " || encode(w.id, 'hex') || ':' || encode(w.owner_id, 'hex')"
	notifySnapshot = notifyRef + " || ':' || encode(w.name, 'hex') || ':' || encode(w.description, 'hex')" +
		" || ':' || encode(float8send(w.price), 'hex') || ':' || coalesce(encode(float8send(w.tax), 'hex'), '')" +
		" || ':' || (extract(epoch from date_trunc('second', w.created_at))::bigint * 1000000 + extract(microseconds from w.created_at)::bigint % 1000000)::text" +
		" || ':' || (extract(epoch from date_trunc('second', w.updated_at))::bigint * 1000000 + extract(microseconds from w.updated_at)::bigint % 1000000)::text"
	notifySnapshotFits = notifyIDBytes + " + octet_length(w.name) + octet_length(w.description) <= 3400"
	notifyRefFits      = notifyIDBytes + " <= 3000"

	notifyItemCreated = "CASE WHEN " + notifySnapshotFits + " THEN pg_notify($9, 'ic:'" + notifySnapshot + ")::text" +
		" WHEN " + notifyRefFits + " THEN pg_notify($9, 'ic:'" + notifyRef + ")::text END"
	notifyItemUpdated = "CASE WHEN " + notifySnapshotFits + " THEN pg_notify($1, 'iu:'" + notifySnapshot + ")::text" +
		" WHEN " + notifyRefFits + " THEN pg_notify($1, 'iu:'" + notifyRef + ")::text END"
	notifyItemDeleted = "CASE WHEN " + notifyRefFits + " THEN pg_notify($1, 'id:'" + notifyRef + ")::text END"
)

// CreateItem implements server.ItemStore.
func (s *Store) CreateItem(ctx context.Context, it server.Item) error {
	const op = "create item"
	if it.ID == "" || it.OwnerID == "" {
		return errors.New("postgres: create item: empty id or owner id")
	}
	if err := it.CheckNumbers(); err != nil {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	_, err := s.pool.Exec(ctx, sqlInsertItem,
		raw(it.ID), raw(it.OwnerID), raw(it.Name), raw(it.Description), it.Price, it.Tax,
		micro(it.CreatedAt), micro(it.UpdatedAt), s.channel)
	if isUniqueViolation(err) {
		return fmt.Errorf("postgres: %s: id already exists: %w", op, server.ErrConflict)
	}
	if err != nil {
		return wrap(ctx, op, err)
	}
	return nil
}

// GetItem implements server.ItemStore.
func (s *Store) GetItem(ctx context.Context, acc server.Access, id string) (server.Item, error) {
	var row pgx.Row
	switch {
	case acc.All:
		row = s.pool.QueryRow(ctx, sqlGetItemAll, raw(id))
	case acc.UserID != "":
		row = s.pool.QueryRow(ctx, sqlGetItemOwn, raw(id), raw(acc.UserID))
	default:
		return server.Item{}, errNoUser
	}
	it, err := scanItem(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return server.Item{}, server.ErrNotFound
	}
	if err != nil {
		return server.Item{}, wrap(ctx, "get item", err)
	}
	return it, nil
}

// ListItems implements server.ItemStore. limit must be positive; callers
// cap it.
func (s *Store) ListItems(ctx context.Context, acc server.Access, after string, limit int) ([]server.Item, error) {
	const op = "list items"
	if limit <= 0 {
		return nil, fmt.Errorf("postgres: %s: limit is %d, want > 0", op, limit)
	}
	var (
		rows pgx.Rows
		err  error
	)
	switch {
	case acc.All:
		rows, err = s.pool.Query(ctx, sqlListItemsAll, raw(after), limit)
	case acc.UserID != "":
		rows, err = s.pool.Query(ctx, sqlListItemsOwn, raw(acc.UserID), raw(after), limit)
	default:
		return nil, errNoUser
	}
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	items, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (server.Item, error) { return scanItem(r) })
	if err != nil {
		return nil, wrap(ctx, op, err)
	}
	if items == nil {
		items = []server.Item{}
	}
	return items, nil
}

// UpdateItem implements server.ItemStore.
func (s *Store) UpdateItem(ctx context.Context, acc server.Access, it server.Item) (server.Item, error) {
	const op = "update item"
	if err := it.CheckNumbers(); err != nil {
		return server.Item{}, fmt.Errorf("postgres: %s: %w", op, err)
	}
	args := []any{s.channel, raw(it.Name), raw(it.Description), it.Price, it.Tax, micro(it.UpdatedAt), raw(it.ID)}
	query := sqlUpdateItemAll
	switch {
	case acc.All:
	case acc.UserID != "":
		query, args = sqlUpdateItemOwn, append(args, raw(acc.UserID))
	default:
		return server.Item{}, errNoUser
	}
	got, err := scanItem(s.pool.QueryRow(ctx, query, args...), nil)
	if errors.Is(err, pgx.ErrNoRows) {
		return server.Item{}, server.ErrNotFound
	}
	if err != nil {
		return server.Item{}, wrap(ctx, op, err)
	}
	return got, nil
}

// DeleteItem implements server.ItemStore.
func (s *Store) DeleteItem(ctx context.Context, acc server.Access, id string) error {
	const op = "delete item"
	var (
		tag pgconn.CommandTag
		err error
	)
	switch {
	case acc.All:
		tag, err = s.pool.Exec(ctx, sqlDeleteItemAll, s.channel, raw(id))
	case acc.UserID != "":
		tag, err = s.pool.Exec(ctx, sqlDeleteItemOwn, s.channel, raw(id), raw(acc.UserID))
	default:
		return errNoUser
	}
	if err != nil {
		return wrap(ctx, op, err)
	}
	if tag.RowsAffected() == 0 {
		return server.ErrNotFound
	}
	return nil
}

// scanItem reads one row of itemColumns, followed by the columns of more
// (nil skips one).
func scanItem(row pgx.Row, more ...any) (server.Item, error) {
	var it server.Item
	if err := row.Scan(append([]any{str(&it.ID), str(&it.OwnerID), str(&it.Name), str(&it.Description),
		&it.Price, &it.Tax, &it.CreatedAt, &it.UpdatedAt}, more...)...); err != nil {
		return server.Item{}, err
	}
	it.CreatedAt = it.CreatedAt.UTC()
	it.UpdatedAt = it.UpdatedAt.UTC()
	return it, nil
}

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
// write is one statement, its own transaction.

// Every statement is a constant with $n placeholders; values travel only as
// arguments. Each item query has an owner-scoped form ("...Own") and an
// unscoped one for Access.All.
const (
	itemColumns = "id, owner_id, name, description, price, tax, created_at, updated_at"

	sqlInsertItem = "INSERT INTO items (" + itemColumns + ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"

	sqlGetItemOwn = "SELECT " + itemColumns + " FROM items WHERE id = $1 AND owner_id = $2"
	sqlGetItemAll = "SELECT " + itemColumns + " FROM items WHERE id = $1"

	sqlListItemsOwn = "SELECT " + itemColumns + " FROM items WHERE owner_id = $1 AND id > $2 ORDER BY id LIMIT $3"
	sqlListItemsAll = "SELECT " + itemColumns + " FROM items WHERE id > $1 ORDER BY id LIMIT $2"

	sqlUpdateItemOwn = "UPDATE items SET name = $1, description = $2, price = $3, tax = $4, updated_at = $5 WHERE id = $6 AND owner_id = $7 RETURNING " + itemColumns
	sqlUpdateItemAll = "UPDATE items SET name = $1, description = $2, price = $3, tax = $4, updated_at = $5 WHERE id = $6 RETURNING " + itemColumns

	sqlDeleteItemOwn = "DELETE FROM items WHERE id = $1 AND owner_id = $2"
	sqlDeleteItemAll = "DELETE FROM items WHERE id = $1"
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
		micro(it.CreatedAt), micro(it.UpdatedAt))
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
	args := []any{raw(it.Name), raw(it.Description), it.Price, it.Tax, micro(it.UpdatedAt), raw(it.ID)}
	query := sqlUpdateItemAll
	switch {
	case acc.All:
	case acc.UserID != "":
		query, args = sqlUpdateItemOwn, append(args, raw(acc.UserID))
	default:
		return server.Item{}, errNoUser
	}
	got, err := scanItem(s.pool.QueryRow(ctx, query, args...))
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
		tag, err = s.pool.Exec(ctx, sqlDeleteItemAll, raw(id))
	case acc.UserID != "":
		tag, err = s.pool.Exec(ctx, sqlDeleteItemOwn, raw(id), raw(acc.UserID))
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

// scanItem reads one row of itemColumns.
func scanItem(row pgx.Row) (server.Item, error) {
	var it server.Item
	if err := row.Scan(str(&it.ID), str(&it.OwnerID), str(&it.Name), str(&it.Description),
		&it.Price, &it.Tax, &it.CreatedAt, &it.UpdatedAt); err != nil {
		return server.Item{}, err
	}
	it.CreatedAt = it.CreatedAt.UTC()
	it.UpdatedAt = it.UpdatedAt.UTC()
	return it, nil
}

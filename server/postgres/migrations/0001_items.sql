-- 0001: items, the priced things users own (server/sqlite's 0001 on
-- PostgreSQL; the versions of the two stores correspond).
--
-- Every string the caller supplies is bytea, not text: a Go string is a
-- sequence of bytes, and the store contract keeps every byte (PostgreSQL
-- text refuses NUL and bytes that are not UTF-8). bytea also compares as
-- raw bytes, which is the cursor order of ListItems, whatever the
-- database's collation. To read one in psql: convert_from(name, 'UTF8').
--
-- Times are timestamptz (microseconds, as server.Item carries them).
-- price and tax are double precision, as the Go float64; the store refuses
-- NaN, as the SQLite store must. The owner has no foreign key: the item
-- contract suite stores items of owners that have no user row.
CREATE TABLE items (
	id          bytea            NOT NULL PRIMARY KEY,
	owner_id    bytea            NOT NULL,
	name        bytea            NOT NULL,
	description bytea            NOT NULL DEFAULT '',
	price       double precision NOT NULL,
	tax         double precision,
	created_at  timestamptz      NOT NULL,
	updated_at  timestamptz      NOT NULL
);

-- Every user-scoped query is "owner_id = $1 AND id ..." ordered by id.
CREATE INDEX items_owner_id_id ON items (owner_id, id);

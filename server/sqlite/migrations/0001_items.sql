-- 0001: items, the priced things users own.
--
-- id is the UUIDv7 text server.NewID writes; its byte order is the cursor
-- order of ListItems. created_at and updated_at are Unix microseconds (UTC),
-- so the microsecond times server.Item carries round-trip exactly. The owner
-- has no foreign key yet: users arrive in a later migration.
CREATE TABLE items (
	id          TEXT    NOT NULL PRIMARY KEY,
	owner_id    TEXT    NOT NULL,
	name        TEXT    NOT NULL,
	description TEXT    NOT NULL DEFAULT '',
	price       REAL    NOT NULL,
	tax         REAL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL
) STRICT;

-- Every user-scoped query is "owner_id = ? AND id ..." ordered by id.
CREATE INDEX items_owner_id_id ON items (owner_id, id);

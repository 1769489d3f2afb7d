-- 0006: the audit log's actor, and its time order (server/sqlite's 0006
-- on PostgreSQL).
--
-- actor names who made the change when it is not the user the event is
-- about ('cli', 'admin "root"'); '' when the user acted themselves or the
-- server did, and for every event written before this migration.
--
-- events_at_id serves PruneEvents (the oldest events first, in batches)
-- and EventsInOrder (the export pages through (at, id)).
ALTER TABLE events ADD COLUMN actor bytea NOT NULL DEFAULT '';

CREATE INDEX events_at_id ON events (at, id);

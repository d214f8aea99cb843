-- Mission Control schema, version 2: an optional caller-chosen id per journal event, so that an
-- append retried after a lost acknowledgement finds the event it already wrote instead of
-- writing it twice.

ALTER TABLE task_events ADD COLUMN event_id text CHECK (event_id <> '');

-- Partial: events appended without an id (most of them) cost nothing here.
CREATE UNIQUE INDEX task_events_event_id ON task_events (run_uid, event_id)
    WHERE event_id IS NOT NULL;

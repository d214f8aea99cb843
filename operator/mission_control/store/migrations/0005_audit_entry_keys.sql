-- Mission Control schema, version 5: a caller-chosen key on audit entries, so that an append
-- retried after a lost acknowledgement finds the entry it already wrote instead of adding it
-- to the chain a second time. The key is not part of the entry's hash: it only finds the entry.

ALTER TABLE audit_entries ADD COLUMN entry_key text CHECK (entry_key <> '');
CREATE UNIQUE INDEX audit_entries_key ON audit_entries (run_uid, entry_key)
    WHERE entry_key IS NOT NULL;

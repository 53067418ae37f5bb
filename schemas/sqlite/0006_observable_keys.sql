-- taxii-hub SQLite schema, version 6: the observable index is keyed by a 64-bit digest of
-- (object_type, property, value) instead of the text itself. The text index had one ~100-byte
-- entry per observable, so every bulk move rewrote most of its leaves (a third of the writer's
-- time at 1M objects); the key index is a fifth of its size. Lookups ask for the key and then
-- compare the text, so a digest collision costs a row read, never a wrong answer.
-- observable_key() is registered by the hub (storage/sqlite/observables.rs): first 8 bytes of
-- SHA-256(object_type NUL property NUL value), big-endian, as a signed integer.
DROP VIEW indicator_observables_all;

CREATE TABLE indicator_observables_keyed (
    object_seq  INTEGER NOT NULL REFERENCES objects(seq) ON DELETE CASCADE,
    object_type TEXT NOT NULL,
    property    TEXT NOT NULL,
    value       TEXT NOT NULL,
    value_key   INTEGER NOT NULL
);
INSERT INTO indicator_observables_keyed (object_seq, object_type, property, value, value_key)
    SELECT object_seq, object_type, property, value, observable_key(object_type, property, value)
    FROM indicator_observables ORDER BY rowid;
DROP TABLE indicator_observables;
ALTER TABLE indicator_observables_keyed RENAME TO indicator_observables;
CREATE INDEX indicator_observables_by_key ON indicator_observables (value_key);
CREATE INDEX indicator_observables_by_object ON indicator_observables (object_seq);

CREATE VIEW indicator_observables_all AS
    SELECT object_seq, object_type, property, value FROM indicator_observables
    UNION ALL
    SELECT object_seq, object_type, property, value FROM indicator_observables_pending;

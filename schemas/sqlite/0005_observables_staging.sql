-- taxii-hub SQLite schema, version 5: observables wait in an unindexed table and move into
-- indicator_observables in bulk, in value order (see storage/sqlite/observables.rs). Inserted one
-- by one, each landed on a random leaf of the value index: 40% of the writer's time at 1M objects.
CREATE TABLE indicator_observables_pending (
    object_seq  INTEGER NOT NULL REFERENCES objects(seq) ON DELETE CASCADE,
    object_type TEXT NOT NULL,
    property    TEXT NOT NULL,
    value       TEXT NOT NULL
);
CREATE INDEX indicator_observables_pending_by_object ON indicator_observables_pending (object_seq);

-- Every observable, merged or still pending: what readers and exports use.
CREATE VIEW indicator_observables_all AS
    SELECT object_seq, object_type, property, value FROM indicator_observables
    UNION ALL
    SELECT object_seq, object_type, property, value FROM indicator_observables_pending;

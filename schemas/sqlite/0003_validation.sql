-- taxii-hub SQLite schema, version 3: per-collection custom content policy, indicator observables.

ALTER TABLE collections ADD COLUMN custom_content TEXT NOT NULL DEFAULT 'allow' CHECK (custom_content IN ('allow', 'reject'));

-- The observable values each STIX-pattern indicator version matches (ipv4-addr:value = '…'),
-- for feed exports and IOC search. Filtered through the object's visibility when read.
CREATE TABLE indicator_observables (
    object_seq  INTEGER NOT NULL REFERENCES objects(seq) ON DELETE CASCADE,
    object_type TEXT NOT NULL,
    property    TEXT NOT NULL,
    value       TEXT NOT NULL
);
CREATE INDEX indicator_observables_by_value ON indicator_observables (object_type, property, value);
CREATE INDEX indicator_observables_by_object ON indicator_observables (object_seq);

-- taxii-hub PostgreSQL schema, version 2: per-collection custom content policy, indicator observables.

ALTER TABLE collections ADD COLUMN custom_content TEXT NOT NULL DEFAULT 'allow' CHECK (custom_content IN ('allow', 'reject'));

CREATE TABLE indicator_observables (
    object_seq  BIGINT NOT NULL REFERENCES objects(seq) ON DELETE CASCADE,
    object_type TEXT COLLATE "C" NOT NULL,
    property    TEXT COLLATE "C" NOT NULL,
    value       TEXT COLLATE "C" NOT NULL
);
CREATE INDEX indicator_observables_by_value ON indicator_observables (object_type, property, value);
CREATE INDEX indicator_observables_by_object ON indicator_observables (object_seq);

-- taxii-hub SQLite schema, version 4: a hint that spares version selection its probe.
-- has_newer = 0 promises that no row of the same object (collection, id) has a later
-- (spec_version, version); 1 means "maybe", and readers then look at the siblings. Ingest keeps
-- the promise when it adds a version; deletes only remove rows, so they cannot break it.
ALTER TABLE objects ADD COLUMN has_newer INTEGER NOT NULL DEFAULT 1;
UPDATE objects SET has_newer = 0 WHERE NOT EXISTS (
    SELECT 1 FROM objects o2
    WHERE o2.collection_key = objects.collection_key AND o2.stix_id = objects.stix_id
      AND (o2.spec_version > objects.spec_version
           OR (o2.spec_version = objects.spec_version AND o2.version > objects.version)));

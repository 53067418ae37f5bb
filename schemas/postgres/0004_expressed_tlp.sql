-- taxii-hub PostgreSQL schema, version 4: TLP as producers express it (containers, self-made
-- definitions, labels), failing closed on markings the hub cannot read.

-- What a collection does with a marking-definition it cannot resolve: refuse the object, or
-- count the marking as TLP:RED.
ALTER TABLE collections ADD COLUMN unknown_marking TEXT NOT NULL DEFAULT 'refuse' CHECK (unknown_marking IN ('refuse', 'red'));

-- Why a version has its effective TLP ('marking …', 'label …', 'inherited from …',
-- 'unknown marking …'); NULL: the collection default. Versions stored before this migration
-- keep the TLP they were given then.
ALTER TABLE objects ADD COLUMN tlp_reason TEXT;

-- What each stored container (a version with object_refs) refers to, lower-cased. Versions of
-- the same producer in the same collection are at least as restrictive as the container,
-- whichever of the two was posted first.
CREATE TABLE container_refs (
    container_seq  BIGINT NOT NULL REFERENCES objects(seq) ON DELETE CASCADE,
    collection_key BIGINT NOT NULL,
    producer_org   BIGINT NOT NULL,
    ref_id         TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (container_seq, ref_id)
);
CREATE INDEX container_refs_by_ref ON container_refs (collection_key, producer_org, ref_id);

-- STIX ids compare case-insensitively: versions whose id has upper-case letters, by the
-- lower-cased id (almost every id is lower case already, so the index stays small).
CREATE INDEX objects_by_folded_id ON objects (collection_key, lower(stix_id)) WHERE stix_id <> lower(stix_id);

-- Versions stored before this migration that carry markings count as having expressed their
-- TLP, so containers among them pass it on to what is posted from now on. (What they contain is
-- not re-evaluated: see the README.)
UPDATE objects SET tlp_reason = 'marking (stored before this rule)'
 WHERE raw LIKE '%marking%' AND (raw::jsonb ? 'object_marking_refs' OR raw::jsonb ? 'granular_markings');
INSERT INTO container_refs (container_seq, collection_key, producer_org, ref_id)
SELECT o.seq, o.collection_key, o.producer_org, lower(r.value #>> '{}')
  FROM objects o
 CROSS JOIN LATERAL jsonb_array_elements(
       CASE WHEN jsonb_typeof(o.raw::jsonb -> 'object_refs') = 'array' THEN o.raw::jsonb -> 'object_refs' ELSE '[]'::jsonb END) AS r(value)
 WHERE o.raw LIKE '%"object_refs"%' AND jsonb_typeof(r.value) = 'string'
ON CONFLICT DO NOTHING;

-- Identity ids compare case-insensitively too (RED recipients are matched that way).
CREATE UNIQUE INDEX organisations_by_folded_identity ON organisations (lower(identity_id));

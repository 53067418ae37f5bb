-- taxii-hub SQLite schema, version 2: TLP sharing, API keys, client certificates, audit log.

ALTER TABLE collections ADD COLUMN default_tlp INTEGER NOT NULL DEFAULT 3;   -- 3 = TLP:AMBER

-- Each producer keeps its own copy of an (id, version): one partner re-posting an object that
-- another partner already shared must neither learn that it exists nor lose its own markings.
DROP INDEX objects_by_version;
CREATE UNIQUE INDEX objects_by_version ON objects (collection_key, stix_id, spec_version, version, producer_org);

-- Recipients of TLP:RED versions (x_taxii_hub_recipients), as organisation ids.
CREATE TABLE object_recipients (
    object_seq      INTEGER NOT NULL REFERENCES objects(seq) ON DELETE CASCADE,
    organisation_id INTEGER NOT NULL,
    PRIMARY KEY (object_seq, organisation_id)
) WITHOUT ROWID;

ALTER TABLE accounts ADD COLUMN cert_fingerprint TEXT;   -- SHA-256 of the client certificate (hex, lowercase)
ALTER TABLE accounts ADD COLUMN cert_subject TEXT;       -- or its subject DN, as rustls/x509 renders it
CREATE UNIQUE INDEX accounts_by_cert_fingerprint ON accounts (cert_fingerprint) WHERE cert_fingerprint IS NOT NULL;
CREATE UNIQUE INDEX accounts_by_cert_subject ON accounts (cert_subject) WHERE cert_subject IS NOT NULL;

CREATE TABLE api_keys (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    prefix     TEXT NOT NULL UNIQUE,
    hash       BLOB NOT NULL,            -- SHA-256 of the whole key
    label      TEXT,
    created    INTEGER NOT NULL,
    expires    INTEGER,                  -- microseconds; NULL = no expiry
    revoked    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_by_account ON api_keys (account_id);

-- Append-only record of every authenticated request and every admin change.
CREATE TABLE audit_log (
    id               INTEGER PRIMARY KEY,
    at               INTEGER NOT NULL,
    request_id       TEXT,
    account_id       INTEGER,
    username         TEXT,
    organisation_id  INTEGER,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    collection_key   INTEGER,
    status           INTEGER NOT NULL,
    object_count     INTEGER NOT NULL DEFAULT 0,
    date_added_first INTEGER,
    date_added_last  INTEGER,
    object_ids       TEXT,               -- for writes and single-object reads: the ids involved
    filter           TEXT,               -- the canonical filter of a listing
    detail           TEXT                -- admin changes: what changed
);
CREATE INDEX audit_by_time ON audit_log (at);
CREATE INDEX audit_by_account ON audit_log (account_id, at);
CREATE INDEX audit_by_organisation ON audit_log (organisation_id, at);
CREATE INDEX audit_by_collection ON audit_log (collection_key, date_added_first);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

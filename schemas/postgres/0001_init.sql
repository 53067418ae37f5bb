-- taxii-hub PostgreSQL schema, version 1 (the same model as SQLite schema versions 1 and 2).

CREATE TABLE hub_settings (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);

CREATE TABLE organisations (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    identity_id TEXT NOT NULL UNIQUE,
    sector      TEXT,
    kind        TEXT NOT NULL CHECK (kind IN ('partner', 'national-cert', 'operator')),
    created     BIGINT NOT NULL
);

CREATE TABLE accounts (
    id               BIGSERIAL PRIMARY KEY,
    organisation_id  BIGINT NOT NULL REFERENCES organisations(id),
    username         TEXT NOT NULL UNIQUE,
    password_hash    TEXT,
    role             TEXT NOT NULL CHECK (role IN ('member', 'reader', 'admin')),
    redistributes    BOOLEAN NOT NULL DEFAULT FALSE,
    disabled         BOOLEAN NOT NULL DEFAULT FALSE,
    cert_fingerprint TEXT,
    cert_subject     TEXT,
    created          BIGINT NOT NULL
);
CREATE UNIQUE INDEX accounts_by_cert_fingerprint ON accounts (cert_fingerprint) WHERE cert_fingerprint IS NOT NULL;
CREATE UNIQUE INDEX accounts_by_cert_subject ON accounts (cert_subject) WHERE cert_subject IS NOT NULL;

CREATE TABLE trust_groups (
    id          BIGSERIAL PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    created     BIGINT NOT NULL
);

CREATE TABLE trust_group_members (
    trust_group_id  BIGINT NOT NULL REFERENCES trust_groups(id) ON DELETE CASCADE,
    organisation_id BIGINT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    can_read        BOOLEAN NOT NULL,
    can_write       BOOLEAN NOT NULL,
    PRIMARY KEY (trust_group_id, organisation_id)
);

CREATE TABLE collections (
    key            BIGSERIAL PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    api_root       TEXT NOT NULL,
    alias          TEXT,
    title          TEXT NOT NULL,
    description    TEXT,
    trust_group_id BIGINT NOT NULL REFERENCES trust_groups(id),
    default_tlp    BIGINT NOT NULL DEFAULT 3,
    created        BIGINT NOT NULL,
    -- The last date_added handed out in this collection. Ingest takes it with
    -- UPDATE … RETURNING, so the row lock orders writers until they commit: a version with a
    -- smaller date_added is always committed (visible) before one with a larger date_added,
    -- and a poller following added_after/next can never skip one, on any number of replicas.
    last_date_added BIGINT NOT NULL DEFAULT 0,
    UNIQUE (api_root, alias)
);

CREATE TABLE objects (
    seq            BIGSERIAL PRIMARY KEY,
    collection_key BIGINT NOT NULL REFERENCES collections(key),
    stix_id        TEXT COLLATE "C" NOT NULL,   -- byte order, as in SQLite
    type           TEXT COLLATE "C" NOT NULL,
    spec_version   TEXT COLLATE "C" NOT NULL,
    version        BIGINT NOT NULL,
    versioned      BOOLEAN NOT NULL,
    date_added     BIGINT NOT NULL,
    producer_org   BIGINT NOT NULL,
    tlp            BIGINT NOT NULL,
    raw            TEXT NOT NULL
);
CREATE UNIQUE INDEX objects_by_version ON objects (collection_key, stix_id, spec_version, version, producer_org);
CREATE INDEX objects_by_date_added ON objects (collection_key, date_added, seq);

CREATE TABLE object_recipients (
    object_seq      BIGINT NOT NULL REFERENCES objects(seq) ON DELETE CASCADE,
    organisation_id BIGINT NOT NULL,
    PRIMARY KEY (object_seq, organisation_id)
);

CREATE TABLE api_keys (
    id         BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    prefix     TEXT NOT NULL UNIQUE,
    hash       BYTEA NOT NULL,
    label      TEXT,
    created    BIGINT NOT NULL,
    expires    BIGINT,
    revoked    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX api_keys_by_account ON api_keys (account_id);

CREATE TABLE statuses (
    id                TEXT PRIMARY KEY,
    api_root          TEXT NOT NULL,
    account_id        BIGINT NOT NULL,
    request_timestamp BIGINT NOT NULL,
    body              TEXT NOT NULL
);
CREATE INDEX statuses_by_age ON statuses (request_timestamp);

CREATE TABLE audit_log (
    id               BIGSERIAL PRIMARY KEY,
    at               BIGINT NOT NULL,
    request_id       TEXT,
    account_id       BIGINT,
    username         TEXT,
    organisation_id  BIGINT,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    collection_key   BIGINT,
    status           BIGINT NOT NULL,
    object_count     BIGINT NOT NULL DEFAULT 0,
    date_added_first BIGINT,
    date_added_last  BIGINT,
    object_ids       TEXT,
    filter           TEXT,
    detail           TEXT
);
CREATE INDEX audit_by_time ON audit_log (at);
CREATE INDEX audit_by_account ON audit_log (account_id, at);
CREATE INDEX audit_by_organisation ON audit_log (organisation_id, at);
CREATE INDEX audit_by_collection ON audit_log (collection_key, date_added_first);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

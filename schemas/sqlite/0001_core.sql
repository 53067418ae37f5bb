-- taxii-hub SQLite schema, version 1: identities, trust groups, collections, objects, statuses.

CREATE TABLE hub_settings (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE organisations (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    identity_id TEXT NOT NULL UNIQUE,
    sector      TEXT,
    kind        TEXT NOT NULL CHECK (kind IN ('partner', 'national-cert', 'operator')),
    created     INTEGER NOT NULL
);

CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY,
    organisation_id INTEGER NOT NULL REFERENCES organisations(id),
    username        TEXT NOT NULL UNIQUE,
    password_hash   TEXT,
    role            TEXT NOT NULL CHECK (role IN ('member', 'reader', 'admin')),
    redistributes   INTEGER NOT NULL DEFAULT 0,
    disabled        INTEGER NOT NULL DEFAULT 0,
    created         INTEGER NOT NULL
);

CREATE TABLE trust_groups (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    created     INTEGER NOT NULL
);

CREATE TABLE trust_group_members (
    trust_group_id  INTEGER NOT NULL REFERENCES trust_groups(id) ON DELETE CASCADE,
    organisation_id INTEGER NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    can_read        INTEGER NOT NULL,
    can_write       INTEGER NOT NULL,
    PRIMARY KEY (trust_group_id, organisation_id)
) WITHOUT ROWID;

CREATE TABLE collections (
    key            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    api_root       TEXT NOT NULL,
    alias          TEXT,
    title          TEXT NOT NULL,
    description    TEXT,
    trust_group_id INTEGER NOT NULL REFERENCES trust_groups(id),
    created        INTEGER NOT NULL,
    UNIQUE (api_root, alias)
);

-- One row per stored object version. `raw` is the JSON exactly as the producer sent it.
-- `date_added` (microseconds) is assigned by the single writer and strictly increases.
-- `version` is `modified`, else `created`, else date_added (nanoseconds); `versioned` = 0 for the last case.
-- `producer_org` and `tlp` are what the sharing policy filters on.
CREATE TABLE objects (
    seq            INTEGER PRIMARY KEY,
    collection_key INTEGER NOT NULL REFERENCES collections(key),
    stix_id        TEXT NOT NULL,
    type           TEXT NOT NULL,
    spec_version   TEXT NOT NULL,
    version        INTEGER NOT NULL,
    versioned      INTEGER NOT NULL,
    date_added     INTEGER NOT NULL,
    producer_org   INTEGER NOT NULL,
    tlp            INTEGER NOT NULL DEFAULT 0,
    raw            TEXT NOT NULL
);
CREATE UNIQUE INDEX objects_by_version ON objects (collection_key, stix_id, spec_version, version);
CREATE INDEX objects_by_date_added ON objects (collection_key, date_added);

CREATE TABLE statuses (
    id                TEXT PRIMARY KEY,
    api_root          TEXT NOT NULL,
    account_id        INTEGER NOT NULL,
    request_timestamp INTEGER NOT NULL,
    body              TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX statuses_by_age ON statuses (request_timestamp);

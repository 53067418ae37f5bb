-- taxii-hub SQLite schema, version 8: directory ids are never reused; tokens bind to a value that
-- cannot come back; certificate subjects bind to their issuer.
--
-- Without AUTOINCREMENT SQLite hands out max(rowid)+1, so deleting the newest organisation or
-- account gave its id to the next one created: TLP:RED recipients and unexpired tokens named
-- by that id passed to a stranger. Each directory table is rebuilt with AUTOINCREMENT (SQLite
-- cannot add it in place). The migration runs with foreign-key enforcement off, as SQLite's
-- table-rebuild procedure requires; the runner checks every foreign key before committing.

CREATE TABLE organisations_v8 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    identity_id TEXT NOT NULL UNIQUE,
    sector      TEXT,
    kind        TEXT NOT NULL CHECK (kind IN ('partner', 'national-cert', 'operator')),
    created     INTEGER NOT NULL
);
INSERT INTO organisations_v8 (id, name, identity_id, sector, kind, created)
    SELECT id, name, identity_id, sector, kind, created FROM organisations;
DROP TABLE organisations;
ALTER TABLE organisations_v8 RENAME TO organisations;
CREATE UNIQUE INDEX organisations_by_folded_identity ON organisations (lower(identity_id));

-- token_binding: random, replaced whenever the account's password, role, certificate or
-- disabled flag changes; every access token carries it, so a token outlives none of these.
-- cert_issuer: the issuing CA's subject, rendered like cert_subject; a subject mapping matches
-- only a certificate from that issuer.
CREATE TABLE accounts_v8 (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    organisation_id  INTEGER NOT NULL REFERENCES organisations(id),
    username         TEXT NOT NULL UNIQUE,
    password_hash    TEXT,
    role             TEXT NOT NULL CHECK (role IN ('member', 'reader', 'admin')),
    redistributes    INTEGER NOT NULL DEFAULT 0,
    disabled         INTEGER NOT NULL DEFAULT 0,
    created          INTEGER NOT NULL,
    cert_fingerprint TEXT,
    cert_subject     TEXT,
    cert_issuer      TEXT,
    token_binding    TEXT NOT NULL
);
INSERT INTO accounts_v8 (id, organisation_id, username, password_hash, role, redistributes, disabled, created,
                         cert_fingerprint, cert_subject, cert_issuer, token_binding)
    SELECT id, organisation_id, username, password_hash, role, redistributes, disabled, created,
           cert_fingerprint, cert_subject, NULL, lower(hex(randomblob(16))) FROM accounts;
DROP TABLE accounts;
ALTER TABLE accounts_v8 RENAME TO accounts;
CREATE UNIQUE INDEX accounts_by_cert_fingerprint ON accounts (cert_fingerprint) WHERE cert_fingerprint IS NOT NULL;
CREATE UNIQUE INDEX accounts_by_cert_subject ON accounts (cert_subject, cert_issuer) WHERE cert_subject IS NOT NULL;

CREATE TABLE trust_groups_v8 (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    description TEXT,
    created     INTEGER NOT NULL
);
INSERT INTO trust_groups_v8 (id, name, description, created) SELECT id, name, description, created FROM trust_groups;
DROP TABLE trust_groups;
ALTER TABLE trust_groups_v8 RENAME TO trust_groups;

CREATE TABLE collections_v8 (
    key             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    api_root        TEXT NOT NULL,
    alias           TEXT,
    title           TEXT NOT NULL,
    description     TEXT,
    trust_group_id  INTEGER NOT NULL REFERENCES trust_groups(id),
    created         INTEGER NOT NULL,
    default_tlp     INTEGER NOT NULL DEFAULT 3,
    custom_content  TEXT NOT NULL DEFAULT 'allow' CHECK (custom_content IN ('allow', 'reject')),
    unknown_marking TEXT NOT NULL DEFAULT 'refuse' CHECK (unknown_marking IN ('refuse', 'red')),
    UNIQUE (api_root, alias)
);
INSERT INTO collections_v8 (key, id, api_root, alias, title, description, trust_group_id, created, default_tlp,
                            custom_content, unknown_marking)
    SELECT key, id, api_root, alias, title, description, trust_group_id, created, default_tlp,
           custom_content, unknown_marking FROM collections;
DROP TABLE collections;
ALTER TABLE collections_v8 RENAME TO collections;

CREATE TABLE api_keys_v8 (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    prefix     TEXT NOT NULL UNIQUE,
    hash       BLOB NOT NULL,            -- SHA-256 of the whole key
    label      TEXT,
    created    INTEGER NOT NULL,
    expires    INTEGER,                  -- microseconds; NULL = no expiry
    revoked    INTEGER NOT NULL DEFAULT 0
);
INSERT INTO api_keys_v8 (id, account_id, prefix, hash, label, created, expires, revoked)
    SELECT id, account_id, prefix, hash, label, created, expires, revoked FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_v8 RENAME TO api_keys;
CREATE INDEX api_keys_by_account ON api_keys (account_id);

-- Ids deleted at the top of a table before this version are still named elsewhere (the audit
-- log, statuses, recipients): the counters start past every id ever referenced.
DELETE FROM sqlite_sequence WHERE name IN ('organisations', 'accounts');
INSERT INTO sqlite_sequence (name, seq)
SELECT 'organisations', COALESCE(MAX(v), 0) FROM (
    SELECT MAX(id) AS v FROM organisations
    UNION ALL SELECT MAX(organisation_id) FROM audit_log
    UNION ALL SELECT MAX(organisation_id) FROM object_recipients
    UNION ALL SELECT MAX(producer_org) FROM objects);
INSERT INTO sqlite_sequence (name, seq)
SELECT 'accounts', COALESCE(MAX(v), 0) FROM (
    SELECT MAX(id) AS v FROM accounts
    UNION ALL SELECT MAX(account_id) FROM audit_log
    UNION ALL SELECT MAX(account_id) FROM statuses);

-- What was addressed to organisations, or kept for accounts, deleted before this version goes
-- with them.
DELETE FROM object_recipients WHERE organisation_id NOT IN (SELECT id FROM organisations);
DELETE FROM statuses WHERE account_id NOT IN (SELECT id FROM accounts);

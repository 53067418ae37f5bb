-- taxii-hub PostgreSQL schema, version 5 (the same model as SQLite schema version 8).
-- BIGSERIAL ids already never come back (sequences only move forward, and `taxii-hub migrate`
-- carries SQLite's high-water marks over). What this version adds:
-- token_binding: random, replaced whenever the account's password, role, certificate or
-- disabled flag changes; every access token carries it, so a token outlives none of these.
-- cert_issuer: the issuing CA's subject; a subject mapping matches only a certificate from it.
ALTER TABLE accounts ADD COLUMN cert_issuer TEXT;
ALTER TABLE accounts ADD COLUMN token_binding TEXT;
UPDATE accounts SET token_binding = md5(random()::text || clock_timestamp()::text || id::text);
ALTER TABLE accounts ALTER COLUMN token_binding SET NOT NULL;
DROP INDEX accounts_by_cert_subject;
CREATE UNIQUE INDEX accounts_by_cert_subject ON accounts (cert_subject, cert_issuer) WHERE cert_subject IS NOT NULL;

-- Recipients of organisations deleted before this version: nobody may inherit them.
DELETE FROM object_recipients r WHERE NOT EXISTS (SELECT 1 FROM organisations o WHERE o.id = r.organisation_id);

//! Versioned schema migrations compiled into the binary; opening an older database upgrades it.

use super::rusqlite::{Connection, OptionalExtension};
use crate::domain::timestamp::now_micros;
use crate::storage::StorageError;

/// (version, SQL). Append only: a released migration is never edited.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../../schemas/sqlite/0001_core.sql")),
    (2, include_str!("../../../schemas/sqlite/0002_sharing.sql")),
    (3, include_str!("../../../schemas/sqlite/0003_validation.sql")),
    (4, include_str!("../../../schemas/sqlite/0004_latest_hint.sql")),
    (5, include_str!("../../../schemas/sqlite/0005_observables_staging.sql")),
    (6, include_str!("../../../schemas/sqlite/0006_observable_keys.sql")),
    (7, include_str!("../../../schemas/sqlite/0007_expressed_tlp.sql")),
    (8, include_str!("../../../schemas/sqlite/0008_ids_never_reused.sql")),
];

/// Migrations that rebuild tables other tables refer to. SQLite's procedure for that runs with
/// foreign-key enforcement off (a pragma that has no effect inside a transaction), and checks
/// every foreign key before committing.
const REBUILDS_TABLES: &[i64] = &[8];

pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

pub fn current_version(conn: &Connection) -> Result<i64, StorageError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
    )
    .map_err(super::db_err)?;
    let v: Option<i64> = conn
        .query_row("SELECT MAX(version) FROM schema_migrations", [], |r| r.get(0))
        .optional()
        .map_err(super::db_err)?
        .flatten();
    Ok(v.unwrap_or(0))
}

/// Applies every migration above the database's version up to `target`, each in its own transaction.
pub fn migrate_to(conn: &mut Connection, target: i64) -> Result<i64, StorageError> {
    let mut version = current_version(conn)?;
    if version > latest_version() {
        return Err(StorageError::Config(format!(
            "the database has schema version {version}, newer than this binary knows ({}); upgrade taxii-hub",
            latest_version()
        )));
    }
    let from = version;
    // Migration 6 computes observable keys in SQL.
    super::observables::register_key_function(conn)?;
    for (v, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > from && *v <= target) {
        let rebuild = REBUILDS_TABLES.contains(v);
        let enforced: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).map_err(super::db_err)?;
        if rebuild {
            conn.execute_batch("PRAGMA foreign_keys = OFF").map_err(super::db_err)?;
        }
        let applied = apply(conn, *v, sql, rebuild);
        if rebuild && enforced {
            conn.execute_batch("PRAGMA foreign_keys = ON").map_err(super::db_err)?;
        }
        applied?;
        tracing::info!(version = v, "applied schema migration");
        version = *v;
    }
    Ok(version)
}

fn apply(conn: &mut Connection, version: i64, sql: &str, check_foreign_keys: bool) -> Result<(), StorageError> {
    let tx = conn.transaction().map_err(super::db_err)?;
    tx.execute_batch(sql).map_err(super::db_err)?;
    if check_foreign_keys {
        let broken: Option<String> = tx
            .query_row("SELECT \"table\" FROM pragma_foreign_key_check LIMIT 1", [], |r| r.get(0))
            .optional()
            .map_err(super::db_err)?;
        if let Some(table) = broken {
            return Err(StorageError::Database(format!(
                "schema migration {version} would leave a broken reference in table {table}"
            )));
        }
    }
    tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)", (version, now_micros()))
        .map_err(super::db_err)?;
    tx.commit().map_err(super::db_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_database_reaches_latest_and_reopening_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.db");
        let mut conn = Connection::open(&path).unwrap();
        assert_eq!(current_version(&conn).unwrap(), 0);
        assert_eq!(migrate_to(&mut conn, latest_version()).unwrap(), latest_version());
        assert_eq!(migrate_to(&mut conn, latest_version()).unwrap(), latest_version());
        let applied: i64 = conn.query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0)).unwrap();
        assert_eq!(applied, MIGRATIONS.len() as i64);
    }

    #[test]
    fn an_older_database_is_upgraded_on_open_and_keeps_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            migrate_to(&mut conn, 1).unwrap();
            conn.execute(
                "INSERT INTO organisations (name, identity_id, kind, created) VALUES ('old org', 'identity--x', 'partner', 0)",
                [],
            )
            .unwrap();
        }
        let storage = crate::storage::sqlite::SqliteStorage::open(&path, &Default::default()).unwrap();
        drop(storage);
        let conn = Connection::open(&path).unwrap();
        assert_eq!(current_version(&conn).unwrap(), latest_version());
        let n: i64 =
            conn.query_row("SELECT COUNT(*) FROM organisations WHERE name = 'old org'", [], |r| r.get(0)).unwrap();
        assert_eq!(n, 1);
    }

    /// Containers stored before version 7 keep passing their TLP on: their refs are filled in
    /// and a version carrying markings counts as having expressed its TLP.
    #[test]
    fn version_7_fills_in_the_refs_of_stored_containers() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("v6.db")).unwrap();
        migrate_to(&mut conn, 6).unwrap();
        conn.execute_batch(
            "INSERT INTO organisations (id, name, identity_id, kind, created) VALUES (1, 'p', 'identity--1', 'partner', 0);
             INSERT INTO trust_groups (id, name, created) VALUES (1, 'g', 0);
             INSERT INTO collections (key, id, api_root, title, trust_group_id, created) VALUES (1, 'c', 'hub', 't', 1, 0);
             INSERT INTO objects (seq, collection_key, stix_id, type, spec_version, version, versioned, date_added, producer_org, tlp, raw)
             VALUES (1, 1, 'report--1', 'report', '2.1', 1, 1, 1, 1, 5,
                     '{\"type\":\"report\",\"object_marking_refs\":[\"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1\"],\"object_refs\":[\"Indicator--A\",\"indicator--b\",7]}'),
                    (2, 1, 'indicator--b', 'indicator', '2.1', 1, 1, 2, 1, 3, '{\"type\":\"indicator\"}');",
        )
        .unwrap();
        migrate_to(&mut conn, latest_version()).unwrap();
        let refs: Vec<String> = conn
            .prepare("SELECT ref_id FROM container_refs WHERE container_seq = 1 ORDER BY ref_id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(refs, ["indicator--a", "indicator--b"]);
        let reasons: Vec<Option<String>> = conn
            .prepare("SELECT tlp_reason FROM objects ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(reasons, [Some("marking (stored before this rule)".to_string()), None]);
    }

    /// Version 8 rebuilds the directory tables with AUTOINCREMENT, keeping every row and
    /// reference, and drops RED recipients that name organisations deleted before it.
    #[test]
    fn version_8_keeps_the_directory_and_ids_never_come_back_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("v7.db")).unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
        migrate_to(&mut conn, 7).unwrap();
        conn.execute_batch(
            "INSERT INTO organisations (id, name, identity_id, kind, created) VALUES (1, 'p', 'identity--1', 'partner', 0), (2, 'q', 'identity--2', 'partner', 0);
             INSERT INTO accounts (id, organisation_id, username, role, created) VALUES (1, 1, 'u', 'member', 0);
             INSERT INTO api_keys (id, account_id, prefix, hash, created) VALUES (1, 1, 'k', x'00', 0);
             INSERT INTO trust_groups (id, name, created) VALUES (1, 'g', 0);
             INSERT INTO trust_group_members VALUES (1, 1, 1, 1);
             INSERT INTO collections (key, id, api_root, title, trust_group_id, created) VALUES (1, 'c', 'hub', 't', 1, 0);
             INSERT INTO objects (seq, collection_key, stix_id, type, spec_version, version, versioned, date_added, producer_org, tlp, raw)
             VALUES (1, 1, 'indicator--1', 'indicator', '2.1', 1, 1, 1, 1, 4, '{}');
             INSERT INTO object_recipients VALUES (1, 2), (1, 3);
             INSERT INTO statuses (id, api_root, account_id, request_timestamp, body) VALUES ('s1', 'hub', 1, 0, '{}'), ('s7', 'hub', 7, 0, '{}');
             INSERT INTO audit_log (at, account_id, organisation_id, method, path, status) VALUES (0, 9, 5, 'GET', '/', 200);
             DELETE FROM organisations WHERE id = 2;",
        )
        .unwrap();
        migrate_to(&mut conn, latest_version()).unwrap();
        let enforced: bool = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).unwrap();
        assert!(enforced, "foreign keys are enforced again after the rebuild");
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(count("SELECT COUNT(*) FROM accounts WHERE username = 'u' AND length(token_binding) = 32"), 1);
        assert_eq!(count("SELECT COUNT(*) FROM api_keys WHERE account_id = 1"), 1);
        assert_eq!(count("SELECT COUNT(*) FROM trust_group_members"), 1);
        assert_eq!(count("SELECT COUNT(*) FROM object_recipients"), 0, "recipients of deleted organisations go");
        assert_eq!(count("SELECT COUNT(*) FROM statuses"), 1, "statuses of deleted accounts go");
        // Ids the audit log names stay used up, though their rows were deleted before.
        conn.execute("INSERT INTO accounts (organisation_id, username, role, created, token_binding) VALUES (1, 'n', 'member', 0, 'b')", [])
            .unwrap();
        assert_eq!(conn.last_insert_rowid(), 10);
        conn.execute(
            "INSERT INTO organisations (name, identity_id, kind, created) VALUES ('r', 'identity--r', 'partner', 0)",
            [],
        )
        .unwrap();
        let newest = conn.last_insert_rowid();
        assert_eq!(newest, 6, "past the organisation the audit log names");
        conn.execute("DELETE FROM organisations WHERE id = ?1", [newest]).unwrap();
        conn.execute(
            "INSERT INTO organisations (name, identity_id, kind, created) VALUES ('s', 'identity--s', 'partner', 0)",
            [],
        )
        .unwrap();
        assert!(conn.last_insert_rowid() > newest, "the deleted newest id is not handed out again");
        assert!(conn
            .execute("INSERT INTO api_keys (account_id, prefix, hash, created) VALUES (99, 'z', x'00', 0)", [])
            .is_err());
    }

    #[test]
    fn a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("new.db")).unwrap();
        migrate_to(&mut conn, latest_version()).unwrap();
        conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)", []).unwrap();
        assert!(matches!(migrate_to(&mut conn, latest_version()), Err(StorageError::Config(_))));
    }
}

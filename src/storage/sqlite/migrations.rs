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
];

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
        let tx = conn.transaction().map_err(super::db_err)?;
        tx.execute_batch(sql).map_err(super::db_err)?;
        tx.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)", (v, now_micros()))
            .map_err(super::db_err)?;
        tx.commit().map_err(super::db_err)?;
        tracing::info!(version = v, "applied schema migration");
        version = *v;
    }
    Ok(version)
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

    #[test]
    fn a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("new.db")).unwrap();
        migrate_to(&mut conn, latest_version()).unwrap();
        conn.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)", []).unwrap();
        assert!(matches!(migrate_to(&mut conn, latest_version()), Err(StorageError::Config(_))));
    }
}

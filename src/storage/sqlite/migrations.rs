//! Versioned schema migrations compiled into the binary; opening an older database upgrades it.

use super::rusqlite::{Connection, OptionalExtension};
use crate::domain::timestamp::now_micros;
use crate::storage::StorageError;

/// (version, SQL). Append only: a released migration is never edited.
pub const MIGRATIONS: &[(i64, &str)] = &[(1, include_str!("../../../schemas/sqlite/0001_core.sql"))];

pub fn latest_version() -> i64 {
    MIGRATIONS.last().map(|m| m.0).unwrap_or(0)
}

pub fn current_version(conn: &Connection) -> Result<i64, StorageError> {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")
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

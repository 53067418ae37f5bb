//! Indicator observables arrive in `indicator_observables_pending` (appended, no value index) and
//! move into `indicator_observables` in bulk, sorted by value, so the value index takes them in
//! one ordered pass over its leaves instead of one random leaf per observable. The writer moves
//! them when enough are waiting or when it has been idle for a moment; readers see both tables
//! through the `indicator_observables_all` view.
//!
//! The index is on `value_key`, a 64-bit digest of (object_type, property, value) — see
//! schemas/sqlite/0006_observable_keys.sql. A lookup binds the key and compares the text too.

use sha2::{Digest, Sha256};

use super::rusqlite::functions::FunctionFlags;
use super::rusqlite::Connection;
use super::writer::WriterCtx;
use crate::storage::StorageError;

/// Observables waiting before the writer moves them even while ingest goes on. Larger batches
/// share more index leaves; each move holds up the writer's queue for its duration.
pub const MERGE_WHEN_PENDING: u64 = 50_000;

/// The stored key of an observable: first 8 bytes of SHA-256(type NUL property NUL value). Part of
/// the database format: changing it would orphan every stored key.
pub fn observable_key(object_type: &str, property: &str, value: &str) -> i64 {
    let mut h = Sha256::new();
    for (i, part) in [object_type, property, value].into_iter().enumerate() {
        if i > 0 {
            h.update([0u8]);
        }
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    i64::from_be_bytes(digest[..8].try_into().expect("SHA-256 has 32 bytes"))
}

/// `observable_key(type, property, value)` in SQL, for the writer's moves and migration 6.
pub fn register_key_function(conn: &Connection) -> Result<(), StorageError> {
    conn.create_scalar_function(
        "observable_key",
        3,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS,
        |ctx| {
            let part = |i| ctx.get_raw(i).as_str().map_err(|e| super::rusqlite::Error::UserFunctionError(e.into()));
            Ok(observable_key(part(0)?, part(1)?, part(2)?))
        },
    )
    .map_err(super::db_err)
}

/// Observables waiting, counted at start.
pub fn pending(conn: &Connection) -> Result<u64, StorageError> {
    conn.query_row("SELECT COUNT(*) FROM indicator_observables_pending", [], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
        .map_err(super::db_err)
}

/// Moves the waiting observables when due; true when it committed a move.
pub fn merge_if_due(ctx: &mut WriterCtx, idle: bool) -> bool {
    let due = ctx.pending_observables >= MERGE_WHEN_PENDING || (idle && ctx.pending_observables > 0);
    if !due {
        return false;
    }
    match merge(&ctx.conn) {
        Ok(moved) => {
            tracing::debug!(moved, "indicator observables indexed");
            ctx.pending_observables = 0;
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "moving indicator observables into their index failed; will retry");
            false
        }
    }
}

fn merge(conn: &Connection) -> Result<usize, StorageError> {
    // A statement that may fail halfway keeps a journal of every page it changes, to undo just
    // itself; here that would copy each index leaf the move touches (60 MB at 1M objects, in
    // memory). Nothing can fail halfway: NOT NULL is ignored (the pending table has the same
    // constraints), the foreign key is checked at commit, and rows whose object is gone are
    // left out.
    conn.execute_batch("BEGIN IMMEDIATE; PRAGMA defer_foreign_keys = ON;").map_err(super::db_err)?;
    let moved = conn
        .execute(
            "INSERT OR IGNORE INTO indicator_observables (object_seq, object_type, property, value, value_key) \
             SELECT p.object_seq, p.object_type, p.property, p.value, \
                    observable_key(p.object_type, p.property, p.value) AS k \
             FROM indicator_observables_pending p \
             WHERE EXISTS (SELECT 1 FROM objects o WHERE o.seq = p.object_seq) \
             ORDER BY k",
            [],
        )
        .and_then(|n| conn.execute("DELETE FROM indicator_observables_pending", []).map(|_| n))
        .and_then(|n| conn.execute_batch("COMMIT").map(|_| n));
    if moved.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    moved.map_err(super::db_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::sqlite::migrations::migrate_to;

    const PINNED_IPV4_KEY: i64 = -527_938_153_868_274_152;

    const LOOKUP: &str = "SELECT object_seq FROM indicator_observables \
        WHERE value_key = ?1 AND object_type = ?2 AND property = ?3 AND value = ?4";

    #[test]
    fn the_key_is_pinned_because_stored_keys_depend_on_it() {
        // python3 -c "import hashlib; print(int.from_bytes(hashlib.sha256(b'ipv4-addr\x00value\x00198.51.100.7').digest()[:8], 'big', signed=True))"
        assert_eq!(observable_key("ipv4-addr", "value", "198.51.100.7"), PINNED_IPV4_KEY);
        // The separator keeps the parts apart.
        assert_ne!(observable_key("a", "bc", "d"), observable_key("ab", "c", "d"));
    }

    #[test]
    fn an_older_database_gets_keys_and_lookups_use_the_key_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("o.db")).unwrap();
        migrate_to(&mut conn, 5).unwrap();
        conn.execute_batch(
            "INSERT INTO trust_groups (id, name, created) VALUES (1, 'tg', 0);
             INSERT INTO collections (key, id, api_root, title, trust_group_id, created) VALUES (1, 'c', 'r', 'c', 1, 0);
             INSERT INTO objects (seq, collection_key, stix_id, type, spec_version, version, versioned, date_added, producer_org, raw)
                 VALUES (7, 1, 'indicator--1', 'indicator', '2.1', 1, 1, 1, 1, '{}');
             INSERT INTO indicator_observables (object_seq, object_type, property, value) VALUES (7, 'ipv4-addr', 'value', '198.51.100.7');
             INSERT INTO indicator_observables_pending (object_seq, object_type, property, value) VALUES (7, 'domain-name', 'value', 'a.example');",
        )
        .unwrap();
        migrate_to(&mut conn, 6).unwrap();
        let key: i64 = conn.query_row("SELECT value_key FROM indicator_observables", [], |r| r.get(0)).unwrap();
        assert_eq!(key, PINNED_IPV4_KEY);

        // A pending observable moves in with its key and is found through the index.
        let moved = merge(&conn).unwrap();
        assert_eq!(moved, 1);
        let found: i64 = conn
            .query_row(
                LOOKUP,
                (observable_key("domain-name", "value", "a.example"), "domain-name", "value", "a.example"),
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, 7);
        let plan: String =
            conn.query_row(&format!("EXPLAIN QUERY PLAN {LOOKUP}"), (0, "", "", ""), |r| r.get(3)).unwrap();
        assert!(plan.contains("indicator_observables_by_key"), "{plan}");
    }
}

//! Indicator observables arrive in `indicator_observables_pending` (appended, no value index) and
//! move into `indicator_observables` in bulk, sorted by value, so the value index takes them in
//! one ordered pass over its leaves instead of one random leaf per observable. The writer moves
//! them when enough are waiting or when it has been idle for a moment; readers see both tables
//! through the `indicator_observables_all` view.

use super::rusqlite::Connection;
use super::writer::WriterCtx;
use crate::storage::StorageError;

/// Observables waiting before the writer moves them even while ingest goes on. Larger batches
/// share more index leaves; each move holds up the writer's queue for its duration.
pub const MERGE_WHEN_PENDING: u64 = 50_000;

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
            "INSERT OR IGNORE INTO indicator_observables (object_seq, object_type, property, value) \
             SELECT p.object_seq, p.object_type, p.property, p.value FROM indicator_observables_pending p \
             WHERE EXISTS (SELECT 1 FROM objects o WHERE o.seq = p.object_seq) \
             ORDER BY p.object_type, p.property, p.value",
            [],
        )
        .and_then(|n| conn.execute("DELETE FROM indicator_observables_pending", []).map(|_| n))
        .and_then(|n| conn.execute_batch("COMMIT").map(|_| n));
    if moved.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    moved.map_err(super::db_err)
}

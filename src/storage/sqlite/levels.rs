//! SQLite: the stored rows TLP inheritance reads and raises ([`crate::storage::inheritance`]),
//! on the writer's connection inside the ingest transaction.

use std::future::Future;
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;

use super::db_err;
use super::rusqlite::{params, Connection};
use crate::domain::effective_tlp::{Level, TlpReason};
use crate::domain::tlp::Tlp;
use crate::storage::inheritance::{sql, stored_level, StoredLevel, StoredLevels};
use crate::storage::StorageError;

pub(super) struct SqliteLevels<'a> {
    pub conn: &'a mut Connection,
    pub collection_key: i64,
    pub producer_org: i64,
}

/// Stored containers referring to any id of the JSON array ?3.
const CONTAINERS_OF: &str = "SELECT c.ref_id, o.seq, o.stix_id, o.tlp, o.spec_version, o.version \
     FROM container_refs c JOIN objects o ON o.seq = c.container_seq \
     WHERE c.collection_key = ?1 AND c.producer_org = ?2 AND c.ref_id IN (SELECT value FROM json_each(?3)) \
     AND o.tlp_reason IS NOT NULL";
/// Versions with any id of the JSON array ?3: lower-case ids through the main index, the others
/// through objects_by_folded_id.
const VERSIONS_OF: &str = "SELECT lower(stix_id), seq, stix_id, tlp, spec_version, version FROM objects \
     WHERE collection_key = ?1 AND producer_org = ?2 AND stix_id IN (SELECT value FROM json_each(?3)) \
     UNION ALL SELECT lower(stix_id), seq, stix_id, tlp, spec_version, version FROM objects \
     WHERE collection_key = ?1 AND producer_org = ?2 AND stix_id <> lower(stix_id) \
     AND lower(stix_id) IN (SELECT value FROM json_each(?3))";

/// Whether the collection holds any id with upper-case letters: if not, exact-id lookups of
/// lower-case ids are complete. The planner would rather scan the covering objects_by_version.
pub(super) const MIXED_CASE_STORED: &str = "SELECT EXISTS (SELECT 1 FROM objects INDEXED BY objects_by_folded_id \
     WHERE collection_key = ?1 AND stix_id <> lower(stix_id))";

impl SqliteLevels<'_> {
    /// (id, row) for the ids, from a statement taking (collection, producer, JSON array of ids)
    /// and returning (id, seq, stix_id, tlp, spec_version, version): one statement per call.
    fn rows(&self, query: &str, ids: &[String]) -> Result<Vec<(String, StoredLevel)>, StorageError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(ids).map_err(|e| StorageError::Database(e.to_string()))?;
        let mut stmt = self.conn.prepare_cached(query).map_err(db_err)?;
        let found: Vec<(String, StoredLevel)> = stmt
            .query_map(params![self.collection_key, self.producer_org, ids], |r| {
                let row = StoredLevel {
                    seq: r.get(1)?,
                    stix_id: r.get(2)?,
                    spec_version: r.get(4)?,
                    version: r.get(5)?,
                    level: stored_level(r.get(3)?, []),
                };
                Ok((r.get(0)?, row))
            })
            .and_then(|rows| rows.collect())
            .map_err(db_err)?;
        let mut recipients = self.conn.prepare_cached(sql::RECIPIENTS_OF).map_err(db_err)?;
        let mut out = Vec::with_capacity(found.len());
        for (key, mut row) in found {
            if row.level.tlp == Tlp::Red {
                let orgs: Vec<i64> =
                    recipients.query_map([row.seq], |r| r.get(0)).and_then(|rows| rows.collect()).map_err(db_err)?;
                row.level = Level::new(Tlp::Red, orgs);
            }
            out.push((key, row));
        }
        Ok(out)
    }
}

#[async_trait]
impl StoredLevels for SqliteLevels<'_> {
    async fn containers_of(&mut self, ref_ids: &[String]) -> Result<Vec<(String, StoredLevel)>, StorageError> {
        self.rows(CONTAINERS_OF, ref_ids)
    }

    async fn versions_of(&mut self, ids: &[String]) -> Result<Vec<(String, StoredLevel)>, StorageError> {
        self.rows(VERSIONS_OF, ids)
    }

    async fn refs_of(&mut self, container_seq: i64) -> Result<Vec<String>, StorageError> {
        let mut stmt = self.conn.prepare_cached(sql::REFS_OF).map_err(db_err)?;
        let refs = stmt.query_map([container_seq], |r| r.get(0)).and_then(|rows| rows.collect()).map_err(db_err);
        refs
    }

    async fn set_level(&mut self, seq: i64, level: &Level, reason: &TlpReason) -> Result<(), StorageError> {
        self.conn
            .prepare_cached(sql::SET_LEVEL)
            .and_then(|mut s| s.execute(params![seq, level.tlp.rank(), reason.stored()]))
            .map_err(db_err)?;
        self.conn.prepare_cached(sql::CLEAR_RECIPIENTS).and_then(|mut s| s.execute([seq])).map_err(db_err)?;
        let mut add = self.conn.prepare_cached(sql::ADD_RECIPIENT).map_err(db_err)?;
        for org in &level.recipients {
            add.execute([seq, *org]).map_err(db_err)?;
        }
        Ok(())
    }
}

/// Runs a future that never waits: the SQLite level store answers every call at once, on the
/// writer thread, so the shared async algorithm completes in its first poll.
pub(super) fn run_now<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rusqlite;
    use super::*;

    /// Both lookups probe indexes for each id: a scan here would cost every ingest a pass over
    /// the collection.
    #[test]
    fn lookups_use_their_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("l.db")).unwrap();
        super::super::migrations::migrate_to(&mut conn, super::super::migrations::latest_version()).unwrap();
        for (query, index) in [
            (CONTAINERS_OF, "container_refs_by_ref"),
            (VERSIONS_OF, "objects_by_version"),
            (VERSIONS_OF, "objects_by_folded_id"),
            (MIXED_CASE_STORED, "objects_by_folded_id"),
        ] {
            let plan: Vec<String> = conn
                .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
                .unwrap()
                .query_map(
                    rusqlite::params_from_iter(
                        [1.into(), 1.into(), rusqlite::types::Value::Text("[\"indicator--x\"]".into())]
                            .into_iter()
                            .take(query.matches('?').count().min(3)),
                    ),
                    |r| r.get::<_, String>(3),
                )
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(plan.iter().any(|p| p.contains(index)), "{index} not used: {plan:?}");
            assert!(!plan.iter().any(|p| p.starts_with("SCAN objects") || p.starts_with("SCAN c")), "{plan:?}");
        }
    }
}

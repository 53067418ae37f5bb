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

impl SqliteLevels<'_> {
    /// (id, row) for every id, from a statement taking (collection, producer, id) and returning
    /// (id, seq, stix_id, tlp, spec_version, version).
    fn rows(&self, query: &str, ids: &[String]) -> Result<Vec<(String, StoredLevel)>, StorageError> {
        let mut stmt = self.conn.prepare_cached(query).map_err(db_err)?;
        let mut recipients = self.conn.prepare_cached(sql::RECIPIENTS_OF).map_err(db_err)?;
        let mut out = Vec::new();
        for id in ids {
            let found: Vec<(String, StoredLevel)> = stmt
                .query_map(params![self.collection_key, self.producer_org, id], |r| {
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
            for (key, mut row) in found {
                if row.level.tlp == Tlp::Red {
                    let orgs: Vec<i64> = recipients
                        .query_map([row.seq], |r| r.get(0))
                        .and_then(|rows| rows.collect())
                        .map_err(db_err)?;
                    row.level = Level::new(Tlp::Red, orgs);
                }
                out.push((key, row));
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl StoredLevels for SqliteLevels<'_> {
    async fn containers_of(&mut self, ref_ids: &[String]) -> Result<Vec<(String, StoredLevel)>, StorageError> {
        self.rows(sql::CONTAINERS_OF, ref_ids)
    }

    async fn versions_of(&mut self, ids: &[String]) -> Result<Vec<(String, StoredLevel)>, StorageError> {
        self.rows(sql::VERSIONS_OF, ids)
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

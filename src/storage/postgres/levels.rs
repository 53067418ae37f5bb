//! PostgreSQL: the stored rows TLP inheritance reads and raises ([`crate::storage::inheritance`]),
//! inside the ingest transaction; lookups take every id of a round in one statement.

use std::collections::HashMap;

use async_trait::async_trait;
use deadpool_postgres::Transaction;

use super::db_err;
use crate::domain::effective_tlp::{Level, TlpReason};
use crate::storage::inheritance::{sql, stored_level, StoredLevel, StoredLevels};
use crate::storage::sql::{in_dialect, Dialect};
use crate::storage::StorageError;

const CONTAINERS_OF: &str =
    "SELECT c.ref_id, o.seq, o.stix_id, o.tlp, o.spec_version, o.version FROM container_refs c JOIN objects o ON o.seq = c.container_seq \
     WHERE c.collection_key = $1 AND c.producer_org = $2 AND c.ref_id = ANY($3) AND o.tlp_reason IS NOT NULL";
const VERSIONS_OF: &str = "SELECT lower(stix_id), seq, stix_id, tlp, spec_version, version FROM objects \
     WHERE collection_key = $1 AND producer_org = $2 AND stix_id = ANY($3) \
     UNION ALL SELECT lower(stix_id), seq, stix_id, tlp, spec_version, version FROM objects WHERE collection_key = $1 AND producer_org = $2 \
     AND stix_id <> lower(stix_id) AND lower(stix_id) = ANY($3)";

/// Whether the collection holds any id with upper-case letters (objects_by_folded_id).
pub(super) const MIXED_CASE_STORED: &str =
    "SELECT EXISTS (SELECT 1 FROM objects WHERE collection_key = $1 AND stix_id <> lower(stix_id))";

pub(super) struct PgLevels<'a, 'b> {
    pub tx: &'a Transaction<'b>,
    pub collection_key: i64,
    pub producer_org: i64,
}

impl PgLevels<'_, '_> {
    /// (id, row) from a statement taking (collection, producer, ids) and returning (id, seq, stix_id, tlp).
    async fn rows(&self, query: &str, ids: &[String]) -> Result<Vec<(String, StoredLevel)>, StorageError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let found = self.tx.query(query, &[&self.collection_key, &self.producer_org, &ids]).await.map_err(db_err)?;
        let seqs: Vec<i64> = found.iter().map(|r| r.get(1)).collect();
        let mut recipients: HashMap<i64, Vec<i64>> = HashMap::new();
        if !seqs.is_empty() {
            let rows = self
                .tx
                .query("SELECT object_seq, organisation_id FROM object_recipients WHERE object_seq = ANY($1)", &[&seqs])
                .await
                .map_err(db_err)?;
            for r in rows {
                recipients.entry(r.get(0)).or_default().push(r.get(1));
            }
        }
        Ok(found
            .iter()
            .map(|r| {
                let seq: i64 = r.get(1);
                let orgs = recipients.get(&seq).cloned().unwrap_or_default();
                let row = StoredLevel {
                    seq,
                    stix_id: r.get(2),
                    spec_version: r.get(4),
                    version: r.get(5),
                    level: stored_level(r.get(3), orgs),
                };
                (r.get(0), row)
            })
            .collect())
    }
}

#[async_trait]
impl StoredLevels for PgLevels<'_, '_> {
    async fn containers_of(&mut self, ref_ids: &[String]) -> Result<Vec<(String, StoredLevel)>, StorageError> {
        self.rows(CONTAINERS_OF, ref_ids).await
    }

    async fn versions_of(&mut self, ids: &[String]) -> Result<Vec<(String, StoredLevel)>, StorageError> {
        self.rows(VERSIONS_OF, ids).await
    }

    async fn refs_of(&mut self, container_seq: i64) -> Result<Vec<String>, StorageError> {
        let rows =
            self.tx.query(&in_dialect(sql::REFS_OF, Dialect::Postgres), &[&container_seq]).await.map_err(db_err)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn set_level(&mut self, seq: i64, level: &Level, reason: &TlpReason) -> Result<(), StorageError> {
        let pg = |q: &str| in_dialect(q, Dialect::Postgres);
        self.tx.execute(&pg(sql::SET_LEVEL), &[&seq, &level.tlp.rank(), &reason.stored()]).await.map_err(db_err)?;
        self.tx.execute(&pg(sql::CLEAR_RECIPIENTS), &[&seq]).await.map_err(db_err)?;
        for org in &level.recipients {
            self.tx.execute(&pg(sql::ADD_RECIPIENT), &[&seq, org]).await.map_err(db_err)?;
        }
        Ok(())
    }
}

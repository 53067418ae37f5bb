//! PostgreSQL: the append-only audit log (a trigger refuses UPDATE and DELETE).

use async_trait::async_trait;

use super::{args, db_err, pool_err, refs, PostgresStorage};
use crate::storage::audit::{audit_query, keep_deliveries, AuditEntry, AuditQuery, AuditRecord, AuditStore};
use crate::storage::sql::Dialect;
use crate::storage::StorageError;

#[async_trait]
impl AuditStore for PostgresStorage {
    async fn append_audit(&self, records: Vec<AuditRecord>) -> Result<(), StorageError> {
        if records.is_empty() {
            return Ok(());
        }
        self.run(move |pool| async move {
            let mut client = pool.get().await.map_err(pool_err)?;
            let tx = client.transaction().await.map_err(db_err)?;
            let stmt = tx
                .prepare(
                    "INSERT INTO audit_log (at, request_id, account_id, username, organisation_id, method, path, collection_key, \
                     status, object_count, date_added_first, date_added_last, object_ids, filter, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
                )
                .await
                .map_err(db_err)?;
            for r in records {
                tx.execute(
                    &stmt,
                    &[
                        &r.at,
                        &r.request_id,
                        &r.account_id,
                        &r.username,
                        &r.organisation_id,
                        &r.method,
                        &r.path,
                        &r.collection_key,
                        &i64::from(r.status),
                        &(r.object_count as i64),
                        &r.date_added_first,
                        &r.date_added_last,
                        &r.object_ids,
                        &r.filter,
                        &r.detail,
                    ],
                )
                .await
                .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })
        .await
    }

    async fn audit(&self, q: AuditQuery) -> Result<Vec<AuditEntry>, StorageError> {
        self.run(move |pool| async move {
            let sql = audit_query(&q, Dialect::Postgres);
            let client = pool.get().await.map_err(pool_err)?;
            let a = args(&sql);
            let rows = client.query(&sql.text, &refs(&a)).await.map_err(db_err)?;
            let entries = rows
                .iter()
                .map(|r| AuditEntry {
                    id: r.get(0),
                    record: AuditRecord {
                        at: r.get(1),
                        request_id: r.get(2),
                        account_id: r.get(3),
                        username: r.get(4),
                        organisation_id: r.get(5),
                        method: r.get(6),
                        path: r.get(7),
                        collection_key: r.get(8),
                        status: r.get::<_, i64>(9) as u16,
                        object_count: r.get::<_, i64>(10) as u64,
                        date_added_first: r.get(11),
                        date_added_last: r.get(12),
                        object_ids: r.get(13),
                        filter: r.get(14),
                        detail: r.get(15),
                    },
                    collection_id: r.get(16),
                })
                .collect();
            Ok(keep_deliveries(entries, &q))
        })
        .await
    }
}

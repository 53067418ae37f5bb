//! SQLite: the append-only audit log (UPDATE and DELETE are refused by triggers).

use async_trait::async_trait;

use super::rusqlite::params;
use super::{db_err, SqliteStorage};
use crate::storage::audit::{audit_query, keep_deliveries, AuditEntry, AuditQuery, AuditRecord, AuditStore};
use crate::storage::sql::Dialect;
use crate::storage::StorageError;

#[async_trait]
impl AuditStore for SqliteStorage {
    async fn append_audit(&self, records: Vec<AuditRecord>) -> Result<(), StorageError> {
        if records.is_empty() {
            return Ok(());
        }
        self.write(move |c| {
            let mut s = c
                .prepare_cached(
                    "INSERT INTO audit_log (at, request_id, account_id, username, organisation_id, method, path, collection_key, \
                     status, object_count, date_added_first, date_added_last, object_ids, filter, detail) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                )
                .map_err(db_err)?;
            for r in records {
                s.execute(params![
                    r.at,
                    r.request_id,
                    r.account_id,
                    r.username,
                    r.organisation_id,
                    r.method,
                    r.path,
                    r.collection_key,
                    r.status,
                    r.object_count as i64,
                    r.date_added_first,
                    r.date_added_last,
                    r.object_ids,
                    r.filter,
                    r.detail
                ])
                .map_err(db_err)?;
            }
            Ok(())
        })
        .await
    }

    async fn audit(&self, q: AuditQuery) -> Result<Vec<AuditEntry>, StorageError> {
        self.read(move |c| {
            let sql = audit_query(&q, Dialect::Sqlite);
            let mut stmt = c.prepare(&sql.text).map_err(db_err)?;
            let rows = stmt
                .query_map(super::args(&sql), |r| {
                    Ok(AuditEntry {
                        id: r.get(0)?,
                        record: AuditRecord {
                            at: r.get(1)?,
                            request_id: r.get(2)?,
                            account_id: r.get(3)?,
                            username: r.get(4)?,
                            organisation_id: r.get(5)?,
                            method: r.get(6)?,
                            path: r.get(7)?,
                            collection_key: r.get(8)?,
                            status: r.get(9)?,
                            object_count: r.get::<_, i64>(10)? as u64,
                            date_added_first: r.get(11)?,
                            date_added_last: r.get(12)?,
                            object_ids: r.get(13)?,
                            filter: r.get(14)?,
                            detail: r.get(15)?,
                        },
                        collection_id: r.get(16)?,
                    })
                })
                .map_err(db_err)?;
            let entries: Vec<AuditEntry> = rows.collect::<Result<_, _>>().map_err(db_err)?;
            Ok(keep_deliveries(entries, &q))
        })
        .await
    }
}

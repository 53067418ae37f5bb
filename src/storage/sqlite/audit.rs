//! SQLite: the append-only audit log (UPDATE and DELETE are refused by triggers).

use async_trait::async_trait;

use super::query::Sql;
use super::rusqlite::{self, params};
use super::{db_err, SqliteStorage};
use crate::domain::policy::rule_sql;
use crate::storage::audit::{AuditEntry, AuditQuery, AuditRecord, AuditStore};
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
            let mut sql = Sql::default();
            sql.push(
                "SELECT a.id, a.at, a.request_id, a.account_id, a.username, a.organisation_id, a.method, a.path, a.collection_key, \
                 a.status, a.object_count, a.date_added_first, a.date_added_last, a.object_ids, a.filter, a.detail, c.id \
                 FROM audit_log a LEFT JOIN collections c ON c.key = a.collection_key \
                 LEFT JOIN accounts acc ON acc.id = a.account_id WHERE 1 = 1",
            );
            if let Some(v) = q.account_id {
                let p = sql.bind(v);
                sql.push(&format!(" AND a.account_id = {p}"));
            }
            if let Some(v) = q.organisation_id {
                let p = sql.bind(v);
                sql.push(&format!(" AND a.organisation_id = {p}"));
            }
            if let Some(v) = q.collection_key {
                let p = sql.bind(v);
                sql.push(&format!(" AND a.collection_key = {p}"));
            }
            if let Some(v) = q.since {
                let p = sql.bind(v);
                sql.push(&format!(" AND a.at >= {p}"));
            }
            if let Some(v) = q.until {
                let p = sql.bind(v);
                sql.push(&format!(" AND a.at <= {p}"));
            }
            if let Some(v) = q.before_id {
                let p = sql.bind(v);
                sql.push(&format!(" AND a.id < {p}"));
            }
            if let Some(id) = &q.object_id {
                // Named in the request (writes, deletes, single-object reads), or a version of it
                // the requester could see lies inside the date_added range a listing returned.
                let named = sql.bind(format!("%{id}%"));
                let idp = sql.bind(id.clone());
                let visible = rule_sql("o", "a.organisation_id", "COALESCE(acc.redistributes, 0)");
                sql.push(&format!(
                    " AND a.status < 400 AND (a.object_ids LIKE {named} OR EXISTS (SELECT 1 FROM objects o \
                     WHERE o.stix_id = {idp} AND o.collection_key = a.collection_key \
                     AND o.date_added BETWEEN a.date_added_first AND a.date_added_last AND {visible}))"
                ));
            }
            let limit = sql.bind(q.limit.clamp(1, 10_000) as i64);
            sql.push(&format!(" ORDER BY a.id DESC LIMIT {limit}"));
            let mut stmt = c.prepare(&sql.text).map_err(db_err)?;
            let rows = stmt
                .query_map(rusqlite::params_from_iter(sql.params.iter()), |r| {
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
            Ok(match &q.object_id {
                Some(id) => entries.into_iter().filter(|e| listing_could_include(&e.record, id)).collect(),
                None => entries,
            })
        })
        .await
    }
}

/// A listing whose `match[id]` or `match[type]` excluded the object did not deliver it.
fn listing_could_include(r: &AuditRecord, object_id: &str) -> bool {
    if r.object_ids.as_deref().is_some_and(|ids| ids.split(',').any(|i| i == object_id)) {
        return true;
    }
    let Some(filter) = &r.filter else { return true };
    let segment = |name: &str| -> Vec<&str> {
        filter
            .split('|')
            .find_map(|s| s.strip_prefix(name))
            .map(|v| v.split(',').filter(|x| !x.is_empty()).collect())
            .unwrap_or_default()
    };
    let (ids, types) = (segment("id="), segment("ty="));
    let ty = crate::domain::stix_id::type_of(object_id).unwrap_or("");
    (ids.is_empty() || ids.contains(&object_id)) && (types.is_empty() || types.contains(&ty))
}

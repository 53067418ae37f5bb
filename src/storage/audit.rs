//! The append-only audit log.

use async_trait::async_trait;
use serde::Serialize;

use super::sql::{Dialect, Sql};
use super::StorageError;
use crate::domain::policy::rule_sql;
use crate::domain::timestamp::Micros;

/// One authenticated request or admin change.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditRecord {
    pub at: Micros,
    pub request_id: Option<String>,
    pub account_id: Option<i64>,
    pub username: Option<String>,
    pub organisation_id: Option<i64>,
    pub method: String,
    pub path: String,
    pub collection_key: Option<i64>,
    pub status: u16,
    pub object_count: u64,
    pub date_added_first: Option<Micros>,
    pub date_added_last: Option<Micros>,
    /// Ids involved in a write, a delete or a single-object read.
    pub object_ids: Option<String>,
    /// Canonical filter of a listing.
    pub filter: Option<String>,
    /// What an admin change changed.
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    #[serde(flatten)]
    pub record: AuditRecord,
    /// The collection's public id, when the request concerned one.
    pub collection_id: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub account_id: Option<i64>,
    pub organisation_id: Option<i64>,
    pub collection_key: Option<i64>,
    /// Requests that wrote, deleted or may have delivered this object: its id was named, or one
    /// of its versions' date_added lies in the range a listing of its collection returned.
    pub object_id: Option<String>,
    pub since: Option<Micros>,
    pub until: Option<Micros>,
    /// Only entries with an id below this (for paging backwards in time).
    pub before_id: Option<i64>,
    pub limit: usize,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn append_audit(&self, records: Vec<AuditRecord>) -> Result<(), StorageError>;
    /// Newest first.
    async fn audit(&self, query: AuditQuery) -> Result<Vec<AuditEntry>, StorageError>;
}

/// The audit search, in the backend's dialect. Columns: id, at, request_id, account_id,
/// username, organisation_id, method, path, collection_key, status, object_count,
/// date_added_first, date_added_last, object_ids, filter, detail, collection id.
pub fn audit_query(q: &AuditQuery, dialect: Dialect) -> Sql {
    let mut sql = Sql::new(dialect);
    sql.push(
        "SELECT a.id, a.at, a.request_id, a.account_id, a.username, a.organisation_id, a.method, a.path, a.collection_key, \
         a.status, a.object_count, a.date_added_first, a.date_added_last, a.object_ids, a.filter, a.detail, c.id \
         FROM audit_log a LEFT JOIN collections c ON c.key = a.collection_key \
         LEFT JOIN accounts acc ON acc.id = a.account_id WHERE 1 = 1",
    );
    for (column, value) in [
        ("a.account_id", q.account_id),
        ("a.organisation_id", q.organisation_id),
        ("a.collection_key", q.collection_key),
    ] {
        if let Some(v) = value {
            let p = sql.bind(v);
            sql.push(&format!(" AND {column} = {p}"));
        }
    }
    for (cmp, value) in [("a.at >=", q.since), ("a.at <=", q.until), ("a.id <", q.before_id)] {
        if let Some(v) = value {
            let p = sql.bind(v);
            sql.push(&format!(" AND {cmp} {p}"));
        }
    }
    if let Some(id) = &q.object_id {
        // Named in the request (writes, deletes, single-object reads), or a version of it
        // the requester could see lies inside the date_added range a listing returned.
        let named = sql.bind(format!("%{id}%"));
        let idp = sql.bind(id.clone());
        let redistributes = match dialect {
            Dialect::Sqlite => "COALESCE(acc.redistributes, 0)",
            Dialect::Postgres => "COALESCE(acc.redistributes::int, 0)",
        };
        let visible = rule_sql("o", "a.organisation_id", redistributes);
        sql.push(&format!(
            " AND a.status < 400 AND (a.object_ids LIKE {named} OR EXISTS (SELECT 1 FROM objects o \
             WHERE o.stix_id = {idp} AND o.collection_key = a.collection_key \
             AND o.date_added BETWEEN a.date_added_first AND a.date_added_last AND {visible}))"
        ));
    }
    let limit = sql.bind(q.limit.clamp(1, 10_000) as i64);
    sql.push(&format!(" ORDER BY a.id DESC LIMIT {limit}"));
    sql
}

/// For an object search, drops listings whose filters excluded the object.
pub fn keep_deliveries(entries: Vec<AuditEntry>, q: &AuditQuery) -> Vec<AuditEntry> {
    match &q.object_id {
        Some(id) => entries.into_iter().filter(|e| listing_could_include(&e.record, id)).collect(),
        None => entries,
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

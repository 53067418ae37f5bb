//! The append-only audit log.

use async_trait::async_trait;
use serde::Serialize;

use super::StorageError;
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

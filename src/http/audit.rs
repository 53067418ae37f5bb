//! Audit of every authenticated request: a middleware records who did what, with what result,
//! and which objects (count, date_added range, ids or filter); a background task writes the
//! records to the append-only audit log in batches.

use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use tokio::sync::mpsc;

use super::auth::Caller;
use super::AppState;
use crate::domain::timestamp::{now_micros, Micros};
use crate::storage::audit::AuditRecord;
use crate::storage::SharedStorage;

/// What a handler tells the audit about the objects it served or accepted.
#[derive(Debug, Clone, Default)]
pub struct AuditNote {
    pub collection_key: Option<i64>,
    pub object_count: u64,
    pub date_added_first: Option<Micros>,
    pub date_added_last: Option<Micros>,
    pub object_ids: Option<String>,
    pub filter: Option<String>,
    pub detail: Option<String>,
}

#[derive(Clone)]
pub struct AuditSink {
    queue: mpsc::UnboundedSender<AuditRecord>,
}

const BATCH: usize = 1000;

impl AuditSink {
    /// Starts the writer task; it drains and exits when every sink is dropped.
    pub fn start(storage: SharedStorage) -> AuditSink {
        let (queue, mut records) = mpsc::unbounded_channel::<AuditRecord>();
        actix_web::rt::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(first) = records.recv().await {
                batch.push(first);
                // Let a burst accumulate so one commit carries many records.
                actix_web::rt::time::sleep(Duration::from_millis(20)).await;
                while batch.len() < BATCH {
                    match records.try_recv() {
                        Ok(r) => batch.push(r),
                        Err(_) => break,
                    }
                }
                if let Err(e) = storage.append_audit(std::mem::take(&mut batch)).await {
                    tracing::error!(error = %e, "could not write audit records");
                }
            }
        });
        AuditSink { queue }
    }

    pub fn record(&self, record: AuditRecord) {
        if self.queue.send(record).is_err() {
            tracing::error!("audit writer has stopped; record lost");
        }
    }
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let at = now_micros();
    let method = req.method().to_string();
    let path = match req.query_string() {
        "" => req.path().to_string(),
        q => format!("{}?{q}", req.path()),
    };
    let res = next.call(req).await?;
    let (caller, note, request_id) = {
        let ext = res.request().extensions();
        (
            ext.get::<Caller>().cloned(),
            ext.get::<AuditNote>().cloned().unwrap_or_default(),
            ext.get::<tracing_actix_web::RequestId>().map(|id| id.to_string()),
        )
    };
    if let (Some(caller), Some(state)) = (caller, res.request().app_data::<web::Data<AppState>>()) {
        state.audit.record(AuditRecord {
            at,
            request_id,
            account_id: Some(caller.account.id),
            username: Some(caller.account.username.clone()),
            organisation_id: Some(caller.account.organisation_id),
            method,
            path,
            collection_key: note.collection_key,
            status: res.status().as_u16(),
            object_count: note.object_count,
            date_added_first: note.date_added_first,
            date_added_last: note.date_added_last,
            object_ids: note.object_ids,
            filter: note.filter,
            detail: note.detail,
        });
    }
    Ok(res)
}

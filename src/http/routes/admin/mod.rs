//! The admin REST API under `/admin/` (JSON; admin role only). Documented in
//! `schemas/admin-openapi.yaml`. Every change is written to the audit log with what changed.

mod accounts;
mod groups;

use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::domain::model::Role;
use crate::domain::timestamp::{self, Zone};
use crate::http::audit::AuditNote;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::storage::audit::AuditQuery;

/// An authenticated administrator.
pub struct Admin(pub Caller);

impl actix_web::FromRequest for Admin {
    type Error = ApiError;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Admin, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        Box::pin(async move {
            let caller = caller.await?;
            if caller.account.role != Role::Admin {
                return Err(ApiError::Forbidden("the admin API needs an account with the admin role".into()));
            }
            Ok(Admin(caller))
        })
    }
}

/// Records what an admin request changed, for the audit log.
pub fn audit_change(req: &HttpRequest, detail: String) {
    req.extensions_mut().insert(AuditNote { detail: Some(detail), ..AuditNote::default() });
}

pub fn created(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::build(StatusCode::CREATED).json(body)
}

pub fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

/// A JSON body, with decoding errors reported as TAXII-style 400s.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &web::Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))
}

#[derive(Deserialize)]
struct AuditParams {
    account: Option<i64>,
    organisation: Option<i64>,
    collection: Option<String>,
    object_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    before: Option<i64>,
    limit: Option<usize>,
}

async fn audit(req: HttpRequest, state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, ApiError> {
    let p: AuditParams = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::BadRequest(format!("audit filters: {e}")))?;
    let time = |v: &Option<String>, name: &str| -> Result<Option<i64>, ApiError> {
        v.as_deref()
            .map(|t| {
                timestamp::parse(t, Zone::AnyOffset)
                    .map(timestamp::micros_floor)
                    .map_err(|e| ApiError::BadRequest(format!("{name}: {e}")))
            })
            .transpose()
    };
    let collection_key = match &p.collection {
        None => None,
        Some(id) => Some(
            state
                .storage
                .collection_by_id(id)
                .await?
                .ok_or_else(|| ApiError::NotFound(format!("no collection '{id}'")))?
                .key,
        ),
    };
    let entries = state
        .storage
        .audit(AuditQuery {
            account_id: p.account,
            organisation_id: p.organisation,
            collection_key,
            object_id: p.object_id.clone(),
            since: time(&p.since, "since")?,
            until: time(&p.until, "until")?,
            before_id: p.before,
            limit: p.limit.unwrap_or(100).min(10_000),
        })
        .await?;
    let rendered: Vec<serde_json::Value> = entries
        .iter()
        .map(|e| {
            let r = &e.record;
            serde_json::json!({
                "id": e.id,
                "at": timestamp::format_micros(r.at),
                "request_id": r.request_id,
                "account_id": r.account_id,
                "username": r.username,
                "organisation_id": r.organisation_id,
                "method": r.method,
                "path": r.path,
                "collection_id": e.collection_id,
                "status": r.status,
                "object_count": r.object_count,
                "date_added_first": r.date_added_first.map(timestamp::format_micros),
                "date_added_last": r.date_added_last.map(timestamp::format_micros),
                "object_ids": r.object_ids,
                "filter": r.filter,
                "detail": r.detail,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(serde_json::json!({ "entries": rendered })))
}

pub fn scope() -> actix_web::Scope {
    web::scope("/admin")
        .service(web::resource("/audit/").route(web::get().to(audit)))
        .configure(accounts::routes)
        .configure(groups::routes)
}

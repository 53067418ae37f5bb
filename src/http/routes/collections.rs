//! Collections (§5.1) and one collection (§5.2), computed per caller.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{api_root, collection_json, taxii_response, visible_collection};
use crate::domain::policy::collection_access;
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::media::require_taxii_accept;
use crate::http::AppState;

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_taxii_accept(&req)?;
    let root = api_root(&state, &path)?;
    let viewer = caller.viewer();
    let listed: Vec<serde_json::Value> = state
        .storage
        .collections(&root.path, viewer.organisation_id)
        .await?
        .into_iter()
        .filter_map(|(c, m)| {
            let access = collection_access(&viewer, m);
            access.is_listed().then(|| collection_json(&c, access))
        })
        .collect();
    let body = if listed.is_empty() { serde_json::json!({}) } else { serde_json::json!({ "collections": listed }) };
    Ok(taxii_response(StatusCode::OK).body(body.to_string()))
}

pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    require_taxii_accept(&req)?;
    let (root, id) = path.into_inner();
    let (collection, access) = visible_collection(&state, &caller, &root, &id).await?;
    Ok(taxii_response(StatusCode::OK).body(collection_json(&collection, access).to_string()))
}

//! TAXII 2.1 endpoints (§4, §5) and the operational ones.

pub mod admin;
pub mod collections;
pub mod discovery;
pub mod health;
pub mod objects;
pub mod status;
pub mod token;

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};

use super::auth::Caller;
use super::error::ApiError;
use super::media::TAXII_MEDIA_TYPE;
use super::AppState;
use crate::config::ApiRootConfig;
use crate::domain::model::Collection;
use crate::domain::policy::{collection_access, Access};

/// Every TAXII answer: intelligence, statuses and listings are per caller and must not be kept
/// by shared or browser caches.
pub fn taxii_response(status: StatusCode) -> HttpResponseBuilder {
    let mut b = HttpResponse::build(status);
    b.insert_header((header::CONTENT_TYPE, TAXII_MEDIA_TYPE));
    b.insert_header((header::CACHE_CONTROL, "no-store"));
    b
}

pub fn api_root<'a>(state: &'a AppState, path: &str) -> Result<&'a ApiRootConfig, ApiError> {
    state.config.api_root(path).ok_or_else(|| ApiError::NotFound(format!("no API root '{path}' on this server")))
}

/// The collection as the caller may know it. A collection outside the caller's trust groups
/// gets exactly the same 404 as one that does not exist.
pub async fn visible_collection(
    state: &AppState,
    caller: &Caller,
    root: &str,
    id_or_alias: &str,
) -> Result<(Collection, Access), ApiError> {
    api_root(state, root)?;
    let not_found = || ApiError::NotFound(format!("no collection '{id_or_alias}' in API root '{root}'"));
    let (collection, membership) =
        state.storage.collection(root, id_or_alias, caller.account.organisation_id).await?.ok_or_else(not_found)?;
    let access = collection_access(&caller.viewer(), membership);
    if !access.is_listed() {
        return Err(not_found());
    }
    Ok((collection, access))
}

pub fn collection_json(c: &Collection, access: Access) -> serde_json::Value {
    let mut v = serde_json::json!({
        "id": c.id,
        "title": c.title,
        "can_read": access.can_read,
        "can_write": access.can_write,
        "media_types": [super::media::STIX_MEDIA_TYPE],
    });
    if let Some(d) = &c.description {
        v["description"] = d.clone().into();
    }
    if let Some(a) = &c.alias {
        v["alias"] = a.clone().into();
    }
    v
}

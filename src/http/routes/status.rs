//! Status resources (§4.3): visible only to the account whose request created them.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{api_root, taxii_response};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::media::require_taxii_accept;
use crate::http::AppState;

pub async fn get(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    require_taxii_accept(&req)?;
    let (root, id) = path.into_inner();
    api_root(&state, &root)?;
    let body = state
        .storage
        .status(&root, &id, caller.account.id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no status resource '{id}' in API root '{root}'")))?;
    Ok(taxii_response(StatusCode::OK).body(body))
}

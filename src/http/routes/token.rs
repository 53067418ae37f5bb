//! `POST /auth/token`: exchanges a password, an API key or a client certificate for a
//! short-lived Bearer token (EdDSA JWT). A token cannot be used to mint another.

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};

use crate::http::auth::authenticate;
use crate::http::error::ApiError;
use crate::http::AppState;

pub async fn issue(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&req, &state, false).await?;
    req.extensions_mut().insert(caller.clone());
    let (token, expires_in) = state
        .jwt
        .issue(caller.account.id, &caller.account.token_binding)
        .map_err(|e| ApiError::Internal(format!("cannot issue token: {e}")))?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(serde_json::json!({ "access_token": token, "token_type": "Bearer", "expires_in": expires_in })))
}

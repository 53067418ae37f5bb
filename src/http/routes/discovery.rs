//! Server discovery (§4.1) and API root information (§4.2).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::{api_root, taxii_response};
use crate::http::auth::Caller;
use crate::http::error::ApiError;
use crate::http::media::{require_taxii_accept, TAXII_MEDIA_TYPE};
use crate::http::AppState;

/// Where the hub's URLs start: `taxii.public_url` when configured. Otherwise the request's own
/// `Host` (never `X-Forwarded-Host` or `Forwarded`, which any client can write), if it is a
/// plain host[:port]; else the listen address.
fn base_url(req: &HttpRequest, state: &AppState) -> String {
    if let Some(url) = &state.config.taxii.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| is_plain_authority(h))
        .map(str::to_string)
        .unwrap_or_else(|| state.config.server.listen.clone());
    format!("https://{host}")
}

/// host, host:port, [v6]:port — letters, digits and `.-:[]` only.
fn is_plain_authority(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

pub async fn discovery(
    req: HttpRequest,
    state: web::Data<AppState>,
    _caller: Caller,
) -> Result<HttpResponse, ApiError> {
    require_taxii_accept(&req)?;
    let base = base_url(&req, &state);
    let taxii = &state.config.taxii;
    let mut body = serde_json::json!({
        "title": taxii.title,
        "api_roots": taxii.api_roots.iter().map(|r| format!("{base}/{}/", r.path)).collect::<Vec<_>>(),
    });
    if let Some(d) = &taxii.description {
        body["description"] = d.clone().into();
    }
    if let Some(c) = &taxii.contact {
        body["contact"] = c.clone().into();
    }
    if let Some(d) = &taxii.default_api_root {
        body["default"] = format!("{base}/{d}/").into();
    }
    Ok(taxii_response(StatusCode::OK).body(body.to_string()))
}

pub async fn api_root_information(
    req: HttpRequest,
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_taxii_accept(&req)?;
    let root = api_root(&state, &path)?;
    let mut body = serde_json::json!({
        "title": root.title,
        "versions": [TAXII_MEDIA_TYPE],
        "max_content_length": state.config.max_content_length(root),
    });
    if let Some(d) = &root.description {
        body["description"] = d.clone().into();
    }
    Ok(taxii_response(StatusCode::OK).body(body.to_string()))
}

//! The HTTP layer's error type, mapped once to the TAXII 2.1 error resource (§3.6.1).

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use super::media::TAXII_MEDIA_TYPE;
use crate::domain::DomainError;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("the {method} method is not allowed on this resource")]
    MethodNotAllowed { method: String, allow: &'static str },
    #[error("{0}")]
    NotAcceptable(String),
    #[error("the request body is larger than the {0} bytes this API root accepts")]
    PayloadTooLarge(usize),
    /// An envelope over the object limit: 413 like an oversized body, but the body was read.
    #[error("{0}")]
    TooManyObjects(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    Unavailable(String),
    /// Too many uploads in flight (for the account or the hub): retry shortly.
    #[error("{0}")]
    Busy(String),
    /// The request body stalled or took too long; the connection is closed.
    #[error("{0}")]
    RequestTimeout(String),
    #[error("too many failed sign-ins; retry in {0} s")]
    TooManyRequests(u64),
    #[error("internal error")]
    Internal(String),
}

#[derive(Serialize)]
pub struct ErrorResource<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub http_status: String,
}

/// A TAXII error response for any status, used by handlers and by the catch-all middleware.
pub fn error_response(status: StatusCode, description: &str) -> HttpResponse {
    let body = ErrorResource {
        title: status.canonical_reason().unwrap_or("Error"),
        description,
        http_status: status.as_u16().to_string(),
    };
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, TAXII_MEDIA_TYPE))
        .body(serde_json::to_string(&body).unwrap_or_else(|_| "{\"title\":\"Error\"}".into()))
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::PayloadTooLarge(_) | ApiError::TooManyObjects(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests(_) | ApiError::Busy(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(detail) = self {
            tracing::error!(%detail, "internal error");
        }
        let mut resp = error_response(self.status_code(), &self.to_string());
        match self {
            ApiError::Unauthenticated(_) => {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"taxii-hub\", charset=\"UTF-8\""),
                );
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            ApiError::TooManyRequests(secs) => {
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            ApiError::Busy(_) => {
                resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::PayloadTooLarge(_) | ApiError::RequestTimeout(_) => {
                // The rest of the body is not read, so the connection cannot be reused.
                resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        resp
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::BadFilter(m) | DomainError::BadCursor(m) => ApiError::BadRequest(m),
            DomainError::BadJson(m) => ApiError::BadRequest(m),
            DomainError::BadEnvelope(m) => ApiError::Unprocessable(m),
            e @ DomainError::TooManyObjects(_) => ApiError::TooManyObjects(e.to_string()),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Unavailable => ApiError::Unavailable("the hub is shutting down".into()),
            StorageError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            StorageError::Conflict(what) => ApiError::Conflict(what),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

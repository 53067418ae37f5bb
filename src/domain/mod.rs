//! Domain layer: TAXII semantics, STIX handling and the sharing policy. No HTTP, no SQL.

pub mod credentials;
pub mod cursor;
pub mod effective_tlp;
pub mod envelope;
pub mod filters;
pub mod json;
pub mod markings;
pub mod model;
pub mod pattern;
pub mod policy;
pub mod stix_id;
pub mod timestamp;
pub mod tlp;
pub mod validation;

/// Errors a request can earn from the domain rules, before storage is involved.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("{0}")]
    BadFilter(String),
    #[error("{0}")]
    BadCursor(String),
    /// The body is not JSON at all.
    #[error("{0}")]
    BadJson(String),
    /// Well-formed JSON that is not a TAXII envelope.
    #[error("{0}")]
    BadEnvelope(String),
    /// More objects than one envelope may hold (the limit is the payload).
    #[error("the envelope holds more than {0} objects; split it into several requests")]
    TooManyObjects(usize),
}

//! Content negotiation for TAXII 2.1 media types (§1.6.8).

use actix_web::http::header;
use actix_web::HttpRequest;

use super::error::ApiError;

pub const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
pub const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";

struct MediaRange<'a> {
    essence: String,
    version: Option<&'a str>,
    q: f32,
}

fn parse_range(item: &str) -> Option<MediaRange<'_>> {
    let mut parts = item.split(';');
    let essence = parts.next()?.trim().to_ascii_lowercase();
    if essence.is_empty() {
        return None;
    }
    let mut version = None;
    let mut q = 1.0f32;
    for p in parts {
        let (k, v) = p.split_once('=')?;
        let v = v.trim().trim_matches('"');
        match k.trim().to_ascii_lowercase().as_str() {
            "version" => version = Some(v),
            "q" => q = v.parse().ok().filter(|q: &f32| (0.0..=1.0).contains(q))?,
            _ => {}
        }
    }
    Some(MediaRange { essence, version, q })
}

/// True when an Accept header admits a TAXII 2.1 response. A missing header admits anything.
/// Accepted: `application/taxii+json` with `version=2.1` or no version, `application/*`, `*/*`.
pub fn accepts_taxii(accept: Option<&str>) -> bool {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return true;
    };
    accept.split(',').filter_map(parse_range).any(|r| {
        r.q > 0.0
            && match r.essence.as_str() {
                "*/*" | "application/*" => r.version.is_none() || r.version == Some("2.1"),
                "application/taxii+json" => r.version.is_none() || r.version == Some("2.1"),
                _ => false,
            }
    })
}

/// True for a POST body declared as TAXII 2.1 (`version=2.1` or no version).
pub fn is_taxii_content_type(content_type: Option<&str>) -> bool {
    content_type
        .and_then(parse_range)
        .is_some_and(|r| r.essence == "application/taxii+json" && (r.version.is_none() || r.version == Some("2.1")))
}

pub fn require_taxii_accept(req: &HttpRequest) -> Result<(), ApiError> {
    // Several Accept headers mean the same as one with their values joined by commas.
    let values: Vec<&str> = req.headers().get_all(header::ACCEPT).map(|v| v.to_str().unwrap_or("\u{0}")).collect();
    let joined = values.join(",");
    let accept = (!values.is_empty()).then_some(joined.as_str());
    if accepts_taxii(accept) {
        Ok(())
    } else {
        Err(ApiError::NotAcceptable(format!(
            "this endpoint answers with {TAXII_MEDIA_TYPE}; the Accept header '{}' does not allow it",
            accept.unwrap_or("")
        )))
    }
}

pub fn require_taxii_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if is_taxii_content_type(ct) {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "the request body must be sent as {TAXII_MEDIA_TYPE}, not '{}'",
            ct.unwrap_or("(none)")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_negotiation() {
        for ok in [
            None,
            Some(""),
            Some("application/taxii+json;version=2.1"),
            Some("application/taxii+json"),
            Some("application/taxii+json; version=2.1"),
            Some("APPLICATION/TAXII+JSON;VERSION=\"2.1\""),
            Some("text/html, application/taxii+json;version=2.1;q=0.5"),
            Some("*/*"),
            Some("application/*;q=0.1"),
            Some("text/html,*/*;q=0.8"),
        ] {
            assert!(accepts_taxii(ok), "{ok:?} should be accepted");
        }
        for bad in [
            Some("text/html"),
            Some("application/json"),
            Some("application/taxii+json;version=2.0"),
            Some("application/taxii+json;version=2.1;q=0"),
            Some("application/stix+json;version=2.1"),
            Some("application/taxii+json;q=abc"),
        ] {
            assert!(!accepts_taxii(bad), "{bad:?} should be refused");
        }
    }

    #[test]
    fn content_types() {
        assert!(is_taxii_content_type(Some("application/taxii+json;version=2.1")));
        assert!(is_taxii_content_type(Some("application/taxii+json")));
        assert!(is_taxii_content_type(Some("application/taxii+json; charset=utf-8; version=2.1")));
        assert!(!is_taxii_content_type(Some("application/json")));
        assert!(!is_taxii_content_type(Some("application/taxii+json;version=2.0")));
        assert!(!is_taxii_content_type(None));
    }
}

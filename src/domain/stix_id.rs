//! Syntax of STIX type names and identifiers (STIX 2.1 §2.7, §2.9).

/// `type` names: 3–250 characters of `a-z`, `0-9` and `-`, starting with a letter, no `--`.
pub fn is_valid_type_name(t: &str) -> bool {
    let b = t.as_bytes();
    (3..=250).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && !t.contains("--")
        && !t.ends_with('-')
}

/// `<type>--<uuid>` with an RFC 4122 textual UUID.
pub fn is_valid_stix_id(id: &str) -> bool {
    match id.split_once("--") {
        Some((ty, uuid)) => is_valid_type_name(ty) && is_uuid(uuid),
        None => false,
    }
}

pub fn type_of(id: &str) -> Option<&str> {
    id.split_once("--").map(|(t, _)| t)
}

fn is_uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_valid_stix_id("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"));
        assert!(is_valid_stix_id("x-acme-widget--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"));
        assert!(!is_valid_stix_id("indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"));
        assert!(!is_valid_stix_id("indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f"));
        assert!(!is_valid_stix_id("Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"));
        assert!(!is_valid_stix_id("in--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"));
        assert!(!is_valid_stix_id("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3g"));
        assert_eq!(type_of("malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"), Some("malware"));
    }
}

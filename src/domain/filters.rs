//! TAXII 2.1 filter parameters (§3.4): parsed once, validated, then handed to storage as data.

use super::stix_id::is_valid_stix_id;
use super::timestamp::{self, Nanos, Zone};
use super::DomainError;

/// Which filters an endpoint accepts, per TAXII 2.1 §5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Objects,
    Manifest,
    Object,
    ObjectVersions,
    DeleteObject,
}

impl Endpoint {
    fn allows(self, param: &str) -> bool {
        use Endpoint::*;
        match param {
            "added_after" | "limit" | "next" => matches!(self, Objects | Manifest | Object | ObjectVersions),
            "match[id]" | "match[type]" => matches!(self, Objects | Manifest),
            "match[version]" => matches!(self, Objects | Manifest | Object | DeleteObject),
            "match[spec_version]" => true,
            _ => false,
        }
    }

    /// A stable tag bound into pagination cursors so a `next` from one endpoint is refused by another.
    pub fn tag(self) -> u8 {
        self as u8
    }
}

/// One term of `match[version]`; several terms are OR-ed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionTerm {
    Last,
    First,
    All,
    Exactly(Nanos),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SpecVersionFilter {
    /// Default: only the latest spec_version present for each object.
    #[default]
    Latest,
    Only(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectFilter {
    pub added_after: Option<Nanos>,
    pub ids: Vec<String>,
    pub types: Vec<String>,
    pub versions: Vec<VersionTerm>,
    pub spec_versions: SpecVersionFilter,
}

impl ObjectFilter {
    pub fn for_endpoint(endpoint: Endpoint) -> Self {
        let default_version = match endpoint {
            Endpoint::ObjectVersions | Endpoint::DeleteObject => VersionTerm::All,
            _ => VersionTerm::Last,
        };
        ObjectFilter {
            added_after: None,
            ids: vec![],
            types: vec![],
            versions: vec![default_version],
            spec_versions: SpecVersionFilter::Latest,
        }
    }

    pub fn selects_all_versions(&self) -> bool {
        self.versions.contains(&VersionTerm::All)
    }

    /// A canonical rendering: equal filters give equal strings, so a cursor can be bound to it.
    pub fn canonical(&self) -> String {
        let mut ids = self.ids.clone();
        ids.sort();
        let mut types = self.types.clone();
        types.sort();
        let versions: Vec<String> = self
            .versions
            .iter()
            .map(|v| match v {
                VersionTerm::Last => "last".to_string(),
                VersionTerm::First => "first".to_string(),
                VersionTerm::All => "all".to_string(),
                VersionTerm::Exactly(n) => n.to_string(),
            })
            .collect();
        let spec = match &self.spec_versions {
            SpecVersionFilter::Latest => "latest".to_string(),
            SpecVersionFilter::Only(v) => v.join(","),
        };
        format!(
            "aa={:?}|id={}|ty={}|v={}|sv={}",
            self.added_after,
            ids.join(","),
            types.join(","),
            versions.join(","),
            spec
        )
    }
}

/// Everything a listing request asked for, after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListRequest {
    pub filter: ObjectFilter,
    pub limit: Option<u64>,
    pub next: Option<String>,
}

const MAX_TERMS: usize = 200;

/// Parses the raw query string of a TAXII request for `endpoint`.
///
/// Repeated parameters are merged; values are comma lists. Parameters this server does not
/// know are ignored (TAXII 2.1 §3.4.1 lets servers ignore filters they do not support), but a
/// known filter used on an endpoint that does not define it, or a malformed value, is a 400.
pub fn parse_query(query: &str, endpoint: Endpoint) -> Result<ListRequest, DomainError> {
    let mut filter = ObjectFilter::for_endpoint(endpoint);
    let mut versions: Vec<VersionTerm> = vec![];
    let mut spec_versions: Vec<String> = vec![];
    let mut limit = None;
    let mut next = None;
    let mut seen_added_after = false;

    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let known = matches!(
            key.as_ref(),
            "added_after" | "limit" | "next" | "match[id]" | "match[type]" | "match[version]" | "match[spec_version]"
        );
        if !known {
            continue;
        }
        if !endpoint.allows(&key) {
            return Err(DomainError::BadFilter(format!("the filter '{key}' is not supported on this endpoint")));
        }
        match key.as_ref() {
            "added_after" => {
                if seen_added_after {
                    return Err(DomainError::BadFilter("added_after given more than once".into()));
                }
                seen_added_after = true;
                let t = timestamp::parse(value.trim(), Zone::AnyOffset)
                    .map_err(|e| DomainError::BadFilter(format!("added_after: {e}")))?;
                filter.added_after = Some(t);
            }
            "limit" => {
                if limit.is_some() {
                    return Err(DomainError::BadFilter("limit given more than once".into()));
                }
                let n: u64 = value
                    .trim()
                    .parse()
                    .map_err(|_| DomainError::BadFilter(format!("limit must be a positive integer, got '{value}'")))?;
                if n == 0 {
                    return Err(DomainError::BadFilter("limit must be a positive integer, got '0'".into()));
                }
                limit = Some(n);
            }
            "next" => {
                if next.is_some() {
                    return Err(DomainError::BadFilter("next given more than once".into()));
                }
                next = Some(value.trim().to_string());
            }
            "match[id]" => {
                for id in split_terms(&value, "match[id]")? {
                    if !is_valid_stix_id(id) {
                        return Err(DomainError::BadFilter(format!("match[id]: '{id}' is not a STIX identifier")));
                    }
                    filter.ids.push(id.to_string());
                }
            }
            "match[type]" => {
                for ty in split_terms(&value, "match[type]")? {
                    if !super::stix_id::is_valid_type_name(ty) {
                        return Err(DomainError::BadFilter(format!("match[type]: '{ty}' is not a STIX type name")));
                    }
                    filter.types.push(ty.to_string());
                }
            }
            "match[version]" => {
                for term in split_terms(&value, "match[version]")? {
                    versions.push(match term {
                        "last" => VersionTerm::Last,
                        "first" => VersionTerm::First,
                        "all" => VersionTerm::All,
                        ts => VersionTerm::Exactly(timestamp::parse(ts, Zone::AnyOffset).map_err(|e| {
                            DomainError::BadFilter(format!(
                                "match[version]: '{ts}' is neither 'last', 'first', 'all' nor a timestamp ({e})"
                            ))
                        })?),
                    });
                }
            }
            "match[spec_version]" => {
                for sv in split_terms(&value, "match[spec_version]")? {
                    if !is_spec_version(sv) {
                        return Err(DomainError::BadFilter(format!(
                            "match[spec_version]: '{sv}' is not a STIX spec version such as '2.1'"
                        )));
                    }
                    spec_versions.push(sv.to_string());
                }
            }
            _ => unreachable!("checked by `known` above"),
        }
    }
    if filter.ids.len() > MAX_TERMS || filter.types.len() > MAX_TERMS || versions.len() > MAX_TERMS {
        return Err(DomainError::BadFilter(format!("at most {MAX_TERMS} values per filter")));
    }
    if versions.len() > 1 && versions.contains(&VersionTerm::All) {
        return Err(DomainError::BadFilter("match[version]: 'all' cannot be combined with other values".into()));
    }
    if !versions.is_empty() {
        versions.sort_by_key(|v| format!("{v:?}"));
        versions.dedup();
        filter.versions = versions;
    }
    if !spec_versions.is_empty() {
        spec_versions.sort();
        spec_versions.dedup();
        filter.spec_versions = SpecVersionFilter::Only(spec_versions);
    }
    filter.ids.sort();
    filter.ids.dedup();
    filter.types.sort();
    filter.types.dedup();
    Ok(ListRequest { filter, limit, next })
}

fn split_terms<'a>(value: &'a str, name: &str) -> Result<Vec<&'a str>, DomainError> {
    let terms: Vec<&str> = value.split(',').map(str::trim).collect();
    if terms.iter().any(|t| t.is_empty()) {
        return Err(DomainError::BadFilter(format!("{name}: empty value")));
    }
    Ok(terms)
}

fn is_spec_version(s: &str) -> bool {
    let mut parts = s.split('.');
    let ok =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|c| c.is_ascii_digit()));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn defaults_per_endpoint() {
        let r = parse_query("", Endpoint::Objects).unwrap();
        assert_eq!(r.filter.versions, vec![VersionTerm::Last]);
        assert_eq!(r.filter.spec_versions, SpecVersionFilter::Latest);
        let r = parse_query("", Endpoint::ObjectVersions).unwrap();
        assert_eq!(r.filter.versions, vec![VersionTerm::All]);
    }

    #[test]
    fn parses_combinations() {
        let q = "match[type]=indicator,malware&match[type]=report&match[version]=first,2016-01-01T00:00:00.000Z\
                 &match[spec_version]=2.1&limit=10&added_after=2016-01-01T00:00:00Z&unknown=1";
        let r = parse_query(q, Endpoint::Objects).unwrap();
        assert_eq!(r.filter.types, vec!["indicator", "malware", "report"]);
        assert_eq!(r.filter.versions.len(), 2);
        assert!(r.filter.versions.contains(&VersionTerm::First));
        assert_eq!(r.filter.spec_versions, SpecVersionFilter::Only(vec!["2.1".into()]));
        assert_eq!(r.limit, Some(10));
        assert_eq!(r.filter.added_after, Some(1_451_606_400_000_000_000));
    }

    #[test]
    fn url_encoded_brackets_and_plus_offsets() {
        let r = parse_query("match%5Btype%5D=indicator&added_after=2016-01-01T01:00:00%2B01:00", Endpoint::Manifest)
            .unwrap();
        assert_eq!(r.filter.types, vec!["indicator"]);
        assert_eq!(r.filter.added_after, Some(1_451_606_400_000_000_000));
    }

    #[test]
    fn rejects_malformed_values() {
        for (q, ep) in [
            ("limit=0", Endpoint::Objects),
            ("limit=-1", Endpoint::Objects),
            ("limit=ten", Endpoint::Objects),
            ("limit=1&limit=2", Endpoint::Objects),
            ("added_after=yesterday", Endpoint::Objects),
            ("match[version]=latest", Endpoint::Objects),
            ("match[version]=", Endpoint::Objects),
            ("match[id]=not-an-id", Endpoint::Objects),
            ("match[type]=Indicator!", Endpoint::Objects),
            ("match[spec_version]=two", Endpoint::Objects),
            ("match[id]=indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", Endpoint::Object),
            ("match[version]=all", Endpoint::ObjectVersions),
            ("limit=5", Endpoint::DeleteObject),
            ("match[version]=all,last", Endpoint::Objects),
        ] {
            assert!(parse_query(q, ep).is_err(), "{q} on {ep:?} should be rejected");
        }
    }

    proptest! {
        #[test]
        fn never_panics(q in "[a-z\\[\\]=&%,.:0-9TZ+-]{0,80}") {
            for ep in [Endpoint::Objects, Endpoint::Manifest, Endpoint::Object, Endpoint::ObjectVersions, Endpoint::DeleteObject] {
                let _ = parse_query(&q, ep);
            }
        }

        #[test]
        fn canonical_form_ignores_order(types in proptest::collection::vec("[a-z]{3,8}", 1..5)) {
            let forward = format!("match[type]={}", types.join(","));
            let mut rev = types.clone();
            rev.reverse();
            let backward = format!("match[type]={}", rev.join(","));
            let a = parse_query(&forward, Endpoint::Objects).unwrap();
            let b = parse_query(&backward, Endpoint::Objects).unwrap();
            prop_assert_eq!(a.filter.canonical(), b.filter.canonical());
        }
    }
}

//! Reading a TAXII envelope posted by a partner: each object is checked on its own, and the
//! accepted ones keep their exact bytes so GET can serve them without re-serialising.

use serde::Deserialize;
use serde_json::value::RawValue;

use super::model::StatusDetail;
use super::stix_id::{is_valid_stix_id, is_valid_type_name, type_of};
use super::pattern::{self, Observable};
use super::timestamp::{self, Nanos, Zone};
use super::tlp::{self, Tlp};
use super::validation::{self, CustomContent};
use super::DomainError;

/// An object that passed the ingest checks and is ready to store.
#[derive(Debug, Clone)]
pub struct IncomingObject {
    pub stix_id: String,
    pub stix_type: String,
    pub spec_version: String,
    /// `modified`, else `created`; `None` for unversioned objects (most SCOs).
    pub version: Option<Nanos>,
    /// The most restrictive TLP among `object_marking_refs` and `granular_markings`, if any.
    pub marking_tlp: Option<Tlp>,
    /// `x_taxii_hub_recipients`: organisations (identity ids) a TLP:RED object is shared with.
    pub recipients: Vec<String>,
    /// For STIX-pattern indicators: the observable values the pattern matches, for indexing.
    pub observables: Vec<Observable>,
    pub raw: String,
}

/// The hub-defined property naming the recipients of a TLP:RED object.
pub const RECIPIENTS_PROPERTY: &str = "x_taxii_hub_recipients";

#[derive(Debug)]
pub struct ParsedEnvelope {
    pub accepted: Vec<IncomingObject>,
    pub rejected: Vec<StatusDetail>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    objects: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct Head<'a> {
    #[serde(rename = "type", borrow)]
    stix_type: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    spec_version: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    created: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    modified: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    object_marking_refs: Option<Vec<std::borrow::Cow<'a, str>>>,
    #[serde(borrow)]
    granular_markings: Option<Vec<GranularMarking<'a>>>,
    #[serde(borrow)]
    x_taxii_hub_recipients: Option<Vec<std::borrow::Cow<'a, str>>>,
}

#[derive(Deserialize)]
struct GranularMarking<'a> {
    #[serde(borrow)]
    marking_ref: Option<std::borrow::Cow<'a, str>>,
}

pub fn parse(body: &[u8], custom: CustomContent) -> Result<ParsedEnvelope, DomainError> {
    let text = std::str::from_utf8(body).map_err(|_| DomainError::BadJson("the request body is not UTF-8".into()))?;
    let envelope: Envelope<'_> = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            DomainError::BadEnvelope(format!("the body is not a TAXII envelope: {e}"))
        } else {
            DomainError::BadJson(format!("the body is not valid JSON: {e}"))
        }
    })?;
    let objects = envelope
        .objects
        .ok_or_else(|| DomainError::BadEnvelope("the envelope has no 'objects' list".into()))?;
    let mut accepted = Vec::with_capacity(objects.len());
    let mut rejected = Vec::new();
    for raw in objects {
        match check_object(raw.get(), custom) {
            Ok(obj) => accepted.push(obj),
            Err(detail) => rejected.push(detail),
        }
    }
    Ok(ParsedEnvelope { accepted, rejected })
}

fn check_object(raw: &str, custom: CustomContent) -> Result<IncomingObject, StatusDetail> {
    let fail = |id: &str, version: &str, message: String| StatusDetail {
        id: id.to_string(),
        version: version.to_string(),
        message: Some(message),
    };
    if !raw.starts_with('{') {
        return Err(fail("", "", "envelope entry is not a JSON object".into()));
    }
    let head: Head<'_> = serde_json::from_str(raw).map_err(|e| fail("", "", format!("object is malformed: {e}")))?;
    let id = head.id.as_deref().unwrap_or("");
    let version_text = head.modified.as_deref().or(head.created.as_deref()).unwrap_or("");
    let stix_type = match head.stix_type.as_deref() {
        None => return Err(fail(id, version_text, "type: required property is missing".into())),
        Some(t) if !is_valid_type_name(t) => {
            return Err(fail(id, version_text, format!("type: '{t}' is not a valid STIX type name")))
        }
        Some(t) => t,
    };
    if id.is_empty() {
        return Err(fail(id, version_text, format!("{stix_type}.id: required property is missing")));
    }
    if !is_valid_stix_id(id) || type_of(id) != Some(stix_type) {
        return Err(fail(
            id,
            version_text,
            format!("{stix_type}.id: must be '{stix_type}--<UUID>'"),
        ));
    }
    let spec_version = match head.spec_version.as_deref() {
        None => {
            return Err(fail(
                id,
                version_text,
                format!("{stix_type}.spec_version: required property is missing (STIX 2.0 objects are not accepted)"),
            ))
        }
        Some("2.1") => "2.1",
        Some(other) => {
            return Err(fail(id, version_text, format!("{stix_type}.spec_version: must be '2.1', got '{other}'")))
        }
    };
    let ts = |name: &str, v: Option<&str>| -> Result<Option<Nanos>, StatusDetail> {
        v.map(|s| {
            timestamp::parse(s, Zone::UtcOnly).map_err(|e| fail(id, version_text, format!("{stix_type}.{name}: {e}")))
        })
        .transpose()
    };
    let created = ts("created", head.created.as_deref())?;
    let modified = ts("modified", head.modified.as_deref())?;
    if let (Some(c), Some(m)) = (created, modified) {
        if m < c {
            return Err(fail(id, version_text, format!("{stix_type}.modified: must not be earlier than created")));
        }
    }
    let full: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(raw).map_err(|e| fail(id, version_text, format!("object is malformed: {e}")))?;
    validation::validate(&full, custom).map_err(|v| fail(id, version_text, v.0))?;
    let observables = match (full.get("pattern_type").and_then(|v| v.as_str()), full.get("pattern").and_then(|v| v.as_str())) {
        (Some("stix"), Some(text)) if stix_type == "indicator" => pattern::parse(text).map(|p| pattern::observables(&p)).unwrap_or_default(),
        _ => Vec::new(),
    };
    let markings = head.object_marking_refs.iter().flatten().map(|m| m.as_ref());
    let granular = head.granular_markings.iter().flatten().filter_map(|g| g.marking_ref.as_deref());
    let marking_tlp = tlp::most_restrictive(markings.chain(granular));
    let recipients: Vec<String> = head.x_taxii_hub_recipients.iter().flatten().map(|r| r.to_string()).collect();
    if let Some(bad) = recipients.iter().find(|r| !is_valid_stix_id(r) || type_of(r) != Some("identity")) {
        return Err(fail(
            id,
            version_text,
            format!("{stix_type}.{RECIPIENTS_PROPERTY}: '{bad}' is not an identity id (identity--<UUID>)"),
        ));
    }
    Ok(IncomingObject {
        stix_id: id.to_string(),
        stix_type: stix_type.to_string(),
        spec_version: spec_version.to_string(),
        version: modified.or(created),
        marking_tlp,
        recipients,
        observables,
        raw: raw.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const IND: &str = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","pattern":"[ipv4-addr:value = '10.0.0.1']","pattern_type":"stix","valid_from":"2016-01-01T00:00:00Z"}"#;

    #[test]
    fn keeps_raw_bytes_and_reads_version() {
        let body = format!("{{\"objects\": [ {IND} ]}}");
        let p = parse(body.as_bytes(), CustomContent::Allow).unwrap();
        assert_eq!(p.accepted.len(), 1);
        assert_eq!(p.accepted[0].raw, IND);
        assert_eq!(p.accepted[0].version, Some(timestamp::parse("2016-04-06T20:03:48.000Z", Zone::UtcOnly).unwrap()));
    }

    #[test]
    fn rejects_objects_one_by_one() {
        let body = format!(
            r#"{{"objects":[{IND}, 5, {{"type":"indicator","id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","spec_version":"2.1"}},
               {{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z"}},
               {{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","spec_version":"2.1","created":"2016-04-06"}}]}}"#
        );
        let p = parse(body.as_bytes(), CustomContent::Allow).unwrap();
        assert_eq!(p.accepted.len(), 1);
        let messages: Vec<String> = p.rejected.iter().map(|d| d.message.clone().unwrap()).collect();
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(messages[1].contains("indicator.id"));
        assert!(messages[2].contains("STIX 2.0"));
        assert!(messages[3].contains("indicator.created"));
    }

    #[test]
    fn reads_tlp_from_object_and_granular_markings() {
        let body = r#"{"objects":[
          {"type":"malware","spec_version":"2.1","id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","is_family":false,
           "object_marking_refs":["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
           "granular_markings":[{"marking_ref":"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1","selectors":["name"]}],
           "x_taxii_hub_recipients":["identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]},
          {"type":"malware","spec_version":"2.1","id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","is_family":false,
           "x_taxii_hub_recipients":["malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]},
          {"type":"malware","spec_version":"2.1","id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z","modified":"2016-04-06T20:03:48.000Z","is_family":false,
           "object_marking_refs":"not-a-list"}]}"#;
        let p = parse(body.as_bytes(), CustomContent::Allow).unwrap();
        assert_eq!(p.accepted.len(), 1);
        assert_eq!(p.accepted[0].marking_tlp, Some(Tlp::Red));
        assert_eq!(p.accepted[0].recipients, vec!["identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]);
        assert!(p.rejected[0].message.as_deref().unwrap().contains(RECIPIENTS_PROPERTY));
        assert_eq!(p.rejected.len(), 2);
    }

    #[test]
    fn envelope_errors() {
        assert!(parse(b"not json", CustomContent::Allow).is_err());
        assert!(parse(b"[1,2]", CustomContent::Allow).is_err());
        assert!(parse(b"{\"more\":false}", CustomContent::Allow).is_err());
        assert!(parse(b"{\"objects\":{}}", CustomContent::Allow).is_err());
        assert!(parse(&[0xff, 0xfe], CustomContent::Allow).is_err());
    }
}

//! Reading a TAXII envelope posted by a partner: each object is checked on its own, and the
//! accepted ones keep their exact bytes so GET can serve them without re-serialising.

use super::json::Json;
use super::markings::{self, Marks};
use serde_json::value::RawValue;

use super::model::StatusDetail;
use super::pattern::{self, Observable};
use super::stix_id::{is_valid_stix_id, is_valid_type_name, type_of};
use super::timestamp::{self, Nanos, Zone};
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
    /// Everything the object says about TLP: markings, labels, contained objects, and for a
    /// marking-definition what it defines.
    pub marks: Marks,
    /// `x_taxii_hub_recipients`: organisations (identity ids, lower-cased) a TLP:RED object is shared with.
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
    /// Refused entries that contain other objects (`object_refs`): (lower-cased id, refs). What
    /// they contain is refused with them, since the TLP they express cannot be known.
    pub refused_containers: Vec<(String, Vec<String>)>,
}

/// The most objects one envelope may hold unless the configuration says otherwise.
pub const DEFAULT_MAX_OBJECTS: usize = 10_000;

/// Reads an envelope's `objects` list, stopping at the first entry past `max` (so a body of a
/// million tiny entries costs no more than one of `max`) and at the first entry that is not an
/// object: such an envelope is refused whole, with one error, not answered entry by entry.
#[derive(Clone, Copy)]
struct ObjectList<'c> {
    max: usize,
    too_many: &'c std::cell::Cell<bool>,
    not_an_object: &'c std::cell::Cell<Option<usize>>,
}

impl<'de> serde::de::DeserializeSeed<'de> for ObjectList<'_> {
    type Value = Vec<&'de RawValue>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ObjectList<'_> {
    type Value = Vec<&'de RawValue>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a list of STIX objects")
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut objects = Vec::new();
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            if objects.len() == self.max {
                self.too_many.set(true);
                return Err(serde::de::Error::custom("too many objects"));
            }
            if !raw.get().starts_with('{') {
                self.not_an_object.set(Some(objects.len()));
                return Err(serde::de::Error::custom("not an object"));
            }
            objects.push(raw);
        }
        Ok(objects)
    }
}

/// The envelope object: `objects` through [`ObjectList`], every other member skipped.
struct EnvelopeSeed<'c>(ObjectList<'c>);

impl<'de> serde::de::DeserializeSeed<'de> for EnvelopeSeed<'_> {
    type Value = Option<Vec<&'de RawValue>>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for EnvelopeSeed<'_> {
    type Value = Option<Vec<&'de RawValue>>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a TAXII envelope")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut objects = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "objects" && objects.is_none() {
                objects = Some(map.next_value_seed(self.0)?);
            } else if key == "objects" {
                return Err(serde::de::Error::custom("the envelope has two 'objects' members"));
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(objects)
    }
}

/// Parses and checks an envelope of at most `max_objects` objects.
pub fn parse(body: &[u8], custom: CustomContent, max_objects: usize) -> Result<ParsedEnvelope, DomainError> {
    let text = std::str::from_utf8(body).map_err(|_| DomainError::BadJson("the request body is not UTF-8".into()))?;
    let (too_many, not_an_object) = (std::cell::Cell::new(false), std::cell::Cell::new(None));
    let seed = EnvelopeSeed(ObjectList { max: max_objects, too_many: &too_many, not_an_object: &not_an_object });
    let mut reader = serde_json::Deserializer::from_str(text);
    let envelope = serde::de::DeserializeSeed::deserialize(seed, &mut reader).and_then(|e| reader.end().map(|_| e));
    let objects = envelope.map_err(|e| {
        if too_many.get() {
            DomainError::TooManyObjects(max_objects)
        } else if let Some(index) = not_an_object.get() {
            DomainError::BadEnvelope(format!(
                "objects[{index}] is not a JSON object: every entry of an envelope must be a STIX object"
            ))
        } else if e.is_data() {
            DomainError::BadEnvelope(format!("the body is not a TAXII envelope: {e}"))
        } else {
            DomainError::BadJson(format!("the body is not valid JSON: {e}"))
        }
    })?;
    let objects = objects.ok_or_else(|| DomainError::BadEnvelope("the envelope has no 'objects' list".into()))?;
    let mut accepted = Vec::with_capacity(objects.len());
    let mut rejected = Vec::new();
    let mut refused_containers = Vec::new();
    for raw in objects {
        match check_object(raw.get(), custom) {
            Ok(obj) => accepted.push(obj),
            Err(detail) => {
                refused_containers.extend(markings::refused_container(raw.get()));
                rejected.push(detail);
            }
        }
    }
    Ok(ParsedEnvelope { accepted, rejected, refused_containers })
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
    // One parse per object, borrowing its strings: everything below reads this tree.
    let parsed = Json::parse(raw).map_err(|e| fail("", "", format!("object is malformed: {e}")))?;
    let Json::Obj(obj) = parsed else { return Err(fail("", "", "envelope entry is not a JSON object".into())) };
    let text = |name: &str| obj.get(name).and_then(Json::as_str);
    let id = text("id").unwrap_or("");
    let version_text = text("modified").or(text("created")).unwrap_or("");
    let stix_type = match obj.get("type") {
        None => return Err(fail(id, version_text, "type: required property is missing".into())),
        Some(Json::Str(t)) if is_valid_type_name(t) => t.as_ref(),
        Some(t) => return Err(fail(id, version_text, format!("type: {t} is not a valid STIX type name"))),
    };
    if id.is_empty() {
        return Err(fail(id, version_text, format!("{stix_type}.id: required property is missing")));
    }
    if !is_valid_stix_id(id) || type_of(id) != Some(stix_type) {
        return Err(fail(id, version_text, format!("{stix_type}.id: must be '{stix_type}--<UUID>'")));
    }
    let is_sco = validation::spec_of(stix_type).is_some_and(|s| s.category == validation::Category::Sco);
    let spec_version = match obj.get("spec_version").map(|v| v.as_str()) {
        // SCOs may omit spec_version in 2.1 (§3.1); a 2.0 observable never had an id at all.
        None if is_sco => "2.1",
        None => {
            return Err(fail(
                id,
                version_text,
                format!("{stix_type}.spec_version: required property is missing (STIX 2.0 objects are not accepted)"),
            ))
        }
        Some(Some("2.1")) => "2.1",
        Some(_) => {
            let got = obj.get("spec_version").map(|v| v.to_string()).unwrap_or_default();
            return Err(fail(id, version_text, format!("{stix_type}.spec_version: must be '2.1', got {got}")));
        }
    };
    let ts = |name: &str| -> Result<Option<Nanos>, StatusDetail> {
        match obj.get(name) {
            None => Ok(None),
            Some(Json::Str(s)) => timestamp::parse(s, Zone::UtcOnly)
                .map(Some)
                .map_err(|e| fail(id, version_text, format!("{stix_type}.{name}: {e}"))),
            Some(_) => Err(fail(id, version_text, format!("{stix_type}.{name}: must be a timestamp string"))),
        }
    };
    let created = ts("created")?;
    let modified = ts("modified")?;
    let pattern = validation::validate(&obj, custom).map_err(|v| fail(id, version_text, v.0))?;
    let observables = pattern.as_ref().map(pattern::observables).unwrap_or_default();
    let refs = |name: &str| obj.get(name).and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_str);
    let recipients: Vec<String> = match obj.get(RECIPIENTS_PROPERTY) {
        None => Vec::new(),
        Some(Json::Arr(list)) if list.iter().all(Json::is_string) => {
            refs(RECIPIENTS_PROPERTY).map(str::to_ascii_lowercase).collect()
        }
        Some(_) => {
            return Err(fail(
                id,
                version_text,
                format!("{stix_type}.{RECIPIENTS_PROPERTY}: must be a list of identity ids"),
            ))
        }
    };
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
        marks: markings::read_marks(&obj),
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
        let p = parse(body.as_bytes(), CustomContent::Allow, DEFAULT_MAX_OBJECTS).unwrap();
        assert_eq!(p.accepted.len(), 1);
        assert_eq!(p.accepted[0].raw, IND);
        assert_eq!(p.accepted[0].version, Some(timestamp::parse("2016-04-06T20:03:48.000Z", Zone::UtcOnly).unwrap()));
    }

    #[test]
    fn rejects_objects_one_by_one() {
        let body = format!(
            r#"{{"objects":[{IND}, {{"type":"indicator","id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","spec_version":"2.1"}},
               {{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2016-04-06T20:03:48.000Z"}},
               {{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","spec_version":"2.1","created":"2016-04-06"}}]}}"#
        );
        let p = parse(body.as_bytes(), CustomContent::Allow, DEFAULT_MAX_OBJECTS).unwrap();
        assert_eq!(p.accepted.len(), 1);
        let messages: Vec<String> = p.rejected.iter().map(|d| d.message.clone().unwrap()).collect();
        assert_eq!(messages.len(), 3, "{messages:?}");
        assert!(messages[0].contains("indicator.id"));
        assert!(messages[1].contains("STIX 2.0"));
        assert!(messages[2].contains("indicator.created"));
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
        let p = parse(body.as_bytes(), CustomContent::Allow, DEFAULT_MAX_OBJECTS).unwrap();
        assert_eq!(p.accepted.len(), 1);
        assert_eq!(
            p.accepted[0].marks.marking_refs,
            vec![
                "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
                "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
            ]
        );
        assert_eq!(p.accepted[0].recipients, vec!["identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]);
        assert!(p.rejected[0].message.as_deref().unwrap().contains(RECIPIENTS_PROPERTY));
        assert_eq!(p.rejected.len(), 2);
    }

    #[test]
    fn envelope_errors() {
        assert!(parse(b"not json", CustomContent::Allow, DEFAULT_MAX_OBJECTS).is_err());
        assert!(parse(b"[1,2]", CustomContent::Allow, DEFAULT_MAX_OBJECTS).is_err());
        assert!(parse(b"{\"more\":false}", CustomContent::Allow, DEFAULT_MAX_OBJECTS).is_err());
        assert!(parse(b"{\"objects\":{}}", CustomContent::Allow, DEFAULT_MAX_OBJECTS).is_err());
        assert!(parse(&[0xff, 0xfe], CustomContent::Allow, DEFAULT_MAX_OBJECTS).is_err());
        assert!(parse(b"{\"objects\":[]} trailing", CustomContent::Allow, DEFAULT_MAX_OBJECTS).is_err());
        assert!(parse(b"{\"objects\":[],\"objects\":[]}", CustomContent::Allow, DEFAULT_MAX_OBJECTS).is_err());
        assert!(parse(b"{\"more\":[1,{\"a\":2}],\"objects\":[]}", CustomContent::Allow, DEFAULT_MAX_OBJECTS).is_ok());
    }

    /// An envelope of many non-objects is one error, not one failure entry each.
    #[test]
    fn an_envelope_entry_that_is_not_an_object_refuses_the_envelope() {
        let body = format!("{{\"objects\":[{IND},{}1]}}", "1,".repeat(1000));
        match parse(body.as_bytes(), CustomContent::Allow, DEFAULT_MAX_OBJECTS) {
            Err(DomainError::BadEnvelope(m)) => assert!(m.contains("objects[1]"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn more_objects_than_the_limit_refuse_the_envelope() {
        let body = format!("{{\"objects\":[{IND},{IND},{IND}]}}");
        assert_eq!(parse(body.as_bytes(), CustomContent::Allow, 3).unwrap().accepted.len(), 3);
        assert!(matches!(parse(body.as_bytes(), CustomContent::Allow, 2), Err(DomainError::TooManyObjects(2))));
    }
}

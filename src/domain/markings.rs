//! How producers write TLP on an object, read the way they really write it: standard
//! marking-definition ids in any letter case, self-made `tlp` definitions, TLP 2.0 extension
//! definitions under any id, statement markings whose text is a TLP label, MISP-style `labels`
//! (`tlp:red`) and granular markings with any of these. What the marks mean together is decided
//! in [`super::effective_tlp`].

use super::json::{Json, Obj};
use super::tlp::{self, Tlp};

/// What one marking-definition says about TLP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkingMeaning {
    /// It is (or contains) a TLP level; the most restrictive one it names.
    Tlp(Tlp),
    /// A marking that is not about TLP (a copyright statement, a PAP level).
    NotTlp,
    /// It claims to be a TLP marking but its level cannot be read: treated like an unknown marking.
    Unreadable(String),
}

impl MarkingMeaning {
    /// Two readings of the same id (a standard id also posted as an object, two copies in one
    /// envelope): the more restrictive, and unreadable wins over any level.
    pub fn and(self, other: MarkingMeaning) -> MarkingMeaning {
        use MarkingMeaning::*;
        match (self, other) {
            (Unreadable(why), _) | (_, Unreadable(why)) => Unreadable(why),
            (Tlp(a), Tlp(b)) => Tlp(a.max(b)),
            (Tlp(a), NotTlp) | (NotTlp, Tlp(a)) => Tlp(a),
            (NotTlp, NotTlp) => NotTlp,
        }
    }
}

/// The meaning of a marking-definition object. Every string it holds is searched for TLP labels
/// (`name: "TLP:RED"`, OpenCTI's `definition: {"TLP": "TLP:RED"}`, a statement "… TLP:AMBER …"),
/// so a definition that mentions a TLP anywhere counts as at least that restrictive.
pub fn definition_meaning(obj: &Obj<'_>) -> MarkingMeaning {
    let id = obj.get("id").and_then(Json::as_str).unwrap_or("");
    let mut found = Tlp::of_marking(id);
    let mut claims_tlp = false;
    let definition_type = obj.get("definition_type").and_then(Json::as_str).unwrap_or("");
    if definition_type.eq_ignore_ascii_case("tlp") {
        claims_tlp = true;
        let value = obj
            .get("definition")
            .and_then(Json::as_object)
            .and_then(|d| d.iter().find(|(k, _)| k.eq_ignore_ascii_case("tlp")).and_then(|(_, v)| v.as_str()));
        found = found.max(value.and_then(level_of_value));
        if value.and_then(level_of_value).is_none() {
            return MarkingMeaning::Unreadable(format!("{id}: its TLP definition names no TLP level"));
        }
    }
    if let Some(extensions) = obj.get("extensions").and_then(Json::as_object) {
        for (key, ext) in extensions.iter() {
            if key.eq_ignore_ascii_case(tlp::TLP2_EXTENSION) {
                claims_tlp = true;
                let level = ext.get("tlp_2_0").and_then(Json::as_str).and_then(level_of_value);
                if level.is_none() {
                    return MarkingMeaning::Unreadable(format!("{id}: its tlp_2_0 extension names no TLP level"));
                }
                found = found.max(level);
            }
        }
    }
    found = found.max(obj.iter().filter_map(|(_, v)| most_restrictive_label_in(v)).max());
    match found {
        Some(level) => MarkingMeaning::Tlp(level),
        None if claims_tlp => MarkingMeaning::Unreadable(format!("{id}: no TLP level could be read")),
        None => MarkingMeaning::NotTlp,
    }
}

/// The meaning of a stored marking-definition, from its raw JSON.
pub fn stored_definition_meaning(raw: &str) -> MarkingMeaning {
    match Json::parse(raw) {
        Ok(Json::Obj(obj)) => definition_meaning(&obj),
        _ => MarkingMeaning::Unreadable("a stored marking-definition could not be read".into()),
    }
}

/// A TLP value as written in a definition: `red`, `RED`, `TLP:RED`, `amber+strict`.
fn level_of_value(value: &str) -> Option<Tlp> {
    Tlp::parse(value).or_else(|| tlp::labelled(value))
}

fn most_restrictive_label_in(value: &Json<'_>) -> Option<Tlp> {
    match value {
        Json::Str(s) => tlp::labelled(s),
        Json::Arr(items) => items.iter().filter_map(most_restrictive_label_in).max(),
        Json::Obj(obj) => obj.iter().filter_map(|(_, v)| most_restrictive_label_in(v)).max(),
        _ => None,
    }
}

/// The TLP-related facts of one object, read once at parse time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    /// `object_marking_refs` and every granular `marking_ref`, lower-cased, without repeats.
    pub marking_refs: Vec<String>,
    /// The most restrictive TLP written in `labels`, with the label that says it.
    pub label: Option<(Tlp, String)>,
    /// A container's `object_refs` (report, grouping, note, opinion, observed-data…), lower-cased.
    pub object_refs: Vec<String>,
    /// For a marking-definition: what it says about TLP.
    pub definition: Option<MarkingMeaning>,
}

pub fn read_marks(obj: &Obj<'_>) -> Marks {
    let strings = |name: &str| -> Vec<String> {
        obj.get(name)
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(Json::as_str)
            .map(str::to_ascii_lowercase)
            .collect()
    };
    let mut marking_refs = strings("object_marking_refs");
    let granular = obj.get("granular_markings").and_then(Json::as_array).into_iter().flatten();
    marking_refs.extend(granular.filter_map(|g| g.get("marking_ref")?.as_str().map(str::to_ascii_lowercase)));
    marking_refs.sort();
    marking_refs.dedup();
    let label = obj
        .get("labels")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(Json::as_str)
        .filter_map(|l| tlp::labelled(l).map(|t| (t, l.to_string())))
        .max_by_key(|(t, _)| *t);
    let mut object_refs = strings("object_refs");
    object_refs.sort();
    object_refs.dedup();
    let is_definition = obj.get("type").and_then(Json::as_str) == Some("marking-definition");
    Marks { marking_refs, label, object_refs, definition: is_definition.then(|| definition_meaning(obj)) }
}

/// The id and `object_refs` of an envelope entry that was refused before its TLP could be read:
/// whatever it contains must not be served as if it had no container.
pub fn refused_container(raw: &str) -> Option<(String, Vec<String>)> {
    let Ok(Json::Obj(obj)) = Json::parse(raw) else { return None };
    let marks = read_marks(&obj);
    if marks.object_refs.is_empty() {
        return None;
    }
    let id = obj.get("id").and_then(Json::as_str).unwrap_or("").to_ascii_lowercase();
    Some((id, marks.object_refs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meaning(text: &str) -> MarkingMeaning {
        stored_definition_meaning(text)
    }

    #[test]
    fn self_made_and_extension_definitions() {
        let own = r#"{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--11111111-2222-4333-8444-555555555555","created":"2020-01-01T00:00:00.000Z","definition_type":"tlp","definition":{"tlp":"red"}}"#;
        assert_eq!(meaning(own), MarkingMeaning::Tlp(Tlp::Red));
        let opencti = r#"{"type":"marking-definition","id":"marking-definition--11111111-2222-4333-8444-555555555555","definition_type":"TLP","definition":{"TLP":"TLP:AMBER+STRICT"},"name":"TLP:AMBER+STRICT"}"#;
        assert_eq!(meaning(opencti), MarkingMeaning::Tlp(Tlp::AmberStrict));
        let ext = r#"{"type":"marking-definition","id":"marking-definition--abcdef00-2222-4333-8444-555555555555","extensions":{"EXTENSION-DEFINITION--60A3C5C5-0D10-413E-AAB3-9E08DDE9E88D":{"extension_type":"property-extension","tlp_2_0":"amber"}}}"#;
        assert_eq!(meaning(ext), MarkingMeaning::Tlp(Tlp::Amber));
        let statement = r#"{"type":"marking-definition","id":"marking-definition--abcdef00-2222-4333-8444-555555555555","definition_type":"statement","definition":{"statement":"TLP: RED — do not share"}}"#;
        assert_eq!(meaning(statement), MarkingMeaning::Tlp(Tlp::Red));
        let copyright = r#"{"type":"marking-definition","id":"marking-definition--abcdef00-2222-4333-8444-555555555555","definition_type":"statement","definition":{"statement":"Copyright ACME"}}"#;
        assert_eq!(meaning(copyright), MarkingMeaning::NotTlp);
        let purple = r#"{"type":"marking-definition","id":"marking-definition--abcdef00-2222-4333-8444-555555555555","definition_type":"tlp","definition":{"tlp":"purple"}}"#;
        assert!(matches!(meaning(purple), MarkingMeaning::Unreadable(_)));
        let bad_ext = r#"{"type":"marking-definition","id":"marking-definition--abcdef00-2222-4333-8444-555555555555","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"tlp_2_0":7}}}"#;
        assert!(matches!(meaning(bad_ext), MarkingMeaning::Unreadable(_)));
        // A standard id redefined as something milder keeps its standard level.
        let milder = r#"{"type":"marking-definition","id":"marking-definition--5E57C739-391A-4EB3-B6BE-7D15CA92D5ED","definition_type":"tlp","definition":{"tlp":"white"}}"#;
        assert_eq!(meaning(milder), MarkingMeaning::Tlp(Tlp::Red));
    }

    #[test]
    fn marks_of_an_object() {
        let raw = r#"{"type":"report","id":"report--11111111-2222-4333-8444-555555555555","labels":["Threat-Report","tlp:amber","TLP:RED"],
            "object_marking_refs":["marking-definition--E828B379-4E03-4974-9AC4-E53A884C97C1"],
            "granular_markings":[{"marking_ref":"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1","selectors":["name"]},{"lang":"en","selectors":["name"]}],
            "object_refs":["Indicator--AAAAAAAA-2222-4333-8444-555555555555","indicator--aaaaaaaa-2222-4333-8444-555555555555"]}"#;
        let Json::Obj(obj) = Json::parse(raw).unwrap() else { panic!() };
        let m = read_marks(&obj);
        assert_eq!(m.marking_refs, vec!["marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"]);
        assert_eq!(m.label, Some((Tlp::Red, "TLP:RED".to_string())));
        assert_eq!(m.object_refs, vec!["indicator--aaaaaaaa-2222-4333-8444-555555555555"]);
        assert_eq!(m.definition, None);
        assert_eq!(refused_container(raw).unwrap().0, "report--11111111-2222-4333-8444-555555555555");
        assert_eq!(refused_container(r#"{"type":"indicator"}"#), None);
    }

    #[test]
    fn unreadable_wins_when_combined() {
        let u = MarkingMeaning::Unreadable("x".into());
        assert_eq!(MarkingMeaning::Tlp(Tlp::Green).and(MarkingMeaning::Tlp(Tlp::Red)), MarkingMeaning::Tlp(Tlp::Red));
        assert_eq!(MarkingMeaning::NotTlp.and(MarkingMeaning::Tlp(Tlp::Green)), MarkingMeaning::Tlp(Tlp::Green));
        assert_eq!(MarkingMeaning::Tlp(Tlp::Green).and(u.clone()), u);
    }
}

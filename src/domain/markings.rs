//! How producers write TLP on an object, read the way they really write it: standard
//! marking-definition ids in any letter case, self-made `tlp` definitions, TLP 2.0 extension
//! definitions under any id, statement markings whose text is a TLP label, MISP-style `labels`
//! (`tlp:red`) and granular markings with any of these. What the marks mean together is decided
//! in [`super::effective_tlp`].

use super::json::{Json, Obj};
use super::tlp::{self, Tlp};

/// What a text or a definition says about TLP: a level it states outright (a standard id,
/// `definition.tlp`, `tlp_2_0`, a label that is only a label), and the most restrictive level
/// it merely mentions in longer text. A mention can make an object more restrictive, never less
/// than the collection's default: "must not be treated as TLP:WHITE" is no reason to share more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TlpReading {
    pub stated: Option<Tlp>,
    pub mentioned: Option<Tlp>,
}

impl TlpReading {
    pub fn stated(level: Tlp) -> TlpReading {
        TlpReading { stated: Some(level), mentioned: None }
    }

    /// Reads a text: stated when it is one TLP label, mentioned when it contains some.
    pub fn of_text(text: &str) -> TlpReading {
        match tlp::exact_label(text) {
            Some(level) => TlpReading::stated(level),
            None => TlpReading { stated: None, mentioned: tlp::labelled(text) },
        }
    }

    pub fn is_empty(&self) -> bool {
        self.stated.is_none() && self.mentioned.is_none()
    }

    pub fn and(self, other: TlpReading) -> TlpReading {
        TlpReading { stated: self.stated.max(other.stated), mentioned: self.mentioned.max(other.mentioned) }
    }

    /// The level this reading asks for in a collection whose default is `floor`.
    pub fn level(&self, floor: Tlp) -> Option<Tlp> {
        self.stated.max(self.mentioned.map(|m| m.max(floor)))
    }
}

/// What one marking-definition says about TLP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkingMeaning {
    /// It states or mentions a TLP level.
    Tlp(TlpReading),
    /// A marking that is not about TLP (a copyright statement, a PAP level).
    NotTlp,
    /// It claims to be a TLP marking but its level cannot be read: treated like an unknown marking.
    Unreadable(String),
}

impl MarkingMeaning {
    fn of_reading(reading: TlpReading) -> MarkingMeaning {
        if reading.is_empty() {
            MarkingMeaning::NotTlp
        } else {
            MarkingMeaning::Tlp(reading)
        }
    }

    /// Two readings of the same id (a standard id also posted as an object, a definition in the
    /// envelope and a stored one): both count, and unreadable wins over any level.
    pub fn and(self, other: MarkingMeaning) -> MarkingMeaning {
        use MarkingMeaning::*;
        match (self, other) {
            (Unreadable(why), _) | (_, Unreadable(why)) => Unreadable(why),
            (Tlp(a), Tlp(b)) => Tlp(a.and(b)),
            (Tlp(a), NotTlp) | (NotTlp, Tlp(a)) => Tlp(a),
            (NotTlp, NotTlp) => NotTlp,
        }
    }
}

/// The meaning of a marking-definition object. Its id (if standard), `definition.tlp` (any key
/// case: OpenCTI writes `{"TLP": "TLP:RED"}`) and the TLP 2.0 extension's `tlp_2_0` state a
/// level; every other string it holds (`name`, a statement) states one when it is only a TLP
/// label and mentions one when it contains some.
pub fn definition_meaning(obj: &Obj<'_>) -> MarkingMeaning {
    let id = obj.get("id").and_then(Json::as_str).unwrap_or("");
    let mut reading = TlpReading { stated: Tlp::of_marking(id), mentioned: None };
    let definition_type = obj.get("definition_type").and_then(Json::as_str).unwrap_or("");
    let definition = obj.get("definition").and_then(Json::as_object);
    if definition_type.eq_ignore_ascii_case("tlp") {
        let value = definition.and_then(|d| d.iter().find(|(k, _)| k.eq_ignore_ascii_case("tlp"))).map(|(_, v)| v);
        match value.and_then(Json::as_str).and_then(level_of_value) {
            Some(level) => reading = reading.and(TlpReading::stated(level)),
            None => return MarkingMeaning::Unreadable(format!("{id}: its TLP definition names no TLP level")),
        }
    }
    if let Some(extensions) = obj.get("extensions").and_then(Json::as_object) {
        for (key, ext) in extensions.iter().filter(|(k, _)| k.eq_ignore_ascii_case(tlp::TLP2_EXTENSION)) {
            match ext.get("tlp_2_0").and_then(Json::as_str).and_then(level_of_value) {
                Some(level) => reading = reading.and(TlpReading::stated(level)),
                None => return MarkingMeaning::Unreadable(format!("{id}: its {key} extension names no TLP level")),
            }
        }
    }
    for (_, value) in obj.iter() {
        reading = reading.and(reading_of_strings(value));
    }
    MarkingMeaning::of_reading(reading)
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
    Tlp::parse(value).or_else(|| tlp::exact_label(value))
}

fn reading_of_strings(value: &Json<'_>) -> TlpReading {
    match value {
        Json::Str(s) => TlpReading::of_text(s),
        Json::Arr(items) => items.iter().map(reading_of_strings).fold(TlpReading::default(), TlpReading::and),
        Json::Obj(obj) => obj.iter().map(|(_, v)| reading_of_strings(v)).fold(TlpReading::default(), TlpReading::and),
        _ => TlpReading::default(),
    }
}

/// The TLP-related facts of one object, read once at parse time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Marks {
    /// `object_marking_refs` and every granular `marking_ref`, lower-cased, without repeats.
    pub marking_refs: Vec<String>,
    /// What `labels` say about TLP, with the most restrictive label that says it.
    pub label: Option<(TlpReading, String)>,
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
    let mut label: Option<(TlpReading, String)> = None;
    for text in obj.get("labels").and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_str) {
        let reading = TlpReading::of_text(text);
        if reading.is_empty() {
            continue;
        }
        label = Some(match label {
            None => (reading, text.to_string()),
            Some((before, said)) => {
                let key = |r: &TlpReading| (r.stated.max(r.mentioned), r.stated.is_some());
                let text = if key(&reading) > key(&before) { text.to_string() } else { said };
                (before.and(reading), text)
            }
        });
    }
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
        let stated = |t| MarkingMeaning::Tlp(TlpReading::stated(t));
        assert_eq!(meaning(own), stated(Tlp::Red));
        let opencti = r#"{"type":"marking-definition","id":"marking-definition--11111111-2222-4333-8444-555555555555","definition_type":"TLP","definition":{"TLP":"TLP:AMBER+STRICT"},"name":"TLP:AMBER+STRICT"}"#;
        assert_eq!(meaning(opencti), stated(Tlp::AmberStrict));
        let ext = r#"{"type":"marking-definition","id":"marking-definition--abcdef00-2222-4333-8444-555555555555","extensions":{"EXTENSION-DEFINITION--60A3C5C5-0D10-413E-AAB3-9E08DDE9E88D":{"extension_type":"property-extension","tlp_2_0":"amber"}}}"#;
        assert_eq!(meaning(ext), stated(Tlp::Amber));
        let statement = r#"{"type":"marking-definition","id":"marking-definition--abcdef00-2222-4333-8444-555555555555","definition_type":"statement","definition":{"statement":"TLP: RED — do not share"}}"#;
        assert_eq!(meaning(statement), MarkingMeaning::Tlp(TlpReading { stated: None, mentioned: Some(Tlp::Red) }));
        let exact = r#"{"type":"marking-definition","id":"marking-definition--abcdef00-2222-4333-8444-555555555555","definition_type":"statement","definition":{"statement":"TLP:AMBER+STRICT"}}"#;
        assert_eq!(meaning(exact), stated(Tlp::AmberStrict));
        // A mention never shares more than the collection default.
        let negated = r#"{"type":"marking-definition","id":"marking-definition--abcdef00-2222-4333-8444-555555555555","definition_type":"statement","definition":{"statement":"must not be treated as TLP:WHITE"}}"#;
        let MarkingMeaning::Tlp(reading) = meaning(negated) else { panic!() };
        assert_eq!(reading.level(Tlp::Amber), Some(Tlp::Amber));
        let copyright = r#"{"type":"marking-definition","id":"marking-definition--abcdef00-2222-4333-8444-555555555555","definition_type":"statement","definition":{"statement":"Copyright ACME"}}"#;
        assert_eq!(meaning(copyright), MarkingMeaning::NotTlp);
        let purple = r#"{"type":"marking-definition","id":"marking-definition--abcdef00-2222-4333-8444-555555555555","definition_type":"tlp","definition":{"tlp":"purple"}}"#;
        assert!(matches!(meaning(purple), MarkingMeaning::Unreadable(_)));
        let bad_ext = r#"{"type":"marking-definition","id":"marking-definition--abcdef00-2222-4333-8444-555555555555","extensions":{"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d":{"tlp_2_0":7}}}"#;
        assert!(matches!(meaning(bad_ext), MarkingMeaning::Unreadable(_)));
        // A standard id redefined as something milder keeps its standard level.
        let milder = r#"{"type":"marking-definition","id":"marking-definition--5E57C739-391A-4EB3-B6BE-7D15CA92D5ED","definition_type":"tlp","definition":{"tlp":"white"}}"#;
        assert_eq!(meaning(milder), MarkingMeaning::Tlp(TlpReading { stated: Some(Tlp::Red), mentioned: None }));
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
        assert_eq!(m.label, Some((TlpReading::stated(Tlp::Red), "TLP:RED".to_string())));
        assert_eq!(m.object_refs, vec!["indicator--aaaaaaaa-2222-4333-8444-555555555555"]);
        assert_eq!(m.definition, None);
        assert_eq!(refused_container(raw).unwrap().0, "report--11111111-2222-4333-8444-555555555555");
        assert_eq!(refused_container(r#"{"type":"indicator"}"#), None);
    }

    #[test]
    fn unreadable_wins_when_combined() {
        let u = MarkingMeaning::Unreadable("x".into());
        let t = |l| MarkingMeaning::Tlp(TlpReading::stated(l));
        assert_eq!(t(Tlp::Green).and(t(Tlp::Red)), t(Tlp::Red));
        assert_eq!(MarkingMeaning::NotTlp.and(t(Tlp::Green)), t(Tlp::Green));
        assert_eq!(t(Tlp::Green).and(u.clone()), u);
    }
}

//! Traffic Light Protocol markings: TLP 2.0 (OASIS TLP 2.0 extension marking definitions) and
//! TLP 1.0 (the marking-definition ids fixed in STIX 2.1 §7.2.1.4).

/// TLP levels, ordered from least to most restrictive; the discriminant is what storage keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tlp {
    Clear = 1,
    Green = 2,
    Amber = 3,
    AmberStrict = 4,
    Red = 5,
}

/// (marking-definition id, level, name)
pub const TLP_MARKINGS: &[(&str, Tlp, &str)] = &[
    // TLP 2.0: cti-stix-common-objects extension-definition-specifications/tlp-2.0
    ("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", Tlp::Clear, "TLP:CLEAR"),
    ("marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", Tlp::Green, "TLP:GREEN"),
    ("marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", Tlp::Amber, "TLP:AMBER"),
    ("marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", Tlp::AmberStrict, "TLP:AMBER+STRICT"),
    ("marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", Tlp::Red, "TLP:RED"),
    // TLP 1.0: STIX 2.1 §7.2.1.4
    ("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", Tlp::Clear, "TLP:WHITE"),
    ("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", Tlp::Green, "TLP:GREEN (1.0)"),
    ("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", Tlp::Amber, "TLP:AMBER (1.0)"),
    ("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", Tlp::Red, "TLP:RED (1.0)"),
];

impl Tlp {
    /// The TLP of a standard TLP 1.0 / 2.0 marking-definition id, in any letter case (STIX
    /// identifiers are UUIDs, which compare case-insensitively).
    pub fn of_marking(marking_ref: &str) -> Option<Tlp> {
        TLP_MARKINGS.iter().find(|(id, _, _)| id.eq_ignore_ascii_case(marking_ref)).map(|(_, t, _)| *t)
    }

    pub fn rank(self) -> i64 {
        self as i64
    }

    pub fn from_rank(rank: i64) -> Option<Tlp> {
        [Tlp::Clear, Tlp::Green, Tlp::Amber, Tlp::AmberStrict, Tlp::Red].into_iter().find(|t| t.rank() == rank)
    }

    /// Names as admins write them in configuration: clear/white, green, amber, amber+strict, red.
    pub fn parse(name: &str) -> Option<Tlp> {
        match name.trim().to_ascii_lowercase().trim_start_matches("tlp:") {
            "clear" | "white" => Some(Tlp::Clear),
            "green" => Some(Tlp::Green),
            "amber" => Some(Tlp::Amber),
            "amber+strict" | "amber-strict" => Some(Tlp::AmberStrict),
            "red" => Some(Tlp::Red),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Tlp::Clear => "clear",
            Tlp::Green => "green",
            Tlp::Amber => "amber",
            Tlp::AmberStrict => "amber+strict",
            Tlp::Red => "red",
        }
    }
}

/// The OASIS TLP 2.0 extension definition: a marking-definition using it names its level in
/// `extensions["extension-definition--60a3c5c5-…"].tlp_2_0`.
pub const TLP2_EXTENSION: &str = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";

/// The TLP label that starts at byte `at` of `lower` (lower-cased text, where `tlp` begins),
/// and the byte where it ends: `tlp`, separators, a colour, and for amber an optional `strict`.
/// The colour must end a word: `tlp:redacted`, `tlp:unclear`, `tlp:white-listed`,
/// `tlp:clear-text` and MISP's `tlp:ex:chr` are not TLP levels.
fn label_at(lower: &str, at: usize) -> Option<(Tlp, usize)> {
    let b = lower.as_bytes();
    let mut i = at + 3;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b':' | b'_' | b'-' | b'=' | b'"' | b'\'') {
        i += 1;
    }
    let colours =
        [("clear", Tlp::Clear), ("white", Tlp::Clear), ("green", Tlp::Green), ("amber", Tlp::Amber), ("red", Tlp::Red)];
    let (word, mut level) = colours.into_iter().find(|(word, _)| lower[i..].starts_with(word))?;
    let mut end = i + word.len();
    if level == Tlp::Amber {
        let mut j = end;
        while j < b.len() && matches!(b[j], b' ' | b'\t' | b'+' | b'-' | b'_' | b'/' | b'(') {
            j += 1;
        }
        if lower[j..].starts_with("strict") && ends_word(b, j + 6) {
            level = Tlp::AmberStrict;
            end = j + 6;
            if b.get(end) == Some(&b')') {
                end += 1;
            }
        }
    }
    ends_word(b, end).then_some((level, end))
}

/// Whether a word ends at byte `i`: the end, or a character that neither continues it nor joins
/// it to another (`white-listed`).
fn ends_word(b: &[u8], i: usize) -> bool {
    match b.get(i) {
        None => true,
        Some(c) if c.is_ascii_alphanumeric() => false,
        Some(b'-' | b'_') => !b.get(i + 1).is_some_and(|c| c.is_ascii_alphanumeric()),
        Some(_) => true,
    }
}

/// The most restrictive TLP label mentioned anywhere in free text, the way people and tools
/// write them: `TLP:RED`, `tlp:amber+strict`, `TLP: AMBER + STRICT`, `TLP_GREEN`, `tlp-white`,
/// `TLP RED`. A label must start at a word boundary (`mytlp:red` is not one).
pub fn labelled(text: &str) -> Option<Tlp> {
    let lower = text.to_ascii_lowercase();
    let b = lower.as_bytes();
    let mut best: Option<Tlp> = None;
    let mut from = 0;
    while let Some(at) = lower[from..].find("tlp").map(|i| i + from) {
        from = at + 3;
        if at > 0 && b[at - 1].is_ascii_alphanumeric() {
            continue;
        }
        best = best.max(label_at(&lower, at).map(|(level, _)| level));
    }
    best
}

/// The TLP of a text that is one TLP label and nothing else (surrounding spaces, quotes and a
/// final full stop aside): `TLP:RED`, ` tlp: amber+strict `. A longer text that only mentions a
/// label ("must not be treated as TLP:WHITE") is not one.
pub fn exact_label(text: &str) -> Option<Tlp> {
    let lower = text.trim().trim_matches(['"', '\'']).trim_end_matches('.').trim().to_ascii_lowercase();
    if !lower.starts_with("tlp") {
        return None;
    }
    label_at(&lower, 0).filter(|(_, end)| *end == lower.len()).map(|(level, _)| level)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids, checked against STIX 2.1 §7.2.1.4 (TLP 1.0) and the OASIS TLP 2.0 extension's
    /// marking-definition objects. A typo here would silently make a RED object AMBER.
    #[test]
    fn the_standard_ids() {
        let expect = [
            ("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9", Tlp::Clear),
            ("marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da", Tlp::Green),
            ("marking-definition--f88d31f6-486f-44da-b317-01333bde0b82", Tlp::Amber),
            ("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed", Tlp::Red),
            ("marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487", Tlp::Clear),
            ("marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb", Tlp::Green),
            ("marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421", Tlp::Amber),
            ("marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003", Tlp::AmberStrict),
            ("marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", Tlp::Red),
        ];
        for (id, tlp) in expect {
            assert_eq!(Tlp::of_marking(id), Some(tlp), "{id}");
        }
        assert_eq!(TLP_MARKINGS.len(), expect.len());
    }

    #[test]
    fn standard_ids_in_any_case() {
        assert_eq!(Tlp::of_marking("marking-definition--E828B379-4E03-4974-9AC4-E53A884C97C1"), Some(Tlp::Red));
        assert_eq!(Tlp::of_marking("MARKING-DEFINITION--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"), Some(Tlp::Red));
        assert_eq!(Tlp::of_marking("marking-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"), None);
        assert_eq!(Tlp::parse("TLP:AMBER+STRICT"), Some(Tlp::AmberStrict));
        assert_eq!(Tlp::parse("white"), Some(Tlp::Clear));
        assert!(Tlp::parse("purple").is_none());
    }

    #[test]
    fn labels_in_free_text() {
        for (text, tlp) in [
            ("TLP:RED", Some(Tlp::Red)),
            ("tlp:red", Some(Tlp::Red)),
            ("TLP: RED", Some(Tlp::Red)),
            ("TLP RED", Some(Tlp::Red)),
            ("tlp_red", Some(Tlp::Red)),
            ("tlp-white", Some(Tlp::Clear)),
            ("TLP:CLEAR", Some(Tlp::Clear)),
            ("TLP:AMBER+STRICT", Some(Tlp::AmberStrict)),
            ("tlp:amber + strict", Some(Tlp::AmberStrict)),
            ("TLP:AMBER-STRICT", Some(Tlp::AmberStrict)),
            ("TLP:AMBER", Some(Tlp::Amber)),
            ("tlp:amber strictly speaking", Some(Tlp::Amber)),
            ("TLP:AMBER/STRICT", Some(Tlp::AmberStrict)),
            ("TLP:AMBER (STRICT)", Some(Tlp::AmberStrict)),
            ("tlp:white-listed", None),
            ("tlp:clear-text", None),
            ("tlp:red-team", None),
            ("tlp-red,", Some(Tlp::Red)),
            ("misp:tag=\"tlp:green\"", Some(Tlp::Green)),
            ("Copyright ACME. Distribution: TLP:GREEN, parts TLP:RED", Some(Tlp::Red)),
            ("tlp=\"amber\"", Some(Tlp::Amber)),
            ("tlp:ex:chr", None),
            ("tlp:unclear", None),
            ("tlp:redacted", None),
            ("mytlp:red", None),
            ("Threat-Report", None),
            ("PAP:RED", None),
            ("", None),
            ("tlp", None),
        ] {
            assert_eq!(labelled(text), tlp, "{text}");
        }
    }

    #[test]
    fn exact_labels_are_a_label_and_nothing_else() {
        for (text, tlp) in [
            ("TLP:RED", Some(Tlp::Red)),
            (" tlp: amber+strict ", Some(Tlp::AmberStrict)),
            ("\"TLP:GREEN\"", Some(Tlp::Green)),
            ("TLP:CLEAR.", Some(Tlp::Clear)),
            ("TLP:AMBER (STRICT)", Some(Tlp::AmberStrict)),
            ("must not be treated as TLP:WHITE", None),
            ("TLP:WHITE, see annex", None),
            ("tlp:white-listed", None),
            ("red", None),
        ] {
            assert_eq!(exact_label(text), tlp, "{text}");
        }
    }
}

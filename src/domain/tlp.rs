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
    pub fn of_marking(marking_ref: &str) -> Option<Tlp> {
        TLP_MARKINGS.iter().find(|(id, _, _)| *id == marking_ref).map(|(_, t, _)| *t)
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

/// The most restrictive TLP among the given marking references, if any of them is a TLP marking.
pub fn most_restrictive<'a>(marking_refs: impl IntoIterator<Item = &'a str>) -> Option<Tlp> {
    marking_refs.into_iter().filter_map(Tlp::of_marking).max()
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
    fn most_restrictive_wins_and_unknown_markings_are_ignored() {
        let green = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
        let red1 = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";
        let statement = "marking-definition--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
        assert_eq!(most_restrictive([green, red1, statement]), Some(Tlp::Red));
        assert_eq!(most_restrictive([statement]), None);
        assert_eq!(Tlp::parse("TLP:AMBER+STRICT"), Some(Tlp::AmberStrict));
        assert_eq!(Tlp::parse("white"), Some(Tlp::Clear));
        assert!(Tlp::parse("purple").is_none());
    }
}

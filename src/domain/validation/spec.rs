//! The shape of the generated per-type tables.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    Sdo,
    Sro,
    Sco,
    Meta,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Bool,
    Int(Option<i64>, Option<i64>),
    Number,
    /// RFC 3339 UTC timestamp.
    Timestamp,
    /// Timestamp with at least millisecond precision (`created`, `modified`).
    TimestampMillis,
    /// An identifier; the allowed types, or any type when empty.
    Ref(&'static [&'static str]),
    RefList(&'static [&'static str]),
    StrList,
    /// A closed vocabulary (an enumeration in the standard).
    Enum(&'static [&'static str]),
    EnumList(&'static [&'static str]),
    Dict,
    Hashes,
    KillChains,
    ExtRefs,
    GranularMarkings,
    Binary,
    Hex,
    Object,
    List,
    Any,
}

#[derive(Debug)]
pub struct TypeSpec {
    pub name: &'static str,
    pub category: Category,
    pub required: &'static [&'static str],
    pub properties: &'static [(&'static str, Kind)],
}

impl TypeSpec {
    pub fn kind_of(&self, property: &str) -> Option<Kind> {
        // The generator writes properties sorted by name.
        self.properties.binary_search_by(|(p, _)| (*p).cmp(property)).ok().map(|i| self.properties[i].1)
    }
}

pub fn spec_of(stix_type: &str) -> Option<&'static TypeSpec> {
    // The generator writes types sorted by name.
    let types = super::tables::TYPES;
    types.binary_search_by(|t| t.name.cmp(stix_type)).ok().map(|i| &types[i])
}

/// SCO types (for references that must point at observables).
pub fn is_sco(t: &str) -> bool {
    spec_of(t).is_some_and(|s| s.category == Category::Sco)
}

pub fn is_sdo(t: &str) -> bool {
    spec_of(t).is_some_and(|s| s.category == Category::Sdo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_sorted_for_binary_search() {
        let types = super::super::tables::TYPES;
        assert!(types.windows(2).all(|w| w[0].name < w[1].name));
        for t in types {
            assert!(t.properties.windows(2).all(|w| w[0].0 < w[1].0), "{}", t.name);
            assert!(spec_of(t.name).is_some());
        }
        assert_eq!(types.len(), 42, "19 SDOs, 2 SROs, 18 SCOs, 3 meta objects");
    }
}

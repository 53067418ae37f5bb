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
        self.properties.iter().find(|(p, _)| *p == property).map(|(_, k)| *k)
    }
}

pub fn spec_of(stix_type: &str) -> Option<&'static TypeSpec> {
    super::tables::TYPES.iter().find(|t| t.name == stix_type)
}

/// SCO types (for references that must point at observables).
pub fn is_sco(t: &str) -> bool {
    spec_of(t).is_some_and(|s| s.category == Category::Sco)
}

pub fn is_sdo(t: &str) -> bool {
    spec_of(t).is_some_and(|s| s.category == Category::Sdo)
}

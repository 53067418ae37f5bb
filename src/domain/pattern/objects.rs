//! STIX 2.1 SCO vocabulary checks and extraction of indexable observables.
//!
//! The property tables are copied from `cti-stix2-json-schemas` (`schemas/observables/*.json`,
//! the `properties` of each schema including its `allOf`/`oneOf` branches, and
//! `schemas/common/cyber-observable-core.json` for the common ones); a test compares them with
//! the schema files.

use std::collections::HashSet;

use super::ast::*;
use super::PatternError;

/// Properties every SCO has (`cyber-observable-core.json`).
pub(crate) const COMMON_PROPERTIES: &[&str] =
    &["type", "id", "spec_version", "object_marking_refs", "granular_markings", "defanged", "extensions"];

/// The 18 STIX 2.1 SCO types and their own properties (excluding [`COMMON_PROPERTIES`]).
pub(crate) const SCO_PROPERTIES: &[(&str, &[&str])] = &[
    ("artifact", &["mime_type", "payload_bin", "url", "hashes", "encryption_algorithm", "decryption_key"]),
    ("autonomous-system", &["number", "name", "rir"]),
    ("directory", &["path", "path_enc", "ctime", "mtime", "atime", "contains_refs"]),
    ("domain-name", &["value", "resolves_to_refs"]),
    ("email-addr", &["value", "display_name", "belongs_to_ref"]),
    (
        "email-message",
        &[
            "is_multipart",
            "date",
            "content_type",
            "from_ref",
            "sender_ref",
            "to_refs",
            "cc_refs",
            "bcc_refs",
            "message_id",
            "subject",
            "received_lines",
            "additional_header_fields",
            "body",
            "body_multipart",
            "raw_email_ref",
        ],
    ),
    (
        "file",
        &[
            "hashes",
            "size",
            "name",
            "name_enc",
            "magic_number_hex",
            "mime_type",
            "ctime",
            "mtime",
            "atime",
            "parent_directory_ref",
            "contains_refs",
            "content_ref",
        ],
    ),
    ("ipv4-addr", &["value", "resolves_to_refs", "belongs_to_refs"]),
    ("ipv6-addr", &["value", "resolves_to_refs", "belongs_to_refs"]),
    ("mac-addr", &["value"]),
    ("mutex", &["name"]),
    (
        "network-traffic",
        &[
            "start",
            "end",
            "is_active",
            "src_ref",
            "dst_ref",
            "src_port",
            "dst_port",
            "protocols",
            "src_byte_count",
            "dst_byte_count",
            "src_packets",
            "dst_packets",
            "ipfix",
            "src_payload_ref",
            "dst_payload_ref",
            "encapsulates_refs",
            "encapsulated_by_ref",
        ],
    ),
    (
        "process",
        &[
            "is_hidden",
            "pid",
            "created_time",
            "cwd",
            "command_line",
            "environment_variables",
            "opened_connection_refs",
            "creator_user_ref",
            "image_ref",
            "parent_ref",
            "child_refs",
        ],
    ),
    ("software", &["name", "cpe", "swid", "languages", "vendor", "version"]),
    ("url", &["value"]),
    (
        "user-account",
        &[
            "user_id",
            "credential",
            "account_login",
            "account_type",
            "display_name",
            "is_service_account",
            "is_privileged",
            "can_escalate_privs",
            "is_disabled",
            "account_created",
            "account_expires",
            "credential_last_changed",
            "account_first_login",
            "account_last_login",
        ],
    ),
    ("windows-registry-key", &["key", "values", "modified_time", "creator_user_ref", "number_of_subkeys"]),
    (
        "x509-certificate",
        &[
            "is_self_signed",
            "hashes",
            "version",
            "serial_number",
            "signature_algorithm",
            "issuer",
            "validity_not_before",
            "validity_not_after",
            "subject",
            "subject_public_key_algorithm",
            "subject_public_key_modulus",
            "subject_public_key_exponent",
            "x509_v3_extensions",
        ],
    ),
];

fn sco_properties(object_type: &str) -> Option<&'static [&'static str]> {
    SCO_PROPERTIES.iter().find(|(t, _)| *t == object_type).map(|(_, props)| *props)
}

/// Custom object type names (spec 11.2.1, deprecated but still valid): lowercase ASCII letters,
/// digits and single hyphens, 3-250 characters, starting with a letter (as in
/// `cyber-observable-core.json`).
fn is_valid_custom_type(t: &str) -> bool {
    (3..=250).contains(&t.len())
        && t.starts_with(|c: char| c.is_ascii_lowercase())
        && t.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        && !t.contains("--")
}

/// Custom property names (spec 11.1.1): lowercase ASCII letters, digits and `_`, 3-250
/// characters.
fn is_valid_custom_property(p: &str) -> bool {
    (3..=250).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

pub(crate) fn for_each_comparison<'p, E>(
    e: &'p ObservationExpression,
    f: &mut impl FnMut(&'p Comparison) -> Result<(), E>,
) -> Result<(), E> {
    fn walk<'p, E>(c: &'p ComparisonExpression, f: &mut impl FnMut(&'p Comparison) -> Result<(), E>) -> Result<(), E> {
        match c {
            ComparisonExpression::Comparison(c) => f(c),
            ComparisonExpression::And(items) | ComparisonExpression::Or(items) => {
                items.iter().try_for_each(|i| walk(i, f))
            }
        }
    }
    match e {
        ObservationExpression::Observation(c) => walk(c, f),
        ObservationExpression::And(items)
        | ObservationExpression::Or(items)
        | ObservationExpression::FollowedBy(items) => items.iter().try_for_each(|i| for_each_comparison(i, f)),
        ObservationExpression::Qualified { expression, .. } => for_each_comparison(expression, f),
    }
}

/// Checks every object path against the STIX 2.1 SCO definitions: the object type must be one
/// of the 18 SCO types and the first property one defined for it (or common to all SCOs).
///
/// With `allow_custom`, unknown object types (e.g. `x-usb-device`) are accepted with any
/// property that is a well-formed custom property name, and `x_`-prefixed custom properties
/// are accepted on the standard types; without it both are errors. The first offending path,
/// in input order, is reported at the offset of its type or property.
pub fn check_objects(pattern: &Pattern, allow_custom: bool) -> Result<(), PatternError> {
    for_each_comparison(&pattern.expression, &mut |c: &Comparison| check_path(&c.path, allow_custom))
}

fn check_path(path: &ObjectPath, allow_custom: bool) -> Result<(), PatternError> {
    let t = super::excerpt(&path.object_type);
    let p = path.property.as_str();
    let shown = super::excerpt(p);
    let common = COMMON_PROPERTIES.contains(&p);
    match sco_properties(&path.object_type) {
        Some(props) if common || props.contains(&p) => Ok(()),
        Some(_) if p.starts_with("x_") => {
            if !allow_custom {
                Err(PatternError::new(
                    path.property_offset,
                    format!("custom property '{shown}' of SCO type '{t}' is not allowed"),
                ))
            } else if !is_valid_custom_property(p) {
                Err(PatternError::new(
                    path.property_offset,
                    format!(
                        "invalid custom property name '{shown}' (only a-z, 0-9 and '_', 3-250 \
                         characters)"
                    ),
                ))
            } else {
                Ok(())
            }
        }
        Some(_) => {
            Err(PatternError::new(path.property_offset, format!("'{shown}' is not a property of SCO type '{t}'")))
        }
        None if !allow_custom => Err(PatternError::new(
            path.offset,
            if path.object_type.starts_with("x-") {
                format!("custom object type '{t}' is not allowed")
            } else {
                format!("unknown SCO type '{t}'")
            },
        )),
        None if !is_valid_custom_type(&path.object_type) => Err(PatternError::new(
            path.offset,
            format!(
                "invalid custom object type '{t}' (only a-z, 0-9 and single '-', starting with a \
                 letter, 3-250 characters)"
            ),
        )),
        None if !common && !is_valid_custom_property(p) => Err(PatternError::new(
            path.property_offset,
            format!(
                "invalid property name '{shown}' for custom object type '{t}' (only a-z, 0-9 and \
                 '_', 3-250 characters)"
            ),
        )),
        None => Ok(()),
    }
}

/// A fact a pattern positively asserts: `object_type:property = 'value'`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Observable {
    pub object_type: String,
    /// The path after the colon in canonical form: keys quoted only when they must be, e.g.
    /// `value`, `hashes.'SHA-256'`, `hashes.MD5` (also for `hashes.'MD5'`),
    /// `extensions.'windows-pebinary-ext'.sections[*].entropy`.
    pub property: String,
    pub value: String,
}

/// One entry per `=` comparison with a string literal and per string in an `IN ( … )` set,
/// skipping comparisons preceded by `NOT`; deduplicated, in order of first appearance.
pub fn observables(pattern: &Pattern) -> Vec<Observable> {
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    let mut add = |c: &Comparison, value: &str| {
        let o = Observable {
            object_type: c.path.object_type.clone(),
            property: c.path.property_path(),
            value: value.to_string(),
        };
        if seen.insert(o.clone()) {
            out.push(o);
        }
    };
    let _ = for_each_comparison(&pattern.expression, &mut |c: &Comparison| {
        if c.negated {
            return Ok::<(), ()>(());
        }
        match (&c.operator, &c.operand) {
            (Operator::Equal, Operand::Literal(Literal::String(v))) => add(c, v),
            (Operator::In, Operand::Set(items)) => {
                for item in items {
                    if let Literal::String(v) = item {
                        add(c, v);
                    }
                }
            }
            _ => {}
        }
        Ok(())
    });
    out
}

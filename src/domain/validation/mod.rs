//! STIX 2.1 validation on ingest: every object is checked on its own and refused with a message
//! naming the property and the rule (`indicator.valid_until: must be later than valid_from`).
//!
//! Typed Rust over tables generated from the OASIS JSON schemas (`tables.rs`): per type, the
//! required properties and each property's kind; cross-property rules and reference targets from
//! the specification are in `rules.rs`. Custom content (`x_` properties, custom types and
//! extensions) is allowed or refused per collection.

mod rules;
mod spec;
mod tables;

use crate::domain::json::{Json, Obj};

pub use spec::{spec_of, Category, Kind, TypeSpec};

use super::stix_id::{is_valid_stix_id, type_of};
use super::timestamp::{self, Zone};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CustomContent {
    #[default]
    Allow,
    Reject,
}

impl CustomContent {
    pub fn parse(s: &str) -> Option<CustomContent> {
        match s {
            "allow" => Some(CustomContent::Allow),
            "reject" => Some(CustomContent::Reject),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CustomContent::Allow => "allow",
            CustomContent::Reject => "reject",
        }
    }
}

/// Why an object was refused: `<type>.<property>: <rule>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation(pub String);

pub(crate) struct Ctx<'a> {
    pub ty: &'a str,
    pub custom: CustomContent,
}

impl Ctx<'_> {
    pub fn fail<T>(&self, property: &str, rule: impl std::fmt::Display) -> Result<T, Violation> {
        Err(Violation(format!("{}.{property}: {rule}", self.ty)))
    }
}

/// Property names: 3–250 characters of a-z, 0-9 and `_` (STIX 2.1 §3.1), or `id`.
fn valid_property_name(name: &str) -> bool {
    (name.len() >= 3 || name == "id")
        && name.len() <= 250
        && name.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
}

/// Validates one object (already known to be a JSON object with a valid `type` and `id`).
/// Returns the parsed STIX pattern of an indicator, so the caller need not parse it again.
pub fn validate(obj: &Obj<'_>, custom: CustomContent) -> Result<Option<crate::domain::pattern::Pattern>, Violation> {
    let ty = obj.get("type").and_then(Json::as_str).unwrap_or("");
    let ctx = Ctx { ty, custom };
    let Some(spec) = spec_of(ty) else {
        if custom == CustomContent::Reject {
            return ctx
                .fail("type", format!("'{ty}' is not a STIX 2.1 type and this collection refuses custom content"));
        }
        return rules::custom_object(obj, &ctx).map(|_| None);
    };
    for required in spec.required {
        if !obj.contains_key(required) {
            return ctx.fail(required, "required property is missing");
        }
    }
    for (name, value) in obj.iter() {
        if name == "type" {
            continue;
        }
        if !valid_property_name(name) {
            return ctx.fail(name, "property names must be 3-250 characters of a-z, 0-9 and _");
        }
        match spec.kind_of(name) {
            Some(kind) => check_kind(&ctx, name, value, kind)?,
            None if name == "id" => {}
            None => {
                if custom == CustomContent::Reject {
                    return ctx
                        .fail(name, "not a property of this type, and this collection refuses custom properties");
                }
                if spec.category == Category::Sdo && !name.starts_with("x_") && !rules::tolerated_extra(ty, name) {
                    return ctx.fail(name, "custom properties must start with 'x_'");
                }
            }
        }
    }
    rules::common(obj, spec, &ctx)?;
    rules::specific(obj, spec, &ctx)
}

fn check_ref(ctx: &Ctx<'_>, name: &str, v: &str, allowed: &[&str]) -> Result<(), Violation> {
    if !is_valid_stix_id(v) {
        return ctx.fail(name, format!("'{v}' is not a STIX identifier (<type>--<UUID>)"));
    }
    let t = type_of(v).unwrap_or("");
    let allowed = rules::ref_targets(ctx.ty, name).unwrap_or(allowed);
    if !allowed.is_empty() && !allowed.contains(&t) && !rules::ref_target_matches(allowed, t) {
        return ctx.fail(name, format!("must reference {} objects, not '{t}'", allowed.join(" or ")));
    }
    Ok(())
}

pub(crate) fn check_kind(ctx: &Ctx<'_>, name: &str, value: &Json<'_>, kind: Kind) -> Result<(), Violation> {
    match kind {
        Kind::Str => value.as_str().map(|_| ()).map_or_else(|| ctx.fail(name, "must be a string"), Ok),
        Kind::Bool => value.as_bool().map(|_| ()).map_or_else(|| ctx.fail(name, "must be true or false"), Ok),
        Kind::Number => value.as_f64().map(|_| ()).map_or_else(|| ctx.fail(name, "must be a number"), Ok),
        Kind::Int(lo, hi) => {
            let Some(n) = value.as_i64().or_else(|| value.as_u64().map(|_| i64::MAX)) else {
                return ctx.fail(name, "must be an integer");
            };
            if lo.is_some_and(|lo| n < lo) || hi.is_some_and(|hi| n > hi) {
                return ctx.fail(
                    name,
                    format!(
                        "must be between {} and {}",
                        lo.map_or("-∞".into(), |v| v.to_string()),
                        hi.map_or("∞".into(), |v| v.to_string())
                    ),
                );
            }
            Ok(())
        }
        Kind::Timestamp | Kind::TimestampMillis => {
            let Some(s) = value.as_str() else { return ctx.fail(name, "must be a timestamp string") };
            timestamp::parse(s, Zone::UtcOnly).map_err(|e| Violation(format!("{}.{name}: {e}", ctx.ty)))?;
            if kind == Kind::TimestampMillis && !has_millis(s) {
                return ctx.fail(name, "must have at least millisecond precision (e.g. 2016-01-01T00:00:00.000Z)");
            }
            Ok(())
        }
        Kind::Ref(allowed) => match value.as_str() {
            Some(v) => check_ref(ctx, name, v, allowed),
            None => ctx.fail(name, "must be an identifier string"),
        },
        Kind::RefList(allowed) => {
            let list = non_empty_list(ctx, name, value)?;
            for v in list {
                match v.as_str() {
                    Some(s) => check_ref(ctx, name, s, allowed)?,
                    None => return ctx.fail(name, "must be a list of identifiers"),
                }
            }
            Ok(())
        }
        Kind::StrList => {
            if non_empty_list(ctx, name, value)?.iter().all(Json::is_string) {
                Ok(())
            } else {
                ctx.fail(name, "must be a list of strings")
            }
        }
        Kind::Enum(values) => match value.as_str() {
            Some(s) if values.contains(&s) => Ok(()),
            Some(s) => ctx.fail(name, format!("'{s}' is not one of {}", values.join(", "))),
            None => ctx.fail(name, "must be a string"),
        },
        Kind::EnumList(values) => {
            for v in non_empty_list(ctx, name, value)? {
                check_kind(ctx, name, v, Kind::Enum(values))?;
            }
            Ok(())
        }
        Kind::Dict | Kind::Object => match value.as_object() {
            Some(m) if kind == Kind::Dict && m.is_empty() => ctx.fail(name, "must not be an empty dictionary"),
            Some(_) => Ok(()),
            None => ctx.fail(name, "must be an object"),
        },
        Kind::Hashes => rules::hashes(ctx, name, value),
        Kind::KillChains => rules::kill_chains(ctx, name, value),
        Kind::ExtRefs => rules::external_references(ctx, name, value),
        Kind::GranularMarkings => rules::granular_markings(ctx, name, value),
        Kind::Binary => match value.as_str() {
            Some(s) if base64_ok(s) => Ok(()),
            _ => ctx.fail(name, "must be base64-encoded binary"),
        },
        Kind::Hex => match value.as_str() {
            Some(s) if s.len() % 2 == 0 && s.bytes().all(|c| c.is_ascii_hexdigit()) => Ok(()),
            _ => ctx.fail(name, "must be an even number of hex digits"),
        },
        Kind::List => non_empty_list(ctx, name, value).map(|_| ()),
        Kind::Any => Ok(()),
    }
}

fn non_empty_list<'v>(ctx: &Ctx<'_>, name: &str, value: &'v Json<'_>) -> Result<&'v Vec<Json<'v>>, Violation> {
    match value.as_array() {
        Some(a) if a.is_empty() => ctx.fail(name, "must not be an empty list"),
        Some(a) => Ok(a),
        None => ctx.fail(name, "must be a list"),
    }
}

fn has_millis(s: &str) -> bool {
    s.get(19..)
        .is_some_and(|rest| rest.starts_with('.') && rest[1..].bytes().take_while(u8::is_ascii_digit).count() >= 3)
}

fn base64_ok(s: &str) -> bool {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).is_ok()
}
